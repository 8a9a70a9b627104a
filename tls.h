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
/* Master, before each fork: the child of a TLS connection gets the session
 * cache and the private keys; the child of a plain one gets neither
 * (MADV_DONTFORK: the mappings are not copied, and fork and exit are the
 * cheaper for it). 0, or -1 when the kernel refused: do not fork. */
int tls_fork_prepare(struct tls_keys *k, int tls);

/* Child, stage 1: reseed from the kernel, run the handshake on fd before the
 * deadline (ms, CLOCK_MONOTONIC). NULL on failure (the caller closes fd). */
struct tls_conn *tls_accept(struct tls_keys *k, const struct config *cfg,
    int fd, int64_t deadline);
/* The vhost the SNI chose (the default TLS vhost without SNI), and the raw
 * server name ("" without SNI). */
const struct vhost *tls_vhost(const struct tls_conn *t);
const char *tls_server_name(const struct tls_conn *t);

/* A child, before it reads a client's byte or takes an identity: unmap
 * every private key and the session cache. The live connection keeps
 * working: it no longer needs the key. */
void tls_unmap(struct tls_keys *k);
/* tls_unmap, then overwrite the stack the handshake ran on (BearSSL leaves
 * key-derived bytes in dead frames): for the process that handshook. */
void tls_wipe(struct tls_keys *k);

/* The loader on bytes in memory, for the fuzzer and the unit test: a
 * certificate chain (PEM, or one DER certificate), a private key (PEM or DER;
 * PKCS#1, SEC1, unencrypted PKCS#8), a pair checked against each other.
 * 0, or -1 with a message. Every decoded byte is wiped before returning. */
int tls_parse_chain(const unsigned char *buf, size_t len, char *msg, size_t msglen);
int tls_parse_key(const unsigned char *buf, size_t len, char *msg, size_t msglen);
int tls_parse_pair(const unsigned char *chain, size_t chainlen,
    const unsigned char *key, size_t keylen, char *msg, size_t msglen);

/* Record I/O for conn.c. read: bytes, 0 on close_notify/EOF, -1 on error or
 * deadline (errno ETIMEDOUT when it was the deadline; a deadline <= 0 is none). write: 0 or -1 (may buffer; flush pushes the record out). */
ssize_t tls_read(struct tls_conn *t, void *buf, size_t len, int64_t deadline);
int tls_write(struct tls_conn *t, const void *buf, size_t len, int64_t deadline);
int tls_flush(struct tls_conn *t, int64_t deadline);
/* Bytes already decrypted and waiting (so poll() on fd is not the whole story). */
size_t tls_pending(const struct tls_conn *t);
/* Send close_notify and flush, without waiting for the peer's. */
void tls_close(struct tls_conn *t, int64_t deadline);

#endif
