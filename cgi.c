/* cgi.c: CGI/1.1 (RFC 3875), in stage 2, as the vhost's identity.
 *
 * The script gets an environment built from scratch, fds 0-2 only, default
 * signal dispositions, its own directory and its own process group. One
 * poll() loop moves the request body to its stdin, its stdout to the
 * client and its stderr to the error log, all at once, so a script that
 * writes before it reads cannot deadlock against us.
 *
 * Decisions where RFC 3875 leaves room:
 * - Below an `auth` prefix itkd checked the credentials: the script gets
 *   AUTH_TYPE=Basic and REMOTE_USER, and not the password. Elsewhere
 *   Authorization is passed as HTTP_AUTHORIZATION (4.1.18 says SHOULD
 *   NOT): itkd authenticated nobody, so the script is the only party the
 *   credentials can be meant for (php-cgi builds PHP_AUTH_* from it), and
 *   it runs as the vhost owner, who is also who receives them. AUTH_TYPE is
 *   the scheme of that header. Proxy-Authorization is never passed.
 * - Header names with bytes other than letters, digits and '-' are not
 *   passed (like Apache): "X_Real_IP" must not pose as "X-Real-IP".
 *   Repeated fields are joined with ", " ("; " for Cookie).
 * - A chunked request body is decoded into memory (a memfd) first, up to
 *   CGI_CHUNKED_MAX, so that CONTENT_LENGTH can be set as 4.1.2 requires;
 *   past that 413. Content-Length bodies are streamed.
 * - An nph- script's status line and fields are parsed like a header block
 *   (cgi_parse_nph) and itkd writes the head and frames the body itself,
 *   with "Connection: close": the script's bytes never reach the client
 *   unframed, so they cannot pose as a further response.
 * - A response with neither Content-Type nor Location is none of the forms
 *   of 6.2: 502, except Status 204 or 304, which have no body to type.
 * - A Location that is a path (not "//") without Status is a local
 *   redirect (6.2.2); with a URL or with Status it goes to the client, 302
 *   unless Status says otherwise.
 * - cgi-timeout counts the script's time, not the client's: time spent
 *   blocked writing to a slow client pushes the deadline back (each of
 *   those writes is bounded by `timeout` instead).
 * - A script that exits leaving children behind is not hunted down, as in
 *   Apache; a timeout or a lost client kills the whole process group.
 * - A local redirect's query becomes the new request's QUERY_STRING
 *   (r->query is pointed at it); its path goes to serve.c in ex->redirect.
 * - Transfer-Encoding is not passed as HTTP_* (the script sees a decoded
 *   body); hop-by-hop fields, Date and Server from the script are dropped.
 * - Every method reaches the script (REQUEST_METHOD), with its body framed
 *   as for POST; the script answers OPTIONS (a CORS preflight) itself.
 * - The phrase of a Status line is sent as the script wrote it when it is
 *   a valid reason-phrase (http_reason_ok); empty or over HTTP_REASON_MAX,
 *   RFC 9110's phrase for the code. A control byte in it, as in any value,
 *   makes the head malformed: 502.
 * - The header block may be CGI_HEAD_MAX (64 KiB) long, as PHP's big
 *   cookies need; a refused block is logged with its reason.
 * - A body the script left unread is discarded up to CGI_DISCARD_MAX, then
 *   the connection closes. A non-zero exit is logged; at most
 *   CGI_ERRLINES_MAX stderr lines per request reach the error log.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "body.h"
#include "cgi.h"
#include "clock.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "path.h"
#include "serve.h"
#include "sig.h"
#include "tls.h"
#include "vhost.h"

#define CGI_ENV_MAX       65536         /* bytes of the whole environment */
#define CGI_ENV_VARS      (HTTP_FIELDS_MAX + VHOST_CGIENV_MAX + 32)
#define CGI_CHUNKED_MAX   (16u << 20)   /* a chunked body buffered for CONTENT_LENGTH */
#define CGI_DISCARD_MAX   (1u << 20)    /* body left unread by the script */
#define CGI_IO            65536
#define CGI_ERRLINE       1024
#define CGI_ERRLINES_MAX  1000          /* stderr lines logged per request */
#define CGI_REAP_POLL_MS  20

/* ---- the script's header block ------------------------------------- */

static int
is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= 'A' && ch <= 'Z') || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A field value: visible ASCII, blanks, obs-text; no control byte. */
static int
value_ok(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return 1;
}

_Static_assert(CGI_HEAD_MAX == 65536 && CGI_FIELDS_MAX == 128,
    "the refusals below name the limits in words");

#define REFUSED "CGI response head refused: "

/* Refuse the block, saying why for the error log. */
static int
refuse(struct cgi_head *h, const char *why)
{
	h->error = why;
	return -1;
}

/* "Status: 404 Not Found" (the phrase may be missing). 200-599 only: an
 * interim 1xx from a script makes no sense, and a 101 would be dangerous.
 * The phrase is the script's to choose (it goes out as sent, when it is a
 * valid one: http_reason_ok); a control byte in it was refused already,
 * as in any value. */
static int
parse_status(struct cgi_head *h, const char *v)
{
	int code;

	if (h->status != 0)
		return refuse(h, REFUSED "Status given twice");
	if (v[0] < '1' || v[0] > '5' ||
	    v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9' ||
	    (v[3] != '\0' && v[3] != ' ' && v[3] != '\t'))
		return refuse(h,
		    REFUSED "Status is not a code 200-599 and a phrase");
	code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	if (code < 200)
		return refuse(h,
		    REFUSED "Status is not a code 200-599 and a phrase");
	h->status = code;
	h->reason = v[3] ? v + 4 : v + 3;
	return 0;
}

static int
parse_length(struct cgi_head *h, const char *v)
{
	uint64_t n = 0;
	const char *p;

	if (*v == '\0')
		return refuse(h, REFUSED "Content-Length is empty");
	for (p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX >> 4) / 10)
			return refuse(h,
			    REFUSED "Content-Length is not a number");
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (h->has_length && h->content_length != n)
		return refuse(h, REFUSED "two different Content-Lengths");
	h->has_length = 1;
	h->content_length = n;
	return 0;
}

/* A Location is a URI reference: no blanks, no control bytes. */
static int
parse_location(struct cgi_head *h, const char *v)
{
	const unsigned char *p;

	if (h->location != NULL)
		return refuse(h, REFUSED "Location given twice");
	if (*v == '\0')
		return refuse(h, REFUSED "Location is empty");
	for (p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return refuse(h, REFUSED "Location holds a blank");
	h->location = v;
	return 0;
}

/* Fields we frame ourselves, or that are about this hop only. */
static int
dropped(const char *name)
{
	static const char *const names[] = { "Connection", "Keep-Alive",
	    "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Connection",
	    "Date", "Server" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

static int
add_field(struct cgi_head *h, const char *name, const char *value)
{
	if (strcasecmp(name, "Status") == 0)
		return parse_status(h, value);
	if (strcasecmp(name, "Location") == 0)
		return parse_location(h, value);
	if (strcasecmp(name, "Content-Length") == 0)
		return parse_length(h, value);
	if (strcasecmp(name, "Content-Type") == 0) {
		if (h->content_type != NULL)
			return refuse(h, REFUSED "Content-Type given twice");
		if (*value == '\0')
			return refuse(h, REFUSED "Content-Type is empty");
		h->content_type = value;
		return 0;
	}
	if (strcasecmp(name, "Transfer-Encoding") == 0)
		h->has_transfer_encoding = 1;
	if (dropped(name))
		return 0;
	if (h->nfields >= CGI_FIELDS_MAX)
		return refuse(h, REFUSED "more than 128 header fields");
	h->fields[h->nfields].name = name;
	h->fields[h->nfields].value = value;
	h->nfields++;
	return 0;
}

/* One line line[0..n) (its LF and one CR before it already cut) into
 * h->buf at *used as "name\0value\0". */
static int
parse_line(struct cgi_head *h, size_t *used, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n), *v, *end = line + n;
	size_t i, nlen, vlen;
	char *name, *value;

	if (colon == NULL || colon == line)
		return refuse(h, REFUSED "a line that is no header field");
	nlen = (size_t)(colon - line);
	for (i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)line[i]))  /* also a leading blank:
							 * obsolete folding */
			return refuse(h,
			    REFUSED "a field name that is no token");
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	vlen = (size_t)(end - v);
	if (!value_ok(v, vlen))
		return refuse(h, REFUSED "a control byte in a field value");
	if (*used + nlen + vlen + 2 > sizeof(h->buf))
		return refuse(h, "CGI response head over 64 KiB");
	name = h->buf + *used;
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	value = name + nlen + 1;
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	*used += nlen + vlen + 2;
	return add_field(h, name, value);
}

static void
head_reset(struct cgi_head *out)
{
	out->nfields = 0;
	out->status = 0;
	out->reason = out->content_type = out->location = out->error = NULL;
	out->has_length = 0;
	out->content_length = 0;
	out->has_transfer_encoding = 0;
}

/* The field lines of buf[pos..len) up to the blank line, into out (whose
 * buf has *used bytes taken). The block's length, 0 or -1 as
 * cgi_parse_headers. */
static int
parse_fields(const char *buf, size_t pos, size_t len, size_t used,
    struct cgi_head *out)
{
	const char *nl;
	size_t n;

	if (len > CGI_HEAD_MAX)
		len = CGI_HEAD_MAX;
	for (;;) {
		nl = memchr(buf + pos, '\n', len - pos);
		if (nl == NULL)
			return len < CGI_HEAD_MAX ? 0 :
			    refuse(out, "CGI response head over 64 KiB");
		n = (size_t)(nl - (buf + pos));
		if (n > 0 && buf[pos + n - 1] == '\r')
			n--;
		if (n == 0)
			return (int)(nl - buf) + 1;
		if (parse_line(out, &used, buf + pos, n) < 0)
			return -1;
		pos = (size_t)(nl - buf) + 1;
	}
}

int
cgi_parse_headers(const char *buf, size_t len, struct cgi_head *out)
{
	int end;

	head_reset(out);
	if ((end = parse_fields(buf, 0, len, 0, out)) <= 0)
		return end;
	if (out->content_type == NULL && out->location == NULL &&
	    out->status != 204 && out->status != 304)
		return refuse(out, REFUSED "neither Content-Type nor Location");
	return end;
}

/* "HTTP/1.x NNN reason" (n bytes, its line end cut): the code and the
 * phrase as a Status field would give them, the phrase kept at the start
 * of out->buf. The bytes used there, or -1. */
static int
parse_status_line(struct cgi_head *out, const char *line, size_t n)
{
	if (n < 12 || n - 9 >= sizeof(out->buf) || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
	    !value_ok(line + 9, n - 9))
		return refuse(out, REFUSED "an nph status line that is no "
		    "HTTP/1.x status line");
	memcpy(out->buf, line + 9, n - 9);
	out->buf[n - 9] = '\0';
	if (parse_status(out, out->buf) < 0)
		return -1;      /* parse_status said why */
	return (int)(n - 9) + 1;
}

int
cgi_parse_nph(const char *buf, size_t len, struct cgi_head *out)
{
	const char *nl;
	size_t n;
	int used, end;

	head_reset(out);
	if (len > CGI_HEAD_MAX)
		len = CGI_HEAD_MAX;
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return len >= CGI_HEAD_MAX ?
		    refuse(out, "CGI response head over 64 KiB") : 0;
	n = (size_t)(nl - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if ((used = parse_status_line(out, buf, n)) < 0)
		return -1;
	if ((end = parse_fields(buf, (size_t)(nl - buf) + 1, len, (size_t)used,
	    out)) <= 0)
		return end;
	/* Its framing would have to be decoded to be re-framed: refused. */
	return out->has_transfer_encoding ?
	    refuse(out, REFUSED "Transfer-Encoding in an nph head") : end;
}

/* ---- the environment -------------------------------------------------- */

struct env {
	char buf[CGI_ENV_MAX];
	size_t len;
	char *vars[CGI_ENV_VARS + 1];
	size_t n;
	size_t start;           /* of the variable being written */
	int overflow;
};

static void
env_cat(struct env *e, const char *s, size_t n)
{
	if (e->overflow || n >= sizeof(e->buf) - e->len) {
		e->overflow = 1;
		return;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
}

static void
env_start(struct env *e, const char *name)
{
	e->start = e->len;
	env_cat(e, name, strlen(name));
	env_cat(e, "=", 1);
}

static void
env_end(struct env *e)
{
	env_cat(e, "", 1);
	if (e->n >= CGI_ENV_VARS)
		e->overflow = 1;
	if (!e->overflow)
		e->vars[e->n++] = e->buf + e->start;
}

static void
env_set(struct env *e, const char *name, const char *value)
{
	env_start(e, name);
	env_cat(e, value, strlen(value));
	env_end(e);
}

static void __attribute__((format(printf, 3, 4)))
env_setf(struct env *e, const char *name, const char *fmt, ...)
{
	char val[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	env_set(e, name, val);
}

/* Request fields that never become HTTP_* (see the top of the file). */
static int
field_hidden(const char *name)
{
	static const char *const names[] = { "Proxy", "Content-Type",
	    "Content-Length", "Transfer-Encoding", "Proxy-Authorization" };
	size_t i;
	const char *p;

	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/* Every request field as HTTP_*, repeated ones joined into the first;
 * Authorization not when itkd checked it (hide_auth). */
static void
env_fields(struct env *e, const struct http_request *r, int hide_auth)
{
	char name[5 + 256];
	size_t i, j, k;

	for (i = 0; i < r->nfields; i++) {
		const char *fn = r->fields[i].name;
		for (j = 0; j < i && strcasecmp(r->fields[j].name, fn) != 0; j++)
			;
		if (j < i || field_hidden(fn) || strlen(fn) > 255 ||
		    (hide_auth && strcasecmp(fn, "Authorization") == 0))
			continue;
		memcpy(name, "HTTP_", 5);
		for (k = 0; fn[k]; k++)
			name[5 + k] = fn[k] == '-' ? '_' :
			    (fn[k] >= 'a' && fn[k] <= 'z' ? fn[k] - 32 : fn[k]);
		name[5 + k] = '\0';
		env_start(e, name);
		env_cat(e, r->fields[i].value, strlen(r->fields[i].value));
		for (j = i + 1; j < r->nfields; j++) {
			if (strcasecmp(r->fields[j].name, fn) != 0)
				continue;
			env_cat(e, strcasecmp(fn, "Cookie") == 0 ? "; " : ", ", 2);
			env_cat(e, r->fields[j].value, strlen(r->fields[j].value));
		}
		env_end(e);
	}
}

/* The vhost's cgi-env lines (vhost.c let none be a meta-variable), and
 * PATH unless one of them is PATH. */
static void
env_vhost(struct env *e, const struct vhost *vh)
{
	int i, has_path = 0;

	for (i = 0; i < vh->ncgi_env; i++) {
		e->start = e->len;      /* the line is NAME=VALUE already */
		env_cat(e, vh->cgi_env[i], strlen(vh->cgi_env[i]));
		env_end(e);
		has_path |= strncmp(vh->cgi_env[i], "PATH=", 5) == 0;
	}
	if (!has_path)
		env_set(e, "PATH", "/usr/local/bin:/usr/bin:/bin");
}

/* The vhost's canonical name; the Host asked for if that is a wildcard. */
static const char *
server_name(const struct exchange *ex)
{
	if (ex->vh->nnames > 0 && ex->vh->names[0][0] != '*')
		return ex->vh->names[0];
	if (ex->r->host != NULL && ex->r->host[0] != '\0')
		return ex->r->host;
	return ex->c->local_addr;
}

/* RFC 3875 4.1 and the customary extras. 0, or 500 if it did not fit. */
static int
env_build(struct env *e, const struct exchange *ex, const struct path_res *res,
    int has_body, uint64_t body_len)
{
	const struct http_request *r = ex->r;
	const char *auth = http_field(r, "Authorization"), *ctype;
	size_t n;

	e->len = e->n = 0;
	e->overflow = 0;
	if (ex->remote_user != NULL) {
		env_set(e, "AUTH_TYPE", "Basic");
		env_set(e, "REMOTE_USER", ex->remote_user);
	} else if (auth != NULL && (n = strcspn(auth, " \t")) > 0) {
		env_start(e, "AUTH_TYPE");
		env_cat(e, auth, n);
		env_end(e);
	}
	if (has_body)
		env_setf(e, "CONTENT_LENGTH", "%llu", (unsigned long long)body_len);
	if ((ctype = http_field(r, "Content-Type")) != NULL)
		env_set(e, "CONTENT_TYPE", ctype);
	env_set(e, "GATEWAY_INTERFACE", "CGI/1.1");
	env_set(e, "PATH_INFO", res->path_info);
	if (res->path_info[0] != '\0') {
		env_start(e, "PATH_TRANSLATED");
		env_cat(e, ex->docroot, strlen(ex->docroot));
		env_cat(e, res->path_info, strlen(res->path_info));
		env_end(e);
	}
	env_set(e, "QUERY_STRING", r->query ? r->query : "");
	env_set(e, "REMOTE_ADDR", ex->c->peer_addr);
	env_set(e, "REMOTE_HOST", ex->c->peer_addr);
	env_set(e, "REQUEST_METHOD", r->method_name);
	env_start(e, "SCRIPT_NAME");
	env_cat(e, ex->prefix, strlen(ex->prefix));
	env_cat(e, res->script_name, strlen(res->script_name));
	env_end(e);
	env_set(e, "SERVER_NAME", server_name(ex));
	env_setf(e, "SERVER_PORT", "%u", ex->c->local_port);
	env_set(e, "SERVER_PROTOCOL", r->minor ? "HTTP/1.1" : "HTTP/1.0");
	env_set(e, "SERVER_SOFTWARE", "itkd/" ITKD_VERSION);
	env_set(e, "REQUEST_URI", r->target);
	env_set(e, "SCRIPT_FILENAME", res->fs);
	env_set(e, "DOCUMENT_ROOT", ex->docroot);
	env_setf(e, "REMOTE_PORT", "%u", ex->c->peer_port);
	if (ex->tls)
		env_set(e, "HTTPS", "on");
	env_set(e, "REDIRECT_STATUS", "200");
	env_vhost(e, ex->vh);
	env_fields(e, r, ex->remote_user != NULL);
	e->vars[e->n] = NULL;
	return e->overflow ? 500 : 0;
}

/* ---- the child ---------------------------------------------------------- */

static void
close_from(int lowfd)
{
	struct rlimit rl;
	int fd, max = 65536;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	for (fd = lowfd; fd < max; fd++)
		close(fd);
}

/* fork()ed: become the script. Only async-signal-safe calls from here.
 * An exec failure reports errno on fd 3 (close-on-exec: gone on success).
 *
 * The program is found through dirfd, the script's directory as the
 * kernel opened it beneath the root: fchdir to it, then execve of
 * "./name", a name looked up in that very directory. Not execveat on the
 * script's own fd: for a "#!" script the kernel would hand the
 * interpreter "/dev/fd/N", a name that needs /proc and dies with the
 * close-on-exec fd. Between path_resolve and this execve the vhost's
 * owner could swap the name for another program, but only as the uid
 * this process already is: the identity was fixed before. */
static void __attribute__((noreturn))
child_exec(int dirfd, const char *exe, char *const argv[], char *const envp[],
    int in, int out, int err, int report)
{
	sigset_t none;
	int e, failfd = report;

	/* First: dirfd may be a low number the shuffle below reuses. */
	if (fchdir(dirfd) < 0)
		goto fail;
	sig_default_ours();     /* the master left no other one ignored */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	/* First lift every fd above the ones we fill, so none is clobbered. */
	if ((in = fcntl(in, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (out = fcntl(out, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (err = fcntl(err, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (report = fcntl(report, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
	    dup3(report, 3, O_CLOEXEC) < 0)
		goto fail;
	failfd = 3;
	close_from(4);
	execve(exe, argv, envp);
fail:
	e = errno;
	if (write(failfd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* ---- the exchange ------------------------------------------------------ */

enum out_state { OUT_HEAD, OUT_BODY, OUT_DISCARD, OUT_NPH };

struct run {
	struct exchange *ex;
	const struct path_res *res;
	struct body b;
	pid_t pid;
	int pidfd;                      /* readable when the script exits; -1 */
	int reaped, wstatus;
	int in, out, err;               /* our pipe ends, -1 once closed */
	int64_t deadline;               /* of the script: cgi-timeout */
	enum out_state state;
	int chunked;                    /* our answer is chunked */
	int has_left;                   /* the script gave Content-Length ... */
	uint64_t left;                  /* ... and this much is still to pass */
	int unflushed;
	int redirect;
	size_t hlen;                    /* bytes in hbuf */
	size_t bpos, blen;              /* body bytes in bbuf, to the script */
	size_t elen;                    /* stderr bytes in ebuf */
	unsigned elines;
};

/* One connection per process and one script at a time: static storage
 * keeps the big buffers off the stack. */
static struct run run;
static struct env env;
static struct cgi_head head;
static char hbuf[CGI_HEAD_MAX];
static char bbuf[CGI_IO];
static char obuf[CGI_IO];
static char ebuf[CGI_ERRLINE + 1];
static char redirect_query[HTTP_HEAD_MAX];

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reap the script, killing it first if it still runs, and its whole group
 * too when the exchange went wrong (a leader that exited leaves its group
 * id reserved while any member lives, so -pid names no stranger). */
static void
stop_script(struct run *u, int kill_group)
{
	if (u->pid > 0 && kill_group)
		kill(-u->pid, SIGKILL);
	if (u->pid > 0 && !u->reaped) {
		kill(-u->pid, SIGKILL);
		kill(u->pid, SIGKILL);  /* had it not reached setpgid yet */
		while (waitpid(u->pid, &u->wstatus, 0) < 0 && errno == EINTR)
			;
		u->reaped = 1;
	}
	close_fd(&u->pidfd);
	close_fd(&u->in);
	close_fd(&u->out);
	close_fd(&u->err);
}

/* Write to the client under `timeout`, and do not count the time against
 * the script. 0 or -1 (the client is gone or too slow). */
static int
client_write(struct run *u, const void *buf, size_t n)
{
	int64_t t0 = clock_ms();
	int rc;

	conn_deadline(u->ex->c, u->ex->cfg->timeout);
	rc = conn_write(u->ex->c, buf, n);
	u->deadline += clock_ms() - t0;
	u->unflushed = 1;
	return rc;
}

static int
client_flush(struct run *u)
{
	int64_t t0 = clock_ms();
	int rc;

	conn_deadline(u->ex->c, u->ex->cfg->timeout);
	rc = conn_flush(u->ex->c);
	u->deadline += clock_ms() - t0;
	u->unflushed = 0;
	return rc;
}

static void
log_stderr_line(struct run *u)
{
	ebuf[u->elen] = '\0';
	if (u->elen > 0 && ebuf[u->elen - 1] == '\r')
		ebuf[u->elen - 1] = '\0';
	if (u->elines < CGI_ERRLINES_MAX)
		log_error(u->ex->vh, "cgi %s: %s", u->res->fs, ebuf);
	else if (u->elines == CGI_ERRLINES_MAX)
		log_error(u->ex->vh, "cgi %s: more stderr output dropped",
		    u->res->fs);
	u->elines++;
	u->elen = 0;
}

/* stderr: one log line per line written (long ones split). */
static void
read_stderr(struct run *u)
{
	char buf[4096];
	ssize_t n, i;

	n = read(u->err, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (u->elen > 0)
			log_stderr_line(u);
		close_fd(&u->err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			log_stderr_line(u);
			continue;
		}
		ebuf[u->elen++] = buf[i];
		if (u->elen == CGI_ERRLINE)
			log_stderr_line(u);
	}
}

/* ---- the answer's head -------------------------------------------------- */

static int
field_given(const char *name)
{
	size_t i;

	for (i = 0; i < head.nfields; i++)
		if (strcasecmp(head.fields[i].name, name) == 0)
			return 1;
	return 0;
}

/* "Location: /path?query" without Status: serve that path as a GET. */
static int
local_redirect(struct run *u)
{
	const char *loc = head.location, *q = strchr(loc, '?');
	size_t plen = q ? (size_t)(q - loc) : strlen(loc);

	if (plen >= PATH_MAX ||
	    (q && strlen(q + 1) >= sizeof(redirect_query)))
		return 502;
	memcpy(u->ex->redirect, loc, plen);
	u->ex->redirect[plen] = '\0';
	/* The new request's query: serve.c keeps r->query for QUERY_STRING. */
	snprintf(redirect_query, sizeof(redirect_query), "%s", q ? q + 1 : "");
	u->ex->r->query = redirect_query;
	u->redirect = 1;
	u->state = OUT_DISCARD;
	return 0;
}

/* Status line (the script's phrase when it is a valid one), the framing,
 * the vhost's `header`s and Connection into o; the script's own fields go
 * out after it, straight from head.buf (a head may be 64 KiB, an http_out
 * holds 4). */
static int
build_head(struct run *u, struct http_out *o, int status, int no_body)
{
	static char buf[HTTP_OUT_MAX];
	struct exchange *ex = u->ex;
	const struct vhost *vh = ex->vh;
	int i;

	http_out_begin_reason(o, buf, sizeof(buf), status, head.reason);
	if (head.has_length && status != 204)
		http_out_field(o, "Content-Length", "%llu",
		    (unsigned long long)head.content_length);
	else if (!no_body && ex->r->minor >= 1) {
		http_out_field(o, "Transfer-Encoding", "chunked");
		u->chunked = 1;
	} else if (!no_body)
		ex->close = 1;  /* HTTP/1.0 without a length: EOF frames it */
	for (i = 0; i < vh->nheader; i++)
		if (!field_given(vh->header[i].name))
			http_out_field(o, vh->header[i].name, "%s",
			    vh->header[i].value);
	if (ex->close)
		http_out_field(o, "Connection", "close");
	else if (ex->r->minor == 0)
		http_out_field(o, "Connection", "keep-alive");
	return http_out_end(o);
}

/* "name: value\r\n" of the script's; cgi_parse_headers checked both. */
static int
send_field(struct run *u, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	if (client_write(u, name, strlen(name)) < 0 ||
	    client_write(u, ": ", 2) < 0 ||
	    client_write(u, value, strlen(value)) < 0 ||
	    client_write(u, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* The header block is complete: answer with it. 0, an HTTP status (nothing
 * sent) or -1 (the client is gone). */
static int
start_answer(struct run *u)
{
	static struct http_out o;
	int status, no_body;
	size_t i;

	if (head.location && head.location[0] == '/' &&
	    head.location[1] != '/' && head.status == 0)
		return local_redirect(u);
	status = head.status ? head.status : head.location ? 302 : 200;
	no_body = u->ex->r->method == HTTP_HEAD || status == 204 || status == 304;
	if (build_head(u, &o, status, no_body) < 0)
		return 502;
	u->ex->status = status;
	u->ex->head_sent = 1;
	if (client_write(u, o.buf, o.len - 2) < 0 ||
	    send_field(u, "Content-Type", head.content_type) < 0 ||
	    send_field(u, "Location", head.location) < 0)
		return -1;
	for (i = 0; i < head.nfields; i++)
		if (send_field(u, head.fields[i].name, head.fields[i].value) < 0)
			return -1;
	if (client_write(u, "\r\n", 2) < 0)
		return -1;
	u->has_left = head.has_length && !no_body;
	u->left = head.content_length;
	u->state = no_body ? OUT_DISCARD : OUT_BODY;
	return 0;
}

/* ---- the answer's body -------------------------------------------------- */

static int
send_body(struct run *u, const char *data, size_t n)
{
	char size[24];
	int len;

	if (u->state != OUT_BODY || n == 0)
		return 0;
	if (u->has_left) {
		if (n > u->left)
			n = (size_t)u->left;    /* more than announced: cut */
		u->left -= n;
		if (u->left == 0)
			u->state = OUT_DISCARD;
	}
	u->ex->bytes += n;
	if (!u->chunked)
		return client_write(u, data, n);
	len = snprintf(size, sizeof(size), "%zx\r\n", n);
	if (client_write(u, size, (size_t)len) < 0 ||
	    client_write(u, data, n) < 0 || client_write(u, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* Bytes from the script's stdout while the header block is incomplete. */
static int
take_head(struct run *u, const char *data, size_t n)
{
	size_t room = sizeof(hbuf) - u->hlen, take = n < room ? n : room;
	int hl, st;

	memcpy(hbuf + u->hlen, data, take);
	u->hlen += take;
	/* Parse again only when a line was completed (or no room is left). */
	if (memchr(data, '\n', take) == NULL && u->hlen < sizeof(hbuf))
		return 0;
	hl = u->state == OUT_NPH ? cgi_parse_nph(hbuf, u->hlen, &head) :
	    cgi_parse_headers(hbuf, u->hlen, &head);
	if (hl == 0)
		return 0;
	if (hl < 0) {
		log_error(u->ex->vh, "cgi %s: %s%s", u->res->fs,
		    u->state == OUT_NPH ? "nph- program: " : "", head.error);
		return 502;
	}
	if ((st = start_answer(u)) != 0)
		return st;
	if (send_body(u, hbuf + hl, u->hlen - (size_t)hl) < 0 ||
	    send_body(u, data + take, n - take) < 0)
		return -1;
	return 0;
}

/* stdout: 0, an HTTP status (nothing sent yet) or -1. */
static int
read_stdout(struct run *u)
{
	ssize_t n = read(u->out, obuf, sizeof(obuf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		close_fd(&u->out);
		return 0;
	}
	switch (u->state) {
	case OUT_HEAD:
	case OUT_NPH:
		return take_head(u, obuf, (size_t)n);
	case OUT_BODY:
		return send_body(u, obuf, (size_t)n);
	default:
		return 0;
	}
}

/* ---- the request body ----------------------------------------------------- */

/* Bytes already read from the client but not yet handed out? */
static int
client_buffered(const struct conn *c)
{
	return c->rlen > c->rpos || (c->tls != NULL && tls_pending(c->tls) > 0);
}

/* Move body bytes to the script. 0, or the failed body's status. */
static int
feed_body(struct run *u, int client_ready)
{
	ssize_t n;

	if (u->in >= 0 && u->bpos < u->blen) {
		n = write(u->in, bbuf + u->bpos, u->blen - u->bpos);
		if (n > 0)
			u->bpos += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			close_fd(&u->in);       /* the script wants no more */
	}
	if (u->in >= 0 && u->bpos == u->blen && !u->b.done && client_ready) {
		n = body_read(&u->b, bbuf, sizeof(bbuf));
		if (n < 0)
			return u->b.status ? u->b.status : 400;
		u->bpos = 0;
		u->blen = (size_t)n;
	}
	if (u->in >= 0 && u->bpos == u->blen && u->b.done)
		close_fd(&u->in);
	return 0;
}

/* A chunked body, decoded whole into a memfd that becomes stdin. */
static int
buffer_chunked(struct run *u, int *fd, uint64_t *total)
{
	ssize_t n;

	if ((*fd = memfd_create("itkd-cgi-body", MFD_CLOEXEC)) < 0) {
		log_error(u->ex->vh, "cgi: memfd_create: %s", strerror(errno));
		return 500;
	}
	for (;;) {
		if ((n = body_read(&u->b, bbuf, sizeof(bbuf))) < 0)
			return u->b.status ? u->b.status : 400;
		if (n == 0)
			break;
		if (u->b.total > CGI_CHUNKED_MAX) {
			u->ex->close = 1;
			return 413;
		}
		if (write(*fd, bbuf, (size_t)n) != n) {
			log_error(u->ex->vh, "cgi: body buffer: %s", strerror(errno));
			return 500;
		}
	}
	*total = u->b.total;
	return lseek(*fd, 0, SEEK_SET) < 0 ? 500 : 0;
}

/* ---- start and loop ------------------------------------------------------- */

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The script's directory, opened by the kernel beneath the root: the
 * child's working directory, where its name is looked up. fd or -1. */
static int
script_dir(const struct exchange *ex, const struct path_res *res)
{
	static char dir[PATH_MAX];
	const char *base = strrchr(res->script_name, '/');
	size_t n = base != NULL ? (size_t)(base - res->script_name) + 1 : 0;

	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, res->script_name, n);
	dir[n] = '\0';
	return path_open(ex->rootfd, dir, O_PATH | O_DIRECTORY);
}

/* Which program to run (*exe, for execve in dirfd), and may we: 0 or 403.
 * An interpreter is the administrator's path; it gets the script's full
 * name, which it opens itself as the vhost's uid (and which scripts see
 * as $0 and SCRIPT_FILENAME). */
static int
program(const struct path_res *res, int dirfd, const char **exe, char *argv[3])
{
	static char here[NAME_MAX + 3];
	const char *interp = res->in_cgi_dir || res->cgi == NULL ? NULL :
	    res->cgi->interp;
	const char *base = strrchr(res->script_name, '/');

	base = base != NULL ? base + 1 : res->script_name;
	if (!S_ISREG(res->st.st_mode) ||
	    snprintf(here, sizeof(here), "./%s", base) >= (int)sizeof(here))
		return 403;
	if (interp == NULL) {
		*exe = here;
		argv[0] = (char *)res->fs;
		argv[1] = NULL;
		return faccessat(dirfd, base, X_OK, 0) == 0 ? 0 : 403;
	}
	*exe = interp;
	argv[0] = (char *)interp;
	argv[1] = (char *)res->fs;
	argv[2] = NULL;
	return faccessat(dirfd, base, R_OK, 0) == 0 ? 0 : 403;
}

static int
exec_failed(struct run *u, int e)
{
	log_error(u->ex->vh, "cgi %s: cannot run: %s", u->res->fs, strerror(e));
	return e == EACCES || e == EPERM ? 403 : 500;
}

/* fork and exec exe (in dirfd) with stdin from stdin_fd (a memfd) or a
 * new pipe. */
static int
spawn(struct run *u, int dirfd, const char *exe, char *argv[], int stdin_fd)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int prep[2] = { -1, -1 }, st = 500, e;
	ssize_t n;

	if ((stdin_fd < 0 && pipe2(pin, O_CLOEXEC) < 0) ||
	    pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0 ||
	    pipe2(prep, O_CLOEXEC) < 0)
		goto err;
	if (stdin_fd >= 0)
		pin[0] = stdin_fd;
	if ((u->pid = fork()) < 0) {
		st = errno == EAGAIN ? 503 : 500;
		goto err;
	}
	if (u->pid == 0)
		child_exec(dirfd, exe, argv, env.vars, pin[0], pout[1], perr[1],
		    prep[1]);
	setpgid(u->pid, u->pid);        /* no race with a kill(-pid) */
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	close_fd(&prep[1]);
	while ((n = read(prep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close_fd(&prep[0]);
	u->in = pin[1];
	u->out = pout[0];
	u->err = perr[0];
	if (n == (ssize_t)sizeof(e)) {
		stop_script(u, 1);
		return exec_failed(u, e);
	}
	if ((u->in >= 0 && set_nonblock(u->in) < 0) ||
	    set_nonblock(u->out) < 0 || set_nonblock(u->err) < 0) {
		stop_script(u, 1);
		return 500;
	}
#ifdef SYS_pidfd_open
	/* Without it (old kernel) the loop polls for the exit instead. */
	u->pidfd = (int)syscall(SYS_pidfd_open, u->pid, 0);
#endif
	return 0;
err:
	log_error(u->ex->vh, "cgi %s: cannot start: %s", u->res->fs, strerror(errno));
	if (stdin_fd >= 0)
		pin[0] = -1;    /* the caller's */
	close_fd(&pin[0]); close_fd(&pin[1]); close_fd(&pout[0]);
	close_fd(&pout[1]); close_fd(&perr[0]); close_fd(&perr[1]);
	close_fd(&prep[0]); close_fd(&prep[1]);
	return st;
}

/* Collect the script's exit status if it has one. ECHILD means someone
 * let SIGCHLD be ignored and the kernel reaped it: it is gone all the same. */
static void
reap(struct run *u)
{
	pid_t r = waitpid(u->pid, &u->wstatus, WNOHANG);

	if (r == u->pid || (r < 0 && errno == ECHILD))
		u->reaped = 1;
	if (r < 0 && errno == ECHILD)
		u->wstatus = 0;
}

/* One poll() round. 0 to go on; else what the loop ends with. */
static int
step(struct run *u)
{
	struct conn *c = u->ex->c;
	struct pollfd p[5];
	int64_t now, left, due;
	int n, st, want_body, ready, timeout;

	if (u->in >= 0 && u->bpos == u->blen && u->b.done)
		close_fd(&u->in);       /* EOF now: the script may read first */
	want_body = u->in >= 0 && u->bpos == u->blen && !u->b.done;
	now = clock_ms();
	due = want_body ? body_due(&u->b) : 0;
	/* A body past its deadline: body_read says so (408). */
	ready = want_body && (client_buffered(c) || (due != 0 && due <= now) ||
	    (u->b.r->expect_continue && !u->b.continue_sent));
	p[0] = (struct pollfd){ .fd = c->fd, .events = want_body ? POLLIN : 0 };
	p[1] = (struct pollfd){ .fd = u->in, .events = u->bpos < u->blen ? POLLOUT : 0 };
	p[2] = (struct pollfd){ .fd = u->out, .events = POLLIN };
	p[3] = (struct pollfd){ .fd = u->err, .events = POLLIN };
	p[4] = (struct pollfd){ .fd = u->reaped ? -1 : u->pidfd, .events = POLLIN };
	left = u->deadline - now;
	if (left <= 0)
		return 1;       /* cgi-timeout */
	if (due != 0 && due - now < left)
		left = due - now;
	timeout = ready ? 0 : left > 60000 ? 60000 : (int)left;
	if (u->out < 0 && u->err < 0 && u->pidfd < 0 && timeout > CGI_REAP_POLL_MS)
		timeout = CGI_REAP_POLL_MS;
	/* Gather what is ready now; push it to the client before we sleep. */
	n = poll(p, 5, u->unflushed ? 0 : timeout);
	if (n == 0 && u->unflushed && timeout > 0) {
		if (client_flush(u) < 0)
			return -1;
		n = poll(p, 5, timeout);
	}
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	/* Time we did not ask for the body is not the client's. */
	if (!want_body && !u->b.done)
		body_extend(&u->b, clock_ms() - now);
	if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
		return -1;      /* the client went away */
	if ((p[3].revents & (POLLIN | POLLHUP | POLLERR)))
		read_stderr(u);
	if ((p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    (st = read_stdout(u)) != 0)
		return st;
	if (u->in >= 0 && (st = feed_body(u, ready || (p[0].revents & POLLIN))) != 0)
		return st;
	if (!u->reaped && (p[4].revents || (u->out < 0 && u->err < 0)))
		reap(u);
	return 0;
}

/* What is left of the request body: drop it (bounded) or close. */
static void
finish_body(struct run *u)
{
	close_fd(&u->in);
	if (!u->b.done && (u->b.status || body_discard(&u->b, CGI_DISCARD_MAX) < 0))
		u->ex->close = 1;
	if (u->b.status)
		u->ex->close = 1;
	/* The body's deadline may have passed: the answer (a 408 page, say)
	 * gets time of its own to go out, as a slow head's does. */
	if (u->b.status == 408 && u->ex->c->timed_out)
		u->ex->c->error = u->ex->c->timed_out = 0;
	conn_deadline(u->ex->c, u->ex->cfg->timeout);
}

/* The script is gone: say how, and end the answer. */
static int
conclude(struct run *u)
{
	struct exchange *ex = u->ex;
	int sig;

	if (WIFSIGNALED(u->wstatus)) {
		sig = WTERMSIG(u->wstatus);
		log_error(ex->vh, "cgi %s: killed by signal %d (%s)", u->res->fs,
		    sig, strsignal(sig));
		return ex->head_sent ? -1 : 502;
	}
	if (WIFEXITED(u->wstatus) && WEXITSTATUS(u->wstatus) != 0)
		log_error(ex->vh, "cgi %s: exited with status %d", u->res->fs,
		    WEXITSTATUS(u->wstatus));
	if (u->state == OUT_HEAD || u->state == OUT_NPH) {
		log_error(ex->vh, "cgi %s: %s", u->res->fs, u->hlen ?
		    "header block never ended" : "no output");
		return 502;
	}
	if (u->redirect)
		return 1;
	if (u->has_left && u->left > 0)
		return -1;      /* shorter than its Content-Length */
	if (u->chunked && client_write(u, "0\r\n\r\n", 5) < 0)
		return -1;
	if (client_flush(u) < 0)
		return -1;
	return 0;
}

static int
run_loop(struct run *u)
{
	int st;

	for (;;) {
		if (u->out < 0 && u->err < 0 && u->reaped)
			return conclude(u);
		if ((st = step(u)) == 0)
			continue;
		if (st == 1) {          /* cgi-timeout */
			log_error(u->ex->vh, "cgi %s: killed after cgi-timeout",
			    u->res->fs);
			return u->ex->head_sent ? -1 : 504;
		}
		return st;
	}
}

int
cgi_serve(struct exchange *ex, const struct path_res *res)
{
	struct run *u = &run;
	struct sigaction ign, old_pipe;
	char *argv[3];
	const char *base, *exe;
	int st, memfd = -1, timeout, dirfd = -1;
	uint64_t body_len = 0;

	memset(u, 0, sizeof(*u));
	u->ex = ex;
	u->res = res;
	u->in = u->out = u->err = u->pidfd = -1;
	body_init(&u->b, ex->c, ex->r);
	body_limit(&u->b, ex->cfg->timeout);
	if ((dirfd = script_dir(ex, res)) < 0) {
		st = path_errno_status(errno);
		goto out;
	}
	if ((st = program(res, dirfd, &exe, argv)) != 0)
		goto out;
	if (ex->r->body == HTTP_BODY_CHUNKED &&
	    (st = buffer_chunked(u, &memfd, &body_len)) != 0)
		goto out;
	if (ex->r->body == HTTP_BODY_LENGTH)
		body_len = ex->r->content_length;
	if ((st = env_build(&env, ex, res, ex->r->body != HTTP_BODY_NONE,
	    body_len)) != 0)
		goto out;
	/* A script that stops reading must not kill us with SIGPIPE. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	timeout = ex->vh->cgi_timeout > 0 ? ex->vh->cgi_timeout : 60;
	/* A script's exchange reads the clock around every write to the
	 * client (tens of times): the vDSO's, whose first fault is paid once,
	 * not a system call each (clock.c). */
	clock_stay();
	u->deadline = clock_ms() + (int64_t)timeout * 1000;
	base = strrchr(res->fs, '/');
	u->state = strncmp(base ? base + 1 : res->fs, "nph-", 4) == 0 ?
	    OUT_NPH : OUT_HEAD;
	/* An nph- head is parsed and re-framed like any other (a second
	 * response in its output is cut off as body excess or sent as body),
	 * and the connection closes after it all the same: a proxy that
	 * reuses server connections must never take what follows for the
	 * answer to another client's request. */
	if (u->state == OUT_NPH)
		ex->close = 1;  /* we cannot know how its answer is framed */
	st = spawn(u, dirfd, exe, argv, memfd);
	close_fd(&memfd);
	if (st == 0)
		st = run_loop(u);
	stop_script(u, st != 0 && st != 1);
	sigaction(SIGPIPE, &old_pipe, NULL);
out:
	close_fd(&memfd);
	close_fd(&dirfd);
	if (st < 0)
		ex->close = 1;
	else
		finish_body(u);
	if (st >= 0 && ex->close == 0 && ex->c->error)
		ex->close = 1;
	return st;
}
