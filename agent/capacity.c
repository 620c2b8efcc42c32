/* capacity.c — what this node offers, as REGISTER reports it: CPUs in the
 * agent's affinity mask, and memory (MemTotal, capped by the agent's own
 * cgroup memory limit). */
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"

uint64_t agent_capacity_cpu_milli(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1000;
	return (uint64_t)CPU_COUNT(&set) * 1000;
}

int64_t agent_capacity_memory(void)
{
	int64_t mem = 0;
	_cleanup_free_ char *data = NULL;
	if (skiff_read_file("/proc/meminfo", 1 << 16, &data, NULL) >= 0) {
		const char *p = strstr(data, "MemTotal:");
		if (p)
			mem = strtoll(p + 9, NULL, 10) * 1024;
	}
	/* a memory limit on the agent's own cgroup (v2 or v1) caps it further */
	_cleanup_free_ char *cg = NULL;
	if (skiff_read_file("/proc/self/cgroup", 1 << 16, &cg, NULL) >= 0) {
		char *save = NULL;
		for (char *line = strtok_r(cg, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			/* "0::/path" (v2) or "N:memory:/path" (v1) */
			char *ctrl = strchr(line, ':');
			char *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
			if (!path)
				continue;
			*path++ = 0;
			ctrl++;
			_cleanup_free_ char *file = NULL;
			if (!ctrl[0])
				file = xasprintf("/sys/fs/cgroup%s/memory.max", path);
			else if (strstr(ctrl, "memory"))
				file = xasprintf("/sys/fs/cgroup/memory%s/memory.limit_in_bytes",
						 path);
			_cleanup_free_ char *l = NULL;
			if (!file || skiff_read_file(file, 64, &l, NULL) < 0)
				continue;
			int64_t v = strtoll(l, NULL, 10); /* "max" reads as 0 */
			if (v > 0 && v < mem)
				mem = v;
		}
	}
	return mem;
}
