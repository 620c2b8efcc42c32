/* test_registry.c — lib/registry.c against real registries on 127.0.0.1:
 * Debian's docker-registry over TLS with a test CA (the image pushed with
 * skopeo from an OCI layout built by scripts/oci-image.py), and the stub
 * registry of tests/integration/lib/stubregistry.py for bearer tokens,
 * indexes, redirects, a 500 and a registry that hangs. Pull by tag and by
 * digest; a blob tampered with in the registry's storage is refused and
 * never stored. Set up and torn down by tests/integration/lib/registry.sh.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "registry.h"
#include "testlib.h"
#include "util.h"

static char dir[64];
static char reg[64], stub[64], digest[SKIFF_IMAGE_DIGEST_MAX];
static char err[SKIFF_IMAGE_ERR_MAX];
static char *stub_insecure[2];
static int store_seq;

/* (outside the tests: no ck_assert) */
static void read_line(const char *name, char *out, size_t len)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *data = NULL;
	size_t n;
	out[0] = '\0';
	if (skiff_read_file(p, len, &data, &n) < 0)
		return;
	data[strcspn(data, "\n")] = '\0';
	snprintf(out, len, "%s", data);
}

/* A fresh store for each pull. */
static struct skiff_image_store *new_store(void)
{
	_cleanup_free_ char *p = xasprintf("%s/store-%d-%d", dir, getpid(), ++store_seq);
	struct skiff_image_store *s = NULL;
	ck_assert_int_eq(skiff_image_store_open(p, &s), 0);
	return s;
}

static struct skiff_registry_opts tls_opts(void)
{
	static char ca[128];
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	return (struct skiff_registry_opts){ .ca_file = ca, .timeout_s = 5 };
}

static struct skiff_registry_opts stub_opts(void)
{
	stub_insecure[0] = stub;
	return (struct skiff_registry_opts){ .insecure = stub_insecure, .timeout_s = 5 };
}

/* Pull HOST/rest. */
static int pull(struct skiff_image_store *s, const char *host, const char *rest,
		const struct skiff_registry_opts *o)
{
	_cleanup_free_ char *name = xasprintf("%s/%s", host, rest);
	char d[SKIFF_IMAGE_DIGEST_MAX];
	err[0] = '\0';
	return skiff_registry_pull(s, name, o, d, err, sizeof(err));
}

/* No file left in the store's tmp/ and no blobs beyond the expected count. */
static size_t count_dir(struct skiff_image_store *s, const char *sub)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", skiff_image_store_dir(s), sub);
	_cleanup_closedir_ DIR *d = opendir(p);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	return n;
}

TEST(test_pull_by_tag_tls)
{
	struct skiff_image_store *s = new_store();
	struct skiff_registry_opts o = tls_opts();
	ck_assert_msg(pull(s, reg, "team/web:1.5", &o) == 0, "%s", err);
	_cleanup_free_ char *name = xasprintf("%s/team/web:1.5", reg);
	struct skiff_image *img = NULL;
	ck_assert_msg(skiff_image_load(s, name, &img, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(img->manifest_digest, digest);
	ck_assert_str_eq(img->config.user, "app");
	ck_assert_str_eq(img->config.entrypoint[0], "/bin/sh");
	ck_assert_str_eq(img->config.cmd[0], "echo hello from the image");
	ck_assert_str_eq(img->config.working_dir, "/tmp");
	ck_assert_str_eq(img->config.exposed_ports[0], "8080/tcp");
	/* the layers unpack, and the user resolves with the image's passwd */
	char **layers = NULL;
	ck_assert_msg(skiff_image_unpack(s, img, &layers, err, sizeof(err)) == 0, "%s", err);
	uint32_t uid = 0, gid = 0;
	ck_assert_int_eq(skiff_image_user_resolve(layers, img->n_layers, img->config.user, &uid,
						  &gid, err, sizeof(err)),
			 0);
	ck_assert(uid == 1000 && gid == 1000);
	skiff_strv_free(layers);
	skiff_image_free(img);
	/* pulled again: nothing new is fetched, the tag still resolves */
	ck_assert_msg(pull(s, reg, "team/web:1.5", &o) == 0, "%s", err);
	ck_assert_uint_eq(count_dir(s, "tmp"), 0);
	skiff_image_store_free(s);
}
END_TEST

TEST(test_pull_by_digest)
{
	struct skiff_image_store *s = new_store();
	struct skiff_registry_opts o = tls_opts();
	_cleanup_free_ char *rest = xasprintf("team/web@%s", digest);
	ck_assert_msg(pull(s, reg, rest, &o) == 0, "%s", err);
	_cleanup_free_ char *name = xasprintf("%s/team/web@%s", reg, digest);
	struct skiff_image *img = NULL;
	ck_assert_msg(skiff_image_load(s, name, &img, err, sizeof(err)) == 0, "%s", err);
	skiff_image_free(img);
	/* a digest the registry does not have */
	_cleanup_free_ char *bad = xstrdup(digest);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	_cleanup_free_ char *rest2 = xasprintf("team/web@%s", bad);
	ck_assert_int_eq(pull(s, reg, rest2, &o), -ENOENT);
	ck_assert_msg(strstr(err, "manifest unknown for web@sha256:"), "%s", err);
	skiff_image_store_free(s);
}
END_TEST

TEST(test_unknown_tag_and_untrusted_ca)
{
	struct skiff_image_store *s = new_store();
	struct skiff_registry_opts o = tls_opts();
	ck_assert_int_eq(pull(s, reg, "team/web:1.6", &o), -ENOENT);
	_cleanup_free_ char *want = xasprintf("manifest unknown for web:1.6 at %s (HTTP 404)", reg);
	ck_assert_str_eq(err, want);
	/* without the test CA the registry's certificate is refused */
	struct skiff_registry_opts none = { .timeout_s = 5 };
	ck_assert_int_eq(pull(s, reg, "team/web:1.5", &none), -EIO);
	ck_assert_msg(strstr(err, "manifest of web:1.5 at ") && strstr(err, "certificate"), "%s",
		      err);
	/* the CA as PEM text (how the agent passes the cluster CA) */
	_cleanup_free_ char *pem = NULL, *cap = xasprintf("%s/ca.crt", dir);
	size_t len;
	ck_assert_int_eq(skiff_read_file(cap, 1 << 20, &pem, &len), 0);
	struct skiff_registry_opts blob = { .ca_pem = pem, .timeout_s = 5 };
	ck_assert_msg(pull(s, reg, "team/web:1.5", &blob) == 0, "%s", err);
	/* plain HTTP only for a registry configured insecure */
	struct skiff_registry_opts tls_only = { .timeout_s = 5 };
	ck_assert_int_eq(pull(s, stub, "plain/web:1.5", &tls_only), -EIO);
	skiff_image_store_free(s);
}
END_TEST

TEST(test_bearer_token)
{
	struct skiff_image_store *s = new_store();
	struct skiff_registry_opts o = stub_opts();
	ck_assert_msg(pull(s, stub, "token/web:1.5", &o) == 0, "%s", err);
	/* a repository the token endpoint refuses: the error says where */
	ck_assert_int_eq(pull(s, stub, "token/other:1.5", &o), -EACCES);
	ck_assert_msg(strstr(err, "token from http://127.0.0.1:"), "%s", err);
	skiff_image_store_free(s);
}
END_TEST

TEST(test_index_and_redirect)
{
	struct skiff_image_store *s = new_store();
	struct skiff_registry_opts o = stub_opts();
	ck_assert_msg(pull(s, stub, "index/web:1.5", &o) == 0, "%s", err);
	_cleanup_free_ char *name = xasprintf("%s/index/web:1.5", stub);
	char d[SKIFF_IMAGE_DIGEST_MAX];
	ck_assert_int_eq(skiff_image_resolve(s, name, d), 0);
	ck_assert_str_eq(d, digest); /* the index's linux/amd64 manifest */
	skiff_image_store_free(s);
	s = new_store();
	ck_assert_msg(pull(s, stub, "redirect/web:1.5", &o) == 0, "%s", err);
	skiff_image_store_free(s);
}
END_TEST

TEST(test_500_and_hang)
{
	struct skiff_image_store *s = new_store();
	struct skiff_registry_opts o = stub_opts();
	ck_assert_int_eq(pull(s, stub, "fail/web:1.5", &o), -EIO);
	ck_assert_msg(strstr(err, "layer sha256:") && strstr(err, "of web:1.5 at 127.0.0.1:") &&
			  strstr(err, "storage backend unavailable (HTTP 500)"),
		      "%s", err);
	o.timeout_s = 2;
	ck_assert_int_eq(pull(s, stub, "hang/web:1.5", &o), -ETIMEDOUT);
	ck_assert_msg(strstr(err, "layer sha256:") &&
			  strstr(err, "the registry sent nothing for 2 s"),
		      "%s", err);
	/* nothing half-written is kept: config and manifest only, no tag */
	ck_assert_uint_eq(count_dir(s, "tmp"), 0);
	ck_assert_uint_eq(count_dir(s, "blobs/sha256"), 2);
	ck_assert_uint_eq(count_dir(s, "refs"), 0);
	skiff_image_store_free(s);
}
END_TEST

/* Last: it damages the registry's copy of the layer. */
TEST(test_tampered_blob_refused)
{
	/* the layer blob in the registry's storage: the biggest "data" file */
	_cleanup_free_ char *cmd = xasprintf(
	    "find %s/storage/docker/registry/v2/blobs -name data -size +100k | head -n 1", dir);
	FILE *f = popen(cmd, "r");
	char path[512] = "";
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), f));
	pclose(f);
	path[strcspn(path, "\n")] = '\0';
	FILE *w = fopen(path, "r+b");
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(fseek(w, 2000, SEEK_SET), 0);
	ck_assert_int_eq(fputc('X', w) != EOF, 1);
	fclose(w);

	struct skiff_image_store *s = new_store();
	struct skiff_registry_opts o = tls_opts();
	ck_assert_int_eq(pull(s, reg, "team/web:1.5", &o), -EILSEQ);
	ck_assert_msg(strstr(err, "layer sha256:") &&
			  strstr(err, "the bytes received do not match the digest"),
		      "%s", err);
	ck_assert_uint_eq(count_dir(s, "tmp"), 0);
	ck_assert_uint_eq(count_dir(s, "refs"), 0);
	skiff_image_store_free(s);
}
END_TEST

static char *helper(const char *what)
{
	return xasprintf("bash %s/tests/integration/lib/registry.sh %s %s",
			 getenv("SKIFF_SRC") ? getenv("SKIFF_SRC") : ".", what, dir);
}

static void registries_stop(void);

/* Once, in the runner: the registries up (docker-registry and skopeo come
 * with scripts/deps.sh), their addresses read. */
static int registries_start(void)
{
	strcpy(dir, "/tmp/skiff-test-registry-XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	_cleanup_free_ char *start = helper("start");
	int rc = system(start);
	if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
		fprintf(stderr, "test_registry: registry setup failed (%s)\n", start);
		registries_stop();
		return -EIO;
	}
	read_line("registry.addr", reg, sizeof(reg));
	read_line("stub.addr", stub, sizeof(stub));
	read_line("digest", digest, sizeof(digest));
	return 0;
}

static void registries_stop(void)
{
	_cleanup_free_ char *stop = helper("stop");
	int rc = system(stop);
	(void)rc;
	skiff_rm_rf(dir);
}

TEST_SUITE(.init = registries_start, .teardown_all = registries_stop, .timeout = 60);
