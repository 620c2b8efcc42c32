/* selector.c — parsing and matching Kubernetes label selectors (selector.h). */
#include "selector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"
#include "validate.h"

void skiff_selector_clear(struct skiff_selector *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->reqs[i].key);
		for (size_t j = 0; j < s->reqs[i].n_values; j++)
			free(s->reqs[i].values[j]);
		free(s->reqs[i].values);
	}
	free(s->reqs);
	*s = (struct skiff_selector){ 0 };
}

struct cursor {
	const char *p;
};

static void skip_space(struct cursor *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/* A key or value: up to a character that ends one. */
static char *word(struct cursor *c)
{
	skip_space(c);
	size_t n = strcspn(c->p, " \t,=!()");
	char *w = xstrndup(c->p, n);
	c->p += n;
	skip_space(c);
	return w;
}

static void add_value(struct skiff_selector_requirement *r, char *v)
{
	r->values = xrealloc(r->values, (r->n_values + 1) * sizeof(char *));
	r->values[r->n_values++] = v;
}

/* One requirement, up to a ',' at the top level or the end. */
static int parse_requirement(struct cursor *c, struct skiff_selector_requirement *r,
			     char **ret_errmsg)
{
	const char *start = c->p;
	skip_space(c);
	if (*c->p == '!') {
		c->p++;
		r->op = SKIFF_SELECTOR_NOT_EXISTS;
	} else {
		r->op = SKIFF_SELECTOR_EXISTS;
	}
	r->key = word(c);
	if (!*r->key) {
		*ret_errmsg =
		    xasprintf("'%.*s': expected a label key", (int)strcspn(start, ","), start);
		return -EINVAL;
	}
	if (!skiff_label_key_valid(r->key)) {
		*ret_errmsg = xasprintf("'%s' is not a valid label key", r->key);
		return -EINVAL;
	}
	if (r->op == SKIFF_SELECTOR_NOT_EXISTS || *c->p == ',' || !*c->p)
		return 0;

	if (c->p[0] == '=' || (c->p[0] == '!' && c->p[1] == '=')) {
		r->op = c->p[0] == '=' ? SKIFF_SELECTOR_EQ : SKIFF_SELECTOR_NE;
		c->p += c->p[0] == '!' ? 2 : c->p[1] == '=' ? 2 : 1;
		char *v = word(c);
		add_value(r, v);
	} else if (strncmp(c->p, "in", 2) == 0 || strncmp(c->p, "notin", 5) == 0) {
		bool in = c->p[0] == 'i';
		r->op = in ? SKIFF_SELECTOR_IN : SKIFF_SELECTOR_NOTIN;
		c->p += in ? 2 : 5;
		skip_space(c);
		if (*c->p != '(') {
			*ret_errmsg = xasprintf("'%s %s': expected '(' after '%s'", r->key,
						in ? "in" : "notin", in ? "in" : "notin");
			return -EINVAL;
		}
		c->p++;
		for (;;) {
			char *v = word(c);
			add_value(r, v);
			if (r->n_values > SKIFF_SELECTOR_MAX_VALUES) {
				*ret_errmsg = xasprintf("'%s': at most %d values", r->key,
							SKIFF_SELECTOR_MAX_VALUES);
				return -EINVAL;
			}
			if (*c->p == ',') {
				c->p++;
				continue;
			}
			if (*c->p == ')') {
				c->p++;
				break;
			}
			*ret_errmsg = xasprintf("'%s %s (': expected ',' or ')'", r->key,
						in ? "in" : "notin");
			return -EINVAL;
		}
		skip_space(c);
	} else {
		*ret_errmsg = xasprintf("'%.*s': expected =, ==, !=, in or notin after '%s'",
					(int)strcspn(start, ","), start, r->key);
		return -EINVAL;
	}
	for (size_t i = 0; i < r->n_values; i++)
		if (!skiff_label_value_valid(r->values[i])) {
			*ret_errmsg = xasprintf("'%s' is not a valid label value", r->values[i]);
			return -EINVAL;
		}
	if (*c->p && *c->p != ',') {
		*ret_errmsg = xasprintf("'%s': unexpected '%c'", r->key, *c->p);
		return -EINVAL;
	}
	return 0;
}

int skiff_selector_parse(const char *text, struct skiff_selector *ret, char **ret_errmsg)
{
	struct cursor c = { text };

	*ret = (struct skiff_selector){ 0 };
	skip_space(&c);
	if (!*c.p)
		return 0;
	for (;;) {
		if (ret->n == SKIFF_SELECTOR_MAX_REQUIREMENTS) {
			*ret_errmsg =
			    xasprintf("at most %d requirements", SKIFF_SELECTOR_MAX_REQUIREMENTS);
			return -EINVAL;
		}
		ret->reqs = xrealloc(ret->reqs, (ret->n + 1) * sizeof(*ret->reqs));
		ret->reqs[ret->n] = (struct skiff_selector_requirement){ 0 };
		int r = parse_requirement(&c, &ret->reqs[ret->n++], ret_errmsg);
		if (r < 0)
			return r;
		if (!*c.p)
			return 0;
		c.p++; /* ',' */
	}
}

static bool value_in(const struct skiff_selector_requirement *r, const char *v, size_t len)
{
	for (size_t i = 0; i < r->n_values; i++)
		if (strlen(r->values[i]) == len && memcmp(r->values[i], v, len) == 0)
			return true;
	return false;
}

bool skiff_selector_matches_fn(const struct skiff_selector *s, skiff_label_lookup lookup,
			       void *userdata)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct skiff_selector_requirement *r = &s->reqs[i];
		size_t len = 0;
		const char *v = lookup(r->key, &len, userdata);
		bool ok;
		switch (r->op) {
		case SKIFF_SELECTOR_EQ:
		case SKIFF_SELECTOR_IN:
			ok = v && value_in(r, v, len);
			break;
		case SKIFF_SELECTOR_NE:
		case SKIFF_SELECTOR_NOTIN:
			ok = !v || !value_in(r, v, len);
			break;
		case SKIFF_SELECTOR_EXISTS:
			ok = v != NULL;
			break;
		default:
			ok = v == NULL;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

struct kv_labels {
	Skiff__KeyValue *const *kv;
	size_t n;
};

static const char *kv_lookup(const char *key, size_t *ret_len, void *userdata)
{
	const struct kv_labels *l = userdata;
	const char *v = skiff_kv_get(l->kv, l->n, key);
	if (v)
		*ret_len = strlen(v);
	return v;
}

bool skiff_selector_matches(const struct skiff_selector *s, Skiff__KeyValue *const *labels,
			    size_t n_labels)
{
	struct kv_labels l = { labels, n_labels };
	return skiff_selector_matches_fn(s, kv_lookup, &l);
}

Skiff__KeyValue **skiff_selector_equalities(const struct skiff_selector *s, size_t *ret_n)
{
	Skiff__KeyValue **kv = NULL;
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->reqs[i].op != SKIFF_SELECTOR_EQ)
			continue;
		kv = xrealloc(kv, (n + 1) * sizeof(*kv));
		kv[n] = xmalloc(sizeof(**kv));
		skiff__key_value__init(kv[n]);
		kv[n]->key = xstrdup(s->reqs[i].key);
		kv[n]->value = xstrdup(s->reqs[i].values[0]);
		n++;
	}
	*ret_n = n;
	return kv;
}
