/* container.c — start one container and collect its end.
 *
 * The parent prepares everything that can fail on bad input or lack of
 * resources first (layer dir, cgroup with limits, seccomp program, bridge),
 * then clone3()s the container's first process into new pid, mount, uts, ipc
 * and (unless --net host) net namespaces, straight into the cgroup when the
 * cgroup manager offers an fd for it (v2: CLONE_INTO_CGROUP) and with a pidfd.
 * It then places the child in the cgroup otherwise (v1), plugs in the veth
 * and says "go" over a SOCK_SEQPACKET pair.
 *
 * The child, pid 1 inside, enters a new cgroup namespace, builds the mounts
 * (mounts.c), sets the hostname, brings lo up, sets rlimits, no_new_privs,
 * non-dumpable, the capability set and the seccomp filter. By default it then
 * sets its user, working directory and close-on-exec on every fd above 2 and
 * execs the command, which is pid 1 (as with crun, runc and `docker run`).
 * With --init it forks the command instead (pid 2) and stays as a minimal
 * init that reaps every child, forwards signals to the command and, when the
 * command ends, sends its wait status to the parent and exits (the kernel then
 * kills whatever is left in the pid namespace). Exec errors come back through
 * a CLOEXEC channel: 127 when the command is not found, 126 when it cannot be
 * executed, so the sync socket's EOF means "exec succeeded".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/sched.h>

/* Paths here are bounded by PATH_MAX; a truncated one fails to mount. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "cleanup.h"
#include "log.h"
#include "runtime.h"
#include "util.h"

extern char **environ;

enum { MSG_GO = 'G', MSG_STARTED = 'S', MSG_ERROR = 'E', MSG_EXIT = 'X' };

struct sync_msg {
	int type;
	int code;  /* exit code for MSG_ERROR */
	int value; /* wait status for MSG_EXIT */
	char text[512];
};

static void send_msg(int fd, int type, int code, int value, const char *text)
{
	struct sync_msg m = { .type = type, .code = code, .value = value };

	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	while (send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* Returns bytes read (0 on EOF) or -errno.
 *
 * A peer that exits with a message of ours unread (the child failing while
 * the parent sends GO) leaves ECONNRESET on this socket, and a SEQPACKET
 * recv reports that error before the messages still queued: the child's
 * MSG_ERROR would be lost. The error is cleared once reported, so one more
 * recv reads what is queued (or 0 at EOF). */
static int recv_msg(int fd, struct sync_msg *m, bool nonblock)
{
	ssize_t n;
	bool reset = false;

	memset(m, 0, sizeof(*m));
	for (;;) {
		n = recv(fd, m, sizeof(*m), nonblock ? MSG_DONTWAIT : 0);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET && !reset) {
			reset = true;
			continue;
		}
		break;
	}
	if (n < 0)
		return -errno;
	m->text[sizeof(m->text) - 1] = 0;
	return (int)n;
}

uint64_t skiff_proc_starttime(pid_t pid)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (skiff_read_file(path, 4096, &text, NULL) < 0)
		return 0;
	char *p = strrchr(text, ')');
	if (!p)
		return 0;
	/* after ") " come fields 3..: state is 3, starttime is 22 */
	p += 2;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		v = strtoull(p, NULL, 10);
	return v;
}

/* ---------------- in the container ---------------- */

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		(void)ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	/* fds 0-2 stay; everything else except a and b goes. */
	if (lo < 0)
		lo = hi;
	if (lo > 3)
		syscall(SYS_close_range, 3, lo - 1, 0);
	if (hi > lo + 1)
		syscall(SYS_close_range, lo + 1, hi - 1, 0);
	syscall(SYS_close_range, hi + 1, ~0U, 0);
}

/* The workload after fork: never returns. */
static void exec_workload(const struct skiff_config *c, int errfd)
{
	sigset_t none;
	char buf[600];
	int e, code;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (c->uid != 0 || c->gid != 0) {
		if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
		    setresuid(c->uid, c->uid, c->uid) < 0) {
			e = errno;
			snprintf(buf, sizeof(buf), "cannot switch to user %u:%u: %s", c->uid,
				 c->gid, strerror(e));
			code = SKIFF_EXIT_RUNTIME;
			goto fail;
		}
	}
	if (chdir(c->workdir ? c->workdir : "/") < 0) {
		e = errno;
		snprintf(buf, sizeof(buf), "workdir %s: %s", c->workdir, strerror(e));
		code = SKIFF_EXIT_RUNTIME;
		goto fail;
	}
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	environ = c->env;
	execvp(c->argv[0], c->argv);
	e = errno;
	code = (e == ENOENT || e == ENOTDIR) ? SKIFF_EXIT_NOTFOUND : SKIFF_EXIT_CANNOT;
	snprintf(buf, sizeof(buf), "%s '%s' in the container: %s",
		 code == SKIFF_EXIT_NOTFOUND ? "command not found:" : "cannot execute", c->argv[0],
		 strerror(e));
fail:
	if (errfd >= 0) {
		struct sync_msg m = { .type = MSG_ERROR, .code = code };
		snprintf(m.text, sizeof(m.text), "%s", buf);
		(void)!write(errfd, &m, sizeof(m));
	}
	_exit(code);
}

/* Everything that does not depend on the cgroup: runs while the parent
 * places the process in its cgroups and plugs in its veth. */
static int child_prepare(const struct skiff_config *c, const char *layer, bool tmpfs_layer,
			 char **ret_errmsg)
{
	struct rlimit nofile = { 1048576, 1048576 };
	int r;

	/* join the shared network namespace first: /sys is mounted below and
	 * shows the network of the namespace that mounts it */
	if (c->net == SKIFF_NET_NS) {
		int fd = skiff_net_open_ns(c);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			r = fd < 0 ? fd : -errno;
			*ret_errmsg = xasprintf("cannot join network namespace %s: %s",
						c->netns_path, strerror(-r));
			if (fd >= 0)
				close(fd);
			return r;
		}
		close(fd);
	}
	r = skiff_mounts_setup(c, layer, tmpfs_layer, ret_errmsg);
	if (r < 0)
		return r;
	if (sethostname(c->hostname, strlen(c->hostname)) < 0) {
		r = -errno;
		*ret_errmsg = xasprintf("cannot set hostname '%s': %s", c->hostname, strerror(-r));
		return r;
	}
	if (c->net != SKIFF_NET_HOST)
		lo_up();
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) {
		nofile.rlim_cur = nofile.rlim_max = 65536;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}
	return 0;
}

/* After "go": the process is in its cgroups. */
static int child_lockdown(const struct skiff_config *c, const struct skiff_bpf *bpf,
			  char **ret_errmsg)
{
	int r;

	if (unshare(CLONE_NEWCGROUP) < 0) {
		r = -errno;
		*ret_errmsg = xasprintf("cannot create a cgroup namespace: %s", strerror(-r));
		return r;
	}
	/* /proc/1 of a non-dumpable init is closed to container processes
	 * that lack CAP_SYS_PTRACE (CVE-2019-5736). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		*ret_errmsg = xasprintf("no_new_privs: %s", strerror(-r));
		return r;
	}
	r = skiff_caps_apply(c->cap_add);
	if (r < 0) {
		*ret_errmsg = xasprintf("cannot set capabilities: %s", strerror(-r));
		return r;
	}
	r = skiff_seccomp_load(bpf);
	if (r < 0) {
		*ret_errmsg = xasprintf("cannot load the seccomp filter: %s", strerror(-r));
		return r;
	}
	return 0;
}

static int init_loop(pid_t workload)
{
	sigset_t all;
	int status = 0;

	sigfillset(&all);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(workload, sig);
			continue;
		}
		pid_t p;
		int st;
		bool done = false;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == workload) {
				status = st;
				done = true;
			}
		if (done)
			return status;
	}
}

static _Noreturn void child_main(const struct skiff_config *c, const char *layer, bool tmpfs_layer,
				 const struct skiff_bpf *bpf, int sync_fd, int stdio_fd,
				 bool die_with_parent)
{
	char *err = NULL;
	struct sync_msg m;
	int r, pipefd[2];
	sigset_t all;

	close_all_but(sync_fd, stdio_fd);
	if (die_with_parent)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (stdio_fd >= 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null >= 0 && null != 0) {
			dup2(null, 0);
			close(null);
		}
		dup2(stdio_fd, 1);
		dup2(stdio_fd, 2);
		close(stdio_fd);
	}
	if (child_prepare(c, layer, tmpfs_layer, &err) < 0) {
		send_msg(sync_fd, MSG_ERROR, SKIFF_EXIT_RUNTIME, 0, err);
		_exit(SKIFF_EXIT_RUNTIME);
	}
	r = recv_msg(sync_fd, &m, false);
	if (r <= 0 || m.type != MSG_GO)
		_exit(SKIFF_EXIT_RUNTIME);
	if (child_lockdown(c, bpf, &err) < 0) {
		send_msg(sync_fd, MSG_ERROR, SKIFF_EXIT_RUNTIME, 0, err);
		_exit(SKIFF_EXIT_RUNTIME);
	}
	if (!c->init)
		exec_workload(c, sync_fd); /* sync_fd is CLOEXEC: EOF means started */

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		err = xasprintf("pipe: %s", strerror(errno));
		send_msg(sync_fd, MSG_ERROR, SKIFF_EXIT_RUNTIME, 0, err);
		_exit(SKIFF_EXIT_RUNTIME);
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	pid_t w = fork();
	if (w < 0) {
		err = xasprintf("fork: %s", strerror(errno));
		send_msg(sync_fd, MSG_ERROR, SKIFF_EXIT_RUNTIME, 0, err);
		_exit(SKIFF_EXIT_RUNTIME);
	}
	if (w == 0) {
		close(pipefd[0]);
		close(sync_fd);
		exec_workload(c, pipefd[1]);
	}
	close(pipefd[1]);
	ssize_t n;
	do
		n = read(pipefd[0], &m, sizeof(m));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(m)) {
		m.text[sizeof(m.text) - 1] = 0;
		send_msg(sync_fd, MSG_ERROR, m.code, 0, m.text);
		_exit(m.code);
	}
	send_msg(sync_fd, MSG_STARTED, 0, 0, NULL);
	int status = init_loop(w);
	send_msg(sync_fd, MSG_EXIT, 0, status, NULL);
	_exit(0);
}

/* ---------------- in the parent ---------------- */

/* shim: DIR/ID/rw on disk (or --layer-dir), removed when the container ends. run: the
 * shared, always empty mount point SKIFF_RUNTIME_RUN_DIR/layer on which the
 * container mounts a tmpfs of its own, so nothing is made or removed on disk. */
static int make_layer(struct skiff_container *ct, char **ret_errmsg)
{
	const struct skiff_config *c = ct->cfg;
	static const char *const sub[] = { "upper", "work", "merged" };
	_cleanup_free_ char *parent = NULL;
	int r;

	if (!c->state_dir) {
		ct->layer_dir = xstrdup(SKIFF_RUNTIME_RUN_DIR "/layer");
		ct->tmpfs_layer = true;
		if (mkdir(ct->layer_dir, 0700) == 0 || errno == EEXIST)
			return 0;
		r = skiff_mkdir_p(ct->layer_dir, 0700);
		if (r < 0)
			*ret_errmsg =
			    xasprintf("cannot create %s: %s", ct->layer_dir, strerror(-r));
		return r;
	}
	parent = xasprintf("%s/%s", c->state_dir, c->id);
	r = skiff_mkdir_p(parent, 0700);
	if (r < 0) {
		*ret_errmsg = xasprintf("cannot create %s: %s", parent, strerror(-r));
		return r;
	}
	ct->layer_dir = c->layer_dir ? xstrdup(c->layer_dir) : xasprintf("%s/rw", parent);
	if (mkdir(ct->layer_dir, 0700) < 0) {
		r = -errno;
		if (r == -EEXIST)
			*ret_errmsg =
			    xasprintf("container '%s' exists already (%s)", c->id, ct->layer_dir);
		else
			*ret_errmsg =
			    xasprintf("cannot create %s: %s", ct->layer_dir, strerror(-r));
		free(ct->layer_dir);
		ct->layer_dir = NULL;
		return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", ct->layer_dir, sub[i]);
		if (mkdir(p, 0755) < 0) {
			r = -errno;
			*ret_errmsg = xasprintf("cannot create %s: %s", p, strerror(-r));
			return r;
		}
	}
	return 0;
}

void skiff_container_cleanup(struct skiff_container *ct)
{
	int r;

	if (ct->net_attached) {
		r = skiff_net_detach(ct->cfg);
		if (r < 0)
			log_warn_errno(r, "cannot delete the veth of %s: %m", ct->cfg->id);
		ct->net_attached = false;
	}
	if (ct->cg.created) {
		r = skiff_cgroup_destroy(&ct->cg);
		if (r < 0)
			log_warn_errno(r, "cannot remove cgroup %s: %m", ct->cg.rel);
	}
	skiff_cgroup_done(&ct->cg);
	if (ct->layer_dir && !ct->tmpfs_layer) {
		r = skiff_rm_rf(ct->layer_dir);
		if (r < 0)
			log_warn_errno(r, "cannot remove %s: %m", ct->layer_dir);
	}
	free(ct->layer_dir);
	ct->layer_dir = NULL;
	if (ct->sync_fd >= 0)
		close(ct->sync_fd);
	ct->sync_fd = -EBADF;
	if (ct->pidfd >= 0)
		close(ct->pidfd);
	ct->pidfd = -EBADF;
}

/* The child may have failed on its own while the parent was busy: its
 * message explains more than the parent's symptom. */
static bool child_failed(struct skiff_container *ct, char **ret_errmsg, int *ret_code)
{
	struct sync_msg m;

	if (ct->sync_fd < 0 || recv_msg(ct->sync_fd, &m, true) <= 0 || m.type != MSG_ERROR)
		return false;
	*ret_errmsg = xstrdup(m.text);
	*ret_code = m.code;
	return true;
}

static void kill_and_reap(struct skiff_container *ct)
{
	if (ct->pid <= 0)
		return;
	if (ct->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, ct->pidfd, SIGKILL, NULL, 0);
	while (waitpid(ct->pid, NULL, 0) < 0 && errno == EINTR)
		;
	ct->pid = 0;
}

int skiff_container_start(struct skiff_container *ct, struct skiff_config *c, int stdio_fd,
			  int *ret_code, char **ret_errmsg)
{
	struct skiff_cgroup_limits lim = { c->memory, c->cpu_milli, c->pids };
	_cleanup_free_ char *rel = NULL;
	struct skiff_bpf bpf = { 0 };
	struct sync_msg m;
	const struct skiff_cgroup_manager *mgr;
	int sv[2], r, pidfd = -1;

	*ct = (struct skiff_container){ .cfg = c, .pidfd = -EBADF, .sync_fd = -EBADF };
	ct->cg.dirfd = -EBADF;
	*ret_code = SKIFF_EXIT_RUNTIME;

	r = make_layer(ct, ret_errmsg);
	if (r < 0)
		goto fail;
	r = skiff_cgroup_find("/sys/fs/cgroup", &mgr);
	if (r == -ENOMEDIUM) {
		*ret_errmsg =
		    xasprintf("no cgroup hierarchy is mounted at /sys/fs/cgroup (neither cgroup2 "
			      "nor v1 controllers; 'ip netns exec' remounts /sys without them: "
			      "use 'nsenter --net=/run/netns/NAME' instead)");
		goto fail;
	}
	if (r < 0) {
		*ret_errmsg = xasprintf("cannot find cgroups in /sys/fs/cgroup: %s", strerror(-r));
		goto fail;
	}
	rel = xasprintf("%s/%s", c->cgroup_parent, c->id);
	r = skiff_cgroup_create(&ct->cg, mgr, "/sys/fs/cgroup", rel, &lim);
	if (r < 0) {
		if (r == -EEXIST)
			*ret_errmsg =
			    xasprintf("container '%s' exists already (cgroup %s)", c->id, rel);
		else
			*ret_errmsg = xasprintf("cannot create cgroup %s (cgroup %s): %s", rel,
						mgr->name, strerror(-r));
		goto fail;
	}
	r = skiff_seccomp_prepare(c, &bpf);
	if (r < 0) {
		*ret_errmsg = xasprintf("cannot build the seccomp filter%s%s: %s",
					c->seccomp_file ? " from " : "",
					c->seccomp_file ? c->seccomp_file : "", strerror(-r));
		goto fail;
	}
	r = skiff_net_prepare(c);
	if (r < 0 && c->net == SKIFF_NET_NS) {
		*ret_errmsg = xasprintf("--net ns:%s: %s", c->netns_path,
					r == -EINVAL ? "not a network namespace" : strerror(-r));
		goto fail;
	}
	if (r < 0) {
		*ret_errmsg = xasprintf(
		    "cannot set up bridge %s: %s", c->bridge,
		    r == -ENOTTY ? "a link of that name exists and is not a bridge" : strerror(-r));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		*ret_errmsg = xasprintf("socketpair: %s", strerror(-r));
		goto fail;
	}
	struct clone_args args = {
		.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD |
			 (c->net == SKIFF_NET_HOST || c->net == SKIFF_NET_NS ? 0 : CLONE_NEWNET),
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
	};
	if (ct->cg.dirfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)ct->cg.dirfd;
	}
	fflush(NULL);
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		child_main(c, ct->layer_dir, ct->tmpfs_layer, &bpf, sv[1], stdio_fd, !c->state_dir);
	close(sv[1]);
	ct->sync_fd = sv[0];
	skiff_bpf_done(&bpf);
	if (pid < 0) {
		r = -errno;
		*ret_errmsg = xasprintf("cannot create the container process: %s", strerror(-r));
		goto fail;
	}
	ct->pid = (pid_t)pid;
	ct->pidfd = pidfd;
	ct->starttime = skiff_proc_starttime(ct->pid);
	if (ct->cg.dirfd < 0) {
		r = skiff_cgroup_add_pid(&ct->cg, ct->pid);
		if (r < 0) {
			if (!child_failed(ct, ret_errmsg, ret_code))
				*ret_errmsg = xasprintf("cannot move pid %d into cgroup %s: %s",
							ct->pid, rel, strerror(-r));
			goto fail;
		}
	}
	if (c->net == SKIFF_NET_BRIDGE) {
		ct->net_attached = true;
		r = skiff_net_attach(c, ct->pid);
		if (r < 0) {
			if (!child_failed(ct, ret_errmsg, ret_code))
				*ret_errmsg = xasprintf("cannot attach %s to bridge %s: %s",
							c->ip_cidr, c->bridge, strerror(-r));
			goto fail;
		}
	}
	send_msg(ct->sync_fd, MSG_GO, 0, 0, NULL);
	r = recv_msg(ct->sync_fd, &m, false);
	if (r > 0 && m.type == MSG_STARTED) {
		ct->started_ms = skiff_now_ms();
		return 0;
	}
	if (r == 0 && !c->init) {
		ct->started_ms = skiff_now_ms();
		return 0;
	}
	if (r > 0 && m.type == MSG_ERROR) {
		*ret_errmsg = xstrdup(m.text);
		*ret_code = m.code;
		r = -EIO;
	} else {
		*ret_errmsg = xstrdup("the container process ended before it started its command");
		r = -ECHILD;
	}
fail:
	skiff_bpf_done(&bpf);
	kill_and_reap(ct);
	skiff_container_cleanup(ct);
	return r < 0 ? r : -EIO;
}

int skiff_container_reap(struct skiff_container *ct)
{
	struct sync_msg m;
	siginfo_t si = { 0 };
	int status = 0;

	while (waitid(P_PID, ct->pid, &si, WEXITED) < 0) {
		if (errno != EINTR) {
			si.si_code = CLD_KILLED;
			si.si_status = SIGKILL;
			break;
		}
	}
	if (si.si_code == CLD_EXITED)
		status = (si.si_status & 0xff) << 8;
	else
		status = si.si_status & 0x7f;
	ct->pid = 0;
	ct->finished_ms = skiff_now_ms();
	ct->exit_status = status;
	ct->have_status = true;
	/* init reports the workload's own status just before it exits */
	while (ct->sync_fd >= 0 && recv_msg(ct->sync_fd, &m, true) > 0)
		if (m.type == MSG_EXIT)
			ct->exit_status = m.value;
	return WIFSIGNALED(ct->exit_status) ? 128 + WTERMSIG(ct->exit_status)
					    : WEXITSTATUS(ct->exit_status);
}

void skiff_container_result(const struct skiff_container *ct, bool oom, const char **reason,
			    int *exit_code, int *sig)
{
	int st = ct->exit_status;

	*sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	*exit_code = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	if (oom)
		*reason = "OOMKilled";
	else if (*sig)
		*reason = "Signaled";
	else if (*exit_code == 0)
		*reason = "Completed";
	else
		*reason = "Error";
}
