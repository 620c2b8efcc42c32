/* startspec.c — the runtime's command line for one container attempt, from
 * the pod spec and what the agent resolved for it (rootfs, sandbox, volume
 * sources, the image's layers and config): `skiff-runtime shim
 * --foreground …`, with the image's Entrypoint, Cmd, Env, WorkingDir and
 * User under Kubernetes' rules. No I/O: what needs the
 * disk or the network (image, sandbox, emptyDir directories) is done by
 * the caller first, so this is tested alone (tests/unit/test_agent_startspec.c).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "util.h"

void strv_push(struct strv *s, char *owned)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap * sizeof(char *));
	}
	s->v[s->n++] = owned;
	s->v[s->n] = NULL;
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static void opt(struct strv *args, const char *name, char *owned_value)
{
	strv_push(args, xstrdup(name));
	strv_push(args, owned_value);
}

void startspec_build(const struct startspec *in, struct strv *args)
{
	const Skiff__Container *c = in->container;
	const Skiff__PodSpec *ps = in->pod->spec;
	const struct skiff_image_config *img = in->image;

	strv_push(args, xstrdup(in->runtime));
	strv_push(args, xstrdup("shim"));
	strv_push(args, xstrdup("--foreground"));
	opt(args, "--state", xstrdup(in->containers_dir));
	opt(args, "--id", xstrdup(in->id));
	if (in->layers && in->layers[0])
		for (char *const *l = in->layers; *l; l++)
			opt(args, "--rootfs", xstrdup(*l));
	else
		opt(args, "--rootfs", xstrdup(in->rootfs));
	opt(args, "--hostname",
	    xstrdup(ps->hostname && ps->hostname[0] ? ps->hostname : in->pod->metadata->name));
	opt(args, "--cgroup-parent", xstrdup(in->cgroup_parent));
	if (in->log_max > 0)
		opt(args, "--log-max", xasprintf("%" PRId64, in->log_max));
	/* on the pod's size-limited file system (disk.c) */
	if (in->layer_dir)
		opt(args, "--layer-dir", xstrdup(in->layer_dir));

	/* the pod's sandbox: no network work in the runtime */
	opt(args, "--net", xasprintf("ns:%s", in->netns));

	/* environment: the image's, SKIFF_*, services, then the container's own
	 * (the runtime keeps the last value of a name) */
	for (char *const *e = img ? img->env : NULL; e && *e; e++)
		if ((*e)[0] != '=' && strchr(*e, '='))
			opt(args, "--env", xstrdup(*e));
	opt(args, "--env", xasprintf("SKIFF_POD_NAME=%s", in->pod->metadata->name));
	opt(args, "--env", xasprintf("SKIFF_POD_IP=%s", in->pod_ip ? in->pod_ip : ""));
	opt(args, "--env", xasprintf("SKIFF_NODE_NAME=%s", in->node_name));
	opt(args, "--env", xstrdup("SKIFF_NAMESPACE=default"));
	opt(args, "--env", xstrdup("SKIFF_ENDPOINTS_DIR=/etc/skiff/endpoints"));
	for (char *const *e = in->service_env; e && *e; e++)
		opt(args, "--env", xstrdup(*e));
	for (size_t i = 0; i < c->n_env; i++) {
		if (!c->env[i]->name[0] || strchr(c->env[i]->name, '='))
			continue;
		opt(args, "--env", xasprintf("%s=%s", c->env[i]->name, c->env[i]->value));
	}
	if (c->working_dir && c->working_dir[0])
		opt(args, "--workdir", xstrdup(c->working_dir));
	else if (img && img->working_dir && img->working_dir[0] == '/')
		opt(args, "--workdir", xstrdup(img->working_dir));
	if (in->user)
		opt(args, "--user", xstrdup(in->user));

	/* the node's pid limit per container (kubelet's podPidsLimit) */
	if (in->pids_limit > 0)
		opt(args, "--pids", xasprintf("%" PRId64, in->pids_limit));

	/* resources: limits (requests only matter to the scheduler) */
	const Skiff__ResourceList *lim = c->resources ? c->resources->limits : NULL;
	if (lim && lim->memory > 0)
		opt(args, "--memory", xasprintf("%" PRId64, lim->memory));
	if (lim && lim->cpu_milli > 0)
		opt(args, "--cpus", xasprintf("%" PRId64 "m", lim->cpu_milli));

	/* volumes ("SRC:DST[:ro]", resolved by the caller), then the pod's
	 * read-only endpoints directory */
	for (char *const *v = in->volumes; v && *v; v++)
		opt(args, "--volume", xstrdup(*v));
	if (in->endpoints_dir)
		opt(args, "--volume", xasprintf("%s:/etc/skiff/endpoints:ro", in->endpoints_dir));

	strv_push(args, xstrdup("--"));
	startspec_argv(c, img, args);
}

/* Kubernetes' rules: command replaces the image's Entrypoint and drops its
 * Cmd; args replaces Cmd; neither runs Entrypoint + Cmd. */
size_t startspec_argv(const Skiff__Container *c, const struct skiff_image_config *img,
		      struct strv *args)
{
	size_t n0 = args->n;
	if (c->n_command > 0) {
		for (size_t i = 0; i < c->n_command; i++)
			strv_push(args, xstrdup(c->command[i]));
	} else {
		for (char *const *e = img ? img->entrypoint : NULL; e && *e; e++)
			strv_push(args, xstrdup(*e));
	}
	if (c->n_args > 0) {
		for (size_t i = 0; i < c->n_args; i++)
			strv_push(args, xstrdup(c->args[i]));
	} else if (c->n_command == 0) {
		for (char *const *e = img ? img->cmd : NULL; e && *e; e++)
			strv_push(args, xstrdup(*e));
	}
	return args->n - n0;
}
