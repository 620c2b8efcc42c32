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

bool agent_stream_relay(struct agent_stream *s, int err, const Skiff__Frame *frame,
			const ProtobufCMessageDescriptor *item)
{
	if (err != 0 || !frame || !(frame->flags & SKIFF__FRAME_FLAG__FLAG_STREAM) ||
	    (frame->flags & SKIFF__FRAME_FLAG__FLAG_END))
		return false;
	if (s->client) {
		ProtobufCMessage *m =
		    protobuf_c_message_unpack(item, NULL, frame->payload.len, frame->payload.data);
		if (m) {
			skiff_rpc_call_stream(s->client, m);
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	return true;
}

void agent_stream_end(struct agent_stream *s, struct skiff_rpc_conn *conn, int err,
		      const char *errmsg, const char *doing)
{
	s->agent_done = true;
	if (!s->client)
		return;
	skiff_rpc_call_set_cancel(s->client, NULL, NULL);
	if (err < 0 && err != -ECANCELED && !skiff_rpc_conn_is_open(conn)) {
		/* a node lost mid-stream: say so, not "connection reset" */
		_cleanup_free_ char *m = xasprintf(
		    "node %s: the agent's connection was lost %s pod '%s'", s->node, doing, s->pod);
		skiff_rpc_call_end(s->client, -EHOSTDOWN, m);
	} else if (err < 0 && err != -ECANCELED) {
		skiff_rpc_call_end(s->client, err, errmsg ? errmsg : strerror(-err));
	} else {
		skiff_rpc_call_end(s->client, 0, NULL);
	}
	s->client = NULL;
}

bool agent_stream_client_gone(struct agent_stream *s)
{
	s->client = NULL;
	if (s->agent_done)
		return true;
	skiff_rpc_cancel(s->agent, s->agent_id);
	return false;
}

void agent_stream_done(struct agent_stream *s)
{
	free(s->node);
	free(s->pod);
}

static void logs_client_cancel(struct skiff_rpc_call *call, void *userdata)
{
	(void)call;
	struct agent_stream *p = userdata;
	if (agent_stream_client_gone(p)) { /* else the agent's callback frees p */
		agent_stream_done(p);
		free(p);
	}
}

static void logs_from_agent(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			    const Skiff__Frame *frame, void *userdata)
{
	struct agent_stream *p = userdata;
	if (agent_stream_relay(p, err, frame, &skiff__log_chunk__descriptor))
		return;
	agent_stream_end(p, conn, err, errmsg, "while sending the logs of");
	agent_stream_done(p);
	free(p);
}

int daemon_logs(struct daemon *d, struct skiff_rpc_call *call, const Skiff__LogsRequest *req)
{
	_cleanup_free_ char *key = brain_key(SKIFF_KIND_POD, req->namespace_, req->pod);
	const Skiff__Pod *pod = brain_get(d->brain, SKIFF_KIND_POD, key);
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
	struct agent_stream *p = xcalloc(1, sizeof(*p));
	p->client = call;
	p->agent = rt->session;
	p->node = xstrdup(node);
	p->pod = xstrdup(req->pod);
	int r = skiff_rpc_request(p->agent, SKIFF__MSG_TYPE__MSG_AGENT_LOGS, &req->base,
				  req->follow ? 0 : 30000, logs_from_agent, p, &p->agent_id);
	if (r < 0) {
		agent_stream_done(p);
		free(p);
		return skiff_rpc_call_error(call, r, "cannot ask node %s for the logs: %s", node,
					    strerror(-r));
	}
	skiff_rpc_call_set_cancel(call, logs_client_cancel, p);
	return 0;
}
