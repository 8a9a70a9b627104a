/* tests/unit_http.c: the request parser, the chunked decoder, the response
 * writer and the dates of http.c. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "unit.h"

static struct http_request req;

/* A literal that holds a NUL byte, parsed whole. */
#define PARSE_BYTES(lit) http_parse_request(&req, (lit), sizeof(lit) - 1)

/* Parse a NUL-free head given as a C string. */
static int
parse(const char *s)
{
	return http_parse_request(&req, s, strlen(s));
}

/* Parse with Host: a.test added for HTTP/1.1 convenience. */
static int
parse_fields(const char *fields)
{
	static char buf[HTTP_HEAD_MAX * 2];

	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a.test\r\n%s\r\n", fields);
	return parse(buf);
}

static int
host(const char *value)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", value);
	return parse(buf);
}

static int
head_end(const char *s, size_t *hl)
{
	return http_head_end(s, strlen(s), hl);
}

/* A head of n bytes exactly, made of filler fields. */
static char *
big_head(size_t line_len, size_t nfields, size_t field_len)
{
	size_t cap = line_len + nfields * (field_len + 16) + 64, i;
	char *s = malloc(cap), *p = s;

	p += sprintf(p, "GET /");
	for (i = 5; i + 9 < line_len; i++)
		*p++ = 'a';
	p += sprintf(p, " HTTP/1.1\r\nHost: a.test\r\n");
	for (i = 0; i < nfields; i++) {
		p += sprintf(p, "X-%zu: ", i);
		memset(p, 'v', field_len);
		p += field_len;
		p += sprintf(p, "\r\n");
	}
	p += sprintf(p, "\r\n");
	return s;
}

/* Decode all of in, fed in pieces of `step` bytes, into out. Returns the
 * decoder's last result; *used is the total input consumed. */
static int
chunked(const char *in, size_t inlen, size_t step, char *out, size_t outcap,
    size_t *used, size_t *made)
{
	struct http_chunked c;
	size_t off = 0, u, m, n;
	int r = 0;

	http_chunked_init(&c);
	*made = 0;
	while (off < inlen) {
		n = inlen - off < step ? inlen - off : step;
		r = http_chunked_decode(&c, in + off, n, &u, out + *made,
		    outcap - *made, &m);
		off += u;
		*made += m;
		if (r != 0)
			break;
		if (u == 0 && m == 0)
			break;
	}
	*used = off;
	return r;
}

static int
chunk_status(const char *s)
{
	char out[256];
	size_t used, made;

	return chunked(s, strlen(s), 1000, out, sizeof(out), &used, &made);
}

static void
test_head_end(void)
{
	size_t hl;
	const char *two = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
	char *s;

	CHECK("head_end.incomplete", head_end("GET / HTTP/1.1\r\nHost: a\r\n", &hl) == 0 && hl == 0);
	CHECK("head_end.cr_pending", head_end("GET / HTTP/1.1\r\nHost: a\r\n\r", &hl) == 0);
	CHECK("head_end.complete", head_end("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &hl) == 1 && hl == 27);
	CHECK("head_end.pipelined", head_end(two, &hl) == 1 && hl == 28 &&
	    head_end(two + hl, &hl) == 1 && hl == 28);
	CHECK("head_end.leading_crlf", head_end("\r\n\r\nGET / HTTP/1.0\r\n\r\n", &hl) == 1 && hl == 22);
	CHECK("head_end.bare_lf", head_end("GET / HTTP/1.1\nHost: a\n\n", &hl) == 400);
	CHECK("head_end.bare_lf_field", head_end("GET / HTTP/1.1\r\nHost: a\n\r\n", &hl) == 400);
	CHECK("head_end.bare_cr", head_end("GET / HTTP/1.1\rHost: a\r\n\r\n", &hl) == 400);
	s = big_head(HTTP_LINE_MAX, 0, 0);
	CHECK("head_end.line_max_ok", head_end(s, &hl) == 1);
	free(s);
	s = big_head(HTTP_LINE_MAX + 1, 0, 0);
	CHECK("head_end.line_414", head_end(s, &hl) == 414);
	s[HTTP_LINE_MAX + 1] = '\0';            /* no CRLF yet */
	CHECK("head_end.line_414_partial", head_end(s, &hl) == 414);
	free(s);
	s = big_head(100, 1, HTTP_HEAD_MAX);
	CHECK("head_end.head_431", head_end(s, &hl) == 431);
	s[HTTP_HEAD_MAX + 10] = '\0';
	CHECK("head_end.head_431_partial", head_end(s, &hl) == 431);
	free(s);
	s = big_head(100, 1, HTTP_HEAD_MAX - 100 - 30);
	CHECK("head_end.head_max_ok", strlen(s) <= HTTP_HEAD_MAX && head_end(s, &hl) == 1 &&
	    http_parse_request(&req, s, hl) == 0);
	free(s);
}

static void
test_good(void)
{
	CHECK("parse.get", parse("GET /a/b?x=1&y HTTP/1.1\r\nHost: Example.ORG:8080\r\n"
	    "User-Agent: t\r\n\r\n") == 0 &&
	    req.method == HTTP_GET && strcmp(req.method_name, "GET") == 0 &&
	    strcmp(req.target, "/a/b?x=1&y") == 0 && strcmp(req.path, "/a/b") == 0 &&
	    strcmp(req.query, "x=1&y") == 0 && req.minor == 1 &&
	    strcmp(req.host, "example.org") == 0 && req.port == 8080 &&
	    req.keep_alive == 1 && req.body == HTTP_BODY_NONE && req.nfields == 2);
	CHECK("parse.head", parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n") == 0 &&
	    req.method == HTTP_HEAD && *req.query == '\0');
	CHECK("parse.post_cl", parse("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n") == 0 &&
	    req.method == HTTP_POST && req.body == HTTP_BODY_LENGTH && req.content_length == 42);
	CHECK("parse.post_chunked", parse("POST /f HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding:  Chunked \r\n\r\n") == 0 && req.body == HTTP_BODY_CHUNKED);
	CHECK("parse.http10_no_host", parse("GET / HTTP/1.0\r\n\r\n") == 0 &&
	    req.minor == 0 && *req.host == '\0' && req.keep_alive == 0);
	CHECK("parse.http10_keepalive", parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") == 0 &&
	    req.keep_alive == 1);
	CHECK("parse.http11_close", parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n") == 0 &&
	    req.keep_alive == 0);
	CHECK("parse.connection_empty_elements", parse_fields("Connection: ,, keep-alive ,\r\n") == 0 &&
	    req.keep_alive == 1);
	CHECK("parse.ows_trimmed", parse_fields("X-A: \t v w \t\r\n") == 0 &&
	    strcmp(http_field(&req, "x-a"), "v w") == 0);
	CHECK("parse.field_lookup_case", parse_fields("Content-Type: text/plain\r\n") == 0 &&
	    strcmp(http_field(&req, "CONTENT-TYPE"), "text/plain") == 0 &&
	    http_field(&req, "missing") == NULL);
	CHECK("parse.empty_value", parse_fields("X-Empty:\r\n") == 0 &&
	    strcmp(http_field(&req, "x-empty"), "") == 0);
	CHECK("parse.obs_text_value", parse_fields("X-A: caf\xc3\xa9\r\n") == 0);
	CHECK("parse.absolute_form", parse("GET http://B.test:81/p?q HTTP/1.1\r\nHost: a.test\r\n\r\n") == 0 &&
	    strcmp(req.host, "b.test") == 0 && req.port == 81 &&
	    strcmp(req.target, "/p?q") == 0 && strcmp(req.path, "/p") == 0 &&
	    strcmp(req.query, "q") == 0);
	CHECK("parse.absolute_form_no_path", parse("GET https://b.test HTTP/1.1\r\nHost: a\r\n\r\n") == 0 &&
	    strcmp(req.host, "b.test") == 0 && strcmp(req.target, "/") == 0 &&
	    strcmp(req.path, "/") == 0);
	CHECK("parse.absolute_form_query_only", parse("GET http://b.test?x HTTP/1.1\r\nHost: a\r\n\r\n") == 0 &&
	    strcmp(req.target, "/?x") == 0 && strcmp(req.query, "x") == 0);
	CHECK("parse.leading_crlf", parse("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
	CHECK("parse.expect_continue", parse_fields("Expect: 100-Continue\r\nContent-Length: 5\r\n") == 0 &&
	    req.expect_continue == 1);
	CHECK("parse.expect_continue_10_ignored",
	    parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n") == 0 &&
	    req.expect_continue == 0);
	CHECK("parse.cl_same_twice", parse_fields("Content-Length: 5\r\nContent-Length: 5\r\n") == 0 &&
	    req.content_length == 5);
	CHECK("parse.cl_list_same", parse_fields("Content-Length: 7, 7\r\n") == 0 &&
	    req.content_length == 7);
	CHECK("parse.cl_zero", parse_fields("Content-Length: 0\r\n") == 0 &&
	    req.body == HTTP_BODY_LENGTH && req.content_length == 0);
	CHECK("parse.cl_18_digits", parse_fields("Content-Length: 999999999999999999\r\n") == 0 &&
	    req.content_length == 999999999999999999ULL);
	CHECK("parse.path_pct_ok", parse("GET /%41%2f%2E HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
	CHECK("parse.query_pct_free", parse("GET /?a=100% HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
}

static void
test_request_line_errors(void)
{
	CHECK("err.method_connect", parse("CONNECT a.test:443 HTTP/1.1\r\nHost: a\r\n\r\n") == 501 &&
	    req.minor == 1 && req.keep_alive == 0);
	CHECK("err.options_star", parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == 501);
	CHECK("err.get_star", parse("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.method_bad", parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.method_empty", parse(" / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.two_spaces", parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.trailing_space", parse("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == 400);
	CHECK("err.tab_sep", parse("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.http09", parse("GET /\r\n\r\n") == 400);
	CHECK("err.version_20", parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505 && req.keep_alive == 0);
	CHECK("err.version_12", parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == 505 && req.minor == 1);
	CHECK("err.version_30", parse("GET / HTTP/3.0\r\nHost: a\r\n\r\n") == 505);
	CHECK("err.version_09", parse("GET / HTTP/0.9\r\nHost: a\r\n\r\n") == 505);
	CHECK("err.version_lower", parse("GET / http/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.version_110", parse("GET / HTTP/1.10\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.version_1", parse("GET / HTTP/1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.target_relative", parse("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.target_fragment", parse("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.target_ctl", parse("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.target_del", parse("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.target_8bit", parse("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.target_nul", PARSE_BYTES("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.pct_zz", parse("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.pct_short", parse("GET /%0 HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.abs_userinfo", parse("GET http://u@b.test/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.abs_ftp", parse("GET ftp://b.test/ HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.abs_empty_host", parse("GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.abs_bad_host_field", parse("GET http://b.test/ HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);
	CHECK("err.bare_lf", parse("GET / HTTP/1.1\nHost: a\r\n\r\n") == 400);
	CHECK("err.minor_kept", parse("GET / HTTP/1.0\r\nX: \x01\r\n\r\n") == 400 &&
	    req.minor == 0 && req.keep_alive == 0);
}

/* Every method token parses (RFC 9110 9.1); the known ones get their enum
 * value, the rest HTTP_OTHER, and all keep their name as sent. */
static void
test_methods(void)
{
	static const struct { const char *line; enum http_method m; } ok[] = {
		{ "PUT /x HTTP/1.1", HTTP_PUT },
		{ "DELETE /x HTTP/1.1", HTTP_DELETE },
		{ "PATCH /x HTTP/1.1", HTTP_PATCH },
		{ "OPTIONS /x HTTP/1.1", HTTP_OPTIONS },
		{ "FROBNICATE /x HTTP/1.1", HTTP_OTHER },
		{ "PROPFIND /x HTTP/1.1", HTTP_OTHER },
		{ "M-SEARCH /x HTTP/1.1", HTTP_OTHER },
		{ "get /x HTTP/1.1", HTTP_OTHER },      /* case-sensitive */
		{ "Put /x HTTP/1.1", HTTP_OTHER },
		{ "GETS /x HTTP/1.1", HTTP_OTHER },
		{ "!#$%&'*+-.^_`|~09 /x HTTP/1.1", HTTP_OTHER },
	};
	char buf[256], name[64], longest[HTTP_METHOD_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "%s\r\nHost: a\r\n"
		    "Content-Length: 3\r\n\r\n", ok[i].line);
		snprintf(name, sizeof(name), "method.%.*s",
		    (int)strcspn(ok[i].line, " "), ok[i].line);
		CHECK(name, parse(buf) == 0 && req.method == ok[i].m &&
		    strncmp(req.method_name, ok[i].line, strlen(req.method_name)) == 0 &&
		    ok[i].line[strlen(req.method_name)] == ' ' &&
		    strcmp(req.path, "/x") == 0 && req.body == HTTP_BODY_LENGTH &&
		    req.content_length == 3 && req.keep_alive == 1);
	}
	memset(longest, 'X', sizeof(longest));
	longest[HTTP_METHOD_MAX] = '\0';
	snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", longest);
	CHECK("method.longest", parse(buf) == 0 && req.method == HTTP_OTHER &&
	    strlen(req.method_name) == HTTP_METHOD_MAX);
	longest[HTTP_METHOD_MAX] = 'X';
	longest[HTTP_METHOD_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", longest);
	CHECK("method.too_long_501", parse(buf) == 501 && req.keep_alive == 0);
	CHECK("method.trace_501", parse("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n") == 501);
	CHECK("method.connect_origin_501",
	    parse("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n") == 501);
	CHECK("method.ctl_400", PARSE_BYTES("GE\x01T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("method.utf8_400", parse("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("method.slash_400", parse("GET/ / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
	CHECK("method.options_absolute", parse("OPTIONS http://a.test/x HTTP/1.1\r\n"
	    "Host: a.test\r\n\r\n") == 0 && req.method == HTTP_OPTIONS &&
	    strcmp(req.path, "/x") == 0);
	CHECK("method.star_other_400", parse("FROB * HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
}

static void
test_field_errors(void)
{
	char *s;
	size_t i;

	CHECK("err.no_host_11", parse("GET / HTTP/1.1\r\n\r\n") == 400);
	CHECK("err.two_hosts", parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
	CHECK("err.two_hosts_10", parse("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
	CHECK("err.empty_name", parse_fields(": x\r\n") == 400);
	CHECK("err.space_before_colon", parse_fields("X-A : x\r\n") == 400);
	CHECK("err.space_host_colon", parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);
	CHECK("err.obs_fold", parse_fields("X-A: x\r\n y\r\n") == 400);
	CHECK("err.obs_fold_tab", parse_fields("X-A: x\r\n\ty\r\n") == 400);
	CHECK("err.leading_ws_field", parse("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == 400);
	CHECK("err.no_colon", parse_fields("X-A x\r\n") == 400);
	CHECK("err.ctl_value", parse_fields("X-A: a\x0b" "b\r\n") == 400);
	CHECK("err.del_value", parse_fields("X-A: a\x7f\r\n") == 400);
	CHECK("err.nul_value", PARSE_BYTES("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n") == 400);
	CHECK("err.bare_cr_value", parse_fields("X-A: a\rb\r\n") == 400);
	CHECK("err.name_8bit", parse_fields("X-\xc3\xa9: a\r\n") == 400);
	CHECK("err.no_final_crlf", parse("GET / HTTP/1.1\r\nHost: a\r\n") == 400);
	CHECK("err.bytes_after_head", parse("GET / HTTP/1.1\r\nHost: a\r\n\r\nX") == 400);
	s = big_head(20, HTTP_FIELDS_MAX, 2);   /* Host + 64 = 65 fields */
	CHECK("err.fields_431", parse(s) == 431);
	free(s);
	s = big_head(20, HTTP_FIELDS_MAX - 1, 2);
	CHECK("parse.fields_64_ok", parse(s) == 0 && req.nfields == HTTP_FIELDS_MAX);
	free(s);
	s = malloc(HTTP_HEAD_MAX + 100);
	memcpy(s, "GET /", 5);
	for (i = 5; i < HTTP_LINE_MAX + 5; i++)
		s[i] = 'a';
	strcpy(s + i, " HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK("err.parse_414", parse(s) == 414);
	free(s);
	CHECK("err.expect_other", parse_fields("Expect: 200-ok\r\n") == 417 && req.keep_alive == 0);
}

static void
test_smuggling(void)
{
	CHECK("smug.cl_te", parse_fields("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n") == 400);
	CHECK("smug.te_cl", parse_fields("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n") == 400);
	CHECK("smug.cl_differ", parse_fields("Content-Length: 4\r\nContent-Length: 5\r\n") == 400);
	CHECK("smug.cl_list_differ", parse_fields("Content-Length: 4, 5\r\n") == 400);
	CHECK("smug.cl_negative", parse_fields("Content-Length: -1\r\n") == 400);
	CHECK("smug.cl_plus", parse_fields("Content-Length: +4\r\n") == 400);
	CHECK("smug.cl_hex", parse_fields("Content-Length: 0x4\r\n") == 400);
	CHECK("smug.cl_inner_space", parse_fields("Content-Length: 1 2\r\n") == 400);
	CHECK("smug.cl_empty", parse_fields("Content-Length: \r\n") == 400);
	CHECK("smug.cl_empty_element", parse_fields("Content-Length: 4,\r\n") == 400);
	CHECK("smug.cl_19_digits", parse_fields("Content-Length: 1000000000000000000\r\n") == 400);
	CHECK("smug.cl_overflow", parse_fields("Content-Length: 18446744073709551617\r\n") == 400);
	CHECK("smug.te_twice", parse_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") == 400);
	CHECK("smug.te_list_twice", parse_fields("Transfer-Encoding: chunked, chunked\r\n") == 400);
	CHECK("smug.te_gzip_chunked", parse_fields("Transfer-Encoding: gzip, chunked\r\n") == 400);
	CHECK("smug.te_identity", parse_fields("Transfer-Encoding: identity\r\n") == 501);
	CHECK("smug.te_xchunked", parse_fields("Transfer-Encoding: xchunked\r\n") == 501);
	CHECK("smug.te_vtab", parse_fields("Transfer-Encoding: chunked\x0b\r\n") == 400);
	CHECK("smug.te_param", parse_fields("Transfer-Encoding: chunked;a=b\r\n") == 400);
	CHECK("smug.te_empty", parse_fields("Transfer-Encoding: \r\n") == 400);
	CHECK("smug.te_quoted", parse_fields("Transfer-Encoding: \"chunked\"\r\n") == 400);
	CHECK("smug.te_10", parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
	CHECK("smug.te_space_name", parse_fields("Transfer-Encoding : chunked\r\n") == 400);
}

static void
test_host(void)
{
	char big[400];

	CHECK("host.empty", host("") == 400);
	CHECK("host.dot", host(".") == 400);
	CHECK("host.dotdot", host("..") == 400);
	CHECK("host.leading_dot", host(".a.test") == 400);
	CHECK("host.double_dot", host("a..test") == 400);
	CHECK("host.trailing_dot", host("A.Test.") == 0 && strcmp(req.host, "a.test") == 0);
	CHECK("host.two_trailing_dots", host("a.test..") == 400);
	CHECK("host.slash", host("a/b") == 400);
	CHECK("host.dotdot_slash", host("../../etc") == 400);
	CHECK("host.backslash", host("a\\b") == 400);
	CHECK("host.at", host("u@a.test") == 400);
	CHECK("host.space", host("a b") == 400);
	CHECK("host.pct", host("a%2ftest") == 400);
	CHECK("host.nul", PARSE_BYTES("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n") == 400);
	CHECK("host.underscore", host("a_b.test") == 0);
	CHECK("host.ipv4", host("127.0.0.1:8080") == 0 && strcmp(req.host, "127.0.0.1") == 0 &&
	    req.port == 8080);
	CHECK("host.ipv6", host("[::1]") == 0 && strcmp(req.host, "[::1]") == 0 && req.port == 0);
	CHECK("host.ipv6_port", host("[2001:DB8::1]:443") == 0 &&
	    strcmp(req.host, "[2001:db8::1]") == 0 && req.port == 443);
	CHECK("host.ipv6_bad", host("[::g]") == 400);
	CHECK("host.ipv6_unclosed", host("[::1") == 400);
	CHECK("host.ipv6_empty", host("[]") == 400);
	CHECK("host.ipv6_zone", host("[fe80::1%25eth0]") == 400);
	CHECK("host.ipv6_junk_after", host("[::1]x") == 400);
	CHECK("host.ipv6_bare", host("::1") == 400);
	CHECK("host.port_zero", host("a:0") == 400);
	CHECK("host.port_big", host("a:65536") == 400);
	CHECK("host.port_max", host("a:65535") == 0 && req.port == 65535);
	CHECK("host.port_empty", host("a:") == 400);
	CHECK("host.port_sign", host("a:+80") == 400);
	CHECK("host.port_long", host("a:000080") == 400);
	CHECK("host.port_two", host("a:80:80") == 400);
	CHECK("host.port_only", host(":80") == 400);
	memset(big, 'a', 63);
	big[63] = '.';
	memset(big + 64, 'b', 63);
	big[127] = '.';
	memset(big + 128, 'c', 63);
	big[191] = '.';
	memset(big + 192, 'd', 61);
	big[253] = '\0';
	CHECK("host.253_ok", host(big) == 0 && strlen(req.host) == 253);
	big[253] = 'd';
	big[254] = '\0';
	CHECK("host.254", host(big) == 400);
	memset(big, 'a', 64);
	big[64] = '\0';
	CHECK("host.label_64", host(big) == 400);
}

static void
test_chunked(void)
{
	const char *good = "4\r\nWiki\r\n5;a=b;c=\"d\\\"e\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
	    "0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\n";
	const char *want = "Wikipedia in\r\n\r\nchunks.";
	char out[256], small[3];
	size_t used, made, step, total;
	int ok = 1, r;
	struct http_chunked c;

	for (step = 1; step <= strlen(good); step++) {
		r = chunked(good, strlen(good), step, out, sizeof(out), &used, &made);
		if (r != 1 || made != 23 || memcmp(out, "Wikipedia in\r\n\r\nchunks.", 23) != 0 ||
		    strcmp(good + used, "GET / HTTP/1.1\r\n") != 0)
			ok = 0;
	}
	CHECK("chunk.good_every_split", ok);
	/* An output buffer of 3 bytes: decoded in pieces, nothing lost. */
	http_chunked_init(&c);
	total = 0;
	used = 0;
	ok = 1;
	for (step = 0; step < 100; step++) {
		size_t u;

		r = http_chunked_decode(&c, good + used, strlen(good) - used, &u,
		    small, sizeof(small), &made);
		if (made > sizeof(small) || memcmp(small, want + total, made) != 0)
			ok = 0;
		total += made;
		used += u;
		if (r != 0)
			break;
	}
	CHECK("chunk.small_out", ok && r == 1 && total == 23 &&
	    strcmp(good + used, "GET / HTTP/1.1\r\n") == 0);
	CHECK("chunk.done_sticky", http_chunked_decode(&c, "x", 1, &used, out, 1, &made) == 1 &&
	    used == 0 && made == 0);
	CHECK("chunk.bws_before_ext", chunk_status("1 ;a\r\nx\r\n0\r\n\r\n") == 1);
	CHECK("chunk.upper_hex", chunk_status("A\r\n0123456789\r\n0\r\n\r\n") == 1);
	CHECK("chunk.16_digits", chunk_status("0000000000000001\r\nx\r\n0\r\n\r\n") == 1);
	CHECK("chunk.incomplete", chunk_status("5\r\nab") == 0);
	CHECK("chunk.underscore", chunk_status("0_0\r\n\r\n") == 400);
	CHECK("chunk.0x", chunk_status("0x1\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.leading_space", chunk_status(" 1\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.trailing_space", chunk_status("1 \r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.negative", chunk_status("-1\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.plus", chunk_status("+1\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.empty_size", chunk_status("\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.17_digits", chunk_status("00000000000000001\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.overflow", chunk_status("10000000000000000\r\n") == 400);
	CHECK("chunk.huge_ok_but_waits", chunk_status("ffffffffffffffff\r\nabc") == 0);
	CHECK("chunk.lf_only", chunk_status("1\nx\n0\n\n") == 400);
	CHECK("chunk.bare_cr", chunk_status("1\rx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.no_crlf_after_data", chunk_status("1\r\nxy\r\n0\r\n\r\n") == 400);
	CHECK("chunk.lf_after_data", chunk_status("1\r\nx\n0\r\n\r\n") == 400);
	CHECK("chunk.ext_ctl", chunk_status("1;a\x01\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.ext_empty_name", chunk_status("1;\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.ext_bad_value", chunk_status("1;a=\r\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.ext_lf", chunk_status("1;a\nx\r\n0\r\n\r\n") == 400);
	CHECK("chunk.ext_unclosed_quote", chunk_status("1;a=\"b\r\nx\r\n0\r\n\r\n") == 400);
	{
		char ext[HTTP_CHUNK_EXT_MAX + 64];

		memset(ext, 0, sizeof(ext));
		strcpy(ext, "1;a=");
		memset(ext + 4, 'b', HTTP_CHUNK_EXT_MAX);
		strcat(ext, "\r\nx\r\n0\r\n\r\n");
		CHECK("chunk.ext_too_long", chunk_status(ext) == 400);
	}
	CHECK("chunk.trailer_obs_fold", chunk_status("0\r\nA: b\r\n c\r\n\r\n") == 400);
	CHECK("chunk.trailer_no_colon", chunk_status("0\r\nAb\r\n\r\n") == 400);
	CHECK("chunk.trailer_empty_name", chunk_status("0\r\n: b\r\n\r\n") == 400);
	CHECK("chunk.trailer_space_name", chunk_status("0\r\nA : b\r\n\r\n") == 400);
	{
		char tr[65 * 8 + 16], *p = tr;
		int i;

		p += sprintf(p, "0\r\n");
		for (i = 0; i < 65; i++)
			p += sprintf(p, "T%d: v\r\n", i);
		sprintf(p, "\r\n");
		CHECK("chunk.trailers_65", chunk_status(tr) == 400);
	}
	CHECK("chunk.error_sticky", chunk_status("g\r\n") == 400);
}

/* Every status RFC 9110 section 15 defines, and 429 (RFC 6585). */
static void
test_reasons(void)
{
	static const struct { int code; const char *phrase; } table[] = {
		{ 100, "Continue" }, { 101, "Switching Protocols" },
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 203, "Non-Authoritative Information" }, { 204, "No Content" },
		{ 205, "Reset Content" }, { 206, "Partial Content" },
		{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 303, "See Other" }, { 304, "Not Modified" },
		{ 305, "Use Proxy" }, { 307, "Temporary Redirect" },
		{ 308, "Permanent Redirect" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 402, "Payment Required" },
		{ 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
		{ 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
		{ 411, "Length Required" }, { 412, "Precondition Failed" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" },
		{ 421, "Misdirected Request" }, { 422, "Unprocessable Content" },
		{ 426, "Upgrade Required" }, { 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
	};
	struct http_out o;
	char head[HTTP_OUT_MAX], name[32], longest[HTTP_REASON_MAX + 2];
	size_t i;
	int all = 1;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(http_reason(table[i].code), table[i].phrase) != 0) {
			snprintf(name, sizeof(name), "reason.%d", table[i].code);
			CHECK(name, 0);
			all = 0;
		}
	}
	CHECK("reason.rfc9110_table", all);
	CHECK("reason.unknown_empty", strcmp(http_reason(299), "") == 0 &&
	    strcmp(http_reason(418), "") == 0 && strcmp(http_reason(306), "") == 0);
	CHECK("reason_ok.plain", http_reason_ok("Created") && http_reason_ok("A-OK, 100%") &&
	    http_reason_ok("caf\xc3\xa9") && http_reason_ok("a\tb"));
	CHECK("reason_ok.refused", !http_reason_ok(NULL) && !http_reason_ok("") &&
	    !http_reason_ok(" lead") && !http_reason_ok("a\rb") &&
	    !http_reason_ok("a\nb") && !http_reason_ok("a\x7f") &&
	    !http_reason_ok("a\x1b[0m"));
	memset(longest, 'r', sizeof(longest));
	longest[HTTP_REASON_MAX] = '\0';
	CHECK("reason_ok.longest", http_reason_ok(longest));
	longest[HTTP_REASON_MAX] = 'r';
	longest[HTTP_REASON_MAX + 1] = '\0';
	CHECK("reason_ok.too_long", !http_reason_ok(longest));
	http_out_begin_reason(&o, head, sizeof(head), 201, "Made It");
	CHECK("out.reason_given", strncmp(o.buf, "HTTP/1.1 201 Made It\r\n", 22) == 0);
	http_out_begin_reason(&o, head, sizeof(head), 599, "Custom Thing");
	CHECK("out.reason_custom", strncmp(o.buf, "HTTP/1.1 599 Custom Thing\r\n", 27) == 0);
	http_out_begin_reason(&o, head, sizeof(head), 409, "Bad\r\nX-Evil: 1");
	CHECK("out.reason_ctl_table", strncmp(o.buf, "HTTP/1.1 409 Conflict\r\n", 23) == 0);
	http_out_begin_reason(&o, head, sizeof(head), 422, "");
	CHECK("out.reason_empty_table",
	    strncmp(o.buf, "HTTP/1.1 422 Unprocessable Content\r\n", 36) == 0);
	http_out_begin_reason(&o, head, sizeof(head), 299, NULL);
	CHECK("out.reason_none_empty", strncmp(o.buf, "HTTP/1.1 299 \r\n", 15) == 0);
	http_out_begin_reason(&o, head, sizeof(head), 1000, "Nope");
	CHECK("out.reason_bad_code", strncmp(o.buf, "HTTP/1.1 500 Internal Server Error\r\n", 36) == 0);
}

static void
test_out(void)
{
	struct http_out o;
	char big[HTTP_OUT_MAX], head[HTTP_OUT_MAX + 16];
	int i;

	http_out_begin(&o, head, sizeof(head), 404);
	CHECK("out.cap_at_most_max", o.cap == HTTP_OUT_MAX);
	http_out_field(&o, "Content-Length", "%d", 12);
	http_out_field(&o, "X-Evil", "a\r\nSet-Cookie: x=%s", "y\r\n");
	CHECK("out.end", http_out_end(&o) == 0);
	o.buf[o.len < o.cap ? o.len : o.cap - 1] = '\0';
	CHECK("out.status_line", strncmp(o.buf, "HTTP/1.1 404 Not Found\r\nDate: ", 30) == 0);
	CHECK("out.server", strstr(o.buf, "\r\nServer: itkd\r\n") != NULL);
	CHECK("out.field", strstr(o.buf, "\r\nContent-Length: 12\r\n") != NULL);
	CHECK("out.no_injection", strstr(o.buf, "\r\nSet-Cookie") == NULL &&
	    strstr(o.buf, "X-Evil: a  Set-Cookie: x=y  \r\n") != NULL);
	CHECK("out.ends_blank", o.len > 4 && memcmp(o.buf + o.len - 4, "\r\n\r\n", 4) == 0);
	http_out_begin(&o, head, sizeof(head), 200);
	http_out_field(&o, "Bad\r\nName", "x");
	CHECK("out.bad_name", http_out_end(&o) == -1);
	http_out_begin(&o, head, sizeof(head), 200);
	memset(big, 'x', 1000);
	big[1000] = '\0';
	for (i = 0; i < 5; i++)
		http_out_field(&o, "X-Big", "%s", big);
	CHECK("out.overflow", http_out_end(&o) == -1 && o.len <= o.cap);
	/* A smaller buffer than HTTP_OUT_MAX (what is left of a connection's
	 * write buffer): its end is respected. */
	http_out_begin(&o, head, 40, 200);
	CHECK("out.small_buffer", o.len <= 40 && http_out_end(&o) == -1 &&
	    o.len <= 40);
	http_out_begin(&o, head, sizeof(head), 200);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	http_out_field(&o, "X-Huge", "%s", big);
	CHECK("out.overflow_one_field", o.overflow && http_out_end(&o) == -1);
	http_out_begin(&o, head, sizeof(head), 200);
	CHECK("out.overflow_reset", http_out_end(&o) == 0);
	test_reasons();
	CHECK("reason.all", strcmp(http_reason(417), "Expectation Failed") == 0 &&
	    strcmp(http_reason(431), "Request Header Fields Too Large") == 0 &&
	    strcmp(http_reason(505), "HTTP Version Not Supported") == 0 &&
	    strcmp(http_reason(308), "Permanent Redirect") == 0 &&
	    strcmp(http_reason(421), "Misdirected Request") == 0);
	{
		char body[256];
		size_t n = http_error_body(body, sizeof(body), 404);

		CHECK("error_body", n == strlen(body) && strstr(body, "404 Not Found") != NULL);
		n = http_error_body(body, 10, 404);
		CHECK("error_body_small", n == 9 && strlen(body) == 9);
	}
}

static void
test_dates(void)
{
	char buf[64];

	CHECK("date.format", http_date(buf, sizeof(buf), 784111777) == 29 &&
	    strcmp(buf, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);
	CHECK("date.epoch", http_date(buf, sizeof(buf), 0) == 29 &&
	    strcmp(buf, "Thu, 01 Jan 1970 00:00:00 GMT") == 0);
	CHECK("date.year_10000_clamps", http_date(buf, sizeof(buf), (time_t)253402300800LL + 86400) == 29 &&
	    strcmp(buf, "Fri, 31 Dec 9999 23:59:59 GMT") == 0);
	CHECK("date.huge_clamps", http_date(buf, sizeof(buf), (time_t)0x7fffffffffffffffLL) == 29 &&
	    strcmp(buf, "Fri, 31 Dec 9999 23:59:59 GMT") == 0);
	CHECK("date.negative_clamps", http_date(buf, sizeof(buf), -5) == 29 &&
	    strcmp(buf, "Thu, 01 Jan 1970 00:00:00 GMT") == 0);
	CHECK("date.small_buf", http_date(buf, 10, 0) == 0 && buf[0] == '\0');
	CHECK("date.parse_imf", http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
	CHECK("date.parse_850", http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
	CHECK("date.parse_asctime", http_date_parse("Sun Nov  6 08:49:37 1994") == 784111777);
	CHECK("date.parse_asctime_2digit", http_date_parse("Sun Nov 16 08:49:37 1994") == 784111777 + 864000);
	CHECK("date.parse_9999", http_date_parse("Fri, 31 Dec 9999 23:59:59 GMT") == 253402300799LL);
	CHECK("date.parse_leap", http_date_parse("Thu, 29 Feb 2024 00:00:00 GMT") == 1709164800);
	CHECK("date.roundtrip", http_date(buf, sizeof(buf), 1700000000) == 29 &&
	    http_date_parse(buf) == 1700000000);
	CHECK("date.bad_feb29", http_date_parse("Wed, 29 Feb 2023 00:00:00 GMT") == -1);
	CHECK("date.bad_month", http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT") == -1);
	CHECK("date.bad_hour", http_date_parse("Sun, 06 Nov 1994 24:49:37 GMT") == -1);
	CHECK("date.bad_zone", http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC") == -1);
	CHECK("date.bad_trailing", http_date_parse("Sun, 06 Nov 1994 08:49:37 GMTx") == -1);
	CHECK("date.bad_before_1970", http_date_parse("Sun, 06 Nov 1960 08:49:37 GMT") == -1);
	CHECK("date.bad_empty", http_date_parse("") == -1);
	CHECK("date.bad_day0", http_date_parse("Sun, 00 Nov 1994 08:49:37 GMT") == -1);
	CHECK("date.bad_sign", http_date_parse("Sun, 06 Nov +994 08:49:37 GMT") == -1);
}

int
main(void)
{
	test_head_end();
	test_good();
	test_request_line_errors();
	test_methods();
	test_field_errors();
	test_smuggling();
	test_host();
	test_chunked();
	test_out();
	test_dates();
	return UNIT_END();
}
