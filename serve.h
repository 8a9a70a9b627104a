/* serve.h: one connection's life through the monitor, its gatekeeper and
 * stage 2 (the stage code), and the exchange that handlers (file.c, cgi.c)
 * answer. */
#ifndef ITKD_SERVE_H
#define ITKD_SERVE_H

#include <stdint.h>
#include <limits.h>

struct config;
struct vhost;
struct conn;
struct http_request;
struct sockaddr_storage;
struct tls_keys;

/* One request and its answer, as the handlers see it. */
struct exchange {
	struct conn *c;
	const struct config *cfg;
	const struct vhost *vh;
	struct http_request *r;
	const char *docroot;    /* vh->root, or the userdir's directory */
	int rootfd;             /* docroot's directory (O_PATH): every file
				 * is opened beneath it (path_open) */
	const char *prefix;     /* URL prefix of docroot: "" or "/~name" */
	const char *path;       /* decoded, normalised, below prefix, starts '/' */
	int tls;                /* 1 over TLS: HTTPS=on, https redirects */
	int status;             /* set by the handler: what was sent (for the log) */
	uint64_t bytes;         /* body bytes sent */
	int close;              /* the connection must close after this answer */
	int head_sent;          /* a response head went out: no error page now */
	char *redirect;         /* PATH_MAX bytes: a CGI local redirect's path,
				 * to serve as a new GET */
	const char *auth_realm; /* a 401's realm (access.c) */
	const char *remote_user;        /* whom `auth` let in, or NULL */
};

/* A connection as it was handed over. */
struct accepted {
	int fd;
	int tls;                /* on a `listen ... tls` port */
	/* From the master's accept4: the peer, the local address (the
	 * listener's, unless it is a wildcard: NULL), and whether fd is
	 * already non-blocking with TCP_NODELAY (from its listener). NULL and
	 * 0 in inetd mode: conn_init finds out and does it. */
	const struct sockaddr_storage *peer;
	const struct sockaddr_storage *local;
	int ready;
	int chan;               /* the hand-off channel's child end; -1 */
	int spawner;            /* the spawner's socket (spawn.h), to close
				 * once asked; -1: fork the gatekeeper here */
	/* A connection handed off by another connection process: the sealed
	 * memfd of the bytes its stage 2 read and did not answer (-1: a new
	 * connection); relayed: fd is the plaintext end of a TLS gatekeeper's
	 * relay; the vhost SNI chose (-1); requests answered so far. */
	int preload;
	int relayed;
	int sni_vhost;
	int requests;
	unsigned generation;    /* the master's config, for a hand-off */
};

/* Serve the connection a->fd through both stages; never returns.
 * inherited[0..ninherited), the master's listeners, signalfd and the like
 * (distinct fds, reordered here), are closed first thing. tls_keys is NULL on a plain
 * connection. slot is the connection's scoreboard slot (-1: none, inetd).
 * The caller hands over its signals as a connection wants them: SIGPIPE
 * and SIGXFSZ ignored, every other signal default, none blocked. */
void serve_connection(const struct config *cfg, struct tls_keys *keys,
    const struct accepted *a, int *inherited, int ninherited, int slot)
    __attribute__((noreturn));

#endif
