/* map.c — string-keyed hash map for the brain's indexes (see map.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "util.h"

struct mentry {
	struct mentry *next;
	uint32_t hash;
	void *value;
	char key[];
};

struct skiff_map {
	struct mentry **b;
	size_t nb, count;
};

static uint32_t hash_key(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct skiff_map *skiff_map_new(void)
{
	struct skiff_map *m = xcalloc(1, sizeof(*m));
	m->nb = 16;
	m->b = xcalloc(m->nb, sizeof(*m->b));
	return m;
}

void skiff_map_free(struct skiff_map *m, void (*free_value)(void *value))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nb; i++)
		for (struct mentry *e = m->b[i], *n; e; e = n) {
			n = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
		}
	free(m->b);
	free(m);
}

static struct mentry **slot(struct skiff_map *m, const char *key, uint32_t h)
{
	struct mentry **pp = &m->b[h & (m->nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

void *skiff_map_get(struct skiff_map *m, const char *key)
{
	struct mentry *e = *slot(m, key, hash_key(key));
	return e ? e->value : NULL;
}

void *skiff_map_put(struct skiff_map *m, const char *key, void *value)
{
	uint32_t h = hash_key(key);
	struct mentry **pp = slot(m, key, h);
	if (*pp) {
		void *old = (*pp)->value;
		(*pp)->value = value;
		return old;
	}
	if (m->count >= m->nb) {
		size_t nb = m->nb * 2;
		struct mentry **b = xcalloc(nb, sizeof(*b));
		for (size_t i = 0; i < m->nb; i++)
			for (struct mentry *e = m->b[i], *n; e; e = n) {
				n = e->next;
				e->next = b[e->hash & (nb - 1)];
				b[e->hash & (nb - 1)] = e;
			}
		free(m->b);
		m->b = b;
		m->nb = nb;
		pp = slot(m, key, h);
	}
	size_t len = strlen(key);
	struct mentry *e = xmalloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pp = e;
	m->count++;
	return NULL;
}

void *skiff_map_remove(struct skiff_map *m, const char *key)
{
	struct mentry **pp = slot(m, key, hash_key(key));
	if (!*pp)
		return NULL;
	struct mentry *e = *pp;
	void *v = e->value;
	*pp = e->next;
	free(e);
	m->count--;
	return v;
}

size_t skiff_map_size(struct skiff_map *m)
{
	return m->count;
}

int skiff_map_next(struct skiff_map *m, size_t *i, void **cursor, const char **ret_key,
		   void **ret_value)
{
	struct mentry *e = *cursor;
	if (e)
		e = e->next;
	while (!e) {
		if (*i >= m->nb)
			return 0;
		e = m->b[(*i)++];
	}
	*cursor = e;
	*ret_key = e->key;
	*ret_value = e->value;
	return 1;
}
