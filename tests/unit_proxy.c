/* tests/unit_proxy.c: the PROXY protocol parser and the trusted-proxy match. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"
#include "unit.h"
#include "vhost.h"

static int
v1(const char *s, const char *want_addr, unsigned want_port)
{
	struct sockaddr_storage ss;
	char text[64] = "";
	size_t used;
	unsigned port = 0;
	int r = proxy_parse((const unsigned char *)s, strlen(s), &used, &ss);

	if (r != 1)
		return r;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof(text));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof(text));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return strcmp(text, want_addr) == 0 && port == want_port && used == strlen(s) ? 1 : 9;
}

static int
partial(const char *s)
{
	struct sockaddr_storage ss;
	size_t used;

	return proxy_parse((const unsigned char *)s, strlen(s), &used, &ss);
}

int
main(void)
{
	unsigned char b[64];
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct config cfg;
	size_t used;

	CHECK("proxy v1 tcp4", v1("PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n", "192.0.2.7", 5555) == 1);
	CHECK("proxy v1 tcp6", v1("PROXY TCP6 2001:db8::7 ::1 5555 443\r\n", "2001:db8::7", 5555) == 1);
	CHECK("proxy v1 unknown keeps the peer", v1("PROXY UNKNOWN\r\n", "", 0) == 1);
	CHECK("proxy v1 partial", partial("PROXY TCP4 192.0.2.7 10.0") == 0);
	CHECK("proxy v1 short", partial("PRO") == 0);
	CHECK("proxy v1 bad family", partial("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n") == -1);
	CHECK("proxy v1 bad address", partial("PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n") == -1);
	CHECK("proxy v1 v6 in tcp4", partial("PROXY TCP4 ::1 1.2.3.4 1 2\r\n") == -1);
	CHECK("proxy v1 port too big", partial("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n") == -1);
	CHECK("proxy v1 port signed", partial("PROXY TCP4 1.2.3.4 1.2.3.4 +1 2\r\n") == -1);
	CHECK("proxy v1 port leading zero", partial("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n") == -1);
	CHECK("proxy v1 extra word", partial("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n") == -1);
	CHECK("proxy v1 double space", partial("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n") == 1 ||
	    partial("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n") == -1);
	CHECK("proxy v1 bare LF", partial("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n") != 1);
	CHECK("proxy v1 CR without LF", partial("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX") == -1);
	CHECK("proxy v1 control byte", partial("PROXY TCP4 1.2.3.4\x01 1.2.3.4 1 2\r\n") == -1);
	{
		char longline[200];
		memset(longline, 'A', sizeof(longline));
		memcpy(longline, "PROXY ", 6);
		CHECK("proxy v1 overlong", proxy_parse((unsigned char *)longline,
		    sizeof(longline), &used, &ss) == -1);
	}
	CHECK("not proxy: an HTTP request", partial("GET / HTTP/1.1\r\n") == -1);
	CHECK("looks like: P", proxy_looks_like((const unsigned char *)"P", 1));
	CHECK("looks like: G", !proxy_looks_like((const unsigned char *)"G", 1));

	/* v2: signature, PROXY command, TCP4, 12 bytes of addresses. */
	memcpy(b, "\r\n\r\n\0\r\nQUIT\n", 12);
	b[12] = 0x21;
	b[13] = 0x11;
	b[14] = 0;
	b[15] = 12;
	memcpy(b + 16, "\xc0\x00\x02\x09", 4);
	memcpy(b + 20, "\x0a\x00\x00\x01", 4);
	memcpy(b + 24, "\x12\x34\x00\x50", 4);
	CHECK("proxy v2 tcp4", proxy_parse(b, 28, &used, &ss) == 1 && used == 28 &&
	    ss.ss_family == AF_INET && s4->sin_addr.s_addr == inet_addr("192.0.2.9") &&
	    ntohs(s4->sin_port) == 0x1234);
	CHECK("proxy v2 partial", proxy_parse(b, 20, &used, &ss) == 0);
	CHECK("proxy v2 keeps the bytes behind", proxy_parse(b, 28, &used, &ss) == 1 && used == 28);
	b[12] = 0x20;
	CHECK("proxy v2 local", proxy_parse(b, 28, &used, &ss) == 1 && ss.ss_family == AF_UNSPEC);
	b[12] = 0x31;
	CHECK("proxy v2 bad version", proxy_parse(b, 28, &used, &ss) == -1);
	b[12] = 0x21;
	b[15] = 8;
	CHECK("proxy v2 short tcp4 body", proxy_parse(b, 24, &used, &ss) == -1);
	b[14] = 0xff;
	CHECK("proxy v2 huge length", proxy_parse(b, 28, &used, &ss) == -1);
	b[14] = 0;
	b[15] = 12;
	b[13] = 0x99;
	CHECK("proxy v2 bad family", proxy_parse(b, 28, &used, &ss) == -1);

	memset(&cfg, 0, sizeof(cfg));
	cfg.nproxy = 2;
	cfg.proxy[0].family = AF_INET;
	memcpy(cfg.proxy[0].addr, "\x7f\x00\x00\x00", 4);
	cfg.proxy[0].prefix = 24;
	cfg.proxy[1].family = AF_INET6;
	cfg.proxy[1].addr[15] = 1;
	cfg.proxy[1].prefix = 128;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET;
	s4->sin_addr.s_addr = inet_addr("127.0.0.9");
	CHECK("trusted: inside /24", proxy_trusted(&cfg, &ss));
	s4->sin_addr.s_addr = inet_addr("127.0.1.9");
	CHECK("trusted: outside /24", !proxy_trusted(&cfg, &ss));
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		memset(&ss, 0, sizeof(ss));
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, "::1", &s6->sin6_addr);
		CHECK("trusted: ::1/128", proxy_trusted(&cfg, &ss));
		inet_pton(AF_INET6, "::ffff:127.0.0.5", &s6->sin6_addr);
		CHECK("trusted: v4-mapped counts as v4", proxy_trusted(&cfg, &ss));
		inet_pton(AF_INET6, "::2", &s6->sin6_addr);
		CHECK("trusted: ::2 is not", !proxy_trusted(&cfg, &ss));
	}
	cfg.proxy[0].prefix = 0;
	ss.ss_family = AF_INET;
	s4->sin_addr.s_addr = inet_addr("8.8.8.8");
	CHECK("trusted: /0 matches all v4", proxy_trusted(&cfg, &ss));
	return UNIT_END();
}
