/* test_agent_status.c — what the agent tells the brain about a pod, from its
 * containers' states alone (core_pod_status, no I/O): the phase (Pending,
 * Running while any container runs or will run again, Succeeded/Failed when
 * all have ended), readiness (all containers ready), the Waiting reason of
 * a container in CrashLoopBackOff, per-container restart counts and names,
 * and a pod of more than 64 containers reported in full. Also the agent's
 * inotify service (watch.c): two watches on one directory, each with its
 * own events, one removed from within its own callback. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "../../agent/agent.h"
#include "cleanup.h"
#include "util.h"
#include "testlib.h"

#define MAXC 70

struct fixture {
	struct agent a;
	struct agent_pod pod;
	struct agent_container c[MAXC], *cs[MAXC];
	Skiff__Pod spec;
	Skiff__ObjectMeta meta;
	Skiff__PodSpec ps;
	Skiff__Container sc[MAXC], *scs[MAXC];
	char names[MAXC][16];
};

static void fixture_init(struct fixture *f, int n)
{
	memset(f, 0, sizeof(*f));
	skiff__pod__init(&f->spec);
	skiff__object_meta__init(&f->meta);
	skiff__pod_spec__init(&f->ps);
	f->meta.name = "web";
	f->spec.metadata = &f->meta;
	f->spec.spec = &f->ps;
	f->ps.containers = f->scs;
	f->ps.n_containers = (size_t)n;
	f->a.epoch = 3;
	f->pod.agent = &f->a;
	f->pod.name = "web";
	f->pod.uid = "u1";
	f->pod.spec = &f->spec;
	snprintf(f->pod.ip, sizeof(f->pod.ip), "10.244.0.9");
	f->pod.n_containers = n;
	f->pod.containers = f->cs;
	for (int i = 0; i < n; i++) {
		skiff__container__init(&f->sc[i]);
		snprintf(f->names[i], sizeof(f->names[i]), "c%d", i);
		f->sc[i].name = f->names[i];
		f->scs[i] = &f->sc[i];
		f->c[i].agent = &f->a;
		f->c[i].pod = &f->pod;
		f->c[i].ci = i;
		f->c[i].state = POD_NEW;
		f->cs[i] = &f->c[i];
	}
}

static void running(struct agent_container *c, bool ready)
{
	c->state = POD_RUNNING;
	c->ready = ready;
	c->first_start_ms = c->started_ms = 1000;
	c->pid = 42;
}

/* what the image gave the container: its digest and exposed ports, for
 * skiffctl describe */
TEST(test_image_id_and_exposed_ports)
{
	struct fixture f;
	fixture_init(&f, 1);
	char *ports[] = { "8080/tcp", "53/udp", NULL };
	f.c[0].image_id = "sha256:abc";
	f.c[0].exposed_ports = ports;
	running(&f.c[0], true);
	Skiff__PodStatus *st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->container_statuses[0]->image_id, "sha256:abc");
	ck_assert_uint_eq(st->container_statuses[0]->n_exposed_ports, 2);
	ck_assert_str_eq(st->container_statuses[0]->exposed_ports[1], "53/udp");
	core_status_free(st);
	/* a flat rootfs: none */
	f.c[0].image_id = NULL;
	f.c[0].exposed_ports = NULL;
	st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->container_statuses[0]->image_id, "");
	ck_assert_uint_eq(st->container_statuses[0]->n_exposed_ports, 0);
	core_status_free(st);
}
END_TEST

TEST(test_pending_then_running_and_ready)
{
	struct fixture f;
	fixture_init(&f, 2);
	Skiff__PodStatus *st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->phase, "Pending");
	ck_assert(!st->ready);
	ck_assert_str_eq(st->container_statuses[0]->state, "Waiting");
	ck_assert_str_eq(st->container_statuses[0]->reason, "ContainerCreating");
	ck_assert_str_eq(st->pod_ip, "10.244.0.9");
	ck_assert_int_eq(st->node_epoch, 3);
	core_status_free(st);

	/* one runs, ready: Running, but the pod is ready only when all are */
	running(&f.c[0], true);
	st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->phase, "Running");
	ck_assert(!st->ready);
	ck_assert_int_eq(st->container_statuses[0]->pid, 42);
	core_status_free(st);
	running(&f.c[1], false); /* its readiness probe has not passed yet */
	st = core_pod_status(&f.pod);
	ck_assert(!st->ready);
	ck_assert(st->container_statuses[0]->ready && !st->container_statuses[1]->ready);
	core_status_free(st);
	f.c[1].ready = true;
	st = core_pod_status(&f.pod);
	ck_assert(st->ready);
	ck_assert_str_eq(st->container_statuses[1]->name, "c1");
	core_status_free(st);
}
END_TEST

TEST(test_crash_loop_keeps_running_phase)
{
	struct fixture f;
	fixture_init(&f, 2);
	running(&f.c[0], true);
	running(&f.c[1], true);
	/* c1 crashed and waits for its backoff */
	f.c[1].state = POD_BACKOFF;
	f.c[1].restarts = 4;
	f.c[1].reason = "CrashLoopBackOff";
	f.c[1].message = "back-off 800 ms restarting container c1";
	f.c[1].last_reason = "Error";
	f.c[1].last_exit_code = 3;
	Skiff__PodStatus *st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->phase, "Running"); /* it will run again */
	ck_assert(!st->ready);
	ck_assert_str_eq(st->reason, "CrashLoopBackOff");
	ck_assert_str_eq(st->message, "back-off 800 ms restarting container c1");
	Skiff__ContainerStatus *cs = st->container_statuses[1];
	ck_assert_str_eq(cs->state, "Waiting");
	ck_assert_str_eq(cs->reason, "CrashLoopBackOff");
	ck_assert_int_eq(cs->restart_count, 4);
	ck_assert_str_eq(cs->last_reason, "Error");
	ck_assert_int_eq(cs->last_exit_code, 3);
	ck_assert_int_eq(st->container_statuses[0]->restart_count, 0);
	core_status_free(st);
	f.c[1].reason = f.c[1].message = f.c[1].last_reason = NULL;
}
END_TEST

TEST(test_done_phases)
{
	struct fixture f;
	fixture_init(&f, 2);
	for (int i = 0; i < 2; i++) {
		running(&f.c[i], true);
		f.c[i].state = POD_DONE;
	}
	Skiff__PodStatus *st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->phase, "Succeeded");
	ck_assert_str_eq(st->container_statuses[0]->state, "Terminated");
	core_status_free(st);
	f.c[1].exit_code = 1;
	st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->phase, "Failed");
	core_status_free(st);
	/* one still running: Running */
	f.c[0].state = POD_RUNNING;
	st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->phase, "Running");
	core_status_free(st);
	/* a container that never ran and will not (Never, setup failure) */
	fixture_init(&f, 1);
	f.c[0].state = POD_DONE;
	st = core_pod_status(&f.pod);
	ck_assert_str_eq(st->phase, "Failed");
	core_status_free(st);
}
END_TEST

/* more containers than the old agent's 64: none dropped */
TEST(test_many_containers)
{
	struct fixture *f = xmalloc(sizeof(*f));
	fixture_init(f, MAXC);
	for (int i = 0; i < MAXC; i++)
		running(&f->c[i], true);
	Skiff__PodStatus *st = core_pod_status(&f->pod);
	ck_assert_int_eq(st->n_container_statuses, MAXC);
	ck_assert_str_eq(st->container_statuses[MAXC - 1]->name, "c69");
	ck_assert(st->ready);
	core_status_free(st);
	/* a container already stopped and freed is left out, not misplaced */
	f->cs[5] = NULL;
	st = core_pod_status(&f->pod);
	ck_assert_int_eq(st->n_container_statuses, MAXC - 1);
	ck_assert_str_eq(st->container_statuses[5]->name, "c6");
	core_status_free(st);
	free(f);
}
END_TEST

/* ---- watch.c ---- */

struct seen {
	struct agent *a;
	struct agent_watch **self;
	int n;
	char last[64];
	bool remove_self;
};

static void on_event(void *arg, uint32_t mask, const char *name)
{
	struct seen *s = arg;
	(void)mask;
	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", name);
	if (s->remove_self) {
		watch_remove(s->a, *s->self);
		*s->self = NULL;
	}
}

static void touch(const char *dir, const char *name, bool rename_in)
{
	_cleanup_free_ char *tmp = xasprintf("%s/.tmp", dir);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	int fd = open(rename_in ? tmp : path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	if (rename_in)
		ck_assert_int_eq(rename(tmp, path), 0);
}

TEST(test_watch_shared_dir)
{
	char dir[] = "/tmp/skiff-test-watch-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct agent a = { 0 };
	a.base = event_base_new();
	a.inotify_fd = -1;
	struct agent_watch *wl = NULL, *we = NULL;
	struct seen logs = { &a, &wl, 0, "", false }, exits = { &a, &we, 0, "", true };
	wl = watch_add(&a, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO, on_event, &logs);
	we = watch_add(&a, dir, IN_MOVED_TO, on_event, &exits);
	ck_assert(wl && we);

	/* a write: the log watch only (the other one's mask has no IN_MODIFY) */
	touch(dir, "log", false);
	event_base_loop(a.base, EVLOOP_NONBLOCK);
	ck_assert_int_ge(logs.n, 1);
	ck_assert_int_eq(exits.n, 0);

	/* a record renamed into place: both; the exit watch removes itself */
	int before = logs.n;
	touch(dir, "state", true);
	event_base_loop(a.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(exits.n, 1);
	ck_assert_str_eq(exits.last, "state");
	ck_assert_ptr_null(we);
	ck_assert_int_gt(logs.n, before);

	/* the other watch on the directory still works; the removed one is quiet */
	before = logs.n;
	touch(dir, "state", true);
	touch(dir, "log", false);
	event_base_loop(a.base, EVLOOP_NONBLOCK);
	ck_assert_int_gt(logs.n, before);
	ck_assert_int_eq(exits.n, 1);

	watch_remove(&a, wl);
	ck_assert_ptr_null(a.watches);
	/* a directory that is not there */
	ck_assert_ptr_null(watch_add(&a, "/nonexistent/skiff", IN_MODIFY, on_event, &logs));
	event_free(a.ev_inotify);
	close(a.inotify_fd);
	event_base_free(a.base);
	skiff_rm_rf(dir);
}
END_TEST
