/* tests/fuzz/fuzz_cgihdr.c: libFuzzer target for cgi_parse_headers, the
 * parser of what a CGI program writes (it runs as the vhost's identity,
 * but its bytes still decide what the client gets).
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *   -DITKD_VERSION='"fuzz"' -I. -o fuzz_cgihdr tests/fuzz/fuzz_cgihdr.c \
 *   $(ls *.c | grep -v '^itkd.c') -lbearssl -lcap
 * ./fuzz_cgihdr -max_total_time=60 tests/fuzz/corpus/cgihdr
 * Besides memory errors it checks what the parser promises: the length is
 * within bounds and ends on the blank line, every passed field is a token
 * name with a clean value inside the private copy, a Status is 200-599, a
 * response without Content-Type and Location is a 204 or 304, and a valid
 * block is never refused when it is seen a piece at a time. The same bytes
 * go through cgi_parse_nph, the head of an nph- script's answer, with the
 * same promises (but no Content-Type needed, a status always, and no
 * Transfer-Encoding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"

static struct cgi_head h, h2;

static int
inside(const char *p)
{
	return p >= h.buf && p < h.buf + sizeof(h.buf);
}

static void
check_string(const char *s, int name)
{
	const unsigned char *p;

	if (!inside(s) || (name && *s == '\0'))
		abort();
	for (p = (const unsigned char *)s; *p; p++) {
		if (!inside((const char *)p))
			abort();
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			abort();
		if (name && (*p <= ' ' || *p == ':'))
			abort();
	}
}

static void
check_head(const uint8_t *data, int r)
{
	size_t i;

	if (data[r - 1] != '\n' || h.nfields > CGI_FIELDS_MAX)
		abort();
	for (i = 0; i < h.nfields; i++) {
		check_string(h.fields[i].name, 1);
		check_string(h.fields[i].value, 0);
	}
	if (h.status != 0 && (h.status < 200 || h.status > 599 || h.reason == NULL))
		abort();
	if (h.content_type)
		check_string(h.content_type, 0);
	if (h.location)
		check_string(h.location, 0);
	if (!h.content_type && !h.location && h.status != 204 && h.status != 304)
		abort();
}

static void
check_nph(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	int r = cgi_parse_nph(buf, size, &h);
	size_t i;

	if (r < -1 || (r > 0 && ((size_t)r > size || r > CGI_HEAD_MAX)))
		abort();
	if (r == 0 && size >= CGI_HEAD_MAX)
		abort();
	if (r <= 0)
		return;
	if (data[r - 1] != '\n' || h.nfields > CGI_FIELDS_MAX ||
	    h.status < 200 || h.status > 599 || h.reason == NULL ||
	    h.has_transfer_encoding)
		abort();
	check_string(h.reason, 0);
	for (i = 0; i < h.nfields; i++) {
		check_string(h.fields[i].name, 1);
		check_string(h.fields[i].value, 0);
	}
	if (cgi_parse_nph(buf, (size_t)r - 1, &h2) != 0 ||
	    cgi_parse_nph(buf, (size_t)r, &h2) != r)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	int r;

	check_nph(data, size);
	r = cgi_parse_headers(buf, size, &h);

	if (r < -1 || (r > 0 && ((size_t)r > size || r > CGI_HEAD_MAX)))
		abort();
	if (r == 0 && size >= CGI_HEAD_MAX)
		abort();
	if (r <= 0)
		return 0;
	check_head(data, r);
	/* cgi.c parses as the bytes come: a prefix must never be refused, and
	 * more bytes after the blank line must not change the answer. */
	if (cgi_parse_headers(buf, (size_t)r - 1, &h2) != 0 ||
	    cgi_parse_headers(buf, (size_t)r / 2, &h2) != 0 ||
	    cgi_parse_headers(buf, (size_t)r, &h2) != r)
		abort();
	return 0;
}
