/* tests/unit_cgi.c: the CGI header block parser (RFC 3875 section 6), and
 * the head of an nph- script's answer. */
#include <string.h>

#include "cgi.h"
#include "unit.h"

static struct cgi_head h;

static int
parse(const char *s)
{
	return cgi_parse_headers(s, strlen(s), &h);
}

/* The value of a passed-on field, or NULL. */
static const char *
field(const char *name)
{
	size_t i;

	for (i = 0; i < h.nfields; i++)
		if (strcmp(h.fields[i].name, name) == 0)
			return h.fields[i].value;
	return NULL;
}

static void
basics(void)
{
	const char *s = "Content-Type: text/html\r\n\r\nbody";

	CHECK("crlf_length", parse(s) == (int)(strlen(s) - 4));
	CHECK("crlf_type", h.content_type && strcmp(h.content_type, "text/html") == 0);
	CHECK("no_status", h.status == 0 && h.reason == NULL);
	CHECK("lf_only", parse("Content-Type: text/plain\n\nx") == 26);
	CHECK("mixed_endings", parse("Content-Type: a/b\r\nX-A: 1\n\r\n") == 28);
	CHECK("incomplete", parse("Content-Type: text/plain\r\n") == 0);
	CHECK("incomplete_line", parse("Content-Ty") == 0);
	CHECK("empty_input", cgi_parse_headers("", 0, &h) == 0);
	CHECK("trim_blanks", parse("Content-Type: \t a/b \t\r\n\r\n") > 0 &&
	    strcmp(h.content_type, "a/b") == 0);
	CHECK("case_insensitive", parse("content-TYPE: a/b\n\n") > 0 &&
	    h.content_type != NULL);
	CHECK("other_fields_kept", parse("Content-Type: a/b\nX-One: 1\n"
	    "Set-Cookie: a=b\nSet-Cookie: c=d\n\n") > 0 && h.nfields == 3 &&
	    strcmp(field("X-One"), "1") == 0);
	CHECK("empty_value_ok", parse("Content-Type: a/b\nX-Empty:\n\n") > 0 &&
	    strcmp(field("X-Empty"), "") == 0);
}

static void
status(void)
{
	CHECK("status_reason", parse("Status: 404 Not Found\nContent-Type: a/b\n\n") > 0 &&
	    h.status == 404 && strcmp(h.reason, "Not Found") == 0);
	CHECK("status_bare", parse("Status: 201\nContent-Type: a/b\n\n") > 0 &&
	    h.status == 201 && strcmp(h.reason, "") == 0);
	CHECK("status_not_passed", field("Status") == NULL);
	CHECK("status_1xx", parse("Status: 101 Switching\nContent-Type: a/b\n\n") < 0);
	CHECK("status_600", parse("Status: 600 X\nContent-Type: a/b\n\n") < 0);
	CHECK("status_letters", parse("Status: abc\nContent-Type: a/b\n\n") < 0);
	CHECK("status_4digits", parse("Status: 2000\nContent-Type: a/b\n\n") < 0);
	CHECK("status_twice", parse("Status: 200\nStatus: 404\nContent-Type: a/b\n\n") < 0);
	CHECK("status_204_no_type", parse("Status: 204 No Content\n\n") > 0);
	CHECK("status_304_no_type", parse("Status: 304\r\n\r\n") > 0);
	CHECK("status_500_no_type", parse("Status: 500\n\n") < 0);
	CHECK("status_custom_phrase", parse("Status: 299 Quite Fine\nContent-Type: a/b\n\n") > 0 &&
	    h.status == 299 && strcmp(h.reason, "Quite Fine") == 0);
	CHECK("status_phrase_ctl", parse("Status: 201 Cre\x01" "ated\nContent-Type: a/b\n\n") < 0 &&
	    strstr(h.error, "control byte") != NULL);
	CHECK("status_twice_why", parse("Status: 200\nStatus: 404\nContent-Type: a/b\n\n") < 0 &&
	    strcmp(h.error, "CGI response head refused: Status given twice") == 0);
	CHECK("no_type_why", parse("Status: 500\n\n") < 0 &&
	    strstr(h.error, "neither Content-Type nor Location") != NULL);
}

static void
location(void)
{
	CHECK("location_local", parse("Location: /a/b?x=1\n\n") > 0 &&
	    strcmp(h.location, "/a/b?x=1") == 0 && h.status == 0);
	CHECK("location_url", parse("Location: http://example.org/\n\n") > 0);
	CHECK("location_status", parse("Status: 301\nLocation: /x\n\n") > 0 &&
	    h.status == 301);
	CHECK("location_space", parse("Location: /a b\n\n") < 0);
	CHECK("location_empty", parse("Location:\n\n") < 0);
	CHECK("location_twice", parse("Location: /a\nLocation: /b\n\n") < 0);
	CHECK("type_twice", parse("Content-Type: a/b\nContent-Type: c/d\n\n") < 0);
	CHECK("no_type_no_location", parse("X-Foo: bar\n\n") < 0);
	CHECK("blank_first", parse("\r\n") < 0);
}

static void
length(void)
{
	CHECK("length", parse("Content-Type: a/b\nContent-Length: 1234\n\n") > 0 &&
	    h.has_length && h.content_length == 1234);
	CHECK("length_not_passed", field("Content-Length") == NULL);
	CHECK("length_same_twice", parse("Content-Type: a/b\nContent-Length: 5\n"
	    "Content-Length: 5\n\n") > 0);
	CHECK("length_differ", parse("Content-Type: a/b\nContent-Length: 5\n"
	    "Content-Length: 6\n\n") < 0);
	CHECK("length_negative", parse("Content-Type: a/b\nContent-Length: -1\n\n") < 0);
	CHECK("length_hex", parse("Content-Type: a/b\nContent-Length: 0x10\n\n") < 0);
	CHECK("length_huge", parse("Content-Type: a/b\nContent-Length: "
	    "99999999999999999999999\n\n") < 0);
	CHECK("length_empty", parse("Content-Type: a/b\nContent-Length:\n\n") < 0);
}

static void
malformed(void)
{
	char big[CGI_HEAD_MAX + 100], many[CGI_HEAD_MAX];
	size_t n = 0;
	int i;

	CHECK("no_colon", parse("Hello world\n\n") < 0);
	CHECK("no_colon_early", parse("Hello world\nContent-Type: a") < 0);
	CHECK("empty_name", parse(": x\nContent-Type: a/b\n\n") < 0);
	CHECK("space_in_name", parse("Content Type: a/b\n\n") < 0);
	CHECK("space_before_colon", parse("Content-Type : a/b\n\n") < 0);
	CHECK("folding", parse("Content-Type: a/b\n X: y\n\n") < 0);
	CHECK("tab_folding", parse("Content-Type: a/b\n\tmore\n\n") < 0);
	CHECK("bare_cr", parse("Content-Type: a/b\rX-Evil: 1\n\n") < 0);
	CHECK("double_cr", parse("Content-Type: a/b\r\r\n\r\n") < 0);
	CHECK("nul_in_value", cgi_parse_headers("Content-Type: a\0b\n\n", 19, &h) < 0);
	CHECK("nul_in_name", cgi_parse_headers("X\0Y: 1\nContent-Type: a/b\n\n", 26, &h) < 0);
	CHECK("del_in_value", parse("Content-Type: a\x7f" "b\n\n") < 0);
	CHECK("esc_in_value", parse("Content-Type: a/b\nX: \x1b[31m\n\n") < 0);
	CHECK("obs_text_ok", parse("Content-Type: a/b\nX: caf\xc3\xa9\n\n") > 0);
	memset(big, 'a', sizeof(big));
	memcpy(big, "X-Big: ", 7);
	CHECK("too_long_no_end", cgi_parse_headers(big, sizeof(big), &h) < 0 &&
	    strcmp(h.error, "CGI response head over 64 KiB") == 0);
	CHECK("exactly_max_no_end", cgi_parse_headers(big, CGI_HEAD_MAX, &h) < 0);
	CHECK("below_max_no_end", cgi_parse_headers(big, CGI_HEAD_MAX - 1, &h) == 0);
	n = (size_t)snprintf(many, sizeof(many), "Content-Type: a/b\n");
	for (i = 0; i < CGI_FIELDS_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "X-%d: v\n", i);
	n += (size_t)snprintf(many + n, sizeof(many) - n, "\n");
	CHECK("fields_max", cgi_parse_headers(many, n, &h) > 0 &&
	    h.nfields == CGI_FIELDS_MAX);
	n -= 1;
	n += (size_t)snprintf(many + n, sizeof(many) - n, "X-over: v\n\n");
	CHECK("fields_over_max", cgi_parse_headers(many, n, &h) < 0 &&
	    strstr(h.error, "more than 128 header fields") != NULL);
}

/* What PHP sends at a login: three 3,000-byte cookies, 9 KiB and more of
 * head (8 KiB was the old limit); and the largest head that fits. */
static void
big_heads(void)
{
	static char buf[CGI_HEAD_MAX + 4096];
	size_t n = 0;
	int i;

	CHECK("head_max_64k", CGI_HEAD_MAX == 65536);
	n = (size_t)snprintf(buf, sizeof(buf), "Content-Type: text/html\r\n");
	for (i = 0; i < 3; i++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Set-Cookie: c%d=", i);
		memset(buf + n, 'a' + i, 3000);
		n += 3000;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; Path=/\r\n");
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\nbody");
	CHECK("three_3000_byte_cookies", cgi_parse_headers(buf, n, &h) == (int)(n - 4) &&
	    h.nfields == 3 && strlen(h.fields[2].value) == 3 + 3000 + 8 &&
	    h.fields[2].value[3] == 'c');
	/* One field filling the block to exactly CGI_HEAD_MAX bytes. */
	n = (size_t)snprintf(buf, sizeof(buf), "Content-Type: a/b\nX-Fill: ");
	memset(buf + n, 'f', CGI_HEAD_MAX - n - 2);
	n = CGI_HEAD_MAX - 2;
	memcpy(buf + n, "\n\n", 2);
	n += 2;
	CHECK("exactly_64k_head", cgi_parse_headers(buf, n, &h) == CGI_HEAD_MAX &&
	    h.nfields == 1 && strlen(h.fields[0].value) == CGI_HEAD_MAX - 28);
	/* One byte more: the blank line is past the limit. */
	memmove(buf + 28, buf + 27, n - 27);
	n++;
	CHECK("64k_plus_one_refused", cgi_parse_headers(buf, n, &h) < 0 &&
	    strcmp(h.error, "CGI response head over 64 KiB") == 0);
}

static void
dropped(void)
{
	CHECK("hop_by_hop_dropped", parse("Content-Type: a/b\nConnection: close\n"
	    "Transfer-Encoding: chunked\nKeep-Alive: 5\nDate: x\nServer: y\n"
	    "X-Kept: 1\n\n") > 0 && h.nfields == 1 && field("X-Kept") != NULL);
	CHECK("reparse_resets", parse("Location: /x\n\n") > 0 &&
	    h.content_type == NULL && h.nfields == 0 && !h.has_length);
}

static int
nph(const char *s)
{
	return cgi_parse_nph(s, strlen(s), &h);
}

/* An nph- head is parsed, never passed through: what itkd sends is its own
 * head, so the bytes of a script cannot frame a response of their own. */
static void
nph_heads(void)
{
	const char *s = "HTTP/1.1 203 Non-Authoritative\r\nX-Nph: 1\r\n\r\nbody";
	char big[CGI_HEAD_MAX + 16];

	CHECK("nph_length", nph(s) == (int)(strlen(s) - 4));
	CHECK("nph_status", h.status == 203 &&
	    strcmp(h.reason, "Non-Authoritative") == 0);
	CHECK("nph_fields", h.nfields == 1 && strcmp(field("X-Nph"), "1") == 0);
	CHECK("nph_no_type_needed", nph("HTTP/1.0 200 OK\n\n") > 0 &&
	    h.content_type == NULL && h.status == 200);
	CHECK("nph_no_phrase", nph("HTTP/1.1 404\r\n\r\n") > 0 && h.status == 404);
	CHECK("nph_length_kept", nph("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
	    "helloHTTP/1.1 200 OK\r\n\r\n") > 0 && h.has_length &&
	    h.content_length == 5);
	CHECK("nph_connection_dropped", nph("HTTP/1.1 200 OK\r\n"
	    "Connection: keep-alive\r\nKeep-Alive: 5\r\n\r\n") > 0 && h.nfields == 0);
	CHECK("nph_incomplete_line", nph("HTTP/1.1 200 O") == 0);
	CHECK("nph_incomplete_head", nph("HTTP/1.1 200 OK\r\nX: 1\r\n") == 0);
	CHECK("nph_no_status_line", nph("Content-Type: a/b\r\n\r\n") < 0);
	CHECK("nph_bad_version", nph("HTTP/2.0 200 OK\r\n\r\n") < 0);
	CHECK("nph_http_1_2", nph("HTTP/1.2 200 OK\r\n\r\n") < 0);
	CHECK("nph_bad_code", nph("HTTP/1.1 2x0 OK\r\n\r\n") < 0);
	CHECK("nph_code_4_digits", nph("HTTP/1.1 2000 OK\r\n\r\n") < 0);
	CHECK("nph_interim_refused", nph("HTTP/1.1 101 Switching\r\n\r\n") < 0);
	CHECK("nph_100_refused", nph("HTTP/1.1 100 Continue\r\n\r\n") < 0);
	CHECK("nph_600_refused", nph("HTTP/1.1 600 X\r\n\r\n") < 0);
	CHECK("nph_two_blanks", nph("HTTP/1.1  200 OK\r\n\r\n") < 0);
	CHECK("nph_control_in_phrase", nph("HTTP/1.1 200 O\001K\r\n\r\n") < 0);
	CHECK("nph_status_field_refused", nph("HTTP/1.1 200 OK\r\nStatus: 404\r\n\r\n") < 0);
	CHECK("nph_transfer_encoding_refused",
	    nph("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") < 0);
	CHECK("nph_bad_field", nph("HTTP/1.1 200 OK\r\nno colon\r\n\r\n") < 0);
	CHECK("nph_folding", nph("HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\n\r\n") < 0);
	memcpy(big, "HTTP/1.1 200 ", 13);
	memset(big + 13, 'a', sizeof(big) - 13);
	CHECK("nph_status_line_too_long", cgi_parse_nph(big, sizeof(big), &h) < 0);
	CHECK("nph_reparse_resets", nph("HTTP/1.1 200 OK\r\n\r\n") > 0 &&
	    h.nfields == 0 && !h.has_length && !h.has_transfer_encoding);
}

int
main(void)
{
	basics();
	nph_heads();
	status();
	location();
	length();
	malformed();
	big_heads();
	dropped();
	return UNIT_END();
}
