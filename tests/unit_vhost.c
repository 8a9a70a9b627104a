/* tests/unit_vhost.c: the config parser, its validation and vhost lookup. */
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "vhost.h"

/* The global section every config needs: the gatekeeper's identity,
 * outside the ranges vhosts may take. */
#define GU "user #61000\ngroup #61000\n"
#define R  "uid-range 61001 61999\ngid-range 61001 61999\n"
#define G  GU R
/* A vhost with its own identity, and one whose identity the test gives. */
#define V  "vhost a.test\nroot /srv/a\nuser #61001\ngroup #61001\n"
#define VN "vhost a.test\nroot /srv/a\n"

static char err[512];

static int
load(struct config *cfg, const char *text)
{
	return config_load_buf(cfg, "itkd.conf", text, strlen(text), err,
	    sizeof err);
}

static int
empty(const struct config *cfg)
{
	return cfg->nvhosts == 0 && cfg->vhosts == NULL && cfg->path == NULL &&
	    cfg->user_name == NULL && cfg->nlisten == 0;
}

/* The load fails with exactly want, and leaves the config empty. */
static int
fails(const char *text, const char *want)
{
	struct config cfg;
	int rc = load(&cfg, text);

	if (rc == 0) {
		printf("# loaded, expected: %s\n", want);
		config_free(&cfg);
		return 0;
	}
	if (strcmp(err, want) != 0) {
		printf("# got:  %s\n# want: %s\n", err, want);
		return 0;
	}
	return empty(&cfg);
}

/* The load fails with a message that contains part. */
static int
fails_with(const char *text, const char *part)
{
	struct config cfg;

	if (load(&cfg, text) == 0) {
		config_free(&cfg);
		printf("# loaded, expected error with: %s\n", part);
		return 0;
	}
	if (strstr(err, part) == NULL) {
		printf("# got: %s\n# want part: %s\n", err, part);
		return 0;
	}
	return empty(&cfg);
}

static int
loads(struct config *cfg, const char *text)
{
	if (load(cfg, text) < 0) {
		printf("# unexpected error: %s\n", err);
		return 0;
	}
	return 1;
}

static void
test_lexer(void)
{
	struct config cfg;

	CHECK("lex comments", loads(&cfg,
	    "# a comment\n\n   \t\n" G "vhost a.test   # trailing\n"
	    "root /srv/a#not-a-comment\nuser #61001 # its own\ngroup #61001\n") &&
	    strcmp(cfg.vhosts[0].root, "/srv/a#not-a-comment") == 0 &&
	    cfg.uid == 61000);
	config_free(&cfg);

	CHECK("lex #id with comment", loads(&cfg,
	    "user #61000 # the test user\ngroup #61000\n" R V) &&
	    cfg.uid == 61000 && cfg.gid == 61000);
	config_free(&cfg);

	CHECK("lex quotes value", loads(&cfg, G V
	    "header X-Q \"a \\\"b\\\" \\\\ c # d\"\nheader X-E \"\"\n") &&
	    strcmp(cfg.vhosts[0].header[0].value, "a \"b\" \\ c # d") == 0 &&
	    strcmp(cfg.vhosts[0].header[1].value, "") == 0);
	config_free(&cfg);

	CHECK("lex quoted path with blank", loads(&cfg, G
	    "vhost a.test\nroot \"/srv/my site\"\nuser #61001\ngroup #61001\n") &&
	    strcmp(cfg.vhosts[0].root, "/srv/my site") == 0);
	config_free(&cfg);

	CHECK("lex CRLF", loads(&cfg,
	    "user #61000\r\ngroup #61000\r\nuid-range 61001 61999\r\n"
	    "gid-range 61001 61999\r\nvhost a.test\r\nroot /srv/a\r\n"
	    "user #61001\r\ngroup #61001\r\n") &&
	    strcmp(cfg.vhosts[0].root, "/srv/a") == 0);
	config_free(&cfg);
	CHECK("lex CRLF error line", fails("user #61000\r\ngroup #61000\r\nrot x\r\n",
	    "itkd.conf:3: unknown directive 'rot'"));
	CHECK("lex no final newline", loads(&cfg, G "vhost a.test\nuser #61001\ngroup #61001\nroot /srv/a") &&
	    strcmp(cfg.vhosts[0].root, "/srv/a") == 0);
	config_free(&cfg);
	CHECK("lex BOM", loads(&cfg, "\xef\xbb\xbf" G V));
	config_free(&cfg);

	{
		static const char nul[] = G "vhost a.t\0est\nroot /srv/a\n";
		struct config c2;

		CHECK("lex NUL byte", config_load_buf(&c2, "itkd.conf", nul,
		    sizeof nul - 1, err, sizeof err) < 0 &&
		    strcmp(err, "itkd.conf:5: NUL byte") == 0 && empty(&c2));
	}
	CHECK("lex unterminated quote", fails(G "vhost a.test\nroot \"/srv/a\n",
	    "itkd.conf:6: unterminated quote"));
	CHECK("lex bad escape", fails(G V "header X-A \"a\\nb\"\n",
	    "itkd.conf:9: bad escape in quotes: only \\\" and \\\\"));
	CHECK("lex control char", fails(G V "index a\033b\n",
	    "itkd.conf:9: control character 0x1b"));
	CHECK("lex lone CR", fails(G "vhost a.test\rroot /srv/a\n",
	    "itkd.conf:5: control character 0x0d"));
}

static void
test_errors(void)
{
	CHECK("err unknown directive line 12", fails(
	    "# 1\n# 2\n" G "# 5\n\n\nvhost a.test\n# 9\nroot /srv/a\n\nrot /x\n",
	    "itkd.conf:14: unknown directive 'rot'"));
	CHECK("err vhost directive in global",
	    fails(G "root /srv/a\n" V, "itkd.conf:5: 'root' is a vhost "
	    "directive: it belongs after a 'vhost' line"));
	CHECK("err global directive in vhost",
	    fails(G V "listen 80\n", "itkd.conf:9: 'listen' is a global "
	    "directive: it belongs before the first vhost"));
	CHECK("err not a number", fails(G "\n\n\n\nmax-clients 12x\n" V,
	    "itkd.conf:9: max-clients: '12x' is not a number"));
	CHECK("err sign refused", fails(G "timeout -1\n" V,
	    "itkd.conf:5: timeout: '-1' is not a number"));
	CHECK("err plus refused", fails(G "timeout +1\n" V,
	    "itkd.conf:5: timeout: '+1' is not a number"));
	CHECK("err overflow", fails(G "keepalive-requests 99999999999999999999999\n" V,
	    "itkd.conf:5: keepalive-requests: '99999999999999999999999' must "
	    "be between 1 and 1000000"));
	CHECK("err empty number", fails(G "timeout \"\"\n" V,
	    "itkd.conf:5: timeout: '' is not a number"));
	CHECK("err usage", fails(G "timeout 1 2\n" V,
	    "itkd.conf:5: usage: timeout SECONDS"));
	CHECK("err given twice", fails(G "timeout 1\ntimeout 2\n" V,
	    "itkd.conf:6: 'timeout' given twice (first on line 5)"));
	CHECK("err twice in vhost", fails(G V "root /srv/b\n",
	    "itkd.conf:9: 'root' given twice (first on line 6)"));
	CHECK("err no user", fails("group #61000\n" V,
	    "itkd.conf:2: no global 'user': itkd will not guess whom to run as "
	    "(user NAME or #UID before the first vhost)"));
	CHECK("err no user no vhost", fails("",
	    "itkd.conf: no global 'user': itkd will not guess whom to run as "
	    "(user NAME or #UID before the first vhost)"));
	CHECK("err no vhost", fails(G, "itkd.conf: no vhost: at least one "
	    "'vhost' section is needed"));
	CHECK("err no root", fails(G "vhost a.test\nvhost b.test\nroot /srv/b\n",
	    "itkd.conf:5: vhost 'a.test' has no root"));
	CHECK("err no root last", fails(G V "vhost b.test\n",
	    "itkd.conf:9: vhost 'b.test' has no root"));
	CHECK("err group needed", fails("user #61000\n" V,
	    "itkd.conf:1: user #61000: group needed (a numeric user has no "
	    "primary group)"));
	CHECK("err vhost group needed", fails(G VN "user #61001\n",
	    "itkd.conf:7: user #id: group needed (only a user name brings a "
	    "primary group)"));
	CHECK("err too many words", fails_with(G V "index"
	    " a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a"
	    " a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a"
	    " a a a a a a a a\n", "more than 72 words"));
}

static void
test_identity(void)
{
	struct config cfg;
	struct passwd *pw;
	int i;

	CHECK("id user root refused", fails("user root\n" V,
	    "itkd.conf:1: user: 'root' is uid 0: itkd never runs as root"));
	CHECK("id #0 refused", fails("user #0\ngroup #1\n" V,
	    "itkd.conf:1: user: uid 0 is refused: itkd never runs as root"));
	CHECK("id vhost #0 refused", fails(G VN "user #0\n",
	    "itkd.conf:7: user: uid 0 is refused: itkd never runs as root"));
	CHECK("id group #0 refused", fails("user #61000\ngroup #0\n" V,
	    "itkd.conf:2: group: group 0 ('#0') is refused"));
	CHECK("id group root refused", fails(G VN "group root\n",
	    "itkd.conf:7: group: group 0 ('root') is refused"));
	CHECK("id groups #0 refused", fails(G VN "groups #61001 #0\n",
	    "itkd.conf:7: groups: group 0 ('#0') is refused"));
	CHECK("id no such user", fails("user no-such-user-itkd\n" V,
	    "itkd.conf:1: user: no such user 'no-such-user-itkd'"));
	CHECK("id no such group", fails(G VN "group no-such-group-itkd\n",
	    "itkd.conf:7: group: no such group 'no-such-group-itkd'"));
	CHECK("id uid -1 refused", fails("user #4294967295\n" V,
	    "itkd.conf:1: user: '4294967295' must be between 0 and 4294967294"));
	CHECK("id global owner refused", fails("user owner\n" V,
	    "itkd.conf:1: user: 'owner' is only for vhosts"));

	CHECK("id vhost without user refused", fails(G VN,
	    "itkd.conf:5: vhost 'a.test' has no 'user': a vhost never runs as "
	    "the global user"));
	CHECK("id vhost as the global user refused", fails(G VN
	    "user #61000\ngroup #61001\n",
	    "itkd.conf:7: vhost 'a.test': uid 61000 is outside uid-range "
	    "61001-61999"));
	CHECK("id no uid-range refused", fails(GU V,
	    "itkd.conf:3: no 'uid-range': the ids vhosts may run as must be "
	    "given (e.g. uid-range 1000 60000), before the first vhost"));
	CHECK("id no gid-range refused", fails(GU "uid-range 61001 61999\n" V,
	    "itkd.conf:4: no 'gid-range': the ids vhosts may run as must be "
	    "given (e.g. uid-range 1000 60000), before the first vhost"));
	CHECK("id global user inside uid-range refused", fails(
	    "user #61000\ngroup #61000\nuid-range 60000 61999\n"
	    "gid-range 61001 61999\n" V,
	    "itkd.conf:1: user: uid 61000 is inside uid-range 60000-61999: the "
	    "global user must be no vhost's"));
	CHECK("id global group inside gid-range refused", fails(
	    "user #61000\ngroup #61000\nuid-range 61001 61999\n"
	    "gid-range 1 4294967294\n" V,
	    "itkd.conf:2: group: gid 61000 is inside gid-range 1-4294967294: the "
	    "global group must be no vhost's"));
	CHECK("id vhost numeric", loads(&cfg, G VN "user #61001\ngroup #61002\n") &&
	    cfg.vhosts[0].uid == 61001 && cfg.vhosts[0].gid == 61002 &&
	    cfg.vhosts[0].ngroups == 1 && cfg.vhosts[0].groups[0] == 61002 &&
	    !cfg.vhosts[0].uid_owner);
	config_free(&cfg);
	CHECK("id groups explicit, deduplicated", loads(&cfg, G VN
	    "user #61001\ngroup #61002\ngroups #61005 #61006 #61005\n") &&
	    cfg.vhosts[0].ngroups == 2 && cfg.vhosts[0].groups[0] == 61005 &&
	    cfg.vhosts[0].groups[1] == 61006);
	config_free(&cfg);
	{
		char text[1024] = G V "groups";
		for (i = 0; i < 65; i++)
			snprintf(text + strlen(text), sizeof text - strlen(text),
			    " #%d", 62000 + i);
		strcat(text, "\n");
		CHECK("id 65 groups refused", fails(text,
		    "itkd.conf:9: groups: at most 64 groups"));
	}

	CHECK("id uid-range zero", fails("uid-range 0 100\n" GU V,
	    "itkd.conf:1: uid-range: 0 is never allowed"));
	CHECK("id uid-range reversed", fails("uid-range 100 10\n" GU V,
	    "itkd.conf:1: uid-range: 100 is above 10"));
	CHECK("id global user outside range ok", loads(&cfg,
	    "uid-range 1000 2000\ngid-range 1000 2000\n" GU VN
	    "user #1500\ngroup #1600\n") && cfg.uid == 61000 &&
	    cfg.uid_min == 1000 && cfg.gid_max == 2000 &&
	    cfg.vhosts[0].uid == 1500);
	config_free(&cfg);
	CHECK("id vhost uid outside range", fails(
	    "uid-range 1000 2000\ngid-range 1000 2000\n" GU VN
	    "user #2001\ngroup #1500\n",
	    "itkd.conf:7: vhost 'a.test': uid 2001 is outside uid-range 1000-2000"));
	CHECK("id gid outside range", fails(
	    "uid-range 1000 2000\ngid-range 1000 2000\n" GU VN
	    "user #1500\ngroup #999\n",
	    "itkd.conf:8: vhost 'a.test': gid 999 is outside gid-range 1000-2000"));
	CHECK("id supplementary outside range", fails(
	    "uid-range 1000 2000\ngid-range 1000 2000\n" GU VN
	    "user #1500\ngroup #1000\ngroups #1000 #3000\n",
	    "itkd.conf:9: vhost 'a.test': gid 3000 is outside gid-range 1000-2000"));

	pw = getpwnam("nobody");
	if (pw == NULL || pw->pw_uid == 0 || pw->pw_gid == 0) {
		printf("skip id user by name: no usable 'nobody'\n");
	} else {
		uid_t uid = pw->pw_uid;
		gid_t gid = pw->pw_gid;

		CHECK("id user by name", loads(&cfg, "user nobody\n" R V) &&
		    cfg.uid == uid && cfg.gid == gid &&
		    cfg.user_name && strcmp(cfg.user_name, "nobody") == 0 &&
		    cfg.vhosts[0].uid == 61001);
		config_free(&cfg);
		CHECK("id vhost user by name", loads(&cfg, GU
		    "uid-range 62000 65534\ngid-range 62000 65534\n" VN
		    "user nobody\n") &&
		    cfg.vhosts[0].uid == uid && cfg.vhosts[0].gid == gid &&
		    cfg.vhosts[0].user_name &&
		    strcmp(cfg.vhosts[0].user_name, "nobody") == 0 &&
		    cfg.vhosts[0].ngroups >= 1);
		config_free(&cfg);
	}
}

/* A root with a symlink on its way is refused at its own line (each
 * connection would refuse to open it); a missing one is not, unless
 * `owner` needs it. */
static void
test_root_symlink(const char *dir)
{
	char link[300], text[1024], want[1024];
	struct config cfg;

	snprintf(link, sizeof link, "%s/link", dir);
	if (symlink(dir, link) != 0) {
		CHECK("root symlink made", 0);
		return;
	}
	snprintf(text, sizeof text, G "vhost a.test\nroot %s\nuser #61001\n"
	    "group #61001\n", link);
	snprintf(want, sizeof want, "itkd.conf:6: root: '%s' has a symbolic "
	    "link on its way: itkd follows none there (give the real path)", link);
	CHECK("root symlink refused", fails(text, want));
	snprintf(text, sizeof text, G "vhost a.test\nroot %s/link/x\n"
	    "user #61001\ngroup #61001\n", dir);
	snprintf(want, sizeof want, "itkd.conf:6: root: '%s/link/x' has a "
	    "symbolic link on its way: itkd follows none there (give the real "
	    "path)", dir);
	CHECK("root symlink parent refused", fails(text, want));
	snprintf(text, sizeof text, G "vhost a.test\nroot %s/missing\n"
	    "user #61001\ngroup #61001\n", dir);
	CHECK("root missing loads", loads(&cfg, text));
	config_free(&cfg);
	unlink(link);
}

static void
test_owner(void)
{
	struct config cfg;
	char dir[] = "/tmp/itkd-unit-vhost-XXXXXX";
	char text[512];

	struct stat st;

	if (stat("/", &st) == 0 && st.st_uid == 0)
		CHECK("owner root-owned refused", fails(G "vhost a.test\nroot /\n"
		    "user owner\ngroup owner\n", "itkd.conf:7: user owner: root "
		    "'/' is owned by uid 0: itkd never runs a vhost as root"));
	else
		printf("skip owner root-owned refused: / is not owned by uid 0\n");
	CHECK("owner missing root", fails(G "vhost a.test\n"
	    "root /nonexistent-itkd-xyz\nuser owner\ngroup owner\n",
	    "itkd.conf:7: owner: cannot open root '/nonexistent-itkd-xyz': "
	    "No such file or directory"));
	CHECK("owner needs group", fails(G VN "user owner\n",
	    "itkd.conf:7: user owner: group needed (only a user name brings a "
	    "primary group)"));
	if (geteuid() != 0) {
		printf("skip owner resolution: needs root to chown\n");
		return;
	}
	if (mkdtemp(dir) == NULL || chown(dir, 61001, 61002) < 0) {
		CHECK("owner temp dir", 0);
		return;
	}
	snprintf(text, sizeof text, G "vhost a.test\nroot %s/\n"
	    "user owner\ngroup owner\n", dir);
	CHECK("owner resolved", loads(&cfg, text) &&
	    cfg.vhosts[0].uid == 61001 && cfg.vhosts[0].gid == 61002 &&
	    cfg.vhosts[0].uid_owner && cfg.vhosts[0].gid_owner &&
	    cfg.vhosts[0].ngroups == 1 && cfg.vhosts[0].groups[0] == 61002 &&
	    strcmp(cfg.vhosts[0].root, dir) == 0);
	config_free(&cfg);
	snprintf(text, sizeof text, G "vhost a.test\nroot %s\n"
	    "user owner\ngroup #61003\n", dir);
	CHECK("owner user, numeric group", loads(&cfg, text) &&
	    cfg.vhosts[0].uid == 61001 && cfg.vhosts[0].gid == 61003 &&
	    !cfg.vhosts[0].gid_owner);
	config_free(&cfg);
	snprintf(text, sizeof text, GU "uid-range 61002 61999\n"
	    "gid-range 61001 61999\nvhost a.test\n"
	    "root %s\nuser owner\ngroup owner\n", dir);
	CHECK("owner outside range", fails_with(text,
	    "itkd.conf:7: vhost 'a.test': uid 61001 is outside uid-range "
	    "61002-61999"));
	test_root_symlink(dir);
	rmdir(dir);
}

static void
test_global(void)
{
	struct config cfg;
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;

	CHECK("defaults", loads(&cfg, G V) &&
	    cfg.uid_min == 61001 && cfg.uid_max == 61999 &&
	    cfg.gid_min == 61001 && cfg.gid_max == 61999 &&
	    cfg.max_clients == 256 && cfg.max_clients_per_ip == 0 &&
	    cfg.timeout == 10 && cfg.keepalive_timeout == 5 &&
	    cfg.keepalive_requests == 100 && cfg.tls_session_cache == 1024 &&
	    cfg.tls_versions == TLS_V12 && strcmp(cfg.access_log, "off") == 0 &&
	    strcmp(cfg.error_log, "stderr") == 0 && cfg.mime_types == NULL &&
	    cfg.nlisten == 0 && cfg.nproxy == 0 &&
	    strcmp(cfg.path, "itkd.conf") == 0);
	CHECK("vhost defaults", cfg.nvhosts == 1 && cfg.vhosts[0].nindex == 1 &&
	    strcmp(cfg.vhosts[0].index[0], "index.html") == 0 &&
	    cfg.vhosts[0].cgi_timeout == 60 && cfg.vhosts[0].no_new_privs == 1 &&
	    cfg.vhosts[0].autoindex == 0 && cfg.vhosts[0].max_clients == 0 &&
	    !cfg.vhosts[0].has_nice && cfg.vhosts[0].access_log == NULL &&
	    cfg.vhosts[0].userdir == NULL && cfg.vhosts[0].tls_cert == NULL &&
	    cfg.vhosts[0].ncgi == 0 && cfg.vhosts[0].nlimit == 0 &&
	    cfg.vhosts[0].pos == 0 && cfg.vhosts[0].line == 5);
	config_free(&cfg);

	CHECK("global numbers", loads(&cfg, G "max-clients 10\n"
	    "max-clients-per-ip 3\ntimeout 20\nkeepalive-timeout 7\n"
	    "keepalive-requests 5\ntls-session-cache 0\n"
	    "access-log syslog\nerror-log /var/log/itkd.err\n"
	    "mime-types /etc/mime.types\n" V) &&
	    cfg.max_clients == 10 && cfg.max_clients_per_ip == 3 &&
	    cfg.timeout == 20 && cfg.keepalive_timeout == 7 &&
	    cfg.keepalive_requests == 5 && cfg.tls_session_cache == 0 &&
	    strcmp(cfg.access_log, "syslog") == 0 &&
	    strcmp(cfg.error_log, "/var/log/itkd.err") == 0 &&
	    strcmp(cfg.mime_types, "/etc/mime.types") == 0);
	config_free(&cfg);
	CHECK("cross-identity default close", loads(&cfg, G V) &&
	    cfg.cross_identity == CROSS_CLOSE);
	config_free(&cfg);
	CHECK("cross-identity handoff", loads(&cfg, G "cross-identity handoff\n"
	    V) && cfg.cross_identity == CROSS_HANDOFF);
	config_free(&cfg);
	CHECK("cross-identity close", loads(&cfg, G "cross-identity close\n" V) &&
	    cfg.cross_identity == CROSS_CLOSE);
	config_free(&cfg);
	CHECK("cross-identity bad word", fails(G "cross-identity retry\n" V,
	    "itkd.conf:5: cross-identity: 'retry' is not close or handoff"));
	CHECK("cross-identity in a vhost", fails(G V "cross-identity handoff\n",
	    "itkd.conf:9: 'cross-identity' is a global directive: it belongs "
	    "before the first vhost"));
	CHECK("global max-clients 0", fails(G "max-clients 0\n" V,
	    "itkd.conf:5: max-clients: '0' must be between 1 and 65536"));
	CHECK("global access-log relative", fails(G "access-log log.txt\n" V,
	    "itkd.conf:5: access-log: 'log.txt' is not an absolute path, syslog, stderr or off"));
	CHECK("global error-log bad", fails(G "error-log off\n" V,
	    "itkd.conf:5: error-log: 'off' is not an absolute path, syslog or stderr"));
	CHECK("global mime-types relative", fails(G "mime-types mime.types\n" V,
	    "itkd.conf:5: mime-types: 'mime.types' is not an absolute path"));

	CHECK("listen forms", loads(&cfg, G "listen 8080\nlisten 127.0.0.1:8443 tls\n"
	    "listen [::1]:8080\nlisten *:81\n" V) && cfg.nlisten == 4);
	s4 = (const struct sockaddr_in *)&cfg.listen[0].ss;
	CHECK("listen bare port", s4->sin_family == AF_INET &&
	    s4->sin_addr.s_addr == htonl(INADDR_ANY) && s4->sin_port == htons(8080) &&
	    cfg.listen[0].sslen == sizeof *s4 && !cfg.listen[0].tls &&
	    strcmp(cfg.listen[0].text, "8080") == 0 && cfg.listen[0].line == 5);
	s4 = (const struct sockaddr_in *)&cfg.listen[1].ss;
	CHECK("listen v4 tls", s4->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
	    s4->sin_port == htons(8443) && cfg.listen[1].tls);
	s6 = (const struct sockaddr_in6 *)&cfg.listen[2].ss;
	CHECK("listen v6", s6->sin6_family == AF_INET6 &&
	    cfg.listen[2].sslen == sizeof *s6 && s6->sin6_port == htons(8080) &&
	    memcmp(&s6->sin6_addr, &in6addr_loopback, 16) == 0);
	s4 = (const struct sockaddr_in *)&cfg.listen[3].ss;
	CHECK("listen star is IPv4 any", s4->sin_family == AF_INET &&
	    s4->sin_addr.s_addr == htonl(INADDR_ANY) && s4->sin_port == htons(81));
	config_free(&cfg);
	CHECK("listen port 0", fails(G "listen 0\n" V,
	    "itkd.conf:5: listen: '0' must be between 1 and 65535"));
	CHECK("listen port 65536", fails(G "listen 127.0.0.1:65536\n" V,
	    "itkd.conf:5: listen: '65536' must be between 1 and 65535"));
	CHECK("listen bad v4", fails(G "listen 1.2.3:80\n" V,
	    "itkd.conf:5: listen: '1.2.3' is not an IPv4 address (write IPv6 as "
	    "[ADDR]:PORT)"));
	CHECK("listen unbracketed v6", fails_with(G "listen ::1:80\n" V,
	    "is not an IPv4 address"));
	CHECK("listen bad bracket", fails(G "listen [::1]80\n" V,
	    "itkd.conf:5: listen: '[::1]80' is not [ADDR]:PORT"));
	CHECK("listen not tls", fails(G "listen 80 ssl\n" V,
	    "itkd.conf:5: listen: 'ssl' is not 'tls'"));
	CHECK("listen duplicate", fails(G "listen 80\nlisten *:80\n" V,
	    "itkd.conf:6: listen: '*:80' is already on line 5"));
	CHECK("listen overlap", fails(G "listen 80\nlisten 127.0.0.1:80\n" V,
	    "itkd.conf:6: listen: '127.0.0.1:80' overlaps '80' on line 5"));
	CHECK("listen v4 and v6 same port", loads(&cfg,
	    G "listen 80\nlisten [::]:80\n" V) && cfg.nlisten == 2);
	config_free(&cfg);

	CHECK("tls-versions", loads(&cfg, G "tls-versions 1.2 1.0\n" V) &&
	    cfg.tls_versions == (TLS_V12 | TLS_V10));
	config_free(&cfg);
	CHECK("tls-versions bad", fails(G "tls-versions 1.3\n" V,
	    "itkd.conf:5: tls-versions: '1.3' is not 1.2, 1.1 or 1.0"));
	CHECK("tls-versions none", fails(G "tls-versions\n" V,
	    "itkd.conf:5: usage: tls-versions 1.2 [1.1 1.0]"));

	CHECK("trusted-proxy", loads(&cfg, G "trusted-proxy 10.0.0.0/8\n"
	    "trusted-proxy 127.0.0.1\ntrusted-proxy 2001:db8::/32\n"
	    "trusted-proxy [::1]\n" V) && cfg.nproxy == 4 &&
	    cfg.proxy[0].family == AF_INET && cfg.proxy[0].prefix == 8 &&
	    cfg.proxy[0].addr[0] == 10 && cfg.proxy[1].prefix == 32 &&
	    cfg.proxy[2].family == AF_INET6 && cfg.proxy[2].prefix == 32 &&
	    cfg.proxy[3].prefix == 128 && cfg.proxy[3].addr[15] == 1);
	config_free(&cfg);
	CHECK("trusted-proxy host bits", fails(G "trusted-proxy 10.0.0.1/8\n" V,
	    "itkd.conf:5: trusted-proxy: '10.0.0.1/8' has bits set past /8"));
	CHECK("trusted-proxy prefix too long", fails(G "trusted-proxy 10.0.0.0/33\n" V,
	    "itkd.conf:5: trusted-proxy: '33' must be between 0 and 32"));
	CHECK("trusted-proxy not an address", fails(G "trusted-proxy example.org\n" V,
	    "itkd.conf:5: trusted-proxy: 'example.org' is not an address"));
}

static void
test_vhost_directives(void)
{
	struct config cfg;
	const struct vhost *vh;

	CHECK("vhost full", loads(&cfg, G "vhost Example.ORG www.example.org "
	    "*.example.org [::1] 127.0.0.1\n"
	    "root /srv//example.org///\n"
	    "index index.html index.cgi\n"
	    "cgi .cgi\ncgi .php /usr/bin/php-cgi\n"
	    "cgi-dir /cgi-bin/\nuserdir public_html\n"
	    "tls-cert /etc/itkd/e.pem\ntls-key /etc/itkd/e.key\n"
	    "max-clients 0\nnice -5\nautoindex on\n"
	    "error-page 404 /errors/404.html\n"
	    "header Strict-Transport-Security \"max-age=31536000\"\n"
	    "access-log off\ncgi-timeout 30\n"
	    "limit cpu 10\nlimit as 512M\nlimit fsize 1g\nlimit nofile unlimited\n"
	    "limit nproc 50\nno-new-privs off\nuser #61001\ngroup #61001\n"));
	vh = cfg.nvhosts ? &cfg.vhosts[0] : NULL;
	CHECK("vhost names lower-cased", vh && vh->nnames == 5 &&
	    strcmp(vh->names[0], "example.org") == 0 &&
	    strcmp(vh->names[2], "*.example.org") == 0 &&
	    strcmp(vh->names[3], "[::1]") == 0);
	CHECK("vhost root normalised", vh && strcmp(vh->root, "/srv/example.org") == 0);
	CHECK("vhost index", vh && vh->nindex == 2 &&
	    strcmp(vh->index[1], "index.cgi") == 0);
	CHECK("vhost cgi", vh && vh->ncgi == 2 && vh->cgi[0].interp == NULL &&
	    strcmp(vh->cgi[1].suffix, ".php") == 0 &&
	    strcmp(vh->cgi[1].interp, "/usr/bin/php-cgi") == 0);
	CHECK("vhost cgi-dir userdir", vh && vh->ncgi_dir == 1 &&
	    strcmp(vh->cgi_dir[0], "/cgi-bin/") == 0 &&
	    strcmp(vh->userdir, "public_html") == 0);
	CHECK("vhost tls", vh && strcmp(vh->tls_cert, "/etc/itkd/e.pem") == 0 &&
	    strcmp(vh->tls_key, "/etc/itkd/e.key") == 0 && vh->tls_line == 12);
	CHECK("vhost misc", vh && vh->max_clients == 0 && vh->nice == -5 &&
	    vh->has_nice && vh->autoindex == 1 && vh->nerror_page == 1 &&
	    vh->error_page[0].code == 404 &&
	    strcmp(vh->error_page[0].path, "/errors/404.html") == 0 &&
	    vh->nheader == 1 && strcmp(vh->header[0].value, "max-age=31536000") == 0 &&
	    strcmp(vh->access_log, "off") == 0 && vh->cgi_timeout == 30 &&
	    vh->no_new_privs == 0);
	CHECK("vhost limits", vh && vh->nlimit == 5 &&
	    vh->limit[0].resource == RLIMIT_CPU && vh->limit[0].value == 10 &&
	    vh->limit[1].resource == RLIMIT_AS && vh->limit[1].value == 512ULL << 20 &&
	    vh->limit[2].resource == RLIMIT_FSIZE && vh->limit[2].value == 1ULL << 30 &&
	    vh->limit[3].resource == RLIMIT_NOFILE && vh->limit[3].value == RLIM_INFINITY &&
	    vh->limit[4].resource == RLIMIT_NPROC && vh->limit[4].value == 50);
	config_free(&cfg);

	CHECK("root slash stays", loads(&cfg, G "vhost a.test\nroot ///\nuser #61001\ngroup #61001\n") &&
	    strcmp(cfg.vhosts[0].root, "/") == 0);
	config_free(&cfg);
	CHECK("root relative", fails(G "vhost a.test\nroot srv/a\n",
	    "itkd.conf:6: root: 'srv/a' is not an absolute path"));
	CHECK("root dotdot", fails(G "vhost a.test\nroot /srv/../etc\n",
	    "itkd.conf:6: root: '/srv/../etc' has a '.' or '..' component"));
	CHECK("bad name dash", fails(G "vhost -a.test\n",
	    "itkd.conf:5: vhost: '-a.test' is not a valid host name"));
	CHECK("bad name trailing dot", fails(G "vhost a.test.\n",
	    "itkd.conf:5: vhost: 'a.test.' is not a valid host name"));
	CHECK("bad name empty label", fails_with(G "vhost a..test\n", "not a valid host"));
	CHECK("bad name star", fails_with(G "vhost *\n", "not a valid host"));
	CHECK("bad name star mid", fails_with(G "vhost a.*.test\n", "not a valid host"));
	CHECK("bad name star glued", fails_with(G "vhost *foo.test\n", "not a valid host"));
	CHECK("bad name slash", fails_with(G "vhost a.test/x\n", "not a valid host"));
	CHECK("bad name ipv6", fails_with(G "vhost [::g]\n", "not a valid host"));
	CHECK("dup name across vhosts", fails(G V "vhost b.test A.TEST\n",
	    "itkd.conf:9: vhost: 'a.test' is already a name of the vhost on line 5"));
	CHECK("dup name in one line", fails(G "vhost a.test a.test\n",
	    "itkd.conf:5: vhost: 'a.test' is already a name of the vhost on line 5"));
	CHECK("dup wildcard", fails_with(G "vhost *.a.test\nroot /srv/a\n"
	    "user #61001\ngroup #61001\nvhost *.A.test\n", "already a name"));
	CHECK("index bad", fails(G V "index a/b\n",
	    "itkd.conf:9: index: 'a/b' is not a file name"));
	CHECK("cgi bad suffix", fails(G V "cgi cgi\n",
	    "itkd.conf:9: cgi: 'cgi' is not a suffix such as .cgi"));
	CHECK("cgi relative interpreter", fails(G V "cgi .php php-cgi\n",
	    "itkd.conf:9: cgi: 'php-cgi' is not an absolute path"));
	CHECK("cgi dup", fails(G V "cgi .cgi\ncgi .cgi\n",
	    "itkd.conf:10: cgi: '.cgi' is already a cgi suffix"));
	CHECK("cgi-dir no trailing slash", fails(G V "cgi-dir /cgi-bin\n",
	    "itkd.conf:9: cgi-dir: '/cgi-bin' is not a path that starts and ends "
	    "with '/'"));
	CHECK("cgi-dir dotdot", fails_with(G V "cgi-dir /a/../b/\n", "cgi-dir:"));
	CHECK("userdir absolute", fails(G V "userdir /home\n",
	    "itkd.conf:9: userdir: '/home' is not a relative directory name "
	    "such as public_html"));
	CHECK("userdir dotdot", fails_with(G V "userdir ../x\n", "userdir:"));
	CHECK("tls-cert without key", fails(G V "tls-cert /k.pem\n",
	    "itkd.conf:9: tls-cert without tls-key"));
	CHECK("tls-key without cert", fails(G V "\ntls-key /k.pem\n",
	    "itkd.conf:10: tls-key without tls-cert"));
	CHECK("nice plus", loads(&cfg, G V "nice +19\n") && cfg.vhosts[0].nice == 19);
	config_free(&cfg);
	CHECK("nice 20", fails(G V "nice 20\n",
	    "itkd.conf:9: nice: '20' must be between -20 and 19"));
	CHECK("nice -21", fails(G V "nice -21\n",
	    "itkd.conf:9: nice: '-21' must be between -20 and 19"));
	CHECK("nice junk", fails(G V "nice 5x\n", "itkd.conf:9: nice: '5x' is not a number"));
	CHECK("nice huge", fails_with(G V "nice -99999999999999999999\n", "must be between"));
	CHECK("autoindex bad", fails(G V "autoindex yes\n",
	    "itkd.conf:9: autoindex: 'yes' is not on or off"));
	CHECK("no-new-privs bad", fails(G V "no-new-privs 1\n",
	    "itkd.conf:9: no-new-privs: '1' is not on or off"));
	CHECK("error-page code", fails(G V "error-page 399 /e.html\n",
	    "itkd.conf:9: error-page: '399' must be between 400 and 599"));
	CHECK("error-page path", fails(G V "error-page 404 e.html\n",
	    "itkd.conf:9: error-page: 'e.html' does not start with '/'"));
	CHECK("error-page dup", fails(G V "error-page 404 /a\nerror-page 404 /b\n",
	    "itkd.conf:10: error-page: 404 given twice"));
	CHECK("header bad name", fails(G V "header \"Bad Name\" x\n",
	    "itkd.conf:9: header: 'Bad Name' is not a header name"));
	CHECK("header framing refused", fails(G V "header content-length 5\n",
	    "itkd.conf:9: header: 'content-length' is set by itkd itself"));
	CHECK("access-log vhost syslog", fails(G V "access-log syslog\n",
	    "itkd.conf:9: access-log: 'syslog' is not an absolute path or off"));
	CHECK("cgi-timeout 0", fails(G V "cgi-timeout 0\n",
	    "itkd.conf:9: cgi-timeout: '0' must be between 1 and 86400"));
	CHECK("limit unknown", fails(G V "limit mem 1\n",
	    "itkd.conf:9: limit: 'mem' is not cpu, as, nproc, nofile or fsize"));
	CHECK("limit suffix only for bytes", fails(G V "limit nproc 1K\n",
	    "itkd.conf:9: limit: '1K' is not a number"));
	CHECK("limit overflow", fails_with(G V "limit as 99999999999999G\n",
	    "must be between"));
	CHECK("limit dup", fails(G V "limit cpu 1\nlimit cpu 2\n",
	    "itkd.conf:10: limit: cpu given twice"));
	CHECK("vhost max-clients", loads(&cfg, G V "max-clients 3\n") &&
	    cfg.vhosts[0].max_clients == 3 && cfg.max_clients == 256);
	config_free(&cfg);
}

static void
test_lookup(void)
{
	struct config cfg;
	const struct vhost *v0, *v1, *v2, *v3;

#define ID "user #61001\ngroup #61001\n"
	if (!loads(&cfg, G "vhost example.com www.example.com\nroot /srv/0\n" ID
	    "vhost *.example.org\nroot /srv/1\n" ID
	    "vhost *.a.example.org\nroot /srv/2\n" ID
	    "vhost other.test\nroot /srv/3\n" ID)) {
#undef ID
		CHECK("lookup config", 0);
		return;
	}
	v0 = &cfg.vhosts[0];
	v1 = &cfg.vhosts[1];
	v2 = &cfg.vhosts[2];
	v3 = &cfg.vhosts[3];
	CHECK("lookup exact", vhost_find(&cfg, "example.com") == v0 &&
	    vhost_find(&cfg, "other.test") == v3);
	CHECK("lookup alias", vhost_match(&cfg, "www.example.com") == v0);
	CHECK("lookup unanchored pattern bug", vhost_match(&cfg,
	    "evil-example.com") == NULL && vhost_match(&cfg, "wwwexample.com") == NULL);
	CHECK("lookup unknown gives default", vhost_find(&cfg, "evil-example.com") == v0 &&
	    vhost_find(&cfg, "nothing.test") == v0);
	CHECK("lookup wildcard", vhost_match(&cfg, "a.example.org") == v1 &&
	    vhost_match(&cfg, "x.b.example.org") == v1);
	CHECK("lookup longest wildcard", vhost_match(&cfg, "b.a.example.org") == v2 &&
	    vhost_match(&cfg, "c.b.a.example.org") == v2);
	CHECK("lookup wildcard not bare", vhost_match(&cfg, "example.org") == NULL &&
	    vhost_match(&cfg, ".example.org") == NULL);
	CHECK("lookup wildcard anchored", vhost_match(&cfg, "evil-example.org") == NULL &&
	    vhost_match(&cfg, "example.org.evil.test") == NULL);
	CHECK("lookup empty host", vhost_match(&cfg, "") == NULL &&
	    vhost_find(&cfg, "") == v0 && vhost_find(&cfg, NULL) == v0);
	CHECK("lookup case", vhost_match(&cfg, "OTHER.test") == v3);
	config_free(&cfg);
	CHECK("lookup empty config", vhost_find(&cfg, "a") == NULL &&
	    vhost_match(&cfg, "a") == NULL);
}

static void
test_file(void)
{
	struct config cfg;
	char path[] = "/tmp/itkd-unit-conf-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	long i;

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		CHECK("file temp", 0);
		return;
	}
	fputs(G V "nice x\n", f);
	fflush(f);
	CHECK("file error names path", config_load(&cfg, path, err, sizeof err) < 0 &&
	    strncmp(err, path, strlen(path)) == 0 &&
	    strcmp(err + strlen(path), ":9: nice: 'x' is not a number") == 0 &&
	    empty(&cfg));
	rewind(f);
	ftruncate(fd, 0);
	fputs(G V, f);
	fflush(f);
	CHECK("file loads", config_load(&cfg, path, err, sizeof err) == 0 &&
	    strcmp(cfg.path, path) == 0 && cfg.nvhosts == 1);
	config_free(&cfg);
	for (i = 0; i < CONF_FILE_MAX / 8 + 1; i++)
		fputs("#######\n", f);
	fflush(f);
	CHECK("file too large", config_load(&cfg, path, err, sizeof err) < 0 &&
	    strstr(err, "larger than") && empty(&cfg));
	fclose(f);
	unlink(path);
	CHECK("example config loads", config_load(&cfg, "conf/itkd.conf.example",
	    err, sizeof err) == 0 && cfg.nvhosts == 2 && cfg.nlisten == 2 &&
	    cfg.vhosts[0].ncgi == 2 && cfg.vhosts[1].uid == 1002);
	if (cfg.nvhosts == 0)
		printf("# %s\n", err);
	config_free(&cfg);
	CHECK("file missing", config_load(&cfg, "/nonexistent/itkd.conf", err,
	    sizeof err) < 0 && strcmp(err, "/nonexistent/itkd.conf: No such file "
	    "or directory") == 0 && empty(&cfg));
}

/* cgi-env NAME VALUE: stored as NAME=VALUE; names checked; never one of
 * the meta-variables itkd sets per request. */
static void
test_cgi_env(void)
{
	static const char *const reserved[] = {
		"REQUEST_METHOD", "QUERY_STRING", "SCRIPT_NAME", "PATH_INFO",
		"REMOTE_ADDR", "CONTENT_LENGTH", "CONTENT_TYPE", "AUTH_TYPE",
		"REMOTE_USER", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
		"SERVER_SOFTWARE", "GATEWAY_INTERFACE", "PATH_TRANSLATED",
		"REMOTE_HOST", "REMOTE_IDENT", "REQUEST_URI", "SCRIPT_FILENAME",
		"DOCUMENT_ROOT", "REMOTE_PORT", "HTTPS", "REDIRECT_STATUS",
		"HTTP_PROXY", "HTTP_HOST", "HTTP_", "http_cookie", "Request_Method",
	};
	static char big[3 * 8192];
	char text[512], want[512];
	struct config cfg;
	size_t i, n;
	int all = 1;

	CHECK("cgi-env loads", load(&cfg, G V "cgi-env GITWEB_CONFIG /etc/gitweb.conf\n"
	    "cgi-env CGIT_CONFIG \"/srv/cgit rc\"\ncgi-env PATH /opt/git/bin:/usr/bin\n"
	    "cgi-env EMPTY \"\"\ncgi-env _x9 \"a=b; c\"\n") == 0 &&
	    cfg.vhosts[0].ncgi_env == 5 &&
	    strcmp(cfg.vhosts[0].cgi_env[0], "GITWEB_CONFIG=/etc/gitweb.conf") == 0 &&
	    strcmp(cfg.vhosts[0].cgi_env[1], "CGIT_CONFIG=/srv/cgit rc") == 0 &&
	    strcmp(cfg.vhosts[0].cgi_env[2], "PATH=/opt/git/bin:/usr/bin") == 0 &&
	    strcmp(cfg.vhosts[0].cgi_env[3], "EMPTY=") == 0 &&
	    strcmp(cfg.vhosts[0].cgi_env[4], "_x9=a=b; c") == 0);
	if (cfg.vhosts != NULL)
		config_free(&cfg);
	CHECK("cgi-env per vhost", load(&cfg, G V "cgi-env A 1\n"
	    "vhost b.test\nroot /srv/b\nuser #61002\ngroup #61002\ncgi-env A 2\n") == 0 &&
	    strcmp(cfg.vhosts[0].cgi_env[0], "A=1") == 0 &&
	    strcmp(cfg.vhosts[1].cgi_env[0], "A=2") == 0 &&
	    cfg.vhosts[0].ncgi_env == 1 && cfg.vhosts[1].ncgi_env == 1);
	if (cfg.vhosts != NULL)
		config_free(&cfg);
	for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		snprintf(text, sizeof text, G V "cgi-env %s x\n", reserved[i]);
		snprintf(want, sizeof want, "itkd.conf:9: cgi-env: '%s' is a CGI "
		    "meta-variable that itkd sets for each request; it cannot be "
		    "overridden", reserved[i]);
		if (!fails(text, want)) {
			printf("# %s\n", reserved[i]);
			all = 0;
		}
	}
	CHECK("cgi-env meta-variables refused at file:line", all);
	CHECK("cgi-env name with =", fails(G V "cgi-env A=B x\n",
	    "itkd.conf:9: cgi-env: 'A=B' is not a variable name (letters, "
	    "digits and '_', not a digit first, at most 128)"));
	CHECK("cgi-env name digit first", fails_with(G V "cgi-env 9A x\n",
	    "'9A' is not a variable name"));
	CHECK("cgi-env name dash", fails_with(G V "cgi-env A-B x\n",
	    "'A-B' is not a variable name"));
	CHECK("cgi-env name empty", fails_with(G V "cgi-env \"\" x\n",
	    "'' is not a variable name"));
	CHECK("cgi-env name blank", fails_with(G V "cgi-env \"A B\" x\n",
	    "'A B' is not a variable name"));
	CHECK("cgi-env name utf-8", fails_with(G V "cgi-env \xc3\x89T x\n",
	    "is not a variable name"));
	CHECK("cgi-env one word", fails(G V "cgi-env A\n",
	    "itkd.conf:9: usage: cgi-env NAME VALUE"));
	CHECK("cgi-env three words", fails(G V "cgi-env A b c\n",
	    "itkd.conf:9: usage: cgi-env NAME VALUE"));
	CHECK("cgi-env twice", fails(G V "cgi-env A 1\ncgi-env B 2\ncgi-env A 3\n",
	    "itkd.conf:11: cgi-env: 'A' given twice"));
	CHECK("cgi-env global refused", fails(G "cgi-env A 1\n" V,
	    "itkd.conf:5: 'cgi-env' is a vhost directive: it belongs after a "
	    "'vhost' line"));
	n = (size_t)snprintf(big, sizeof big, G V);
	for (i = 0; i <= VHOST_CGIENV_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "cgi-env V%zu x\n", i);
	CHECK("cgi-env at most 32", fails(big,
	    "itkd.conf:41: cgi-env: at most 32 variables"));
	/* Lines are 8 KiB at most: three of 6,000 bytes pass the bound. */
	n = (size_t)snprintf(big, sizeof big, G V);
	for (i = 0; i < 3; i++) {
		n += (size_t)snprintf(big + n, sizeof big - n, "cgi-env B%zu ", i);
		memset(big + n, 'v', 6000);
		n += 6000;
		n += (size_t)snprintf(big + n, sizeof big - n, "\n");
	}
	CHECK("cgi-env bytes bounded", fails(big,
	    "itkd.conf:11: cgi-env: at most 16384 bytes of NAME=VALUE in all"));
}

/* auth, allow, redirect: what loads, and each error with its line. */
static void
test_access_directives(void)
{
	struct config cfg;
	const struct vhost *vh;

	CHECK("auth", loads(&cfg, G V "auth /admin/ \"Admin area\" /srv/a/.htpasswd\n"
	    "auth / Site /etc/itkd/site.pw\n") &&
	    (vh = &cfg.vhosts[0])->nauth == 2 &&
	    strcmp(vh->auth[0].prefix, "/admin") == 0 &&
	    strcmp(vh->auth[0].realm, "Admin area") == 0 &&
	    strcmp(vh->auth[0].file, "/srv/a/.htpasswd") == 0 &&
	    strcmp(vh->auth[1].prefix, "/") == 0);
	config_free(&cfg);
	CHECK("auth missing FILE", fails(G V "auth /admin Admin\n",
	    "itkd.conf:9: usage: auth PREFIX REALM FILE"));
	CHECK("auth bad prefix", fails(G V "auth admin Admin /pw\n",
	    "itkd.conf:9: auth: 'admin' is not a path prefix such as /admin"));
	CHECK("auth dot-dot prefix", fails(G V "auth /a/../b Admin /pw\n",
	    "itkd.conf:9: auth: '/a/../b' is not a path prefix such as /admin"));
	CHECK("auth realm with a quote", fails(G V "auth /a \"say \\\"hi\\\"\" /pw\n",
	    "itkd.conf:9: auth: a realm may not hold a quote, a backslash or "
	    "a control character"));
	CHECK("auth realm with a tab", fails(G V "auth /a \"a\tb\" /pw\n",
	    "itkd.conf:9: auth: a realm may not hold a quote, a backslash or "
	    "a control character"));
	CHECK("auth relative file", fails(G V "auth /a A pw\n",
	    "itkd.conf:9: auth: 'pw' is not an absolute path"));
	CHECK("auth prefix twice", fails(G V "auth /a A /pw\nauth /a/ B /pw\n",
	    "itkd.conf:10: auth: '/a/' given twice"));
	CHECK("auth global", fails(G "auth /a A /pw\n" V,
	    "itkd.conf:5: 'auth' is a vhost directive: it belongs after a "
	    "'vhost' line"));

	CHECK("allow", loads(&cfg, G V "allow /admin 192.168.1.0/24 ::1 "
	    "[fd00::]/8\nallow /admin/ 10.0.0.1 ::ffff:127.0.0.0/104\n") &&
	    (vh = &cfg.vhosts[0])->nallow == 1 &&
	    strcmp(vh->allow[0].prefix, "/admin") == 0 &&
	    vh->allow[0].nnets == 5 &&
	    vh->allow[0].nets[0].family == AF_INET &&
	    vh->allow[0].nets[0].prefix == 24 &&
	    vh->allow[0].nets[1].family == AF_INET6 &&
	    vh->allow[0].nets[1].prefix == 128 &&
	    vh->allow[0].nets[2].prefix == 8 &&
	    vh->allow[0].nets[4].family == AF_INET &&
	    vh->allow[0].nets[4].prefix == 8 &&
	    vh->allow[0].nets[4].addr[0] == 127);
	config_free(&cfg);
	CHECK("allow no address", fails(G V "allow /admin\n",
	    "itkd.conf:9: usage: allow PREFIX ADDR[/LEN]..."));
	CHECK("allow bad address", fails(G V "allow /a 10.0.0.256\n",
	    "itkd.conf:9: allow: '10.0.0.256' is not an address"));
	CHECK("allow bad length", fails(G V "allow /a ::1/129\n",
	    "itkd.conf:9: allow: '129' must be between 0 and 128"));
	CHECK("allow host bits", fails(G V "allow /a 10.1.0.0/8\n",
	    "itkd.conf:9: allow: '10.1.0.0/8' has bits set past /8"));
	CHECK("allow bad prefix", fails(G V "allow /a?b 10.0.0.0/8\n",
	    "itkd.conf:9: allow: '/a?b' is not a path prefix such as /admin"));

	CHECK("redirect https", loads(&cfg, G V "redirect https\n") &&
	    strcmp(cfg.vhosts[0].redirect, "https") == 0);
	config_free(&cfg);
	CHECK("redirect URL, trailing slash dropped", loads(&cfg, G V
	    "redirect https://example.org/\n") &&
	    strcmp(cfg.vhosts[0].redirect, "https://example.org") == 0);
	config_free(&cfg);
	CHECK("redirect URL with a path", loads(&cfg, G V
	    "redirect http://example.org/base//\n") &&
	    strcmp(cfg.vhosts[0].redirect, "http://example.org/base") == 0);
	config_free(&cfg);
	CHECK("redirect relative", fails(G V "redirect /elsewhere\n",
	    "itkd.conf:9: redirect: '/elsewhere' is not https or an "
	    "http(s)://HOST[/PATH] URL"));
	CHECK("redirect other scheme", fails(G V "redirect ftp://example.org\n",
	    "itkd.conf:9: redirect: 'ftp://example.org' is not https or an "
	    "http(s)://HOST[/PATH] URL"));
	CHECK("redirect no host", fails(G V "redirect https:///x\n",
	    "itkd.conf:9: redirect: 'https:///x' is not https or an "
	    "http(s)://HOST[/PATH] URL"));
	CHECK("redirect with a query", fails(G V "redirect https://e.org/?a=1\n",
	    "itkd.conf:9: redirect: 'https://e.org/?a=1' is not https or an "
	    "http(s)://HOST[/PATH] URL"));
	CHECK("redirect twice", fails(G V "redirect https\nredirect https\n",
	    "itkd.conf:10: 'redirect' given twice (first on line 9)"));
}

int
main(void)
{
	test_lexer();
	test_errors();
	test_identity();
	test_owner();
	test_global();
	test_vhost_directives();
	test_cgi_env();
	test_access_directives();
	test_lookup();
	test_file();
	return UNIT_END();
}
