/* image.h — container images: OCI image layouts, `docker save` archives and
 * flat rootfs tars, kept in a content-addressed store.
 *
 * A store is a directory:
 *
 *	blobs/sha256/<hex>	every blob (manifests, configs, layers), named by
 *				the sha256 of its bytes, verified while it streamed in
 *	layers/sha256/<hex>/	a layer blob unpacked once, in overlay form
 *				(whiteouts as 0:0 character devices, opaque
 *				directories with trusted.overlay.opaque=y)
 *	refs/<name>		the manifest digest an image name points at
 *	tmp/			blobs and layers being written; renamed into place
 *				only when complete, so nothing half-written is used
 *
 * Every image is reached through an OCI image manifest stored as a blob: one
 * from the archive when it has one, one written on import for `docker save`
 * archives (whose manifest.json is not content-addressed) and rootfs tars. The
 * parsing functions (skiff_image_parse_*) take bytes and do no I/O, so they can
 * be unit-tested and fuzzed alone. Errors come back as -errno with a one-line
 * message in `err` that names the image, the blob or layer, and the entry.
 */
#ifndef SKIFF_IMAGE_H
#define SKIFF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SKIFF_IMAGE_DIGEST_MAX 72 /* "sha256:" + 64 hex + NUL */
#define SKIFF_IMAGE_ERR_MAX    512
/* JSON documents (manifests, indexes, configs) larger than this are refused. */
#define SKIFF_IMAGE_JSON_MAX (4u << 20)
/* A layer may declare (and unpack to) at most this much; more is refused. */
#define SKIFF_IMAGE_LAYER_MAX  (32ull << 30)
#define SKIFF_IMAGE_MAX_LAYERS 128

#define SKIFF_MEDIA_OCI_INDEX	      "application/vnd.oci.image.index.v1+json"
#define SKIFF_MEDIA_OCI_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define SKIFF_MEDIA_OCI_CONFIG	      "application/vnd.oci.image.config.v1+json"
#define SKIFF_MEDIA_OCI_LAYER	      "application/vnd.oci.image.layer.v1.tar"
#define SKIFF_MEDIA_OCI_LAYER_GZIP    "application/vnd.oci.image.layer.v1.tar+gzip"
#define SKIFF_MEDIA_OCI_LAYER_ZSTD    "application/vnd.oci.image.layer.v1.tar+zstd"
#define SKIFF_MEDIA_DOCKER_LIST	      "application/vnd.docker.distribution.manifest.list.v2+json"
#define SKIFF_MEDIA_DOCKER_MANIFEST   "application/vnd.docker.distribution.manifest.v2+json"
#define SKIFF_MEDIA_DOCKER_CONFIG     "application/vnd.docker.container.image.v1+json"
#define SKIFF_MEDIA_DOCKER_LAYER      "application/vnd.docker.image.rootfs.diff.tar"
#define SKIFF_MEDIA_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* One blob a manifest points at. */
struct skiff_image_descriptor {
	char *media_type;
	char digest[SKIFF_IMAGE_DIGEST_MAX];
	uint64_t size;
};

/* What the image config says a container runs as (the OCI "config" object). */
struct skiff_image_config {
	char **entrypoint; /* NULL-terminated, or NULL when the image sets none */
	char **cmd;
	char **env; /* "NAME=value" */
	char *working_dir;
	char *user;
	char **exposed_ports; /* "80/tcp" */
	char *os, *architecture;
	char **diff_ids; /* rootfs.diff_ids, one per layer */
	size_t n_diff_ids;
};

/* An image manifest with its config. */
struct skiff_image {
	char *name; /* "registry:5000/team/web:1.4", or NULL */
	char manifest_digest[SKIFF_IMAGE_DIGEST_MAX];
	struct skiff_image_descriptor config_desc;
	struct skiff_image_descriptor *layers;
	size_t n_layers;
	struct skiff_image_config config;
	uint64_t size; /* the blobs' total: manifest, config and layers */
};

void skiff_image_free(struct skiff_image *img);
void skiff_image_config_clear(struct skiff_image_config *c);

/* --- parsing (no I/O) --------------------------------------------------- */

/* Whether `s` is "sha256:" followed by 64 lowercase hex digits. */
bool skiff_image_digest_valid(const char *s);

/* Parse an OCI index or Docker manifest list and pick the linux/amd64 manifest
 * (an entry without a platform counts when it is the only one). Writes its
 * descriptor to *ret. */
int skiff_image_parse_index(const char *json, size_t len, struct skiff_image_descriptor *ret,
			    char *err, size_t errlen);
/* The name an index's chosen entry carries (io.containerd.image.name, or
 * org.opencontainers.image.ref.name), malloc'd, or NULL. */
char *skiff_image_index_name(const char *json, size_t len);

/* Parse an OCI or Docker v2 image manifest into img->config_desc and
 * img->layers. Returns -EMEDIUMTYPE (with no message) when the document is an
 * index or manifest list instead. */
int skiff_image_parse_manifest(const char *json, size_t len, struct skiff_image *img, char *err,
			       size_t errlen);

/* Parse an image config (Entrypoint, Cmd, Env, WorkingDir, User,
 * ExposedPorts, rootfs.diff_ids). */
int skiff_image_parse_config(const char *json, size_t len, struct skiff_image_config *ret,
			     char *err, size_t errlen);

/* Serialise a manifest for img->config_desc and img->layers (malloc'd). */
char *skiff_image_manifest_json(const struct skiff_image *img);

/* Whether name is an image reference by the OCI distribution grammar
 * (distribution/reference): [HOST[:PORT]/]NAME[/NAME...][:TAG][@DIGEST] with
 * NAME lower-case letters and digits separated by '.', '_', '__' or '-'s,
 * TAG [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, DIGEST sha256:<64 hex>, at most
 * 255 characters. -EINVAL with *ret_errmsg (may be NULL; free()) saying
 * what is wrong, without the name. */
int skiff_image_reference_check(const char *name, char **ret_errmsg);

/* Split "host:5000/team/web:1.4@sha256:…" (a valid reference, see above) into
 * its repository (with host) and its tag or digest; a name without either
 * gets tag "latest". */
int skiff_image_name_parse(const char *name, char **ret_repo, char **ret_ref);

/* Kubernetes' default imagePullPolicy for an image name: "Always" for tag
 * latest (or none), else "IfNotPresent" (also for a digest). */
const char *skiff_image_default_pull_policy(const char *name);

/* --- the store ---------------------------------------------------------- */

struct skiff_image_store;

/* Open (creating when missing) the store at dir. */
int skiff_image_store_open(const char *dir, struct skiff_image_store **ret);
void skiff_image_store_free(struct skiff_image_store *s);
const char *skiff_image_store_dir(const struct skiff_image_store *s);

/* Path of the blob for digest (malloc'd); the blob may not exist. */
char *skiff_image_blob_path(const struct skiff_image_store *s, const char *digest);
bool skiff_image_blob_exists(const struct skiff_image_store *s, const char *digest);
/* Read a JSON blob (at most SKIFF_IMAGE_JSON_MAX) into memory. */
int skiff_image_blob_read(const struct skiff_image_store *s, const char *digest, char **ret,
			  size_t *ret_len);

/* A blob being written: bytes are hashed as they arrive; commit checks the
 * digest (when one was expected) and the size cap, then renames it into
 * place. abort (also done by _free of an uncommitted writer) removes it. */
struct skiff_blob_writer;
int skiff_blob_writer_new(struct skiff_image_store *s, const char *expect_digest, uint64_t max_size,
			  struct skiff_blob_writer **ret);
int skiff_blob_writer_write(struct skiff_blob_writer *w, const void *data, size_t len);
uint64_t skiff_blob_writer_size(const struct skiff_blob_writer *w);
/* On success writes the blob's digest to ret_digest (may be NULL). */
int skiff_blob_writer_commit(struct skiff_blob_writer *w, char ret_digest[SKIFF_IMAGE_DIGEST_MAX]);
void skiff_blob_writer_free(struct skiff_blob_writer *w);

/* Store a whole buffer as a blob. */
int skiff_image_blob_put(struct skiff_image_store *s, const void *data, size_t len,
			 char ret_digest[SKIFF_IMAGE_DIGEST_MAX]);

/* Point name at a manifest digest; look a name (or a "sha256:…" manifest
 * digest) up; list names; remove a name. */
int skiff_image_tag(struct skiff_image_store *s, const char *name, const char *manifest_digest);
int skiff_image_resolve(const struct skiff_image_store *s, const char *name,
			char ret_digest[SKIFF_IMAGE_DIGEST_MAX]);
int skiff_image_untag(struct skiff_image_store *s, const char *name);
int skiff_image_list(const struct skiff_image_store *s, char ***ret_names, size_t *ret_n);

/* Load the image a name or manifest digest refers to: manifest, config. */
int skiff_image_load(const struct skiff_image_store *s, const char *name, struct skiff_image **ret,
		     char *err, size_t errlen);

/* --- import and unpack --------------------------------------------------- */

/* Import an OCI image layout (directory or tar), a `docker save` archive, a
 * flat rootfs tar (plain, gzip or zstd) or a rootfs directory from path ("-" or NULL with fd >= 0
 * reads that fd once, as a stream). The image gets `name` when given, else the
 * name the archive carries; it is tagged in the store when it has one. */
int skiff_image_import(struct skiff_image_store *s, const char *path, int fd, const char *name,
		       struct skiff_image **ret, char *err, size_t errlen);

/* Unpack a layer blob once into layers/sha256/<hex> (checking its digest
 * again first) and write that directory's path to *ret_dir (malloc'd).
 * Entries escaping the root (`..`, through symlinks), device nodes and sizes
 * beyond SKIFF_IMAGE_LAYER_MAX or the filesystem's free space are refused. */
int skiff_image_layer_unpack(struct skiff_image_store *s,
			     const struct skiff_image_descriptor *layer, char **ret_dir, char *err,
			     size_t errlen);

/* Unpack every layer of img; ret_dirs gets their paths, lowest first. */
int skiff_image_unpack(struct skiff_image_store *s, const struct skiff_image *img, char ***ret_dirs,
		       char *err, size_t errlen);

/* --- the config at container start -------------------------------------- */

/* Resolve a User ("NAME", "UID", "NAME:GROUP", "UID:GID"; empty: 0:0) with
 * the given passwd and group file contents (no I/O). A NAME must be in
 * passwd, a GROUP name in group; a bare UID takes its passwd entry's group,
 * else 0. -EINVAL (malformed) or -ENOENT (unknown), with a message. */
int skiff_image_user_lookup(const char *user, const char *passwd, const char *group,
			    uint32_t *ret_uid, uint32_t *ret_gid, char *err, size_t errlen);
/* The same with the image's etc/passwd and etc/group, read from the topmost
 * of its unpacked layers (lowest first) that has each, inside the layer
 * (symlinks cannot reach the host's files). */
int skiff_image_user_resolve(char *const *layers, size_t n_layers, const char *user,
			     uint32_t *ret_uid, uint32_t *ret_gid, char *err, size_t errlen);

void skiff_strv_free(char **v);

#endif
