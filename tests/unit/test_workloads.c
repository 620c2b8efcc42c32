/* test_workloads.c — the DaemonSet, Job and CronJob controllers on the
 * brain's fake clock: a daemon set follows nodes joining and leaving and
 * rolls out a new template within maxUnavailable; a job runs its
 * completions `parallelism` at a time, keeps its Succeeded pods, retries
 * failures with backoff and fails past backoffLimit or its deadline; a cron
 * job runs on its schedule, once for a run missed while the brain was down,
 * under each concurrencyPolicy; their manifests' validation messages; and
 * deployments keeping Succeeded pods. */
#include "brain_helpers.h"
#include "manifest.h"

#define Mi (1024LL * 1024)
#define Gi (1024LL * Mi)

/* Parse one manifest document and apply it; returns brain_apply()'s result
 * (*ret_err: the message, or the manifest's first error). */
static int apply_yaml(struct brain *b, const char *yaml, char **ret_err)
{
	struct skiff_manifest m = { 0 };
	m.no_validate = true;
	if (skiff_manifest_parse_buffer(&m, "t.yaml", yaml, strlen(yaml)) > 0) {
		*ret_err = xstrdup(m.errors[0]);
		skiff_manifest_clear(&m);
		return -EINVAL;
	}
	ck_assert_uint_eq(m.n, 1);
	const struct skiff_kind *k;
	ProtobufCMessage *msg = skiff_object_member(m.objects[0].object, &k);
	const char *result;
	int r =
	    brain_apply(b, skiff_kind_parse(k->name), msg, false, false, &result, NULL, ret_err);
	skiff_manifest_clear(&m);
	return r;
}

static void apply_ok(struct brain *b, const char *yaml)
{
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(apply_yaml(b, yaml, &err) == 0, "apply: %s", err ? err : "");
}

static const char *apply_error(struct brain *b, const char *yaml)
{
	static char out[512];
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(apply_yaml(b, yaml, &err), -EINVAL);
	snprintf(out, sizeof(out), "%s", err);
	return out;
}

/* Report pod's phase (Succeeded, Failed, Running) as its agent would. */
static void report_phase(struct brain *b, const char *pod, const char *phase, int exit_code,
			 int restarts)
{
	const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, pod);
	ck_assert_ptr_nonnull(p);
	const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, p->spec->node_name);
	ck_assert_ptr_nonnull(n);
	Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
	Skiff__PodStatus st = SKIFF__POD_STATUS__INIT;
	Skiff__ContainerStatus cs = SKIFF__CONTAINER_STATUS__INIT, *csp = &cs;
	cs.name = (char *)"main";
	cs.state = (char *)(streq(phase, "Running") ? "Running" : "Terminated");
	cs.exit_code = exit_code;
	cs.restart_count = restarts;
	st.phase = (char *)phase;
	st.container_statuses = &csp;
	st.n_container_statuses = 1;
	rep.node = p->spec->node_name;
	rep.epoch = n->status->epoch;
	char ns[64];
	rep.pod = (char *)skiff_key_split(pod, ns);
	rep.namespace_ = ns;
	rep.uid = p->metadata->uid;
	rep.status = &st;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(brain_pod_status(b, &rep, &err) == 0, "status: %s", err ? err : "");
}

/* The live (not terminating) pods of owner (owner_kind), and how many are
 * in phase (NULL: any). */
static size_t count_pods(struct brain *b, const char *owner_kind, const char *owner,
			 const char *phase, char **ret_first)
{
	size_t n, c = 0;
	char **names = brain_pod_names(b, owner_kind, owner, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const struct brain_pod *p = brain_pod_get(b, names[i]);
		if (!p->terminating && (!phase || streq(p->phase, phase))) {
			if (ret_first && c == 0)
				*ret_first = xstrdup(names[i]);
			c++;
		}
		free(names[i]);
	}
	free(names);
	return c;
}

static bool has_condition(const Skiff__Job *j, const char *type, const char *reason)
{
	for (size_t i = 0; j->status && i < j->status->n_conditions; i++)
		if (streq(j->status->conditions[i]->type, type))
			return !reason || streq(j->status->conditions[i]->reason, reason);
	return false;
}

/* Let ms pass, the nodes heartbeating every second, the controllers
 * running. */
static void advance(struct brain *b, int64_t ms)
{
	for (; ms > 0; ms -= 1000) {
		fake_now += ms < 1000 ? ms : 1000;
		heartbeat_all_but(b, NULL);
		brain_reconcile(b);
	}
}

#define JOB_YAML(extra, policy)                                                                    \
	"apiVersion: batch/v1\nkind: Job\nmetadata: {name: pi}\nspec:\n" extra                     \
	"  template:\n    spec:\n      containers:\n      - name: main\n"                          \
	"        image: skiff-demo:1\n        command: [/bin/true]\n"                              \
	"      restartPolicy: " policy "\n"

TEST(test_job_completions_parallelism)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_ok(b, JOB_YAML("  completions: 3\n  parallelism: 2\n", "Never"));
	brain_reconcile(b);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, NULL), 2);
	/* labelled with the job's name */
	size_t n;
	char **names = brain_pod_names(b, "Job", "default/pi", NULL, &n);
	const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, names[0]);
	ck_assert_str_eq(skiff_kv_get(p->metadata->labels, p->metadata->n_labels, "job-name"),
			 "pi");
	ck_assert_str_eq(p->spec->node_name, "vm1");
	/* one succeeds: it stays and a third pod starts (3 - 1 left, 2 at once) */
	report_phase(b, names[0], "Succeeded", 0, 0);
	brain_reconcile(b);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Succeeded", NULL), 1);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, NULL), 3);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	/* the other two succeed: Complete, nothing new, the pods kept */
	names = brain_pod_names(b, "Job", "default/pi", NULL, &n);
	for (size_t i = 0; i < n; i++) {
		if (!streq(brain_pod_get(b, names[i])->phase, "Succeeded"))
			report_phase(b, names[i], "Succeeded", 0, 0);
		free(names[i]);
	}
	free(names);
	advance(b, 5000);
	const Skiff__Job *j = brain_get(b, SKIFF_KIND_JOB, "pi");
	ck_assert(has_condition(j, "Complete", NULL));
	ck_assert_int_eq(j->status->succeeded, 3);
	ck_assert_int_eq(j->status->active, 0);
	ck_assert_int_eq(j->status->completion_ms - j->status->start_ms, 1000);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Succeeded", NULL), 3);
	/* idempotent; a deployment controller pass leaves the job's pods alone */
	uint64_t rev = skiff_store_revision(b->store);
	b->resync = true;
	brain_reconcile(b);
	ck_assert_uint_eq(skiff_store_revision(b->store), rev);
	/* deleting the job deletes its pods */
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_JOB, "pi", NULL, &err), 0);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, NULL), 0);
	brain_free(b);
}
END_TEST

TEST(test_job_backoff_limit)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_ok(b, JOB_YAML("  backoffLimit: 2\n", "Never"));
	brain_reconcile(b);
	/* failure 1: the pod stays Failed; the next waits 10 s */
	char *pod = NULL;
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Pending", &pod), 1);
	report_phase(b, pod, "Failed", 1, 0);
	free(pod);
	brain_reconcile(b);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, NULL), 1);
	advance(b, 9000);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Pending", NULL), 0);
	advance(b, 1000); /* the timer: no store change needed */
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Pending", &pod), 1);
	/* failure 2: 20 s */
	report_phase(b, pod, "Failed", 1, 0);
	free(pod);
	brain_reconcile(b);
	advance(b, 19000);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Pending", NULL), 0);
	advance(b, 1000);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Pending", &pod), 1);
	/* failure 3 > backoffLimit 2: Failed */
	report_phase(b, pod, "Failed", 1, 0);
	free(pod);
	brain_reconcile(b);
	const Skiff__Job *j = brain_get(b, SKIFF_KIND_JOB, "pi");
	ck_assert(has_condition(j, "Failed", "BackoffLimitExceeded"));
	ck_assert_int_eq(j->status->failed, 3);
	advance(b, 400000);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Pending", NULL), 0);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", "Failed", NULL), 3);
	brain_free(b);
}
END_TEST

TEST(test_job_onfailure_restarts_count)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_ok(b, JOB_YAML("  backoffLimit: 1\n", "OnFailure"));
	brain_reconcile(b);
	char *pod = NULL;
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, &pod), 1);
	/* the node restarts the container: one failure, same pod */
	report_phase(b, pod, "Running", 0, 1);
	brain_reconcile(b);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, NULL), 1);
	ck_assert(!has_condition(brain_get(b, SKIFF_KIND_JOB, "pi"), "Failed", NULL));
	report_phase(b, pod, "Running", 0, 2);
	brain_reconcile(b);
	ck_assert(
	    has_condition(brain_get(b, SKIFF_KIND_JOB, "pi"), "Failed", "BackoffLimitExceeded"));
	/* its active pod is deleted */
	ck_assert(brain_pod_get(b, pod)->terminating);
	free(pod);
	brain_free(b);
}
END_TEST

TEST(test_job_deadline_and_ttl)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_ok(b,
		 JOB_YAML("  activeDeadlineSeconds: 30\n  ttlSecondsAfterFinished: 60\n", "Never"));
	brain_reconcile(b);
	advance(b, 29000);
	ck_assert(!has_condition(brain_get(b, SKIFF_KIND_JOB, "pi"), "Failed", NULL));
	advance(b, 1000);
	ck_assert(has_condition(brain_get(b, SKIFF_KIND_JOB, "pi"), "Failed", "DeadlineExceeded"));
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, NULL), 0);
	/* 60 s later the job is deleted */
	advance(b, 59000);
	ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_JOB, "pi"));
	advance(b, 1000);
	ck_assert_ptr_null(brain_get(b, SKIFF_KIND_JOB, "pi"));
	brain_free(b);
}
END_TEST

#define DS_YAML(image, extra)                                                                      \
	"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n"                   \
	"  selector: {matchLabels: {app: agent}}\n" extra "  template:\n"                          \
	"    metadata: {labels: {app: agent}}\n    spec:\n"                                        \
	"      tolerations: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]\n"  \
	"      containers:\n      - name: main\n        image: " image "\n"                        \
	"        command: [/bin/sleep, '3600']\n"

TEST(test_daemonset_follows_nodes)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	apply_ok(b, DS_YAML("skiff-demo:1", ""));
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_uint_eq(count_on(l, "vm1"), 1);
	ck_assert_uint_eq(count_on(l, "vm2"), 1);
	ck_assert_msg(strncmp(l->names[0], "default/agent-", 14) == 0 && strlen(l->names[0]) == 19,
		      "%s", l->names[0]);
	free_pods(l);
	/* a node joins: its pod is bound there at once */
	add_node(b, "vm3", 8000, 8 * Gi);
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(l->n, 3);
	ck_assert_uint_eq(count_on(l, "vm3"), 1);
	free_pods(l);
	report_all_running(b);
	brain_reconcile(b);
	const Skiff__DaemonSet *ds = brain_get(b, SKIFF_KIND_DAEMONSET, "agent");
	ck_assert_int_eq(ds->status->desired_number_scheduled, 3);
	ck_assert_int_eq(ds->status->current_number_scheduled, 3);
	ck_assert_int_eq(ds->status->number_ready, 3);
	ck_assert_int_eq(ds->status->updated_number_scheduled, 3);
	/* a node leaves (lost: no heartbeat past the grace): its pod goes and
	 * is not re-made while it is NotReady */
	for (int i = 0; i < 5; i++) {
		fake_now += 1000;
		heartbeat_all_but(b, "vm2");
		brain_reconcile(b);
	}
	ck_assert_uint_eq(count_pods(b, "DaemonSet", "default/agent", NULL, NULL), 2);
	l = list_pods(b);
	ck_assert_uint_eq(count_on(l, "vm2") - count_terminating(l), 0);
	free_pods(l);
	ds = brain_get(b, SKIFF_KIND_DAEMONSET, "agent");
	ck_assert_int_eq(ds->status->desired_number_scheduled, 2);
	brain_free(b);
}
END_TEST

TEST(test_daemonset_node_selector)
{
	struct brain *b = open_brain();
	add_node_labels(b, "vm1", 8000, 8 * Gi, "disk", "ssd");
	add_node(b, "vm2", 8000, 8 * Gi);
	apply_ok(b,
		 "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n"
		 "  template:\n    spec:\n      nodeSelector: {disk: ssd}\n"
		 "      containers: [{name: main, image: skiff-demo:1, command: [/bin/true]}]\n");
	brain_reconcile(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_uint_eq(count_on(l, "vm1"), 1);
	free_pods(l);
	brain_free(b);
}
END_TEST

TEST(test_daemonset_rolling_update)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	add_node(b, "vm3", 8000, 8 * Gi);
	apply_ok(b, DS_YAML("skiff-demo:1", ""));
	brain_reconcile(b);
	report_all_running(b);
	brain_reconcile(b);
	apply_ok(b, DS_YAML("skiff-demo:2", ""));
	brain_reconcile(b);
	/* maxUnavailable 1: one old pod at a time */
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(count_terminating(l), 1);
	free_pods(l);
	for (int round = 0; round < 3; round++) {
		ck_assert_uint_eq(report_all_stopped(b), 1);
		brain_reconcile(b); /* the node gets its new pod */
		l = list_pods(b);
		ck_assert_uint_eq(l->n - count_terminating(l), 3);
		free_pods(l);
		report_all_running(b);
		brain_reconcile(b);
	}
	l = list_pods(b);
	ck_assert_uint_eq(count_terminating(l), 0);
	free_pods(l);
	const Skiff__DaemonSet *ds = brain_get(b, SKIFF_KIND_DAEMONSET, "agent");
	ck_assert_int_eq(ds->status->updated_number_scheduled, 3);
	ck_assert_int_eq(ds->status->number_ready, 3);
	/* OnDelete: a new template changes nothing until a pod is deleted */
	apply_ok(b, DS_YAML("skiff-demo:3", "  updateStrategy: {type: OnDelete}\n"));
	brain_reconcile(b);
	l = list_pods(b);
	ck_assert_uint_eq(count_terminating(l), 0);
	free_pods(l);
	ds = brain_get(b, SKIFF_KIND_DAEMONSET, "agent");
	ck_assert_int_eq(ds->status->updated_number_scheduled, 0);
	brain_free(b);
}
END_TEST

#define CJ_YAML(schedule, extra)                                                                   \
	"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: tick}\nspec:\n"                     \
	"  schedule: '" schedule "'\n" extra "  jobTemplate:\n    spec:\n      template:\n"        \
	"        spec:\n          containers: [{name: main, image: skiff-demo:1, command: "        \
	"[/bin/true]}]\n          restartPolicy: OnFailure\n"

static size_t count_jobs(struct brain *b, const char *owner, size_t *ret_active)
{
	struct brain_names all = brain_names(b, SKIFF_KIND_JOB);
	size_t c = 0, active = 0;
	for (size_t i = 0; i < all.n; i++) {
		const Skiff__Job *j = brain_get(b, SKIFF_KIND_JOB, all.v[i]);
		if (streq(j->owner, owner)) {
			c++;
			active += !brain_job_finished(j, NULL);
		}
		free(all.v[i]);
	}
	free(all.v);
	if (ret_active)
		*ret_active = active;
	return c;
}

/* Finish every active job of the cron job (its pods Succeeded). */
static void finish_jobs(struct brain *b)
{
	size_t n;
	char **pods = brain_pod_names(b, "Job", NULL, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		const struct brain_pod *p = brain_pod_get(b, pods[i]);
		if (!p->terminating && *p->node && !streq(p->phase, "Succeeded"))
			report_phase(b, pods[i], "Succeeded", 0, 0);
		free(pods[i]);
	}
	free(pods);
	brain_reconcile(b);
}

/* the fake wall clock: 1700000000000 + fake_now ms */
static void to_minute_boundary(void)
{
	int64_t wall = 1700000000000 + fake_now;
	fake_now += 60000 - wall % 60000;
}

TEST(test_cronjob_schedule_and_history)
{
	struct brain *b = open_brain();
	to_minute_boundary();
	add_node(b, "vm1", 8000, 8 * Gi);
	fake_now += 1000;
	apply_ok(b, CJ_YAML("*/2 * * * *", "  successfulJobsHistoryLimit: 2\n"));
	brain_reconcile(b);
	ck_assert_uint_eq(count_jobs(b, "tick", NULL), 0);
	/* runs at every even minute, named after it */
	int64_t wall = 1700000000000 + fake_now;
	int64_t next_even = (wall / 120000 + 1) * 120000;
	advance(b, next_even - wall - 1000);
	ck_assert_uint_eq(count_jobs(b, "tick", NULL), 0);
	advance(b, 1000);
	ck_assert_uint_eq(count_jobs(b, "tick", NULL), 1);
	char name[64];
	snprintf(name, sizeof(name), "tick-%lld", (long long)(next_even / 60000));
	const Skiff__Job *j = brain_get(b, SKIFF_KIND_JOB, name);
	ck_assert_ptr_nonnull(j);
	_cleanup_free_ char *key = brain_key(SKIFF_KIND_JOB, NULL, name);
	ck_assert_uint_eq(count_pods(b, "Job", key, NULL, NULL), 1);
	const Skiff__CronJob *cj = brain_get(b, SKIFF_KIND_CRONJOB, "tick");
	ck_assert_int_eq(cj->status->last_schedule_ms, next_even);
	ck_assert_uint_eq(cj->status->n_active, 1);
	/* four more runs, each finishing: two successful ones are kept */
	for (int i = 0; i < 4; i++) {
		finish_jobs(b);
		advance(b, 120000);
	}
	finish_jobs(b);
	size_t active;
	ck_assert_uint_eq(count_jobs(b, "tick", &active), 2);
	ck_assert_uint_eq(active, 0);
	/* deleting the cron job deletes its jobs */
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(brain_remove(b, SKIFF_KIND_CRONJOB, "tick", NULL, &err), 0);
	ck_assert_uint_eq(count_jobs(b, "tick", NULL), 0);
	brain_free(b);
}
END_TEST

TEST(test_cronjob_missed_run)
{
	struct brain *b = open_brain();
	to_minute_boundary();
	add_node(b, "vm1", 8000, 8 * Gi);
	fake_now += 1000;
	apply_ok(b, CJ_YAML("0 * * * *", "  startingDeadlineSeconds: 600\n"));
	brain_reconcile(b);
	/* the brain is down over three hourly runs: the last one starts once,
	 * 5 minutes late (within the deadline) */
	int64_t wall = 1700000000000 + fake_now;
	int64_t hour = (wall / 3600000 + 3) * 3600000;
	fake_now += hour - wall + 300000;
	add_node(b, "vm1", 8000, 8 * Gi); /* (the agent re-registers) */
	brain_reconcile(b);
	ck_assert_uint_eq(count_jobs(b, "tick", NULL), 1);
	char name[64];
	snprintf(name, sizeof(name), "tick-%lld", (long long)(hour / 60000));
	ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_JOB, name));
	b->resync = true;
	brain_reconcile(b);
	ck_assert_uint_eq(count_jobs(b, "tick", NULL), 1);
	/* past the deadline: the missed run is skipped */
	finish_jobs(b);
	fake_now += 3600000 + 700000 - 300000;
	add_node(b, "vm1", 8000, 8 * Gi);
	brain_reconcile(b);
	ck_assert_uint_eq(count_jobs(b, "tick", NULL), 1);
	brain_free(b);
}
END_TEST

TEST(test_cronjob_concurrency_policies)
{
	const char *policies[] = { "Allow", "Forbid", "Replace" };
	for (int p = 0; p < 3; p++) {
		brain_test_teardown(); /* a fresh brain dir per policy */
		brain_test_setup();
		struct brain *b = open_brain();
		to_minute_boundary();
		add_node(b, "vm1", 8000, 8 * Gi);
		char yaml[1024], extra[64];
		snprintf(extra, sizeof(extra), "  concurrencyPolicy: %s\n", policies[p]);
		snprintf(yaml, sizeof(yaml), CJ_YAML("* * * * *", "%s"), extra);
		apply_ok(b, yaml);
		advance(b, 60000);
		ck_assert_uint_eq(count_jobs(b, "tick", NULL), 1);
		/* the next minute, the first job still running */
		advance(b, 60000);
		size_t active, total = count_jobs(b, "tick", &active);
		if (p == 0) { /* Allow: side by side */
			ck_assert_uint_eq(total, 2);
			ck_assert_uint_eq(active, 2);
		} else if (p == 1) { /* Forbid: skipped, starts once the first finished */
			ck_assert_uint_eq(total, 1);
			finish_jobs(b);
			ck_assert_uint_eq(count_jobs(b, "tick", &active), 2);
			ck_assert_uint_eq(active, 1);
		} else { /* Replace: the first is deleted */
			ck_assert_uint_eq(total, 1);
			ck_assert_uint_eq(active, 1);
			int64_t wall = 1700000000000 + fake_now;
			char name[64];
			snprintf(name, sizeof(name), "tick-%lld", (long long)(wall / 60000));
			ck_assert_ptr_nonnull(brain_get(b, SKIFF_KIND_JOB, name));
		}
		brain_free(b);
		brain_test_teardown();
	}
}
END_TEST

TEST(test_deployment_keeps_succeeded_pods)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	apply_deployment(b, make_deployment("web", 2, "img:1", 100, 64 * Mi), "created");
	brain_reconcile(b);
	report_all_running(b);
	struct pod_list *l = list_pods(b);
	ck_assert_uint_eq(l->n, 2);
	/* (a deployment stored before apply refused other restart policies) */
	report_phase(b, l->names[0], "Succeeded", 0, 0);
	report_phase(b, l->names[1], "Failed", 1, 0);
	free_pods(l);
	brain_reconcile(b);
	l = list_pods(b);
	/* the Succeeded pod is kept and still a replica; the Failed one (its
	 * agent stopped it) is replaced */
	ck_assert_uint_eq(l->n, 2);
	ck_assert_uint_eq(count_terminating(l), 0);
	free_pods(l);
	ck_assert_uint_eq(count_pods(b, "", "default/web", "Succeeded", NULL), 1);
	brain_free(b);
}
END_TEST

TEST(test_validation)
{
	struct brain *b = open_brain();
	ck_assert_str_eq(apply_error(b, JOB_YAML("", "Always")),
			 "spec.template.spec.restartPolicy: must be OnFailure or Never for a Job, "
			 "got 'Always'");
	ck_assert_str_eq(apply_error(b, JOB_YAML("  backoffLimit: -1\n", "Never")),
			 "t.yaml:5:17: spec.backoffLimit: expected a non-negative integer, got "
			 "\"-1\"");
	ck_assert_str_eq(apply_error(b, JOB_YAML("  completions: 200000\n", "Never")),
			 "spec.completions: must be 0-100000, got 200000");
	ck_assert_str_eq(apply_error(b, JOB_YAML("  ttlSecondsAfterFinished: soon\n", "Never")),
			 "spec.ttlSecondsAfterFinished: must be a number of seconds >= 0, got "
			 "'soon'");
	ck_assert_str_eq(apply_error(b, CJ_YAML("61 * * * *", "")),
			 "spec.schedule: minute: 61 is out of range 0-59");
	ck_assert_str_eq(apply_error(b, CJ_YAML("* * * * *", "  concurrencyPolicy: Sometimes\n")),
			 "spec.concurrencyPolicy: must be one of Allow,Forbid,Replace, got "
			 "'Sometimes'");
	ck_assert_str_eq(apply_error(b, CJ_YAML("* * * * *", "  timeZone: Europe/Paris\n")),
			 "spec.timeZone: only UTC is supported, got 'Europe/Paris'");
	ck_assert_str_eq(
	    apply_error(b, DS_YAML("skiff-demo:1", "  updateStrategy: {type: Sometimes}\n")),
	    "spec.updateStrategy.type: must be one of RollingUpdate,OnDelete, got 'Sometimes'");
	ck_assert_str_eq(
	    apply_error(b, DS_YAML("skiff-demo:1", "  updateStrategy: {rollingUpdate: "
						   "{maxSurge: 1}}\n")),
	    "spec.updateStrategy.rollingUpdate.maxSurge: only 0 is supported (a node's old pod "
	    "stops before its new one starts), got '1'");
	ck_assert_str_eq(
	    apply_error(b, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
			   "  template:\n    spec:\n      restartPolicy: Never\n"
			   "      containers: [{name: main, image: i, command: [/x]}]\n"),
	    "spec.template.spec.restartPolicy: must be Always for a Deployment, got 'Never'");
	ck_assert_str_eq(
	    apply_error(b, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n"
			   "  template:\n    spec:\n"
			   "      containers: [{name: main, image: i, command: [/x]}]\n"),
	    "spec.template.spec.restartPolicy: required for a Job (OnFailure or Never)");
	brain_free(b);
}
END_TEST

/* examples/k8s: the Job and DaemonSet of kubernetes.io apply unchanged */
TEST(test_kubernetes_examples)
{
	struct brain *b = open_brain();
	add_node(b, "vm1", 8000, 8 * Gi);
	add_node(b, "vm2", 8000, 8 * Gi);
	const char *files[] = { "examples/k8s/job.yaml", "examples/k8s/daemonset.yaml" };
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *text = NULL;
		size_t len;
		ck_assert_int_eq(skiff_read_file(files[i], 1 << 20, &text, &len), 0);
		apply_ok(b, text);
	}
	brain_reconcile(b);
	ck_assert_uint_eq(count_pods(b, "Job", "default/pi", NULL, NULL), 1);
	ck_assert_uint_eq(count_pods(b, "DaemonSet", "default/fluentd-elasticsearch", NULL, NULL),
			  2);
	brain_free(b);
}
END_TEST

TEST_SUITE(.setup = brain_test_setup, .teardown = brain_test_teardown);
