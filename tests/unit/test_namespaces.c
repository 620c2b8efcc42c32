/* test_namespaces.c — namespaces in the brain: "default" from the start,
 * applies into a namespace that does not exist refused, the same names in
 * two namespaces as two objects (pods, deployments, services), services
 * selecting pods of their own namespace only, a namespace's delete taking
 * everything in it and then itself, "default" never deleted, and a store
 * written before namespaces loading into "default". */
#include "brain_helpers.h"

#define Mi (1024LL * 1024)
#define Gi (1024LL * Mi)

static Skiff__Deployment *deployment_in(const char *ns, const char *name, int replicas)
{
	Skiff__Deployment *d = make_deployment(name, replicas, "img:1", 100, 64 * Mi);
	if (ns)
		skiff_set_str(&d->metadata->namespace_, ns);
	return d;
}

static int apply_namespace(struct brain *b, const char *name, char **ret_err)
{
	Skiff__Namespace ns = SKIFF__NAMESPACE__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	m.name = (char *)name;
	ns.metadata = &m;
	const char *result;
	return brain_apply(b, SKIFF_KIND_NAMESPACE, &ns.base, false, false, &result, NULL, ret_err);
}

static void apply_service_in(struct brain *b, const char *ns, const char *name, const char *app)
{
	Skiff__Service *svc = xmalloc(sizeof(*svc));
	skiff__service__init(svc);
	Skiff__ObjectMeta *m = skiff_meta_ensure(&svc->base);
	skiff_set_str(&m->name, name);
	skiff_set_str(&m->namespace_, ns);
	svc->spec = xmalloc(sizeof(*svc->spec));
	skiff__service_spec__init(svc->spec);
	svc->spec->n_ports = 1;
	svc->spec->ports = xmalloc(sizeof(void *));
	svc->spec->ports[0] = xmalloc(sizeof(Skiff__ServicePort));
	skiff__service_port__init(svc->spec->ports[0]);
	svc->spec->ports[0]->port = 80;
	svc->spec->n_selector = 1;
	svc->spec->selector = xmalloc(sizeof(void *));
	svc->spec->selector[0] = kv_new("app", app);
	const char *result;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(
	    brain_apply(b, SKIFF_KIND_SERVICE, &svc->base, false, false, &result, NULL, &err) == 0,
	    "apply service %s/%s: %s", ns, name, err);
	skiff_obj_free(&svc->base);
}

static size_t pods_in(struct pod_list *l, const char *prefix)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += skiff_startswith(l->names[i], prefix);
	return n;
}

TEST(test_same_names_in_two_namespaces_and_cascade)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	const Skiff__Namespace *def = brain_get(b, SKIFF_KIND_NAMESPACE, "default");
	ck_assert_ptr_nonnull(def);
	ck_assert_str_eq(def->status->phase, "Active");

	/* into a namespace that does not exist: refused, as Kubernetes */
	const char *result;
	_cleanup_free_ char *err = NULL;
	Skiff__Deployment *d = deployment_in("team-a", "web", 2);
	ck_assert_int_eq(
	    brain_apply(b, SKIFF_KIND_DEPLOYMENT, &d->base, false, false, &result, NULL, &err),
	    -ENOENT);
	ck_assert_str_eq(err, "namespaces \"team-a\" not found");
	skiff_obj_free(&d->base);
	free(err);
	err = NULL;
	ck_assert_int_eq(apply_namespace(b, "team-a", &err), 0);
	ck_assert_str_eq(
	    ((const Skiff__Namespace *)brain_get(b, SKIFF_KIND_NAMESPACE, "team-a"))->status->phase,
	    "Active");

	/* web in default and web in team-a: two deployments, four pods */
	apply_deployment(b, deployment_in(NULL, "web", 2), "created");
	apply_deployment(b, deployment_in("team-a", "web", 2), "created");
	apply_service_in(b, "default", "web", "web");
	apply_service_in(b, "team-a", "web", "web");
	brain_reconcile(b);
	report_all_running(b);
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 4);
	ck_assert_uint_eq(pods_in(l, "default/web-"), 2);
	ck_assert_uint_eq(pods_in(l, "team-a/web-"), 2);
	for (size_t i = 0; i < l->n; i++) {
		const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, l->names[i]);
		char ns[64];
		const char *name = skiff_key_split(l->names[i], ns);
		ck_assert_str_eq(p->metadata->namespace_, ns);
		ck_assert_str_eq(p->metadata->name, name);
		ck_assert_str_eq(p->owner, "web");
	}
	free_pods(l);
	/* each service's endpoints are the pods of its own namespace */
	const char *nss[] = { "default", "team-a" };
	for (size_t k = 0; k < 2; k++) {
		_cleanup_free_ char *key = brain_key(SKIFF_KIND_SERVICE, nss[k], "web");
		const Skiff__Service *s = brain_get(b, SKIFF_KIND_SERVICE, key);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(s->status->n_endpoints, 2);
		for (size_t i = 0; i < 2; i++) {
			_cleanup_free_ char *pk =
			    brain_key(SKIFF_KIND_POD, nss[k], s->status->endpoints[i]->pod);
			ck_assert_msg(brain_get(b, SKIFF_KIND_POD, pk), "%s", pk);
		}
	}
	/* scale is per namespace */
	Skiff__Deployment *scaled = NULL;
	ck_assert_int_eq(brain_scale(b, "team-a/web", 3, &scaled, &err), 0);
	skiff_obj_free(&scaled->base);
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(pods_in(l, "team-a/web-"), 3);
	ck_assert_uint_eq(pods_in(l, "default/web-"), 2);
	free_pods(l);
	report_all_running(b);
	brain_reconcile(b);

	/* default is never deleted */
	free(err);
	err = NULL;
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_NAMESPACE, "default", NULL, &err), -EPERM);
	ck_assert_str_eq(err, "namespaces \"default\" is forbidden: this namespace may not be "
			      "deleted");
	free(err);
	err = NULL;
	/* team-a: Terminating, nothing new goes in, everything in it goes */
	ProtobufCMessage *gone = NULL;
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_NAMESPACE, "team-a", &gone, &err), 0);
	ck_assert_str_eq(((Skiff__Namespace *)gone)->status->phase, "Terminating");
	skiff_obj_free(gone);
	d = deployment_in("team-a", "api", 1);
	ck_assert_int_eq(
	    brain_apply(b, SKIFF_KIND_DEPLOYMENT, &d->base, false, false, &result, NULL, &err),
	    -EPERM);
	ck_assert_str_eq(err, "unable to create new content in namespace team-a because it is "
			      "being terminated");
	skiff_obj_free(&d->base);
	brain_reconcile(b);
	ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_NAMESPACE, "team-a")); /* pods still stop */
	ck_assert_ptr_null(brain_get(b, SKIFF_KIND_DEPLOYMENT, "team-a/web"));
	ck_assert_ptr_null(brain_get(b, SKIFF_KIND_SERVICE, "team-a/web"));
	l = list_pods(b);
	ck_assert_uint_eq(count_terminating(l), 3);
	free_pods(l);
	ck_assert_uint_eq(report_all_stopped(b), 3);
	for (int i = 0; i < 3; i++)
		brain_reconcile(b);
	ck_assert_ptr_null(brain_get(b, SKIFF_KIND_NAMESPACE, "team-a"));
	/* default's objects are untouched */
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_uint_eq(pods_in(l, "default/web-"), 2);
	ck_assert_uint_eq(count_terminating(l), 0);
	free_pods(l);
	ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_DEPLOYMENT, "default/web"));
	ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_SERVICE, "default/web"));
	ck_assert_uint_eq(
	    ((const Skiff__Service *)brain_get(b, SKIFF_KIND_SERVICE, "web"))->status->n_endpoints,
	    2);
	brain_free(b);
}
END_TEST

static int count_prefix(const struct skiff_store_obj *o, void *userdata)
{
	size_t *n = userdata;
	*n += skiff_startswith(o->name, "team-b/");
	return 0;
}

TEST(test_namespace_delete_takes_events_too)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(apply_namespace(b, "team-b", &err), 0);
	apply_deployment(b, deployment_in("team-b", "web", 1), "created");
	brain_reconcile(b);
	size_t n = 0;
	skiff_store_foreach(b->store, SKIFF_KIND_EVENT, count_prefix, &n);
	ck_assert_uint_gt(n, 0); /* the deployment's events are in its namespace */
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_NAMESPACE, "team-b", NULL, &err), 0);
	for (int i = 0; i < 4; i++) {
		brain_reconcile(b);
		report_all_stopped(b);
	}
	ck_assert_ptr_null(brain_get(b, SKIFF_KIND_NAMESPACE, "team-b"));
	for (int k = 0; k < SKIFF_KIND_MAX; k++) {
		n = 0;
		skiff_store_foreach(b->store, k, count_prefix, &n);
		ck_assert_msg(n == 0, "%zu %s objects left in team-b", n, skiff_kind_name(k));
	}
	/* a namespace of that name can be made again, empty */
	ck_assert_int_eq(apply_namespace(b, "team-b", &err), 0);
	brain_free(b);
}
END_TEST

TEST(test_old_store_loads_into_default)
{
	/* a brain before namespaces wrote pods without metadata.namespace
	 * under their bare name: here, a store written through the store
	 * interface with bare names and no namespace in the objects */
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	Skiff__Deployment *d = make_deployment("old", 1, "img:1", 100, 64 * Mi);
	skiff_meta_ensure(&d->base)->uid = xstrdup("u1");
	size_t len;
	_cleanup_free_ uint8_t *buf = skiff_obj_pack(&d->base, &len);
	ck_assert_int_eq(skiff_store_put(b->store, SKIFF_KIND_DEPLOYMENT, "old", buf, len, NULL),
			 0);
	skiff_obj_free(&d->base);
	ck_assert_int_eq(skiff_store_sync(b->store), 0);
	brain_free(b);
	b = open_brain();
	const Skiff__Deployment *got = brain_get(b, SKIFF_KIND_DEPLOYMENT, "default/old");
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(brain_obj_namespace(&got->base), "default");
	brain_reconcile(b); /* its controller makes its pod in default */
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 1);
	ck_assert(skiff_startswith(l->names[0], "default/old-"));
	free_pods(l);
	brain_free(b);
}
END_TEST

TEST_SUITE(.setup = brain_test_setup, .teardown = brain_test_teardown, .timeout = 60);
