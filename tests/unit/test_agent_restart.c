/* test_agent_restart.c — the agent's restart policy and crash-loop backoff
 * (agent/restart.c): which exits restart, the backoff's steps, its cap, its
 * reset after a good run, and a one-off kill restarting at once. */
#include <check.h>
#include <stdint.h>

#include "../../agent/agent.h"
#include "testlib.h"

TEST(test_policy)
{
	/* Always (also the default) restarts whatever the outcome */
	ck_assert(restart_policy_restarts("Always", false));
	ck_assert(restart_policy_restarts("Always", true));
	ck_assert(restart_policy_restarts("", false));
	ck_assert(restart_policy_restarts(NULL, true));
	/* OnFailure only after a failure */
	ck_assert(restart_policy_restarts("OnFailure", true));
	ck_assert(!restart_policy_restarts("OnFailure", false));
	/* Never never */
	ck_assert(!restart_policy_restarts("Never", true));
	ck_assert(!restart_policy_restarts("Never", false));
}
END_TEST

/* a container that crashes at once, again and again */
TEST(test_crash_loop_steps_and_cap)
{
	int64_t next = 0;
	int64_t want[] = { 0, 100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_int_eq(restart_backoff_next(&next, 5), want[i]);
	ck_assert_int_eq(next, AGENT_BACKOFF_MAX_MS);
}
END_TEST

/* one kill of a container that ran for a while: no wait, and the next
 * crash soon after waits the first step only */
TEST(test_kill_after_good_run_is_immediate)
{
	int64_t next = 0;
	ck_assert_int_eq(restart_backoff_next(&next, 3600 * 1000), 0);
	ck_assert_int_eq(next, AGENT_BACKOFF_FIRST_MS);
	ck_assert_int_eq(restart_backoff_next(&next, 50), AGENT_BACKOFF_FIRST_MS);

	/* deep in a crash loop, then a run of AGENT_STABLE_RUN_MS: reset */
	next = AGENT_BACKOFF_MAX_MS;
	ck_assert_int_eq(restart_backoff_next(&next, AGENT_STABLE_RUN_MS), 0);
	ck_assert_int_eq(next, AGENT_BACKOFF_FIRST_MS);
	/* just short of it: no reset */
	next = 800;
	ck_assert_int_eq(restart_backoff_next(&next, AGENT_STABLE_RUN_MS - 1), 800);
	ck_assert_int_eq(next, 1600);
}
END_TEST

/* failures before a container runs (ran -1: image missing, ...) back off
 * the same way and never count as a good run */
TEST(test_setup_failures_back_off)
{
	int64_t next = 0;
	ck_assert_int_eq(restart_backoff_next(&next, -1), 0);
	ck_assert_int_eq(restart_backoff_next(&next, -1), 100);
	ck_assert_int_eq(restart_backoff_next(&next, -1), 200);
	/* a garbage state (a hand-edited run file) starts over */
	next = -5;
	ck_assert_int_eq(restart_backoff_next(&next, -1), 0);
	ck_assert_int_eq(next, AGENT_BACKOFF_FIRST_MS);
}
END_TEST
