/* store.c — the brain's durable object store: in-memory hash tables of packed
 * objects, a write-ahead log with CRC32C records and group commit, snapshots
 * that compact the WAL, and a ring of recent changes for watches. See store.h
 * for the on-disk format and the durability rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "map.h"
#include "manifest.h"
#include "store.h"
#include "util.h"

#define REC_MAGIC    0x46524b53u /* "SKRF" */
#define REC_HDR	     12u	 /* magic, length, crc */
#define BODY_HDR     12u	 /* revision, op, kind, name length */
#define REC_MAX	     (64u << 20)
#define SNAP_MAGIC   "SKIFSNP1"
#define SNAP_END     "SKIFEND1"
#define NAME_MAX_LEN 317u /* "NAMESPACE/NAME": 63 + 1 + 253 */
/* WAL buffer capacity kept between syncs (a bigger one is freed) */
#define PENDING_KEEP_BYTES (1u << 20)

static const char *const kind_names[SKIFF_KIND_MAX] = {
	[SKIFF_KIND_NODE] = "node",
	[SKIFF_KIND_POD] = "pod",
	[SKIFF_KIND_DEPLOYMENT] = "deployment",
	[SKIFF_KIND_SERVICE] = "service",
	[SKIFF_KIND_EVENT] = "event",
	[SKIFF_KIND_TOKEN] = "token",
	[SKIFF_KIND_CSR] = "certificaterequest",
	[SKIFF_KIND_CERTIFICATE] = "certificate",
	[SKIFF_KIND_IMAGE] = "image",
	[SKIFF_KIND_NAMESPACE] = "namespace",
	[SKIFF_KIND_DAEMONSET] = "daemonset",
	[SKIFF_KIND_JOB] = "job",
	[SKIFF_KIND_CRONJOB] = "cronjob",
};

bool skiff_kind_is_namespaced(int kind)
{
	/* the rule is lib/manifest.c's kind table; kinds it lacks (the PKI's,
	 * images) are cluster-scoped */
	static signed char cache[SKIFF_KIND_MAX];
	if (kind < 0 || kind >= SKIFF_KIND_MAX)
		return false;
	if (!cache[kind])
		cache[kind] = skiff_kind_namespaced(kind_names[kind]) ? 1 : -1;
	return cache[kind] > 0;
}

char *skiff_store_key(int kind, const char *ns, const char *name)
{
	if (!skiff_kind_is_namespaced(kind))
		return xstrdup(name);
	return xasprintf("%s/%s", ns && *ns ? ns : SKIFF_DEFAULT_NAMESPACE, name);
}

/* name as a key: a namespaced kind's name without '/' is in "default"
 * (records and callers from before namespaces); else name itself. */
#define KEY_BUF (sizeof(SKIFF_DEFAULT_NAMESPACE) + NAME_MAX_LEN + 1)
static const char *store_key(int kind, const char *name, char buf[KEY_BUF])
{
	if (!name || !skiff_kind_is_namespaced(kind) || strchr(name, '/'))
		return name;
	snprintf(buf, KEY_BUF, "%s/%.*s", SKIFF_DEFAULT_NAMESPACE, (int)NAME_MAX_LEN, name);
	return buf;
}

const char *skiff_key_split(const char *key, char ns_buf[64])
{
	const char *slash = strchr(key, '/');
	ns_buf[0] = 0;
	if (!slash)
		return key;
	size_t n = (size_t)(slash - key);
	if (n > 63)
		n = 63;
	memcpy(ns_buf, key, n);
	ns_buf[n] = 0;
	return slash + 1;
}

const char *skiff_kind_name(int kind)
{
	if (kind < 0 || kind >= SKIFF_KIND_MAX)
		return NULL;
	return kind_names[kind];
}

int skiff_kind_parse(const char *s)
{
	for (int i = 0; i < SKIFF_KIND_MAX; i++)
		if (s && kind_names[i] && streq(s, kind_names[i]))
			return i;
	return -EINVAL;
}

bool skiff_kind_is_pki(int kind)
{
	return kind == SKIFF_KIND_TOKEN || kind == SKIFF_KIND_CSR || kind == SKIFF_KIND_CERTIFICATE;
}

/* ---- CRC32C ------------------------------------------------------------ */

static uint32_t crc_table[8][256];

static void crc_init(void)
{
	if (crc_table[0][1])
		return;
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t skiff_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	crc_init();
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
		      crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* ---- little-endian helpers --------------------------------------------- */

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}
static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}
static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}
static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* ---- growable buffer ---------------------------------------------------- */

struct buf {
	uint8_t *data;
	size_t len, cap;
};

static uint8_t *buf_grow(struct buf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	uint8_t *p = b->data + b->len;
	b->len += n;
	return p;
}

static void buf_record(struct buf *b, uint64_t rev, int op, int kind, const char *name,
		       const void *data, size_t len)
{
	size_t nlen = strlen(name);
	size_t body = BODY_HDR + nlen + len;
	uint8_t *p = buf_grow(b, REC_HDR + body);
	uint8_t *bp = p + REC_HDR;
	put_u64(bp, rev);
	bp[8] = op;
	bp[9] = kind;
	put_u16(bp + 10, nlen);
	memcpy(bp + BODY_HDR, name, nlen);
	if (len)
		memcpy(bp + BODY_HDR + nlen, data, len);
	put_u32(p, REC_MAGIC);
	put_u32(p + 4, body);
	put_u32(p + 8, skiff_crc32c(0, bp, body));
}

/* ---- objects ------------------------------------------------------------ */

struct blob {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

static struct blob *blob_new(const void *data, size_t len)
{
	struct blob *b = xmalloc(sizeof(*b) + len);
	b->refs = 1;
	b->len = len;
	if (len)
		memcpy(b->data, data, len);
	return b;
}

static struct blob *blob_ref(struct blob *b)
{
	if (b)
		b->refs++;
	return b;
}

static void blob_unref(struct blob *b)
{
	if (b && --b->refs == 0)
		free(b);
}

struct entry {
	struct entry *next;
	uint64_t revision;
	struct blob *val;
	void *decoded;
	uint32_t hash;
	char name[];
};

struct table {
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

struct ring_item {
	uint64_t revision;
	uint8_t kind, op;
	bool created;
	char *name;
	struct blob *val;
};

/* History for reads at a past revision: the value an object had before a
 * change (prev NULL: it did not exist). */
struct hist_item {
	uint64_t revision;
	uint8_t kind;
	char *name;
	struct blob *prev;
};

#define HISTORY_MAX_BYTES (64u << 20)

struct skiff_store {
	char *dir;
	char *wal_path;
	int wal_fd;
	struct table tables[SKIFF_KIND_MAX];
	uint64_t revision;	  /* last change */
	uint64_t synced_revision; /* last durable change */
	uint64_t wal_bytes;
	size_t snapshot_wal_bytes;
	struct buf pending;
	size_t npending;
	bool broken;
	struct ring_item *ring;
	size_t ring_cap;
	struct skiff_store_faults *faults;
	void *(*decode)(int kind, const uint8_t *data, size_t len);
	void (*free_decoded)(int kind, void *decoded);
	uint8_t *(*encode)(int kind, const void *decoded, size_t *ret_len);
	unsigned keep_bytes; /* kinds whose bytes stay next to the decoded form */
	/* history (skiff_store_history_keep): readable revisions >= hist_from */
	bool hist_on;
	uint64_t hist_from;
	int64_t hist_until_ms;
	struct hist_item *hist;
	size_t n_hist, hist_cap, hist_bytes;
};

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static struct entry **table_slot(struct table *t, const char *name, uint32_t h)
{
	struct entry **pp = &t->buckets[h & (t->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && streq((*pp)->name, name))
			return pp;
	return pp;
}

static void table_grow(struct table *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
	struct entry **b = xcalloc(n, sizeof(*b));
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry *e = t->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static void entry_free_decoded(struct skiff_store *s, int kind, struct entry *e)
{
	if (e->decoded && s->free_decoded)
		s->free_decoded(kind, e->decoded);
	e->decoded = NULL;
}

static void entry_decode(struct skiff_store *s, int kind, struct entry *e)
{
	entry_free_decoded(s, kind, e);
	if (s->decode)
		e->decoded = s->decode(kind, e->val->data, e->val->len);
	if (e->decoded && s->encode && !(s->keep_bytes & (1u << kind))) {
		/* keep one form only: the bytes come back from encode() */
		blob_unref(e->val);
		e->val = NULL;
	}
}

/* A reference to the entry's bytes (re-encoded when only decoded). */
static struct blob *entry_bytes(struct skiff_store *s, int kind, struct entry *e)
{
	if (e->val)
		return blob_ref(e->val);
	size_t len = 0;
	uint8_t *data = s->encode(kind, e->decoded, &len);
	struct blob *b = blob_new(data, len);
	free(data);
	return b;
}

static void table_free(struct skiff_store *s, int kind, struct table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry *e = t->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			entry_free_decoded(s, kind, e);
			blob_unref(e->val);
			free(e);
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/* Apply a change in memory; val is consumed. Returns the old value (caller
 * unrefs) through *ret_old. */
static int table_apply(struct skiff_store *s, int kind, int op, const char *name, struct blob *val,
		       uint64_t rev, struct blob **ret_old, bool *ret_existed)
{
	struct table *t = &s->tables[kind];
	if (t->count >= t->nbuckets)
		table_grow(t);
	uint32_t h = hash_name(name);
	struct entry **pp = table_slot(t, name, h);
	*ret_old = NULL;
	if (ret_existed)
		*ret_existed = *pp != NULL;
	if (op == SKIFF_STORE_DELETE) {
		blob_unref(val);
		if (!*pp)
			return -ENOENT;
		struct entry *e = *pp;
		*pp = e->next;
		*ret_old = entry_bytes(s, kind, e);
		blob_unref(e->val);
		entry_free_decoded(s, kind, e);
		free(e);
		t->count--;
		return 0;
	}
	if (*pp) {
		*ret_old = (*pp)->val;
		(*pp)->val = val;
		(*pp)->revision = rev;
		entry_decode(s, kind, *pp);
		return 0;
	}
	size_t nlen = strlen(name);
	struct entry *e = xmalloc(sizeof(*e) + nlen + 1);
	memcpy(e->name, name, nlen + 1);
	e->hash = h;
	e->val = val;
	e->revision = rev;
	e->next = NULL;
	e->decoded = NULL;
	entry_decode(s, kind, e);
	*pp = e;
	t->count++;
	return 0;
}

/* ---- fault-injectable I/O ------------------------------------------------ */

/* Returns 1 when the operation should run normally, 0 when it is the crash
 * point (cut short), <0 when it must fail. */
static int fault_point(struct skiff_store *s)
{
	struct skiff_store_faults *f = s->faults;
	if (!f)
		return 1;
	f->count++;
	if (f->crash_at > 0 && f->count > f->crash_at)
		return -EIO;
	if (f->crash_at > 0 && f->count == f->crash_at)
		return 0;
	if (f->fail_at > 0 && f->count == f->fail_at)
		return -EIO;
	return 1;
}

static int io_write(struct skiff_store *s, int fd, const void *data, size_t len)
{
	int r = fault_point(s);
	if (r < 0)
		return r;
	if (r == 0) {
		(void)skiff_write_full(fd, data, len / 2);
		return -EIO;
	}
	return skiff_write_full(fd, data, len);
}

static int io_fsync(struct skiff_store *s, int fd)
{
	int r = fault_point(s);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int io_rename(struct skiff_store *s, const char *a, const char *b)
{
	int r = fault_point(s);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	return rename(a, b) < 0 ? -errno : 0;
}

static int io_truncate(struct skiff_store *s, int fd)
{
	int r = fault_point(s);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	return ftruncate(fd, 0) < 0 ? -errno : 0;
}

static int io_fsync_dir(struct skiff_store *s)
{
	int r = fault_point(s);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	_cleanup_close_ int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

/* ---- record parsing ------------------------------------------------------ */

struct rec {
	uint64_t revision;
	int op, kind;
	char name[NAME_MAX_LEN + 1];
	const uint8_t *data;
	size_t len;
	size_t size; /* whole record */
};

/* 1: a valid record at p; 0: incomplete (runs past end); -EBADMSG: invalid. */
static int rec_parse(const uint8_t *p, size_t avail, struct rec *r)
{
	if (avail < REC_HDR)
		return 0;
	if (get_u32(p) != REC_MAGIC)
		return -EBADMSG;
	uint32_t body = get_u32(p + 4);
	if (body < BODY_HDR || body > REC_MAX)
		return -EBADMSG;
	if (avail - REC_HDR < body)
		return 0;
	const uint8_t *bp = p + REC_HDR;
	if (skiff_crc32c(0, bp, body) != get_u32(p + 8))
		return -EBADMSG;
	uint16_t nlen = get_u16(bp + 10);
	if (nlen == 0 || nlen > NAME_MAX_LEN || BODY_HDR + nlen > body)
		return -EBADMSG;
	r->revision = get_u64(bp);
	r->op = bp[8];
	r->kind = bp[9];
	if ((r->op != SKIFF_STORE_PUT && r->op != SKIFF_STORE_DELETE) || r->kind >= SKIFF_KIND_MAX)
		return -EBADMSG;
	memcpy(r->name, bp + BODY_HDR, nlen);
	r->name[nlen] = 0;
	if (memchr(r->name, 0, nlen))
		return -EBADMSG;
	r->data = bp + BODY_HDR + nlen;
	r->len = body - BODY_HDR - nlen;
	r->size = REC_HDR + body;
	return 1;
}

/* Is there any valid record after offset off? Used to tell a torn tail
 * from corruption in the middle of the log. */
static bool valid_record_after(const uint8_t *p, size_t len, size_t off)
{
	struct rec r;
	for (size_t i = off + 1; i + REC_HDR <= len; i++)
		if (get_u32(p + i) == REC_MAGIC && rec_parse(p + i, len - i, &r) == 1)
			return true;
	return false;
}

static void store_apply(struct skiff_store *s, const struct rec *r)
{
	struct blob *old = NULL;
	struct blob *val = r->op == SKIFF_STORE_PUT ? blob_new(r->data, r->len) : NULL;
	/* a record of the version before namespaces: the object is in "default" */
	char key[KEY_BUF];
	(void)table_apply(s, r->kind, r->op, store_key(r->kind, r->name, key), val, r->revision,
			  &old, NULL);
	blob_unref(old);
	s->revision = r->revision;
}

static int load_snapshot(struct skiff_store *s)
{
	_cleanup_free_ char *path = xasprintf("%s/snapshot", s->dir);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = skiff_read_file(path, SIZE_MAX / 2, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "store: cannot read %s: %m", path);
	const uint8_t *p = (const uint8_t *)data;
	if (len < 16 || memcmp(p, SNAP_MAGIC, 8) != 0)
		return log_error_errno(EBADMSG, "store: %s is not a snapshot (bad header)", path);
	uint64_t rev = get_u64(p + 8);
	size_t off = 16, n = 0;
	for (;;) {
		if (len - off >= 16 && memcmp(p + off, SNAP_END, 8) == 0) {
			if (get_u64(p + off + 8) != n || off + 16 != len)
				return log_error_errno(
				    EBADMSG, "store: %s: bad trailer at offset %zu", path, off);
			break;
		}
		struct rec rec;
		r = rec_parse(p + off, len - off, &rec);
		if (r <= 0 || rec.op != SKIFF_STORE_PUT)
			return log_error_errno(EBADMSG,
					       "store: %s: corrupt record at offset %zu; refusing "
					       "to start (restore the data dir from a backup)",
					       path, off);
		store_apply(s, &rec);
		off += rec.size;
		n++;
	}
	s->revision = rev;
	log_info("store: snapshot at revision %llu with %zu objects", (unsigned long long)rev, n);
	return 0;
}

static int replay_wal(struct skiff_store *s)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = skiff_read_file(s->wal_path, SIZE_MAX / 2, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "store: cannot read %s: %m", s->wal_path);
	const uint8_t *p = (const uint8_t *)data;
	size_t off = 0, n = 0;
	uint64_t snap_rev = s->revision;
	while (off < len) {
		struct rec rec;
		r = rec_parse(p + off, len - off, &rec);
		/* Revisions increase by one; records already in the snapshot
		 * (a crash between snapshot and WAL truncation) come first. */
		if (r == 1 && rec.revision > snap_rev && rec.revision != s->revision + 1)
			r = -EBADMSG;
		if (r == 1 && rec.revision <= snap_rev && s->revision > snap_rev)
			r = -EBADMSG;
		if (r == 1) {
			if (rec.revision > snap_rev) {
				store_apply(s, &rec);
				n++;
			}
			off += rec.size;
			continue;
		}
		if (valid_record_after(p, len, off))
			return log_error_errno(
			    EBADMSG,
			    "store: %s: corrupt record at offset %zu followed by "
			    "valid records; refusing to start (this is not a torn "
			    "write; restore the data dir from a backup)",
			    s->wal_path, off);
		log_warn("store: %s: %s tail at offset %zu (%zu bytes) truncated", s->wal_path,
			 r == 0 ? "torn" : "corrupt", off, len - off);
		if (ftruncate(s->wal_fd, off) < 0 || fdatasync(s->wal_fd) < 0)
			return log_error_errno(errno, "store: cannot truncate %s: %m", s->wal_path);
		len = off;
		break;
	}
	s->wal_bytes = len;
	log_info("store: replayed %zu WAL records, revision %llu", n,
		 (unsigned long long)s->revision);
	return 0;
}

int skiff_store_open(const char *dir, const struct skiff_store_options *opts,
		     struct skiff_store **ret)
{
	struct skiff_store_options none = { 0 };
	if (!opts)
		opts = &none;
	int r = skiff_mkdir_p(dir, 0700);
	if (r < 0)
		return log_error_errno(r, "store: cannot create %s: %m", dir);
	struct skiff_store *s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->wal_path = xasprintf("%s/wal", dir);
	s->ring_cap = opts->ring ? opts->ring : 8192;
	s->ring = xcalloc(s->ring_cap, sizeof(*s->ring));
	s->snapshot_wal_bytes = opts->snapshot_wal_bytes ? opts->snapshot_wal_bytes : (64u << 20);
	s->faults = opts->faults;
	s->decode = opts->decode;
	s->free_decoded = opts->free_decoded;
	s->encode = opts->decode ? opts->encode : NULL;
	s->keep_bytes = opts->keep_bytes;
	s->wal_fd = open(s->wal_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->wal_fd < 0) {
		r = log_error_errno(errno, "store: cannot open %s: %m", s->wal_path);
		skiff_store_free(s);
		return r;
	}
	r = load_snapshot(s);
	if (r >= 0)
		r = replay_wal(s);
	if (r < 0) {
		skiff_store_free(s);
		return r;
	}
	s->synced_revision = s->revision;
	*ret = s;
	return 0;
}

static void history_drop(struct skiff_store *s);

void skiff_store_free(struct skiff_store *s)
{
	if (!s)
		return;
	for (int k = 0; k < SKIFF_KIND_MAX; k++)
		table_free(s, k, &s->tables[k]);
	for (size_t i = 0; i < s->ring_cap; i++) {
		free(s->ring[i].name);
		blob_unref(s->ring[i].val);
	}
	free(s->ring);
	history_drop(s);
	free(s->pending.data);
	if (s->wal_fd >= 0)
		close(s->wal_fd);
	free(s->wal_path);
	free(s->dir);
	free(s);
}

uint64_t skiff_store_revision(struct skiff_store *s)
{
	return s->revision;
}

uint64_t skiff_store_next_revision(struct skiff_store *s)
{
	return s->revision + 1;
}

uint64_t skiff_store_synced_revision(struct skiff_store *s)
{
	return s->synced_revision;
}

size_t skiff_store_pending(struct skiff_store *s)
{
	return s->npending;
}

uint64_t skiff_store_wal_bytes(struct skiff_store *s)
{
	return s->wal_bytes;
}

bool skiff_store_want_snapshot(struct skiff_store *s)
{
	return s->wal_bytes >= s->snapshot_wal_bytes;
}

int skiff_store_get(struct skiff_store *s, int kind, const char *name, struct skiff_store_obj *ret)
{
	if (kind < 0 || kind >= SKIFF_KIND_MAX || !s->tables[kind].nbuckets || !name)
		return -ENOENT;
	char buf[KEY_BUF];
	name = store_key(kind, name, buf);
	struct table *t = &s->tables[kind];
	struct entry *e = *table_slot(t, name, hash_name(name));
	if (!e)
		return -ENOENT;
	*ret = (struct skiff_store_obj){ e->name, e->val ? e->val->data : NULL,
					 e->val ? e->val->len : 0, e->revision, e->decoded };
	return 0;
}

size_t skiff_store_count(struct skiff_store *s, int kind)
{
	return s->tables[kind].count;
}

int skiff_store_foreach(struct skiff_store *s, int kind,
			int (*fn)(const struct skiff_store_obj *o, void *userdata), void *userdata)
{
	struct table *t = &s->tables[kind];
	for (size_t i = 0; i < t->nbuckets; i++)
		for (struct entry *e = t->buckets[i]; e; e = e->next) {
			struct skiff_store_obj o = { e->name, e->val ? e->val->data : NULL,
						     e->val ? e->val->len : 0, e->revision,
						     e->decoded };
			int r = fn(&o, userdata);
			if (r < 0)
				return r;
		}
	return 0;
}

static void history_drop(struct skiff_store *s)
{
	for (size_t i = 0; i < s->n_hist; i++) {
		free(s->hist[i].name);
		blob_unref(s->hist[i].prev);
	}
	free(s->hist);
	s->hist = NULL;
	s->n_hist = s->hist_cap = s->hist_bytes = 0;
	s->hist_on = false;
}

/* Record the value `name` has now, before change `rev` replaces it. */
static void history_record(struct skiff_store *s, int kind, const char *name, uint64_t rev)
{
	if (!s->hist_on)
		return;
	if (skiff_mono_ms() > s->hist_until_ms || s->hist_bytes > HISTORY_MAX_BYTES) {
		log_info("store: dropping the history for paged lists (%s, %zu changes)",
			 s->hist_bytes > HISTORY_MAX_BYTES ? "too large" : "expired", s->n_hist);
		history_drop(s);
		return;
	}
	struct table *t = &s->tables[kind];
	struct entry *e = t->nbuckets ? *table_slot(t, name, hash_name(name)) : NULL;
	if (s->n_hist == s->hist_cap) {
		s->hist_cap = s->hist_cap ? s->hist_cap * 2 : 256;
		s->hist = xrealloc(s->hist, s->hist_cap * sizeof(*s->hist));
	}
	struct hist_item *h = &s->hist[s->n_hist++];
	h->revision = rev;
	h->kind = kind;
	h->name = xstrdup(name);
	h->prev = e ? entry_bytes(s, kind, e) : NULL;
	s->hist_bytes +=
	    sizeof(*h) + strlen(name) + 1 + (h->prev ? sizeof(struct blob) + h->prev->len : 0);
}

void skiff_store_history_keep(struct skiff_store *s, int64_t until_mono_ms)
{
	if (!s->hist_on) {
		s->hist_on = true;
		s->hist_from = s->revision;
		s->hist_until_ms = 0;
	}
	if (until_mono_ms > s->hist_until_ms)
		s->hist_until_ms = until_mono_ms;
}

int skiff_store_history_from(struct skiff_store *s, uint64_t *ret_from)
{
	if (s->hist_on && skiff_mono_ms() > s->hist_until_ms)
		history_drop(s);
	if (!s->hist_on)
		return -ENOENT;
	*ret_from = s->hist_from;
	return 0;
}

int skiff_store_foreach_at(struct skiff_store *s, int kind, uint64_t revision,
			   int (*fn)(const struct skiff_store_obj *o, void *userdata),
			   void *userdata)
{
	if (kind < 0 || kind >= SKIFF_KIND_MAX || revision > s->revision)
		return -EINVAL;
	if (revision == s->revision)
		return skiff_store_foreach(s, kind, fn, userdata);
	uint64_t from;
	if (skiff_store_history_from(s, &from) < 0 || revision < from)
		return -ESTALE;
	/* the first change after `revision` of each name holds its value then */
	struct skiff_map *first = skiff_map_new();
	for (size_t i = 0; i < s->n_hist; i++) {
		struct hist_item *h = &s->hist[i];
		if (h->kind == kind && h->revision > revision && !skiff_map_get(first, h->name))
			skiff_map_put(first, h->name, h);
	}
	int r = 0;
	struct table *t = &s->tables[kind];
	for (size_t i = 0; i < t->nbuckets && r >= 0; i++)
		for (struct entry *e = t->buckets[i]; e && r >= 0; e = e->next) {
			struct hist_item *h =
			    e->revision > revision ? skiff_map_remove(first, e->name) : NULL;
			struct skiff_store_obj o = { e->name, e->val ? e->val->data : NULL,
						     e->val ? e->val->len : 0, e->revision,
						     e->decoded };
			if (h) {
				if (!h->prev)
					continue; /* created after `revision` */
				o = (struct skiff_store_obj){ h->name, h->prev->data, h->prev->len,
							      0, NULL };
			}
			r = fn(&o, userdata);
		}
	/* what was deleted after `revision` */
	size_t it = 0;
	void *cursor = NULL;
	const char *key;
	void *value;
	while (r >= 0 && skiff_map_next(first, &it, &cursor, &key, &value)) {
		struct hist_item *h = value;
		if (!h->prev)
			continue;
		struct skiff_store_obj o = { h->name, h->prev->data, h->prev->len, 0, NULL };
		r = fn(&o, userdata);
	}
	skiff_map_free(first, NULL);
	return r < 0 ? r : 0;
}

static int store_change(struct skiff_store *s, int op, int kind, const char *name, const void *data,
			size_t len, uint64_t *ret_revision)
{
	if (s->broken)
		return -EIO;
	char buf[KEY_BUF];
	name = store_key(kind, name, buf);
	if (kind < 0 || kind >= SKIFF_KIND_MAX || !name || !*name || strlen(name) > NAME_MAX_LEN ||
	    len > REC_MAX - 512)
		return -EINVAL;
	uint64_t rev = s->revision + 1;
	if (s->hist_on) {
		struct table *t = &s->tables[kind];
		if (op == SKIFF_STORE_PUT || (t->nbuckets && *table_slot(t, name, hash_name(name))))
			history_record(s, kind, name, rev);
	}
	struct blob *old = NULL;
	struct blob *val = op == SKIFF_STORE_PUT ? blob_new(data, len) : NULL;
	bool existed = false;
	int r = table_apply(s, kind, op, name, blob_ref(val), rev, &old, &existed);
	if (r < 0) {
		blob_unref(val);
		return r;
	}
	buf_record(&s->pending, rev, op, kind, name, data, op == SKIFF_STORE_PUT ? len : 0);
	s->npending++;
	s->revision = rev;
	struct ring_item *it = &s->ring[rev % s->ring_cap];
	free(it->name);
	blob_unref(it->val);
	it->revision = rev;
	it->kind = kind;
	it->op = op;
	it->created = op == SKIFF_STORE_PUT && !existed;
	it->name = xstrdup(name);
	if (op == SKIFF_STORE_PUT) {
		it->val = val;
		blob_unref(old);
	} else {
		it->val = old;
	}
	if (ret_revision)
		*ret_revision = rev;
	return 0;
}

int skiff_store_put(struct skiff_store *s, int kind, const char *name, const void *data, size_t len,
		    uint64_t *ret_revision)
{
	return store_change(s, SKIFF_STORE_PUT, kind, name, data, len, ret_revision);
}

int skiff_store_delete(struct skiff_store *s, int kind, const char *name, uint64_t *ret_revision)
{
	return store_change(s, SKIFF_STORE_DELETE, kind, name, NULL, 0, ret_revision);
}

int skiff_store_sync(struct skiff_store *s)
{
	if (s->broken)
		return -EIO;
	if (s->pending.len == 0)
		return 0;
	int r = io_write(s, s->wal_fd, s->pending.data, s->pending.len);
	if (r >= 0)
		r = io_fsync(s, s->wal_fd);
	if (r < 0) {
		s->broken = true;
		return log_error_errno(r, "store: cannot write %s: %m; refusing further writes",
				       s->wal_path);
	}
	s->wal_bytes += s->pending.len;
	s->pending.len = 0;
	s->npending = 0;
	if (s->pending.cap > PENDING_KEEP_BYTES) {
		/* a burst (100,000 pods created in one round) must not pin its
		 * buffer for the life of the process */
		free(s->pending.data);
		s->pending = (struct buf){ 0 };
	}
	s->synced_revision = s->revision;
	return 0;
}

struct snap_ctx {
	struct skiff_store *s;
	struct buf *b;
	int kind;
	size_t n;
};

static int snap_one(const struct skiff_store_obj *o, void *userdata)
{
	struct snap_ctx *c = userdata;
	if (!o->data && o->decoded && c->s->encode) {
		size_t len = 0;
		uint8_t *data = c->s->encode(c->kind, o->decoded, &len);
		buf_record(c->b, o->revision, SKIFF_STORE_PUT, c->kind, o->name, data, len);
		free(data);
	} else {
		buf_record(c->b, o->revision, SKIFF_STORE_PUT, c->kind, o->name, o->data, o->len);
	}
	c->n++;
	return 0;
}

int skiff_store_snapshot(struct skiff_store *s)
{
	int r = skiff_store_sync(s);
	if (r < 0)
		return r;
	struct buf b = { 0 };
	memcpy(buf_grow(&b, 8), SNAP_MAGIC, 8);
	put_u64(buf_grow(&b, 8), s->revision);
	struct snap_ctx c = { s, &b, 0, 0 };
	for (c.kind = 0; c.kind < SKIFF_KIND_MAX; c.kind++)
		skiff_store_foreach(s, c.kind, snap_one, &c);
	memcpy(buf_grow(&b, 8), SNAP_END, 8);
	put_u64(buf_grow(&b, 8), c.n);

	_cleanup_free_ char *tmp = xasprintf("%s/snapshot.tmp", s->dir);
	_cleanup_free_ char *path = xasprintf("%s/snapshot", s->dir);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		r = -errno;
	if (r >= 0)
		r = io_write(s, fd, b.data, b.len);
	free(b.data);
	if (r >= 0)
		r = io_fsync(s, fd);
	if (r >= 0)
		r = io_rename(s, tmp, path);
	if (r >= 0)
		r = io_fsync_dir(s);
	if (r < 0) {
		unlink(tmp);
		/* The WAL is intact: the store stays usable unless I/O is gone. */
		return log_error_errno(r, "store: cannot write snapshot %s: %m", path);
	}
	/* From here the snapshot holds everything; WAL records up to its
	 * revision are skipped on replay, so a crash before the truncation is
	 * harmless. */
	r = io_truncate(s, s->wal_fd);
	if (r >= 0)
		r = io_fsync(s, s->wal_fd);
	if (r < 0) {
		s->broken = true;
		return log_error_errno(r, "store: cannot truncate %s: %m", s->wal_path);
	}
	s->wal_bytes = 0;
	log_info("store: snapshot at revision %llu (%zu objects)", (unsigned long long)s->revision,
		 c.n);
	return 0;
}

int skiff_store_changes_since(struct skiff_store *s, uint64_t after,
			      int (*fn)(const struct skiff_store_change *c, void *userdata),
			      void *userdata)
{
	if (after >= s->revision)
		return 0;
	if (s->ring[(after + 1) % s->ring_cap].revision != after + 1)
		return -ESTALE;
	for (uint64_t rev = after + 1; rev <= s->revision; rev++) {
		struct ring_item *it = &s->ring[rev % s->ring_cap];
		struct skiff_store_change c = {
			.revision = rev,
			.kind = it->kind,
			.op = it->op,
			.created = it->created,
			.name = it->name,
			.data = it->val ? it->val->data : NULL,
			.len = it->val ? it->val->len : 0,
		};
		int r = fn(&c, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}
