/* pki.h — the cluster's certificates, join tokens, TLS contexts and the
 * admin config file (Docker Swarm's PKI is the model).
 *
 * The brain creates a cluster CA at first start (EC P-256 keys, SHA-256).
 * Certificates carry the peer's name in the CN and its role in the OU:
 * "server" (the brain), "node" (an agent), "admin" (skiffctl).
 *
 * Join token: "SKIFF-1-<64 hex: sha256 of the CA certificate DER>-<32 hex: secret>".
 * An agent that holds only the token verifies the brain by the CA digest
 * (pinned), sends a CSR with MSG_JOIN, and receives its node certificate.
 *
 * Strings returned are PEM text owned by the caller (free()).
 */
#ifndef SKIFF_PKI_H
#define SKIFF_PKI_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

#define SKIFF_ROLE_SERVER "server"
#define SKIFF_ROLE_NODE	  "node"
#define SKIFF_ROLE_ADMIN  "admin"
#define SKIFF_ROLE_VIEW	  "view" /* skiffctl, read-only */

struct skiff_ca; /* a loaded CA: certificate + key */

/* Create ca.crt/ca.key in dir (0700, key 0600) unless present, then load. */
int skiff_ca_init(const char *dir, const char *cluster_name, struct skiff_ca **ret);
int skiff_ca_load(const char *dir, struct skiff_ca **ret);
void skiff_ca_free(struct skiff_ca *ca);
const char *skiff_ca_cert_pem(struct skiff_ca *ca);
/* SHA-256 of the CA certificate's DER, lower-case hex (what tokens pin). */
int skiff_ca_digest(struct skiff_ca *ca, char ret_hex[65]);
/* The same digest for any PEM certificate (-EBADMSG if it does not parse). */
int skiff_pki_cert_digest(const char *cert_pem, char ret_hex[65]);

/* New key + certificate signed by the CA. valid_days < 0 makes one already
 * expired (tests). sans: comma-separated IPs/DNS names for server certs, or NULL. */
int skiff_ca_issue(struct skiff_ca *ca, const char *cn, const char *role, const char *sans,
		   int valid_days, char **ret_cert_pem, char **ret_key_pem);
/* Sign a CSR, forcing CN=cn and OU=role whatever the CSR asked for. */
int skiff_ca_sign_csr(struct skiff_ca *ca, const char *csr_pem, const char *cn, const char *role,
		      int valid_days, char **ret_cert_pem);

/* The same with the validity in seconds (the brain's --cert-validity). */
int skiff_ca_sign_csr_secs(struct skiff_ca *ca, const char *csr_pem, const char *cn,
			   const char *role, int64_t valid_secs, char **ret_cert_pem);

/* What the brain records of a certificate it issued. */
struct skiff_cert_info {
	char serial[72]; /* lower-case hex, no leading zeros */
	char cn[72];
	char role[40];
	int64_t not_before_ms, not_after_ms;
	char key_sha256[65]; /* of the public key's DER */
};
int skiff_pki_cert_info(const char *cert_pem, struct skiff_cert_info *ret);
/* SHA-256 (hex) of a CSR's public key, after checking the CSR's signature
 * (the requester holds that key); -EBADMSG when it does not parse or verify. */
int skiff_pki_csr_key_digest(const char *csr_pem, char ret_hex[65]);
/* SHA-256 (hex) of the public key of a PEM private key. */
int skiff_pki_key_digest(const char *key_pem, char ret_hex[65]);
/* The verified peer certificate's serial ("" when none), as skiff_cert_info. */
void skiff_tls_peer_serial(SSL *ssl, char *buf, size_t len);

/* A fresh key and a CSR for it. */
int skiff_pki_key_and_csr(const char *cn, char **ret_key_pem, char **ret_csr_pem);
/* A CSR for an existing key (PEM). */
int skiff_pki_csr_for_key(const char *cn, const char *key_pem, char **ret_csr_pem);

/* Tokens. */
int skiff_token_new(struct skiff_ca *ca, char **ret_token);
/* Check shape; fills the CA digest (hex) and secret (hex). -EINVAL if malformed. */
int skiff_token_parse(const char *token, char ret_ca_digest[65], char ret_secret[33]);
/* Constant-time compare of a presented token with the expected one. */
bool skiff_token_equal(const char *a, const char *b);

/* TLS contexts (TLS 1.2+). PEM text, not file names.
 * Server: presents cert, verifies client certs against the CA when given,
 * accepts clients without a certificate (they may only join).
 * Client: verifies the server's certificate against ca_pem and its OU=server;
 * presents cert/key when given.
 * Pinned client (join): no CA yet — accepts the server only if its chain's
 * root CA certificate has SHA-256 digest ca_digest_hex. */
int skiff_tls_server_ctx(const char *ca_pem, const char *cert_pem, const char *key_pem,
			 SSL_CTX **ret);
int skiff_tls_client_ctx(const char *ca_pem, const char *cert_pem, const char *key_pem,
			 SSL_CTX **ret);
int skiff_tls_client_ctx_pinned(const char *ca_digest_hex, SSL_CTX **ret);

/* Fill name/role from the verified peer certificate of ssl ("" when none). */
int skiff_tls_peer_identity(SSL *ssl, char *name, size_t name_len, char *role, size_t role_len);
/* Why our verification of the peer's certificate failed, for people
 * ("the server's certificate has expired", "bad join token: …"), or NULL. */
const char *skiff_tls_verify_error(SSL *ssl);

/* The client config file that skiffctl reads (kubeconfig-like):
 *	server: HOST:PORT
 *	ca: |            (PEM block, indented)
 *	cert: |
 *	key: |
 * Written 0600 atomically. */
struct skiff_client_config {
	char *server;
	char *ca_pem;
	char *cert_pem;
	char *key_pem;
};
int skiff_client_config_write(const char *path, const struct skiff_client_config *cfg);
/* -ENOENT when missing; -EBADMSG with *ret_errmsg naming the line when malformed. */
int skiff_client_config_read(const char *path, struct skiff_client_config *ret, char **ret_errmsg);
void skiff_client_config_clear(struct skiff_client_config *cfg);

#endif
