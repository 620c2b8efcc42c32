/* selector.h — Kubernetes label selectors, as `-l` takes them.
 *
 * A selector is requirements joined by ',' (all must hold):
 *
 *	key=value  key==value	the label is there with that value
 *	key!=value		the label is not there, or has another value
 *	key in (a, b)		the label is there with one of the values
 *	key notin (a, b)	the label is not there, or has none of the values
 *	key			the label is there
 *	!key			the label is not there
 *
 * skiffctl parses it to refuse a bad one before sending; the brain parses the
 * same text (ListRequest.selector, WatchRequest.selector) and filters with it.
 * An empty selector matches everything.
 */
#ifndef SKIFF_SELECTOR_H
#define SKIFF_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "skiff.pb-c.h"

#define SKIFF_SELECTOR_MAX_REQUIREMENTS 64
#define SKIFF_SELECTOR_MAX_VALUES	64 /* per in/notin */

enum skiff_selector_op {
	SKIFF_SELECTOR_EQ,
	SKIFF_SELECTOR_NE,
	SKIFF_SELECTOR_IN,
	SKIFF_SELECTOR_NOTIN,
	SKIFF_SELECTOR_EXISTS,
	SKIFF_SELECTOR_NOT_EXISTS,
};

struct skiff_selector_requirement {
	char *key;
	enum skiff_selector_op op;
	char **values; /* one for EQ and NE; none for EXISTS and NOT_EXISTS */
	size_t n_values;
};

struct skiff_selector {
	struct skiff_selector_requirement *reqs;
	size_t n;
};

/* Parse text into *ret (cleared first; free with skiff_selector_clear even
 * on failure). Returns 0, or -EINVAL with *ret_errmsg (free()) saying what
 * and where ("'a in x': expected '(' after 'in'"). */
int skiff_selector_parse(const char *text, struct skiff_selector *ret, char **ret_errmsg);
void skiff_selector_clear(struct skiff_selector *s);

/* The value of label key (not NUL-terminated: *ret_len bytes), or NULL. */
typedef const char *(*skiff_label_lookup)(const char *key, size_t *ret_len, void *userdata);

bool skiff_selector_matches_fn(const struct skiff_selector *s, skiff_label_lookup lookup,
			       void *userdata);
bool skiff_selector_matches(const struct skiff_selector *s, Skiff__KeyValue *const *labels,
			    size_t n_labels);

/* The key=value requirements as pairs (what a brain without selector text
 * filters by); the caller frees each with skiff__key_value__free_unpacked. */
Skiff__KeyValue **skiff_selector_equalities(const struct skiff_selector *s, size_t *ret_n);

#endif
