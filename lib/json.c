/* json.c — jansson helpers: strings that are always valid UTF-8. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t skiff_utf8_valid_prefix(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n && (k = utf8_seq((const unsigned char *)s + i, n - i)) > 0)
		i += k;
	return i;
}

json_t *skiff_json_string(const char *s)
{
	size_t n, i = 0, o = 0;
	char *out;
	json_t *j;

	if (!s)
		return json_null();
	n = strlen(s);
	if (skiff_utf8_valid_prefix(s, n) == n) {
		j = json_stringn(s, n);
		if (!j)
			abort();
		return j;
	}
	out = xmalloc(n * 3 + 1); /* every byte may become U+FFFD (3 bytes) */
	while (i < n) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	j = json_stringn(out, o);
	free(out);
	if (!j)
		abort();
	return j;
}

const char *skiff_json_get_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}
