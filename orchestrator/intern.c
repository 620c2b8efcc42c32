/* intern.c — reference-counted shared strings for pod summaries (see
 * intern.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intern.h"
#include "map.h"
#include "util.h"

struct istr {
	uint32_t refs;
	char s[];
};

static struct skiff_map *pool; /* string -> struct istr */

const char *skiff_intern(const char *s)
{
	if (!s || !*s)
		return "";
	if (!pool)
		pool = skiff_map_new();
	struct istr *v = skiff_map_get(pool, s);
	if (!v) {
		size_t n = strlen(s) + 1;
		v = xmalloc(sizeof(*v) + n);
		v->refs = 0;
		memcpy(v->s, s, n);
		skiff_map_put(pool, s, v);
	}
	v->refs++;
	return v->s;
}

void skiff_intern_release(const char *s)
{
	if (!s || !*s || !pool)
		return;
	struct istr *v = skiff_map_get(pool, s);
	if (!v || --v->refs > 0)
		return;
	skiff_map_remove(pool, s);
	free(v);
	if (skiff_map_size(pool) == 0) {
		skiff_map_free(pool, NULL);
		pool = NULL;
	}
}

size_t skiff_intern_count(void)
{
	return pool ? skiff_map_size(pool) : 0;
}
