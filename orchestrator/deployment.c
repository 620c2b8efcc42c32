/* deployment.c — the deployment controller (level-triggered, idempotent).
 *
 * For each deployment: its pods are those whose owner is the deployment;
 * "new" pods carry the hash of the current template, "old" ones another.
 * It creates pods up to replicas (+maxSurge while rolling), deletes old pods
 * as far as maxUnavailable allows, deletes the newest pods on scale-down,
 * replaces Failed pods, deletes orphans, and
 * writes status (counts, template hash, revision history for rollout undo).
 * Deletions are graceful (brain_pod_terminate()): a Terminating pod is not a
 * replica any more, as in Kubernetes: it is replaced at once, never deleted
 * twice, counts neither as available nor against maxSurge (replicas +
 * maxSurge bounds the live pods); Recreate waits until the old pods are gone.
 * A Succeeded pod stays and still counts as a replica: it is not recreated
 * (a deployment's pods restart their containers, restartPolicy Always, as
 * Kubernetes requires and apply checks, so only a deployment stored before
 * that rule had pods that could complete). Pods of other controllers
 * (owner_kind DaemonSet, Job) are not this controller's.
 * It keeps no memory between passes: a brain restarted mid-action sees the
 * store and carries on, so pods are neither lost nor doubled.
 *
 * Pod names: <deployment>-<template hash (10 hex)>-<5 random characters>.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

struct opod {
	char *name;
	char hash[16];
	int64_t created_ms;
	bool ready, bound, finished, terminating;
};

struct owned {
	struct opod *pods;
	size_t n, cap;
};

static int group_pod(const struct skiff_store_obj *o, void *userdata)
{
	struct skiff_map *by_owner = userdata;
	const struct brain_pod *p = o->decoded;
	if (!p || !*p->owner || *p->owner_kind)
		return 0;
	struct owned *ow = skiff_map_get(by_owner, p->owner);
	if (!ow) {
		ow = xcalloc(1, sizeof(*ow));
		skiff_map_put(by_owner, p->owner, ow);
	}
	if (ow->n == ow->cap) {
		ow->cap = ow->cap ? ow->cap * 2 : 8;
		ow->pods = xrealloc(ow->pods, ow->cap * sizeof(*ow->pods));
	}
	struct opod *op = &ow->pods[ow->n++];
	op->name = xstrdup(o->name);
	snprintf(op->hash, sizeof(op->hash), "%s", p->template_hash);
	op->created_ms = p->created_ms;
	op->ready = p->ready;
	op->bound = *p->node != 0;
	op->finished = streq(p->phase, "Failed");
	op->terminating = p->terminating;
	return 0;
}

static void free_owned(void *p)
{
	struct owned *ow = p;
	for (size_t i = 0; i < ow->n; i++)
		free(ow->pods[i].name);
	free(ow->pods);
	free(ow);
}

/* newest first; among equals, unbound and not-ready ones first */
static int cmp_delete_order(const void *a, const void *b)
{
	const struct opod *x = a, *y = b;
	if (x->created_ms != y->created_ms)
		return x->created_ms > y->created_ms ? -1 : 1;
	if (x->ready != y->ready)
		return x->ready ? 1 : -1;
	return strcmp(y->name, x->name);
}

static int create_pod(struct brain *b, const Skiff__Deployment *d, const Skiff__PodTemplate *tmpl,
		      const char *hash)
{
	_cleanup_free_ char *prefix = xasprintf("%s-%s", d->metadata->name, hash);
	return brain_pod_create(b, tmpl, brain_obj_namespace(&d->base), prefix, "",
				d->metadata->name, hash, NULL, 0, NULL);
}

static bool status_equal(const Skiff__DeploymentStatus *a, const Skiff__DeploymentStatus *b)
{
	if (!a || !b)
		return a == b;
	size_t la, lb;
	_cleanup_free_ uint8_t *pa = skiff_obj_pack(&a->base, &la);
	_cleanup_free_ uint8_t *pb = skiff_obj_pack(&b->base, &lb);
	return la == lb && memcmp(pa, pb, la) == 0;
}

/* Record the current template in the history (moving it to the newest
 * revision when it was there already, as a rollback does) and trim it. */
static void update_history(Skiff__Deployment *d, Skiff__DeploymentStatus *st, const char *hash,
			   int64_t now)
{
	if (streq_ptr(st->template_hash, hash) && st->revision > 0)
		return;
	int64_t max = 0;
	Skiff__DeploymentRevision *found = NULL;
	for (size_t i = 0; i < st->n_history; i++) {
		if (st->history[i]->revision > max)
			max = st->history[i]->revision;
		if (streq(st->history[i]->template_hash, hash))
			found = st->history[i];
	}
	if (!found) {
		found = xmalloc(sizeof(*found));
		skiff__deployment_revision__init(found);
		skiff_set_str(&found->template_hash, hash);
		found->template_ = (Skiff__PodTemplate *)skiff_msg_copy(&d->spec->template_->base);
		st->history = xrealloc(st->history, (st->n_history + 1) * sizeof(*st->history));
		st->history[st->n_history++] = found;
	}
	found->revision = max + 1;
	found->created_ms = now;
	st->revision = max + 1;
	skiff_set_str(&st->template_hash, hash);
	int limit = d->spec->revision_history_limit > 0 ? d->spec->revision_history_limit : 10;
	while (st->n_history > (size_t)limit + 1) { /* the current one plus `limit` old ones */
		size_t oldest = 0;
		for (size_t i = 1; i < st->n_history; i++)
			if (st->history[i]->revision < st->history[oldest]->revision)
				oldest = i;
		skiff_obj_free(&st->history[oldest]->base);
		st->history[oldest] = st->history[--st->n_history];
	}
}

static int reconcile_one(struct brain *b, const char *name, struct owned *ow)
{
	const Skiff__Deployment *d = brain_get(b, SKIFF_KIND_DEPLOYMENT, name);
	if (!d || !d->spec || !d->spec->template_)
		return 0;
	char hash[11];
	skiff_template_hash(d->spec->template_, hash);
	const Skiff__PodTemplate *tmpl = d->spec->template_;
	/* paused: the revision rolled out so far stays the one pods are made of */
	if (d->spec->paused && d->status && *d->status->template_hash &&
	    !streq(d->status->template_hash, hash))
		for (size_t i = 0; i < d->status->n_history; i++)
			if (streq(d->status->history[i]->template_hash, d->status->template_hash) &&
			    d->status->history[i]->template_) {
				tmpl = d->status->history[i]->template_;
				snprintf(hash, sizeof(hash), "%s", d->status->template_hash);
			}
	int replicas = d->spec->replicas, writes = 0, r;
	struct owned empty = { 0 };
	if (!ow)
		ow = &empty;

	/* Failed pods are replaced; terminating ones only wait */
	size_t live = 0;
	int terminating = 0, terminating_old = 0;
	for (size_t i = 0; i < ow->n; i++) {
		if (ow->pods[i].terminating) {
			terminating++;
			terminating_old += !streq(ow->pods[i].hash, hash);
			free(ow->pods[i].name);
			continue;
		}
		if (ow->pods[i].finished) {
			brain_event(b, "deployment", name, "Normal", "ReplacingPod",
				    "pod %s failed; replacing it", ow->pods[i].name);
			if (brain_pod_terminate(b, ow->pods[i].name) >= 0)
				writes++;
			free(ow->pods[i].name);
			continue;
		}
		ow->pods[live++] = ow->pods[i];
	}
	ow->n = live;

	struct opod *newp = xcalloc(ow->n + 1, sizeof(*newp));
	struct opod *oldp = xcalloc(ow->n + 1, sizeof(*oldp));
	size_t nnew = 0, nold = 0;
	int ready_new = 0, ready_old = 0;
	for (size_t i = 0; i < ow->n; i++) {
		if (streq(ow->pods[i].hash, hash)) {
			newp[nnew++] = ow->pods[i];
			ready_new += ow->pods[i].ready;
		} else {
			oldp[nold++] = ow->pods[i];
			ready_old += ow->pods[i].ready;
		}
	}
	qsort(newp, nnew, sizeof(*newp), cmp_delete_order);
	/* old pods: not-ready ones go first, then the newest */
	qsort(oldp, nold, sizeof(*oldp), cmp_delete_order);
	for (size_t i = 0, j = 0; i < nold; i++)
		if (!oldp[i].ready) {
			struct opod t = oldp[i];
			memmove(&oldp[j + 1], &oldp[j], (i - j) * sizeof(*oldp));
			oldp[j++] = t;
		}

	bool recreate = d->spec->strategy && streq_ptr(d->spec->strategy->type, "Recreate");
	int surge = 0, unavail = 0;
	if (!recreate && d->spec->strategy && d->spec->strategy->rolling_update) {
		(void)skiff_int_or_percent(d->spec->strategy->rolling_update->max_surge, replicas,
					   true, &surge);
		(void)skiff_int_or_percent(d->spec->strategy->rolling_update->max_unavailable,
					   replicas, false, &unavail);
		if (surge == 0 && unavail == 0)
			unavail = 1;
	} else if (!recreate) {
		surge = replicas > 0 ? (replicas + 3) / 4 : 0;
		unavail = replicas / 4;
		if (surge == 0 && unavail == 0)
			unavail = 1;
	}

	int created = 0, deleted = 0, deleted_new = 0;
	if (recreate) {
		for (size_t i = 0; i < nold; i++)
			if (brain_pod_terminate(b, oldp[i].name) >= 0)
				deleted++;
		if (nold == 0 && terminating_old == 0)
			for (int i = (int)nnew; i < replicas; i++)
				if (create_pod(b, d, tmpl, hash) >= 0)
					created++;
	} else {
		int total = (int)(nnew + nold);
		int want = replicas - (int)nnew;
		int room = replicas + surge - total;
		int n = want < room ? want : room;
		for (int i = 0; i < n; i++) {
			r = create_pod(b, d, tmpl, hash);
			if (r < 0)
				break;
			created++;
		}
		int available = ready_new + ready_old;
		int min_available = replicas - unavail;
		int budget = available - min_available;
		total += created;
		for (size_t i = 0; i < nold; i++) {
			bool excess = total > replicas + surge;
			if (oldp[i].ready && budget <= 0 && !excess)
				continue;
			if (brain_pod_terminate(b, oldp[i].name) < 0)
				continue;
			deleted++;
			total--;
			if (oldp[i].ready)
				budget--;
		}
		/* scale down: newest new pods first */
		for (size_t i = 0; nnew > (size_t)replicas && i < nnew - (size_t)replicas; i++)
			if (brain_pod_terminate(b, newp[i].name) >= 0) {
				deleted++;
				deleted_new++;
			}
	}
	writes += created + deleted;
	if (created)
		log_debug("deployment %s: created %d pods", name, created);
	if (created && created <= 100)
		brain_event(b, "deployment", name, "Normal", "ScalingUp", "created %d pod%s",
			    created, created == 1 ? "" : "s");
	if (deleted)
		brain_event(b, "deployment", name, "Normal", "ScalingDown", "deleted %d pod%s",
			    deleted, deleted == 1 ? "" : "s");

	/* status */
	d = brain_get(b, SKIFF_KIND_DEPLOYMENT, name);
	Skiff__Deployment *nd = brain_copy(b, SKIFF_KIND_DEPLOYMENT, name);
	Skiff__DeploymentStatus *st = skiff_deployment_status_ensure(nd);
	int cur_new = (int)nnew + created - deleted_new;
	int cur_total = (int)(nnew + nold) + created - deleted;
	st->observed_generation = nd->metadata->generation;
	st->replicas = cur_total;
	st->updated_replicas = cur_new;
	st->ready_replicas = ready_new + ready_old;
	st->available_replicas = st->ready_replicas;
	st->unavailable_replicas =
	    replicas > st->available_replicas ? replicas - st->available_replicas : 0;
	update_history(nd, st, hash, brain_now_ms(b));
	const char *cond = "Progressing";
	_cleanup_free_ char *msg = NULL;
	if (nold == 0 && cur_total == replicas && ready_new >= replicas) {
		cond = "Available";
		msg = xasprintf("%d of %d replicas available", ready_new, replicas);
	} else if (nold > 0) {
		msg = xasprintf("rolling out revision %lld: %d of %d updated, %d old remaining",
				(long long)st->revision, cur_new, replicas, cur_total - cur_new);
	} else {
		msg = xasprintf("%d of %d replicas available", ready_new, replicas);
	}
	if (terminating + deleted > 0) {
		char *m2 = xasprintf("%s, %d terminating", msg, terminating + deleted);
		free(msg);
		msg = m2;
	}
	if (d->spec->paused) {
		char *m2 = xasprintf("paused (kubectl rollout resume rolls out changes); %s", msg);
		free(msg);
		msg = m2;
	}
	skiff_set_str(&st->condition, cond);
	skiff_set_str(&st->message, msg);
	if (!status_equal(d->status, st)) {
		r = brain_put(b, SKIFF_KIND_DEPLOYMENT, &nd->base);
		if (r >= 0)
			writes++;
	}
	skiff_obj_free(&nd->base);
	free(newp);
	free(oldp);
	return writes;
}

int brain_deployments_reconcile(struct brain *b)
{
	struct skiff_map *by_owner = skiff_map_new();
	skiff_store_foreach(b->store, SKIFF_KIND_POD, group_pod, by_owner);
	struct brain_names deps = brain_names(b, SKIFF_KIND_DEPLOYMENT);
	int writes = 0;
	for (size_t i = 0; i < deps.n; i++) {
		struct owned *ow = skiff_map_remove(by_owner, deps.v[i]);
		writes += reconcile_one(b, deps.v[i], ow);
		if (ow)
			free_owned(ow);
		free(deps.v[i]);
	}
	free(deps.v);
	/* what is left has no deployment: orphans of a deletion cut short */
	size_t it = 0;
	void *cur = NULL, *v;
	const char *k;
	while (skiff_map_next(by_owner, &it, &cur, &k, &v)) {
		struct owned *ow = v;
		for (size_t i = 0; i < ow->n; i++)
			if (!ow->pods[i].terminating &&
			    brain_pod_terminate(b, ow->pods[i].name) > 0)
				writes++;
	}
	skiff_map_free(by_owner, free_owned);
	return writes;
}
