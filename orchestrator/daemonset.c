/* daemonset.c — the daemon set controller: one pod of the template on
 * every Ready node whose labels match the template's nodeSelector, bound
 * to it directly (the scheduler is not asked, as Kubernetes binds daemon
 * pods through node affinity); a node that joins gets its pod, a node that
 * leaves (deleted, lost, NotReady, relabelled) loses it. Pods are named
 * NAME-<5 characters>, owner_kind "DaemonSet", with the template's hash.
 *
 * Updates: RollingUpdate deletes pods of an old template while no more than
 * maxUnavailable (default 1) of the desired nodes lack a ready pod; a node
 * whose old pod is gone gets the new one (maxSurge 0: one pod per node at
 * a time). OnDelete replaces a pod only when someone deletes it. Failed
 * pods are deleted and replaced, as Kubernetes does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

struct dsnode {
	const char *name;
	bool eligible;
	const char *pod; /* its live pod (the newest when several) */
	bool pod_new, pod_ready, pod_terminating;
};

static bool node_selected(const Skiff__Node *n, const Skiff__PodSpec *spec)
{
	if (!brain_node_is_ready(n))
		return false;
	if (spec->n_node_selector == 0)
		return true;
	const Skiff__ObjectMeta *m = n->metadata;
	return m && skiff_selector_match(spec->node_selector, spec->n_node_selector, m->labels,
					 m->n_labels);
}

static int reconcile_one(struct brain *b, const char *name)
{
	const Skiff__DaemonSet *ds = brain_get(b, SKIFF_KIND_DAEMONSET, name);
	if (!ds || !ds->spec || !ds->spec->template_ || !ds->spec->template_->spec)
		return 0;
	char hash[11];
	skiff_template_hash(ds->spec->template_, hash);
	int writes = 0;
	struct brain_names nodes = brain_names(b, SKIFF_KIND_NODE);
	struct dsnode *dn = xcalloc(nodes.n + 1, sizeof(*dn));
	struct skiff_map *by_node = skiff_map_new(); /* node -> index + 1 */
	for (size_t i = 0; i < nodes.n; i++) {
		dn[i].name = nodes.v[i];
		dn[i].eligible = node_selected(brain_get(b, SKIFF_KIND_NODE, nodes.v[i]),
					       ds->spec->template_->spec);
		skiff_map_put(by_node, nodes.v[i], (void *)(uintptr_t)(i + 1));
	}
	size_t npods;
	char **pods = brain_pod_names(b, "DaemonSet", name, NULL, &npods);
	int misscheduled = 0;
	for (size_t i = 0; i < npods; i++) {
		const struct brain_pod *p = brain_pod_get(b, pods[i]);
		size_t idx = (size_t)(uintptr_t)skiff_map_get(by_node, p->node);
		struct dsnode *d = idx ? &dn[idx - 1] : NULL;
		if (p->terminating) {
			if (d)
				d->pod_terminating = true;
			continue;
		}
		if (!d || !d->eligible || streq(p->phase, "Failed")) {
			misscheduled += !d || !d->eligible;
			if (brain_pod_terminate(b, pods[i]) > 0)
				writes++;
			if (d)
				d->pod_terminating = true;
			continue;
		}
		if (d->pod) { /* two on one node: the other one goes */
			if (brain_pod_terminate(b, pods[i]) > 0)
				writes++;
			continue;
		}
		d->pod = pods[i];
		d->pod_new = streq(p->template_hash, hash);
		d->pod_ready = p->ready;
	}
	int desired = 0, current = 0, ready = 0, updated = 0;
	for (size_t i = 0; i < nodes.n; i++) {
		if (!dn[i].eligible)
			continue;
		desired++;
		current += dn[i].pod != NULL;
		ready += dn[i].pod && dn[i].pod_ready;
		updated += dn[i].pod && dn[i].pod_new;
	}
	/* rolling update: old pods go while the unavailable stay within budget */
	const Skiff__DeploymentStrategy *us = ds->spec->update_strategy;
	if (!us || !streq_ptr(us->type, "OnDelete")) {
		int max_unavail = 1;
		if (us && us->rolling_update)
			(void)skiff_int_or_percent(us->rolling_update->max_unavailable, desired,
						   false, &max_unavail);
		if (max_unavail < 1)
			max_unavail = 1;
		int unavailable = desired - ready;
		/* not-ready old pods first: deleting them costs nothing */
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < nodes.n; i++) {
				struct dsnode *d = &dn[i];
				if (!d->eligible || !d->pod || d->pod_new || d->pod_ready != pass)
					continue;
				if (d->pod_ready && unavailable >= max_unavail)
					continue;
				if (brain_pod_terminate(b, d->pod) > 0)
					writes++;
				unavailable += d->pod_ready;
				d->pod = NULL;
				d->pod_terminating = true;
				current--;
			}
	}
	int created = 0;
	for (size_t i = 0; i < nodes.n; i++) {
		struct dsnode *d = &dn[i];
		if (!d->eligible || d->pod || d->pod_terminating)
			continue;
		if (brain_pod_create(b, ds->spec->template_, brain_obj_namespace(&ds->base),
				     ds->metadata->name, "DaemonSet", ds->metadata->name, hash,
				     NULL, 0, d->name) >= 0)
			created++;
	}
	writes += created;
	if (created)
		brain_event(b, "daemonset", name, "Normal", "SuccessfulCreate", "created %d pod%s",
			    created, created == 1 ? "" : "s");

	Skiff__DaemonSet *nd = brain_copy(b, SKIFF_KIND_DAEMONSET, name);
	if (!nd->status) {
		nd->status = xmalloc(sizeof(*nd->status));
		skiff__daemon_set_status__init(nd->status);
	}
	Skiff__DaemonSetStatus *st = nd->status;
	size_t before_len;
	_cleanup_free_ uint8_t *before = skiff_obj_pack(&st->base, &before_len);
	st->desired_number_scheduled = desired;
	st->current_number_scheduled = current + created;
	st->number_ready = ready;
	st->number_available = ready;
	st->number_unavailable = desired - ready;
	st->updated_number_scheduled = updated + created;
	st->number_misscheduled = misscheduled;
	st->observed_generation = nd->metadata->generation;
	skiff_set_str(&st->template_hash, hash);
	size_t after_len;
	_cleanup_free_ uint8_t *after = skiff_obj_pack(&st->base, &after_len);
	if (after_len != before_len || memcmp(after, before, after_len) != 0)
		writes += brain_put(b, SKIFF_KIND_DAEMONSET, &nd->base) >= 0;
	skiff_obj_free(&nd->base);
	for (size_t i = 0; i < npods; i++)
		free(pods[i]);
	free(pods);
	for (size_t i = 0; i < nodes.n; i++)
		free(nodes.v[i]);
	free(nodes.v);
	free(dn);
	skiff_map_free(by_node, NULL);
	return writes;
}

int brain_daemonsets_reconcile(struct brain *b)
{
	struct brain_names all = brain_names(b, SKIFF_KIND_DAEMONSET);
	int writes = 0;
	for (size_t i = 0; i < all.n; i++) {
		writes += reconcile_one(b, all.v[i]);
		free(all.v[i]);
	}
	free(all.v);
	return writes + brain_orphans_terminate(b, "DaemonSet", SKIFF_KIND_DAEMONSET);
}
