/* session.c — the agent's one connection to the brain.
 *
 * Join once with the token (pinned to the CA digest in it) to get the node
 * certificate, then: mTLS connect, MSG_REGISTER (capacity, labels, the pods
 * already running, the last epoch), heartbeats every heartbeat_ms, pod status
 * and events as they happen, and the brain's MSG_ASSIGN pushes and
 * MSG_AGENT_LOGS requests. When the connection drops, reconnect with a
 * jittered exponential backoff (200 ms doubling, capped at 2 s, so an agent is back within 3 s of the brain): nothing else
 * in the agent waits for the brain.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <arpa/inet.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "util.h"

#define RECONNECT_FIRST_MS 200
#define RECONNECT_MAX_MS   2000

struct session {
	struct agent *agent;
	struct skiff_rpc_conn *conn; /* connected (maybe not registered yet) */
	bool connecting;
	bool registered;
	bool joining;
	SSL_CTX *tls;
	int64_t backoff_ms;
	struct event *ev_reconnect;
	struct event *ev_heartbeat;
	char *join_key; /* the key whose CSR we sent with MSG_JOIN */
	struct event *ev_renew;
	char *renew_key; /* the key whose CSR we sent with MSG_RENEW */
	bool renewing;
};

static void schedule_renewal(struct session *s);

static void session_connect(struct session *s);

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_connect(arg);
}

static void schedule_reconnect(struct session *s)
{
	struct agent *a = s->agent;
	int64_t base = s->backoff_ms ? s->backoff_ms : RECONNECT_FIRST_MS;
	uint32_t rnd = 0;
	skiff_random_bytes(&rnd, sizeof(rnd));
	/* full jitter in [base/2, base*3/2) so many agents do not return in step */
	int64_t delay = base / 2 + (int64_t)(rnd % (uint32_t)(base ? base : 1));
	s->backoff_ms = base * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : base * 2;
	if (!s->ev_reconnect)
		s->ev_reconnect = evtimer_new(a->base, on_reconnect_timer, s);
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
	evtimer_del(s->ev_reconnect);
	evtimer_add(s->ev_reconnect, &tv);
	log_debug("reconnecting to %s in %" PRId64 " ms", a->cfg.server, delay);
}

bool session_talking(struct agent *a)
{
	return a->session && a->session->conn;
}

bool session_connected(struct agent *a)
{
	return a->session && a->session->conn && a->session->registered;
}

static void on_close(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	struct session *s = userdata;
	(void)conn;
	if (s->conn)
		log_warn("connection to brain %s lost (%s); containers keep running",
			 s->agent->cfg.server, reason ? strerror(-reason) : "closed");
	s->conn = NULL;
	s->registered = false;
	s->connecting = false;
	if (s->ev_heartbeat)
		evtimer_del(s->ev_heartbeat);
	schedule_reconnect(s);
}

static void drop(struct session *s, const char *why)
{
	log_warn("dropping the brain connection: %s", why);
	if (s->conn)
		skiff_rpc_conn_close(s->conn); /* on_close reconnects */
}

/* ---- requests the brain sends us ---------------------------------------- */

static void on_request(struct skiff_rpc_call *call, const Skiff__Frame *req, void *userdata)
{
	struct session *s = userdata;
	struct agent *a = s->agent;

	switch (req->type) {
	case SKIFF__MSG_TYPE__MSG_ASSIGN: {
		Skiff__Assignment *as =
		    skiff__assignment__unpack(NULL, req->payload.len, req->payload.data);
		if (!as) {
			if (call && !(req->flags & SKIFF__FRAME_FLAG__FLAG_ONEWAY))
				skiff_rpc_call_error(call, EBADMSG, "assignment does not unpack");
			drop(s, "an Assignment that does not unpack");
			return;
		}
		if (call && !(req->flags & SKIFF__FRAME_FLAG__FLAG_ONEWAY))
			skiff_rpc_call_reply(call, NULL);
		if (as->epoch && as->epoch < a->epoch) {
			log_warn("ignoring an assignment for old epoch %" PRIu64
				 " (current %" PRIu64 ")",
				 as->epoch, a->epoch);
			skiff__assignment__free_unpacked(as, NULL);
			return;
		}
		log_debug("assignment: epoch %" PRIu64 ", %zu pods, %zu nodes, %zu services%s",
			  as->epoch, as->n_pods, as->n_nodes, as->n_services,
			  as->fenced ? ", fenced" : "");
		core_apply_assignment(a, as);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_AGENT_LOGS:
		logs_serve(a, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_AGENT_EXEC: /* exec.c */
		exec_serve(a, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_AGENT_EXEC_INPUT:
		exec_input(a, req);
		return;
	default:
		if (call && !(req->flags & SKIFF__FRAME_FLAG__FLAG_ONEWAY))
			skiff_rpc_call_error(call, EOPNOTSUPP,
					     "skiff-agent does not serve message type %d",
					     req->type);
		return;
	}
}

/* ---- heartbeats ---------------------------------------------------------- */

static void on_reply_checked(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			     const Skiff__Frame *frame, void *userdata)
{
	struct session *s = userdata;
	(void)frame;
	if (err == -ESTALE && s->conn == conn) {
		log_warn("brain: %s", errmsg ? errmsg : "stale epoch");
		drop(s, "stale epoch; registering again");
	} else if (err < 0 && err != -ECANCELED) {
		log_debug("brain request failed: %s", errmsg ? errmsg : strerror(-err));
	}
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct agent *a = s->agent;
	(void)fd;
	(void)what;
	if (!session_connected(a))
		return;
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	hb.node = a->cfg.name;
	hb.epoch = a->epoch;
	hb.time_ms = skiff_now_ms();
	skiff_rpc_request(s->conn, SKIFF__MSG_TYPE__MSG_HEARTBEAT, &hb.base, a->heartbeat_ms * 3,
			  on_reply_checked, s, NULL);
}

static bool send_report(struct agent *a, struct agent_pod *pod, bool stopped)
{
	if (!session_connected(a))
		return false;
	Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
	rep.stopped = stopped;
	rep.node = a->cfg.name;
	rep.epoch = a->epoch;
	rep.pod = pod->name;
	rep.namespace_ = pod->ns;
	rep.uid = pod->uid;
	rep.status = core_pod_status(pod);
	int r = skiff_rpc_request(a->session->conn, SKIFF__MSG_TYPE__MSG_POD_STATUS, &rep.base,
				  SKIFF_RPC_DEFAULT_TIMEOUT_MS, on_reply_checked, a->session, NULL);
	core_status_free(rep.status);
	return r >= 0;
}

bool session_send_status(struct agent *a, struct agent_pod *pod)
{
	return send_report(a, pod, false);
}

bool session_send_stopped(struct agent *a, struct agent_pod *pod)
{
	return send_report(a, pod, true);
}

bool session_send_event(struct agent *a, const uint8_t *packed, size_t len)
{
	if (!session_connected(a))
		return false;
	Skiff__Event *ev = skiff__event__unpack(NULL, len, packed);
	if (!ev)
		return true; /* cannot happen: we packed it; drop it */
	int r = skiff_rpc_request(a->session->conn, SKIFF__MSG_TYPE__MSG_EVENT_REPORT, &ev->base,
				  SKIFF_RPC_DEFAULT_TIMEOUT_MS, on_reply_checked, a->session, NULL);
	skiff__event__free_unpacked(ev, NULL);
	return r >= 0;
}

/* ---- register ------------------------------------------------------------ */

static void free_running(Skiff__RegisterRequest *req)
{
	for (size_t i = 0; i < req->n_pods; i++) {
		core_status_free(req->pods[i]->status);
		free(req->pods[i]);
	}
	free(req->pods);
}

static void on_registered(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			  const Skiff__Frame *frame, void *userdata)
{
	struct session *s = userdata;
	struct agent *a = s->agent;
	if (s->conn != conn)
		return;
	if (err < 0) {
		log_error("brain %s refused REGISTER of node %s: %s", a->cfg.server, a->cfg.name,
			  errmsg ? errmsg : strerror(-err));
		drop(s, "register failed");
		return;
	}
	Skiff__RegisterResponse *resp =
	    skiff__register_response__unpack(NULL, frame->payload.len, frame->payload.data);
	if (!resp) {
		drop(s, "RegisterResponse does not unpack");
		return;
	}
	a->epoch = resp->epoch;
	if (resp->pod_cidr[0] && !streq(resp->pod_cidr, a->pod_cidr)) {
		if (a->pod_cidr[0])
			log_warn("pod CIDR changed from %s to %s", a->pod_cidr, resp->pod_cidr);
		snprintf(a->pod_cidr, sizeof(a->pod_cidr), "%s", resp->pod_cidr);
		a->net_ready = false;
	}
	a->heartbeat_ms = resp->heartbeat_ms > 0 ? resp->heartbeat_ms : 1000;
	skiff__register_response__free_unpacked(resp, NULL);
	int r = state_save_node(a);
	if (r < 0)
		log_warn_errno(r, "cannot save %s/node.state: %m", a->cfg.state_dir);
	if (a->pod_cidr[0] && !a->net_ready)
		routes_setup_bridge(a);

	s->registered = true;
	s->backoff_ms = 0;
	log_info("registered with brain %s as node %s: epoch %" PRIu64 ", pod CIDR %s, heartbeat "
		 "%d ms",
		 a->cfg.server, a->cfg.name, a->epoch, a->pod_cidr[0] ? a->pod_cidr : "(none)",
		 a->heartbeat_ms);
	if (!s->ev_heartbeat)
		s->ev_heartbeat = event_new(a->base, -1, EV_PERSIST, on_heartbeat, s);
	struct timeval tv = { a->heartbeat_ms / 1000, (a->heartbeat_ms % 1000) * 1000 };
	evtimer_del(s->ev_heartbeat);
	evtimer_add(s->ev_heartbeat, &tv);
	schedule_renewal(s);

	/* Whatever happened while the brain was away, in full. */
	for (struct agent_container *p = a->containers; p; p = p->next)
		p->status_dirty = true;
	core_flush(a);
}

/* Without --address: the address this node talks to the brain from (what
 * getsockname says for a socket connected to the brain; a UDP socket's
 * connect() only picks the route and source address, it sends nothing). */
static void find_address(struct agent *a)
{
	_cleanup_free_ char *host = xstrdup(a->cfg.server);
	char *colon = strrchr(host, ':');
	if (!colon)
		return;
	*colon = 0;
	char *h = host;
	if (h[0] == '[') { /* [v6]:port */
		h++;
		h[strcspn(h, "]")] = 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(h, colon + 1, &hints, &ai) != 0 || !ai)
		return;
	_cleanup_close_ int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char buf[INET6_ADDRSTRLEN] = "";
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
				  sizeof(buf));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf,
				  sizeof(buf));
	}
	freeaddrinfo(ai);
	if (buf[0] && !streq(buf, a->address_buf)) {
		copy_str(a->address_buf, sizeof(a->address_buf), buf);
		a->cfg.address = a->address_buf;
		log_info("node address %s (the local address towards brain %s; --address sets "
			 "it)",
			 buf, a->cfg.server);
	}
}

static void send_register(struct session *s)
{
	struct agent *a = s->agent;
	Skiff__RegisterRequest req = SKIFF__REGISTER_REQUEST__INIT;
	Skiff__Node node = SKIFF__NODE__INIT;
	Skiff__ObjectMeta meta = SKIFF__OBJECT_META__INIT;
	Skiff__NodeStatus status = SKIFF__NODE_STATUS__INIT;
	Skiff__ResourceList cap = SKIFF__RESOURCE_LIST__INIT;
	struct utsname u;

	if (a->address_auto)
		find_address(a);
	meta.name = a->cfg.name;
	/* labels "k=v,k=v" */
	_cleanup_free_ char *labels = xstrdup(a->cfg.labels ? a->cfg.labels : "");
	Skiff__KeyValue kvs[32];
	Skiff__KeyValue *kvp[32];
	size_t n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(labels, ",", &save); tok && n < 32;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		skiff__key_value__init(&kvs[n]);
		if (eq)
			*eq = 0;
		kvs[n].key = tok;
		kvs[n].value = eq ? eq + 1 : "";
		kvp[n] = &kvs[n];
		n++;
	}
	meta.n_labels = n;
	meta.labels = kvp;
	cap.cpu_milli = (int64_t)agent_capacity_cpu_milli();
	cap.memory = agent_capacity_memory();
	cap.pods = AGENT_MAX_PODS;
	status.address = a->cfg.address ? a->cfg.address : "";
	status.capacity = &cap;
	status.allocatable = &cap;
	status.epoch = a->epoch;
	status.agent_version = SKIFF_VERSION;
	status.kernel = uname(&u) == 0 ? u.release : "";
	node.metadata = &meta;
	node.status = &status;
	req.node = &node;
	req.epoch = a->epoch;
	core_fill_running(a, &req);
	int r = skiff_rpc_request(s->conn, SKIFF__MSG_TYPE__MSG_REGISTER, &req.base,
				  SKIFF_RPC_DEFAULT_TIMEOUT_MS, on_registered, s, NULL);
	free_running(&req);
	if (r < 0)
		drop(s, "cannot send REGISTER");
}

/* ---- connect ------------------------------------------------------------- */

static void on_connected(struct skiff_rpc_conn *conn, int err, const char *errmsg, void *userdata)
{
	struct session *s = userdata;
	s->connecting = false;
	if (err < 0) {
		log_warn("cannot connect to brain %s: %s", s->agent->cfg.server,
			 errmsg ? errmsg : strerror(-err));
		schedule_reconnect(s);
		return;
	}
	s->conn = conn;
	send_register(s);
}

/* ---- certificate renewal -------------------------------------------------- */

#define RENEW_RETRY_MS 30000

static void on_renew_timer(evutil_socket_t fd, short what, void *arg);

static void renew_in(struct session *s, int64_t ms)
{
	if (!s->ev_renew)
		s->ev_renew = evtimer_new(s->agent->base, on_renew_timer, s);
	evtimer_del(s->ev_renew);
	if (ms < 0)
		ms = 0;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(s->ev_renew, &tv);
}

static void on_renewed(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		       const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	struct session *s = userdata;
	struct agent *a = s->agent;
	_cleanup_free_ char *key = TAKE_PTR(s->renew_key);
	s->renewing = false;
	Skiff__IssuedCertificate *ic =
	    err < 0
		? NULL
		: skiff__issued_certificate__unpack(NULL, frame->payload.len, frame->payload.data);
	if (!ic || !ic->cert_pem.len) {
		log_warn("cannot renew the node certificate: %s; trying again in %d s",
			 errmsg ? errmsg : "the brain sent no certificate", RENEW_RETRY_MS / 1000);
		if (ic)
			skiff__issued_certificate__free_unpacked(ic, NULL);
		renew_in(s, RENEW_RETRY_MS);
		return;
	}
	_cleanup_free_ char *cert = xstrndup((char *)ic->cert_pem.data, ic->cert_pem.len);
	skiff__issued_certificate__free_unpacked(ic, NULL);
	if (state_replace_cert(a, cert, key) < 0) {
		renew_in(s, RENEW_RETRY_MS);
		return;
	}
	/* the next connection uses it; this one goes on as it is */
	SSL_CTX_free(s->tls);
	s->tls = NULL;
	struct skiff_cert_info info;
	if (skiff_pki_cert_info(cert, &info) == 0)
		log_info("renewed the node certificate: serial %s, valid until %" PRId64
			 " (unix ms)",
			 info.serial, info.not_after_ms);
	schedule_renewal(s);
}

static void on_renew_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct session *s = arg;
	struct agent *a = s->agent;
	if (!s->conn || !s->registered || s->renewing)
		return; /* the next registration schedules it again */
	_cleanup_free_ char *csr = NULL;
	free(s->renew_key);
	s->renew_key = NULL;
	if (skiff_pki_key_and_csr(a->cfg.name, &s->renew_key, &csr) < 0) {
		renew_in(s, RENEW_RETRY_MS);
		return;
	}
	Skiff__RenewRequest req = SKIFF__RENEW_REQUEST__INIT;
	req.csr_pem.data = (uint8_t *)csr;
	req.csr_pem.len = strlen(csr);
	s->renewing = true;
	if (skiff_rpc_request(s->conn, SKIFF__MSG_TYPE__MSG_RENEW, &req.base,
			      SKIFF_RPC_DEFAULT_TIMEOUT_MS, on_renewed, s, NULL) < 0) {
		s->renewing = false;
		renew_in(s, RENEW_RETRY_MS);
	}
}

/* Renew at 2/3 of the certificate's life (as the kubelet does, roughly). */
static void schedule_renewal(struct session *s)
{
	struct agent *a = s->agent;
	if (a->cfg.insecure || s->renewing)
		return;
	_cleanup_free_ char *ca = NULL, *cert = NULL, *key = NULL;
	struct skiff_cert_info info;
	if (state_load_certs(a, &ca, &cert, &key) < 0 || skiff_pki_cert_info(cert, &info) < 0)
		return;
	int64_t at = info.not_before_ms + (info.not_after_ms - info.not_before_ms) * 2 / 3;
	renew_in(s, at - skiff_now_ms());
}

/* ---- join ---------------------------------------------------------------- */

static void on_joined(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		      const Skiff__Frame *frame, void *userdata)
{
	struct session *s = userdata;
	struct agent *a = s->agent;
	_cleanup_free_ char *key = TAKE_PTR(s->join_key);
	if (err < 0) {
		log_error("brain %s refused to join node %s: %s (trying again)", a->cfg.server,
			  a->cfg.name, errmsg ? errmsg : strerror(-err));
		skiff_rpc_conn_close(conn);
		return;
	}
	Skiff__JoinResponse *resp =
	    skiff__join_response__unpack(NULL, frame->payload.len, frame->payload.data);
	if (!resp || !resp->cert_pem.len || !resp->ca_pem.len) {
		log_error("brain %s sent a JoinResponse without certificates", a->cfg.server);
		if (resp)
			skiff__join_response__free_unpacked(resp, NULL);
		skiff_rpc_conn_close(conn);
		return;
	}
	_cleanup_free_ char *cert = xstrndup((char *)resp->cert_pem.data, resp->cert_pem.len);
	_cleanup_free_ char *ca = xstrndup((char *)resp->ca_pem.data, resp->ca_pem.len);
	skiff__join_response__free_unpacked(resp, NULL);
	if (state_save_certs(a, ca, cert, key) < 0) {
		skiff_rpc_conn_close(conn);
		return;
	}
	state_join_done(a);
	log_info("joined the cluster at %s as node %s", a->cfg.server, a->cfg.name);
	s->backoff_ms = 0;
	skiff_rpc_conn_close(conn); /* on_close schedules the mTLS session */
}

static void on_join_close(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	struct session *s = userdata;
	(void)conn;
	(void)reason;
	s->joining = false;
	s->connecting = false;
	schedule_reconnect(s);
}

static void on_join_connected(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			      void *userdata)
{
	struct session *s = userdata;
	struct agent *a = s->agent;
	if (err < 0) {
		log_warn("cannot connect to brain %s to join: %s", a->cfg.server,
			 errmsg ? errmsg : strerror(-err));
		s->joining = false;
		s->connecting = false;
		schedule_reconnect(s);
		return;
	}
	_cleanup_free_ char *csr = NULL;
	free(s->join_key);
	s->join_key = NULL;
	/* the same key on every attempt, so that an admin's approval of the
	 * request (a name that is taken) matches the next one */
	int r = state_join_key(a, &s->join_key);
	if (r >= 0)
		r = skiff_pki_csr_for_key(a->cfg.name, s->join_key, &csr);
	if (r < 0) {
		log_error_errno(r, "cannot make a key and CSR: %m");
		skiff_rpc_conn_close(conn);
		return;
	}
	Skiff__JoinRequest req = SKIFF__JOIN_REQUEST__INIT;
	req.token = a->cfg.token;
	req.node_name = a->cfg.name;
	req.csr_pem.data = (uint8_t *)csr;
	req.csr_pem.len = strlen(csr);
	r = skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_JOIN, &req.base,
			      SKIFF_RPC_DEFAULT_TIMEOUT_MS, on_joined, s, NULL);
	if (r < 0)
		skiff_rpc_conn_close(conn);
}

static void session_join(struct session *s)
{
	struct agent *a = s->agent;
	char digest[65], secret[33];
	SSL_CTX *tls = NULL;
	int r = skiff_token_parse(a->cfg.token, digest, secret);
	if (r < 0) {
		log_error("--token is not a Skiff join token (SKIFF-1-<ca digest>-<secret>)");
		schedule_reconnect(s);
		return;
	}
	r = skiff_tls_client_ctx_pinned(digest, &tls);
	if (r < 0) {
		log_error_errno(r, "cannot make the join TLS context: %m");
		schedule_reconnect(s);
		return;
	}
	struct skiff_rpc_client_config cfg = {
		.server = a->cfg.server,
		.tls = tls,
		.on_close = on_join_close,
		.userdata = s,
	};
	s->joining = true;
	s->connecting = true;
	/* the connection's SSL holds its own reference to tls */
	r = skiff_rpc_connect(a->base, &cfg, on_join_connected, NULL);
	SSL_CTX_free(tls);
	if (r < 0) {
		s->joining = false;
		s->connecting = false;
		log_warn_errno(r, "cannot connect to %s: %m", a->cfg.server);
		schedule_reconnect(s);
	}
}

static void session_connect(struct session *s)
{
	struct agent *a = s->agent;
	if (s->conn || s->connecting)
		return;
	if (a->cfg.insecure) {
		log_warn("connecting to %s WITHOUT TLS (--insecure-plaintext)", a->cfg.server);
	} else if (!state_have_certs(a)) {
		if (!a->cfg.token) {
			log_error("no certificate in %s and no --token to join with",
				  a->cfg.state_dir);
			schedule_reconnect(s);
			return;
		}
		session_join(s);
		return;
	}
	if (!s->tls && !a->cfg.insecure) {
		_cleanup_free_ char *ca = NULL, *cert = NULL, *key = NULL;
		int r = state_load_certs(a, &ca, &cert, &key);
		struct skiff_cert_info info;
		if (r >= 0 && a->cfg.token && skiff_pki_cert_info(cert, &info) == 0 &&
		    info.not_after_ms <= skiff_now_ms()) {
			/* it expired while we were away: join again with the same key,
			 * which proves we are this node (no approval needed) */
			log_warn("the node certificate in %s expired; joining again with its key",
				 a->cfg.state_dir);
			session_join(s);
			return;
		}
		if (r >= 0)
			r = skiff_tls_client_ctx(ca, cert, key, &s->tls);
		if (r < 0) {
			log_error_errno(r, "cannot make the TLS context from %s/node.crt: %m",
					a->cfg.state_dir);
			schedule_reconnect(s);
			return;
		}
	}
	struct skiff_rpc_client_config cfg = {
		.server = a->cfg.server,
		.tls = s->tls,
		.insecure_plaintext = a->cfg.insecure,
		.handler = on_request,
		.on_close = on_close,
		.userdata = s,
	};
	s->connecting = true;
	int r = skiff_rpc_connect(a->base, &cfg, on_connected, NULL);
	if (r < 0) {
		s->connecting = false;
		log_warn_errno(r, "cannot connect to %s: %m", a->cfg.server);
		schedule_reconnect(s);
	}
}

int session_start(struct agent *a)
{
	struct session *s = xcalloc(1, sizeof(*s));
	s->agent = a;
	a->session = s;
	a->heartbeat_ms = 1000;
	if (a->cfg.token && !a->cfg.insecure && !state_have_certs(a)) {
		char digest[65], secret[33];
		if (skiff_token_parse(a->cfg.token, digest, secret) < 0)
			return log_error_errno(-EINVAL, "--token is not a Skiff join token "
							"(SKIFF-1-<64 hex>-<32 hex>)");
	}
	session_connect(s);
	return 0;
}

const struct agent_uplink session_uplink = {
	.send_status = session_send_status,
	.send_stopped = session_send_stopped,
	.send_event = session_send_event,
	.connected = session_connected,
	.talking = session_talking,
};
