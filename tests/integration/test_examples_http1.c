/* test_examples_http1.c — the gateway's in-place HTTP/1.1 messages
 * (examples/common/http1.c): header offsets and the body's start and the
 * message's end come out the same whether the bytes arrive at once or one at
 * a time (the buffer moving as it grows), pipelined requests stay in the
 * buffer, chunked and Content-Length bodies, a HEAD response without a body,
 * a body that ends with the connection, garbage and too many headers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "testlib.h"

static const char req[] = "POST /users/7?x=1 HTTP/1.1\r\n"
			  "Host: gw\r\n"
			  "Content-Length: 5\r\n"
			  "X-Empty:\r\n"
			  "\r\n"
			  "hello";

static void check_req(const struct demo_buf *b, const struct demo_hmsg *m)
{
	ck_assert(m->headers_done);
	ck_assert(m->complete);
	ck_assert_uint_eq(m->p.method, HTTP_POST);
	ck_assert_uint_eq(m->head_end, strlen(req) - 5);
	ck_assert_uint_eq(m->end, strlen(req));
	ck_assert_int_eq((int)m->first.len, (int)strlen("/users/7?x=1"));
	ck_assert(memcmp(b->p + m->first.off, "/users/7?x=1", m->first.len) == 0);
	ck_assert_uint_eq(m->n, 3);
	ck_assert(demo_span_is(b->p, m->field[1], "content-length"));
	ck_assert(demo_span_is(b->p, m->value[1], "5"));
	ck_assert(demo_span_is(b->p, m->field[2], "X-Empty"));
	ck_assert_uint_eq(m->value[2].len, 0);
	ck_assert(m->keep_alive);
}

/* Feed until complete, stopping at the headers as the gateway does. */
static int feed_all(struct demo_hmsg *m, struct demo_buf *b, bool eof)
{
	for (int i = 0; i < 4 && !m->complete; i++)
		if (demo_hmsg_feed(m, b, eof) < 0)
			return -1;
	return 0;
}

TEST(whole_and_byte_by_byte)
{
	struct demo_buf b = { 0 };
	struct demo_hmsg m;

	demo_hmsg_init(&m, HTTP_REQUEST);
	demo_buf_adds(&b, req);
	ck_assert_int_eq(demo_hmsg_feed(&m, &b, false), 0);
	ck_assert(m.headers_done && !m.complete); /* stops after the header block */
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	check_req(&b, &m);
	demo_buf_free(&b);

	demo_hmsg_init(&m, HTTP_REQUEST);
	for (size_t i = 0; i < strlen(req); i++) {
		/* a fresh, exactly sized copy each time: the bytes move */
		struct demo_buf nb = { 0 };
		demo_buf_add(&nb, b.p ? b.p : "", b.len);
		demo_buf_add(&nb, req + i, 1);
		demo_buf_free(&b);
		b = nb;
		ck_assert_int_eq(feed_all(&m, &b, false), 0);
		ck_assert(m.complete == (i == strlen(req) - 1));
	}
	check_req(&b, &m);
	demo_buf_free(&b);
}
END_TEST

TEST(pipelined_and_chunked)
{
	static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
				  "PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "3\r\nabc\r\n0\r\n\r\n"
				  "GET /c";
	struct demo_buf b = { 0 };
	struct demo_hmsg m;

	demo_buf_adds(&b, two);
	demo_hmsg_init(&m, HTTP_REQUEST);
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	ck_assert(m.complete);
	ck_assert_uint_eq(m.end, strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
	ck_assert_uint_eq(m.head_end, m.end);
	demo_buf_drop(&b, m.end);

	demo_hmsg_init(&m, HTTP_REQUEST);
	ck_assert_int_eq(demo_hmsg_feed(&m, &b, false), 0);
	ck_assert(m.headers_done && (m.p.flags & F_CHUNKED));
	ck_assert_uint_eq(m.head_end,
			  strlen("PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	ck_assert(m.complete);
	ck_assert_uint_eq(m.end, m.head_end + strlen("3\r\nabc\r\n0\r\n\r\n"));
	demo_buf_drop(&b, m.end);
	ck_assert_uint_eq(b.len, strlen("GET /c")); /* the next, incomplete request waits */

	demo_hmsg_init(&m, HTTP_REQUEST);
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	ck_assert(!m.headers_done);
	demo_buf_free(&b);
}
END_TEST

TEST(responses)
{
	struct demo_buf b = { 0 }, sink = { 0 };
	struct demo_hmsg m;

	/* a HEAD answer announces a length but has no body */
	demo_buf_adds(&b, "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");
	demo_hmsg_init(&m, HTTP_RESPONSE);
	m.skip_body = true;
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	ck_assert(m.complete);
	ck_assert_uint_eq(m.end, b.len);
	ck_assert_uint_eq(m.p.status_code, 200);
	ck_assert(demo_span_is(b.p, m.first, "ok"));
	b.len = 0;

	/* a body that ends with the connection */
	demo_buf_adds(&b, "HTTP/1.0 200 OK\r\n\r\nsome bytes");
	demo_hmsg_init(&m, HTTP_RESPONSE);
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	ck_assert(m.headers_done && !m.complete && !m.keep_alive);
	ck_assert_int_eq(feed_all(&m, &b, true), 0);
	ck_assert(m.complete);
	b.len = 0;

	/* chunks decoded into a sink (for an HTTP/1.0 client) */
	demo_buf_adds(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n");
	demo_hmsg_init(&m, HTTP_RESPONSE);
	ck_assert_int_eq(demo_hmsg_feed(&m, &b, false), 0);
	ck_assert(m.headers_done && !m.complete);
	m.body_sink = &sink;
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	ck_assert(m.complete && m.keep_alive);
	ck_assert_uint_eq(sink.len, 6);
	ck_assert(memcmp(sink.p, "abcdef", 6) == 0);
	demo_buf_free(&b);
	demo_buf_free(&sink);
}
END_TEST

TEST(bad_input)
{
	struct demo_buf b = { 0 };
	struct demo_hmsg m;

	demo_buf_adds(&b, "NOT HTTP AT ALL\r\n\r\n");
	demo_hmsg_init(&m, HTTP_REQUEST);
	ck_assert_int_eq(feed_all(&m, &b, false), -1);
	b.len = 0;

	demo_buf_adds(&b, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= DEMO_HTTP_MAX_HEADERS; i++)
		demo_buf_addf(&b, "X-H%d: %d\r\n", i, i);
	demo_buf_adds(&b, "\r\n");
	demo_hmsg_init(&m, HTTP_REQUEST);
	ck_assert_int_eq(feed_all(&m, &b, false), -1);
	b.len = 0;

	/* the stream ends in the middle of a body */
	demo_buf_adds(&b, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
	demo_hmsg_init(&m, HTTP_RESPONSE);
	ck_assert_int_eq(feed_all(&m, &b, false), 0);
	ck_assert(!m.complete);
	ck_assert_int_eq(feed_all(&m, &b, true), -1);
	demo_buf_free(&b);

	/* printf growth past the first reservation */
	demo_buf_addf(&b, "%0300d", 7);
	ck_assert_uint_eq(b.len, 300);
	ck_assert_int_eq(b.p[299], '7');
	demo_buf_free(&b);
}
END_TEST
