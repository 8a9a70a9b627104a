/* proxy.c: PROXY protocol v1/v2 (see proxy.h). Runs in the gatekeeper on attacker
 * bytes: every length is checked before it is used. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proxy.h"
#include "vhost.h"

#define V1_MAX 107              /* the spec's worst case, CRLF included */

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

int
proxy_looks_like(const unsigned char *buf, size_t len)
{
	size_t n;

	n = len < 6 ? len : 6;
	if (n > 0 && memcmp(buf, "PROXY ", n) == 0)
		return 1;
	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	return n > 0 && memcmp(buf, v2_sig, n) == 0;
}

/* A decimal port: 1-5 digits, no sign, no leading zero, <= 65535. */
static int
parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

static int
parse_v1(const unsigned char *buf, size_t len, size_t *used,
    struct sockaddr_storage *src)
{
	char line[V1_MAX + 1], *w[6], *save = NULL, *p;
	struct sockaddr_in *s4 = (struct sockaddr_in *)src;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)src;
	const unsigned char *crlf;
	size_t n, i;
	uint16_t port;

	crlf = memchr(buf, '\r', len < V1_MAX ? len : V1_MAX);
	if (crlf == NULL)
		return len < V1_MAX ? 0 : -1;
	n = (size_t)(crlf - buf);
	if (n + 1 >= len)
		return 0;
	if (crlf[1] != '\n')
		return -1;
	memcpy(line, buf, n);
	line[n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return -1;
	*used = n + 2;
	memset(src, 0, sizeof(*src));
	for (i = 0, p = strtok_r(line, " ", &save); p && i < 6;
	    p = strtok_r(NULL, " ", &save))
		w[i++] = p;
	if (i >= 2 && strcmp(w[0], "PROXY") == 0 && strcmp(w[1], "UNKNOWN") == 0)
		return 1;       /* the proxy does not know: keep the real peer */
	if (i != 6 || p != NULL || strcmp(w[0], "PROXY") != 0)
		return -1;
	if (strcmp(w[1], "TCP4") == 0) {
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, w[2], &s4->sin_addr) != 1 ||
		    parse_port(w[4], &port) < 0)
			return -1;
		s4->sin_port = port;
	} else if (strcmp(w[1], "TCP6") == 0) {
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, w[2], &s6->sin6_addr) != 1 ||
		    parse_port(w[4], &port) < 0)
			return -1;
		s6->sin6_port = port;
	} else {
		return -1;
	}
	/* The destination must be well formed too, though we do not use it. */
	{
		unsigned char dst[16];
		if (inet_pton(src->ss_family, w[3], dst) != 1 ||
		    parse_port(w[5], &port) < 0)
			return -1;
	}
	return 1;
}

static int
parse_v2(const unsigned char *buf, size_t len, size_t *used,
    struct sockaddr_storage *src)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)src;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)src;
	size_t body;

	if (len < 16)
		return 0;
	body = (size_t)buf[14] << 8 | buf[15];
	if (16 + body > PROXY_HEAD_MAX || (buf[12] & 0xf0) != 0x20)
		return -1;
	if (len < 16 + body)
		return 0;
	*used = 16 + body;
	memset(src, 0, sizeof(*src));
	if ((buf[12] & 0x0f) == 0x00)
		return 1;       /* LOCAL: the proxy's own health check */
	if ((buf[12] & 0x0f) != 0x01)
		return -1;
	switch (buf[13]) {
	case 0x11:              /* TCP over IPv4 */
		if (body < 12)
			return -1;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, buf + 16, 4);
		memcpy(&s4->sin_port, buf + 24, 2);
		return 1;
	case 0x21:              /* TCP over IPv6 */
		if (body < 36)
			return -1;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, buf + 16, 16);
		memcpy(&s6->sin6_port, buf + 48, 2);
		return 1;
	case 0x00:              /* UNSPEC: keep the real peer */
		return 1;
	default:
		return -1;
	}
}

int
proxy_parse(const unsigned char *buf, size_t len, size_t *used,
    struct sockaddr_storage *src)
{
	*used = 0;
	if (!proxy_looks_like(buf, len))
		return -1;
	if (len < 6)
		return 0;
	if (buf[0] == 'P')
		return parse_v1(buf, len, used, src);
	if (len < sizeof(v2_sig))
		return 0;
	return parse_v2(buf, len, used, src);
}

static int
in_net(const struct proxy_net *n, int family, const unsigned char *addr)
{
	unsigned bits = n->prefix, i;

	if (n->family != family)
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (addr[i] != n->addr[i])
			return 0;
	return bits == 0 ||
	    ((addr[i] ^ n->addr[i]) & (unsigned char)(0xff << (8 - bits))) == 0;
}

int
proxy_trusted(const struct config *cfg, const struct sockaddr_storage *peer)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)peer;
	const unsigned char *a;
	int i, family = peer->ss_family;

	if (family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)peer)->sin_addr;
	} else if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		family = AF_INET;
		a = &s6->sin6_addr.s6_addr[12];
	} else if (family == AF_INET6) {
		a = s6->sin6_addr.s6_addr;
	} else {
		return 0;
	}
	for (i = 0; i < cfg->nproxy; i++)
		if (in_net(&cfg->proxy[i], family, a))
			return 1;
	return 0;
}

int
proxy_read(const struct config *cfg, int fd, int64_t deadline,
    const struct sockaddr_storage *peer, struct sockaddr_storage *src)
{
	unsigned char buf[PROXY_HEAD_MAX];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t used, have = 0;
	ssize_t n;
	int trusted = proxy_trusted(cfg, peer), r;

	memset(src, 0, sizeof(*src));
	if (!trusted && cfg->nproxy == 0)
		return 0;       /* nothing to look for: do not even peek */
	for (;;) {
		/* Peek: what is not a PROXY header stays for HTTP or TLS. */
		n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			return -1;
		if (n > 0) {
			/* The client sent nothing new since the last peek:
			 * wait for more rather than spin. */
			if ((size_t)n > have) {
				have = (size_t)n;
				if (!proxy_looks_like(buf, have))
					return 0;
				if (!trusted)
					return -1;      /* a header from anyone else */
				r = proxy_parse(buf, have, &used, src);
				if (r < 0)
					return -1;
				if (r == 1)
					return recv(fd, buf, used, 0) == (ssize_t)used ? 0 : -1;
				if (have == sizeof(buf))
					return -1;
			}
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			return -1;
		}
		if (clock_ms() >= deadline)
			return -1;
		/* Peeked bytes keep the socket readable: poll() would return
		 * at once, so wait a little for the rest of a partial header. */
		r = have > 0 ? poll(NULL, 0, 10) : poll(&p, 1, 100);
		if (r < 0 && errno != EINTR)
			return -1;
	}
}
