/* file.h: static files: MIME, ranges, conditionals, precompressed siblings,
 * directory listing, error pages and redirects. */
#ifndef ITKD_FILE_H
#define ITKD_FILE_H

struct exchange;
struct path_res;

/* Serve the regular file (or directory listing) res names. Sets ex->status,
 * ex->bytes, ex->close. Returns 0, or -1 if the connection must close now. */
int file_serve(struct exchange *ex, const struct path_res *res);

/* Answer with status: the vhost's error-page if any (served as itself, the
 * status kept), else a short built-in page. 405 adds Allow, 503 Retry-After.
 * Returns 0 or -1 as above. */
int file_error(struct exchange *ex, int status);

/* 301/302 to location (a path below ex->prefix or an absolute URL). */
int file_redirect(struct exchange *ex, int status, const char *location);

/* The MIME type for a file name ("application/octet-stream" if unknown). */
const char *file_mime(const char *name);
/* Master: read a `mime-types` file (/etc/mime.types format); 0 or -1. */
int file_mime_load(const char *path, char *err, size_t errlen);

#endif
