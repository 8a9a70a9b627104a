/* body.h: a request body (Content-Length or chunked) read through conn.c. */
#ifndef ITKD_BODY_H
#define ITKD_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "http.h"

struct conn;

struct body {
	struct conn *c;
	const struct http_request *r;
	uint64_t left;                  /* Content-Length bytes still to read */
	struct http_chunked ch;
	int done;
	int status;                     /* 400/408/413 once the body went bad */
	uint64_t total;                 /* decoded bytes so far */
	int continue_sent;
	int64_t due;                    /* ms (CLOCK_MONOTONIC) before the
					 * rate's credit; 0: no deadline of its
					 * own (the connection's rules) */
};

/* With a deadline of its own (body_limit), a body must arrive within
 * `timeout` seconds of its start, plus one second for every BODY_MIN_RATE
 * bytes received so far, plus any time the reader was not asking for it
 * (body_extend). A deadline renewed by each read would let a client that
 * trickles one byte at a time hold a connection forever. */
#define BODY_MIN_RATE 8192

void body_init(struct body *b, struct conn *c, const struct http_request *r);
/* Give b one total deadline of its own, starting now (see above). */
void body_limit(struct body *b, int timeout);
/* Push b's deadline back by ms: time its reader was busy elsewhere. */
void body_extend(struct body *b, int64_t ms);
/* The deadline now (ms, CLOCK_MONOTONIC), or 0 when b has none of its own. */
int64_t body_due(const struct body *b);
/* Decoded body bytes into buf: >0, 0 at the end, -1 on error (b->status set).
 * Sends "100 Continue" first if the client asked for it. */
ssize_t body_read(struct body *b, void *buf, size_t cap);
/* Read and drop the rest of the body (bounded by max bytes): 0 or -1. */
int body_discard(struct body *b, uint64_t max);

#endif
