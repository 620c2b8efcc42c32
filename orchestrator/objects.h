/* objects.h — the brain's view of the object model (proto/skiff.proto):
 * packing per kind, validation with defaults (every bad value refused with
 * the field named), DNS-1123 names, label selectors, template hashes and
 * small helpers to edit unpacked protobuf-c messages in place.
 *
 * Unpacked messages edited here are freed with protobuf_c_message_free_unpacked
 * (NULL allocator): strings and sub-messages set through these helpers are
 * malloc()ed so that works.
 */
#ifndef SKIFF_OBJECTS_H
#define SKIFF_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "skiff.pb-c.h"
#include "validate.h"

/* Every object kind's message starts with ProtobufCMessage base and then
 * Skiff__ObjectMeta *metadata. */
#define SKIFF_META(msg) (((Skiff__Pod *)(msg))->metadata)

const ProtobufCMessageDescriptor *skiff_obj_descriptor(int kind);
/* Unpack bytes of kind; NULL when malformed. Free with skiff_obj_free(). */
ProtobufCMessage *skiff_obj_unpack(int kind, const uint8_t *data, size_t len);
void skiff_obj_free(ProtobufCMessage *msg);
static inline void skiff_obj_freep(ProtobufCMessage **p)
{
	skiff_obj_free(*p);
}
/* Pack into a new buffer (free()). */
uint8_t *skiff_obj_pack(const ProtobufCMessage *msg, size_t *ret_len);
/* A deep copy of any message (pack + unpack). */
ProtobufCMessage *skiff_msg_copy(const ProtobufCMessage *msg);
/* A deep copy (pack + unpack). */
ProtobufCMessage *skiff_obj_copy(int kind, const ProtobufCMessage *msg);

/* The member of Skiff__Object that is set: kind and message; -EINVAL when
 * none or several are. */
int skiff_obj_from_wrapper(const Skiff__Object *o, int *ret_kind, ProtobufCMessage **ret_msg);
/* A wrapper pointing at msg (not owning it). */
void skiff_obj_wrap(Skiff__Object *o, int kind, ProtobufCMessage *msg);

/* Check and fill defaults in a user-supplied object (APPLY) with the shared
 * rules of lib/validate.h. On failure returns -EINVAL with *ret_errmsg (free())
 * naming the field, e.g. "spec.replicas: must be 0-100000, got -1". */
/* image_known (may be NULL): whether an image the brain holds names
 * something to run (Entrypoint or Cmd), so a container may leave out
 * command; registry images always may (their node reads the config). */
int skiff_obj_validate(int kind, ProtobufCMessage *msg,
		       bool (*image_known)(const char *image, void *userdata), void *userdata,
		       char **ret_errmsg);

/* (skiff_set_str, skiff_kv_get, skiff_selector_match: validate.h) */
/* Both lists hold the same pairs (any order). */
bool skiff_kv_equal(Skiff__KeyValue *const *a, size_t na, Skiff__KeyValue *const *b, size_t nb);

/* 10 hex digits identifying a pod template's content (into out[11]). */
void skiff_template_hash(const Skiff__PodTemplate *t, char out[11]);

/* Sub-messages, allocated when missing. */
Skiff__ObjectMeta *skiff_meta_ensure(ProtobufCMessage *msg);
Skiff__PodStatus *skiff_pod_status_ensure(Skiff__Pod *pod);
Skiff__PodSpec *skiff_pod_spec_ensure(Skiff__Pod *pod);
Skiff__NodeStatus *skiff_node_status_ensure(Skiff__Node *node);
Skiff__NodeSpec *skiff_node_spec_ensure(Skiff__Node *node);
Skiff__DeploymentStatus *skiff_deployment_status_ensure(Skiff__Deployment *d);
Skiff__ServiceStatus *skiff_service_status_ensure(Skiff__Service *s);

/* Sum of the containers' requests. */
void skiff_pod_requests(const Skiff__Pod *pod, int64_t *ret_cpu, int64_t *ret_mem);
/* Pod is Running and ready (counts as available). */
bool skiff_pod_ready(const Skiff__Pod *pod);
const char *skiff_pod_phase(const Skiff__Pod *pod);
const char *skiff_pod_node(const Skiff__Pod *pod);

/* Random lower-case alphanumeric suffix of len chars. */
void skiff_random_suffix(char *out, size_t len);

#endif
