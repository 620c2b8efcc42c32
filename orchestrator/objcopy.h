/* objcopy.h — protobuf-c messages unpacked into a reused scratch buffer and
 * deep-copied into one block (objcopy.c). The bottom of the brain's files:
 * it calls nothing of the orchestrator but objects.h's descriptors. */
#ifndef SKIFF_OBJCOPY_H
#define SKIFF_OBJCOPY_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Unpack data as an object of kind into a scratch buffer reused by every
 * call: valid until the next call, never freed by the caller. NULL when the
 * bytes do not decode or kind has no descriptor. */
ProtobufCMessage *objcopy_unpack_scratch(int kind, const uint8_t *data, size_t len);
/* A deep copy of m in one malloc()ed block: free() it (not
 * protobuf_c_message_free_unpacked()). */
ProtobufCMessage *objcopy_block(const ProtobufCMessage *m);

#endif
