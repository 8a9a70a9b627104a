/* tests/unit_handoff.c: what the master accepts on the hand-off channel.
 * Every message here is sent by this process itself, as a compromised
 * stage 2 could: the wrong size, fds too many or too few, fds of the wrong
 * kind, a memfd not sealed or too big, fields out of range. Only a
 * well-formed one comes back, with the sender's pid from the kernel. */
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "handoff.h"
#include "vhost.h"
#include "unit.h"

static struct config cfg;
static int chan_m, chan_c;

/* Send m (len bytes of it) with fds[0..nfd) on the child end. */
static int
send_raw(const void *m, size_t len, const int *fds, int nfd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = { (void *)m, len };
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&ctl, 0, sizeof(ctl));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfd > 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfd * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfd * sizeof(int));
	}
	return sendmsg(chan_c, &mh, 0) == (ssize_t)len ? 0 : -1;
}

/* 1 taken, 0 refused, -1 nothing there; closes what it got. */
static int
take(pid_t *from)
{
	struct handoff_msg m;
	int fds[2], rc = handoff_recv(chan_m, &cfg, &m, fds, from);

	if (rc == 1) {
		close(fds[0]);
		close(fds[1]);
	}
	return rc;
}

static int
memfd(size_t len, int seals)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	char b[64] = "GET / HTTP/1.1\r\n";

	if (fd < 0)
		return -1;
	while (len > 0) {
		size_t n = len < sizeof(b) ? len : sizeof(b);
		if (write(fd, b, n) != (ssize_t)n)
			return -1;
		len -= n;
	}
	if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)
		return -1;
	return fd;
}

static void
good_msg(struct handoff_msg *m)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&m->client;

	memset(m, 0, sizeof(*m));
	m->magic = HANDOFF_MAGIC;
	m->sni_vhost = -1;
	m->requests = 1;
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int
open_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void
sent_bytes(void)
{
	struct handoff_msg m;
	int tcp, got[2], n;
	pid_t from;
	char b[64];

	if ((tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		CHECK("socket", 0);
		return;
	}
	good_msg(&m);
	n = handoff_send(chan_c, &m, tcp, "GET /x HTTP/1.1\r\n\r\n", 19);
	CHECK("the gatekeeper reads the bytes stage 2 sent, from the memfd's "
	    "start", n == 0 && handoff_recv(chan_m, &cfg, &m, got, &from) == 1 &&
	    from == getpid() && handoff_load(got[1], b, sizeof(b)) == 19 &&
	    memcmp(b, "GET /x HTTP/1.1\r\n\r\n", 19) == 0);
	CHECK("and no one can write to it (sealed)", n == 0 &&
	    write(got[1], "x", 1) < 0 && pwrite(got[1], "x", 1, 0) < 0);
	if (n == 0) {
		close(got[0]);
		close(got[1]);
	}
	CHECK("handoff_send refuses 0 bytes and more than CONN_RBUF",
	    handoff_send(chan_c, &m, tcp, "", 0) < 0 &&
	    handoff_send(chan_c, &m, tcp, "", CONN_RBUF + 1) < 0);
	close(tcp);
}

int
main(void)
{
	struct handoff_msg m;
	const int all = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	int tcp, unixs[2], fds[3], big[12], i, before;
	pid_t from;

	memset(&cfg, 0, sizeof(cfg));
	cfg.nvhosts = 2;
	cfg.keepalive_requests = 100;
	if (handoff_channel(&chan_m, &chan_c) < 0 ||
	    (tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, unixs) < 0) {
		CHECK("setup", 0);
		return UNIT_END();
	}
	sent_bytes();
	before = open_fds();
	CHECK("nothing waiting: -1", take(&from) == -1);

	good_msg(&m);
	fds[0] = tcp;
	fds[1] = memfd(100, all);
	CHECK("a well-formed message: taken, the sender's pid from the kernel",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 1 &&
	    from == getpid());
	CHECK("short message: refused",
	    send_raw(&m, sizeof(m) - 1, fds, 2) == 0 && take(&from) == 0);
	CHECK("one fd: refused", send_raw(&m, sizeof(m), fds, 1) == 0 &&
	    take(&from) == 0);
	fds[2] = fds[1];
	CHECK("three fds: refused", send_raw(&m, sizeof(m), fds, 3) == 0 &&
	    take(&from) == 0);
	for (i = 0; i < 12; i++)
		big[i] = tcp;
	CHECK("twelve fds (more than the room): refused",
	    send_raw(&m, sizeof(m), big, 12) == 0 && take(&from) == 0);
	close(fds[1]);

	fds[1] = memfd(100, F_SEAL_SHRINK | F_SEAL_GROW);
	CHECK("memfd without the write seal: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	close(fds[1]);
	fds[1] = memfd(CONN_RBUF + 1, all);
	CHECK("memfd bigger than CONN_RBUF: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	close(fds[1]);
	fds[1] = memfd(0, all);
	CHECK("empty memfd: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	close(fds[1]);
	fds[1] = unixs[1];
	CHECK("a socket in the memfd's place: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	fds[1] = memfd(10, all);
	fds[0] = fds[1];
	CHECK("a memfd in the connection's place: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	fds[0] = unixs[0];
	CHECK("an AF_UNIX connection without tls: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	m.tls = 1;
	CHECK("an AF_UNIX connection with tls: taken",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 1);
	fds[0] = tcp;
	CHECK("a TCP connection with tls: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);

	good_msg(&m);
	m.magic++;
	CHECK("bad magic: refused", send_raw(&m, sizeof(m), fds, 2) == 0 &&
	    take(&from) == 0);
	good_msg(&m);
	m.sni_vhost = 0;
	CHECK("sni vhost without tls: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	good_msg(&m);
	m.tls = 2;
	CHECK("tls 2: refused", send_raw(&m, sizeof(m), fds, 2) == 0 &&
	    take(&from) == 0);
	good_msg(&m);
	m.requests = 0;
	CHECK("0 requests: refused", send_raw(&m, sizeof(m), fds, 2) == 0 &&
	    take(&from) == 0);
	m.requests = 100;
	CHECK("requests = keepalive-requests: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	good_msg(&m);
	m.client.ss_family = AF_UNIX;
	CHECK("client of family AF_UNIX: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	good_msg(&m);
	m.local.ss_family = AF_UNIX;
	CHECK("local of family AF_UNIX: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	good_msg(&m);
	m.tls = 1;
	m.sni_vhost = 2;
	fds[0] = unixs[0];
	CHECK("sni vhost out of range: refused",
	    send_raw(&m, sizeof(m), fds, 2) == 0 && take(&from) == 0);
	close(fds[1]);
	CHECK("nothing left waiting", take(&from) == -1);
	CHECK("no fd left open by a refusal", open_fds() == before);
	return UNIT_END();
}
