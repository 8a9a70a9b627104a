/* tests/cross/init.c: PID 1 of the guest that scripts/check-cross boots
 * in qemu-system, one per target. It mounts what itkd needs, brings up lo,
 * starts /itkd with two vhosts under two uids, fetches a page of each over
 * a keep-alive connection, and while both connections are held open reads
 * /proc/PID/status of the processes serving them (the kernel's own account
 * of their uids, capabilities, no_new_privs and seccomp mode). Then it runs
 * /unit_priv and powers the machine off. Every line meant for the host
 * starts with "itkd-cross: "; the last is "itkd-cross: result ...".
 *
 * Built statically with the target's musl (build/static/T/bin/cc). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#define UID_USER 61000
#define UID_A    61001
#define UID_B    61002
#define PORT     8080
#define CONF     "/tmp/itkd.conf"

static int failed;

static void say(const char *, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {    /* never silently: the host counts on these lines */
		printf("itkd-cross: FAIL cannot format \"%s\"\n", fmt);
		fflush(stdout);
		failed = 1;
		return;
	}
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	printf("itkd-cross: %.*s\n", n, buf);
	fflush(stdout);
}

static void
fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("FAIL %s", buf);
	failed = 1;
}

/* Milliseconds: the musl of the static builds prints no floating point. */
static long
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
write_file(const char *path, const char *text, uid_t uid, mode_t mode)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    fchown(fd, uid, uid) < 0 || close(fd) < 0) {
		fail("write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
make_dir(const char *path, uid_t uid, mode_t mode)
{
	if ((mkdir(path, mode) < 0 && errno != EEXIST) ||
	    chown(path, uid, uid) < 0 || chmod(path, mode) < 0) {
		fail("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The kernel gives lo 127.0.0.1 as it comes up; the address is set as
 * well, for a kernel that would not. */
static int
loopback_up(void)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		goto err;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0 && errno != EEXIST)
		goto err;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto err;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		goto err;
	close(s);
	return 0;
err:
	fail("loopback: %s", strerror(errno));
	if (s >= 0)
		close(s);
	return -1;
}

static void
mounts(void)
{
	static const struct { const char *type, *dir; } m[] = {
		{ "proc", "/proc" }, { "sysfs", "/sys" },
		{ "devtmpfs", "/dev" }, { "tmpfs", "/tmp" },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (mkdir(m[i].dir, 0755) < 0 && errno != EEXIST)
			fail("mkdir %s: %s", m[i].dir, strerror(errno));
		else if (mount(m[i].type, m[i].dir, m[i].type, 0, NULL) < 0)
			fail("mount %s: %s", m[i].dir, strerror(errno));
	}
}

static int
setup_config(void)
{
	char conf[1024];

	if (make_dir("/tmp/srv", 0, 0755) < 0 ||
	    make_dir("/tmp/srv/a", UID_A, 0700) < 0 ||
	    make_dir("/tmp/srv/b", UID_B, 0700) < 0 ||
	    write_file("/tmp/srv/a/index.html", "<h1>a</h1>\n", UID_A, 0600) < 0 ||
	    write_file("/tmp/srv/b/index.html", "<h1>b</h1>\n", UID_B, 0600) < 0)
		return -1;
	snprintf(conf, sizeof(conf),
	    "listen 127.0.0.1:%d\n"
	    "user #%d\ngroup #%d\n"
	    "uid-range %d %d\ngid-range %d %d\n"
	    "error-log /tmp/error.log\n"
	    "timeout 60\n"
	    "vhost a.test\nroot /tmp/srv/a\nuser #%d\ngroup #%d\n"
	    "vhost b.test\nroot /tmp/srv/b\nuser #%d\ngroup #%d\n",
	    PORT, UID_USER, UID_USER, UID_A, 61999, UID_A, 61999,
	    UID_A, UID_A, UID_B, UID_B);
	return write_file(CONF, conf, 0, 0644);
}

/* Runs argv with its output on the console; its exit status, or -1. */
static pid_t
spawn(char *const argv[], int out)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (out >= 0 && (dup2(out, 1) < 0 || dup2(out, 2) < 0))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	return pid;
}

static int
reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static int
connect_local(void)
{
	struct sockaddr_in sin;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(PORT);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Waits for the listener: a connect that succeeds, within 60 s (slow
 * emulated machines need many). */
static int
wait_listening(pid_t itkd)
{
	long until = now() + 60000;
	int s, st;

	while (now() < until) {
		if ((s = connect_local()) >= 0) {
			close(s);
			return 0;
		}
		if (waitpid(itkd, &st, WNOHANG) == itkd) {
			fail("itkd exited before listening (status 0x%x)", st);
			return -1;
		}
		usleep(20000);
	}
	fail("itkd not listening on 127.0.0.1:%d after 60 s", PORT);
	return -1;
}

/* One GET over a new connection, left open (HTTP/1.1 keep-alive): the
 * socket, or -1 when the answer was not 200 with the vhost's page. */
static int
fetch(const char *host, const char *want)
{
	char req[128], buf[2048];
	struct timeval tv = { 30, 0 };
	size_t len = 0;
	ssize_t n;
	int s = connect_local();

	buf[0] = '\0';
	if (s < 0) {
		fail("connect for %s: %s", host, strerror(errno));
		return -1;
	}
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    write(s, req, strlen(req)) != (ssize_t)strlen(req))
		goto err;
	while (len < sizeof(buf) - 1 && strstr(buf, want) == NULL) {
		if ((n = read(s, buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || strstr(buf, want) == NULL) {
		errno = 0;
		goto err;
	}
	say("fetch %s: 200 with \"%.*s\"", host, (int)strcspn(want, "\n"), want);
	return s;
err:
	fail("fetch %s: %s [%.*s]", host, errno ? strerror(errno) : "bad answer",
	    (int)strcspn(buf, "\r\n"), len ? buf : "");
	close(s);
	return -1;
}

/* The value of "Key:" in a status file's text, tabs made spaces. */
static int
field(const char *status, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = status;
	size_t n;

	while (p != NULL && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			p += strspn(p, " \t");
			n = strcspn(p, "\n");
			while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			for (n = 0; out[n]; n++)
				if (out[n] == '\t')
					out[n] = ' ';
			return 0;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	out[0] = '\0';
	return -1;
}

static int
read_status(const char *pid, char *buf, size_t len)
{
	char path[300];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static const char *const keys[] = {
	"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
	"CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters",
};

/* Every process under a test uid, its lines printed; for vhost uids,
 * whether one of them holds exactly that uid and gid everywhere, no
 * capability, no_new_privs and a seccomp filter. */
static void
serving_status(void)
{
	char status[4096], v[16][128], ids[64], line[1024];
	int good[2] = { 0, 0 };
	struct dirent *d;
	DIR *dir = opendir("/proc");
	unsigned uid;
	size_t i, n;
	int k;

	if (dir == NULL) {
		fail("/proc: %s", strerror(errno));
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9' ||
		    read_status(d->d_name, status, sizeof(status)) < 0)
			continue;
		if (field(status, "Uid", v[0], sizeof(v[0])) < 0 ||
		    sscanf(v[0], "%u", &uid) != 1 || uid < UID_USER || uid > 61999)
			continue;
		n = 0;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			field(status, keys[i], v[i], sizeof(v[i]));
			k = snprintf(line + n, sizeof(line) - n, "%s%s: %s",
			    i ? ", " : "", keys[i], v[i]);
			if (k > 0 && (size_t)k < sizeof(line) - n)
				n += (size_t)k;
		}
		say("status pid %s uid %u: %s", d->d_name, uid, line);
		if (uid != UID_A && uid != UID_B)
			continue;
		snprintf(ids, sizeof(ids), "%u %u %u %u", uid, uid, uid, uid);
		if (strcmp(v[0], ids) == 0 && strcmp(v[1], ids) == 0 &&
		    strtoull(v[3], NULL, 16) == 0 && strtoull(v[4], NULL, 16) == 0 &&
		    strtoull(v[5], NULL, 16) == 0 && strtoull(v[7], NULL, 16) == 0 &&
		    strcmp(v[8], "1") == 0 && strcmp(v[9], "2") == 0)
			good[uid - UID_A] = 1;
	}
	closedir(dir);
	for (k = 0; k < 2; k++)
		if (!good[k])
			fail("no process serving vhost %c as uid %d with caps 0, "
			    "NoNewPrivs 1, Seccomp 2", 'a' + k, UID_A + k);
}

/* unit_priv's lines go to the console as they come, counted. */
static void
run_unit_priv(void)
{
	char *argv[] = { "/unit_priv", NULL };
	char line[1024];
	int p[2], ok = 0, bad = 0, skip = 0, rc;
	FILE *f;
	pid_t pid;

	if (access(argv[0], X_OK) < 0) {
		fail("unit_priv: %s", strerror(errno));
		return;
	}
	if (pipe(p) < 0 || (pid = spawn(argv, p[1])) < 0) {
		fail("unit_priv: %s", strerror(errno));
		return;
	}
	close(p[1]);
	if ((f = fdopen(p[0], "r")) == NULL) {
		fail("unit_priv: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		say("unit_priv: %s", line);
		ok += strncmp(line, "ok ", 3) == 0;
		bad += strncmp(line, "FAIL ", 5) == 0;
		skip += strncmp(line, "skip ", 5) == 0;
	}
	fclose(f);
	rc = reap(pid);
	say("unit_priv: %d ok, %d failed, %d skipped, exit %d", ok, bad, skip, rc);
	if (rc != 0 || bad != 0 || ok == 0)
		fail("unit_priv");
}

static void
serve_two_vhosts(void)
{
	char *check[] = { "/itkd", "-t", "-c", CONF, NULL };
	char *run[] = { "/itkd", "-f", "-c", CONF, NULL };
	int a = -1, b = -1, rc;
	pid_t itkd;
	long t0 = now();

	if (setup_config() < 0)
		return;
	if ((rc = reap(spawn(check, -1))) != 0) {
		fail("itkd -t exited %d", rc);
		return;
	}
	if ((itkd = spawn(run, -1)) < 0)
		return;
	if (wait_listening(itkd) == 0) {
		say("itkd listening after %ld ms", now() - t0);
		a = fetch("a.test", "<h1>a</h1>\n");
		b = fetch("b.test", "<h1>b</h1>\n");
		/* Both connections open: their processes are still there. */
		serving_status();
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (kill(itkd, SIGTERM) < 0 || (rc = reap(itkd)) < 0)
		fail("stopping itkd: %s", strerror(errno));
}

/* Where get_robust_list is missing (qemu-user), musl refuses the robust
 * mutex of the TLS session cache: itkd must name that, not fail vaguely.
 * A filter answers ENOSYS to get_robust_list for a second itkd, whose
 * first words on stderr are checked. */
static void
robust_list_missing(void)
{
	struct sock_filter insn[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_get_robust_list, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(insn) / sizeof(insn[0]), insn };
	char *run[] = { "/itkd", "-f", "-c", CONF, NULL };
	struct pollfd pfd;
	char out[1024];
	size_t len = 0;
	ssize_t n;
	int p[2], rc;
	pid_t pid;

	if (pipe(p) < 0) {
		fail("robust-list: pipe: %s", strerror(errno));
		return;
	}
	if ((pid = fork()) == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(125);
		if (dup2(p[1], 2) < 0)
			_exit(126);
		execv(run[0], run);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		fail("robust-list: fork: %s", strerror(errno));
		return;
	}
	/* itkd exits at once here; a kill ends one that would serve. */
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (len < sizeof(out) - 1 && poll(&pfd, 1, 30000) == 1 &&
	    (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	kill(pid, SIGTERM);
	rc = reap(pid);
	out[strcspn(out, "\n")] = '\0';
	if (rc != 1 || strstr(out, "get_robust_list") == NULL)
		fail("robust-list: itkd without get_robust_list: exit %d: %s", rc, out);
	else
		say("robust-list: itkd without get_robust_list: exit %d: %s", rc, out);
}

static void
show_log(void)
{
	char line[512];
	FILE *f = fopen("/tmp/error.log", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		say("error.log: %s", line);
	}
	if (f != NULL)
		fclose(f);
}

int
main(void)
{
	struct utsname u;
	long t0 = now();

	mounts();
	if (uname(&u) == 0)
		say("kernel %s %s %s", u.sysname, u.release, u.machine);
	if (loopback_up() == 0) {
		serve_two_vhosts();
		robust_list_missing();
	}
	if (failed)
		show_log();
	run_unit_priv();
	say("result %s (%ld ms in the guest)", failed ? "FAIL" : "ok", now() - t0);
	sync();
	if (getpid() == 1)
		reboot(RB_POWER_OFF);
	return failed;
}
