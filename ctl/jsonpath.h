/* jsonpath.h — kubectl's JSONPath templates over skiffctl's document trees
 * (the same trees -o json prints), for -o jsonpath=…, -o custom-columns=…
 * and --sort-by.
 *
 * The subset kubectl documents: text and {actions}; in an action a path
 * ($ or @ or . first) of .field, ['field'], ['a','b'], .*, [*], [N], [-N],
 * [start:end:step], ..field (recursive descent) and filters
 * [?(@.path)], [?(@.path OP literal)] with OP one of == != < <= > >=;
 * {range PATH}…{end}; string literals {"\n"}. Field names take \. for a dot
 * (.metadata.annotations.kubernetes\.io/x). Several results of one action
 * are printed separated by a space; maps and lists as one line of JSON.
 *
 * Templates come from the command line: any malformed one gives a one-line
 * message naming the column and what was expected, never a crash. */
#ifndef SKIFF_CTL_JSONPATH_H
#define SKIFF_CTL_JSONPATH_H

#include <stddef.h>
#include <stdio.h>

#include "doc.h"

struct skiff_jsonpath;

/* Parse a template. Returns 0, or -EINVAL with *ret_errmsg (free()). */
int skiff_jsonpath_parse(const char *tmpl, struct skiff_jsonpath **ret, char **ret_errmsg);
/* A bare expression as custom-columns and --sort-by take it: ".a.b" or
 * "{.a.b}" (one action, no text, no range). */
int skiff_jsonpath_parse_expr(const char *expr, struct skiff_jsonpath **ret, char **ret_errmsg);
void skiff_jsonpath_free(struct skiff_jsonpath *jp);

/* Print the template applied to root to f. Returns 0 or -EIO. */
int skiff_jsonpath_print(const struct skiff_jsonpath *jp, const struct skiff_doc_node *root,
			 FILE *f);
/* The text the template makes for root (caller frees). */
char *skiff_jsonpath_text(const struct skiff_jsonpath *jp, const struct skiff_doc_node *root);
/* The nodes an expression (skiff_jsonpath_parse_expr) selects in root, in
 * order: *ret is an array (free()) of pointers into root; returns the count. */
size_t skiff_jsonpath_select(const struct skiff_jsonpath *jp, const struct skiff_doc_node *root,
			     const struct skiff_doc_node ***ret);

#endif
