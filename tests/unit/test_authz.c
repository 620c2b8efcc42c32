/* test_authz.c — the brain's table of who may send which message
 * (orchestrator/authz.c): every MsgType has a row, so a new type cannot be
 * served without deciding who may send it; the read-only role only reads;
 * agents only send what is about their own node. */
#include <check.h>
#include <stdlib.h>

#include "../../orchestrator/daemon.h"
#include "testlib.h"

TEST(test_every_type_has_a_row)
{
	const ProtobufCEnumDescriptor *desc = &skiff__msg_type__descriptor;
	for (unsigned i = 0; i < desc->n_values; i++)
		ck_assert_msg(daemon_msg_roles(desc->values[i].value) >= 0,
			      "%s has no row in orchestrator/authz.c: decide who may send it",
			      desc->values[i].name);
	ck_assert_int_lt(daemon_msg_roles(9999), 0);
}
END_TEST

TEST(test_view_only_reads)
{
	const ProtobufCEnumDescriptor *desc = &skiff__msg_type__descriptor;
	static const int reads[] = {
		SKIFF__MSG_TYPE__MSG_GET,	   SKIFF__MSG_TYPE__MSG_LIST,
		SKIFF__MSG_TYPE__MSG_WATCH,	   SKIFF__MSG_TYPE__MSG_LOGS,
		SKIFF__MSG_TYPE__MSG_CLUSTER_INFO, SKIFF__MSG_TYPE__MSG_RENEW,
	};
	for (unsigned i = 0; i < desc->n_values; i++) {
		int t = desc->values[i].value, roles = daemon_msg_roles(t);
		bool read = false;
		for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++)
			read = read || reads[k] == t;
		ck_assert_msg(!!(roles & AUTHZ_VIEW) == read, "%s: view %s", desc->values[i].name,
			      read ? "must be allowed" : "must not be allowed");
	}
}
END_TEST

TEST(test_node_types)
{
	const ProtobufCEnumDescriptor *desc = &skiff__msg_type__descriptor;
	static const int node[] = {
		SKIFF__MSG_TYPE__MSG_GET,
		SKIFF__MSG_TYPE__MSG_LIST,
		SKIFF__MSG_TYPE__MSG_REGISTER,
		SKIFF__MSG_TYPE__MSG_HEARTBEAT,
		SKIFF__MSG_TYPE__MSG_POD_STATUS,
		SKIFF__MSG_TYPE__MSG_EVENT_REPORT,
		SKIFF__MSG_TYPE__MSG_RENEW,
		/* images: any node may read the cluster's image store; a report
		 * is checked to be about the reporting node */
		SKIFF__MSG_TYPE__MSG_IMAGE_RESOLVE,
		SKIFF__MSG_TYPE__MSG_IMAGE_BLOB_READ,
		SKIFF__MSG_TYPE__MSG_IMAGE_REPORT,
	};
	for (unsigned i = 0; i < desc->n_values; i++) {
		int t = desc->values[i].value, roles = daemon_msg_roles(t);
		bool allowed = false;
		for (size_t k = 0; k < sizeof(node) / sizeof(node[0]); k++)
			allowed = allowed || node[k] == t;
		ck_assert_msg(!!(roles & AUTHZ_NODE) == allowed,
			      "%s: node %s (and test_brain_pki must check it is about the node "
			      "itself)",
			      desc->values[i].name, allowed ? "must be allowed" : "must not be");
	}
	ck_assert_int_eq(daemon_msg_roles(SKIFF__MSG_TYPE__MSG_JOIN), AUTHZ_ANYONE);
}
END_TEST
