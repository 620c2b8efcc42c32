/* cmd_get.c — `skiffctl get KIND [NAME…] [-o …] [-l k=v] [-w]`: tables,
 * -o wide|json|yaml|name, and watch mode printing changes as they happen. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
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

int cmd_get(int argc, char **argv)
{
	static const struct option options[] = { { "output", required_argument, NULL, 'o' },
						 { "selector", required_argument, NULL, 'l' },
						 { "watch", no_argument, NULL, 'w' },
						 { "no-headers", no_argument, NULL, 'H' },
						 {} };
	enum skiff_output fmt = SKIFF_OUTPUT_TABLE;
	Skiff__KeyValue **sel = NULL;
	size_t n_sel = 0;
	const char *selector = NULL;
	bool watch = false, headers = true;
	int c, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:l:w", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (skiff_output_parse(optarg, &fmt) < 0)
				return ctl_usage_error("get",
						       "-o takes wide, json, yaml or name, "
						       "not \"%s\"",
						       optarg);
			break;
		case 'l': {
			_cleanup_free_ char *err = NULL;
			ctl_kv_free(sel, n_sel);
			sel = NULL;
			n_sel = 0;
			if (ctl_parse_selector(optarg, &sel, &n_sel, &err) < 0)
				return ctl_usage_error("get", "-l: %s", err);
			selector = optarg;
			break;
		}
		case 'w':
			watch = true;
			break;
		case 'H':
			headers = false;
			break;
		default:
			return ctl_usage_error("get", "unknown option");
		}
	}
	if (optind >= argc) {
		ctl_kv_free(sel, n_sel);
		return ctl_usage_error("get", "expected a kind (nodes, pods, deployments, "
					      "services, events)");
	}

	/* "get KIND [NAME…]" or "get KIND/NAME …" */
	const struct skiff_kind *kind = NULL;
	char **names = NULL;
	size_t n_names = 0;
	for (int i = optind; i < argc; i++) {
		const char *slash = strchr(argv[i], '/');
		const struct skiff_kind *k;
		if (slash) {
			_cleanup_free_ char *ks = xstrndup(argv[i], (size_t)(slash - argv[i]));
			k = skiff_kind_lookup(ks);
			if (!k || (kind && k != kind)) {
				free(names);
				ctl_kv_free(sel, n_sel);
				return ctl_usage_error("get", "\"%s\": one known kind at a time",
						       argv[i]);
			}
			kind = k;
			names = xrealloc(names, (n_names + 1) * sizeof(*names));
			names[n_names++] = (char *)slash + 1;
		} else if (i == optind) {
			kind = skiff_kind_lookup(argv[i]);
			if (!kind) {
				free(names);
				ctl_kv_free(sel, n_sel);
				return ctl_usage_error("get",
						       "unknown kind \"%s\" (nodes, pods, "
						       "deployments, services, events)",
						       argv[i]);
			}
		} else {
			names = xrealloc(names, (n_names + 1) * sizeof(*names));
			names[n_names++] = argv[i];
		}
	}

	Skiff__Object **items = NULL;
	size_t n = 0;
	Skiff__ListResponse *list = NULL;
	uint64_t revision = 0;
	if (n_names > 0) {
		items = xcalloc(n_names, sizeof(*items));
		for (size_t i = 0; i < n_names; i++) {
			Skiff__Object *o = NULL;
			if (ctl_get_object(kind, names[i], &o) != 0) {
				ret = CTL_FAIL;
				continue;
			}
			items[n++] = o;
		}
	} else {
		ret = ctl_list(kind, sel, n_sel, selector, NULL, NULL, &list);
		if (ret == 0) {
			items = list->items;
			n = list->n_items;
			revision = list->revision;
			qsort(items, n, sizeof(*items), cmp_objects);
		}
	}
	if (ret == 0 || n > 0) {
		if (n == 0 && n_names == 0 && fmt != SKIFF_OUTPUT_JSON &&
		    fmt != SKIFF_OUTPUT_YAML) {
			if (!watch)
				fprintf(stderr, "No %s found.\n", kind->plural);
		} else {
			skiff_output_objects(stdout, kind, items, n, fmt, n_names == 1, headers,
					     skiff_now_ms());
		}
		fflush(stdout);
	}
	if (watch && ret == 0) {
		Skiff__WatchRequest req = SKIFF__WATCH_REQUEST__INIT;
		struct watch w = { .kind = kind, .fmt = fmt, .names = names, .n_names = n_names };
		if (fmt == SKIFF_OUTPUT_TABLE || fmt == SKIFF_OUTPUT_WIDE) {
			w.table = skiff_output_table_new(kind, fmt == SKIFF_OUTPUT_WIDE);
			for (size_t i = 0; i < n; i++)
				skiff_output_table_row(w.table, kind, items[i],
						       fmt == SKIFF_OUTPUT_WIDE, skiff_now_ms());
		}
		req.kind = (char *)kind->name;
		req.from_revision = revision;
		req.label_selector = sel;
		req.n_label_selector = n_sel;
		if (selector)
			req.selector = (char *)selector;
		ret = ctl_stream(SKIFF__MSG_TYPE__MSG_WATCH, &req.base, on_watch_event, &w);
		skiff_table_free(w.table);
	}

	if (list)
		skiff__list_response__free_unpacked(list, NULL);
	else {
		for (size_t i = 0; i < n; i++)
			skiff__object__free_unpacked(items[i], NULL);
		free(items);
	}
	free(names);
	ctl_kv_free(sel, n_sel);
	return ret;
}
