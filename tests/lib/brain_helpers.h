/* brain_helpers.h — helpers for the brain's unit tests: a brain in a
 * temporary directory (tmpdir) with a fake clock (fake_now, in ms), nodes
 * that register like agents, deployments built in code, pods reported
 * Running as their agents would. Use with
 * TEST_SUITE(.setup = brain_test_setup, .teardown = brain_test_teardown). */
#ifndef SKIFF_TEST_BRAIN_HELPERS_H
#define SKIFF_TEST_BRAIN_HELPERS_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../orchestrator/brain.h"
#include "cleanup.h"
#include "log.h"
#include "testlib.h"
#include "util.h"

/* The brain's monotonic clock; the wall clock is 1700000000000 + fake_now. */
extern int64_t fake_now;

/* A fresh tmpdir, quiet logs and fake_now = 1000000; and the tmpdir removed. */
void brain_test_setup(void);
void brain_test_teardown(void);

/* Open the brain in tmpdir (node grace 3 s) on the fake clock, with store
 * faults f (NULL: none). */
struct brain *open_brain_faults(struct skiff_store_faults *f);
struct brain *open_brain(void);

/* A KeyValue the caller owns (skiff_obj_free). */
Skiff__KeyValue *kv_new(const char *k, const char *v);

/* Register node `name` with cpu (milli) and memory (bytes), and one label
 * when label_key is set; returns the node's epoch. */
uint64_t add_node_labels(struct brain *b, const char *name, int64_t cpu, int64_t mem,
			 const char *label_key, const char *label_value);
uint64_t add_node(struct brain *b, const char *name, int64_t cpu, int64_t mem);

/* A deployment (selector and template label app=name, one container "main"
 * running /bin/app with these requests) as skiffctl would send it. */
Skiff__Deployment *make_deployment(const char *name, int replicas, const char *image, int64_t cpu,
				   int64_t mem);
/* Apply d (and free it); want_result, when set, is the expected
 * "created"/"configured"/"unchanged". */
void apply_deployment(struct brain *b, Skiff__Deployment *d, const char *want_result);

/* Every pod in the store, each checked against the summary the controllers
 * use. */
struct pod_list {
	char *names[4096];
	char nodes[4096][32];
	char hash[4096][16];
	int64_t created[4096];
	bool ready[4096];
	bool terminating[4096]; /* metadata.deleted_ms set */
	size_t n;
};
struct pod_list *list_pods(struct brain *b);
void free_pods(struct pod_list *l);
size_t count_on(struct pod_list *l, const char *node);
size_t count_terminating(struct pod_list *l);

/* Report one pod Running and ready with address ip, as the agent of node
 * (at epoch) would; uid NULL: none given. Returns brain_pod_status()'s. */
int report_running(struct brain *b, const char *node, uint64_t epoch, const char *pod,
		   const char *uid, const char *ip, char **ret_err);
/* Report every bound pod Running and ready, as its agent would. */
void report_all_running(struct brain *b);
/* Report every terminating pod stopped (PodStatusReport.stopped), as an
 * agent does once it removed it; returns how many. */
size_t report_all_stopped(struct brain *b);
/* A heartbeat from every node but `except` (NULL: all). */
void heartbeat_all_but(struct brain *b, const char *except);

#endif
