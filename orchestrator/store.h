/* store.h — the brain's durable object store.
 *
 * Objects are opaque packed bytes (packed protobuf-c messages) kept in
 * memory by kind and name. Every change gets the next revision. Changes are
 * applied in memory at once and appended to a write-ahead log buffer; they are
 * durable (and may be acknowledged) only after skiff_store_sync() returned 0:
 * one write() plus one fdatasync() for every change made since the last sync,
 * which is how the daemon does group commit (it syncs once per event-loop
 * round, after handling every request that arrived).
 *
 * On disk (DIR/):
 *   snapshot  all objects at one revision (written to a temporary file, fsync,
 *             rename), made by skiff_store_snapshot(), which then empties the WAL
 *   wal       records appended after the snapshot
 * Record: magic u32 | body length u32 | CRC32C(body) u32 | body, body =
 * revision u64 | op u8 | kind u8 | name length u16 | name | packed object
 * (all little-endian). On open a torn or corrupt tail (an incomplete record,
 * or a bad record with no valid record after it) is truncated with a log
 * line; a bad record followed by valid ones is corruption in the middle of
 * the log and the open fails with -EBADMSG (never silently accepted).
 *
 * A sync that fails leaves memory ahead of the disk: the store refuses every
 * later write (-EIO) and the daemon must exit (fail-stop, as PostgreSQL does
 * after a failed fsync); the next start replays what is on disk.
 *
 * Watch: the last `ring` changes are kept; skiff_store_changes_since() replays
 * those after a revision, or returns -ESTALE when they are gone (the client
 * relists).
 *
 * Interface kept small so an etcd-backed store can be added later.
 * Single-threaded. Returned object pointers are valid until the next write.
 */
#ifndef SKIFF_STORE_H
#define SKIFF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum skiff_kind_id {
	SKIFF_KIND_NODE = 0,
	SKIFF_KIND_POD,
	SKIFF_KIND_DEPLOYMENT,
	SKIFF_KIND_SERVICE,
	SKIFF_KIND_EVENT,
	/* PKI records (certs.c); never written by APPLY/DELETE */
	SKIFF_KIND_TOKEN,
	SKIFF_KIND_CSR,
	SKIFF_KIND_CERTIFICATE,
	/* the cluster's image store (images.c); changed only by MSG_IMAGE_* */
	SKIFF_KIND_IMAGE = 8,
	/* namespaces: scopes for the names of namespaced kinds (ops.c) */
	SKIFF_KIND_NAMESPACE = 9,
	/* workloads besides deployments (#18; 9-11 are reserved for others) */
	SKIFF_KIND_DAEMONSET = 12,
	SKIFF_KIND_JOB = 13,
	SKIFF_KIND_CRONJOB = 14,
	SKIFF_KIND_MAX,
};

enum skiff_store_op {
	SKIFF_STORE_PUT = 1,
	SKIFF_STORE_DELETE = 2,
};

/* "node", "pod", …; NULL when out of range. */
const char *skiff_kind_name(int kind);
/* Kind from its name; -EINVAL when unknown. */
int skiff_kind_parse(const char *s);
/* The PKI records (token, certificaterequest, certificate): admins only,
 * never applied. */
bool skiff_kind_is_pki(int kind);

/* Namespaces. A namespaced kind's objects are stored under the key
 * "NAMESPACE/NAME", a cluster-scoped kind's under "NAME". A namespaced
 * kind's key without '/' means "default/NAME", in every call (get, put,
 * delete) and in the records on disk: a store written before namespaces
 * existed loads with its objects in "default". */
#define SKIFF_DEFAULT_NAMESPACE "default"
/* Whether objects of kind live in a namespace (the rule is one column of
 * lib/manifest.c's kind table, skiff_kind_namespaced(): a new namespaced
 * kind sets it in its row). */
bool skiff_kind_is_namespaced(int kind);
/* The store key of kind's object ns/name (ns NULL or "": "default"; ignored
 * for cluster-scoped kinds), malloc()ed. */
char *skiff_store_key(int kind, const char *ns, const char *name);
/* Split a key into namespace and name: *ret_ns (NUL-terminated into
 * ns_buf[64]) is "" for cluster-scoped keys; returns the name part. */
const char *skiff_key_split(const char *key, char ns_buf[64]);

struct skiff_store;

struct skiff_store_obj {
	const char *name;
	const uint8_t *data;
	size_t len;
	uint64_t revision; /* revision of the last change */
	void *decoded;	   /* opts->decode(data) when a decoder is set */
			   /* data/len are NULL/0 when the store keeps only decoded objects */
};

struct skiff_store_change {
	uint64_t revision;
	int kind;
	int op;
	bool created; /* PUT of an object that did not exist */
	const char *name;
	const uint8_t *data; /* the new object (PUT) or the deleted one (DELETE) */
	size_t len;
};

/* Fault injection for tests: I/O operations (write, fsync, rename, ftruncate)
 * are counted from 1; at operation crash_at the operation is cut short (a
 * write writes only its first half) and every later I/O fails with -EIO, as
 * if the process had died there. fail_at makes only that operation fail. */
struct skiff_store_faults {
	long crash_at;
	long fail_at;
	long count; /* operations so far (read by tests) */
};

struct skiff_store_options {
	size_t ring;			   /* watch ring entries; 0: 8192 */
	size_t snapshot_wal_bytes;	   /* hint for skiff_store_want_snapshot(); 0: 64 MiB */
	struct skiff_store_faults *faults; /* tests only */
	/* Optional: keep a decoded form of every object next to its bytes
	 * (the brain keeps unpacked protobuf messages). decode returns NULL
	 * for bytes it cannot decode (the object is then kept undecoded). */
	void *(*decode)(int kind, const uint8_t *data, size_t len);
	void (*free_decoded)(int kind, void *decoded);
	/* Optional with decode: keep only the decoded form in the tables (the
	 * bytes are re-made by encode() for snapshots and deletions); objects
	 * then have data NULL and len 0. The watch ring keeps bytes. */
	uint8_t *(*encode)(int kind, const void *decoded, size_t *ret_len);
	/* Kinds (bits 1u << kind) whose bytes are kept next to the decoded
	 * form even with encode: their decoded form is a summary, not the
	 * object (the brain keeps pods packed plus a small summary). */
	unsigned keep_bytes;
};

int skiff_store_open(const char *dir, const struct skiff_store_options *opts,
		     struct skiff_store **ret);
/* Unsynced changes are dropped (call skiff_store_sync() first). */
void skiff_store_free(struct skiff_store *s);

/* Current revision (that of the last change, synced or not). */
uint64_t skiff_store_revision(struct skiff_store *s);
/* Revision that the next change will get. */
uint64_t skiff_store_next_revision(struct skiff_store *s);

/* 0 with *ret filled, or -ENOENT. */
int skiff_store_get(struct skiff_store *s, int kind, const char *name, struct skiff_store_obj *ret);
size_t skiff_store_count(struct skiff_store *s, int kind);
/* Calls fn for each object of kind (unordered); a negative return stops and
 * is returned. fn must not change the store. */
int skiff_store_foreach(struct skiff_store *s, int kind,
			int (*fn)(const struct skiff_store_obj *o, void *userdata), void *userdata);

/* Write or delete (copies data). *ret_revision (may be NULL) is the change's
 * revision. Delete of a missing object: -ENOENT. After a failed sync: -EIO. */
int skiff_store_put(struct skiff_store *s, int kind, const char *name, const void *data, size_t len,
		    uint64_t *ret_revision);
int skiff_store_delete(struct skiff_store *s, int kind, const char *name, uint64_t *ret_revision);

/* Make every change so far durable. Returns 0 or -errno (then fail-stop). */
int skiff_store_sync(struct skiff_store *s);
/* Changes not yet synced. */
size_t skiff_store_pending(struct skiff_store *s);
/* Revision up to which changes are durable. */
uint64_t skiff_store_synced_revision(struct skiff_store *s);

/* Write a snapshot of everything (syncs first) and empty the WAL. */
int skiff_store_snapshot(struct skiff_store *s);
bool skiff_store_want_snapshot(struct skiff_store *s);
uint64_t skiff_store_wal_bytes(struct skiff_store *s);

/* Replay the changes after revision `after` (up to the current revision,
 * synced or not) through fn. -ESTALE when some are no longer in the ring. */
int skiff_store_changes_since(struct skiff_store *s, uint64_t after,
			      int (*fn)(const struct skiff_store_change *c, void *userdata),
			      void *userdata);

/* Reads at a past revision, for paged LISTs (what etcd's MVCC gives
 * Kubernetes): while history is kept, every change first records the value
 * the object had before it (re-encoded when only decoded objects are kept),
 * so skiff_store_foreach_at() can show a kind as it was at any revision from
 * the history's start on. skiff_store_history_keep() starts it (at the
 * current revision) when off and keeps it until the CLOCK_MONOTONIC time
 * until_mono_ms (extended by later calls); after that, or past 64 MiB of
 * recorded values, it is dropped and reads at past revisions get -ESTALE. */
void skiff_store_history_keep(struct skiff_store *s, int64_t until_mono_ms);
/* 0 with the oldest readable revision, or -ENOENT when no history is kept. */
int skiff_store_history_from(struct skiff_store *s, uint64_t *ret_from);
/* As skiff_store_foreach() but as of `revision` (<= the current one).
 * Objects changed since are passed with their old bytes (decoded NULL,
 * revision 0). -ESTALE when that revision is not readable. */
int skiff_store_foreach_at(struct skiff_store *s, int kind, uint64_t revision,
			   int (*fn)(const struct skiff_store_obj *o, void *userdata),
			   void *userdata);

/* CRC32C (Castagnoli), exported for tests. */
uint32_t skiff_crc32c(uint32_t crc, const void *data, size_t len);

#endif
