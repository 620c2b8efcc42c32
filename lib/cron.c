/* cron.c — the cron schedule parser and next-fire computation (cron.h). */
#include "cron.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup.h"
#include "util.h"

struct field_def {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is value min + i */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
					   "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field_def fields[5] = {
	{ "minute", 0, 59, NULL },	    { "hour", 0, 23, NULL },
	{ "day of month", 1, 31, NULL },    { "month", 1, 12, month_names },
	{ "day of week", 0, 7, dow_names }, /* 7: Sunday as well */
};

static int parse_value(const struct field_def *f, const char *s, size_t len, int *ret,
		       char **ret_errmsg)
{
	if (len == 0) {
		*ret_errmsg = xasprintf("%s: a value is missing", f->name);
		return -EINVAL;
	}
	if (f->names && len == 3)
		for (int i = 0; f->names[i]; i++)
			if (strncasecmp(s, f->names[i], 3) == 0) {
				*ret = f->min + i;
				return 0;
			}
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || i > 3) {
			*ret_errmsg = xasprintf("%s: '%.*s' is not a number%s", f->name, (int)len,
						s, f->names ? " or a name" : "");
			return -EINVAL;
		}
		v = v * 10 + (s[i] - '0');
	}
	if (v < f->min || v > f->max) {
		*ret_errmsg =
		    xasprintf("%s: %ld is out of range %d-%d", f->name, v, f->min, f->max);
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

/* One comma-separated term into *bits; *star when it starts with '*'/'?'. */
static int parse_term(const struct field_def *f, const char *s, size_t len, uint64_t *bits,
		      bool *star, char **ret_errmsg)
{
	const char *slash = memchr(s, '/', len);
	size_t rlen = slash ? (size_t)(slash - s) : len;
	int lo, hi, step = 1;
	bool day_field = f == &fields[2] || f == &fields[4];
	bool is_star = rlen == 1 && (s[0] == '*' || (s[0] == '?' && day_field));
	if (rlen == 1 && s[0] == '?' && !is_star) {
		*ret_errmsg = xasprintf("%s: '?' is only allowed in the day fields", f->name);
		return -EINVAL;
	}
	if (is_star) {
		lo = f->min;
		hi = f->max == 7 ? 6 : f->max;
	} else {
		const char *dash = memchr(s, '-', rlen);
		if (dash) {
			if (parse_value(f, s, (size_t)(dash - s), &lo, ret_errmsg) < 0 ||
			    parse_value(f, dash + 1, rlen - (size_t)(dash - s) - 1, &hi,
					ret_errmsg) < 0)
				return -EINVAL;
			if (hi < lo) {
				*ret_errmsg = xasprintf("%s: range '%.*s' ends before it starts",
							f->name, (int)rlen, s);
				return -EINVAL;
			}
		} else {
			if (parse_value(f, s, rlen, &lo, ret_errmsg) < 0)
				return -EINVAL;
			/* "a/n" is a-max/n */
			hi = slash ? (f->max == 7 ? 6 : f->max) : lo;
		}
	}
	if (slash) {
		size_t sl = len - rlen - 1;
		int v = 0;
		for (size_t i = 0; i < sl; i++) {
			if (slash[1 + i] < '0' || slash[1 + i] > '9' || i > 3) {
				v = -1;
				break;
			}
			v = v * 10 + (slash[1 + i] - '0');
		}
		if (sl == 0 || v <= 0) {
			*ret_errmsg = xasprintf("%s: step '%.*s' must be a positive number",
						f->name, (int)sl, slash + 1);
			return -EINVAL;
		}
		step = v;
		if (step > 1)
			is_star = false; /* as robfig/cron: "*\/2" restricts the day */
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ull << (f->max == 7 && v == 7 ? 0 : v);
	*star = *star || is_star;
	return 0;
}

static const struct {
	const char *name, *spec;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },	  { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

int skiff_cron_parse(const char *spec, struct skiff_cron *ret, char **ret_errmsg)
{
	if (!spec)
		spec = "";
	while (*spec == ' ' || *spec == '\t')
		spec++;
	if (*spec == '@') {
		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (strcasecmp(spec, macros[i].name) == 0)
				return skiff_cron_parse(macros[i].spec, ret, ret_errmsg);
		*ret_errmsg = xasprintf("'%.40s' is not one of @yearly, @annually, @monthly, "
					"@weekly, @daily, @midnight, @hourly",
					spec);
		return -EINVAL;
	}
	uint64_t bits[5] = { 0 };
	bool star[5] = { false };
	const char *p = spec;
	int n = 0;
	while (*p) {
		const char *end = p;
		while (*end && *end != ' ' && *end != '\t')
			end++;
		if (n == 5) {
			*ret_errmsg = xasprintf("'%.60s' has more than 5 fields (minute hour "
						"day-of-month month day-of-week)",
						spec);
			return -EINVAL;
		}
		for (const char *t = p; t <= end;) {
			const char *comma = memchr(t, ',', (size_t)(end - t));
			const char *tend = comma ? comma : end;
			if (parse_term(&fields[n], t, (size_t)(tend - t), &bits[n], &star[n],
				       ret_errmsg) < 0)
				return -EINVAL;
			t = tend + 1;
		}
		n++;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (n != 5) {
		*ret_errmsg = xasprintf("'%.60s' has %d field%s, want 5 (minute hour "
					"day-of-month month day-of-week) or a macro like @hourly",
					spec, n, n == 1 ? "" : "s");
		return -EINVAL;
	}
	ret->minute = bits[0];
	ret->hour = (uint32_t)bits[1];
	ret->dom = (uint32_t)bits[2];
	ret->month = (uint16_t)bits[3];
	ret->dow = (uint8_t)bits[4];
	ret->dom_star = star[2];
	ret->dow_star = star[4];
	return 0;
}

static bool day_matches(const struct skiff_cron *c, const struct tm *t)
{
	bool dom = c->dom & (1u << t->tm_mday), dow = c->dow & (1u << t->tm_wday);
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

int64_t skiff_cron_next(const struct skiff_cron *c, int64_t after)
{
	time_t t0 = (time_t)(after - (after % 60 + 60) % 60 + 60);
	struct tm t;
	gmtime_r(&t0, &t);
	int year_limit = t.tm_year + 5;
	/* Walk forward by the coarsest field that does not match, as
	 * robfig/cron does; timegm() normalises the overflows. */
	for (;;) {
		if (t.tm_year > year_limit)
			return -1;
		if (!(c->month & (1u << (t.tm_mon + 1)))) {
			t.tm_mon++;
			t.tm_mday = 1;
			t.tm_hour = t.tm_min = 0;
		} else if (!day_matches(c, &t)) {
			t.tm_mday++;
			t.tm_hour = t.tm_min = 0;
		} else if (!(c->hour & (1u << t.tm_hour))) {
			t.tm_hour++;
			t.tm_min = 0;
		} else if (!(c->minute & (1ull << t.tm_min))) {
			t.tm_min++;
		} else {
			return (int64_t)timegm(&t);
		}
		t.tm_sec = 0;
		time_t n = timegm(&t); /* normalise, and recompute tm_wday */
		gmtime_r(&n, &t);
	}
}
