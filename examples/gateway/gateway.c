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
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

/* A route's counters; with --workers they live in shared memory. */
struct counters {
	uint64_t rr; /* the round-robin position */
	uint64_t requests, retries, failures;
};

struct route {
	char *prefix;
	char *service;
	struct demo_upstream *up;
	struct counters *c;
};

#define COUNT(x) __atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define READ(x)	 ((json_int_t)__atomic_load_n(&(x), __ATOMIC_RELAXED))

static struct route *routes;
static unsigned nroutes;
static int max_retries = 3;
static int eject_ms = 2000;
static struct counters *totals; /* rr unused */
static int nworkers = 1, worker_index;
static int exit_code;

struct proxied {
	struct evhttp_request *client;
	struct route *route;
	enum evhttp_cmd_type method;
	const char *uri;       /* the client request's, valid until its reply */
	struct evbuffer *body; /* the client request's input buffer, likewise */
	int attempts;
	struct demo_endpoint *last;
};

static bool idempotent(enum evhttp_cmd_type m)
{
	return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD || m == EVHTTP_REQ_PUT ||
	       m == EVHTTP_REQ_DELETE || m == EVHTTP_REQ_OPTIONS;
}

static bool hop_by_hop(const char *h)
{
	static const char *const names[] = { "Connection",
					     "Keep-Alive",
					     "Proxy-Authenticate",
					     "Proxy-Authorization",
					     "TE",
					     "Trailer",
					     "Transfer-Encoding",
					     "Upgrade",
					     "Content-Length",
					     "Host" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(h, names[i]) == 0)
			return true;
	return false;
}

static void copy_headers(struct evkeyvalq *from, struct evkeyvalq *to)
{
	for (struct evkeyval *kv = from->tqh_first; kv; kv = kv->next.tqe_next)
		if (!hop_by_hop(kv->key))
			evhttp_add_header(to, kv->key, kv->value);
}

static void proxied_free(struct proxied *p)
{
	free(p);
}

static void forward(struct proxied *p);

static void on_reply(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg)
{
	struct proxied *p = arg;
	int code = demo_response_code(resp);

	if (code == 0) {
		/* the endpoint refused, reset, timed out or died mid-request: skip it
		 * for eject-ms, doubling with each consecutive failure (at most 16x) */
		demo_endpoint_mark_down(ep, eject_ms << (ep->fails < 4 ? ep->fails : 4));
		ep->fails++;
		log_warn("%s %s: endpoint %s failed (attempt %d)", demo_method_name(p->method),
			 p->uri, ep->name, p->attempts);
		if (idempotent(p->method) && p->attempts <= max_retries) {
			COUNT(p->route->c->retries);
			p->last = ep;
			forward(p);
			return;
		}
		COUNT(p->route->c->failures);
		COUNT(totals->failures);
		demo_reply_error(p->client, 502, "upstream %s (%s) failed", p->route->service,
				 ep->name);
		proxied_free(p);
		return;
	}
	ep->fails = 0;
	struct evkeyvalq *out = evhttp_request_get_output_headers(p->client);
	copy_headers(evhttp_request_get_input_headers(resp), out);
	evhttp_add_header(out, "X-Upstream", ep->name);
	evhttp_send_reply(p->client, code, evhttp_request_get_response_code_line(resp),
			  evhttp_request_get_input_buffer(resp));
	proxied_free(p);
}

static void forward(struct proxied *p)
{
	struct demo_endpoint *ep = demo_upstream_pick(p->route->up, p->last);
	struct demo_call *c;
	struct evhttp_request *req;

	if (!ep) {
		COUNT(p->route->c->failures);
		COUNT(totals->failures);
		demo_reply_error(p->client, 503, "service %s has no ready endpoint",
				 p->route->service);
		proxied_free(p);
		return;
	}
	p->attempts++;
	c = demo_endpoint_request(ep, on_reply, p);
	req = c->req;
	copy_headers(evhttp_request_get_input_headers(p->client),
		     evhttp_request_get_output_headers(req));
	char *peer = NULL;
	ev_uint16_t peer_port = 0;
	struct evhttp_connection *cc = evhttp_request_get_connection(p->client);
	if (cc)
		evhttp_connection_get_peer(cc, &peer, &peer_port);
	if (peer)
		evhttp_add_header(evhttp_request_get_output_headers(req), "X-Forwarded-For", peer);
	size_t blen = evbuffer_get_length(p->body);
	if (blen)
		evbuffer_add(evhttp_request_get_output_buffer(req), evbuffer_pullup(p->body, -1),
			     blen);
	demo_call_send(c, p->method, p->uri);
}

static void status(struct evhttp_request *req)
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
	demo_reply_json(req, 200,
			json_pack("{s:s,s:i,s:i,s:I,s:I,s:o}", "pod", demo_pod_name(), "worker",
				  worker_index, "workers", nworkers, "requests",
				  READ(totals->requests), "failures", READ(totals->failures),
				  "routes", rs));
}

static void handle(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const char *uri = evhttp_request_get_uri(req);
	_cleanup_free_ char *path = demo_request_path(req);
	struct route *best = NULL;

	if (streq(path, "/healthz")) {
		demo_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (streq(path, "/gateway/status")) {
		status(req);
		return;
	}
	for (unsigned i = 0; i < nroutes; i++)
		if (skiff_startswith(path, routes[i].prefix) &&
		    (!best || strlen(routes[i].prefix) > strlen(best->prefix)))
			best = &routes[i];
	COUNT(totals->requests);
	if (!best) {
		COUNT(totals->failures);
		demo_reply_error(req, 404, "no route for %s", path);
		return;
	}
	COUNT(best->c->requests);
	struct proxied *p = xcalloc(1, sizeof(*p));
	p->client = req;
	p->route = best;
	p->method = evhttp_request_get_command(req);
	p->uri = uri;
	p->body = evhttp_request_get_input_buffer(req);
	forward(p);
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

	struct event_base *base = demo_base_new("gateway");
	struct event *sigchld = NULL;
	if (kids) {
		sigchld = evsignal_new(base, SIGCHLD, on_child_exit, base);
		event_add(sigchld, NULL);
	}
	for (unsigned i = 0; i < nroutes; i++) {
		routes[i].up =
		    demo_upstream_new(base, routes[i].service, timeout_s, (unsigned)conns);
		demo_upstream_share_rr(routes[i].up, &routes[i].c->rr);
		if (worker_index == 0)
			log_info("route %s -> %s (%s)", routes[i].prefix, routes[i].service,
				 demo_upstream_spec(routes[i].up));
	}
	struct evhttp *http = demo_http_listen_shared(base, listen, nworkers > 1);
	if (!http)
		exit_code = 1;
	else {
		evhttp_set_gencb(http, handle, NULL);
		event_base_dispatch(base);
		evhttp_free(http);
	}
	for (unsigned i = 0; i < nroutes; i++)
		demo_upstream_free(routes[i].up);
	if (sigchld)
		event_free(sigchld);
	demo_base_free(base);
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
