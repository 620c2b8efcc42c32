/* json.h — small helpers on jansson shared by the binaries that write JSON
 * (the runtime's state file, skiffctl's -o json). */
#ifndef SKIFF_JSON_H
#define SKIFF_JSON_H

#include <jansson.h>
#include <stdbool.h>

/* A JSON string of s, NULL giving null. Text that is not valid UTF-8 (a
 * path or a label with Latin-1 bytes) is never passed through raw: each byte
 * that does not start a valid UTF-8 sequence becomes U+FFFD. Never NULL. */
json_t *skiff_json_string(const char *s);
/* Length of the longest valid UTF-8 prefix of s[0..n) (== n when valid). */
size_t skiff_utf8_valid_prefix(const char *s, size_t n);
/* obj[key] as a string (NULL when absent or not a string). */
const char *skiff_json_get_str(const json_t *obj, const char *key);

#endif
