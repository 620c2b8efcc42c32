/* main.c — skiff-hollow: scale simulation for the brain (like Kubernetes'
 * kubemark) and the small clients bench/brain.sh needs.
 *
 *   skiff-hollow nodes --server ADDR:PORT --token TOKEN --count N [--prefix P]
 *                [--cpu 64] [--memory 256Gi] [--max-pods 500] [--no-status]
 *                [--expect PODS]
 *       joins N fake nodes (one process, one event loop, one connection
 *       each) that register, send heartbeats, accept every pod in their
 *       Assignment without running it and report it Running and ready with
 *       an IP from the node's pod CIDR; a pod that leaves the Assignment is
 *       reported stopped (PodStatusReport.stopped). With --expect it prints the wall
 *       time at which the nodes together hold that many pods.
 *   skiff-hollow deploy --config admin.conf --name NAME --replicas N
 *       applies a deployment (tiny requests) and prints the wall time.
 *   skiff-hollow writes --config admin.conf --count N [--inflight K]
 *       N APPLYs of small services, K in flight; prints acknowledged
 *       writes per second.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <event2/event.h>

#include "cleanup.h"
#include "fakes.h"
#include "log.h"
#include "pki.h"
#include "quantity.h"
#include "rpc.h"
#include "util.h"

/* ---- hollow nodes ------------------------------------------------------ */

struct hnode;

struct hollow {
	struct event_base *base;
	const char *server;
	char *ca_pem;
	struct hnode *nodes;
	int count;
	int64_t cpu, memory, max_pods;
	bool report_status;
	long expect;
	long total_pods;
	int registered;
	bool expect_done;
	int64_t first_pod_ms;
	int next_connect, connecting;
};

/* Nodes connect at most this many at a time: the brain counts a connection
 * whose TLS handshake is not done as unauthenticated and caps those per
 * address (--max-unauth-per-addr, 64), and all hollow nodes share one. */
#define CONNECTS_IN_FLIGHT 32

struct hnode {
	struct hollow *h;
	char name[64];
	char *cert, *key;
	struct skiff_rpc_conn *conn;
	uint64_t epoch;
	int heartbeat_ms;
	uint32_t cidr_base;
	struct event *hb_ev;
	long npods;
	char **known; /* pod names already reported */
	size_t nknown;
	unsigned next_ip;
};

static int join_one(struct hollow *h, struct hnode *n, const char *token)
{
	_cleanup_free_ char *err = NULL, *ca = NULL;
	int r = skiff_rpc_sync_join(h->server, token, n->name, &n->key, &n->cert, &ca, &err);
	if (r < 0)
		return log_error_errno(r, "join %s: %s", n->name, err);
	if (!h->ca_pem)
		h->ca_pem = TAKE_PTR(ca);
	return 0;
}

static void send_register(struct hnode *n);

static void ignore_reply(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			 const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	(void)frame;
	struct hnode *n = userdata;
	if (err < 0 && err != -ECANCELED)
		log_debug("%s: %s", n->name, errmsg ? errmsg : strerror(-err));
}

/* A stale epoch (the brain declared this node lost): register again, as a
 * real agent does; the new Assignment replaces the pods. */
static void heartbeat_reply(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			    const Skiff__Frame *frame, void *userdata)
{
	struct hnode *n = userdata;
	ignore_reply(conn, err, errmsg, frame, userdata);
	if (err == -ESTALE && n->conn) {
		log_info("%s: %s; registering again", n->name, errmsg ? errmsg : "stale epoch");
		if (n->hb_ev) {
			event_free(n->hb_ev);
			n->hb_ev = NULL;
		}
		n->h->registered--;
		send_register(n);
	}
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	struct hnode *n = userdata;
	if (!n->conn)
		return;
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	hb.node = n->name;
	hb.epoch = n->epoch;
	hb.time_ms = skiff_now_ms();
	skiff_rpc_request(n->conn, SKIFF__MSG_TYPE__MSG_HEARTBEAT, &hb.base, 10000, heartbeat_reply,
			  n, NULL);
}

static bool known(struct hnode *n, const char *pod)
{
	for (size_t i = 0; i < n->nknown; i++)
		if (streq(n->known[i], pod))
			return true;
	return false;
}

static void report_running(struct hnode *n, const Skiff__Pod *p)
{
	Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
	Skiff__PodStatus st = SKIFF__POD_STATUS__INIT;
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { htonl(n->cidr_base + 2 + (n->next_ip++ % 250)) };
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	st.phase = (char *)"Running";
	st.ready = true;
	st.pod_ip = ip;
	st.start_ms = skiff_now_ms();
	/* one Running, ready container status per container */
	size_t nc = p->spec ? p->spec->n_containers : 0;
	Skiff__ContainerStatus *cs = xcalloc(nc + 1, sizeof(*cs));
	Skiff__ContainerStatus **csp = xcalloc(nc + 1, sizeof(*csp));
	for (size_t i = 0; i < nc; i++) {
		skiff__container_status__init(&cs[i]);
		cs[i].name = p->spec->containers[i]->name;
		cs[i].state = (char *)"Running";
		cs[i].ready = true;
		cs[i].started_ms = st.start_ms;
		csp[i] = &cs[i];
	}
	st.container_statuses = csp;
	st.n_container_statuses = nc;
	rep.node = n->name;
	rep.epoch = n->epoch;
	rep.pod = p->metadata->name;
	rep.uid = p->metadata->uid;
	rep.status = &st;
	skiff_rpc_request(n->conn, SKIFF__MSG_TYPE__MSG_POD_STATUS, &rep.base, 30000, ignore_reply,
			  n, NULL);
	free(csp);
	free(cs);
}

/* A pod left the Assignment: "stopped" at once (a Terminating pod is then
 * removed by the brain; for a pod deleted outright the brain answers ENOENT). */
static void report_stopped(struct hnode *n, const char *pod)
{
	Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
	rep.node = n->name;
	rep.epoch = n->epoch;
	rep.pod = (char *)pod;
	rep.stopped = true;
	skiff_rpc_request(n->conn, SKIFF__MSG_TYPE__MSG_POD_STATUS, &rep.base, 30000, ignore_reply,
			  n, NULL);
}

static void on_assign(struct hnode *n, Skiff__Assignment *a)
{
	struct hollow *h = n->h;
	if (a->epoch != n->epoch)
		return;
	h->total_pods += (long)a->n_pods - n->npods;
	n->npods = (long)a->n_pods;
	if (a->n_pods && !h->first_pod_ms)
		h->first_pod_ms = skiff_now_ms();
	/* the pods we run are exactly the listed ones */
	char **now = xcalloc(a->n_pods + 1, sizeof(char *));
	for (size_t i = 0; i < a->n_pods; i++) {
		const Skiff__Pod *p = a->pods[i];
		bool running = p->status && streq_ptr(p->status->phase, "Running");
		if (h->report_status && !running && !known(n, p->metadata->name))
			report_running(n, p);
		now[i] = xstrdup(p->metadata->name);
	}
	if (h->report_status)
		for (size_t i = 0; i < n->nknown; i++) {
			bool kept = false;
			for (size_t j = 0; j < a->n_pods && !kept; j++)
				kept = streq(now[j], n->known[i]);
			if (!kept)
				report_stopped(n, n->known[i]);
		}
	for (size_t i = 0; i < n->nknown; i++)
		free(n->known[i]);
	free(n->known);
	n->known = now;
	n->nknown = a->n_pods;
	if (h->expect > 0 && !h->expect_done && h->total_pods >= h->expect) {
		h->expect_done = true;
		printf("hollow: %ld pods on %d nodes at %lld (first pod at %lld)\n", h->total_pods,
		       h->count, (long long)skiff_now_ms(), (long long)h->first_pod_ms);
		fflush(stdout);
	}
}

static void node_handler(struct skiff_rpc_call *call, const Skiff__Frame *req, void *userdata)
{
	struct hnode *n = userdata;
	if (req->type == SKIFF__MSG_TYPE__MSG_ASSIGN) {
		Skiff__Assignment *a =
		    skiff__assignment__unpack(NULL, req->payload.len, req->payload.data);
		if (a) {
			on_assign(n, a);
			skiff__assignment__free_unpacked(a, NULL);
		}
		return;
	}
	if (req->type == SKIFF__MSG_TYPE__MSG_AGENT_LOGS) {
		Skiff__LogChunk c = SKIFF__LOG_CHUNK__INIT;
		static const char line[] = "hollow node: this pod does not run\n";
		c.data.data = (uint8_t *)line;
		c.data.len = sizeof(line) - 1;
		skiff_rpc_call_stream(call, &c.base);
		skiff_rpc_call_end(call, 0, NULL);
		return;
	}
	skiff_rpc_call_error(call, -EOPNOTSUPP, "hollow node");
}

static void node_closed(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	(void)conn;
	struct hnode *n = userdata;
	log_warn("%s: connection closed (%s)", n->name, strerror(reason < 0 ? -reason : 0));
	n->conn = NULL;
}

static void on_registered(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			  const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	struct hnode *n = userdata;
	struct fake_registered r;
	if (err < 0) {
		log_error("%s: register: %s", n->name, errmsg ? errmsg : strerror(-err));
		return;
	}
	if (fake_registered_read(frame->payload.data, frame->payload.len, &r) < 0)
		return;
	n->epoch = r.epoch;
	n->heartbeat_ms = r.heartbeat_ms;
	n->cidr_base = r.pod_cidr_base;
	struct timeval tv = { n->heartbeat_ms / 1000, (n->heartbeat_ms % 1000) * 1000 };
	n->hb_ev = event_new(n->h->base, -1, EV_PERSIST, heartbeat_cb, n);
	event_add(n->hb_ev, &tv);
	if (++n->h->registered == n->h->count) {
		printf("hollow: %d nodes registered at %lld\n", n->h->count,
		       (long long)skiff_now_ms());
		fflush(stdout);
	}
}

static void send_register(struct hnode *n)
{
	struct hollow *h = n->h;
	struct fake_register f;
	fake_register_init(&f, n->name, h->cpu, h->memory, h->max_pods, "127.0.0.1");
	fake_register_label(&f, "skiff.io/hollow", "true");
	f.status.agent_version = (char *)"hollow";
	f.req.epoch = n->epoch;
	skiff_rpc_request(n->conn, SKIFF__MSG_TYPE__MSG_REGISTER, &f.req.base, 60000, on_registered,
			  n, NULL);
}

static void connect_more(struct hollow *h);

static void on_connected(struct skiff_rpc_conn *conn, int err, const char *errmsg, void *userdata)
{
	struct hnode *n = userdata;
	n->h->connecting--;
	connect_more(n->h);
	if (err < 0) {
		log_error("%s: cannot connect: %s", n->name, errmsg);
		return;
	}
	n->conn = conn;
	send_register(n);
}

static void connect_more(struct hollow *h)
{
	while (h->connecting < CONNECTS_IN_FLIGHT && h->next_connect < h->count) {
		struct hnode *n = &h->nodes[h->next_connect++];
		SSL_CTX *tls = NULL;
		if (skiff_tls_client_ctx(h->ca_pem, n->cert, n->key, &tls) < 0) {
			log_error("%s: bad node certificate", n->name);
			continue;
		}
		struct skiff_rpc_client_config cc = {
			.server = h->server,
			.tls = tls,
			.connect_timeout_ms = 30000,
			.keepalive_ms = 5000,
			.handler = node_handler,
			.on_close = node_closed,
			.userdata = n,
		};
		int r = skiff_rpc_connect(h->base, &cc, on_connected, NULL);
		SSL_CTX_free(tls);
		if (r < 0) {
			log_error_errno(r, "%s: connect: %m", n->name);
			continue;
		}
		h->connecting++;
	}
}

static void stop_cb(evutil_socket_t sig, short what, void *userdata)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(userdata);
}

static int cmd_nodes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "max-pods", required_argument, NULL, 'P' },
		{ "no-status", no_argument, NULL, 'S' },
		{ "expect", required_argument, NULL, 'e' },
		{ 0 },
	};
	struct hollow h = {
		.cpu = 64000, .memory = 256LL << 30, .max_pods = 500, .report_status = true
	};
	const char *token = NULL, *prefix = "hollow-";
	int64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			h.server = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'n':
			if (skiff_parse_int64(optarg, &v) < 0 || v < 1 || v > 100000)
				return fprintf(stderr, "--count: 1-100000\n"), 2;
			h.count = (int)v;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'c':
			if (skiff_parse_cpu(optarg, &h.cpu) < 0)
				return fprintf(stderr, "--cpu: not a cpu quantity\n"), 2;
			break;
		case 'm':
			if (skiff_parse_memory(optarg, &h.memory) < 0)
				return fprintf(stderr, "--memory: not a memory quantity\n"), 2;
			break;
		case 'P':
			if (skiff_parse_int64(optarg, &h.max_pods) < 0 || h.max_pods < 1)
				return fprintf(stderr, "--max-pods: a positive number\n"), 2;
			break;
		case 'S':
			h.report_status = false;
			break;
		case 'e':
			if (skiff_parse_int64(optarg, &v) < 0 || v < 1)
				return fprintf(stderr, "--expect: a positive number\n"), 2;
			h.expect = (long)v;
			break;
		default:
			return 2;
		}
	}
	if (!h.server || !token || !h.count) {
		fprintf(stderr, "skiff-hollow nodes: --server, --token and --count are required\n");
		return 2;
	}
	h.base = event_base_new();
	h.nodes = xcalloc(h.count, sizeof(*h.nodes));
	for (int i = 0; i < h.count; i++) {
		struct hnode *n = &h.nodes[i];
		n->h = &h;
		snprintf(n->name, sizeof(n->name), "%s%d", prefix, i);
		if (join_one(&h, n, token) < 0)
			return 1;
	}
	printf("hollow: %d nodes joined at %lld\n", h.count, (long long)skiff_now_ms());
	fflush(stdout);
	connect_more(&h);
	struct event *sig = evsignal_new(h.base, SIGTERM, stop_cb, h.base);
	struct event *sig2 = evsignal_new(h.base, SIGINT, stop_cb, h.base);
	event_add(sig, NULL);
	event_add(sig2, NULL);
	event_base_dispatch(h.base);
	printf("hollow: stopping with %ld pods on %d nodes\n", h.total_pods, h.count);
	event_free(sig);
	event_free(sig2);
	for (int i = 0; i < h.count; i++) {
		struct hnode *n = &h.nodes[i];
		if (n->conn)
			skiff_rpc_conn_close(n->conn);
		if (n->hb_ev)
			event_free(n->hb_ev);
		for (size_t k = 0; k < n->nknown; k++)
			free(n->known[k]);
		free(n->known);
		free(n->cert);
		free(n->key);
	}
	free(h.nodes);
	free(h.ca_pem);
	event_base_free(h.base);
	return 0;
}

/* ---- admin clients ------------------------------------------------------ */

static int admin_connect(const char *config, struct skiff_rpc_sync **ret)
{
	struct skiff_client_config cfg = { 0 };
	_cleanup_free_ char *err = NULL;
	int r = skiff_client_config_read(config, &cfg, &err);
	if (r < 0)
		return log_error_errno(r, "%s: %s", config, err ? err : "cannot read");
	SSL_CTX *tls = NULL;
	r = skiff_tls_client_ctx(cfg.ca_pem, cfg.cert_pem, cfg.key_pem, &tls);
	if (r >= 0) {
		struct skiff_rpc_client_config cc = { .server = cfg.server, .tls = tls };
		r = skiff_rpc_sync_connect(&cc, ret, &err);
		if (r < 0)
			log_error("%s: %s", cfg.server, err);
		SSL_CTX_free(tls);
	}
	skiff_client_config_clear(&cfg);
	return r;
}

static int cmd_deploy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "replicas", required_argument, NULL, 'r' },
		{ 0 },
	};
	const char *config = NULL, *name = "bench";
	int64_t replicas = 1;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'n')
			name = optarg;
		else if (c == 'r' && skiff_parse_int64(optarg, &replicas) < 0)
			return 2;
		else if (c == '?')
			return 2;
	}
	if (!config)
		return fprintf(stderr, "skiff-hollow deploy: --config is required\n"), 2;
	struct skiff_rpc_sync *s = NULL;
	if (admin_connect(config, &s) < 0)
		return 1;
	struct fake_deployment f;
	fake_deployment_init(&f, name, (int)replicas, "skiff-demo:1", "/bin/pause", 10, 16LL << 20);
	_cleanup_free_ char *err = NULL;
	int64_t t0 = skiff_now_ms();
	int r = skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_APPLY, &f.req.base, 60000, NULL, &err);
	skiff_rpc_sync_free(s);
	if (r < 0)
		return log_error("apply: %s", err), 1;
	printf("deploy: %s with %lld replicas applied at %lld\n", name, (long long)replicas,
	       (long long)t0);
	return 0;
}

struct writes {
	struct event_base *base;
	struct skiff_rpc_conn *conn;
	long count, sent, acked, failed;
	int inflight;
	int64_t t0;
};

static void send_write(struct writes *w);

static void write_done(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		       const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	(void)frame;
	struct writes *w = userdata;
	if (err < 0) {
		w->failed++;
		log_error("write: %s", errmsg ? errmsg : strerror(-err));
	} else {
		w->acked++;
	}
	if (w->acked + w->failed == w->count)
		event_base_loopbreak(w->base);
	else
		send_write(w);
}

static void send_write(struct writes *w)
{
	if (w->sent >= w->count)
		return;
	char name[32];
	snprintf(name, sizeof(name), "w-%ld-%ld", (long)getpid() % 10000, w->sent);
	Skiff__Service svc = SKIFF__SERVICE__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	Skiff__ServiceSpec spec = SKIFF__SERVICE_SPEC__INIT;
	Skiff__ServicePort port = SKIFF__SERVICE_PORT__INIT, *ports[1] = { &port };
	Skiff__KeyValue kv = SKIFF__KEY_VALUE__INIT, *kvs[1] = { &kv };
	m.name = name;
	kv.key = (char *)"app";
	kv.value = name;
	spec.selector = kvs;
	spec.n_selector = 1;
	port.port = 80;
	spec.ports = ports;
	spec.n_ports = 1;
	svc.metadata = &m;
	svc.spec = &spec;
	Skiff__ApplyRequest ar = SKIFF__APPLY_REQUEST__INIT;
	Skiff__Object obj = SKIFF__OBJECT__INIT;
	obj.service = &svc;
	ar.object = &obj;
	w->sent++;
	skiff_rpc_request(w->conn, SKIFF__MSG_TYPE__MSG_APPLY, &ar.base, 60000, write_done, w,
			  NULL);
}

static void writes_connected(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			     void *userdata)
{
	struct writes *w = userdata;
	if (err < 0) {
		log_error("connect: %s", errmsg);
		event_base_loopbreak(w->base);
		return;
	}
	w->conn = conn;
	w->t0 = skiff_mono_ms();
	for (int i = 0; i < w->inflight; i++)
		send_write(w);
}

static int cmd_writes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "inflight", required_argument, NULL, 'k' },
		{ 0 },
	};
	const char *config = NULL;
	int64_t count = 2000, inflight = 64;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'n' && skiff_parse_int64(optarg, &count) < 0)
			return 2;
		else if (c == 'k' && skiff_parse_int64(optarg, &inflight) < 0)
			return 2;
		else if (c == '?')
			return 2;
	}
	if (!config)
		return fprintf(stderr, "skiff-hollow writes: --config is required\n"), 2;
	struct skiff_client_config cfg = { 0 };
	_cleanup_free_ char *err = NULL;
	if (skiff_client_config_read(config, &cfg, &err) < 0)
		return log_error("%s: %s", config, err ? err : "cannot read"), 1;
	SSL_CTX *tls = NULL;
	if (skiff_tls_client_ctx(cfg.ca_pem, cfg.cert_pem, cfg.key_pem, &tls) < 0)
		return 1;
	struct writes w = { .base = event_base_new(), .count = count, .inflight = (int)inflight };
	struct skiff_rpc_client_config cc = { .server = cfg.server, .tls = tls, .userdata = &w };
	if (skiff_rpc_connect(w.base, &cc, writes_connected, NULL) < 0)
		return 1;
	SSL_CTX_free(tls);
	event_base_dispatch(w.base);
	int64_t ms = skiff_mono_ms() - w.t0;
	printf("writes: %ld acknowledged in %lld ms with %d in flight: %.0f writes/s\n", w.acked,
	       (long long)ms, w.inflight, ms > 0 ? w.acked * 1000.0 / ms : 0.0);
	if (w.conn)
		skiff_rpc_conn_close(w.conn);
	event_base_free(w.base);
	skiff_client_config_clear(&cfg);
	return w.failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	skiff_log_set_component("skiff-hollow");
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fprintf(stderr, "Usage: skiff-hollow nodes|deploy|writes [options] (see the "
				"comment at the top of hollow/main.c)\n");
		return 2;
	}
	const char *cmd = argv[1];
	argv[1] = argv[0];
	if (streq(cmd, "nodes"))
		return cmd_nodes(argc - 1, argv + 1);
	if (streq(cmd, "deploy"))
		return cmd_deploy(argc - 1, argv + 1);
	if (streq(cmd, "writes"))
		return cmd_writes(argc - 1, argv + 1);
	fprintf(stderr, "skiff-hollow: unknown command '%s' (nodes, deploy, writes)\n", cmd);
	return 2;
}
