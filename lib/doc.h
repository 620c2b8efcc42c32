/* doc.h — a small, position-carrying document tree for skiffctl.
 *
 * Manifests are read YAML -> doc tree (every node remembers its line and
 * column, so errors can name them) -> protobuf objects (manifest.c). Output
 * goes the other way: protobuf objects -> doc tree -> YAML or JSON text.
 *
 * The YAML loader is built for hostile input: anchors and aliases are
 * refused (no alias bombs), nesting depth, node count and input size are
 * capped, and every byte the tree allocates is counted against a budget, so
 * a bad document fails fast with bounded memory.
 */
#ifndef SKIFF_DOC_H
#define SKIFF_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SKIFF_DOC_MAX_DEPTH 64
#define SKIFF_DOC_MAX_BYTES (4u << 20) /* one input (file or stdin) */
#define SKIFF_DOC_MAX_NODES 200000
#define SKIFF_DOC_MAX_DOCS  1000

enum skiff_doc_type {
	SKIFF_DOC_SCALAR,
	SKIFF_DOC_SEQ,
	SKIFF_DOC_MAP,
};

/* How an output scalar is printed: strings are quoted where YAML would read
 * them as something else; numbers and booleans are bare. */
enum skiff_doc_scalar {
	SKIFF_SCALAR_STRING,
	SKIFF_SCALAR_NUMBER,
	SKIFF_SCALAR_BOOL,
};

struct skiff_doc_node {
	enum skiff_doc_type type;
	unsigned line, col; /* 1-based; 0 for built trees */
	/* scalars */
	char *str;
	bool quoted; /* input: written quoted (so "3" is a string, not a number) */
	bool null;   /* input: a plain null (~, null, or nothing) */
	enum skiff_doc_scalar kind;
	/* sequences: items[n]; mappings: items[2*i] key, items[2*i+1] value */
	size_t n, cap;
	struct skiff_doc_node **items;
};

/* The documents of one input. */
struct skiff_doc_set {
	struct skiff_doc_node **docs;
	size_t n;
	size_t allocated;      /* bytes the tree took (counted, capped) */
	size_t peak_allocated; /* the most that was ever held during the load */
};

/* Parse YAML (or JSON) text into documents. name is used in messages.
 * Returns 0, or -EBADMSG with *ret_errmsg ("name:line:col: …", free()). */
int skiff_doc_load_yaml(const char *name, const char *buf, size_t len, struct skiff_doc_set *ret,
			char **ret_errmsg);
void skiff_doc_set_clear(struct skiff_doc_set *set);

/* Building trees for output. Strings are copied. */
struct skiff_doc_node *skiff_doc_new(enum skiff_doc_type type);
struct skiff_doc_node *skiff_doc_scalar(const char *s, enum skiff_doc_scalar kind);
struct skiff_doc_node *skiff_doc_number(long long v);
void skiff_doc_append(struct skiff_doc_node *seq, struct skiff_doc_node *item);
void skiff_doc_put(struct skiff_doc_node *map, const char *key, struct skiff_doc_node *value);
void skiff_doc_free(struct skiff_doc_node *node);

/* Look up key in a mapping (NULL when absent or not a mapping). */
struct skiff_doc_node *skiff_doc_get(const struct skiff_doc_node *map, const char *key);

/* Write node as YAML (a "---" document start when doc_start) or as indented
 * JSON. Return 0 or -EIO. */
int skiff_doc_write_yaml(FILE *f, const struct skiff_doc_node *node, bool doc_start);
int skiff_doc_write_json(FILE *f, const struct skiff_doc_node *node);
/* node as one line of JSON (kubectl's jsonpath prints maps and lists so);
 * caller frees. */
char *skiff_doc_to_json(const struct skiff_doc_node *node);

#endif
