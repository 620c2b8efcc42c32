/* testlib.h — Skiff's shared test library (build/tests/libskifftest.a), linked
 * into every Check test binary, unit and integration.
 *
 * A test file holds tests and nothing else: no main(), no suite building.
 *
 *	TEST(test_round_trip)
 *	{
 *		ck_assert_int_eq(...);
 *	}
 *	END_TEST
 *
 *	TEST_SUITE(.setup = setup, .teardown = teardown, .timeout = 60);
 *
 * TEST() registers the test in a linker section (as systemd's TEST() does);
 * the library's main() (runner.c) collects them in source order into one
 * Check suite and runs it. TEST_SUITE() is optional and says how: fixtures,
 * timeout, fork mode, root. Environment:
 *   SKIFF_TEST=a,b          run only the named tests (and the manual ones named)
 *   SKIFF_TEST_DEBUG=1      log at debug level (default: errors only)
 *   CK_TIMEOUT_MULTIPLIER, CK_FORK, CK_VERBOSITY   as Check documents them
 *
 * The helpers below are plain functions of the library; domain helpers have
 * their own headers: brain_helpers.h (a brain with a fake clock, in process),
 * brain_harness.h (a real skiff-orchestrator), rpc_test_server.h. */
#ifndef SKIFF_TESTLIB_H
#define SKIFF_TESTLIB_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "util.h"

/* One registered test: Check's TTest plus how to run it. */
struct skiff_test {
	TTest tt;
	int loop_start, loop_end; /* a loop test: _i runs over [start, end) */
	bool manual;		  /* run only when SKIFF_TEST names it (benchmarks) */
	bool needs_root;	  /* skipped, with a note, when not run as root */
};

/* How a test binary runs; every field may be left out. */
struct skiff_test_suite {
	const char *name; /* default: the binary's name without "test_" */
	/* checked fixture: around every test, in the test's own process */
	void (*setup)(void);
	void (*teardown)(void);
	/* unchecked fixture: once, in the runner's process */
	void (*setup_all)(void);
	void (*teardown_all)(void);
	int timeout;	 /* seconds per test (Check's default: 4) */
	bool no_fork;	 /* every test in the runner's process, in order */
	bool needs_root; /* the whole binary: skipped when not root */
	int log_level;	 /* SKIFF_LOG_*; 0 (errors) by default */
	/* before any test, in the runner's process: < 0 ends the run failed
	 * (after printing why) */
	int (*init)(void);
};

#define SKIFF_TEST_SECTION __attribute__((used, section("skiff_tests"), aligned(sizeof(void *))))

#define TEST_WITH(name, ...)                                                                       \
	static void name##_fn(int _i);                                                             \
	static const struct skiff_test name##_test = {                                             \
		.tt = { #name, name##_fn, __FILE__, __LINE__ }, __VA_ARGS__                        \
	};                                                                                         \
	static const struct skiff_test *const name##_entry SKIFF_TEST_SECTION = &name##_test;      \
	static void name##_fn(int _i CK_ATTRIBUTE_UNUSED)

#define TEST(name) TEST_WITH(name, .manual = false)
/* _i runs over [start, end), each value in its own test run */
#define TEST_LOOP(name, start, end) TEST_WITH(name, .loop_start = (start), .loop_end = (end))

#define TEST_SUITE(...) const struct skiff_test_suite skiff_test_suite = { __VA_ARGS__ }

/* ---- helpers ------------------------------------------------------------ */

/* The test's scratch directory: tmpdir_make() creates /tmp/skiff-test-TAG-XXXXXX
 * (TAG NULL: the binary's name without "test_") and stores its path in tmpdir; tmpdir_remove() deletes it and its content
 * (kept when SKIFF_KEEP_TMP is set, and its path printed). */
extern char tmpdir[128];
void tmpdir_make(const char *tag);
void tmpdir_remove(void);
/* The same as a checked fixture: TEST_SUITE(.setup = tmpdir_setup, ...). */
void tmpdir_setup(void);
void tmpdir_teardown(void);

/* Send the library's log lines to /dev/null (tests whose refusals are the
 * point); SKIFF_TEST_DEBUG keeps them. */
void quiet_logs(void);

/* A loopback TCP port that was free a moment ago. */
int free_port(void);

/* Wait (up to ms) until cond holds, for state another thread or process
 * changes; evaluates to cond. */
#define WAIT_FOR(cond, ms)                                                                         \
	({                                                                                         \
		int64_t _end_ = skiff_mono_ms() + (ms);                                            \
		while (!(cond) && skiff_mono_ms() < _end_)                                         \
			usleep(2000);                                                              \
		(cond);                                                                            \
	})

/* Run an event_base until cond holds or ms pass; evaluates to cond. */
#define LOOP_UNTIL(base, cond, ms)                                                                 \
	({                                                                                         \
		int64_t _end_ = skiff_mono_ms() + (ms);                                            \
		while (!(cond) && skiff_mono_ms() < _end_) {                                       \
			struct timeval _tv_ = { 0, 10000 };                                        \
			event_base_loopexit((base), &_tv_);                                        \
			event_base_loop((base), EVLOOP_ONCE);                                      \
		}                                                                                  \
		(cond);                                                                            \
	})

#endif
