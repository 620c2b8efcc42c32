/* logs.c — MSG_AGENT_LOGS: a pod's container log, as the shim keeps it in
 * STATE/containers/<id>/log (and log.1 after a rotation), streamed as
 * LogChunk items. tail_lines > 0 sends only the last lines; previous reads the
 * attempt before the current one; follow keeps the stream open and sends what
 * is appended, woken by inotify on the container's directory (a rotation
 * and a container restart are followed too).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "rpc.h"
#include "util.h"

#define CHUNK	      (32 * 1024)
#define MAX_TAIL_READ (16 << 20)

struct log_follower {
	struct log_follower *next;
	struct agent *agent;
	struct skiff_rpc_call *call;
	char *pod_uid;
	char *pod_name;
	char *container;
	char *dir;
	int fd;
	struct agent_watch *watch; /* on dir */
};

static int send_bytes(struct skiff_rpc_call *call, const char *pod, const char *container,
		      const char *data, size_t len)
{
	while (len > 0) {
		size_t n = len > CHUNK ? CHUNK : len;
		Skiff__LogChunk chunk = SKIFF__LOG_CHUNK__INIT;
		chunk.data.data = (uint8_t *)data;
		chunk.data.len = n;
		chunk.pod = (char *)pod;
		chunk.container = (char *)container;
		int r = skiff_rpc_call_stream(call, &chunk.base);
		if (r < 0)
			return r;
		data += n;
		len -= n;
	}
	return 0;
}

/* Send what fd has from its offset to the end. */
static int pump(struct log_follower *f)
{
	char buf[CHUNK];
	for (;;) {
		ssize_t n = read(f->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		int r = send_bytes(f->call, f->pod_name, f->container, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

static void follower_free(struct agent *a, struct log_follower *f)
{
	for (struct log_follower **pp = &a->followers; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	watch_remove(a, f->watch);
	if (f->fd >= 0)
		close(f->fd);
	free(f->pod_uid);
	free(f->pod_name);
	free(f->container);
	free(f->dir);
	free(f);
}

static void on_dir_event(void *arg, uint32_t mask, const char *name);

static int follower_open(struct log_follower *f, const char *dir, bool from_start)
{
	struct agent *a = f->agent;
	free(f->dir);
	f->dir = xstrdup(dir);
	/* the new watch first: on the same directory it keeps the kernel's */
	struct agent_watch *w =
	    watch_add(a, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO, on_dir_event, f);
	int r = w ? 0 : -errno;
	watch_remove(a, f->watch);
	f->watch = w;
	if (f->fd >= 0)
		close(f->fd);
	_cleanup_free_ char *path = xasprintf("%s/log", dir);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd >= 0 && !from_start)
		lseek(f->fd, 0, SEEK_END);
	return r;
}

/* The followed container's directory changed: send what was appended; a
 * rotation (a new "log") finishes the old file and goes on with the new. */
static void on_dir_event(void *arg, uint32_t mask, const char *name)
{
	struct log_follower *f = arg;
	int r = 0;
	if (streq(name, "log") && (mask & (IN_CREATE | IN_MOVED_TO))) {
		if (f->fd >= 0)
			r = pump(f);
		_cleanup_free_ char *dir = xstrdup(f->dir);
		follower_open(f, dir, true);
	}
	if (r >= 0 && f->fd < 0) {
		_cleanup_free_ char *path = xasprintf("%s/log", f->dir);
		f->fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (r >= 0 && f->fd >= 0)
		r = pump(f);
	if (r < 0) {
		struct skiff_rpc_call *call = f->call;
		follower_free(f->agent, f);
		skiff_rpc_call_end(call, r, "log stream failed");
	}
}

static void on_cancel(struct skiff_rpc_call *call, void *userdata)
{
	struct log_follower *f = userdata;
	(void)call;
	follower_free(f->agent, f);
}

/* Whole content of log.1 + log of container id, or only the last lines. */
static char *read_logs(struct agent *a, const char *id, int tail, size_t *ret_len,
		       size_t *ret_log_len)
{
	size_t len = 0;
	char *all = xmalloc(1);
	const char *names[2] = { "log.1", "log" };
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s/%s", a->containers_dir, id, names[i]);
		_cleanup_free_ char *data = NULL;
		size_t n = 0;
		if (skiff_read_file(path, MAX_TAIL_READ, &data, &n) < 0)
			continue;
		all = xrealloc(all, len + n + 1);
		memcpy(all + len, data, n);
		len += n;
		if (i == 1)
			*ret_log_len = n; /* where a follower goes on in "log" */
	}
	all[len] = 0;
	if (tail > 0 && len > 0) {
		size_t pos = len;
		int lines = 0;
		if (all[pos - 1] == '\n')
			pos--;
		while (pos > 0) {
			if (all[pos - 1] == '\n' && ++lines == tail)
				break;
			pos--;
		}
		memmove(all, all + pos, len - pos);
		len -= pos;
		all[len] = 0;
	}
	*ret_len = len;
	return all;
}

static char *attempt_id(struct agent_container *p, int attempt)
{
	/* same shape as pods.c make_container_id: "<uid>-<attempt>" */
	const char *dash = strrchr(p->container_id, '-');
	if (!dash)
		return NULL;
	return xasprintf("%.*s-%d", (int)(dash - p->container_id), p->container_id, attempt);
}

void logs_serve(struct agent *a, struct skiff_rpc_call *call, const Skiff__Frame *request)
{
	if (!call)
		return;
	Skiff__LogsRequest *req =
	    skiff__logs_request__unpack(NULL, request->payload.len, request->payload.data);
	if (!req) {
		skiff_rpc_call_error(call, EBADMSG, "LogsRequest does not unpack");
		return;
	}
	_cleanup_free_ char *id = NULL, *data = NULL, *dir = NULL;
	struct agent_pod *pod = core_find_pod(a, req->namespace_, req->pod);
	if (!pod) {
		skiff_rpc_call_error(call, ENOENT, "pod %s does not run on node %s", req->pod,
				     a->cfg.name);
		goto out;
	}
	/* the container named, else the first */
	struct agent_container *p = core_container(pod, req->container);
	if (!p) {
		skiff_rpc_call_error(call, ENOENT, "pod %s has no container '%s'", pod->name,
				     req->container ? req->container : "");
		goto out;
	}
	int attempt = req->previous ? p->attempt - 1 : p->attempt;
	if (attempt < 1 || !p->container_id[0]) {
		skiff_rpc_call_error(call, ENOENT, "pod %s: no %scontainer has run yet",
				     p->pod->name, req->previous ? "previous " : "");
		goto out;
	}
	id = attempt_id(p, attempt);
	const char *cname = (size_t)p->ci < p->pod->spec->spec->n_containers
				? p->pod->spec->spec->containers[p->ci]->name
				: "";
	size_t len, log_len = 0;
	data = read_logs(a, id, req->tail_lines, &len, &log_len);
	if (send_bytes(call, p->pod->name, cname, data, len) < 0) {
		skiff_rpc_call_end(call, -EPIPE, "log stream failed");
		goto out;
	}
	if (!req->follow || req->previous) {
		skiff_rpc_call_end(call, 0, NULL);
		goto out;
	}
	struct log_follower *f = xcalloc(1, sizeof(*f));
	f->agent = a;
	f->call = call;
	f->pod_uid = xstrdup(p->pod->uid);
	f->pod_name = xstrdup(p->pod->name);
	f->container = xstrdup(cname);
	f->fd = -EBADF;
	dir = xasprintf("%s/%s", a->containers_dir, id);
	follower_open(f, dir, false);
	/* go on right after what was sent (not at the end of the file, which
	 * may have grown since: those bytes would be lost) */
	struct stat stt;
	if (f->fd >= 0 && fstat(f->fd, &stt) == 0)
		lseek(f->fd, stt.st_size >= (off_t)log_len ? (off_t)log_len : 0, SEEK_SET);
	f->next = a->followers;
	a->followers = f;
	skiff_rpc_call_set_cancel(call, on_cancel, f);
	pump(f);
out:
	skiff__logs_request__free_unpacked(req, NULL);
}

void logs_container_changed(struct agent *a, struct agent_container *p)
{
	const char *cname = (size_t)p->ci < p->pod->spec->spec->n_containers
				? p->pod->spec->spec->containers[p->ci]->name
				: "";
	for (struct log_follower *f = a->followers; f; f = f->next) {
		if (!streq(f->pod_uid, p->pod->uid) || !streq(f->container, cname))
			continue;
		if (f->fd >= 0)
			pump(f);
		_cleanup_free_ char *dir = xasprintf("%s/%s", a->containers_dir, p->container_id);
		follower_open(f, dir, true);
		pump(f);
	}
}

void logs_pod_gone(struct agent *a, struct agent_pod *pod)
{
	struct log_follower *f, *next;
	for (f = a->followers; f; f = next) {
		next = f->next;
		if (!streq(f->pod_uid, pod->uid))
			continue;
		if (f->fd >= 0)
			pump(f);
		struct skiff_rpc_call *call = f->call;
		follower_free(a, f);
		skiff_rpc_call_end(call, 0, NULL);
	}
}
