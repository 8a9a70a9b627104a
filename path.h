/* path.h: from a request path to a file below a document root:
 * percent-decoding, dot segments, index files, PATH_INFO; and the root
 * itself, a directory fd every file of the vhost is opened beneath. */
#ifndef ITKD_PATH_H
#define ITKD_PATH_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>

struct vhost;
struct cgi_rule;

/* Decode %XX and resolve dot segments and repeated slashes of raw (the path
 * part of a request-target) into out. Returns 0, or 400 for a bad escape, a
 * NUL, a control byte, a backslash, or a path that climbs above "/". out
 * always starts with '/', and keeps a trailing '/' if raw had one. out
 * may be raw itself (it never grows: cap = strlen(raw) + 1 is enough). */
int path_normalise(char *out, size_t cap, const char *raw);

struct path_res {
	/* Small fields first, the 4 KiB buffers after: the pages a request
	 * dirties are as few as the strings allow. */
	struct stat st;
	int is_dir;                     /* a directory without index (autoindex) */
	const struct cgi_rule *cgi;     /* the rule that makes it a script, or NULL */
	int in_cgi_dir;                 /* found below a `cgi-dir` */
	const char *script_name;        /* URL path (below the prefix) of it:
					 * the end of fs, after the root (one
					 * buffer, one page, not two), and the
					 * name to path_open beneath rootfd */
	char fs[PATH_MAX];              /* file system path of what was found,
					 * for logs and CGI variables only */
	char path_info[PATH_MAX];       /* the rest after a script, "" if none;
					 * set only when cgi or in_cgi_dir is (a
					 * static file's request leaves its page
					 * untouched) */
};

/* Find path (normalised) below the directory rootfd, whose file system
 * path is docroot (for res->fs: logs and CGI variables). Every name is
 * resolved by the kernel beneath rootfd (path_open). Returns 0, 301 (a
 * directory named without its trailing slash), 403 (also: a symlink that
 * leaves the tree) or 404. A directory is replaced by its first existing
 * `index` file. A regular file followed by more path is a script with
 * PATH_INFO if it matches a `cgi` suffix or is in a `cgi-dir`, else 404.
 * Runs after the identity switch: the vhost's permissions apply. */
int path_resolve(struct path_res *res, const struct vhost *vh, int rootfd,
    const char *docroot, const char *path);

/* A vhost's `root` (absolute), opened as the directory to serve from:
 * O_PATH, close-on-exec, no symlink in any component. *st (unless st is
 * NULL) is fstat of that very fd: its owner is `user owner`'s. The fd, or
 * -1 with errno (ELOOP: a symlink on the way; ENOSYS: a kernel without
 * openat2). */
int path_open_root(const char *root, struct stat *st);

/* A user's `userdir` below home, opened as the user (after the switch):
 * home as the password database has it, then userdir beneath it with no
 * symlink, so the user cannot make another tree hers. fd or -1 (errno). */
int path_open_userdir(const char *home, const char *userdir);

/* Open path below rootfd ("/a/b", "a/b"; "" or "/" is rootfd's directory)
 * with flags | O_CLOEXEC | O_NOCTTY, resolved by the kernel beneath rootfd:
 * a symlink may point anywhere inside the tree, never out of it (EXDEV),
 * and never through /proc's magic links. fd or -1 with errno. */
int path_open(int rootfd, const char *path, int flags);

/* The HTTP status for a failed path_open's errno: 403 or 404. */
int path_errno_status(int e);

/* 0 if this kernel has openat2(2); else -1 with one line in err that names
 * it and the Linux version it needs. */
int path_check_kernel(char *err, size_t errlen);
/* That line, for openat2's errno e on a kernel of that release (uname). */
void path_openat2_error(char *err, size_t errlen, int e, const char *release);

#endif
