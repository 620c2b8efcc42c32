/* namespaces.c — namespaces as Kubernetes has them: "default" exists from
 * the start and cannot be deleted; a namespaced object may only be written
 * into a namespace that exists and is not terminating; deleting a namespace
 * marks it Terminating, and the namespace controller then deletes
 * everything in it (a deployment with its pods, pods gracefully) and, once
 * nothing is left, the namespace itself. Built on brain.c and ops.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static Skiff__Namespace *namespace_new(struct brain *b, const char *name)
{
	Skiff__Namespace *ns = xmalloc(sizeof(*ns));
	skiff__namespace__init(ns);
	Skiff__ObjectMeta *m = skiff_meta_ensure(&ns->base);
	skiff_set_str(&m->name, name);
	brain_meta_born(b, m);
	ns->status = xmalloc(sizeof(*ns->status));
	skiff__namespace_status__init(ns->status);
	skiff_set_str(&ns->status->phase, "Active");
	return ns;
}

int brain_namespaces_init(struct brain *b)
{
	if (brain_get(b, SKIFF_KIND_NAMESPACE, SKIFF_DEFAULT_NAMESPACE))
		return 0;
	Skiff__Namespace *ns = namespace_new(b, SKIFF_DEFAULT_NAMESPACE);
	int r = brain_put(b, SKIFF_KIND_NAMESPACE, &ns->base);
	skiff_obj_free(&ns->base);
	return r;
}

static bool namespace_terminating(const Skiff__Namespace *ns)
{
	return (ns->metadata && ns->metadata->deleted_ms > 0) ||
	       (ns->status && streq_ptr(ns->status->phase, "Terminating"));
}

int brain_namespace_writable(struct brain *b, Skiff__ObjectMeta *m, char **ret_errmsg)
{
	if (!m->namespace_ || !*m->namespace_)
		skiff_set_str(&m->namespace_, SKIFF_DEFAULT_NAMESPACE);
	const Skiff__Namespace *ns = brain_get(b, SKIFF_KIND_NAMESPACE, m->namespace_);
	if (!ns) {
		*ret_errmsg = xasprintf("namespaces \"%s\" not found", m->namespace_);
		return -ENOENT;
	}
	if (namespace_terminating(ns)) {
		*ret_errmsg = xasprintf("unable to create new content in namespace %s because it "
					"is being terminated",
					m->namespace_);
		return -EPERM;
	}
	return 0;
}

int brain_namespace_remove(struct brain *b, Skiff__Namespace *ns, ProtobufCMessage **ret_obj,
			   char **ret_errmsg)
{
	const char *name = ns->metadata->name;
	if (streq(name, SKIFF_DEFAULT_NAMESPACE)) {
		*ret_errmsg = xasprintf("namespaces \"%s\" is forbidden: this namespace may not be "
					"deleted",
					name);
		skiff_obj_free(&ns->base);
		return -EPERM;
	}
	if (!namespace_terminating(ns)) {
		ns->metadata->deleted_ms = brain_now_ms(b);
		if (!ns->status) {
			ns->status = xmalloc(sizeof(*ns->status));
			skiff__namespace_status__init(ns->status);
		}
		skiff_set_str(&ns->status->phase, "Terminating");
		int r = brain_put(b, SKIFF_KIND_NAMESPACE, &ns->base);
		if (r < 0) {
			skiff_obj_free(&ns->base);
			*ret_errmsg = xasprintf("store: %s", strerror(-r));
			return r;
		}
		brain_event(b, "namespace", name, "Normal", "Terminating",
			    "namespace %s is terminating: deleting everything in it", name);
		b->resync = true;
	}
	if (ret_obj)
		*ret_obj = &ns->base;
	else
		skiff_obj_free(&ns->base);
	return 0;
}

struct ns_content {
	const char *prefix; /* "NS/" */
	size_t prefix_len;
	int kind;
	char **keys;
	size_t n;
	size_t left; /* objects still there (terminating pods too) */
};

static int collect_content(const struct skiff_store_obj *o, void *userdata)
{
	struct ns_content *c = userdata;
	if (strncmp(o->name, c->prefix, c->prefix_len) != 0)
		return 0;
	c->left++;
	if (c->kind == SKIFF_KIND_POD) {
		const struct brain_pod *p = o->decoded;
		if (p && p->terminating)
			return 0; /* on its way out */
	}
	c->keys = xrealloc(c->keys, (c->n + 1) * sizeof(*c->keys));
	c->keys[c->n++] = xstrdup(o->name);
	return 0;
}

/* Delete what is in namespace name; returns the objects that were there
 * before this pass (0: it is empty). */
static size_t empty_namespace(struct brain *b, const char *name, int *ret_writes)
{
	_cleanup_free_ char *prefix = xasprintf("%s/", name);
	/* owners first (a deployment takes its pods along), then every other
	 * namespaced kind, events last (deletions may record some) */
	int kinds[SKIFF_KIND_MAX + 3], nk = 0;
	kinds[nk++] = SKIFF_KIND_DEPLOYMENT;
	kinds[nk++] = SKIFF_KIND_SERVICE;
	kinds[nk++] = SKIFF_KIND_POD;
	for (int k = 0; k < SKIFF_KIND_MAX; k++)
		if (k != SKIFF_KIND_DEPLOYMENT && k != SKIFF_KIND_SERVICE && k != SKIFF_KIND_POD &&
		    k != SKIFF_KIND_EVENT)
			kinds[nk++] = k;
	kinds[nk++] = SKIFF_KIND_EVENT;
	size_t left = 0;
	for (int i = 0; i < nk; i++) {
		int kind = kinds[i];
		if (!skiff_kind_is_namespaced(kind))
			continue;
		struct ns_content c = { prefix, strlen(prefix), kind, NULL, 0, 0 };
		skiff_store_foreach(b->store, kind, collect_content, &c);
		left += c.left;
		for (size_t j = 0; j < c.n; j++) {
			_cleanup_free_ char *err = NULL;
			int r = brain_remove(b, kind, c.keys[j], NULL, &err);
			if (r >= 0)
				(*ret_writes)++;
			else if (r != -ENOENT)
				log_warn("namespace %s: cannot delete %s %s: %s", name,
					 skiff_kind_name(kind), c.keys[j], err);
			free(c.keys[j]);
		}
		free(c.keys);
	}
	return left;
}

static int collect_terminating(const struct skiff_store_obj *o, void *userdata)
{
	struct ns_content *c = userdata;
	const Skiff__Namespace *ns = o->decoded;
	if (ns && namespace_terminating(ns)) {
		c->keys = xrealloc(c->keys, (c->n + 1) * sizeof(*c->keys));
		c->keys[c->n++] = xstrdup(o->name);
	}
	return 0;
}

int brain_namespaces_reconcile(struct brain *b)
{
	struct ns_content t = { 0 };
	skiff_store_foreach(b->store, SKIFF_KIND_NAMESPACE, collect_terminating, &t);
	int writes = 0;
	for (size_t i = 0; i < t.n; i++) {
		if (empty_namespace(b, t.keys[i], &writes) == 0) {
			/* nothing was left: the namespace goes (its events went
			 * with the last pass) */
			if (brain_delete(b, SKIFF_KIND_NAMESPACE, t.keys[i]) >= 0) {
				log_info("namespace %s deleted", t.keys[i]);
				writes++;
			}
		}
		free(t.keys[i]);
	}
	free(t.keys);
	return writes;
}
