/* brain.h — the orchestrator's state and control loops, independent of the
 * network: the store of decoded objects, node sessions and their epochs, the
 * scheduler, the controllers (deployments, node lifecycle, endpoints),
 * events, and the operations the API exposes (apply, scale, cordon/drain,
 * rollout undo). main.c/api.c/commit.c wire this to RPC; unit tests drive
 * it directly with a fake clock.
 *
 * Every write goes through brain_put()/brain_delete(), which stamp the
 * revision and mark the agents whose Assignment changed. Nothing is durable
 * before skiff_store_sync(b->store) (the daemon syncs once per loop round and
 * only then answers the requests of that round).
 */
#ifndef SKIFF_BRAIN_H
#define SKIFF_BRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "map.h"
#include "objects.h"
#include "store.h"

#define SKIFF_DEFAULT_NODE_GRACE_MS 3000
/* Extra time every node gets after a brain restart before it can be lost. */
#define SKIFF_NODE_STARTUP_EXTRA_MS 5000
#define SKIFF_DEFAULT_HEARTBEAT_MS  1000
#define SKIFF_DEFAULT_CLUSTER_CIDR  "10.244.0.0/16"
#define SKIFF_MAX_EVENTS	    5000
/* A terminating pod whose agent never says it stopped is removed after its
 * terminationGrace plus this. */
#define SKIFF_TERMINATION_MARGIN_MS 3000

struct brain;

/* One node's session as the brain sees it (in memory only). */
struct brain_node {
	char *name;
	bool connected;
	int64_t last_heartbeat_mono; /* ms */
	int64_t last_heartbeat_ms;   /* wall clock, for status */
	int64_t deadline_mono;	     /* NotReady after this without heartbeat */
	bool dirty;		     /* Assignment must be pushed */
	void *session;		     /* the agent connection (agents.c) */
};

/* What the scheduler and the controllers read of a stored pod, kept next
 * to its packed bytes (the store's decoded form of a pod: o->decoded in
 * skiff_store_foreach()/skiff_store_get() for SKIFF_KIND_POD). The strings
 * are shared copies (intern.h). Everything else is read by unpacking the
 * bytes: brain_get()/brain_copy(). */
struct brain_pod {
	const char *node;	   /* spec.node_name; "" while unbound */
	const char *ns;		   /* metadata.namespace ("default" when empty) */
	const char *owner;	   /* its deployment's key "NS/NAME"; "" for a bare pod */
	const char *owner_kind;	   /* "" (a deployment), "DaemonSet", "Job" */
	const char *template_hash; /* "" for a bare pod */
	const char *phase;	   /* status.phase, "Pending" when empty */
	const char *labels;	   /* metadata.labels, see brain_pod_labels_match() */
	int64_t created_ms;
	int64_t cpu_milli; /* sum of the containers' requests */
	int64_t memory;
	uint64_t message_hash;	/* FNV-1a of status.message */
	uint32_t ip4;		/* status.pod_ip when IPv4 (network order), else 0 */
	bool terminating : 1;	/* metadata.deleted_ms set */
	bool ready : 1;		/* Running and ready (skiff_pod_ready()) */
	bool has_ip : 1;	/* status.pod_ip set */
	bool has_selector : 1;	/* spec.node_selector not empty */
	bool unschedulable : 1; /* status.reason is Unschedulable */
};

struct brain_config {
	int64_t node_grace_ms;
	int heartbeat_ms;
	char *cluster_cidr;
	struct skiff_store_faults *faults; /* tests */
	size_t snapshot_wal_bytes;
	/* A gap this long between node ticks means the brain itself was busy:
	 * node deadlines move by the gap (0: off; the daemon ticks every
	 * 100 ms and uses 1000). */
	int64_t stall_ms;
};

struct brain {
	struct skiff_store *store;
	struct brain_config cfg;
	struct skiff_map *nodes; /* name -> struct brain_node */
	/* Terminating pods: name -> int64_t deadline (mono ms; 0: set at the
	 * next tick, after a restart) after which they are removed anyway. */
	struct skiff_map *terminating;
	bool all_nodes_dirty;
	int64_t last_all_push_mono;
	int64_t last_tick_mono;	     /* brain_nodes_tick(): stalls extend deadlines */
	int64_t (*clock_mono)(void); /* ms; replaceable in tests */
	int64_t (*clock_ms)(void);
	int64_t started_ms;
	uint32_t cidr_base; /* cluster CIDR network, host order */
	int cidr_prefix;
	uint64_t sched_revision; /* store revision the last pass saw */
	uint64_t ctl_revision;
	bool resync;	   /* run every controller on the next round */
	int64_t wake_ms;   /* brain_wake_at(): the earliest asked for (unix ms; 0: none) */
	char **event_fifo; /* names of events, oldest first (cap) */
	size_t event_head, event_count;
	/* Called for each dirty node with a session by brain_push_assignments.
	 * The Assignment's pods are attached packed, as unknown fields of
	 * field number 2 (pods) that protobuf-c packs verbatim (count in
	 * a->base.n_unknown_fields, a->n_pods is 0): pack it, do not read them. */
	void (*push)(struct brain *b, struct brain_node *n, Skiff__Assignment *a, void *userdata);
	void *push_userdata;
	ProtobufCMessage **views; /* pods unpacked by brain_get() */
	size_t n_views, views_cap;
	/* statistics */
	uint64_t placements;
};

int brain_open(const char *data_dir, const struct brain_config *cfg, struct brain **ret);
void brain_free(struct brain *b);
int64_t brain_now_mono(struct brain *b);
int64_t brain_now_ms(struct brain *b);
/* Stamp m as a new object's: a random uid, created now, generation 1. */
void brain_meta_born(struct brain *b, Skiff__ObjectMeta *m);

/* ---- objects (brain.c, podsummary.c) -------------------------------------- */

/* The stored, decoded object (read-only). Pods are stored packed: a pod is
 * unpacked into a view that stays valid until brain_release_views() (the
 * daemon calls it after every loop round); code that walks many pods reads
 * their summaries (brain_pod_get(), skiff_store_foreach()) instead. Other
 * kinds: valid until the next write of that object. */
const void *brain_get(struct brain *b, int kind, const char *name);
/* A stored pod's summary (valid until the next write), NULL when missing. */
const struct brain_pod *brain_pod_get(struct brain *b, const char *name);
/* Free the pod views brain_get() made. */
void brain_release_views(struct brain *b);
/* A label selector against a pod summary's labels (as skiff_selector_match():
 * every pair present; an empty selector matches nothing). */
/* The value of the pod's label key (*ret_len bytes, not NUL-terminated), or
 * NULL: a skiff_label_lookup for skiff_selector_matches_fn (lib/selector.h). */
const char *brain_pod_label(const char *key, size_t *ret_len, void *pod);
bool brain_pod_labels_match(const struct brain_pod *p, Skiff__KeyValue *const *sel, size_t nsel);
/* 64-bit FNV-1a of s ("" for NULL): struct brain_pod.message_hash. */
uint64_t brain_str_hash(const char *s);
/* The summary of a decoded pod (podsummary.c; brain.c's store hook makes
 * one per stored pod), freed with brain_pod_summary_free(). */
struct brain_pod *brain_pod_summary_new(const Skiff__Pod *p);
void brain_pod_summary_free(struct brain_pod *s);
/* The keys of the stored pods of owner (NULL: any; the key of a controller
 * of owner_kind, "" for a deployment) and bound to node (NULL: any), in
 * store order; NULL when none (free each and the array). */
char **brain_pod_names(struct brain *b, const char *owner_kind, const char *owner, const char *node,
		       size_t *ret_n);
/* The keys of every stored object of kind (free each, and v). */
struct brain_names {
	char **v;
	size_t n, cap;
};
struct brain_names brain_names(struct brain *b, int kind);
/* Names and keys. The store key of a namespaced kind's object is
 * "NAMESPACE/NAME" (store.h); brain_get(), brain_copy(), brain_pod_get()
 * and brain_delete() take keys (a namespaced kind's bare NAME is
 * "default/NAME", as in the store). brain_put() keys an object by its metadata (an empty
 * namespace of a namespaced kind is set to "default"). */
char *brain_key(int kind, const char *ns, const char *name);
/* The key a brain_get() of name reads: name with '/' is a key already. */
char *brain_key_of(int kind, const char *name);
char *brain_obj_key(int kind, const ProtobufCMessage *msg);
/* metadata.namespace, "default" when empty. */
const char *brain_obj_namespace(const ProtobufCMessage *msg);
/* A private mutable copy (skiff_obj_free()), NULL when missing. */
void *brain_copy(struct brain *b, int kind, const char *name);
/* Store msg (stamps metadata.revision). */
int brain_put(struct brain *b, int kind, ProtobufCMessage *msg);
int brain_delete(struct brain *b, int kind, const char *name);
/* Record an event about an object (deduplicated: count and last time); name
 * is its key: the event goes into the object's namespace ("default" for a
 * cluster-scoped object) and names it without the namespace. */
void brain_event(struct brain *b, const char *kind, const char *name, const char *type,
		 const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- operations (ops.c; pods leaving: terminate.c) ------------------------ */

/* Validate, default and store a user object. *ret_result is "created",
 * "configured" or "unchanged"; *ret_obj (may be NULL) a copy of the stored
 * object. Errors: -EINVAL with *ret_errmsg naming the field, -EEXIST with
 * create_only. */
int brain_apply(struct brain *b, int kind, ProtobufCMessage *msg, bool create_only, bool dry_run,
		const char **ret_result, ProtobufCMessage **ret_obj, char **ret_errmsg);
int brain_remove(struct brain *b, int kind, const char *name, ProtobufCMessage **ret_obj,
		 char **ret_errmsg);
/* Graceful pod deletion (what DELETE, scale-down, rollouts and drain do): a
 * pod that runs on a connected node gets metadata.deleted_ms (skiffctl shows
 * Terminating), leaves its node's Assignment at once (the agent stops it)
 * and stays until the agent reports it stopped (PodStatusReport.stopped, a
 * Succeeded/Failed phase, or a REGISTER without it), the node is lost, or
 * its terminationGrace + SKIFF_TERMINATION_MARGIN_MS passed. Any other pod
 * is deleted at once. Returns 1 when it wrote, 0 when the pod was already
 * terminating, -ENOENT or a store error. */
int brain_pod_terminate(struct brain *b, const char *name);
/* Remove a terminating pod for good (its agent stopped it). */
int brain_pod_finalize(struct brain *b, const char *name);
/* Remove terminating pods past their deadline (brain_nodes_tick() calls
 * it); returns how many. */
int brain_terminating_tick(struct brain *b);
int brain_scale(struct brain *b, const char *name, int replicas, Skiff__Deployment **ret,
		char **ret_errmsg);
/* action: cordon, uncordon, drain. *ret_evicted: pod names (free each and
 * the array). */
int brain_node_action(struct brain *b, const char *name, const char *action, Skiff__Node **ret,
		      char ***ret_evicted, size_t *ret_n, char **ret_errmsg);
int brain_rollout_undo(struct brain *b, const char *name, int64_t to_revision,
		       Skiff__Deployment **ret, char **ret_msg, char **ret_errmsg);

/* ---- namespaces (namespaces.c) ------------------------------------------ */

/* Create "default" when the store lacks it (brain_open()). */
int brain_namespaces_init(struct brain *b);
/* A namespaced object may be written into m->namespace_ ("" is set to
 * "default"): -ENOENT when that namespace does not exist, -EPERM while it
 * is terminating (with *ret_errmsg as Kubernetes words it). */
int brain_namespace_writable(struct brain *b, Skiff__ObjectMeta *m, char **ret_errmsg);
/* DELETE of a namespace (takes ns, a copy): "default" is refused; else it
 * becomes Terminating and the namespace controller empties and removes it. */
int brain_namespace_remove(struct brain *b, Skiff__Namespace *ns, ProtobufCMessage **ret_obj,
			   char **ret_errmsg);
/* The namespace controller: returns the number of writes. */
int brain_namespaces_reconcile(struct brain *b);

/* ---- agents (nodes.c) ---------------------------------------------------- */

/* REGISTER: create or update the node, new epoch, pod CIDR. */
int brain_node_register(struct brain *b, const Skiff__RegisterRequest *req, void *session,
			Skiff__RegisterResponse *ret, char **ret_errmsg);
/* -ESTALE (with *ret_errmsg) for an old epoch, -ENOENT for an unknown node. */
int brain_node_heartbeat(struct brain *b, const char *node, uint64_t epoch, char **ret_errmsg);
void brain_node_disconnected(struct brain *b, const char *node, void *session);
int brain_pod_status(struct brain *b, const Skiff__PodStatusReport *rep, char **ret_errmsg);
int brain_event_report(struct brain *b, const char *node, const Skiff__Event *ev,
		       char **ret_errmsg);
/* Node lifecycle: NotReady after the grace, pods of lost nodes deleted. */
int brain_nodes_tick(struct brain *b);
struct brain_node *brain_node_rt(struct brain *b, const char *name);

/* The Assignment for a node (assign.c). Its pods are unpacked copies; its
 * nodes and services are borrowed (valid until the next write): pack it at
 * once and free it with brain_assignment_free(). */
Skiff__Assignment *brain_assignment(struct brain *b, const char *node);
void brain_assignment_free(Skiff__Assignment *a);
/* Delete every pod bound to node (terminate.c; graceful:
 * brain_pod_terminate(), for a drain; else at once, for a lost node); returns their names (free each and
 * the array). */
char **brain_evict_node_pods(struct brain *b, const char *node, bool graceful, size_t *ret_n);
/* Push to every dirty connected node (assign.c). */
void brain_push_assignments(struct brain *b);
void brain_mark_node_dirty(struct brain *b, const char *node);

/* ---- control loops (deployment.c, scheduler.c, endpoints.c, reconcile.c) -- */

/* A new pod of a controller from template t (workload.c), in namespace
 * ns: named "<prefix>-<5 random characters>", owner_kind ("" for a deployment) and
 * owner set, labels the template's plus extra (n_extra pairs), bound to
 * node when not NULL (daemon sets), Pending. Returns brain_put()'s result. */
int brain_pod_create(struct brain *b, const Skiff__PodTemplate *t, const char *ns,
		     const char *prefix, const char *owner_kind, const char *owner,
		     const char *hash, Skiff__KeyValue *const *extra, size_t n_extra,
		     const char *node);
/* Delete the pods of owner_kind whose owner (of store kind) is gone (a
 * deletion cut short); returns how many. */
int brain_orphans_terminate(struct brain *b, const char *owner_kind, int kind);
/* Ask for a controller pass at unix time ms at the latest (the controllers'
 * timers: job backoff and deadlines, cron schedules, TTLs). */
void brain_wake_at(struct brain *b, int64_t ms);
/* A node's Ready condition is True. */
bool brain_node_is_ready(const Skiff__Node *n);
/* DaemonSet, Job and CronJob controllers (daemonset.c, job.c, cronjob.c):
 * the number of writes. */
int brain_daemonsets_reconcile(struct brain *b);
int brain_jobs_reconcile(struct brain *b);
int brain_cronjobs_reconcile(struct brain *b);
/* A job has its Complete or Failed condition (*ret_failed: Failed). */
bool brain_job_finished(const Skiff__Job *j, bool *ret_failed);
/* Delete a job (its key) with its pods. */
int brain_job_remove(struct brain *b, const char *name);

/* Deployment controller: returns the number of writes. */
int brain_deployments_reconcile(struct brain *b);
/* Scheduler pass: returns the number of pods bound. */
int brain_schedule(struct brain *b);
/* Endpoints controller: returns services updated. */
int brain_endpoints_reconcile(struct brain *b);
/* Everything, in order; returns the number of writes. */
int brain_reconcile(struct brain *b);

#endif
