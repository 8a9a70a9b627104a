/* tests/unit_elf.c: elfabi.c on crafted headers. Each header is built
 * here byte by byte, as a program of that machine would start, so the
 * classifier is checked on every target `make static` builds for (and
 * their compat ABIs) without any of their toolchains; itkd's own ABI is
 * checked against the header of this very test binary. */
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "elfabi.h"
#include "unit.h"

static unsigned char head[ELF_HEAD_MAX];

static void
put16(unsigned char *p, unsigned v, int be)
{
	p[be ? 0 : 1] = (unsigned char)(v >> 8);
	p[be ? 1 : 0] = (unsigned char)v;
}

static void
put32(unsigned char *p, unsigned long v, int be)
{
	int i;

	for (i = 0; i < 4; i++)
		p[be ? 3 - i : i] = (unsigned char)(v >> (8 * i));
}

/* A header of that class (32 or 64), byte order, machine and e_flags;
 * returns its size (52 or 64), the bytes the classifier needs. */
static size_t
craft(int bits, int be, unsigned machine, unsigned long flags, unsigned type)
{
	memset(head, 0, sizeof(head));
	memcpy(head, ELFMAG, SELFMAG);
	head[EI_CLASS] = bits == 64 ? ELFCLASS64 : ELFCLASS32;
	head[EI_DATA] = be ? ELFDATA2MSB : ELFDATA2LSB;
	head[EI_VERSION] = EV_CURRENT;
	put16(head + 16, type, be);                     /* e_type */
	put16(head + 18, machine, be);                  /* e_machine */
	put32(head + 20, EV_CURRENT, be);               /* e_version */
	put32(head + (bits == 64 ? 48 : 36), flags, be);        /* e_flags */
	return bits == 64 ? 64 : 52;
}

static struct elf_abi
abi_of(int bits, int be, unsigned machine, unsigned long flags)
{
	struct elf_abi a;
	size_t n = craft(bits, be, machine, flags, ET_EXEC);

	memset(&a, 0xff, sizeof(a));
	if (elf_classify(head, n, &a) < 0)
		memset(&a, 0, sizeof(a));
	return a;
}

static int
described(struct elf_abi a, const char *want)
{
	char buf[64];

	return strcmp(elf_describe(&a, buf, sizeof(buf)), want) == 0;
}

static void
classify(void)
{
	struct elf_abi x86_64 = abi_of(64, 0, EM_X86_64, 0);
	struct elf_abi i386 = abi_of(32, 0, EM_386, 0);
	struct elf_abi x32 = abi_of(32, 0, EM_X86_64, 0);
	struct elf_abi arm64 = abi_of(64, 0, EM_AARCH64, 0);
	struct elf_abi armhf = abi_of(32, 0, EM_ARM, 0x05000400);
	struct elf_abi armel = abi_of(32, 0, EM_ARM, 0x05000200);
	struct elf_abi armeb = abi_of(32, 1, EM_ARM, 0x05000000);
	struct elf_abi mipsel = abi_of(32, 0, EM_MIPS, 0x70001007);
	struct elf_abi mips = abi_of(32, 1, EM_MIPS, 0x70001007);
	struct elf_abi n32 = abi_of(32, 1, EM_MIPS, 0xa0000020);
	struct elf_abi mips64 = abi_of(64, 1, EM_MIPS, 0xa0000007);
	struct elf_abi a;
	size_t n;

	CHECK("elf x86-64 classified", x86_64.class == ELFCLASS64 &&
	    x86_64.data == ELFDATA2LSB && x86_64.machine == EM_X86_64 &&
	    x86_64.n32 == 0);
	CHECK("elf i386 classified", i386.class == ELFCLASS32 &&
	    i386.machine == EM_386);
	CHECK("elf mips big-endian classified", mips.data == ELFDATA2MSB &&
	    mips.machine == EM_MIPS && mips.n32 == 0);
	CHECK("elf mips n32 told from o32 by EF_MIPS_ABI2", n32.n32 == 1);
	CHECK("elf mips64 is not n32", mips64.class == ELFCLASS64 &&
	    mips64.n32 == 0);

	/* Under an x86-64 itkd. */
	CHECK("elf x86-64 under x86-64: same", elf_compare(&x86_64, &x86_64) == ELF_SAME);
	CHECK("elf i386 under x86-64: compat (killed)", elf_compare(&i386, &x86_64) == ELF_COMPAT);
	CHECK("elf x32 under x86-64: compat (killed)", elf_compare(&x32, &x86_64) == ELF_COMPAT);
	CHECK("elf x86-64 under i386: compat (killed)", elf_compare(&x86_64, &i386) == ELF_COMPAT);
	CHECK("elf armhf under x86-64: foreign", elf_compare(&armhf, &x86_64) == ELF_FOREIGN);
	/* The OpenWrt targets. */
	CHECK("elf armhf under aarch64: compat (killed)", elf_compare(&armhf, &arm64) == ELF_COMPAT);
	CHECK("elf aarch64 under armhf: compat (killed)", elf_compare(&arm64, &armhf) == ELF_COMPAT);
	CHECK("elf armel under armhf: same system call ABI", elf_compare(&armel, &armhf) == ELF_SAME);
	CHECK("elf big-endian arm under armhf: foreign", elf_compare(&armeb, &armhf) == ELF_FOREIGN);
	CHECK("elf mipsel under mips: foreign (byte order)", elf_compare(&mipsel, &mips) == ELF_FOREIGN);
	CHECK("elf mips under mips: same", elf_compare(&mips, &mips) == ELF_SAME);
	CHECK("elf n32 under mips o32: compat (killed)", elf_compare(&n32, &mips) == ELF_COMPAT);
	CHECK("elf mips64 under mips o32: compat (killed)", elf_compare(&mips64, &mips) == ELF_COMPAT);

	CHECK("elf describe x86-64", described(x86_64, "64-bit x86-64"));
	CHECK("elf describe i386", described(i386, "32-bit x86 (i386)"));
	CHECK("elf describe x32", described(x32, "x32 (32-bit x86-64)"));
	CHECK("elf describe aarch64", described(arm64, "64-bit ARM (aarch64)"));
	CHECK("elf describe armhf", described(armhf, "32-bit ARM"));
	CHECK("elf describe armeb", described(armeb, "32-bit ARM big-endian"));
	CHECK("elf describe mipsel", described(mipsel, "32-bit MIPS little-endian (mipsel)"));
	CHECK("elf describe mips", described(mips, "32-bit MIPS big-endian (mips)"));
	CHECK("elf describe n32", described(n32, "MIPS n32 big-endian"));
	CHECK("elf describe mips64", described(mips64, "64-bit MIPS big-endian (mips64)"));
	CHECK("elf describe an unknown machine",
	    described(abi_of(64, 0, 0x4242, 0), "64-bit little-endian (e_machine 16962)"));

	/* What is no executable. */
	n = craft(64, 0, EM_X86_64, 0, ET_DYN);
	CHECK("elf ET_DYN (PIE) accepted", elf_classify(head, n, &a) == 0);
	n = craft(64, 0, EM_X86_64, 0, ET_REL);
	CHECK("elf ET_REL refused", elf_classify(head, n, &a) < 0);
	n = craft(64, 0, EM_X86_64, 0, ET_CORE);
	CHECK("elf core file refused", elf_classify(head, n, &a) < 0);
	n = craft(64, 0, EM_X86_64, 0, ET_EXEC);
	CHECK("elf 64-bit header cut short refused", elf_classify(head, n - 1, &a) < 0);
	n = craft(32, 0, EM_386, 0, ET_EXEC);
	CHECK("elf 32-bit header of 52 bytes accepted", elf_classify(head, 52, &a) == 0);
	CHECK("elf 32-bit header cut short refused", elf_classify(head, 51, &a) < 0);
	head[EI_CLASS] = 3;
	CHECK("elf bad class refused", elf_classify(head, n, &a) < 0);
	craft(32, 0, EM_386, 0, ET_EXEC);
	head[EI_DATA] = 0;
	CHECK("elf bad byte order refused", elf_classify(head, n, &a) < 0);
	craft(32, 0, EM_386, 0, ET_EXEC);
	head[1] = 'e';
	CHECK("elf bad magic refused", elf_classify(head, n, &a) < 0);
	CHECK("elf empty refused", elf_classify(head, 0, &a) < 0);
}

static int
shebang_is(const char *script, const char *want)
{
	char interp[64];

	if (elf_shebang((const unsigned char *)script, strlen(script), interp,
	    sizeof(interp)) < 0)
		return want == NULL;
	return want != NULL && strcmp(interp, want) == 0;
}

static void
shebang(void)
{
	char small[8];

	CHECK("shebang #!/bin/sh", shebang_is("#!/bin/sh\necho\n", "/bin/sh"));
	CHECK("shebang blanks and an argument",
	    shebang_is("#! \t/usr/bin/env python3\n", "/usr/bin/env"));
	CHECK("shebang CR LF line: the CR is part of the name (as the kernel has it)",
	    shebang_is("#!/bin/sh\r\n", "/bin/sh\r"));
	CHECK("shebang relative name refused", shebang_is("#!python\n", NULL));
	CHECK("shebang empty name refused", shebang_is("#!  \n", NULL));
	CHECK("shebang cut by the end of the bytes read refused",
	    shebang_is("#!/usr/bin/perl", NULL));
	CHECK("shebang no #! refused", shebang_is("echo hi\n", NULL));
	CHECK("shebang name longer than the buffer refused",
	    elf_shebang((const unsigned char *)"#!/usr/bin/perl\n", 16,
	    small, sizeof(small)) < 0);
}

/* itkd's ABI from the compiler is what the kernel loaded this binary as. */
static void
self(void)
{
	struct elf_abi mine, exe;
	long n;
	int fd;

	elf_self(&mine);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : elf_read_head(fd, head, sizeof(head));
	CHECK("elf read_head reads the header of /proc/self/exe", n >= 64);
	CHECK("elf read_head leaves the offset alone",
	    fd >= 0 && lseek(fd, 0, SEEK_CUR) == 0);
	CHECK("elf /proc/self/exe classified", n > 0 &&
	    elf_classify(head, (size_t)n, &exe) == 0);
	CHECK("elf elf_self is this binary's own ABI", n > 0 &&
	    elf_compare(&exe, &mine) == ELF_SAME && exe.machine == mine.machine);
	if (fd >= 0)
		close(fd);
}

int
main(void)
{
	classify();
	shebang();
	self();
	return UNIT_END();
}
