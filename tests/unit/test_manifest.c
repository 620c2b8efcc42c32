/* test_manifest.c — the manifest parser: every field, defaults, quantity and
 * duration forms, every error with its line and column, hostile documents,
 * and the round trip through -o yaml / -o json. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "manifest.h"
#include "output.h"
#include "util.h"
#include "testlib.h"

static const char full_deployment[] = "apiVersion: skiff/v1\n"
				      "kind: Deployment\n"
				      "metadata:\n"
				      "  name: web\n"
				      "  labels:\n"
				      "    app: web\n"
				      "    tier: front\n"
				      "  annotations:\n"
				      "    note: \"anything: goes\"\n"
				      "spec:\n"
				      "  replicas: 3\n"
				      "  selector:\n"
				      "    matchLabels:\n"
				      "      app: web\n"
				      "  strategy:\n"
				      "    type: RollingUpdate\n"
				      "    rollingUpdate:\n"
				      "      maxSurge: 1\n"
				      "      maxUnavailable: 0%\n"
				      "  revisionHistoryLimit: 4\n"
				      "  minReadySeconds: 2\n"
				      "  progressDeadlineSeconds: 1m30s\n"
				      "  template:\n"
				      "    metadata:\n"
				      "      labels:\n"
				      "        app: web\n"
				      "    spec:\n"
				      "      restartPolicy: Always\n"
				      "      hostname: web-host\n"
				      "      terminationGracePeriodSeconds: 500ms\n"
				      "      nodeSelector:\n"
				      "        disk: ssd\n"
				      "      volumes:\n"
				      "      - name: scratch\n"
				      "        emptyDir:\n"
				      "          sizeLimit: 64Mi\n"
				      "      - name: shm\n"
				      "        emptyDir: {medium: Memory, sizeLimit: 8Mi}\n"
				      "      - name: data\n"
				      "        hostPath:\n"
				      "          path: /srv/data\n"
				      "      - name: plain\n"
				      "      containers:\n"
				      "      - name: web\n"
				      "        image: skiff-demo:1\n"
				      "        command: [/bin/web]\n"
				      "        args: [\"--port\", \"8080\"]\n"
				      "        workingDir: /srv\n"
				      "        env:\n"
				      "        - name: MODE\n"
				      "          value: fast\n"
				      "        - name: PORT\n"
				      "          value: 8080\n"
				      "        ports:\n"
				      "        - containerPort: 8080\n"
				      "          name: http\n"
				      "        - containerPort: 53\n"
				      "          protocol: UDP\n"
				      "        resources:\n"
				      "          requests:\n"
				      "            cpu: 100m\n"
				      "            memory: 64Mi\n"
				      "          limits:\n"
				      "            cpu: 0.5\n"
				      "            memory: 1G\n"
				      "            ephemeral-storage: 512Mi\n"
				      "        livenessProbe:\n"
				      "          httpGet:\n"
				      "            path: /healthz\n"
				      "            port: 8080\n"
				      "          initialDelaySeconds: 3\n"
				      "          periodSeconds: 500ms\n"
				      "          timeoutSeconds: 2\n"
				      "          failureThreshold: 5\n"
				      "          successThreshold: 1\n"
				      "        readinessProbe:\n"
				      "          tcpSocket:\n"
				      "            port: 8080\n"
				      "        volumeMounts:\n"
				      "        - name: scratch\n"
				      "          mountPath: /tmp\n"
				      "        - name: data\n"
				      "          mountPath: /data\n"
				      "          readOnly: true\n"
				      "      - name: sidecar\n"
				      "        image: skiff-demo:1\n"
				      "        command: [/bin/sidecar]\n"
				      "        livenessProbe:\n"
				      "          exec:\n"
				      "            command: [/bin/true]\n";

static void dump_errors(const struct skiff_manifest *m)
{
	for (size_t i = 0; i < m->n_errors; i++)
		fprintf(stderr, "  %s\n", m->errors[i]);
}

static int parse(struct skiff_manifest *m, const char *name, const char *text)
{
	*m = (struct skiff_manifest){ 0 };
	int r = skiff_manifest_parse_buffer(m, name, text, strlen(text));
	if (getenv("DUMP_ERRORS"))
		dump_errors(m);
	return r;
}

static bool has_error(const struct skiff_manifest *m, const char *text)
{
	for (size_t i = 0; i < m->n_errors; i++)
		if (strcmp(m->errors[i], text) == 0)
			return true;
	dump_errors(m);
	fprintf(stderr, "  (wanted: %s)\n", text);
	return false;
}

static const char *kv(Skiff__KeyValue **kvs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kvs[i]->key, key) == 0)
			return kvs[i]->value;
	return NULL;
}

TEST(test_every_deployment_field)
{
	struct skiff_manifest m;
	ck_assert_int_eq(parse(&m, "web.yaml", full_deployment), 0);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_str_eq(m.objects[0].kind->name, "deployment");
	ck_assert_str_eq(m.objects[0].source, "web.yaml:1");
	Skiff__Deployment *d = m.objects[0].object->deployment;
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->metadata->name, "web");
	ck_assert_str_eq(kv(d->metadata->labels, d->metadata->n_labels, "tier"), "front");
	ck_assert_str_eq(kv(d->metadata->annotations, d->metadata->n_annotations, "note"),
			 "anything: goes");
	Skiff__DeploymentSpec *s = d->spec;
	ck_assert_int_eq(s->replicas, 3);
	ck_assert_str_eq(kv(s->selector, s->n_selector, "app"), "web");
	ck_assert_str_eq(s->strategy->type, "RollingUpdate");
	ck_assert_str_eq(s->strategy->rolling_update->max_surge, "1");
	ck_assert_str_eq(s->strategy->rolling_update->max_unavailable, "0%");
	ck_assert_int_eq(s->revision_history_limit, 4);
	ck_assert_int_eq(s->min_ready_ms, 2000);
	ck_assert_int_eq(s->progress_deadline_ms, 90000);
	ck_assert_str_eq(
	    kv(s->template_->metadata->labels, s->template_->metadata->n_labels, "app"), "web");
	Skiff__PodSpec *ps = s->template_->spec;
	ck_assert_str_eq(ps->restart_policy, "Always"); /* a deployment's only one */
	ck_assert_str_eq(ps->hostname, "web-host");
	ck_assert_int_eq(ps->termination_grace_ms, 500);
	ck_assert_str_eq(kv(ps->node_selector, ps->n_node_selector, "disk"), "ssd");
	ck_assert_uint_eq(ps->n_volumes, 4);
	ck_assert_int_eq(ps->volumes[0]->empty_dir->size_limit, 64 << 20);
	ck_assert_str_eq(ps->volumes[0]->empty_dir->medium, "");
	ck_assert_str_eq(ps->volumes[1]->empty_dir->medium, "Memory");
	ck_assert_int_eq(ps->volumes[1]->empty_dir->size_limit, 8 << 20);
	ck_assert_str_eq(ps->volumes[2]->host_path->path, "/srv/data");
	ck_assert_ptr_nonnull(ps->volumes[3]->empty_dir); /* emptyDir is the default */
	ck_assert_uint_eq(ps->n_containers, 2);
	Skiff__Container *c = ps->containers[0];
	ck_assert_str_eq(c->name, "web");
	ck_assert_str_eq(c->image, "skiff-demo:1");
	ck_assert_uint_eq(c->n_command, 1);
	ck_assert_str_eq(c->command[0], "/bin/web");
	ck_assert_uint_eq(c->n_args, 2);
	ck_assert_str_eq(c->args[1], "8080");
	ck_assert_str_eq(c->working_dir, "/srv");
	ck_assert_uint_eq(c->n_env, 2);
	ck_assert_str_eq(c->env[1]->name, "PORT");
	ck_assert_str_eq(c->env[1]->value, "8080");
	ck_assert_uint_eq(c->n_ports, 2);
	ck_assert_uint_eq(c->ports[0]->container_port, 8080);
	ck_assert_str_eq(c->ports[0]->name, "http");
	ck_assert_str_eq(c->ports[0]->protocol, "TCP");
	ck_assert_str_eq(c->ports[1]->protocol, "UDP");
	ck_assert_int_eq(c->resources->requests->cpu_milli, 100);
	ck_assert_int_eq(c->resources->requests->memory, 64 << 20);
	ck_assert_int_eq(c->resources->limits->cpu_milli, 500);
	ck_assert_int_eq(c->resources->limits->memory, 1000000000);
	ck_assert_int_eq(c->resources->limits->ephemeral_storage, 512 << 20);
	Skiff__Probe *lp = c->liveness_probe;
	ck_assert_str_eq(lp->http_get->path, "/healthz");
	ck_assert_uint_eq(lp->http_get->port, 8080);
	ck_assert_int_eq(lp->initial_delay_ms, 3000);
	ck_assert_int_eq(lp->period_ms, 500);
	ck_assert_int_eq(lp->timeout_ms, 2000);
	ck_assert_int_eq(lp->failure_threshold, 5);
	ck_assert_int_eq(lp->success_threshold, 1);
	Skiff__Probe *rp = c->readiness_probe;
	ck_assert_uint_eq(rp->tcp_socket->port, 8080);
	ck_assert_int_eq(rp->period_ms, 10000); /* defaults */
	ck_assert_int_eq(rp->timeout_ms, 1000);
	ck_assert_int_eq(rp->failure_threshold, 3);
	ck_assert_uint_eq(c->n_volume_mounts, 2);
	ck_assert_str_eq(c->volume_mounts[1]->mount_path, "/data");
	ck_assert(c->volume_mounts[1]->read_only);
	ck_assert(!c->volume_mounts[0]->read_only);
	ck_assert_str_eq(ps->containers[1]->liveness_probe->exec->command[0], "/bin/true");
	skiff_manifest_clear(&m);
}
END_TEST

TEST(test_defaults)
{
	struct skiff_manifest m;
	ck_assert_int_eq(
	    parse(
		&m, "d.yaml",
		"apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: api}\n"
		"spec:\n  template:\n    spec:\n      containers:\n"
		"      - {name: api, image: 'x:1', command: [/x], ports: [{containerPort: 80}]}\n"),
	    0);
	Skiff__Deployment *d = m.objects[0].object->deployment;
	ck_assert_int_eq(d->spec->replicas, 1);
	ck_assert_int_eq(d->spec->revision_history_limit, 10);
	ck_assert_int_eq(d->spec->progress_deadline_ms, 600000);
	ck_assert_int_eq(d->spec->min_ready_ms, 0);
	ck_assert_str_eq(d->spec->strategy->type, "RollingUpdate");
	ck_assert_str_eq(d->spec->strategy->rolling_update->max_surge, "25%");
	ck_assert_str_eq(d->spec->strategy->rolling_update->max_unavailable, "25%");
	/* no selector and no template labels: both become app=<name> */
	ck_assert_str_eq(kv(d->spec->selector, d->spec->n_selector, "app"), "api");
	Skiff__PodTemplate *t = d->spec->template_;
	ck_assert_str_eq(kv(t->metadata->labels, t->metadata->n_labels, "app"), "api");
	ck_assert_str_eq(t->spec->restart_policy, "Always");
	ck_assert_int_eq(t->spec->termination_grace_ms, 10000);
	ck_assert_str_eq(t->spec->containers[0]->ports[0]->protocol, "TCP");
	skiff_manifest_clear(&m);

	/* replicas: 0 stays 0; Recreate has no rollingUpdate; selector from labels */
	ck_assert_int_eq(parse(&m, "d.yaml",
			       "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: api}\n"
			       "spec:\n  replicas: 0\n  strategy: {type: Recreate}\n"
			       "  template:\n    metadata: {labels: {app: x, v: '2'}}\n"
			       "    spec: {containers: [{name: a, image: i, command: [/x]}]}\n"),
			 0);
	d = m.objects[0].object->deployment;
	ck_assert_int_eq(d->spec->replicas, 0);
	ck_assert_ptr_null(d->spec->strategy->rolling_update);
	ck_assert_uint_eq(d->spec->n_selector, 2);
	skiff_manifest_clear(&m);
}
END_TEST

TEST(test_service_and_pod)
{
	struct skiff_manifest m;
	ck_assert_int_eq(parse(&m, "s.yaml",
			       "apiVersion: skiff/v1\nkind: Service\nmetadata: {name: web}\n"
			       "spec:\n  selector: {app: web}\n  ports:\n"
			       "  - {name: http, port: 80, targetPort: 8080}\n"
			       "  - {name: dns, port: 53, protocol: UDP}\n"
			       "---\n"
			       "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: solo}\n"
			       "spec:\n  containers: [{name: c, image: busy, command: [/x]}]\n"
			       "  restartPolicy: Never\n"),
			 0);
	ck_assert_uint_eq(m.n, 2);
	Skiff__Service *s = m.objects[0].object->service;
	ck_assert_str_eq(m.objects[0].kind->name, "service");
	ck_assert_str_eq(kv(s->spec->selector, s->spec->n_selector, "app"), "web");
	ck_assert_uint_eq(s->spec->n_ports, 2);
	ck_assert_uint_eq(s->spec->ports[0]->target_port, 8080);
	ck_assert_uint_eq(s->spec->ports[1]->target_port, 53); /* defaults to port */
	ck_assert_str_eq(s->spec->ports[1]->protocol, "UDP");
	ck_assert_str_eq(s->spec->ports[0]->protocol, "TCP");
	Skiff__Pod *p = m.objects[1].object->pod;
	ck_assert_str_eq(m.objects[1].source, "s.yaml:10");
	ck_assert_str_eq(p->spec->restart_policy, "Never");
	ck_assert_str_eq(p->spec->containers[0]->image, "busy");
	skiff_manifest_clear(&m);
}
END_TEST

TEST(test_quantity_forms)
{
	static const struct {
		const char *cpu, *mem;
		int64_t milli, bytes;
	} cases[] = {
		{ "100m", "64Mi", 100, 64LL << 20 },	 { "0.5", "1G", 500, 1000000000 },
		{ "2", "512k", 2000, 512000 },		 { "1.25", "1Gi", 1250, 1LL << 30 },
		{ "\"250m\"", "1048576", 250, 1048576 }, { "3", "2Ki", 3000, 2048 },
		{ "1500m", "64M", 1500, 64000000 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct skiff_manifest m;
		_cleanup_free_ char *text = xasprintf(
		    "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n"
		    "  - name: c\n    image: i\n    command: [/x]\n    resources:\n      limits: {cpu: %s, memory: %s}\n",
		    cases[i].cpu, cases[i].mem);
		ck_assert_int_eq(parse(&m, "q.yaml", text), 0);
		Skiff__ResourceList *l =
		    m.objects[0].object->pod->spec->containers[0]->resources->limits;
		ck_assert_int_eq(l->cpu_milli, cases[i].milli);
		ck_assert_int_eq(l->memory, cases[i].bytes);
		skiff_manifest_clear(&m);
	}
}
END_TEST

/* The acceptance manifest: a typo, a bad quantity, a missing name. */
static const char three_errors[] = "apiVersion: skiff/v1\n"
				   "kind: Deployment\n"
				   "metadata:\n"
				   "  labels: {app: web}\n"
				   "spec:\n"
				   "  replicas: 2\n"
				   "  template:\n"
				   "    spec:\n"
				   "      containers:\n"
				   "      - name: web\n"
				   "        imagee: skiff-demo:1\n"
				   "        resources:\n"
				   "          limits:\n"
				   "            memory: 64Mb\n";

TEST(test_three_errors)
{
	struct skiff_manifest m;
	ck_assert_int_eq(parse(&m, "bad.yaml", three_errors), 4);
	ck_assert_uint_eq(m.n, 0);
	ck_assert(has_error(&m, "bad.yaml:4:3: metadata.name: required field is missing"));
	ck_assert(has_error(&m, "bad.yaml:11:9: spec.template.spec.containers[0].imagee: unknown "
				"field \"imagee\", did you mean \"image\"?"));
	ck_assert(has_error(&m, "bad.yaml:14:21: spec.template.spec.containers[0].resources.limits."
				"memory: expected a memory quantity (like 64Mi, 1G or 512k), got "
				"\"64Mb\""));
	/* and the image the typo hid is missing */
	ck_assert(has_error(&m, "bad.yaml:10:9: spec.template.spec.containers[0].image: required "
				"field is missing"));
	skiff_manifest_clear(&m);
}
END_TEST

TEST(test_error_messages)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: g}\nspec:\n"
		  "  replicas: three\n  template: {spec: {containers: [{name: a, image: i, command: [/x]}]}}\n",
		  "x.yaml:5:13: spec.replicas: expected a non-negative integer, got \"three\"" },
		{ "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: g}\nspec:\n"
		  "  replicas: -1\n  template: {spec: {containers: [{name: a, image: i, command: [/x]}]}}\n",
		  "x.yaml:5:13: spec.replicas: expected a non-negative integer, got \"-1\"" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: Web_1}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x]}]}\n",
		  "x.yaml:3:18: metadata.name: 'Web_1' is not a valid name (lower-case letters, digits "
		  "and '-', starting and ending with a letter or digit, at most 253 characters)" },
		{ "apiVersion: apps/v1\nkind: Pod\nmetadata: {name: a}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x]}]}\n",
		  "x.yaml:1:13: apiVersion: expected \"v1\" or \"skiff/v1\" for kind Pod, got "
		  "\"apps/v1\"" },
		{ "apiVersion: skiff/v1\nkind: Deploymnet\nmetadata: {name: a}\n",
		  "x.yaml:2:7: kind: expected Pod, Deployment, Service, Namespace, DaemonSet, Job or CronJob, got \"Deploymnet\" (did you "
		  "mean \"Deployment\"?)" },
		{ "apiVersion: skiff/v1\nmetadata: {name: a}\n",
		  "x.yaml:1:1: kind: required field is missing (Pod, Deployment, Service, Namespace, DaemonSet, Job or CronJob)" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x]}], restartPolicy: Sometimes}\n",
		  "x.yaml:4:73: spec.restartPolicy: must be one of Always,OnFailure,Never, got "
		  "'Sometimes'" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x], ports: [{containerPort: 70000}]}]}\n",
		  "x.yaml:4:80: spec.containers[0].ports[0].containerPort: must be 1-65535, got 70000" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x], resources: {limits: {cpu: lots}}}]}\n",
		  "x.yaml:4:82: spec.containers[0].resources.limits.cpu: expected a CPU quantity (like "
		  "100m, 0.5 or 2), got \"lots\"" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
		  "  - name: a\n    image: i\n    livenessProbe:\n      tcpSocket: {port: 80}\n"
		  "      periodSeconds: soon\n",
		  "x.yaml:10:22: spec.containers[0].livenessProbe.periodSeconds: expected seconds (like "
		  "10) or a duration (like 500ms or 1m30s), got \"soon\"" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
		  "  - name: a\n    image: i\n    command: [/x]\n    livenessProbe: {periodSeconds: 3}\n",
		  "x.yaml:9:20: spec.containers[0].livenessProbe: exactly one of exec, tcpSocket, "
		  "httpGet is required, got 0" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x], volumeMounts: [{name: v, mountPath: /v}]}]}\n",
		  "x.yaml:4:78: spec.containers[0].volumeMounts[0].name: no volume named 'v' in volumes" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}\n",
		  "x.yaml:4:20: spec.containers: at least one container is required" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a, name: b}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x]}]}\n",
		  "x.yaml:3:21: metadata.name: duplicate field" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a, labels: {'bad key!': x}}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x]}]}\n",
		  "x.yaml:3:29: metadata.labels: 'bad key!' is not a valid label key (an optional DNS "
		  "subdomain prefix of at most 253 characters and '/', then a name of 1-63 letters, "
		  "digits, '-', '_' or '.', starting and ending with a letter or digit)" },
		{ "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n"
		  "  selector: {matchLabels: {app: a}}\n"
		  "  template: {metadata: {labels: {app: b}}, spec: {containers: [{name: a, image: "
		  "i}]}}\n",
		  "x.yaml:5:27: spec.selector.matchLabels: does not match spec.template.metadata.labels "
		  "(every selector label must be a template label)" },
		{ "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n"
		  "  selector: {matchLabel: {app: a}}\n"
		  "  template: {spec: {containers: [{name: a, image: i, command: [/x]}]}}\n",
		  "x.yaml:5:14: spec.selector.matchLabel: unknown field \"matchLabel\", did you mean "
		  "\"matchLabels\"?" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\n"
		  "spec: {containers: {name: a}}\n",
		  "x.yaml:4:20: spec.containers: expected a list, got a mapping" },
		{ "apiVersion: skiff/v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: "
		  "80}], selectr: {app: a}}\n",
		  "x.yaml:4:29: spec.selectr: unknown field \"selectr\", did you mean \"selector\"?" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\n"
		  "spec: {containers: [{name: a, image: i, command: [/x], volumeMounts: [{name: v, mountPath: /v, "
		  "readOnly: maybe}]}], volumes: [{name: v}]}\n",
		  "x.yaml:4:106: spec.containers[0].volumeMounts[0].readOnly: expected true or false, "
		  "got \"maybe\"" },
		{ "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, "
		  "image: i, command: [/x]}]\n",
		  "x.yaml:5:1: YAML syntax error: did not find expected ',' or '}' while parsing a flow "
		  "mapping" },
		{ "- just\n- a list\n",
		  "x.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a list" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct skiff_manifest m;
		parse(&m, "x.yaml", cases[i].text);
		ck_assert_msg(has_error(&m, cases[i].error), "case %zu", i);
		ck_assert_msg(m.n == 0, "case %zu", i);
		skiff_manifest_clear(&m);
	}
}
END_TEST

TEST(test_list_json_and_files)
{
	struct skiff_manifest m;
	/* JSON is YAML too, and a List of objects is what -o json prints */
	ck_assert_int_eq(
	    parse(
		&m, "l.json",
		"{\"apiVersion\": \"skiff/v1\", \"kind\": \"List\", \"items\": ["
		"{\"apiVersion\": \"skiff/v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"},"
		" \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"i\", \"command\": [\"/x\"]}]}},"
		"{\"apiVersion\": \"skiff/v1\", \"kind\": \"Service\", \"metadata\": {\"name\": "
		"\"b\"}, \"spec\": {\"selector\": {\"app\": \"b\"}, \"ports\": [{\"port\": 80}]}}]}"),
	    0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_str_eq(skiff_object_name(m.objects[1].object), "b");
	skiff_manifest_clear(&m);

	/* a directory: its manifests in name order; errors of every file */
	char dir[] = "/tmp/skiff-test-manifest-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	_cleanup_free_ char *a = xasprintf("%s/a.yaml", dir), *b = xasprintf("%s/b.yml", dir),
			    *c = xasprintf("%s/c.txt", dir), *e = xasprintf("%s/e.yaml", dir);
	const char *pod = "apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: p}\n"
			  "spec: {containers: [{name: c, image: i, command: [/x]}]}\n";
	ck_assert_int_eq(skiff_write_file_atomic(a, pod, strlen(pod), 0644), 0);
	ck_assert_int_eq(skiff_write_file_atomic(b, pod, strlen(pod), 0644), 0);
	ck_assert_int_eq(skiff_write_file_atomic(c, "junk: [", 7, 0644), 0);
	m = (struct skiff_manifest){ 0 };
	ck_assert_int_eq(skiff_manifest_load_path(&m, dir), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert(skiff_endswith(m.objects[0].source, "/a.yaml:1"));
	ck_assert(skiff_endswith(m.objects[1].source, "/b.yml:1"));
	skiff_manifest_clear(&m);
	ck_assert_int_eq(skiff_write_file_atomic(e, "kind: Pod\n", 10, 0644), 0);
	ck_assert_int_gt(skiff_manifest_load_path(&m, dir), 0);
	ck_assert_uint_eq(m.n_errors, 3); /* apiVersion, metadata, spec */
	skiff_manifest_clear(&m);
	ck_assert_int_eq(skiff_manifest_load_path(&m, "/nonexistent/x.yaml"), 1);
	ck_assert_str_eq(m.errors[0],
			 "/nonexistent/x.yaml: cannot read: No such file or directory");
	skiff_manifest_clear(&m);
	skiff_rm_rf(dir);
}
END_TEST

/* ---- hostile input: refused early, memory bounded ------------------------ */

TEST(test_alias_bomb)
{
	static const char bomb[] = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
				   "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
				   "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
				   "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
				   "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
				   "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
				   "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
	struct skiff_manifest m;
	ck_assert_int_eq(parse(&m, "bomb.yaml", bomb), 1);
	ck_assert(has_error(&m, "bomb.yaml:1:4: YAML anchors (&a) are not allowed in manifests"));
	ck_assert_uint_lt(m.peak_allocated, 4096);
	skiff_manifest_clear(&m);
	ck_assert_int_eq(parse(&m, "alias.yaml", "a: *x\n"), 1);
	ck_assert(has_error(&m, "alias.yaml:1:4: YAML aliases (*x) are not allowed in manifests"));
	skiff_manifest_clear(&m);
	ck_assert_int_eq(parse(&m, "tag.yaml", "a: !!python/object x\n"), 1);
	ck_assert(has_error(&m, "tag.yaml:1:4: YAML tags (tag:yaml.org,2002:python/object) are "
				"not allowed in manifests"));
	skiff_manifest_clear(&m);
}
END_TEST

TEST(test_deep_nesting)
{
	size_t depth = 10000;
	char *flow = xmalloc(2 * depth + 1), *block = xmalloc(2 * 1000 + 2);
	memset(flow, '[', depth);
	memset(flow + depth, ']', depth);
	flow[2 * depth] = 0;
	struct skiff_manifest m;
	ck_assert_int_eq(parse(&m, "deep.yaml", flow), 1);
	ck_assert(has_error(&m, "deep.yaml:1:65: nesting deeper than 64 levels"));
	ck_assert_uint_lt(m.peak_allocated, 16384);
	skiff_manifest_clear(&m);
	memset(flow, '{', depth);
	memset(flow + depth, '}', depth);
	ck_assert_int_eq(parse(&m, "deep.yaml", flow), 1);
	ck_assert_uint_lt(m.peak_allocated, 16384);
	skiff_manifest_clear(&m);
	/* block style: "- - - - … x" */
	size_t n = 0;
	for (size_t i = 0; i < 1000; i++) {
		block[n++] = '-';
		block[n++] = ' ';
	}
	block[n++] = 'x';
	block[n] = 0;
	ck_assert_int_eq(parse(&m, "deep.yaml", block), 1);
	ck_assert(has_error(&m, "deep.yaml:1:129: nesting deeper than 64 levels"));
	skiff_manifest_clear(&m);
	free(flow);
	free(block);
}
END_TEST

TEST(test_size_caps)
{
	/* one input larger than 4 MiB is refused before parsing */
	size_t len = SKIFF_DOC_MAX_BYTES + 1;
	char *big = xmalloc(len + 1);
	memset(big, '#', len);
	big[len] = 0;
	struct skiff_manifest m = { 0 };
	ck_assert_int_eq(skiff_manifest_parse_buffer(&m, "big.yaml", big, len), 1);
	ck_assert_str_eq(m.errors[0], "big.yaml: too large (4194305 bytes; at most 4194304)");
	ck_assert_uint_eq(m.peak_allocated, 0);
	skiff_manifest_clear(&m);
	free(big);

	/* a long flat list is capped by entries, not by memory */
	size_t items = 20000;
	char *list = xmalloc(items * 2 + 8);
	char *p = list;
	*p++ = '[';
	for (size_t i = 0; i < items; i++) {
		*p++ = '1';
		*p++ = ',';
	}
	p[-1] = ']';
	*p = 0;
	ck_assert_int_eq(parse(&m, "wide.yaml", list), 1);
	ck_assert(has_error(&m, "wide.yaml:1:20002: too many entries in one sequence (more than "
				"10000)"));
	ck_assert_uint_lt(m.peak_allocated, 4u << 20);
	skiff_manifest_clear(&m);
	free(list);

	/* one error per entry: the first 100 are shown, the rest counted */
	_cleanup_free_ char *many =
	    xstrdup("apiVersion: skiff/v1\nkind: Pod\nmetadata: {name: a}\n"
		    "spec: {containers: [{name: a, image: i, command: [/x]}]}\n"
		    "status: {}\n");
	for (int i = 0; i < 500; i++) {
		char *t = xasprintf("%sx%d: 1\n", many, i);
		free(many);
		many = t;
	}
	ck_assert_int_eq(parse(&m, "many.yaml", many), 500);
	ck_assert_uint_eq(m.n_errors, 101);
	ck_assert_str_eq(m.errors[100], "many.yaml: 400 more errors not shown");
	skiff_manifest_clear(&m);

	/* many documents */
	_cleanup_free_ char *docs = xmalloc(1100 * 6 + 1);
	docs[0] = 0;
	for (int i = 0; i < 1100; i++)
		strcat(docs, "--- 1\n");
	ck_assert_int_eq(parse(&m, "docs.yaml", docs), 1);
	ck_assert(has_error(&m, "docs.yaml:1001:1: too many documents (more than 1000)"));
	skiff_manifest_clear(&m);
}
END_TEST

/* ---- round trip: object -> yaml/json -> parse -> the same object --------- */

static void clear_cluster_fields(Skiff__Deployment *d)
{
	/* status and metadata the cluster sets are printed but not applied */
	if (d->status) {
		skiff__deployment_status__free_unpacked(d->status, NULL);
		d->status = NULL;
	}
	d->metadata->uid = (char *)protobuf_c_empty_string;
	d->metadata->revision = 0;
	d->metadata->created_ms = 0;
}

static void packed(const ProtobufCMessage *msg, uint8_t **ret, size_t *ret_len)
{
	*ret_len = protobuf_c_message_get_packed_size(msg);
	*ret = xmalloc(*ret_len + 1);
	protobuf_c_message_pack(msg, *ret);
}

static void round_trip(enum skiff_output fmt)
{
	struct skiff_manifest m, back;
	ck_assert_int_eq(parse(&m, "web.yaml", full_deployment), 0);
	Skiff__Deployment *d = m.objects[0].object->deployment;
	/* what the brain adds */
	_cleanup_free_ char *uid = xstrdup("0f3c");
	d->metadata->uid = uid;
	d->metadata->revision = 42;
	d->metadata->created_ms = 1700000000000;
	d->status = xmalloc(sizeof(*d->status));
	skiff__deployment_status__init(d->status);
	d->status->ready_replicas = 2;
	d->status->condition = xstrdup("Progressing");

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(
	    skiff_output_objects(f, m.objects[0].kind, &m.objects[0].object, 1, fmt, true, true, 0),
	    0);
	fclose(f);
	ck_assert_int_eq(parse(&back, "out", text), 0);
	ck_assert_uint_eq(back.n, 1);
	if (fmt == SKIFF_OUTPUT_YAML) {
		ck_assert_ptr_nonnull(strstr(text, "apiVersion: skiff/v1\nkind: Deployment\n"));
		ck_assert_ptr_nonnull(strstr(text, "      maxUnavailable: 0%\n"));
		ck_assert_ptr_nonnull(strstr(text, "            memory: 64Mi\n"));
		ck_assert_ptr_nonnull(strstr(text, "            memory: 1G\n")); /* as written */
		ck_assert_ptr_nonnull(strstr(text, "          periodSeconds: 500ms\n"));
		ck_assert_ptr_nonnull(strstr(text, "          value: \"8080\"\n"));
		ck_assert_ptr_nonnull(strstr(text, "status:\n  readyReplicas: 2\n"));
	} else {
		ck_assert_ptr_nonnull(strstr(text, "\"containerPort\": 8080"));
		ck_assert_ptr_nonnull(strstr(text, "\"matchLabels\": {"));
	}
	free(text);

	d->metadata->uid = (char *)protobuf_c_empty_string;
	clear_cluster_fields(d);
	_cleanup_free_ uint8_t *a = NULL, *b = NULL;
	size_t la, lb;
	packed((ProtobufCMessage *)d, &a, &la);
	packed((ProtobufCMessage *)back.objects[0].object->deployment, &b, &lb);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(a, b, la) == 0);
	skiff_manifest_clear(&m);
	skiff_manifest_clear(&back);
}

TEST(test_round_trip_yaml)
{
	round_trip(SKIFF_OUTPUT_YAML);
}
END_TEST

TEST(test_round_trip_json)
{
	round_trip(SKIFF_OUTPUT_JSON);
}
END_TEST

TEST(test_round_trip_zero_replicas_and_list)
{
	struct skiff_manifest m, back;
	ck_assert_int_eq(parse(&m, "d.yaml",
			       "apiVersion: skiff/v1\nkind: Deployment\nmetadata: {name: api}\n"
			       "spec:\n  replicas: 0\n  template:\n    spec:\n      containers:\n"
			       "      - {name: api, image: 'x:1', command: [/x]}\n"
			       "---\napiVersion: skiff/v1\nkind: Service\nmetadata: {name: api}\n"
			       "spec: {selector: {app: a}, ports: [{port: 80}]}\n"),
			 0);
	Skiff__Object *items[] = { m.objects[0].object, m.objects[1].object };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(
	    skiff_output_objects(f, m.objects[0].kind, items, 2, SKIFF_OUTPUT_YAML, false, true, 0),
	    0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "kind: List\n"));
	ck_assert_int_eq(parse(&back, "out", text), 0);
	ck_assert_uint_eq(back.n, 2);
	ck_assert_int_eq(back.objects[0].object->deployment->spec->replicas, 0);
	ck_assert_uint_eq(back.objects[1].object->service->spec->ports[0]->target_port, 80);
	free(text);
	skiff_manifest_clear(&m);
	skiff_manifest_clear(&back);
}
END_TEST

/* ---- Kubernetes manifests ------------------------------------------------ */

/* No entry of the Kubernetes list names a field Skiff has (it would never be
 * reached): walk every message the applicable kinds hold. */
static void no_k8s_entry_shadows(const ProtobufCMessageDescriptor *d, int depth)
{
	size_t n;
	const struct skiff_k8s_field *fields = skiff_k8s_fields(&n);
	char key[64];
	ck_assert_int_lt(depth, 12);
	for (unsigned i = 0; i < d->n_fields; i++) {
		skiff_camel_case(d->fields[i].name, key, sizeof(key));
		for (size_t j = 0; j < n; j++)
			ck_assert_msg(
			    !streq(fields[j].message, d->name) || !streq(fields[j].key, key),
			    "%s.%s is a field now: drop it from skiff_k8s_fields", d->name, key);
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			no_k8s_entry_shadows(d->fields[i].descriptor, depth + 1);
	}
}

/* The image store will say which images name an entrypoint; here nginx's do. */
static bool nginx_has_entrypoint(const char *image, void *userdata)
{
	(void)userdata;
	return skiff_startswith(image, "nginx");
}

static const struct skiff_validate_opts nginx_opts = { .image_has_entrypoint =
							   nginx_has_entrypoint };

TEST(test_kubernetes_io_manifests)
{
	/* written exactly as on kubernetes.io; they apply unchanged */
	struct skiff_manifest m = { .validate_opts = &nginx_opts };
	int errors = skiff_manifest_load_path(&m, "tests/fixtures/k8s");
	dump_errors(&m);
	ck_assert_int_eq(errors, 0);
	ck_assert_uint_eq(m.n_warnings, 0);
	ck_assert_uint_eq(m.n, 5);
	const Skiff__Deployment *d = m.objects[0].object->deployment;
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->metadata->name, "nginx-deployment");
	ck_assert_int_eq(d->spec->replicas, 3);
	ck_assert_str_eq(kv(d->spec->selector, d->spec->n_selector, "app"), "nginx");
	ck_assert_str_eq(d->spec->template_->spec->containers[0]->image, "nginx:1.14.2");
	ck_assert_uint_eq(d->spec->template_->spec->containers[0]->ports[0]->container_port, 80);
	const Skiff__Service *svc = m.objects[1].object->service;
	ck_assert_str_eq(svc->metadata->name, "my-nginx");
	ck_assert_uint_eq(svc->spec->ports[0]->target_port, 80); /* defaults to port */
	/* the named targetPort stays a name, resolved per pod by the brain */
	const Skiff__Service *named = m.objects[4].object->service;
	ck_assert_str_eq(named->spec->ports[0]->name, "name-of-service-port");
	ck_assert_str_eq(named->spec->ports[0]->target_port_name, "http-web-svc");
	ck_assert_uint_eq(named->spec->ports[0]->target_port, 0);
	skiff_manifest_clear(&m);

	/* without an image that names an entrypoint, the one error is the command */
	m = (struct skiff_manifest){ 0 };
	ck_assert_int_eq(skiff_manifest_load_path(&m, "tests/fixtures/k8s/nginx-deployment.yaml"),
			 1);
	ck_assert(has_error(&m, "tests/fixtures/k8s/nginx-deployment.yaml:18:9: "
				"spec.template.spec.containers[0].command: required field is "
				"missing (image 'nginx:1.14.2' names no entrypoint)"));
	skiff_manifest_clear(&m);
}
END_TEST

static const char k8s_pod_head[] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n";

TEST(test_kubernetes_fields_refused_and_ignored)
{
	static const struct {
		const char *body, *error;
	} refused[] = {
		{ "  affinity:\n    nodeAffinity: {}\n  containers: [{name: a, image: i, command: "
		  "[/x]}]\n",
		  "x.yaml:6:3: spec.affinity is not supported by Skiff (use nodeSelector)" },
		{ "  containers:\n  - name: a\n    image: i\n    command: [/x]\n    "
		  "securityContext: {privileged: true}\n",
		  "x.yaml:10:5: spec.containers[0].securityContext is not supported by Skiff" },
		{ "  containers:\n  - name: a\n    image: i\n    command: [/x]\n    ports:\n    - "
		  "{containerPort: 80, hostPort: 8080}\n",
		  "x.yaml:11:27: spec.containers[0].ports[0].hostPort is not supported by Skiff "
		  "(reach pods through a service's endpoints)" },
		{ "  dnsPolicy: Default\n  containers: [{name: a, image: i, command: [/x]}]\n",
		  "x.yaml:6:14: spec.dnsPolicy: \"Default\" is not supported by Skiff (only "
		  "\"ClusterFirst\", which is ignored)" },
		{ "  containers:\n  - name: a\n    image: i\n    command: [/x]\n    livenessProbe: "
		  "{grpc: {port: 2}}\n",
		  "x.yaml:10:21: spec.containers[0].livenessProbe.grpc is not supported by Skiff "
		  "(use exec, tcpSocket or httpGet)" },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct skiff_manifest m;
		_cleanup_free_ char *text = xasprintf("%s%s", k8s_pod_head, refused[i].body);
		parse(&m, "x.yaml", text);
		ck_assert_msg(has_error(&m, refused[i].error), "case %zu", i);
		ck_assert_uint_eq(m.n, 0);
		skiff_manifest_clear(&m);
	}

	/* the whole path, as the issue shows it */
	struct skiff_manifest m;
	parse(&m, "d.yaml",
	      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
	      "    spec:\n      affinity: {}\n      containers: [{name: a, image: i, command: "
	      "[/x]}]\n");
	ck_assert(has_error(&m, "d.yaml:7:7: spec.template.spec.affinity is not supported by "
				"Skiff (use nodeSelector)"));
	skiff_manifest_clear(&m);

	/* a Service of another type; a kind Kubernetes has and Skiff has not */
	parse(&m, "s.yaml",
	      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n"
	      "  selector: {app: a}\n  ports: [{port: 80, nodePort: 30080}]\n"
	      "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\n");
	ck_assert(has_error(&m, "s.yaml:5:9: spec.type: \"NodePort\" is not supported by Skiff "
				"(only ClusterIP services exist)"));
	ck_assert(has_error(&m, "s.yaml:7:22: spec.ports[0].nodePort is not supported by Skiff "
				"(only ClusterIP services exist)"));
	ck_assert(has_error(&m, "s.yaml:10:7: kind: Ingress is not supported by Skiff (expected "
				"Pod, Deployment, Service, Namespace, DaemonSet, Job or CronJob)"));
	skiff_manifest_clear(&m);

	/* accepted and ignored, each with a warning; null is not set at all */
	ck_assert_int_eq(
	    parse(&m, "w.yaml",
		  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  creationTimestamp: null\n"
		  "spec:\n  imagePullSecrets: [{name: regcred}]\n  dnsPolicy: ClusterFirst\n"
		  "  containers:\n  - name: a\n    image: i\n    command: [/x]\n"
		  "    imagePullPolicy: IfNotPresent\n"
		  "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n"
		  "  type: ClusterIP\n  selector: {app: a}\n  ports: [{port: 80}]\n"),
	    0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_uint_eq(m.n_warnings, 3);
	ck_assert_str_eq(m.warnings[0], "w.yaml:7:3: spec.imagePullSecrets is ignored by Skiff "
					"(images are local to each node)");
	ck_assert(skiff_startswith(m.warnings[2], "w.yaml:19:3: spec.type is ignored by Skiff"));
	/* imagePullPolicy is a field of Skiff's own */
	Skiff__Pod *wp = m.objects[0].object->pod;
	ck_assert_str_eq(wp->spec->containers[0]->image_pull_policy, "IfNotPresent");
	skiff_manifest_clear(&m);

	/* a typo is still an unknown field with a suggestion */
	parse(&m, "t.yaml",
	      "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  affinty: {}\n"
	      "  containers: [{name: a, image: i, command: [/x]}]\n");
	ck_assert(has_error(&m, "t.yaml:5:3: spec.affinty: unknown field \"affinty\""));
	skiff_manifest_clear(&m);

	size_t nk;
	const struct skiff_kind *kinds = skiff_kind_all(&nk);
	for (size_t i = 0; i < nk; i++)
		no_k8s_entry_shadows(kinds[i].desc, 0);

	/* docs/manifests.md lists every one of them, as refused or ignored */
	_cleanup_free_ char *doc = NULL;
	size_t doc_len, n;
	ck_assert_int_eq(skiff_read_file("docs/manifests.md", 1 << 20, &doc, &doc_len), 0);
	const struct skiff_k8s_field *fields = skiff_k8s_fields(&n);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && streq(fields[i].key, fields[i - 1].key) &&
		    streq(fields[i].message, fields[i - 1].message))
			continue; /* the refusal of the other values: one row */
		_cleanup_free_ char *row = xasprintf("| `%s` | %s", fields[i].key,
						     fields[i].ignored ? "ignored" : "**refused**");
		ck_assert_msg(strstr(doc, row), "docs/manifests.md has no row \"%s\"", row);
	}
}
END_TEST

TEST(test_named_ports)
{
	struct skiff_manifest m, back;
	const char *pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
			  "  - name: web\n    image: i\n    command: [/x]\n"
			  "    ports:\n    - {name: http, containerPort: 8080}\n"
			  "    - {name: admin, containerPort: 9090}\n"
			  "    livenessProbe: {tcpSocket: {port: admin}}\n"
			  "    readinessProbe: {httpGet: {path: /ready, port: http}}\n";
	ck_assert_int_eq(parse(&m, "p.yaml", pod), 0);
	const Skiff__Container *c = m.objects[0].object->pod->spec->containers[0];
	/* resolved for the agent, the name kept for the user */
	ck_assert_uint_eq(c->liveness_probe->tcp_socket->port, 9090);
	ck_assert_str_eq(c->liveness_probe->tcp_socket->port_name, "admin");
	ck_assert_uint_eq(c->readiness_probe->http_get->port, 8080);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(skiff_output_objects(f, m.objects[0].kind, &m.objects[0].object, 1,
					      SKIFF_OUTPUT_YAML, true, true, 0),
			 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "port: admin\n"));
	ck_assert_ptr_null(strstr(text, "portName"));
	ck_assert_int_eq(parse(&back, "out", text), 0);
	ck_assert_uint_eq(
	    back.objects[0].object->pod->spec->containers[0]->liveness_probe->tcp_socket->port,
	    9090);
	free(text);
	skiff_manifest_clear(&back);
	skiff_manifest_clear(&m);

	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
		  "  - name: web\n    image: i\n    command: [/x]\n"
		  "    livenessProbe: {httpGet: {port: http}}\n",
		  "x.yaml:9:37: spec.containers[0].livenessProbe.httpGet.port: no port named 'http' "
		  "in this container's ports" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
		  "  - name: web\n    image: i\n    command: [/x]\n"
		  "    ports: [{name: HTTP, containerPort: 80}]\n",
		  "x.yaml:9:20: spec.containers[0].ports[0].name: 'HTTP' is not a valid port name "
		  "(1-15 lower-case letters, digits and '-', with at least one letter)" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
		  "  - {name: a, image: i, command: [/x], ports: [{name: web, containerPort: 80}]}\n"
		  "  - {name: b, image: i, command: [/x], ports: [{name: web, containerPort: 81}]}\n",
		  "x.yaml:7:55: spec.containers[1].ports[0].name: port name 'web' is used twice in "
		  "the pod" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: a}\n"
		  "  ports: [{port: 80, targetPort: 'web_1'}]\n",
		  "x.yaml:6:34: spec.ports[0].targetPort: 'web_1' is not a valid port name (1-15 "
		  "lower-case letters, digits and '-', with at least one letter)" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: a}\n"
		  "  ports: [{port: 80, targetPort: -1}]\n",
		  "x.yaml:6:34: spec.ports[0].targetPort: expected a port (1-65535) or a port's name, "
		  "got \"-1\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(&m, "x.yaml", bad[i].text);
		ck_assert_msg(has_error(&m, bad[i].error), "case %zu", i);
		skiff_manifest_clear(&m);
	}
}
END_TEST

TEST(test_helpers)
{
	ck_assert(skiff_name_valid("web-1", 63));
	ck_assert(skiff_name_valid("a", 63));
	ck_assert(!skiff_name_valid("-web", 63));
	ck_assert(!skiff_name_valid("web-", 63));
	ck_assert(!skiff_name_valid("Web", 63));
	ck_assert(!skiff_name_valid("", 63));
	ck_assert(!skiff_name_valid(
	    "a234567890123456789012345678901234567890123456789012345678901234", 63));
	ck_assert_uint_eq(skiff_edit_distance("imagee", "image"), 1);
	ck_assert_uint_eq(skiff_edit_distance("replcas", "replicas"), 1);
	ck_assert_uint_eq(skiff_edit_distance("", "abc"), 3);
	ck_assert_ptr_eq(skiff_kind_lookup("po"), skiff_kind_lookup("pods"));
	ck_assert_str_eq(skiff_kind_lookup("deploy")->name, "deployment");
	ck_assert_str_eq(skiff_kind_lookup("svc")->name, "service");
	ck_assert_str_eq(skiff_kind_lookup("no")->name, "node");
	ck_assert_str_eq(skiff_kind_lookup("ev")->name, "event");
	ck_assert_str_eq(skiff_kind_lookup("Deployment")->name, "deployment");
	ck_assert_ptr_null(skiff_kind_lookup("pdo"));
}
END_TEST

TEST_SUITE(.timeout = 30);
