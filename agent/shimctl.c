/* shimctl.c — how the agent talks to `skiff-runtime`: asynchronous child
 * processes watched by pidfd on the event loop (no SIGCHLD, no polling), the
 * shim's state JSON, and signals that are safe against pid reuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

extern char **environ;

#define SPAWN_OUT_MAX (64 * 1024)

struct spawn {
	pid_t pid;
	int pidfd;
	int out_fd, err_fd;
	struct event *ev_pid, *ev_out, *ev_err, *ev_timeout;
	char *out, *err;
	size_t out_len, err_len;
	spawn_done_fn done;
	void *userdata;
	bool shim;     /* spawn_shim: done at "OK" and EOF, not at exit */
	bool released; /* the shim said OK: only its reaping is left */
};

int pidfd_open_pid(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : fd;
}

int pidfd_signal(int pidfd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

static void spawn_free(struct spawn *s)
{
	if (!s)
		return;
	if (s->ev_pid)
		event_free(s->ev_pid);
	if (s->ev_out)
		event_free(s->ev_out);
	if (s->ev_err)
		event_free(s->ev_err);
	if (s->ev_timeout)
		event_free(s->ev_timeout);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->out_fd >= 0)
		close(s->out_fd);
	if (s->err_fd >= 0)
		close(s->err_fd);
	free(s->out);
	free(s->err);
	free(s);
}

/* Returns true at end of file. */
static bool drain(int fd, char **buf, size_t *len)
{
	char tmp[4096];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			return n == 0;
		size_t keep = (size_t)n;
		if (*len + keep > SPAWN_OUT_MAX)
			keep = SPAWN_OUT_MAX - *len;
		if (keep) {
			*buf = xrealloc(*buf, *len + keep + 1);
			memcpy(*buf + *len, tmp, keep);
			*len += keep;
			(*buf)[*len] = 0;
		}
	}
}

static void release(struct spawn *s);

static void on_out(evutil_socket_t fd, short what, void *arg)
{
	struct spawn *s = arg;
	(void)what;
	bool out = fd == s->out_fd;
	if (!drain(fd, out ? &s->out : &s->err, out ? &s->out_len : &s->err_len))
		return;
	/* end of file: no more events for it (the pidfd tells the exit) */
	event_del(out ? s->ev_out : s->ev_err);
	if (out && s->shim && s->out && strncmp(s->out, "OK ", 3) == 0)
		release(s);
}

static void finish(struct spawn *s, int status)
{
	drain(s->out_fd, &s->out, &s->out_len);
	drain(s->err_fd, &s->err, &s->err_len);
	spawn_done_fn done = s->done;
	void *ud = s->userdata;
	char *out = TAKE_PTR(s->out), *err = TAKE_PTR(s->err);
	spawn_free(s);
	done(status, out ? out : "", err ? err : "", ud);
	free(out);
	free(err);
}

/* Keep only the pidfd, to reap the shim when it ends: the rest of s goes. */
static void detach(struct spawn *s)
{
	s->released = true;
	event_free(TAKE_PTR(s->ev_out));
	event_free(TAKE_PTR(s->ev_err));
	if (s->ev_timeout)
		event_free(TAKE_PTR(s->ev_timeout));
	close(TAKE_FD(s->out_fd));
	close(TAKE_FD(s->err_fd));
	free(TAKE_PTR(s->out));
	free(TAKE_PTR(s->err));
	s->out_len = s->err_len = 0;
}

/* The shim started the container: report it, and detach. */
static void release(struct spawn *s)
{
	spawn_done_fn done = s->done;
	void *ud = s->userdata;
	_cleanup_free_ char *out = TAKE_PTR(s->out), *err = TAKE_PTR(s->err);

	detach(s);
	done(0, out, err ? err : "", ud);
}

static void on_exit_fd(evutil_socket_t fd, short what, void *arg)
{
	struct spawn *s = arg;
	int status = 0;
	(void)fd;
	(void)what;
	if (waitpid(s->pid, &status, WNOHANG) <= 0)
		return;
	if (s->released)
		spawn_free(s);
	else
		finish(s, status);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct spawn *s = arg;
	(void)fd;
	(void)what;
	pidfd_signal(s->pidfd, SIGKILL);
	waitpid(s->pid, NULL, 0);
	finish(s, -1);
}

int spawn_process(char *const argv[], const int *fds, int n_fds, bool new_session, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < n_fds; i++)
		if (fds[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, fds[i], i);
		else
			posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
							 i ? O_WRONLY : O_RDONLY, 0);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					    (new_session ? POSIX_SPAWN_SETSID : 0));
	r = -posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r < 0)
		return r;
	int pidfd = pidfd_open_pid(pid);
	if (pidfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return pidfd;
	}
	*ret_pid = pid;
	return pidfd;
}

static int spawn_child(struct event_base *base, char *const argv[], int timeout_ms, bool shim,
		       spawn_done_fn done, void *userdata, struct spawn **ret)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	pid_t pid;
	int r;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		r = -errno;
		close(out[0]);
		close(out[1]);
		return r;
	}
	/* a shim outlives us, in a session of its own: no terminal signal of
	 * ours must reach it */
	int fds[] = { -1, out[1], err[1] };
	int pidfd = spawn_process(argv, fds, 3, shim, &pid);
	close(out[1]);
	close(err[1]);
	if (pidfd < 0) {
		close(out[0]);
		close(err[0]);
		return pidfd;
	}

	struct spawn *s = xcalloc(1, sizeof(*s));
	s->pid = pid;
	s->out_fd = out[0];
	s->err_fd = err[0];
	s->done = done;
	s->userdata = userdata;
	s->shim = shim;
	s->pidfd = pidfd;
	skiff_fd_nonblock(s->out_fd, true);
	skiff_fd_nonblock(s->err_fd, true);
	s->ev_pid = event_new(base, s->pidfd, EV_READ, on_exit_fd, s);
	s->ev_out = event_new(base, s->out_fd, EV_READ | EV_PERSIST, on_out, s);
	s->ev_err = event_new(base, s->err_fd, EV_READ | EV_PERSIST, on_out, s);
	event_add(s->ev_pid, NULL);
	event_add(s->ev_out, NULL);
	event_add(s->ev_err, NULL);
	if (timeout_ms > 0) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		s->ev_timeout = evtimer_new(base, on_timeout, s);
		evtimer_add(s->ev_timeout, &tv);
	}
	if (ret)
		*ret = s;
	return 0;
}

int spawn_start(struct event_base *base, char *const argv[], int timeout_ms, spawn_done_fn done,
		void *userdata, struct spawn **ret)
{
	return spawn_child(base, argv, timeout_ms, false, done, userdata, ret);
}

int spawn_shim(struct event_base *base, char *const argv[], int timeout_ms, spawn_done_fn done,
	       void *userdata, struct spawn **ret)
{
	return spawn_child(base, argv, timeout_ms, true, done, userdata, ret);
}

struct call_child {
	pid_t pid;
	int pidfd;
	struct event *ev;
};

static void on_call_exit(evutil_socket_t fd, short what, void *arg)
{
	struct call_child *c = arg;
	(void)fd;
	(void)what;
	if (waitpid(c->pid, NULL, WNOHANG) <= 0)
		return;
	event_free(c->ev);
	close(c->pidfd);
	free(c);
}

int spawn_call(struct event_base *base, void (*fn)(void *), void (*done)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int pidfd = pidfd_open_pid(pid);
	if (pidfd < 0) { /* not watched: wait for it here */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		struct call_child *c = xcalloc(1, sizeof(*c));
		c->pid = pid;
		c->pidfd = pidfd;
		c->ev = event_new(base, pidfd, EV_READ | EV_PERSIST, on_call_exit, c);
		event_add(c->ev, NULL);
	}
	done(arg);
	return 0;
}

void spawn_cancel(struct spawn *s)
{
	if (!s)
		return;
	if (s->shim) {
		detach(s);
		return;
	}
	pidfd_signal(s->pidfd, SIGKILL);
	waitpid(s->pid, NULL, 0);
	spawn_free(s);
}

/* A flat JSON object reader for the shim's state file: string, number,
 * boolean and null values; nested values are skipped. */
static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p, char *buf, size_t len)
{
	size_t n = 0;
	if (*p != '"')
		return NULL;
	p++;
	while (*p && *p != '"') {
		char c = *p++;
		if (c == '\\') {
			c = *p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				for (int i = 0; i < 4; i++)
					if (!*p++)
						return NULL;
				c = '?';
				break;
			case 0:
				return NULL;
			default:
				break;
			}
		}
		if (buf && n + 1 < len)
			buf[n++] = c;
	}
	if (*p != '"')
		return NULL;
	if (buf && len)
		buf[n] = 0;
	return p + 1;
}

static const char *json_skip_value(const char *p)
{
	int depth = 0;
	do {
		p = json_ws(p);
		if (*p == '"') {
			p = json_string(p, NULL, 0);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		else if (!*p)
			return NULL;
		else if (depth == 0 && (*p == ',' || *p == '}'))
			return p;
		p++;
	} while (depth > 0 || (*p != ',' && *p != '}' && *p));
	return p;
}

int shim_state_parse(const char *json, struct shim_state *ret)
{
	struct shim_state st = { .layer_bytes = -1, .layer_free = -1 };
	const char *p = json_ws(json);
	char key[64], sval[256];

	if (*p != '{')
		return -EBADMSG;
	p = json_ws(p + 1);
	while (*p && *p != '}') {
		p = json_string(p, key, sizeof(key));
		if (!p)
			return -EBADMSG;
		p = json_ws(p);
		if (*p != ':')
			return -EBADMSG;
		p = json_ws(p + 1);
		bool is_str = false, bval = false;
		int64_t num = 0;
		if (*p == '"') {
			p = json_string(p, sval, sizeof(sval));
			if (!p)
				return -EBADMSG;
			is_str = true;
		} else if (skiff_startswith(p, "true")) {
			bval = true;
			p += 4;
		} else if (skiff_startswith(p, "false")) {
			p += 5;
		} else if (skiff_startswith(p, "null")) {
			p += 4;
		} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
			char *end;
			num = strtoll(p, &end, 10);
			p = end;
			while (*p == '.' || (*p >= '0' && *p <= '9') || *p == 'e' || *p == 'E' ||
			       *p == '+' || *p == '-')
				p++;
		} else {
			p = json_skip_value(p);
			if (!p)
				return -EBADMSG;
		}
		if (is_str) {
			if (streq(key, "status"))
				copy_str(st.status, sizeof(st.status), sval);
			else if (streq(key, "reason"))
				copy_str(st.reason, sizeof(st.reason), sval);
			else if (streq(key, "ip"))
				copy_str(st.ip, sizeof(st.ip), sval);
		} else if (streq(key, "pid"))
			st.pid = (pid_t)num;
		else if (streq(key, "shim_pid"))
			st.shim_pid = (pid_t)num;
		else if (streq(key, "started_ms"))
			st.started_ms = num;
		else if (streq(key, "finished_ms"))
			st.finished_ms = num;
		else if (streq(key, "exit_code"))
			st.exit_code = (int)num;
		else if (streq(key, "signal"))
			st.signal = (int)num;
		else if (streq(key, "oom"))
			st.oom = bval;
		else if (streq(key, "layer_bytes"))
			st.layer_bytes = num;
		else if (streq(key, "layer_free"))
			st.layer_free = num;
		p = json_ws(p);
		if (*p == ',')
			p = json_ws(p + 1);
		else if (*p != '}')
			return -EBADMSG;
	}
	if (*p != '}' || !st.status[0])
		return -EBADMSG;
	*ret = st;
	return 0;
}

int shim_state_read(struct agent *a, const char *id, struct shim_state *ret)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/state", a->containers_dir, id);
	_cleanup_free_ char *data = NULL;
	int r = skiff_read_file(path, 64 * 1024, &data, NULL);
	if (r < 0)
		return r;
	return shim_state_parse(data, ret);
}

static void on_delete_done(int status, const char *out, const char *err, void *userdata)
{
	char *id = userdata;
	(void)out;
	if (status != 0)
		log_debug("skiff-runtime delete %s: status %d: %s", id, status, err);
	free(id);
}

void shim_delete(struct agent *a, const char *id)
{
	char *argv[] = { a->cfg.runtime, "delete",   "--state", a->containers_dir,
			 "--force",	 (char *)id, NULL };
	char *copy = xstrdup(id);
	if (spawn_start(a->base, argv, 30000, on_delete_done, copy, NULL) < 0)
		free(copy);
}
