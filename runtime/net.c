/* net.c — the container's network: none (own namespace, lo only), host (the
 * host's namespace), ns:PATH (join the network namespace of a file such as
 * /proc/PID/ns/net or a bind-mounted one: the containers of one pod share it)
 * or bridge:BR,ip=CIDR,gw=IP (own namespace with a veth
 * pair whose host end joins bridge BR, created with address gw/prefix if
 * absent). Everything goes through lib/netlink (libnl-route).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "cleanup.h"
#include "netlink.h"
#include "runtime.h"
#include "util.h"

int skiff_net_parse(const char *spec, struct skiff_config *c, char **ret_errmsg)
{
	uint32_t a;
	int prefix;

	if (strcmp(spec, "none") == 0) {
		c->net = SKIFF_NET_NONE;
		return 0;
	}
	if (strcmp(spec, "host") == 0) {
		c->net = SKIFF_NET_HOST;
		return 0;
	}
	if (strncmp(spec, "ns:", 3) == 0) {
		if (spec[3] != '/') {
			*ret_errmsg = xasprintf("--net '%s': ns:PATH needs an absolute path to a "
						"network namespace file (e.g. /proc/PID/ns/net)",
						spec);
			return -EINVAL;
		}
		free(c->netns_path);
		c->netns_path = xstrdup(spec + 3);
		c->net = SKIFF_NET_NS;
		return 0;
	}
	if (strncmp(spec, "bridge:", 7) != 0) {
		*ret_errmsg = xasprintf("--net '%s': expected none, host, ns:PATH or "
					"bridge:BRIDGE,ip=CIDR[,gw=IP]",
					spec);
		return -EINVAL;
	}
	_cleanup_free_ char *copy = xstrdup(spec + 7);
	char *save = NULL;
	char *br = strtok_r(copy, ",", &save);
	if (!br || skiff_netlink_ifname_valid(br) < 0) {
		*ret_errmsg =
		    xasprintf("--net: bridge name '%s' is invalid or too long (at most %d "
			      "characters)",
			      br ? br : "", SKIFF_IFNAMSIZ - 1);
		return -EINVAL;
	}
	free(c->bridge);
	c->bridge = xstrdup(br);
	for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (strncmp(kv, "ip=", 3) == 0) {
			if (skiff_netlink_parse_cidr(kv + 3, &a, &prefix) < 0) {
				*ret_errmsg = xasprintf("--net: ip '%s' is not an IPv4 CIDR like "
							"10.244.1.5/24",
							kv + 3);
				return -EINVAL;
			}
			free(c->ip_cidr);
			c->ip_cidr = xstrdup(kv + 3);
		} else if (strncmp(kv, "gw=", 3) == 0) {
			if (skiff_netlink_parse_ip(kv + 3, &a) < 0) {
				*ret_errmsg =
				    xasprintf("--net: gw '%s' is not an IPv4 address", kv + 3);
				return -EINVAL;
			}
			free(c->gw);
			c->gw = xstrdup(kv + 3);
		} else {
			*ret_errmsg = xasprintf("--net: unknown bridge option '%s' (ip=, gw=)", kv);
			return -EINVAL;
		}
	}
	if (!c->ip_cidr) {
		*ret_errmsg = xasprintf("--net %s: ip=CIDR is required", spec);
		return -EINVAL;
	}
	c->net = SKIFF_NET_BRIDGE;
	return 0;
}

char *skiff_net_host_ifname(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return xasprintf("sk%012llx", (unsigned long long)(h & 0xffffffffffffULL));
}

int skiff_net_open_ns(const struct skiff_config *c)
{
	int fd = open(c->netns_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int skiff_net_prepare(const struct skiff_config *c)
{
	_cleanup_free_ char *addr = NULL;
	uint32_t a;
	int prefix;

	if (c->net == SKIFF_NET_NS) {
		int fd = skiff_net_open_ns(c);
		if (fd < 0)
			return fd;
		close(fd);
		return 0;
	}

	if (c->net != SKIFF_NET_BRIDGE)
		return 0;
	if (c->gw && skiff_netlink_parse_cidr(c->ip_cidr, &a, &prefix) >= 0)
		addr = xasprintf("%s/%d", c->gw, prefix);
	return skiff_netlink_bridge_ensure(c->bridge, addr);
}

int skiff_net_attach(const struct skiff_config *c, pid_t pid)
{
	_cleanup_free_ char *host_if = NULL;

	if (c->net != SKIFF_NET_BRIDGE)
		return 0;
	host_if = skiff_net_host_ifname(c->id);
	return skiff_netlink_veth_into_netns(host_if, c->bridge, pid, "eth0", c->ip_cidr, c->gw);
}

int skiff_net_detach(const struct skiff_config *c)
{
	_cleanup_free_ char *host_if = NULL;
	int r;

	if (c->net != SKIFF_NET_BRIDGE)
		return 0;
	host_if = skiff_net_host_ifname(c->id);
	r = skiff_netlink_link_delete(host_if);
	return r == -ENODEV ? 0 : r;
}
