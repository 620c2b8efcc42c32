/* test_selector.c — lib/selector: Kubernetes label selector syntax (=, ==,
 * !=, in, notin, exists, !exists), its errors, and matching. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "selector.h"
#include "util.h"
#include "testlib.h"

/* Whether text selects labels "k=v,k=v" (a pod's labels). */
static bool selects(const char *text, const char *labels)
{
	struct skiff_selector sel;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(skiff_selector_parse(text, &sel, &err) == 0, "%s: %s", text, err);
	Skiff__KeyValue kv[8], *p[8];
	_cleanup_free_ char *copy = xstrdup(labels);
	size_t n = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t && n < 8; t = strtok_r(NULL, ",", &save)) {
		skiff__key_value__init(&kv[n]);
		char *eq = strchr(t, '=');
		*eq = 0;
		kv[n].key = t;
		kv[n].value = eq + 1;
		p[n] = &kv[n];
		n++;
	}
	bool r = skiff_selector_matches(&sel, p, n);
	skiff_selector_clear(&sel);
	return r;
}

TEST(test_operators)
{
	const char *web = "app=web,tier=front";
	ck_assert(selects("", web)); /* empty: everything */
	ck_assert(selects("app=web", web));
	ck_assert(selects("app==web", web));
	ck_assert(!selects("app=api", web));
	ck_assert(selects("app=web,tier=front", web));
	ck_assert(!selects("app=web,tier=back", web));
	/* != is not "key a!": a value other than b, or no such label */
	ck_assert(!selects("app!=web", web));
	ck_assert(selects("app!=api", web));
	ck_assert(selects("env!=prod", web));
	ck_assert(selects("app in (api, web)", web));
	ck_assert(selects("app in (web)", web));
	ck_assert(!selects("app in (api,db)", web));
	ck_assert(!selects("env in (prod)", web));
	ck_assert(selects("app notin (api,db)", web));
	ck_assert(!selects("app notin (api,web)", web));
	ck_assert(selects("env notin (prod)", web)); /* no label: not in */
	ck_assert(selects("tier", web));
	ck_assert(!selects("env", web));
	ck_assert(selects("!env", web));
	ck_assert(!selects("!tier", web));
	ck_assert(selects(" app in (web) , !env,tier ", web));
	ck_assert(selects("example.com/team=", "example.com/team="));
}
END_TEST

TEST(test_errors)
{
	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "app in web", "'app in': expected '(' after 'in'" },
		{ "app in (web", "'app in (': expected ',' or ')'" },
		{ "app<web", "'app<web' is not a valid label key" },
		{ "=web", "'=web': expected a label key" },
		{ "app=web=x", "'app': unexpected '='" },
		{ "app web", "'app web': expected =, ==, !=, in or notin after 'app'" },
		{ "app=we b", "'app': unexpected 'b'" },
		{ "app=a:b", "'a:b' is not a valid label value" },
		{ "a,,b", "'': expected a label key" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct skiff_selector sel;
		_cleanup_free_ char *err = NULL;
		ck_assert_int_eq(skiff_selector_parse(bad[i].text, &sel, &err), -EINVAL);
		ck_assert_msg(err && streq(err, bad[i].error), "%s: got \"%s\", wanted \"%s\"",
			      bad[i].text, err ? err : "", bad[i].error);
		skiff_selector_clear(&sel);
	}
	/* bounded */
	_cleanup_free_ char *many = xstrdup("a");
	for (int i = 0; i < SKIFF_SELECTOR_MAX_REQUIREMENTS; i++) {
		char *next = xasprintf("%s,a", many);
		free(many);
		many = next;
	}
	struct skiff_selector sel;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(skiff_selector_parse(many, &sel, &err), -EINVAL);
	ck_assert_str_eq(err, "at most 64 requirements");
	skiff_selector_clear(&sel);
}
END_TEST

TEST(test_equalities)
{
	struct skiff_selector sel;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(skiff_selector_parse("app=web,env!=prod,tier in (a),x==y", &sel, &err), 0);
	size_t n;
	Skiff__KeyValue **kv = skiff_selector_equalities(&sel, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(kv[0]->key, "app");
	ck_assert_str_eq(kv[0]->value, "web");
	ck_assert_str_eq(kv[1]->key, "x");
	ck_assert_str_eq(kv[1]->value, "y");
	for (size_t i = 0; i < n; i++)
		skiff__key_value__free_unpacked(kv[i], NULL);
	free(kv);
	skiff_selector_clear(&sel);
}
END_TEST

TEST_SUITE();
