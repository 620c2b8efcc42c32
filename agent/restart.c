/* restart.c — when a container is restarted, without I/O: the pod's
 * restartPolicy and the crash-loop backoff, as Kubernetes has them
 * (CrashLoopBackOff, reset after a good run) with Skiff's shorter steps.
 *
 * The backoff protects the node against a crash loop, not the application
 * against one kill: the first restart of a container — and the first one
 * after a run of AGENT_STABLE_RUN_MS or more — is immediate. Each further
 * exit after a shorter run waits AGENT_BACKOFF_FIRST_MS, then twice as
 * long, up to AGENT_BACKOFF_MAX_MS. Kubernetes waits 10 s doubling to
 * 5 min and resets after 10 min; a node here heals in milliseconds and a
 * crash loop costs a runtime start (~5 ms of CPU) per step, so 100 ms to
 * 10 s bounds it at under 1 % of a CPU. The state is one number
 * (next_ms, persisted in the pod's run file), so an agent restart keeps it.
 */
#include "agent.h"
#include "util.h"

bool restart_policy_restarts(const char *policy, bool failed)
{
	if (!policy || !policy[0] || streq(policy, "Always"))
		return true;
	return streq(policy, "OnFailure") && failed;
}

int64_t restart_backoff_next(int64_t *next_ms, int64_t ran_ms)
{
	int64_t delay = *next_ms;
	if (ran_ms >= AGENT_STABLE_RUN_MS)
		delay = 0; /* a good run: as if it had never crashed */
	if (delay < 0)
		delay = 0;
	*next_ms = delay == 0			      ? AGENT_BACKOFF_FIRST_MS
		   : delay * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS
						      : delay * 2;
	return delay;
}
