/* cronjob.c — the cron job controller: a CronJob makes a Job from its
 * jobTemplate at every time its schedule names (lib/cron.h, UTC), named
 * NAME-<the scheduled time in minutes since the epoch> (so a run is made
 * once, whatever happens to the brain), Job.owner = NAME.
 *
 * As Kubernetes: a brain down at a scheduled time starts the most recent
 * missed run once when it is back, if that is within
 * startingDeadlineSeconds (none: always); concurrencyPolicy Allow runs jobs
 * side by side, Forbid skips a run while one is active (the run starts
 * when that one finishes, if still within the deadline), Replace deletes
 * the active ones first; finished jobs beyond successfulJobsHistoryLimit /
 * failedJobsHistoryLimit are deleted, oldest first; suspend makes no jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "cron.h"
#include "log.h"
#include "util.h"

struct cjob {
	char *name;
	int64_t created_ms;
	bool finished, failed;
};

struct jobs_of {
	const char *owner, *ns;
	struct cjob *v;
	size_t n, cap;
};

static int collect_job(const struct skiff_store_obj *o, void *userdata)
{
	struct jobs_of *c = userdata;
	const Skiff__Job *j = o->decoded;
	if (!j || !streq(j->owner, c->owner) || !streq(brain_obj_namespace(&j->base), c->ns))
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	struct cjob *cj = &c->v[c->n++];
	cj->name = xstrdup(o->name);
	cj->created_ms = j->metadata ? j->metadata->created_ms : 0;
	cj->finished = brain_job_finished(j, &cj->failed);
	return 0;
}

static int cmp_oldest(const void *a, const void *b)
{
	const struct cjob *x = a, *y = b;
	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int create_job(struct brain *b, const Skiff__CronJob *cj, int64_t scheduled_ms)
{
	const char *ns = brain_obj_namespace(&cj->base);
	_cleanup_free_ char *name =
	    xasprintf("%s-%lld", cj->metadata->name, (long long)(scheduled_ms / 60000));
	_cleanup_free_ char *key = brain_key(SKIFF_KIND_JOB, ns, name);
	if (brain_get(b, SKIFF_KIND_JOB, key))
		return 0; /* made before a restart */
	Skiff__Job *j = xmalloc(sizeof(*j));
	skiff__job__init(j);
	const Skiff__JobTemplate *t = cj->spec->job_template;
	j->metadata = t->metadata ? (Skiff__ObjectMeta *)skiff_msg_copy(&t->metadata->base) : NULL;
	Skiff__ObjectMeta *m = skiff_meta_ensure(&j->base);
	skiff_set_str(&m->name, name);
	skiff_set_str(&m->namespace_, ns);
	brain_meta_born(b, m);
	j->spec = (Skiff__JobSpec *)skiff_msg_copy(&t->spec->base);
	skiff_set_str(&j->owner, cj->metadata->name);
	int ret = brain_put(b, SKIFF_KIND_JOB, &j->base);
	skiff_obj_free(&j->base);
	_cleanup_free_ char *ckey = brain_obj_key(SKIFF_KIND_CRONJOB, &cj->base);
	if (ret >= 0)
		brain_event(b, "cronjob", ckey, "Normal", "SuccessfulCreate", "created job %s",
			    name);
	return ret >= 0;
}

/* name: the cron job's key */
static int reconcile_one(struct brain *b, const char *name)
{
	Skiff__CronJob *cj = brain_copy(b, SKIFF_KIND_CRONJOB, name);
	if (!cj || !cj->spec || !cj->spec->job_template || !cj->spec->job_template->spec) {
		skiff_obj_free(cj ? &cj->base : NULL);
		return 0;
	}
	Skiff__CronJobSpec *spec = cj->spec;
	struct skiff_cron sched;
	_cleanup_free_ char *err = NULL;
	if (skiff_cron_parse(spec->schedule, &sched, &err) < 0) {
		brain_event(b, "cronjob", name, "Warning", "InvalidSchedule", "%s", err);
		skiff_obj_free(&cj->base);
		return 0;
	}
	if (!cj->status) {
		cj->status = xmalloc(sizeof(*cj->status));
		skiff__cron_job_status__init(cj->status);
	}
	Skiff__CronJobStatus *st = cj->status;
	size_t before_len;
	_cleanup_free_ uint8_t *before = skiff_obj_pack(&st->base, &before_len);
	int64_t now = brain_now_ms(b);
	int writes = 0;

	struct jobs_of jobs = { .owner = cj->metadata->name, .ns = brain_obj_namespace(&cj->base) };
	skiff_store_foreach(b->store, SKIFF_KIND_JOB, collect_job, &jobs);
	if (jobs.n) /* qsort's base may not be NULL, even for no items */
		qsort(jobs.v, jobs.n, sizeof(*jobs.v), cmp_oldest);
	size_t nactive = 0;
	for (size_t i = 0; i < jobs.n; i++)
		nactive += !jobs.v[i].finished;

	/* the most recent scheduled time not yet run, up to now */
	int64_t from = st->last_schedule_ms ? st->last_schedule_ms : cj->metadata->created_ms;
	int64_t due = -1, t = from / 1000;
	int missed = 0;
	for (;;) {
		int64_t next = skiff_cron_next(&sched, t);
		if (next < 0 || next * 1000 > now)
			break;
		due = next * 1000;
		t = next;
		if (++missed > 100000)
			break; /* years of minutes: the most recent is what counts */
	}
	if (due >= 0 && !spec->suspend) {
		bool too_late = spec->starting_deadline_seconds > 0 &&
				now - due > spec->starting_deadline_seconds * 1000;
		if (too_late) {
			brain_event(b, "cronjob", name, "Warning", "MissedSchedule",
				    "missed the run of %lld s ago (past startingDeadlineSeconds)",
				    (long long)((now - due) / 1000));
			st->last_schedule_ms = due; /* not run: that one is over */
		} else if (nactive > 0 && streq(spec->concurrency_policy, "Forbid")) {
			/* wait: the run starts when the active job finished */
		} else {
			if (nactive > 0 && streq(spec->concurrency_policy, "Replace"))
				for (size_t i = 0; i < jobs.n; i++)
					if (!jobs.v[i].finished &&
					    brain_job_remove(b, jobs.v[i].name) >= 0) {
						writes++;
						jobs.v[i].finished = true;
						jobs.v[i].failed = true;
						free(jobs.v[i].name);
						jobs.v[i].name = NULL;
					}
			writes += create_job(b, cj, due);
			st->last_schedule_ms = due;
		}
	}
	int64_t next = skiff_cron_next(&sched, now / 1000);
	if (next > 0 && !spec->suspend)
		brain_wake_at(b, next * 1000);

	/* history: the newest finished jobs of each outcome stay */
	int keep_ok = spec->successful_jobs_history_limit,
	    keep_failed = spec->failed_jobs_history_limit;
	int ok = 0, bad = 0;
	for (size_t i = 0; i < jobs.n; i++)
		if (jobs.v[i].name && jobs.v[i].finished) {
			ok += !jobs.v[i].failed;
			bad += jobs.v[i].failed;
		}
	for (size_t i = 0; i < st->n_active; i++)
		free(st->active[i]);
	st->n_active = 0;
	for (size_t i = 0; i < jobs.n; i++) {
		struct cjob *j = &jobs.v[i];
		if (!j->name)
			continue;
		if (!j->finished) {
			st->active = xrealloc(st->active, (st->n_active + 1) * sizeof(char *));
			char nsbuf[64];
			st->active[st->n_active++] = xstrdup(skiff_key_split(j->name, nsbuf));
			continue;
		}
		if (!j->failed) {
			const Skiff__Job *job = brain_get(b, SKIFF_KIND_JOB, j->name);
			if (job && job->status &&
			    job->status->completion_ms > st->last_successful_ms)
				st->last_successful_ms = job->status->completion_ms;
		}
		if (j->failed ? bad-- > keep_failed : ok-- > keep_ok)
			writes += brain_job_remove(b, j->name) >= 0;
	}
	for (size_t i = 0; i < jobs.n; i++)
		free(jobs.v[i].name);
	free(jobs.v);

	size_t after_len;
	_cleanup_free_ uint8_t *after = skiff_obj_pack(&st->base, &after_len);
	if (after_len != before_len || memcmp(after, before, after_len) != 0)
		writes += brain_put(b, SKIFF_KIND_CRONJOB, &cj->base) >= 0;
	skiff_obj_free(&cj->base);
	return writes;
}

int brain_cronjobs_reconcile(struct brain *b)
{
	struct brain_names cjs = brain_names(b, SKIFF_KIND_CRONJOB);
	int writes = 0;
	for (size_t i = 0; i < cjs.n; i++) {
		writes += reconcile_one(b, cjs.v[i]);
		free(cjs.v[i]);
	}
	free(cjs.v);
	return writes;
}
