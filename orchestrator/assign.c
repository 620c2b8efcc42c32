/* assign.c — the Assignment of a node (its pods, every node, every
 * service) and the push of the changed ones to their agents. Pods go out as
 * their stored bytes, never unpacked. Built on brain.c. */
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "util.h"

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

/* The length prefix of a length-delimited field is written here: protobuf-c
 * (1.4) packs an unknown field as its tag and then its data as given, with
 * no length, and exports no varint encoder. Letting it write the prefix
 * would mean a wire twin of Assignment with `repeated bytes pods = 2` in
 * the proto, or re-packing every pod. */
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
