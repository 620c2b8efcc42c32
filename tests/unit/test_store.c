/* test_store.c — the brain's durable store: replay, group commit, snapshots,
 * torn and corrupt WAL tails, a crash at every I/O point, watch ring. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../orchestrator/store.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"
#include "testlib.h"

static void setup(void)
{
	tmpdir_make(NULL);
	quiet_logs(); /* the refusals below are expected */
}

static void teardown(void)
{
	tmpdir_remove();
}

static struct skiff_store *open_store(struct skiff_store_faults *f)
{
	struct skiff_store_options o = { .faults = f, .ring = 64 };
	struct skiff_store *s = NULL;
	ck_assert_int_eq(skiff_store_open(tmpdir, &o, &s), 0);
	return s;
}

static void put_str(struct skiff_store *s, int kind, const char *name, const char *v)
{
	ck_assert_int_eq(skiff_store_put(s, kind, name, v, strlen(v), NULL), 0);
}

static void assert_val(struct skiff_store *s, int kind, const char *name, const char *v)
{
	struct skiff_store_obj o;
	if (!v) {
		ck_assert_int_eq(skiff_store_get(s, kind, name, &o), -ENOENT);
		return;
	}
	ck_assert_int_eq(skiff_store_get(s, kind, name, &o), 0);
	ck_assert_uint_eq(o.len, strlen(v));
	ck_assert(memcmp(o.data, v, o.len) == 0);
}

TEST(test_put_get_replay)
{
	struct skiff_store *s = open_store(NULL);
	uint64_t rev = 0;
	ck_assert_int_eq(skiff_store_put(s, SKIFF_KIND_POD, "a", "1", 1, &rev), 0);
	ck_assert_uint_eq(rev, 1);
	put_str(s, SKIFF_KIND_POD, "b", "2");
	put_str(s, SKIFF_KIND_NODE, "a", "node-a");
	put_str(s, SKIFF_KIND_POD, "a", "1bis");
	ck_assert_int_eq(skiff_store_delete(s, SKIFF_KIND_POD, "b", &rev), 0);
	ck_assert_uint_eq(rev, 5);
	ck_assert_int_eq(skiff_store_delete(s, SKIFF_KIND_POD, "zz", NULL), -ENOENT);
	ck_assert_uint_eq(skiff_store_pending(s), 5);
	ck_assert_int_eq(skiff_store_sync(s), 0);
	ck_assert_uint_eq(skiff_store_pending(s), 0);
	ck_assert_uint_eq(skiff_store_synced_revision(s), 5);
	/* unsynced change: not acknowledged, may be lost */
	put_str(s, SKIFF_KIND_POD, "c", "3");
	skiff_store_free(s);

	s = open_store(NULL);
	ck_assert_uint_eq(skiff_store_revision(s), 5);
	assert_val(s, SKIFF_KIND_POD, "a", "1bis");
	assert_val(s, SKIFF_KIND_POD, "b", NULL);
	assert_val(s, SKIFF_KIND_POD, "c", NULL);
	assert_val(s, SKIFF_KIND_NODE, "a", "node-a");
	ck_assert_uint_eq(skiff_store_count(s, SKIFF_KIND_POD), 1);
	struct skiff_store_obj o;
	ck_assert_int_eq(skiff_store_get(s, SKIFF_KIND_POD, "a", &o), 0);
	ck_assert_uint_eq(o.revision, 4);
	skiff_store_free(s);
}
END_TEST

TEST(test_many_objects_and_snapshot)
{
	struct skiff_store *s = open_store(NULL);
	char name[32], val[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "pod-%d", i);
		snprintf(val, sizeof(val), "value-%d", i);
		put_str(s, SKIFF_KIND_POD, name, val);
	}
	ck_assert_int_eq(skiff_store_snapshot(s), 0);
	ck_assert_uint_eq(skiff_store_wal_bytes(s), 0);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(name, sizeof(name), "pod-%d", i);
		ck_assert_int_eq(skiff_store_delete(s, SKIFF_KIND_POD, name, NULL), 0);
	}
	put_str(s, SKIFF_KIND_POD, "pod-1", "changed");
	ck_assert_int_eq(skiff_store_sync(s), 0);
	uint64_t rev = skiff_store_revision(s);
	skiff_store_free(s);

	s = open_store(NULL);
	ck_assert_uint_eq(skiff_store_revision(s), rev);
	ck_assert_uint_eq(skiff_store_count(s, SKIFF_KIND_POD), 2500);
	assert_val(s, SKIFF_KIND_POD, "pod-1", "changed");
	assert_val(s, SKIFF_KIND_POD, "pod-3", "value-3");
	assert_val(s, SKIFF_KIND_POD, "pod-4", NULL);
	/* a second snapshot, then reopen from the snapshot alone */
	ck_assert_int_eq(skiff_store_snapshot(s), 0);
	skiff_store_free(s);
	s = open_store(NULL);
	ck_assert_uint_eq(skiff_store_revision(s), rev);
	ck_assert_uint_eq(skiff_store_count(s, SKIFF_KIND_POD), 2500);
	assert_val(s, SKIFF_KIND_POD, "pod-4999", "value-4999");
	put_str(s, SKIFF_KIND_POD, "after", "x");
	ck_assert_int_eq(skiff_store_sync(s), 0);
	ck_assert_uint_eq(skiff_store_revision(s), rev + 1);
	skiff_store_free(s);
}
END_TEST

static off_t wal_size(void)
{
	_cleanup_free_ char *p = xasprintf("%s/wal", tmpdir);
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_size;
}

static void wal_truncate(off_t size)
{
	_cleanup_free_ char *p = xasprintf("%s/wal", tmpdir);
	ck_assert_int_eq(truncate(p, size), 0);
}

static void wal_flip(off_t off)
{
	_cleanup_free_ char *p = xasprintf("%s/wal", tmpdir);
	_cleanup_close_ int fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	uint8_t c;
	ck_assert_int_eq(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
}

TEST(test_torn_tail_truncated)
{
	struct skiff_store *s = open_store(NULL);
	put_str(s, SKIFF_KIND_POD, "a", "first");
	ck_assert_int_eq(skiff_store_sync(s), 0);
	off_t good = wal_size();
	put_str(s, SKIFF_KIND_POD, "b", "second-value");
	ck_assert_int_eq(skiff_store_sync(s), 0);
	skiff_store_free(s);
	/* cut the last record at every length: always back to the first */
	off_t full = wal_size();
	for (off_t cut = good + 1; cut < full; cut++) {
		wal_truncate(cut);
		s = open_store(NULL);
		assert_val(s, SKIFF_KIND_POD, "a", "first");
		assert_val(s, SKIFF_KIND_POD, "b", NULL);
		ck_assert_uint_eq(skiff_store_revision(s), 1);
		skiff_store_free(s);
		ck_assert_int_eq(wal_size(), good); /* truncated on start */
		/* restore the record for the next cut */
		s = open_store(NULL);
		put_str(s, SKIFF_KIND_POD, "b", "second-value");
		ck_assert_int_eq(skiff_store_sync(s), 0);
		skiff_store_free(s);
		ck_assert_int_eq(wal_size(), full);
	}
	/* the store keeps working after a truncation */
	wal_truncate(full - 3);
	s = open_store(NULL);
	put_str(s, SKIFF_KIND_POD, "c", "third");
	ck_assert_int_eq(skiff_store_sync(s), 0);
	skiff_store_free(s);
	s = open_store(NULL);
	assert_val(s, SKIFF_KIND_POD, "c", "third");
	ck_assert_uint_eq(skiff_store_revision(s), 2);
	skiff_store_free(s);
}
END_TEST

TEST(test_corrupt_last_record_truncated)
{
	struct skiff_store *s = open_store(NULL);
	put_str(s, SKIFF_KIND_POD, "a", "first");
	ck_assert_int_eq(skiff_store_sync(s), 0);
	off_t good = wal_size();
	put_str(s, SKIFF_KIND_POD, "b", "second");
	ck_assert_int_eq(skiff_store_sync(s), 0);
	skiff_store_free(s);
	wal_flip(wal_size() - 2);
	s = open_store(NULL);
	assert_val(s, SKIFF_KIND_POD, "a", "first");
	assert_val(s, SKIFF_KIND_POD, "b", NULL);
	skiff_store_free(s);
	ck_assert_int_eq(wal_size(), good);
}
END_TEST

TEST(test_corrupt_mid_log_refused)
{
	struct skiff_store *s = open_store(NULL);
	for (int i = 0; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		put_str(s, SKIFF_KIND_POD, name, "some value");
		ck_assert_int_eq(skiff_store_sync(s), 0);
	}
	skiff_store_free(s);
	off_t size = wal_size();
	/* a flipped bit in any record but the last is refused */
	for (off_t off = 0; off < size * 8 / 10; off += 7) {
		wal_flip(off);
		struct skiff_store *t = NULL;
		struct skiff_store_options o = { 0 };
		ck_assert_int_eq(skiff_store_open(tmpdir, &o, &t), -EBADMSG);
		ck_assert_int_eq(wal_size(), size); /* nothing truncated */
		wal_flip(off);
	}
	s = open_store(NULL);
	ck_assert_uint_eq(skiff_store_count(s, SKIFF_KIND_POD), 10);
	skiff_store_free(s);
}
END_TEST

TEST(test_corrupt_snapshot_refused)
{
	struct skiff_store *s = open_store(NULL);
	put_str(s, SKIFF_KIND_POD, "a", "first");
	ck_assert_int_eq(skiff_store_snapshot(s), 0);
	skiff_store_free(s);
	_cleanup_free_ char *p = xasprintf("%s/snapshot", tmpdir);
	_cleanup_close_ int fd = open(p, O_RDWR);
	uint8_t c = 0;
	ck_assert_int_eq(pread(fd, &c, 1, 30), 1);
	c ^= 1;
	ck_assert_int_eq(pwrite(fd, &c, 1, 30), 1);
	struct skiff_store *t = NULL;
	ck_assert_int_eq(skiff_store_open(tmpdir, NULL, &t), -EBADMSG);
}
END_TEST

/* The workload for the crash test: batches of puts and deletes over 12
 * names, a snapshot after batch 3. The model is a value per name. */
#define NNAMES 12
#define NBATCH 8

struct model {
	char v[NNAMES][32];
};

/* steps (may be NULL) gets the model after each operation. */
static void batch_ops(int b, struct model *m, struct skiff_store *s, bool *failed,
		      struct model *steps)
{
	for (int i = 0; i < 4; i++) {
		int n = (b * 5 + i * 3) % NNAMES;
		char name[16];
		snprintf(name, sizeof(name), "obj-%d", n);
		if ((b + i) % 4 == 3 && m->v[n][0]) {
			int r = skiff_store_delete(s, SKIFF_KIND_POD, name, NULL);
			if (r < 0)
				*failed = true;
			m->v[n][0] = 0;
		} else {
			snprintf(m->v[n], sizeof(m->v[n]), "b%d-i%d", b, i);
			int r = skiff_store_put(s, SKIFF_KIND_POD, name, m->v[n], strlen(m->v[n]),
						NULL);
			if (r < 0)
				*failed = true;
		}
		if (steps)
			steps[i] = *m;
	}
}

static bool model_matches(struct skiff_store *s, const struct model *m)
{
	size_t n = 0;
	for (int i = 0; i < NNAMES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "obj-%d", i);
		struct skiff_store_obj o;
		int r = skiff_store_get(s, SKIFF_KIND_POD, name, &o);
		if (!m->v[i][0]) {
			if (r != -ENOENT)
				return false;
			continue;
		}
		n++;
		if (r < 0 || o.len != strlen(m->v[i]) || memcmp(o.data, m->v[i], o.len) != 0)
			return false;
	}
	return n == skiff_store_count(s, SKIFF_KIND_POD);
}

TEST(test_crash_at_every_io_point)
{
	/* count the I/O points of a clean run */
	struct skiff_store_faults f = { 0 };
	long total;
	{
		struct skiff_store *s = open_store(&f);
		struct model m = { 0 };
		bool failed = false;
		for (int b = 0; b < NBATCH; b++) {
			batch_ops(b, &m, s, &failed, NULL);
			ck_assert_int_eq(skiff_store_sync(s), 0);
			if (b == 3)
				ck_assert_int_eq(skiff_store_snapshot(s), 0);
		}
		total = f.count;
		skiff_store_free(s);
		teardown();
		setup();
	}
	ck_assert_int_gt(total, NBATCH * 2);
	for (long crash = 1; crash <= total; crash++) {
		struct skiff_store_faults cf = { .crash_at = crash };
		struct skiff_store *s = open_store(&cf);
		struct model acked = { 0 }, next = { 0 }, steps[4];
		bool failed = false;
		for (int b = 0; b < NBATCH && !failed; b++) {
			next = acked;
			for (int i = 0; i < 4; i++)
				steps[i] = acked;
			batch_ops(b, &next, s, &failed, steps);
			if (skiff_store_sync(s) < 0) {
				failed = true;
				break;
			}
			acked = next;
			if (b == 3 && skiff_store_snapshot(s) < 0)
				failed = true;
		}
		ck_assert_msg(failed, "crash point %ld not reached", crash);
		/* after the crash every write is refused */
		ck_assert_int_eq(skiff_store_put(s, SKIFF_KIND_POD, "x", "y", 1, NULL) < 0 ||
				     skiff_store_sync(s) < 0,
				 1);
		skiff_store_free(s);
		s = open_store(NULL);
		/* every acknowledged batch is there; of the batch in flight a
		 * prefix of its records (each record is atomic, the batch is not) */
		bool ok = model_matches(s, &acked);
		for (int i = 0; i < 4 && !ok; i++)
			ok = model_matches(s, &steps[i]);
		ck_assert_msg(ok, "crash at I/O %ld: state is not acked + a prefix of the batch",
			      crash);
		/* and the store works on */
		put_str(s, SKIFF_KIND_POD, "after", "crash");
		ck_assert_int_eq(skiff_store_sync(s), 0);
		skiff_store_free(s);
		s = open_store(NULL);
		assert_val(s, SKIFF_KIND_POD, "after", "crash");
		skiff_store_free(s);
		teardown();
		setup();
	}
}
END_TEST

TEST(test_fail_fsync_is_fail_stop)
{
	struct skiff_store_faults f = { .fail_at = 2 };
	struct skiff_store *s = open_store(&f);
	put_str(s, SKIFF_KIND_POD, "a", "1");
	ck_assert_int_eq(skiff_store_sync(s), -EIO); /* write ok, fsync fails */
	ck_assert_int_eq(skiff_store_put(s, SKIFF_KIND_POD, "b", "2", 1, NULL), -EIO);
	ck_assert_int_eq(skiff_store_sync(s), -EIO);
	skiff_store_free(s);
}
END_TEST

struct collect {
	uint64_t revs[128];
	int ops[128];
	size_t n;
};

static int collect_fn(const struct skiff_store_change *c, void *userdata)
{
	struct collect *col = userdata;
	col->revs[col->n] = c->revision;
	col->ops[col->n] = c->op;
	col->n++;
	return 0;
}

TEST(test_watch_ring)
{
	struct skiff_store *s = open_store(NULL); /* ring of 64 */
	put_str(s, SKIFF_KIND_POD, "a", "1");
	put_str(s, SKIFF_KIND_POD, "b", "2");
	ck_assert_int_eq(skiff_store_delete(s, SKIFF_KIND_POD, "a", NULL), 0);
	struct collect c = { 0 };
	ck_assert_int_eq(skiff_store_changes_since(s, 1, collect_fn, &c), 0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(c.revs[0], 2);
	ck_assert_int_eq(c.ops[1], SKIFF_STORE_DELETE);
	c.n = 0;
	ck_assert_int_eq(skiff_store_changes_since(s, 3, collect_fn, &c), 0);
	ck_assert_uint_eq(c.n, 0);
	for (int i = 0; i < 100; i++)
		put_str(s, SKIFF_KIND_POD, "b", "again");
	c.n = 0;
	ck_assert_int_eq(skiff_store_changes_since(s, 1, collect_fn, &c), -ESTALE);
	ck_assert_int_eq(skiff_store_changes_since(s, 103 - 64, collect_fn, &c), 0);
	ck_assert_uint_eq(c.n, 64);
	ck_assert_int_eq(skiff_store_sync(s), 0);
	skiff_store_free(s);
	/* after a restart only the current state exists: old revisions are stale */
	s = open_store(NULL);
	ck_assert_int_eq(skiff_store_changes_since(s, 50, collect_fn, &c), -ESTALE);
	skiff_store_free(s);
}
END_TEST

/* foreach_at: the objects as of a past revision while history is kept */
struct at_ctx {
	char seen[16][32];
	int n;
};

static int at_fn(const struct skiff_store_obj *o, void *userdata)
{
	struct at_ctx *c = userdata;
	ck_assert_int_lt(c->n, 16);
	snprintf(c->seen[c->n++], 32, "%s=%.*s", o->name, (int)o->len, (const char *)o->data);
	return 0;
}

static int cmp_seen(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void assert_at(struct skiff_store *s, uint64_t rev, const char *want)
{
	struct at_ctx c = { 0 };
	ck_assert_int_eq(skiff_store_foreach_at(s, SKIFF_KIND_NODE, rev, at_fn, &c), 0);
	qsort(c.seen, c.n, sizeof(c.seen[0]), cmp_seen);
	char got[512] = "";
	for (int i = 0; i < c.n; i++) {
		strcat(got, c.seen[i]);
		strcat(got, " ");
	}
	ck_assert_str_eq(got, want);
}

TEST(test_read_at_past_revision)
{
	struct skiff_store *s = open_store(NULL);
	put_str(s, SKIFF_KIND_NODE, "a", "1");
	put_str(s, SKIFF_KIND_NODE, "b", "1");
	put_str(s, SKIFF_KIND_NODE, "c", "1");
	put_str(s, 2, "x", "other kind");
	uint64_t r0 = skiff_store_revision(s), from = 0;
	/* no history yet: only the current revision is readable */
	ck_assert_int_eq(skiff_store_history_from(s, &from), -ENOENT);
	struct at_ctx c = { 0 };
	ck_assert_int_eq(skiff_store_foreach_at(s, SKIFF_KIND_NODE, r0 - 1, at_fn, &c), -ESTALE);
	skiff_store_history_keep(s, skiff_mono_ms() + 60000);
	ck_assert_int_eq(skiff_store_history_from(s, &from), 0);
	ck_assert_uint_eq(from, r0);
	put_str(s, SKIFF_KIND_NODE, "a", "2");					/* changed */
	ck_assert_int_eq(skiff_store_delete(s, SKIFF_KIND_NODE, "b", NULL), 0); /* deleted */
	put_str(s, SKIFF_KIND_NODE, "d", "1");					/* created */
	put_str(s, SKIFF_KIND_NODE, "c", "2");
	ck_assert_int_eq(skiff_store_delete(s, SKIFF_KIND_NODE, "c", NULL), 0);
	put_str(s, SKIFF_KIND_NODE, "c", "3"); /* changed, deleted, re-created */
	uint64_t r1 = skiff_store_revision(s);
	put_str(s, SKIFF_KIND_NODE, "a", "3");
	assert_at(s, r0, "a=1 b=1 c=1 ");
	assert_at(s, r0 + 1, "a=2 b=1 c=1 ");
	assert_at(s, r1, "a=2 c=3 d=1 ");
	assert_at(s, skiff_store_revision(s), "a=3 c=3 d=1 ");
	ck_assert_int_eq(skiff_store_foreach_at(s, SKIFF_KIND_NODE, r0 - 1, at_fn, &c), -ESTALE);
	/* expired: dropped at the next change */
	skiff_store_free(s);
	s = open_store(NULL);
	r0 = skiff_store_revision(s);
	skiff_store_history_keep(s, skiff_mono_ms() - 1);
	put_str(s, SKIFF_KIND_NODE, "a", "4");
	ck_assert_int_eq(skiff_store_history_from(s, &from), -ENOENT);
	ck_assert_int_eq(skiff_store_foreach_at(s, SKIFF_KIND_NODE, r0, at_fn, &c), -ESTALE);
	skiff_store_free(s);
}
END_TEST

/* One WAL record as the store wrote it before namespaces (and still does):
 * magic | body length | CRC32C(body) | revision, op, kind, name length,
 * name, data (little-endian). */
static size_t old_record(uint8_t *out, uint64_t rev, int op, int kind, const char *name,
			 const char *data)
{
	size_t nlen = strlen(name), dlen = strlen(data), body = 12 + nlen + dlen;
	uint8_t *b = out + 12;
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(rev >> (8 * i));
	b[8] = (uint8_t)op;
	b[9] = (uint8_t)kind;
	b[10] = (uint8_t)nlen;
	b[11] = (uint8_t)(nlen >> 8);
	memcpy(b + 12, name, nlen);
	memcpy(b + 12 + nlen, data, dlen);
	uint32_t h[3] = { 0x46524b53u, (uint32_t)body, skiff_crc32c(0, b, body) };
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 4; i++)
			out[4 * k + i] = (uint8_t)(h[k] >> (8 * i));
	return 12 + body;
}

TEST(test_store_before_namespaces_loads_into_default)
{
	/* a WAL of the version before namespaces: pods, deployments and
	 * services keyed by their bare name, a node (cluster-scoped) */
	uint8_t wal[1024];
	size_t n = 0;
	n += old_record(wal + n, 1, SKIFF_STORE_PUT, SKIFF_KIND_POD, "web", "pod-web");
	n += old_record(wal + n, 2, SKIFF_STORE_PUT, SKIFF_KIND_DEPLOYMENT, "api", "dep-api");
	n += old_record(wal + n, 3, SKIFF_STORE_PUT, SKIFF_KIND_NODE, "vm1", "node-vm1");
	n += old_record(wal + n, 4, SKIFF_STORE_PUT, SKIFF_KIND_POD, "gone", "x");
	n += old_record(wal + n, 5, SKIFF_STORE_DELETE, SKIFF_KIND_POD, "gone", "");
	_cleanup_free_ char *p = xasprintf("%s/wal", tmpdir);
	ck_assert_int_eq(skiff_write_file_atomic(p, wal, n, 0644), 0);
	struct skiff_store *s = open_store(NULL);
	ck_assert_uint_eq(skiff_store_revision(s), 5);
	/* namespaced kinds are in "default"; the node keeps its name */
	assert_val(s, SKIFF_KIND_POD, "default/web", "pod-web");
	assert_val(s, SKIFF_KIND_DEPLOYMENT, "default/api", "dep-api");
	assert_val(s, SKIFF_KIND_NODE, "vm1", "node-vm1");
	assert_val(s, SKIFF_KIND_POD, "default/gone", NULL);
	assert_val(s, SKIFF_KIND_POD, "other/web", NULL);
	struct skiff_store_obj o;
	ck_assert_int_eq(skiff_store_get(s, SKIFF_KIND_POD, "web", &o),
			 0); /* a bare name: default */
	ck_assert_str_eq(o.name, "default/web");
	/* the same name in another namespace is another object */
	put_str(s, SKIFF_KIND_POD, "team-a/web", "pod-web-a");
	ck_assert_uint_eq(skiff_store_count(s, SKIFF_KIND_POD), 2);
	/* a snapshot keeps the keys; they load the same */
	ck_assert_int_eq(skiff_store_snapshot(s), 0);
	skiff_store_free(s);
	s = open_store(NULL);
	assert_val(s, SKIFF_KIND_POD, "default/web", "pod-web");
	assert_val(s, SKIFF_KIND_POD, "team-a/web", "pod-web-a");
	assert_val(s, SKIFF_KIND_NODE, "vm1", "node-vm1");
	skiff_store_free(s);
	/* the rule is one column of the kind table */
	ck_assert(skiff_kind_is_namespaced(SKIFF_KIND_POD));
	ck_assert(skiff_kind_is_namespaced(SKIFF_KIND_EVENT));
	ck_assert(!skiff_kind_is_namespaced(SKIFF_KIND_NODE));
	ck_assert(!skiff_kind_is_namespaced(SKIFF_KIND_NAMESPACE));
	ck_assert(!skiff_kind_is_namespaced(SKIFF_KIND_CERTIFICATE));
	ck_assert(!skiff_kind_is_namespaced(SKIFF_KIND_IMAGE));
}
END_TEST

TEST(test_crc32c_known_value)
{
	/* RFC 3720 test vector: 32 bytes of zeros */
	uint8_t z[32] = { 0 };
	ck_assert_uint_eq(skiff_crc32c(0, z, sizeof(z)), 0x8a9136aa);
	ck_assert_uint_eq(skiff_crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_int_eq(skiff_kind_parse("deployment"), SKIFF_KIND_DEPLOYMENT);
	ck_assert_int_eq(skiff_kind_parse("pods"), -EINVAL);
}
END_TEST

TEST_SUITE(.setup = setup, .teardown = teardown, .timeout = 60);
