/* core.c — the pod state machine, without I/O. It decides; pods.c (and a
 * unit test's fakes) act and observe:
 *
 *   inputs   core_apply_assignment, core_start_done, core_exited,
 *            core_exited_early / core_exit_recorded (the fast restart path),
 *            core_probe_check, core_adopt_running / core_adopt_exited,
 *            core_tick (the clock: backoff, grace, hold and exit-record
 *            deadlines, then the status flush)
 *   outputs  a->actions (start an attempt, signal it, delete an old one,
 *            probes, the pod's files and sandbox), a->uplink (statuses and
 *            Events to the brain), a->clock->wake_at (when to tick next)
 *
 * Each container of a pod runs
 *
 *   NEW -> STARTING (the shim is being started) -> RUNNING
 *   RUNNING -> exit -> restart now, or BACKOFF (restart.c), or DONE
 *   any -> STOPPING (not assigned any more: SIGTERM, SIGKILL after the
 *          grace period) -> freed; the pod's sandbox goes with its last one
 *
 * and, from the agent's start until the brain's first Assignment (the
 * fence of a returning node), no container is started or restarted: what
 * the Assignment lists starts, the rest is stopped without having run again.
 * Each attempt has its own container id "<uid>-<attempt>" (for container
 * ci > 0 "<uid>-c<ci>-<attempt>") so the previous attempt's log stays
 * readable.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static void container_start(struct agent_container *c);
static void container_stop(struct agent_container *c);
static void stop_finish(struct agent_container *c);

/* ---- small helpers ------------------------------------------------------ */

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

static int64_t now_ms(struct agent *a)
{
	return a->clock->now_ms(a);
}

static void wake(struct agent *a, int64_t at_ms)
{
	a->clock->wake_at(a, at_ms);
}

static const char *restart_policy(const struct agent_container *c)
{
	const char *rp = c->pod->spec->spec->restart_policy;
	return rp && rp[0] ? rp : "Always";
}

static Skiff__Container *spec_of(const struct agent_container *c)
{
	return c->pod->spec->spec->containers[c->ci];
}

const char *core_container_name(const struct agent_container *c)
{
	const Skiff__Container *sc = spec_of(c);
	return sc->name && sc->name[0] ? sc->name : c->pod->name;
}

void core_container_id(const struct agent_container *c, int attempt, char *buf, size_t len)
{
	char uid[80];
	size_t n = 0;
	for (const char *s = c->pod->uid; *s && n < 48; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-')
			uid[n++] = *s;
	uid[n] = 0;
	if (c->ci)
		snprintf(buf, len, "%s-c%d-%d", uid, c->ci, attempt);
	else
		snprintf(buf, len, "%s-%d", uid, attempt);
}

struct agent_pod *core_find_pod(struct agent *a, const char *ns, const char *name)
{
	if (!ns || !*ns)
		ns = "default";
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next)
		if (streq(pod->name, name) && streq(pod->ns, ns))
			return pod;
	return NULL;
}

static struct agent_pod *find_uid(struct agent *a, const char *uid)
{
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next)
		if (streq(pod->uid, uid))
			return pod;
	return NULL;
}

struct agent_container *core_container(struct agent_pod *pod, const char *name)
{
	for (int ci = 0; ci < pod->n_containers; ci++) {
		struct agent_container *c = pod->containers[ci];
		if (!c)
			continue;
		if (!name || !name[0])
			return ci == 0 ? c : NULL;
		if (streq(core_container_name(c), name))
			return c;
	}
	return NULL;
}

/* A frame the brain's validator would never have let through (lib/validate.c
 * guarantees the rest): refused with a message naming the pod, so that a
 * malformed or foreign Assignment cannot crash the node. */
static const char *malformed(const Skiff__Pod *p)
{
	if (!p->metadata || !p->metadata->name || !p->metadata->name[0])
		return "a pod without a name";
	if (!p->spec || p->spec->n_containers == 0)
		return "no containers";
	for (size_t i = 0; i < p->spec->n_containers; i++)
		if (!p->spec->containers[i] || !p->spec->containers[i]->image)
			return "a container without an image";
	return NULL;
}

struct agent_pod *core_pod_new(struct agent *a, Skiff__Pod *spec)
{
	const char *bad = malformed(spec);
	if (bad) {
		log_error("pod %s: refused, the spec has %s (not from a validating brain?)",
			  spec->metadata && spec->metadata->name ? spec->metadata->name : "?", bad);
		skiff__pod__free_unpacked(spec, NULL);
		return NULL;
	}
	struct agent_pod *pod = xcalloc(1, sizeof(*pod));
	pod->agent = a;
	pod->spec = spec;
	pod->uid = xstrdup(spec->metadata->uid[0] ? spec->metadata->uid : spec->metadata->name);
	pod->name = xstrdup(spec->metadata->name);
	pod->ns = xstrdup(spec->metadata->namespace_ && *spec->metadata->namespace_
			      ? spec->metadata->namespace_
			      : "default");
	pod->n_containers = (int)spec->spec->n_containers;
	pod->containers = xcalloc((size_t)pod->n_containers, sizeof(*pod->containers));
	pod->next = a->pods;
	a->pods = pod;
	/* in reverse, so that a->containers lists them in spec order */
	for (int ci = pod->n_containers - 1; ci >= 0; ci--) {
		struct agent_container *c = xcalloc(1, sizeof(*c));
		c->ci = ci;
		c->agent = a;
		c->pod = pod;
		c->shim_pidfd = -EBADF;
		c->ctr_pidfd = -EBADF;
		c->old_shim_pidfd = -EBADF;
		c->state = POD_NEW;
		c->next = a->containers;
		a->containers = c;
		pod->containers[ci] = c;
	}
	return pod;
}

static void pod_free(struct agent_pod *pod)
{
	struct agent *a = pod->agent;
	for (struct agent_pod **pp = &a->pods; *pp; pp = &(*pp)->next)
		if (*pp == pod) {
			*pp = pod->next;
			break;
		}
	skiff__pod__free_unpacked(pod->spec, NULL);
	disk_pod_free(pod); /* memory only: the file system goes with pod_removed */
	free(pod->containers);
	free(pod->uid);
	free(pod->name);
	free(pod->ns);
	free(pod);
}

/* Free one container; true when it was the pod's last (the pod is freed). */
static bool container_free(struct agent_container *c)
{
	struct agent *a = c->agent;
	struct agent_pod *pod = c->pod;
	for (struct agent_container **pp = &a->containers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	a->actions->release(c);
	if (c->start_inflight)
		a->starting--;
	free(c->reason);
	free(c->message);
	free(c->last_reason);
	free(c->last_failure);
	free(c->evicted);
	free(c->image_id);
	skiff_strv_free(c->exposed_ports);
	pod->containers[c->ci] = NULL;
	free(c);
	for (int ci = 0; ci < pod->n_containers; ci++)
		if (pod->containers[ci])
			return false;
	pod_free(pod);
	return true;
}

/* The oldest queued Event: sent, or dropped for a newer one. */
static void event_drop_first(struct agent *a)
{
	struct queued_event *e = a->events;
	a->events = e->next;
	if (!a->events)
		a->events_tail = &a->events;
	a->n_events--;
	free(e->data);
	free(e);
}

void core_free_all(struct agent *a)
{
	while (a->containers)
		container_free(a->containers);
	if (a->assignment)
		skiff__assignment__free_unpacked(a->assignment, NULL);
	a->assignment = NULL;
	while (a->events)
		event_drop_first(a);
}

/* ---- status and events -------------------------------------------------- */

static const char *phase_of(const struct agent_container *c)
{
	switch (c->state) {
	case POD_RUNNING:
	case POD_STOPPING:
		return "Running";
	case POD_NEW:
	case POD_STARTING:
	case POD_BACKOFF:
		return c->first_start_ms ? "Running" : "Pending";
	case POD_DONE:
		if (!c->first_start_ms || c->evicted)
			return "Failed";
		return c->exit_code == 0 && c->signal == 0 ? "Succeeded" : "Failed";
	}
	return "Unknown";
}

static Skiff__ContainerStatus *container_status(const struct agent_container *c)
{
	Skiff__ContainerStatus *cs = xmalloc(sizeof(*cs));
	skiff__container_status__init(cs);
	cs->name = xstrdup(core_container_name(c));
	cs->restart_count = c->restarts;
	cs->ready = c->state == POD_RUNNING && c->ready;
	cs->pid = c->state == POD_RUNNING ? c->pid : 0;
	cs->started_ms = c->started_ms;
	cs->last_exit_code = c->last_exit_code;
	cs->last_reason = xstrdup(c->last_reason ? c->last_reason : "");
	cs->last_finished_ms = c->last_finished_ms;
	cs->image_id = xstrdup(c->image_id ? c->image_id : "");
	for (char **e = c->exposed_ports; e && *e; e++)
		cs->n_exposed_ports++;
	cs->exposed_ports = c->exposed_ports; /* borrowed until core_status_free */
	switch (c->state) {
	case POD_RUNNING:
	case POD_STOPPING:
		cs->state = xstrdup("Running");
		cs->reason = xstrdup("");
		cs->message = xstrdup("");
		break;
	case POD_DONE:
		cs->state = xstrdup("Terminated");
		cs->reason = xstrdup(c->reason ? c->reason : "");
		cs->message = xstrdup(c->message ? c->message : "");
		cs->exit_code = c->exit_code;
		cs->signal = c->signal;
		cs->finished_ms = c->finished_ms;
		break;
	default:
		cs->state = xstrdup("Waiting");
		cs->reason = xstrdup(c->state == POD_STARTING || !c->reason ? "ContainerCreating"
									    : c->reason);
		cs->message = xstrdup(c->message ? c->message : "");
		break;
	}
	return cs;
}

/* The pod-level reason and message one container gives ("" when none). */
static void container_reason(const struct agent_container *c, const char **reason,
			     const char **message)
{
	bool waiting = c->state != POD_RUNNING && c->state != POD_DONE && c->state != POD_STOPPING;
	*reason = waiting && c->reason && c->state != POD_STARTING ? c->reason : "";
	*message = waiting && c->message ? c->message : "";
	if (c->state == POD_DONE && c->reason) {
		*reason = c->reason;
		*message = c->message ? c->message : "";
	}
}

/* The pod's status: one ContainerStatus per container, in spec order; the
 * pod is Running while any container runs (or will run again), done when
 * all are, Failed if one of them failed; ready when all are ready. */
Skiff__PodStatus *core_pod_status(struct agent_pod *pod)
{
	struct agent *a = pod->agent;
	Skiff__PodStatus *st = xmalloc(sizeof(*st));
	skiff__pod_status__init(st);
	_cleanup_free_ struct agent_container **units =
	    xcalloc((size_t)pod->n_containers + 1, sizeof(*units));
	int n = 0;
	for (int ci = 0; ci < pod->n_containers; ci++)
		if (pod->containers[ci])
			units[n++] = pod->containers[ci];
	const char *phase, *reason = "", *message = "";
	bool ready = n > 0, running = false, all_done = true, pending = true;
	int64_t first = 0;
	for (int i = 0; i < n; i++) {
		struct agent_container *u = units[i];
		const char *ph = phase_of(u);
		ready = ready && u->state == POD_RUNNING && u->ready;
		running = running || streq(ph, "Running");
		all_done = all_done && u->state == POD_DONE;
		pending = pending && streq(ph, "Pending");
		if (u->first_start_ms && (!first || u->first_start_ms < first))
			first = u->first_start_ms;
		const char *r, *m;
		container_reason(u, &r, &m);
		if (!reason[0] && r[0]) {
			reason = r;
			message = m;
		}
	}
	if (n == 1)
		phase = phase_of(units[0]);
	else if (all_done) {
		phase = "Succeeded";
		for (int i = 0; i < n; i++)
			if (streq(phase_of(units[i]), "Failed"))
				phase = "Failed";
	} else if (running || !pending)
		phase = "Running";
	else
		phase = "Pending";

	st->phase = xstrdup(phase);
	st->pod_ip = xstrdup(pod->ip);
	st->host_ip = xstrdup(a->cfg.address ? a->cfg.address : "");
	st->start_ms = first;
	st->node_epoch = a->epoch;
	st->ready = ready;
	st->reason = xstrdup(reason);
	st->message = xstrdup(message);
	st->n_container_statuses = (size_t)n;
	st->container_statuses = xmalloc((n ? (size_t)n : 1) * sizeof(*st->container_statuses));
	for (int i = 0; i < n; i++)
		st->container_statuses[i] = container_status(units[i]);
	return st;
}

void core_status_free(Skiff__PodStatus *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_container_statuses; i++) {
		Skiff__ContainerStatus *cs = st->container_statuses[i];
		free(cs->name);
		free(cs->state);
		free(cs->reason);
		free(cs->message);
		free(cs->last_reason);
		free(cs->image_id);
		free(cs);
	}
	free(st->container_statuses);
	free(st->phase);
	free(st->reason);
	free(st->message);
	free(st->pod_ip);
	free(st->host_ip);
	free(st);
}

/* Every dirty pod's status, then the queued Events, as far as the uplink
 * takes them (a status held for its exit record waits). */
void core_flush(struct agent *a)
{
	for (struct agent_container *c = a->containers; c; c = c->next) {
		if (!c->status_dirty || c->exit_pending)
			continue;
		if (c->state != POD_STOPPING)
			a->actions->save_run(c);
		if (a->uplink->send_status(a, c->pod)) {
			c->status_dirty = false;
			/* the status is the whole pod's: its other containers too */
			for (int ci = 0; ci < c->pod->n_containers; ci++) {
				struct agent_container *q = c->pod->containers[ci];
				if (q && q != c && !q->exit_pending) {
					if (q->status_dirty && q->state != POD_STOPPING)
						a->actions->save_run(q);
					q->status_dirty = false;
				}
			}
		}
	}
	while (a->events && a->uplink->connected(a) &&
	       a->uplink->send_event(a, a->events->data, a->events->len))
		event_drop_first(a);
}

void core_mark_dirty(struct agent_container *c)
{
	c->status_dirty = true;
	wake(c->agent, now_ms(c->agent)); /* flushed on the next tick: one per loop turn */
}

void core_report_event(struct agent *a, struct agent_pod *pod, const char *type, const char *reason,
		       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return;

	if (streq(type, "Warning"))
		log_warn("pod %s: %s: %s", pod->name, reason, msg);
	else
		log_info("pod %s: %s: %s", pod->name, reason, msg);

	Skiff__Event ev = SKIFF__EVENT__INIT;
	Skiff__ObjectMeta meta = SKIFF__OBJECT_META__INIT;
	char name[256];
	uint8_t rnd[4];
	char hex[9];
	skiff_random_bytes(rnd, sizeof(rnd));
	skiff_hex(rnd, sizeof(rnd), hex);
	snprintf(name, sizeof(name), "%s.%s", pod->name, hex);
	meta.name = name;
	meta.namespace_ = pod->ns; /* a pod's event lives in its namespace */
	meta.created_ms = now_ms(a);
	ev.metadata = &meta;
	ev.object_kind = "pod";
	ev.object_name = pod->name;
	ev.type = (char *)type;
	ev.reason = (char *)reason;
	ev.message = msg;
	ev.count = 1;
	ev.first_ms = ev.last_ms = meta.created_ms;
	ev.source = a->cfg.name;

	size_t len = skiff__event__get_packed_size(&ev);
	uint8_t *buf = xmalloc(len);
	skiff__event__pack(&ev, buf);
	if (!a->events && a->uplink->send_event(a, buf, len)) {
		free(buf);
		return;
	}
	if (a->n_events >= AGENT_MAX_QUEUED_EVENTS)
		event_drop_first(a);
	struct queued_event *q = xcalloc(1, sizeof(*q));
	q->data = buf;
	q->len = len;
	*a->events_tail = q;
	a->events_tail = &q->next;
	a->n_events++;
}

/* ---- restarts ----------------------------------------------------------- */

/* The next start, now or after the backoff (restart.c); count_restart:
 * the container ran (a failure before it runs is retried, not counted). */
static void schedule_restart(struct agent_container *c, bool count_restart)
{
	int64_t ran = count_restart && c->started_ms ? c->finished_ms - c->started_ms : -1;
	int64_t delay = restart_backoff_next(&c->next_backoff_ms, ran);
	if (count_restart)
		c->restarts++;
	if (delay == 0) {
		container_start(c);
		return;
	}
	c->state = POD_BACKOFF;
	if (!c->reason || count_restart)
		set_str(&c->reason, "CrashLoopBackOff");
	_cleanup_free_ char *m =
	    xasprintf("back-off %" PRId64 " ms restarting container %s%s%s", delay,
		      core_container_name(c), c->message && !count_restart ? ": " : "",
		      c->message && !count_restart ? c->message : "");
	set_str(&c->message, m);
	c->backoff_at_ms = now_ms(c->agent) + delay;
	wake(c->agent, c->backoff_at_ms);
	core_mark_dirty(c);
}

/* The container cannot be started now (image, volume, command, limits):
 * say why and retry with backoff — an image copied in later makes it start. */
static void setup_failed(struct agent_container *c, const char *reason, const char *message,
			 bool retry)
{
	set_str(&c->reason, reason);
	set_str(&c->message, message);
	/* one Event per distinct failure, not one per retry */
	if (message && !streq_ptr(c->last_failure, message)) {
		core_report_event(c->agent, c->pod, "Warning", "Failed", "%s", message);
		set_str(&c->last_failure, message);
	}
	if (retry && !streq(restart_policy(c), "Never")) {
		schedule_restart(c, false);
	} else {
		c->state = POD_DONE;
		c->exit_code = 0;
		c->signal = 0;
		core_mark_dirty(c);
	}
}

/* Record an exit in the container's last state and tell the brain (status,
 * Event). */
static void report_exit(struct agent_container *c, const struct shim_state *st, bool restarting,
			bool unhealthy)
{
	struct agent *a = c->agent;
	bool failed = st->exit_code != 0 || st->signal != 0 || st->oom;
	const char *reason = st->oom	     ? "OOMKilled"
			     : st->reason[0] ? st->reason
			     : st->signal    ? "Signaled"
			     : st->exit_code ? "Error"
					     : "Completed";
	_cleanup_free_ char *how = st->signal ? xasprintf("killed by signal %d", st->signal)
					      : xasprintf("exited with code %d", st->exit_code);
	set_str(&c->last_reason, reason);
	c->last_exit_code = st->signal ? 128 + st->signal : st->exit_code;
	c->last_finished_ms = st->finished_ms ? st->finished_ms : now_ms(a);
	if (unhealthy)
		core_report_event(a, c->pod, "Warning", "Killing",
				  "container %s failed its liveness probe and was killed",
				  core_container_name(c));
	core_report_event(a, c->pod, failed ? "Warning" : "Normal",
			  st->oom ? "OOMKilled" : (failed ? "ContainerDied" : "Completed"),
			  "container %s (pid %d) %s (%s)%s", core_container_name(c), st->pid, how,
			  reason, restarting ? ", restarting" : "");
	if (!restarting) {
		set_str(&c->reason, reason);
		_cleanup_free_ char *m = xasprintf("container %s %s", core_container_name(c), how);
		set_str(&c->message, m);
	}
	core_mark_dirty(c);
}

/* An evicted container ends for good (core_evict). */
static void evicted_done(struct agent_container *c)
{
	c->queued = 0;
	c->backoff_at_ms = 0;
	c->state = POD_DONE;
	set_str(&c->reason, "Evicted");
	set_str(&c->message, c->evicted);
	c->agent->actions->save_run(c);
	core_mark_dirty(c);
}

static void handle_exit(struct agent_container *c, const struct shim_state *st)
{
	struct agent *a = c->agent;
	a->actions->probes(c, false);
	a->actions->unwatch(c);
	c->ready = false;
	c->exit_code = st->exit_code;
	c->signal = st->signal;
	c->finished_ms = st->finished_ms ? st->finished_ms : now_ms(a);

	if (c->state == POD_STOPPING) {
		stop_finish(c);
		return;
	}
	if (c->evicted) {
		report_exit(c, st, false, false);
		evicted_done(c);
		return;
	}
	bool failed = st->exit_code != 0 || st->signal != 0 || st->oom;
	bool restart = restart_policy_restarts(restart_policy(c), failed);
	report_exit(c, st, restart, c->unhealthy_kill);
	if (restart) {
		set_str(&c->reason, c->last_reason);
		set_str(&c->message, NULL);
		schedule_restart(c, true);
	} else {
		c->state = POD_DONE;
		core_mark_dirty(c);
	}
}

/* ---- starting ----------------------------------------------------------- */

static void container_start(struct agent_container *c)
{
	struct agent *a = c->agent;

	c->backoff_at_ms = 0;
	if (c->evicted) { /* an evicted pod never runs again */
		evicted_done(c);
		return;
	}
	if (a->hold) {
		/* the brain may have moved this pod away while the node was gone */
		if (!c->held)
			log_info("pod %s: start held until the brain's first assignment",
				 c->pod->name);
		c->held = true;
		if (c->state != POD_BACKOFF)
			c->state = POD_NEW;
		return;
	}
	if (a->starting >= a->max_starting) {
		if (!c->queued)
			c->queued = ++a->queue_seq;
		if (c->state != POD_BACKOFF)
			c->state = POD_NEW;
		return;
	}
	c->queued = 0;

	char id[192];
	core_container_id(c, c->attempt + 1, id, sizeof(id));
	struct core_failure f = { .reason = "" };
	int r = a->actions->start(c, id, &f);
	if (r < 0) {
		if (!f.message)
			f.message = xasprintf("RunContainerError: cannot start container %s: %s",
					      core_container_name(c), strerror(-r));
		setup_failed(c, f.reason[0] ? f.reason : "RunContainerError", f.message, f.retry);
		free(f.message);
		return;
	}
	a->starting++;
	c->start_inflight = true;
	c->attempt++;
	copy_str(c->container_id, sizeof(c->container_id), id);
	c->state = POD_STARTING;
	c->unhealthy_kill = false;
	a->actions->save_run(c);
	core_mark_dirty(c);
}

void core_start(struct agent_container *c)
{
	container_start(c);
}

/* A start slot is free: the longest-waiting container gets it. */
static void start_next(struct agent *a)
{
	while (a->starting < a->max_starting) {
		struct agent_container *next = NULL;
		for (struct agent_container *q = a->containers; q; q = q->next)
			if (q->queued && (!next || q->queued < next->queued))
				next = q;
		if (!next)
			return;
		next->queued = 0;
		if (next->state == POD_STOPPING) {
			stop_finish(next);
			continue;
		}
		container_start(next);
	}
}

static const char *reason_for_runtime_exit(int code)
{
	switch (code) {
	case 126:
		return "ContainerCannotRun";
	case 127:
		return "CommandNotFound";
	default:
		return "RunContainerError";
	}
}

static bool has_probe(const Skiff__Probe *p)
{
	return p && (p->exec || p->tcp_socket || p->http_get);
}

static void became_running(struct agent_container *c, pid_t pid, int64_t started_ms)
{
	struct agent *a = c->agent;
	c->pid = pid;
	c->started_ms = started_ms ? started_ms : now_ms(a);
	if (!c->first_start_ms)
		c->first_start_ms = c->started_ms;
	c->state = POD_RUNNING;
	/* without a readiness probe a container is ready once running */
	c->ready = !has_probe(spec_of(c)->readiness_probe);
	memset(c->probe_ok, 0, sizeof(c->probe_ok));
	memset(c->probe_fail, 0, sizeof(c->probe_fail));
	a->actions->probes(c, true);
	core_mark_dirty(c);
}

static void start_done(struct agent_container *c, int code, const char *line,
		       const struct shim_state *st)
{
	struct agent *a = c->agent;
	if (code != 0) {
		if (c->state == POD_STOPPING) {
			a->actions->delete_attempt(a, c->container_id);
			stop_finish(c);
			return;
		}
		const char *reason = reason_for_runtime_exit(code);
		_cleanup_free_ char *m = xasprintf(
		    "%s: %s", reason, line && line[0] ? line : "skiff-runtime shim failed");
		c->exit_code = code;
		set_str(&c->last_reason, reason);
		c->last_exit_code = code;
		c->last_finished_ms = now_ms(a);
		a->actions->delete_attempt(a, c->container_id);
		setup_failed(c, reason, m, true);
		return;
	}
	/* The attempt before the previous one is no longer needed (the previous
	 * one is kept for `logs --previous`); deleted only now so that its
	 * removal does not compete with the start for the CPU. */
	if (c->attempt >= 3) {
		char old[192];
		core_container_id(c, c->attempt - 2, old, sizeof(old));
		a->actions->delete_attempt(a, old);
	}
	if (!streq(st->status, "running")) { /* exited already */
		c->pid = st->pid;
		c->started_ms = st->started_ms;
		if (!c->first_start_ms)
			c->first_start_ms = st->started_ms ? st->started_ms : now_ms(a);
		handle_exit(c, st);
		return;
	}
	if (c->state == POD_STOPPING) {
		c->pid = st->pid;
		a->actions->signal(c, SIGKILL); /* the exit finishes the stop */
		return;
	}
	became_running(c, st->pid, st->started_ms);
	if (c->evicted) {
		a->actions->signal(c, SIGKILL); /* its exit ends it */
		return;
	}
	set_str(&c->reason, NULL);
	set_str(&c->message, NULL);
	set_str(&c->last_failure, NULL);
	log_info("pod %s: container %s running, pid %d (attempt %d, restarts %d)", c->pod->name,
		 c->container_id, c->pid, c->attempt, c->restarts);
	a->actions->running(c);
}

void core_start_done(struct agent_container *c, int code, const char *line,
		     const struct shim_state *st)
{
	struct agent *a = c->agent;
	if (c->start_inflight) {
		c->start_inflight = false;
		a->starting--;
	}
	start_done(c, code, line, st);
	start_next(a);
}

void core_start_unreadable(struct agent_container *c, int err)
{
	struct agent *a = c->agent;
	if (c->start_inflight) {
		c->start_inflight = false;
		a->starting--;
	}
	if (c->state == POD_STOPPING) {
		stop_finish(c);
	} else {
		_cleanup_free_ char *m = xasprintf("RunContainerError: container %s started but "
						   "its state is unreadable: %s",
						   c->container_id, strerror(-err));
		setup_failed(c, "RunContainerError", m, true);
	}
	start_next(a);
}

/* ---- exits -------------------------------------------------------------- */

void core_exited(struct agent_container *c, const struct shim_state *st)
{
	handle_exit(c, st);
}

bool core_restarts_early(const struct agent_container *c)
{
	return c->state == POD_RUNNING && streq(restart_policy(c), "Always") && !c->exit_pending &&
	       !c->evicted;
}

/* With restartPolicy Always the outcome does not matter for the decision,
 * so the replacement starts at once; the exit's details follow in
 * core_exit_recorded (at most a second later: the status waits for them, so
 * the brain never sees a restart without its reason). */
void core_exited_early(struct agent_container *c)
{
	struct agent *a = c->agent;
	a->actions->probes(c, false);
	c->old_unhealthy = c->unhealthy_kill;
	c->ready = false;
	c->finished_ms = now_ms(a);
	set_str(&c->reason, "Exited");
	set_str(&c->message, NULL);
	c->exit_pending = true;
	c->pending_until_ms = c->finished_ms + 1000;
	wake(a, c->pending_until_ms);
	schedule_restart(c, true);
}

/* Also after the 1 s wait has given up: the details are late, not lost. */
void core_exit_recorded(struct agent_container *c, const struct shim_state *st)
{
	c->exit_pending = false;
	c->pending_until_ms = 0;
	report_exit(c, st, true, c->old_unhealthy);
}

void core_evict(struct agent_pod *pod, const char *why)
{
	struct agent *a = pod->agent;
	log_warn("pod %s: evicted: %s", pod->name, why);
	core_report_event(a, pod, "Warning", "Evicted", "%s", why);
	for (int ci = 0; ci < pod->n_containers; ci++) {
		struct agent_container *c = pod->containers[ci];
		if (!c || c->evicted)
			continue;
		c->evicted = xstrdup(why);
		switch (c->state) {
		case POD_RUNNING:
			a->actions->signal(c, SIGKILL); /* handle_exit ends it */
			break;
		case POD_NEW:
		case POD_BACKOFF:
			evicted_done(c);
			break;
		default: /* STARTING: start_done kills it; DONE, STOPPING: ending anyway */
			break;
		}
	}
}

/* ---- probes ------------------------------------------------------------- */

static int cfg_or(int v, int def)
{
	return v > 0 ? v : def;
}

void core_probe_check(struct agent_container *c, bool liveness, bool ok, const char *why)
{
	struct agent *a = c->agent;
	if (c->state != POD_RUNNING)
		return;
	const Skiff__Container *sc = spec_of(c);
	const Skiff__Probe *cfg = liveness ? sc->liveness_probe : sc->readiness_probe;
	int k = liveness ? 0 : 1;
	if (!has_probe(cfg))
		return;
	if (ok) {
		c->probe_fail[k] = 0;
		if (++c->probe_ok[k] < cfg_or(cfg->success_threshold, 1))
			return;
	} else {
		c->probe_ok[k] = 0;
		log_debug("pod %s: %s probe failed (%d): %s", c->pod->name,
			  liveness ? "liveness" : "readiness", c->probe_fail[k] + 1, why);
		if (++c->probe_fail[k] < cfg_or(cfg->failure_threshold, 3))
			return;
	}
	if (liveness) {
		if (!ok) {
			c->probe_fail[k] = 0;
			core_report_event(a, c->pod, "Warning", "Unhealthy",
					  "liveness probe failed: %s", why);
			c->unhealthy_kill = true;
			a->actions->signal(c, SIGKILL); /* the exit restarts it */
		}
		return;
	}
	if (ok != c->ready) {
		c->ready = ok;
		if (!ok)
			core_report_event(a, c->pod, "Warning", "Unhealthy",
					  "readiness probe failed: %s", why);
		core_mark_dirty(c);
	}
}

/* ---- stopping ----------------------------------------------------------- */

static void container_stop(struct agent_container *c)
{
	struct agent *a = c->agent;
	if (c->state == POD_STOPPING)
		return;
	log_info("pod %s: stopping container %s (no longer assigned to %s)", c->pod->name,
		 core_container_name(c), a->cfg.name);
	c->backoff_at_ms = 0;
	enum pod_state was = c->state;
	c->state = POD_STOPPING;
	a->actions->probes(c, false);
	if (was == POD_STARTING)
		return; /* core_start_done continues */
	if (was == POD_RUNNING) {
		int64_t grace = c->pod->spec->spec->termination_grace_ms;
		if (grace <= 0)
			grace = 10000;
		a->actions->signal(c, SIGTERM);
		c->kill_at_ms = now_ms(a) + grace;
		wake(a, c->kill_at_ms);
		return; /* the exit continues */
	}
	stop_finish(c);
}

/* Nothing of the container runs any more: remove every trace of it, and of
 * the pod with its last container. */
static void stop_finish(struct agent_container *c)
{
	struct agent *a = c->agent;
	c->kill_at_ms = 0;
	for (int i = c->attempt; i >= 1 && i >= c->attempt - 2; i--) {
		char id[192];
		core_container_id(c, i, id, sizeof(id));
		a->actions->delete_attempt(a, id);
	}
	struct agent_pod *pod = c->pod;
	bool last = true;
	for (int ci = 0; ci < pod->n_containers; ci++)
		last = last && (!pod->containers[ci] || pod->containers[ci] == c);
	if (!last) { /* the pod's other containers remove the pod */
		container_free(c);
		return;
	}
	a->actions->pod_removed(pod); /* the sandbox's teardown runs off the loop */
	log_info("pod %s: removed", pod->name);
	a->uplink->send_stopped(a, pod);
	container_free(c); /* and the pod */
	/* a pod that waited for its predecessor of the same name can start */
	a->reconcile_due = true;
	wake(a, now_ms(a));
}

/* ---- the start hold and the Assignment ---------------------------------- */

/* Start what waited for the hold to end (pods still wanted). */
static void start_held(struct agent *a)
{
	for (struct agent_container *c = a->containers; c; c = c->next)
		if (c->held) {
			c->held = false;
			if (c->state == POD_NEW || c->state == POD_BACKOFF)
				container_start(c);
		}
}

void core_hold_start(struct agent *a)
{
	if (a->cfg.brain_wait_ms <= 0)
		return;
	a->hold = true;
	a->hold_rounds = 0;
	a->hold_until_ms = now_ms(a) + a->cfg.brain_wait_ms;
	wake(a, a->hold_until_ms);
}

void core_hold_release(struct agent *a, const char *why)
{
	if (!a->hold)
		return;
	a->hold = false;
	a->hold_until_ms = 0;
	bool any = false;
	for (struct agent_container *c = a->containers; c; c = c->next)
		any = any || c->held;
	if (why && any)
		log_warn("%s within %d ms of the start: healing containers locally", why,
			 a->cfg.brain_wait_ms * (a->hold_rounds + 1));
	start_held(a);
}

static void hold_expired(struct agent *a, int64_t now)
{
	/* connected: the assignment follows REGISTER's reply; wait a little more */
	if (a->uplink->talking(a) && ++a->hold_rounds < 3) {
		a->hold_until_ms = now + a->cfg.brain_wait_ms;
		return;
	}
	core_hold_release(a, "no assignment from the brain");
}

static Skiff__Pod *pod_copy(const Skiff__Pod *src)
{
	size_t len = skiff__pod__get_packed_size(src);
	_cleanup_free_ uint8_t *buf = xmalloc(len);
	skiff__pod__pack(src, buf);
	return skiff__pod__unpack(NULL, len, buf);
}

static void reconcile(struct agent *a)
{
	Skiff__Assignment *as = a->assignment;
	for (struct agent_container *c = a->containers; c; c = c->next)
		c->desired = false;
	if (!as->fenced) {
		for (size_t i = 0; i < as->n_pods; i++) {
			Skiff__Pod *want = as->pods[i];
			if (!want->metadata || !want->spec || !want->metadata->name[0])
				continue;
			if (want->metadata->deleted_ms)
				continue; /* being deleted: stop it */
			const char *uid =
			    want->metadata->uid[0] ? want->metadata->uid : want->metadata->name;
			struct agent_pod *pod = find_uid(a, uid);
			if (pod) {
				for (int ci = 0; ci < pod->n_containers; ci++) {
					struct agent_container *q = pod->containers[ci];
					if (q && q->state != POD_STOPPING)
						q->desired = true;
				}
				continue;
			}
			if (core_find_pod(a, want->metadata->namespace_, want->metadata->name))
				continue; /* same name, new uid: wait until the old one is gone */
			Skiff__Pod *copy = pod_copy(want);
			if (!copy || !(pod = core_pod_new(a, copy)))
				continue;
			for (int ci = 0; ci < pod->n_containers; ci++)
				pod->containers[ci]->desired = true;
			a->actions->save_pod(pod);
			core_report_event(a, pod, "Normal", "Scheduled", "pod %s bound to node %s",
					  pod->name, a->cfg.name);
			/* every container of the spec, in order (a start may end in
			 * a failure that frees nothing: the records stay) */
			for (int ci = 0; ci < pod->n_containers; ci++)
				container_start(pod->containers[ci]);
		}
	} else {
		log_warn("brain says this node's epoch %" PRIu64 " is fenced: stopping every pod",
			 a->epoch);
	}
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next)
		for (int ci = 0; ci < pod->n_containers; ci++)
			if (pod->containers[ci] && pod->containers[ci]->desired) {
				a->actions->pod_wanted(pod);
				break;
			}
	/* container_stop frees at most the container itself (and its pod) */
	struct agent_container *next;
	for (struct agent_container *c = a->containers; c; c = next) {
		next = c->next;
		if (!c->desired && c->state != POD_STOPPING)
			container_stop(c);
	}
}

void core_apply_assignment(struct agent *a, Skiff__Assignment *as)
{
	if (a->assignment)
		skiff__assignment__free_unpacked(a->assignment, NULL);
	a->assignment = as;
	a->have_assignment = true;
	/* the first assignment ends the hold: what it lists starts, the rest
	 * is stopped without ever having run again */
	bool held = a->hold;
	a->hold = false;
	a->hold_until_ms = 0;
	a->actions->assignment(a);
	reconcile(a);
	if (held)
		start_held(a);
}

void core_fill_running(struct agent *a, Skiff__RegisterRequest *req)
{
	size_t n = 0;
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next)
		n++;
	req->pods = xcalloc(n ? n : 1, sizeof(*req->pods));
	req->n_pods = 0;
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next) {
		bool stopping = true; /* every container is being stopped */
		for (int ci = 0; ci < pod->n_containers; ci++)
			stopping = stopping && (!pod->containers[ci] ||
						pod->containers[ci]->state == POD_STOPPING);
		if (stopping)
			continue;
		Skiff__RunningPod *rp = xmalloc(sizeof(*rp));
		skiff__running_pod__init(rp);
		rp->name = pod->name;
		rp->namespace_ = pod->ns;
		rp->uid = pod->uid;
		rp->status = core_pod_status(pod);
		req->pods[req->n_pods++] = rp;
	}
}

/* ---- adoption after an agent restart ------------------------------------ */

void core_adopt_running(struct agent_container *c, pid_t pid, int64_t started_ms)
{
	became_running(c, pid, started_ms);
	log_info("pod %s: re-adopted container %s, pid %d", c->pod->name, c->container_id, c->pid);
}

void core_adopt_exited(struct agent_container *c, const struct shim_state *st)
{
	c->pid = st->pid;
	c->started_ms = st->started_ms;
	c->state = POD_STARTING; /* it ran: its exit is handled like any other */
	log_info("pod %s: container %s exited while the agent was away", c->pod->name,
		 c->container_id);
	handle_exit(c, st);
}

/* ---- the clock ---------------------------------------------------------- */

void core_tick(struct agent *a)
{
	int64_t now = now_ms(a);
	if (a->hold && a->hold_until_ms && now >= a->hold_until_ms)
		hold_expired(a, now);
	if (a->reconcile_due) {
		a->reconcile_due = false;
		if (a->assignment)
			reconcile(a);
	}
	for (struct agent_container *c = a->containers; c; c = c->next) {
		if (c->kill_at_ms && now >= c->kill_at_ms) {
			c->kill_at_ms = 0;
			if (c->state == POD_STOPPING)
				a->actions->signal(c, SIGKILL);
		}
		if (c->backoff_at_ms && now >= c->backoff_at_ms) {
			c->backoff_at_ms = 0;
			if (c->state == POD_BACKOFF)
				container_start(c);
		}
		if (c->pending_until_ms && now >= c->pending_until_ms) {
			/* no record within a second: report what is known */
			c->pending_until_ms = 0;
			c->exit_pending = false;
			core_mark_dirty(c);
		}
	}
	core_flush(a);
	int64_t next = a->hold ? a->hold_until_ms : 0;
	if (a->reconcile_due)
		next = now;
	for (struct agent_container *c = a->containers; c; c = c->next) {
		int64_t d[3] = { c->kill_at_ms, c->backoff_at_ms, c->pending_until_ms };
		for (int i = 0; i < 3; i++)
			if (d[i] && (!next || d[i] < next))
				next = d[i];
	}
	if (next)
		wake(a, next);
}
