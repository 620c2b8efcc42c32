/* test_brain_pods.c — how the brain keeps pods: packed bytes plus a summary
 * (struct brain_pod) that the scheduler and controllers read. The summary
 * must follow every change of the pod, its label matching must agree with
 * skiff_selector_match(), the pod read back must be the pod written, and
 * the shared strings must go with the last pod that uses them. */
#include <arpa/inet.h>

#include "brain_helpers.h"
#include "../../orchestrator/intern.h"

#define Mi (1024LL * 1024)
#define Gi (1024LL * Mi)

static Skiff__Pod *make_pod(const char *name)
{
	Skiff__Pod *p = xmalloc(sizeof(*p));
	skiff__pod__init(p);
	Skiff__ObjectMeta *m = skiff_meta_ensure(&p->base);
	m->name = xstrdup(name);
	m->n_labels = 2;
	m->labels = xmalloc(2 * sizeof(void *));
	m->labels[0] = kv_new("app", "web");
	m->labels[1] = kv_new("ver", "12.3x");
	Skiff__PodSpec *spec = skiff_pod_spec_ensure(p);
	Skiff__Container *c = xmalloc(sizeof(*c));
	skiff__container__init(c);
	c->name = xstrdup("main");
	c->image = xstrdup("img:1");
	c->n_command = 1;
	c->command = xmalloc(sizeof(char *));
	c->command[0] = xstrdup("/bin/app");
	c->resources = xmalloc(sizeof(*c->resources));
	skiff__resource_requirements__init(c->resources);
	c->resources->requests = xmalloc(sizeof(Skiff__ResourceList));
	skiff__resource_list__init(c->resources->requests);
	c->resources->requests->cpu_milli = 250;
	c->resources->requests->memory = 64 * Mi;
	spec->n_containers = 1;
	spec->containers = xmalloc(sizeof(void *));
	spec->containers[0] = c;
	return p;
}

static bool match(const struct brain_pod *p, const char *k1, const char *v1, const char *k2,
		  const char *v2)
{
	Skiff__KeyValue a = SKIFF__KEY_VALUE__INIT, b = SKIFF__KEY_VALUE__INIT;
	Skiff__KeyValue *sel[] = { &a, &b };
	a.key = (char *)k1;
	a.value = (char *)v1;
	b.key = (char *)k2;
	b.value = (char *)v2;
	return brain_pod_labels_match(p, sel, k2 ? 2 : (k1 ? 1 : 0));
}

TEST(test_summary_follows_the_pod)
{
	struct brain *b = open_brain();
	uint64_t epoch = add_node(b, "vm1", 8000, 8 * Gi);
	Skiff__Pod *in = make_pod("web-1");
	const char *result;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(
	    brain_apply(b, SKIFF_KIND_POD, &in->base, false, false, &result, NULL, &err), 0);
	skiff_obj_free(&in->base);

	const struct brain_pod *s = brain_pod_get(b, "web-1");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->node, "");
	ck_assert_str_eq(s->owner, "");
	ck_assert_str_eq(s->phase, "Pending");
	ck_assert_int_eq(s->cpu_milli, 250);
	ck_assert_int_eq(s->memory, 64 * Mi);
	ck_assert(!s->ready && !s->has_ip && !s->terminating && !s->has_selector);

	/* labels: values with digits and colons, every pair must be there */
	ck_assert(match(s, "app", "web", NULL, NULL));
	ck_assert(match(s, "ver", "12.3x", NULL, NULL));
	ck_assert(match(s, "ver", "12.3x", "app", "web"));
	ck_assert(!match(s, "ver", "12", NULL, NULL));
	ck_assert(!match(s, "ver", "2:3x", NULL, NULL));
	ck_assert(!match(s, "app", "we", NULL, NULL));
	ck_assert(!match(s, "ap", "web", NULL, NULL));
	ck_assert(!match(s, "appx", "web", NULL, NULL));
	ck_assert(!match(s, "app", "web", "tier", "db"));
	ck_assert(!match(s, NULL, NULL, NULL, NULL)); /* empty selector */

	/* bound by the scheduler */
	ck_assert_int_eq(brain_schedule(b), 1);
	s = brain_pod_get(b, "web-1");
	ck_assert_str_eq(s->node, "vm1");
	ck_assert(!s->ready);

	/* reported Running and ready with an address */
	ck_assert_int_eq(report_running(b, "vm1", epoch, "web-1", NULL, "10.244.0.7", &err), 0);
	s = brain_pod_get(b, "web-1");
	ck_assert_str_eq(s->phase, "Running");
	ck_assert(s->ready && s->has_ip && !s->terminating);
	ck_assert_uint_eq(s->ip4, htonl(0x0af40007)); /* 10.244.0.7 */

	/* the pod read back is the pod written, with what the brain added */
	const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, "web-1");
	ck_assert_str_eq(p->metadata->name, "web-1");
	ck_assert_uint_eq(p->metadata->n_labels, 2);
	ck_assert_str_eq(p->metadata->labels[1]->value, "12.3x");
	ck_assert_str_eq(p->spec->containers[0]->image, "img:1");
	ck_assert_str_eq(p->spec->node_name, "vm1");
	ck_assert_str_eq(p->status->pod_ip, "10.244.0.7");
	ck_assert_int_eq(p->status->node_epoch, epoch);
	ck_assert_int_eq(strlen(p->metadata->uid), 32);
	/* a view stays valid across writes until the round ends */
	ck_assert_int_eq(brain_pod_terminate(b, "web-1"), 1);
	ck_assert_str_eq(p->status->phase, "Running");
	brain_release_views(b);

	s = brain_pod_get(b, "web-1");
	ck_assert(s->terminating);
	ck_assert_int_eq(brain_pod_finalize(b, "web-1"), 0);
	ck_assert_ptr_null(brain_pod_get(b, "web-1"));
	brain_free(b);
}
END_TEST

TEST(test_shared_strings_go_with_the_pods)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 64000, 256 * Gi);
	add_node(b, "vm2", 64000, 256 * Gi);
	size_t before = skiff_intern_count();
	apply_deployment(b, make_deployment("web", 200, "img:1", 10, 16 * Mi), NULL);
	brain_reconcile(b);
	report_all_running(b);
	struct pod_list *l = list_pods(b); /* checks every summary against its pod */
	ck_assert_uint_eq(l->n, 200);
	ck_assert_uint_eq(count_on(l, "vm1"), 100);
	free_pods(l);
	/* two nodes, one owner, one namespace, one hash, one phase, one label set */
	ck_assert_uint_le(skiff_intern_count() - before, 7);

	/* the pods go: so do their strings */
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_DEPLOYMENT, "web", NULL, &err), 0);
	ck_assert_uint_eq(report_all_stopped(b), 200);
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 0);
	ck_assert_uint_eq(skiff_intern_count(), before);
	brain_free(b);
	ck_assert_uint_eq(skiff_intern_count(), 0);
}
END_TEST

TEST(test_restart_reads_the_same_pods)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 64000, 256 * Gi);
	apply_deployment(b, make_deployment("web", 20, "img:1", 10, 16 * Mi), NULL);
	brain_reconcile(b);
	report_all_running(b);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	struct pod_list *l1 = list_pods(b);
	brain_free(b);

	b = open_brain(); /* WAL replay rebuilds bytes and summaries */
	struct pod_list *l2 = list_pods(b);
	ck_assert_uint_eq(l1->n, l2->n);
	for (size_t i = 0; i < l2->n; i++) {
		const struct brain_pod *s = brain_pod_get(b, l2->names[i]);
		ck_assert(s->ready && s->has_ip);
		ck_assert_str_eq(s->node, "vm1");
		ck_assert_str_eq(s->owner, "default/web"); /* the deployment's key */
		ck_assert_str_eq(s->ns, "default");
	}
	ck_assert_int_eq(skiff_store_snapshot(b->store), 0);
	brain_free(b);
	b = open_brain(); /* and so does a snapshot */
	ck_assert_uint_eq(skiff_store_count(b->store, SKIFF_KIND_POD), 20);
	free_pods(list_pods(b));
	free_pods(l1);
	free_pods(l2);
	brain_free(b);
}
END_TEST

TEST_SUITE(.setup = brain_test_setup, .teardown = brain_test_teardown, .timeout = 60);
