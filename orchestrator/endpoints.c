/* endpoints.c — the endpoints controller: each Service's status lists the
 * pods of its namespace matching its selector that are Running, ready and have an IP, as
 * IP:targetPort per service port (sorted by pod name). Services go to every
 * agent in its Assignment, so a change here is pushed to all nodes. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "util.h"
#include "validate.h"

struct ep_ctx {
	const Skiff__Service *svc;
	const char *ns; /* the service's namespace: it selects pods of that one only */
	Skiff__Endpoint **eps;
	size_t n, cap;
};

static int match_pod(const struct skiff_store_obj *o, void *userdata)
{
	struct ep_ctx *c = userdata;
	const struct brain_pod *sum = o->decoded;
	const Skiff__ServiceSpec *spec = c->svc->spec;
	if (!sum || !sum->ready || !sum->has_ip || !streq(sum->ns, c->ns) ||
	    sum->terminating || /* terminating pods get no traffic */
	    !brain_pod_labels_match(sum, spec->selector, spec->n_selector))
		return 0;
	/* the summary has the node and an IPv4 address; anything else is
	 * read from the packed pod */
	char ip[INET6_ADDRSTRLEN];
	const char *node = sum->node;
	_cleanup_(skiff_obj_freep) ProtobufCMessage *full = NULL;
	if (sum->ip4) {
		struct in_addr a = { .s_addr = sum->ip4 };
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
	} else {
		full = skiff_obj_unpack(SKIFF_KIND_POD, o->data, o->len);
		const Skiff__Pod *p = (const Skiff__Pod *)full;
		if (!p || !p->status || !p->status->pod_ip)
			return 0;
		snprintf(ip, sizeof(ip), "%s", p->status->pod_ip);
		node = skiff_pod_node(p);
	}
	for (size_t i = 0; i < spec->n_ports; i++) {
		uint32_t port = spec->ports[i]->target_port ? spec->ports[i]->target_port
							    : spec->ports[i]->port;
		const char *port_name = spec->ports[i]->target_port_name;
		if (port_name && *port_name) {
			/* a named targetPort is the pod's own port of that name; a pod
			 * without one is no endpoint of this port (as in Kubernetes) */
			if (!full)
				full = skiff_obj_unpack(SKIFF_KIND_POD, o->data, o->len);
			const Skiff__Pod *p = (const Skiff__Pod *)full;
			port = 0;
			for (size_t k = 0; p && p->spec && !port && k < p->spec->n_containers; k++)
				port =
				    skiff_container_port_by_name(p->spec->containers[k], port_name);
			if (!port)
				continue;
		}
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 8;
			c->eps = xrealloc(c->eps, c->cap * sizeof(*c->eps));
		}
		Skiff__Endpoint *e = xmalloc(sizeof(*e));
		skiff__endpoint__init(e);
		char ns[64];
		skiff_set_str(&e->pod, skiff_key_split(o->name, ns)); /* the pod's name */
		skiff_set_str(&e->node, node);
		skiff_set_str(&e->ip, ip);
		e->port = port;
		e->ready = true;
		c->eps[c->n++] = e;
	}
	return 0;
}

static int cmp_ep(const void *a, const void *b)
{
	const Skiff__Endpoint *x = *(Skiff__Endpoint *const *)a, *y = *(Skiff__Endpoint *const *)b;
	int r = strcmp(x->pod, y->pod);
	if (r)
		return r;
	return (int)x->port - (int)y->port;
}

static bool same_endpoints(const Skiff__ServiceStatus *st, Skiff__Endpoint **eps, size_t n)
{
	if (!st)
		return n == 0;
	if (st->n_endpoints != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const Skiff__Endpoint *a = st->endpoints[i], *b = eps[i];
		if (!streq(a->pod, b->pod) || !streq(a->ip, b->ip) || a->port != b->port ||
		    !streq(a->node, b->node))
			return false;
	}
	return true;
}

struct names {
	char **v;
	size_t n;
};

static int collect_svc(const struct skiff_store_obj *o, void *userdata)
{
	struct names *c = userdata;
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(char *));
	c->v[c->n++] = xstrdup(o->name);
	return 0;
}

int brain_endpoints_reconcile(struct brain *b)
{
	struct names svcs = { 0 };
	skiff_store_foreach(b->store, SKIFF_KIND_SERVICE, collect_svc, &svcs);
	int updated = 0;
	for (size_t i = 0; i < svcs.n; i++) {
		const Skiff__Service *svc = brain_get(b, SKIFF_KIND_SERVICE, svcs.v[i]);
		if (svc && svc->spec) {
			struct ep_ctx c = { .svc = svc, .ns = brain_obj_namespace(&svc->base) };
			skiff_store_foreach(b->store, SKIFF_KIND_POD, match_pod, &c);
			if (c.n)
				qsort(c.eps, c.n, sizeof(*c.eps), cmp_ep);
			if (!same_endpoints(svc->status, c.eps, c.n)) {
				Skiff__Service *ns = brain_copy(b, SKIFF_KIND_SERVICE, svcs.v[i]);
				Skiff__ServiceStatus *st = skiff_service_status_ensure(ns);
				for (size_t k = 0; k < st->n_endpoints; k++)
					skiff_obj_free(&st->endpoints[k]->base);
				free(st->endpoints);
				st->endpoints = c.eps;
				st->n_endpoints = c.n;
				c.eps = NULL;
				c.n = 0;
				if (brain_put(b, SKIFF_KIND_SERVICE, &ns->base) >= 0)
					updated++;
				skiff_obj_free(&ns->base);
			}
			for (size_t k = 0; k < c.n; k++)
				skiff_obj_free(&c.eps[k]->base);
			free(c.eps);
		}
		free(svcs.v[i]);
	}
	free(svcs.v);
	return updated;
}
