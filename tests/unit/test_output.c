/* test_output.c — skiffctl's tables, ages and -o name/json/yaml printing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "manifest.h"
#include "output.h"
#include "util.h"
#include "testlib.h"

static char *render(const struct skiff_kind *k, Skiff__Object **items, size_t n,
		    enum skiff_output fmt, int64_t now)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(skiff_output_objects(f, k, items, n, fmt, n == 1, true, now), 0);
	fclose(f);
	return text;
}

TEST(test_ages)
{
	char buf[32];
	int64_t now = 1700000000000;
	ck_assert_str_eq(skiff_format_age(now, now - 3000, buf, sizeof(buf)), "3s");
	ck_assert_str_eq(skiff_format_age(now, now - 59999, buf, sizeof(buf)), "59s");
	ck_assert_str_eq(skiff_format_age(now, now - 5 * 60000 - 10, buf, sizeof(buf)), "5m");
	ck_assert_str_eq(skiff_format_age(now, now - 2 * 3600000, buf, sizeof(buf)), "2h");
	ck_assert_str_eq(skiff_format_age(now, now - 47 * 3600000LL, buf, sizeof(buf)), "47h");
	ck_assert_str_eq(skiff_format_age(now, now - 4 * 86400000LL, buf, sizeof(buf)), "4d");
	ck_assert_str_eq(skiff_format_age(now, now - 800 * 86400000LL, buf, sizeof(buf)), "2y");
	ck_assert_str_eq(skiff_format_age(now, now + 5000, buf, sizeof(buf)), "0s"); /* skew */
	ck_assert_str_eq(skiff_format_age(now, 0, buf, sizeof(buf)), "<unknown>");
}
END_TEST

TEST(test_table_alignment)
{
	static const char *const h[] = { "NAME", "STATUS", "AGE" };
	struct skiff_table *t = skiff_table_new(3, h);
	const char *r1[] = { "web-7d9f-abcde", "Running", "3s" };
	const char *r2[] = { "db", "CrashLoopBackOff", "12m" };
	skiff_table_add(t, r1);
	skiff_table_add(t, r2);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	skiff_table_print(t, f, true);
	fclose(f);
	ck_assert_str_eq(text, "NAME             STATUS             AGE\n"
			       "web-7d9f-abcde   Running            3s\n"
			       "db               CrashLoopBackOff   12m\n");
	free(text);
	skiff_table_free(t);
}
END_TEST

static Skiff__Object *make_pod(const char *name, const char *phase, int restarts, bool ready,
			       int64_t created)
{
	Skiff__Pod *p = xmalloc(sizeof(*p));
	skiff__pod__init(p);
	p->metadata = xmalloc(sizeof(*p->metadata));
	skiff__object_meta__init(p->metadata);
	p->metadata->name = xstrdup(name);
	p->metadata->created_ms = created;
	p->spec = xmalloc(sizeof(*p->spec));
	skiff__pod_spec__init(p->spec);
	p->spec->node_name = xstrdup("vm1");
	p->spec->n_containers = 1;
	p->spec->containers = xmalloc(sizeof(Skiff__Container *));
	p->spec->containers[0] = xmalloc(sizeof(Skiff__Container));
	skiff__container__init(p->spec->containers[0]);
	p->spec->containers[0]->name = xstrdup("c");
	p->spec->containers[0]->image = xstrdup("skiff-demo:1");
	p->spec->containers[0]->n_command = 1;
	p->spec->containers[0]->command = xmalloc(sizeof(char *));
	p->spec->containers[0]->command[0] = xstrdup("/bin/web");
	p->status = xmalloc(sizeof(*p->status));
	skiff__pod_status__init(p->status);
	p->status->phase = xstrdup(phase);
	p->status->pod_ip = xstrdup("10.244.1.7");
	p->status->n_container_statuses = 1;
	p->status->container_statuses = xmalloc(sizeof(Skiff__ContainerStatus *));
	Skiff__ContainerStatus *cs = xmalloc(sizeof(*cs));
	skiff__container_status__init(cs);
	cs->name = xstrdup("c");
	cs->state = xstrdup(ready ? "Running" : "Waiting");
	cs->reason = xstrdup(ready ? "" : "CrashLoopBackOff");
	cs->restart_count = restarts;
	cs->ready = ready;
	p->status->container_statuses[0] = cs;
	const struct skiff_kind *k = skiff_kind_lookup("pod");
	return skiff_object_wrap(k, (ProtobufCMessage *)p);
}

TEST(test_pod_table)
{
	int64_t now = 1700000000000;
	Skiff__Object *items[] = {
		make_pod("web-1", "Running", 0, true, now - 3000),
		make_pod("web-2", "Running", 4, false, now - 300000),
	};
	const struct skiff_kind *k = skiff_kind_lookup("po");
	_cleanup_free_ char *t = render(k, items, 2, SKIFF_OUTPUT_TABLE, now);
	ck_assert_str_eq(t, "NAME    READY   STATUS             RESTARTS   AGE\n"
			    "web-1   1/1     Running            0          3s\n"
			    "web-2   0/1     CrashLoopBackOff   4          5m\n");
	_cleanup_free_ char *w = render(k, items, 2, SKIFF_OUTPUT_WIDE, now);
	ck_assert_str_eq(w,
			 "NAME    READY   STATUS             RESTARTS   AGE   IP           NODE\n"
			 "web-1   1/1     Running            0          3s    10.244.1.7   vm1\n"
			 "web-2   0/1     CrashLoopBackOff   4          5m    10.244.1.7   vm1\n");
	_cleanup_free_ char *n = render(k, items, 2, SKIFF_OUTPUT_NAME, now);
	ck_assert_str_eq(n, "pod/web-1\npod/web-2\n");
	_cleanup_free_ char *j = render(k, items, 1, SKIFF_OUTPUT_JSON, now);
	ck_assert_ptr_nonnull(
	    strstr(j, "{\n  \"apiVersion\": \"skiff/v1\",\n  \"kind\": \"Pod\",\n"));
	ck_assert_ptr_nonnull(strstr(j, "\"podIp\": \"10.244.1.7\""));
	ck_assert_ptr_null(strstr(j, "\"restartCount\"")); /* zero values are left out */
	_cleanup_free_ char *y = render(k, items, 2, SKIFF_OUTPUT_YAML, now);
	ck_assert_ptr_nonnull(
	    strstr(y, "kind: List\nitems:\n- apiVersion: skiff/v1\n  kind: Pod\n"));
	ck_assert_ptr_nonnull(strstr(y, "      restartCount: 4\n"));
	/* what -o yaml printed, apply reads back (status is ignored) */
	struct skiff_manifest m = { 0 };
	ck_assert_int_eq(skiff_manifest_parse_buffer(&m, "y", y, strlen(y)), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_ptr_null(m.objects[1].object->pod->status);
	ck_assert_str_eq(m.objects[1].object->pod->spec->node_name, "vm1");
	skiff_manifest_clear(&m);
	skiff__object__free_unpacked(items[0], NULL);
	skiff__object__free_unpacked(items[1], NULL);
}
END_TEST

TEST(test_other_tables)
{
	int64_t now = 1700000000000;
	struct skiff_manifest m = { 0 };
	const char *text =
	    "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 5\n"
	    "  template: {spec: {containers: [{name: web, image: 'skiff-demo:1', command: [/bin/web]}]}}\n---\n"
	    "apiVersion: skiff/v1\nkind: Service\nmetadata: {name: web}\n"
	    "spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n";
	ck_assert_int_eq(skiff_manifest_parse_buffer(&m, "x", text, strlen(text)), 0);
	Skiff__Deployment *d = m.objects[0].object->deployment;
	d->metadata->created_ms = now - 2 * 3600000;
	d->status = xmalloc(sizeof(*d->status));
	skiff__deployment_status__init(d->status);
	d->status->ready_replicas = 3;
	d->status->updated_replicas = 5;
	d->status->available_replicas = 3;
	_cleanup_free_ char *dt =
	    render(m.objects[0].kind, &m.objects[0].object, 1, SKIFF_OUTPUT_TABLE, now);
	ck_assert_str_eq(dt, "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n"
			     "web    3/5     5            3           2h\n");

	Skiff__Service *s = m.objects[1].object->service;
	s->metadata->created_ms = now - 4 * 86400000LL;
	s->status = xmalloc(sizeof(*s->status));
	skiff__service_status__init(s->status);
	s->status->n_endpoints = 5;
	s->status->endpoints = xcalloc(5, sizeof(Skiff__Endpoint *));
	for (int i = 0; i < 5; i++) {
		Skiff__Endpoint *ep = xmalloc(sizeof(*ep));
		skiff__endpoint__init(ep);
		ep->ip = xasprintf("10.244.%d.2", i);
		ep->port = 8080;
		ep->ready = i != 4;
		s->status->endpoints[i] = ep;
	}
	_cleanup_free_ char *st =
	    render(m.objects[1].kind, &m.objects[1].object, 1, SKIFF_OUTPUT_TABLE, now);
	ck_assert_str_eq(st,
			 "NAME   SELECTOR   PORT(S)   ENDPOINTS                                    "
			 "                 AGE\n"
			 "web    app=web    80/TCP    10.244.0.2:8080,10.244.1.2:8080,10.244.2.2:"
			 "8080 + 1 more...   4d\n");
	skiff_manifest_clear(&m);

	/* nodes */
	Skiff__Node *n = xmalloc(sizeof(*n));
	skiff__node__init(n);
	n->metadata = xmalloc(sizeof(*n->metadata));
	skiff__object_meta__init(n->metadata);
	n->metadata->name = xstrdup("vm1");
	n->metadata->created_ms = now - 60000;
	n->spec = xmalloc(sizeof(*n->spec));
	skiff__node_spec__init(n->spec);
	n->spec->unschedulable = true;
	n->spec->pod_cidr = xstrdup("10.244.1.0/24");
	n->status = xmalloc(sizeof(*n->status));
	skiff__node_status__init(n->status);
	n->status->address = xstrdup("10.77.0.11");
	n->status->agent_version = xstrdup("0.1.0");
	n->status->capacity = xmalloc(sizeof(Skiff__ResourceList));
	skiff__resource_list__init(n->status->capacity);
	n->status->capacity->cpu_milli = 2000;
	n->status->capacity->memory = 4LL << 30;
	n->status->n_conditions = 1;
	n->status->conditions = xmalloc(sizeof(Skiff__NodeCondition *));
	n->status->conditions[0] = xmalloc(sizeof(Skiff__NodeCondition));
	skiff__node_condition__init(n->status->conditions[0]);
	n->status->conditions[0]->type = xstrdup("Ready");
	n->status->conditions[0]->status = xstrdup("True");
	Skiff__Object *obj = skiff_object_wrap(skiff_kind_lookup("no"), (ProtobufCMessage *)n);
	_cleanup_free_ char *nt =
	    render(skiff_kind_lookup("nodes"), &obj, 1, SKIFF_OUTPUT_WIDE, now);
	ck_assert_str_eq(nt,
			 "NAME   STATUS                     ROLES    AGE   VERSION   INTERNAL-IP   "
			 "POD-CIDR        CPU   MEMORY\n"
			 "vm1    Ready,SchedulingDisabled   <none>   1m    0.1.0     10.77.0.11    "
			 "10.244.1.0/24   2     4Gi\n");
	skiff__object__free_unpacked(obj, NULL);

	/* events */
	Skiff__Event *e = xmalloc(sizeof(*e));
	skiff__event__init(e);
	e->object_kind = xstrdup("pod");
	e->object_name = xstrdup("web-1");
	e->type = xstrdup("Warning");
	e->reason = xstrdup("FailedScheduling");
	e->message = xstrdup("0/2 nodes are available");
	e->count = 3;
	e->last_ms = now - 7000;
	obj = skiff_object_wrap(skiff_kind_lookup("ev"), (ProtobufCMessage *)e);
	_cleanup_free_ char *et =
	    render(skiff_kind_lookup("events"), &obj, 1, SKIFF_OUTPUT_TABLE, now);
	ck_assert_str_eq(et, "LAST SEEN   TYPE      REASON             OBJECT      MESSAGE\n"
			     "7s          Warning   FailedScheduling   pod/web-1   0/2 nodes are "
			     "available (x3)\n");
	skiff__object__free_unpacked(obj, NULL);
}
END_TEST

static Skiff__Object *ns_obj(const char *kind, const char *ns, const char *name, int64_t created)
{
	Skiff__ObjectMeta *m = xmalloc(sizeof(*m));
	skiff__object_meta__init(m);
	m->name = xstrdup(name);
	if (ns)
		m->namespace_ = xstrdup(ns);
	m->created_ms = created;
	if (streq(kind, "namespace")) {
		Skiff__Namespace *n = xmalloc(sizeof(*n));
		skiff__namespace__init(n);
		n->metadata = m;
		n->status = xmalloc(sizeof(*n->status));
		skiff__namespace_status__init(n->status);
		n->status->phase = xstrdup(streq(name, "old") ? "Terminating" : "Active");
		return skiff_object_wrap(skiff_kind_lookup(kind), &n->base);
	}
	Skiff__Service *s = xmalloc(sizeof(*s));
	skiff__service__init(s);
	s->metadata = m;
	return skiff_object_wrap(skiff_kind_lookup(kind), &s->base);
}

TEST(test_namespace_tables)
{
	int64_t now = 1700000000000;
	const struct skiff_kind *nsk = skiff_kind_lookup("ns");
	ck_assert_ptr_nonnull(nsk);
	ck_assert(!nsk->namespaced);
	ck_assert(skiff_kind_lookup("svc")->namespaced);
	Skiff__Object *nss[] = { ns_obj("namespace", NULL, "default", now - 3000),
				 ns_obj("namespace", NULL, "old", now - 60000) };
	char *text = render(nsk, nss, 2, SKIFF_OUTPUT_TABLE, now);
	ck_assert_str_eq(text, "NAME      STATUS        AGE\n"
			       "default   Active        3s\n"
			       "old       Terminating   1m\n");
	free(text);
	/* get -A: NAMESPACE first for namespaced kinds, never for namespaces */
	skiff_output_namespace_column = true;
	text = render(nsk, nss, 1, SKIFF_OUTPUT_TABLE, now);
	ck_assert(skiff_startswith(text, "NAME "));
	free(text);
	Skiff__Object *svcs[] = { ns_obj("service", "team-a", "web", now - 3000),
				  ns_obj("service", NULL, "web", now - 3000) };
	text = render(skiff_kind_lookup("svc"), svcs, 2, SKIFF_OUTPUT_TABLE, now);
	ck_assert_str_eq(text, "NAMESPACE   NAME   SELECTOR   PORT(S)   ENDPOINTS   AGE\n"
			       "team-a      web    <none>     <none>    <none>      3s\n"
			       "default     web    <none>     <none>    <none>      3s\n");
	free(text);
	skiff_output_namespace_column = false;
	for (size_t i = 0; i < 2; i++) {
		skiff__object__free_unpacked(nss[i], NULL);
		skiff__object__free_unpacked(svcs[i], NULL);
	}
}
END_TEST

TEST(test_output_parse)
{
	enum skiff_output o;
	ck_assert_int_eq(skiff_output_parse("wide", &o), 0);
	ck_assert_int_eq(o, SKIFF_OUTPUT_WIDE);
	ck_assert_int_eq(skiff_output_parse("yaml", &o), 0);
	ck_assert_int_eq(o, SKIFF_OUTPUT_YAML);
	ck_assert_int_eq(skiff_output_parse("name", &o), 0);
	ck_assert_int_eq(o, SKIFF_OUTPUT_NAME);
	ck_assert_int_lt(skiff_output_parse("xml", &o), 0);
}
END_TEST

TEST(test_yaml_quoting)
{
	/* strings YAML would read as numbers, booleans or null keep their quotes */
	struct skiff_doc_node *map = skiff_doc_new(SKIFF_DOC_MAP);
	const char *vals[] = { "8080", "true", "no",	 "~",	 "",	 "1.5",
			       "0x1f", "64Mi", "--port", "a: b", "plain" };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%zu", i);
		skiff_doc_put(map, key, skiff_doc_scalar(vals[i], SKIFF_SCALAR_STRING));
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(skiff_doc_write_yaml(f, map, false), 0);
	fclose(f);
	ck_assert_str_eq(text, "k0: \"8080\"\nk1: \"true\"\nk2: \"no\"\nk3: \"~\"\nk4: \"\"\n"
			       "k5: \"1.5\"\nk6: \"0x1f\"\nk7: 64Mi\nk8: --port\nk9: 'a: b'\n"
			       "k10: plain\n");
	struct skiff_doc_set set = { 0 };
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(skiff_doc_load_yaml("t", text, len, &set, &err), 0);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		ck_assert_str_eq(set.docs[0]->items[2 * i + 1]->str, vals[i]);
		ck_assert(!set.docs[0]->items[2 * i + 1]->null);
	}
	skiff_doc_set_clear(&set);
	free(text);
	skiff_doc_free(map);
}
END_TEST

/* -o json: strings escaped, numbers and booleans bare, and text that is not
 * valid UTF-8 replaced (U+FFFD), never passed through raw. */
TEST(test_json_output)
{
	struct skiff_doc_node *map = skiff_doc_new(SKIFF_DOC_MAP);
	struct skiff_doc_node *seq = skiff_doc_new(SKIFF_DOC_SEQ);
	skiff_doc_put(map, "name", skiff_doc_scalar("web \"1\"\\\n\t\x01", SKIFF_SCALAR_STRING));
	skiff_doc_put(map, "bad", skiff_doc_scalar("caf\xe9-\xff\xc3", SKIFF_SCALAR_STRING));
	skiff_doc_put(map, "utf8",
		      skiff_doc_scalar("caf\xc3\xa9 \xe2\x9c\x93", SKIFF_SCALAR_STRING));
	skiff_doc_put(map, "k\xfey", skiff_doc_scalar("v", SKIFF_SCALAR_STRING));
	skiff_doc_put(map, "replicas", skiff_doc_number(3));
	skiff_doc_put(map, "ready", skiff_doc_scalar("true", SKIFF_SCALAR_BOOL));
	skiff_doc_append(seq, skiff_doc_number(-7));
	skiff_doc_put(map, "list", seq);
	skiff_doc_put(map, "empty", skiff_doc_new(SKIFF_DOC_MAP));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(skiff_doc_write_json(f, map), 0);
	fclose(f);
	ck_assert_str_eq(text, "{\n  \"name\": \"web \\\"1\\\"\\\\\\n\\t\\u0001\",\n"
			       "  \"bad\": \"caf\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd\",\n"
			       "  \"utf8\": \"caf\xc3\xa9 \xe2\x9c\x93\",\n"
			       "  \"k\xef\xbf\xbdy\": \"v\",\n"
			       "  \"replicas\": 3,\n  \"ready\": true,\n"
			       "  \"list\": [\n    -7\n  ],\n  \"empty\": {}\n}\n");
	free(text);
	skiff_doc_free(map);
}
END_TEST

TEST(test_config_lookup)
{
	char dir[] = "/tmp/skiff-test-ctlcfg-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	_cleanup_free_ char *home_cfg = xasprintf("%s/.skiff/config", dir);
	_cleanup_free_ char *skiff_dir = xasprintf("%s/.skiff", dir);
	_cleanup_free_ char *env_cfg = xasprintf("%s/admin.conf", dir);
	char *looked = NULL, *found;

	setenv("HOME", dir, 1);
	unsetenv("SKIFF_CONFIG");
	ctl_config_flag = NULL;
	/* nothing anywhere: says where it looked */
	ck_assert_ptr_null(ctl_config_find(&looked));
	_cleanup_free_ char *want = xasprintf("--config, $SKIFF_CONFIG and %s", home_cfg);
	ck_assert_str_eq(looked, want);
	free(looked);
	/* ~/.skiff/config */
	ck_assert_int_eq(skiff_mkdir_p(skiff_dir, 0700), 0);
	ck_assert_int_eq(skiff_write_file_atomic(home_cfg, "x", 1, 0600), 0);
	found = ctl_config_find(&looked);
	ck_assert_str_eq(found, home_cfg);
	free(found);
	free(looked);
	/* $SKIFF_CONFIG wins over ~/.skiff/config, even when it is missing */
	setenv("SKIFF_CONFIG", env_cfg, 1);
	ck_assert_ptr_null(ctl_config_find(&looked));
	ck_assert(strstr(looked, "$SKIFF_CONFIG"));
	free(looked);
	ck_assert_int_eq(skiff_write_file_atomic(env_cfg, "x", 1, 0600), 0);
	found = ctl_config_find(&looked);
	ck_assert_str_eq(found, env_cfg);
	free(found);
	free(looked);
	/* --config wins over both */
	ctl_config_flag = "/nonexistent/conf";
	ck_assert_ptr_null(ctl_config_find(&looked));
	ck_assert_str_eq(looked, "--config /nonexistent/conf");
	free(looked);
	ctl_config_flag = NULL;
	unsetenv("SKIFF_CONFIG");
	skiff_rm_rf(dir);
}
END_TEST
