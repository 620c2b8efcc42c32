/* cmd_get.c — `skiffctl get KIND[,KIND…]|all [NAME…] [-o …] [-l SEL]
 * [--field-selector F] [--sort-by EXPR] [--show-labels] [-w]`: tables,
 * -o wide|json|yaml|name|jsonpath=…|custom-columns=…, and watch mode printing
 * changes as they happen. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "jsonpath.h"
#include "util.h"

static int cmp_objects(const void *a, const void *b)
{
	const Skiff__Object *x = *(Skiff__Object *const *)a, *y = *(Skiff__Object *const *)b;
	if (x->event && y->event) {
		int64_t lx = x->event->last_ms, ly = y->event->last_ms;
		if (lx != ly)
			return lx < ly ? -1 : 1;
	}
	return strcmp(skiff_object_name(x), skiff_object_name(y));
}

struct watch {
	const struct skiff_kind *kind;
	char **names; /* only these (none: all) */
	size_t n_names;
	enum skiff_output fmt;
	struct skiff_table *table; /* every row printed so far, for alignment */
};

static int on_watch_event(const Skiff__Frame *item, void *userdata)
{
	struct watch *w = userdata;
	Skiff__WatchEvent *ev =
	    skiff__watch_event__unpack(NULL, item->payload.len, item->payload.data);
	if (!ev || !ev->object)
		goto out;
	const struct skiff_kind *k = NULL;
	skiff_object_member(ev->object, &k);
	if (!k || k != w->kind)
		goto out;
	if (w->n_names > 0) {
		bool wanted = false;
		for (size_t i = 0; i < w->n_names; i++)
			if (streq(w->names[i], skiff_object_name(ev->object)))
				wanted = true;
		if (!wanted)
			goto out;
	}
	switch (w->fmt) {
	case SKIFF_OUTPUT_JSON:
	case SKIFF_OUTPUT_YAML:
		if (w->fmt == SKIFF_OUTPUT_YAML)
			fputs("---\n", stdout);
		skiff_output_objects(stdout, k, &ev->object, 1, w->fmt, true, false,
				     skiff_now_ms());
		break;
	case SKIFF_OUTPUT_NAME:
		printf("%s/%s\n", k->name, skiff_object_name(ev->object));
		break;
	default:
		skiff_output_table_row(w->table, k, ev->object, w->fmt == SKIFF_OUTPUT_WIDE,
				       skiff_now_ms());
		skiff_table_print_last(w->table, stdout);
		if (streq(ev->type, "DELETED"))
			printf("(%s/%s deleted)\n", k->name, skiff_object_name(ev->object));
	}
	fflush(stdout);
out:
	if (ev)
		skiff__watch_event__free_unpacked(ev, NULL);
	return 0;
}

/* ---- --field-selector ------------------------------------------------------ */

/* The fields kubectl lets each kind be selected by, and where they are in the
 * manifest form of the object. */
static const struct field_label {
	const char *kind; /* NULL: every kind */
	const char *label;
	const char *path;
} field_labels[] = {
	{ NULL, "metadata.name", ".metadata.name" },
	{ "pod", "spec.nodeName", ".spec.nodeName" },
	{ "pod", "status.phase", ".status.phase" },
	{ "pod", "status.podIP", ".status.podIP" },
	{ "pod", "spec.restartPolicy", ".spec.restartPolicy" },
	{ "node", "spec.unschedulable", ".spec.unschedulable" },
	{ "event", "involvedObject.kind", ".objectKind" },
	{ "event", "involvedObject.name", ".objectName" },
	{ "event", "reason", ".reason" },
	{ "event", "type", ".type" },
	{ "event", "source", ".source" },
};

struct field_req {
	const struct field_label *field;
	char *value;
	bool negate;
};

struct field_selector {
	struct field_req *reqs;
	size_t n;
};

static void field_selector_clear(struct field_selector *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->reqs[i].value);
	free(fs->reqs);
	memset(fs, 0, sizeof(*fs));
}

/* "a=b,c!=d" (= == !=). Checked against each kind when it is known. */
static int field_selector_parse(const char *s, struct field_selector *ret, char **ret_errmsg)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		char *op = strpbrk(tok, "!=");
		if (!op || (op[0] == '!' && op[1] != '=')) {
			*ret_errmsg = xasprintf("'%s': expected FIELD=VALUE, FIELD==VALUE or "
						"FIELD!=VALUE",
						tok);
			return -EINVAL;
		}
		bool negate = op[0] == '!';
		char *value = op + (negate || op[1] == '=' ? 2 : 1);
		*op = '\0';
		const struct field_label *f = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(field_labels); i++)
			if (streq(field_labels[i].label, tok))
				f = &field_labels[i];
		if (!f) {
			*ret_errmsg =
			    xasprintf("field label not supported: %s (metadata.name; pods: "
				      "spec.nodeName, status.phase, status.podIP, "
				      "spec.restartPolicy; nodes: spec.unschedulable; "
				      "events: involvedObject.kind, involvedObject.name, "
				      "reason, type, source)",
				      tok);
			return -EINVAL;
		}
		ret->reqs = xrealloc(ret->reqs, (ret->n + 1) * sizeof(*ret->reqs));
		ret->reqs[ret->n++] = (struct field_req){ f, xstrdup(value), negate };
	}
	return 0;
}

static int field_selector_check(const struct field_selector *fs, const struct skiff_kind *kind)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->reqs[i].field->kind && !streq(fs->reqs[i].field->kind, kind->name))
			return ctl_usage_error("get",
					       "--field-selector: field label not supported "
					       "for %s: %s",
					       kind->plural, fs->reqs[i].field->label);
	return 0;
}

static bool field_selector_match(const struct field_selector *fs, const Skiff__Object *obj)
{
	if (fs->n == 0)
		return true;
	struct skiff_doc_node *doc = skiff_object_to_doc(obj);
	bool match = true;
	for (size_t i = 0; i < fs->n && match; i++) {
		struct skiff_jsonpath *jp = NULL;
		char *err = NULL;
		if (skiff_jsonpath_parse_expr(fs->reqs[i].field->path, &jp, &err) < 0)
			abort(); /* the table's paths parse */
		_cleanup_free_ char *v = skiff_jsonpath_text(jp, doc);
		skiff_jsonpath_free(jp);
		/* an unset boolean is false, as the API server sees it */
		if (!*v && streq(fs->reqs[i].field->label, "spec.unschedulable"))
			v = (free(v), xstrdup("false"));
		match = streq(v, fs->reqs[i].value) != fs->reqs[i].negate;
	}
	skiff_doc_free(doc);
	return match;
}

/* ---- the objects of one kind ------------------------------------------------ */

struct group {
	const struct skiff_kind *kind;
	char **names; /* asked for by name (none: a list) */
	size_t n_names;
	Skiff__Object **items;
	size_t n;
	Skiff__ListResponse *list; /* owns items when set */
};

static struct group *group_of(struct group **groups, size_t *n_groups,
			      const struct skiff_kind *kind)
{
	for (size_t i = 0; i < *n_groups; i++)
		if ((*groups)[i].kind == kind)
			return &(*groups)[i];
	*groups = xrealloc(*groups, (*n_groups + 1) * sizeof(**groups));
	struct group *g = &(*groups)[(*n_groups)++];
	memset(g, 0, sizeof(*g));
	g->kind = kind;
	return g;
}

static void groups_free(struct group *groups, size_t n_groups)
{
	for (size_t i = 0; i < n_groups; i++) {
		struct group *g = &groups[i];
		if (g->list) {
			skiff__list_response__free_unpacked(g->list, NULL);
		} else {
			for (size_t k = 0; k < g->n; k++)
				skiff__object__free_unpacked(g->items[k], NULL);
			free(g->items);
		}
		free(g->names);
	}
	free(groups);
}

/* ---- --sort-by ---------------------------------------------------------------- */

struct sort_key {
	Skiff__Object *obj;
	char *key;
	double num;
	bool is_num;
};

static int cmp_sort_keys(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;
	if (x->is_num && y->is_num && x->num != y->num)
		return x->num < y->num ? -1 : 1;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(skiff_object_name(x->obj), skiff_object_name(y->obj));
}

static void sort_by(Skiff__Object **items, size_t n, const struct skiff_jsonpath *jp)
{
	struct sort_key *keys = xcalloc(n ? n : 1, sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		struct skiff_doc_node *doc = skiff_object_to_doc(items[i]);
		keys[i].obj = items[i];
		keys[i].key = skiff_jsonpath_text(jp, doc);
		char *end;
		keys[i].num = strtod(keys[i].key, &end);
		keys[i].is_num = *keys[i].key && !*end;
		skiff_doc_free(doc);
	}
	qsort(keys, n, sizeof(*keys), cmp_sort_keys);
	for (size_t i = 0; i < n; i++) {
		items[i] = keys[i].obj;
		free(keys[i].key);
	}
	free(keys);
}

/* ---- -o custom-columns ------------------------------------------------------- */

struct columns {
	char **headers;
	struct skiff_jsonpath **paths;
	size_t n;
};

static void columns_clear(struct columns *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->headers[i]);
		skiff_jsonpath_free(c->paths[i]);
	}
	free(c->headers);
	free(c->paths);
	memset(c, 0, sizeof(*c));
}

/* "NAME:.metadata.name,NODE:.spec.nodeName" */
static int columns_parse(const char *spec, struct columns *ret, char **ret_errmsg)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *save = NULL;
	if (!*spec) {
		*ret_errmsg = xstrdup("custom-columns needs HEADER:PATH[,HEADER:PATH…]");
		return -EINVAL;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		if (!colon || colon == tok || !colon[1]) {
			*ret_errmsg = xasprintf("custom-columns: '%s': expected HEADER:PATH (like "
						"NAME:.metadata.name)",
						tok);
			return -EINVAL;
		}
		if (ret->n == 32) {
			*ret_errmsg = xstrdup("custom-columns: at most 32 columns");
			return -EINVAL;
		}
		*colon = '\0';
		struct skiff_jsonpath *jp = NULL;
		_cleanup_free_ char *err = NULL;
		if (skiff_jsonpath_parse_expr(colon + 1, &jp, &err) < 0) {
			*ret_errmsg = xasprintf("custom-columns: %s: %s", tok, err);
			return -EINVAL;
		}
		ret->headers = xrealloc(ret->headers, (ret->n + 1) * sizeof(char *));
		ret->paths = xrealloc(ret->paths, (ret->n + 1) * sizeof(*ret->paths));
		ret->headers[ret->n] = xstrdup(tok);
		ret->paths[ret->n++] = jp;
	}
	return 0;
}

static void print_columns(const struct columns *c, Skiff__Object *const *items, size_t n,
			  bool headers)
{
	struct skiff_table *t = skiff_table_new(c->n, (const char *const *)c->headers);
	char **cells = xcalloc(c->n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct skiff_doc_node *doc = skiff_object_to_doc(items[i]);
		for (size_t k = 0; k < c->n; k++) {
			const struct skiff_doc_node **v = NULL;
			size_t nv = skiff_jsonpath_select(c->paths[k], doc, &v);
			char *s = xstrdup("");
			for (size_t j = 0; j < nv; j++) {
				char *val = v[j]->type == SKIFF_DOC_SCALAR
						? xstrdup(v[j]->str ? v[j]->str : "")
						: skiff_doc_to_json(v[j]);
				char *x = xasprintf("%s%s%s", s, j ? "," : "", val);
				free(val);
				free(s);
				s = x;
			}
			free(v);
			if (nv == 0) {
				free(s);
				s = xstrdup("<none>");
			}
			cells[k] = s;
		}
		skiff_table_add(t, (const char *const *)cells);
		for (size_t k = 0; k < c->n; k++)
			free(cells[k]);
		skiff_doc_free(doc);
	}
	free(cells);
	skiff_table_print(t, stdout, headers);
	skiff_table_free(t);
}

/* ---- tables ------------------------------------------------------------------ */

static void print_table(const struct group *g, bool wide, bool headers, bool show_labels,
			bool prefix)
{
	int64_t now = skiff_now_ms();
	struct skiff_table *t = skiff_output_table_new(g->kind, wide);
	for (size_t i = 0; i < g->n; i++)
		skiff_output_table_row(t, g->kind, g->items[i], wide, now);
	if (prefix && !streq(g->kind->name, "event")) {
		_cleanup_free_ char *p = xasprintf("%s/", g->kind->name);
		skiff_table_prefix_column(t, 0, p);
	}
	if (show_labels) {
		char **cells = xcalloc(g->n ? g->n : 1, sizeof(char *));
		for (size_t i = 0; i < g->n; i++) {
			const Skiff__ObjectMeta *m = skiff_object_meta(g->items[i]);
			char *s = xstrdup("");
			for (size_t j = 0; m && j < m->n_labels; j++) {
				char *x = xasprintf("%s%s%s=%s", s, j ? "," : "", m->labels[j]->key,
						    m->labels[j]->value);
				free(s);
				s = x;
			}
			cells[i] = *s ? s : (free(s), xstrdup("<none>"));
		}
		skiff_table_add_column(t, "LABELS", (const char *const *)cells);
		for (size_t i = 0; i < g->n; i++)
			free(cells[i]);
		free(cells);
	}
	skiff_table_print(t, stdout, headers);
	skiff_table_free(t);
}

static const char kinds_hint[] = "nodes, pods, deployments, services, events, namespaces, all";

/* "po,svc", "all", "deploy" -> groups */
static int add_kinds(const char *word, struct group **groups, size_t *n_groups)
{
	_cleanup_free_ char *copy = xstrdup(word);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (streq(tok, "all")) {
			/* kubectl's "all": the workloads and services, not nodes or events */
			static const char *const all[] = { "pod", "service", "deployment" };
			for (size_t i = 0; i < ARRAY_SIZE(all); i++)
				group_of(groups, n_groups, skiff_kind_lookup(all[i]));
			continue;
		}
		const struct skiff_kind *k = skiff_kind_lookup(tok);
		if (!k)
			return ctl_usage_error("get", "unknown kind \"%s\" (%s)", tok, kinds_hint);
		group_of(groups, n_groups, k);
	}
	if (*n_groups == 0)
		return ctl_usage_error("get", "expected a kind (%s)", kinds_hint);
	return 0;
}

struct get_opts {
	enum skiff_output fmt;
	Skiff__KeyValue **sel;
	size_t n_sel;
	const char *selector;
	struct field_selector fields;
	struct skiff_jsonpath *jsonpath, *sort;
	struct columns columns;
	bool watch, headers, show_labels;
};

static void get_opts_clear(struct get_opts *o)
{
	ctl_kv_free(o->sel, o->n_sel);
	field_selector_clear(&o->fields);
	skiff_jsonpath_free(o->jsonpath);
	skiff_jsonpath_free(o->sort);
	columns_clear(&o->columns);
}

static int parse_output(const char *arg, struct get_opts *o)
{
	_cleanup_free_ char *err = NULL;
	if (*arg == '=')
		arg++;
	if (skiff_startswith(arg, "jsonpath=")) {
		skiff_jsonpath_free(o->jsonpath);
		o->jsonpath = NULL;
		if (skiff_jsonpath_parse(arg + strlen("jsonpath="), &o->jsonpath, &err) < 0)
			return ctl_usage_error("get", "-o jsonpath: %s", err);
		o->fmt = SKIFF_OUTPUT_JSONPATH;
		return 0;
	}
	if (skiff_startswith(arg, "custom-columns=")) {
		columns_clear(&o->columns);
		if (columns_parse(arg + strlen("custom-columns="), &o->columns, &err) < 0)
			return ctl_usage_error("get", "-o %s", err);
		o->fmt = SKIFF_OUTPUT_COLUMNS;
		return 0;
	}
	if (skiff_output_parse(arg, &o->fmt) < 0)
		return ctl_usage_error("get",
				       "-o takes wide, json, yaml, name, jsonpath=TEMPLATE or "
				       "custom-columns=SPEC, not \"%s\"",
				       arg);
	return 0;
}

static int watch_one(struct group *g, struct get_opts *o, uint64_t revision)
{
	Skiff__WatchRequest req = SKIFF__WATCH_REQUEST__INIT;
	struct watch w = {
		.kind = g->kind, .fmt = o->fmt, .names = g->names, .n_names = g->n_names
	};
	if (o->fmt == SKIFF_OUTPUT_TABLE || o->fmt == SKIFF_OUTPUT_WIDE) {
		w.table = skiff_output_table_new(g->kind, o->fmt == SKIFF_OUTPUT_WIDE);
		for (size_t i = 0; i < g->n; i++)
			skiff_output_table_row(w.table, g->kind, g->items[i],
					       o->fmt == SKIFF_OUTPUT_WIDE, skiff_now_ms());
	}
	req.kind = (char *)g->kind->name;
	req.namespace_ = ctl_all_namespaces ? "" : (char *)ctl_ns_for(g->kind);
	req.from_revision = revision;
	req.label_selector = o->sel;
	req.n_label_selector = o->n_sel;
	if (o->selector)
		req.selector = (char *)o->selector;
	int ret = ctl_stream(SKIFF__MSG_TYPE__MSG_WATCH, &req.base, on_watch_event, &w);
	skiff_table_free(w.table);
	return ret;
}

/* Fetch a group: by name, or a list (spec.nodeName= of pods is filtered by
 * the brain, the other fields here). */
static int fetch(struct group *g, const struct get_opts *o, uint64_t *ret_revision)
{
	int ret = 0;
	if (g->n_names > 0) {
		g->items = xcalloc(g->n_names, sizeof(*g->items));
		for (size_t i = 0; i < g->n_names; i++) {
			Skiff__Object *obj = NULL;
			if (ctl_get_object(g->kind, g->names[i], &obj) != 0) {
				ret = CTL_FAIL;
				continue;
			}
			g->items[g->n++] = obj;
		}
		return ret;
	}
	const char *node = NULL;
	for (size_t i = 0; i < o->fields.n; i++)
		if (streq(o->fields.reqs[i].field->label, "spec.nodeName") &&
		    !o->fields.reqs[i].negate && *o->fields.reqs[i].value)
			node = o->fields.reqs[i].value;
	ret = ctl_list(g->kind, o->sel, o->n_sel, o->selector, node, NULL, &g->list);
	if (ret != 0)
		return ret;
	g->items = g->list->items;
	g->n = g->list->n_items;
	*ret_revision = g->list->revision;
	size_t kept = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (field_selector_match(&o->fields, g->items[i]))
			g->items[kept++] = g->items[i];
		else
			skiff__object__free_unpacked(g->items[i], NULL);
	}
	g->n = g->list->n_items = kept;
	qsort(g->items, g->n, sizeof(*g->items), cmp_objects);
	return 0;
}

int cmd_get(int argc, char **argv)
{
	static const struct option options[] = { { "output", required_argument, NULL, 'o' },
						 { "selector", required_argument, NULL, 'l' },
						 { "watch", no_argument, NULL, 'w' },
						 { "no-headers", no_argument, NULL, 'H' },
						 { "field-selector", required_argument, NULL, 'F' },
						 { "sort-by", required_argument, NULL, 'S' },
						 { "show-labels", no_argument, NULL, 'L' },
						 {} };
	struct get_opts o = { .fmt = SKIFF_OUTPUT_TABLE, .headers = true };
	skiff_output_namespace_column = ctl_all_namespaces; /* -A */
	struct group *groups = NULL;
	size_t n_groups = 0;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:l:w", options, NULL)) != -1) {
		_cleanup_free_ char *err = NULL;
		switch (c) {
		case 'o':
			ret = parse_output(optarg, &o);
			break;
		case 'l':
			ctl_kv_free(o.sel, o.n_sel);
			o.sel = NULL;
			o.n_sel = 0;
			if (ctl_parse_selector(optarg, &o.sel, &o.n_sel, &err) < 0)
				ret = ctl_usage_error("get", "-l: %s", err);
			o.selector = optarg;
			break;
		case 'F':
			if (field_selector_parse(optarg, &o.fields, &err) < 0)
				ret = ctl_usage_error("get", "--field-selector: %s", err);
			break;
		case 'S':
			skiff_jsonpath_free(o.sort);
			o.sort = NULL;
			if (skiff_jsonpath_parse_expr(optarg, &o.sort, &err) < 0)
				ret = ctl_usage_error("get", "--sort-by: %s", err);
			break;
		case 'L':
			o.show_labels = true;
			break;
		case 'w':
			o.watch = true;
			break;
		case 'H':
			o.headers = false;
			break;
		default:
			ret = ctl_usage_error("get", "unknown option");
		}
		if (ret)
			goto out;
	}
	if (optind >= argc) {
		ret = ctl_usage_error("get", "expected a kind (%s)", kinds_hint);
		goto out;
	}

	/* "get KIND[,KIND…] [NAME…]" or "get KIND/NAME …" */
	for (int i = optind; i < argc && ret == 0; i++) {
		const char *slash = strchr(argv[i], '/');
		if (slash) {
			_cleanup_free_ char *ks = xstrndup(argv[i], (size_t)(slash - argv[i]));
			const struct skiff_kind *k = skiff_kind_lookup(ks);
			if (!k) {
				ret = ctl_usage_error("get", "\"%s\": unknown kind \"%s\" (%s)",
						      argv[i], ks, kinds_hint);
				break;
			}
			struct group *g = group_of(&groups, &n_groups, k);
			g->names = xrealloc(g->names, (g->n_names + 1) * sizeof(*g->names));
			g->names[g->n_names++] = (char *)slash + 1;
		} else if (i == optind) {
			ret = add_kinds(argv[i], &groups, &n_groups);
		} else if (n_groups != 1) {
			ret = ctl_usage_error(
			    "get", "a NAME (\"%s\") needs one kind; use KIND/NAME", argv[i]);
		} else {
			struct group *g = &groups[0];
			g->names = xrealloc(g->names, (g->n_names + 1) * sizeof(*g->names));
			g->names[g->n_names++] = argv[i];
		}
	}
	for (size_t i = 0; i < n_groups && ret == 0; i++)
		ret = field_selector_check(&o.fields, groups[i].kind);
	if (ret == 0 && o.watch && n_groups > 1)
		ret = ctl_usage_error("get", "-w watches one kind at a time");
	if (ret == 0 && o.watch &&
	    (o.fmt == SKIFF_OUTPUT_JSONPATH || o.fmt == SKIFF_OUTPUT_COLUMNS))
		ret = ctl_usage_error("get", "-w prints tables, json, yaml or names");
	if (ret)
		goto out;

	uint64_t revision = 0;
	size_t total = 0, n_names = 0;
	for (size_t i = 0; i < n_groups; i++) {
		if (fetch(&groups[i], &o, &revision) != 0)
			ret = CTL_FAIL;
		if (o.sort)
			sort_by(groups[i].items, groups[i].n, o.sort);
		total += groups[i].n;
		n_names += groups[i].n_names;
	}
	if (ret != 0 && total == 0)
		goto out;

	/* every object in one array, for the formats that print them together */
	Skiff__Object **all = xcalloc(total ? total : 1, sizeof(*all));
	size_t k = 0;
	for (size_t i = 0; i < n_groups; i++)
		for (size_t j = 0; j < groups[i].n; j++)
			all[k++] = groups[i].items[j];
	bool single = n_names == 1 && n_groups == 1;
	bool tables = o.fmt == SKIFF_OUTPUT_TABLE || o.fmt == SKIFF_OUTPUT_WIDE ||
		      o.fmt == SKIFF_OUTPUT_COLUMNS;
	if (total == 0 && n_names == 0 && tables) {
		if (!o.watch) {
			if (n_groups == 1)
				fprintf(stderr, "No %s found.\n", groups[0].kind->plural);
			else
				fprintf(stderr, "No resources found.\n");
		}
	} else if (o.fmt == SKIFF_OUTPUT_JSONPATH) {
		struct skiff_doc_node *doc = skiff_output_doc(all, total, single);
		skiff_jsonpath_print(o.jsonpath, doc, stdout);
		skiff_doc_free(doc);
	} else if (o.fmt == SKIFF_OUTPUT_COLUMNS) {
		print_columns(&o.columns, all, total, o.headers);
	} else if (tables) {
		bool first = true;
		for (size_t i = 0; i < n_groups; i++) {
			if (groups[i].n == 0 && n_groups > 1)
				continue;
			if (!first)
				putchar('\n');
			first = false;
			print_table(&groups[i], o.fmt == SKIFF_OUTPUT_WIDE, o.headers,
				    o.show_labels, n_groups > 1);
		}
	} else {
		skiff_output_objects(stdout, groups[0].kind, all, total, o.fmt, single, o.headers,
				     skiff_now_ms());
	}
	free(all);
	fflush(stdout);
	if (o.watch && ret == 0)
		ret = watch_one(&groups[0], &o, revision);
out:
	groups_free(groups, n_groups);
	get_opts_clear(&o);
	return ret;
}
