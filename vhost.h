/* vhost.h: the flat config file (docs/design.md), its validation, vhost lookup.
 * Loaded by the master (malloc is fine there); read-only in children. */
#ifndef ITKD_VHOST_H
#define ITKD_VHOST_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <stdint.h>

#define CONF_LISTEN_MAX   32
#define CONF_PROXY_MAX    32
#define VHOST_NAMES_MAX   32
#define VHOST_GROUPS_MAX  64    /* also the count seccomp lets setgroups take */
#define VHOST_INDEX_MAX   8
#define VHOST_CGI_MAX     16
#define VHOST_CGIDIR_MAX  8
#define VHOST_ERRPAGE_MAX 16
#define VHOST_HEADER_MAX  16
#define VHOST_CGIENV_MAX  32    /* cgi-env lines */
#define VHOST_CGIENV_BYTES 16384 /* their NAME=VALUE bytes in all */
#define VHOST_LIMIT_MAX   5
#define VHOST_AUTH_MAX    16
#define VHOST_ALLOW_MAX   16
#define CONF_VHOST_MAX    4096
#define CONF_FILE_MAX     (1 << 20)     /* bytes config_load reads at most */

#define TLS_V10 1u
#define TLS_V11 2u
#define TLS_V12 4u

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t sslen;
	int tls;
	char text[80];          /* as written, for logs and errors */
	int line;
};

struct proxy_net {              /* trusted-proxy and allow ADDR[/LEN] */
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

struct cgi_rule {
	char *suffix;           /* ".cgi", ".php" */
	char *interp;           /* NULL: the script is executed itself */
	int line;               /* of its `cgi` directive */
};

struct vhost_limit {
	int resource;           /* RLIMIT_CPU, _AS, _NPROC, _NOFILE, _FSIZE */
	rlim_t value;
};

/* auth PREFIX REALM FILE; allow PREFIX ADDR[/LEN]... A PREFIX starts with
 * '/', has no '.', '..' or empty component and no trailing '/' ("/" is
 * the whole site); it covers itself and what is below it. */
struct vhost_auth {
	char *prefix;
	char *realm;            /* no '"', '\\' or control byte */
	char *file;             /* absolute; read in stage 2, as the vhost */
};

struct vhost_allow {
	char *prefix;
	struct proxy_net *nets; /* an IPv4-mapped IPv6 network is kept as IPv4 */
	int nnets;
};

struct vhost {
	int pos;                /* position in config.vhosts */
	int line;               /* line of its `vhost` directive */
	char *names[VHOST_NAMES_MAX];   /* lower case; "*.x.org" is a wildcard */
	int nnames;
	char *root;             /* absolute, no trailing slash (except "/") */

	uid_t uid;              /* resolved at load time, never 0 */
	gid_t gid;
	int uid_owner, gid_owner;       /* `owner` was given (resolved from root) */
	char *user_name;        /* for logs; NULL if given as #id */
	gid_t groups[VHOST_GROUPS_MAX]; /* exactly the supplementary groups */
	int ngroups;

	char *index[VHOST_INDEX_MAX];   /* default: index.html */
	int nindex;
	struct cgi_rule cgi[VHOST_CGI_MAX];
	int ncgi;
	char *cgi_dir[VHOST_CGIDIR_MAX];        /* "/cgi-bin/" */
	int cgi_dir_line[VHOST_CGIDIR_MAX];
	int ncgi_dir;
	char *cgi_env[VHOST_CGIENV_MAX];        /* "NAME=VALUE" (cgi-env) */
	int ncgi_env;
	char *userdir;          /* NULL: off */
	char *tls_cert, *tls_key;
	int tls_line;           /* line of tls-cert, for key errors */
	int max_clients;        /* 0: no limit */
	int nice;
	int has_nice;
	int autoindex;
	struct { int code; char *path; } error_page[VHOST_ERRPAGE_MAX];
	int nerror_page;
	struct { char *name; char *value; } header[VHOST_HEADER_MAX];
	int nheader;
	char *access_log;       /* NULL: the global one */
	int access_log_line;
	int cgi_timeout;        /* seconds, default 60 */
	struct vhost_limit limit[VHOST_LIMIT_MAX];
	int nlimit;
	int no_new_privs;       /* default 1 */
	struct vhost_auth auth[VHOST_AUTH_MAX];
	int nauth;
	struct vhost_allow allow[VHOST_ALLOW_MAX];
	int nallow;
	char *redirect;         /* NULL: off; "https", or an http(s) URL
				 * without a trailing '/' */
	int no_new_privs_line;  /* of `no-new-privs off`; 0: on */
};

/* `cross-identity`: a kept-alive request for another identity closes the
 * connection unanswered, or the connection goes to a fresh process. */
#define CROSS_CLOSE   0
#define CROSS_HANDOFF 1

struct config {
	char *path;
	struct listen_addr listen[CONF_LISTEN_MAX];
	int nlisten;
	uid_t uid;              /* `user`: stage-1 identity, vhost default */
	gid_t gid;
	char *user_name;
	uid_t uid_min, uid_max; /* default 1 .. 4294967294 */
	gid_t gid_min, gid_max;
	int max_clients;        /* default 256 */
	int max_clients_per_ip; /* 0: no limit */
	int timeout;            /* default 10 */
	int keepalive_timeout;  /* default 5 */
	int keepalive_requests; /* default 100 */
	int cross_identity;     /* CROSS_CLOSE (default) or CROSS_HANDOFF */
	char *access_log;       /* path, "syslog" or "off"; default off */
	char *error_log;        /* path, "syslog" or "stderr"; default stderr */
	int access_log_line, error_log_line;    /* 0: the default */
	int tls_session_cache;  /* entries; default 1024 */
	unsigned tls_versions;  /* TLS_V* bits; default TLS_V12 */
	struct proxy_net proxy[CONF_PROXY_MAX];
	int nproxy;
	char *mime_types;

	struct vhost *vhosts;   /* the first is the default */
	int nvhosts;
};

/* Load and validate path into *cfg. On error returns -1 with
 * "file:line: message" (or "file: message") in err, and *cfg is left empty. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* The same from len bytes of buf; name is the FILE of error messages.
 * *cfg is overwritten: it must not hold a loaded config. */
int config_load_buf(struct config *cfg, const char *name, const char *buf,
    size_t len, char *err, size_t errlen);
void config_free(struct config *cfg);
/* The *next warning about cfg (start *next at 0) as "file:line: warning:
 * ..." in buf: 1, or 0 when there is none left. A warning names a setting
 * that is valid but weakens the privilege model (`no-new-privs off`). */
int config_warning(const struct config *cfg, int *next, char *buf,
    size_t len);

/* The vhost for a Host value (lower case, no port, may be ""): an exact name
 * or alias, then the longest matching `*.suffix` wildcard, then the first
 * vhost. Never NULL when the config has a vhost. */
const struct vhost *vhost_find(const struct config *cfg, const char *host);
/* Same, but NULL instead of the default when nothing matches. */
const struct vhost *vhost_match(const struct config *cfg, const char *host);

#endif
