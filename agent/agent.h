/* agent.h — skiff-agent's internal interfaces, shared by its files only.
 *
 * One struct agent per process, one struct agent_pod per pod the node runs
 * with one struct agent_container per container of the pod. Every
 * file works on the one libevent loop of the agent (single-threaded):
 *   session.c   brain connection: join, register, heartbeats, reconnect
 *   core.c      the pod state machine (no I/O: clock, actions and uplink injected)
 *   pods.c      what the core's actions do: images, sandbox, shims, pidfds
 *   shimctl.c   `skiff-runtime shim` and friends, child processes, state JSON
 *   images.c    image reference -> rootfs (directory, or tar unpacked once)
 *   ipam.c      pod IPs from the node's pod CIDR
 *   disk.c      ephemeral storage: a size-limited file system per pod, eviction
 *   restart.c   restart policy and crash-loop backoff (no I/O)
 *   startspec.c the runtime's command line from the pod spec (no I/O)
 *   probes.c    liveness/readiness probes (exec, TCP, HTTP GET)
 *   logs.c      MSG_AGENT_LOGS from the shim's log files (tail, follow)
 *   exec.c      MSG_AGENT_EXEC: `skiff-runtime exec` with streamed output
 *   endpoints.c the per-pod read-only endpoints directory
 *   routes.c    node bridge and routes to other nodes' pod subnets
 *   state.c     the state dir: pods, epoch, certificates
 *   capacity.c  the node's CPUs and memory for REGISTER
 *   watch.c     the one inotify service (log followers, exit records)
 */
#ifndef SKIFF_AGENT_H
#define SKIFF_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <event2/event.h>

#include "image.h"
#include "skiff.pb-c.h"

#define AGENT_BRIDGE		"skiff0"
#define AGENT_MAX_PODS		110
#define AGENT_BACKOFF_FIRST_MS	100
#define AGENT_BACKOFF_MAX_MS	10000
#define AGENT_STABLE_RUN_MS	10000
#define AGENT_MAX_QUEUED_EVENTS 256
/* the nice value of a shim cleaning up after its container's fast restart */
#define AGENT_OLD_SHIM_NICE 10
/* Shims starting at once: two per CPU (a start is mostly CPU in the kernel:
 * namespaces, mounts, veth, cgroups; the second one fills the waits), at
 * least 4, at most 32. More only thrash the CPUs: on 2 cores 16 at once
 * started 50 pods slower than 4. */
#define AGENT_MIN_STARTING 4
#define AGENT_MAX_STARTING 32

/* Copy src into dst[n], truncating. */
static inline void copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (l > n - 1)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = 0;
}

struct agent_config {
	char *server;
	char *token;
	char *name;
	char *address;
	char *state_dir;
	char *image_dir;
	char *cgroup_parent;
	char *runtime;
	char *labels; /* "k=v,k=v" */
	int64_t log_max;
	int brain_wait_ms;  /* after a start, hold container starts this long for the brain */
	int64_t pids_limit; /* --pids of every container (0: none) */
	/* ephemeral-storage limit of a container that sets none (0: none) */
	int64_t ephemeral_default;
	bool insecure; /* plaintext, no join: debugging only */
	/* registries (images.c): CA file (default: the cluster CA and the
	 * system's), plain-HTTP hosts, credentials, stall timeout */
	char *registry_ca;
	char **insecure_registries; /* NULL-terminated */
	char *registry_user, *registry_password;
	int registry_timeout_s;
};

struct session;
struct spawn;
struct probe;
struct log_follower;
struct exec_run;

enum pod_state {
	POD_NEW,      /* known, no container yet */
	POD_STARTING, /* `skiff-runtime shim` is running */
	POD_RUNNING,  /* container runs; its shim is watched by pidfd */
	POD_BACKOFF,  /* waiting for the restart timer */
	POD_DONE,     /* exited (or failed) and not restarted */
	POD_STOPPING, /* no longer wanted: being killed */
};

/* A pod the node runs: its sandbox (network namespace, IP, volumes,
 * endpoints dir under STATE/pods/<uid>) and its containers, one record per
 * container of the spec, in spec order (the brain caps their number). */
struct agent_pod {
	struct agent *agent;
	struct agent_pod *next;
	char *uid;
	char *name;
	char *ns;	   /* metadata.namespace, "default" when empty */
	Skiff__Pod *spec;  /* owned copy (unpacked) */
	char ip[64];	   /* the sandbox's address, kept for the pod's life */
	bool endpoints_ok; /* its endpoints directory is there (endpoints_write) */
	int n_containers;
	struct pod_disk *disk; /* its ephemeral storage (disk.c); NULL: none */
	/* containers[ci]; NULL once that container is stopped and freed (the
	 * pod goes with its last one) */
	struct agent_container **containers;
};

/* One container of a pod: its own attempts, restarts, backoff and probes. */
struct agent_container {
	struct agent *agent;
	struct agent_pod *pod;
	struct agent_container *next; /* every container of the node (a->containers) */
	enum pod_state state;
	bool desired; /* listed in the latest Assignment */
	bool held;    /* a start waits for the first Assignment (agent_hold) */
	int ci;	      /* index in the pod's spec (0: speaks for the pod in REGISTER) */

	/* the current container attempt */
	int attempt;
	char container_id[192];
	pid_t pid;
	pid_t shim_pid;
	int shim_pidfd;
	struct event *ev_shim;
	int ctr_pidfd; /* the container's main process: its exit is seen before
			* the shim has cleaned up (the fast restart path) */
	struct event *ev_ctr;
	/* the previous attempt's shim, still cleaning up after a fast restart */
	int old_shim_pidfd;
	struct event *ev_old_shim;
	char old_container_id[192];
	bool old_unhealthy;
	struct agent_watch *old_watch; /* on its directory (NULL: none) */
	bool old_reported;	       /* its exit record was read before the shim exited */
	/* status held back until the old shim's record gives the exit's
	 * details (at most a second), so the brain never sees a restart
	 * without its reason */
	bool exit_pending;
	int64_t pending_until_ms; /* then reported without them */
	struct spawn *starter;
	bool start_inflight; /* the core's view: a start is under way (holds a slot) */
	uint64_t queued;     /* waiting for a start slot: its place in the queue (0: not) */
	int64_t started_ms;

	/* status */
	int restarts;
	char *reason;	    /* container state reason (Waiting/Terminated) */
	char *message;	    /* details for people */
	char *last_failure; /* the last start failure reported as an Event */
	/* the image of the last start (agent/images.c): manifest digest and
	 * the config's ExposedPorts, for the status */
	char *image_id;
	char **exposed_ports;
	int exit_code;
	int signal;
	int64_t finished_ms;
	int last_exit_code;
	char *last_reason;
	int64_t last_finished_ms;
	int64_t first_start_ms;
	bool ready;
	bool unhealthy_kill; /* the liveness probe asked for this exit */
	char *evicted;	     /* why the pod was evicted (core_evict): never restarted */

	/* healing */
	int64_t next_backoff_ms;
	int64_t backoff_at_ms; /* BACKOFF: start again then (0: no timer) */

	/* stopping: SIGKILL then (0: no timer) */
	int64_t kill_at_ms;

	/* probe results in a row: [0] liveness, [1] readiness */
	int probe_ok[2], probe_fail[2];
	struct probe *liveness;
	struct probe *readiness;
	bool status_dirty;
};

struct route {
	char cidr[64];
	char via[64];
};

struct queued_event {
	struct queued_event *next;
	uint8_t *data; /* packed Skiff__Event */
	size_t len;
};

/* What the pod state machine (pods.c) needs of the brain connection;
 * session.c implements it (session_uplink), a unit test can fake it. Each
 * send returns false for "not now" (the caller keeps it for later). */
struct agent_uplink {
	bool (*send_status)(struct agent *a, struct agent_pod *pod);
	/* the pod is stopped and removed (PodStatusReport.stopped) */
	bool (*send_stopped)(struct agent *a, struct agent_pod *pod);
	bool (*send_event)(struct agent *a, const uint8_t *packed, size_t len);
	bool (*connected)(struct agent *a); /* registered */
	bool (*talking)(struct agent *a);   /* a connection is up, registered or not */
};

/* The core's clock: now, and a wake-up at (or soon after) at_ms, when
 * core_tick() must run; an earlier wake-up replaces a later one. */
struct agent_clock {
	int64_t (*now_ms)(struct agent *a);
	void (*wake_at)(struct agent *a, int64_t at_ms);
};

/* Why a start did not happen (core_actions.start). */
struct core_failure {
	char reason[64]; /* ImageNotFound, VolumeError, NetworkError, ... */
	char *message;	 /* owned: "REASON: what and where" */
	bool retry;	 /* may succeed later (retried with the backoff) */
};

/* What the core asks of the node; pods.c implements it (pods_actions),
 * a unit test fakes it. None of them calls back into the core. */
struct agent_actions {
	/* Begin attempt id of c: image, sandbox, volumes, then the shim.
	 * 0: under way, core_start_done() follows; < 0: nothing runs, *ret
	 * says why. */
	int (*start)(struct agent_container *c, const char *id, struct core_failure *ret);
	void (*signal)(struct agent_container *c, int sig); /* the running attempt */
	void (*unwatch)(struct agent_container *c);	    /* forget its processes (it exited) */
	void (*release)(struct agent_container *c);	    /* before c is freed */
	void (*delete_attempt)(struct agent *a, const char *id);
	void (*probes)(struct agent_container *c, bool run);
	void (*running)(struct agent_container *c); /* a new attempt runs (log followers) */
	void (*save_pod)(struct agent_pod *pod);
	void (*save_run)(struct agent_container *c);
	void (*pod_wanted)(struct agent_pod *pod);  /* listed: its endpoints file */
	void (*pod_removed)(struct agent_pod *pod); /* files and sandbox, off the loop */
	void (*assignment)(struct agent *a);	    /* a new Assignment: routes */
};

struct agent {
	struct event_base *base;
	const struct agent_uplink *uplink;
	const struct agent_clock *clock;
	const struct agent_actions *actions;
	struct agent_config cfg;
	char *containers_dir;		  /* STATE/containers: the shims' --state */
	struct skiff_image_store *images; /* IMAGE_DIR/store, opened when first needed */
	uint64_t epoch;
	char pod_cidr[64];
	int heartbeat_ms;
	struct session *session;
	struct agent_pod *pods;
	struct agent_container *containers; /* of every pod */
	bool have_assignment;
	Skiff__Assignment *assignment; /* latest, owned */
	bool reconcile_due;	       /* compare again on the next tick */
	struct event *ev_wake;	       /* the clock's one timer (pods.c) */
	int64_t wake_ms;
	struct queued_event *events, **events_tail;
	int n_events;
	struct log_follower *followers;
	bool net_ready;
	/* From the agent's start until the first Assignment (or until the
	 * brain proves unreachable): no container is started or restarted, so
	 * a pod the brain moved away while this node was gone never runs twice. */
	bool hold;
	int64_t hold_until_ms;
	int hold_rounds;
	/* no --address: the local address of the route to the brain */
	bool address_auto;
	char address_buf[64];
	/* the one inotify service (watch.c) */
	int inotify_fd;
	struct event *ev_inotify;
	struct agent_watch *watches;
	int watch_delivering;
	int starting;	      /* shims being started */
	int max_starting;     /* at most this many (AGENT_*_STARTING) */
	uint64_t queue_seq;   /* last start-queue ticket */
	struct route *routes; /* installed to other nodes' pod subnets (routes.c) */
	size_t n_routes;
	uint32_t ipam_next;	    /* where the next pod IP is looked for (ipam.c) */
	struct exec_run *exec_runs; /* live `skiffctl exec` streams (exec.c) */
	struct event *ev_disk;	    /* the ephemeral-storage check (disk.c) */
};

/* capacity.c */
uint64_t agent_capacity_cpu_milli(void);
int64_t agent_capacity_memory(void);

/* state.c — STATE/{node.crt,node.key,ca.crt,node.state}, STATE/pods/<uid>/{pod.pb,run} */
int state_init(struct agent *a);
int state_load_node(struct agent *a);
int state_save_node(struct agent *a);
int state_have_certs(struct agent *a);
int state_load_certs(struct agent *a, char **ret_ca, char **ret_cert, char **ret_key);
int state_save_certs(struct agent *a, const char *ca, const char *cert, const char *key);
/* The key to join with: STATE/node.key when there is one (its certificate
 * expired), else STATE/join.key, made on the first attempt and kept until
 * the join succeeds (state_join_done()), so an approval matches. */
int state_join_key(struct agent *a, char **ret_key);
void state_join_done(struct agent *a);
/* A renewed certificate: node.key and node.crt are replaced so that a crash
 * at any point leaves a matching pair (node.*.next, finished on load). */
int state_replace_cert(struct agent *a, const char *cert, const char *key);
char *state_pod_dir(struct agent *a, const char *uid);
int state_save_pod(struct agent_pod *pod);	   /* pod.pb and every run file */
int state_save_pod_run(struct agent_container *p); /* run only (run.<ci> for container ci > 0) */
/* run.<ci> of a pod's container ci > 0 ("" when missing; owned) */
char *state_read_run(struct agent *a, const char *uid, int ci);
int state_remove_pod(struct agent *a, const char *uid);
int state_load_pods(struct agent *a,
		    int (*fn)(struct agent *a, Skiff__Pod *spec, const char *run, void *ud),
		    void *ud);
/* parse "key=value" lines of a run file */
const char *state_run_get(const char *run, const char *key, char *buf, size_t len);

/* shimctl.c */
typedef void (*spawn_done_fn)(int status, const char *out, const char *err, void *userdata);
/* Run argv as a child; done runs once with its wait status (or -1 on timeout)
 * and what it printed (at most 64 KiB each). */
int spawn_start(struct event_base *base, char *const argv[], int timeout_ms, spawn_done_fn done,
		void *userdata, struct spawn **ret);
/* posix_spawn argv with fds[i] as its fd i (fds[i] < 0: /dev/null), every
 * signal unblocked and PIPE/TERM/INT at their defaults, in a session of its
 * own when new_session. Returns a pidfd on the child (its pid in *ret_pid),
 * or -errno. */
int spawn_process(char *const argv[], const int *fds, int n_fds, bool new_session, pid_t *ret_pid);
/* `skiff-runtime shim --foreground …` as a child in a session of its own:
 * done runs with status 0 as soon as it has printed "OK PID" and closed its
 * stdout (it goes on as the container's shim, reaped here when it ends),
 * or, when it fails, with its exit status and its "ERR CODE MESSAGE" line. */
int spawn_shim(struct event_base *base, char *const argv[], int timeout_ms, spawn_done_fn done,
	       void *userdata, struct spawn **ret);
/* fn(arg) in a forked child (work that must not block the loop); the child
 * is reaped on the loop, and done(arg) runs in the parent right away
 * (the parent's copy of arg is no longer needed). */
int spawn_call(struct event_base *base, void (*fn)(void *), void (*done)(void *), void *arg);
/* Kill and forget: the callback never runs. A shim is not killed: it
 * finishes the start on its own (a restarted agent adopts it) and is still
 * reaped here when it ends. */
void spawn_cancel(struct spawn *s);

struct shim_state {
	char status[16]; /* running | exited */
	pid_t pid;
	pid_t shim_pid;
	int64_t started_ms;
	int64_t finished_ms;
	int exit_code;
	int signal;
	bool oom;
	char reason[32];
	char ip[64];
	/* --layer-dir containers' exit record: the layer's size and its file
	 * system's free space when the container ended (-1: not recorded) */
	int64_t layer_bytes;
	int64_t layer_free;
};
int shim_state_parse(const char *json, struct shim_state *ret);
int shim_state_read(struct agent *a, const char *id, struct shim_state *ret);
int pidfd_open_pid(pid_t pid);
int pidfd_signal(int pidfd, int sig);
/* Fire-and-forget `skiff-runtime delete --state DIR ID --force`. */
void shim_delete(struct agent *a, const char *id);

/* watch.c — the agent's one inotify service */
struct agent_watch;
/* fn(arg, mask, name) for each event of mask on dir (name: "" for the
 * directory itself). */
typedef void (*watch_fn)(void *arg, uint32_t mask, const char *name);
/* NULL when dir cannot be watched (errno). */
struct agent_watch *watch_add(struct agent *a, const char *dir, uint32_t mask, watch_fn fn,
			      void *arg);
/* Stop and free w (NULL: nothing); safe from within a watch_fn. */
void watch_remove(struct agent *a, struct agent_watch *w);

/* images.c */
/* What a container's image resolved to. */
struct agent_image {
	char **layers;		 /* rootfs dirs, lowest first, NULL-terminated */
	struct skiff_image *img; /* NULL for a flat rootfs (no config) */
	char user[32];		 /* "UID:GID" from the image's User, or "" */
};
void agent_image_clear(struct agent_image *im);
/* Resolve the container's image (fetching it from its source when missing,
 * or as imagePullPolicy says); pod (may be NULL) gets the pull events. On
 * failure *ret_errmsg is "Reason: message" for the container status. */
int image_resolve(struct agent *a, struct agent_pod *pod, const Skiff__Container *c,
		  struct agent_image *ret, char **ret_errmsg);

/* podnet.c — the network namespace of a pod's sandbox */
char *podnet_path(struct agent *a, const char *uid);
/* Make sure STATE/pods/<uid>/netns is a network namespace with eth0 = ip on
 * the node bridge (created once for the pod's life; ip NULL: lo only). */
int podnet_ensure(struct agent *a, const char *uid, const char *ip);
/* Delete the sandbox's veth and unmount POD_DIR/netns (a pod dir, maybe
 * already renamed to .gone-<uid>); blocking: call it off the loop. */
void podnet_remove_dir(const char *pod_dir, const char *uid);

/* disk.c — a pod's ephemeral storage: a size-limited file system per pod */
#define DISK_MIN_FS_BYTES (8 << 20) /* ext4 needs some room for itself */
#define DISK_FULL_BYTES	  (1 << 20) /* less free than this: full */
#define DISK_CHECK_MS	  1000
struct disk_plan {
	int64_t fs_bytes; /* the pod file system's size (0: none) */
	bool shared;	  /* every container is limited: emptyDirs without a
			   * sizeLimit go on it too (the pod's total bounds them) */
};
struct disk_use {
	int64_t limit;
	int64_t used;
};
/* limits.ephemeral-storage, else node_default (0: none) */
int64_t disk_container_limit(const Skiff__Container *c, int64_t node_default);
/* The pod file system: the sum of the containers' limits and the disk
 * emptyDirs' sizeLimits (at least DISK_MIN_FS_BYTES; 0: no limit at all). */
void disk_plan_pod(const Skiff__PodSpec *ps, int64_t node_default, struct disk_plan *ret);
bool disk_volume_on_fs(const struct disk_plan *plan, const Skiff__Volume *v);
/* A limit scaled to what a file system of fs_bytes can really hold
 * (capacity: its used + available bytes; ext4's metadata takes a few per
 * cent), so that a limit the file system stops short of is still reached. */
int64_t disk_effective_limit(int64_t limit, int64_t fs_bytes, int64_t capacity);
/* The consumer (index in u) at its limit (within min(DISK_FULL_BYTES,
 * limit/16): a writer's last block that does not fit fails whole) — or,
 * when the file system has less than DISK_FULL_BYTES free (fs_free >= 0),
 * the one nearest its limit; -1: none. */
int disk_over(const struct disk_use *u, int n, int64_t fs_free);
/* "ephemeral-storage limit 64Mi of container web reached (64Mi used)" or
 * "emptyDir sizeLimit 8Mi of volume scratch reached (…)" (owned) */
char *disk_evict_message(bool volume, const char *name, int64_t limit, int64_t used);
/* Did a container whose exit record says layer_bytes / layer_free (-1:
 * unknown) stop at its limit? */
bool disk_exit_reached(int64_t limit, int64_t layer_bytes, int64_t layer_free);
/* Make (or adopt) the pod's file system and memory volumes; blocking
 * (mkfs: tens of ms, once per pod). On failure *ret_msg says why. */
int disk_ensure(struct agent_pod *pod, char **ret_msg);
void disk_pod_free(struct agent_pod *pod);
/* --layer-dir for container ci's attempt id (NULL: not limited; owned) */
char *disk_layer_dir(struct agent_pod *pod, int ci, const char *id);
/* where the pod's emptyDir name lives (owned) */
char *disk_volume_dir(struct agent_pod *pod, const char *name);
/* The container's exit record shows its layer at the limit: the pod is
 * evicted (true). */
bool disk_exit_check(struct agent_container *p, const struct shim_state *st);
/* The file system holding container p's layer is full now (p just
 * exited: its restart waits for the shim's record, which decides). */
bool disk_full(struct agent_container *p);
/* Unmount the pod's file system and memory volumes, delete the image (a
 * pod dir, maybe renamed to .gone-<uid>); blocking: off the loop. */
void disk_remove_dir(const char *pod_dir);

/* ipam.c */
int ipam_gateway(const char *cidr, char *ret_gw, size_t len, int *ret_prefix);
int ipam_allocate(struct agent *a, struct agent_pod *self, char *ret_ip, size_t len);

/* core.c — the pod state machine (no I/O; see the file's comment) */
/* A pod from its spec (taken), one record per container; NULL (spec freed,
 * logged) for a spec no validating brain sends. */
struct agent_pod *core_pod_new(struct agent *a, Skiff__Pod *spec);
void core_free_all(struct agent *a);
void core_apply_assignment(struct agent *a, Skiff__Assignment *as);
/* Hold starts until the first Assignment or brain_wait_ms without the brain. */
void core_hold_start(struct agent *a);
void core_hold_release(struct agent *a, const char *why);
void core_start(struct agent_container *c);
/* The start's outcome: code != 0 the runtime's exit code and error line;
 * else st is the new attempt's state (running: watched by now, or exited). */
void core_start_done(struct agent_container *c, int code, const char *line,
		     const struct shim_state *st);
void core_start_unreadable(struct agent_container *c, int err);
/* The attempt ended; st is its record. */
void core_exited(struct agent_container *c, const struct shim_state *st);
/* The main process ended before its record: true when the core restarts it
 * at once (restartPolicy Always), then core_exited_early() — after the
 * caller has set the old attempt aside — and core_exit_recorded() with the
 * record when it comes. */
bool core_restarts_early(const struct agent_container *c);
void core_exited_early(struct agent_container *c);
void core_exit_recorded(struct agent_container *c, const struct shim_state *st);
/* Evict the pod (its ephemeral storage reached a limit: why): an Event,
 * every container killed and never restarted (Terminated, reason
 * Evicted), so the pod ends Failed and its owner replaces it. */
void core_evict(struct agent_pod *pod, const char *why);
/* One probe check's result (thresholds applied here). */
void core_probe_check(struct agent_container *c, bool liveness, bool ok, const char *why);
/* After an agent restart: the attempt runs (watched), or ended meanwhile. */
void core_adopt_running(struct agent_container *c, pid_t pid, int64_t started_ms);
void core_adopt_exited(struct agent_container *c, const struct shim_state *st);
/* Deadlines due (backoff, grace, hold, exit records), then core_flush. */
void core_tick(struct agent *a);
void core_mark_dirty(struct agent_container *c);
void core_flush(struct agent *a);
void core_fill_running(struct agent *a, Skiff__RegisterRequest *req);
Skiff__PodStatus *core_pod_status(struct agent_pod *pod);
void core_status_free(Skiff__PodStatus *st);
/* The pod ns/name (ns "" or NULL: "default"), NULL when not here. */
struct agent_pod *core_find_pod(struct agent *a, const char *ns, const char *name);
/* The pod's container of that name; NULL or "": its first. NULL: none. */
struct agent_container *core_container(struct agent_pod *pod, const char *name);
/* The container's name (the pod's name when the spec gives none). */
const char *core_container_name(const struct agent_container *c);
void core_container_id(const struct agent_container *c, int attempt, char *buf, size_t len);
void core_report_event(struct agent *a, struct agent_pod *pod, const char *type, const char *reason,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* pods.c — the core's actions and clock on the real node */
extern const struct agent_actions pods_actions;
extern const struct agent_clock pods_clock;
/* the start slots (twice the CPUs, within AGENT_{MIN,MAX}_STARTING) */
void pods_init(struct agent *a);
int pods_adopt(struct agent *a);
void pods_kill_container(struct agent_container *p, int sig);

/* startspec.c — the runtime's command line for a container (no I/O) */
struct strv {
	char **v; /* NULL-terminated */
	size_t n, cap;
};
void strv_push(struct strv *s, char *owned);
void strv_free(struct strv *s);
struct startspec {
	const char *runtime;			/* skiff-runtime */
	const char *containers_dir;		/* the shims' --state */
	const char *id;				/* the attempt's container id */
	const char *rootfs;			/* used when layers is NULL */
	char *const *layers;			/* the image's layer dirs, lowest first */
	const struct skiff_image_config *image; /* NULL: a flat rootfs */
	const char *user;			/* "UID:GID" resolved from the image's User */
	const char *cgroup_parent;
	int64_t log_max;    /* 0: the runtime's default */
	int64_t pids_limit; /* 0: none */
	const char *netns;  /* the sandbox's network namespace file */
	const char *pod_ip; /* "" without a pod CIDR */
	const char *node_name;
	const Skiff__Pod *pod;
	const Skiff__Container *container;
	char *const *service_env;  /* "K=V", NULL-terminated (or NULL) */
	char *const *volumes;	   /* "SRC:DST[:ro]", NULL-terminated (or NULL) */
	const char *endpoints_dir; /* NULL: not mounted */
	const char *layer_dir;	   /* the writable layer (--layer-dir); NULL: the runtime's */
};
/* Append `RUNTIME shim --foreground … -- CMD ARGS…` to args. */
void startspec_build(const struct startspec *in, struct strv *args);
/* Append the container's argv (command/args against the image's Entrypoint
 * and Cmd, Kubernetes' rules) to args; returns how many were added (0: the
 * container has nothing to run). */
size_t startspec_argv(const Skiff__Container *c, const struct skiff_image_config *img,
		      struct strv *args);

/* restart.c — restart policy and crash-loop backoff (no I/O) */
/* Does restartPolicy (NULL or "": Always) restart a container that ended,
 * failed or not? */
bool restart_policy_restarts(const char *policy, bool failed);
/* The delay before the next start of a container whose last attempt ran
 * ran_ms (-1: it never ran, a failure before the start); *next_ms is the
 * backoff state (0 at first), advanced here. */
int64_t restart_backoff_next(int64_t *next_ms, int64_t ran_ms);

/* session.c */
extern const struct agent_uplink session_uplink;
int session_start(struct agent *a);
bool session_connected(struct agent *a);
/* A connection is up (registered or not yet). */
bool session_talking(struct agent *a);
/* Send when connected; false means "not now" (caller keeps it queued). */
bool session_send_status(struct agent *a, struct agent_pod *pod);
/* The pod is stopped and removed (PodStatusReport.stopped): the brain drops a
 * Terminating pod at once. Not connected: a later REGISTER without it says so. */
bool session_send_stopped(struct agent *a, struct agent_pod *pod);
bool session_send_event(struct agent *a, const uint8_t *packed, size_t len);

/* probes.c */
void probes_start(struct agent_container *p);
void probes_stop(struct agent_container *p);

/* logs.c */
struct skiff_rpc_call;
void logs_serve(struct agent *a, struct skiff_rpc_call *call, const Skiff__Frame *request);
void logs_container_changed(struct agent *a, struct agent_container *p);
void logs_pod_gone(struct agent *a, struct agent_pod *pod);

/* exec.c */
void exec_serve(struct agent *a, struct skiff_rpc_call *call, const Skiff__Frame *request);
/* MSG_AGENT_EXEC_INPUT (one-way): stdin for a running exec. */
void exec_input(struct agent *a, const Skiff__Frame *request);

/* endpoints.c */
char *endpoints_dir(struct agent *a, const char *uid);
int endpoints_write(struct agent *a, struct agent_pod *pod);
/* env strings "K=V" for every service of namespace ns (as Kubernetes: a
 * pod's environment names its own namespace's services; owned array,
 * NULL-terminated) */
char **endpoints_service_env(struct agent *a, const char *ns);

/* routes.c */
int routes_setup_bridge(struct agent *a);
void routes_sync(struct agent *a);

#endif
