/* runtime.h — skiff-runtime's internal API: one container's configuration
 * (parsed from the command line), and the concerns that build it: mounts,
 * cgroups, capabilities, seccomp, network, the container process itself, the
 * shim and its state files. Only runtime/ includes this header.
 */
#ifndef SKIFF_RUNTIME_H
#define SKIFF_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

/* Exit codes, as Docker and crun use them. */
#define SKIFF_EXIT_RUNTIME  125
#define SKIFF_EXIT_CANNOT   126
#define SKIFF_EXIT_NOTFOUND 127

#define SKIFF_RUNTIME_RUN_DIR	"/run/skiff-runtime"
#define SKIFF_DEFAULT_LOG_MAX	(10 * 1024 * 1024)
#define SKIFF_DEFAULT_CG_PARENT "skiff"
#define SKIFF_MAX_ID		64

enum skiff_net_mode {
	SKIFF_NET_NONE = 0,
	SKIFF_NET_HOST,
	SKIFF_NET_BRIDGE,
	SKIFF_NET_NS, /* join an existing network namespace (ns:PATH) */
};

struct skiff_volume {
	char *src;
	char *dst;
	bool ro;
};

enum skiff_seccomp_mode {
	SKIFF_SECCOMP_DEFAULT = 0,
	SKIFF_SECCOMP_UNCONFINED,
	SKIFF_SECCOMP_FILE, /* a raw BPF program (as written by --seccomp-export) */
};

/* --rootfs may be given this many times (an image's layers). */
#define SKIFF_MAX_LAYERS 128

struct skiff_config {
	char *id;
	char *rootfs;  /* absolute, resolved: the lowest (or only) layer */
	char **layers; /* every --rootfs, lowest first; overlaid when several */
	size_t n_layers;
	char *hostname;
	char **env; /* NULL-terminated, "K=V" */
	size_t n_env;
	char *workdir;
	uid_t uid;
	gid_t gid;
	int64_t memory;	   /* bytes, 0 = unlimited */
	int64_t cpu_milli; /* 0 = unlimited */
	int64_t pids;	   /* 0 = unlimited */
	struct skiff_volume *volumes;
	size_t n_volumes;
	bool read_only;
	bool init; /* --init: a minimal init is pid 1, the command pid 2 */
	enum skiff_net_mode net;
	char *bridge;
	char *ip_cidr;	  /* "10.244.1.5/24" */
	char *gw;	  /* "10.244.1.1" */
	char *netns_path; /* ns:PATH: /proc/PID/ns/net or a bind-mounted nsfs file */
	uint64_t cap_add; /* bit mask of CAP_* */
	enum skiff_seccomp_mode seccomp;
	char *seccomp_file;
	char *cgroup_parent;
	int64_t log_max;
	char **argv; /* the command, NULL-terminated */
	/* shim only */
	char *state_dir;
	bool foreground; /* --foreground: be the shim, do not fork it off */
	/* --layer-dir: the writable layer here instead of DIR/ID/rw (a file
	 * system of the caller's that bounds what the container can write) */
	char *layer_dir;
};

void skiff_config_free(struct skiff_config *c);
/* Parse `run`/`shim` options from argv (argv[0] is the sub-command). Writes
 * one error line to *ret_errmsg (caller frees) on bad input. */
int skiff_config_parse(int argc, char **argv, bool shim, struct skiff_config *c, char **ret_errmsg);
/* Set or replace one "K=V" of c->env. */
void skiff_config_setenv(struct skiff_config *c, const char *kv);
/* Parse "UID[:GID]". */
int skiff_parse_user(const char *s, uid_t *uid, gid_t *gid);
bool skiff_id_valid(const char *id);

/* ---- cgroup.c ---- */
#define SKIFF_CGROUP_MAX_DIRS 3 /* v1: memory, cpu, pids */
struct skiff_cgroup;
struct skiff_cgroup_limits {
	int64_t memory;
	int64_t cpu_milli;
	int64_t pids;
};
/* One hierarchy layout (crun's cgroup managers are the model): v1 keeps a
 * directory per controller, v2 one unified directory. The skiff_cgroup_*
 * calls below dispatch through cg->mgr; callers never branch on the version. */
struct skiff_cgroup_manager {
	const char *name; /* "v1", "v2" */
	/* make cg->root/.../cg->rel and write the limits; on v2 also open
	 * cg->dirfd (for CLONE_INTO_CGROUP) */
	int (*create)(struct skiff_cgroup *cg, const struct skiff_cgroup_limits *lim);
	/* the cgroup's directories (malloc'ed), how many (<= SKIFF_CGROUP_MAX_DIRS) */
	int (*dirs)(const struct skiff_cgroup *cg, char *out[SKIFF_CGROUP_MAX_DIRS]);
	int (*oom_kills)(const struct skiff_cgroup *cg);
	/* kill what is left and remove the directories (and parents) it made */
	int (*destroy)(struct skiff_cgroup *cg);
};
extern const struct skiff_cgroup_manager skiff_cgroup_v1, skiff_cgroup_v2;

struct skiff_cgroup {
	const struct skiff_cgroup_manager *mgr;
	char *root; /* e.g. "/sys/fs/cgroup" */
	char *rel;  /* "skiff/ID" below the root (v1: below each controller) */
	/* O_PATH fd of the cgroup when the child can be cloned straight into
	 * it (CLONE_INTO_CGROUP, v2), else -EBADF: add the pid after clone */
	int dirfd;
	bool created;
	unsigned v1_made; /* v1: bit i set = controller i's directory is ours */
	/* how many of the leaf's deepest ancestors this cgroup created (v2:
	 * [0]; v1: per controller); destroy removes them while empty */
	unsigned char parents[SKIFF_CGROUP_MAX_DIRS];
};
/* Find how cgroups are mounted under root ("/sys/fs/cgroup"): 1 = v2 unified, 0 = v1. */
int skiff_cgroup_detect(const char *root);
/* The manager for what is mounted at root, or -errno (-ENOMEDIUM: neither
 * cgroup2 nor the v1 controllers, as under `ip netns exec`). */
int skiff_cgroup_find(const char *root, const struct skiff_cgroup_manager **ret);
/* A handle on root/rel without touching it (an existing cgroup: set
 * cg->created to have destroy remove it). */
void skiff_cgroup_open(struct skiff_cgroup *cg, const struct skiff_cgroup_manager *mgr,
		       const char *root, const char *rel);
/* Make the cgroup (-EEXIST: it exists, and is left alone) with its limits. */
int skiff_cgroup_create(struct skiff_cgroup *cg, const struct skiff_cgroup_manager *mgr,
			const char *root, const char *rel, const struct skiff_cgroup_limits *lim);
int skiff_cgroup_add_pid(struct skiff_cgroup *cg, pid_t pid);
/* Open each cgroup.procs of cg for writing: how many (>= 1) or -errno. */
int skiff_cgroup_open_procs(const struct skiff_cgroup *cg, int fds[SKIFF_CGROUP_MAX_DIRS]);
/* Number of OOM kills recorded for the cgroup (>= 0) or -errno. */
int skiff_cgroup_oom_kills(struct skiff_cgroup *cg);
/* Kill what is left, remove the directories. Safe to call twice. */
int skiff_cgroup_destroy(struct skiff_cgroup *cg);
void skiff_cgroup_done(struct skiff_cgroup *cg);
/* v2 writers, exposed for the unit test against a fake tree.
 * enable_controllers creates the missing ancestors of rel's leaf and returns
 * how many of the deepest ones it created (>= 0), or -errno. */
int skiff_cgroup_v2_enable_controllers(const char *root, const char *rel);
int skiff_cgroup_v2_write_limits(const char *dir, const struct skiff_cgroup_limits *lim);
int skiff_cgroup_v2_parse_oom_kills(const char *events);
int skiff_cgroup_v1_parse_oom_kills(const char *oom_control);

/* ---- caps.c ---- */
int skiff_cap_parse(const char *name, int *ret_cap);
/* Drop every capability outside Docker's default set (minus NET_RAW) plus add. */
int skiff_caps_apply(uint64_t add);

/* ---- seccomp.c ---- */
struct skiff_bpf {
	struct sock_filter *filter;
	unsigned short len;
};
/* Get the filter (cached in SKIFF_RUNTIME_RUN_DIR after the first build). */
int skiff_seccomp_prepare(const struct skiff_config *c, struct skiff_bpf *ret);
int skiff_seccomp_load(const struct skiff_bpf *bpf);
void skiff_bpf_done(struct skiff_bpf *b);

/* ---- mounts.c (run in the container's mount namespace) ---- */
/* layer: where upper/, work/ and merged/ are (tmpfs_layer: mount a tmpfs
 * there first, private to the container; nothing touches the disk). */
int skiff_mounts_setup(const struct skiff_config *c, const char *layer, bool tmpfs_layer,
		       char **ret_errmsg);

/* ---- net.c ---- */
int skiff_net_parse(const char *spec, struct skiff_config *c, char **ret_errmsg);
char *skiff_net_host_ifname(const char *id); /* "sk" + 12 hex */
int skiff_net_prepare(const struct skiff_config *c);
/* ns:PATH: an fd on the network namespace (checked to be one), or -errno
 * (-EINVAL: the file is not a network namespace). */
int skiff_net_open_ns(const struct skiff_config *c);
int skiff_net_attach(const struct skiff_config *c, pid_t pid);
int skiff_net_detach(const struct skiff_config *c);

/* ---- container.c ---- */
struct skiff_container {
	struct skiff_config *cfg;
	struct skiff_cgroup cg;
	char *layer_dir;  /* per-container writable layer dir (removed at the end) */
	bool tmpfs_layer; /* layer_dir is a shared mount point for a private tmpfs */
	pid_t pid;	  /* host pid of the container's pid 1 */
	int pidfd;
	int sync_fd;	 /* parent end of the sync socket */
	int exit_status; /* raw wait status of the workload */
	bool have_status;
	bool net_attached;
	int64_t started_ms, finished_ms;
	uint64_t starttime; /* /proc/PID/stat field 22 */
};
/* Start: returns 0 once the command was exec'd, or a negative errno with the
 * exit code to use in *ret_code and one line in *ret_errmsg (free()).
 * stdio_fd >= 0 becomes the container's stdout and stderr (stdin /dev/null). */
int skiff_container_start(struct skiff_container *ct, struct skiff_config *c, int stdio_fd,
			  int *ret_code, char **ret_errmsg);
/* Called when pidfd is readable: reap, read the status, clean up. Returns the
 * exit code in Docker convention. */
int skiff_container_reap(struct skiff_container *ct);
void skiff_container_cleanup(struct skiff_container *ct);
/* Fill reason ("Completed"...), exit code and signal. */
void skiff_container_result(const struct skiff_container *ct, bool oom, const char **reason,
			    int *exit_code, int *sig);
uint64_t skiff_proc_starttime(pid_t pid);

/* ---- state.c ---- */
struct skiff_state {
	char *id;
	char *status; /* "running" | "exited" */
	pid_t pid;
	pid_t shim_pid;
	int64_t started_ms, finished_ms;
	int exit_code;
	int signal;
	bool oom;
	char *reason;
	char *rootfs;
	char *cgroup;
	char *ip;
	char *layer; /* --layer-dir (NULL: DIR/ID/rw), removed by delete */
	/* with --layer-dir, in the exit record: what the writable layer held
	 * and what its file system had left when the container ended (-1:
	 * unknown), so the caller can tell a container stopped by a full
	 * disk after the layer is gone */
	int64_t layer_bytes, layer_free;
	uint64_t pid_starttime;
	uint64_t shim_starttime;
};
int skiff_state_write(const char *dir, const struct skiff_state *s);
int skiff_state_read(const char *dir, const char *id, struct skiff_state *s);
char *skiff_state_to_json(const struct skiff_state *s);
void skiff_state_done(struct skiff_state *s);

/* ---- commands ---- */
int skiff_cmd_run(int argc, char **argv);
int skiff_cmd_shim(int argc, char **argv);
int skiff_cmd_state(int argc, char **argv);
int skiff_cmd_list(int argc, char **argv);
int skiff_cmd_kill(int argc, char **argv);
int skiff_cmd_delete(int argc, char **argv);
int skiff_cmd_exec(int argc, char **argv);

/* ---- cmd-exec.c ---- */
/* DIR/ID/config: the shim's own arguments (NUL-separated), so that `exec`
 * gives its command the container's env, user, workdir, capabilities and
 * seccomp profile by parsing them again. */
int skiff_exec_config_save(const char *cdir, int argc, char **argv);

#endif
