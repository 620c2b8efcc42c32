/* state.c — the agent's state dir, what survives an agent restart:
 *
 *   STATE/node.crt, node.key, ca.crt   identity from the join
 *   STATE/node.state                   "epoch=N\npod_cidr=CIDR\n"
 *   STATE/pods/<uid>/pod.pb            the bound Pod as the brain sent it
 *   STATE/pods/<uid>/run               key=value: attempt, restarts, ip, last exit
 *   STATE/pods/<uid>/volumes/<name>/   emptyDir volumes
 *   STATE/pods/<uid>/endpoints/<svc>   the pod's endpoints files
 *   STATE/containers/<id>/             the shims' state dirs (state, log)
 *   STATE/images/<name:tag>/           tar images, unpacked once
 *
 * Every file is replaced atomically, so a kill -9 at any moment leaves either
 * the old or the new version.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "util.h"

/* Pod state is replaced atomically but not fsynced: it only has to survive
 * the agent process, never a machine crash (after which no container runs
 * either), and 100 pods starting at once must not wait for 200 fsyncs. */
static int write_replace(const char *path, const void *data, size_t len)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = skiff_write_full(fd, data, len);
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int state_init(struct agent *a)
{
	int r = skiff_mkdir_p(a->cfg.state_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "cannot create state dir %s: %m", a->cfg.state_dir);
	_cleanup_free_ char *pods = xasprintf("%s/pods", a->cfg.state_dir);
	a->containers_dir = xasprintf("%s/containers", a->cfg.state_dir);
	if ((r = skiff_mkdir_p(pods, 0700)) < 0 || (r = skiff_mkdir_p(a->containers_dir, 0700)) < 0)
		return log_error_errno(r, "cannot create %s/{pods,containers}: %m",
				       a->cfg.state_dir);
	return 0;
}

const char *state_run_get(const char *run, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	const char *p = run;
	while (p && *p) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t n = strcspn(v, "\n");
			if (n >= len)
				n = len - 1;
			memcpy(buf, v, n);
			buf[n] = 0;
			return buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

int state_load_node(struct agent *a)
{
	_cleanup_free_ char *path = xasprintf("%s/node.state", a->cfg.state_dir);
	_cleanup_free_ char *data = NULL;
	char buf[64];
	int r = skiff_read_file(path, 4096, &data, NULL);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (state_run_get(data, "epoch", buf, sizeof(buf)))
		a->epoch = strtoull(buf, NULL, 10);
	if (state_run_get(data, "pod_cidr", buf, sizeof(buf)))
		snprintf(a->pod_cidr, sizeof(a->pod_cidr), "%s", buf);
	return 0;
}

int state_save_node(struct agent *a)
{
	_cleanup_free_ char *path = xasprintf("%s/node.state", a->cfg.state_dir);
	_cleanup_free_ char *data =
	    xasprintf("epoch=%" PRIu64 "\npod_cidr=%s\n", a->epoch, a->pod_cidr);
	return skiff_write_file_atomic(path, data, strlen(data), 0600);
}

int state_have_certs(struct agent *a)
{
	_cleanup_free_ char *p = xasprintf("%s/node.crt", a->cfg.state_dir);
	return access(p, R_OK) == 0;
}

static char *state_path(struct agent *a, const char *name)
{
	return xasprintf("%s/%s", a->cfg.state_dir, name);
}

/* Finish a renewal cut short: both .next files were written before the
 * first rename, so node.crt.next means node.key.next (or node.key, when it
 * was renamed already) is its key. */
static void finish_replace(struct agent *a)
{
	_cleanup_free_ char *kn = state_path(a, "node.key.next"),
			    *cn = state_path(a, "node.crt.next");
	_cleanup_free_ char *k = state_path(a, "node.key"), *c = state_path(a, "node.crt");
	if (access(cn, F_OK) == 0) {
		if (access(kn, F_OK) == 0 && rename(kn, k) < 0)
			return;
		(void)rename(cn, c);
	} else
		(void)unlink(kn);
}

int state_replace_cert(struct agent *a, const char *cert, const char *key)
{
	_cleanup_free_ char *kn = state_path(a, "node.key.next"),
			    *cn = state_path(a, "node.crt.next");
	int r = skiff_write_file_atomic(kn, key, strlen(key), 0600);
	if (r >= 0)
		r = skiff_write_file_atomic(cn, cert, strlen(cert), 0600);
	if (r < 0) {
		unlink(kn);
		unlink(cn);
		return log_error_errno(r, "cannot write the renewed certificate to %s: %m",
				       a->cfg.state_dir);
	}
	finish_replace(a);
	return 0;
}

int state_join_key(struct agent *a, char **ret_key)
{
	_cleanup_free_ char *nk = state_path(a, "node.key"), *jk = state_path(a, "join.key");
	if (skiff_read_file(nk, 1 << 20, ret_key, NULL) == 0)
		return 0;
	if (skiff_read_file(jk, 1 << 20, ret_key, NULL) == 0)
		return 0;
	_cleanup_free_ char *key = NULL, *csr = NULL;
	int r = skiff_pki_key_and_csr(a->cfg.name, &key, &csr);
	if (r >= 0)
		r = skiff_write_file_atomic(jk, key, strlen(key), 0600);
	if (r < 0)
		return log_error_errno(r, "cannot make %s: %m", jk);
	*ret_key = TAKE_PTR(key);
	return 0;
}

void state_join_done(struct agent *a)
{
	_cleanup_free_ char *jk = state_path(a, "join.key");
	(void)unlink(jk);
}

int state_load_certs(struct agent *a, char **ret_ca, char **ret_cert, char **ret_key)
{
	finish_replace(a);
	const char *names[3] = { "ca.crt", "node.crt", "node.key" };
	char *out[3] = { NULL, NULL, NULL };
	for (int i = 0; i < 3; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", a->cfg.state_dir, names[i]);
		int r = skiff_read_file(p, 1 << 20, &out[i], NULL);
		if (r < 0) {
			for (int j = 0; j < i; j++)
				free(out[j]);
			return log_error_errno(r, "cannot read %s: %m", p);
		}
	}
	*ret_ca = out[0];
	*ret_cert = out[1];
	*ret_key = out[2];
	return 0;
}

int state_save_certs(struct agent *a, const char *ca, const char *cert, const char *key)
{
	const char *names[3] = { "node.key", "ca.crt", "node.crt" };
	const char *data[3] = { key, ca, cert };
	for (int i = 0; i < 3; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", a->cfg.state_dir, names[i]);
		int r = skiff_write_file_atomic(p, data[i], strlen(data[i]), 0600);
		if (r < 0)
			return log_error_errno(r, "cannot write %s: %m", p);
	}
	return 0;
}

char *state_pod_dir(struct agent *a, const char *uid)
{
	return xasprintf("%s/pods/%s", a->cfg.state_dir, uid);
}

int state_save_pod_run(struct agent_container *p)
{
	_cleanup_free_ char *dir = state_pod_dir(p->agent, p->pod->uid);
	/* one run file per container: run, run.1, run.2 ... */
	_cleanup_free_ char *path =
	    p->ci ? xasprintf("%s/run.%d", dir, p->ci) : xasprintf("%s/run", dir);
	_cleanup_free_ char *data =
	    xasprintf("attempt=%d\ncontainer_id=%s\nrestarts=%d\nip=%s\nlast_exit_code=%d\n"
		      "last_reason=%s\nlast_finished_ms=%" PRId64 "\nfirst_start_ms=%" PRId64
		      "\nnext_backoff_ms=%" PRId64 "\nevicted=%s\n",
		      p->attempt, p->container_id, p->restarts, p->pod->ip, p->last_exit_code,
		      p->last_reason ? p->last_reason : "", p->last_finished_ms, p->first_start_ms,
		      p->next_backoff_ms, p->evicted ? p->evicted : "");
	return write_replace(path, data, strlen(data));
}

char *state_read_run(struct agent *a, const char *uid, int ci)
{
	_cleanup_free_ char *dir = state_pod_dir(a, uid);
	_cleanup_free_ char *path = xasprintf("%s/run.%d", dir, ci);
	char *run = NULL;
	if (skiff_read_file(path, 64 * 1024, &run, NULL) < 0)
		return xstrdup("");
	return run;
}

int state_save_pod(struct agent_pod *pod)
{
	_cleanup_free_ char *dir = state_pod_dir(pod->agent, pod->uid);
	_cleanup_free_ char *path = xasprintf("%s/pod.pb", dir);
	int r = skiff_mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	size_t len = skiff__pod__get_packed_size(pod->spec);
	_cleanup_free_ uint8_t *buf = xmalloc(len);
	skiff__pod__pack(pod->spec, buf);
	r = write_replace(path, buf, len);
	for (int i = 0; i < pod->n_containers && r >= 0; i++)
		if (pod->containers[i])
			r = state_save_pod_run(pod->containers[i]);
	return r;
}

struct gone {
	char *dir;
	char *uid;
};

/* The pod's sandbox and files, in a child process (state_remove_pod). */
static void remove_gone(void *arg)
{
	struct gone *g = arg;
	podnet_remove_dir(g->dir, g->uid);
	disk_remove_dir(g->dir);
	skiff_rm_rf(g->dir);
}

static void gone_free(void *arg)
{
	struct gone *g = arg;
	free(g->dir);
	free(g->uid);
	free(g);
}

int state_remove_pod(struct agent *a, const char *uid)
{
	/* rename first: a kill -9 mid-way never leaves a half-removed pod that
	 * looks bound ('.'-names are skipped when loading, and removed then) */
	_cleanup_free_ char *dir = state_pod_dir(a, uid);
	_cleanup_free_ char *gone = xasprintf("%s/pods/.gone-%s", a->cfg.state_dir, uid);
	if (rename(dir, gone) < 0) {
		if (errno == ENOENT)
			return 0;
		podnet_remove_dir(dir, uid);
		disk_remove_dir(dir);
		return skiff_rm_rf(dir);
	}
	/* The veth's deletion alone takes ~30 ms in the kernel: off the
	 * loop, so no start waits for it. */
	struct gone *g = xmalloc(sizeof(*g));
	g->dir = TAKE_PTR(gone);
	g->uid = xstrdup(uid);
	if (a->base && spawn_call(a->base, remove_gone, gone_free, g) >= 0)
		return 0;
	remove_gone(g);
	gone_free(g);
	return 0;
}

int state_load_pods(struct agent *a,
		    int (*fn)(struct agent *a, Skiff__Pod *spec, const char *run, void *ud),
		    void *ud)
{
	_cleanup_free_ char *pods = xasprintf("%s/pods", a->cfg.state_dir);
	_cleanup_closedir_ DIR *d = opendir(pods);
	struct dirent *de;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.') {
			if (skiff_startswith(de->d_name, ".gone-")) {
				_cleanup_free_ char *g = xasprintf("%s/%s", pods, de->d_name);
				podnet_remove_dir(g, de->d_name + strlen(".gone-"));
				disk_remove_dir(g);
				skiff_rm_rf(g);
			}
			continue;
		}
		_cleanup_free_ char *pb = xasprintf("%s/%s/pod.pb", pods, de->d_name);
		_cleanup_free_ char *runp = xasprintf("%s/%s/run", pods, de->d_name);
		_cleanup_free_ char *data = NULL, *run = NULL;
		size_t len;
		if (skiff_read_file(pb, 4 << 20, &data, &len) < 0) {
			log_warn("state: %s unreadable, removing the pod's state", pb);
			state_remove_pod(a, de->d_name);
			continue;
		}
		Skiff__Pod *spec = skiff__pod__unpack(NULL, len, (const uint8_t *)data);
		if (!spec || !spec->metadata || !spec->spec) {
			log_warn("state: %s is corrupt, removing the pod's state", pb);
			if (spec)
				skiff__pod__free_unpacked(spec, NULL);
			state_remove_pod(a, de->d_name);
			continue;
		}
		skiff_read_file(runp, 64 * 1024, &run, NULL);
		fn(a, spec, run ? run : "", ud);
	}
	return 0;
}
