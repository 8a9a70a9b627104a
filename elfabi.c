/* elfabi.c: which system call ABI a program is built for, from the first
 * bytes of its file. Only the header is read (pread, fixed buffers); the
 * rest of the file, its program headers and its ELF interpreter do not
 * change the ABI the kernel runs it under. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "elfabi.h"

/* itkd's own ABI, from the compiler: the same targets as priv.c's
 * NATIVE_AUDIT_ARCH (x32 is refused there). */
#if defined(__x86_64__)
#define SELF_MACHINE EM_X86_64
#elif defined(__i386__)
#define SELF_MACHINE EM_386
#elif defined(__aarch64__)
#define SELF_MACHINE EM_AARCH64
#elif defined(__arm__)
#define SELF_MACHINE EM_ARM
#elif defined(__mips__)
#define SELF_MACHINE EM_MIPS
#else
#error "elfabi.c: no e_machine for this target; add it beside priv.c's AUDIT_ARCH"
#endif

#if defined(__mips__) && defined(_ABIN32) && _MIPS_SIM == _ABIN32
#define SELF_N32 1
#else
#define SELF_N32 0
#endif

#if defined(__LP64__)
#define SELF_CLASS ELFCLASS64
#else
#define SELF_CLASS ELFCLASS32
#endif

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SELF_DATA ELFDATA2MSB
#else
#define SELF_DATA ELFDATA2LSB
#endif

static unsigned
get16(const unsigned char *p, unsigned data)
{
	return data == ELFDATA2MSB ? (unsigned)p[0] << 8 | p[1] :
	    (unsigned)p[1] << 8 | p[0];
}

static unsigned long
get32(const unsigned char *p, unsigned data)
{
	if (data == ELFDATA2MSB)
		return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
		    (unsigned long)p[2] << 8 | p[3];
	return (unsigned long)p[3] << 24 | (unsigned long)p[2] << 16 |
	    (unsigned long)p[1] << 8 | p[0];
}

int
elf_classify(const unsigned char *head, size_t len, struct elf_abi *abi)
{
	size_t need, flags_at;
	unsigned type;

	/* e_type, e_machine and e_version sit at the same offsets in both
	 * classes; e_flags follows e_entry, e_phoff and e_shoff, which are
	 * 4 or 8 bytes wide. */
	if (len < EI_NIDENT || memcmp(head, ELFMAG, SELFMAG) != 0)
		return -1;
	if (head[EI_CLASS] == ELFCLASS32) {
		need = sizeof(Elf32_Ehdr);
		flags_at = offsetof(Elf32_Ehdr, e_flags);
	} else if (head[EI_CLASS] == ELFCLASS64) {
		need = sizeof(Elf64_Ehdr);
		flags_at = offsetof(Elf64_Ehdr, e_flags);
	} else
		return -1;
	if (len < need || head[EI_VERSION] != EV_CURRENT ||
	    (head[EI_DATA] != ELFDATA2LSB && head[EI_DATA] != ELFDATA2MSB))
		return -1;
	abi->class = head[EI_CLASS];
	abi->data = head[EI_DATA];
	type = get16(head + offsetof(Elf32_Ehdr, e_type), abi->data);
	if (type != ET_EXEC && type != ET_DYN)
		return -1;
	abi->machine = get16(head + offsetof(Elf32_Ehdr, e_machine), abi->data);
	abi->n32 = abi->machine == EM_MIPS && abi->class == ELFCLASS32 &&
	    (get32(head + flags_at, abi->data) & EF_MIPS_ABI2) != 0;
	return 0;
}

int
elf_shebang(const unsigned char *head, size_t len, char *interp, size_t cap)
{
	size_t i = 2, start;

	if (len < 2 || head[0] != '#' || head[1] != '!')
		return -1;
	while (i < len && (head[i] == ' ' || head[i] == '\t'))
		i++;
	start = i;
	while (i < len && head[i] != ' ' && head[i] != '\t' &&
	    head[i] != '\n' && head[i] != '\0')
		i++;
	/* A name cut off by the end of what was read is not the name. */
	if (i == len || i == start || head[start] != '/' || i - start >= cap)
		return -1;
	memcpy(interp, head + start, i - start);
	interp[i - start] = '\0';
	return 0;
}

void
elf_self(struct elf_abi *abi)
{
	abi->class = SELF_CLASS;
	abi->data = SELF_DATA;
	abi->machine = SELF_MACHINE;
	abi->n32 = SELF_N32;
}

/* Machines whose kernel runs both ABIs of the pair natively. */
static unsigned
family(unsigned machine)
{
	switch (machine) {
	case EM_386:
		return EM_X86_64;
	case EM_ARM:
		return EM_AARCH64;
	default:
		return machine;
	}
}

int
elf_compare(const struct elf_abi *prog, const struct elf_abi *self)
{
	if (prog->machine == self->machine && prog->class == self->class &&
	    prog->data == self->data && prog->n32 == self->n32)
		return ELF_SAME;
	if (family(prog->machine) == family(self->machine) &&
	    prog->data == self->data)
		return ELF_COMPAT;
	return ELF_FOREIGN;
}

const char *
elf_describe(const struct elf_abi *abi, char *buf, size_t len)
{
	const char *be = abi->data == ELFDATA2MSB ? " big-endian" : "";
	const char *le_be = abi->data == ELFDATA2MSB ? "big-endian" :
	    "little-endian";
	unsigned bits = abi->class == ELFCLASS64 ? 64 : 32;

	switch (abi->machine) {
	case EM_X86_64:
		snprintf(buf, len, "%s", bits == 64 ? "64-bit x86-64" :
		    "x32 (32-bit x86-64)");
		break;
	case EM_386:
		snprintf(buf, len, "32-bit x86 (i386)");
		break;
	case EM_AARCH64:
		snprintf(buf, len, "64-bit ARM%s (aarch64)", be);
		break;
	case EM_ARM:
		snprintf(buf, len, "32-bit ARM%s", be);
		break;
	case EM_MIPS:
		if (abi->n32)
			snprintf(buf, len, "MIPS n32 %s", le_be);
		else
			snprintf(buf, len, "%u-bit MIPS %s (%s%s)", bits, le_be,
			    bits == 64 ? "mips64" : "mips",
			    abi->data == ELFDATA2MSB ? "" : "el");
		break;
	case EM_PPC:
	case EM_PPC64:
		snprintf(buf, len, "%u-bit PowerPC %s", bits, le_be);
		break;
	case EM_RISCV:
		snprintf(buf, len, "%u-bit RISC-V", bits);
		break;
	default:
		snprintf(buf, len, "%u-bit %s (e_machine %u)", bits, le_be,
		    abi->machine);
		break;
	}
	return buf;
}

long
elf_read_head(int fd, unsigned char *head, size_t cap)
{
	ssize_t n;

	if (cap > ELF_HEAD_MAX)
		cap = ELF_HEAD_MAX;
	do
		n = pread(fd, head, cap, 0);
	while (n < 0 && errno == EINTR);
	return (long)n;
}
