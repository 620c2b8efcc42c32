/* images.c — the brain as the cluster's image store.
 *
 * Blobs (manifests, configs, layers) live content-addressed in
 * DATA_DIR/images (lib/image-store); an Image object of the store (kind
 * image) records a name ("REPOSITORY:TAG") for one manifest, with its layers
 * and config, and which nodes report holding it.
 *
 * Uploads (skiffctl image load) come as MSG_IMAGE_BLOB_PUT pieces below the
 * frame cap, each at the offset the brain has reached: the bytes go to a
 * temporary file hashed as they arrive (skiff_blob_writer), never into
 * memory whole, and the blob is kept only when its digest checks out. An
 * upload cut by a dropped connection stays open (MSG_IMAGE_BLOB_STAT says how
 * far it got) for UPLOAD_IDLE_MS, so the client continues from there.
 * MSG_IMAGE_COMMIT then names the manifest once every blob it points at is
 * present.
 *
 * Agents pull with MSG_IMAGE_BLOB_READ: one piece (at most READ_MAX bytes) per
 * request, read from the file when the request comes. The agent keeps a few
 * requests in flight, so the brain holds no more than that per node (the
 * flow control is the agent's: it asks only for what it has written), and a
 * pull interrupted anywhere continues from the agent's byte count.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "image.h"
#include "log.h"
#include "objects.h"
#include "store.h"
#include "util.h"

#define READ_MAX	  (1u << 20)
#define UPLOADS_MAX	  64
#define UPLOAD_IDLE_MS	  (10 * 60 * 1000)
#define REPORTS_MAX	  4096
#define REPORT_IMAGES_MAX 4096

struct upload {
	struct upload *next;
	char digest[SKIFF_IMAGE_DIGEST_MAX];
	struct skiff_blob_writer *w;
	int64_t last_mono;
};

struct node_report {
	struct node_report *next;
	char *node;
	char **digests;
	size_t n;
};

struct images {
	struct skiff_image_store *store;
	struct upload *uploads;
	size_t n_uploads;
	struct node_report *reports;
	size_t n_reports;
	struct event *tick;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void upload_free(struct upload *u)
{
	skiff_blob_writer_free(u->w);
	free(u);
}

static void images_tick(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd, (void)what;
	struct images *im = userdata;
	int64_t now = mono_ms();
	for (struct upload **pp = &im->uploads; *pp;) {
		struct upload *u = *pp;
		if (now - u->last_mono > UPLOAD_IDLE_MS) {
			log_info("image upload of %s dropped after %d min idle", u->digest,
				 UPLOAD_IDLE_MS / 60000);
			*pp = u->next;
			im->n_uploads--;
			upload_free(u);
		} else
			pp = &u->next;
	}
}

int images_open(struct daemon *d)
{
	struct images *im = xcalloc(1, sizeof(*im));
	_cleanup_free_ char *dir = xasprintf("%s/images", d->data_dir);
	int r = skiff_image_store_open(dir, &im->store);
	if (r < 0) {
		log_error("image store %s: %s", dir, strerror(-r));
		free(im);
		return r;
	}
	/* uploads cut by a restart start over: their hash state is gone */
	_cleanup_free_ char *tmp = xasprintf("%s/tmp", dir);
	skiff_rm_rf(tmp);
	skiff_mkdir_p(tmp, 0700);
	im->tick = event_new(d->base, -1, EV_PERSIST, images_tick, im);
	struct timeval tv = { 30, 0 };
	event_add(im->tick, &tv);
	d->images = im;
	return 0;
}

void images_close(struct daemon *d)
{
	struct images *im = d->images;
	if (!im)
		return;
	while (im->uploads) {
		struct upload *u = im->uploads;
		im->uploads = u->next;
		upload_free(u);
	}
	while (im->reports) {
		struct node_report *n = im->reports;
		im->reports = n->next;
		skiff_strv_free(n->digests);
		free(n->node);
		free(n);
	}
	if (im->tick)
		event_free(im->tick);
	skiff_image_store_free(im->store);
	free(im);
	d->images = NULL;
}

static struct upload *upload_find(struct images *im, const char *digest)
{
	for (struct upload *u = im->uploads; u; u = u->next)
		if (streq(u->digest, digest))
			return u;
	return NULL;
}

static void upload_drop(struct images *im, struct upload *u)
{
	for (struct upload **pp = &im->uploads; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			im->n_uploads--;
			upload_free(u);
			return;
		}
}

/* "web" -> "web:latest"; NULL for a name that does not parse or names a
 * digest. */
static char *full_name(const char *name)
{
	_cleanup_free_ char *repo = NULL, *ref = NULL;
	if (!name || skiff_image_name_parse(name, &repo, &ref) < 0 || skiff_image_digest_valid(ref))
		return NULL;
	return xasprintf("%s:%s", repo, ref);
}

static bool blob_size(struct images *im, const char *digest, int64_t *ret)
{
	_cleanup_free_ char *p = skiff_image_blob_path(im->store, digest);
	struct stat st;
	if (stat(p, &st) < 0)
		return false;
	*ret = st.st_size;
	return true;
}

static bool digest_ok(struct skiff_rpc_call *call, const char *digest)
{
	if (skiff_image_digest_valid(digest))
		return true;
	skiff_rpc_call_error(call, -EINVAL, "digest '%.80s' is not sha256: and 64 hex digits",
			     digest ? digest : "");
	return false;
}

static void blob_info(struct images *im, const char *digest, Skiff__ImageBlobInfo *ret)
{
	skiff__image_blob_info__init(ret);
	ret->digest = (char *)digest;
	int64_t size;
	if (blob_size(im, digest, &size)) {
		ret->complete = true;
		ret->size = size;
	} else {
		struct upload *u = upload_find(im, digest);
		ret->have = u ? (int64_t)skiff_blob_writer_size(u->w) : 0;
	}
}

static void handle_blob_stat(struct images *im, struct skiff_rpc_call *call,
			     const Skiff__ImageBlobRequest *req)
{
	if (!digest_ok(call, req->digest))
		return;
	Skiff__ImageBlobInfo info;
	blob_info(im, req->digest, &info);
	skiff_rpc_call_reply(call, &info.base);
}

static void handle_blob_put(struct images *im, struct skiff_rpc_call *call,
			    const Skiff__ImageBlobChunk *c)
{
	if (!digest_ok(call, c->digest))
		return;
	Skiff__ImageBlobInfo info;
	int64_t size;
	if (blob_size(im, c->digest, &size)) { /* another upload finished it */
		blob_info(im, c->digest, &info);
		skiff_rpc_call_reply(call, &info.base);
		return;
	}
	struct upload *u = upload_find(im, c->digest);
	int64_t have = u ? (int64_t)skiff_blob_writer_size(u->w) : 0;
	if (c->offset != have) {
		skiff_rpc_call_error(call, -ERANGE,
				     "upload of blob %s is at byte %" PRId64 ", not %" PRId64
				     " (ask MSG_IMAGE_BLOB_STAT and continue from there)",
				     c->digest, have, c->offset);
		return;
	}
	if (!u) {
		if (im->n_uploads >= UPLOADS_MAX) {
			skiff_rpc_call_error(call, -EBUSY,
					     "too many image uploads at once (limit %d); try again",
					     UPLOADS_MAX);
			return;
		}
		u = xcalloc(1, sizeof(*u));
		snprintf(u->digest, sizeof(u->digest), "%s", c->digest);
		int r = skiff_blob_writer_new(im->store, c->digest, SKIFF_IMAGE_LAYER_MAX, &u->w);
		if (r < 0) {
			free(u);
			skiff_rpc_call_error(call, r, "blob %s: cannot store: %s", c->digest,
					     strerror(-r));
			return;
		}
		u->next = im->uploads;
		im->uploads = u;
		im->n_uploads++;
	}
	u->last_mono = mono_ms();
	int r = skiff_blob_writer_write(u->w, c->data.data, c->data.len);
	if (r < 0) {
		skiff_rpc_call_error(call, r, "blob %s: %s", c->digest,
				     r == -EFBIG ? "larger than the 32 GiB a blob may have"
						 : strerror(-r));
		upload_drop(im, u);
		return;
	}
	if (c->last) {
		char got[SKIFF_IMAGE_DIGEST_MAX] = "";
		r = skiff_blob_writer_commit(u->w, got);
		if (r == -EILSEQ) {
			skiff_rpc_call_error(call, -EBADMSG,
					     "blob %s: the %" PRIu64
					     " bytes uploaded do not match its digest; refused",
					     c->digest, skiff_blob_writer_size(u->w));
			upload_drop(im, u);
			return;
		}
		if (r < 0) {
			skiff_rpc_call_error(call, r, "blob %s: cannot keep it: %s", c->digest,
					     strerror(-r));
			upload_drop(im, u);
			return;
		}
		upload_drop(im, u);
	}
	blob_info(im, c->digest, &info);
	skiff_rpc_call_reply(call, &info.base);
}

static bool report_has(const struct node_report *n, const char *digest)
{
	for (size_t i = 0; i < n->n; i++)
		if (streq(n->digests[i], digest))
			return true;
	return false;
}

/* The nodes whose last report holds digest, sorted by name. */
static void nodes_of(struct images *im, const char *digest, char ***ret, size_t *ret_n)
{
	size_t n = 0;
	for (struct node_report *r = im->reports; r; r = r->next)
		n += report_has(r, digest);
	char **v = n ? xcalloc(n, sizeof(char *)) : NULL;
	size_t i = 0;
	for (struct node_report *r = im->reports; r; r = r->next)
		if (report_has(r, digest))
			v[i++] = xstrdup(r->node);
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && strcmp(v[b - 1], v[b]) > 0; b--) {
			char *t = v[b];
			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	*ret = v;
	*ret_n = n;
}

static char **strv_dup(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static void handle_commit(struct daemon *d, struct skiff_rpc_call *call,
			  const Skiff__ImageCommitRequest *req)
{
	struct images *im = d->images;
	_cleanup_free_ char *name = full_name(req->name);
	if (!name) {
		skiff_rpc_call_error(call, -EINVAL,
				     "image name '%.200s' is not REPOSITORY[:TAG] (lowercase "
				     "letters, digits, '.', '_', '-', '/', a host with a port)",
				     req->name ? req->name : "");
		return;
	}
	if (!digest_ok(call, req->manifest_digest))
		return;
	struct skiff_image *img = NULL;
	char err[SKIFF_IMAGE_ERR_MAX] = "";
	int r = skiff_image_load(im->store, req->manifest_digest, &img, err, sizeof(err));
	if (r < 0) {
		skiff_rpc_call_error(call, r, "image %s: %s", name,
				     err[0] ? err : "manifest not uploaded");
		return;
	}
	for (size_t i = 0; i < img->n_layers; i++)
		if (!skiff_image_blob_exists(im->store, img->layers[i].digest)) {
			skiff_rpc_call_error(call, -ENOENT, "image %s: layer %s not uploaded", name,
					     img->layers[i].digest);
			skiff_image_free(img);
			return;
		}
	char *colon = strrchr(name, ':');
	Skiff__Image *o = xmalloc(sizeof(*o));
	skiff__image__init(o);
	o->metadata = xmalloc(sizeof(*o->metadata));
	skiff__object_meta__init(o->metadata);
	o->metadata->name = xstrdup(name);
	const Skiff__Image *old = brain_get(d->brain, SKIFF_KIND_IMAGE, name);
	o->metadata->created_ms =
	    old && old->metadata ? old->metadata->created_ms : brain_now_ms(d->brain);
	o->repository = xstrndup(name, (size_t)(colon - name));
	o->tag = xstrdup(colon + 1);
	o->digest = xstrdup(img->manifest_digest);
	o->size = (int64_t)img->size;
	o->config_digest = xstrdup(img->config_desc.digest);
	o->config_size = (int64_t)img->config_desc.size;
	int64_t msize = 0;
	blob_size(im, img->manifest_digest, &msize);
	o->manifest_size = msize;
	o->n_layers = img->n_layers;
	o->layers = xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*o->layers));
	for (size_t i = 0; i < img->n_layers; i++) {
		Skiff__ImageLayer *l = xmalloc(sizeof(*l));
		skiff__image_layer__init(l);
		l->digest = xstrdup(img->layers[i].digest);
		l->size = (int64_t)img->layers[i].size;
		l->media_type = xstrdup(img->layers[i].media_type ? img->layers[i].media_type : "");
		o->layers[i] = l;
	}
	const struct skiff_image_config *c = &img->config;
	o->entrypoint = strv_dup(c->entrypoint), o->n_entrypoint = strv_len(c->entrypoint);
	o->cmd = strv_dup(c->cmd), o->n_cmd = strv_len(c->cmd);
	o->env = strv_dup(c->env), o->n_env = strv_len(c->env);
	o->exposed_ports = strv_dup(c->exposed_ports);
	o->n_exposed_ports = strv_len(c->exposed_ports);
	o->working_dir = xstrdup(c->working_dir ? c->working_dir : "");
	o->user = xstrdup(c->user ? c->user : "");
	nodes_of(im, o->digest, &o->nodes, &o->n_nodes);
	size_t nl = img->n_layers;
	skiff_image_free(img);
	r = brain_put(d->brain, SKIFF_KIND_IMAGE, &o->base);
	if (r < 0) {
		skiff_obj_free(&o->base);
		skiff_rpc_call_error(call, r, "image %s: cannot record it: %s", name, strerror(-r));
		return;
	}
	log_info("image %s loaded: %s, %zu layers, %" PRId64 " bytes", name, o->digest, nl,
		 o->size);
	brain_event(d->brain, "image", name, "Normal", "Loaded", "image %s loaded (%s, %zu layers)",
		    name, o->digest, nl);
	daemon_defer_reply(d, call, &o->base);
}

/* ---- removal: the record, then blobs no other image uses -------------- */

struct refs {
	char **v;
	size_t n, cap;
};

static void refs_add(struct refs *r, const char *s)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = xrealloc(r->v, r->cap * sizeof(char *));
	}
	r->v[r->n++] = xstrdup(s);
}

static bool refs_has(const struct refs *r, const char *s)
{
	for (size_t i = 0; i < r->n; i++)
		if (streq(r->v[i], s))
			return true;
	return false;
}

static int collect_refs(const struct skiff_store_obj *o, void *userdata)
{
	const Skiff__Image *img = o->decoded;
	if (!img)
		return 0;
	refs_add(userdata, img->digest);
	refs_add(userdata, img->config_digest);
	for (size_t i = 0; i < img->n_layers; i++)
		refs_add(userdata, img->layers[i]->digest);
	return 0;
}

/* Remove every blob that no image record points at; returns bytes freed. */
static uint64_t blobs_gc(struct daemon *d)
{
	struct images *im = d->images;
	struct refs keep = { 0 };
	skiff_store_foreach(d->brain->store, SKIFF_KIND_IMAGE, collect_refs, &keep);
	_cleanup_free_ char *dir = xasprintf("%s/blobs/sha256", skiff_image_store_dir(im->store));
	uint64_t freed = 0;
	DIR *dh = opendir(dir);
	for (struct dirent *e; dh && (e = readdir(dh));) {
		char digest[SKIFF_IMAGE_DIGEST_MAX];
		snprintf(digest, sizeof(digest), "sha256:%.64s", e->d_name);
		if (strlen(e->d_name) != 64 || !skiff_image_digest_valid(digest) ||
		    refs_has(&keep, digest))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && unlink(p) == 0)
			freed += (uint64_t)st.st_size;
	}
	if (dh)
		closedir(dh);
	for (size_t i = 0; i < keep.n; i++)
		free(keep.v[i]);
	free(keep.v);
	return freed;
}

static void handle_remove(struct daemon *d, struct skiff_rpc_call *call,
			  const Skiff__ImageRemoveRequest *req)
{
	_cleanup_free_ char *name = full_name(req->name);
	Skiff__Image *old = name ? brain_copy(d->brain, SKIFF_KIND_IMAGE, name) : NULL;
	if (!old) {
		skiff_rpc_call_error(call, -ENOENT, "image '%.200s' not found (skiffctl image ls)",
				     req->name ? req->name : "");
		return;
	}
	int r = brain_delete(d->brain, SKIFF_KIND_IMAGE, name);
	if (r < 0) {
		skiff_obj_free(&old->base);
		skiff_rpc_call_error(call, r, "image %s: %s", name, strerror(-r));
		return;
	}
	uint64_t freed = blobs_gc(d);
	log_info("image %s removed, %" PRIu64 " bytes of blobs freed", name, freed);
	daemon_defer_reply(d, call, &old->base);
}

/* ---- agents -------------------------------------------------------------- */

static void handle_resolve(struct daemon *d, struct skiff_rpc_call *call,
			   const Skiff__ImageRemoveRequest *req)
{
	_cleanup_free_ char *name = full_name(req->name);
	const Skiff__Image *img = name ? brain_get(d->brain, SKIFF_KIND_IMAGE, name) : NULL;
	if (!img) {
		skiff_rpc_call_error(call, -ENOENT,
				     "image '%.200s' is not in the cluster's image store (skiffctl "
				     "image load)",
				     req->name ? req->name : "");
		return;
	}
	skiff_rpc_call_reply(call, &img->base);
}

static void handle_blob_read(struct images *im, struct skiff_rpc_call *call,
			     const Skiff__ImageBlobRequest *req)
{
	if (!digest_ok(call, req->digest))
		return;
	_cleanup_free_ char *p = skiff_image_blob_path(im->store, req->digest);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		skiff_rpc_call_error(call, -ENOENT, "blob %s is not in the cluster's image store",
				     req->digest);
		return;
	}
	if (req->offset < 0 || req->offset > st.st_size) {
		skiff_rpc_call_error(call, -ERANGE,
				     "blob %s has %" PRId64 " bytes: offset %" PRId64 " is beyond",
				     req->digest, (int64_t)st.st_size, req->offset);
		return;
	}
	size_t want =
	    req->length > 0 && (uint32_t)req->length < READ_MAX ? (size_t)req->length : READ_MAX;
	if ((int64_t)want > st.st_size - req->offset)
		want = (size_t)(st.st_size - req->offset);
	_cleanup_free_ uint8_t *buf = xmalloc(want ? want : 1);
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, req->offset + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			skiff_rpc_call_error(call, -EIO, "blob %s: read failed: %s", req->digest,
					     n < 0 ? strerror(errno) : "short file");
			return;
		}
		got += (size_t)n;
	}
	Skiff__ImageBlobChunk c;
	skiff__image_blob_chunk__init(&c);
	c.digest = req->digest;
	c.offset = req->offset;
	c.data.data = buf;
	c.data.len = got;
	c.size = st.st_size;
	c.last = req->offset + (int64_t)got == st.st_size;
	skiff_rpc_call_reply(call, &c.base);
}

static struct node_report *report_get(struct images *im, const char *node)
{
	for (struct node_report *r = im->reports; r; r = r->next)
		if (streq(r->node, node))
			return r;
	if (im->n_reports >= REPORTS_MAX)
		return NULL;
	struct node_report *r = xcalloc(1, sizeof(*r));
	r->node = xstrdup(node);
	r->next = im->reports;
	im->reports = r;
	im->n_reports++;
	return r;
}

struct sync_ctx {
	struct images *im;
	char **names;
	size_t n, cap;
};

static bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!streq(a[i], b[i]))
			return false;
	return true;
}

static int collect_stale(const struct skiff_store_obj *o, void *userdata)
{
	struct sync_ctx *c = userdata;
	const Skiff__Image *img = o->decoded;
	if (!img)
		return 0;
	char **nodes;
	size_t n;
	nodes_of(c->im, img->digest, &nodes, &n);
	if (!strv_equal(nodes, n, img->nodes, img->n_nodes)) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 16;
			c->names = xrealloc(c->names, c->cap * sizeof(char *));
		}
		c->names[c->n++] = xstrdup(o->name);
	}
	for (size_t i = 0; i < n; i++)
		free(nodes[i]);
	free(nodes);
	return 0;
}

/* Bring every image record's nodes up to date with the reports. */
static void images_sync_nodes(struct daemon *d)
{
	struct sync_ctx c = { .im = d->images };
	skiff_store_foreach(d->brain->store, SKIFF_KIND_IMAGE, collect_stale, &c);
	for (size_t i = 0; i < c.n; i++) {
		Skiff__Image *img = brain_copy(d->brain, SKIFF_KIND_IMAGE, c.names[i]);
		if (img) {
			for (size_t j = 0; j < img->n_nodes; j++)
				free(img->nodes[j]);
			free(img->nodes);
			nodes_of(d->images, img->digest, &img->nodes, &img->n_nodes);
			(void)brain_put(d->brain, SKIFF_KIND_IMAGE, &img->base);
			skiff_obj_free(&img->base);
		}
		free(c.names[i]);
	}
	free(c.names);
}

static void handle_report(struct daemon *d, struct skiff_rpc_call *call,
			  const Skiff__ImageReport *rep)
{
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	if (!streq_ptr(peer->name, rep->node) && !peer->plaintext) {
		skiff_rpc_call_error(call, -EACCES,
				     "permission denied: node %s may only report for itself, not "
				     "'%s'",
				     peer->name, rep->node ? rep->node : "");
		return;
	}
	if (rep->n_digests > REPORT_IMAGES_MAX) {
		skiff_rpc_call_error(call, -E2BIG, "image report of node %s: %zu images (limit %d)",
				     rep->node, rep->n_digests, REPORT_IMAGES_MAX);
		return;
	}
	struct node_report *r = report_get(d->images, rep->node);
	if (!r) {
		skiff_rpc_call_error(call, -EBUSY, "too many nodes reporting images");
		return;
	}
	skiff_strv_free(r->digests);
	r->digests = xcalloc(rep->n_digests + 1, sizeof(char *));
	r->n = 0;
	for (size_t i = 0; i < rep->n_digests; i++)
		if (skiff_image_digest_valid(rep->digests[i]))
			r->digests[r->n++] = xstrdup(rep->digests[i]);
	images_sync_nodes(d);
	daemon_defer_reply(d, call, NULL);
}

void images_node_deleted(struct daemon *d, const char *node)
{
	struct images *im = d->images;
	for (struct node_report **pp = &im->reports; *pp; pp = &(*pp)->next)
		if (streq((*pp)->node, node)) {
			struct node_report *r = *pp;
			*pp = r->next;
			im->n_reports--;
			skiff_strv_free(r->digests);
			free(r->node);
			free(r);
			images_sync_nodes(d);
			return;
		}
}

/* ---- dispatch -------------------------------------------------------------- */

#define UNPACK_OR_FAIL(type, lower, var)                                                           \
	type *var = (type *)protobuf_c_message_unpack(&lower##__descriptor, NULL,                  \
						      req->payload.len, req->payload.data);        \
	if (!var) {                                                                                \
		skiff_rpc_call_error(call, -EBADMSG, "malformed " #type " payload");               \
		return;                                                                            \
	}

void images_handle(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	struct images *im = d->images;
	switch (req->type) {
	case SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_STAT: {
		UNPACK_OR_FAIL(Skiff__ImageBlobRequest, skiff__image_blob_request, m);
		handle_blob_stat(im, call, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_PUT: {
		UNPACK_OR_FAIL(Skiff__ImageBlobChunk, skiff__image_blob_chunk, m);
		handle_blob_put(im, call, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_IMAGE_COMMIT: {
		UNPACK_OR_FAIL(Skiff__ImageCommitRequest, skiff__image_commit_request, m);
		handle_commit(d, call, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_IMAGE_REMOVE: {
		UNPACK_OR_FAIL(Skiff__ImageRemoveRequest, skiff__image_remove_request, m);
		handle_remove(d, call, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_IMAGE_RESOLVE: {
		UNPACK_OR_FAIL(Skiff__ImageRemoveRequest, skiff__image_remove_request, m);
		handle_resolve(d, call, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_READ: {
		UNPACK_OR_FAIL(Skiff__ImageBlobRequest, skiff__image_blob_request, m);
		handle_blob_read(im, call, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_IMAGE_REPORT: {
		UNPACK_OR_FAIL(Skiff__ImageReport, skiff__image_report, m);
		handle_report(d, call, m);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return;
	}
	default:
		skiff_rpc_call_error(call, -EOPNOTSUPP, "%s is not served by the brain",
				     skiff_rpc_msg_type_name(req->type));
	}
}
