/* test_controllers.c — the brain's controllers: deployment scale up/down
 * (newest deleted first), node loss (NotReady after the grace, pods moved,
 * the returning agent fenced), rolling update within maxSurge/maxUnavailable
 * and rollout undo, a brain crashed at every I/O point of a reconcile (no
 * lost or doubled pods), endpoints, apply results and validation messages. */
#include "brain_helpers.h"

#define Mi (1024LL * 1024)
#define Gi (1024LL * Mi)

TEST(test_scale_up_down_newest_first)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 2, "img:1", 100, 64 * Mi), "created");
	brain_reconcile(b);
	struct pod_list *first = list_pods(b);
	ck_assert_uint_eq(first->n, 2);
	fake_now += 1000;
	Skiff__Deployment *d;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_scale(b, "web", 5, &d, &err), 0);
	skiff_obj_free(&d->base);
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 5);
	for (size_t i = 0; i < l->n; i++)
		ck_assert_str_ne(l->nodes[i], "");
	free_pods(l);
	/* idempotent: another pass changes nothing */
	uint64_t rev = skiff_store_revision(b->store);
	b->resync = true;
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_revision(b->store), rev);
	/* scale down to 2: the two original (oldest) pods stay; the three
	 * others are Terminating (out of their node's Assignment) until their
	 * agent reports them stopped */
	ck_assert_int_eq(brain_scale(b, "web", 2, &d, &err), 0);
	skiff_obj_free(&d->base);
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 5);
	ck_assert_uint_eq(count_terminating(l), 3);
	for (size_t i = 0; i < l->n; i++)
		if (l->terminating[i])
			for (size_t j = 0; j < first->n; j++)
				ck_assert_str_ne(l->names[i], first->names[j]);
	free_pods(l);
	Skiff__Assignment *a1 = brain_assignment(b, "vm1"), *a2 = brain_assignment(b, "vm2");
	ck_assert_uint_eq(a1->n_pods + a2->n_pods, 2);
	brain_assignment_free(a1);
	brain_assignment_free(a2);
	/* another pass neither re-creates nor deletes them again */
	rev = skiff_store_revision(b->store);
	b->resync = true;
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_revision(b->store), rev);
	ck_assert_uint_eq(report_all_stopped(b), 3);
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 2);
	for (size_t i = 0; i < first->n; i++)
		ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_POD, first->names[i]));
	free_pods(l);
	const Skiff__Deployment *cur = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	ck_assert_int_eq(cur->status->replicas, 2);
	/* to zero: the agents never report (an agent that ignores the
	 * protocol): removed after terminationGrace (10 s) + the margin */
	ck_assert_int_eq(brain_scale(b, "web", 0, &d, &err), 0);
	skiff_obj_free(&d->base);
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 2);
	fake_now += 10000 + SKIFF_TERMINATION_MARGIN_MS - 100;
	heartbeat_all_but(b, NULL);
	brain_nodes_tick(b);
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 2);
	fake_now += 200;
	heartbeat_all_but(b, NULL);
	brain_nodes_tick(b);
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 0);
	ck_assert_int_eq(brain_scale(b, "web", -1, &d, &err), -EINVAL);
	free_pods(first);
	brain_free(b);
}
END_TEST

static bool assignment_has(struct brain *b, const char *node, const char *pod)
{
	Skiff__Assignment *a = brain_assignment(b, node);
	bool found = false;
	for (size_t i = 0; i < a->n_pods; i++) {
		_cleanup_free_ char *key = brain_obj_key(SKIFF_KIND_POD, &a->pods[i]->base);
		found |= streq(key, pod);
	}
	brain_assignment_free(a);
	return found;
}

static void pod_report(struct brain *b, const char *name, const char *phase, bool stopped)
{
	const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, name);
	ck_assert_ptr_nonnull(p);
	const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, p->spec->node_name);
	Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
	Skiff__PodStatus st = SKIFF__POD_STATUS__INIT;
	_cleanup_free_ char *node = xstrdup(p->spec->node_name), *uid = xstrdup(p->metadata->uid);
	st.phase = (char *)phase;
	rep.node = node;
	rep.epoch = n->status->epoch;
	char ns[64];
	rep.pod = (char *)skiff_key_split(name, ns);
	rep.namespace_ = ns;
	rep.uid = uid;
	rep.status = &st;
	rep.stopped = stopped;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(brain_pod_status(b, &rep, &err) == 0, "status: %s", err ? err : "");
}

TEST(test_graceful_termination)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 2, "img:1", 100, 64 * Mi), NULL);
	brain_reconcile(b);
	report_all_running(b);
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 2);
	_cleanup_free_ char *victim = xstrdup(l->names[0]), *vnode = xstrdup(l->nodes[0]);
	free_pods(l);
	ck_assert(assignment_has(b, vnode, victim));

	/* DELETE: the reply and the store show it Terminating; its node's
	 * Assignment no longer lists it (the agent stops it) */
	ProtobufCMessage *gone = NULL;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_POD, victim, &gone, &err), 0);
	ck_assert_int_gt(((Skiff__Pod *)gone)->metadata->deleted_ms, 0);
	skiff_obj_free(gone);
	const Skiff__Pod *vp = brain_get(b, SKIFF_KIND_POD, victim);
	ck_assert_ptr_nonnull(vp);
	ck_assert_int_gt(vp->metadata->deleted_ms, 0);
	ck_assert(!assignment_has(b, vnode, victim));
	/* deleting it again changes nothing */
	uint64_t rev = skiff_store_revision(b->store);
	ck_assert_int_eq(brain_pod_terminate(b, victim), 0);
	ck_assert_uint_eq(skiff_store_revision(b->store), rev);

	/* the deployment replaces it at once (it is no longer a replica, as
	 * in Kubernetes) and does not touch it again */
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 3);
	ck_assert_uint_eq(count_terminating(l), 1);
	free_pods(l);
	report_all_running(b);
	brain_reconcile(b);
	rev = skiff_store_revision(b->store);
	b->resync = true;
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_revision(b->store), rev);
	const Skiff__Deployment *d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	ck_assert_int_eq(d->status->replicas, 2);
	ck_assert_int_eq(d->status->ready_replicas, 2);
	ck_assert_ptr_nonnull(strstr(d->status->message, "1 terminating"));

	/* a late Running report keeps it Terminating; its exit ends it */
	pod_report(b, victim, "Running", false);
	vp = brain_get(b, SKIFF_KIND_POD, victim);
	ck_assert_ptr_nonnull(vp);
	ck_assert_int_gt(vp->metadata->deleted_ms, 0);
	ck_assert(!assignment_has(b, vnode, victim));
	pod_report(b, victim, "Succeeded", false);
	ck_assert_ptr_null(brain_get(b, SKIFF_KIND_POD, victim));

	/* drain: the node's pods are Terminating; a REGISTER without them
	 * (the agent stopped them, then restarted) removes them */
	Skiff__Node *n = NULL;
	char **evicted = NULL;
	size_t nev = 0;
	ck_assert_int_eq(brain_node_action(b, "vm1", "drain", &n, &evicted, &nev, &err), 0);
	skiff_obj_free(&n->base);
	for (size_t i = 0; i < nev; i++) {
		vp = brain_get(b, SKIFF_KIND_POD, evicted[i]);
		ck_assert_ptr_nonnull(vp);
		ck_assert_int_gt(vp->metadata->deleted_ms, 0);
	}
	ck_assert_uint_ge(nev, 1);
	brain_reconcile(b);
	l = list_pods(b);
	/* replaced at once (terminating pods are not replicas) */
	ck_assert_uint_eq(l->n, nev + 2);
	ck_assert_uint_eq(count_terminating(l), nev);
	free_pods(l);
	add_node(b, "vm1", 8000, 8 * Gi);
	for (size_t i = 0; i < nev; i++) {
		ck_assert_ptr_null(brain_get(b, SKIFF_KIND_POD, evicted[i]));
		free(evicted[i]);
	}
	free(evicted);
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_uint_eq(count_on(l, "vm2"), 2); /* vm1 is cordoned */
	free_pods(l);

	/* a lost node's terminating pods go at once with the node */
	l = list_pods(b);
	_cleanup_free_ char *v2 = xstrdup(l->names[0]);
	free_pods(l);
	ck_assert_int_eq(brain_pod_terminate(b, v2), 1);
	brain_node_disconnected(b, "vm2", (void *)"vm2");
	fake_now += 3100;
	heartbeat_all_but(b, "vm2");
	brain_reconcile(b);
	ck_assert_ptr_null(brain_get(b, SKIFF_KIND_POD, v2));
	/* and a pod whose node is gone is deleted without Terminating */
	l = list_pods(b);
	ck_assert_uint_eq(count_terminating(l), 0);
	free_pods(l);
	brain_free(b);
}
END_TEST

TEST(test_node_loss_moves_pods_and_fences)
{
	struct brain *b = open_brain();
	uint64_t e1 = add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 4, "img:1", 100, 64 * Mi), NULL);
	brain_reconcile(b);
	report_all_running(b);
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(count_on(l, "vm1"), 2);
	free_pods(l);
	/* vm1's agent disconnects: the grace starts at once */
	brain_node_disconnected(b, "vm1", (void *)"vm1");
	fake_now += 2900;
	heartbeat_all_but(b, "vm1");
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(count_on(l, "vm1"), 2); /* still within the grace */
	free_pods(l);
	fake_now += 200;
	heartbeat_all_but(b, "vm1");
	brain_reconcile(b);
	/* NotReady, pods deleted and re-created on vm2 in the same pass */
	const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, "vm1");
	ck_assert_str_eq(n->status->conditions[0]->status, "False");
	ck_assert_uint_gt(n->status->epoch, e1);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 4);
	ck_assert_uint_eq(count_on(l, "vm2"), 4);
	free_pods(l);
	/* the old incarnation is fenced */
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_node_heartbeat(b, "vm1", e1, &err), -ESTALE);
	ck_assert_str_eq(err, "node vm1: epoch 1 is stale (current 2)");
	/* it registers again: a new epoch and an Assignment without the pods */
	uint64_t fenced = n->status->epoch;
	uint64_t e3 = add_node(b, "vm1", 8000, 8 * Gi);
	ck_assert_uint_gt(e3, fenced);
	Skiff__Assignment *a = brain_assignment(b, "vm1");
	ck_assert_uint_eq(a->epoch, e3);
	ck_assert_uint_eq(a->n_pods, 0);
	ck_assert_uint_eq(a->n_nodes, 2);
	brain_assignment_free(a);
	a = brain_assignment(b, "vm2");
	ck_assert_uint_eq(a->n_pods, 4);
	brain_assignment_free(a);
	brain_free(b);
}
END_TEST

static void check_rollout_invariants(struct brain *b, int replicas, int surge, int unavail,
				     int *ret_new, const char *hash)
{
	struct pod_list *l = list_pods(b);
	int ready = 0, nnew = 0, live = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->terminating[i])
			continue; /* serves no traffic, no longer a replica */
		live++;
		ready += l->ready[i];
		nnew += streq(l->hash[i], hash);
	}
	ck_assert_int_le(live, replicas + surge);
	ck_assert_int_ge(ready, replicas - unavail);
	*ret_new = nnew;
	free_pods(l);
}

TEST(test_rolling_update_and_undo)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 4, "img:1", 100, 64 * Mi), NULL);
	for (int i = 0; i < 3; i++) {
		brain_reconcile(b);
		report_all_running(b);
	}
	const Skiff__Deployment *d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	char hash1[16];
	snprintf(hash1, sizeof(hash1), "%s", d->status->template_hash);
	ck_assert_int_eq(d->status->ready_replicas, 4);
	ck_assert_str_eq(d->status->condition, "Available");
	ck_assert_int_eq(d->status->revision, 1);
	/* new image: 25% of 4 -> surge 1, unavailable 1 */
	apply_deployment(b, make_deployment("web", 4, "img:2", 100, 64 * Mi), "configured");
	d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	char hash2[11];
	skiff_template_hash(d->spec->template_, hash2);
	ck_assert_str_ne(hash1, hash2);
	int nnew = 0, steps = 0;
	while (steps++ < 20) {
		brain_reconcile(b);
		check_rollout_invariants(b, 4, 1, 1, &nnew, hash2);
		report_all_running(b);
		check_rollout_invariants(b, 4, 1, 1, &nnew, hash2);
		report_all_stopped(b);
		struct pod_list *l = list_pods(b);
		size_t n = l->n;
		free_pods(l);
		if (nnew == 4 && n == 4)
			break;
	}
	ck_assert_int_eq(nnew, 4);
	ck_assert_int_gt(steps, 2); /* it went in steps, not all at once */
	brain_reconcile(b);
	d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	ck_assert_int_eq(d->status->revision, 2);
	ck_assert_uint_eq(d->status->n_history, 2);
	ck_assert_int_eq(d->status->updated_replicas, 4);
	/* undo: back to img:1 (revision 1 becomes revision 3) */
	Skiff__Deployment *nd;
	_cleanup_free_ char *msg = NULL, *err = NULL;
	ck_assert_int_eq(brain_rollout_undo(b, "web", 0, &nd, &msg, &err), 0);
	ck_assert_str_eq(nd->spec->template_->spec->containers[0]->image, "img:1");
	skiff_obj_free(&nd->base);
	for (steps = 0; steps < 20; steps++) {
		brain_reconcile(b);
		check_rollout_invariants(b, 4, 1, 1, &nnew, hash1);
		report_all_running(b);
		report_all_stopped(b);
		if (nnew == 4 && skiff_store_count(b->store, SKIFF_KIND_POD) == 4)
			break;
	}
	ck_assert_int_eq(nnew, 4);
	brain_reconcile(b);
	d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	ck_assert_int_eq(d->status->revision, 3);
	ck_assert_str_eq(d->status->template_hash, hash1);
	brain_free(b);
}
END_TEST

/* rollout pause: a changed template is not rolled out (scaling still makes
 * pods of the paused revision); resume rolls it out. */
TEST(test_rollout_pause_resume)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 2, "img:1", 100, 64 * Mi), NULL);
	for (int i = 0; i < 3; i++) {
		brain_reconcile(b);
		report_all_running(b);
	}
	const Skiff__Deployment *d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	char hash1[16];
	snprintf(hash1, sizeof(hash1), "%s", d->status->template_hash);
	/* paused, with a new image and one more replica */
	Skiff__Deployment *p = make_deployment("web", 3, "img:2", 100, 64 * Mi);
	p->spec->paused = true;
	apply_deployment(b, p, "configured");
	for (int i = 0; i < 5; i++) {
		brain_reconcile(b);
		report_all_running(b);
	}
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 3);
	for (size_t i = 0; i < l->n; i++) {
		ck_assert_str_eq(l->hash[i], hash1);
		const Skiff__Pod *pod = brain_get(b, SKIFF_KIND_POD, l->names[i]);
		ck_assert_str_eq(pod->spec->containers[0]->image, "img:1");
	}
	free_pods(l);
	d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	ck_assert_int_eq(d->status->revision, 1);
	ck_assert(strstr(d->status->message, "paused"));
	/* resume: img:2 rolls out */
	apply_deployment(b, make_deployment("web", 3, "img:2", 100, 64 * Mi), "configured");
	for (int i = 0; i < 30; i++) {
		brain_reconcile(b);
		report_all_running(b);
		report_all_stopped(b);
	}
	brain_reconcile(b);
	d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	ck_assert_int_eq(d->status->revision, 2);
	ck_assert_int_eq(d->status->updated_replicas, 3);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 3);
	for (size_t i = 0; i < l->n; i++)
		ck_assert_str_eq(((const Skiff__Pod *)brain_get(b, SKIFF_KIND_POD, l->names[i]))
				     ->spec->containers[0]
				     ->image,
				 "img:2");
	free_pods(l);
	brain_free(b);
}
END_TEST

TEST(test_restart_mid_reconcile)
{
	/* Count the I/O points of: apply a 10-replica deployment, reconcile,
	 * sync; then crash at each of them, restart, reconcile: exactly 10. */
	struct skiff_store_faults f = { 0 };
	struct brain *b = open_brain_faults(&f);
	add_node(b, "vm1", 8000, 8 * Gi);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	long base = f.count;
	apply_deployment(b, make_deployment("web", 10, "img:1", 100, 64 * Mi), NULL);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	brain_reconcile(b);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	long total = f.count - base;
	brain_free(b);
	ck_assert_int_ge(total, 2);
	for (long crash = 1; crash <= total + 1; crash++) {
		brain_test_teardown();
		brain_test_setup();
		struct skiff_store_faults cf = { 0 };
		b = open_brain_faults(&cf);
		add_node(b, "vm1", 8000, 8 * Gi);
		ck_assert_int_eq(skiff_store_sync(b->store), 0);
		cf.crash_at = cf.count + crash;
		apply_deployment(b, make_deployment("web", 10, "img:1", 100, 64 * Mi), NULL);
		(void)skiff_store_sync(b->store);
		/* controllers act in small syncs, as the daemon's rounds do */
		brain_deployments_reconcile(b);
		(void)skiff_store_sync(b->store);
		brain_schedule(b);
		(void)skiff_store_sync(b->store);
		brain_free(b);
		b = open_brain();
		heartbeat_all_but(b, NULL);
		brain_reconcile(b);
		b->resync = true;
		brain_reconcile(b);
		size_t want = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web") ? 10 : 0;
		ck_assert_msg(skiff_store_count(b->store, SKIFF_KIND_POD) == want,
			      "crash at %ld: %zu pods, want %zu", crash,
			      skiff_store_count(b->store, SKIFF_KIND_POD), want);
		struct pod_list *l = list_pods(b);
		ck_assert_uint_eq(count_on(l, "vm1"), want);
		free_pods(l);
		brain_free(b);
	}
}
END_TEST

/* Apply a service NAME for app=APP with port 80 to TARGET_PORT, or to the
 * container port called TARGET_NAME when that is given. */
static void apply_service(struct brain *b, const char *name, const char *app, int target_port,
			  const char *target_name)
{
	Skiff__Service svc = SKIFF__SERVICE__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	Skiff__ServiceSpec spec = SKIFF__SERVICE_SPEC__INIT;
	Skiff__ServicePort port = SKIFF__SERVICE_PORT__INIT;
	Skiff__ServicePort *ports[] = { &port };
	Skiff__KeyValue *sel[] = { kv_new("app", app) };
	m.name = xstrdup(name);
	svc.metadata = &m;
	port.port = 80;
	port.target_port = target_port;
	if (target_name)
		port.target_port_name = xstrdup(target_name);
	spec.ports = ports;
	spec.n_ports = 1;
	spec.selector = sel;
	spec.n_selector = 1;
	svc.spec = &spec;
	const char *result;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(
	    brain_apply(b, SKIFF_KIND_SERVICE, &svc.base, false, false, &result, NULL, &err) == 0,
	    "apply service %s: %s", name, err);
	ck_assert_str_eq(result, "created");
	free(m.name);
	if (m.namespace_ != protobuf_c_empty_string)
		free(m.namespace_); /* defaulted to default by the brain */
	if (port.target_port_name != protobuf_c_empty_string)
		free(port.target_port_name);
	free(port.protocol); /* defaulted to TCP by validation */
	skiff_obj_free(&sel[0]->base);
}

TEST(test_endpoints)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 3, "img:1", 100, 64 * Mi), NULL);
	apply_service(b, "web", "web", 8080, NULL);
	_cleanup_free_ char *err = NULL;
	brain_reconcile(b);
	const Skiff__Service *s = brain_get(b, SKIFF_KIND_SERVICE, "web");
	ck_assert(!s->status || s->status->n_endpoints == 0);
	report_all_running(b);
	brain_reconcile(b);
	s = brain_get(b, SKIFF_KIND_SERVICE, "web");
	ck_assert_uint_eq(s->status->n_endpoints, 3);
	ck_assert_uint_eq(s->status->endpoints[0]->port, 8080);
	ck_assert(skiff_startswith(s->status->endpoints[0]->ip, "10.244.0."));
	/* each endpoint is its pod's IP and node (read from the pod summary) */
	for (size_t i = 0; i < 3; i++) {
		const Skiff__Endpoint *e = s->status->endpoints[i];
		const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, e->pod);
		ck_assert_ptr_nonnull(p);
		ck_assert_str_eq(e->ip, p->status->pod_ip);
		ck_assert_str_eq(e->node, "vm1");
	}
	/* an IPv6 pod address is read from the pod itself */
	{
		const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, s->status->endpoints[1]->pod);
		const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, "vm1");
		_cleanup_free_ char *name = xstrdup(p->metadata->name);
		_cleanup_free_ char *uid = xstrdup(p->metadata->uid);
		_cleanup_free_ char *serr = NULL;
		ck_assert_int_eq(
		    report_running(b, "vm1", n->status->epoch, name, uid, "fd00:244::7", &serr), 0);
		brain_reconcile(b);
		s = brain_get(b, SKIFF_KIND_SERVICE, "web");
		ck_assert_uint_eq(s->status->n_endpoints, 3);
		bool found = false;
		for (size_t i = 0; i < 3; i++)
			if (streq(s->status->endpoints[i]->pod, name)) {
				ck_assert_str_eq(s->status->endpoints[i]->ip, "fd00:244::7");
				ck_assert_str_eq(s->status->endpoints[i]->node, "vm1");
				found = true;
			}
		ck_assert(found);
	}
	/* every agent gets the service with its endpoints */
	Skiff__Assignment *a = brain_assignment(b, "vm1");
	ck_assert_uint_eq(a->n_services, 1);
	ck_assert_uint_eq(a->services[0]->status->n_endpoints, 3);
	brain_assignment_free(a);
	/* scale to 1: endpoints follow */
	Skiff__Deployment *d;
	ck_assert_int_eq(brain_scale(b, "web", 1, &d, &err), 0);
	skiff_obj_free(&d->base);
	brain_reconcile(b);
	s = brain_get(b, SKIFF_KIND_SERVICE, "web");
	ck_assert_uint_eq(s->status->n_endpoints, 1);
	brain_free(b);
}
END_TEST

static void expect_invalid(struct brain *b, Skiff__Deployment *d, const char *msg)
{
	const char *result;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(
	    brain_apply(b, SKIFF_KIND_DEPLOYMENT, &d->base, false, false, &result, NULL, &err),
	    -EINVAL);
	ck_assert_str_eq(err, msg);
	skiff_obj_free(&d->base);
}

TEST(test_apply_results_and_validation)
{
	struct brain *b = open_brain();
	apply_deployment(b, make_deployment("web", 2, "img:1", 100, 64 * Mi), "created");
	apply_deployment(b, make_deployment("web", 2, "img:1", 100, 64 * Mi), "unchanged");
	apply_deployment(b, make_deployment("web", 3, "img:1", 100, 64 * Mi), "configured");
	const Skiff__Deployment *d = brain_get(b, SKIFF_KIND_DEPLOYMENT, "web");
	ck_assert_uint_eq(d->metadata->generation, 2);
	ck_assert_str_eq(d->spec->strategy->rolling_update->max_surge, "25%");
	ck_assert_str_eq(d->spec->template_->spec->restart_policy, "Always");

	expect_invalid(b, make_deployment("web", -1, "img:1", 0, 0),
		       "spec.replicas: must be 0-100000, got -1");
	expect_invalid(b, make_deployment("Web_1", 1, "img:1", 0, 0),
		       "metadata.name: 'Web_1' is not a valid name (lower-case letters, digits "
		       "and '-', starting and ending with a letter or digit, at most 46 "
		       "characters)");
	expect_invalid(b, make_deployment("web", 1, "", 0, 0),
		       "spec.template.spec.containers[0].image: required field is missing");
	expect_invalid(b, make_deployment("web", 1, "img:1", -5, 0),
		       "spec.template.spec.containers[0].resources.requests.cpu: must be "
		       "0-1024000 (millicores), got -5");
	Skiff__Deployment *bad = make_deployment("web", 1, "img:1", 0, 0);
	skiff_set_str(&bad->spec->selector[0]->value, "other");
	expect_invalid(b, bad,
		       "spec.selector.matchLabels: does not match spec.template.metadata.labels "
		       "(every selector label must be a template label)");
	bad = make_deployment("web", 1, "img:1", 0, 0);
	bad->spec->strategy = xmalloc(sizeof(*bad->spec->strategy));
	skiff__deployment_strategy__init(bad->spec->strategy);
	bad->spec->strategy->rolling_update = xmalloc(sizeof(Skiff__RollingUpdateStrategy));
	skiff__rolling_update_strategy__init(bad->spec->strategy->rolling_update);
	bad->spec->strategy->rolling_update->max_surge = xstrdup("lots");
	expect_invalid(b, bad,
		       "spec.strategy.rollingUpdate.maxSurge: must be an integer or a percentage "
		       "(like 1 or 25%), got 'lots'");
	/* create_only on an existing object */
	const char *result;
	_cleanup_free_ char *err = NULL;
	Skiff__Deployment *again = make_deployment("web", 3, "img:1", 100, 64 * Mi);
	ck_assert_int_eq(
	    brain_apply(b, SKIFF_KIND_DEPLOYMENT, &again->base, true, false, &result, NULL, &err),
	    -EEXIST);
	skiff_obj_free(&again->base);
	/* delete cascades to the pods */
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 3);
	ProtobufCMessage *gone = NULL;
	free(err);
	err = NULL;
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_DEPLOYMENT, "web", &gone, &err), 0);
	skiff_obj_free(gone);
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 0);
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_DEPLOYMENT, "web", &gone, &err), -ENOENT);
	brain_free(b);
}
END_TEST

TEST(test_state_survives_restart)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 3, "img:1", 100, 64 * Mi), NULL);
	brain_reconcile(b);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	/* a snapshot (written from the decoded objects) plus WAL records */
	ck_assert_int_eq(skiff_store_snapshot(b->store), 0);
	Skiff__Deployment *d;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_scale(b, "web", 4, &d, &err), 0);
	skiff_obj_free(&d->base);
	brain_reconcile(b);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 4);
	struct pod_list *before = list_pods(b);
	brain_free(b);
	b = open_brain();
	heartbeat_all_but(b, NULL);
	b->resync = true;
	brain_reconcile(b);
	struct pod_list *after = list_pods(b);
	ck_assert_uint_eq(after->n, 4);
	ck_assert_int_eq(brain_get(b, SKIFF_KIND_DEPLOYMENT, "web") ? 1 : 0, 1);
	ck_assert_int_eq(
	    ((const Skiff__Deployment *)brain_get(b, SKIFF_KIND_DEPLOYMENT, "web"))->spec->replicas,
	    4);
	for (size_t i = 0; i < before->n; i++)
		ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_POD, before->names[i]));
	free_pods(before);
	free_pods(after);
	/* an agent that does not come back within the grace loses its pods */
	fake_now += 3100;
	brain_reconcile(b);
	const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, "vm1");
	ck_assert_str_eq(n->status->conditions[0]->status, "False");
	brain_free(b);
}
END_TEST

TEST(test_endpoints_named_target_port)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	/* web's container calls 8443 "http"; plain's has no port of that name */
	Skiff__Deployment *d = make_deployment("web", 2, "img:1", 100, 64 * Mi);
	Skiff__Container *c = d->spec->template_->spec->containers[0];
	c->n_ports = 1;
	c->ports = xmalloc(sizeof(void *));
	c->ports[0] = xmalloc(sizeof(Skiff__ContainerPort));
	skiff__container_port__init(c->ports[0]);
	c->ports[0]->name = xstrdup("http");
	c->ports[0]->container_port = 8443;
	apply_deployment(b, d, NULL);
	apply_deployment(b, make_deployment("plain", 1, "img:1", 100, 64 * Mi), NULL);
	apply_service(b, "web", "web", 0, "http");
	apply_service(b, "plain", "plain", 0, "http");
	brain_reconcile(b);
	report_all_running(b);
	brain_reconcile(b);
	const Skiff__Service *s = brain_get(b, SKIFF_KIND_SERVICE, "web");
	ck_assert_str_eq(s->spec->ports[0]->target_port_name, "http");
	ck_assert_uint_eq(s->status->n_endpoints, 2);
	ck_assert_uint_eq(s->status->endpoints[0]->port, 8443);
	ck_assert_uint_eq(s->status->endpoints[1]->port, 8443);
	/* a pod without the named port is no endpoint */
	s = brain_get(b, SKIFF_KIND_SERVICE, "plain");
	ck_assert(!s->status || s->status->n_endpoints == 0);
	brain_free(b);
}
END_TEST

TEST_SUITE(.setup = brain_test_setup, .teardown = brain_test_teardown, .timeout = 60);
