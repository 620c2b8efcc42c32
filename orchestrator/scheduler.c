/* scheduler.c — binds Pending pods to nodes.
 *
 * One pass: sum the requests of bound pods per node and count each
 * deployment's pods per node (one scan of the pods), then place every
 * pending pod, oldest first: filter (node Ready, schedulable, cpu/memory/pod
 * count fit allocatable minus what is bound, node selector) and score (fewest
 * replicas of the same deployment on the node first, then least allocated).
 * Usage is updated as pods are placed, so many pods go out per pass. A pod
 * that fits nowhere stays Pending with reason Unschedulable and a message
 * that says per node why, plus a Warning event; it is retried on the next
 * pass, which runs whenever anything in the store changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "quantity.h"
#include "util.h"

struct snode {
	const Skiff__Node *node;
	const char *name;
	const char *address;
	bool ready, schedulable;
	int64_t alloc_cpu, alloc_mem, alloc_pods;
	int64_t used_cpu, used_mem, used_pods;
};

struct spod {
	const char *name;
	int64_t created_ms;
};

struct sched {
	struct brain *b;
	struct snode *nodes;
	size_t nnodes;
	struct skiff_map *node_index; /* name -> index + 1 */
	struct skiff_map *spread;     /* owner -> int[nnodes] */
	struct spod *pending;
	size_t npending, cap;
};

static int collect_node(const struct skiff_store_obj *o, void *userdata)
{
	struct sched *s = userdata;
	const Skiff__Node *n = o->decoded;
	if (!n)
		return 0;
	struct snode *sn = &s->nodes[s->nnodes++];
	memset(sn, 0, sizeof(*sn));
	sn->node = n;
	sn->name = o->name;
	sn->address = n->status ? n->status->address : "";
	sn->ready = brain_node_is_ready(n);
	sn->schedulable = !(n->spec && n->spec->unschedulable);
	const Skiff__ResourceList *a = n->status ? n->status->allocatable : NULL;
	if (!a && n->status)
		a = n->status->capacity;
	if (a) {
		sn->alloc_cpu = a->cpu_milli;
		sn->alloc_mem = a->memory;
		sn->alloc_pods = a->pods > 0 ? a->pods : 110;
	}
	return 0;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct snode *)a)->name, ((const struct snode *)b)->name);
}

static int *spread_counts(struct sched *s, const char *owner)
{
	int *c = skiff_map_get(s->spread, owner);
	if (!c) {
		c = xcalloc(s->nnodes + 1, sizeof(int));
		skiff_map_put(s->spread, owner, c);
	}
	return c;
}

static int collect_pod(const struct skiff_store_obj *o, void *userdata)
{
	struct sched *s = userdata;
	const struct brain_pod *p = o->decoded;
	if (!p)
		return 0;
	const char *node = p->node;
	if (!*node) {
		if (s->npending == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->pending = xrealloc(s->pending, s->cap * sizeof(*s->pending));
		}
		s->pending[s->npending++] = (struct spod){ o->name, p->created_ms };
		return 0;
	}
	if (streq(p->phase, "Succeeded") || streq(p->phase, "Failed"))
		return 0; /* finished pods hold no resources */
	uintptr_t idx = (uintptr_t)skiff_map_get(s->node_index, node);
	if (!idx)
		return 0;
	struct snode *sn = &s->nodes[idx - 1];
	sn->used_cpu += p->cpu_milli;
	sn->used_mem += p->memory;
	sn->used_pods++;
	if (*p->owner)
		spread_counts(s, p->owner)[idx - 1]++;
	return 0;
}

static int cmp_pending(const void *a, const void *b)
{
	const struct spod *x = a, *y = b;
	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

enum misfit {
	FIT = 0,
	MISFIT_NOT_READY,
	MISFIT_CORDONED,
	MISFIT_SELECTOR,
	MISFIT_PODS,
	MISFIT_CPU,
	MISFIT_MEMORY,
};

/* spec: the pod's spec when it has a node selector, else NULL */
static enum misfit node_fits(const struct snode *sn, const Skiff__PodSpec *spec, int64_t cpu,
			     int64_t mem)
{
	if (!sn->ready)
		return MISFIT_NOT_READY;
	if (!sn->schedulable)
		return MISFIT_CORDONED;
	if (spec && spec->n_node_selector) {
		const Skiff__ObjectMeta *m = sn->node->metadata;
		if (!m || !skiff_selector_match(spec->node_selector, spec->n_node_selector,
						m->labels, m->n_labels))
			return MISFIT_SELECTOR;
	}
	if (sn->used_pods + 1 > sn->alloc_pods)
		return MISFIT_PODS;
	if (cpu > 0 && sn->used_cpu + cpu > sn->alloc_cpu)
		return MISFIT_CPU;
	if (mem > 0 && sn->used_mem + mem > sn->alloc_mem)
		return MISFIT_MEMORY;
	return FIT;
}

/* "0/3 nodes fit: vm1 insufficient memory (need 512Mi, free 100Mi), vm2
 * cordoned, vm3 not ready" */
static char *misfit_message(struct sched *s, const Skiff__PodSpec *spec, int64_t cpu, int64_t mem)
{
	if (s->nnodes == 0)
		return xstrdup("0/0 nodes fit: no nodes are registered");
	size_t cap = 256, len = 0;
	char *out = xmalloc(cap);
	len = snprintf(out, cap, "0/%zu nodes fit:", s->nnodes);
	size_t shown = 0;
	for (size_t i = 0; i < s->nnodes; i++) {
		const struct snode *sn = &s->nodes[i];
		if (shown == 8) {
			_cleanup_free_ char *more = xasprintf(", and %zu more", s->nnodes - i);
			out = xrealloc(out, len + strlen(more) + 1);
			strcpy(out + len, more);
			len += strlen(more);
			break;
		}
		char a[32], f[32];
		_cleanup_free_ char *why = NULL;
		switch (node_fits(sn, spec, cpu, mem)) {
		case FIT:
			why = xstrdup("fits");
			break;
		case MISFIT_NOT_READY:
			why = xstrdup("not ready");
			break;
		case MISFIT_CORDONED:
			why = xstrdup("cordoned");
			break;
		case MISFIT_SELECTOR:
			why = xstrdup("does not match the node selector");
			break;
		case MISFIT_PODS:
			why = xasprintf("too many pods (%lld)", (long long)sn->alloc_pods);
			break;
		case MISFIT_CPU:
			why = xasprintf("insufficient cpu (need %s, free %s)",
					skiff_format_cpu(cpu, a, sizeof(a)),
					skiff_format_cpu(sn->alloc_cpu - sn->used_cpu > 0
							     ? sn->alloc_cpu - sn->used_cpu
							     : 0,
							 f, sizeof(f)));
			break;
		case MISFIT_MEMORY:
			why = xasprintf("insufficient memory (need %s, free %s)",
					skiff_format_memory(mem, a, sizeof(a)),
					skiff_format_memory(sn->alloc_mem - sn->used_mem > 0
								? sn->alloc_mem - sn->used_mem
								: 0,
							    f, sizeof(f)));
			break;
		}
		_cleanup_free_ char *part = xasprintf("%s %s %s", shown ? "," : "", sn->name, why);
		if (len + strlen(part) + 1 > cap) {
			cap = (len + strlen(part) + 1) * 2;
			out = xrealloc(out, cap);
		}
		strcpy(out + len, part);
		len += strlen(part);
		shown++;
	}
	return out;
}

static void free_counts(void *p)
{
	free(p);
}

static int set_unschedulable(struct brain *b, const char *name, const char *msg)
{
	/* most passes find the same pods unschedulable for the same reason:
	 * told by the summary (a 64-bit hash of the message), no unpacking */
	const struct brain_pod *cur = brain_pod_get(b, name);
	if (cur->unschedulable && cur->message_hash == brain_str_hash(msg))
		return 0;
	Skiff__Pod *p = brain_copy(b, SKIFF_KIND_POD, name);
	Skiff__PodStatus *st = skiff_pod_status_ensure(p);
	skiff_set_str(&st->phase, "Pending");
	skiff_set_str(&st->reason, "Unschedulable");
	skiff_set_str(&st->message, msg);
	int r = brain_put(b, SKIFF_KIND_POD, &p->base);
	skiff_obj_free(&p->base);
	brain_event(b, "pod", name, "Warning", "FailedScheduling", "%s", msg);
	return r;
}

int brain_schedule(struct brain *b)
{
	struct sched s = { .b = b };
	size_t nn = skiff_store_count(b->store, SKIFF_KIND_NODE);
	s.nodes = xcalloc(nn + 1, sizeof(*s.nodes));
	s.node_index = skiff_map_new();
	s.spread = skiff_map_new();
	skiff_store_foreach(b->store, SKIFF_KIND_NODE, collect_node, &s);
	qsort(s.nodes, s.nnodes, sizeof(*s.nodes), cmp_node);
	for (size_t i = 0; i < s.nnodes; i++)
		skiff_map_put(s.node_index, s.nodes[i].name, (void *)(uintptr_t)(i + 1));
	skiff_store_foreach(b->store, SKIFF_KIND_POD, collect_pod, &s);
	if (s.npending)
		qsort(s.pending, s.npending, sizeof(*s.pending), cmp_pending);

	/* A pod of an owner whose identical sibling found no node this pass
	 * finds none either (usage only grows during a pass). */
	struct skiff_map *failed = skiff_map_new();
	int bound = 0;
	bool per_pod_events = s.npending <= 100;
	int zero[1] = { 0 };
	for (size_t i = 0; i < s.npending; i++) {
		/* pending[i].name points into the store entry, which a write
		 * to this very pod replaces: copy the name first. */
		_cleanup_free_ char *name = xstrdup(s.pending[i].name);
		const struct brain_pod *p = brain_pod_get(b, name);
		if (!p)
			continue;
		int64_t cpu = p->cpu_milli, mem = p->memory;
		const char *owner = *p->owner ? p->owner : NULL;
		_cleanup_free_ char *fkey =
		    owner ? xasprintf("%s/%s", owner, p->template_hash) : NULL;
		const char *cached = fkey ? skiff_map_get(failed, fkey) : NULL;
		if (cached) {
			set_unschedulable(b, name, cached);
			continue;
		}
		/* the pod as it will be written; its spec for the node selector */
		Skiff__Pod *np = brain_copy(b, SKIFF_KIND_POD, name);
		if (!np)
			continue;
		const Skiff__PodSpec *spec = p->has_selector ? np->spec : NULL;
		int *counts = owner ? spread_counts(&s, owner) : zero;
		ssize_t best = -1;
		int best_count = 0;
		double best_util = 0;
		for (size_t k = 0; k < s.nnodes; k++) {
			struct snode *sn = &s.nodes[k];
			if (node_fits(sn, spec, cpu, mem) != FIT)
				continue;
			int c = owner ? counts[k] : 0;
			double util = 0;
			if (sn->alloc_cpu > 0)
				util += (double)(sn->used_cpu + cpu) / (double)sn->alloc_cpu;
			if (sn->alloc_mem > 0)
				util += (double)(sn->used_mem + mem) / (double)sn->alloc_mem;
			util += (double)(sn->used_pods + 1) / (double)sn->alloc_pods;
			if (best < 0 || c < best_count || (c == best_count && util < best_util)) {
				best = (ssize_t)k;
				best_count = c;
				best_util = util;
			}
		}
		if (best < 0) {
			_cleanup_free_ char *msg = misfit_message(&s, spec, cpu, mem);
			skiff_obj_free(&np->base);
			set_unschedulable(b, name, msg);
			if (fkey)
				skiff_map_put(failed, fkey, xstrdup(msg));
			continue;
		}
		struct snode *sn = &s.nodes[best];
		skiff_set_str(&skiff_pod_spec_ensure(np)->node_name, sn->name);
		Skiff__PodStatus *st = skiff_pod_status_ensure(np);
		skiff_set_str(&st->phase, "Pending");
		skiff_set_str(&st->reason, "Scheduled");
		skiff_set_str(&st->message, "");
		skiff_set_str(&st->host_ip, sn->address);
		st->scheduled_ms = brain_now_ms(b);
		int r = brain_put(b, SKIFF_KIND_POD, &np->base);
		skiff_obj_free(&np->base);
		if (r < 0)
			break;
		sn->used_cpu += cpu;
		sn->used_mem += mem;
		sn->used_pods++;
		if (owner)
			counts[best]++;
		bound++;
		b->placements++;
		if (per_pod_events)
			brain_event(b, "pod", name, "Normal", "Scheduled", "assigned %s to %s",
				    name, sn->name);
	}
	if (bound)
		log_debug("scheduler: bound %d of %zu pending pods onto %zu nodes", bound,
			  s.npending, s.nnodes);
	skiff_map_free(failed, free_counts);
	skiff_map_free(s.spread, free_counts);
	skiff_map_free(s.node_index, NULL);
	free(s.pending);
	free(s.nodes);
	return bound;
}
