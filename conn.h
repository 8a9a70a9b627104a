/* conn.h: one connection's reads and writes, plain or through tls.c, each
 * bounded by an absolute deadline. One connection per process. */
#ifndef ITKD_CONN_H
#define ITKD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#define CONN_RBUF 16384
#define CONN_WBUF 16384

struct tls_conn;

struct conn {
	int fd;
	struct tls_conn *tls;           /* NULL for plain TCP */
	int64_t deadline;               /* ms on CLOCK_MONOTONIC; 0: none */
	int64_t grace;                  /* ms: the first wait brings deadline
					 * at most this far ahead (closing) */
	int error;                      /* sticky: a read/write failed or timed out */
	int timed_out;                  /* the failure was the deadline */
	int peer_done;                  /* the client said it sends no more (no
					 * body, no keep-alive): close without
					 * lingering if nothing is left unread */

	size_t rpos, rlen;              /* of rbuf */
	size_t wlen;                    /* of wbuf */
	uint64_t sent;                  /* body bytes written, for the access log */

	struct sockaddr_storage peer, local;
	char peer_addr[64];             /* numeric, no brackets */
	unsigned peer_port;
	char local_addr[64];
	unsigned local_port;

	/* The buffers last: every small field shares the first page, so a
	 * connection process dirties 3 pages of this, not 5 (PSS). */
	char rbuf[CONN_RBUF];           /* bytes read but not yet consumed */
	char wbuf[CONN_WBUF];           /* small writes are gathered here */
};

/* Deadline `seconds` from now for every following read and write. */
void conn_deadline(struct conn *c, int seconds);

/* Set up c for fd: the peer as accept gave it and the local address as
 * its listener was bound (either NULL: getpeername, getsockname). ready:
 * fd is already non-blocking with TCP_NODELAY; else they are set here. */
int conn_init(struct conn *c, int fd, const struct sockaddr_storage *peer,
    const struct sockaddr_storage *local, int ready);

/* The client's address as a trusted PROXY header gave it. */
void conn_set_peer(struct conn *c, const struct sockaddr_storage *peer);

/* Make at least one more byte available in rbuf (compacting it first).
 * Returns bytes added, 0 on EOF, -1 on error, timeout or a full buffer. */
ssize_t conn_fill(struct conn *c);
/* Wait until a byte is readable or the deadline passes: 1, 0 (timeout), -1. */
int conn_wait_readable(struct conn *c);
/* Consume n bytes of rbuf. */
void conn_consume(struct conn *c, size_t n);
/* Read up to len bytes, from rbuf first; 0 on EOF, -1 on error/timeout. */
ssize_t conn_read(struct conn *c, void *buf, size_t len);

/* Write all of buf (buffered); 0 or -1. */
int conn_write(struct conn *c, const void *buf, size_t len);
/* Lend the end of wbuf, at least `want` bytes of it (what was gathered is
 * written out first if less is left): a response head is built there in
 * place, then conn_commit(c, len) adds it to what is gathered. Nothing
 * else may write to c in between. *cap is the room lent. */
char *conn_lend(struct conn *c, size_t want, size_t *cap);
int conn_commit(struct conn *c, size_t len);
/* Flush the write buffer (and the TLS record); 0 or -1. */
int conn_flush(struct conn *c);
/* Send n bytes of file fd from off: sendfile on plain TCP, read+write
 * through TLS. Never reads the file whole into memory. 0 or -1. */
int conn_sendfile(struct conn *c, int fd, off_t off, uint64_t n);
/* Flush, send close_notify over TLS, shut down and drain briefly, close. */
void conn_close(struct conn *c);

#endif
