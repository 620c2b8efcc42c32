/* test_util.c — lib/util, lib/quantity and lib/log. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "quantity.h"
#include "util.h"
#include "testlib.h"

TEST(test_atomic_write_replaces)
{
	_cleanup_free_ char *path = xasprintf("%s/state.json", tmpdir);
	_cleanup_free_ char *data = NULL;
	size_t len;

	ck_assert_int_eq(skiff_write_file_atomic(path, "one", 3, 0600), 0);
	ck_assert_int_eq(skiff_write_file_atomic(path, "second", 6, 0644), 0);
	ck_assert_int_eq(skiff_read_file(path, 1024, &data, &len), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_str_eq(data, "second");
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	/* no temporary file left behind */
	_cleanup_closedir_ DIR *d = opendir(tmpdir);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	ck_assert_int_eq(n, 1);
}
END_TEST

TEST(test_atomic_write_missing_dir)
{
	_cleanup_free_ char *path = xasprintf("%s/nope/state", tmpdir);
	ck_assert_int_eq(skiff_write_file_atomic(path, "x", 1, 0600), -ENOENT);
}
END_TEST

TEST(test_read_file_cap)
{
	_cleanup_free_ char *path = xasprintf("%s/big", tmpdir);
	char buf[10000];
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(skiff_write_file_atomic(path, buf, sizeof(buf), 0600), 0);
	char *out = NULL;
	ck_assert_int_eq(skiff_read_file(path, 100, &out, NULL), -EFBIG);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(skiff_read_file(path, 10000, &out, NULL), 0);
	ck_assert_uint_eq(strlen(out), 10000);
	free(out);
	ck_assert_int_eq(skiff_read_file("/nonexistent/x", 10, &out, NULL), -ENOENT);
}
END_TEST

TEST(test_mkdir_rm)
{
	_cleanup_free_ char *path = xasprintf("%s/a/b/c", tmpdir);
	ck_assert_int_eq(skiff_mkdir_p(path, 0755), 0);
	ck_assert_int_eq(skiff_mkdir_p(path, 0755), 0);
	_cleanup_free_ char *f = xasprintf("%s/file", path);
	ck_assert_int_eq(skiff_write_file_atomic(f, "x", 1, 0600), 0);
	_cleanup_free_ char *top = xasprintf("%s/a", tmpdir);
	ck_assert_int_eq(skiff_rm_rf(top), 0);
	ck_assert_int_eq(access(top, F_OK), -1);
	ck_assert_int_eq(skiff_rm_rf(top), 0);
}
END_TEST

TEST(test_parse_int)
{
	int64_t v;
	uint32_t u;
	ck_assert_int_eq(skiff_parse_int64("42", &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(skiff_parse_int64("-7", &v), 0);
	ck_assert_int_eq(v, -7);
	ck_assert_int_eq(skiff_parse_int64("three", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_int64("4x", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_int64("", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_int64(" 4", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_int64("99999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(skiff_parse_uint32("4294967296", &u), -ERANGE);
	ck_assert_int_eq(skiff_parse_uint32("-1", &u), -ERANGE);
}
END_TEST

TEST(test_cpu)
{
	int64_t v;
	ck_assert_int_eq(skiff_parse_cpu("100m", &v), 0);
	ck_assert_int_eq(v, 100);
	ck_assert_int_eq(skiff_parse_cpu("0.5", &v), 0);
	ck_assert_int_eq(v, 500);
	ck_assert_int_eq(skiff_parse_cpu("2", &v), 0);
	ck_assert_int_eq(v, 2000);
	ck_assert_int_eq(skiff_parse_cpu("1.25", &v), 0);
	ck_assert_int_eq(v, 1250);
	ck_assert_int_eq(skiff_parse_cpu("abc", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_cpu("1.5x", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_cpu("m", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_cpu("-1", &v), -ERANGE);
	char buf[32];
	ck_assert_str_eq(skiff_format_cpu(500, buf, sizeof(buf)), "500m");
	ck_assert_str_eq(skiff_format_cpu(2000, buf, sizeof(buf)), "2");
}
END_TEST

TEST(test_memory)
{
	int64_t v;
	ck_assert_int_eq(skiff_parse_memory("64Mi", &v), 0);
	ck_assert_int_eq(v, 64LL << 20);
	ck_assert_int_eq(skiff_parse_memory("1G", &v), 0);
	ck_assert_int_eq(v, 1000000000LL);
	ck_assert_int_eq(skiff_parse_memory("64M", &v), 0);
	ck_assert_int_eq(v, 64000000LL);
	ck_assert_int_eq(skiff_parse_memory("1.5Gi", &v), 0);
	ck_assert_int_eq(v, 3LL << 29);
	ck_assert_int_eq(skiff_parse_memory("512k", &v), 0);
	ck_assert_int_eq(v, 512000);
	ck_assert_int_eq(skiff_parse_memory("1048576", &v), 0);
	ck_assert_int_eq(v, 1048576);
	ck_assert_int_eq(skiff_parse_memory("12Q", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_memory("Mi", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_memory("99999999999Ti", &v), -ERANGE);
	char buf[32];
	ck_assert_str_eq(skiff_format_memory(64LL << 20, buf, sizeof(buf)), "64Mi");
	ck_assert_str_eq(skiff_format_memory(1000, buf, sizeof(buf)), "1000");
}
END_TEST

TEST(test_duration)
{
	int64_t v;
	ck_assert_int_eq(skiff_parse_duration("500ms", &v), 0);
	ck_assert_int_eq(v, 500);
	ck_assert_int_eq(skiff_parse_duration("10s", &v), 0);
	ck_assert_int_eq(v, 10000);
	ck_assert_int_eq(skiff_parse_duration("1m30s", &v), 0);
	ck_assert_int_eq(v, 90000);
	ck_assert_int_eq(skiff_parse_duration("2h", &v), 0);
	ck_assert_int_eq(v, 7200000);
	ck_assert_int_eq(skiff_parse_duration("1.5s", &v), 0);
	ck_assert_int_eq(v, 1500);
	ck_assert_int_eq(skiff_parse_duration("0", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(skiff_parse_duration("10", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_duration("10x", &v), -EINVAL);
	ck_assert_int_eq(skiff_parse_duration("", &v), -EINVAL);
	char buf[32];
	ck_assert_str_eq(skiff_format_duration(1500, buf, sizeof(buf)), "1500ms");
	ck_assert_str_eq(skiff_format_duration(10000, buf, sizeof(buf)), "10s");
}
END_TEST

TEST(test_log_errno)
{
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	skiff_log_set_fd(pfd[1]);
	skiff_log_set_component("test");
	int r = log_error_errno(-ENOENT, "cannot open %s: %m", "/x");
	ck_assert_int_eq(r, -ENOENT);
	log_debug("not shown %d", 1); /* below the default level */
	skiff_log_set_fd(2);
	close(pfd[1]);
	char buf[512] = { 0 };
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(buf, "test["));
	ck_assert_ptr_nonnull(strstr(buf, "error: cannot open /x: No such file or directory\n"));
	ck_assert_ptr_null(strstr(buf, "not shown"));
	enum skiff_log_level l;
	ck_assert_int_eq(skiff_log_parse_level("debug", &l), 0);
	ck_assert_int_eq(l, SKIFF_LOG_DEBUG);
	ck_assert_int_eq(skiff_log_parse_level("loud", &l), -EINVAL);
}
END_TEST

TEST_SUITE(.setup = tmpdir_setup, .teardown = tmpdir_teardown);
