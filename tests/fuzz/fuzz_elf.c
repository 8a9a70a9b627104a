/* tests/fuzz/fuzz_elf.c: libFuzzer target for the ELF header and #! line
 * readers, which `itkd -t` and the start run as root on the first bytes of
 * files a vhost owner wrote. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elfabi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char head[ELF_HEAD_MAX];
	char interp[ELF_HEAD_MAX + 8], words[64];
	struct elf_abi abi, self;
	size_t len = size < sizeof(head) ? size : sizeof(head);
	int r;

	/* What elf_read_head would have given: at most ELF_HEAD_MAX bytes. */
	memcpy(head, data, len);
	memset(interp, 'x', sizeof(interp));
	if (elf_classify(head, len, &abi) == 0) {
		if ((abi.class != 1 && abi.class != 2) ||
		    (abi.data != 1 && abi.data != 2))
			abort();
		elf_self(&self);
		r = elf_compare(&abi, &self);
		if (r != ELF_SAME && r != ELF_COMPAT && r != ELF_FOREIGN)
			abort();
		if (elf_describe(&abi, words, sizeof(words)) != words ||
		    memchr(words, '\0', sizeof(words)) == NULL)
			abort();
	}
	/* A small buffer: a name that does not fit is refused, never cut. */
	r = elf_shebang(head, len, interp, 16);
	if (r == 0 && (interp[0] != '/' || memchr(interp, '\0', 16) == NULL))
		abort();
	if (r == 0 && interp[16] != 'x')
		abort();                /* wrote past cap */
	return 0;
}
