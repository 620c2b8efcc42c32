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
#include "store.h"
#include "util.h"

_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Node, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Deployment, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Service, metadata), "layout");
_Static_assert(offsetof(Skiff__Pod, metadata) == offsetof(Skiff__Event, metadata), "layout");

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
	}
}

bool skiff_name_valid(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

void skiff_set_str(char **field, const char *value)
{
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = xstrdup(value ? value : "");
}

const char *skiff_kv_get(Skiff__KeyValue *const *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i]->key && streq(kv[i]->key, key))
			return kv[i]->value;
	return NULL;
}

bool skiff_selector_match(Skiff__KeyValue *const *sel, size_t nsel, Skiff__KeyValue *const *labels,
			  size_t nlabels)
{
	if (nsel == 0)
		return false;
	for (size_t i = 0; i < nsel; i++) {
		const char *v = skiff_kv_get(labels, nlabels, sel[i]->key);
		if (!v || !streq(v, sel[i]->value))
			return false;
	}
	return true;
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

int skiff_int_or_percent(const char *s, int total, bool round_up, int *ret)
{
	int64_t v;
	if (!s || !*s)
		return -EINVAL;
	size_t n = strlen(s);
	if (s[n - 1] == '%') {
		_cleanup_free_ char *num = xstrndup(s, n - 1);
		if (skiff_parse_int64(num, &v) < 0 || v < 0 || v > 100)
			return -EINVAL;
		int64_t p = (int64_t)total * v;
		*ret = (int)(round_up ? (p + 99) / 100 : p / 100);
		return 0;
	}
	if (skiff_parse_int64(s, &v) < 0 || v < 0 || v > 1000000)
		return -EINVAL;
	*ret = (int)v;
	return 0;
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

/* ---- validation ------------------------------------------------------ */

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		*ret_err = xasprintf(__VA_ARGS__);                                                 \
		return -EINVAL;                                                                    \
	} while (0)

static int check_labels(Skiff__KeyValue **kv, size_t n, const char *field, char **ret_err)
{
	for (size_t i = 0; i < n; i++) {
		const char *k = kv[i]->key, *v = kv[i]->value;
		if (!k || !*k || strlen(k) > 63)
			FAIL("%s: label key '%s' must be 1-63 characters", field, k ? k : "");
		for (const char *p = k; *p; p++)
			if (!(strchr("-_./", *p) || (*p >= 'a' && *p <= 'z') ||
			      (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
				FAIL("%s: label key '%s' has an invalid character '%c'", field, k,
				     *p);
		if (v && strlen(v) > 63)
			FAIL("%s.%s: label value must be at most 63 characters", field, k);
		for (size_t j = 0; j < i; j++)
			if (streq(kv[j]->key, k))
				FAIL("%s: duplicate key '%s'", field, k);
	}
	return 0;
}

static int check_meta(ProtobufCMessage *msg, size_t max, char **ret_err)
{
	Skiff__ObjectMeta *m = SKIFF_META(msg);
	if (!m || !m->name || !*m->name)
		FAIL("metadata.name: required");
	if (!skiff_name_valid(m->name, max))
		FAIL("metadata.name: '%s' is not a valid name (lower-case letters, digits and '-', "
		     "starting and ending with a letter or digit, at most %zu characters)",
		     m->name, max);
	return check_labels(m->labels, m->n_labels, "metadata.labels", ret_err);
}

static int check_resources(Skiff__ResourceList *r, const char *field, char **ret_err)
{
	if (!r)
		return 0;
	if (r->cpu_milli < 0)
		FAIL("%s.cpu: must be >= 0, got %lld", field, (long long)r->cpu_milli);
	if (r->memory < 0)
		FAIL("%s.memory: must be >= 0, got %lld", field, (long long)r->memory);
	return 0;
}

static int check_probe(Skiff__Probe *p, const char *field, char **ret_err)
{
	if (!p)
		return 0;
	int n = !!p->exec + !!p->tcp_socket + !!p->http_get;
	if (n != 1)
		FAIL("%s: exactly one of exec, tcpSocket, httpGet is required", field);
	if (p->exec && p->exec->n_command == 0)
		FAIL("%s.exec.command: required", field);
	if (p->tcp_socket && (p->tcp_socket->port == 0 || p->tcp_socket->port > 65535))
		FAIL("%s.tcpSocket.port: must be 1-65535, got %u", field, p->tcp_socket->port);
	if (p->http_get && (p->http_get->port == 0 || p->http_get->port > 65535))
		FAIL("%s.httpGet.port: must be 1-65535, got %u", field, p->http_get->port);
	if (p->initial_delay_ms < 0 || p->period_ms < 0 || p->timeout_ms < 0 ||
	    p->failure_threshold < 0 || p->success_threshold < 0)
		FAIL("%s: times and thresholds must be >= 0", field);
	if (p->period_ms == 0)
		p->period_ms = 10000;
	if (p->timeout_ms == 0)
		p->timeout_ms = 1000;
	if (p->failure_threshold == 0)
		p->failure_threshold = 3;
	if (p->success_threshold == 0)
		p->success_threshold = 1;
	return 0;
}

static int check_pod_spec(Skiff__PodSpec *s, const char *f, char **ret_err)
{
	char field[128];
	if (!s || s->n_containers == 0)
		FAIL("%s.containers: at least one container is required", f);
	for (size_t i = 0; i < s->n_containers; i++) {
		Skiff__Container *c = s->containers[i];
		snprintf(field, sizeof(field), "%s.containers[%zu]", f, i);
		if (!skiff_name_valid(c->name, 63))
			FAIL("%s.name: '%s' is not a valid name", field, c->name ? c->name : "");
		for (size_t j = 0; j < i; j++)
			if (streq(s->containers[j]->name, c->name))
				FAIL("%s.name: duplicate container name '%s'", field, c->name);
		if (!c->image || !*c->image)
			FAIL("%s.image: required", field);
		for (size_t j = 0; j < c->n_ports; j++) {
			Skiff__ContainerPort *p = c->ports[j];
			if (p->container_port == 0 || p->container_port > 65535)
				FAIL("%s.ports[%zu].containerPort: must be 1-65535, got %u", field,
				     j, p->container_port);
			if (!p->protocol || !*p->protocol)
				skiff_set_str(&p->protocol, "TCP");
			else if (!streq(p->protocol, "TCP") && !streq(p->protocol, "UDP"))
				FAIL("%s.ports[%zu].protocol: must be TCP or UDP, got '%s'", field,
				     j, p->protocol);
		}
		for (size_t j = 0; j < c->n_env; j++)
			if (!c->env[j]->name || !*c->env[j]->name)
				FAIL("%s.env[%zu].name: required", field, j);
		if (c->resources) {
			char rf[160];
			snprintf(rf, sizeof(rf), "%s.resources.requests", field);
			if (check_resources(c->resources->requests, rf, ret_err) < 0)
				return -EINVAL;
			snprintf(rf, sizeof(rf), "%s.resources.limits", field);
			if (check_resources(c->resources->limits, rf, ret_err) < 0)
				return -EINVAL;
			Skiff__ResourceList *rq = c->resources->requests,
					    *lm = c->resources->limits;
			if (rq && lm && lm->memory > 0 && rq->memory > lm->memory)
				FAIL("%s.resources.requests.memory: must not exceed the limit",
				     field);
			if (rq && lm && lm->cpu_milli > 0 && rq->cpu_milli > lm->cpu_milli)
				FAIL("%s.resources.requests.cpu: must not exceed the limit", field);
		}
		char pf[160];
		snprintf(pf, sizeof(pf), "%s.livenessProbe", field);
		if (check_probe(c->liveness_probe, pf, ret_err) < 0)
			return -EINVAL;
		snprintf(pf, sizeof(pf), "%s.readinessProbe", field);
		if (check_probe(c->readiness_probe, pf, ret_err) < 0)
			return -EINVAL;
		for (size_t j = 0; j < c->n_volume_mounts; j++) {
			Skiff__VolumeMount *vm = c->volume_mounts[j];
			bool found = false;
			for (size_t k = 0; k < s->n_volumes; k++)
				found |= streq(s->volumes[k]->name, vm->name);
			if (!found)
				FAIL("%s.volumeMounts[%zu].name: no volume named '%s'", field, j,
				     vm->name ? vm->name : "");
			if (!vm->mount_path || vm->mount_path[0] != '/')
				FAIL("%s.volumeMounts[%zu].mountPath: must be an absolute path",
				     field, j);
		}
	}
	for (size_t i = 0; i < s->n_volumes; i++) {
		Skiff__Volume *v = s->volumes[i];
		if (!skiff_name_valid(v->name, 63))
			FAIL("%s.volumes[%zu].name: '%s' is not a valid name", f, i,
			     v->name ? v->name : "");
		if (!!v->empty_dir + !!v->host_path != 1)
			FAIL("%s.volumes[%zu]: exactly one of emptyDir, hostPath is required", f,
			     i);
		if (v->host_path && (!v->host_path->path || v->host_path->path[0] != '/'))
			FAIL("%s.volumes[%zu].hostPath.path: must be an absolute path", f, i);
	}
	if (!s->restart_policy || !*s->restart_policy)
		skiff_set_str(&s->restart_policy, "Always");
	else if (!streq(s->restart_policy, "Always") && !streq(s->restart_policy, "OnFailure") &&
		 !streq(s->restart_policy, "Never"))
		FAIL("%s.restartPolicy: must be Always, OnFailure or Never, got '%s'", f,
		     s->restart_policy);
	if (s->termination_grace_ms < 0)
		FAIL("%s.terminationGracePeriod: must be >= 0", f);
	if (s->termination_grace_ms == 0)
		s->termination_grace_ms = 10000;
	char nf[160];
	snprintf(nf, sizeof(nf), "%s.nodeSelector", f);
	return check_labels(s->node_selector, s->n_node_selector, nf, ret_err);
}

static int validate_deployment(Skiff__Deployment *d, char **ret_err)
{
	Skiff__DeploymentSpec *s = d->spec;
	if (!s)
		FAIL("spec: required");
	if (s->replicas < 0)
		FAIL("spec.replicas: must be >= 0, got %d", s->replicas);
	if (s->replicas > 100000)
		FAIL("spec.replicas: must be <= 100000, got %d", s->replicas);
	if (!s->template_ || !s->template_->spec)
		FAIL("spec.template: required");
	if (!s->template_->metadata) {
		s->template_->metadata = xmalloc(sizeof(Skiff__ObjectMeta));
		skiff__object_meta__init(s->template_->metadata);
	}
	Skiff__ObjectMeta *tm = s->template_->metadata;
	if (check_labels(tm->labels, tm->n_labels, "spec.template.metadata.labels", ret_err) < 0)
		return -EINVAL;
	if (s->n_selector == 0)
		FAIL("spec.selector: at least one label is required");
	if (check_labels(s->selector, s->n_selector, "spec.selector", ret_err) < 0)
		return -EINVAL;
	if (!skiff_selector_match(s->selector, s->n_selector, tm->labels, tm->n_labels))
		FAIL("spec.selector: does not match spec.template.metadata.labels");
	if (check_pod_spec(s->template_->spec, "spec.template.spec", ret_err) < 0)
		return -EINVAL;
	if (*s->template_->spec->node_name)
		FAIL("spec.template.spec.nodeName: must be empty (the scheduler sets it)");
	if (!s->strategy) {
		s->strategy = xmalloc(sizeof(*s->strategy));
		skiff__deployment_strategy__init(s->strategy);
	}
	if (!*s->strategy->type)
		skiff_set_str(&s->strategy->type, "RollingUpdate");
	if (streq(s->strategy->type, "RollingUpdate")) {
		if (!s->strategy->rolling_update) {
			s->strategy->rolling_update = xmalloc(sizeof(Skiff__RollingUpdateStrategy));
			skiff__rolling_update_strategy__init(s->strategy->rolling_update);
		}
		Skiff__RollingUpdateStrategy *ru = s->strategy->rolling_update;
		if (!*ru->max_surge)
			skiff_set_str(&ru->max_surge, "25%");
		if (!*ru->max_unavailable)
			skiff_set_str(&ru->max_unavailable, "25%");
		int surge, unavail;
		if (skiff_int_or_percent(ru->max_surge, 100, true, &surge) < 0)
			FAIL("spec.strategy.rollingUpdate.maxSurge: must be an integer or a "
			     "percentage, got '%s'",
			     ru->max_surge);
		if (skiff_int_or_percent(ru->max_unavailable, 100, false, &unavail) < 0)
			FAIL("spec.strategy.rollingUpdate.maxUnavailable: must be an integer or a "
			     "percentage, got '%s'",
			     ru->max_unavailable);
		if (surge == 0 && unavail == 0)
			FAIL("spec.strategy.rollingUpdate: maxSurge and maxUnavailable may not "
			     "both be 0");
	} else if (!streq(s->strategy->type, "Recreate")) {
		FAIL("spec.strategy.type: must be RollingUpdate or Recreate, got '%s'",
		     s->strategy->type);
	}
	if (s->revision_history_limit < 0)
		FAIL("spec.revisionHistoryLimit: must be >= 0, got %d", s->revision_history_limit);
	if (s->revision_history_limit == 0)
		s->revision_history_limit = 10;
	if (s->min_ready_ms < 0)
		FAIL("spec.minReadySeconds: must be >= 0");
	if (s->progress_deadline_ms <= 0)
		s->progress_deadline_ms = 600000;
	return 0;
}

static int validate_service(Skiff__Service *svc, char **ret_err)
{
	Skiff__ServiceSpec *s = svc->spec;
	if (!s)
		FAIL("spec: required");
	if (check_labels(s->selector, s->n_selector, "spec.selector", ret_err) < 0)
		return -EINVAL;
	if (s->n_selector == 0)
		FAIL("spec.selector: at least one label is required");
	if (s->n_ports == 0)
		FAIL("spec.ports: at least one port is required");
	for (size_t i = 0; i < s->n_ports; i++) {
		Skiff__ServicePort *p = s->ports[i];
		if (p->port == 0 || p->port > 65535)
			FAIL("spec.ports[%zu].port: must be 1-65535, got %u", i, p->port);
		if (p->target_port > 65535)
			FAIL("spec.ports[%zu].targetPort: must be 1-65535, got %u", i,
			     p->target_port);
		if (p->target_port == 0)
			p->target_port = p->port;
		if (!*p->protocol)
			skiff_set_str(&p->protocol, "TCP");
		if (*p->name && !skiff_name_valid(p->name, 15))
			FAIL("spec.ports[%zu].name: '%s' is not a valid name", i, p->name);
	}
	return 0;
}

int skiff_obj_validate(int kind, ProtobufCMessage *msg, char **ret_err)
{
	switch (kind) {
	case SKIFF_KIND_DEPLOYMENT:
		/* its pods are NAME-<10 hex>-<5 chars>: at most 63, a valid hostname */
		if (check_meta(msg, 46, ret_err) < 0)
			return -EINVAL;
		return validate_deployment((Skiff__Deployment *)msg, ret_err);
	case SKIFF_KIND_SERVICE:
		if (check_meta(msg, 63, ret_err) < 0)
			return -EINVAL;
		return validate_service((Skiff__Service *)msg, ret_err);
	case SKIFF_KIND_POD: {
		if (check_meta(msg, 253, ret_err) < 0)
			return -EINVAL;
		Skiff__Pod *p = (Skiff__Pod *)msg;
		return check_pod_spec(p->spec, "spec", ret_err);
	}
	case SKIFF_KIND_NODE:
		if (check_meta(msg, 63, ret_err) < 0)
			return -EINVAL;
		return 0;
	case SKIFF_KIND_EVENT:
		FAIL("kind: events are recorded by the cluster, not applied");
	}
	FAIL("kind: unknown");
}
