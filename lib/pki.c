/* pki.c — the cluster CA, certificates, CSRs, join tokens and the client
 * config file (Docker Swarm's PKI is the model: the brain is the CA, agents
 * join with a token that pins the CA's digest, skiffctl holds an admin
 * certificate). EC P-256 keys, SHA-256 signatures, OpenSSL 3 EVP/X509 APIs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <yaml.h>

#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "util.h"

#define CA_VALID_DAYS	   3650
#define MAX_PEM_FILE	   (64u << 10)
#define MAX_CN_LEN	   64
#define TOKEN_PREFIX	   "SKIFF-1-"
#define TOKEN_SECRET_BYTES 16

struct skiff_ca {
	X509 *cert;
	EVP_PKEY *key;
	char *cert_pem;
};

/* ---- PEM <-> objects ---------------------------------------------------- */

static char *bio_to_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s = xmalloc((size_t)n + 1);

	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static char *cert_to_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_X509(b, x) == 1)
		s = bio_to_string(b);
	BIO_free(b);
	return s;
}

static char *key_to_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_to_string(b);
	BIO_free(b);
	return s;
}

static X509 *pem_to_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	ERR_clear_error();
	return x;
}

static EVP_PKEY *pem_to_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	ERR_clear_error();
	return k;
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	if (!k)
		abort(); /* only fails when out of memory or OpenSSL is broken */
	return k;
}

static int x509_digest_hex(X509 *x, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
		return -EINVAL;
	skiff_hex(md, 32, hex);
	return 0;
}

int skiff_pki_cert_digest(const char *cert_pem, char ret_hex[65])
{
	X509 *x = cert_pem ? pem_to_cert(cert_pem) : NULL;
	int r;

	if (!x)
		return -EBADMSG;
	r = x509_digest_hex(x, ret_hex);
	X509_free(x);
	return r;
}

/* ---- certificates ------------------------------------------------------- */

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -EINVAL;
}

/* "10.0.0.1,brain.local" -> "IP:10.0.0.1,DNS:brain.local" */
static int sans_to_ext(const char *sans, char **ret)
{
	_cleanup_free_ char *copy = xstrdup(sans);
	char *out = xstrdup(""), *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned char buf[16];
		char *t = tok, *next;
		while (*t == ' ')
			t++;
		for (size_t l = strlen(t); l > 0 && t[l - 1] == ' '; l--)
			t[l - 1] = '\0';
		if (!*t)
			continue;
		bool ip = inet_pton(AF_INET, t, buf) == 1 || inet_pton(AF_INET6, t, buf) == 1;
		if (!ip &&
		    (strspn(t,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") !=
		     strlen(t))) {
			free(out);
			return -EINVAL;
		}
		next = xasprintf("%s%s%s:%s", out, *out ? "," : "", ip ? "IP" : "DNS", t);
		free(out);
		out = next;
	}
	*ret = out;
	return 0;
}

static int valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > MAX_CN_LEN)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -EINVAL;
	return 0;
}

/* A certificate for pubkey: CN=cn, OU=role, signed by the CA (or by key
 * itself when ca is NULL: the CA's own certificate). */
static int make_cert(struct skiff_ca *ca, EVP_PKEY *pubkey, EVP_PKEY *self_key, const char *cn,
		     const char *role, const char *sans, int64_t valid_secs, X509 **ret)
{
	X509 *x = X509_new();
	X509_NAME *name;
	BIGNUM *bn = BN_new();
	unsigned char serial[16];
	long start, end;
	int r = -EINVAL;

	if (!x || !bn)
		abort();
	if (valid_name(cn) < 0 || valid_name(role) < 0)
		goto out;
	if (skiff_random_bytes(serial, sizeof(serial)) < 0)
		goto out;
	serial[0] &= 0x7f; /* positive */
	if (!BN_bin2bn(serial, sizeof(serial), bn) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto out;
	X509_set_version(x, X509_VERSION_3);
	if (valid_secs >= 0) {
		/* tolerate a little clock skew (less for very short lives, whose
		 * renewal at 2/3 must still lie ahead) */
		start = -(valid_secs / 10 < 300 ? (long)(valid_secs / 10) : 300);
		end = (long)valid_secs;
	} else {
		/* already expired: for tests of the refusal */
		end = (long)valid_secs;
		start = end - 86400;
	}
	if (!X509_gmtime_adj(X509_getm_notBefore(x), start) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), end))
		goto out;

	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"skiff", -1,
				       -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)role, -1,
				       -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				       0) != 1)
		goto out;
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca->cert) : name);
	if (X509_set_pubkey(x, pubkey) != 1)
		goto out;

	X509 *issuer = ca ? ca->cert : x;
	if (!ca) {
		if (add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
		    add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
		    add_ext(x, issuer, NID_subject_key_identifier, "hash") < 0)
			goto out;
	} else {
		if (add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
		    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") < 0 ||
		    add_ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
		    add_ext(x, issuer, NID_subject_key_identifier, "hash") < 0 ||
		    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") < 0)
			goto out;
		if (sans && *sans) {
			_cleanup_free_ char *ext = NULL;
			if (sans_to_ext(sans, &ext) < 0)
				goto out;
			if (*ext && add_ext(x, issuer, NID_subject_alt_name, ext) < 0)
				goto out;
		}
	}
	if (X509_sign(x, ca ? ca->key : self_key, EVP_sha256()) <= 0)
		goto out;
	*ret = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	BN_free(bn);
	ERR_clear_error();
	return r;
}

static int ca_from_objects(X509 *cert, EVP_PKEY *key, struct skiff_ca **ret)
{
	struct skiff_ca *ca;

	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		return -EKEYREJECTED;
	}
	ca = xcalloc(1, sizeof(*ca));
	ca->cert = cert;
	ca->key = key;
	ca->cert_pem = cert_to_pem(cert);
	*ret = ca;
	return 0;
}

int skiff_ca_load(const char *dir, struct skiff_ca **ret)
{
	_cleanup_free_ char *crt_path = xasprintf("%s/ca.crt", dir);
	_cleanup_free_ char *key_path = xasprintf("%s/ca.key", dir);
	_cleanup_free_ char *crt = NULL, *key = NULL;
	X509 *x;
	EVP_PKEY *k;
	int r;

	r = skiff_read_file(crt_path, MAX_PEM_FILE, &crt, NULL);
	if (r < 0)
		return r;
	r = skiff_read_file(key_path, MAX_PEM_FILE, &key, NULL);
	if (r < 0)
		return r;
	x = pem_to_cert(crt);
	k = pem_to_key(key);
	if (!x || !k) {
		X509_free(x);
		EVP_PKEY_free(k);
		return -EBADMSG;
	}
	r = ca_from_objects(x, k, ret);
	if (r < 0) {
		X509_free(x);
		EVP_PKEY_free(k);
	}
	return r;
}

int skiff_ca_init(const char *dir, const char *cluster_name, struct skiff_ca **ret)
{
	_cleanup_free_ char *crt_path = xasprintf("%s/ca.crt", dir);
	_cleanup_free_ char *key_path = xasprintf("%s/ca.key", dir);
	_cleanup_free_ char *cn = NULL, *crt = NULL, *key = NULL;
	bool have_crt = access(crt_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
	EVP_PKEY *k;
	X509 *x = NULL;
	int r;

	if (have_crt && have_key)
		return skiff_ca_load(dir, ret);
	if (have_crt || have_key)
		return -EEXIST; /* half a CA: never overwrite the other half */
	r = skiff_mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	cn = xasprintf("skiff-ca %s", cluster_name && *cluster_name ? cluster_name : "cluster");
	if (strlen(cn) > MAX_CN_LEN)
		cn[MAX_CN_LEN] = '\0';
	k = new_key();
	r = make_cert(NULL, k, k, cn, "ca", NULL, CA_VALID_DAYS, &x);
	if (r < 0) {
		EVP_PKEY_free(k);
		return r;
	}
	key = key_to_pem(k);
	crt = cert_to_pem(x);
	r = skiff_write_file_atomic(key_path, key, strlen(key), 0600);
	if (r >= 0)
		r = skiff_write_file_atomic(crt_path, crt, strlen(crt), 0644);
	if (r >= 0)
		r = ca_from_objects(x, k, ret);
	if (r < 0) {
		unlink(crt_path);
		unlink(key_path);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	return r;
}

void skiff_ca_free(struct skiff_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca->cert_pem);
	free(ca);
}

const char *skiff_ca_cert_pem(struct skiff_ca *ca)
{
	return ca->cert_pem;
}

int skiff_ca_digest(struct skiff_ca *ca, char ret_hex[65])
{
	return x509_digest_hex(ca->cert, ret_hex);
}

int skiff_ca_issue(struct skiff_ca *ca, const char *cn, const char *role, const char *sans,
		   int valid_days, char **ret_cert_pem, char **ret_key_pem)
{
	EVP_PKEY *k = new_key();
	X509 *x = NULL;
	int r;

	r = make_cert(ca, k, NULL, cn, role, sans, (int64_t)valid_days * 86400, &x);
	if (r < 0) {
		EVP_PKEY_free(k);
		return r;
	}
	*ret_cert_pem = cert_to_pem(x);
	*ret_key_pem = key_to_pem(k);
	X509_free(x);
	EVP_PKEY_free(k);
	return 0;
}

int skiff_ca_sign_csr(struct skiff_ca *ca, const char *csr_pem, const char *cn, const char *role,
		      int valid_days, char **ret_cert_pem)
{
	return skiff_ca_sign_csr_secs(ca, csr_pem, cn, role, (int64_t)valid_days * 86400,
				      ret_cert_pem);
}

int skiff_ca_sign_csr_secs(struct skiff_ca *ca, const char *csr_pem, const char *cn,
			   const char *role, int64_t valid_secs, char **ret_cert_pem)
{
	BIO *b = csr_pem ? BIO_new_mem_buf(csr_pem, -1) : NULL;
	X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pub;
	X509 *x = NULL;
	int r = -EBADMSG;

	BIO_free(b);
	if (!req)
		goto out;
	pub = X509_REQ_get0_pubkey(req);
	/* the requester must hold the key it asks a certificate for */
	if (!pub || X509_REQ_verify(req, pub) != 1)
		goto out;
	r = make_cert(ca, pub, NULL, cn, role, NULL, valid_secs, &x);
	if (r < 0)
		goto out;
	*ret_cert_pem = cert_to_pem(x);
	X509_free(x);
out:
	X509_REQ_free(req);
	ERR_clear_error();
	return r;
}

static int make_csr(const char *cn, EVP_PKEY *k, char **ret_csr_pem);

int skiff_pki_key_and_csr(const char *cn, char **ret_key_pem, char **ret_csr_pem)
{
	EVP_PKEY *k = new_key();
	int r = make_csr(cn, k, ret_csr_pem);
	if (r == 0)
		*ret_key_pem = key_to_pem(k);
	EVP_PKEY_free(k);
	return r;
}

int skiff_pki_csr_for_key(const char *cn, const char *key_pem, char **ret_csr_pem)
{
	EVP_PKEY *k = key_pem ? pem_to_key(key_pem) : NULL;
	if (!k)
		return -EBADMSG;
	int r = make_csr(cn, k, ret_csr_pem);
	EVP_PKEY_free(k);
	return r;
}

static int make_csr(const char *cn, EVP_PKEY *k, char **ret_csr_pem)
{
	X509_REQ *req = X509_REQ_new();
	BIO *b;
	int r = -EINVAL;

	if (!req)
		abort();
	if (valid_name(cn) < 0) {
		X509_REQ_free(req);
		return -EINVAL;
	}
	b = BIO_new(BIO_s_mem());
	if (X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_pubkey(req, k) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_REQ_sign(req, k, EVP_sha256()) <= 0 || !b || PEM_write_bio_X509_REQ(b, req) != 1)
		goto out;
	*ret_csr_pem = bio_to_string(b);
	r = 0;
out:
	BIO_free(b);
	X509_REQ_free(req);
	ERR_clear_error();
	return r;
}

/* ---- what the brain records of certificates ---------------------------- */

static int pubkey_digest(EVP_PKEY *k, char hex[65])
{
	unsigned char *der = NULL, md[32];
	int n = k ? i2d_PUBKEY(k, &der) : -1;
	if (n <= 0)
		return -EBADMSG;
	int ok = EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (ok != 1)
		return -EBADMSG;
	skiff_hex(md, sizeof(md), hex);
	return 0;
}

static void serial_hex(X509 *x, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	buf[0] = '\0';
	if (hex) {
		size_t i = 0;
		for (; hex[i] && i + 1 < len; i++)
			buf[i] =
			    (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
		buf[i] = '\0';
	}
	OPENSSL_free(hex);
	BN_free(bn);
}

static int64_t asn1_time_ms(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static void subject_entry(X509 *x, int nid, char *buf, size_t len)
{
	buf[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), nid, buf, (int)len);
}

int skiff_pki_cert_info(const char *cert_pem, struct skiff_cert_info *ret)
{
	X509 *x = cert_pem ? pem_to_cert(cert_pem) : NULL;
	if (!x)
		return -EBADMSG;
	struct skiff_cert_info info = { 0 };
	serial_hex(x, info.serial, sizeof(info.serial));
	subject_entry(x, NID_commonName, info.cn, sizeof(info.cn));
	subject_entry(x, NID_organizationalUnitName, info.role, sizeof(info.role));
	info.not_before_ms = asn1_time_ms(X509_get0_notBefore(x));
	info.not_after_ms = asn1_time_ms(X509_get0_notAfter(x));
	int r = pubkey_digest(X509_get0_pubkey(x), info.key_sha256);
	X509_free(x);
	ERR_clear_error();
	if (r == 0)
		*ret = info;
	return r;
}

int skiff_pki_csr_key_digest(const char *csr_pem, char ret_hex[65])
{
	BIO *b = csr_pem ? BIO_new_mem_buf(csr_pem, -1) : NULL;
	X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pub = req ? X509_REQ_get0_pubkey(req) : NULL;
	int r = -EBADMSG;

	BIO_free(b);
	if (pub && X509_REQ_verify(req, pub) == 1)
		r = pubkey_digest(pub, ret_hex);
	X509_REQ_free(req);
	ERR_clear_error();
	return r;
}

int skiff_pki_key_digest(const char *key_pem, char ret_hex[65])
{
	EVP_PKEY *k = key_pem ? pem_to_key(key_pem) : NULL;
	int r = pubkey_digest(k, ret_hex);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

void skiff_tls_peer_serial(SSL *ssl, char *buf, size_t len)
{
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	buf[0] = '\0';
	if (cert && SSL_get_verify_result(ssl) == X509_V_OK)
		serial_hex(cert, buf, len);
}

/* ---- join tokens -------------------------------------------------------- */

int skiff_token_new(struct skiff_ca *ca, char **ret_token)
{
	unsigned char secret[TOKEN_SECRET_BYTES];
	char digest[65], hex[2 * TOKEN_SECRET_BYTES + 1];
	int r;

	r = x509_digest_hex(ca->cert, digest);
	if (r < 0)
		return r;
	r = skiff_random_bytes(secret, sizeof(secret));
	if (r < 0)
		return r;
	skiff_hex(secret, sizeof(secret), hex);
	*ret_token = xasprintf(TOKEN_PREFIX "%s-%s", digest, hex);
	return 0;
}

static bool all_hex(const char *s, size_t n)
{
	return strspn(s, "0123456789abcdef") >= n;
}

int skiff_token_parse(const char *token, char ret_ca_digest[65], char ret_secret[33])
{
	const size_t plen = strlen(TOKEN_PREFIX);

	if (!token || strlen(token) != plen + 64 + 1 + 32 || !skiff_startswith(token, TOKEN_PREFIX))
		return -EINVAL;
	token += plen;
	if (!all_hex(token, 64) || token[64] != '-' || !all_hex(token + 65, 32))
		return -EINVAL;
	memcpy(ret_ca_digest, token, 64);
	ret_ca_digest[64] = '\0';
	memcpy(ret_secret, token + 65, 32);
	ret_secret[32] = '\0';
	return 0;
}

bool skiff_token_equal(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return false;
	la = strlen(a);
	lb = strlen(b);
	/* the length is public (the format fixes it); the content is not */
	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}

/* ---- client config ------------------------------------------------------- */

static void append_block(char **out, const char *key, const char *pem)
{
	_cleanup_free_ char *indented = xstrdup("");
	const char *p = pem;

	while (*p) {
		size_t n = strcspn(p, "\n");
		char *next = xasprintf("%s  %.*s\n", indented, (int)n, p);
		free(indented);
		indented = next;
		p += n;
		if (*p == '\n')
			p++;
	}
	char *next = xasprintf("%s%s: |\n%s", *out, key, indented);
	free(*out);
	*out = next;
}

int skiff_client_config_write(const char *path, const struct skiff_client_config *cfg)
{
	_cleanup_free_ char *out = NULL;

	if (!cfg->server || strpbrk(cfg->server, "\"\\\n"))
		return -EINVAL;
	out = xasprintf("# Skiff client configuration: the brain's address, the cluster CA and\n"
			"# this client's certificate. Keep it private (it holds a key).\n"
			"server: \"%s\"\n",
			cfg->server);
	if (cfg->ca_pem)
		append_block(&out, "ca", cfg->ca_pem);
	if (cfg->cert_pem)
		append_block(&out, "cert", cfg->cert_pem);
	if (cfg->key_pem)
		append_block(&out, "key", cfg->key_pem);
	return skiff_write_file_atomic(path, out, strlen(out), 0600);
}

void skiff_client_config_clear(struct skiff_client_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->ca_pem);
	if (cfg->key_pem)
		OPENSSL_cleanse(cfg->key_pem, strlen(cfg->key_pem));
	free(cfg->cert_pem);
	free(cfg->key_pem);
	memset(cfg, 0, sizeof(*cfg));
}

static int config_error(char **ret_errmsg, const char *path, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int config_error(char **ret_errmsg, const char *path, size_t line, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	if (ret_errmsg)
		*ret_errmsg = line ? xasprintf("%s:%zu: %s", path, line, what)
				   : xasprintf("%s: %s", path, what);
	return -EBADMSG;
}

int skiff_client_config_read(const char *path, struct skiff_client_config *ret, char **ret_errmsg)
{
	_cleanup_free_ char *data = NULL;
	struct skiff_client_config cfg = { 0 };
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t len = 0, key_line = 0, lines[4] = { 0 };
	char *key = NULL;
	int r, depth = 0;
	bool done = false;

	r = skiff_read_file(path, MAX_PEM_FILE, &data, &len);
	if (r < 0) {
		if (ret_errmsg)
			*ret_errmsg = xasprintf("%s: %s", path, strerror(-r));
		return r;
	}
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	r = 0;
	while (!done && r == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			r = config_error(ret_errmsg, path, parser.problem_mark.line + 1, "%s",
					 parser.problem ? parser.problem : "syntax error");
			break;
		}
		size_t line = ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			if (depth++ > 0 || key)
				r = config_error(ret_errmsg, path, line,
						 "'%s' must be a text value, not a mapping",
						 key ? key : "?");
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SEQUENCE_START_EVENT:
			r = config_error(ret_errmsg, path, line, "unexpected list%s%s%s",
					 key ? " for '" : "", key ? key : "", key ? "'" : "");
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			if (depth != 1) {
				r = config_error(
				    ret_errmsg, path, line,
				    "expected 'key: value' lines (server, ca, cert, key)");
				break;
			}
			if (!key) {
				key = xstrdup(v);
				key_line = line;
				break;
			}
			char **slot = NULL;
			int idx = -1;
			if (streq(key, "server"))
				slot = &cfg.server, idx = 0;
			else if (streq(key, "ca"))
				slot = &cfg.ca_pem, idx = 1;
			else if (streq(key, "cert"))
				slot = &cfg.cert_pem, idx = 2;
			else if (streq(key, "key"))
				slot = &cfg.key_pem, idx = 3;
			if (!slot)
				r = config_error(
				    ret_errmsg, path, key_line,
				    "unknown key '%s' (expected server, ca, cert, key)", key);
			else if (*slot)
				r = config_error(ret_errmsg, path, key_line, "'%s' given twice",
						 key);
			else {
				*slot = xstrdup(v);
				lines[idx] = line;
			}
			free(key);
			key = NULL;
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	free(key);

	if (r == 0 && !cfg.server)
		r = config_error(ret_errmsg, path, 0, "missing 'server: HOST:PORT'");
	else if (r == 0 && !strchr(cfg.server, ':'))
		r = config_error(ret_errmsg, path, lines[0], "server '%s' is not HOST:PORT",
				 cfg.server);
	else if (r == 0 && !cfg.ca_pem)
		r = config_error(ret_errmsg, path, 0, "missing 'ca' (the cluster CA certificate)");
	else if (r == 0 && !!cfg.cert_pem != !!cfg.key_pem)
		r = config_error(ret_errmsg, path, 0, "'cert' and 'key' go together");
	if (r == 0) {
		X509 *x = pem_to_cert(cfg.ca_pem);
		if (!x)
			r = config_error(ret_errmsg, path, lines[1],
					 "'ca' is not a PEM certificate");
		X509_free(x);
	}
	if (r == 0 && cfg.cert_pem) {
		X509 *x = pem_to_cert(cfg.cert_pem);
		EVP_PKEY *k = pem_to_key(cfg.key_pem);
		if (!x)
			r = config_error(ret_errmsg, path, lines[2],
					 "'cert' is not a PEM certificate");
		else if (!k)
			r = config_error(ret_errmsg, path, lines[3],
					 "'key' is not a PEM private key");
		else if (X509_check_private_key(x, k) != 1)
			r = config_error(ret_errmsg, path, lines[3],
					 "'key' does not belong to 'cert'");
		X509_free(x);
		EVP_PKEY_free(k);
		ERR_clear_error();
	}
	if (r < 0) {
		skiff_client_config_clear(&cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}
