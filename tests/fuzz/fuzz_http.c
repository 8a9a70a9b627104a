/* tests/fuzz/fuzz_http.c: libFuzzer target for http_head_end and
 * http_parse_request, the code that reads attacker bytes with privilege.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 *        tests/fuzz/fuzz_http.c http.c -o fuzz_http */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static struct http_request req;

#define TCHARS "!#$%&'*+-.^_`|~0123456789" \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* What a successful parse promises its callers. */
static void
check_request(const struct http_request *r)
{
	size_t i, n;

	if (r->minor != 0 && r->minor != 1)
		abort();
	if (r->target[0] != '/' || r->path[0] != '/' || strlen(r->host) > HTTP_HOST_MAX)
		abort();
	if (strlen(r->path) > strlen(r->target) || strchr(r->target, ' ') != NULL)
		abort();
	if (r->minor == 1 && r->host[0] == '\0')
		abort();
	if (r->host[0] == '.' || strstr(r->host, "..") || strchr(r->host, '/'))
		abort();
	if (r->nfields > HTTP_FIELDS_MAX)
		abort();
	/* The method goes to a CGI program (REQUEST_METHOD) and to the log:
	 * a token of 1 to HTTP_METHOD_MAX bytes, never CONNECT or TRACE, and
	 * its enum value says which name it is. */
	n = strlen(r->method_name);
	if (n == 0 || n > HTTP_METHOD_MAX ||
	    strspn(r->method_name, TCHARS) != n ||
	    strcmp(r->method_name, "CONNECT") == 0 ||
	    strcmp(r->method_name, "TRACE") == 0)
		abort();
	if ((r->method == HTTP_GET) != (strcmp(r->method_name, "GET") == 0) ||
	    (r->method == HTTP_HEAD) != (strcmp(r->method_name, "HEAD") == 0) ||
	    (r->method == HTTP_POST) != (strcmp(r->method_name, "POST") == 0) ||
	    (r->method == HTTP_OPTIONS) != (strcmp(r->method_name, "OPTIONS") == 0))
		abort();
	for (i = 0; i < r->nfields; i++)
		if (r->fields[i].name[0] == '\0' || strpbrk(r->fields[i].value, "\r\n"))
			abort();
	if (r->body == HTTP_BODY_CHUNKED && (r->minor == 0 ||
	    http_field(r, "content-length") != NULL))
		abort();
	(void)http_field(r, "host");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0, head_len;
	int st, i;

	/* Pipelined heads, as the server walks them. */
	for (i = 0; i < 8 && off < size; i++) {
		st = http_head_end(buf + off, size - off, &head_len);
		if (st != 1) {
			if (head_len != 0 || (st != 0 && st != 400 && st != 414 && st != 431))
				abort();
			break;
		}
		if (head_len == 0 || head_len > size - off || head_len > HTTP_HEAD_MAX)
			abort();
		st = http_parse_request(&req, buf + off, head_len);
		if (st == 0)
			check_request(&req);
		else if (req.keep_alive != 0 || (st != 400 && st != 414 && st != 417 &&
		    st != 431 && st != 501 && st != 505))
			abort();
		off += head_len;
	}
	/* The parser alone, on bytes http_head_end did not vet. */
	if (size <= HTTP_HEAD_MAX + 16) {
		st = http_parse_request(&req, buf, size);
		if (st == 0)
			check_request(&req);
	}
	return 0;
}
