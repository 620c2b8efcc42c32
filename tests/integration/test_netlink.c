/* test_netlink.c — lib/netlink against the kernel (root): each test runs in
 * its own forked process (Check's default) that first enters a fresh network
 * network and mount namespace, so nothing it makes can touch the host's
 * network and everything vanishes with the process. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "netlink.h"
#include "testlib.h"
#include "util.h"

/* A fresh network namespace, and a private sysfs that shows it. */
static void enter_netns(void)
{
	ck_assert_int_eq(unshare(CLONE_NEWNET | CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mount("sysfs", "/sys", "sysfs", 0, NULL), 0);
}

/* /proc/PID/net/FILE as text (PID 0: ourselves). */
static char *net_file(pid_t pid, const char *file)
{
	_cleanup_free_ char *p = pid ? xasprintf("/proc/%d/net/%s", (int)pid, file)
				     : xasprintf("/proc/self/net/%s", file);
	char *text = NULL;
	ck_assert_int_eq(skiff_read_file(p, 1 << 20, &text, NULL), 0);
	return text;
}

static int link_flags(const char *name)
{
	_cleanup_free_ char *p = xasprintf("/sys/class/net/%s/flags", name);
	_cleanup_free_ char *t = NULL;
	if (skiff_read_file(p, 64, &t, NULL) < 0)
		return -1;
	return (int)strtol(t, NULL, 16);
}

TEST(test_bridge_ensure)
{
	enter_netns();
	ck_assert_int_eq(skiff_netlink_link_exists("sktb0"), 0);
	ck_assert_int_eq(skiff_netlink_bridge_ensure("sktb0", "10.98.0.1/24"), 0);
	ck_assert_int_eq(skiff_netlink_link_exists("sktb0"), 1);
	/* idempotent, and an existing address is fine */
	ck_assert_int_eq(skiff_netlink_bridge_ensure("sktb0", "10.98.0.1/24"), 0);
	ck_assert_int_eq(skiff_netlink_bridge_ensure("sktb0", NULL), 0);
	_cleanup_free_ char *trie = net_file(0, "fib_trie");
	ck_assert_ptr_nonnull(strstr(trie, "10.98.0.1"));
	/* the connected route shows the address is there with its prefix */
	_cleanup_free_ char *route = net_file(0, "route");
	ck_assert_msg(strstr(route, "sktb0\t0000620A"), "%s", route);
	ck_assert_int_eq(skiff_netlink_bridge_ensure("sktb0", "10.98.0.1/33"), -EINVAL);
	ck_assert_int_eq(skiff_netlink_bridge_ensure("averyveryverylongname", NULL), -EINVAL);
	/* a link of that name that is not a bridge */
	ck_assert_int_eq(skiff_netlink_bridge_ensure("lo", NULL), -ENOTTY);
	ck_assert_int_eq(skiff_netlink_link_delete("sktb0"), 0);
	ck_assert_int_eq(skiff_netlink_link_exists("sktb0"), 0);
	ck_assert_int_eq(skiff_netlink_link_delete("sktb0"), -ENODEV);
}
END_TEST

TEST(test_routes)
{
	enter_netns();
	ck_assert_int_eq(skiff_netlink_bridge_ensure("sktb1", "10.97.0.1/24"), 0);
	ck_assert_int_eq(skiff_netlink_route_replace("10.244.7.0/24", "10.97.0.12"), 0);
	/* replace is idempotent and can move the route */
	ck_assert_int_eq(skiff_netlink_route_replace("10.244.7.0/24", "10.97.0.12"), 0);
	ck_assert_int_eq(skiff_netlink_route_replace("10.244.7.0/24", "10.97.0.13"), 0);
	_cleanup_free_ char *route = net_file(0, "route");
	/* dest 10.244.7.0 = 0007F40A, gateway 10.97.0.13 = 0D00610A (little endian) */
	ck_assert_msg(strstr(route, "0007F40A\t0D00610A"), "%s", route);
	ck_assert_ptr_null(strstr(route, "0C00610A"));
	ck_assert_int_eq(skiff_netlink_route_delete("10.244.7.0/24", "10.97.0.13"), 0);
	free(route);
	route = net_file(0, "route");
	ck_assert_ptr_null(strstr(route, "0007F40A"));
	ck_assert_int_lt(skiff_netlink_route_delete("10.244.7.0/24", "10.97.0.13"), 0);
	ck_assert_int_eq(skiff_netlink_route_replace("10.244.7.0/33", "10.97.0.13"), -EINVAL);
	ck_assert_int_eq(skiff_netlink_route_replace("10.244.7.0/24", "nope"), -EINVAL);
}
END_TEST

TEST(test_veth_into_netns)
{
	int ready[2], done[2];

	enter_netns();
	ck_assert_int_eq(skiff_netlink_bridge_ensure("sktb2", "10.96.0.1/24"), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		char c;
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		(void)!read(done[0], &c, 1);
		_exit(0);
	}
	char c;
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(skiff_netlink_veth_into_netns("sktv0", "sktb2", child, "eth0",
						       "10.96.0.5/24", "10.96.0.1"),
			 0);
	/* host end: exists, up, enslaved to the bridge */
	ck_assert_int_eq(skiff_netlink_link_exists("sktv0"), 1);
	ck_assert(link_flags("sktv0") & 1);
	ck_assert_int_eq(access("/sys/class/net/sktb2/brif/sktv0", F_OK), 0);
	/* inside: eth0 with the address and a default route via the gateway */
	_cleanup_free_ char *dev = net_file(child, "dev");
	ck_assert_ptr_nonnull(strstr(dev, "eth0:"));
	_cleanup_free_ char *route = net_file(child, "route");
	ck_assert_msg(strstr(route, "eth0\t00000000\t0100600A"), "%s", route);
	ck_assert_msg(strstr(route, "eth0\t0000600A\t00000000"), "%s", route);
	/* the same name again is refused and leaves the first pair alone */
	ck_assert_int_eq(
	    skiff_netlink_veth_into_netns("sktv0", "sktb2", child, "eth1", "10.96.0.6/24", NULL),
	    -EEXIST);
	/* a bad address inside fails and removes the pair it made */
	ck_assert_int_lt(
	    skiff_netlink_veth_into_netns("sktv1", "sktb2", child, "eth1", "10.96.0.6/40", NULL),
	    0);
	ck_assert_int_eq(skiff_netlink_link_exists("sktv1"), 0);
	/* deleting the host end removes the pair */
	ck_assert_int_eq(skiff_netlink_link_delete("sktv0"), 0);
	free(dev);
	dev = net_file(child, "dev");
	ck_assert_ptr_null(strstr(dev, "eth0:"));
	(void)!write(done[1], "d", 1);
	waitpid(child, NULL, 0);
}
END_TEST

TEST_SUITE(.needs_root = true, .timeout = 20);
