/* cmd_ops.c — the operational verbs: scale, rollout status|undo|history,
 * logs, cordon|uncordon|drain, version. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "ctl.h"
#include "quantity.h"
#include "util.h"

/* ---- scale ---------------------------------------------------------------- */

int cmd_scale(int argc, char **argv)
{
	static const struct option options[] = { { "replicas", required_argument, NULL, 'r' }, {} };
	int64_t replicas = -1;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c != 'r')
			return ctl_usage_error("scale", "unknown option");
		if (skiff_parse_int64(optarg, &replicas) < 0 || replicas < 0 || replicas > 100000)
			return ctl_usage_error(
			    "scale", "--replicas takes a count (0-100000), not \"%s\"", optarg);
	}
	const struct skiff_kind *kind;
	const char *name;
	int k = ctl_kind_name("scale", argc - optind, argv + optind, &kind, &name);
	if (k < 0)
		return CTL_USAGE;
	if (optind + k < argc)
		return ctl_usage_error("scale", "unexpected argument \"%s\"", argv[optind + k]);
	if (!streq(kind->name, "deployment"))
		return ctl_usage_error("scale", "only deployments scale, not %s", kind->plural);
	if (replicas < 0)
		return ctl_usage_error("scale", "--replicas N is required");

	Skiff__ScaleRequest req = SKIFF__SCALE_REQUEST__INIT;
	Skiff__Object *obj = NULL;
	req.name = (char *)name;
	req.namespace_ = (char *)ctl_namespace();
	req.replicas = (int32_t)replicas;
	if (ctl_call(SKIFF__MSG_TYPE__MSG_SCALE, &req.base, &skiff__object__descriptor,
		     (ProtobufCMessage **)&obj))
		return CTL_FAIL;
	printf("deployment/%s scaled\n", name);
	skiff__object__free_unpacked(obj, NULL);
	return 0;
}

/* ---- rollout -------------------------------------------------------------- */

enum rollout { ROLLOUT_WAITING, ROLLOUT_DONE, ROLLOUT_FAILED };

/* kubectl's rollout status lines, in buf, and where the rollout stands. */
static enum rollout rollout_state(const Skiff__Deployment *d, char *buf, size_t len)
{
	const Skiff__DeploymentStatus *st = d->status;
	const char *name = d->metadata->name;
	int want = d->spec ? d->spec->replicas : 0;

	if (!st || st->observed_generation < d->metadata->generation) {
		snprintf(buf, len, "Waiting for deployment spec update to be observed...");
		return ROLLOUT_WAITING;
	}
	if (streq(st->condition, "Failed")) {
		snprintf(buf, len, "deployment \"%s\" exceeded its progress deadline%s%s", name,
			 *st->message ? ": " : "", st->message);
		return ROLLOUT_FAILED;
	}
	if (st->updated_replicas < want) {
		snprintf(buf, len,
			 "Waiting for deployment \"%s\" rollout to finish: %d out of %d new "
			 "replicas have been updated...",
			 name, st->updated_replicas, want);
		return ROLLOUT_WAITING;
	}
	if (st->replicas > st->updated_replicas) {
		snprintf(buf, len,
			 "Waiting for deployment \"%s\" rollout to finish: %d old replicas are "
			 "pending termination...",
			 name, st->replicas - st->updated_replicas);
		return ROLLOUT_WAITING;
	}
	if (st->available_replicas < st->updated_replicas) {
		snprintf(buf, len,
			 "Waiting for deployment \"%s\" rollout to finish: %d of %d updated "
			 "replicas are available...",
			 name, st->available_replicas, st->updated_replicas);
		return ROLLOUT_WAITING;
	}
	snprintf(buf, len, "deployment \"%s\" successfully rolled out", name);
	return ROLLOUT_DONE;
}

static int rollout_status(const char *name, int64_t timeout_ms)
{
	const struct skiff_kind *kind = skiff_kind_lookup("deployment");
	int64_t deadline = timeout_ms > 0 ? skiff_mono_ms() + timeout_ms : INT64_MAX;
	char line[512], last[512] = "";

	for (;;) {
		Skiff__Object *obj = NULL;
		if (ctl_get_object(kind, name, &obj))
			return CTL_FAIL;
		enum rollout s = ROLLOUT_FAILED;
		if (obj->deployment)
			s = rollout_state(obj->deployment, line, sizeof(line));
		else
			snprintf(line, sizeof(line), "\"%s\" is not a deployment", name);
		skiff__object__free_unpacked(obj, NULL);
		if (s == ROLLOUT_FAILED)
			return ctl_error("%s", line);
		if (!streq(line, last)) {
			printf("%s\n", line);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", line);
		}
		if (s == ROLLOUT_DONE)
			return 0;
		if (skiff_mono_ms() >= deadline)
			return ctl_error("timed out waiting for deployment \"%s\" to roll out",
					 name);
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

int cmd_rollout(int argc, char **argv)
{
	static const struct option options[] = { { "timeout", required_argument, NULL, 't' },
						 { "to-revision", required_argument, NULL, 'r' },
						 {} };
	int64_t timeout_ms = 0, to_revision = 0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 't':
			if (skiff_parse_duration(optarg, &timeout_ms) < 0)
				return ctl_usage_error("rollout",
						       "--timeout takes a duration (like 30s, 2m)");
			break;
		case 'r':
			if (skiff_parse_int64(optarg, &to_revision) < 0 || to_revision < 0)
				return ctl_usage_error("rollout", "--to-revision takes a number");
			break;
		default:
			return ctl_usage_error("rollout", "unknown option");
		}
	}
	if (optind >= argc)
		return ctl_usage_error("rollout",
				       "expected status, undo, history, restart, pause or "
				       "resume");
	const char *sub = argv[optind++];
	const struct skiff_kind *kind;
	const char *name;
	int k = ctl_kind_name("rollout", argc - optind, argv + optind, &kind, &name);
	if (k < 0)
		return CTL_USAGE;
	if (!streq(kind->name, "deployment"))
		return ctl_usage_error("rollout", "only deployments roll out");

	if (streq(sub, "status"))
		return rollout_status(name, timeout_ms);
	if (streq(sub, "restart") || streq(sub, "pause") || streq(sub, "resume"))
		return ctl_rollout_change(sub, name);
	if (streq(sub, "history")) {
		Skiff__Object *obj = NULL;
		if (ctl_get_object(kind, name, &obj))
			return CTL_FAIL;
		const Skiff__DeploymentStatus *st = obj->deployment->status;
		printf("deployment/%s\nREVISION   TEMPLATE\n", name);
		for (size_t i = 0; st && i < st->n_history; i++)
			printf("%-10lld %s%s\n", (long long)st->history[i]->revision,
			       st->history[i]->template_hash,
			       st->history[i]->revision == st->revision ? " (current)" : "");
		skiff__object__free_unpacked(obj, NULL);
		return 0;
	}
	if (streq(sub, "undo")) {
		Skiff__RolloutRequest req = SKIFF__ROLLOUT_REQUEST__INIT;
		Skiff__RolloutResponse *resp = NULL;
		req.name = (char *)name;
		req.namespace_ = (char *)ctl_namespace();
		req.action = "undo";
		req.to_revision = to_revision;
		if (ctl_call(SKIFF__MSG_TYPE__MSG_ROLLOUT, &req.base,
			     &skiff__rollout_response__descriptor, (ProtobufCMessage **)&resp))
			return CTL_FAIL;
		/* the brain says which revision it went back to */
		if (*resp->message)
			printf("%s\n", resp->message);
		else
			printf("deployment/%s rolled back\n", name);
		skiff__rollout_response__free_unpacked(resp, NULL);
		return 0;
	}
	return ctl_usage_error("rollout",
			       "unknown rollout command \"%s\" (status, undo, history, restart, "
			       "pause, resume)",
			       sub);
}

/* ---- logs ----------------------------------------------------------------- */

static int on_log_chunk(const Skiff__Frame *item, void *userdata)
{
	(void)userdata;
	Skiff__LogChunk *chunk =
	    skiff__log_chunk__unpack(NULL, item->payload.len, item->payload.data);
	if (!chunk)
		return 0;
	fwrite(chunk->data.data, 1, chunk->data.len, stdout);
	fflush(stdout);
	skiff__log_chunk__free_unpacked(chunk, NULL);
	return 0;
}

/* A deployment's pod to read: a running one, the first by name. */
int ctl_pick_pod(const char *deployment, char **ret)
{
	Skiff__Object *obj = NULL;
	Skiff__ListResponse *list = NULL;
	if (ctl_get_object(skiff_kind_lookup("deployment"), deployment, &obj))
		return CTL_FAIL;
	Skiff__DeploymentSpec *spec = obj->deployment->spec;
	int r = ctl_list(skiff_kind_lookup("pod"), spec ? spec->selector : NULL,
			 spec ? spec->n_selector : 0, NULL, NULL, NULL, &list);
	skiff__object__free_unpacked(obj, NULL);
	if (r)
		return r;
	const char *best = NULL;
	bool best_running = false;
	size_t count = 0;
	for (size_t i = 0; i < list->n_items; i++) {
		const Skiff__Pod *p = list->items[i]->pod;
		if (!p || !streq(p->owner, deployment))
			continue;
		count++;
		bool running = p->status && streq(p->status->phase, "Running");
		if (!best || (running && !best_running) ||
		    (running == best_running && strcmp(p->metadata->name, best) < 0)) {
			best = p->metadata->name;
			best_running = running;
		}
	}
	if (!best) {
		skiff__list_response__free_unpacked(list, NULL);
		return ctl_error("deployment \"%s\" has no pods", deployment);
	}
	if (count > 1)
		fprintf(stderr, "Found %zu pods, using pod/%s\n", count, best);
	*ret = xstrdup(best);
	skiff__list_response__free_unpacked(list, NULL);
	return 0;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option options[] = { { "follow", no_argument, NULL, 'f' },
						 { "tail", required_argument, NULL, 't' },
						 { "container", required_argument, NULL, 'c' },
						 { "previous", no_argument, NULL, 'p' },
						 {} };
	Skiff__LogsRequest req = SKIFF__LOGS_REQUEST__INIT;
	req.namespace_ = (char *)ctl_namespace();
	int64_t tail = -1;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fc:p", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			req.follow = true;
			break;
		case 't':
			if (skiff_parse_int64(optarg, &tail) < 0 || tail < -1 || tail > INT32_MAX)
				return ctl_usage_error("logs", "--tail takes a number of lines");
			break;
		case 'c':
			req.container = optarg;
			break;
		case 'p':
			req.previous = true;
			break;
		default:
			return ctl_usage_error("logs", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return ctl_usage_error("logs", "expected one POD or deployment/NAME");
	req.tail_lines = (int32_t)tail;
	_cleanup_free_ char *pod = NULL;
	const char *target = argv[optind], *slash = strchr(target, '/');
	if (slash) {
		_cleanup_free_ char *ks = xstrndup(target, (size_t)(slash - target));
		const struct skiff_kind *k = skiff_kind_lookup(ks);
		if (!k || (!streq(k->name, "pod") && !streq(k->name, "deployment")))
			return ctl_usage_error(
			    "logs", "logs come from pods or deployments, not \"%s\"", ks);
		if (streq(k->name, "deployment")) {
			int r = ctl_pick_pod(slash + 1, &pod);
			if (r)
				return r;
		} else {
			pod = xstrdup(slash + 1);
		}
	} else {
		pod = xstrdup(target);
	}
	req.pod = pod;
	return ctl_stream(SKIFF__MSG_TYPE__MSG_LOGS, &req.base, on_log_chunk, NULL);
}

/* ---- cordon, uncordon, drain ---------------------------------------------- */

int cmd_node_action(int argc, char **argv)
{
	const char *action = argv[0];
	if (argc > 1 &&
	    (streq(argv[1], "node") || streq(argv[1], "nodes") || streq(argv[1], "no"))) {
		argc--;
		argv++;
	}
	if (argc != 2)
		return ctl_usage_error(action, "expected one NODE");
	const char *name = argv[1];
	if (skiff_startswith(name, "node/"))
		name += 5;

	Skiff__NodeActionRequest req = SKIFF__NODE_ACTION_REQUEST__INIT;
	Skiff__NodeActionResponse *resp = NULL;
	req.name = (char *)name;
	req.action = (char *)action;
	if (ctl_call(SKIFF__MSG_TYPE__MSG_NODE_ACTION, &req.base,
		     &skiff__node_action_response__descriptor, (ProtobufCMessage **)&resp))
		return CTL_FAIL;
	for (size_t i = 0; i < resp->n_evicted; i++)
		printf("evicting pod/%s\n", resp->evicted[i]);
	printf("node/%s %s\n", name,
	       streq(action, "cordon")	   ? "cordoned"
	       : streq(action, "uncordon") ? "uncordoned"
					   : "drained");
	skiff__node_action_response__free_unpacked(resp, NULL);
	return 0;
}

/* ---- version -------------------------------------------------------------- */

int cmd_version(int argc, char **argv)
{
	bool client_only = argc > 1 && streq(argv[1], "--client");
	if (argc > 1 && !client_only)
		return ctl_usage_error("version", "unexpected argument \"%s\"", argv[1]);
	printf("Client Version: %s\n", SKIFF_VERSION);
	fflush(stdout);
	if (client_only)
		return 0;
	Skiff__ClusterInfo *info = NULL;
	if (ctl_call(SKIFF__MSG_TYPE__MSG_CLUSTER_INFO, NULL, &skiff__cluster_info__descriptor,
		     (ProtobufCMessage **)&info))
		return CTL_FAIL;
	printf("Server Version: %s\n", info->version);
	printf("Cluster: %d nodes, %d pods, revision %llu, cluster CIDR %s\n", info->nodes,
	       info->pods, (unsigned long long)info->revision, info->cluster_cidr);
	skiff__cluster_info__free_unpacked(info, NULL);
	return 0;
}
