/* http.c: HTTP/1.1 request parser and response head writer (RFC 9112,
 * RFC 9110). No I/O: bytes in, structures out.
 *
 * The parser is strict on purpose. Every place where two servers (or a
 * proxy and a server) could disagree on where a message ends is an error,
 * never a guess: bare CR or LF as a line end, obs-fold, whitespace before a
 * colon, Content-Length and Transfer-Encoding together, differing
 * duplicates, chunk sizes with anything but hex digits. The connection is
 * closed after every error (keep_alive = 0).
 *
 * Choices where the RFCs leave room:
 * - Bare LF and bare CR are rejected with 400 (RFC 9112 2.2 allows a
 *   lenient recipient to accept a bare LF; we do not, a proxy in front of us
 *   may split the message differently).
 * - Empty lines before the request line are skipped (RFC 9112 2.2); they
 *   count towards HTTP_HEAD_MAX, not towards HTTP_LINE_MAX.
 * - Transfer-Encoding: a single well-formed coding other than "chunked" is
 *   501 (RFC 9112 6.1: unknown coding); any list of more than one coding
 *   ("gzip, chunked", "chunked, chunked"), an empty element, a parameter or
 *   a second Transfer-Encoding field is 400: we implement no other coding,
 *   and a list is where smuggling hides.
 * - Host: a reg-name is letters, digits, '-', '_' and '.', labels of 1-63
 *   bytes, 253 bytes at most; percent-encoding and sub-delims, legal in a
 *   URI reg-name, are refused because the name selects a vhost and a
 *   directory. '_' is accepted: real internal names use it and it is safe
 *   in a file name. Labels may start or end with '-' (harmless here).
 *   A single trailing dot is dropped. IPv4 literals parse as reg-names.
 * - Expect: only "100-continue" (case-insensitive, RFC 9110 10.1.1); any
 *   other expectation is 417. A 1.0 request's 100-continue is ignored.
 * - In the request-target, bytes other than VCHAR are refused, and so is
 *   '#'. In the path a '%' must start a %XX escape; the query is left to
 *   whoever reads it.
 * - Methods: any token is one (case-sensitive, RFC 9110 9.1), up to
 *   HTTP_METHOD_MAX bytes, so that a CGI program can answer PUT, PATCH,
 *   PROPFIND or a CORS preflight itself; what a static resource allows is
 *   file.c's to say. Longer tokens, CONNECT and TRACE are 501; what is no
 *   token at all is a malformed request line, 400.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "http.h"

/* ------------------------------------------------------------------ */
/* Character classes (RFC 9110 5.6.2, 5.5)                             */

static int
is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/* field-vchar / SP / HTAB: what a field value may hold. */
static int
is_field_byte(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static int
is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

int
http_hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
is_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Finding the end of a head                                           */

int
http_head_end(const char *buf, size_t len, size_t *head_len)
{
	size_t i = 0, line_start, scan = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	int in_request_line = 1;

	*head_len = 0;
	/* Empty lines before the request line (RFC 9112 2.2). */
	while (i + 1 < scan && buf[i] == '\r' && buf[i + 1] == '\n')
		i += 2;
	line_start = i;
	for (; i < scan; i++) {
		if (buf[i] == '\n')
			return 400;             /* bare LF */
		if (buf[i] != '\r')
			continue;
		if (i + 1 >= scan)
			break;                  /* CR at the end: wait for more */
		if (buf[i + 1] != '\n')
			return 400;             /* bare CR */
		if (in_request_line) {
			if (i - line_start > HTTP_LINE_MAX)
				return 414;
			in_request_line = 0;
		} else if (i == line_start) {
			*head_len = i + 2;
			return 1;
		}
		i++;
		line_start = i + 1;
	}
	if (in_request_line && i - line_start > HTTP_LINE_MAX)
		return 414;
	if (len >= HTTP_HEAD_MAX)
		return 431;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Host                                                                */

/* reg-name of letters, digits, '-', '_', '.' (see the top comment); lower
 * case it into out. Returns its length, or -1. */
static int
host_name(char *out, const char *s, size_t n)
{
	size_t i, label = 0;
	unsigned char ch;

	if (n > 0 && s[n - 1] == '.')
		n--;                            /* "example.org." */
	if (n == 0 || n > 253)
		return -1;
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch == '.') {
			if (label == 0)
				return -1;      /* ".x", "x..y" */
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || is_digit(ch) ||
		    ch == '-' || ch == '_') {
			label++;
		} else if (ch >= 'A' && ch <= 'Z') {
			ch = (unsigned char)(ch - 'A' + 'a');
			label++;
		} else {
			return -1;
		}
		if (label > 63)
			return -1;
		out[i] = (char)ch;
	}
	if (label == 0)
		return -1;              /* "x.." */
	out[n] = '\0';
	return (int)n;
}

/* "[v6]": validated by inet_pton, kept with its brackets, lower-cased. */
static int
host_ipv6(char *out, const char *s, size_t n)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char addr[16];
	size_t i;

	if (n < 4 || n - 2 > INET6_ADDRSTRLEN || s[0] != '[' || s[n - 1] != ']')
		return -1;
	memcpy(tmp, s + 1, n - 2);
	tmp[n - 2] = '\0';
	if (strlen(tmp) != n - 2 || inet_pton(AF_INET6, tmp, addr) != 1)
		return -1;
	for (i = 0; i < n; i++) {
		out[i] = s[i];
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	}
	out[n] = '\0';
	return (int)n;
}

/* ":port", 1-65535, digits only. Returns the port or -1. */
static long
host_port(const char *s, size_t n)
{
	long port = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

/* Parse an authority (Host value or absolute-form authority) of n bytes into
 * r->hostbuf and r->port. 0 or 400. */
static int
parse_host(struct http_request *r, const char *s, size_t n)
{
	const char *colon = NULL;
	size_t hn;
	long port = 0;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL)
			return 400;
		if ((size_t)(close - s) + 1 < n) {
			if (close[1] != ':')
				return 400;
			colon = close + 1;
		}
	} else {
		colon = memchr(s, ':', n);
	}
	hn = colon ? (size_t)(colon - s) : n;
	if (colon && (port = host_port(colon + 1, n - hn - 1)) < 0)
		return 400;
	if (hn > HTTP_HOST_MAX)
		return 400;
	if (hn > 0 && s[0] == '[') {
		if (host_ipv6(r->hostbuf, s, hn) < 0)
			return 400;
	} else if (host_name(r->hostbuf, s, hn) < 0) {
		return 400;
	}
	r->host = r->hostbuf;
	r->port = (unsigned)port;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Request line                                                        */

static int
parse_version(struct http_request *r, const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) ||
	    v[6] != '.' || !is_digit(v[7]))
		return 400;
	if (v[5] == '1' && (v[7] == '0' || v[7] == '1')) {
		r->minor = v[7] - '0';
		return 0;
	}
	/* A later 1.x speaks 1.1 (RFC 9110 6.2); frame the error that way. */
	r->minor = v[5] >= '1' && !(v[5] == '1' && v[7] == '0');
	return 505;
}

/* The method token m[0..n): one of ours, any other token (HTTP_OTHER), or
 * 501 for what we never serve: CONNECT (a proxy's tunnel), TRACE (a mirror of
 * the request, cookies and credentials included, that no site here needs:
 * Apache's `TraceEnable off`) and absurd lengths. */
static int
parse_method(struct http_request *r, const char *m, size_t n)
{
	static const struct { const char *name; enum http_method method; }
	    known[] = {
		{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
		{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE },
		{ "PATCH", HTTP_PATCH }, { "OPTIONS", HTTP_OPTIONS },
	};
	size_t i;

	if (!is_token(m, n))
		return 400;
	if (n > HTTP_METHOD_MAX)
		return 501;
	if ((n == 7 && memcmp(m, "CONNECT", 7) == 0) ||
	    (n == 5 && memcmp(m, "TRACE", 5) == 0))
		return 501;
	r->method = HTTP_OTHER;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == n && memcmp(m, known[i].name, n) == 0)
			r->method = known[i].method;
	return 0;
}

/* Bytes of a target: VCHAR but '#'; in the path, '%' starts %XX. */
static int
check_target(const char *t, size_t n)
{
	size_t i;
	int in_query = 0;
	unsigned char ch;

	for (i = 0; i < n; i++) {
		ch = (unsigned char)t[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '#')
			return 400;
		if (ch == '?')
			in_query = 1;
		if (ch == '%' && !in_query && (i + 2 >= n ||
		    http_hex_value((unsigned char)t[i + 1]) < 0 ||
		    http_hex_value((unsigned char)t[i + 2]) < 0))
			return 400;
	}
	return 0;
}

/* "http://authority/path?query": set the host from the authority and leave
 * *t, *n on the origin-form part (a '/' is put in if the path was empty,
 * over the authority's last byte, which was copied out already). */
static int
absolute_form(struct http_request *r, char **t, size_t *n)
{
	char *s = *t, *a, *end = *t + *n, *p;

	if (*n >= 7 && strncasecmp(s, "http://", 7) == 0)
		a = s + 7;
	else if (*n >= 8 && strncasecmp(s, "https://", 8) == 0)
		a = s + 8;
	else
		return 400;
	for (p = a; p < end && *p != '/' && *p != '?'; p++)
		if (*p == '@')
			return 400;     /* userinfo: never in a request */
	if (p == a || parse_host(r, a, (size_t)(p - a)) != 0)
		return 400;
	if (p == end || *p == '?')
		*--p = '/';
	*n -= (size_t)(p - s);
	*t = p;
	return 0;
}

/* Split origin-form target t[0..n) into r->target, r->path, r->query.
 * The path is copied to just past the head's copy in r->buf; the request
 * line is at most HTTP_LINE_MAX, so it fits (414 otherwise). */
static int
split_target(struct http_request *r, char *t, size_t n)
{
	char *q = memchr(t, '?', n);
	size_t plen = q ? (size_t)(q - t) : n;
	char *path = r->buf + r->head_len + 1;

	if (plen > HTTP_LINE_MAX)
		return 414;
	t[n] = '\0';
	r->target = t;
	memcpy(path, t, plen);
	path[plen] = '\0';
	r->path = path;
	r->query = q ? q + 1 : "";
	return 0;
}

/* line[0..n) is the request line, NUL-terminated at n. */
static int
parse_request_line(struct http_request *r, char *line, size_t n, int *absolute)
{
	char *sp1, *sp2, *t;
	size_t tn;
	int st;

	if (n > HTTP_LINE_MAX)
		return 414;
	if ((sp1 = memchr(line, ' ', n)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line))) == NULL)
		return 400;
	/* The version first, so that later errors are framed for it. */
	if ((st = parse_version(r, sp2 + 1, n - (size_t)(sp2 + 1 - line))) != 0)
		return st;
	*sp1 = '\0';
	r->method_name = line;
	t = sp1 + 1;
	tn = (size_t)(sp2 - t);
	if (!is_token(line, (size_t)(sp1 - line)) || tn == 0 ||
	    check_target(t, tn) != 0)
		return 400;
	/* CONNECT is 501 whatever its target (authority-form), and so is
	 * OPTIONS's asterisk-form: no resource of ours is "the server". */
	if ((st = parse_method(r, line, (size_t)(sp1 - line))) != 0)
		return st;
	if (tn == 1 && t[0] == '*' && r->method == HTTP_OPTIONS)
		return 501;
	if (t[0] != '/') {
		if ((st = absolute_form(r, &t, &tn)) != 0)
			return st;
		*absolute = 1;
	}
	return split_target(r, t, tn);
}

/* ------------------------------------------------------------------ */
/* Header fields                                                       */

/* Cut the next CRLF-terminated line off *p (NUL at its CR). NULL if the
 * line does not end in CRLF or holds a bare CR or LF. */
static char *
next_line(char **p, char *end, size_t *n)
{
	char *line = *p, *cr;

	for (cr = line; cr < end && *cr != '\r' && *cr != '\n'; cr++)
		;
	if (cr + 1 >= end || cr[0] != '\r' || cr[1] != '\n')
		return NULL;
	*cr = '\0';
	*n = (size_t)(cr - line);
	*p = cr + 2;
	return line;
}

static int
parse_field(struct http_field *f, char *line, size_t n)
{
	char *colon = memchr(line, ':', n), *v, *end = line + n;

	if (is_ws((unsigned char)line[0]))
		return 400;                     /* obs-fold, or SP before a name */
	if (colon == NULL || !is_token(line, (size_t)(colon - line)))
		return 400;
	*colon = '\0';
	for (v = colon + 1; v < end; v++)
		if (!is_field_byte((unsigned char)*v))
			return 400;             /* NUL, CR, other CTLs, DEL */
	for (v = colon + 1; v < end && is_ws((unsigned char)*v); v++)
		;
	while (end > v && is_ws((unsigned char)end[-1]))
		end--;
	*end = '\0';
	f->name = line;
	f->value = v;
	return 0;
}

/* Walk the comma-separated list s, calling fn for each element with OWS
 * trimmed (empty elements too). Stops at fn's first non-zero result. */
static int
each_element(const char *s, int (*fn)(void *, const char *, size_t), void *arg)
{
	const char *e;
	size_t n;
	int st;

	for (;;) {
		while (is_ws((unsigned char)*s))
			s++;
		for (e = s; *e != '\0' && *e != ','; e++)
			;
		n = (size_t)(e - s);
		while (n > 0 && is_ws((unsigned char)s[n - 1]))
			n--;
		if ((st = fn(arg, s, n)) != 0)
			return st;
		if (*e == '\0')
			return 0;
		s = e + 1;
	}
}

struct field_state {
	struct http_request *r;
	int hosts, cls, tes;
	int close, keepalive, expect_other;
	const char *host;
	uint64_t cl;
};

static int
content_length_element(void *arg, const char *s, size_t n)
{
	struct field_state *fs = arg;
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return 400;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return 400;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (fs->cls++ > 0 && v != fs->cl)
		return 400;
	fs->cl = v;
	return 0;
}

/* One Transfer-Encoding field holding one coding: chunked. */
static int
transfer_encoding(struct field_state *fs, const char *v)
{
	if (fs->tes++ > 0 || strchr(v, ',') != NULL)
		return 400;             /* a list, or a second field */
	if (!is_token(v, strlen(v)))
		return 400;             /* empty, parameters, spaces, CTLs */
	return strcasecmp(v, "chunked") == 0 ? 0 : 501;
}

static int
connection_element(void *arg, const char *s, size_t n)
{
	struct field_state *fs = arg;

	if (n == 0)
		return 0;               /* RFC 9110 5.6.1: empty elements */
	if (!is_token(s, n))
		return 400;
	if (n == 5 && strncasecmp(s, "close", 5) == 0)
		fs->close = 1;
	else if (n == 10 && strncasecmp(s, "keep-alive", 10) == 0)
		fs->keepalive = 1;
	return 0;
}

static int
expect_element(void *arg, const char *s, size_t n)
{
	struct field_state *fs = arg;

	if (n == 0)
		return 0;
	if (n == 12 && strncasecmp(s, "100-continue", 12) == 0)
		fs->r->expect_continue = 1;
	else
		fs->expect_other = 1;
	return 0;
}

static int
one_field(struct field_state *fs, const struct http_field *f)
{
	if (strcasecmp(f->name, "host") == 0) {
		fs->host = f->value;
		return fs->hosts++ > 0 ? 400 : 0;
	}
	if (strcasecmp(f->name, "content-length") == 0)
		return each_element(f->value, content_length_element, fs);
	if (strcasecmp(f->name, "transfer-encoding") == 0)
		return transfer_encoding(fs, f->value);
	if (strcasecmp(f->name, "connection") == 0)
		return each_element(f->value, connection_element, fs);
	if (strcasecmp(f->name, "expect") == 0)
		return each_element(f->value, expect_element, fs);
	return 0;
}

/* The meaning of the fields, once all are read. */
static int
check_fields(struct http_request *r, struct field_state *fs, int absolute)
{
	char keep[HTTP_HOST_MAX + 1];
	unsigned keep_port = r->port;
	size_t i;
	int st;

	for (i = 0; i < r->nfields; i++)
		if ((st = one_field(fs, &r->fields[i])) != 0)
			return st;
	if (fs->tes > 0 && r->minor == 0)
		return 400;             /* RFC 9112 6.1: no chunked in 1.0 */
	if (fs->tes > 0 && fs->cls > 0)
		return 400;
	if (fs->hosts == 0 && r->minor == 1)
		return 400;
	if (fs->hosts == 1) {
		/* Validated even when an absolute-form target overrides it. */
		memcpy(keep, r->hostbuf, sizeof(keep));
		if (parse_host(r, fs->host, strlen(fs->host)) != 0)
			return 400;
		if (absolute) {
			memcpy(r->hostbuf, keep, sizeof(keep));
			r->port = keep_port;
		}
	}
	if (fs->expect_other)
		return 417;
	if (r->minor == 0)
		r->expect_continue = 0;  /* RFC 9110 10.1.1 */
	if (fs->tes > 0)
		r->body = HTTP_BODY_CHUNKED;
	else if (fs->cls > 0) {
		r->body = HTTP_BODY_LENGTH;
		r->content_length = fs->cl;
	}
	return 0;
}

static int
parse_fields(struct http_request *r, char **p, char *end)
{
	char *line;
	size_t n;
	int st;

	for (;;) {
		if ((line = next_line(p, end, &n)) == NULL)
			return 400;
		if (n == 0)
			return *p == end ? 0 : 400;
		if (r->nfields == HTTP_FIELDS_MAX)
			return 431;
		if ((st = parse_field(&r->fields[r->nfields], line, n)) != 0)
			return st;
		r->nfields++;
	}
}

static size_t
line_length(const char *p, const char *end)
{
	const char *e = p;

	while (e < end && *e != '\r' && *e != '\n')
		e++;
	return (size_t)(e - p);
}

static void
request_reset(struct http_request *r)
{
	static char no_path[1];         /* "", writable as http.h promises */

	r->head_len = 0;
	r->method = HTTP_GET;
	r->method_name = "";
	r->target = r->query = "";
	r->path = no_path;
	r->minor = 0;
	r->nfields = 0;
	r->host = "";
	r->hostbuf[0] = '\0';
	r->port = 0;
	r->keep_alive = 0;
	r->body = HTTP_BODY_NONE;
	r->content_length = 0;
	r->expect_continue = 0;
}

int
http_parse_request(struct http_request *r, const char *head, size_t len)
{
	struct field_state fs;
	char *p, *end, *line;
	size_t n;
	int st, absolute = 0;

	request_reset(r);
	memset(&fs, 0, sizeof(fs));
	fs.r = r;
	if (len > HTTP_HEAD_MAX) {
		st = 431;
		goto err;
	}
	memcpy(r->buf, head, len);
	r->buf[len] = '\0';
	r->head_len = len;
	p = r->buf;
	end = p + len;
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	if ((line = next_line(&p, end, &n)) == NULL) {
		st = line_length(p, end) > HTTP_LINE_MAX ? 414 : 400;
		goto err;
	}
	if ((st = parse_request_line(r, line, n, &absolute)) != 0 ||
	    (st = parse_fields(r, &p, end)) != 0 ||
	    (st = check_fields(r, &fs, absolute)) != 0)
		goto err;
	r->keep_alive = r->minor == 1 ? !fs.close : fs.keepalive && !fs.close;
	return 0;
err:
	r->keep_alive = 0;
	return st;
}

const char *
http_field(const struct http_request *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nfields; i++)
		if (strcasecmp(r->fields[i].name, name) == 0)
			return r->fields[i].value;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Chunked transfer coding (RFC 9112 7.1)                              */

enum {
	CH_SIZE,        /* hex digits of a chunk size */
	CH_SIZE_BWS,    /* blanks after the size: only before ';' */
	CH_EXT_PRE,     /* after ';': BWS, then a name */
	CH_EXT_NAME,
	CH_EXT_POST,    /* after a name or value: BWS, then '=', ';' or CR */
	CH_EXT_VAL_PRE, /* after '=': BWS, then a token or a quoted string */
	CH_EXT_TOKEN,
	CH_EXT_QUOTED,
	CH_EXT_ESCAPE,
	CH_SIZE_LF,     /* the LF after the size line's CR */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,     /* at the start of a trailer line (or the last CRLF) */
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_END_LF,      /* the LF of the final CRLF */
	CH_DONE,
	CH_ERROR
};

void
http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

/* One byte of a chunk-size line: the size, then chunk-ext =
 * *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ). */
static int
chunk_size_byte(struct http_chunked *c, unsigned char ch)
{
	int h;

	if (c->state != CH_SIZE && ++c->ext_len > HTTP_CHUNK_EXT_MAX)
		return CH_ERROR;
	switch (c->state) {
	case CH_SIZE:
		if ((h = http_hex_value(ch)) >= 0) {
			if (++c->digits > 16)
				return CH_ERROR;
			c->left = c->left << 4 | (uint64_t)h;
			return CH_SIZE;
		}
		if (c->digits == 0)
			return CH_ERROR;
		if (ch == '\r')
			return CH_SIZE_LF;
		if (ch == ';')
			return CH_EXT_PRE;
		return is_ws(ch) ? CH_SIZE_BWS : CH_ERROR;
	case CH_SIZE_BWS:
		return is_ws(ch) ? CH_SIZE_BWS : ch == ';' ? CH_EXT_PRE : CH_ERROR;
	case CH_EXT_PRE:
		return is_ws(ch) ? CH_EXT_PRE : is_tchar(ch) ? CH_EXT_NAME : CH_ERROR;
	case CH_EXT_NAME:
		if (is_tchar(ch))
			return CH_EXT_NAME;
		/* FALLTHROUGH */
	case CH_EXT_POST:
		return is_ws(ch) ? CH_EXT_POST : ch == '=' ? CH_EXT_VAL_PRE :
		    ch == ';' ? CH_EXT_PRE : ch == '\r' ? CH_SIZE_LF : CH_ERROR;
	case CH_EXT_VAL_PRE:
		return is_ws(ch) ? CH_EXT_VAL_PRE : ch == '"' ? CH_EXT_QUOTED :
		    is_tchar(ch) ? CH_EXT_TOKEN : CH_ERROR;
	case CH_EXT_TOKEN:
		if (is_tchar(ch))
			return CH_EXT_TOKEN;
		return is_ws(ch) ? CH_EXT_POST : ch == ';' ? CH_EXT_PRE :
		    ch == '\r' ? CH_SIZE_LF : CH_ERROR;
	case CH_EXT_QUOTED:
		return ch == '"' ? CH_EXT_POST : ch == '\\' ? CH_EXT_ESCAPE :
		    is_field_byte(ch) ? CH_EXT_QUOTED : CH_ERROR;
	case CH_EXT_ESCAPE:
		return is_field_byte(ch) ? CH_EXT_QUOTED : CH_ERROR;
	}
	return CH_ERROR;
}

/* One byte of the trailer section: fields, parsed and thrown away. */
static int
chunk_trailer_byte(struct http_chunked *c, unsigned char ch)
{
	if (++c->trailer_len > HTTP_TRAILER_MAX)
		return CH_ERROR;
	switch (c->state) {
	case CH_TRAILER:
		if (ch == '\r')
			return CH_END_LF;
		if (!is_tchar(ch) || ++c->trailers > HTTP_TRAILERS_MAX)
			return CH_ERROR;   /* obs-fold, empty name, too many */
		return CH_TR_NAME;
	case CH_TR_NAME:
		return is_tchar(ch) ? CH_TR_NAME : ch == ':' ? CH_TR_VALUE : CH_ERROR;
	case CH_TR_VALUE:
		return ch == '\r' ? CH_TR_LF : is_field_byte(ch) ? CH_TR_VALUE : CH_ERROR;
	case CH_TR_LF:
		return ch == '\n' ? CH_TRAILER : CH_ERROR;
	case CH_END_LF:
		return ch == '\n' ? CH_DONE : CH_ERROR;
	}
	return CH_ERROR;
}

/* One framing byte (everything but chunk data). */
static int
chunk_byte(struct http_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CH_SIZE_LF:
		if (ch != '\n')
			return CH_ERROR;
		return c->left == 0 ? CH_TRAILER : CH_DATA;
	case CH_DATA_CR:
		return ch == '\r' ? CH_DATA_LF : CH_ERROR;
	case CH_DATA_LF:
		if (ch != '\n')
			return CH_ERROR;
		c->digits = 0;
		return CH_SIZE;
	case CH_TRAILER:
	case CH_TR_NAME:
	case CH_TR_VALUE:
	case CH_TR_LF:
	case CH_END_LF:
		return chunk_trailer_byte(c, ch);
	default:
		return chunk_size_byte(c, ch);
	}
}

int
http_chunked_decode(struct http_chunked *c, const char *in, size_t inlen,
    size_t *used, char *out, size_t outcap, size_t *made)
{
	size_t i = 0, n;

	*made = 0;
	while (i < inlen && c->state != CH_DONE && c->state != CH_ERROR) {
		if (c->state != CH_DATA) {
			c->state = chunk_byte(c, (unsigned char)in[i++]);
			continue;
		}
		n = inlen - i;
		if (n > outcap - *made)
			n = outcap - *made;
		if (n > c->left)
			n = (size_t)c->left;
		if (n == 0)
			break;                  /* out is full */
		memcpy(out + *made, in + i, n);
		*made += n;
		i += n;
		if ((c->left -= n) == 0)
			c->state = CH_DATA_CR;
	}
	*used = i;
	if (c->state == CH_ERROR)
		return 400;
	return c->state == CH_DONE;
}

/* ------------------------------------------------------------------ */
/* Response heads                                                      */

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "";      /* 306 and 418 are reserved, unused (RFC 9110 15) */
}

int
http_reason_ok(const char *s)
{
	size_t n;

	if (s == NULL || s[0] == '\0' || is_ws((unsigned char)s[0]))
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= HTTP_REASON_MAX || !is_field_byte((unsigned char)s[n]))
			return 0;
	return 1;
}

/* Append s[0..n) whole, or set the sticky overflow and append nothing. */
static void
out_put(struct http_out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

void
http_out_begin(struct http_out *o, char *buf, size_t cap, int status)
{
	http_out_begin_reason(o, buf, cap, status, NULL);
}

void
http_out_begin_reason(struct http_out *o, char *buf, size_t cap, int status,
    const char *reason)
{
	char line[16] = "HTTP/1.1 xxx ", date[32];
	size_t n;

	o->buf = buf;
	o->cap = cap < HTTP_OUT_MAX ? cap : HTTP_OUT_MAX;
	o->len = 0;
	o->overflow = 0;
	if (status < 100 || status > 999) {
		status = 500;
		reason = NULL;  /* the caller's was for another code */
	}
	line[9] = (char)('0' + status / 100);
	line[10] = (char)('0' + status / 10 % 10);
	line[11] = (char)('0' + status % 10);
	if (!http_reason_ok(reason))
		reason = http_reason(status);
	out_put(o, line, 13);
	out_put(o, reason, strlen(reason));
	n = http_date(date, sizeof(date), clock_wall());
	out_put(o, "\r\nDate: ", 8);
	out_put(o, date, n);
	out_put(o, "\r\nServer: itkd\r\n", 16);
}

/* The decimal digits of v, without snprintf: into buf from its end. */
static size_t
fmt_u64(char *buf, size_t cap, unsigned long long v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (n > cap)
		return 0;
	for (cap = 0; cap < n; cap++)
		buf[cap] = tmp[n - 1 - cap];
	return n;
}

/* The value of a field for the three formats every response uses (a
 * literal, "%s", "%llu"), without the cost of musl's vfprintf (which was
 * most of the user time of a keep-alive request); -1 for any other. */
static int
fmt_fast(char *value, size_t cap, const char *fmt, va_list ap)
{
	const char *s;
	size_t n;

	if (strchr(fmt, '%') == NULL) {
		s = fmt;
	} else if (strcmp(fmt, "%s") == 0) {
		s = va_arg(ap, const char *);
	} else if (strcmp(fmt, "%llu") == 0) {
		n = fmt_u64(value, cap, va_arg(ap, unsigned long long));
		return n ? (int)n : -1;
	} else {
		return -1;
	}
	if ((n = strnlen(s, cap)) >= cap)
		return (int)cap;        /* too long: the caller says overflow */
	memcpy(value, s, n);
	return (int)n;
}

void
http_out_field(struct http_out *o, const char *name, const char *fmt, ...)
{
	size_t nlen = strlen(name), cap;
	char *value;
	va_list ap;
	int n, i;

	/* A name that is no token would let a caller inject a line. */
	if (!is_token(name, nlen) || o->overflow ||
	    o->len + nlen + 4 > o->cap) {
		o->overflow = 1;
		return;
	}
	/* The value is formatted in place, after room for the name and ": "
	 * (no 4 KiB copy on the stack); cap leaves room for its "\r\n". */
	value = o->buf + o->len + nlen + 2;
	cap = o->cap - o->len - nlen - 2;
	va_start(ap, fmt);
	n = fmt_fast(value, cap, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_start(ap, fmt);
		n = vsnprintf(value, cap, fmt, ap);
		va_end(ap);
	}
	if (n < 0 || (size_t)n + 2 > cap) {
		o->overflow = 1;
		return;
	}
	for (i = 0; i < n; i++)
		if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
			value[i] = ' ';
	memcpy(o->buf + o->len, name, nlen);
	memcpy(o->buf + o->len + nlen, ": ", 2);
	memcpy(value + n, "\r\n", 2);
	o->len += nlen + 2 + (size_t)n + 2;
}

int
http_out_end(struct http_out *o)
{
	out_put(o, "\r\n", 2);
	return o->overflow ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Dates (RFC 9110 5.6.7)                                              */

static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const long_days[7] = { "Sunday", "Monday", "Tuesday",
    "Wednesday", "Thursday", "Friday", "Saturday" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

#define DATE_MAX ((int64_t)253402300799)        /* 9999-12-31 23:59:59 */

size_t
http_date(char *buf, size_t cap, time_t t)
{
	struct tm tm;
	int n;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	if ((int64_t)t < 0)
		t = 0;
	if ((int64_t)t > DATE_MAX)
		t = (time_t)DATE_MAX;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return 0;
	/* "Sun, 06 Nov 1994 08:49:37 GMT": fixed width (years 1970-9999),
	 * written digit by digit: snprintf was a fifth of a request's user
	 * time under musl. */
	if (cap < 30)
		return 0;
	memcpy(buf, days[tm.tm_wday], 3);
	memcpy(buf + 3, ", dd mon yyyy hh:mm:ss GMT", 27);
	buf[5] = (char)('0' + tm.tm_mday / 10);
	buf[6] = (char)('0' + tm.tm_mday % 10);
	memcpy(buf + 8, months[tm.tm_mon], 3);
	n = tm.tm_year + 1900;
	buf[12] = (char)('0' + n / 1000);
	buf[13] = (char)('0' + n / 100 % 10);
	buf[14] = (char)('0' + n / 10 % 10);
	buf[15] = (char)('0' + n % 10);
	buf[17] = (char)('0' + tm.tm_hour / 10);
	buf[18] = (char)('0' + tm.tm_hour % 10);
	buf[20] = (char)('0' + tm.tm_min / 10);
	buf[21] = (char)('0' + tm.tm_min % 10);
	buf[23] = (char)('0' + tm.tm_sec / 10);
	buf[24] = (char)('0' + tm.tm_sec % 10);
	return 29;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* n decimal digits at s; -1 if any is not a digit. */
static int
digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (!is_digit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

static int
month_index(const char *s)
{
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(s, months[i], 3) == 0)
			return i;
	return -1;
}

/* "HH:MM:SS" */
static int
clock_time(const char *s, int *h, int *mi, int *sec)
{
	if (s[2] != ':' || s[5] != ':')
		return -1;
	*h = digits(s, 2);
	*mi = digits(s + 3, 2);
	*sec = digits(s + 6, 2);
	return *h < 0 || *mi < 0 || *sec < 0 ? -1 : 0;
}

static time_t
make_time(int y, int mon, int d, int h, int mi, int s)
{
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1970 || y > 9999 || mon < 0 || mon > 11 || d < 1 ||
	    d > mdays[mon] || (mon == 1 && d == 29 && !leap) ||
	    h > 23 || mi > 59 || s > 60)
		return -1;
	return (time_t)(days_from_civil(y, (unsigned)mon + 1, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + s);
}

/* RFC 9110 5.6.7: a two-digit year more than 50 years ahead is in the past. */
static int
rfc850_year(int yy)
{
	struct tm tm;
	time_t now = clock_wall();
	int y, this_year = 2000;

	if (gmtime_r(&now, &tm) != NULL)
		this_year = tm.tm_year + 1900;
	y = this_year - this_year % 100 + yy;
	if (y > this_year + 50)
		y -= 100;
	return y;
}

time_t
http_date_parse(const char *s)
{
	size_t n = strlen(s), dn;
	int d, mon, y, h, mi, sec, i;

	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (n == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' &&
	    s[11] == ' ' && s[16] == ' ' && strcmp(s + 25, " GMT") == 0) {
		for (i = 0; i < 7 && strncmp(s, days[i], 3) != 0; i++)
			;
		if (i == 7 || (d = digits(s + 5, 2)) < 0 ||
		    (mon = month_index(s + 8)) < 0 || (y = digits(s + 12, 4)) < 0 ||
		    clock_time(s + 17, &h, &mi, &sec) < 0)
			return -1;
		return make_time(y, mon, d, h, mi, sec);
	}
	/* asctime: "Sun Nov  6 08:49:37 1994" */
	if (n == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' &&
	    s[19] == ' ') {
		for (i = 0; i < 7 && strncmp(s, days[i], 3) != 0; i++)
			;
		if (i == 7 || (mon = month_index(s + 4)) < 0 ||
		    (d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2)) < 0 ||
		    clock_time(s + 11, &h, &mi, &sec) < 0 ||
		    (y = digits(s + 20, 4)) < 0)
			return -1;
		return make_time(y, mon, d, h, mi, sec);
	}
	/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
	for (i = 0; i < 7; i++) {
		dn = strlen(long_days[i]);
		if (strncmp(s, long_days[i], dn) == 0)
			break;
	}
	if (i == 7 || n != dn + 24)
		return -1;
	s += dn;
	if (s[0] != ',' || s[1] != ' ' || s[4] != '-' || s[8] != '-' ||
	    s[11] != ' ' || strcmp(s + 20, " GMT") != 0 ||
	    (d = digits(s + 2, 2)) < 0 || (mon = month_index(s + 5)) < 0 ||
	    (y = digits(s + 9, 2)) < 0 || clock_time(s + 12, &h, &mi, &sec) < 0)
		return -1;
	return make_time(rfc850_year(y), mon, d, h, mi, sec);
}

/* ------------------------------------------------------------------ */
/* Error pages                                                         */

size_t
http_error_body(char *buf, size_t cap, int status)
{
	const char *reason = http_reason(status);
	int n;

	if (cap == 0)
		return 0;
	n = snprintf(buf, cap, "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
	    "</head>\n<body><h1>%d %s</h1></body></html>\n",
	    status, reason, status, reason);
	if (n < 0)
		n = 0;
	buf[cap - 1 < (size_t)n ? cap - 1 : (size_t)n] = '\0';
	return (size_t)n < cap ? (size_t)n : cap - 1;
}
