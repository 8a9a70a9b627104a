/* auth.c: HTTP Basic (RFC 7617) and the password file.
 *
 * The file is opened after the identity switch, as the vhost, so it can
 * live in the vhost's own tree and nobody else need read it. It is read
 * whole into one fixed buffer on each check (no cache: an edit applies to
 * the next request), bounded in size and line length. The hashes are
 * whatever crypt(3) verifies: glibc's libxcrypt and musl both do bcrypt
 * ($2b$, $2a$, $2y$), SHA-512 ($6$) and SHA-256 ($5$).
 *
 * Timing: an unknown user's password is hashed all the same, against the
 * file's first hash (the same algorithm and cost as a real user's), and
 * the result of crypt is compared with the stored hash in constant time.
 *
 * crypt is declared in <unistd.h> by glibc and musl alike (Debian's musl
 * has no <crypt.h>); glibc needs -lcrypt (libxcrypt). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"

/* Used when a file has no hash at all: still a real hash to compute. */
#define DUMMY_HASH "$6$itkddummysalt$"
#define HASH_MAX   256

static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Canonical padded base64 (RFC 4648 section 4) of s[0..n) into out;
 * the length, or -1 for anything else: a stray byte, a missing or
 * misplaced '=', bits set past the end, or more than cap bytes. */
static long
b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t i, o = 0;
	int v[4], k, pad;

	if (n == 0 || n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad > 0 || (v[k] = b64_value((unsigned char)s[i + k])) < 0)
				return -1;
		}
		if (o + 3 - pad > cap)
			return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad == 2 && (v[1] & 0x0f) != 0)
			return -1;
		if (pad < 2)
			out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (pad == 1 && (v[2] & 0x03) != 0)
			return -1;
		if (pad == 0)
			out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	}
	return (long)o;
}

int
auth_basic_decode(const char *value, char user[AUTH_USER_MAX + 1],
    char pass[AUTH_PASS_MAX + 1])
{
	unsigned char buf[AUTH_USER_MAX + 1 + AUTH_PASS_MAX];
	const unsigned char *colon;
	const char *token;
	size_t n, ulen;
	long len;
	long i;

	if (value == NULL || strncasecmp(value, "Basic", 5) != 0 ||
	    (value[5] != ' ' && value[5] != '\t'))
		return 1;
	for (token = value + 6; *token == ' ' || *token == '\t'; token++)
		;
	n = strlen(token);
	while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\t'))
		n--;
	if (n > (sizeof(buf) + 2) / 3 * 4 ||
	    (len = b64_decode(token, n, buf, sizeof(buf))) < 0)
		return -1;
	for (i = 0; i < len; i++)
		if (buf[i] < 0x20 || buf[i] == 0x7f)
			return -1;
	if ((colon = memchr(buf, ':', (size_t)len)) == NULL)
		return -1;
	ulen = (size_t)(colon - buf);
	if (ulen == 0 || ulen > AUTH_USER_MAX ||
	    (size_t)len - ulen - 1 > AUTH_PASS_MAX)
		return -1;
	memcpy(user, buf, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, (size_t)len - ulen - 1);
	pass[len - ulen - 1] = '\0';
	return 0;
}

/* Copy the hash field that starts at s (up to ':' or the line's end). */
static void
copy_field(char *dst, size_t cap, const char *s, const char *end)
{
	const char *e = memchr(s, ':', (size_t)(end - s));
	size_t n = (size_t)((e ? e : end) - s);

	if (n >= cap)
		n = 0;          /* no hash is that long: "", which never matches */
	memcpy(dst, s, n);
	dst[n] = '\0';
}

int
auth_find(const char *buf, size_t len, const char *user, char *hash,
    size_t cap, char *dummy, size_t dummycap, int *line)
{
	const char *s = buf, *end = buf + len, *nl, *e;
	size_t ulen = strlen(user), n;
	int found = 0;

	*line = 0;
	hash[0] = dummy[0] = '\0';
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		e = nl ? nl : end;
		++*line;
		n = (size_t)(e - s);
		if (n > AUTH_LINE_MAX)
			return -1;
		if (n > 0 && e[-1] == '\r')
			e--;
		if (e > s && s[0] != '#' && (nl = memchr(s, ':', (size_t)(e - s)))) {
			if (dummy[0] == '\0')
				copy_field(dummy, dummycap, nl + 1, e);
			if (!found && (size_t)(nl - s) == ulen &&
			    memcmp(s, user, ulen) == 0) {
				copy_field(hash, cap, nl + 1, e);
				found = 1;
			}
		}
		s = (e < end && *e == '\r') ? e + 2 : e + 1;
	}
	*line = 0;
	return found;
}

/* Equal strings, in a time that depends on their lengths only. */
static int
same_string(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), i;
	volatile unsigned char diff = na != nb;

	for (i = 0; i < na && i < nb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int
auth_hash_matches(const char *pass, const char *hash)
{
	/* Only crypt's own "$id$" formats: "!" and "*" lock a user, and an
	 * old DES hash would let anything past 8 bytes of a password in.
	 * A locked user costs the same work as any other. */
	int locked = hash[0] != '$';
	const char *out = crypt(pass, locked ? DUMMY_HASH : hash);

	return out != NULL && !locked && out[0] == '$' && same_string(out, hash);
}

int
auth_verify(const char *file, const char *user, const char *pass, char *err,
    size_t errlen)
{
	static char buf[AUTH_FILE_MAX + 1];
	char hash[HASH_MAX], dummy[HASH_MAX];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, found, line, rc = -1;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > AUTH_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes",
		    file, AUTH_FILE_MAX);
		goto out;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", file, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > AUTH_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", file, AUTH_FILE_MAX);
		goto out;
	}
	found = auth_find(buf, len, user, hash, sizeof(hash), dummy,
	    sizeof(dummy), &line);
	if (found < 0) {
		snprintf(err, errlen, "%s:%d: line longer than %d bytes", file,
		    line, AUTH_LINE_MAX);
		goto out;
	}
	if (found)
		rc = auth_hash_matches(pass, hash) ? 0 : 1;
	else
		rc = (auth_hash_matches(pass, dummy[0] == '$' ? dummy :
		    DUMMY_HASH), 1);
out:
	close(fd);
	return rc;
}
