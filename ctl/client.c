/* client.c — skiffctl's way to the brain: the config file (--config,
 * $SKIFF_CONFIG, ~/.skiff/config), one mutual-TLS connection, and calls whose
 * failures print the brain's reason. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "pki.h"
#include "rpc.h"
#include "selector.h"
#include "util.h"

const char *ctl_config_flag;
uint32_t ctl_list_page_limit;

static struct skiff_rpc_sync *conn;
static char *conn_server;

int ctl_error(const char *fmt, ...)
{
	va_list ap;
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_FAIL;
}

int ctl_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (verb)
		fprintf(stderr, "\nSee 'skiffctl %s --help'.\n", verb);
	else
		fputs("\nSee 'skiffctl help'.\n", stderr);
	return CTL_USAGE;
}

char *ctl_config_find(char **ret_looked)
{
	const char *env = getenv("SKIFF_CONFIG"), *home = getenv("HOME");

	if (ctl_config_flag) {
		*ret_looked = xasprintf("--config %s", ctl_config_flag);
		return access(ctl_config_flag, F_OK) == 0 ? xstrdup(ctl_config_flag) : NULL;
	}
	if (env && *env) {
		*ret_looked = xasprintf("$SKIFF_CONFIG (%s)", env);
		return access(env, F_OK) == 0 ? xstrdup(env) : NULL;
	}
	_cleanup_free_ char *path = xasprintf("%s/.skiff/config", home && *home ? home : "/root");
	*ret_looked = xasprintf("--config, $SKIFF_CONFIG and %s", path);
	return access(path, F_OK) == 0 ? TAKE_PTR(path) : NULL;
}

int ctl_connect(void)
{
	_cleanup_free_ char *looked = NULL, *path = NULL, *errmsg = NULL;
	struct skiff_client_config cfg = { 0 };
	SSL_CTX *tls = NULL;
	int r;

	if (conn)
		return 0;
	path = ctl_config_find(&looked);
	if (!path)
		return ctl_error("no cluster config: looked at %s; start skiff-orchestrator and "
				 "`export SKIFF_CONFIG=<data-dir>/admin.conf` (or copy that file "
				 "to ~/.skiff/config)",
				 looked);
	r = skiff_client_config_read(path, &cfg, &errmsg);
	if (r < 0)
		return ctl_error("%s (skiff-orchestrator writes a good one to "
				 "<data-dir>/admin.conf)",
				 errmsg ? errmsg : strerror(-r));
	r = skiff_tls_client_ctx(cfg.ca_pem, cfg.cert_pem, cfg.key_pem, &tls);
	if (r < 0) {
		skiff_client_config_clear(&cfg);
		return ctl_error("%s: unusable certificates or key: %s", path, strerror(-r));
	}
	struct skiff_rpc_client_config c = {
		.server = cfg.server,
		.tls = tls,
		.connect_timeout_ms = 5000,
	};
	r = skiff_rpc_sync_connect(&c, &conn, &errmsg);
	SSL_CTX_free(tls);
	if (r < 0) {
		int ret = ctl_error("cannot reach the brain at %s (from %s): %s", cfg.server, path,
				    errmsg ? errmsg : strerror(-r));
		skiff_client_config_clear(&cfg);
		return ret;
	}
	conn_server = xstrdup(cfg.server);
	skiff_client_config_clear(&cfg);
	return 0;
}

void ctl_disconnect(void)
{
	skiff_rpc_sync_free(conn);
	conn = NULL;
	free(conn_server);
	conn_server = NULL;
}

int ctl_call_quiet(Skiff__MsgType type, const ProtobufCMessage *msg,
		   const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **ret_reply,
		   char **ret_errmsg)
{
	Skiff__Frame *reply = NULL;
	int r;

	r = skiff_rpc_sync_call(conn, type, msg, 0, &reply, ret_errmsg);
	if (r < 0)
		return r;
	if (reply_desc) {
		ProtobufCMessage *m = protobuf_c_message_unpack(
		    reply_desc, NULL, reply->payload.len, reply->payload.data);
		skiff__frame__free_unpacked(reply, NULL);
		if (!m) {
			*ret_errmsg = xasprintf("the brain's reply to %s does not unpack as %s",
						skiff_rpc_msg_type_name(type), reply_desc->name);
			return -EBADMSG;
		}
		*ret_reply = m;
	} else {
		skiff__frame__free_unpacked(reply, NULL);
	}
	return 0;
}

int ctl_call(Skiff__MsgType type, const ProtobufCMessage *msg,
	     const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **ret_reply)
{
	_cleanup_free_ char *errmsg = NULL;
	int r = ctl_connect();
	if (r)
		return r;
	r = ctl_call_quiet(type, msg, reply_desc, ret_reply, &errmsg);
	if (r < 0)
		return ctl_error("%s", errmsg ? errmsg : strerror(-r));
	return 0;
}

struct skiff_rpc_sync *ctl_sync(void)
{
	return conn;
}

int ctl_stream(Skiff__MsgType type, const ProtobufCMessage *msg,
	       int (*on_item)(const Skiff__Frame *item, void *userdata), void *userdata)
{
	_cleanup_free_ char *errmsg = NULL;
	int r = ctl_connect();
	if (r)
		return r;
	r = skiff_rpc_sync_stream(conn, type, msg, on_item, userdata, &errmsg);
	if (r == CTL_STREAM_STOP)
		return 0;
	if (r < 0)
		return ctl_error("%s", errmsg ? errmsg : strerror(-r));
	return 0;
}

int ctl_kind_name(const char *verb, int argc, char **argv, const struct skiff_kind **ret_kind,
		  const char **ret_name)
{
	if (argc < 1) {
		ctl_usage_error(verb, "expected KIND NAME or KIND/NAME");
		return -EINVAL;
	}
	const char *slash = strchr(argv[0], '/');
	if (slash) {
		_cleanup_free_ char *k = xstrndup(argv[0], (size_t)(slash - argv[0]));
		*ret_kind = skiff_kind_lookup(k);
		*ret_name = slash + 1;
		if (!*ret_kind) {
			ctl_usage_error(verb,
					"unknown kind \"%s\" (nodes, pods, deployments, "
					"services, events)",
					k);
			return -EINVAL;
		}
		return 1;
	}
	*ret_kind = skiff_kind_lookup(argv[0]);
	if (!*ret_kind) {
		ctl_usage_error(verb,
				"unknown kind \"%s\" (nodes, pods, deployments, services, "
				"events)",
				argv[0]);
		return -EINVAL;
	}
	if (argc < 2) {
		ctl_usage_error(verb, "expected a name after \"%s\"", argv[0]);
		return -EINVAL;
	}
	*ret_name = argv[1];
	return 2;
}

int ctl_parse_selector(const char *s, Skiff__KeyValue ***ret, size_t *ret_n, char **ret_errmsg)
{
	_cleanup_(skiff_selector_clear) struct skiff_selector sel = { 0 };
	int r = skiff_selector_parse(s, &sel, ret_errmsg);
	if (r < 0)
		return r;
	*ret = skiff_selector_equalities(&sel, ret_n);
	return 0;
}

void ctl_kv_free(Skiff__KeyValue **kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		skiff__key_value__free_unpacked(kv[i], NULL);
	free(kv);
}

const char *ctl_namespace_flag;
bool ctl_all_namespaces;

const char *ctl_namespace(void)
{
	return ctl_namespace_flag ? ctl_namespace_flag : "default";
}

const char *ctl_ns_for(const struct skiff_kind *kind)
{
	return kind && kind->namespaced ? ctl_namespace() : "";
}

int ctl_get_object(const struct skiff_kind *kind, const char *name, Skiff__Object **ret)
{
	Skiff__GetRequest req = SKIFF__GET_REQUEST__INIT;
	req.kind = (char *)kind->name;
	req.name = (char *)name;
	req.namespace_ = (char *)ctl_ns_for(kind);
	return ctl_call(SKIFF__MSG_TYPE__MSG_GET, &req.base, &skiff__object__descriptor,
			(ProtobufCMessage **)ret);
}

int ctl_list(const struct skiff_kind *kind, Skiff__KeyValue **sel, size_t n_sel,
	     const char *selector, const char *node_name, const char *object_name,
	     Skiff__ListResponse **ret)
{
	Skiff__ListRequest req = SKIFF__LIST_REQUEST__INIT;
	req.kind = (char *)kind->name;
	if (selector)
		req.selector = (char *)selector;
	req.label_selector = sel;
	req.n_label_selector = n_sel;
	if (node_name)
		req.node_name = (char *)node_name;
	if (object_name)
		req.object_name = (char *)object_name;
	/* -A: every namespace (the brain lists them all for "") */
	req.namespace_ = ctl_all_namespaces ? "" : (char *)ctl_ns_for(kind);
	req.limit = ctl_list_page_limit;
	/* Pages (as kubectl does): the brain caps each reply below the frame
	 * limit and answers every page at the first page's revision; the items
	 * are gathered into the first reply. */
	Skiff__ListResponse *all = NULL;
	for (;;) {
		Skiff__ListResponse *page = NULL;
		int r = ctl_call(SKIFF__MSG_TYPE__MSG_LIST, &req.base,
				 &skiff__list_response__descriptor, (ProtobufCMessage **)&page);
		if (r) {
			if (all)
				skiff__list_response__free_unpacked(all, NULL);
			return r;
		}
		if (!all)
			all = page;
		else {
			all->items = xrealloc(all->items,
					      (all->n_items + page->n_items) * sizeof(*all->items));
			memcpy(all->items + all->n_items, page->items,
			       page->n_items * sizeof(*page->items));
			all->n_items += page->n_items;
			page->n_items = 0; /* the items now belong to `all` */
		}
		if (!page->continue_ || !*page->continue_) {
			if (page != all)
				skiff__list_response__free_unpacked(page, NULL);
			break;
		}
		free(req.continue_ != protobuf_c_empty_string ? req.continue_ : NULL);
		req.continue_ = xstrdup(page->continue_);
		if (page != all)
			skiff__list_response__free_unpacked(page, NULL);
	}
	if (req.continue_ != protobuf_c_empty_string)
		free(req.continue_);
	free(all->continue_ != protobuf_c_empty_string ? all->continue_ : NULL);
	all->continue_ = (char *)protobuf_c_empty_string;
	*ret = all;
	return 0;
}
