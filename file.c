/* file.c: static files: MIME types, ranges (RFC 9110 section 14),
 * conditionals (section 13), precompressed siblings, directory listings,
 * error pages and redirects. Bodies go out through conn_sendfile: a file is
 * never read whole into memory, and sizes are 64-bit throughout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "file.h"
#include "http.h"
#include "path.h"
#include "serve.h"
#include "vhost.h"

#define RANGE_SPECS_MAX 64      /* ranges as sent; more: the whole file */
#define RANGES_MAX      16      /* after merging; more: the whole file */
#define LISTING_MAX     10000   /* directory entries shown */
#define ETAG_MAX        64

#define SIBLING_BR      1       /* name.br */
#define SIBLING_GZ      2       /* name.gz */
#define STATIC_ALLOW    "GET, HEAD, OPTIONS"    /* what a static resource allows */

/* ---- MIME types ---- */

struct mime {
	const char *ext;
	const char *type;
};

static const struct mime mime_builtin[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "xhtml", "application/xhtml+xml; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "json", "application/json; charset=utf-8" },
	{ "map", "application/json; charset=utf-8" },
	{ "jsonld", "application/ld+json; charset=utf-8" },
	{ "webmanifest", "application/manifest+json; charset=utf-8" },
	{ "xml", "application/xml; charset=utf-8" },
	{ "rss", "application/rss+xml; charset=utf-8" },
	{ "atom", "application/atom+xml; charset=utf-8" },
	{ "svg", "image/svg+xml; charset=utf-8" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "text", "text/plain; charset=utf-8" },
	{ "csv", "text/csv; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "ics", "text/calendar; charset=utf-8" },
	{ "vtt", "text/vtt; charset=utf-8" },
	{ "png", "image/png" },
	{ "apng", "image/apng" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "jxl", "image/jxl" },
	{ "ico", "image/x-icon" },
	{ "bmp", "image/bmp" },
	{ "tif", "image/tiff" },
	{ "tiff", "image/tiff" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "wasm", "application/wasm" },
	{ "mp3", "audio/mpeg" },
	{ "ogg", "audio/ogg" },
	{ "oga", "audio/ogg" },
	{ "opus", "audio/ogg" },
	{ "flac", "audio/flac" },
	{ "m4a", "audio/mp4" },
	{ "aac", "audio/aac" },
	{ "wav", "audio/wav" },
	{ "mp4", "video/mp4" },
	{ "m4v", "video/mp4" },
	{ "webm", "video/webm" },
	{ "ogv", "video/ogg" },
	{ "mov", "video/quicktime" },
	{ "pdf", "application/pdf" },
	{ "epub", "application/epub+zip" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "tgz", "application/gzip" },
	{ "br", "application/octet-stream" },
	{ "tar", "application/x-tar" },
	{ "bz2", "application/x-bzip2" },
	{ "xz", "application/x-xz" },
	{ "zst", "application/zstd" },
	{ "7z", "application/x-7z-compressed" },
	{ "rtf", "application/rtf" },
};

/* From `mime-types`, loaded by the master; later lines win. */
static struct mime *mime_loaded;
static size_t mime_nloaded;

const char *
file_mime(const char *name)
{
	const char *base = strrchr(name, '/'), *ext;
	size_t i;

	base = base ? base + 1 : name;
	if ((ext = strrchr(base, '.')) == NULL || ext == base)
		return "application/octet-stream";
	ext++;
	for (i = mime_nloaded; i > 0; i--)
		if (strcasecmp(mime_loaded[i - 1].ext, ext) == 0)
			return mime_loaded[i - 1].type;
	for (i = 0; i < sizeof(mime_builtin) / sizeof(mime_builtin[0]); i++)
		if (strcasecmp(mime_builtin[i].ext, ext) == 0)
			return mime_builtin[i].type;
	return "application/octet-stream";
}

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch));
}

/* type/subtype, both tokens. */
static int
valid_type(const char *t)
{
	const char *slash = strchr(t, '/');
	const char *p;

	if (slash == NULL || slash == t || slash[1] == '\0' || strlen(t) > 127)
		return 0;
	for (p = t; *p != '\0'; p++)
		if (p != slash && !is_tchar((unsigned char)*p))
			return 0;
	return 1;
}

static int
valid_ext(const char *e)
{
	size_t n = strlen(e);

	if (n == 0 || n > 32)
		return 0;
	for (; *e != '\0'; e++)
		if (!is_tchar((unsigned char)*e) || *e == '/')
			return 0;
	return 1;
}

/* Text wants a charset: we serve UTF-8. */
static int
wants_charset(const char *t)
{
	size_t n = strlen(t);

	return strncasecmp(t, "text/", 5) == 0 ||
	    strcasecmp(t, "application/javascript") == 0 ||
	    strcasecmp(t, "application/json") == 0 ||
	    strcasecmp(t, "application/xml") == 0 ||
	    (n > 4 && strcasecmp(t + n - 4, "+xml") == 0) ||
	    (n > 5 && strcasecmp(t + n - 5, "+json") == 0);
}

static void
mime_free(struct mime *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free((char *)m[i].ext);
		free((char *)m[i].type);
	}
	free(m);
}

/* Add ext -> type (with a charset where it belongs) to *m; 0 or -1. */
static int
mime_add(struct mime **m, size_t *n, const char *ext, const char *type)
{
	struct mime *nm;
	char full[160];
	char *e, *t;

	snprintf(full, sizeof(full), "%s%s", type,
	    wants_charset(type) ? "; charset=utf-8" : "");
	if ((nm = realloc(*m, (*n + 1) * sizeof(**m))) == NULL)
		return -1;
	*m = nm;
	e = strdup(ext);
	t = strdup(full);
	if (e == NULL || t == NULL) {
		free(e);
		free(t);
		return -1;
	}
	nm[*n].ext = e;
	nm[*n].type = t;
	(*n)++;
	return 0;
}

/* One line of a mime.types file: "type ext ext ...". 0 or -1 with err. */
static int
mime_line(struct mime **m, size_t *n, char *line, const char *path, int lineno,
    char *err, size_t errlen)
{
	char *save = NULL, *type, *ext;
	char *hash = strchr(line, '#');

	if (hash != NULL)
		*hash = '\0';
	if ((type = strtok_r(line, " \t\r\n", &save)) == NULL)
		return 0;
	if (!valid_type(type)) {
		snprintf(err, errlen, "%s:%d: bad MIME type '%.64s'", path, lineno, type);
		return -1;
	}
	while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		if (!valid_ext(ext)) {
			snprintf(err, errlen, "%s:%d: bad extension '%.64s'", path, lineno, ext);
			return -1;
		}
		if (mime_add(m, n, ext, type) != 0) {
			snprintf(err, errlen, "%s:%d: out of memory", path, lineno);
			return -1;
		}
	}
	return 0;
}

int
file_mime_load(const char *path, char *err, size_t errlen)
{
	struct mime *m = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	ssize_t len;
	int lineno = 0;
	FILE *f;

	if (path == NULL) {
		mime_free(mime_loaded, mime_nloaded);
		mime_loaded = NULL;
		mime_nloaded = 0;
		return 0;
	}
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if ((size_t)len != strlen(line)) {
			snprintf(err, errlen, "%s:%d: NUL byte", path, lineno);
			goto err;
		}
		if (mime_line(&m, &n, line, path, lineno, err, errlen) != 0)
			goto err;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto err;
	}
	free(line);
	fclose(f);
	mime_free(mime_loaded, mime_nloaded);   /* a reload replaces the set */
	mime_loaded = m;
	mime_nloaded = n;
	return 0;
err:
	free(line);
	fclose(f);
	mime_free(m, n);
	return -1;
}

/* ---- response heads ---- */

/* Status line, the vhost's `header`s and Connection; the caller adds the
 * rest and sends with head_send. The head is built in the connection's
 * write buffer (conn_lend): nothing may be written to the connection
 * between the two. */
static void
head_begin(struct exchange *ex, struct http_out *o, int status)
{
	const struct vhost *vh = ex->vh;
	size_t cap;
	char *buf = conn_lend(ex->c, HTTP_OUT_MAX, &cap);
	int i;

	http_out_begin(o, buf, cap, status);
	if (ex->r == NULL || !ex->r->keep_alive)
		ex->close = 1;
	if (ex->close)
		http_out_field(o, "Connection", "close");
	else if (ex->r->minor == 0)
		http_out_field(o, "Connection", "keep-alive");
	for (i = 0; vh != NULL && i < vh->nheader; i++)
		http_out_field(o, vh->header[i].name, "%s", vh->header[i].value);
	ex->status = status;
}

static int
head_send(struct exchange *ex, struct http_out *o)
{
	if (http_out_end(o) != 0) {
		ex->close = 1;
		return -1;
	}
	ex->head_sent = 1;
	return conn_commit(ex->c, o->len);
}

static int
is_head(const struct exchange *ex)
{
	return ex->r != NULL && ex->r->method == HTTP_HEAD;
}

/* ---- escaping into a sink: counted first, then written ---- */

struct sink {
	struct conn *c;         /* NULL: only count */
	uint64_t len;
	int err;
};

static void
sink_put(struct sink *s, const char *buf, size_t n)
{
	s->len += n;
	if (s->c != NULL && !s->err && conn_write(s->c, buf, n) != 0)
		s->err = 1;
}

static void
sink_str(struct sink *s, const char *str)
{
	sink_put(s, str, strlen(str));
}

/* HTML text or attribute value: names show as text, never as markup. */
static void
sink_html(struct sink *s, const char *str)
{
	char buf[256];
	size_t n = 0;
	const char *rep;

	for (; *str != '\0'; str++) {
		if (n > sizeof(buf) - 8) {
			sink_put(s, buf, n);
			n = 0;
		}
		switch (*str) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: rep = NULL; break;
		}
		if (rep != NULL) {
			memcpy(buf + n, rep, strlen(rep));
			n += strlen(rep);
		} else {
			buf[n++] = *str;
		}
	}
	sink_put(s, buf, n);
}

/* Percent-encode all but unreserved bytes (and '/' if keep_slash). */
static size_t
url_escape(char *out, size_t cap, const char *str, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	unsigned char ch;

	for (; *str != '\0'; str++) {
		ch = (unsigned char)*str;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
			if (n + 1 >= cap)
				return (size_t)-1;
			out[n++] = (char)ch;
			continue;
		}
		if (n + 3 >= cap)
			return (size_t)-1;
		out[n++] = '%';
		out[n++] = hex[ch >> 4];
		out[n++] = hex[ch & 15];
	}
	if (cap == 0)
		return (size_t)-1;
	out[n] = '\0';
	return n;
}

/* ---- error pages, redirects ---- */

/* The vhost's error-page for status, sent with that status; 0 if sent,
 * 1 if there is none (or it cannot be read), -1 on a write error. */
static int
error_page(struct exchange *ex, int status, struct http_out *o)
{
	const struct vhost *vh = ex->vh;
	char path[PATH_MAX];
	struct path_res *res;
	static struct path_res res_buf;  /* too big for the stack of a child */
	struct stat st;
	int i, fd, rc;

	for (i = 0; vh != NULL && i < vh->nerror_page; i++)
		if (vh->error_page[i].code == status)
			break;
	if (vh == NULL || i == vh->nerror_page)
		return 1;
	res = &res_buf;
	if (ex->rootfd < 0 ||
	    path_normalise(path, sizeof(path), vh->error_page[i].path) != 0 ||
	    path_resolve(res, vh, ex->rootfd, ex->docroot, path) != 0 ||
	    res->is_dir || res->cgi != NULL || res->in_cgi_dir)
		return 1;
	if ((fd = path_open(ex->rootfd, res->script_name, O_RDONLY | O_NONBLOCK)) < 0)
		return 1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 1;
	}
	http_out_field(o, "Content-Type", "%s", file_mime(res->fs));
	http_out_field(o, "Content-Length", "%llu", (unsigned long long)st.st_size);
	rc = head_send(ex, o);
	if (rc == 0 && !is_head(ex)) {
		rc = conn_sendfile(ex->c, fd, 0, (uint64_t)st.st_size);
		if (rc == 0)
			ex->bytes = (uint64_t)st.st_size;
	}
	close(fd);
	return rc;
}

/* An error answer; size416 >= 0 adds "Content-Range: bytes * /size". */
static int
error_answer(struct exchange *ex, int status, long long size416)
{
	struct http_out o;
	char body[1024];
	size_t n;
	int rc;

	if (ex->head_sent) {
		ex->close = 1;  /* too late for another answer */
		return -1;
	}
	ex->bytes = 0;
	head_begin(ex, &o, status);
	if (status == 405)
		http_out_field(&o, "Allow", "%s", STATIC_ALLOW);
	else if (status == 503)
		http_out_field(&o, "Retry-After", "5");
	else if (status == 401 && ex->auth_realm != NULL)
		http_out_field(&o, "WWW-Authenticate",
		    "Basic realm=\"%s\", charset=\"UTF-8\"", ex->auth_realm);
	else if (status == 416 && size416 >= 0)
		http_out_field(&o, "Content-Range", "bytes */%lld", size416);
	if ((rc = error_page(ex, status, &o)) <= 0)
		return rc;
	n = http_error_body(body, sizeof(body), status);
	http_out_field(&o, "Content-Type", "text/html; charset=utf-8");
	http_out_field(&o, "Content-Length", "%zu", n);
	if (head_send(ex, &o) != 0)
		return -1;
	if (is_head(ex))
		return 0;
	ex->bytes = n;
	return conn_write(ex->c, body, n);
}

int
file_error(struct exchange *ex, int status)
{
	return error_answer(ex, status, -1);
}

/* "scheme://host[:port]" of this request into out. */
static void
origin(const struct exchange *ex, char *out, size_t cap)
{
	const char *host = ex->r != NULL ? ex->r->host : "";
	unsigned port = ex->r != NULL ? ex->r->port : 0;
	unsigned dflt = ex->tls ? 443 : 80;
	const char *open = "", *close = "";

	if (host == NULL || host[0] == '\0') {
		host = ex->c->local_addr;
		port = ex->c->local_port;
		if (strchr(host, ':') != NULL) {
			open = "[";
			close = "]";
		}
	}
	if (port != 0 && port != dflt)
		snprintf(out, cap, "%s://%s%s%s:%u", ex->tls ? "https" : "http",
		    open, host, close, port);
	else
		snprintf(out, cap, "%s://%s%s%s", ex->tls ? "https" : "http",
		    open, host, close);
}

int
file_redirect(struct exchange *ex, int status, const char *location)
{
	static char loc[3 * PATH_MAX + 512];
	struct http_out o;
	struct sink s = { NULL, 0, 0 };
	const char *query = ex->r != NULL && ex->r->query != NULL ? ex->r->query : "";
	size_t n;
	int i;

	if (ex->head_sent) {
		ex->close = 1;
		return -1;
	}
	if (location[0] == '/') {
		origin(ex, loc, 300);
		n = strlen(loc);
		if (url_escape(loc + n, sizeof(loc) - n - 1, location, 1) == (size_t)-1)
			return error_answer(ex, 414, -1);
		if (query[0] != '\0' && strlen(loc) + strlen(query) + 2 < sizeof(loc))
			snprintf(loc + strlen(loc), sizeof(loc) - strlen(loc), "?%s", query);
	} else {
		snprintf(loc, sizeof(loc), "%s", location);
	}
	ex->bytes = 0;
	for (i = 0; i < 2; i++) {
		/* First count the body, then send it after the head. */
		if (i == 1) {
			head_begin(ex, &o, status);
			http_out_field(&o, "Location", "%s", loc);
			http_out_field(&o, "Content-Type", "text/html; charset=utf-8");
			http_out_field(&o, "Content-Length", "%llu", (unsigned long long)s.len);
			if (head_send(ex, &o) != 0)
				return -1;
			if (is_head(ex))
				return 0;
			ex->bytes = s.len;
			s.c = ex->c;
			s.len = 0;
		}
		sink_str(&s, "<!DOCTYPE html>\n<title>Moved</title>\n<p>Moved to <a href=\"");
		sink_html(&s, loc);
		sink_str(&s, "\">");
		sink_html(&s, loc);
		sink_str(&s, "</a>.</p>\n");
	}
	return s.err ? -1 : 0;
}

/* ---- conditionals ---- */

/* Does the entity-tag list (If-Match, If-None-Match) hold etag? Weak
 * comparison ignores "W/"; strong comparison never matches a weak tag. */
static int
etag_listed(const char *list, const char *etag, int weak)
{
	const char *p = list, *q;
	size_t n = strlen(etag);
	int is_weak;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		if (*p == '*')
			return 1;       /* the representation exists */
		is_weak = strncmp(p, "W/", 2) == 0;
		if (is_weak)
			p += 2;
		if (*p != '"')
			return 0;       /* not a list of entity-tags: no match */
		if ((q = strchr(p + 1, '"')) == NULL)
			return 0;
		if ((weak || !is_weak) && (size_t)(q + 1 - p) == n &&
		    memcmp(p, etag, n) == 0)
			return 1;
		p = q + 1;
	}
}

/* RFC 9110 13.2.2: 0 to go on, 304 or 412. */
static int
preconditions(const struct exchange *ex, const char *etag, time_t mtime)
{
	const char *v;
	time_t t;

	if ((v = http_field(ex->r, "If-Match")) != NULL) {
		if (!etag_listed(v, etag, 0))
			return 412;
	} else if ((v = http_field(ex->r, "If-Unmodified-Since")) != NULL) {
		if ((t = http_date_parse(v)) != (time_t)-1 && mtime > t)
			return 412;
	}
	if ((v = http_field(ex->r, "If-None-Match")) != NULL) {
		if (etag_listed(v, etag, 1))
			return 304;
	} else if ((v = http_field(ex->r, "If-Modified-Since")) != NULL) {
		if ((t = http_date_parse(v)) != (time_t)-1 && mtime <= t)
			return 304;
	}
	return 0;
}

/* ---- ranges ---- */

struct range {
	uint64_t first, last;
};

/* Decimal digits at *p, saturating: a huge number is just "too big". */
static int
parse_u64(const char **p, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		*v = *v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : *v * 10 + (uint64_t)(*s - '0');
	*p = s;
	return 0;
}

/* One range-spec at *p against size: 1 satisfiable (in *r), 0 not, -1 bad. */
static int
range_spec(const char **p, uint64_t size, struct range *r)
{
	uint64_t a, b;

	if (**p == '-') {
		(*p)++;
		if (parse_u64(p, &b) != 0)
			return -1;
		if (b == 0)
			return 0;
		r->first = b >= size ? 0 : size - b;
		r->last = size - 1;
		return 1;
	}
	if (parse_u64(p, &a) != 0 || **p != '-')
		return -1;
	(*p)++;
	b = UINT64_MAX;
	if (**p >= '0' && **p <= '9' && parse_u64(p, &b) != 0)
		return -1;
	if (b < a)
		return -1;
	if (a >= size)
		return 0;
	r->first = a;
	r->last = b >= size ? size - 1 : b;
	return 1;
}

/* Sort by start and merge overlapping or adjacent ranges; the new count. */
static int
range_merge(struct range *rg, int n)
{
	struct range t;
	int i, j, w;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && rg[j - 1].first > rg[j].first; j--) {
			t = rg[j];
			rg[j] = rg[j - 1];
			rg[j - 1] = t;
		}
	for (w = 0, i = 1; i < n; i++) {
		if (rg[i].first <= rg[w].last + 1) {
			if (rg[i].last > rg[w].last)
				rg[w].last = rg[i].last;
		} else {
			rg[++w] = rg[i];
		}
	}
	return n > 0 ? w + 1 : 0;
}

/* A Range value against size: the number of ranges in rg (1..RANGES_MAX),
 * 0 to ignore it (send the whole), or -1 for 416. */
static int
range_parse(const char *v, uint64_t size, struct range *rg)
{
	int n = 0, specs = 0, rc;

	if (strncasecmp(v, "bytes=", 6) != 0 || size == 0)
		return 0;
	v += 6;
	for (;;) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (*v == '\0')
			break;
		if (++specs > RANGE_SPECS_MAX)
			return 0;
		if ((rc = range_spec(&v, size, &rg[n])) < 0)
			return 0;
		n += rc;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != ',' && *v != '\0')
			return 0;
	}
	if (specs == 0)
		return 0;
	if (n == 0)
		return -1;
	n = range_merge(rg, n);
	return n <= RANGES_MAX ? n : 0;
}

/* If-Range: does the validator it names still hold? */
static int
if_range_holds(const char *v, const char *etag, time_t mtime)
{
	time_t t;

	if (v[0] == '"' || strncmp(v, "W/", 2) == 0)
		return v[0] == '"' && strcmp(v, etag) == 0;
	t = http_date_parse(v);
	return t != (time_t)-1 && t == mtime;
}

/* ---- the representation: the file or a precompressed sibling ---- */

struct rep {
	int fd;
	struct stat st;
	const char *type;
	const char *encoding;   /* "br", "gzip" or NULL */
	int vary;               /* a sibling was found and is sent */
	int absent;             /* SIBLING_*: looked for, not there while
				 * the directory was as `dir` says */
	struct stat dir;        /* the file's directory, before the look */
	char etag[ETAG_MAX];
	char lastmod[40];
};

/* A qvalue at p ("0", "0.5", "1.000") as 0..1000; anything else is 0. */
static int
qvalue(const char *p)
{
	int q, d;

	if (*p != '0' && *p != '1')
		return 0;
	q = *p++ == '1' ? 1000 : 0;
	if (*p == '.' && q == 0)
		for (p++, d = 100; d > 0 && *p >= '0' && *p <= '9'; p++, d /= 10)
			q += (*p - '0') * d;
	return q;
}

/* The q-value (0..1000) Accept-Encoding gives coding; `*` stands in for a
 * coding not named; a coding not acceptable either way: 0. */
static int
accept_q(const char *p, const char *coding)
{
	const char *name;
	size_t len;
	int q, star = -1, mine = -1;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		for (name = p; *p != '\0' && !strchr(",; \t", *p); p++)
			;
		len = (size_t)(p - name);
		q = 1000;
		while (*p != '\0' && *p != ',') {      /* parameters */
			if (*p == ';' || *p == ' ' || *p == '\t') {
				p++;
				continue;
			}
			if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
				q = qvalue(p + 2);
			while (*p != '\0' && *p != ',' && *p != ';')
				p++;
		}
		if (len == 1 && name[0] == '*' && star < 0)
			star = q;
		else if (len > 0 && len == strlen(coding) &&
		    strncasecmp(name, coding, len) == 0 && mine < 0)
			mine = q;
	}
	return mine >= 0 ? mine : star >= 0 ? star : 0;
}

/* fs + suffix, written in fs's own buffer (PATH_MAX; the caller puts
 * the NUL back at the length returned): no 4 KiB copy on the stack of
 * every request, a page of its own. -1 if it does not fit. No snprintf:
 * this runs twice per request. */
static ssize_t
sibling_name(char *fs, const char *suffix)
{
	size_t n = strlen(fs), m = strlen(suffix);

	if (n + m >= PATH_MAX)
		return -1;
	memcpy(fs + n, suffix, m + 1);
	return (ssize_t)n;
}

/* Open the file res names + suffix (beneath rootfd) if it is a regular
 * file; -1 if not, errno ENOENT only when there is no such name. */
static int
open_sibling(struct path_res *res, int rootfd, const char *suffix,
    struct stat *st)
{
	ssize_t n = sibling_name(res->fs, suffix);
	int fd;

	if (n < 0)
		return -1;
	/* script_name is the end of fs: it names the sibling now. */
	fd = path_open(rootfd, res->script_name, O_RDONLY | O_NONBLOCK);
	res->fs[n] = '\0';
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	return fd;
}

/* Lower-case hex of v at p; returns the end. */
static char *
hex_u64(char *p, unsigned long long v)
{
	char tmp[16];
	int n = 0;

	do
		tmp[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* "ino-size-mtime_ns" in hex and quotes, as snprintf("\"%llx-%llx-%llx\"")
 * wrote it (at most 2 + 3 * 16 + 2 + 1 bytes: ETAG_MAX is 64), without
 * the cost of musl's printf on every request. */
static void
etag_of(char etag[ETAG_MAX], const struct stat *st)
{
	char *p = etag;

	*p++ = '"';
	p = hex_u64(p, (unsigned long long)st->st_ino);
	*p++ = '-';
	p = hex_u64(p, (unsigned long long)st->st_size);
	*p++ = '-';
	p = hex_u64(p, (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
	    (unsigned long long)st->st_mtim.tv_nsec);
	*p++ = '"';
	*p = '\0';
}

/* ---- the file the last request was sent, kept open ---- */

/* A client that asks for the same file again on this connection (a
 * poller, a reload, a benchmark) costs one fstatat proving the name still
 * leads to the very file held open, instead of a path walk, an openat2,
 * an fstat and a close. The fd was opened beneath the root like any
 * other; the fstatat only tells whether it is still the answer: any
 * change of the name's target or of the file (inode, size, mtime, ctime,
 * which a chmod or chown moves) and the request takes the full way. */
#define KEPT_PATH_MAX   256     /* longer names are not kept: a page less */

static struct {
	int fd;                 /* -1: none */
	int rootfd;             /* beneath which it was opened */
	const char *docroot;
	struct rep rp;
	char path[KEPT_PATH_MAX];       /* ex->path it answered */
} kept = { .fd = -1 };

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_mode == b->st_mode && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The directory that holds the file ex->path names, as it is now: what
 * says whether a sibling (name.br, name.gz) has come or gone since, as
 * making, removing or renaming one changes the directory's mtime and
 * ctime. 0, or -1. Not beneath the root, like file_kept's fstatat: it
 * only tells whether a lookup done before may stand. */
static int
dir_stat(const struct exchange *ex, struct stat *st)
{
	char dir[KEPT_PATH_MAX];
	const char *slash = strrchr(ex->path, '/');
	size_t n;

	if (slash == NULL || (n = (size_t)(slash - ex->path)) >= sizeof(dir))
		return -1;
	if (n == 0)             /* "/name": the root itself */
		return fstat(ex->rootfd, st);
	memcpy(dir, ex->path + 1, n - 1);
	dir[n - 1] = '\0';
	return fstatat(ex->rootfd, dir, st, AT_SYMLINK_NOFOLLOW);
}

/* The siblings the client could take (SIBLING_*): 0 when the answer
 * is the identity file whatever exists. */
static int
siblings_wanted(const struct http_request *r)
{
	const char *ae = http_field(r, "Accept-Encoding");

	if (ae == NULL)
		return 0;
	return (accept_q(ae, "br") > 0 ? SIBLING_BR : 0) |
	    (accept_q(ae, "gzip") > 0 || accept_q(ae, "x-gzip") > 0 ?
	    SIBLING_GZ : 0);
}

int
file_kept(const struct exchange *ex)
{
	struct stat now, dir;
	int want;

	if (kept.fd < 0 || kept.rootfd != ex->rootfd ||
	    kept.docroot != ex->docroot || strcmp(kept.path, ex->path) != 0)
		return 0;
	/* A client that takes br or gzip (every browser) gets the kept
	 * file too if each sibling it could take was looked for and not
	 * there, and the directory has not changed since: one fstatat
	 * instead of two failing lookups, a path walk, an openat2, an fstat
	 * and a close per request. (A sibling made in the same tick of the
	 * file system's clock as the directory's last change, before the
	 * look, would go unseen until the directory changes again; the
	 * answer is then the identity file, still a right one.) */
	want = siblings_wanted(ex->r);
	if (want != 0 && ((want & ~kept.rp.absent) != 0 ||
	    dir_stat(ex, &dir) != 0 || !same_file(&dir, &kept.rp.dir)))
		return 0;
	/* ex->path starts with '/': relative to the root, without it. */
	if (fstatat(ex->rootfd, ex->path + 1, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    same_file(&now, &kept.rp.st))
		return 1;
	close(kept.fd);
	kept.fd = -1;
	return 0;
}

/* Keep rp (its fd now the kept one) if it is the plain file ex->path
 * names; else close it. */
static void
keep_or_close(const struct exchange *ex, const struct path_res *res,
    const struct rep *rp)
{
	if (rp->fd == kept.fd)
		return;
	if (ex->close || rp->encoding != NULL || res == NULL ||
	    strcmp(res->script_name, ex->path) != 0 ||
	    strlen(ex->path) >= sizeof(kept.path)) {
		close(rp->fd);
		return;
	}
	if (kept.fd >= 0)
		close(kept.fd);
	kept.fd = rp->fd;
	kept.rootfd = ex->rootfd;
	kept.docroot = ex->docroot;
	kept.rp = *rp;
	memcpy(kept.path, ex->path, strlen(ex->path) + 1);
}

/* Open the sibling `which` into rp: 1, or 0 if there is none to send.
 * dir_ok: rp->dir was taken before the look, so a name found absent is
 * noted in rp->absent for file_kept. */
static int
sibling(struct rep *rp, struct path_res *res, int rootfd, int which,
    int dir_ok)
{
	const char *suffix = which == SIBLING_BR ? ".br" : ".gz";

	if ((rp->fd = open_sibling(res, rootfd, suffix, &rp->st)) >= 0) {
		rp->encoding = which == SIBLING_BR ? "br" : "gzip";
		return 1;
	}
	if (dir_ok && errno == ENOENT)
		rp->absent |= which;
	return 0;
}

/* Pick and open what to send: 0, or 403/404. */
static int
rep_open(struct rep *rp, const struct exchange *ex, struct path_res *res)
{
	const char *ae = http_field(ex->r, "Accept-Encoding");
	int qbr = ae ? accept_q(ae, "br") : 0;
	int qgz = ae ? accept_q(ae, "gzip") : 0;
	int dir_ok;

	if (ae && qgz == 0)
		qgz = accept_q(ae, "x-gzip");
	/* Siblings are looked for only for a client that takes one: for
	 * any other, identity is the answer whatever exists, and two
	 * failing lookups per request were most of a kept-alive request's
	 * system calls. Vary goes with what was found: an identity answer
	 * kept by a cache without it is still right for every client. */
	memset(rp, 0, sizeof(*rp));
	rp->fd = -1;
	rp->type = file_mime(res->fs);
	/* The directory first, then the look: a sibling made after it
	 * changes the directory from what is kept (file_kept). Only where
	 * the connection may go on and the file could be kept. */
	dir_ok = (qbr > 0 || qgz > 0) && !ex->close &&
	    strcmp(res->script_name, ex->path) == 0 &&
	    dir_stat(ex, &rp->dir) == 0;
	/* br where the client likes it at least as well as gzip, then
	 * gzip, then br where it likes gzip better. */
	if (!(qbr > 0 && qbr >= qgz &&
	    sibling(rp, res, ex->rootfd, SIBLING_BR, dir_ok)) &&
	    !(qgz > 0 && sibling(rp, res, ex->rootfd, SIBLING_GZ, dir_ok)) &&
	    qbr > 0 && qbr < qgz)
		(void)sibling(rp, res, ex->rootfd, SIBLING_BR, dir_ok);
	rp->vary = rp->encoding != NULL;
	/* Again by the kernel beneath the root: what path_resolve saw may
	 * have been swapped since, but only for something in the tree. */
	if (rp->fd < 0 && (rp->fd = path_open(ex->rootfd, res->script_name,
	    O_RDONLY | O_NONBLOCK)) < 0)
		return path_errno_status(errno);
	if (rp->encoding == NULL &&
	    (fstat(rp->fd, &rp->st) != 0 || !S_ISREG(rp->st.st_mode))) {
		close(rp->fd);
		rp->fd = -1;
		return 403;
	}
	etag_of(rp->etag, &rp->st);
	http_date(rp->lastmod, sizeof(rp->lastmod), rp->st.st_mtime);
	return 0;
}

/* Validators and the fields every answer about this file carries. */
static void
rep_fields(struct http_out *o, const struct rep *rp)
{
	http_out_field(o, "ETag", "%s", rp->etag);
	http_out_field(o, "Last-Modified", "%s", rp->lastmod);
	if (rp->vary)
		http_out_field(o, "Vary", "Accept-Encoding");
}

/* ---- sending ---- */

static int
send_not_modified(struct exchange *ex, const struct rep *rp)
{
	struct http_out o;

	head_begin(ex, &o, 304);
	rep_fields(&o, rp);
	ex->bytes = 0;
	return head_send(ex, &o);
}

/* 200 (n == 0: the whole file) or 206 with one range. */
static int
send_single(struct exchange *ex, const struct rep *rp, const struct range *rg)
{
	struct http_out o;
	uint64_t size = (uint64_t)rp->st.st_size;
	uint64_t off = rg ? rg->first : 0, len = rg ? rg->last - rg->first + 1 : size;

	head_begin(ex, &o, rg ? 206 : 200);
	http_out_field(&o, "Content-Type", "%s", rp->type);
	if (rp->encoding)
		http_out_field(&o, "Content-Encoding", "%s", rp->encoding);
	http_out_field(&o, "Content-Length", "%llu", (unsigned long long)len);
	if (rg)
		http_out_field(&o, "Content-Range", "bytes %llu-%llu/%llu",
		    (unsigned long long)rg->first, (unsigned long long)rg->last,
		    (unsigned long long)size);
	http_out_field(&o, "Accept-Ranges", "bytes");
	rep_fields(&o, rp);
	ex->bytes = 0;
	if (head_send(ex, &o) != 0)
		return -1;
	if (is_head(ex) || len == 0)
		return 0;
	if (conn_sendfile(ex->c, rp->fd, (off_t)off, len) != 0)
		return -1;
	ex->bytes = len;
	return 0;
}

/* The head of one part of a multipart/byteranges body. */
static int
part_head(char *buf, size_t cap, const char *boundary, const struct rep *rp,
    const struct range *rg)
{
	return snprintf(buf, cap, "\r\n--%s\r\nContent-Type: %s\r\n"
	    "Content-Range: bytes %llu-%llu/%llu\r\n\r\n", boundary, rp->type,
	    (unsigned long long)rg->first, (unsigned long long)rg->last,
	    (unsigned long long)rp->st.st_size);
}

static void
make_boundary(char *out, size_t cap)
{
	unsigned char rnd[10];
	size_t i;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
		    (uint64_t)(uintptr_t)&rnd;
		memcpy(rnd, &x, sizeof(x));
		rnd[8] = rnd[9] = 0x5a;
	}
	snprintf(out, cap, "itkd");
	for (i = 0; i < sizeof(rnd) && 4 + 2 * i + 2 < cap; i++)
		snprintf(out + 4 + 2 * i, cap - 4 - 2 * i, "%02x", rnd[i]);
}

static int __attribute__((noinline))     /* rare: keep its buffers off file_serve's frame */
send_multipart(struct exchange *ex, const struct rep *rp, const struct range *rg, int n)
{
	struct http_out o;
	char boundary[32], part[512];
	uint64_t total = 0, body = 0;
	int i, len;

	make_boundary(boundary, sizeof(boundary));
	for (i = 0; i < n; i++) {
		len = part_head(part, sizeof(part), boundary, rp, &rg[i]);
		total += (uint64_t)len + rg[i].last - rg[i].first + 1;
	}
	total += strlen(boundary) + 8;   /* "\r\n--" boundary "--\r\n" */
	head_begin(ex, &o, 206);
	http_out_field(&o, "Content-Type", "multipart/byteranges; boundary=%s", boundary);
	if (rp->encoding)
		http_out_field(&o, "Content-Encoding", "%s", rp->encoding);
	http_out_field(&o, "Content-Length", "%llu", (unsigned long long)total);
	http_out_field(&o, "Accept-Ranges", "bytes");
	rep_fields(&o, rp);
	ex->bytes = 0;
	if (head_send(ex, &o) != 0)
		return -1;
	if (is_head(ex))
		return 0;
	for (i = 0; i < n; i++) {
		len = part_head(part, sizeof(part), boundary, rp, &rg[i]);
		if (conn_write(ex->c, part, (size_t)len) != 0 ||
		    conn_sendfile(ex->c, rp->fd, (off_t)rg[i].first,
		    rg[i].last - rg[i].first + 1) != 0)
			return -1;
		body += (uint64_t)len + rg[i].last - rg[i].first + 1;
	}
	len = snprintf(part, sizeof(part), "\r\n--%s--\r\n", boundary);
	if (conn_write(ex->c, part, (size_t)len) != 0)
		return -1;
	ex->bytes = body + (uint64_t)len;
	return 0;
}

/* After the preconditions: the whole file, one range, many, or 416. */
static int
send_file(struct exchange *ex, const struct rep *rp)
{
	struct range rg[RANGE_SPECS_MAX];
	const char *range = http_field(ex->r, "Range");
	const char *ifr = http_field(ex->r, "If-Range");
	int n = 0;

	if (range != NULL &&
	    (ifr == NULL || if_range_holds(ifr, rp->etag, rp->st.st_mtime)))
		n = range_parse(range, (uint64_t)rp->st.st_size, rg);
	if (n < 0)
		return error_answer(ex, 416, (long long)rp->st.st_size);
	if (n == 0)
		return send_single(ex, rp, NULL);
	if (n == 1)
		return send_single(ex, rp, &rg[0]);
	return send_multipart(ex, rp, rg, n);
}

/* ---- directory listing ---- */

struct entry {
	char name[NAME_MAX + 2];        /* + '/' for a directory */
	int ok;                         /* fstatat worked */
	uint64_t size;
	time_t mtime;
};

static void
listing_row(struct sink *s, const struct entry *e)
{
	char href[3 * (NAME_MAX + 2) + 1], cell[64];
	struct tm tm;

	sink_str(s, "<tr><td><a href=\"./");
	if (url_escape(href, sizeof(href), e->name, 1) != (size_t)-1)
		sink_str(s, href);
	sink_str(s, "\">");
	sink_html(s, e->name);
	sink_str(s, "</a></td><td>");
	if (e->ok && e->name[strlen(e->name) - 1] != '/')
		snprintf(cell, sizeof(cell), "%llu", (unsigned long long)e->size);
	else
		snprintf(cell, sizeof(cell), "-");
	sink_str(s, cell);
	sink_str(s, "</td><td>");
	/* snprintf, not strftime: with log.c's syslog this was strftime's
	 * last caller, and it brought the time zone code in with it. */
	if (e->ok && gmtime_r(&e->mtime, &tm) != NULL &&
	    tm.tm_year >= -1900 && tm.tm_year < 8100) {
		snprintf(cell, sizeof(cell), "%04d-%02d-%02d %02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min);
		sink_str(s, cell);
	}
	sink_str(s, "</td></tr>\n");
}

static void
listing_body(struct sink *s, const struct exchange *ex, const char *url,
    const struct entry *ents, int n, int truncated)
{
	int i;

	sink_str(s, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Index of ");
	sink_html(s, ex->prefix);
	sink_html(s, url);
	sink_str(s, "</title></head>\n<body><h1>Index of ");
	sink_html(s, ex->prefix);
	sink_html(s, url);
	sink_str(s, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th>"
	    "<th>Modified (UTC)</th></tr>\n");
	if (strcmp(url, "/") != 0 || ex->prefix[0] != '\0')
		sink_str(s, "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n");
	for (i = 0; i < n; i++)
		listing_row(s, &ents[i]);
	sink_str(s, "</table>\n");
	if (truncated)
		sink_str(s, "<p>(listing truncated)</p>\n");
	sink_str(s, "</body></html>\n");
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
	    ((const struct entry *)b)->name);
}

/* Size, time and a '/' for a directory: a symlink shows what it names if
 * the kernel finds that beneath the root (dirpath is the listed
 * directory's path below rootfd, '/'-terminated), else only its name. */
static void
entry_stat(struct entry *en, int dfd, int rootfd, const char *dirpath)
{
	static char rel[PATH_MAX];
	struct stat st;
	int fd;

	en->ok = fstatat(dfd, en->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (en->ok && S_ISLNK(st.st_mode)) {
		en->ok = 0;
		if (snprintf(rel, sizeof(rel), "%s%s", dirpath, en->name) <
		    (int)sizeof(rel) && (fd = path_open(rootfd, rel, O_PATH)) >= 0) {
			en->ok = fstat(fd, &st) == 0;
			close(fd);
		}
	}
	if (en->ok && S_ISDIR(st.st_mode))
		strcat(en->name, "/");  /* name has room for it */
	en->size = en->ok ? (uint64_t)st.st_size : 0;
	en->mtime = en->ok ? st.st_mtime : 0;
}

/* The entries of the directory dirpath names below rootfd, opened by the
 * kernel as every file is, sorted by name, each stat'ed once (so that the
 * counted and the sent body agree). Returns the count or -1; *out is
 * malloc'd. */
static int
listing_read(int rootfd, const char *dirpath, struct entry **out,
    int *truncated)
{
	struct entry *ents, *grown;
	struct dirent *d;
	DIR *dir;
	int n = 0, cap = 64, seen = 0, dfd, i, e;

	if ((dfd = path_open(rootfd, dirpath, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	if ((dir = fdopendir(dfd)) == NULL) {
		e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	if ((ents = malloc((size_t)cap * sizeof(*ents))) == NULL)
		goto err;
	while ((errno = 0, d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || ++seen > LISTING_MAX)
			continue;       /* ".", ".." and hidden files */
		if (n == cap) {
			grown = realloc(ents, (size_t)cap * 2 * sizeof(*ents));
			if (grown == NULL)
				goto err;
			ents = grown;
			cap *= 2;
		}
		snprintf(ents[n++].name, sizeof(ents[0].name), "%s", d->d_name);
	}
	if (errno != 0)
		goto err;
	qsort(ents, (size_t)n, sizeof(*ents), entry_cmp);
	for (i = 0; i < n; i++)
		entry_stat(&ents[i], dirfd(dir), rootfd, dirpath);
	closedir(dir);
	*truncated = seen > LISTING_MAX;
	*out = ents;
	return n;
err:
	e = errno;
	free(ents);
	closedir(dir);
	errno = e;
	return -1;
}

static int
send_listing(struct exchange *ex, const struct path_res *res)
{
	struct http_out o;
	struct sink s = { NULL, 0, 0 };
	struct entry *ents = NULL;
	int n, truncated = 0, rc;

	if ((n = listing_read(ex->rootfd, res->script_name, &ents, &truncated)) < 0)
		return error_answer(ex, path_errno_status(errno), -1);
	listing_body(&s, ex, res->script_name, ents, n, truncated);
	head_begin(ex, &o, 200);
	http_out_field(&o, "Content-Type", "text/html; charset=utf-8");
	http_out_field(&o, "Content-Length", "%llu", (unsigned long long)s.len);
	ex->bytes = 0;
	if ((rc = head_send(ex, &o)) != 0 || is_head(ex)) {
		free(ents);
		return rc;
	}
	s.c = ex->c;
	s.len = 0;
	listing_body(&s, ex, res->script_name, ents, n, truncated);
	free(ents);
	ex->bytes = s.len;
	return s.err ? -1 : 0;
}

/* ---- entry point ---- */

/* A static resource and a method other than GET and HEAD: OPTIONS learns
 * what the resource allows (204, so a CORS preflight gets the vhost's
 * `header`s), every other method is 405. A CGI program answers its own. */
static int
other_method(struct exchange *ex)
{
	struct http_out o;

	if (ex->r->method != HTTP_OPTIONS)
		return error_answer(ex, 405, -1);
	ex->bytes = 0;
	head_begin(ex, &o, 204);
	http_out_field(&o, "Allow", "%s", STATIC_ALLOW);
	return head_send(ex, &o);
}

int
file_serve(struct exchange *ex, struct path_res *res)
{
	struct rep rp;
	int st;

	if (ex->r->method != HTTP_GET && ex->r->method != HTTP_HEAD)
		return other_method(ex);
	if (res != NULL && res->is_dir)
		return ex->vh != NULL && ex->vh->autoindex ?
		    send_listing(ex, res) : error_answer(ex, 403, -1);
	if (res == NULL)
		rp = kept.rp;           /* file_kept said it still is the file */
	else if ((st = rep_open(&rp, ex, res)) != 0)
		return error_answer(ex, st, -1);
	st = preconditions(ex, rp.etag, rp.st.st_mtime);
	if (st == 304)
		st = send_not_modified(ex, &rp);
	else if (st == 412)
		st = error_answer(ex, 412, -1);
	else
		st = send_file(ex, &rp);
	keep_or_close(ex, res, &rp);
	return st;
}
