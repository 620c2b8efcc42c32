/* cmd_describe.c — `skiffctl describe KIND NAME`: one object for people,
 * with its events and, for a Pending pod, why no node took it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "ctl.h"
#include "quantity.h"
#include "util.h"

static void field(int indent, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void field(int indent, const char *key, const char *fmt, ...)
{
	va_list ap;
	/* continuation lines (key "") leave the key column blank */
	_cleanup_free_ char *k = *key ? xasprintf("%s:", key) : xstrdup("");
	int width = 22 - indent;
	if ((int)strlen(k) >= width)
		width = (int)strlen(k) + 1;
	printf("%*s%-*s", indent, "", width, k);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void labels(int indent, const char *key, Skiff__KeyValue **kv, size_t n)
{
	if (n == 0) {
		field(indent, key, "<none>");
		return;
	}
	for (size_t i = 0; i < n; i++)
		field(indent, i == 0 ? key : "", "%s=%s", kv[i]->key, kv[i]->value);
}

static const char *when(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0)
		return "<unknown>";
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

static void resources(int indent, const char *title, const Skiff__ResourceList *r)
{
	char a[32], b[32];
	if (!r || (r->cpu_milli == 0 && r->memory == 0))
		return;
	printf("%*s%s:\n", indent, "", title);
	if (r->cpu_milli)
		field(indent + 2, "cpu", "%s", skiff_format_cpu(r->cpu_milli, a, sizeof(a)));
	if (r->memory)
		field(indent + 2, "memory", "%s", skiff_format_memory(r->memory, b, sizeof(b)));
}

static void probe(int indent, const char *title, const Skiff__Probe *p)
{
	char a[32], b[32], c[32];
	_cleanup_free_ char *what = NULL;
	if (!p)
		return;
	if (p->http_get)
		what = xasprintf("http-get :%u%s", p->http_get->port, p->http_get->path);
	else if (p->tcp_socket)
		what = xasprintf("tcp-socket :%u", p->tcp_socket->port);
	else if (p->exec)
		what = xasprintf("exec [%s]", p->exec->n_command ? p->exec->command[0] : "");
	field(indent, title, "%s delay=%s timeout=%s period=%s #success=%d #failure=%d",
	      what ? what : "?", skiff_format_duration(p->initial_delay_ms, a, sizeof(a)),
	      skiff_format_duration(p->timeout_ms, b, sizeof(b)),
	      skiff_format_duration(p->period_ms, c, sizeof(c)), p->success_threshold,
	      p->failure_threshold);
}

static void containers(int indent, const Skiff__PodSpec *spec, const Skiff__PodStatus *st)
{
	char buf[64];
	printf("%*sContainers:\n", indent, "");
	for (size_t i = 0; spec && i < spec->n_containers; i++) {
		const Skiff__Container *c = spec->containers[i];
		printf("%*s%s:\n", indent + 2, "", c->name);
		int in = indent + 4;
		field(in, "Image", "%s", c->image);
		if (c->n_command)
			field(in, "Command", "%s", c->command[0]);
		for (size_t j = 0; j < c->n_args; j++)
			field(in, j == 0 ? "Args" : "", "%s", c->args[j]);
		for (size_t j = 0; j < c->n_ports; j++)
			field(in, j == 0 ? "Ports" : "", "%u/%s", c->ports[j]->container_port,
			      c->ports[j]->protocol);
		for (size_t j = 0; st && j < st->n_container_statuses; j++) {
			const Skiff__ContainerStatus *cs = st->container_statuses[j];
			if (!streq(cs->name, c->name))
				continue;
			if (cs->image_id && *cs->image_id)
				field(in, "Image ID", "%s", cs->image_id);
			for (size_t k = 0; k < cs->n_exposed_ports; k++)
				field(in, k == 0 ? "Exposed Ports" : "", "%s (from the image)",
				      cs->exposed_ports[k]);
			if (*cs->reason)
				field(in, "State", "%s (%s)", cs->state, cs->reason);
			else
				field(in, "State", "%s", cs->state);
			if (*cs->message)
				field(in + 2, "Message", "%s", cs->message);
			if (cs->started_ms)
				field(in + 2, "Started", "%s",
				      when(cs->started_ms, buf, sizeof(buf)));
			if (streq(cs->state, "Terminated"))
				field(in + 2, "Exit Code", "%d", cs->exit_code);
			if (*cs->last_reason)
				field(in, "Last State", "Terminated (%s, exit code %d)",
				      cs->last_reason, cs->last_exit_code);
			field(in, "Ready", "%s", cs->ready ? "True" : "False");
			field(in, "Restart Count", "%d", cs->restart_count);
			if (cs->pid)
				field(in, "PID", "%d", cs->pid);
		}
		if (c->resources) {
			resources(in, "Limits", c->resources->limits);
			resources(in, "Requests", c->resources->requests);
		}
		probe(in, "Liveness", c->liveness_probe);
		probe(in, "Readiness", c->readiness_probe);
		for (size_t j = 0; j < c->n_env; j++)
			field(in, j == 0 ? "Environment" : "", "%s=%s", c->env[j]->name,
			      c->env[j]->value);
		for (size_t j = 0; j < c->n_volume_mounts; j++)
			field(in, j == 0 ? "Mounts" : "", "%s from %s%s",
			      c->volume_mounts[j]->mount_path, c->volume_mounts[j]->name,
			      c->volume_mounts[j]->read_only ? " (ro)" : "");
	}
}

static void events(const struct skiff_kind *kind, const char *name)
{
	Skiff__ListResponse *list = NULL;
	char age[32];
	if (ctl_list(skiff_kind_lookup("event"), NULL, 0, NULL, NULL, name, &list) != 0) {
		printf("Events:               <unavailable>\n");
		return;
	}
	static const char *const cols[] = { "TYPE", "REASON", "AGE", "FROM", "MESSAGE" };
	struct skiff_table *t = skiff_table_new(5, cols);
	size_t shown = 0;
	int64_t now = skiff_now_ms();
	for (size_t i = 0; i < list->n_items; i++) {
		const Skiff__Event *e = list->items[i]->event;
		if (!e || !streq(e->object_name, name) || !streq(e->object_kind, kind->name))
			continue;
		_cleanup_free_ char *msg = e->count > 1
					       ? xasprintf("%s (x%d)", e->message, e->count)
					       : xstrdup(e->message);
		const char *row[] = { e->type, e->reason,
				      skiff_format_age(now, e->last_ms, age, sizeof(age)),
				      e->source, msg };
		skiff_table_add(t, row);
		shown++;
	}
	if (shown == 0) {
		printf("Events:               <none>\n");
	} else {
		printf("Events:\n");
		/* indent the table by two */
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		skiff_table_print(t, f, true);
		fclose(f);
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			printf("  %s\n", line);
		free(text);
	}
	skiff_table_free(t);
	skiff__list_response__free_unpacked(list, NULL);
}

/* The scheduler's message "0/3 nodes fit: vm1 insufficient memory (need
 * 512Mi, free 100Mi), vm2 cordoned" is shown with one node per line. */
static void pod_message(const char *message)
{
	const char *colon = strstr(message, "nodes fit:");
	if (!colon) {
		field(0, "Message", "%s", message);
		return;
	}
	colon += strlen("nodes fit:");
	_cleanup_free_ char *head = xstrndup(message, (size_t)(colon - message));
	field(0, "Message", "%s", head);
	const char *p = colon;
	int depth = 0;
	const char *start = p;
	for (;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		if (*p == 0 || (*p == ',' && depth == 0)) {
			while (start < p && *start == ' ')
				start++;
			if (p > start)
				printf("  - %.*s\n", (int)(p - start), start);
			if (*p == 0)
				break;
			start = p + 1;
		}
	}
}

static void describe_pod(const Skiff__Pod *p)
{
	char buf[64];
	const Skiff__PodStatus *st = p->status;
	const char *node = p->spec && *p->spec->node_name ? p->spec->node_name : "<none>";
	field(0, "Name", "%s", p->metadata->name);
	field(0, "Namespace", "default");
	if (st && *st->host_ip)
		field(0, "Node", "%s/%s", node, st->host_ip);
	else
		field(0, "Node", "%s", node);
	field(0, "Start Time", "%s", when(st ? st->start_ms : 0, buf, sizeof(buf)));
	labels(0, "Labels", p->metadata->labels, p->metadata->n_labels);
	field(0, "Status", "%s", skiff_pod_status_word(p));
	if (st && *st->reason)
		field(0, "Reason", "%s", st->reason);
	if (st && *st->message)
		pod_message(st->message);
	field(0, "IP", "%s", st && *st->pod_ip ? st->pod_ip : "<none>");
	if (*p->owner)
		field(0, "Controlled By", "%s/%s", *p->owner_kind ? p->owner_kind : "Deployment",
		      p->owner);
	containers(0, p->spec, st);
	if (p->spec) {
		field(0, "Restart Policy", "%s", p->spec->restart_policy);
		labels(0, "Node-Selectors", p->spec->node_selector, p->spec->n_node_selector);
		for (size_t i = 0; i < p->spec->n_volumes; i++) {
			const Skiff__Volume *v = p->spec->volumes[i];
			field(0, i == 0 ? "Volumes" : "", "%s (%s%s)", v->name,
			      v->host_path ? "hostPath " : "emptyDir",
			      v->host_path ? v->host_path->path : "");
		}
	}
}

static void describe_deployment(const Skiff__Deployment *d)
{
	char buf[64];
	const Skiff__DeploymentSpec *s = d->spec;
	const Skiff__DeploymentStatus *st = d->status;
	field(0, "Name", "%s", d->metadata->name);
	field(0, "Namespace", "default");
	field(0, "CreationTimestamp", "%s", when(d->metadata->created_ms, buf, sizeof(buf)));
	labels(0, "Labels", d->metadata->labels, d->metadata->n_labels);
	if (!s)
		return;
	_cleanup_free_ char *sel = xstrdup("");
	for (size_t i = 0; i < s->n_selector; i++) {
		char *x = xasprintf("%s%s%s=%s", sel, i ? "," : "", s->selector[i]->key,
				    s->selector[i]->value);
		free(sel);
		sel = x;
	}
	field(0, "Selector", "%s", sel);
	field(0, "Replicas", "%d desired | %d updated | %d total | %d available | %d unavailable",
	      s->replicas, st ? st->updated_replicas : 0, st ? st->replicas : 0,
	      st ? st->available_replicas : 0, st ? st->unavailable_replicas : 0);
	if (s->strategy) {
		field(0, "StrategyType", "%s", s->strategy->type);
		if (s->strategy->rolling_update)
			field(0, "RollingUpdateStrategy", "%s max unavailable, %s max surge",
			      s->strategy->rolling_update->max_unavailable,
			      s->strategy->rolling_update->max_surge);
	}
	field(0, "MinReadySeconds", "%d", s->min_ready_ms / 1000);
	if (s->template_) {
		printf("Pod Template:\n");
		if (s->template_->metadata)
			labels(2, "Labels", s->template_->metadata->labels,
			       s->template_->metadata->n_labels);
		containers(2, s->template_->spec, NULL);
	}
	if (st) {
		field(0, "Revision", "%lld", (long long)st->revision);
		if (*st->condition)
			field(0, "Condition", "%s%s%s", st->condition, *st->message ? ": " : "",
			      st->message);
		for (size_t i = 0; i < st->n_history; i++)
			field(0, i == 0 ? "History" : "", "revision %lld (%s)",
			      (long long)st->history[i]->revision, st->history[i]->template_hash);
	}
}

static void describe_service(const Skiff__Service *s)
{
	field(0, "Name", "%s", s->metadata->name);
	field(0, "Namespace", "default");
	labels(0, "Labels", s->metadata->labels, s->metadata->n_labels);
	if (s->spec) {
		labels(0, "Selector", s->spec->selector, s->spec->n_selector);
		for (size_t i = 0; i < s->spec->n_ports; i++) {
			const Skiff__ServicePort *p = s->spec->ports[i];
			field(0, "Port", "%s %u/%s", *p->name ? p->name : "<unset>", p->port,
			      p->protocol);
			if (*p->target_port_name)
				field(0, "TargetPort", "%s/%s", p->target_port_name, p->protocol);
			else
				field(0, "TargetPort", "%u/%s", p->target_port, p->protocol);
		}
	}
	_cleanup_free_ char *eps = xstrdup("");
	for (size_t i = 0; s->status && i < s->status->n_endpoints; i++) {
		const Skiff__Endpoint *e = s->status->endpoints[i];
		if (!e->ready)
			continue;
		char *x = xasprintf("%s%s%s:%u", eps, *eps ? "," : "", e->ip, e->port);
		free(eps);
		eps = x;
	}
	field(0, "Endpoints", "%s", *eps ? eps : "<none>");
}

static void describe_node(const Skiff__Node *n)
{
	char buf[64], a[32], b[32];
	const Skiff__NodeStatus *st = n->status;
	field(0, "Name", "%s", n->metadata->name);
	labels(0, "Labels", n->metadata->labels, n->metadata->n_labels);
	field(0, "CreationTimestamp", "%s", when(n->metadata->created_ms, buf, sizeof(buf)));
	field(0, "Status", "%s", skiff_node_status_word(n, buf, sizeof(buf)));
	field(0, "Unschedulable", "%s", n->spec && n->spec->unschedulable ? "true" : "false");
	if (n->spec)
		field(0, "PodCIDR", "%s", n->spec->pod_cidr);
	if (!st)
		return;
	field(0, "Address", "%s", st->address);
	field(0, "Epoch", "%llu", (unsigned long long)st->epoch);
	printf("Conditions:\n");
	for (size_t i = 0; i < st->n_conditions; i++) {
		const Skiff__NodeCondition *c = st->conditions[i];
		printf("  %s=%s %s %s (last heartbeat %s)\n", c->type, c->status, c->reason,
		       c->message, when(c->last_heartbeat_ms, buf, sizeof(buf)));
	}
	if (st->capacity) {
		printf("Capacity:\n");
		field(2, "cpu", "%s", skiff_format_cpu(st->capacity->cpu_milli, a, sizeof(a)));
		field(2, "memory", "%s", skiff_format_memory(st->capacity->memory, b, sizeof(b)));
		field(2, "pods", "%lld", (long long)st->capacity->pods);
	}
	if (st->allocatable) {
		printf("Allocatable:\n");
		field(2, "cpu", "%s", skiff_format_cpu(st->allocatable->cpu_milli, a, sizeof(a)));
		field(2, "memory", "%s",
		      skiff_format_memory(st->allocatable->memory, b, sizeof(b)));
		field(2, "pods", "%lld", (long long)st->allocatable->pods);
	}
	field(0, "Agent Version", "%s", st->agent_version);
	field(0, "Kernel", "%s", st->kernel);
	Skiff__ListResponse *pods = NULL;
	if (ctl_list(skiff_kind_lookup("pod"), NULL, 0, NULL, n->metadata->name, NULL, &pods) ==
	    0) {
		printf("Pods:                 (%zu)\n", pods->n_items);
		for (size_t i = 0; i < pods->n_items; i++)
			if (pods->items[i]->pod)
				printf("  %s\n", skiff_object_name(pods->items[i]));
		skiff__list_response__free_unpacked(pods, NULL);
	}
}

int cmd_describe(int argc, char **argv)
{
	const struct skiff_kind *kind;
	const char *name;
	int k = ctl_kind_name("describe", argc - 1, argv + 1, &kind, &name);
	if (k < 0)
		return CTL_USAGE;
	if (1 + k < argc)
		return ctl_usage_error("describe", "unexpected argument \"%s\"", argv[1 + k]);
	Skiff__Object *obj = NULL;
	if (ctl_get_object(kind, name, &obj) != 0)
		return CTL_FAIL;
	if (obj->pod)
		describe_pod(obj->pod);
	else if (obj->deployment)
		describe_deployment(obj->deployment);
	else if (obj->service)
		describe_service(obj->service);
	else if (obj->node)
		describe_node(obj->node);
	else /* events, daemon sets, jobs, cron jobs: the object as YAML */
		skiff_output_objects(stdout, kind, &obj, 1, SKIFF_OUTPUT_YAML, true, true, 0);
	if (!obj->event)
		events(kind, name);
	skiff__object__free_unpacked(obj, NULL);
	fflush(stdout);
	return 0;
}
