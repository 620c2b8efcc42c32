/* pods.c — the pod state machine's hands and eyes on the node (core.c
 * decides): the actions (an attempt's start — image, sandbox, volumes, the
 * shim — its signals, old attempts' deletion, the pod's files), the clock
 * (one libevent timer for every deadline of the core), the pidfds that see
 * a container's and its shim's exit, the inotify watch that reads an exit
 * record as soon as it is written, and the re-adoption of what a previous
 * agent left running.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static void on_start_done(int status, const char *out, const char *err, void *userdata);
static void on_shim_exit(evutil_socket_t fd, short what, void *arg);
static void on_container_exit(evutil_socket_t fd, short what, void *arg);

/* ---- the clock ---------------------------------------------------------- */

static int64_t clock_now(struct agent *a)
{
	(void)a;
	return skiff_now_ms();
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)fd;
	(void)what;
	a->wake_ms = 0;
	core_tick(a);
}

static void clock_wake_at(struct agent *a, int64_t at_ms)
{
	if (!a->ev_wake)
		a->ev_wake = evtimer_new(a->base, on_wake, a);
	if (a->wake_ms && evtimer_pending(a->ev_wake, NULL) && a->wake_ms <= at_ms)
		return;
	int64_t d = at_ms - skiff_now_ms();
	if (d < 0)
		d = 0;
	struct timeval tv = { d / 1000, (d % 1000) * 1000 };
	a->wake_ms = at_ms;
	evtimer_add(a->ev_wake, &tv);
}

const struct agent_clock pods_clock = {
	.now_ms = clock_now,
	.wake_at = clock_wake_at,
};

void pods_init(struct agent *a)
{
	uint64_t n = 2 * (agent_capacity_cpu_milli() / 1000);
	a->max_starting = n < AGENT_MIN_STARTING   ? AGENT_MIN_STARTING
			  : n > AGENT_MAX_STARTING ? AGENT_MAX_STARTING
						   : (int)n;
	a->clock = &pods_clock;
	a->actions = &pods_actions;
}

/* ---- pidfds ------------------------------------------------------------- */

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

static void act_unwatch(struct agent_container *p)
{
	close_watch(&p->ev_shim, &p->shim_pidfd);
	close_watch(&p->ev_ctr, &p->ctr_pidfd);
}

static void old_watch_stop(struct agent_container *p)
{
	watch_remove(p->agent, p->old_watch);
	p->old_watch = NULL;
}

static void act_release(struct agent_container *p)
{
	probes_stop(p);
	act_unwatch(p);
	close_watch(&p->ev_old_shim, &p->old_shim_pidfd);
	old_watch_stop(p);
	spawn_cancel(p->starter);
	p->starter = NULL;
}

/* Watch the shim by pidfd; the state file read after pidfd_open tells
 * whether the pidfd really is the shim (it writes "exited" before exiting).
 * 1: watched, 0: already exited (st has it), < 0: unreadable. */
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
		return r < 0 ? r : 0;
	}
	act_unwatch(p);
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
	return 1;
}

/* ---- starting ----------------------------------------------------------- */

/* Paths that would break the runtime's "SRC:DST[:ro]" or leave the place
 * they name; refused as a protection of the node (the brain's validator
 * asks for absolute paths only). */
static bool path_ok(const char *p)
{
	return p && p[0] == '/' && !strstr(p, "/../") && !skiff_endswith(p, "/..") &&
	       !strchr(p, ':') && !strchr(p, ',') && !streq(p, "/");
}

static int fail(struct core_failure *f, const char *reason, bool retry, char *owned_msg)
{
	copy_str(f->reason, sizeof(f->reason), reason);
	f->message = owned_msg;
	f->retry = retry;
	return -EINVAL;
}

/* Volume mounts -> "SRC:DST[:ro]" in args (emptyDir directories made). */
static int build_volumes(struct agent_container *p, Skiff__Container *c, struct strv *args,
			 struct core_failure *f)
{
	Skiff__PodSpec *ps = p->pod->spec->spec;
	for (size_t i = 0; i < c->n_volume_mounts; i++) {
		Skiff__VolumeMount *m = c->volume_mounts[i];
		Skiff__Volume *v = NULL;
		for (size_t j = 0; j < ps->n_volumes; j++)
			if (streq(ps->volumes[j]->name, m->name))
				v = ps->volumes[j];
		if (!v) /* the brain's validator guarantees it: a malformed frame */
			return fail(f, "VolumeError", false,
				    xasprintf("VolumeError: volumeMount '%s' names no volume of "
					      "the pod (malformed spec)",
					      m->name));
		if (!path_ok(m->mount_path))
			return fail(f, "VolumeError", false,
				    xasprintf("VolumeError: mountPath '%s' of volume '%s' is "
					      "refused on this node (not /, no '..', ':' or ',')",
					      m->mount_path, m->name));
		_cleanup_free_ char *src = NULL;
		if (v->host_path) {
			const char *hp = v->host_path->path;
			struct stat st;
			if (!path_ok(hp))
				return fail(f, "VolumeError", false,
					    xasprintf("VolumeError: hostPath '%s' of volume '%s' "
						      "is refused on this node (not /, no '..', "
						      "':' or ',')",
						      hp, m->name));
			if (stat(hp, &st) < 0)
				return fail(f, "VolumeError", true,
					    xasprintf("VolumeError: hostPath '%s' of volume '%s' "
						      "does not exist on node %s",
						      hp, m->name, p->agent->cfg.name));
			src = xstrdup(hp);
		} else {
			/* emptyDir (also the default): lives as long as the pod */
			src = disk_volume_dir(p->pod, v->name);
			int r = skiff_mkdir_p(src, 0755);
			if (r < 0)
				return fail(f, "VolumeError", true,
					    xasprintf("VolumeError: cannot create %s: %s", src,
						      strerror(-r)));
		}
		strv_push(args,
			  xasprintf("%s:%s%s", src, m->mount_path, m->read_only ? ":ro" : ""));
	}
	return 0;
}

/* The pod's sandbox: one IP and network namespace for all its containers,
 * made at the pod's first start and kept until the pod is deleted, so that
 * a container's restart does no network work. */
static int ensure_sandbox(struct agent_container *p, struct core_failure *f)
{
	struct agent *a = p->agent;
	if (a->pod_cidr[0]) {
		if (!p->pod->ip[0] && ipam_allocate(a, p->pod, p->pod->ip, sizeof(p->pod->ip)) < 0)
			return fail(
			    f, "NetworkError", true,
			    xasprintf("NetworkError: no free address in pod CIDR %s", a->pod_cidr));
		if (!a->net_ready && routes_setup_bridge(a) < 0)
			return fail(f, "NetworkError", true,
				    xasprintf("NetworkError: cannot set up bridge %s for %s",
					      AGENT_BRIDGE, a->pod_cidr));
	}
	int r = podnet_ensure(a, p->pod->uid, a->pod_cidr[0] ? p->pod->ip : NULL);
	if (r < 0)
		return fail(f, "NetworkError", true,
			    xasprintf("NetworkError: cannot set up the network namespace of pod "
				      "%s: %s",
				      p->pod->name, strerror(-r)));
	return 0;
}

static int act_start(struct agent_container *p, const char *id, struct core_failure *f)
{
	struct agent *a = p->agent;
	Skiff__Container *c = p->pod->spec->spec->containers[p->ci];
	_cleanup_free_ char *msg = NULL;
	_cleanup_(agent_image_clear) struct agent_image image = { 0 };

	if (image_resolve(a, p->pod, c, &image, &msg) < 0) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(msg, ":"), msg);
		/* a pull that failed before with the same error: backing off */
		if (streq(reason, "ErrImagePull") && streq_ptr(p->last_failure, msg))
			snprintf(reason, sizeof(reason), "ImagePullBackOff");
		return fail(f, reason, !streq(reason, "InvalidImageName"), TAKE_PTR(msg));
	}
	free(p->image_id);
	p->image_id = image.img ? xstrdup(image.img->manifest_digest) : NULL;
	skiff_strv_free(p->exposed_ports);
	p->exposed_ports = NULL;
	if (image.img && image.img->config.exposed_ports) {
		size_t n = 0;
		while (image.img->config.exposed_ports[n])
			n++;
		p->exposed_ports = xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			p->exposed_ports[i] = xstrdup(image.img->config.exposed_ports[i]);
	}
	/* the brain let a registry image go without command: its config must
	 * name an entrypoint */
	struct strv argv = { 0 };
	size_t n_argv = startspec_argv(c, image.img ? &image.img->config : NULL, &argv);
	strv_free(&argv);
	if (n_argv == 0)
		return fail(f, "InvalidSpec", false,
			    xasprintf("InvalidSpec: container '%s' has no command and image %s "
				      "names no entrypoint",
				      c->name, c->image));
	int r = ensure_sandbox(p, f);
	if (r < 0)
		return r;
	/* ephemeral storage: the pod's size-limited file system (disk.c) */
	r = disk_ensure(p->pod, &msg);
	if (r < 0)
		return fail(f, "StorageError", true, xasprintf("StorageError: %s", msg));
	_cleanup_free_ char *layer = disk_layer_dir(p->pod, p->ci, id);

	/* volumes and the read-only endpoints directory */
	struct strv vols = { 0 };
	r = build_volumes(p, c, &vols, f);
	if (r < 0) {
		strv_free(&vols);
		return r;
	}
	/* the endpoints directory is made (and written) once; every Assignment
	 * keeps it up to date (pod_wanted), so a restart need not touch it */
	if (!p->pod->endpoints_ok)
		p->pod->endpoints_ok = endpoints_write(a, p->pod) >= 0;
	_cleanup_free_ char *ns = podnet_path(a, p->pod->uid);
	_cleanup_free_ char *ep = endpoints_dir(a, p->pod->uid);
	char **senv = endpoints_service_env(a, p->pod->ns);
	struct startspec spec = {
		.runtime = a->cfg.runtime,
		.containers_dir = a->containers_dir,
		.id = id,
		.rootfs = image.layers[0],
		.layers = image.layers,
		.image = image.img ? &image.img->config : NULL,
		.user = image.user[0] ? image.user : NULL,
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
		.endpoints_dir = p->pod->endpoints_ok ? ep : NULL,
		.layer_dir = layer,
	};
	struct strv args = { 0 };
	startspec_build(&spec, &args);
	for (char **e = senv; e && *e; e++)
		free(*e);
	free(senv);
	strv_free(&vols);

	r = spawn_shim(a->base, args.v, 60000, on_start_done, p, &p->starter);
	strv_free(&args);
	if (r < 0)
		return fail(f, "RunContainerError", true,
			    xasprintf("RunContainerError: cannot run %s: %s", a->cfg.runtime,
				      strerror(-r)));
	return 0;
}

static void on_start_done(int status, const char *out, const char *err, void *userdata)
{
	struct agent_container *p = userdata;
	p->starter = NULL;
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
		core_start_done(p, code ? code : 125, line, NULL);
		return;
	}
	struct shim_state st;
	int r = shim_state_read(p->agent, p->container_id, &st);
	if (r >= 0)
		r = watch_shim(p, &st);
	if (r < 0) {
		core_start_unreadable(p, r);
		return;
	}
	core_start_done(p, 0, NULL, &st);
}

/* ---- exits -------------------------------------------------------------- */

static void old_exit_recorded(struct agent_container *p, const struct shim_state *st)
{
	old_watch_stop(p);
	core_exit_recorded(p, st);
	disk_exit_check(p, st); /* at its limit: the replacement is killed too */
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

/* After a fast restart the old shim first records the exit (DIR/ID/state,
 * renamed into place) and only then removes the container's cgroup and
 * writable layer, which on a busy node takes hundreds of ms. An inotify
 * watch on its directory hands the record over as soon as it is written, so
 * the restart's status (with its reason) does not wait for that cleanup. */
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

/* The old shim records the exit at once, then removes the container's
 * cgroup, mounts and writable layer (tens to hundreds of ms of kernel work
 * on a busy node): lowered to nice AGENT_OLD_SHIM_NICE, that cleanup makes
 * way for the replacement's start instead of sharing the CPUs with it. The
 * pidfd tells that the pid is still the shim (not exited, so not reused). */
static void old_shim_yield(struct agent_container *p)
{
	struct pollfd pfd = { .fd = p->old_shim_pidfd, .events = POLLIN };
	if (p->shim_pid > 0 && poll(&pfd, 1, 0) == 0 &&
	    setpriority(PRIO_PROCESS, (id_t)p->shim_pid, AGENT_OLD_SHIM_NICE) < 0)
		log_debug("pod %s: cannot renice shim %d: %m", p->pod->name, p->shim_pid);
}

/* The container's main process exited (its shim is still cleaning up). When
 * the core restarts it at once, the attempt is set aside (its shim and its
 * record still watched) and the replacement starts now. */
static void on_container_exit(evutil_socket_t fd, short what, void *arg)
{
	struct agent_container *p = arg;
	(void)fd;
	(void)what;
	close_watch(&p->ev_ctr, &p->ctr_pidfd);
	/* a full pod file system: the shim's record says whether the limit
	 * stopped it (disk_exit_check) before anything restarts */
	if (p->ev_old_shim || disk_full(p) || !core_restarts_early(p))
		return; /* the shim's exit decides */
	p->old_shim_pidfd = TAKE_FD(p->shim_pidfd);
	event_free(p->ev_shim);
	p->ev_shim = NULL;
	p->ev_old_shim = event_new(p->agent->base, p->old_shim_pidfd, EV_READ, on_old_shim_exit, p);
	event_add(p->ev_old_shim, NULL);
	copy_str(p->old_container_id, sizeof(p->old_container_id), p->container_id);
	old_shim_yield(p);
	core_exited_early(p);
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
	disk_exit_check(p, &st); /* stopped at its ephemeral-storage limit? */
	core_exited(p, &st);
}

void pods_kill_container(struct agent_container *p, int sig)
{
	if (p->state != POD_RUNNING && p->state != POD_STOPPING)
		return;
	if (p->pid <= 0)
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

/* ---- the rest of the actions -------------------------------------------- */

static void act_probes(struct agent_container *p, bool run)
{
	if (run)
		probes_start(p);
	else
		probes_stop(p);
}

static void act_running(struct agent_container *p)
{
	logs_container_changed(p->agent, p);
}

static void act_save_pod(struct agent_pod *pod)
{
	int r = state_save_pod(pod);
	if (r < 0)
		log_warn_errno(r, "pod %s: cannot save its state: %m", pod->name);
}

static void act_save_run(struct agent_container *p)
{
	int r = state_save_pod_run(p);
	if (r < 0)
		log_warn_errno(r, "pod %s: cannot save its run file: %m", p->pod->name);
}

static void act_pod_wanted(struct agent_pod *pod)
{
	endpoints_write(pod->agent, pod);
}

static void act_pod_removed(struct agent_pod *pod)
{
	logs_pod_gone(pod->agent, pod);
	state_remove_pod(pod->agent, pod->uid);
}

const struct agent_actions pods_actions = {
	.start = act_start,
	.signal = pods_kill_container,
	.unwatch = act_unwatch,
	.release = act_release,
	.delete_attempt = shim_delete,
	.probes = act_probes,
	.running = act_running,
	.save_pod = act_save_pod,
	.save_run = act_save_run,
	.pod_wanted = act_pod_wanted,
	.pod_removed = act_pod_removed,
	.assignment = routes_sync,
};

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
	if (state_run_get(run, "evicted", buf, sizeof(buf)) && buf[0])
		p->evicted = xstrdup(buf);
	p->desired = true;
}

static int adopt_one(struct agent *a, Skiff__Pod *spec, const char *run, void *ud)
{
	(void)ud;
	struct agent_pod *pod = core_pod_new(a, spec);
	if (!pod)
		return 0;
	fill_unit(pod->containers[0], run);
	for (int ci = 1; ci < pod->n_containers; ci++) {
		_cleanup_free_ char *r = state_read_run(a, pod->uid, ci);
		fill_unit(pod->containers[ci], r);
	}
	/* its file system, mounted by the agent before: watched again */
	_cleanup_free_ char *msg = NULL;
	if (disk_ensure(pod, &msg) < 0)
		log_warn("pod %s: ephemeral storage: %s", pod->name, msg);
	return 0;
}

static bool id_known(struct agent *a, const char *id)
{
	for (struct agent_container *p = a->containers; p; p = p->next)
		for (int i = p->attempt; i >= 1 && i >= p->attempt - 1; i--) {
			char mine[192];
			core_container_id(p, i, mine, sizeof(mine));
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
			core_start(p);
			continue;
		}
		r = watch_shim(p, &st);
		if (r > 0)
			core_adopt_running(p, st.pid, st.started_ms);
		else if (r == 0) {
			disk_exit_check(p, &st);
			core_adopt_exited(p, &st);
		} else
			core_start(p);
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
