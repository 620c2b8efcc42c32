/* fuzz_manifest.c — libFuzzer harness for the manifest parser: any bytes
 * must give objects or errors, never a crash, a leak or unbounded memory;
 * what parses must print as YAML and parse back.
 * FUZZ_SOURCES: ctl/manifest.c ctl/doc.c ctl/output.c lib/util.c lib/quantity.c lib/log.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../ctl/manifest.h"
#include "../ctl/output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct skiff_manifest m = { 0 };
	skiff_manifest_parse_buffer(&m, "fuzz.yaml", (const char *)data, size);
	if (m.peak_allocated > (64u << 20))
		abort();
	for (size_t i = 0; i < m.n; i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		skiff_output_objects(f, m.objects[i].kind, &m.objects[i].object, 1,
				     SKIFF_OUTPUT_YAML, true, true, 0);
		fclose(f);
		struct skiff_manifest back = { 0 };
		/* what we print, we must read */
		if (skiff_manifest_parse_buffer(&back, "out.yaml", text, len) != 0 || back.n != 1)
			abort();
		skiff_manifest_clear(&back);
		free(text);
	}
	skiff_manifest_clear(&m);
	return 0;
}
