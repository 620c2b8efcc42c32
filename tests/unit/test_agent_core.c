/* test_agent_core.c — the agent's pod state machine (agent/core.c, the
 * module skiff-agent runs) driven without processes: a fake clock, fake
 * actions that record what the core asks of the node, and a fake uplink
 * that records what it tells the brain. Restart policies, the backoff's
 * steps and its reset after a good run, CrashLoopBackOff, probes (liveness
 * failure restarts, readiness), stop with grace then SIGKILL, the fast
 * restart whose status waits for the exit record, start failures retried,
 * the start queue, adoption after an agent restart (nothing restarted) and
 * the fence of a returning node (pods the brain moved are stopped, never
 * run again). */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/agent.h"
#include "testlib.h"
#include "util.h"

#define MAXLOG 256

struct fake {
	struct agent a;
	int64_t now;
	int64_t wake;	   /* earliest wake-up asked for (0: none) */
	char *log[MAXLOG]; /* actions, in order: "start ID", "signal ID 9", ... */
	int n_log;
	/* the next start fails with this (NULL: it works) */
	const char *fail_reason;
	bool fail_retry;
	bool connected;
	/* uplink */
	int n_status;
	char last_phase[32], last_reason[64], last_message[256], last_cs_reason[64];
	int last_restarts, last_exit_code;
	bool last_ready;
	char events[MAXLOG][64]; /* reasons */
	int n_events;
	int n_stopped;
	int next_pid;
};

static struct fake *F;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_lt(F->n_log, MAXLOG);
	ck_assert_int_ge(vasprintf(&F->log[F->n_log++], fmt, ap), 0);
	va_end(ap);
}

/* how many logged actions start with prefix */
static int count(const char *prefix)
{
	int n = 0;
	for (int i = 0; i < F->n_log; i++)
		n += strncmp(F->log[i], prefix, strlen(prefix)) == 0;
	return n;
}

static int events(const char *reason)
{
	int n = 0;
	for (int i = 0; i < F->n_events; i++)
		n += streq(F->events[i], reason);
	return n;
}

/* ---- fakes -------------------------------------------------------------- */

static int64_t f_now(struct agent *a)
{
	(void)a;
	return F->now;
}

static void f_wake_at(struct agent *a, int64_t at)
{
	(void)a;
	if (!F->wake || at < F->wake)
		F->wake = at;
}

static const struct agent_clock fake_clock = { f_now, f_wake_at };

static int f_start(struct agent_container *c, const char *id, struct core_failure *ret)
{
	note("start %s", id);
	if (F->fail_reason) {
		copy_str(ret->reason, sizeof(ret->reason), F->fail_reason);
		ret->message = xasprintf("%s: image 'web:1' not here", F->fail_reason);
		ret->retry = F->fail_retry;
		return -ENOENT;
	}
	(void)c;
	return 0;
}

static void f_signal(struct agent_container *c, int sig)
{
	note("signal %s %d", c->container_id, sig);
}
static void f_unwatch(struct agent_container *c)
{
	(void)c;
}
static void f_release(struct agent_container *c)
{
	note("release %s", c->container_id);
}
static void f_delete(struct agent *a, const char *id)
{
	(void)a;
	note("delete %s", id);
}
static void f_probes(struct agent_container *c, bool run)
{
	note("probes %s %s", c->container_id, run ? "on" : "off");
}
static void f_running(struct agent_container *c)
{
	note("running %s", c->container_id);
}
static void f_save_pod(struct agent_pod *pod)
{
	note("save_pod %s", pod->name);
}
static void f_save_run(struct agent_container *c)
{
	(void)c;
}
static void f_pod_wanted(struct agent_pod *pod)
{
	(void)pod;
}
static void f_pod_removed(struct agent_pod *pod)
{
	note("removed %s", pod->name);
}
static void f_assignment(struct agent *a)
{
	(void)a;
}

static const struct agent_actions fake_actions = {
	.start = f_start,
	.signal = f_signal,
	.unwatch = f_unwatch,
	.release = f_release,
	.delete_attempt = f_delete,
	.probes = f_probes,
	.running = f_running,
	.save_pod = f_save_pod,
	.save_run = f_save_run,
	.pod_wanted = f_pod_wanted,
	.pod_removed = f_pod_removed,
	.assignment = f_assignment,
};

static bool f_send_status(struct agent *a, struct agent_pod *pod)
{
	(void)a;
	if (!F->connected)
		return false;
	Skiff__PodStatus *st = core_pod_status(pod);
	F->n_status++;
	copy_str(F->last_phase, sizeof(F->last_phase), st->phase);
	copy_str(F->last_reason, sizeof(F->last_reason), st->reason);
	copy_str(F->last_message, sizeof(F->last_message), st->message);
	F->last_ready = st->ready;
	Skiff__ContainerStatus *cs = st->container_statuses[0];
	F->last_restarts = cs->restart_count;
	F->last_exit_code = cs->last_exit_code;
	copy_str(F->last_cs_reason, sizeof(F->last_cs_reason), cs->last_reason);
	core_status_free(st);
	return true;
}
static bool f_send_stopped(struct agent *a, struct agent_pod *pod)
{
	(void)a;
	(void)pod;
	F->n_stopped++;
	return F->connected;
}
static bool f_send_event(struct agent *a, const uint8_t *packed, size_t len)
{
	(void)a;
	if (!F->connected)
		return false;
	Skiff__Event *ev = skiff__event__unpack(NULL, len, packed);
	ck_assert_ptr_nonnull(ev);
	ck_assert_int_lt(F->n_events, MAXLOG);
	copy_str(F->events[F->n_events++], 64, ev->reason);
	skiff__event__free_unpacked(ev, NULL);
	return true;
}
static bool f_connected(struct agent *a)
{
	(void)a;
	return F->connected;
}

static const struct agent_uplink fake_uplink = {
	.send_status = f_send_status,
	.send_stopped = f_send_stopped,
	.send_event = f_send_event,
	.connected = f_connected,
	.talking = f_connected,
};

static void setup(void)
{
	F = xcalloc(1, sizeof(*F));
	F->a.clock = &fake_clock;
	F->a.actions = &fake_actions;
	F->a.uplink = &fake_uplink;
	F->a.events_tail = &F->a.events;
	F->a.max_starting = 4;
	F->a.cfg.name = "node1";
	F->a.cfg.brain_wait_ms = 2000;
	F->a.epoch = 1;
	F->now = 1000000;
	F->connected = true;
	F->next_pid = 100;
}

static void teardown(void)
{
	core_free_all(&F->a);
	for (int i = 0; i < F->n_log; i++)
		free(F->log[i]);
	free(F);
	F = NULL;
}

/* ---- pods and what happens to them -------------------------------------- */

struct podspec {
	const char *name, *policy;
	int grace_ms;
	Skiff__Probe *liveness, *readiness;
};

/* An owned Skiff__Pod as the brain would send it. */
static Skiff__Pod *make_pod(const struct podspec *ps)
{
	Skiff__Pod pod = SKIFF__POD__INIT;
	Skiff__ObjectMeta meta = SKIFF__OBJECT_META__INIT;
	Skiff__PodSpec spec = SKIFF__POD_SPEC__INIT;
	Skiff__Container c = SKIFF__CONTAINER__INIT;
	Skiff__Container *cs[1] = { &c };
	char *cmd[] = { "/bin/pause" };
	char uid[64];
	snprintf(uid, sizeof(uid), "uid-%s", ps->name);
	meta.name = (char *)ps->name;
	meta.uid = uid;
	spec.restart_policy = (char *)(ps->policy ? ps->policy : "Always");
	spec.termination_grace_ms = ps->grace_ms;
	spec.containers = cs;
	spec.n_containers = 1;
	c.name = "main";
	c.image = "web:1";
	c.command = cmd;
	c.n_command = 1;
	c.liveness_probe = ps->liveness;
	c.readiness_probe = ps->readiness;
	pod.metadata = &meta;
	pod.spec = &spec;
	size_t len = skiff__pod__get_packed_size(&pod);
	uint8_t *buf = xmalloc(len);
	skiff__pod__pack(&pod, buf);
	Skiff__Pod *copy = skiff__pod__unpack(NULL, len, buf);
	free(buf);
	return copy;
}

/* The brain's Assignment of these pods (n may be 0); fenced: the node's
 * epoch is no longer valid. */
static void assign(const struct podspec *pods, int n, bool fenced)
{
	Skiff__Assignment as = SKIFF__ASSIGNMENT__INIT;
	Skiff__Pod *p[8];
	for (int i = 0; i < n; i++)
		p[i] = make_pod(&pods[i]);
	as.pods = p;
	as.n_pods = (size_t)n;
	as.fenced = fenced;
	size_t len = skiff__assignment__get_packed_size(&as);
	uint8_t *buf = xmalloc(len);
	skiff__assignment__pack(&as, buf);
	for (int i = 0; i < n; i++)
		skiff__pod__free_unpacked(p[i], NULL);
	core_apply_assignment(&F->a, skiff__assignment__unpack(NULL, len, buf));
	free(buf);
}

static struct agent_container *ctr(const char *pod)
{
	struct agent_pod *p = core_find_pod(&F->a, NULL, pod);
	return p ? core_container(p, NULL) : NULL;
}

/* the clock moves on: every deadline due runs, then the statuses go out */
static void advance(int64_t ms)
{
	F->now += ms;
	for (int i = 0; i < 3; i++) {
		F->wake = 0;
		core_tick(&F->a);
	}
}

/* the shim of the current attempt reports it running */
static void shim_running(struct agent_container *c)
{
	struct shim_state st = { .status = "running", .started_ms = F->now };
	st.pid = F->next_pid++;
	core_start_done(c, 0, NULL, &st);
	advance(0);
}

static void shim_exited(struct agent_container *c, int code, int sig)
{
	struct shim_state st = { .status = "exited", .exit_code = code, .signal = sig };
	st.pid = c->pid;
	st.started_ms = c->started_ms;
	st.finished_ms = F->now;
	core_exited(c, &st);
	advance(0);
}

/* ---- restart policy ----------------------------------------------------- */

TEST(test_always_restarts_any_exit)
{
	struct podspec ps = { .name = "web" };
	assign(&ps, 1, false);
	struct agent_container *c = ctr("web");
	ck_assert_int_eq(count("start uid-web-1"), 1);
	ck_assert_int_eq(events("Scheduled"), 1);
	shim_running(c);
	ck_assert_int_eq(c->state, POD_RUNNING);
	ck_assert_str_eq(F->last_phase, "Running");
	ck_assert(F->last_ready); /* no readiness probe: ready once running */

	/* a clean exit after a good run: restarted at once */
	advance(20000);
	shim_exited(c, 0, 0);
	ck_assert_int_eq(count("start uid-web-2"), 1);
	ck_assert_int_eq(c->restarts, 1);
	ck_assert_int_eq(events("Completed"), 1);
	shim_running(c);
	/* a kill -9 after a good run: at once too */
	advance(20000);
	shim_exited(c, 0, SIGKILL);
	ck_assert_int_eq(count("start uid-web-3"), 1);
	ck_assert_int_eq(events("ContainerDied"), 1);
	ck_assert_int_eq(F->last_restarts, 2);
	ck_assert_int_eq(F->last_exit_code, 137);
	ck_assert_str_eq(F->last_cs_reason, "Signaled");
	/* the attempt before the previous one goes once the new one runs */
	ck_assert_int_eq(count("delete uid-web-1"), 0);
	shim_running(c);
	ck_assert_int_eq(count("delete uid-web-1"), 1);
}
END_TEST

TEST(test_on_failure_and_never)
{
	struct podspec ps[] = { { .name = "ok", .policy = "OnFailure" },
				{ .name = "bad", .policy = "OnFailure" },
				{ .name = "never", .policy = "Never" } };
	assign(ps, 3, false);
	shim_running(ctr("ok"));
	shim_running(ctr("bad"));
	shim_running(ctr("never"));
	advance(20000);

	shim_exited(ctr("ok"), 0, 0); /* success: done */
	ck_assert_int_eq(ctr("ok")->state, POD_DONE);
	ck_assert_int_eq(count("start uid-ok-2"), 0);
	ck_assert_str_eq(F->last_phase, "Succeeded");

	shim_exited(ctr("bad"), 3, 0); /* failure: restarted */
	ck_assert_int_eq(count("start uid-bad-2"), 1);
	ck_assert_int_eq(ctr("bad")->restarts, 1);

	shim_exited(ctr("never"), 3, 0); /* never */
	ck_assert_int_eq(ctr("never")->state, POD_DONE);
	ck_assert_int_eq(count("start uid-never-2"), 0);
	ck_assert_str_eq(F->last_phase, "Failed");
	ck_assert_str_eq(F->last_reason, "Error");
	advance(60000);
	ck_assert_int_eq(count("start uid-never-"), 1);
	ck_assert_int_eq(count("start uid-ok-"), 1);
}
END_TEST

/* ---- backoff ------------------------------------------------------------ */

TEST(test_crash_loop_backoff_and_reset)
{
	struct podspec ps = { .name = "loop" };
	assign(&ps, 1, false);
	struct agent_container *c = ctr("loop");
	shim_running(c);
	advance(5);
	shim_exited(c, 1, 0); /* the first crash: at once */
	ck_assert_int_eq(count("start uid-loop-2"), 1);

	int64_t steps[] = { 100, 200, 400, 800 };
	for (int i = 0; i < 4; i++) {
		char next[64];
		snprintf(next, sizeof(next), "start uid-loop-%d", i + 3);
		shim_running(c);
		advance(5);
		shim_exited(c, 1, 0);
		ck_assert_int_eq(c->state, POD_BACKOFF);
		ck_assert_str_eq(F->last_reason, "CrashLoopBackOff");
		char msg[128];
		snprintf(msg, sizeof(msg), "back-off %d ms restarting container main",
			 (int)steps[i]);
		ck_assert_str_eq(F->last_message, msg);
		ck_assert_int_eq(F->last_restarts, i + 2);
		ck_assert_int_eq(F->last_phase[0], 'R'); /* Running: it will run again */
		advance(steps[i] - 1);
		ck_assert_int_eq(count(next), 0);
		advance(1);
		ck_assert_int_eq(count(next), 1);
		ck_assert_int_eq(c->state, POD_STARTING);
	}
	/* a good run (10 s or more): the next exit restarts at once, and the
	 * next crash after it waits the first step only */
	shim_running(c);
	advance(AGENT_STABLE_RUN_MS);
	shim_exited(c, 1, 0);
	ck_assert_int_eq(count("start uid-loop-7"), 1);
	shim_running(c);
	advance(5);
	shim_exited(c, 1, 0);
	ck_assert_int_eq(c->state, POD_BACKOFF);
	ck_assert_str_eq(F->last_message, "back-off 100 ms restarting container main");
}
END_TEST

TEST(test_start_failure_retried_one_event)
{
	struct podspec ps = { .name = "img" };
	F->fail_reason = "ImageNotFound";
	F->fail_retry = true;
	assign(&ps, 1, false);
	advance(0);
	struct agent_container *c = ctr("img");
	/* a failure before the container ran: retried with the steps (the
	 * first retry at once), not counted as a restart */
	ck_assert_int_eq(count("start uid-img-1"), 2);
	ck_assert_int_eq(c->state, POD_BACKOFF);
	ck_assert_str_eq(F->last_reason, "ImageNotFound");
	ck_assert_str_eq(F->last_phase, "Pending");
	advance(100);
	advance(200);
	ck_assert_int_eq(count("start uid-img-1"), 4);
	ck_assert_int_eq(events("Failed"), 1); /* one Event per distinct failure */
	ck_assert_int_eq(c->restarts, 0);
	/* the image arrives: the next retry runs it */
	F->fail_reason = NULL;
	advance(400);
	ck_assert_int_eq(c->state, POD_STARTING);
	shim_running(c);
	ck_assert_str_eq(F->last_phase, "Running");
	ck_assert_str_eq(F->last_reason, "");

	/* a failure that cannot get better (Never, or not retryable): done */
	struct podspec never = { .name = "bad", .policy = "Never" };
	F->fail_reason = "VolumeError";
	F->fail_retry = true;
	struct podspec both[] = { ps, never };
	assign(both, 2, false);
	advance(0);
	ck_assert_int_eq(ctr("bad")->state, POD_DONE);
	ck_assert_str_eq(F->last_phase, "Failed");
}
END_TEST

/* the runtime itself refuses (exit 127): CommandNotFound, retried */
TEST(test_runtime_failure)
{
	struct podspec ps = { .name = "cmd" };
	assign(&ps, 1, false);
	struct agent_container *c = ctr("cmd");
	core_start_done(c, 127, "exec /bin/nope: No such file or directory", NULL);
	ck_assert_int_eq(count("start uid-cmd-2"), 1); /* the first retry: at once */
	core_start_done(c, 127, "exec /bin/nope: No such file or directory", NULL);
	advance(0);
	ck_assert_int_eq(c->state, POD_BACKOFF);
	ck_assert_int_eq(c->restarts, 0);
	ck_assert_str_eq(F->last_reason, "CommandNotFound");
	ck_assert_int_eq(count("delete uid-cmd-1"), 1);
	ck_assert_int_eq(count("delete uid-cmd-2"), 1);
	ck_assert(strstr(F->last_message, "No such file"));
	ck_assert_int_eq(F->a.starting, 0); /* the slot is free again */
}
END_TEST

/* ---- the fast restart: decided at the main process's exit ---------------- */

TEST(test_fast_restart_waits_for_the_record)
{
	struct podspec ps = { .name = "fast" };
	assign(&ps, 1, false);
	struct agent_container *c = ctr("fast");
	shim_running(c);
	advance(30000);
	int before = F->n_status;
	ck_assert(core_restarts_early(c));
	core_exited_early(c);
	advance(0);
	ck_assert_int_eq(count("start uid-fast-2"), 1); /* at once */
	ck_assert_int_eq(F->n_status, before);		/* held for the record */
	struct shim_state st = { .status = "exited", .signal = SIGKILL, .pid = c->pid };
	st.finished_ms = F->now;
	core_exit_recorded(c, &st);
	advance(0);
	ck_assert_int_gt(F->n_status, before);
	ck_assert_int_eq(F->last_restarts, 1);
	ck_assert_int_eq(F->last_exit_code, 137);
	ck_assert_str_eq(F->last_cs_reason, "Signaled");
	ck_assert_int_eq(events("ContainerDied"), 1);

	/* no record within a second: the status goes without it */
	shim_running(c);
	advance(30000);
	core_exited_early(c);
	advance(999);
	before = F->n_status;
	advance(1);
	ck_assert_int_gt(F->n_status, before);
	ck_assert_int_eq(F->last_restarts, 2);
	/* and the record, late, still gives the exit's details */
	st.exit_code = 2;
	st.signal = 0;
	core_exit_recorded(c, &st);
	advance(0);
	ck_assert_int_eq(F->last_exit_code, 2);
	ck_assert_str_eq(F->last_cs_reason, "Error");

	/* OnFailure needs the exit code: no early decision */
	struct podspec of = { .name = "of", .policy = "OnFailure" };
	struct podspec both[] = { ps, of };
	assign(both, 2, false);
	shim_running(ctr("of"));
	ck_assert(!core_restarts_early(ctr("of")));
}
END_TEST

/* ---- probes ------------------------------------------------------------- */

TEST(test_probes)
{
	Skiff__Probe live = SKIFF__PROBE__INIT, ready = SKIFF__PROBE__INIT;
	Skiff__TcpSocketAction tcp = SKIFF__TCP_SOCKET_ACTION__INIT;
	tcp.port = 80;
	live.tcp_socket = &tcp;
	live.failure_threshold = 3;
	ready.tcp_socket = &tcp;
	ready.failure_threshold = 2;
	ready.success_threshold = 2;
	struct podspec ps = { .name = "pr", .liveness = &live, .readiness = &ready };
	assign(&ps, 1, false);
	struct agent_container *c = ctr("pr");
	shim_running(c);
	ck_assert_int_eq(count("probes uid-pr-1 on"), 1);
	ck_assert(!F->last_ready); /* until its readiness probe passes */

	core_probe_check(c, false, true, "");
	advance(0);
	ck_assert(!c->ready); /* successThreshold 2 */
	core_probe_check(c, false, true, "");
	advance(0);
	ck_assert(F->last_ready);
	core_probe_check(c, false, false, "connection refused");
	ck_assert(c->ready); /* failureThreshold 2 */
	core_probe_check(c, false, false, "connection refused");
	advance(0);
	ck_assert(!F->last_ready);
	ck_assert_int_eq(events("Unhealthy"), 1);

	/* liveness: two failures, a success, then three in a row kill it */
	core_probe_check(c, true, false, "timeout");
	core_probe_check(c, true, false, "timeout");
	core_probe_check(c, true, true, "");
	core_probe_check(c, true, false, "timeout");
	core_probe_check(c, true, false, "timeout");
	ck_assert_int_eq(count("signal uid-pr-1 9"), 0);
	core_probe_check(c, true, false, "timeout");
	ck_assert_int_eq(count("signal uid-pr-1 9"), 1);
	ck_assert_int_eq(events("Unhealthy"), 2);
	/* the kill's exit restarts it (Always), with a Killing Event */
	advance(20000);
	shim_exited(c, 0, SIGKILL);
	ck_assert_int_eq(count("probes uid-pr-1 off"), 1);
	ck_assert_int_eq(events("Killing"), 1);
	ck_assert_int_eq(count("start uid-pr-2"), 1);
	ck_assert_int_eq(F->last_restarts, 1);
	/* results for an attempt that no longer runs are ignored */
	core_probe_check(c, true, false, "late");
	core_probe_check(c, true, false, "late");
	core_probe_check(c, true, false, "late");
	ck_assert_int_eq(count("signal"), 1);
}
END_TEST

/* ---- stop and grace ----------------------------------------------------- */

TEST(test_stop_grace_then_sigkill)
{
	struct podspec ps[] = { { .name = "slow", .grace_ms = 3000 }, { .name = "quick" } };
	assign(ps, 2, false);
	shim_running(ctr("slow"));
	shim_running(ctr("quick"));
	struct agent_container *slow = ctr("slow");

	assign(ps + 1, 1, false); /* "slow" no longer assigned */
	ck_assert_int_eq(slow->state, POD_STOPPING);
	ck_assert_int_eq(count("signal uid-slow-1 15"), 1);
	ck_assert_int_eq(count("probes uid-slow-1 off"), 1);
	advance(2999);
	ck_assert_int_eq(count("signal uid-slow-1 9"), 0);
	advance(1);
	ck_assert_int_eq(count("signal uid-slow-1 9"), 1);
	/* its exit is not restarted: the pod and its sandbox go */
	shim_exited(slow, 0, SIGKILL);
	ck_assert_ptr_null(ctr("slow"));
	ck_assert_int_eq(count("removed slow"), 1);
	ck_assert_int_eq(count("delete uid-slow-1"), 1);
	ck_assert_int_eq(count("start uid-slow-2"), 0);
	ck_assert_int_eq(F->n_stopped, 1);

	/* exits within the grace period: no SIGKILL (default grace 10 s) */
	assign(NULL, 0, false);
	ck_assert_int_eq(count("signal uid-quick-1 15"), 1);
	advance(500);
	shim_exited(ctr("quick"), 0, SIGTERM);
	advance(20000);
	ck_assert_int_eq(count("signal uid-quick-1 9"), 0);
	ck_assert_ptr_null(ctr("quick"));
	ck_assert_ptr_null(F->a.pods);
}
END_TEST

/* a pod removed while its shim starts: killed once it runs, then gone */
TEST(test_stop_while_starting_and_in_backoff)
{
	struct podspec ps[] = { { .name = "s" }, { .name = "b" } };
	assign(ps, 2, false);
	shim_running(ctr("b"));
	advance(5);
	shim_exited(ctr("b"), 1, 0);
	shim_running(ctr("b"));
	advance(5);
	shim_exited(ctr("b"), 1, 0);
	ck_assert_int_eq(ctr("b")->state, POD_BACKOFF);
	assign(NULL, 0, false);
	ck_assert_ptr_null(ctr("b")); /* nothing ran: gone at once */
	ck_assert_int_eq(count("removed b"), 1);
	advance(10000);
	ck_assert_int_eq(count("start uid-b-4"), 0);

	struct agent_container *s = ctr("s");
	ck_assert_int_eq(s->state, POD_STOPPING);
	shim_running(s);
	ck_assert_int_eq(count("signal uid-s-1 9"), 1);
	shim_exited(s, 0, SIGKILL);
	ck_assert_ptr_null(ctr("s"));
}
END_TEST

/* ---- the start queue ---------------------------------------------------- */

TEST(test_start_queue)
{
	F->a.max_starting = 1;
	struct podspec ps[] = { { .name = "q1" }, { .name = "q2" }, { .name = "q3" } };
	assign(ps, 3, false);
	advance(0);
	ck_assert_int_eq(count("start "), 1);
	ck_assert_str_eq(F->last_phase, "Pending");
	shim_running(ctr("q1"));
	ck_assert_int_eq(count("start "), 2);
	ck_assert_int_eq(count("start uid-q2-1"), 1); /* the longest waiting */
	shim_running(ctr("q2"));
	shim_running(ctr("q3"));
	ck_assert_int_eq(count("start "), 3);
}
END_TEST

/* ---- an agent restart: adoption and the fence --------------------------- */

/* What pods_adopt does after reading STATE/pods: the pod records, each
 * container's attempt and restarts from its run file. */
static struct agent_container *adopt(const char *name, int attempt, int restarts)
{
	struct podspec ps = { .name = name };
	struct agent_pod *pod = core_pod_new(&F->a, make_pod(&ps));
	struct agent_container *c = pod->containers[0];
	c->attempt = attempt;
	c->restarts = restarts;
	core_container_id(c, attempt, c->container_id, sizeof(c->container_id));
	c->desired = true;
	return c;
}

TEST(test_adopt_after_agent_restart)
{
	core_hold_start(&F->a);
	struct agent_container *run = adopt("run", 3, 2);
	struct agent_container *died = adopt("died", 1, 0);
	core_adopt_running(run, 4242, F->now - 60000);
	struct shim_state st = { .status = "exited", .exit_code = 1, .pid = 77 };
	st.started_ms = F->now - 60000;
	st.finished_ms = F->now - 1000;
	core_adopt_exited(died, &st);
	advance(0);
	/* the running one is adopted as it is; the dead one waits for the brain */
	ck_assert_int_eq(count("start "), 0);
	ck_assert_int_eq(run->state, POD_RUNNING);
	ck_assert_int_eq(run->pid, 4242);
	ck_assert_int_eq(count("probes uid-run-3 on"), 1);
	ck_assert_int_eq(events("ContainerDied"), 1);
	ck_assert(died->held);

	/* the brain still wants both: nothing restarted, the dead one starts */
	struct podspec ps[] = { { .name = "run" }, { .name = "died" } };
	assign(ps, 2, false);
	ck_assert_int_eq(count("start "), 1);
	ck_assert_int_eq(count("start uid-died-2"), 1);
	ck_assert_int_eq(count("signal"), 0);
	ck_assert_int_eq(run->state, POD_RUNNING);
	ck_assert_int_eq(run->restarts, 2);
	ck_assert_int_eq(died->restarts, 1);
	ck_assert_int_eq(count("save_pod"), 0); /* known pods, not new ones */
}
END_TEST

TEST(test_fence_of_a_returning_node)
{
	core_hold_start(&F->a);
	struct agent_container *kept = adopt("kept", 1, 0);
	struct agent_container *moved = adopt("moved", 1, 0);
	adopt("moveddead", 1, 0);
	core_adopt_running(kept, 500, F->now - 5000);
	core_adopt_running(moved, 501, F->now - 5000);
	struct shim_state st = { .status = "exited", .exit_code = 2, .pid = 502 };
	core_adopt_exited(ctr("moveddead"), &st);
	/* a container dying during the hold is not restarted either */
	advance(20000 - 2000 - 1);
	ck_assert(F->a.hold);
	shim_exited(kept, 1, 0);
	ck_assert(kept->held);
	ck_assert_int_eq(count("start "), 0);

	/* the brain moved "moved" and "moveddead" elsewhere */
	struct podspec ps = { .name = "kept" };
	assign(&ps, 1, false);
	ck_assert_int_eq(count("signal uid-moved-1 15"), 1);
	ck_assert_ptr_null(ctr("moveddead")); /* removed without having run again */
	ck_assert_int_eq(count("removed moveddead"), 1);
	ck_assert_int_eq(count("start uid-moved"), 0);
	ck_assert_int_eq(count("start uid-kept-2"), 1);
	shim_exited(moved, 0, SIGTERM);
	ck_assert_ptr_null(ctr("moved"));

	/* a fenced epoch: every pod stops */
	shim_running(kept);
	assign(&ps, 1, true);
	ck_assert_int_eq(count("signal uid-kept-2 15"), 1);
	shim_exited(kept, 0, SIGTERM);
	ck_assert_ptr_null(F->a.pods);
	ck_assert_int_eq(count("start uid-kept-3"), 0);
}
END_TEST

/* the brain never answers: after --brain-wait the node heals locally */
TEST(test_hold_ends_without_the_brain)
{
	F->connected = false;
	core_hold_start(&F->a);
	struct agent_container *c = adopt("alone", 1, 0);
	struct shim_state st = { .status = "exited", .exit_code = 1, .pid = 9 };
	core_adopt_exited(c, &st);
	advance(1999);
	ck_assert_int_eq(count("start "), 0);
	advance(1);
	ck_assert(!F->a.hold);
	ck_assert_int_eq(count("start uid-alone-2"), 1);

	/* talking to the brain but no Assignment: three rounds of brain-wait */
	teardown();
	setup();
	core_hold_start(&F->a);
	c = adopt("slow", 1, 0);
	core_adopt_exited(c, &st);
	advance(2000);
	advance(2000);
	ck_assert_int_eq(count("start "), 0);
	advance(2000);
	ck_assert_int_eq(count("start uid-slow-2"), 1);
}
END_TEST

/* a frame no validating brain sends is refused, not run (and no crash) */
TEST(test_malformed_pod_refused)
{
	Skiff__Assignment as = SKIFF__ASSIGNMENT__INIT;
	Skiff__Pod pod = SKIFF__POD__INIT;
	Skiff__ObjectMeta meta = SKIFF__OBJECT_META__INIT;
	Skiff__PodSpec spec = SKIFF__POD_SPEC__INIT; /* no containers */
	Skiff__Pod *pods[1] = { &pod };
	meta.name = "empty";
	meta.uid = "u";
	pod.metadata = &meta;
	pod.spec = &spec;
	as.pods = pods;
	as.n_pods = 1;
	size_t len = skiff__assignment__get_packed_size(&as);
	uint8_t *buf = xmalloc(len);
	skiff__assignment__pack(&as, buf);
	core_apply_assignment(&F->a, skiff__assignment__unpack(NULL, len, buf));
	free(buf);
	ck_assert_ptr_null(F->a.pods);
	ck_assert_int_eq(count("start "), 0);
}
END_TEST

/* the brain away: statuses and Events wait, and go out when it is back */
TEST(test_brain_away_keeps_healing)
{
	struct podspec ps = { .name = "w" };
	assign(&ps, 1, false);
	shim_running(ctr("w"));
	F->connected = false;
	int before = F->n_status;
	advance(20000);
	shim_exited(ctr("w"), 0, SIGKILL);
	ck_assert_int_eq(count("start uid-w-2"), 1); /* healed without the brain */
	ck_assert_int_eq(F->n_status, before);
	F->connected = true;
	core_flush(&F->a);
	ck_assert_int_gt(F->n_status, before);
	ck_assert_int_eq(F->last_restarts, 1);
	ck_assert_int_eq(events("ContainerDied"), 1);
}
END_TEST

TEST_SUITE(.setup = setup, .teardown = teardown);
