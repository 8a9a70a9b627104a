/* tests/unit_conn.c: conn_close never waits on a client for long. Over a
 * real TCP connection on 127.0.0.1 whose client reads nothing (its
 * receive buffer and the server's send buffer full), what is still in
 * the write buffer at the close gets a grace of 2 s, then the lingering
 * close its 1 s, however far the connection's own deadline lies. And a
 * client that has read everything and closed costs the close no wait. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "unit.h"

static struct conn c;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connected pair on 127.0.0.1 with small buffers: *cli and *srv. */
static int
pair(int *cli, int *srv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l, small = 4096;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0 ||
	    (*cli = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(*cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
	    connect(*cli, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (*srv = accept(l, NULL, NULL)) < 0 ||
	    setsockopt(*srv, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) < 0)
		return -1;
	close(l);
	return 0;
}

int
main(void)
{
	char block[4096];
	double t0, took;
	int cli, srv, i;
	ssize_t n;

	memset(block, 'x', sizeof(block));

	/* A client that reads nothing. */
	CHECK("conn: a loopback pair", pair(&cli, &srv) == 0);
	CHECK("conn: conn_init", conn_init(&c, srv, NULL, NULL, 0) == 0);
	conn_deadline(&c, 30);
	/* Fill the socket until it takes no more (non-blocking since
	 * conn_init), then the write buffer. */
	for (i = 0; i < 4096; i++)
		if ((n = send(srv, block, sizeof(block), MSG_DONTWAIT)) < 0)
			break;
	CHECK("conn: the socket is full", n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	for (i = 0; i + sizeof(block) <= sizeof(c.wbuf) / 2; i += sizeof(block))
		(void)conn_write(&c, block, sizeof(block));
	CHECK("conn: the write buffer holds what is left", c.wlen > 0);
	t0 = now();
	conn_close(&c);
	took = now() - t0;
	printf("# conn_close with a full socket: %.2f s\n", took);
	CHECK("conn: a full socket at the close waits its 2 s grace and 1 s of "
	    "lingering, not the 30 s deadline", took >= 1.8 && took < 4.5);
	CHECK("conn: closed", c.fd == -1);
	close(cli);

	/* A client that read the answer and closed: no wait. */
	CHECK("conn: a second loopback pair", pair(&cli, &srv) == 0);
	CHECK("conn: conn_init again", conn_init(&c, srv, NULL, NULL, 0) == 0);
	conn_deadline(&c, 30);
	(void)conn_write(&c, "answer", 6);
	CHECK("conn: flushed", conn_flush(&c) == 0);
	CHECK("conn: the client reads it", read(cli, block, sizeof(block)) == 6);
	close(cli);
	c.peer_done = 1;
	t0 = now();
	conn_close(&c);
	took = now() - t0;
	printf("# conn_close after the client's close: %.2f s\n", took);
	CHECK("conn: a client that closed costs the close no wait", took < 0.5);
	return UNIT_END();
}
