/* quantity.c — parse and print CPU, memory and duration quantities. */
#include "quantity.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Parse "digits[.digits]" into an integer scaled by 10^scale_digits, rounding
 * down, and return the suffix position. */
static int parse_decimal(const char *s, int scale_digits, int64_t *ret, const char **ret_end)
{
	int64_t whole = 0, frac = 0;
	int frac_digits = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (whole > (INT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (*p++ - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (frac_digits < scale_digits) {
				frac = frac * 10 + (*p - '0');
				frac_digits++;
			}
			p++;
		}
	}
	for (; frac_digits < scale_digits; frac_digits++)
		frac *= 10;
	int64_t mul = 1;
	for (int i = 0; i < scale_digits; i++)
		mul *= 10;
	if (whole > (INT64_MAX - frac) / mul)
		return -ERANGE;
	*ret = whole * mul + frac;
	*ret_end = p;
	return 0;
}

int skiff_parse_cpu(const char *s, int64_t *ret_milli)
{
	const char *end;
	int64_t v;
	int r;

	if (!s)
		return -EINVAL;
	if (*s == '-')
		return -ERANGE;
	size_t n = strlen(s);
	if (n > 1 && s[n - 1] == 'm') {
		r = parse_decimal(s, 0, &v, &end);
		if (r < 0)
			return r;
		if (end != s + n - 1)
			return -EINVAL;
		*ret_milli = v;
		return 0;
	}
	r = parse_decimal(s, 3, &v, &end);
	if (r < 0)
		return r;
	if (*end)
		return -EINVAL;
	*ret_milli = v;
	return 0;
}

int skiff_parse_memory(const char *s, int64_t *ret_bytes)
{
	static const struct {
		const char *suffix;
		int64_t mul;
	} units[] = {
		{ "Ki", 1LL << 10 }, { "Mi", 1LL << 20 },   { "Gi", 1LL << 30 },
		{ "Ti", 1LL << 40 }, { "k", 1000LL },	    { "K", 1000LL },
		{ "M", 1000000LL },  { "G", 1000000000LL }, { "T", 1000000000000LL },
		{ "", 1 },
	};
	const char *end;
	int64_t milli;
	int r;

	if (!s)
		return -EINVAL;
	if (*s == '-')
		return -ERANGE;
	/* Parse with 3 fractional digits so "1.5Gi" works. */
	r = parse_decimal(s, 3, &milli, &end);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		int64_t mul = units[i].mul;
		if (milli > INT64_MAX / mul) {
			/* Divide first to avoid overflow, losing sub-unit precision. */
			if (milli / 1000 > INT64_MAX / mul)
				return -ERANGE;
			*ret_bytes = (milli / 1000) * mul;
			return 0;
		}
		*ret_bytes = milli * mul / 1000;
		return 0;
	}
	return -EINVAL;
}

int skiff_parse_duration(const char *s, int64_t *ret_ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	int64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '-')
		return -ERANGE;
	if (strcmp(s, "0") == 0) {
		*ret_ms = 0;
		return 0;
	}
	while (*p) {
		int64_t v;
		const char *end;
		int r = parse_decimal(p, 3, &v, &end);
		if (r < 0)
			return r;
		size_t best = 0;
		int64_t mul = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);
			if (strncmp(end, units[i].unit, l) == 0 && l > best &&
			    !(l == 1 && end[0] == 'm' && end[1] == 's')) {
				best = l;
				mul = units[i].ms;
			}
		}
		if (!best)
			return -EINVAL;
		if (v > INT64_MAX / mul)
			return -ERANGE;
		int64_t add = v * mul / 1000;
		if (total > INT64_MAX - add)
			return -ERANGE;
		total += add;
		p = end + best;
	}
	*ret_ms = total;
	return 0;
}

char *skiff_format_cpu(int64_t milli, char *buf, size_t len)
{
	if (milli % 1000 == 0)
		snprintf(buf, len, "%lld", (long long)(milli / 1000));
	else
		snprintf(buf, len, "%lldm", (long long)milli);
	return buf;
}

char *skiff_format_memory(int64_t bytes, char *buf, size_t len)
{
	static const char *const suffix[] = { "", "Ki", "Mi", "Gi", "Ti" };
	int i = 0;

	while (i < 4 && bytes != 0 && bytes % 1024 == 0) {
		bytes /= 1024;
		i++;
	}
	snprintf(buf, len, "%lld%s", (long long)bytes, suffix[i]);
	return buf;
}

char *skiff_format_duration(int64_t ms, char *buf, size_t len)
{
	if (ms % 3600000 == 0 && ms)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
	return buf;
}
