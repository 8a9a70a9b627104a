/* resolve.h: openat2(2), paths the kernel resolves under our rules (Linux
 * 5.6). A string check of a path races with whoever owns a directory on
 * the way; the kernel's walk does not. Inline, so that path.c, vhost.c
 * and log.c each still link without the others (their unit tests do). */
#ifndef ITKD_RESOLVE_H
#define ITKD_RESOLVE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* The kernel's values (linux/openat2.h), which not every libc ships. */
#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS   0x02    /* no /proc/PID/fd/N-style jumps */
#define RESOLVE_NO_SYMLINKS     0x04    /* no symlink in any component */
#define RESOLVE_BENEATH         0x08    /* never above the starting dirfd */
#endif

/* A vhost's root, a log file: no symlink anywhere on the way. */
#define RESOLVE_STRICT  (RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
/* A file below a root: symlinks only while they stay beneath it. */
#define RESOLVE_TREE    (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

struct resolve_how {            /* struct open_how, version 0 */
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};

/* openat2(dirfd, path, flags, mode, resolve): an fd, or -1 with errno
 * (ELOOP: a symlink refused; EXDEV: a step out of dirfd refused; ENOSYS:
 * a kernel before 5.6). EAGAIN means a rename raced a ".." walk under
 * RESOLVE_BENEATH: the kernel asks to try again, which we do a few times. */
static inline int
resolve_open(int dirfd, const char *path, int flags, mode_t mode,
    uint64_t resolve)
{
#ifdef SYS_openat2
	struct resolve_how how;
	long fd;
	int tries = 0;

	/* libc's open() adds O_LARGEFILE on a 32-bit system; a raw openat2
	 * must, or a file past 2 GiB fails (EOVERFLOW). O_PATH takes none. */
	if ((flags & O_PATH) == 0)
		flags |= O_LARGEFILE;
	how.flags = (uint64_t)(unsigned)flags;
	/* openat2 refuses a mode without a file to create (O_TMPFILE holds
	 * O_DIRECTORY's bit: only all of it means O_TMPFILE). */
	how.mode = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ?
	    (uint64_t)mode : 0;
	how.resolve = resolve;
	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 8)));
	return (int)fd;
#else
	(void)dirfd; (void)path; (void)flags; (void)mode; (void)resolve;
	errno = ENOSYS;
	return -1;
#endif
}

#endif
