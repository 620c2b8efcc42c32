/* test_scheduler.c — the brain's scheduler: fit, per-node reasons, retry on
 * change, spread of a deployment's replicas, least allocated, node selector,
 * and a larger pass (timing printed, never asserted). */
#include <malloc.h>

#include "brain_helpers.h"

#define Mi (1024LL * 1024)
#define Gi (1024LL * Mi)

static const char *pod_reason_message(struct brain *b, const char *name)
{
	const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, name);
	return p->status ? p->status->message : "";
}

struct want_event {
	const char *pod;
	bool found;
};

static int find_event(const struct skiff_store_obj *o, void *ud)
{
	struct want_event *w = ud;
	const Skiff__Event *e = o->decoded;
	char ns[64]; /* w->pod is a key; the event names the pod in its namespace */
	if (streq(e->object_name, skiff_key_split(w->pod, ns)) &&
	    streq(e->metadata->namespace_, ns) && streq(e->reason, "FailedScheduling") &&
	    streq(e->type, "Warning") && strstr(e->message, "vm2 cordoned"))
		w->found = true;
	return 0;
}

TEST(test_reasons_per_node_and_retry)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 4000, 612 * Mi);
	add_node(b, "vm2", 4000, 4 * Gi);
	add_node(b, "vm3", 4000, 4 * Gi);
	/* vm1 already runs 512Mi worth of pods: 100Mi free */
	apply_deployment(b, make_deployment("big", 1, "img:1", 100, 512 * Mi), "created");
	char **ev;
	size_t nev;
	Skiff__Node *n;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_node_action(b, "vm2", "cordon", &n, &ev, &nev, &err), 0);
	skiff_obj_free(&n->base);
	ck_assert_int_eq(brain_node_action(b, "vm3", "cordon", &n, &ev, &nev, &err), 0);
	skiff_obj_free(&n->base);
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->nodes[0], "vm1");
	free_pods(l);
	ck_assert_int_eq(brain_node_action(b, "vm3", "uncordon", &n, &ev, &nev, &err), 0);
	skiff_obj_free(&n->base);
	/* vm3 goes silent: NotReady after the grace */
	fake_now += 3500;
	heartbeat_all_but(b, "vm3");
	brain_nodes_tick(b);
	const Skiff__Node *vm3 = brain_get(b, SKIFF_KIND_NODE, "vm3");
	ck_assert_str_eq(vm3->status->conditions[0]->status, "False");

	apply_deployment(b, make_deployment("web", 1, "img:1", 100, 512 * Mi), "created");
	brain_reconcile(b);
	l = list_pods(b);
	const char *web = NULL;
	for (size_t i = 0; i < l->n; i++)
		if (skiff_startswith(l->names[i], "default/web-")) {
			web = l->names[i];
			ck_assert_str_eq(l->nodes[i], "");
		}
	ck_assert_ptr_nonnull(web);
	ck_assert_str_eq(pod_reason_message(b, web),
			 "0/3 nodes fit: vm1 insufficient memory (need 512Mi, free 100Mi), vm2 "
			 "cordoned, vm3 not ready");
	const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, web);
	ck_assert_str_eq(p->status->phase, "Pending");
	ck_assert_str_eq(p->status->reason, "Unschedulable");
	/* a Warning event names the pod and says why */
	struct want_event want = { web, false };
	skiff_store_foreach(b->store, SKIFF_KIND_EVENT, find_event, &want);
	ck_assert(want.found);
	/* nothing changes: no new writes (no event storm) */
	uint64_t rev = skiff_store_revision(b->store);
	b->resync = true;
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_revision(b->store), rev);
	/* uncordon vm2: the pod is placed at once */
	ck_assert_int_eq(brain_node_action(b, "vm2", "uncordon", &n, &ev, &nev, &err), 0);
	skiff_obj_free(&n->base);
	brain_reconcile(b);
	p = brain_get(b, SKIFF_KIND_POD, web);
	ck_assert_str_eq(p->spec->node_name, "vm2");
	ck_assert_str_eq(p->status->reason, "Scheduled");
	free_pods(l);
	brain_free(b);
}
END_TEST

TEST(test_spread_then_least_allocated)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 4000, 4 * Gi);
	add_node(b, "vm2", 4000, 4 * Gi);
	add_node(b, "vm3", 4000, 4 * Gi);
	/* vm1 is busier: another deployment's 2 big pods land there first */
	add_node(b, "vmbig", 64000, 64 * Gi);
	apply_deployment(b, make_deployment("web", 8, "img:1", 100, 64 * Mi), NULL);
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 8);
	/* spread first: every node gets 2 */
	ck_assert_uint_eq(count_on(l, "vm1"), 2);
	ck_assert_uint_eq(count_on(l, "vm2"), 2);
	ck_assert_uint_eq(count_on(l, "vm3"), 2);
	ck_assert_uint_eq(count_on(l, "vmbig"), 2);
	free_pods(l);
	/* least allocated decides among equal spread: a new deployment's single
	 * pod goes to the biggest (least allocated) node */
	apply_deployment(b, make_deployment("one", 1, "img:1", 1000, 1 * Gi), NULL);
	brain_reconcile(b);
	l = list_pods(b);
	for (size_t i = 0; i < l->n; i++)
		if (skiff_startswith(l->names[i], "one-"))
			ck_assert_str_eq(l->nodes[i], "vmbig");
	free_pods(l);
	brain_free(b);
}
END_TEST

TEST(test_node_selector_and_capacity)
{
	struct brain *b = open_brain();
	add_node_labels(b, "vm1", 1000, 1 * Gi, "disk", "ssd");
	add_node_labels(b, "vm2", 8000, 8 * Gi, "disk", "hdd");
	Skiff__Deployment *d = make_deployment("db", 3, "img:1", 300, 256 * Mi);
	Skiff__PodSpec *ps = d->spec->template_->spec;
	ps->n_node_selector = 1;
	ps->node_selector = xmalloc(sizeof(void *));
	ps->node_selector[0] = kv_new("disk", "ssd");
	apply_deployment(b, d, "created");
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 3);
	/* all on vm1 (selector), 3 x 300m fits in 1000m */
	ck_assert_uint_eq(count_on(l, "vm1"), 3);
	free_pods(l);
	/* a fourth does not fit: cpu on vm1, selector on vm2 */
	Skiff__Deployment *cur = brain_copy(b, SKIFF_KIND_DEPLOYMENT, "db");
	cur->spec->replicas = 4;
	skiff_obj_free((ProtobufCMessage *)cur->status);
	cur->status = NULL;
	apply_deployment(b, cur, "configured");
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 4);
	for (size_t i = 0; i < l->n; i++)
		if (!*l->nodes[i])
			ck_assert_str_eq(pod_reason_message(b, l->names[i]),
					 "0/2 nodes fit: vm1 insufficient cpu (need 300m, free "
					 "100m), vm2 does not match the node selector");
	free_pods(l);
	brain_free(b);
}
END_TEST

TEST(test_no_nodes)
{
	struct brain *b = open_brain();
	apply_deployment(b, make_deployment("web", 1, "img:1", 0, 0), NULL);
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(pod_reason_message(b, l->names[0]),
			 "0/0 nodes fit: no nodes are registered");
	free_pods(l);
	brain_free(b);
}
END_TEST

struct names_acc {
	char **v;
	size_t n;
};

static int acc_name(const struct skiff_store_obj *o, void *userdata)
{
	struct names_acc *a = userdata;
	a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
	a->v[a->n++] = xstrdup(o->name);
	return 0;
}

/* Every pod reported Running with an IP, as agents would. */
static void report_many_running(struct brain *b)
{
	struct names_acc acc = { 0 };
	skiff_store_foreach(b->store, SKIFF_KIND_POD, acc_name, &acc);
	for (size_t i = 0; i < acc.n; i++) {
		const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, acc.v[i]);
		const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, p->spec->node_name);
		Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
		Skiff__PodStatus st = SKIFF__POD_STATUS__INIT;
		char ip[32];
		snprintf(ip, sizeof(ip), "10.244.%zu.%zu", i / 250 % 256, 2 + i % 250);
		_cleanup_free_ char *node = xstrdup(p->spec->node_name);
		_cleanup_free_ char *uid = xstrdup(p->metadata->uid);
		st.phase = (char *)"Running";
		st.ready = true;
		st.pod_ip = ip;
		st.start_ms = 1795818671845;
		rep.node = node;
		rep.epoch = n->status->epoch;
		char ns[64];
		rep.pod = (char *)skiff_key_split(acc.v[i], ns);
		rep.namespace_ = ns;
		rep.uid = uid;
		rep.status = &st;
		_cleanup_free_ char *err = NULL;
		ck_assert_msg(brain_pod_status(b, &rep, &err) == 0, "status: %s", err ? err : "");
		free(acc.v[i]);
	}
	free(acc.v);
}

TEST(test_many_pods_one_pass)
{
	struct brain *b = open_brain();
	char name[32];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "node-%03d", i);
		add_node(b, name, 64000, 256 * Gi);
	}
	for (int d = 0; d < 4; d++) {
		snprintf(name, sizeof(name), "app%d", d);
		apply_deployment(b, make_deployment(name, 5000, "img:1", 10, 16 * Mi), NULL);
	}
	size_t heap0 = mallinfo2().uordblks;
	uint64_t t0 = skiff_mono_ns();
	brain_deployments_reconcile(b);
	uint64_t t1 = skiff_mono_ns();
	int bound = brain_schedule(b);
	uint64_t t2 = skiff_mono_ns();
	ck_assert_int_eq(bound, 20000);
	printf("scheduler: created 20000 pods in %.0f ms, bound them onto 200 nodes in %.0f ms "
	       "(%.0f pods/s)\n",
	       (t1 - t0) / 1e6, (t2 - t1) / 1e6, 20000 / ((t2 - t1) / 1e9));
	ck_assert_int_eq(brain_schedule(b), 0);
	size_t heap1 = mallinfo2().uordblks;
	report_many_running(b);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	brain_release_views(b); /* what the daemon does after every round */
	size_t heap2 = mallinfo2().uordblks;
	/* a figure for docs/architecture.md (bench/brain.sh measures RSS);
	 * sanitizer builds have their own allocator (mallinfo2 says 0) */
	if (heap2 > heap0)
		printf("memory: %.0f bytes of heap per bound pod, %.0f per Running pod\n",
		       ((double)heap1 - (double)heap0) / 20000,
		       ((double)heap2 - (double)heap0) / 20000);
	brain_free(b);
}
END_TEST

TEST_SUITE(.setup = brain_test_setup, .teardown = brain_test_teardown, .timeout = 60);
