/* cmd_exec.c — skiffctl exec: run a command in a running container of a pod
 * (MSG_EXEC, proxied by the brain to the pod's agent). The command's stdout
 * and stderr are written here as their ExecOutput items arrive; the exit
 * code is the command's. With -i, stdin is streamed as one-way
 * MSG_EXEC_INPUT frames while the command runs (read from the same event
 * loop as the answer); stdin that cannot be polled (a regular file) is read
 * whole and sent with the request.
 *
 * With -t and a terminal on stdin (kubectl's `exec -it`): the command gets
 * a pseudo-terminal of the terminal's size, stdin is streamed, the local
 * terminal is in raw mode while the command runs (restored on every way
 * out: the end, errors, exit() and the signals that end skiffctl), the
 * pty's one output stream is written as it comes to stdout, and each
 * SIGWINCH sends the new size as an ExecInput with resize set. Without a
 * terminal, -t says so in kubectl's words and goes on without a TTY. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <event2/event.h>

#include "cleanup.h"
#include "ctl.h"
#include "rpc.h"
#include "quantity.h"
#include "util.h"

#define EXEC_STDIN_MAX (2u << 20)

struct exec_state {
	bool broken; /* writing our output failed */
	bool exited;
	int exit_code;
};

static int on_output(const Skiff__Frame *item, void *userdata)
{
	struct exec_state *st = userdata;
	Skiff__ExecOutput *o =
	    skiff__exec_output__unpack(NULL, item->payload.len, item->payload.data);
	if (!o)
		return 0;
	if (o->data.len) {
		FILE *f = o->fd == 2 ? stderr : stdout;
		if (fwrite(o->data.data, 1, o->data.len, f) != o->data.len || fflush(f) != 0) {
			/* our reader went away (`… | head`): stop the command, as
			 * a pipeline would (skiffctl ignores SIGPIPE) */
			st->broken = true;
			skiff__exec_output__free_unpacked(o, NULL);
			return CTL_STREAM_STOP;
		}
	}
	if (o->exited) {
		st->exited = true;
		st->exit_code = o->exit_code;
	}
	skiff__exec_output__free_unpacked(o, NULL);
	return 0;
}

#define EXEC_STDIN_CHUNK       (64 * 1024)
#define EXEC_STDIN_MAX_PENDING (1u << 20) /* bytes queued to the brain before we wait */

struct stdin_pump {
	struct skiff_rpc_sync *sync;
	struct event *ev, *resume;
	bool done;
};

static void send_input(struct stdin_pump *p, const uint8_t *data, size_t len, bool eof)
{
	struct skiff_rpc_conn *c = skiff_rpc_sync_conn(p->sync);
	Skiff__ExecInput in = SKIFF__EXEC_INPUT__INIT;
	in.data.data = (uint8_t *)data;
	in.data.len = len;
	in.eof = eof;
	if (!c || skiff_rpc_send_oneway(c, SKIFF__MSG_TYPE__MSG_EXEC_INPUT, &in.base) < 0)
		p->done = true;
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct stdin_pump *p = arg;
	uint8_t buf[EXEC_STDIN_CHUNK];
	(void)what;
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		send_input(p, buf, (size_t)n, false);
	} else { /* end of stdin (or an error reading it): the command's ends too */
		send_input(p, NULL, 0, true);
		p->done = true;
	}
	struct skiff_rpc_conn *c = skiff_rpc_sync_conn(p->sync);
	if (p->done) {
		event_del(p->ev);
	} else if (c && skiff_rpc_conn_output_pending(c) > EXEC_STDIN_MAX_PENDING) {
		/* the brain is slower than our stdin: wait for it */
		event_del(p->ev);
		struct timeval tv = { 0, 10000 };
		evtimer_add(p->resume, &tv);
	}
}

static void quiet_log(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct stdin_pump *p = arg;
	(void)fd;
	(void)what;
	struct skiff_rpc_conn *c = skiff_rpc_sync_conn(p->sync);
	if (c && skiff_rpc_conn_output_pending(c) > EXEC_STDIN_MAX_PENDING) {
		struct timeval tv = { 0, 10000 };
		evtimer_add(p->resume, &tv);
		return;
	}
	if (c)
		event_add(p->ev, NULL);
}

/* The local terminal's settings before raw mode, for every way out. */
static struct termios saved_termios;
static volatile sig_atomic_t termios_saved;

static void tty_restore(void)
{
	if (termios_saved)
		(void)tcsetattr(0, TCSAFLUSH, &saved_termios);
	termios_saved = 0;
}

static void tty_restore_and_die(int sig)
{
	tty_restore(); /* tcsetattr is async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Raw mode on stdin (a terminal): bytes reach the command as typed (^C,
 * ^Z, ^D and line editing are the remote terminal's business). */
static int tty_raw(void)
{
	static const int fatal[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE };
	struct termios raw;
	if (tcgetattr(0, &saved_termios) < 0)
		return -errno;
	raw = saved_termios;
	cfmakeraw(&raw);
	atexit(tty_restore);
	struct sigaction sa = { .sa_handler = tty_restore_and_die };
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++) {
		struct sigaction old;
		/* keep what skiffctl ignores on purpose (SIGPIPE) ignored */
		if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(fatal[i], &sa, NULL);
	}
	termios_saved = 1;
	if (tcsetattr(0, TCSAFLUSH, &raw) < 0) {
		int r = -errno;
		termios_saved = 0;
		return r;
	}
	return 0;
}

/* The terminal's size; 0 and 0 when it does not say. */
static void tty_size(uint32_t *rows, uint32_t *cols)
{
	struct winsize ws = { 0 };
	if (ioctl(0, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
		ws.ws_row = ws.ws_col = 0;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
}

static void on_winch(evutil_socket_t fd, short what, void *arg)
{
	struct stdin_pump *p = arg;
	struct skiff_rpc_conn *c = skiff_rpc_sync_conn(p->sync);
	Skiff__ExecInput in = SKIFF__EXEC_INPUT__INIT;
	(void)fd;
	(void)what;
	in.resize = true;
	tty_size(&in.rows, &in.cols);
	if (c && in.rows)
		(void)skiff_rpc_send_oneway(c, SKIFF__MSG_TYPE__MSG_EXEC_INPUT, &in.base);
}

static int read_stdin(uint8_t **ret, size_t *ret_len)
{
	size_t len = 0, cap = 65536;
	uint8_t *buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap >= EXEC_STDIN_MAX + 1) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t n = read(0, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > EXEC_STDIN_MAX) {
			free(buf);
			return -EFBIG;
		}
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option options[] = { { "container", required_argument, NULL, 'c' },
						 { "stdin", no_argument, NULL, 'i' },
						 { "tty", no_argument, NULL, 't' },
						 { "timeout", required_argument, NULL, 'T' },
						 {} };
	Skiff__ExecRequest req = SKIFF__EXEC_REQUEST__INIT;
	req.namespace_ = (char *)ctl_namespace();
	_cleanup_free_ uint8_t *in = NULL;
	_cleanup_free_ char *pod = NULL;
	bool want_stdin = false, want_tty = false;
	int c, dash = argc;

	/* "--" ends skiffctl's arguments; without it (docker's habit) the
	 * first word after the pod starts the command */
	for (int i = 1; i < argc; i++)
		if (streq(argv[i], "--")) {
			dash = i;
			break;
		}
	optind = 1;
	while ((c = getopt_long(dash, argv, dash < argc ? "c:it" : "+c:it", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			req.container = optarg;
			break;
		case 'i':
			want_stdin = true;
			break;
		case 't':
			want_tty = true;
			break;
		case 'T': {
			int64_t ms;
			if (skiff_parse_duration(optarg, &ms) < 0 || ms <= 0 || ms > INT32_MAX)
				return ctl_usage_error("exec",
						       "--timeout '%s': expected a duration like "
						       "30s, 500ms or 2m",
						       optarg);
			req.timeout_ms = (int32_t)ms;
			break;
		}
		default:
			return ctl_usage_error("exec", "unknown option");
		}
	}
	char **cmd;
	size_t n_cmd;
	if (dash < argc) {
		if (optind + 1 != dash)
			return ctl_usage_error("exec", "expected one POD or deployment/NAME before "
						       "--");
		cmd = argv + dash + 1;
		n_cmd = (size_t)(argc - dash - 1);
	} else {
		if (optind >= argc)
			return ctl_usage_error("exec", "expected POD -- COMMAND [ARGS…]");
		cmd = argv + optind + 1;
		n_cmd = (size_t)(argc - optind - 1);
	}
	if (n_cmd == 0)
		return ctl_usage_error("exec", "no command given (POD -- COMMAND [ARGS…])");
	const char *target = argv[optind], *slash = strchr(target, '/');
	if (slash) {
		_cleanup_free_ char *ks = xstrndup(target, (size_t)(slash - target));
		const struct skiff_kind *k = skiff_kind_lookup(ks);
		if (!k || (!streq(k->name, "pod") && !streq(k->name, "deployment")))
			return ctl_usage_error("exec",
					       "exec runs in pods or deployments, not \"%s\"", ks);
		if (streq(k->name, "deployment")) {
			int r = ctl_pick_pod(slash + 1, &pod);
			if (r)
				return r;
		} else {
			pod = xstrdup(slash + 1);
		}
	} else {
		pod = xstrdup(target);
	}
	if (want_tty && !isatty(0)) {
		/* kubectl's words; the command runs without a terminal */
		fprintf(stderr, "Unable to use a TTY - input is not a terminal or the right kind "
				"of file\n");
		want_tty = false;
	}
	if (want_tty) { /* -t alone is -it: a terminal without input is no use */
		want_stdin = true;
		req.tty = true;
		tty_size(&req.rows, &req.cols);
	}
	struct stdin_pump pump = { 0 };
	struct event *winch = NULL;
	if (want_stdin) {
		int r = ctl_connect();
		if (r)
			return r;
		pump.sync = ctl_sync();
		struct event_base *base = skiff_rpc_sync_base(pump.sync);
		pump.ev = event_new(base, 0, EV_READ | EV_PERSIST, on_stdin, &pump);
		pump.resume = evtimer_new(base, on_resume, &pump);
		struct stat sb;
		bool pollable = fstat(0, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode);
		/* (libevent would warn about a refused fd: it is not an error here) */
		event_set_log_callback(quiet_log);
		pollable = pollable && event_add(pump.ev, NULL) == 0;
		event_set_log_callback(NULL);
		if (pollable) {
			req.stdin_stream = true;
		} else { /* a regular file or /dev/null: epoll refuses them */
			event_free(pump.ev);
			pump.ev = NULL;
		}
	}
	if (want_stdin && !req.stdin_stream) {
		size_t len = 0;
		int r = read_stdin(&in, &len);
		if (r == -EFBIG)
			return ctl_error("exec -i: stdin is larger than %u MiB (it is sent whole "
					 "before the command starts)",
					 EXEC_STDIN_MAX >> 20);
		if (r < 0)
			return ctl_error("exec -i: cannot read stdin: %s", strerror(-r));
		req.has_stdin = true;
		req.stdin.data = in;
		req.stdin.len = len;
	}
	req.pod = pod;
	req.command = cmd;
	req.n_command = n_cmd;
	struct exec_state st = { 0 };
	int r;
	if (req.tty) {
		winch = evsignal_new(skiff_rpc_sync_base(pump.sync), SIGWINCH, on_winch, &pump);
		event_add(winch, NULL);
		r = tty_raw();
		if (r < 0) {
			event_free(winch);
			event_free(pump.ev);
			event_free(pump.resume);
			return ctl_error("exec -t: cannot put the terminal in raw mode: %s",
					 strerror(-r));
		}
		_cleanup_free_ char *errmsg = NULL;
		r = skiff_rpc_sync_stream(pump.sync, SKIFF__MSG_TYPE__MSG_EXEC, &req.base,
					  on_output, &st, &errmsg);
		fflush(stdout);
		tty_restore();
		if (r == CTL_STREAM_STOP)
			r = 0;
		else if (r < 0)
			r = ctl_error("%s", errmsg ? errmsg : strerror(-r));
		else
			r = 0;
	} else {
		r = ctl_stream(SKIFF__MSG_TYPE__MSG_EXEC, &req.base, on_output, &st);
	}
	fflush(stdout);
	if (winch)
		event_free(winch);
	if (pump.ev)
		event_free(pump.ev);
	if (pump.resume)
		event_free(pump.resume);
	if (r)
		return r;
	if (st.broken)
		return 128 + SIGPIPE;
	if (!st.exited)
		return ctl_error("exec in pod %s: the stream ended without the command's exit code",
				 pod);
	return st.exit_code;
}
