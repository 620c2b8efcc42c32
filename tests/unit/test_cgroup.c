/* test_cgroup.c — the cgroup managers of runtime/cgroup.c driven against
 * directories laid out like a cgroup2 mount and like the v1 controller
 * mounts (this project's machines have no v2 controllers, so this is where
 * the v2 manager runs), plus the OOM counter parsers of both versions. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/runtime.h"
#include "cleanup.h"
#include "util.h"
#include "testlib.h"

static char root[64];

static void setup(void)
{
	strcpy(root, "/tmp/skiff-test-cgroup-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	/* What a cgroup2 root offers. */
	_cleanup_free_ char *p = xasprintf("%s/cgroup.controllers", root);
	ck_assert_int_eq(skiff_write_file_atomic(p, "cpuset cpu io memory pids\n", 26, 0644), 0);
	free(p);
	p = xasprintf("%s/cgroup.subtree_control", root);
	ck_assert_int_eq(skiff_write_file_atomic(p, "", 0, 0644), 0);
}

static void teardown(void)
{
	skiff_rm_rf(root);
}

/* Contents of ROOT/dir/file, NULL when absent. */
static char *slurp2(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s%s%s/%s", root, *dir ? "/" : "", dir, file);
	char *text = NULL;

	if (skiff_read_file(p, 4096, &text, NULL) < 0)
		return NULL;
	return text;
}

static void put(const char *rel, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	ck_assert_int_eq(skiff_write_file_atomic(p, text, strlen(text), 0644), 0);
}

TEST(test_v2_create_writes_limits_and_enables_controllers)
{
	struct skiff_cgroup cg;
	struct skiff_cgroup_limits lim = { 64 * 1024 * 1024, 500, 100 };
	char *t;

	ck_assert_int_eq(skiff_cgroup_detect(root), 0); /* a plain directory is not cgroup2 */
	ck_assert_int_eq(skiff_cgroup_create(&cg, &skiff_cgroup_v2, root, "skiff/vm1/c1", &lim), 0);
	ck_assert_ptr_eq(cg.mgr, &skiff_cgroup_v2);
	ck_assert_int_ge(cg.dirfd, 0); /* for CLONE_INTO_CGROUP */
	ck_assert_str_eq(cg.rel, "skiff/vm1/c1");
	const char *levels[] = { "", "skiff", "skiff/vm1" };
	for (size_t i = 0; i < 3; i++) {
		t = slurp2(levels[i], "cgroup.subtree_control");
		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(t, "+memory +cpu +pids");
		free(t);
	}
	/* never in the leaf ("no internal processes") */
	ck_assert_ptr_null(t = slurp2("skiff/vm1/c1", "cgroup.subtree_control"));
	ck_assert_str_eq(t = slurp2("skiff/vm1/c1", "memory.max"), "67108864");
	free(t);
	ck_assert_str_eq(t = slurp2("skiff/vm1/c1", "memory.swap.max"), "0");
	free(t);
	ck_assert_str_eq(t = slurp2("skiff/vm1/c1", "cpu.max"), "50000 100000");
	free(t);
	ck_assert_str_eq(t = slurp2("skiff/vm1/c1", "pids.max"), "100");
	free(t);

	ck_assert_int_eq(skiff_cgroup_add_pid(&cg, 4242), 0);
	ck_assert_str_eq(t = slurp2("skiff/vm1/c1", "cgroup.procs"), "4242");
	free(t);

	put("skiff/vm1/c1/memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n");
	ck_assert_int_eq(skiff_cgroup_oom_kills(&cg), 1);

	/* A second container with the same id must not take over (or remove) it. */
	struct skiff_cgroup dup;
	ck_assert_int_eq(skiff_cgroup_create(&dup, &skiff_cgroup_v2, root, "skiff/vm1/c1", &lim),
			 -EEXIST);
	skiff_cgroup_done(&dup);
	_cleanup_free_ char *leaf = xasprintf("%s/skiff/vm1/c1", root);
	ck_assert_int_eq(access(leaf, F_OK), 0);

	/* destroy asks the kernel to kill (cgroup.kill) then removes the dir;
	 * a real cgroupfs drops its files itself, here the test does. */
	put("skiff/vm1/c1/cgroup.kill", "0");
	ck_assert_int_lt(skiff_cgroup_destroy(&cg), 0); /* files present: ENOTEMPTY */
	ck_assert_str_eq(t = slurp2("skiff/vm1/c1", "cgroup.kill"), "1");
	free(t);
	const char *files[] = { "memory.max",	"memory.swap.max", "cpu.max",	 "pids.max",
				"cgroup.procs", "memory.events",   "cgroup.kill" };
	for (size_t i = 0; i < 7; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", leaf, files[i]);
		ck_assert_int_eq(unlink(p), 0);
	}
	ck_assert_int_eq(skiff_cgroup_destroy(&cg), 0);
	ck_assert_int_eq(access(leaf, F_OK), -1);
	ck_assert_int_eq(skiff_cgroup_destroy(&cg), 0); /* twice is fine */
	skiff_cgroup_done(&cg);
}
END_TEST

TEST(test_v2_no_limits_writes_nothing)
{
	struct skiff_cgroup cg;
	struct skiff_cgroup_limits lim = { 0, 0, 0 };
	char *t;

	ck_assert_int_eq(skiff_cgroup_create(&cg, &skiff_cgroup_v2, root, "c2", &lim), 0);
	ck_assert_ptr_null(t = slurp2("c2", "memory.max"));
	ck_assert_ptr_null(t = slurp2("c2", "cpu.max"));
	ck_assert_ptr_null(t = slurp2("c2", "pids.max"));
	ck_assert_str_eq(t = slurp2("", "cgroup.subtree_control"), "+memory +cpu +pids");
	free(t);
	ck_assert_int_eq(skiff_cgroup_destroy(&cg), 0);
	skiff_cgroup_done(&cg);
}
END_TEST

TEST(test_v2_missing_root_fails_cleanly)
{
	struct skiff_cgroup cg;
	struct skiff_cgroup_limits lim = { 4096, 0, 0 };
	_cleanup_free_ char *missing = xasprintf("%s/absent", root);

	ck_assert_int_eq(skiff_cgroup_create(&cg, &skiff_cgroup_v2, missing, "a/b", &lim), -ENOENT);
	ck_assert(!cg.created);
	skiff_cgroup_done(&cg);
}
END_TEST

/* Parents: missing ones are made (with the controllers enabled in them);
 * a container removes, when empty, only the parents it made itself; one
 * that is in use by another container, or that existed before, stays. */
static void unlink_in(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s/%s/%s", root, dir, file);
	ck_assert_int_eq(unlink(p), 0);
}

static bool exists(const char *dir)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, dir);
	return access(p, F_OK) == 0;
}

TEST(test_v2_parents_made_and_removed_only_by_their_maker)
{
	struct skiff_cgroup c1, c2;
	struct skiff_cgroup_limits lim = { 0, 0, 0 };
	_cleanup_free_ char *pre = xasprintf("%s/skiff", root);
	char *t;

	ck_assert_int_eq(skiff_cgroup_v2_enable_controllers(root, "x/y/z/leaf"), 3);
	ck_assert_int_eq(skiff_cgroup_v2_enable_controllers(root, "x/y/z/leaf"), 0);
	ck_assert_int_eq(skiff_cgroup_v2_enable_controllers(root, "x/y/w/leaf"), 1);

	ck_assert_int_eq(mkdir(pre, 0755), 0); /* "skiff" existed before */
	ck_assert_int_eq(skiff_cgroup_create(&c1, &skiff_cgroup_v2, root, "skiff/vm1/c1", &lim), 0);
	ck_assert_int_eq(c1.parents[0], 1); /* vm1 is c1's */
	ck_assert_str_eq(t = slurp2("skiff/vm1", "cgroup.subtree_control"), "+memory +cpu +pids");
	free(t);
	ck_assert_int_eq(skiff_cgroup_create(&c2, &skiff_cgroup_v2, root, "skiff/vm1/c2", &lim), 0);
	ck_assert_int_eq(c2.parents[0], 0);

	/* c1 ends first: vm1 still holds c2, so it stays */
	ck_assert_int_eq(skiff_cgroup_destroy(&c1), 0);
	ck_assert(!exists("skiff/vm1/c1"));
	ck_assert(exists("skiff/vm1/c2"));
	/* c2 did not make vm1: it leaves it */
	ck_assert_int_eq(skiff_cgroup_destroy(&c2), 0);
	ck_assert(exists("skiff/vm1"));
	skiff_cgroup_done(&c1);
	skiff_cgroup_done(&c2);

	/* now c1 alone makes and removes skiff/vm2 (a real cgroupfs directory
	 * is removable with its files; here the test drops them), but never
	 * "skiff", which it did not make, even when that is empty */
	ck_assert_int_eq(skiff_cgroup_create(&c1, &skiff_cgroup_v2, root, "skiff/vm2/c1", &lim), 0);
	ck_assert_int_eq(c1.parents[0], 1);
	unlink_in("skiff/vm2", "cgroup.subtree_control");
	unlink_in("skiff", "cgroup.subtree_control");
	unlink_in("skiff/vm1", "cgroup.subtree_control");
	_cleanup_free_ char *vm1 = xasprintf("%s/skiff/vm1", root);
	ck_assert_int_eq(rmdir(vm1), 0);
	ck_assert_int_eq(skiff_cgroup_destroy(&c1), 0);
	ck_assert(!exists("skiff/vm2"));
	ck_assert(exists("skiff"));
	skiff_cgroup_done(&c1);

	/* a clashing leaf: refused, and the parents made on the way removed */
	ck_assert_int_eq(skiff_cgroup_create(&c1, &skiff_cgroup_v2, root, "p/q/c1", &lim), 0);
	ck_assert_int_eq(skiff_cgroup_create(&c2, &skiff_cgroup_v2, root, "p/q/c1", &lim), -EEXIST);
	skiff_cgroup_done(&c2);
	ck_assert(exists("p/q/c1"));
	ck_assert_int_eq(skiff_cgroup_destroy(&c1), 0);
	skiff_cgroup_done(&c1);
}
END_TEST

/* v1: one directory per controller, the limits in v1's files, the pid in
 * every cgroup.procs, nothing to clone into (dirfd -EBADF), and destroy
 * removes each controller's directory and the parents it made. */
TEST(test_v1_create_per_controller)
{
	static const char *const ctrl[] = { "memory", "cpu", "pids" };
	struct skiff_cgroup cg;
	struct skiff_cgroup_limits lim = { 64 * 1024 * 1024, 250, 50 };
	int fds[SKIFF_CGROUP_MAX_DIRS];
	char *t;

	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", root, ctrl[i]);
		ck_assert_int_eq(mkdir(p, 0755), 0);
	}
	ck_assert_int_eq(skiff_cgroup_create(&cg, &skiff_cgroup_v1, root, "skiff/c1", &lim), 0);
	ck_assert_int_eq(cg.dirfd, -EBADF);
	ck_assert_str_eq(t = slurp2("memory/skiff/c1", "memory.limit_in_bytes"), "67108864");
	free(t);
	ck_assert_str_eq(t = slurp2("cpu/skiff/c1", "cpu.cfs_period_us"), "100000");
	free(t);
	ck_assert_str_eq(t = slurp2("cpu/skiff/c1", "cpu.cfs_quota_us"), "25000");
	free(t);
	ck_assert_str_eq(t = slurp2("pids/skiff/c1", "pids.max"), "50");
	free(t);

	ck_assert_int_eq(skiff_cgroup_add_pid(&cg, 4243), 0);
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *d = xasprintf("%s/skiff/c1", ctrl[i]);
		ck_assert_str_eq(t = slurp2(d, "cgroup.procs"), "4243");
		free(t);
	}
	ck_assert_int_eq(skiff_cgroup_open_procs(&cg, fds), 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);

	put("memory/skiff/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
	ck_assert_int_eq(skiff_cgroup_oom_kills(&cg), 4);

	/* a second container with the same id is refused and removes nothing */
	struct skiff_cgroup dup;
	ck_assert_int_eq(skiff_cgroup_create(&dup, &skiff_cgroup_v1, root, "skiff/c1", &lim),
			 -EEXIST);
	skiff_cgroup_done(&dup);
	ck_assert(exists("memory/skiff/c1"));

	/* the kernel drops a cgroup's files itself; here the test does */
	const char *files[] = { "memory/skiff/c1/memory.limit_in_bytes",
				"memory/skiff/c1/memory.memsw.limit_in_bytes",
				"memory/skiff/c1/memory.swappiness",
				"memory/skiff/c1/memory.oom_control",
				"memory/skiff/c1/cgroup.procs",
				"cpu/skiff/c1/cpu.cfs_period_us",
				"cpu/skiff/c1/cpu.cfs_quota_us",
				"cpu/skiff/c1/cgroup.procs",
				"pids/skiff/c1/pids.max",
				"pids/skiff/c1/cgroup.procs" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", root, files[i]);
		ck_assert_int_eq(unlink(p), 0);
	}
	ck_assert_int_eq(skiff_cgroup_destroy(&cg), 0);
	for (size_t i = 0; i < 3; i++) {
		_cleanup_free_ char *d = xasprintf("%s/skiff", ctrl[i]);
		ck_assert(!exists(d)); /* "skiff" was made by c1: removed too */
		ck_assert(exists(ctrl[i]));
	}
	skiff_cgroup_done(&cg);
}
END_TEST

/* skiff_cgroup_find: a plain directory is neither cgroup2 nor a v1 tree. */
TEST(test_find_refuses_a_tree_without_cgroups)
{
	const struct skiff_cgroup_manager *mgr = NULL;

	ck_assert_int_eq(skiff_cgroup_find(root, &mgr), -ENOMEDIUM);
	ck_assert_ptr_null(mgr);
	_cleanup_free_ char *missing = xasprintf("%s/absent", root);
	ck_assert_int_eq(skiff_cgroup_find(missing, &mgr), -ENOENT);
}
END_TEST

TEST(test_oom_parsers)
{
	ck_assert_int_eq(
	    skiff_cgroup_v2_parse_oom_kills("low 0\nhigh 0\nmax 0\noom 0\noom_kill 3\n"), 3);
	ck_assert_int_eq(skiff_cgroup_v2_parse_oom_kills("low 0\n"), 0);
	ck_assert_int_eq(skiff_cgroup_v2_parse_oom_kills(""), 0);
	/* v1 memory.oom_control: oom_kill_disable must not be read as oom_kill */
	ck_assert_int_eq(
	    skiff_cgroup_v1_parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), 2);
	ck_assert_int_eq(skiff_cgroup_v1_parse_oom_kills("oom_kill_disable 1\nunder_oom 1\n"), 0);
}
END_TEST

TEST_SUITE(.setup = setup, .teardown = teardown);
