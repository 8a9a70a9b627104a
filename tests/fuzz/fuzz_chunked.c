/* tests/fuzz/fuzz_chunked.c: libFuzzer target for the chunked decoder, fed
 * in random splits into output buffers of random sizes.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 *        tests/fuzz/fuzz_chunked.c http.c -o fuzz_chunked */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Decode data[0..size) in one call into a big buffer: the reference. */
static int
whole(const char *in, size_t size, char *out, size_t cap, size_t *used, size_t *made)
{
	struct http_chunked c;

	http_chunked_init(&c);
	return http_chunked_decode(&c, in, size, used, out, cap, made);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char ref[1 << 16], got[1 << 16];
	struct http_chunked c;
	const char *in;
	size_t off = 0, total = 0, used, made, ref_used, ref_made, inlen, outcap;
	unsigned seed;
	int r = 0, ref_r, stalls = 0;

	if (size < 2 || size > sizeof(ref))
		return 0;
	seed = data[0] | (unsigned)data[1] << 8;  /* drives the splits */
	in = (const char *)data + 2;
	size -= 2;
	ref_r = whole(in, size, ref, sizeof(ref), &ref_used, &ref_made);
	if (ref_used > size || ref_made > ref_used || ref_r < 0 ||
	    (ref_r != 0 && ref_r != 1 && ref_r != 400))
		abort();

	http_chunked_init(&c);
	while (off < size) {
		seed = seed * 1103515245u + 12345u;
		inlen = 1 + (seed >> 8) % 17;
		if (inlen > size - off)
			inlen = size - off;
		outcap = (seed >> 20) % 9;     /* 0..8, 0 included */
		if (outcap > sizeof(got) - total)
			outcap = sizeof(got) - total;
		r = http_chunked_decode(&c, in + off, inlen, &used, got + total,
		    outcap, &made);
		if (used > inlen || made > outcap)
			abort();
		off += used;
		total += made;
		if (r != 0)
			break;
		if (used == 0 && made == 0 && ++stalls > 64)
			break;  /* only a full (0-byte) output may stall */
		if (used != 0 || made != 0)
			stalls = 0;
	}
	/* However it is split, the decoder reaches the same verdict on the
	 * same bytes and produces the same output. */
	if (r != 0 && (r != ref_r || off != ref_used || total != ref_made ||
	    memcmp(ref, got, total) != 0))
		abort();
	if (r == 0 && stalls <= 64 && (ref_r != 0 || total != ref_made ||
	    memcmp(ref, got, total) != 0))
		abort();
	return 0;
}
