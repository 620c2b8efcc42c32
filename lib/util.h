/* util.h — small helpers every Skiff binary uses: memory that aborts on
 * exhaustion, strings, whole-fd I/O, files (including an atomic replace),
 * directories and clocks.
 *
 * Functions return >= 0 on success and -errno on failure; output parameters
 * come last and are left untouched on failure. Returned strings and buffers
 * are owned by the caller (free()).
 */
#ifndef SKIFF_UTIL_H
#define SKIFF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Allocation failure aborts, as in crun and Redis. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

bool skiff_startswith(const char *s, const char *prefix);
bool skiff_endswith(const char *s, const char *suffix);
bool streq_ptr(const char *a, const char *b); /* NULL-safe strcmp()==0 */
#define streq(a, b) (strcmp((a), (b)) == 0)

/* Strict integer parsing: the whole string, base 10, in range. -EINVAL/-ERANGE. */
int skiff_parse_int64(const char *s, int64_t *ret);
int skiff_parse_uint32(const char *s, uint32_t *ret);

/* Read or write exactly len bytes, retrying on EINTR and short counts.
 * skiff_read_full returns the bytes read (< len only at end of file). */
ssize_t skiff_read_full(int fd, void *buf, size_t len);
int skiff_write_full(int fd, const void *buf, size_t len);

/* Read a whole file of at most max bytes (-EFBIG beyond). The result is
 * NUL-terminated; *ret_len excludes the NUL. */
int skiff_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Replace path with data atomically and durably: write a temporary file in
 * the same directory, fsync it, rename it over path, fsync the directory. */
int skiff_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p; existing directories are fine. */
int skiff_mkdir_p(const char *path, mode_t mode);
/* rm -rf that never crosses into another file system (mount point). */
int skiff_rm_rf(const char *path);
/* du: the bytes allocated (st_blocks) to path and everything below it on
 * the same file system, each inode counted once; -errno when path is not
 * there. */
int64_t skiff_du_bytes(const char *path);
/* fsync the directory that holds path. */
int skiff_fsync_parent(const char *path);

int skiff_fd_nonblock(int fd, bool on);
int skiff_fd_cloexec(int fd, bool on);

/* Clocks in milliseconds / nanoseconds. */
int64_t skiff_now_ms(void);  /* CLOCK_REALTIME, unix time */
int64_t skiff_mono_ms(void); /* CLOCK_MONOTONIC */
uint64_t skiff_mono_ns(void);

/* Fill buf with len bytes from the kernel's CSPRNG. */
int skiff_random_bytes(void *buf, size_t len);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void skiff_hex(const void *data, size_t len, char *out);

#endif
