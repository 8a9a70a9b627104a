/* tests/fuzz/fuzz_path.c: libFuzzer target for path_normalise.
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *   -I. -o fuzz_path tests/fuzz/fuzz_path.c path.c http.c
 * ./fuzz_path -max_total_time=60 tests/fuzz/corpus/path
 * Besides memory errors it checks what the normaliser promises: the output
 * starts with '/', holds no empty, "." or ".." segment, no control byte or
 * backslash, fits its buffer, and is a fixed point when it holds no '%'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

#define IN_MAX 8192

static void
check_output(const char *out, size_t cap)
{
	size_t n = strlen(out), i, seg;

	if (n >= cap || out[0] != '/')
		abort();
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)out[i];

		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			abort();
	}
	for (i = 1; i <= n; i = seg + 1) {
		for (seg = i; seg < n && out[seg] != '/'; seg++)
			;
		if (seg == i && seg != n)
			abort();        /* "//" */
		if ((seg - i == 1 && out[i] == '.') ||
		    (seg - i == 2 && out[i] == '.' && out[i + 1] == '.'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[IN_MAX + 1], again[IN_MAX + 1];
	size_t cap;
	char *out;

	if (size < 1 || size > IN_MAX)
		return 0;
	/* The first byte picks the output size, so that short buffers are
	 * tried too; the buffer is exactly that big for ASan to watch. */
	cap = data[0] < 200 ? (size_t)data[0] % 64 + 1 : IN_MAX + 1;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if ((out = malloc(cap)) == NULL)
		return 0;
	if (path_normalise(out, cap, in) == 0) {
		check_output(out, cap);
		if (strchr(out, '%') == NULL) {
			if (path_normalise(again, sizeof(again), out) != 0 ||
			    strcmp(again, out) != 0)
				abort();
		}
	}
	free(out);
	return 0;
}
