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
};

void body_init(struct body *b, struct conn *c, const struct http_request *r);
/* Decoded body bytes into buf: >0, 0 at the end, -1 on error (b->status set).
 * Sends "100 Continue" first if the client asked for it. */
ssize_t body_read(struct body *b, void *buf, size_t cap);
/* Read and drop the rest of the body (bounded by max bytes): 0 or -1. */
int body_discard(struct body *b, uint64_t max);

#endif
