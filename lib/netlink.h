/* netlink.h — the node networking Skiff needs, through libnl-route (never
 * iproute2 subprocesses): bridges, veth pairs into a container's network
 * namespace with address, routes and default gateway, routes "CIDR via IP"
 * and link deletion. Used by skiff-runtime (per container) and skiff-agent
 * (node bridge and routes to other nodes' pod subnets).
 *
 * Every function returns 0 (or a documented positive value) or -errno and
 * logs nothing: the caller decides. Addresses are IPv4 text.
 */
#ifndef SKIFF_NETLINK_H
#define SKIFF_NETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SKIFF_IFNAMSIZ 16 /* including the NUL, as IFNAMSIZ */

/* Parse "A.B.C.D/N" (N 0..32): -EINVAL when malformed. */
int skiff_netlink_parse_cidr(const char *s, uint32_t *ret_addr_be, int *ret_prefix);
/* Parse "A.B.C.D". */
int skiff_netlink_parse_ip(const char *s, uint32_t *ret_addr_be);
/* -EINVAL unless 1..15 chars without '/', whitespace or ':'. */
int skiff_netlink_ifname_valid(const char *name);

/* 1 if a link with that name exists in the current namespace, 0 if not. */
int skiff_netlink_link_exists(const char *name);
/* Make sure bridge NAME exists, carries addr_cidr (may be NULL) and is up. */
int skiff_netlink_bridge_ensure(const char *name, const char *addr_cidr);
/* Delete a link (and, for a veth, its peer). -ENODEV if absent. */
int skiff_netlink_link_delete(const char *name);
/* Bring a link up in the current namespace. */
int skiff_netlink_link_up(const char *name);

/* Create veth pair host_if <-> ctr_if with ctr_if in the network namespace
 * of pid; attach host_if to bridge (may be NULL) and bring it up; then, inside
 * the namespace, bring lo and ctr_if up, add addr_cidr to ctr_if and a default
 * route via gw (may be NULL). With addr_cidr, ctr_if's MAC is 02:42 and the
 * IPv4 address (stable across restarts with the same IP, as Docker does).
 * On failure nothing is left behind. */
int skiff_netlink_veth_into_netns(const char *host_if, const char *bridge, pid_t pid,
				  const char *ctr_if, const char *addr_cidr, const char *gw);

/* Bring lo up inside the network namespace of pid. */
int skiff_netlink_netns_lo_up(pid_t pid);

/* Routes in the current namespace: "10.244.2.0/24 via 10.77.0.12". */
int skiff_netlink_route_replace(const char *cidr, const char *via);
int skiff_netlink_route_delete(const char *cidr, const char *via);

#endif
