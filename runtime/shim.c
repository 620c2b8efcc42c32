/* shim.c — `skiff-runtime shim`: start a container detached from the caller
 * and stay its parent (CONTRACTS.md, "Runtime shim").
 *
 * The caller forks; that child calls setsid() and forks the shim, then exits,
 * so the shim is nobody's child but init's and survives its caller. The shim
 * starts the container with its stdout and stderr on a pipe, writes
 * DIR/ID/state ("running"), tells the caller the container's pid through a
 * pipe and serves: the container's output goes to DIR/ID/log (at most
 * --log-max bytes, then rotated to log.1), SIGTERM/SIGINT/SIGHUP sent to the
 * shim are forwarded to the container, and when the container's pidfd
 * becomes readable the shim reaps it, writes the final state atomically,
 * removes the cgroup, veth and writable layer, and exits. The caller prints
 * the pid and exits 0, or prints the error line and exits 125/126/127 with
 * DIR/ID removed.
 *
 * With --foreground (what skiff-agent uses) there is no fork: the process
 * is the shim. Its stdout carries one line, "OK PID" or "ERR CODE MESSAGE",
 * and is closed after it; on ERR the process exits with CODE. Two forks
 * fewer per container start, and the caller, now the shim's parent, reaps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

struct log_file {
	char *path, *path1;
	int fd;
	int64_t size, max;
};

static int log_open(struct log_file *l)
{
	struct stat st;

	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	l->size = fstat(l->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

static void log_write(struct log_file *l, const char *buf, size_t n)
{
	if ((int64_t)n > l->max) { /* keep the tail of an oversized chunk */
		buf += n - (size_t)l->max;
		n = (size_t)l->max;
	}
	if (l->size + (int64_t)n > l->max) {
		if (l->fd >= 0)
			close(l->fd);
		(void)rename(l->path, l->path1);
		if (log_open(l) < 0)
			return;
	}
	if (l->fd >= 0 && skiff_write_full(l->fd, buf, n) == 0)
		l->size += (int64_t)n;
}

/* Returns false at end of file. */
static bool pump_log(int pipefd, struct log_file *l)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(pipefd, buf, sizeof(buf));
		if (n > 0) {
			log_write(l, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	(void)skiff_write_full(fd, buf, (size_t)n);
}

static _Noreturn void shim_main(struct skiff_config *c, const char *cdir, int report_fd)
{
	struct skiff_container ct;
	struct log_file lf = { 0 };
	struct skiff_state st = { 0 };
	_cleanup_free_ char *shimlog = xasprintf("%s/shim.log", cdir);
	int lp[2], code, r, sfd, null;
	char *err = NULL;
	sigset_t mask;

	/* Keep nothing of the caller's: its pipes must see EOF when it wants. */
	if (report_fd > 3)
		syscall(SYS_close_range, 3, report_fd - 1, 0);
	syscall(SYS_close_range, report_fd + 1, ~0U, 0);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	int lfd = open(shimlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (lfd >= 0) {
		dup2(lfd, 2);
		close(lfd);
	}
	lf.path = xasprintf("%s/log", cdir);
	lf.path1 = xasprintf("%s/log.1", cdir);
	lf.max = c->log_max;
	if (log_open(&lf) < 0 || pipe2(lp, O_CLOEXEC) < 0) {
		report(report_fd, "ERR %d cannot open %s: %s\n", SKIFF_EXIT_RUNTIME, lf.path,
		       strerror(errno));
		(void)skiff_rm_rf(cdir);
		_exit(SKIFF_EXIT_RUNTIME);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	r = skiff_container_start(&ct, c, lp[1], &code, &err);
	close(lp[1]);
	if (r < 0) {
		report(report_fd, "ERR %d %s\n", code, err);
		(void)skiff_rm_rf(cdir);
		_exit(code);
	}
	st = (struct skiff_state){
		.id = xstrdup(c->id),
		.status = xstrdup("running"),
		.pid = ct.pid,
		.shim_pid = getpid(),
		.started_ms = ct.started_ms,
		.rootfs = xstrdup(c->rootfs),
		.cgroup = xstrdup(ct.cg.rel),
		.ip = c->ip_cidr ? xstrndup(c->ip_cidr, strcspn(c->ip_cidr, "/")) : NULL,
		.layer = c->layer_dir ? xstrdup(c->layer_dir) : NULL,
		.layer_bytes = -1,
		.layer_free = -1,
		.pid_starttime = ct.starttime,
		.shim_starttime = skiff_proc_starttime(getpid()),
	};
	r = skiff_state_write(c->state_dir, &st);
	if (r < 0) {
		report(report_fd, "ERR %d cannot write %s/state: %s\n", SKIFF_EXIT_RUNTIME, cdir,
		       strerror(-r));
		syscall(SYS_pidfd_send_signal, ct.pidfd, SIGKILL, NULL, 0);
		skiff_container_reap(&ct);
		skiff_container_cleanup(&ct);
		(void)skiff_rm_rf(cdir);
		_exit(SKIFF_EXIT_RUNTIME);
	}
	report(report_fd, "OK %d\n", (int)ct.pid);
	close(report_fd);

	skiff_fd_nonblock(lp[0], true);
	bool log_open_pipe = true;
	for (;;) {
		struct pollfd p[3] = { { ct.pidfd, POLLIN, 0 },
				       { log_open_pipe ? lp[0] : -1, POLLIN, 0 },
				       { sfd, POLLIN, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			log_open_pipe = pump_log(lp[0], &lf);
		if (p[2].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (si.ssi_signo != SIGPIPE)
					syscall(SYS_pidfd_send_signal, ct.pidfd, (int)si.ssi_signo,
						NULL, 0);
		}
		if (p[0].revents)
			break;
	}
	skiff_container_reap(&ct);
	/* Every process of the container is gone: drain what is left. */
	if (log_open_pipe)
		pump_log(lp[0], &lf);
	close(lp[0]);
	const char *reason;
	st.oom = skiff_cgroup_oom_kills(&ct.cg) > 0;
	skiff_container_result(&ct, st.oom, &reason, &st.exit_code, &st.signal);
	free(st.status);
	st.status = xstrdup("exited");
	st.reason = xstrdup(reason);
	st.finished_ms = ct.finished_ms;
	if (c->layer_dir) {
		_cleanup_free_ char *upper = xasprintf("%s/upper", c->layer_dir);
		struct statfs sfs;
		st.layer_bytes = skiff_du_bytes(upper);
		if (statfs(c->layer_dir, &sfs) == 0)
			st.layer_free = (int64_t)sfs.f_bavail * (int64_t)sfs.f_bsize;
	}
	r = skiff_state_write(c->state_dir, &st);
	if (r < 0)
		log_error_errno(r, "cannot write %s/state: %m", cdir);
	/* The caller learns of the end from our pidfd, after the cleanup. */
	skiff_container_cleanup(&ct);
	_exit(0);
}

int skiff_cmd_shim(int argc, char **argv)
{
	struct skiff_config c;
	_cleanup_free_ char *perr = NULL;
	_cleanup_free_ char *cdir = NULL;
	int rp[2], r;

	if (geteuid() != 0) {
		log_error("shim: skiff-runtime must run as root (uid is %u)", (unsigned)geteuid());
		return SKIFF_EXIT_RUNTIME;
	}
	r = skiff_config_parse(argc, argv, true, &c, &perr);
	if (r < 0) {
		log_error("%s", perr);
		skiff_config_free(&c);
		return SKIFF_EXIT_RUNTIME;
	}
	r = skiff_mkdir_p(c.state_dir, 0711);
	if (r < 0) {
		log_error_errno(r, "shim: cannot create state dir %s: %m", c.state_dir);
		skiff_config_free(&c);
		return SKIFF_EXIT_RUNTIME;
	}
	cdir = xasprintf("%s/%s", c.state_dir, c.id);
	if (mkdir(cdir, 0711) < 0) {
		if (errno == EEXIST)
			log_error("shim: container '%s' exists in %s (delete it first)", c.id,
				  c.state_dir);
		else
			log_error("shim: cannot create %s: %s", cdir, strerror(errno));
		skiff_config_free(&c);
		return SKIFF_EXIT_RUNTIME;
	}
	r = skiff_exec_config_save(cdir, argc, argv);
	if (r < 0) {
		log_error_errno(r, "shim: cannot write %s/config: %m", cdir);
		(void)skiff_rm_rf(cdir);
		skiff_config_free(&c);
		return SKIFF_EXIT_RUNTIME;
	}
	if (c.foreground) {
		/* Be the shim: the caller reads the report line on our stdout
		 * (closed right after it) and reaps us when the container ends. */
		int fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			log_error("shim: stdout: %s", strerror(errno));
			(void)skiff_rm_rf(cdir);
			skiff_config_free(&c);
			return SKIFF_EXIT_RUNTIME;
		}
		(void)setsid(); /* EPERM when the caller made us a session leader */
		fflush(NULL);
		shim_main(&c, cdir, fd);
	}
	if (pipe2(rp, O_CLOEXEC) < 0) {
		log_error("shim: pipe: %s", strerror(errno));
		(void)skiff_rm_rf(cdir);
		skiff_config_free(&c);
		return SKIFF_EXIT_RUNTIME;
	}
	fflush(NULL);
	pid_t a = fork();
	if (a < 0) {
		log_error("shim: fork: %s", strerror(errno));
		(void)skiff_rm_rf(cdir);
		skiff_config_free(&c);
		return SKIFF_EXIT_RUNTIME;
	}
	if (a == 0) {
		close(rp[0]);
		setsid();
		pid_t b = fork();
		if (b < 0) {
			report(rp[1], "ERR %d fork: %s\n", SKIFF_EXIT_RUNTIME, strerror(errno));
			(void)skiff_rm_rf(cdir);
			_exit(1);
		}
		if (b == 0)
			shim_main(&c, cdir, rp[1]);
		_exit(0);
	}
	close(rp[1]);
	while (waitpid(a, NULL, 0) < 0 && errno == EINTR)
		;
	char buf[1024];
	ssize_t n, len = 0;
	while (
	    len < (ssize_t)sizeof(buf) - 1 &&
	    ((n = read(rp[0], buf + len, sizeof(buf) - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			len += n;
	close(rp[0]);
	buf[len] = 0;
	buf[strcspn(buf, "\n")] = 0;
	int code = SKIFF_EXIT_RUNTIME;
	if (strncmp(buf, "OK ", 3) == 0) {
		printf("%s\n", buf + 3);
		fflush(stdout);
		code = 0;
	} else if (strncmp(buf, "ERR ", 4) == 0) {
		char *text;
		code = (int)strtol(buf + 4, &text, 10);
		log_error("container %s: %s", c.id, text + (*text == ' '));
	} else {
		log_error("container %s: the shim ended without starting it", c.id);
		(void)skiff_rm_rf(cdir);
	}
	skiff_config_free(&c);
	return code;
}
