/* rpc_test_server.c — a test RPC server on its own thread and event_base
 * (see rpc_test_server.h for what its handlers answer). */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "rpc_test_server.h"
#include "testlib.h"
#include "util.h"

struct delayed_reply {
	struct skiff_rpc_call *call;
	struct event *ev;
	Skiff__Heartbeat *hb;
	struct test_server *ts;
};

static void delayed_free(struct delayed_reply *d)
{
	event_free(d->ev);
	skiff__heartbeat__free_unpacked(d->hb, NULL);
	free(d);
}

static void delayed_fire(evutil_socket_t fd, short what, void *arg)
{
	struct delayed_reply *d = arg;
	(void)fd;
	(void)what;
	skiff_rpc_call_reply(d->call, &d->hb->base);
	delayed_free(d);
}

static void delayed_cancel(struct skiff_rpc_call *call, void *userdata)
{
	struct delayed_reply *d = userdata;
	(void)call;
	atomic_fetch_add(&d->ts->cancels, 1);
	delayed_free(d);
}

struct streamer {
	struct skiff_rpc_call *call;
	struct event *ev;
	int64_t sent, max;
	struct test_server *ts;
};

static void streamer_tick(evutil_socket_t fd, short what, void *arg)
{
	struct streamer *st = arg;
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	(void)fd;
	(void)what;
	hb.time_ms = ++st->sent;
	hb.node = (char *)"item";
	skiff_rpc_call_stream(st->call, &hb.base);
	if (st->max > 0 && st->sent >= st->max) {
		skiff_rpc_call_end(st->call, 0, NULL);
		event_free(st->ev);
		free(st);
	}
}

static void streamer_cancel(struct skiff_rpc_call *call, void *userdata)
{
	struct streamer *st = userdata;
	(void)call;
	atomic_fetch_add(&st->ts->cancels, 1);
	event_free(st->ev);
	free(st);
}

/* Blocks the loop 150 ms per step, each step in its own loop iteration. */
struct blocker {
	struct event *ev;
	int64_t left;
	int64_t step_ms;
};

static void blocker_step(evutil_socket_t fd, short what, void *arg)
{
	struct blocker *b = arg;
	struct timeval now = { 0, 0 };
	(void)fd;
	(void)what;
	usleep((useconds_t)b->step_ms * 1000);
	if (--b->left > 0) {
		evtimer_add(b->ev, &now);
		return;
	}
	event_free(b->ev);
	free(b);
}

/* When set, MSG_JOIN is served as the brain does: token checked, CSR signed
 * with CN = node name and OU = node. */
struct skiff_ca *test_join_ca;
const char *test_join_token;

static void test_join(struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	Skiff__JoinRequest *jr =
	    skiff__join_request__unpack(NULL, req->payload.len, req->payload.data);
	Skiff__JoinResponse resp = SKIFF__JOIN_RESPONSE__INIT;
	char *csr = NULL, *crt = NULL;

	if (!jr) {
		skiff_rpc_call_error(call, -EINVAL, "JoinRequest does not unpack");
		return;
	}
	if (!skiff_token_equal(jr->token, test_join_token)) {
		skiff_rpc_call_error(call, -EACCES, "join refused for node '%s': wrong join token",
				     jr->node_name);
	} else {
		csr = xstrndup((const char *)jr->csr_pem.data, jr->csr_pem.len);
		if (skiff_ca_sign_csr(test_join_ca, csr, jr->node_name, SKIFF_ROLE_NODE, 30, &crt) <
		    0) {
			skiff_rpc_call_error(call, -EINVAL, "bad CSR");
		} else {
			resp.cert_pem.data = (uint8_t *)crt;
			resp.cert_pem.len = strlen(crt);
			resp.ca_pem.data = (uint8_t *)skiff_ca_cert_pem(test_join_ca);
			resp.ca_pem.len = strlen(skiff_ca_cert_pem(test_join_ca));
			skiff_rpc_call_reply(call, &resp.base);
		}
	}
	free(csr);
	free(crt);
	skiff__join_request__free_unpacked(jr, NULL);
}

void test_server_handler(struct skiff_rpc_call *call, const Skiff__Frame *req, void *userdata)
{
	struct test_server *ts = userdata;
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	Skiff__Heartbeat *hb;

	atomic_fetch_add(&ts->requests, 1);
	snprintf(ts->last_peer_role, sizeof(ts->last_peer_role), "%s", peer->role);
	snprintf(ts->last_peer_name, sizeof(ts->last_peer_name), "%s", peer->name);
	switch (req->type) {
	case SKIFF__MSG_TYPE__MSG_TEST_ECHO: {
		hb = skiff__heartbeat__unpack(NULL, req->payload.len, req->payload.data);
		if (!hb) {
			skiff_rpc_call_error(call, -EINVAL, "bad Heartbeat payload");
			return;
		}
		if (streq(hb->node, "block")) {
			usleep((useconds_t)hb->time_ms * 1000);
			skiff_rpc_call_reply(call, &hb->base);
			skiff__heartbeat__free_unpacked(hb, NULL);
			return;
		}
		if (streq(hb->node, "block-steps")) {
			struct blocker *b = xcalloc(1, sizeof(*b));
			b->step_ms = hb->epoch > 0 ? (int64_t)hb->epoch : 150;
			b->left = hb->time_ms / b->step_ms;
			b->ev = evtimer_new(ts->base, blocker_step, b);
			struct timeval now = { 0, 0 };
			evtimer_add(b->ev, &now);
			skiff_rpc_call_reply(call, &hb->base);
			skiff__heartbeat__free_unpacked(hb, NULL);
			return;
		}
		struct delayed_reply *d = xcalloc(1, sizeof(*d));
		d->call = call;
		d->hb = hb;
		d->ts = ts;
		d->ev = evtimer_new(ts->base, delayed_fire, d);
		skiff_rpc_call_set_cancel(call, delayed_cancel, d);
		if (streq(hb->node, "never"))
			return;
		struct timeval tv = { hb->time_ms / 1000, (hb->time_ms % 1000) * 1000 };
		evtimer_add(d->ev, &tv);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_TEST_STREAM: {
		hb = skiff__heartbeat__unpack(NULL, req->payload.len, req->payload.data);
		struct streamer *st = xcalloc(1, sizeof(*st));
		struct timeval tv = { 0, 5000 };
		st->call = call;
		st->ts = ts;
		st->max = hb ? hb->time_ms : 0;
		skiff__heartbeat__free_unpacked(hb, NULL);
		st->ev = event_new(ts->base, -1, EV_PERSIST, streamer_tick, st);
		skiff_rpc_call_set_cancel(call, streamer_cancel, st);
		event_add(st->ev, &tv);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_JOIN:
		if (test_join_ca) {
			test_join(call, req);
			return;
		}
		skiff_rpc_call_reply(call, NULL);
		return;
	case SKIFF__MSG_TYPE__MSG_GET:
		skiff_rpc_call_error(call, -ENOENT, "pod '%s' not found", "web-1");
		return;
	default:
		skiff_rpc_call_reply(call, NULL);
	}
}

static void test_on_close(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	struct test_server *ts = userdata;
	(void)conn;
	atomic_store(&ts->last_close_reason, reason);
	atomic_fetch_add(&ts->closes, 1);
}

static void test_server_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void *test_server_main(void *arg)
{
	struct test_server *ts = arg;
	event_base_dispatch(ts->base);
	return NULL;
}

/* As the brain does: the application logs refusals (lib/rpc at debug). */
static void test_on_refused(const char *addr, const char *why, void *userdata)
{
	(void)userdata;
	log_warn("refused client %s: %s", addr, why);
}

/* The edge settings of the next test_server_start() (0: the defaults). */
struct skiff_rpc_server_config test_server_edge;

struct test_server *test_server_start(SSL_CTX *tls, int keepalive_ms)
{
	struct test_server *ts = xcalloc(1, sizeof(*ts));
	struct skiff_rpc_server_config cfg = {
		.listen = "127.0.0.1:0",
		.tls = tls,
		.insecure_plaintext = tls == NULL,
		.keepalive_ms = keepalive_ms,
		.handler = test_server_handler,
		.on_close = test_on_close,
		.on_refused = test_on_refused,
		.userdata = ts,
		.max_conns = test_server_edge.max_conns,
		.max_unauth = test_server_edge.max_unauth,
		.max_unauth_per_addr = test_server_edge.max_unauth_per_addr,
		.handshake_timeout_ms = test_server_edge.handshake_timeout_ms,
		.first_frame_timeout_ms = test_server_edge.first_frame_timeout_ms,
	};

	ts->base = event_base_new();
	ck_assert_int_eq(skiff_rpc_server_new(ts->base, &cfg, &ts->rpc), 0);
	ts->port = skiff_rpc_server_port(ts->rpc);
	ck_assert_int_gt(ts->port, 0);
	snprintf(ts->addr, sizeof(ts->addr), "127.0.0.1:%d", ts->port);
	ck_assert_int_eq(pipe(ts->stop_pipe), 0);
	ts->stop_ev = event_new(ts->base, ts->stop_pipe[0], EV_READ, test_server_stop_cb, ts->base);
	event_add(ts->stop_ev, NULL);
	ck_assert_int_eq(pthread_create(&ts->thread, NULL, test_server_main, ts), 0);
	return ts;
}

void test_server_stop(struct test_server *ts)
{
	ck_assert_int_eq(write(ts->stop_pipe[1], "x", 1), 1);
	pthread_join(ts->thread, NULL);
	skiff_rpc_server_free(ts->rpc);
	event_free(ts->stop_ev);
	event_base_free(ts->base);
	close(ts->stop_pipe[0]);
	close(ts->stop_pipe[1]);
	free(ts);
}
