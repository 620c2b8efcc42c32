/* terminate.c — pods leaving: graceful termination (deleted_ms, the
 * agent's report or a deadline), removal for good, the deadlines' tick, and
 * the eviction of a node's pods (drain, lost node). Built on brain.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

int brain_pod_terminate(struct brain *b, const char *name)
{
	const struct brain_pod *p = brain_pod_get(b, name);
	if (!p)
		return -ENOENT;
	if (p->terminating)
		return 0;
	const char *node = p->node;
	const char *phase = p->phase;
	struct brain_node *rt = *node ? brain_node_rt(b, node) : NULL;
	if (!rt || !rt->connected || streq(phase, "Succeeded") || streq(phase, "Failed")) {
		/* nothing runs it, or its agent is away (a returning agent gets
		 * an Assignment without it): gone at once */
		int r = brain_delete(b, SKIFF_KIND_POD, name);
		return r < 0 ? r : 1;
	}
	Skiff__Pod *np = brain_copy(b, SKIFF_KIND_POD, name);
	skiff_meta_ensure(&np->base)->deleted_ms = brain_now_ms(b);
	int64_t grace =
	    np->spec && np->spec->termination_grace_ms > 0 ? np->spec->termination_grace_ms : 10000;
	int r = brain_put(b, SKIFF_KIND_POD, &np->base);
	skiff_obj_free(&np->base);
	if (r < 0)
		return r;
	int64_t *deadline = xmalloc(sizeof(*deadline));
	*deadline = brain_now_mono(b) + grace + SKIFF_TERMINATION_MARGIN_MS;
	_cleanup_free_ char *key = brain_key_of(SKIFF_KIND_POD, name);
	free(skiff_map_put(b->terminating, key, deadline));
	return 1;
}

int brain_pod_finalize(struct brain *b, const char *name)
{
	_cleanup_free_ char *key = brain_key_of(SKIFF_KIND_POD, name);
	free(skiff_map_remove(b->terminating, key));
	b->resync = true;
	return brain_delete(b, SKIFF_KIND_POD, name);
}

int brain_terminating_tick(struct brain *b)
{
	if (!skiff_map_size(b->terminating))
		return 0;
	int64_t now = brain_now_mono(b);
	char **done = NULL;
	size_t n = 0, i = 0;
	void *cur = NULL, *v;
	const char *k;
	while (skiff_map_next(b->terminating, &i, &cur, &k, &v)) {
		int64_t *deadline = v;
		const struct brain_pod *p = brain_pod_get(b, k);
		if (p && p->terminating) {
			if (*deadline == 0) { /* tracked at start-up */
				_cleanup_(skiff_obj_freep) ProtobufCMessage *full =
				    brain_copy(b, SKIFF_KIND_POD, k);
				const Skiff__PodSpec *spec =
				    full ? ((Skiff__Pod *)full)->spec : NULL;
				int64_t grace = spec && spec->termination_grace_ms > 0
						    ? spec->termination_grace_ms
						    : 10000;
				*deadline = now + grace + SKIFF_TERMINATION_MARGIN_MS;
			}
			if (now <= *deadline)
				continue;
		}
		done = xrealloc(done, (n + 1) * sizeof(*done));
		done[n++] = xstrdup(k);
	}
	int removed = 0;
	for (size_t j = 0; j < n; j++) {
		const struct brain_pod *p = brain_pod_get(b, done[j]);
		if (p && p->terminating) {
			log_info("pod %s: still terminating after its grace; removed", done[j]);
			if (brain_pod_finalize(b, done[j]) >= 0)
				removed++;
		} else
			free(skiff_map_remove(b->terminating, done[j]));
		free(done[j]);
	}
	free(done);
	return removed;
}

char **brain_evict_node_pods(struct brain *b, const char *node, bool graceful, size_t *ret_n)
{
	char **names = brain_pod_names(b, NULL, NULL, node, ret_n);
	for (size_t i = 0; i < *ret_n; i++)
		if (graceful)
			(void)brain_pod_terminate(b, names[i]);
		else
			(void)brain_delete(b, SKIFF_KIND_POD, names[i]);
	b->resync = true;
	return names;
}
