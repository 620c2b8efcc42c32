/* disk.c — a pod's ephemeral storage, bounded: resources.limits.ephemeral-storage
 * of its containers (or the node's --ephemeral-storage-default) and the
 * sizeLimit of its emptyDir volumes.
 *
 * A pod with any such limit gets a file system of its own, sized to the sum
 * of those limits: a sparse file STATE/pods/<uid>/disk.img, formatted ext4
 * (no journal, no reserved blocks) and loop-mounted (autoclear) on
 * STATE/pods/<uid>/disk. It holds the writable layers of the limited
 * containers (disk/layers/<container id>, the runtime's --layer-dir) and the
 * emptyDir volumes (disk/volumes/<name>) that have a sizeLimit — and those
 * without one when every container is limited, as Kubernetes counts them
 * against the pod's total. A full pod file system fails writes with ENOSPC,
 * so the node's disk never loses more than the pod's limits. On top of that
 * the agent measures, once a second (statfs; a walk of the layers and
 * volumes only once the file system holds more than the smallest limit),
 * and when a container's layer or a volume reached its limit — or the file
 * system is full — it evicts the pod (core_evict): every container killed,
 * never restarted, an Event that names the limit. The shim records the
 * layer's size at each exit, so a container that dies of ENOSPC is caught
 * too, after its layer is gone. An emptyDir with medium Memory is a tmpfs
 * of size sizeLimit on STATE/pods/<uid>/volumes/<name>.
 *
 * The pod's file system lives as long as the pod (an agent restart finds it
 * mounted and adopts it); its teardown (disk_remove_dir) runs with the
 * sandbox's, off the loop. The planning and the decisions are functions
 * without I/O (disk_plan_pod, disk_over), unit-tested in test_agent_disk.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "quantity.h"
#include "util.h"

struct disk_volume {
	char *name;
	int64_t limit; /* sizeLimit (0: none) */
	bool on_fs;    /* on the pod's file system */
	bool memory;   /* a tmpfs */
};

struct pod_disk {
	struct disk_plan plan;
	int n_limits;
	int64_t *limits; /* each container's (index ci; 0: none, its layer stays the runtime's) */
	size_t n_volumes;
	struct disk_volume *volumes;
	bool ready;   /* made or adopted */
	bool evicted; /* one eviction per pod */
};

/* ---- planning and decisions (no I/O) ------------------------------------ */

int64_t disk_container_limit(const Skiff__Container *c, int64_t node_default)
{
	const Skiff__ResourceList *l = c && c->resources ? c->resources->limits : NULL;
	if (l && l->ephemeral_storage > 0)
		return l->ephemeral_storage;
	return node_default > 0 ? node_default : 0;
}

static bool volume_memory(const Skiff__Volume *v)
{
	return v->empty_dir && v->empty_dir->medium && streq(v->empty_dir->medium, "Memory");
}

void disk_plan_pod(const Skiff__PodSpec *ps, int64_t node_default, struct disk_plan *ret)
{
	struct disk_plan p = { .fs_bytes = 0, .shared = ps->n_containers > 0 };
	for (size_t i = 0; i < ps->n_containers; i++) {
		int64_t l = disk_container_limit(ps->containers[i], node_default);
		p.fs_bytes += l;
		p.shared = p.shared && l > 0;
	}
	for (size_t i = 0; i < ps->n_volumes; i++) {
		const Skiff__Volume *v = ps->volumes[i];
		if (v->empty_dir && !volume_memory(v))
			p.fs_bytes += v->empty_dir->size_limit;
	}
	if (p.fs_bytes > 0 && p.fs_bytes < DISK_MIN_FS_BYTES)
		p.fs_bytes = DISK_MIN_FS_BYTES;
	if (!p.fs_bytes)
		p.shared = false;
	*ret = p;
}

bool disk_volume_on_fs(const struct disk_plan *plan, const Skiff__Volume *v)
{
	if (!plan->fs_bytes || !v->empty_dir || v->host_path || volume_memory(v))
		return false;
	return v->empty_dir->size_limit > 0 || plan->shared;
}

int64_t disk_effective_limit(int64_t limit, int64_t fs_bytes, int64_t capacity)
{
	if (limit <= 0 || fs_bytes <= 0 || capacity <= 0 || capacity >= fs_bytes)
		return limit;
	return (int64_t)((double)limit * (double)capacity / (double)fs_bytes);
}

/* within this of its limit counts as at it: a writer's last block that
 * does not fit fails as a whole */
static int64_t slack(int64_t limit)
{
	return limit / 16 < DISK_FULL_BYTES ? limit / 16 : DISK_FULL_BYTES;
}

int disk_over(const struct disk_use *u, int n, int64_t fs_free)
{
	int best = -1;
	double best_ratio = -1;
	for (int i = 0; i < n; i++) {
		if (u[i].limit <= 0)
			continue;
		if (u[i].used + slack(u[i].limit) >= u[i].limit)
			return i;
		double ratio = (double)u[i].used / (double)u[i].limit;
		if (ratio > best_ratio) {
			best_ratio = ratio;
			best = i;
		}
	}
	/* full before anyone reached a limit (the file system's own metadata
	 * takes a little of it): the one nearest its limit is the writer */
	return fs_free >= 0 && fs_free < DISK_FULL_BYTES ? best : -1;
}

char *disk_evict_message(bool volume, const char *name, int64_t limit, int64_t used)
{
	char l[32], u[32];
	skiff_format_memory(limit, l, sizeof(l));
	skiff_format_memory(used, u, sizeof(u));
	if (volume)
		return xasprintf("emptyDir sizeLimit %s of volume %s reached (%s used)", l, name,
				 u);
	return xasprintf("ephemeral-storage limit %s of container %s reached (%s used)", l, name,
			 u);
}

bool disk_exit_reached(int64_t limit, int64_t layer_bytes, int64_t layer_free)
{
	if (limit <= 0 || layer_bytes < 0)
		return false;
	return layer_bytes + slack(limit) >= limit ||
	       (layer_free >= 0 && layer_free < DISK_FULL_BYTES);
}

/* ---- the pod's file system ---------------------------------------------- */

static char *disk_mnt(const char *pod_dir)
{
	return xasprintf("%s/disk", pod_dir);
}

static bool is_mountpoint(const char *path)
{
	struct stat st, up;
	_cleanup_free_ char *parent = xasprintf("%s/..", path);
	return stat(path, &st) == 0 && stat(parent, &up) == 0 && st.st_dev != up.st_dev;
}

/* Is img the backing file of a loop device already (a mount this agent
 * cannot see)? Mounting it twice would corrupt it. */
static bool loop_backs(const char *img)
{
	char real[4096];
	if (!realpath(img, real))
		return false;
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!skiff_startswith(de->d_name, "loop"))
			continue;
		_cleanup_free_ char *p = xasprintf("/sys/block/%s/loop/backing_file", de->d_name);
		_cleanup_free_ char *bf = NULL;
		size_t len;
		if (skiff_read_file(p, 8192, &bf, &len) < 0)
			continue;
		bf[strcspn(bf, "\n")] = 0;
		if (streq(bf, real))
			return true;
	}
	return false;
}

/* mkfs.ext4 on path: no journal (the data does not outlive the pod), no
 * blocks reserved for root, one inode per 16 KiB, inode tables left to be
 * zeroed lazily (and never, see noinit_itable), so the sparse file stays
 * small until written. */
static char *find_mkfs(void)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = xasprintf("%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/mkfs.ext4", d);
		if (d[0] == '/' && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int run_mkfs(const char *path, char **ret_msg)
{
	_cleanup_free_ char *mkfs = find_mkfs();
	if (!mkfs) {
		*ret_msg = xstrdup("mkfs.ext4 not found (install e2fsprogs)");
		return -ENOENT;
	}
	char *argv[] = { mkfs,
			 "-q",
			 "-F",
			 "-O",
			 "^has_journal",
			 "-m",
			 "0",
			 "-i",
			 "16384",
			 "-E",
			 "lazy_itable_init=1,nodiscard",
			 (char *)path,
			 NULL };
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	int fds[3] = { -1, -1, pipefd[1] };
	pid_t pid;
	int pfd = spawn_process(argv, fds, 3, false, &pid);
	close(pipefd[1]);
	if (pfd < 0) {
		close(pipefd[0]);
		*ret_msg = xasprintf("cannot run mkfs.ext4 (e2fsprogs): %s", strerror(-pfd));
		return pfd;
	}
	char err[512];
	size_t n = 0;
	ssize_t k;
	while ((k = read(pipefd[0], err + n, sizeof(err) - 1 - n)) > 0 || (k < 0 && errno == EINTR))
		if (k > 0)
			n += (size_t)k;
	err[n] = 0;
	close(pipefd[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	close(pfd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		*ret_msg = xasprintf("mkfs.ext4 %s failed: %.*s", path, (int)strcspn(err, "\n"),
				     err[0] ? err : "(no message)");
		return -EIO;
	}
	return 0;
}

/* Attach img to a free loop device that detaches itself at the last
 * unmount; the open device's fd, its name in dev. */
static int loop_attach(const char *img, char *dev, size_t len)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	_cleanup_close_ int ffd = open(img, O_RDWR | O_CLOEXEC);
	if (ctl < 0 || ffd < 0)
		return -errno;
	for (int tries = 0; tries < 16; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return -errno;
		snprintf(dev, len, "/dev/loop%d", n);
		int lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			return -errno;
		struct loop_config cfg = { .fd = (uint32_t)ffd };
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", img);
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
			return lfd;
		int e = errno;
		close(lfd);
		if (e != EBUSY)
			return -e;
		/* taken between GET_FREE and CONFIGURE by someone else: next */
	}
	return -EBUSY;
}

static int fs_mount(const char *img, const char *mnt, char **ret_msg)
{
	char dev[64];
	int lfd = loop_attach(img, dev, sizeof(dev));
	if (lfd < 0) {
		*ret_msg = xasprintf("cannot attach %s to a loop device: %s", img, strerror(-lfd));
		return lfd;
	}
	int r = 0;
	if (mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV, "noinit_itable") < 0) {
		r = -errno;
		*ret_msg = xasprintf("cannot mount %s (%s) on %s: %s", img, dev, mnt, strerror(-r));
	}
	close(lfd); /* autoclear: the device goes with the last unmount */
	return r;
}

static int fs_ensure(const char *pod_dir, int64_t bytes, char **ret_msg)
{
	_cleanup_free_ char *mnt = disk_mnt(pod_dir);
	_cleanup_free_ char *img = xasprintf("%s/disk.img", pod_dir);
	_cleanup_free_ char *tmp = xasprintf("%s/.disk.img.tmp", pod_dir);
	int r;

	if (mkdir(mnt, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		*ret_msg = xasprintf("cannot create %s: %s", mnt, strerror(-r));
		return r;
	}
	if (is_mountpoint(mnt))
		return 0; /* made before this agent started */
	if (access(img, F_OK) == 0 && loop_backs(img)) {
		*ret_msg =
		    xasprintf("%s is in use by a loop device but not mounted on %s", img, mnt);
		return -EBUSY;
	}
	if (access(img, F_OK) < 0) {
		_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, bytes) < 0) {
			r = -errno;
			*ret_msg = xasprintf("cannot create %s: %s", tmp, strerror(-r));
			unlink(tmp);
			return r;
		}
		r = run_mkfs(tmp, ret_msg);
		if (r >= 0 && rename(tmp, img) < 0) {
			r = -errno;
			*ret_msg = xasprintf("cannot rename %s: %s", tmp, strerror(-r));
		}
		if (r < 0) {
			unlink(tmp);
			return r;
		}
	}
	r = fs_mount(img, mnt, ret_msg);
	if (r < 0)
		return r;
	_cleanup_free_ char *layers = xasprintf("%s/layers", mnt);
	_cleanup_free_ char *vols = xasprintf("%s/volumes", mnt);
	if ((mkdir(layers, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(vols, 0755) < 0 && errno != EEXIST)) {
		r = -errno;
		*ret_msg = xasprintf("cannot create %s/{layers,volumes}: %s", mnt, strerror(-r));
		return r;
	}
	return 0;
}

static int tmpfs_ensure(const char *dir, int64_t limit, char **ret_msg)
{
	int r = skiff_mkdir_p(dir, 0755);
	if (r < 0) {
		*ret_msg = xasprintf("cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if (is_mountpoint(dir))
		return 0;
	_cleanup_free_ char *opts =
	    limit > 0 ? xasprintf("mode=0755,size=%" PRId64, limit) : xstrdup("mode=0755");
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		r = -errno;
		*ret_msg = xasprintf("cannot mount a tmpfs on %s: %s", dir, strerror(-r));
		return r;
	}
	return 0;
}

static void disk_arm(struct agent *a);

/* anything to measure: a pod file system or a sized memory volume */
static bool watched(const struct pod_disk *d)
{
	if (!d || !d->ready || d->evicted)
		return false;
	if (d->plan.fs_bytes)
		return true;
	for (size_t i = 0; i < d->n_volumes; i++)
		if (d->volumes[i].memory && d->volumes[i].limit > 0)
			return true;
	return false;
}

static struct pod_disk *disk_new(struct agent_pod *pod)
{
	struct agent *a = pod->agent;
	const Skiff__PodSpec *ps = pod->spec->spec;
	struct pod_disk *d = xcalloc(1, sizeof(*d));
	disk_plan_pod(ps, a->cfg.ephemeral_default, &d->plan);
	d->n_limits = pod->n_containers;
	d->limits = xcalloc((size_t)d->n_limits, sizeof(*d->limits));
	for (int ci = 0; ci < d->n_limits && (size_t)ci < ps->n_containers; ci++)
		d->limits[ci] = disk_container_limit(ps->containers[ci], a->cfg.ephemeral_default);
	d->n_volumes = ps->n_volumes;
	d->volumes = xcalloc(d->n_volumes ? d->n_volumes : 1, sizeof(*d->volumes));
	for (size_t i = 0; i < ps->n_volumes; i++) {
		const Skiff__Volume *v = ps->volumes[i];
		d->volumes[i].name = xstrdup(v->name);
		d->volumes[i].limit = v->empty_dir ? v->empty_dir->size_limit : 0;
		d->volumes[i].on_fs = disk_volume_on_fs(&d->plan, v);
		d->volumes[i].memory = !v->host_path && volume_memory(v);
	}
	return d;
}

void disk_pod_free(struct agent_pod *pod)
{
	struct pod_disk *d = pod->disk;
	if (!d)
		return;
	for (size_t i = 0; i < d->n_volumes; i++)
		free(d->volumes[i].name);
	free(d->volumes);
	free(d->limits);
	free(d);
	pod->disk = NULL;
}

int disk_ensure(struct agent_pod *pod, char **ret_msg)
{
	struct agent *a = pod->agent;
	if (!pod->disk)
		pod->disk = disk_new(pod);
	struct pod_disk *d = pod->disk;
	if (d->ready)
		return 0;
	_cleanup_free_ char *dir = state_pod_dir(a, pod->uid);
	int r = skiff_mkdir_p(dir, 0700);
	if (r < 0) {
		*ret_msg = xasprintf("cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if (d->plan.fs_bytes > 0) {
		int64_t t0 = skiff_mono_ms();
		r = fs_ensure(dir, d->plan.fs_bytes, ret_msg);
		if (r < 0)
			return r;
		char sz[32];
		log_info("pod %s: ephemeral storage %s on %s/disk (%" PRId64 " ms)", pod->name,
			 skiff_format_memory(d->plan.fs_bytes, sz, sizeof(sz)), dir,
			 skiff_mono_ms() - t0);
	}
	for (size_t i = 0; i < d->n_volumes; i++) {
		if (!d->volumes[i].memory)
			continue;
		_cleanup_free_ char *v = xasprintf("%s/volumes/%s", dir, d->volumes[i].name);
		r = tmpfs_ensure(v, d->volumes[i].limit, ret_msg);
		if (r < 0)
			return r;
	}
	d->ready = true;
	if (watched(d))
		disk_arm(a);
	return 0;
}

char *disk_layer_dir(struct agent_pod *pod, int ci, const char *id)
{
	struct pod_disk *d = pod->disk;
	if (!d || !d->plan.fs_bytes || ci >= d->n_limits || d->limits[ci] <= 0)
		return NULL;
	_cleanup_free_ char *dir = state_pod_dir(pod->agent, pod->uid);
	return xasprintf("%s/disk/layers/%s", dir, id);
}

char *disk_volume_dir(struct agent_pod *pod, const char *name)
{
	_cleanup_free_ char *dir = state_pod_dir(pod->agent, pod->uid);
	struct pod_disk *d = pod->disk;
	for (size_t i = 0; d && i < d->n_volumes; i++)
		if (d->volumes[i].on_fs && streq(d->volumes[i].name, name))
			return xasprintf("%s/disk/volumes/%s", dir, name);
	return xasprintf("%s/volumes/%s", dir, name);
}

/* ---- watching ----------------------------------------------------------- */

static int64_t du_layer(const char *mnt, const char *id)
{
	if (!id || !id[0])
		return 0;
	_cleanup_free_ char *p = xasprintf("%s/layers/%s", mnt, id);
	int64_t n = skiff_du_bytes(p);
	return n > 0 ? n : 0;
}

static void evict(struct agent_pod *pod, bool volume, const char *name, int64_t limit, int64_t used)
{
	_cleanup_free_ char *m = disk_evict_message(volume, name, limit, used);
	pod->disk->evicted = true;
	core_evict(pod, m);
}

/* Measure the pod's limited consumers; evict when one reached its limit. */
static void check_pod(struct agent_pod *pod)
{
	struct pod_disk *d = pod->disk;
	if (!d || !d->ready || d->evicted)
		return;
	_cleanup_free_ char *dir = state_pod_dir(pod->agent, pod->uid);
	struct statfs sfs;

	for (size_t i = 0; i < d->n_volumes; i++) {
		_cleanup_free_ char *v = xasprintf("%s/volumes/%s", dir, d->volumes[i].name);
		if (!d->volumes[i].memory || d->volumes[i].limit <= 0 || statfs(v, &sfs) < 0)
			continue;
		int64_t used = (int64_t)(sfs.f_blocks - sfs.f_bfree) * (int64_t)sfs.f_bsize;
		int64_t free_b = (int64_t)sfs.f_bavail * (int64_t)sfs.f_bsize;
		struct disk_use u = { d->volumes[i].limit, used };
		if (disk_over(&u, 1, free_b) == 0) {
			evict(pod, true, d->volumes[i].name, d->volumes[i].limit, used);
			return;
		}
	}
	if (!d->plan.fs_bytes)
		return;
	_cleanup_free_ char *mnt = disk_mnt(dir);
	if (statfs(mnt, &sfs) < 0)
		return;
	int64_t used = (int64_t)(sfs.f_blocks - sfs.f_bfree) * (int64_t)sfs.f_bsize;
	int64_t free_b = (int64_t)sfs.f_bavail * (int64_t)sfs.f_bsize;
	int64_t fs = d->plan.fs_bytes, cap = used + free_b;
	int64_t smallest = INT64_MAX;
	for (int ci = 0; ci < d->n_limits; ci++)
		if (d->limits[ci] > 0 && d->limits[ci] < smallest)
			smallest = d->limits[ci];
	for (size_t i = 0; i < d->n_volumes; i++)
		if (d->volumes[i].on_fs && d->volumes[i].limit > 0 &&
		    d->volumes[i].limit < smallest)
			smallest = d->volumes[i].limit;
	if (used + slack(disk_effective_limit(smallest, fs, cap)) <
		disk_effective_limit(smallest, fs, cap) &&
	    free_b >= DISK_FULL_BYTES)
		return; /* nobody can be at a limit yet: no walk */

	/* each one's share of what the file system can really hold (its own
	 * metadata takes a few per cent of the image) */
	size_t n = 0, max = (size_t)d->n_limits + d->n_volumes;
	_cleanup_free_ struct disk_use *uses = xcalloc(max ? max : 1, sizeof(*uses));
	_cleanup_free_ int *which = xcalloc(max ? max : 1, sizeof(*which)); /* ci, or -1-vol */
	for (int ci = 0; ci < d->n_limits; ci++) {
		struct agent_container *c = pod->containers[ci];
		if (d->limits[ci] <= 0 || !c)
			continue;
		uses[n].limit = disk_effective_limit(d->limits[ci], fs, cap);
		uses[n].used = du_layer(mnt, c->container_id) +
			       (c->ev_old_shim ? du_layer(mnt, c->old_container_id) : 0);
		which[n++] = ci;
	}
	for (size_t i = 0; i < d->n_volumes; i++) {
		if (!d->volumes[i].on_fs || d->volumes[i].limit <= 0)
			continue;
		_cleanup_free_ char *v = xasprintf("%s/volumes/%s", mnt, d->volumes[i].name);
		int64_t u = skiff_du_bytes(v);
		uses[n].limit = disk_effective_limit(d->volumes[i].limit, fs, cap);
		uses[n].used = u > 0 ? u : 0;
		which[n++] = -1 - (int)i;
	}
	int k = disk_over(uses, (int)n, free_b);
	if (k < 0)
		return;
	if (which[k] >= 0)
		evict(pod, false, core_container_name(pod->containers[which[k]]),
		      d->limits[which[k]], uses[k].used);
	else
		evict(pod, true, d->volumes[-1 - which[k]].name, d->volumes[-1 - which[k]].limit,
		      uses[k].used);
}

bool disk_exit_check(struct agent_container *p, const struct shim_state *st)
{
	struct agent_pod *pod = p->pod;
	struct pod_disk *d = pod->disk;
	if (!d || d->evicted || p->ci >= d->n_limits || d->limits[p->ci] <= 0)
		return false;
	_cleanup_free_ char *dir = state_pod_dir(pod->agent, pod->uid);
	_cleanup_free_ char *mnt = disk_mnt(dir);
	struct statfs sfs;
	int64_t cap = 0;
	if (statfs(mnt, &sfs) == 0)
		cap = (int64_t)(sfs.f_blocks - sfs.f_bfree + sfs.f_bavail) * (int64_t)sfs.f_bsize;
	int64_t eff = disk_effective_limit(d->limits[p->ci], d->plan.fs_bytes, cap);
	if (!disk_exit_reached(eff, st->layer_bytes, st->layer_free))
		return false;
	evict(pod, false, core_container_name(p), d->limits[p->ci], st->layer_bytes);
	return true;
}

bool disk_full(struct agent_container *p)
{
	struct pod_disk *d = p->pod->disk;
	if (!d || !d->plan.fs_bytes || p->ci >= d->n_limits || d->limits[p->ci] <= 0)
		return false;
	_cleanup_free_ char *dir = state_pod_dir(p->agent, p->pod->uid);
	_cleanup_free_ char *mnt = disk_mnt(dir);
	struct statfs sfs;
	return statfs(mnt, &sfs) == 0 &&
	       (int64_t)sfs.f_bavail * (int64_t)sfs.f_bsize < DISK_FULL_BYTES;
}

static void on_disk_timer(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	(void)fd;
	(void)what;
	bool any = false;
	for (struct agent_pod *pod = a->pods, *next; pod; pod = next) {
		next = pod->next; /* an eviction never frees a pod, but be safe */
		if (watched(pod->disk)) {
			any = true;
			check_pod(pod);
		}
	}
	if (any)
		disk_arm(a);
}

static void disk_arm(struct agent *a)
{
	if (!a->base)
		return;
	if (!a->ev_disk)
		a->ev_disk = evtimer_new(a->base, on_disk_timer, a);
	if (evtimer_pending(a->ev_disk, NULL))
		return;
	struct timeval tv = { DISK_CHECK_MS / 1000, (DISK_CHECK_MS % 1000) * 1000 };
	evtimer_add(a->ev_disk, &tv);
}

/* ---- teardown ----------------------------------------------------------- */

static void unmount_dir(const char *path)
{
	if (!is_mountpoint(path))
		return;
	/* busy (a shim still removing a layer): detached now, released with
	 * its last user — and the loop device with it (autoclear) */
	if (umount2(path, 0) < 0 && umount2(path, MNT_DETACH) < 0)
		log_warn("cannot unmount %s: %m", path);
}

void disk_remove_dir(const char *pod_dir)
{
	_cleanup_free_ char *vols = xasprintf("%s/volumes", pod_dir);
	_cleanup_closedir_ DIR *d = opendir(vols);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *v = xasprintf("%s/%s", vols, de->d_name);
		unmount_dir(v);
	}
	_cleanup_free_ char *mnt = disk_mnt(pod_dir);
	unmount_dir(mnt);
	_cleanup_free_ char *img = xasprintf("%s/disk.img", pod_dir);
	_cleanup_free_ char *tmp = xasprintf("%s/.disk.img.tmp", pod_dir);
	unlink(img);
	unlink(tmp);
}
