/* brain_helpers.c — a brain in a temporary directory with a fake clock,
 * nodes that register like agents, deployments built in code, pods reported
 * Running: for the brain's unit tests (see brain_helpers.h). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../hollow/fakes.h"
#include "brain_helpers.h"
#include "cleanup.h"
#include "log.h"
#include "testlib.h"
#include "util.h"

int64_t fake_now = 1000000;

static int64_t fake_mono(void)
{
	return fake_now;
}

static int64_t fake_ms(void)
{
	return 1700000000000LL + fake_now;
}

void brain_test_setup(void)
{
	tmpdir_make("brain");
	quiet_logs();
	fake_now = 1000000;
}

void brain_test_teardown(void)
{
	tmpdir_remove();
}

struct brain *open_brain_faults(struct skiff_store_faults *f)
{
	struct brain_config cfg = { .node_grace_ms = 3000, .faults = f };
	struct brain *b = NULL;
	ck_assert_int_eq(brain_open(tmpdir, &cfg, &b), 0);
	b->clock_mono = fake_mono;
	b->clock_ms = fake_ms;
	/* re-arm the restart grace with the fake clock */
	size_t i = 0;
	void *cur = NULL, *v;
	const char *k;
	while (skiff_map_next(b->nodes, &i, &cur, &k, &v))
		((struct brain_node *)v)->deadline_mono = fake_now + b->cfg.node_grace_ms;
	return b;
}

struct brain *open_brain(void)
{
	return open_brain_faults(NULL);
}

Skiff__KeyValue *kv_new(const char *k, const char *v)
{
	Skiff__KeyValue *kv = xmalloc(sizeof(*kv));
	skiff__key_value__init(kv);
	kv->key = xstrdup(k);
	kv->value = xstrdup(v);
	return kv;
}

/* Register node `name` with cpu (milli) and memory (bytes); returns epoch. */
uint64_t add_node_labels(struct brain *b, const char *name, int64_t cpu, int64_t mem,
			 const char *label_key, const char *label_value)
{
	struct fake_register f;
	fake_register_init(&f, name, cpu, mem, 110, "10.77.0.11");
	if (label_key)
		fake_register_label(&f, label_key, label_value);
	Skiff__RegisterResponse resp;
	_cleanup_free_ char *err = NULL;
	int r = brain_node_register(b, &f.req, (void *)name, &resp, &err);
	ck_assert_msg(r == 0, "register %s: %s", name, err ? err : "");
	free(resp.pod_cidr);
	return resp.epoch;
}

uint64_t add_node(struct brain *b, const char *name, int64_t cpu, int64_t mem)
{
	return add_node_labels(b, name, cpu, mem, NULL, NULL);
}

/* A deployment built as skiffctl would send it (unpacked form): the bench
 * deployment's message, copied to the heap so that tests may change it. */
Skiff__Deployment *make_deployment(const char *name, int replicas, const char *image, int64_t cpu,
				   int64_t mem)
{
	struct fake_deployment f;
	fake_deployment_init(&f, name, replicas, image, "/bin/app", cpu, mem);
	/* requests are always set, zero ones too, as the tests read them */
	f.resources.requests = &f.requests;
	f.container.resources = &f.resources;
	size_t len = protobuf_c_message_get_packed_size(&f.d.base);
	_cleanup_free_ uint8_t *buf = xmalloc(len + 1);
	protobuf_c_message_pack(&f.d.base, buf);
	Skiff__Deployment *d =
	    (Skiff__Deployment *)skiff_obj_unpack(SKIFF_KIND_DEPLOYMENT, buf, len);
	ck_assert_ptr_nonnull(d);
	return d;
}

void apply_deployment(struct brain *b, Skiff__Deployment *d, const char *want_result)
{
	const char *result = NULL;
	_cleanup_free_ char *err = NULL;
	int r = brain_apply(b, SKIFF_KIND_DEPLOYMENT, &d->base, false, false, &result, NULL, &err);
	ck_assert_msg(r == 0, "apply: %s", err ? err : "");
	if (want_result)
		ck_assert_str_eq(result, want_result);
	skiff_obj_free(&d->base);
}

static int collect_pods_cb(const struct skiff_store_obj *o, void *userdata)
{
	struct pod_list *l = userdata;
	/* pods are stored packed next to a summary: read the pod itself and
	 * check that the summary the controllers use agrees with it */
	const struct brain_pod *sum = o->decoded;
	Skiff__Pod *p = (Skiff__Pod *)skiff_obj_unpack(SKIFF_KIND_POD, o->data, o->len);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(sum);
	ck_assert_uint_lt(l->n, 4096);
	l->names[l->n] = xstrdup(o->name);
	snprintf(l->nodes[l->n], 32, "%s", skiff_pod_node(p));
	snprintf(l->hash[l->n], 16, "%s", p->template_hash);
	l->created[l->n] = p->metadata->created_ms;
	l->ready[l->n] = skiff_pod_ready(p);
	l->terminating[l->n] = p->metadata->deleted_ms > 0;
	ck_assert_str_eq(sum->node, skiff_pod_node(p));
	/* the summary's owner is the deployment's key, in the pod's namespace */
	_cleanup_free_ char *owner_key =
	    *p->owner ? brain_key(SKIFF_KIND_DEPLOYMENT, p->metadata->namespace_, p->owner)
		      : xstrdup("");
	ck_assert_str_eq(sum->owner, owner_key);
	ck_assert_str_eq(sum->ns, p->metadata->namespace_);
	ck_assert_str_eq(sum->template_hash, p->template_hash);
	ck_assert_str_eq(sum->phase, skiff_pod_phase(p));
	ck_assert_int_eq(sum->created_ms, p->metadata->created_ms);
	ck_assert_int_eq(sum->ready, l->ready[l->n]);
	ck_assert_int_eq(sum->terminating, l->terminating[l->n]);
	int64_t cpu, mem;
	skiff_pod_requests(p, &cpu, &mem);
	ck_assert_int_eq(sum->cpu_milli, cpu);
	ck_assert_int_eq(sum->memory, mem);
	ck_assert_int_eq(brain_pod_labels_match(sum, p->metadata->labels, p->metadata->n_labels),
			 p->metadata->n_labels > 0);
	skiff_obj_free(&p->base);
	l->n++;
	return 0;
}

struct pod_list *list_pods(struct brain *b)
{
	struct pod_list *l = xcalloc(1, sizeof(*l));
	skiff_store_foreach(b->store, SKIFF_KIND_POD, collect_pods_cb, l);
	return l;
}

void free_pods(struct pod_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l);
}

size_t count_on(struct pod_list *l, const char *node)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += streq(l->nodes[i], node);
	return n;
}

/* Report one pod Running and ready with address ip, as the agent of node
 * (at epoch) would; uid NULL: none given. Returns brain_pod_status()'s. */
int report_running(struct brain *b, const char *node, uint64_t epoch, const char *pod,
		   const char *uid, const char *ip, char **ret_err)
{
	Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
	Skiff__PodStatus st = SKIFF__POD_STATUS__INIT;
	st.phase = (char *)"Running";
	st.ready = true;
	st.pod_ip = (char *)ip;
	rep.node = (char *)node;
	rep.epoch = epoch;
	char ns[64]; /* pod: a key (or a name in "default"): the agent names both */
	rep.pod = (char *)skiff_key_split(pod, ns);
	rep.namespace_ = ns;
	if (uid)
		rep.uid = (char *)uid;
	rep.status = &st;
	return brain_pod_status(b, &rep, ret_err);
}

/* Report every bound pod Running and ready, as its agent would. */
void report_all_running(struct brain *b)
{
	struct pod_list *l = list_pods(b);
	for (size_t i = 0; i < l->n; i++) {
		if (!*l->nodes[i] || l->ready[i])
			continue;
		const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, l->nodes[i]);
		const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, l->names[i]);
		char ip[32];
		snprintf(ip, sizeof(ip), "10.244.0.%zu", 2 + i % 250);
		_cleanup_free_ char *err = NULL;
		ck_assert_msg(report_running(b, l->nodes[i], n->status->epoch, l->names[i],
					     p->metadata->uid, ip, &err) == 0,
			      "status: %s", err ? err : "");
	}
	free_pods(l);
}

size_t count_terminating(struct pod_list *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->terminating[i];
	return n;
}

/* Report every terminating pod stopped (PodStatusReport.stopped), as an
 * agent does once it removed it; returns how many. */
size_t report_all_stopped(struct brain *b)
{
	struct pod_list *l = list_pods(b);
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!l->terminating[i])
			continue;
		const Skiff__Node *node = brain_get(b, SKIFF_KIND_NODE, l->nodes[i]);
		const Skiff__Pod *p = brain_get(b, SKIFF_KIND_POD, l->names[i]);
		Skiff__PodStatusReport rep = SKIFF__POD_STATUS_REPORT__INIT;
		rep.node = l->nodes[i];
		rep.epoch = node->status->epoch;
		char ns[64];
		rep.pod = (char *)skiff_key_split(l->names[i], ns);
		rep.namespace_ = ns;
		rep.uid = p->metadata->uid;
		rep.stopped = true;
		_cleanup_free_ char *err = NULL;
		ck_assert_msg(brain_pod_status(b, &rep, &err) == 0, "stopped: %s", err ? err : "");
		ck_assert_ptr_null(brain_get(b, SKIFF_KIND_POD, l->names[i]));
		n++;
	}
	free_pods(l);
	return n;
}

void heartbeat_all_but(struct brain *b, const char *except)
{
	size_t i = 0;
	void *cur = NULL, *v;
	const char *k;
	while (skiff_map_next(b->nodes, &i, &cur, &k, &v)) {
		if (except && streq(k, except))
			continue;
		const Skiff__Node *n = brain_get(b, SKIFF_KIND_NODE, k);
		_cleanup_free_ char *err = NULL;
		(void)brain_node_heartbeat(b, k, n->status->epoch, &err);
	}
}
