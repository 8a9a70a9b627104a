/* serve.c: one connection's life, the stage code.
 *
 * monitor:    the master's child. uid 0 with CAP_SETUID + CAP_SETGID only
 *             (+ CAP_SYS_NICE for a negative `nice`), not dumpable. It
 *             never reads a byte of the client: it has the spawner fork
 *             the gatekeeper (spawn.c, gate.c), or forks it itself, and
 *             reads one fixed-size message from it, checks every field of
 *             it, and takes the identity it names.
 * stage 2:    the same process as the vhost: its uid, gid and groups, no
 *             capabilities at all. Only now are the request's bytes read
 *             (those the gatekeeper handed over) and parsed, as the vhost.
 *             It serves this request and every further one for the same
 *             identity. A request for another identity closes the
 *             connection unanswered (the client retries on a new one, as
 *             with mpm-itk), or with `cross-identity handoff` goes, with
 *             the connection and every byte read behind it, to the master,
 *             which starts a fresh connection process for it (handoff.c).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access.h"
#include "body.h"
#include "clock.h"
#include "cgi.h"
#include "conn.h"
#include "gate.h"
#include "handoff.h"
#include "file.h"
#include "http.h"
#include "log.h"
#include "path.h"
#include "priv.h"
#include "proxy.h"
#include "score.h"
#include "serve.h"
#include "spawn.h"
#include "tls.h"
#include "vhost.h"

/* A body sent to a static resource is read and dropped up to this size. */
#define DISCARD_MAX (1u << 20)
/* Local redirects a CGI program may chain before we call it a loop. */
#define REDIRECTS_MAX 5

/* The state of the connection: everything static, nothing on the heap.
 * Each page a connection process writes is one more page fault and one
 * more private page (1.5-2 us each here). So the small state
 * comes first in one page-aligned struct, then conn, whose small fields
 * come before its buffers: all of it and the start of rbuf, what a small
 * request is read into, share one page. */
static _Alignas(4096) struct {
	int tls;                        /* relayed by the gatekeeper: HTTPS */
	int sni_vhost;                  /* the vhost the SNI chose, or -1 */
	const char *docroot;            /* vh->root, or docroot_buf */
	const char *prefix;             /* "", or prefix_buf */
	int rootfd;                     /* docroot's directory fd, or -1 */
	const struct vhost *root_vh;    /* whose root rootfd is (NULL: a
					 * userdir's, opened per request) */
	uid_t root_uid;                 /* fstat(rootfd): `owner`'s ids */
	gid_t root_gid;
	size_t home_len;                /* docroot_buf's home, for a userdir */
	struct priv_ident ident;        /* the identity we switched to */
	pid_t gk;                       /* the gatekeeper, our child; or 0 */
	int gk_fd;                      /* the spawner's child: its pidfd; -1 */
	struct exchange exch;           /* the request being answered */
	struct conn conn;
} cs;
/* Page-aligned too: its small fields and the start of its buffer, all a
 * small request writes, then share one page wherever the link puts it
 * (unaligned, they straddled two in one layout: a fault more). */
static _Alignas(4096) struct http_request req;
static char redirect_buf[PATH_MAX];     /* exch.redirect: a CGI's only */
static char docroot_buf[PATH_MAX];      /* a userdir's: written only then */
static char prefix_buf[300];
static char path_buf[PATH_MAX];         /* a CGI local redirect's path */

static void __attribute__((noreturn))
finish(int code)
{
	conn_close(&cs.conn);
	_exit(code);
}

/* Answer a request of stage 2 that cannot be served (a bad head, Host
 * against SNI, a root that cannot be opened): a short built-in page, and
 * the connection closes. */
static void __attribute__((noreturn))
reject(const struct config *cfg, const struct vhost *vh, int status)
{
	struct exchange ex;
	/* The parser names the method once the request line made sense. */
	int parsed = req.method_name != NULL && req.method_name[0] != '\0';

	if (cs.conn.timed_out) {
		/* The head was too slow; the answer gets a short time of its own. */
		cs.conn.error = cs.conn.timed_out = 0;
		conn_deadline(&cs.conn, 2);
	}
	memset(&ex, 0, sizeof(ex));
	ex.c = &cs.conn;
	ex.cfg = cfg;
	ex.vh = NULL;   /* no error-page: that would touch the vhost's files */
	ex.r = &req;
	ex.rootfd = -1;
	ex.close = 1;
	req.keep_alive = 0;
	if (!parsed) {
		req.method = HTTP_GET;
		req.minor = 1;
	}
	file_error(&ex, status);
	log_access(vh, &cs.conn, parsed ? &req : NULL, status, ex.bytes);
	finish(0);
}

/* Read one request head under the connection's deadline. 0: parsed;
 * an HTTP status to answer; -1: the client went away (or never spoke).
 * The head stays in rbuf, *len bytes of it: consumed once the request is
 * known to be served here (a hand-off passes it on). */
static int
read_head(struct http_request *r, size_t *head_len)
{
	struct conn *c = &cs.conn;
	size_t len;
	ssize_t n;
	int st;

	for (;;) {
		st = http_head_end(c->rbuf + c->rpos, c->rlen - c->rpos, &len);
		if (st == 1) {
			*head_len = len;
			return http_parse_request(r, c->rbuf + c->rpos, len);
		}
		if (st > 1)
			return st;
		n = conn_fill(c);
		if (n > 0)
			continue;
		/* Silence, or a head cut short: close. A slow head gets 408. */
		if (n < 0 && c->timed_out && c->rlen > c->rpos)
			return 408;
		return -1;
	}
}

/* `/~name/...` on a vhost with `userdir`: name's identity and directory.
 * 0 if it applies, -1 if not (then the vhost's own rules apply, and an
 * unknown name is a plain 404 that tells nothing about the user). name
 * holds only characters a user name may have (gate_userdir_name). */
static int
userdir_ident(const struct config *cfg, const struct vhost *vh,
    const char *name, struct priv_ident *id)
{
	struct passwd *pw;
	int i, n;

	if (vh->userdir == NULL || name[0] == '\0')
		return -1;
	if ((pw = getpwnam(name)) == NULL || pw->pw_uid == 0 || pw->pw_gid == 0 ||
	    pw->pw_uid == cfg->uid || pw->pw_gid == cfg->gid ||
	    pw->pw_uid < cfg->uid_min || pw->pw_uid > cfg->uid_max ||
	    pw->pw_gid < cfg->gid_min || pw->pw_gid > cfg->gid_max)
		return -1;
	if (snprintf(docroot_buf, sizeof(docroot_buf), "%s/%s", pw->pw_dir,
	    vh->userdir) >= (int)sizeof(docroot_buf))
		return -1;
	snprintf(prefix_buf, sizeof(prefix_buf), "/~%s", name);
	cs.home_len = strlen(pw->pw_dir);
	priv_ident_vhost(id, vh);
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	n = (int)(sizeof(id->groups) / sizeof(id->groups[0]));
	if (getgrouplist(name, pw->pw_gid, id->groups, &n) < 0)
		return -1;
	/* Only groups a vhost may have (vhost.c refuses the others at load):
	 * a user in root, adm or shadow does not serve with them. */
	for (i = id->ngroups = 0; i < n; i++)
		if (id->groups[i] != 0 && id->groups[i] != cfg->gid &&
		    id->groups[i] >= cfg->gid_min && id->groups[i] <= cfg->gid_max)
			id->groups[id->ngroups++] = id->groups[i];
	return 0;
}

/* A directory named without its slash: the redirect to it. Not inlined
 * into dispatch: its 4 KiB buffer would deepen every request's stack. */
static int __attribute__((noinline))
redirect_dir(struct exchange *ex)
{
	char loc[PATH_MAX + 2];

	snprintf(loc, sizeof(loc), "%s%s/", ex->prefix, ex->path);
	return file_redirect(ex, 301, loc);
}

static int
dispatch(struct exchange *ex)
{
	/* Static, like file.c's: 12 KiB on the stack put every frame below
	 * it on pages of their own, each one more private page per process
	 * (PSS of a connection process). */
	static _Alignas(4096) struct path_res res;     /* as req, above */
	struct body b;
	int st, kept;

	if ((st = access_check(ex)) != 0)      /* redirect, allow, auth */
		return st;
	/* The same static file as the last request: no path walk. */
	kept = ex->path[0] != '\0' && file_kept(ex);
	st = kept ? 0 : ex->path[0] == '\0' ? 301 :
	    path_resolve(&res, ex->vh, ex->rootfd, ex->docroot, ex->path);
	if (!kept && st == 0 && (res.cgi != NULL || res.in_cgi_dir))
		return cgi_serve(ex, &res);
	/* Not a program: the body, if any, is read and dropped first so the
	 * next request on the connection starts where it should. */
	body_init(&b, ex->c, ex->r);
	if (body_discard(&b, DISCARD_MAX) < 0) {
		ex->close = 1;
		if (b.status == 400 || b.status == 408 || b.status == 413)
			return b.status;
	}
	if (st == 301)
		return redirect_dir(ex);
	if (st != 0)
		return st;
	return file_serve(ex, kept ? NULL : &res); /* its methods: file_serve's */
}

/* Whether `/~name` names a user must not show: an unknown name runs as
 * the vhost, a known one as the user, so a connection that stayed open
 * would tell by what it still answers, and so would the vhost's
 * error-page (a user cannot read it). These answers close and use the
 * built-in page. Asked before request_path decodes req.path in place (a
 * "/%7Ename" path is not a userdir one). */
static int
is_userdir_path(const struct vhost *vh)
{
	return vh->userdir != NULL && strncmp(req.path, "/~", 2) == 0;
}

static void
userdir_error(struct exchange *ex)
{
	static struct vhost plain;

	plain = *ex->vh;
	plain.nerror_page = 0;
	ex->vh = &plain;
	ex->close = 1;
}

/* A name a user could have (the POSIX portable set), as sent. */
static int
portable_name(const char *s)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && strchr("._-", *s) == NULL)
			return 0;
	return 1;
}

/* ex->path: the path below the prefix, normalised in place in the
 * request's own copy of it (a page the request has written already; a
 * buffer of its own was one more page per process). `/~name` alone
 * becomes "", which dispatch redirects to `/~name/`: for a known name,
 * and for any name a user could have, so the redirect does not tell. */
static int
request_path(struct exchange *ex, int userdir)
{
	char *p;

	if (userdir && strchr(req.path + 2, '/') == NULL &&
	    (cs.prefix[0] != '\0' || portable_name(req.path + 2))) {
		ex->prefix = req.path;
		ex->close = 1;
		ex->path = "";
		return 0;
	}
	p = req.path + strlen(cs.prefix);
	ex->path = p;
	return path_normalise(p, strlen(p) + 1, p);
}

/* Serve one request in stage 2; 0 to go on, -1 to close. */
static int
serve_request(const struct config *cfg, const struct vhost *vh, int last)
{
	struct exchange *ex = &cs.exch;
	int st, hops = 0, userdir = is_userdir_path(vh);

	memset(ex, 0, sizeof(*ex));
	ex->redirect = redirect_buf;    /* only a CGI local redirect (dispatch
					 * returning 1) writes and reads it */
	ex->c = &cs.conn;
	ex->cfg = cfg;
	ex->vh = vh;
	ex->r = &req;
	ex->docroot = cs.docroot;
	ex->rootfd = cs.rootfd;
	ex->prefix = cs.prefix;
	ex->tls = cs.tls;
	ex->close = last || !req.keep_alive;
	st = request_path(ex, userdir);
	while (st == 0) {
		st = dispatch(ex);
		if (st != 1)
			break;
		/* A CGI local redirect: the new path, served as a GET. */
		if (++hops > REDIRECTS_MAX) {
			st = 500;
			break;
		}
		req.method = HTTP_GET;
		req.method_name = "GET";
		req.body = HTTP_BODY_NONE;
		st = path_normalise(path_buf, sizeof(path_buf), ex->redirect);
		ex->path = path_buf;
	}
	if (st > 1 && !ex->head_sent) {
		if (userdir)
			userdir_error(ex);
		st = file_error(ex, st);
	}
	log_access(vh, &cs.conn, &req, ex->status, ex->bytes);
	/* The client announced its last request and sent it without a body:
	 * no lingering at the close (conn_close checks nothing is unread). */
	cs.conn.peer_done = !req.keep_alive && req.body == HTTP_BODY_NONE;
	if (st < 0 || ex->close || cs.conn.error || conn_flush(&cs.conn) < 0)
		return -1;
	return 0;
}

static void
root_close(void)
{
	if (cs.rootfd >= 0)
		close(cs.rootfd);
	cs.rootfd = -1;
	cs.root_vh = NULL;
}

/* The vhost's root as a directory fd, opened by the kernel with no
 * symlink on the way, before the switch (by the monitor; by stage 2 for a
 * further request to another vhost of the same identity); and the
 * identity, which for `user owner`/`group owner` is the owner of that
 * very fd, not of whatever the path named when the config was loaded.
 * Kept for further requests to the same vhost. 0, or the HTTP status to
 * answer instead. */
static int
root_open(const struct config *cfg, const struct vhost *vh,
    struct priv_ident *id)
{
	int owner = vh->uid_owner || vh->gid_owner, e;
	struct stat st;

	if (cs.rootfd < 0 || cs.root_vh != vh) {
		root_close();
		/* fstat only for `owner`: one call less for the others. */
		if ((cs.rootfd = path_open_root(vh->root, owner ? &st : NULL)) < 0) {
			e = errno;
			log_error(vh, "root %s: %s", vh->root, e == ELOOP ?
			    "a symlink on the way: refused" : strerror(e));
			return e == ENOENT || e == ENOTDIR ? 404 : 500;
		}
		cs.root_vh = vh;
		cs.root_uid = owner ? st.st_uid : 0;
		cs.root_gid = owner ? st.st_gid : 0;
	}
	if (!owner) {
		priv_ident_vhost(id, vh);
	} else if (priv_ident_owner(id, cfg, vh, cs.root_uid, cs.root_gid) < 0) {
		log_error(vh, "root %s is owned by %lu:%lu, which no vhost may "
		    "run as: refused", vh->root, (unsigned long)cs.root_uid,
		    (unsigned long)cs.root_gid);
		return 500;
	}
	return 0;
}

/* A userdir's directory, opened as its user (after the switch): no
 * symlink below the home. Left at -1 if it cannot be: every path is then
 * a 404, as for a user without one. */
static void
userdir_open(void)
{
	char *end = docroot_buf + cs.home_len;  /* the '/' before userdir */

	*end = '\0';
	cs.rootfd = path_open_userdir(docroot_buf, end + 1);
	*end = '/';
}

/* Pick vhost and identity for a parsed request, in stage 2; never
 * returns when the request cannot be served on this connection. */
static const struct vhost *
choose(const struct config *cfg, struct priv_ident *id)
{
	const struct vhost *vh = vhost_find(cfg, req.host);
	char name[GATE_NAME_MAX];
	int st;

	/* SNI chose a certificate, and with it a vhost: Host must agree. */
	if (cs.sni_vhost >= 0 && vh->pos != cs.sni_vhost)
		reject(cfg, vh, 421);
	gate_userdir_name(vh, req.path, name);
	if (userdir_ident(cfg, vh, name, id) == 0) {
		root_close();   /* opened after the switch (userdir_open) */
		cs.docroot = docroot_buf;
		cs.prefix = prefix_buf;
	} else {
		if ((st = root_open(cfg, vh, id)) != 0)
			reject(cfg, vh, st);
		cs.docroot = vh->root;
		cs.prefix = "";
	}
	return vh;
}

/* Close fds[0..n) (distinct, at most 16: the master's listeners,
 * signalfd, hand-off channel and spawner sockets), one close_range for
 * each run of consecutive numbers (the master opens most of them one after
 * another). fds is sorted in place. */
static void
close_fds(int *fds, int n)
{
	int i, j, t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			t = fds[j];
			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && fds[j] == fds[j - 1] + 1; j++)
			;
#ifdef SYS_close_range /* Linux 5.9; ENOSYS before: one by one */
		if (j - i > 1 && syscall(SYS_close_range, (unsigned)fds[i],
		    (unsigned)fds[j - 1], 0) == 0)
			continue;
#endif
		for (t = i; t < j; t++)
			close(fds[t]);
	}
}

/* Exactly len bytes from fd (a socketpair end) within `ms` of the first
 * wait; 0, or -1 on EOF, error or timeout. `sent`: the bytes should be
 * there already (they came with the message), so read before waiting,
 * not after: then the clock is not read at all. from: the pid of the
 * process that sent the first bytes, as the kernel tells it
 * (SCM_CREDENTIALS, with SO_PASSCRED on fd), or 0. */
static int
recv_exact(int fd, void *buf, size_t len, int ms, int sent, pid_t *from)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct ucred cr;
	struct cmsghdr *c;
	char *p = buf;
	int64_t now, deadline = -1;
	ssize_t n;

	while (len > 0) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (!sent) {
			now = clock_ms();
			if (deadline < 0)
				deadline = now + ms;
			if (deadline <= now ||
			    poll(&pf, 1, (int)(deadline - now)) <= 0)
				return -1;
		}
		sent = 0;
		struct iovec iov = { .iov_base = p, .iov_len = len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = from ? ctl.buf : NULL,
		    .msg_controllen = from ? sizeof(ctl.buf) : 0 };
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		/* The credentials come first, before any fds sent along. */
		if (from != NULL && (c = CMSG_FIRSTHDR(&mh)) != NULL &&
		    c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(cr))) {
			memcpy(&cr, CMSG_DATA(c), sizeof(cr));
			*from = cr.pid;
		}
		from = NULL;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Every field of the gatekeeper's message in range, or -1: it comes from
 * a process that has read the client, which may be running anything. */
static int
msg_check(const struct config *cfg, const struct gate_msg *m)
{
	size_t i;
	int end = 0;

	if (m->magic != GATE_MAGIC || m->vhost < 0 || m->vhost >= cfg->nvhosts ||
	    m->sni_vhost < -1 || m->sni_vhost >= cfg->nvhosts || m->tls > 1 ||
	    m->nbytes == 0 || m->nbytes > CONN_RBUF)
		return -1;
	for (i = 0; i < sizeof(m->user); i++) {
		char ch = m->user[i];
		if (ch == '\0')
			end = 1;
		else if (end || !((ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '.' || ch == '_' || (ch == '-' && i > 0)))
			return -1;
	}
	if (!end)
		return -1;
	return m->client.ss_family == AF_UNSPEC || m->client.ss_family == AF_INET ||
	    m->client.ss_family == AF_INET6 ? 0 : -1;
}

/* Until the gatekeeper has exited, which it does right after its
 * message on a plain connection: while it lives it holds the client's
 * socket too. Our own child is waited for; the spawner's, through its
 * pidfd, within ms. 0, or -1 if it is still there. */
static int
gate_gone(int ms)
{
	struct pollfd p = { .fd = cs.gk_fd, .events = POLLIN };

	if (cs.gk > 0)
		return waitpid(cs.gk, NULL, 0) == cs.gk ? 0 : -1;
	/* No signal handler in a monitor: no EINTR. */
	return cs.gk_fd < 0 || poll(&p, 1, ms) == 1 ? 0 : -1;
}

/* The monitor: have the gatekeeper started, by the spawner or by a fork
 * of our own, and take from it the one message. Never returns when the
 * gatekeeper answered the connection itself (or failed). */
static void
monitor_start(const struct config *cfg, struct tls_keys *keys,
    const struct accepted *a, int slot, struct gate_msg *m, int *sp_out)
{
	pid_t from = 0;
	int sp[2], one = 1, spawned = 0;

	/* 1. One socketpair: the message and the request bytes come up it,
	 *    and over TLS every byte of the connection afterwards. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error(NULL, "socketpair: %s", strerror(errno));
		_exit(1);
	}
	/* 2. The spawner forks the gatekeeper, which then is not our child:
	 *    the kernel names the process that sends the message
	 *    (SO_PASSCRED), whose pidfd says when it is gone. Our copy of
	 *    the spawner's socket is closed at once: stage 2 and its CGI
	 *    programs never hold it. A spawner gone or behind: our own fork,
	 *    as without one. */
	if (a->spawner >= 0) {
		spawned = setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &one,
		    sizeof(one)) == 0 && spawn_ask(a->spawner, a, slot, sp[1]) == 0;
		close(a->spawner);
	}
	cs.gk = 0;
	cs.gk_fd = -1;
	if (!spawned && (cs.gk = _Fork()) < 0) {
		log_error(NULL, "fork: %s", strerror(errno));
		_exit(1);
	}
	if (!spawned && cs.gk == 0) {
		close(sp[0]);
		if (a->chan >= 0)
			close(a->chan); /* only stage 2 may hand off */
		gate_run(cfg, keys, a, slot, sp[1], 0);
	}
	close(sp[1]);
	if (a->preload >= 0)
		close(a->preload);      /* the gatekeeper's to read */
	/* 3. The message: a fixed size, nothing of the client's. The
	 *    gatekeeper's own deadline is `timeout`; a second more is its
	 *    time to send. */
	if (recv_exact(sp[0], m, sizeof(*m), cfg->timeout * 1000 + 1000, 0,
	    spawned ? &from : NULL) < 0) {
		/* It answered the client itself, or the client left. */
		(void)gate_gone(0);
		_exit(0);
	}
	if (msg_check(cfg, m) < 0) {
		log_error(NULL, "gatekeeper %ld sent a malformed message: "
		    "connection dropped", (long)(spawned ? from : cs.gk));
		_exit(1);
	}
	/* ESRCH: it has exited already. */
	if (spawned && (cs.gk_fd = (int)syscall(SYS_pidfd_open, from, 0)) < 0 &&
	    errno != ESRCH) {
		log_error(NULL, "pidfd_open(%ld): %s", (long)from, strerror(errno));
		_exit(1);
	}
	*sp_out = sp[0];
}

/* The identity the message names, and the vhost's root, opened before
 * the switch. The gatekeeper learns whether to go on: a root that cannot
 * be opened, or is owned by an id no vhost may take, is answered by it. */
static const struct vhost *
monitor_ident(const struct config *cfg, const struct gate_msg *m,
    struct priv_ident *id, int sp)
{
	const struct vhost *vh = &cfg->vhosts[m->vhost];
	int32_t verdict = 0;

	if (userdir_ident(cfg, vh, m->user, id) == 0) {
		cs.docroot = docroot_buf;
		cs.prefix = prefix_buf;
	} else {
		verdict = root_open(cfg, vh, id);
		cs.docroot = vh->root;
		cs.prefix = "";
	}
	if (send(sp, &verdict, sizeof(verdict), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(verdict) || verdict != 0) {
		/* It answers the client; its exit ends the connection. */
		(void)gate_gone(cfg->timeout * 1000 + 1000);
		_exit(0);
	}
	return vh;
}

/* The peer and local addresses of the client's socket, as the master's
 * accept gave them or from the kernel (inetd mode), before a TLS
 * connection's stage 2 lets go of that socket. */
static void
addresses(const struct accepted *a, struct sockaddr_storage *peer,
    struct sockaddr_storage *local)
{
	socklen_t len = sizeof(*peer);

	memset(peer, 0, sizeof(*peer));
	memset(local, 0, sizeof(*local));
	if (a->peer != NULL)
		*peer = *a->peer;
	else
		(void)getpeername(a->fd, (struct sockaddr *)peer, &len);
	len = sizeof(*local);
	if (a->local != NULL)
		*local = *a->local;
	else
		(void)getsockname(a->fd, (struct sockaddr *)local, &len);
}

/* `cross-identity handoff`: the connection, and the bytes read but not
 * answered (this request and whatever came behind it), go to the master,
 * which starts a fresh connection process for them. Every earlier answer
 * is out already (serve_request flushed it). Returns only if nothing was
 * handed off. */
static void
hand_off(const struct accepted *a, int served)
{
	struct handoff_msg m;

	memset(&m, 0, sizeof(m));
	m.magic = HANDOFF_MAGIC;
	m.tls = (uint32_t)cs.tls;
	m.sni_vhost = cs.tls ? cs.sni_vhost : -1;
	m.requests = (uint32_t)served;
	m.generation = a->generation;
	m.client = cs.conn.peer;
	if (cs.conn.local.ss_family == AF_INET ||
	    cs.conn.local.ss_family == AF_INET6)
		m.local = cs.conn.local;
	if (handoff_send(a->chan, &m, cs.conn.fd, cs.conn.rbuf + cs.conn.rpos,
	    cs.conn.rlen - cs.conn.rpos) < 0) {
		log_error(NULL, "hand-off: %s: connection closed", strerror(errno));
		return;
	}
	priv_trace("stage 2: request for another identity: connection handed "
	    "off");
	/* Our copy of the connection closes with the process; the one in
	 * the master's hands keeps it open. */
	_exit(0);
}

void
serve_connection(const struct config *cfg, struct tls_keys *keys,
    const struct accepted *a, int *inherited, int ninherited, int slot)
{
	struct sockaddr_storage peer, local;
	struct priv_ident id;
	struct gate_msg m;
	const struct vhost *vh;
	size_t head_len = 0;
	int st, n, sp;

	/* Most connections are one request: read the clock through the
	 * kernel until this one proves to be kept alive (clock.c). */
	clock_fresh();
	/* No listening socket in a connection process (invariant 4), nor
	 * the master's signalfd. */
	close_fds(inherited, ninherited);
	cs.rootfd = -1;
	if (priv_monitor(cfg) < 0)
		_exit(1);
	/* A connection that will not handshake here (plain, or handed off
	 * with its session still in the old gatekeeper) needs no key: unmap
	 * them before the fork, and neither process holds them or pays to
	 * let them go. */
	if (keys != NULL && (!a->tls || a->preload >= 0)) {
		tls_unmap(keys);
		keys = NULL;
	}
	monitor_start(cfg, keys, a, slot, &m, &sp);

	/* The monitor, from the message alone: which identity, and what the
	 * process must let go of before it takes it. */
	vh = monitor_ident(cfg, &m, &id, sp);
	score_enter_vhost(slot, vh->pos, 0);    /* only its name: the master
						 * reads it if we crash */
	score_unmap();
	if (keys != NULL)
		tls_unmap(keys);        /* no private key survives the switch;
					 * no handshake ran here to scrub */
	log_keep_only(vh);              /* no other vhost's log fd either */
	addresses(a, &peer, &local);
	if (m.client.ss_family != AF_UNSPEC)
		peer = m.client;
	if (m.tls) {
		/* The gatekeeper holds the TLS session; stage 2 talks to it. */
		close(a->fd);
		st = conn_init(&cs.conn, sp, &peer, &local, 0);
	} else {
		/* A plain connection is ours now. The gatekeeper is waited
		 * for before anything is served: while it lives it holds the
		 * socket too, and a gatekeeper that runs an attacker's code
		 * could read the requests that follow, or write into the
		 * answers. */
		if (gate_gone(cfg->timeout * 1000 + 1000) < 0) {
			log_error(vh, "gatekeeper still there after its "
			    "message: connection dropped");
			_exit(1);
		}
		st = conn_init(&cs.conn, a->fd, &peer, &local, a->ready);
	}
	if (cs.gk_fd >= 0)
		close(cs.gk_fd);        /* not stage 2's */
	if (st < 0)
		_exit(1);
	/* A TLS connection handed off reaches us as plaintext from the
	 * gatekeeper that still holds its session. */
	cs.tls = (int)m.tls || a->relayed;
	cs.sni_vhost = a->relayed ? a->sni_vhost : m.sni_vhost;
	if (priv_stage2(&id) < 0) {
		log_error(vh, "identity switch failed: connection dropped");
		_exit(1);
	}
	cs.ident = id;

	/* Stage 2: only now the request's bytes, as the vhost. */
	conn_deadline(&cs.conn, cfg->timeout);
	if (recv_exact(sp, cs.conn.rbuf, m.nbytes, cfg->timeout * 1000, 1,
	    NULL) < 0)
		_exit(1);
	cs.conn.rlen = m.nbytes;
	if (!m.tls)
		close(sp);
	for (n = a->requests + 1;; n++) {
		if ((st = read_head(&req, &head_len)) < 0)
			finish(0);
		if (st > 0)
			reject(cfg, vhost_find(cfg, req.host ? req.host : ""), st);
		vh = choose(cfg, &id);
		if (!priv_ident_same(&cs.ident, &id)) {
			if (cfg->cross_identity == CROSS_HANDOFF && a->chan >= 0)
				hand_off(a, n - 1);
			finish(0);      /* another identity: unanswered close */
		}
		conn_consume(&cs.conn, head_len);
		if (cs.docroot == docroot_buf)
			userdir_open();
		if (serve_request(cfg, vh, n >= cfg->keepalive_requests) < 0)
			finish(0);
		/* Idle between requests: keepalive-timeout; then the head of
		 * the next request gets the full `timeout` again. A kept
		 * connection reads the clock often: the vDSO's from here. */
		clock_stay();
		conn_deadline(&cs.conn, cfg->keepalive_timeout);
		if (conn_wait_readable(&cs.conn) <= 0)
			finish(0);
		conn_deadline(&cs.conn, cfg->timeout);
	}
}
