/* cmd_modify.c — verbs that change part of objects that exist, or make one
 * from flags: label, annotate, set image, rollout restart|pause|resume, run.
 * Each fetches the object, changes it here and sends it back through
 * MSG_APPLY, so the brain validates it exactly as it validates a manifest. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "ctl.h"
#include "util.h"

/* Send obj back; *ret_result: "configured", "unchanged", "created" (free()). */
int ctl_apply_object(Skiff__Object *obj, bool create_only, bool dry_run, char **ret_result)
{
	Skiff__ApplyRequest req = SKIFF__APPLY_REQUEST__INIT;
	Skiff__ApplyResponse *resp = NULL;
	req.object = obj;
	req.create_only = create_only;
	req.dry_run = dry_run;
	if (ctl_call(SKIFF__MSG_TYPE__MSG_APPLY, &req.base, &skiff__apply_response__descriptor,
		     (ProtobufCMessage **)&resp))
		return CTL_FAIL;
	if (ret_result)
		*ret_result = xstrdup(*resp->result ? resp->result : "configured");
	skiff__apply_response__free_unpacked(resp, NULL);
	return 0;
}

static Skiff__KeyValue *kv_new(const char *key, const char *value)
{
	Skiff__KeyValue *kv = xmalloc(sizeof(*kv));
	skiff__key_value__init(kv);
	kv->key = xstrdup(key);
	kv->value = xstrdup(value);
	return kv;
}

/* Set (value != NULL) or remove key in a KeyValue list. Returns 1 when it
 * changed, 0 when not, -EEXIST when the key has another value and
 * !overwrite (*ret_old: that value). */
static int kv_set(Skiff__KeyValue ***kv, size_t *n, const char *key, const char *value,
		  bool overwrite, const char **ret_old)
{
	for (size_t i = 0; i < *n; i++) {
		Skiff__KeyValue *e = (*kv)[i];
		if (!streq(e->key, key))
			continue;
		if (!value) {
			skiff__key_value__free_unpacked(e, NULL);
			memmove(&(*kv)[i], &(*kv)[i + 1], (*n - i - 1) * sizeof(**kv));
			(*n)--;
			return 1;
		}
		if (streq(e->value, value))
			return 0;
		if (!overwrite) {
			*ret_old = e->value;
			return -EEXIST;
		}
		skiff_set_str(&e->value, value);
		return 1;
	}
	if (!value)
		return 0;
	*kv = xrealloc(*kv, (*n + 1) * sizeof(**kv));
	(*kv)[(*n)++] = kv_new(key, value);
	return 1;
}

/* ---- objects named on the command line, or by -l / --all ------------------- */

struct targets {
	const struct skiff_kind *kind;
	Skiff__Object **items;
	size_t n;
};

static void targets_clear(struct targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		skiff__object__free_unpacked(t->items[i], NULL);
	free(t->items);
	memset(t, 0, sizeof(*t));
}

static void targets_add(struct targets *t, Skiff__Object *o)
{
	t->items = xrealloc(t->items, (t->n + 1) * sizeof(*t->items));
	t->items[t->n++] = o;
}

/* KIND NAME… | KIND/NAME… | KIND with -l SELECTOR or --all. Words with
 * is_op(word) are left for the caller (*ret_ops). */
static int targets_fetch(const char *verb, int argc, char **argv, const char *selector, bool all,
			 bool (*is_op)(const char *), struct targets *t, char ***ret_ops,
			 size_t *ret_n_ops)
{
	char **ops = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t n_ops = 0;
	char **names = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t n_names = 0;
	int ret = 0;

	for (int i = 0; i < argc && ret == 0; i++) {
		const char *w = argv[i];
		const char *slash = strchr(w, '/');
		if (is_op && is_op(w)) {
			ops[n_ops++] = argv[i];
		} else if (slash && !t->kind) {
			_cleanup_free_ char *ks = xstrndup(w, (size_t)(slash - w));
			t->kind = skiff_kind_lookup(ks);
			if (!t->kind)
				ret = ctl_usage_error(verb, "unknown kind \"%s\"", ks);
			names[n_names++] = (char *)slash + 1;
		} else if (slash) {
			_cleanup_free_ char *ks = xstrndup(w, (size_t)(slash - w));
			if (skiff_kind_lookup(ks) != t->kind)
				ret = ctl_usage_error(verb, "\"%s\": one kind at a time", w);
			names[n_names++] = (char *)slash + 1;
		} else if (!t->kind) {
			t->kind = skiff_kind_lookup(w);
			if (!t->kind)
				ret = ctl_usage_error(
				    verb,
				    "unknown kind \"%s\" (nodes, pods, deployments, "
				    "services)",
				    w);
		} else {
			names[n_names++] = argv[i];
		}
	}
	if (ret == 0 && !t->kind)
		ret = ctl_usage_error(verb, "expected KIND NAME or KIND/NAME");
	if (ret == 0 && n_names == 0 && !selector && !all)
		ret = ctl_usage_error(verb, "expected a NAME, -l SELECTOR or --all");
	if (ret == 0 && n_names > 0 && (selector || all))
		ret = ctl_usage_error(verb, "names and -l/--all do not go together");
	for (size_t i = 0; i < n_names && ret == 0; i++) {
		Skiff__Object *o = NULL;
		if (ctl_get_object(t->kind, names[i], &o) != 0) {
			ret = CTL_FAIL;
			break;
		}
		targets_add(t, o);
	}
	if (ret == 0 && (selector || all)) {
		Skiff__KeyValue **sel = NULL;
		size_t n_sel = 0;
		_cleanup_free_ char *err = NULL;
		Skiff__ListResponse *list = NULL;
		if (selector && ctl_parse_selector(selector, &sel, &n_sel, &err) < 0) {
			ret = ctl_usage_error(verb, "-l: %s", err);
		} else if ((ret = ctl_list(t->kind, sel, n_sel, selector, NULL, NULL, &list)) ==
			   0) {
			for (size_t i = 0; i < list->n_items; i++)
				targets_add(t, list->items[i]);
			list->n_items = 0;
			skiff__list_response__free_unpacked(list, NULL);
			if (t->n == 0)
				fprintf(stderr, "No %s found.\n", t->kind->plural);
		}
		ctl_kv_free(sel, n_sel);
	}
	free(names);
	if (ret != 0) {
		free(ops);
		targets_clear(t);
		return ret;
	}
	*ret_ops = ops;
	*ret_n_ops = n_ops;
	return 0;
}

/* ---- label, annotate ----------------------------------------------------------- */

static bool is_kv_op(const char *w)
{
	return strchr(w, '=') || (skiff_endswith(w, "-") && !strchr(w, '/'));
}

int cmd_label(int argc, char **argv)
{
	static const struct option options[] = { { "overwrite", no_argument, NULL, 'O' },
						 { "selector", required_argument, NULL, 'l' },
						 { "all", no_argument, NULL, 'A' },
						 { "dry-run", no_argument, NULL, 'D' },
						 {} };
	const char *verb = argv[0];
	bool annotate = streq(verb, "annotate");
	bool overwrite = false, all = false, dry_run = false;
	const char *selector = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:", options, NULL)) != -1) {
		switch (c) {
		case 'O':
			overwrite = true;
			break;
		case 'l':
			selector = optarg;
			break;
		case 'A':
			all = true;
			break;
		case 'D':
			dry_run = true;
			break;
		default:
			return ctl_usage_error(verb, "unknown option");
		}
	}
	/* the KEY=VALUE and KEY- words are checked before anything is fetched */
	size_t n_ops = 0;
	for (int i = optind; i < argc; i++) {
		if (!is_kv_op(argv[i]))
			continue;
		n_ops++;
		const char *eq = strchr(argv[i], '=');
		if (eq == argv[i] || streq(argv[i], "-"))
			return ctl_usage_error(verb, "\"%s\": expected KEY=VALUE or KEY-", argv[i]);
	}
	if (n_ops == 0)
		return ctl_usage_error(verb, "expected at least one KEY=VALUE or KEY-");

	struct targets t = { 0 };
	_cleanup_free_ char **ops = NULL;
	int ret = targets_fetch(verb, argc - optind, argv + optind, selector, all, is_kv_op, &t,
				&ops, &n_ops);
	if (ret)
		return ret;
	for (size_t i = 0; i < t.n; i++) {
		Skiff__ObjectMeta *m = skiff_object_meta(t.items[i]);
		const char *name = skiff_object_name(t.items[i]);
		int changed = 0, r = 0;
		for (size_t k = 0; k < n_ops && r >= 0; k++) {
			_cleanup_free_ char *key = xstrdup(ops[k]);
			char *eq = strchr(key, '=');
			const char *value = NULL, *old = NULL;
			if (eq) {
				*eq = '\0';
				value = eq + 1;
			} else {
				key[strlen(key) - 1] = '\0';
			}
			r = annotate
				? kv_set(&m->annotations, &m->n_annotations, key, value, overwrite,
					 &old)
				: kv_set(&m->labels, &m->n_labels, key, value, overwrite, &old);
			if (r == -EEXIST)
				ret = ctl_error("%s/%s: '%s' already has a value (%s), and "
						"--overwrite is false",
						t.kind->name, name, key, old);
			else if (r == 0 && !value)
				fprintf(stderr, "%s \"%s\" not found on %s/%s.\n",
					annotate ? "annotation" : "label", key, t.kind->name, name);
			changed += r > 0;
		}
		if (r < 0)
			continue;
		_cleanup_free_ char *result = NULL;
		if (changed && ctl_apply_object(t.items[i], false, dry_run, &result) != 0) {
			ret = CTL_FAIL;
			continue;
		}
		printf("%s/%s %s%s%s\n", t.kind->name, name, changed ? "" : "not ",
		       annotate ? "annotated" : "labeled", dry_run ? " (dry run)" : "");
	}
	targets_clear(&t);
	return ret;
}

/* ---- set image ------------------------------------------------------------------ */

static Skiff__PodSpec *pod_spec_of(Skiff__Object *o)
{
	if (o->pod)
		return o->pod->spec;
	if (o->deployment && o->deployment->spec && o->deployment->spec->template_)
		return o->deployment->spec->template_->spec;
	return NULL;
}

static bool is_image_op(const char *w)
{
	return strchr(w, '=') != NULL;
}

int cmd_set(int argc, char **argv)
{
	static const struct option options[] = { { "selector", required_argument, NULL, 'l' },
						 { "all", no_argument, NULL, 'A' },
						 { "dry-run", no_argument, NULL, 'D' },
						 {} };
	const char *selector = NULL;
	bool all = false, dry_run = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:", options, NULL)) != -1) {
		switch (c) {
		case 'l':
			selector = optarg;
			break;
		case 'A':
			all = true;
			break;
		case 'D':
			dry_run = true;
			break;
		default:
			return ctl_usage_error("set", "unknown option");
		}
	}
	if (optind >= argc || !streq(argv[optind], "image"))
		return ctl_usage_error("set", "expected 'set image KIND/NAME CONTAINER=IMAGE…'");
	optind++;
	size_t n_ops = 0;
	for (int i = optind; i < argc; i++)
		if (is_image_op(argv[i])) {
			const char *eq = strchr(argv[i], '=');
			if (eq == argv[i] || !eq[1])
				return ctl_usage_error("set", "\"%s\": expected CONTAINER=IMAGE",
						       argv[i]);
			n_ops++;
		}
	if (n_ops == 0)
		return ctl_usage_error("set", "expected CONTAINER=IMAGE (or *=IMAGE)");

	struct targets t = { 0 };
	_cleanup_free_ char **ops = NULL;
	int ret = targets_fetch("set", argc - optind, argv + optind, selector, all, is_image_op, &t,
				&ops, &n_ops);
	if (ret)
		return ret;
	for (size_t i = 0; i < t.n; i++) {
		const char *name = skiff_object_name(t.items[i]);
		Skiff__PodSpec *ps = pod_spec_of(t.items[i]);
		if (!ps) {
			ret = ctl_error("%s/%s has no pod template", t.kind->name, name);
			continue;
		}
		bool missing = false;
		for (size_t k = 0; k < n_ops; k++) {
			_cleanup_free_ char *cname = xstrdup(ops[k]);
			char *eq = strchr(cname, '=');
			*eq = '\0';
			bool found = false;
			for (size_t j = 0; j < ps->n_containers; j++) {
				Skiff__Container *ct = ps->containers[j];
				if (!streq(cname, "*") && !streq(ct->name, cname))
					continue;
				found = true;
				skiff_set_str(&ct->image, eq + 1);
			}
			if (!found) {
				ret = ctl_error("%s/%s has no container \"%s\"", t.kind->name, name,
						cname);
				missing = true;
			}
		}
		if (missing)
			continue;
		_cleanup_free_ char *result = NULL;
		if (ctl_apply_object(t.items[i], false, dry_run, &result) != 0) {
			ret = CTL_FAIL;
			continue;
		}
		printf("%s/%s %s%s\n", t.kind->name, name,
		       streq(result, "unchanged") ? "image unchanged" : "image updated",
		       dry_run ? " (dry run)" : "");
	}
	targets_clear(&t);
	return ret;
}

/* ---- rollout restart, pause, resume ------------------------------------------------ */

#define RESTARTED_AT "kubectl.kubernetes.io/restartedAt"

int ctl_rollout_change(const char *action, const char *name)
{
	Skiff__Object *obj = NULL;
	if (ctl_get_object(skiff_kind_lookup("deployment"), name, &obj))
		return CTL_FAIL;
	Skiff__DeploymentSpec *spec = obj->deployment ? obj->deployment->spec : NULL;
	int ret = 0;
	if (!spec || !spec->template_) {
		ret = ctl_error("deployment \"%s\" has no spec", name);
		goto out;
	}
	if (streq(action, "restart")) {
		if (spec->paused) {
			ret =
			    ctl_error("can't restart paused deployment (run rollout resume first)");
			goto out;
		}
		/* as kubectl: a template annotation with the time makes a new
		 * revision, which rolls out like any other change */
		Skiff__PodTemplate *tp = spec->template_;
		if (!tp->metadata) {
			tp->metadata = xmalloc(sizeof(*tp->metadata));
			skiff__object_meta__init(tp->metadata);
		}
		char now[64];
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		size_t len = strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(now + len, sizeof(now) - len, ".%03ldZ", ts.tv_nsec / 1000000);
		const char *old = NULL;
		(void)kv_set(&tp->metadata->annotations, &tp->metadata->n_annotations, RESTARTED_AT,
			     now, true, &old);
	} else {
		bool pause = streq(action, "pause");
		if (spec->paused == pause) {
			ret = ctl_error("deployment \"%s\" is %s", name,
					pause ? "already paused" : "not paused");
			goto out;
		}
		spec->paused = pause;
	}
	if (ctl_apply_object(obj, false, false, NULL) != 0) {
		ret = CTL_FAIL;
		goto out;
	}
	printf("deployment/%s %s\n", name,
	       streq(action, "restart") ? "restarted"
	       : streq(action, "pause") ? "paused"
					: "resumed");
out:
	skiff__object__free_unpacked(obj, NULL);
	return ret;
}

/* ---- run -------------------------------------------------------------------------- */

static int parse_pairs(const char *verb, const char *what, const char *s, Skiff__KeyValue ***kv,
		       size_t *n)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok)
			return ctl_usage_error(verb, "%s: \"%s\": expected KEY=VALUE", what, tok);
		*eq = '\0';
		const char *old = NULL;
		(void)kv_set(kv, n, tok, eq + 1, true, &old);
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option options[] = { { "image", required_argument, NULL, 'i' },
						 { "labels", required_argument, NULL, 'L' },
						 { "env", required_argument, NULL, 'e' },
						 { "port", required_argument, NULL, 'p' },
						 { "restart", required_argument, NULL, 'r' },
						 { "command", no_argument, NULL, 'c' },
						 { "dry-run", no_argument, NULL, 'D' },
						 { "output", required_argument, NULL, 'o' },
						 {} };
	Skiff__Pod *pod = xmalloc(sizeof(*pod));
	skiff__pod__init(pod);
	pod->metadata = xmalloc(sizeof(*pod->metadata));
	skiff__object_meta__init(pod->metadata);
	pod->spec = xmalloc(sizeof(*pod->spec));
	skiff__pod_spec__init(pod->spec);
	Skiff__Container *ct = xmalloc(sizeof(*ct));
	skiff__container__init(ct);
	pod->spec->containers = xmalloc(sizeof(*pod->spec->containers));
	pod->spec->containers[0] = ct;
	pod->spec->n_containers = 1;
	Skiff__Object *obj = skiff_object_wrap(skiff_kind_lookup("pod"), &pod->base);
	bool as_command = false, dry_run = false;
	enum skiff_output fmt = SKIFF_OUTPUT_TABLE;
	_cleanup_free_ char *result = NULL;
	int c, ret = 0;

	optind = 1;
	while (ret == 0 && (c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		switch (c) {
		case 'i':
			skiff_set_str(&ct->image, optarg);
			break;
		case 'L':
			ret = parse_pairs("run", "--labels", optarg, &pod->metadata->labels,
					  &pod->metadata->n_labels);
			break;
		case 'e': {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				ret = ctl_usage_error("run", "--env \"%s\": expected NAME=VALUE",
						      optarg);
				break;
			}
			Skiff__EnvVar *ev = xmalloc(sizeof(*ev));
			skiff__env_var__init(ev);
			ev->name = xstrndup(optarg, (size_t)(eq - optarg));
			ev->value = xstrdup(eq + 1);
			ct->env = xrealloc(ct->env, (ct->n_env + 1) * sizeof(*ct->env));
			ct->env[ct->n_env++] = ev;
			break;
		}
		case 'p': {
			uint32_t port = 0;
			if (skiff_parse_uint32(optarg, &port) < 0 || port == 0 || port > 65535) {
				ret = ctl_usage_error("run",
						      "--port takes a port (1-65535), not "
						      "\"%s\"",
						      optarg);
				break;
			}
			Skiff__ContainerPort *cp = xmalloc(sizeof(*cp));
			skiff__container_port__init(cp);
			cp->container_port = port;
			ct->ports = xmalloc(sizeof(*ct->ports));
			ct->ports[0] = cp;
			ct->n_ports = 1;
			break;
		}
		case 'r':
			if (!streq(optarg, "Always") && !streq(optarg, "OnFailure") &&
			    !streq(optarg, "Never")) {
				ret = ctl_usage_error("run", "--restart takes Always, OnFailure or "
							     "Never");
				break;
			}
			skiff_set_str(&pod->spec->restart_policy, optarg);
			break;
		case 'c':
			as_command = true;
			break;
		case 'D':
			dry_run = true;
			break;
		case 'o':
			if (skiff_output_parse(optarg, &fmt) < 0 || fmt == SKIFF_OUTPUT_WIDE)
				ret = ctl_usage_error("run", "-o takes name, json or yaml");
			break;
		default:
			ret = ctl_usage_error("run", "unknown option");
		}
	}
	if (ret)
		goto out;
	if (optind >= argc) {
		ret = ctl_usage_error("run", "expected a NAME");
		goto out;
	}
	const char *name = argv[optind++];
	if (!*ct->image) {
		ret = ctl_usage_error("run", "--image is required");
		goto out;
	}
	pod->metadata->name = xstrdup(name);
	pod->metadata->namespace_ = xstrdup(ctl_namespace()); /* -n */
	ct->name = xstrdup(name);
	if (pod->metadata->n_labels == 0) { /* kubectl's default label */
		const char *old = NULL;
		(void)kv_set(&pod->metadata->labels, &pod->metadata->n_labels, "run", name, true,
			     &old);
	}
	/* the words after NAME (after "--"): the command with --command, else args */
	size_t n_words = (size_t)(argc - optind);
	if (n_words > 0) {
		char **words = xcalloc(n_words, sizeof(char *));
		for (size_t i = 0; i < n_words; i++)
			words[i] = xstrdup(argv[optind + (int)i]);
		if (as_command) {
			ct->command = words;
			ct->n_command = n_words;
		} else {
			ct->args = words;
			ct->n_args = n_words;
		}
	} else if (as_command) {
		ret = ctl_usage_error("run", "--command needs a command after --");
		goto out;
	}
	ret = ctl_apply_object(obj, true, dry_run, &result);
	if (ret == 0) {
		if (fmt == SKIFF_OUTPUT_JSON || fmt == SKIFF_OUTPUT_YAML)
			skiff_output_objects(stdout, skiff_kind_lookup("pod"), &obj, 1, fmt, true,
					     true, 0);
		else if (fmt == SKIFF_OUTPUT_NAME)
			printf("pod/%s\n", name);
		else
			printf("pod/%s %s%s\n", name, result, dry_run ? " (dry run)" : "");
	}
out:
	skiff__object__free_unpacked(obj, NULL);
	return ret;
}
