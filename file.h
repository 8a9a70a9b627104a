/* file.h: static files: MIME, ranges, conditionals, precompressed siblings,
 * directory listing, error pages and redirects. */
#ifndef ITKD_FILE_H
#define ITKD_FILE_H

struct exchange;
struct path_res;

/* Serve the regular file (or directory listing) res names. Sets ex->status,
 * ex->bytes, ex->close. Returns 0, or -1 if the connection must close now.
 * res->fs is borrowed to name the .br/.gz siblings, and given back. */
int file_serve(struct exchange *ex, struct path_res *res);
/* Whether ex->path is the file the last request on this connection was
 * sent, still open and still what the name leads to (one fstatat): then
 * file_serve(ex, NULL) sends it without resolving the path again. */
int file_kept(const struct exchange *ex);

/* Answer with status: the vhost's error-page if any (served as itself, the
 * status kept), else a short built-in page. 405 adds Allow, 503 Retry-After.
 * Returns 0 or -1 as above. */
int file_error(struct exchange *ex, int status);

/* 301/302 to location: either a decoded URL path from the site's top (the
 * caller includes ex->prefix), sent percent-encoded after this request's
 * scheme://host[:port] with the request's query appended, or an absolute
 * URL sent as given. */
int file_redirect(struct exchange *ex, int status, const char *location);

/* The MIME type for a file name ("application/octet-stream" if unknown). */
const char *file_mime(const char *name);
/* Master: read a `mime-types` file (/etc/mime.types format); its types
 * override the built-in ones and replace those of an earlier load. 0, or -1
 * with "file:line: message" in err (the earlier set then stays). A NULL path
 * drops the loaded types (a reload whose config no longer names a file). */
int file_mime_load(const char *path, char *err, size_t errlen);

#endif
