/* rpc_test_server.h — a test RPC server on its own thread and event_base,
 * for test_rpc.c and test_tls.c.
 *
 * Handlers: MSG_TEST_ECHO answers its Heartbeat after time_ms milliseconds
 * (node "never": never answers); MSG_TEST_STREAM sends time_ms items then
 * ends (0: forever, every 5 ms, until cancelled); MSG_GET fails with ENOENT;
 * MSG_LIST and MSG_JOIN answer with an empty payload; node "block" blocks the
 * server's loop for time_ms (a busy daemon) before answering, node
 * "block-steps" blocks it epoch ms (0: 150) at a time in time_ms/step timer
 * callbacks in a row. */
#ifndef SKIFF_RPC_TEST_SERVER_H
#define SKIFF_RPC_TEST_SERVER_H

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "testlib.h"
#include "util.h"

struct test_server {
	pthread_t thread;
	struct event_base *base;
	struct skiff_rpc_server *rpc;
	struct event *stop_ev;
	int stop_pipe[2];
	int port;
	char addr[64];
	atomic_int cancels;
	atomic_int closes;
	atomic_int last_close_reason;
	atomic_int requests;
	char last_peer_role[32];
	char last_peer_name[256];
	void (*on_accept)(struct skiff_rpc_conn *conn, void *userdata);
};

/* When set, MSG_JOIN is served as the brain does: token checked, CSR signed
 * with CN = node name and OU = node. */
extern struct skiff_ca *test_join_ca;
extern const char *test_join_token;

/* The edge settings of the next test_server_start() (0: the defaults). */
extern struct skiff_rpc_server_config test_server_edge;

/* The server's handler (userdata: its struct test_server), for a server a
 * test builds itself. */
void test_server_handler(struct skiff_rpc_call *call, const Skiff__Frame *req, void *userdata);

/* Listen on 127.0.0.1 (a free port, in ts->addr) with tls (NULL: plaintext). */
struct test_server *test_server_start(SSL_CTX *tls, int keepalive_ms);
void test_server_stop(struct test_server *ts);

#endif
