/* endpoints.c — the per-pod endpoints directory and the service environment.
 *
 * STATE/pods/<uid>/endpoints/ is bind-mounted read-only at
 * /etc/skiff/endpoints in the pod's container. It holds one file per service,
 * named after the service, with one "IP:PORT" line per ready endpoint. A file
 * is only rewritten when its content changes, and always atomically (temporary
 * file + rename in that directory), so a program reading it never sees half a
 * list. The directory is bind-mounted (not the files), so renames show inside.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

char *endpoints_dir(struct agent *a, const char *uid)
{
	_cleanup_free_ char *dir = state_pod_dir(a, uid);
	return xasprintf("%s/endpoints", dir);
}

static bool service_name_ok(const char *n)
{
	return n && n[0] && n[0] != '.' && !strchr(n, '/') && strlen(n) < 200;
}

static char *render(const Skiff__Service *svc)
{
	size_t cap = 64, len = 0;
	char *out = xmalloc(cap);
	out[0] = 0;
	if (!svc->status)
		return out;
	for (size_t i = 0; i < svc->status->n_endpoints; i++) {
		const Skiff__Endpoint *e = svc->status->endpoints[i];
		if (!e->ready || !e->ip[0])
			continue;
		char line[128];
		int n = snprintf(line, sizeof(line), "%s:%u\n", e->ip, e->port);
		if (n <= 0 || (size_t)n >= sizeof(line))
			continue;
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, line, (size_t)n + 1);
		len += (size_t)n;
	}
	return out;
}

/* temp file + rename inside dir; no fsync: the brain resends the content */
static int write_replace(const char *dir, const char *name, const char *data)
{
	_cleanup_free_ char *tmp = xasprintf("%s/.%s.tmp", dir, name);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = skiff_write_full(fd, data, strlen(data));
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* A pod sees the services of its own namespace (a brain before namespaces
 * sends none: "default"). */
static bool svc_for(const Skiff__Service *svc, const char *ns)
{
	const char *sns = svc->metadata && svc->metadata->namespace_ && *svc->metadata->namespace_
			      ? svc->metadata->namespace_
			      : "default";
	return svc->metadata && streq(sns, ns && *ns ? ns : "default");
}

int endpoints_write(struct agent *a, struct agent_pod *pod)
{
	_cleanup_free_ char *dir = endpoints_dir(a, pod->uid);
	int r = skiff_mkdir_p(dir, 0755);
	if (r < 0)
		return log_warn_errno(r, "cannot create %s: %m", dir);
	if (!a->assignment)
		return 0; /* keep what the last run wrote until the brain speaks */

	for (size_t i = 0; i < a->assignment->n_services; i++) {
		const Skiff__Service *svc = a->assignment->services[i];
		if (!svc_for(svc, pod->ns) || !service_name_ok(svc->metadata->name))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, svc->metadata->name);
		_cleanup_free_ char *want = render(svc), *have = NULL;
		if (skiff_read_file(path, 1 << 20, &have, NULL) >= 0 && streq(have, want))
			continue;
		r = write_replace(dir, svc->metadata->name, want);
		if (r < 0)
			log_warn_errno(r, "cannot write %s: %m", path);
	}
	/* services that are gone */
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		bool found = false;
		for (size_t i = 0; i < a->assignment->n_services && !found; i++) {
			const Skiff__Service *svc = a->assignment->services[i];
			found = svc_for(svc, pod->ns) && streq(svc->metadata->name, de->d_name);
		}
		if (!found)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	return 0;
}

char **endpoints_service_env(struct agent *a, const char *ns)
{
	size_t n = a->assignment ? a->assignment->n_services : 0;
	char **env = xcalloc(2 * n + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const Skiff__Service *svc = a->assignment->services[i];
		if (!svc_for(svc, ns) || !service_name_ok(svc->metadata->name))
			continue;
		_cleanup_free_ char *up = xstrdup(svc->metadata->name);
		for (char *c = up; *c; c++) {
			if (*c == '-' || *c == '.')
				*c = '_';
			else if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		}
		if (svc->spec && svc->spec->n_ports)
			env[k++] = xasprintf("%s_SERVICE_PORT=%u", up, svc->spec->ports[0]->port);
		env[k++] = xasprintf("%s_SERVICE_ENDPOINTS=/etc/skiff/endpoints/%s", up,
				     svc->metadata->name);
	}
	env[k] = NULL;
	return env;
}
