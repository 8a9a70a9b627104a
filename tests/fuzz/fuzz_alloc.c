/* tests/fuzz/fuzz_alloc.c: libFuzzer target for alloc.c, the allocator
 * behind itkd's malloc. The input is a program of 4-byte operations on 64
 * slots: op, slot, and a size; every block is filled, its bytes checked
 * before it changes hands, and the heap walked after every operation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define SLOTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	unsigned char *p;
	size_t n;
	unsigned char fill;
} slot[SLOTS];

/* Compared a page at a time: a byte loop under ASan made this target
 * crawl on mapped blocks. */
static void
verify(int i)
{
	static unsigned char want[4096];
	size_t k, len;

	memset(want, slot[i].fill, sizeof(want));
	for (k = 0; k < slot[i].n; k += len) {
		len = slot[i].n - k < sizeof(want) ? slot[i].n - k : sizeof(want);
		if (memcmp(slot[i].p + k, want, len) != 0)
			abort();
	}
}

static void
fill(int i, size_t n, unsigned char c)
{
	if ((uintptr_t)slot[i].p % 16 != 0 || alloc_usable(slot[i].p) < n)
		abort();
	slot[i].n = n;
	slot[i].fill = c;
	memset(slot[i].p, c, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos, n, keep;
	unsigned char *q;
	int i;

	for (pos = 0; pos + 4 <= size; pos += 4) {
		i = data[pos + 1] % SLOTS;
		/* Mostly small; the op's high bit asks for a mapped block. */
		n = (size_t)data[pos + 2] | (size_t)data[pos + 3] << 8;
		if (data[pos] & 0x80)
			n += 65536;
		if (slot[i].p != NULL)
			verify(i);
		switch (data[pos] & 3) {
		case 0:
			alloc_free(slot[i].p);
			if ((slot[i].p = alloc_malloc(n)) == NULL)
				abort();
			fill(i, n, data[pos + 2]);
			break;
		case 1:
			if ((q = alloc_realloc(slot[i].p, n)) == NULL)
				abort();
			keep = slot[i].p == NULL ? 0 : n < slot[i].n ? n : slot[i].n;
			slot[i].p = q;
			slot[i].n = keep;
			verify(i);
			fill(i, n, data[pos + 3]);
			break;
		case 2:
			alloc_free(slot[i].p);
			slot[i].p = NULL;
			slot[i].n = 0;
			break;
		default:
			alloc_free(slot[i].p);
			/* 32 to 4096 */
			if ((slot[i].p = alloc_aligned((size_t)32 << (data[pos] >> 2 & 7), n)) == NULL)
				abort();
			fill(i, n, data[pos + 1]);
			break;
		}
		if (alloc_check() < 0)
			abort();
	}
	for (i = 0; i < SLOTS; i++) {
		if (slot[i].p != NULL)
			verify(i);
		alloc_free(slot[i].p);
		slot[i].p = NULL;
		slot[i].n = 0;
	}
	if (alloc_check() < 0)
		abort();
	return 0;
}
