/* dlog.c — the demos' durable append-only record log with group commit.
 *
 * Record: u32 payload length | u32 crc32 of the payload | payload (little
 * endian). Appends go to a memory buffer; a flush event at the loop's lowest
 * priority writes the buffer, fdatasyncs once and then runs every callback
 * queued by demo_log_sync(), so one fsync covers all the requests handled in
 * one loop iteration. Open replays the file and truncates a torn tail.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

#define RECORD_MAX (64u << 20)

struct waiter {
	demo_log_sync_fn cb;
	void *arg;
};

struct demo_log {
	struct event_base *base;
	char *path;
	int fd;
	uint64_t size; /* bytes on disk (written) */
	uint64_t records;
	struct evbuffer *pending;
	struct waiter *waiters;
	size_t nwaiters, cap;
	struct event *flush_ev;
	bool scheduled;
};

static uint32_t crc_table[256];

static uint32_t crc32_of(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;

	if (!crc_table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;
			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			crc_table[i] = v;
		}
	}
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int write_pending(struct demo_log *l)
{
	while (evbuffer_get_length(l->pending) > 0) {
		int n = evbuffer_write(l->pending, l->fd);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->size += (uint64_t)n;
	}
	return 0;
}

int demo_log_flush_now(struct demo_log *l)
{
	int r = write_pending(l);
	if (r < 0)
		return r;
	if (fdatasync(l->fd) < 0)
		return -errno;
	return 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct demo_log *l = arg;
	struct waiter *w = l->waiters;
	size_t n = l->nwaiters;
	int r;

	(void)fd;
	(void)what;
	l->scheduled = false;
	r = demo_log_flush_now(l);
	if (r < 0)
		log_error_errno(r, "log %s: cannot write or fsync: %m", l->path);
	l->waiters = NULL;
	l->nwaiters = l->cap = 0;
	for (size_t i = 0; i < n; i++)
		w[i].cb(r, w[i].arg);
	free(w);
}

static void schedule(struct demo_log *l)
{
	if (l->scheduled)
		return;
	l->scheduled = true;
	event_active(l->flush_ev, EV_TIMEOUT, 0);
}

void demo_log_append(struct demo_log *l, const void *rec, size_t len)
{
	unsigned char hdr[8];

	put_u32(hdr, (uint32_t)len);
	put_u32(hdr + 4, crc32_of(rec, len));
	evbuffer_add(l->pending, hdr, sizeof(hdr));
	evbuffer_add(l->pending, rec, len);
	l->records++;
	schedule(l);
}

void demo_log_append_json(struct demo_log *l, json_t *rec)
{
	char *s = json_dumps(rec, JSON_COMPACT);
	demo_log_append(l, s, strlen(s));
	free(s);
}

void demo_log_sync(struct demo_log *l, demo_log_sync_fn cb, void *arg)
{
	if (l->nwaiters == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->waiters = xrealloc(l->waiters, l->cap * sizeof(*l->waiters));
	}
	l->waiters[l->nwaiters++] = (struct waiter){ cb, arg };
	schedule(l);
}

uint64_t demo_log_size(const struct demo_log *l)
{
	return l->size + evbuffer_get_length(l->pending);
}

uint64_t demo_log_records(const struct demo_log *l)
{
	return l->records;
}

json_t *demo_record_json(const char *rec, size_t len)
{
	return json_loadb(rec, len, 0, NULL);
}

static int replay(struct demo_log *l, demo_log_replay_fn fn, void *arg)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0, off = 0;
	int r;

	r = skiff_read_file(l->path, (size_t)4 << 30, &data, &len);
	if (r < 0)
		return log_error_errno(r, "log %s: cannot read: %m", l->path);
	while (off + 8 <= len) {
		const unsigned char *h = (const unsigned char *)data + off;
		uint32_t n = get_u32(h), crc = get_u32(h + 4);
		if (n > RECORD_MAX || off + 8 + n > len || crc32_of(h + 8, n) != crc)
			break;
		r = fn((const char *)h + 8, n, arg);
		if (r < 0)
			return r;
		off += 8 + n;
		l->records++;
	}
	if (off < len) {
		log_warn("log %s: torn or corrupt tail at byte %zu of %zu; truncating", l->path,
			 off, len);
		if (ftruncate(l->fd, (off_t)off) < 0 || fsync(l->fd) < 0)
			return log_error_errno(-errno, "log %s: cannot truncate: %m", l->path);
	}
	l->size = off;
	if (lseek(l->fd, (off_t)off, SEEK_SET) < 0)
		return -errno;
	return 0;
}

int demo_log_open(struct event_base *base, const char *path, demo_log_replay_fn fn, void *arg,
		  struct demo_log **ret)
{
	struct demo_log *l = xcalloc(1, sizeof(*l));
	int r;

	l->base = base;
	l->path = xstrdup(path);
	l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->fd < 0) {
		r = log_error_errno(-errno, "log %s: cannot open: %m", path);
		free(l->path);
		free(l);
		return r;
	}
	l->pending = evbuffer_new();
	l->flush_ev = event_new(base, -1, 0, flush_cb, l);
	event_priority_set(l->flush_ev, 2);
	r = replay(l, fn, arg);
	if (r >= 0)
		r = skiff_fsync_parent(path);
	if (r < 0) {
		demo_log_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

void demo_log_free(struct demo_log *l)
{
	if (!l)
		return;
	if (evbuffer_get_length(l->pending))
		(void)demo_log_flush_now(l);
	for (size_t i = 0; i < l->nwaiters; i++)
		l->waiters[i].cb(-ECANCELED, l->waiters[i].arg);
	free(l->waiters);
	event_free(l->flush_ev);
	evbuffer_free(l->pending);
	close(l->fd);
	free(l->path);
	free(l);
}

int demo_log_rewrite(struct demo_log *l, void (*fn)(struct demo_log *nl, void *arg), void *arg)
{
	_cleanup_free_ char *tmp = xasprintf("%s.compact", l->path);
	struct demo_log nl = { .base = l->base, .path = tmp };
	int r;

	r = demo_log_flush_now(l);
	if (r < 0)
		return r;
	nl.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (nl.fd < 0)
		return -errno;
	nl.pending = evbuffer_new();
	nl.flush_ev = event_new(l->base, -1, 0, flush_cb, &nl);
	nl.scheduled = true; /* flushed below, synchronously */
	fn(&nl, arg);
	r = demo_log_flush_now(&nl);
	event_free(nl.flush_ev);
	evbuffer_free(nl.pending);
	if (r >= 0 && rename(tmp, l->path) < 0)
		r = -errno;
	if (r < 0) {
		close(nl.fd);
		unlink(tmp);
		return r;
	}
	(void)skiff_fsync_parent(l->path);
	close(l->fd);
	l->fd = nl.fd;
	l->size = nl.size;
	l->records = nl.records;
	return 0;
}
