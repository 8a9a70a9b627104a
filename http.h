/* http.h: HTTP/1.1 request parser and response head writer (RFC 9112).
 * No I/O, no identity, no transport: bytes in, structures out. */
#ifndef ITKD_HTTP_H
#define ITKD_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_HEAD_MAX    8192   /* request line + header fields + CRLF CRLF */
#define HTTP_LINE_MAX    4096   /* request line; longer: 414 */
#define HTTP_FIELDS_MAX  64     /* header fields; more: 431 */
#define HTTP_OUT_MAX     4096   /* one response head */
#define HTTP_HOST_MAX    255    /* a Host value without port: 253 + "[]" room */
#define HTTP_CHUNK_EXT_MAX  4096    /* chunk extensions, summed over a body */
#define HTTP_TRAILER_MAX    8192    /* trailer section bytes */
#define HTTP_TRAILERS_MAX   64      /* trailer fields */
#define HTTP_METHOD_MAX     32      /* bytes of a method token; longer: 501 */
#define HTTP_REASON_MAX     128     /* bytes of a reason phrase we pass on */

/* The methods itkd itself tells apart; every other token is HTTP_OTHER and
 * is known by method_name alone (a CGI program gets it as REQUEST_METHOD). */
enum http_method {
	HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH,
	HTTP_OPTIONS, HTTP_OTHER
};
enum http_body   { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

struct http_field {
	const char *name;       /* NUL-terminated inside http_request.buf */
	const char *value;      /* OWS trimmed, NUL-terminated */
};

struct http_request {
	size_t head_len;                /* bytes of the head incl. final CRLF CRLF */

	enum http_method method;
	const char *method_name;        /* the token as sent, inside buf */
	const char *target;             /* raw request-target in origin-form: as sent,
					 * or the path?query of an absolute-form one */
	char *path;                     /* raw path part of target (still
					 * %-encoded), a copy of its own: the
					 * caller may rewrite it in place,
					 * never longer */
	const char *query;              /* after '?', "" if none */
	int minor;                      /* HTTP/1.<minor>: 0 or 1 */

	struct http_field fields[HTTP_FIELDS_MAX];
	size_t nfields;

	const char *host;               /* lower-cased, without port and trailing
					 * dot; an IPv6 literal keeps its brackets;
					 * from an absolute-form target if any;
					 * "" for 1.0 without Host */
	unsigned port;                  /* port from Host, 0 if none */
	char hostbuf[HTTP_HOST_MAX + 1];        /* host points here */

	int keep_alive;                 /* 1 if the connection may persist */
	enum http_body body;
	uint64_t content_length;        /* for HTTP_BODY_LENGTH */
	int expect_continue;            /* Expect: 100-continue seen */

	/* The big buffer last, after every small field: fewer pages touched
	 * per request (PSS of a connection process). It holds the private
	 * copy of the head, split in place, then right after it the decoded
	 * path (path points there): one page for both in a small request. */
	char buf[HTTP_HEAD_MAX + 1 + HTTP_LINE_MAX + 1];
};

/* Look for the end of a request head in buf[0..len). Returns 1 when complete
 * and sets *head_len to the head length (including the blank line and any
 * empty lines before the request line), 0 when more bytes are needed, or an
 * HTTP status (400, 414, 431) when the bytes can never form a valid head.
 * *head_len is 0 unless the return is 1. (A bare return of the length could
 * not be told from a status: a head may well be 400 bytes long.) */
int http_head_end(const char *buf, size_t len, size_t *head_len);

/* Parse a complete head (as found by http_head_end). Returns 0, or the HTTP
 * status to answer with: 400, 414, 417, 431, 501, 505. On error the fields that
 * were parsed (minor, keep_alive) are still set so the answer can be framed.
 * Any method token is accepted (case-sensitive, RFC 9110 9.1) but CONNECT,
 * TRACE, tokens over HTTP_METHOD_MAX bytes and the asterisk-form target of
 * OPTIONS, which are 501; a method that is no token is 400. */
int http_parse_request(struct http_request *r, const char *head, size_t len);

/* Case-insensitive field lookup; NULL if absent. */
const char *http_field(const struct http_request *r, const char *name);

/* Chunked transfer-coding decoder (RFC 9112 section 7.1), incremental. */
struct http_chunked {
	int state;
	uint64_t left;          /* bytes left in the current chunk */
	unsigned digits;        /* hex digits seen in the size */
	unsigned ext_len;       /* bytes of extension + trailer line seen */
	unsigned trailers;      /* trailer fields seen */
	unsigned trailer_len;   /* bytes of the trailer section seen */
};

void http_chunked_init(struct http_chunked *c);

/* Decode in[0..inlen) into out[0..outcap). Sets *used to the input bytes
 * consumed and *made to the bytes produced. Returns 0 when more input is
 * wanted, 1 when the last chunk and trailers are done (*used then stops right
 * after them), or 400 on malformed input. */
int http_chunked_decode(struct http_chunked *c, const char *in, size_t inlen,
    size_t *used, char *out, size_t outcap, size_t *made);

/* Response head writer, into the caller's buffer: file.c lends it the
 * end of the connection's write buffer, so a head is neither built on
 * the stack (a page of its own per process) nor copied. */
struct http_out {
	char *buf;
	size_t cap;             /* of buf */
	size_t len;
	int overflow;           /* sticky: set when something did not fit */
};

/* The phrase of every status RFC 9110 defines, and 429 (RFC 6585); "" for
 * any other code (RFC 9112 4: the phrase may be empty). */
const char *http_reason(int status);
/* Whether s may go out as a reason phrase: 1 to HTTP_REASON_MAX bytes of
 * HTAB, SP, VCHAR or obs-text (RFC 9112 4), not starting with a blank. */
int http_reason_ok(const char *s);

/* Status line, Date and Server into buf[0..cap); at most HTTP_OUT_MAX of
 * it is used. Answers are HTTP/1.1 whatever the request's version. */
void http_out_begin(struct http_out *o, char *buf, size_t cap, int status);
/* The same with a phrase of the caller's (a CGI program's Status line):
 * used when http_reason_ok says so, else http_reason(status). */
void http_out_begin_reason(struct http_out *o, char *buf, size_t cap,
    int status, const char *reason);
/* One header field; the value is printf-formatted. CR, LF and NUL in the
 * formatted value are replaced by spaces (no header injection). */
void http_out_field(struct http_out *o, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The blank line. Returns 0, or -1 if the head overflowed. */
int http_out_end(struct http_out *o);

/* The value of hex digit ch (either case), or -1: for %XX and chunk sizes
 * here, and path.c's percent-decoding. */
int http_hex_value(unsigned char ch);
/* IMF-fixdate of t into buf (at least 30 bytes); years past 9999 clamp. */
size_t http_date(char *buf, size_t cap, time_t t);
/* Parse IMF-fixdate (and the two obsolete forms); -1 if invalid. */
time_t http_date_parse(const char *s);

/* A short HTML body for an error status; returns its length. */
size_t http_error_body(char *buf, size_t cap, int status);

#endif
