/* exec.c — MSG_AGENT_EXEC: run a command in a running container of a pod
 * (`skiffctl exec`) through `skiff-runtime exec`, and stream its stdout and
 * stderr back as ExecOutput items while it runs, then one item with its exit
 * code.
 *
 * The runtime's own errors (container not running, cannot join it) arrive on
 * a separate pipe (--error-fd 3) and end the stream with an error; "command
 * not found" (127) and "cannot execute" (126) are the command's result, sent
 * on its stderr with the code, as `docker exec` does. stdin is a pipe fed
 * by MSG_AGENT_EXEC_INPUT frames as they come (stdin_stream; at most 16 MiB
 * waiting), the request's bytes in a memfd (has_stdin), or /dev/null. A
 * timeout, the brain cancelling the stream (skiffctl went away) and the
 * agent's own death all send SIGTERM to the runtime, which kills the command's process group (SIGKILL 2 s later); the
 * agent adds SIGKILL 5 s later. While the brain connection's output queue is
 * long, the pipes are not read, so a fast command waits for a slow reader
 * instead of filling the agent's memory.
 *
 * tty (`skiffctl exec -t`): the runtime gets `--tty [--rows R --cols C]
 * --resize-fd 4`; the command's output is one stream (the pty's, fd 1) and
 * each MSG_AGENT_EXEC_INPUT with resize set becomes a "ROWS COLS\n" line on
 * the pipe at fd 4, which the runtime applies to the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "agent.h"
#include "cleanup.h"
#include "log.h"
#include "rpc.h"
#include "util.h"

#define EXEC_CHUNK	      (32 * 1024)
#define EXEC_MAX_PENDING      (4u << 20) /* brain connection bytes queued before we pause */
#define EXEC_KILL_AFTER_MS    5000
#define EXEC_ERROR_MAX	      4096
#define EXEC_RESUME_AFTER_MS  20
#define EXEC_STDIN_MAX_QUEUED (16u << 20) /* stdin bytes the command has not read yet */

struct exec_run {
	struct exec_run *next;
	struct agent *agent;
	uint64_t id;   /* the MSG_AGENT_EXEC request's id (MSG_AGENT_EXEC_INPUT names it) */
	int in_fd;     /* streamed stdin: our end of the command's stdin pipe (-1: none) */
	int resize_fd; /* tty: our end of the runtime's --resize-fd pipe (-1: none) */
	struct evbuffer *in_buf;
	struct event *ev_in;
	bool in_eof;
	struct skiff_rpc_call *call; /* NULL once the brain cancelled */
	char *pod, *container;
	char container_id[192];
	pid_t pid;
	int pidfd;
	int fds[3]; /* stdout, stderr, runtime errors; -1 at EOF */
	struct event *ev_fd[3];
	struct event *ev_pid, *ev_timeout, *ev_kill, *ev_resume;
	char errors[EXEC_ERROR_MAX];
	size_t errors_len;
	int timeout_ms;
	bool paused;
	bool timed_out;
	bool stopping;
};

static void stdin_close(struct exec_run *x)
{
	if (x->ev_in)
		event_del(x->ev_in);
	if (x->in_fd >= 0)
		close(x->in_fd);
	x->in_fd = -1;
	if (x->in_buf)
		evbuffer_drain(x->in_buf, evbuffer_get_length(x->in_buf));
}

static void run_free(struct exec_run *x)
{
	for (struct exec_run **pp = &x->agent->exec_runs; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	stdin_close(x);
	if (x->ev_in)
		event_free(x->ev_in);
	if (x->in_buf)
		evbuffer_free(x->in_buf);
	for (int i = 0; i < 3; i++) {
		if (x->ev_fd[i])
			event_free(x->ev_fd[i]);
		if (x->fds[i] >= 0)
			close(x->fds[i]);
	}
	if (x->ev_pid)
		event_free(x->ev_pid);
	if (x->ev_timeout)
		event_free(x->ev_timeout);
	if (x->ev_kill)
		event_free(x->ev_kill);
	if (x->ev_resume)
		event_free(x->ev_resume);
	if (x->pidfd >= 0)
		close(x->pidfd);
	if (x->resize_fd >= 0)
		close(x->resize_fd);
	free(x->pod);
	free(x->container);
	free(x);
}

static int send_output(struct exec_run *x, int fd, const char *data, size_t len)
{
	Skiff__ExecOutput o = SKIFF__EXEC_OUTPUT__INIT;
	o.fd = fd;
	o.data.data = (uint8_t *)data;
	o.data.len = len;
	return skiff_rpc_call_stream(x->call, &o.base);
}

/* SIGTERM now (the runtime kills the command's group), SIGKILL later. */
static void stop(struct exec_run *x)
{
	if (x->stopping)
		return;
	x->stopping = true;
	pidfd_signal(x->pidfd, SIGTERM);
	struct timeval tv = { EXEC_KILL_AFTER_MS / 1000, 0 };
	event_add(x->ev_kill, &tv);
}

/* Read what fd i has (at most a few chunks per wake-up, so one busy
 * command does not starve the loop); forward it unless nobody listens. */
static void pump(struct exec_run *x, int i, bool to_end)
{
	char buf[EXEC_CHUNK];
	for (int rounds = 0; x->fds[i] >= 0 && (to_end || rounds < 4); rounds++) {
		ssize_t n = read(x->fds[i], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* EAGAIN */
		if (n == 0) {
			event_del(x->ev_fd[i]);
			close(x->fds[i]);
			x->fds[i] = -1;
			return;
		}
		if (i == 2) {
			size_t keep = (size_t)n;
			if (keep > sizeof(x->errors) - 1 - x->errors_len)
				keep = sizeof(x->errors) - 1 - x->errors_len;
			memcpy(x->errors + x->errors_len, buf, keep);
			x->errors_len += keep;
			continue;
		}
		if (x->call && send_output(x, i + 1, buf, (size_t)n) < 0) {
			/* the brain connection is gone: its cancel follows */
			stop(x);
			return;
		}
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg);

/* Stop reading the command's output while the brain has not taken what
 * we sent (its connection's queue is long). */
static void flow_control(struct exec_run *x)
{
	if (!x->call)
		return;
	struct skiff_rpc_conn *conn = skiff_rpc_call_conn(x->call);
	bool full = conn && skiff_rpc_conn_output_pending(conn) > EXEC_MAX_PENDING;
	if (full && !x->paused) {
		x->paused = true;
		for (int i = 0; i < 2; i++)
			if (x->fds[i] >= 0)
				event_del(x->ev_fd[i]);
	}
	if (x->paused) {
		struct timeval tv = { 0, EXEC_RESUME_AFTER_MS * 1000 };
		event_add(x->ev_resume, &tv);
	}
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *x = arg;
	(void)fd;
	(void)what;
	struct skiff_rpc_conn *conn = x->call ? skiff_rpc_call_conn(x->call) : NULL;
	if (conn && skiff_rpc_conn_output_pending(conn) > EXEC_MAX_PENDING) {
		struct timeval tv = { 0, EXEC_RESUME_AFTER_MS * 1000 };
		event_add(x->ev_resume, &tv);
		return;
	}
	x->paused = false;
	for (int i = 0; i < 2; i++)
		if (x->fds[i] >= 0)
			event_add(x->ev_fd[i], NULL);
}

static void on_fd(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *x = arg;
	(void)what;
	for (int i = 0; i < 3; i++)
		if (x->fds[i] == fd) {
			pump(x, i, false);
			break;
		}
	flow_control(x);
}

/* Write what the command has not read of its stdin; close it after eof. */
static void stdin_flush(struct exec_run *x)
{
	while (x->in_fd >= 0 && evbuffer_get_length(x->in_buf) > 0) {
		int n = evbuffer_write(x->in_buf, x->in_fd);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(x->ev_in, NULL);
			return;
		}
		if (n < 0) { /* EPIPE: the command closed its stdin */
			stdin_close(x);
			return;
		}
	}
	if (x->in_fd >= 0 && x->in_eof)
		stdin_close(x);
}

static void on_stdin_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stdin_flush(arg);
}

void exec_input(struct agent *a, const Skiff__Frame *request)
{
	Skiff__ExecInput *in =
	    skiff__exec_input__unpack(NULL, request->payload.len, request->payload.data);
	if (!in)
		return;
	struct exec_run *x = a->exec_runs;
	while (x && x->id != in->exec_id)
		x = x->next;
	if (x && in->resize && x->resize_fd >= 0 && in->rows > 0 && in->rows <= 65535 &&
	    in->cols > 0 && in->cols <= 65535) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%u %u\n", in->rows, in->cols);
		/* a full pipe (the runtime is not reading) drops a resize: the
		 * next one says the same */
		if (write(x->resize_fd, line, (size_t)n) < 0)
			log_debug("exec in pod %s: resize dropped: %m", x->pod);
	}
	if (x && x->in_fd >= 0) {
		if (evbuffer_get_length(x->in_buf) + in->data.len > EXEC_STDIN_MAX_QUEUED) {
			log_warn("exec in pod %s container %s: more than %u MiB of stdin not read "
				 "by the command; its stdin is closed",
				 x->pod, x->container, EXEC_STDIN_MAX_QUEUED >> 20);
			stdin_close(x);
		} else {
			evbuffer_add(x->in_buf, in->data.data, in->data.len);
			x->in_eof |= in->eof;
			stdin_flush(x);
		}
	}
	skiff__exec_input__free_unpacked(in, NULL);
}

/* The runtime's error line for people: "exec: command not found: 'x' in
 * container <id>: …" becomes "command not found: 'x' in pod P container C: …"
 * (with a newline; owned by the caller). */
static char *people_line(struct exec_run *x)
{
	const char *msg = skiff_startswith(x->errors, "exec: ") ? x->errors + 6 : x->errors;
	_cleanup_free_ char *needle = xasprintf("container %s", x->container_id);
	_cleanup_free_ char *who = xasprintf("pod %s container %s", x->pod, x->container);
	const char *at = strstr(msg, needle);
	if (!at) { /* some lines quote it: container 'ID' */
		free(needle);
		needle = xasprintf("container '%s'", x->container_id);
		at = strstr(msg, needle);
	}
	if (!at)
		return xasprintf("%s: %s\n", who, msg);
	return xasprintf("%.*s%s%s\n", (int)(at - msg), msg, who, at + strlen(needle));
}

static void on_exit_fd(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *x = arg;
	int status = 0;
	(void)fd;
	(void)what;
	if (waitpid(x->pid, &status, WNOHANG) <= 0)
		return;
	/* The runtime is gone: what is left in the pipes is the end of the
	 * output (a background child of the command may still hold them; we
	 * do not wait for it, as docker exec does not). */
	for (int i = 0; i < 3; i++) {
		skiff_fd_nonblock(x->fds[i], true);
		pump(x, i, true);
	}
	int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	struct skiff_rpc_call *call = TAKE_PTR(x->call);
	if (call) {
		skiff_rpc_call_set_cancel(call, NULL, NULL);
		while (x->errors_len > 0 && x->errors[x->errors_len - 1] == '\n')
			x->errors_len--;
		x->errors[x->errors_len] = 0;
		if (x->timed_out) {
			_cleanup_free_ char *m = xasprintf(
			    "pod %s container %s: the command timed out after %d ms and was killed",
			    x->pod, x->container, x->timeout_ms);
			skiff_rpc_call_end(call, -ETIMEDOUT, m);
		} else if (code == 125 && x->errors_len) {
			/* the runtime could not run it: its reason, one line */
			char *nl = strchr(x->errors, '\n');
			if (nl)
				*nl = 0;
			_cleanup_free_ char *m = people_line(x);
			m[strcspn(m, "\n")] = 0;
			skiff_rpc_call_end(call, strstr(m, "not running") ? -ESRCH : -EIO, m);
		} else {
			if (x->errors_len) { /* 126/127: the command's result */
				_cleanup_free_ char *line = people_line(x);
				Skiff__ExecOutput e = SKIFF__EXEC_OUTPUT__INIT;
				e.fd = 2;
				e.data.data = (uint8_t *)line;
				e.data.len = strlen(line);
				skiff_rpc_call_stream(call, &e.base);
			}
			Skiff__ExecOutput o = SKIFF__EXEC_OUTPUT__INIT;
			o.exited = true;
			o.exit_code = code;
			o.container = x->container;
			skiff_rpc_call_stream(call, &o.base);
			skiff_rpc_call_end(call, 0, NULL);
		}
	}
	log_debug("exec in pod %s container %s ended with %d%s", x->pod, x->container, code,
		  x->timed_out ? " (timed out)" : "");
	run_free(x);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *x = arg;
	(void)fd;
	(void)what;
	x->timed_out = true;
	stop(x);
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *x = arg;
	(void)fd;
	(void)what;
	pidfd_signal(x->pidfd, SIGKILL);
}

static void on_cancel(struct skiff_rpc_call *call, void *userdata)
{
	struct exec_run *x = userdata;
	(void)call;
	x->call = NULL;
	stop(x);
}

static const char *state_name(const struct agent_container *p)
{
	switch (p->state) {
	case POD_NEW:
		return "not started yet";
	case POD_STARTING:
		return "starting";
	case POD_RUNNING:
		return "running";
	case POD_BACKOFF:
		return "waiting to be restarted";
	case POD_DONE:
		return "exited";
	case POD_STOPPING:
		return "stopping";
	}
	return "unknown";
}

static int spawn_exec(struct exec_run *x, char **argv, const Skiff__ExecRequest *req)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, errs[2] = { -1, -1 }, rz[2] = { -1, -1 };
	int in = -1, r;

	if (req->has_stdin) {
		in = memfd_create("skiff-exec-stdin", MFD_CLOEXEC);
		if (in < 0)
			return -errno;
		r = skiff_write_full(in, req->stdin.data, req->stdin.len);
		if (r < 0 || lseek(in, 0, SEEK_SET) < 0) {
			close(in);
			return r < 0 ? r : -errno;
		}
	}
	int inp[2] = { -1, -1 };
	if (req->stdin_stream && !req->has_stdin) {
		if (pipe2(inp, O_CLOEXEC) < 0)
			return -errno;
		in = inp[0];
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(errs, O_CLOEXEC) < 0 ||
	    (req->tty && pipe2(rz, O_CLOEXEC) < 0)) {
		r = -errno;
		goto fail;
	}
	int fds[] = { in, out[1], err[1], errs[1], rz[0] };
	x->pidfd = spawn_process(argv, fds, rz[0] >= 0 ? 5 : 4, false, &x->pid);
	close(out[1]);
	close(err[1]);
	close(errs[1]);
	if (in >= 0)
		close(in);
	if (rz[0] >= 0)
		close(rz[0]);
	if (x->pidfd < 0) {
		close(out[0]);
		close(err[0]);
		close(errs[0]);
		if (inp[1] >= 0)
			close(inp[1]);
		if (rz[1] >= 0)
			close(rz[1]);
		return x->pidfd;
	}
	if (rz[1] >= 0)
		skiff_fd_nonblock(rz[1], true);
	x->resize_fd = rz[1];
	x->in_fd = inp[1];
	x->fds[0] = out[0];
	x->fds[1] = err[0];
	x->fds[2] = errs[0];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
		if (errs[i] >= 0)
			close(errs[i]);
		if (rz[i] >= 0)
			close(rz[i]);
	}
	if (in >= 0)
		close(in);
	if (inp[1] >= 0)
		close(inp[1]);
	return r;
}

void exec_serve(struct agent *a, struct skiff_rpc_call *call, const Skiff__Frame *request)
{
	if (!call || (request->flags & SKIFF__FRAME_FLAG__FLAG_ONEWAY))
		return;
	Skiff__ExecRequest *req =
	    skiff__exec_request__unpack(NULL, request->payload.len, request->payload.data);
	if (!req) {
		skiff_rpc_call_error(call, -EBADMSG, "ExecRequest does not unpack");
		return;
	}
	struct exec_run *x = NULL;
	char **argv = NULL;
	struct agent_pod *pod = core_find_pod(a, req->namespace_, req->pod);
	struct agent_container *p = pod ? core_container(pod, req->container) : NULL;
	if (!p) {
		if (pod)
			skiff_rpc_call_error(call, -ENOENT, "pod %s has no container '%s'",
					     req->pod, req->container);
		else
			skiff_rpc_call_error(call, -ENOENT, "pod %s does not run on node %s",
					     req->pod, a->cfg.name);
		goto out;
	}
	const char *cname = (size_t)p->ci < p->pod->spec->spec->n_containers
				? p->pod->spec->spec->containers[p->ci]->name
				: "";
	if (req->n_command == 0) {
		skiff_rpc_call_error(call, -EINVAL, "exec: no command given");
		goto out;
	}
	if (p->state != POD_RUNNING || !p->container_id[0]) {
		skiff_rpc_call_error(call, -ESRCH, "pod %s container %s is not running (%s%s%s)",
				     p->pod->name, cname, state_name(p), p->reason ? ": " : "",
				     p->reason ? p->reason : "");
		goto out;
	}
	if (req->tty && (req->rows > 65535 || req->cols > 65535 || !req->rows != !req->cols)) {
		skiff_rpc_call_error(call, -EINVAL,
				     "exec: terminal size %ux%u: expected rows and cols from 1 to "
				     "65535",
				     req->rows, req->cols);
		goto out;
	}
	char rows[16], cols[16];
	size_t n = 0;
	argv = xcalloc(req->n_command + 16, sizeof(char *));
	argv[n++] = a->cfg.runtime;
	argv[n++] = "exec";
	argv[n++] = "--state";
	argv[n++] = a->containers_dir;
	argv[n++] = "--error-fd";
	argv[n++] = "3";
	if (req->tty) {
		argv[n++] = "--tty";
		argv[n++] = "--resize-fd";
		argv[n++] = "4";
		if (req->rows) {
			snprintf(rows, sizeof(rows), "%u", req->rows);
			snprintf(cols, sizeof(cols), "%u", req->cols);
			argv[n++] = "--rows";
			argv[n++] = rows;
			argv[n++] = "--cols";
			argv[n++] = cols;
		}
	}
	argv[n++] = p->container_id;
	argv[n++] = "--";
	for (size_t i = 0; i < req->n_command; i++)
		argv[n++] = req->command[i];

	x = xcalloc(1, sizeof(*x));
	x->agent = a;
	x->pidfd = -1;
	x->in_fd = -1;
	x->resize_fd = -1;
	x->id = skiff_rpc_call_id(call);
	for (int i = 0; i < 3; i++)
		x->fds[i] = -1;
	x->pod = xstrdup(p->pod->name);
	x->timeout_ms = req->timeout_ms;
	copy_str(x->container_id, sizeof(x->container_id), p->container_id);
	x->container = xstrdup(cname);
	int r = spawn_exec(x, argv, req);
	if (r < 0) {
		skiff_rpc_call_error(call, r, "cannot run %s: %s", a->cfg.runtime, strerror(-r));
		run_free(x);
		goto out;
	}
	x->call = call;
	for (int i = 0; i < 3; i++) {
		skiff_fd_nonblock(x->fds[i], true);
		x->ev_fd[i] = event_new(a->base, x->fds[i], EV_READ | EV_PERSIST, on_fd, x);
		event_add(x->ev_fd[i], NULL);
	}
	if (x->in_fd >= 0) {
		skiff_fd_nonblock(x->in_fd, true);
		x->in_buf = evbuffer_new();
		x->ev_in = event_new(a->base, x->in_fd, EV_WRITE, on_stdin_writable, x);
	}
	x->next = a->exec_runs; /* for MSG_AGENT_EXEC_INPUT to find it */
	a->exec_runs = x;
	x->ev_pid = event_new(a->base, x->pidfd, EV_READ, on_exit_fd, x);
	event_add(x->ev_pid, NULL);
	x->ev_kill = evtimer_new(a->base, on_kill, x);
	x->ev_resume = evtimer_new(a->base, on_resume, x);
	x->ev_timeout = evtimer_new(a->base, on_timeout, x);
	if (req->timeout_ms > 0) {
		struct timeval tv = { req->timeout_ms / 1000, (req->timeout_ms % 1000) * 1000 };
		event_add(x->ev_timeout, &tv);
	}
	skiff_rpc_call_set_cancel(call, on_cancel, x);
	/* the first item says "started" (the brain waits for it with a timeout) */
	Skiff__ExecOutput first = SKIFF__EXEC_OUTPUT__INIT;
	first.container = x->container;
	skiff_rpc_call_stream(call, &first.base);
	log_info("exec in pod %s container %s: %s%s", x->pod, x->container, req->command[0],
		 req->n_command > 1 ? " …" : "");
out:
	free(argv);
	skiff__exec_request__free_unpacked(req, NULL);
}
