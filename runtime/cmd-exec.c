/* cmd-exec.c — `skiff-runtime exec`: run one more command in a running
 * shim-run container, as `docker exec` / `crun exec` do.
 *
 * The container is found from DIR/ID/state (its pid 1, checked against the
 * recorded start time so a reused pid is never entered) and its settings from
 * DIR/ID/config, the shim's own arguments parsed again: the command gets the
 * container's env, user, working directory, capability bounding set,
 * no_new_privs and seccomp profile (-e/-w/-u override like docker exec's).
 *
 * The exec process joins the container's cgroup, then all its namespaces at
 * once through a pidfd (setns(pidfd, mnt|pid|net|uts|ipc|cgroup); the mount
 * namespace gives it the container's root as the container sees it), and
 * forks: the child is in the container's pid namespace, locks itself down
 * like the container's process and execs the command in a new session. The
 * parent stays outside the pid namespace, forwards SIGINT/SIGTERM/SIGHUP/
 * SIGQUIT to the command's process group (SIGKILL 2 s later if it is still
 * there), dies with its caller (PR_SET_PDEATHSIG) and exits with the
 * command's code: 126 cannot execute, 127 not found, 128+N killed by signal N,
 * 125 when the exec itself failed (container not running, unknown id…).
 *
 * --tty: the exec process allocates a pseudo-terminal in the container's own
 * devpts (after joining its mount namespace: the command's `tty` then names
 * the container's /dev/pts/N) and the command gets its slave as stdin,
 * stdout, stderr and controlling terminal (setsid + TIOCSCTTY), TERM=xterm
 * unless its env sets TERM. The parent relays its own stdin to the master and
 * the master to its stdout (one stream: the pty merges stdout and stderr),
 * sets the size from --rows/--cols and applies "ROWS COLS\n" lines read from
 * --resize-fd FD (TIOCSWINSZ: the command gets SIGWINCH). The end of our
 * stdin becomes the terminal's EOF character (^D) when the terminal is in
 * canonical mode, as typing it would.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <termios.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/magic.h>

#include "cleanup.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

extern char **environ;

#define CONFIG_MAX (1 << 20)

/* --error-fd N: exec's own errors (and 126/127) go there as bare lines, so a
 * caller (the agent) tells them from the command's stderr. */
static int error_fd = -1;

static void exec_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void exec_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (error_fd < 0) {
		log_error("%s", msg);
		return;
	}
	size_t n = strlen(msg);
	msg[n++] = '\n';
	(void)skiff_write_full(error_fd, msg, n);
}
#define KILL_AFTER 2 /* seconds between a forwarded signal and SIGKILL */

int skiff_exec_config_save(const char *cdir, int argc, char **argv)
{
	_cleanup_free_ char *path = xasprintf("%s/config", cdir);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	for (int i = 0; i < argc; i++) {
		int r = skiff_write_full(fd, argv[i], strlen(argv[i]) + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The container's config from DIR/ID/config. *ret_args owns the strings
 * c->argv points into (free both). */
static int config_load(const char *dir, const char *id, struct skiff_config *c, char ***ret_args,
		       char **ret_errmsg)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/config", dir, id);
	_cleanup_free_ char *data = NULL;
	size_t len = 0, n = 0;
	int r;

	r = skiff_read_file(path, CONFIG_MAX, &data, &len);
	if (r < 0) {
		*ret_errmsg =
		    xasprintf("cannot read %s (%s): was the container started by an older "
			      "skiff-runtime?",
			      path, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < len; i++)
		n += data[i] == 0;
	if (n == 0 || data[len - 1] != 0) {
		*ret_errmsg = xasprintf("%s: not a list of arguments", path);
		return -EBADMSG;
	}
	char **args = xcalloc(n + 1, sizeof(char *));
	size_t k = 0;
	for (size_t off = 0; off < len; off += strlen(data + off) + 1)
		args[k++] = xstrdup(data + off);
	_cleanup_free_ char *perr = NULL;
	r = skiff_config_parse((int)n, args, true, c, &perr);
	if (r < 0) {
		*ret_errmsg = xasprintf("%s: %s", path, perr ? perr : strerror(-r));
		skiff_config_free(c);
		for (size_t i = 0; i < n; i++)
			free(args[i]);
		free(args);
		return r;
	}
	*ret_args = args;
	return 0;
}

/* The cgroup.procs files of the container's cgroup, opened now (before the
 * mount namespace hides the host's /sys) for the child to write itself to:
 * only the command joins the cgroup, not this waiting parent. Returns how
 * many (>= 1) or -errno (-ENOENT: the cgroup is gone). */
static int open_cgroup_procs(const char *rel, int fds[SKIFF_CGROUP_MAX_DIRS])
{
	const struct skiff_cgroup_manager *mgr;
	struct skiff_cgroup cg;
	int r = skiff_cgroup_find("/sys/fs/cgroup", &mgr);

	if (r < 0)
		return r;
	skiff_cgroup_open(&cg, mgr, "/sys/fs/cgroup", rel);
	r = skiff_cgroup_open_procs(&cg, fds);
	skiff_cgroup_done(&cg);
	return r;
}

/* The namespaces of pid at once through its pidfd; kernels before 5.8 take
 * them one by one from /proc/PID/ns (mnt last: the paths resolve in the
 * current root). The cgroup namespace is the child's to join, after it joined
 * the cgroup (a cgroup namespace only lets processes move below its root). */
static int join_namespaces(int pidfd, pid_t pid)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = { { "ipc", CLONE_NEWIPC },
		   { "uts", CLONE_NEWUTS },
		   { "net", CLONE_NEWNET },
		   { "pid", CLONE_NEWPID },
		   { "mnt", CLONE_NEWNS } };
	int fds[ARRAY_SIZE(ns)];
	int all = 0, r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(ns); i++)
		all |= ns[i].flag;
	if (setns(pidfd, all) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 && r == 0)
			r = -errno;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns) && r == 0; i++)
		if (setns(fds[i], ns[i].flag) < 0)
			r = -errno;
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return r;
}

/* The child, in the container's namespaces: never returns. */
static _Noreturn void exec_child(const struct skiff_config *c, const struct skiff_bpf *bpf,
				 char **cmd, const int *cg_fds, int n_cg, int cgns_fd, int tty)
{
	struct rlimit nofile = { 1048576, 1048576 };
	sigset_t none;
	int r, e, code;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* the parent is outside our pid namespace (ppid 0); an orphan would
	 * have the container's init as its parent */
	if (getppid() != 0)
		_exit(SKIFF_EXIT_RUNTIME);
	for (int i = 0; i < n_cg; i++)
		if (write(cg_fds[i], "0", 1) < 0) {
			exec_error("exec: cannot join the cgroup of container %s: %s", c->id,
				   strerror(errno));
			_exit(SKIFF_EXIT_RUNTIME);
		}
	if (setns(cgns_fd, CLONE_NEWCGROUP) < 0) {
		exec_error("exec: cannot join the cgroup namespace of container %s: %s", c->id,
			   strerror(errno));
		_exit(SKIFF_EXIT_RUNTIME);
	}
	setsid();
	if (tty >= 0 && ioctl(tty, TIOCSCTTY, 0) < 0) {
		exec_error("exec: cannot make the terminal controlling: %s", strerror(errno));
		_exit(SKIFF_EXIT_RUNTIME);
	}
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) {
		nofile.rlim_cur = nofile.rlim_max = 65536;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		exec_error("exec: no_new_privs: %s", strerror(errno));
		_exit(SKIFF_EXIT_RUNTIME);
	}
	r = skiff_caps_apply(c->cap_add);
	if (r < 0) {
		exec_error("exec: cannot set capabilities: %s", strerror(-r));
		_exit(SKIFF_EXIT_RUNTIME);
	}
	r = skiff_seccomp_load(bpf);
	if (r < 0) {
		exec_error("exec: cannot load the seccomp filter: %s", strerror(-r));
		_exit(SKIFF_EXIT_RUNTIME);
	}
	if (c->uid != 0 || c->gid != 0) {
		if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
		    setresuid(c->uid, c->uid, c->uid) < 0) {
			exec_error("exec: cannot switch to user %u:%u: %s", c->uid, c->gid,
				   strerror(errno));
			_exit(SKIFF_EXIT_RUNTIME);
		}
	}
	if (chdir(c->workdir ? c->workdir : "/") < 0) {
		exec_error("exec: workdir %s: %s", c->workdir, strerror(errno));
		_exit(SKIFF_EXIT_RUNTIME);
	}
	if (tty >= 0 && (dup2(tty, 0) < 0 || dup2(tty, 1) < 0 || dup2(tty, 2) < 0)) {
		exec_error("exec: cannot use the terminal: %s", strerror(errno));
		_exit(SKIFF_EXIT_RUNTIME);
	}
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	environ = c->env;
	execvp(cmd[0], cmd);
	e = errno;
	code = (e == ENOENT || e == ENOTDIR) ? SKIFF_EXIT_NOTFOUND : SKIFF_EXIT_CANNOT;
	exec_error("exec: %s '%s' in container %s: %s",
		   code == SKIFF_EXIT_NOTFOUND ? "command not found:" : "cannot execute", cmd[0],
		   c->id, strerror(e));
	_exit(code);
}

/* Wait for the child, forwarding termination signals to its process group
 * (it leads one: setsid). Returns the exit code in Docker convention. */
static void wait_signals(sigset_t *set)
{
	static const int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM };

	sigemptyset(set);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(set, sigs[i]);
}

/* What the parent does with a signal while it waits for the command:
 * SIGALRM (KILL_AFTER) kills its group, the others are forwarded to it. */
static void forward_signal(pid_t child, int sig, bool *killing)
{
	if (sig == SIGALRM) {
		kill(-child, SIGKILL);
		kill(child, SIGKILL);
		return;
	}
	kill(-child, sig);
	kill(child, sig);
	if (!*killing)
		alarm(KILL_AFTER);
	*killing = true;
}

static int wait_child(pid_t child)
{
	sigset_t set;
	bool killing = false;
	int st;

	wait_signals(&set);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0)
			break; /* cannot wait for signals: just wait for the child */
		if (sig != SIGCHLD) {
			forward_signal(child, sig, &killing);
			continue;
		}
		pid_t p = waitpid(child, &st, WNOHANG);
		if (p == child)
			goto done;
	}
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return SKIFF_EXIT_RUNTIME;
done:
	/* what the command left behind in its group goes with it */
	if (killing)
		kill(-child, SIGKILL);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* A pseudo-terminal of the devpts mounted at /dev/pts (the container's,
 * once in its mount namespace), rows x cols when both are given. The slave
 * is opened from the master (TIOCGPTPEER), never by a path the container
 * could have replaced; the master must be on a devpts. */
static int open_pty(unsigned rows, unsigned cols, int *ret_master, int *ret_slave)
{
	_cleanup_close_ int m =
	    open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct statfs sf;
	int unlock = 0;

	if (m < 0)
		return -errno;
	if (fstatfs(m, &sf) < 0)
		return -errno;
	if (sf.f_type != DEVPTS_SUPER_MAGIC)
		return -ENOTTY;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return -errno;
	if (rows && cols) {
		struct winsize ws = { .ws_row = (unsigned short)rows,
				      .ws_col = (unsigned short)cols };
		if (ioctl(m, TIOCSWINSZ, &ws) < 0)
			return -errno;
	}
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return -errno;
	*ret_master = TAKE_FD(m);
	*ret_slave = s;
	return 0;
}

/* "ROWS COLS\n" lines from the resize fd: each complete one sets the size. */
static void apply_resizes(int master, char *buf, size_t *len)
{
	char *nl;
	while ((nl = memchr(buf, '\n', *len))) {
		unsigned rows, cols;
		*nl = 0;
		if (sscanf(buf, "%u %u", &rows, &cols) == 2 && rows > 0 && rows <= 65535 &&
		    cols > 0 && cols <= 65535) {
			struct winsize ws = { .ws_row = (unsigned short)rows,
					      .ws_col = (unsigned short)cols };
			(void)ioctl(master, TIOCSWINSZ, &ws);
		}
		size_t used = (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *len - used);
		*len -= used;
	}
	if (*len == 64) /* no line fits: garbage */
		*len = 0;
}

#define TTY_DRAIN_MS 200 /* after the command ended: output still coming */

/* --tty: relay stdin -> master and master -> stdout while the command runs,
 * apply resizes, forward signals (from a signalfd: they are blocked); after
 * the command ended, pass on what it left in the terminal (until the slave
 * is closed everywhere or TTY_DRAIN_MS without output: a background process
 * may keep it open). Returns the exit code in Docker convention. */
static int relay_tty(pid_t child, int master, int resize_fd)
{
	char to_pty[4096], to_out[16384], rs[64];
	size_t tp_len = 0, tp_off = 0, to_len = 0, to_off = 0, rs_len = 0;
	bool in_open = true, master_open = true, killing = false, exited = false;
	int st = 0;
	sigset_t set;

	wait_signals(&set);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		exec_error("exec: signalfd: %s", strerror(errno));
		forward_signal(child, SIGKILL, &killing);
		return wait_child(child);
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd p[5] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = in_open && tp_len == 0 ? 0 : -1, .events = POLLIN },
			{ .fd = master_open ? master : -1,
			  .events = (short)((to_len == 0 ? POLLIN : 0) | (tp_len ? POLLOUT : 0)) },
			{ .fd = to_len ? 1 : -1, .events = POLLOUT },
			{ .fd = resize_fd, .events = POLLIN },
		};
		if (exited && !master_open && to_len == 0)
			break;
		int n = poll(p, ARRAY_SIZE(p), exited ? TTY_DRAIN_MS : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* drained (or poll failed): the end */
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo != SIGCHLD)
					forward_signal(child, (int)si.ssi_signo, &killing);
				else if (!exited && waitpid(child, &st, WNOHANG) == child)
					exited = true;
			}
		}
		if (p[1].revents) {
			ssize_t r = read(0, to_pty, sizeof(to_pty));
			if (r > 0) {
				tp_len = (size_t)r;
				tp_off = 0;
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* the end of our input: the terminal's EOF when it
				 * reads lines, as typing it would */
				struct termios t;
				in_open = false;
				if (tcgetattr(master, &t) == 0 && (t.c_lflag & ICANON)) {
					to_pty[0] = (char)t.c_cc[VEOF];
					tp_len = 1;
					tp_off = 0;
				}
			}
		}
		if (p[2].revents & POLLOUT) {
			ssize_t r = write(master, to_pty + tp_off, tp_len - tp_off);
			if (r > 0)
				tp_off += (size_t)r;
			if ((r < 0 && errno != EAGAIN && errno != EINTR) || tp_off == tp_len)
				tp_len = tp_off = 0;
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR) && to_len == 0) {
			ssize_t r = read(master, to_out, sizeof(to_out));
			if (r > 0) {
				to_len = (size_t)r;
				to_off = 0;
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				master_open = false; /* EIO: the slave is closed everywhere */
			}
		}
		if (p[3].revents) {
			/* at most PIPE_BUF after POLLOUT: a blocking pipe takes
			 * it without blocking, so signals keep being served */
			size_t len = to_len - to_off < 4096 ? to_len - to_off : 4096;
			ssize_t r = write(1, to_out + to_off, len);
			if (r > 0)
				to_off += (size_t)r;
			/* nobody reads our output: drop it, the command goes on */
			if ((r < 0 && errno != EAGAIN && errno != EINTR) || to_off == to_len)
				to_len = to_off = 0;
		}
		if (p[4].revents) {
			ssize_t r = read(resize_fd, rs + rs_len, sizeof(rs) - rs_len);
			if (r > 0) {
				rs_len += (size_t)r;
				apply_resizes(master, rs, &rs_len);
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				resize_fd = -1;
			}
		}
	}
	if (!exited)
		while (waitpid(child, &st, 0) < 0)
			if (errno != EINTR)
				return SKIFF_EXIT_RUNTIME;
	if (killing)
		kill(-child, SIGKILL);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void usage(void)
{
	exec_error("usage: skiff-runtime exec --state DIR [-e K=V]... [-w DIR] [-u UID[:GID]] "
		   "[--tty [--rows N --cols N] [--resize-fd FD]] ID -- CMD [ARG...]");
}

/* --rows/--cols N: a terminal dimension, 1..65535 */
static int parse_dim(const char *opt, const char *s, unsigned *ret)
{
	int64_t v;
	if (skiff_parse_int64(s, &v) < 0 || v < 1 || v > 65535) {
		exec_error("exec: %s '%s': expected a number of character cells from 1 to 65535",
			   opt, s);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

/* --resize-fd/--error-fd: an fd the caller left open for us (made CLOEXEC,
 * so the command does not inherit it) */
static int parse_fd(const char *opt, const char *s, int *ret)
{
	int64_t fd;
	if (skiff_parse_int64(s, &fd) < 0 || fd < 3 || fd > 1024 ||
	    fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_error("exec: %s '%s': not an open file descriptor", opt, s);
		return -EBADF;
	}
	*ret = (int)fd;
	return 0;
}

int skiff_cmd_exec(int argc, char **argv)
{
	const char *dir = NULL, *id = NULL, *workdir = NULL, *user = NULL;
	_cleanup_free_ char *err = NULL, *cgns_path = NULL;
	_cleanup_free_ const char **envs = xcalloc((size_t)argc + 1, sizeof(char *));
	struct skiff_state st = { 0 };
	struct skiff_config c = { 0 };
	struct skiff_bpf bpf = { 0 };
	char **args = NULL, **cmd = NULL;
	int n_env = 0, code = SKIFF_EXIT_RUNTIME, r;
	_cleanup_close_ int pidfd = -EBADF, cgns_fd = -EBADF;
	int cg_fds[3], n_cg = 0, resize_fd = -1;
	_cleanup_close_ int master = -EBADF, slave = -EBADF;
	unsigned rows = 0, cols = 0;
	bool joined = false, tty = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (streq(a, "--")) {
			cmd = argv + i + 1;
			break;
		}
		if (i + 1 < argc && streq(a, "--state"))
			dir = argv[++i];
		else if (skiff_startswith(a, "--state="))
			dir = a + 8;
		else if (i + 1 < argc && (streq(a, "-e") || streq(a, "--env")))
			envs[n_env++] = argv[++i];
		else if (i + 1 < argc && (streq(a, "-w") || streq(a, "--workdir")))
			workdir = argv[++i];
		else if (i + 1 < argc && (streq(a, "-u") || streq(a, "--user")))
			user = argv[++i];
		else if (streq(a, "--tty") || streq(a, "-t"))
			tty = true;
		else if (i + 1 < argc && streq(a, "--rows")) {
			if (parse_dim(a, argv[++i], &rows) < 0)
				return SKIFF_EXIT_RUNTIME;
		} else if (i + 1 < argc && streq(a, "--cols")) {
			if (parse_dim(a, argv[++i], &cols) < 0)
				return SKIFF_EXIT_RUNTIME;
		} else if (i + 1 < argc && streq(a, "--resize-fd")) {
			if (parse_fd(a, argv[++i], &resize_fd) < 0)
				return SKIFF_EXIT_RUNTIME;
		} else if (i + 1 < argc && streq(a, "--error-fd")) {
			if (parse_fd(a, argv[++i], &error_fd) < 0)
				return SKIFF_EXIT_RUNTIME;
		} else if (a[0] == '-' || id) {
			usage();
			return SKIFF_EXIT_RUNTIME;
		} else
			id = a;
	}
	if (!dir || !id || !cmd || !cmd[0]) {
		usage();
		return SKIFF_EXIT_RUNTIME;
	}
	if (!tty && (rows || cols || resize_fd >= 0)) {
		exec_error("exec: --rows, --cols and --resize-fd need --tty");
		return SKIFF_EXIT_RUNTIME;
	}
	if (!rows != !cols) {
		exec_error("exec: --rows and --cols go together (the terminal's size)");
		return SKIFF_EXIT_RUNTIME;
	}
	if (geteuid() != 0) {
		exec_error("exec: skiff-runtime must run as root (uid is %u)", (unsigned)geteuid());
		return SKIFF_EXIT_RUNTIME;
	}
	if (!skiff_id_valid(id)) {
		exec_error("exec: '%s' is not a container id", id);
		return SKIFF_EXIT_RUNTIME;
	}
	r = skiff_state_read(dir, id, &st);
	if (r < 0) {
		if (r == -ENOENT)
			exec_error("exec: no container '%s' in %s", id, dir);
		else
			exec_error("exec: cannot read the state of container '%s' in %s: %s", id,
				   dir, strerror(-r));
		return SKIFF_EXIT_RUNTIME;
	}
	if (!streq(st.status, "running")) {
		exec_error("exec: container '%s' is not running (%s%s%s, exit code %d)", id,
			   st.status, st.reason ? ": " : "", st.reason ? st.reason : "",
			   st.exit_code);
		goto out;
	}
	/* A pidfd first, then the start time: the pidfd then surely names the
	 * container's pid 1 and not a process that reused its pid. */
	pidfd = (int)syscall(SYS_pidfd_open, st.pid, 0);
	if (pidfd < 0 || (st.pid_starttime && skiff_proc_starttime(st.pid) != st.pid_starttime)) {
		exec_error("exec: container '%s' is not running (its process %d is gone)", id,
			   (int)st.pid);
		goto out;
	}
	r = config_load(dir, id, &c, &args, &err);
	if (r < 0) {
		exec_error("exec: container '%s': %s", id, err);
		goto out;
	}
	for (int i = 0; i < n_env; i++) {
		if (!strchr(envs[i], '=') || envs[i][0] == '=') {
			exec_error("exec: --env '%s': expected KEY=VALUE", envs[i]);
			goto out;
		}
		skiff_config_setenv(&c, envs[i]);
	}
	if (workdir) {
		if (workdir[0] != '/') {
			exec_error("exec: --workdir '%s': must be an absolute path", workdir);
			goto out;
		}
		free(c.workdir);
		c.workdir = xstrdup(workdir);
	}
	if (user && skiff_parse_user(user, &c.uid, &c.gid) < 0) {
		exec_error("exec: --user '%s': expected UID[:GID] (numbers)", user);
		goto out;
	}
	if (tty) {
		bool has_term = false;
		for (size_t i = 0; c.env && c.env[i]; i++)
			has_term |= skiff_startswith(c.env[i], "TERM=");
		if (!has_term)
			skiff_config_setenv(&c, "TERM=xterm");
	}
	r = skiff_seccomp_prepare(&c, &bpf);
	if (r < 0) {
		exec_error("exec: cannot build the seccomp filter of container '%s': %s", id,
			   strerror(-r));
		goto out;
	}

	/* From here on the process holds the container's inside: nobody
	 * in it may open our /proc entries (CVE-2019-5736), and we go when
	 * our caller goes. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	pid_t caller = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	sigset_t block;
	wait_signals(&block);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (getppid() != caller)
		goto out;
	n_cg = open_cgroup_procs(st.cgroup, cg_fds);
	if (n_cg < 0) {
		if (n_cg == -ENOENT)
			exec_error("exec: container '%s' is not running (cgroup %s is gone)", id,
				   st.cgroup);
		else
			exec_error("exec: cannot open cgroup %s of container '%s': %s", st.cgroup,
				   id, strerror(-n_cg));
		goto out;
	}
	cgns_path = xasprintf("/proc/%d/ns/cgroup", (int)st.pid);
	cgns_fd = open(cgns_path, O_RDONLY | O_CLOEXEC);
	if (cgns_fd < 0) {
		exec_error("exec: container '%s' is not running (%s: %s)", id, cgns_path,
			   strerror(errno));
		goto out;
	}
	joined = true;
	r = join_namespaces(pidfd, st.pid);
	if (r < 0) {
		if (r == -ESRCH)
			exec_error("exec: container '%s' is not running (it just ended)", id);
		else
			exec_error("exec: cannot join the namespaces of container '%s': %s", id,
				   strerror(-r));
		goto out;
	}
	if (tty) {
		r = open_pty(rows, cols, &master, &slave);
		if (r < 0) {
			exec_error("exec: cannot allocate a terminal in container '%s' "
				   "(/dev/pts/ptmx): %s",
				   id, strerror(-r));
			goto out;
		}
		/* the command's user owns its terminal, as after a login */
		if (c.uid != 0 && fchown(slave, c.uid, (gid_t)-1) < 0)
			log_debug("exec: cannot give the terminal to uid %u: %m", c.uid);
	}
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		exec_error("exec: fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0)
		exec_child(&c, &bpf, cmd, cg_fds, n_cg, cgns_fd, slave);
	if (tty) {
		close(TAKE_FD(slave));
		code = relay_tty(child, master, resize_fd);
	} else {
		code = wait_child(child);
	}
out:
	for (int i = 0; i < n_cg; i++)
		close(cg_fds[i]);
	skiff_bpf_done(&bpf);
	skiff_state_done(&st);
	if (args) {
		for (size_t i = 0; args[i]; i++)
			free(args[i]);
		free(args);
	}
	skiff_config_free(&c);
	if (joined) {
		/* Our new children would be born in the container's pid
		 * namespace: LeakSanitizer's exit-time tracer (a sanitized
		 * build) could not see us from there and would wait forever. */
		fflush(NULL);
		_exit(code);
	}
	return code;
}
