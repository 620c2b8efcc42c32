/* map.h — a small string-keyed hash map (chained, power-of-two buckets)
 * for the brain's in-memory indexes: node sessions, per-deployment counts.
 * Keys are copied; values are the caller's pointers. */
#ifndef SKIFF_MAP_H
#define SKIFF_MAP_H

#include <stddef.h>

struct skiff_map;

struct skiff_map *skiff_map_new(void);
/* Frees the map and its keys; free_value (may be NULL) runs on each value. */
void skiff_map_free(struct skiff_map *m, void (*free_value)(void *value));
void *skiff_map_get(struct skiff_map *m, const char *key);
/* Insert or replace; returns the previous value (or NULL). */
void *skiff_map_put(struct skiff_map *m, const char *key, void *value);
/* Remove; returns the value (or NULL). */
void *skiff_map_remove(struct skiff_map *m, const char *key);
size_t skiff_map_size(struct skiff_map *m);
/* Iterate: i starts at 0; returns 0 at the end. Do not change the map while
 * iterating. */
int skiff_map_next(struct skiff_map *m, size_t *i, void **cursor, const char **ret_key,
		   void **ret_value);

#endif
