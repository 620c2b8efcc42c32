/* cron.h — cron schedules as Kubernetes' CronJob reads them (the 5-field
 * syntax of Vixie cron, as robfig/cron's standard parser): minute, hour,
 * day of month, month, day of week; each a '*', a value, a range a-b, a
 * step (*\/n, a-b/n, a/n), or a comma-separated list of those; months and
 * days of the week also by their English three-letter names (jan, mon, any
 * case); '?' is '*' in the day fields; day of week 7 is Sunday too. Macros:
 * @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
 *
 * As in cron, when both day fields are restricted (neither starts with '*')
 * a day matches either; otherwise both must match. Times are UTC (no DST).
 */
#ifndef SKIFF_CRON_H
#define SKIFF_CRON_H

#include <stdbool.h>
#include <stdint.h>

struct skiff_cron {
	uint64_t minute; /* bit n: minute n (0-59) */
	uint32_t hour;	 /* 0-23 */
	uint32_t dom;	 /* 1-31 */
	uint16_t month;	 /* 1-12 */
	uint8_t dow;	 /* 0-6, Sunday 0 */
	bool dom_star, dow_star;
};

/* Parse spec. On failure returns -EINVAL with *ret_errmsg (free()) naming
 * the field and the value, e.g. "minute: 61 is out of range 0-59". */
int skiff_cron_parse(const char *spec, struct skiff_cron *ret, char **ret_errmsg);
/* The first time (unix seconds, a whole minute) after `after` the schedule
 * fires, or -1 when it never does in the next 5 years (as "0 0 30 2 *"). */
int64_t skiff_cron_next(const struct skiff_cron *c, int64_t after);

#endif
