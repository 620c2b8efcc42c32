/* test_validate.c — one set of rules (lib/validate.c): every manifest of a
 * table gets the same verdict, with the same message, from skiffctl's
 * parser (which adds file:line:col) and from a raw APPLY to the brain; the
 * objects no manifest can express (bad UTF-8, 100000 env vars, memory
 * INT64_MAX) are refused by the brain with the message skiffctl would show. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/objects.h"
#include "image.h"
#include "brain_helpers.h"
#include "manifest.h"
#include "validate.h"

#define POD_HEAD	"apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: p}\n"
#define POD(containers) POD_HEAD "spec:\n  containers: " containers "\n"
#define C(extra)	"[{name: c, image: 'img:1', command: [/bin/app]" extra "}]"
#define LABELED(labels)                                                                            \
	"apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: p, labels: " labels "}\n"               \
	"spec:\n  containers: " C("") "\n"
#define A63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char LABEL_KEY_RULE[] =
    "is not a valid label key (an optional DNS subdomain prefix of at most 253 characters and "
    "'/', then a name of 1-63 letters, digits, '-', '_' or '.', starting and ending with a "
    "letter or digit)";

static const struct {
	const char *what, *yaml;
	const char *error; /* NULL: accepted; a leading '*': key rule appended */
} cases[] = {
	{ "a plain pod", POD(C("")), NULL },
	{ "72-character prefixed label key", LABELED("{example.com/" A63 ": x}"), NULL },
	{ "a name part of 64", LABELED("{example.com/" A63 "a: x}"),
	  "*metadata.labels: 'example.com/" A63 "a' " },
	{ "label key a_", LABELED("{a_: x}"), "*metadata.labels: 'a_' " },
	{ "label key A.b-c_d", LABELED("{A.b-c_d: x}"), NULL },
	{ "upper-case prefix", LABELED("{Example.com/a: x}"),
	  "*metadata.labels: 'Example.com/a' " },
	{ "empty label value", LABELED("{app: ''}"), NULL },
	{ "label value with ':'", LABELED("{ver: '1:2'}"),
	  "metadata.labels.ver: '1:2' is not a valid label value (empty, or at most 63 letters, "
	  "digits, '-', '_' or '.', starting and ending with a letter or digit)" },
	{ "no command", POD("[{name: c, image: 'img:1'}]"),
	  "spec.containers[0].command: required field is missing (image 'img:1' names no "
	  "entrypoint)" },
	{ "bad pod name",
	  "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: Web_1}\n"
	  "spec:\n  containers: " C("") "\n",
	  "metadata.name: 'Web_1' is not a valid name (lower-case letters, digits and '-', starting "
	  "and ending with a letter or digit, at most 253 characters)" },
	{ "bad container name", POD("[{name: C, image: 'img:1', command: [/x]}]"),
	  "spec.containers[0].name: 'C' is not a valid name (lower-case letters, digits and '-', "
	  "starting and ending with a letter or digit, at most 63 characters)" },
	{ "memory over the cap", POD(C(", resources: {limits: {memory: 65Ti}}")),
	  "spec.containers[0].resources.limits.memory: must be 0-70368744177664 bytes (64Ti), got "
	  "71468255805440" },
	{ "memory at the cap", POD(C(", resources: {limits: {memory: 64Ti}}")), NULL },
	{ "ephemeral-storage over the cap",
	  POD(C(", resources: {limits: {ephemeral-storage: 65Ti}}")),
	  "spec.containers[0].resources.limits.ephemeral-storage: must be 0-70368744177664 bytes "
	  "(64Ti), got 71468255805440" },
	{ "ephemeral-storage request over the limit",
	  POD(C(", resources: {requests: {ephemeral-storage: 1Gi}, limits: {ephemeral-storage: "
		"512Mi}}")),
	  "spec.containers[0].resources.requests.ephemeral-storage: must not exceed the limit" },
	{ "ephemeral-storage limit", POD(C(", resources: {limits: {ephemeral-storage: 512Mi}}")),
	  NULL },
	{ "cpu over the cap", POD(C(", resources: {requests: {cpu: 2000}}")),
	  "spec.containers[0].resources.requests.cpu: must be 0-1024000 (millicores), got "
	  "2000000" },
	{ "port out of range", POD(C(", ports: [{containerPort: 70000}]")),
	  "spec.containers[0].ports[0].containerPort: must be 1-65535, got 70000" },
	{ "protocol", POD(C(", ports: [{containerPort: 80, protocol: SCTP}]")),
	  "spec.containers[0].ports[0].protocol: must be one of TCP,UDP, got 'SCTP'" },
	{ "env name with =", POD(C(", env: [{name: 'A=B', value: x}]")),
	  "spec.containers[0].env[0].name: 'A=B' is not a valid environment variable name "
	  "(letters, digits, '_', '-' and '.', not starting with a digit)" },
	{ "env name starting with a digit", POD(C(", env: [{name: 1X, value: x}]")),
	  "spec.containers[0].env[0].name: '1X' is not a valid environment variable name "
	  "(letters, digits, '_', '-' and '.', not starting with a digit)" },
	{ "env name with a space", POD(C(", env: [{name: A, value: x}, {name: 'MY VAR'}]")),
	  "spec.containers[0].env[1].name: 'MY VAR' is not a valid environment variable name "
	  "(letters, digits, '_', '-' and '.', not starting with a digit)" },
	{ "env names as Kubernetes takes them", POD(C(", env: [{name: _a.b-C9, value: x}]")),
	  NULL },
	{ "image with an empty tag", POD("[{name: c, image: 'web:', command: [/x]}]"),
	  "spec.containers[0].image: 'web:' is not a valid image reference "
	  "([HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]): the tag after ':' is empty" },
	{ "image with upper-case letters", POD("[{name: c, image: 'Web:1', command: [/x]}]"),
	  "spec.containers[0].image: 'Web:1' is not a valid image reference "
	  "([HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]): a name is lower-case letters and digits, "
	  "separated by '.', '_', '__' or '-'" },
	{ "image with a space", POD("[{name: c, image: 'my web', command: [/x]}]"),
	  "spec.containers[0].image: 'my web' is not a valid image reference "
	  "([HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]): a name is lower-case letters and digits, "
	  "separated by '.', '_', '__' or '-'" },
	{ "image with a bad digest", POD("[{name: c, image: 'web@sha256:12', command: [/x]}]"),
	  "spec.containers[0].image: 'web@sha256:12' is not a valid image reference "
	  "([HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]): a digest after '@' is sha256: and 64 "
	  "lower-case hex digits" },
	{ "image with two tags", POD("[{name: c, image: 'web:1:2', command: [/x]}]"),
	  "spec.containers[0].image: 'web:1:2' is not a valid image reference "
	  "([HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]): a name is lower-case letters and digits, "
	  "separated by '.', '_', '__' or '-'" },
	{ "image with a bad tag", POD("[{name: c, image: 'web:-1', command: [/x]}]"),
	  "spec.containers[0].image: 'web:-1' is not a valid image reference "
	  "([HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST]): a tag is 1-128 letters, digits, '_', '.' "
	  "and '-', not starting with '.' or '-'" },
	{ "image with a registry port, path and tag",
	  POD("[{name: c, image: 'Reg.example:5000/team/my__web-x:V1.2_b', command: [/x]}]"),
	  NULL },
	{ "two mounts at one path",
	  POD_HEAD "spec:\n  volumes: [{name: v}, {name: w}]\n  containers: " C(
	      ", volumeMounts: [{name: v, mountPath: /d}, {name: w, mountPath: /d}]") "\n",
	  "spec.containers[0].volumeMounts[1].mountPath: '/d' is mounted twice in this "
	  "container" },
	{ "a relative mountPath",
	  POD_HEAD "spec:\n  volumes: [{name: v}]\n  containers: " C(
	      ", volumeMounts: [{name: v, mountPath: d}]") "\n",
	  "spec.containers[0].volumeMounts[0].mountPath: must be an absolute path" },
	{ "two containers of one name",
	  POD("[{name: c, image: i, command: [/x]}, {name: c, image: i, command: [/y]}]"),
	  "spec.containers[1].name: container name 'c' is used twice" },
	{ "two ports of one name in a pod",
	  POD("[{name: a, image: i, command: [/x], ports: [{name: web, containerPort: 80}]}, "
	      "{name: b, image: i, command: [/y], ports: [{name: web, containerPort: 81}]}]"),
	  "spec.containers[1].ports[0].name: port name 'web' is used twice in the pod" },
	{ "mount of a missing volume", POD(C(", volumeMounts: [{name: v, mountPath: /v}]")),
	  "spec.containers[0].volumeMounts[0].name: no volume named 'v' in volumes" },
	{ "emptyDir medium",
	  POD_HEAD
	  "spec:\n  volumes: [{name: v, emptyDir: {medium: Disk}}]\n  containers: " C("") "\n",
	  "spec.volumes[0].emptyDir.medium: must be \"\" (the node's disk) or Memory, got 'Disk'" },
	{ "emptyDir in memory",
	  POD_HEAD "spec:\n  volumes: [{name: v, emptyDir: {medium: Memory, sizeLimit: 1Mi}}]\n"
		   "  containers: " C("") "\n",
	  NULL },
	{ "restart policy", POD_HEAD "spec:\n  restartPolicy: Sometimes\n  containers: " C("") "\n",
	  "spec.restartPolicy: must be one of Always,OnFailure,Never, got 'Sometimes'" },
	{ "replicas over the cap",
	  "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
	  "  replicas: 100001\n  template: {spec: {containers: " C("") "}}\n",
	  "spec.replicas: must be 0-100000, got 100001" },
	{ "deployment defaults its selector",
	  "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
	  "  template: {spec: {containers: " C("") "}}\n",
	  NULL },
	{ "selector not among the template labels",
	  "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
	  "  selector: {matchLabels: {app: a}}\n"
	  "  template: {metadata: {labels: {app: b}}, spec: {containers: " C("") "}}\n",
	  "spec.selector.matchLabels: does not match spec.template.metadata.labels (every "
	  "selector label must be a template label)" },
	{ "service without selector",
	  "apiVersion: skiff/v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n",
	  "spec.selector: at least one label is required" },
	{ "service port name not a DNS label (as in Kubernetes, up to 63 characters)",
	  "apiVersion: skiff/v1\nkind: Service\nmetadata: {name: s}\n"
	  "spec: {selector: {app: a}, ports: [{port: 80, name: web-}]}\n",
	  "spec.ports[0].name: 'web-' is not a valid name (lower-case letters, digits "
	  "and '-', starting and ending with a letter or digit, at most 63 characters)" },
	{ "service ports of one name",
	  "apiVersion: skiff/v1\nkind: Service\nmetadata: {name: s}\n"
	  "spec: {selector: {app: a}, ports: [{port: 80, name: web}, {port: 81, name: web}]}\n",
	  "spec.ports[1].name: port name 'web' is used twice" },
	{ "an unnamed port among two",
	  "apiVersion: skiff/v1\nkind: Service\nmetadata: {name: s}\n"
	  "spec: {selector: {app: a}, ports: [{port: 80, name: web}, {port: 81}]}\n",
	  "spec.ports[1].name: required when a service has more than one port" },
	{ "container port name without a letter",
	  "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: p}\n"
	  "spec: {containers: [{name: a, image: i, command: [/x], ports: [{name: '8080', "
	  "containerPort: 8080}]}]}\n",
	  "spec.containers[0].ports[0].name: '8080' is not a valid port name (1-15 lower-case "
	  "letters, digits and '-', with at least one letter)" },
};

static char *expected_error(const char *e)
{
	if (e[0] == '*')
		return xasprintf("%s%s", e + 1, LABEL_KEY_RULE);
	return xstrdup(e);
}

/* What a raw APPLY of obj answers (NULL: accepted). */
static char *brain_verdict(struct brain *b, Skiff__Object *obj)
{
	int kind;
	ProtobufCMessage *msg;
	const char *result;
	char *err = NULL;
	ck_assert_int_eq(skiff_obj_from_wrapper(obj, &kind, &msg), 0);
	int r = brain_apply(b, kind, msg, false, true, &result, NULL, &err);
	ck_assert_msg((r == 0) == (err == NULL), "r=%d err=%s", r, err ? err : "");
	return err;
}

TEST(test_same_verdict_from_skiffctl_and_the_brain)
{
	struct brain *b = open_brain();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *yaml = cases[i].yaml;
		_cleanup_free_ char *want = cases[i].error ? expected_error(cases[i].error) : NULL;

		/* skiffctl: parse, then the shared rules, placed */
		struct skiff_manifest m = { 0 };
		int n = skiff_manifest_parse_buffer(&m, "t.yaml", yaml, strlen(yaml));
		if (!want) {
			ck_assert_msg(n == 0 && m.n == 1, "%s: skiffctl refused: %s", cases[i].what,
				      m.n_errors ? m.errors[0] : "");
		} else {
			ck_assert_msg(n == 1 && m.n_errors == 1 && m.n == 0,
				      "%s: skiffctl gave %d errors", cases[i].what, n);
			unsigned line, col;
			int off = -1;
			sscanf(m.errors[0], "t.yaml:%u:%u: %n", &line, &col, &off);
			ck_assert_msg(off > 0, "%s: no file:line:col in '%s'", cases[i].what,
				      m.errors[0]);
			ck_assert_msg(line >= 1 && line <= 8, "%s: line %u", cases[i].what, line);
			ck_assert_msg(streq(m.errors[0] + off, want), "%s: skiffctl said '%s'",
				      cases[i].what, m.errors[0] + off);
		}
		skiff_manifest_clear(&m);

		/* the brain: the same document as written, sent raw */
		m = (struct skiff_manifest){ .no_validate = true };
		ck_assert_int_eq(skiff_manifest_parse_buffer(&m, "t.yaml", yaml, strlen(yaml)), 0);
		ck_assert_uint_eq(m.n, 1);
		_cleanup_free_ char *err = brain_verdict(b, m.objects[0].object);
		if (!want)
			ck_assert_msg(!err, "%s: the brain refused: %s", cases[i].what, err);
		else
			ck_assert_msg(err && streq(err, want), "%s: the brain said '%s'",
				      cases[i].what, err ? err : "(accepted)");
		skiff_manifest_clear(&m);
	}
	brain_free(b);
}
END_TEST

/* A good pod as skiffctl would send it, for a test to spoil. */
static Skiff__Object *good_pod(void)
{
	struct skiff_manifest m = { 0 };
	const char *yaml = POD(C(", resources: {requests: {memory: 1Mi}}"));
	ck_assert_int_eq(skiff_manifest_parse_buffer(&m, "t.yaml", yaml, strlen(yaml)), 0);
	Skiff__Object *o = m.objects[0].object;
	m.objects[0].object = NULL;
	m.objects[0].kind = NULL;
	free(m.objects[0].source);
	m.n = 0;
	skiff_manifest_clear(&m);
	return o;
}

/* skiffctl's check (skiff_validate on a copy) and the brain agree. */
static void expect_refused(struct brain *b, Skiff__Object *o, const char *want)
{
	Skiff__Object *copy = (Skiff__Object *)skiff_msg_copy(&o->base);
	_cleanup_free_ char *local = NULL;
	ck_assert_int_eq(skiff_validate(&copy->pod->base, NULL, &local), -EINVAL);
	ck_assert_str_eq(local, want);
	skiff__object__free_unpacked(copy, NULL);
	_cleanup_free_ char *err = brain_verdict(b, o);
	ck_assert_msg(err && streq(err, want), "brain said '%s'", err ? err : "(accepted)");
	skiff__object__free_unpacked(o, NULL);
}

TEST(test_raw_apply_is_held_to_the_same_rules)
{
	struct brain *b = open_brain();

	Skiff__Object *o = good_pod();
	Skiff__ObjectMeta *m = o->pod->metadata;
	m->labels = xmalloc(sizeof(void *));
	m->labels[0] = kv_new("app", "caf\xc3");
	m->n_labels = 1;
	expect_refused(b, o, "metadata.labels.app: not valid UTF-8");

	o = good_pod();
	skiff_set_str(&o->pod->spec->containers[0]->image, "img\xff");
	expect_refused(b, o, "spec.containers[0].image: not valid UTF-8");

	o = good_pod();
	Skiff__Container *c = o->pod->spec->containers[0];
	c->n_env = 100000;
	c->env = xcalloc(c->n_env, sizeof(void *));
	for (size_t i = 0; i < c->n_env; i++) {
		c->env[i] = xmalloc(sizeof(Skiff__EnvVar));
		skiff__env_var__init(c->env[i]);
		c->env[i]->name = xasprintf("V%zu", i);
	}
	expect_refused(b, o, "spec.containers[0].env: at most 1024 variables, got 100000");

	o = good_pod();
	o->pod->spec->containers[0]->resources->requests->memory = INT64_MAX;
	expect_refused(b, o,
		       "spec.containers[0].resources.requests.memory: must be 0-70368744177664 "
		       "bytes (64Ti), got 9223372036854775807");

	o = good_pod();
	Skiff__PodSpec *s = o->pod->spec;
	s->containers = xrealloc(s->containers, 33 * sizeof(void *));
	for (size_t i = 1; i < 33; i++) {
		s->containers[i] = (Skiff__Container *)skiff_msg_copy(&s->containers[0]->base);
		free(s->containers[i]->name);
		s->containers[i]->name = xasprintf("c%zu", i);
	}
	s->n_containers = 33;
	expect_refused(b, o, "spec.containers: at most 32 containers, got 33");

	o = good_pod();
	c = o->pod->spec->containers[0];
	c->n_args = 5000;
	c->args = xcalloc(c->n_args, sizeof(char *));
	for (size_t i = 0; i < c->n_args; i++)
		c->args[i] = xstrdup("x");
	expect_refused(b, o, "spec.containers[0].args: at most 1024 arguments, got 5000");

	/* what the brain accepted, it stored with the defaults filled in */
	o = good_pod();
	_cleanup_free_ char *err = brain_verdict(b, o);
	ck_assert_ptr_null(err);
	skiff__object__free_unpacked(o, NULL);
	brain_free(b);
}
END_TEST

static bool has_entrypoint(const char *image, void *userdata)
{
	return streq(image, (const char *)userdata);
}

TEST(test_image_entrypoint_hook)
{
	static const char yaml[] = POD("[{name: c, image: 'entry:1'}]");
	struct skiff_validate_opts opts = { .image_has_entrypoint = has_entrypoint,
					    .userdata = (void *)"entry:1" };
	struct skiff_manifest m = { .validate_opts = &opts };
	ck_assert_int_eq(skiff_manifest_parse_buffer(&m, "t.yaml", yaml, strlen(yaml)), 0);
	skiff_manifest_clear(&m);
	opts.userdata = (void *)"other:1";
	m = (struct skiff_manifest){ .validate_opts = &opts };
	ck_assert_int_eq(skiff_manifest_parse_buffer(&m, "t.yaml", yaml, strlen(yaml)), 1);
	ck_assert_str_eq(m.errors[0], "t.yaml:5:16: spec.containers[0].command: required field is "
				      "missing (image 'entry:1' names no entrypoint)");
	skiff_manifest_clear(&m);
}
END_TEST

/* The brain judges a container without command by its image: one loaded
 * into its store answers from its config, a registry image is left to the
 * node that pulls it, any other name has no config to give. */
TEST(test_command_left_to_the_image)
{
	struct brain *b = open_brain();
	Skiff__Image *img = xmalloc(sizeof(*img));
	skiff__image__init(img);
	img->metadata = xmalloc(sizeof(*img->metadata));
	skiff__object_meta__init(img->metadata);
	img->metadata->name = xstrdup("web:1");
	img->entrypoint = xcalloc(1, sizeof(char *));
	img->entrypoint[0] = xstrdup("/bin/web");
	img->n_entrypoint = 1;
	ck_assert_int_eq(brain_put(b, SKIFF_KIND_IMAGE, &img->base), 0);
	skiff_obj_free(&img->base); /* brain_put keeps a copy */
	img = xmalloc(sizeof(*img));
	skiff__image__init(img);
	img->metadata = xmalloc(sizeof(*img->metadata));
	skiff__object_meta__init(img->metadata);
	img->metadata->name = xstrdup("flat:1");
	ck_assert_int_eq(brain_put(b, SKIFF_KIND_IMAGE, &img->base), 0);
	skiff_obj_free(&img->base); /* brain_put keeps a copy */

	static const struct {
		const char *image, *error;
	} want[] = {
		{ "web:1", NULL },
		{ "registry.local:5000/web:1", NULL },
		{ "localhost/team/web", NULL },
		{ "flat:1", "spec.containers[0].command: required field is missing (image 'flat:1' "
			    "names no entrypoint)" },
		{ "web:2", "spec.containers[0].command: required field is missing (image 'web:2' "
			   "names no entrypoint)" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		Skiff__Object *o = good_pod();
		Skiff__Container *c = o->pod->spec->containers[0];
		skiff_set_str(&c->image, want[i].image);
		for (size_t j = 0; j < c->n_command; j++)
			free(c->command[j]);
		free(c->command);
		c->command = NULL;
		c->n_command = 0;
		_cleanup_free_ char *err = brain_verdict(b, o);
		if (want[i].error)
			ck_assert_msg(err && streq(err, want[i].error), "%s: the brain said '%s'",
				      want[i].image, err ? err : "(accepted)");
		else
			ck_assert_msg(!err, "%s: the brain refused: %s", want[i].image, err);
		skiff__object__free_unpacked(o, NULL);
	}
	brain_free(b);
}
END_TEST

TEST(test_image_references)
{
	static const char *const good[] = {
		"busybox",
		"skiff-demo:1",
		"library/busybox:1.36",
		"registry.local:5000/team/web:1.4",
		"localhost:5000/web",
		"LOCALHOST/web",
		"[::1]:5000/web:v1",
		"a.b-c__d---e/f_g:_x",
		"web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"web:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	};
	static const char *const bad[] = {
		"",	      "web:",	  ":1",
		"web@",	      "/web",	  "web/",
		"a//b",	      "a..b",	  "a___b",
		"-a",	      "a-",	  "a.",
		"Web",	      "web:-1",	  "web:.1",
		"web:a b",    "reg:/web", "reg:x1/web",
		"re_g:1/x",   "[::1/web", "web@sha256:AB",
		"web@md5:00", "a@b@c",	  "we b",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		_cleanup_free_ char *why = NULL;
		ck_assert_msg(skiff_image_reference_check(good[i], &why) == 0, "%s: %s", good[i],
			      why);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_free_ char *why = NULL;
		ck_assert_msg(skiff_image_reference_check(bad[i], &why) == -EINVAL && why,
			      "'%s' was taken", bad[i]);
	}
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	ck_assert_int_eq(skiff_image_reference_check(longname, NULL), -EINVAL);
}
END_TEST

TEST(test_rules)
{
	ck_assert(skiff_label_key_valid("app"));
	ck_assert(skiff_label_key_valid("skiff.io/node-name"));
	ck_assert(skiff_label_key_valid("a.b/C_d.e-F"));
	ck_assert(!skiff_label_key_valid("a_"));
	ck_assert(!skiff_label_key_valid("/a"));
	ck_assert(!skiff_label_key_valid("a/"));
	ck_assert(!skiff_label_key_valid("a/b/c"));
	ck_assert(!skiff_label_key_valid("-a.com/b"));
	ck_assert(!skiff_label_key_valid("a..b/c"));
	ck_assert(!skiff_label_key_valid(""));
	ck_assert(skiff_label_value_valid(""));
	ck_assert(skiff_label_value_valid("v1.2_3-x"));
	ck_assert(!skiff_label_value_valid("-v"));
	ck_assert(!skiff_label_value_valid("a b"));
	ck_assert(skiff_utf8_valid("caf\xc3\xa9", 5));
	ck_assert(!skiff_utf8_valid("caf\xc3", 4));
	ck_assert(!skiff_utf8_valid("\xc0\xaf", 2));	     /* overlong '/' */
	ck_assert(!skiff_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
	ck_assert(!skiff_utf8_valid("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
	ck_assert(skiff_utf8_valid("\xf0\x9f\x9a\xa2", 4));
}
END_TEST

TEST_SUITE(.setup = brain_test_setup, .teardown = brain_test_teardown, .timeout = 60);
