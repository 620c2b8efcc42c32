/* podsummary.c — struct brain_pod, what the scheduler and the controllers
 * read of a stored pod, kept next to its packed bytes (pods, the objects
 * there are 100,000 of, are stored packed: about a quarter of the unpacked
 * size). Its repeated strings are shared copies (intern.h); labels are one
 * shared string matched against selectors without unpacking. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brain.h"
#include "cleanup.h"
#include "intern.h"
#include "util.h"

uint64_t brain_str_hash(const char *s)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a, 64 bits */
	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	return h;
}

/* Labels as one string to share: "<key length>:<key><value length>:<value>"
 * per pair (lengths in decimal, so any value is unambiguous), in order. */
static char *labels_string(const Skiff__ObjectMeta *m)
{
	if (!m || !m->n_labels)
		return NULL;
	size_t cap = 1;
	for (size_t i = 0; i < m->n_labels; i++)
		cap += 2 * 21 + strlen(m->labels[i]->key) + strlen(m->labels[i]->value);
	char *out = xmalloc(cap), *p = out;
	for (size_t i = 0; i < m->n_labels; i++)
		p += sprintf(p, "%zu:%s%zu:%s", strlen(m->labels[i]->key), m->labels[i]->key,
			     strlen(m->labels[i]->value), m->labels[i]->value);
	*p = 0;
	return out;
}

/* Next pair of a labels_string(): 1 with key/value spans, 0 at the end. */
static int labels_next(const char **s, const char **k, size_t *kl, const char **v, size_t *vl)
{
	char *end;
	if (!**s)
		return 0;
	*kl = strtoul(*s, &end, 10);
	*k = end + 1;
	*vl = strtoul(*k + *kl, &end, 10);
	*v = end + 1;
	*s = *v + *vl;
	return 1;
}

const char *brain_pod_label(const char *key, size_t *ret_len, void *pod)
{
	const struct brain_pod *p = pod;
	const char *s = p->labels, *k, *v;
	size_t kl, vl;
	while (labels_next(&s, &k, &kl, &v, &vl))
		if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
			*ret_len = vl;
			return v;
		}
	return NULL;
}

bool brain_pod_labels_match(const struct brain_pod *p, Skiff__KeyValue *const *sel, size_t nsel)
{
	if (nsel == 0)
		return false;
	for (size_t i = 0; i < nsel; i++) {
		const char *s = p->labels, *k, *v;
		size_t kl, vl;
		bool found = false;
		while (!found && labels_next(&s, &k, &kl, &v, &vl))
			found = kl == strlen(sel[i]->key) && memcmp(k, sel[i]->key, kl) == 0 &&
				vl == strlen(sel[i]->value) && memcmp(v, sel[i]->value, vl) == 0;
		if (!found)
			return false;
	}
	return true;
}

struct brain_pod *brain_pod_summary_new(const Skiff__Pod *p)
{
	struct brain_pod *s = xcalloc(1, sizeof(*s));
	s->node = skiff_intern(skiff_pod_node(p));
	const char *ns = p->metadata && p->metadata->namespace_ && *p->metadata->namespace_
			     ? p->metadata->namespace_
			     : SKIFF_DEFAULT_NAMESPACE;
	s->ns = skiff_intern(ns);
	_cleanup_free_ char *owner =
	    p->owner && *p->owner ? skiff_store_key(SKIFF_KIND_DEPLOYMENT, ns, p->owner) : NULL;
	s->owner = skiff_intern(owner);
	s->owner_kind = skiff_intern(p->owner_kind);
	s->template_hash = skiff_intern(p->template_hash);
	s->phase = skiff_intern(skiff_pod_phase(p));
	_cleanup_free_ char *labels = labels_string(p->metadata);
	s->labels = skiff_intern(labels);
	if (p->metadata) {
		s->created_ms = p->metadata->created_ms;
		s->terminating = p->metadata->deleted_ms > 0;
	}
	skiff_pod_requests(p, &s->cpu_milli, &s->memory);
	s->ready = skiff_pod_ready(p);
	if (p->status) {
		s->has_ip = p->status->pod_ip && *p->status->pod_ip;
		struct in_addr a;
		if (s->has_ip && inet_pton(AF_INET, p->status->pod_ip, &a) == 1)
			s->ip4 = a.s_addr;
		s->unschedulable = streq_ptr(p->status->reason, "Unschedulable");
		s->message_hash = brain_str_hash(p->status->message);
	}
	s->has_selector = p->spec && p->spec->n_node_selector > 0;
	return s;
}

void brain_pod_summary_free(struct brain_pod *s)
{
	skiff_intern_release(s->node);
	skiff_intern_release(s->owner);
	skiff_intern_release(s->ns);
	skiff_intern_release(s->owner_kind);
	skiff_intern_release(s->template_hash);
	skiff_intern_release(s->phase);
	skiff_intern_release(s->labels);
	free(s);
}
