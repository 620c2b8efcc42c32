/* tls.c — TLS contexts for Skiff's RPC (TLS 1.2+, mutual certificates from
 * the cluster CA), the checks that decide who may talk to whom, and the
 * messages that say why a peer was refused.
 *
 * TLS 1.2 is limited to ECDHE key exchange with AEAD ciphers (no CBC, no
 * SHA-1 MACs, no static RSA); TLS 1.3 keeps its own (all AEAD) suites.
 *
 * Verification runs in certificate-verify callbacks so each refusal can be
 * described for people (another CA, expired, wrong role, bad join token);
 * the description is kept on the SSL (skiff_tls_verify_error()).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "pki.h"
#include "util.h"

/* TLS 1.2 suites: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 */
#define SKIFF_TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

static int verify_error_index = -1;
static int pin_index = -1;

static void free_ex_string(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			   void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static void init_indexes(void)
{
	if (verify_error_index < 0)
		verify_error_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_ex_string);
	if (pin_index < 0)
		pin_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_ex_string);
}

const char *skiff_tls_verify_error(SSL *ssl)
{
	if (!ssl || verify_error_index < 0)
		return NULL;
	return SSL_get_ex_data(ssl, verify_error_index);
}

static void set_verify_error(SSL *ssl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_verify_error(SSL *ssl, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	if (!ssl)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(SSL_get_ex_data(ssl, verify_error_index));
	SSL_set_ex_data(ssl, verify_error_index, msg);
}

static void name_entry(X509 *cert, int nid, char *buf, size_t len)
{
	X509_NAME *n = X509_get_subject_name(cert);
	unsigned char *utf8 = NULL;
	int i, l;

	buf[0] = '\0';
	i = n ? X509_NAME_get_index_by_NID(n, nid, -1) : -1;
	if (i < 0)
		return;
	l = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
	if (l < 0)
		return;
	snprintf(buf, len, "%.*s", l, (const char *)utf8);
	OPENSSL_free(utf8);
}

static void cert_digest(X509 *cert, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	hex[0] = '\0';
	if (X509_digest(cert, EVP_sha256(), md, &n) == 1 && n == 32)
		skiff_hex(md, 32, hex);
}

int skiff_tls_peer_identity(SSL *ssl, char *name, size_t name_len, char *role, size_t role_len)
{
	X509 *cert;

	name[0] = role[0] = '\0';
	if (!ssl)
		return 0;
	cert = SSL_get0_peer_certificate(ssl);
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	name_entry(cert, NID_commonName, name, name_len);
	name_entry(cert, NID_organizationalUnitName, role, role_len);
	return 1;
}

/* "the server's certificate 'brain' (role server) has expired" etc. */
static void describe_verify_failure(SSL *ssl, const char *whose, X509 *cert, int err)
{
	char cn[128] = "", ou[32] = "";
	const char *why;

	if (cert) {
		name_entry(cert, NID_commonName, cn, sizeof(cn));
		name_entry(cert, NID_organizationalUnitName, ou, sizeof(ou));
	}
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		why = "has expired";
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		why = "is not valid yet (check the clocks)";
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		why = "is from another CA (not signed by this cluster's CA)";
		break;
	default:
		why = X509_verify_cert_error_string(err);
	}
	set_verify_error(ssl, "%s certificate '%s' (role '%s') %s", whose, cn, ou, why);
}

static SSL *ssl_of(X509_STORE_CTX *x)
{
	return X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
}

static int check_server_role(X509_STORE_CTX *x, SSL *ssl, X509 *leaf)
{
	char cn[128], ou[32];

	name_entry(leaf, NID_commonName, cn, sizeof(cn));
	name_entry(leaf, NID_organizationalUnitName, ou, sizeof(ou));
	if (!streq(ou, SKIFF_ROLE_SERVER)) {
		set_verify_error(ssl,
				 "the server presented certificate '%s' with role '%s', expected "
				 "role 'server' (is that a node or admin certificate?)",
				 cn, ou);
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static int server_verify_cb(X509_STORE_CTX *x, void *arg)
{
	(void)arg;
	if (X509_verify_cert(x) == 1)
		return 1;
	describe_verify_failure(ssl_of(x), "client", X509_STORE_CTX_get0_cert(x),
				X509_STORE_CTX_get_error(x));
	return 0;
}

static int client_verify_cb(X509_STORE_CTX *x, void *arg)
{
	(void)arg;
	if (X509_verify_cert(x) != 1) {
		describe_verify_failure(ssl_of(x), "the server's", X509_STORE_CTX_get0_cert(x),
					X509_STORE_CTX_get_error(x));
		return 0;
	}
	return check_server_role(x, ssl_of(x), X509_STORE_CTX_get0_cert(x));
}

/* Join: trust the root whose DER SHA-256 the token carries, and only it. */
static int pinned_verify_cb(X509_STORE_CTX *x, void *arg)
{
	const char *want = arg;
	SSL *ssl = ssl_of(x);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(x);
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	X509 *root = NULL;
	char hex[65] = "", last[65] = "(none)";
	X509_STORE *store;
	X509_STORE_CTX *v;
	int ok, err;

	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		cert_digest(c, hex);
		if (X509_check_issued(c, c) == X509_V_OK)
			memcpy(last, hex, sizeof(hex));
		if (streq(hex, want) && X509_check_ca(c) && X509_check_issued(c, c) == X509_V_OK)
			root = c;
	}
	if (!root) {
		set_verify_error(ssl,
				 "bad join token: the server's CA has digest %s but the token pins "
				 "%s (token from another cluster, or a man in the middle)",
				 last, want);
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	store = X509_STORE_new();
	v = X509_STORE_CTX_new();
	if (!store || !v || X509_STORE_add_cert(store, root) != 1 ||
	    X509_STORE_CTX_init(v, store, leaf, chain) != 1) {
		X509_STORE_CTX_free(v);
		X509_STORE_free(store);
		X509_STORE_CTX_set_error(x, X509_V_ERR_OUT_OF_MEM);
		return 0;
	}
	ok = X509_verify_cert(v);
	err = X509_STORE_CTX_get_error(v);
	X509_STORE_CTX_free(v);
	X509_STORE_free(store);
	if (ok != 1) {
		describe_verify_failure(ssl, "the server's", leaf, err);
		X509_STORE_CTX_set_error(x, err);
		return 0;
	}
	return check_server_role(x, ssl, leaf);
}

/* ---- PEM helpers -------------------------------------------------------- */

static X509 *pem_cert(const char *pem)
{
	BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

static EVP_PKEY *pem_key(const char *pem)
{
	BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

static SSL_CTX *ctx_new(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx)
		return NULL;
	init_indexes();
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* TLS 1.2: forward-secret key exchange and AEAD ciphers only (no CBC,
	 * no SHA-1 MACs, no static RSA); TLS 1.3's suites are all AEAD */
	if (SSL_CTX_set_cipher_list(ctx, SKIFF_TLS12_CIPHERS) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* idle connections (a brain holds one per node) keep no read/write buffers */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
}

static int use_cert_and_key(SSL_CTX *ctx, const char *cert_pem, const char *key_pem)
{
	X509 *cert = pem_cert(cert_pem);
	EVP_PKEY *key = pem_key(key_pem);
	int r = 0;

	if (!cert || !key)
		r = -EBADMSG;
	else if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
		 SSL_CTX_check_private_key(ctx) != 1)
		r = -EKEYREJECTED;
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return r;
}

static int trust_ca(SSL_CTX *ctx, const char *ca_pem, bool send_in_chain)
{
	X509 *ca = pem_cert(ca_pem);
	int r = 0;

	if (!ca)
		return -EBADMSG;
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) != 1)
		r = -EINVAL;
	/* the server sends the CA too, so a joining agent can check its pin */
	if (r == 0 && send_in_chain && SSL_CTX_add1_chain_cert(ctx, ca) != 1)
		r = -EINVAL;
	X509_free(ca);
	ERR_clear_error();
	return r;
}

int skiff_tls_server_ctx(const char *ca_pem, const char *cert_pem, const char *key_pem,
			 SSL_CTX **ret)
{
	SSL_CTX *ctx = ctx_new(true);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = use_cert_and_key(ctx, cert_pem, key_pem);
	if (r == 0 && ca_pem) {
		r = trust_ca(ctx, ca_pem, true);
		/* a client without a certificate is let in: it may only join */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_cert_verify_callback(ctx, server_verify_cb, NULL);
	}
	if (r < 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int skiff_tls_client_ctx(const char *ca_pem, const char *cert_pem, const char *key_pem,
			 SSL_CTX **ret)
{
	SSL_CTX *ctx;
	int r = 0;

	if (!ca_pem)
		return -EINVAL;
	ctx = ctx_new(false);
	if (!ctx)
		return -ENOMEM;
	r = trust_ca(ctx, ca_pem, false);
	if (r == 0 && (cert_pem || key_pem))
		r = use_cert_and_key(ctx, cert_pem, key_pem);
	if (r < 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, client_verify_cb, NULL);
	*ret = ctx;
	return 0;
}

int skiff_tls_client_ctx_pinned(const char *ca_digest_hex, SSL_CTX **ret)
{
	SSL_CTX *ctx;
	char *pin;

	if (!ca_digest_hex || strlen(ca_digest_hex) != 64 ||
	    strspn(ca_digest_hex, "0123456789abcdef") != 64)
		return -EINVAL;
	ctx = ctx_new(false);
	if (!ctx)
		return -ENOMEM;
	pin = xstrdup(ca_digest_hex);
	SSL_CTX_set_ex_data(ctx, pin_index, pin); /* freed with the context */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, pinned_verify_cb, pin);
	*ret = ctx;
	return 0;
}
