/* webhook-consumer — the queue demo's push-mode consumer.
 *
 * The queue POSTs each message of a push queue to it; it prints
 *   delivered queue=notifications id=17 receives=1 consumer=webhook-0 body={...}
 * on stdout and answers 200, which deletes the message. --fail-every N makes
 * every Nth delivery answer 500 so the queue's retries with backoff show.
 *   GET /stats {"delivered":N,"refused":N};  GET /healthz
 *
 *   webhook-consumer [--listen IP:PORT] [--fail-every N]
 *   env: PORT (default 8080), SKIFF_POD_NAME
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

static int64_t fail_every;
static uint64_t delivered, refused, seen;

static void handle(struct evhttp_request *req, void *arg)
{
	(void)arg;
	_cleanup_free_ char *path = demo_request_path(req);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);

	if (streq(path, "/healthz")) {
		demo_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (streq(path, "/stats")) {
		demo_reply_json(req, 200,
				json_pack("{s:s,s:I,s:I}", "pod", demo_pod_name(), "delivered",
					  (json_int_t)delivered, "refused", (json_int_t)refused));
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		demo_reply_error(req, 405, "deliveries are POSTs");
		return;
	}
	seen++;
	const char *id = evhttp_find_header(h, "X-Message-Id");
	if (fail_every > 0 && seen % (uint64_t)fail_every == 0) {
		refused++;
		log_info("refusing delivery of message %s (every %lld)", id ? id : "?",
			 (long long)fail_every);
		demo_reply_error(req, 500, "refused on purpose (--fail-every)");
		return;
	}
	_cleanup_free_ char *body = demo_request_body(req, NULL);
	const char *q = evhttp_find_header(h, "X-Queue");
	const char *n = evhttp_find_header(h, "X-Receive-Count");
	printf("delivered queue=%s id=%s receives=%s consumer=%s body=%s\n", q ? q : "?",
	       id ? id : "?", n ? n : "?", demo_pod_name(), body);
	delivered++;
	demo_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "fail-every", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *deflisten = xasprintf("0.0.0.0:%s", demo_env("PORT", "8080"));
	const char *listen = deflisten;
	int c;

	while ((c = getopt_long(argc, argv, "l:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'f':
			fail_every = demo_parse_num("--fail-every", optarg);
			break;
		default:
			fprintf(stderr,
				"usage: webhook-consumer [--listen IP:PORT] [--fail-every N]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	struct event_base *base = demo_base_new("webhook-consumer");
	struct evhttp *http = demo_http_listen(base, listen);
	if (!http)
		return 1;
	evhttp_set_gencb(http, handle, NULL);
	event_base_dispatch(base);
	evhttp_free(http);
	demo_base_free(base);
	return 0;
}
