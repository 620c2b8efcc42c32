/* ops.c — the operations the API exposes: apply (validate, default, store),
 * delete (a deployment's pods with it), scale, cordon/uncordon/drain and
 * rollout undo. Built on brain.c and terminate.c; api.c calls these. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "image.h"
#include "util.h"

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

/* Store obj; on failure free it and say so (the store's error). */
static int put_or_free(struct brain *b, int kind, ProtobufCMessage *obj, char **ret_errmsg)
{
	int r = brain_put(b, kind, obj);
	if (r < 0) {
		skiff_obj_free(obj);
		*ret_errmsg = xasprintf("store: %s", strerror(-r));
	}
	return r;
}

/* An image of the brain's store (skiffctl image load) whose config names
 * an Entrypoint or a Cmd. */
static bool brain_image_runnable(const char *image, void *userdata)
{
	_cleanup_free_ char *repo = NULL, *ref = NULL;
	if (skiff_image_name_parse(image, &repo, &ref) < 0 || skiff_image_digest_valid(ref))
		return false;
	_cleanup_free_ char *name = xasprintf("%s:%s", repo, ref);
	const Skiff__Image *img = brain_get(userdata, SKIFF_KIND_IMAGE, name);
	return img && (img->n_entrypoint > 0 || img->n_cmd > 0);
}

int brain_apply(struct brain *b, int kind, ProtobufCMessage *msg, bool create_only, bool dry_run,
		const char **ret_result, ProtobufCMessage **ret_obj, char **ret_errmsg)
{
	int r;
	if (kind == SKIFF_KIND_NODE) {
		/* Nodes are registered by agents; admins may change labels and
		 * schedulability of an existing one. */
		Skiff__Node *in = (Skiff__Node *)msg;
		if (!in->metadata || !brain_get(b, kind, in->metadata->name)) {
			*ret_errmsg =
			    xasprintf("metadata.name: node '%s' is not registered (nodes join "
				      "with skiff-agent)",
				      in->metadata ? in->metadata->name : "");
			return -ENOENT;
		}
	}
	r = skiff_obj_validate(kind, msg, brain_image_runnable, b, ret_errmsg);
	if (r < 0)
		return r;
	Skiff__ObjectMeta *m = SKIFF_META(msg);
	if (skiff_kind_is_namespaced(kind)) {
		r = brain_namespace_writable(b, m, ret_errmsg);
		if (r < 0)
			return r;
	} else if (m->namespace_ && *m->namespace_) {
		skiff_set_str(&m->namespace_, ""); /* cluster-scoped: as Kubernetes, ignored */
	}
	_cleanup_free_ char *key = brain_obj_key(kind, msg);
	const ProtobufCMessage *cur = brain_get(b, kind, key);
	if (cur && create_only) {
		*ret_errmsg = xasprintf("%s '%s' already exists", skiff_kind_name(kind), m->name);
		return -EEXIST;
	}
	ProtobufCMessage *obj;
	if (!cur) {
		obj = skiff_obj_copy(kind, msg);
		Skiff__ObjectMeta *om = skiff_meta_ensure(obj);
		brain_meta_born(b, om);
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
		case SKIFF_KIND_DAEMONSET:
		case SKIFF_KIND_JOB:
		case SKIFF_KIND_CRONJOB: {
			/* status is field 3 of each (objects.c checks the layout) */
			Skiff__Job *j = (Skiff__Job *)obj;
			skiff_obj_free((ProtobufCMessage *)j->status);
			j->status = NULL;
			if (kind == SKIFF_KIND_JOB)
				skiff_set_str(&j->owner, "");
			break;
		}
		case SKIFF_KIND_POD: {
			Skiff__Pod *p = (Skiff__Pod *)obj;
			skiff_obj_free((ProtobufCMessage *)p->status);
			p->status = NULL;
			skiff_set_str(&skiff_pod_status_ensure(p)->phase, "Pending");
			skiff_set_str(&p->owner, "");
			skiff_set_str(&p->owner_kind, "");
			skiff_set_str(&p->template_hash, "");
			break;
		}
		case SKIFF_KIND_NAMESPACE: {
			Skiff__Namespace *ns = (Skiff__Namespace *)obj;
			skiff_obj_free((ProtobufCMessage *)ns->status);
			ns->status = xmalloc(sizeof(*ns->status));
			skiff__namespace_status__init(ns->status);
			skiff_set_str(&ns->status->phase, "Active");
			break;
		}
		}
		*ret_result = "created";
	} else {
		const Skiff__ObjectMeta *cm = SKIFF_META(cur);
		/* a namespace has no spec (its second member is its status) */
		bool spec_same = kind == SKIFF_KIND_NAMESPACE ||
				 msg_equal(*spec_of((ProtobufCMessage *)cur), *spec_of(msg));
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
			*ret_errmsg =
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
		r = put_or_free(b, kind, obj, ret_errmsg);
		if (r < 0)
			return r;
		b->resync = true;
	}
	if (ret_obj)
		*ret_obj = obj;
	else
		skiff_obj_free(obj);
	return 0;
}

int brain_remove(struct brain *b, int kind, const char *name, ProtobufCMessage **ret_obj,
		 char **ret_errmsg)
{
	ProtobufCMessage *copy = brain_copy(b, kind, name);
	char ns[64];
	if (!copy) {
		*ret_errmsg = xasprintf("%s '%s' not found", skiff_kind_name(kind),
					name ? skiff_key_split(name, ns) : "");
		return -ENOENT;
	}
	if (kind == SKIFF_KIND_NAMESPACE)
		return brain_namespace_remove(b, (Skiff__Namespace *)copy, ret_obj, ret_errmsg);
	_cleanup_free_ char *key = brain_obj_key(kind, copy);
	if (kind == SKIFF_KIND_CRONJOB) {
		/* Cascade: its jobs, and their pods, go with it. */
		const char *cns = brain_obj_namespace(copy);
		const char *cname = SKIFF_META(copy)->name;
		struct brain_names jobs = brain_names(b, SKIFF_KIND_JOB);
		for (size_t i = 0; i < jobs.n; i++) {
			const Skiff__Job *j = brain_get(b, SKIFF_KIND_JOB, jobs.v[i]);
			if (j && streq(j->owner, cname) &&
			    streq(brain_obj_namespace(&j->base), cns))
				(void)brain_job_remove(b, jobs.v[i]);
			free(jobs.v[i]);
		}
		free(jobs.v);
	}
	const char *owner_kind = kind == SKIFF_KIND_DEPLOYMENT	? ""
				 : kind == SKIFF_KIND_DAEMONSET ? "DaemonSet"
				 : kind == SKIFF_KIND_JOB	? "Job"
								: NULL;
	if (owner_kind) {
		/* Cascade: the controller's pods go with it. */
		size_t n;
		char **names = brain_pod_names(b, owner_kind, key, NULL, &n);
		for (size_t i = 0; i < n; i++) {
			(void)brain_pod_terminate(b, names[i]);
			free(names[i]);
		}
		free(names);
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
		*ret_errmsg = xasprintf("store: %s", strerror(-r));
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
		char **ret_errmsg)
{
	if (replicas < 0 || replicas > 100000) {
		*ret_errmsg = xasprintf("replicas: must be 0-100000, got %d", replicas);
		return -EINVAL;
	}
	Skiff__Deployment *d = brain_copy(b, SKIFF_KIND_DEPLOYMENT, name);
	char ns[64];
	if (!d) {
		*ret_errmsg =
		    xasprintf("deployment '%s' not found", name ? skiff_key_split(name, ns) : "");
		return -ENOENT;
	}
	if (d->spec->replicas != replicas) {
		d->spec->replicas = replicas;
		d->metadata->generation++;
		int r = put_or_free(b, SKIFF_KIND_DEPLOYMENT, &d->base, ret_errmsg);
		if (r < 0)
			return r;
		brain_event(b, "deployment", name, "Normal", "ScalingReplicaSet",
			    "scaled to %d replicas", replicas);
		b->resync = true;
	}
	*ret = d;
	return 0;
}

int brain_node_action(struct brain *b, const char *name, const char *action, Skiff__Node **ret,
		      char ***ret_evicted, size_t *ret_n, char **ret_errmsg)
{
	bool cordon;
	if (streq_ptr(action, "cordon") || streq_ptr(action, "drain"))
		cordon = true;
	else if (streq_ptr(action, "uncordon"))
		cordon = false;
	else {
		*ret_errmsg = xasprintf("action: must be cordon, uncordon or drain, got '%s'",
					action ? action : "");
		return -EINVAL;
	}
	Skiff__Node *n = brain_copy(b, SKIFF_KIND_NODE, name);
	if (!n) {
		*ret_errmsg = xasprintf("node '%s' not found", name ? name : "");
		return -ENOENT;
	}
	Skiff__NodeSpec *spec = skiff_node_spec_ensure(n);
	if (spec->unschedulable != cordon) {
		spec->unschedulable = cordon;
		int r = put_or_free(b, SKIFF_KIND_NODE, &n->base, ret_errmsg);
		if (r < 0)
			return r;
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
		       Skiff__Deployment **ret, char **ret_msg, char **ret_errmsg)
{
	Skiff__Deployment *d = brain_copy(b, SKIFF_KIND_DEPLOYMENT, name);
	char ns[64];
	if (!d) {
		*ret_errmsg =
		    xasprintf("deployment '%s' not found", name ? skiff_key_split(name, ns) : "");
		return -ENOENT;
	}
	name = d->metadata->name; /* messages name it without its namespace */
	_cleanup_free_ char *key = brain_obj_key(SKIFF_KIND_DEPLOYMENT, &d->base);
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
			*ret_errmsg = xasprintf("to_revision: deployment '%s' has no revision %lld",
						name, (long long)to_revision);
		else
			*ret_errmsg = xasprintf("deployment '%s' has no previous revision to roll "
						"back to",
						name);
		skiff_obj_free(&d->base);
		return -ENOENT;
	}
	int64_t rev = target->revision;
	SWAP(d->spec->template_, target->template_);
	d->metadata->generation++;
	int r = put_or_free(b, SKIFF_KIND_DEPLOYMENT, &d->base, ret_errmsg);
	if (r < 0)
		return r;
	brain_event(b, "deployment", key, "Normal", "RolledBack", "rolled back to revision %lld",
		    (long long)rev);
	*ret_msg =
	    xasprintf("deployment.apps/%s rolled back to revision %lld", name, (long long)rev);
	b->resync = true;
	*ret = d;
	return 0;
}
