/* certs.c — the brain as the cluster's CA (see daemon.h): join tokens with an
 * id, an expiry and a use count; JOIN, where a token only lets a machine ask
 * (a node name that is taken needs an admin's approval, or proof that the
 * joiner holds that node's key); a record of every certificate issued, so a
 * revoked one is refused by serial on every connection, also after a
 * restart; renewal over the caller's connection; further admin and view
 * configs. Kubernetes' bootstrap tokens and CSR approval are the model. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#define TOKEN_ID_LEN   6
#define TOKEN_KEEP_MS  (3600LL * 1000)	    /* expired tokens, for a clear refusal */
#define CSR_PENDING_MS (24LL * 3600 * 1000) /* as Kubernetes' CSR cleaner */
#define CSR_DECIDED_MS (3600LL * 1000)
#define CERT_KEEP_MS   (3600LL * 1000) /* records past their certificate's expiry */
#define CERTS_TICK_MS  10000

static void sha256_hex(const char *s, char hex[65])
{
	unsigned char md[32];
	if (EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL) != 1)
		abort();
	skiff_hex(md, sizeof(md), hex);
}

static char *time_str(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

static int64_t now_ms(struct daemon *d)
{
	return brain_now_ms(d->brain);
}

/* ---- certificate records ------------------------------------------------ */

static int record_cert(struct daemon *d, const char *pem, const char *issued_for,
		       struct skiff_cert_info *ret_info)
{
	struct skiff_cert_info in;
	int r = skiff_pki_cert_info(pem, &in);
	if (r < 0)
		return r;
	Skiff__Certificate c = SKIFF__CERTIFICATE__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	m.name = in.serial;
	m.created_ms = now_ms(d);
	c.metadata = &m;
	c.subject = in.cn;
	c.role = in.role;
	c.not_before_ms = in.not_before_ms;
	c.not_after_ms = in.not_after_ms;
	c.key_sha256 = in.key_sha256;
	c.issued_for = (char *)issued_for;
	r = brain_put(d->brain, SKIFF_KIND_CERTIFICATE, &c.base);
	if (r == 0 && ret_info)
		*ret_info = in;
	return r;
}

/* Sign csr for cn/role and record it. */
static int issue(struct daemon *d, const char *csr, const char *cn, const char *role,
		 const char *issued_for, char **ret_pem, struct skiff_cert_info *ret_info)
{
	_cleanup_free_ char *pem = NULL;
	int64_t life = streq(role, SKIFF_ROLE_NODE) ? d->cert_validity_s : d->admin_validity_s;
	int r = skiff_ca_sign_csr_secs(d->ca, csr, cn, role, life, &pem);
	if (r < 0)
		return r;
	r = record_cert(d, pem, issued_for, ret_info);
	if (r < 0)
		return r;
	*ret_pem = TAKE_PTR(pem);
	return 0;
}

static Skiff__IssuedCertificate *issued_reply(struct daemon *d, char *pem,
					      const struct skiff_cert_info *in)
{
	Skiff__IssuedCertificate *ic = xmalloc(sizeof(*ic));
	skiff__issued_certificate__init(ic);
	ic->cert_pem.data = (uint8_t *)pem;
	ic->cert_pem.len = strlen(pem);
	ic->ca_pem.data = (uint8_t *)xstrdup(skiff_ca_cert_pem(d->ca));
	ic->ca_pem.len = strlen(skiff_ca_cert_pem(d->ca));
	ic->serial = xstrdup(in->serial);
	ic->not_after_ms = in->not_after_ms;
	return ic;
}

struct cert_scan {
	const char *subject; /* NULL: every record */
	const char *role;    /* NULL: any */
	int64_t now;
	char **names;
	size_t n;
	/* for the JOIN decision */
	const char *key;
	bool taken;	       /* a valid certificate of that subject exists */
	bool key_valid;	       /* ... for this key */
	char revoked[72];      /* this key's certificate was revoked (its serial) */
	bool only_valid;       /* collect only not revoked */
	int64_t expire_before; /* collect records past this (GC); 0: off */
};

static int scan_one(const struct skiff_store_obj *o, void *userdata)
{
	struct cert_scan *c = userdata;
	const Skiff__Certificate *cert = o->decoded;
	if (!cert)
		return 0;
	if (c->expire_before) {
		if (cert->not_after_ms && cert->not_after_ms < c->expire_before)
			goto collect;
		return 0;
	}
	if (c->subject && !streq(cert->subject, c->subject))
		return 0;
	if (c->role && !streq(cert->role, c->role))
		return 0;
	bool valid = !cert->revoked_ms && (!cert->not_after_ms || cert->not_after_ms > c->now);
	if (c->key && streq(cert->key_sha256, c->key)) {
		if (cert->revoked_ms)
			snprintf(c->revoked, sizeof(c->revoked), "%s", o->name);
		else if (valid)
			c->key_valid = true;
	}
	if (valid)
		c->taken = true;
	if (c->only_valid && cert->revoked_ms)
		return 0;
collect:
	c->names = xrealloc(c->names, (c->n + 1) * sizeof(*c->names));
	c->names[c->n++] = xstrdup(o->name);
	return 0;
}

static void scan_free(struct cert_scan *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
}

/* Revoke one record; appends a copy to *resp when given. */
static int revoke_serial(struct daemon *d, const char *serial, const char *reason,
			 Skiff__CertificateActionResponse *resp)
{
	Skiff__Certificate *c = brain_copy(d->brain, SKIFF_KIND_CERTIFICATE, serial);
	if (!c) {
		/* a certificate issued before records were kept */
		c = xmalloc(sizeof(*c));
		skiff__certificate__init(c);
		Skiff__ObjectMeta *m = skiff_meta_ensure(&c->base);
		skiff_set_str(&m->name, serial);
		m->created_ms = now_ms(d);
	}
	if (!c->revoked_ms) {
		c->revoked_ms = now_ms(d);
		skiff_set_str(&c->revoked_reason, reason);
	}
	int r = brain_put(d->brain, SKIFF_KIND_CERTIFICATE, &c->base);
	if (r == 0)
		log_info("revoked certificate %s (%s '%s'): %s", serial, c->role, c->subject,
			 reason);
	if (r == 0 && resp) {
		resp->revoked = xrealloc(resp->revoked, (resp->n_revoked + 1) * sizeof(c));
		resp->revoked[resp->n_revoked++] = c;
	} else
		skiff_obj_free(&c->base);
	return r;
}

/* Revoke every valid certificate of subject (role: NULL any). */
static void revoke_subject(struct daemon *d, const char *subject, const char *role,
			   const char *except_serial, const char *reason,
			   Skiff__CertificateActionResponse *resp)
{
	struct cert_scan c = {
		.subject = subject, .role = role, .now = now_ms(d), .only_valid = true
	};
	skiff_store_foreach(d->brain->store, SKIFF_KIND_CERTIFICATE, scan_one, &c);
	for (size_t i = 0; i < c.n; i++)
		if (!except_serial || !streq(c.names[i], except_serial))
			(void)revoke_serial(d, c.names[i], reason, resp);
	scan_free(&c);
}

bool certs_refuse_revoked(struct daemon *d, struct skiff_rpc_call *call)
{
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	if (!peer->serial[0])
		return false;
	const Skiff__Certificate *c = brain_get(d->brain, SKIFF_KIND_CERTIFICATE, peer->serial);
	if (!c || !c->revoked_ms)
		return false;
	_cleanup_free_ char *when = time_str(c->revoked_ms);
	log_warn("refused %s '%s' from %s: certificate %s was revoked at %s", peer->role,
		 peer->name, peer->addr, peer->serial, when);
	skiff_rpc_call_error(call, -EACCES,
			     "certificate %s of %s '%s' was revoked at %s (%s); ask an admin for "
			     "a new one",
			     peer->serial, peer->role, peer->name, when,
			     *c->revoked_reason ? c->revoked_reason : "revoked");
	return true;
}

void certs_node_deleted(struct daemon *d, const char *node)
{
	revoke_subject(d, node, SKIFF_ROLE_NODE, NULL, "node deleted", NULL);
	struct brain_node *rt = skiff_map_get(d->brain->nodes, node);
	if (rt && rt->session)
		skiff_rpc_conn_close(rt->session); /* its certificate is no longer good */
}

/* ---- tokens --------------------------------------------------------------- */

/* Check a presented token: 0 with *ret_id (the token's id) or -EACCES with
 * *ret_errmsg saying why. */
static int check_token(struct daemon *d, const char *token, char ret_id[TOKEN_ID_LEN + 1],
		       char **ret_errmsg)
{
	char digest[65], secret[33], ca[65];
	if (skiff_token_parse(token, digest, secret) < 0) {
		*ret_errmsg = xstrdup("the join token is not a Skiff join token "
				      "(SKIFF-1-<CA digest>-<32 hex>)");
		return -EACCES;
	}
	if (skiff_ca_digest(d->ca, ca) < 0 || !streq(ca, digest)) {
		*ret_errmsg =
		    xstrdup("the join token is for another cluster (its CA digest differs)");
		return -EACCES;
	}
	memcpy(ret_id, secret, TOKEN_ID_LEN);
	ret_id[TOKEN_ID_LEN] = '\0';
	char want[65];
	sha256_hex(secret + TOKEN_ID_LEN, want);
	const Skiff__JoinToken *t = brain_get(d->brain, SKIFF_KIND_TOKEN, ret_id);
	if (!t || strlen(t->secret_sha256) != 64 || CRYPTO_memcmp(t->secret_sha256, want, 64)) {
		*ret_errmsg = xasprintf("join token %s is not valid for this cluster (deleted, or "
					"never made; see skiffctl token list)",
					ret_id);
		return -EACCES;
	}
	if (t->expires_ms && t->expires_ms <= now_ms(d)) {
		_cleanup_free_ char *when = time_str(t->expires_ms);
		*ret_errmsg = xasprintf("join token %s expired at %s; make a new one with skiffctl "
					"token create",
					ret_id, when);
		return -EACCES;
	}
	if (t->usage_limit > 0 && t->used >= t->usage_limit) {
		*ret_errmsg = xasprintf("join token %s is used up (%d of %d joins); make a new one "
					"with skiffctl token create",
					ret_id, t->used, t->usage_limit);
		return -EACCES;
	}
	return 0;
}

static int token_used(struct daemon *d, const char *id)
{
	Skiff__JoinToken *t = brain_copy(d->brain, SKIFF_KIND_TOKEN, id);
	if (!t)
		return -ENOENT;
	t->used++;
	t->last_used_ms = now_ms(d);
	int r = brain_put(d->brain, SKIFF_KIND_TOKEN, &t->base);
	skiff_obj_free(&t->base);
	return r;
}

static int put_token(struct daemon *d, const char *token, int64_t expires_ms, int uses,
		     const char *description, Skiff__JoinToken **ret)
{
	char digest[65], secret[33], id[TOKEN_ID_LEN + 1], hash[65];
	if (skiff_token_parse(token, digest, secret) < 0)
		return -EINVAL;
	memcpy(id, secret, TOKEN_ID_LEN);
	id[TOKEN_ID_LEN] = '\0';
	sha256_hex(secret + TOKEN_ID_LEN, hash);
	Skiff__JoinToken t = SKIFF__JOIN_TOKEN__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	m.name = id;
	m.created_ms = now_ms(d);
	t.metadata = &m;
	t.secret_sha256 = hash;
	t.expires_ms = expires_ms;
	t.usage_limit = uses;
	t.description = (char *)(description ? description : "");
	int r = brain_put(d->brain, SKIFF_KIND_TOKEN, &t.base);
	if (r == 0 && ret)
		*ret = brain_copy(d->brain, SKIFF_KIND_TOKEN, id);
	return r;
}

void certs_token(struct daemon *d, struct skiff_rpc_call *call, const Skiff__TokenRequest *req)
{
	if (streq(req->action, "create")) {
		if (req->uses < 0) {
			skiff_rpc_call_error(call, -EINVAL, "uses: must be >= 0, got %d",
					     req->uses);
			return;
		}
		if (strlen(req->description) > 200) {
			skiff_rpc_call_error(call, -EINVAL, "description: at most 200 characters");
			return;
		}
		_cleanup_free_ char *token = NULL;
		char digest[65], secret[33], id[TOKEN_ID_LEN + 1];
		for (int i = 0;; i++) { /* a fresh id (24 bits: collisions are rare) */
			free(token);
			token = NULL;
			if (skiff_token_new(d->ca, &token) < 0 ||
			    skiff_token_parse(token, digest, secret) < 0 || i == 16) {
				skiff_rpc_call_error(call, -EIO, "cannot make a token");
				return;
			}
			memcpy(id, secret, TOKEN_ID_LEN);
			id[TOKEN_ID_LEN] = '\0';
			if (!brain_get(d->brain, SKIFF_KIND_TOKEN, id))
				break;
		}
		int64_t ttl = req->ttl_ms ? req->ttl_ms : SKIFF_DEFAULT_TOKEN_TTL_MS;
		Skiff__TokenResponse *resp = xmalloc(sizeof(*resp));
		skiff__token_response__init(resp);
		int r = put_token(d, token, ttl < 0 ? 0 : now_ms(d) + ttl, req->uses,
				  req->description, &resp->object);
		if (r < 0) {
			free(resp);
			skiff_rpc_call_error(call, r, "store: %s", strerror(-r));
			return;
		}
		resp->token = TAKE_PTR(token);
		log_info("join token %s created (uses %d, ttl %" PRId64 " ms)", id, req->uses, ttl);
		daemon_defer_reply(d, call, &resp->base);
		return;
	}
	if (streq(req->action, "delete")) {
		Skiff__JoinToken *t = brain_copy(d->brain, SKIFF_KIND_TOKEN, req->id);
		if (!t) {
			skiff_rpc_call_error(call, -ENOENT,
					     "join token '%s' not found (see skiffctl token list)",
					     req->id);
			return;
		}
		int r = brain_delete(d->brain, SKIFF_KIND_TOKEN, req->id);
		if (r < 0) {
			skiff_obj_free(&t->base);
			skiff_rpc_call_error(call, r, "store: %s", strerror(-r));
			return;
		}
		char digest[65], secret[33];
		if (d->token && skiff_token_parse(d->token, digest, secret) == 0 &&
		    strncmp(secret, req->id, TOKEN_ID_LEN) == 0) {
			/* the default token goes with its file (not made again) */
			_cleanup_free_ char *path = xasprintf("%s/join-token", d->data_dir);
			unlink(path);
			free(d->token);
			d->token = NULL;
		}
		Skiff__TokenResponse *resp = xmalloc(sizeof(*resp));
		skiff__token_response__init(resp);
		resp->object = t;
		log_info("join token %s deleted", req->id);
		daemon_defer_reply(d, call, &resp->base);
		return;
	}
	skiff_rpc_call_error(call, -EINVAL, "action: must be create or delete, got '%s'",
			     req->action);
}

/* ---- JOIN ------------------------------------------------------------------ */

static void join_reply(struct daemon *d, struct skiff_rpc_call *call, char *pem)
{
	Skiff__JoinResponse *resp = xmalloc(sizeof(*resp));
	skiff__join_response__init(resp);
	resp->cert_pem.data = (uint8_t *)pem;
	resp->cert_pem.len = strlen(pem);
	resp->ca_pem.data = (uint8_t *)xstrdup(skiff_ca_cert_pem(d->ca));
	resp->ca_pem.len = strlen(skiff_ca_cert_pem(d->ca));
	daemon_defer_reply(d, call, &resp->base);
}

/* Record (or replace) the pending request of a JOIN for a taken name. */
static void request_pending(struct daemon *d, const char *node, const char *key, const char *addr,
			    const char *token_id, const char *reason)
{
	Skiff__CertificateRequest q = SKIFF__CERTIFICATE_REQUEST__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	m.name = (char *)node;
	m.created_ms = now_ms(d);
	q.metadata = &m;
	q.key_sha256 = (char *)key;
	q.requester = (char *)addr;
	q.token_id = (char *)token_id;
	q.condition = (char *)"Pending";
	q.reason = (char *)reason;
	q.requested_ms = now_ms(d);
	(void)brain_put(d->brain, SKIFF_KIND_CSR, &q.base);
}

void certs_join(struct daemon *d, struct skiff_rpc_call *call, const Skiff__JoinRequest *j)
{
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	char id[TOKEN_ID_LEN + 1], key[65];
	_cleanup_free_ char *err = NULL;
	if (check_token(d, j->token, id, &err) < 0) {
		/* joinlimit.c logs failed joins once a minute */
		log_debug("join from %s (node '%s') refused: %s", peer->addr, j->node_name, err);
		skiff_rpc_call_error(call, -EACCES, "%s", err);
		return;
	}
	if (!skiff_name_valid(j->node_name, 63)) {
		skiff_rpc_call_error(call, -EINVAL,
				     "node_name: '%s' is not a valid node name (lower-case "
				     "letters, digits and '-', at most 63)",
				     j->node_name);
		return;
	}
	_cleanup_free_ char *csr = xstrndup((const char *)j->csr_pem.data, j->csr_pem.len);
	if (skiff_pki_csr_key_digest(csr, key) < 0) {
		skiff_rpc_call_error(call, -EINVAL, "csr_pem: not a valid certificate request");
		return;
	}
	const char *name = j->node_name;
	struct cert_scan c = {
		.subject = name, .role = SKIFF_ROLE_NODE, .now = now_ms(d), .key = key
	};
	skiff_store_foreach(d->brain->store, SKIFF_KIND_CERTIFICATE, scan_one, &c);
	scan_free(&c);
	if (c.revoked[0]) {
		log_warn("join from %s as node '%s' refused: its key's certificate %s was revoked",
			 peer->addr, name, c.revoked);
		skiff_rpc_call_error(call, -EACCES,
				     "node '%s': the certificate of this key (%s) was revoked; "
				     "join with a new key (an empty state dir)",
				     name, c.revoked);
		return;
	}
	bool node_exists = brain_get(d->brain, SKIFF_KIND_NODE, name) != NULL;
	const char *how = "join";
	bool approved = false;
	if (c.key_valid) {
		how = "join with the node's key";
	} else if (node_exists || c.taken) {
		const Skiff__CertificateRequest *q = brain_get(d->brain, SKIFF_KIND_CSR, name);
		bool same = q && streq(q->key_sha256, key);
		if (same && streq(q->condition, "Approved")) {
			how = "approved join";
			approved = true;
		} else if (same && streq(q->condition, "Denied")) {
			log_warn("join from %s as node '%s' refused: denied by %s", peer->addr,
				 name, q->decided_by);
			skiff_rpc_call_error(call, -EACCES,
					     "node '%s': this join request was denied by %s", name,
					     q->decided_by);
			return;
		} else {
			const char *why = node_exists ? "the node already exists"
						      : "a certificate was issued for that name";
			if (!same || !streq(q->condition, "Pending")) {
				request_pending(d, name, key, peer->addr, id, why);
				log_warn("join from %s as node '%s' waits for approval: %s",
					 peer->addr, name, why);
				daemon_kick(d);
			}
			skiff_rpc_call_error(
			    call, -EACCES,
			    "node '%s' refused: %s; the request (key sha256 %.16s) waits for an "
			    "admin: skiffctl certificate approve %s (or deny)",
			    name, why, key, name);
			return;
		}
	}
	_cleanup_free_ char *pem = NULL;
	struct skiff_cert_info info;
	int r = issue(d, csr, name, SKIFF_ROLE_NODE, how, &pem, &info);
	if (r < 0) {
		skiff_rpc_call_error(call, -EINVAL, "csr_pem: cannot sign it: %s", strerror(-r));
		return;
	}
	(void)token_used(d, id);
	if (approved) {
		/* the new key replaces the node's identity: the old one is out */
		revoke_subject(d, name, SKIFF_ROLE_NODE, info.serial,
			       "replaced by an approved join", NULL);
		(void)brain_delete(d->brain, SKIFF_KIND_CSR, name);
	} else if (brain_get(d->brain, SKIFF_KIND_CSR, name))
		(void)brain_delete(d->brain, SKIFF_KIND_CSR, name);
	log_info("node %s joined from %s (%s, token %s, certificate %s)", name, peer->addr, how, id,
		 info.serial);
	join_reply(d, call, TAKE_PTR(pem));
}

/* ---- approve, deny, revoke ------------------------------------------------ */

static bool all_hex(const char *s)
{
	return *s && strspn(s, "0123456789abcdefABCDEF") == strlen(s);
}

void certs_action(struct daemon *d, struct skiff_rpc_call *call,
		  const Skiff__CertificateAction *req)
{
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	Skiff__CertificateActionResponse *resp = xmalloc(sizeof(*resp));
	skiff__certificate_action_response__init(resp);
	if (streq(req->action, "approve") || streq(req->action, "deny")) {
		Skiff__CertificateRequest *q = brain_copy(d->brain, SKIFF_KIND_CSR, req->name);
		if (!q) {
			free(resp);
			skiff_rpc_call_error(call, -ENOENT,
					     "no join request for node '%s' (see skiffctl "
					     "certificate list)",
					     req->name);
			return;
		}
		bool approve = streq(req->action, "approve");
		skiff_set_str(&q->condition, approve ? "Approved" : "Denied");
		q->decided_ms = now_ms(d);
		skiff_set_str(&q->decided_by, *peer->name ? peer->name : "admin");
		int r = brain_put(d->brain, SKIFF_KIND_CSR, &q->base);
		if (r < 0) {
			skiff_obj_free(&q->base);
			free(resp);
			skiff_rpc_call_error(call, r, "store: %s", strerror(-r));
			return;
		}
		log_info("join request of node %s %s by %s", req->name,
			 approve ? "approved" : "denied", q->decided_by);
		resp->request = q;
		daemon_defer_reply(d, call, &resp->base);
		return;
	}
	if (streq(req->action, "revoke")) {
		const char *reason = *req->reason ? req->reason : "revoked by an admin";
		_cleanup_free_ char *serial = xstrdup(req->name);
		for (char *p = serial; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
		while (serial[0] == '0' && serial[1])
			memmove(serial, serial + 1, strlen(serial));
		if (brain_get(d->brain, SKIFF_KIND_CERTIFICATE, serial))
			(void)revoke_serial(d, serial, reason, resp);
		else
			revoke_subject(d, req->name, NULL, NULL, reason, resp);
		if (!resp->n_revoked && all_hex(serial) && strlen(serial) >= 8)
			(void)revoke_serial(d, serial, reason, resp); /* issued before records */
		if (!resp->n_revoked) {
			free(resp);
			skiff_rpc_call_error(call, -ENOENT,
					     "no valid certificate with serial or subject '%s' "
					     "(see skiffctl certificate list --issued)",
					     req->name);
			return;
		}
		daemon_defer_reply(d, call, &resp->base);
		return;
	}
	free(resp);
	skiff_rpc_call_error(call, -EINVAL, "action: must be approve, deny or revoke, got '%s'",
			     req->action);
}

/* ---- more configs, renewal ------------------------------------------------ */

void certs_new_config(struct daemon *d, struct skiff_rpc_call *call,
		      const Skiff__NewConfigRequest *req)
{
	const char *role = *req->role ? req->role : SKIFF_ROLE_ADMIN;
	if (!streq(role, SKIFF_ROLE_ADMIN) && !streq(role, SKIFF_ROLE_VIEW)) {
		skiff_rpc_call_error(call, -EINVAL, "role: must be admin or view, got '%s'", role);
		return;
	}
	if (!skiff_name_valid(req->name, 63)) {
		skiff_rpc_call_error(call, -EINVAL,
				     "name: '%s' is not a valid name (lower-case letters, digits "
				     "and '-', at most 63)",
				     req->name);
		return;
	}
	_cleanup_free_ char *csr = xstrndup((const char *)req->csr_pem.data, req->csr_pem.len);
	_cleanup_free_ char *pem = NULL, *why = NULL;
	struct skiff_cert_info info;
	why = xasprintf("new config by %s", skiff_rpc_call_peer(call)->name);
	int r = issue(d, csr, req->name, role, why, &pem, &info);
	if (r < 0) {
		skiff_rpc_call_error(call, -EINVAL, "csr_pem: not a valid certificate request");
		return;
	}
	log_info("issued a %s config for '%s' (certificate %s)", role, req->name, info.serial);
	daemon_defer_reply(d, call, &issued_reply(d, TAKE_PTR(pem), &info)->base);
}

void certs_renew(struct daemon *d, struct skiff_rpc_call *call, const Skiff__RenewRequest *req)
{
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	_cleanup_free_ char *csr = xstrndup((const char *)req->csr_pem.data, req->csr_pem.len);
	_cleanup_free_ char *pem = NULL, *why = xasprintf("renewal of %s", peer->serial);
	struct skiff_cert_info info;
	int r = issue(d, csr, peer->name, peer->role, why, &pem, &info);
	if (r < 0) {
		skiff_rpc_call_error(call, -EINVAL, "csr_pem: not a valid certificate request");
		return;
	}
	log_info("renewed the certificate of %s '%s': %s replaces %s", peer->role, peer->name,
		 info.serial, peer->serial);
	daemon_defer_reply(d, call, &issued_reply(d, TAKE_PTR(pem), &info)->base);
}

/* ---- start and clean-up ---------------------------------------------------- */

int certs_init(struct daemon *d)
{
	if (d->token) {
		char digest[65], secret[33], id[TOKEN_ID_LEN + 1];
		if (skiff_token_parse(d->token, digest, secret) < 0) {
			log_error("%s/join-token is not a Skiff join token; remove it to make "
				  "a new one",
				  d->data_dir);
			return -EINVAL;
		}
		memcpy(id, secret, TOKEN_ID_LEN);
		id[TOKEN_ID_LEN] = '\0';
		if (!brain_get(d->brain, SKIFF_KIND_TOKEN, id)) {
			int r = put_token(d, d->token, 0, 0, "default (DATA_DIR/join-token)", NULL);
			if (r < 0)
				return log_error_errno(r, "cannot record the join token: %m");
		}
	}
	_cleanup_free_ char *path = xasprintf("%s/admin.conf", d->data_dir);
	struct skiff_client_config cfg = { 0 };
	struct skiff_cert_info info;
	if (skiff_client_config_read(path, &cfg, NULL) == 0 && cfg.cert_pem &&
	    skiff_pki_cert_info(cfg.cert_pem, &info) == 0 &&
	    !brain_get(d->brain, SKIFF_KIND_CERTIFICATE, info.serial))
		(void)record_cert(d, cfg.cert_pem, "init (admin.conf)", NULL);
	skiff_client_config_clear(&cfg);
	return 0;
}

struct gc_scan {
	int64_t now;
	char **names;
	size_t n;
};

static int gc_one(const struct skiff_store_obj *o, void *userdata, bool old)
{
	struct gc_scan *g = userdata;
	if (old) {
		g->names = xrealloc(g->names, (g->n + 1) * sizeof(*g->names));
		g->names[g->n++] = xstrdup(o->name);
	}
	return 0;
}

static int gc_token(const struct skiff_store_obj *o, void *userdata)
{
	const Skiff__JoinToken *t = o->decoded;
	struct gc_scan *g = userdata;
	return gc_one(o, userdata, t && t->expires_ms && t->expires_ms + TOKEN_KEEP_MS < g->now);
}

static int gc_csr(const struct skiff_store_obj *o, void *userdata)
{
	const Skiff__CertificateRequest *q = o->decoded;
	struct gc_scan *g = userdata;
	bool old = q && (streq(q->condition, "Pending") ? q->requested_ms + CSR_PENDING_MS < g->now
							: q->decided_ms + CSR_DECIDED_MS < g->now);
	return gc_one(o, userdata, old);
}

void certs_tick(struct daemon *d)
{
	int64_t mono = skiff_mono_ms();
	if (mono - d->certs_tick_mono < CERTS_TICK_MS)
		return;
	d->certs_tick_mono = mono;
	struct gc_scan g = { .now = now_ms(d) };
	skiff_store_foreach(d->brain->store, SKIFF_KIND_TOKEN, gc_token, &g);
	for (size_t i = 0; i < g.n; i++) {
		(void)brain_delete(d->brain, SKIFF_KIND_TOKEN, g.names[i]);
		free(g.names[i]);
	}
	g.n = 0;
	skiff_store_foreach(d->brain->store, SKIFF_KIND_CSR, gc_csr, &g);
	for (size_t i = 0; i < g.n; i++) {
		(void)brain_delete(d->brain, SKIFF_KIND_CSR, g.names[i]);
		free(g.names[i]);
	}
	free(g.names);
	struct cert_scan c = { .expire_before = g.now - CERT_KEEP_MS };
	skiff_store_foreach(d->brain->store, SKIFF_KIND_CERTIFICATE, scan_one, &c);
	for (size_t i = 0; i < c.n; i++)
		(void)brain_delete(d->brain, SKIFF_KIND_CERTIFICATE, c.names[i]);
	scan_free(&c);
}
