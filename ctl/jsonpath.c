/* jsonpath.c — kubectl's JSONPath templates: a parser into a small tree of
 * text, paths and ranges, and an evaluator over document trees (doc.h). */
#include "jsonpath.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

#define JP_MAX_LEN   8192 /* a template longer than this is refused */
#define JP_MAX_DEPTH 16	  /* nested ranges and filters */

enum seg_type {
	SEG_FIELDS,   /* .name, ['a','b'] */
	SEG_WILDCARD, /* .*, [*] */
	SEG_INDEXES,  /* [0], [-1], [0,2] */
	SEG_SLICE,    /* [a:b:c] */
	SEG_RECURSE,  /* .. (this node and every node below it) */
	SEG_FILTER,   /* [?(…)] */
};

enum filter_op { OP_EXISTS, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct path;

struct segment {
	enum seg_type type;
	char **names;	    /* SEG_FIELDS */
	long long *indexes; /* SEG_INDEXES */
	size_t n;
	long long start, end, step; /* SEG_SLICE */
	bool has_start, has_end;
	/* SEG_FILTER: @path OP (literal | @path) */
	struct path *lhs, *rhs_path;
	enum filter_op op;
	char *literal;
	bool literal_is_number;
};

struct path {
	bool absolute; /* $: from the root, else from the current node */
	struct segment *segs;
	size_t n;
};

enum action_type { ACT_TEXT, ACT_PATH, ACT_RANGE };

struct action {
	enum action_type type;
	char *text;		     /* ACT_TEXT */
	struct path *path;	     /* ACT_PATH, ACT_RANGE */
	struct skiff_jsonpath *body; /* ACT_RANGE */
};

struct skiff_jsonpath {
	struct action *acts;
	size_t n;
};

/* ---- freeing -------------------------------------------------------------- */

static void path_free(struct path *p);

static void segment_clear(struct segment *s)
{
	for (size_t i = 0; s->names && i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->indexes);
	path_free(s->lhs);
	path_free(s->rhs_path);
	free(s->literal);
}

static void path_free(struct path *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		segment_clear(&p->segs[i]);
	free(p->segs);
	free(p);
}

void skiff_jsonpath_free(struct skiff_jsonpath *jp)
{
	if (!jp)
		return;
	for (size_t i = 0; i < jp->n; i++) {
		free(jp->acts[i].text);
		path_free(jp->acts[i].path);
		skiff_jsonpath_free(jp->acts[i].body);
	}
	free(jp->acts);
	free(jp);
}

/* ---- parsing -------------------------------------------------------------- */

struct parser {
	const char *s; /* the whole template */
	size_t pos;
	char *err;
	int depth;
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *p, const char *fmt, ...)
{
	if (p->err)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	p->err = xasprintf("column %zu: %s", p->pos + 1, msg);
	return -EINVAL;
}

static char peek(const struct parser *p)
{
	return p->s[p->pos];
}

static void skip_space(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
		p->pos++;
}

static struct segment *seg_add(struct path *path, enum seg_type type)
{
	path->segs = xrealloc(path->segs, (path->n + 1) * sizeof(*path->segs));
	struct segment *s = &path->segs[path->n++];
	memset(s, 0, sizeof(*s));
	s->type = type;
	return s;
}

static void seg_add_name(struct segment *s, char *name)
{
	s->names = xrealloc(s->names, (s->n + 1) * sizeof(*s->names));
	s->names[s->n++] = name;
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '/' || c == '$' ||
	       (unsigned char)c >= 0x80;
}

/* A field name after '.': name characters, and \X for any X. */
static int parse_name(struct parser *p, char **ret)
{
	char *out = xmalloc(strlen(p->s + p->pos) + 1);
	size_t n = 0;
	for (;;) {
		char c = peek(p);
		if (c == '\\' && p->s[p->pos + 1]) {
			out[n++] = p->s[p->pos + 1];
			p->pos += 2;
		} else if (name_char(c)) {
			out[n++] = c;
			p->pos++;
		} else {
			break;
		}
	}
	out[n] = '\0';
	if (n == 0) {
		free(out);
		return perr(p, "expected a field name after '.'");
	}
	*ret = out;
	return 0;
}

/* 'text' or "text" with \n \t \r \\ \' \" escapes. */
static int parse_quoted(struct parser *p, char **ret)
{
	char q = peek(p);
	size_t start = p->pos++;
	char *out = xmalloc(strlen(p->s + p->pos) + 1);
	size_t n = 0;
	for (;;) {
		char c = peek(p);
		if (!c) {
			free(out);
			p->pos = start;
			return perr(p, "unterminated string %c…", q);
		}
		p->pos++;
		if (c == q)
			break;
		if (c == '\\' && peek(p)) {
			c = p->s[p->pos++];
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			default:
				break;
			}
		}
		out[n++] = c;
	}
	out[n] = '\0';
	*ret = out;
	return 0;
}

static int parse_int(struct parser *p, long long *ret)
{
	const char *b = p->s + p->pos;
	char *end;
	errno = 0;
	long long v = strtoll(b, &end, 10);
	if (end == b || errno)
		return perr(p, "expected a number");
	p->pos += (size_t)(end - b);
	*ret = v;
	return 0;
}

static int parse_path(struct parser *p, struct path **ret, bool in_filter);

static int parse_filter(struct parser *p, struct segment *s)
{
	/* after "[?(" */
	if (++p->depth > JP_MAX_DEPTH)
		return perr(p, "filters nested too deeply");
	skip_space(p);
	if (peek(p) != '@')
		return perr(p, "a filter starts with @ (like [?(@.name==\"x\")])");
	int r = parse_path(p, &s->lhs, true);
	if (r < 0)
		return r;
	skip_space(p);
	static const struct {
		const char *word;
		enum filter_op op;
	} ops[] = { { "==", OP_EQ }, { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE },
		    { "<", OP_LT },  { ">", OP_GT },  { "=", OP_EQ } };
	s->op = OP_EXISTS;
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (skiff_startswith(p->s + p->pos, ops[i].word)) {
			s->op = ops[i].op;
			p->pos += strlen(ops[i].word);
			break;
		}
	if (s->op != OP_EXISTS) {
		skip_space(p);
		char c = peek(p);
		if (c == '"' || c == '\'') {
			r = parse_quoted(p, &s->literal);
		} else if (c == '@') {
			r = parse_path(p, &s->rhs_path, true);
		} else if (c == '-' || isdigit((unsigned char)c)) {
			size_t b = p->pos;
			while (p->s[p->pos] == '-' || p->s[p->pos] == '.' ||
			       isdigit((unsigned char)p->s[p->pos]))
				p->pos++;
			s->literal = xstrndup(p->s + b, p->pos - b);
			s->literal_is_number = true;
		} else if (skiff_startswith(p->s + p->pos, "true") ||
			   skiff_startswith(p->s + p->pos, "false")) {
			size_t len = p->s[p->pos] == 't' ? 4 : 5;
			s->literal = xstrndup(p->s + p->pos, len);
			p->pos += len;
		} else {
			return perr(p, "expected a quoted string, a number or @path after the "
				       "comparison");
		}
		if (r < 0)
			return r;
		skip_space(p);
	}
	if (peek(p) != ')')
		return perr(p, "expected ')' to close the filter");
	p->pos++;
	if (peek(p) != ']')
		return perr(p, "expected ']' after the filter's ')'");
	p->pos++;
	p->depth--;
	return 0;
}

/* After '[': * ] | ?( … )] | 'a','b' ] | N,M ] | a:b:c ] */
static int parse_bracket(struct parser *p, struct path *path)
{
	skip_space(p);
	char c = peek(p);
	if (c == '*') {
		p->pos++;
		skip_space(p);
		if (peek(p) != ']')
			return perr(p, "expected ']' after '[*'");
		p->pos++;
		seg_add(path, SEG_WILDCARD);
		return 0;
	}
	if (c == '?') {
		p->pos++;
		if (peek(p) != '(')
			return perr(p, "expected '(' after '[?'");
		p->pos++;
		return parse_filter(p, seg_add(path, SEG_FILTER));
	}
	if (c == '\'' || c == '"') {
		struct segment *s = seg_add(path, SEG_FIELDS);
		for (;;) {
			char *name = NULL;
			int r = parse_quoted(p, &name);
			if (r < 0)
				return r;
			seg_add_name(s, name);
			skip_space(p);
			if (peek(p) == ']') {
				p->pos++;
				return 0;
			}
			if (peek(p) != ',')
				return perr(p, "expected ',' or ']' after a quoted field name");
			p->pos++;
			skip_space(p);
			if (peek(p) != '\'' && peek(p) != '"')
				return perr(p, "expected a quoted field name after ','");
		}
	}
	/* numbers: an index list or a slice */
	long long v[3] = { 0, 0, 1 };
	bool has[3] = { false, false, false };
	int part = 0;
	struct segment *idx = NULL;
	for (;;) {
		skip_space(p);
		c = peek(p);
		if (c == '-' || isdigit((unsigned char)c)) {
			if (has[part])
				return perr(p, "expected ':', ',' or ']'");
			int r = parse_int(p, &v[part]);
			if (r < 0)
				return r;
			has[part] = true;
			skip_space(p);
			c = peek(p);
		}
		if (c == ':') {
			if (idx || part == 2)
				return perr(p, "a slice is [start:end] or [start:end:step]");
			p->pos++;
			part++;
			continue;
		}
		if (c == ',' || (c == ']' && part == 0)) {
			if (!has[0])
				return perr(p, "expected an index, '*', '?(' or a quoted name "
					       "after '['");
			if (!idx)
				idx = seg_add(path, SEG_INDEXES);
			idx->indexes = xrealloc(idx->indexes, (idx->n + 1) * sizeof(long long));
			idx->indexes[idx->n++] = v[0];
			has[0] = false;
			p->pos++;
			if (c == ']')
				return 0;
			continue;
		}
		if (c == ']') {
			if (has[2] && v[2] == 0)
				return perr(p, "a slice's step cannot be 0");
			p->pos++;
			struct segment *s = seg_add(path, SEG_SLICE);
			s->start = v[0];
			s->has_start = has[0];
			s->end = v[1];
			s->has_end = has[1];
			s->step = has[2] ? v[2] : 1;
			return 0;
		}
		if (!c)
			return perr(p, "unclosed '['");
		return perr(p, "unexpected '%c' in '[…]'", c);
	}
}

/* A path: [$|@] then .name .* ..name [..] segments. In a filter it ends at
 * a space, an operator or ')'; else at a space or '}'. */
static int parse_path(struct parser *p, struct path **ret, bool in_filter)
{
	struct path *path = xcalloc(1, sizeof(*path));
	int r = 0;
	if (peek(p) == '$') {
		path->absolute = true;
		p->pos++;
	} else if (peek(p) == '@') {
		p->pos++;
	}
	for (;;) {
		char c = peek(p);
		if (c == '.' && p->s[p->pos + 1] == '.') {
			p->pos += 2;
			seg_add(path, SEG_RECURSE);
			if (peek(p) == '[')
				continue;
			if (peek(p) == '*') {
				p->pos++;
				seg_add(path, SEG_WILDCARD);
				continue;
			}
			char *name = NULL;
			if ((r = parse_name(p, &name)) < 0)
				break;
			seg_add_name(seg_add(path, SEG_FIELDS), name);
		} else if (c == '.') {
			p->pos++;
			if (peek(p) == '*') {
				p->pos++;
				seg_add(path, SEG_WILDCARD);
				continue;
			}
			/* "{.}" / "{.[0]}": the current node */
			if (peek(p) == '}' || peek(p) == '[' || peek(p) == ' ' || !peek(p))
				continue;
			char *name = NULL;
			if ((r = parse_name(p, &name)) < 0)
				break;
			seg_add_name(seg_add(path, SEG_FIELDS), name);
		} else if (c == '[') {
			p->pos++;
			if ((r = parse_bracket(p, path)) < 0)
				break;
		} else if (path->n == 0 && !path->absolute && name_char(c) && c != '$' &&
			   !in_filter) {
			/* kubectl takes "{items[0]}" as "{.items[0]}" */
			char *name = NULL;
			if ((r = parse_name(p, &name)) < 0)
				break;
			seg_add_name(seg_add(path, SEG_FIELDS), name);
		} else {
			break;
		}
	}
	if (r < 0) {
		path_free(path);
		return r;
	}
	*ret = path;
	return 0;
}

static struct action *act_add(struct skiff_jsonpath *jp, enum action_type type)
{
	jp->acts = xrealloc(jp->acts, (jp->n + 1) * sizeof(*jp->acts));
	struct action *a = &jp->acts[jp->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

/* Text and actions until the end, or until {end} when in_range. */
static int parse_template(struct parser *p, struct skiff_jsonpath *jp, bool in_range)
{
	for (;;) {
		size_t b = p->pos;
		while (peek(p) && peek(p) != '{' && peek(p) != '}')
			p->pos++;
		if (p->pos > b)
			act_add(jp, ACT_TEXT)->text = xstrndup(p->s + b, p->pos - b);
		if (!peek(p)) {
			if (in_range)
				return perr(p, "{range} without {end}");
			return 0;
		}
		if (peek(p) == '}')
			return perr(p, "'}' without '{'");
		size_t open = p->pos++;
		skip_space(p);
		if (skiff_startswith(p->s + p->pos, "end") &&
		    (p->s[p->pos + 3] == '}' || p->s[p->pos + 3] == ' ')) {
			p->pos += 3;
			skip_space(p);
			if (peek(p) != '}')
				return perr(p, "expected '}' after end");
			p->pos++;
			if (!in_range) {
				p->pos = open;
				return perr(p, "{end} without {range}");
			}
			return 0;
		}
		int r;
		if (skiff_startswith(p->s + p->pos, "range ")) {
			if (++p->depth > JP_MAX_DEPTH)
				return perr(p, "ranges nested too deeply");
			p->pos += 6;
			skip_space(p);
			struct action *a = act_add(jp, ACT_RANGE);
			if ((r = parse_path(p, &a->path, false)) < 0)
				return r;
			skip_space(p);
			if (peek(p) != '}')
				return perr(p, "expected '}' after the range's path");
			p->pos++;
			a->body = xcalloc(1, sizeof(*a->body));
			if ((r = parse_template(p, a->body, true)) < 0)
				return r;
			p->depth--;
			continue;
		}
		if (peek(p) == '"' || peek(p) == '\'') {
			struct action *a = act_add(jp, ACT_TEXT);
			if ((r = parse_quoted(p, &a->text)) < 0)
				return r;
		} else {
			struct action *a = act_add(jp, ACT_PATH);
			if ((r = parse_path(p, &a->path, false)) < 0)
				return r;
			if (a->path->n == 0 && !a->path->absolute && p->pos == open + 1)
				return perr(p, peek(p) ? "unexpected '%c'" : "unclosed '{'",
					    peek(p));
		}
		skip_space(p);
		if (!peek(p)) {
			p->pos = open;
			return perr(p, "unclosed '{'");
		}
		if (peek(p) != '}')
			return perr(p, "unexpected '%c' (expected '}')", peek(p));
		p->pos++;
	}
}

int skiff_jsonpath_parse(const char *tmpl, struct skiff_jsonpath **ret, char **ret_errmsg)
{
	if (strlen(tmpl) > JP_MAX_LEN) {
		*ret_errmsg = xasprintf("template longer than %d characters", JP_MAX_LEN);
		return -EINVAL;
	}
	struct parser p = { .s = tmpl };
	struct skiff_jsonpath *jp = xcalloc(1, sizeof(*jp));
	int r = parse_template(&p, jp, false);
	if (r < 0) {
		skiff_jsonpath_free(jp);
		*ret_errmsg = p.err;
		return r;
	}
	*ret = jp;
	return 0;
}

int skiff_jsonpath_parse_expr(const char *expr, struct skiff_jsonpath **ret, char **ret_errmsg)
{
	size_t len = strlen(expr);
	_cleanup_free_ char *t = NULL;
	if (len > 0 && expr[0] == '{')
		t = xstrdup(expr);
	else
		t = xasprintf("{%s}", expr);
	struct skiff_jsonpath *jp = NULL;
	int r = skiff_jsonpath_parse(t, &jp, ret_errmsg);
	if (r < 0)
		return r;
	if (jp->n != 1 || jp->acts[0].type != ACT_PATH) {
		skiff_jsonpath_free(jp);
		*ret_errmsg =
		    xasprintf("\"%s\": expected one field path (like .metadata.name)", expr);
		return -EINVAL;
	}
	*ret = jp;
	return 0;
}

/* ---- evaluation ----------------------------------------------------------- */

struct nodeset {
	const struct skiff_doc_node **v;
	size_t n, cap;
};

static void set_add(struct nodeset *s, const struct skiff_doc_node *node)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = node;
}

static void add_children(struct nodeset *out, const struct skiff_doc_node *n)
{
	if (n->type == SKIFF_DOC_SEQ)
		for (size_t i = 0; i < n->n; i++)
			set_add(out, n->items[i]);
	else if (n->type == SKIFF_DOC_MAP)
		for (size_t i = 1; i < n->n; i += 2)
			set_add(out, n->items[i]);
}

static void add_recursive(struct nodeset *out, const struct skiff_doc_node *n, int depth)
{
	set_add(out, n);
	if (depth > SKIFF_DOC_MAX_DEPTH)
		return;
	size_t first = n->type == SKIFF_DOC_MAP ? 1 : 0, step = n->type == SKIFF_DOC_MAP ? 2 : 1;
	if (n->type != SKIFF_DOC_SCALAR)
		for (size_t i = first; i < n->n; i += step)
			add_recursive(out, n->items[i], depth + 1);
}

static struct nodeset eval_path(const struct path *path, const struct skiff_doc_node *root,
				const struct skiff_doc_node *cur);

static const char *scalar_text(const struct skiff_doc_node *n)
{
	return n->type == SKIFF_DOC_SCALAR && n->str ? n->str : "";
}

static bool is_number(const char *s, double *ret)
{
	char *end;
	if (!*s)
		return false;
	errno = 0;
	*ret = strtod(s, &end);
	return !*end && errno == 0;
}

static bool compare(const char *a, const char *b, enum filter_op op)
{
	double x, y;
	int c;
	if (is_number(a, &x) && is_number(b, &y))
		c = x < y ? -1 : x > y ? 1 : 0;
	else
		c = strcmp(a, b);
	switch (op) {
	case OP_EQ:
		return c == 0;
	case OP_NE:
		return c != 0;
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	case OP_GE:
		return c >= 0;
	case OP_EXISTS:
		break;
	}
	return true;
}

static bool filter_match(const struct segment *s, const struct skiff_doc_node *root,
			 const struct skiff_doc_node *item)
{
	struct nodeset l = eval_path(s->lhs, root, item);
	bool match = false;
	if (s->op == OP_EXISTS) {
		match = l.n > 0;
	} else {
		struct nodeset r = { 0 };
		if (s->rhs_path)
			r = eval_path(s->rhs_path, root, item);
		for (size_t i = 0; i < l.n && !match; i++) {
			if (l.v[i]->type != SKIFF_DOC_SCALAR)
				continue;
			if (!s->rhs_path) {
				match = compare(scalar_text(l.v[i]), s->literal, s->op);
				continue;
			}
			for (size_t j = 0; j < r.n && !match; j++)
				match = compare(scalar_text(l.v[i]), scalar_text(r.v[j]), s->op);
		}
		free(r.v);
	}
	free(l.v);
	return match;
}

static void apply_segment(const struct segment *s, const struct skiff_doc_node *root,
			  const struct skiff_doc_node *n, struct nodeset *out)
{
	switch (s->type) {
	case SEG_FIELDS:
		for (size_t i = 0; i < s->n; i++) {
			const struct skiff_doc_node *v = skiff_doc_get(n, s->names[i]);
			if (v)
				set_add(out, v);
		}
		break;
	case SEG_WILDCARD:
		add_children(out, n);
		break;
	case SEG_INDEXES:
		if (n->type != SKIFF_DOC_SEQ)
			break;
		for (size_t i = 0; i < s->n; i++) {
			long long k = s->indexes[i];
			if (k < 0)
				k += (long long)n->n;
			if (k >= 0 && k < (long long)n->n)
				set_add(out, n->items[k]);
		}
		break;
	case SEG_SLICE: {
		if (n->type != SKIFF_DOC_SEQ)
			break;
		long long len = (long long)n->n;
		long long a = s->has_start ? s->start : (s->step > 0 ? 0 : len - 1);
		long long b = s->has_end ? s->end : (s->step > 0 ? len : -len - 1);
		if (a < 0)
			a += len;
		if (b < 0)
			b += len;
		if (s->step > 0) {
			if (a < 0)
				a = 0;
			for (long long k = a; k < b && k < len; k += s->step)
				set_add(out, n->items[k]);
		} else {
			if (a >= len)
				a = len - 1;
			for (long long k = a; k > b && k >= 0; k += s->step)
				set_add(out, n->items[k]);
		}
		break;
	}
	case SEG_RECURSE:
		add_recursive(out, n, 0);
		break;
	case SEG_FILTER: {
		struct nodeset items = { 0 };
		if (n->type == SKIFF_DOC_SCALAR)
			break;
		add_children(&items, n);
		for (size_t i = 0; i < items.n; i++)
			if (filter_match(s, root, items.v[i]))
				set_add(out, items.v[i]);
		free(items.v);
		break;
	}
	}
}

static struct nodeset eval_path(const struct path *path, const struct skiff_doc_node *root,
				const struct skiff_doc_node *cur)
{
	struct nodeset set = { 0 };
	set_add(&set, path->absolute ? root : cur);
	for (size_t i = 0; i < path->n; i++) {
		struct nodeset next = { 0 };
		for (size_t j = 0; j < set.n; j++)
			apply_segment(&path->segs[i], root, set.v[j], &next);
		free(set.v);
		set = next;
	}
	return set;
}

static void print_node(FILE *f, const struct skiff_doc_node *n)
{
	if (n->type == SKIFF_DOC_SCALAR) {
		fputs(n->str ? n->str : "", f);
		return;
	}
	_cleanup_free_ char *json = skiff_doc_to_json(n);
	fputs(json, f);
}

static void execute(const struct skiff_jsonpath *jp, const struct skiff_doc_node *root,
		    const struct skiff_doc_node *cur, FILE *f)
{
	for (size_t i = 0; i < jp->n; i++) {
		const struct action *a = &jp->acts[i];
		if (a->type == ACT_TEXT) {
			fputs(a->text, f);
			continue;
		}
		struct nodeset set = eval_path(a->path, root, cur);
		for (size_t j = 0; j < set.n; j++) {
			if (a->type == ACT_RANGE) {
				execute(a->body, root, set.v[j], f);
				continue;
			}
			if (j > 0)
				fputc(' ', f);
			print_node(f, set.v[j]);
		}
		free(set.v);
	}
}

int skiff_jsonpath_print(const struct skiff_jsonpath *jp, const struct skiff_doc_node *root,
			 FILE *f)
{
	execute(jp, root, root, f);
	return ferror(f) ? -EIO : 0;
}

char *skiff_jsonpath_text(const struct skiff_jsonpath *jp, const struct skiff_doc_node *root)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	execute(jp, root, root, f);
	fclose(f);
	return text;
}

size_t skiff_jsonpath_select(const struct skiff_jsonpath *jp, const struct skiff_doc_node *root,
			     const struct skiff_doc_node ***ret)
{
	assert(jp->n == 1 && jp->acts[0].type == ACT_PATH);
	struct nodeset set = eval_path(jp->acts[0].path, root, root);
	*ret = set.v;
	return set.n;
}
