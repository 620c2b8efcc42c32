/* test_joinlimit.c — the JOIN rate limiter's core with a fake clock: the
 * first failure costs nothing, then the wait doubles up to its cap;
 * attempts from one address go one at a time and past the cap of waiting
 * ones are refused; other addresses are not held up; success and a quiet
 * time forget; failures are logged once per interval with a count. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/joinlimit.h"
#include "testlib.h"

static const struct joinlimit_config cfg = {
	.base_delay_ms = 100,
	.max_delay_ms = 1000,
	.max_waiting = 3,
	.forget_ms = 60000,
	.log_interval_ms = 10000,
	.max_addrs = 4,
};

/* One attempt from addr at now that fails; returns the report. */
static struct joinlimit_report fail_once(struct joinlimit *jl, const char *addr, int64_t now)
{
	struct joinlimit_report rep;
	int item;
	ck_assert_int_eq(joinlimit_submit(jl, addr, &item, now), JOINLIMIT_GO);
	joinlimit_done(jl, addr, -EACCES, now, &rep);
	return rep;
}

TEST(test_delay_grows_and_caps)
{
	struct joinlimit *jl = joinlimit_new(&cfg);
	int64_t now = 1000000, expect[] = { 100, 200, 400, 800, 1000, 1000 };
	int item;

	/* the first failure: the next attempt may go at once */
	struct joinlimit_report rep = fail_once(jl, "10.0.0.1:5000", now);
	ck_assert_int_eq(rep.delay_ms, 0);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		rep = fail_once(jl, "10.0.0.1:5001", now);
		ck_assert_int_eq(rep.delay_ms, expect[i]);
		/* too early: held, and handed out exactly when the wait is over */
		ck_assert_int_eq(joinlimit_submit(jl, "10.0.0.1:5002", &item, now + 1),
				 JOINLIMIT_HELD);
		ck_assert_int_eq(joinlimit_next_due(jl, now + 1), expect[i] - 1);
		ck_assert_ptr_null(joinlimit_pop_due(jl, now + expect[i] - 1));
		now += expect[i];
		ck_assert_ptr_eq(joinlimit_pop_due(jl, now), &item);
		joinlimit_done(jl, "10.0.0.1:5002", -ECANCELED, now, NULL);
	}
	/* a success forgets the failures */
	ck_assert_int_eq(joinlimit_submit(jl, "10.0.0.1:1", &item, now + 1000), JOINLIMIT_GO);
	joinlimit_done(jl, "10.0.0.1:1", 0, now + 1000, NULL);
	rep = fail_once(jl, "10.0.0.1:2", now + 1000);
	ck_assert_int_eq(rep.delay_ms, 0);
	joinlimit_free(jl);
}
END_TEST

TEST(test_one_at_a_time_and_waiting_cap)
{
	struct joinlimit *jl = joinlimit_new(&cfg);
	int a, b[4], other;

	/* while one attempt is being checked the next ones wait for it */
	ck_assert_int_eq(joinlimit_submit(jl, "[fd00::1]:1", &a, 0), JOINLIMIT_GO);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(joinlimit_submit(jl, "[fd00::1]:2", &b[i], 0), JOINLIMIT_HELD);
	ck_assert_int_eq(joinlimit_submit(jl, "[fd00::1]:3", &b[3], 0), -EBUSY);
	ck_assert_int_eq(joinlimit_next_due(jl, 0), -1);
	ck_assert_ptr_null(joinlimit_pop_due(jl, 0));
	/* another address is not held up */
	ck_assert_int_eq(joinlimit_submit(jl, "10.0.0.2:1", &other, 0), JOINLIMIT_GO);
	/* two failures: the second waits 100 ms */
	joinlimit_done(jl, "[fd00::1]:1", -EACCES, 0, NULL);
	ck_assert_ptr_eq(joinlimit_pop_due(jl, 0), &b[0]);
	joinlimit_done(jl, "[fd00::1]:2", -EACCES, 5, NULL);
	ck_assert_int_eq(joinlimit_next_due(jl, 5), 100);
	ck_assert_ptr_null(joinlimit_pop_due(jl, 104));
	/* a held attempt whose connection closed is dropped */
	joinlimit_drop(jl, &b[1]);
	ck_assert_ptr_eq(joinlimit_pop_due(jl, 105), &b[2]);
	ck_assert_ptr_null(joinlimit_pop_due(jl, 100000));
	joinlimit_free(jl);
}
END_TEST

TEST(test_forget_after_quiet_time)
{
	struct joinlimit *jl = joinlimit_new(&cfg);
	int item;
	for (int i = 0; i < 5; i++)
		fail_once(jl, "10.0.0.3:1", i * 10000);
	ck_assert_int_eq(joinlimit_submit(jl, "10.0.0.3:1", &item, 40001), JOINLIMIT_HELD);
	joinlimit_drop(jl, &item);
	/* a minute of quiet: a clean slate */
	struct joinlimit_report rep = fail_once(jl, "10.0.0.3:1", 40001 + 60001);
	ck_assert_int_eq(rep.delay_ms, 0);
	joinlimit_free(jl);
}
END_TEST

struct flushed {
	char addr[64];
	unsigned count;
	int calls;
};

static void on_flush(const char *addr, unsigned count, void *userdata)
{
	struct flushed *f = userdata;
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	f->count = count;
	f->calls++;
}

TEST(test_logged_once_per_interval)
{
	struct joinlimit *jl = joinlimit_new(&cfg);
	struct flushed f = { 0 };
	int logged = 0;
	unsigned counted = 0;
	int64_t now = 0;

	/* 50 failures in 5 s: one line at the first, the rest counted */
	for (int i = 0; i < 50; i++, now += 100) {
		struct joinlimit_report rep = fail_once(jl, "10.0.0.4:9", now + 2000);
		if (rep.log) {
			logged++;
			counted += rep.count;
		}
		now += rep.delay_ms;
		if (now > 5000)
			break;
	}
	ck_assert_int_eq(logged, 1);
	ck_assert_uint_eq(counted, 1);
	joinlimit_flush(jl, 5000, on_flush, &f);
	ck_assert_int_eq(f.calls, 0); /* the interval is not over */
	joinlimit_flush(jl, 20000, on_flush, &f);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_str_eq(f.addr, "10.0.0.4");
	ck_assert_uint_gt(f.count, 0);
	joinlimit_flush(jl, 40000, on_flush, &f);
	ck_assert_int_eq(f.calls, 1); /* nothing new */
	joinlimit_free(jl);
}
END_TEST

TEST(test_address_table_is_capped)
{
	struct joinlimit *jl = joinlimit_new(&cfg);
	int held[4], item;
	char addr[32];

	/* 4 addresses tracked; each has an attempt waiting */
	for (int i = 0; i < 4; i++) {
		snprintf(addr, sizeof(addr), "10.1.0.%d:1", i);
		ck_assert_int_eq(joinlimit_submit(jl, addr, &item, 0), JOINLIMIT_GO);
		ck_assert_int_eq(joinlimit_submit(jl, addr, &held[i], 0), JOINLIMIT_HELD);
	}
	/* none can be forgotten: a fifth is refused */
	ck_assert_int_eq(joinlimit_submit(jl, "10.1.0.9:1", &item, 0), -EBUSY);
	/* once one is idle it makes way */
	joinlimit_done(jl, "10.1.0.0:1", -EACCES, 1, NULL);
	ck_assert_ptr_eq(joinlimit_pop_due(jl, 1), &held[0]);
	joinlimit_done(jl, "10.1.0.0:1", -EACCES, 1, NULL);
	ck_assert_int_eq(joinlimit_submit(jl, "10.1.0.9:1", &item, 2), JOINLIMIT_GO);
	joinlimit_free(jl);
}
END_TEST
