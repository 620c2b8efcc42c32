/* objects.c — packing, validation with defaults, names, selectors and
 * template hashes for the brain's objects (see objects.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "objects.h"
#include "quantity.h"
#include "registry.h"
#include "store.h"
#include "util.h"

_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Node, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Deployment, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Service, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Event, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__JoinToken, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__CertificateRequest, metadata),
	       "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Certificate, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Image, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, spec) == offsetof(Skiff__DaemonSet, spec), "layout");
_Static_assert(offsetof(Skiff__Pod, spec) == offsetof(Skiff__Job, spec), "layout");
_Static_assert(offsetof(Skiff__Pod, spec) == offsetof(Skiff__CronJob, spec), "layout");

const ProtobufCMessageDescriptor *skiff_obj_descriptor(int kind)
{
	switch (kind) {
	case SKIFF_KIND_NODE:
		return &skiff__node__descriptor;
	case SKIFF_KIND_POD:
		return &skiff__pod__descriptor;
	case SKIFF_KIND_DEPLOYMENT:
		return &skiff__deployment__descriptor;
	case SKIFF_KIND_SERVICE:
		return &skiff__service__descriptor;
	case SKIFF_KIND_EVENT:
		return &skiff__event__descriptor;
	case SKIFF_KIND_TOKEN:
		return &skiff__join_token__descriptor;
	case SKIFF_KIND_CSR:
		return &skiff__certificate_request__descriptor;
	case SKIFF_KIND_CERTIFICATE:
		return &skiff__certificate__descriptor;
	case SKIFF_KIND_IMAGE:
		return &skiff__image__descriptor;
	case SKIFF_KIND_NAMESPACE:
		return &skiff__namespace__descriptor;
	case SKIFF_KIND_DAEMONSET:
		return &skiff__daemon_set__descriptor;
	case SKIFF_KIND_JOB:
		return &skiff__job__descriptor;
	case SKIFF_KIND_CRONJOB:
		return &skiff__cron_job__descriptor;
	}
	return NULL;
}

ProtobufCMessage *skiff_obj_unpack(int kind, const uint8_t *data, size_t len)
{
	const ProtobufCMessageDescriptor *d = skiff_obj_descriptor(kind);
	if (!d)
		return NULL;
	return protobuf_c_message_unpack(d, NULL, len, data);
}

void skiff_obj_free(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

uint8_t *skiff_obj_pack(const ProtobufCMessage *msg, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(msg, buf);
	*ret_len = len;
	return buf;
}

ProtobufCMessage *skiff_msg_copy(const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *buf = skiff_obj_pack(msg, &len);
	ProtobufCMessage *c = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
	free(buf);
	if (!c)
		abort();
	return c;
}

ProtobufCMessage *skiff_obj_copy(int kind, const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *buf = skiff_obj_pack(msg, &len);
	ProtobufCMessage *c = skiff_obj_unpack(kind, buf, len);
	free(buf);
	if (!c)
		abort(); /* our own packing cannot be unreadable */
	return c;
}

int skiff_obj_from_wrapper(const Skiff__Object *o, int *ret_kind, ProtobufCMessage **ret_msg)
{
	ProtobufCMessage *m[SKIFF_KIND_MAX] = {
		[SKIFF_KIND_NODE] = (ProtobufCMessage *)o->node,
		[SKIFF_KIND_POD] = (ProtobufCMessage *)o->pod,
		[SKIFF_KIND_DEPLOYMENT] = (ProtobufCMessage *)o->deployment,
		[SKIFF_KIND_SERVICE] = (ProtobufCMessage *)o->service,
		[SKIFF_KIND_EVENT] = (ProtobufCMessage *)o->event,
		[SKIFF_KIND_TOKEN] = (ProtobufCMessage *)o->join_token,
		[SKIFF_KIND_CSR] = (ProtobufCMessage *)o->certificate_request,
		[SKIFF_KIND_CERTIFICATE] = (ProtobufCMessage *)o->certificate,
		[SKIFF_KIND_IMAGE] = (ProtobufCMessage *)o->image,
		[SKIFF_KIND_NAMESPACE] = (ProtobufCMessage *)o->namespace_,
		[SKIFF_KIND_DAEMONSET] = (ProtobufCMessage *)o->daemon_set,
		[SKIFF_KIND_JOB] = (ProtobufCMessage *)o->job,
		[SKIFF_KIND_CRONJOB] = (ProtobufCMessage *)o->cron_job,
	};
	int kind = -1;
	for (int k = 0; k < SKIFF_KIND_MAX; k++)
		if (m[k]) {
			if (kind >= 0)
				return -EINVAL;
			kind = k;
		}
	if (kind < 0)
		return -EINVAL;
	*ret_kind = kind;
	*ret_msg = m[kind];
	return 0;
}

void skiff_obj_wrap(Skiff__Object *o, int kind, ProtobufCMessage *msg)
{
	skiff__object__init(o);
	switch (kind) {
	case SKIFF_KIND_NODE:
		o->node = (Skiff__Node *)msg;
		break;
	case SKIFF_KIND_POD:
		o->pod = (Skiff__Pod *)msg;
		break;
	case SKIFF_KIND_DEPLOYMENT:
		o->deployment = (Skiff__Deployment *)msg;
		break;
	case SKIFF_KIND_SERVICE:
		o->service = (Skiff__Service *)msg;
		break;
	case SKIFF_KIND_EVENT:
		o->event = (Skiff__Event *)msg;
		break;
	case SKIFF_KIND_TOKEN:
		o->join_token = (Skiff__JoinToken *)msg;
		break;
	case SKIFF_KIND_CSR:
		o->certificate_request = (Skiff__CertificateRequest *)msg;
		break;
	case SKIFF_KIND_CERTIFICATE:
		o->certificate = (Skiff__Certificate *)msg;
		break;
	case SKIFF_KIND_IMAGE:
		o->image = (Skiff__Image *)msg;
		break;
	case SKIFF_KIND_NAMESPACE:
		o->namespace_ = (Skiff__Namespace *)msg;
		break;
	case SKIFF_KIND_DAEMONSET:
		o->daemon_set = (Skiff__DaemonSet *)msg;
		break;
	case SKIFF_KIND_JOB:
		o->job = (Skiff__Job *)msg;
		break;
	case SKIFF_KIND_CRONJOB:
		o->cron_job = (Skiff__CronJob *)msg;
		break;
	}
}

bool skiff_kv_equal(Skiff__KeyValue *const *a, size_t na, Skiff__KeyValue *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		const char *v = skiff_kv_get(b, nb, a[i]->key);
		if (!v || !streq(v, a[i]->value))
			return false;
	}
	return true;
}

void skiff_template_hash(const Skiff__PodTemplate *t, char out[11])
{
	size_t len;
	uint8_t *buf = skiff_obj_pack(&t->base, &len);
	uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
	for (size_t i = 0; i < len; i++)
		h = (h ^ buf[i]) * 1099511628211ull;
	free(buf);
	snprintf(out, 11, "%010llx", (unsigned long long)(h & 0xffffffffffull));
}

#define ENSURE(type, lower, ptr)                                                                   \
	do {                                                                                       \
		if (!(ptr)) {                                                                      \
			(ptr) = xmalloc(sizeof(type));                                             \
			lower##__init(ptr);                                                        \
		}                                                                                  \
		return (ptr);                                                                      \
	} while (0)

Skiff__ObjectMeta *skiff_meta_ensure(ProtobufCMessage *msg)
{
	ENSURE(Skiff__ObjectMeta, skiff__object_meta, SKIFF_META(msg));
}
Skiff__PodStatus *skiff_pod_status_ensure(Skiff__Pod *pod)
{
	ENSURE(Skiff__PodStatus, skiff__pod_status, pod->status);
}
Skiff__PodSpec *skiff_pod_spec_ensure(Skiff__Pod *pod)
{
	ENSURE(Skiff__PodSpec, skiff__pod_spec, pod->spec);
}
Skiff__NodeStatus *skiff_node_status_ensure(Skiff__Node *node)
{
	ENSURE(Skiff__NodeStatus, skiff__node_status, node->status);
}
Skiff__NodeSpec *skiff_node_spec_ensure(Skiff__Node *node)
{
	ENSURE(Skiff__NodeSpec, skiff__node_spec, node->spec);
}
Skiff__DeploymentStatus *skiff_deployment_status_ensure(Skiff__Deployment *d)
{
	ENSURE(Skiff__DeploymentStatus, skiff__deployment_status, d->status);
}
Skiff__ServiceStatus *skiff_service_status_ensure(Skiff__Service *s)
{
	ENSURE(Skiff__ServiceStatus, skiff__service_status, s->status);
}

void skiff_pod_requests(const Skiff__Pod *pod, int64_t *ret_cpu, int64_t *ret_mem)
{
	int64_t cpu = 0, mem = 0;
	if (pod->spec)
		for (size_t i = 0; i < pod->spec->n_containers; i++) {
			const Skiff__Container *c = pod->spec->containers[i];
			if (c->resources && c->resources->requests) {
				cpu += c->resources->requests->cpu_milli;
				mem += c->resources->requests->memory;
			}
		}
	*ret_cpu = cpu;
	*ret_mem = mem;
}

bool skiff_pod_ready(const Skiff__Pod *pod)
{
	return pod->status && pod->status->ready && pod->status->phase &&
	       streq(pod->status->phase, "Running");
}

const char *skiff_pod_phase(const Skiff__Pod *pod)
{
	return pod->status && pod->status->phase && *pod->status->phase ? pod->status->phase
									: "Pending";
}

const char *skiff_pod_node(const Skiff__Pod *pod)
{
	return pod->spec && pod->spec->node_name ? pod->spec->node_name : "";
}

void skiff_random_suffix(char *out, size_t len)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	uint8_t rnd[32];
	if (len > sizeof(rnd))
		len = sizeof(rnd);
	if (skiff_random_bytes(rnd, len) < 0)
		for (size_t i = 0; i < len; i++)
			rnd[i] = (uint8_t)random();
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	out[len] = 0;
}

struct entrypoint_lookup {
	bool (*known)(const char *image, void *userdata);
	void *userdata;
};

/* Whether a pod may leave out command for this image, as far as the brain
 * knows: a registry image's config is read by the node that pulls it (one
 * that turns out to name nothing to run fails there, InvalidSpec, as the
 * kubelet's does); an image in the brain's store answers from its config
 * (the caller's lookup); a flat rootfs has no config. */
static bool image_has_entrypoint(const char *image, void *userdata)
{
	const struct entrypoint_lookup *l = userdata;
	if (skiff_registry_name_has_host(image))
		return true;
	return l->known && l->known(image, l->userdata);
}

int skiff_obj_validate(int kind, ProtobufCMessage *msg,
		       bool (*image_known)(const char *image, void *userdata), void *userdata,
		       char **ret_errmsg)
{
	if (kind < 0 || kind >= SKIFF_KIND_MAX) {
		*ret_errmsg = xstrdup("kind: unknown");
		return -EINVAL;
	}
	if (kind == SKIFF_KIND_IMAGE) {
		*ret_errmsg =
		    xstrdup("kind: images are loaded with skiffctl image load, not applied");
		return -EINVAL;
	}
	if (skiff_kind_is_pki(kind)) {
		*ret_errmsg =
		    xasprintf("kind: %s objects are managed with skiffctl token and skiffctl "
			      "certificate, not applied",
			      skiff_kind_name(kind));
		return -EINVAL;
	}
	struct entrypoint_lookup l = { image_known, userdata };
	struct skiff_validate_opts opts = { .image_has_entrypoint = image_has_entrypoint,
					    .userdata = &l };
	return skiff_validate(msg, &opts, ret_errmsg);
}
