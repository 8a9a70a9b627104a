/* tests/unit_access.c: the pure parts of access.c and auth.c: prefix
 * covering, address matching, the redirect URL, Basic decoding (strict
 * base64, a colon in the password, too long), the password file's lines
 * and the hash check for each crypt format. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "unit.h"
#include "vhost.h"

static char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];

static int
decodes(const char *value, const char *u, const char *p)
{
	return auth_basic_decode(value, user, pass) == 0 &&
	    strcmp(user, u) == 0 && strcmp(pass, p) == 0;
}

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	return ss;
}

static struct proxy_net
net(int family, const char *text, unsigned prefix)
{
	struct proxy_net n;

	memset(&n, 0, sizeof(n));
	n.family = family;
	n.prefix = prefix;
	inet_pton(family, text, n.addr);
	return n;
}

static void
test_prefix(void)
{
	CHECK("prefix covers itself", access_prefix_covers("/admin", "/admin"));
	CHECK("prefix covers below", access_prefix_covers("/admin", "/admin/x"));
	CHECK("prefix covers its slash", access_prefix_covers("/admin", "/admin/"));
	CHECK("prefix not a longer name", !access_prefix_covers("/admin", "/administrator"));
	CHECK("prefix not above", !access_prefix_covers("/admin/x", "/admin"));
	CHECK("prefix case matters", !access_prefix_covers("/admin", "/Admin"));
	CHECK("prefix / covers all", access_prefix_covers("/", "/") &&
	    access_prefix_covers("/", "/a/b"));
}

static void
test_net(void)
{
	struct proxy_net nets[3];
	struct sockaddr_storage ss;

	nets[0] = net(AF_INET, "192.168.1.0", 24);
	nets[1] = net(AF_INET6, "2001:db8::", 32);
	nets[2] = net(AF_INET, "10.0.0.7", 32);
	ss = addr("192.168.1.77");
	CHECK("net v4 inside /24", access_net_match(nets, 3, &ss));
	ss = addr("192.168.2.1");
	CHECK("net v4 outside /24", !access_net_match(nets, 3, &ss));
	ss = addr("10.0.0.7");
	CHECK("net v4 /32", access_net_match(nets, 3, &ss));
	ss = addr("10.0.0.6");
	CHECK("net v4 /32 neighbour", !access_net_match(nets, 3, &ss));
	ss = addr("2001:db8:ffff::1");
	CHECK("net v6 inside /32", access_net_match(nets, 3, &ss));
	ss = addr("2001:db9::1");
	CHECK("net v6 outside /32", !access_net_match(nets, 3, &ss));
	ss = addr("::ffff:192.168.1.5");
	CHECK("net v4-mapped v6 peer counts as v4", access_net_match(nets, 3, &ss));
	ss = addr("::ffff:192.168.3.5");
	CHECK("net v4-mapped v6 peer outside", !access_net_match(nets, 3, &ss));
	nets[0] = net(AF_INET, "0.0.0.0", 0);
	ss = addr("8.8.8.8");
	CHECK("net /0 is every v4", access_net_match(nets, 1, &ss));
	ss = addr("::1");
	CHECK("net /0 v4 is no v6", !access_net_match(nets, 1, &ss));
	nets[0] = net(AF_INET, "172.16.0.0", 12);
	ss = addr("172.31.255.255");
	CHECK("net /12 last", access_net_match(nets, 1, &ss));
	ss = addr("172.32.0.0");
	CHECK("net /12 past", !access_net_match(nets, 1, &ss));
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	CHECK("net other family", !access_net_match(nets, 1, &ss));
}

static void
test_url(void)
{
	char out[64];

	CHECK("url path and query", access_url(out, sizeof(out), "https://a.test",
	    "/x/y z", "a=1&b=2") == 0 &&
	    strcmp(out, "https://a.test/x/y%20z?a=1&b=2") == 0);
	CHECK("url no query", access_url(out, sizeof(out), "https://a.test",
	    "/\xc3\xa9\"<", "") == 0 &&
	    strcmp(out, "https://a.test/%C3%A9%22%3C") == 0);
	CHECK("url too long", access_url(out, sizeof(out), "https://a.test",
	    "/0123456789012345678901234567890123456789012345678", "") < 0);
	CHECK("url query too long", access_url(out, 24, "https://a.test",
	    "/x", "0123456789") < 0);
}

static void
test_basic(void)
{
	char big[2048];
	size_t i;

	/* "Aladdin:open sesame", RFC 7617's example. */
	CHECK("basic RFC 7617 example", decodes("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
	    "Aladdin", "open sesame"));
	CHECK("basic scheme case-insensitive", decodes("bAsIc   QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
	    "Aladdin", "open sesame"));
	/* "u:a:b:c": the password keeps its colons. */
	CHECK("basic colon in the password", decodes("Basic dTphOmI6Yw==", "u", "a:b:c"));
	/* "u:" */
	CHECK("basic empty password", decodes("Basic dTo=", "u", ""));
	CHECK("basic absent", auth_basic_decode(NULL, user, pass) == 1);
	CHECK("basic other scheme", auth_basic_decode("Bearer abc", user, pass) == 1);
	CHECK("basic scheme prefix only", auth_basic_decode("Basicx dTo=", user, pass) == 1);
	CHECK("basic no token", auth_basic_decode("Basic ", user, pass) < 0);
	CHECK("basic no padding", auth_basic_decode("Basic dTo", user, pass) < 0);
	CHECK("basic bad byte", auth_basic_decode("Basic dT*=", user, pass) < 0);
	CHECK("basic padding inside", auth_basic_decode("Basic dT==dTo=", user, pass) < 0);
	CHECK("basic too much padding", auth_basic_decode("Basic d===", user, pass) < 0);
	/* "dTp=" decodes to "u:" with bits left over: not canonical. */
	CHECK("basic non-canonical bits", auth_basic_decode("Basic dTp=", user, pass) < 0);
	/* "dTE=" is "u1": no colon. */
	CHECK("basic no colon", auth_basic_decode("Basic dTE=", user, pass) < 0);
	/* ":p" : an empty user. */
	CHECK("basic empty user", auth_basic_decode("Basic OnA=", user, pass) < 0);
	/* "u:\n" */
	CHECK("basic control byte", auth_basic_decode("Basic dToK", user, pass) < 0);
	/* "u\0:p" */
	CHECK("basic NUL byte", auth_basic_decode("Basic dQA6cA==", user, pass) < 0);
	memcpy(big, "Basic ", 6);
	for (i = 6; i < 6 + 700; i++)
		big[i] = 'A';
	big[i] = '\0';
	CHECK("basic over-long token", auth_basic_decode(big, user, pass) < 0);
	/* 300 x 'u' + ":p" base64: a user-id past AUTH_USER_MAX. */
	{
		static const char tbl[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		unsigned char raw[302];
		size_t n = 0, j;

		memset(raw, 'u', 300);
		raw[300] = ':';
		raw[301] = 'p';
		memcpy(big, "Basic ", 6);
		n = 6;
		for (j = 0; j < sizeof(raw); j += 3) {
			unsigned v = raw[j] << 16 |
			    (j + 1 < sizeof(raw) ? raw[j + 1] << 8 : 0) |
			    (j + 2 < sizeof(raw) ? raw[j + 2] : 0);
			big[n++] = tbl[v >> 18 & 63];
			big[n++] = tbl[v >> 12 & 63];
			big[n++] = j + 1 < sizeof(raw) ? tbl[v >> 6 & 63] : '=';
			big[n++] = j + 2 < sizeof(raw) ? tbl[v & 63] : '=';
		}
		big[n] = '\0';
		CHECK("basic over-long user", auth_basic_decode(big, user, pass) < 0);
	}
}

static void
test_file(void)
{
	static const char file[] =
	    "# comment\n"
	    "\n"
	    "alice:$5$salt$hash1\r\n"
	    "bob:$6$salt$hash2:1001:extra\n"
	    "carol\n"
	    "alice:$6$second$ignored\n";
	char hash[128], dummy[128], longfile[AUTH_LINE_MAX + 64];
	int line;

	CHECK("file finds a user", auth_find(file, strlen(file), "alice", hash,
	    sizeof(hash), dummy, sizeof(dummy), &line) == 1 &&
	    strcmp(hash, "$5$salt$hash1") == 0 && strcmp(dummy, "$5$salt$hash1") == 0);
	CHECK("file stops the hash at a colon", auth_find(file, strlen(file), "bob",
	    hash, sizeof(hash), dummy, sizeof(dummy), &line) == 1 &&
	    strcmp(hash, "$6$salt$hash2") == 0);
	CHECK("file unknown user, dummy set", auth_find(file, strlen(file), "dave",
	    hash, sizeof(hash), dummy, sizeof(dummy), &line) == 0 &&
	    hash[0] == '\0' && strcmp(dummy, "$5$salt$hash1") == 0);
	CHECK("file a prefix of a name is not the name", auth_find(file,
	    strlen(file), "ali", hash, sizeof(hash), dummy, sizeof(dummy), &line) == 0);
	CHECK("file a line without colon is no user", auth_find(file,
	    strlen(file), "carol", hash, sizeof(hash), dummy, sizeof(dummy), &line) == 0);
	memset(longfile, 'x', sizeof(longfile));
	memcpy(longfile, "a:b\n", 4);
	CHECK("file over-long line", auth_find(longfile, sizeof(longfile), "a",
	    hash, sizeof(hash), dummy, sizeof(dummy), &line) < 0 && line == 2);
}

static void
test_hash(void)
{
	/* Made with openssl passwd -5/-6 and mkpasswd -m bcrypt, password
	 * "pw:1". */
	static const char *const good[] = {
		"$5$8gSj1I.GdFaXo3hR$9a2enMLDcmcMUBznTi5Y.vuyPMDNOfxMprt4vM1SeR0",
		("$6$rt.4mBJmTcgJtwp7$B6qH8iQRHOf4ztkReveweHPROdVDgUyoecncInJa/"
		    "xbkFd.DoehLkCmXOlANTEPqDyaKwyBrQd7.teSuLiKHv0"),
		"$2b$05$4bQIndFyjam3dF1R7VZXYupRp575PoxcK8N8KIhTLbWBIIPgQwaVe",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "hash %.3s right", good[i]);
		CHECK(name, auth_hash_matches("pw:1", good[i]));
		snprintf(name, sizeof(name), "hash %.3s wrong", good[i]);
		CHECK(name, !auth_hash_matches("pw:2", good[i]));
	}
	CHECK("hash locked !", !auth_hash_matches("", "!"));
	CHECK("hash locked *", !auth_hash_matches("", "*"));
	CHECK("hash empty", !auth_hash_matches("", ""));
	/* DES ("ab" salt): refused even with the right password. */
	CHECK("hash DES refused", !auth_hash_matches("pw", "abJnggxhB/yWI"));
}

int
main(void)
{
	test_prefix();
	test_net();
	test_url();
	test_basic();
	test_file();
	test_hash();
	return UNIT_END();
}
