/* netlink.c — libnl-route helpers for bridges, veth pairs, addresses and
 * routes (see netlink.h). Each call opens its own short-lived rtnetlink
 * socket so it is bound to the network namespace current at that moment.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "cleanup.h"
#include "netlink.h"
#include "util.h"

static int nlerr(int e)
{
	switch (e < 0 ? -e : e) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_PERM:
	case NLE_NOACCESS:
		return -EPERM;
	case NLE_INVAL:
	case NLE_RANGE:
		return -EINVAL;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_AF_NOSUPPORT:
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	default:
		return -EIO;
	}
}

DEFINE_CLEANUP_FUNC(struct nl_sock, nl_socket_free)
DEFINE_CLEANUP_FUNC(struct rtnl_link, rtnl_link_put)
DEFINE_CLEANUP_FUNC(struct nl_addr, nl_addr_put)
DEFINE_CLEANUP_FUNC(struct rtnl_addr, rtnl_addr_put)
DEFINE_CLEANUP_FUNC(struct rtnl_route, rtnl_route_put)

static int sock_open(struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		return nlerr(r);
	}
	*ret = sk;
	return 0;
}

int skiff_netlink_parse_ip(const char *s, uint32_t *ret_addr_be)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret_addr_be = a.s_addr;
	return 0;
}

int skiff_netlink_parse_cidr(const char *s, uint32_t *ret_addr_be, int *ret_prefix)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash;
	char *end;
	long n;
	uint32_t a;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf) || !slash[1])
		return -EINVAL;
	memcpy(buf, s, slash - s);
	buf[slash - s] = 0;
	if (skiff_netlink_parse_ip(buf, &a) < 0)
		return -EINVAL;
	errno = 0;
	n = strtol(slash + 1, &end, 10);
	if (errno || *end || n < 0 || n > 32 || slash[1] == '+' || slash[1] == '-')
		return -EINVAL;
	*ret_addr_be = a;
	*ret_prefix = (int)n;
	return 0;
}

int skiff_netlink_ifname_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= SKIFF_IFNAMSIZ)
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
			return -EINVAL;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}

static int link_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret)
{
	return nlerr(rtnl_link_get_kernel(sk, 0, name, ret));
}

int skiff_netlink_link_exists(const char *name)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	int r;

	r = sock_open(&sk);
	if (r < 0)
		return r;
	r = link_get(sk, name, &l);
	if (r == -ENODEV)
		return 0;
	return r < 0 ? r : 1;
}

static int link_set_up(struct nl_sock *sk, struct rtnl_link *l)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *change = rtnl_link_alloc();

	if (!change)
		return -ENOMEM;
	if (rtnl_link_get_flags(l) & IFF_UP)
		return 0;
	rtnl_link_set_flags(change, IFF_UP);
	return nlerr(rtnl_link_change(sk, l, change, 0));
}

int skiff_netlink_link_up(const char *name)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	int r;

	r = sock_open(&sk);
	if (r < 0)
		return r;
	r = link_get(sk, name, &l);
	if (r < 0)
		return r;
	return link_set_up(sk, l);
}

/* Add addr_cidr to ifindex; an address already there is fine. */
static int addr_add(struct nl_sock *sk, int ifindex, const char *addr_cidr)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *a = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
	uint32_t ip;
	int prefix, r;

	r = skiff_netlink_parse_cidr(addr_cidr, &ip, &prefix);
	if (r < 0)
		return r;
	r = nl_addr_parse(addr_cidr, AF_INET, &local);
	if (r < 0)
		return nlerr(r);
	a = rtnl_addr_alloc();
	if (!a)
		return -ENOMEM;
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, AF_INET);
	r = rtnl_addr_set_local(a, local);
	if (r < 0)
		return nlerr(r);
	rtnl_addr_set_prefixlen(a, prefix);
	r = nlerr(rtnl_addr_add(sk, a, 0));
	return r == -EEXIST ? 0 : r;
}

int skiff_netlink_bridge_ensure(const char *name, const char *addr_cidr)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	int r;

	r = skiff_netlink_ifname_valid(name);
	if (r < 0)
		return r;
	if (addr_cidr) {
		uint32_t ip;
		int prefix;
		r = skiff_netlink_parse_cidr(addr_cidr, &ip, &prefix);
		if (r < 0)
			return r;
	}
	r = sock_open(&sk);
	if (r < 0)
		return r;
	r = link_get(sk, name, &l);
	if (r == -ENODEV) {
		_cleanup_(rtnl_link_putp) struct rtnl_link *nb = rtnl_link_bridge_alloc();
		if (!nb)
			return -ENOMEM;
		rtnl_link_set_name(nb, name);
		rtnl_link_set_flags(nb, IFF_UP);
		/* A bridge without a MAC of its own takes the lowest of its
		 * ports' and changes it as pods come and go; each change
		 * flushes the node's neighbour entries of every pod behind it.
		 * A set MAC (02:42 + the bridge's IPv4, or random) stays. */
		uint8_t mac[6] = { 0x02, 0x42 };
		uint32_t ip;
		int prefix;
		if (addr_cidr && skiff_netlink_parse_cidr(addr_cidr, &ip, &prefix) == 0)
			memcpy(mac + 2, &ip, 4);
		else
			skiff_random_bytes(mac + 2, 4);
		_cleanup_(nl_addr_putp) struct nl_addr *ll =
		    nl_addr_build(AF_LLC, mac, sizeof(mac));
		if (!ll)
			return -ENOMEM;
		rtnl_link_set_addr(nb, ll);
		r = nlerr(rtnl_link_add(sk, nb, NLM_F_CREATE | NLM_F_EXCL));
		if (r < 0 && r != -EEXIST)
			return r;
		r = link_get(sk, name, &l);
	}
	if (r < 0)
		return r;
	if (!rtnl_link_is_bridge(l))
		return -ENOTTY; /* a link of that name exists and is no bridge */
	r = link_set_up(sk, l);
	if (r < 0)
		return r;
	if (addr_cidr)
		return addr_add(sk, rtnl_link_get_ifindex(l), addr_cidr);
	return 0;
}

int skiff_netlink_link_delete(const char *name)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	int r;

	r = sock_open(&sk);
	if (r < 0)
		return r;
	l = rtnl_link_alloc();
	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	return nlerr(rtnl_link_delete(sk, l));
}

static int route_change(const char *cidr, const char *via, bool add)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *dst = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *gw = NULL;
	struct rtnl_nexthop *nh;
	uint32_t ip;
	int prefix, r;

	if (strcmp(cidr, "default") != 0 && skiff_netlink_parse_cidr(cidr, &ip, &prefix) < 0)
		return -EINVAL;
	if (skiff_netlink_parse_ip(via, &ip) < 0)
		return -EINVAL;
	r = nl_addr_parse(strcmp(cidr, "default") == 0 ? "0.0.0.0/0" : cidr, AF_INET, &dst);
	if (r < 0)
		return nlerr(r);
	r = nl_addr_parse(via, AF_INET, &gw);
	if (r < 0)
		return nlerr(r);
	r = sock_open(&sk);
	if (r < 0)
		return r;
	rt = rtnl_route_alloc();
	nh = rtnl_route_nh_alloc();
	if (!rt || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return -ENOMEM;
	}
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	r = rtnl_route_set_dst(rt, dst);
	if (r < 0) {
		rtnl_route_nh_free(nh);
		return nlerr(r);
	}
	rtnl_route_nh_set_gateway(nh, gw);
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
	if (add)
		return nlerr(rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_REPLACE));
	rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
	return nlerr(rtnl_route_delete(sk, rt, 0));
}

int skiff_netlink_route_replace(const char *cidr, const char *via)
{
	return route_change(cidr, via, true);
}

int skiff_netlink_route_delete(const char *cidr, const char *via)
{
	return route_change(cidr, via, false);
}

/* Run fn(arg) with the calling thread inside the network namespace of pid. */
static int in_netns(pid_t pid, int (*fn)(void *), void *arg)
{
	_cleanup_close_ int self = -EBADF, target = -EBADF;
	char path[64];
	int r;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return -errno;
	if (setns(target, CLONE_NEWNET) < 0)
		return -errno;
	r = fn(arg);
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* continuing in the wrong namespace would be worse */
	return r;
}

struct inner_args {
	const char *ctr_if, *addr_cidr, *gw;
};

static int configure_inside(void *p)
{
	struct inner_args *a = p;
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *lo = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *eth = NULL;
	int r;

	r = sock_open(&sk);
	if (r < 0)
		return r;
	r = link_get(sk, "lo", &lo);
	if (r < 0)
		return r;
	r = link_set_up(sk, lo);
	if (r < 0 || !a->ctr_if)
		return r;
	r = link_get(sk, a->ctr_if, &eth);
	if (r < 0)
		return r;
	if (a->addr_cidr) {
		r = addr_add(sk, rtnl_link_get_ifindex(eth), a->addr_cidr);
		if (r < 0)
			return r;
	}
	r = link_set_up(sk, eth);
	if (r < 0)
		return r;
	if (a->gw) {
		nl_socket_free(TAKE_PTR(sk));
		return skiff_netlink_route_replace("default", a->gw);
	}
	return 0;
}

int skiff_netlink_netns_lo_up(pid_t pid)
{
	struct inner_args a = { 0 };
	return in_netns(pid, configure_inside, &a);
}

int skiff_netlink_veth_into_netns(const char *host_if, const char *bridge, pid_t pid,
				  const char *ctr_if, const char *addr_cidr, const char *gw)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *veth = NULL;
	_cleanup_(rtnl_link_putp) struct rtnl_link *br = NULL;
	struct rtnl_link *peer;
	struct inner_args a = { ctr_if, addr_cidr, gw };
	int r;

	if (skiff_netlink_ifname_valid(host_if) < 0 || skiff_netlink_ifname_valid(ctr_if) < 0)
		return -EINVAL;
	r = sock_open(&sk);
	if (r < 0)
		return r;
	veth = rtnl_link_veth_alloc();
	if (!veth)
		return -ENOMEM;
	rtnl_link_set_name(veth, host_if);
	rtnl_link_set_flags(veth, IFF_UP);
	if (bridge) {
		r = link_get(sk, bridge, &br);
		if (r < 0)
			return r;
		rtnl_link_set_master(veth, rtnl_link_get_ifindex(br));
	}
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, ctr_if);
	rtnl_link_set_ns_pid(peer, pid);
	if (addr_cidr) {
		/* The MAC follows from the IP (02:42 + the IPv4 address, as
		 * Docker does): a container restarted with its pod's IP keeps
		 * its MAC, so the node's neighbour entry for it stays right. A
		 * random MAC would leave the node sending to the old one until
		 * the entry goes stale (15-45 s of silence after every restart). */
		uint32_t ip;
		int prefix;
		r = skiff_netlink_parse_cidr(addr_cidr, &ip, &prefix);
		if (r < 0) {
			rtnl_link_put(peer);
			return r;
		}
		uint8_t mac[6] = { 0x02, 0x42 };
		memcpy(mac + 2, &ip, 4); /* network order: 10.244.0.5 -> 0a:f4:00:05 */
		_cleanup_(nl_addr_putp) struct nl_addr *ll =
		    nl_addr_build(AF_LLC, mac, sizeof(mac));
		if (!ll) {
			rtnl_link_put(peer);
			return -ENOMEM;
		}
		rtnl_link_set_addr(peer, ll);
	}
	rtnl_link_put(peer); /* get_peer took a reference */
	r = nlerr(rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL));
	if (r < 0)
		return r;
	r = in_netns(pid, configure_inside, &a);
	if (r < 0)
		(void)skiff_netlink_link_delete(host_if);
	return r;
}
