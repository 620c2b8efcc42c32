/* brain_harness.h — a real skiff-orchestrator for integration tests: a
 * tmpdir with its data dir and log, a free loopback port, start/stop by pid,
 * an admin connection that retries while the brain starts, and its log on
 * failure. Use with
 * TEST_SUITE(.setup = harness_setup, .teardown = harness_teardown). */
#ifndef SKIFF_BRAIN_HARNESS_H
#define SKIFF_BRAIN_HARNESS_H

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "testlib.h"
#include "util.h"

/* 127.0.0.1:PORT the next brain listens on (picked by harness_setup()). */
extern char listen_addr[64];
/* The running brain's pid, 0 when none. */
extern atomic_int brain_pid;
/* More arguments for the next start_brain() (NULL-terminated). */
extern const char *brain_extra_args[8];

/* A fresh tmpdir and listen address; the brain killed and tmpdir removed. */
void harness_setup(void);
void harness_teardown(void);

/* Start skiff-orchestrator ($SKIFF_BIN or build/bin) with --data-dir
 * tmpdir/data, --node-grace grace and heartbeats every 200 ms, logging to
 * tmpdir/brain.log. */
void start_brain(const char *grace);
/* The brain's join token (tmpdir/data/join-token, waited for up to 20 s),
 * once the brain serves; free() it. */
char *join_token(void);
/* Fork and exec argv[0] with stdout and stderr to log (appended or
 * truncated); returns the child's pid. */
pid_t spawn_logged(const char *const *argv, const char *log, bool append);
/* $SKIFF_BIN/NAME (default build/bin/NAME); free() it. */
char *skiff_bin_path(const char *name);
/* Send sig and reap it; returns its wait status, -1 when none ran. */
int stop_brain(int sig);
/* The last 3000 bytes of the brain's log, on stderr. */
void dump_log(void);

/* Connect as admin (tmpdir/data/admin.conf), retrying for timeout_ms while
 * the brain starts. */
struct skiff_rpc_sync *connect_admin(int timeout_ms);

/* Apply deployment NAME (label app=NAME, image skiff-demo:1) with REPLICAS,
 * waiting TIMEOUT_MS for the brain's acknowledgement. */
void harness_apply(struct skiff_rpc_sync *s, const char *name, int replicas, int timeout_ms);

#endif
