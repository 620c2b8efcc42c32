/* routes.c — node networking: the node bridge skiff0 carrying the pod CIDR's
 * gateway address (.1), IPv4 forwarding, and one route per other node's pod
 * subnet via that node's address (host-gateway style), kept in step with the
 * Assignment as nodes come and go. All through lib/netlink.h (libnl-route).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "netlink.h"
#include "util.h"

int routes_setup_bridge(struct agent *a)
{
	char gw[64];
	int prefix;
	int r = ipam_gateway(a->pod_cidr, gw, sizeof(gw), &prefix);
	if (r < 0)
		return log_error_errno(r, "pod CIDR '%s' from the brain is not an IPv4 /16../30",
				       a->pod_cidr);
	_cleanup_free_ char *addr = xasprintf("%s/%d", gw, prefix);
	r = skiff_netlink_bridge_ensure(AGENT_BRIDGE, addr);
	if (r < 0)
		return log_error_errno(r, "cannot set up bridge %s with %s: %m", AGENT_BRIDGE,
				       addr);
	/* pods on other nodes reach ours through this node */
	r = skiff_write_file_atomic("/proc/sys/net/ipv4/ip_forward", "1\n", 2, 0644);
	if (r < 0) {
		FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "we");
		if (f) {
			fputs("1\n", f);
			fclose(f);
		}
	}
	a->net_ready = true;
	log_info("node bridge %s up with %s", AGENT_BRIDGE, addr);
	return 0;
}

void routes_sync(struct agent *a)
{
	Skiff__Assignment *as = a->assignment;
	struct route *want = xcalloc(as->n_nodes + 1, sizeof(*want));
	size_t n_want = 0;

	for (size_t i = 0; i < as->n_nodes; i++) {
		const Skiff__Node *n = as->nodes[i];
		if (!n->metadata || streq(n->metadata->name, a->cfg.name) || !n->spec ||
		    !n->status || !n->spec->pod_cidr[0] || !n->status->address[0])
			continue;
		snprintf(want[n_want].cidr, sizeof(want[n_want].cidr), "%s", n->spec->pod_cidr);
		snprintf(want[n_want].via, sizeof(want[n_want].via), "%s", n->status->address);
		n_want++;
	}
	for (size_t i = 0; i < a->n_routes; i++) {
		bool keep = false;
		for (size_t j = 0; j < n_want && !keep; j++)
			keep = streq(a->routes[i].cidr, want[j].cidr) &&
			       streq(a->routes[i].via, want[j].via);
		if (!keep) {
			int r = skiff_netlink_route_delete(a->routes[i].cidr, a->routes[i].via);
			if (r < 0 && r != -ESRCH && r != -ENOENT)
				log_warn_errno(r, "cannot delete route %s via %s: %m",
					       a->routes[i].cidr, a->routes[i].via);
			else
				log_info("route %s via %s removed", a->routes[i].cidr,
					 a->routes[i].via);
		}
	}
	size_t n_ok = 0;
	for (size_t j = 0; j < n_want; j++) {
		bool had = false;
		for (size_t i = 0; i < a->n_routes && !had; i++)
			had = streq(a->routes[i].cidr, want[j].cidr) &&
			      streq(a->routes[i].via, want[j].via);
		int r = skiff_netlink_route_replace(want[j].cidr, want[j].via);
		if (r < 0) {
			log_warn_errno(r, "cannot add route %s via %s: %m", want[j].cidr,
				       want[j].via);
			continue;
		}
		if (!had)
			log_info("route %s via %s", want[j].cidr, want[j].via);
		want[n_ok++] = want[j];
	}
	free(a->routes);
	a->routes = want;
	a->n_routes = n_ok;
}
