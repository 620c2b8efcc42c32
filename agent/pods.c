/* pods.c — desired pods (the brain's Assignment) against actual containers,
 * and the per-container state machine. A struct agent_pod holds the pod's
 * spec, its sandbox's IP and one struct agent_container per container of
 * the spec (all of them, in spec order); each container runs:
 *
 *   NEW -> STARTING (`skiff-runtime shim` runs) -> RUNNING (shim pidfd watched)
 *   RUNNING -> exit seen on the pidfd -> restart now, or BACKOFF (timer), or DONE
 *   any -> STOPPING (no longer assigned) -> container killed; the pod's
 *   sandbox and state go with its last container
 *
 * Backoff: restart.c. Each container attempt has its own id
 * "<uid>-<attempt>" so the previous attempt's log stays readable.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static void pod_start(struct agent_container *p);
static void pod_stop(struct agent_container *p);
static void reconcile_later(struct agent *a);

/* ---- small helpers ------------------------------------------------------ */

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

static Skiff__Pod *pod_copy(const Skiff__Pod *src)
{
	size_t len = skiff__pod__get_packed_size(src);
	_cleanup_free_ uint8_t *buf = xmalloc(len);
	skiff__pod__pack(src, buf);
	return skiff__pod__unpack(NULL, len, buf);
}

static const char *restart_policy(struct agent_container *p)
{
	const char *rp = p->pod->spec->spec->restart_policy;
	return rp && rp[0] ? rp : "Always";
}

static Skiff__Container *pod_container(struct agent_container *p)
{
	return (size_t)p->ci < p->pod->spec->spec->n_containers
		   ? p->pod->spec->spec->containers[p->ci]
		   : NULL;
}

const char *pods_container_name(const struct agent_container *c)
{
	Skiff__PodSpec *ps = c->pod->spec->spec;
	const Skiff__Container *sc =
	    (size_t)c->ci < ps->n_containers ? ps->containers[c->ci] : NULL;
	return sc && sc->name[0] ? sc->name : c->pod->name;
}

static const char *container_name(struct agent_container *p)
{
	return pods_container_name(p);
}

static void make_container_id(struct agent_container *p, int attempt, char *buf, size_t len)
{
	char uid[80];
	size_t n = 0;
	for (const char *s = p->pod->uid; *s && n < 48; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-')
			uid[n++] = *s;
	uid[n] = 0;
	if (p->ci)
		snprintf(buf, len, "%s-c%d-%d", uid, p->ci, attempt);
	else
		snprintf(buf, len, "%s-%d", uid, attempt);
}

struct agent_pod *pods_find_name(struct agent *a, const char *name)
{
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next)
		if (streq(pod->name, name))
			return pod;
	return NULL;
}

static struct agent_pod *pods_find_uid(struct agent *a, const char *uid)
{
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next)
		if (streq(pod->uid, uid))
			return pod;
	return NULL;
}

struct agent_container *pods_container(struct agent_pod *pod, const char *name)
{
	Skiff__PodSpec *ps = pod->spec->spec;
	for (int ci = 0; ci < pod->n_containers; ci++) {
		struct agent_container *c = pod->containers[ci];
		if (!c)
			continue;
		if (!name || !name[0])
			return ci == 0 ? c : NULL;
		if ((size_t)ci < ps->n_containers && streq(ps->containers[ci]->name, name))
			return c;
	}
	return NULL;
}

/* A pod and one record per container of its spec (at least one: a pod
 * without containers fails its start with InvalidSpec). Takes spec. */
static struct agent_pod *pod_new(struct agent *a, Skiff__Pod *spec)
{
	struct agent_pod *pod = xcalloc(1, sizeof(*pod));
	pod->agent = a;
	pod->spec = spec;
	pod->uid = xstrdup(spec->metadata->uid[0] ? spec->metadata->uid : spec->metadata->name);
	pod->name = xstrdup(spec->metadata->name);
	pod->n_containers = spec->spec->n_containers > 0 ? (int)spec->spec->n_containers : 1;
	pod->containers = xcalloc((size_t)pod->n_containers, sizeof(*pod->containers));
	pod->next = a->pods;
	a->pods = pod;
	/* in reverse, so that a->containers lists them in spec order */
	for (int ci = pod->n_containers - 1; ci >= 0; ci--) {
		struct agent_container *p = xcalloc(1, sizeof(*p));
		p->ci = ci;
		p->agent = a;
		p->pod = pod;
		p->shim_pidfd = -EBADF;
		p->ctr_pidfd = -EBADF;
		p->old_shim_pidfd = -EBADF;
		p->state = POD_NEW;
		p->next = a->containers;
		a->containers = p;
		pod->containers[ci] = p;
	}
	return pod;
}

static void pod_free_pod(struct agent_pod *pod)
{
	struct agent *a = pod->agent;
	for (struct agent_pod **pp = &a->pods; *pp; pp = &(*pp)->next)
		if (*pp == pod) {
			*pp = pod->next;
			break;
		}
	skiff__pod__free_unpacked(pod->spec, NULL);
	free(pod->containers);
	free(pod->uid);
	free(pod->name);
	free(pod);
}

static void close_watch(struct event **ev, int *fd)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd >= 0)
		close(*fd);
	*fd = -EBADF;
}

static void pod_unwatch(struct agent_container *p)
{
	close_watch(&p->ev_shim, &p->shim_pidfd);
	close_watch(&p->ev_ctr, &p->ctr_pidfd);
}

static void old_watch_stop(struct agent_container *p);

/* Free one container; true when it was the pod's last (the pod is freed). */
static bool pod_free(struct agent_container *p)
{
	struct agent *a = p->agent;
	struct agent_pod *pod = p->pod;
	for (struct agent_container **pp = &a->containers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	probes_stop(p);
	pod_unwatch(p);
	close_watch(&p->ev_old_shim, &p->old_shim_pidfd);
	old_watch_stop(p);
	if (p->starter)
		a->starting--;
	spawn_cancel(p->starter);
	if (p->ev_timer)
		event_free(p->ev_timer);
	if (p->ev_kill)
		event_free(p->ev_kill);
	if (p->ev_pending)
		event_free(p->ev_pending);
	free(p->reason);
	free(p->message);
	free(p->last_reason);
	free(p->last_failure);
	pod->containers[p->ci] = NULL;
	free(p);
	for (int ci = 0; ci < pod->n_containers; ci++)
		if (pod->containers[ci])
			return false;
	pod_free_pod(pod);
	return true;
}

/* ---- status and events -------------------------------------------------- */

static const char *pod_phase(struct agent_container *p)
{
	switch (p->state) {
	case POD_RUNNING:
	case POD_STOPPING:
		return "Running";
	case POD_NEW:
	case POD_STARTING:
	case POD_BACKOFF:
		return p->first_start_ms ? "Running" : "Pending";
	case POD_DONE:
		if (!p->first_start_ms)
			return "Failed";
		return p->exit_code == 0 && p->signal == 0 ? "Succeeded" : "Failed";
	}
	return "Unknown";
}

/* One container's status (the unit u). */
static Skiff__ContainerStatus *unit_status(struct agent_container *p)
{
	Skiff__ContainerStatus *cs = xmalloc(sizeof(*cs));
	skiff__container_status__init(cs);
	cs->name = xstrdup(container_name(p));
	cs->restart_count = p->restarts;
	cs->ready = p->state == POD_RUNNING && p->ready;
	cs->pid = p->state == POD_RUNNING ? p->pid : 0;
	cs->started_ms = p->started_ms;
	cs->last_exit_code = p->last_exit_code;
	cs->last_reason = xstrdup(p->last_reason ? p->last_reason : "");
	cs->last_finished_ms = p->last_finished_ms;
	switch (p->state) {
	case POD_RUNNING:
	case POD_STOPPING:
		cs->state = xstrdup("Running");
		cs->reason = xstrdup("");
		cs->message = xstrdup("");
		break;
	case POD_DONE:
		cs->state = xstrdup("Terminated");
		cs->reason = xstrdup(p->reason ? p->reason : "");
		cs->message = xstrdup(p->message ? p->message : "");
		cs->exit_code = p->exit_code;
		cs->signal = p->signal;
		cs->finished_ms = p->finished_ms;
		break;
	default:
		cs->state = xstrdup("Waiting");
		cs->reason = xstrdup(p->state == POD_STARTING || !p->reason ? "ContainerCreating"
									    : p->reason);
		cs->message = xstrdup(p->message ? p->message : "");
		break;
	}
	return cs;
}

/* The pod-level reason and message one container gives ("" when none). */
static void unit_reason(struct agent_container *p, const char **reason, const char **message)
{
	bool waiting = p->state != POD_RUNNING && p->state != POD_DONE && p->state != POD_STOPPING;
	*reason = waiting && p->reason && p->state != POD_STARTING ? p->reason : "";
	*message = waiting && p->message ? p->message : "";
	if (p->state == POD_DONE && p->reason) {
		*reason = p->reason;
		*message = p->message ? p->message : "";
	}
}

/* The pod's status: one ContainerStatus per container (unit), in spec order;
 * the pod is Running while any container runs (or will run again), done
 * when all are, Failed if one of them failed; ready when all are ready. */
Skiff__PodStatus *pods_build_status(struct agent_pod *pod)
{
	struct agent *a = pod->agent;
	Skiff__PodStatus *st = xmalloc(sizeof(*st));
	skiff__pod_status__init(st);
	_cleanup_free_ struct agent_container **units =
	    xcalloc((size_t)pod->n_containers, sizeof(*units));
	int n = 0;
	for (int ci = 0; ci < pod->n_containers; ci++)
		if (pod->containers[ci])
			units[n++] = pod->containers[ci];
	const char *phase, *reason = "", *message = "";
	bool ready = n > 0, running = false, all_done = true, pending = true;
	int64_t first = 0;
	for (int i = 0; i < n; i++) {
		struct agent_container *u = units[i];
		const char *ph = pod_phase(u);
		ready = ready && u->state == POD_RUNNING && u->ready;
		running = running || streq(ph, "Running");
		all_done = all_done && u->state == POD_DONE;
		pending = pending && streq(ph, "Pending");
		if (u->first_start_ms && (!first || u->first_start_ms < first))
			first = u->first_start_ms;
		const char *r, *m;
		unit_reason(u, &r, &m);
		if (!reason[0] && r[0]) {
			reason = r;
			message = m;
		}
	}
	if (n == 1)
		phase = pod_phase(units[0]);
	else if (all_done) {
		phase = "Succeeded";
		for (int i = 0; i < n; i++)
			if (streq(pod_phase(units[i]), "Failed"))
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
		st->container_statuses[i] = unit_status(units[i]);
	return st;
}

void pods_status_free(Skiff__PodStatus *st)
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

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pods_flush_now(arg);
}

void pods_flush_now(struct agent *a)
{
	for (struct agent_container *p = a->containers; p; p = p->next) {
		if (!p->status_dirty || p->exit_pending)
			continue;
		if (p->state != POD_STOPPING)
			state_save_pod_run(p);
		if (a->uplink->send_status(a, p->pod)) {
			p->status_dirty = false;
			/* the status is the whole pod's: its other containers too */
			for (int ci = 0; ci < p->pod->n_containers; ci++) {
				struct agent_container *q = p->pod->containers[ci];
				if (q && q != p && !q->exit_pending) {
					if (q->status_dirty && q->state != POD_STOPPING)
						state_save_pod_run(q);
					q->status_dirty = false;
				}
			}
		}
	}
	while (a->events && a->uplink->connected(a)) {
		struct queued_event *e = a->events;
		if (!a->uplink->send_event(a, e->data, e->len))
			break;
		a->events = e->next;
		if (!a->events)
			a->events_tail = &a->events;
		a->n_events--;
		free(e->data);
		free(e);
	}
}

void pods_mark_dirty(struct agent_container *p)
{
	struct agent *a = p->agent;
	p->status_dirty = true;
	if (!a->ev_flush)
		a->ev_flush = evtimer_new(a->base, on_flush, a);
	if (!evtimer_pending(a->ev_flush, NULL)) {
		struct timeval tv = { 0, 0 };
		evtimer_add(a->ev_flush, &tv);
	}
}

void pods_report_event(struct agent *a, struct agent_pod *pod, const char *type, const char *reason,
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
	meta.created_ms = skiff_now_ms();
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
	if (a->n_events >= AGENT_MAX_QUEUED_EVENTS) {
		struct queued_event *old = a->events;
		a->events = old->next;
		if (!a->events)
			a->events_tail = &a->events;
		free(old->data);
		free(old);
		a->n_events--;
	}
	struct queued_event *q = xcalloc(1, sizeof(*q));
	q->data = buf;
	q->len = len;
	*a->events_tail = q;
	a->events_tail = &q->next;
	a->n_events++;
}

/* ---- failures before a container runs ----------------------------------- */

static void schedule_restart(struct agent_container *p, bool count_restart);

/* The pod cannot be started now (image, volume, command, limits): say why
 * and retry with backoff — an image copied in later makes it start. */
static void pod_setup_failed(struct agent_container *p, const char *reason, const char *message,
			     bool retry)
{
	set_str(&p->reason, reason);
	set_str(&p->message, message);
	/* one Event per distinct failure, not one per retry */
	if (message && !streq_ptr(p->last_failure, message)) {
		pods_report_event(p->agent, p->pod, "Warning", "Failed", "%s", message);
		set_str(&p->last_failure, message);
	}
	if (retry && !streq(restart_policy(p), "Never")) {
		schedule_restart(p, false);
	} else {
		p->state = POD_DONE;
		p->exit_code = 0;
		p->signal = 0;
		pods_mark_dirty(p);
	}
}

/* ---- starting ----------------------------------------------------------- */

static void on_start_done(int status, const char *out, const char *err, void *userdata);

static bool path_ok(const char *p)
{
	return p && p[0] == '/' && !strstr(p, "/../") && !skiff_endswith(p, "/..") &&
	       !strchr(p, ':') && !strchr(p, ',');
}

/* Volume mounts -> "SRC:DST[:ro]" in args (emptyDir directories made);
 * on a refusal *ret_msg says why. */
static int build_volumes(struct agent_container *p, Skiff__Container *c, struct strv *args,
			 char **ret_msg)
{
	Skiff__PodSpec *ps = p->pod->spec->spec;
	for (size_t i = 0; i < c->n_volume_mounts; i++) {
		Skiff__VolumeMount *m = c->volume_mounts[i];
		Skiff__Volume *v = NULL;
		for (size_t j = 0; j < ps->n_volumes; j++)
			if (streq(ps->volumes[j]->name, m->name))
				v = ps->volumes[j];
		if (!v) {
			*ret_msg = xasprintf(
			    "VolumeError: volumeMount '%s' names no volume of the pod", m->name);
			return -EINVAL;
		}
		if (!path_ok(m->mount_path) || streq(m->mount_path, "/")) {
			*ret_msg =
			    xasprintf("VolumeError: mountPath '%s' of volume '%s' must be an "
				      "absolute path without '..', ':' or ','",
				      m->mount_path, m->name);
			return -EINVAL;
		}
		_cleanup_free_ char *src = NULL;
		if (v->host_path) {
			const char *hp = v->host_path->path;
			struct stat st;
			if (!path_ok(hp) || streq(hp, "/")) {
				*ret_msg = xasprintf("VolumeError: hostPath '%s' of volume '%s' is "
						     "refused (absolute path, not /, no '..', ':' "
						     "or ',')",
						     hp, m->name);
				return -EINVAL;
			}
			if (stat(hp, &st) < 0) {
				*ret_msg =
				    xasprintf("VolumeError: hostPath '%s' of volume '%s' does "
					      "not exist on node %s",
					      hp, m->name, p->agent->cfg.name);
				return -ENOENT;
			}
			src = xstrdup(hp);
		} else {
			/* emptyDir (also the default): lives as long as the pod */
			if (strchr(v->name, '/') || v->name[0] == '.' || !v->name[0]) {
				*ret_msg =
				    xasprintf("VolumeError: volume name '%s' is refused", v->name);
				return -EINVAL;
			}
			_cleanup_free_ char *dir = state_pod_dir(p->agent, p->pod->uid);
			src = xasprintf("%s/volumes/%s", dir, v->name);
			int r = skiff_mkdir_p(src, 0755);
			if (r < 0) {
				*ret_msg = xasprintf("VolumeError: cannot create %s: %s", src,
						     strerror(-r));
				return r;
			}
		}
		strv_push(args,
			  xasprintf("%s:%s%s", src, m->mount_path, m->read_only ? ":ro" : ""));
	}
	return 0;
}

int pods_max_starting(struct agent *a)
{
	if (!a->max_starting) {
		uint64_t cpus = agent_capacity_cpu_milli() / 1000;
		uint64_t n = 2 * cpus;
		a->max_starting = n < AGENT_MIN_STARTING   ? AGENT_MIN_STARTING
				  : n > AGENT_MAX_STARTING ? AGENT_MAX_STARTING
							   : (int)n;
	}
	return a->max_starting;
}

static void pod_start(struct agent_container *p)
{
	struct agent *a = p->agent;
	Skiff__Container *c = pod_container(p);
	_cleanup_free_ char *msg = NULL, *rootfs = NULL;
	struct strv args = { 0 };
	int r;

	if (p->ev_timer)
		evtimer_del(p->ev_timer);
	if (a->hold) {
		/* the brain may have moved this pod away while the node was gone */
		if (!p->held)
			log_info("pod %s: start held until the brain's first assignment",
				 p->pod->name);
		p->held = true;
		if (p->state != POD_BACKOFF)
			p->state = POD_NEW;
		return;
	}
	if (a->starting >= pods_max_starting(a)) {
		if (!p->queued)
			p->queued = ++a->queue_seq;
		if (p->state != POD_BACKOFF)
			p->state = POD_NEW;
		return;
	}
	p->queued = 0;
	if (!c) {
		_cleanup_free_ char *m =
		    xasprintf("InvalidSpec: pod %s has no container", p->pod->name);
		pod_setup_failed(p, "InvalidSpec", m, false);
		return;
	}
	if (c->n_command == 0 && c->n_args == 0) {
		_cleanup_free_ char *m =
		    xasprintf("InvalidSpec: container '%s' has no command", container_name(p));
		pod_setup_failed(p, "InvalidSpec", m, false);
		return;
	}
	if (image_resolve(a, c->image, &rootfs, &msg) < 0) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(msg, ":"), msg);
		pod_setup_failed(p, reason, msg, true);
		return;
	}

	char id[192];
	make_container_id(p, p->attempt + 1, id, sizeof(id));

	/* The pod's sandbox: one IP and network namespace for all its
	 * containers, made at the pod's first start and kept until the pod is
	 * deleted, so that a container's restart does no network work. */
	if (a->pod_cidr[0]) {
		if (!p->pod->ip[0] &&
		    ipam_allocate(a, p->pod, p->pod->ip, sizeof(p->pod->ip)) < 0) {
			_cleanup_free_ char *m =
			    xasprintf("NetworkError: no free address in pod CIDR %s", a->pod_cidr);
			pod_setup_failed(p, "NetworkError", m, true);
			return;
		}
		if (!a->net_ready && routes_setup_bridge(a) < 0) {
			_cleanup_free_ char *m = xasprintf("NetworkError: cannot set up bridge %s "
							   "for %s",
							   AGENT_BRIDGE, a->pod_cidr);
			pod_setup_failed(p, "NetworkError", m, true);
			return;
		}
	}
	r = podnet_ensure(a, p->pod->uid, a->pod_cidr[0] ? p->pod->ip : NULL);
	if (r < 0) {
		_cleanup_free_ char *m = xasprintf("NetworkError: cannot set up the "
						   "network namespace of pod %s: %s",
						   p->pod->name, strerror(-r));
		pod_setup_failed(p, "NetworkError", m, true);
		return;
	}

	/* volumes and the read-only endpoints directory */
	struct strv vols = { 0 };
	r = build_volumes(p, c, &vols, &msg);
	if (r < 0) {
		strv_free(&vols);
		pod_setup_failed(p, "VolumeError", msg, r == -ENOENT);
		return;
	}
	_cleanup_free_ char *ns = podnet_path(a, p->pod->uid);
	_cleanup_free_ char *ep = endpoints_dir(a, p->pod->uid);
	char **senv = endpoints_service_env(a);
	struct startspec spec = {
		.runtime = a->cfg.runtime,
		.containers_dir = a->containers_dir,
		.id = id,
		.rootfs = rootfs,
		.cgroup_parent = a->cfg.cgroup_parent,
		.log_max = a->cfg.log_max,
		.pids_limit = a->cfg.pids_limit,
		.netns = ns,
		.pod_ip = p->pod->ip,
		.node_name = a->cfg.name,
		.pod = p->pod->spec,
		.container = c,
		.service_env = senv,
		.volumes = vols.v,
		.endpoints_dir = endpoints_write(a, p->pod) >= 0 ? ep : NULL,
	};
	startspec_build(&spec, &args);
	for (char **e = senv; e && *e; e++)
		free(*e);
	free(senv);
	strv_free(&vols);

	p->attempt++;
	copy_str(p->container_id, sizeof(p->container_id), id);
	p->state = POD_STARTING;
	p->unhealthy_kill = false;
	r = spawn_shim(a->base, args.v, 60000, on_start_done, p, &p->starter);
	strv_free(&args);
	if (r >= 0)
		a->starting++;
	if (r < 0) {
		_cleanup_free_ char *m =
		    xasprintf("RunContainerError: cannot run %s: %s", a->cfg.runtime, strerror(-r));
		pod_setup_failed(p, "RunContainerError", m, true);
		return;
	}
	state_save_pod_run(p);
	pods_mark_dirty(p);
}

static void on_shim_exit(evutil_socket_t fd, short what, void *arg);
static void on_container_exit(evutil_socket_t fd, short what, void *arg);
static void handle_exit(struct agent_container *p, const struct shim_state *st);

/* Watch the shim by pidfd; the state file read after pidfd_open tells
 * whether the pidfd really is the shim (it writes "exited" before exiting). */
static int watch_shim(struct agent_container *p, struct shim_state *st)
{
	int fd = pidfd_open_pid(st->shim_pid);
	int cfd = st->pid > 0 ? pidfd_open_pid(st->pid) : -EBADF;
	int r = shim_state_read(p->agent, p->container_id, st);
	if (r < 0 || fd < 0 || !streq(st->status, "running")) {
		if (fd >= 0)
			close(fd);
		if (cfd >= 0)
			close(cfd);
		return r < 0 ? r : 0; /* 0: already exited, the caller handles st */
	}
	pod_unwatch(p);
	p->shim_pidfd = fd;
	p->ev_shim = event_new(p->agent->base, fd, EV_READ, on_shim_exit, p);
	event_add(p->ev_shim, NULL);
	/* Both pidfds were opened before the state said "running", so both
	 * name the live shim and container, never a reused pid. */
	if (cfd >= 0) {
		p->ctr_pidfd = cfd;
		p->ev_ctr = event_new(p->agent->base, cfd, EV_READ, on_container_exit, p);
		event_add(p->ev_ctr, NULL);
	}
	p->pid = st->pid;
	p->shim_pid = st->shim_pid;
	p->started_ms = st->started_ms ? st->started_ms : skiff_now_ms();
	if (!p->first_start_ms)
		p->first_start_ms = p->started_ms;
	return 1;
}

static const char *exit_reason_for_status(int code)
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

/* A start slot is free: the longest-waiting pod gets it. */
static void start_next(struct agent *a)
{
	while (a->starting < pods_max_starting(a)) {
		struct agent_container *next = NULL;
		for (struct agent_container *q = a->containers; q; q = q->next)
			if (q->queued && (!next || q->queued < next->queued))
				next = q;
		if (!next)
			return;
		next->queued = 0;
		if (next->state == POD_STOPPING) {
			pod_stop(next);
			continue;
		}
		pod_start(next);
	}
}

static void on_start_done_inner(struct agent_container *p, int status, const char *out,
				const char *err);

static void on_start_done(int status, const char *out, const char *err, void *userdata)
{
	struct agent_container *p = userdata;
	struct agent *a = p->agent;
	p->starter = NULL;
	a->starting--;
	on_start_done_inner(p, status, out, err);
	start_next(a);
}

static void on_start_done_inner(struct agent_container *p, int status, const char *out,
				const char *err)
{
	struct shim_state st;

	if (status != 0) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 125;
		char line[512];
		/* the shim's "ERR CODE MESSAGE" line, else the runtime's one error
		 * line on stderr (a bad option) without its log prefix */
		const char *e;
		if (strncmp(out, "ERR ", 4) == 0) {
			e = out + 4 + strspn(out + 4, "0123456789");
			e += *e == ' ';
		} else {
			e = strstr(err, " error: ");
			e = e ? e + 8 : err;
		}
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(e, "\n"), e);
		if (p->state == POD_STOPPING) {
			shim_delete(p->agent, p->container_id);
			pod_stop(p);
			return;
		}
		const char *reason = exit_reason_for_status(code);
		_cleanup_free_ char *m =
		    xasprintf("%s: %s", reason, line[0] ? line : "skiff-runtime shim failed");
		p->exit_code = code;
		set_str(&p->last_reason, reason);
		p->last_exit_code = code;
		p->last_finished_ms = skiff_now_ms();
		shim_delete(p->agent, p->container_id);
		pod_setup_failed(p, reason, m, true);
		return;
	}
	/* The attempt before the previous one is no longer needed (the previous
	 * one is kept for `logs --previous`); deleted only now so that its
	 * `skiff-runtime delete` does not compete with the start for the CPU. */
	if (p->attempt >= 3) {
		char old[192];
		make_container_id(p, p->attempt - 2, old, sizeof(old));
		shim_delete(p->agent, old);
	}
	int r = shim_state_read(p->agent, p->container_id, &st);
	if (r >= 0)
		r = watch_shim(p, &st);
	if (r < 0) {
		_cleanup_free_ char *m =
		    xasprintf("RunContainerError: container %s started but its "
			      "state is unreadable: %s",
			      p->container_id, strerror(-r));
		pod_setup_failed(p, "RunContainerError", m, true);
		return;
	}
	if (r == 0) { /* exited already */
		p->pid = st.pid;
		p->started_ms = st.started_ms;
		if (!p->first_start_ms)
			p->first_start_ms = st.started_ms ? st.started_ms : skiff_now_ms();
		handle_exit(p, &st);
		return;
	}
	if (p->state == POD_STOPPING) {
		pods_kill_container(p, SIGKILL); /* handle_exit finishes the stop */
		return;
	}
	p->state = POD_RUNNING;
	p->ready = false;
	set_str(&p->reason, NULL);
	set_str(&p->message, NULL);
	set_str(&p->last_failure, NULL);
	log_info("pod %s: container %s running, pid %d (attempt %d, restarts %d)", p->pod->name,
		 p->container_id, p->pid, p->attempt, p->restarts);
	probes_start(p);
	logs_container_changed(p->agent, p);
	pods_mark_dirty(p);
}

/* ---- exits and restarts ------------------------------------------------- */

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct agent_container *p = arg;
	(void)fd;
	(void)what;
	if (p->state == POD_BACKOFF)
		pod_start(p);
}

static void schedule_restart(struct agent_container *p, bool count_restart)
{
	int64_t ran = count_restart && p->started_ms ? p->finished_ms - p->started_ms : -1;
	int64_t delay = restart_backoff_next(&p->next_backoff_ms, ran);
	if (count_restart)
		p->restarts++;
	if (delay == 0) {
		pod_start(p);
		return;
	}
	p->state = POD_BACKOFF;
	if (!p->reason || count_restart)
		set_str(&p->reason, "CrashLoopBackOff");
	_cleanup_free_ char *m =
	    xasprintf("back-off %" PRId64 " ms restarting container %s%s%s", delay,
		      container_name(p), p->message && !count_restart ? ": " : "",
		      p->message && !count_restart ? p->message : "");
	set_str(&p->message, m);
	if (!p->ev_timer)
		p->ev_timer = evtimer_new(p->agent->base, on_backoff, p);
	struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
	evtimer_add(p->ev_timer, &tv);
	pods_mark_dirty(p);
}

/* Record an exit in the pod's last state and tell the brain (status, Event). */
static void report_exit(struct agent_container *p, const struct shim_state *st, bool restarting,
			bool unhealthy)
{
	bool failed = st->exit_code != 0 || st->signal != 0 || st->oom;
	const char *reason = st->oom	     ? "OOMKilled"
			     : st->reason[0] ? st->reason
			     : st->signal    ? "Signaled"
			     : st->exit_code ? "Error"
					     : "Completed";
	_cleanup_free_ char *how = st->signal ? xasprintf("killed by signal %d", st->signal)
					      : xasprintf("exited with code %d", st->exit_code);
	set_str(&p->last_reason, reason);
	p->last_exit_code = st->signal ? 128 + st->signal : st->exit_code;
	p->last_finished_ms = st->finished_ms ? st->finished_ms : skiff_now_ms();
	if (unhealthy)
		pods_report_event(p->agent, p->pod, "Warning", "Killing",
				  "container %s failed its liveness probe and was killed",
				  container_name(p));
	pods_report_event(p->agent, p->pod, failed ? "Warning" : "Normal",
			  st->oom ? "OOMKilled" : (failed ? "ContainerDied" : "Completed"),
			  "container %s (pid %d) %s (%s)%s", container_name(p), st->pid, how,
			  reason, restarting ? ", restarting" : "");
	if (!restarting) {
		set_str(&p->reason, reason);
		_cleanup_free_ char *m = xasprintf("container %s %s", container_name(p), how);
		set_str(&p->message, m);
	}
	pods_mark_dirty(p);
}

static void handle_exit(struct agent_container *p, const struct shim_state *st)
{
	probes_stop(p);
	pod_unwatch(p);
	p->ready = false;
	p->exit_code = st->exit_code;
	p->signal = st->signal;
	p->finished_ms = st->finished_ms ? st->finished_ms : skiff_now_ms();

	if (p->state == POD_STOPPING) {
		pod_stop(p);
		return;
	}
	bool failed = st->exit_code != 0 || st->signal != 0 || st->oom;
	bool restart = restart_policy_restarts(restart_policy(p), failed);
	report_exit(p, st, restart, p->unhealthy_kill);
	if (restart) {
		set_str(&p->reason, p->last_reason);
		set_str(&p->message, NULL);
		schedule_restart(p, true);
	} else {
		p->state = POD_DONE;
		pods_mark_dirty(p);
	}
}

/* ---- the previous attempt's exit record ---------------------------------
 * After a fast restart the old shim first records the exit (DIR/ID/state,
 * renamed into place) and only then removes the container's cgroup, veth and
 * writable layer, which on a busy node takes hundreds of ms. An inotify
 * watch on its directory hands the record over as soon as it is written, so
 * the restart's status (with its reason) does not wait for that cleanup. */

static void old_watch_stop(struct agent_container *p)
{
	watch_remove(p->agent, p->old_watch);
	p->old_watch = NULL;
}

static void old_exit_recorded(struct agent_container *p, const struct shim_state *st)
{
	old_watch_stop(p);
	p->exit_pending = false;
	if (p->ev_pending)
		evtimer_del(p->ev_pending);
	report_exit(p, st, true, p->old_unhealthy);
}

/* true when the old shim's record says "exited" (now reported) */
static bool old_exit_check(struct agent_container *p)
{
	struct shim_state st;
	if (!p->exit_pending || p->old_reported ||
	    shim_state_read(p->agent, p->old_container_id, &st) < 0 || !streq(st.status, "exited"))
		return false;
	p->old_reported = true;
	old_exit_recorded(p, &st);
	return true;
}

static void on_old_dir(void *arg, uint32_t mask, const char *name)
{
	(void)mask;
	if (streq(name, "state"))
		old_exit_check(arg);
}

static void old_watch_start(struct agent_container *p)
{
	struct agent *a = p->agent;
	p->old_reported = false;
	_cleanup_free_ char *dir = xasprintf("%s/%s", a->containers_dir, p->old_container_id);
	/* NULL: the shim's exit still reports it */
	p->old_watch = watch_add(a, dir, IN_MOVED_TO, on_old_dir, p);
	old_exit_check(p); /* recorded before the watch was there */
}

/* The previous attempt's shim has cleaned up: its state has the exit (unless
 * its record was read already). */
static void on_old_shim_exit(evutil_socket_t fd, short what, void *arg)
{
	struct agent_container *p = arg;
	struct shim_state st;
	(void)fd;
	(void)what;
	close_watch(&p->ev_old_shim, &p->old_shim_pidfd);
	old_watch_stop(p);
	if (p->old_reported)
		return;
	if (shim_state_read(p->agent, p->old_container_id, &st) < 0 ||
	    !streq(st.status, "exited")) {
		memset(&st, 0, sizeof(st));
		copy_str(st.reason, sizeof(st.reason), "ShimDied");
		st.exit_code = 255;
	}
	old_exit_recorded(p, &st);
}

static void on_exit_pending_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct agent_container *p = arg;
	(void)fd;
	(void)what;
	p->exit_pending = false;
	pods_mark_dirty(p);
}

/* The container's main process exited (its shim is still cleaning up). With
 * restartPolicy Always the outcome does not matter for the decision, so the
 * replacement starts now; the exit's details are reported when the old shim
 * has written them. */
static void on_container_exit(evutil_socket_t fd, short what, void *arg)
{
	struct agent_container *p = arg;
	(void)fd;
	(void)what;
	close_watch(&p->ev_ctr, &p->ctr_pidfd);
	if (p->state != POD_RUNNING || !streq(restart_policy(p), "Always") || p->ev_old_shim)
		return; /* the shim's exit decides */
	probes_stop(p);
	p->old_shim_pidfd = TAKE_FD(p->shim_pidfd);
	event_free(p->ev_shim);
	p->ev_shim = NULL;
	p->ev_old_shim = event_new(p->agent->base, p->old_shim_pidfd, EV_READ, on_old_shim_exit, p);
	event_add(p->ev_old_shim, NULL);
	copy_str(p->old_container_id, sizeof(p->old_container_id), p->container_id);
	p->old_unhealthy = p->unhealthy_kill;
	p->ready = false;
	p->finished_ms = skiff_now_ms();
	set_str(&p->reason, "Exited");
	set_str(&p->message, NULL);
	p->exit_pending = true;
	if (!p->ev_pending)
		p->ev_pending = evtimer_new(p->agent->base, on_exit_pending_timeout, p);
	struct timeval tv = { 1, 0 };
	evtimer_add(p->ev_pending, &tv);
	schedule_restart(p, true);
	old_watch_start(p);
}

static void on_shim_exit(evutil_socket_t fd, short what, void *arg)
{
	struct agent_container *p = arg;
	struct shim_state st;
	(void)fd;
	(void)what;
	int r = shim_state_read(p->agent, p->container_id, &st);
	if (r < 0 || !streq(st.status, "exited")) {
		/* The shim died without recording the exit (killed): the
		 * container, if still there, has lost its parent; kill it so
		 * the pod is restarted cleanly. */
		log_warn("pod %s: shim %d of %s exited without recording the container's exit",
			 p->pod->name, p->shim_pid, p->container_id);
		if (p->pid > 0) {
			int cfd = pidfd_open_pid(p->pid);
			if (cfd >= 0) {
				pidfd_signal(cfd, SIGKILL);
				close(cfd);
			}
		}
		memset(&st, 0, sizeof(st));
		snprintf(st.status, sizeof(st.status), "exited");
		snprintf(st.reason, sizeof(st.reason), "ShimDied");
		st.pid = p->pid;
		st.exit_code = 255;
		shim_delete(p->agent, p->container_id);
	}
	handle_exit(p, &st);
}

void pods_kill_container(struct agent_container *p, int sig)
{
	if (p->state != POD_RUNNING && p->state != POD_STOPPING)
		return;
	int fd = pidfd_open_pid(p->pid);
	if (fd < 0)
		return;
	struct shim_state st;
	if (shim_state_read(p->agent, p->container_id, &st) >= 0 && streq(st.status, "running") &&
	    st.pid == p->pid)
		pidfd_signal(fd, sig);
	close(fd);
}

void pods_probe_result(struct agent_container *p, bool liveness, bool ok, const char *why)
{
	if (p->state != POD_RUNNING)
		return;
	if (liveness) {
		if (!ok) {
			pods_report_event(p->agent, p->pod, "Warning", "Unhealthy",
					  "liveness probe failed: %s", why);
			p->unhealthy_kill = true;
			pods_kill_container(p, SIGKILL);
		}
		return;
	}
	if (ok != p->ready) {
		p->ready = ok;
		if (!ok)
			pods_report_event(p->agent, p->pod, "Warning", "Unhealthy",
					  "readiness probe failed: %s", why);
		pods_mark_dirty(p);
	}
}

/* ---- stopping ----------------------------------------------------------- */

static void on_kill_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct agent_container *p = arg;
	(void)fd;
	(void)what;
	pods_kill_container(p, SIGKILL);
}

static void pod_stop(struct agent_container *p)
{
	struct agent *a = p->agent;
	if (p->state != POD_STOPPING) {
		log_info("pod %s: stopping (no longer assigned to %s)", p->pod->name, a->cfg.name);
		if (p->ev_timer)
			evtimer_del(p->ev_timer);
		enum pod_state was = p->state;
		p->state = POD_STOPPING;
		probes_stop(p);
		if (was == POD_STARTING)
			return; /* on_start_done continues */
		if (was == POD_RUNNING) {
			int grace = p->pod->spec->spec->termination_grace_ms;
			if (grace <= 0)
				grace = 10000;
			pods_kill_container(p, SIGTERM);
			p->ev_kill = evtimer_new(a->base, on_kill_timeout, p);
			struct timeval tv = { grace / 1000, (grace % 1000) * 1000 };
			evtimer_add(p->ev_kill, &tv);
			return; /* handle_exit continues */
		}
	} else if (p->starter || p->ev_shim) {
		return; /* still waiting */
	}
	/* Nothing runs any more: remove every trace. */
	for (int i = p->attempt; i >= 1 && i >= p->attempt - 2; i--) {
		char id[192];
		make_container_id(p, i, id, sizeof(id));
		shim_delete(a, id);
	}
	struct agent_pod *pod = p->pod;
	bool last = true;
	for (int ci = 0; ci < pod->n_containers; ci++)
		last = last && (!pod->containers[ci] || pod->containers[ci] == p);
	if (!last) { /* the pod's other containers remove the pod */
		pod_free(p);
		return;
	}
	logs_pod_gone(a, pod);
	state_remove_pod(a, pod->uid); /* the sandbox's teardown runs off the loop */
	log_info("pod %s: removed", pod->name);
	a->uplink->send_stopped(a, pod);
	pod_free(p); /* and the pod */
	reconcile_later(a);
}

/* ---- desired state ------------------------------------------------------ */

static void reconcile(struct agent *a);

static void on_reconcile(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)fd;
	(void)what;
	if (a->assignment)
		reconcile(a);
}

/* Compare again soon (a pod that had to wait for its predecessor of the same
 * name can start now). */
static void reconcile_later(struct agent *a)
{
	if (!a->ev_reconcile)
		a->ev_reconcile = evtimer_new(a->base, on_reconcile, a);
	struct timeval tv = { 0, 0 };
	if (!evtimer_pending(a->ev_reconcile, NULL))
		evtimer_add(a->ev_reconcile, &tv);
}

/* Start what waited for the hold to end (pods still wanted). */
static void start_held(struct agent *a)
{
	for (struct agent_container *p = a->containers; p; p = p->next)
		if (p->held) {
			p->held = false;
			if (p->state == POD_NEW || p->state == POD_BACKOFF)
				pod_start(p);
		}
}

static void on_hold_timer(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)fd;
	(void)what;
	if (!a->hold)
		return;
	/* connected: the assignment follows REGISTER's reply; wait a little more */
	if (a->uplink->talking(a) && ++a->hold_rounds < 3) {
		struct timeval tv = { a->cfg.brain_wait_ms / 1000,
				      (a->cfg.brain_wait_ms % 1000) * 1000 };
		evtimer_add(a->ev_hold, &tv);
		return;
	}
	pods_hold_release(a, "no assignment from the brain");
}

void pods_hold_start(struct agent *a)
{
	if (a->cfg.brain_wait_ms <= 0)
		return;
	a->hold = true;
	a->ev_hold = evtimer_new(a->base, on_hold_timer, a);
	struct timeval tv = { a->cfg.brain_wait_ms / 1000, (a->cfg.brain_wait_ms % 1000) * 1000 };
	evtimer_add(a->ev_hold, &tv);
}

void pods_hold_release(struct agent *a, const char *why)
{
	if (!a->hold)
		return;
	a->hold = false;
	if (a->ev_hold)
		evtimer_del(a->ev_hold);
	bool any = false;
	for (struct agent_container *p = a->containers; p; p = p->next)
		any = any || p->held;
	if (why && any)
		log_warn("%s within %d ms of the start: healing containers locally", why,
			 a->cfg.brain_wait_ms * (a->hold_rounds + 1));
	start_held(a);
}

void pods_apply_assignment(struct agent *a, Skiff__Assignment *as)
{
	if (a->assignment)
		skiff__assignment__free_unpacked(a->assignment, NULL);
	a->assignment = as;
	a->have_assignment = true;
	/* the first assignment ends the hold: what it lists starts, the rest
	 * is stopped without ever having run again */
	bool held = a->hold;
	a->hold = false;
	if (a->ev_hold)
		evtimer_del(a->ev_hold);
	routes_sync(a);
	reconcile(a);
	if (held)
		start_held(a);
}

static void reconcile(struct agent *a)
{
	Skiff__Assignment *as = a->assignment;
	for (struct agent_container *p = a->containers; p; p = p->next)
		p->desired = false;
	if (!as->fenced) {
		for (size_t i = 0; i < as->n_pods; i++) {
			Skiff__Pod *want = as->pods[i];
			if (!want->metadata || !want->spec || !want->metadata->name[0])
				continue;
			if (want->metadata->deleted_ms)
				continue; /* being deleted: stop it */
			const char *uid =
			    want->metadata->uid[0] ? want->metadata->uid : want->metadata->name;
			struct agent_pod *pod = pods_find_uid(a, uid);
			if (pod) {
				for (int ci = 0; ci < pod->n_containers; ci++) {
					struct agent_container *q = pod->containers[ci];
					if (q && q->state != POD_STOPPING)
						q->desired = true;
				}
				continue;
			}
			if (pods_find_name(a, want->metadata->name))
				continue; /* same name, new uid: wait until the old one is gone */
			Skiff__Pod *copy = pod_copy(want);
			if (!copy)
				continue;
			pod = pod_new(a, copy);
			for (int ci = 0; ci < pod->n_containers; ci++)
				pod->containers[ci]->desired = true;
			int r = state_save_pod(pod);
			if (r < 0)
				log_warn_errno(r, "pod %s: cannot save its state: %m", pod->name);
			pods_report_event(a, pod, "Normal", "Scheduled", "pod %s bound to node %s",
					  pod->name, a->cfg.name);
			/* every container of the spec, in order (a start may end in
			 * a failure that frees nothing: the records stay) */
			for (int ci = 0; ci < pod->n_containers; ci++)
				pod_start(pod->containers[ci]);
		}
	} else {
		log_warn("brain says this node's epoch %" PRIu64 " is fenced: stopping every pod",
			 a->epoch);
	}
	for (struct agent_pod *pod = a->pods; pod; pod = pod->next)
		for (int ci = 0; ci < pod->n_containers; ci++)
			if (pod->containers[ci] && pod->containers[ci]->desired) {
				endpoints_write(a, pod);
				break;
			}
	struct agent_container *next;
	for (struct agent_container *p = a->containers; p; p = next) {
		next = p->next;
		if (!p->desired && p->state != POD_STOPPING)
			pod_stop(p);
	}
}

void pods_fill_running(struct agent *a, Skiff__RegisterRequest *req, void (*keep)(void *))
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
		rp->uid = pod->uid;
		rp->status = pods_build_status(pod);
		req->pods[req->n_pods++] = rp;
		if (keep)
			keep(rp);
	}
}

/* ---- re-adoption after an agent restart ---------------------------------- */

static void fill_unit(struct agent_container *p, const char *run)
{
	char buf[256];
	if (state_run_get(run, "attempt", buf, sizeof(buf)))
		p->attempt = atoi(buf);
	if (state_run_get(run, "container_id", buf, sizeof(buf)))
		copy_str(p->container_id, sizeof(p->container_id), buf);
	if (state_run_get(run, "restarts", buf, sizeof(buf)))
		p->restarts = atoi(buf);
	if (state_run_get(run, "ip", buf, sizeof(buf)))
		copy_str(p->pod->ip, sizeof(p->pod->ip), buf);
	if (state_run_get(run, "last_exit_code", buf, sizeof(buf)))
		p->last_exit_code = atoi(buf);
	if (state_run_get(run, "last_reason", buf, sizeof(buf)) && buf[0])
		p->last_reason = xstrdup(buf);
	if (state_run_get(run, "last_finished_ms", buf, sizeof(buf)))
		p->last_finished_ms = strtoll(buf, NULL, 10);
	if (state_run_get(run, "first_start_ms", buf, sizeof(buf)))
		p->first_start_ms = strtoll(buf, NULL, 10);
	if (state_run_get(run, "next_backoff_ms", buf, sizeof(buf)))
		p->next_backoff_ms = strtoll(buf, NULL, 10);
	p->desired = true;
}

static int adopt_one(struct agent *a, Skiff__Pod *spec, const char *run, void *ud)
{
	(void)ud;
	struct agent_pod *pod = pod_new(a, spec);
	fill_unit(pod->containers[0], run);
	for (int ci = 1; ci < pod->n_containers; ci++) {
		_cleanup_free_ char *r = state_read_run(a, pod->uid, ci);
		fill_unit(pod->containers[ci], r);
	}
	return 0;
}

static bool id_known(struct agent *a, const char *id)
{
	for (struct agent_container *p = a->containers; p; p = p->next)
		for (int i = p->attempt; i >= 1 && i >= p->attempt - 1; i--) {
			char mine[192];
			make_container_id(p, i, mine, sizeof(mine));
			if (streq(mine, id))
				return true;
		}
	return false;
}

int pods_adopt(struct agent *a)
{
	int r = state_load_pods(a, adopt_one, NULL);
	if (r < 0)
		return log_error_errno(r, "cannot read %s/pods: %m", a->cfg.state_dir);

	for (struct agent_container *p = a->containers; p; p = p->next) {
		struct shim_state st;
		if (!p->container_id[0] || shim_state_read(a, p->container_id, &st) < 0) {
			/* never started, or the start was cut short */
			if (p->container_id[0])
				shim_delete(a, p->container_id);
			pod_start(p);
			continue;
		}
		p->state = POD_STARTING;
		r = watch_shim(p, &st);
		if (r > 0) {
			p->state = POD_RUNNING;
			p->ready = false;
			log_info("pod %s: re-adopted container %s, pid %d", p->pod->name,
				 p->container_id, p->pid);
			probes_start(p);
			pods_mark_dirty(p);
		} else if (r == 0) {
			p->pid = st.pid;
			p->started_ms = st.started_ms;
			log_info("pod %s: container %s exited while the agent was away",
				 p->pod->name, p->container_id);
			handle_exit(p, &st);
		} else {
			pod_start(p);
		}
	}

	/* Containers of pods the agent no longer knows: kill and delete. */
	_cleanup_closedir_ DIR *d = opendir(a->containers_dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || id_known(a, de->d_name))
			continue;
		struct shim_state st;
		if (shim_state_read(a, de->d_name, &st) >= 0 && streq(st.status, "running")) {
			int fd = pidfd_open_pid(st.pid);
			struct shim_state again;
			if (fd >= 0 && shim_state_read(a, de->d_name, &again) >= 0 &&
			    streq(again.status, "running"))
				pidfd_signal(fd, SIGKILL);
			if (fd >= 0)
				close(fd);
			log_info("container %s belongs to no pod of this node: killed", de->d_name);
		}
		shim_delete(a, de->d_name);
	}
	return 0;
}
