/* main.c — skiff-orchestrator, the brain: initialises or resumes its data
 * dir (cluster CA, server certificate, join token, admin.conf, WAL and
 * snapshots), serves the API and the agent protocol over mutual TLS, and
 * runs the control loops on one libevent loop with group commit (daemon.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "quantity.h"
#include "util.h"

static const char usage[] =
    "Usage: skiff-orchestrator --data-dir DIR [options]\n"
    "\n"
    "  --data-dir DIR          state: CA, certificates, join token, admin.conf, WAL\n"
    "  --listen ADDR:PORT      API and agent address (default 0.0.0.0:7443)\n"
    "  --advertise ADDR        address clients use (admin.conf, certificate);\n"
    "                          default: the listen address, or 127.0.0.1\n"
    "  --cluster-cidr CIDR     pod addresses; each node gets a /24 (default 10.244.0.0/16)\n"
    "  --node-grace DURATION   NotReady after this without heartbeat (default 3s)\n"
    "  --heartbeat DURATION    agents' heartbeat interval (default 1s)\n"
    "  --max-conns N           connections with a certificate (default 4096)\n"
    "  --max-unauth-conns N    connections not authenticated yet: TLS handshake\n"
    "                          in progress, or joiners (default 1024)\n"
    "  --max-unauth-per-addr N of those from one address (IPv6: one /64; default 64)\n"
    "  --handshake-timeout DURATION\n"
    "                          a TLS handshake must end within this (default 5s)\n"
    "  --first-frame-timeout DURATION\n"
    "                          and the first frame come this soon after (default 10s)\n"
    "  --cert-validity DURATION  life of the node certificates it issues (default\n"
    "                          365d; agents renew them at 2/3 of it)\n"
    "  --admin-cert-validity DURATION  life of admin and view configs (default 365d)\n"
    "  --log-level LEVEL       error, warn, info (default), debug\n"
    "  --no-group-commit       fsync each write on its own (benchmarks)\n";

/* The RPC server closes unauthenticated connections at its edge (caps,
 * timeouts) and only counts them; the brain reports what happened once a
 * minute rather than once per connection, so a flood cannot flood the log. */
#define EDGE_REPORT_MS 60000

static void edge_report(struct daemon *d)
{
	static struct skiff_rpc_server_stats last;
	static int64_t last_ms;
	struct skiff_rpc_server_stats st;
	int64_t now = skiff_mono_ms();
	if (now - last_ms < EDGE_REPORT_MS)
		return;
	last_ms = now;
	skiff_rpc_server_get_stats(d->server, &st);
	uint64_t evicted = st.evicted - last.evicted;
	uint64_t hs = st.handshake_timeouts - last.handshake_timeouts;
	uint64_t idle = st.idle_timeouts - last.idle_timeouts;
	uint64_t refused = st.refused - last.refused;
	last = st;
	if (!evicted && !hs && !idle && !refused)
		return;
	log_warn("edge: in the last %d s closed %llu unauthenticated connection(s) over the caps "
		 "(--max-unauth-conns/--max-unauth-per-addr), %llu whose TLS handshake took too "
		 "long, %llu that sent nothing after it, and refused %llu over --max-conns; open "
		 "now: %d authenticated, %d not",
		 EDGE_REPORT_MS / 1000, (unsigned long long)evicted, (unsigned long long)hs,
		 (unsigned long long)idle, (unsigned long long)refused, st.conns,
		 st.unauthenticated);
}

/* Every connection is a descriptor: raise the soft limit to the hard one
 * (as servers do) and say so when even that is short of the caps. */
/* lib/rpc logs at debug level only: a refused client (another CA, an
 * expired certificate, no certificate) is the brain's to report. */
static void daemon_refused(const char *addr, const char *why, void *userdata)
{
	(void)userdata;
	log_warn("refused client %s: %s", addr, why);
}

static void raise_fd_limit(const struct skiff_rpc_server_config *scfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)(scfg->max_conns ? scfg->max_conns : SKIFF_RPC_DEFAULT_MAX_CONNS) +
		      (rlim_t)(scfg->max_unauth ? scfg->max_unauth : SKIFF_RPC_DEFAULT_MAX_UNAUTH) +
		      256;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warn(
		    "the open file limit (%llu) is below what the connection caps need (%llu): "
		    "raise LimitNOFILE= or lower --max-conns/--max-unauth-conns",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static void tick_cb(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	struct daemon *d = userdata;
	certs_tick(d);
	daemon_commit_tick(d);
	edge_report(d);
}

static void signal_cb(evutil_socket_t sig, short what, void *userdata)
{
	(void)what;
	struct daemon *d = userdata;
	log_info("received %s; shutting down", strsignal((int)sig));
	event_base_loopbreak(d->base);
}

static char *read_trimmed(const char *path)
{
	char *data = NULL;
	size_t len;
	if (skiff_read_file(path, 4096, &data, &len) < 0)
		return NULL;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		data[--len] = 0;
	return data;
}

/* The server address in admin.conf follows --advertise/--listen. */
static int ensure_admin_conf(struct daemon *d, const char *server)
{
	_cleanup_free_ char *path = xasprintf("%s/admin.conf", d->data_dir);
	struct skiff_client_config cfg = { 0 };
	_cleanup_free_ char *errmsg = NULL;
	int r = skiff_client_config_read(path, &cfg, &errmsg);
	if (r == 0 && streq(cfg.server, server)) {
		skiff_client_config_clear(&cfg);
		return 0;
	}
	if (r == 0) {
		free(cfg.server);
		cfg.server = xstrdup(server);
	} else {
		skiff_client_config_clear(&cfg);
		memset(&cfg, 0, sizeof(cfg));
		_cleanup_free_ char *csr = NULL;
		r = skiff_pki_key_and_csr("admin", &cfg.key_pem, &csr);
		if (r >= 0)
			r = skiff_ca_sign_csr_secs(d->ca, csr, "admin", SKIFF_ROLE_ADMIN,
						   d->admin_validity_s, &cfg.cert_pem);
		if (r < 0)
			return log_error_errno(r, "cannot issue the admin certificate: %m");
		cfg.ca_pem = xstrdup(skiff_ca_cert_pem(d->ca));
		cfg.server = xstrdup(server);
	}
	r = skiff_client_config_write(path, &cfg);
	skiff_client_config_clear(&cfg);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", path);
	return 0;
}

static int init_pki(struct daemon *d, const char *advertise, const char *server, char **ret_cert,
		    char **ret_key, bool *ret_fresh)
{
	bool fresh = access(d->data_dir, F_OK) < 0;
	_cleanup_free_ char *ca_crt = xasprintf("%s/ca.crt", d->data_dir);
	fresh = fresh || access(ca_crt, F_OK) < 0;
	int r = skiff_mkdir_p(d->data_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "cannot create --data-dir %s: %m", d->data_dir);
	r = skiff_ca_init(d->data_dir, "skiff", &d->ca);
	if (r < 0)
		return log_error_errno(r, "cannot create or load the cluster CA in %s: %m",
				       d->data_dir);
	_cleanup_free_ char *crt = xasprintf("%s/server.crt", d->data_dir);
	_cleanup_free_ char *key = xasprintf("%s/server.key", d->data_dir);
	_cleanup_free_ char *cert_pem = NULL, *key_pem = NULL;
	size_t len;
	if (skiff_read_file(crt, 1 << 20, &cert_pem, &len) < 0 ||
	    skiff_read_file(key, 1 << 20, &key_pem, &len) < 0) {
		free(cert_pem);
		free(key_pem);
		cert_pem = key_pem = NULL;
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		_cleanup_free_ char *sans = xasprintf("127.0.0.1,localhost,%s,%s", advertise, host);
		r = skiff_ca_issue(d->ca, "skiff-orchestrator", SKIFF_ROLE_SERVER, sans, 3650,
				   &cert_pem, &key_pem);
		if (r < 0)
			return log_error_errno(r, "cannot issue the server certificate: %m");
		r = skiff_write_file_atomic(key, key_pem, strlen(key_pem), 0600);
		if (r >= 0)
			r = skiff_write_file_atomic(crt, cert_pem, strlen(cert_pem), 0644);
		if (r < 0)
			return log_error_errno(r, "cannot write %s: %m", crt);
	}
	_cleanup_free_ char *tok = xasprintf("%s/join-token", d->data_dir);
	d->token = read_trimmed(tok);
	/* a data dir without the file had its default token deleted
	 * (skiffctl token delete): it is not made again */
	if (!d->token && fresh) {
		r = skiff_token_new(d->ca, &d->token);
		if (r < 0)
			return log_error_errno(r, "cannot create a join token: %m");
		_cleanup_free_ char *line = xasprintf("%s\n", d->token);
		r = skiff_write_file_atomic(tok, line, strlen(line), 0600);
		if (r < 0)
			return log_error_errno(r, "cannot write %s: %m", tok);
	}
	r = ensure_admin_conf(d, server);
	if (r < 0)
		return r;
	*ret_cert = TAKE_PTR(cert_pem);
	*ret_key = TAKE_PTR(key_pem);
	*ret_fresh = fresh;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "advertise", required_argument, NULL, 'a' },
		{ "cluster-cidr", required_argument, NULL, 'c' },
		{ "node-grace", required_argument, NULL, 'g' },
		{ "heartbeat", required_argument, NULL, 'H' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "no-group-commit", no_argument, NULL, 'N' },
		{ "max-conns", required_argument, NULL, 'C' },
		{ "max-unauth-conns", required_argument, NULL, 'U' },
		{ "max-unauth-per-addr", required_argument, NULL, 'A' },
		{ "handshake-timeout", required_argument, NULL, 'T' },
		{ "first-frame-timeout", required_argument, NULL, 'F' },
		{ "cert-validity", required_argument, NULL, 'V' },
		{ "admin-cert-validity", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *data_dir = NULL, *listen = "0.0.0.0:7443", *advertise = NULL;
	struct brain_config cfg = { .stall_ms = 1000 };
	struct daemon d = { 0 };
	struct skiff_rpc_server_config scfg = {
		.handler = daemon_handle,
		.on_close = daemon_conn_closed,
		.on_refused = daemon_refused,
		.userdata = &d,
		/* a pass over 100k pods can hold the loop for seconds; peers
		 * are dropped after 3 silent intervals, node loss is decided
		 * by heartbeats and --node-grace, not by this */
		.keepalive_ms = 10000,
	};
	int64_t ms;
	int c;
	skiff_log_set_component("skiff-orchestrator");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data_dir = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'a':
			advertise = optarg;
			break;
		case 'c':
			cfg.cluster_cidr = optarg;
			break;
		case 'g':
		case 'H':
			if (skiff_parse_duration(optarg, &ms) < 0 || ms <= 0) {
				fprintf(stderr,
					"skiff-orchestrator: --%s: '%s' is not a duration "
					"(e.g. 500ms, 3s)\n",
					c == 'g' ? "node-grace" : "heartbeat", optarg);
				return 2;
			}
			if (c == 'g')
				cfg.node_grace_ms = ms;
			else
				cfg.heartbeat_ms = (int)ms;
			break;
		case 'L': {
			enum skiff_log_level lvl;
			if (skiff_log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr,
					"skiff-orchestrator: --log-level: '%s' is not one of "
					"error, warn, info, debug\n",
					optarg);
				return 2;
			}
			skiff_log_set_level(lvl);
			break;
		}
		case 'N':
			d.no_group_commit = true;
			break;
		case 'C':
		case 'U':
		case 'A': {
			const char *name = c == 'C'   ? "max-conns"
					   : c == 'U' ? "max-unauth-conns"
						      : "max-unauth-per-addr";
			int64_t n;
			if (skiff_parse_int64(optarg, &n) < 0 || n <= 0 || n > 1000000) {
				fprintf(stderr,
					"skiff-orchestrator: --%s: '%s' is not a count from 1 to "
					"1000000\n",
					name, optarg);
				return 2;
			}
			*(c == 'C'   ? &scfg.max_conns
			  : c == 'U' ? &scfg.max_unauth
				     : &scfg.max_unauth_per_addr) = (int)n;
			break;
		}
		case 'T':
		case 'F':
			if (skiff_parse_duration(optarg, &ms) < 0 || ms <= 0 || ms > 3600000) {
				fprintf(stderr,
					"skiff-orchestrator: --%s: '%s' is not a duration up to 1h "
					"(e.g. 500ms, 5s)\n",
					c == 'T' ? "handshake-timeout" : "first-frame-timeout",
					optarg);
				return 2;
			}
			*(c == 'T' ? &scfg.handshake_timeout_ms : &scfg.first_frame_timeout_ms) =
			    (int)ms;
			break;
		case 'V':
		case 'W': {
			size_t n = strlen(optarg);
			int64_t days;
			if (n > 1 && optarg[n - 1] == 'd') {
				_cleanup_free_ char *num = xstrndup(optarg, n - 1);
				if (skiff_parse_int64(num, &days) < 0 || days <= 0 || days > 36500)
					ms = -1;
				else
					ms = days * 86400 * 1000;
			} else if (skiff_parse_duration(optarg, &ms) < 0)
				ms = -1;
			if (ms < 10000) {
				fprintf(stderr,
					"skiff-orchestrator: --%s: '%s' is not a duration of at "
					"least 10s (e.g. 365d, 720h, 30s)\n",
					c == 'V' ? "cert-validity" : "admin-cert-validity", optarg);
				return 2;
			}
			if (c == 'V')
				d.cert_validity_s = ms / 1000;
			else
				d.admin_validity_s = ms / 1000;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!data_dir || optind < argc) {
		fputs(usage, stderr);
		return 2;
	}
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen) {
		fprintf(stderr, "skiff-orchestrator: --listen: '%s' is not ADDR:PORT\n", listen);
		return 2;
	}
	_cleanup_free_ char *listen_host = xstrndup(listen, colon - listen);
	_cleanup_free_ char *adv = xstrdup(advertise			   ? advertise
					   : streq(listen_host, "0.0.0.0") ? "127.0.0.1"
									   : listen_host);
	_cleanup_free_ char *server = xasprintf("%s:%s", adv, colon + 1);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(&scfg);

	int64_t grace = cfg.node_grace_ms ? cfg.node_grace_ms : SKIFF_DEFAULT_NODE_GRACE_MS;
	int64_t hb = cfg.heartbeat_ms ? cfg.heartbeat_ms : SKIFF_DEFAULT_HEARTBEAT_MS;
	if (grace < 2 * hb)
		log_warn(
		    "--node-grace %lld ms is less than two heartbeats (%lld ms): nodes will be "
		    "declared NotReady on the slightest delay",
		    (long long)grace, (long long)hb);
	d.data_dir = xstrdup(data_dir);
	d.deferred_tail = &d.deferred_head;
	if (!d.cert_validity_s)
		d.cert_validity_s = SKIFF_DEFAULT_CERT_VALIDITY_S;
	if (!d.admin_validity_s)
		d.admin_validity_s = SKIFF_DEFAULT_CERT_VALIDITY_S;
	_cleanup_free_ char *cert = NULL, *key = NULL;
	bool fresh = false;
	if (init_pki(&d, adv, server, &cert, &key, &fresh) < 0)
		return 1;
	if (brain_open(data_dir, &cfg, &d.brain) < 0) {
		log_error("cannot open the store in %s; refusing to start", data_dir);
		return 1;
	}
	d.brain->push = daemon_push_assignment;
	d.brain->push_userdata = &d;
	if (certs_init(&d) < 0 || skiff_store_sync(d.brain->store) < 0)
		return 1;

	struct event_config *ecfg = event_config_new();
	d.base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	event_base_priority_init(d.base, 3);
	if (images_open(&d) < 0)
		return 1;
	SSL_CTX *tls = NULL;
	int r = skiff_tls_server_ctx(skiff_ca_cert_pem(d.ca), cert, key, &tls);
	if (r < 0) {
		log_error_errno(r, "cannot set up TLS: %m");
		return 1;
	}
	scfg.listen = listen;
	scfg.tls = tls;
	r = skiff_rpc_server_new(d.base, &scfg, &d.server);
	if (r < 0) {
		log_error_errno(r, "cannot listen on %s: %m", listen);
		return 1;
	}
	d.joinlimit = joinlimit_new(NULL);
	joinlimit_attach(d.joinlimit, d.base, daemon_handle, &d);
	d.on_commit = daemon_watch_feed;
	daemon_commit_init(&d);
	d.tick_ev = event_new(d.base, -1, EV_PERSIST, tick_cb, &d);
	struct timeval tv = { 0, 100 * 1000 };
	event_add(d.tick_ev, &tv);
	d.sig_term = evsignal_new(d.base, SIGTERM, signal_cb, &d);
	d.sig_int = evsignal_new(d.base, SIGINT, signal_cb, &d);
	event_add(d.sig_term, NULL);
	event_add(d.sig_int, NULL);

	log_info("skiff-orchestrator %s listening on %s:%d (store revision %llu, %zu nodes, %zu "
		 "pods)",
		 SKIFF_VERSION, listen_host, skiff_rpc_server_port(d.server),
		 (unsigned long long)skiff_store_revision(d.brain->store),
		 skiff_store_count(d.brain->store, SKIFF_KIND_NODE),
		 skiff_store_count(d.brain->store, SKIFF_KIND_POD));
	if (d.token)
		printf("%s the cluster in %s.\n"
		       "Join nodes with:\n  skiff-agent --server %s --token %s ...\n"
		       "Use skiffctl with:\n  export SKIFF_CONFIG=%s/admin.conf\n",
		       fresh ? "Initialised" : "Resumed", data_dir, server, d.token, data_dir);
	else
		printf("Resumed the cluster in %s (no default join token: make one with "
		       "skiffctl token create).\n"
		       "Use skiffctl with:\n  export SKIFF_CONFIG=%s/admin.conf\n",
		       data_dir, data_dir);
	fflush(stdout);

	event_base_dispatch(d.base);

	/* clean shutdown: what was accepted is made durable first */
	if (d.exit_code == 0 && skiff_store_sync(d.brain->store) == 0)
		daemon_send_deferred(&d);
	daemon_watch_free_all(&d);
	skiff_rpc_server_free(d.server);
	images_close(&d);
	joinlimit_free(d.joinlimit); /* after the server: held calls are cancelled first */
	SSL_CTX_free(tls);
	daemon_commit_free(&d);
	event_free(d.tick_ev);
	event_free(d.sig_term);
	event_free(d.sig_int);
	brain_free(d.brain);
	skiff_ca_free(d.ca);
	event_base_free(d.base);
	free(d.token);
	free(d.data_dir);
	log_info("stopped");
	return d.exit_code;
}
