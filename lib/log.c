/* log.c — timestamped, levelled, tagged log lines on stderr. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum skiff_log_level log_level = SKIFF_LOG_INFO;
static const char *log_component = "skiff";
static int log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void skiff_log_set_component(const char *component)
{
	log_component = component;
}

void skiff_log_set_level(enum skiff_log_level level)
{
	log_level = level;
}

enum skiff_log_level skiff_log_get_level(void)
{
	return log_level;
}

void skiff_log_set_fd(int fd)
{
	log_fd = fd;
}

int skiff_log_parse_level(const char *s, enum skiff_log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*ret = (enum skiff_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int skiff_log_internal(enum skiff_log_level level, int err, const char *fmt, ...)
{
	char msg[2048], line[2300], ts[40];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int saved = errno;

	if (err < 0)
		err = -err;
	/* %m means strerror(err), not of whatever errno happens to be now. */
	errno = err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	int n =
	    snprintf(line, sizeof(line), "%s.%03ldZ %s[%d] %s: %s\n", ts, (long)(tv.tv_usec / 1000),
		     log_component, (int)getpid(), level_names[level], msg);
	if (n > (int)sizeof(line))
		n = sizeof(line);
	/* One write per line so lines from several processes do not interleave. */
	ssize_t w = write(log_fd, line, (size_t)n);
	(void)w;
	errno = saved;
	return err > 0 ? -err : -1;
}
