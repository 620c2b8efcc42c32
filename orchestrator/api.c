/* api.c — the brain's RPC handlers: GET/LIST/APPLY/DELETE/WATCH/SCALE/
 * NODE_ACTION/ROLLOUT/LOGS/CLUSTER_INFO for skiffctl (role admin; role view
 * only reads) and JOIN/REGISTER/HEARTBEAT/POD_STATUS/EVENT_REPORT for agents
 * (role node, only about their own node; JOIN needs no certificate, only the
 * token). Who may send what is authz.c's table; tokens, certificates and
 * JOIN are certs.c's.
 * Replies of requests that changed state are deferred until the store has
 * synced them (group commit, see daemon.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "selector.h"
#include "util.h"

static void *unpack_req(const ProtobufCMessageDescriptor *desc, const Skiff__Frame *req)
{
	return protobuf_c_message_unpack(desc, NULL, req->payload.len, req->payload.data);
}

#define UNPACK(type, lower, var)                                                                   \
	type *var = unpack_req(&lower##__descriptor, req);                                         \
	if (!var) {                                                                                \
		skiff_rpc_call_error(call, -EBADMSG, "malformed " #type " payload");               \
		return;                                                                            \
	}

/* A node object as the API shows it: with the heartbeat time kept in memory. */
static ProtobufCMessage *node_view(struct daemon *d, const ProtobufCMessage *obj)
{
	Skiff__Node *n = (Skiff__Node *)skiff_obj_copy(SKIFF_KIND_NODE, obj);
	struct brain_node *rt = skiff_map_get(d->brain->nodes, n->metadata->name);
	if (rt && rt->last_heartbeat_ms) {
		Skiff__NodeStatus *st = skiff_node_status_ensure(n);
		st->last_heartbeat_ms = rt->last_heartbeat_ms;
		for (size_t i = 0; i < st->n_conditions; i++)
			st->conditions[i]->last_heartbeat_ms = rt->last_heartbeat_ms;
	}
	return &n->base;
}

static int parse_kind(struct skiff_rpc_call *call, const char *kind)
{
	int k = skiff_kind_parse(kind);
	if (k < 0)
		skiff_rpc_call_error(
		    call, -EINVAL,
		    "kind: '%s' is not one of node, pod, deployment, daemonset, job, "
		    "cronjob, service, event",
		    kind ? kind : "");
	return k;
}

/* Tokens, join requests and certificate records are for admins only. */
static bool pki_kind_denied(struct skiff_rpc_call *call, int kind)
{
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	if (!skiff_kind_is_pki(kind) || daemon_peer_role(peer) == AUTHZ_ADMIN)
		return false;
	skiff_rpc_call_error(call, -EACCES,
			     "permission denied: %s objects need role admin (you "
			     "are %s '%s')",
			     skiff_kind_name(kind), peer->role, peer->name);
	return true;
}

static void handle_get(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req,
		       bool node_role, const char *peer)
{
	UNPACK(Skiff__GetRequest, skiff__get_request, g);
	int kind = parse_kind(call, g->kind);
	if (kind >= 0 && pki_kind_denied(call, kind))
		kind = -1;
	if (kind >= 0) {
		_cleanup_free_ char *key = brain_key(kind, g->namespace_, g->name);
		const ProtobufCMessage *obj = brain_get(d->brain, kind, key);
		if (obj && node_role &&
		    (kind != SKIFF_KIND_POD ||
		     !streq(skiff_pod_node((const Skiff__Pod *)obj), peer)))
			skiff_rpc_call_error(
			    call, -EACCES, "permission denied: node %s may only read its own pods",
			    peer);
		else if (!obj)
			skiff_rpc_call_error(call, -ENOENT, "%s '%s' not found", g->kind, g->name);
		else {
			Skiff__Object o;
			_cleanup_(skiff_obj_freep) ProtobufCMessage *copy =
			    kind == SKIFF_KIND_NODE ? node_view(d, obj) : skiff_obj_copy(kind, obj);
			skiff_obj_wrap(&o, kind, copy);
			skiff_rpc_call_reply(call, &o.base);
		}
	}
	protobuf_c_message_free_unpacked(&g->base, NULL);
}

struct list_item {
	const char *name;
	const uint8_t *data; /* packed (pods: unpacked only when they go out) */
	size_t len;
	const ProtobufCMessage *obj; /* NULL until unpacked */
	ProtobufCMessage *owned;     /* decoded here, freed after the reply */
};

struct list_ctx {
	struct daemon *d;
	int kind;
	const Skiff__ListRequest *req;
	const struct skiff_selector *sel; /* req->selector */
	const char *after;		  /* paging: only keys after this one */
	const char *ns_prefix;		  /* "NS/": one namespace's objects only */
	struct list_item *items;
	size_t n, cap;
};

static int list_one(const struct skiff_store_obj *o, void *userdata)
{
	struct list_ctx *c = userdata;
	if (c->after && strcmp(o->name, c->after) <= 0)
		return 0;
	if (c->ns_prefix && strncmp(o->name, c->ns_prefix, strlen(c->ns_prefix)) != 0)
		return 0;
	ProtobufCMessage *owned = NULL;
	const ProtobufCMessage *obj = NULL;
	if (c->kind == SKIFF_KIND_POD) {
		/* pods are stored packed: filter on the summary, unpack only
		 * an old version (a paged list's history) */
		const struct brain_pod *sum = o->decoded;
		if (sum && *c->req->node_name && !streq(sum->node, c->req->node_name))
			return 0;
		if (sum && c->req->n_label_selector &&
		    !brain_pod_labels_match(sum, c->req->label_selector, c->req->n_label_selector))
			return 0;
		if (sum && !skiff_selector_matches_fn(c->sel, brain_pod_label, (void *)sum))
			return 0;
		if (!sum && o->data) {
			obj = owned = skiff_obj_unpack(c->kind, o->data, o->len);
			if (!obj)
				return 0;
		}
	} else {
		obj = o->decoded;
		if (!obj && o->data)
			obj = owned = skiff_obj_unpack(c->kind, o->data, o->len);
		if (!obj)
			return 0;
	}
	bool keep = true;
	const Skiff__ObjectMeta *m = obj ? SKIFF_META(obj) : NULL;
	if (obj && c->req->n_label_selector &&
	    (!m || !skiff_selector_match(c->req->label_selector, c->req->n_label_selector,
					 m->labels, m->n_labels)))
		keep = false;
	if (keep && obj && c->sel->n &&
	    (!m || !skiff_selector_matches(c->sel, m->labels, m->n_labels)))
		keep = false;
	if (keep && obj && *c->req->node_name && c->kind == SKIFF_KIND_POD &&
	    !streq(skiff_pod_node((const Skiff__Pod *)obj), c->req->node_name))
		keep = false;
	if (keep && *c->req->object_name && c->kind == SKIFF_KIND_EVENT &&
	    !streq(((const Skiff__Event *)obj)->object_name, c->req->object_name))
		keep = false;
	if (!keep) {
		skiff_obj_free(owned);
		return 0;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->items = xrealloc(c->items, c->cap * sizeof(*c->items));
	}
	c->items[c->n++] = (struct list_item){ o->name, o->data, o->len, obj, owned };
	return 0;
}

static int cmp_by_name(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static size_t item_size(const struct list_item *it)
{
	return (it->obj ? protobuf_c_message_get_packed_size(it->obj) : it->len) + 16;
}

static int cmp_event_time(const void *a, const void *b)
{
	const Skiff__Event *x = (const Skiff__Event *)((const struct list_item *)a)->obj;
	const Skiff__Event *y = (const Skiff__Event *)((const struct list_item *)b)->obj;
	if (x->last_ms != y->last_ms)
		return x->last_ms < y->last_ms ? -1 : 1;
	return strcmp(x->metadata->name, y->metadata->name);
}

/* Continue token: "<revision>.<hex of the last name>" (opaque to clients). */
static char *continue_token(uint64_t revision, const char *last)
{
	size_t n = strlen(last);
	_cleanup_free_ char *hex = xmalloc(2 * n + 1);
	skiff_hex(last, n, hex);
	return xasprintf("%" PRIu64 ".%s", revision, hex);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -EINVAL;
}

static int parse_continue(const char *tok, uint64_t *ret_rev, char **ret_last)
{
	char *end = NULL;
	errno = 0;
	unsigned long long rev = strtoull(tok, &end, 10);
	if (errno || end == tok || *end != '.')
		return -EINVAL;
	const char *h = end + 1;
	size_t n = strlen(h);
	if (n == 0 || n % 2 || n / 2 > 317) /* a key: "NAMESPACE/NAME" */
		return -EINVAL;
	char *last = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(last);
			return -EINVAL;
		}
		last[i] = (char)(hi << 4 | lo);
	}
	last[n / 2] = 0;
	*ret_rev = rev;
	*ret_last = last;
	return 0;
}

/* A LIST reply never exceeds this (frame header, the reply's own fields and
 * the per-item wrappers have room left in SKIFF_RPC_MAX_FRAME). */
#define LIST_PAGE_BYTES (SKIFF_RPC_MAX_FRAME - (64u << 10))
/* How long a paged list may pause between pages (Kubernetes: 5 min). */
#define LIST_CONTINUE_MS (60 * 1000)

static void handle_list(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req,
			bool node_role, const char *peer)
{
	UNPACK(Skiff__ListRequest, skiff__list_request, l);
	_cleanup_free_ char *after = NULL;
	struct skiff_store *st = d->brain->store;
	do {
		int kind = parse_kind(call, l->kind);
		if (kind < 0 || pki_kind_denied(call, kind))
			break;
		if (node_role && (kind != SKIFF_KIND_POD || !streq(l->node_name, peer))) {
			skiff_rpc_call_error(
			    call, -EACCES,
			    "permission denied: node %s may only list the pods bound to it "
			    "(node_name=%s)",
			    peer, peer);
			break;
		}
		uint64_t rev = skiff_store_revision(st);
		if (*l->continue_) {
			if (parse_continue(l->continue_, &rev, &after) < 0 ||
			    rev > skiff_store_revision(st)) {
				skiff_rpc_call_error(call, -EINVAL,
						     "LIST %s: invalid continue token", l->kind);
				break;
			}
		}
		_cleanup_(skiff_selector_clear) struct skiff_selector sel = { 0 };
		_cleanup_free_ char *sel_err = NULL;
		if (skiff_selector_parse(l->selector, &sel, &sel_err) < 0) {
			skiff_rpc_call_error(call, -EINVAL, "LIST %s: selector: %s", l->kind,
					     sel_err);
			break;
		}
		_cleanup_free_ char *ns_prefix = skiff_kind_is_namespaced(kind) && *l->namespace_
						     ? xasprintf("%s/", l->namespace_)
						     : NULL;
		struct list_ctx c = { .d = d,
				      .kind = kind,
				      .req = l,
				      .sel = &sel,
				      .after = after,
				      .ns_prefix = ns_prefix };
		int r = skiff_store_foreach_at(st, kind, rev, list_one, &c);
		if (r == -ESTALE) {
			skiff_rpc_call_error(
			    call, -ESTALE,
			    "LIST %s: the continue token expired (revision %" PRIu64
			    " is no longer kept); list again from the start",
			    l->kind, rev);
			free(c.items);
			break;
		}
		/* size of each item as it goes into the reply */
		ProtobufCMessage **views = xcalloc(c.n + 1, sizeof(*views));
		size_t total = 0;
		for (size_t i = 0; i < c.n; i++) {
			if (kind == SKIFF_KIND_NODE) {
				c.items[i].obj = views[i] =
				    node_view(d, (ProtobufCMessage *)c.items[i].obj);
			}
			/* only whether it all fits matters (cheap on big lists) */
			if (total <= LIST_PAGE_BYTES)
				total += item_size(&c.items[i]);
		}
		bool paged = l->limit || after || total > LIST_PAGE_BYTES;
		if (c.n)
			qsort(c.items, c.n, sizeof(*c.items),
			      kind == SKIFF_KIND_EVENT && !paged ? cmp_event_time : cmp_by_name);
		size_t take = 0, bytes = 0;
		while (take < c.n && (!l->limit || take < l->limit)) {
			size_t sz = item_size(&c.items[take]);
			if (take > 0 && bytes + sz > LIST_PAGE_BYTES)
				break;
			bytes += sz;
			take++;
		}
		Skiff__ListResponse resp = SKIFF__LIST_RESPONSE__INIT;
		Skiff__Object *objs = xcalloc(take + 1, sizeof(*objs));
		Skiff__Object **ptrs = xcalloc(take + 1, sizeof(*ptrs));
		size_t nobjs = 0;
		for (size_t i = 0; i < take; i++) {
			struct list_item *it = &c.items[i];
			if (!it->obj)
				it->obj = it->owned = skiff_obj_unpack(kind, it->data, it->len);
			if (!it->obj)
				continue; /* the store holds only bytes it could decode */
			skiff_obj_wrap(&objs[nobjs], kind, (ProtobufCMessage *)it->obj);
			ptrs[nobjs] = &objs[nobjs];
			nobjs++;
		}
		resp.items = ptrs;
		resp.n_items = nobjs;
		resp.revision = rev;
		_cleanup_free_ char *tok = NULL;
		if (take < c.n) {
			tok = continue_token(rev, c.items[take - 1].name);
			resp.continue_ = tok;
			resp.remaining = c.n - take;
			skiff_store_history_keep(st, skiff_mono_ms() + LIST_CONTINUE_MS);
		}
		r = skiff_rpc_call_reply(call, &resp.base);
		if (r == -EMSGSIZE)
			log_warn("LIST %s: a page of %zu objects exceeds the frame cap", l->kind,
				 take);
		for (size_t i = 0; i < c.n; i++) {
			skiff_obj_free(views[i]);
			skiff_obj_free(c.items[i].owned);
		}
		free(views);
		free(objs);
		free(ptrs);
		free(c.items);
	} while (0);
	protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void handle_apply(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	UNPACK(Skiff__ApplyRequest, skiff__apply_request, a);
	do {
		int kind;
		ProtobufCMessage *msg;
		if (!a->object || skiff_obj_from_wrapper(a->object, &kind, &msg) < 0) {
			skiff_rpc_call_error(
			    call, -EINVAL,
			    "object: exactly one of node, pod, deployment, service is "
			    "required");
			break;
		}
		const char *result = NULL;
		ProtobufCMessage *obj = NULL;
		_cleanup_free_ char *err = NULL;
		int r = brain_apply(d->brain, kind, msg, a->create_only, a->dry_run, &result, &obj,
				    &err);
		if (r < 0) {
			skiff_rpc_call_error(call, r, "%s", err ? err : strerror(-r));
			break;
		}
		Skiff__ApplyResponse *resp = xmalloc(sizeof(*resp));
		skiff__apply_response__init(resp);
		resp->object = xmalloc(sizeof(*resp->object));
		skiff_obj_wrap(resp->object, kind, obj);
		resp->result = xstrdup(result);
		daemon_defer_reply(d, call, &resp->base);
		log_info("apply %s/%s: %s%s", skiff_kind_name(kind), SKIFF_META(obj)->name, result,
			 a->dry_run ? " (dry run)" : "");
	} while (0);
	protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void handle_delete(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	UNPACK(Skiff__DeleteRequest, skiff__delete_request, dr);
	int kind = parse_kind(call, dr->kind);
	if (kind >= SKIFF_KIND_TOKEN && kind <= SKIFF_KIND_IMAGE) {
		skiff_rpc_call_error(
		    call, -EINVAL,
		    kind == SKIFF_KIND_IMAGE
			? "kind: %s objects are removed with skiffctl image rm"
			: "kind: %s objects are removed with skiffctl token delete "
			  "or skiffctl certificate revoke, not delete",
		    dr->kind);
		kind = -1;
	}
	if (kind >= 0) {
		ProtobufCMessage *obj = NULL;
		_cleanup_free_ char *err = NULL;
		_cleanup_free_ char *key = brain_key(kind, dr->namespace_, dr->name);
		int r = brain_remove(d->brain, kind, key, &obj, &err);
		if (r < 0)
			skiff_rpc_call_error(call, r, "%s", err);
		else {
			Skiff__Object *o = xmalloc(sizeof(*o));
			skiff_obj_wrap(o, kind, obj);
			if (kind == SKIFF_KIND_NODE) {
				certs_node_deleted(d, dr->name);
				images_node_deleted(d, dr->name);
			}
			daemon_defer_reply(d, call, &o->base);
			log_info("delete %s/%s", dr->kind, key);
		}
	}
	protobuf_c_message_free_unpacked(&dr->base, NULL);
}

static void handle_scale(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	UNPACK(Skiff__ScaleRequest, skiff__scale_request, s);
	Skiff__Deployment *dep = NULL;
	_cleanup_free_ char *err = NULL;
	_cleanup_free_ char *key = brain_key(SKIFF_KIND_DEPLOYMENT, s->namespace_, s->name);
	int r = brain_scale(d->brain, key, s->replicas, &dep, &err);
	if (r < 0)
		skiff_rpc_call_error(call, r, "%s", err);
	else {
		Skiff__Object *o = xmalloc(sizeof(*o));
		skiff_obj_wrap(o, SKIFF_KIND_DEPLOYMENT, &dep->base);
		daemon_defer_reply(d, call, &o->base);
		log_info("scale deployment/%s to %d", key, s->replicas);
	}
	protobuf_c_message_free_unpacked(&s->base, NULL);
}

static void handle_node_action(struct daemon *d, struct skiff_rpc_call *call,
			       const Skiff__Frame *req)
{
	UNPACK(Skiff__NodeActionRequest, skiff__node_action_request, na);
	Skiff__Node *n = NULL;
	char **evicted = NULL;
	size_t nev = 0;
	_cleanup_free_ char *err = NULL;
	int r = brain_node_action(d->brain, na->name, na->action, &n, &evicted, &nev, &err);
	if (r < 0)
		skiff_rpc_call_error(call, r, "%s", err);
	else {
		Skiff__NodeActionResponse *resp = xmalloc(sizeof(*resp));
		skiff__node_action_response__init(resp);
		resp->node = n;
		resp->evicted = evicted;
		resp->n_evicted = nev;
		daemon_defer_reply(d, call, &resp->base);
		log_info("%s node/%s (%zu pods evicted)", na->action, na->name, nev);
	}
	protobuf_c_message_free_unpacked(&na->base, NULL);
}

static void handle_rollout(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	UNPACK(Skiff__RolloutRequest, skiff__rollout_request, ro);
	do {
		if (!streq(ro->action, "undo")) {
			skiff_rpc_call_error(call, -EINVAL, "action: must be undo, got '%s'",
					     ro->action);
			break;
		}
		Skiff__Deployment *dep = NULL;
		_cleanup_free_ char *err = NULL, *msg = NULL;
		_cleanup_free_ char *key =
		    brain_key(SKIFF_KIND_DEPLOYMENT, ro->namespace_, ro->name);
		int r = brain_rollout_undo(d->brain, key, ro->to_revision, &dep, &msg, &err);
		if (r < 0) {
			skiff_rpc_call_error(call, r, "%s", err);
			break;
		}
		Skiff__RolloutResponse *resp = xmalloc(sizeof(*resp));
		skiff__rollout_response__init(resp);
		resp->deployment = dep;
		resp->message = TAKE_PTR(msg);
		daemon_defer_reply(d, call, &resp->base);
	} while (0);
	protobuf_c_message_free_unpacked(&ro->base, NULL);
}

static void handle_cluster_info(struct daemon *d, struct skiff_rpc_call *call)
{
	Skiff__ClusterInfo ci = SKIFF__CLUSTER_INFO__INIT;
	ci.version = (char *)SKIFF_VERSION;
	ci.revision = skiff_store_revision(d->brain->store);
	ci.nodes = (int32_t)skiff_store_count(d->brain->store, SKIFF_KIND_NODE);
	ci.pods = (int32_t)skiff_store_count(d->brain->store, SKIFF_KIND_POD);
	ci.cluster_cidr = d->brain->cfg.cluster_cidr;
	ci.started_ms = d->brain->started_ms;
	skiff_rpc_call_reply(call, &ci.base);
}

static void handle_join(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	/* failures slow the next attempts from the address down, and are
	 * logged there once a minute with a count (joinlimit.c) */
	if (joinlimit_gate(d->joinlimit, call, req))
		return;
	UNPACK(Skiff__JoinRequest, skiff__join_request, j);
	certs_join(d, call, j);
	protobuf_c_message_free_unpacked(&j->base, NULL);
}

/* The node name an agent's request is about must be its own. */
static bool own_node(struct skiff_rpc_call *call, const char *peer, const char *node)
{
	if (streq_ptr(peer, node))
		return true;
	skiff_rpc_call_error(call, -EACCES,
			     "permission denied: node %s may only report for itself, not '%s'",
			     peer, node ? node : "");
	return false;
}

struct agent_session {
	char *node;
};

static void handle_register(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req,
			    const char *peer)
{
	UNPACK(Skiff__RegisterRequest, skiff__register_request, rr);
	do {
		if (!rr->node || !rr->node->metadata) {
			skiff_rpc_call_error(call, -EINVAL, "node.metadata.name: required");
			break;
		}
		if (!own_node(call, peer, rr->node->metadata->name))
			break;
		struct skiff_rpc_conn *conn = skiff_rpc_call_conn(call);
		Skiff__RegisterResponse *resp = xmalloc(sizeof(*resp));
		_cleanup_free_ char *err = NULL;
		int r = brain_node_register(d->brain, rr, conn, resp, &err);
		if (r < 0) {
			free(resp);
			skiff_rpc_call_error(call, r, "%s", err);
			break;
		}
		struct agent_session *s = skiff_rpc_conn_get_userdata(conn);
		if (!s) {
			s = xcalloc(1, sizeof(*s));
			skiff_rpc_conn_set_userdata(conn, s);
		}
		skiff_set_str(&s->node, peer);
		/* the epoch must be durable before the agent uses it */
		daemon_defer_reply(d, call, &resp->base);
	} while (0);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
}

static void handle_heartbeat(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req,
			     const char *peer)
{
	UNPACK(Skiff__Heartbeat, skiff__heartbeat, hb);
	if (own_node(call, peer, hb->node)) {
		_cleanup_free_ char *err = NULL;
		int r = brain_node_heartbeat(d->brain, hb->node, hb->epoch, &err);
		if (r < 0)
			skiff_rpc_call_error(call, r, "%s", err);
		else {
			hb->time_ms = brain_now_ms(d->brain);
			skiff_rpc_call_reply(call, &hb->base);
		}
	}
	protobuf_c_message_free_unpacked(&hb->base, NULL);
}

static void handle_pod_status(struct daemon *d, struct skiff_rpc_call *call,
			      const Skiff__Frame *req, const char *peer)
{
	UNPACK(Skiff__PodStatusReport, skiff__pod_status_report, ps);
	if (own_node(call, peer, ps->node)) {
		_cleanup_free_ char *err = NULL;
		int r = brain_pod_status(d->brain, ps, &err);
		if (r < 0)
			skiff_rpc_call_error(call, r, "%s", err);
		else
			daemon_defer_reply(d, call, NULL);
	}
	protobuf_c_message_free_unpacked(&ps->base, NULL);
}

static void handle_event_report(struct daemon *d, struct skiff_rpc_call *call,
				const Skiff__Frame *req, const char *peer)
{
	UNPACK(Skiff__Event, skiff__event, ev);
	_cleanup_free_ char *err = NULL;
	if (*ev->source && !streq(ev->source, peer)) {
		own_node(call, peer, ev->source);
	} else {
		int r = brain_event_report(d->brain, peer, ev, &err);
		if (r < 0)
			skiff_rpc_call_error(call, r, "%s", err);
		else
			daemon_defer_reply(d, call, NULL);
	}
	protobuf_c_message_free_unpacked(&ev->base, NULL);
}

void daemon_handle(struct skiff_rpc_call *call, const Skiff__Frame *req, void *userdata)
{
	struct daemon *d = userdata;
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	unsigned role = daemon_peer_role(peer);
	int allowed = daemon_msg_roles(req->type);
	const char *name = skiff_rpc_msg_type_name(req->type);
	if (allowed < 0 || (allowed & AUTHZ_NOT_SERVED)) {
		skiff_rpc_call_error(call, -EOPNOTSUPP, "%s is not served by the brain",
				     name ? name : "this message type");
		return;
	}
	if (!(allowed & AUTHZ_ANYONE) && !(allowed & (int)role)) {
		if (allowed == AUTHZ_NODE)
			skiff_rpc_call_error(call, -EACCES,
					     "permission denied: %s is for agents (role node), not "
					     "role '%s'",
					     name, peer->role);
		else
			skiff_rpc_call_error(
			    call, -EACCES, "permission denied: %s needs role %s (you are %s '%s')",
			    name, (allowed & AUTHZ_VIEW) ? "admin or view" : "admin", peer->role,
			    peer->name);
		return;
	}
	if (role && certs_refuse_revoked(d, call))
		return;
	bool node = role == AUTHZ_NODE;
	if (req->type >= 40 && req->type < 60) { /* the image store */
		images_handle(d, call, req);
		return;
	}
	switch (req->type) {
	case SKIFF__MSG_TYPE__MSG_GET:
		handle_get(d, call, req, node, peer->name);
		return;
	case SKIFF__MSG_TYPE__MSG_LIST:
		handle_list(d, call, req, node, peer->name);
		return;
	case SKIFF__MSG_TYPE__MSG_APPLY:
		handle_apply(d, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_DELETE:
		handle_delete(d, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_WATCH: {
		UNPACK(Skiff__WatchRequest, skiff__watch_request, w);
		int kind = *w->kind ? skiff_kind_parse(w->kind) : -1;
		if (kind < 0 || !pki_kind_denied(call, kind))
			daemon_watch_start(d, call, w);
		protobuf_c_message_free_unpacked(&w->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_SCALE:
		handle_scale(d, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_NODE_ACTION:
		handle_node_action(d, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_ROLLOUT:
		handle_rollout(d, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_LOGS: {
		UNPACK(Skiff__LogsRequest, skiff__logs_request, lr);
		daemon_logs(d, call, lr);
		protobuf_c_message_free_unpacked(&lr->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_TOKEN: {
		UNPACK(Skiff__TokenRequest, skiff__token_request, tr);
		certs_token(d, call, tr);
		protobuf_c_message_free_unpacked(&tr->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_CERTIFICATE: {
		UNPACK(Skiff__CertificateAction, skiff__certificate_action, ca);
		certs_action(d, call, ca);
		protobuf_c_message_free_unpacked(&ca->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_NEW_CONFIG: {
		UNPACK(Skiff__NewConfigRequest, skiff__new_config_request, nc);
		certs_new_config(d, call, nc);
		protobuf_c_message_free_unpacked(&nc->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_RENEW: {
		UNPACK(Skiff__RenewRequest, skiff__renew_request, rn);
		certs_renew(d, call, rn);
		protobuf_c_message_free_unpacked(&rn->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_JOIN:
		handle_join(d, call, req);
		return;
	case SKIFF__MSG_TYPE__MSG_EXEC: {
		UNPACK(Skiff__ExecRequest, skiff__exec_request, er);
		daemon_exec(d, call, er);
		protobuf_c_message_free_unpacked(&er->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_EXEC_INPUT: {
		UNPACK(Skiff__ExecInput, skiff__exec_input, ei);
		daemon_exec_input(call, ei);
		protobuf_c_message_free_unpacked(&ei->base, NULL);
		return;
	}
	case SKIFF__MSG_TYPE__MSG_CLUSTER_INFO:
		handle_cluster_info(d, call);
		return;
	case SKIFF__MSG_TYPE__MSG_REGISTER:
		handle_register(d, call, req, peer->name);
		return;
	case SKIFF__MSG_TYPE__MSG_HEARTBEAT:
		handle_heartbeat(d, call, req, peer->name);
		return;
	case SKIFF__MSG_TYPE__MSG_POD_STATUS:
		handle_pod_status(d, call, req, peer->name);
		return;
	case SKIFF__MSG_TYPE__MSG_EVENT_REPORT:
		handle_event_report(d, call, req, peer->name);
		return;
	default:
		skiff_rpc_call_error(call, -EOPNOTSUPP, "%s is not served by the brain",
				     name ? name : "this message type");
		return;
	}
}

void daemon_conn_closed(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	struct daemon *d = userdata;
	(void)reason;
	struct agent_session *s = skiff_rpc_conn_get_userdata(conn);
	if (!s)
		return;
	brain_node_disconnected(d->brain, s->node, conn);
	free(s->node);
	free(s);
	skiff_rpc_conn_set_userdata(conn, NULL);
}
