/* spawn.c: the gatekeeper spawner (see spawn.h).
 *
 * The request is one fixed-size message with two fds (the client's socket,
 * the gatekeeper's end of its socketpair to the monitor): what gate_run
 * needs of struct accepted, nothing of the client's. The spawner is the
 * global user with no capability, so a request it misreads could at worst
 * start a gatekeeper that fails. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "gate.h"
#include "priv.h"
#include "serve.h"
#include "spawn.h"

#define SPAWN_MAGIC 0x69746b73u        /* "itks" */

struct spawn_req {
	uint32_t magic;
	int32_t slot;                   /* the scoreboard's, or -1 */
	uint32_t tls;                   /* 0 or 1, and each flag below */
	uint32_t ready;
	uint32_t has_local;
	struct sockaddr_storage peer;
	struct sockaddr_storage local;
};

/* One request and its two fds: 1; 0 at EOF (every writer gone); -1 for
 * one to drop (its fds, if any came, closed). The writers are monitors,
 * which read no client byte; the fields need no more checks than the
 * size (gate_run and score.c take any slot). */
static int
recv_req(int sock, struct spawn_req *r, int fds[2])
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	ssize_t n;

	if ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) <= 0)
		return n < 0 && errno == EINTR ? -1 : 0;
	c = CMSG_FIRSTHDR(&mh);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
	if (n == (ssize_t)sizeof(*r) && r->magic == SPAWN_MAGIC)
		return 1;
	close(fds[0]);
	close(fds[1]);
	return -1;
}

void
spawn_serve(const struct config *cfg, struct tls_keys *keys, int sock)
{
	struct spawn_req r;
	struct accepted a;
	int fds[2], rc;

	/* Each gatekeeper reads the clock as a monitor does (clock.c). */
	clock_fresh();
	/* Its gatekeepers are reaped by the kernel, set before the filter
	 * takes rt_sigaction away: the spawner never waits. Its name tells
	 * it apart in ps (each gatekeeper takes "itkd" back). Not dumpable:
	 * no gatekeeper (the same uid) may trace it, whatever
	 * fs.suid_dumpable says. */
	if (signal(SIGCHLD, SIG_IGN) == SIG_ERR ||
	    prctl(PR_SET_NAME, "itkd spawner", 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    priv_spawner(cfg) < 0)
		_exit(1);
	while ((rc = recv_req(sock, &r, fds)) != 0) {
		if (rc < 0)
			continue;
		/* A fork that fails: the monitor sees its socketpair close
		 * unanswered, and drops the connection. */
		if (_Fork() == 0) {
			close(sock);
			memset(&a, 0, sizeof(a));
			a.fd = fds[0];
			a.tls = (int)r.tls;
			a.peer = &r.peer;
			a.local = r.has_local ? &r.local : NULL;
			a.ready = (int)r.ready;
			a.chan = a.preload = a.sni_vhost = a.spawner = -1;
			if (priv_spawned() < 0)
				_exit(1);
			gate_run(cfg, keys, &a, r.slot, fds[1], 1);
		}
		close(fds[0]);
		close(fds[1]);
	}
	_exit(0);
}

int
spawn_ask(int sock, const struct accepted *a, int slot, int sp)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct spawn_req r;
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	int fds[2] = { a->fd, sp };

	memset(&r, 0, sizeof(r));
	memset(&ctl, 0, sizeof(ctl));
	r.magic = SPAWN_MAGIC;
	r.slot = slot;
	r.tls = a->tls != 0;
	r.ready = a->ready != 0;
	r.has_local = a->local != NULL;
	if (a->peer != NULL)
		r.peer = *a->peer;
	if (a->local != NULL)
		r.local = *a->local;
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	/* Not waiting: a spawner that is stopped, or behind by a whole
	 * socket buffer, is one the monitor does without. */
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)sizeof(r) ? 0 : -1;
}
