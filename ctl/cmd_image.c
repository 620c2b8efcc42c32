/* cmd_image.c — `skiffctl image load|ls|rm`: the cluster's image store.
 *
 * load reads an OCI image layout (directory or tar), a `docker save` archive
 * or a rootfs tar (FILE, or `-` for stdin) into a temporary local store
 * (lib/image: digests checked, docker archives and rootfs tars given an OCI
 * manifest), then uploads every blob the brain lacks in MSG_IMAGE_BLOB_PUT
 * pieces of PIECE bytes, WINDOW of them in flight, read from the file as
 * they go. A dropped connection or a refused piece is picked up where the
 * brain's byte count says (MSG_IMAGE_BLOB_STAT). MSG_IMAGE_COMMIT then
 * records the name. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "image.h"
#include "quantity.h"
#include "rpc.h"
#include "util.h"

#define PIECE	     (1u << 20)
#define WINDOW	     4
#define MAX_ATTEMPTS 5

static char *human_size(int64_t bytes, char *buf, size_t len)
{
	if (bytes < 1024)
		snprintf(buf, len, "%" PRId64 "B", bytes);
	else if (bytes < (1 << 20))
		snprintf(buf, len, "%.1fKiB", (double)bytes / 1024);
	else if (bytes < (1ll << 30))
		snprintf(buf, len, "%.1fMiB", (double)bytes / (1 << 20));
	else
		snprintf(buf, len, "%.2fGiB", (double)bytes / (1ll << 30));
	return buf;
}

/* ---- upload --------------------------------------------------------------- */

struct upload {
	const char *digest;
	int fd;
	int64_t size;
	int64_t next;	/* offset of the next piece to send */
	int inflight;	/* pieces sent, not answered */
	int err;	/* first failure */
	char *errmsg;	/* its reason (malloc'd) */
	bool done;	/* the brain holds the whole blob */
	bool sent_last; /* the piece with last set went out */
	uint8_t *buf;	/* one piece being packed */
};

static void on_put_reply(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			 const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	struct upload *u = userdata;
	u->inflight--;
	if (err < 0) {
		if (!u->err) {
			u->err = err;
			u->errmsg = xstrdup(errmsg ? errmsg : strerror(-err));
		}
		return;
	}
	Skiff__ImageBlobInfo *info =
	    skiff__image_blob_info__unpack(NULL, frame->payload.len, frame->payload.data);
	if (info && info->complete)
		u->done = true;
	if (info)
		skiff__image_blob_info__free_unpacked(info, NULL);
}

static int send_piece(struct skiff_rpc_conn *conn, struct upload *u)
{
	size_t n = (size_t)(u->size - u->next < PIECE ? u->size - u->next : PIECE);
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(u->fd, u->buf + got, n - got, u->next + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		got += (size_t)k;
	}
	Skiff__ImageBlobChunk c = SKIFF__IMAGE_BLOB_CHUNK__INIT;
	c.digest = (char *)u->digest;
	c.offset = u->next;
	c.data.data = u->buf;
	c.data.len = n;
	c.last = u->next + (int64_t)n == u->size;
	u->sent_last = c.last;
	int r = skiff_rpc_request(conn, SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_PUT, &c.base, 60000,
				  on_put_reply, u, NULL);
	if (r < 0)
		return r;
	u->inflight++;
	u->next += (int64_t)n;
	return 0;
}

/* One attempt from the brain's byte count: returns 0 when the brain holds
 * the blob, else -errno with *ret_errmsg. */
static int upload_attempt(struct upload *u, int64_t *ret_sent, char **ret_errmsg)
{
	Skiff__ImageBlobRequest q = SKIFF__IMAGE_BLOB_REQUEST__INIT;
	q.digest = (char *)u->digest;
	Skiff__ImageBlobInfo *info = NULL;
	int r = ctl_call_quiet(SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_STAT, &q.base,
			       &skiff__image_blob_info__descriptor, (ProtobufCMessage **)&info,
			       ret_errmsg);
	if (r < 0)
		return r;
	bool complete = info->complete;
	u->next = info->have;
	skiff__image_blob_info__free_unpacked(info, NULL);
	if (complete)
		return 0;
	struct skiff_rpc_sync *s = ctl_sync();
	struct event_base *base = skiff_rpc_sync_base(s);
	int64_t start = u->next;
	u->err = 0;
	u->done = false;
	u->sent_last = false;
	while (!u->err && !u->done && (!u->sent_last || u->inflight > 0)) {
		struct skiff_rpc_conn *conn = skiff_rpc_sync_conn(s);
		if (!conn) {
			u->err = -ECONNRESET;
			u->errmsg = xstrdup("the connection to the brain was lost");
			break;
		}
		while (!u->err && u->inflight < WINDOW && !u->sent_last) {
			r = send_piece(conn, u);
			if (r < 0) {
				u->err = r;
				u->errmsg = xasprintf("cannot send: %s", strerror(-r));
			}
		}
		if (u->inflight > 0)
			event_base_loop(base, EVLOOP_ONCE);
	}
	/* let the pieces still in flight come back before another attempt */
	while (u->inflight > 0 && skiff_rpc_sync_conn(s))
		event_base_loop(base, EVLOOP_ONCE);
	u->inflight = 0;
	*ret_sent += u->next - start;
	if (u->err) {
		*ret_errmsg = TAKE_PTR(u->errmsg);
		return u->err;
	}
	return u->done ? 0 : -EIO;
}

/* Upload one blob of the local store unless the brain has it; resumes after
 * a lost connection or a refused piece. *ret_sent counts bytes sent. */
static int upload_blob(struct skiff_image_store *st, const char *digest, int64_t *ret_sent,
		       bool *ret_present)
{
	_cleanup_free_ char *path = skiff_image_blob_path(st, digest);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctl_error("blob %s: %s: %m", digest, path);
	off_t size = lseek(fd, 0, SEEK_END);
	struct upload u = { .digest = digest, .fd = fd, .size = size };
	u.buf = xmalloc(PIECE);
	int r = 0;
	_cleanup_free_ char *errmsg = NULL;
	*ret_present = false;
	for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
		free(errmsg);
		errmsg = NULL;
		if (!ctl_sync() || !skiff_rpc_sync_conn(ctl_sync())) {
			ctl_disconnect();
			if (ctl_connect() != 0) {
				free(u.buf);
				return CTL_FAIL;
			}
		}
		int64_t before = *ret_sent;
		r = upload_attempt(&u, ret_sent, &errmsg);
		if (r == 0) {
			*ret_present = *ret_sent == before && u.next == 0;
			break;
		}
		/* a digest that does not match, a blob too big, a refusal: final */
		if (r == -EBADMSG || r == -EFBIG || r == -EACCES || r == -EINVAL)
			break;
		fprintf(stderr, "blob %s: %s; resuming (attempt %d of %d)\n", digest,
			errmsg ? errmsg : strerror(-r), attempt + 1, MAX_ATTEMPTS);
		if (ctl_sync() && !skiff_rpc_sync_conn(ctl_sync()))
			ctl_disconnect();
	}
	free(u.buf);
	free(u.errmsg);
	if (r < 0)
		return ctl_error("blob %s: %s", digest, errmsg ? errmsg : strerror(-r));
	return 0;
}

static char *load_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t = xasprintf("%s/skiffctl-load-XXXXXX", base && *base ? base : "/var/tmp");
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

static int image_load(int argc, char **argv)
{
	static const struct option opts[] = { { "name", required_argument, NULL, 'n' },
					      { "quiet", no_argument, NULL, 'q' },
					      { 0 } };
	const char *name = NULL;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:q", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return ctl_usage_error("image", "unknown option");
		}
	}
	if (optind != argc - 1)
		return ctl_usage_error("image", "image load takes one FILE, DIR or - (stdin)");
	const char *src = argv[optind];
	if (name) {
		_cleanup_free_ char *repo = NULL, *ref = NULL;
		if (skiff_image_name_parse(name, &repo, &ref) < 0 || skiff_image_digest_valid(ref))
			return ctl_usage_error("image",
					       "--name '%s' is not REPOSITORY[:TAG] (lowercase "
					       "letters, digits, '.', '_', '-', '/')",
					       name);
	}
	if (ctl_connect() != 0)
		return CTL_FAIL;
	_cleanup_free_ char *tmp = load_tmpdir();
	if (!tmp)
		return ctl_error("cannot make a temporary directory (TMPDIR): %m");
	struct skiff_image_store *st = NULL;
	struct skiff_image *img = NULL;
	char err[SKIFF_IMAGE_ERR_MAX] = "";
	int ret = CTL_FAIL;
	int r = skiff_image_store_open(tmp, &st);
	if (r < 0) {
		ctl_error("cannot make a store in %s: %s", tmp, strerror(-r));
		goto out;
	}
	bool from_stdin = streq(src, "-");
	r = skiff_image_import(st, from_stdin ? NULL : src, from_stdin ? STDIN_FILENO : -1, name,
			       &img, err, sizeof(err));
	if (r < 0) {
		ctl_error("%s", err[0] ? err : strerror(-r));
		goto out;
	}
	if (!img->name) {
		ctl_error("%s names no image: give one with --name REPOSITORY[:TAG]", src);
		goto out;
	}
	int64_t sent = 0;
	int uploaded = 0, present = 0;
	/* layers first, the manifest last: the brain can check it at once */
	for (size_t i = 0; i <= img->n_layers + 1; i++) {
		const char *digest = i < img->n_layers	  ? img->layers[i].digest
				     : i == img->n_layers ? img->config_desc.digest
							  : img->manifest_digest;
		bool had = false;
		if (upload_blob(st, digest, &sent, &had) != 0)
			goto out;
		if (had)
			present++;
		else
			uploaded++;
	}
	Skiff__ImageCommitRequest cr = SKIFF__IMAGE_COMMIT_REQUEST__INIT;
	cr.name = img->name;
	cr.manifest_digest = img->manifest_digest;
	Skiff__Image *rec = NULL;
	if (ctl_call(SKIFF__MSG_TYPE__MSG_IMAGE_COMMIT, &cr.base, &skiff__image__descriptor,
		     (ProtobufCMessage **)&rec) != 0)
		goto out;
	if (!quiet) {
		char b1[32], b2[32];
		printf("Loaded image %s (%s, %zu layers, %s): %d blobs uploaded (%s), %d already "
		       "in the cluster\n",
		       rec->metadata->name, rec->digest, rec->n_layers,
		       human_size(rec->size, b1, sizeof(b1)), uploaded,
		       human_size(sent, b2, sizeof(b2)), present);
	}
	skiff__image__free_unpacked(rec, NULL);
	ret = CTL_OK;
out:
	skiff_image_free(img);
	skiff_image_store_free(st);
	skiff_rm_rf(tmp);
	return ret;
}

/* ---- ls, rm ---------------------------------------------------------------- */

static json_t *strv_json(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *image_json(const Skiff__Image *im)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(im->metadata->name));
	json_object_set_new(o, "repository", json_string(im->repository));
	json_object_set_new(o, "tag", json_string(im->tag));
	json_object_set_new(o, "digest", json_string(im->digest));
	json_object_set_new(o, "size", json_integer(im->size));
	json_object_set_new(o, "config", json_string(im->config_digest));
	json_t *layers = json_array();
	for (size_t i = 0; i < im->n_layers; i++) {
		json_t *l = json_object();
		json_object_set_new(l, "digest", json_string(im->layers[i]->digest));
		json_object_set_new(l, "size", json_integer(im->layers[i]->size));
		json_object_set_new(l, "mediaType", json_string(im->layers[i]->media_type));
		json_array_append_new(layers, l);
	}
	json_object_set_new(o, "layers", layers);
	json_object_set_new(o, "entrypoint", strv_json(im->entrypoint, im->n_entrypoint));
	json_object_set_new(o, "cmd", strv_json(im->cmd, im->n_cmd));
	json_object_set_new(o, "env", strv_json(im->env, im->n_env));
	json_object_set_new(o, "workingDir", json_string(im->working_dir));
	json_object_set_new(o, "user", json_string(im->user));
	json_object_set_new(o, "exposedPorts", strv_json(im->exposed_ports, im->n_exposed_ports));
	json_object_set_new(o, "nodes", strv_json(im->nodes, im->n_nodes));
	json_object_set_new(o, "createdMs", json_integer(im->metadata->created_ms));
	return o;
}

static int image_ls(int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' }, { 0 } };
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o' && streq(optarg, "json"))
			json = true;
		else if (c == 'o')
			return ctl_usage_error("image", "-o: '%s' is not json", optarg);
		else
			return ctl_usage_error("image", "unknown option");
	}
	if (optind < argc)
		return ctl_usage_error("image", "unexpected argument '%s'", argv[optind]);
	Skiff__ListRequest lr = SKIFF__LIST_REQUEST__INIT;
	lr.kind = (char *)"image";
	Skiff__ListResponse *l = NULL;
	if (ctl_connect() != 0 ||
	    ctl_call(SKIFF__MSG_TYPE__MSG_LIST, &lr.base, &skiff__list_response__descriptor,
		     (ProtobufCMessage **)&l) != 0)
		return CTL_FAIL;
	if (json) {
		json_t *items = json_array();
		for (size_t i = 0; i < l->n_items; i++)
			if (l->items[i]->image)
				json_array_append_new(items, image_json(l->items[i]->image));
		json_t *doc = json_object();
		json_object_set_new(doc, "kind", json_string("ImageList"));
		json_object_set_new(doc, "items", items);
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
		json_decref(doc);
		skiff__list_response__free_unpacked(l, NULL);
		return CTL_OK;
	}
	static const char *const h[] = { "NAME", "TAG", "DIGEST", "SIZE", "NODES" };
	struct skiff_table *t = skiff_table_new(5, h);
	for (size_t i = 0; i < l->n_items; i++) {
		const Skiff__Image *im = l->items[i]->image;
		if (!im)
			continue;
		char digest[24], size[32];
		snprintf(digest, sizeof(digest), "%.19s", im->digest);
		_cleanup_free_ char *joined = NULL;
		size_t len = 0;
		for (size_t j = 0; j < im->n_nodes; j++)
			len += strlen(im->nodes[j]) + 1;
		joined = xcalloc(len + 8, 1);
		for (size_t j = 0; j < im->n_nodes; j++) {
			if (j)
				strcat(joined, ",");
			strcat(joined, im->nodes[j]);
		}
		const char *row[] = { im->repository, im->tag, digest,
				      human_size(im->size, size, sizeof(size)),
				      im->n_nodes ? joined : "<none>" };
		skiff_table_add(t, row);
	}
	if (l->n_items)
		skiff_table_print(t, stdout, true);
	else
		printf("No images (load one with skiffctl image load FILE).\n");
	skiff_table_free(t);
	skiff__list_response__free_unpacked(l, NULL);
	return CTL_OK;
}

static int image_rm(int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("image", "image rm takes one or more NAME[:TAG]");
	if (ctl_connect() != 0)
		return CTL_FAIL;
	int ret = CTL_OK;
	for (int i = 1; i < argc; i++) {
		Skiff__ImageRemoveRequest rr = SKIFF__IMAGE_REMOVE_REQUEST__INIT;
		rr.name = argv[i];
		Skiff__Image *rec = NULL;
		if (ctl_call(SKIFF__MSG_TYPE__MSG_IMAGE_REMOVE, &rr.base, &skiff__image__descriptor,
			     (ProtobufCMessage **)&rec) != 0) {
			ret = CTL_FAIL;
			continue;
		}
		printf("image %s removed (%s)\n", rec->metadata->name, rec->digest);
		skiff__image__free_unpacked(rec, NULL);
	}
	return ret;
}

int cmd_image(int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("image", "image needs a verb: load, ls or rm");
	const char *v = argv[1];
	if (streq(v, "load"))
		return image_load(argc - 1, argv + 1);
	if (streq(v, "ls") || streq(v, "list"))
		return image_ls(argc - 1, argv + 1);
	if (streq(v, "rm") || streq(v, "remove"))
		return image_rm(argc - 1, argv + 1);
	return ctl_usage_error("image", "'%s' is not load, ls or rm", v);
}
