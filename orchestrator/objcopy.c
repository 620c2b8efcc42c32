/* objcopy.c — protobuf-c messages in one block: a bump allocator that
 * protobuf-c unpacks into (a scratch buffer reused by every call), and a
 * deep copy that walks the descriptors twice (measure, copy) into one
 * malloc()ed block of exactly that size, so a stored object other than a pod
 * costs one allocation and frees with one free() (see brain.c's store hooks).
 * Knows nothing of the brain. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "objcopy.h"
#include "objects.h"
#include "util.h"

struct bump {
	uint8_t *base;
	size_t used, cap;
	bool overflow;
};

static void *bump_alloc(void *userdata, size_t n)
{
	struct bump *b = userdata;
	size_t off = (b->used + 7) & ~(size_t)7; /* protobuf-c structs need 8 */
	if (off + n > b->cap || off + n < off) {
		b->overflow = true;
		return NULL;
	}
	b->used = off + n;
	return b->base + off;
}

static void bump_free(void *userdata, void *p)
{
	(void)userdata;
	(void)p;
}

static void *bump_take(struct bump *b, size_t n)
{
	size_t off = (b->used + 7) & ~(size_t)7;
	b->used = off + n;
	return b->base ? b->base + off : NULL;
}

static char *copy_str(struct bump *b, const char *s)
{
	if (!s || s == protobuf_c_empty_string)
		return (char *)s;
	size_t n = strlen(s) + 1;
	char *d = bump_take(b, n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* Deep copy of src into b (b->base NULL: only measure). Returns the copy
 * (NULL when measuring). */
static ProtobufCMessage *copy_msg(struct bump *b, const ProtobufCMessage *src)
{
	const ProtobufCMessageDescriptor *d = src->descriptor;
	ProtobufCMessage *m = bump_take(b, d->sizeof_message);
	if (m)
		memcpy(m, src, d->sizeof_message);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *sp = (const char *)src + f->offset;
		char *mp = m ? (char *)m + f->offset : NULL;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)src + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)src + f->quantifier_offset);
			const void *arr = *(void *const *)sp;
			if (!n || !arr)
				continue;
			size_t esz = elem_size(f);
			void *na = bump_take(b, n * esz);
			if (na)
				memcpy(na, arr, n * esz);
			for (size_t j = 0; j < n; j++) {
				void *ne = na ? (char *)na + j * esz : NULL;
				const void *se = (const char *)arr + j * esz;
				if (f->type == PROTOBUF_C_TYPE_STRING) {
					char *c = copy_str(b, *(char *const *)se);
					if (ne)
						*(char **)ne = c;
				} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
					ProtobufCMessage *c =
					    copy_msg(b, *(ProtobufCMessage *const *)se);
					if (ne)
						*(ProtobufCMessage **)ne = c;
				} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
					const ProtobufCBinaryData *bd = se;
					void *c = bd->len ? bump_take(b, bd->len) : NULL;
					if (c)
						memcpy(c, bd->data, bd->len);
					if (ne)
						((ProtobufCBinaryData *)ne)->data = c;
				}
			}
			if (mp)
				*(void **)mp = na;
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			char *c = copy_str(b, *(char *const *)sp);
			if (mp)
				*(char **)mp = c;
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sm = *(ProtobufCMessage *const *)sp;
			ProtobufCMessage *c = sm ? copy_msg(b, sm) : NULL;
			if (mp)
				*(ProtobufCMessage **)mp = c;
		} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
			const ProtobufCBinaryData *bd = (const ProtobufCBinaryData *)sp;
			void *c = bd->len && bd->data ? bump_take(b, bd->len) : NULL;
			if (c)
				memcpy(c, bd->data, bd->len);
			if (mp)
				((ProtobufCBinaryData *)mp)->data = c;
		}
	}
	return m;
}

ProtobufCMessage *objcopy_unpack_scratch(int kind, const uint8_t *data, size_t len)
{
	static struct bump scratch;
	const ProtobufCMessageDescriptor *desc = skiff_obj_descriptor(kind);
	if (!desc)
		return NULL;
	for (;;) {
		if (!scratch.base) {
			scratch.cap = 64 * 1024;
			scratch.base = xmalloc(scratch.cap);
		}
		scratch.used = 0;
		scratch.overflow = false;
		ProtobufCAllocator a = { bump_alloc, bump_free, &scratch };
		ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a, len, data);
		if (m || !scratch.overflow)
			return m;
		scratch.cap *= 2;
		scratch.base = xrealloc(scratch.base, scratch.cap);
	}
}

ProtobufCMessage *objcopy_block(const ProtobufCMessage *m)
{
	/* measure, then copy into one block of exactly that size */
	struct bump measure = { NULL, 0, 0, false };
	(void)copy_msg(&measure, m);
	struct bump exact = { xmalloc(measure.used ? measure.used : 1), 0, measure.used, false };
	ProtobufCMessage *copy = copy_msg(&exact, m);
	if ((void *)copy != (void *)exact.base || exact.used != measure.used)
		abort(); /* the same walk takes the same sizes */
	return copy;
}
