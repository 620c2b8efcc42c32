/* manifest.c — manifests (YAML/JSON document trees) <-> protobuf objects,
 * driven by the protobuf-c descriptors plus one table of field rules. */
#include "manifest.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "quantity.h"
#include "util.h"
#include "validate.h"

/* ---- kinds -------------------------------------------------------------- */

/* The last column: whether the kind's objects live in a namespace (the one
 * table of that rule: skiff_kind_namespaced(), and the brain's
 * skiff_kind_is_namespaced() reads it too). */
static const struct skiff_kind kinds[] = {
	{ "node", "Node", "nodes", "no", &skiff__node__descriptor, false, "v1", false },
	{ "pod", "Pod", "pods", "po", &skiff__pod__descriptor, true, "v1", true },
	{ "deployment", "Deployment", "deployments", "deploy", &skiff__deployment__descriptor, true,
	  "apps/v1", true },
	{ "service", "Service", "services", "svc", &skiff__service__descriptor, true, "v1", true },
	{ "event", "Event", "events", "ev", &skiff__event__descriptor, false, "v1", true },
	{ "namespace", "Namespace", "namespaces", "ns", &skiff__namespace__descriptor, true, "v1",
	  false },
	{ "daemonset", "DaemonSet", "daemonsets", "ds", &skiff__daemon_set__descriptor, true,
	  "apps/v1", true },
	{ "job", "Job", "jobs", "job", &skiff__job__descriptor, true, "batch/v1", true },
	{ "cronjob", "CronJob", "cronjobs", "cj", &skiff__cron_job__descriptor, true, "batch/v1",
	  true },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

const struct skiff_kind *skiff_kind_all(size_t *ret_n)
{
	*ret_n = N_KINDS;
	return kinds;
}

bool skiff_kind_namespaced(const char *name)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (name && streq(name, kinds[i].name))
			return kinds[i].namespaced;
	return false;
}

const struct skiff_kind *skiff_kind_lookup(const char *word)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (strcasecmp(word, kinds[i].name) == 0 ||
		    strcasecmp(word, kinds[i].plural) == 0 ||
		    strcasecmp(word, kinds[i].short_name) == 0)
			return &kinds[i];
	return NULL;
}

/* Object's members are declared in the order of kinds[]. */
static ProtobufCMessage **object_slot(Skiff__Object *obj, size_t i)
{
	ProtobufCMessage **slots[] = {
		(ProtobufCMessage **)&obj->node,       (ProtobufCMessage **)&obj->pod,
		(ProtobufCMessage **)&obj->deployment, (ProtobufCMessage **)&obj->service,
		(ProtobufCMessage **)&obj->event,      (ProtobufCMessage **)&obj->namespace_,
		(ProtobufCMessage **)&obj->daemon_set, (ProtobufCMessage **)&obj->job,
		(ProtobufCMessage **)&obj->cron_job,
	};
	return slots[i];
}

ProtobufCMessage *skiff_object_member(const Skiff__Object *obj, const struct skiff_kind **ret_kind)
{
	for (size_t i = 0; obj && i < N_KINDS; i++) {
		ProtobufCMessage *m = *object_slot((Skiff__Object *)obj, i);
		if (m) {
			if (ret_kind)
				*ret_kind = &kinds[i];
			return m;
		}
	}
	if (ret_kind)
		*ret_kind = NULL;
	return NULL;
}

Skiff__Object *skiff_object_wrap(const struct skiff_kind *kind, ProtobufCMessage *msg)
{
	Skiff__Object *obj = xmalloc(sizeof(*obj));
	skiff__object__init(obj);
	*object_slot(obj, (size_t)(kind - kinds)) = msg;
	return obj;
}

/* Every kind's message starts its fields with "ObjectMeta metadata = 1". */
static Skiff__ObjectMeta *message_meta(const ProtobufCMessage *msg)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "metadata");
	if (!f)
		return NULL;
	return *(Skiff__ObjectMeta **)((char *)msg + f->offset);
}

Skiff__ObjectMeta *skiff_object_meta(const Skiff__Object *obj)
{
	ProtobufCMessage *m = skiff_object_member(obj, NULL);
	return m ? message_meta(m) : NULL;
}

const char *skiff_object_name(const Skiff__Object *obj)
{
	Skiff__ObjectMeta *meta = skiff_object_meta(obj);
	return meta && meta->name ? meta->name : "";
}

/* ---- the field rules ---------------------------------------------------- */

enum rule_kind {
	R_PLAIN,	/* by the protobuf type */
	R_MAP,		/* repeated KeyValue written as a mapping */
	R_MATCH_LABELS, /* repeated KeyValue written as {matchLabels: mapping} */
	R_CPU,		/* int64 millicores as a quantity ("100m", "0.5", "2") */
	R_MEMORY,	/* int64 bytes as a quantity ("64Mi", "1G") */
	R_SECONDS,	/* int32 milliseconds as seconds (10) or a duration ("500ms") */
	R_PORT,		/* a port number, or a port's name kept in the field <field>_name */
};

enum {
	F_REQUIRED = 1 << 0, /* missing is an error */
	F_READONLY = 1 << 1, /* set by the cluster: printed, ignored by apply */
	F_HIDDEN = 1 << 2,   /* no key of its own (the <field>_name of an R_PORT field) */
};

struct rule {
	const char *message; /* full protobuf name */
	const char *field;   /* protobuf field name */
	const char *key;     /* manifest key; NULL: camelCase of field */
	enum rule_kind kind;
	unsigned flags;
	const char *def; /* default, as it would be written (the rest are lib/validate.c's) */
};

static const struct rule rules[] = {
	{ "skiff.ObjectMeta", "name", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.ObjectMeta", "labels", NULL, R_MAP, 0, NULL },
	{ "skiff.ObjectMeta", "annotations", NULL, R_MAP, 0, NULL },
	{ "skiff.ObjectMeta", "namespace", NULL, R_PLAIN, 0, NULL },
	{ "skiff.ObjectMeta", "uid", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.ObjectMeta", "revision", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.ObjectMeta", "generation", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.ObjectMeta", "created_ms", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.ObjectMeta", "deleted_ms", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.ResourceList", "cpu_milli", "cpu", R_CPU, 0, NULL },
	{ "skiff.ResourceList", "memory", NULL, R_MEMORY, 0, NULL },
	{ "skiff.ResourceList", "ephemeral_storage", "ephemeral-storage", R_MEMORY, 0, NULL },
	{ "skiff.EnvVar", "name", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.ContainerPort", "name", NULL, R_PLAIN, 0, NULL },
	{ "skiff.ContainerPort", "container_port", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.ContainerPort", "protocol", NULL, R_PLAIN, 0, NULL },
	{ "skiff.TcpSocketAction", "port", NULL, R_PORT, F_REQUIRED, NULL },
	{ "skiff.TcpSocketAction", "port_name", NULL, R_PLAIN, F_HIDDEN, NULL },
	{ "skiff.HttpGetAction", "port", NULL, R_PORT, F_REQUIRED, NULL },
	{ "skiff.HttpGetAction", "port_name", NULL, R_PLAIN, F_HIDDEN, NULL },
	{ "skiff.HttpGetAction", "path", NULL, R_PLAIN, 0, NULL },
	{ "skiff.ExecAction", "command", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Probe", "initial_delay_ms", "initialDelaySeconds", R_SECONDS, 0, NULL },
	{ "skiff.Probe", "period_ms", "periodSeconds", R_SECONDS, 0, NULL },
	{ "skiff.Probe", "timeout_ms", "timeoutSeconds", R_SECONDS, 0, NULL },
	{ "skiff.Probe", "failure_threshold", NULL, R_PLAIN, 0, NULL },
	{ "skiff.Probe", "success_threshold", NULL, R_PLAIN, 0, NULL },
	{ "skiff.VolumeMount", "name", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.VolumeMount", "mount_path", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Container", "name", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Container", "image", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.EmptyDirVolumeSource", "size_limit", NULL, R_MEMORY, 0, NULL },
	{ "skiff.EmptyDirVolumeSource", "medium", NULL, R_PLAIN, 0, NULL },
	{ "skiff.HostPathVolumeSource", "path", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Volume", "name", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.PodSpec", "containers", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.PodSpec", "restart_policy", NULL, R_PLAIN, 0, NULL },
	{ "skiff.PodSpec", "node_selector", NULL, R_MAP, 0, NULL },
	{ "skiff.PodSpec", "termination_grace_ms", "terminationGracePeriodSeconds", R_SECONDS, 0,
	  NULL },
	{ "skiff.PodSpec", "hostname", NULL, R_PLAIN, 0, NULL },
	{ "skiff.PodTemplate", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.PodTemplate", "metadata", NULL, R_PLAIN, 0, NULL },
	{ "skiff.RollingUpdateStrategy", "max_surge", NULL, R_PLAIN, 0, NULL },
	{ "skiff.RollingUpdateStrategy", "max_unavailable", NULL, R_PLAIN, 0, NULL },
	{ "skiff.DeploymentStrategy", "type", NULL, R_PLAIN, 0, NULL },
	{ "skiff.DeploymentStrategy", "rolling_update", NULL, R_PLAIN, 0, NULL },
	{ "skiff.DeploymentSpec", "replicas", NULL, R_PLAIN, 0, "1" },
	{ "skiff.DeploymentSpec", "selector", NULL, R_MATCH_LABELS, 0, NULL },
	{ "skiff.DeploymentSpec", "template", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.DeploymentSpec", "strategy", NULL, R_PLAIN, 0, NULL },
	{ "skiff.DeploymentSpec", "revision_history_limit", NULL, R_PLAIN, 0, NULL },
	{ "skiff.DeploymentSpec", "min_ready_ms", "minReadySeconds", R_SECONDS, 0, NULL },
	{ "skiff.DeploymentSpec", "progress_deadline_ms", "progressDeadlineSeconds", R_SECONDS, 0,
	  NULL },
	{ "skiff.ServicePort", "name", NULL, R_PLAIN, 0, NULL },
	{ "skiff.ServicePort", "port", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.ServicePort", "target_port", NULL, R_PORT, 0, NULL },
	{ "skiff.ServicePort", "target_port_name", NULL, R_PLAIN, F_HIDDEN, NULL },
	{ "skiff.ServicePort", "protocol", NULL, R_PLAIN, 0, NULL },
	{ "skiff.ServiceSpec", "selector", NULL, R_MAP, 0, NULL },
	{ "skiff.ServiceSpec", "ports", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Pod", "metadata", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Pod", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Pod", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.Pod", "owner", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.Pod", "template_hash", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.Deployment", "metadata", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Deployment", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Deployment", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.Service", "metadata", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Service", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Service", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.Pod", "owner_kind", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.DaemonSetSpec", "selector", NULL, R_MATCH_LABELS, 0, NULL },
	{ "skiff.DaemonSetSpec", "template", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.DaemonSetSpec", "min_ready_ms", "minReadySeconds", R_SECONDS, 0, NULL },
	{ "skiff.DaemonSet", "metadata", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.DaemonSet", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.DaemonSet", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.JobSpec", "completions", NULL, R_PLAIN, 0, "1" },
	{ "skiff.JobSpec", "parallelism", NULL, R_PLAIN, 0, "1" },
	{ "skiff.JobSpec", "backoff_limit", NULL, R_PLAIN, 0, "6" },
	{ "skiff.JobSpec", "template", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Job", "metadata", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Job", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Job", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.JobTemplate", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.CronJobSpec", "schedule", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.CronJobSpec", "job_template", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.CronJobSpec", "successful_jobs_history_limit", NULL, R_PLAIN, 0, "3" },
	{ "skiff.CronJobSpec", "failed_jobs_history_limit", NULL, R_PLAIN, 0, "1" },
	{ "skiff.CronJob", "metadata", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.CronJob", "spec", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.CronJob", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.Node", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.NodeStatus", "capacity", NULL, R_PLAIN, 0, NULL },
	{ "skiff.Event", "status", NULL, R_PLAIN, F_READONLY, NULL },
	{ "skiff.Namespace", "metadata", NULL, R_PLAIN, F_REQUIRED, NULL },
	{ "skiff.Namespace", "status", NULL, R_PLAIN, F_READONLY, NULL },
};

/* ---- Kubernetes fields Skiff does not implement ------------------------- */

#define REFUSE(msg, key, why)                                                                      \
	{                                                                                          \
		"skiff." msg, key, false, NULL, why                                                \
	}
#define IGNORE(msg, key, val, why)                                                                 \
	{                                                                                          \
		"skiff." msg, key, true, val, why                                                  \
	}

static const struct skiff_k8s_field k8s_fields[] = {
	IGNORE("ObjectMeta", "creationTimestamp", NULL, "set by the cluster"),
	IGNORE("ObjectMeta", "resourceVersion", NULL, "set by the cluster"),
	IGNORE("ObjectMeta", "selfLink", NULL, "set by the cluster"),
	IGNORE("ObjectMeta", "managedFields", NULL, "set by the cluster"),
	REFUSE("ObjectMeta", "generateName", "give every object its name"),
	REFUSE("ObjectMeta", "ownerReferences", "the cluster sets a pod's owner"),
	REFUSE("ObjectMeta", "finalizers", NULL),
	REFUSE("PodSpec", "affinity", "use nodeSelector"),
	IGNORE("PodSpec", "tolerations", NULL, "nodes have no taints"),
	REFUSE("PodSpec", "topologySpreadConstraints",
	       "replicas of a deployment are spread across nodes by default"),
	REFUSE("PodSpec", "initContainers", NULL),
	REFUSE("PodSpec", "ephemeralContainers", NULL),
	REFUSE("PodSpec", "securityContext", NULL),
	REFUSE("PodSpec", "hostNetwork", NULL),
	REFUSE("PodSpec", "hostPID", NULL),
	REFUSE("PodSpec", "hostIPC", NULL),
	REFUSE("PodSpec", "shareProcessNamespace", NULL),
	REFUSE("PodSpec", "dnsConfig", NULL),
	REFUSE("PodSpec", "hostAliases", NULL),
	REFUSE("PodSpec", "subdomain", NULL),
	REFUSE("PodSpec", "schedulerName", "Skiff has one scheduler"),
	REFUSE("PodSpec", "runtimeClassName", NULL),
	REFUSE("PodSpec", "activeDeadlineSeconds", NULL),
	REFUSE("PodSpec", "readinessGates", NULL),
	REFUSE("PodSpec", "priority", NULL),
	REFUSE("PodSpec", "preemptionPolicy", NULL),
	REFUSE("PodSpec", "overhead", NULL),
	REFUSE("PodSpec", "os", NULL),
	IGNORE("PodSpec", "imagePullSecrets", NULL, "images are local to each node"),
	IGNORE("PodSpec", "serviceAccountName", NULL, "pods get no API credentials"),
	IGNORE("PodSpec", "serviceAccount", NULL, "pods get no API credentials"),
	IGNORE("PodSpec", "automountServiceAccountToken", NULL, "pods get no API credentials"),
	IGNORE("PodSpec", "enableServiceLinks", NULL, "services are always in the environment"),
	IGNORE("PodSpec", "priorityClassName", NULL, "pods have no priorities"),
	IGNORE("PodSpec", "dnsPolicy", "ClusterFirst",
	       "services are found through the environment and /etc/skiff/endpoints"),
	REFUSE("Container", "envFrom", "list the variables in env"),
	REFUSE("Container", "startupProbe", "use initialDelaySeconds of the other probes"),
	REFUSE("Container", "lifecycle", NULL),
	REFUSE("Container", "securityContext", NULL),
	REFUSE("Container", "stdin", NULL),
	REFUSE("Container", "stdinOnce", NULL),
	REFUSE("Container", "tty", NULL),
	REFUSE("Container", "volumeDevices", NULL),
	REFUSE("Container", "restartPolicy", NULL),
	IGNORE("Container", "terminationMessagePath", NULL, "skiffctl logs shows the output"),
	IGNORE("Container", "terminationMessagePolicy", NULL, "skiffctl logs shows the output"),
	IGNORE("Container", "resizePolicy", NULL, "resources change by a rollout"),
	REFUSE("EnvVar", "valueFrom", NULL),
	REFUSE("ContainerPort", "hostPort", "reach pods through a service's endpoints"),
	REFUSE("ContainerPort", "hostIP", "reach pods through a service's endpoints"),
	REFUSE("Probe", "grpc", "use exec, tcpSocket or httpGet"),
	REFUSE("Probe", "terminationGracePeriodSeconds", NULL),
	REFUSE("HttpGetAction", "host", "probes reach the pod's own address"),
	REFUSE("HttpGetAction", "httpHeaders", NULL),
	IGNORE("HttpGetAction", "scheme", "HTTP", "probes speak HTTP"),
	REFUSE("TcpSocketAction", "host", "probes reach the pod's own address"),
	REFUSE("VolumeMount", "subPath", NULL),
	REFUSE("VolumeMount", "subPathExpr", NULL),
	REFUSE("VolumeMount", "mountPropagation", NULL),
	REFUSE("VolumeMount", "recursiveReadOnly", NULL),
	REFUSE("Volume", "configMap", NULL),
	REFUSE("Volume", "secret", NULL),
	REFUSE("Volume", "persistentVolumeClaim", "use hostPath"),
	REFUSE("Volume", "projected", NULL),
	REFUSE("Volume", "downwardAPI", NULL),
	REFUSE("Volume", "ephemeral", NULL),
	REFUSE("Volume", "csi", NULL),
	REFUSE("Volume", "nfs", NULL),
	IGNORE("HostPathVolumeSource", "type", "Directory", "the path must exist on the node"),
	IGNORE("ServiceSpec", "type", "ClusterIP",
	       "services are found through the environment and /etc/skiff/endpoints"),
	REFUSE("ServiceSpec", "type", "only ClusterIP services exist"),
	REFUSE("ServiceSpec", "clusterIP", "services have no virtual IP"),
	REFUSE("ServiceSpec", "clusterIPs", "services have no virtual IP"),
	REFUSE("ServiceSpec", "externalName", NULL),
	REFUSE("ServiceSpec", "externalIPs", NULL),
	REFUSE("ServiceSpec", "loadBalancerIP", NULL),
	REFUSE("ServiceSpec", "externalTrafficPolicy", NULL),
	REFUSE("ServiceSpec", "internalTrafficPolicy", NULL),
	REFUSE("ServiceSpec", "sessionAffinity", NULL),
	REFUSE("ServiceSpec", "publishNotReadyAddresses", NULL),
	IGNORE("ServiceSpec", "ipFamilies", NULL, "endpoints carry the pods' addresses"),
	IGNORE("ServiceSpec", "ipFamilyPolicy", NULL, "endpoints carry the pods' addresses"),
	REFUSE("ServicePort", "nodePort", "only ClusterIP services exist"),
	REFUSE("JobSpec", "selector", "a job's pods are labelled job-name=NAME"),
	REFUSE("JobSpec", "manualSelector", "a job's pods are labelled job-name=NAME"),
	IGNORE("JobSpec", "completionMode", "NonIndexed", "every completion is alike"),
	REFUSE("JobSpec", "completionMode", "only NonIndexed jobs"),
	REFUSE("JobSpec", "podFailurePolicy", "failures count against backoffLimit"),
	REFUSE("JobSpec", "backoffLimitPerIndex", "only NonIndexed jobs"),
	REFUSE("JobSpec", "maxFailedIndexes", "only NonIndexed jobs"),
	REFUSE("JobSpec", "successPolicy", "a job succeeds with its completions"),
	REFUSE("JobSpec", "podReplacementPolicy", "a failed pod is replaced once it stopped"),
	REFUSE("JobSpec", "managedBy", NULL),
	IGNORE("ServicePort", "appProtocol", NULL, "endpoints carry no protocol hints"),
};
#define N_K8S_FIELDS (sizeof(k8s_fields) / sizeof(k8s_fields[0]))

const struct skiff_k8s_field *skiff_k8s_fields(size_t *ret_n)
{
	*ret_n = N_K8S_FIELDS;
	return k8s_fields;
}

/* A field's rule and manifest key. */
struct field {
	const ProtobufCFieldDescriptor *fd;
	const struct rule *rule; /* NULL: plain */
	char key[64];
};

static void field_of(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *fd,
		     struct field *ret)
{
	ret->fd = fd;
	ret->rule = NULL;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (streq(rules[i].message, desc->name) && streq(rules[i].field, fd->name)) {
			ret->rule = &rules[i];
			break;
		}
	if (ret->rule && ret->rule->key)
		snprintf(ret->key, sizeof(ret->key), "%s", ret->rule->key);
	else
		skiff_camel_case(fd->name, ret->key, sizeof(ret->key));
}

/* An R_PORT field's name field ("port" -> "port_name"). */
static char **port_name_slot(ProtobufCMessage *msg, const struct field *f)
{
	char name[64];
	snprintf(name, sizeof(name), "%s_name", f->fd->name);
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
	assert(fd && fd->type == PROTOBUF_C_TYPE_STRING);
	return (char **)((char *)msg + fd->offset);
}

static enum rule_kind kind_of(const struct field *f)
{
	return f->rule ? f->rule->kind : R_PLAIN;
}

static unsigned flags_of(const struct field *f)
{
	return f->rule ? f->rule->flags : 0;
}

/* ---- small validators --------------------------------------------------- */

size_t skiff_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	size_t prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1])
				? 0
				: 1;
			size_t best = prev[j - 1] + cost;
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
		}
		memcpy(prev, cur, sizeof(size_t) * (lb + 1));
	}
	return prev[lb];
}

/* ---- parsing: tree -> message ------------------------------------------- */

/* Errors kept per input; the rest are counted (a hostile file could make
 * one per node). */
#define MAX_ERRORS_SHOWN 100

struct ctx {
	struct skiff_manifest *m;
	const char *file;
	int errors;
};

static void error_at(struct ctx *c, const struct skiff_doc_node *n, const char *path,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void error_at(struct ctx *c, const struct skiff_doc_node *n, const char *path,
		     const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	if (c->errors++ >= MAX_ERRORS_SHOWN)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	c->m->errors = xrealloc(c->m->errors, (c->m->n_errors + 1) * sizeof(char *));
	c->m->errors[c->m->n_errors++] = xasprintf("%s:%u:%u: %s%s%s", c->file, n ? n->line : 1,
						   n ? n->col : 1, path, *path ? ": " : "", msg);
}

/* A value quoted for an error message, shortened. */
static const char *shown(const struct skiff_doc_node *n, char *buf, size_t len)
{
	if (n->type == SKIFF_DOC_MAP)
		return "a mapping";
	if (n->type == SKIFF_DOC_SEQ)
		return "a list";
	if (strlen(n->str) > 40)
		snprintf(buf, len, "\"%.37s...\"", n->str);
	else
		snprintf(buf, len, "\"%s\"", n->str);
	return buf;
}

static void expected(struct ctx *c, const struct skiff_doc_node *n, const char *path,
		     const char *what)
{
	char buf[64];
	error_at(c, n, path, "expected %s, got %s", what, shown(n, buf, sizeof(buf)));
}

static char *join_path(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

static bool scalar(struct ctx *c, const struct skiff_doc_node *n, const char *path,
		   const char *what)
{
	if (n->type != SKIFF_DOC_SCALAR) {
		expected(c, n, path, what);
		return false;
	}
	return true;
}

/* Non-negative integer in [0, max]. */
static bool parse_count(struct ctx *c, const struct skiff_doc_node *n, const char *path,
			int64_t max, int64_t *ret)
{
	int64_t v;
	if (!scalar(c, n, path, "a non-negative integer"))
		return false;
	if (skiff_parse_int64(n->str, &v) < 0 || v < 0) {
		expected(c, n, path, "a non-negative integer");
		return false;
	}
	if (v > max) {
		char buf[64];
		error_at(c, n, path, "expected an integer of at most %lld, got %s", (long long)max,
			 shown(n, buf, sizeof(buf)));
		return false;
	}
	*ret = v;
	return true;
}

static void set_int(void *slot, ProtobufCType type, int64_t v)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		*(int32_t *)slot = (int32_t)v;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*(uint32_t *)slot = (uint32_t)v;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *)slot = (uint64_t)v;
		break;
	default:
		*(int64_t *)slot = v;
		break;
	}
}

static int64_t get_int(const void *slot, ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return *(const int32_t *)slot;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return *(const uint32_t *)slot;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return (int64_t) * (const uint64_t *)slot;
	default:
		return *(const int64_t *)slot;
	}
}

static int64_t int_max(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return INT32_MAX;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return UINT32_MAX;
	default:
		return INT64_MAX;
	}
}

static bool is_int_type(ProtobufCType t)
{
	return t == PROTOBUF_C_TYPE_INT32 || t == PROTOBUF_C_TYPE_SINT32 ||
	       t == PROTOBUF_C_TYPE_SFIXED32 || t == PROTOBUF_C_TYPE_UINT32 ||
	       t == PROTOBUF_C_TYPE_FIXED32 || t == PROTOBUF_C_TYPE_INT64 ||
	       t == PROTOBUF_C_TYPE_SINT64 || t == PROTOBUF_C_TYPE_SFIXED64 ||
	       t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	default:
		return 8;
	}
}

static ProtobufCMessage *message_new(const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = xmalloc(desc->sizeof_message);
	protobuf_c_message_init(desc, m);
	return m;
}

/* Seconds (10) or a duration ("500ms", "1m30s") into milliseconds. */
static int parse_seconds(const char *s, int64_t *ret_ms)
{
	int64_t v;
	if (skiff_parse_int64(s, &v) == 0 && v >= 0 && v <= INT32_MAX / 1000) {
		*ret_ms = v * 1000;
		return 0;
	}
	if (skiff_parse_duration(s, &v) < 0 || v > INT32_MAX)
		return -EINVAL;
	*ret_ms = v;
	return 0;
}

static char *format_memory(int64_t bytes, char *buf, size_t len);

static struct skiff_doc_node *cpu_to_doc(int64_t milli)
{
	char buf[64];
	return skiff_doc_scalar(skiff_format_cpu(milli, buf, sizeof(buf)), SKIFF_SCALAR_STRING);
}

static struct skiff_doc_node *memory_to_doc(int64_t bytes)
{
	char buf[64];
	return skiff_doc_scalar(format_memory(bytes, buf, sizeof(buf)), SKIFF_SCALAR_STRING);
}

/* Whole seconds as a number, anything else as a duration. */
static struct skiff_doc_node *seconds_to_doc(int64_t ms)
{
	char buf[64];
	if (ms % 1000 == 0)
		return skiff_doc_number(ms / 1000);
	return skiff_doc_scalar(skiff_format_duration(ms, buf, sizeof(buf)), SKIFF_SCALAR_STRING);
}

/* The quantity forms of R_CPU, R_MEMORY and R_SECONDS fields: what a
 * manifest may write (for the error), how it is read and written back. */
static const struct quantity {
	const char *what;
	int (*parse)(const char *s, int64_t *ret);
	struct skiff_doc_node *(*to_doc)(int64_t v);
} quantities[] = {
	[R_CPU] = { "a CPU quantity (like 100m, 0.5 or 2)", skiff_parse_cpu, cpu_to_doc },
	[R_MEMORY] = { "a memory quantity (like 64Mi, 1G or 512k)", skiff_parse_memory,
		       memory_to_doc },
	[R_SECONDS] = { "seconds (like 10) or a duration (like 500ms or 1m30s)", parse_seconds,
			seconds_to_doc },
};

static bool parse_message(struct ctx *c, const struct skiff_doc_node *n, const char *path,
			  ProtobufCMessage *msg, bool top);

/* A mapping of strings into repeated KeyValue. */
static void parse_map(struct ctx *c, const struct skiff_doc_node *n, const char *path,
		      const struct field *f, ProtobufCMessage *msg)
{
	if (n->type != SKIFF_DOC_MAP) {
		expected(c, n, path, "a mapping of strings (key: value)");
		return;
	}
	size_t *count = (size_t *)((char *)msg + f->fd->quantifier_offset);
	Skiff__KeyValue ***arr = (Skiff__KeyValue ***)((char *)msg + f->fd->offset);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct skiff_doc_node *k = n->items[i], *v = n->items[i + 1];
		_cleanup_free_ char *p = join_path(path, k->str);
		if (v->type != SKIFF_DOC_SCALAR) {
			expected(c, v, p, "a string");
			continue;
		}
		Skiff__KeyValue *kv = xmalloc(sizeof(*kv));
		skiff__key_value__init(kv);
		kv->key = xstrdup(k->str);
		kv->value = xstrdup(v->null ? "" : v->str);
		*arr = xrealloc(*arr, (*count + 1) * sizeof(**arr));
		(*arr)[(*count)++] = kv;
	}
}

/* One value (not a list) of field f into slot. */
static bool parse_single(struct ctx *c, const struct skiff_doc_node *n, const char *path,
			 const struct field *f, void *slot)
{
	const ProtobufCFieldDescriptor *fd = f->fd;
	int64_t v;

	switch (kind_of(f)) {
	case R_CPU:
	case R_MEMORY:
	case R_SECONDS: {
		const struct quantity *q = &quantities[kind_of(f)];
		if (!scalar(c, n, path, q->what))
			return false;
		if (q->parse(n->str, &v) < 0) {
			expected(c, n, path, q->what);
			return false;
		}
		set_int(slot, fd->type, v);
		return true;
	}
	case R_PLAIN:
	case R_MAP:
	case R_MATCH_LABELS:
	case R_PORT:
		break;
	}

	if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
		ProtobufCMessage **m = slot;
		if (n->type != SKIFF_DOC_MAP) {
			expected(c, n, path, "a mapping");
			return false;
		}
		if (!*m)
			*m = message_new(fd->descriptor);
		return parse_message(c, n, path, *m, false);
	}
	if (fd->type == PROTOBUF_C_TYPE_STRING) {
		if (!scalar(c, n, path, "a string"))
			return false;
		skiff_set_str(slot, n->str);
		return true;
	}
	if (fd->type == PROTOBUF_C_TYPE_BOOL) {
		if (!scalar(c, n, path, "true or false"))
			return false;
		if (strcasecmp(n->str, "true") == 0)
			*(protobuf_c_boolean *)slot = 1;
		else if (strcasecmp(n->str, "false") == 0)
			*(protobuf_c_boolean *)slot = 0;
		else {
			expected(c, n, path, "true or false");
			return false;
		}
		return true;
	}
	if (is_int_type(fd->type)) {
		if (!parse_count(c, n, path, int_max(fd->type), &v))
			return false;
		set_int(slot, fd->type, v);
		return true;
	}
	error_at(c, n, path, "field type not supported in manifests");
	return false;
}

static bool parse_field(struct ctx *c, const struct skiff_doc_node *n, const char *path,
			const struct field *f, ProtobufCMessage *msg)
{
	const ProtobufCFieldDescriptor *fd = f->fd;
	void *slot = (char *)msg + fd->offset;

	if (kind_of(f) == R_MAP) {
		parse_map(c, n, path, f, msg);
		return true;
	}
	if (kind_of(f) == R_MATCH_LABELS) {
		if (n->type != SKIFF_DOC_MAP) {
			expected(c, n, path, "a mapping with matchLabels");
			return false;
		}
		for (size_t i = 0; i + 1 < n->n; i += 2) {
			const struct skiff_doc_node *k = n->items[i];
			_cleanup_free_ char *p = join_path(path, k->str);
			if (!streq(k->str, "matchLabels")) {
				if (skiff_edit_distance(k->str, "matchLabels") <= 3)
					error_at(c, k, p,
						 "unknown field \"%s\", did you mean "
						 "\"matchLabels\"?",
						 k->str);
				else
					error_at(c, k, p,
						 "unknown field \"%s\" (a selector has "
						 "matchLabels only)",
						 k->str);
				continue;
			}
			if (!n->items[i + 1]->null)
				parse_map(c, n->items[i + 1], p, f, msg);
		}
		return true;
	}
	if (kind_of(f) == R_PORT && n->type == SKIFF_DOC_SCALAR) {
		/* a number is the port (lib/validate.c checks its range); a word
		 * names one of the container's ports, checked and resolved there */
		int64_t v;
		if (skiff_parse_int64(n->str, &v) == 0) {
			if (v < 0 || v > UINT32_MAX) {
				expected(c, n, path, "a port (1-65535) or a port's name");
				return false;
			}
			set_int(slot, fd->type, v);
			return true;
		}
		skiff_set_str(port_name_slot(msg, f), n->str);
		return true;
	}
	if (fd->label != PROTOBUF_C_LABEL_REPEATED)
		return parse_single(c, n, path, f, slot);

	if (n->type != SKIFF_DOC_SEQ) {
		expected(c, n, path, "a list");
		return false;
	}
	size_t *count = (size_t *)((char *)msg + fd->quantifier_offset);
	void **arr = slot;
	size_t es = elem_size(fd->type);
	bool ok = true;
	/* (one field is only ever parsed once: duplicate keys are refused) */
	*arr = xcalloc(n->n ? n->n : 1, es);
	*count = 0;
	for (size_t i = 0; i < n->n; i++) {
		_cleanup_free_ char *p = xasprintf("%s[%zu]", path, i);
		char *elem = (char *)*arr + *count * es;
		if (fd->type == PROTOBUF_C_TYPE_STRING)
			*(char **)elem = NULL;
		if (n->items[i]->type == SKIFF_DOC_SCALAR && n->items[i]->null) {
			expected(c, n->items[i], p, "a value");
			ok = false;
			continue;
		}
		if (parse_single(c, n->items[i], p, f, elem))
			(*count)++;
		else {
			/* a message half-built on failure is still owned by the list */
			if (fd->type == PROTOBUF_C_TYPE_MESSAGE && *(void **)elem)
				(*count)++;
			ok = false;
		}
	}
	return ok;
}

static void suggest_unknown(struct ctx *c, const struct skiff_doc_node *k, const char *path,
			    const ProtobufCMessageDescriptor *desc, bool top)
{
	static const char *const top_keys[] = { "apiVersion", "kind" };
	char best[64] = "";
	size_t best_d = SIZE_MAX;
	struct field f;

	for (unsigned i = 0; i < desc->n_fields; i++) {
		field_of(desc, &desc->fields[i], &f);
		if (flags_of(&f) & F_HIDDEN)
			continue;
		size_t d = skiff_edit_distance(k->str, f.key);
		if (d < best_d) {
			best_d = d;
			snprintf(best, sizeof(best), "%s", f.key);
		}
	}
	for (size_t i = 0; top && i < 2; i++) {
		size_t d = skiff_edit_distance(k->str, top_keys[i]);
		if (d < best_d) {
			best_d = d;
			snprintf(best, sizeof(best), "%s", top_keys[i]);
		}
	}
	size_t len = strlen(k->str);
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	if (best_d <= limit)
		error_at(c, k, path, "unknown field \"%s\", did you mean \"%s\"?", k->str, best);
	else
		error_at(c, k, path, "unknown field \"%s\"", k->str);
}

static void warning_at(struct ctx *c, const struct skiff_doc_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warning_at(struct ctx *c, const struct skiff_doc_node *n, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	if (c->m->n_warnings >= MAX_ERRORS_SHOWN)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	c->m->warnings = xrealloc(c->m->warnings, (c->m->n_warnings + 1) * sizeof(char *));
	c->m->warnings[c->m->n_warnings++] =
	    xasprintf("%s:%u:%u: %s", c->file, n->line, n->col, msg);
}

/* Key k (value v) at path is a Kubernetes field of desc that Skiff does not
 * implement: refuse it, or accept and ignore it with a warning. False when
 * it is no such field (so an unknown one). */
static bool k8s_field(struct ctx *c, const ProtobufCMessageDescriptor *desc,
		      const struct skiff_doc_node *k, const struct skiff_doc_node *v,
		      const char *path)
{
	const struct skiff_doc_node *other_value = NULL;
	char buf[64];

	for (size_t i = 0; i < N_K8S_FIELDS; i++) {
		const struct skiff_k8s_field *e = &k8s_fields[i];
		if (!streq(e->message, desc->name) || !streq(e->key, k->str))
			continue;
		if (v->type == SKIFF_DOC_SCALAR && v->null)
			return true; /* not set */
		if (e->ignored && e->value &&
		    (v->type != SKIFF_DOC_SCALAR || !streq(v->str, e->value))) {
			other_value = v; /* only that value is ignored */
			continue;
		}
		if (e->ignored) {
			warning_at(c, k, "%s is ignored by Skiff (%s)", path, e->why);
			return true;
		}
		if (other_value)
			error_at(c, v, "", "%s: %s is not supported by Skiff%s%s%s", path,
				 shown(v, buf, sizeof(buf)), e->why ? " (" : "",
				 e->why ? e->why : "", e->why ? ")" : "");
		else
			error_at(c, k, "", "%s is not supported by Skiff%s%s%s", path,
				 e->why ? " (" : "", e->why ? e->why : "", e->why ? ")" : "");
		return true;
	}
	if (other_value) {
		for (size_t i = 0; i < N_K8S_FIELDS; i++)
			if (streq(k8s_fields[i].message, desc->name) &&
			    streq(k8s_fields[i].key, k->str)) {
				error_at(c, v, "",
					 "%s: %s is not supported by Skiff (only \"%s\", which is "
					 "ignored)",
					 path, shown(v, buf, sizeof(buf)), k8s_fields[i].value);
				break;
			}
		return true;
	}
	return false;
}

static bool parse_message(struct ctx *c, const struct skiff_doc_node *n, const char *path,
			  ProtobufCMessage *msg, bool top)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	int errors = c->errors;
	bool seen[64];
	struct field f;

	if (desc->n_fields > 64)
		abort(); /* the object model has small messages */
	if (n->type != SKIFF_DOC_MAP) {
		expected(c, n, path, "a mapping");
		return false;
	}
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct skiff_doc_node *k = n->items[i], *v = n->items[i + 1];
		_cleanup_free_ char *p = join_path(path, k->str);
		bool dup = false;
		for (size_t j = 0; j < i; j += 2)
			if (streq(n->items[j]->str, k->str))
				dup = true;
		if (dup) {
			error_at(c, k, p, "duplicate field");
			continue;
		}
		if (top && (streq(k->str, "apiVersion") || streq(k->str, "kind")))
			continue;
		unsigned idx = desc->n_fields;
		for (unsigned j = 0; j < desc->n_fields; j++) {
			field_of(desc, &desc->fields[j], &f);
			if (!(flags_of(&f) & F_HIDDEN) && streq(f.key, k->str)) {
				idx = j;
				break;
			}
		}
		if (idx == desc->n_fields) {
			if (!k8s_field(c, desc, k, v, p))
				suggest_unknown(c, k, p, desc, top);
			continue;
		}
		seen[idx] = true;
		if ((flags_of(&f) & F_READONLY) || (v->type == SKIFF_DOC_SCALAR && v->null)) {
			seen[idx] = (flags_of(&f) & F_READONLY) != 0;
			continue;
		}
		parse_field(c, v, p, &f, msg);
	}
	/* missing fields: required ones are errors, others get their defaults */
	for (unsigned j = 0; j < desc->n_fields; j++) {
		if (seen[j])
			continue;
		field_of(desc, &desc->fields[j], &f);
		_cleanup_free_ char *p = join_path(path, f.key);
		unsigned fl = flags_of(&f);
		/* a pod template's metadata needs no name */
		bool template_name =
		    streq(desc->name, "skiff.ObjectMeta") && !streq(path, "metadata");
		if ((fl & F_REQUIRED) && !template_name) {
			error_at(c, n, p, "required field is missing");
		} else if (f.rule && f.rule->def) {
			struct skiff_doc_node d = { .type = SKIFF_DOC_SCALAR,
						    .line = n->line,
						    .col = n->col,
						    .str = (char *)f.rule->def };
			parse_field(c, &d, p, &f, msg);
		}
	}
	return c->errors == errors;
}

/* ---- the shared rules (lib/validate.c) ---------------------------------- */

/* The deepest node of doc along a field path ("spec.containers[0].env"). */
static const struct skiff_doc_node *node_at(const struct skiff_doc_node *doc, const char *path)
{
	const struct skiff_doc_node *cur = doc;
	const char *p = path;

	while (*p) {
		size_t len = strcspn(p, ".[");
		if (len > 0) {
			_cleanup_free_ char *key = xstrndup(p, len);
			const struct skiff_doc_node *next =
			    cur->type == SKIFF_DOC_MAP ? skiff_doc_get(cur, key) : NULL;
			if (!next)
				return cur;
			cur = next;
			p += len;
		}
		while (*p == '[') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);
			if (*end != ']' || cur->type != SKIFF_DOC_SEQ || i >= cur->n)
				return cur;
			cur = cur->items[i];
			p = end + 1;
		}
		if (*p == '.')
			p++;
		else if (*p)
			return cur;
	}
	return cur;
}

/* The brain's check, run before sending: the same message, placed. */
static void validate_object(struct ctx *c, const struct skiff_doc_node *doc, ProtobufCMessage *msg)
{
	_cleanup_free_ char *err = NULL;

	if (c->m->no_validate || skiff_validate(msg, c->m->validate_opts, &err) == 0)
		return;
	_cleanup_free_ char *path = xstrndup(err, strcspn(err, ":"));
	error_at(c, node_at(doc, path), "", "%s", err);
}

/* ---- documents and files ------------------------------------------------ */

/* "Deployment, Service or Pod": the kinds a manifest may hold (free()). */
static char *applicable_titles(void)
{
	const char *t[N_KINDS];
	size_t n = 0;
	for (size_t i = 0; i < N_KINDS; i++)
		if (kinds[i].applicable)
			t[n++] = kinds[i].title;
	char *s = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s%s%s", s, i == 0 ? "" : i + 1 == n ? " or " : ", ", t[i]);
		free(s);
		s = next;
	}
	return s;
}

/* Kubernetes kinds Skiff does not have (a clearer error than "unknown"). */
static bool k8s_kind_known(const char *kind)
{
	static const char *const known[] = {
		"ReplicaSet",
		"ReplicationController",
		"Ingress",
		"IngressClass",
		"PersistentVolume",
		"PersistentVolumeClaim",
		"StorageClass",
		"ServiceAccount",
		"Role",
		"RoleBinding",
		"ClusterRole",
		"ClusterRoleBinding",
		"NetworkPolicy",
		"HorizontalPodAutoscaler",
		"PodDisruptionBudget",
		"LimitRange",
		"ResourceQuota",
		"CustomResourceDefinition",
		"Endpoints",
		"EndpointSlice",
		"PriorityClass",
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (streq(kind, known[i]))
			return true;
	return false;
}

static void parse_document(struct ctx *c, const struct skiff_doc_node *doc, int depth)
{
	int errors = c->errors;
	char buf[64];

	if (doc->type != SKIFF_DOC_MAP) {
		expected(c, doc, "", "a mapping with apiVersion, kind, metadata and spec");
		return;
	}
	const struct skiff_doc_node *api = skiff_doc_get(doc, "apiVersion");
	const struct skiff_doc_node *kind = skiff_doc_get(doc, "kind");
	_cleanup_free_ char *titles = applicable_titles();
	if (!kind) {
		if (!api)
			error_at(c, doc, "apiVersion", "required field is missing (apiVersion: %s)",
				 SKIFF_API_VERSION);
		error_at(c, doc, "kind", "required field is missing (%s)", titles);
		return;
	}
	bool is_list = kind->type == SKIFF_DOC_SCALAR && streq(kind->str, "List");
	const struct skiff_kind *k = NULL;
	for (size_t i = 0; kind->type == SKIFF_DOC_SCALAR && i < N_KINDS; i++)
		if (kinds[i].applicable && streq(kind->str, kinds[i].title))
			k = &kinds[i];
	if (!k && !(is_list && depth == 0)) {
		const char *best = NULL;
		for (size_t i = 0; kind->type == SKIFF_DOC_SCALAR && i < N_KINDS; i++)
			if (kinds[i].applicable &&
			    skiff_edit_distance(kind->str, kinds[i].title) <= 2)
				best = kinds[i].title;
		if (best)
			error_at(c, kind, "kind", "expected %s, got %s (did you mean \"%s\"?)",
				 titles, shown(kind, buf, sizeof(buf)), best);
		else if (kind->type == SKIFF_DOC_SCALAR && k8s_kind_known(kind->str))
			error_at(c, kind, "", "kind: %s is not supported by Skiff (expected %s)",
				 kind->str, titles);
		else
			expected(c, kind, "kind", titles);
		return;
	}
	/* skiff/v1 for every kind, or the kind's Kubernetes apiVersion */
	const char *k8s_api = k ? k->api_version : "v1";
	if (!api)
		error_at(c, doc, "apiVersion", "required field is missing (apiVersion: %s)",
			 k8s_api);
	else if (api->type != SKIFF_DOC_SCALAR ||
		 (!streq(api->str, SKIFF_API_VERSION) && !streq(api->str, k8s_api)))
		error_at(c, api, "apiVersion", "expected \"%s\" or \"%s\" for kind %s, got %s",
			 k8s_api, SKIFF_API_VERSION, k ? k->title : "List",
			 shown(api, buf, sizeof(buf)));
	if (is_list && depth == 0) {
		const struct skiff_doc_node *items = skiff_doc_get(doc, "items");
		for (size_t i = 0; i + 1 < doc->n; i += 2) {
			const char *key = doc->items[i]->str;
			if (!streq(key, "apiVersion") && !streq(key, "kind") &&
			    !streq(key, "items") && !streq(key, "metadata"))
				error_at(c, doc->items[i], key, "unknown field \"%s\"", key);
		}
		if (!items || items->type != SKIFF_DOC_SEQ) {
			error_at(c, items ? items : doc, "items", "expected a list of objects");
			return;
		}
		for (size_t i = 0; i < items->n; i++)
			parse_document(c, items->items[i], depth + 1);
		return;
	}

	ProtobufCMessage *msg = message_new(k->desc);
	parse_message(c, doc, "", msg, true);
	if (c->errors == errors)
		validate_object(c, doc, msg);
	Skiff__Object *obj = skiff_object_wrap(k, msg);
	if (c->errors != errors) {
		skiff__object__free_unpacked(obj, NULL);
		return;
	}
	struct skiff_manifest *m = c->m;
	m->objects = xrealloc(m->objects, (m->n + 1) * sizeof(*m->objects));
	m->objects[m->n++] = (struct skiff_manifest_object){
		.kind = k,
		.object = obj,
		.source = xasprintf("%s:%u", c->file, doc->line),
	};
}

int skiff_manifest_parse_buffer(struct skiff_manifest *m, const char *name, const char *buf,
				size_t len)
{
	struct skiff_doc_set set = { 0 };
	_cleanup_free_ char *err = NULL;
	struct ctx c = { .m = m, .file = name };

	int r = skiff_doc_load_yaml(name, buf, len, &set, &err);
	if (set.peak_allocated > m->peak_allocated)
		m->peak_allocated = set.peak_allocated;
	if (r < 0) {
		m->errors = xrealloc(m->errors, (m->n_errors + 1) * sizeof(char *));
		m->errors[m->n_errors++] = TAKE_PTR(err);
		return 1;
	}
	for (size_t i = 0; i < set.n; i++)
		parse_document(&c, set.docs[i], 0);
	skiff_doc_set_clear(&set);
	if (c.errors > MAX_ERRORS_SHOWN) {
		m->errors = xrealloc(m->errors, (m->n_errors + 1) * sizeof(char *));
		m->errors[m->n_errors++] =
		    xasprintf("%s: %d more errors not shown", name, c.errors - MAX_ERRORS_SHOWN);
	}
	return c.errors;
}

static int load_file(struct skiff_manifest *m, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (streq(path, "-")) {
		size_t cap = 0;
		for (;;) {
			if (len == cap) {
				if (cap > SKIFF_DOC_MAX_BYTES)
					break;
				cap = cap ? cap * 2 : 65536;
				buf = xrealloc(buf, cap + 1);
			}
			ssize_t k = read(STDIN_FILENO, buf + len, cap - len);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				r = -errno;
				goto fail;
			}
			if (k == 0)
				break;
			len += (size_t)k;
		}
		if (len > SKIFF_DOC_MAX_BYTES) {
			r = -EFBIG;
			goto fail;
		}
		if (!buf)
			buf = xstrdup("");
		buf[len] = 0;
		return skiff_manifest_parse_buffer(m, "<stdin>", buf, len);
	}
	r = skiff_read_file(path, SKIFF_DOC_MAX_BYTES, &buf, &len);
	if (r < 0)
		goto fail;
	return skiff_manifest_parse_buffer(m, path, buf, len);
fail:
	m->errors = xrealloc(m->errors, (m->n_errors + 1) * sizeof(char *));
	if (r == -EFBIG)
		m->errors[m->n_errors++] =
		    xasprintf("%s: too large (at most %u bytes)",
			      streq(path, "-") ? "<stdin>" : path, SKIFF_DOC_MAX_BYTES);
	else
		m->errors[m->n_errors++] = xasprintf(
		    "%s: cannot read: %s", streq(path, "-") ? "<stdin>" : path, strerror(-r));
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int skiff_manifest_load_path(struct skiff_manifest *m, const char *path)
{
	struct stat st;

	if (streq(path, "-") || stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return load_file(m, path);

	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return load_file(m, path);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!skiff_endswith(de->d_name, ".yaml") && !skiff_endswith(de->d_name, ".yml") &&
		    !skiff_endswith(de->d_name, ".json"))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xasprintf("%s/%s", path, de->d_name);
	}
	qsort(names, n, sizeof(*names), cmp_str);
	int errors = 0;
	for (size_t i = 0; i < n; i++) {
		errors += load_file(m, names[i]);
		free(names[i]);
	}
	free(names);
	if (n == 0) {
		m->errors = xrealloc(m->errors, (m->n_errors + 1) * sizeof(char *));
		m->errors[m->n_errors++] =
		    xasprintf("%s: no manifests (*.yaml, *.yml, *.json) in this directory", path);
		errors++;
	}
	return errors;
}

void skiff_manifest_clear(struct skiff_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		skiff__object__free_unpacked(m->objects[i].object, NULL);
		free(m->objects[i].source);
	}
	free(m->objects);
	for (size_t i = 0; i < m->n_errors; i++)
		free(m->errors[i]);
	free(m->errors);
	for (size_t i = 0; i < m->n_warnings; i++)
		free(m->warnings[i]);
	free(m->warnings);
	*m = (struct skiff_manifest){ 0 };
}

/* ---- printing: message -> tree ------------------------------------------ */

static struct skiff_doc_node *kv_map(Skiff__KeyValue **kv, size_t n)
{
	struct skiff_doc_node *map = skiff_doc_new(SKIFF_DOC_MAP);
	for (size_t i = 0; i < n; i++)
		skiff_doc_put(map, kv[i]->key, skiff_doc_scalar(kv[i]->value, SKIFF_SCALAR_STRING));
	return map;
}

/* Memory the way it was most likely written: a binary suffix when exact
 * (64Mi), else a decimal one (1G, 500M), else bytes. */
static char *format_memory(int64_t bytes, char *buf, size_t len)
{
	static const struct {
		const char *suffix;
		int64_t unit;
	} decimal[] = {
		{ "T", 1000000000000LL }, { "G", 1000000000LL }, { "M", 1000000LL }, { "k", 1000LL }
	};

	skiff_format_memory(bytes, buf, len);
	if (bytes <= 0 || !isdigit((unsigned char)buf[strlen(buf) - 1]))
		return buf; /* had a binary suffix */
	for (size_t i = 0; i < sizeof(decimal) / sizeof(decimal[0]); i++)
		if (bytes % decimal[i].unit == 0) {
			snprintf(buf, len, "%lld%s", (long long)(bytes / decimal[i].unit),
				 decimal[i].suffix);
			break;
		}
	return buf;
}

static struct skiff_doc_node *single_to_doc(const struct field *f, const void *slot)
{
	const ProtobufCFieldDescriptor *fd = f->fd;

	switch (kind_of(f)) {
	case R_CPU:
	case R_MEMORY:
	case R_SECONDS:
		return quantities[kind_of(f)].to_doc(get_int(slot, fd->type));
	default:
		break;
	}
	switch (fd->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return skiff_message_to_doc(*(ProtobufCMessage *const *)slot);
	case PROTOBUF_C_TYPE_STRING:
		return skiff_doc_scalar(*(char *const *)slot, SKIFF_SCALAR_STRING);
	case PROTOBUF_C_TYPE_BOOL:
		return skiff_doc_scalar(*(const protobuf_c_boolean *)slot ? "true" : "false",
					SKIFF_SCALAR_BOOL);
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = slot;
		_cleanup_free_ char *s = xstrndup((const char *)b->data, b->len);
		return skiff_doc_scalar(s, SKIFF_SCALAR_STRING);
	}
	default:
		if (is_int_type(fd->type))
			return skiff_doc_number(get_int(slot, fd->type));
		return skiff_doc_scalar("", SKIFF_SCALAR_STRING);
	}
}

static bool is_zero(const struct field *f, const void *slot)
{
	switch (f->fd->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)slot == NULL;
	case PROTOBUF_C_TYPE_STRING:
		return *(char *const *)slot == NULL || **(char *const *)slot == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)slot;
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)slot)->len == 0;
	default:
		return is_int_type(f->fd->type) ? get_int(slot, f->fd->type) == 0 : true;
	}
}

struct skiff_doc_node *skiff_message_to_doc(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	struct skiff_doc_node *map = skiff_doc_new(SKIFF_DOC_MAP);
	struct field f;

	for (unsigned i = 0; i < desc->n_fields; i++) {
		field_of(desc, &desc->fields[i], &f);
		const void *slot = (const char *)msg + f.fd->offset;
		if (flags_of(&f) & F_HIDDEN)
			continue;
		if (kind_of(&f) == R_PORT) {
			const char *name = *port_name_slot((ProtobufCMessage *)msg, &f);
			if (name && *name) {
				skiff_doc_put(map, f.key,
					      skiff_doc_scalar(name, SKIFF_SCALAR_STRING));
				continue;
			}
		}
		if (f.fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)msg + f.fd->quantifier_offset);
			void *const *arr = slot;
			if (n == 0)
				continue;
			if (kind_of(&f) == R_MAP) {
				skiff_doc_put(map, f.key,
					      kv_map(*(Skiff__KeyValue * *const *)slot, n));
				continue;
			}
			if (kind_of(&f) == R_MATCH_LABELS) {
				struct skiff_doc_node *sel = skiff_doc_new(SKIFF_DOC_MAP);
				skiff_doc_put(sel, "matchLabels",
					      kv_map(*(Skiff__KeyValue * *const *)slot, n));
				skiff_doc_put(map, f.key, sel);
				continue;
			}
			struct skiff_doc_node *seq = skiff_doc_new(SKIFF_DOC_SEQ);
			size_t es = elem_size(f.fd->type);
			for (size_t j = 0; j < n; j++)
				skiff_doc_append(seq,
						 single_to_doc(&f, (const char *)*arr + j * es));
			skiff_doc_put(map, f.key, seq);
			continue;
		}
		/* zero values are left out, except where a default would replace them */
		if (is_zero(&f, slot) && !(f.rule && f.rule->def && is_int_type(f.fd->type)))
			continue;
		skiff_doc_put(map, f.key, single_to_doc(&f, slot));
	}
	return map;
}

struct skiff_doc_node *skiff_object_to_doc(const Skiff__Object *obj)
{
	const struct skiff_kind *k;
	ProtobufCMessage *msg = skiff_object_member(obj, &k);
	struct skiff_doc_node *doc = skiff_doc_new(SKIFF_DOC_MAP);

	skiff_doc_put(doc, "apiVersion", skiff_doc_scalar(SKIFF_API_VERSION, SKIFF_SCALAR_STRING));
	if (!msg)
		return doc;
	skiff_doc_put(doc, "kind", skiff_doc_scalar(k->title, SKIFF_SCALAR_STRING));
	struct skiff_doc_node *body = skiff_message_to_doc(msg);
	/* move body's entries after apiVersion and kind */
	for (size_t i = 0; i < body->n; i++)
		skiff_doc_append(doc, body->items[i]);
	body->n = 0;
	skiff_doc_free(body);
	return doc;
}
