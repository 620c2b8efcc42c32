/* authz.c — who may send which message to the brain: one row for every
 * MsgType of proto/skiff.proto. A type without a row is refused (and the
 * unit test test_authz fails until it gets one), so a new message type
 * cannot be served without deciding who may send it. Handlers then narrow
 * further what a node may touch: only its own node and its own pods. */
#include <errno.h>
#include <string.h>

#include "daemon.h"
#include "util.h"

#define ALL_USERS (AUTHZ_ADMIN | AUTHZ_VIEW)

static const struct {
	int type;
	unsigned roles;
} rows[] = {
	{ SKIFF__MSG_TYPE__MSG_NONE, AUTHZ_NOT_SERVED },
	{ SKIFF__MSG_TYPE__MSG_PING, AUTHZ_NOT_SERVED }, /* answered by the RPC layer */
	{ SKIFF__MSG_TYPE__MSG_GET, ALL_USERS | AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_LIST, ALL_USERS | AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_APPLY, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_DELETE, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_WATCH, ALL_USERS },
	{ SKIFF__MSG_TYPE__MSG_SCALE, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_NODE_ACTION, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_ROLLOUT, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_LOGS, ALL_USERS },
	{ SKIFF__MSG_TYPE__MSG_CLUSTER_INFO, ALL_USERS },
	{ SKIFF__MSG_TYPE__MSG_EXEC, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_EXEC_INPUT, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_TOKEN, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_CERTIFICATE, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_NEW_CONFIG, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_JOIN, AUTHZ_ANYONE },
	{ SKIFF__MSG_TYPE__MSG_REGISTER, AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_HEARTBEAT, AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_POD_STATUS, AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_ASSIGN, AUTHZ_NOT_SERVED }, /* brain -> agent */
	{ SKIFF__MSG_TYPE__MSG_EVENT_REPORT, AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_AGENT_LOGS, AUTHZ_NOT_SERVED },	     /* brain -> agent */
	{ SKIFF__MSG_TYPE__MSG_AGENT_EXEC, AUTHZ_NOT_SERVED },	     /* brain -> agent */
	{ SKIFF__MSG_TYPE__MSG_AGENT_EXEC_INPUT, AUTHZ_NOT_SERVED }, /* brain -> agent */
	{ SKIFF__MSG_TYPE__MSG_RENEW, ALL_USERS | AUTHZ_NODE },	     /* its own certificate */
	{ SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_STAT, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_PUT, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_IMAGE_COMMIT, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_IMAGE_REMOVE, AUTHZ_ADMIN },
	{ SKIFF__MSG_TYPE__MSG_IMAGE_RESOLVE, AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_READ, AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_IMAGE_REPORT, AUTHZ_NODE },
	{ SKIFF__MSG_TYPE__MSG_TEST_ECHO, AUTHZ_NOT_SERVED },
	{ SKIFF__MSG_TYPE__MSG_TEST_STREAM, AUTHZ_NOT_SERVED },
};

int daemon_msg_roles(int type)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].type == type)
			return (int)rows[i].roles;
	return -ENOENT;
}

unsigned daemon_peer_role(const struct skiff_rpc_peer *peer)
{
	if (peer->plaintext) /* debugging only: nothing to check */
		return AUTHZ_ADMIN;
	if (streq(peer->role, SKIFF_ROLE_ADMIN))
		return AUTHZ_ADMIN;
	if (streq(peer->role, SKIFF_ROLE_VIEW))
		return AUTHZ_VIEW;
	if (streq(peer->role, SKIFF_ROLE_NODE))
		return AUTHZ_NODE;
	return 0;
}
