/* vhost.c: the flat config file of docs/design.md: a lexer for its lines, one
 * handler per directive, the check of every identity against uid-range and
 * gid-range, and the lookup of a vhost by Host.
 *
 * Only the master loads a config (malloc is fine here); children read the
 * result and never change it. A load either succeeds whole or leaves the
 * config empty with "file:line: message": a reload must never half-apply. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolve.h"
#include "vhost.h"

#define LINE_BYTES_MAX  8192
#define WORDS_MAX       72      /* vhost + 32 names, groups + 64 ids fit */
#define ID_MAX          4294967294ULL   /* (uid_t)-1 means "no change" */
#define DIRECTIVES_MAX  64

enum scope { SCOPE_GLOBAL = 1, SCOPE_VHOST = 2, SCOPE_BOTH = 3 };
enum id_kind { ID_NAME, ID_NUM, ID_OWNER };

/* A `user` or `group` line as written; resolved when its section ends,
 * because `owner` needs `root` and the defaults need both lines. */
struct idspec {
	int line;               /* 0: not given */
	int kind;
	unsigned long long id;
	gid_t primary;          /* a user name's primary group */
	char *name;             /* a user name, moved into the config */
};

struct parser {
	const char *file;
	int line;
	char *err;
	size_t errlen;
	struct config *cfg;
	struct vhost *vh;       /* NULL in the global section */
	struct idspec user, group;      /* of the current section */
	int groups_line;
	int key_line;
	int uid_range_line, gid_range_line;
	int seen[DIRECTIVES_MAX];       /* line of a single-use directive */
};

typedef int directive_fn(struct parser *, int, char **);

struct directive {
	const char *name;
	int scope;
	int min, max;           /* argument counts; max -1: the handler checks */
	int repeat;
	directive_fn *fn;
	const char *usage;
};

static int vfail(struct parser *p, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail_at(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
vfail(struct parser *p, int line, const char *fmt, va_list ap)
{
	int n;

	if (p->errlen == 0)
		return -1;
	if (line > 0)
		n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->file);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	return -1;
}

static int
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(p, p->line, fmt, ap);
	va_end(ap);
	return -1;
}

static int
fail_at(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(p, line, fmt, ap);
	va_end(ap);
	return -1;
}

static char *
xstrdup(struct parser *p, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fail(p, "out of memory");
	return d;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* ---- numbers: digits only, no overflow, no trailing junk ---- */

static int
parse_u(struct parser *p, const char *what, const char *s,
    unsigned long long min, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *c;
	int big = 0;

	if (*s == '\0')
		return fail(p, "%s: '%s' is not a number", what, s);
	for (c = s; *c; c++) {
		if (!is_digit(*c))
			return fail(p, "%s: '%s' is not a number", what, s);
		if (v > max / 10)
			big = 1;        /* and stays: v*10 would leave the range */
		else
			v = v * 10 + (*c - '0');
	}
	if (big || v < min || v > max)
		return fail(p, "%s: '%s' must be between %llu and %llu", what,
		    s, min, max);
	*out = v;
	return 0;
}

static int
parse_int(struct parser *p, const char *what, const char *s, int min, int max,
    int *out)
{
	unsigned long long v;

	if (parse_u(p, what, s, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* For `nice`: a sign is allowed. */
static int
parse_signed(struct parser *p, const char *what, const char *s, int min,
    int max, int *out)
{
	const char *d = s + (s[0] == '-' || s[0] == '+');
	unsigned long long v = 0;
	long long val;

	if (*d == '\0' || strspn(d, "0123456789") != strlen(d))
		return fail(p, "%s: '%s' is not a number", what, s);
	for (; *d; d++)
		if (v <= (unsigned long long)max - min)  /* past it: out anyway */
			v = v * 10 + (*d - '0');
	val = s[0] == '-' ? -(long long)v : (long long)v;
	if (val < min || val > max)
		return fail(p, "%s: '%s' must be between %d and %d", what, s,
		    min, max);
	*out = (int)val;
	return 0;
}

static int
parse_on_off(struct parser *p, const char *what, const char *s, int *out)
{
	if (strcmp(s, "on") == 0)
		*out = 1;
	else if (strcmp(s, "off") == 0)
		*out = 0;
	else
		return fail(p, "%s: '%s' is not on or off", what, s);
	return 0;
}

/* ---- paths ---- */

/* 1 if no component of s is empty, "." or "..". A leading and a trailing
 * slash are the caller's business and skipped here. */
static int
clean_components(const char *s)
{
	const char *c = s, *e;
	size_t n;

	if (*c == '/')
		c++;
	while (*c) {
		e = strchr(c, '/');
		n = e ? (size_t)(e - c) : strlen(c);
		if ((n == 0 && e) || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (e == NULL || e[1] == '\0')
			break;
		c = e + 1;
	}
	return 1;
}

static int
need_absolute(struct parser *p, const char *what, const char *s)
{
	if (s[0] != '/')
		return fail(p, "%s: '%s' is not an absolute path", what, s);
	return 0;
}

/* ---- the lexer ---- */

/* Split one line (without its '\n') into words in buf. Blanks separate
 * words; "..." quotes, with \" and \\ inside; '#' at the start of a word
 * begins a comment, unless a digit follows (`#1001` is an id). */
static int
lex(struct parser *p, const char *s, size_t n, char *buf, char **argv,
    int *argc)
{
	char *o = buf;
	size_t i = 0;
	unsigned char c;
	int quoted;

	*argc = 0;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > LINE_BYTES_MAX)
		return fail(p, "line longer than %d bytes", LINE_BYTES_MAX);
	for (;;) {
		while (i < n && is_blank(s[i]))
			i++;
		if (i == n || (s[i] == '#' && !(i + 1 < n && is_digit(s[i + 1]))))
			return 0;
		if (*argc == WORDS_MAX)
			return fail(p, "more than %d words on one line", WORDS_MAX);
		argv[(*argc)++] = o;
		for (quoted = 0; i < n; i++) {
			c = s[i];
			if (c == '\0')
				return fail(p, "NUL byte");
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(p, "control character 0x%02x", c);
			if (!quoted && is_blank(c))
				break;
			if (c == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && c == '\\') {
				if (i + 1 == n || (s[i + 1] != '"' && s[i + 1] != '\\'))
					return fail(p, "bad escape in quotes: only \\\" and \\\\");
				c = s[++i];
			}
			*o++ = c;
		}
		if (quoted)
			return fail(p, "unterminated quote");
		*o++ = '\0';
	}
}

/* ---- identities ---- */

static void
idspec_clear(struct idspec *id)
{
	free(id->name);
	memset(id, 0, sizeof *id);
}

static int
parse_user(struct parser *p, const char *arg, struct idspec *id)
{
	struct passwd *pw;

	id->line = p->line;
	if (strcmp(arg, "owner") == 0) {
		if (p->vh == NULL)
			return fail(p, "user: 'owner' is only for vhosts");
		id->kind = ID_OWNER;
	} else if (arg[0] == '#') {
		id->kind = ID_NUM;
		if (parse_u(p, "user", arg + 1, 0, ID_MAX, &id->id) < 0)
			return -1;
		if (id->id == 0)
			return fail(p, "user: uid 0 is refused: itkd never runs as root");
	} else {
		id->kind = ID_NAME;
		if ((pw = getpwnam(arg)) == NULL)
			return fail(p, "user: no such user '%s'", arg);
		if (pw->pw_uid == 0)
			return fail(p, "user: '%s' is uid 0: itkd never runs as root", arg);
		id->id = pw->pw_uid;
		id->primary = pw->pw_gid;
		if ((id->name = xstrdup(p, arg)) == NULL)
			return -1;
	}
	return 0;
}

/* A group name or #GID into *gid; never 0. */
static int
parse_gid(struct parser *p, const char *what, const char *arg, gid_t *gid)
{
	unsigned long long v;
	struct group *gr;

	if (arg[0] == '#') {
		if (parse_u(p, what, arg + 1, 0, ID_MAX, &v) < 0)
			return -1;
	} else {
		if ((gr = getgrnam(arg)) == NULL)
			return fail(p, "%s: no such group '%s'", what, arg);
		v = gr->gr_gid;
	}
	if (v == 0)
		return fail(p, "%s: group 0 ('%s') is refused", what, arg);
	*gid = (gid_t)v;
	return 0;
}

static int
parse_group(struct parser *p, const char *arg, struct idspec *id)
{
	gid_t gid;

	id->line = p->line;
	if (strcmp(arg, "owner") == 0) {
		if (p->vh == NULL)
			return fail(p, "group: 'owner' is only for vhosts");
		id->kind = ID_OWNER;
		return 0;
	}
	if (parse_gid(p, "group", arg, &gid) < 0)
		return -1;
	id->kind = ID_NUM;
	id->id = gid;
	return 0;
}

/* ---- global directives ---- */

/* 0 if a and b are the same address, 1 if one is the wildcard of the
 * other's family, -1 if they do not meet. Ports are compared by the caller. */
static int
listen_overlap(const struct listen_addr *a, const struct listen_addr *b)
{
	static const unsigned char zero[16];
	const unsigned char *x, *y;
	size_t n;

	if (a->ss.ss_family != b->ss.ss_family)
		return -1;
	if (a->ss.ss_family == AF_INET) {
		x = (const unsigned char *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
		y = (const unsigned char *)&((const struct sockaddr_in *)&b->ss)->sin_addr;
		n = 4;
	} else {
		x = ((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr;
		y = ((const struct sockaddr_in6 *)&b->ss)->sin6_addr.s6_addr;
		n = 16;
	}
	if (memcmp(x, y, n) == 0)
		return 0;
	return memcmp(x, zero, n) == 0 || memcmp(y, zero, n) == 0 ? 1 : -1;
}

static in_port_t
listen_port(const struct listen_addr *l)
{
	if (l->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&l->ss)->sin_port;
	return ((const struct sockaddr_in6 *)&l->ss)->sin6_port;
}

/* "PORT", "*:PORT", "1.2.3.4:PORT" or "[::1]:PORT" into l->ss. */
static int
parse_listen_addr(struct parser *p, const char *a, struct listen_addr *l)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&l->ss;
	char host[64];
	const char *port = a, *end;
	unsigned long long v;

	if (a[0] == '[') {
		end = strchr(a, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - a - 1) >= sizeof host)
			return fail(p, "listen: '%s' is not [ADDR]:PORT", a);
		memcpy(host, a + 1, end - a - 1);
		host[end - a - 1] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return fail(p, "listen: '%s' is not an IPv6 address", host);
		s6->sin6_family = AF_INET6;
		l->sslen = sizeof *s6;
		port = end + 2;
	} else if ((end = strrchr(a, ':')) != NULL) {
		if ((size_t)(end - a) >= sizeof host)
			return fail(p, "listen: '%s' is not ADDR:PORT", a);
		memcpy(host, a, end - a);
		host[end - a] = '\0';
		if (strcmp(host, "*") != 0 &&
		    inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return fail(p, "listen: '%s' is not an IPv4 address "
			    "(write IPv6 as [ADDR]:PORT)", host);
		port = end + 1;
	}
	if (l->ss.ss_family != AF_INET6) {
		s4->sin_family = AF_INET;
		l->sslen = sizeof *s4;
	}
	if (parse_u(p, "listen", port, 1, 65535, &v) < 0)
		return -1;
	if (l->ss.ss_family == AF_INET6)
		s6->sin6_port = htons((in_port_t)v);
	else
		s4->sin_port = htons((in_port_t)v);
	return 0;
}

static int
d_listen(struct parser *p, int argc, char **argv)
{
	struct config *cfg = p->cfg;
	struct listen_addr *l;
	int i, o;

	if (argc == 3 && strcmp(argv[2], "tls") != 0)
		return fail(p, "listen: '%s' is not 'tls'", argv[2]);
	if (cfg->nlisten == CONF_LISTEN_MAX)
		return fail(p, "listen: at most %d addresses", CONF_LISTEN_MAX);
	if (strlen(argv[1]) >= sizeof l->text)
		return fail(p, "listen: '%s' is too long", argv[1]);
	l = &cfg->listen[cfg->nlisten];
	memset(l, 0, sizeof *l);
	if (parse_listen_addr(p, argv[1], l) < 0)
		return -1;
	for (i = 0; i < cfg->nlisten; i++) {
		if (listen_port(&cfg->listen[i]) != listen_port(l) ||
		    (o = listen_overlap(&cfg->listen[i], l)) < 0)
			continue;
		if (o == 0)
			return fail(p, "listen: '%s' is already on line %d",
			    argv[1], cfg->listen[i].line);
		return fail(p, "listen: '%s' overlaps '%s' on line %d", argv[1],
		    cfg->listen[i].text, cfg->listen[i].line);
	}
	l->tls = argc == 3;
	l->line = p->line;
	strcpy(l->text, argv[1]);
	cfg->nlisten++;
	return 0;
}

static int
d_user(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_user(p, argv[1], &p->user);
}

static int
d_group(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_group(p, argv[1], &p->group);
}

static int
parse_range(struct parser *p, char **argv, unsigned long long *min,
    unsigned long long *max)
{
	if (parse_u(p, argv[0], argv[1], 0, ID_MAX, min) < 0 ||
	    parse_u(p, argv[0], argv[2], 0, ID_MAX, max) < 0)
		return -1;
	if (*min == 0 || *max == 0)
		return fail(p, "%s: 0 is never allowed", argv[0]);
	if (*min > *max)
		return fail(p, "%s: %llu is above %llu", argv[0], *min, *max);
	return 0;
}

static int
d_uid_range(struct parser *p, int argc, char **argv)
{
	unsigned long long min, max;

	(void)argc;
	if (parse_range(p, argv, &min, &max) < 0)
		return -1;
	p->cfg->uid_min = (uid_t)min;
	p->cfg->uid_max = (uid_t)max;
	p->uid_range_line = p->line;
	return 0;
}

static int
d_gid_range(struct parser *p, int argc, char **argv)
{
	unsigned long long min, max;

	(void)argc;
	if (parse_range(p, argv, &min, &max) < 0)
		return -1;
	p->cfg->gid_min = (gid_t)min;
	p->cfg->gid_max = (gid_t)max;
	p->gid_range_line = p->line;
	return 0;
}

static int
d_max_clients(struct parser *p, int argc, char **argv)
{
	(void)argc;
	if (p->vh)      /* 0: no limit of its own */
		return parse_int(p, argv[0], argv[1], 0, 65536, &p->vh->max_clients);
	return parse_int(p, argv[0], argv[1], 1, 65536, &p->cfg->max_clients);
}

static int
d_max_clients_per_ip(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_int(p, argv[0], argv[1], 0, 65536, &p->cfg->max_clients_per_ip);
}

static int
d_timeout(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_int(p, argv[0], argv[1], 1, 3600, &p->cfg->timeout);
}

static int
d_keepalive_timeout(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_int(p, argv[0], argv[1], 1, 3600, &p->cfg->keepalive_timeout);
}

static int
d_keepalive_requests(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_int(p, argv[0], argv[1], 1, 1000000,
	    &p->cfg->keepalive_requests);
}

static int
d_cross_identity(struct parser *p, int argc, char **argv)
{
	(void)argc;
	if (strcmp(argv[1], "close") == 0)
		p->cfg->cross_identity = CROSS_CLOSE;
	else if (strcmp(argv[1], "handoff") == 0)
		p->cfg->cross_identity = CROSS_HANDOFF;
	else
		return fail(p, "cross-identity: '%s' is not close or handoff",
		    argv[1]);
	return 0;
}

static int
d_access_log(struct parser *p, int argc, char **argv)
{
	const char *a = argv[1];

	(void)argc;
	/* A vhost logs to its own file; syslog and stderr are shared ones. */
	if (strcmp(a, "off") != 0 && a[0] != '/' && (p->vh ||
	    (strcmp(a, "syslog") != 0 && strcmp(a, "stderr") != 0)))
		return fail(p, "access-log: '%s' is not an absolute path%s", a,
		    p->vh ? " or off" : ", syslog, stderr or off");
	if (p->vh) {
		p->vh->access_log_line = p->line;
		return (p->vh->access_log = xstrdup(p, a)) ? 0 : -1;
	}
	p->cfg->access_log_line = p->line;
	return (p->cfg->access_log = xstrdup(p, a)) ? 0 : -1;
}

static int
d_error_log(struct parser *p, int argc, char **argv)
{
	const char *a = argv[1];

	(void)argc;
	if (strcmp(a, "syslog") != 0 && strcmp(a, "stderr") != 0 && a[0] != '/')
		return fail(p, "error-log: '%s' is not an absolute path, "
		    "syslog or stderr", a);
	p->cfg->error_log_line = p->line;
	return (p->cfg->error_log = xstrdup(p, a)) ? 0 : -1;
}

static int
d_tls_session_cache(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_int(p, argv[0], argv[1], 0, 1000000,
	    &p->cfg->tls_session_cache);
}

static int
d_tls_versions(struct parser *p, int argc, char **argv)
{
	unsigned bits = 0;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "1.2") == 0)
			bits |= TLS_V12;
		else if (strcmp(argv[i], "1.1") == 0)
			bits |= TLS_V11;
		else if (strcmp(argv[i], "1.0") == 0)
			bits |= TLS_V10;
		else
			return fail(p, "tls-versions: '%s' is not 1.2, 1.1 or 1.0",
			    argv[i]);
	}
	p->cfg->tls_versions = bits;
	return 0;
}

/* 1 if every bit of addr past the first prefix bits is 0. */
static int
host_bits_clear(const unsigned char *addr, unsigned len, unsigned prefix)
{
	unsigned i;

	for (i = prefix; i < len * 8; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

/* ADDR[/LEN] into *net: IPv4 or IPv6 (brackets allowed), no bits set
 * past LEN. An IPv4-mapped IPv6 network of /96 or more is kept as the IPv4
 * one: peers are compared that way (proxy.c, access.c). */
static int
parse_net(struct parser *p, const char *what, const char *arg,
    struct proxy_net *net)
{
	char host[64];
	const char *a = arg, *slash = strchr(a, '/');
	size_t n = slash ? (size_t)(slash - a) : strlen(a);
	unsigned long long prefix;
	unsigned len;

	if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
		a++;
		n -= 2;
	}
	if (n >= sizeof host)
		return fail(p, "%s: '%s' is not an address", what, arg);
	memcpy(host, a, n);
	host[n] = '\0';
	memset(net, 0, sizeof *net);
	if (inet_pton(AF_INET, host, net->addr) == 1)
		net->family = AF_INET;
	else if (inet_pton(AF_INET6, host, net->addr) == 1)
		net->family = AF_INET6;
	else
		return fail(p, "%s: '%s' is not an address", what, host);
	len = net->family == AF_INET ? 4 : 16;
	prefix = len * 8;
	if (slash && parse_u(p, what, slash + 1, 0, len * 8, &prefix) < 0)
		return -1;
	if (!host_bits_clear(net->addr, len, (unsigned)prefix))
		return fail(p, "%s: '%s' has bits set past /%llu", what, arg,
		    prefix);
	net->prefix = (unsigned)prefix;
	if (net->family == AF_INET6 && prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)net->addr)) {
		memmove(net->addr, net->addr + 12, 4);
		memset(net->addr + 4, 0, 12);
		net->family = AF_INET;
		net->prefix -= 96;
	}
	return 0;
}

static int
d_trusted_proxy(struct parser *p, int argc, char **argv)
{
	(void)argc;
	if (p->cfg->nproxy == CONF_PROXY_MAX)
		return fail(p, "trusted-proxy: at most %d networks", CONF_PROXY_MAX);
	if (parse_net(p, "trusted-proxy", argv[1],
	    &p->cfg->proxy[p->cfg->nproxy]) < 0)
		return -1;
	p->cfg->nproxy++;
	return 0;
}

static int
d_mime_types(struct parser *p, int argc, char **argv)
{
	(void)argc;
	if (need_absolute(p, argv[0], argv[1]) < 0)
		return -1;
	return (p->cfg->mime_types = xstrdup(p, argv[1])) ? 0 : -1;
}

/* ---- vhost names ---- */

/* A DNS name of labels [a-z0-9_-] (1-63 bytes, no '-' at either end),
 * at most 253 bytes in all; no empty label, so no trailing dot. */
static int
valid_host_name(const char *s)
{
	size_t n = strlen(s), label = 0, i;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i <= n; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) ||
		    s[i] == '_' || (s[i] == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

static int
valid_vhost_name(const char *s)
{
	struct in6_addr a6;
	char host[64];
	size_t n = strlen(s);

	if (s[0] == '*' && s[1] == '.')
		return valid_host_name(s + 2);
	if (s[0] == '[' && n >= 2 && n - 2 < sizeof host && s[n - 1] == ']') {
		memcpy(host, s + 1, n - 2);
		host[n - 2] = '\0';
		return inet_pton(AF_INET6, host, &a6) == 1;
	}
	return valid_host_name(s);
}

/* The line of the vhost that already has name, or 0. */
static int
name_used(const struct config *cfg, const char *name)
{
	int i, j;

	for (i = 0; i < cfg->nvhosts; i++)
		for (j = 0; j < cfg->vhosts[i].nnames; j++)
			if (strcmp(cfg->vhosts[i].names[j], name) == 0)
				return cfg->vhosts[i].line;
	return 0;
}

static int
add_vhost_name(struct parser *p, const char *arg)
{
	struct vhost *vh = p->vh;
	char *name, *c;
	int line;

	if ((name = xstrdup(p, arg)) == NULL)
		return -1;
	for (c = name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
	if (!valid_vhost_name(name)) {
		free(name);
		return fail(p, "vhost: '%s' is not a valid host name", arg);
	}
	if ((line = name_used(p->cfg, name)) != 0) {
		fail(p, "vhost: '%s' is already a name of the vhost on line %d",
		    name, line);
		free(name);
		return -1;
	}
	vh->names[vh->nnames++] = name;
	return 0;
}

/* ---- the end of a section: resolve and check identities ---- */

static int
check_range(struct parser *p, int line, const char *what,
    unsigned long long id, unsigned long long min, unsigned long long max)
{
	if (id < min || id > max)
		return fail_at(p, line, "vhost '%s': %s %llu is outside %s-range "
		    "%llu-%llu", p->vh->names[0], what, id, what, min, max);
	return 0;
}

static int
finish_global(struct parser *p)
{
	struct config *cfg = p->cfg;

	if (p->user.line == 0)
		return fail(p, "no global 'user': itkd will not guess whom to "
		    "run as (user NAME or #UID before the first vhost)");
	cfg->uid = (uid_t)p->user.id;
	if (p->group.line)
		cfg->gid = (gid_t)p->group.id;
	else if (p->user.kind == ID_NAME)
		cfg->gid = p->user.primary;
	else
		return fail_at(p, p->user.line, "user #%llu: group needed "
		    "(a numeric user has no primary group)", p->user.id);
	if (cfg->gid == 0)
		return fail_at(p, p->user.line, "user: primary group of '%s' "
		    "is 0: give a 'group'", p->user.name);
	cfg->user_name = p->user.name;
	p->user.name = NULL;
	/* The ranges say which ids a vhost may take; the seccomp filter
	 * enforces them. No default: one that admits every id but 0 admits
	 * the system's own (daemon, disk, shadow...). The global user runs
	 * every gatekeeper, so it must be no vhost's: one of its processes
	 * could then signal or trace a vhost's, and the reverse. */
	if (p->uid_range_line == 0 || p->gid_range_line == 0)
		return fail(p, "no '%s': the ids vhosts may run as must be "
		    "given (e.g. uid-range 1000 60000), before the first vhost",
		    p->uid_range_line == 0 ? "uid-range" : "gid-range");
	if (cfg->uid >= cfg->uid_min && cfg->uid <= cfg->uid_max)
		return fail_at(p, p->user.line, "user: uid %u is inside "
		    "uid-range %u-%u: the global user must be no vhost's",
		    cfg->uid, cfg->uid_min, cfg->uid_max);
	if (cfg->gid >= cfg->gid_min && cfg->gid <= cfg->gid_max)
		return fail_at(p, p->group.line ? p->group.line : p->user.line,
		    "group: gid %u is inside gid-range %u-%u: the global group "
		    "must be no vhost's", cfg->gid, cfg->gid_min, cfg->gid_max);
	if (cfg->access_log == NULL &&
	    (cfg->access_log = xstrdup(p, "off")) == NULL)
		return -1;
	if (cfg->error_log == NULL &&
	    (cfg->error_log = xstrdup(p, "stderr")) == NULL)
		return -1;
	return 0;
}

/* Open root as each connection does (path_open_root): a directory, no
 * symlink in any component. 0 with *st (if st) filled, or -1 (errno). */
static int
open_root(const char *root, struct stat *st)
{
	struct stat here;
	int fd, rc, e;

	fd = resolve_open(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
	    RESOLVE_STRICT);
	if (fd < 0)
		return -1;
	rc = fstat(fd, st != NULL ? st : &here);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* The vhost's uid, gid and user name from its `user`/`group` lines, the
 * owner of its root, or the global user. */
static int
resolve_ids(struct parser *p, struct vhost *vh)
{
	struct idspec *u = &p->user, *g = &p->group;
	struct stat st;

	memset(&st, 0, sizeof st);
	if (u->line == 0)
		return fail_at(p, vh->line, "vhost '%s' has no 'user': a vhost "
		    "never runs as the global user", vh->names[0]);
	if (u->line && u->kind != ID_NAME && g->line == 0)
		return fail_at(p, u->line, "user %s: group needed (only a user "
		    "name brings a primary group)",
		    u->kind == ID_OWNER ? "owner" : "#id");
	if ((u->line && u->kind == ID_OWNER) || (g->line && g->kind == ID_OWNER)) {
		/* The owner of what a connection will open, the same way;
		 * each connection takes it again from its own fd. */
		if (open_root(vh->root, &st) < 0)
			return fail_at(p, u->kind == ID_OWNER && u->line ? u->line
			    : g->line, "owner: cannot open root '%s': %s",
			    vh->root, errno == ELOOP ? "a symbolic link on its "
			    "way (itkd follows none there)" : strerror(errno));
	}
	vh->uid = p->cfg->uid;
	vh->gid = p->cfg->gid;
	if (u->line) {
		vh->uid = u->kind == ID_OWNER ? st.st_uid : (uid_t)u->id;
		vh->uid_owner = u->kind == ID_OWNER;
		vh->user_name = u->name;
		u->name = NULL;
		if (u->kind == ID_NAME)
			vh->gid = u->primary;
	} else if (p->cfg->user_name &&
	    (vh->user_name = xstrdup(p, p->cfg->user_name)) == NULL) {
		return -1;
	}
	if (g->line) {
		vh->gid = g->kind == ID_OWNER ? st.st_gid : (gid_t)g->id;
		vh->gid_owner = g->kind == ID_OWNER;
	}
	if (vh->uid == 0)
		return fail_at(p, u->line, "user owner: root '%s' is owned by "
		    "uid 0: itkd never runs a vhost as root", vh->root);
	if (vh->gid == 0)
		return fail_at(p, g->line ? g->line : u->line, "vhost '%s': "
		    "group 0 is refused", vh->names[0]);
	return 0;
}

/* Without `groups`: the user's groups as initgroups would set them. */
static int
default_groups(struct parser *p, struct vhost *vh)
{
	int n = VHOST_GROUPS_MAX;

	if (vh->user_name == NULL) {
		vh->groups[0] = vh->gid;
		vh->ngroups = 1;
		return 0;
	}
	if (getgrouplist(vh->user_name, vh->gid, vh->groups, &n) < 0)
		return fail_at(p, p->user.line ? p->user.line : vh->line,
		    "user '%s' is in more than %d groups: list them with "
		    "'groups'", vh->user_name, VHOST_GROUPS_MAX);
	vh->ngroups = n;
	return 0;
}

static int
finish_vhost(struct parser *p)
{
	struct config *cfg = p->cfg;
	struct vhost *vh = p->vh;
	int i, line;

	if (vh->root == NULL)
		return fail_at(p, vh->line, "vhost '%s' has no root", vh->names[0]);
	if (vh->tls_cert && vh->tls_key == NULL)
		return fail_at(p, vh->tls_line, "tls-cert without tls-key");
	if (vh->tls_key && vh->tls_cert == NULL)
		return fail_at(p, p->key_line, "tls-key without tls-cert");
	if (resolve_ids(p, vh) < 0)
		return -1;
	line = p->user.line ? p->user.line : vh->line;
	if (check_range(p, line, "uid", vh->uid, cfg->uid_min, cfg->uid_max) < 0)
		return -1;
	line = p->group.line ? p->group.line : line;
	if (check_range(p, line, "gid", vh->gid, cfg->gid_min, cfg->gid_max) < 0)
		return -1;
	if (p->groups_line == 0 && default_groups(p, vh) < 0)
		return -1;
	line = p->groups_line ? p->groups_line : line;
	for (i = 0; i < vh->ngroups; i++) {
		if (vh->groups[i] == 0)
			return fail_at(p, line, "vhost '%s': group 0 is among "
			    "its groups: list them with 'groups'", vh->names[0]);
		if (check_range(p, line, "gid", vh->groups[i], cfg->gid_min,
		    cfg->gid_max) < 0)
			return -1;
	}
	if (vh->nindex == 0 &&
	    (vh->index[vh->nindex++] = xstrdup(p, "index.html")) == NULL)
		return -1;
	return 0;
}

/* Start a new section: the previous one is complete. */
static void
section_reset(struct parser *p)
{
	idspec_clear(&p->user);
	idspec_clear(&p->group);
	p->groups_line = 0;
	p->key_line = 0;
	memset(p->seen, 0, sizeof p->seen);
}

static int
d_vhost(struct parser *p, int argc, char **argv)
{
	struct config *cfg = p->cfg;
	struct vhost *v;
	int i;

	if ((p->vh ? finish_vhost(p) : finish_global(p)) < 0)
		return -1;
	section_reset(p);
	if (cfg->nvhosts == CONF_VHOST_MAX)
		return fail(p, "vhost: at most %d vhosts", CONF_VHOST_MAX);
	if (argc - 1 > VHOST_NAMES_MAX)
		return fail(p, "vhost: at most %d names", VHOST_NAMES_MAX);
	v = realloc(cfg->vhosts, (cfg->nvhosts + 1) * sizeof *v);
	if (v == NULL)
		return fail(p, "out of memory");
	cfg->vhosts = v;
	p->vh = &v[cfg->nvhosts];
	memset(p->vh, 0, sizeof *p->vh);
	p->vh->pos = cfg->nvhosts++;
	p->vh->line = p->line;
	p->vh->cgi_timeout = 60;
	p->vh->no_new_privs = 1;
	for (i = 1; i < argc; i++)
		if (add_vhost_name(p, argv[i]) < 0)
			return -1;
	return 0;
}

/* ---- vhost directives ---- */

static int
d_root(struct parser *p, int argc, char **argv)
{
	char *root, *o;
	const char *c;

	(void)argc;
	if (need_absolute(p, "root", argv[1]) < 0)
		return -1;
	if ((root = xstrdup(p, argv[1])) == NULL)
		return -1;
	for (o = root, c = argv[1]; *c; c++)     /* collapse repeated '/' */
		if (*c != '/' || o == root || o[-1] != '/')
			*o++ = *c;
	if (o > root + 1 && o[-1] == '/')
		o--;
	*o = '\0';
	if (!clean_components(root)) {
		free(root);
		return fail(p, "root: '%s' has a '.' or '..' component", argv[1]);
	}
	p->vh->root = root;
	/* Each connection opens root so (path.c): a symlink on its way
	 * would be refused there, so it is an error here. A root that is
	 * not there yet is not (unless `owner` needs it: resolve_ids). */
	if (open_root(root, NULL) < 0 && errno == ELOOP)
		return fail(p, "root: '%s' has a symbolic link on its way: "
		    "itkd follows none there (give the real path)", root);
	return 0;
}

static int
d_groups(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	gid_t gid;
	int i, j;

	if (argc - 1 > VHOST_GROUPS_MAX)
		return fail(p, "groups: at most %d groups", VHOST_GROUPS_MAX);
	for (i = 1; i < argc; i++) {
		if (parse_gid(p, "groups", argv[i], &gid) < 0)
			return -1;
		for (j = 0; j < vh->ngroups && vh->groups[j] != gid; j++)
			;
		if (j == vh->ngroups)
			vh->groups[vh->ngroups++] = gid;
	}
	p->groups_line = p->line;
	return 0;
}

static int
d_index(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	int i;

	if (argc - 1 > VHOST_INDEX_MAX)
		return fail(p, "index: at most %d names", VHOST_INDEX_MAX);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '\0' || strchr(argv[i], '/') ||
		    strcmp(argv[i], ".") == 0 || strcmp(argv[i], "..") == 0)
			return fail(p, "index: '%s' is not a file name", argv[i]);
		if ((vh->index[vh->nindex] = xstrdup(p, argv[i])) == NULL)
			return -1;
		vh->nindex++;
	}
	return 0;
}

static int
d_cgi(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	struct cgi_rule *r;
	int i;

	if (argv[1][0] != '.' || argv[1][1] == '\0' || strchr(argv[1], '/'))
		return fail(p, "cgi: '%s' is not a suffix such as .cgi", argv[1]);
	if (argc == 3 && need_absolute(p, "cgi", argv[2]) < 0)
		return -1;
	for (i = 0; i < vh->ncgi; i++)
		if (strcmp(vh->cgi[i].suffix, argv[1]) == 0)
			return fail(p, "cgi: '%s' is already a cgi suffix", argv[1]);
	if (vh->ncgi == VHOST_CGI_MAX)
		return fail(p, "cgi: at most %d suffixes", VHOST_CGI_MAX);
	r = &vh->cgi[vh->ncgi];
	r->line = p->line;
	if ((r->suffix = xstrdup(p, argv[1])) == NULL)
		return -1;
	vh->ncgi++;     /* config_free frees what is counted */
	if (argc == 3 && (r->interp = xstrdup(p, argv[2])) == NULL)
		return -1;
	return 0;
}

static int
d_cgi_dir(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	const char *d = argv[1];
	size_t n = strlen(d);
	int i;

	(void)argc;
	if (d[0] != '/' || d[n - 1] != '/' || (n > 1 && !clean_components(d)))
		return fail(p, "cgi-dir: '%s' is not a path that starts and ends "
		    "with '/'", d);
	for (i = 0; i < vh->ncgi_dir; i++)
		if (strcmp(vh->cgi_dir[i], d) == 0)
			return fail(p, "cgi-dir: '%s' given twice", d);
	if (vh->ncgi_dir == VHOST_CGIDIR_MAX)
		return fail(p, "cgi-dir: at most %d directories", VHOST_CGIDIR_MAX);
	if ((vh->cgi_dir[vh->ncgi_dir] = xstrdup(p, d)) == NULL)
		return -1;
	vh->cgi_dir_line[vh->ncgi_dir] = p->line;
	vh->ncgi_dir++;
	return 0;
}

static int
d_userdir(struct parser *p, int argc, char **argv)
{
	const char *d = argv[1];
	size_t n = strlen(d);

	(void)argc;
	if (n == 0 || d[0] == '/' || d[n - 1] == '/' || !clean_components(d))
		return fail(p, "userdir: '%s' is not a relative directory name "
		    "such as public_html", d);
	return (p->vh->userdir = xstrdup(p, d)) ? 0 : -1;
}

static int
d_tls_cert(struct parser *p, int argc, char **argv)
{
	(void)argc;
	if (need_absolute(p, argv[0], argv[1]) < 0)
		return -1;
	p->vh->tls_line = p->line;
	return (p->vh->tls_cert = xstrdup(p, argv[1])) ? 0 : -1;
}

static int
d_tls_key(struct parser *p, int argc, char **argv)
{
	(void)argc;
	if (need_absolute(p, argv[0], argv[1]) < 0)
		return -1;
	p->key_line = p->line;
	return (p->vh->tls_key = xstrdup(p, argv[1])) ? 0 : -1;
}

static int
d_nice(struct parser *p, int argc, char **argv)
{
	(void)argc;
	p->vh->has_nice = 1;
	return parse_signed(p, argv[0], argv[1], -20, 19, &p->vh->nice);
}

static int
d_autoindex(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_on_off(p, argv[0], argv[1], &p->vh->autoindex);
}

static int
d_no_new_privs(struct parser *p, int argc, char **argv)
{
	(void)argc;
	if (parse_on_off(p, argv[0], argv[1], &p->vh->no_new_privs) < 0)
		return -1;
	p->vh->no_new_privs_line = p->vh->no_new_privs ? 0 : p->line;
	return 0;
}

static int
d_cgi_timeout(struct parser *p, int argc, char **argv)
{
	(void)argc;
	return parse_int(p, argv[0], argv[1], 1, 86400, &p->vh->cgi_timeout);
}

static int
d_error_page(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	int code, i;

	(void)argc;
	if (parse_int(p, argv[0], argv[1], 400, 599, &code) < 0)
		return -1;
	if (argv[2][0] != '/')
		return fail(p, "error-page: '%s' does not start with '/'", argv[2]);
	for (i = 0; i < vh->nerror_page; i++)
		if (vh->error_page[i].code == code)
			return fail(p, "error-page: %d given twice", code);
	if (vh->nerror_page == VHOST_ERRPAGE_MAX)
		return fail(p, "error-page: at most %d pages", VHOST_ERRPAGE_MAX);
	if ((vh->error_page[vh->nerror_page].path = xstrdup(p, argv[2])) == NULL)
		return -1;
	vh->error_page[vh->nerror_page++].code = code;
	return 0;
}

/* RFC 9110 tchar */
static int
is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    is_digit(*s) || strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

static int
d_header(struct parser *p, int argc, char **argv)
{
	static const char *const framing[] = {
		"content-length", "transfer-encoding", "connection",
	};
	struct vhost *vh = p->vh;
	size_t i;

	(void)argc;
	if (!is_token(argv[1]))
		return fail(p, "header: '%s' is not a header name", argv[1]);
	for (i = 0; i < sizeof framing / sizeof framing[0]; i++)
		if (strcasecmp(argv[1], framing[i]) == 0)
			return fail(p, "header: '%s' is set by itkd itself", argv[1]);
	if (strpbrk(argv[2], "\r\n"))       /* the lexer stops these already */
		return fail(p, "header: a value may not hold CR or LF");
	if (vh->nheader == VHOST_HEADER_MAX)
		return fail(p, "header: at most %d headers", VHOST_HEADER_MAX);
	if ((vh->header[vh->nheader].name = xstrdup(p, argv[1])) == NULL)
		return -1;
	if ((vh->header[vh->nheader++].value = xstrdup(p, argv[2])) == NULL)
		return -1;
	return 0;
}

/* The meta-variables itkd sets for each request (RFC 3875 4.1, and the
 * customary extras of cgi.c): a cgi-env line cannot replace one, nor any
 * HTTP_* (the client's header fields; HTTP_PROXY would be httpoxy). */
static int
cgi_env_reserved(const char *name)
{
	static const char *const names[] = {
		"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE",
		"GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED",
		"QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT",
		"REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME",
		"SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
		"REQUEST_URI", "SCRIPT_FILENAME", "DOCUMENT_ROOT", "REMOTE_PORT",
		"HTTPS", "REDIRECT_STATUS",
	};
	size_t i;

	if (strncasecmp(name, "HTTP_", 5) == 0)
		return 1;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* cgi-env NAME VALUE: NAME is a shell-style name (letters, digits, '_',
 * not a digit first), so that every program and shell can read it. */
static int
d_cgi_env(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	size_t nlen = strlen(argv[1]), vlen = strlen(argv[2]), total = 0;
	const char *c;
	int i;

	(void)argc;
	for (c = argv[1]; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    *c == '_' || (is_digit(*c) && c > argv[1])))
			break;
	if (nlen == 0 || *c != '\0' || nlen > 128)
		return fail(p, "cgi-env: '%s' is not a variable name (letters, "
		    "digits and '_', not a digit first, at most 128)", argv[1]);
	if (cgi_env_reserved(argv[1]))
		return fail(p, "cgi-env: '%s' is a CGI meta-variable that itkd "
		    "sets for each request; it cannot be overridden", argv[1]);
	for (i = 0; i < vh->ncgi_env; i++) {
		if (strncmp(vh->cgi_env[i], argv[1], nlen) == 0 &&
		    vh->cgi_env[i][nlen] == '=')
			return fail(p, "cgi-env: '%s' given twice", argv[1]);
		total += strlen(vh->cgi_env[i]) + 1;
	}
	if (vh->ncgi_env == VHOST_CGIENV_MAX)
		return fail(p, "cgi-env: at most %d variables", VHOST_CGIENV_MAX);
	if (total + nlen + vlen + 2 > VHOST_CGIENV_BYTES)
		return fail(p, "cgi-env: at most %d bytes of NAME=VALUE in all",
		    VHOST_CGIENV_BYTES);
	if ((vh->cgi_env[vh->ncgi_env] = malloc(nlen + vlen + 2)) == NULL)
		return fail(p, "out of memory");
	snprintf(vh->cgi_env[vh->ncgi_env++], nlen + vlen + 2, "%s=%s",
	    argv[1], argv[2]);
	return 0;
}

/* N with an optional K, M or G (times 1024) where bytes are meant. */
static int
parse_limit_value(struct parser *p, const char *s, int bytes, rlim_t *out)
{
	char num[32];
	size_t n = strlen(s);
	unsigned long long v, mult = 1;

	if (strcmp(s, "unlimited") == 0) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (bytes && n > 1) {
		switch (s[n - 1]) {
		case 'K': case 'k': mult = 1ULL << 10; break;
		case 'M': case 'm': mult = 1ULL << 20; break;
		case 'G': case 'g': mult = 1ULL << 30; break;
		}
		n -= mult > 1;
	}
	if (n >= sizeof num)
		return fail(p, "limit: '%s' is not a number", s);
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_u(p, "limit", num, 0, (RLIM_INFINITY - 1) / mult, &v) < 0)
		return -1;
	*out = (rlim_t)(v * mult);
	return 0;
}

static int
d_limit(struct parser *p, int argc, char **argv)
{
	static const struct { const char *name; int resource, bytes; } res[] = {
		{ "cpu", RLIMIT_CPU, 0 }, { "as", RLIMIT_AS, 1 },
		{ "nproc", RLIMIT_NPROC, 0 }, { "nofile", RLIMIT_NOFILE, 0 },
		{ "fsize", RLIMIT_FSIZE, 1 },
	};
	struct vhost *vh = p->vh;
	size_t i;
	int j;

	(void)argc;
	for (i = 0; i < sizeof res / sizeof res[0]; i++)
		if (strcmp(argv[1], res[i].name) == 0)
			break;
	if (i == sizeof res / sizeof res[0])
		return fail(p, "limit: '%s' is not cpu, as, nproc, nofile or "
		    "fsize", argv[1]);
	for (j = 0; j < vh->nlimit; j++)
		if (vh->limit[j].resource == res[i].resource)
			return fail(p, "limit: %s given twice", argv[1]);
	if (parse_limit_value(p, argv[2], res[i].bytes,
	    &vh->limit[vh->nlimit].value) < 0)
		return -1;
	vh->limit[vh->nlimit++].resource = res[i].resource;
	return 0;
}

/* ---- access: auth, allow, redirect ---- */

/* A URL path PREFIX as vhost.h describes it, into a copy of its own. */
static int
parse_prefix(struct parser *p, const char *what, const char *s, char **out)
{
	size_t n = strlen(s);

	if (s[0] != '/' || strchr(s, '?') != NULL || strchr(s, '%') != NULL ||
	    (n > 1 && !clean_components(s)))
		return fail(p, "%s: '%s' is not a path prefix such as /admin",
		    what, s);
	if ((*out = xstrdup(p, s)) == NULL)
		return -1;
	if (n > 1 && (*out)[n - 1] == '/')
		(*out)[n - 1] = '\0';
	return 0;
}

static int
d_auth(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	struct vhost_auth *a;
	const unsigned char *c;
	char *prefix;
	int i;

	(void)argc;
	for (c = (const unsigned char *)argv[2]; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\')
			return fail(p, "auth: a realm may not hold a quote, a "
			    "backslash or a control character");
	if (argv[2][0] == '\0' || strlen(argv[2]) > 200)
		return fail(p, "auth: a realm has 1 to 200 bytes");
	if (need_absolute(p, "auth", argv[3]) < 0)
		return -1;
	if (vh->nauth == VHOST_AUTH_MAX)
		return fail(p, "auth: at most %d prefixes", VHOST_AUTH_MAX);
	if (parse_prefix(p, "auth", argv[1], &prefix) < 0)
		return -1;
	for (i = 0; i < vh->nauth; i++) {
		if (strcmp(vh->auth[i].prefix, prefix) == 0) {
			free(prefix);
			return fail(p, "auth: '%s' given twice", argv[1]);
		}
	}
	a = &vh->auth[vh->nauth++];     /* config_free frees what is counted */
	a->prefix = prefix;
	if ((a->realm = xstrdup(p, argv[2])) == NULL ||
	    (a->file = xstrdup(p, argv[3])) == NULL)
		return -1;
	return 0;
}

/* Repeated with the same PREFIX, the addresses add up. */
static int
d_allow(struct parser *p, int argc, char **argv)
{
	struct vhost *vh = p->vh;
	struct vhost_allow *a;
	struct proxy_net *nets;
	char *prefix;
	int i;

	if (parse_prefix(p, "allow", argv[1], &prefix) < 0)
		return -1;
	for (i = 0; i < vh->nallow && strcmp(vh->allow[i].prefix, prefix); i++)
		;
	if (i == vh->nallow) {
		if (vh->nallow == VHOST_ALLOW_MAX) {
			free(prefix);
			return fail(p, "allow: at most %d prefixes",
			    VHOST_ALLOW_MAX);
		}
		vh->allow[vh->nallow].prefix = prefix;
		vh->allow[vh->nallow++].nets = NULL;
	} else {
		free(prefix);
	}
	a = &vh->allow[i];
	if (a->nnets + argc - 2 > 1024)
		return fail(p, "allow: at most 1024 addresses a prefix");
	nets = realloc(a->nets, (a->nnets + argc - 2) * sizeof *nets);
	if (nets == NULL)
		return fail(p, "out of memory");
	a->nets = nets;
	for (i = 2; i < argc; i++) {
		if (parse_net(p, "allow", argv[i], &a->nets[a->nnets]) < 0)
			return -1;
		a->nnets++;
	}
	return 0;
}

/* `https`, or an absolute http(s) URL: scheme, a host, maybe a path; no
 * query, fragment or blank. A trailing '/' is dropped: the request's path
 * brings its own. */
static int
d_redirect(struct parser *p, int argc, char **argv)
{
	const char *u = argv[1], *host;
	size_t n = strlen(u);

	(void)argc;
	if (strcmp(u, "https") != 0) {
		host = strncmp(u, "https://", 8) == 0 ? u + 8 :
		    strncmp(u, "http://", 7) == 0 ? u + 7 : NULL;
		/* The lexer let no control byte but a tab through. */
		if (host == NULL || host[0] == '\0' || host[0] == '/' ||
		    strpbrk(u, "?# \t\"\\<>") != NULL || n > 1024)
			return fail(p, "redirect: '%s' is not https or an "
			    "http(s)://HOST[/PATH] URL", u);
	}
	if ((p->vh->redirect = xstrdup(p, u)) == NULL)
		return -1;
	while (n > 0 && p->vh->redirect[n - 1] == '/')  /* host[0] is no '/' */
		p->vh->redirect[--n] = '\0';
	return 0;
}

static const struct directive directives[] = {
	{ "listen", SCOPE_GLOBAL, 1, 2, 1, d_listen, "[ADDR:]PORT [tls]" },
	{ "user", SCOPE_BOTH, 1, 1, 0, d_user, "NAME|#UID|owner" },
	{ "group", SCOPE_BOTH, 1, 1, 0, d_group, "NAME|#GID|owner" },
	{ "uid-range", SCOPE_GLOBAL, 2, 2, 0, d_uid_range, "MIN MAX" },
	{ "gid-range", SCOPE_GLOBAL, 2, 2, 0, d_gid_range, "MIN MAX" },
	{ "max-clients", SCOPE_BOTH, 1, 1, 0, d_max_clients, "N" },
	{ "max-clients-per-ip", SCOPE_GLOBAL, 1, 1, 0, d_max_clients_per_ip, "N" },
	{ "timeout", SCOPE_GLOBAL, 1, 1, 0, d_timeout, "SECONDS" },
	{ "keepalive-timeout", SCOPE_GLOBAL, 1, 1, 0, d_keepalive_timeout, "SECONDS" },
	{ "keepalive-requests", SCOPE_GLOBAL, 1, 1, 0, d_keepalive_requests, "N" },
	{ "cross-identity", SCOPE_GLOBAL, 1, 1, 0, d_cross_identity, "close|handoff" },
	{ "access-log", SCOPE_BOTH, 1, 1, 0, d_access_log, "PATH|syslog|stderr|off" },
	{ "error-log", SCOPE_GLOBAL, 1, 1, 0, d_error_log, "PATH|syslog|stderr" },
	{ "tls-session-cache", SCOPE_GLOBAL, 1, 1, 0, d_tls_session_cache, "N" },
	{ "tls-versions", SCOPE_GLOBAL, 1, 3, 0, d_tls_versions, "1.2 [1.1 1.0]" },
	{ "trusted-proxy", SCOPE_GLOBAL, 1, 1, 1, d_trusted_proxy, "ADDR[/LEN]" },
	{ "mime-types", SCOPE_GLOBAL, 1, 1, 0, d_mime_types, "FILE" },
	{ "vhost", SCOPE_BOTH, 1, -1, 1, d_vhost, "NAME [ALIAS...]" },
	{ "root", SCOPE_VHOST, 1, 1, 0, d_root, "PATH" },
	{ "groups", SCOPE_VHOST, 1, -1, 0, d_groups, "GROUP..." },
	{ "index", SCOPE_VHOST, 1, -1, 0, d_index, "FILE..." },
	{ "cgi", SCOPE_VHOST, 1, 2, 1, d_cgi, "SUFFIX [INTERPRETER]" },
	{ "cgi-dir", SCOPE_VHOST, 1, 1, 1, d_cgi_dir, "PREFIX" },
	{ "userdir", SCOPE_VHOST, 1, 1, 0, d_userdir, "DIR" },
	{ "tls-cert", SCOPE_VHOST, 1, 1, 0, d_tls_cert, "FILE" },
	{ "tls-key", SCOPE_VHOST, 1, 1, 0, d_tls_key, "FILE" },
	{ "nice", SCOPE_VHOST, 1, 1, 0, d_nice, "N" },
	{ "autoindex", SCOPE_VHOST, 1, 1, 0, d_autoindex, "on|off" },
	{ "error-page", SCOPE_VHOST, 2, 2, 1, d_error_page, "CODE PATH" },
	{ "header", SCOPE_VHOST, 2, 2, 1, d_header, "NAME VALUE" },
	{ "cgi-env", SCOPE_VHOST, 2, 2, 1, d_cgi_env, "NAME VALUE" },
	{ "cgi-timeout", SCOPE_VHOST, 1, 1, 0, d_cgi_timeout, "SECONDS" },
	{ "limit", SCOPE_VHOST, 2, 2, 1, d_limit, "cpu|as|nproc|nofile|fsize N" },
	{ "no-new-privs", SCOPE_VHOST, 1, 1, 0, d_no_new_privs, "on|off" },
	{ "auth", SCOPE_VHOST, 3, 3, 1, d_auth, "PREFIX REALM FILE" },
	{ "allow", SCOPE_VHOST, 2, -1, 1, d_allow, "PREFIX ADDR[/LEN]..." },
	{ "redirect", SCOPE_VHOST, 1, 1, 0, d_redirect, "https|URL" },
};

_Static_assert(sizeof directives / sizeof directives[0] <= DIRECTIVES_MAX,
    "parser.seen is too small");

static int
directive(struct parser *p, int argc, char **argv)
{
	const struct directive *d;
	size_t i;

	for (i = 0; i < sizeof directives / sizeof directives[0]; i++)
		if (strcmp(argv[0], directives[i].name) == 0)
			break;
	if (i == sizeof directives / sizeof directives[0])
		return fail(p, "unknown directive '%s'", argv[0]);
	d = &directives[i];
	if (d->scope == SCOPE_GLOBAL && p->vh)
		return fail(p, "'%s' is a global directive: it belongs before "
		    "the first vhost", d->name);
	if (d->scope == SCOPE_VHOST && p->vh == NULL)
		return fail(p, "'%s' is a vhost directive: it belongs after a "
		    "'vhost' line", d->name);
	if (argc - 1 < d->min || (d->max >= 0 && argc - 1 > d->max))
		return fail(p, "usage: %s %s", d->name, d->usage);
	if (!d->repeat) {
		if (p->seen[i])
			return fail(p, "'%s' given twice (first on line %d)",
			    d->name, p->seen[i]);
		p->seen[i] = p->line;
	}
	return d->fn(p, argc, argv);
}

static int
parse_buf(struct parser *p, const char *buf, size_t len)
{
	char words[LINE_BYTES_MAX + WORDS_MAX + 1];
	char *argv[WORDS_MAX];
	const char *nl;
	size_t off = 0, n;
	int argc;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)   /* UTF-8 BOM */
		off = 3;
	while (off < len) {
		nl = memchr(buf + off, '\n', len - off);
		n = nl ? (size_t)(nl - (buf + off)) : len - off;
		p->line++;
		if (lex(p, buf + off, n, words, argv, &argc) < 0)
			return -1;
		if (argc > 0 && directive(p, argc, argv) < 0)
			return -1;
		off += n + 1;
	}
	if (p->vh)
		return finish_vhost(p);
	p->line = 0;
	if (finish_global(p) < 0)
		return -1;
	return fail(p, "no vhost: at least one 'vhost' section is needed");
}

int
config_load_buf(struct config *cfg, const char *name, const char *buf,
    size_t len, char *err, size_t errlen)
{
	struct parser p;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	memset(&p, 0, sizeof p);
	p.file = name;
	p.err = err;
	p.errlen = errlen;
	p.cfg = cfg;
	if (errlen > 0)
		err[0] = '\0';
	cfg->uid_min = 1;
	cfg->uid_max = (uid_t)ID_MAX;
	cfg->gid_min = 1;
	cfg->gid_max = (gid_t)ID_MAX;
	cfg->max_clients = 256;
	cfg->timeout = 10;
	cfg->keepalive_timeout = 5;
	cfg->keepalive_requests = 100;
	cfg->tls_session_cache = 1024;
	cfg->tls_versions = TLS_V12;
	rc = (cfg->path = xstrdup(&p, name)) ? parse_buf(&p, buf, len) : -1;
	section_reset(&p);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = -1;

	memset(cfg, 0, sizeof *cfg);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len <= CONF_FILE_MAX) {
		n = read(fd, buf + len, CONF_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (len > CONF_FILE_MAX)
		snprintf(err, errlen, "%s: larger than %d bytes", path, CONF_FILE_MAX);
	else
		rc = config_load_buf(cfg, path, buf, len, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

static void
vhost_free(struct vhost *vh)
{
	int i;

	for (i = 0; i < vh->nnames; i++)
		free(vh->names[i]);
	for (i = 0; i < vh->nindex; i++)
		free(vh->index[i]);
	for (i = 0; i < vh->ncgi; i++) {
		free(vh->cgi[i].suffix);
		free(vh->cgi[i].interp);
	}
	for (i = 0; i < vh->ncgi_dir; i++)
		free(vh->cgi_dir[i]);
	for (i = 0; i < vh->ncgi_env; i++)
		free(vh->cgi_env[i]);
	for (i = 0; i < vh->nerror_page; i++)
		free(vh->error_page[i].path);
	for (i = 0; i < vh->nheader; i++) {
		free(vh->header[i].name);
		free(vh->header[i].value);
	}
	for (i = 0; i < vh->nauth; i++) {
		free(vh->auth[i].prefix);
		free(vh->auth[i].realm);
		free(vh->auth[i].file);
	}
	for (i = 0; i < vh->nallow; i++) {
		free(vh->allow[i].prefix);
		free(vh->allow[i].nets);
	}
	free(vh->redirect);
	free(vh->root);
	free(vh->user_name);
	free(vh->userdir);
	free(vh->tls_cert);
	free(vh->tls_key);
	free(vh->access_log);
}

void
config_free(struct config *cfg)
{
	int i;

	for (i = 0; i < cfg->nvhosts; i++)
		vhost_free(&cfg->vhosts[i]);
	free(cfg->vhosts);
	free(cfg->path);
	free(cfg->user_name);
	free(cfg->access_log);
	free(cfg->error_log);
	free(cfg->mime_types);
	memset(cfg, 0, sizeof *cfg);
}

/* ---- lookup ---- */

/* "*.example.org" matches a.example.org and a.b.example.org, never
 * example.org and never evil-example.org: the suffix keeps its dot. */
static int
wildcard_matches(const char *pattern, const char *host, size_t hostlen)
{
	const char *suffix = pattern + 1;
	size_t n = strlen(suffix);

	return hostlen > n && strcasecmp(host + hostlen - n, suffix) == 0;
}

const struct vhost *
vhost_match(const struct config *cfg, const char *host)
{
	const struct vhost *best = NULL;
	const char *name;
	size_t hostlen, bestlen = 0;
	int i, j;

	if (host == NULL || *host == '\0')
		return NULL;
	for (i = 0; i < cfg->nvhosts; i++)
		for (j = 0; j < cfg->vhosts[i].nnames; j++)
			if (strcasecmp(cfg->vhosts[i].names[j], host) == 0)
				return &cfg->vhosts[i];
	hostlen = strlen(host);
	for (i = 0; i < cfg->nvhosts; i++) {
		for (j = 0; j < cfg->vhosts[i].nnames; j++) {
			name = cfg->vhosts[i].names[j];
			if (name[0] == '*' && strlen(name) > bestlen &&
			    wildcard_matches(name, host, hostlen)) {
				best = &cfg->vhosts[i];
				bestlen = strlen(name);
			}
		}
	}
	return best;
}

const struct vhost *
vhost_find(const struct config *cfg, const char *host)
{
	const struct vhost *vh = vhost_match(cfg, host);

	if (vh == NULL && cfg->nvhosts > 0)
		vh = &cfg->vhosts[0];
	return vh;
}

int
config_warning(const struct config *cfg, int *next, char *buf, size_t len)
{
	const struct vhost *vh;

	for (; *next < cfg->nvhosts; (*next)++) {
		vh = &cfg->vhosts[*next];
		if (vh->no_new_privs_line == 0)
			continue;
		/* Exactly what it allows: the kernel honours the set-user-ID
		 * bit again, and the bounding set (empty) still keeps every
		 * capability out, file capabilities included. */
		snprintf(buf, len, "%s:%d: warning: no-new-privs off: programs "
		    "run for vhost %s may execute set-user-ID-root programs, which "
		    "then run with effective uid 0 and so have root's access to "
		    "files (every capability set stays empty)", cfg->path,
		    vh->no_new_privs_line, vh->names[0]);
		(*next)++;
		return 1;
	}
	return 0;
}
