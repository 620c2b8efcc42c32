/* podnet.c — the network half of a pod's sandbox. The network belongs to
 * the pod, not to any one container (as the pause container's namespace
 * does in Kubernetes): it is made at the pod's first start and kept across
 * container restarts and agent restarts, so a restart does no network work
 * and the pod's IP keeps answering (RST) while its container is replaced.
 * The agent keeps the pod's network namespace as a bind-mounted nsfs file
 * STATE/pods/<uid>/netns (like `ip netns add`), with a veth whose host end
 * "skp<hash>" is on the node bridge and whose other end is eth0 = the pod
 * IP (its MAC follows from the IP); every container joins it with the
 * runtime's `--net ns:PATH`. Its teardown (veth deletion, unmount) runs in
 * a child process when the pod is deleted, never on the path of a start.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "netlink.h"
#include "util.h"

char *podnet_path(struct agent *a, const char *uid)
{
	_cleanup_free_ char *dir = state_pod_dir(a, uid);
	return xasprintf("%s/netns", dir);
}

static char *host_ifname(const char *uid)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)uid; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return xasprintf("skp%012llx", (unsigned long long)(h & 0xffffffffffffULL));
}

static bool is_netns(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd >= 0 && ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

int podnet_ensure(struct agent *a, const char *uid, const char *ip)
{
	_cleanup_free_ char *path = podnet_path(a, uid);
	_cleanup_free_ char *host_if = host_ifname(uid);
	char gw[64] = "", cidr[96] = "";
	int prefix = 0, r;

	if (is_netns(path))
		return 0;
	/* without a pod CIDR (no IP): a namespace with lo only */
	if (ip && ip[0]) {
		r = ipam_gateway(a->pod_cidr, gw, sizeof(gw), &prefix);
		if (r < 0)
			return r;
		snprintf(cidr, sizeof(cidr), "%s/%d", ip, prefix);
	}
	_cleanup_close_ int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (f < 0)
		return -errno;
	/* a child makes the namespace, pins it on the file, and stays in it
	 * until the veth is configured (lib/netlink enters it by pid) */
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(down, O_CLOEXEC) < 0) {
		r = -errno;
		close(up[0]);
		close(up[1]);
		return r;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int e = 0;
		close(up[0]);
		close(down[1]); /* else the read below never sees EOF */
		if (unshare(CLONE_NEWNET) < 0 ||
		    mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
			e = errno;
		(void)!write(up[1], &e, sizeof(e));
		char c;
		(void)!read(down[0], &c, 1); /* EOF: the parent is done */
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	int e = EIO;
	if (pid < 0)
		e = errno;
	else if (read(up[0], &e, sizeof(e)) != sizeof(e))
		e = EIO;
	close(up[0]);
	if (pid > 0 && e == 0 && ip && ip[0]) {
		(void)skiff_netlink_link_delete(host_if); /* a leftover of a cut-short try */
		r = skiff_netlink_veth_into_netns(host_if, AGENT_BRIDGE, pid, "eth0", cidr, gw);
		if (r < 0)
			e = -r;
	} else if (pid > 0 && e == 0) {
		r = skiff_netlink_netns_lo_up(pid);
		if (r < 0)
			e = -r;
	}
	close(down[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (e) {
		umount2(path, MNT_DETACH);
		unlink(path);
		return -e;
	}
	log_info("pod %s: network namespace %s, eth0 %s", uid, path, ip && ip[0] ? cidr : "(none)");
	return 0;
}

void podnet_remove_dir(const char *pod_dir, const char *uid)
{
	_cleanup_free_ char *path = xasprintf("%s/netns", pod_dir);
	_cleanup_free_ char *host_if = host_ifname(uid);
	if (access(path, F_OK) < 0)
		return;
	/* the veth first: unmounting alone leaves its deletion to the
	 * kernel's namespace cleanup, later and out of sight */
	(void)skiff_netlink_link_delete(host_if);
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL)
		log_warn("pod %s: cannot unmount %s: %m", uid, path);
	unlink(path);
}
