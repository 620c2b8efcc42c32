/* image-import.c — OCI image layouts (directory or tar), `docker save`
 * archives and flat rootfs tars into the image store.
 *
 * An archive is read once, as a stream (so `skiffctl image load -` works):
 * every blob goes straight into a blob writer that hashes it on the way, the
 * small JSON documents (index.json, manifest.json) stay in memory. Until an
 * entry shows the archive is an image archive, the raw bytes are also teed
 * into one more blob: a tar that turns out to be a plain root filesystem then
 * becomes a one-layer image without being read twice. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"
#include "image.h"
#include "util.h"

struct entry_blob {
	char *name;
	char *link; /* a symlink entry: the name it points at */
	char digest[SKIFF_IMAGE_DIGEST_MAX];
	uint64_t size;
};

struct import {
	struct skiff_image_store *store;
	const char *source; /* for messages */
	struct image_source src;
	char *index_json, *manifest_json;
	size_t index_len, manifest_len;
	struct entry_blob *blobs;
	size_t n_blobs;
	char *err;
	size_t errlen;
};

#define fail(im, r, ...)                                                                           \
	image_fail((im)->err, (im)->errlen, (r), "image archive", (im)->source, __VA_ARGS__)

static void import_clear(struct import *im)
{
	skiff_blob_writer_free(im->src.tee);
	free(im->src.buf);
	free(im->index_json);
	free(im->manifest_json);
	for (size_t i = 0; i < im->n_blobs; i++) {
		free(im->blobs[i].name);
		free(im->blobs[i].link);
	}
	free(im->blobs);
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Entries only image archives have: OCI layout files, blobs/, docker's
 * <64 hex>/ layer directories and <64 hex>.json configs. */
static bool image_marker(const char *name)
{
	if (strcmp(name, "oci-layout") == 0 || strcmp(name, "index.json") == 0 ||
	    strcmp(name, "manifest.json") == 0 || strcmp(name, "repositories") == 0 ||
	    skiff_startswith(name, "blobs/") || strcmp(name, "blobs") == 0)
		return true;
	size_t n = strlen(name);
	return n >= 64 && all_hex(name, 64) &&
	       (name[64] == '\0' || name[64] == '/' || name[64] == '.');
}

static void add_blob(struct import *im, const char *name, const char *link, const char *digest,
		     uint64_t size)
{
	im->blobs = xrealloc(im->blobs, (im->n_blobs + 1) * sizeof(*im->blobs));
	struct entry_blob *b = &im->blobs[im->n_blobs++];
	*b = (struct entry_blob){ .name = xstrdup(name),
				  .link = link ? xstrdup(link) : NULL,
				  .size = size };
	if (digest)
		snprintf(b->digest, sizeof(b->digest), "%s", digest);
}

static const struct entry_blob *find_blob(const struct import *im, const char *name, int depth)
{
	for (size_t i = 0; i < im->n_blobs; i++) {
		if (strcmp(im->blobs[i].name, name) != 0)
			continue;
		if (!im->blobs[i].link)
			return &im->blobs[i];
		if (depth > 8)
			return NULL;
		/* docker's links are relative to the entry's directory ("../<hex>/layer.tar") */
		_cleanup_free_ char *dir = xstrdup(name);
		char *slash = strrchr(dir, '/');
		const char *l = im->blobs[i].link;
		_cleanup_free_ char *target = NULL;
		if (slash) {
			*slash = '\0';
			target = xasprintf("%s/%s", dir, l);
		} else {
			target = xstrdup(l);
		}
		/* fold "a/../" */
		char *p;
		while ((p = strstr(target, "/../"))) {
			char *start = p;
			while (start > target && start[-1] != '/')
				start--;
			memmove(start, p + 4, strlen(p + 4) + 1);
		}
		if (skiff_startswith(target, "../"))
			return NULL;
		return find_blob(im, target, depth + 1);
	}
	return NULL;
}

/* Stream the current entry into the store; expect is "sha256:<hex>" or NULL. */
static int store_entry(struct import *im, struct archive *a, const char *name, const char *expect,
		       int64_t declared, char ret_digest[SKIFF_IMAGE_DIGEST_MAX])
{
	if (declared < 0 || (uint64_t)declared > SKIFF_IMAGE_LAYER_MAX)
		return fail(im, -EFBIG, "%s: declared size %lld is more than %llu bytes", name,
			    (long long)declared, SKIFF_IMAGE_LAYER_MAX);
	if (expect && skiff_image_blob_exists(im->store, expect)) {
		snprintf(ret_digest, SKIFF_IMAGE_DIGEST_MAX, "%s", expect);
		return archive_read_data_skip(a) == ARCHIVE_OK
			   ? 0
			   : fail(im, -EIO, "%s: %s", name, archive_error_string(a));
	}
	struct skiff_blob_writer *w = NULL;
	int r = skiff_blob_writer_new(im->store, expect, (uint64_t)declared, &w);
	if (r < 0)
		return fail(im, r, "%s: cannot write to the image store: %s", name, strerror(-r));
	for (;;) {
		const void *buf;
		size_t len;
		int64_t off;
		int ar = archive_read_data_block(a, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_OK) {
			skiff_blob_writer_free(w);
			return fail(im, -EIO, "%s: truncated or corrupt archive: %s", name,
				    archive_error_string(a));
		}
		r = skiff_blob_writer_write(w, buf, len);
		if (r < 0) {
			skiff_blob_writer_free(w);
			return fail(im, r, "%s: cannot store: %s", name, strerror(-r));
		}
	}
	if (skiff_blob_writer_size(w) != (uint64_t)declared) {
		skiff_blob_writer_free(w);
		return fail(im, -EIO, "%s: truncated (%lld bytes declared)", name,
			    (long long)declared);
	}
	r = skiff_blob_writer_commit(w, ret_digest);
	skiff_blob_writer_free(w);
	if (r == -EILSEQ)
		return fail(im, r, "%s: content does not match its digest (corrupted blob)", name);
	if (r < 0)
		return fail(im, r, "%s: cannot store: %s", name, strerror(-r));
	return 0;
}

static int read_json_entry(struct import *im, struct archive *a, const char *name, int64_t size,
			   char **ret, size_t *ret_len)
{
	if (size < 0 || size > (int64_t)SKIFF_IMAGE_JSON_MAX)
		return fail(im, -EFBIG, "%s: %lld bytes, more than %u", name, (long long)size,
			    SKIFF_IMAGE_JSON_MAX);
	char *buf = xmalloc((size_t)size + 1);
	la_ssize_t n = archive_read_data(a, buf, (size_t)size);
	if (n != size) {
		free(buf);
		return fail(im, -EIO, "%s: truncated or corrupt archive: %s", name,
			    n < 0 ? archive_error_string(a) : "short entry");
	}
	buf[size] = '\0';
	free(*ret);
	*ret = buf;
	*ret_len = (size_t)size;
	return 0;
}

static int read_stream(struct import *im)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	im->src.buf = xmalloc(IMAGE_READ_CHUNK);
	int r = 0;
	if (archive_read_open(a, &im->src, NULL, image_source_read, NULL) != ARCHIVE_OK) {
		r = fail(im, -EBADMSG, "not a tar archive (plain, gzip or zstd): %s",
			 archive_error_string(a));
		goto out;
	}
	struct archive_entry *e;
	for (;;) {
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = fail(im, -EBADMSG, "truncated or corrupt archive: %s",
				 archive_error_string(a));
			goto out;
		}
		const char *raw = archive_entry_pathname(e);
		if (!raw) {
			r = fail(im, -EBADMSG, "an entry without a name");
			goto out;
		}
		while (skiff_startswith(raw, "./"))
			raw += 2;
		_cleanup_free_ char *name = xstrdup(raw);
		size_t nl = strlen(name);
		while (nl > 0 && name[nl - 1] == '/')
			name[--nl] = '\0';
		if (im->src.tee && image_marker(name))
			skiff_blob_writer_free(TAKE_PTR(im->src.tee));
		if (im->src.tee)
			continue; /* maybe a rootfs: the tee has the bytes */
		mode_t type = archive_entry_filetype(e);
		if (type == AE_IFLNK) {
			add_blob(im, name, archive_entry_symlink(e), NULL, 0);
			continue;
		}
		if (type != AE_IFREG)
			continue;
		int64_t size = archive_entry_size(e);
		if (strcmp(name, "index.json") == 0)
			r = read_json_entry(im, a, name, size, &im->index_json, &im->index_len);
		else if (strcmp(name, "manifest.json") == 0)
			r = read_json_entry(im, a, name, size, &im->manifest_json,
					    &im->manifest_len);
		else if (skiff_startswith(name, "blobs/sha256/")) {
			const char *hex = name + strlen("blobs/sha256/");
			if (strlen(hex) != 64 || !all_hex(hex, 64)) {
				r = fail(im, -EBADMSG, "%s: not named by a sha256 digest", name);
				goto out;
			}
			char expect[SKIFF_IMAGE_DIGEST_MAX], got[SKIFF_IMAGE_DIGEST_MAX];
			snprintf(expect, sizeof(expect), "sha256:%s", hex);
			r = store_entry(im, a, name, expect, size, got);
			if (r >= 0)
				add_blob(im, name, NULL, got, (uint64_t)size);
		} else if (skiff_endswith(name, "/layer.tar") || skiff_endswith(name, ".json")) {
			char got[SKIFF_IMAGE_DIGEST_MAX];
			r = store_entry(im, a, name, NULL, size, got);
			if (r >= 0)
				add_blob(im, name, NULL, got, (uint64_t)size);
		}
		if (r < 0)
			goto out;
	}
	/* a rootfs tar: the tee takes the bytes after the end-of-archive blocks too
	 * (record padding, a compressor's trailer) */
	while (im->src.tee) {
		const void *buf;
		if (image_source_read(a, &im->src, &buf) <= 0)
			break;
	}
out:
	archive_read_free(a);
	return r;
}

/* An OCI layout directory: every blobs/sha256/<hex> file, verified. */
static int read_layout_dir(struct import *im, const char *dir)
{
	_cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
	int r = skiff_read_file(ip, SKIFF_IMAGE_JSON_MAX, &im->index_json, &im->index_len);
	if (r < 0)
		return fail(im, r, "index.json: %s (not an OCI image layout)", strerror(-r));
	_cleanup_free_ char *bd = xasprintf("%s/blobs/sha256", dir);
	_cleanup_closedir_ DIR *d = opendir(bd);
	if (!d)
		return fail(im, -errno, "blobs/sha256: %m");
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", de->d_name);
		if (strlen(de->d_name) != 64 || !all_hex(de->d_name, 64))
			return fail(im, -EBADMSG, "%s: not named by a sha256 digest", name);
		char expect[SKIFF_IMAGE_DIGEST_MAX];
		snprintf(expect, sizeof(expect), "sha256:%.64s", de->d_name);
		if (!skiff_image_blob_exists(im->store, expect)) {
			_cleanup_close_ int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return fail(im, -errno, "%s: %m", name);
			struct skiff_blob_writer *w = NULL;
			r = skiff_blob_writer_new(im->store, expect, SKIFF_IMAGE_LAYER_MAX, &w);
			if (r < 0)
				return fail(im, r, "%s: %s", name, strerror(-r));
			_cleanup_free_ unsigned char *buf = xmalloc(IMAGE_READ_CHUNK);
			ssize_t n;
			while ((n = read(fd, buf, IMAGE_READ_CHUNK)) > 0)
				if ((r = skiff_blob_writer_write(w, buf, (size_t)n)) < 0)
					break;
			if (n < 0)
				r = -errno;
			if (r >= 0)
				r = skiff_blob_writer_commit(w, NULL);
			skiff_blob_writer_free(w);
			if (r == -EILSEQ)
				return fail(im, r,
					    "%s: content does not match its digest "
					    "(corrupted blob)",
					    name);
			if (r < 0)
				return fail(im, r, "%s: %s", name, strerror(-r));
		}
		add_blob(im, name, NULL, expect, 0);
	}
	return 0;
}

static la_ssize_t tee_write(struct archive *a, void *data, const void *buf, size_t len)
{
	int r = skiff_blob_writer_write(data, buf, len);
	if (r < 0) {
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

/* A flat rootfs directory: written as one tar layer into im->src.tee. */
static int read_rootfs_dir(struct import *im, const char *dir)
{
	struct archive *disk = archive_read_disk_new();
	struct archive *out = archive_write_new();
	archive_read_disk_set_standard_lookup(disk);
	archive_read_disk_set_symlink_physical(disk);
	archive_write_set_format_pax_restricted(out);
	_cleanup_free_ unsigned char *buf = xmalloc(IMAGE_READ_CHUNK);
	int r = 0;
	if (archive_write_open(out, im->src.tee, NULL, tee_write, NULL) != ARCHIVE_OK ||
	    archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
		r = fail(im, -EIO, "%s", archive_error_string(disk));
		goto out;
	}
	size_t dl = strlen(dir);
	for (;;) {
		struct archive_entry *e = archive_entry_new();
		int ar = archive_read_next_header2(disk, e);
		if (ar == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (ar < ARCHIVE_WARN) {
			r = fail(im, -EIO, "%s", archive_error_string(disk));
			archive_entry_free(e);
			goto out;
		}
		archive_read_disk_descend(disk);
		_cleanup_free_ char *src = xstrdup(archive_entry_pathname(e));
		const char *rel = src + (strncmp(src, dir, dl) == 0 ? dl : 0);
		while (*rel == '/')
			rel++;
		_cleanup_free_ char *name = xasprintf("./%s", rel);
		archive_entry_copy_pathname(e, name);
		if (archive_write_header(out, e) < ARCHIVE_WARN) {
			r = fail(im, -EIO, "%s: %s", src, archive_error_string(out));
			archive_entry_free(e);
			goto out;
		}
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
			_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			ssize_t n = 0;
			if (fd >= 0)
				while ((n = read(fd, buf, IMAGE_READ_CHUNK)) > 0)
					if (archive_write_data(out, buf, (size_t)n) != n) {
						n = -1;
						break;
					}
			if (fd < 0 || n < 0) {
				r = fail(im, -EIO, "%s: %s", src,
					 fd < 0 ? strerror(errno) : archive_error_string(out));
				archive_entry_free(e);
				goto out;
			}
		}
		archive_entry_free(e);
	}
	if (archive_write_close(out) != ARCHIVE_OK)
		r = fail(im, -EIO, "%s", archive_error_string(out));
out:
	archive_read_free(disk);
	archive_write_free(out);
	return r;
}

static const char *layer_media_type(const struct skiff_image_store *s, const char *digest)
{
	_cleanup_free_ char *p = skiff_image_blob_path(s, digest);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	unsigned char m[4] = { 0 };
	if (fd >= 0 && read(fd, m, 4) == 4) {
		if (m[0] == 0x1f && m[1] == 0x8b)
			return SKIFF_MEDIA_OCI_LAYER_GZIP;
		if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
			return SKIFF_MEDIA_OCI_LAYER_ZSTD;
	}
	return SKIFF_MEDIA_OCI_LAYER;
}

static uint64_t blob_size(const struct skiff_image_store *s, const char *digest)
{
	_cleanup_free_ char *p = skiff_image_blob_path(s, digest);
	struct stat st;
	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void set_desc(struct skiff_image_descriptor *d, const char *media_type, const char *digest,
		     uint64_t size)
{
	free(d->media_type);
	d->media_type = xstrdup(media_type);
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->size = size;
}

/* docker save's manifest.json: [{"Config": …, "RepoTags": […], "Layers": […]}] */
static int docker_manifest(struct import *im, struct skiff_image *img, char **ret_name)
{
	json_error_t je;
	json_t *j = json_loadb(im->manifest_json, im->manifest_len, 0, &je);
	int r = 0;
	if (!j || !json_is_array(j) || json_array_size(j) == 0) {
		r = fail(im, -EBADMSG, "manifest.json: %s", j ? "not a non-empty array" : je.text);
		goto out;
	}
	if (json_array_size(j) > 1) {
		r = fail(im, -EOPNOTSUPP,
			 "manifest.json: %zu images in one archive; save them one per archive",
			 json_array_size(j));
		goto out;
	}
	json_t *m = json_array_get(j, 0);
	const char *cfg = json_string_value(json_object_get(m, "Config"));
	json_t *layers = json_object_get(m, "Layers");
	if (!cfg || !json_is_array(layers)) {
		r = fail(im, -EBADMSG, "manifest.json: no Config or Layers");
		goto out;
	}
	const struct entry_blob *cb = find_blob(im, cfg, 0);
	if (!cb) {
		r = fail(im, -ENOENT, "config %s named by manifest.json is missing", cfg);
		goto out;
	}
	set_desc(&img->config_desc, SKIFF_MEDIA_DOCKER_CONFIG, cb->digest,
		 blob_size(im->store, cb->digest));
	size_t n = json_array_size(layers);
	if (n > SKIFF_IMAGE_MAX_LAYERS) {
		r = fail(im, -E2BIG, "manifest.json: %zu layers, more than %d", n,
			 SKIFF_IMAGE_MAX_LAYERS);
		goto out;
	}
	img->layers = xcalloc(n ? n : 1, sizeof(*img->layers));
	for (size_t i = 0; i < n; i++) {
		const char *ln = json_string_value(json_array_get(layers, i));
		const struct entry_blob *lb = ln ? find_blob(im, ln, 0) : NULL;
		if (!lb) {
			r = fail(im, -ENOENT, "layer %zu (%s) named by manifest.json is missing",
				 i + 1, ln ? ln : "?");
			goto out;
		}
		img->n_layers = i + 1;
		set_desc(&img->layers[i], layer_media_type(im->store, lb->digest), lb->digest,
			 blob_size(im->store, lb->digest));
	}
	const char *tag = json_string_value(json_array_get(json_object_get(m, "RepoTags"), 0));
	*ret_name = tag ? xstrdup(tag) : NULL;
out:
	if (j)
		json_decref(j);
	return r;
}

/* A flat rootfs tar becomes a one-layer image with an empty config. */
static int rootfs_image(struct import *im, struct skiff_image *img)
{
	char layer[SKIFF_IMAGE_DIGEST_MAX], cfgd[SKIFF_IMAGE_DIGEST_MAX];
	int r = skiff_blob_writer_commit(im->src.tee, layer);
	if (r < 0)
		return fail(im, r, "cannot store the rootfs: %s", strerror(-r));
	const char *mt = layer_media_type(im->store, layer);
	_cleanup_free_ char *cfg =
	    xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
		      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s%s%s]}}",
		      strcmp(mt, SKIFF_MEDIA_OCI_LAYER) == 0 ? "\"" : "",
		      strcmp(mt, SKIFF_MEDIA_OCI_LAYER) == 0 ? layer : "",
		      strcmp(mt, SKIFF_MEDIA_OCI_LAYER) == 0 ? "\"" : "");
	r = skiff_image_blob_put(im->store, cfg, strlen(cfg), cfgd);
	if (r < 0)
		return fail(im, r, "cannot store the config: %s", strerror(-r));
	set_desc(&img->config_desc, SKIFF_MEDIA_OCI_CONFIG, cfgd, strlen(cfg));
	img->layers = xcalloc(1, sizeof(*img->layers));
	img->n_layers = 1;
	set_desc(&img->layers[0], mt, layer, blob_size(im->store, layer));
	return 0;
}

/* Resolve index.json to an image manifest (indexes may nest). */
static int oci_manifest(struct import *im, struct skiff_image *img, char **ret_name)
{
	char sub[SKIFF_IMAGE_ERR_MAX] = "";
	struct skiff_image_descriptor d = { 0 };
	int r = skiff_image_parse_index(im->index_json, im->index_len, &d, sub, sizeof(sub));
	if (r < 0)
		return fail(im, r, "index.json: %s", sub);
	*ret_name = skiff_image_index_name(im->index_json, im->index_len);
	for (int depth = 0;; depth++) {
		free(d.media_type);
		if (!skiff_image_blob_exists(im->store, d.digest))
			return fail(im, -ENOENT, "manifest %s named by the index is missing",
				    d.digest);
		_cleanup_free_ char *mj = NULL;
		size_t ml;
		r = skiff_image_blob_read(im->store, d.digest, &mj, &ml);
		if (r < 0)
			return fail(im, r, "manifest %s: %s", d.digest, strerror(-r));
		r = skiff_image_parse_manifest(mj, ml, img, sub, sizeof(sub));
		if (r == -EMEDIUMTYPE && depth < 4) {
			char parent[SKIFF_IMAGE_DIGEST_MAX];
			memcpy(parent, d.digest, sizeof(parent));
			d = (struct skiff_image_descriptor){ 0 };
			r = skiff_image_parse_index(mj, ml, &d, sub, sizeof(sub));
			if (r < 0)
				return fail(im, r, "index %s: %s", parent, sub);
			continue;
		}
		if (r < 0)
			return fail(im, r, "manifest %s: %s", d.digest,
				    sub[0] ? sub : "nested too deep");
		memcpy(img->manifest_digest, d.digest, sizeof(d.digest));
		return 0;
	}
}

int skiff_image_import(struct skiff_image_store *s, const char *path, int fd, const char *name,
		       struct skiff_image **ret, char *err, size_t errlen)
{
	struct import im = { .store = s,
			     .source = path && strcmp(path, "-") ? path : "(stdin)",
			     .src = { .fd = -EBADF },
			     .err = err,
			     .errlen = errlen };
	_cleanup_close_ int own = -EBADF;
	struct skiff_image *img = xcalloc(1, sizeof(*img));
	_cleanup_free_ char *archive_name = NULL, *cj = NULL;
	size_t cl = 0;
	char sub[SKIFF_IMAGE_ERR_MAX] = "";
	struct stat st;
	int r;

	if (name && skiff_image_name_parse(name, NULL, NULL) < 0) {
		r = fail(&im, -EINVAL,
			 "image name \"%s\" is not valid (lowercase "
			 "[host[:port]/]path[:tag])",
			 name);
		goto out;
	}
	if (path && strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		_cleanup_free_ char *index = xasprintf("%s/index.json", path);
		if (access(index, F_OK) == 0) {
			r = read_layout_dir(&im, path);
		} else {
			r = skiff_blob_writer_new(s, NULL, SKIFF_IMAGE_LAYER_MAX, &im.src.tee);
			if (r >= 0)
				r = read_rootfs_dir(&im, path);
		}
	} else {
		if (path && strcmp(path, "-") != 0) {
			own = open(path, O_RDONLY | O_CLOEXEC);
			if (own < 0) {
				r = fail(&im, -errno, "%m");
				goto out;
			}
			im.src.fd = own;
		} else {
			im.src.fd = fd;
		}
		r = skiff_blob_writer_new(s, NULL, SKIFF_IMAGE_LAYER_MAX, &im.src.tee);
		if (r < 0) {
			r = fail(&im, r, "cannot write to the image store: %s", strerror(-r));
			goto out;
		}
		r = read_stream(&im);
	}
	if (r < 0)
		goto out;

	if (im.index_json)
		r = oci_manifest(&im, img, &archive_name);
	else if (im.manifest_json)
		r = docker_manifest(&im, img, &archive_name);
	else if (im.src.tee)
		r = rootfs_image(&im, img);
	else if (im.src.tee_error)
		r = fail(&im, im.src.tee_error, "cannot store it as a rootfs: %s",
			 strerror(-im.src.tee_error));
	else
		r = fail(&im, -EBADMSG,
			 "neither index.json (OCI layout) nor manifest.json "
			 "(docker save) in it");
	if (r < 0)
		goto out;

	if (!skiff_image_blob_exists(s, img->config_desc.digest)) {
		r = fail(&im, -ENOENT, "config %s is missing", img->config_desc.digest);
		goto out;
	}
	r = skiff_image_blob_read(s, img->config_desc.digest, &cj, &cl);
	if (r >= 0)
		r = skiff_image_parse_config(cj, cl, &img->config, sub, sizeof(sub));
	if (r < 0) {
		r = fail(&im, r, "config %s: %s", img->config_desc.digest,
			 sub[0] ? sub : strerror(-r));
		goto out;
	}
	if ((img->config.os && strcmp(img->config.os, "linux") != 0) ||
	    (img->config.architecture && strcmp(img->config.architecture, "amd64") != 0)) {
		r = fail(&im, -ENOEXEC, "the image is for %s/%s; this node runs linux/amd64",
			 img->config.os ? img->config.os : "?",
			 img->config.architecture ? img->config.architecture : "?");
		goto out;
	}
	if (img->config.n_diff_ids && img->config.n_diff_ids != img->n_layers) {
		r = fail(&im, -EBADMSG,
			 "the config lists %zu layers (rootfs.diff_ids), the manifest %zu",
			 img->config.n_diff_ids, img->n_layers);
		goto out;
	}
	for (size_t i = 0; i < img->n_layers; i++) {
		const struct skiff_image_descriptor *l = &img->layers[i];
		if (!skiff_image_blob_exists(s, l->digest)) {
			r = fail(&im, -ENOENT, "layer %zu (%s) is missing", i + 1, l->digest);
			goto out;
		}
		if (blob_size(s, l->digest) != l->size) {
			r = fail(&im, -EBADMSG,
				 "layer %zu (%s): %llu bytes, the manifest says %llu", i + 1,
				 l->digest, (unsigned long long)blob_size(s, l->digest),
				 (unsigned long long)l->size);
			goto out;
		}
	}
	if (!img->manifest_digest[0]) {
		_cleanup_free_ char *mj = skiff_image_manifest_json(img);
		r = skiff_image_blob_put(s, mj, strlen(mj), img->manifest_digest);
		if (r < 0) {
			r = fail(&im, r, "cannot store the manifest: %s", strerror(-r));
			goto out;
		}
		img->size += strlen(mj);
		img->size += img->config_desc.size;
		for (size_t i = 0; i < img->n_layers; i++)
			img->size += img->layers[i].size;
	}
	const char *final = name ? name : archive_name;
	if (final && skiff_image_name_parse(final, NULL, NULL) < 0)
		final = NULL; /* e.g. an OCI ref.name that is a bare tag */
	if (final) {
		r = skiff_image_tag(s, final, img->manifest_digest);
		if (r < 0) {
			r = fail(&im, r, "cannot tag it %s: %s", final, strerror(-r));
			goto out;
		}
		img->name = xstrdup(final);
	}
	r = 0;
out:
	import_clear(&im);
	if (r < 0) {
		skiff_image_free(img);
		return r;
	}
	if (ret)
		*ret = img;
	else
		skiff_image_free(img);
	return 0;
}
