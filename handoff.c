/* handoff.c: the hand-off of a kept-alive connection to a fresh process
 * (see handoff.h).
 *
 * The bytes that stage 2 read but did not answer (the request for the
 * other identity and whatever came behind it) travel in a sealed memfd:
 * the master only passes it on and checks, without reading it, that it
 * is one (its seals) and how big it is (fstat). The new connection's
 * gatekeeper reads it, as it would have read the socket. The sender is
 * known from the kernel (SCM_CREDENTIALS on the master's end), not from
 * anything it says. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "handoff.h"
#include "vhost.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
/* Room for more fds than a message may carry: what does not fit is closed
 * by the kernel (MSG_CTRUNC), what fits but is extra, by us. */
#define FDS_ROOM 8

int
handoff_channel(int *master_end, int *child_end)
{
	int sp[2], one = 1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	/* The master's end: every message carries the sender's pid. */
	if (setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    fcntl(sp[0], F_SETFL, O_NONBLOCK) < 0) {
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	*master_end = sp[0];
	*child_end = sp[1];
	return 0;
}

/* The bytes, from offset 0 with pwrite: the file offset stays 0, where the
 * gatekeeper's read() starts. */
static int
memfd_with(const char *bytes, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = memfd_create("itkd-handoff", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0)
		return -1;
	while (off < len) {
		n = pwrite(fd, bytes + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err;
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, SEALS) < 0)
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

int
handoff_send(int chan, const struct handoff_msg *m, int conn_fd,
    const char *bytes, size_t len)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov = { (void *)m, sizeof(*m) };
	struct msghdr mh;
	struct cmsghdr *c;
	int fds[2], tries, rc = -1;
	ssize_t n;

	if (len == 0 || len > CONN_RBUF || (fds[1] = memfd_with(bytes, len)) < 0)
		return -1;
	fds[0] = conn_fd;
	memset(&ctl, 0, sizeof(ctl));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	/* The channel is shared by every connection process: a full one
	 * waits a second at most, then the connection closes as without
	 * hand-off. */
	for (tries = 0; tries < 2; tries++) {
		struct pollfd p = { .fd = chan, .events = POLLOUT };
		n = sendmsg(chan, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(*m)) {
			rc = 0;
			break;
		}
		if (n >= 0 || (errno != EAGAIN && errno != EINTR) ||
		    poll(&p, 1, 1000) <= 0)
			break;
	}
	close(fds[1]);
	return rc;
}

static int
family_ok(const struct sockaddr_storage *ss, int unspec_ok)
{
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6 ||
	    (unspec_ok && ss->ss_family == AF_UNSPEC);
}

/* The connection: a stream socket, TCP (plain) or the AF_UNIX end of a
 * TLS gatekeeper's relay. */
static int
conn_fd_ok(int fd, int tls)
{
	struct stat st;
	socklen_t len;
	int type, domain;

	len = sizeof(type);
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM)
		return 0;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return 0;
	return tls ? domain == AF_UNIX : domain == AF_INET || domain == AF_INET6;
}

/* A memfd (only they take seals) sealed shut, of 1..CONN_RBUF bytes. */
static int
memfd_ok(int fd)
{
	struct stat st;
	int seals;

	if ((seals = fcntl(fd, F_GET_SEALS)) < 0 || (seals & SEALS) != SEALS)
		return 0;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 1 &&
	    st.st_size <= CONN_RBUF;
}

static int
msg_ok(const struct config *cfg, const struct handoff_msg *m)
{
	return m->magic == HANDOFF_MAGIC && m->tls <= 1 &&
	    m->sni_vhost >= -1 && m->sni_vhost < cfg->nvhosts &&
	    (m->tls || m->sni_vhost == -1) &&
	    m->requests >= 1 && m->requests < (uint32_t)cfg->keepalive_requests &&
	    family_ok(&m->client, 0) && family_ok(&m->local, 1);
}

int
handoff_recv(int chan, const struct config *cfg, struct handoff_msg *m,
    int fds[2], pid_t *sender)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(FDS_ROOM * sizeof(int)) +
		    CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh;
	struct cmsghdr *c;
	struct ucred cred;
	int got[FDS_ROOM], ngot = 0, have_cred = 0, i, k, nfd;
	ssize_t n;

	*sender = 0;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	n = recvmsg(chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (k = 0; k < nfd; k++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + k * sizeof(int),
				    sizeof(fd));
				if (ngot < FDS_ROOM)
					got[ngot++] = fd;
				else
					close(fd);
			}
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			have_cred = 1;
		}
	}
	if (have_cred)
		*sender = cred.pid;
	if (!have_cred || cred.pid <= 0 || n != (ssize_t)sizeof(*m) ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || ngot != 2 ||
	    !msg_ok(cfg, m) || !conn_fd_ok(got[0], (int)m->tls) ||
	    !memfd_ok(got[1]))
		goto refuse;
	fds[0] = got[0];
	fds[1] = got[1];
	return 1;
refuse:
	for (i = 0; i < ngot; i++)
		close(got[i]);
	return 0;
}

ssize_t
handoff_load(int memfd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap) {
		n = read(memfd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return len > 0 ? (ssize_t)len : -1;
}
