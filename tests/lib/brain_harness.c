/* brain_harness.c — a real skiff-orchestrator for integration tests (see
 * brain_harness.h). */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "../../hollow/fakes.h"
#include "brain_harness.h"
#include "testlib.h"
#include "util.h"

char listen_addr[64];
atomic_int brain_pid;

const char *brain_extra_args[8];

pid_t spawn_logged(const char *const *argv, const char *log, bool append)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	return pid;
}

char *skiff_bin_path(const char *name)
{
	const char *bin = getenv("SKIFF_BIN");
	return xasprintf("%s/%s", bin ? bin : "build/bin", name);
}

void start_brain(const char *grace)
{
	_cleanup_free_ char *path = skiff_bin_path("skiff-orchestrator");
	_cleanup_free_ char *log = xasprintf("%s/brain.log", tmpdir);
	_cleanup_free_ char *data = xasprintf("%s/data", tmpdir);
	const char *argv[32] = { path,	      "--data-dir",   data,  "--listen",
				 listen_addr, "--node-grace", grace, "--heartbeat",
				 "200ms",     "--log-level",  "info" };
	for (int i = 0, n = 11; brain_extra_args[i] && n < 31; i++)
		argv[n++] = brain_extra_args[i];
	atomic_store(&brain_pid, spawn_logged(argv, log, true));
}

char *join_token(void)
{
	_cleanup_free_ char *path = xasprintf("%s/data/join-token", tmpdir);
	char *token = NULL;
	size_t len;
	int64_t deadline = skiff_mono_ms() + 20000;
	while (skiff_read_file(path, 4096, &token, &len) < 0) {
		ck_assert_msg(skiff_mono_ms() < deadline, "no join-token");
		usleep(50000);
	}
	while (len && token[len - 1] == '\n')
		token[--len] = 0;
	/* the file is written before the brain listens: wait until it serves */
	skiff_rpc_sync_free(connect_admin(20000));
	return token;
}

int stop_brain(int sig)
{
	pid_t pid = atomic_exchange(&brain_pid, 0);
	if (pid <= 0)
		return -1;
	kill(pid, sig);
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

void harness_setup(void)
{
	tmpdir_make(NULL);
	snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", free_port());
	skiff_log_set_level(SKIFF_LOG_ERROR);
}

void harness_teardown(void)
{
	stop_brain(SIGKILL);
	tmpdir_remove();
}

void dump_log(void)
{
	_cleanup_free_ char *log = xasprintf("%s/brain.log", tmpdir);
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (skiff_read_file(log, 1 << 20, &data, &len) == 0)
		fprintf(stderr, "---- brain log (last 3000 bytes) ----\n%s\n",
			len > 3000 ? data + len - 3000 : data);
}

/* Connect as admin (admin.conf), retrying while the brain starts. */
struct skiff_rpc_sync *connect_admin(int timeout_ms)
{
	_cleanup_free_ char *conf = xasprintf("%s/data/admin.conf", tmpdir);
	int64_t deadline = skiff_mono_ms() + timeout_ms;
	for (;;) {
		struct skiff_client_config cfg = { 0 };
		_cleanup_free_ char *err = NULL;
		if (skiff_client_config_read(conf, &cfg, &err) == 0) {
			SSL_CTX *tls = NULL;
			ck_assert_int_eq(
			    skiff_tls_client_ctx(cfg.ca_pem, cfg.cert_pem, cfg.key_pem, &tls), 0);
			/* a slow (sanitized) brain may hold its loop through a
			 * big apply for longer than three keepalives: the wait
			 * scales as Check's timeouts do */
			const char *mul = getenv("CK_TIMEOUT_MULTIPLIER");
			int k = mul && atoi(mul) > 1 ? atoi(mul) : 1;
			struct skiff_rpc_client_config cc = {
				.server = listen_addr,
				.tls = tls,
				.connect_timeout_ms = 1000,
				.keepalive_ms = SKIFF_RPC_DEFAULT_KEEPALIVE_MS * k
			};
			struct skiff_rpc_sync *s = NULL;
			_cleanup_free_ char *cerr = NULL;
			int r = skiff_rpc_sync_connect(&cc, &s, &cerr);
			SSL_CTX_free(tls);
			skiff_client_config_clear(&cfg);
			if (r == 0)
				return s;
		}
		if (skiff_mono_ms() > deadline) {
			dump_log();
			ck_abort_msg("cannot connect to the brain at %s", listen_addr);
		}
		usleep(20000);
	}
}

/* Apply deployment NAME (label app=NAME, image skiff-demo:1) with REPLICAS,
 * waiting TIMEOUT_MS for the brain's acknowledgement. */
void harness_apply(struct skiff_rpc_sync *s, const char *name, int replicas, int timeout_ms)
{
	struct fake_deployment f;
	fake_deployment_init(&f, name, replicas, "skiff-demo:1", "/bin/echo-svc", 0, 0);
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_APPLY, &f.req.base, timeout_ms,
					  NULL, &err) == 0,
		      "apply: %s", err);
}
