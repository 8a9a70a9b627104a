/* access.h: whether a request may be served, before it is: `redirect`
 * to https, `allow` by client address, no `.ht*` file, `auth` (HTTP
 * Basic). Runs in stage 2, for every request and every CGI local redirect. */
#ifndef ITKD_ACCESS_H
#define ITKD_ACCESS_H

#include <stddef.h>
#include <sys/socket.h>

struct exchange;
struct proxy_net;

/* After this many failed logins on one connection it is closed. */
#define ACCESS_FAILS_MAX 3

/* 0: serve the request; 308: the redirect was sent; -1: close; else the
 * status to answer with file_error: 400 (malformed credentials), 401
 * (ex->auth_realm set for WWW-Authenticate), 403, 500 (an unusable
 * password file: never an open door). Sets ex->remote_user when auth let
 * the request in. A failed login waits first, longer each time on the
 * same connection (0.5, 1, 2 s), and the third closes it. */
int access_check(struct exchange *ex);

/* 1 if prefix (as vhost.h keeps it) covers the URL path path: itself, or
 * below it on a '/' boundary ("/admin" covers "/admin/x", never
 * "/administrator"). */
int access_prefix_covers(const char *prefix, const char *path);

/* 1 if ss (an IPv4-mapped IPv6 address counts as IPv4) is inside one of
 * nets[0..n). */
int access_net_match(const struct proxy_net *nets, int n,
    const struct sockaddr_storage *ss);

/* base, then path percent-encoded, then "?query" unless query is empty,
 * into out[0..cap). 0, or -1 if it does not fit. */
int access_url(char *out, size_t cap, const char *base, const char *path,
    const char *query);

#endif
