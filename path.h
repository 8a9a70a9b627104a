/* path.h: from a request path to a file below a document root:
 * percent-decoding, dot segments, index files, PATH_INFO. */
#ifndef ITKD_PATH_H
#define ITKD_PATH_H

#include <limits.h>
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
					 * buffer, one page, not two) */
	char fs[PATH_MAX];              /* file system path of what was found */
	char path_info[PATH_MAX];       /* the rest after a script, "" if none;
					 * set only when cgi or in_cgi_dir is (a
					 * static file's request leaves its page
					 * untouched) */
};

/* Find path (normalised) below docroot. Returns 0, 301 (a directory named
 * without its trailing slash), 403 or 404. A directory is replaced by its
 * first existing `index` file. A regular file followed by more path is a
 * script with PATH_INFO if it matches a `cgi` suffix or is in a `cgi-dir`,
 * else 404. Runs after the identity switch: the vhost's permissions apply. */
int path_resolve(struct path_res *res, const struct vhost *vh,
    const char *docroot, const char *path);

#endif
