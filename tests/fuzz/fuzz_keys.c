/* tests/fuzz/fuzz_keys.c: libFuzzer target for the key and certificate
 * loader the master runs on every start and SIGHUP (tls_parse_chain,
 * tls_parse_key, and the pair check that decodes the leaf certificate).
 * The first byte picks the parser: 0 chain, 1 key, 2 pair (then two bytes,
 * big endian, say where the chain ends and the key begins).
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 *        tests/fuzz/fuzz_keys.c tls.c vhost.c log.c http.c -lbearssl
 * Run:   ./fuzz_keys -max_total_time=60 tests/fuzz/corpus/keys */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[256];
	size_t split;
	int r;

	if (size < 1)
		return 0;
	msg[0] = '\0';
	switch (data[0] % 3) {
	case 0:
		r = tls_parse_chain(data + 1, size - 1, msg, sizeof(msg));
		break;
	case 1:
		r = tls_parse_key(data + 1, size - 1, msg, sizeof(msg));
		break;
	default:
		if (size < 3)
			return 0;
		split = ((size_t)data[1] << 8 | data[2]) % (size - 2);
		r = tls_parse_pair(data + 3, split, data + 3 + split,
		    size - 3 - split, msg, sizeof(msg));
		break;
	}
	/* Every refusal says why, and the message is a terminated string. */
	if (r != 0 && (r != -1 || msg[0] == '\0' || memchr(msg, '\0',
	    sizeof(msg)) == NULL))
		abort();
	return 0;
}
