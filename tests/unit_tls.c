/* tests/unit_tls.c: tls_load on every key type and form, each refusal with
 * its message, and a handshake through tls_accept/tls_read/tls_write with
 * openssl s_client (EC and RSA, SNI). Certificates come from tests/certs.sh
 * into a temporary directory. */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "tls.h"
#include "vhost.h"
#include "unit.h"

static char dir[] = "/tmp/itkd-unit-tls-XXXXXX";
static struct vhost vhs[4];
static struct config cfg;
static char errbuf[512];

static char *
path(const char *name)
{
	static char bufs[12][PATH_MAX];        /* a config holds up to 8 */
	static int i;

	i = (i + 1) % 12;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", dir, name);
	return bufs[i];
}

/* A config of n vhosts (a.test .. d.test); cert/key set by caller. */
static void
config_reset(int n, int tls_listen)
{
	static char *names[] = { "a.test", "b.test", "c.test", "d.test" };
	int i;

	memset(&cfg, 0, sizeof(cfg));
	memset(vhs, 0, sizeof(vhs));
	cfg.path = "test.conf";
	cfg.vhosts = vhs;
	cfg.nvhosts = n;
	cfg.tls_versions = TLS_V12;
	cfg.timeout = 5;
	for (i = 0; i < n; i++) {
		vhs[i].names[0] = names[i];
		vhs[i].nnames = 1;
		vhs[i].line = 10 * (i + 1);
		vhs[i].tls_line = 10 * (i + 1) + 2;
	}
	if (tls_listen) {
		cfg.nlisten = 1;
		cfg.listen[0].tls = 1;
		cfg.listen[0].line = 3;
		snprintf(cfg.listen[0].text, sizeof(cfg.listen[0].text),
		    "127.0.0.1:443");
	}
}

/* Load one vhost's pair: 1 if it loaded. */
static int
load1(const char *cert, const char *key)
{
	struct tls_keys *k;

	config_reset(1, 1);
	vhs[0].tls_cert = cert ? path(cert) : NULL;
	vhs[0].tls_key = key ? path(key) : NULL;
	errbuf[0] = '\0';
	k = tls_load(&cfg, errbuf, sizeof(errbuf));
	tls_free(k);
	return k != NULL;
}

static int
refused(const char *cert, const char *key, const char *want)
{
	if (load1(cert, key))
		return 0;
	if (strstr(errbuf, want) == NULL) {
		printf("# error was: %s\n", errbuf);
		return 0;
	}
	return 1;
}

static void
write_file(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void
test_load(void)
{
	char want[PATH_MAX + 64];
	struct tls_keys *k;

	CHECK("tls load EC P-256 SEC1 PEM", load1("a.pem", "a.key"));
	CHECK("tls load EC P-256 PKCS#8 PEM", load1("a.pem", "a.p8"));
	CHECK("tls load EC P-256 PKCS#8 DER", load1("a.pem", "a.der"));
	CHECK("tls load EC P-256 SEC1 DER", load1("a.pem", "a-sec1.der"));
	CHECK("tls load EC chain leaf+CA", load1("a-chain.pem", "a.key"));
	CHECK("tls load RSA 2048 PKCS#8 PEM", load1("b.pem", "b.key"));
	CHECK("tls load RSA 2048 PKCS#1 PEM", load1("b.pem", "b.rsa"));
	CHECK("tls load RSA 2048 PKCS#1 DER", load1("b.pem", "b-rsa.der"));
	CHECK("tls load EC P-384", load1("c.pem", "c.key"));
	CHECK("tls load RSA 4096", load1("d.pem", "d.key"));
	CHECK("tls load key in the cert file", load1("ab.pem", NULL));

	CHECK("tls refuse EC key for RSA cert",
	    refused("b.pem", "a.key", "does not match"));
	CHECK("tls refuse RSA key for EC cert",
	    refused("a.pem", "b.key", "does not match"));
	CHECK("tls refuse other EC key",
	    refused("a.pem", "c-other.key", "does not match"));
	CHECK("tls refuse other RSA key",
	    refused("d.pem", "b.key", "does not match"));
	snprintf(want, sizeof(want), "test.conf:12: tls-key %s: ",
	    path("c-other.key"));
	CHECK("tls error is file:line: tls-key FILE: message",
	    refused("a.pem", "c-other.key", want));
	CHECK("tls refuse missing cert file",
	    refused("nonexistent.pem", "a.key", "No such file"));
	snprintf(want, sizeof(want), "test.conf:12: tls-cert %s: ",
	    path("nonexistent.pem"));
	CHECK("tls missing cert names tls-cert",
	    refused("nonexistent.pem", "a.key", want));
	CHECK("tls refuse missing key file",
	    refused("a.pem", "nonexistent.key", "No such file"));
	CHECK("tls refuse a directory", refused(".", "a.key", "regular file"));
	CHECK("tls refuse empty file", refused("empty", "a.key", "empty"));
	CHECK("tls refuse garbage PEM cert",
	    refused("garbage.pem", "a.key", "invalid PEM"));
	CHECK("tls refuse garbage DER cert",
	    refused("garbage.der", "a.key", "cannot decode"));
	CHECK("tls refuse cert file without certificate",
	    refused("a.key", "a.key", "no certificate"));
	CHECK("tls refuse garbage PEM key",
	    refused("a.pem", "garbage.pem", "invalid PEM"));
	CHECK("tls refuse garbage DER key",
	    refused("a.pem", "garbage.der", "cannot decode"));
	CHECK("tls refuse key file without key",
	    refused("a.pem", "a.pem", "no private key"));
	CHECK("tls refuse encrypted PKCS#8",
	    refused("a.pem", "a-enc.key", "encrypted"));
	CHECK("tls refuse encrypted old-style PEM",
	    refused("b.pem", "b-enc.rsa", "encrypted"));
	CHECK("tls refuse two keys", refused("a.pem", "two.key", "more than one"));
	CHECK("tls refuse bytes after the key",
	    refused("a.pem", "trail.key", "private key"));
	CHECK("tls refuse RSA 1024", refused("e.pem", "e.key", "1024 bits"));
	CHECK("tls refuse P-521", refused("k.pem", "k.key", "curve"));
	CHECK("tls refuse 9 certificates",
	    refused("nine.pem", "a.key", "more than 8"));

	config_reset(1, 1);
	vhs[0].tls_key = path("a.key");
	k = tls_load(&cfg, errbuf, sizeof(errbuf));
	CHECK("tls refuse tls-key without tls-cert",
	    k == NULL && strstr(errbuf, "test.conf:12: tls-key without"));
	tls_free(k);

	config_reset(2, 1);
	k = tls_load(&cfg, errbuf, sizeof(errbuf));
	CHECK("tls refuse tls listener without certificate",
	    k == NULL && strstr(errbuf, "test.conf:3: listen 127.0.0.1:443 tls"));
	tls_free(k);

	config_reset(2, 0);
	k = tls_load(&cfg, errbuf, sizeof(errbuf));
	CHECK("tls no listener, no certificate: empty set", k != NULL);
	CHECK("tls empty set: no handshake",
	    tls_accept(k, &cfg, -1, 0) == NULL);
	tls_free(k);
}

/* Child: serve one TLS connection: answer "vhost=NAME sni=SNI " and the
 * line the client sent. */
static void __attribute__((noreturn))
serve_one(int lfd, struct tls_keys *k)
{
	struct tls_conn *t;
	char line[256], out[600];
	int64_t dl = clock_ms() + 5000;
	ssize_t n;
	int fd;

	if ((fd = accept(lfd, NULL, NULL)) < 0)
		_exit(2);
	if ((t = tls_accept(k, &cfg, fd, dl)) == NULL)
		_exit(3);
	tls_wipe(k);
	if ((n = tls_read(t, line, sizeof(line) - 1, dl)) <= 0)
		_exit(4);
	line[n] = '\0';
	snprintf(out, sizeof(out), "vhost=%s sni=%s got=%s",
	    tls_vhost(t)->names[0], tls_server_name(t), line);
	if (tls_write(t, out, strlen(out), dl) < 0 || tls_flush(t, dl) < 0)
		_exit(5);
	tls_close(t, dl);
	close(fd);
	_exit(0);
}

/* Run openssl s_client against a one-shot server; its output in out. */
static int
handshake(struct tls_keys *k, const char *args, char *out, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	char cmd[PATH_MAX + 512];
	int lfd, status = -1;
	size_t len = 0;
	pid_t pid;
	FILE *p;

	out[0] = '\0';
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0)
		return -1;
	if ((pid = fork()) == 0)
		serve_one(lfd, k);
	close(lfd);
	snprintf(cmd, sizeof(cmd), "echo hello | timeout 10 openssl s_client "
	    "-connect 127.0.0.1:%u -CAfile %s -verify_return_error -quiet %s "
	    "2>/dev/null", ntohs(sa.sin_port), path("ca.pem"), args);
	if ((p = popen(cmd, "r")) != NULL) {
		len = fread(out, 1, cap - 1, p);
		pclose(p);
	}
	out[len] = '\0';
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void
test_handshake(void)
{
	struct tls_keys *k;
	char out[2048];
	int r;

	config_reset(4, 1);
	vhs[0].tls_cert = path("a.pem");
	vhs[0].tls_key = path("a.key");
	vhs[1].tls_cert = path("b.pem");
	vhs[1].tls_key = path("b.key");
	vhs[2].tls_cert = path("c.pem");
	vhs[2].tls_key = path("c.key");
	vhs[3].tls_cert = path("d.pem");
	vhs[3].tls_key = path("d.key");
	k = tls_load(&cfg, errbuf, sizeof(errbuf));
	CHECK("tls load four vhosts", k != NULL);
	if (k == NULL) {
		printf("# %s\n", errbuf);
		return;
	}
	r = handshake(k, "-servername a.test -verify_hostname a.test", out,
	    sizeof(out));
	CHECK("tls handshake EC by SNI", r == 0 &&
	    strstr(out, "vhost=a.test sni=a.test got=hello") != NULL);
	r = handshake(k, "-servername B.Test -verify_hostname b.test", out,
	    sizeof(out));
	CHECK("tls handshake RSA by SNI (case folded)", r == 0 &&
	    strstr(out, "vhost=b.test sni=B.Test got=hello") != NULL);
	r = handshake(k, "-servername c.test -verify_hostname c.test", out,
	    sizeof(out));
	CHECK("tls handshake EC P-384", r == 0 &&
	    strstr(out, "vhost=c.test sni=c.test got=hello") != NULL);
	r = handshake(k, "-servername d.test -verify_hostname d.test", out,
	    sizeof(out));
	CHECK("tls handshake RSA 4096", r == 0 &&
	    strstr(out, "vhost=d.test sni=d.test got=hello") != NULL);
	r = handshake(k, "-noservername -verify_hostname a.test", out, sizeof(out));
	CHECK("tls handshake without SNI: first TLS vhost", r == 0 &&
	    strstr(out, "vhost=a.test sni= got=hello") != NULL);
	r = handshake(k, "-servername b.test -cipher ECDHE-RSA-CHACHA20-POLY1305",
	    out, sizeof(out));
	CHECK("tls handshake RSA ChaCha20", r == 0 && strstr(out, "got=hello"));
	r = handshake(k, "-servername b.test -tls1_1", out, sizeof(out));
	CHECK("tls refuse TLS 1.1 by default", r != 0 && !strstr(out, "got="));
	r = handshake(k, "-servername a.test -cipher AES128-GCM-SHA256",
	    out, sizeof(out));
	CHECK("tls refuse static RSA key exchange", r != 0);
	tls_free(k);
}

int
main(void)
{
	char cmd[PATH_MAX + 64];
	char nine[8192] = "";
	FILE *f;
	int i;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(cmd, sizeof(cmd), "sh tests/certs.sh %s", dir);
	if (system(cmd) != 0) {
		printf("FAIL tls certs.sh\n");
		return 1;
	}
	write_file("empty", "");
	write_file("garbage.pem", "-----BEGIN CERTIFICATE-----\n"
	    "!!!! not base64 at all ****\n-----END CERTIFICATE-----\n");
	write_file("garbage.der", "\x30\x82\x01\x00 this is no DER");
	snprintf(cmd, sizeof(cmd), "cat %s %s > %s", path("a.pem"),
	    path("a.key"), path("ab.pem"));
	CHECK("tls make combined file", system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "cat %s %s > %s", path("a.key"),
	    path("c-other.key"), path("two.key"));
	CHECK("tls make two-key file", system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "cd %s && { echo '-----BEGIN EC PRIVATE KEY-----';"
	    " { cat a-sec1.der; printf 'trailing'; } | base64;"
	    " echo '-----END EC PRIVATE KEY-----'; } > trail.key", dir);
	CHECK("tls make key with trailing bytes", system(cmd) == 0);
	if ((f = fopen(path("a-chain.pem"), "r")) != NULL) {
		size_t n = fread(nine, 1, sizeof(nine) - 1, f);
		nine[n] = '\0';
		fclose(f);
	}
	if ((f = fopen(path("nine.pem"), "w")) != NULL) {
		for (i = 0; i < 5; i++)
			fputs(nine, f); /* a-chain.pem has two */
		fclose(f);
	}

	test_load();
	test_handshake();

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return UNIT_END();
}
