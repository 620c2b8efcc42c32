/* probe.c — a static helper copied into the runtime tests' rootfs. It tries,
 * from inside a container, each thing the runtime must refuse (system calls
 * the seccomp filter blocks, operations that need a dropped capability,
 * writes to read-only or masked paths) and prints one line per probe:
 * "NAME RESULT" where RESULT is "ok" or the errno name (EPERM, ENOSYS, …),
 * so the test script can compare it with what it expects.
 *
 *   probe             run every probe
 *   probe fds         print the open fds (except the one used to list them)
 *   probe status      print NoNewPrivs and the capability lines
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/reboot.h>
#include <linux/sched.h>

static void report(const char *name, long r)
{
	printf("%s %s\n", name, r >= 0 ? "ok" : strerrorname_np(errno));
}

static long try_clone(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static long try_clone3(void)
{
	struct clone_args a = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	long r = syscall(SYS_clone3, &a, sizeof(a));
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static long write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	long r = write(fd, data, strlen(data));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* "ok" only when the file gives at least one byte. */
static long read_some(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long r = read(fd, buf, sizeof(buf));
	int e = errno;
	close(fd);
	if (r == 0) {
		errno = ENODATA;
		return -1;
	}
	errno = e;
	return r;
}

static long lo_down(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	long r;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	r = ioctl(fd, SIOCSIFFLAGS, &ifr); /* same flags: harmless if allowed */
	close(fd);
	return r;
}

static long mknod_open(void)
{
	/* CAP_MKNOD is kept (as in Docker) but every writable mount is nodev. */
	if (mknod("/tmp/probe-null", S_IFCHR | 0600, makedev(1, 3)) < 0)
		return -1;
	int fd = open("/tmp/probe-null", O_RDONLY);
	int e = errno;
	unlink("/tmp/probe-null");
	if (fd >= 0)
		close(fd);
	errno = e;
	return fd;
}

static long ipc_lock(void)
{
	/* With RLIMIT_MEMLOCK 0 only CAP_IPC_LOCK allows locking memory. */
	static char page[4096];
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_MEMLOCK, &rl);
	long r = mlock(page, sizeof(page));
	if (r == 0)
		munlock(page, sizeof(page));
	return r;
}

static void all(void)
{
	struct timespec now;
	struct rlimit rl;
	int nsfd = open("/proc/self/ns/net", O_RDONLY);

	report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	report("umount2", umount2("/proc", MNT_DETACH));
	report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
	report("unshare_user", unshare(CLONE_NEWUSER));
	report("unshare_net", unshare(CLONE_NEWNET));
	report("unshare_mnt", unshare(CLONE_NEWNS));
	report("clone_newuser", try_clone(CLONE_NEWUSER));
	report("clone_newpid", try_clone(CLONE_NEWPID));
	report("clone_plain", try_clone(0));
	report("clone3", try_clone3());
	report("setns", setns(nsfd, CLONE_NEWNET));
	report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	report("init_module", syscall(SYS_init_module, NULL, 0, ""));
	report("finit_module", syscall(SYS_finit_module, -1, "", 0));
	report("delete_module", syscall(SYS_delete_module, "nonexistent", 0));
	report("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
				 LINUX_REBOOT_CMD_CAD_OFF, NULL));
	report("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0));
	report("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -3));
	report("request_key", syscall(SYS_request_key, "user", "probe", NULL, 0));
	report("ptrace", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	report("bpf", syscall(SYS_bpf, 0, NULL, 0));
	report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	report("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0));
	report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
	clock_gettime(CLOCK_REALTIME, &now);
	report("clock_settime", clock_settime(CLOCK_REALTIME, &now));
	report("swapon", swapon("/nonexistent", 0));
	report("syslog", syscall(SYS_syslog, 3 /* READ_ALL */, NULL, 0));
	report("iopl", syscall(SYS_iopl, 3));
	report("raw_socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	report("net_admin", lo_down());
	report("sethostname", sethostname("probe", 5));
	report("nice", setpriority(PRIO_PROCESS, 0, -5));
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_max += 1;
	report("rlimit_raise", setrlimit(RLIMIT_NOFILE, &rl));
	report("wake_alarm", timerfd_create(CLOCK_REALTIME_ALARM, 0));
	report("mknod_open", mknod_open());
	report("ipc_lock", ipc_lock());
	report("acct", syscall(SYS_acct, NULL));
	report("vhangup", vhangup());
	report("proc_sys_write", write_file("/proc/sys/kernel/hostname", "x"));
	report("sysrq_write", write_file("/proc/sysrq-trigger", "h"));
	report("sys_write", write_file("/sys/class/net/lo/mtu", "1500"));
	report("kcore_read", read_some("/proc/kcore"));
	report("keys_read", read_some("/proc/keys"));
	report("timer_list_read", read_some("/proc/timer_list"));
	report("passwd_read", read_some("/etc/passwd"));
}

static void fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			printf("fd %s\n", de->d_name);
	if (d)
		closedir(d);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "fds") == 0)
		fds();
	else
		all();
	return 0;
}
