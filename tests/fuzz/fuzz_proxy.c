/* tests/fuzz/fuzz_proxy.c: libFuzzer target for the PROXY header parser,
 * which reads attacker bytes in stage 1 from trusted-proxy peers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	size_t used = 0, i;
	int r = proxy_parse(data, size, &used, &ss);

	if (r == 1 && (used == 0 || used > size || used > PROXY_HEAD_MAX))
		abort();
	/* A complete header stays complete with more bytes behind it, and
	 * every prefix of it is "need more", never "invalid". */
	if (r == 1)
		for (i = 1; i < used; i++)
			if (proxy_parse(data, i, &used, &ss) < 0)
				abort();
	return 0;
}
