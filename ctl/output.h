/* output.h — how skiffctl prints objects: kubectl-like aligned tables with
 * human ages, and -o json|yaml|name|wide. JSON and YAML come from the
 * manifest schema (manifest.h), so what `get -o yaml` prints, `apply` reads. */
#ifndef SKIFF_CTL_OUTPUT_H
#define SKIFF_CTL_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "manifest.h"

enum skiff_output {
	SKIFF_OUTPUT_TABLE,
	SKIFF_OUTPUT_WIDE,
	SKIFF_OUTPUT_JSON,
	SKIFF_OUTPUT_YAML,
	SKIFF_OUTPUT_NAME,
	SKIFF_OUTPUT_JSONPATH, /* -o jsonpath=… (skiffctl get) */
	SKIFF_OUTPUT_COLUMNS,  /* -o custom-columns=… (skiffctl get) */
};

/* "wide", "json", "yaml", "name" -> format; -EINVAL otherwise. */
int skiff_output_parse(const char *s, enum skiff_output *ret);

/* kubectl's short ages: "3s", "5m", "2h", "4d", "2y"; "<unknown>" for t<=0. */
char *skiff_format_age(int64_t now_ms, int64_t t_ms, char *buf, size_t len);

/* An aligned table: columns separated by three spaces, no trailing blanks. */
struct skiff_table;
struct skiff_table *skiff_table_new(size_t ncols, const char *const *headers);
/* cells: ncols strings (copied; NULL prints as ""). */
void skiff_table_add(struct skiff_table *t, const char *const *cells);
void skiff_table_print(struct skiff_table *t, FILE *f, bool headers);
/* Print only the last row, aligned with everything added before (watch). */
void skiff_table_print_last(struct skiff_table *t, FILE *f);
/* One more column at the right: cells[nrows] (copied). At most 32 columns. */
void skiff_table_add_column(struct skiff_table *t, const char *header, const char *const *cells);
/* Prefix every cell of column col ("pod/" before the names, as kubectl
 * shows several kinds). */
void skiff_table_prefix_column(struct skiff_table *t, size_t col, const char *prefix);
void skiff_table_free(struct skiff_table *t);

/* Print objects of one kind. single: print one object as itself rather than
 * as a List (json/yaml). headers: print the table header. */
int skiff_output_objects(FILE *f, const struct skiff_kind *kind, Skiff__Object *const *items,
			 size_t n, enum skiff_output fmt, bool single, bool headers,
			 int64_t now_ms);

/* What -o json|yaml prints: the object itself (single and n == 1) or a
 * List of them (caller frees with skiff_doc_free()). */
struct skiff_doc_node *skiff_output_doc(Skiff__Object *const *items, size_t n, bool single);

/* The table row of one object (columns as for skiff_output_objects). */
void skiff_output_table_row(struct skiff_table *t, const struct skiff_kind *kind,
			    const Skiff__Object *obj, bool wide, int64_t now_ms);
struct skiff_table *skiff_output_table_new(const struct skiff_kind *kind, bool wide);
/* Tables of namespaced kinds get a NAMESPACE column first (get -A). */
extern bool skiff_output_namespace_column;

/* Pod helpers shared with describe. */
const char *skiff_pod_status_word(const Skiff__Pod *pod);
int skiff_pod_restarts(const Skiff__Pod *pod);
const char *skiff_node_status_word(const Skiff__Node *node, char *buf, size_t len);

#endif
