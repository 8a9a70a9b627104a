/* conn.c: one connection's reads and writes, plain or through tls.c. Every
 * wait is bounded by the connection's absolute deadline, so a slow client
 * can never hold a process past its timeout (a total, not a per-read one). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "tls.h"

void
conn_deadline(struct conn *c, int seconds)
{
	c->deadline = clock_ms() + (int64_t)seconds * 1000;
}

/* a[0..4) as a dotted quad, as inet_ntop writes it, without printf: for
 * every connection's two addresses, musl's inet_ntop went through
 * snprintf and strcpy (and strcpy's page of code: one more page fault). */
static void
ipv4_text(const unsigned char *a, char *buf, size_t cap)
{
	char tmp[16], *p = tmp;
	int i;

	for (i = 0; i < 4; i++) {
		if (a[i] >= 100)
			*p++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*p++ = (char)('0' + a[i] / 10 % 10);
		*p++ = (char)('0' + a[i] % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	if ((size_t)(p - tmp) <= cap)
		memcpy(buf, tmp, (size_t)(p - tmp));
}

static void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap,
    unsigned *port)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	*port = 0;
	if (cap < 2)
		return;
	memcpy(buf, "-", 2);
	if (ss->ss_family == AF_INET) {
		ipv4_text((const unsigned char *)&s4->sin_addr, buf, cap);
		*port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		/* An IPv4-mapped peer is logged as the IPv4 address it is. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			ipv4_text(&s6->sin6_addr.s6_addr[12], buf, cap);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)cap);
		*port = ntohs(s6->sin6_port);
	}
}

int
conn_init(struct conn *c, int fd, const struct sockaddr_storage *peer,
    const struct sockaddr_storage *local, int ready)
{
	socklen_t len;
	int flags, one = 1;

	memset(c, 0, offsetof(struct conn, rbuf));
	c->rpos = c->rlen = c->wlen = 0;
	c->fd = fd;
	c->tls = NULL;
	len = sizeof(c->peer);
	if (peer != NULL)
		c->peer = *peer;
	else if (getpeername(fd, (struct sockaddr *)&c->peer, &len) < 0)
		memset(&c->peer, 0, sizeof(c->peer));
	len = sizeof(c->local);
	if (local != NULL)
		c->local = *local;
	else if (getsockname(fd, (struct sockaddr *)&c->local, &len) < 0)
		memset(&c->local, 0, sizeof(c->local));
	addr_text(&c->peer, c->peer_addr, sizeof(c->peer_addr), &c->peer_port);
	addr_text(&c->local, c->local_addr, sizeof(c->local_addr), &c->local_port);
	if (ready)
		return 0;
	/* Non-blocking: every wait is a poll() against the deadline. */
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	/* We gather our own writes (and BearSSL its records): without this,
	 * Nagle holds a TLS Finished or a small answer until the client's
	 * delayed ACK, 10-40 ms. Not fatal: a socketpair in inetd mode has
	 * no TCP options. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

void
conn_set_peer(struct conn *c, const struct sockaddr_storage *peer)
{
	c->peer = *peer;
	addr_text(&c->peer, c->peer_addr, sizeof(c->peer_addr), &c->peer_port);
}

/* Wait for events on the socket until the deadline: 1 ready, 0 timeout, -1. */
static int
wait_fd(struct conn *c, short events)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = -1;
		if (c->deadline || c->grace) {
			int64_t now = clock_ms();
			if (c->grace && (c->deadline == 0 ||
			    c->deadline - now > c->grace))
				c->deadline = now + c->grace;
			c->grace = 0;
			left = c->deadline - now;
		}
		if (c->deadline && left <= 0) {
			c->timed_out = 1;
			return 0;
		}
		n = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (n > 0)
			return 1;
		if (n == 0) {
			c->timed_out = 1;
			return 0;
		}
		if (errno != EINTR)
			return -1;
	}
}

int
conn_wait_readable(struct conn *c)
{
	if (c->rlen > c->rpos || (c->tls && tls_pending(c->tls) > 0))
		return 1;
	/* Wait, then read (conn_fill), rather than read first: a client
	 * that waits for each answer has never sent its next request by
	 * now, and the read would fail (EAGAIN) before the poll every
	 * time. A pipelining client's next request is already in rbuf. */
	return wait_fd(c, POLLIN);
}

/* Raw read into buf: >0, 0 on EOF, -1 on error or deadline. */
static ssize_t
read_some(struct conn *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->error)
		return -1;
	if (c->tls) {
		n = tls_read(c->tls, buf, len, c->deadline);
		if (n < 0) {
			c->error = 1;
			c->timed_out = errno == ETIMEDOUT;
		}
		return n;
	}
	for (;;) {
		n = read(c->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			break;
		if (wait_fd(c, POLLIN) <= 0)
			break;
	}
	c->error = 1;
	return -1;
}

ssize_t
conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rlen == sizeof(c->rbuf))
		return -1;
	n = read_some(c, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
	if (n > 0)
		c->rlen += (size_t)n;
	return n;
}

void
conn_consume(struct conn *c, size_t n)
{
	if (n > c->rlen - c->rpos)
		n = c->rlen - c->rpos;
	c->rpos += n;
	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
}

ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	size_t have = c->rlen - c->rpos;

	if (have > 0) {
		if (len > have)
			len = have;
		memcpy(buf, c->rbuf + c->rpos, len);
		conn_consume(c, len);
		return (ssize_t)len;
	}
	return read_some(c, buf, len);
}

/* Raw write of all of buf, under the deadline; flags for send(2) on
 * plain TCP (MSG_MORE: more follows at once, hold a partial segment). */
static int
write_all(struct conn *c, const char *buf, size_t len, int flags)
{
	ssize_t n;

	if (c->error)
		return -1;
	if (c->tls) {
		if (tls_write(c->tls, buf, len, c->deadline) < 0)
			goto err;
		return 0;
	}
	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL | flags);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(c, POLLOUT) > 0)
			continue;
		goto err;
	}
	return 0;
err:
	c->error = 1;
	return -1;
}

static int
flush_wbuf(struct conn *c, int flags)
{
	size_t n = c->wlen;

	c->wlen = 0;
	return n ? write_all(c, c->wbuf, n, flags) : 0;
}

int
conn_write(struct conn *c, const void *buf, size_t len)
{
	if (c->error)
		return -1;
	if (c->wlen + len <= sizeof(c->wbuf)) {
		memcpy(c->wbuf + c->wlen, buf, len);
		c->wlen += len;
		return 0;
	}
	if (flush_wbuf(c, 0) < 0)
		return -1;
	if (len <= sizeof(c->wbuf)) {
		memcpy(c->wbuf, buf, len);
		c->wlen = len;
		return 0;
	}
	return write_all(c, buf, len, 0);
}

char *
conn_lend(struct conn *c, size_t want, size_t *cap)
{
	/* A failed write sets c->error: conn_commit then fails. */
	if (sizeof(c->wbuf) - c->wlen < want)
		(void)flush_wbuf(c, 0);
	*cap = sizeof(c->wbuf) - c->wlen;
	return c->wbuf + c->wlen;
}

int
conn_commit(struct conn *c, size_t len)
{
	if (c->error || len > sizeof(c->wbuf) - c->wlen)
		return -1;
	c->wlen += len;
	return 0;
}

int
conn_flush(struct conn *c)
{
	if (flush_wbuf(c, 0) < 0)
		return -1;
	if (c->tls && tls_flush(c->tls, c->deadline) < 0) {
		c->error = 1;
		return -1;
	}
	return 0;
}

/* Through TLS, for a small body, or where sendfile cannot be used: read
 * straight into the write buffer, flushed as it fills. */
static int
copy_file(struct conn *c, int fd, off_t off, uint64_t n)
{
	size_t room;
	ssize_t r;
	char *p;

	while (n > 0) {
		p = conn_lend(c, 1, &room);
		if (c->error)
			return -1;
		r = pread(fd, p, n < room ? (size_t)n : room, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)     /* the file shrank under us: the framing is lost */
			goto err;
		if (conn_commit(c, (size_t)r) < 0)
			return -1;
		off += r;
		n -= (uint64_t)r;
	}
	return 0;
err:
	c->error = 1;
	return -1;
}

/* A body this small that fits beside the head goes out with it in one
 * send. sendfile would set up a splice pipe first, once per process, and
 * most connection processes send one small file and exit. */
#define SMALL_BODY 4096

int
conn_sendfile(struct conn *c, int fd, off_t off, uint64_t n)
{
	ssize_t r;

	if (c->tls || (n <= SMALL_BODY && n <= sizeof(c->wbuf) - c->wlen))
		return copy_file(c, fd, off, n);
	/* The head goes out with MSG_MORE: the kernel holds it and sends it
	 * in one segment with the start of the file (a 1 KiB answer is one
	 * packet, not two; sendfile's last piece pushes it all out). */
	if (flush_wbuf(c, n > 0 ? MSG_MORE : 0) < 0)
		return -1;
	while (n > 0) {
		r = sendfile(c->fd, fd, &off, n < 0x40000000 ? (size_t)n : 0x40000000);
		if (r > 0) {
			n -= (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(c, POLLOUT) > 0)
			continue;
		if (r < 0 && (errno == EINVAL || errno == ENOSYS))
			return copy_file(c, fd, off, n);
		c->error = 1;
		return -1;
	}
	return 0;
}

/* 1 if the socket has no byte waiting (or the peer closed); a byte read
 * here is dropped, and the caller lingers as before. */
static int
nothing_unread(int fd, char *junk, size_t len)
{
	ssize_t n = recv(fd, junk, len, MSG_DONTWAIT);

	return n == 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

void
conn_close(struct conn *c)
{
	/* What the client still sends is dropped into rbuf: nothing in it
	 * is of use any more, and a 4 KiB buffer here was a stack page of
	 * its own in every connection process. */
	char *junk = c->rbuf;
	int64_t end, left;

	if (c->fd < 0)
		return;
	/* A short, fixed grace for what is still to go out: closing never
	 * waits on the client. Plain TCP takes it at its first wait, if
	 * any: most answers go out at once, and then the clock is not read. */
	if (!c->error) {
		if (c->tls == NULL)
			c->grace = 2000;
		else if (c->deadline == 0 || c->deadline - clock_ms() > 2000)
			conn_deadline(c, 2);
		(void)conn_flush(c);
		if (c->tls)
			tls_close(c->tls, c->deadline);
	}
	/* The client said it sends nothing more (its last request had no
	 * body and did not keep the connection alive) and nothing of it is
	 * left, here or in the socket: then close() alone sends a FIN, and
	 * waiting for the client's own close would only keep this process
	 * alive (as nginx's `lingering_close on` reasons). Plain TCP only: a
	 * TLS peer may still answer our close_notify. */
	if (c->peer_done && c->tls == NULL && !c->error && c->rlen == c->rpos &&
	    nothing_unread(c->fd, junk, sizeof(c->rbuf)))
		goto done;
	/* Lingering close: half-close, then drain what the client still sends
	 * for a moment, so unread pipelined bytes do not turn our FIN into an
	 * RST that would destroy answers still in flight. */
	shutdown(c->fd, SHUT_WR);
	end = clock_ms() + 1000;
	for (left = 1000;; left = end - clock_ms()) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (read(c->fd, junk, sizeof(c->rbuf)) <= 0)
			break;
	}
done:
	close(c->fd);
	c->fd = -1;
	c->grace = 0;
}
