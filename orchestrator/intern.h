/* intern.h — shared copies of the short strings that many stored pods repeat
 * (node, owner, template hash, phase): each pod's summary (struct brain_pod)
 * points at one reference-counted copy instead of carrying its own. A
 * string lives while some pod refers to it. Single-threaded, process-wide
 * (the store's decode callback has no brain handle). */
#ifndef SKIFF_INTERN_H
#define SKIFF_INTERN_H

#include <stddef.h>

/* The shared copy of s, with one more reference ("" and NULL: a static "",
 * not counted). */
const char *skiff_intern(const char *s);
/* Drop a reference taken by skiff_intern(); the copy goes with the last. */
void skiff_intern_release(const char *s);
/* Distinct strings held (tests). */
size_t skiff_intern_count(void);

#endif
