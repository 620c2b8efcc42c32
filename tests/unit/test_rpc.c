/* test_rpc.c — RPC connections over real sockets on 127.0.0.1 (plaintext;
 * test_tls.c covers TLS): concurrent requests answered out of order, streams
 * and their cancellation, timeouts, unknown types, a server dying mid-frame,
 * keepalive dropping a silent peer, bad frames closing one connection only,
 * requests from the server to the client. */
#include "rpc_test_server.h"

#include <stdlib.h>

#include "cleanup.h"
#include "log.h"
#include "testlib.h"

static int raw_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read one frame (blocking, up to ms). Returns 1 with *ret, 0 on EOF, -ETIMEDOUT. */
static int raw_read_frame(int fd, int ms, Skiff__Frame **ret)
{
	static uint8_t buf[65536];
	static size_t have;
	int64_t end = skiff_mono_ms() + ms;

	for (;;) {
		size_t consumed = 0;
		int r = skiff_frame_decode_any(buf, have, SKIFF_RPC_MAX_FRAME, ret, &consumed);
		ck_assert_int_ge(r, 0);
		if (r == 1) {
			memmove(buf, buf + consumed, have - consumed);
			have -= consumed;
			return 1;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - skiff_mono_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -ETIMEDOUT;
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0) {
			have = 0;
			return 0;
		}
		have += (size_t)n;
	}
}

static void raw_write_frame(int fd, uint64_t id, int type, uint32_t flags)
{
	Skiff__Frame f = SKIFF__FRAME__INIT;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	f.id = id;
	f.type = (Skiff__MsgType)type;
	f.flags = flags;
	ck_assert_int_eq(skiff_frame_encode(&f, &buf, &len), 0);
	ck_assert_int_eq(skiff_write_full(fd, buf, len), 0);
}

static struct skiff_rpc_sync *sync_connect(struct test_server *ts)
{
	struct skiff_rpc_client_config cfg = { .server = ts->addr, .insecure_plaintext = true };
	struct skiff_rpc_sync *s = NULL;
	char *err = NULL;

	ck_assert_msg(skiff_rpc_sync_connect(&cfg, &s, &err) == 0, "connect: %s", err);
	return s;
}

/* ---- concurrency --------------------------------------------------------- */

struct echo_result {
	int err;
	int64_t got;
	int order;
	bool done;
};
static int answered;

static void echo_cb(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		    const Skiff__Frame *frame, void *userdata)
{
	struct echo_result *res = userdata;
	(void)conn;
	(void)errmsg;
	res->err = err;
	res->done = true;
	res->order = answered++;
	if (err == 0) {
		Skiff__Heartbeat *hb =
		    skiff__heartbeat__unpack(NULL, frame->payload.len, frame->payload.data);
		ck_assert_ptr_nonnull(hb);
		res->got = hb->epoch;
		skiff__heartbeat__free_unpacked(hb, NULL);
	}
}

static void connected_cb(struct skiff_rpc_conn *conn, int err, const char *errmsg, void *userdata)
{
	int *state = userdata;
	ck_assert_msg(err == 0, "connect failed: %s", errmsg);
	ck_assert_ptr_nonnull(conn);
	*state = 1;
}

TEST(test_concurrent_out_of_order)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct event_base *base = event_base_new();
	int connected = 0;
	struct skiff_rpc_client_config cfg = { .server = ts->addr,
					       .insecure_plaintext = true,
					       .userdata = &connected };
	struct skiff_rpc_conn *conn = NULL;
	struct echo_result res[40] = { 0 };
	int n = (int)ARRAY_SIZE(res);

	answered = 0;
	ck_assert_int_eq(skiff_rpc_connect(base, &cfg, connected_cb, &conn), 0);
	/* requests may be queued before the connection is up */
	for (int i = 0; i < n; i++) {
		Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
		hb.node = (char *)"echo";
		hb.epoch = (uint64_t)i + 1000;
		hb.time_ms = (n - i) * 5; /* later requests are answered first */
		ck_assert_int_eq(skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_TEST_ECHO, &hb.base,
						   5000, echo_cb, &res[i], NULL),
				 0);
	}
	ck_assert(LOOP_UNTIL(base, answered == n, 5000));
	ck_assert_int_eq(connected, 1);
	int inversions = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(res[i].err, 0);
		ck_assert_int_eq(res[i].got, i + 1000); /* each answer went to its own request */
		for (int j = i + 1; j < n; j++)
			inversions += res[i].order > res[j].order;
	}
	/* answered (nearly) in reverse order of asking; a loaded machine may
	 * let a few neighbours swap, hence not exactly n*(n-1)/2 */
	ck_assert_int_gt(inversions, n * (n - 1) / 2 * 9 / 10);
	ck_assert_int_gt(res[0].order, res[n - 1].order);
	skiff_rpc_conn_close(conn);
	event_base_free(base);
	test_server_stop(ts);
}
END_TEST

/* ---- streams ------------------------------------------------------------- */

static int count_items(const Skiff__Frame *item, void *userdata)
{
	int *n = userdata;
	Skiff__Heartbeat *hb =
	    skiff__heartbeat__unpack(NULL, item->payload.len, item->payload.data);
	ck_assert_ptr_nonnull(hb);
	ck_assert_int_eq(hb->time_ms, *n + 1); /* in order */
	skiff__heartbeat__free_unpacked(hb, NULL);
	(*n)++;
	return *n >= 100 ? -ECANCELED : 0;
}

TEST(test_stream_to_end)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct skiff_rpc_sync *s = sync_connect(ts);
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	char *err = NULL;
	int n = 0;

	hb.time_ms = 5;
	ck_assert_int_eq(skiff_rpc_sync_stream(s, SKIFF__MSG_TYPE__MSG_TEST_STREAM, &hb.base,
					       count_items, &n, &err),
			 0);
	ck_assert_int_eq(n, 5);
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

static int stop_after_three(const Skiff__Frame *item, void *userdata)
{
	int *n = userdata;
	(void)item;
	return ++(*n) == 3 ? -EINTR : 0;
}

TEST(test_stream_cancel)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct skiff_rpc_sync *s = sync_connect(ts);
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	Skiff__Frame *reply = NULL;
	char *err = NULL;
	int n = 0;

	hb.time_ms = 0; /* endless */
	ck_assert_int_eq(skiff_rpc_sync_stream(s, SKIFF__MSG_TYPE__MSG_TEST_STREAM, &hb.base,
					       stop_after_three, &n, &err),
			 -EINTR);
	ck_assert_int_eq(n, 3);
	/* the server saw the cancel and stopped producing */
	ck_assert(WAIT_FOR(atomic_load(&ts->cancels) == 1, 2000));
	/* the connection is still good */
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_LIST, NULL, 2000, &reply, &err), 0);
	ck_assert_uint_eq(reply->flags, SKIFF__FRAME_FLAG__FLAG_REPLY);
	skiff__frame__free_unpacked(reply, NULL);
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

/* Async: cancel from the requester side gives one last -ECANCELED. */
struct stream_state {
	int items, final_err, finals;
	uint64_t id;
};

static void stream_cb(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		      const Skiff__Frame *frame, void *userdata)
{
	struct stream_state *st = userdata;
	(void)errmsg;
	if (err == 0 && (frame->flags & SKIFF__FRAME_FLAG__FLAG_STREAM)) {
		if (++st->items == 4)
			ck_assert_int_eq(skiff_rpc_cancel(conn, st->id), 0);
		return;
	}
	st->final_err = err;
	st->finals++;
}

TEST(test_stream_cancel_async)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct event_base *base = event_base_new();
	int connected = 0;
	struct skiff_rpc_client_config cfg = { .server = ts->addr,
					       .insecure_plaintext = true,
					       .userdata = &connected };
	struct skiff_rpc_conn *conn = NULL;
	struct stream_state st = { 0 };

	ck_assert_int_eq(skiff_rpc_connect(base, &cfg, connected_cb, &conn), 0);
	ck_assert_int_eq(skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_TEST_STREAM, NULL, 0,
					   stream_cb, &st, &st.id),
			 0);
	ck_assert(LOOP_UNTIL(base, st.finals == 1, 3000));
	ck_assert_int_eq(connected, 1);
	ck_assert_int_eq(st.final_err, -ECANCELED);
	ck_assert_int_eq(st.items, 4);
	ck_assert(LOOP_UNTIL(base, atomic_load(&ts->cancels) == 1, 2000));
	/* items still in flight are dropped, never delivered after the cancel */
	LOOP_UNTIL(base, false, 50);
	ck_assert_int_eq(st.items, 4);
	ck_assert_int_eq(st.finals, 1);
	ck_assert_int_eq(skiff_rpc_cancel(conn, st.id), -ENOENT);
	skiff_rpc_conn_close(conn);
	event_base_free(base);
	test_server_stop(ts);
}
END_TEST

/* ---- errors and timeouts -------------------------------------------------- */

TEST(test_timeout)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct skiff_rpc_sync *s = sync_connect(ts);
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	Skiff__Frame *reply = NULL;
	char *err = NULL;

	hb.node = (char *)"never";
	int64_t t0 = skiff_mono_ms();
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_TEST_ECHO, &hb.base, 150, &reply, &err),
	    -ETIMEDOUT);
	int64_t took = skiff_mono_ms() - t0;
	ck_assert_int_ge(took, 140);
	ck_assert_int_lt(took, 1500);
	ck_assert_ptr_null(reply);
	ck_assert_msg(strstr(err, "MSG_TEST_ECHO") && strstr(err, "timed out after 150 ms"),
		      "errmsg: %s", err);
	free(err);
	/* the requester told the server to give up on it */
	ck_assert(WAIT_FOR(atomic_load(&ts->cancels) == 1, 2000));
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

TEST(test_error_reply_and_unknown_type)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct skiff_rpc_sync *s = sync_connect(ts);
	Skiff__Frame *reply = NULL;
	char *err = NULL;

	ck_assert_int_eq(skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_GET, NULL, 2000, &reply, &err),
			 -ENOENT);
	ck_assert_str_eq(err, "pod 'web-1' not found");
	free(err);
	err = NULL;
	ck_assert_int_eq(skiff_rpc_sync_call(s, (Skiff__MsgType)77, NULL, 2000, &reply, &err),
			 -EPROTONOSUPPORT);
	ck_assert_str_eq(err, "unknown message type 77");
	free(err);
	/* neither reached the handler as something else, and the conn survives */
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_LIST, NULL, 2000, &reply, &err), 0);
	skiff__frame__free_unpacked(reply, NULL);
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

TEST(test_connect_refused)
{
	struct test_server *ts = test_server_start(NULL, 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "%s", ts->addr);
	test_server_stop(ts); /* the port is now closed */

	struct skiff_rpc_client_config cfg = { .server = addr, .insecure_plaintext = true };
	struct skiff_rpc_sync *s = NULL;
	char *err = NULL;
	ck_assert_int_eq(skiff_rpc_sync_connect(&cfg, &s, &err), -ECONNREFUSED);
	ck_assert_msg(strstr(err, addr) && strstr(err, "refused"), "errmsg: %s", err);
	free(err);

	/* no TLS context and no insecure flag: refused up front */
	cfg.insecure_plaintext = false;
	ck_assert_int_eq(skiff_rpc_sync_connect(&cfg, &s, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "insecure_plaintext"));
	free(err);
}
END_TEST

/* ---- peers misbehaving ---------------------------------------------------- */

struct fake_server {
	int listen_fd;
	int port;
};

static void *fake_server_main(void *arg)
{
	struct fake_server *fs = arg;
	int fd = accept(fs->listen_fd, NULL, NULL);
	Skiff__Frame *f = NULL;
	uint8_t partial[6] = { 0, 0, 0, 40, 0x08, 0x01 }; /* 40 bytes announced, 2 sent */

	raw_write_frame(fd, 0, SKIFF__MSG_TYPE__MSG_PING, SKIFF__FRAME_FLAG__FLAG_REQUEST);
	/* wait for the client's request (skipping its keepalive answers) */
	while (raw_read_frame(fd, 2000, &f) == 1) {
		bool req = f->type == SKIFF__MSG_TYPE__MSG_TEST_ECHO;
		skiff__frame__free_unpacked(f, NULL);
		if (req)
			break;
	}
	skiff_write_full(fd, partial, sizeof(partial));
	usleep(20000);
	close(fd);
	return NULL;
}

static int close_reason = 1;
static void record_close(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	(void)conn;
	(void)userdata;
	close_reason = reason;
}

TEST(test_server_dies_mid_frame)
{
	struct fake_server fs;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	pthread_t th;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fs.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fs.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fs.listen_fd, 1), 0);
	getsockname(fs.listen_fd, (struct sockaddr *)&sa, &sl);
	fs.port = ntohs(sa.sin_port);
	pthread_create(&th, NULL, fake_server_main, &fs);

	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fs.port);
	struct event_base *base = event_base_new();
	int connected = 0;
	struct skiff_rpc_client_config cfg = { .server = addr,
					       .insecure_plaintext = true,
					       .on_close = record_close,
					       .userdata = &connected };
	struct skiff_rpc_conn *conn = NULL;
	struct echo_result res = { 0 };
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;

	close_reason = 1;
	ck_assert_int_eq(skiff_rpc_connect(base, &cfg, connected_cb, &conn), 0);
	ck_assert_int_eq(skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_TEST_ECHO, &hb.base, 5000,
					   echo_cb, &res, NULL),
			 0);
	ck_assert(LOOP_UNTIL(base, res.done, 3000));
	ck_assert_int_eq(connected, 1);
	ck_assert_int_eq(res.err, -ECONNRESET);
	ck_assert(LOOP_UNTIL(base, close_reason != 1, 1000));
	ck_assert_int_eq(close_reason, -ECONNRESET);
	pthread_join(th, NULL);
	close(fs.listen_fd);
	event_base_free(base);
}
END_TEST

/* The other direction: a client vanishes mid-frame while the server is
 * still working on its request; the server's cancel callback runs. */
TEST(test_client_vanishes_mid_frame)
{
	struct test_server *ts = test_server_start(NULL, 0);
	int fd = raw_connect(ts->port);
	Skiff__Frame f = SKIFF__FRAME__INIT;
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	uint8_t payload[64], *buf = NULL;
	size_t len = 0;

	hb.node = (char *)"never";
	f.id = 1;
	f.type = SKIFF__MSG_TYPE__MSG_TEST_ECHO;
	f.flags = SKIFF__FRAME_FLAG__FLAG_REQUEST;
	f.payload.data = payload;
	f.payload.len = skiff__heartbeat__pack(&hb, payload);
	ck_assert_int_eq(skiff_frame_encode(&f, &buf, &len), 0);
	ck_assert_int_eq(skiff_write_full(fd, buf, len), 0);
	ck_assert(WAIT_FOR(atomic_load(&ts->requests) == 1, 2000));
	/* half of a second request, then gone */
	ck_assert_int_eq(skiff_write_full(fd, buf, len / 2), 0);
	free(buf);
	usleep(20000);
	close(fd);
	ck_assert(WAIT_FOR(atomic_load(&ts->cancels) == 1, 2000));
	ck_assert(WAIT_FOR(atomic_load(&ts->closes) == 1, 2000));
	ck_assert_int_eq(atomic_load(&ts->last_close_reason), -ECONNRESET);
	test_server_stop(ts);
}
END_TEST

TEST(test_keepalive_drops_silent_peer)
{
	struct test_server *ts = test_server_start(NULL, 100);
	int fd = raw_connect(ts->port);
	Skiff__Frame *f = NULL;
	int frames = 0, r;

	int64_t t0 = skiff_mono_ms();
	/* the silent peer only ever receives: greeting and keepalive pings */
	while ((r = raw_read_frame(fd, 3000, &f)) == 1) {
		ck_assert_int_eq(f->type, SKIFF__MSG_TYPE__MSG_PING);
		skiff__frame__free_unpacked(f, NULL);
		frames++;
	}
	int64_t took = skiff_mono_ms() - t0;
	ck_assert_int_eq(r, 0); /* closed by the server, not our timeout */
	ck_assert_int_ge(frames, 2);
	ck_assert_int_ge(took, 280);
	ck_assert_int_lt(took, 3000);
	ck_assert(WAIT_FOR(atomic_load(&ts->closes) == 1, 1000));
	ck_assert_int_eq(atomic_load(&ts->last_close_reason), -ETIMEDOUT);
	close(fd);

	/* a peer that answers pings stays connected well past 3 intervals */
	int connected = 0;
	struct skiff_rpc_client_config cfg = { .server = ts->addr,
					       .insecure_plaintext = true,
					       .keepalive_ms = 100,
					       .userdata = &connected };
	struct event_base *base = event_base_new();
	struct skiff_rpc_conn *conn = NULL;
	close_reason = 1;
	cfg.on_close = record_close;
	ck_assert_int_eq(skiff_rpc_connect(base, &cfg, connected_cb, &conn), 0);
	LOOP_UNTIL(base, false, 600);
	ck_assert_int_eq(connected, 1);
	ck_assert_int_eq(close_reason, 1);
	ck_assert_int_eq(atomic_load(&ts->closes), 1);
	skiff_rpc_conn_close(conn);
	ck_assert_int_eq(close_reason, 0);
	event_base_free(base);
	test_server_stop(ts);
}
END_TEST

/* The blocking client does not run its loop between calls; that pause is
 * not the server's silence. */
TEST(test_keepalive_idle_sync_client)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct skiff_rpc_client_config cfg = { .server = ts->addr,
					       .insecure_plaintext = true,
					       .keepalive_ms = 100 };
	struct skiff_rpc_sync *s = NULL;
	Skiff__Frame *reply = NULL;
	char *err = NULL;

	ck_assert_int_eq(skiff_rpc_sync_connect(&cfg, &s, &err), 0);
	usleep(500 * 1000);
	ck_assert_msg(skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_LIST, NULL, 2000, &reply, &err) ==
			  0,
		      "call after idle: %s", err);
	skiff__frame__free_unpacked(reply, NULL);
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

/* A busy server (its loop blocked by a long handler, or by a run of long
 * callbacks) must not take a client whose pings were waiting in its socket
 * for a silent one. */
static void ignore_reply(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			 const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	(void)err;
	(void)errmsg;
	(void)frame;
	(void)userdata;
}

static void chatter_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	skiff_rpc_request(arg, SKIFF__MSG_TYPE__MSG_LIST, NULL, 0, ignore_reply, NULL, NULL);
}

TEST(test_keepalive_busy_server_keeps_talking_peer)
{
	/* server: keepalive 100 ms (a peer silent for 300 ms is dropped) */
	struct test_server *ts = test_server_start(NULL, 100);
	int connected = 0;
	/* the client tolerates the server's stalls (its own keepalive 10 s) */
	struct skiff_rpc_client_config cfg = { .server = ts->addr,
					       .insecure_plaintext = true,
					       .keepalive_ms = 10000,
					       .on_close = record_close,
					       .userdata = &connected };
	struct event_base *base = event_base_new();
	struct skiff_rpc_conn *conn = NULL;
	static const struct {
		const char *node;
		int ms;
	} stalls[] = { { "block", 150 },  { "block", 250 },	  { "block", 450 },
		       { "block", 1000 }, { "block-steps", 900 }, { "block-steps", 1500 } };

	close_reason = 1;
	ck_assert_int_eq(skiff_rpc_connect(base, &cfg, connected_cb, &conn), 0);
	ck_assert(LOOP_UNTIL(base, connected == 1, 2000));
	/* a request every 20 ms, whatever the server is doing */
	struct event *chatter = event_new(base, -1, EV_PERSIST, chatter_cb, conn);
	struct timeval every = { 0, 20 * 1000 };
	event_add(chatter, &every);
	for (size_t i = 0; i < sizeof(stalls) / sizeof(stalls[0]); i++) {
		Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
		struct echo_result res = { 0 };
		hb.node = (char *)stalls[i].node;
		hb.time_ms = stalls[i].ms;
		ck_assert_int_eq(skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_TEST_ECHO, &hb.base,
						   5000, echo_cb, &res, NULL),
				 0);
		ck_assert(LOOP_UNTIL(base, res.done, 5000));
		ck_assert_msg(res.err == 0, "%s %d ms: %d", stalls[i].node, stalls[i].ms, res.err);
		/* let the server's loop run past the stall (steps still going) */
		LOOP_UNTIL(base, close_reason != 1, (int)stalls[i].ms + 300);
		ck_assert_msg(atomic_load(&ts->closes) == 0,
			      "busy %s %d ms: the server dropped a talking peer (reason %d)",
			      stalls[i].node, stalls[i].ms, atomic_load(&ts->last_close_reason));
		ck_assert_int_eq(close_reason, 1);
	}
	event_free(chatter);

	/* a truly silent peer is still dropped after a stall: the client asks
	 * for a 450 ms stall, then stops running its loop (no chatter, no
	 * answers to the server's pings) */
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	struct echo_result res = { 0 };
	hb.node = (char *)"block";
	hb.time_ms = 450;
	ck_assert_int_eq(skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_TEST_ECHO, &hb.base, 5000,
					   echo_cb, &res, NULL),
			 0);
	LOOP_UNTIL(base, false, 30);
	int64_t t0 = skiff_mono_ms();
	ck_assert(WAIT_FOR(atomic_load(&ts->closes) == 1, 3000));
	ck_assert_int_eq(atomic_load(&ts->last_close_reason), -ETIMEDOUT);
	ck_assert_int_ge(skiff_mono_ms() - t0, 450 + 250);
	ck_assert(LOOP_UNTIL(base, close_reason != 1, 2000));
	event_base_free(base);
	test_server_stop(ts);
}
END_TEST

static void bad_frame_closes_only_that_conn(const uint8_t *bytes, size_t len, int want_code,
					    const char *want_msg)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct skiff_rpc_sync *good = sync_connect(ts);
	int fd = raw_connect(ts->port);
	Skiff__Frame *f = NULL, *reply = NULL;
	char *err = NULL;
	int r;

	ck_assert_int_eq(raw_read_frame(fd, 2000, &f), 1); /* greeting */
	skiff__frame__free_unpacked(f, NULL);
	ck_assert_int_eq(skiff_write_full(fd, bytes, len), 0);
	/* an Error frame saying why, then the end of the connection */
	bool got_error = false;
	while ((r = raw_read_frame(fd, 3000, &f)) == 1) {
		if (f->error) {
			ck_assert_int_eq(f->error->code, want_code);
			ck_assert_msg(strstr(f->error->message, want_msg), "error: %s",
				      f->error->message);
			got_error = true;
		}
		skiff__frame__free_unpacked(f, NULL);
	}
	ck_assert_int_eq(r, 0);
	ck_assert(got_error);
	close(fd);
	/* the other connection is untouched */
	ck_assert_int_eq(
	    skiff_rpc_sync_call(good, SKIFF__MSG_TYPE__MSG_LIST, NULL, 2000, &reply, &err), 0);
	skiff__frame__free_unpacked(reply, NULL);
	skiff_rpc_sync_free(good);
	test_server_stop(ts);
}

TEST(test_garbage_frame)
{
	uint8_t garbage[64];
	memset(garbage, 0xff, sizeof(garbage));
	garbage[0] = garbage[1] = garbage[2] = 0;
	garbage[3] = 60;
	bad_frame_closes_only_that_conn(garbage, sizeof(garbage), EBADMSG, "malformed frame");
}
END_TEST

TEST(test_oversized_frame)
{
	const uint8_t prefix[4] = { 0x00, 0x50, 0x00, 0x00 }; /* 5 MiB */
	bad_frame_closes_only_that_conn(prefix, sizeof(prefix), EMSGSIZE,
					"frame of 5242880 bytes exceeds the 4194304-byte limit");
}
END_TEST

/* Well-formed frames with random flags, ids, types, payloads and errors, as a
 * confused or hostile peer might send: the server never crashes, and a good
 * client is served throughout. */
TEST(test_random_frames)
{
	struct test_server *ts = test_server_start(NULL, 0);
	struct skiff_rpc_sync *good = sync_connect(ts);
	const int types[] = { 0, 1, 2, 3, 20, 22, 24, 26, 77, 100, 101, -5 };
	unsigned seed = 4242;
	Skiff__Frame *reply = NULL;
	char *err = NULL;

	for (int round = 0; round < 40; round++) {
		int fd = raw_connect(ts->port);
		for (int k = 0; k < 20; k++) {
			Skiff__Frame f = SKIFF__FRAME__INIT;
			Skiff__Error e = SKIFF__ERROR__INIT;
			uint8_t payload[32], *buf = NULL;
			size_t len = 0;

			f.id = (uint64_t)(rand_r(&seed) % 4);
			f.type = (Skiff__MsgType)types[rand_r(&seed) % (int)ARRAY_SIZE(types)];
			f.flags = (uint32_t)(rand_r(&seed) % 64);
			f.version = (uint32_t)(rand_r(&seed) % 3);
			f.payload.len = (size_t)(rand_r(&seed) % (int)sizeof(payload));
			for (size_t i = 0; i < f.payload.len; i++)
				payload[i] = (uint8_t)rand_r(&seed);
			f.payload.data = payload;
			if (rand_r(&seed) % 4 == 0) {
				e.code = rand_r(&seed) % 200 - 20;
				e.message = (char *)"random";
				f.error = &e;
			}
			ck_assert_int_eq(skiff_frame_encode(&f, &buf, &len), 0);
			/* the peer may already have closed on us: that is fine */
			(void)send(fd, buf, len, MSG_NOSIGNAL);
			free(buf);
		}
		if (round % 2)
			usleep(2000);
		close(fd);
	}
	ck_assert_int_eq(
	    skiff_rpc_sync_call(good, SKIFF__MSG_TYPE__MSG_LIST, NULL, 2000, &reply, &err), 0);
	skiff__frame__free_unpacked(reply, NULL);
	skiff_rpc_sync_free(good);
	test_server_stop(ts);
}
END_TEST

/* ---- the server asking the client ---------------------------------------- */

static void client_handler(struct skiff_rpc_call *call, const Skiff__Frame *req, void *userdata)
{
	int *seen = userdata;
	if (req->flags & SKIFF__FRAME_FLAG__FLAG_ONEWAY) {
		ck_assert_int_eq(req->type, SKIFF__MSG_TYPE__MSG_ASSIGN);
		(*seen)++;
		return;
	}
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	hb.node = (char *)"agent-answer";
	skiff_rpc_call_reply(call, &hb.base);
}

static atomic_int server_got_answer;
static void server_answer_cb(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			     const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	(void)errmsg;
	(void)userdata;
	if (err == 0) {
		Skiff__Heartbeat *hb =
		    skiff__heartbeat__unpack(NULL, frame->payload.len, frame->payload.data);
		if (hb && streq(hb->node, "agent-answer"))
			atomic_store(&server_got_answer, 1);
		skiff__heartbeat__free_unpacked(hb, NULL);
	}
}

static void server_push_on_accept(struct skiff_rpc_conn *conn, void *userdata)
{
	Skiff__Assignment a = SKIFF__ASSIGNMENT__INIT;
	(void)userdata;
	a.epoch = 7;
	ck_assert_int_eq(skiff_rpc_send_oneway(conn, SKIFF__MSG_TYPE__MSG_ASSIGN, &a.base), 0);
	ck_assert_int_eq(skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_AGENT_LOGS, NULL, 2000,
					   server_answer_cb, NULL, NULL),
			 0);
}

TEST(test_server_requests_client)
{
	struct event_base *sbase = event_base_new();
	struct skiff_rpc_server *srv = NULL;
	struct skiff_rpc_server_config scfg = { .listen = "127.0.0.1:0",
						.insecure_plaintext = true,
						.handler = test_server_handler,
						.on_accept = server_push_on_accept };
	atomic_store(&server_got_answer, 0);
	/* client and server on one loop, as a daemon talking to itself would */
	ck_assert_int_eq(skiff_rpc_server_new(sbase, &scfg, &srv), 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", skiff_rpc_server_port(srv));
	int seen = 0;
	struct skiff_rpc_client_config cfg = { .server = addr,
					       .insecure_plaintext = true,
					       .handler = client_handler,
					       .userdata = &seen };
	struct skiff_rpc_conn *conn = NULL;
	ck_assert_int_eq(skiff_rpc_connect(sbase, &cfg, NULL, &conn), 0);
	ck_assert(LOOP_UNTIL(sbase, seen == 1 && atomic_load(&server_got_answer), 3000));
	/* closing the server closes its side; the client sees the end */
	skiff_rpc_server_free(srv);
	skiff_rpc_conn_close(conn);
	event_base_free(sbase);
}
END_TEST

TEST_SUITE(.timeout = 10);
