/* runner.c — the main() of every test binary: collects the TEST()s of the
 * binary (the skiff_tests section) in source order into one Check suite,
 * set up as the file's TEST_SUITE() says, and runs it. Exit status 1 when a
 * test failed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "testlib.h"

/* The linker defines these around the section TEST() writes to. */
extern const struct skiff_test *const __start_skiff_tests[] __attribute__((weak));
extern const struct skiff_test *const __stop_skiff_tests[] __attribute__((weak));
/* TEST_SUITE() of the binary, if it has one. */
extern const struct skiff_test_suite skiff_test_suite __attribute__((weak));

static int by_place(const void *a, const void *b)
{
	const struct skiff_test *x = *(const struct skiff_test *const *)a;
	const struct skiff_test *y = *(const struct skiff_test *const *)b;
	int c = strcmp(x->tt.file, y->tt.file);
	return c ? c : x->tt.line - y->tt.line;
}

/* Is name in the comma-separated list? */
static bool named(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *end = strchrnul(p, ',');
		if ((size_t)(end - p) == n && strncmp(p, name, n) == 0)
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

int main(int argc, char **argv)
{
	static const struct skiff_test_suite none;
	const struct skiff_test_suite *cfg = &skiff_test_suite ? &skiff_test_suite : &none;
	const char *only = getenv("SKIFF_TEST");
	bool root = geteuid() == 0;
	(void)argc;

	char name[64];
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strncmp(base, "test_", 5) == 0)
		base += 5;
	snprintf(name, sizeof(name), "%s", cfg->name ? cfg->name : base);

	if (cfg->needs_root && !root) {
		printf("100%%: Checks: 0, Failures: 0, Errors: 0 (skipped %s: needs root)\n", name);
		return EXIT_SUCCESS;
	}
	/* a peer that goes away is an error return (EPIPE), not a dead test */
	signal(SIGPIPE, SIG_IGN);
	skiff_log_set_level(getenv("SKIFF_TEST_DEBUG") ? SKIFF_LOG_DEBUG
						       : (enum skiff_log_level)cfg->log_level);
	if (cfg->init && cfg->init() < 0)
		return EXIT_FAILURE;

	size_t n = __start_skiff_tests ? (size_t)(__stop_skiff_tests - __start_skiff_tests) : 0;
	const struct skiff_test **tests = xcalloc(n + 1, sizeof(*tests));
	memcpy(tests, __start_skiff_tests, n * sizeof(*tests));
	qsort(tests, n, sizeof(*tests), by_place);

	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const struct skiff_test *t = tests[i];
		if (only ? !named(only, t->tt.name) : t->manual)
			continue;
		if (t->needs_root && !root) {
			fprintf(stderr, "%s: not root, %s not run\n", name, t->tt.name);
			continue;
		}
		tests[run++] = t;
	}
	if (only && !run) {
		fprintf(stderr, "%s: SKIFF_TEST=%s names none of its tests\n", name, only);
		free(tests);
		return EXIT_FAILURE;
	}

	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);
	if (cfg->setup || cfg->teardown)
		tcase_add_checked_fixture(tc, cfg->setup, cfg->teardown);
	if (cfg->setup_all || cfg->teardown_all)
		tcase_add_unchecked_fixture(tc, cfg->setup_all, cfg->teardown_all);
	if (cfg->timeout > 0)
		tcase_set_timeout(tc, cfg->timeout);
	for (size_t i = 0; i < run; i++) {
		const struct skiff_test *t = tests[i];
		int end = t->loop_end > t->loop_start ? t->loop_end : t->loop_start + 1;
		_tcase_add_test(tc, &t->tt, 0, 0, t->loop_start, end);
	}
	free(tests);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	if (cfg->no_fork)
		srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
