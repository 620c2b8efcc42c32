/* image-layer.c — unpack a layer blob once, in overlay form.
 *
 * The blob is read through libarchive (plain, gzip or zstd tar) and hashed on
 * the way: a blob whose bytes no longer match its digest is refused. Entries
 * are created under a fresh tmp/ directory with *at() calls on directory fds
 * opened without following symlinks, so no entry can reach outside the layer
 * (`..` is refused, a symlink in a parent path is refused, hard links resolve
 * the same way). OCI whiteouts become overlayfs whiteouts: `.wh.NAME` a 0:0
 * character device, `.wh..wh..opq` the opaque xattr on its directory. Device
 * nodes are refused; ownership, modes and mtimes are kept. Only a complete
 * layer is renamed to layers/sha256/<hex>. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "image.h"
#include "util.h"

#define WHITEOUT ".wh."
#define OPAQUE	 ".wh..wh..opq"

struct dir_meta {
	char *path;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
};

struct unpack {
	const char *digest;
	struct image_source src; /* the blob, hashed as it is read */
	int root_fd;
	bool owner;	 /* root: keep uid/gid */
	uint64_t budget; /* bytes still allowed (cap and free space) */
	struct dir_meta *dirs;
	size_t n_dirs;
	char *err;
	size_t errlen;
};

#define fail(u, r, ...) image_fail((u)->err, (u)->errlen, (r), "layer", (u)->digest, __VA_ARGS__)

/* "./a//b/" -> "a/b"; NULL when a component is "..". "" is the root. */
static char *clean_path(const char *p)
{
	char *out = xmalloc(strlen(p) + 1), *o = out;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return NULL;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, p, n);
			o += n;
		}
		p = end;
	}
	*o = '\0';
	return out;
}

/* Open directory `rel` under the root without following any symlink,
 * creating missing components (0755) when create. */
static int open_dir(struct unpack *u, const char *rel, bool create, const char *entry)
{
	int fd = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return fail(u, -errno, "%s: %m", entry);
	_cleanup_free_ char *copy = xstrdup(rel);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
				int e = -errno;
				close(fd);
				return fail(u, e, "%s: cannot create %s: %s", entry, c,
					    strerror(-e));
			}
			next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int e = -errno;
			close(fd);
			if (e == -ELOOP || e == -ENOTDIR)
				return fail(u, -EXDEV,
					    "%s: its parent %s is a symlink or not a directory "
					    "(an entry may not go through a symlink)",
					    entry, c);
			return fail(u, e, "%s: %s: %s", entry, c, strerror(-e));
		}
		close(fd);
		fd = next;
	}
	return fd;
}

/* Split rel into its parent directory fd and base name. */
static int open_parent(struct unpack *u, const char *rel, bool create, const char **ret_base)
{
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *dir = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	*ret_base = slash ? slash + 1 : rel;
	return open_dir(u, dir, create, rel);
}

static int remove_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d)) && r >= 0)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = remove_at(dirfd(d), de->d_name);
	closedir(d);
	if (r < 0)
		return r;
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int set_owner_time(struct unpack *u, int dfd, const char *name, struct archive_entry *e,
			  const char *entry)
{
	if (u->owner && fchownat(dfd, name, (uid_t)archive_entry_uid(e),
				 (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return fail(u, -errno, "%s: chown: %m", entry);
	struct timespec ts[2] = {
		{ .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
		{ .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
	};
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(u, -errno, "%s: set mtime: %m", entry);
	return 0;
}

static int write_file(struct unpack *u, struct archive *a, int dfd, const char *base,
		      struct archive_entry *e, const char *entry)
{
	int64_t size = archive_entry_size(e);
	if (size < 0 || (uint64_t)size > u->budget)
		return fail(
		    u, -EFBIG,
		    "%s: declared size %lld is more than the %llu bytes this layer may still "
		    "use (cap %llu, or the image store's free space)",
		    entry, (long long)size, (unsigned long long)u->budget, SKIFF_IMAGE_LAYER_MAX);
	u->budget -= (uint64_t)size;
	int r = remove_at(dfd, base);
	if (r < 0)
		return fail(u, r, "%s: cannot replace: %s", entry, strerror(-r));
	_cleanup_close_ int fd =
	    openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(u, -errno, "%s: %m", entry);
	for (;;) {
		const void *buf;
		size_t len;
		int64_t off;
		int ar = archive_read_data_block(a, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_OK)
			return fail(u, -EIO, "%s: truncated or corrupt layer: %s", entry,
				    archive_error_string(a));
		if (off < 0 || (uint64_t)off + len > (uint64_t)size)
			return fail(u, -EBADMSG, "%s: data beyond its declared size", entry);
		const char *p = buf;
		while (len > 0) {
			ssize_t n = pwrite(fd, p, len, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return fail(u, -errno, "%s: write: %m", entry);
			p += n;
			off += n;
			len -= (size_t)n;
		}
	}
	if (ftruncate(fd, size) < 0)
		return fail(u, -errno, "%s: %m", entry);
	if (u->owner && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return fail(u, -errno, "%s: chown: %m", entry);
	/* after chown, which clears set-user-ID bits */
	if (fchmod(fd, archive_entry_perm(e)) < 0)
		return fail(u, -errno, "%s: chmod: %m", entry);
	struct timespec ts[2] = {
		{ .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
		{ .tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e) },
	};
	if (futimens(fd, ts) < 0)
		return fail(u, -errno, "%s: set mtime: %m", entry);
	return 0;
}

static int whiteout(struct unpack *u, int dfd, const char *base, const char *entry)
{
	if (strcmp(base, OPAQUE) == 0) {
		if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return fail(u, -errno, "%s: cannot mark the directory opaque: %m%s", entry,
				    errno == EPERM ? " (unpacking whiteouts needs root)" : "");
		return 0;
	}
	const char *name = base + strlen(WHITEOUT);
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fail(u, -EBADMSG, "%s: a whiteout without a name", entry);
	int r = remove_at(dfd, name);
	if (r < 0)
		return fail(u, r, "%s: %s", entry, strerror(-r));
	if (mknodat(dfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return fail(u, -errno, "%s: cannot create the whiteout: %m%s", entry,
			    errno == EPERM ? " (unpacking whiteouts needs root)" : "");
	return 0;
}

static int unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		return fail(u, -EBADMSG, "an entry without a name");
	_cleanup_free_ char *rel = clean_path(raw);
	if (!rel)
		return fail(u, -EXDEV, "%s: a \"..\" component escapes the root", raw);
	if (!*rel)
		return 0; /* the root itself */
	const char *base;
	_cleanup_close_ int dfd = -EBADF;
	mode_t type = archive_entry_filetype(e);
	const char *hard = archive_entry_hardlink(e);

	dfd = open_parent(u, rel, true, &base);
	if (dfd < 0)
		return dfd;
	if (skiff_startswith(base, WHITEOUT))
		return whiteout(u, dfd, base, rel);

	if (hard) {
		_cleanup_free_ char *target = clean_path(hard);
		if (!target || !*target)
			return fail(u, -EXDEV, "%s: hard link to %s escapes the root", rel, hard);
		const char *tbase;
		_cleanup_close_ int tfd = open_parent(u, target, false, &tbase);
		if (tfd < 0)
			return tfd;
		struct stat st;
		if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(u, -errno, "%s: hard link to %s: %m", rel, target);
		if (S_ISDIR(st.st_mode))
			return fail(u, -EBADMSG, "%s: hard link to the directory %s", rel, target);
		int r = remove_at(dfd, base);
		if (r < 0)
			return fail(u, r, "%s: cannot replace: %s", rel, strerror(-r));
		if (linkat(tfd, tbase, dfd, base, 0) < 0)
			return fail(u, -errno, "%s: hard link to %s: %m", rel, target);
		return 0;
	}

	switch (type) {
	case AE_IFDIR: {
		struct stat st;
		if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
			int r = remove_at(dfd, base);
			if (r < 0)
				return fail(u, r, "%s: cannot replace: %s", rel, strerror(-r));
		}
		if (mkdirat(dfd, base, 0700) < 0 && errno != EEXIST)
			return fail(u, -errno, "%s: %m", rel);
		/* modes and times once every child is in place (a 0555 directory) */
		u->dirs = xrealloc(u->dirs, (u->n_dirs + 1) * sizeof(*u->dirs));
		u->dirs[u->n_dirs++] = (struct dir_meta){
			.path = TAKE_PTR(rel),
			.mode = archive_entry_perm(e),
			.uid = (uid_t)archive_entry_uid(e),
			.gid = (gid_t)archive_entry_gid(e),
			.mtime = { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
		};
		return 0;
	}
	case AE_IFREG:
		return write_file(u, a, dfd, base, e, rel);
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		if (!target || !*target)
			return fail(u, -EBADMSG, "%s: a symlink without a target", rel);
		int r = remove_at(dfd, base);
		if (r < 0)
			return fail(u, r, "%s: cannot replace: %s", rel, strerror(-r));
		/* created, never followed here: an absolute target is resolved in the container */
		if (symlinkat(target, dfd, base) < 0)
			return fail(u, -errno, "%s: %m", rel);
		return set_owner_time(u, dfd, base, e, rel);
	}
	case AE_IFIFO: {
		int r = remove_at(dfd, base);
		if (r < 0)
			return fail(u, r, "%s: cannot replace: %s", rel, strerror(-r));
		if (mkfifoat(dfd, base, archive_entry_perm(e)) < 0)
			return fail(u, -errno, "%s: %m", rel);
		return set_owner_time(u, dfd, base, e, rel);
	}
	case AE_IFCHR:
	case AE_IFBLK:
		return fail(u, -EPERM, "%s: a device node (%lu:%lu); images may not carry devices",
			    rel, (unsigned long)archive_entry_rdevmajor(e),
			    (unsigned long)archive_entry_rdevminor(e));
	default:
		return fail(u, -EBADMSG, "%s: unsupported entry type 0%o", rel, (unsigned)type);
	}
}

static int apply_dirs(struct unpack *u)
{
	/* deepest first, so setting a parent's mtime comes after its children */
	for (size_t i = u->n_dirs; i-- > 0;) {
		struct dir_meta *d = &u->dirs[i];
		_cleanup_close_ int fd = open_dir(u, d->path, false, d->path);
		if (fd < 0)
			return fd;
		if (u->owner && fchown(fd, d->uid, d->gid) < 0)
			return fail(u, -errno, "%s: chown: %m", d->path);
		if (fchmod(fd, d->mode) < 0)
			return fail(u, -errno, "%s: chmod: %m", d->path);
		struct timespec ts[2] = { d->mtime, d->mtime };
		if (futimens(fd, ts) < 0)
			return fail(u, -errno, "%s: set mtime: %m", d->path);
	}
	return 0;
}

static int unpack_stream(struct unpack *u)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	int r = 0;
	if (archive_read_open(a, &u->src, NULL, image_source_read, NULL) != ARCHIVE_OK) {
		r = fail(u, -EBADMSG, "not a tar layer (plain, gzip or zstd): %s",
			 archive_error_string(a));
		goto out;
	}
	struct archive_entry *e;
	for (;;) {
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = fail(u, -EBADMSG, "truncated or corrupt layer: %s",
				 archive_error_string(a));
			goto out;
		}
		r = unpack_entry(u, a, e);
		if (r < 0)
			goto out;
	}
	/* hash the rest (padding, a compressor's trailer) */
	const void *buf;
	while (image_source_read(a, &u->src, &buf) > 0)
		;
	r = apply_dirs(u);
out:
	archive_read_free(a);
	return r;
}

int skiff_image_layer_unpack(struct skiff_image_store *s,
			     const struct skiff_image_descriptor *layer, char **ret_dir, char *err,
			     size_t errlen)
{
	struct unpack u = { .digest = layer->digest,
			    .src.fd = -EBADF,
			    .root_fd = -EBADF,
			    .err = err,
			    .errlen = errlen,
			    .owner = geteuid() == 0 };
	if (!skiff_image_digest_valid(layer->digest))
		return fail(&u, -EINVAL, "not a sha256 digest");
	_cleanup_free_ char *dest =
	    xasprintf("%s/layers/sha256/%s", skiff_image_store_dir(s), layer->digest + 7);
	struct stat st;
	if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
		*ret_dir = TAKE_PTR(dest);
		return 0;
	}
	_cleanup_free_ char *blob = skiff_image_blob_path(s, layer->digest);
	_cleanup_close_ int bfd = open(blob, O_RDONLY | O_CLOEXEC);
	if (bfd < 0)
		return fail(&u, -errno, "%s",
			    errno == ENOENT ? "not in the image store" : strerror(errno));
	_cleanup_free_ char *tmp = xasprintf("%s/tmp/layer-XXXXXX", skiff_image_store_dir(s));
	if (!mkdtemp(tmp))
		return fail(&u, -errno, "cannot make %s: %m", tmp);
	int r;
	struct statvfs vfs;
	u.budget = SKIFF_IMAGE_LAYER_MAX;
	if (statvfs(tmp, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < u.budget)
		u.budget = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	u.src.fd = bfd;
	u.root_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	u.src.md = EVP_MD_CTX_new();
	u.src.buf = xmalloc(IMAGE_READ_CHUNK);
	if (!u.src.md || EVP_DigestInit_ex(u.src.md, EVP_sha256(), NULL) != 1)
		abort();
	if (u.root_fd < 0)
		r = fail(&u, -errno, "%s: %m", tmp);
	else
		r = unpack_stream(&u);
	if (r >= 0) {
		unsigned char md[32];
		unsigned int mdlen = 0;
		char got[SKIFF_IMAGE_DIGEST_MAX] = "sha256:";
		if (EVP_DigestFinal_ex(u.src.md, md, &mdlen) != 1)
			abort();
		skiff_hex(md, 32, got + 7);
		if (strcmp(got, layer->digest) != 0)
			r = fail(&u, -EILSEQ, "content is %s, not its digest (corrupted blob)",
				 got);
	}
	if (r >= 0 && fchmod(u.root_fd, 0755) < 0)
		r = fail(&u, -errno, "%s: %m", tmp);
	if (r >= 0 && syncfs(u.root_fd) < 0)
		r = fail(&u, -errno, "sync: %m");
	if (u.root_fd >= 0)
		close(u.root_fd);
	EVP_MD_CTX_free(u.src.md);
	free(u.src.buf);
	for (size_t i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	if (r >= 0 && rename(tmp, dest) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) /* unpacked meanwhile */
			r = 0;
		else
			r = fail(&u, -errno, "cannot move it into place: %m");
		skiff_rm_rf(tmp);
	}
	if (r < 0) {
		skiff_rm_rf(tmp);
		return r;
	}
	*ret_dir = TAKE_PTR(dest);
	return 0;
}

int skiff_image_unpack(struct skiff_image_store *s, const struct skiff_image *img, char ***ret_dirs,
		       char *err, size_t errlen)
{
	char **dirs = xcalloc(img->n_layers + 1, sizeof(char *));
	for (size_t i = 0; i < img->n_layers; i++) {
		char sub[SKIFF_IMAGE_ERR_MAX] = "";
		int r = skiff_image_layer_unpack(s, &img->layers[i], &dirs[i], sub, sizeof(sub));
		if (r < 0) {
			snprintf(err, errlen, "image %s: layer %zu: %s",
				 img->name ? img->name : img->manifest_digest, i + 1, sub);
			skiff_strv_free(dirs);
			return r;
		}
	}
	*ret_dirs = dirs;
	return 0;
}
