/* nodes.c — the agent side of the brain: registration with epochs and pod
 * CIDRs, heartbeats, pod status and event reports, and the node lifecycle
 * controller: a node without heartbeat for the grace (counted from the last
 * heartbeat, or from the moment its connection dropped) becomes NotReady,
 * its epoch is bumped (fencing the old incarnation: its requests get -ESTALE
 * and it must register again) and its pods are deleted so that their
 * deployments re-create them elsewhere. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static Skiff__NodeCondition *ready_condition(Skiff__Node *n)
{
	Skiff__NodeStatus *st = skiff_node_status_ensure(n);
	for (size_t i = 0; i < st->n_conditions; i++)
		if (streq(st->conditions[i]->type, "Ready"))
			return st->conditions[i];
	Skiff__NodeCondition *c = xmalloc(sizeof(*c));
	skiff__node_condition__init(c);
	skiff_set_str(&c->type, "Ready");
	skiff_set_str(&c->status, "Unknown");
	st->conditions = xrealloc(st->conditions, (st->n_conditions + 1) * sizeof(*st->conditions));
	st->conditions[st->n_conditions++] = c;
	return c;
}

bool brain_node_is_ready(const Skiff__Node *n)
{
	if (!n || !n->status)
		return false;
	for (size_t i = 0; i < n->status->n_conditions; i++)
		if (streq(n->status->conditions[i]->type, "Ready"))
			return streq(n->status->conditions[i]->status, "True");
	return false;
}

struct cidr_scan {
	struct brain *b;
	uint8_t *used;
	size_t nsubnets;
};

static int mark_cidr(const struct skiff_store_obj *o, void *userdata)
{
	struct cidr_scan *c = userdata;
	const Skiff__Node *n = o->decoded;
	if (!n || !n->spec || !*n->spec->pod_cidr)
		return 0;
	_cleanup_free_ char *ip = xstrdup(n->spec->pod_cidr);
	char *slash = strchr(ip, '/');
	if (slash)
		*slash = 0;
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return 0;
	uint32_t off = ntohl(a.s_addr) - c->b->cidr_base;
	if ((off >> 8) < c->nsubnets)
		c->used[off >> 8] = 1;
	return 0;
}

static int alloc_cidr(struct brain *b, char **ret)
{
	struct cidr_scan c = { b, NULL, (size_t)1 << (24 - b->cidr_prefix) };
	c.used = xcalloc(c.nsubnets, 1);
	skiff_store_foreach(b->store, SKIFF_KIND_NODE, mark_cidr, &c);
	size_t i;
	for (i = 0; i < c.nsubnets && c.used[i]; i++)
		;
	free(c.used);
	if (i == c.nsubnets)
		return -ENOSPC;
	struct in_addr a = { htonl(b->cidr_base + ((uint32_t)i << 8)) };
	char buf[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	*ret = xasprintf("%s/24", buf);
	return 0;
}

struct gone_ctx {
	const char *node;
	const Skiff__RegisterRequest *req;
	char **names;
	size_t n;
};

static void collect_gone(struct brain *b, const char *name, struct gone_ctx *g)
{
	const struct brain_pod *sum = brain_pod_get(b, name);
	if (!sum || !sum->terminating || !streq(sum->node, g->node))
		return;
	const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, name);
	if (!p || !p->metadata)
		return;
	for (size_t i = 0; i < g->req->n_pods; i++)
		if (streq(g->req->pods[i]->name, p->metadata->name) &&
		    streq(g->req->pods[i]->uid, p->metadata->uid))
			return; /* still running there: it gets stopped */
	g->names = xrealloc(g->names, (g->n + 1) * sizeof(*g->names));
	g->names[g->n++] = xstrdup(name);
}

int brain_node_register(struct brain *b, const Skiff__RegisterRequest *req, void *session,
			Skiff__RegisterResponse *ret, char **ret_errmsg)
{
	const Skiff__Node *in = req->node;
	if (!in || !in->metadata || !skiff_name_valid(in->metadata->name, 63)) {
		*ret_errmsg = xasprintf("node.metadata.name: '%s' is not a valid node name",
					in && in->metadata ? in->metadata->name : "");
		return -EINVAL;
	}
	const char *name = in->metadata->name;
	Skiff__Node *n = brain_copy(b, SKIFF_KIND_NODE, name);
	bool fresh = !n;
	bool was_ready = brain_node_is_ready(n);
	if (!n) {
		n = xmalloc(sizeof(*n));
		skiff__node__init(n);
		Skiff__ObjectMeta *m = skiff_meta_ensure(&n->base);
		skiff_set_str(&m->name, name);
		brain_meta_born(b, m);
	}
	Skiff__NodeSpec *spec = skiff_node_spec_ensure(n);
	if (!*spec->pod_cidr) {
		_cleanup_free_ char *cidr = NULL;
		if (alloc_cidr(b, &cidr) < 0) {
			skiff_obj_free(&n->base);
			*ret_errmsg = xasprintf("cluster CIDR %s has no free /24 for node %s",
						b->cfg.cluster_cidr, name);
			return -ENOSPC;
		}
		skiff_set_str(&spec->pod_cidr, cidr);
	}
	/* labels come from the agent */
	Skiff__ObjectMeta *m = n->metadata;
	for (size_t i = 0; i < m->n_labels; i++)
		skiff_obj_free(&m->labels[i]->base);
	free(m->labels);
	m->labels = NULL;
	m->n_labels = in->metadata->n_labels;
	if (m->n_labels) {
		m->labels = xmalloc(m->n_labels * sizeof(*m->labels));
		for (size_t i = 0; i < m->n_labels; i++)
			m->labels[i] =
			    (Skiff__KeyValue *)skiff_msg_copy(&in->metadata->labels[i]->base);
	}
	Skiff__NodeStatus *st = skiff_node_status_ensure(n);
	uint64_t epoch = (st->epoch > req->epoch ? st->epoch : req->epoch) + 1;
	st->epoch = epoch;
	if (in->status) {
		skiff_set_str(&st->address, in->status->address);
		skiff_set_str(&st->agent_version, in->status->agent_version);
		skiff_set_str(&st->kernel, in->status->kernel);
		if (in->status->capacity) {
			skiff_obj_free((ProtobufCMessage *)st->capacity);
			st->capacity =
			    (Skiff__ResourceList *)skiff_msg_copy(&in->status->capacity->base);
			skiff_obj_free((ProtobufCMessage *)st->allocatable);
			const Skiff__ResourceList *al = in->status->allocatable
							    ? in->status->allocatable
							    : in->status->capacity;
			st->allocatable = (Skiff__ResourceList *)skiff_msg_copy(&al->base);
			if (st->allocatable->pods <= 0)
				st->allocatable->pods = 110;
		}
	}
	int64_t now = brain_now_ms(b);
	st->last_heartbeat_ms = now;
	Skiff__NodeCondition *c = ready_condition(n);
	if (!streq(c->status, "True"))
		c->last_transition_ms = now;
	skiff_set_str(&c->status, "True");
	skiff_set_str(&c->reason, "AgentReady");
	skiff_set_str(&c->message, "the agent registered and sends heartbeats");
	c->last_heartbeat_ms = now;
	int r = brain_put(b, SKIFF_KIND_NODE, &n->base);
	_cleanup_free_ char *cidr = xstrdup(spec->pod_cidr);
	skiff_obj_free(&n->base);
	if (r < 0) {
		*ret_errmsg = xasprintf("store: %s", strerror(-r));
		return r;
	}
	struct brain_node *rt = brain_node_rt(b, name);
	rt->connected = true;
	rt->session = session;
	rt->last_heartbeat_mono = brain_now_mono(b);
	rt->last_heartbeat_ms = now;
	rt->deadline_mono = rt->last_heartbeat_mono + b->cfg.node_grace_ms;
	rt->dirty = true;

	/* adopt the status of pods still bound here */
	for (size_t i = 0; i < req->n_pods; i++) {
		const Skiff__RunningPod *rp = req->pods[i];
		_cleanup_free_ char *key = brain_key(SKIFF_KIND_POD, rp->namespace_, rp->name);
		const struct brain_pod *sum = brain_pod_get(b, key);
		if (!sum || !rp->status || !streq(sum->node, name))
			continue;
		Skiff__Pod *np = brain_copy(b, SKIFF_KIND_POD, key);
		if (!np || !np->metadata || !streq(np->metadata->uid, rp->uid)) {
			skiff_obj_free((ProtobufCMessage *)np);
			continue;
		}
		skiff_obj_free((ProtobufCMessage *)np->status);
		np->status = (Skiff__PodStatus *)skiff_msg_copy(&rp->status->base);
		np->status->node_epoch = epoch;
		(void)brain_put(b, SKIFF_KIND_POD, &np->base);
		skiff_obj_free(&np->base);
	}
	/* terminating pods bound here that the agent no longer runs are gone */
	struct gone_ctx g = { .node = name, .req = req };
	size_t ti = 0;
	void *tcur = NULL, *tv;
	const char *tk;
	while (skiff_map_next(b->terminating, &ti, &tcur, &tk, &tv))
		collect_gone(b, tk, &g);
	for (size_t i = 0; i < g.n; i++) {
		(void)brain_pod_finalize(b, g.names[i]);
		free(g.names[i]);
	}
	free(g.names);
	if (fresh)
		brain_event(b, "node", name, "Normal", "Registered",
			    "node %s registered with pod CIDR %s", name, cidr);
	else if (!was_ready)
		brain_event(b, "node", name, "Normal", "NodeReady", "node %s is ready (epoch %llu)",
			    name, (unsigned long long)epoch);
	log_info("node %s registered: epoch %llu, pod CIDR %s", name, (unsigned long long)epoch,
		 cidr);
	b->resync = true;
	skiff__register_response__init(ret);
	ret->epoch = epoch;
	ret->pod_cidr = xstrdup(cidr);
	ret->heartbeat_ms = b->cfg.heartbeat_ms;
	return 0;
}

static int check_epoch(struct brain *b, const char *node, uint64_t epoch, char **ret_errmsg)
{
	const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, node);
	if (!n) {
		*ret_errmsg = xasprintf("node %s is not registered", node ? node : "");
		return -ENOENT;
	}
	uint64_t cur = n->status ? n->status->epoch : 0;
	if (epoch != cur) {
		*ret_errmsg = xasprintf("node %s: epoch %llu is stale (current %llu)", node,
					(unsigned long long)epoch, (unsigned long long)cur);
		return -ESTALE;
	}
	return 0;
}

int brain_node_heartbeat(struct brain *b, const char *node, uint64_t epoch, char **ret_errmsg)
{
	int r = check_epoch(b, node, epoch, ret_errmsg);
	if (r < 0)
		return r;
	struct brain_node *rt = brain_node_rt(b, node);
	rt->last_heartbeat_mono = brain_now_mono(b);
	rt->last_heartbeat_ms = brain_now_ms(b);
	rt->deadline_mono = rt->last_heartbeat_mono + b->cfg.node_grace_ms;
	return 0;
}

void brain_node_disconnected(struct brain *b, const char *node, void *session)
{
	struct brain_node *rt = skiff_map_get(b->nodes, node);
	if (!rt || rt->session != session)
		return; /* an older connection of a node that re-registered */
	rt->connected = false;
	rt->session = NULL;
	/* the grace starts now */
	rt->deadline_mono = brain_now_mono(b) + b->cfg.node_grace_ms;
	log_info("node %s: agent disconnected; NotReady in %lld ms unless it returns", node,
		 (long long)b->cfg.node_grace_ms);
}

static const Skiff__ContainerStatus *find_cs(const Skiff__PodStatus *st, const char *name)
{
	if (!st)
		return NULL;
	for (size_t i = 0; i < st->n_container_statuses; i++)
		if (streq(st->container_statuses[i]->name, name))
			return st->container_statuses[i];
	return NULL;
}

int brain_pod_status(struct brain *b, const Skiff__PodStatusReport *rep, char **ret_errmsg)
{
	int r = check_epoch(b, rep->node, rep->epoch, ret_errmsg);
	if (r < 0)
		return r;
	/* a private copy: a busy round handles thousands of reports */
	_cleanup_free_ char *key = brain_key(SKIFF_KIND_POD, rep->namespace_, rep->pod);
	_cleanup_(skiff_obj_freep) ProtobufCMessage *cur = brain_copy(b, SKIFF_KIND_POD, key);
	const Skiff__Pod *p = (const Skiff__Pod *)cur;
	if (!p || !streq(skiff_pod_node(p), rep->node) ||
	    (*rep->uid && !streq(p->metadata->uid, rep->uid))) {
		*ret_errmsg = xasprintf("pod %s is not assigned to node %s", rep->pod, rep->node);
		return -ENOENT;
	}
	if (p->metadata->deleted_ms > 0) {
		/* terminating: gone once the agent says so or the container ended */
		const char *ph = rep->status ? rep->status->phase : "";
		if (rep->stopped || streq(ph, "Succeeded") || streq(ph, "Failed")) {
			brain_event(b, "pod", key, "Normal", "Killed", "pod %s stopped on %s",
				    rep->pod, rep->node);
			r = brain_pod_finalize(b, key);
			if (r < 0)
				*ret_errmsg = xasprintf("store: %s", strerror(-r));
			return r;
		}
	}
	if (!rep->status)
		return 0;
	/* events for what changed */
	const Skiff__PodStatus *old = p->status;
	const char *old_phase = skiff_pod_phase(p);
	const char *new_phase = *rep->status->phase ? rep->status->phase : "Pending";
	for (size_t i = 0; i < rep->status->n_container_statuses; i++) {
		const Skiff__ContainerStatus *cs = rep->status->container_statuses[i];
		const Skiff__ContainerStatus *ocs = find_cs(old, cs->name);
		int old_restarts = ocs ? ocs->restart_count : 0;
		if (cs->restart_count > old_restarts)
			brain_event(b, "pod", key, "Warning", "Restarted",
				    "container %s restarted (%d restarts; last exit code %d%s%s)",
				    cs->name, cs->restart_count, cs->last_exit_code,
				    *cs->last_reason ? ", " : "", cs->last_reason);
		if (*cs->reason && (!ocs || !streq(ocs->reason, cs->reason)) &&
		    !streq(cs->reason, "Completed"))
			brain_event(b, "pod", key, "Warning", cs->reason, "container %s: %s%s%s",
				    cs->name, cs->reason, *cs->message ? ": " : "", cs->message);
	}
	if (!streq(old_phase, new_phase)) {
		if (streq(new_phase, "Running"))
			brain_event(b, "pod", key, "Normal", "Started", "pod %s runs on %s",
				    rep->pod, rep->node);
		else if (streq(new_phase, "Failed"))
			brain_event(b, "pod", key, "Warning", "Failed", "pod %s failed on %s%s%s",
				    rep->pod, rep->node, *rep->status->reason ? ": " : "",
				    rep->status->reason);
	}
	Skiff__Pod *np = brain_copy(b, SKIFF_KIND_POD, key);
	Skiff__PodStatus *st = (Skiff__PodStatus *)skiff_msg_copy(&rep->status->base);
	if (old) {
		st->scheduled_ms = old->scheduled_ms;
		if (!*st->host_ip)
			skiff_set_str(&st->host_ip, old->host_ip);
	}
	st->node_epoch = rep->epoch;
	if (!*st->phase)
		skiff_set_str(&st->phase, "Pending");
	skiff_obj_free((ProtobufCMessage *)np->status);
	np->status = st;
	/* Only the status changed: the node's Assignment (specs, deletions) is
	 * the same, so this put does not make the brain push it again (100 pods
	 * starting on a node would otherwise mean 100 pushes of 100 pods). */
	struct brain_node *rt = skiff_map_get(b->nodes, rep->node);
	bool was_dirty = rt && rt->dirty;
	r = brain_put(b, SKIFF_KIND_POD, &np->base);
	if (rt && !was_dirty)
		rt->dirty = false;
	skiff_obj_free(&np->base);
	if (r < 0)
		*ret_errmsg = xasprintf("store: %s", strerror(-r));
	b->resync = true;
	return r;
}

int brain_event_report(struct brain *b, const char *node, const Skiff__Event *ev, char **ret_errmsg)
{
	if (!ev || !*ev->reason || !*ev->object_name) {
		*ret_errmsg = xstrdup("event: reason and object_name are required");
		return -EINVAL;
	}
	const char *kind = *ev->object_kind ? ev->object_kind : "pod";
	/* a pod's event names the pod's namespace (an agent before namespaces:
	 * none, "default") */
	_cleanup_free_ char *key =
	    streq(kind, "pod")
		? brain_key(SKIFF_KIND_POD, ev->metadata ? ev->metadata->namespace_ : NULL,
			    ev->object_name)
		: xstrdup(ev->object_name);
	if (streq(kind, "pod")) {
		const struct brain_pod *p = brain_pod_get(b, key);
		if (p && !streq(p->node, node)) {
			*ret_errmsg =
			    xasprintf("pod %s is not assigned to node %s", ev->object_name, node);
			return -EPERM;
		}
	} else if (!streq(kind, "node") || !streq(ev->object_name, node)) {
		*ret_errmsg = xasprintf("node %s may only report about its pods and itself", node);
		return -EPERM;
	}
	brain_event(b, kind, key, streq(ev->type, "Warning") ? "Warning" : "Normal", ev->reason,
		    "%s", ev->message);
	return 0;
}

int brain_nodes_tick(struct brain *b)
{
	int64_t now = brain_now_mono(b);
	int changed = 0;
	size_t i = 0;
	void *cur = NULL, *v;
	const char *k;
	/* When the brain itself was busy (a long pass, a slow disk), heartbeats
	 * waited in its sockets: that time is not the nodes' fault. */
	int64_t stall = b->last_tick_mono ? now - b->last_tick_mono : 0;
	b->last_tick_mono = now;
	if (b->cfg.stall_ms > 0 && stall > b->cfg.stall_ms) {
		while (skiff_map_next(b->nodes, &i, &cur, &k, &v))
			((struct brain_node *)v)->deadline_mono += stall;
		i = 0;
		cur = NULL;
		log_warn("the brain was busy for %lld ms; node deadlines extended by as much",
			 (long long)stall);
	}
	/* collect first: the loop below writes */
	char **lost = NULL;
	size_t nlost = 0;
	while (skiff_map_next(b->nodes, &i, &cur, &k, &v)) {
		struct brain_node *rt = v;
		if (now <= rt->deadline_mono)
			continue;
		const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, k);
		if (!n || !brain_node_is_ready(n))
			continue;
		lost = xrealloc(lost, (nlost + 1) * sizeof(char *));
		lost[nlost++] = xstrdup(k);
	}
	for (size_t j = 0; j < nlost; j++) {
		struct brain_node *rt = skiff_map_get(b->nodes, lost[j]);
		Skiff__Node *n = brain_copy(b, SKIFF_KIND_NODE, lost[j]);
		Skiff__NodeCondition *c = ready_condition(n);
		int64_t since = now - rt->last_heartbeat_mono;
		_cleanup_free_ char *msg =
		    rt->connected
			? xasprintf("no heartbeat for %lld ms (grace %lld ms)", (long long)since,
				    (long long)b->cfg.node_grace_ms)
			: xasprintf("agent disconnected; no heartbeat for %lld ms (grace %lld ms)",
				    (long long)since, (long long)b->cfg.node_grace_ms);
		skiff_set_str(&c->status, "False");
		skiff_set_str(&c->reason,
			      rt->connected ? "NodeStatusUnknown" : "AgentDisconnected");
		skiff_set_str(&c->message, msg);
		c->last_transition_ms = brain_now_ms(b);
		c->last_heartbeat_ms = rt->last_heartbeat_ms;
		Skiff__NodeStatus *st = skiff_node_status_ensure(n);
		st->epoch++; /* fence the incarnation that went silent */
		st->last_heartbeat_ms = rt->last_heartbeat_ms;
		(void)brain_put(b, SKIFF_KIND_NODE, &n->base);
		skiff_obj_free(&n->base);
		brain_event(b, "node", lost[j], "Warning", "NodeNotReady",
			    "node %s is NotReady: %s", lost[j], msg);
		size_t nev = 0;
		char **ev = brain_evict_node_pods(b, lost[j], false, &nev);
		if (nev)
			brain_event(b, "node", lost[j], "Warning", "PodsEvicted",
				    "deleted %zu pods of NotReady node %s; their deployments "
				    "re-create them elsewhere",
				    nev, lost[j]);
		for (size_t e = 0; e < nev; e++)
			free(ev[e]);
		free(ev);
		log_warn("node %s NotReady (%s); %zu pods moved away", lost[j], msg, nev);
		rt->dirty = true;
		changed++;
		free(lost[j]);
	}
	free(lost);
	if (brain_terminating_tick(b) > 0)
		changed++;
	if (changed)
		b->resync = true;
	return changed;
}
