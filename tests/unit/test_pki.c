/* test_pki.c — lib/pki: the cluster CA on disk, issued and CSR-signed
 * certificates (CN/OU forced), join tokens, and the client config file. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "util.h"
#include "testlib.h"

static X509 *parse_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ck_assert_ptr_nonnull(x);
	return x;
}

static void subject_field(X509 *x, int nid, char *buf, int len)
{
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), nid, buf, len), 0);
}

static struct skiff_ca *make_ca(const char *sub)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", tmpdir, sub);
	struct skiff_ca *ca = NULL;
	ck_assert_int_eq(skiff_ca_init(dir, "test", &ca), 0);
	return ca;
}

TEST(test_ca_init_and_reload)
{
	_cleanup_free_ char *dir = xasprintf("%s/brain", tmpdir);
	_cleanup_free_ char *key = xasprintf("%s/ca.key", dir);
	struct skiff_ca *ca = NULL, *again = NULL;
	struct stat st;

	ck_assert_int_eq(skiff_ca_init(dir, "prod", &ca), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	X509 *x = parse_cert(skiff_ca_cert_pem(ca));
	ck_assert_int_eq(X509_check_ca(x), 1);
	char cn[128];
	subject_field(x, NID_commonName, cn, sizeof(cn));
	ck_assert_str_eq(cn, "skiff-ca prod");
	X509_free(x);

	/* second start: the same CA, not a new one */
	ck_assert_int_eq(skiff_ca_init(dir, "prod", &again), 0);
	ck_assert_str_eq(skiff_ca_cert_pem(again), skiff_ca_cert_pem(ca));
	skiff_ca_free(again);

	/* half a CA is never silently replaced */
	_cleanup_free_ char *crt = xasprintf("%s/ca.crt", dir);
	ck_assert_int_eq(unlink(crt), 0);
	ck_assert_int_eq(skiff_ca_init(dir, "prod", &again), -EEXIST);
	ck_assert_int_eq(skiff_ca_load(dir, &again), -ENOENT);
	skiff_ca_free(ca);
}
END_TEST

TEST(test_issue)
{
	struct skiff_ca *ca = make_ca("a");
	_cleanup_free_ char *crt = NULL, *key = NULL;

	ck_assert_int_eq(skiff_ca_issue(ca, "brain", SKIFF_ROLE_SERVER, "127.0.0.1,brain.local",
					365, &crt, &key),
			 0);
	X509 *x = parse_cert(crt), *cax = parse_cert(skiff_ca_cert_pem(ca));
	char buf[128];
	subject_field(x, NID_commonName, buf, sizeof(buf));
	ck_assert_str_eq(buf, "brain");
	subject_field(x, NID_organizationalUnitName, buf, sizeof(buf));
	ck_assert_str_eq(buf, "server");
	ck_assert_int_eq(X509_check_issued(cax, x), X509_V_OK);
	ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(cax)), 1);
	ck_assert_int_eq(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	ck_assert_int_eq(X509_check_host(x, "brain.local", 0, 0, NULL), 1);
	ck_assert_int_lt(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
	ck_assert_int_gt(X509_cmp_current_time(X509_get0_notAfter(x)), 0);
	ck_assert_ptr_nonnull(strstr(key, "PRIVATE KEY"));
	X509_free(x);
	free(crt);
	free(key);

	/* valid_days < 0: already expired */
	ck_assert_int_eq(skiff_ca_issue(ca, "old", SKIFF_ROLE_ADMIN, NULL, -1, &crt, &key), 0);
	x = parse_cert(crt);
	ck_assert_int_lt(X509_cmp_current_time(X509_get0_notAfter(x)), 0);
	X509_free(x);
	X509_free(cax);
	free(crt);
	free(key);
	crt = key = NULL;

	/* names that do not fit a certificate */
	ck_assert_int_eq(skiff_ca_issue(ca, "", SKIFF_ROLE_NODE, NULL, 1, &crt, &key), -EINVAL);
	ck_assert_int_eq(skiff_ca_issue(ca, "a\nb", SKIFF_ROLE_NODE, NULL, 1, &crt, &key), -EINVAL);
	ck_assert_int_eq(skiff_ca_issue(ca, "n", SKIFF_ROLE_NODE, "bad name!", 1, &crt, &key),
			 -EINVAL);
	skiff_ca_free(ca);
}
END_TEST

TEST(test_csr_signing_forces_identity)
{
	struct skiff_ca *ca = make_ca("a");
	_cleanup_free_ char *key = NULL, *csr = NULL, *crt = NULL;

	/* the joining agent asks for an admin-looking name; the CA decides */
	ck_assert_int_eq(skiff_pki_key_and_csr("admin", &key, &csr), 0);
	ck_assert_ptr_nonnull(strstr(csr, "CERTIFICATE REQUEST"));
	ck_assert_int_eq(skiff_ca_sign_csr(ca, csr, "vm1", SKIFF_ROLE_NODE, 365, &crt), 0);
	X509 *x = parse_cert(crt);
	char buf[128];
	subject_field(x, NID_commonName, buf, sizeof(buf));
	ck_assert_str_eq(buf, "vm1");
	subject_field(x, NID_organizationalUnitName, buf, sizeof(buf));
	ck_assert_str_eq(buf, "node");
	/* the certificate is for the CSR's key */
	BIO *b = BIO_new_mem_buf(key, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	ck_assert_int_eq(X509_check_private_key(x, k), 1);
	EVP_PKEY_free(k);
	BIO_free(b);
	X509_free(x);

	/* garbage and tampered requests are refused */
	char *out = NULL;
	ck_assert_int_eq(skiff_ca_sign_csr(ca, "not a csr", "vm1", "node", 1, &out), -EBADMSG);
	_cleanup_free_ char *bad = xstrdup(csr);
	char *mid = bad + strlen("-----BEGIN CERTIFICATE REQUEST-----\n") + 40;
	*mid = *mid == 'A' ? 'B' : 'A';
	ck_assert_int_eq(skiff_ca_sign_csr(ca, bad, "vm1", "node", 1, &out), -EBADMSG);
	ck_assert_ptr_null(out);
	skiff_ca_free(ca);
}
END_TEST

TEST(test_tokens)
{
	struct skiff_ca *ca = make_ca("a");
	_cleanup_free_ char *t1 = NULL, *t2 = NULL;
	char digest[65], secret[33], want[65];

	ck_assert_int_eq(skiff_token_new(ca, &t1), 0);
	ck_assert_int_eq(skiff_token_new(ca, &t2), 0);
	ck_assert(skiff_startswith(t1, "SKIFF-1-"));
	ck_assert_uint_eq(strlen(t1), 8 + 64 + 1 + 32);
	ck_assert_int_eq(skiff_token_parse(t1, digest, secret), 0);
	ck_assert_int_eq(skiff_ca_digest(ca, want), 0);
	ck_assert_str_eq(digest, want);
	ck_assert_int_eq(skiff_pki_cert_digest(skiff_ca_cert_pem(ca), want), 0);
	ck_assert_str_eq(digest, want);
	ck_assert_uint_eq(strlen(secret), 32);
	/* fresh secret each time (128 bits) */
	ck_assert(!skiff_token_equal(t1, t2));
	ck_assert(skiff_token_equal(t1, t1));
	ck_assert(!skiff_token_equal(t1, "SKIFF-1-short"));
	ck_assert(!skiff_token_equal(t1, NULL));

	const char *bad[] = { "", "SKIFF-1-", "SKIFF-2-x", "hello", NULL };
	for (int i = 0; bad[i]; i++)
		ck_assert_int_eq(skiff_token_parse(bad[i], digest, secret), -EINVAL);
	_cleanup_free_ char *t3 = xstrdup(t1);
	t3[20] = 'Z'; /* not hex */
	ck_assert_int_eq(skiff_token_parse(t3, digest, secret), -EINVAL);
	t3[20] = t1[20];
	t3[8 + 64] = '_';
	ck_assert_int_eq(skiff_token_parse(t3, digest, secret), -EINVAL);
	skiff_ca_free(ca);
}
END_TEST

TEST(test_client_config_round_trip)
{
	struct skiff_ca *ca = make_ca("a");
	_cleanup_free_ char *crt = NULL, *key = NULL, *err = NULL;
	_cleanup_free_ char *path = xasprintf("%s/admin.conf", tmpdir);
	struct skiff_client_config in = { 0 }, out = { 0 };
	struct stat st;

	ck_assert_int_eq(skiff_ca_issue(ca, "admin", SKIFF_ROLE_ADMIN, NULL, 365, &crt, &key), 0);
	in.server = (char *)"10.77.0.1:7443";
	in.ca_pem = (char *)skiff_ca_cert_pem(ca);
	in.cert_pem = crt;
	in.key_pem = key;
	ck_assert_int_eq(skiff_client_config_write(path, &in), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(skiff_client_config_read(path, &out, &err), 0);
	ck_assert_str_eq(out.server, in.server);
	ck_assert_str_eq(out.ca_pem, in.ca_pem);
	ck_assert_str_eq(out.cert_pem, crt);
	ck_assert_str_eq(out.key_pem, key);
	skiff_client_config_clear(&out);
	ck_assert_ptr_null(out.server);

	/* IPv6 addresses survive the round trip too */
	in.server = (char *)"[::1]:7443";
	ck_assert_int_eq(skiff_client_config_write(path, &in), 0);
	ck_assert_int_eq(skiff_client_config_read(path, &out, &err), 0);
	ck_assert_str_eq(out.server, "[::1]:7443");
	skiff_client_config_clear(&out);

	_cleanup_free_ char *missing = xasprintf("%s/nope.conf", tmpdir);
	ck_assert_int_eq(skiff_client_config_read(missing, &out, NULL), -ENOENT);
	skiff_ca_free(ca);
}
END_TEST

static void expect_malformed(const char *text, const char *want)
{
	_cleanup_free_ char *path = xasprintf("%s/bad.conf", tmpdir);
	_cleanup_free_ char *err = NULL;
	struct skiff_client_config out = { 0 };

	ck_assert_int_eq(skiff_write_file_atomic(path, text, strlen(text), 0600), 0);
	ck_assert_int_eq(skiff_client_config_read(path, &out, &err), -EBADMSG);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, want), "error '%s' lacks '%s'", err, want);
	ck_assert_msg(skiff_startswith(err, path), "error '%s' does not name the file", err);
	ck_assert_ptr_null(out.server);
}

TEST(test_client_config_malformed)
{
	struct skiff_ca *ca = make_ca("a");
	_cleanup_free_ char *ca_block = NULL;
	{
		/* the CA indented as a block, for valid-looking files */
		_cleanup_free_ char *path = xasprintf("%s/ok.conf", tmpdir);
		_cleanup_free_ char *data = NULL;
		struct skiff_client_config c = { .server = (char *)"h:1",
						 .ca_pem = (char *)skiff_ca_cert_pem(ca) };
		ck_assert_int_eq(skiff_client_config_write(path, &c), 0);
		ck_assert_int_eq(skiff_read_file(path, 65536, &data, NULL), 0);
		ca_block = xstrdup(strstr(data, "ca: |"));
	}
	_cleanup_free_ char *t1 = xasprintf("server: \"h:1\"\ncolour: blue\n%s", ca_block);
	expect_malformed(t1, ":2: unknown key 'colour'");
	expect_malformed("server: \"h:1\n  ca: [\n", ":");
	_cleanup_free_ char *t3 = xasprintf("# c\n%s", ca_block);
	expect_malformed(t3, "missing 'server");
	expect_malformed("server: h:1\nca: |\n  not a certificate\n", ":2: 'ca' is not a PEM");
	expect_malformed("server: h:1\nca:\n  nested: map\n", ":3: 'ca' must be a text value");
	_cleanup_free_ char *t6 = xasprintf("server: nocolon\n%s", ca_block);
	expect_malformed(t6, ":1: server 'nocolon' is not HOST:PORT");
	_cleanup_free_ char *t7 = xasprintf("server: h:1\nserver: h:2\n%s", ca_block);
	expect_malformed(t7, ":2: 'server' given twice");
	skiff_ca_free(ca);
}
END_TEST

TEST_SUITE(.setup = tmpdir_setup, .teardown = tmpdir_teardown);
