/* brain.c — the brain's state: the store of decoded objects, writes that
 * mark agents dirty, events, the API operations (apply, delete, scale,
 * cordon/uncordon/drain, rollout undo) and the Assignment pushed to agents.
 * The control loops live in scheduler.c, deployment.c, nodes.c, endpoints.c. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "intern.h"
#include "log.h"
#include "util.h"

/* Stored objects other than pods are kept unpacked, read-only, each in ONE
 * malloc()ed block: protobuf-c unpacks into a scratch buffer, then a deep
 * copy walks the descriptors twice (measure, copy) into a block of exactly
 * that size (saves the per-piece malloc overhead, frees with one free()).
 *
 * Pods, the objects there are 100,000 of, are kept packed (the store keeps
 * their bytes, about a quarter of the unpacked size) plus a struct
 * brain_pod summary of what the scheduler and the controllers read, whose
 * repeated strings are shared (intern.h). Pods are unpacked on demand. */
struct bump {
	uint8_t *base;
	size_t used, cap;
	bool overflow;
};

static void *bump_alloc(void *userdata, size_t n)
{
	struct bump *b = userdata;
	size_t off = (b->used + 7) & ~(size_t)7; /* protobuf-c structs need 8 */
	if (off + n > b->cap || off + n < off) {
		b->overflow = true;
		return NULL;
	}
	b->used = off + n;
	return b->base + off;
}

static void bump_free(void *userdata, void *p)
{
	(void)userdata;
	(void)p;
}

static void *bump_take(struct bump *b, size_t n)
{
	size_t off = (b->used + 7) & ~(size_t)7;
	b->used = off + n;
	return b->base ? b->base + off : NULL;
}

static char *copy_str(struct bump *b, const char *s)
{
	if (!s || s == protobuf_c_empty_string)
		return (char *)s;
	size_t n = strlen(s) + 1;
	char *d = bump_take(b, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* Deep copy of src into b (b->base NULL: only measure). Returns the copy
 * (NULL when measuring). */
static ProtobufCMessage *copy_msg(struct bump *b, const ProtobufCMessage *src)
{
	const ProtobufCMessageDescriptor *d = src->descriptor;
	ProtobufCMessage *m = bump_take(b, d->sizeof_message);
	if (m)
		memcpy(m, src, d->sizeof_message);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *sp = (const char *)src + f->offset;
		char *mp = m ? (char *)m + f->offset : NULL;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)src + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)src + f->quantifier_offset);
			const void *arr = *(void *const *)sp;
			if (!n || !arr)
				continue;
			size_t esz = elem_size(f);
			void *na = bump_take(b, n * esz);
			if (na)
				memcpy(na, arr, n * esz);
			for (size_t j = 0; j < n; j++) {
				void *ne = na ? (char *)na + j * esz : NULL;
				const void *se = (const char *)arr + j * esz;
				if (f->type == PROTOBUF_C_TYPE_STRING) {
					char *c = copy_str(b, *(char *const *)se);
					if (ne)
						*(char **)ne = c;
				} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
					ProtobufCMessage *c =
					    copy_msg(b, *(ProtobufCMessage *const *)se);
					if (ne)
						*(ProtobufCMessage **)ne = c;
				} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
					const ProtobufCBinaryData *bd = se;
					void *c = bd->len ? bump_take(b, bd->len) : NULL;
					if (c)
						memcpy(c, bd->data, bd->len);
					if (ne)
						((ProtobufCBinaryData *)ne)->data = c;
				}
			}
			if (mp)
				*(void **)mp = na;
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			char *c = copy_str(b, *(char *const *)sp);
			if (mp)
				*(char **)mp = c;
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sm = *(ProtobufCMessage *const *)sp;
			ProtobufCMessage *c = sm ? copy_msg(b, sm) : NULL;
			if (mp)
				*(ProtobufCMessage **)mp = c;
		} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
			const ProtobufCBinaryData *bd = (const ProtobufCBinaryData *)sp;
			void *c = bd->len && bd->data ? bump_take(b, bd->len) : NULL;
			if (c)
				memcpy(c, bd->data, bd->len);
			if (mp)
				((ProtobufCBinaryData *)mp)->data = c;
		}
	}
	return m;
}

/* Unpack into a scratch buffer reused by every call: valid until the next
 * call, never freed by the caller. */
static ProtobufCMessage *unpack_scratch(int kind, const uint8_t *data, size_t len)
{
	static struct bump scratch;
	const ProtobufCMessageDescriptor *desc = skiff_obj_descriptor(kind);
	if (!desc)
		return NULL;
	for (;;) {
		if (!scratch.base) {
			scratch.cap = 64 * 1024;
			scratch.base = xmalloc(scratch.cap);
		}
		scratch.used = 0;
		scratch.overflow = false;
		ProtobufCAllocator a = { bump_alloc, bump_free, &scratch };
		ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a, len, data);
		if (m || !scratch.overflow)
			return m;
		scratch.cap *= 2;
		scratch.base = xrealloc(scratch.base, scratch.cap);
	}
}

uint64_t brain_str_hash(const char *s)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a, 64 bits */
	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	return h;
}

/* Labels as one string to share: "<key length>:<key><value length>:<value>"
 * per pair (lengths in decimal, so any value is unambiguous), in order. */
static char *labels_string(const Skiff__ObjectMeta *m)
{
	if (!m || !m->n_labels)
		return NULL;
	size_t cap = 1;
	for (size_t i = 0; i < m->n_labels; i++)
		cap += 2 * 21 + strlen(m->labels[i]->key) + strlen(m->labels[i]->value);
	char *out = xmalloc(cap), *p = out;
	for (size_t i = 0; i < m->n_labels; i++)
		p += sprintf(p, "%zu:%s%zu:%s", strlen(m->labels[i]->key), m->labels[i]->key,
			     strlen(m->labels[i]->value), m->labels[i]->value);
	*p = 0;
	return out;
}

/* Next pair of a labels_string(): 1 with key/value spans, 0 at the end. */
static int labels_next(const char **s, const char **k, size_t *kl, const char **v, size_t *vl)
{
	char *end;
	if (!**s)
		return 0;
	*kl = strtoul(*s, &end, 10);
	*k = end + 1;
	*vl = strtoul(*k + *kl, &end, 10);
	*v = end + 1;
	*s = *v + *vl;
	return 1;
}

bool brain_pod_labels_match(const struct brain_pod *p, Skiff__KeyValue *const *sel, size_t nsel)
{
	if (nsel == 0)
		return false;
	for (size_t i = 0; i < nsel; i++) {
		const char *s = p->labels, *k, *v;
		size_t kl, vl;
		bool found = false;
		while (!found && labels_next(&s, &k, &kl, &v, &vl))
			found = kl == strlen(sel[i]->key) && memcmp(k, sel[i]->key, kl) == 0 &&
				vl == strlen(sel[i]->value) && memcmp(v, sel[i]->value, vl) == 0;
		if (!found)
			return false;
	}
	return true;
}

static struct brain_pod *pod_summary(const Skiff__Pod *p)
{
	struct brain_pod *s = xcalloc(1, sizeof(*s));
	s->node = skiff_intern(skiff_pod_node(p));
	s->owner = skiff_intern(p->owner);
	s->template_hash = skiff_intern(p->template_hash);
	s->phase = skiff_intern(skiff_pod_phase(p));
	_cleanup_free_ char *labels = labels_string(p->metadata);
	s->labels = skiff_intern(labels);
	if (p->metadata) {
		s->created_ms = p->metadata->created_ms;
		s->terminating = p->metadata->deleted_ms > 0;
	}
	skiff_pod_requests(p, &s->cpu_milli, &s->memory);
	s->ready = skiff_pod_ready(p);
	if (p->status) {
		s->has_ip = p->status->pod_ip && *p->status->pod_ip;
		struct in_addr a;
		if (s->has_ip && inet_pton(AF_INET, p->status->pod_ip, &a) == 1)
			s->ip4 = a.s_addr;
		s->unschedulable = streq_ptr(p->status->reason, "Unschedulable");
		s->message_hash = brain_str_hash(p->status->message);
	}
	s->has_selector = p->spec && p->spec->n_node_selector > 0;
	return s;
}

static void pod_summary_free(struct brain_pod *s)
{
	skiff_intern_release(s->node);
	skiff_intern_release(s->owner);
	skiff_intern_release(s->template_hash);
	skiff_intern_release(s->phase);
	skiff_intern_release(s->labels);
	free(s);
}

static void *decode_obj(int kind, const uint8_t *data, size_t len)
{
	ProtobufCMessage *m = unpack_scratch(kind, data, len);
	if (!m)
		return NULL;
	if (kind == SKIFF_KIND_POD)
		return pod_summary((const Skiff__Pod *)m);
	/* measure, then copy into one block of exactly that size */
	struct bump measure = { NULL, 0, 0, false };
	(void)copy_msg(&measure, m);
	struct bump exact = { xmalloc(measure.used ? measure.used : 1), 0, measure.used, false };
	ProtobufCMessage *copy = copy_msg(&exact, m);
	if ((void *)copy != (void *)exact.base || exact.used != measure.used)
		abort(); /* the same walk takes the same sizes */
	return copy;
}

static uint8_t *encode_obj(int kind, const void *obj, size_t *ret_len)
{
	assert(kind != SKIFF_KIND_POD); /* pods keep their bytes */
	return skiff_obj_pack(obj, ret_len);
}

static void free_obj(int kind, void *obj)
{
	if (kind == SKIFF_KIND_POD)
		pod_summary_free(obj);
	else
		free(obj); /* one block, see decode_obj() */
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
	mark_dirty_for(b, kind, m->name);
	m->revision = skiff_store_next_revision(b->store);
	size_t len;
	_cleanup_free_ uint8_t *buf = skiff_obj_pack(msg, &len);
	int r = skiff_store_put(b->store, kind, m->name, buf, len, NULL);
	if (r < 0)
		return r;
	mark_dirty_for(b, kind, m->name);
	return 0;
}

int brain_delete(struct brain *b, int kind, const char *name)
{
	mark_dirty_for(b, kind, name);
	return skiff_store_delete(b->store, kind, name, NULL);
}

int brain_pod_terminate(struct brain *b, const char *name)
{
	const struct brain_pod *p = brain_pod_get(b, name);
	if (!p)
		return -ENOENT;
	if (p->terminating)
		return 0;
	const char *node = p->node;
	const char *phase = p->phase;
	struct brain_node *rt = *node ? brain_node_rt(b, node) : NULL;
	if (!rt || !rt->connected || streq(phase, "Succeeded") || streq(phase, "Failed")) {
		/* nothing runs it, or its agent is away (a returning agent gets
		 * an Assignment without it): gone at once */
		int r = brain_delete(b, SKIFF_KIND_POD, name);
		return r < 0 ? r : 1;
	}
	Skiff__Pod *np = brain_copy(b, SKIFF_KIND_POD, name);
	skiff_meta_ensure(&np->base)->deleted_ms = brain_now_ms(b);
	int64_t grace =
	    np->spec && np->spec->termination_grace_ms > 0 ? np->spec->termination_grace_ms : 10000;
	int r = brain_put(b, SKIFF_KIND_POD, &np->base);
	skiff_obj_free(&np->base);
	if (r < 0)
		return r;
	int64_t *deadline = xmalloc(sizeof(*deadline));
	*deadline = brain_now_mono(b) + grace + SKIFF_TERMINATION_MARGIN_MS;
	free(skiff_map_put(b->terminating, name, deadline));
	return 1;
}

int brain_pod_finalize(struct brain *b, const char *name)
{
	free(skiff_map_remove(b->terminating, name));
	b->resync = true;
	return brain_delete(b, SKIFF_KIND_POD, name);
}

int brain_terminating_tick(struct brain *b)
{
	if (!skiff_map_size(b->terminating))
		return 0;
	int64_t now = brain_now_mono(b);
	char **done = NULL;
	size_t n = 0, i = 0;
	void *cur = NULL, *v;
	const char *k;
	while (skiff_map_next(b->terminating, &i, &cur, &k, &v)) {
		int64_t *deadline = v;
		const struct brain_pod *p = brain_pod_get(b, k);
		if (p && p->terminating) {
			if (*deadline == 0) { /* tracked at start-up */
				_cleanup_(skiff_obj_freep) ProtobufCMessage *full =
				    brain_copy(b, SKIFF_KIND_POD, k);
				const Skiff__PodSpec *spec =
				    full ? ((Skiff__Pod *)full)->spec : NULL;
				int64_t grace = spec && spec->termination_grace_ms > 0
						    ? spec->termination_grace_ms
						    : 10000;
				*deadline = now + grace + SKIFF_TERMINATION_MARGIN_MS;
			}
			if (now <= *deadline)
				continue;
		}
		done = xrealloc(done, (n + 1) * sizeof(*done));
		done[n++] = xstrdup(k);
	}
	int removed = 0;
	for (size_t j = 0; j < n; j++) {
		const struct brain_pod *p = brain_pod_get(b, done[j]);
		if (p && p->terminating) {
			log_info("pod %s: still terminating after its grace; removed", done[j]);
			if (brain_pod_finalize(b, done[j]) >= 0)
				removed++;
		} else
			free(skiff_map_remove(b->terminating, done[j]));
		free(done[j]);
	}
	free(done);
	return removed;
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
	_cleanup_free_ char *ename = xasprintf("%.200s.%08x", name, h);
	int64_t now = brain_now_ms(b);
	Skiff__Event *ev = brain_copy(b, SKIFF_KIND_EVENT, ename);
	if (ev) {
		ev->count++;
		ev->last_ms = now;
	} else {
		ev = xmalloc(sizeof(*ev));
		skiff__event__init(ev);
		Skiff__ObjectMeta *m = skiff_meta_ensure(&ev->base);
		skiff_set_str(&m->name, ename);
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
		    xstrdup(ename);
	}
	if (streq(type, "Warning"))
		log_info("event %s/%s %s: %s", kind, name, reason, msg);
	else
		log_debug("event %s/%s %s: %s", kind, name, reason, msg);
	(void)brain_put(b, SKIFF_KIND_EVENT, &ev->base);
	skiff_obj_free(&ev->base);
}

/* ---- operations ---------------------------------------------------------- */

static bool msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	if (!a || !b)
		return a == b;
	size_t la, lb;
	_cleanup_free_ uint8_t *pa = skiff_obj_pack(a, &la);
	_cleanup_free_ uint8_t *pb = skiff_obj_pack(b, &lb);
	return la == lb && memcmp(pa, pb, la) == 0;
}

#define SWAP(a, b)                                                                                 \
	do {                                                                                       \
		__typeof__(a) _t = (a);                                                            \
		(a) = (b);                                                                         \
		(b) = _t;                                                                          \
	} while (0)

/* The spec member of each kind (same offset: after metadata). */
static ProtobufCMessage **spec_of(ProtobufCMessage *msg)
{
	return (ProtobufCMessage **)&((Skiff__Pod *)msg)->spec;
}

static void new_uid(char out[33])
{
	uint8_t r[16];
	if (skiff_random_bytes(r, sizeof(r)) < 0)
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (uint8_t)random();
	skiff_hex(r, sizeof(r), out);
}

int brain_apply(struct brain *b, int kind, ProtobufCMessage *msg, bool create_only, bool dry_run,
		const char **ret_result, ProtobufCMessage **ret_obj, char **ret_err)
{
	int r;
	if (kind == SKIFF_KIND_NODE) {
		/* Nodes are registered by agents; admins may change labels and
		 * schedulability of an existing one. */
		Skiff__Node *in = (Skiff__Node *)msg;
		if (!in->metadata || !brain_get(b, kind, in->metadata->name)) {
			*ret_err =
			    xasprintf("metadata.name: node '%s' is not registered (nodes join "
				      "with skiff-agent)",
				      in->metadata ? in->metadata->name : "");
			return -ENOENT;
		}
	}
	r = skiff_obj_validate(kind, msg, ret_err);
	if (r < 0)
		return r;
	Skiff__ObjectMeta *m = SKIFF_META(msg);
	const ProtobufCMessage *cur = brain_get(b, kind, m->name);
	if (cur && create_only) {
		*ret_err = xasprintf("%s '%s' already exists", skiff_kind_name(kind), m->name);
		return -EEXIST;
	}
	ProtobufCMessage *obj;
	if (!cur) {
		obj = skiff_obj_copy(kind, msg);
		Skiff__ObjectMeta *om = skiff_meta_ensure(obj);
		char uid[33];
		new_uid(uid);
		skiff_set_str(&om->uid, uid);
		om->created_ms = brain_now_ms(b);
		om->generation = 1;
		om->deleted_ms = 0;
		switch (kind) {
		case SKIFF_KIND_DEPLOYMENT: {
			Skiff__Deployment *d = (Skiff__Deployment *)obj;
			skiff_obj_free((ProtobufCMessage *)d->status);
			d->status = NULL;
			break;
		}
		case SKIFF_KIND_SERVICE: {
			Skiff__Service *s = (Skiff__Service *)obj;
			skiff_obj_free((ProtobufCMessage *)s->status);
			s->status = NULL;
			break;
		}
		case SKIFF_KIND_POD: {
			Skiff__Pod *p = (Skiff__Pod *)obj;
			skiff_obj_free((ProtobufCMessage *)p->status);
			p->status = NULL;
			skiff_set_str(&skiff_pod_status_ensure(p)->phase, "Pending");
			skiff_set_str(&p->owner, "");
			skiff_set_str(&p->template_hash, "");
			break;
		}
		}
		*ret_result = "created";
	} else {
		const Skiff__ObjectMeta *cm = SKIFF_META(cur);
		ProtobufCMessage *cur_spec = *spec_of((ProtobufCMessage *)cur);
		bool spec_same = msg_equal(cur_spec, *spec_of(msg));
		if (kind == SKIFF_KIND_NODE) {
			/* only spec.unschedulable is taken from the request */
			Skiff__Node *in = (Skiff__Node *)msg, *cn = (Skiff__Node *)cur;
			spec_same = (in->spec && in->spec->unschedulable) ==
				    (cn->spec && cn->spec->unschedulable);
		}
		bool labels_same =
		    skiff_kv_equal(cm->labels, cm->n_labels, m->labels, m->n_labels) &&
		    skiff_kv_equal(cm->annotations, cm->n_annotations, m->annotations,
				   m->n_annotations);
		if (spec_same && labels_same) {
			*ret_result = "unchanged";
			if (ret_obj)
				*ret_obj = skiff_obj_copy(kind, cur);
			return 0;
		}
		if (kind == SKIFF_KIND_POD && !spec_same) {
			*ret_err =
			    xasprintf("spec: a pod's spec cannot change once created; delete "
				      "and re-create pod '%s' (or use a deployment)",
				      m->name);
			return -EINVAL;
		}
		obj = skiff_obj_copy(kind, cur);
		Skiff__ObjectMeta *om = SKIFF_META(obj);
		SWAP(om->n_labels, m->n_labels);
		SWAP(om->labels, m->labels);
		SWAP(om->n_annotations, m->n_annotations);
		SWAP(om->annotations, m->annotations);
		if (kind == SKIFF_KIND_NODE) {
			Skiff__Node *in = (Skiff__Node *)msg;
			skiff_node_spec_ensure((Skiff__Node *)obj)->unschedulable =
			    in->spec && in->spec->unschedulable;
		} else if (!spec_same) {
			SWAP(*spec_of(obj), *spec_of(msg));
		}
		if (!spec_same)
			om->generation++;
		*ret_result = "configured";
	}
	if (!dry_run) {
		r = brain_put(b, kind, obj);
		if (r < 0) {
			skiff_obj_free(obj);
			*ret_err = xasprintf("store: %s", strerror(-r));
			return r;
		}
		b->resync = true;
	}
	if (ret_obj)
		*ret_obj = obj;
	else
		skiff_obj_free(obj);
	return 0;
}

struct owned_pods {
	const char *owner;
	char **names;
	size_t n, cap;
};

static int collect_owned(const struct skiff_store_obj *o, void *userdata)
{
	struct owned_pods *c = userdata;
	const struct brain_pod *p = o->decoded;
	if (p && streq(p->owner, c->owner)) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 16;
			c->names = xrealloc(c->names, c->cap * sizeof(char *));
		}
		c->names[c->n++] = xstrdup(o->name);
	}
	return 0;
}

int brain_remove(struct brain *b, int kind, const char *name, ProtobufCMessage **ret_obj,
		 char **ret_err)
{
	ProtobufCMessage *copy = brain_copy(b, kind, name);
	if (!copy) {
		*ret_err = xasprintf("%s '%s' not found", skiff_kind_name(kind), name ? name : "");
		return -ENOENT;
	}
	if (kind == SKIFF_KIND_DEPLOYMENT) {
		/* Cascade: the deployment's pods go with it. */
		struct owned_pods c = { .owner = name };
		skiff_store_foreach(b->store, SKIFF_KIND_POD, collect_owned, &c);
		for (size_t i = 0; i < c.n; i++) {
			(void)brain_pod_terminate(b, c.names[i]);
			free(c.names[i]);
		}
		free(c.names);
	}
	int r;
	if (kind == SKIFF_KIND_POD) {
		r = brain_pod_terminate(b, name);
		ProtobufCMessage *now = r >= 0 ? brain_copy(b, SKIFF_KIND_POD, name) : NULL;
		if (now) { /* the reply shows it Terminating */
			skiff_obj_free(copy);
			copy = now;
		}
	} else
		r = brain_delete(b, kind, name);
	if (r < 0) {
		skiff_obj_free(copy);
		*ret_err = xasprintf("store: %s", strerror(-r));
		return r;
	}
	b->resync = true;
	if (ret_obj)
		*ret_obj = copy;
	else
		skiff_obj_free(copy);
	return 0;
}

int brain_scale(struct brain *b, const char *name, int replicas, Skiff__Deployment **ret,
		char **ret_err)
{
	if (replicas < 0 || replicas > 100000) {
		*ret_err = xasprintf("replicas: must be 0-100000, got %d", replicas);
		return -EINVAL;
	}
	Skiff__Deployment *d = brain_copy(b, SKIFF_KIND_DEPLOYMENT, name);
	if (!d) {
		*ret_err = xasprintf("deployment '%s' not found", name ? name : "");
		return -ENOENT;
	}
	if (d->spec->replicas != replicas) {
		d->spec->replicas = replicas;
		d->metadata->generation++;
		int r = brain_put(b, SKIFF_KIND_DEPLOYMENT, &d->base);
		if (r < 0) {
			skiff_obj_free(&d->base);
			*ret_err = xasprintf("store: %s", strerror(-r));
			return r;
		}
		brain_event(b, "deployment", name, "Normal", "ScalingReplicaSet",
			    "scaled to %d replicas", replicas);
		b->resync = true;
	}
	*ret = d;
	return 0;
}

struct pods_on_node {
	const char *node;
	char **names;
	size_t n, cap;
};

static int collect_on_node(const struct skiff_store_obj *o, void *userdata)
{
	struct pods_on_node *c = userdata;
	const struct brain_pod *p = o->decoded;
	if (p && streq(p->node, c->node)) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 16;
			c->names = xrealloc(c->names, c->cap * sizeof(char *));
		}
		c->names[c->n++] = xstrdup(o->name);
	}
	return 0;
}

char **brain_evict_node_pods(struct brain *b, const char *node, bool graceful, size_t *ret_n)
{
	struct pods_on_node c = { .node = node };
	skiff_store_foreach(b->store, SKIFF_KIND_POD, collect_on_node, &c);
	for (size_t i = 0; i < c.n; i++)
		if (graceful)
			(void)brain_pod_terminate(b, c.names[i]);
		else
			(void)brain_delete(b, SKIFF_KIND_POD, c.names[i]);
	*ret_n = c.n;
	b->resync = true;
	return c.names;
}

int brain_node_action(struct brain *b, const char *name, const char *action, Skiff__Node **ret,
		      char ***ret_evicted, size_t *ret_n, char **ret_err)
{
	bool cordon;
	if (streq_ptr(action, "cordon") || streq_ptr(action, "drain"))
		cordon = true;
	else if (streq_ptr(action, "uncordon"))
		cordon = false;
	else {
		*ret_err = xasprintf("action: must be cordon, uncordon or drain, got '%s'",
				     action ? action : "");
		return -EINVAL;
	}
	Skiff__Node *n = brain_copy(b, SKIFF_KIND_NODE, name);
	if (!n) {
		*ret_err = xasprintf("node '%s' not found", name ? name : "");
		return -ENOENT;
	}
	Skiff__NodeSpec *spec = skiff_node_spec_ensure(n);
	if (spec->unschedulable != cordon) {
		spec->unschedulable = cordon;
		int r = brain_put(b, SKIFF_KIND_NODE, &n->base);
		if (r < 0) {
			skiff_obj_free(&n->base);
			*ret_err = xasprintf("store: %s", strerror(-r));
			return r;
		}
		brain_event(b, "node", name, "Normal", cordon ? "Cordoned" : "Uncordoned",
			    "node %s is %s", name, cordon ? "unschedulable" : "schedulable");
	}
	*ret_evicted = NULL;
	*ret_n = 0;
	if (streq(action, "drain")) {
		*ret_evicted = brain_evict_node_pods(b, name, true, ret_n);
		if (*ret_n)
			brain_event(b, "node", name, "Normal", "Drained",
				    "evicted %zu pods from node %s", *ret_n, name);
	}
	b->resync = true;
	*ret = n;
	return 0;
}

int brain_rollout_undo(struct brain *b, const char *name, int64_t to_revision,
		       Skiff__Deployment **ret, char **ret_msg, char **ret_err)
{
	Skiff__Deployment *d = brain_copy(b, SKIFF_KIND_DEPLOYMENT, name);
	if (!d) {
		*ret_err = xasprintf("deployment '%s' not found", name ? name : "");
		return -ENOENT;
	}
	Skiff__DeploymentStatus *st = skiff_deployment_status_ensure(d);
	Skiff__DeploymentRevision *target = NULL;
	for (size_t i = 0; i < st->n_history; i++) {
		Skiff__DeploymentRevision *h = st->history[i];
		if (to_revision > 0) {
			if (h->revision == to_revision)
				target = h;
		} else if (h->revision < st->revision &&
			   (!target || h->revision > target->revision)) {
			target = h;
		}
	}
	if (!target || !target->template_) {
		if (to_revision > 0)
			*ret_err = xasprintf("to_revision: deployment '%s' has no revision %lld",
					     name, (long long)to_revision);
		else
			*ret_err = xasprintf("deployment '%s' has no previous revision to roll "
					     "back to",
					     name);
		skiff_obj_free(&d->base);
		return -ENOENT;
	}
	int64_t rev = target->revision;
	SWAP(d->spec->template_, target->template_);
	d->metadata->generation++;
	int r = brain_put(b, SKIFF_KIND_DEPLOYMENT, &d->base);
	if (r < 0) {
		skiff_obj_free(&d->base);
		*ret_err = xasprintf("store: %s", strerror(-r));
		return r;
	}
	brain_event(b, "deployment", name, "Normal", "RolledBack", "rolled back to revision %lld",
		    (long long)rev);
	*ret_msg =
	    xasprintf("deployment.apps/%s rolled back to revision %lld", name, (long long)rev);
	b->resync = true;
	*ret = d;
	return 0;
}

/* ---- assignments -------------------------------------------------------- */

/* An Assignment being built: its pods as references to their packed
 * bytes in the store (valid until the next write). */
struct assign_build {
	Skiff__Assignment *a;
	struct pod_ref {
		const uint8_t *data;
		size_t len;
	} * pods;
	size_t n, cap;
};

struct assign_ctx {
	struct brain *b;
	struct skiff_map *by_node; /* node -> struct assign_build */
	const char *only;	   /* a single node, or NULL: every dirty one */
};

static int assign_pod(const struct skiff_store_obj *o, void *userdata)
{
	struct assign_ctx *c = userdata;
	const struct brain_pod *p = o->decoded;
	if (!p)
		return 0;
	const char *node = p->node;
	if (!*node || (c->only && !streq(node, c->only)))
		return 0;
	if (p->terminating)
		return 0; /* terminating: its agent stops it (agents that ignore
			   * deleted_ms too) and reports it gone */
	struct assign_build *ab = skiff_map_get(c->by_node, node);
	if (!ab)
		return 0;
	if (ab->n == ab->cap) {
		ab->cap = ab->cap ? ab->cap * 2 : 16;
		ab->pods = xrealloc(ab->pods, ab->cap * sizeof(*ab->pods));
	}
	ab->pods[ab->n++] = (struct pod_ref){ o->data, o->len };
	return 0;
}

static size_t varint_size(size_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

/* Attach the pods, still packed, as what protobuf-c packs verbatim: unknown
 * fields with the number of Assignment.pods (2), each its length varint
 * and bytes, so pushing 100,000 pods neither unpacks nor re-packs them
 * (the receiver sees an ordinary repeated `pods`). Returns the buffer the
 * fields point into (free() it and the fields after sending). */
static uint8_t *assign_attach_packed(struct assign_build *ab)
{
	size_t total = 0;
	for (size_t i = 0; i < ab->n; i++)
		total += varint_size(ab->pods[i].len) + ab->pods[i].len;
	uint8_t *buf = xmalloc(total ? total : 1), *p = buf;
	ProtobufCMessageUnknownField *uf = xcalloc(ab->n + 1, sizeof(*uf));
	for (size_t i = 0; i < ab->n; i++) {
		uint8_t *start = p;
		for (size_t v = ab->pods[i].len;; v >>= 7) {
			*p++ = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
			if (v < 0x80)
				break;
		}
		memcpy(p, ab->pods[i].data, ab->pods[i].len);
		p += ab->pods[i].len;
		uf[i].tag = 2; /* Assignment.pods */
		uf[i].wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
		uf[i].len = (size_t)(p - start);
		uf[i].data = start;
	}
	ab->a->base.unknown_fields = uf;
	ab->a->base.n_unknown_fields = ab->n;
	return buf;
}

static void assign_build_free(struct assign_build *ab)
{
	if (!ab)
		return;
	brain_assignment_free(ab->a);
	free(ab->pods);
	free(ab);
}

struct list_ctx {
	void **items;
	size_t n, cap;
};

static int list_collect(const struct skiff_store_obj *o, void *userdata)
{
	struct list_ctx *c = userdata;
	if (!o->decoded)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->items = xrealloc(c->items, c->cap * sizeof(void *));
	}
	c->items[c->n++] = o->decoded;
	return 0;
}

static Skiff__Assignment *assignment_new(struct brain *b, const char *node, struct list_ctx *nodes,
					 struct list_ctx *svcs)
{
	Skiff__Assignment *a = xmalloc(sizeof(*a));
	skiff__assignment__init(a);
	const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, node);
	a->epoch = n && n->status ? n->status->epoch : 0;
	a->n_nodes = nodes->n;
	a->nodes = xmalloc((nodes->n + 1) * sizeof(void *));
	if (nodes->n)
		memcpy(a->nodes, nodes->items, nodes->n * sizeof(void *));
	a->n_services = svcs->n;
	a->services = xmalloc((svcs->n + 1) * sizeof(void *));
	if (svcs->n)
		memcpy(a->services, svcs->items, svcs->n * sizeof(void *));
	return a;
}

void brain_assignment_free(Skiff__Assignment *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_pods; i++)
		skiff_obj_free(&a->pods[i]->base);
	free(a->pods);
	free(a->nodes);
	free(a->services);
	free(a->base.unknown_fields);
	free(a);
}

Skiff__Assignment *brain_assignment(struct brain *b, const char *node)
{
	struct list_ctx nodes = { 0 }, svcs = { 0 };
	skiff_store_foreach(b->store, SKIFF_KIND_NODE, list_collect, &nodes);
	skiff_store_foreach(b->store, SKIFF_KIND_SERVICE, list_collect, &svcs);
	struct assign_ctx c = { b, skiff_map_new(), node };
	struct assign_build *ab = xcalloc(1, sizeof(*ab));
	ab->a = assignment_new(b, node, &nodes, &svcs);
	skiff_map_put(c.by_node, node, ab);
	skiff_store_foreach(b->store, SKIFF_KIND_POD, assign_pod, &c);
	Skiff__Assignment *a = ab->a;
	a->pods = xcalloc(ab->n + 1, sizeof(*a->pods));
	for (size_t i = 0; i < ab->n; i++) {
		ProtobufCMessage *p =
		    skiff_obj_unpack(SKIFF_KIND_POD, ab->pods[i].data, ab->pods[i].len);
		if (p)
			a->pods[a->n_pods++] = (Skiff__Pod *)p;
	}
	ab->a = NULL;
	assign_build_free(ab);
	skiff_map_free(c.by_node, NULL);
	free(nodes.items);
	free(svcs.items);
	return a;
}

static void free_assign_build(void *p)
{
	assign_build_free(p);
}

void brain_push_assignments(struct brain *b)
{
	if (!b->push)
		return;
	struct assign_ctx c = { b, skiff_map_new(), NULL };
	struct list_ctx nodes = { 0 }, svcs = { 0 };
	/* A change every node must hear of (node list, services) is pushed to
	 * all of them at most every max(100 ms, 1 ms per node): with N nodes
	 * each such push is N Assignments of N nodes. A node's own pods go out
	 * at once. */
	int64_t now = brain_now_mono(b);
	int64_t every = (int64_t)skiff_map_size(b->nodes);
	bool all = b->all_nodes_dirty && now - b->last_all_push_mono >= (every > 100 ? every : 100);
	if (all)
		b->last_all_push_mono = now;
	size_t i = 0;
	void *cur = NULL, *v;
	const char *k;
	while (skiff_map_next(b->nodes, &i, &cur, &k, &v)) {
		struct brain_node *n = v;
		if (n->session && (n->dirty || all)) {
			if (!nodes.items && !svcs.items) {
				skiff_store_foreach(b->store, SKIFF_KIND_NODE, list_collect,
						    &nodes);
				skiff_store_foreach(b->store, SKIFF_KIND_SERVICE, list_collect,
						    &svcs);
			}
			struct assign_build *ab = xcalloc(1, sizeof(*ab));
			ab->a = assignment_new(b, k, &nodes, &svcs);
			skiff_map_put(c.by_node, k, ab);
		}
	}
	if (skiff_map_size(c.by_node) > 0) {
		skiff_store_foreach(b->store, SKIFF_KIND_POD, assign_pod, &c);
		i = 0;
		cur = NULL;
		while (skiff_map_next(c.by_node, &i, &cur, &k, &v)) {
			struct assign_build *ab = v;
			struct brain_node *n = skiff_map_get(b->nodes, k);
			n->dirty = false;
			_cleanup_free_ uint8_t *packed = assign_attach_packed(ab);
			b->push(b, n, ab->a, b->push_userdata);
		}
	}
	if (all)
		b->all_nodes_dirty = false;
	skiff_map_free(c.by_node, free_assign_build);
	free(nodes.items);
	free(svcs.items);
}

int brain_reconcile(struct brain *b)
{
	int n = 0, r;
	r = brain_nodes_tick(b);
	n += r > 0 ? r : 0;
	uint64_t rev = skiff_store_revision(b->store);
	if (!b->resync && rev == b->ctl_revision)
		return n;
	b->resync = false;
	/* Controllers feed each other (deployment -> pods -> scheduler ->
	 * endpoints); a few rounds settle one change. */
	for (int round = 0; round < 3; round++) {
		uint64_t before = skiff_store_revision(b->store);
		r = brain_deployments_reconcile(b);
		n += r > 0 ? r : 0;
		r = brain_schedule(b);
		n += r > 0 ? r : 0;
		r = brain_endpoints_reconcile(b);
		n += r > 0 ? r : 0;
		if (skiff_store_revision(b->store) == before)
			break;
	}
	b->ctl_revision = skiff_store_revision(b->store);
	return n;
}
