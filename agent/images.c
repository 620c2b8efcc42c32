/* images.c — a container's image to the layers and config it starts from.
 *
 * Two kinds of image live in IMAGE_DIR:
 *
 *   IMAGE_DIR/NAME:TAG/ or IMAGE_DIR/NAME:TAG.tar — a flat root filesystem
 *	(the tar unpacked once into STATE/images/NAME:TAG/ through a temporary
 *	directory renamed into place); no config, so command is required.
 *   IMAGE_DIR/store/ — the node's content-addressed image store
 *	(lib/image.h): OCI and Docker images, their layers unpacked once each
 *	and stacked as overlay lower directories, their config honoured.
 *
 * An image missing from the store is fetched from its source (image_fetch):
 * a name with a registry host from that registry (lib/registry.h). Whether a
 * present image is fetched again follows imagePullPolicy (Always,
 * IfNotPresent, Never; the validator defaults it as Kubernetes does).
 * Failures come back as "Reason: message" (ErrImagePull, ErrImageNeverPull,
 * ImageNotFound, InvalidImageName, CreateContainerConfigError).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "registry.h"
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

void agent_image_clear(struct agent_image *im)
{
	skiff_strv_free(im->layers);
	skiff_image_free(im->img);
	*im = (struct agent_image){ 0 };
}

/* A flat rootfs: IMAGE_DIR/NAME:TAG/, or its .tar unpacked once. 1: found,
 * 0: not a flat image, <0: error with *ret_errmsg. */
static int resolve_flat(struct agent *a, const char *ref, char **ret_rootfs, char **ret_errmsg)
{
	if (!ref_valid(ref))
		return 0;
	_cleanup_free_ char *full = strchr(ref, ':') ? xstrdup(ref) : xasprintf("%s:latest", ref);
	_cleanup_free_ char *dir = xasprintf("%s/%s", a->cfg.image_dir, full);
	if (is_dir(dir)) {
		*ret_rootfs = TAKE_PTR(dir);
		return 1;
	}
	_cleanup_free_ char *unpacked = xasprintf("%s/images/%s", a->cfg.state_dir, full);
	if (is_dir(unpacked)) {
		*ret_rootfs = TAKE_PTR(unpacked);
		return 1;
	}
	_cleanup_free_ char *tar = xasprintf("%s/%s.tar", a->cfg.image_dir, full);
	if (access(tar, R_OK) < 0)
		return 0;
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
	return 1;
}

static int store_open(struct agent *a, char **ret_errmsg)
{
	if (a->images)
		return 0;
	_cleanup_free_ char *dir = xasprintf("%s/store", a->cfg.image_dir);
	int r = skiff_image_store_open(dir, &a->images);
	if (r < 0)
		*ret_errmsg = xasprintf("ImageStoreError: cannot open the image store %s: %s", dir,
					strerror(-r));
	return r;
}

/* ---- sources: where an image the store lacks comes from ---------------- */

struct pull_progress {
	struct agent *a;
	struct agent_pod *pod;
	const char *name;
	uint64_t reported;
};

static void pull_progress(void *arg, uint64_t done, uint64_t total)
{
	struct pull_progress *pp = arg;
	/* an event per 64 MiB, not per chunk */
	if (done < pp->reported + (64u << 20) && done != total)
		return;
	if (done == pp->reported)
		return;
	pp->reported = done;
	if (pp->pod)
		core_report_event(pp->a, pp->pod, "Normal", "Pulling",
				  "Pulling image %s: %" PRIu64 " MiB/%" PRIu64 " MiB", pp->name,
				  done >> 20, total >> 20);
}

static int fetch_registry(struct agent *a, struct agent_pod *pod, const char *name,
			  char **ret_errmsg)
{
	/* the cluster CA, unless a CA file is configured (the system's CAs
	 * are trusted either way) */
	_cleanup_free_ char *ca = NULL, *ca_path = xasprintf("%s/ca.crt", a->cfg.state_dir);
	size_t ca_len;
	if (!a->cfg.registry_ca && skiff_read_file(ca_path, 1u << 20, &ca, &ca_len) < 0)
		ca = NULL;
	struct pull_progress pp = { .a = a, .pod = pod, .name = name };
	struct skiff_registry_opts o = {
		.ca_file = a->cfg.registry_ca,
		.ca_pem = ca,
		.insecure = a->cfg.insecure_registries,
		.username = a->cfg.registry_user,
		.password = a->cfg.registry_password,
		.timeout_s = a->cfg.registry_timeout_s,
		.progress = pull_progress,
		.progress_arg = &pp,
	};
	char err[SKIFF_IMAGE_ERR_MAX] = "";
	char digest[SKIFF_IMAGE_DIGEST_MAX];
	if (pod)
		core_report_event(a, pod, "Normal", "Pulling", "Pulling image %s", name);
	int r = skiff_registry_pull(a->images, name, &o, digest, err, sizeof(err));
	if (r < 0) {
		*ret_errmsg = xasprintf("ErrImagePull: %s", err);
		return r;
	}
	log_info("image %s pulled (%s)", name, digest);
	if (pod)
		core_report_event(a, pod, "Normal", "Pulled", "Successfully pulled image %s (%s)",
				  name, digest);
	return 0;
}

/* Fetch name into the store from its source. */
static int image_fetch(struct agent *a, struct agent_pod *pod, const char *name, char **ret_errmsg)
{
	if (skiff_registry_name_has_host(name))
		return fetch_registry(a, pod, name, ret_errmsg);
	*ret_errmsg = xasprintf("ImageNotFound: image '%s' not in %s", name, a->cfg.image_dir);
	return -ENOENT;
}

/* ---- resolving ---------------------------------------------------------- */

/* The policy in force: the container's, else Kubernetes' default (Always for
 * :latest or no tag, IfNotPresent otherwise; a digest never changes). */
static const char *pull_policy(const Skiff__Container *c)
{
	if (c->image_pull_policy && c->image_pull_policy[0])
		return c->image_pull_policy;
	return skiff_image_default_pull_policy(c->image);
}

int image_resolve(struct agent *a, struct agent_pod *pod, const Skiff__Container *c,
		  struct agent_image *ret, char **ret_errmsg)
{
	const char *name = c->image;
	char *rootfs = NULL;
	int r;

	*ret = (struct agent_image){ 0 };
	/* a flat rootfs in IMAGE_DIR (names without a registry host) */
	if (!skiff_registry_name_has_host(name)) {
		r = resolve_flat(a, name, &rootfs, ret_errmsg);
		if (r < 0)
			return r;
		if (r > 0) {
			ret->layers = xcalloc(2, sizeof(char *));
			ret->layers[0] = rootfs;
			return 0;
		}
	}
	_cleanup_free_ char *repo = NULL, *ref = NULL;
	if (skiff_image_name_parse(name, &repo, &ref) < 0) {
		*ret_errmsg = xasprintf("InvalidImageName: image '%s' is not "
					"[HOST[:PORT]/]NAME[:TAG|@sha256:DIGEST] of lowercase "
					"letters, digits, '.', '-', '_' and '/'",
					name);
		return -EINVAL;
	}
	r = store_open(a, ret_errmsg);
	if (r < 0)
		return r;

	const char *policy = pull_policy(c);
	char digest[SKIFF_IMAGE_DIGEST_MAX];
	bool present = skiff_image_resolve(a->images, name, digest) >= 0;
	if (streq(policy, "Never") && !present) {
		*ret_errmsg = xasprintf("ErrImageNeverPull: image '%s' is not on node %s and "
					"imagePullPolicy is Never",
					name, a->cfg.name);
		return -ENOENT;
	}
	/* Always: ask the source again at every start (a digest cannot change) */
	bool by_digest = strchr(name, '@') != NULL;
	if (!present || (streq(policy, "Always") && !by_digest)) {
		r = image_fetch(a, pod, name, ret_errmsg);
		if (r < 0)
			return r;
	}

	char err[SKIFF_IMAGE_ERR_MAX] = "";
	struct skiff_image *img = NULL;
	r = skiff_image_load(a->images, name, &img, err, sizeof(err));
	if (r >= 0)
		r = skiff_image_unpack(a->images, img, &ret->layers, err, sizeof(err));
	if (r < 0) {
		skiff_image_free(img);
		*ret_errmsg = xasprintf("ErrImagePull: %s", err);
		return r;
	}
	ret->img = img;
	if (img->config.user && img->config.user[0]) {
		uint32_t uid, gid;
		r = skiff_image_user_resolve(ret->layers, img->n_layers, img->config.user, &uid,
					     &gid, err, sizeof(err));
		if (r < 0) {
			*ret_errmsg =
			    xasprintf("CreateContainerConfigError: image %s: %s", name, err);
			agent_image_clear(ret);
			return r;
		}
		snprintf(ret->user, sizeof(ret->user), "%u:%u", uid, gid);
	}
	return 0;
}
