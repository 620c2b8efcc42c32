/* http1.h — HTTP/1.1 messages parsed in place, for the gateway's proxy path.
 *
 * A demo_buf is a growable byte buffer (a connection's input or output). A
 * demo_hmsg is one request or response being parsed by http_parser (nodejs'
 * parser, Debian's libhttp-parser-dev) straight out of a connection's input
 * buffer: it records the request target or status reason and every header as
 * offsets into the buffer (so the buffer may grow and move between reads), and
 * stops once the header block is complete (head_end known, so the caller can
 * decide about the body) and once the message is (end known, so pipelined
 * bytes after it stay in the buffer for the next message).
 */
#ifndef SKIFF_DEMO_HTTP1_H
#define SKIFF_DEMO_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

/* Bytes [off, len) are pending (off > 0 only for output being written). */
struct demo_buf {
	char *p;
	size_t len, cap, off;
};

void demo_buf_reserve(struct demo_buf *b, size_t more);
void demo_buf_add(struct demo_buf *b, const void *d, size_t n);
void demo_buf_adds(struct demo_buf *b, const char *s);
void demo_buf_addf(struct demo_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Remove the first n bytes. */
void demo_buf_drop(struct demo_buf *b, size_t n);
void demo_buf_free(struct demo_buf *b);

struct demo_span {
	uint32_t off, len;
};

#define DEMO_HTTP_MAX_HEADERS 100

struct demo_hmsg {
	http_parser p;
	enum http_parser_type type;
	const char *base;	    /* the buffer during http_parser_execute() */
	struct demo_buf *body_sink; /* when set, decoded body bytes go there (de-chunking) */
	struct demo_span first;	    /* request target, or status reason */
	struct demo_span field[DEMO_HTTP_MAX_HEADERS], value[DEMO_HTTP_MAX_HEADERS];
	unsigned n;
	bool in_value, headers_done, complete, keep_alive;
	bool skip_body;	 /* set by the caller: a response to HEAD */
	size_t parsed;	 /* bytes of the buffer fed to the parser */
	size_t head_end; /* offset of the body, once headers_done */
	size_t end;	 /* offset past the message, once complete */
};

void demo_hmsg_init(struct demo_hmsg *m, enum http_parser_type type);
/* Feed b's bytes not yet parsed (and the end of the stream when eof); stops
 * once the header block is complete and once the message is. 0, or -EBADMSG when
 * the bytes are not HTTP (more than DEMO_HTTP_MAX_HEADERS headers included;
 * HTTP_PARSER_ERRNO(&m->p) tells), or eof comes before the message's end. */
int demo_hmsg_feed(struct demo_hmsg *m, struct demo_buf *b, bool eof);
/* Whether the bytes of s in base are name (case-insensitive). */
bool demo_span_is(const char *base, struct demo_span s, const char *name);

#endif
