/* cgi.h: CGI/1.1 (RFC 3875). */
#ifndef ITKD_CGI_H
#define ITKD_CGI_H

#include <stddef.h>
#include <stdint.h>

struct exchange;
struct path_res;

/* Run the script res names (res->cgi or res->in_cgi_dir says how), feed it
 * the request body, and send its answer. Runs in stage 2.
 * Returns 0 (answered; ex->status etc. set), an HTTP status (>0) if nothing
 * was sent and the caller must answer with that status (file_error), 1 with
 * ex->redirect set for a local redirect, or -1 if the connection must close. */
int cgi_serve(struct exchange *ex, const struct path_res *res);

/* The script's header block, blank line included. Apache lets a script
 * send heads of 12 KiB and more (three 3,000-byte cookies are common): the
 * buffers are static, in the CGI path only, so no other request pays. */
#define CGI_HEAD_MAX    65536
#define CGI_FIELDS_MAX  128     /* header fields passed on to the client */

struct cgi_field {
	const char *name;       /* NUL-terminated, inside cgi_head.buf */
	const char *value;      /* blanks trimmed */
};

/* The header block of a script's answer (RFC 3875 section 6). */
struct cgi_head {
	size_t nfields;
	int status;                     /* Status code, 0 if none */
	const char *reason;             /* its phrase ("" if none), NULL if none */
	const char *content_type;       /* NULL if absent */
	const char *location;           /* NULL if absent */
	int has_length;                 /* Content-Length was given */
	uint64_t content_length;
	int has_transfer_encoding;      /* given (and dropped) */
	const char *error;              /* why the block was refused, for the log */
	struct cgi_field fields[CGI_FIELDS_MAX];  /* the fields to pass on */
	/* Last: a small head touches only the first pages of it. */
	char buf[CGI_HEAD_MAX + 1];     /* private copy, split in place */
};

/* Parse the header block at the start of buf[0..len), from scratch each
 * call. Returns its length (blank line included) when complete and valid;
 * 0 when more bytes are needed; -1 when it can never be valid: a malformed
 * line (no colon, empty or non-token name, control bytes, folding), a bad
 * or repeated Status, Content-Type, Location or Content-Length, too many
 * fields, no end within CGI_HEAD_MAX bytes, or a block that is no response
 * of RFC 3875 6.2 (neither Content-Type nor Location, unless Status is 204
 * or 304, which carry no body); out->error then says which, in words for
 * the error log. Lines may end in LF or CR LF. Hop-by-hop fields, Date and
 * Server are dropped from fields[]. */
int cgi_parse_headers(const char *buf, size_t len, struct cgi_head *out);
/* The head of an nph- script's answer: a status line "HTTP/1.0 NNN phrase"
 * or "HTTP/1.1 NNN phrase" (200-599; the phrase may be missing), then
 * header fields as cgi_parse_headers takes them, except that neither
 * Content-Type nor Location is required and that a Transfer-Encoding (or
 * a Status field) makes the head invalid. Returns as cgi_parse_headers.
 * itkd frames the answer itself from it: the script never writes to the
 * client's connection directly, so it cannot add a second response. */
int cgi_parse_nph(const char *buf, size_t len, struct cgi_head *out);

#endif
