/* serve.c: one connection's life, the stage code.
 *
 * stage 1: the gatekeeper. The global user with CAP_SETUID + CAP_SETGID
 *          only: TLS handshake, read and parse the request head, choose
 *          the vhost and the identity, check the vhost's limits.
 * stage 2: the vhost. Its uid, gid and groups, no capabilities at all.
 *          Serves this request and every further one for the same
 *          identity; a request for another identity closes the connection
 *          unanswered (the client retries on a new one, as with mpm-itk).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "body.h"
#include "cgi.h"
#include "conn.h"
#include "file.h"
#include "http.h"
#include "log.h"
#include "path.h"
#include "priv.h"
#include "proxy.h"
#include "score.h"
#include "serve.h"
#include "tls.h"
#include "vhost.h"

/* A body sent to a static resource is read and dropped up to this size. */
#define DISCARD_MAX (1u << 20)
/* Local redirects a CGI program may chain before we call it a loop. */
#define REDIRECTS_MAX 5

/* The state of the connection: everything static, nothing on the heap.
 * Each page a connection process writes is one more page fault and one
 * more private page (1.5-2 us each here, issue 8). So the small state
 * comes first in one page-aligned struct, then conn, whose small fields
 * come before its buffers: all of it and the start of rbuf, what a small
 * request is read into, share one page. */
static _Alignas(4096) struct {
	int switched;
	const char *docroot;            /* vh->root, or docroot_buf */
	const char *prefix;             /* "", or prefix_buf */
	struct priv_ident ident;        /* the identity we switched to */
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

/* Answer a request that failed before a vhost was chosen: stage 1 still,
 * a short built-in page, and the connection closes. */
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
 * an HTTP status to answer; -1: the client went away (or never spoke). */
static int
read_head(struct http_request *r)
{
	struct conn *c = &cs.conn;
	size_t len;
	ssize_t n;
	int st;

	for (;;) {
		st = http_head_end(c->rbuf + c->rpos, c->rlen - c->rpos, &len);
		if (st == 1) {
			st = http_parse_request(r, c->rbuf + c->rpos, len);
			conn_consume(c, len);
			return st;
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
 * unknown name is a plain 404 that tells nothing about the user). */
static int
userdir_ident(const struct config *cfg, const struct vhost *vh,
    const char *path, struct priv_ident *id)
{
	char name[64];
	const char *end;
	struct passwd *pw;
	size_t len;
	int i, n;

	if (vh->userdir == NULL || strncmp(path, "/~", 2) != 0)
		return -1;
	end = strchr(path + 2, '/');
	len = end ? (size_t)(end - path - 2) : strlen(path + 2);
	if (len == 0 || len >= sizeof(name))
		return -1;
	memcpy(name, path + 2, len);
	name[len] = '\0';
	if ((pw = getpwnam(name)) == NULL || pw->pw_uid == 0 || pw->pw_gid == 0 ||
	    pw->pw_uid < cfg->uid_min || pw->pw_uid > cfg->uid_max ||
	    pw->pw_gid < cfg->gid_min || pw->pw_gid > cfg->gid_max)
		return -1;
	if (snprintf(docroot_buf, sizeof(docroot_buf), "%s/%s", pw->pw_dir,
	    vh->userdir) >= (int)sizeof(docroot_buf))
		return -1;
	snprintf(prefix_buf, sizeof(prefix_buf), "/~%s", name);
	priv_ident_vhost(id, vh);
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	n = (int)(sizeof(id->groups) / sizeof(id->groups[0]));
	if (getgrouplist(name, pw->pw_gid, id->groups, &n) < 0)
		return -1;
	/* Only groups a vhost may have (vhost.c refuses the others at load):
	 * a user in root, adm or shadow does not serve with them. */
	for (i = id->ngroups = 0; i < n; i++)
		if (id->groups[i] != 0 && id->groups[i] >= cfg->gid_min &&
		    id->groups[i] <= cfg->gid_max)
			id->groups[id->ngroups++] = id->groups[i];
	return 0;
}

/* The first request chose an identity: enter the vhost's scoreboard count,
 * let go of everything stage 2 must not hold, and switch. */
static void
enter_stage2(const struct config *cfg, struct tls_keys *keys,
    const struct vhost *vh, const struct priv_ident *id, int slot)
{
	if (score_enter_vhost(slot, vh->pos, vh->max_clients) < 0)
		reject(cfg, vh, 503);
	score_unmap();
	if (keys != NULL)
		tls_wipe(keys);         /* no private key survives the switch */
	log_keep_only(vh);              /* no other vhost's log fd either */
	if (priv_stage2(id) < 0) {
		log_error(vh, "identity switch failed: connection dropped");
		finish(1);
	}
	cs.ident = *id;
	cs.switched = 1;
}

/* The CGI program or the static file that path names. */
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
	 * (PSS of a connection process, issue 8). */
	static _Alignas(4096) struct path_res res;     /* as req, above */
	struct body b;
	int st;

	st = ex->path[0] == '\0' ? 301 : path_resolve(&res, ex->vh, ex->docroot,
	    ex->path);
	if (st == 0 && (res.cgi != NULL || res.in_cgi_dir))
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
	if (ex->r->method == HTTP_POST)
		return 405;
	return file_serve(ex, &res);
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
	ex->prefix = cs.prefix;
	ex->tls = cs.conn.tls != NULL;
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

/* Pick vhost and identity for the parsed request; never returns when the
 * request cannot be served on this connection. */
static const struct vhost *
choose(const struct config *cfg, struct priv_ident *id)
{
	const struct vhost *vh = vhost_find(cfg, req.host);

	/* SNI chose a certificate, and with it a vhost: Host must agree. */
	if (cs.conn.tls != NULL && tls_server_name(cs.conn.tls)[0] != '\0' &&
	    vh != tls_vhost(cs.conn.tls))
		reject(cfg, vh, 421);
	if (userdir_ident(cfg, vh, req.path, id) == 0) {
		cs.docroot = docroot_buf;
		cs.prefix = prefix_buf;
	} else {
		priv_ident_vhost(id, vh);
		cs.docroot = vh->root;
		cs.prefix = "";
	}
	return vh;
}

/* Close fds[0..n): one close_range when they are the whole of a range
 * (the master opens its listeners and its signalfd one after another),
 * else one by one. */
static void
close_fds(const int *fds, int n)
{
	int i, lo = INT_MAX, hi = -1;

	for (i = 0; i < n; i++) {
		lo = fds[i] < lo ? fds[i] : lo;
		hi = fds[i] > hi ? fds[i] : hi;
	}
#ifdef SYS_close_range /* Linux 5.9; ENOSYS before: the loop below */
	/* n distinct fds (the master's are) spanning n numbers: nothing
	 * else is in between. */
	if (n > 0 && hi - lo + 1 == n &&
	    syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) == 0)
		return;
#endif
	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void
stage1_setup(const struct config *cfg, const int *inherited, int ninherited)
{
	/* No listening socket in a connection process (invariant 4), nor
	 * the master's signalfd. */
	close_fds(inherited, ninherited);
	if (priv_stage1(cfg) < 0)
		_exit(1);
}

void
serve_connection(const struct config *cfg, struct tls_keys *keys,
    const struct accepted *a, const int *inherited, int ninherited, int slot)
{
	struct sockaddr_storage client;
	struct priv_ident id;
	const struct vhost *vh;
	int fd = a->fd, st, n;

	stage1_setup(cfg, inherited, ninherited);
	if (conn_init(&cs.conn, fd, a->peer, a->local, a->ready) < 0)
		finish(1);
	/* One total deadline covers the PROXY header, the handshake and the
	 * first request head. */
	conn_deadline(&cs.conn, cfg->timeout);
	if (proxy_read(cfg, fd, cs.conn.deadline, &cs.conn.peer, &client) < 0) {
		close(fd);
		_exit(0);
	}
	if (client.ss_family != AF_UNSPEC)
		conn_set_peer(&cs.conn, &client);
	if (a->tls &&
	    (cs.conn.tls = tls_accept(keys, cfg, fd, cs.conn.deadline)) == NULL) {
		close(fd);
		_exit(0);
	}
	if (score_claim_client(slot, &client, cfg->max_clients_per_ip) < 0)
		reject(cfg, vhost_find(cfg, ""), 503);
	for (n = 1;; n++) {
		if ((st = read_head(&req)) < 0)
			finish(0);
		if (st > 0)
			reject(cfg, vhost_find(cfg, req.host ? req.host : ""), st);
		vh = choose(cfg, &id);
		if (!cs.switched)
			enter_stage2(cfg, keys, vh, &id, slot);
		else if (!priv_ident_same(&cs.ident, &id))
			finish(0);      /* another identity: unanswered close */
		if (serve_request(cfg, vh, n >= cfg->keepalive_requests) < 0)
			finish(0);
		/* Idle between requests: keepalive-timeout; then the head of
		 * the next request gets the full `timeout` again. */
		conn_deadline(&cs.conn, cfg->keepalive_timeout);
		if (conn_wait_readable(&cs.conn) <= 0)
			finish(0);
		conn_deadline(&cs.conn, cfg->timeout);
	}
}
