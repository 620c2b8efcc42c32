/* fuzz_store.c — libFuzzer harness for the brain's store start-up (what a
 * crash, a full disk or a bad disk leaves in its data dir).
 *
 * The first input byte picks a mode:
 *   even: the rest is a snapshot length (2 bytes) and the raw bytes of the
 *         snapshot and the WAL;
 *   odd:  the rest drives real writes through the store (puts, deletes,
 *         syncs, a snapshot), then the WAL is cut at an offset or one byte
 *         of it is flipped.
 * Either way skiff_store_open() must succeed or refuse with -EBADMSG, never
 * crash, leak or hang; a cut alone (a torn write) must never be refused;
 * and a store that opened takes a new write that survives a reopen.
 * FUZZ_SOURCES: orchestrator/store.c orchestrator/map.c */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../orchestrator/store.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static const struct skiff_store_options small = { .ring = 64 };

static void remove_dir(void)
{
	skiff_rm_rf(dir);
}

struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct input *in, unsigned bytes)
{
	unsigned v = 0;
	for (unsigned i = 0; i < bytes && in->n > 0; i++, in->p++, in->n--)
		v |= (unsigned)in->p[0] << (8 * i);
	return v;
}

static void put_file(const char *name, const uint8_t *p, size_t n)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n))
		abort();
	close(fd);
}

/* Real records through the store: up to 64 operations on a few names. */
static void write_records(struct input *in)
{
	struct skiff_store *s = NULL;
	if (skiff_store_open(dir, &small, &s) < 0)
		abort();
	for (int i = 0; i < 64 && in->n > 0; i++) {
		unsigned op = take(in, 1);
		char name[8];
		snprintf(name, sizeof(name), "n%u", op >> 4 & 7);
		int kind = (int)(op >> 2 & 3);
		if ((op & 3) == 3) {
			(void)skiff_store_delete(s, kind, name, NULL);
		} else {
			unsigned len = take(in, 1) % 48;
			uint8_t buf[48] = { 0 };
			for (unsigned j = 0; j < len && in->n > 0; j++)
				buf[j] = (uint8_t)take(in, 1);
			if (skiff_store_put(s, kind, name, buf, len, NULL) < 0)
				abort();
		}
		if ((op & 3) == 2 && skiff_store_sync(s) < 0)
			abort();
		if (op == 0xff && skiff_store_snapshot(s) < 0)
			abort();
	}
	if (skiff_store_sync(s) < 0)
		abort();
	skiff_store_free(s);
}

/* 1 when the WAL was cut (a torn tail, which open must always accept). */
static int damage_wal(struct input *in)
{
	char path[96];
	struct stat st;
	snprintf(path, sizeof(path), "%s/wal", dir);
	if (stat(path, &st) < 0 || st.st_size == 0)
		return 1;
	unsigned how = take(in, 1);
	off_t at = (off_t)(take(in, 4) % (unsigned)st.st_size);
	if (how & 1) {
		if (truncate(path, at) < 0)
			abort();
		return 1;
	}
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;
	if (fd < 0 || pread(fd, &b, 1, at) != 1)
		abort();
	b ^= (uint8_t)(how | 1);
	if (pwrite(fd, &b, 1, at) != 1)
		abort();
	close(fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct skiff_store *s = NULL;
	struct skiff_store_obj o;
	int torn_only = 0, r;

	if (!dir[0]) {
		/* the store's lines about what it truncates or refuses */
		skiff_log_set_level(SKIFF_LOG_ERROR);
		skiff_log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
		snprintf(dir, sizeof(dir), "/dev/shm/skiff-fuzz-store-%d", (int)getpid());
		atexit(remove_dir);
	}
	skiff_rm_rf(dir);
	if (mkdir(dir, 0700) < 0)
		abort();
	if (take(&in, 1) & 1) {
		write_records(&in);
		torn_only = damage_wal(&in);
	} else {
		size_t snap = take(&in, 2);
		if (snap > in.n)
			snap = in.n;
		if (snap > 0)
			put_file("snapshot", in.p, snap);
		put_file("wal", in.p + snap, in.n - snap);
	}

	r = skiff_store_open(dir, &small, &s);
	if (r < 0) {
		if (r != -EBADMSG || torn_only)
			abort();
		return 0;
	}
	uint64_t rev = 0;
	if (skiff_store_put(s, SKIFF_KIND_NODE, "fuzz-probe", "ok", 2, &rev) < 0 ||
	    skiff_store_sync(s) < 0)
		abort();
	skiff_store_free(s);
	/* what was acknowledged is there after a restart */
	if (skiff_store_open(dir, &small, &s) < 0)
		abort();
	if (skiff_store_get(s, SKIFF_KIND_NODE, "fuzz-probe", &o) < 0 || o.len != 2 ||
	    memcmp(o.data, "ok", 2) != 0 || o.revision != rev)
		abort();
	skiff_store_free(s);
	return 0;
}
