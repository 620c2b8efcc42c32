/* image-internal.h — what lib/image-*.c share and no other code uses: the
 * byte source libarchive reads archives and layers through, and the error
 * line format. */
#ifndef SKIFF_IMAGE_INTERNAL_H
#define SKIFF_IMAGE_INTERNAL_H

#include <archive.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <sys/types.h>

#include "image.h"

#define IMAGE_READ_CHUNK (256u << 10)

/* An fd read in IMAGE_READ_CHUNK pieces into buf; every byte read is hashed
 * into md and copied into tee when they are set (a tee that fails is dropped
 * and its error kept in tee_error). */
struct image_source {
	int fd;
	unsigned char *buf;
	EVP_MD_CTX *md;
	struct skiff_blob_writer *tee;
	int tee_error;
};

/* libarchive's read callback for a struct image_source. */
ssize_t image_source_read(struct archive *a, void *data, const void **ret);

/* Write "WHAT NAME: message" into err (e.g. "layer sha256:…: …"); returns r.
 * The importer and the unpacker each wrap it in a fail() macro. */
int image_fail(char *err, size_t errlen, int r, const char *what, const char *name, const char *fmt,
	       ...) __attribute__((format(printf, 6, 7)));

#endif
