/* frame.c — the RPC frame codec: a 4-byte big-endian length, then one packed
 * Skiff__Frame. No I/O: bytes in, frames out, so it can be unit-tested and
 * fuzzed alone. The length prefix is checked against the cap before anything
 * is allocated for the body. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util.h"

static uint32_t read_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

const char *skiff_rpc_msg_type_name(int type)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&skiff__msg_type__descriptor, type);
	return v ? v->name : NULL;
}

int skiff_frame_decode_any(const uint8_t *buf, size_t len, size_t max_frame, Skiff__Frame **ret,
			   size_t *ret_consumed)
{
	Skiff__Frame *f;
	uint32_t n;

	if (len < 4)
		return 0;
	n = read_be32(buf);
	if (n > max_frame)
		return -EMSGSIZE;
	if (len - 4 < n)
		return 0;
	f = skiff__frame__unpack(NULL, n, buf + 4);
	if (!f)
		return -EBADMSG;
	*ret = f;
	*ret_consumed = 4 + (size_t)n;
	return 1;
}

int skiff_frame_decode(const uint8_t *buf, size_t len, size_t max_frame, Skiff__Frame **ret,
		       size_t *ret_consumed)
{
	Skiff__Frame *f = NULL;
	size_t consumed = 0;
	int r;

	r = skiff_frame_decode_any(buf, len, max_frame, &f, &consumed);
	if (r <= 0)
		return r;
	if (!skiff_rpc_msg_type_name(f->type)) {
		skiff__frame__free_unpacked(f, NULL);
		return -EBADMSG;
	}
	*ret = f;
	*ret_consumed = consumed;
	return 1;
}

int skiff_frame_encode(const Skiff__Frame *frame, uint8_t **ret, size_t *ret_len)
{
	size_t n = skiff__frame__get_packed_size(frame);
	uint8_t *buf;

	if (n > SKIFF_RPC_MAX_FRAME)
		return -EMSGSIZE;
	buf = xmalloc(4 + n);
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	skiff__frame__pack(frame, buf + 4);
	*ret = buf;
	*ret_len = 4 + n;
	return 0;
}
