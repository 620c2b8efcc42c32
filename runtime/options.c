/* options.c — the command line of `run` and `shim` into a struct
 * skiff_config, validated up front so that bad input fails before anything
 * is created: one line naming the option and the value, exit code 125.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "quantity.h"
#include "runtime.h"
#include "util.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void skiff_config_free(struct skiff_config *c)
{
	free(c->id);
	free(c->rootfs);
	for (size_t i = 0; i < c->n_layers; i++)
		free(c->layers[i]);
	free(c->layers);
	free(c->hostname);
	for (size_t i = 0; i < c->n_env; i++)
		free(c->env[i]);
	free(c->env);
	free(c->workdir);
	free(c->layer_dir);
	for (size_t i = 0; i < c->n_volumes; i++) {
		free(c->volumes[i].src);
		free(c->volumes[i].dst);
	}
	free(c->volumes);
	free(c->bridge);
	free(c->netns_path);
	free(c->ip_cidr);
	free(c->gw);
	free(c->seccomp_file);
	free(c->cgroup_parent);
	free(c->state_dir);
	/* argv points into the process's own argv */
	*c = (struct skiff_config){ 0 };
}

bool skiff_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > SKIFF_MAX_ID || id[0] == '.' || id[0] == '-')
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

int skiff_parse_user(const char *s, uid_t *uid, gid_t *gid)
{
	uint32_t u, g;
	_cleanup_free_ char *copy = xstrdup(s);
	char *colon = strchr(copy, ':');

	if (colon)
		*colon = 0;
	if (skiff_parse_uint32(copy, &u) < 0)
		return -EINVAL;
	g = u;
	if (colon && skiff_parse_uint32(colon + 1, &g) < 0)
		return -EINVAL;
	*uid = u;
	*gid = g;
	return 0;
}

static void env_add(struct skiff_config *c, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (size_t i = 0; i < c->n_env; i++)
		if (strncmp(c->env[i], kv, klen) == 0 && c->env[i][klen] == '=') {
			free(c->env[i]);
			c->env[i] = xstrdup(kv);
			return;
		}
	c->env = xrealloc(c->env, (c->n_env + 2) * sizeof(char *));
	c->env[c->n_env++] = xstrdup(kv);
	c->env[c->n_env] = NULL;
}

void skiff_config_setenv(struct skiff_config *c, const char *kv)
{
	env_add(c, kv);
}

static bool env_has(const struct skiff_config *c, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < c->n_env; i++)
		if (strncmp(c->env[i], key, klen) == 0 && c->env[i][klen] == '=')
			return true;
	return false;
}

static int parse_volume(struct skiff_config *c, const char *s, char **ret_errmsg)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *dst = strchr(copy, ':'), *mode = NULL;

	if (dst) {
		*dst++ = 0;
		mode = strchr(dst, ':');
		if (mode)
			*mode++ = 0;
	}
	if (!dst || copy[0] != '/' || dst[0] != '/' || strstr(dst, "/..") ||
	    (mode && strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)) {
		*ret_errmsg =
		    xasprintf("--volume '%s': expected /SRC:/DST[:ro] (absolute paths)", s);
		return -EINVAL;
	}
	if (access(copy, F_OK) < 0) {
		*ret_errmsg = xasprintf("--volume '%s': source %s: %s", s, copy, strerror(errno));
		return -ENOENT;
	}
	c->volumes = xrealloc(c->volumes, (c->n_volumes + 1) * sizeof(*c->volumes));
	c->volumes[c->n_volumes++] = (struct skiff_volume){ .src = xstrdup(copy),
							    .dst = xstrdup(dst),
							    .ro = mode && strcmp(mode, "ro") == 0 };
	return 0;
}

enum {
	OPT_ROOTFS = 256,
	OPT_NAME,
	OPT_ID,
	OPT_STATE,
	OPT_HOSTNAME,
	OPT_MEMORY,
	OPT_CPUS,
	OPT_PIDS,
	OPT_READ_ONLY,
	OPT_NET,
	OPT_CAP_ADD,
	OPT_SECCOMP,
	OPT_CGROUP_PARENT,
	OPT_LOG_MAX,
	OPT_INIT,
	OPT_FOREGROUND,
	OPT_LAYER_DIR,
};

static const struct option options[] = {
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "id", required_argument, NULL, OPT_ID },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'w' },
	{ "user", required_argument, NULL, 'u' },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "volume", required_argument, NULL, 'v' },
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "net", required_argument, NULL, OPT_NET },
	{ "cap-add", required_argument, NULL, OPT_CAP_ADD },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },
	{ "log-max", required_argument, NULL, OPT_LOG_MAX },
	{ "init", no_argument, NULL, OPT_INIT },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "layer-dir", required_argument, NULL, OPT_LAYER_DIR },
	{ NULL, 0, NULL, 0 },
};

int skiff_config_parse(int argc, char **argv, bool shim, struct skiff_config *c, char **ret_errmsg)
{
	const char *rootfs[SKIFF_MAX_LAYERS];
	size_t n_rootfs = 0;
	int opt, r, cap;

	*c = (struct skiff_config){ .log_max = SKIFF_DEFAULT_LOG_MAX };
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+e:w:u:v:", options, NULL)) != -1) {
		switch (opt) {
		case OPT_ROOTFS:
			if (n_rootfs == SKIFF_MAX_LAYERS) {
				*ret_errmsg =
				    xasprintf("--rootfs: more than %d layers", SKIFF_MAX_LAYERS);
				return -E2BIG;
			}
			rootfs[n_rootfs++] = optarg;
			break;
		case OPT_NAME:
		case OPT_ID:
			if (!skiff_id_valid(optarg)) {
				*ret_errmsg =
				    xasprintf("--%s '%s': use 1-%d letters, digits, '_', '-' "
					      "or '.'",
					      opt == OPT_ID ? "id" : "name", optarg, SKIFF_MAX_ID);
				return -EINVAL;
			}
			free(c->id);
			c->id = xstrdup(optarg);
			break;
		case OPT_STATE:
			free(c->state_dir);
			c->state_dir = xstrdup(optarg);
			break;
		case OPT_HOSTNAME:
			if (strlen(optarg) == 0 || strlen(optarg) > 64) {
				*ret_errmsg =
				    xasprintf("--hostname '%s': 1 to 64 characters", optarg);
				return -EINVAL;
			}
			free(c->hostname);
			c->hostname = xstrdup(optarg);
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				*ret_errmsg = xasprintf("--env '%s': expected KEY=VALUE", optarg);
				return -EINVAL;
			}
			env_add(c, optarg);
			break;
		case 'w':
			if (optarg[0] != '/') {
				*ret_errmsg =
				    xasprintf("--workdir '%s': must be an absolute path", optarg);
				return -EINVAL;
			}
			free(c->workdir);
			c->workdir = xstrdup(optarg);
			break;
		case 'u':
			if (skiff_parse_user(optarg, &c->uid, &c->gid) < 0) {
				*ret_errmsg =
				    xasprintf("--user '%s': expected UID[:GID] (numbers)", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MEMORY:
			if (skiff_parse_memory(optarg, &c->memory) < 0 || c->memory < 4096) {
				*ret_errmsg =
				    xasprintf("--memory '%s': not a memory size (e.g. 64Mi, "
					      "512M, 1G; at least 4096 bytes)",
					      optarg);
				return -EINVAL;
			}
			break;
		case OPT_CPUS:
			if (skiff_parse_cpu(optarg, &c->cpu_milli) < 0 || c->cpu_milli < 10) {
				*ret_errmsg =
				    xasprintf("--cpus '%s': not a CPU amount (e.g. 0.5, 2, "
					      "250m; at least 10m)",
					      optarg);
				return -EINVAL;
			}
			break;
		case OPT_PIDS:
			if (skiff_parse_int64(optarg, &c->pids) < 0 || c->pids < 1) {
				*ret_errmsg =
				    xasprintf("--pids '%s': expected a positive number", optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			r = parse_volume(c, optarg, ret_errmsg);
			if (r < 0)
				return r;
			break;
		case OPT_READ_ONLY:
			c->read_only = true;
			break;
		case OPT_NET:
			r = skiff_net_parse(optarg, c, ret_errmsg);
			if (r < 0)
				return r;
			break;
		case OPT_CAP_ADD:
			if (skiff_cap_parse(optarg, &cap) < 0) {
				*ret_errmsg =
				    xasprintf("--cap-add '%s': unknown capability", optarg);
				return -EINVAL;
			}
			c->cap_add |= UINT64_C(1) << cap;
			break;
		case OPT_SECCOMP:
			if (strcmp(optarg, "default") == 0) {
				c->seccomp = SKIFF_SECCOMP_DEFAULT;
			} else if (strcmp(optarg, "unconfined") == 0) {
				c->seccomp = SKIFF_SECCOMP_UNCONFINED;
			} else if (access(optarg, R_OK) == 0) {
				c->seccomp = SKIFF_SECCOMP_FILE;
				free(c->seccomp_file);
				c->seccomp_file = xstrdup(optarg);
			} else {
				*ret_errmsg =
				    xasprintf("--seccomp '%s': not default, unconfined or a "
					      "readable file: %s",
					      optarg, strerror(errno));
				return -EINVAL;
			}
			break;
		case OPT_CGROUP_PARENT: {
			const char *p = optarg;
			while (*p == '/')
				p++;
			if (!*p || strstr(p, "..") || strchr(p, '\n')) {
				*ret_errmsg = xasprintf("--cgroup-parent '%s': expected a relative "
							"path like skiff/vm1",
							optarg);
				return -EINVAL;
			}
			free(c->cgroup_parent);
			c->cgroup_parent = xstrdup(p);
			size_t n = strlen(c->cgroup_parent);
			while (n > 0 && c->cgroup_parent[n - 1] == '/')
				c->cgroup_parent[--n] = 0;
			break;
		}
		case OPT_LOG_MAX:
			if (skiff_parse_memory(optarg, &c->log_max) < 0 || c->log_max < 1024) {
				*ret_errmsg =
				    xasprintf("--log-max '%s': expected a size of at least "
					      "1024 bytes",
					      optarg);
				return -EINVAL;
			}
			break;
		case OPT_INIT:
			c->init = true;
			break;
		case OPT_FOREGROUND:
			if (!shim) {
				*ret_errmsg = xasprintf(
				    "%s: --foreground is an option of 'shim' only", argv[0]);
				return -EINVAL;
			}
			c->foreground = true;
			break;
		case OPT_LAYER_DIR:
			if (!shim || optarg[0] != '/' || strstr(optarg, "/../") ||
			    skiff_endswith(optarg, "/..")) {
				*ret_errmsg =
				    xasprintf("--layer-dir '%s': %s", optarg,
					      shim ? "must be an absolute path without '..'"
						   : "an option of 'shim' only");
				return -EINVAL;
			}
			free(c->layer_dir);
			c->layer_dir = xstrdup(optarg);
			break;
		default:
			*ret_errmsg = xasprintf("%s: unknown option or missing value '%s'", argv[0],
						argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		*ret_errmsg = xasprintf("%s: no command given (… -- CMD [ARG...])", argv[0]);
		return -EINVAL;
	}
	c->argv = argv + optind;
	if (n_rootfs == 0) {
		*ret_errmsg = xasprintf("%s: --rootfs DIR is required", argv[0]);
		return -EINVAL;
	}
	c->layers = xcalloc(n_rootfs, sizeof(char *));
	for (size_t i = 0; i < n_rootfs; i++) {
		char resolved[PATH_MAX];
		struct stat st;
		if (!realpath(rootfs[i], resolved) || stat(resolved, &st) < 0) {
			*ret_errmsg = xasprintf("rootfs '%s': %s", rootfs[i], strerror(errno));
			return -ENOENT;
		}
		if (!S_ISDIR(st.st_mode)) {
			*ret_errmsg = xasprintf("rootfs '%s': not a directory", rootfs[i]);
			return -ENOTDIR;
		}
		c->layers[c->n_layers++] = xstrdup(resolved);
	}
	c->rootfs = xstrdup(c->layers[0]);
	if (shim && (!c->state_dir || !c->id)) {
		*ret_errmsg = xasprintf("shim: --state DIR and --id ID are required");
		return -EINVAL;
	}
	if (!c->id) {
		uint8_t rnd[6];
		char hex[13];
		(void)skiff_random_bytes(rnd, sizeof(rnd));
		skiff_hex(rnd, sizeof(rnd), hex);
		c->id = xasprintf("skiff-%s", hex);
	}
	if (!c->hostname)
		c->hostname = xstrdup(c->id);
	if (!c->cgroup_parent)
		c->cgroup_parent = xstrdup(SKIFF_DEFAULT_CG_PARENT);
	if (!env_has(c, "PATH"))
		env_add(c, DEFAULT_PATH);
	if (!env_has(c, "HOSTNAME")) {
		_cleanup_free_ char *h = xasprintf("HOSTNAME=%s", c->hostname);
		env_add(c, h);
	}
	if (!env_has(c, "HOME"))
		env_add(c, c->uid == 0 ? "HOME=/root" : "HOME=/");
	return 0;
}
