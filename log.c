/* log.c: access log (Combined Log Format) and error log, to a file, syslog or
 * stderr. The master opens every file; children inherit the fds and close
 * all but their vhost's before the identity switch. What clients sent is
 * escaped before it reaches a log (no terminal escapes, no forged lines). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "resolve.h"
#include "vhost.h"

enum { LOG_TO_NONE, LOG_TO_FD, LOG_TO_SYSLOG, LOG_TO_STDERR };

struct log_target {
	int kind;
	int fd;
};

static struct log_target err_log = { LOG_TO_STDERR, 2 };
static struct log_target acc_global = { LOG_TO_NONE, -1 };
/* One access log per vhost, indexed as config.vhosts; LOG_TO_NONE with
 * fd -1 and no path means "the global one". */
static struct log_target *acc_vhost;
static int nacc_vhost;
static int syslog_fd = -1;

static const char *const month[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* ---- syslog: the C library's, less what we never use ----
 *
 * The datagram musl's syslog(3) sends with LOG_PID to /dev/log:
 * "<PRI>Mmm dd hh:mm:ss itkd[PID]: message\n", the time in UTC. Its
 * code formats that time with strftime, which brings in the time zone
 * code (reading TZ and /etc/localtime) for a stamp that is always UTC:
 * 5 KiB of a binary held to 256 KiB on every CPU. The socket is opened
 * once, in the master; every process inherits it connected. */
static const struct sockaddr_un syslog_addr = { AF_UNIX, "/dev/log" };

static void
syslog_connect(void)
{
	if (syslog_fd < 0)
		syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (syslog_fd >= 0)
		(void)connect(syslog_fd, (const struct sockaddr *)&syslog_addr,
		    sizeof(syslog_addr));
}

/* One line (NUL-terminated, no newline) at prio, facility daemon. */
static void
syslog_send(int prio, const char *msg)
{
	char buf[1024];
	struct tm tm;
	time_t now = clock_wall();
	int n;

	if (syslog_fd < 0 || gmtime_r(&now, &tm) == NULL)
		return;
	n = snprintf(buf, sizeof(buf), "<%d>%s %2d %02d:%02d:%02d itkd[%ld]: %s",
	    LOG_DAEMON | prio, month[tm.tm_mon], tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* A logger restarted since: connect again (where the filter allows
	 * it; a gatekeeper's line is then lost) and send once more. */
	if (send(syslog_fd, buf, (size_t)n, MSG_NOSIGNAL) < 0 &&
	    (errno == ECONNREFUSED || errno == ENOTCONN ||
	    errno == ECONNRESET) &&
	    connect(syslog_fd, (const struct sockaddr *)&syslog_addr,
	    sizeof(syslog_addr)) == 0)
		(void)send(syslog_fd, buf, (size_t)n, MSG_NOSIGNAL);
}

/* Open a log file as root does it, in the master: no symlink in any
 * component (the directories on the way may be a vhost owner's, and a
 * symlink there would make root create and append a file anywhere), and
 * without waiting for a reader if it is a FIFO. fd, or -1 (errno). */
static int
file_open(const char *path)
{
	int fd, fl;

	/* O_CLOEXEC: a CGI program must never inherit a log fd. */
	fd = resolve_open(AT_FDCWD, path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640, RESOLVE_STRICT);
	if (fd < 0)
		return -1;
	/* Writes block again, as they always did: a line is never dropped. */
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		fl = errno;
		close(fd);
		errno = fl;
		return -1;
	}
	return fd;
}

/* Open spec ("off", "syslog", "stderr" or a path) into t. An error names
 * the directive, at file:line when the config has it (line > 0). */
static int
target_open(struct log_target *t, const char *spec, int dflt,
    const char *conf, int line, const char *what, char *err, size_t errlen)
{
	t->kind = dflt;
	t->fd = dflt == LOG_TO_STDERR ? 2 : -1;
	if (spec == NULL)
		return 0;
	if (strcmp(spec, "off") == 0) {
		t->kind = LOG_TO_NONE;
		t->fd = -1;
	} else if (strcmp(spec, "syslog") == 0) {
		t->kind = LOG_TO_SYSLOG;
		t->fd = -1;
	} else if (strcmp(spec, "stderr") == 0) {
		t->kind = LOG_TO_STDERR;
		t->fd = 2;
	} else {
		t->kind = LOG_TO_FD;
		if ((t->fd = file_open(spec)) < 0) {
			const char *why = errno == ELOOP ? "a symbolic link on "
			    "its way: refused (itkd follows none in a log's path)"
			    : strerror(errno);

			if (line > 0)
				snprintf(err, errlen, "%s:%d: %s %s: %s", conf, line,
				    what, spec, why);
			else
				snprintf(err, errlen, "%s: %s", spec, why);
			return -1;
		}
	}
	return 0;
}

static void
target_close(struct log_target *t)
{
	/* Nothing to close: leave the page unwritten (in a connection
	 * process it is shared with the master until written). */
	if (t->kind == LOG_TO_NONE && t->fd == -1)
		return;
	if (t->kind == LOG_TO_FD && t->fd > 2)
		close(t->fd);
	t->kind = LOG_TO_NONE;
	t->fd = -1;
}

static void
close_all(void)
{
	int i;

	target_close(&err_log);
	target_close(&acc_global);
	for (i = 0; i < nacc_vhost; i++)
		target_close(&acc_vhost[i]);
	free(acc_vhost);
	acc_vhost = NULL;
	nacc_vhost = 0;
}

int
log_open(const struct config *cfg, int foreground, char *err, size_t errlen)
{
	struct log_target e, a, *v = NULL;
	int i = 0, nv = cfg->nvhosts, want_syslog = 0;

	if (target_open(&e, foreground && cfg->error_log == NULL ? "stderr" :
	    cfg->error_log, LOG_TO_STDERR, cfg->path, cfg->error_log_line,
	    "error-log", err, errlen) < 0)
		return -1;
	if (target_open(&a, cfg->access_log, LOG_TO_NONE, cfg->path,
	    cfg->access_log_line, "access-log", err, errlen) < 0)
		goto err_e;
	if (nv > 0 && (v = calloc((size_t)nv, sizeof(*v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto err_a;
	}
	for (i = 0; i < nv; i++) {
		v[i].kind = LOG_TO_NONE;
		v[i].fd = -1;
		if (cfg->vhosts[i].access_log == NULL)
			continue;
		if (target_open(&v[i], cfg->vhosts[i].access_log, LOG_TO_NONE,
		    cfg->path, cfg->vhosts[i].access_log_line, "access-log",
		    err, errlen) < 0)
			goto err_v;
		if (v[i].kind == LOG_TO_NONE)   /* "off": a marker of its own */
			v[i].fd = -2;
		if (v[i].kind == LOG_TO_SYSLOG)
			want_syslog = 1;
	}
	if (want_syslog || e.kind == LOG_TO_SYSLOG || a.kind == LOG_TO_SYSLOG)
		syslog_connect();
	/* The new set works: only now let go of the old one. */
	close_all();
	err_log = e;
	acc_global = a;
	acc_vhost = v;
	nacc_vhost = nv;
	return 0;
err_v:
	while (i-- > 0)
		target_close(&v[i]);
	free(v);
err_a:
	target_close(&a);
err_e:
	target_close(&e);
	return -1;
}

static const struct log_target *
access_target(const struct vhost *vh)
{
	if (vh != NULL && vh->pos >= 0 && vh->pos < nacc_vhost) {
		const struct log_target *t = &acc_vhost[vh->pos];
		if (t->kind != LOG_TO_NONE || t->fd == -2)
			return t;
	}
	return &acc_global;
}

void
log_keep_only(const struct vhost *vh)
{
	const struct log_target *keep = access_target(vh);
	int i;

	for (i = 0; i < nacc_vhost; i++)
		if (&acc_vhost[i] != keep)
			target_close(&acc_vhost[i]);
	if (&acc_global != keep)
		target_close(&acc_global);
}

size_t
log_escape(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	unsigned char ch;

	if (cap == 0)
		return 0;
	for (; src != NULL && (ch = (unsigned char)*src) != '\0'; src++) {
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			if (n + 4 >= cap)
				break;
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[ch >> 4];
			dst[n++] = hex[ch & 15];
		} else {
			if (n + 1 >= cap)
				break;
			dst[n++] = (char)ch;
		}
	}
	dst[n] = '\0';
	return n;
}

/* write() all of buf; a log line is one write so O_APPEND keeps it whole. */
static void
target_write(const struct log_target *t, int prio, char *line, size_t len)
{
	ssize_t w;

	switch (t->kind) {
	case LOG_TO_SYSLOG:
		line[len - 1] = '\0';   /* syslog_send adds its own newline */
		syslog_send(prio, line);
		return;
	case LOG_TO_FD:
	case LOG_TO_STDERR:
		while (len > 0) {
			w = write(t->fd, line, len);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return;
			line += w;
			len -= (size_t)w;
		}
		return;
	default:
		return;
	}
}

void
log_error(const struct vhost *vh, const char *fmt, ...)
{
	char msg[2048], esc[4096], line[4608];
	struct tm tm;
	time_t now = clock_wall();
	va_list ap;
	int n;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_escape(esc, sizeof(esc), msg);
	gmtime_r(&now, &tm);
	if (err_log.kind == LOG_TO_SYSLOG)
		n = snprintf(line, sizeof(line), "[%s] %s\n",
		    vh && vh->nnames ? vh->names[0] : "-", esc);
	else
		n = snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02dZ itkd[%ld]: [%s] %s\n",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (long)getpid(),
		    vh && vh->nnames ? vh->names[0] : "-", esc);
	if (n > 0)
		target_write(&err_log, LOG_ERR, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	errno = saved;
}

/* Append src to line[*n..cap) escaped, at most max bytes of it. */
static void
put_escaped(char *line, size_t *n, size_t cap, const char *src, size_t max)
{
	size_t room = cap - *n;

	*n += log_escape(line + *n, room < max ? room : max, src);
}

/* Append s as it is, if it fits whole. */
static void
put_raw(char *line, size_t *n, size_t cap, const char *s)
{
	size_t len = strlen(s);

	if (len < cap - *n) {
		memcpy(line + *n, s, len);
		*n += len;
	}
}

/* The value of a request field for the log: "-" when absent or empty. */
static const char *
or_dash(const struct http_request *r, const char *name)
{
	const char *v = r ? http_field(r, name) : NULL;

	return v && *v ? v : "-";
}

/* Combined Log Format, built in one buffer (its one write keeps the line
 * whole): peer - - [date] "request" status bytes "referer" "agent" host.
 * Apart from log_access so that its 4 KiB frame is only entered when
 * there is a log to write: it was a stack page of its own per request. */
static void __attribute__((noinline))
access_line(const struct log_target *t, const struct vhost *vh,
    const struct conn *c, const struct http_request *r, int status,
    uint64_t bytes)
{
	char line[4096], num[48];
	const size_t cap = sizeof(line) - 1;    /* room for the newline */
	struct tm tm;
	time_t now = clock_wall();
	size_t n, end;
	int k;

	gmtime_r(&now, &tm);
	k = snprintf(line, cap, "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"",
	    c ? c->peer_addr : "-", tm.tm_mday, month[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (k < 0)
		return;
	n = (size_t)k < cap ? (size_t)k : cap - 1;
	if (r != NULL) {
		/* The request line, escaped: at most 2 KiB of it. */
		end = n + 2047 < cap ? n + 2047 : cap;
		put_escaped(line, &n, end, r->method_name, SIZE_MAX);
		put_raw(line, &n, end, " ");
		put_escaped(line, &n, end, r->target, SIZE_MAX);
		snprintf(num, sizeof(num), " HTTP/1.%d", r->minor);
		put_raw(line, &n, end, num);
	} else {
		put_raw(line, &n, cap, "-");
	}
	snprintf(num, sizeof(num), "\" %d %llu \"", status,
	    (unsigned long long)bytes);
	put_raw(line, &n, cap, num);
	put_escaped(line, &n, cap, or_dash(r, "referer"), 1024);
	put_raw(line, &n, cap, "\" \"");
	put_escaped(line, &n, cap, or_dash(r, "user-agent"), 1024);
	put_raw(line, &n, cap, "\" ");
	put_escaped(line, &n, cap, vh && vh->nnames ? vh->names[0] : "-", 300);
	line[n++] = '\n';
	target_write(t, LOG_INFO, line, n);
}

void
log_access(const struct vhost *vh, const struct conn *c,
    const struct http_request *r, int status, uint64_t bytes)
{
	const struct log_target *t = access_target(vh);

	if (t->kind != LOG_TO_NONE)
		access_line(t, vh, c, r, status, bytes);
}
