/* body.c: a request body, Content-Length or chunked, decoded as it is read
 * through conn.c, under the connection's deadline or one of its own. */
#include <string.h>

#include "body.h"
#include "clock.h"
#include "conn.h"

void
body_init(struct body *b, struct conn *c, const struct http_request *r)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->r = r;
	http_chunked_init(&b->ch);
	switch (r->body) {
	case HTTP_BODY_LENGTH:
		b->left = r->content_length;
		b->done = b->left == 0;
		break;
	case HTTP_BODY_CHUNKED:
		break;
	default:
		b->done = 1;
	}
}

void
body_limit(struct body *b, int timeout)
{
	b->due = clock_ms() + (int64_t)timeout * 1000;
}

void
body_extend(struct body *b, int64_t ms)
{
	if (b->due != 0 && ms > 0)
		b->due += ms;
}

int64_t
body_due(const struct body *b)
{
	if (b->due == 0)
		return 0;
	/* Whole seconds of credit: no product that could overflow. */
	return b->due + (int64_t)(b->total / BODY_MIN_RATE) * 1000;
}

/* RFC 9110 10.1.1: answer "100 Continue" only when we are about to read. */
static int
send_continue(struct body *b)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	b->continue_sent = 1;
	if (!b->r->expect_continue || b->r->minor == 0)
		return 0;
	if (conn_write(b->c, cont, sizeof(cont) - 1) < 0 || conn_flush(b->c) < 0)
		return -1;
	return 0;
}

static ssize_t
fail(struct body *b, int status)
{
	b->status = b->c->timed_out ? 408 : status;
	b->done = 1;
	return -1;
}

static ssize_t
read_length(struct body *b, char *buf, size_t cap)
{
	ssize_t n;

	if (cap > b->left)
		cap = (size_t)b->left;
	n = conn_read(b->c, buf, cap);
	if (n <= 0)
		return fail(b, 400);    /* the body ended early */
	b->left -= (uint64_t)n;
	b->total += (uint64_t)n;
	if (b->left == 0)
		b->done = 1;
	return n;
}

static ssize_t
read_chunked(struct body *b, char *buf, size_t cap)
{
	struct conn *c = b->c;
	size_t used, made;
	int r;

	for (;;) {
		if (c->rlen > c->rpos) {
			r = http_chunked_decode(&b->ch, c->rbuf + c->rpos,
			    c->rlen - c->rpos, &used, buf, cap, &made);
			conn_consume(c, used);
			if (r > 1)
				return fail(b, r);
			b->total += made;
			if (r == 1)
				b->done = 1;
			if (made > 0 || r == 1)
				return (ssize_t)made;
		}
		if (conn_fill(c) <= 0)
			return fail(b, 400);
	}
}

ssize_t
body_read(struct body *b, void *buf, size_t cap)
{
	if (b->status)
		return -1;
	if (b->done || cap == 0)
		return 0;
	if (b->due != 0) {
		/* Every read of this body under the same total deadline. */
		b->c->deadline = body_due(b);
		if (clock_ms() >= b->c->deadline)
			return fail(b, 408);
	}
	if (!b->continue_sent && send_continue(b) < 0)
		return fail(b, 400);
	if (b->r->body == HTTP_BODY_LENGTH)
		return read_length(b, buf, cap);
	return read_chunked(b, buf, cap);
}

int
body_discard(struct body *b, uint64_t max)
{
	char buf[8192];
	ssize_t n;

	/* A client that waits for 100 Continue never sends a body we would
	 * only throw away: do not ask for it, close instead (the caller does). */
	if (!b->done && b->r->expect_continue && !b->continue_sent) {
		b->status = 417;
		return -1;
	}
	while (!b->done) {
		if (b->total > max) {
			b->status = 413;
			return -1;
		}
		n = body_read(b, buf, sizeof(buf));
		if (n < 0)
			return -1;
	}
	return 0;
}
