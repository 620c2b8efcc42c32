/* queue-svc — the queue demo's message queue, with Amazon SQS's core semantics.
 *
 * Named queues hold messages until a consumer deletes them:
 *   POST   /queues/Q/messages              send (body = the message, UTF-8 text,
 *                                          at most 256 KiB) -> {"MessageId":"7"}
 *   GET    /queues/Q/messages?max=10&wait=20&visibility=30
 *                                          receive up to max messages, waiting up
 *                                          to wait seconds for one (long polling);
 *                                          each stays invisible for visibility
 *                                          seconds and comes back if not deleted
 *   DELETE /queues/Q/messages/RECEIPT      delete (ack) by receipt handle
 *   POST   /queues/Q/messages/RECEIPT/visibility?timeout=S
 *                                          change the visibility timeout of an
 *                                          in-flight message (extend or release)
 *   POST   /queues/Q/delete                {"ReceiptHandles":[...]} batch delete
 *   PUT    /queues/Q                       {"VisibilityTimeout":30,"MaxReceiveCount":5,
 *                                           "DeadLetterQueue":"Q-dlq","Push":"webhook/hook"}
 *   GET    /queues, GET /queues/Q          attributes and counters; GET /healthz
 * A message received MaxReceiveCount times without being deleted moves to the
 * dead-letter queue on its next receive. A queue with Push set is consumed
 * by the server itself: each message is POSTed to the push target (a service
 * name + path, resolved through its endpoints file, or http://IP:PORT/path),
 * deleted on a 2xx answer and retried with exponential backoff otherwise.
 *
 * Durability: every change is a record in DATA/queue.log; a send or delete is
 * answered only after its record is fsync'ed (group commit), so a killed and
 * restarted queue loses no acknowledged message (in-flight ones become visible
 * again: at-least-once delivery). The log is replayed and compacted on start,
 * and compacted again when it grows past --compact-mb with mostly dead records.
 *
 *   queue-svc [--listen IP:PORT] [--data DIR] [--queue SPEC]... [--visibility S]
 *             [--max-receives N] [--compact-mb N]
 *   SPEC: NAME[,visibility=S][,max-receives=N][,dlq=NAME][,push=TARGET][,push-conns=N]
 *   env: PORT (default 8080), QUEUE_DATA (default /data), QUEUES (SPECs separated by ';')
 */
#include <errno.h>
#include <getopt.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

#define BODY_MAX     (256 * 1024)
#define MESSAGES_MAX 2000000

struct queue;

struct msg {
	uint64_t id;
	struct queue *q;
	char *body;
	size_t len;
	int64_t sent_ms;
	int receives;
	int64_t deadline_ms; /* monotonic; while in flight */
	bool inflight;
	TAILQ_ENTRY(msg) link;
};
TAILQ_HEAD(msg_list, msg);

struct waiter {
	struct evhttp_request *req;
	struct queue *q;
	int max, visibility;
	struct event *timer;
	TAILQ_ENTRY(waiter) link;
};
TAILQ_HEAD(waiter_list, waiter);

struct queue {
	char *name;
	int visibility_s;
	int max_receives; /* 0: no dead-letter queue */
	char *dlq;
	char *push; /* push target spec or NULL */
	char *push_path;
	struct demo_upstream *push_up;
	int push_conns, push_inflight;
	struct msg_list ready, inflight;
	size_t nready, ninflight;
	struct waiter_list waiters;
	uint64_t sent, received, deleted, redelivered, deadlettered, push_ok, push_failed;
	struct queue *next;
};

static struct event_base *base;
static struct demo_log *qlog;
static struct queue *queues;
static void *by_id; /* tsearch tree of struct msg, by id */
static uint64_t next_id = 1, nmsgs, live_bytes;
static int default_visibility = 30, default_max_receives = 5;
static uint64_t compact_bytes = 64ull << 20;
static bool replaying;

static int cmp_msg(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static struct msg *find_msg(uint64_t id)
{
	struct msg key = { .id = id };
	void *r = tfind(&key, &by_id, cmp_msg);
	return r ? *(struct msg **)r : NULL;
}

/* --- queues -------------------------------------------------------------------- */

static struct queue *find_queue(const char *name)
{
	for (struct queue *q = queues; q; q = q->next)
		if (streq(q->name, name))
			return q;
	return NULL;
}

static void log_queue(struct queue *q)
{
	json_t *r = json_pack("{s:s,s:s,s:i,s:i}", "o", "q", "q", q->name, "vis", q->visibility_s,
			      "max", q->max_receives);
	if (q->dlq)
		json_object_set_new(r, "dlq", json_string(q->dlq));
	if (q->push)
		json_object_set_new(r, "push", json_string(q->push));
	json_object_set_new(r, "pc", json_integer(q->push_conns));
	demo_log_append_json(qlog, r);
	json_decref(r);
}

static void set_push(struct queue *q, const char *push)
{
	free(q->push);
	free(q->push_path);
	demo_upstream_free(q->push_up);
	q->push = NULL;
	q->push_path = NULL;
	q->push_up = NULL;
	if (!push || !*push)
		return;
	q->push = xstrdup(push);
	/* "service/path" or "http://IP:PORT/path" */
	const char *s = skiff_startswith(push, "http://") ? push + 7 : push;
	const char *slash = strchr(s, '/');
	_cleanup_free_ char *target = slash ? xstrndup(s, (size_t)(slash - s)) : xstrdup(s);
	q->push_path = xstrdup(slash ? slash : "/");
	q->push_up = demo_upstream_new(base, target, 10, (unsigned)q->push_conns);
}

static struct queue *queue_new(const char *name)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	q->name = xstrdup(name);
	q->visibility_s = default_visibility;
	q->push_conns = 8;
	TAILQ_INIT(&q->ready);
	TAILQ_INIT(&q->inflight);
	TAILQ_INIT(&q->waiters);
	q->next = queues;
	queues = q;
	return q;
}

/* The queue called name, created with the defaults (and its dead-letter
 * queue NAME-dlq) when it does not exist. */
static struct queue *get_queue(const char *name)
{
	struct queue *q = find_queue(name);
	if (q)
		return q;
	q = queue_new(name);
	if (!skiff_endswith(name, "-dlq") && default_max_receives > 0) {
		q->max_receives = default_max_receives;
		q->dlq = xasprintf("%s-dlq", name);
	}
	if (!replaying)
		log_queue(q);
	if (q->dlq)
		get_queue(q->dlq);
	log_info("queue %s created", name);
	return q;
}

/* --- messages ------------------------------------------------------------------ */

static void msg_unlink(struct msg *m)
{
	if (m->inflight) {
		TAILQ_REMOVE(&m->q->inflight, m, link);
		m->q->ninflight--;
	} else {
		TAILQ_REMOVE(&m->q->ready, m, link);
		m->q->nready--;
	}
}

static void msg_make_ready(struct msg *m, bool front)
{
	m->inflight = false;
	if (front)
		TAILQ_INSERT_HEAD(&m->q->ready, m, link);
	else
		TAILQ_INSERT_TAIL(&m->q->ready, m, link);
	m->q->nready++;
}

static void msg_make_inflight(struct msg *m, int64_t deadline_ms)
{
	m->inflight = true;
	m->deadline_ms = deadline_ms;
	TAILQ_INSERT_TAIL(&m->q->inflight, m, link);
	m->q->ninflight++;
}

static struct msg *msg_add(struct queue *q, uint64_t id, const char *body, size_t len,
			   int64_t sent_ms)
{
	struct msg *m = xcalloc(1, sizeof(*m));
	m->id = id;
	m->q = q;
	m->body = xstrndup(body, len);
	m->len = len;
	m->sent_ms = sent_ms;
	tsearch(m, &by_id, cmp_msg);
	msg_make_ready(m, false);
	nmsgs++;
	live_bytes += len + 64;
	if (id >= next_id)
		next_id = id + 1;
	return m;
}

static void msg_remove(struct msg *m)
{
	msg_unlink(m);
	tdelete(m, &by_id, cmp_msg);
	nmsgs--;
	live_bytes -= m->len + 64;
	free(m->body);
	free(m);
}

/* Move a message to another queue (the dead-letter queue). */
static void msg_move(struct msg *m, struct queue *to)
{
	msg_unlink(m);
	m->q = to;
	m->receives = 0;
	msg_make_ready(m, false);
}

/* --- replay and compaction --------------------------------------------------------- */

static int replay_record(const char *rec, size_t len, void *arg)
{
	(void)arg;
	json_t *j = demo_record_json(rec, len);
	const char *o = j ? json_string_value(json_object_get(j, "o")) : NULL;
	uint64_t id = (uint64_t)json_integer_value(json_object_get(j, "id"));
	struct msg *m;

	if (!o) {
		json_decref(j);
		return log_error_errno(-EBADMSG, "queue log: a record is not a queue record");
	}
	if (streq(o, "q")) {
		const char *name = json_string_value(json_object_get(j, "q"));
		struct queue *q = find_queue(name);
		if (!q)
			q = queue_new(name);
		q->visibility_s = (int)json_integer_value(json_object_get(j, "vis"));
		q->max_receives = (int)json_integer_value(json_object_get(j, "max"));
		free(q->dlq);
		const char *dlq = json_string_value(json_object_get(j, "dlq"));
		q->dlq = dlq ? xstrdup(dlq) : NULL;
		json_int_t pc = json_integer_value(json_object_get(j, "pc"));
		q->push_conns = pc > 0 ? (int)pc : 8;
		set_push(q, json_string_value(json_object_get(j, "push")));
	} else if (streq(o, "s")) {
		const char *b = json_string_value(json_object_get(j, "b"));
		size_t blen = json_string_length(json_object_get(j, "b"));
		struct queue *q = get_queue(json_string_value(json_object_get(j, "q")));
		if (!find_msg(id))
			msg_add(q, id, b ? b : "", blen,
				json_integer_value(json_object_get(j, "t")));
		m = find_msg(id);
		m->receives = (int)json_integer_value(json_object_get(j, "n"));
	} else if (streq(o, "r")) {
		if ((m = find_msg(id)))
			m->receives = (int)json_integer_value(json_object_get(j, "n"));
	} else if (streq(o, "d")) {
		if ((m = find_msg(id)))
			msg_remove(m);
	} else if (streq(o, "m")) {
		if ((m = find_msg(id)))
			msg_move(m, get_queue(json_string_value(json_object_get(j, "q"))));
	}
	if (id >= next_id)
		next_id = id + 1;
	json_decref(j);
	return 0;
}

static void emit_live(struct demo_log *nl, void *arg)
{
	(void)arg;
	for (struct queue *q = queues; q; q = q->next) {
		json_t *r = json_pack("{s:s,s:s,s:i,s:i,s:i}", "o", "q", "q", q->name, "vis",
				      q->visibility_s, "max", q->max_receives, "pc", q->push_conns);
		if (q->dlq)
			json_object_set_new(r, "dlq", json_string(q->dlq));
		if (q->push)
			json_object_set_new(r, "push", json_string(q->push));
		demo_log_append_json(nl, r);
		json_decref(r);
	}
	for (struct queue *q = queues; q; q = q->next) {
		struct msg_list *lists[2] = { &q->inflight, &q->ready };
		for (int i = 0; i < 2; i++) {
			struct msg *m;
			TAILQ_FOREACH(m, lists[i], link)
			{
				json_t *r =
				    json_pack("{s:s,s:s,s:I,s:s%,s:I,s:i}", "o", "s", "q", q->name,
					      "id", (json_int_t)m->id, "b", m->body, m->len, "t",
					      (json_int_t)m->sent_ms, "n", m->receives);
				demo_log_append_json(nl, r);
				json_decref(r);
			}
		}
	}
}

static void maybe_compact(bool force)
{
	uint64_t size = demo_log_size(qlog);
	if (size == 0 || (!force && (size < compact_bytes || size < 4 * live_bytes)))
		return;
	int r = demo_log_rewrite(qlog, emit_live, NULL);
	if (r < 0)
		log_error_errno(r, "queue log: compaction failed: %m");
	else
		log_info("queue log compacted: %llu -> %llu bytes, %llu messages",
			 (unsigned long long)size, (unsigned long long)demo_log_size(qlog),
			 (unsigned long long)nmsgs);
}

/* --- receiving ------------------------------------------------------------------- */

static void pump_push(struct queue *q);

/* Take the next deliverable message of q, moving messages that were received
 * too often to the dead-letter queue. NULL when none is visible. */
static struct msg *take(struct queue *q, int visibility_s)
{
	struct msg *m;
	while ((m = TAILQ_FIRST(&q->ready))) {
		if (q->max_receives > 0 && q->dlq && m->receives >= q->max_receives) {
			struct queue *dlq = get_queue(q->dlq);
			json_t *r = json_pack("{s:s,s:I,s:s}", "o", "m", "id", (json_int_t)m->id,
					      "q", dlq->name);
			demo_log_append_json(qlog, r);
			json_decref(r);
			log_warn("message %llu of %s received %d times: moved to %s",
				 (unsigned long long)m->id, q->name, m->receives, dlq->name);
			q->deadlettered++;
			msg_move(m, dlq);
			continue;
		}
		msg_unlink(m);
		m->receives++;
		if (m->receives > 1)
			q->redelivered++;
		q->received++;
		msg_make_inflight(m, skiff_mono_ms() + (int64_t)visibility_s * 1000);
		json_t *r =
		    json_pack("{s:s,s:I,s:i}", "o", "r", "id", (json_int_t)m->id, "n", m->receives);
		demo_log_append_json(qlog, r);
		json_decref(r);
		return m;
	}
	return NULL;
}

static json_t *msg_json(struct msg *m)
{
	char receipt[64];
	snprintf(receipt, sizeof(receipt), "%llu-%d", (unsigned long long)m->id, m->receives);
	char id[32];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)m->id);
	return json_pack("{s:s,s:s,s:s%,s:i,s:I,s:s}", "MessageId", id, "ReceiptHandle", receipt,
			 "Body", m->body, m->len, "ReceiveCount", m->receives, "SentTimestamp",
			 (json_int_t)m->sent_ms, "Queue", m->q->name);
}

static void reply_messages(struct evhttp_request *req, struct queue *q, int max, int visibility)
{
	json_t *arr = json_array();
	struct msg *m;
	while ((int)json_array_size(arr) < max && (m = take(q, visibility)))
		json_array_append_new(arr, msg_json(m));
	demo_reply_json(req, 200, json_pack("{s:o}", "Messages", arr));
}

static void waiter_free(struct waiter *w)
{
	TAILQ_REMOVE(&w->q->waiters, w, link);
	event_free(w->timer);
	free(w);
}

static void waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	(void)fd;
	(void)what;
	demo_reply_json(w->req, 200, json_pack("{s:[]}", "Messages"));
	waiter_free(w);
}

/* Hand visible messages to long-polling receivers, then to the pusher. */
static void serve(struct queue *q)
{
	struct waiter *w;
	while (q->nready > 0 && (w = TAILQ_FIRST(&q->waiters))) {
		if (!evhttp_request_get_connection(w->req)) {
			/* the client went away: answering frees the request */
			demo_reply_json(w->req, 200, NULL);
			waiter_free(w);
			continue;
		}
		reply_messages(w->req, q, w->max, w->visibility);
		waiter_free(w);
	}
	if (q->push)
		pump_push(q);
}

static void expire_tick(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = skiff_mono_ms();
	(void)fd;
	(void)what;
	(void)arg;
	for (struct queue *q = queues; q; q = q->next) {
		struct msg *m, *tmp;
		bool any = false;
		for (m = TAILQ_FIRST(&q->inflight); m; m = tmp) {
			tmp = TAILQ_NEXT(m, link);
			if (m->deadline_ms <= now) {
				msg_unlink(m);
				msg_make_ready(m, true);
				any = true;
			}
		}
		if (any || (q->push && q->nready))
			serve(q);
	}
	maybe_compact(false);
}

/* --- push delivery ------------------------------------------------------------------ */

struct push {
	struct queue *q;
	uint64_t id;
};

static void push_done(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg)
{
	struct push *p = arg;
	struct queue *q = p->q;
	struct msg *m = find_msg(p->id);
	int code = demo_response_code(resp);

	q->push_inflight--;
	if (m && m->q == q && m->inflight) {
		if (code >= 200 && code < 300) {
			q->push_ok++;
			q->deleted++;
			json_t *r = json_pack("{s:s,s:I}", "o", "d", "id", (json_int_t)m->id);
			demo_log_append_json(qlog, r);
			json_decref(r);
			msg_remove(m);
		} else {
			/* retry with exponential backoff: 0.5 s, 1 s, 2 s ... at most 30 s */
			int64_t backoff = 500;
			for (int i = 1; i < m->receives && backoff < 30000; i++)
				backoff *= 2;
			if (backoff > 30000)
				backoff = 30000;
			q->push_failed++;
			if (!code && ep)
				demo_endpoint_mark_down(ep, 1000);
			log_warn("push of message %llu (%s) to %s failed (%s); retry in %lld ms",
				 (unsigned long long)m->id, q->name, ep ? ep->name : q->push,
				 code ? "bad status" : "no connection", (long long)backoff);
			m->deadline_ms = skiff_mono_ms() + backoff;
		}
	}
	free(p);
	pump_push(q);
}

static void pump_push(struct queue *q)
{
	while (q->push && q->push_inflight < q->push_conns && q->nready > 0) {
		if (demo_upstream_refresh(q->push_up) == 0)
			return;
		struct msg *m = take(q, q->visibility_s);
		if (!m)
			return;
		struct demo_endpoint *ep = demo_upstream_pick(q->push_up, NULL);
		struct push *p = xcalloc(1, sizeof(*p));
		p->q = q;
		p->id = m->id;
		q->push_inflight++;
		struct demo_call *c = demo_endpoint_request(ep, push_done, p);
		struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
		char v[32];
		snprintf(v, sizeof(v), "%llu", (unsigned long long)m->id);
		evhttp_add_header(h, "X-Message-Id", v);
		snprintf(v, sizeof(v), "%d", m->receives);
		evhttp_add_header(h, "X-Receive-Count", v);
		evhttp_add_header(h, "X-Queue", q->name);
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(c->req), m->body, m->len);
		demo_call_send(c, EVHTTP_REQ_POST, q->push_path);
	}
}

/* --- HTTP handlers ---------------------------------------------------------------- */

static json_t *queue_json(struct queue *q)
{
	json_t *j = json_pack(
	    "{s:s,s:I,s:I,s:i,s:i,s:I,s:I,s:I,s:I,s:I}", "Name", q->name, "Visible",
	    (json_int_t)q->nready, "InFlight", (json_int_t)q->ninflight, "VisibilityTimeout",
	    q->visibility_s, "MaxReceiveCount", q->max_receives, "Sent", (json_int_t)q->sent,
	    "Received", (json_int_t)q->received, "Deleted", (json_int_t)q->deleted, "Redelivered",
	    (json_int_t)q->redelivered, "DeadLettered", (json_int_t)q->deadlettered);
	json_object_set_new(j, "DeadLetterQueue", q->dlq ? json_string(q->dlq) : json_null());
	json_object_set_new(j, "Push", q->push ? json_string(q->push) : json_null());
	if (q->push) {
		json_object_set_new(j, "PushDelivered", json_integer((json_int_t)q->push_ok));
		json_object_set_new(j, "PushFailed", json_integer((json_int_t)q->push_failed));
	}
	return j;
}

static void sync_then_reply(struct evhttp_request *req, int code, json_t *body)
{
	demo_log_sync_reply(qlog, req, code, body, NULL, NULL);
}

static void do_send(struct evhttp_request *req, struct queue *q)
{
	size_t len;
	_cleanup_free_ char *body = demo_request_body(req, &len);
	json_t *b;

	if (len > BODY_MAX) {
		demo_reply_error(req, 413, "message of %zu bytes is over the %d byte limit", len,
				 BODY_MAX);
		return;
	}
	if (nmsgs >= MESSAGES_MAX) {
		demo_reply_error(req, 503, "the queue server holds %d messages; try later",
				 MESSAGES_MAX);
		return;
	}
	b = json_stringn(body, len);
	if (!b) {
		demo_reply_error(req, 400, "message body must be UTF-8 text");
		return;
	}
	struct msg *m = msg_add(q, next_id++, body, len, skiff_now_ms());
	json_t *r = json_pack("{s:s,s:s,s:I,s:o,s:I}", "o", "s", "q", q->name, "id",
			      (json_int_t)m->id, "b", b, "t", (json_int_t)m->sent_ms);
	demo_log_append_json(qlog, r);
	json_decref(r);
	q->sent++;
	char id[32];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)m->id);
	sync_then_reply(req, 201, json_pack("{s:s,s:s}", "MessageId", id, "Queue", q->name));
	/* receivers are served now; a receiver can see the message before the
	 * sender's reply, but a crash before the fsync only loses a message
	 * nobody was told was stored */
	serve(q);
}

static void do_receive(struct evhttp_request *req, struct queue *q)
{
	int64_t max, wait, vis;
	if (demo_query_int(req, "max", 1, &max) < 0 || max < 1 || max > 100 ||
	    demo_query_int(req, "wait", 0, &wait) < 0 || wait < 0 || wait > 60 ||
	    demo_query_int(req, "visibility", q->visibility_s, &vis) < 0 || vis < 0 ||
	    vis > 43200) {
		demo_reply_error(req, 400, "max must be 1..100, wait 0..60, visibility 0..43200");
		return;
	}
	if (q->push) {
		demo_reply_error(req, 409, "queue %s is in push mode (to %s)", q->name, q->push);
		return;
	}
	if (q->nready > 0 || wait == 0) {
		reply_messages(req, q, (int)max, (int)vis);
		return;
	}
	struct waiter *w = xcalloc(1, sizeof(*w));
	struct timeval tv = { wait, 0 };
	w->req = req;
	w->q = q;
	w->max = (int)max;
	w->visibility = (int)vis;
	w->timer = evtimer_new(base, waiter_timeout, w);
	evtimer_add(w->timer, &tv);
	TAILQ_INSERT_TAIL(&q->waiters, w, link);
}

/* Delete by receipt handle "ID-RECEIVES"; true when a message was deleted. */
static bool delete_receipt(struct queue *q, const char *receipt)
{
	unsigned long long id;
	int n;
	if (sscanf(receipt, "%llu-%d", &id, &n) != 2)
		return false;
	struct msg *m = find_msg(id);
	if (!m || m->q != q)
		return false;
	json_t *r = json_pack("{s:s,s:I}", "o", "d", "id", (json_int_t)m->id);
	demo_log_append_json(qlog, r);
	json_decref(r);
	q->deleted++;
	msg_remove(m);
	return true;
}

/* ChangeMessageVisibility: the in-flight message of RECEIPT becomes visible
 * again after timeout seconds from now (0: at once). */
static void do_change_visibility(struct evhttp_request *req, struct queue *q, const char *receipt)
{
	unsigned long long id;
	int n;
	int64_t timeout;
	if (demo_query_int(req, "timeout", -1, &timeout) < 0 || timeout < 0 || timeout > 43200) {
		demo_reply_error(req, 400, "timeout must be 0..43200 seconds");
		return;
	}
	struct msg *m = sscanf(receipt, "%llu-%d", &id, &n) == 2 ? find_msg(id) : NULL;
	if (!m || m->q != q || !m->inflight || m->receives != n) {
		demo_reply_error(req, 404, "receipt %s is not in flight on %s (expired or deleted)",
				 receipt, q->name);
		return;
	}
	m->deadline_ms = skiff_mono_ms() + timeout * 1000;
	demo_reply_json(req, 200,
			json_pack("{s:s,s:I}", "ReceiptHandle", receipt, "VisibilityTimeout",
				  (json_int_t)timeout));
}

static void do_delete_batch(struct evhttp_request *req, struct queue *q)
{
	json_error_t err;
	_cleanup_free_ char *body = demo_request_body(req, NULL);
	json_t *j = json_loads(body, 0, &err);
	json_t *arr = j ? json_object_get(j, "ReceiptHandles") : NULL;
	if (!json_is_array(arr)) {
		json_decref(j);
		demo_reply_error(req, 400, "body must be {\"ReceiptHandles\":[...]}");
		return;
	}
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(arr, i,
			   v) if (json_is_string(v) && delete_receipt(q, json_string_value(v))) n++;
	json_decref(j);
	sync_then_reply(req, 200, json_pack("{s:I}", "Deleted", (json_int_t)n));
}

static void do_put_queue(struct evhttp_request *req, const char *name)
{
	_cleanup_free_ char *body = demo_request_body(req, NULL);
	json_error_t err;
	json_t *j = *body ? json_loads(body, 0, &err) : json_object();
	if (!json_is_object(j)) {
		json_decref(j);
		demo_reply_error(req, 400, "queue attributes must be a JSON object");
		return;
	}
	struct queue *q = get_queue(name);
	json_t *v;
	if ((v = json_object_get(j, "VisibilityTimeout")))
		q->visibility_s = (int)json_integer_value(v);
	if ((v = json_object_get(j, "MaxReceiveCount")))
		q->max_receives = (int)json_integer_value(v);
	if ((v = json_object_get(j, "DeadLetterQueue"))) {
		free(q->dlq);
		q->dlq = json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
		if (q->dlq)
			get_queue(q->dlq);
	}
	if ((v = json_object_get(j, "PushConnections")) && json_integer_value(v) > 0)
		q->push_conns = (int)json_integer_value(v);
	if ((v = json_object_get(j, "Push")))
		set_push(q, json_string_value(v));
	json_decref(j);
	log_queue(q);
	sync_then_reply(req, 200, queue_json(q));
	serve(q);
}

static void handle(struct evhttp_request *req, void *arg)
{
	(void)arg;
	_cleanup_free_ char *path = demo_request_path(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char name[128], rest[256];

	if (demo_handle_healthz(req, path))
		return;
	if (streq(path, "/queues") || streq(path, "/queues/")) {
		json_t *arr = json_array();
		for (struct queue *q = queues; q; q = q->next)
			json_array_append_new(arr, queue_json(q));
		demo_reply_json(req, 200,
				json_pack("{s:s,s:o,s:I,s:I}", "pod", demo_pod_name(), "Queues",
					  arr, "Messages", (json_int_t)nmsgs, "LogBytes",
					  (json_int_t)demo_log_size(qlog)));
		return;
	}
	rest[0] = 0;
	if (!skiff_startswith(path, "/queues/") ||
	    sscanf(path, "/queues/%127[^/]%255s", name, rest) < 1) {
		demo_reply_error(req, 404, "no such resource %s (see /queues)", path);
		return;
	}
	if (!demo_valid_name(name)) {
		demo_reply_error(req, 400, "queue name '%s' must be 1-80 of [A-Za-z0-9._-]", name);
		return;
	}
	if (!rest[0]) {
		if (m == EVHTTP_REQ_PUT) {
			do_put_queue(req, name);
		} else if (m == EVHTTP_REQ_GET) {
			struct queue *q = find_queue(name);
			if (q)
				demo_reply_json(req, 200, queue_json(q));
			else
				demo_reply_error(req, 404, "no queue %s", name);
		} else {
			demo_reply_error(req, 405, "use GET or PUT on /queues/%s", name);
		}
		return;
	}
	struct queue *q = get_queue(name);
	if (streq(rest, "/messages") && m == EVHTTP_REQ_POST)
		do_send(req, q);
	else if (streq(rest, "/messages") && m == EVHTTP_REQ_GET)
		do_receive(req, q);
	else if (skiff_startswith(rest, "/messages/") && skiff_endswith(rest, "/visibility") &&
		 (m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT)) {
		_cleanup_free_ char *receipt =
		    xstrndup(rest + strlen("/messages/"),
			     strlen(rest) - strlen("/messages/") - strlen("/visibility"));
		do_change_visibility(req, q, receipt);
	} else if (skiff_startswith(rest, "/messages/") && m == EVHTTP_REQ_DELETE) {
		bool ok = delete_receipt(q, rest + strlen("/messages/"));
		sync_then_reply(req, 200, json_pack("{s:b}", "Deleted", ok));
	} else if (streq(rest, "/delete") && m == EVHTTP_REQ_POST)
		do_delete_batch(req, q);
	else
		demo_reply_error(req, 404, "no such resource %s %s", demo_method_name(m), path);
}

/* --- start -------------------------------------------------------------------------- */

static void declare_queue(const char *spec)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *save = NULL;
	char *name = strtok_r(copy, ",", &save);
	if (!name || !demo_valid_name(name)) {
		log_error("queue spec '%s': the name must be 1-80 of [A-Za-z0-9._-]", spec);
		exit(2);
	}
	struct queue *q = get_queue(name);
	for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			log_error("queue spec '%s': '%s' is not KEY=VALUE", spec, kv);
			exit(2);
		}
		*eq++ = 0;
		if (streq(kv, "visibility"))
			q->visibility_s = (int)demo_parse_num("visibility", eq);
		else if (streq(kv, "max-receives"))
			q->max_receives = (int)demo_parse_num("max-receives", eq);
		else if (streq(kv, "dlq")) {
			free(q->dlq);
			q->dlq = *eq ? xstrdup(eq) : NULL;
			if (q->dlq)
				get_queue(q->dlq);
		} else if (streq(kv, "push-conns"))
			q->push_conns = (int)demo_parse_num("push-conns", eq);
		else if (streq(kv, "push"))
			set_push(q, eq);
		else {
			log_error("queue spec '%s': unknown key '%s' (visibility, max-receives, "
				  "dlq, push, push-conns)",
				  spec, kv);
			exit(2);
		}
	}
	if (q->push) { /* re-create the upstream with the final connection count */
		_cleanup_free_ char *push = xstrdup(q->push);
		set_push(q, push);
	}
	log_queue(q);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'D' },
		{ "queue", required_argument, NULL, 'q' },
		{ "visibility", required_argument, NULL, 'v' },
		{ "max-receives", required_argument, NULL, 'm' },
		{ "compact-mb", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *deflisten = xasprintf("0.0.0.0:%s", demo_env("PORT", "8080"));
	const char *listen = deflisten, *data = demo_env("QUEUE_DATA", "/data");
	char **specs = NULL;
	size_t nspecs = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "l:D:q:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'D':
			data = optarg;
			break;
		case 'q':
			specs = xrealloc(specs, (nspecs + 1) * sizeof(*specs));
			specs[nspecs++] = optarg;
			break;
		case 'v':
			default_visibility = (int)demo_parse_num("--visibility", optarg);
			break;
		case 'm':
			default_max_receives = (int)demo_parse_num("--max-receives", optarg);
			break;
		case 'c':
			compact_bytes = (uint64_t)demo_parse_num("--compact-mb", optarg) << 20;
			break;
		default:
			fprintf(
			    stderr,
			    "usage: queue-svc [--listen IP:PORT] [--data DIR] [--queue SPEC]... "
			    "[--visibility S] [--max-receives N] [--compact-mb N]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	base = demo_base_new("queue-svc");
	r = skiff_mkdir_p(data, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create the data directory %s: %m", data), 1;
	_cleanup_free_ char *path = xasprintf("%s/queue.log", data);
	replaying = true;
	r = demo_log_open(base, path, replay_record, NULL, &qlog);
	replaying = false;
	if (r < 0)
		return 1;
	log_info("replayed %s: %llu records, %llu messages", path,
		 (unsigned long long)demo_log_records(qlog), (unsigned long long)nmsgs);
	maybe_compact(true);
	const char *envq = getenv("QUEUES");
	if (envq) {
		_cleanup_free_ char *copy = xstrdup(envq);
		char *save = NULL;
		for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save))
			declare_queue(t);
	}
	for (size_t i = 0; i < nspecs; i++)
		declare_queue(specs[i]);
	free(specs);
	r = demo_log_flush_now(qlog);
	if (r < 0)
		return log_error_errno(r, "cannot write %s: %m", path), 1;

	struct evhttp *http = demo_http_listen(base, listen);
	if (!http)
		return 1;
	evhttp_set_gencb(http, handle, NULL);
	struct event *tick = event_new(base, -1, EV_PERSIST, expire_tick, NULL);
	struct timeval tv = { 0, 100000 };
	event_add(tick, &tv);
	for (struct queue *q = queues; q; q = q->next)
		serve(q);
	event_base_dispatch(base);
	event_free(tick);
	evhttp_free(http);
	demo_log_free(qlog);
	demo_base_free(base);
	return 0;
}
