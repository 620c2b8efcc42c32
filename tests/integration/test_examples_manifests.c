/* test_examples_manifests.c — the demo manifests parse with skiffctl's own
 * parser, use the demo image, run programs that the image holds, and every
 * Service selects a Deployment of its demo. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest.h"
#include "testlib.h"
#include "util.h"

static const char *const demos[] = { "gateway", "queue", "fanout", "replica" };

static const char *label(Skiff__KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (streq(kv[i]->key, key))
			return kv[i]->value;
	return NULL;
}

static void check_demo(const char *demo)
{
	char dir[256];
	struct skiff_manifest m = { 0 };
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	size_t ndeploy = 0, nservice = 0;

	snprintf(dir, sizeof(dir), "examples/%s", demo);
	int errors = skiff_manifest_load_path(&m, dir);
	for (size_t i = 0; i < m.n_errors; i++)
		fprintf(stderr, "%s\n", m.errors[i]);
	ck_assert_int_eq(errors, 0);
	ck_assert_uint_gt(m.n, 0);
	for (size_t i = 0; i < m.n; i++) {
		const struct skiff_kind *kind;
		ProtobufCMessage *msg = skiff_object_member(m.objects[i].object, &kind);
		ck_assert_ptr_nonnull(msg);
		if (streq(kind->name, "deployment")) {
			Skiff__Deployment *d = (Skiff__Deployment *)msg;
			Skiff__PodSpec *ps = d->spec->template_->spec;
			ndeploy++;
			ck_assert_str_eq(label(d->metadata->labels, d->metadata->n_labels, "demo"),
					 demo);
			for (size_t c = 0; c < ps->n_containers; c++) {
				Skiff__Container *ct = ps->containers[c];
				char prog[512];
				ck_assert_str_eq(ct->image, "skiff-demo:1");
				ck_assert_uint_gt(ct->n_command, 0);
				ck_assert(skiff_startswith(ct->command[0], "/bin/"));
				snprintf(prog, sizeof(prog), "%s/examples/bin/%s", build,
					 ct->command[0] + 5);
				ck_assert_msg(access(prog, X_OK) == 0,
					      "%s: %s is not a demo program", m.objects[i].source,
					      ct->command[0]);
			}
		} else if (streq(kind->name, "service")) {
			Skiff__Service *s = (Skiff__Service *)msg;
			const char *app = label(s->spec->selector, s->spec->n_selector, "app");
			bool found = false;
			nservice++;
			ck_assert_ptr_nonnull(app);
			for (size_t k = 0; k < m.n; k++) {
				const struct skiff_kind *k2;
				ProtobufCMessage *m2 =
				    skiff_object_member(m.objects[k].object, &k2);
				if (!streq(k2->name, "deployment"))
					continue;
				Skiff__PodTemplate *t = ((Skiff__Deployment *)m2)->spec->template_;
				const char *tapp =
				    label(t->metadata->labels, t->metadata->n_labels, "app");
				found = found || (tapp && streq(tapp, app));
			}
			ck_assert_msg(found, "%s: service %s selects no deployment of demo %s",
				      m.objects[i].source, s->metadata->name, demo);
		}
	}
	ck_assert_uint_gt(ndeploy, 0);
	ck_assert_uint_gt(nservice, 0);
	skiff_manifest_clear(&m);
}

TEST_LOOP(test_demo_manifests, 0, sizeof(demos) / sizeof(demos[0]))
{
	check_demo(demos[_i]);
}
END_TEST
