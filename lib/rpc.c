/* rpc.c — RPC connections, server and client on a libevent loop.
 *
 * A connection reads into an evbuffer and pulls up a frame only once all of
 * it has arrived (the length prefix is checked against the cap first). Frames
 * are requests (FLAG_REQUEST, FLAG_ONEWAY, FLAG_CANCEL: the peer's ids) or
 * answers (FLAG_REPLY, FLAG_STREAM, FLAG_END: our ids), so both sides may ask
 * at once. The server greets every new connection with a MSG_PING; the client
 * counts as connected when that first frame arrives, which also makes a TLS
 * 1.3 server's late refusal of our certificate show up as a connect error.
 *
 * Re-entrancy: user callbacks may close the connection or answer calls from
 * anywhere. Every entry from the loop holds a reference (depth); a closed
 * connection is freed when the last one is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "util.h"

#define MAX_CALLS_PER_CONN 4096
#define MAX_OUTPUT_BYTES   (64u << 20)
#define DRAIN_TIMEOUT_MS   1000
#define DEFAULT_CONNECT_MS 5000
#define TLS_SUITES_HINT                                                                            \
	"Skiff speaks TLS 1.3, or TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305"
#define FLAG(x) ((uint32_t)SKIFF__FRAME_FLAG__FLAG_##x)

enum conn_state {
	CONN_CONNECTING, /* client: until the server's first frame; server: TLS handshake
			    (with conn->bev NULL until the client's first bytes) */
	CONN_OPEN,
	CONN_DRAINING, /* torn down; flushing a last Error frame before the socket closes */
	CONN_CLOSED,
};

struct pending {
	struct pending *next, *prev;
	struct skiff_rpc_conn *conn;
	uint64_t id;
	Skiff__MsgType type;
	int timeout_ms;
	skiff_rpc_reply_fn cb;
	void *userdata;
	struct event *timer;
};

struct skiff_rpc_call {
	struct skiff_rpc_call *next, *prev;
	struct skiff_rpc_conn *conn;
	uint64_t id;
	Skiff__MsgType type;
	bool oneway;
	bool in_handler; /* freed by the dispatcher after the handler returns */
	bool in_cancel;	 /* freed by whoever ran the cancel callback */
	bool done;	 /* answered */
	bool orphaned;	 /* the connection went away */
	void (*cancel_fn)(struct skiff_rpc_call *call, void *userdata);
	void *cancel_userdata;
	skiff_rpc_observer_fn observer;
	void *observer_userdata;
};

struct skiff_rpc_conn {
	struct skiff_rpc_conn *next, *prev; /* server's list */
	/* server: the unauthenticated connections (TLS handshake not done, or
	 * done without a client certificate), oldest first */
	struct skiff_rpc_conn *unext, *uprev;
	bool unauth;	      /* on that list */
	bool authed;	      /* counted in server->nauth */
	bool got_frame;	      /* server: the peer sent a frame */
	bool edge_extended;   /* the edge timer was extended once for a busy loop */
	int64_t edge_due_ms;  /* when the edge timer should fire */
	uint8_t addr_key[16]; /* server: the peer's address (IPv6: its /64) */
	evutil_socket_t fd;   /* server: the socket until its first bytes (bev NULL) */
	struct event *wait_ev;
	struct event_base *base;
	struct bufferevent *bev;
	struct skiff_rpc_server *server; /* NULL on the client side */
	bool insecure;
	enum conn_state state;
	int depth;
	int close_reason; /* for the deferred close */
	char *close_msg;
	struct skiff_rpc_peer peer;
	char *target; /* client: "HOST:PORT" as configured */
	uint64_t next_id;
	struct pending *pending;
	struct skiff_rpc_call *calls;
	int ncalls;
	struct event *keepalive;
	struct event *timer; /* client connect timeout; drain timeout */
	struct event *deferred_close;
	int keepalive_ms;
	int connect_timeout_ms;
	int64_t last_rx_ms;
	int64_t last_tick_ms;	/* last keepalive tick */
	size_t input_seen;	/* input buffer length when read_cb returned */
	uint64_t tls_read_seen; /* TLS: network bytes read, at the last tick */
	skiff_rpc_handler_fn handler;
	skiff_rpc_close_fn on_close;
	void (*on_connected)(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			     void *userdata);
	void *cfg_userdata;
	void *userdata;
};

struct skiff_rpc_server {
	struct event_base *base;
	struct evconnlistener *listener;
	SSL_CTX *tls;
	bool insecure;
	int keepalive_ms;
	int port;
	skiff_rpc_handler_fn handler;
	skiff_rpc_close_fn on_close;
	void (*on_accept)(struct skiff_rpc_conn *conn, void *userdata);
	void (*on_refused)(const char *addr, const char *why, void *userdata);
	void *userdata;
	struct skiff_rpc_conn *conns;
	int nconns;
	/* the edge */
	int max_conns, max_unauth, max_unauth_per_addr;
	int handshake_timeout_ms, first_frame_timeout_ms;
	struct skiff_rpc_conn *unauth_head, *unauth_tail;
	int nunauth, nauth;
	struct skiff_rpc_server_stats stats;
};

static void conn_teardown(struct skiff_rpc_conn *conn, int reason, const char *errmsg, bool drain);

/* ---- helpers ------------------------------------------------------------ */

static const char *type_name(int type)
{
	const char *n = skiff_rpc_msg_type_name(type);
	return n ? n : "MSG_UNKNOWN";
}

static void conn_ref(struct skiff_rpc_conn *conn)
{
	conn->depth++;
}

static void edge_forget(struct skiff_rpc_conn *conn);

static void conn_free(struct skiff_rpc_conn *conn)
{
	edge_forget(conn);
	if (conn->server) {
		struct skiff_rpc_server *s = conn->server;
		if (conn->prev)
			conn->prev->next = conn->next;
		else
			s->conns = conn->next;
		if (conn->next)
			conn->next->prev = conn->prev;
		s->nconns--;
	}
	if (conn->bev)
		bufferevent_free(conn->bev);
	else if (conn->fd >= 0)
		evutil_closesocket(conn->fd);
	if (conn->wait_ev)
		event_free(conn->wait_ev);
	if (conn->keepalive)
		event_free(conn->keepalive);
	if (conn->timer)
		event_free(conn->timer);
	if (conn->deferred_close)
		event_free(conn->deferred_close);
	free(conn->close_msg);
	free(conn->target);
	free(conn);
}

static void conn_unref(struct skiff_rpc_conn *conn)
{
	if (--conn->depth == 0 && conn->state == CONN_CLOSED)
		conn_free(conn);
}

static bool conn_usable(struct skiff_rpc_conn *conn)
{
	return conn->state == CONN_OPEN || conn->state == CONN_CONNECTING;
}

static void deferred_close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_rpc_conn *conn = arg;
	(void)fd;
	(void)what;
	conn_ref(conn);
	conn_teardown(conn, conn->close_reason, conn->close_msg, false);
	conn_unref(conn);
}

/* Close from the loop rather than from inside the caller's send. */
static void conn_close_later(struct skiff_rpc_conn *conn, int reason, const char *msg)
{
	if (!conn_usable(conn) || conn->close_msg)
		return;
	conn->close_reason = reason;
	conn->close_msg = xstrdup(msg);
	event_active(conn->deferred_close, 0, 0);
}

static int conn_send_frame(struct skiff_rpc_conn *conn, const Skiff__Frame *frame)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (!conn_usable(conn) || conn->close_msg || !conn->bev)
		return -ENOTCONN;
	r = skiff_frame_encode(frame, &buf, &len);
	if (r < 0)
		return r;
	r = bufferevent_write(conn->bev, buf, len);
	free(buf);
	if (r < 0)
		return -ENOMEM;
	if (evbuffer_get_length(bufferevent_get_output(conn->bev)) > MAX_OUTPUT_BYTES) {
		char msg[128];
		snprintf(msg, sizeof(msg), "peer %s is not reading (over %u bytes queued)",
			 conn->peer.addr, MAX_OUTPUT_BYTES);
		conn_close_later(conn, -ENOBUFS, msg);
		return -ENOBUFS;
	}
	return 0;
}

static int send_simple(struct skiff_rpc_conn *conn, uint64_t id, int type, uint32_t flags,
		       const ProtobufCMessage *msg, int err, const char *errmsg)
{
	Skiff__Frame f = SKIFF__FRAME__INIT;
	Skiff__Error e = SKIFF__ERROR__INIT;
	uint8_t *payload = NULL;
	int r;

	f.id = id;
	f.type = (Skiff__MsgType)type;
	f.flags = flags;
	f.version = SKIFF_RPC_PROTOCOL_VERSION;
	if (msg) {
		size_t n = protobuf_c_message_get_packed_size(msg);
		if (n > SKIFF_RPC_MAX_FRAME)
			return -EMSGSIZE;
		payload = xmalloc(n ? n : 1);
		protobuf_c_message_pack(msg, payload);
		f.payload.data = payload;
		f.payload.len = n;
	}
	if (err) {
		e.code = err < 0 ? -err : err;
		e.message = (char *)(errmsg ? errmsg : strerror(e.code));
		f.error = &e;
	}
	r = conn_send_frame(conn, &f);
	free(payload);
	return r;
}

/* ---- the edge: unauthenticated connections ------------------------------ */

/* A server connection is unauthenticated from accept until its TLS handshake
 * ends with a client certificate; a peer without one (a joiner) stays so.
 * Those are capped per address and server-wide apart from the rest, so a
 * flood of them never takes the room of admins and agents: a new one over a
 * cap closes the oldest of its address (per-address cap) or the oldest of
 * all (server-wide cap) instead of being refused, so a real client always
 * gets in while the stalled ones make way. Until the client's first bytes
 * arrive such a connection has no TLS state and no buffers, only its socket,
 * this struct and three events (about 1 KB). */

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short events, void *arg);

static void addr_key_of(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		/* as an IPv4-mapped address, so it cannot equal an IPv6 /64 */
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		/* one host has a whole /64; an IPv4-mapped address stays whole */
		memcpy(key, a, memcmp(a, mapped, 12) == 0 ? 16 : 8);
	}
}

static void unauth_add(struct skiff_rpc_server *s, struct skiff_rpc_conn *conn)
{
	conn->uprev = s->unauth_tail;
	conn->unext = NULL;
	if (s->unauth_tail)
		s->unauth_tail->unext = conn;
	else
		s->unauth_head = conn;
	s->unauth_tail = conn;
	conn->unauth = true;
	s->nunauth++;
}

static void unauth_remove(struct skiff_rpc_conn *conn)
{
	struct skiff_rpc_server *s = conn->server;

	if (!conn->unauth || !s)
		return;
	if (conn->uprev)
		conn->uprev->unext = conn->unext;
	else
		s->unauth_head = conn->unext;
	if (conn->unext)
		conn->unext->uprev = conn->uprev;
	else
		s->unauth_tail = conn->uprev;
	conn->unext = conn->uprev = NULL;
	conn->unauth = false;
	s->nunauth--;
}

/* The connection leaves the server's counts (teardown, free). */
static void edge_forget(struct skiff_rpc_conn *conn)
{
	unauth_remove(conn);
	if (conn->authed && conn->server)
		conn->server->nauth--;
	conn->authed = false;
	if (conn->wait_ev)
		event_del(conn->wait_ev);
}

static void edge_evict(struct skiff_rpc_conn *victim, const char *why)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "closed to make room: %s", why);
	log_debug("closing %s (%s)", victim->peer.addr, msg);
	victim->server->stats.evicted++;
	conn_ref(victim);
	conn_teardown(victim, -ECONNABORTED, msg, false);
	conn_unref(victim);
}

/* Room for one more unauthenticated connection from key. */
static void edge_make_room(struct skiff_rpc_server *s, const uint8_t key[16])
{
	struct skiff_rpc_conn *oldest_here = NULL;
	int here = 0;

	for (struct skiff_rpc_conn *c = s->unauth_head; c; c = c->unext) {
		if (memcmp(c->addr_key, key, 16) == 0) {
			if (!oldest_here)
				oldest_here = c;
			here++;
		}
	}
	if (here >= s->max_unauth_per_addr && oldest_here)
		edge_evict(oldest_here, "too many unauthenticated connections from its address");
	else if (s->nunauth >= s->max_unauth && s->unauth_head)
		edge_evict(s->unauth_head, "too many unauthenticated connections");
}

static bool socket_has_input(evutil_socket_t fd)
{
	int unread = 0;
	return fd >= 0 && ioctl(fd, FIONREAD, &unread) == 0 && unread > 0;
}

static void edge_timer_arm(struct skiff_rpc_conn *conn, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	conn->edge_due_ms = skiff_mono_ms() + ms;
	evtimer_add(conn->timer, &tv);
}

static void edge_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_rpc_conn *conn = arg;
	struct skiff_rpc_server *s = conn->server;
	int64_t late = skiff_mono_ms() - conn->edge_due_ms;
	char msg[160];
	int ms;
	(void)fd;
	(void)what;

	if (!s || !conn_usable(conn))
		return;
	ms = conn->state == CONN_CONNECTING ? s->handshake_timeout_ms : s->first_frame_timeout_ms;
	if (conn->state == CONN_OPEN && conn->got_frame)
		return;
	/* our loop was stalled (a long pass) or the peer's bytes wait unread:
	 * that is not the peer's delay; give it the time once more */
	if (!conn->edge_extended &&
	    (late > ms / 4 ||
	     socket_has_input(conn->bev ? bufferevent_getfd(conn->bev) : conn->fd))) {
		conn->edge_extended = true;
		edge_timer_arm(conn, ms);
		return;
	}
	if (conn->state == CONN_CONNECTING) {
		snprintf(msg, sizeof(msg), "TLS handshake not finished within %d ms", ms);
		s->stats.handshake_timeouts++;
	} else {
		snprintf(msg, sizeof(msg), "no frame within %d ms of the TLS handshake", ms);
		s->stats.idle_timeouts++;
	}
	log_debug("closing %s: %s", conn->peer.addr, msg);
	conn_ref(conn);
	conn_teardown(conn, -ETIMEDOUT, msg, false);
	conn_unref(conn);
}

/* The client's first bytes: only now does the connection get its TLS state
 * and buffers. */
static void first_bytes_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_rpc_conn *conn = arg;
	struct skiff_rpc_server *s = conn->server;
	SSL *ssl;
	char c;
	ssize_t n;
	(void)what;

	if (!s || conn->state != CONN_CONNECTING || conn->bev)
		return;
	conn_ref(conn);
	n = recv(fd, &c, 1, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(conn->wait_ev, NULL);
		goto out;
	}
	if (n <= 0) {
		log_debug("client %s left before the handshake began", conn->peer.addr);
		conn_teardown(conn, -ECONNRESET, "connection closed before the TLS handshake",
			      false);
		goto out;
	}
	ssl = SSL_new(s->tls);
	if (ssl)
		conn->bev = bufferevent_openssl_socket_new(
		    s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!conn->bev) {
		if (ssl)
			SSL_free(ssl);
		conn_teardown(conn, -ENOMEM, "cannot set up TLS", false);
		goto out;
	}
	conn->fd = -1; /* the bufferevent owns it */
	bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
	bufferevent_setcb(conn->bev, read_cb, NULL, event_cb, conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
out:
	conn_unref(conn);
}

/* The TLS handshake ended (or a plaintext connection was accepted): a peer
 * with a certificate leaves the unauthenticated ones and counts against
 * max_conns. Returns false when the connection was refused. */
static bool edge_handshake_done(struct skiff_rpc_conn *conn)
{
	struct skiff_rpc_server *s = conn->server;
	char msg[160];

	if (conn->insecure || conn->peer.role[0]) {
		if (s->nauth >= s->max_conns) {
			snprintf(msg, sizeof(msg), "too many connections (limit %d)", s->max_conns);
			log_debug("refused client %s: %s", conn->peer.addr, msg);
			s->stats.refused++;
			/* the client's connect fails with this message */
			send_simple(conn, 0, SKIFF__MSG_TYPE__MSG_NONE, FLAG(END), NULL, -EUSERS,
				    msg);
			conn_teardown(conn, -EUSERS, msg, true);
			return false;
		}
		unauth_remove(conn);
		conn->authed = true;
		s->nauth++;
	}
	conn->edge_extended = false;
	evtimer_del(conn->timer);
	edge_timer_arm(conn, s->first_frame_timeout_ms);
	return true;
}

void skiff_rpc_server_get_stats(struct skiff_rpc_server *server, struct skiff_rpc_server_stats *ret)
{
	*ret = server->stats;
	ret->conns = server->nauth;
	ret->unauthenticated = server->nunauth;
}

/* ---- pending requests (ours) ------------------------------------------- */

static void pending_unlink(struct pending *p)
{
	struct skiff_rpc_conn *conn = p->conn;
	if (p->prev)
		p->prev->next = p->next;
	else
		conn->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	if (p->timer) {
		event_free(p->timer);
		p->timer = NULL;
	}
}

static struct pending *pending_find(struct skiff_rpc_conn *conn, uint64_t id)
{
	for (struct pending *p = conn->pending; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void pending_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct skiff_rpc_conn *conn = p->conn;
	char msg[160];
	(void)fd;
	(void)what;

	conn_ref(conn);
	pending_unlink(p);
	/* tell the peer to stop working on it */
	send_simple(conn, p->id, p->type, FLAG(CANCEL), NULL, 0, NULL);
	snprintf(msg, sizeof(msg), "%s to %s timed out after %d ms", type_name(p->type),
		 conn->peer.addr, p->timeout_ms);
	p->cb(conn, -ETIMEDOUT, msg, NULL, p->userdata);
	free(p);
	conn_unref(conn);
}

int skiff_rpc_request(struct skiff_rpc_conn *conn, Skiff__MsgType type, const ProtobufCMessage *msg,
		      int timeout_ms, skiff_rpc_reply_fn cb, void *userdata, uint64_t *ret_id)
{
	struct pending *p;
	uint64_t id;
	int r;

	if (!conn_usable(conn))
		return -ENOTCONN;
	id = ++conn->next_id;
	r = send_simple(conn, id, type, FLAG(REQUEST), msg, 0, NULL);
	if (r < 0)
		return r;
	p = xcalloc(1, sizeof(*p));
	p->conn = conn;
	p->id = id;
	p->type = type;
	p->timeout_ms = timeout_ms;
	p->cb = cb;
	p->userdata = userdata;
	if (timeout_ms > 0) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		p->timer = evtimer_new(conn->base, pending_timeout_cb, p);
		evtimer_add(p->timer, &tv);
	}
	p->next = conn->pending;
	if (p->next)
		p->next->prev = p;
	conn->pending = p;
	if (ret_id)
		*ret_id = id;
	return 0;
}

int skiff_rpc_cancel(struct skiff_rpc_conn *conn, uint64_t id)
{
	struct pending *p = pending_find(conn, id);

	if (!p)
		return -ENOENT;
	conn_ref(conn);
	pending_unlink(p);
	send_simple(conn, id, p->type, FLAG(CANCEL), NULL, 0, NULL);
	p->cb(conn, -ECANCELED, "cancelled", NULL, p->userdata);
	free(p);
	conn_unref(conn);
	return 0;
}

int skiff_rpc_send_oneway(struct skiff_rpc_conn *conn, Skiff__MsgType type,
			  const ProtobufCMessage *msg)
{
	return send_simple(conn, 0, type, FLAG(ONEWAY), msg, 0, NULL);
}

/* ---- calls (the peer's requests) ---------------------------------------- */

static void call_unlink(struct skiff_rpc_call *call)
{
	struct skiff_rpc_conn *conn = call->conn;
	if (call->orphaned)
		return;
	if (call->prev)
		call->prev->next = call->next;
	else
		conn->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
	conn->ncalls--;
	call->orphaned = true;
}

static void call_release(struct skiff_rpc_call *call)
{
	if (call->in_handler || call->in_cancel)
		return;
	call_unlink(call);
	free(call);
}

static void call_observe(struct skiff_rpc_call *call, int err, const char *errmsg)
{
	skiff_rpc_observer_fn fn = call->observer;

	if (!fn)
		return;
	call->observer = NULL;
	fn(call, err > 0 ? -err : err, errmsg, call->observer_userdata);
}

/* Run the cancel callback (peer cancelled, or the connection is closing). */
static void call_cancel(struct skiff_rpc_call *call)
{
	call_unlink(call);
	if (!call->done)
		call_observe(call, -ECANCELED, "cancelled");
	if (call->cancel_fn && !call->done) {
		call->in_cancel = true;
		call->cancel_fn(call, call->cancel_userdata);
		call->in_cancel = false;
	}
	call->done = true;
	if (!call->in_handler)
		free(call);
}

const struct skiff_rpc_peer *skiff_rpc_call_peer(struct skiff_rpc_call *call)
{
	return &call->conn->peer;
}

struct skiff_rpc_conn *skiff_rpc_call_conn(struct skiff_rpc_call *call)
{
	return call->conn;
}

uint64_t skiff_rpc_call_id(struct skiff_rpc_call *call)
{
	return call->id;
}

static int call_finish(struct skiff_rpc_call *call, uint32_t flags, const ProtobufCMessage *msg,
		       int err, const char *errmsg)
{
	int r = 0;

	if (call->done)
		return -EALREADY;
	if (call->orphaned && !call->in_handler && !call->in_cancel)
		r = -ENOTCONN;
	else if (!call->oneway)
		r = send_simple(call->conn, call->id, call->type, flags, msg, err, errmsg);
	call->done = true;
	call_observe(call, err, errmsg);
	call_release(call);
	return r;
}

int skiff_rpc_call_reply(struct skiff_rpc_call *call, const ProtobufCMessage *msg)
{
	return call_finish(call, FLAG(REPLY), msg, 0, NULL);
}

int skiff_rpc_call_error(struct skiff_rpc_call *call, int err, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	r = call_finish(call, FLAG(REPLY), NULL, err ? err : -EIO, msg);
	free(msg);
	return r;
}

int skiff_rpc_call_stream(struct skiff_rpc_call *call, const ProtobufCMessage *msg)
{
	if (call->done)
		return -EALREADY;
	if (call->orphaned)
		return -ENOTCONN;
	if (call->oneway)
		return 0; /* nobody is listening; the handler need not care */
	return send_simple(call->conn, call->id, call->type, FLAG(STREAM), msg, 0, NULL);
}

int skiff_rpc_call_end(struct skiff_rpc_call *call, int err, const char *errmsg)
{
	return call_finish(call, FLAG(END), NULL, err, errmsg);
}

void skiff_rpc_call_set_cancel(struct skiff_rpc_call *call,
			       void (*fn)(struct skiff_rpc_call *call, void *userdata),
			       void *userdata)
{
	call->cancel_fn = fn;
	call->cancel_userdata = userdata;
}

void skiff_rpc_call_set_observer(struct skiff_rpc_call *call, skiff_rpc_observer_fn fn,
				 void *userdata)
{
	call->observer = fn;
	call->observer_userdata = userdata;
}

/* ---- dispatch ------------------------------------------------------------ */

static void handle_request(struct skiff_rpc_conn *conn, const Skiff__Frame *f)
{
	bool oneway = !(f->flags & FLAG(REQUEST));
	const char *name = skiff_rpc_msg_type_name(f->type);
	struct skiff_rpc_call *call;
	char msg[160];

	if (!name) {
		snprintf(msg, sizeof(msg), "unknown message type %d", (int)f->type);
		log_debug("%s: %s", conn->peer.addr, msg);
		if (!oneway)
			send_simple(conn, f->id, f->type, FLAG(REPLY), NULL, -EPROTONOSUPPORT, msg);
		return;
	}
	if (f->type == SKIFF__MSG_TYPE__MSG_PING) {
		if (!oneway)
			send_simple(conn, f->id, f->type, FLAG(REPLY), NULL, 0, NULL);
		return;
	}
	if (conn->server && !conn->insecure && conn->peer.role[0] == '\0' &&
	    f->type != SKIFF__MSG_TYPE__MSG_JOIN) {
		snprintf(msg, sizeof(msg), "permission denied: %s needs a client certificate",
			 name);
		log_debug("refused %s from %s: %s", name, conn->peer.addr, msg);
		if (conn->server->on_refused)
			conn->server->on_refused(conn->peer.addr, msg, conn->cfg_userdata);
		if (!oneway)
			send_simple(conn, f->id, f->type, FLAG(REPLY), NULL, -EACCES, msg);
		return;
	}
	if (!conn->handler) {
		snprintf(msg, sizeof(msg), "%s is not served by this peer", name);
		if (!oneway)
			send_simple(conn, f->id, f->type, FLAG(REPLY), NULL, -EOPNOTSUPP, msg);
		return;
	}
	if (conn->ncalls >= MAX_CALLS_PER_CONN) {
		snprintf(msg, sizeof(msg), "too many requests in flight (limit %d)",
			 MAX_CALLS_PER_CONN);
		if (!oneway)
			send_simple(conn, f->id, f->type, FLAG(REPLY), NULL, -EBUSY, msg);
		return;
	}

	call = xcalloc(1, sizeof(*call));
	call->conn = conn;
	call->id = f->id;
	call->type = f->type;
	call->oneway = oneway;
	call->next = conn->calls;
	if (call->next)
		call->next->prev = call;
	conn->calls = call;
	conn->ncalls++;

	call->in_handler = true;
	conn->handler(call, f, conn->cfg_userdata);
	call->in_handler = false;
	/* A oneway call is dropped after its handler unless the handler kept it
	 * (set a cancel callback): a peer may send any type as oneway, and a
	 * handler that keeps calls of that type must not be left holding a
	 * freed one. */
	if (call->done || (call->oneway && !call->cancel_fn) ||
	    (call->orphaned && !call->in_cancel)) {
		call_unlink(call);
		free(call);
	}
}

static void handle_cancel(struct skiff_rpc_conn *conn, uint64_t id)
{
	for (struct skiff_rpc_call *c = conn->calls; c; c = c->next) {
		if (c->id == id && !c->oneway) {
			call_cancel(c);
			return;
		}
	}
}

static void handle_answer(struct skiff_rpc_conn *conn, const Skiff__Frame *f)
{
	struct pending *p;
	int err = 0;
	const char *errmsg = NULL;

	if (f->error && f->error->code != 0) {
		err = f->error->code > 0 ? -f->error->code : -EPROTO;
		errmsg = f->error->message;
	}
	if (f->id == 0) {
		/* a keepalive reply, or the peer's last word before it closes */
		if (err < 0) {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s closed the connection: %s", conn->peer.addr,
				 errmsg ? errmsg : strerror(-err));
			conn_teardown(conn, err, msg, false);
		}
		return;
	}
	p = pending_find(conn, f->id);
	if (!p) {
		log_debug("%s: answer for unknown request %" PRIu64 " ignored", conn->peer.addr,
			  f->id);
		return;
	}
	if ((f->flags & FLAG(STREAM)) && !(f->flags & (FLAG(END) | FLAG(REPLY))) && err == 0) {
		if (p->timer) {
			event_free(p->timer);
			p->timer = NULL;
		}
		p->cb(conn, 0, NULL, f, p->userdata);
		return;
	}
	pending_unlink(p);
	p->cb(conn, err, errmsg, err ? NULL : f, p->userdata);
	free(p);
}

static void handle_frame(struct skiff_rpc_conn *conn, const Skiff__Frame *f)
{
	if (f->flags & (FLAG(REQUEST) | FLAG(ONEWAY)))
		handle_request(conn, f);
	else if (f->flags & FLAG(CANCEL))
		handle_cancel(conn, f->id);
	else if (f->flags & (FLAG(REPLY) | FLAG(STREAM) | FLAG(END)))
		handle_answer(conn, f);
	else
		log_debug("%s: frame without flags ignored", conn->peer.addr);
}

/* A frame we cannot read: tell the peer why where possible, then close this
 * connection only. */
static void protocol_error(struct skiff_rpc_conn *conn, int err, const char *msg)
{
	if (conn->server)
		log_debug("closing connection from %s: %s", conn->peer.addr, msg);
	else
		log_debug("closing connection to %s: %s", conn->peer.addr, msg);
	send_simple(conn, 0, SKIFF__MSG_TYPE__MSG_NONE, FLAG(END), NULL, err, msg);
	conn_teardown(conn, err, msg, true);
}

static void mark_connected(struct skiff_rpc_conn *conn)
{
	conn->state = CONN_OPEN;
	if (conn->server) {
		if (conn->server->on_accept)
			conn->server->on_accept(conn, conn->cfg_userdata);
		return;
	}
	if (conn->timer)
		evtimer_del(conn->timer);
	if (conn->on_connected)
		conn->on_connected(conn, 0, NULL, conn->cfg_userdata);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct skiff_rpc_conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	conn_ref(conn);
	conn->last_rx_ms = skiff_mono_ms();
	while (conn_usable(conn) && !conn->close_msg) {
		size_t len = evbuffer_get_length(in);
		uint8_t hdr[4];
		uint32_t n;
		Skiff__Frame *f = NULL;
		size_t consumed = 0;
		char msg[160];
		int r;

		if (len < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
		    (uint32_t)hdr[3];
		if (n > SKIFF_RPC_MAX_FRAME) {
			snprintf(msg, sizeof(msg), "frame of %u bytes exceeds the %u-byte limit", n,
				 SKIFF_RPC_MAX_FRAME);
			protocol_error(conn, -EMSGSIZE, msg);
			break;
		}
		if (len - 4 < n)
			break;
		r = skiff_frame_decode_any(evbuffer_pullup(in, (ev_ssize_t)n + 4), n + 4,
					   SKIFF_RPC_MAX_FRAME, &f, &consumed);
		evbuffer_drain(in, (size_t)n + 4);
		if (r <= 0) {
			snprintf(msg, sizeof(msg), "malformed frame of %u bytes", n);
			protocol_error(conn, -EBADMSG, msg);
			break;
		}
		if (conn->server && !conn->got_frame) {
			conn->got_frame = true;
			evtimer_del(conn->timer);
		}
		/* a server that turns us away (too many connections) says why
		 * in its first frame: that is a failed connect */
		if (conn->state == CONN_CONNECTING && !conn->server &&
		    !(f->id == 0 && f->error && f->error->code != 0))
			mark_connected(conn);
		if (conn_usable(conn))
			handle_frame(conn, f);
		skiff__frame__free_unpacked(f, NULL);
	}
	conn->input_seen = evbuffer_get_length(in);
	conn_unref(conn);
}

static void set_nodelay(struct bufferevent *bev)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Why a TLS connection failed, for people. */
static void describe_tls_error(struct skiff_rpc_conn *conn, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(conn->bev);
	const char *verr = ssl ? skiff_tls_verify_error(ssl) : NULL;
	unsigned long e, first = 0;

	while ((e = bufferevent_get_openssl_error(conn->bev)))
		if (!first)
			first = e;
	if (verr) {
		snprintf(buf, len, "%s", verr);
		return;
	}
	if (!first) {
		snprintf(buf, len, "TLS connection failed");
		return;
	}
	switch (ERR_GET_REASON(first)) {
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		snprintf(buf, len,
			 "the peer refused our certificate: it is from another CA "
			 "(TLS alert: unknown ca)");
		return;
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
		snprintf(buf, len,
			 "the peer refused our certificate: it has expired "
			 "(TLS alert: certificate expired)");
		return;
	case SSL_R_NO_SHARED_CIPHER:
		snprintf(buf, len, "no common cipher suite (%s)", TLS_SUITES_HINT);
		return;
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		if (!conn->server && ssl && !SSL_get0_peer_certificate(ssl)) {
			/* the server refused us before it sent its certificate */
			snprintf(buf, len,
				 "the peer refused the TLS handshake: no common cipher "
				 "suite? (%s)",
				 TLS_SUITES_HINT);
			return;
		}
		/* fall through */
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		snprintf(buf, len, "the peer refused our certificate (TLS alert: %s)",
			 ERR_reason_error_string(first));
		return;
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_UNSUPPORTED_PROTOCOL:
		snprintf(buf, len, "no common TLS version (Skiff requires TLS 1.2 or newer): %s",
			 ERR_reason_error_string(first));
		return;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
		snprintf(buf, len, "TLS handshake failed: %s (is the peer running without TLS?)",
			 ERR_reason_error_string(first));
		return;
	default:
		snprintf(buf, len, "TLS error: %s",
			 ERR_reason_error_string(first) ? ERR_reason_error_string(first)
							: "unknown");
	}
}

static void event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct skiff_rpc_conn *conn = arg;
	char why[384], msg[512];
	int reason;

	conn_ref(conn);
	if (events & BEV_EVENT_CONNECTED) {
		/* the handshake's bytes were the peer talking */
		conn->last_rx_ms = skiff_mono_ms();
		set_nodelay(bev);
		if (!conn->insecure) {
			skiff_tls_peer_identity(bufferevent_openssl_get_ssl(bev), conn->peer.name,
						sizeof(conn->peer.name), conn->peer.role,
						sizeof(conn->peer.role));
			skiff_tls_peer_serial(bufferevent_openssl_get_ssl(bev), conn->peer.serial,
					      sizeof(conn->peer.serial));
		}
		if (conn->server) {
			log_debug("accepted %s (cn '%s', role '%s')", conn->peer.addr,
				  conn->peer.name, conn->peer.role);
			if (!edge_handshake_done(conn))
				goto out;
			mark_connected(conn);
			/* the greeting that completes the client's connect */
			send_simple(conn, 0, SKIFF__MSG_TYPE__MSG_PING, FLAG(REQUEST), NULL, 0,
				    NULL);
		}
		goto out;
	}
	if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		goto out;

	bool mid_frame = evbuffer_get_length(bufferevent_get_input(bev)) > 0;
	int sockerr = EVUTIL_SOCKET_ERROR();
	if (!conn->insecure && (events & BEV_EVENT_ERROR) &&
	    (bufferevent_openssl_get_ssl(bev) != NULL)) {
		describe_tls_error(conn, why, sizeof(why));
		/* plain socket errors surface here too, without an OpenSSL reason */
		if (streq(why, "TLS connection failed") && sockerr) {
			snprintf(why, sizeof(why), "%s", strerror(sockerr));
			reason = -sockerr;
		} else {
			reason = -EPROTO;
		}
	} else if (events & BEV_EVENT_ERROR) {
		reason = sockerr ? -sockerr : -ECONNRESET;
		snprintf(why, sizeof(why), "%s", strerror(-reason));
	} else {
		reason = mid_frame || conn->state != CONN_OPEN ? -ECONNRESET : 0;
		snprintf(why, sizeof(why), "%s",
			 mid_frame ? "connection closed in the middle of a frame"
				   : "connection closed by the peer");
	}

	if (conn->server) {
		if (conn->state == CONN_CONNECTING && (events & BEV_EVENT_ERROR)) {
			log_debug("refused client %s: %s", conn->peer.addr, why);
			if (conn->server->on_refused)
				conn->server->on_refused(conn->peer.addr, why, conn->cfg_userdata);
		} else if (conn->state == CONN_CONNECTING)
			log_debug("client %s left before the handshake ended", conn->peer.addr);
		else
			log_debug("connection from %s closed: %s", conn->peer.addr, why);
		snprintf(msg, sizeof(msg), "%s", why);
	} else if (conn->state == CONN_CONNECTING) {
		snprintf(msg, sizeof(msg), "cannot connect to %s: %s", conn->target, why);
		if (reason == 0)
			reason = -ECONNRESET;
	} else {
		snprintf(msg, sizeof(msg), "connection to %s lost: %s", conn->target, why);
	}
	conn_teardown(conn, reason, msg, false);
out:
	conn_unref(conn);
}

/* Bytes from the peer that we have not looked at yet: unread in the socket
 * (FIONREAD), decrypted but not taken from the TLS layer (SSL_pending), or
 * added to the input buffer since read_cb last ran. When the loop was busy
 * these are the peer's words waiting for us, not silence. */
static bool input_waiting(struct skiff_rpc_conn *conn)
{
	evutil_socket_t fd;
	int unread = 0;
	SSL *ssl;

	if (!conn->bev)
		return socket_has_input(conn->fd);
	if (evbuffer_get_length(bufferevent_get_input(conn->bev)) != conn->input_seen)
		return true;
	ssl = bufferevent_openssl_get_ssl(conn->bev);
	if (ssl && SSL_pending(ssl) > 0)
		return true;
	fd = bufferevent_getfd(conn->bev);
	return fd >= 0 && ioctl(fd, FIONREAD, &unread) == 0 && unread > 0;
}

static void keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_rpc_conn *conn = arg;
	int64_t now = skiff_mono_ms(), silent;
	int64_t late = now - conn->last_tick_ms - conn->keepalive_ms;
	SSL *ssl;
	(void)fd;
	(void)what;

	conn_ref(conn);
	if (late > conn->keepalive_ms) {
		/* our loop did not run for a long while (a long handler, the
		 * blocking client between calls): we cannot tell whether the
		 * peer was silent, so start counting anew */
		conn->last_rx_ms = now;
	} else if (late > conn->keepalive_ms / 4) {
		/* the tick came late: the loop was busy and could not have
		 * read; that time is not the peer's silence */
		conn->last_rx_ms = conn->last_rx_ms + late < now ? conn->last_rx_ms + late : now;
	}
	conn->last_tick_ms = now;
	ssl = conn->bev ? bufferevent_openssl_get_ssl(conn->bev) : NULL;
	if (ssl && SSL_get_rbio(ssl)) {
		/* TLS: bytes from the network since the last tick, also those
		 * of the handshake, which never reach read_cb */
		uint64_t got = BIO_number_read(SSL_get_rbio(ssl));
		if (got != conn->tls_read_seen) {
			conn->tls_read_seen = got;
			conn->last_rx_ms = now;
		}
	}
	silent = now - conn->last_rx_ms;
	if (silent >= 3 * (int64_t)conn->keepalive_ms && input_waiting(conn)) {
		/* data waiting unread (read_cb has not run yet in this loop
		 * iteration): the peer is not silent */
		conn->last_rx_ms = now;
		silent = 0;
	}
	if (silent >= 3 * (int64_t)conn->keepalive_ms) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s silent for %" PRId64 " ms (keepalive %d ms)",
			 conn->peer.addr, silent, conn->keepalive_ms);
		if (conn->server)
			log_debug("dropping %s", msg);
		conn_teardown(conn, -ETIMEDOUT, msg, false);
	} else if (conn->state == CONN_OPEN) {
		send_simple(conn, 0, SKIFF__MSG_TYPE__MSG_PING, FLAG(REQUEST), NULL, 0, NULL);
	}
	conn_unref(conn);
}

/* ---- teardown ------------------------------------------------------------ */

static void drain_finish(struct skiff_rpc_conn *conn)
{
	conn_ref(conn);
	conn->state = CONN_CLOSED;
	conn_unref(conn);
}

static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_finish(arg);
}

static void drain_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void drain_write_cb(struct bufferevent *bev, void *arg)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	(void)arg;
	/* a FIN rather than a reset, so the peer reads our last frame */
	if (fd >= 0)
		shutdown(fd, SHUT_WR);
}

static void drain_event_cb(struct bufferevent *bev, short events, void *arg)
{
	(void)bev;
	(void)events;
	drain_finish(arg);
}

static void conn_teardown(struct skiff_rpc_conn *conn, int reason, const char *errmsg, bool drain)
{
	enum conn_state was = conn->state;
	int pending_err = reason < 0 ? reason : -ECONNRESET;

	if (!conn_usable(conn))
		return;
	conn->state = CONN_CLOSED;
	conn_ref(conn);
	edge_forget(conn);
	if (conn->keepalive)
		event_del(conn->keepalive);
	if (conn->timer)
		event_del(conn->timer);
	if (conn->deferred_close)
		event_del(conn->deferred_close);

	while (conn->pending) {
		struct pending *p = conn->pending;
		pending_unlink(p);
		p->cb(conn, pending_err, errmsg, NULL, p->userdata);
		free(p);
	}
	while (conn->calls)
		call_cancel(conn->calls);

	if (was == CONN_OPEN) {
		if (conn->on_close)
			conn->on_close(conn, reason, conn->cfg_userdata);
	} else if (!conn->server && conn->on_connected) {
		conn->on_connected(NULL, reason < 0 ? reason : -ECONNRESET, errmsg,
				   conn->cfg_userdata);
	}

	if (drain && conn->bev && evbuffer_get_length(bufferevent_get_output(conn->bev)) > 0) {
		struct timeval tv = { DRAIN_TIMEOUT_MS / 1000, 0 };
		conn->state = CONN_DRAINING;
		bufferevent_setcb(conn->bev, drain_read_cb, drain_write_cb, drain_event_cb, conn);
		bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
		if (!conn->timer)
			conn->timer = evtimer_new(conn->base, drain_timeout_cb, conn);
		else
			event_assign(conn->timer, conn->base, -1, 0, drain_timeout_cb, conn);
		evtimer_add(conn->timer, &tv);
	}
	conn_unref(conn);
}

void skiff_rpc_conn_close(struct skiff_rpc_conn *conn)
{
	if (!conn)
		return;
	conn_ref(conn);
	if (conn_usable(conn)) {
		/* our own close: requests we made are cancelled, not reset */
		while (conn->pending) {
			struct pending *p = conn->pending;
			pending_unlink(p);
			p->cb(conn, -ECANCELED, "connection closed", NULL, p->userdata);
			free(p);
		}
		conn_teardown(conn, 0, "connection closed", false);
	}
	conn_unref(conn);
}

const struct skiff_rpc_peer *skiff_rpc_conn_peer(struct skiff_rpc_conn *conn)
{
	return &conn->peer;
}

void skiff_rpc_conn_set_userdata(struct skiff_rpc_conn *conn, void *userdata)
{
	conn->userdata = userdata;
}

void *skiff_rpc_conn_get_userdata(struct skiff_rpc_conn *conn)
{
	return conn->userdata;
}

size_t skiff_rpc_conn_output_pending(struct skiff_rpc_conn *conn)
{
	return conn->bev ? evbuffer_get_length(bufferevent_get_output(conn->bev)) : 0;
}

bool skiff_rpc_conn_is_open(struct skiff_rpc_conn *conn)
{
	return conn_usable(conn);
}

/* ---- construction ------------------------------------------------------- */

/* Writes to a peer that went away must fail with EPIPE, not kill the
 * process: ignore SIGPIPE unless the program chose a disposition itself. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

static struct skiff_rpc_conn *conn_new(struct event_base *base, bool insecure, int keepalive_ms)
{
	struct skiff_rpc_conn *conn = xcalloc(1, sizeof(*conn));
	struct timeval tv;

	ignore_sigpipe();
	conn->base = base;
	conn->fd = -1;
	conn->insecure = insecure;
	conn->peer.plaintext = insecure;
	conn->state = CONN_CONNECTING;
	conn->keepalive_ms = keepalive_ms > 0 ? keepalive_ms : SKIFF_RPC_DEFAULT_KEEPALIVE_MS;
	conn->last_rx_ms = conn->last_tick_ms = skiff_mono_ms();
	conn->keepalive = event_new(base, -1, EV_PERSIST, keepalive_cb, conn);
	conn->deferred_close = event_new(base, -1, 0, deferred_close_cb, conn);
	tv.tv_sec = conn->keepalive_ms / 1000;
	tv.tv_usec = (conn->keepalive_ms % 1000) * 1000;
	event_add(conn->keepalive, &tv);
	return conn;
}

static void format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	} else {
		snprintf(buf, len, "unknown");
	}
}

/* "HOST:PORT" or "[V6]:PORT" -> addrinfo. */
static int resolve(const char *hostport, bool passive, struct addrinfo **ret)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	char host[256];
	const char *port, *colon;
	size_t hl;

	if (!hostport)
		return -EINVAL;
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - hostport - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, hostport + 1, hl);
		port = end + 2;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - hostport);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, hostport, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	if (!*port)
		return -EINVAL;
	if (passive)
		hints.ai_flags |= AI_PASSIVE;
	if (getaddrinfo(hl ? host : NULL, port, &hints, ret) != 0)
		return -EADDRNOTAVAIL;
	return 0;
}

/* ---- server ------------------------------------------------------------- */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct skiff_rpc_server *s = arg;
	struct skiff_rpc_conn *conn;
	uint8_t key[16];
	char addr[64];
	(void)l;
	(void)salen;

	format_addr(sa, addr, sizeof(addr));
	addr_key_of(sa, key);
	if (s->insecure && s->nauth >= s->max_conns) {
		log_debug("refused client %s: too many connections (limit %d)", addr, s->max_conns);
		s->stats.refused++;
		evutil_closesocket(fd);
		return;
	}
	if (!s->insecure)
		edge_make_room(s, key);
	conn = conn_new(s->base, s->insecure, s->keepalive_ms);
	snprintf(conn->peer.addr, sizeof(conn->peer.addr), "%s", addr);
	memcpy(conn->addr_key, key, sizeof(key));
	conn->server = s;
	conn->handler = s->handler;
	conn->on_close = s->on_close;
	conn->cfg_userdata = s->userdata;
	conn->timer = evtimer_new(s->base, edge_timeout_cb, conn);
	if (s->insecure) {
		conn->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!conn->bev) {
			evutil_closesocket(fd);
			conn_free(conn);
			return;
		}
	} else {
		/* no TLS state until the client's first bytes */
		conn->fd = fd;
		conn->wait_ev = event_new(s->base, fd, EV_READ, first_bytes_cb, conn);
		event_add(conn->wait_ev, NULL);
	}
	conn->next = s->conns;
	if (conn->next)
		conn->next->prev = conn;
	s->conns = conn;
	s->nconns++;
	if (s->insecure) {
		bufferevent_setcb(conn->bev, read_cb, NULL, event_cb, conn);
		bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
		conn_ref(conn);
		event_cb(conn->bev, BEV_EVENT_CONNECTED, conn);
		conn_unref(conn);
	} else {
		unauth_add(s, conn);
		edge_timer_arm(conn, s->handshake_timeout_ms);
	}
}

int skiff_rpc_server_new(struct event_base *base, const struct skiff_rpc_server_config *cfg,
			 struct skiff_rpc_server **ret)
{
	struct skiff_rpc_server *s;
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int r;

	if (!cfg->tls && !cfg->insecure_plaintext)
		return -EINVAL;
	r = resolve(cfg->listen, true, &ai);
	if (r < 0)
		return r;
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->insecure = !cfg->tls && cfg->insecure_plaintext;
	s->keepalive_ms = cfg->keepalive_ms;
	s->max_conns = cfg->max_conns > 0 ? cfg->max_conns : SKIFF_RPC_DEFAULT_MAX_CONNS;
	s->max_unauth = cfg->max_unauth > 0 ? cfg->max_unauth : SKIFF_RPC_DEFAULT_MAX_UNAUTH;
	s->max_unauth_per_addr = cfg->max_unauth_per_addr > 0
				     ? cfg->max_unauth_per_addr
				     : SKIFF_RPC_DEFAULT_MAX_UNAUTH_PER_ADDR;
	s->handshake_timeout_ms = cfg->handshake_timeout_ms > 0
				      ? cfg->handshake_timeout_ms
				      : SKIFF_RPC_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	s->first_frame_timeout_ms = cfg->first_frame_timeout_ms > 0
					? cfg->first_frame_timeout_ms
					: SKIFF_RPC_DEFAULT_FIRST_FRAME_TIMEOUT_MS;
	s->handler = cfg->handler;
	s->on_close = cfg->on_close;
	s->on_accept = cfg->on_accept;
	s->on_refused = cfg->on_refused;
	s->userdata = cfg->userdata;
	if (cfg->tls && !s->insecure) {
		SSL_CTX_up_ref(cfg->tls);
		s->tls = cfg->tls;
	}
	s->listener = evconnlistener_new_bind(
	    base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!s->listener) {
		r = errno ? -errno : -EADDRINUSE;
		SSL_CTX_free(s->tls);
		free(s);
		return r;
	}
	if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &sl) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	if (s->insecure)
		log_debug("RPC server on %s runs WITHOUT TLS (insecure plaintext): no encryption, "
			  "no authentication; for debugging only",
			  cfg->listen);
	*ret = s;
	return 0;
}

int skiff_rpc_server_port(struct skiff_rpc_server *server)
{
	return server->port;
}

void skiff_rpc_server_free(struct skiff_rpc_server *server)
{
	if (!server)
		return;
	evconnlistener_free(server->listener);
	while (server->conns) {
		struct skiff_rpc_conn *conn = server->conns;
		conn_ref(conn);
		conn_teardown(conn, 0, "server shutting down", false);
		/* detach: a connection still referenced from a callback is freed
		 * by it, outside the server */
		server->conns = conn->next;
		if (server->conns)
			server->conns->prev = NULL;
		conn->next = conn->prev = NULL;
		conn->server = NULL;
		conn->state = CONN_CLOSED;
		conn_unref(conn);
	}
	SSL_CTX_free(server->tls);
	free(server);
}

/* ---- client ------------------------------------------------------------- */

static void connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_rpc_conn *conn = arg;
	char msg[320];
	(void)fd;
	(void)what;

	conn_ref(conn);
	snprintf(msg, sizeof(msg), "cannot connect to %s: timed out after %d ms%s", conn->target,
		 conn->connect_timeout_ms,
		 conn->insecure ? " (is the server expecting TLS? this client is plaintext)" : "");
	conn_teardown(conn, -ETIMEDOUT, msg, false);
	conn_unref(conn);
}

int skiff_rpc_connect(struct event_base *base, const struct skiff_rpc_client_config *cfg,
		      void (*on_connected)(struct skiff_rpc_conn *conn, int err, const char *errmsg,
					   void *userdata),
		      struct skiff_rpc_conn **ret)
{
	struct skiff_rpc_conn *conn;
	struct addrinfo *ai = NULL;
	struct timeval tv;
	bool insecure = !cfg->tls;
	int r;

	if (insecure && !cfg->insecure_plaintext)
		return -EINVAL;
	r = resolve(cfg->server, false, &ai);
	if (r < 0)
		return r;
	if (insecure)
		log_debug("connecting to %s WITHOUT TLS (insecure plaintext): no encryption, no "
			  "authentication; for debugging only",
			  cfg->server);

	conn = conn_new(base, insecure, cfg->keepalive_ms);
	conn->target = xstrdup(cfg->server);
	format_addr(ai->ai_addr, conn->peer.addr, sizeof(conn->peer.addr));
	conn->handler = cfg->handler;
	conn->on_close = cfg->on_close;
	conn->on_connected = on_connected;
	conn->cfg_userdata = cfg->userdata;
	conn->connect_timeout_ms =
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
	if (insecure) {
		conn->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	} else {
		SSL *ssl = SSL_new(cfg->tls);
		if (ssl)
			conn->bev = bufferevent_openssl_socket_new(
			    base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (conn->bev)
			bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
		else if (ssl)
			SSL_free(ssl);
	}
	if (!conn->bev) {
		freeaddrinfo(ai);
		conn->state = CONN_CLOSED;
		conn_free(conn);
		return -ENOMEM;
	}
	bufferevent_setcb(conn->bev, read_cb, NULL, event_cb, conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	conn->timer = evtimer_new(base, connect_timeout_cb, conn);
	tv.tv_sec = conn->connect_timeout_ms / 1000;
	tv.tv_usec = (conn->connect_timeout_ms % 1000) * 1000;
	evtimer_add(conn->timer, &tv);

	r = bufferevent_socket_connect(conn->bev, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0) {
		r = errno ? -errno : -ECONNREFUSED;
		conn->on_connected = NULL;
		conn->state = CONN_CLOSED;
		conn_free(conn);
		return r;
	}
	if (ret)
		*ret = conn;
	return 0;
}
