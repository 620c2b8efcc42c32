/* test_tls.c — RPC over mutual TLS with the cluster PKI: a proper admin
 * connects; each refusal (no client certificate for an admin call, another
 * CA, expired, bad join token, a node certificate where the server should be,
 * TLS below 1.2) fails with a message that says why. */
#include "rpc_test_server.h"

#include <fcntl.h>
#include <stdlib.h>

#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "testlib.h"

static struct skiff_ca *ca, *other_ca;
static char *server_crt, *server_key;

static void setup(void)
{
	_cleanup_free_ char *d1 = NULL, *d2 = NULL;

	tmpdir_make(NULL);
	d1 = xasprintf("%s/ca", tmpdir);
	d2 = xasprintf("%s/other", tmpdir);
	ck_assert_int_eq(skiff_ca_init(d1, "test", &ca), 0);
	ck_assert_int_eq(skiff_ca_init(d2, "elsewhere", &other_ca), 0);
	ck_assert_int_eq(skiff_ca_issue(ca, "brain", SKIFF_ROLE_SERVER, "127.0.0.1", 30,
					&server_crt, &server_key),
			 0);
}

static void teardown(void)
{
	skiff_ca_free(ca);
	skiff_ca_free(other_ca);
	free(server_crt);
	free(server_key);
	tmpdir_remove();
}

static struct test_server *start_server(struct skiff_ca *server_ca, const char *crt,
					const char *key)
{
	SSL_CTX *ctx = NULL;
	ck_assert_int_eq(skiff_tls_server_ctx(skiff_ca_cert_pem(server_ca), crt, key, &ctx), 0);
	struct test_server *ts = test_server_start(ctx, 0);
	SSL_CTX_free(ctx); /* the server keeps its own reference */
	return ts;
}

/* Connect with the given client context; returns the errmsg on failure
 * (caller frees) or NULL with *ret set. */
static char *try_connect(struct test_server *ts, SSL_CTX *ctx, struct skiff_rpc_sync **ret)
{
	struct skiff_rpc_client_config cfg = { .server = ts->addr, .tls = ctx };
	char *err = NULL;
	int r = skiff_rpc_sync_connect(&cfg, ret, &err);
	SSL_CTX_free(ctx);
	if (r == 0)
		return NULL;
	if (getenv("SKIFF_TEST_VERBOSE"))
		fprintf(stderr, "refused as expected: %s\n", err);
	ck_assert_int_lt(r, 0);
	ck_assert_ptr_nonnull(err);
	return err;
}

static SSL_CTX *client_ctx(struct skiff_ca *trust, struct skiff_ca *issuer, const char *cn,
			   const char *role, int valid_days)
{
	_cleanup_free_ char *crt = NULL, *key = NULL;
	SSL_CTX *ctx = NULL;

	if (issuer)
		ck_assert_int_eq(skiff_ca_issue(issuer, cn, role, NULL, valid_days, &crt, &key), 0);
	ck_assert_int_eq(skiff_tls_client_ctx(skiff_ca_cert_pem(trust), crt, key, &ctx), 0);
	return ctx;
}

static int count_item(const Skiff__Frame *item, void *userdata)
{
	(void)item;
	(*(int *)userdata)++;
	return 0;
}

TEST(test_admin_success)
{
	struct test_server *ts = start_server(ca, server_crt, server_key);
	struct skiff_rpc_sync *s = NULL;
	Skiff__Frame *reply = NULL;
	char *err = try_connect(ts, client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30), &s);

	ck_assert_msg(err == NULL, "connect: %s", err);
	/* each side knows who the other is */
	ck_assert_str_eq(skiff_rpc_sync_peer(s)->name, "brain");
	ck_assert_str_eq(skiff_rpc_sync_peer(s)->role, "server");
	ck_assert(!skiff_rpc_sync_peer(s)->plaintext);
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_LIST, NULL, 2000, &reply, &err), 0);
	skiff__frame__free_unpacked(reply, NULL);
	ck_assert_str_eq(ts->last_peer_name, "alice");
	ck_assert_str_eq(ts->last_peer_role, "admin");
	/* a stream over TLS as well */
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	int items = 0;
	hb.time_ms = 3;
	ck_assert_int_eq(skiff_rpc_sync_stream(s, SKIFF__MSG_TYPE__MSG_TEST_STREAM, &hb.base,
					       count_item, &items, &err),
			 0);
	ck_assert_int_eq(items, 3);
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

TEST(test_no_client_cert_only_joins)
{
	struct test_server *ts = start_server(ca, server_crt, server_key);
	struct skiff_rpc_sync *s = NULL;
	Skiff__Frame *reply = NULL;
	SSL_CTX *ctx = NULL;

	ck_assert_int_eq(skiff_tls_client_ctx(skiff_ca_cert_pem(ca), NULL, NULL, &ctx), 0);
	char *err = try_connect(ts, ctx, &s);
	ck_assert_msg(err == NULL, "connect: %s", err);
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_LIST, NULL, 2000, &reply, &err), -EACCES);
	ck_assert_str_eq(err, "permission denied: MSG_LIST needs a client certificate");
	free(err);
	ck_assert_int_eq(atomic_load(&ts->requests), 0); /* refused before the handler */
	err = NULL;
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_JOIN, NULL, 2000, &reply, &err), 0);
	skiff__frame__free_unpacked(reply, NULL);
	ck_assert_int_eq(atomic_load(&ts->requests), 1);
	ck_assert_str_eq(ts->last_peer_role, "");
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

TEST(test_client_cert_from_another_ca)
{
	struct test_server *ts = start_server(ca, server_crt, server_key);
	struct skiff_rpc_sync *s = NULL;
	char *err = try_connect(ts, client_ctx(ca, other_ca, "mallory", SKIFF_ROLE_ADMIN, 30), &s);

	ck_assert_ptr_null(s);
	ck_assert_msg(err && strstr(err, "another CA"), "errmsg: %s", err);
	ck_assert_ptr_nonnull(strstr(err, ts->addr));
	free(err);
	test_server_stop(ts);
}
END_TEST

TEST(test_expired_client_cert)
{
	_cleanup_free_ char *logpath = xasprintf("%s/server.log", tmpdir);
	_cleanup_free_ char *log = NULL;
	int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	struct test_server *ts = start_server(ca, server_crt, server_key);
	struct skiff_rpc_sync *s = NULL;

	skiff_log_set_level(SKIFF_LOG_WARN);
	skiff_log_set_fd(logfd);
	char *err = try_connect(ts, client_ctx(ca, ca, "old", SKIFF_ROLE_ADMIN, -1), &s);
	ck_assert_ptr_null(s);
	ck_assert_msg(err && strstr(err, "expired"), "errmsg: %s", err);
	free(err);
	test_server_stop(ts);
	/* the server logged the refusal, naming the client and why */
	skiff_log_set_fd(2);
	close(logfd);
	ck_assert_int_eq(skiff_read_file(logpath, 65536, &log, NULL), 0);
	ck_assert_msg(strstr(log, "refused client 127.0.0.1:") && strstr(log, "'old'") &&
			  strstr(log, "has expired"),
		      "server log: %s", log);
}
END_TEST

TEST(test_server_cert_from_another_ca)
{
	_cleanup_free_ char *crt = NULL, *key = NULL;
	ck_assert_int_eq(
	    skiff_ca_issue(other_ca, "impostor", SKIFF_ROLE_SERVER, NULL, 30, &crt, &key), 0);
	struct test_server *ts = start_server(other_ca, crt, key);
	struct skiff_rpc_sync *s = NULL;
	char *err = try_connect(ts, client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30), &s);

	ck_assert_ptr_null(s);
	ck_assert_msg(err && strstr(err, "the server's certificate 'impostor'") &&
			  strstr(err, "another CA"),
		      "errmsg: %s", err);
	free(err);
	test_server_stop(ts);
}
END_TEST

TEST(test_expired_server_cert)
{
	_cleanup_free_ char *crt = NULL, *key = NULL;
	ck_assert_int_eq(skiff_ca_issue(ca, "brain", SKIFF_ROLE_SERVER, NULL, -2, &crt, &key), 0);
	struct test_server *ts = start_server(ca, crt, key);
	struct skiff_rpc_sync *s = NULL;
	char *err = try_connect(ts, client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30), &s);

	ck_assert_msg(err && strstr(err, "the server's certificate 'brain'") &&
			  strstr(err, "has expired"),
		      "errmsg: %s", err);
	free(err);
	test_server_stop(ts);
}
END_TEST

TEST(test_node_cert_posing_as_server)
{
	_cleanup_free_ char *crt = NULL, *key = NULL;
	ck_assert_int_eq(skiff_ca_issue(ca, "vm1", SKIFF_ROLE_NODE, NULL, 30, &crt, &key), 0);
	struct test_server *ts = start_server(ca, crt, key);
	struct skiff_rpc_sync *s = NULL;
	char *err = try_connect(ts, client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30), &s);

	ck_assert_msg(err && strstr(err, "certificate 'vm1' with role 'node', expected role "
					 "'server'"),
		      "errmsg: %s", err);
	free(err);
	test_server_stop(ts);
}
END_TEST

TEST(test_join_pinned)
{
	struct test_server *ts = start_server(ca, server_crt, server_key);
	struct skiff_rpc_sync *s = NULL;
	_cleanup_free_ char *good = NULL, *bad = NULL;
	char digest[65], secret[33];
	SSL_CTX *ctx = NULL;
	Skiff__Frame *reply = NULL;

	/* the right token: the CA is recognised by its digest, the join goes through */
	ck_assert_int_eq(skiff_token_new(ca, &good), 0);
	ck_assert_int_eq(skiff_token_parse(good, digest, secret), 0);
	ck_assert_int_eq(skiff_tls_client_ctx_pinned(digest, &ctx), 0);
	char *err = try_connect(ts, ctx, &s);
	ck_assert_msg(err == NULL, "connect: %s", err);
	ck_assert_str_eq(skiff_rpc_sync_peer(s)->role, "server");
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_JOIN, NULL, 2000, &reply, &err), 0);
	skiff__frame__free_unpacked(reply, NULL);
	skiff_rpc_sync_free(s);
	s = NULL;

	/* a token from another cluster pins another CA: refused, saying so */
	ck_assert_int_eq(skiff_token_new(other_ca, &bad), 0);
	ck_assert_int_eq(skiff_token_parse(bad, digest, secret), 0);
	ck_assert_int_eq(skiff_tls_client_ctx_pinned(digest, &ctx), 0);
	err = try_connect(ts, ctx, &s);
	ck_assert_ptr_null(s);
	ck_assert_msg(err && strstr(err, "bad join token") && strstr(err, digest), "errmsg: %s",
		      err);
	free(err);
	ck_assert_int_eq(skiff_tls_client_ctx_pinned("not-hex", &ctx), -EINVAL);
	test_server_stop(ts);
}
END_TEST

TEST(test_join_pinned_refuses_node_server)
{
	_cleanup_free_ char *crt = NULL, *key = NULL, *token = NULL;
	char digest[65], secret[33];
	SSL_CTX *ctx = NULL;
	ck_assert_int_eq(skiff_ca_issue(ca, "vm2", SKIFF_ROLE_NODE, NULL, 30, &crt, &key), 0);
	struct test_server *ts = start_server(ca, crt, key);
	struct skiff_rpc_sync *s = NULL;

	ck_assert_int_eq(skiff_token_new(ca, &token), 0);
	ck_assert_int_eq(skiff_token_parse(token, digest, secret), 0);
	ck_assert_int_eq(skiff_tls_client_ctx_pinned(digest, &ctx), 0);
	char *err = try_connect(ts, ctx, &s);
	ck_assert_msg(err && strstr(err, "role 'node'"), "errmsg: %s", err);
	free(err);
	test_server_stop(ts);
}
END_TEST

TEST(test_old_tls_refused)
{
	struct test_server *ts = start_server(ca, server_crt, server_key);
	struct skiff_rpc_sync *s = NULL;
	SSL_CTX *ctx = client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30);

	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	/* an old client offers old suites (ours has none below TLS 1.2) */
	ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0"), 1);
	char *err = try_connect(ts, ctx, &s);
	ck_assert_ptr_null(s);
	ck_assert_msg(err && strstr(err, "TLS 1.2"), "errmsg: %s", err);
	free(err);
	test_server_stop(ts);
}
END_TEST

/* TLS 1.2 only with ECDHE and an AEAD cipher: a client offering nothing but
 * CBC with SHA-1 MACs is refused; one offering ECDHE-ECDSA-AES128-GCM gets
 * in. */
TEST(test_tls12_cbc_sha1_refused)
{
	struct test_server *ts = start_server(ca, server_crt, server_key);
	static const char *const weak[] = { "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
					    "AES128-SHA", "ECDHE-ECDSA-AES128-SHA256" };
	struct skiff_rpc_sync *s = NULL;

	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		SSL_CTX *ctx = client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30);
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
		ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx, weak[i]), 1);
		char *err = try_connect(ts, ctx, &s);
		ck_assert_msg(err != NULL, "a TLS 1.2 client with only %s was let in", weak[i]);
		ck_assert_msg(strstr(err, "cipher suite"), "errmsg: %s", err);
		ck_assert_ptr_null(s);
		free(err);
	}

	SSL_CTX *ctx = client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30);
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
	char *err = try_connect(ts, ctx, &s);
	ck_assert_msg(err == NULL, "TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256: %s", err);
	skiff_rpc_sync_free(s);
	test_server_stop(ts);
}
END_TEST

/* The whole join flow as the agent runs it: the token alone gets a pinned
 * connection, MSG_JOIN with a CSR returns a node certificate (CN forced to the
 * node name), and that certificate then opens an ordinary mTLS session as
 * role "node". A wrong secret with the right CA digest is refused. */
TEST(test_join_flow)
{
	struct test_server *ts = start_server(ca, server_crt, server_key);
	_cleanup_free_ char *token = NULL, *key = NULL, *csr = NULL;
	char digest[65], secret[33];
	struct skiff_rpc_sync *s = NULL;
	Skiff__Frame *reply = NULL;
	SSL_CTX *ctx = NULL;
	char *err = NULL;

	ck_assert_int_eq(skiff_token_new(ca, &token), 0);
	test_join_ca = ca;
	test_join_token = token;
	ck_assert_int_eq(skiff_token_parse(token, digest, secret), 0);
	ck_assert_int_eq(skiff_pki_key_and_csr("vm7", &key, &csr), 0);

	Skiff__JoinRequest jr = SKIFF__JOIN_REQUEST__INIT;
	jr.node_name = (char *)"vm7";
	jr.csr_pem.data = (uint8_t *)csr;
	jr.csr_pem.len = strlen(csr);

	/* right CA digest, wrong secret */
	_cleanup_free_ char *forged = xstrdup(token);
	forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
	jr.token = forged;
	ck_assert_int_eq(skiff_tls_client_ctx_pinned(digest, &ctx), 0);
	err = try_connect(ts, ctx, &s);
	ck_assert_msg(err == NULL, "connect: %s", err);
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_JOIN, &jr.base, 2000, &reply, &err),
	    -EACCES);
	ck_assert_str_eq(err, "join refused for node 'vm7': wrong join token");
	free(err);
	err = NULL;

	/* the real token */
	jr.token = token;
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_JOIN, &jr.base, 2000, &reply, &err), 0);
	skiff_rpc_sync_free(s);
	s = NULL;
	Skiff__JoinResponse *resp =
	    skiff__join_response__unpack(NULL, reply->payload.len, reply->payload.data);
	ck_assert_ptr_nonnull(resp);
	_cleanup_free_ char *crt = xstrndup((char *)resp->cert_pem.data, resp->cert_pem.len);
	_cleanup_free_ char *ca_pem = xstrndup((char *)resp->ca_pem.data, resp->ca_pem.len);
	skiff__join_response__free_unpacked(resp, NULL);
	skiff__frame__free_unpacked(reply, NULL);
	ck_assert_str_eq(ca_pem, skiff_ca_cert_pem(ca));

	/* from now on: mutual TLS as the node */
	ck_assert_int_eq(skiff_tls_client_ctx(ca_pem, crt, key, &ctx), 0);
	err = try_connect(ts, ctx, &s);
	ck_assert_msg(err == NULL, "connect: %s", err);
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_HEARTBEAT, NULL, 2000, &reply, &err), 0);
	skiff__frame__free_unpacked(reply, NULL);
	ck_assert_str_eq(ts->last_peer_name, "vm7");
	ck_assert_str_eq(ts->last_peer_role, "node");
	skiff_rpc_sync_free(s);
	test_join_ca = NULL;
	test_server_stop(ts);
}
END_TEST

/* A TLS client meeting a plaintext server, and the other way round: both
 * fail quickly with a hint instead of hanging or crashing. */
TEST(test_tls_plaintext_mismatch)
{
	struct test_server *plain = test_server_start(NULL, 0);
	struct skiff_rpc_sync *s = NULL;
	char *err = try_connect(plain, client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30), &s);
	ck_assert_msg(err && strstr(err, "without TLS"), "errmsg: %s", err);
	free(err);
	test_server_stop(plain);

	struct test_server *ts = start_server(ca, server_crt, server_key);
	struct skiff_rpc_client_config cfg = { .server = ts->addr,
					       .insecure_plaintext = true,
					       .connect_timeout_ms = 300 };
	err = NULL;
	ck_assert_int_eq(skiff_rpc_sync_connect(&cfg, &s, &err), -ETIMEDOUT);
	ck_assert_msg(strstr(err, "expecting TLS"), "errmsg: %s", err);
	free(err);
	test_server_stop(ts);
}
END_TEST

/* A server whose loop is busy (80 ms at a time, for 1.6 s) while a client
 * does its TLS handshake: the handshake's bytes are the peer talking, so
 * neither that client nor one that keeps sending is dropped as silent. */
static void tls_connected(struct skiff_rpc_conn *conn, int err, const char *errmsg, void *userdata)
{
	(void)conn;
	ck_assert_msg(err == 0, "connect: %s", errmsg);
	*(int *)userdata = 1;
}

static void tls_ignore(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		       const Skiff__Frame *frame, void *userdata)
{
	(void)conn;
	(void)err;
	(void)errmsg;
	(void)frame;
	(void)userdata;
}

static void tls_chatter(evutil_socket_t fd, short what, void *arg)
{
	struct skiff_rpc_conn **conn = arg;
	(void)fd;
	(void)what;
	if (*conn)
		skiff_rpc_request(*conn, SKIFF__MSG_TYPE__MSG_LIST, NULL, 0, tls_ignore, NULL,
				  NULL);
}

static int tls_closed = 1;
static void tls_on_close(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	(void)conn;
	(void)userdata;
	tls_closed = reason;
}

#ifndef STEP_MS
#define STEP_MS 80
#endif
TEST(test_handshake_with_busy_server)
{
	SSL_CTX *sctx = NULL;
	ck_assert_int_eq(skiff_tls_server_ctx(skiff_ca_cert_pem(ca), server_crt, server_key, &sctx),
			 0);
	/* keepalive 50 ms: silent for 150 ms is dropped; the loop is busy in
	 * 80 ms steps, each tick late by less than one interval */
	struct test_server *ts = test_server_start(sctx, 50);
	SSL_CTX_free(sctx);
	SSL_CTX *cctx = client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30);
	struct event_base *base = event_base_new();
	int a_up = 0;
	struct skiff_rpc_client_config cfg = {
		.server = ts->addr, .tls = cctx, .keepalive_ms = 10000, .on_close = tls_on_close
	};
	struct skiff_rpc_conn *a = NULL;
	enum { NB = 12 };
	struct skiff_rpc_conn *b[NB] = { NULL }, *b_ready[NB] = { NULL };
	int b_up[NB] = { 0 };
	struct event *b_ev[NB];
	struct timeval every = { 0, 20 * 1000 };

	cfg.userdata = &a_up;
	ck_assert_int_eq(skiff_rpc_connect(base, &cfg, tls_connected, &a), 0);
	ck_assert(LOOP_UNTIL(base, a_up == 1, 3000));
	struct event *a_ev = event_new(base, -1, EV_PERSIST, tls_chatter, &a);
	event_add(a_ev, &every);

	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	hb.node = (char *)"block-steps";
	hb.time_ms = 1600;
	hb.epoch = STEP_MS;
	ck_assert_int_eq(skiff_rpc_request(a, SKIFF__MSG_TYPE__MSG_TEST_ECHO, &hb.base, 5000,
					   tls_ignore, NULL, NULL),
			 0);
	LOOP_UNTIL(base, false, 50);
	/* NB clients connect at once: their handshakes span the busy loop's
	 * iterations; once up, each sends a request every 20 ms */
	for (int i = 0; i < NB; i++) {
		cfg.userdata = &b_up[i];
		ck_assert_int_eq(skiff_rpc_connect(base, &cfg, tls_connected, &b[i]), 0);
		b_ev[i] = event_new(base, -1, EV_PERSIST, tls_chatter, &b_ready[i]);
		event_add(b_ev[i], &every);
	}
	/* the clients are slow too (a loaded machine): their loop runs 5 ms
	 * in every 95 for the first 600 ms, so each handshake spans several
	 * of the server's busy iterations, the peer never silent for 150 ms */
	int64_t start = skiff_mono_ms(), end = start + 2000;
	while (skiff_mono_ms() < end && tls_closed == 1) {
		LOOP_UNTIL(base, false, 5);
		if (skiff_mono_ms() < start + 600)
			usleep(90 * 1000);
		for (int i = 0; i < NB; i++)
			if (b_up[i])
				b_ready[i] = b[i];
	}
	for (int i = 0; i < NB; i++)
		ck_assert_msg(b_up[i] == 1, "client %d never connected", i);
	ck_assert_msg(atomic_load(&ts->closes) == 0, "server dropped %d peer(s) (reason %d)",
		      atomic_load(&ts->closes), atomic_load(&ts->last_close_reason));
	ck_assert_int_eq(tls_closed, 1);
	event_free(a_ev);
	skiff_rpc_conn_close(a);
	for (int i = 0; i < NB; i++) {
		event_free(b_ev[i]);
		skiff_rpc_conn_close(b[i]);
	}
	event_base_free(base);
	SSL_CTX_free(cctx);
	test_server_stop(ts);
}
END_TEST

/* ---- the edge ------------------------------------------------------------ */

/* A TCP connection to the test server from source address 127.0.0.<last>. */
static int raw_connect(struct test_server *ts, int last)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };

	ck_assert_int_ge(fd, 0);
	src.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)last);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)ts->port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	return fd;
}

/* Has the server closed fd (EOF or reset)? Waits up to ms. */
static bool closed_by_server(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	for (int64_t end = skiff_mono_ms() + ms; skiff_mono_ms() < end;) {
		if (poll(&p, 1, 20) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return true;
		}
	}
	return false;
}

/* NULL when an admin connects and lists; else why not (free()). */
static char *admin_connects(struct test_server *ts)
{
	struct skiff_rpc_sync *s = NULL;
	char *err = try_connect(ts, client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30), &s);
	if (!err) {
		Skiff__Frame *reply = NULL;
		if (skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_LIST, NULL, 3000, &reply, &err) ==
		    0)
			skiff__frame__free_unpacked(reply, NULL);
		skiff_rpc_sync_free(s);
	}
	return err;
}

/* A client that never starts TLS, and one that stops in the middle of its
 * ClientHello, are closed after the handshake timeout (300 ms here; the
 * keepalive would take 6 s). */
TEST(test_edge_handshake_timeout)
{
	test_server_edge.handshake_timeout_ms = 300;
	struct test_server *ts = start_server(ca, server_crt, server_key);
	int idle = raw_connect(ts, 1), partial = raw_connect(ts, 1);
	/* a TLS record header announcing 512 bytes, and 5 of them */
	static const uint8_t hello[] = {
		0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03
	};

	ck_assert_int_eq(write(partial, hello, sizeof(hello)), (ssize_t)sizeof(hello));
	ck_assert_msg(closed_by_server(idle, 3000), "a connection that never started TLS stayed");
	ck_assert_msg(closed_by_server(partial, 3000), "a stalled handshake stayed");
	/* real clients were not held up */
	char *err = admin_connects(ts);
	ck_assert_msg(!err, "admin: %s", err);
	struct skiff_rpc_server_stats st;
	skiff_rpc_server_get_stats(ts->rpc, &st);
	ck_assert_uint_eq(st.handshake_timeouts, 2);
	close(idle);
	close(partial);
	test_server_stop(ts);
}
END_TEST

/* A client that finishes the handshake (no certificate, as a joiner) and then
 * sends nothing is closed after the first-frame timeout. */
TEST(test_edge_first_frame_timeout)
{
	test_server_edge.first_frame_timeout_ms = 300;
	struct test_server *ts = start_server(ca, server_crt, server_key);
	int fd = raw_connect(ts, 1);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	bool closed = false;
	char buf[256];

	SSL_set_fd(ssl, fd);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	for (int64_t end = skiff_mono_ms() + 3000; !closed && skiff_mono_ms() < end;) {
		if (poll(&p, 1, 20) != 1)
			continue;
		/* the server's greeting comes first; then the close */
		closed = SSL_read(ssl, buf, sizeof(buf)) <= 0;
	}
	ck_assert_msg(closed, "a connection that sent no frame after the handshake stayed");
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	test_server_stop(ts);
}
END_TEST

/* Unauthenticated connections are capped per address and in all; over a cap
 * the oldest make way, so admins still get in. Authenticated connections
 * have their own cap, and the one over it is told why. */
TEST(test_edge_caps)
{
	enum { SAME = 20, SPREAD = 12 };
	int same[SAME], spread[SPREAD], closed = 0;

	test_server_edge.max_unauth_per_addr = 4;
	test_server_edge.max_unauth = 8;
	test_server_edge.max_conns = 2;
	struct test_server *ts = start_server(ca, server_crt, server_key);

	/* one address: 4 are kept, the oldest go */
	for (int i = 0; i < SAME; i++)
		same[i] = raw_connect(ts, 2);
	for (int i = 0; i < SAME - 4; i++)
		closed += closed_by_server(same[i], 3000);
	ck_assert_msg(closed == SAME - 4, "%d of the %d oldest connections from one address closed",
		      closed, SAME - 4);
	for (int i = SAME - 4; i < SAME; i++)
		ck_assert_msg(!closed_by_server(same[i], 50), "a newer connection was closed");
	/* many addresses: 8 in all are kept */
	closed = 0;
	for (int i = 0; i < SPREAD; i++)
		spread[i] = raw_connect(ts, 10 + i);
	for (int i = 0; i < SPREAD; i++)
		closed += closed_by_server(spread[i], 200);
	for (int i = SAME - 4; i < SAME; i++)
		closed += closed_by_server(same[i], 200);
	ck_assert_msg(closed == SPREAD + 4 - 8, "%d of %d connections closed", closed, SPREAD + 4);

	/* admins still get in, two at once (max_conns 2) */
	struct skiff_rpc_sync *a = NULL, *b = NULL, *c = NULL;
	char *err = try_connect(ts, client_ctx(ca, ca, "alice", SKIFF_ROLE_ADMIN, 30), &a);
	ck_assert_msg(!err, "admin: %s", err);
	err = try_connect(ts, client_ctx(ca, ca, "bob", SKIFF_ROLE_ADMIN, 30), &b);
	ck_assert_msg(!err, "second admin: %s", err);
	/* a third is refused, saying why */
	err = try_connect(ts, client_ctx(ca, ca, "carol", SKIFF_ROLE_ADMIN, 30), &c);
	ck_assert_ptr_null(c);
	ck_assert_msg(err && strstr(err, "too many connections (limit 2)"), "errmsg: %s", err);
	free(err);
	/* room again once one left */
	skiff_rpc_sync_free(a);
	char *again = NULL;
	for (int64_t end = skiff_mono_ms() + 3000; skiff_mono_ms() < end; usleep(20000)) {
		free(again);
		if (!(again = admin_connects(ts)))
			break;
	}
	ck_assert_msg(!again, "after one left: %s", again);

	struct skiff_rpc_server_stats st;
	skiff_rpc_server_get_stats(ts->rpc, &st);
	ck_assert_uint_ge(st.evicted, SAME - 4 + SPREAD + 4 - 8);
	ck_assert_uint_ge(st.refused, 1);
	skiff_rpc_sync_free(b);
	for (int i = 0; i < SAME; i++)
		close(same[i]);
	for (int i = 0; i < SPREAD; i++)
		close(spread[i]);
	test_server_stop(ts);
}
END_TEST

TEST_SUITE(.setup = setup, .teardown = teardown, .timeout = 10);
