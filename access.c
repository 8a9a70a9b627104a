/* access.c: the access rules of a vhost, checked for each request in
 * stage 2 before anything is served, in this order:
 *
 * 1. `redirect`: on a plain listener every request gets a 308 to https
 *    (or to the URL), except below /.well-known/acme-challenge/, which an
 *    ACME client must reach over plain HTTP to get the first certificate.
 *    Credentials are never asked for on a connection the redirect is for.
 * 2. `allow`: the rule with the longest PREFIX covering the path names the
 *    only client addresses (after a trusted PROXY header: the client's
 *    own) that may have it; others get 403, and no password prompt.
 * 3. A file whose last path component starts with ".ht" is never served.
 * 4. `auth`: the rule with the longest PREFIX covering the path wants
 *    Basic credentials from its file (auth.c).
 *
 * A failed login is logged (user and client address, never the password)
 * and waits before its 401: 0.5 s, then 1 s, then 2 s on one connection,
 * and the third closes it. A connection is one process, so that state is
 * a static; a client that reconnects pays a new connection every third
 * guess. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "auth.h"
#include "conn.h"
#include "file.h"
#include "http.h"
#include "log.h"
#include "serve.h"
#include "vhost.h"

#define ACME_PREFIX "/.well-known/acme-challenge/"

static int failures;                    /* failed logins on this connection */
static char remote_user[AUTH_USER_MAX + 1];

int
access_prefix_covers(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/');
}

static int
in_net(const struct proxy_net *net, int family, const unsigned char *a)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (net->family != family || memcmp(net->addr, a, full) != 0)
		return 0;
	return rest == 0 ||
	    ((net->addr[full] ^ a[full]) & (0xff00 >> rest) & 0xff) == 0;
}

int
access_net_match(const struct proxy_net *nets, int n,
    const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const unsigned char *a;
	int i, family = ss->ss_family;

	if (family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
	} else if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		family = AF_INET;
		a = &s6->sin6_addr.s6_addr[12];
	} else if (family == AF_INET6) {
		a = s6->sin6_addr.s6_addr;
	} else {
		return 0;
	}
	for (i = 0; i < n; i++)
		if (in_net(&nets[i], family, a))
			return 1;
	return 0;
}

int
access_url(char *out, size_t cap, const char *base, const char *path,
    const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *c;
	size_t n = strlen(base);

	if (n >= cap)
		return -1;
	memcpy(out, base, n);
	for (c = (const unsigned char *)path; *c; c++) {
		if (n + 4 > cap)
			return -1;
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("/-._~!$&'()*+,;=:@", *c)) {
			out[n++] = (char)*c;
		} else {
			out[n++] = '%';
			out[n++] = hex[*c >> 4];
			out[n++] = hex[*c & 15];
		}
	}
	if (query[0] != '\0') {
		if (n + 1 + strlen(query) + 1 > cap)
			return -1;
		out[n++] = '?';
		memcpy(out + n, query, strlen(query));
		n += strlen(query);
	}
	out[n] = '\0';
	return 0;
}

/* The 308 of `redirect`, to the same path and query. */
static int
send_redirect(struct exchange *ex, const char *path)
{
	static char url[3 * PATH_MAX + 1400];
	const char *host = ex->r->host, *open = "", *close = "";
	char base[300 + 1100];

	if (strcmp(ex->vh->redirect, "https") != 0) {
		snprintf(base, sizeof(base), "%s", ex->vh->redirect);
	} else {
		if (host == NULL || host[0] == '\0') {
			/* HTTP/1.0 without Host: the vhost's name, or the
			 * address the client reached. */
			if (ex->vh->names[0][0] != '*') {
				host = ex->vh->names[0];
			} else {
				host = ex->c->local_addr;
				if (strchr(host, ':') != NULL) {
					open = "[";
					close = "]";
				}
			}
		}
		snprintf(base, sizeof(base), "https://%s%s%s", open, host, close);
	}
	if (access_url(url, sizeof(url), base, path,
	    ex->r->query != NULL ? ex->r->query : "") < 0)
		return 414;
	if (file_redirect(ex, 308, url) < 0)
		return -1;
	return 308;
}

/* The last component of path, trailing '/' aside, starts with ".ht". */
static int
is_ht_file(const char *path)
{
	size_t n = strlen(path);

	while (n > 0 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	return strncmp(path + n, ".ht", 3) == 0;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A failed login: logged, slowed, and the connection closed at the
 * ACCESS_FAILS_MAX-th. */
static void
login_failed(struct exchange *ex, const char *user, const char *why)
{
	failures++;
	log_error(ex->vh, "auth: %s for user '%s' from %s (failure %d on "
	    "this connection)", why, user, ex->c->peer_addr, failures);
	pause_ms(500L << (failures < 4 ? failures - 1 : 3));
	/* The wait must not eat the time the answer has to be written. */
	conn_deadline(ex->c, ex->cfg->timeout);
	if (failures >= ACCESS_FAILS_MAX)
		ex->close = 1;
}

static int
check_auth(struct exchange *ex, const struct vhost_auth *a)
{
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1], err[512];
	int rc;

	ex->auth_realm = a->realm;
	rc = auth_basic_decode(http_field(ex->r, "Authorization"), user, pass);
	if (rc == 1)
		return 401;     /* no credentials yet: the prompt */
	if (rc < 0) {
		login_failed(ex, "-", "malformed Basic credentials");
		return 400;
	}
	rc = auth_verify(a->file, user, pass, err, sizeof(err));
	explicit_bzero(pass, sizeof(pass));
	if (rc < 0) {
		log_error(ex->vh, "auth: %s: nobody gets in", err);
		return 500;
	}
	if (rc > 0) {
		login_failed(ex, user, "wrong password");
		return 401;
	}
	memcpy(remote_user, user, sizeof(remote_user));
	ex->remote_user = remote_user;
	ex->auth_realm = NULL;
	return 0;
}

int
access_check(struct exchange *ex)
{
	static char path[PATH_MAX + 300];
	const struct vhost *vh = ex->vh;
	const struct vhost_allow *allow = NULL;
	const struct vhost_auth *auth = NULL;
	int i, st = 0;

	/* The URL path from the site's top: a userdir's "/~name" first. */
	if (snprintf(path, sizeof(path), "%s%s", ex->prefix, ex->path) >=
	    (int)sizeof(path))
		return 414;
	if (vh->redirect != NULL && !ex->tls &&
	    strncmp(path, ACME_PREFIX, strlen(ACME_PREFIX)) != 0) {
		st = send_redirect(ex, path);
		goto out;
	}
	for (i = 0; i < vh->nallow; i++)
		if (access_prefix_covers(vh->allow[i].prefix, path) &&
		    (allow == NULL ||
		    strlen(vh->allow[i].prefix) > strlen(allow->prefix)))
			allow = &vh->allow[i];
	if (allow != NULL &&
	    !access_net_match(allow->nets, allow->nnets, &ex->c->peer)) {
		st = 403;
		goto out;
	}
	if (is_ht_file(path)) {
		st = 403;
		goto out;
	}
	for (i = 0; i < vh->nauth; i++)
		if (access_prefix_covers(vh->auth[i].prefix, path) &&
		    (auth == NULL ||
		    strlen(vh->auth[i].prefix) > strlen(auth->prefix)))
			auth = &vh->auth[i];
	if (auth != NULL)
		st = check_auth(ex, auth);
out:
	/* Refused or redirected, a request body stays unread: the
	 * connection cannot carry another request after it. */
	if (st != 0 && ex->r->body != HTTP_BODY_NONE)
		ex->close = 1;
	return st;
}
