/* job.c — the job controller (level-triggered, as Kubernetes' job
 * controller): a Job runs pods of its template until `completions` of them
 * succeeded, at most `parallelism` at a time. Its pods are named
 * NAME-<5 characters>, labelled job-name=NAME, owner_kind "Job".
 *
 * Jobs are namespaced; their pods are in their namespace. Succeeded pods are kept and never replaced. A failure is a Failed pod
 * (restartPolicy Never; the pod stays, a new one replaces it) or a container
 * restart (OnFailure: the node restarts the container in the same pod).
 * More failures than backoffLimit fail the job (reason
 * BackoffLimitExceeded), as does running longer than activeDeadlineSeconds
 * (DeadlineExceeded); its active pods are then deleted. A new pod after a
 * failure waits 10 s, doubling per failure up to 6 min (status.next_retry_ms).
 * A finished job with ttlSecondsAfterFinished is deleted (with its pods)
 * that long after it finished. suspend deletes the active pods and starts
 * none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#define JOB_BACKOFF_BASE_MS 10000
#define JOB_BACKOFF_MAX_MS  (6 * 60 * 1000)

static int64_t backoff_ms(int failures)
{
	int64_t d = JOB_BACKOFF_BASE_MS;
	for (int i = 1; i < failures && d < JOB_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < JOB_BACKOFF_MAX_MS ? d : JOB_BACKOFF_MAX_MS;
}

static const Skiff__JobCondition *find_condition(const Skiff__JobStatus *st, const char *type)
{
	for (size_t i = 0; st && i < st->n_conditions; i++)
		if (streq(st->conditions[i]->type, type))
			return st->conditions[i];
	return NULL;
}

static void add_condition(Skiff__JobStatus *st, const char *type, const char *reason,
			  const char *msg, int64_t now)
{
	Skiff__JobCondition *c = xmalloc(sizeof(*c));
	skiff__job_condition__init(c);
	skiff_set_str(&c->type, type);
	skiff_set_str(&c->status, "True");
	skiff_set_str(&c->reason, reason);
	skiff_set_str(&c->message, msg);
	c->last_transition_ms = now;
	st->conditions = xrealloc(st->conditions, (st->n_conditions + 1) * sizeof(*st->conditions));
	st->conditions[st->n_conditions++] = c;
}

bool brain_job_finished(const Skiff__Job *j, bool *ret_failed)
{
	bool failed = find_condition(j->status, "Failed") != NULL;
	if (ret_failed)
		*ret_failed = failed;
	return failed || find_condition(j->status, "Complete") != NULL;
}

/* Delete a job and its pods (DELETE, a TTL, a cron job's history). */
int brain_job_remove(struct brain *b, const char *name)
{
	size_t n;
	char **pods = brain_pod_names(b, "Job", name, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		(void)brain_pod_terminate(b, pods[i]);
		free(pods[i]);
	}
	free(pods);
	return brain_delete(b, SKIFF_KIND_JOB, name);
}

/* name: the job's key */
static int reconcile_one(struct brain *b, const char *name)
{
	Skiff__Job *j = brain_copy(b, SKIFF_KIND_JOB, name);
	if (!j || !j->spec || !j->spec->template_) {
		skiff_obj_free(j ? &j->base : NULL);
		return 0;
	}
	const char *bare = j->metadata->name, *ns = brain_obj_namespace(&j->base);
	int64_t now = brain_now_ms(b);
	int writes = 0;
	Skiff__JobSpec *spec = j->spec;
	Skiff__JobStatus *st = j->status;
	if (!st) {
		st = j->status = xmalloc(sizeof(*st));
		skiff__job_status__init(st);
	}
	_cleanup_free_ char *before = NULL;
	size_t before_len;
	before = (char *)skiff_obj_pack(&st->base, &before_len);

	/* the pods */
	size_t n;
	char **pods = brain_pod_names(b, "Job", name, NULL, &n);
	int active = 0, succeeded = 0, failed = 0, ready = 0;
	char **live = xcalloc(n + 1, sizeof(*live));
	size_t nlive = 0;
	for (size_t i = 0; i < n; i++) {
		const struct brain_pod *p = brain_pod_get(b, pods[i]);
		if (streq(p->phase, "Succeeded")) {
			succeeded++;
		} else if (streq(p->phase, "Failed")) {
			failed++;
		} else if (!p->terminating) {
			active++;
			ready += p->ready;
			live[nlive++] = pods[i];
		}
		if (!streq(p->phase, "Failed")) {
			/* OnFailure: each container restart is a failure */
			const Skiff__Pod *pod = brain_get(b, SKIFF_KIND_POD, pods[i]);
			for (size_t k = 0;
			     pod && pod->status && k < pod->status->n_container_statuses; k++)
				failed += pod->status->container_statuses[k]->restart_count;
		}
	}
	bool done_before = brain_job_finished(j, NULL);
	if (failed > st->failed && !done_before)
		st->next_retry_ms = now + backoff_ms(failed);
	st->succeeded = succeeded;
	st->failed = failed;
	st->ready = ready;
	st->observed_generation = j->metadata->generation;

	if (!done_before && !spec->suspend && st->start_ms == 0)
		st->start_ms = now;
	const char *fail_reason = NULL;
	_cleanup_free_ char *fail_msg = NULL;
	if (!done_before) {
		if (succeeded >= spec->completions) {
			add_condition(st, "Complete", "", "", now);
			st->completion_ms = now;
			brain_event(b, "job", name, "Normal", "Completed", "job completed");
		} else if (failed > spec->backoff_limit) {
			fail_reason = "BackoffLimitExceeded";
			fail_msg = xstrdup("job has reached the specified backoff limit");
		} else if (spec->active_deadline_seconds > 0 && st->start_ms > 0 &&
			   now - st->start_ms >= spec->active_deadline_seconds * 1000) {
			fail_reason = "DeadlineExceeded";
			fail_msg = xstrdup("job was active longer than specified deadline");
		}
		if (fail_reason) {
			add_condition(st, "Failed", fail_reason, fail_msg, now);
			st->completion_ms = now;
			brain_event(b, "job", name, "Warning", fail_reason, "%s", fail_msg);
		}
	}
	bool finished = brain_job_finished(j, NULL);
	int want = 0;
	if (!finished && !spec->suspend) {
		int left = spec->completions - succeeded;
		want = spec->parallelism < left ? spec->parallelism : left;
	}
	/* too many active (finished, suspended, parallelism lowered): the newest go */
	for (size_t i = nlive; (int)i > want && i > 0; i--)
		if (brain_pod_terminate(b, live[i - 1]) > 0) {
			writes++;
			active--;
		}
	if (active < want) {
		if (now >= st->next_retry_ms) {
			Skiff__KeyValue l1 = SKIFF__KEY_VALUE__INIT, l2 = SKIFF__KEY_VALUE__INIT;
			l1.key = "job-name";
			l1.value = (char *)bare;
			l2.key = "batch.kubernetes.io/job-name";
			l2.value = (char *)bare;
			Skiff__KeyValue *extra[] = { &l1, &l2 };
			int created = 0;
			for (int i = active; i < want; i++)
				if (brain_pod_create(b, spec->template_, ns, bare, "Job", bare, "",
						     extra, 2, NULL) >= 0)
					created++;
			writes += created;
			active += created;
			if (created)
				brain_event(b, "job", name, "Normal", "SuccessfulCreate",
					    "created %d pod%s", created, created == 1 ? "" : "s");
		} else {
			brain_wake_at(b, st->next_retry_ms);
		}
	}
	st->active = active;
	if (!finished && spec->active_deadline_seconds > 0 && st->start_ms > 0)
		brain_wake_at(b, st->start_ms + spec->active_deadline_seconds * 1000);
	int64_t ttl;
	if (finished && *spec->ttl_seconds_after_finished &&
	    skiff_parse_int64(spec->ttl_seconds_after_finished, &ttl) == 0) {
		int64_t at = st->completion_ms + ttl * 1000;
		if (now >= at) {
			for (size_t i = 0; i < n; i++)
				free(pods[i]);
			free(pods);
			free(live);
			skiff_obj_free(&j->base);
			log_info(
			    "job %s: deleted %lld s after it finished (ttlSecondsAfterFinished)",
			    name, (long long)ttl);
			return writes + (brain_job_remove(b, name) >= 0);
		}
		brain_wake_at(b, at);
	}
	for (size_t i = 0; i < n; i++)
		free(pods[i]);
	free(pods);
	free(live);

	size_t after_len;
	_cleanup_free_ uint8_t *after = skiff_obj_pack(&st->base, &after_len);
	if (after_len != before_len || memcmp(after, before, after_len) != 0)
		writes += brain_put(b, SKIFF_KIND_JOB, &j->base) >= 0;
	skiff_obj_free(&j->base);
	return writes;
}

int brain_jobs_reconcile(struct brain *b)
{
	struct brain_names jobs = brain_names(b, SKIFF_KIND_JOB);
	int writes = 0;
	for (size_t i = 0; i < jobs.n; i++) {
		writes += reconcile_one(b, jobs.v[i]);
		free(jobs.v[i]);
	}
	free(jobs.v);
	return writes + brain_orphans_terminate(b, "Job", SKIFF_KIND_JOB);
}
