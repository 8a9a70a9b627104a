/* proxy.h: the PROXY protocol, v1 and v2 (HAProxy), read from trusted peers
 * only, so that logs and CGI see the client's own address. */
#ifndef ITKD_PROXY_H
#define ITKD_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_HEAD_MAX 536      /* v2: 16 + 216 bytes of addresses and TLVs */

struct config;

/* Parse a PROXY header at the start of buf[0..len). Returns 1 with *used set
 * when complete (*src gets the client's address, or family AF_UNSPEC for
 * LOCAL/UNKNOWN: keep the real peer), 0 when more bytes are needed, -1 when
 * buf does not start with a valid header. */
int proxy_parse(const unsigned char *buf, size_t len, size_t *used,
    struct sockaddr_storage *src);
/* 1 if buf[0..len) could be the start of a PROXY header (v1 or v2). */
int proxy_looks_like(const unsigned char *buf, size_t len);
/* 1 if peer is inside a `trusted-proxy` network of cfg. */
int proxy_trusted(const struct config *cfg, const struct sockaddr_storage *peer);

/* Read exactly the header off fd (peeking first, so no byte of the stream
 * behind it is taken; it may be a TLS ClientHello), before the deadline (ms,
 * CLOCK_MONOTONIC). Trusted peers may send one or not; any other peer that
 * sends one is refused. 0 (src filled, or AF_UNSPEC), or -1: close. */
int proxy_read(const struct config *cfg, int fd, int64_t deadline,
    const struct sockaddr_storage *peer, struct sockaddr_storage *src);

#endif
