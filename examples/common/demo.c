/* demo.c — loop, HTTP/JSON helpers and service discovery for the demo programs. */
#include "demo.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

/* --- process ---------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(arg);
}

static struct event *sig_events[2];

struct event_base *demo_base_new(const char *component)
{
	struct event_base *base;

	skiff_log_set_component(component);
	const char *lvl = getenv("DEMO_LOG_LEVEL");
	enum skiff_log_level l;
	if (lvl && skiff_log_parse_level(lvl, &l) == 0)
		skiff_log_set_level(l);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/* The changelist coalesces the many enable/disable calls of evhttp's
	 * bufferevents into one epoll_ctl per fd and loop iteration (we never
	 * dup() a watched fd, the case the changelist cannot handle). */
	struct event_config *cfg = event_config_new();
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!base) {
		log_error("cannot create the event loop");
		exit(1);
	}
	event_base_priority_init(base, 3);
	sig_events[0] = evsignal_new(base, SIGINT, on_signal, base);
	sig_events[1] = evsignal_new(base, SIGTERM, on_signal, base);
	event_add(sig_events[0], NULL);
	event_add(sig_events[1], NULL);
	return base;
}

void demo_base_free(struct event_base *base)
{
	for (int i = 0; i < 2; i++) {
		if (sig_events[i])
			event_free(sig_events[i]);
		sig_events[i] = NULL;
	}
	event_base_free(base);
}

const char *demo_pod_name(void)
{
	static char host[256];
	const char *p = getenv("SKIFF_POD_NAME");

	if (p && *p)
		return p;
	if (!host[0] && gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "unknown");
	return host;
}

const char *demo_env(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

int demo_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	const char *p = colon ? colon + 1 : s;
	uint32_t n;

	if (skiff_parse_uint32(p, &n) < 0 || n == 0 || n > 65535)
		return -EINVAL;
	if (colon && colon != s) {
		size_t len = (size_t)(colon - s);
		if (len >= hostlen)
			return -EINVAL;
		memcpy(host, s, len);
		host[len] = 0;
	} else {
		snprintf(host, hostlen, "0.0.0.0");
	}
	*port = (uint16_t)n;
	return 0;
}

int64_t demo_parse_num(const char *opt, const char *value)
{
	int64_t n;
	if (!value || skiff_parse_int64(value, &n) < 0 || n < 0) {
		log_error("option %s: '%s' is not a non-negative integer", opt, value ? value : "");
		exit(2);
	}
	return n;
}

struct evhttp *demo_http_listen(struct event_base *base, const char *listen)
{
	return demo_http_listen_shared(base, listen, false);
}

/* A listening socket; with reuseport, processes that each bind one share the
 * incoming connections (the kernel spreads them). Returns the fd or -errno. */
static int listen_socket(const char *host, uint16_t port, bool reuseport)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, r;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int demo_listen_fd(const char *listen, bool reuseport)
{
	char host[64];
	uint16_t port;

	if (demo_parse_hostport(listen, host, sizeof(host), &port) < 0) {
		log_error("listen address '%s' is not IP:PORT", listen);
		return -EINVAL;
	}
	int fd = listen_socket(host, port, reuseport);
	if (fd < 0)
		return log_error_errno(fd, "cannot listen on %s:%u%s: %m", host, port,
				       reuseport ? " (SO_REUSEPORT)" : "");
	log_info("listening on http://%s:%u", host, port);
	return fd;
}

struct evhttp *demo_http_listen_shared(struct event_base *base, const char *listen, bool reuseport)
{
	char host[64];
	uint16_t port;
	struct evhttp *http;

	if (demo_parse_hostport(listen, host, sizeof(host), &port) < 0) {
		log_error("listen address '%s' is not IP:PORT", listen);
		return NULL;
	}
	http = evhttp_new(base);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(http, 1 << 20);
	evhttp_set_max_headers_size(http, 64 << 10);
	evhttp_set_timeout(http, 120);
	if (reuseport) {
		int fd = listen_socket(host, port, true);
		if (fd < 0 || !evhttp_accept_socket_with_handle(http, fd)) {
			log_error("cannot listen on %s:%u (SO_REUSEPORT): %s", host, port,
				  strerror(fd < 0 ? -fd : errno));
			if (fd >= 0)
				close(fd);
			evhttp_free(http);
			return NULL;
		}
	} else if (!evhttp_bind_socket_with_handle(http, host, port)) {
		log_error("cannot listen on %s:%u: %s", host, port, strerror(errno));
		evhttp_free(http);
		return NULL;
	}
	log_info("listening on http://%s:%u", host, port);
	return http;
}

/* --- HTTP/JSON helpers ------------------------------------------------------ */

void demo_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	json_t *b = body ? body : json_object();
	char *s = json_dumps(b, JSON_COMPACT);

	evbuffer_add(out, s, strlen(s));
	evbuffer_add(out, "\n", 1);
	free(s);
	json_decref(b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, NULL, out);
	evbuffer_free(out);
}

void demo_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	demo_reply_json(req, code, json_pack("{s:s}", "error", msg));
}

bool demo_valid_name(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 80)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

bool demo_handle_healthz(struct evhttp_request *req, const char *path)
{
	if (!streq(path, "/healthz"))
		return false;
	demo_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
	return true;
}

struct sync_reply {
	struct evhttp_request *req;
	int code;
	json_t *body;
	void (*then)(void *arg);
	void *arg;
};

static void reply_after_sync(int err, void *arg)
{
	struct sync_reply *p = arg;
	if (err < 0) {
		json_decref(p->body);
		demo_reply_error(p->req, 500, "cannot write the log: %s", strerror(-err));
	} else {
		demo_reply_json(p->req, p->code, p->body);
		if (p->then)
			p->then(p->arg);
	}
	free(p);
}

void demo_log_sync_reply(struct demo_log *l, struct evhttp_request *req, int code, json_t *body,
			 void (*then)(void *arg), void *arg)
{
	struct sync_reply *p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->code = code;
	p->body = body;
	p->then = then;
	p->arg = arg;
	demo_log_sync(l, reply_after_sync, p);
}

static char *buffer_string(struct evbuffer *buf, size_t *ret_len)
{
	size_t len = buf ? evbuffer_get_length(buf) : 0;
	char *s = xmalloc(len + 1);

	if (len)
		evbuffer_copyout(buf, s, len);
	s[len] = 0;
	if (ret_len)
		*ret_len = len;
	return s;
}

char *demo_request_body(struct evhttp_request *req, size_t *ret_len)
{
	return buffer_string(evhttp_request_get_input_buffer(req), ret_len);
}

char *demo_request_path(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char *dec;

	if (!path || !*path)
		path = "/";
	dec = evhttp_uridecode(path, 0, NULL);
	return dec ? dec : xstrdup(path);
}

char *demo_query_str(struct evhttp_request *req, const char *key)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	char *r = NULL;

	if (!q)
		return NULL;
	TAILQ_INIT(&params);
	if (evhttp_parse_query_str(q, &params) == 0) {
		const char *v = evhttp_find_header(&params, key);
		if (v)
			r = xstrdup(v);
	}
	evhttp_clear_headers(&params);
	return r;
}

int demo_query_int(struct evhttp_request *req, const char *key, int64_t def, int64_t *ret)
{
	_cleanup_free_ char *v = demo_query_str(req, key);

	if (!v) {
		*ret = def;
		return 0;
	}
	return skiff_parse_int64(v, ret);
}

const char *demo_method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

/* --- service discovery and client connections ------------------------------- */

struct demo_conn {
	struct evhttp_connection *evcon;
	unsigned inflight;
};

struct demo_upstream {
	struct event_base *base;
	char *spec;
	char *file; /* NULL for a fixed list */
	struct stat st;
	bool have_st;
	int64_t checked_ms; /* the file is stat'ed at most once per millisecond */
	int timeout_s;
	unsigned max_conns;
	struct demo_endpoint **eps; /* current endpoints, file order */
	unsigned neps;
	uint64_t rr_local;
	uint64_t *rr; /* the round-robin counter: rr_local, or shared by processes */
	struct demo_endpoint *retired; /* removed but still busy */
	void (*on_free)(struct demo_endpoint *ep);
	struct demo_call *calls; /* in flight; freed with the upstream (at exit) */
};

static struct demo_endpoint *endpoint_new(struct demo_upstream *u, const char *host, uint16_t port)
{
	struct demo_endpoint *ep = xcalloc(1, sizeof(*ep));

	snprintf(ep->host, sizeof(ep->host), "%s", host);
	ep->port = port;
	snprintf(ep->name, sizeof(ep->name), "%s:%u", host, port);
	ep->up = u;
	ep->conns = xcalloc(u->max_conns, sizeof(*ep->conns));
	return ep;
}

static void endpoint_free(struct demo_endpoint *ep)
{
	if (ep->up->on_free)
		ep->up->on_free(ep);
	for (unsigned i = 0; i < ep->nconns; i++)
		evhttp_connection_free(ep->conns[i].evcon);
	free(ep->conns);
	free(ep);
}

static void retire(struct demo_upstream *u, struct demo_endpoint *ep)
{
	if (ep->inflight == 0) {
		endpoint_free(ep);
		return;
	}
	ep->retired = true;
	ep->next = u->retired;
	u->retired = ep;
}

static void reap_retired(struct demo_upstream *u)
{
	struct demo_endpoint **pp = &u->retired;
	while (*pp) {
		struct demo_endpoint *ep = *pp;
		if (ep->inflight == 0) {
			*pp = ep->next;
			endpoint_free(ep);
		} else {
			pp = &ep->next;
		}
	}
}

/* Replace the endpoint set with the "IP:PORT" items in text (separated by
 * newlines, commas or spaces), keeping the connections of endpoints that stay. */
static void set_endpoints(struct demo_upstream *u, const char *text)
{
	struct demo_endpoint **neweps = NULL;
	unsigned n = 0;
	_cleanup_free_ char *copy = xstrdup(text);
	char *save = NULL;

	for (char *tok = strtok_r(copy, ", \t\r\n", &save); tok;
	     tok = strtok_r(NULL, ", \t\r\n", &save)) {
		char host[64];
		uint16_t port;
		if (skiff_startswith(tok, "http://"))
			tok += 7;
		char *slash = strchr(tok, '/');
		if (slash)
			*slash = 0;
		if (demo_parse_hostport(tok, host, sizeof(host), &port) < 0) {
			log_warn("%s: ignoring '%s' (not IP:PORT)", u->file ? u->file : u->spec,
				 tok);
			continue;
		}
		struct demo_endpoint *ep = NULL;
		for (unsigned i = 0; i < u->neps; i++) {
			if (u->eps[i] && streq(u->eps[i]->host, host) && u->eps[i]->port == port) {
				ep = u->eps[i];
				u->eps[i] = NULL;
				break;
			}
		}
		if (!ep) {
			bool dup = false;
			for (unsigned i = 0; i < n; i++)
				dup = dup ||
				      (streq(neweps[i]->host, host) && neweps[i]->port == port);
			if (dup)
				continue;
			ep = endpoint_new(u, host, port);
		}
		neweps = xrealloc(neweps, (n + 1) * sizeof(*neweps));
		neweps[n++] = ep;
	}
	for (unsigned i = 0; i < u->neps; i++)
		if (u->eps[i])
			retire(u, u->eps[i]);
	free(u->eps);
	u->eps = neweps;
	u->neps = n;
	/* the counter goes on: picks take it modulo the new number of endpoints */
}

unsigned demo_upstream_refresh(struct demo_upstream *u)
{
	struct stat st;
	_cleanup_free_ char *text = NULL;

	if (!u->file)
		return u->neps;
	int64_t now = skiff_mono_ms();
	if (u->checked_ms == now && u->have_st)
		return u->neps;
	u->checked_ms = now;
	if (stat(u->file, &st) < 0) {
		if (u->have_st || u->neps) {
			log_warn("endpoints file %s: %m; no endpoints", u->file);
			set_endpoints(u, "");
		}
		u->have_st = false;
		return 0;
	}
	if (u->have_st && st.st_ino == u->st.st_ino && st.st_size == u->st.st_size &&
	    st.st_mtim.tv_sec == u->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == u->st.st_mtim.tv_nsec)
		return u->neps;
	if (skiff_read_file(u->file, 1 << 20, &text, NULL) < 0)
		return u->neps;
	u->st = st;
	u->have_st = true;
	set_endpoints(u, text);
	log_info("endpoints of %s: %u (%s)", u->spec, u->neps, u->file);
	return u->neps;
}

static bool is_fixed_list(const char *spec)
{
	/* "IP:PORT..." or "http://..." (a service name has no ':') */
	return strchr(spec, ':') != NULL;
}

static char *service_file(const char *name)
{
	_cleanup_free_ char *var = xasprintf("%s_SERVICE_ENDPOINTS", name);
	for (char *p = var; *p; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	const char *v = getenv(var);
	if (v && *v)
		return xstrdup(v);
	return xasprintf("%s/%s", demo_env("SKIFF_ENDPOINTS_DIR", "/etc/skiff/endpoints"), name);
}

struct demo_upstream *demo_upstream_new(struct event_base *base, const char *spec, int timeout_s,
					unsigned max_conns)
{
	struct demo_upstream *u = xcalloc(1, sizeof(*u));

	u->base = base;
	u->rr = &u->rr_local;
	u->spec = xstrdup(spec);
	u->timeout_s = timeout_s > 0 ? timeout_s : 10;
	u->max_conns = max_conns ? max_conns : 1;
	if (spec[0] == '/')
		u->file = xstrdup(spec);
	else if (is_fixed_list(spec))
		set_endpoints(u, spec);
	else
		u->file = service_file(spec);
	demo_upstream_refresh(u);
	return u;
}

void demo_upstream_free(struct demo_upstream *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < u->neps; i++)
		endpoint_free(u->eps[i]);
	while (u->retired) {
		struct demo_endpoint *ep = u->retired;
		u->retired = ep->next;
		endpoint_free(ep);
	}
	/* freeing the connections dropped their requests without callbacks */
	while (u->calls) {
		struct demo_call *c = u->calls;
		u->calls = c->next;
		free(c);
	}
	free(u->eps);
	free(u->spec);
	free(u->file);
	free(u);
}

const char *demo_upstream_spec(const struct demo_upstream *u)
{
	return u->file ? u->file : u->spec;
}

struct demo_endpoint *demo_upstream_pick(struct demo_upstream *u, const struct demo_endpoint *avoid)
{
	int64_t now = skiff_mono_ms();
	struct demo_endpoint *fallback = NULL;

	demo_upstream_refresh(u);
	if (u->neps == 0)
		return NULL;
	for (unsigned i = 0; i < u->neps; i++) {
		/* relaxed is enough: every pick takes the next number exactly once */
		uint64_t k = __atomic_fetch_add(u->rr, 1, __ATOMIC_RELAXED);
		struct demo_endpoint *ep = u->eps[k % u->neps];
		if (ep == avoid && u->neps > 1)
			continue;
		if (ep->down_until_ms > now) {
			if (!fallback)
				fallback = ep;
			continue;
		}
		return ep;
	}
	return fallback ? fallback : u->eps[0];
}

const struct demo_endpoint *demo_upstream_endpoint(const struct demo_upstream *u, unsigned i)
{
	return i < u->neps ? u->eps[i] : NULL;
}

void demo_upstream_share_rr(struct demo_upstream *u, uint64_t *counter)
{
	u->rr = counter;
}

void demo_endpoint_mark_down(struct demo_endpoint *ep, int ms)
{
	ep->down_until_ms = skiff_mono_ms() + ms;
}

void demo_endpoint_hold(struct demo_endpoint *ep)
{
	ep->inflight++;
}

void demo_endpoint_release(struct demo_endpoint *ep)
{
	ep->inflight--;
	if (ep->retired && ep->inflight == 0)
		reap_retired(ep->up);
}

void demo_upstream_on_free(struct demo_upstream *u, void (*fn)(struct demo_endpoint *ep))
{
	u->on_free = fn;
}

static struct demo_conn *pick_conn(struct demo_endpoint *ep)
{
	struct demo_upstream *u = ep->up;
	struct demo_conn *best = NULL;

	for (unsigned i = 0; i < ep->nconns; i++)
		if (!best || ep->conns[i].inflight < best->inflight)
			best = &ep->conns[i];
	if ((!best || best->inflight > 0) && ep->nconns < u->max_conns) {
		best = &ep->conns[ep->nconns++];
		best->evcon = evhttp_connection_base_new(u->base, NULL, ep->host, ep->port);
		evhttp_connection_set_timeout(best->evcon, u->timeout_s);
		evhttp_connection_set_retries(best->evcon, 0);
		evhttp_connection_set_max_body_size(best->evcon, 16 << 20);
	}
	return best;
}

static void call_done(struct evhttp_request *resp, void *arg)
{
	struct demo_call *c = arg;
	struct demo_endpoint *ep = c->ep;

	struct demo_upstream *u = ep->up;
	if (c->prev)
		c->prev->next = c->next;
	else
		u->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->conn->inflight--;
	ep->inflight--;
	c->cb(resp, ep, c->arg);
	free(c);
	if (ep->retired && ep->inflight == 0)
		reap_retired(ep->up);
}

struct demo_call *demo_endpoint_request(struct demo_endpoint *ep, demo_reply_fn cb, void *arg)
{
	struct demo_call *c = xcalloc(1, sizeof(*c));

	c->ep = ep;
	c->cb = cb;
	c->arg = arg;
	c->next = ep->up->calls;
	if (c->next)
		c->next->prev = c;
	ep->up->calls = c;
	c->req = evhttp_request_new(call_done, c);
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Host", ep->name);
	return c;
}

void demo_call_send(struct demo_call *c, enum evhttp_cmd_type type, const char *uri)
{
	c->conn = pick_conn(c->ep);
	c->conn->inflight++;
	c->ep->inflight++;
	if (evhttp_make_request(c->conn->evcon, c->req, type, uri) < 0) {
		/* libevent has dropped the request; report the failure ourselves */
		call_done(NULL, c);
	}
}

struct demo_endpoint *demo_upstream_call(struct demo_upstream *u, enum evhttp_cmd_type type,
					 const char *uri, const char *body, size_t len,
					 demo_reply_fn cb, void *arg)
{
	struct demo_endpoint *ep = demo_upstream_pick(u, NULL);
	struct demo_call *c;

	if (!ep) {
		cb(NULL, NULL, arg);
		return NULL;
	}
	c = demo_endpoint_request(ep, cb, arg);
	if (body) {
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type",
				  "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(c->req), body, len);
	}
	demo_call_send(c, type, uri);
	return ep;
}

int demo_response_code(struct evhttp_request *resp)
{
	return resp ? evhttp_request_get_response_code(resp) : 0;
}

json_t *demo_response_json(struct evhttp_request *resp)
{
	if (!resp || !evhttp_request_get_response_code(resp))
		return NULL;
	_cleanup_free_ char *s = buffer_string(evhttp_request_get_input_buffer(resp), NULL);
	return json_loads(s, JSON_DECODE_ANY, NULL);
}
