/* path.c: from a request path to a file below a document root.
 *
 * The path is percent-decoded exactly once and only then are its dot
 * segments resolved, so "%2e%2e" is "..", and "%252e" stays the three bytes
 * "%2e". Bytes >= 0x80 are opaque: file names are bytes, and an overlong
 * UTF-8 form such as %c0%ae is two bytes, never a dot.
 *
 * Files are found by the kernel, not by strings: every name is opened
 * with openat2 beneath the root's directory fd (RESOLVE_BENEATH), which
 * was itself opened with no symlink anywhere on its way. A symlink inside
 * the tree may point elsewhere inside it; one that leaves the tree (an
 * absolute target, or enough "..") is refused by the kernel at the moment
 * of the open, whatever the owner of a directory swaps in meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "http.h"
#include "path.h"
#include "resolve.h"
#include "vhost.h"

/* A byte no file name below a web root should hold: control bytes and the
 * backslash, which some file systems and CGI programs treat as a separator. */
static int
bad_byte(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f || ch == '\\';
}

/* Percent-decode raw into out (cap bytes incl. NUL): 0 or 400. out may be
 * raw: each byte is written at or before the last byte read. */
static int
decode(char *out, size_t cap, const char *raw)
{
	size_t n = 0;
	int hi, lo;
	unsigned char ch;

	for (; *raw != '\0'; raw++) {
		ch = (unsigned char)*raw;
		if (ch == '%') {
			if ((hi = http_hex_value((unsigned char)raw[1])) < 0 ||
			    (lo = http_hex_value((unsigned char)raw[2])) < 0)
				return 400;
			ch = (unsigned char)(hi << 4 | lo);
			raw += 2;
		}
		if (bad_byte(ch) || n + 1 >= cap)
			return 400;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return 0;
}

/* Resolve ".", ".." and repeated slashes of the decoded path in buf, in
 * place: the output never grows past the input. 0 or 400. */
static int
remove_dots(char *buf)
{
	size_t i = 0, w = 1, seg, len;

	while (buf[i] != '\0') {
		while (buf[i] == '/')
			i++;
		if (buf[i] == '\0')
			break;
		seg = i;
		while (buf[i] != '\0' && buf[i] != '/')
			i++;
		len = i - seg;
		if (len == 1 && buf[seg] == '.')
			continue;
		if (len == 2 && buf[seg] == '.' && buf[seg + 1] == '.') {
			if (w == 1)
				return 400;     /* above the root */
			w--;                    /* the '/' after the last name */
			while (buf[w - 1] != '/')
				w--;
			continue;
		}
		memmove(buf + w, buf + seg, len);
		w += len;
		if (buf[i] == '\0')
			break;          /* a name at the end: no trailing '/' */
		buf[w++] = '/';         /* w <= i: never past what is still unread */
	}
	buf[w] = '\0';
	return 0;
}

int
path_normalise(char *out, size_t cap, const char *raw)
{
	if (cap < 2 || raw == NULL || raw[0] != '/')
		return 400;
	if (decode(out, cap, raw) != 0)
		return 400;
	return remove_dots(out);
}

/* Copy the first n bytes of src into dst[cap]: 0, or -1 if too long. */
static int
copy_n(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int
path_errno_status(int e)
{
	/* ELOOP, EXDEV: a symlink the kernel refused to follow, on a strict
	 * path or out of the tree: forbidden, not missing. */
	if (e == EACCES || e == EPERM || e == ELOOP || e == EXDEV)
		return 403;
	return 404;
}

int
path_open(int rootfd, const char *path, int flags)
{
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	/* openat2 refuses every flag but these few beside O_PATH. */
	if ((flags & O_PATH) == 0)
		flags |= O_NOCTTY;
	return resolve_open(rootfd, path, flags | O_CLOEXEC, 0, RESOLVE_TREE);
}

int
path_open_root(const char *root, struct stat *st)
{
	int fd, e;

	fd = resolve_open(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
	    RESOLVE_STRICT);
	if (fd < 0)
		return -1;
	if (st != NULL && fstat(fd, st) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
path_open_userdir(const char *home, const char *userdir)
{
	int home_fd, fd, e;

	/* The home directory is the administrator's word (passwd), and
	 * its parent is not the user's: symlinks on its way are his. */
	home_fd = resolve_open(AT_FDCWD, home, O_PATH | O_DIRECTORY | O_CLOEXEC,
	    0, RESOLVE_NO_MAGICLINKS);
	if (home_fd < 0)
		return -1;
	/* Below it everything is the user's: no symlink at all. */
	fd = resolve_open(home_fd, userdir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
	    RESOLVE_BENEATH | RESOLVE_STRICT);
	e = errno;
	close(home_fd);
	errno = e;
	return fd;
}

/* The leading "MAJOR.MINOR" of a kernel release, or -1. By hand, not
 * sscanf: that one call linked musl's whole scanf and float parser into
 * the static binary (about 12 KiB). */
static int
release_version(const char *release, long *major, long *minor)
{
	char *end;

	*major = strtol(release, &end, 10);
	if (end == release || *end != '.')
		return -1;
	release = end + 1;
	*minor = strtol(release, &end, 10);
	return end == release ? -1 : 0;
}

void
path_openat2_error(char *err, size_t errlen, int e, const char *release)
{
	long major = 0, minor = 0;

	if (e == ENOSYS && (release_version(release, &major, &minor) < 0 ||
	    major < 5 || (major == 5 && minor < 6)))
		snprintf(err, errlen, "openat2(2) is missing: itkd needs Linux "
		    "5.6 or later to resolve paths without symlinks (this "
		    "kernel: %s)", release);
	else if (e == ENOSYS)
		snprintf(err, errlen, "openat2(2) is missing although this "
		    "kernel (%s) has it: a seccomp policy or an emulator "
		    "refuses it; itkd needs it (Linux 5.6 or later)", release);
	else
		snprintf(err, errlen, "openat2(2) does not work here (%s): itkd "
		    "needs it, Linux 5.6 or later, not refused by a seccomp "
		    "policy (this kernel: %s)", strerror(e), release);
}

int
path_check_kernel(char *err, size_t errlen)
{
	struct utsname u;
	int fd, e;

	fd = resolve_open(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
	    RESOLVE_STRICT);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	e = errno;
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	path_openat2_error(err, errlen, e, u.release);
	return -1;
}

/* What path (below rootfd) names, by fstat of the kernel's own walk:
 * 0, or an errno. */
static int
stat_beneath(int rootfd, const char *path, struct stat *st)
{
	int fd, e = 0;

	if ((fd = path_open(rootfd, path, O_PATH)) < 0)
		return errno;
	if (fstat(fd, st) != 0)
		e = errno;
	close(fd);
	return e;
}

/* The vhost's `cgi` rule for name, by suffix; NULL if none. */
static const struct cgi_rule *
cgi_match(const struct vhost *vh, const char *name)
{
	size_t n = strlen(name), s;
	int i;

	for (i = 0; vh != NULL && i < vh->ncgi; i++) {
		s = strlen(vh->cgi[i].suffix);
		if (s > 0 && n > s && strcmp(name + n - s, vh->cgi[i].suffix) == 0)
			return &vh->cgi[i];
	}
	return NULL;
}

/* 1 if the URL path lies below one of the vhost's `cgi-dir`s. */
static int
in_cgi_dir(const struct vhost *vh, const char *path)
{
	size_t n;
	int i;

	for (i = 0; vh != NULL && i < vh->ncgi_dir; i++) {
		n = strlen(vh->cgi_dir[i]);
		while (n > 0 && vh->cgi_dir[i][n - 1] == '/')
			n--;
		if (strncmp(path, vh->cgi_dir[i], n) == 0 && path[n] == '/')
			return 1;
	}
	return 0;
}

/* Mark a regular file found at script_name as a script if a rule says so;
 * a script has a PATH_INFO, "" until script_with_info sets one. */
static void
classify(struct path_res *res, const struct vhost *vh)
{
	res->cgi = cgi_match(vh, res->script_name);
	res->in_cgi_dir = in_cgi_dir(vh, res->script_name);
	if (res->cgi != NULL || res->in_cgi_dir)
		res->path_info[0] = '\0';
}

/* res names a directory (fs and script_name end in '/'): find its index. */
static int
find_index(struct path_res *res, const struct vhost *vh, int rootfd)
{
	static const char *const dflt[] = { "index.html" };
	const char *const *names = dflt;
	size_t fl = strlen(res->fs);
	int i, n = 1, e;
	struct stat st;

	if (vh != NULL && vh->nindex > 0) {
		names = (const char *const *)vh->index;
		n = vh->nindex;
	}
	for (i = 0; i < n; i++) {
		if (snprintf(res->fs + fl, sizeof(res->fs) - fl, "%s",
		    names[i]) >= (int)(sizeof(res->fs) - fl))
			continue;
		if ((e = stat_beneath(rootfd, res->script_name, &st)) != 0) {
			if (e == ENOENT || e == ENOTDIR)
				continue;
			return path_errno_status(e);
		}
		if (!S_ISREG(st.st_mode))
			continue;
		res->st = st;           /* script_name has the name too */
		classify(res, vh);
		return 0;
	}
	res->fs[fl] = '\0';
	/* A script directory is not listed: that would show its sources. */
	if (in_cgi_dir(vh, res->script_name))
		return 403;
	res->is_dir = 1;
	return 0;
}

/* A regular file at script_name followed by the rest of the path. */
static int
script_with_info(struct path_res *res, const struct vhost *vh, const char *rest)
{
	classify(res, vh);
	if (res->cgi == NULL && !res->in_cgi_dir)
		return 404;
	if (copy_n(res->path_info, sizeof(res->path_info), rest, strlen(rest)) != 0)
		return 404;
	return 0;
}

/* 1 if path has a "." or ".." segment: not normalised, never followed. */
static int
has_dot_segment(const char *path)
{
	const char *seg;

	for (seg = path; *seg != '\0'; seg++) {
		if (seg[0] != '/' || seg[1] != '.')
			continue;
		if (seg[2] == '/' || seg[2] == '\0' ||
		    (seg[2] == '.' && (seg[3] == '/' || seg[3] == '\0')))
			return 1;
	}
	return 0;
}

/* The whole path named no object because one of its names is a file
 * (ENOTDIR): find that file name by name, as a script with PATH_INFO.
 * res->fs holds root + path; each name is looked at by cutting it there. */
static int
walk(struct path_res *res, const struct vhost *vh, int rootfd, size_t rootlen,
    const char *path)
{
	const char *p, *seg;
	size_t end;
	int e;

	for (p = path; ; ) {
		/* p is at a '/': the directory so far; step to the next name. */
		seg = p + 1;
		if (*seg == '\0')
			return find_index(res, vh, rootfd);
		for (p = seg; *p != '\0' && *p != '/'; p++)
			;
		end = rootlen + (size_t)(p - path);
		res->fs[end] = '\0';
		if ((e = stat_beneath(rootfd, res->script_name, &res->st)) != 0)
			return path_errno_status(e);
		if (S_ISDIR(res->st.st_mode)) {
			if (*p == '\0')
				return 301;
			res->fs[end] = '/';
			continue;
		}
		if (!S_ISREG(res->st.st_mode))
			return 403;     /* sockets, fifos, devices */
		if (*p != '\0')
			return script_with_info(res, vh, p);
		classify(res, vh);
		return 0;
	}
}

int
path_resolve(struct path_res *res, const struct vhost *vh, int rootfd,
    const char *docroot, const char *path)
{
	size_t rootlen = strlen(docroot), len;
	int e;

	/* Field by field: the path buffers are strings, and zeroing all
	 * 12 KiB of them was a tenth of a keep-alive request's time.
	 * path_info is classify's (only scripts have one). */
	res->fs[0] = '\0';
	res->script_name = "";
	memset(&res->st, 0, sizeof(res->st));
	res->is_dir = res->in_cgi_dir = 0;
	res->cgi = NULL;
	if (path[0] != '/' || has_dot_segment(path))
		return 404;
	while (rootlen > 0 && docroot[rootlen - 1] == '/')
		rootlen--;              /* "/" as a root becomes "" + path */
	len = strlen(path);
	if (copy_n(res->fs, sizeof(res->fs), docroot, rootlen) != 0 ||
	    copy_n(res->fs + rootlen, sizeof(res->fs) - rootlen, path, len) != 0)
		return 404;
	/* The path after the root: script_name, and what is opened beneath
	 * rootfd. */
	res->script_name = res->fs + rootlen;
	if (path[1] == '\0') {
		res->st.st_mode = S_IFDIR;      /* rootfd is one (O_DIRECTORY) */
		return find_index(res, vh, rootfd);
	}
	/* The whole path in one walk of the kernel's. Only a regular file
	 * followed by more path (ENOTDIR: a script's PATH_INFO, or nothing)
	 * needs the walk name by name. */
	if ((e = stat_beneath(rootfd, path, &res->st)) == ENOTDIR)
		return walk(res, vh, rootfd, rootlen, path);
	if (e != 0)
		return path_errno_status(e);
	if (S_ISDIR(res->st.st_mode))
		return path[len - 1] == '/' ? find_index(res, vh, rootfd) : 301;
	if (!S_ISREG(res->st.st_mode))
		return 403;             /* sockets, fifos, devices */
	classify(res, vh);
	return 0;
}
