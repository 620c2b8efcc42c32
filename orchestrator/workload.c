/* workload.c — what the pod controllers share: a new pod from a template
 * (deployment.c, daemonset.c, job.c) and the controllers' timer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "util.h"

int brain_pod_create(struct brain *b, const Skiff__PodTemplate *t, const char *ns,
		     const char *prefix, const char *owner_kind, const char *owner,
		     const char *hash, Skiff__KeyValue *const *extra, size_t n_extra,
		     const char *node)
{
	Skiff__Pod *p = xmalloc(sizeof(*p));
	skiff__pod__init(p);
	Skiff__PodTemplate *tc = (Skiff__PodTemplate *)skiff_msg_copy(&t->base);
	/* the template's metadata (labels) becomes the pod's */
	p->metadata = tc->metadata;
	tc->metadata = NULL;
	p->spec = tc->spec;
	tc->spec = NULL;
	skiff_obj_free(&tc->base);
	Skiff__ObjectMeta *m = skiff_meta_ensure(&p->base);
	for (size_t i = 0; i < n_extra; i++) {
		if (skiff_kv_get(m->labels, m->n_labels, extra[i]->key))
			continue;
		m->labels = xrealloc(m->labels, (m->n_labels + 1) * sizeof(*m->labels));
		m->labels[m->n_labels++] = (Skiff__KeyValue *)skiff_msg_copy(&extra[i]->base);
	}
	char suffix[8];
	_cleanup_free_ char *name = NULL, *key = NULL;
	do { /* 27^5 names: collisions happen with thousands of replicas */
		free(name);
		free(key);
		skiff_random_suffix(suffix, 5);
		name = xasprintf("%s-%s", prefix, suffix);
		key = brain_key(SKIFF_KIND_POD, ns, name);
	} while (brain_pod_get(b, key));
	skiff_set_str(&m->name, name);
	skiff_set_str(&m->namespace_, ns); /* a controller's pods are in its namespace */
	brain_meta_born(b, m);
	Skiff__PodSpec *spec = skiff_pod_spec_ensure(p);
	Skiff__PodStatus *st = skiff_pod_status_ensure(p);
	skiff_set_str(&st->phase, "Pending");
	if (node) {
		/* bound here, as the scheduler would (daemon sets) */
		const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, node);
		skiff_set_str(&spec->node_name, node);
		skiff_set_str(&st->reason, "Scheduled");
		if (n && n->status)
			skiff_set_str(&st->host_ip, n->status->address);
		st->scheduled_ms = m->created_ms;
	}
	skiff_set_str(&p->owner, owner);
	skiff_set_str(&p->owner_kind, owner_kind);
	skiff_set_str(&p->template_hash, hash);
	int ret = brain_put(b, SKIFF_KIND_POD, &p->base);
	skiff_obj_free(&p->base);
	return ret;
}

int brain_orphans_terminate(struct brain *b, const char *owner_kind, int kind)
{
	size_t n;
	int writes = 0;
	char **pods = brain_pod_names(b, owner_kind, NULL, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const struct brain_pod *p = brain_pod_get(b, pods[i]);
		if (!brain_get(b, kind, p->owner) && !p->terminating &&
		    brain_pod_terminate(b, pods[i]) > 0)
			writes++;
		free(pods[i]);
	}
	free(pods);
	return writes;
}

void brain_wake_at(struct brain *b, int64_t ms)
{
	if (ms > 0 && (b->wake_ms == 0 || ms < b->wake_ms))
		b->wake_ms = ms;
}
