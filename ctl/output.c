/* output.c — tables with kubectl's columns, human ages, and the generic
 * -o json|yaml|name printers. */
#include "output.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "quantity.h"
#include "util.h"

int skiff_output_parse(const char *s, enum skiff_output *ret)
{
	static const struct {
		const char *name;
		enum skiff_output fmt;
	} formats[] = {
		{ "wide", SKIFF_OUTPUT_WIDE },	 { "json", SKIFF_OUTPUT_JSON },
		{ "yaml", SKIFF_OUTPUT_YAML },	 { "name", SKIFF_OUTPUT_NAME },
		{ "table", SKIFF_OUTPUT_TABLE },
	};
	/* "-o=json" as kubectl takes it (getopt hands over "=json") */
	if (*s == '=')
		s++;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (streq(s, formats[i].name)) {
			*ret = formats[i].fmt;
			return 0;
		}
	return -EINVAL;
}

char *skiff_format_age(int64_t now_ms, int64_t t_ms, char *buf, size_t len)
{
	if (t_ms <= 0) {
		snprintf(buf, len, "<unknown>");
		return buf;
	}
	int64_t s = (now_ms - t_ms) / 1000;
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 48 * 3600)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else if (s < 365 * 86400)
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
	else
		snprintf(buf, len, "%lldy", (long long)(s / (365 * 86400)));
	return buf;
}

/* ---- tables ------------------------------------------------------------- */

struct skiff_table {
	size_t ncols, nrows;
	char **headers;
	char **cells; /* nrows * ncols */
	/* skiff_output_table_new() with a NAMESPACE column first: the next
	 * skiff_table_add() puts this there and its cells after it */
	bool ns_column;
	const char *row_ns;
};

bool skiff_output_namespace_column;

struct skiff_table *skiff_table_new(size_t ncols, const char *const *headers)
{
	struct skiff_table *t = xcalloc(1, sizeof(*t));
	t->ncols = ncols;
	t->headers = xcalloc(ncols, sizeof(char *));
	for (size_t i = 0; i < ncols; i++)
		t->headers[i] = xstrdup(headers[i]);
	return t;
}

void skiff_table_add(struct skiff_table *t, const char *const *cells)
{
	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	size_t first = 0;
	if (t->row_ns) {
		t->cells[t->nrows * t->ncols] = xstrdup(t->row_ns);
		t->row_ns = NULL;
		first = 1;
	}
	for (size_t i = first; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
		    xstrdup(cells[i - first] ? cells[i - first] : "");
	t->nrows++;
}

static void print_row(FILE *f, char *const *cells, const size_t *width, size_t ncols)
{
	for (size_t i = 0; i < ncols; i++) {
		if (i + 1 < ncols)
			fprintf(f, "%-*s   ", (int)width[i], cells[i]);
		else
			fprintf(f, "%s\n", cells[i]);
	}
}

static void table_widths(const struct skiff_table *t, bool headers, size_t *width)
{
	for (size_t i = 0; i < t->ncols && i < 32; i++) {
		if (headers)
			width[i] = strlen(t->headers[i]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = strlen(t->cells[r * t->ncols + i]);
			if (w > width[i])
				width[i] = w;
		}
	}
}

void skiff_table_print(struct skiff_table *t, FILE *f, bool headers)
{
	size_t width[32] = { 0 };

	table_widths(t, headers, width);
	if (headers)
		print_row(f, t->headers, width, t->ncols);
	for (size_t r = 0; r < t->nrows; r++)
		print_row(f, t->cells + r * t->ncols, width, t->ncols);
}

void skiff_table_print_last(struct skiff_table *t, FILE *f)
{
	size_t width[32] = { 0 };

	if (t->nrows == 0)
		return;
	table_widths(t, true, width);
	print_row(f, t->cells + (t->nrows - 1) * t->ncols, width, t->ncols);
}

void skiff_table_add_column(struct skiff_table *t, const char *header, const char *const *cells)
{
	size_t nc = t->ncols + 1;
	assert(nc <= 32);
	char **c = xcalloc(t->nrows * nc, sizeof(char *));
	for (size_t r = 0; r < t->nrows; r++) {
		memcpy(c + r * nc, t->cells + r * t->ncols, t->ncols * sizeof(char *));
		c[r * nc + t->ncols] = xstrdup(cells[r] ? cells[r] : "");
	}
	free(t->cells);
	t->cells = c;
	t->headers = xrealloc(t->headers, nc * sizeof(char *));
	t->headers[t->ncols] = xstrdup(header);
	t->ncols = nc;
}

void skiff_table_prefix_column(struct skiff_table *t, size_t col, const char *prefix)
{
	for (size_t r = 0; r < t->nrows; r++) {
		char **cell = &t->cells[r * t->ncols + col];
		char *x = xasprintf("%s%s", prefix, *cell);
		free(*cell);
		*cell = x;
	}
}

void skiff_table_free(struct skiff_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncols; i++)
		free(t->headers[i]);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->headers);
	free(t->cells);
	free(t);
}

/* ---- columns per kind --------------------------------------------------- */

const char *skiff_pod_status_word(const Skiff__Pod *pod)
{
	if (pod->metadata && pod->metadata->deleted_ms > 0)
		return "Terminating";
	const Skiff__PodStatus *st = pod->status;
	if (!st)
		return "Pending";
	/* a waiting or failed container says more than the phase (CrashLoopBackOff…) */
	for (size_t i = 0; i < st->n_container_statuses; i++) {
		const Skiff__ContainerStatus *cs = st->container_statuses[i];
		if (cs->reason && *cs->reason && !streq(cs->state, "Running") &&
		    !streq(cs->reason, "Completed"))
			return cs->reason;
	}
	/* an unscheduled pod is Pending, as kubectl shows it; describe says why */
	if (st->reason && *st->reason && !streq(st->phase, "Running") &&
	    !streq(st->reason, "Unschedulable"))
		return st->reason;
	return st->phase && *st->phase ? st->phase : "Pending";
}

int skiff_pod_restarts(const Skiff__Pod *pod)
{
	int n = 0;
	for (size_t i = 0; pod->status && i < pod->status->n_container_statuses; i++)
		n += pod->status->container_statuses[i]->restart_count;
	return n;
}

const char *skiff_node_status_word(const Skiff__Node *node, char *buf, size_t len)
{
	const char *ready = "Unknown";
	for (size_t i = 0; node->status && i < node->status->n_conditions; i++) {
		const Skiff__NodeCondition *c = node->status->conditions[i];
		if (streq(c->type, "Ready"))
			ready = streq(c->status, "True") ? "Ready" : "NotReady";
	}
	if (streq(ready, "Unknown"))
		ready = "NotReady";
	snprintf(buf, len, "%s%s", ready,
		 node->spec && node->spec->unschedulable ? ",SchedulingDisabled" : "");
	return buf;
}

static char *kv_join(Skiff__KeyValue **kv, size_t n)
{
	char *s = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *t = xasprintf("%s%s%s=%s", s, i ? "," : "", kv[i]->key, kv[i]->value);
		free(s);
		s = t;
	}
	return s;
}

static const char *const node_cols[] = { "NAME",	"STATUS",   "ROLES", "AGE",   "VERSION",
					 "INTERNAL-IP", "POD-CIDR", "CPU",   "MEMORY" };
static const char *const pod_cols[] = {
	"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"
};
static const char *const deploy_cols[] = { "NAME", "READY",	 "UP-TO-DATE", "AVAILABLE",
					   "AGE",  "CONTAINERS", "IMAGES",     "SELECTOR" };
static const char *const svc_cols[] = { "NAME", "SELECTOR", "PORT(S)", "ENDPOINTS", "AGE" };
static const char *const event_cols[] = { "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE" };
static const char *const ns_cols[] = { "NAME", "STATUS", "AGE" };
static const char *const ds_cols[] = { "NAME",	     "DESIRED",	  "CURRENT",	   "READY",
				       "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE",
				       "CONTAINERS", "IMAGES",	  "SELECTOR" };
static const char *const job_cols[] = { "NAME", "STATUS",     "COMPLETIONS", "DURATION",
					"AGE",	"CONTAINERS", "IMAGES",	     "SELECTOR" };
static const char *const cronjob_cols[] = { "NAME",    "SCHEDULE",   "TIMEZONE",
					    "SUSPEND", "ACTIVE",     "LAST SCHEDULE",
					    "AGE",     "CONTAINERS", "IMAGES" };

static struct skiff_table *kind_table_new(const struct skiff_kind *kind, bool wide)
{
	if (streq(kind->name, "namespace"))
		return skiff_table_new(3, ns_cols);
	if (streq(kind->name, "node"))
		return skiff_table_new(wide ? 9 : 5, node_cols);
	if (streq(kind->name, "pod"))
		return skiff_table_new(wide ? 7 : 5, pod_cols);
	if (streq(kind->name, "deployment"))
		return skiff_table_new(wide ? 8 : 5, deploy_cols);
	if (streq(kind->name, "service"))
		return skiff_table_new(5, svc_cols);
	if (streq(kind->name, "daemonset"))
		return skiff_table_new(wide ? 11 : 8, ds_cols);
	if (streq(kind->name, "job"))
		return skiff_table_new(wide ? 8 : 5, job_cols);
	if (streq(kind->name, "cronjob"))
		return skiff_table_new(wide ? 9 : 7, cronjob_cols);
	return skiff_table_new(5, event_cols);
}

struct skiff_table *skiff_output_table_new(const struct skiff_kind *kind, bool wide)
{
	struct skiff_table *t = kind_table_new(kind, wide);
	if (skiff_output_namespace_column && kind->namespaced) {
		/* kubectl -A: NAMESPACE first */
		t->headers = xrealloc(t->headers, (t->ncols + 1) * sizeof(char *));
		memmove(t->headers + 1, t->headers, t->ncols * sizeof(char *));
		t->headers[0] = xstrdup("NAMESPACE");
		t->ncols++;
		t->ns_column = true;
	}
	return t;
}

static int64_t created(const Skiff__ObjectMeta *m)
{
	return m ? m->created_ms : 0;
}

/* A template's container names and images, comma-separated (free both). */
static void template_columns(const Skiff__PodTemplate *t, char **ret_containers, char **ret_images)
{
	char *containers = xstrdup(""), *images = xstrdup("");
	const Skiff__PodSpec *ps = t ? t->spec : NULL;
	for (size_t i = 0; ps && i < ps->n_containers; i++) {
		char *x = xasprintf("%s%s%s", containers, i ? "," : "", ps->containers[i]->name);
		free(containers);
		containers = x;
		x = xasprintf("%s%s%s", images, i ? "," : "", ps->containers[i]->image);
		free(images);
		images = x;
	}
	*ret_containers = containers;
	*ret_images = images;
}

/* A job's STATUS column, as kubectl 1.28+: Complete, Failed, Suspended, Running. */
static const char *job_status_word(const Skiff__Job *j)
{
	for (size_t i = 0; j->status && i < j->status->n_conditions; i++)
		if (streq(j->status->conditions[i]->type, "Complete") ||
		    streq(j->status->conditions[i]->type, "Failed"))
			return j->status->conditions[i]->type;
	if (j->spec && j->spec->suspend)
		return "Suspended";
	return "Running";
}

void skiff_output_table_row(struct skiff_table *t, const struct skiff_kind *kind,
			    const Skiff__Object *obj, bool wide, int64_t now_ms)
{
	char age[32], a[64], b[64], c[64], d[64];
	const char *name = skiff_object_name(obj);
	if (t->ns_column) {
		const ProtobufCMessage *msg = skiff_object_member(obj, NULL);
		const Skiff__ObjectMeta *m = msg ? ((const Skiff__Pod *)msg)->metadata : NULL;
		t->row_ns = m && m->namespace_ && *m->namespace_ ? m->namespace_ : "default";
	}

	if (obj->namespace_) {
		const Skiff__Namespace *ns = obj->namespace_;
		const char *cells[] = {
			name,
			ns->status && *ns->status->phase ? ns->status->phase : "Active",
			skiff_format_age(now_ms, created(ns->metadata), age, sizeof(age)),
		};
		skiff_table_add(t, cells);
		return;
	}

	if (obj->node) {
		const Skiff__Node *n = obj->node;
		const Skiff__NodeStatus *st = n->status;
		_cleanup_free_ char *roles = NULL;
		for (size_t i = 0; n->metadata && i < n->metadata->n_labels; i++) {
			const char *k = n->metadata->labels[i]->key;
			if (skiff_startswith(k, "node-role.skiff.io/")) {
				char *r = xasprintf("%s%s%s", roles ? roles : "", roles ? "," : "",
						    k + strlen("node-role.skiff.io/"));
				free(roles);
				roles = r;
			}
		}
		const char *cells[] = {
			name,
			skiff_node_status_word(n, a, sizeof(a)),
			roles ? roles : "<none>",
			skiff_format_age(now_ms, created(n->metadata), age, sizeof(age)),
			st && *st->agent_version ? st->agent_version : "<unknown>",
			st && *st->address ? st->address : "<none>",
			n->spec && *n->spec->pod_cidr ? n->spec->pod_cidr : "<none>",
			st && st->capacity ? skiff_format_cpu(st->capacity->cpu_milli, b, sizeof(b))
					   : "<none>",
			st && st->capacity ? skiff_format_memory(st->capacity->memory, c, sizeof(c))
					   : "<none>",
		};
		(void)kind;
		(void)wide; /* the table keeps only the columns it has */
		skiff_table_add(t, cells);
	} else if (obj->pod) {
		const Skiff__Pod *p = obj->pod;
		size_t total = p->spec ? p->spec->n_containers : 0, ready = 0;
		for (size_t i = 0; p->status && i < p->status->n_container_statuses; i++)
			ready += p->status->container_statuses[i]->ready;
		snprintf(a, sizeof(a), "%zu/%zu", ready, total);
		snprintf(b, sizeof(b), "%d", skiff_pod_restarts(p));
		const char *cells[] = {
			name,
			a,
			skiff_pod_status_word(p),
			b,
			skiff_format_age(now_ms, created(p->metadata), age, sizeof(age)),
			p->status && *p->status->pod_ip ? p->status->pod_ip : "<none>",
			p->spec && *p->spec->node_name ? p->spec->node_name : "<none>",
		};
		skiff_table_add(t, cells);
	} else if (obj->deployment) {
		const Skiff__Deployment *dp = obj->deployment;
		const Skiff__DeploymentStatus *st = dp->status;
		int want = dp->spec ? dp->spec->replicas : 0;
		snprintf(a, sizeof(a), "%d/%d", st ? st->ready_replicas : 0, want);
		snprintf(b, sizeof(b), "%d", st ? st->updated_replicas : 0);
		snprintf(c, sizeof(c), "%d", st ? st->available_replicas : 0);
		_cleanup_free_ char *containers = NULL, *images = NULL;
		template_columns(dp->spec ? dp->spec->template_ : NULL, &containers, &images);
		_cleanup_free_ char *sel =
		    dp->spec ? kv_join(dp->spec->selector, dp->spec->n_selector) : xstrdup("");
		const char *cells[] = {
			name,
			a,
			b,
			c,
			skiff_format_age(now_ms, created(dp->metadata), age, sizeof(age)),
			containers,
			images,
			sel,
		};
		skiff_table_add(t, cells);
	} else if (obj->service) {
		const Skiff__Service *s = obj->service;
		_cleanup_free_ char *sel =
		    s->spec ? kv_join(s->spec->selector, s->spec->n_selector) : xstrdup("");
		_cleanup_free_ char *ports = xstrdup(""), *eps = xstrdup("");
		for (size_t i = 0; s->spec && i < s->spec->n_ports; i++) {
			const Skiff__ServicePort *sp = s->spec->ports[i];
			char *x = xasprintf("%s%s%u/%s", ports, i ? "," : "", sp->port,
					    *sp->protocol ? sp->protocol : "TCP");
			free(ports);
			ports = x;
		}
		size_t shown = 0, ready = 0;
		for (size_t i = 0; s->status && i < s->status->n_endpoints; i++) {
			const Skiff__Endpoint *ep = s->status->endpoints[i];
			if (!ep->ready)
				continue;
			ready++;
			if (shown == 3)
				continue;
			char *x = xasprintf("%s%s%s:%u", eps, shown ? "," : "", ep->ip, ep->port);
			free(eps);
			eps = x;
			shown++;
		}
		if (ready > shown) {
			char *x = xasprintf("%s + %zu more...", eps, ready - shown);
			free(eps);
			eps = x;
		}
		const char *cells[] = {
			name,
			*sel ? sel : "<none>",
			*ports ? ports : "<none>",
			*eps ? eps : "<none>",
			skiff_format_age(now_ms, created(s->metadata), age, sizeof(age)),
		};
		skiff_table_add(t, cells);
	} else if (obj->daemon_set) {
		const Skiff__DaemonSet *ds = obj->daemon_set;
		const Skiff__DaemonSetStatus *st = ds->status;
		char e[32];
		snprintf(a, sizeof(a), "%d", st ? st->desired_number_scheduled : 0);
		snprintf(b, sizeof(b), "%d", st ? st->current_number_scheduled : 0);
		snprintf(c, sizeof(c), "%d", st ? st->number_ready : 0);
		snprintf(d, sizeof(d), "%d", st ? st->updated_number_scheduled : 0);
		snprintf(e, sizeof(e), "%d", st ? st->number_available : 0);
		const Skiff__PodTemplate *tp = ds->spec ? ds->spec->template_ : NULL;
		_cleanup_free_ char *containers = NULL, *images = NULL;
		template_columns(tp, &containers, &images);
		_cleanup_free_ char *nsel =
		    tp && tp->spec ? kv_join(tp->spec->node_selector, tp->spec->n_node_selector)
				   : xstrdup("");
		_cleanup_free_ char *sel =
		    ds->spec ? kv_join(ds->spec->selector, ds->spec->n_selector) : xstrdup("");
		const char *cells[] = {
			name,
			a,
			b,
			c,
			d,
			e,
			*nsel ? nsel : "<none>",
			skiff_format_age(now_ms, created(ds->metadata), age, sizeof(age)),
			containers,
			images,
			sel,
		};
		skiff_table_add(t, cells);
	} else if (obj->job) {
		const Skiff__Job *j = obj->job;
		const Skiff__JobStatus *st = j->status;
		snprintf(a, sizeof(a), "%d/%d", st ? st->succeeded : 0,
			 j->spec ? j->spec->completions : 0);
		char dur[32];
		if (st && st->start_ms)
			skiff_format_age(st->completion_ms ? st->completion_ms : now_ms,
					 st->start_ms, dur, sizeof(dur));
		else
			snprintf(dur, sizeof(dur), "<none>");
		_cleanup_free_ char *containers = NULL, *images = NULL;
		template_columns(j->spec ? j->spec->template_ : NULL, &containers, &images);
		_cleanup_free_ char *sel = xasprintf("job-name=%s", name);
		const char *cells[] = {
			name,
			job_status_word(j),
			a,
			dur,
			skiff_format_age(now_ms, created(j->metadata), age, sizeof(age)),
			containers,
			images,
			sel,
		};
		skiff_table_add(t, cells);
	} else if (obj->cron_job) {
		const Skiff__CronJob *cj = obj->cron_job;
		const Skiff__CronJobStatus *st = cj->status;
		snprintf(a, sizeof(a), "%zu", st ? st->n_active : 0);
		char last[32];
		if (st && st->last_schedule_ms)
			skiff_format_age(now_ms, st->last_schedule_ms, last, sizeof(last));
		else
			snprintf(last, sizeof(last), "<none>");
		const Skiff__JobTemplate *jt = cj->spec ? cj->spec->job_template : NULL;
		_cleanup_free_ char *containers = NULL, *images = NULL;
		template_columns(jt && jt->spec ? jt->spec->template_ : NULL, &containers, &images);
		const char *cells[] = {
			name,
			cj->spec ? cj->spec->schedule : "",
			cj->spec && *cj->spec->time_zone ? cj->spec->time_zone : "<none>",
			cj->spec && cj->spec->suspend ? "True" : "False",
			a,
			last,
			skiff_format_age(now_ms, created(cj->metadata), age, sizeof(age)),
			containers,
			images,
		};
		skiff_table_add(t, cells);
	} else if (obj->event) {
		const Skiff__Event *e = obj->event;
		snprintf(d, sizeof(d), "%s/%s", e->object_kind, e->object_name);
		_cleanup_free_ char *msg = e->count > 1
					       ? xasprintf("%s (x%d)", e->message, e->count)
					       : xstrdup(e->message);
		const char *cells[] = {
			skiff_format_age(now_ms, e->last_ms ? e->last_ms : created(e->metadata),
					 age, sizeof(age)),
			e->type,
			e->reason,
			d,
			msg,
		};
		skiff_table_add(t, cells);
	}
}

struct skiff_doc_node *skiff_output_doc(Skiff__Object *const *items, size_t n, bool single)
{
	if (single && n == 1)
		return skiff_object_to_doc(items[0]);
	struct skiff_doc_node *doc = skiff_doc_new(SKIFF_DOC_MAP);
	skiff_doc_put(doc, "apiVersion", skiff_doc_scalar(SKIFF_API_VERSION, SKIFF_SCALAR_STRING));
	skiff_doc_put(doc, "kind", skiff_doc_scalar("List", SKIFF_SCALAR_STRING));
	struct skiff_doc_node *seq = skiff_doc_new(SKIFF_DOC_SEQ);
	for (size_t i = 0; i < n; i++)
		skiff_doc_append(seq, skiff_object_to_doc(items[i]));
	skiff_doc_put(doc, "items", seq);
	return doc;
}

int skiff_output_objects(FILE *f, const struct skiff_kind *kind, Skiff__Object *const *items,
			 size_t n, enum skiff_output fmt, bool single, bool headers, int64_t now_ms)
{
	switch (fmt) {
	case SKIFF_OUTPUT_NAME:
		for (size_t i = 0; i < n; i++) {
			const struct skiff_kind *k = NULL;
			skiff_object_member(items[i], &k);
			fprintf(f, "%s/%s\n", k ? k->name : kind->name,
				skiff_object_name(items[i]));
		}
		break;
	case SKIFF_OUTPUT_JSON:
	case SKIFF_OUTPUT_YAML: {
		struct skiff_doc_node *doc = skiff_output_doc(items, n, single);
		int r = fmt == SKIFF_OUTPUT_JSON ? skiff_doc_write_json(f, doc)
						 : skiff_doc_write_yaml(f, doc, false);
		skiff_doc_free(doc);
		return r;
	}
	case SKIFF_OUTPUT_JSONPATH: /* printed by get itself */
	case SKIFF_OUTPUT_COLUMNS:
	case SKIFF_OUTPUT_TABLE:
	case SKIFF_OUTPUT_WIDE: {
		struct skiff_table *t = skiff_output_table_new(kind, fmt == SKIFF_OUTPUT_WIDE);
		for (size_t i = 0; i < n; i++)
			skiff_output_table_row(t, kind, items[i], fmt == SKIFF_OUTPUT_WIDE, now_ms);
		skiff_table_print(t, f, headers);
		skiff_table_free(t);
		break;
	}
	}
	return ferror(f) ? -EIO : 0;
}
