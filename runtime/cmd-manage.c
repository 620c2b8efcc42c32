/* cmd-manage.c — `state`, `list`, `kill` and `delete` over a shim state dir.
 *
 * kill is safe against pid reuse: it opens a pidfd on the recorded pid and
 * signals through it only if that process's start time (/proc/PID/stat field
 * 22) is the one recorded when the container started. delete --force kills a
 * running container, waits for its shim to record the end (or, if the shim
 * is gone, removes the cgroup and veth itself) and removes DIR/ID.
 */
#include <errno.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "netlink.h"
#include "runtime.h"
#include "util.h"

/* A pidfd on pid if it is still the process that started at starttime. */
static int pidfd_checked(pid_t pid, uint64_t starttime)
{
	int fd;

	if (pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	if (starttime && skiff_proc_starttime(pid) != starttime) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

static int parse_signal(const char *s)
{
	int64_t n;

	if (skiff_parse_int64(s, &n) == 0)
		return n > 0 && n < 65 ? (int)n : -EINVAL;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < 32; i++) {
		const char *abbrev = sigabbrev_np(i);
		if (abbrev && strcasecmp(abbrev, s) == 0)
			return i;
	}
	return -EINVAL;
}

/* Parses "--state DIR" plus positional arguments; returns their count. */
static int parse_common(int argc, char **argv, const char **dir, char **pos, int maxpos,
			bool *force, bool *json)
{
	int n = 0;

	*dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			*dir = argv[++i];
		else if (strncmp(argv[i], "--state=", 8) == 0)
			*dir = argv[i] + 8;
		else if (force && (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0))
			*force = true;
		else if (json && strcmp(argv[i], "--json") == 0)
			*json = true;
		else if (argv[i][0] == '-' && argv[i][1] &&
			 !(argv[i][1] >= '0' && argv[i][1] <= '9'))
			return -EINVAL;
		else if (n < maxpos)
			pos[n++] = argv[i];
		else
			return -EINVAL;
	}
	return *dir ? n : -EINVAL;
}

int skiff_cmd_state(int argc, char **argv)
{
	struct skiff_state s;
	const char *dir;
	char *pos[1];
	int r;

	if (parse_common(argc, argv, &dir, pos, 1, NULL, NULL) != 1) {
		log_error("usage: skiff-runtime state --state DIR ID");
		return 1;
	}
	r = skiff_state_read(dir, pos[0], &s);
	if (r < 0) {
		log_error_errno(r, "state: container '%s' in %s: %m", pos[0], dir);
		return 1;
	}
	_cleanup_free_ char *json = skiff_state_to_json(&s);
	fputs(json, stdout);
	skiff_state_done(&s);
	return 0;
}

int skiff_cmd_list(int argc, char **argv)
{
	_cleanup_closedir_ DIR *d = NULL;
	const char *dir;
	bool json = false, first = true;
	struct dirent *de;

	if (parse_common(argc, argv, &dir, NULL, 0, NULL, &json) != 0) {
		log_error("usage: skiff-runtime list --state DIR [--json]");
		return 1;
	}
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT) {
			puts(
			    json
				? "[]"
				: "ID                               STATUS   PID      EXIT  REASON");
			return 0;
		}
		log_error("list: %s: %s", dir, strerror(errno));
		return 1;
	}
	if (json)
		fputs("[", stdout);
	else
		printf("%-32s %-8s %-8s %-5s %s\n", "ID", "STATUS", "PID", "EXIT", "REASON");
	while ((de = readdir(d))) {
		struct skiff_state s;
		if (de->d_name[0] == '.' || skiff_state_read(dir, de->d_name, &s) < 0)
			continue;
		if (json) {
			_cleanup_free_ char *j = skiff_state_to_json(&s);
			j[strcspn(j, "\n")] = 0;
			printf("%s%s", first ? "" : ",\n", j);
		} else {
			char exitbuf[16] = "-";
			if (strcmp(s.status, "exited") == 0)
				snprintf(exitbuf, sizeof(exitbuf), "%d", s.exit_code);
			printf("%-32s %-8s %-8d %-5s %s\n", s.id, s.status, (int)s.pid, exitbuf,
			       s.reason ? s.reason : "-");
		}
		first = false;
		skiff_state_done(&s);
	}
	if (json)
		puts("]");
	return 0;
}

static int kill_container(const struct skiff_state *s, int sig)
{
	_cleanup_close_ int fd = -EBADF;

	if (strcmp(s->status, "running") != 0)
		return -ESRCH;
	fd = pidfd_checked(s->pid, s->pid_starttime);
	if (fd < 0)
		return fd;
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

int skiff_cmd_kill(int argc, char **argv)
{
	struct skiff_state s;
	const char *dir;
	char *pos[2];
	int n, r, sig = SIGTERM;

	n = parse_common(argc, argv, &dir, pos, 2, NULL, NULL);
	if (n < 1) {
		log_error("usage: skiff-runtime kill --state DIR ID [SIGNAL]");
		return 1;
	}
	if (n == 2) {
		sig = parse_signal(pos[1]);
		if (sig < 0) {
			log_error("kill: '%s' is not a signal (TERM, KILL, 9, …)", pos[1]);
			return 1;
		}
	}
	r = skiff_state_read(dir, pos[0], &s);
	if (r < 0) {
		log_error_errno(r, "kill: container '%s' in %s: %m", pos[0], dir);
		return 1;
	}
	r = kill_container(&s, sig);
	if (r < 0)
		log_error_errno(r, "kill: container '%s' is not running%s", pos[0],
				r == -ESRCH ? "" : ": %m");
	skiff_state_done(&s);
	return r < 0 ? 1 : 0;
}

static bool wait_pidfd(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, ms) > 0;
}

int skiff_cmd_delete(int argc, char **argv)
{
	struct skiff_state s;
	const char *dir;
	char *pos[1];
	bool force = false;
	int r;

	if (parse_common(argc, argv, &dir, pos, 1, &force, NULL) != 1) {
		log_error("usage: skiff-runtime delete --state DIR ID [--force]");
		return 1;
	}
	_cleanup_free_ char *cdir = xasprintf("%s/%s", dir, pos[0]);
	r = skiff_state_read(dir, pos[0], &s);
	if (r < 0) {
		if (access(cdir, F_OK) == 0 && force) {
			(void)skiff_rm_rf(cdir);
			return 0;
		}
		log_error_errno(r, "delete: container '%s' in %s: %m", pos[0], dir);
		return 1;
	}
	/* A live shim may still be cleaning up after an exited container. */
	_cleanup_close_ int shim = pidfd_checked(s.shim_pid, s.shim_starttime);
	if (strcmp(s.status, "running") == 0) {
		_cleanup_close_ int ctr = pidfd_checked(s.pid, s.pid_starttime);
		if ((shim >= 0 || ctr >= 0) && !force) {
			log_error("delete: container '%s' is running (stop it or use --force)",
				  pos[0]);
			skiff_state_done(&s);
			return 1;
		}
		if (ctr >= 0) {
			syscall(SYS_pidfd_send_signal, ctr, SIGKILL, NULL, 0);
			(void)wait_pidfd(ctr, 10000);
		}
		if (shim < 0) {
			/* No shim to clean up after the container: do its part. */
			const struct skiff_cgroup_manager *mgr;
			struct skiff_cgroup cg = { .dirfd = -EBADF };
			r = skiff_cgroup_find("/sys/fs/cgroup", &mgr);
			if (r < 0)
				log_warn_errno(r,
					       "delete: cannot find cgroups in /sys/fs/cgroup: %m");
			else if (s.cgroup) {
				skiff_cgroup_open(&cg, mgr, "/sys/fs/cgroup", s.cgroup);
				cg.created = true;
				cg.v1_made = ~0u;
			}
			r = cg.mgr ? skiff_cgroup_destroy(&cg) : 0;
			if (r < 0)
				log_warn_errno(r, "delete: cannot remove cgroup %s: %m", cg.rel);
			skiff_cgroup_done(&cg);
			_cleanup_free_ char *veth = skiff_net_host_ifname(s.id);
			(void)skiff_netlink_link_delete(veth);
		}
	}
	if (shim >= 0 && !wait_pidfd(shim, 10000))
		log_warn("delete: the shim of '%s' (pid %d) did not finish", pos[0],
			 (int)s.shim_pid);
	/* a --layer-dir outside DIR/ID that no shim removed (it was killed) */
	if (s.layer && access(s.layer, F_OK) == 0) {
		r = skiff_rm_rf(s.layer);
		if (r < 0)
			log_warn_errno(r, "delete: cannot remove %s: %m", s.layer);
	}
	skiff_state_done(&s);
	r = skiff_rm_rf(cdir);
	if (r < 0) {
		log_error_errno(r, "delete: cannot remove %s: %m", cdir);
		return 1;
	}
	return 0;
}
