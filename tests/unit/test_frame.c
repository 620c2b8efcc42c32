/* test_frame.c — the frame codec (lib/frame.c): round trips, bytes fed one at
 * a time, truncated and oversized frames, unknown types and random garbage. */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "rpc.h"
#include "util.h"
#include "testlib.h"

static uint8_t *encode_one(uint64_t id, int type, uint32_t flags, const char *payload, int errcode,
			   size_t *ret_len)
{
	Skiff__Frame f = SKIFF__FRAME__INIT;
	Skiff__Error e = SKIFF__ERROR__INIT;
	uint8_t *buf = NULL;

	f.id = id;
	f.type = (Skiff__MsgType)type;
	f.flags = flags;
	f.version = SKIFF_RPC_PROTOCOL_VERSION;
	if (payload) {
		f.payload.data = (uint8_t *)payload;
		f.payload.len = strlen(payload);
	}
	if (errcode) {
		e.code = errcode;
		e.message = (char *)"it broke";
		f.error = &e;
	}
	ck_assert_int_eq(skiff_frame_encode(&f, &buf, ret_len), 0);
	return buf;
}

TEST(test_round_trip)
{
	size_t len = 0, consumed = 0;
	_cleanup_free_ uint8_t *buf = encode_one(
	    42, SKIFF__MSG_TYPE__MSG_LIST, SKIFF__FRAME_FLAG__FLAG_REPLY, "hello", ENOENT, &len);
	Skiff__Frame *f = NULL;

	/* the prefix is the big-endian body length */
	ck_assert_uint_eq(len, 4 + ((size_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3]));
	ck_assert_int_eq(skiff_frame_decode(buf, len, SKIFF_RPC_MAX_FRAME, &f, &consumed), 1);
	ck_assert_uint_eq(consumed, len);
	ck_assert_uint_eq(f->id, 42);
	ck_assert_int_eq(f->type, SKIFF__MSG_TYPE__MSG_LIST);
	ck_assert_uint_eq(f->flags, SKIFF__FRAME_FLAG__FLAG_REPLY);
	ck_assert_uint_eq(f->version, 1);
	ck_assert_uint_eq(f->payload.len, 5);
	ck_assert(memcmp(f->payload.data, "hello", 5) == 0);
	ck_assert_ptr_nonnull(f->error);
	ck_assert_int_eq(f->error->code, ENOENT);
	ck_assert_str_eq(f->error->message, "it broke");
	skiff__frame__free_unpacked(f, NULL);
}
END_TEST

/* A stream of three frames fed one byte at a time, as a socket might deliver
 * them: each frame comes out exactly when its last byte arrives. */
TEST(test_byte_at_a_time)
{
	size_t lens[3], total = 0, have = 0, start = 0;
	uint8_t *frames[3];
	int got = 0;

	for (int i = 0; i < 3; i++) {
		frames[i] = encode_one((uint64_t)i + 1, SKIFF__MSG_TYPE__MSG_TEST_ECHO,
				       SKIFF__FRAME_FLAG__FLAG_REQUEST, i == 1 ? "" : "payload", 0,
				       &lens[i]);
		total += lens[i];
	}
	_cleanup_free_ uint8_t *stream = xmalloc(total);
	for (int i = 0, off = 0; i < 3; off += (int)lens[i], i++)
		memcpy(stream + off, frames[i], lens[i]);

	size_t boundary = lens[0];
	for (have = 1; have <= total; have++) {
		Skiff__Frame *f = NULL;
		size_t consumed = 0;
		int r = skiff_frame_decode(stream + start, have - start, SKIFF_RPC_MAX_FRAME, &f,
					   &consumed);
		if (have < boundary) {
			ck_assert_int_eq(r, 0);
			continue;
		}
		ck_assert_int_eq(r, 1);
		ck_assert_uint_eq(have, boundary);
		ck_assert_uint_eq(consumed, lens[got]);
		ck_assert_uint_eq(f->id, (uint64_t)got + 1);
		skiff__frame__free_unpacked(f, NULL);
		start += consumed;
		got++;
		if (got < 3)
			boundary += lens[got];
	}
	ck_assert_int_eq(got, 3);
	for (int i = 0; i < 3; i++)
		free(frames[i]);
}
END_TEST

TEST(test_truncated)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = encode_one(
	    7, SKIFF__MSG_TYPE__MSG_GET, SKIFF__FRAME_FLAG__FLAG_REQUEST, "abcdef", 0, &len);

	for (size_t n = 0; n < len; n++) {
		Skiff__Frame *f = NULL;
		size_t consumed = 99;
		ck_assert_int_eq(skiff_frame_decode(buf, n, SKIFF_RPC_MAX_FRAME, &f, &consumed), 0);
		ck_assert_ptr_null(f);
		ck_assert_uint_eq(consumed, 99);
	}
}
END_TEST

/* 4 bytes announcing a 1 GiB body: refused from the prefix alone, with no
 * allocation for the body (the heap in use does not grow). */
TEST(test_oversized_prefix)
{
	const uint8_t prefix[4] = { 0x40, 0x00, 0x00, 0x00 };
	Skiff__Frame *f = NULL;
	size_t consumed = 0;

	struct mallinfo2 before = mallinfo2();
	int r = skiff_frame_decode(prefix, sizeof(prefix), SKIFF_RPC_MAX_FRAME, &f, &consumed);
	struct mallinfo2 after = mallinfo2();
	ck_assert_int_eq(r, -EMSGSIZE);
	ck_assert_ptr_null(f);
	ck_assert_uint_eq(after.uordblks, before.uordblks);
	ck_assert_uint_eq(after.hblkhd, before.hblkhd);

	/* same answer when followed by body bytes, and from decode_any */
	uint8_t more[64] = { 0x40, 0x00, 0x00, 0x00 };
	ck_assert_int_eq(
	    skiff_frame_decode_any(more, sizeof(more), SKIFF_RPC_MAX_FRAME, &f, &consumed),
	    -EMSGSIZE);
}
END_TEST

TEST(test_cap_boundary)
{
	size_t len = 0, consumed = 0;
	_cleanup_free_ uint8_t *buf = encode_one(1, SKIFF__MSG_TYPE__MSG_PING,
						 SKIFF__FRAME_FLAG__FLAG_REQUEST, "xyz", 0, &len);
	Skiff__Frame *f = NULL;
	size_t body = len - 4;

	ck_assert_int_eq(skiff_frame_decode(buf, len, body - 1, &f, &consumed), -EMSGSIZE);
	ck_assert_int_eq(skiff_frame_decode(buf, len, body, &f, &consumed), 1);
	skiff__frame__free_unpacked(f, NULL);
}
END_TEST

TEST(test_encode_oversized)
{
	Skiff__Frame f = SKIFF__FRAME__INIT;
	uint8_t *buf = NULL;
	size_t len = 0;

	f.type = SKIFF__MSG_TYPE__MSG_LOGS;
	f.payload.len = SKIFF_RPC_MAX_FRAME;
	f.payload.data = xcalloc(1, f.payload.len);
	ck_assert_int_eq(skiff_frame_encode(&f, &buf, &len), -EMSGSIZE);
	ck_assert_ptr_null(buf);
	free(f.payload.data);
}
END_TEST

TEST(test_unknown_type)
{
	size_t len = 0, consumed = 0;
	_cleanup_free_ uint8_t *buf =
	    encode_one(9, 77, SKIFF__FRAME_FLAG__FLAG_REQUEST, NULL, 0, &len);
	Skiff__Frame *f = NULL;

	ck_assert_int_eq(skiff_frame_decode(buf, len, SKIFF_RPC_MAX_FRAME, &f, &consumed),
			 -EBADMSG);
	ck_assert_ptr_null(f);
	/* the connection's variant keeps it so it can answer with the id */
	ck_assert_int_eq(skiff_frame_decode_any(buf, len, SKIFF_RPC_MAX_FRAME, &f, &consumed), 1);
	ck_assert_int_eq(f->type, 77);
	ck_assert_uint_eq(f->id, 9);
	skiff__frame__free_unpacked(f, NULL);

	ck_assert_str_eq(skiff_rpc_msg_type_name(SKIFF__MSG_TYPE__MSG_LIST), "MSG_LIST");
	ck_assert_ptr_null(skiff_rpc_msg_type_name(77));
}
END_TEST

TEST(test_bad_body)
{
	const uint8_t buf[] = { 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	Skiff__Frame *f = NULL;
	size_t consumed = 0;

	ck_assert_int_eq(skiff_frame_decode(buf, sizeof(buf), SKIFF_RPC_MAX_FRAME, &f, &consumed),
			 -EBADMSG);
	ck_assert_ptr_null(f);
}
END_TEST

/* Random bytes, and random mutations of a valid frame: never a crash, always
 * one of the documented answers, and a decoded frame never claims more bytes
 * than it was given. */
TEST(test_garbage)
{
	size_t good_len = 0;
	_cleanup_free_ uint8_t *good =
	    encode_one(5, SKIFF__MSG_TYPE__MSG_WATCH, SKIFF__FRAME_FLAG__FLAG_STREAM, "0123456789",
		       0, &good_len);
	uint8_t buf[256];
	unsigned seed = 12345;

	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)rand_r(&seed) % sizeof(buf);
		if (i % 2) {
			for (size_t k = 0; k < n; k++)
				buf[k] = (uint8_t)rand_r(&seed);
			/* keep the prefix small half of the time so the body is parsed */
			if (n >= 4 && (i % 4) == 1) {
				buf[0] = buf[1] = 0;
				buf[2] = 0;
				buf[3] = (uint8_t)(n - 4);
			}
		} else {
			n = good_len;
			memcpy(buf, good, good_len);
			for (int k = 0; k < 3; k++)
				buf[4 + (size_t)rand_r(&seed) % (good_len - 4)] =
				    (uint8_t)rand_r(&seed);
		}
		Skiff__Frame *f = NULL;
		size_t consumed = 0;
		int r = skiff_frame_decode(buf, n, SKIFF_RPC_MAX_FRAME, &f, &consumed);
		ck_assert(r == 0 || r == 1 || r == -EBADMSG || r == -EMSGSIZE);
		if (r == 1) {
			ck_assert_uint_le(consumed, n);
			ck_assert_ptr_nonnull(skiff_rpc_msg_type_name(f->type));
			skiff__frame__free_unpacked(f, NULL);
		} else {
			ck_assert_ptr_null(f);
		}
	}
}
END_TEST
