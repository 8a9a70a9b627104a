/* tls.h: BearSSL: keys and chains, our SNI policy, the shared session cache,
 * record I/O over a socket with deadlines. */
#ifndef ITKD_TLS_H
#define ITKD_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct config;
struct vhost;
struct tls_keys;        /* every vhost's chain and private key (master) */
struct tls_conn;        /* one connection's engine and buffers (child) */

/* Master: read and check every vhost's tls-cert/tls-key of cfg. Returns NULL
 * with "file:line: message" in err on any error (unreadable, key does not
 * match certificate, TLS listener but no certificate). A config with no TLS
 * listener and no certificate gives a valid empty set. */
struct tls_keys *tls_load(const struct config *cfg, char *err, size_t errlen);
/* Wipe every key byte and free. */
void tls_free(struct tls_keys *k);

/* Master, once before the first fork: map the session cache shared by all
 * children (entries as `tls-session-cache`). 0 or -1. */
int tls_cache_init(int entries);

/* Child, stage 1: reseed from the kernel, run the handshake on fd before the
 * deadline (ms, CLOCK_MONOTONIC). NULL on failure (the caller closes fd). */
struct tls_conn *tls_accept(struct tls_keys *k, const struct config *cfg,
    int fd, int64_t deadline);
/* The vhost the SNI chose (the default TLS vhost without SNI), and the raw
 * server name ("" without SNI). */
const struct vhost *tls_vhost(const struct tls_conn *t);
const char *tls_server_name(const struct tls_conn *t);

/* Child, before the identity switch: overwrite every private key (and the
 * buffers they were decoded from) and unmap the session cache. The live
 * connection keeps working: it no longer needs the key. */
void tls_wipe(struct tls_keys *k);

/* Record I/O for conn.c. read: bytes, 0 on close_notify/EOF, -1 on error or
 * deadline. write: 0 or -1 (may buffer; flush pushes the record out). */
ssize_t tls_read(struct tls_conn *t, void *buf, size_t len, int64_t deadline);
int tls_write(struct tls_conn *t, const void *buf, size_t len, int64_t deadline);
int tls_flush(struct tls_conn *t, int64_t deadline);
/* Bytes already decrypted and waiting (so poll() on fd is not the whole story). */
size_t tls_pending(const struct tls_conn *t);
/* Send close_notify and flush, without waiting for the peer's. */
void tls_close(struct tls_conn *t, int64_t deadline);

#endif
