/* cgroup.c — one cgroup per container with memory, cpu and pids limits, on
 * the v2 unified hierarchy or on the v1 per-controller hierarchies; OOM kill
 * counters; removal on every exit path.
 *
 * Each layout is a manager (struct skiff_cgroup_manager, as crun's cgroup
 * managers): skiff_cgroup_v1 keeps <root>/{memory,cpu,pids}/<rel>,
 * skiff_cgroup_v2 keeps <root>/<rel> with the controllers enabled in every
 * ancestor's cgroup.subtree_control. skiff_cgroup_find() picks the one
 * mounted at a root; the skiff_cgroup_* calls dispatch through cg->mgr, so
 * no caller branches on the version. Every path is below a root given by the
 * caller, so the unit test drives both managers against fake trees.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cleanup.h"
#include "runtime.h"
#include "util.h"

static const char *const v1_controllers[] = { "memory", "cpu", "pids" };

static int write_str(const char *dir, const char *file, const char *val)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		return -errno;
	return 0;
}

int skiff_cgroup_detect(const char *root)
{
	struct statfs fs;

	if (statfs(root, &fs) < 0)
		return -errno;
	return fs.f_type == CGROUP2_SUPER_MAGIC ? 1 : 0;
}

int skiff_cgroup_find(const char *root, const struct skiff_cgroup_manager **ret)
{
	int v2 = skiff_cgroup_detect(root);

	if (v2 < 0)
		return v2;
	if (v2 == 0) {
		/* v1: the controllers are mounted below (`ip netns exec`
		 * mounts a fresh /sys without them) */
		_cleanup_free_ char *mem = xasprintf("%s/memory", root);
		struct statfs fs;
		if (statfs(mem, &fs) < 0 || fs.f_type != CGROUP_SUPER_MAGIC)
			return -ENOMEDIUM;
	}
	*ret = v2 ? &skiff_cgroup_v2 : &skiff_cgroup_v1;
	return 0;
}

/* mkdir -p of rel's parent below base (which must exist); returns how many
 * of the deepest ancestors it created (those are ours to remove). With
 * subtree_control (v2) it also enables the controllers in base and in each
 * ancestor (never in the leaf: "no internal processes"). */
static int make_parents(const char *base, const char *rel, bool subtree_control)
{
	_cleanup_free_ char *copy = xstrdup(rel);
	_cleanup_free_ char *path = xstrdup(base);
	char *save = NULL, *comp, *next;
	int r, level = 0, first_made = -1;

	comp = strtok_r(copy, "/", &save);
	while (comp) {
		next = strtok_r(NULL, "/", &save);
		if (subtree_control) {
			r = write_str(path, "cgroup.subtree_control", "+memory +cpu +pids");
			if (r < 0)
				return r;
		}
		if (!next)
			break;
		char *p = xasprintf("%s/%s", path, comp);
		free(path);
		path = p;
		if (mkdir(path, 0755) == 0) {
			if (first_made < 0)
				first_made = level;
		} else if (errno != EEXIST) {
			return -errno;
		}
		level++;
		comp = next;
	}
	return first_made < 0 ? 0 : level - first_made;
}

int skiff_cgroup_v2_enable_controllers(const char *root, const char *rel)
{
	return make_parents(root, rel, true);
}

/* Remove the n deepest ancestors of base/rel's leaf that we created, while
 * they are empty: another container may be using one (EBUSY, ENOTEMPTY) or
 * may have removed it already (ENOENT); both are fine, and the first such
 * level ends the walk. */
static void remove_parents(const char *base, const char *rel, int n)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", base, rel);

	for (int i = 0; i < n; i++) {
		char *slash = strrchr(dir, '/');
		if (!slash)
			return;
		*slash = 0;
		if (rmdir(dir) < 0)
			return;
	}
}

int skiff_cgroup_v2_write_limits(const char *dir, const struct skiff_cgroup_limits *lim)
{
	char buf[64];
	int r;

	if (lim->memory > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, lim->memory);
		r = write_str(dir, "memory.max", buf);
		if (r < 0)
			return r;
		r = write_str(dir, "memory.swap.max", "0");
		if (r < 0 && r != -ENOENT && r != -EACCES)
			return r;
	}
	if (lim->cpu_milli > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64 " 100000", lim->cpu_milli * 100);
		r = write_str(dir, "cpu.max", buf);
		if (r < 0)
			return r;
	}
	if (lim->pids > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, lim->pids);
		r = write_str(dir, "pids.max", buf);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_key(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			long long v = strtoll(p + kl + 1, NULL, 10);
			return v > INT32_MAX ? INT32_MAX : (int)v;
		}
	}
	return 0;
}

int skiff_cgroup_v2_parse_oom_kills(const char *events)
{
	return parse_key(events, "oom_kill");
}

int skiff_cgroup_v1_parse_oom_kills(const char *oom_control)
{
	return parse_key(oom_control, "oom_kill");
}

static char *v1_dir(const struct skiff_cgroup *cg, const char *ctrl)
{
	return xasprintf("%s/%s/%s", cg->root, ctrl, cg->rel);
}

static char *v2_dir(const struct skiff_cgroup *cg)
{
	return xasprintf("%s/%s", cg->root, cg->rel);
}

static int v2_create(struct skiff_cgroup *cg, const struct skiff_cgroup_limits *lim)
{
	_cleanup_free_ char *dir = v2_dir(cg);
	int r;

	/* a parent we make may be removed by a container ending at the same
	 * moment (it removes the empty parents it made): then make it again */
	for (int tries = 0;; tries++) {
		r = skiff_cgroup_v2_enable_controllers(cg->root, cg->rel);
		if (r == -ENOENT && tries < 10 && access(cg->root, F_OK) == 0)
			continue;
		if (r < 0)
			return r;
		cg->parents[0] = (unsigned char)(r > cg->parents[0] ? r : cg->parents[0]);
		if (mkdir(dir, 0755) == 0)
			break;
		r = -errno;
		if (r == -ENOENT && tries < 10)
			continue;
		/* the leaf is not ours (EEXIST) or could not be made: remove
		 * only the empty parents we made */
		remove_parents(cg->root, cg->rel, cg->parents[0]);
		cg->parents[0] = 0;
		return r;
	}
	cg->created = true;
	r = skiff_cgroup_v2_write_limits(dir, lim);
	if (r < 0)
		return r;
	cg->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return cg->dirfd < 0 ? -errno : 0;
}

static int v1_create(struct skiff_cgroup *cg, const struct skiff_cgroup_limits *lim)
{
	char buf[64];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++) {
		_cleanup_free_ char *dir = v1_dir(cg, v1_controllers[i]);
		_cleanup_free_ char *base = xasprintf("%s/%s", cg->root, v1_controllers[i]);
		/* as for v2: retry when a parent vanished under us */
		for (int tries = 0;; tries++) {
			r = make_parents(base, cg->rel, false);
			if (r == -ENOENT && tries < 10 && access(base, F_OK) == 0)
				continue;
			if (r < 0)
				return r;
			cg->parents[i] = (unsigned char)(r > cg->parents[i] ? r : cg->parents[i]);
			if (mkdir(dir, 0755) == 0)
				break;
			r = -errno;
			if (r == -ENOENT && tries < 10)
				continue;
			remove_parents(base, cg->rel, cg->parents[i]);
			cg->parents[i] = 0;
			return r;
		}
		cg->created = true;
		cg->v1_made |= 1u << i;
	}
	if (lim->memory > 0) {
		_cleanup_free_ char *dir = v1_dir(cg, "memory");
		snprintf(buf, sizeof(buf), "%" PRId64, lim->memory);
		r = write_str(dir, "memory.limit_in_bytes", buf);
		if (r < 0)
			return r;
		/* Without swap accounting the file is absent: that is fine. */
		r = write_str(dir, "memory.memsw.limit_in_bytes", buf);
		(void)r;
		r = write_str(dir, "memory.swappiness", "0");
		(void)r;
	}
	if (lim->cpu_milli > 0) {
		_cleanup_free_ char *dir = v1_dir(cg, "cpu");
		r = write_str(dir, "cpu.cfs_period_us", "100000");
		if (r < 0)
			return r;
		snprintf(buf, sizeof(buf), "%" PRId64, lim->cpu_milli * 100);
		r = write_str(dir, "cpu.cfs_quota_us", buf);
		if (r < 0)
			return r;
	}
	if (lim->pids > 0) {
		_cleanup_free_ char *dir = v1_dir(cg, "pids");
		snprintf(buf, sizeof(buf), "%" PRId64, lim->pids);
		r = write_str(dir, "pids.max", buf);
		if (r < 0)
			return r;
	}
	return 0;
}

void skiff_cgroup_open(struct skiff_cgroup *cg, const struct skiff_cgroup_manager *mgr,
		       const char *root, const char *rel)
{
	*cg = (struct skiff_cgroup){
		.mgr = mgr, .root = xstrdup(root), .rel = xstrdup(rel), .dirfd = -EBADF
	};
}

int skiff_cgroup_create(struct skiff_cgroup *cg, const struct skiff_cgroup_manager *mgr,
			const char *root, const char *rel, const struct skiff_cgroup_limits *lim)
{
	int r;

	skiff_cgroup_open(cg, mgr, root, rel);
	r = mgr->create(cg, lim);
	if (r < 0)
		(void)skiff_cgroup_destroy(cg);
	return r;
}

static int v2_dirs(const struct skiff_cgroup *cg, char *out[SKIFF_CGROUP_MAX_DIRS])
{
	out[0] = v2_dir(cg);
	return 1;
}

static int v1_dirs(const struct skiff_cgroup *cg, char *out[SKIFF_CGROUP_MAX_DIRS])
{
	for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++)
		out[i] = v1_dir(cg, v1_controllers[i]);
	return (int)ARRAY_SIZE(v1_controllers);
}

int skiff_cgroup_add_pid(struct skiff_cgroup *cg, pid_t pid)
{
	char buf[32], *d[SKIFF_CGROUP_MAX_DIRS];
	int n = cg->mgr->dirs(cg, d), r = 0;

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (int i = 0; i < n; i++) {
		if (r == 0)
			r = write_str(d[i], "cgroup.procs", buf);
		free(d[i]);
	}
	return r;
}

int skiff_cgroup_open_procs(const struct skiff_cgroup *cg, int fds[SKIFF_CGROUP_MAX_DIRS])
{
	char *d[SKIFF_CGROUP_MAX_DIRS];
	int n = cg->mgr->dirs(cg, d), r = 0, opened = 0;

	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *p = xasprintf("%s/cgroup.procs", d[i]);
		free(d[i]);
		if (r < 0)
			continue;
		fds[opened] = open(p, O_WRONLY | O_CLOEXEC);
		if (fds[opened] < 0)
			r = -errno;
		else
			opened++;
	}
	if (r < 0) {
		while (opened > 0)
			close(fds[--opened]);
		return r;
	}
	return opened;
}

static int read_oom(const char *dir, const char *file, int (*parse)(const char *))
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	_cleanup_free_ char *text = NULL;
	int r;

	r = skiff_read_file(p, 65536, &text, NULL);
	if (r < 0)
		return r;
	return parse(text);
}

static int v2_oom_kills(const struct skiff_cgroup *cg)
{
	_cleanup_free_ char *dir = v2_dir(cg);
	return read_oom(dir, "memory.events", skiff_cgroup_v2_parse_oom_kills);
}

static int v1_oom_kills(const struct skiff_cgroup *cg)
{
	_cleanup_free_ char *dir = v1_dir(cg, "memory");
	return read_oom(dir, "memory.oom_control", skiff_cgroup_v1_parse_oom_kills);
}

int skiff_cgroup_oom_kills(struct skiff_cgroup *cg)
{
	return cg->mgr->oom_kills(cg);
}

/* SIGKILL whatever is still listed in dir/cgroup.procs. */
static void kill_procs(const char *dir)
{
	_cleanup_free_ char *p = xasprintf("%s/cgroup.procs", dir);
	_cleanup_free_ char *text = NULL;

	if (skiff_read_file(p, 1 << 20, &text, NULL) < 0)
		return;
	for (char *s = text; *s;) {
		char *end;
		long pid = strtol(s, &end, 10);
		if (end == s)
			break;
		if (pid > 0)
			kill((pid_t)pid, SIGKILL);
		s = end;
		while (*s == '\n')
			s++;
	}
}

static int rmdir_retry(const char *dir)
{
	for (int i = 0; i < 200; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		if (i == 0 || i % 20 == 0)
			kill_procs(dir);
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

static int v2_destroy(struct skiff_cgroup *cg)
{
	_cleanup_free_ char *dir = v2_dir(cg);
	_cleanup_free_ char *kf = xasprintf("%s/cgroup.kill", dir);
	int r;

	if (access(kf, F_OK) == 0) {
		r = write_str(dir, "cgroup.kill", "1");
		(void)r;
	}
	r = rmdir_retry(dir);
	if (r == 0)
		remove_parents(cg->root, cg->rel, cg->parents[0]);
	return r;
}

static int v1_destroy(struct skiff_cgroup *cg)
{
	int r = 0, k;

	for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++) {
		if (!(cg->v1_made & (1u << i)))
			continue; /* not ours (a clashing id): leave it */
		_cleanup_free_ char *dir = v1_dir(cg, v1_controllers[i]);
		k = rmdir_retry(dir);
		if (k < 0 && r == 0)
			r = k;
		else if (k == 0) {
			cg->v1_made &= ~(1u << i);
			_cleanup_free_ char *base = xasprintf("%s/%s", cg->root, v1_controllers[i]);
			remove_parents(base, cg->rel, cg->parents[i]);
		}
	}
	return r;
}

int skiff_cgroup_destroy(struct skiff_cgroup *cg)
{
	int r;

	if (cg->dirfd >= 0) {
		close(cg->dirfd);
		cg->dirfd = -EBADF;
	}
	if (!cg->created)
		return 0;
	r = cg->mgr->destroy(cg);
	if (r == 0)
		cg->created = false;
	return r;
}

void skiff_cgroup_done(struct skiff_cgroup *cg)
{
	if (cg->dirfd >= 0)
		close(cg->dirfd);
	cg->dirfd = -EBADF;
	free(cg->rel);
	free(cg->root);
	cg->rel = cg->root = NULL;
}

const struct skiff_cgroup_manager skiff_cgroup_v1 = {
	.name = "v1",
	.create = v1_create,
	.dirs = v1_dirs,
	.oom_kills = v1_oom_kills,
	.destroy = v1_destroy,
};

const struct skiff_cgroup_manager skiff_cgroup_v2 = {
	.name = "v2",
	.create = v2_create,
	.dirs = v2_dirs,
	.oom_kills = v2_oom_kills,
	.destroy = v2_destroy,
};
