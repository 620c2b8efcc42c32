/* http1.c — HTTP/1.1 messages parsed in place (see http1.h). */
#include "http1.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* --- buffers ----------------------------------------------------------------- */

void demo_buf_reserve(struct demo_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	size_t n = b->cap ? b->cap : 4096;
	while (n - b->len < more)
		n *= 2;
	b->p = xrealloc(b->p, n);
	b->cap = n;
}

void demo_buf_add(struct demo_buf *b, const void *d, size_t n)
{
	if (n == 0)
		return;
	demo_buf_reserve(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

void demo_buf_adds(struct demo_buf *b, const char *s)
{
	demo_buf_add(b, s, strlen(s));
}

void demo_buf_addf(struct demo_buf *b, const char *fmt, ...)
{
	va_list ap;
	demo_buf_reserve(b, 256);
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		demo_buf_reserve(b, (size_t)n + 1);
	}
}

void demo_buf_drop(struct demo_buf *b, size_t n)
{
	if (n < b->len)
		memmove(b->p, b->p + n, b->len - n);
	b->len -= n < b->len ? n : b->len;
}

void demo_buf_free(struct demo_buf *b)
{
	free(b->p);
	*b = (struct demo_buf){ 0 };
}

/* --- messages --------------------------------------------------------------- */

static void span_extend(struct demo_hmsg *m, struct demo_span *s, const char *at, size_t len)
{
	if (s->len == 0)
		s->off = (uint32_t)(at - m->base);
	s->len += (uint32_t)len;
}

static int on_first(http_parser *p, const char *at, size_t len)
{
	struct demo_hmsg *m = p->data;
	span_extend(m, &m->first, at, len);
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct demo_hmsg *m = p->data;
	if (m->in_value || m->n == 0) {
		if (m->n == DEMO_HTTP_MAX_HEADERS)
			return -1;
		m->n++;
		m->in_value = false;
	}
	span_extend(m, &m->field[m->n - 1], at, len);
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct demo_hmsg *m = p->data;
	m->in_value = true;
	if (m->n)
		span_extend(m, &m->value[m->n - 1], at, len);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct demo_hmsg *m = p->data;
	m->headers_done = true;
	m->keep_alive = http_should_keep_alive(p);
	http_parser_pause(p, 1);
	return m->skip_body ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct demo_hmsg *m = p->data;
	if (m->body_sink)
		demo_buf_add(m->body_sink, at, len);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct demo_hmsg *m = p->data;
	m->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings request_settings = {
	.on_url = on_first,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

static const http_parser_settings response_settings = {
	.on_status = on_first,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void demo_hmsg_init(struct demo_hmsg *m, enum http_parser_type type)
{
	*m = (struct demo_hmsg){ 0 };
	m->type = type;
	http_parser_init(&m->p, type);
	m->p.data = m;
}

int demo_hmsg_feed(struct demo_hmsg *m, struct demo_buf *b, bool eof)
{
	const http_parser_settings *s =
	    m->type == HTTP_REQUEST ? &request_settings : &response_settings;
	m->base = b->p;
	if (m->complete)
		return 0;
	size_t avail = b->len - m->parsed;
	if (avail == 0 && !eof)
		return 0;
	bool was_done = m->headers_done;
	size_t n = http_parser_execute(&m->p, s, b->p + m->parsed, avail);
	enum http_errno e = HTTP_PARSER_ERRNO(&m->p);
	if (e == HPE_PAUSED) {
		http_parser_pause(&m->p, 0);
		if (m->headers_done && !was_done) {
			/* paused on the header block's last LF, which is parsed again */
			m->head_end = m->parsed + n + 1;
		}
	} else if (e != HPE_OK || m->p.upgrade || n != avail) {
		return -EBADMSG;
	}
	m->parsed += n;
	if (m->complete)
		m->end = m->parsed;
	if (avail == 0)
		return m->complete ? 0 : -EBADMSG;
	if (eof && !m->complete)
		return demo_hmsg_feed(m, b, eof);
	return 0;
}

bool demo_span_is(const char *base, struct demo_span s, const char *name)
{
	size_t n = strlen(name);
	return s.len == n && strncasecmp(base + s.off, name, n) == 0;
}
