/* image-source.c — the byte source behind every libarchive read of an image
 * archive or a layer, and the error line format of lib/image-*.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "image-internal.h"

ssize_t image_source_read(struct archive *a, void *data, const void **ret)
{
	struct image_source *s = data;
	ssize_t n;
	do
		n = read(s->fd, s->buf, IMAGE_READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	if (n > 0 && s->md && EVP_DigestUpdate(s->md, s->buf, (size_t)n) != 1)
		abort();
	if (n > 0 && s->tee) {
		int r = skiff_blob_writer_write(s->tee, s->buf, (size_t)n);
		if (r < 0) {
			/* too big or no space for a rootfs: only an error if it is one */
			skiff_blob_writer_free(TAKE_PTR(s->tee));
			s->tee_error = r;
		}
	}
	*ret = s->buf;
	return n;
}

int image_fail(char *err, size_t errlen, int r, const char *what, const char *name, const char *fmt,
	       ...)
{
	int n = snprintf(err, errlen, "%s %s: ", what, name);
	if (n >= 0 && (size_t)n < errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return r;
}
