/* image-store.c — the content-addressed blob store and image names (refs).
 * Blobs are hashed with OpenSSL's sha256 while they are written to tmp/ and
 * renamed into blobs/sha256/ only once the digest checks out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "util.h"

struct skiff_image_store {
	char *dir;
};

struct skiff_blob_writer {
	struct skiff_image_store *store;
	EVP_MD_CTX *md;
	int fd;
	char *tmp;
	char expect[SKIFF_IMAGE_DIGEST_MAX];
	uint64_t size, max;
	bool committed;
};

int skiff_image_store_open(const char *dir, struct skiff_image_store **ret)
{
	static const char *const sub[] = { "blobs/sha256", "layers/sha256", "refs", "tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, sub[i]);
		int r = skiff_mkdir_p(p, 0700);
		if (r < 0)
			return r;
	}
	struct skiff_image_store *s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	*ret = s;
	return 0;
}

void skiff_image_store_free(struct skiff_image_store *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s);
}

const char *skiff_image_store_dir(const struct skiff_image_store *s)
{
	return s->dir;
}

char *skiff_image_blob_path(const struct skiff_image_store *s, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", s->dir, digest + 7);
}

bool skiff_image_blob_exists(const struct skiff_image_store *s, const char *digest)
{
	if (!skiff_image_digest_valid(digest))
		return false;
	_cleanup_free_ char *p = skiff_image_blob_path(s, digest);
	return access(p, F_OK) == 0;
}

int skiff_image_blob_read(const struct skiff_image_store *s, const char *digest, char **ret,
			  size_t *ret_len)
{
	if (!skiff_image_digest_valid(digest))
		return -EINVAL;
	_cleanup_free_ char *p = skiff_image_blob_path(s, digest);
	return skiff_read_file(p, SKIFF_IMAGE_JSON_MAX, ret, ret_len);
}

int skiff_blob_writer_new(struct skiff_image_store *s, const char *expect_digest, uint64_t max_size,
			  struct skiff_blob_writer **ret)
{
	if (expect_digest && !skiff_image_digest_valid(expect_digest))
		return -EINVAL;
	_cleanup_free_ char *tmp = xasprintf("%s/tmp/blob-XXXXXX", s->dir);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct skiff_blob_writer *w = xcalloc(1, sizeof(*w));
	w->store = s;
	w->fd = fd;
	w->tmp = TAKE_PTR(tmp);
	w->max = max_size;
	w->md = EVP_MD_CTX_new();
	if (!w->md || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
		abort();
	if (expect_digest)
		snprintf(w->expect, sizeof(w->expect), "%s", expect_digest);
	*ret = w;
	return 0;
}

int skiff_blob_writer_write(struct skiff_blob_writer *w, const void *data, size_t len)
{
	if (w->size + len > w->max)
		return -EFBIG;
	if (EVP_DigestUpdate(w->md, data, len) != 1)
		abort();
	int r = skiff_write_full(w->fd, data, len);
	if (r < 0)
		return r;
	w->size += len;
	return 0;
}

uint64_t skiff_blob_writer_size(const struct skiff_blob_writer *w)
{
	return w->size;
}

int skiff_blob_writer_commit(struct skiff_blob_writer *w, char ret_digest[SKIFF_IMAGE_DIGEST_MAX])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen != 32)
		abort();
	char digest[SKIFF_IMAGE_DIGEST_MAX] = "sha256:";
	skiff_hex(md, 32, digest + 7);
	if (w->expect[0] && strcmp(w->expect, digest) != 0)
		return -EILSEQ;
	if (fsync(w->fd) < 0)
		return -errno;
	_cleanup_free_ char *path = skiff_image_blob_path(w->store, digest);
	if (fchmod(w->fd, 0444) < 0 || rename(w->tmp, path) < 0)
		return -errno;
	w->committed = true;
	if (ret_digest)
		memcpy(ret_digest, digest, sizeof(digest));
	return 0;
}

void skiff_blob_writer_free(struct skiff_blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (!w->committed)
		unlink(w->tmp);
	EVP_MD_CTX_free(w->md);
	free(w->tmp);
	free(w);
}

int skiff_image_blob_put(struct skiff_image_store *s, const void *data, size_t len,
			 char ret_digest[SKIFF_IMAGE_DIGEST_MAX])
{
	struct skiff_blob_writer *w = NULL;
	int r = skiff_blob_writer_new(s, NULL, SKIFF_IMAGE_LAYER_MAX, &w);
	if (r < 0)
		return r;
	r = skiff_blob_writer_write(w, data, len);
	if (r >= 0)
		r = skiff_blob_writer_commit(w, ret_digest);
	skiff_blob_writer_free(w);
	return r;
}

/* refs/<name with every byte outside [a-z0-9._-] as %XX>; names carry a tag. */
static char *ref_path(const struct skiff_image_store *s, const char *name)
{
	_cleanup_free_ char *repo = NULL, *ref = NULL;
	if (skiff_image_name_parse(name, &repo, &ref) < 0 || skiff_image_digest_valid(ref))
		return NULL;
	_cleanup_free_ char *full = xasprintf("%s:%s", repo, ref);
	char *enc = xmalloc(strlen(full) * 3 + 1), *o = enc;
	for (const char *p = full; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-')
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	char *path = xasprintf("%s/refs/%s", s->dir, enc);
	free(enc);
	return path;
}

static char *ref_decode(const char *enc)
{
	char *out = xmalloc(strlen(enc) + 1), *o = out;
	for (const char *p = enc; *p; p++) {
		unsigned int c;
		if (*p == '%' && sscanf(p + 1, "%2X", &c) == 1) {
			*o++ = (char)c;
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

int skiff_image_tag(struct skiff_image_store *s, const char *name, const char *manifest_digest)
{
	_cleanup_free_ char *path = ref_path(s, name);
	if (!path || !skiff_image_digest_valid(manifest_digest))
		return -EINVAL;
	return skiff_write_file_atomic(path, manifest_digest, strlen(manifest_digest), 0644);
}

int skiff_image_resolve(const struct skiff_image_store *s, const char *name,
			char ret_digest[SKIFF_IMAGE_DIGEST_MAX])
{
	const char *at = name ? strchr(name, '@') : NULL;
	const char *d = at ? at + 1 : name;
	if (skiff_image_digest_valid(d)) {
		if (!skiff_image_blob_exists(s, d))
			return -ENOENT;
		snprintf(ret_digest, SKIFF_IMAGE_DIGEST_MAX, "%s", d);
		return 0;
	}
	_cleanup_free_ char *path = ref_path(s, name);
	if (!path)
		return -EINVAL;
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = skiff_read_file(path, SKIFF_IMAGE_DIGEST_MAX, &data, &len);
	if (r < 0)
		return r;
	if (!skiff_image_digest_valid(data))
		return -EBADMSG;
	snprintf(ret_digest, SKIFF_IMAGE_DIGEST_MAX, "%s", data);
	return 0;
}

int skiff_image_untag(struct skiff_image_store *s, const char *name)
{
	_cleanup_free_ char *path = ref_path(s, name);
	if (!path)
		return -EINVAL;
	return unlink(path) < 0 ? -errno : 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int skiff_image_list(const struct skiff_image_store *s, char ***ret_names, size_t *ret_n)
{
	_cleanup_free_ char *dir = xasprintf("%s/refs", s->dir);
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return -errno;
	size_t n = 0, cap = 8;
	char **v = xcalloc(cap + 1, sizeof(char *));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap *= 2;
			v = xrealloc(v, (cap + 1) * sizeof(char *));
		}
		v[n++] = ref_decode(de->d_name);
		v[n] = NULL;
	}
	qsort(v, n, sizeof(char *), cmp_names);
	*ret_names = v;
	*ret_n = n;
	return 0;
}

void skiff_image_free(struct skiff_image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->config_desc.media_type);
	for (size_t i = 0; i < img->n_layers; i++)
		free(img->layers[i].media_type);
	free(img->layers);
	skiff_image_config_clear(&img->config);
	free(img);
}

int skiff_image_load(const struct skiff_image_store *s, const char *name, struct skiff_image **ret,
		     char *err, size_t errlen)
{
	char digest[SKIFF_IMAGE_DIGEST_MAX];
	int r = skiff_image_resolve(s, name, digest);
	if (r < 0) {
		snprintf(err, errlen, "image %s: %s", name,
			 r == -ENOENT ? "not in the image store" : strerror(-r));
		return r;
	}
	_cleanup_free_ char *mj = NULL, *cj = NULL;
	size_t ml, cl;
	r = skiff_image_blob_read(s, digest, &mj, &ml);
	if (r < 0) {
		snprintf(err, errlen, "image %s: manifest %s: %s", name, digest, strerror(-r));
		return r;
	}
	struct skiff_image *img = xcalloc(1, sizeof(*img));
	char sub[SKIFF_IMAGE_ERR_MAX] = "";
	r = skiff_image_parse_manifest(mj, ml, img, sub, sizeof(sub));
	if (r == -EMEDIUMTYPE) {
		/* an index (a pull by its digest): its linux/amd64 manifest */
		struct skiff_image_descriptor d = { 0 };
		r = skiff_image_parse_index(mj, ml, &d, sub, sizeof(sub));
		free(d.media_type);
		if (r >= 0) {
			snprintf(digest, sizeof(digest), "%s", d.digest);
			free(TAKE_PTR(mj));
			r = skiff_image_blob_read(s, digest, &mj, &ml);
			if (r < 0)
				snprintf(sub, sizeof(sub), "manifest %s: %s", digest, strerror(-r));
		}
		if (r >= 0)
			r = skiff_image_parse_manifest(mj, ml, img, sub, sizeof(sub));
		if (r == -EMEDIUMTYPE)
			snprintf(sub, sizeof(sub), "manifest %s: an index inside an index", digest);
	}
	if (r >= 0) {
		r = skiff_image_blob_read(s, img->config_desc.digest, &cj, &cl);
		if (r < 0)
			snprintf(sub, sizeof(sub), "config %s: %s", img->config_desc.digest,
				 strerror(-r));
	}
	if (r >= 0)
		r = skiff_image_parse_config(cj, cl, &img->config, sub, sizeof(sub));
	if (r < 0) {
		snprintf(err, errlen, "image %s: %s", name, sub[0] ? sub : strerror(-r));
		skiff_image_free(img);
		return r;
	}
	snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s", digest);
	img->name = skiff_image_digest_valid(name) ? NULL : xstrdup(name);
	*ret = img;
	return 0;
}
