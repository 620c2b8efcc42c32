/* mounts.c — the container's file system view, built inside its new mount
 * namespace: the image read-only with a writable overlay (upper and work dirs
 * in the per-container layer dir, or in a tmpfs private to the container's
 * mount namespace for `run` and when that file system cannot hold an
 * overlay upper; a read-only bind plus tmpfs scratch dirs when the kernel has
 * no overlayfs), /proc, a minimal /dev (bind-mounted null zero full random
 * urandom tty, devpts, shm, mqueue, the usual symlinks), read-only /sys,
 * volumes, pivot_root, then masked and read-only /proc and /sys paths.
 *
 * Every writable mount is nodev, so a node made with CAP_MKNOD is useless;
 * the only usable devices are the six bind-mounted ones.
 *
 * Runs in the forked container process: errors are returned as -errno with
 * one line in *ret_errmsg (free()); nothing is logged here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Paths here are bounded by PATH_MAX; a truncated one fails to mount. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "cleanup.h"
#include "runtime.h"
#include "util.h"

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static int fail(char **ret_errmsg, int e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char **ret_errmsg, int e, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	*ret_errmsg = xasprintf("%s: %s", what, strerror(e));
	return -e;
}

static int mnt(const char *src, const char *dst, const char *type, unsigned long flags,
	       const char *data, char **ret_errmsg)
{
	if (mount(src, dst, type, flags, data) < 0)
		return fail(ret_errmsg, errno, "cannot mount %s on %s",
			    type  ? type
			    : src ? src
				  : "(remount)",
			    dst);
	return 0;
}

/* Make sure path exists as a directory (or file) so something can be
 * mounted on it. */
static int ensure(const char *path, bool dir)
{
	if (dir) {
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		return 0;
	}
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* A path for an overlayfs option: ',' ':' and '\\' escaped with '\\' (image
 * directories are named NAME:TAG). */
static void ovl_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in && o + 2 < len; in++) {
		if (*in == ',' || *in == ':' || *in == '\\')
			out[o++] = '\\';
		out[o++] = *in;
	}
	out[o] = 0;
}

/* lowerdir= for c's layers, topmost first (overlayfs order). When the
 * absolute paths would not fit in the page of options the kernel takes and
 * the layers share one parent directory (an image store's layers/sha256/),
 * they are named relative to it and *parent says where to mount from. */
static int lower_dirs(const struct skiff_config *c, char *out, size_t len, char *parent,
		      size_t plen, char **ret_errmsg)
{
	size_t o = 0, pl = 0;
	const char *slash = strrchr(c->layers[0], '/');

	parent[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		o = 0;
		for (size_t i = c->n_layers; i-- > 0;) {
			char e[8192];
			const char *l = c->layers[i];
			if (pass == 1)
				l += pl + 1;
			ovl_escape(l, e, sizeof(e));
			int n = snprintf(out + o, len - o, "%s%s", o ? ":" : "", e);
			if (n < 0 || (size_t)n >= len - o)
				return fail(ret_errmsg, E2BIG, "%zu layers: paths too long",
					    c->n_layers);
			o += (size_t)n;
		}
		if (o < 3500 || pass == 1)
			break;
		pl = slash ? (size_t)(slash - c->layers[0]) : 0;
		for (size_t i = 0; i < c->n_layers; i++)
			if (!pl || strncmp(c->layers[i], c->layers[0], pl) != 0 ||
			    c->layers[i][pl] != '/' || strchr(c->layers[i] + pl + 1, '/'))
				return fail(ret_errmsg, E2BIG,
					    "%zu layers: their paths do not fit in the overlay "
					    "options; keep them in one directory",
					    c->n_layers);
		if (pl + 1 > plen)
			return fail(ret_errmsg, E2BIG, "layer directory path too long");
		memcpy(parent, c->layers[0], pl);
		parent[pl] = '\0';
	}
	return 0;
}

/* mount(2) of an overlay, from `parent` when the lower dirs are relative;
 * 0 or -errno. */
static int mount_overlay(const char *root, unsigned long flags, const char *opts,
			 const char *parent)
{
	_cleanup_close_ int cwd = -EBADF;
	int r = 0;

	if (parent[0]) {
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0 || chdir(parent) < 0)
			return -errno;
	}
	if (mount("overlay", root, "overlay", flags, opts) < 0)
		r = -errno;
	if (cwd >= 0 && fchdir(cwd) < 0 && r == 0)
		r = -errno;
	return r;
}

static int setup_rootfs(const struct skiff_config *c, const char *layer, bool tmpfs_layer,
			const char *root, char **ret_errmsg)
{
	char opts[3 * 8192], upper[4096], work[4096], el[16384], eu[8192], ew[8192], parent[4096];
	int r;

	snprintf(upper, sizeof(upper), "%s/upper", layer);
	snprintf(work, sizeof(work), "%s/work", layer);
	r = lower_dirs(c, el, sizeof(el), parent, sizeof(parent), ret_errmsg);
	if (r < 0)
		return r;
	ovl_escape(upper, eu, sizeof(eu));
	ovl_escape(work, ew, sizeof(ew));
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", el, eu, ew);
	if (!tmpfs_layer && !c->read_only) {
		r = mount_overlay(root, MS_NODEV, opts, parent);
		if (r == 0)
			return 0;
		if (r == -ENODEV)
			goto no_overlay;
	}
	/* A tmpfs private to this mount namespace holds the layer (for `run`,
	 * or when the layer dir's file system cannot hold an upper dir). */
	r = mnt("tmpfs", layer, "tmpfs", MS_NODEV | MS_NOSUID, "mode=0700", ret_errmsg);
	if (r < 0)
		return r;
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 ||
	    (mkdir(root, 0755) < 0 && errno != EEXIST))
		return fail(ret_errmsg, errno, "cannot create the writable layer in %s", layer);
	if (c->read_only && c->n_layers > 1) {
		/* the layers alone, no upper dir: a read-only overlay */
		snprintf(opts, sizeof(opts), "lowerdir=%s", el);
		r = mount_overlay(root, MS_NODEV | MS_RDONLY, opts, parent);
		if (r == 0)
			return 0;
		return fail(ret_errmsg, -r, "cannot mount the %zu layers read-only on %s",
			    c->n_layers, root);
	}
	if (c->read_only) {
		r = mnt(c->rootfs, root, NULL, MS_BIND | MS_REC, NULL, ret_errmsg);
		if (r < 0)
			return r;
		return mnt(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, NULL,
			   ret_errmsg);
	}
	r = mount_overlay(root, MS_NODEV, opts, parent);
	if (r == 0)
		return 0;
	if (r != -ENODEV)
		return fail(ret_errmsg, -r, "cannot mount overlay on %s", root);
no_overlay:
	if (c->n_layers > 1)
		return fail(ret_errmsg, ENODEV,
			    "%zu layers need overlayfs, which this kernel lacks", c->n_layers);
	r = mnt(c->rootfs, root, NULL, MS_BIND | MS_REC, NULL, ret_errmsg);
	if (r < 0)
		return r;
	r = mnt(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, NULL, ret_errmsg);
	if (r < 0)
		return r;
	static const char *const scratch[] = { "tmp", "run", "var/tmp" };
	for (size_t i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++) {
		char p[4096];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", root, scratch[i]);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		r = mnt("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", ret_errmsg);
		if (r < 0)
			return r;
	}
	return 0;
}

static int setup_dev(const char *root, char **ret_errmsg)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = { { "/proc/self/fd", "fd" },
						{ "/proc/self/fd/0", "stdin" },
						{ "/proc/self/fd/1", "stdout" },
						{ "/proc/self/fd/2", "stderr" },
						{ "pts/ptmx", "ptmx" } };
	char dev[4096], p[4096], src[64];
	int r;

	snprintf(dev, sizeof(dev), "%s/dev", root);
	if (ensure(dev, true) < 0)
		return fail(ret_errmsg, errno, "cannot create %s", dev);
	r = mnt("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=65536k",
		ret_errmsg);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dev, nodes[i]);
		snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
		if (ensure(p, false) < 0)
			return fail(ret_errmsg, errno, "cannot create %s", p);
		r = mnt(src, p, NULL, MS_BIND, NULL, ret_errmsg);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dev, links[i][1]);
		if (symlink(links[i][0], p) < 0)
			return fail(ret_errmsg, errno, "cannot create %s", p);
	}
	snprintf(p, sizeof(p), "%s/pts", dev);
	if (ensure(p, true) < 0)
		return fail(ret_errmsg, errno, "cannot create %s", p);
	r = mnt("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
		ret_errmsg);
	if (r < 0)
		return r;
	snprintf(p, sizeof(p), "%s/shm", dev);
	if (ensure(p, true) < 0)
		return fail(ret_errmsg, errno, "cannot create %s", p);
	r = mnt("shm", p, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=1777,size=65536k", ret_errmsg);
	if (r < 0)
		return r;
	snprintf(p, sizeof(p), "%s/mqueue", dev);
	if (ensure(p, true) < 0)
		return fail(ret_errmsg, errno, "cannot create %s", p);
	return mnt("mqueue", p, "mqueue", NOSUID_NODEV_NOEXEC, NULL, ret_errmsg);
}

/* mkdir -p of dst below root without following symlinks out of it: every
 * component is created or opened relative to its parent with O_NOFOLLOW. */
static int mkdir_in_root(const char *root, const char *dst, bool dir, int *ret_fd)
{
	char buf[4096];
	int fd, r;

	snprintf(buf, sizeof(buf), "%s", dst);
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *save = NULL;
	char *comp = strtok_r(buf, "/", &save);
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0) {
			close(fd);
			return -EINVAL;
		}
		if (next || dir) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
				goto fail;
		} else {
			int f = openat(fd, comp, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (f < 0 && errno != EISDIR)
				goto fail;
			if (f >= 0)
				close(f);
		}
		int nfd =
		    openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC | (next ? O_DIRECTORY : 0));
		if (nfd < 0)
			goto fail;
		close(fd);
		fd = nfd;
		comp = next;
	}
	*ret_fd = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

static int setup_volumes(const struct skiff_config *c, const char *root, char **ret_errmsg)
{
	for (size_t i = 0; i < c->n_volumes; i++) {
		const struct skiff_volume *v = &c->volumes[i];
		struct stat st;
		char proc[64];
		int fd = -1, r;

		if (stat(v->src, &st) < 0)
			return fail(ret_errmsg, errno, "volume %s", v->src);
		r = mkdir_in_root(root, v->dst, S_ISDIR(st.st_mode), &fd);
		if (r < 0)
			return fail(ret_errmsg, -r, "volume target %s", v->dst);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		r = mnt(v->src, proc, NULL, MS_BIND | MS_REC, NULL, ret_errmsg);
		if (r == 0) {
			/* Remount through the same fd: it names the new mount's
			 * mount point, the bind now sits on top of it. */
			char tgt[4096];
			snprintf(tgt, sizeof(tgt), "%s/%s", root, v->dst);
			r = mnt(NULL, tgt, NULL,
				MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV |
				    (v->ro ? MS_RDONLY : 0),
				NULL, ret_errmsg);
		}
		close(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

static int mask_paths(char **ret_errmsg)
{
	static const char *const masked[] = { "/proc/acpi",
					      "/proc/asound",
					      "/proc/kcore",
					      "/proc/keys",
					      "/proc/latency_stats",
					      "/proc/timer_list",
					      "/proc/timer_stats",
					      "/proc/sched_debug",
					      "/proc/scsi",
					      "/sys/firmware",
					      "/sys/devices/virtual/powercap" };
	static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
						"/proc/sysrq-trigger" };
	struct stat st;
	int r;

	for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		if (stat(masked[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			r = mnt("tmpfs", masked[i], "tmpfs", MS_RDONLY | NOSUID_NODEV_NOEXEC,
				"size=0", ret_errmsg);
		else
			r = mnt("/dev/null", masked[i], NULL, MS_BIND, NULL, ret_errmsg);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++) {
		if (stat(readonly[i], &st) < 0)
			continue;
		r = mnt(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL, ret_errmsg);
		if (r < 0)
			return r;
		r = mnt(NULL, readonly[i], NULL,
			MS_BIND | MS_REMOUNT | MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL, ret_errmsg);
		if (r < 0)
			return r;
	}
	return 0;
}

int skiff_mounts_setup(const struct skiff_config *c, const char *layer, bool tmpfs_layer,
		       char **ret_errmsg)
{
	char root[4096], p[4096];
	int r;

	r = mnt(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, ret_errmsg);
	if (r < 0)
		return r;
	snprintf(root, sizeof(root), "%s/merged", layer);
	r = setup_rootfs(c, layer, tmpfs_layer, root, ret_errmsg);
	if (r < 0)
		return r;
	snprintf(p, sizeof(p), "%s/proc", root);
	if (ensure(p, true) < 0)
		return fail(ret_errmsg, errno, "cannot create %s", p);
	r = mnt("proc", p, "proc", NOSUID_NODEV_NOEXEC, NULL, ret_errmsg);
	if (r < 0)
		return r;
	r = setup_dev(root, ret_errmsg);
	if (r < 0)
		return r;
	snprintf(p, sizeof(p), "%s/sys", root);
	if (ensure(p, true) < 0)
		return fail(ret_errmsg, errno, "cannot create %s", p);
	r = mnt("sysfs", p, "sysfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL, ret_errmsg);
	if (r < 0)
		return r;
	r = setup_volumes(c, root, ret_errmsg);
	if (r < 0)
		return r;
	if (chdir(root) < 0)
		return fail(ret_errmsg, errno, "cannot enter %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(ret_errmsg, errno, "pivot_root into %s", root);
	if (umount2(".", MNT_DETACH) < 0)
		return fail(ret_errmsg, errno, "cannot detach the old root");
	if (chdir("/") < 0)
		return fail(ret_errmsg, errno, "chdir /");
	return mask_paths(ret_errmsg);
}
