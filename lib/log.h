/* log.h — Skiff's one logging module.
 *
 * Lines go to stderr as "2026-11-27T20:48:09.123Z skiff-agent[123] info: text".
 * The level is checked before any formatting. Library code logs at debug;
 * the caller that decides logs once. The log_*_errno() helpers return the
 * negative errno they were given, so an error path reads
 *
 *	return log_error_errno(r, "cannot open %s: %m", path);
 *
 * where %m prints strerror(-r).
 */
#ifndef SKIFF_LOG_H
#define SKIFF_LOG_H

#include <stdarg.h>

enum skiff_log_level {
	SKIFF_LOG_ERROR = 0,
	SKIFF_LOG_WARN = 1,
	SKIFF_LOG_INFO = 2,
	SKIFF_LOG_DEBUG = 3,
};

/* Set the component tag (e.g. "skiff-agent") shown on every line. */
void skiff_log_set_component(const char *component);
void skiff_log_set_level(enum skiff_log_level level);
enum skiff_log_level skiff_log_get_level(void);
/* Parse "error|warn|info|debug"; returns 0 or -EINVAL. */
int skiff_log_parse_level(const char *s, enum skiff_log_level *ret);
/* Redirect output to fd (default 2). */
void skiff_log_set_fd(int fd);

/* Returns -abs(err) (or -1 when err is 0) so callers can return it. */
int skiff_log_internal(enum skiff_log_level level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define skiff_log(level, err, ...)                                                                 \
	({                                                                                         \
		int _e_ = (err);                                                                   \
		(skiff_log_get_level() >= (level)) ? skiff_log_internal((level), _e_, __VA_ARGS__) \
						   : (_e_ > 0 ? -_e_ : (_e_ < 0 ? _e_ : -1));      \
	})

#define log_debug(...) ((void)skiff_log(SKIFF_LOG_DEBUG, 0, __VA_ARGS__))
#define log_info(...)  ((void)skiff_log(SKIFF_LOG_INFO, 0, __VA_ARGS__))
#define log_warn(...)  ((void)skiff_log(SKIFF_LOG_WARN, 0, __VA_ARGS__))
#define log_error(...) ((void)skiff_log(SKIFF_LOG_ERROR, 0, __VA_ARGS__))

#define log_debug_errno(err, ...) skiff_log(SKIFF_LOG_DEBUG, (err), __VA_ARGS__)
#define log_info_errno(err, ...)  skiff_log(SKIFF_LOG_INFO, (err), __VA_ARGS__)
#define log_warn_errno(err, ...)  skiff_log(SKIFF_LOG_WARN, (err), __VA_ARGS__)
#define log_error_errno(err, ...) skiff_log(SKIFF_LOG_ERROR, (err), __VA_ARGS__)

#endif
