/* log.h: access log (Combined Log Format) and error log. */
#ifndef ITKD_LOG_H
#define ITKD_LOG_H

#include <stdint.h>

struct config;
struct vhost;
struct http_request;
struct conn;

/* Master: open the error log and every access log of cfg. On reload the new
 * set is opened first, and the old one closed only when that worked. */
int log_open(const struct config *cfg, int foreground, char *err, size_t errlen);
/* Child, before the switch: close every access log fd but the vhost's own. */
void log_keep_only(const struct vhost *vh);

/* "2026-11-29T20:16:56Z itkd[pid]: [vhost] message", escaped. vh may be NULL. */
void log_error(const struct vhost *vh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One Combined Log Format line; r may be NULL (unparsable request), vh too. */
void log_access(const struct vhost *vh, const struct conn *c,
    const struct http_request *r, int status, uint64_t bytes);

/* Copy src into dst escaping control bytes, quotes and backslashes as \xNN. */
size_t log_escape(char *dst, size_t cap, const char *src);

#endif
