/* httpload — a small HTTP load generator and checker for the demos (evhttp client).
 *
 * Sends requests over -c keep-alive connections (each one request at a time)
 * until -n requests were answered or -d seconds passed, optionally paced to
 * -r requests/s in total. "%d" in the URL path or the body is replaced by the
 * request's sequence number (from --start). Prints one JSON summary line:
 *   {"requests":300,"ok":300,"failed":0,"retried":0,"seconds":0.21,"rps":1428.6,
 *    "p50_ms":0.6,"p99_ms":1.9,"max_ms":3.1,"counts":{"users-0":100,...}}
 * ok counts 2xx answers. --count FIELD tallies that field of JSON answers.
 * --retries K retries a request that failed (connection error or 5xx) up to
 * K times, waiting 100 ms more per attempt (at most 1 s); without it a failure
 * is final.
 * Exit status: 0 when every request succeeded, 1 otherwise.
 *
 *   httpload [-n N | -d SECONDS] [-c CONNS] [-r RATE] [-X METHOD] [-b BODY]
 *            [-H 'Name: value'] [--start N] [--retries K] [--count FIELD]
 *            [--timeout S] [-v] URL
 */
#include <getopt.h>
#include <math.h>
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

struct slot {
	struct evhttp_connection *evcon;
	int64_t seq;
	int attempt;
	uint64_t started_ns;
	struct event *timer;
	unsigned idx;
};

static struct event_base *base;
static struct evhttp_uri *uri;
static const char *host;
static int port;
static char *path_tmpl, *body_tmpl;
static enum evhttp_cmd_type method = EVHTTP_REQ_GET;
static char **headers;
static unsigned nheaders;
static int64_t total = -1, duration_ms = -1, start_seq, rate;
static int retries, timeout_s = 10;
static const char *count_field;
static bool verbose;

static int64_t next_seq, done, ok, failed, retried;
static uint64_t t0_ns;
static double *lat_ms;
static size_t nlat, caplat;
static json_t *counts;
static unsigned active_slots;

static char *subst(const char *tmpl, int64_t seq)
{
	const char *p = strstr(tmpl, "%d");
	if (!p)
		return xstrdup(tmpl);
	return xasprintf("%.*s%lld%s", (int)(p - tmpl), tmpl, (long long)seq, p + 2);
}

static void issue(struct slot *s);
static void next_request(struct slot *s);

static bool finished(void)
{
	if (total >= 0 && next_seq - start_seq >= total)
		return true;
	if (duration_ms >= 0 && (int64_t)((skiff_mono_ns() - t0_ns) / 1000000) >= duration_ms)
		return true;
	return false;
}

static void record(double ms)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 1024;
		lat_ms = xrealloc(lat_ms, caplat * sizeof(*lat_ms));
	}
	lat_ms[nlat++] = ms;
}

static void slot_done(struct slot *s)
{
	(void)s;
	if (--active_slots == 0)
		event_base_loopexit(base, NULL);
}

static void tally(struct evhttp_request *resp)
{
	if (!count_field)
		return;
	json_t *j = demo_response_json(resp);
	json_t *v = j ? json_object_get(j, count_field) : NULL;
	_cleanup_free_ char *key = NULL;
	if (json_is_string(v))
		key = xstrdup(json_string_value(v));
	else if (v)
		key = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	else
		key = xstrdup("(none)");
	json_t *c = json_object_get(counts, key);
	json_object_set_new(counts, key, json_integer(c ? json_integer_value(c) + 1 : 1));
	json_decref(j);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	issue(arg);
}

static void on_response(struct evhttp_request *resp, void *arg)
{
	struct slot *s = arg;
	int code = resp ? evhttp_request_get_response_code(resp) : 0;
	double ms = (double)(skiff_mono_ns() - s->started_ns) / 1e6;

	if (code >= 200 && code < 300) {
		ok++;
		done++;
		record(ms);
		tally(resp);
		if (verbose) {
			struct evbuffer *in = evhttp_request_get_input_buffer(resp);
			fprintf(stderr, "%lld %d %.*s", (long long)s->seq, code,
				(int)evbuffer_get_length(in), evbuffer_pullup(in, -1));
		}
		next_request(s);
		return;
	}
	if ((code == 0 || code >= 500) && s->attempt < retries) {
		s->attempt++;
		retried++;
		/* 100 ms more per attempt, at most 1 s: a service back after an
		 * outage gets its retried requests within a second */
		int64_t wait_ms = 100 * (int64_t)s->attempt;
		if (wait_ms > 1000)
			wait_ms = 1000;
		struct timeval tv = { wait_ms / 1000, (wait_ms % 1000) * 1000 };
		evtimer_add(s->timer, &tv);
		return;
	}
	failed++;
	done++;
	record(ms);
	if (verbose || failed <= 5) {
		char what[32] = "connection error";
		if (code)
			snprintf(what, sizeof(what), "HTTP %d", code);
		fprintf(stderr, "httpload: request %lld failed: %s\n", (long long)s->seq, what);
	}
	next_request(s);
}

static void issue(struct slot *s)
{
	struct evhttp_request *req = evhttp_request_new(on_response, s);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	_cleanup_free_ char *path = subst(path_tmpl, s->seq);

	evhttp_add_header(h, "Host", host);
	for (unsigned i = 0; i < nheaders; i++) {
		_cleanup_free_ char *k = xstrdup(headers[i]);
		char *colon = strchr(k, ':');
		if (!colon)
			continue;
		*colon = 0;
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		evhttp_add_header(h, k, v);
	}
	if (body_tmpl) {
		_cleanup_free_ char *b = subst(body_tmpl, s->seq);
		if (!evhttp_find_header(h, "Content-Type"))
			evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), b, strlen(b));
	}
	s->started_ns = skiff_mono_ns();
	if (evhttp_make_request(s->evcon, req, method, path) < 0)
		on_response(NULL, s);
}

static void next_request(struct slot *s)
{
	if (finished()) {
		slot_done(s);
		return;
	}
	s->seq = next_seq++;
	s->attempt = 0;
	if (rate > 0) {
		/* request k is due at t0 + k/rate */
		int64_t k = s->seq - start_seq;
		uint64_t due = t0_ns + (uint64_t)((double)k * 1e9 / (double)rate);
		uint64_t now = skiff_mono_ns();
		if (due > now) {
			uint64_t d = due - now;
			struct timeval tv = { (time_t)(d / 1000000000),
					      (suseconds_t)(d % 1000000000) / 1000 };
			evtimer_add(s->timer, &tv);
			return;
		}
	}
	issue(s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	if (nlat == 0)
		return 0;
	size_t i = (size_t)ceil(p / 100.0 * (double)nlat);
	if (i > 0)
		i--;
	return lat_ms[i < nlat ? i : nlat - 1];
}

static enum evhttp_cmd_type parse_method(const char *m)
{
	static const struct {
		const char *n;
		enum evhttp_cmd_type t;
	} tab[] = { { "GET", EVHTTP_REQ_GET },	      { "POST", EVHTTP_REQ_POST },
		    { "PUT", EVHTTP_REQ_PUT },	      { "DELETE", EVHTTP_REQ_DELETE },
		    { "HEAD", EVHTTP_REQ_HEAD },      { "PATCH", EVHTTP_REQ_PATCH },
		    { "OPTIONS", EVHTTP_REQ_OPTIONS } };
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(m, tab[i].n) == 0)
			return tab[i].t;
	log_error("method '%s' is not one of GET POST PUT DELETE HEAD PATCH OPTIONS", m);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "conns", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "method", required_argument, NULL, 'X' },
		{ "body", required_argument, NULL, 'b' },
		{ "header", required_argument, NULL, 'H' },
		{ "start", required_argument, NULL, 's' },
		{ "retries", required_argument, NULL, 'R' },
		{ "count", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int64_t conns = 1;
	int c;

	while ((c = getopt_long(argc, argv, "n:d:c:r:X:b:H:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			total = demo_parse_num("-n", optarg);
			break;
		case 'd':
			duration_ms = (int64_t)(atof(optarg) * 1000);
			break;
		case 'c':
			conns = demo_parse_num("-c", optarg);
			break;
		case 'r':
			rate = demo_parse_num("-r", optarg);
			break;
		case 'X':
			method = parse_method(optarg);
			break;
		case 'b':
			body_tmpl = optarg;
			break;
		case 'H':
			headers = xrealloc(headers, (nheaders + 1) * sizeof(*headers));
			headers[nheaders++] = optarg;
			break;
		case 's':
			start_seq = demo_parse_num("--start", optarg);
			break;
		case 'R':
			retries = (int)demo_parse_num("--retries", optarg);
			break;
		case 'C':
			count_field = optarg;
			break;
		case 't':
			timeout_s = (int)demo_parse_num("--timeout", optarg);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: httpload [-n N | -d SECONDS] [-c CONNS] [-r RATE] "
					"[-X METHOD] [-b BODY] [-H 'K: V'] [--start N] "
					"[--retries K] [--count FIELD] [--timeout S] [-v] URL\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "httpload: exactly one URL expected\n");
		return 2;
	}
	if (total < 0 && duration_ms < 0)
		total = 1;
	if (conns < 1)
		conns = 1;
	/* the path may hold "%d", which is not a valid URI: parse only the authority */
	const char *url = argv[optind];
	const char *sep = strstr(url, "://");
	const char *slash = sep ? strchr(sep + 3, '/') : NULL;
	_cleanup_free_ char *authority =
	    slash ? xstrndup(url, (size_t)(slash - url)) : xstrdup(url);
	uri = evhttp_uri_parse(authority);
	if (!uri || !evhttp_uri_get_host(uri) || !evhttp_uri_get_scheme(uri) ||
	    strcmp(evhttp_uri_get_scheme(uri), "http") != 0) {
		fprintf(stderr, "httpload: '%s' is not an http://HOST:PORT/PATH URL\n", url);
		return 2;
	}
	host = evhttp_uri_get_host(uri);
	port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 80;
	path_tmpl = xstrdup(slash ? slash : "/");
	counts = json_object();

	base = demo_base_new("httpload");
	skiff_log_set_level(SKIFF_LOG_WARN);
	struct slot *slots = xcalloc((size_t)conns, sizeof(*slots));
	next_seq = start_seq;
	t0_ns = skiff_mono_ns();
	active_slots = (unsigned)conns;
	for (int64_t i = 0; i < conns; i++) {
		slots[i].idx = (unsigned)i;
		slots[i].evcon = evhttp_connection_base_new(base, NULL, host, (ev_uint16_t)port);
		evhttp_connection_set_timeout(slots[i].evcon, timeout_s);
		evhttp_connection_set_retries(slots[i].evcon, 0);
		slots[i].timer = evtimer_new(base, retry_cb, &slots[i]);
	}
	for (int64_t i = 0; i < conns; i++)
		next_request(&slots[i]);
	event_base_dispatch(base);

	double secs = (double)(skiff_mono_ns() - t0_ns) / 1e9;
	qsort(lat_ms, nlat, sizeof(*lat_ms), cmp_double);
	json_t *out = json_pack(
	    "{s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "requests", (json_int_t)done, "ok",
	    (json_int_t)ok, "failed", (json_int_t)failed, "retried", (json_int_t)retried, "seconds",
	    secs, "rps", secs > 0 ? (double)done / secs : 0.0, "p50_ms", pct(50), "p90_ms", pct(90),
	    "p99_ms", pct(99), "max_ms", nlat ? lat_ms[nlat - 1] : 0.0);
	if (count_field)
		json_object_set(out, "counts", counts);
	char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
	printf("%s\n", s);
	free(s);
	json_decref(out);
	for (int64_t i = 0; i < conns; i++) {
		evhttp_connection_free(slots[i].evcon);
		event_free(slots[i].timer);
	}
	free(slots);
	json_decref(counts);
	evhttp_uri_free(uri);
	free(path_tmpl);
	free(lat_ms);
	free(headers);
	demo_base_free(base);
	return failed == 0 && done > 0 ? 0 : 1;
}
