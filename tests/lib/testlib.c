/* testlib.c — small helpers every kind of test uses: a scratch directory,
 * quiet logs, a free loopback port. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"
#include "testlib.h"

char tmpdir[128];

void tmpdir_make(const char *tag)
{
	if (!tag) {
		tag = program_invocation_short_name;
		if (strncmp(tag, "test_", 5) == 0)
			tag += 5;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/skiff-test-%s-XXXXXX", tag);
	ck_assert_msg(mkdtemp(tmpdir), "mkdtemp %s: %s", tmpdir, strerror(errno));
}

void tmpdir_remove(void)
{
	if (!*tmpdir)
		return;
	if (getenv("SKIFF_KEEP_TMP"))
		fprintf(stderr, "kept %s (SKIFF_KEEP_TMP)\n", tmpdir);
	else
		skiff_rm_rf(tmpdir);
	*tmpdir = '\0';
}

void tmpdir_setup(void)
{
	tmpdir_make(NULL);
}

void tmpdir_teardown(void)
{
	tmpdir_remove();
}

void quiet_logs(void)
{
	static int null_fd = -1;
	if (getenv("SKIFF_TEST_DEBUG"))
		return;
	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	skiff_log_set_fd(null_fd);
}

int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}
