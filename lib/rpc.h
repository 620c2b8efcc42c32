/* rpc.h — Skiff's RPC: framed protobuf-c messages over mutual TLS on a libevent loop.
 *
 * Wire: every message is a 4-byte big-endian length followed by one packed
 * Skiff__Frame (proto/skiff.proto). Frames larger than SKIFF_RPC_MAX_FRAME are
 * refused from their length prefix alone, before any allocation.
 *
 * A connection is symmetric: either side may send requests (FLAG_REQUEST) and
 * either side answers with one reply (FLAG_REPLY) or a stream of items
 * (FLAG_STREAM) closed by FLAG_END. Many requests are in flight at once,
 * matched by Frame.id. Requests time out; both sides send MSG_PING keepalives
 * and drop a peer that stays silent for 3 intervals. The server caps and times
 * out connections that have not authenticated yet (the edge, see
 * skiff_rpc_server_config).
 *
 * Identity: each peer's certificate carries its name in the CN and its role in
 * the OU ("admin", "node", "server"). A peer without a certificate has role ""
 * and may only call MSG_JOIN (the server enforces this before any handler).
 *
 * Everything here runs on the caller's event_base, single-threaded. SIGPIPE
 * is set to SIG_IGN when a connection is made and the program left it at
 * SIG_DFL (a write to a vanished peer then fails instead of killing us).
 * Ownership: payload messages passed in are only packed (the caller keeps
 * them); frames passed to callbacks are valid only during the callback.
 */
#ifndef SKIFF_RPC_H
#define SKIFF_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <protobuf-c/protobuf-c.h>

#include "skiff.pb-c.h"

#define SKIFF_RPC_MAX_FRAME	       (4u << 20) /* 4 MiB */
#define SKIFF_RPC_PROTOCOL_VERSION     1
#define SKIFF_RPC_DEFAULT_TIMEOUT_MS   10000
#define SKIFF_RPC_DEFAULT_KEEPALIVE_MS 2000
/* the edge (skiff_rpc_server_config) */
#define SKIFF_RPC_DEFAULT_MAX_CONNS		 4096
#define SKIFF_RPC_DEFAULT_MAX_UNAUTH		 1024
#define SKIFF_RPC_DEFAULT_MAX_UNAUTH_PER_ADDR	 64
#define SKIFF_RPC_DEFAULT_HANDSHAKE_TIMEOUT_MS	 5000
#define SKIFF_RPC_DEFAULT_FIRST_FRAME_TIMEOUT_MS 10000

/* ---- frame codec: no I/O --------------------------------------------- */

/* Decode one frame from the start of buf.
 * Returns 1 with *ret (free with skiff__frame__free_unpacked(f, NULL)) and
 * *ret_consumed set; 0 when more bytes are needed (nothing allocated);
 * -EMSGSIZE when the length prefix exceeds max_frame (decided from the 4
 * prefix bytes alone); -EBADMSG when the body does not unpack or its type is
 * not a known MsgType. */
int skiff_frame_decode(const uint8_t *buf, size_t len, size_t max_frame, Skiff__Frame **ret,
		       size_t *ret_consumed);

/* Encode frame with its length prefix into a new buffer (free()).
 * -EMSGSIZE when it would exceed SKIFF_RPC_MAX_FRAME. */
int skiff_frame_encode(const Skiff__Frame *frame, uint8_t **ret, size_t *ret_len);

/* Like skiff_frame_decode() but keeps frames whose type is not a known
 * MsgType, so a connection can answer them with an error naming the type. */
int skiff_frame_decode_any(const uint8_t *buf, size_t len, size_t max_frame, Skiff__Frame **ret,
			   size_t *ret_consumed);

/* "MSG_LIST" for SKIFF__MSG_TYPE__MSG_LIST; NULL for an unknown type. */
const char *skiff_rpc_msg_type_name(int type);

/* ---- peers, connections, calls ---------------------------------------- */

struct skiff_rpc_peer {
	char name[256];	 /* certificate CN */
	char role[32];	 /* certificate OU: "admin", "node", "server", "" (no certificate) */
	char addr[64];	 /* "ip:port" */
	char serial[72]; /* certificate serial, lower-case hex ("" when none) */
	/* insecure_plaintext connection: no identity at all, and the server
	 * does not apply the JOIN-only rule (there is nothing to check); what
	 * such a peer may do is the application's decision */
	bool plaintext;
};

struct skiff_rpc_conn;	 /* one connection (client or server side) */
struct skiff_rpc_server; /* a listening server */
struct skiff_rpc_call;	 /* an incoming request being answered */

/* An incoming request. Answer with exactly one of skiff_rpc_call_reply(),
 * skiff_rpc_call_error(), or a stream of skiff_rpc_call_stream() closed by
 * skiff_rpc_call_end(); each of reply/error/end frees the call. A handler may
 * keep the call and answer later (watch, proxied logs); it must then set a
 * cancel callback, which runs when the peer cancels or the connection closes,
 * after which the call is freed and must not be used. */
/* A FLAG_ONEWAY message also arrives here (request->flags tells); answering
 * it sends nothing. Its call is freed when the handler returns unless the
 * handler set a cancel callback (kept it), exactly like a request's. MSG_PING is
 * answered by the connection itself and never reaches a handler; neither do
 * unknown types, nor (server side) anything but MSG_JOIN from a peer without
 * a certificate. */
typedef void (*skiff_rpc_handler_fn)(struct skiff_rpc_call *call, const Skiff__Frame *request,
				     void *userdata);
/* The connection is closing (reason: 0 orderly, or -errno); the conn pointer
 * is valid during the callback only. */
typedef void (*skiff_rpc_close_fn)(struct skiff_rpc_conn *conn, int reason, void *userdata);
/* A reply or stream item arrived for a request we sent. err < 0 on failure
 * (-ETIMEDOUT, -ECONNRESET, -ECANCELED, or -code from the peer's Error with
 * errmsg set); frame is NULL then. For streams the callback runs once per item
 * (frame->flags has FLAG_STREAM) and once more at the end (FLAG_END, or err<0);
 * after a reply, an end or an error it is never called again for that id. */
typedef void (*skiff_rpc_reply_fn)(struct skiff_rpc_conn *conn, int err, const char *errmsg,
				   const Skiff__Frame *frame, void *userdata);

const struct skiff_rpc_peer *skiff_rpc_call_peer(struct skiff_rpc_call *call);
struct skiff_rpc_conn *skiff_rpc_call_conn(struct skiff_rpc_call *call);
uint64_t skiff_rpc_call_id(struct skiff_rpc_call *call);
/* msg may be NULL for an empty payload. */
int skiff_rpc_call_reply(struct skiff_rpc_call *call, const ProtobufCMessage *msg);
int skiff_rpc_call_error(struct skiff_rpc_call *call, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int skiff_rpc_call_stream(struct skiff_rpc_call *call, const ProtobufCMessage *msg);
int skiff_rpc_call_end(struct skiff_rpc_call *call, int err, const char *errmsg);
void skiff_rpc_call_set_cancel(struct skiff_rpc_call *call,
			       void (*fn)(struct skiff_rpc_call *call, void *userdata),
			       void *userdata);
/* How a call ended, for code beside its handler (rate limits, audit): fn runs
 * once, when the call is answered (err 0 for a reply or a clean end, else the
 * error sent and its message) or goes away unanswered (-ECANCELED). The call
 * must not be used from fn. */
typedef void (*skiff_rpc_observer_fn)(struct skiff_rpc_call *call, int err, const char *errmsg,
				      void *userdata);
void skiff_rpc_call_set_observer(struct skiff_rpc_call *call, skiff_rpc_observer_fn fn,
				 void *userdata);

/* Send a request; cb gets the reply, the stream items, or the failure.
 * timeout_ms <= 0 means no timeout (streams usually); for a stream it covers
 * the wait for the first item. On timeout the peer is sent FLAG_CANCEL.
 * Requests may be sent before the connection is up (they are queued). */
int skiff_rpc_request(struct skiff_rpc_conn *conn, Skiff__MsgType type, const ProtobufCMessage *msg,
		      int timeout_ms, skiff_rpc_reply_fn cb, void *userdata, uint64_t *ret_id);
/* Stop a stream we requested; cb is called once more with -ECANCELED. */
int skiff_rpc_cancel(struct skiff_rpc_conn *conn, uint64_t id);
/* A message that expects no reply (FLAG_ONEWAY). */
int skiff_rpc_send_oneway(struct skiff_rpc_conn *conn, Skiff__MsgType type,
			  const ProtobufCMessage *msg);
/* Close now: pending requests get -ECANCELED, live calls are cancelled, the
 * close callback runs, the conn is freed. Safe from inside callbacks. */
void skiff_rpc_conn_close(struct skiff_rpc_conn *conn);
const struct skiff_rpc_peer *skiff_rpc_conn_peer(struct skiff_rpc_conn *conn);
void skiff_rpc_conn_set_userdata(struct skiff_rpc_conn *conn, void *userdata);
void *skiff_rpc_conn_get_userdata(struct skiff_rpc_conn *conn);
/* Bytes queued for sending (for producers that should slow down; a peer
 * that lets more than 64 MiB pile up is disconnected). */
size_t skiff_rpc_conn_output_pending(struct skiff_rpc_conn *conn);
/* false once the connection is closing: a reply callback that gets an error
 * tells "the peer said no" (open) from "the connection is gone" (closing). */
bool skiff_rpc_conn_is_open(struct skiff_rpc_conn *conn);

/* ---- server ------------------------------------------------------------ */

struct skiff_rpc_server_config {
	const char *listen;	 /* "ADDR:PORT"; port 0 picks a free one */
	SSL_CTX *tls;		 /* from skiff_tls_server_ctx(); NULL only with insecure */
	bool insecure_plaintext; /* debugging only; logged loudly */
	int keepalive_ms;	 /* 0: SKIFF_RPC_DEFAULT_KEEPALIVE_MS */
	/* The edge; 0 takes the SKIFF_RPC_DEFAULT_* value. A connection is
	 * unauthenticated until its TLS handshake ends with a client
	 * certificate (one without, a joiner, stays so). Unauthenticated
	 * connections are capped apart from the others, per address (IPv4,
	 * or IPv6 /64) and server-wide: one more over a cap closes the oldest
	 * of its address, or the oldest of all, so a real client always gets
	 * in. Authenticated (and plaintext) ones over max_conns are refused
	 * with an Error frame ("too many connections (limit N)"). */
	int max_conns;		    /* authenticated connections (4096) */
	int max_unauth;		    /* unauthenticated connections in all (1024) */
	int max_unauth_per_addr;    /* unauthenticated connections from one address (64) */
	int handshake_timeout_ms;   /* accept to the end of the TLS handshake (5000) */
	int first_frame_timeout_ms; /* the end of the handshake to the peer's first frame (10000) */
	skiff_rpc_handler_fn handler;
	skiff_rpc_close_fn on_close;
	/* optional; runs once the connection is up (after the TLS handshake),
	 * when the peer's identity is known */
	void (*on_accept)(struct skiff_rpc_conn *conn, void *userdata);
	/* optional; a client was refused: its TLS handshake failed (another
	 * CA, an expired certificate…) or it sent a request that needs a
	 * certificate without one. addr is "IP:PORT", why a sentence. The
	 * library logs at debug level only: this is where the application
	 * logs refusals (the brain at warn). */
	void (*on_refused)(const char *addr, const char *why, void *userdata);
	void *userdata;
};

/* The server takes its own reference to cfg->tls. handler, on_close,
 * on_accept and on_refused get cfg->userdata; per-connection state goes in
 * skiff_rpc_conn_set_userdata(). */
int skiff_rpc_server_new(struct event_base *base, const struct skiff_rpc_server_config *cfg,
			 struct skiff_rpc_server **ret);
/* Closes every connection: on_close runs for each (reason 0) and live calls
 * are cancelled, as for skiff_rpc_conn_close(). */
void skiff_rpc_server_free(struct skiff_rpc_server *server);
int skiff_rpc_server_port(struct skiff_rpc_server *server);

/* What the edge did, for the application to report (the library logs at
 * debug level only). Counters run from the server's start. */
struct skiff_rpc_server_stats {
	int conns;		     /* authenticated (or plaintext) connections open */
	int unauthenticated;	     /* unauthenticated connections open */
	uint64_t evicted;	     /* unauthenticated ones closed to make room */
	uint64_t handshake_timeouts; /* TLS handshakes not done in time */
	uint64_t idle_timeouts;	     /* no frame in time after the handshake */
	uint64_t refused;	     /* over max_conns */
};
void skiff_rpc_server_get_stats(struct skiff_rpc_server *server,
				struct skiff_rpc_server_stats *ret);

/* ---- client ------------------------------------------------------------ */

struct skiff_rpc_client_config {
	const char *server; /* "HOST:PORT" */
	SSL_CTX *tls;	    /* from skiff_tls_client_ctx(); NULL only with insecure */
	bool insecure_plaintext;
	int connect_timeout_ms;	      /* 0: 5000 */
	int keepalive_ms;	      /* 0: SKIFF_RPC_DEFAULT_KEEPALIVE_MS */
	skiff_rpc_handler_fn handler; /* requests the server sends us (may be NULL) */
	skiff_rpc_close_fn on_close;
	void *userdata;
};

/* Start connecting; on_connected runs once with the conn (err 0) or an error
 * (err < 0, errmsg says why: refused, TLS verification failed, timeout…; the
 * conn argument is then NULL and the conn is freed right after the callback;
 * on_close is not called for a connection that never came up).
 * on_connected and the handlers get cfg->userdata. The caller keeps its
 * reference to cfg->tls (free it whenever). */
int skiff_rpc_connect(struct event_base *base, const struct skiff_rpc_client_config *cfg,
		      void (*on_connected)(struct skiff_rpc_conn *conn, int err, const char *errmsg,
					   void *userdata),
		      struct skiff_rpc_conn **ret);

/* ---- blocking client (skiffctl, tests) --------------------------------- */

struct skiff_rpc_sync;
/* Connect with its own event_base; on failure *ret_errmsg (free()) says why.
 * The loop runs only inside the calls below, so the server's keepalive drops
 * a client left idle for more than 3 server intervals (6 s by default); the
 * next call then fails with "connection … lost" and the caller reconnects. */
int skiff_rpc_sync_connect(const struct skiff_rpc_client_config *cfg, struct skiff_rpc_sync **ret,
			   char **ret_errmsg);
/* One request, one reply: *ret_reply is the reply frame
 * (skiff__frame__free_unpacked()). */
int skiff_rpc_sync_call(struct skiff_rpc_sync *s, Skiff__MsgType type, const ProtobufCMessage *msg,
			int timeout_ms, Skiff__Frame **ret_reply, char **ret_errmsg);
/* A streaming request: on_item runs per item until the end; a negative
 * return from on_item cancels the stream and is returned. */
int skiff_rpc_sync_stream(struct skiff_rpc_sync *s, Skiff__MsgType type,
			  const ProtobufCMessage *msg,
			  int (*on_item)(const Skiff__Frame *item, void *userdata), void *userdata,
			  char **ret_errmsg);
/* The server's identity (from its certificate); NULL once disconnected. */
const struct skiff_rpc_peer *skiff_rpc_sync_peer(struct skiff_rpc_sync *s);
/* Its event_base and connection (NULL once disconnected), for a caller that
 * watches more fds (skiffctl exec's stdin) while a stream runs. */
struct event_base *skiff_rpc_sync_base(struct skiff_rpc_sync *s);
struct skiff_rpc_conn *skiff_rpc_sync_conn(struct skiff_rpc_sync *s);
void skiff_rpc_sync_free(struct skiff_rpc_sync *s);

/* Join a cluster with a join token, blocking (hollow nodes, tests; the agent
 * joins on its own loop): check the brain by the CA digest pinned in the
 * token, send MSG_JOIN with a CSR of a fresh key for node_name, and return the
 * key, the node certificate and the CA certificate (PEM, caller frees).
 * Returns -EINVAL for a malformed token, -EACCES when the brain refuses it;
 * *ret_errmsg (free()) says why. */
int skiff_rpc_sync_join(const char *server, const char *token, const char *node_name,
			char **ret_key, char **ret_cert, char **ret_ca, char **ret_errmsg);
/* The same with an existing key (PEM; NULL: a fresh one), as a node whose
 * join waits for approval, or that proves it holds its node's key, does. */
int skiff_rpc_sync_join_key(const char *server, const char *token, const char *node_name,
			    const char *key_pem, char **ret_key, char **ret_cert, char **ret_ca,
			    char **ret_errmsg);

#endif
