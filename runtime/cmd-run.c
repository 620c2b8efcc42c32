/* cmd-run.c — `skiff-runtime run`: one container in the foreground. Signals
 * the runtime receives (INT, TERM, HUP, QUIT, USR1, USR2, WINCH) go to the
 * container's init, which forwards them to the command; the runtime exits
 * with the command's exit code (128+N when killed by signal N, 125 runtime
 * error, 126 cannot execute, 127 not found) after removing everything it made.
 *
 * Even when `run` itself is killed (kill -9): the container's init dies with
 * it (PR_SET_PDEATHSIG), and a guard process removes the cgroup and veth that
 * nothing else would.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "quantity.h"
#include "runtime.h"
#include "util.h"

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* The guard: forked once the container runs, it blocks on a pipe from run.
 * A byte then EOF is run's clean exit (run removed everything itself); EOF
 * alone is run's death, and the guard waits for the container's init to end
 * (the kernel kills it, and the whole pid namespace with it) and does run's
 * cleanup. It holds no fd of run's output, so a reader of run's stdout sees
 * EOF when run dies. Returns the guard's pid, or -errno (run goes on
 * unguarded). */
static pid_t guard_start(struct skiff_container *ct, int *ret_fd)
{
	int p[2], null;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid > 0) {
		close(p[0]);
		*ret_fd = p[1];
		return pid;
	}
	/* the guard: run's forwarded signals stay blocked (inherited mask) */
	close(p[1]);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	char b;
	ssize_t n;
	while ((n = read(p[0], &b, 1)) < 0 && errno == EINTR)
		;
	if (n == 1)
		_exit(0);
	struct pollfd pf = { ct->pidfd, POLLIN, 0 };
	while (poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
	skiff_container_cleanup(ct);
	_exit(0);
}

static void guard_stop(pid_t pid, int fd)
{
	if (pid <= 0)
		return;
	if (write(fd, "x", 1) != 1)
		log_warn_errno(-errno, "cannot tell the guard (pid %d) that run ends: %m",
			       (int)pid);
	close(fd);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int skiff_cmd_run(int argc, char **argv)
{
	struct skiff_config c;
	struct skiff_container ct;
	_cleanup_free_ char *perr = NULL;
	_cleanup_close_ int sfd = -EBADF;
	_cleanup_free_ char *err = NULL;
	sigset_t mask;
	int code, r, guard_fd = -EBADF;
	pid_t guard;

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

	r = skiff_container_start(&ct, &c, -1, &code, &err);
	if (r < 0) {
		log_error("container %s: %s", c.id, err);
		skiff_config_free(&c);
		return code;
	}
	guard = guard_start(&ct, &guard_fd);
	if (guard < 0)
		log_warn_errno((int)guard, "container %s: no guard for a kill -9 of run: %m", c.id);
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
	guard_stop(guard, guard_fd);
	skiff_config_free(&c);
	return code;
}
