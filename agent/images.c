/* images.c — image references to root filesystems.
 *
 * "NAME[:TAG]" (TAG defaults to "latest") is IMAGE_DIR/NAME:TAG/ (a rootfs
 * directory, used in place) or IMAGE_DIR/NAME:TAG.tar, unpacked once into
 * STATE/images/NAME:TAG/ through a temporary directory renamed into place, so
 * a half-unpacked image is never used. The runtime mounts the rootfs read-only
 * with a writable layer; every pod using the image shares it. Delete
 * STATE/images/NAME:TAG to pick up a changed tar.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static bool ref_valid(const char *ref)
{
	if (!ref[0] || ref[0] == '.' || strlen(ref) > 200)
		return false;
	for (const char *p = ref; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' || *p == ':' ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Run argv and wait (image preparation happens once per image and node). */
static int run_wait(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int image_resolve(struct agent *a, const char *ref, char **ret_rootfs, char **ret_errmsg)
{
	if (!ref_valid(ref)) {
		*ret_errmsg =
		    xasprintf("InvalidImageName: image '%s' is not NAME[:TAG] of letters, "
			      "digits, '.', '-', '_'",
			      ref);
		return -EINVAL;
	}
	_cleanup_free_ char *full = strchr(ref, ':') ? xstrdup(ref) : xasprintf("%s:latest", ref);
	_cleanup_free_ char *dir = xasprintf("%s/%s", a->cfg.image_dir, full);
	if (is_dir(dir)) {
		*ret_rootfs = TAKE_PTR(dir);
		return 0;
	}
	_cleanup_free_ char *unpacked = xasprintf("%s/images/%s", a->cfg.state_dir, full);
	if (is_dir(unpacked)) {
		*ret_rootfs = TAKE_PTR(unpacked);
		return 0;
	}
	_cleanup_free_ char *tar = xasprintf("%s/%s.tar", a->cfg.image_dir, full);
	if (access(tar, R_OK) < 0) {
		*ret_errmsg =
		    xasprintf("ImageNotFound: image '%s' not in %s", ref, a->cfg.image_dir);
		return -ENOENT;
	}
	_cleanup_free_ char *tmp = xasprintf("%s.tmp%d", unpacked, getpid());
	skiff_rm_rf(tmp);
	int r = skiff_mkdir_p(tmp, 0755);
	if (r < 0) {
		*ret_errmsg =
		    xasprintf("ImageUnpackError: cannot create %s: %s", tmp, strerror(-r));
		return r;
	}
	char *untar[] = { "tar", "-xf", tar, "-C", tmp, "--no-same-owner", NULL };
	r = run_wait(untar);
	if (r < 0) {
		skiff_rm_rf(tmp);
		*ret_errmsg = xasprintf("ImageUnpackError: tar -xf %s failed", tar);
		return r;
	}
	if (rename(tmp, unpacked) < 0) {
		r = -errno;
		skiff_rm_rf(tmp);
		if (!is_dir(unpacked)) {
			*ret_errmsg =
			    xasprintf("ImageUnpackError: rename to %s: %s", unpacked, strerror(-r));
			return r;
		}
	}
	log_info("image %s unpacked from %s into %s", ref, tar, unpacked);
	*ret_rootfs = TAKE_PTR(unpacked);
	return 0;
}
