/* commit.c — group commit (daemon.h): request handlers queue the replies
 * of requests that changed state; the "commit" event, run once the loop has
 * handled every request that arrived, syncs the store with one fsync and
 * only then sends them, feeds the watchers (d->on_commit) and pushes
 * Assignments. The controllers run from their own low-priority event after
 * a commit; the 100 ms tick commits, runs a reconcile that socket traffic
 * starved and trims the heap.
 *
 * The request handlers (api.c, certs.c, watch.c) call into this file; it
 * calls only the brain, and the watchers through d->on_commit. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

struct deferred {
	struct deferred *next;
	struct skiff_rpc_call *call; /* NULL once cancelled */
	ProtobufCMessage *msg;
	struct daemon *d;
};

static void deferred_cancel(struct skiff_rpc_call *call, void *userdata)
{
	(void)call;
	struct deferred *df = userdata;
	df->call = NULL;
}

void daemon_defer_reply(struct daemon *d, struct skiff_rpc_call *call, ProtobufCMessage *msg)
{
	struct deferred *df = xcalloc(1, sizeof(*df));
	df->call = call;
	df->msg = msg;
	df->d = d;
	skiff_rpc_call_set_cancel(call, deferred_cancel, df);
	*d->deferred_tail = df;
	d->deferred_tail = &df->next;
	if (d->no_group_commit) {
		/* one fsync per write (benchmark baseline) */
		if (skiff_store_sync(d->brain->store) < 0) {
			log_error("cannot make changes durable; exiting");
			exit(1);
		}
		daemon_send_deferred(d);
		return;
	}
	daemon_kick(d);
}

/* Called by the commit after a successful sync. */
void daemon_send_deferred(struct daemon *d)
{
	struct deferred *df = d->deferred_head;
	d->deferred_head = NULL;
	d->deferred_tail = &d->deferred_head;
	while (df) {
		struct deferred *next = df->next;
		if (df->call) {
			skiff_rpc_call_set_cancel(df->call, NULL, NULL);
			skiff_rpc_call_reply(df->call, df->msg);
		}
		if (df->msg)
			protobuf_c_message_free_unpacked(df->msg, NULL);
		free(df);
		df = next;
	}
}

static void commit_now(struct daemon *d)
{
	int r = skiff_store_sync(d->brain->store);
	if (r < 0) {
		/* Fail-stop: nothing unsynced is acknowledged; the next start
		 * replays what is on disk. */
		log_error("cannot make changes durable (%s); exiting so that nothing unsaved is "
			  "acknowledged",
			  strerror(-r));
		d->exit_code = 1;
		event_base_loopbreak(d->base);
		return;
	}
	d->commits++;
	daemon_send_deferred(d);
	if (d->on_commit)
		d->on_commit(d);
	brain_push_assignments(d->brain);
	brain_release_views(d->brain);
	if (skiff_store_want_snapshot(d->brain->store))
		(void)skiff_store_snapshot(d->brain->store);
}

static void reconcile(struct daemon *d)
{
	d->last_reconcile_ms = skiff_mono_ms();
	(void)brain_reconcile(d->brain);
}

/* A burst of changes (a pass over 100,000 pods, their Assignments packed
 * for every node, the WAL buffer of the round) leaves freed memory behind
 * in the heap: give it back to the system, at most once a second and only
 * after 1,000 changes, from the tick (pushes have drained by then). */
static void trim_heap(struct daemon *d)
{
	static uint64_t trimmed_rev;
	static int64_t trimmed_ms;
	uint64_t rev = skiff_store_revision(d->brain->store);
	int64_t now = skiff_mono_ms();
	if (rev - trimmed_rev < 1000 || now - trimmed_ms < 1000)
		return;
	malloc_trim(0);
	trimmed_rev = rev;
	trimmed_ms = now;
}

/* The controllers run from their own event of the lowest priority, asked
 * for after a commit: the replies that commit just queued are written out
 * first (socket events have a higher priority), so an APPLY of 100,000
 * replicas is acknowledged before the pass that creates them, not seconds
 * later. A pass asked for at the previous tick and still starved by
 * socket traffic runs from the tick itself. */
static void reconcile_now(struct daemon *d)
{
	d->reconcile_asked_ms = 0;
	if (d->exit_code != 0)
		return;
	reconcile(d);
	commit_now(d);
}

static void reconcile_cb(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	reconcile_now(userdata);
}

static void ask_reconcile(struct daemon *d)
{
	if (d->exit_code != 0)
		return;
	if (!d->reconcile_asked_ms)
		d->reconcile_asked_ms = skiff_mono_ms();
	event_active(d->reconcile_ev, EV_WRITE, 0);
}

static void commit_cb(evutil_socket_t fd, short what, void *userdata)
{
	(void)fd;
	(void)what;
	struct daemon *d = userdata;
	/* answer what arrived first: replies never wait for the controllers */
	commit_now(d);
	if (skiff_mono_ms() - d->last_reconcile_ms >= 20)
		ask_reconcile(d);
}

void daemon_commit_tick(struct daemon *d)
{
	commit_now(d);
	if (d->reconcile_asked_ms && skiff_mono_ms() - d->reconcile_asked_ms >= 100)
		reconcile_now(d);
	else
		ask_reconcile(d);
	trim_heap(d);
}

void daemon_kick(struct daemon *d)
{
	if (!event_pending(d->commit_ev, EV_TIMEOUT, NULL))
		event_active(d->commit_ev, EV_WRITE, 0);
}

void daemon_commit_init(struct daemon *d)
{
	d->commit_ev = event_new(d->base, -1, 0, commit_cb, d);
	event_priority_set(d->commit_ev, 2);
	d->reconcile_ev = event_new(d->base, -1, 0, reconcile_cb, d);
	event_priority_set(d->reconcile_ev, 2);
}

void daemon_commit_free(struct daemon *d)
{
	event_free(d->commit_ev);
	event_free(d->reconcile_ev);
}
