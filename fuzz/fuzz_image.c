/* fuzz_image.c — libFuzzer harness for the image reader: any bytes as an
 * index, a manifest or a config, as an image archive to import and as a layer
 * to unpack must give an image or a one-line error, never a crash or a
 * leak. The store lives in a fresh directory that is
 * emptied after every input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];
static char *store_dir;

static void cleanup_root(void)
{
	skiff_rm_rf(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!root[0]) {
		strcpy(root, "/tmp/skiff-fuzz-image-XXXXXX");
		if (!mkdtemp(root))
			abort();
		store_dir = xasprintf("%s/store", root);
		atexit(cleanup_root);
	}
	char err[SKIFF_IMAGE_ERR_MAX];
	const char *json = (const char *)data;

	struct skiff_image_descriptor d = { 0 };
	if (skiff_image_parse_index(json, size, &d, err, sizeof(err)) == 0) {
		if (!skiff_image_digest_valid(d.digest))
			abort();
		free(d.media_type);
	}
	free(skiff_image_index_name(json, size));
	struct skiff_image *img = calloc(1, sizeof(*img));
	if (skiff_image_parse_manifest(json, size, img, err, sizeof(err)) == 0) {
		/* what we write, we read back the same */
		char *m = skiff_image_manifest_json(img);
		struct skiff_image *back = calloc(1, sizeof(*back));
		if (skiff_image_parse_manifest(m, strlen(m), back, err, sizeof(err)) != 0 ||
		    back->n_layers != img->n_layers)
			abort();
		skiff_image_free(back);
		free(m);
	}
	skiff_image_free(img);
	struct skiff_image_config c = { 0 };
	if (skiff_image_parse_config(json, size, &c, err, sizeof(err)) == 0)
		skiff_image_config_clear(&c);

	struct skiff_image_store *s = NULL;
	if (skiff_image_store_open(store_dir, &s) < 0)
		abort();
	int fd = memfd_create("archive", MFD_CLOEXEC);
	if (fd < 0 || skiff_write_full(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	img = NULL;
	if (skiff_image_import(s, "-", fd, "fuzz", &img, err, sizeof(err)) == 0) {
		char **dirs = NULL;
		if (skiff_image_unpack(s, img, &dirs, err, sizeof(err)) == 0)
			skiff_strv_free(dirs);
		skiff_image_free(img);
	} else if (!err[0]) {
		abort(); /* every error says what */
	}
	close(fd);
	skiff_image_store_free(s);
	skiff_rm_rf(store_dir);
	return 0;
}
