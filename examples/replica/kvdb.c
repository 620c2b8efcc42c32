/* kvdb — the replica demo: a key-value database with one primary and read replicas.
 *
 * Primary (--role primary): the only writer.
 *   PUT /kv/KEY (body = value, UTF-8)  -> {"key":..,"pos":N} once fsync'ed to DATA/kv.log
 *   DELETE /kv/KEY, GET /kv/KEY        (reads work here too)
 *   GET /replicate?from=N&wait=MS&replica=NAME
 *        the durable log records from position N (at most 1000), waiting up to
 *        MS for new ones (long polling); N is also the replica's reported position
 *   GET /status  {"role":"primary","pos":N,"replicas":[{"name","pos","lag_records",
 *                 "lag_ms","seen_ms_ago"}]}; lag_ms is the age of the oldest
 *                 write the replica has not got yet (0 when caught up)
 * Replica (--role replica): follows the primary's log asynchronously from its
 * own position (long polling), appends what it gets to its own DATA/kv.log
 * (fsync) and applies it; a restarted replica replays its log and continues
 * from where it was. It serves GET /kv/KEY and refuses writes (403).
 *   GET /status  {"role":"replica","pos":N,"primary_pos":N,"lag_records":N,
 *                 "delay_ms":{"last","p50","p99"} (write -> applied here),"connected"}
 * Positions count records: the first write is position 1.
 *
 *   kvdb --role primary|replica [--listen IP:PORT] [--data DIR] [--primary SPEC] [--name NAME]
 *   SPEC: a service name (default "kv-primary") or IP:PORT.
 *   env: KV_ROLE, KV_PRIMARY, KV_DATA (default /data), PORT (default 8080), SKIFF_POD_NAME
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "demo.h"
#include "log.h"
#include "util.h"

#define REPLICATE_MAX 1000
#define DELAY_RING    1024

static struct event_base *base;
static struct demo_log *kvlog;
static json_t *map;	 /* key -> value */
static json_t **records; /* every record, for replication (primary) */
static size_t nrecords, caprecords;
static uint64_t pos, durable_pos; /* records applied / fsync'ed */
static bool primary;
static const char *name;

/* --- log and state ----------------------------------------------------------------- */

static void apply(json_t *rec)
{
	const char *k = json_string_value(json_object_get(rec, "k"));
	json_t *v = json_object_get(rec, "v");
	if (!k)
		return;
	if (v)
		json_object_set(map, k, v);
	else
		json_object_del(map, k);
	if (primary) {
		if (nrecords == caprecords) {
			caprecords = caprecords ? caprecords * 2 : 4096;
			records = xrealloc(records, caprecords * sizeof(*records));
		}
		records[nrecords++] = json_incref(rec);
	}
	pos++;
}

static int replay_record(const char *rec, size_t len, void *arg)
{
	(void)arg;
	json_t *j = demo_record_json(rec, len);
	if (!json_is_object(j)) {
		json_decref(j);
		return log_error_errno(-EBADMSG, "kv log: record %llu is not a kv record",
				       (unsigned long long)pos + 1);
	}
	apply(j);
	json_decref(j);
	return 0;
}

/* --- primary: replication waiters ------------------------------------------------------ */

struct replica_info {
	char *name;
	uint64_t pos;
	int64_t seen_ms;
	struct replica_info *next;
};
static struct replica_info *replicas;

struct repl_waiter {
	struct evhttp_request *req;
	char *replica;
	uint64_t from;
	struct event *timer;
	struct repl_waiter *next;
};
static struct repl_waiter *repl_waiters;

static void note_replica(const char *rname, uint64_t at)
{
	struct replica_info *r;
	for (r = replicas; r; r = r->next)
		if (streq(r->name, rname))
			break;
	if (!r) {
		r = xcalloc(1, sizeof(*r));
		r->name = xstrdup(rname);
		r->next = replicas;
		replicas = r;
		log_info("replica %s connected at position %llu", rname, (unsigned long long)at);
	}
	r->pos = at;
	r->seen_ms = skiff_mono_ms();
}

static void reply_records(struct evhttp_request *req, uint64_t from)
{
	json_t *arr = json_array();
	for (uint64_t i = from; i < durable_pos && i < from + REPLICATE_MAX; i++)
		json_array_append(arr, records[i]);
	demo_reply_json(req, 200,
			json_pack("{s:I,s:I,s:o}", "from", (json_int_t)from, "primary_pos",
				  (json_int_t)durable_pos, "records", arr));
}

static void remove_waiter(struct repl_waiter *w)
{
	for (struct repl_waiter **pp = &repl_waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	event_free(w->timer);
	free(w->replica);
	free(w);
}

static void repl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct repl_waiter *w = arg;
	(void)fd;
	(void)what;
	reply_records(w->req, w->from);
	remove_waiter(w);
}

static void wake_replicas(void)
{
	while (repl_waiters) {
		struct repl_waiter *w = repl_waiters;
		reply_records(w->req, w->from);
		remove_waiter(w);
	}
}

static void do_replicate(struct evhttp_request *req)
{
	int64_t from, wait;
	_cleanup_free_ char *rname = demo_query_str(req, "replica");
	if (demo_query_int(req, "from", 0, &from) < 0 || from < 0 ||
	    demo_query_int(req, "wait", 0, &wait) < 0 || wait < 0 || wait > 60000) {
		demo_reply_error(req, 400, "from must be a position >= 0, wait 0..60000 ms");
		return;
	}
	if ((uint64_t)from > durable_pos) {
		demo_reply_error(
		    req, 409,
		    "replica at position %lld is ahead of the primary (%llu): its data "
		    "is not from this primary",
		    (long long)from, (unsigned long long)durable_pos);
		return;
	}
	if (rname)
		note_replica(rname, (uint64_t)from);
	if ((uint64_t)from < durable_pos || wait == 0) {
		reply_records(req, (uint64_t)from);
		return;
	}
	struct repl_waiter *w = xcalloc(1, sizeof(*w));
	struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };
	w->req = req;
	w->replica = rname ? xstrdup(rname) : NULL;
	w->from = (uint64_t)from;
	w->timer = evtimer_new(base, repl_timeout, w);
	evtimer_add(w->timer, &tv);
	w->next = repl_waiters;
	repl_waiters = w;
}

struct write_reply {
	struct evhttp_request *req;
	char *key;
	uint64_t pos;
};

static void after_write_sync(int err, void *arg)
{
	struct write_reply *w = arg;
	if (err < 0) {
		demo_reply_error(w->req, 500, "cannot write the log: %s", strerror(-err));
	} else {
		if (w->pos > durable_pos)
			durable_pos = w->pos;
		demo_reply_json(w->req, 200,
				json_pack("{s:s,s:I}", "key", w->key, "pos", (json_int_t)w->pos));
	}
	free(w->key);
	free(w);
	wake_replicas();
}

static void do_write(struct evhttp_request *req, const char *key, bool del)
{
	size_t len;
	_cleanup_free_ char *body = demo_request_body(req, &len);
	json_t *rec;

	if (del) {
		rec = json_pack("{s:s,s:I}", "k", key, "t", (json_int_t)skiff_now_ms());
	} else {
		json_t *v = json_stringn(body, len);
		if (!v) {
			demo_reply_error(req, 400, "the value must be UTF-8 text");
			return;
		}
		rec = json_pack("{s:s,s:o,s:I}", "k", key, "v", v, "t", (json_int_t)skiff_now_ms());
	}
	demo_log_append_json(kvlog, rec);
	apply(rec);
	json_decref(rec);
	struct write_reply *w = xcalloc(1, sizeof(*w));
	w->req = req;
	w->key = xstrdup(key);
	w->pos = pos;
	demo_log_sync(kvlog, after_write_sync, w);
}

static json_t *primary_status(void)
{
	json_t *arr = json_array();
	int64_t now = skiff_mono_ms(), wall = skiff_now_ms();
	for (struct replica_info *r = replicas; r; r = r->next) {
		int64_t lag_ms = 0;
		for (struct repl_waiter *w = repl_waiters; w; w = w->next)
			if (w->replica && streq(w->replica, r->name))
				r->seen_ms = now; /* waiting in a long poll right now */
		if (r->pos < durable_pos)
			lag_ms = wall - json_integer_value(json_object_get(records[r->pos], "t"));
		json_array_append_new(arr,
				      json_pack("{s:s,s:I,s:I,s:I,s:I}", "name", r->name, "pos",
						(json_int_t)r->pos, "lag_records",
						(json_int_t)(durable_pos - r->pos), "lag_ms",
						(json_int_t)(lag_ms > 0 ? lag_ms : 0),
						"seen_ms_ago", (json_int_t)(now - r->seen_ms)));
	}
	return json_pack("{s:s,s:s,s:I,s:I,s:o}", "role", "primary", "pod", name, "pos",
			 (json_int_t)durable_pos, "keys", (json_int_t)json_object_size(map),
			 "replicas", arr);
}

/* --- replica: following the primary ------------------------------------------------------ */

static struct demo_upstream *primary_up;
static uint64_t primary_pos;
static bool connected;
static struct event *retry_timer;
static int64_t delays[DELAY_RING];
static uint64_t ndelays;

static void follow(void);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	follow();
}

static void retry_later(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(retry_timer, &tv);
}

static void after_replica_sync(int err, void *arg)
{
	(void)arg;
	if (err < 0) {
		log_error_errno(err, "cannot write the replica log: %m");
		retry_later(1000);
		return;
	}
	durable_pos = pos;
	follow();
}

static void on_records(struct evhttp_request *resp, struct demo_endpoint *ep, void *arg)
{
	(void)arg;
	int code = demo_response_code(resp);
	json_t *j = code == 200 ? demo_response_json(resp) : NULL;
	json_t *recs = j ? json_object_get(j, "records") : NULL;

	if (!json_is_array(recs)) {
		if (connected || code)
			log_warn("replication from %s failed (%s); retrying every 0.5 s",
				 ep ? ep->name : demo_upstream_spec(primary_up),
				 code ? "bad answer" : "no connection");
		if (code == 409) {
			json_t *e = demo_response_json(resp);
			log_error("primary says: %s",
				  e ? json_string_value(json_object_get(e, "error")) : "?");
			json_decref(e);
		}
		connected = false;
		json_decref(j);
		retry_later(500);
		return;
	}
	if (!connected)
		log_info("following the primary %s from position %llu", ep->name,
			 (unsigned long long)pos);
	connected = true;
	primary_pos = (uint64_t)json_integer_value(json_object_get(j, "primary_pos"));
	uint64_t from = (uint64_t)json_integer_value(json_object_get(j, "from"));
	if (from != pos) {
		json_decref(j);
		retry_later(100);
		return;
	}
	size_t i;
	json_t *rec;
	int64_t now = skiff_now_ms();
	json_array_foreach(recs, i, rec)
	{
		demo_log_append_json(kvlog, rec);
		apply(rec);
		delays[ndelays++ % DELAY_RING] =
		    now - json_integer_value(json_object_get(rec, "t"));
	}
	size_t n = json_array_size(recs);
	json_decref(j);
	if (n > 0)
		demo_log_sync(kvlog, after_replica_sync, NULL);
	else
		follow();
}

static void follow(void)
{
	_cleanup_free_ char *uri = NULL;
	_cleanup_free_ char *ename = evhttp_encode_uri(name);
	uri =
	    xasprintf("/replicate?from=%llu&wait=5000&replica=%s", (unsigned long long)pos, ename);
	demo_upstream_call(primary_up, EVHTTP_REQ_GET, uri, NULL, 0, on_records, NULL);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static json_t *replica_status(void)
{
	size_t n = ndelays < DELAY_RING ? ndelays : DELAY_RING;
	int64_t sorted[DELAY_RING];
	memcpy(sorted, delays, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_i64);
	json_t *d =
	    json_pack("{s:I,s:I,s:I,s:I}", "last",
		      (json_int_t)(ndelays ? delays[(ndelays - 1) % DELAY_RING] : 0), "p50",
		      (json_int_t)(n ? sorted[n / 2] : 0), "p99",
		      (json_int_t)(n ? sorted[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0),
		      "samples", (json_int_t)n);
	return json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:b,s:s,s:I}", "role", "replica", "pod", name,
			 "pos", (json_int_t)pos, "primary_pos", (json_int_t)primary_pos,
			 "lag_records", (json_int_t)(primary_pos > pos ? primary_pos - pos : 0),
			 "delay_ms", d, "connected", connected, "primary",
			 demo_upstream_spec(primary_up), "keys", (json_int_t)json_object_size(map));
}

/* --- HTTP ----------------------------------------------------------------------------------- */

static void handle(struct evhttp_request *req, void *arg)
{
	(void)arg;
	_cleanup_free_ char *path = demo_request_path(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (streq(path, "/healthz")) {
		demo_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (streq(path, "/status")) {
		demo_reply_json(req, 200, primary ? primary_status() : replica_status());
		return;
	}
	if (primary && streq(path, "/replicate")) {
		do_replicate(req);
		return;
	}
	if (!skiff_startswith(path, "/kv/") || !path[4]) {
		demo_reply_error(req, 404, "use /kv/KEY, /status%s", primary ? ", /replicate" : "");
		return;
	}
	const char *key = path + 4;
	if (m == EVHTTP_REQ_GET) {
		json_t *v = json_object_get(map, key);
		if (!v) {
			demo_reply_error(req, 404, "no key %s", key);
			return;
		}
		demo_reply_json(req, 200,
				json_pack("{s:s,s:O,s:I,s:s}", "key", key, "value", v, "pos",
					  (json_int_t)pos, "served_by", name));
		return;
	}
	if (m != EVHTTP_REQ_PUT && m != EVHTTP_REQ_POST && m != EVHTTP_REQ_DELETE) {
		demo_reply_error(req, 405, "use GET, PUT or DELETE on /kv/KEY");
		return;
	}
	if (!primary) {
		demo_reply_error(req, 403, "%s is a read-only replica; write to the primary (%s)",
				 name, demo_upstream_spec(primary_up));
		return;
	}
	do_write(req, key, m == EVHTTP_REQ_DELETE);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'D' },
		{ "primary", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *deflisten = xasprintf("0.0.0.0:%s", demo_env("PORT", "8080"));
	const char *listen = deflisten, *data = demo_env("KV_DATA", "/data");
	const char *role = demo_env("KV_ROLE", NULL), *pspec = demo_env("KV_PRIMARY", "kv-primary");
	int c, r;

	name = demo_pod_name();
	while ((c = getopt_long(argc, argv, "r:l:D:p:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'D':
			data = optarg;
			break;
		case 'p':
			pspec = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			fprintf(
			    stderr,
			    "usage: kvdb --role primary|replica [--listen IP:PORT] [--data DIR] "
			    "[--primary SPEC] [--name NAME]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!role || (!streq(role, "primary") && !streq(role, "replica"))) {
		fprintf(stderr, "kvdb: --role must be primary or replica (or set KV_ROLE)\n");
		return 2;
	}
	primary = streq(role, "primary");
	base = demo_base_new(primary ? "kvdb-primary" : "kvdb-replica");
	map = json_object();
	r = skiff_mkdir_p(data, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create the data directory %s: %m", data), 1;
	_cleanup_free_ char *path = xasprintf("%s/kv.log", data);
	if (demo_log_open(base, path, replay_record, NULL, &kvlog) < 0)
		return 1;
	durable_pos = pos;
	log_info("%s %s: replayed %s, position %llu, %zu keys", role, name, path,
		 (unsigned long long)pos, json_object_size(map));
	struct evhttp *http = demo_http_listen(base, listen);
	if (!http)
		return 1;
	evhttp_set_gencb(http, handle, NULL);
	if (!primary) {
		primary_up = demo_upstream_new(base, pspec, 15, 1);
		retry_timer = evtimer_new(base, retry_cb, NULL);
		log_info("following the primary at %s", demo_upstream_spec(primary_up));
		follow();
	}
	event_base_dispatch(base);
	if (retry_timer)
		event_free(retry_timer);
	demo_upstream_free(primary_up);
	evhttp_free(http);
	demo_log_free(kvlog);
	for (size_t i = 0; i < nrecords; i++)
		json_decref(records[i]);
	free(records);
	json_decref(map);
	demo_base_free(base);
	return 0;
}
