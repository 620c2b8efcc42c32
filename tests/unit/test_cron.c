/* test_cron.c — lib/cron: the 5-field cron syntax, its macros and errors,
 * and the next time a schedule fires (UTC). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cron.h"
#include "testlib.h"

/* "YYYY-MM-DD HH:MM" UTC -> unix seconds */
static int64_t at(const char *s)
{
	struct tm t = { 0 };
	ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%d %H:%M", &t));
	return (int64_t)timegm(&t);
}

/* The next fire of spec after time `after`, as "YYYY-MM-DD HH:MM" (static). */
static const char *next(const char *spec, const char *after)
{
	static char out[32];
	struct skiff_cron c;
	_cleanup_free_ char *err = NULL;
	ck_assert_msg(skiff_cron_parse(spec, &c, &err) == 0, "%s: %s", spec, err);
	int64_t n = skiff_cron_next(&c, at(after));
	if (n < 0)
		return "never";
	time_t tt = (time_t)n;
	struct tm t;
	gmtime_r(&tt, &t);
	strftime(out, sizeof(out), "%Y-%m-%d %H:%M", &t);
	return out;
}

static const char *error_of(const char *spec)
{
	static char out[256];
	struct skiff_cron c;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(skiff_cron_parse(spec, &c, &err), -EINVAL);
	snprintf(out, sizeof(out), "%s", err);
	return out;
}

TEST(test_next_basic)
{
	/* strictly after: a fire at the very minute is the next one's */
	ck_assert_str_eq(next("* * * * *", "2026-12-07 16:42"), "2026-12-07 16:43");
	ck_assert_str_eq(next("*/5 * * * *", "2026-12-07 16:42"), "2026-12-07 16:45");
	ck_assert_str_eq(next("*/5 * * * *", "2026-12-07 16:55"), "2026-12-07 17:00");
	ck_assert_str_eq(next("0 * * * *", "2026-12-07 23:30"), "2026-12-08 00:00");
	ck_assert_str_eq(next("30 2 * * *", "2026-12-31 03:00"), "2027-01-01 02:30");
	ck_assert_str_eq(next("0 0 1 * *", "2026-02-15 00:00"), "2026-03-01 00:00");
	ck_assert_str_eq(next("15 10-12 * * *", "2026-12-07 12:15"), "2026-12-08 10:15");
	ck_assert_str_eq(next("0,30 9 * * *", "2026-12-07 09:00"), "2026-12-07 09:30");
	ck_assert_str_eq(next("5-20/5 * * * *", "2026-12-07 16:20"), "2026-12-07 17:05");
	ck_assert_str_eq(next("10/20 * * * *", "2026-12-07 16:31"), "2026-12-07 16:50");
}
END_TEST

TEST(test_next_days_and_names)
{
	/* 2026-12-07 is a Monday */
	ck_assert_str_eq(next("0 9 * * fri", "2026-12-07 10:00"), "2026-12-11 09:00");
	ck_assert_str_eq(next("0 9 * * 7", "2026-12-07 10:00"), "2026-12-13 09:00");
	ck_assert_str_eq(next("0 9 * * SUN", "2026-12-07 10:00"), "2026-12-13 09:00");
	ck_assert_str_eq(next("0 9 * * mon-fri", "2026-12-11 10:00"), "2026-12-14 09:00");
	ck_assert_str_eq(next("0 0 1 jan *", "2026-12-07 10:00"), "2027-01-01 00:00");
	ck_assert_str_eq(next("0 0 * feb-mar *", "2026-12-07 10:00"), "2027-02-01 00:00");
	/* both day fields restricted: either matches (the 13th, or a Friday) */
	ck_assert_str_eq(next("0 0 13 * 5", "2026-12-07 10:00"), "2026-12-11 00:00");
	ck_assert_str_eq(next("0 0 13 * 5", "2026-12-11 10:00"), "2026-12-13 00:00");
	/* one is '*': both must match (a Friday the 13th) */
	ck_assert_str_eq(next("0 0 13 * *", "2026-12-07 10:00"), "2026-12-13 00:00");
	ck_assert_str_eq(next("0 0 */1 * 5", "2026-12-07 10:00"), "2026-12-11 00:00");
	ck_assert_str_eq(next("0 0 ? * 5", "2026-12-07 10:00"), "2026-12-11 00:00");
	/* leap day: the next 29 February */
	ck_assert_str_eq(next("0 0 29 2 *", "2026-12-07 10:00"), "2028-02-29 00:00");
	ck_assert_str_eq(next("0 0 30 2 *", "2026-12-07 10:00"), "never");
	ck_assert_str_eq(next("0 0 31 * *", "2026-04-01 00:00"), "2026-05-31 00:00");
}
END_TEST

TEST(test_macros)
{
	ck_assert_str_eq(next("@hourly", "2026-12-07 16:42"), "2026-12-07 17:00");
	ck_assert_str_eq(next("@daily", "2026-12-07 16:42"), "2026-12-08 00:00");
	ck_assert_str_eq(next("@midnight", "2026-12-07 16:42"), "2026-12-08 00:00");
	ck_assert_str_eq(next("@weekly", "2026-12-07 16:42"), "2026-12-13 00:00");
	ck_assert_str_eq(next("@monthly", "2026-12-07 16:42"), "2027-01-01 00:00");
	ck_assert_str_eq(next("@yearly", "2026-12-07 16:42"), "2027-01-01 00:00");
	ck_assert_str_eq(next("@annually", "2026-12-07 16:42"), "2027-01-01 00:00");
	ck_assert_str_eq(next("  1  2   3 4  *", "2026-12-07 16:42"), "2027-04-03 02:01");
}
END_TEST

TEST(test_errors)
{
	ck_assert_str_eq(error_of("61 * * * *"), "minute: 61 is out of range 0-59");
	ck_assert_str_eq(error_of("* 24 * * *"), "hour: 24 is out of range 0-23");
	ck_assert_str_eq(error_of("* * 0 * *"), "day of month: 0 is out of range 1-31");
	ck_assert_str_eq(error_of("* * * 13 *"), "month: 13 is out of range 1-12");
	ck_assert_str_eq(error_of("* * * foo *"), "month: 'foo' is not a number or a name");
	ck_assert_str_eq(error_of("* * * * 8"), "day of week: 8 is out of range 0-7");
	ck_assert_str_eq(error_of("x * * * *"), "minute: 'x' is not a number");
	ck_assert_str_eq(error_of("*/0 * * * *"), "minute: step '0' must be a positive number");
	ck_assert_str_eq(error_of("*/ * * * *"), "minute: step '' must be a positive number");
	ck_assert_str_eq(error_of("5-1 * * * *"), "minute: range '5-1' ends before it starts");
	ck_assert_str_eq(error_of("1, * * * *"), "minute: a value is missing");
	ck_assert_str_eq(error_of("? * * * *"), "minute: '?' is only allowed in the day fields");
	ck_assert_str_eq(error_of("* * * *"), "'* * * *' has 4 fields, want 5 (minute hour "
					      "day-of-month month day-of-week) or a macro like "
					      "@hourly");
	ck_assert_str_eq(error_of(""), "'' has 0 fields, want 5 (minute hour day-of-month month "
				       "day-of-week) or a macro like @hourly");
	ck_assert_str_eq(error_of("* * * * * *"), "'* * * * * *' has more than 5 fields (minute "
						  "hour day-of-month month day-of-week)");
	ck_assert_str_eq(error_of("@every 5m"), "'@every 5m' is not one of @yearly, @annually, "
						"@monthly, @weekly, @daily, @midnight, @hourly");
	ck_assert_str_eq(error_of("99999 * * * *"), "minute: '99999' is not a number");
}
END_TEST

TEST_SUITE();
