/* demo.h — what the Skiff demo programs share.
 *
 * Every demo program is one libevent loop that speaks HTTP/JSON through
 * evhttp (server and client) and jansson. This header gives them:
 *
 *  - the loop, signal handling and an HTTP listener (demo_base_new, demo_http_listen),
 *  - JSON request/response helpers (demo_reply_json, demo_request_json, ...),
 *  - service discovery: a struct demo_upstream is the set of endpoints of one
 *    service, read from the endpoints file the Skiff agent maintains
 *    (/etc/skiff/endpoints/<service>, one "IP:PORT" per line, replaced
 *    atomically) and re-read when the file changes (a stat per pick, at most
 *    one per millisecond), or a
 *    fixed "IP:PORT[,IP:PORT...]" list; each endpoint keeps a small pool of
 *    keep-alive evhttp client connections,
 *  - a durable append-only record log with group commit (demo_log, dlog.c).
 */
#ifndef SKIFF_DEMO_H
#define SKIFF_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

/* --- process ---------------------------------------------------------------- */

/* Loop with 3 priorities (the log flush runs at the lowest), SIGINT/SIGTERM
 * ending it, SIGPIPE ignored, line-buffered stdout. */
struct event_base *demo_base_new(const char *component);
/* Free the loop and the signal events of demo_base_new(). */
void demo_base_free(struct event_base *base);
/* SKIFF_POD_NAME, else the host name. */
const char *demo_pod_name(void);
/* getenv() with a default. */
const char *demo_env(const char *name, const char *def);
/* "IP:PORT", ":PORT" or "PORT" (host defaults to 0.0.0.0). 0 or -EINVAL. */
int demo_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Bind an evhttp server on "IP:PORT"; all methods allowed, 1 MiB bodies,
 * 120 s idle timeout. Logs and returns NULL on failure. */
struct evhttp *demo_http_listen(struct event_base *base, const char *listen);
/* Like demo_http_listen; with reuseport, the socket has SO_REUSEPORT so that
 * worker processes listening on the same address share its connections. */
struct evhttp *demo_http_listen_shared(struct event_base *base, const char *listen, bool reuseport);
/* A listening TCP socket (non-blocking, SO_REUSEADDR, and SO_REUSEPORT when
 * asked) on "IP:PORT": the fd, or -errno after logging one line. */
int demo_listen_fd(const char *listen, bool reuseport);
/* Parse a positive integer option value or die with one clear line. */
int64_t demo_parse_num(const char *opt, const char *value);

/* --- HTTP/JSON helpers ------------------------------------------------------ */

/* Send body (consumed, may be NULL for "{}") as application/json. */
void demo_reply_json(struct evhttp_request *req, int code, json_t *body);
/* {"error": "..."} with the given status. */
void demo_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A resource name (queue, topic, subscription): 1-80 of [A-Za-z0-9._-]. */
bool demo_valid_name(const char *n);
/* {"ok":true} to GET /healthz (the readiness probe); true when path was it. */
bool demo_handle_healthz(struct evhttp_request *req, const char *path);
/* The request body as a malloc'd NUL-terminated string (never NULL). */
char *demo_request_body(struct evhttp_request *req, size_t *ret_len);
/* The decoded path of the request URI (malloc'd), without the query. */
char *demo_request_path(struct evhttp_request *req);
/* An integer query parameter (def when absent; -EINVAL when malformed). */
int demo_query_int(struct evhttp_request *req, const char *key, int64_t def, int64_t *ret);
/* A string query parameter (malloc'd) or NULL. */
char *demo_query_str(struct evhttp_request *req, const char *key);
const char *demo_method_name(enum evhttp_cmd_type t);

/* --- service discovery and client connections ------------------------------- */

struct demo_endpoint {
	char host[64];
	uint16_t port;
	char name[80];	       /* "IP:PORT" */
	int64_t down_until_ms; /* passive health: skipped until then after a failure */
	unsigned fails;	       /* consecutive failures (callers reset it on success) */
	unsigned inflight;
	bool retired; /* gone from the endpoints file; freed once idle */
	struct demo_conn *conns;
	unsigned nconns;
	struct demo_upstream *up;
	struct demo_endpoint *next;
	void *data; /* the caller's (e.g. its own connection pool); see demo_upstream_on_free */
};

struct demo_upstream;

/* spec: a service name (its endpoints file is $NAME_SERVICE_ENDPOINTS, else
 * $SKIFF_ENDPOINTS_DIR/<name>, else /etc/skiff/endpoints/<name>), an absolute
 * path of an endpoints file, or a fixed list "IP:PORT[,IP:PORT...]" (an
 * optional "http://" prefix is accepted). timeout_s bounds every request;
 * max_conns caps the connections per endpoint. */
struct demo_upstream *demo_upstream_new(struct event_base *base, const char *spec, int timeout_s,
					unsigned max_conns);
void demo_upstream_free(struct demo_upstream *u);
const char *demo_upstream_spec(const struct demo_upstream *u);
/* Re-read the endpoints file if it changed; returns the number of endpoints. */
unsigned demo_upstream_refresh(struct demo_upstream *u);
/* The next endpoint in strict round-robin order, skipping endpoints marked
 * down (unless all are) and `avoid` (unless it is the only one). NULL when
 * there is none. */
/* The i-th current endpoint in file order (NULL past the end); does not
 * move the round-robin position. */
const struct demo_endpoint *demo_upstream_endpoint(const struct demo_upstream *u, unsigned i);
/* Use *counter (e.g. in MAP_SHARED memory) as the round-robin position, so that
 * processes picking from the same endpoints keep one strict rotation. */
void demo_upstream_share_rr(struct demo_upstream *u, uint64_t *counter);
struct demo_endpoint *demo_upstream_pick(struct demo_upstream *u,
					 const struct demo_endpoint *avoid);
/* Mark an endpoint down for ms milliseconds after a connection failure. */
void demo_endpoint_mark_down(struct demo_endpoint *ep, int ms);
/* Keep ep valid while the caller uses it (e.g. a request in flight): an
 * endpoint that leaves the endpoints file is freed only once no hold is left. */
void demo_endpoint_hold(struct demo_endpoint *ep);
/* Drop a hold; ep may be freed by the call. */
void demo_endpoint_release(struct demo_endpoint *ep);
/* fn(ep) runs just before an endpoint is freed (to free ep->data). */
void demo_upstream_on_free(struct demo_upstream *u, void (*fn)(struct demo_endpoint *ep));

/* Called once per request: resp is NULL (or has code 0) when the connection
 * failed; resp and ep stay valid only during the call. */
typedef void (*demo_reply_fn)(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg);

/* One outgoing request: fill call->req (headers, body), then demo_call_send(). */
struct demo_call {
	struct evhttp_request *req;
	struct demo_endpoint *ep;
	struct demo_conn *conn;
	demo_reply_fn cb;
	void *arg;
	struct demo_call *prev, *next; /* the upstream's calls in flight */
};
struct demo_call *demo_endpoint_request(struct demo_endpoint *ep, demo_reply_fn cb, void *arg);
/* Send it; on failure cb runs at once with resp NULL. The call is freed
 * after cb has run. */
void demo_call_send(struct demo_call *c, enum evhttp_cmd_type type, const char *uri);

/* Convenience: pick an endpoint round-robin and send method uri with an
 * optional body (JSON content type). When there is no endpoint, cb runs at
 * once with resp and ep NULL. Returns the endpoint used or NULL. */
struct demo_endpoint *demo_upstream_call(struct demo_upstream *u, enum evhttp_cmd_type type,
					 const char *uri, const char *body, size_t len,
					 demo_reply_fn cb, void *arg);

/* The response body (malloc'd, NUL-terminated) and its status (0 on failure). */
int demo_response_code(struct evhttp_request *resp);
json_t *demo_response_json(struct evhttp_request *resp);

/* --- durable log -------------------------------------------------------------- */

/* An append-only file of records "u32 length | u32 crc32 | payload" (little
 * endian). Appends are buffered; demo_log_sync() calls back once everything
 * appended so far is written and fdatasync'ed. The flush runs at the lowest
 * loop priority, so all requests of one loop iteration share one fsync (group
 * commit). A torn or corrupt tail found on open is truncated away. */
struct demo_log;
typedef int (*demo_log_replay_fn)(const char *rec, size_t len, void *arg);
typedef void (*demo_log_sync_fn)(int err, void *arg);

/* Open (create) path, replay every valid record through fn (a negative
 * return stops the replay and fails the open). */
int demo_log_open(struct event_base *base, const char *path, demo_log_replay_fn fn, void *arg,
		  struct demo_log **ret);
void demo_log_free(struct demo_log *l);
void demo_log_append(struct demo_log *l, const void *rec, size_t len);
/* Append a JSON value as one compact record. */
void demo_log_append_json(struct demo_log *l, json_t *rec);
void demo_log_sync(struct demo_log *l, demo_log_sync_fn cb, void *arg);
/* Flush and fsync now (blocking). */
int demo_log_flush_now(struct demo_log *l);
uint64_t demo_log_size(const struct demo_log *l);
uint64_t demo_log_records(const struct demo_log *l);
/* Compaction: write the live records (emitted by fn through
 * demo_log_append*) into a new file that atomically replaces the log. */
int demo_log_rewrite(struct demo_log *l, void (*fn)(struct demo_log *nl, void *arg), void *arg);

/* Answer req with code and body (consumed) once everything appended to l so
 * far is durable, then call then(arg) (when set): a write is acknowledged
 * only after its record is fsync'ed. A failed sync answers 500 instead and
 * skips then. */
void demo_log_sync_reply(struct demo_log *l, struct evhttp_request *req, int code, json_t *body,
			 void (*then)(void *arg), void *arg);
/* Replay helper: parse a record as JSON (NULL if it is not). */
json_t *demo_record_json(const char *rec, size_t len);

#endif
