/* test_brain_pki.c — a real skiff-orchestrator and its PKI (issue #13), as an
 * attacker who holds only the join token, a wiped agent and an admin see it:
 *  - a second JOIN as an existing node is refused and waits for approval;
 *    approval lets the re-joining node (the same key) back in and revokes
 *    the old certificate; a joiner holding the node's key needs no approval;
 *  - a replayed JOIN is refused once its token is used up or expired;
 *  - `delete node` revokes the node's certificate, also after a restart;
 *  - a view config reads but cannot apply, delete, scale, exec or drain;
 *  - MSG_RENEW gives a node a new certificate over its connection;
 *  - every message type sent with a node certificate is refused unless the
 *    type is for nodes, and then only about the node itself.
 * No root needed; everything runs on 127.0.0.1 in a temporary directory. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "util.h"

#include "../../hollow/fakes.h"
#include "brain_harness.h"

struct ident {
	char *key, *cert, *ca;
};

static void ident_free(struct ident *id)
{
	free(id->key);
	free(id->cert);
	free(id->ca);
	memset(id, 0, sizeof(*id));
}

static char *default_token(void)
{
	return join_token();
}

/* JOIN as name with key (NULL: a fresh one) */
static int join(const char *token, const char *name, const char *key, struct ident *ret,
		char **ret_err)
{
	return skiff_rpc_sync_join_key(listen_addr, token, name, key, &ret->key, &ret->cert,
				       &ret->ca, ret_err);
}

static struct skiff_rpc_sync *connect_as(const struct ident *id)
{
	SSL_CTX *tls = NULL;
	ck_assert_int_eq(skiff_tls_client_ctx(id->ca, id->cert, id->key, &tls), 0);
	struct skiff_rpc_client_config cc = { .server = listen_addr, .tls = tls };
	struct skiff_rpc_sync *s = NULL;
	_cleanup_free_ char *err = NULL;
	int64_t deadline = skiff_mono_ms() + 20000;
	while (skiff_rpc_sync_connect(&cc, &s, &err) < 0) {
		ck_assert_msg(skiff_mono_ms() < deadline, "connect: %s", err);
		free(err);
		err = NULL;
		usleep(100000);
	}
	SSL_CTX_free(tls);
	return s;
}

static int call(struct skiff_rpc_sync *s, Skiff__MsgType type, const ProtobufCMessage *msg,
		const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret, char **ret_err)
{
	Skiff__Frame *reply = NULL;
	int r = skiff_rpc_sync_call(s, type, msg, 5000, &reply, ret_err);
	if (r < 0)
		return r;
	if (ret && desc) {
		*ret =
		    protobuf_c_message_unpack(desc, NULL, reply->payload.len, reply->payload.data);
		ck_assert_ptr_nonnull(*ret);
	}
	skiff__frame__free_unpacked(reply, NULL);
	return 0;
}

static int do_register(struct skiff_rpc_sync *s, const char *name, char **ret_err)
{
	struct fake_register f;
	fake_register_init(&f, name, 1000, 1LL << 30, 10, "127.0.0.1");
	return call(s, SKIFF__MSG_TYPE__MSG_REGISTER, &f.req.base, NULL, NULL, ret_err);
}

static int cert_action(struct skiff_rpc_sync *s, const char *action, const char *name,
		       char **ret_err)
{
	Skiff__CertificateAction a = SKIFF__CERTIFICATE_ACTION__INIT;
	a.action = (char *)action;
	a.name = (char *)name;
	return call(s, SKIFF__MSG_TYPE__MSG_CERTIFICATE, &a.base, NULL, NULL, ret_err);
}

static char *token_create(struct skiff_rpc_sync *s, int64_t ttl_ms, int uses)
{
	Skiff__TokenRequest tr = SKIFF__TOKEN_REQUEST__INIT;
	tr.action = (char *)"create";
	tr.ttl_ms = ttl_ms;
	tr.uses = uses;
	Skiff__TokenResponse *resp = NULL;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(call(s, SKIFF__MSG_TYPE__MSG_TOKEN, &tr.base,
			   &skiff__token_response__descriptor, (ProtobufCMessage **)&resp,
			   &err) == 0,
		      "token create: %s", err);
	char *t = xstrdup(resp->token);
	ck_assert_int_eq(resp->object->usage_limit, uses);
	skiff__token_response__free_unpacked(resp, NULL);
	return t;
}

static size_t list_count(struct skiff_rpc_sync *s, const char *kind, const char *condition)
{
	Skiff__ListRequest lr = SKIFF__LIST_REQUEST__INIT;
	lr.kind = (char *)kind;
	Skiff__ListResponse *resp = NULL;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(call(s, SKIFF__MSG_TYPE__MSG_LIST, &lr.base,
			   &skiff__list_response__descriptor, (ProtobufCMessage **)&resp,
			   &err) == 0,
		      "list %s: %s", kind, err);
	size_t n = 0;
	for (size_t i = 0; i < resp->n_items; i++)
		if (!condition ||
		    (resp->items[i]->certificate_request &&
		     streq(resp->items[i]->certificate_request->condition, condition)))
			n++;
	skiff__list_response__free_unpacked(resp, NULL);
	return n;
}

TEST(test_takeover_refused_until_approved)
{
	start_brain("30s");
	_cleanup_free_ char *token = default_token();
	struct skiff_rpc_sync *admin = connect_admin(20000);
	struct ident vm1 = { 0 }, thief = { 0 }, again = { 0 };
	_cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL, *err4 = NULL;
	ck_assert_msg(join(token, "vm1", NULL, &vm1, &err) == 0, "join: %s", err);
	struct skiff_rpc_sync *s1 = connect_as(&vm1);
	ck_assert_int_eq(do_register(s1, "vm1", &err2), 0);

	/* the token alone does not give vm1 to someone else */
	ck_assert_int_eq(join(token, "vm1", NULL, &thief, &err3), -EACCES);
	ck_assert_ptr_null(thief.cert);
	ck_assert_msg(strstr(err3, "already exists") &&
			  strstr(err3, "skiffctl certificate approve vm1"),
		      "%s", err3);
	ck_assert_uint_eq(list_count(admin, "certificaterequest", "Pending"), 1);
	skiff_rpc_sync_free(s1);

	/* a wiped vm1 (a new key) retries: still waiting; the admin approves
	 * it and the same key gets in */
	_cleanup_free_ char *key = NULL, *csr = NULL;
	ck_assert_int_eq(skiff_pki_key_and_csr("vm1", &key, &csr), 0);
	free(err3);
	err3 = NULL;
	ck_assert_int_eq(join(token, "vm1", key, &again, &err3), -EACCES);
	ck_assert_int_eq(cert_action(admin, "approve", "vm1", &err4), 0);
	free(err3);
	err3 = NULL;
	ck_assert_msg(join(token, "vm1", key, &again, &err3) == 0, "approved join: %s", err3);
	ck_assert_uint_eq(list_count(admin, "certificaterequest", NULL), 0);
	struct skiff_rpc_sync *s2 = connect_as(&again);
	free(err2);
	err2 = NULL;
	ck_assert_msg(do_register(s2, "vm1", &err2) == 0, "register: %s", err2);
	/* the old identity is out */
	struct skiff_rpc_sync *old = connect_as(&vm1);
	free(err2);
	err2 = NULL;
	ck_assert_int_eq(do_register(old, "vm1", &err2), -EACCES);
	ck_assert_msg(strstr(err2, "revoked"), "%s", err2);
	/* the node's own key needs no approval (an expired certificate) */
	struct ident own = { 0 };
	free(err3);
	err3 = NULL;
	ck_assert_msg(join(token, "vm1", again.key, &own, &err3) == 0, "own key: %s", err3);
	ident_free(&own);
	skiff_rpc_sync_free(old);
	skiff_rpc_sync_free(s2);
	skiff_rpc_sync_free(admin);
	ident_free(&vm1);
	ident_free(&again);
	ident_free(&thief);
}
END_TEST

TEST(test_token_used_up_or_expired)
{
	start_brain("30s");
	struct skiff_rpc_sync *admin = connect_admin(20000);
	_cleanup_free_ char *once = token_create(admin, 0, 1);
	struct ident a = { 0 }, b = { 0 };
	_cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL, *err4 = NULL;
	ck_assert_msg(join(once, "vm2", NULL, &a, &err) == 0, "join: %s", err);
	/* the same JOIN replayed, and another name: the token is used up */
	ck_assert_int_eq(join(once, "vm2", a.key, &b, &err2), -EACCES);
	ck_assert_msg(strstr(err2, "used up"), "%s", err2);
	ck_assert_int_eq(join(once, "vm3", NULL, &b, &err3), -EACCES);
	ck_assert_msg(strstr(err3, "used up"), "%s", err3);
	_cleanup_free_ char *brief = token_create(admin, 1000, 0);
	usleep(1500 * 1000);
	ck_assert_int_eq(join(brief, "vm4", NULL, &b, &err4), -EACCES);
	ck_assert_msg(strstr(err4, "expired"), "%s", err4);
	ck_assert_ptr_null(b.cert);
	skiff_rpc_sync_free(admin);
	ident_free(&a);
}
END_TEST

TEST(test_revoked_after_restart)
{
	start_brain("30s");
	_cleanup_free_ char *token = default_token();
	struct skiff_rpc_sync *admin = connect_admin(20000);
	struct ident vm1 = { 0 };
	_cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL, *err4 = NULL;
	ck_assert_msg(join(token, "vm1", NULL, &vm1, &err) == 0, "join: %s", err);
	struct skiff_rpc_sync *s = connect_as(&vm1);
	ck_assert_int_eq(do_register(s, "vm1", &err2), 0);
	skiff_rpc_sync_free(s);
	Skiff__DeleteRequest dr = SKIFF__DELETE_REQUEST__INIT;
	dr.kind = (char *)"node";
	dr.name = (char *)"vm1";
	ck_assert_int_eq(call(admin, SKIFF__MSG_TYPE__MSG_DELETE, &dr.base, NULL, NULL, &err3), 0);
	skiff_rpc_sync_free(admin);
	ck_assert_int_eq(WEXITSTATUS(stop_brain(SIGTERM)), 0);
	start_brain("30s");
	admin = connect_admin(20000);
	s = connect_as(&vm1);
	ck_assert_int_eq(do_register(s, "vm1", &err4), -EACCES);
	ck_assert_msg(strstr(err4, "revoked"), "%s", err4);
	skiff_rpc_sync_free(s);
	skiff_rpc_sync_free(admin);
	ident_free(&vm1);
}
END_TEST

static struct ident new_config(struct skiff_rpc_sync *admin, const char *name, const char *role)
{
	struct ident id = { 0 };
	_cleanup_free_ char *csr = NULL, *err = NULL;
	ck_assert_int_eq(skiff_pki_key_and_csr(name, &id.key, &csr), 0);
	Skiff__NewConfigRequest nc = SKIFF__NEW_CONFIG_REQUEST__INIT;
	nc.name = (char *)name;
	nc.role = (char *)role;
	nc.csr_pem.data = (uint8_t *)csr;
	nc.csr_pem.len = strlen(csr);
	Skiff__IssuedCertificate *ic = NULL;
	ck_assert_msg(call(admin, SKIFF__MSG_TYPE__MSG_NEW_CONFIG, &nc.base,
			   &skiff__issued_certificate__descriptor, (ProtobufCMessage **)&ic,
			   &err) == 0,
		      "new config: %s", err);
	id.cert = xstrndup((char *)ic->cert_pem.data, ic->cert_pem.len);
	id.ca = xstrndup((char *)ic->ca_pem.data, ic->ca_pem.len);
	skiff__issued_certificate__free_unpacked(ic, NULL);
	return id;
}

TEST(test_view_config_reads_only)
{
	start_brain("30s");
	struct skiff_rpc_sync *admin = connect_admin(20000);
	struct ident viewer = new_config(admin, "viewer", "view");
	struct skiff_rpc_sync *v = connect_as(&viewer);
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(call(v, SKIFF__MSG_TYPE__MSG_CLUSTER_INFO, NULL, NULL, NULL, &err) == 0, "%s",
		      err);
	list_count(v, "pod", NULL);
	list_count(v, "node", NULL);
	static const Skiff__MsgType writes[] = {
		SKIFF__MSG_TYPE__MSG_APPLY,	  SKIFF__MSG_TYPE__MSG_DELETE,
		SKIFF__MSG_TYPE__MSG_SCALE,	  SKIFF__MSG_TYPE__MSG_EXEC,
		SKIFF__MSG_TYPE__MSG_NODE_ACTION, SKIFF__MSG_TYPE__MSG_ROLLOUT,
		SKIFF__MSG_TYPE__MSG_TOKEN,	  SKIFF__MSG_TYPE__MSG_CERTIFICATE,
		SKIFF__MSG_TYPE__MSG_NEW_CONFIG,
	};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		_cleanup_free_ char *e = NULL;
		ck_assert_int_eq(call(v, writes[i], NULL, NULL, NULL, &e), -EACCES);
		ck_assert_msg(strstr(e, "needs role admin"), "%s", e);
	}
	/* nor read tokens */
	Skiff__ListRequest lr = SKIFF__LIST_REQUEST__INIT;
	lr.kind = (char *)"token";
	_cleanup_free_ char *e2 = NULL;
	ck_assert_int_eq(call(v, SKIFF__MSG_TYPE__MSG_LIST, &lr.base, NULL, NULL, &e2), -EACCES);
	/* and a revoked admin config stops working */
	struct ident second = new_config(admin, "ops", "admin");
	struct skiff_rpc_sync *o = connect_as(&second);
	_cleanup_free_ char *e3 = NULL, *e4 = NULL;
	ck_assert_int_eq(cert_action(admin, "revoke", "ops", &e3), 0);
	ck_assert_int_eq(call(o, SKIFF__MSG_TYPE__MSG_CLUSTER_INFO, NULL, NULL, NULL, &e4),
			 -EACCES);
	skiff_rpc_sync_free(o);
	skiff_rpc_sync_free(v);
	skiff_rpc_sync_free(admin);
	ident_free(&viewer);
	ident_free(&second);
}
END_TEST

TEST(test_renew_over_the_connection)
{
	start_brain("30s");
	_cleanup_free_ char *token = default_token();
	struct ident vm1 = { 0 };
	_cleanup_free_ char *err = NULL, *err2 = NULL, *csr = NULL, *key = NULL;
	ck_assert_msg(join(token, "vm1", NULL, &vm1, &err) == 0, "join: %s", err);
	struct skiff_rpc_sync *s = connect_as(&vm1);
	ck_assert_int_eq(skiff_pki_key_and_csr("vm1", &key, &csr), 0);
	Skiff__RenewRequest rr = SKIFF__RENEW_REQUEST__INIT;
	rr.csr_pem.data = (uint8_t *)csr;
	rr.csr_pem.len = strlen(csr);
	Skiff__IssuedCertificate *ic = NULL;
	ck_assert_msg(call(s, SKIFF__MSG_TYPE__MSG_RENEW, &rr.base,
			   &skiff__issued_certificate__descriptor, (ProtobufCMessage **)&ic,
			   &err2) == 0,
		      "renew: %s", err2);
	struct skiff_cert_info old, fresh;
	_cleanup_free_ char *pem = xstrndup((char *)ic->cert_pem.data, ic->cert_pem.len);
	ck_assert_int_eq(skiff_pki_cert_info(vm1.cert, &old), 0);
	ck_assert_int_eq(skiff_pki_cert_info(pem, &fresh), 0);
	ck_assert_str_ne(old.serial, fresh.serial);
	ck_assert_str_eq(fresh.cn, "vm1");
	ck_assert_str_eq(fresh.role, "node");
	/* a year by default */
	ck_assert_int_gt(fresh.not_after_ms - skiff_now_ms(), 360LL * 86400 * 1000);
	ck_assert_int_lt(fresh.not_after_ms - skiff_now_ms(), 366LL * 86400 * 1000);
	skiff__issued_certificate__free_unpacked(ic, NULL);
	struct ident renewed = { .key = TAKE_PTR(key),
				 .cert = TAKE_PTR(pem),
				 .ca = xstrdup(vm1.ca) };
	struct skiff_rpc_sync *s2 = connect_as(&renewed);
	_cleanup_free_ char *err3 = NULL;
	ck_assert_msg(do_register(s2, "vm1", &err3) == 0, "register: %s", err3);
	skiff_rpc_sync_free(s2);
	skiff_rpc_sync_free(s);
	ident_free(&vm1);
	ident_free(&renewed);
}
END_TEST

/* Every MsgType sent with a node certificate: refused, unless it is a type
 * for nodes, which are then checked about another node. A new type makes
 * this test fail until it is listed. */
TEST(test_node_may_only_touch_itself)
{
	start_brain("30s");
	_cleanup_free_ char *token = default_token();
	struct ident a = { 0 }, b = { 0 };
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(join(token, "vma", NULL, &a, &err) == 0, "join: %s", err);
	ck_assert_int_eq(join(token, "vmb", NULL, &b, &err), 0);
	struct skiff_rpc_sync *sb = connect_as(&b);
	ck_assert_int_eq(do_register(sb, "vmb", &err), 0);
	struct skiff_rpc_sync *s = connect_as(&a);

	Skiff__GetRequest get = SKIFF__GET_REQUEST__INIT;
	get.kind = (char *)"node";
	get.name = (char *)"vmb";
	Skiff__ListRequest list = SKIFF__LIST_REQUEST__INIT;
	list.kind = (char *)"pod";
	list.node_name = (char *)"vmb";
	Skiff__RegisterRequest reg = SKIFF__REGISTER_REQUEST__INIT;
	Skiff__Node n = SKIFF__NODE__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	m.name = (char *)"vmb";
	n.metadata = &m;
	reg.node = &n;
	Skiff__Heartbeat hb = SKIFF__HEARTBEAT__INIT;
	hb.node = (char *)"vmb";
	Skiff__PodStatusReport ps = SKIFF__POD_STATUS_REPORT__INIT;
	ps.node = (char *)"vmb";
	ps.pod = (char *)"x";
	Skiff__Event ev = SKIFF__EVENT__INIT;
	ev.source = (char *)"vmb";
	Skiff__ImageReport ir = SKIFF__IMAGE_REPORT__INIT;
	ir.node = (char *)"vmb";
	struct {
		int type;
		const ProtobufCMessage *msg;	       /* about vmb */
		enum { REFUSED, BY_RPC, ALLOWED } how; /* BY_RPC: answered there */
	} cases[] = {
		{ SKIFF__MSG_TYPE__MSG_NONE, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_PING, NULL, BY_RPC },
		{ SKIFF__MSG_TYPE__MSG_GET, &get.base, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_LIST, &list.base, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_APPLY, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_DELETE, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_WATCH, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_SCALE, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_NODE_ACTION, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_ROLLOUT, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_LOGS, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_CLUSTER_INFO, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_EXEC, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_EXEC_INPUT, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_TOKEN, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_CERTIFICATE, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_NEW_CONFIG, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_JOIN, NULL, REFUSED }, /* no token: refused */
		{ SKIFF__MSG_TYPE__MSG_REGISTER, &reg.base, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_HEARTBEAT, &hb.base, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_POD_STATUS, &ps.base, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_ASSIGN, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_EVENT_REPORT, &ev.base, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_AGENT_LOGS, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_AGENT_EXEC, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_AGENT_EXEC_INPUT, NULL, REFUSED },
		/* the cluster's image store: loading and removing are for admins */
		{ SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_STAT, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_PUT, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_IMAGE_COMMIT, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_IMAGE_REMOVE, NULL, REFUSED },
		/* any node may resolve and read images: passes authz, then
		 * fails on the empty request (no such image, bad digest) */
		{ SKIFF__MSG_TYPE__MSG_IMAGE_RESOLVE, NULL, ALLOWED },
		{ SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_READ, NULL, ALLOWED },
		{ SKIFF__MSG_TYPE__MSG_IMAGE_REPORT, &ir.base, REFUSED },
		/* renewal is for the caller's own name: tested above */
		{ SKIFF__MSG_TYPE__MSG_RENEW, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_TEST_ECHO, NULL, REFUSED },
		{ SKIFF__MSG_TYPE__MSG_TEST_STREAM, NULL, REFUSED },
	};
	const ProtobufCEnumDescriptor *desc = &skiff__msg_type__descriptor;
	for (unsigned i = 0; i < desc->n_values; i++) {
		int type = desc->values[i].value;
		size_t c = 0;
		while (c < sizeof(cases) / sizeof(cases[0]) && cases[c].type != type)
			c++;
		ck_assert_msg(c < sizeof(cases) / sizeof(cases[0]),
			      "%s has no case in test_node_may_only_touch_itself: add one",
			      desc->values[i].name);
		if (cases[c].how == BY_RPC)
			continue;
		_cleanup_free_ char *e = NULL;
		int r = call(s, (Skiff__MsgType)type, cases[c].msg, NULL, NULL, &e);
		ck_assert_msg(r < 0, "%s as node vma succeeded", desc->values[i].name);
		if (cases[c].how == ALLOWED) {
			ck_assert_msg(r != -EACCES, "%s refused to node vma: %s",
				      desc->values[i].name, e);
			continue;
		}
		ck_assert_msg(r == -EACCES || r == -EOPNOTSUPP || r == -EINVAL, "%s: %d %s",
			      desc->values[i].name, r, e);
		if (cases[c].msg)
			ck_assert_msg(r == -EACCES && strstr(e, "vma"), "%s: %s",
				      desc->values[i].name, e);
	}
	skiff_rpc_sync_free(s);
	skiff_rpc_sync_free(sb);
	ident_free(&a);
	ident_free(&b);
}
END_TEST

TEST_SUITE(.setup = harness_setup, .teardown = harness_teardown, .timeout = 120);
