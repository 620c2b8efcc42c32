/* agents.c — what the brain sends to agents: the Assignment (pods bound to
 * the node, every node's name/address/pod CIDR for routes, every service with
 * its endpoints) as a ONEWAY MSG_ASSIGN on the agent's connection, and
 * skiffctl's MSG_LOGS proxied to the pod's agent as MSG_AGENT_LOGS. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

void daemon_push_assignment(struct brain *b, struct brain_node *n, Skiff__Assignment *a,
			    void *userdata)
{
	(void)userdata;
	(void)b;
	struct skiff_rpc_conn *conn = n->session;
	if (!conn)
		return;
	/* Nodes go out slim: routes need only name, address and pod CIDR. */
	Skiff__Node *slim = xcalloc(a->n_nodes + 1, sizeof(*slim));
	Skiff__ObjectMeta *meta = xcalloc(a->n_nodes + 1, sizeof(*meta));
	Skiff__NodeSpec *spec = xcalloc(a->n_nodes + 1, sizeof(*spec));
	Skiff__NodeStatus *st = xcalloc(a->n_nodes + 1, sizeof(*st));
	Skiff__Node **full = a->nodes;
	Skiff__Node **ptrs = xcalloc(a->n_nodes + 1, sizeof(*ptrs));
	for (size_t i = 0; i < a->n_nodes; i++) {
		skiff__node__init(&slim[i]);
		skiff__object_meta__init(&meta[i]);
		skiff__node_spec__init(&spec[i]);
		skiff__node_status__init(&st[i]);
		meta[i].name = full[i]->metadata->name;
		if (full[i]->spec)
			spec[i].pod_cidr = full[i]->spec->pod_cidr;
		if (full[i]->status) {
			st[i].address = full[i]->status->address;
			st[i].epoch = full[i]->status->epoch;
			st[i].n_conditions = full[i]->status->n_conditions;
			st[i].conditions = full[i]->status->conditions;
		}
		slim[i].metadata = &meta[i];
		slim[i].spec = &spec[i];
		slim[i].status = &st[i];
		ptrs[i] = &slim[i];
	}
	a->nodes = ptrs;
	int r = skiff_rpc_send_oneway(conn, SKIFF__MSG_TYPE__MSG_ASSIGN, &a->base);
	if (r < 0)
		log_warn("node %s: cannot push its assignment (%u pods): %s", n->name,
			 a->base.n_unknown_fields, strerror(-r));
	else
		log_debug("node %s: pushed assignment with %u pods (epoch %llu)", n->name,
			  a->base.n_unknown_fields, (unsigned long long)a->epoch);
	a->nodes = full;
	free(ptrs);
	free(slim);
	free(meta);
	free(spec);
	free(st);
}

struct logs_proxy {
	struct skiff_rpc_call *client; /* NULL once the client went away */
	struct skiff_rpc_conn *agent;
	uint64_t agent_id;
	bool agent_done;
	char *node;
	char *pod;
};

static void logs_proxy_free(struct logs_proxy *p)
{
	free(p->node);
	free(p->pod);
	free(p);
}

static void logs_client_cancel(struct skiff_rpc_call *call, void *userdata)
{
	(void)call;
	struct logs_proxy *p = userdata;
	p->client = NULL;
	if (!p->agent_done)
		skiff_rpc_cancel(p->agent, p->agent_id); /* its callback frees p */
	else
		logs_proxy_free(p);
}

static void logs_from_agent(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			    const Skiff__Frame *frame, void *userdata)
{
	struct logs_proxy *p = userdata;
	if (err == 0 && frame && (frame->flags & SKIFF__FRAME_FLAG__FLAG_STREAM) &&
	    !(frame->flags & SKIFF__FRAME_FLAG__FLAG_END)) {
		if (p->client) {
			Skiff__LogChunk *c =
			    skiff__log_chunk__unpack(NULL, frame->payload.len, frame->payload.data);
			if (c) {
				skiff_rpc_call_stream(p->client, &c->base);
				skiff__log_chunk__free_unpacked(c, NULL);
			}
		}
		return;
	}
	/* the end: a reply, FLAG_END or an error */
	p->agent_done = true;
	if (p->client) {
		skiff_rpc_call_set_cancel(p->client, NULL, NULL);
		if (err < 0 && err != -ECANCELED && !skiff_rpc_conn_is_open(conn)) {
			/* a node lost under `logs -f`: say so, not "connection reset" */
			_cleanup_free_ char *m = xasprintf(
			    "node %s: the agent's connection was lost while sending the logs of "
			    "pod '%s'",
			    p->node, p->pod);
			skiff_rpc_call_end(p->client, -EHOSTDOWN, m);
		} else if (err < 0 && err != -ECANCELED) {
			skiff_rpc_call_end(p->client, err, errmsg ? errmsg : strerror(-err));
		} else {
			skiff_rpc_call_end(p->client, 0, NULL);
		}
		p->client = NULL;
	}
	logs_proxy_free(p);
}

int daemon_logs(struct daemon *d, struct skiff_rpc_call *call, const Skiff__LogsRequest *req)
{
	const Skiff__Pod *pod = brain_get(d->brain, SKIFF_KIND_POD, req->pod);
	if (!pod)
		return skiff_rpc_call_error(call, -ENOENT, "pod '%s' not found", req->pod);
	const char *node = skiff_pod_node(pod);
	if (!*node)
		return skiff_rpc_call_error(call, -EAGAIN,
					    "pod '%s' is not scheduled yet (no logs)", req->pod);
	struct brain_node *rt = skiff_map_get(d->brain->nodes, node);
	if (!rt || !rt->session)
		return skiff_rpc_call_error(call, -EHOSTDOWN,
					    "node %s (running pod '%s') is not connected", node,
					    req->pod);
	struct logs_proxy *p = xcalloc(1, sizeof(*p));
	p->client = call;
	p->agent = rt->session;
	p->node = xstrdup(node);
	p->pod = xstrdup(req->pod);
	int r = skiff_rpc_request(p->agent, SKIFF__MSG_TYPE__MSG_AGENT_LOGS, &req->base,
				  req->follow ? 0 : 30000, logs_from_agent, p, &p->agent_id);
	if (r < 0) {
		logs_proxy_free(p);
		return skiff_rpc_call_error(call, r, "cannot ask node %s for the logs: %s", node,
					    strerror(-r));
	}
	skiff_rpc_call_set_cancel(call, logs_client_cancel, p);
	return 0;
}
