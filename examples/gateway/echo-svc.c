/* echo-svc — the gateway demo's backend (the `users` and `orders` services).
 *
 * Answers every request with JSON naming the service, the pod that served it
 * and how many requests this process has served:
 *   {"service":"users","pod":"users-7f9c-0","count":42,"method":"GET","path":"/users/7","bytes":0}
 * ("bytes": the length of the request body, so proxies' body handling can be checked).
 * GET /healthz answers {"ok":true} (the readiness probe) and is not counted.
 *
 *   echo-svc [--listen IP:PORT] [--service NAME] [--delay-ms N]
 *   env: PORT (default 8080), ECHO_SERVICE, SKIFF_POD_NAME
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

static const char *service;
static uint64_t count;
static int64_t delay_ms;

struct delayed {
	struct evhttp_request *req;
	json_t *body;
	struct event *ev;
};

static void send_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;
	(void)fd;
	(void)what;
	demo_reply_json(d->req, 200, d->body);
	event_free(d->ev);
	free(d);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct event_base *base = arg;
	char *path = demo_request_path(req);
	json_t *body;

	if (streq(path, "/healthz")) {
		free(path);
		demo_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	count++;
	body = json_pack("{s:s,s:s,s:I,s:s,s:s,s:I}", "service", service, "pod", demo_pod_name(),
			 "count", (json_int_t)count, "method",
			 demo_method_name(evhttp_request_get_command(req)), "path", path, "bytes",
			 (json_int_t)evbuffer_get_length(evhttp_request_get_input_buffer(req)));
	free(path);
	if (delay_ms > 0) {
		struct delayed *d = xcalloc(1, sizeof(*d));
		struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
		d->req = req;
		d->body = body;
		d->ev = evtimer_new(base, send_delayed, d);
		evtimer_add(d->ev, &tv);
		return;
	}
	demo_reply_json(req, 200, body);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "service", required_argument, NULL, 's' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *deflisten = xasprintf("0.0.0.0:%s", demo_env("PORT", "8080"));
	const char *listen = deflisten;
	int c;

	service = demo_env("ECHO_SERVICE", "echo");
	while ((c = getopt_long(argc, argv, "l:s:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 's':
			service = optarg;
			break;
		case 'd':
			delay_ms = demo_parse_num("--delay-ms", optarg);
			break;
		default:
			fprintf(
			    stderr,
			    "usage: echo-svc [--listen IP:PORT] [--service NAME] [--delay-ms N]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	struct event_base *base = demo_base_new("echo-svc");
	struct evhttp *http = demo_http_listen(base, listen);
	if (!http)
		return 1;
	evhttp_set_gencb(http, handle, base);
	log_info("service %s, pod %s", service, demo_pod_name());
	event_base_dispatch(base);
	evhttp_free(http);
	demo_base_free(base);
	return 0;
}
