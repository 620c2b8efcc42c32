/* topic-svc — the fanout demo's topic service (SNS-like pub/sub in front of queues).
 *
 * Queues subscribe to a topic; publishing one event puts a copy of it into
 * every subscribed queue (a POST to the queue service), each subscription
 * delivering from its own durable cursor (up to 32 events in flight):
 *   POST /topics/T/publish                 (body = the event, UTF-8 text) ->
 *                                          {"MessageId":"12","Subscriptions":3} once the
 *                                          event is fsync'ed
 *   PUT  /topics/T/subscriptions/S         {"Queue":"compress","Server":"fanout-queue"}
 *   DELETE /topics/T/subscriptions/S
 *   GET  /topics                           topics, subscriptions, cursors, backlogs
 *   GET  /healthz
 * Subscriptions, events and cursors live in DATA/topics.log, so a restarted
 * topic service keeps its subscriptions and delivers what it had not yet
 * delivered (at-least-once: an event may reach a queue twice after a crash).
 * A failed delivery is retried with backoff (0.2 s doubling to 5 s).
 *
 *   topic-svc [--listen IP:PORT] [--data DIR] [--server SPEC] [--subscribe T:S=QUEUE[@SPEC]]...
 *   SPEC: the queue service, a service name (default "fanout-queue") or IP:PORT.
 *   env: PORT (default 8080), TOPIC_DATA (default /data), QUEUE_SERVICE,
 *        SUBSCRIPTIONS ("videos:compress=compress;videos:notify=notify")
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

/* Each subscription keeps up to WINDOW deliveries in flight (so concurrent
 * sends share the queue's fsyncs); its cursor advances over the contiguous
 * delivered prefix. */
#define WINDOW 32
enum { SLOT_TODO = 0, SLOT_SENT, SLOT_DONE };

struct event_rec {
	char *body;
	size_t len;
};

struct topic;

struct sub {
	struct topic *t;
	char *name, *queue, *server;
	struct demo_upstream *up;
	uint64_t cursor;	     /* last delivered sequence number */
	unsigned char state[WINDOW]; /* per seq % WINDOW above the cursor: SLOT_* */
	unsigned inflight;
	bool removed;
	int64_t backoff_ms;
	struct event *timer;
	uint64_t delivered, failed;
	struct sub *next;
};

struct topic {
	char *name;
	uint64_t base; /* sequence number of events[0] */
	uint64_t last; /* last published sequence number */
	struct event_rec *events;
	size_t nevents, cap;
	struct sub *subs;
	uint64_t published;
	struct topic *next;
};

static struct event_base *base;
static struct demo_log *tlog;
static struct topic *topics;
static const char *default_server;
static bool replaying;

static struct topic *get_topic(const char *name)
{
	for (struct topic *t = topics; t; t = t->next)
		if (streq(t->name, name))
			return t;
	struct topic *t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->base = 1;
	t->next = topics;
	topics = t;
	return t;
}

static struct sub *find_sub(struct topic *t, const char *name)
{
	for (struct sub *s = t->subs; s; s = s->next)
		if (!s->removed && streq(s->name, name))
			return s;
	return NULL;
}

static void add_event(struct topic *t, uint64_t seq, const char *body, size_t len)
{
	if (t->nevents == 0)
		t->base = seq;
	if (t->nevents == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->events = xrealloc(t->events, t->cap * sizeof(*t->events));
	}
	t->events[t->nevents++] = (struct event_rec){ xstrndup(body, len), len };
	t->last = seq;
}

/* Drop the events every subscription has delivered (memory stays bounded by
 * the slowest subscription's backlog). */
static void trim_events(struct topic *t)
{
	uint64_t min = t->last;
	for (struct sub *s = t->subs; s; s = s->next)
		if (!s->removed && s->cursor < min)
			min = s->cursor;
	if (t->nevents == 0 || min < t->base || min - t->base + 1 < 1024)
		return;
	size_t drop = (size_t)(min - t->base + 1);
	if (drop > t->nevents)
		drop = t->nevents;
	for (size_t i = 0; i < drop; i++)
		free(t->events[i].body);
	memmove(t->events, t->events + drop, (t->nevents - drop) * sizeof(*t->events));
	t->nevents -= drop;
	t->base += drop;
}

static struct event_rec *get_event(struct topic *t, uint64_t seq)
{
	if (seq < t->base || seq >= t->base + t->nevents)
		return NULL;
	return &t->events[seq - t->base];
}

static void deliver(struct sub *s);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver(arg);
}

static struct sub *add_sub(struct topic *t, const char *name, const char *queue, const char *server)
{
	struct sub *s = find_sub(t, name);
	if (s && streq(s->queue, queue) && streq(s->server, server))
		return s;
	if (s) {
		free(s->queue);
		free(s->server);
		demo_upstream_free(s->up);
	} else {
		s = xcalloc(1, sizeof(*s));
		s->t = t;
		s->name = xstrdup(name);
		s->cursor = t->last; /* a new subscription gets the events published from now on */
		s->timer = evtimer_new(base, timer_cb, s);
		s->next = t->subs;
		t->subs = s;
	}
	s->queue = xstrdup(queue);
	s->server = xstrdup(server);
	s->up = demo_upstream_new(base, server, 10, 8);
	if (!replaying) {
		json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "o", "sub", "topic", t->name,
				      "name", name, "queue", queue, "server", server, "cursor",
				      (json_int_t)s->cursor);
		demo_log_append_json(tlog, r);
		json_decref(r);
		log_info("subscription %s: topic %s -> queue %s at %s", name, t->name, queue,
			 server);
	}
	return s;
}

/* --- delivery ------------------------------------------------------------------------- */

struct delivery {
	struct sub *s;
	uint64_t seq;
};

static void on_delivered(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg)
{
	struct delivery *d = arg;
	struct sub *s = d->s;
	uint64_t seq = d->seq;
	int code = demo_response_code(resp);

	free(d);
	s->inflight--;
	if (s->removed || seq <= s->cursor)
		return;
	if (code == 201) {
		s->delivered++;
		s->backoff_ms = 0;
		s->state[seq % WINDOW] = SLOT_DONE;
		uint64_t before = s->cursor;
		while (s->cursor < s->t->last && s->state[(s->cursor + 1) % WINDOW] == SLOT_DONE) {
			s->cursor++;
			s->state[s->cursor % WINDOW] = SLOT_TODO;
		}
		if (s->cursor != before) {
			json_t *r = json_pack("{s:s,s:s,s:s,s:I}", "o", "ack", "topic", s->t->name,
					      "name", s->name, "seq", (json_int_t)s->cursor);
			demo_log_append_json(tlog, r);
			json_decref(r);
			trim_events(s->t);
		}
		deliver(s);
		return;
	}
	s->failed++;
	s->state[seq % WINDOW] = SLOT_TODO;
	if (!code && ep)
		demo_endpoint_mark_down(ep, 1000);
	if (evtimer_pending(s->timer, NULL))
		return;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 200;
	if (s->backoff_ms > 5000)
		s->backoff_ms = 5000;
	log_warn("delivery of %s #%llu to queue %s failed (%s); retry in %lld ms", s->t->name,
		 (unsigned long long)seq, s->queue, code ? "bad status" : "no connection",
		 (long long)s->backoff_ms);
	struct timeval tv = { s->backoff_ms / 1000, (s->backoff_ms % 1000) * 1000 };
	evtimer_add(s->timer, &tv);
}

static void deliver(struct sub *s)
{
	if (s->removed || evtimer_pending(s->timer, NULL))
		return;
	_cleanup_free_ char *uri = xasprintf("/queues/%s/messages", s->queue);
	for (uint64_t seq = s->cursor + 1; seq <= s->t->last && seq <= s->cursor + WINDOW; seq++) {
		if (s->state[seq % WINDOW] != SLOT_TODO)
			continue;
		struct event_rec *e = get_event(s->t, seq);
		if (!e)
			break;
		struct delivery *d = xcalloc(1, sizeof(*d));
		d->s = s;
		d->seq = seq;
		s->state[seq % WINDOW] = SLOT_SENT;
		s->inflight++;
		demo_upstream_call(s->up, EVHTTP_REQ_POST, uri, e->body, e->len, on_delivered, d);
	}
}

/* --- replay and compaction ------------------------------------------------------------------ */

static int replay_record(const char *rec, size_t len, void *arg)
{
	(void)arg;
	json_t *j = demo_record_json(rec, len);
	const char *o = j ? json_string_value(json_object_get(j, "o")) : NULL;
	const char *tn = j ? json_string_value(json_object_get(j, "topic")) : NULL;
	if (!o || !tn) {
		json_decref(j);
		return log_error_errno(-EBADMSG, "topic log: a record is not a topic record");
	}
	struct topic *t = get_topic(tn);
	const char *name = json_string_value(json_object_get(j, "name"));
	struct sub *s = name ? find_sub(t, name) : NULL;
	if (streq(o, "pub")) {
		json_t *b = json_object_get(j, "b");
		add_event(t, (uint64_t)json_integer_value(json_object_get(j, "seq")),
			  json_string_value(b), json_string_length(b));
		t->published++;
	} else if (streq(o, "sub") && name) {
		s = add_sub(t, name, json_string_value(json_object_get(j, "queue")),
			    json_string_value(json_object_get(j, "server")));
		s->cursor = (uint64_t)json_integer_value(json_object_get(j, "cursor"));
	} else if (streq(o, "ack") && s) {
		s->cursor = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	} else if (streq(o, "unsub") && s) {
		s->removed = true;
	} else if (streq(o, "base")) {
		uint64_t b = (uint64_t)json_integer_value(json_object_get(j, "seq"));
		if (b > t->last)
			t->last = b;
	}
	json_decref(j);
	return 0;
}

static void emit_live(struct demo_log *nl, void *arg)
{
	(void)arg;
	for (struct topic *t = topics; t; t = t->next) {
		uint64_t min = t->last;
		for (struct sub *s = t->subs; s; s = s->next)
			if (!s->removed && s->cursor < min)
				min = s->cursor;
		json_t *r = json_pack("{s:s,s:s,s:I}", "o", "base", "topic", t->name, "seq",
				      (json_int_t)t->last);
		demo_log_append_json(nl, r);
		json_decref(r);
		for (uint64_t seq = min + 1; seq <= t->last; seq++) {
			struct event_rec *e = get_event(t, seq);
			if (!e)
				continue;
			r = json_pack("{s:s,s:s,s:I,s:s%}", "o", "pub", "topic", t->name, "seq",
				      (json_int_t)seq, "b", e->body, e->len);
			demo_log_append_json(nl, r);
			json_decref(r);
		}
		for (struct sub *s = t->subs; s; s = s->next) {
			if (s->removed)
				continue;
			r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "o", "sub", "topic", t->name,
				      "name", s->name, "queue", s->queue, "server", s->server,
				      "cursor", (json_int_t)s->cursor);
			demo_log_append_json(nl, r);
			json_decref(r);
		}
	}
}

/* --- HTTP ----------------------------------------------------------------------------------- */

/* deliver only what is durable */
static void deliver_all(void *arg)
{
	struct topic *t = arg;
	for (struct sub *s = t->subs; s; s = s->next)
		deliver(s);
}

static void publish(struct evhttp_request *req, struct topic *t)
{
	size_t len;
	_cleanup_free_ char *body = demo_request_body(req, &len);
	json_t *b = json_stringn(body, len);
	if (!b) {
		demo_reply_error(req, 400, "the event must be UTF-8 text");
		return;
	}
	uint64_t seq = t->last + 1;
	json_t *r = json_pack("{s:s,s:s,s:I,s:o,s:I}", "o", "pub", "topic", t->name, "seq",
			      (json_int_t)seq, "b", b, "t", (json_int_t)skiff_now_ms());
	demo_log_append_json(tlog, r);
	json_decref(r);
	add_event(t, seq, body, len);
	t->published++;
	int nsubs = 0;
	for (struct sub *s = t->subs; s; s = s->next)
		nsubs += !s->removed;
	char id[32];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)seq);
	demo_log_sync_reply(
	    tlog, req, 201,
	    json_pack("{s:s,s:s,s:i}", "MessageId", id, "Topic", t->name, "Subscriptions", nsubs),
	    deliver_all, t);
}

static json_t *topics_json(void)
{
	json_t *arr = json_array();
	for (struct topic *t = topics; t; t = t->next) {
		json_t *subs = json_array();
		for (struct sub *s = t->subs; s; s = s->next)
			if (!s->removed)
				json_array_append_new(
				    subs, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "name",
						    s->name, "queue", s->queue, "server",
						    demo_upstream_spec(s->up), "cursor",
						    (json_int_t)s->cursor, "backlog",
						    (json_int_t)(t->last - s->cursor), "delivered",
						    (json_int_t)s->delivered, "failed",
						    (json_int_t)s->failed));
		json_array_append_new(arr,
				      json_pack("{s:s,s:I,s:I,s:o}", "name", t->name, "last",
						(json_int_t)t->last, "published",
						(json_int_t)t->published, "subscriptions", subs));
	}
	return json_pack("{s:s,s:o}", "pod", demo_pod_name(), "topics", arr);
}

/* Compact the log once it passes 64 MiB (the live part is small: the
 * undelivered events, the subscriptions and their cursors). */
static void compact_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (demo_log_size(tlog) < (64u << 20))
		return;
	int r = demo_log_rewrite(tlog, emit_live, NULL);
	if (r < 0)
		log_error_errno(r, "topic log: compaction failed: %m");
	else
		log_info("topic log compacted to %llu bytes",
			 (unsigned long long)demo_log_size(tlog));
}

static void handle(struct evhttp_request *req, void *arg)
{
	(void)arg;
	_cleanup_free_ char *path = demo_request_path(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char tn[128], sn[128], rest[128];

	if (demo_handle_healthz(req, path))
		return;
	if (streq(path, "/topics") || streq(path, "/topics/")) {
		demo_reply_json(req, 200, topics_json());
		return;
	}
	rest[0] = sn[0] = 0;
	if (sscanf(path, "/topics/%127[^/]%127s", tn, rest) < 2 || !demo_valid_name(tn)) {
		demo_reply_error(req, 404,
				 "use /topics, /topics/T/publish, /topics/T/subscriptions/S");
		return;
	}
	if (streq(rest, "/publish") && m == EVHTTP_REQ_POST) {
		publish(req, get_topic(tn));
		return;
	}
	if (sscanf(rest, "/subscriptions/%127[^/]", sn) != 1 || !demo_valid_name(sn)) {
		demo_reply_error(req, 404, "no such resource %s", path);
		return;
	}
	struct topic *t = get_topic(tn);
	if (m == EVHTTP_REQ_PUT) {
		_cleanup_free_ char *body = demo_request_body(req, NULL);
		json_t *j = json_loads(body, 0, NULL);
		const char *q = j ? json_string_value(json_object_get(j, "Queue")) : NULL;
		const char *srv = j ? json_string_value(json_object_get(j, "Server")) : NULL;
		if (!q || !demo_valid_name(q)) {
			json_decref(j);
			demo_reply_error(req, 400,
					 "body must be {\"Queue\":\"NAME\"[,\"Server\":\"SPEC\"]}");
			return;
		}
		struct sub *s = add_sub(t, sn, q, srv ? srv : default_server);
		json_decref(j);
		demo_log_flush_now(tlog);
		demo_reply_json(req, 200,
				json_pack("{s:s,s:s,s:s,s:I}", "Topic", t->name, "Subscription",
					  s->name, "Queue", s->queue, "Cursor",
					  (json_int_t)s->cursor));
	} else if (m == EVHTTP_REQ_DELETE) {
		struct sub *s = find_sub(t, sn);
		if (!s) {
			demo_reply_error(req, 404, "no subscription %s on %s", sn, tn);
			return;
		}
		s->removed = true;
		json_t *r = json_pack("{s:s,s:s,s:s}", "o", "unsub", "topic", t->name, "name", sn);
		demo_log_append_json(tlog, r);
		json_decref(r);
		demo_log_flush_now(tlog);
		demo_reply_json(req, 200, json_pack("{s:b}", "Deleted", 1));
	} else {
		demo_reply_error(req, 405, "use PUT or DELETE on %s", path);
	}
}

static void subscribe_spec(const char *spec)
{
	/* TOPIC:SUB=QUEUE[@SERVER] */
	char tn[128], sn[128], q[128], srv[256] = "";
	if (sscanf(spec, "%127[^:]:%127[^=]=%127[^@]@%255s", tn, sn, q, srv) < 3 ||
	    !demo_valid_name(tn) || !demo_valid_name(sn) || !demo_valid_name(q)) {
		log_error("subscription '%s' is not TOPIC:SUB=QUEUE[@SERVER]", spec);
		exit(2);
	}
	add_sub(get_topic(tn), sn, q, srv[0] ? srv : default_server);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'D' },
		{ "server", required_argument, NULL, 's' },
		{ "subscribe", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *deflisten = xasprintf("0.0.0.0:%s", demo_env("PORT", "8080"));
	const char *listen = deflisten, *data = demo_env("TOPIC_DATA", "/data");
	char **specs = NULL;
	size_t nspecs = 0;
	int c, r;

	default_server = demo_env("QUEUE_SERVICE", "fanout-queue");
	while ((c = getopt_long(argc, argv, "l:D:s:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'D':
			data = optarg;
			break;
		case 's':
			default_server = optarg;
			break;
		case 'S':
			specs = xrealloc(specs, (nspecs + 1) * sizeof(*specs));
			specs[nspecs++] = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: topic-svc [--listen IP:PORT] [--data DIR] [--server SPEC] "
				"[--subscribe TOPIC:SUB=QUEUE[@SERVER]]...\n");
			return c == 'h' ? 0 : 2;
		}
	}
	base = demo_base_new("topic-svc");
	r = skiff_mkdir_p(data, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create the data directory %s: %m", data), 1;
	_cleanup_free_ char *path = xasprintf("%s/topics.log", data);
	replaying = true;
	r = demo_log_open(base, path, replay_record, NULL, &tlog);
	replaying = false;
	if (r < 0)
		return 1;
	if (demo_log_size(tlog) > 0) {
		r = demo_log_rewrite(tlog, emit_live, NULL);
		if (r < 0)
			log_error_errno(r, "topic log: compaction failed: %m");
	}
	const char *envs = getenv("SUBSCRIPTIONS");
	if (envs) {
		_cleanup_free_ char *copy = xstrdup(envs);
		char *save = NULL;
		for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save))
			subscribe_spec(t);
	}
	for (size_t i = 0; i < nspecs; i++)
		subscribe_spec(specs[i]);
	free(specs);
	demo_log_flush_now(tlog);
	for (struct topic *t = topics; t; t = t->next) {
		size_t n = 0;
		for (struct sub *s = t->subs; s; s = s->next)
			n += !s->removed;
		log_info("topic %s: last event %llu, %zu subscriptions", t->name,
			 (unsigned long long)t->last, n);
	}
	struct evhttp *http = demo_http_listen(base, listen);
	if (!http)
		return 1;
	evhttp_set_gencb(http, handle, NULL);
	for (struct topic *t = topics; t; t = t->next)
		for (struct sub *s = t->subs; s; s = s->next)
			deliver(s);
	struct event *tick = event_new(base, -1, EV_PERSIST, compact_tick, NULL);
	struct timeval tv = { 1, 0 };
	event_add(tick, &tv);
	event_base_dispatch(base);
	event_free(tick);
	evhttp_free(http);
	demo_log_free(tlog);
	demo_base_free(base);
	return 0;
}
