/* probes.c — liveness and readiness probes of a running container.
 *
 *   exec:    nsenter into the container's namespaces and root (a forked child,
 *            watched by pidfd like every child of the agent); exit 0 passes
 *   tcpSocket: a connect to POD_IP:PORT from the node succeeds
 *   httpGet: GET PATH from POD_IP:PORT answers 200..399
 *
 * Each probe runs every period_ms after initial_delay_ms, bounded by
 * timeout_ms; each check's result goes to the core (core_probe_check), which
 * counts failure_threshold failures / success_threshold successes in a row,
 * kills the container on a failed liveness probe and sets readiness.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#define NSENTER "/usr/bin/nsenter"

struct probe {
	struct agent_container *ctr;
	bool liveness;
	const Skiff__Probe *cfg; /* points into the pod's spec */
	struct event *ev_tick;
	/* one check in flight */
	struct spawn *exec;
	int sock;
	struct event *ev_sock;
	struct event *ev_timeout;
	bool sent;
	char buf[512];
	size_t len;
};

static int cfg_or(int v, int def)
{
	return v > 0 ? v : def;
}

static void probe_schedule(struct probe *pr, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(pr->ev_tick, &tv);
}

static void check_clear(struct probe *pr)
{
	spawn_cancel(pr->exec);
	pr->exec = NULL;
	if (pr->ev_sock) {
		event_free(pr->ev_sock);
		pr->ev_sock = NULL;
	}
	if (pr->ev_timeout)
		evtimer_del(pr->ev_timeout);
	if (pr->sock >= 0)
		close(pr->sock);
	pr->sock = -EBADF;
	pr->sent = false;
	pr->len = 0;
}

static void check_done(struct probe *pr, bool ok, const char *why)
{
	struct agent_container *p = pr->ctr;
	check_clear(pr);
	core_probe_check(p, pr->liveness, ok, why);
	/* a failed liveness probe has killed the container: its exit stops the
	 * probes, not this */
	if (p->state == POD_RUNNING && (p->liveness == pr || p->readiness == pr))
		probe_schedule(pr, cfg_or(pr->cfg->period_ms, 10000));
}

static void on_exec_done(int status, const char *out, const char *err, void *userdata)
{
	struct probe *pr = userdata;
	(void)out;
	pr->exec = NULL;
	if (status == 0) {
		check_done(pr, true, "");
		return;
	}
	char why[256];
	if (status == -1)
		snprintf(why, sizeof(why), "exec timed out");
	else if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exec exited with %d%s%.*s", WEXITSTATUS(status),
			 err[0] ? ": " : "", (int)strcspn(err, "\n"), err);
	else
		snprintf(why, sizeof(why), "exec killed by signal %d", WTERMSIG(status));
	check_done(pr, false, why);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	check_done(arg, false, "timed out");
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct probe *pr = arg;
	(void)what;
	if (!pr->sent) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			char why[128];
			snprintf(why, sizeof(why), "connect: %s", strerror(err));
			check_done(pr, false, why);
			return;
		}
		if (pr->cfg->tcp_socket) {
			check_done(pr, true, "");
			return;
		}
		const char *path = pr->cfg->http_get->path[0] ? pr->cfg->http_get->path : "/";
		_cleanup_free_ char *req =
		    xasprintf("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: skiff-agent\r\n\r\n",
			      path, pr->ctr->pod->ip);
		if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
			check_done(pr, false, "cannot send the request");
			return;
		}
		pr->sent = true;
		event_free(pr->ev_sock);
		pr->ev_sock =
		    event_new(pr->ctr->agent->base, fd, EV_READ | EV_PERSIST, on_sock, pr);
		event_add(pr->ev_sock, NULL);
		return;
	}
	ssize_t n = read(fd, pr->buf + pr->len, sizeof(pr->buf) - 1 - pr->len);
	if (n > 0)
		pr->len += (size_t)n;
	pr->buf[pr->len] = 0;
	char *eol = strstr(pr->buf, "\r\n");
	if (!eol && n > 0 && pr->len < sizeof(pr->buf) - 1)
		return;
	int code = 0;
	if (sscanf(pr->buf, "HTTP/%*d.%*d %d", &code) != 1) {
		check_done(pr, false, n < 0 ? "read failed" : "no HTTP status line");
		return;
	}
	char why[64];
	snprintf(why, sizeof(why), "HTTP status %d", code);
	check_done(pr, code >= 200 && code < 400, why);
}

static void run_check(struct probe *pr)
{
	struct agent_container *p = pr->ctr;
	struct agent *a = p->agent;
	const Skiff__Probe *c = pr->cfg;
	int timeout = cfg_or(c->timeout_ms, 1000);

	check_clear(pr);
	if (c->exec && c->exec->n_command) {
		size_t n = c->exec->n_command;
		char **argv = xcalloc(n + 16, sizeof(char *));
		char pid[32];
		size_t k = 0;
		snprintf(pid, sizeof(pid), "%d", p->pid);
		argv[k++] = NSENTER;
		argv[k++] = "-t";
		argv[k++] = pid;
		argv[k++] = "-m";
		argv[k++] = "-u";
		argv[k++] = "-i";
		argv[k++] = "-n";
		argv[k++] = "-p";
		argv[k++] = "-r";
		argv[k++] = "-w";
		argv[k++] = "--";
		for (size_t i = 0; i < n; i++)
			argv[k++] = c->exec->command[i];
		argv[k] = NULL;
		int r = spawn_start(a->base, argv, timeout, on_exec_done, pr, &pr->exec);
		free(argv);
		if (r < 0)
			check_done(pr, false, "cannot run nsenter");
		return;
	}
	uint32_t port = c->tcp_socket ? c->tcp_socket->port : c->http_get ? c->http_get->port : 0;
	if (!port || !p->pod->ip[0]) {
		check_done(pr, false, !port ? "probe has no port" : "pod has no IP");
		return;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, p->pod->ip, &sa.sin_addr);
	pr->sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pr->sock < 0) {
		check_done(pr, false, "socket failed");
		return;
	}
	if (connect(pr->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		char why[128];
		snprintf(why, sizeof(why), "connect: %s", strerror(errno));
		check_done(pr, false, why);
		return;
	}
	pr->ev_sock = event_new(a->base, pr->sock, EV_WRITE, on_sock, pr);
	event_add(pr->ev_sock, NULL);
	struct timeval tv = { timeout / 1000, (timeout % 1000) * 1000 };
	evtimer_add(pr->ev_timeout, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct probe *pr = arg;
	(void)fd;
	(void)what;
	if (pr->ctr->state == POD_RUNNING)
		run_check(pr);
}

static struct probe *probe_new(struct agent_container *p, const Skiff__Probe *cfg, bool liveness)
{
	if (!cfg || (!cfg->exec && !cfg->tcp_socket && !cfg->http_get))
		return NULL;
	struct probe *pr = xcalloc(1, sizeof(*pr));
	pr->ctr = p;
	pr->cfg = cfg;
	pr->liveness = liveness;
	pr->sock = -EBADF;
	pr->ev_tick = evtimer_new(p->agent->base, on_tick, pr);
	pr->ev_timeout = evtimer_new(p->agent->base, on_timeout, pr);
	probe_schedule(pr, cfg->initial_delay_ms > 0 ? cfg->initial_delay_ms : 0);
	return pr;
}

static void probe_free(struct probe *pr)
{
	if (!pr)
		return;
	check_clear(pr);
	event_free(pr->ev_tick);
	event_free(pr->ev_timeout);
	free(pr);
}

void probes_start(struct agent_container *p)
{
	probes_stop(p);
	Skiff__PodSpec *ps = p->pod->spec->spec;
	Skiff__Container *c = (size_t)p->ci < ps->n_containers ? ps->containers[p->ci] : NULL;
	if (!c)
		return;
	p->liveness = probe_new(p, c->liveness_probe, true);
	p->readiness = probe_new(p, c->readiness_probe, false);
}

void probes_stop(struct agent_container *p)
{
	probe_free(p->liveness);
	probe_free(p->readiness);
	p->liveness = p->readiness = NULL;
}
