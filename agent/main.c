/* main.c — skiff-agent: the node daemon. Parses flags, re-adopts what the
 * state dir says runs, connects to the brain and runs the event loop.
 *
 * SIGTERM/SIGINT stop the agent and nothing else: containers belong to their
 * shims and keep running until a later agent re-adopts them.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "quantity.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skiff-agent --server HOST:PORT --token TOKEN [options]\n"
		"  --server HOST:PORT     the brain (default port 7443)\n"
		"  --token TOKEN          join token printed by the brain (first start only)\n"
		"  --name NAME            node name (default: the hostname)\n"
		"  --address IP           this node's address other nodes route pod traffic to\n"
		"                         (default: the local address of the connection to\n"
		"                         the brain)\n"
		"  --state-dir DIR        default /var/lib/skiff/agent\n"
		"  --image-dir DIR        default /var/lib/skiff/images\n"
		"  --cgroup-parent PATH   below each cgroup controller (default skiff/NAME)\n"
		"  --runtime PATH         skiff-runtime (default: next to skiff-agent)\n"
		"  --labels k=v,...       node labels\n"
		"  --log-max SIZE         per-container log cap before rotation (e.g. 10Mi)\n"
		"  --brain-wait DUR       after a start, hold container (re)starts until the\n"
		"                         brain's first assignment, at most this long\n"
		"                         without the brain (default 2s; 0: never hold)\n"
		"  --pod-pids-limit N     pid limit of every container (default 4096; 0: none)\n"
		"  --ephemeral-storage-default SIZE\n"
		"                         ephemeral-storage limit of a container that sets\n"
		"                         none (default 0: none)\n"
		"  --log-level LEVEL      error|warn|info|debug\n"
		"  --insecure-plaintext   no TLS, no join (debugging against a plaintext brain)\n"
		"  --registry-ca FILE     CAs trusted for registries (default: the cluster CA;\n"
		"                         the system's CAs always)\n"
		"  --insecure-registry HOST[:PORT]\n"
		"                         speak plain HTTP to this registry (repeatable)\n"
		"  --registry-credentials FILE\n"
		"                         USER:PASSWORD for registries' token endpoints\n"
		"  --registry-timeout DUR a registry silent this long fails the pull (30s)\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	(void)what;
	log_info("signal %d: agent exiting; containers keep running", (int)sig);
	event_base_loopbreak(a->base);
}

static char *default_runtime(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup("skiff-runtime");
	exe[n] = 0;
	return xasprintf("%s/skiff-runtime", dirname(exe));
}

int main(int argc, char **argv)
{
	struct agent agent = { 0 };
	struct agent *a = &agent;
	struct agent_config *c = &a->cfg;
	a->inotify_fd = -EBADF;
	enum {
		O_SERVER = 256,
		O_TOKEN,
		O_NAME,
		O_ADDRESS,
		O_STATE,
		O_IMAGES,
		O_CGROUP,
		O_RUNTIME,
		O_LABELS,
		O_LOGMAX,
		O_LOGLEVEL,
		O_BRAINWAIT,
		O_PIDS,
		O_EPHEMERAL,
		O_INSECURE,
		O_REG_CA,
		O_REG_INSECURE,
		O_REG_CRED,
		O_REG_TIMEOUT,
		O_HELP
	};
	static const struct option opts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "name", required_argument, NULL, O_NAME },
		{ "address", required_argument, NULL, O_ADDRESS },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "image-dir", required_argument, NULL, O_IMAGES },
		{ "cgroup-parent", required_argument, NULL, O_CGROUP },
		{ "runtime", required_argument, NULL, O_RUNTIME },
		{ "labels", required_argument, NULL, O_LABELS },
		{ "log-max", required_argument, NULL, O_LOGMAX },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "brain-wait", required_argument, NULL, O_BRAINWAIT },
		{ "pod-pids-limit", required_argument, NULL, O_PIDS },
		{ "ephemeral-storage-default", required_argument, NULL, O_EPHEMERAL },
		{ "insecure-plaintext", no_argument, NULL, O_INSECURE },
		{ "registry-ca", required_argument, NULL, O_REG_CA },
		{ "insecure-registry", required_argument, NULL, O_REG_INSECURE },
		{ "registry-credentials", required_argument, NULL, O_REG_CRED },
		{ "registry-timeout", required_argument, NULL, O_REG_TIMEOUT },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	int o;

	skiff_log_set_component("skiff-agent");
	c->brain_wait_ms = 2000;
	c->pids_limit = 4096;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_SERVER:
			c->server = optarg;
			break;
		case O_TOKEN:
			c->token = optarg;
			break;
		case O_NAME:
			c->name = optarg;
			break;
		case O_ADDRESS:
			c->address = optarg;
			break;
		case O_STATE:
			c->state_dir = optarg;
			break;
		case O_IMAGES:
			c->image_dir = optarg;
			break;
		case O_CGROUP:
			c->cgroup_parent = optarg;
			break;
		case O_RUNTIME:
			c->runtime = optarg;
			break;
		case O_LABELS:
			c->labels = optarg;
			break;
		case O_LOGMAX:
			if (skiff_parse_memory(optarg, &c->log_max) < 0 || c->log_max <= 0) {
				fprintf(stderr, "skiff-agent: --log-max '%s' is not a size\n",
					optarg);
				return 2;
			}
			break;
		case O_BRAINWAIT: {
			int64_t ms;
			if (skiff_parse_duration(optarg, &ms) < 0 || ms < 0 || ms > 3600000) {
				fprintf(
				    stderr,
				    "skiff-agent: --brain-wait '%s' is not a duration (e.g. 2s, "
				    "500ms, 0)\n",
				    optarg);
				return 2;
			}
			c->brain_wait_ms = (int)ms;
			break;
		}
		case O_PIDS:
			if (skiff_parse_int64(optarg, &c->pids_limit) < 0 || c->pids_limit < 0) {
				fprintf(stderr,
					"skiff-agent: --pod-pids-limit '%s' is not a number >= 0\n",
					optarg);
				return 2;
			}
			break;
		case O_EPHEMERAL:
			if (skiff_parse_memory(optarg, &c->ephemeral_default) < 0 ||
			    c->ephemeral_default < 0) {
				fprintf(
				    stderr,
				    "skiff-agent: --ephemeral-storage-default '%s' is not a size "
				    "(e.g. 1Gi, 512Mi; 0: none)\n",
				    optarg);
				return 2;
			}
			break;
		case O_LOGLEVEL: {
			enum skiff_log_level lvl;
			if (skiff_log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr,
					"skiff-agent: --log-level '%s': use error, warn, "
					"info or debug\n",
					optarg);
				return 2;
			}
			skiff_log_set_level(lvl);
			break;
		}
		case O_INSECURE:
			c->insecure = true;
			break;
		case O_REG_CA:
			c->registry_ca = optarg;
			break;
		case O_REG_INSECURE: {
			size_t n = 0;
			while (c->insecure_registries && c->insecure_registries[n])
				n++;
			c->insecure_registries =
			    xrealloc(c->insecure_registries, (n + 2) * sizeof(char *));
			c->insecure_registries[n] = optarg;
			c->insecure_registries[n + 1] = NULL;
			break;
		}
		case O_REG_CRED: {
			char *data = NULL;
			size_t len;
			char *colon = NULL;
			if (skiff_read_file(optarg, 4096, &data, &len) >= 0) {
				data[strcspn(data, "\r\n")] = '\0';
				colon = strchr(data, ':');
			}
			if (!colon) {
				fprintf(stderr,
					"skiff-agent: --registry-credentials %s: expected one line "
					"USER:PASSWORD\n",
					optarg);
				free(data);
				return 2;
			}
			*colon = '\0';
			c->registry_user = data; /* kept for the agent's life */
			c->registry_password = colon + 1;
			break;
		}
		case O_REG_TIMEOUT: {
			int64_t ms;
			if (skiff_parse_duration(optarg, &ms) < 0 || ms < 1000 || ms > 3600000) {
				fprintf(stderr,
					"skiff-agent: --registry-timeout '%s' is not a duration "
					"of 1s to 1h\n",
					optarg);
				return 2;
			}
			c->registry_timeout_s = (int)(ms / 1000);
			break;
		}
		case O_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !c->server) {
		fprintf(stderr, "skiff-agent: %s\n",
			optind < argc ? "unexpected argument" : "--server HOST:PORT is required");
		usage(stderr);
		return 2;
	}
	_cleanup_free_ char *server = NULL, *name = NULL, *runtime = NULL, *cg = NULL;
	if (!strchr(c->server, ':'))
		c->server = server = xasprintf("%s:7443", c->server);
	if (!c->name) {
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		c->name = name = xstrdup(host);
	}
	if (!c->name[0] || strchr(c->name, '/') || c->name[0] == '.') {
		fprintf(stderr, "skiff-agent: node name '%s' is not usable\n", c->name);
		return 2;
	}
	if (!c->address || !c->address[0]) {
		a->address_auto = true; /* found at each REGISTER (session.c) */
		c->address = NULL;
	}
	if (!c->state_dir)
		c->state_dir = "/var/lib/skiff/agent";
	if (!c->image_dir)
		c->image_dir = "/var/lib/skiff/images";
	if (!c->runtime)
		c->runtime = runtime = default_runtime();
	if (!c->cgroup_parent)
		c->cgroup_parent = cg = xasprintf("skiff/%s", c->name);
	if (access(c->runtime, X_OK) < 0) {
		fprintf(stderr, "skiff-agent: runtime %s is not executable (--runtime PATH)\n",
			c->runtime);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	a->base = event_base_new();
	a->uplink = &session_uplink;
	if (!a->base) {
		log_error("cannot create the event loop");
		return 1;
	}
	a->events_tail = &a->events;
	pods_init(a);
	if (state_init(a) < 0)
		return 1;
	if (state_load_node(a) < 0)
		log_warn("%s/node.state unreadable; starting from epoch 0", c->state_dir);
	if (a->pod_cidr[0])
		routes_setup_bridge(a);
	log_info("node %s: state %s, images %s, runtime %s, cgroup parent %s", c->name,
		 c->state_dir, c->image_dir, c->runtime, c->cgroup_parent);
	core_hold_start(a);
	if (pods_adopt(a) < 0)
		return 1;
	if (session_start(a) < 0)
		return 2;

	struct event *sigterm = evsignal_new(a->base, SIGTERM, on_signal, a);
	struct event *sigint = evsignal_new(a->base, SIGINT, on_signal, a);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_base_dispatch(a->base);
	core_flush(a);
	event_free(sigterm);
	event_free(sigint);
	return 0;
}
