/* elfabi.h: which system call ABI a program is built for, from the first
 * bytes of its file (the ELF header, or the #! line of a script). The
 * seccomp filter kills every system call made through another ABI than
 * itkd's own, so `itkd -t` uses this to warn about CGI programs and
 * interpreters that could only die of SIGSYS. */
#ifndef ITKD_ELFABI_H
#define ITKD_ELFABI_H

#include <stddef.h>

/* The first bytes elf_read_head reads: the kernel's BINPRM_BUF_SIZE, the
 * most of a #! line it looks at; an ELF header is the first 64 of them. */
#define ELF_HEAD_MAX 256

/* What tells one system call ABI from another: AUDIT_ARCH in the filter
 * is the machine, the class and the byte order; MIPS n32 is a class-32
 * ABI of its own, told apart by a bit of e_flags. */
struct elf_abi {
	unsigned class;         /* 1: 32-bit, 2: 64-bit (EI_CLASS) */
	unsigned data;          /* 1: little-endian, 2: big-endian (EI_DATA) */
	unsigned machine;       /* e_machine (EM_X86_64, EM_ARM, ...) */
	unsigned n32;           /* MIPS n32 (EF_MIPS_ABI2) */
};

/* How a program's ABI relates to itkd's. */
#define ELF_SAME    0   /* itkd's own: the filter lets it run */
#define ELF_COMPAT  1   /* the same machine's other ABI (i386 and x32 on
			 * x86-64, 32-bit ARM on arm64, MIPS o32/n32/n64,
			 * and back): a kernel with that compat layer runs
			 * it, and the filter kills its first system call */
#define ELF_FOREIGN 2   /* another machine or byte order: the kernel
			 * cannot run it without an emulator (binfmt_misc) */

/* Classify an executable's header from head[0..len). 0 with *abi set for
 * an ELF executable or shared object (ET_EXEC, ET_DYN); -1 for anything
 * else (too short, not ELF, a bad class or byte order, a core file). */
int elf_classify(const unsigned char *head, size_t len, struct elf_abi *abi);

/* The #! interpreter of a script whose first bytes are head[0..len), as
 * the kernel finds it: after "#!" and blanks, up to a blank or the end of
 * the line. 0 with it in interp (NUL-terminated); -1 if head is no #!
 * line, the name is not absolute, or it does not fit in cap. */
int elf_shebang(const unsigned char *head, size_t len, char *interp,
    size_t cap);

/* itkd's own ABI, as this build was compiled. */
void elf_self(struct elf_abi *abi);

/* ELF_SAME, ELF_COMPAT or ELF_FOREIGN for a program of ABI prog under an
 * itkd of ABI self. */
int elf_compare(const struct elf_abi *prog, const struct elf_abi *self);

/* abi in words, "32-bit ARM" or "64-bit x86-64", in buf; returns buf. */
const char *elf_describe(const struct elf_abi *abi, char *buf, size_t len);

/* Up to ELF_HEAD_MAX first bytes of the regular file fd (pread: the
 * offset is not moved). The count read, or -1 with errno. */
long elf_read_head(int fd, unsigned char *head, size_t cap);

#endif
