/* tests/unit_path.c: path_normalise and path_resolve (in a temp dir). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "path.h"
#include "vhost.h"
#include "unit.h"

static char out[PATH_MAX];

/* 1 if raw normalises to want (want NULL: to 400). */
static int
norm(const char *raw, const char *want)
{
	static char in_place[PATH_MAX];
	int rc = path_normalise(out, sizeof(out), raw), rc2;

	/* The same in place, with no byte of room to spare (serve.c's way). */
	snprintf(in_place, sizeof(in_place), "%s", raw);
	rc2 = path_normalise(in_place, strlen(in_place) + 1, in_place);
	if (want == NULL)
		return rc == 400 && rc2 == 400;
	if (rc != 0 || strcmp(out, want) != 0 || rc2 != 0 ||
	    strcmp(in_place, want) != 0) {
		printf("  # %s -> %d \"%s\" (in place %d \"%s\"), want \"%s\"\n",
		    raw, rc, out, rc2, in_place, want);
		return 0;
	}
	return 1;
}

static void
normalise_tests(void)
{
	char small[8];
	char big[PATH_MAX + 16];

	CHECK("norm_root", norm("/", "/"));
	CHECK("norm_plain", norm("/a/b.html", "/a/b.html"));
	CHECK("norm_trailing_slash_kept", norm("/a/b/", "/a/b/"));
	CHECK("norm_double_slash", norm("//", "/"));
	CHECK("norm_many_slashes", norm("//a///b//", "/a/b/"));
	CHECK("norm_dot", norm("/a/./b", "/a/b"));
	CHECK("norm_dot_end", norm("/a/.", "/a/"));
	CHECK("norm_only_dot", norm("/.", "/"));
	CHECK("norm_dotdot", norm("/a/../b", "/b"));
	CHECK("norm_dotdot_end", norm("/a/b/..", "/a/"));
	CHECK("norm_dotdot_to_root", norm("/a/b/../..", "/"));
	CHECK("norm_above_root", norm("/..", NULL));
	CHECK("norm_above_root_slash", norm("/../", NULL));
	CHECK("norm_above_root_later", norm("/a/../../b", NULL));
	CHECK("norm_above_root_deep", norm("/a/b/../../..", NULL));
	CHECK("norm_three_dots_is_name", norm("/.../x", "/.../x"));
	CHECK("norm_dotdot_prefix_is_name", norm("/..a/b..", "/..a/b.."));
	CHECK("norm_dotfile", norm("/.well-known/x", "/.well-known/x"));
	CHECK("norm_enc_dots_above", norm("/%2e%2e/etc/passwd", NULL));
	CHECK("norm_enc_dots_upper", norm("/%2E%2E/x", NULL));
	CHECK("norm_enc_dots_mixed", norm("/.%2e/x", NULL));
	CHECK("norm_enc_dots_inside", norm("/a/%2e%2e/b", "/b"));
	CHECK("norm_enc_dot", norm("/a/%2e/b", "/a/b"));
	CHECK("norm_enc_slash_dots", norm("/a%2f..%2f..%2fb", NULL));
	CHECK("norm_enc_slash", norm("/a%2Fb", "/a/b"));
	CHECK("norm_double_enc_stays", norm("/%252e%252e/x", "/%2e%2e/x"));
	CHECK("norm_double_enc_cgi", norm("/cgi-bin/%252e%252e/%252e%252e/bin/sh",
	    "/cgi-bin/%2e%2e/%2e%2e/bin/sh"));
	CHECK("norm_backslash_raw", norm("/a\\..\\b", NULL));
	CHECK("norm_backslash_enc", norm("/a%5c..%5Cb", NULL));
	CHECK("norm_nul_enc", norm("/a%00.html", NULL));
	CHECK("norm_ctl_enc_lf", norm("/a%0ab", NULL));
	CHECK("norm_ctl_enc_1f", norm("/a%1fb", NULL));
	CHECK("norm_del_enc", norm("/a%7fb", NULL));
	CHECK("norm_ctl_raw_tab", norm("/a\tb", NULL));
	CHECK("norm_del_raw", norm("/a\x7f", NULL));
	CHECK("norm_bad_escape", norm("/a%zz", NULL));
	CHECK("norm_half_escape", norm("/a%4g", NULL));
	CHECK("norm_short_escape", norm("/a%2", NULL));
	CHECK("norm_bare_percent", norm("/%", NULL));
	/* Overlong UTF-8 for '.' is two opaque bytes, never a dot segment. */
	CHECK("norm_overlong_utf8", norm("/%c0%ae%c0%ae/x", "/\xc0\xae\xc0\xae/x"));
	CHECK("norm_overlong_utf8_3", norm("/%e0%80%ae%e0%80%ae/", "/\xe0\x80\xae\xe0\x80\xae/"));
	CHECK("norm_utf8_name", norm("/caf%C3%A9.txt", "/caf\xc3\xa9.txt"));
	CHECK("norm_space", norm("/a%20b", "/a b"));
	CHECK("norm_no_leading_slash", norm("a/b", NULL));
	CHECK("norm_empty", norm("", NULL));
	CHECK("norm_star", norm("*", NULL));
	CHECK("norm_cap_small", path_normalise(small, sizeof(small), "/abcdefgh") == 400);
	CHECK("norm_cap_fits", path_normalise(small, sizeof(small), "/abcdef") == 0 &&
	    strcmp(small, "/abcdef") == 0);
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	CHECK("norm_too_long", path_normalise(out, sizeof(out), big) == 400);
}

static char dir[] = "/tmp/unit_path.XXXXXX";
static char rootdir[64];

static void
put(const char *rel, const char *data, mode_t mode)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) < 0) {
		perror(p);
		exit(1);
	}
	close(fd);
	chmod(p, mode);
}

static void
sub(const char *rel, mode_t mode)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
	if (mkdir(p, mode) != 0) {
		perror(p);
		exit(1);
	}
}

static void
layout(void)
{
	char p[256];
	struct sockaddr_un sa;
	int s;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(rootdir, sizeof(rootdir), "%s/root", dir);
	mkdir(rootdir, 0755);
	put("index.html", "<h1>hi</h1>", 0644);
	sub("sub", 0755);
	put("sub/f.txt", "f", 0644);
	sub("alt", 0755);
	put("alt/index.php", "<?php", 0644);
	put("alt/index.htm", "htm", 0644);
	sub("alt/idxdir", 0755);
	put("x.cgi", "#!/bin/sh\n", 0755);
	sub("cgi-bin", 0755);
	put("cgi-bin/s", "#!/bin/sh\n", 0755);
	sub("cgi-bin/sub", 0755);
	sub("closed", 0000);
	put("secret.txt", "s", 0000);
	snprintf(p, sizeof(p), "%s/fifo", rootdir);
	mkfifo(p, 0644);
	snprintf(p, sizeof(p), "%s/link", rootdir);
	symlink("sub", p);
	snprintf(p, sizeof(p), "%s/dangling", rootdir);
	symlink("nowhere", p);
	snprintf(p, sizeof(p), "%s/devnull", rootdir);
	symlink("/dev/null", p);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", rootdir);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		perror("bind");
	close(s);
}

static void
cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void
resolve_tests(void)
{
	static char cgi_suffix[] = ".cgi", cgi_dir[] = "/cgi-bin/";
	static char idx_php[] = "index.php", idx_htm[] = "index.htm";
	struct vhost vh, vh2;
	struct path_res res;
	int rc;

	memset(&vh, 0, sizeof(vh));
	vh.cgi[0].suffix = cgi_suffix;
	vh.ncgi = 1;
	vh.cgi_dir[0] = cgi_dir;
	vh.ncgi_dir = 1;
	vh2 = vh;
	vh2.index[0] = idx_php;
	vh2.index[1] = idx_htm;
	vh2.nindex = 2;

	rc = path_resolve(&res, &vh, rootdir, "/");
	CHECK("res_index", rc == 0 && ends_with(res.fs, "/root/index.html") &&
	    strcmp(res.script_name, "/index.html") == 0 && !res.is_dir &&
	    res.cgi == NULL && S_ISREG(res.st.st_mode));
	rc = path_resolve(&res, &vh, rootdir, "/index.html");
	CHECK("res_file", rc == 0 && ends_with(res.fs, "/root/index.html") &&
	    res.st.st_size == 11 && res.cgi == NULL && !res.in_cgi_dir);
	{
		/* script_name is the end of fs past the root, slashes or not. */
		char slashed[PATH_MAX];

		snprintf(slashed, sizeof(slashed), "%s//", rootdir);
		rc = path_resolve(&res, &vh, slashed, "/sub/");
		CHECK("res_root_slashes_script_name", rc == 0 &&
		    strcmp(res.script_name, "/sub/") == 0 && ends_with(res.fs, "/root/sub/"));
	}
	CHECK("res_dir_no_slash_301", path_resolve(&res, &vh, rootdir, "/sub") == 301 &&
	    strcmp(res.script_name, "/sub") == 0);
	rc = path_resolve(&res, &vh, rootdir, "/sub/");
	CHECK("res_dir_listing", rc == 0 && res.is_dir && ends_with(res.fs, "/root/sub/") &&
	    strcmp(res.script_name, "/sub/") == 0);
	rc = path_resolve(&res, &vh2, rootdir, "/alt/");
	CHECK("res_index_list_order", rc == 0 && ends_with(res.fs, "/alt/index.php"));
	rc = path_resolve(&res, &vh2, rootdir, "/alt/idxdir/");
	CHECK("res_index_none_is_dir", rc == 0 && res.is_dir);
	CHECK("res_404", path_resolve(&res, &vh, rootdir, "/nope") == 404);
	CHECK("res_404_below_missing", path_resolve(&res, &vh, rootdir, "/nope/x") == 404);
	CHECK("res_404_file_as_dir", path_resolve(&res, &vh, rootdir, "/sub/f.txt/x") == 404);
	CHECK("res_404_file_slash", path_resolve(&res, &vh, rootdir, "/sub/f.txt/") == 404);
	rc = path_resolve(&res, &vh, rootdir, "/x.cgi/extra/path/");
	CHECK("res_path_info", rc == 0 && res.cgi == &vh.cgi[0] &&
	    strcmp(res.script_name, "/x.cgi") == 0 &&
	    strcmp(res.path_info, "/extra/path/") == 0 && ends_with(res.fs, "/root/x.cgi"));
	rc = path_resolve(&res, &vh, rootdir, "/x.cgi");
	CHECK("res_cgi_suffix", rc == 0 && res.cgi == &vh.cgi[0] && res.path_info[0] == '\0' &&
	    !res.in_cgi_dir);
	rc = path_resolve(&res, &vh, rootdir, "/cgi-bin/s/info");
	CHECK("res_cgi_dir_info", rc == 0 && res.in_cgi_dir && res.cgi == NULL &&
	    strcmp(res.script_name, "/cgi-bin/s") == 0 && strcmp(res.path_info, "/info") == 0);
	rc = path_resolve(&res, &vh, rootdir, "/cgi-bin/s");
	CHECK("res_cgi_dir", rc == 0 && res.in_cgi_dir);
	CHECK("res_cgi_dir_not_listed", path_resolve(&res, &vh, rootdir, "/cgi-bin/") == 403);
	CHECK("res_cgi_subdir_not_listed", path_resolve(&res, &vh, rootdir, "/cgi-bin/sub/") == 403);
	rc = path_resolve(&res, &vh, rootdir, "/sub/f.txt");
	CHECK("res_not_cgi_dir", rc == 0 && !res.in_cgi_dir && res.cgi == NULL);
	CHECK("res_fifo_403", path_resolve(&res, &vh, rootdir, "/fifo") == 403);
	{
		/* A root that is no directory: "/" is 403 (its own stat), a
		 * name below it 404 (ENOTDIR), a missing root 404. */
		char fileroot[PATH_MAX], gone[PATH_MAX];

		snprintf(fileroot, sizeof(fileroot), "%s/sub/f.txt", rootdir);
		snprintf(gone, sizeof(gone), "%s/no-such-root", rootdir);
		CHECK("res_root_is_file_slash_403", path_resolve(&res, &vh, fileroot, "/") == 403);
		CHECK("res_root_is_file_below_404", path_resolve(&res, &vh, fileroot, "/x") == 404);
		CHECK("res_root_missing_404", path_resolve(&res, &vh, gone, "/") == 404 &&
		    path_resolve(&res, &vh, gone, "/x") == 404);
	}
	CHECK("res_socket_403", path_resolve(&res, &vh, rootdir, "/sock") == 403);
	CHECK("res_device_403", path_resolve(&res, &vh, rootdir, "/devnull") == 403);
	rc = path_resolve(&res, &vh, rootdir, "/link/f.txt");
	CHECK("res_symlink_followed", rc == 0 && ends_with(res.fs, "/root/link/f.txt"));
	CHECK("res_symlink_dir_301", path_resolve(&res, &vh, rootdir, "/link") == 301);
	CHECK("res_dangling_404", path_resolve(&res, &vh, rootdir, "/dangling") == 404);
	CHECK("res_unnormalised_404", path_resolve(&res, &vh, rootdir, "/sub/../index.html") == 404);
	CHECK("res_missing_root_404", path_resolve(&res, &vh, "/nonexistent/itkd", "/") == 404);
	rc = path_resolve(&res, NULL, rootdir, "/x.cgi/info");
	CHECK("res_no_vhost_no_scripts", rc == 404);
	if (geteuid() != 0) {
		CHECK("res_eacces_403", path_resolve(&res, &vh, rootdir, "/closed/x") == 403);
	} else {
		printf("skip res_eacces_403: root bypasses permissions\n");
	}
	/* The mode of a file is open()'s business; resolving it still works. */
	rc = path_resolve(&res, &vh, rootdir, "/secret.txt");
	CHECK("res_unreadable_file_found", rc == 0);
}

int
main(void)
{
	normalise_tests();
	layout();
	resolve_tests();
	cleanup();
	return UNIT_END();
}
