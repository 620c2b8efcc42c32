/* doc.c — YAML/JSON documents as position-carrying trees: a capped,
 * alias-refusing loader on libyaml's event parser, and YAML (libyaml's
 * emitter) and JSON (jansson; text that is not valid UTF-8 gets U+FFFD for
 * the bad bytes) writers for output. */
#include "doc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"
#include "json.h"
#include "util.h"

#define SKIFF_DOC_MAX_ALLOC (48u << 20) /* the whole tree of one input */
#define SKIFF_DOC_MAX_ITEMS 10000	/* entries of one sequence or mapping */

/* ---- building ----------------------------------------------------------- */

struct loader {
	const char *name;
	size_t allocated, peak, nodes;
	char *errmsg;
};

static void account(struct loader *l, size_t bytes)
{
	if (!l)
		return;
	l->allocated += bytes;
	if (l->allocated > l->peak)
		l->peak = l->allocated;
}

static struct skiff_doc_node *node_new(struct loader *l, enum skiff_doc_type type)
{
	struct skiff_doc_node *n = xcalloc(1, sizeof(*n));
	n->type = type;
	account(l, sizeof(*n));
	return n;
}

static void node_add(struct loader *l, struct skiff_doc_node *parent, struct skiff_doc_node *item)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		parent->items = xrealloc(parent->items, cap * sizeof(*parent->items));
		account(l, (cap - parent->cap) * sizeof(*parent->items));
		parent->cap = cap;
	}
	parent->items[parent->n++] = item;
}

struct skiff_doc_node *skiff_doc_new(enum skiff_doc_type type)
{
	return node_new(NULL, type);
}

struct skiff_doc_node *skiff_doc_scalar(const char *s, enum skiff_doc_scalar kind)
{
	struct skiff_doc_node *n = node_new(NULL, SKIFF_DOC_SCALAR);
	n->str = xstrdup(s ? s : "");
	n->kind = kind;
	return n;
}

struct skiff_doc_node *skiff_doc_number(long long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", v);
	return skiff_doc_scalar(buf, SKIFF_SCALAR_NUMBER);
}

void skiff_doc_append(struct skiff_doc_node *seq, struct skiff_doc_node *item)
{
	node_add(NULL, seq, item);
}

void skiff_doc_put(struct skiff_doc_node *map, const char *key, struct skiff_doc_node *value)
{
	node_add(NULL, map, skiff_doc_scalar(key, SKIFF_SCALAR_STRING));
	node_add(NULL, map, value);
}

void skiff_doc_free(struct skiff_doc_node *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->n; i++)
		skiff_doc_free(node->items[i]);
	free(node->items);
	free(node->str);
	free(node);
}

struct skiff_doc_node *skiff_doc_get(const struct skiff_doc_node *map, const char *key)
{
	if (!map || map->type != SKIFF_DOC_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (map->items[i]->str && streq(map->items[i]->str, key))
			return map->items[i + 1];
	return NULL;
}

void skiff_doc_set_clear(struct skiff_doc_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		skiff_doc_free(set->docs[i]);
	free(set->docs);
	set->docs = NULL;
	set->n = 0;
}

/* ---- loading ------------------------------------------------------------ */

static int fail(struct loader *l, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *l, const yaml_mark_t *m, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(l->errmsg);
	l->errmsg = xasprintf("%s:%zu:%zu: %s", l->name, m->line + 1, m->column + 1, msg);
	return -EBADMSG;
}

static bool is_null_word(const char *s)
{
	return !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

/* Reject what the object model never needs and attackers love: anchors,
 * aliases and tags. */
static int check_node_event(struct loader *l, const yaml_event_t *ev, const yaml_char_t *anchor,
			    const yaml_char_t *tag, bool implicit)
{
	if (anchor)
		return fail(l, &ev->start_mark, "YAML anchors (&%s) are not allowed in manifests",
			    (const char *)anchor);
	if (tag && !implicit)
		return fail(l, &ev->start_mark, "YAML tags (%s) are not allowed in manifests",
			    (const char *)tag);
	return 0;
}

static int attach(struct loader *l, const yaml_event_t *ev, struct skiff_doc_node **stack,
		  size_t depth, struct skiff_doc_node **root, struct skiff_doc_node *node)
{
	if (++l->nodes > SKIFF_DOC_MAX_NODES) {
		skiff_doc_free(node);
		return fail(l, &ev->start_mark, "too many nodes (more than %u)",
			    SKIFF_DOC_MAX_NODES);
	}
	if (l->allocated > SKIFF_DOC_MAX_ALLOC) {
		skiff_doc_free(node);
		return fail(l, &ev->start_mark, "document too large (more than %u bytes in memory)",
			    SKIFF_DOC_MAX_ALLOC);
	}
	if (depth == 0) {
		*root = node;
		return 0;
	}
	struct skiff_doc_node *parent = stack[depth - 1];
	if (parent->type == SKIFF_DOC_MAP && parent->n % 2 == 0 && node->type != SKIFF_DOC_SCALAR) {
		skiff_doc_free(node);
		return fail(l, &ev->start_mark, "mapping keys must be plain strings");
	}
	size_t entries = parent->type == SKIFF_DOC_MAP ? parent->n / 2 : parent->n;
	if (entries >= SKIFF_DOC_MAX_ITEMS) {
		skiff_doc_free(node);
		return fail(l, &ev->start_mark, "too many entries in one %s (more than %u)",
			    parent->type == SKIFF_DOC_MAP ? "mapping" : "sequence",
			    SKIFF_DOC_MAX_ITEMS);
	}
	node_add(l, parent, node);
	return 0;
}

int skiff_doc_load_yaml(const char *name, const char *buf, size_t len, struct skiff_doc_set *ret,
			char **ret_errmsg)
{
	struct loader l = { .name = name };
	struct skiff_doc_node *stack[SKIFF_DOC_MAX_DEPTH];
	struct skiff_doc_node *root = NULL;
	struct skiff_doc_set set = { 0 };
	size_t depth = 0;
	yaml_parser_t parser;
	bool done = false;
	int r = 0;

	if (len > SKIFF_DOC_MAX_BYTES) {
		*ret_errmsg = xasprintf("%s: too large (%zu bytes; at most %u)", name, len,
					SKIFF_DOC_MAX_BYTES);
		return -EBADMSG;
	}
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	while (!done && r == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			const yaml_mark_t *m = &parser.problem_mark;
			r = fail(&l, m, "YAML syntax error: %s%s%s",
				 parser.problem ? parser.problem : "malformed",
				 parser.context ? " " : "", parser.context ? parser.context : "");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			depth = 0;
			root = NULL;
			if (set.n >= SKIFF_DOC_MAX_DOCS)
				r = fail(&l, &ev.start_mark, "too many documents (more than %u)",
					 SKIFF_DOC_MAX_DOCS);
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (root) {
				set.docs = xrealloc(set.docs, (set.n + 1) * sizeof(*set.docs));
				set.docs[set.n++] = root;
				account(&l, sizeof(*set.docs));
				root = NULL;
			}
			break;
		case YAML_ALIAS_EVENT:
			r = fail(&l, &ev.start_mark,
				 "YAML aliases (*%s) are not allowed in manifests",
				 (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT: {
			r = check_node_event(&l, &ev, ev.data.scalar.anchor, ev.data.scalar.tag,
					     ev.data.scalar.plain_implicit ||
						 ev.data.scalar.quoted_implicit);
			if (r < 0)
				break;
			struct skiff_doc_node *n = node_new(&l, SKIFF_DOC_SCALAR);
			n->line = ev.start_mark.line + 1;
			n->col = ev.start_mark.column + 1;
			n->str =
			    xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			account(&l, ev.data.scalar.length + 1);
			n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			n->null = !n->quoted && is_null_word(n->str);
			r = attach(&l, &ev, stack, depth, &root, n);
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
			r = check_node_event(
			    &l, &ev,
			    seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor,
			    seq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag,
			    seq ? ev.data.sequence_start.implicit : ev.data.mapping_start.implicit);
			if (r < 0)
				break;
			if (depth >= SKIFF_DOC_MAX_DEPTH) {
				r = fail(&l, &ev.start_mark, "nesting deeper than %u levels",
					 SKIFF_DOC_MAX_DEPTH);
				break;
			}
			struct skiff_doc_node *n =
			    node_new(&l, seq ? SKIFF_DOC_SEQ : SKIFF_DOC_MAP);
			n->line = ev.start_mark.line + 1;
			n->col = ev.start_mark.column + 1;
			r = attach(&l, &ev, stack, depth, &root, n);
			if (r == 0)
				stack[depth++] = n;
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	if (r < 0) {
		/* root holds everything of the unfinished document */
		skiff_doc_free(root); /* the unfinished document, if any */
		skiff_doc_set_clear(&set);
		*ret_errmsg = TAKE_PTR(l.errmsg);
		ret->peak_allocated = l.peak;
		return r;
	}
	set.allocated = l.allocated;
	set.peak_allocated = l.peak;
	*ret = set;
	return 0;
}

/* ---- YAML output -------------------------------------------------------- */

/* Would YAML read this plain string as something other than a string? */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "y", "n" };

	if (is_null_word(s))
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	/* numbers in YAML 1.1 and 1.2 spellings: 12, -3.5, 1e3, 0x1f, 0o17, 1_000, 1:30, .inf */
	char *end = NULL;
	errno = 0;
	(void)strtod(s, &end);
	if (end && *end == 0)
		return true;
	if (s[0] == '.' && (strcasecmp(s + 1, "inf") == 0 || strcasecmp(s + 1, "nan") == 0))
		return true;
	const char *p = s + (s[0] == '-' || s[0] == '+');
	if (isdigit((unsigned char)*p)) {
		bool digits_only = true;
		for (; *p; p++)
			if (!isdigit((unsigned char)*p) && !strchr("_:.oOxXabcdefABCDEF", *p))
				digits_only = false;
		return digits_only;
	}
	return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int emit_node(yaml_emitter_t *e, const struct skiff_doc_node *n)
{
	yaml_event_t ev;
	int r;

	switch (n->type) {
	case SKIFF_DOC_SCALAR: {
		const char *s = n->str ? n->str : "";
		yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
		if (n->kind == SKIFF_SCALAR_STRING && needs_quotes(s))
			style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1,
					     1, style);
		return emit(e, &ev);
	}
	case SKIFF_DOC_SEQ:
	case SKIFF_DOC_MAP: {
		bool seq = n->type == SKIFF_DOC_SEQ;
		if (seq)
			yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							     n->n ? YAML_BLOCK_SEQUENCE_STYLE
								  : YAML_FLOW_SEQUENCE_STYLE);
		else
			yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							    n->n ? YAML_BLOCK_MAPPING_STYLE
								 : YAML_FLOW_MAPPING_STYLE);
		if ((r = emit(e, &ev)) < 0)
			return r;
		for (size_t i = 0; i < n->n; i++)
			if ((r = emit_node(e, n->items[i])) < 0)
				return r;
		if (seq)
			yaml_sequence_end_event_initialize(&ev);
		else
			yaml_mapping_end_event_initialize(&ev);
		return emit(e, &ev);
	}
	}
	return -EINVAL;
}

int skiff_doc_write_yaml(FILE *f, const struct skiff_doc_node *node, bool doc_start)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int r;

	if (!yaml_emitter_initialize(&e))
		abort();
	yaml_emitter_set_output_file(&e, f);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	r = emit(&e, &ev);
	if (r == 0) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, !doc_start);
		r = emit(&e, &ev);
	}
	if (r == 0)
		r = emit_node(&e, node);
	if (r == 0) {
		yaml_document_end_event_initialize(&ev, 1);
		r = emit(&e, &ev);
	}
	if (r == 0) {
		yaml_stream_end_event_initialize(&ev);
		r = emit(&e, &ev);
	}
	yaml_emitter_delete(&e);
	return r;
}

/* ---- JSON output -------------------------------------------------------- */

/* A number scalar: an integer, else a real, else (not a number after all)
 * a string. */
static json_t *json_number(const char *s)
{
	char *end;
	long long i;
	double d;

	errno = 0;
	i = strtoll(s, &end, 10);
	if (*s && !*end && errno == 0)
		return json_integer(i);
	d = strtod(s, &end);
	if (*s && !*end && errno == 0)
		return json_real(d);
	return skiff_json_string(s);
}

static json_t *json_node(const struct skiff_doc_node *n)
{
	json_t *j;

	switch (n->type) {
	case SKIFF_DOC_SCALAR:
		if (n->kind == SKIFF_SCALAR_NUMBER)
			return json_number(n->str ? n->str : "");
		if (n->kind == SKIFF_SCALAR_BOOL)
			return json_boolean(n->str && streq(n->str, "true"));
		return skiff_json_string(n->str ? n->str : "");
	case SKIFF_DOC_SEQ:
		j = json_array();
		for (size_t i = 0; i < n->n; i++)
			json_array_append_new(j, json_node(n->items[i]));
		return j;
	case SKIFF_DOC_MAP:
		j = json_object();
		for (size_t i = 0; i + 1 < n->n; i += 2) {
			/* a key must be valid UTF-8 too: take skiff_json_string's */
			json_t *key = skiff_json_string(n->items[i]->str ? n->items[i]->str : "");
			json_object_set_new(j, json_string_value(key), json_node(n->items[i + 1]));
			json_decref(key);
		}
		return j;
	}
	return json_null();
}

char *skiff_doc_to_json(const struct skiff_doc_node *node)
{
	json_t *j = json_node(node);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	json_decref(j);
	if (!s)
		abort(); /* allocation failure */
	char *copy = xstrdup(s);
	free(s);
	return copy;
}

int skiff_doc_write_json(FILE *f, const struct skiff_doc_node *node)
{
	json_t *j = json_node(node);
	int r = json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	json_decref(j);
	fputc('\n', f);
	return r < 0 || ferror(f) ? -EIO : 0;
}
