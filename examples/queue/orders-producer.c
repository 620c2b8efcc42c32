/* orders-producer — the queue demo's front end: accepts an order and enqueues it.
 *
 *   POST /orders   (JSON body) -> 202 {"queued":true,"MessageId":"17"} as soon as
 *                  the queue has durably stored it; no waiting for the workers
 *   GET  /stats    {"accepted":N,"failed":N,"retries":N};  GET /healthz
 * While the queue is unreachable (e.g. restarting) a send is retried with
 * backoff for up to --retry-ms before the order is refused with 503.
 *
 *   orders-producer [--listen IP:PORT] [--server SPEC] [--queue NAME] [--retry-ms MS]
 *   SPEC: a service name (default "queue"; env QUEUE_SERVICE) or IP:PORT.
 *   env: PORT (default 8080), QUEUE_NAME (default "orders")
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

static struct event_base *base;
static struct demo_upstream *up;
static const char *queue;
static int64_t retry_ms = 10000;
static uint64_t accepted, failed, retries;

struct order {
	struct evhttp_request *req;
	char *body;
	size_t len;
	int64_t started_ms;
	int attempt;
	struct event *timer;
};

static void send_order(struct order *o);

static void order_free(struct order *o)
{
	if (o->timer)
		event_free(o->timer);
	free(o->body);
	free(o);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_order(arg);
}

static void on_sent(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg)
{
	struct order *o = arg;
	int code = demo_response_code(resp);
	(void)ep;

	if (code == 201) {
		json_t *j = demo_response_json(resp);
		accepted++;
		demo_reply_json(o->req, 202,
				json_pack("{s:b,s:O?,s:s}", "queued", 1, "MessageId",
					  j ? json_object_get(j, "MessageId") : NULL, "queue",
					  queue));
		json_decref(j);
		order_free(o);
		return;
	}
	if (code >= 400 && code < 500) {
		failed++;
		json_t *j = demo_response_json(resp);
		demo_reply_json(o->req, code,
				j ? j : json_pack("{s:s}", "error", "the queue refused the order"));
		order_free(o);
		return;
	}
	int64_t waited = skiff_mono_ms() - o->started_ms;
	if (waited >= retry_ms) {
		failed++;
		demo_reply_error(o->req, 503, "queue %s unreachable for %lld ms", queue,
				 (long long)waited);
		order_free(o);
		return;
	}
	/* 50 ms, 100 ms, 200 ms ... at most 1 s */
	int64_t backoff = 50;
	for (int i = 0; i < o->attempt && backoff < 1000; i++)
		backoff *= 2;
	if (backoff > 1000)
		backoff = 1000;
	o->attempt++;
	retries++;
	struct timeval tv = { backoff / 1000, (backoff % 1000) * 1000 };
	if (!o->timer)
		o->timer = evtimer_new(base, retry_cb, o);
	evtimer_add(o->timer, &tv);
}

static void send_order(struct order *o)
{
	_cleanup_free_ char *uri = xasprintf("/queues/%s/messages", queue);
	demo_upstream_call(up, EVHTTP_REQ_POST, uri, o->body, o->len, on_sent, o);
}

static void handle(struct evhttp_request *req, void *arg)
{
	(void)arg;
	_cleanup_free_ char *path = demo_request_path(req);

	if (streq(path, "/healthz")) {
		demo_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (streq(path, "/stats")) {
		demo_reply_json(req, 200,
				json_pack("{s:s,s:I,s:I,s:I}", "pod", demo_pod_name(), "accepted",
					  (json_int_t)accepted, "failed", (json_int_t)failed,
					  "retries", (json_int_t)retries));
		return;
	}
	if (!streq(path, "/orders") || evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		demo_reply_error(req, 404, "POST /orders with a JSON order");
		return;
	}
	struct order *o = xcalloc(1, sizeof(*o));
	o->req = req;
	o->body = demo_request_body(req, &o->len);
	o->started_ms = skiff_mono_ms();
	json_t *j = json_loadb(o->body, o->len, 0, NULL);
	if (!j) {
		order_free(o);
		demo_reply_error(req, 400, "the order must be a JSON document");
		return;
	}
	json_decref(j);
	send_order(o);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "server", required_argument, NULL, 's' },
		{ "queue", required_argument, NULL, 'q' },
		{ "retry-ms", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *deflisten = xasprintf("0.0.0.0:%s", demo_env("PORT", "8080"));
	const char *listen = deflisten, *server = demo_env("QUEUE_SERVICE", "queue");
	int c;

	queue = demo_env("QUEUE_NAME", "orders");
	while ((c = getopt_long(argc, argv, "l:s:q:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 'q':
			queue = optarg;
			break;
		case 'r':
			retry_ms = demo_parse_num("--retry-ms", optarg);
			break;
		default:
			fprintf(stderr, "usage: orders-producer [--listen IP:PORT] [--server SPEC] "
					"[--queue NAME] [--retry-ms MS]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	base = demo_base_new("orders-producer");
	up = demo_upstream_new(base, server, 5, 32);
	struct evhttp *http = demo_http_listen(base, listen);
	if (!http)
		return 1;
	evhttp_set_gencb(http, handle, NULL);
	log_info("orders go to queue %s at %s", queue, demo_upstream_spec(up));
	event_base_dispatch(base);
	evhttp_free(http);
	demo_upstream_free(up);
	demo_base_free(base);
	return 0;
}
