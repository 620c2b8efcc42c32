/* queue-worker — a poll-mode consumer (the `email` workers, and the fanout
 * demo's compress/notify/analytics workers).
 *
 * Long-polls the queue for a batch of messages, "processes" each one (prints
 *   processed queue=orders id=17 receives=1 worker=email-0 body={"order":5}
 * on stdout, after --work-ms of simulated work per batch) and then deletes the
 * batch (ack). A worker killed before its delete leaves the messages to come
 * back after their visibility timeout (at-least-once). While the queue is
 * unreachable it retries every 0.5 s.
 *
 *   queue-worker --queue NAME [--server SPEC] [--batch N] [--wait S]
 *                [--visibility S] [--work-ms MS] [--poison TEXT]
 *   SPEC: a service name (default "queue"; env QUEUE_SERVICE) or IP:PORT.
 *   --visibility S: how long a received batch stays invisible (default: the
 *   queue's VisibilityTimeout, 10 s in the demos' manifests).
 *   --poison TEXT: messages whose body contains TEXT are never deleted (they
 *   end in the dead-letter queue after MaxReceiveCount receives).
 *   env: QUEUE_NAME, SKIFF_POD_NAME
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
static const char *queue, *poison;
static int64_t batch = 10, wait_s = 10, visibility = -1, work_ms;
static struct event *timer;
static json_t *pending_acks; /* receipt handles of the batch being processed */
static uint64_t processed, polls;
static bool connected = true;

static void poll_queue(void);

static void after(int64_t ms, void (*fn)(evutil_socket_t, short, void *))
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (timer)
		event_free(timer);
	timer = evtimer_new(base, fn, NULL);
	evtimer_add(timer, &tv);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	poll_queue();
}

static void on_deleted(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg)
{
	(void)ep;
	(void)arg;
	int code = demo_response_code(resp);
	if (code != 200)
		log_warn("delete on %s failed (%s): the batch will be delivered again", queue,
			 code ? "bad status" : "no connection");
	poll_queue();
}

static void ack_batch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (json_array_size(pending_acks) == 0) {
		poll_queue();
		return;
	}
	json_t *body = json_pack("{s:O}", "ReceiptHandles", pending_acks);
	char *s = json_dumps(body, JSON_COMPACT);
	_cleanup_free_ char *uri = xasprintf("/queues/%s/delete", queue);
	json_array_clear(pending_acks);
	demo_upstream_call(up, EVHTTP_REQ_POST, uri, s, strlen(s), on_deleted, NULL);
	free(s);
	json_decref(body);
}

static void on_messages(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg)
{
	(void)arg;
	int code = demo_response_code(resp);
	json_t *j = code == 200 ? demo_response_json(resp) : NULL;
	json_t *msgs = j ? json_object_get(j, "Messages") : NULL;

	if (!json_is_array(msgs)) {
		if (connected)
			log_warn("receive from %s (%s) failed (%s); retrying every 0.5 s", queue,
				 ep ? ep->name : demo_upstream_spec(up),
				 code ? "bad status" : "no connection");
		connected = false;
		json_decref(j);
		after(500, poll_cb);
		return;
	}
	if (!connected)
		log_info("receiving from %s again", queue);
	connected = true;
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		const char *body = json_string_value(json_object_get(m, "Body"));
		printf("processed queue=%s id=%s receives=%lld worker=%s body=%s\n", queue,
		       json_string_value(json_object_get(m, "MessageId")),
		       (long long)json_integer_value(json_object_get(m, "ReceiveCount")),
		       demo_pod_name(), body ? body : "");
		processed++;
		if (poison && body && strstr(body, poison))
			continue;
		json_array_append(pending_acks, json_object_get(m, "ReceiptHandle"));
	}
	size_t n = json_array_size(msgs);
	json_decref(j);
	if (n > 0 && work_ms > 0)
		after(work_ms, ack_batch);
	else
		ack_batch(-1, 0, NULL);
}

static void poll_queue(void)
{
	/* without --visibility, the queue's own VisibilityTimeout applies */
	char vis[32] = "";
	if (visibility >= 0)
		snprintf(vis, sizeof(vis), "&visibility=%lld", (long long)visibility);
	_cleanup_free_ char *uri = xasprintf("/queues/%s/messages?max=%lld&wait=%lld%s", queue,
					     (long long)batch, (long long)wait_s, vis);
	polls++;
	demo_upstream_call(up, EVHTTP_REQ_GET, uri, NULL, 0, on_messages, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "server", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "wait", required_argument, NULL, 'w' },
		{ "visibility", required_argument, NULL, 'v' },
		{ "work-ms", required_argument, NULL, 'W' },
		{ "poison", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *server = demo_env("QUEUE_SERVICE", "queue");
	int c;

	queue = demo_env("QUEUE_NAME", NULL);
	while ((c = getopt_long(argc, argv, "q:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			queue = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 'b':
			batch = demo_parse_num("--batch", optarg);
			break;
		case 'w':
			wait_s = demo_parse_num("--wait", optarg);
			break;
		case 'v':
			visibility = demo_parse_num("--visibility", optarg);
			break;
		case 'W':
			work_ms = demo_parse_num("--work-ms", optarg);
			break;
		case 'p':
			poison = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: queue-worker --queue NAME [--server SPEC] [--batch N] "
				"[--wait S] [--visibility S] [--work-ms MS] [--poison TEXT]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!queue) {
		fprintf(stderr, "queue-worker: --queue NAME (or QUEUE_NAME) is required\n");
		return 2;
	}
	base = demo_base_new("queue-worker");
	up = demo_upstream_new(base, server, (int)wait_s + 10, 1);
	pending_acks = json_array();
	log_info("worker %s polling queue %s at %s", demo_pod_name(), queue,
		 demo_upstream_spec(up));
	poll_queue();
	event_base_dispatch(base);
	log_info("processed %llu messages in %llu polls", (unsigned long long)processed,
		 (unsigned long long)polls);
	if (timer)
		event_free(timer);
	json_decref(pending_acks);
	demo_upstream_free(up);
	demo_base_free(base);
	return 0;
}
