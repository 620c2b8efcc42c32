/* main.c — skiffctl: the command line people drive a Skiff cluster with.
 * Global options, the verb table, and help for every verb. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "util.h"
#include "validate.h"

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *summary;
	const char *details;
};

static const struct verb verbs[] = {
	{ "apply", cmd_apply, "apply -f FILE|DIR|- [-f …] [--dry-run] [-o name|json|yaml]",
	  "Create or update objects from manifests",
	  "Reads every document of every file (a directory: its *.yaml, *.yml and *.json\n"
	  "files; - is stdin). All files are checked first: when any has an error, every\n"
	  "error is printed as FILE:LINE:COL: field.path: … and nothing is sent.\n"
	  "Prints one line per object: deployment/web created|configured|unchanged.\n\n"
	  "Example:\n  skiffctl apply -f examples/gateway/gateway.yaml\n"
	  "  skiffctl get deployment web -o yaml | skiffctl apply -f -\n" },
	{ "get", cmd_get,
	  "get KIND[,KIND…]|all [NAME…] [-o FORMAT] [-l SELECTOR] [--field-selector F]\n"
	  "           [--sort-by PATH] [--show-labels] [-w] [--no-headers]",
	  "List objects as a table, or print them as JSON or YAML",
	  "KIND is nodes (no), pods (po), deployments (deploy), services (svc) or events (ev);\n"
	  "several are joined by commas (po,svc), all is pods, services and deployments;\n"
	  "KIND/NAME works too. FORMAT: wide, json, yaml (what apply reads back), name\n"
	  "(KIND/NAME lines), jsonpath=TEMPLATE ({.items[*].metadata.name}, {range}…{end},\n"
	  "filters [?(@.x==\"y\")], {\"\\n\"}), custom-columns=HEADER:PATH[,…].\n"
	  "-l: key=value, key!=value, key in (a,b), key notin (a,b), key, !key.\n"
	  "--field-selector: FIELD=VALUE|FIELD!=VALUE[,…] on metadata.name, and for pods\n"
	  "spec.nodeName, status.phase, status.podIP, spec.restartPolicy (nodes:\n"
	  "spec.unschedulable; events: involvedObject.kind|name, reason, type, source).\n"
	  "--sort-by sorts by a path (numbers numerically); --show-labels adds LABELS;\n"
	  "-w keeps printing changes as they happen.\n\n"
	  "Example:\n  skiffctl get pods -o wide\n  skiffctl get deploy web -o yaml\n"
	  "  skiffctl get pods -l app=web -w\n  skiffctl get all\n"
	  "  skiffctl get pods -o jsonpath='{.items[*].metadata.name}'\n"
	  "  skiffctl get pods --field-selector status.phase=Running --sort-by "
	  ".metadata.name\n" },
	{ "describe", cmd_describe, "describe KIND NAME",
	  "Show one object in detail, with its events",
	  "For a Pending pod the scheduler's reason for every node is shown.\n\n"
	  "Example:\n  skiffctl describe pod web-5d8f9-x2k1q\n  skiffctl describe node vm1\n" },
	{ "create", cmd_create, "create namespace NAME", "Create a namespace",
	  "Namespaced objects (pods, deployments, services, events) live in one; a\n"
	  "request without -n NAMESPACE is about \"default\". Deleting a namespace\n"
	  "deletes everything in it.\n\n"
	  "Example:\n  skiffctl create namespace team-a\n"
	  "  skiffctl -n team-a apply -f web.yaml\n  skiffctl get pods -A\n"
	  "  skiffctl delete namespace team-a\n" },
	{ "delete", cmd_delete, "delete (-f FILE|DIR|- | KIND NAME…) [--ignore-not-found]",
	  "Delete objects by manifest or by name",
	  "Example:\n  skiffctl delete -f examples/gateway/gateway.yaml\n"
	  "  skiffctl delete deployment web\n" },
	{ "scale", cmd_scale, "scale deployment NAME --replicas N",
	  "Set the number of replicas of a deployment",
	  "Example:\n  skiffctl scale deployment/users --replicas 5\n" },
	{ "rollout", cmd_rollout,
	  "rollout status|undo|history|restart|pause|resume deployment NAME [--timeout D]\n"
	  "           [--to-revision N]",
	  "Follow, undo, list, restart, pause or resume a deployment's rollouts",
	  "status prints progress until the rollout is done (exit 0) or has failed or timed\n"
	  "out (exit 1). undo goes back to the previous revision (or --to-revision N).\n"
	  "restart replaces every pod by a rolling update (the template gets the annotation\n"
	  "kubectl.kubernetes.io/restartedAt, as kubectl does). pause stops template\n"
	  "changes from rolling out (scaling still works); resume rolls them out.\n\n"
	  "Example:\n  skiffctl rollout status deployment/web --timeout 2m\n"
	  "  skiffctl rollout undo deployment/web\n" },
	{ "label", cmd_label,
	  "label (KIND NAME…|KIND/NAME…|KIND -l SEL|KIND --all) KEY=VALUE… KEY-… [--overwrite]\n"
	  "           [--dry-run]",
	  "Add, change or remove labels of objects",
	  "KEY=VALUE sets a label, KEY- removes it. Changing a label that has another value\n"
	  "needs --overwrite. -l picks the objects by a label selector, --all takes every\n"
	  "object of the kind. Prints KIND/NAME labeled (or not labeled: nothing changed).\n\n"
	  "Example:\n  skiffctl label pods web-5d8f9-x2k1q tier=front\n"
	  "  skiffctl label deploy -l app=web --overwrite tier=back\n"
	  "  skiffctl label node vm2 disk-\n" },
	{ "annotate", cmd_label,
	  "annotate (KIND NAME…|KIND/NAME…|KIND -l SEL|KIND --all) KEY=VALUE… KEY-…\n"
	  "           [--overwrite] [--dry-run]",
	  "Add, change or remove annotations of objects",
	  "As label, for metadata.annotations.\n\n"
	  "Example:\n  skiffctl annotate deploy/web owner=team-a\n" },
	{ "set", cmd_set,
	  "set image (KIND/NAME…|KIND -l SEL|KIND --all) CONTAINER=IMAGE… [--dry-run]",
	  "Change the image of containers",
	  "CONTAINER=IMAGE sets one container's image, *=IMAGE every container's. For a\n"
	  "deployment the change rolls out as any template change does.\n\n"
	  "Example:\n  skiffctl set image deployment/web web=skiff-demo:2\n" },
	{ "run", cmd_run,
	  "run NAME --image=IMAGE [--labels K=V,…] [--env K=V]… [--port N]\n"
	  "           [--restart Always|OnFailure|Never] [--dry-run] [-o name|json|yaml]\n"
	  "           [--command] [-- ARGS…]",
	  "Create one pod",
	  "Makes pod NAME with one container NAME of IMAGE, labelled run=NAME unless\n"
	  "--labels is given. The words after -- are the container's args, or with\n"
	  "--command its command. A pod of that name must not exist yet.\n\n"
	  "Example:\n  skiffctl run tools --image=skiff-demo:1 --command -- sleep 3600\n" },
	{ "logs", cmd_logs, "logs [-f] [--tail N] [-c CONTAINER] [--previous] POD|deployment/NAME",
	  "Print a container's output",
	  "For deployment/NAME one of its pods is chosen (a running one).\n\n"
	  "Example:\n  skiffctl logs -f deployment/gateway\n"
	  "  skiffctl logs --tail 20 web-5d8f9-x2k1q\n" },
	{ "exec", cmd_exec,
	  "exec [-i] [-t] [-c CONTAINER] [--timeout D] POD|deployment/NAME -- COMMAND [ARGS…]",
	  "Run a command in a running container of a pod",
	  "The command runs in the container's namespaces, root, cgroup, env, user and\n"
	  "working directory, with its capabilities and seccomp profile. Its stdout and\n"
	  "stderr arrive here as they are written; skiffctl exits with its exit code (126\n"
	  "cannot execute, 127 not found, 128+N killed by signal N). For\n"
	  "deployment/NAME one of its pods is chosen (a running one). -c picks the\n"
	  "container (default: the pod's first). -i passes skiffctl's stdin to the\n"
	  "command as it comes (a file is sent whole, at most 2 MiB); without it the\n"
	  "command's stdin is empty. --timeout kills the command after D (e.g. 30s;\n"
	  "default: no limit). -t (-it, --tty) gives the command a terminal of the\n"
	  "local terminal's size (resized with it) and puts the local terminal in raw\n"
	  "mode until the command ends; without a terminal on stdin it warns and runs\n"
	  "without one.\n"
	  "Errors (no such pod or container, pod not running, node not connected, timed\n"
	  "out, agent lost) are one line on stderr and exit code 1.\n\n"
	  "Example:\n  skiffctl exec web-5d8f9-x2k1q -- cat /etc/hostname\n"
	  "  skiffctl exec deployment/users -c app -- sh -c 'ls /data | wc -l'\n"
	  "  echo hello | skiffctl exec -i deployment/users -- cat\n" },
	{ "image", cmd_image, "image load FILE|DIR|- [--name NAME[:TAG]] | ls [-o json] | rm NAME…",
	  "Load, list or remove images of the cluster's image store",
	  "load reads an OCI image layout (directory or tar), a `docker save` archive or\n"
	  "a rootfs tar (plain, gzip or zstd; FILE, or - for stdin), checks every blob\n"
	  "against its digest and uploads to the brain the blobs it lacks, in pieces (a\n"
	  "dropped connection continues where it stopped). The image is named by the\n"
	  "archive, or by --name (required for a rootfs tar). Agents pull what they lack\n"
	  "from the brain when a pod needs the image. ls shows NAME TAG DIGEST SIZE\n"
	  "NODES (the nodes that hold it); rm removes the record and the blobs no other\n"
	  "image uses (nodes keep their copy until their image GC frees it).\n\n"
	  "Example:\n  skiffctl image load web.oci.tar\n"
	  "  docker save web:1.4 | skiffctl image load -\n"
	  "  skiffctl image load --name tools:1 rootfs.tar.gz\n  skiffctl image ls\n"
	  "  skiffctl image rm web:1.4\n" },
	{ "cordon", cmd_node_action, "cordon NODE", "Mark a node unschedulable",
	  "Example:\n  skiffctl cordon vm2\n" },
	{ "uncordon", cmd_node_action, "uncordon NODE", "Mark a node schedulable again",
	  "Example:\n  skiffctl uncordon vm2\n" },
	{ "drain", cmd_node_action, "drain NODE", "Cordon a node and move its pods elsewhere",
	  "Example:\n  skiffctl drain vm2\n" },
	{ "token", cmd_token,
	  "token create [--ttl D] [--uses N] [--description TEXT] | list | delete ID…",
	  "Make, list or delete join tokens",
	  "A join token lets a machine ask to join, nothing more: a JOIN for a node name\n"
	  "that is taken waits for 'skiffctl certificate approve'. create prints the whole\n"
	  "token once (the brain keeps only a hash of its secret); --ttl defaults to 24h\n"
	  "(0: never expires), --uses to no limit. The token in <data-dir>/join-token is\n"
	  "the default token (no expiry); deleting it removes that file.\n\n"
	  "Example:\n  skiffctl token create --ttl 1h --uses 3\n  skiffctl token list\n"
	  "  skiffctl token delete 3f9a1c\n" },
	{ "certificate", cmd_certificate,
	  "certificate list [--issued] | approve NODE… | deny NODE… | revoke SERIAL|NAME…",
	  "Approve or deny join requests; list or revoke certificates",
	  "list shows the JOINs waiting for an admin (a node name that exists or has a\n"
	  "certificate, e.g. an agent whose state dir was wiped); approve lets that\n"
	  "request's key in (the node's old certificates are revoked), deny refuses it.\n"
	  "list --issued shows every certificate the brain issued; revoke refuses one\n"
	  "(by serial) or all of a subject (by name) from then on, also after a restart.\n"
	  "skiffctl delete node NAME revokes the node's certificates too.\n\n"
	  "Example:\n  skiffctl certificate list\n  skiffctl certificate approve vm2\n"
	  "  skiffctl certificate revoke ops\n" },
	{ "config", cmd_config, "config new-admin NAME [--role view|admin] [-o FILE]",
	  "Issue another admin or a read-only (view) config",
	  "The key is made here and never leaves this machine; the brain signs it for\n"
	  "CN=NAME and the role. A view config can get, list, watch, describe and read\n"
	  "logs, but not apply, delete, scale, exec, drain, cordon, rollout, or manage\n"
	  "tokens and certificates. Without -o the config is printed to stdout.\n\n"
	  "Example:\n  skiffctl config new-admin alice --role view -o alice.conf\n" },
	{ "version", cmd_version, "version [--client]", "Print the client and server versions",
	  "Example:\n  skiffctl version\n" },
	{ "help", NULL, "help [VERB]", "Show help for skiffctl or one verb",
	  "Example:\n  skiffctl help apply\n" },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < N_VERBS; i++)
		if (streq(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

void ctl_help(const char *name)
{
	const struct verb *v = name ? find_verb(name) : NULL;
	if (v) {
		printf("%s.\n\nUsage:\n  skiffctl %s\n\n%s\nGlobal options:\n"
		       "  --config FILE   the cluster config (default $SKIFF_CONFIG, then "
		       "~/.skiff/config)\n"
		       "  -n, --namespace NS  the namespace of namespaced objects (default "
		       "\"default\")\n"
		       "  -A, --all-namespaces  get: every namespace (a NAMESPACE column first)\n",
		       v->summary, v->usage, v->details);
		return;
	}
	printf("skiffctl drives a Skiff cluster.\n\nUsage:\n  skiffctl [--config FILE] VERB "
	       "[ARGS…]\n\nVerbs:\n");
	for (size_t i = 0; i < N_VERBS; i++)
		printf("  %-14s %s\n", verbs[i].name, verbs[i].summary);
	printf(
	    "\nKinds: nodes (no), pods (po), deployments (deploy), services (svc), events "
	    "(ev),\nnamespaces (ns). Pods, deployments, services and events live in a namespace\n"
	    "(-n NS; default \"default\"; -A: all of them).\n"
	    "Config: --config FILE, then $SKIFF_CONFIG, then ~/.skiff/config (the brain "
	    "writes\n<data-dir>/admin.conf on first start).\n"
	    "Exit codes: 0 success, 1 refused or failed, 2 usage error.\n"
	    "Use 'skiffctl help VERB' or 'skiffctl VERB --help' for more.\n");
}

/* The verbs about namespaced objects: they take -n/-A (the others keep
 * their own -n, as image load's --name, and pki's --namespace). */
static bool verb_namespaced(const char *name)
{
	static const char *const v[] = { "apply",   "get",   "describe", "delete", "scale",
					 "rollout", "label", "annotate", "set",	   "run",
					 "logs",    "exec",  "create" };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (streq(name, v[i]))
			return true;
	return false;
}

/* -n NS, --namespace NS|=NS, -nNS, -A, --all-namespaces at argv[*k]: 1 when
 * taken (*k moved past its value), 0 when argv[*k] is something else,
 * CTL_USAGE after printing why. */
static int namespace_flag(const char *verb, int argc, char **argv, int *k)
{
	const char *ns = NULL, *a = argv[*k];
	if (streq(a, "-n") || streq(a, "--namespace")) {
		if (*k + 1 >= argc)
			return -ctl_usage_error(verb, "%s needs a NAMESPACE", a);
		ns = argv[++*k];
	} else if (skiff_startswith(a, "--namespace=")) {
		ns = a + strlen("--namespace=");
	} else if (skiff_startswith(a, "-n") && a[2]) {
		ns = a + 2;
	} else if (streq(a, "-A") || streq(a, "--all-namespaces")) {
		ctl_all_namespaces = true;
		return 1;
	} else {
		return 0;
	}
	if (!skiff_name_valid(ns, 63))
		return -ctl_usage_error(verb,
					"namespace \"%s\" is not a valid name (lower-case letters, "
					"digits and '-', at most 63 characters)",
					ns);
	ctl_namespace_flag = ns;
	return 1;
}

/* The namespace flags may come anywhere after the verb (before "--"):
 * taken out before the verb parses. */
static int take_namespace_flags(int *argc, char **argv)
{
	int n = 2, k;
	for (k = 2; k < *argc && !streq(argv[k], "--"); k++) {
		int r = namespace_flag(argv[1], *argc, argv, &k);
		if (r < 0)
			return -r;
		if (r == 0)
			argv[n++] = argv[k];
	}
	while (k < *argc)
		argv[n++] = argv[k++];
	*argc = n;
	argv[n] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	/* --config may come anywhere; take it out before the verb parses */
	int n = 1;
	int k;
	for (k = 1; k < argc && !streq(argv[k], "--"); k++) {
		if (streq(argv[k], "--config") || streq(argv[k], "--kubeconfig")) {
			if (k + 1 >= argc)
				return ctl_usage_error(NULL, "--config needs a FILE");
			ctl_config_flag = argv[++k];
			continue;
		}
		if (skiff_startswith(argv[k], "--config=")) {
			ctl_config_flag = argv[k] + strlen("--config=");
			continue;
		}
		if (n == 1) { /* before the verb: kubectl -n NS get pods */
			int r = namespace_flag(NULL, argc, argv, &k);
			if (r < 0)
				return -r;
			if (r > 0)
				continue;
		}
		argv[n++] = argv[k];
	}
	while (k < argc) /* after "--" everything is the verb's (exec's command) */
		argv[n++] = argv[k++];
	argc = n;
	argv[argc] = NULL;

	if (argc < 2) {
		ctl_help(NULL);
		return CTL_USAGE;
	}
	const char *name = argv[1];
	if (streq(name, "--help") || streq(name, "-h")) {
		ctl_help(NULL);
		return CTL_OK;
	}
	if (streq(name, "--version")) {
		printf("skiffctl %s\n", SKIFF_VERSION);
		return CTL_OK;
	}
	const struct verb *v = find_verb(name);
	if (!v) {
		const char *best = NULL;
		for (size_t i = 0; i < N_VERBS; i++)
			if (skiff_edit_distance(name, verbs[i].name) <= 2)
				best = verbs[i].name;
		if (best)
			return ctl_usage_error(NULL, "unknown verb \"%s\"; did you mean \"%s\"?",
					       name, best);
		return ctl_usage_error(NULL, "unknown verb \"%s\"", name);
	}
	if (!v->run) { /* help */
		if (argc > 2 && !find_verb(argv[2]))
			return ctl_usage_error(NULL, "no help for unknown verb \"%s\"", argv[2]);
		ctl_help(argc > 2 ? argv[2] : NULL);
		return CTL_OK;
	}
	for (int i = 2; i < argc && !streq(argv[i], "--"); i++)
		if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			ctl_help(v->name);
			return CTL_OK;
		}
	if (verb_namespaced(v->name)) {
		int r = take_namespace_flags(&argc, argv);
		if (r)
			return r;
	}
	int r = v->run(argc - 1, argv + 1);
	ctl_disconnect();
	fflush(stdout);
	return r;
}
