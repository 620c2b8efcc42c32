/* ctl.h — what skiffctl's verbs share: finding the cluster config, one
 * blocking connection to the brain, calls that print the brain's reason on
 * failure, and the exit codes (0 ok, 1 refused or failed, 2 usage). */
#ifndef SKIFF_CTL_CTL_H
#define SKIFF_CTL_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "output.h"
#include "skiff.pb-c.h"

#define CTL_OK	  0
#define CTL_FAIL  1
#define CTL_USAGE 2

/* Set by main from --config. */
extern const char *ctl_config_flag;
/* Set by main from -n/--namespace NS and -A/--all-namespaces (any verb
 * that takes namespaced objects; NULL: not given). */
extern const char *ctl_namespace_flag;
extern bool ctl_all_namespaces;
/* The namespace requests of namespaced kinds name: -n, else "default". */
const char *ctl_namespace(void);
/* The namespace a request names for kind: ctl_namespace() for namespaced
 * kinds, "" for cluster-scoped ones. */
const char *ctl_ns_for(const struct skiff_kind *kind);
/* Items per LIST page asked by ctl_list() (0: as many as fit in a frame). */
extern uint32_t ctl_list_page_limit;

/* The config file to use: --config, then $SKIFF_CONFIG, then ~/.skiff/config.
 * Returns a new string (free()) or NULL when none of them exists, with
 * *ret_looked describing where it looked (free()). */
char *ctl_config_find(char **ret_looked);

/* Connect once (later calls reuse the connection). On failure prints one
 * line to stderr and returns CTL_FAIL. */
int ctl_connect(void);
void ctl_disconnect(void);

/* One request; *ret_reply gets the unpacked reply payload (message of
 * reply_desc; NULL desc: none). On failure prints "error: <reason>" and
 * returns CTL_FAIL; 0 on success. */
int ctl_call(Skiff__MsgType type, const ProtobufCMessage *msg,
	     const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **ret_reply);
/* Like ctl_call but on failure returns -errno and the reason in *ret_errmsg
 * without printing. */
int ctl_call_quiet(Skiff__MsgType type, const ProtobufCMessage *msg,
		   const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **ret_reply,
		   char **ret_errmsg);
/* A stream: on_item gets each item's payload; return < 0 from it to stop
 * (CTL_STREAM_STOP stops without error). */
#define CTL_STREAM_STOP (-ECANCELED)
int ctl_stream(Skiff__MsgType type, const ProtobufCMessage *msg,
	       int (*on_item)(const Skiff__Frame *item, void *userdata), void *userdata);

/* The connection of ctl_connect() (NULL before or after it). */
struct skiff_rpc_sync;
struct skiff_rpc_sync *ctl_sync(void);

int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* CTL_FAIL */
int ctl_usage_error(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))); /* CTL_USAGE */

/* "deployment/web" or ("deployment", "web"): consumes 1 or 2 of args.
 * Returns the number consumed, or -EINVAL after printing a usage error. */
int ctl_kind_name(const char *verb, int argc, char **argv, const struct skiff_kind **ret_kind,
		  const char **ret_name);
/* Check "-l SELECTOR" (lib/selector.h) and give its key=value requirements
 * as a KeyValue list (caller frees with ctl_kv_free). -EINVAL with
 * *ret_errmsg (free()) when it does not parse. */
int ctl_parse_selector(const char *s, Skiff__KeyValue ***ret, size_t *ret_n, char **ret_errmsg);
void ctl_kv_free(Skiff__KeyValue **kv, size_t n);

/* Fetch one object (CTL_FAIL printed on failure). */
int ctl_get_object(const struct skiff_kind *kind, const char *name, Skiff__Object **ret);
/* List objects (ListRequest fields; selector: -l's text, or NULL). */
int ctl_list(const struct skiff_kind *kind, Skiff__KeyValue **sel, size_t n_sel,
	     const char *selector, const char *node_name, const char *object_name,
	     Skiff__ListResponse **ret);

/* One pod of a deployment (a running one, the first by name), as kubectl
 * picks for logs and exec; says which on stderr when there are several.
 * *ret is owned by the caller. CTL_FAIL (printed) when there is none. */
int ctl_pick_pod(const char *deployment, char **ret);

/* Send obj through MSG_APPLY (create_only: refuse an existing one);
 * *ret_result: the brain's result word (free()). CTL_FAIL printed. */
int ctl_apply_object(Skiff__Object *obj, bool create_only, bool dry_run, char **ret_result);
/* rollout restart|pause|resume of a deployment. */
int ctl_rollout_change(const char *action, const char *name);

/* verbs */
int cmd_apply(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_create(int argc, char **argv); /* create namespace NAME */
int cmd_get(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_scale(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_node_action(int argc, char **argv); /* cordon, uncordon, drain */
int cmd_version(int argc, char **argv);
int cmd_token(int argc, char **argv);	    /* create, list, delete */
int cmd_certificate(int argc, char **argv); /* list, approve, deny, revoke */
int cmd_config(int argc, char **argv);	    /* new-admin */
int cmd_image(int argc, char **argv);	    /* load, ls, rm */
int cmd_label(int argc, char **argv);	    /* label, annotate */
int cmd_set(int argc, char **argv);	    /* set image */
int cmd_run(int argc, char **argv);

/* Print the help of a verb (NULL: the overview) to stdout. */
void ctl_help(const char *verb);

#endif
