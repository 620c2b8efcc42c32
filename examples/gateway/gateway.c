/* gateway — the API gateway demo: routes by path prefix to services' ready
 * endpoints in strict round-robin.
 *
 * Each route maps a path prefix to a service; the service's endpoints come from
 * its endpoints file (re-read when it changes, so scaling and pod deaths are
 * followed live). A request that cannot reach its endpoint (connection refused,
 * reset, or the backend died mid-request) is retried on the next endpoint when
 * the method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS), and the failed
 * endpoint is skipped for --eject-ms (doubling with each consecutive failure,
 * up to 16x), so a killed replica costs no failed client request. --timeout
 * (3 s) bounds a backend request, connect included: an endpoint on a node
 * that vanished without a reset costs one slow request, not many. GET /gateway/status shows routes,
 * endpoints and counters (of all workers); GET /healthz is the readiness probe.
 *
 * --workers N runs N processes (one event loop each) on the same address with
 * SO_REUSEPORT, like nginx's worker_processes. The round-robin counter of each
 * route lives in shared memory, so the rotation stays strict across workers;
 * a worker that exits ends the gateway (its container restarts it whole).
 *
 *   gateway [--listen IP:PORT] [--route PREFIX=SERVICE]... [--retries N]
 *           [--eject-ms MS] [--timeout S] [--conns N] [--workers N]
 *   env: PORT (default 8080), GATEWAY_ROUTES ("/users/=users,/orders/=orders"),
 *        GATEWAY_WORKERS (default 1),
 *        <SERVICE>_SERVICE_ENDPOINTS or SKIFF_ENDPOINTS_DIR for discovery.
 * SERVICE may also be a fixed "IP:PORT,IP:PORT" list.
 *
 * The proxy path is lean on purpose: each connection is a plain libevent
 * event on its socket (no bufferevents, so no FIONREAD ioctl per read and no
 * epoll_ctl per request), HTTP/1.1 is parsed in place by http_parser (nodejs'
 * parser, Debian's libhttp-parser), and each endpoint keeps a pool of idle
 * keep-alive connections (--conns, like nginx's upstream `keepalive`). A
 * proxied request then costs 4 system calls plus its share of epoll_wait:
 * read from the client, write to the endpoint, read its response, write it
 * to the client (bench/gateway.sh measures it against nginx).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/listener.h>
#include <http_parser.h>

#include "cleanup.h"
#include "demo.h"
#include "http1.h"
#include "log.h"
#include "util.h"

/* A route's counters; with --workers they live in shared memory. */
struct counters {
	uint64_t rr; /* the round-robin position */
	uint64_t requests, retries, failures;
};

struct route {
	char *prefix;
	size_t prefix_len;
	char *service;
	struct demo_upstream *up;
	struct counters *c;
};

#define COUNT(x) __atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define READ(x)	 ((json_int_t)__atomic_load_n(&(x), __ATOMIC_RELAXED))

#define MAX_BODY     (1 << 20) /* request bodies, as demo_http_listen */
#define MAX_HEAD     (64 << 10)
#define READ_SIZE    16384
#define MAX_PENDING  (1 << 20) /* response bytes waiting for a slow client */
#define IDLE_TIMEOUT 120       /* seconds, client keep-alive */

static struct route *routes;
static unsigned nroutes;
static int max_retries = 3;
static int eject_ms = 2000;
static unsigned max_idle = 64;
static struct counters *totals; /* rr unused */
static int nworkers = 1, worker_index;
static int exit_code;
static struct event_base *evb;
static const struct timeval *tv_upstream, *tv_idle;

/* Connection-level headers a proxy does not pass on (and Host, X-Forwarded-For,
 * Expect, which the gateway sets or answers itself). */
static bool hop_by_hop(const char *base, struct demo_span f, bool request)
{
	static const char *const names[] = {
		"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
		"Trailer",    "Upgrade",    "Proxy-Connection"
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (demo_span_is(base, f, names[i]))
			return true;
	return request && (demo_span_is(base, f, "Host") || demo_span_is(base, f, "Expect"));
}

static bool idempotent(unsigned m)
{
	return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_PUT || m == HTTP_DELETE ||
	       m == HTTP_OPTIONS;
}

static const char *reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 413:
		return "Payload Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	}
	return "Error";
}

/* --- connections -------------------------------------------------------------- */

/* A client connection: one request at a time is proxied; bytes of pipelined
 * requests wait in `in`. */
struct client {
	int fd;
	struct event *rev, *wev, *idle;
	struct demo_buf in, out;
	struct demo_hmsg req;
	bool checked;	  /* the request's headers were checked */
	bool busy;	  /* a request is being answered */
	bool close_after; /* close once out is written */
	bool eof, dead, reading, writing;
	char peer[INET6_ADDRSTRLEN];
	/* the request being proxied */
	struct route *route;
	struct upconn *up;
	const struct demo_endpoint *last; /* its last failed endpoint (compared only) */
	int attempts;
	struct client *prev, *next;
};

/* A connection to one endpoint: busy with one client's request, or idle in
 * the endpoint's pool (keep-alive) with its read event watching for a close. */
struct upconn {
	int fd;
	struct event *rev, *wev, *timer;
	struct demo_endpoint *ep;
	struct client *c; /* NULL when idle */
	struct demo_buf out, in;
	struct demo_hmsg resp;
	bool connected, writing, reading, head_sent, to_eof;
	struct upconn *prev, *next; /* the pool's idle list, else all busy ones */
};

/* An endpoint's idle connections (ep->data). */
struct pool {
	struct upconn *idle;
	unsigned nidle;
	struct sockaddr_storage sa;
	socklen_t salen;
};

static struct client *clients;
/* Client connections are capped (like nginx's worker_connections) below the
 * open-file limit, leaving room for one backend connection each: at the cap
 * the listener pauses until a client leaves, instead of failing accept()s. */
static unsigned nclients, max_clients;
static struct evconnlistener *listener;
static bool accept_paused;
static struct upconn *busy_ups;

static void list_unlink_up(struct upconn **head, struct upconn *u)
{
	if (u->prev)
		u->prev->next = u->next;
	else
		*head = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->prev = u->next = NULL;
}

static void list_push_up(struct upconn **head, struct upconn *u)
{
	u->prev = NULL;
	u->next = *head;
	if (*head)
		(*head)->prev = u;
	*head = u;
}

static void upconn_free(struct upconn *u)
{
	event_free(u->rev);
	event_free(u->wev);
	event_free(u->timer);
	close(u->fd);
	demo_buf_free(&u->in);
	demo_buf_free(&u->out);
	free(u);
}

static void pool_free(struct demo_endpoint *ep)
{
	struct pool *pl = ep->data;
	if (!pl)
		return;
	while (pl->idle) {
		struct upconn *u = pl->idle;
		list_unlink_up(&pl->idle, u);
		upconn_free(u);
	}
	free(pl);
	ep->data = NULL;
}

static struct pool *pool_of(struct demo_endpoint *ep)
{
	struct pool *pl = ep->data;
	if (pl)
		return pl;
	pl = xcalloc(1, sizeof(*pl));
	struct sockaddr_in *sin = (struct sockaddr_in *)&pl->sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&pl->sa;
	if (inet_pton(AF_INET, ep->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		pl->salen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, ep->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(ep->port);
		pl->salen = sizeof(*sin6);
	}
	ep->data = pl;
	return pl;
}

static void client_free(struct client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->idle);
	close(c->fd);
	demo_buf_free(&c->in);
	demo_buf_free(&c->out);
	free(c);
	nclients--;
	if (accept_paused && listener && nclients < max_clients) {
		evconnlistener_enable(listener);
		accept_paused = false;
	}
}

static void set_event(struct event *ev, bool *on, bool want, const struct timeval *tv)
{
	if (want == *on)
		return;
	if (want)
		event_add(ev, tv);
	else
		event_del(ev);
	*on = want;
}

/* Write what out holds; false when the connection failed (c->dead). */
static bool client_flush(struct client *c)
{
	while (!c->dead && c->out.off < c->out.len) {
		ssize_t n = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->dead = true;
			break;
		}
		c->out.off += (size_t)n;
	}
	if (c->dead || c->out.off == c->out.len)
		c->out.off = c->out.len = 0;
	set_event(c->wev, &c->writing, !c->dead && c->out.len > 0, NULL);
	/* a slow client holds back its upstream connection's reading */
	if (c->up)
		set_event(c->up->rev, &c->up->reading, c->out.len < MAX_PENDING, NULL);
	return !c->dead;
}

/* The current request is answered (its response is in c->out): prepare for
 * the next one, or close. */
static void request_done(struct client *c)
{
	c->busy = false;
	if (!c->req.keep_alive || !c->req.complete || c->eof)
		c->close_after = true;
	if (c->dead || (c->close_after && c->out.len == 0)) {
		client_free(c);
		return;
	}
	if (c->close_after) { /* freed once out is written */
		set_event(c->rev, &c->reading, false, NULL);
		return;
	}
	demo_buf_drop(&c->in, c->req.end);
	demo_hmsg_init(&c->req, HTTP_REQUEST);
	c->checked = false;
	event_add(c->idle, tv_idle);
	set_event(c->rev, &c->reading, true, NULL);
	if (c->in.len > 0) /* a pipelined request: parse it on the next loop turn */
		event_active(c->rev, EV_TIMEOUT, 0);
}

/* Answer the current request from the gateway itself. */
static void reply(struct client *c, int code, json_t *body)
{
	char *s = json_dumps(body ? body : json_object(), JSON_COMPACT);
	size_t len = strlen(s) + 1;
	json_decref(body);
	demo_buf_addf(
	    &c->out,
	    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
	    code, reason(code), len,
	    !c->req.keep_alive || code == 400 || code == 413 || code == 431
		? "Connection: close\r\n"
		: (c->req.p.http_minor == 0 ? "Connection: keep-alive\r\n" : ""));
	if (code == 400 || code == 413 || code == 431)
		c->close_after = true;
	if (c->req.p.method != HTTP_HEAD || !c->req.headers_done) {
		demo_buf_add(&c->out, s, len - 1);
		demo_buf_add(&c->out, "\n", 1);
	}
	free(s);
	client_flush(c);
	request_done(c);
}

static void reply_error(struct client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(struct client *c, int code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	reply(c, code, json_pack("{s:s}", "error", msg));
}

static void forward(struct client *c);

/* Detach u from its client and either pool it (keep-alive) or close it. */
static void upconn_finish(struct upconn *u, bool reuse)
{
	struct demo_endpoint *ep = u->ep;
	struct pool *pl = ep->data;

	evtimer_del(u->timer);
	list_unlink_up(&busy_ups, u);
	if (u->c)
		u->c->up = NULL;
	u->c = NULL;
	if (reuse && !ep->retired && pl->nidle < max_idle) {
		u->in.len = 0;
		u->out.len = u->out.off = 0;
		u->head_sent = false;
		set_event(u->rev, &u->reading, true, NULL);
		list_push_up(&pl->idle, u);
		pl->nidle++;
	} else {
		upconn_free(u);
	}
	demo_endpoint_release(ep);
}

/* The attempt on ep failed (refused, reset, timed out, closed or not HTTP):
 * retry another endpoint or answer 502. The caller holds ep. */
static void attempt_failed(struct client *c, struct demo_endpoint *ep, const char *why,
			   bool head_sent)
{
	/* skip the endpoint for eject-ms, doubling with each consecutive failure (at most 16x) */
	demo_endpoint_mark_down(ep, eject_ms << (ep->fails < 4 ? ep->fails : 4));
	ep->fails++;
	log_warn("%s %.*s: endpoint %s %s (attempt %d)", http_method_str(c->req.p.method),
		 (int)c->req.first.len, c->in.p + c->req.first.off, ep->name, why, c->attempts);
	c->last = ep;
	if (c->dead) {
		client_free(c);
		return;
	}
	if (head_sent) { /* part of the response went out: all we can do is close */
		COUNT(c->route->c->failures);
		COUNT(totals->failures);
		c->req.keep_alive = false;
		request_done(c);
		return;
	}
	if (idempotent(c->req.p.method) && c->attempts <= max_retries) {
		COUNT(c->route->c->retries);
		forward(c);
		return;
	}
	COUNT(c->route->c->failures);
	COUNT(totals->failures);
	reply_error(c, 502, "upstream %s (%s) %s", c->route->service, ep->name, why);
}

static void upconn_failed(struct upconn *u, const char *why)
{
	struct client *c = u->c;
	struct demo_endpoint *ep = u->ep;
	bool head_sent = u->head_sent;

	demo_endpoint_hold(ep);
	upconn_finish(u, false);
	attempt_failed(c, ep, why, head_sent);
	demo_endpoint_release(ep);
}

static bool upconn_flush(struct upconn *u)
{
	while (u->out.off < u->out.len) {
		ssize_t n = write(u->fd, u->out.p + u->out.off, u->out.len - u->out.off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			upconn_failed(u, n < 0 && errno == EPIPE ? "closed" : "failed");
			return false;
		}
		u->out.off += (size_t)n;
	}
	set_event(u->wev, &u->writing, u->out.off < u->out.len, NULL);
	return true;
}

static void upconn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upconn *u = arg;
	(void)what;
	if (!u->connected) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			upconn_failed(u, err == ECONNREFUSED ? "refused the connection"
							     : "could not be reached");
			return;
		}
		u->connected = true;
	}
	upconn_flush(u);
}

/* Put the response head for the client into c->out: the status line and
 * headers without hop-by-hop ones, X-Upstream, and how the connection goes on. */
static void response_head(struct upconn *u, struct client *c)
{
	const struct demo_hmsg *m = &u->resp;
	const char *b = u->in.p;
	bool chunked = m->p.flags & F_CHUNKED;
	bool client10 = c->req.p.http_major == 1 && c->req.p.http_minor == 0;

	unsigned st = m->p.status_code;
	u->to_eof = !chunked && !(m->p.flags & F_CONTENTLENGTH) && !m->skip_body && st != 204 &&
		    st != 304 && st >= 200;
	if (chunked && client10) /* HTTP/1.0 knows no chunks: send the body as it is */
		u->resp.body_sink = &c->out;
	if (u->to_eof || u->resp.body_sink)
		c->req.keep_alive = false; /* the body ends when the connection does */
	demo_buf_addf(&c->out, "HTTP/1.1 %u %.*s\r\n", m->p.status_code, (int)m->first.len,
		      b + m->first.off);
	for (unsigned i = 0; i < m->n; i++) {
		if (hop_by_hop(b, m->field[i], false) ||
		    (u->resp.body_sink && demo_span_is(b, m->field[i], "Transfer-Encoding")))
			continue;
		demo_buf_add(&c->out, b + m->field[i].off, m->field[i].len);
		demo_buf_add(&c->out, ": ", 2);
		demo_buf_add(&c->out, b + m->value[i].off, m->value[i].len);
		demo_buf_add(&c->out, "\r\n", 2);
	}
	demo_buf_addf(&c->out, "X-Upstream: %s\r\n%s\r\n", u->ep->name,
		      !c->req.keep_alive ? "Connection: close\r\n"
					 : (client10 ? "Connection: keep-alive\r\n" : ""));
	u->head_sent = true;
}

static void upconn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upconn *u = arg;
	struct client *c = u->c;
	(void)what;

	if (!c) { /* idle: the endpoint closed it (or sent garbage) */
		struct pool *pl = u->ep->data;
		list_unlink_up(&pl->idle, u);
		pl->nidle--;
		upconn_free(u);
		return;
	}
	demo_buf_reserve(&u->in, READ_SIZE);
	ssize_t n = read(fd, u->in.p + u->in.len, u->in.cap - u->in.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && !u->to_eof)) {
		upconn_failed(u, n == 0 ? "closed the connection" : "reset the connection");
		return;
	}
	u->in.len += (size_t)n;
	size_t from = 0;
	while (!u->head_sent) {
		if (demo_hmsg_feed(&u->resp, &u->in, n == 0) < 0) {
			upconn_failed(u, "sent no valid HTTP response");
			return;
		}
		if (!u->resp.headers_done) {
			if (u->in.len > MAX_HEAD)
				upconn_failed(u, "sent a too large header");
			return;
		}
		unsigned st = u->resp.p.status_code;
		if (st >= 200 || st == 101) {
			response_head(u, c);
			from = u->resp.head_end;
			break;
		}
		/* 1xx: an interim response, not passed on; the real one follows */
		demo_hmsg_feed(&u->resp, &u->in, false);
		demo_buf_drop(&u->in, u->resp.head_end);
		demo_hmsg_init(&u->resp, HTTP_RESPONSE);
		u->resp.skip_body = c->req.p.method == HTTP_HEAD;
	}
	/* the body, through the parser to find its end */
	if (demo_hmsg_feed(&u->resp, &u->in, n == 0) < 0) {
		upconn_failed(u, "sent a broken HTTP body");
		return;
	}
	size_t to = u->resp.parsed;
	if (!u->resp.body_sink && to > from)
		demo_buf_add(&c->out, u->in.p + from, to - from);
	bool extra = u->in.len > to;
	demo_buf_drop(&u->in, to);
	u->resp.parsed -= to;
	client_flush(c);
	if (!u->resp.complete) {
		if (c->dead) {
			upconn_finish(u, false);
			client_free(c);
		}
		return;
	}
	if (!c->dead)
		u->ep->fails = 0;
	upconn_finish(u, u->resp.keep_alive && !extra && !u->to_eof);
	request_done(c);
}

static void upconn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	upconn_failed(arg, "timed out");
}

/* A new connection to ep (connect in progress), or NULL with errno. */
static struct upconn *upconn_new(struct demo_endpoint *ep)
{
	struct pool *pl = pool_of(ep);
	int one = 1;

	if (!pl->salen) {
		errno = EINVAL;
		return NULL;
	}
	int fd = socket(pl->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int r = connect(fd, (struct sockaddr *)&pl->sa, pl->salen);
	if (r < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	struct upconn *u = xcalloc(1, sizeof(*u));
	u->fd = fd;
	u->ep = ep;
	u->connected = r == 0;
	u->rev = event_new(evb, fd, EV_READ | EV_PERSIST, upconn_read_cb, u);
	u->wev = event_new(evb, fd, EV_WRITE | EV_PERSIST, upconn_write_cb, u);
	u->timer = evtimer_new(evb, upconn_timeout_cb, u);
	set_event(u->rev, &u->reading, true, NULL);
	set_event(u->wev, &u->writing, !u->connected, NULL);
	return u;
}

/* Send the client's request to the next endpoint in round-robin order. */
static void forward(struct client *c)
{
	struct demo_endpoint *ep = demo_upstream_pick(c->route->up, c->last);
	const struct demo_hmsg *m = &c->req;
	const char *b = c->in.p;
	struct upconn *u;

	if (!ep) {
		COUNT(c->route->c->failures);
		COUNT(totals->failures);
		reply_error(c, 503, "service %s has no ready endpoint", c->route->service);
		return;
	}
	c->attempts++;
	struct pool *pl = pool_of(ep);
	if (pl->idle) {
		u = pl->idle;
		list_unlink_up(&pl->idle, u);
		pl->nidle--;
	} else if (!(u = upconn_new(ep))) {
		const char *why = errno == ECONNREFUSED ? "refused the connection" : "failed";
		demo_endpoint_hold(ep);
		attempt_failed(c, ep, why, false);
		demo_endpoint_release(ep);
		return;
	}
	demo_endpoint_hold(ep);
	list_push_up(&busy_ups, u);
	u->c = c;
	c->up = u;
	demo_hmsg_init(&u->resp, HTTP_RESPONSE);
	u->resp.skip_body = m->p.method == HTTP_HEAD;
	u->out.len = u->out.off = 0;
	demo_buf_addf(&u->out, "%s %.*s HTTP/1.1\r\n", http_method_str(m->p.method),
		      (int)m->first.len, b + m->first.off);
	for (unsigned i = 0; i < m->n; i++) {
		if (hop_by_hop(b, m->field[i], true))
			continue;
		demo_buf_add(&u->out, b + m->field[i].off, m->field[i].len);
		demo_buf_add(&u->out, ": ", 2);
		demo_buf_add(&u->out, b + m->value[i].off, m->value[i].len);
		demo_buf_add(&u->out, "\r\n", 2);
	}
	demo_buf_addf(&u->out, "Host: %s\r\nX-Forwarded-For: %s\r\n\r\n", ep->name, c->peer);
	demo_buf_add(&u->out, b + m->head_end, m->end - m->head_end);
	event_add(u->timer, tv_upstream);
	if (u->connected)
		upconn_flush(u);
}

static void status(struct client *c)
{
	json_t *rs = json_array();
	for (unsigned i = 0; i < nroutes; i++) {
		struct route *r = &routes[i];
		json_t *eps = json_array();
		unsigned n = demo_upstream_refresh(r->up);
		for (unsigned k = 0; k < n; k++) {
			const struct demo_endpoint *ep = demo_upstream_endpoint(r->up, k);
			if (ep)
				json_array_append_new(eps, json_string(ep->name));
		}
		json_array_append_new(
		    rs, json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:I}", "prefix", r->prefix, "service",
				  r->service, "source", demo_upstream_spec(r->up), "endpoints", eps,
				  "requests", READ(r->c->requests), "retries", READ(r->c->retries),
				  "failures", READ(r->c->failures)));
	}
	reply(c, 200,
	      json_pack("{s:s,s:i,s:i,s:I,s:I,s:o}", "pod", demo_pod_name(), "worker", worker_index,
			"workers", nworkers, "requests", READ(totals->requests), "failures",
			READ(totals->failures), "routes", rs));
}

/* The request is complete in c->in: answer it or route it. */
static void dispatch(struct client *c)
{
	const char *target = c->in.p + c->req.first.off;
	size_t len = c->req.first.len;
	_cleanup_free_ char *decoded = NULL;
	struct route *best = NULL;

	c->busy = true;
	/* the path: without "http://host" (absolute form) and the query */
	if (len > 7 && strncasecmp(target, "http://", 7) == 0) {
		const char *slash = memchr(target + 7, '/', len - 7);
		len = slash ? len - (size_t)(slash - target) : 0;
		target = slash ? slash : "/";
	}
	const char *q = memchr(target, '?', len);
	if (q)
		len = (size_t)(q - target);
	if (memchr(target, '%', len)) {
		_cleanup_free_ char *raw = xstrndup(target, len);
		decoded = evhttp_uridecode(raw, 0, NULL);
		if (decoded) {
			target = decoded;
			len = strlen(decoded);
		}
	}
	if (len == 8 && memcmp(target, "/healthz", 8) == 0) {
		reply(c, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (len == 15 && memcmp(target, "/gateway/status", 15) == 0) {
		status(c);
		return;
	}
	for (unsigned i = 0; i < nroutes; i++)
		if (len >= routes[i].prefix_len &&
		    memcmp(target, routes[i].prefix, routes[i].prefix_len) == 0 &&
		    (!best || routes[i].prefix_len > best->prefix_len))
			best = &routes[i];
	COUNT(totals->requests);
	if (!best) {
		COUNT(totals->failures);
		reply_error(c, 404, "no route for %.*s", (int)len, target);
		return;
	}
	COUNT(best->c->requests);
	c->route = best;
	c->attempts = 0;
	c->last = NULL;
	forward(c);
}

/* Parse what c->in holds; dispatch a complete request. */
static void client_process(struct client *c)
{
	struct demo_hmsg *m = &c->req;

	if (demo_hmsg_feed(m, &c->in, false) < 0) {
		enum http_errno e = HTTP_PARSER_ERRNO(&m->p);
		if (m->p.upgrade)
			reply_error(c, 501, "protocol upgrades are not proxied");
		else if (e == HPE_HEADER_OVERFLOW || e == HPE_CB_header_field)
			reply_error(c, 431, "request header too large");
		else
			reply_error(c, 400, "malformed request: %s", http_errno_description(e));
		return;
	}
	if (!m->headers_done) {
		if (c->in.len > MAX_HEAD)
			reply_error(c, 431, "request header too large");
		return;
	}
	if (!c->checked) {
		c->checked = true;
		bool body_waits = m->head_end == c->in.len;
		if (m->p.method == HTTP_CONNECT) {
			reply_error(c, 501, "CONNECT is not supported");
			return;
		}
		if ((m->p.flags & F_CONTENTLENGTH) && m->p.content_length > MAX_BODY) {
			reply_error(c, 413, "request body over %d bytes", MAX_BODY);
			return;
		}
		for (unsigned i = 0; body_waits && i < m->n; i++)
			if (demo_span_is(c->in.p, m->field[i], "Expect") &&
			    demo_span_is(c->in.p, m->value[i], "100-continue")) {
				demo_buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
				client_flush(c);
			}
		if (demo_hmsg_feed(m, &c->in, false) < 0) {
			reply_error(c, 400, "malformed request body");
			return;
		}
	}
	if (!m->complete) {
		if (m->parsed - m->head_end > MAX_BODY + (64 << 10))
			reply_error(c, 413, "request body over %d bytes", MAX_BODY);
		return;
	}
	dispatch(c);
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (what & EV_READ) {
		demo_buf_reserve(&c->in, READ_SIZE);
		ssize_t n = read(fd, c->in.p + c->in.len, c->in.cap - c->in.len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			c->eof = true;
			set_event(c->rev, &c->reading, false, NULL);
			if (n < 0)
				c->dead = true;
			if (!c->busy)
				client_free(c);
			/* else: answered, then closed, by request_done */
			return;
		}
		c->in.len += (size_t)n;
		if (c->busy) {
			/* pipelined bytes wait; stop reading once there are plenty */
			if (c->in.len > MAX_HEAD + MAX_BODY)
				set_event(c->rev, &c->reading, false, NULL);
			return;
		}
	}
	if (!c->busy && !c->close_after)
		client_process(c);
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	(void)fd;
	(void)what;
	client_flush(c);
	if (c->dead) {
		if (c->up) {
			upconn_finish(c->up, false);
			c->busy = false;
		}
		if (!c->busy)
			client_free(c);
		return;
	}
	if (c->out.len == 0 && c->close_after && !c->busy)
		client_free(c);
}

static void client_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	(void)fd;
	(void)what;
	if (c->busy)
		return;
	client_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct client *c = xcalloc(1, sizeof(*c));
	int one = 1;
	(void)l;
	(void)salen;
	(void)arg;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof(c->peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->peer,
			  sizeof(c->peer));
	demo_hmsg_init(&c->req, HTTP_REQUEST);
	c->rev = event_new(evb, fd, EV_READ | EV_PERSIST, client_read_cb, c);
	c->wev = event_new(evb, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
	c->idle = evtimer_new(evb, client_idle_cb, c);
	c->next = clients;
	if (clients)
		clients->prev = c;
	clients = c;
	set_event(c->rev, &c->reading, true, NULL);
	event_add(c->idle, tv_idle);
	if (++nclients >= max_clients && !accept_paused) {
		log_warn("%u client connections: not accepting more until one closes", nclients);
		evconnlistener_disable(l);
		accept_paused = true;
	}
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and the like: the connection waits in the backlog */
	log_warn("accept: %s", strerror(errno));
}

/* At exit: every connection (idle ones are freed with their endpoints). */
static void free_connections(void)
{
	while (busy_ups) {
		struct upconn *u = busy_ups;
		list_unlink_up(&busy_ups, u);
		demo_endpoint_release(u->ep);
		if (u->c)
			u->c->up = NULL;
		upconn_free(u);
	}
	while (clients)
		client_free(clients);
}

static void on_child_exit(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		log_error("gateway worker %d exited (status 0x%x): stopping the gateway", (int)pid,
			  status);
		exit_code = 1;
		event_base_loopbreak(arg);
	}
}

/* Fork the workers 1..n-1 (the caller is worker 0); each child gets SIGTERM
 * when the first process goes. Returns the children's pids. */
static pid_t *start_workers(int n)
{
	pid_t parent = getpid();
	pid_t *kids = xcalloc((size_t)n, sizeof(*kids));

	for (int i = 1; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			log_error_errno(-errno, "fork of gateway worker %d: %m", i);
			exit(1);
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(0);
			worker_index = i;
			free(kids);
			return NULL;
		}
		kids[i] = pid;
	}
	return kids;
}

static void add_route(const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1]) {
		log_error("route '%s' is not PREFIX=SERVICE (e.g. /users/=users)", spec);
		exit(2);
	}
	routes = xrealloc(routes, (nroutes + 1) * sizeof(*routes));
	struct route *r = &routes[nroutes++];
	*r = (struct route){ 0 };
	r->prefix = xstrndup(spec, (size_t)(eq - spec));
	r->prefix_len = strlen(r->prefix);
	r->service = xstrdup(eq + 1);
}

static void add_routes(const char *list)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		add_route(t);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "route", required_argument, NULL, 'r' },
		{ "retries", required_argument, NULL, 'R' },
		{ "eject-ms", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "conns", required_argument, NULL, 'c' },
		{ "workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *deflisten = xasprintf("0.0.0.0:%s", demo_env("PORT", "8080"));
	const char *listen = deflisten;
	int timeout_s = 3, conns = 64, c;

	while ((c = getopt_long(argc, argv, "l:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'r':
			add_route(optarg);
			break;
		case 'R':
			max_retries = (int)demo_parse_num("--retries", optarg);
			break;
		case 'e':
			eject_ms = (int)demo_parse_num("--eject-ms", optarg);
			break;
		case 't':
			timeout_s = (int)demo_parse_num("--timeout", optarg);
			break;
		case 'c':
			conns = (int)demo_parse_num("--conns", optarg);
			break;
		case 'w':
			nworkers = (int)demo_parse_num("--workers", optarg);
			break;
		default:
			fprintf(
			    stderr,
			    "usage: gateway [--listen IP:PORT] [--route PREFIX=SERVICE]... "
			    "[--retries N] [--eject-ms MS] [--timeout S] [--conns N] [--workers N]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (nroutes == 0)
		add_routes(demo_env("GATEWAY_ROUTES", "/users/=users,/orders/=orders"));
	if (nworkers == 1 && getenv("GATEWAY_WORKERS"))
		nworkers = (int)demo_parse_num("GATEWAY_WORKERS", getenv("GATEWAY_WORKERS"));
	if (nworkers < 1 || nworkers > 64) {
		log_error("--workers %d: must be 1..64", nworkers);
		return 2;
	}

	/* the counters (totals, then one per route), shared by the workers */
	size_t csize = (nroutes + 1) * sizeof(struct counters);
	struct counters *ctr =
	    mmap(NULL, csize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctr == MAP_FAILED) {
		log_error_errno(-errno, "shared counters: %m");
		return 1;
	}
	totals = &ctr[0];
	for (unsigned i = 0; i < nroutes; i++)
		routes[i].c = &ctr[i + 1];
	pid_t *kids = nworkers > 1 ? start_workers(nworkers) : NULL;

	evb = demo_base_new("gateway");
	tv_upstream = event_base_init_common_timeout(evb, &(struct timeval){ timeout_s, 0 });
	tv_idle = event_base_init_common_timeout(evb, &(struct timeval){ IDLE_TIMEOUT, 0 });
	max_idle = (unsigned)conns;
	struct event *sigchld = NULL;
	if (kids) {
		sigchld = evsignal_new(evb, SIGCHLD, on_child_exit, evb);
		event_add(sigchld, NULL);
	}
	for (unsigned i = 0; i < nroutes; i++) {
		routes[i].up =
		    demo_upstream_new(evb, routes[i].service, timeout_s, (unsigned)conns);
		demo_upstream_share_rr(routes[i].up, &routes[i].c->rr);
		demo_upstream_on_free(routes[i].up, pool_free);
		if (worker_index == 0)
			log_info("route %s -> %s (%s)", routes[i].prefix, routes[i].service,
				 demo_upstream_spec(routes[i].up));
	}
	int fd = demo_listen_fd(listen, nworkers > 1);
	struct rlimit rl;
	max_clients = 4096;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rl.rlim_cur - 32) / 2 < max_clients)
		max_clients = rl.rlim_cur > 64 ? (unsigned)(rl.rlim_cur - 32) / 2 : 16;
	struct evconnlistener *lis =
	    fd < 0 ? NULL
		   : evconnlistener_new(evb, on_accept, NULL,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	listener = lis;
	if (lis) {
		evconnlistener_set_error_cb(lis, on_accept_error);
		log_info("at most %u client connections", max_clients);
	}
	if (!lis) {
		if (fd >= 0)
			close(fd);
		exit_code = 1;
	} else {
		event_base_dispatch(evb);
		evconnlistener_free(lis);
		listener = NULL;
	}
	free_connections();
	for (unsigned i = 0; i < nroutes; i++)
		demo_upstream_free(routes[i].up);
	if (sigchld)
		event_free(sigchld);
	demo_base_free(evb);
	if (kids) {
		for (int i = 1; i < nworkers; i++)
			if (kids[i] > 0)
				kill(kids[i], SIGTERM);
		for (int i = 1; i < nworkers; i++)
			if (kids[i] > 0)
				waitpid(kids[i], NULL, 0);
		free(kids);
	}
	munmap(ctr, csize);
	return exit_code;
}
