/* reconcile.c — the control loops' driver: the node lifecycle tick, then
 * the controllers (namespaces, cron jobs, jobs, deployments, daemon sets,
 * scheduler, endpoints) in rounds until a change settles, after any store
 * change or when a controller's timer (brain_wake_at()) is due. The top of
 * the brain's files. */
#include "brain.h"

int brain_reconcile(struct brain *b)
{
	int n = 0, r;
	r = brain_nodes_tick(b);
	n += r > 0 ? r : 0;
	uint64_t rev = skiff_store_revision(b->store);
	bool woken = b->wake_ms && brain_now_ms(b) >= b->wake_ms;
	if (!b->resync && rev == b->ctl_revision && !woken)
		return n;
	b->resync = false;
	b->wake_ms = 0;
	/* Controllers feed each other (deployment -> pods -> scheduler ->
	 * endpoints); a few rounds settle one change. */
	for (int round = 0; round < 3; round++) {
		uint64_t before = skiff_store_revision(b->store);
		r = brain_namespaces_reconcile(b);
		n += r > 0 ? r : 0;
		r = brain_cronjobs_reconcile(b);
		n += r > 0 ? r : 0;
		r = brain_jobs_reconcile(b);
		n += r > 0 ? r : 0;
		r = brain_deployments_reconcile(b);
		n += r > 0 ? r : 0;
		r = brain_daemonsets_reconcile(b);
		n += r > 0 ? r : 0;
		r = brain_schedule(b);
		n += r > 0 ? r : 0;
		r = brain_endpoints_reconcile(b);
		n += r > 0 ? r : 0;
		if (skiff_store_revision(b->store) == before)
			break;
	}
	b->ctl_revision = skiff_store_revision(b->store);
	return n;
}
