/* watch.c — WATCH streams: the current objects first (from_revision 0) or the
 * changes after a revision from the store's ring, then every change as it
 * becomes durable, filtered by kind, labels and node. A watcher whose
 * revision has left the ring, or that does not read fast enough, gets its
 * stream ended with ESTALE ("relist"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "selector.h"
#include "util.h"

#define WATCH_MAX_BACKLOG (16u << 20)

struct watcher {
	struct watcher *next;
	struct daemon *d;
	struct skiff_rpc_call *call;
	int kind; /* -1: every kind */
	Skiff__KeyValue **sel;
	size_t nsel;
	struct skiff_selector selector; /* WatchRequest.selector */
	char *node;
	char *ns;	   /* namespaced kinds: only this namespace's (NULL: all) */
	uint64_t revision; /* sent up to here */
	bool dead;
};

static void watcher_free(struct watcher *w)
{
	for (size_t i = 0; i < w->nsel; i++)
		skiff_obj_free(&w->sel[i]->base);
	free(w->sel);
	skiff_selector_clear(&w->selector);
	free(w->node);
	free(w->ns);
	free(w);
}

static void watcher_unlink(struct daemon *d, struct watcher *w)
{
	for (struct watcher **pp = &d->watchers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

static void watch_cancel(struct skiff_rpc_call *call, void *userdata)
{
	(void)call;
	struct watcher *w = userdata;
	watcher_unlink(w->d, w);
	watcher_free(w);
}

static bool matches(struct watcher *w, int kind, const ProtobufCMessage *obj)
{
	if (w->kind >= 0 && kind != w->kind)
		return false;
	if (w->kind < 0 && kind >= SKIFF_KIND_TOKEN && kind <= SKIFF_KIND_IMAGE)
		return false; /* PKI records and images only to who asks for them by kind */
	if (!obj)
		return false;
	const Skiff__ObjectMeta *m = SKIFF_META(obj);
	if (w->ns && skiff_kind_is_namespaced(kind) &&
	    !streq(w->ns,
		   m && m->namespace_ && *m->namespace_ ? m->namespace_ : SKIFF_DEFAULT_NAMESPACE))
		return false;
	if (w->nsel && (!m || !skiff_selector_match(w->sel, w->nsel, m->labels, m->n_labels)))
		return false;
	if (w->selector.n && (!m || !skiff_selector_matches(&w->selector, m->labels, m->n_labels)))
		return false;
	if (w->node && kind == SKIFF_KIND_POD &&
	    !streq(skiff_pod_node((const Skiff__Pod *)obj), w->node))
		return false;
	return true;
}

static int send_event(struct watcher *w, const char *type, int kind, ProtobufCMessage *obj,
		      uint64_t rev)
{
	Skiff__WatchEvent ev = SKIFF__WATCH_EVENT__INIT;
	Skiff__Object o;
	skiff_obj_wrap(&o, kind, obj);
	ev.type = (char *)type;
	ev.object = &o;
	ev.revision = rev;
	return skiff_rpc_call_stream(w->call, &ev.base);
}

static void end_stale(struct watcher *w, const char *why)
{
	skiff_rpc_call_set_cancel(w->call, NULL, NULL);
	skiff_rpc_call_end(w->call, -ESTALE, why);
	w->dead = true;
}

static int feed_change(const struct skiff_store_change *c, void *userdata)
{
	struct watcher *w = userdata;
	w->revision = c->revision;
	if (w->kind >= 0 && c->kind != w->kind)
		return 0;
	_cleanup_(skiff_obj_freep) ProtobufCMessage *obj =
	    skiff_obj_unpack(c->kind, c->data, c->len);
	if (!matches(w, c->kind, obj))
		return 0;
	const char *type = c->op == SKIFF_STORE_DELETE ? "DELETED"
			   : c->created		       ? "ADDED"
						       : "MODIFIED";
	if (send_event(w, type, c->kind, obj, c->revision) < 0)
		return -EIO;
	return 0;
}

static void feed_one(struct daemon *d, struct watcher *w)
{
	if (skiff_rpc_conn_output_pending(skiff_rpc_call_conn(w->call)) > WATCH_MAX_BACKLOG) {
		end_stale(w, "watch fell behind (the client reads too slowly); relist and watch "
			     "again");
		return;
	}
	int r = skiff_store_changes_since(d->brain->store, w->revision, feed_change, w);
	if (r == -ESTALE)
		end_stale(w, "the requested revision is no longer available; relist and watch "
			     "again");
}

struct initial {
	struct watcher *w;
	int kind;
	int r;
};

static int send_initial(const struct skiff_store_obj *o, void *userdata)
{
	struct initial *in = userdata;
	ProtobufCMessage *obj = o->decoded;
	_cleanup_(skiff_obj_freep) ProtobufCMessage *owned = NULL;
	if (in->kind == SKIFF_KIND_POD) { /* stored packed, with a summary */
		const struct brain_pod *sum = o->decoded;
		if (sum && in->w->node && !streq(sum->node, in->w->node))
			return 0;
		obj = owned = skiff_obj_unpack(in->kind, o->data, o->len);
	}
	if (!matches(in->w, in->kind, obj))
		return 0;
	if (send_event(in->w, "ADDED", in->kind, obj, o->revision) < 0)
		return -EIO;
	return 0;
}

int daemon_watch_start(struct daemon *d, struct skiff_rpc_call *call,
		       const Skiff__WatchRequest *req)
{
	int kind = -1;
	if (*req->kind) {
		kind = skiff_kind_parse(req->kind);
		if (kind < 0)
			return skiff_rpc_call_error(
			    call, -EINVAL,
			    "kind: '%s' is not one of node, pod, "
			    "deployment, daemonset, job, cronjob, service, event",
			    req->kind);
	}
	struct skiff_selector selector;
	_cleanup_free_ char *sel_err = NULL;
	if (skiff_selector_parse(req->selector, &selector, &sel_err) < 0) {
		skiff_selector_clear(&selector);
		return skiff_rpc_call_error(call, -EINVAL, "WATCH: selector: %s", sel_err);
	}
	struct watcher *w = xcalloc(1, sizeof(*w));
	w->selector = selector;
	w->d = d;
	w->call = call;
	w->kind = kind;
	if (req->n_label_selector) {
		w->nsel = req->n_label_selector;
		w->sel = xmalloc(w->nsel * sizeof(*w->sel));
		for (size_t i = 0; i < w->nsel; i++)
			w->sel[i] =
			    (Skiff__KeyValue *)skiff_msg_copy(&req->label_selector[i]->base);
	}
	if (*req->node_name)
		w->node = xstrdup(req->node_name);
	if (*req->namespace_)
		w->ns = xstrdup(req->namespace_);
	/* Watchers see durable changes only. */
	uint64_t synced = skiff_store_synced_revision(d->brain->store);
	if (req->from_revision == 0) {
		struct initial in = { w, 0, 0 };
		for (in.kind = 0; in.kind < SKIFF_KIND_MAX; in.kind++)
			if (kind < 0 || kind == in.kind)
				skiff_store_foreach(d->brain->store, in.kind, send_initial, &in);
		w->revision = skiff_store_revision(d->brain->store);
		if (w->revision != synced)
			w->revision = synced; /* the rest comes with the next commit */
	} else {
		w->revision = req->from_revision;
		if (req->from_revision > synced) {
			watcher_free(w);
			return skiff_rpc_call_error(call, -EINVAL,
						    "from_revision: %llu is in the future "
						    "(current %llu)",
						    (unsigned long long)req->from_revision,
						    (unsigned long long)synced);
		}
	}
	skiff_rpc_call_set_cancel(call, watch_cancel, w);
	w->next = d->watchers;
	d->watchers = w;
	if (req->from_revision)
		daemon_kick(d);
	return 0;
}

void daemon_watch_feed(struct daemon *d)
{
	struct watcher **pp = &d->watchers;
	while (*pp) {
		struct watcher *w = *pp;
		feed_one(d, w);
		if (w->dead) {
			*pp = w->next;
			watcher_free(w);
		} else {
			pp = &w->next;
		}
	}
}

void daemon_watch_free_all(struct daemon *d)
{
	while (d->watchers) {
		struct watcher *w = d->watchers;
		d->watchers = w->next;
		skiff_rpc_call_set_cancel(w->call, NULL, NULL);
		skiff_rpc_call_end(w->call, -ESHUTDOWN, "the brain is shutting down");
		watcher_free(w);
	}
}
