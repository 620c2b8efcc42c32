/* test_examples_dlog.c — the demos' durable log (examples/common/dlog.c):
 * group-committed appends replay in order, a torn or corrupt tail is cut off
 * on open, compaction replaces the log atomically. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"
#include "util.h"
#include "testlib.h"

static char dir[] = "/tmp/skiff-dlog-test.XXXXXX";
static char path[256];

struct seen {
	int n;
	char last[64];
};

static int collect(const char *rec, size_t len, void *arg)
{
	struct seen *s = arg;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, rec);
	s->n++;
	return 0;
}

static void synced(int err, void *arg)
{
	int *count = arg;
	ck_assert_int_eq(err, 0);
	(*count)++;
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/test.log", dir);
}

static void teardown(void)
{
	skiff_rm_rf(dir);
	strcpy(dir, "/tmp/skiff-dlog-test.XXXXXX");
}

/* Write n records "record-I" with one sync per record; all callbacks run. */
static void write_records(int n)
{
	struct event_base *base = event_base_new();
	struct demo_log *l;
	struct seen s = { 0 };
	int acked = 0;

	event_base_priority_init(base, 3);
	ck_assert_int_eq(demo_log_open(base, path, collect, &s, &l), 0);
	for (int i = 0; i < n; i++) {
		char rec[32];
		snprintf(rec, sizeof(rec), "record-%d", s.n + i);
		demo_log_append(l, rec, strlen(rec));
		demo_log_sync(l, synced, &acked);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(acked, n);
	demo_log_free(l);
	event_base_free(base);
}

static struct seen replay(void)
{
	struct event_base *base = event_base_new();
	struct demo_log *l;
	struct seen s = { 0 };
	ck_assert_int_eq(demo_log_open(base, path, collect, &s, &l), 0);
	ck_assert_uint_eq(demo_log_records(l), (unsigned)s.n);
	demo_log_free(l);
	event_base_free(base);
	return s;
}

static off_t size_of(void)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

TEST(test_replay_in_order)
{
	write_records(100);
	write_records(20);
	struct seen s = replay();
	ck_assert_int_eq(s.n, 120);
	ck_assert_str_eq(s.last, "record-119");
}
END_TEST

TEST(test_torn_tail_truncated)
{
	write_records(10);
	off_t good = size_of();
	int fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	/* a header announcing 100 bytes, followed by only 3 */
	ck_assert_int_eq(write(fd, "\x64\0\0\0\1\2\3\4abc", 11), 11);
	close(fd);
	struct seen s = replay();
	ck_assert_int_eq(s.n, 10);
	ck_assert_int_eq(size_of(), good);
	write_records(1); /* appends after the cut */
	ck_assert_int_eq(replay().n, 11);
}
END_TEST

TEST(test_corrupt_record_cuts_the_rest)
{
	write_records(10);
	/* every record is 8 + strlen("record-N") = 16 bytes: flip a payload byte of record 5 */
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, 5 * 16 + 8 + 2), 1);
	close(fd);
	struct seen s = replay();
	ck_assert_int_eq(s.n, 5);
	ck_assert_str_eq(s.last, "record-4");
	ck_assert_int_eq(size_of(), 5 * 16);
}
END_TEST

static void emit_two(struct demo_log *nl, void *arg)
{
	(void)arg;
	demo_log_append(nl, "a", 1);
	demo_log_append(nl, "live", 4);
}

TEST(test_rewrite_replaces)
{
	write_records(50);
	struct event_base *base = event_base_new();
	struct demo_log *l;
	struct seen s = { 0 };
	event_base_priority_init(base, 3);
	ck_assert_int_eq(demo_log_open(base, path, collect, &s, &l), 0);
	ck_assert_int_eq(demo_log_rewrite(l, emit_two, NULL), 0);
	ck_assert_uint_eq(demo_log_records(l), 2);
	demo_log_append(l, "after", 5);
	ck_assert_int_eq(demo_log_flush_now(l), 0);
	demo_log_free(l);
	event_base_free(base);
	s = replay();
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.last, "after");
}
END_TEST

TEST_SUITE(.setup = setup, .teardown = teardown);
