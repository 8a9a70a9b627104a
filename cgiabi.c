/* cgiabi.c: the CGI programs a config names, checked against itkd's own
 * system call ABI. The master's seccomp filter, which every CGI program
 * inherits, kills any system call made through another ABI: a 32-bit
 * program under a 64-bit itkd (or the reverse) dies of SIGSYS at its
 * first call, and its client gets 502. Nothing in the config says so;
 * this says it at `itkd -t` and at the start, with the directive's line.
 *
 * Runs in the master before anything is served (or in `itkd -t`), as
 * root or as whoever checks the config. What it reads is a vhost owner's,
 * so every file is reached as stage 2 reaches it (beneath the root fd,
 * openat2) and opened for reading only once fstat of an O_PATH fd has
 * shown a regular executable file: a FIFO or a device planted in the tree
 * is never opened. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgiabi.h"
#include "elfabi.h"
#include "path.h"
#include "vhost.h"

/* A #! interpreter may be a script itself: the kernel follows four. */
#define SHEBANG_DEPTH 4

struct scan {
	const struct config *cfg;
	const struct vhost *vh;
	FILE *out;
	struct elf_abi self;
	int rootfd;
	int entries;            /* directory entries looked at */
	int warned;             /* warnings about this vhost's programs */
	int more;               /* programs past CGIABI_WARNINGS */
	char rel[PATH_MAX];     /* what is looked at, below root: "/a/b" */
};

/* The file the O_PATH fd pfd names, opened for reading through its
 * /proc/self/fd link if it is a regular file someone may execute; -1
 * otherwise. pfd is closed. */
static int
reopen_executable(int pfd)
{
	char link[32];
	struct stat st;
	int fd = -1;

	if (pfd < 0)
		return -1;
	if (fstat(pfd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0111) != 0) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", pfd);
		fd = open(link, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	}
	close(pfd);
	return fd;
}

/* The ABI the program open on fd runs under: its own ELF header, or that
 * of the end of its chain of #! interpreters (named in via; "" for the
 * program itself). 1 with *abi set, or 0: not an executable ELF, or
 * unreadable. fd is closed. */
static int
program_abi(int fd, struct elf_abi *abi, char *via, size_t vialen)
{
	unsigned char head[ELF_HEAD_MAX];
	long n;
	int depth;

	via[0] = '\0';
	for (depth = 0; fd >= 0; depth++) {
		n = elf_read_head(fd, head, sizeof(head));
		close(fd);
		if (n <= 0)
			return 0;
		if (elf_classify(head, (size_t)n, abi) == 0)
			return 1;
		if (depth == SHEBANG_DEPTH ||
		    elf_shebang(head, (size_t)n, via, vialen) < 0)
			return 0;
		fd = reopen_executable(open(via, O_PATH | O_CLOEXEC));
	}
	return 0;
}

/* src for a log line: a file name in a vhost's tree, or a #! line, is its
 * owner's choice, and a newline or an escape sequence in it must not
 * forge a line or reach a terminal. Returns dst. */
static const char *
printable(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' :
		    src[i];
	dst[i] = '\0';
	return dst;
}

static void
report(const struct scan *s, int line, const char *what_raw,
    const char *via_raw, const struct elf_abi *abi)
{
	char prog[64], own[64], what[PATH_MAX + 32], via[PATH_MAX];
	const char *why;

	if (elf_compare(abi, &s->self) == ELF_COMPAT)
		why = "the seccomp filter allows only itkd's own system call "
		    "ABI, so the kernel kills it at its first system call "
		    "(SIGSYS) and the client gets 502 (a kernel built without "
		    "that ABI refuses its exec: 500)";
	else
		why = "this kernel cannot run it unless binfmt_misc hands it "
		    "to an emulator: its exec fails (ENOEXEC) and the client "
		    "gets 500";
	elf_describe(abi, prog, sizeof(prog));
	elf_describe(&s->self, own, sizeof(own));
	printable(what, sizeof(what), what_raw);
	printable(via, sizeof(via), via_raw);
	if (via[0] != '\0')
		fprintf(s->out, "itkd: %s:%d: warning: %s runs %s (#!), a %s "
		    "ELF, and itkd is %s: %s\n", s->cfg->path, line, what, via,
		    prog, own, why);
	else
		fprintf(s->out, "itkd: %s:%d: warning: %s is a %s ELF, and "
		    "itkd is %s: %s\n", s->cfg->path, line, what, prog, own, why);
}

/* 1 if stage 2 would execute the file at rel itself, with *line the
 * directive's that makes it so (as path.c and cgi.c decide: below a
 * cgi-dir, or the first `cgi` suffix it has, when that has no
 * interpreter). */
static int
executed_itself(const struct vhost *vh, const char *rel, int *line)
{
	size_t n = strlen(rel), k;
	int i;

	for (i = 0; i < vh->ncgi_dir; i++)
		if (strncmp(rel, vh->cgi_dir[i], strlen(vh->cgi_dir[i])) == 0) {
			*line = vh->cgi_dir_line[i];
			return 1;
		}
	for (i = 0; i < vh->ncgi; i++) {
		k = strlen(vh->cgi[i].suffix);
		if (n > k && strcmp(rel + n - k, vh->cgi[i].suffix) == 0) {
			*line = vh->cgi[i].line;
			return vh->cgi[i].interp == NULL;
		}
	}
	return 0;
}

static void
check_program(struct scan *s)
{
	char what[PATH_MAX + 16], via[PATH_MAX];
	struct elf_abi abi;
	int line, fd;

	if (!executed_itself(s->vh, s->rel, &line))
		return;
	fd = reopen_executable(path_open(s->rootfd, s->rel, O_PATH));
	if (program_abi(fd, &abi, via, sizeof(via)) == 0 ||
	    elf_compare(&abi, &s->self) == ELF_SAME)
		return;
	if (s->warned == CGIABI_WARNINGS) {
		s->more++;
		return;
	}
	s->warned++;
	snprintf(what, sizeof(what), "cgi program %s%s",
	    strcmp(s->vh->root, "/") == 0 ? "" : s->vh->root, s->rel);
	report(s, line, what, via, &abi);
}

/* Every entry of the directory at s->rel (len bytes), and of its
 * subdirectories down to CGIABI_DEPTH; symlinks to directories are not
 * followed (a loop, or the same tree twice). */
static void
walk(struct scan *s, size_t len, int depth)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	size_t n;
	int fd, type;

	if ((fd = path_open(s->rootfd, s->rel, O_RDONLY | O_DIRECTORY)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while (s->entries < CGIABI_ENTRIES && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		s->entries++;
		n = strlen(e->d_name);
		if (len + 1 + n >= sizeof(s->rel))
			continue;
		type = e->d_type;
		if (type == DT_UNKNOWN)
			type = fstatat(dirfd(d), e->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) ?
			    DT_DIR : DT_REG;
		s->rel[len] = '/';
		memcpy(s->rel + len + 1, e->d_name, n + 1);
		if (type == DT_DIR) {
			if (depth < CGIABI_DEPTH)
				walk(s, len + 1 + n, depth + 1);
		} else if (type == DT_REG || type == DT_LNK)
			check_program(s);
		s->rel[len] = '\0';
	}
	closedir(d);
}

/* The programs of vh that stage 2 executes itself: below its root when
 * a `cgi` suffix has no interpreter, else below each cgi-dir. */
static void
scan_tree(struct scan *s)
{
	const struct vhost *vh = s->vh;
	size_t len;
	int i, whole = 0;

	for (i = 0; i < vh->ncgi; i++)
		if (vh->cgi[i].interp == NULL)
			whole = 1;
	if (!whole && vh->ncgi_dir == 0)
		return;
	if ((s->rootfd = path_open_root(vh->root, NULL)) < 0)
		return;
	for (i = 0; i < (whole ? 1 : vh->ncgi_dir); i++) {
		/* The root is walked as "", "/cgi-bin/" as "/cgi-bin". */
		len = whole ? 0 : strlen(vh->cgi_dir[i]) - 1;
		if (len >= sizeof(s->rel))
			continue;
		if (len > 0)
			memcpy(s->rel, vh->cgi_dir[i], len);
		s->rel[len] = '\0';
		walk(s, len, 0);
	}
	close(s->rootfd);
	if (s->more > 0)
		fprintf(s->out, "itkd: %s:%d: warning: and %d more cgi programs "
		    "below %s of another system call ABI than itkd's\n",
		    s->cfg->path, vh->line, s->more, vh->root);
}

int
cgiabi_warn(const struct config *cfg, FILE *out)
{
	struct scan s;
	char via[PATH_MAX];
	struct elf_abi abi;
	int i, j, count = 0;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.out = out;
	elf_self(&s.self);
	for (i = 0; i < cfg->nvhosts; i++) {
		s.vh = &cfg->vhosts[i];
		for (j = 0; j < s.vh->ncgi; j++) {
			const struct cgi_rule *r = &s.vh->cgi[j];
			char what[PATH_MAX + 32];
			int fd;

			if (r->interp == NULL)
				continue;
			fd = reopen_executable(open(r->interp, O_PATH | O_CLOEXEC));
			if (program_abi(fd, &abi, via, sizeof(via)) == 0 ||
			    elf_compare(&abi, &s.self) == ELF_SAME)
				continue;
			snprintf(what, sizeof(what), "cgi interpreter %s", r->interp);
			report(&s, r->line, what, via, &abi);
			count++;
		}
		s.entries = s.warned = s.more = 0;
		scan_tree(&s);
		count += s.warned + (s.more > 0);
	}
	return count;
}
