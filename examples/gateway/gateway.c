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
 * that vanished without a reset costs one slow request, not many. GET /gateway/status shows routes, endpoints and counters;
 * GET /healthz is the readiness probe.
 *
 *   gateway [--listen IP:PORT] [--route PREFIX=SERVICE]... [--retries N]
 *           [--eject-ms MS] [--timeout S] [--conns N]
 *   env: PORT (default 8080), GATEWAY_ROUTES ("/users/=users,/orders/=orders"),
 *        <SERVICE>_SERVICE_ENDPOINTS or SKIFF_ENDPOINTS_DIR for discovery.
 * SERVICE may also be a fixed "IP:PORT,IP:PORT" list.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

struct route {
	char *prefix;
	char *service;
	struct demo_upstream *up;
	uint64_t requests, retries, failures;
};

static struct route *routes;
static unsigned nroutes;
static int max_retries = 3;
static int eject_ms = 2000;
static uint64_t total_requests, total_failures;

struct proxied {
	struct evhttp_request *client;
	struct route *route;
	enum evhttp_cmd_type method;
	char *uri;
	struct evbuffer *body;
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
	free(p->uri);
	evbuffer_free(p->body);
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
			p->route->retries++;
			p->last = ep;
			forward(p);
			return;
		}
		p->route->failures++;
		total_failures++;
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
		p->route->failures++;
		total_failures++;
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
			struct demo_endpoint *ep = demo_upstream_pick(r->up, NULL);
			json_array_append_new(eps, json_string(ep->name));
		}
		json_array_append_new(
		    rs, json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:I}", "prefix", r->prefix, "service",
				  r->service, "source", demo_upstream_spec(r->up), "endpoints", eps,
				  "requests", (json_int_t)r->requests, "retries",
				  (json_int_t)r->retries, "failures", (json_int_t)r->failures));
	}
	demo_reply_json(req, 200,
			json_pack("{s:s,s:I,s:I,s:o}", "pod", demo_pod_name(), "requests",
				  (json_int_t)total_requests, "failures",
				  (json_int_t)total_failures, "routes", rs));
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
	total_requests++;
	if (!best) {
		total_failures++;
		demo_reply_error(req, 404, "no route for %s", path);
		return;
	}
	best->requests++;
	struct proxied *p = xcalloc(1, sizeof(*p));
	p->client = req;
	p->route = best;
	p->method = evhttp_request_get_command(req);
	p->uri = xstrdup(uri);
	p->body = evbuffer_new();
	evbuffer_add_buffer(p->body, evhttp_request_get_input_buffer(req));
	forward(p);
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
		default:
			fprintf(stderr,
				"usage: gateway [--listen IP:PORT] [--route PREFIX=SERVICE]... "
				"[--retries N] [--eject-ms MS] [--timeout S] [--conns N]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (nroutes == 0)
		add_routes(demo_env("GATEWAY_ROUTES", "/users/=users,/orders/=orders"));

	struct event_base *base = demo_base_new("gateway");
	for (unsigned i = 0; i < nroutes; i++) {
		routes[i].up =
		    demo_upstream_new(base, routes[i].service, timeout_s, (unsigned)conns);
		log_info("route %s -> %s (%s)", routes[i].prefix, routes[i].service,
			 demo_upstream_spec(routes[i].up));
	}
	struct evhttp *http = demo_http_listen(base, listen);
	if (!http)
		return 1;
	evhttp_set_gencb(http, handle, NULL);
	event_base_dispatch(base);
	evhttp_free(http);
	for (unsigned i = 0; i < nroutes; i++)
		demo_upstream_free(routes[i].up);
	demo_base_free(base);
	return 0;
}
