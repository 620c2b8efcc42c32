/* test_image.c — lib/image*: names, manifests, configs, the blob store, and
 * importing and unpacking OCI layouts, docker save archives and rootfs tars
 * that the test builds itself with libarchive (no network, no docker). */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "testlib.h"
#include "util.h"

/* the entry tables below name only the fields they need */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct skiff_image_store *store;
static char err[SKIFF_IMAGE_ERR_MAX];

static void setup(void)
{
	tmpdir_make(NULL);
	_cleanup_free_ char *dir = xasprintf("%s/store", tmpdir);
	ck_assert_int_eq(skiff_image_store_open(dir, &store), 0);
	err[0] = '\0';
}

static void teardown(void)
{
	skiff_image_store_free(store);
	store = NULL;
	tmpdir_remove();
}

/* --- building archives --------------------------------------------------- */

struct ent {
	const char *name;
	char type;	  /* 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char device */
	const char *data; /* file content or link target */
	mode_t mode;
	int uid, gid;
};

struct buf {
	char *data;
	size_t len;
};

static void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* A tar of ents, with filter 0 (none), 'g' (gzip) or 'z' (zstd). */
static struct buf make_tar(const struct ent *ents, size_t n, char filter)
{
	struct buf b = { 0 };
	FILE *f = open_memstream(&b.data, &b.len);
	ck_assert_ptr_nonnull(f);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (filter == 'g')
		archive_write_add_filter_gzip(a);
	else if (filter == 'z')
		ck_assert_int_eq(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	archive_write_set_bytes_in_last_block(a, 1);
	ck_assert_int_eq(archive_write_open_FILE(a, f), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_uid(e, ents[i].uid);
		archive_entry_set_gid(e, ents[i].gid);
		archive_entry_set_mtime(e, 1700000000, 0);
		mode_t perm = ents[i].mode ? ents[i].mode : 0644;
		size_t len = 0;
		switch (ents[i].type) {
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, ents[i].mode ? ents[i].mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, ents[i].data);
			archive_entry_set_perm(e, 0777);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, ents[i].data);
			archive_entry_set_perm(e, perm);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, makedev(1, 3));
			archive_entry_set_perm(e, 0666);
			break;
		default:
			len = ents[i].data ? strlen(ents[i].data) : 0;
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, perm);
			archive_entry_set_size(e, (la_int64_t)len);
		}
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			ck_assert_int_eq(archive_write_data(a, ents[i].data, len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	fclose(f);
	return b;
}

static void sha256(const void *data, size_t len, char out[SKIFF_IMAGE_DIGEST_MAX])
{
	unsigned char md[32];
	unsigned int n;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	skiff_hex(md, 32, out + 7);
}

/* Files of an archive (name + bytes), in order. */
struct file {
	char *name;
	struct buf content;
};

static struct buf make_archive(struct file *files, size_t n)
{
	struct buf b = { 0 };
	FILE *f = open_memstream(&b.data, &b.len);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	ck_assert_int_eq(archive_write_open_FILE(a, f), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, files[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)files[i].content.len);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		ck_assert_int_eq(archive_write_data(a, files[i].content.data, files[i].content.len),
				 (la_ssize_t)files[i].content.len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	fclose(f);
	return b;
}

static struct buf str_buf(const char *s)
{
	return (struct buf){ .data = xstrdup(s), .len = strlen(s) };
}

static char *write_tmp(const char *name, const struct buf *b)
{
	char *p = xasprintf("%s/%s", tmpdir, name);
	ck_assert_int_eq(skiff_write_file_atomic(p, b->data, b->len, 0644), 0);
	return p;
}

static const struct ent layer1[] = {
	{ "bin", 'd' },
	{ "bin/app", 'f', "#!/bin/sh\necho one\n", 0755 },
	{ "etc", 'd' },
	{ "etc/motd", 'f', "first\n" },
	{ "etc/passwd", 'f', "root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/srv:/bin/sh\n" },
	{ "usr/lib", 'd' },
	{ "lib", 'l', "usr/lib" },
	{ "etc/motd.hard", 'h', "etc/motd" },
};
static const struct ent layer2[] = {
	{ "etc/motd", 'f', "second\n", 0600 },
	{ "srv", 'd', NULL, 0750 },
	{ "srv/index.html", 'f', "<h1>hi</h1>\n" },
};

#define CONFIG_JSON                                                                                \
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"                                \
	"\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"--port\",\"8080\"],"                             \
	"\"Env\":[\"PATH=/usr/bin:/bin\",\"MODE=prod\"],\"WorkingDir\":\"/srv\","                  \
	"\"User\":\"web\",\"ExposedPorts\":{\"8080/tcp\":{}}},"                                    \
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}"

/* An OCI image layout as a tar: a gzip and a zstd layer, an index with an
 * arm64 entry before the amd64 one. corrupt: flip a byte of layer 2 after
 * naming it. */
static struct buf make_oci(bool corrupt, const char *ref_name)
{
	struct buf l1 = make_tar(layer1, ARRAY_SIZE(layer1), 'g');
	struct buf l2 = make_tar(layer2, ARRAY_SIZE(layer2), 'z');
	struct buf u1 = make_tar(layer1, ARRAY_SIZE(layer1), 0);
	struct buf u2 = make_tar(layer2, ARRAY_SIZE(layer2), 0);
	char d1[72], d2[72], dc[72], dm[72], du1[72], du2[72];
	sha256(l1.data, l1.len, d1);
	sha256(l2.data, l2.len, d2);
	sha256(u1.data, u1.len, du1);
	sha256(u2.data, u2.len, du2);
	_cleanup_free_ char *cfg = xasprintf(CONFIG_JSON, du1, du2);
	sha256(cfg, strlen(cfg), dc);
	_cleanup_free_ char *man = xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
	    "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
	    "\"size\":%zu},{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
	    SKIFF_MEDIA_OCI_MANIFEST, SKIFF_MEDIA_OCI_CONFIG, dc, strlen(cfg),
	    SKIFF_MEDIA_OCI_LAYER_GZIP, d1, l1.len, SKIFF_MEDIA_OCI_LAYER_ZSTD, d2, l2.len);
	sha256(man, strlen(man), dm);
	_cleanup_free_ char *index = xasprintf(
	    "{\"schemaVersion\":2,\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"sha256:%064d\",\"size\":10,"
	    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},"
	    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}]}",
	    SKIFF_MEDIA_OCI_MANIFEST, 0, SKIFF_MEDIA_OCI_MANIFEST, dm, strlen(man), ref_name);
	if (corrupt)
		l2.data[l2.len / 2] ^= 0x55;
	struct file files[] = {
		{ xstrdup("oci-layout"), str_buf("{\"imageLayoutVersion\":\"1.0.0\"}") },
		{ xasprintf("blobs/sha256/%s", d1 + 7), l1 },
		{ xasprintf("blobs/sha256/%s", d2 + 7), l2 },
		{ xasprintf("blobs/sha256/%s", dc + 7), str_buf(cfg) },
		{ xasprintf("blobs/sha256/%s", dm + 7), str_buf(man) },
		{ xstrdup("index.json"), str_buf(index) },
	};
	struct buf out = make_archive(files, ARRAY_SIZE(files));
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		free(files[i].name);
		buf_free(&files[i].content);
	}
	buf_free(&u1);
	buf_free(&u2);
	return out;
}

/* A `docker save` archive (legacy layout): <hex>/layer.tar, <hex>.json. */
static struct buf make_docker(void)
{
	struct buf l1 = make_tar(layer1, ARRAY_SIZE(layer1), 0);
	struct buf l2 = make_tar(layer2, ARRAY_SIZE(layer2), 0);
	char d1[72], d2[72], dc[72];
	sha256(l1.data, l1.len, d1);
	sha256(l2.data, l2.len, d2);
	_cleanup_free_ char *cfg = xasprintf(CONFIG_JSON, d1, d2);
	sha256(cfg, strlen(cfg), dc);
	_cleanup_free_ char *manifest = xasprintf(
	    "[{\"Config\":\"%s.json\",\"RepoTags\":[\"registry.local:5000/team/web:1.4\"],"
	    "\"Layers\":[\"%s/layer.tar\",\"%s/layer.tar\"]}]",
	    dc + 7, "aaaa000000000000000000000000000000000000000000000000000000000001",
	    "bbbb000000000000000000000000000000000000000000000000000000000002");
	struct file files[] = {
		{ xstrdup(
		      "aaaa000000000000000000000000000000000000000000000000000000000001/layer.tar"),
		  l1 },
		{ xstrdup(
		      "bbbb000000000000000000000000000000000000000000000000000000000002/layer.tar"),
		  l2 },
		{ xasprintf("%s.json", dc + 7), str_buf(cfg) },
		{ xstrdup("manifest.json"), str_buf(manifest) },
	};
	struct buf out = make_archive(files, ARRAY_SIZE(files));
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		free(files[i].name);
		buf_free(&files[i].content);
	}
	return out;
}

static size_t count_dir(const char *sub)
{
	_cleanup_free_ char *p = xasprintf("%s/store/%s", tmpdir, sub);
	_cleanup_closedir_ DIR *d = opendir(p);
	ck_assert_ptr_nonnull(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	return n;
}

static char *read_layer_file(char **dirs, const char *rel)
{
	/* the topmost layer that has it */
	size_t n = 0;
	while (dirs[n])
		n++;
	for (size_t i = n; i-- > 0;) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dirs[i], rel);
		char *data = NULL;
		size_t len;
		if (skiff_read_file(p, 1 << 20, &data, &len) == 0)
			return data;
	}
	return NULL;
}

/* --- tests ---------------------------------------------------------------- */

TEST(test_names)
{
	_cleanup_free_ char *repo = NULL, *ref = NULL;
	ck_assert_int_eq(skiff_image_name_parse("registry.local:5000/team/web:1.4", &repo, &ref),
			 0);
	ck_assert_str_eq(repo, "registry.local:5000/team/web");
	ck_assert_str_eq(ref, "1.4");
	free(repo), free(ref);
	ck_assert_int_eq(skiff_image_name_parse("demo", &repo, &ref), 0);
	ck_assert_str_eq(repo, "demo");
	ck_assert_str_eq(ref, "latest");
	free(repo), free(ref);
	ck_assert_int_eq(skiff_image_name_parse("localhost:5000/web", &repo, &ref), 0);
	ck_assert_str_eq(repo, "localhost:5000/web");
	ck_assert_str_eq(ref, "latest");
	free(repo), free(ref);
	repo = ref = NULL;
	char n[200];
	snprintf(n, sizeof(n), "web@sha256:%064d", 7);
	ck_assert_int_eq(skiff_image_name_parse(n, &repo, &ref), 0);
	ck_assert_str_eq(repo, "web");
	ck_assert(skiff_image_digest_valid(ref));
	ck_assert_int_eq(skiff_image_name_parse("Web:1", NULL, NULL), -EINVAL);
	ck_assert_int_eq(skiff_image_name_parse("web/../x", NULL, NULL), -EINVAL);
	ck_assert_int_eq(skiff_image_name_parse("web:", NULL, NULL), -EINVAL);
	ck_assert_int_eq(skiff_image_name_parse("a//b", NULL, NULL), -EINVAL);
	ck_assert_int_eq(skiff_image_name_parse("web@sha256:abc", NULL, NULL), -EINVAL);
	ck_assert_int_eq(skiff_image_name_parse("", NULL, NULL), -EINVAL);
}
END_TEST

TEST(test_config)
{
	struct skiff_image_config c = { 0 };
	const char *j = "{\"os\":\"linux\",\"architecture\":\"amd64\",\"config\":{"
			"\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"-v\"],\"Env\":[\"A=1\",\"B=\"],"
			"\"WorkingDir\":\"/srv\",\"User\":\"1000:1000\","
			"\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}}}}";
	ck_assert_int_eq(skiff_image_parse_config(j, strlen(j), &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.entrypoint[0], "/bin/app");
	ck_assert_ptr_null(c.entrypoint[1]);
	ck_assert_str_eq(c.cmd[0], "-v");
	ck_assert_str_eq(c.env[1], "B=");
	ck_assert_str_eq(c.working_dir, "/srv");
	ck_assert_str_eq(c.user, "1000:1000");
	ck_assert_str_eq(c.exposed_ports[0], "80/tcp");
	ck_assert_str_eq(c.exposed_ports[1], "53/udp");
	skiff_image_config_clear(&c);

	/* a null Entrypoint is none; a config without "config" is empty */
	j = "{\"config\":{\"Entrypoint\":null,\"Cmd\":[\"sh\"]}}";
	ck_assert_int_eq(skiff_image_parse_config(j, strlen(j), &c, err, sizeof(err)), 0);
	ck_assert_ptr_null(c.entrypoint);
	skiff_image_config_clear(&c);

	j = "{\"config\":{\"Env\":[\"NOEQUALS\"]}}";
	ck_assert_int_lt(skiff_image_parse_config(j, strlen(j), &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "Env[0]"));
	j = "{\"config\":{\"Cmd\":[1]}}";
	ck_assert_int_lt(skiff_image_parse_config(j, strlen(j), &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "Cmd[0]"));
	j = "[1,2]";
	ck_assert_int_lt(skiff_image_parse_config(j, strlen(j), &c, err, sizeof(err)), 0);
	j = "{\"config\":";
	ck_assert_int_lt(skiff_image_parse_config(j, strlen(j), &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "invalid JSON"));
}
END_TEST

TEST(test_index_and_manifest)
{
	char j[1024];
	struct skiff_image_descriptor d = { 0 };
	snprintf(j, sizeof(j),
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
		 "{\"digest\":\"sha256:%064d\",\"size\":1,\"platform\":{\"os\":\"linux\","
		 "\"architecture\":\"arm64\"}},"
		 "{\"digest\":\"sha256:%064d\",\"size\":2,\"platform\":{\"os\":\"linux\","
		 "\"architecture\":\"amd64\"}}]}",
		 SKIFF_MEDIA_DOCKER_LIST, 1, 2);
	ck_assert_int_eq(skiff_image_parse_index(j, strlen(j), &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.size, 2);
	free(d.media_type);
	snprintf(j, sizeof(j),
		 "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:%064d\",\"size\":1,"
		 "\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}}]}",
		 1);
	ck_assert_int_eq(skiff_image_parse_index(j, strlen(j), &d, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "linux/amd64"));

	struct skiff_image img = { 0 };
	snprintf(
	    j, sizeof(j),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"digest\":\"sha256:%064d\","
	    "\"size\":3},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"sha256:%064d\","
	    "\"size\":107374182400}]}",
	    SKIFF_MEDIA_DOCKER_MANIFEST, 3, SKIFF_MEDIA_DOCKER_LAYER_GZIP, 4);
	ck_assert_int_eq(skiff_image_parse_manifest(j, strlen(j), &img, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "layer 1"));
	snprintf(j, sizeof(j), "{\"schemaVersion\":1,\"fsLayers\":[]}");
	ck_assert_int_eq(skiff_image_parse_manifest(j, strlen(j), &img, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	snprintf(j, sizeof(j), "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[]}",
		 SKIFF_MEDIA_OCI_INDEX);
	ck_assert_int_eq(skiff_image_parse_manifest(j, strlen(j), &img, err, sizeof(err)),
			 -EMEDIUMTYPE);
}
END_TEST

TEST(test_blob_writer_verifies)
{
	char d[72], got[72];
	sha256("hello", 5, d);
	struct skiff_blob_writer *w = NULL;
	ck_assert_int_eq(skiff_blob_writer_new(store, d, 100, &w), 0);
	ck_assert_int_eq(skiff_blob_writer_write(w, "hellO", 5), 0);
	ck_assert_int_eq(skiff_blob_writer_commit(w, got), -EILSEQ);
	skiff_blob_writer_free(w);
	ck_assert(!skiff_image_blob_exists(store, d));
	ck_assert_uint_eq(count_dir("tmp"), 0);

	ck_assert_int_eq(skiff_blob_writer_new(store, d, 4, &w), 0);
	ck_assert_int_eq(skiff_blob_writer_write(w, "hello", 5), -EFBIG);
	skiff_blob_writer_free(w);

	ck_assert_int_eq(skiff_blob_writer_new(store, d, 100, &w), 0);
	ck_assert_int_eq(skiff_blob_writer_write(w, "hel", 3), 0);
	ck_assert_int_eq(skiff_blob_writer_write(w, "lo", 2), 0);
	ck_assert_int_eq(skiff_blob_writer_commit(w, got), 0);
	skiff_blob_writer_free(w);
	ck_assert_str_eq(got, d);
	ck_assert(skiff_image_blob_exists(store, d));
	ck_assert_uint_eq(count_dir("tmp"), 0);
}
END_TEST

static void check_image(struct skiff_image *img)
{
	ck_assert_uint_eq(img->n_layers, 2);
	ck_assert_str_eq(img->config.entrypoint[0], "/bin/app");
	ck_assert_str_eq(img->config.cmd[1], "8080");
	ck_assert_str_eq(img->config.env[1], "MODE=prod");
	ck_assert_str_eq(img->config.working_dir, "/srv");
	ck_assert_str_eq(img->config.user, "web");
	ck_assert_str_eq(img->config.exposed_ports[0], "8080/tcp");

	char **dirs = NULL;
	ck_assert_msg(skiff_image_unpack(store, img, &dirs, err, sizeof(err)) == 0, "%s", err);
	_cleanup_free_ char *motd = read_layer_file(dirs, "etc/motd");
	ck_assert_str_eq(motd, "second\n");
	_cleanup_free_ char *app = xasprintf("%s/bin/app", dirs[0]);
	struct stat st;
	ck_assert_int_eq(stat(app, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(st.st_mtime, 1700000000);
	_cleanup_free_ char *m2 = xasprintf("%s/etc/motd", dirs[1]);
	ck_assert_int_eq(stat(m2, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	_cleanup_free_ char *srv = xasprintf("%s/srv", dirs[1]);
	ck_assert_int_eq(stat(srv, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	_cleanup_free_ char *lib = xasprintf("%s/lib", dirs[0]);
	char target[64] = "";
	ck_assert_int_gt(readlink(lib, target, sizeof(target) - 1), 0);
	ck_assert_str_eq(target, "usr/lib");
	/* the hard link shares the first file's inode */
	_cleanup_free_ char *m1 = xasprintf("%s/etc/motd", dirs[0]);
	_cleanup_free_ char *hard = xasprintf("%s/etc/motd.hard", dirs[0]);
	struct stat a, b;
	ck_assert_int_eq(stat(m1, &a), 0);
	ck_assert_int_eq(stat(hard, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	/* unpacked once: a second unpack gives the same directories */
	char **again = NULL;
	ck_assert_int_eq(skiff_image_unpack(store, img, &again, err, sizeof(err)), 0);
	ck_assert_str_eq(again[0], dirs[0]);
	skiff_strv_free(again);
	skiff_strv_free(dirs);
	ck_assert_uint_eq(count_dir("tmp"), 0);
	ck_assert_uint_eq(count_dir("layers/sha256"), 2);
}

TEST(test_import_oci_archive)
{
	struct buf oci = make_oci(false, "web:1.4");
	_cleanup_free_ char *path = write_tmp("web.oci.tar", &oci);
	buf_free(&oci);
	struct skiff_image *img = NULL;
	ck_assert_msg(skiff_image_import(store, path, -1, NULL, &img, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_str_eq(img->name, "web:1.4");
	ck_assert_str_eq(img->layers[0].media_type, SKIFF_MEDIA_OCI_LAYER_GZIP);
	ck_assert_str_eq(img->layers[1].media_type, SKIFF_MEDIA_OCI_LAYER_ZSTD);
	check_image(img);

	/* the name resolves to the same manifest, and loads the same config */
	struct skiff_image *back = NULL;
	ck_assert_msg(skiff_image_load(store, "web:1.4", &back, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(back->manifest_digest, img->manifest_digest);
	ck_assert_str_eq(back->config.user, "web");
	skiff_image_free(back);
	ck_assert_int_lt(skiff_image_load(store, "web:1.5", &back, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "web:1.5"));

	/* importing again under another name stores nothing new */
	size_t blobs = count_dir("blobs/sha256");
	struct skiff_image *img2 = NULL;
	ck_assert_int_eq(skiff_image_import(store, path, -1, "registry.local:5000/team/web:2",
					    &img2, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(count_dir("blobs/sha256"), blobs);
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(skiff_image_list(store, &names, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "registry.local:5000/team/web:2");
	ck_assert_str_eq(names[1], "web:1.4");
	skiff_strv_free(names);
	ck_assert_int_eq(skiff_image_untag(store, "web:1.4"), 0);
	char d[72];
	ck_assert_int_eq(skiff_image_resolve(store, "web:1.4", d), -ENOENT);
	ck_assert_int_eq(skiff_image_resolve(store, img->manifest_digest, d), 0);
	skiff_image_free(img2);
	skiff_image_free(img);
}
END_TEST

TEST(test_import_oci_directory)
{
	/* unpack the layout tar into a directory with libarchive, import that */
	struct buf oci = make_oci(false, "dir");
	_cleanup_free_ char *layout = xasprintf("%s/layout", tmpdir);
	ck_assert_int_eq(skiff_mkdir_p(layout, 0755), 0);
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, oci.data, oci.len), ARCHIVE_OK);
	struct archive_entry *e;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		_cleanup_free_ char *p = xasprintf("%s/%s", layout, archive_entry_pathname(e));
		_cleanup_free_ char *dir = xstrdup(p);
		*strrchr(dir, '/') = '\0';
		skiff_mkdir_p(dir, 0755);
		size_t len = (size_t)archive_entry_size(e);
		_cleanup_free_ char *data = xmalloc(len + 1);
		ck_assert_int_eq(archive_read_data(a, data, len), (la_ssize_t)len);
		ck_assert_int_eq(skiff_write_file_atomic(p, data, len, 0644), 0);
	}
	archive_read_free(a);
	buf_free(&oci);
	struct skiff_image *img = NULL;
	ck_assert_msg(
	    skiff_image_import(store, layout, -1, "local/dir:1", &img, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_str_eq(img->name, "local/dir:1");
	check_image(img);
	skiff_image_free(img);
}
END_TEST

TEST(test_import_docker_archive)
{
	struct buf dk = make_docker();
	_cleanup_free_ char *path = write_tmp("web.docker.tar", &dk);
	buf_free(&dk);
	struct skiff_image *img = NULL;
	ck_assert_msg(skiff_image_import(store, path, -1, NULL, &img, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_str_eq(img->name, "registry.local:5000/team/web:1.4");
	ck_assert_str_eq(img->layers[0].media_type, SKIFF_MEDIA_OCI_LAYER);
	/* docker's layer.tar is the uncompressed layer: its digest is the diff_id */
	ck_assert_str_eq(img->layers[0].digest, img->config.diff_ids[0]);
	check_image(img);
	/* the manifest written for it is a blob like any other */
	ck_assert(skiff_image_blob_exists(store, img->manifest_digest));
	struct skiff_image *back = NULL;
	ck_assert_int_eq(
	    skiff_image_load(store, "registry.local:5000/team/web:1.4", &back, err, sizeof(err)),
	    0);
	ck_assert_str_eq(back->layers[1].digest, img->layers[1].digest);
	skiff_image_free(back);
	skiff_image_free(img);
}
END_TEST

TEST(test_import_rootfs_stream)
{
	struct buf fs = make_tar(layer1, ARRAY_SIZE(layer1), 'g');
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		skiff_write_full(p[1], fs.data, fs.len);
		_exit(0);
	}
	close(p[1]);
	struct skiff_image *img = NULL;
	int r = skiff_image_import(store, "-", p[0], "busybox", &img, err, sizeof(err));
	close(p[0]);
	waitpid(pid, NULL, 0);
	ck_assert_msg(r == 0, "%s", err);
	ck_assert_str_eq(img->name, "busybox");
	ck_assert_uint_eq(img->n_layers, 1);
	char d[72];
	sha256(fs.data, fs.len, d);
	ck_assert_str_eq(img->layers[0].digest, d);
	ck_assert_str_eq(img->layers[0].media_type, SKIFF_MEDIA_OCI_LAYER_GZIP);
	ck_assert_ptr_null(img->config.entrypoint);
	char **dirs = NULL;
	ck_assert_msg(skiff_image_unpack(store, img, &dirs, err, sizeof(err)) == 0, "%s", err);
	_cleanup_free_ char *pw = read_layer_file(dirs, "etc/passwd");
	ck_assert_ptr_nonnull(strstr(pw, "web:x:1000"));
	skiff_strv_free(dirs);
	skiff_image_free(img);
	buf_free(&fs);
}
END_TEST

TEST(test_import_rootfs_directory)
{
	/* today's flat rootfs directory becomes a one-layer image */
	_cleanup_free_ char *fs = xasprintf("%s/rootfs", tmpdir);
	_cleanup_free_ char *etc = xasprintf("%s/etc", fs);
	_cleanup_free_ char *motd = xasprintf("%s/etc/motd", fs);
	_cleanup_free_ char *link = xasprintf("%s/etc/link", fs);
	ck_assert_int_eq(skiff_mkdir_p(etc, 0755), 0);
	ck_assert_int_eq(skiff_write_file_atomic(motd, "from a dir\n", 11, 0640), 0);
	ck_assert_int_eq(symlink("/etc/motd", link), 0);
	struct skiff_image *img = NULL;
	ck_assert_msg(skiff_image_import(store, fs, -1, "flat:1", &img, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(img->n_layers, 1);
	ck_assert_str_eq(img->layers[0].media_type, SKIFF_MEDIA_OCI_LAYER);
	char **dirs = NULL;
	ck_assert_msg(skiff_image_unpack(store, img, &dirs, err, sizeof(err)) == 0, "%s", err);
	_cleanup_free_ char *got = read_layer_file(dirs, "etc/motd");
	ck_assert_str_eq(got, "from a dir\n");
	_cleanup_free_ char *m = xasprintf("%s/etc/motd", dirs[0]);
	struct stat st;
	ck_assert_int_eq(stat(m, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	_cleanup_free_ char *l = xasprintf("%s/etc/link", dirs[0]);
	char target[64] = "";
	ck_assert_int_gt(readlink(l, target, sizeof(target) - 1), 0);
	ck_assert_str_eq(target, "/etc/motd");
	skiff_strv_free(dirs);
	skiff_image_free(img);
	ck_assert_uint_eq(count_dir("tmp"), 0);
}
END_TEST

TEST(test_import_corrupt_blob)
{
	struct buf oci = make_oci(true, "web:1.4");
	_cleanup_free_ char *path = write_tmp("bad.tar", &oci);
	buf_free(&oci);
	struct skiff_image *img = NULL;
	ck_assert_int_eq(skiff_image_import(store, path, -1, NULL, &img, err, sizeof(err)),
			 -EILSEQ);
	ck_assert_ptr_nonnull(strstr(err, "bad.tar"));
	ck_assert_ptr_nonnull(strstr(err, "blobs/sha256/"));
	ck_assert_ptr_nonnull(strstr(err, "does not match its digest"));
	ck_assert_uint_eq(count_dir("tmp"), 0);
	ck_assert_uint_eq(count_dir("refs"), 0);
}
END_TEST

TEST(test_import_truncated)
{
	struct buf oci = make_oci(false, "web:1.4");
	oci.len = oci.len * 2 / 3;
	_cleanup_free_ char *path = write_tmp("cut.tar", &oci);
	buf_free(&oci);
	struct skiff_image *img = NULL;
	ck_assert_int_lt(skiff_image_import(store, path, -1, NULL, &img, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "cut.tar") &&
			  (strstr(err, "truncated") || strstr(err, "missing")),
		      "%s", err);
	ck_assert_uint_eq(count_dir("tmp"), 0);
	ck_assert_uint_eq(count_dir("refs"), 0);

	/* not an archive at all */
	struct buf junk = str_buf("this is not a tar file, just some words in a row\n");
	_cleanup_free_ char *jp = write_tmp("junk", &junk);
	buf_free(&junk);
	ck_assert_int_lt(skiff_image_import(store, jp, -1, "x", &img, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "junk"));
	ck_assert_uint_eq(count_dir("tmp"), 0);
}
END_TEST

/* Import one layer as a rootfs tar and unpack it: returns unpack's result. */
static int unpack_layer(const struct ent *ents, size_t n)
{
	struct buf fs = make_tar(ents, n, 0);
	_cleanup_free_ char *path = write_tmp("layer.tar", &fs);
	buf_free(&fs);
	struct skiff_image *img = NULL;
	int r = skiff_image_import(store, path, -1, "evil", &img, err, sizeof(err));
	ck_assert_msg(r == 0, "%s", err);
	char **dirs = NULL;
	r = skiff_image_unpack(store, img, &dirs, err, sizeof(err));
	skiff_strv_free(dirs);
	skiff_image_free(img);
	return r;
}

static void assert_refused(const char *what)
{
	ck_assert_msg(strstr(err, what), "%s", err);
	ck_assert_msg(strstr(err, "image evil: layer 1: layer sha256:"), "%s", err);
	ck_assert_uint_eq(count_dir("layers/sha256"), 0);
	ck_assert_uint_eq(count_dir("tmp"), 0);
}

TEST(test_unpack_refuses_dotdot)
{
	static const struct ent e[] = { { "etc", 'd' }, { "etc/../../escaped", 'f', "x" } };
	ck_assert_int_eq(unpack_layer(e, ARRAY_SIZE(e)), -EXDEV);
	assert_refused("etc/../../escaped: a \"..\" component escapes the root");
	_cleanup_free_ char *out = xasprintf("%s/escaped", tmpdir);
	ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

TEST(test_unpack_refuses_symlink_traversal)
{
	_cleanup_free_ char *outside = xasprintf("%s/outside", tmpdir);
	ck_assert_int_eq(skiff_mkdir_p(outside, 0755), 0);
	const struct ent e[] = { { "etc", 'l', outside }, { "etc/passwd", 'f', "owned\n" } };
	ck_assert_int_eq(unpack_layer(e, ARRAY_SIZE(e)), -EXDEV);
	assert_refused("etc/passwd: its parent etc is a symlink");
	ck_assert_uint_eq(count_dir("../outside"), 0);

	/* a hard link to a file through a symlink is refused the same way */
	const struct ent h[] = { { "up", 'l', "/" }, { "stolen", 'h', "up/etc/shadow" } };
	ck_assert_int_eq(unpack_layer(h, ARRAY_SIZE(h)), -EXDEV);
	assert_refused("its parent up is a symlink");
}
END_TEST

TEST(test_unpack_refuses_device)
{
	static const struct ent e[] = { { "dev", 'd' }, { "dev/mem", 'c' } };
	ck_assert_int_eq(unpack_layer(e, ARRAY_SIZE(e)), -EPERM);
	assert_refused("dev/mem: a device node (1:3)");
}
END_TEST

/* A ustar header for a file of `size` bytes in GNU base-256, then a little
 * data and no more: a tar that declares 100 GB. */
static struct buf huge_tar(uint64_t size)
{
	struct buf b = { .data = xcalloc(1, 512 * 4), .len = 512 * 4 };
	char *h = b.data;
	strcpy(h, "big.bin");
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	h[124] = (char)0x80;
	for (int i = 0; i < 8; i++)
		h[135 - i] = (char)((size >> (8 * i)) & 0xff);
	memcpy(h + 136, "14536142000", 12);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	return b;
}

TEST(test_unpack_refuses_huge)
{
	struct buf t = huge_tar(100ull << 30);
	/* as a layer blob in the store */
	char d[72];
	ck_assert_int_eq(skiff_image_blob_put(store, t.data, t.len, d), 0);
	struct skiff_image_descriptor l = { .digest = "", .size = t.len };
	strcpy(l.digest, d);
	char *dir = NULL;
	ck_assert_int_eq(skiff_image_layer_unpack(store, &l, &dir, err, sizeof(err)), -EFBIG);
	ck_assert_msg(strstr(err, "big.bin: declared size 107374182400"), "%s", err);
	ck_assert_ptr_nonnull(strstr(err, d));
	ck_assert_uint_eq(count_dir("layers/sha256"), 0);
	ck_assert_uint_eq(count_dir("tmp"), 0);

	/* as a blob of an archive: refused before streaming */
	struct buf outer = { 0 };
	{
		FILE *f = open_memstream(&outer.data, &outer.len);
		fwrite(t.data, 1, 512, f);
		fclose(f);
	}
	memcpy(outer.data, "blobs/sha256/", 13);
	memset(outer.data + 13, 'a', 64);
	memset(outer.data + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)outer.data[i];
	snprintf(outer.data + 148, 8, "%06o", sum);
	_cleanup_free_ char *path = write_tmp("huge.tar", &outer);
	struct skiff_image *img = NULL;
	ck_assert_int_eq(skiff_image_import(store, path, -1, NULL, &img, err, sizeof(err)), -EFBIG);
	ck_assert_msg(strstr(err, "huge.tar: blobs/sha256/aaaa"), "%s", err);
	ck_assert_uint_eq(count_dir("tmp"), 0);
	buf_free(&outer);
	buf_free(&t);
}
END_TEST

TEST(test_unpack_rechecks_digest)
{
	struct buf fs = make_tar(layer2, ARRAY_SIZE(layer2), 0);
	_cleanup_free_ char *path = write_tmp("fs.tar", &fs);
	buf_free(&fs);
	struct skiff_image *img = NULL;
	ck_assert_int_eq(skiff_image_import(store, path, -1, "evil", &img, err, sizeof(err)), 0);
	/* the blob rots on disk after it was stored */
	_cleanup_free_ char *blob = skiff_image_blob_path(store, img->layers[0].digest);
	chmod(blob, 0644);
	_cleanup_close_ int fd = open(blob, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, 600), 1);
	char **dirs = NULL;
	ck_assert_int_eq(skiff_image_unpack(store, img, &dirs, err, sizeof(err)), -EILSEQ);
	skiff_image_free(img);
	assert_refused("corrupted blob");
}
END_TEST

/* Whiteouts and ownership need root (mknod, trusted.* xattrs, chown). */
TEST_WITH(test_unpack_whiteouts_and_owners, .needs_root = true)
{
	static const struct ent e[] = {
		{ "etc", 'd' },
		{ "etc/.wh.motd", 'f', "" },
		{ "srv", 'd', NULL, 0750, 1000, 1000 },
		{ "srv/.wh..wh..opq", 'f', "" },
		{ "srv/index.html", 'f', "new\n", 04755, 1000, 1001 },
	};
	ck_assert_msg(unpack_layer(e, ARRAY_SIZE(e)) == 0, "%s", err);
	char **names = NULL;
	size_t n;
	struct skiff_image *img = NULL;
	ck_assert_int_eq(skiff_image_load(store, "evil", &img, err, sizeof(err)), 0);
	char **dirs = NULL;
	ck_assert_int_eq(skiff_image_unpack(store, img, &dirs, err, sizeof(err)), 0);
	struct stat st;
	_cleanup_free_ char *wh = xasprintf("%s/etc/motd", dirs[0]);
	ck_assert_int_eq(lstat(wh, &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(0, 0));
	_cleanup_free_ char *whf = xasprintf("%s/etc/.wh.motd", dirs[0]);
	ck_assert_int_ne(access(whf, F_OK), 0);
	_cleanup_free_ char *srv = xasprintf("%s/srv", dirs[0]);
	char v[4] = "";
	ck_assert_int_eq(lgetxattr(srv, "trusted.overlay.opaque", v, sizeof(v)), 1);
	ck_assert_int_eq(v[0], 'y');
	ck_assert_int_eq(lstat(srv, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_int_eq(st.st_mode & 07777, 0750);
	_cleanup_free_ char *idx = xasprintf("%s/srv/index.html", dirs[0]);
	ck_assert_int_eq(lstat(idx, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 1001);
	ck_assert_int_eq(st.st_mode & 07777, 04755); /* set-user-ID kept after chown */
	skiff_strv_free(dirs);
	skiff_image_free(img);
	(void)names;
	(void)n;
}
END_TEST

TEST(test_user_lookup)
{
	const char *passwd = "root:x:0:0:root:/root:/bin/sh\n"
			     "web:x:1000:1001:web:/srv:/bin/sh\n"
			     "broken-line\n"
			     "nobody:x:65534:65534::/:/bin/false";
	const char *group = "root:x:0:\nweb:x:1001:\nstaff:x:50:web\n";
	uint32_t u = 9, g = 9;
	ck_assert_int_eq(skiff_image_user_lookup("", passwd, group, &u, &g, err, sizeof(err)), 0);
	ck_assert(u == 0 && g == 0);
	/* a name takes its passwd uid and primary group */
	ck_assert_int_eq(skiff_image_user_lookup("web", passwd, group, &u, &g, err, sizeof(err)),
			 0);
	ck_assert(u == 1000 && g == 1001);
	ck_assert_int_eq(skiff_image_user_lookup("nobody", passwd, group, &u, &g, err, sizeof(err)),
			 0);
	ck_assert(u == 65534 && g == 65534);
	/* a uid in passwd takes its group; one that is not gets 0 */
	ck_assert_int_eq(skiff_image_user_lookup("1000", passwd, group, &u, &g, err, sizeof(err)),
			 0);
	ck_assert(u == 1000 && g == 1001);
	ck_assert_int_eq(skiff_image_user_lookup("4242", passwd, group, &u, &g, err, sizeof(err)),
			 0);
	ck_assert(u == 4242 && g == 0);
	/* an explicit group, by name or number */
	ck_assert_int_eq(
	    skiff_image_user_lookup("web:staff", passwd, group, &u, &g, err, sizeof(err)), 0);
	ck_assert(u == 1000 && g == 50);
	ck_assert_int_eq(skiff_image_user_lookup("5:7", passwd, group, &u, &g, err, sizeof(err)),
			 0);
	ck_assert(u == 5 && g == 7);
	/* unknown names and malformed values are refused, naming them */
	u = g = 9;
	ck_assert_int_eq(skiff_image_user_lookup("ghost", passwd, group, &u, &g, err, sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(err, "user 'ghost' not found in the image's /etc/passwd"), "%s", err);
	ck_assert(u == 9 && g == 9);
	ck_assert_int_eq(
	    skiff_image_user_lookup("web:wheel", passwd, group, &u, &g, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "group 'wheel'"), "%s", err);
	ck_assert_int_eq(skiff_image_user_lookup("web:", passwd, group, &u, &g, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(skiff_image_user_lookup(":1", passwd, group, &u, &g, err, sizeof(err)),
			 -EINVAL);
	/* "web" as a substring of another name is no match */
	ck_assert_int_eq(skiff_image_user_lookup("we", passwd, group, &u, &g, err, sizeof(err)),
			 -ENOENT);
	/* a uid beyond 32 bits is not a uid, and no such user exists */
	ck_assert_int_eq(
	    skiff_image_user_lookup("99999999999", passwd, group, &u, &g, err, sizeof(err)),
	    -ENOENT);
}
END_TEST

static void put_file(const char *dir, const char *rel, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
	_cleanup_free_ char *d = xstrdup(p);
	*strrchr(d, '/') = '\0';
	ck_assert_int_eq(skiff_mkdir_p(d, 0755), 0);
	ck_assert_int_eq(skiff_write_file_atomic(p, text, strlen(text), 0644), 0);
}

TEST(test_user_resolve_layers)
{
	_cleanup_free_ char *l0 = xasprintf("%s/l0", tmpdir), *l1 = xasprintf("%s/l1", tmpdir),
			    *l2 = xasprintf("%s/l2", tmpdir);
	put_file(l0, "etc/passwd", "root:x:0:0::/:/bin/sh\napp:x:10:10::/:/bin/sh\n");
	put_file(l0, "etc/group", "root:x:0:\napp:x:10:\n");
	/* the upper layer's passwd wins over the lower's */
	put_file(l1, "etc/passwd", "root:x:0:0::/:/bin/sh\napp:x:20:21::/:/bin/sh\n");
	ck_assert_int_eq(skiff_mkdir_p(l2, 0755), 0);
	/* a symlink leaving the layer stays inside it (RESOLVE_IN_ROOT): the
	 * host's /etc/group is never read */
	_cleanup_free_ char *lnk = xasprintf("%s/etc", l2);
	ck_assert_int_eq(skiff_mkdir_p(lnk, 0755), 0);
	_cleanup_free_ char *g2 = xasprintf("%s/etc/group", l2);
	ck_assert_int_eq(symlink("/etc/../etc/group-in-layer", g2), 0);
	put_file(l2, "etc/group-in-layer", "root:x:0:\napp:x:30:\n");
	char *layers[] = { l0, l1, l2, NULL };
	uint32_t u = 0, g = 0;
	ck_assert_int_eq(skiff_image_user_resolve(layers, 2, "app", &u, &g, err, sizeof(err)), 0);
	ck_assert(u == 20 && g == 21);
	ck_assert_int_eq(skiff_image_user_resolve(layers, 3, "app:app", &u, &g, err, sizeof(err)),
			 0);
	ck_assert(u == 20 && g == 30);
	/* a user the host has but the image lacks */
	ck_assert_int_eq(skiff_image_user_resolve(layers, 1, "daemon", &u, &g, err, sizeof(err)),
			 -ENOENT);
	/* an image without /etc/passwd: only numbers work */
	char *bare[] = { l2, NULL };
	ck_assert_int_eq(skiff_image_user_resolve(bare, 1, "app", &u, &g, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(skiff_image_user_resolve(bare, 1, "7:8", &u, &g, err, sizeof(err)), 0);
	ck_assert(u == 7 && g == 8);
}
END_TEST

TEST(test_default_pull_policy)
{
	ck_assert_str_eq(skiff_image_default_pull_policy("web"), "Always");
	ck_assert_str_eq(skiff_image_default_pull_policy("web:latest"), "Always");
	ck_assert_str_eq(skiff_image_default_pull_policy("registry.local:5000/team/web"), "Always");
	ck_assert_str_eq(skiff_image_default_pull_policy("registry.local:5000/team/web:1.4"),
			 "IfNotPresent");
	ck_assert_str_eq(skiff_image_default_pull_policy(
			     "r.local/web@sha256:"
			     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
			 "IfNotPresent");
}
END_TEST

TEST_SUITE(.setup = setup, .teardown = teardown, .timeout = 60);
