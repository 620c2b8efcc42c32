/* test_jsonpath.c — kubectl's JSONPath subset (ctl/jsonpath.c): paths,
 * wildcards, indexes, slices, filters, ranges, literals, and hostile
 * templates that must fail with one line naming the column. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "doc.h"
#include "jsonpath.h"
#include "util.h"
#include "testlib.h"

static const char list_json[] =
    "{\"kind\": \"List\", \"items\": ["
    "{\"metadata\": {\"name\": \"web-1\", \"labels\": {\"app\": \"web\"},"
    " \"annotations\": {\"kubernetes.io/x\": \"dotted\"}},"
    " \"spec\": {\"nodeName\": \"vm1\", \"containers\": [{\"name\": \"a\", \"image\": \"i:1\"},"
    " {\"name\": \"b\", \"image\": \"i:2\"}]}, \"status\": {\"phase\": \"Running\","
    " \"restarts\": 10}},"
    "{\"metadata\": {\"name\": \"db-1\", \"labels\": {\"app\": \"db\"}},"
    " \"spec\": {\"nodeName\": \"vm2\", \"containers\": [{\"name\": \"c\", \"image\": \"pg\"}]},"
    " \"status\": {\"phase\": \"Pending\", \"restarts\": 9}}]}";

static struct skiff_doc_set docs;

static void setup(void)
{
	_cleanup_free_ char *err = NULL;
	memset(&docs, 0, sizeof(docs));
	ck_assert_int_eq(skiff_doc_load_yaml("t", list_json, strlen(list_json), &docs, &err), 0);
}

static void teardown(void)
{
	skiff_doc_set_clear(&docs);
}

/* The template's output on the list; "ERR: message" when it does not parse. */
static char *run(const char *tmpl)
{
	struct skiff_jsonpath *jp = NULL;
	char *err = NULL;
	if (skiff_jsonpath_parse(tmpl, &jp, &err) < 0) {
		char *s = xasprintf("ERR: %s", err);
		free(err);
		return s;
	}
	char *out = skiff_jsonpath_text(jp, docs.docs[0]);
	skiff_jsonpath_free(jp);
	return out;
}

#define EXPECT(tmpl, want)                                                                         \
	do {                                                                                       \
		_cleanup_free_ char *_got = run(tmpl);                                             \
		ck_assert_msg(streq(_got, want), "%s: got \"%s\", want \"%s\"", tmpl, _got, want); \
	} while (0)

TEST(test_paths)
{
	EXPECT("{.items[*].metadata.name}", "web-1 db-1");
	EXPECT("{$.items[0].metadata.name}", "web-1");
	EXPECT("{items[1].metadata.name}", "db-1");
	EXPECT("{.items[-1].spec.nodeName}", "vm2");
	EXPECT("{.items[5].metadata.name}", "");
	EXPECT("{.items[0].spec.containers[*].image}", "i:1 i:2");
	EXPECT("{.items[0].spec.containers[0,1].name}", "a b");
	EXPECT("{.items[0:1].metadata.name}", "web-1");
	EXPECT("{.items[::-1].metadata.name}", "db-1 web-1");
	EXPECT("{.items[0].metadata['name','labels']}", "web-1 {\"app\":\"web\"}");
	EXPECT("{.items[0].metadata.annotations.kubernetes\\.io/x}", "dotted");
	EXPECT("{.items[0].metadata.annotations['kubernetes.io/x']}", "dotted");
	EXPECT("{..image}", "i:1 i:2 pg");
	EXPECT("{.items[1].metadata.labels.*}", "db");
	EXPECT("{.kind}", "List");
	EXPECT("kind={.kind}!", "kind=List!");
	EXPECT("{.items[1].spec.containers}", "[{\"name\":\"c\",\"image\":\"pg\"}]");
}
END_TEST

TEST(test_filters)
{
	EXPECT("{.items[?(@.status.phase==\"Running\")].metadata.name}", "web-1");
	EXPECT("{.items[?(@.status.phase != 'Running')].metadata.name}", "db-1");
	EXPECT("{.items[?(@.metadata.annotations)].metadata.name}", "web-1");
	/* numbers compare as numbers: 10 > 9 */
	EXPECT("{.items[?(@.status.restarts > 9)].metadata.name}", "web-1");
	EXPECT("{.items[?(@.status.restarts <= 9)].metadata.name}", "db-1");
	EXPECT("{.items[*].spec.containers[?(@.name==\"b\")].image}", "i:2");
	EXPECT("{.items[?(@.metadata.name==@.metadata.name)].metadata.name}", "web-1 db-1");
}
END_TEST

TEST(test_range_and_literals)
{
	EXPECT("{range .items[*]}{.metadata.name}{\"\\t\"}{.spec.nodeName}{\"\\n\"}{end}",
	       "web-1\tvm1\ndb-1\tvm2\n");
	EXPECT("{range .items[*]}[{range .spec.containers[*]}{.name},{end}]{end}", "[a,b,][c,]");
	EXPECT("{range .items[*]}{$.kind} {end}", "List List ");
	EXPECT("{'x'}{\"y\"}", "xy");
}
END_TEST

TEST(test_hostile_templates)
{
	static const struct {
		const char *tmpl, *err;
	} cases[] = {
		{ "{.items[*]", "column 1: unclosed '{'" },
		{ "{.items[*].metadata.name}}", "column 26: '}' without '{'" },
		{ "}", "column 1: '}' without '{'" },
		{ "{", "column 2: unclosed '{'" },
		{ "{}", "column 2: unexpected '}'" },
		{ "{.items[}", "column 9: unexpected '}' in '[…]'" },
		{ "{.items[0}", "column 10: unexpected '}' in '[…]'" },
		{ "{.items[", "column 9: unclosed '['" },
		{ "{range .items[*]}{.x}", "column 22: {range} without {end}" },
		{ "{end}", "column 1: {end} without {range}" },
		{ "{.items[?(@.x==)]}", "column 16: expected a quoted string, a number or @path "
					"after the comparison" },
		{ "{.items[?(@.x==\"a\"]}", "column 19: expected ')' to close the filter" },
		{ "{.items[?(.x)]}",
		  "column 11: a filter starts with @ (like [?(@.name==\"x\")])" },
		{ "{\"abc}", "column 2: unterminated string \"…" },
		{ "{.a..}", "column 6: expected a field name after '.'" },
		{ "{.a b}", "column 5: unexpected 'b' (expected '}')" },
		{ "{.items[::0]}", "column 12: a slice's step cannot be 0" },
		{ "{.items[1:2:3:4]}", "column 14: a slice is [start:end] or [start:end:step]" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct skiff_jsonpath *jp = NULL;
		char *err = NULL;
		ck_assert_msg(skiff_jsonpath_parse(cases[i].tmpl, &jp, &err) == -EINVAL,
			      "%s parsed", cases[i].tmpl);
		ck_assert_msg(streq(err, cases[i].err), "%s: \"%s\", want \"%s\"", cases[i].tmpl,
			      err, cases[i].err);
		ck_assert(!strchr(err, '\n'));
		free(err);
	}
	/* deep nesting and huge input are refused, not recursed into */
	_cleanup_free_ char *deep = xstrdup("");
	for (int i = 0; i < 40; i++) {
		char *t = xasprintf("%s{range .items[*]}", deep);
		free(deep);
		deep = t;
	}
	_cleanup_free_ char *e1 = run(deep);
	ck_assert_msg(strstr(e1, "nested too deeply"), "%s", e1);
	_cleanup_free_ char *big = xmalloc(10000);
	memset(big, '{', 9999);
	big[9999] = '\0';
	_cleanup_free_ char *e2 = run(big);
	ck_assert_msg(skiff_startswith(e2, "ERR: template longer than"), "%s", e2);
	/* every prefix of a valid template fails cleanly or parses */
	const char *full = "{range .items[?(@.a==\"x\")]}{.b['c','d'][0:2]}{\"\\n\"}{end}";
	for (size_t n = 0; n <= strlen(full); n++) {
		_cleanup_free_ char *prefix = xstrndup(full, n);
		_cleanup_free_ char *out = run(prefix);
		ck_assert(!strchr(out, '\n') || !skiff_startswith(out, "ERR"));
	}
}
END_TEST

TEST(test_expr)
{
	struct skiff_jsonpath *jp = NULL;
	char *err = NULL;
	ck_assert_int_eq(skiff_jsonpath_parse_expr(".metadata.name", &jp, &err), 0);
	skiff_jsonpath_free(jp);
	ck_assert_int_eq(skiff_jsonpath_parse_expr("{.items[*].metadata.name}", &jp, &err), 0);
	const struct skiff_doc_node **v = NULL;
	ck_assert_int_eq(skiff_jsonpath_select(jp, docs.docs[0], &v), 2);
	ck_assert_str_eq(v[1]->str, "db-1");
	free(v);
	skiff_jsonpath_free(jp);
	ck_assert_int_eq(skiff_jsonpath_parse_expr("{.a}{.b}", &jp, &err), -EINVAL);
	ck_assert_str_eq(err, "\"{.a}{.b}\": expected one field path (like .metadata.name)");
	free(err);
}
END_TEST

TEST_SUITE(.setup = setup, .teardown = teardown);
