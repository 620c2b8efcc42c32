/* exec.c — skiffctl's MSG_EXEC proxied to the agent of the pod's node as
 * MSG_AGENT_EXEC over the agent's long-lived connection, the way MSG_LOGS is
 * (agents.c): the ExecOutput items stream back as they come. skiffctl going
 * away cancels the agent's stream (the agent then stops the command); the
 * agent going away mid-exec ends skiffctl's stream with an error that says
 * so, never with a silent end. With stdin_stream, skiffctl's one-way
 * MSG_EXEC_INPUT frames go to the exec of the same connection and on to the
 * agent as MSG_AGENT_EXEC_INPUT (in order, on the same connections). The
 * request (tty, rows, cols with -t) and each input (resize ones too) go on
 * whole: only exec_id is set here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

/* how long the agent has to start the command (its first item) */
#define EXEC_START_TIMEOUT_MS 30000

struct exec_proxy {
	struct agent_stream s; /* first: the agent's callbacks get the proxy */
	struct exec_proxy *next;
	bool stdin_stream;
};

/* live proxies, for MSG_EXEC_INPUT to find its exec (one daemon per process) */
static struct exec_proxy *proxies;

static void exec_proxy_free(struct exec_proxy *p)
{
	for (struct exec_proxy **pp = &proxies; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	agent_stream_done(&p->s);
	free(p);
}

static void exec_client_cancel(struct skiff_rpc_call *call, void *userdata)
{
	(void)call;
	struct exec_proxy *p = userdata;
	if (agent_stream_client_gone(&p->s)) /* else the agent's callback frees p */
		exec_proxy_free(p);
}

static void exec_from_agent(struct skiff_rpc_conn *conn, int err, const char *errmsg,
			    const Skiff__Frame *frame, void *userdata)
{
	struct exec_proxy *p = userdata;
	if (agent_stream_relay(&p->s, err, frame, &skiff__exec_output__descriptor))
		return;
	/* the end: FLAG_END, an error from the agent, or the connection */
	_cleanup_free_ char *m = NULL;
	if (err == -ETIMEDOUT && !errmsg && skiff_rpc_conn_is_open(conn))
		m = xasprintf("node %s did not start the command in pod '%s' within %d s",
			      p->s.node, p->s.pod, EXEC_START_TIMEOUT_MS / 1000);
	agent_stream_end(&p->s, conn, err, m ? m : errmsg, "during exec in");
	exec_proxy_free(p);
}

int daemon_exec(struct daemon *d, struct skiff_rpc_call *call, const Skiff__ExecRequest *req)
{
	if (req->n_command == 0)
		return skiff_rpc_call_error(call, -EINVAL, "exec: no command given");
	_cleanup_free_ char *key = brain_key(SKIFF_KIND_POD, req->namespace_, req->pod);
	const Skiff__Pod *pod = brain_get(d->brain, SKIFF_KIND_POD, key);
	if (!pod)
		return skiff_rpc_call_error(call, -ENOENT, "pod '%s' not found", req->pod);
	const char *node = skiff_pod_node(pod);
	if (!*node)
		return skiff_rpc_call_error(call, -EAGAIN,
					    "pod '%s' is not running: not scheduled to a node yet",
					    req->pod);
	struct brain_node *rt = skiff_map_get(d->brain->nodes, node);
	if (!rt || !rt->session)
		return skiff_rpc_call_error(call, -EHOSTDOWN,
					    "node %s (running pod '%s') is not connected", node,
					    req->pod);
	struct exec_proxy *p = xcalloc(1, sizeof(*p));
	p->s.client = call;
	p->s.agent = rt->session;
	p->s.node = xstrdup(node);
	p->s.pod = xstrdup(req->pod);
	p->stdin_stream = req->stdin_stream;
	int r = skiff_rpc_request(p->s.agent, SKIFF__MSG_TYPE__MSG_AGENT_EXEC, &req->base,
				  EXEC_START_TIMEOUT_MS, exec_from_agent, p, &p->s.agent_id);
	if (r < 0) {
		exec_proxy_free(p);
		return skiff_rpc_call_error(call, r, "cannot ask node %s to exec: %s", node,
					    strerror(-r));
	}
	skiff_rpc_call_set_cancel(call, exec_client_cancel, p);
	p->next = proxies;
	proxies = p;
	log_info("exec in pod %s on node %s by %s: %s%s", req->pod, node,
		 skiff_rpc_call_peer(call)->name, req->command[0], req->n_command > 1 ? " …" : "");
	return 0;
}

void daemon_exec_input(struct skiff_rpc_call *call, const Skiff__ExecInput *in)
{
	struct skiff_rpc_conn *from = skiff_rpc_call_conn(call);
	for (struct exec_proxy *p = proxies; p; p = p->next) {
		if (!p->s.client || !p->stdin_stream || p->s.agent_done ||
		    skiff_rpc_call_conn(p->s.client) != from)
			continue;
		Skiff__ExecInput fwd = *in;
		fwd.exec_id = p->s.agent_id;
		int r = skiff_rpc_send_oneway(p->s.agent, SKIFF__MSG_TYPE__MSG_AGENT_EXEC_INPUT,
					      &fwd.base);
		if (r < 0)
			log_debug("exec in pod %s: cannot forward stdin to node %s: %s", p->s.pod,
				  p->s.node, strerror(-r));
		return;
	}
	/* no streaming exec on this connection (it ended): input is dropped */
}
