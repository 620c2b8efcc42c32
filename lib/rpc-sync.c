/* rpc-sync.c — the blocking RPC client (skiffctl, tests): one connection on
 * its own event_base, run only while a call is waiting for its answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "pki.h"
#include "rpc.h"
#include "util.h"

struct skiff_rpc_sync {
	struct event_base *base;
	struct skiff_rpc_conn *conn;
	char *close_msg;
	skiff_rpc_handler_fn handler;
	void *userdata;
	struct wait *connecting;
};

struct wait {
	bool done;
	int err;
	char *errmsg;
	Skiff__Frame *reply;
	/* streams */
	struct skiff_rpc_sync *s;
	uint64_t id;
	int (*on_item)(const Skiff__Frame *item, void *userdata);
	void *userdata;
	int item_err;
};

static Skiff__Frame *frame_copy(const Skiff__Frame *f)
{
	size_t n = skiff__frame__get_packed_size(f);
	uint8_t *buf = xmalloc(n ? n : 1);
	Skiff__Frame *copy;

	skiff__frame__pack(f, buf);
	copy = skiff__frame__unpack(NULL, n, buf);
	free(buf);
	if (!copy)
		abort();
	return copy;
}

static void sync_on_close(struct skiff_rpc_conn *conn, int reason, void *userdata)
{
	struct skiff_rpc_sync *s = userdata;
	(void)conn;
	if (!s->close_msg)
		s->close_msg = reason < 0 ? xasprintf("connection closed: %s", strerror(-reason))
					  : xstrdup("connection closed");
	s->conn = NULL;
}

static void sync_handler(struct skiff_rpc_call *call, const Skiff__Frame *request, void *userdata)
{
	struct skiff_rpc_sync *s = userdata;
	s->handler(call, request, s->userdata);
}

static void on_connected(struct skiff_rpc_conn *conn, int err, const char *errmsg, void *userdata)
{
	struct skiff_rpc_sync *s = userdata;
	struct wait *w = s->connecting;
	(void)conn;
	w->done = true;
	w->err = err;
	if (err < 0) {
		w->errmsg = xstrdup(errmsg ? errmsg : strerror(-err));
		s->conn = NULL; /* freed once we return */
	}
}

static void run_until(struct skiff_rpc_sync *s, struct wait *w)
{
	while (!w->done)
		if (event_base_loop(s->base, EVLOOP_ONCE) < 0)
			break;
	/* the loop stops with the answer: send what is still queued (a
	 * cancel, a keepalive answer) while the socket takes it */
	for (int i = 0; i < 100 && s->conn && skiff_rpc_conn_output_pending(s->conn) > 0; i++)
		event_base_loop(s->base, EVLOOP_NONBLOCK);
}

void skiff_rpc_sync_free(struct skiff_rpc_sync *s)
{
	if (!s)
		return;
	if (s->conn)
		skiff_rpc_conn_close(s->conn);
	if (s->base)
		event_base_free(s->base);
	free(s->close_msg);
	free(s);
}

int skiff_rpc_sync_connect(const struct skiff_rpc_client_config *cfg, struct skiff_rpc_sync **ret,
			   char **ret_errmsg)
{
	struct skiff_rpc_client_config c = *cfg;
	struct skiff_rpc_sync *s = xcalloc(1, sizeof(*s));
	struct wait w = { 0 };
	int r;

	s->base = event_base_new();
	if (!s->base) {
		free(s);
		return -ENOMEM;
	}
	s->handler = cfg->handler;
	s->userdata = cfg->userdata;
	c.handler = cfg->handler ? sync_handler : NULL;
	c.on_close = sync_on_close;
	c.userdata = s;
	s->connecting = &w;
	r = skiff_rpc_connect(s->base, &c, on_connected, &s->conn);
	if (r < 0) {
		if (ret_errmsg)
			*ret_errmsg =
			    r == -EINVAL && !cfg->tls && !cfg->insecure_plaintext
				? xstrdup("no TLS context given (and insecure_plaintext not set)")
				: xasprintf("cannot connect to %s: %s",
					    cfg->server ? cfg->server : "(no server)",
					    strerror(-r));
		s->conn = NULL;
		skiff_rpc_sync_free(s);
		return r;
	}
	run_until(s, &w);
	s->connecting = NULL;
	if (w.err < 0) {
		s->conn = NULL; /* freed by the failed connect */
		if (ret_errmsg)
			*ret_errmsg = w.errmsg;
		else
			free(w.errmsg);
		skiff_rpc_sync_free(s);
		return w.err;
	}
	*ret = s;
	return 0;
}

static int not_connected(struct skiff_rpc_sync *s, char **ret_errmsg)
{
	if (ret_errmsg)
		*ret_errmsg = xstrdup(s->close_msg ? s->close_msg : "not connected");
	return -ENOTCONN;
}

static void call_cb(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		    const Skiff__Frame *frame, void *userdata)
{
	struct wait *w = userdata;
	(void)conn;
	w->done = true;
	w->err = err;
	if (err < 0)
		w->errmsg = xstrdup(errmsg ? errmsg : strerror(-err));
	else
		w->reply = frame_copy(frame);
}

int skiff_rpc_sync_call(struct skiff_rpc_sync *s, Skiff__MsgType type, const ProtobufCMessage *msg,
			int timeout_ms, Skiff__Frame **ret_reply, char **ret_errmsg)
{
	struct wait w = { 0 };
	int r;

	if (!s->conn)
		return not_connected(s, ret_errmsg);
	r = skiff_rpc_request(s->conn, type, msg,
			      timeout_ms > 0 ? timeout_ms : SKIFF_RPC_DEFAULT_TIMEOUT_MS, call_cb,
			      &w, NULL);
	if (r < 0) {
		if (ret_errmsg)
			*ret_errmsg =
			    xasprintf("cannot send %s: %s",
				      skiff_rpc_msg_type_name(type) ? skiff_rpc_msg_type_name(type)
								    : "request",
				      strerror(-r));
		return r;
	}
	run_until(s, &w);
	if (w.err < 0) {
		if (ret_errmsg)
			*ret_errmsg = w.errmsg;
		else
			free(w.errmsg);
		return w.err;
	}
	if (ret_reply)
		*ret_reply = w.reply;
	else
		skiff__frame__free_unpacked(w.reply, NULL);
	return 0;
}

static void stream_cb(struct skiff_rpc_conn *conn, int err, const char *errmsg,
		      const Skiff__Frame *frame, void *userdata)
{
	struct wait *w = userdata;

	if (w->done)
		return;
	if (err == 0 && frame && (frame->flags & SKIFF__FRAME_FLAG__FLAG_STREAM)) {
		int r = w->on_item(frame, w->userdata);
		if (r < 0) {
			w->item_err = r;
			w->done = true;
			skiff_rpc_cancel(conn, w->id);
		}
		return;
	}
	w->done = true;
	w->err = err;
	if (err < 0)
		w->errmsg = xstrdup(errmsg ? errmsg : strerror(-err));
}

int skiff_rpc_sync_stream(struct skiff_rpc_sync *s, Skiff__MsgType type,
			  const ProtobufCMessage *msg,
			  int (*on_item)(const Skiff__Frame *item, void *userdata), void *userdata,
			  char **ret_errmsg)
{
	struct wait w = { .s = s, .on_item = on_item, .userdata = userdata };
	int r;

	if (!s->conn)
		return not_connected(s, ret_errmsg);
	r = skiff_rpc_request(s->conn, type, msg, 0, stream_cb, &w, &w.id);
	if (r < 0) {
		if (ret_errmsg)
			*ret_errmsg = xasprintf("cannot send request: %s", strerror(-r));
		return r;
	}
	run_until(s, &w);
	if (w.item_err < 0) {
		free(w.errmsg);
		return w.item_err;
	}
	if (w.err < 0) {
		if (ret_errmsg)
			*ret_errmsg = w.errmsg;
		else
			free(w.errmsg);
		return w.err;
	}
	return 0;
}

struct event_base *skiff_rpc_sync_base(struct skiff_rpc_sync *s)
{
	return s->base;
}

struct skiff_rpc_conn *skiff_rpc_sync_conn(struct skiff_rpc_sync *s)
{
	return s->conn;
}

const struct skiff_rpc_peer *skiff_rpc_sync_peer(struct skiff_rpc_sync *s)
{
	return s->conn ? skiff_rpc_conn_peer(s->conn) : NULL;
}

int skiff_rpc_sync_join(const char *server, const char *token, const char *node_name,
			char **ret_key, char **ret_cert, char **ret_ca, char **ret_errmsg)
{
	return skiff_rpc_sync_join_key(server, token, node_name, NULL, ret_key, ret_cert, ret_ca,
				       ret_errmsg);
}

int skiff_rpc_sync_join_key(const char *server, const char *token, const char *node_name,
			    const char *key_pem, char **ret_key, char **ret_cert, char **ret_ca,
			    char **ret_errmsg)
{
	char digest[65], secret[33];
	_cleanup_free_ char *key = NULL, *csr = NULL;
	struct skiff_rpc_sync *s = NULL;
	Skiff__Frame *reply = NULL;
	SSL_CTX *tls = NULL;
	int r;

	r = skiff_token_parse(token, digest, secret);
	if (r < 0) {
		*ret_errmsg = xstrdup("not a Skiff join token (SKIFF-1-<digest>-<secret>)");
		return r;
	}
	r = skiff_tls_client_ctx_pinned(digest, &tls);
	if (r < 0) {
		*ret_errmsg = xasprintf("TLS: %s", strerror(-r));
		return r;
	}
	struct skiff_rpc_client_config cc = { .server = server, .tls = tls };
	r = skiff_rpc_sync_connect(&cc, &s, ret_errmsg);
	SSL_CTX_free(tls);
	if (r < 0)
		return r;
	if (key_pem) {
		key = xstrdup(key_pem);
		r = skiff_pki_csr_for_key(node_name, key, &csr);
	} else
		r = skiff_pki_key_and_csr(node_name, &key, &csr);
	if (r < 0) {
		skiff_rpc_sync_free(s);
		*ret_errmsg = xasprintf("cannot make a key and CSR: %s", strerror(-r));
		return r;
	}
	Skiff__JoinRequest jr = SKIFF__JOIN_REQUEST__INIT;
	jr.token = (char *)token;
	jr.node_name = (char *)node_name;
	jr.csr_pem.data = (uint8_t *)csr;
	jr.csr_pem.len = strlen(csr);
	r = skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_JOIN, &jr.base, 10000, &reply, ret_errmsg);
	skiff_rpc_sync_free(s);
	if (r < 0)
		return r;
	Skiff__JoinResponse *resp =
	    skiff__join_response__unpack(NULL, reply->payload.len, reply->payload.data);
	skiff__frame__free_unpacked(reply, NULL);
	if (!resp || !resp->cert_pem.len || !resp->ca_pem.len) {
		if (resp)
			skiff__join_response__free_unpacked(resp, NULL);
		*ret_errmsg = xstrdup("the brain sent a JoinResponse without certificates");
		return -EBADMSG;
	}
	*ret_cert = xstrndup((char *)resp->cert_pem.data, resp->cert_pem.len);
	*ret_ca = xstrndup((char *)resp->ca_pem.data, resp->ca_pem.len);
	*ret_key = TAKE_PTR(key);
	skiff__join_response__free_unpacked(resp, NULL);
	return 0;
}
