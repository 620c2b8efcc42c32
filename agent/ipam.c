/* ipam.c — pod IPs from the node's pod CIDR (an IPv4 prefix, /16 to /30).
 *
 * .1 (the first host address) is the node bridge's gateway. An address is
 * taken by a pod for its whole life (across container restarts) and is
 * persisted in the pod's run file, so the allocation table is rebuilt from
 * the pods the agent re-adopts; nothing else needs storing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "util.h"

static int parse_cidr(const char *cidr, uint32_t *ret_net, int *ret_prefix)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", cidr);
	char *slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	int prefix = atoi(slash + 1);
	struct in_addr in;
	if (inet_pton(AF_INET, buf, &in) != 1 || prefix < 16 || prefix > 30)
		return -EINVAL;
	uint32_t mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
	*ret_net = ntohl(in.s_addr) & mask;
	*ret_prefix = prefix;
	return 0;
}

static void fmt_ip(uint32_t ip, char *buf, size_t len)
{
	struct in_addr in = { htonl(ip) };
	inet_ntop(AF_INET, &in, buf, (socklen_t)len);
}

int ipam_gateway(const char *cidr, char *ret_gw, size_t len, int *ret_prefix)
{
	uint32_t net;
	int r = parse_cidr(cidr, &net, ret_prefix);
	if (r < 0)
		return r;
	fmt_ip(net + 1, ret_gw, len);
	return 0;
}

int ipam_allocate(struct agent *a, struct agent_pod *self, char *ret_ip, size_t len)
{
	uint32_t net;
	int prefix;
	int r = parse_cidr(a->pod_cidr, &net, &prefix);
	if (r < 0)
		return r;
	uint32_t size = 1u << (32 - prefix);
	/* Start after the last allocation to avoid handing a just-freed
	 * address to a new pod at once. */
	for (uint32_t i = 0; i < size - 3; i++) {
		uint32_t host = 2 + (a->ipam_next + i) % (size - 3);
		char buf[64];
		fmt_ip(net + host, buf, sizeof(buf));
		bool used = false;
		for (struct agent_pod *p = a->pods; p; p = p->next)
			if (p != self && streq(p->ip, buf)) {
				used = true;
				break;
			}
		if (!used) {
			a->ipam_next = host - 1;
			snprintf(ret_ip, len, "%s", buf);
			return prefix;
		}
	}
	return -ENOSPC;
}
