/* cmd-run.c — `skiff-runtime run`: one container in the foreground. Signals
 * the runtime receives (INT, TERM, HUP, QUIT, USR1, USR2, WINCH) go to the
 * container's init, which forwards them to the command; the runtime exits
 * with the command's exit code (128+N when killed by signal N, 125 runtime
 * error, 126 cannot execute, 127 not found) after removing everything it made.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "quantity.h"
#include "runtime.h"
#include "util.h"

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

int skiff_cmd_run(int argc, char **argv)
{
	struct skiff_config c;
	struct skiff_container ct;
	_cleanup_free_ char *perr = NULL;
	_cleanup_close_ int sfd = -EBADF;
	char err[600];
	sigset_t mask;
	int code, r;

	if (geteuid() != 0) {
		log_error("run: skiff-runtime must run as root (uid is %u)", (unsigned)geteuid());
		return SKIFF_EXIT_RUNTIME;
	}
	r = skiff_config_parse(argc, argv, false, &c, &perr);
	if (r < 0) {
		log_error("%s", perr);
		skiff_config_free(&c);
		return SKIFF_EXIT_RUNTIME;
	}
	sigemptyset(&mask);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&mask, forwarded[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	r = skiff_container_start(&ct, &c, -1, &code, err, sizeof(err));
	if (r < 0) {
		log_error("container %s: %s", c.id, err);
		skiff_config_free(&c);
		return code;
	}
	for (;;) {
		struct pollfd p[2] = { { ct.pidfd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			syscall(SYS_pidfd_send_signal, ct.pidfd, (int)si.ssi_signo, NULL, 0);
	}
	code = skiff_container_reap(&ct);
	if (skiff_cgroup_oom_kills(&ct.cg) > 0) {
		char buf[32];
		log_error("container %s: OOMKilled (memory limit %s)", c.id,
			  skiff_format_memory(c.memory, buf, sizeof(buf)));
	}
	skiff_container_cleanup(&ct);
	skiff_config_free(&c);
	return code;
}
