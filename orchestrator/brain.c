/* brain.c — the brain's state and its object layer: open/close, clocks,
 * node sessions, the store's decode hooks, reads (brain_get/brain_copy),
 * writes that mark agents dirty (brain_put/brain_delete) and events. Every
 * other brain file builds on this one; this one calls none of them
 * but brain_namespaces_init() (namespaces.c: "default" exists from the start).
 *
 * Stored objects other than pods are kept unpacked, read-only, each in ONE
 * malloc()ed block (objcopy.c). Pods are kept packed plus a struct
 * brain_pod summary (podsummary.c), unpacked on demand. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "objcopy.h"
#include "util.h"

static void *decode_obj(int kind, const uint8_t *data, size_t len)
{
	ProtobufCMessage *m = objcopy_unpack_scratch(kind, data, len);
	if (!m)
		return NULL;
	if (kind == SKIFF_KIND_POD)
		return brain_pod_summary_new((const Skiff__Pod *)m);
	return objcopy_block(m);
}

static uint8_t *encode_obj(int kind, const void *obj, size_t *ret_len)
{
	assert(kind != SKIFF_KIND_POD); /* pods keep their bytes */
	return skiff_obj_pack(obj, ret_len);
}

static void free_obj(int kind, void *obj)
{
	if (kind == SKIFF_KIND_POD)
		brain_pod_summary_free(obj);
	else
		free(obj); /* one block, objcopy_block() */
}

static int64_t default_mono(void)
{
	return skiff_mono_ms();
}

static int64_t default_now(void)
{
	return skiff_now_ms();
}

int64_t brain_now_mono(struct brain *b)
{
	return b->clock_mono();
}

int64_t brain_now_ms(struct brain *b)
{
	return b->clock_ms();
}

void brain_meta_born(struct brain *b, Skiff__ObjectMeta *m)
{
	uint8_t r[16];
	char uid[33];
	if (skiff_random_bytes(r, sizeof(r)) < 0)
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (uint8_t)random();
	skiff_hex(r, sizeof(r), uid);
	skiff_set_str(&m->uid, uid);
	m->created_ms = brain_now_ms(b);
	m->generation = 1;
}

static int parse_cidr(const char *s, uint32_t *ret_base, int *ret_prefix)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *slash = strchr(copy, '/');
	struct in_addr a;
	int64_t prefix;
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (inet_pton(AF_INET, copy, &a) != 1 || skiff_parse_int64(slash + 1, &prefix) < 0 ||
	    prefix < 8 || prefix > 24)
		return -EINVAL;
	uint32_t base = ntohl(a.s_addr);
	base &= prefix == 0 ? 0 : ~0u << (32 - prefix);
	*ret_base = base;
	*ret_prefix = (int)prefix;
	return 0;
}

static int init_event_fifo(const struct skiff_store_obj *o, void *userdata)
{
	struct brain *b = userdata;
	if (b->event_count < SKIFF_MAX_EVENTS)
		b->event_fifo[(b->event_head + b->event_count++) % SKIFF_MAX_EVENTS] =
		    xstrdup(o->name);
	return 0;
}

static int init_node_rt(const struct skiff_store_obj *o, void *userdata)
{
	struct brain *b = userdata;
	struct brain_node *n = brain_node_rt(b, o->name);
	/* After a restart every agent gets the grace plus its reconnect backoff
	 * (at most 3 s) and a margin to come back (Kubernetes' startup grace):
	 * a brain that was down must not evict healthy nodes whose agents are
	 * still between two connection attempts. */
	n->deadline_mono = brain_now_mono(b) + b->cfg.node_grace_ms + SKIFF_NODE_STARTUP_EXTRA_MS;
	n->last_heartbeat_mono = brain_now_mono(b);
	return 0;
}

/* Pods that were terminating when the brain stopped get their grace again. */
static int init_terminating(const struct skiff_store_obj *o, void *userdata)
{
	struct brain *b = userdata;
	const struct brain_pod *p = o->decoded;
	if (p && p->terminating)
		free(skiff_map_put(b->terminating, o->name, xcalloc(1, sizeof(int64_t))));
	return 0;
}

int brain_open(const char *data_dir, const struct brain_config *cfg, struct brain **ret)
{
	struct brain *b = xcalloc(1, sizeof(*b));
	b->cfg = *cfg;
	if (b->cfg.node_grace_ms <= 0)
		b->cfg.node_grace_ms = SKIFF_DEFAULT_NODE_GRACE_MS;
	if (b->cfg.heartbeat_ms <= 0)
		b->cfg.heartbeat_ms = SKIFF_DEFAULT_HEARTBEAT_MS;
	b->cfg.cluster_cidr =
	    xstrdup(cfg->cluster_cidr ? cfg->cluster_cidr : SKIFF_DEFAULT_CLUSTER_CIDR);
	b->clock_mono = default_mono;
	b->clock_ms = default_now;
	b->nodes = skiff_map_new();
	b->terminating = skiff_map_new();
	b->event_fifo = xcalloc(SKIFF_MAX_EVENTS, sizeof(char *));
	b->resync = true;
	b->all_nodes_dirty = true;
	int r = parse_cidr(b->cfg.cluster_cidr, &b->cidr_base, &b->cidr_prefix);
	if (r < 0) {
		log_error("--cluster-cidr: '%s' is not an IPv4 CIDR with a prefix of /8 to /24",
			  b->cfg.cluster_cidr);
		brain_free(b);
		return -EINVAL;
	}
	struct skiff_store_options o = {
		.faults = cfg->faults,
		.snapshot_wal_bytes = cfg->snapshot_wal_bytes,
		.decode = decode_obj,
		.free_decoded = free_obj,
		.encode = encode_obj,
		.keep_bytes = 1u << SKIFF_KIND_POD,
	};
	r = skiff_store_open(data_dir, &o, &b->store);
	if (r < 0) {
		brain_free(b);
		return r;
	}
	b->started_ms = brain_now_ms(b);
	skiff_store_foreach(b->store, SKIFF_KIND_EVENT, init_event_fifo, b);
	skiff_store_foreach(b->store, SKIFF_KIND_NODE, init_node_rt, b);
	skiff_store_foreach(b->store, SKIFF_KIND_POD, init_terminating, b);
	r = brain_namespaces_init(b);
	if (r < 0) {
		brain_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

static void free_node_rt(void *p)
{
	struct brain_node *n = p;
	free(n->name);
	free(n);
}

void brain_free(struct brain *b)
{
	if (!b)
		return;
	brain_release_views(b);
	free(b->views);
	skiff_store_free(b->store);
	skiff_map_free(b->nodes, free_node_rt);
	skiff_map_free(b->terminating, free);
	for (size_t i = 0; i < SKIFF_MAX_EVENTS; i++)
		free(b->event_fifo[i]);
	free(b->event_fifo);
	free(b->cfg.cluster_cidr);
	free(b);
}

struct brain_node *brain_node_rt(struct brain *b, const char *name)
{
	struct brain_node *n = skiff_map_get(b->nodes, name);
	if (!n) {
		n = xcalloc(1, sizeof(*n));
		n->name = xstrdup(name);
		n->dirty = true;
		skiff_map_put(b->nodes, name, n);
	}
	return n;
}

void brain_mark_node_dirty(struct brain *b, const char *node)
{
	if (!node || !*node)
		return;
	struct brain_node *n = skiff_map_get(b->nodes, node);
	if (n)
		n->dirty = true;
}

/* ---- objects ------------------------------------------------------------ */

char *brain_key(int kind, const char *ns, const char *name)
{
	return skiff_store_key(kind, ns, name);
}

char *brain_key_of(int kind, const char *name)
{
	return strchr(name, '/') ? xstrdup(name) : skiff_store_key(kind, NULL, name);
}

char *brain_obj_key(int kind, const ProtobufCMessage *msg)
{
	const Skiff__ObjectMeta *m = SKIFF_META(msg);
	return skiff_store_key(kind, m ? m->namespace_ : NULL, m && m->name ? m->name : "");
}

const char *brain_obj_namespace(const ProtobufCMessage *msg)
{
	const Skiff__ObjectMeta *m = SKIFF_META(msg);
	return m && m->namespace_ && *m->namespace_ ? m->namespace_ : SKIFF_DEFAULT_NAMESPACE;
}

const struct brain_pod *brain_pod_get(struct brain *b, const char *name)
{
	struct skiff_store_obj o;
	if (!name || skiff_store_get(b->store, SKIFF_KIND_POD, name, &o) < 0)
		return NULL;
	return o.decoded;
}

const void *brain_get(struct brain *b, int kind, const char *name)
{
	struct skiff_store_obj o;
	if (!name || skiff_store_get(b->store, kind, name, &o) < 0)
		return NULL;
	if (kind != SKIFF_KIND_POD)
		return o.decoded;
	ProtobufCMessage *view = skiff_obj_unpack(kind, o.data, o.len);
	if (!view)
		return NULL;
	if (b->n_views == b->views_cap) {
		b->views_cap = b->views_cap ? b->views_cap * 2 : 16;
		b->views = xrealloc(b->views, b->views_cap * sizeof(*b->views));
	}
	b->views[b->n_views++] = view;
	return view;
}

void brain_release_views(struct brain *b)
{
	for (size_t i = 0; i < b->n_views; i++)
		skiff_obj_free(b->views[i]);
	b->n_views = 0;
	if (b->views_cap > 1024) { /* a burst of GETs: do not keep its array */
		free(b->views);
		b->views = NULL;
		b->views_cap = 0;
	}
}

void *brain_copy(struct brain *b, int kind, const char *name)
{
	struct skiff_store_obj o;
	if (!name || skiff_store_get(b->store, kind, name, &o) < 0)
		return NULL;
	if (kind != SKIFF_KIND_POD && o.decoded)
		return skiff_obj_copy(kind, o.decoded);
	return skiff_obj_unpack(kind, o.data, o.len);
}

struct pod_names {
	const char *owner_kind, *owner, *node;
	char **names;
	size_t n, cap;
};

static int collect_pod_name(const struct skiff_store_obj *o, void *userdata)
{
	struct pod_names *c = userdata;
	const struct brain_pod *p = o->decoded;
	if (!p || (c->owner && !streq(p->owner, c->owner)) ||
	    (c->node && !streq(p->node, c->node)) ||
	    (c->owner_kind && !streq(p->owner_kind, c->owner_kind)))
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->names = xrealloc(c->names, c->cap * sizeof(char *));
	}
	c->names[c->n++] = xstrdup(o->name);
	return 0;
}

static int collect_name(const struct skiff_store_obj *o, void *userdata)
{
	struct brain_names *c = userdata;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xrealloc(c->v, c->cap * sizeof(char *));
	}
	c->v[c->n++] = xstrdup(o->name);
	return 0;
}

struct brain_names brain_names(struct brain *b, int kind)
{
	struct brain_names c = { 0 };
	skiff_store_foreach(b->store, kind, collect_name, &c);
	return c;
}

char **brain_pod_names(struct brain *b, const char *owner_kind, const char *owner, const char *node,
		       size_t *ret_n)
{
	struct pod_names c = { .owner_kind = owner_kind, .owner = owner, .node = node };
	skiff_store_foreach(b->store, SKIFF_KIND_POD, collect_pod_name, &c);
	*ret_n = c.n;
	return c.names;
}

/* Mark the agents whose Assignment a change of the stored object name
 * (before or after the change) touches. */
static void mark_dirty_for(struct brain *b, int kind, const char *name)
{
	switch (kind) {
	case SKIFF_KIND_POD: {
		const struct brain_pod *p = brain_pod_get(b, name);
		if (p)
			brain_mark_node_dirty(b, p->node);
		break;
	}
	case SKIFF_KIND_NODE:
	case SKIFF_KIND_SERVICE:
		b->all_nodes_dirty = true;
		break;
	}
}

int brain_put(struct brain *b, int kind, ProtobufCMessage *msg)
{
	Skiff__ObjectMeta *m = skiff_meta_ensure(msg);
	if (skiff_kind_is_namespaced(kind) && (!m->namespace_ || !*m->namespace_))
		skiff_set_str(&m->namespace_, SKIFF_DEFAULT_NAMESPACE);
	_cleanup_free_ char *key = brain_obj_key(kind, msg);
	mark_dirty_for(b, kind, key);
	m->revision = skiff_store_next_revision(b->store);
	size_t len;
	_cleanup_free_ uint8_t *buf = skiff_obj_pack(msg, &len);
	int r = skiff_store_put(b->store, kind, key, buf, len, NULL);
	if (r < 0)
		return r;
	mark_dirty_for(b, kind, key);
	return 0;
}

int brain_delete(struct brain *b, int kind, const char *name)
{
	mark_dirty_for(b, kind, name);
	return skiff_store_delete(b->store, kind, name, NULL);
}

void brain_event(struct brain *b, const char *kind, const char *name, const char *type,
		 const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	uint32_t h = 2166136261u;
	for (const char *parts[] = { kind, "/", reason, "/", msg }, **p = parts;
	     p < parts + ARRAY_SIZE(parts); p++)
		for (const char *c = *p; *c; c++)
			h = (h ^ (uint8_t)*c) * 16777619u;
	/* an event lives in its object's namespace (a cluster-scoped object's
	 * in "default", as Kubernetes' node events) */
	char ns[64];
	name = skiff_key_split(name, ns);
	_cleanup_free_ char *ename = xasprintf("%.200s.%08x", name, h);
	_cleanup_free_ char *ekey = skiff_store_key(SKIFF_KIND_EVENT, ns, ename);
	int64_t now = brain_now_ms(b);
	Skiff__Event *ev = brain_copy(b, SKIFF_KIND_EVENT, ekey);
	if (ev) {
		ev->count++;
		ev->last_ms = now;
	} else {
		ev = xmalloc(sizeof(*ev));
		skiff__event__init(ev);
		Skiff__ObjectMeta *m = skiff_meta_ensure(&ev->base);
		skiff_set_str(&m->name, ename);
		skiff_set_str(&m->namespace_, *ns ? ns : SKIFF_DEFAULT_NAMESPACE);
		m->created_ms = now;
		skiff_set_str(&ev->object_kind, kind);
		skiff_set_str(&ev->object_name, name);
		skiff_set_str(&ev->type, type);
		skiff_set_str(&ev->reason, reason);
		skiff_set_str(&ev->message, msg);
		skiff_set_str(&ev->source, "skiff-orchestrator");
		ev->count = 1;
		ev->first_ms = ev->last_ms = now;
		if (b->event_count == SKIFF_MAX_EVENTS) {
			char *old = b->event_fifo[b->event_head];
			b->event_fifo[b->event_head] = NULL;
			b->event_head = (b->event_head + 1) % SKIFF_MAX_EVENTS;
			b->event_count--;
			(void)brain_delete(b, SKIFF_KIND_EVENT, old);
			free(old);
		}
		b->event_fifo[(b->event_head + b->event_count++) % SKIFF_MAX_EVENTS] =
		    xstrdup(ekey);
	}
	if (streq(type, "Warning"))
		log_info("event %s/%s %s: %s", kind, name, reason, msg);
	else
		log_debug("event %s/%s %s: %s", kind, name, reason, msg);
	(void)brain_put(b, SKIFF_KIND_EVENT, &ev->base);
	skiff_obj_free(&ev->base);
}
