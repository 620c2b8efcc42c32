/* daemon.h — the running skiff-orchestrator: the brain wired to the RPC
 * server on one libevent loop.
 *
 * Group commit: request handlers change the brain in memory and queue their
 * reply; a low-priority "commit" event, run once the loop has handled every
 * request that arrived, syncs the store with one fsync and only then sends
 * the queued replies, feeds watchers and pushes Assignments to agents. A
 * failed sync ends the process (fail-stop; the next start replays the WAL).
 */
#ifndef SKIFF_DAEMON_H
#define SKIFF_DAEMON_H

#include <event2/event.h>

#include "brain.h"
#include "joinlimit.h"
#include "pki.h"
#include "rpc.h"

struct watcher;
struct deferred;
struct images;

struct daemon {
	struct event_base *base;
	struct brain *brain;
	struct skiff_rpc_server *server;
	struct skiff_ca *ca;
	char *token;
	struct joinlimit *joinlimit; /* JOIN failures, per address */
	char *data_dir;
	char *cluster_cidr;
	struct event *commit_ev;
	struct event *reconcile_ev; /* controllers, after the replies went out */
	struct event *tick_ev;
	struct event *sig_term, *sig_int;
	struct deferred *deferred_head, **deferred_tail;
	struct watcher *watchers;
	struct images *images;	   /* the cluster's image store (images.c) */
	uint64_t watched_revision; /* watchers have seen changes up to here */
	bool no_group_commit;	   /* bench: sync after every write request */
	int64_t cert_validity_s;   /* node certificates (--cert-validity) */
	int64_t admin_validity_s;  /* admin and view configs (--admin-cert-validity) */
	int64_t certs_tick_mono;   /* last certs_tick() clean-up */
	uint64_t commits, synced_writes;
	/* After each successful sync, once the deferred replies went out
	 * (main.c: daemon_watch_feed). */
	void (*on_commit)(struct daemon *d);
	int64_t last_reconcile_ms;  /* mono */
	int64_t reconcile_asked_ms; /* mono; 0: not asked */
	int exit_code;		    /* 1 after a failed sync: the loop ends */
};

/* api.c: every request from skiffctl and agents. */
void daemon_handle(struct skiff_rpc_call *call, const Skiff__Frame *req, void *userdata);
void daemon_conn_closed(struct skiff_rpc_conn *conn, int reason, void *userdata);

/* commit.c: group commit. Reply after the next successful sync (msg is
 * taken over; NULL: empty). */
void daemon_defer_reply(struct daemon *d, struct skiff_rpc_call *call, ProtobufCMessage *msg);
/* Send the deferred replies (after a successful sync). */
void daemon_send_deferred(struct daemon *d);
/* Schedule a commit (and a reconcile) soon. */
void daemon_kick(struct daemon *d);
/* The commit and reconcile events (after d->base exists), and their end. */
void daemon_commit_init(struct daemon *d);
void daemon_commit_free(struct daemon *d);
/* From the 100 ms tick: commit, reconcile when asked for long enough (or
 * ask), give freed heap back. */
void daemon_commit_tick(struct daemon *d);

/* authz.c: the roles (AUTHZ_* bits) that may send each MsgType; -ENOENT for
 * a type without a row (refused). */
#define AUTHZ_ADMIN	 1u
#define AUTHZ_VIEW	 2u  /* read-only skiffctl config */
#define AUTHZ_NODE	 4u  /* agents: only about their own node and pods */
#define AUTHZ_ANYONE	 8u  /* no certificate needed (JOIN: the token is checked) */
#define AUTHZ_NOT_SERVED 16u /* brain -> agent, RPC-layer or test-only types */
int daemon_msg_roles(int type);
/* The AUTHZ_ bit of a peer (0: no certificate). */
unsigned daemon_peer_role(const struct skiff_rpc_peer *peer);

/* certs.c: the brain as the cluster's CA — join tokens, JOIN (a taken node
 * name waits for approval unless the joiner proves it holds that node's
 * key), issued-certificate records, revocation, renewal, more configs. */
#define SKIFF_DEFAULT_CERT_VALIDITY_S (365LL * 86400)
#define SKIFF_DEFAULT_TOKEN_TTL_MS    (24LL * 3600 * 1000)
/* After brain_open(): the DATA_DIR/join-token file as the default token
 * and a record of the admin.conf certificate. */
int certs_init(struct daemon *d);
void certs_join(struct daemon *d, struct skiff_rpc_call *call, const Skiff__JoinRequest *j);
void certs_token(struct daemon *d, struct skiff_rpc_call *call, const Skiff__TokenRequest *req);
void certs_action(struct daemon *d, struct skiff_rpc_call *call,
		  const Skiff__CertificateAction *req);
void certs_new_config(struct daemon *d, struct skiff_rpc_call *call,
		      const Skiff__NewConfigRequest *req);
void certs_renew(struct daemon *d, struct skiff_rpc_call *call, const Skiff__RenewRequest *req);
/* The caller's certificate was revoked: answers the call (EACCES) and
 * returns true. */
bool certs_refuse_revoked(struct daemon *d, struct skiff_rpc_call *call);
/* `delete node`: revoke the node's certificates and drop its connection. */
void certs_node_deleted(struct daemon *d, const char *node);
/* Drop expired tokens, old join requests and records of expired certificates. */
void certs_tick(struct daemon *d);

/* images.c: the cluster's image store (DATA_DIR/images), MSG_IMAGE_*. */
int images_open(struct daemon *d);
void images_close(struct daemon *d);
void images_handle(struct daemon *d, struct skiff_rpc_call *call, const Skiff__Frame *req);
/* `delete node`: the node no longer holds any image. */
void images_node_deleted(struct daemon *d, const char *node);

/* watch.c */
int daemon_watch_start(struct daemon *d, struct skiff_rpc_call *call,
		       const Skiff__WatchRequest *req);
void daemon_watch_feed(struct daemon *d);
void daemon_watch_free_all(struct daemon *d);

/* agents.c: Assignment pushes and log proxying. */
void daemon_push_assignment(struct brain *b, struct brain_node *n, Skiff__Assignment *a,
			    void *userdata);
int daemon_logs(struct daemon *d, struct skiff_rpc_call *call, const Skiff__LogsRequest *req);

/* agents.c: a stream from the agent of a pod's node relayed to a client (logs,
 * exec): items go on as they come, the client going away cancels the agent's
 * side, and a lost agent connection ends the client's stream saying so. */
struct agent_stream {
	struct skiff_rpc_call *client; /* NULL once the client went away */
	struct skiff_rpc_conn *agent;
	uint64_t agent_id;
	bool agent_done;
	char *node;
	char *pod;
};
/* From the agent's callback: relays a stream item (described by item) and
 * returns true, or returns false at the stream's end (then call
 * agent_stream_end()). */
bool agent_stream_relay(struct agent_stream *s, int err, const Skiff__Frame *frame,
			const ProtobufCMessageDescriptor *item);
/* Ends the client's stream after the agent's ended with err and errmsg (may
 * be NULL); doing completes "the agent's connection was lost DOING pod P". */
void agent_stream_end(struct agent_stream *s, struct skiff_rpc_conn *conn, int err,
		      const char *errmsg, const char *doing);
/* The client went away: cancels the agent's side, whose callback then ends
 * it, and returns false; true when that side is over already (free now). */
bool agent_stream_client_gone(struct agent_stream *s);
/* Frees what the stream holds (not s itself). */
void agent_stream_done(struct agent_stream *s);

/* exec.c: MSG_EXEC proxied to the pod's agent. */
int daemon_exec(struct daemon *d, struct skiff_rpc_call *call, const Skiff__ExecRequest *req);
/* MSG_EXEC_INPUT (one-way): stdin for the streaming exec of call's connection. */
void daemon_exec_input(struct skiff_rpc_call *call, const Skiff__ExecInput *in);

#endif
