/* gate.c: the gatekeeper.
 *
 * The spawner's child (spawn.c), or the monitor's, and the only process of
 * a connection that reads a client's byte before the vhost's identity is
 * taken. It starts with nothing (the global user, no capability in any
 * set, no_new_privs, an allow-list seccomp filter: inherited from the
 * spawner, or priv_gatekeeper's own), so a bug in the parser
 * or in BearSSL that runs code here gains nothing the global user did not
 * have, and that user can signal neither the monitor (uid 0) nor a stage-2
 * process (a vhost's uid, never the global user's).
 *
 * It reads the PROXY header, does the TLS handshake, reads and parses the
 * first request head and chooses its vhost, and answers itself what cannot
 * be served. Else it tells the monitor which vhost in one fixed-size
 * message, then hands over the bytes it read, unparsed. A plain connection
 * is then the monitor's alone: the gatekeeper exits. A TLS one keeps its
 * session here: the gatekeeper relays plaintext between the client and the
 * stage-2 process over a socketpair, and no key byte is left in it (wiped
 * right after the handshake).
 *
 * A connection handed off by another connection process (`cross-identity
 * handoff`) starts here again with the bytes that process read and did not
 * answer, in a sealed memfd: they are read first, as if from the socket.
 * Its PROXY header and TLS handshake are behind it; a TLS one arrives as
 * plaintext from the gatekeeper that holds its session, and is handed on
 * like a plain one. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "file.h"
#include "gate.h"
#include "handoff.h"
#include "http.h"
#include "log.h"
#include "priv.h"
#include "proxy.h"
#include "score.h"
#include "serve.h"
#include "tls.h"
#include "vhost.h"

/* Static: a connection process touches as few pages as it can. greq is
 * page-aligned as stage 2's is (serve.c): its small fields and the start
 * of its buffer, all a small request writes, then share one page (linked
 * as it fell, they straddled two: a fault more per connection). */
static struct conn gc;
static _Alignas(4096) struct http_request greq;
static char relay_up[CONN_RBUF];        /* client -> stage 2 */
static char relay_down[CONN_WBUF];      /* stage 2 -> client */

static void __attribute__((noreturn))
gate_exit(int code)
{
	conn_close(&gc);
	_exit(code);
}

/* Answer a request that cannot be served, with the built-in page, and
 * close: nothing was handed on. */
static void __attribute__((noreturn))
gate_reject(const struct config *cfg, const struct vhost *vh, int status)
{
	struct exchange ex;
	int parsed = greq.method_name != NULL && greq.method_name[0] != '\0';

	if (gc.timed_out) {
		/* The head was too slow; the answer gets a short time of its own. */
		gc.error = gc.timed_out = 0;
		conn_deadline(&gc, 2);
	}
	memset(&ex, 0, sizeof(ex));
	ex.c = &gc;
	ex.cfg = cfg;
	ex.vh = NULL;   /* no error-page: that would touch the vhost's files */
	ex.r = &greq;
	ex.rootfd = -1;
	ex.tls = gc.tls != NULL;
	ex.close = 1;
	greq.keep_alive = 0;
	if (!parsed) {
		greq.method = HTTP_GET;
		greq.minor = 1;
	}
	file_error(&ex, status);
	log_access(vh, &gc, parsed ? &greq : NULL, status, ex.bytes);
	gate_exit(0);
}

/* Read until rbuf holds a whole head, and parse it. Nothing is consumed:
 * all of it goes to the monitor. 0: parsed; an HTTP status; -1: the
 * client went away or never spoke. */
static int
gate_read_head(void)
{
	size_t len;
	ssize_t n;
	int st;

	for (;;) {
		st = http_head_end(gc.rbuf + gc.rpos, gc.rlen - gc.rpos, &len);
		if (st == 1)
			return http_parse_request(&greq, gc.rbuf + gc.rpos, len);
		if (st > 1)
			return st;
		n = conn_fill(&gc);
		if (n > 0)
			continue;
		if (n < 0 && gc.timed_out && gc.rlen > gc.rpos)
			return 408;
		return -1;
	}
}

void
gate_userdir_name(const struct vhost *vh, const char *path, char *out)
{
	size_t i;

	memset(out, 0, GATE_NAME_MAX);
	if (vh->userdir == NULL || strncmp(path, "/~", 2) != 0)
		return;
	for (i = 0; path[2 + i] != '\0' && path[2 + i] != '/'; i++) {
		char ch = path[2 + i];
		if (i + 1 >= GATE_NAME_MAX ||
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    (ch == '-' && i > 0))) {
			memset(out, 0, GATE_NAME_MAX);
			return;
		}
		out[i] = ch;
	}
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The message and the bytes behind it in one sendmsg (one system call
 * per connection less than two sends); a short send goes on with send_all. */
static int
send_msg_and_bytes(int fd, const struct gate_msg *m, const char *bytes,
    size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)m, .iov_len = sizeof(*m) },
		{ .iov_base = (void *)bytes, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(*m))
		return send_all(fd, (const char *)m + n, sizeof(*m) - (size_t)n) < 0 ||
		    send_all(fd, bytes, len) < 0 ? -1 : 0;
	n -= (ssize_t)sizeof(*m);
	return send_all(fd, bytes + n, len - (size_t)n);
}

/* The monitor's one answer, before the deadline: 0, or -1 if it went
 * away or said nothing in time. */
static int
recv_verdict(int sp, int64_t deadline, int32_t *verdict)
{
	struct pollfd p = { .fd = sp, .events = POLLIN };
	int64_t left;
	ssize_t n;

	for (;;) {
		left = deadline - clock_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		n = recv(sp, verdict, sizeof(*verdict), MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		return n == (ssize_t)sizeof(*verdict) ? 0 : -1;
	}
}

/* Plaintext both ways until stage 2 is done (EOF on sp) or the client is
 * gone. Each direction has one buffer and is read only when its buffer is
 * empty, so neither side can make the other wait on it forever; a write
 * to the client has `timeout` seconds, as stage 2's own writes had. */
static void
relay(const struct config *cfg, int sp)
{
	size_t up = 0, upos = 0;
	int client_done = 0;
	ssize_t n;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = client_done || up ? -1 : gc.fd, .events = POLLIN },
			{ .fd = sp, .events = (short)(up ? POLLIN | POLLOUT : POLLIN) },
		};
		if (!client_done && up == 0 && tls_pending(gc.tls) > 0)
			p[0].revents = POLLIN;
		else if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents) {
			conn_deadline(&gc, cfg->timeout);
			n = conn_read(&gc, relay_up, sizeof(relay_up));
			if (n <= 0) {
				/* The client sent close_notify or went away:
				 * stage 2 reads EOF, and may still answer. */
				client_done = 1;
				if (n < 0)
					return;
				(void)shutdown(sp, SHUT_WR);
			} else {
				/* A body or a next request: a connection
				 * that lives on reads the vDSO's clock. */
				clock_stay();
				up = (size_t)n;
				upos = 0;
			}
		}
		if (up && (p[1].revents & POLLOUT)) {
			n = send(sp, relay_up + upos, up - upos,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return;
			if (n > 0 && (upos += (size_t)n) == up)
				up = upos = 0;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(sp, relay_down, sizeof(relay_down), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return;         /* stage 2 is done */
			if (n > 0) {
				conn_deadline(&gc, cfg->timeout);
				if (conn_write(&gc, relay_down, (size_t)n) < 0 ||
				    conn_flush(&gc) < 0)
					return;
			}
		}
	}
}

void
gate_run(const struct config *cfg, struct tls_keys *keys,
    const struct accepted *a, int slot, int sp, int spawned)
{
	struct sockaddr_storage client;
	const struct vhost *vh, *sni;
	struct gate_msg m;
	int32_t verdict;
	ssize_t n;
	int st;

	/* 1. Nothing of the client is read before this: from here on this
	 *    process can gain no privilege, whatever runs in it. A spawner's
	 *    child has it all from the spawner already. */
	if (!spawned && priv_gatekeeper(cfg) < 0)
		_exit(1);
	if (conn_init(&gc, a->fd, a->peer, a->local, a->ready) < 0)
		_exit(1);
	/* 2. One total deadline covers the PROXY header, the handshake and
	 *    the first request head. */
	conn_deadline(&gc, cfg->timeout);
	memset(&client, 0, sizeof(client));
	if (a->preload >= 0) {
		if ((n = handoff_load(a->preload, gc.rbuf, sizeof(gc.rbuf))) < 0)
			_exit(1);
		close(a->preload);
		gc.rlen = (size_t)n;
	} else {
		if (proxy_read(cfg, a->fd, gc.deadline, &gc.peer, &client) < 0)
			_exit(0);
		if (client.ss_family != AF_UNSPEC)
			conn_set_peer(&gc, &client);
		if (a->tls && (gc.tls = tls_accept(keys, cfg, a->fd,
		    gc.deadline)) == NULL)
			_exit(0);
		/* Behind a trusted proxy the master could count only the
		 * proxy: the client's own address is counted here (after the
		 * handshake, so that a TLS client reads its 503). A handed-off
		 * connection keeps the slot and the claim it had. */
		if (score_claim_client(slot, &client,
		    cfg->max_clients_per_ip) < 0)
			gate_reject(cfg, vhost_find(cfg, ""), 503);
	}
	/* 3. The handshake is done: no key byte (nor the session cache)
	 *    stays in the process that goes on reading the client. */
	if (keys != NULL)
		tls_wipe(keys);
	priv_trace("gatekeeper: reading the request");

	/* 4. The first head, and its vhost. */
	if ((st = gate_read_head()) < 0)
		gate_exit(0);
	if (st > 0)
		gate_reject(cfg, vhost_find(cfg, greq.host ? greq.host : ""), st);
	vh = vhost_find(cfg, greq.host);
	sni = gc.tls != NULL && tls_server_name(gc.tls)[0] != '\0' ?
	    tls_vhost(gc.tls) : NULL;
	if (a->relayed && a->sni_vhost >= 0)
		sni = &cfg->vhosts[a->sni_vhost];
	if (sni != NULL && vh != sni)   /* SNI chose a certificate: Host agrees */
		gate_reject(cfg, vh, 421);
	if (score_enter_vhost(slot, vh->pos, vh->max_clients) < 0)
		gate_reject(cfg, vh, 503);
	score_unmap();

	/* 5. The message, then the bytes, unparsed: the monitor parses
	 *    nothing before it has become the vhost. */
	memset(&m, 0, sizeof(m));
	m.magic = GATE_MAGIC;
	m.vhost = vh->pos;
	m.sni_vhost = sni != NULL ? sni->pos : -1;
	m.tls = gc.tls != NULL;
	m.nbytes = (uint32_t)(gc.rlen - gc.rpos);
	gate_userdir_name(vh, greq.path, m.user);
	m.client = client;
	if (send_msg_and_bytes(sp, &m, gc.rbuf + gc.rpos, m.nbytes) < 0)
		gate_exit(0);
	priv_trace("gatekeeper: vhost chosen, request handed on");
	/* 6. The monitor's word: go on, or answer this status (its vhost's
	 *    root could not be opened, or is owned by an id no vhost may
	 *    take). */
	if (recv_verdict(sp, gc.deadline + 1000, &verdict) < 0)
		gate_exit(0);
	if (verdict != 0)
		gate_reject(cfg, vh, verdict >= 400 && verdict <= 599 ?
		    verdict : 500);
	if (gc.tls == NULL) {
		/* The socket is the monitor's now; closing our copy of it
		 * does not end the connection. */
		_exit(0);
	}
	gc.rpos = gc.rlen = 0;
	relay(cfg, sp);
	close(sp);
	gate_exit(0);
}
