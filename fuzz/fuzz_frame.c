/* fuzz_frame.c — libFuzzer harness for the frame decoder (lib/frame.c).
 * Decodes as many frames as the input holds, as a connection would, and
 * checks the codec's promises: known results only, consumed within bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		Skiff__Frame *f = NULL;
		size_t consumed = 0;
		int r =
		    skiff_frame_decode(data + off, size - off, SKIFF_RPC_MAX_FRAME, &f, &consumed);
		if (r != 1) {
			if (r != 0 && r != -EBADMSG && r != -EMSGSIZE)
				abort();
			break;
		}
		if (consumed < 4 || consumed > size - off || !skiff_rpc_msg_type_name(f->type))
			abort();
		/* a decoded frame re-encodes */
		uint8_t *buf = NULL;
		size_t len = 0;
		if (skiff_frame_encode(f, &buf, &len) == 0)
			free(buf);
		skiff__frame__free_unpacked(f, NULL);
		off += consumed;
	}
	return 0;
}
