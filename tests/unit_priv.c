/* tests/unit_priv.c: the privilege steps, checked against the kernel.
 *
 * Needs root. Each scenario runs in a forked child (a process cannot get
 * its privileges back, so each starts from a fresh copy of ours); the
 * child writes "ok NAME"/"FAIL NAME: ..." lines into a pipe and the parent
 * prints them. What the child is, is read from /proc/self/status, which
 * priv.c itself never reads: the two must agree. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "vhost.h"
#include "unit.h"

/* The test ids: ITKD_TEST_UID_BASE moves them all (default 61000), as it
 * does the integration tests', so the suite can run beside anything else
 * that uses these numbers. */
static uid_t uid_base = 61000;
#define UID_USER  (uid_base + 0)
#define UID_A     (uid_base + 1)
#define UID_B     (uid_base + 2)
#define GID_EXTRA (uid_base + 5)
#define RANGE_MIN (uid_base - 1000)     /* uid-range and gid-range: 5 and ID_OUT are out */
#define RANGE_MAX (uid_base + 999)
#define ID_OUT    (uid_base + 9000)

/* ---- log_error: the test's own, so priv.o links alone; every line goes
 * to stderr and into a buffer the checks can search. */

static char logbuf[16384];
static size_t loglen;

void
log_error(const struct vhost *vh, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)vh;
	va_start(ap, fmt);
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	fprintf(stderr, "log: %s\n", logbuf + loglen);
	loglen += (size_t)n < sizeof(logbuf) - loglen ? (size_t)n : 0;
	if (loglen + 1 < sizeof(logbuf))
		logbuf[loglen++] = '\n';
	logbuf[loglen] = '\0';
}

/* ---- reporting from a child through a pipe */

static int report_fd = -1;

static void
report(const char *name, int cond, const char *expr, int line)
{
	char buf[512];
	int n;

	if (cond)
		n = snprintf(buf, sizeof(buf), "ok %s\n", name);
	else
		n = snprintf(buf, sizeof(buf), "FAIL %s: %s:%d: %s (errno %d)\n",
		    name, __FILE__, line, expr, errno);
	if (n > 0 && write(report_fd, buf, (size_t)n) < 0)
		_exit(3);
}

#define T(name, expr) report((name), (expr) != 0, #expr, __LINE__)

static void
skip_line(const char *name, const char *why)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "skip %s: %s\n", name, why);

	if (n > 0 && write(report_fd, buf, (size_t)n) < 0)
		_exit(3);
}

static void
scenario(const char *name, void (*fn)(void))
{
	char buf[8192], *line, *save;
	size_t len = 0;
	ssize_t r;
	int p[2], st;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(p) < 0 || (pid = fork()) < 0) {
		CHECK(name, !"pipe/fork");
		return;
	}
	if (pid == 0) {
		close(p[0]);
		report_fd = p[1];
		fn();
		_exit(0);
	}
	close(p[1]);
	while (len < sizeof(buf) - 1 &&
	    (r = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		printf("%s\n", line);
		if (strncmp(line, "ok ", 3) != 0 && strncmp(line, "skip ", 5) != 0)
			unit_failed = 1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("FAIL %s: child %s %d\n", name,
		    WIFSIGNALED(st) ? "killed by signal" : "exited",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		unit_failed = 1;
	}
}

/* ---- the config, built by hand */

static struct vhost vh[2];
static struct config cfg;

static void
config_setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(vh, 0, sizeof(vh));
	cfg.uid = UID_USER;
	cfg.gid = UID_USER;
	cfg.uid_min = cfg.gid_min = RANGE_MIN;
	cfg.uid_max = cfg.gid_max = RANGE_MAX;
	cfg.vhosts = vh;
	cfg.nvhosts = 2;
	vh[0].pos = 0;
	vh[0].uid = vh[0].gid = UID_A;
	vh[0].groups[0] = UID_A;
	vh[0].groups[1] = GID_EXTRA;
	vh[0].ngroups = 2;
	vh[0].no_new_privs = 1;
	vh[1].pos = 1;
	vh[1].uid = vh[1].gid = UID_B;
	vh[1].groups[0] = UID_B;
	vh[1].ngroups = 1;
	vh[1].no_new_privs = 0;
}

/* ---- /proc/self/status, the kernel's own account (or another process's,
 * status_pid, when the one to look at can no longer open a file) */

static pid_t status_pid;

/* As priv.c decides whether the gatekeeper gets its allow-list. */
#if defined(__SANITIZE_ADDRESS__)
#define GATE_FILTER_EXPECTED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GATE_FILTER_EXPECTED 0
#endif
#endif
#ifndef GATE_FILTER_EXPECTED
#define GATE_FILTER_EXPECTED 1
#endif

static int
status_field(const char *key, char *out, size_t outlen)
{
	char line[512], path[64];
	size_t klen = strlen(key);
	FILE *f;

	if (status_pid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/status", (long)status_pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			char *v = line + klen + 1;
			v += strspn(v, "\t ");
			v[strcspn(v, "\n")] = '\0';
			while (*v && v[strlen(v) - 1] == ' ')
				v[strlen(v) - 1] = '\0';
			snprintf(out, outlen, "%s", v);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static int
status_is(const char *key, const char *want)
{
	char v[512];

	if (!status_field(key, v, sizeof(v)))
		return 0;
	if (strcmp(v, want) != 0) {
		fprintf(stderr, "%s: got '%s', want '%s'\n", key, v, want);
		return 0;
	}
	return 1;
}

static int
ids4_are(const char *key, unsigned id)
{
	char want[64];

	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", id, id, id, id);
	return status_is(key, want);
}

static int
mask_is(const char *key, unsigned long long m)
{
	char want[32];

	snprintf(want, sizeof(want), "%016llx", m);
	return status_is(key, want);
}

/* Groups: as a set; /proc prints them sorted, blank separated. */
static int
groups_are(const gid_t *g, int n)
{
	char v[512], *tok, *save;
	int count = 0, i, hit;

	if (!status_field("Groups", v, sizeof(v)))
		return 0;
	for (tok = strtok_r(v, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		count++;
		for (hit = 0, i = 0; i < n; i++)
			hit |= (gid_t)strtoul(tok, NULL, 10) == g[i];
		if (!hit)
			return 0;
	}
	return count == n;
}

/* ---- syscalls the filter must refuse, or kill for */

static int
eperm(long rc)
{
	return rc == -1 && errno == EPERM;
}

static int
setgroups_65(void)
{
	gid_t g[65];
	int i;

	for (i = 0; i < 65; i++)
		g[i] = UID_A;
	return eperm(setgroups(65, g));
}

#ifdef __x86_64__
#ifndef __X32_SYSCALL_BIT               /* musl's headers do not define it */
#define __X32_SYSCALL_BIT 0x40000000
#endif

static void
x32_getpid(void)
{
	syscall(__X32_SYSCALL_BIT + __NR_getpid);
}

static void
i386_getpid(void)
{
	long ret;

	/* Where the kernel has no IA32 emulation the call faults: die of it
	 * quietly (a sanitizer build would report its SIGSEGV as a bug). */
	signal(SIGSEGV, SIG_DFL);
	/* 20 is getpid in the i386 table. */
	__asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20L)
	    : "memory", "r8", "r9", "r10", "r11");
	if (ret != (long)getpid())
		_exit(2);
}

/* Whether this kernel runs i386 system calls (int $0x80) at all, found
 * once in main() before any filter: without IA32 emulation (not built in,
 * or ia32_emulation=0 on the kernel command line) `int $0x80` faults
 * whatever a filter says, and the checks that the filter kills it have
 * nothing to show: they skip, naming this control. */
static int ia32_works;
#endif

#define IA32_SKIP "this kernel runs no i386 system calls (the control " \
	"'priv control i386 getpid works without filter' faults): nothing to kill"

/* Run fn in a grandchild: 0 exited 0, else the killing signal (or 100+exit). */
static int
in_grandchild(void (*fn)(void))
{
	struct rlimit nocore = { 0, 0 };
	int st;
	pid_t p = fork();

	if (p == 0) {
		setrlimit(RLIMIT_CORE, &nocore);
		fn();
		_exit(0);
	}
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -1;
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	return WEXITSTATUS(st) ? 100 + WEXITSTATUS(st) : 0;
}

static void
to_uid_b(void)
{
	if (setresuid(UID_B, UID_B, UID_B) < 0)
		_exit(1);
}

/* ---- scenarios */

#define CAPBIT(c) (1ULL << (c))
#define MONITOR_CAPS (CAPBIT(CAP_SETUID) | CAPBIT(CAP_SETGID))

static unsigned long long
proc_mask(const char *key)
{
	char v[64];

	return status_field(key, v, sizeof(v)) ? strtoull(v, NULL, 16) : ~0ULL;
}

/* CAP_c into inheritable, then ambient (it must be permitted and
 * inheritable first). */
static int
raise_ambient(cap_value_t c)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (capget(&hdr, d) < 0)
		return -1;
	d[c / 32].inheritable |= 1u << (c % 32);
	if (capset(&hdr, d) < 0)
		return -1;
	return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
}

static void
sc_master_and_monitor(void)
{
	unsigned long long want = CAPBIT(CAP_SETUID) | CAPBIT(CAP_SETGID) |
	    CAPBIT(CAP_KILL) | CAPBIT(CAP_NET_BIND_SERVICE) |
	    CAPBIT(CAP_SETPCAP) | CAPBIT(CAP_SYS_NICE);
	unsigned long long bnd_before = proc_mask("CapBnd");
	char expect[512];

	want &= proc_mask("CapPrm");
	/* Controls: without the filter, foreign ABIs are no crime. */
#ifdef __x86_64__
	T("priv control x32 not killed without filter", in_grandchild(x32_getpid) == 0);
	if (ia32_works)
		T("priv control i386 getpid works without filter", 1);
	else
		skip_line("priv control i386 getpid works without filter",
		    "int $0x80 faults here even without a filter: no IA32 emulation");
#endif

	/* An ambient capability, as a parent process could hand down: the
	 * master must leave none to its children (stage 2 relies on it). */
	T("priv control ambient raised", raise_ambient(CAP_NET_BIND_SERVICE) == 0 &&
	    (proc_mask("CapAmb") & CAPBIT(CAP_NET_BIND_SERVICE)) != 0);
	T("priv control other groups before the master",
	    setgroups(2, (gid_t[]){ 0, GID_EXTRA }) == 0 &&
	    groups_are((gid_t[]){ 0, GID_EXTRA }, 2));
	priv_trace_on = 1;
	T("priv master returns 0", priv_master(&cfg) == 0);
	T("priv master Seccomp 2", status_is("Seccomp", "2"));
	T("priv master still uid 0", ids4_are("Uid", 0));
	T("priv master CapPrm cut", mask_is("CapPrm", want));
	T("priv master CapEff cut", mask_is("CapEff", want));
	T("priv master CapInh 0", mask_is("CapInh", 0));
	T("priv master CapBnd emptied", bnd_before != 0 && mask_is("CapBnd", 0));
	T("priv master CapAmb 0", mask_is("CapAmb", 0));
	T("priv master keepcaps on (for the monitor)",
	    prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
	T("priv master Groups: the global group alone (for the monitor)",
	    groups_are((gid_t[]){ UID_USER }, 1));
	T("priv master trace", strstr(logbuf, "priv: master: uid=0/0/0/0 ") != NULL);

	T("priv monitor returns 0", priv_monitor(&cfg) == 0);
	T("priv monitor Uid 0", ids4_are("Uid", 0));
	T("priv monitor Gid 0", ids4_are("Gid", 0));
	T("priv monitor Groups", groups_are((gid_t[]){ UID_USER }, 1));
	T("priv monitor CapPrm setuid+setgid", mask_is("CapPrm", MONITOR_CAPS));
	T("priv monitor CapEff setuid+setgid", mask_is("CapEff", MONITOR_CAPS));
	T("priv monitor CapInh 0", mask_is("CapInh", 0));
	T("priv monitor CapBnd 0", mask_is("CapBnd", 0));
	T("priv monitor CapAmb 0", mask_is("CapAmb", 0));
	T("priv monitor Seccomp 2", status_is("Seccomp", "2"));
	T("priv monitor NoNewPrivs 0", status_is("NoNewPrivs", "0"));
	T("priv monitor not dumpable", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	/* On: stage 2 leaves uid 0 and must keep its permitted set. */
	T("priv monitor keepcaps on", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
	snprintf(expect, sizeof(expect), "priv: monitor: capabilities cut to "
	    "setuid+setgid, not dumpable: uid=0/0/0/0 gid=0/0/0/0 groups=%d "
	    "CapInh=0000000000000000 CapPrm=00000000000000c0 "
	    "CapEff=00000000000000c0 CapBnd=0000000000000000 "
	    "CapAmb=0000000000000000 NoNewPrivs=0 Seccomp=2\n", UID_USER);
	T("priv monitor trace line", strstr(logbuf, expect) != NULL);

	/* Holding CAP_SETUID/CAP_SETGID, only the filter stands in the way. */
	T("priv filter setresuid(0,0,0) EPERM", eperm(setresuid(0, 0, 0)));
	T("priv filter setuid(0) EPERM", eperm(setuid(0)));
	T("priv filter setuid(5) EPERM", eperm(setuid(5)));
	T("priv filter setreuid(-1,5) EPERM", eperm(setreuid((uid_t)-1, 5)));
	T("priv filter setresuid 3rd arg out EPERM",
	    eperm(setresuid(UID_A, UID_A, ID_OUT)));
	T("priv filter setuid(out of range) EPERM", eperm(setuid(ID_OUT)));
	T("priv filter setgid(0) EPERM", eperm(setgid(0)));
	T("priv filter setresgid(5,5,5) EPERM", eperm(setresgid(5, 5, 5)));
	T("priv filter setregid(out of range,-1) EPERM", eperm(setregid(ID_OUT, (gid_t)-1)));
	setfsuid(5);
	T("priv filter setfsuid(5) refused", setfsuid((uid_t)-1) == 0);
	setfsgid(5);
	T("priv filter setfsgid(5) refused", setfsgid((gid_t)-1) == 0);
	T("priv filter 65 groups EPERM", setgroups_65());
	/* System ids outside the ranges: www-data, disk, adm. */
	T("priv filter setresuid(33) EPERM", eperm(setresuid(33, 33, 33)));
	T("priv filter setresgid(6) EPERM", eperm(setresgid(6, 6, 6)));
	T("priv filter setresgid(42) EPERM", eperm(setresgid(42, 42, 42)));
	/* No user namespace, whose uid_map would carry any host id in. */
	T("priv filter unshare(CLONE_NEWUSER) EPERM",
	    eperm(unshare(CLONE_NEWUSER)));
	T("priv filter clone(CLONE_NEWUSER) EPERM",
	    eperm(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
#ifdef SYS_clone3
	T("priv filter clone3 ENOSYS", syscall(SYS_clone3, NULL, 0) == -1 &&
	    errno == ENOSYS);
#endif
	T("priv filter setns EPERM", eperm(setns(0, CLONE_NEWUSER)));
	T("priv filter plain unshare still allowed", unshare(0) == 0);
	T("priv filter in-range setresuid allowed", in_grandchild(to_uid_b) == 0);
#ifdef __x86_64__
	T("priv filter x32 SIGSYS", in_grandchild(x32_getpid) == SIGSYS);
	if (ia32_works)
		T("priv filter i386 int 0x80 SIGSYS", in_grandchild(i386_getpid) == SIGSYS);
	else
		skip_line("priv filter i386 int 0x80 SIGSYS", IA32_SKIP);
#endif
}

static void
sc_stage2(void)
{
	struct priv_ident id;
	char expect[512];

	priv_trace_on = 1;
	if (priv_master(&cfg) < 0 || priv_monitor(&cfg) < 0) {
		T("priv stage2 setup", 0);
		return;
	}
	priv_ident_vhost(&id, &vh[0]);
	T("priv stage2 returns 0", priv_stage2(&id) == 0);
	T("priv stage2 Uid", ids4_are("Uid", UID_A));
	T("priv stage2 Gid", ids4_are("Gid", UID_A));
	T("priv stage2 Groups exact", groups_are((gid_t[]){ UID_A, GID_EXTRA }, 2));
	T("priv stage2 CapInh 0", mask_is("CapInh", 0));
	T("priv stage2 CapPrm 0", mask_is("CapPrm", 0));
	T("priv stage2 CapEff 0", mask_is("CapEff", 0));
	T("priv stage2 CapBnd 0", mask_is("CapBnd", 0));
	T("priv stage2 CapAmb 0", mask_is("CapAmb", 0));
	T("priv stage2 NoNewPrivs 1", status_is("NoNewPrivs", "1"));
	T("priv stage2 Seccomp 2", status_is("Seccomp", "2"));
	T("priv stage2 setuid(0) EPERM", eperm(setuid(0)));
	T("priv stage2 setresuid(0,0,0) EPERM", eperm(setresuid(0, 0, 0)));
	T("priv stage2 setuid(5) EPERM", eperm(setuid(5)));
	T("priv stage2 setgid(0) EPERM", eperm(setgid(0)));
	T("priv stage2 65 groups EPERM", setgroups_65());
#ifdef __x86_64__
	T("priv stage2 x32 SIGSYS", in_grandchild(x32_getpid) == SIGSYS);
	if (ia32_works)
		T("priv stage2 i386 int 0x80 SIGSYS", in_grandchild(i386_getpid) == SIGSYS);
	else
		skip_line("priv stage2 i386 int 0x80 SIGSYS", IA32_SKIP);
#endif
	snprintf(expect, sizeof(expect), "priv: stage 2: verified, setuid(0) refused: uid=%d/%d/%d/%d "
	    "gid=%d/%d/%d/%d groups=%d,%d CapInh=0000000000000000 "
	    "CapPrm=0000000000000000 CapEff=0000000000000000 "
	    "CapBnd=0000000000000000 CapAmb=0000000000000000 NoNewPrivs=1 "
	    "Seccomp=2\n", UID_A, UID_A, UID_A, UID_A, UID_A, UID_A, UID_A,
	    UID_A, UID_A, GID_EXTRA);
	T("priv stage2 trace line", strstr(logbuf, expect) != NULL);
}

static void
sc_no_new_privs_off(void)
{
	struct priv_ident id;
	int before = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);

	if (priv_master(&cfg) < 0 || priv_monitor(&cfg) < 0) {
		T("priv nnp-off setup", 0);
		return;
	}
	priv_ident_vhost(&id, &vh[1]);
	T("priv nnp-off stage2 returns 0", priv_stage2(&id) == 0);
	T("priv nnp-off Uid", ids4_are("Uid", UID_B));
	T("priv nnp-off Groups", groups_are((gid_t[]){ UID_B }, 1));
	T("priv nnp-off CapPrm 0", mask_is("CapPrm", 0));
	T("priv nnp-off NoNewPrivs 0", before == 1 || status_is("NoNewPrivs", "0"));
}

static void
sc_out_of_range(void)
{
	struct priv_ident id;
	char want[64];

	if (priv_master(&cfg) < 0 || priv_monitor(&cfg) < 0) {
		T("priv range setup", 0);
		return;
	}
	/* A refused step stops stage 2 there: the gid first, as groups and
	 * gid come before the uid. */
	priv_ident_vhost(&id, &vh[0]);
	id.gid = ID_OUT;
	T("priv range gid out of range refused", priv_stage2(&id) == -1);
	T("priv range gid refused left the monitor's gid", ids4_are("Gid", 0));
	priv_ident_vhost(&id, &vh[0]);
	id.uid = ID_OUT;
	loglen = 0;
	T("priv range uid out of range refused", priv_stage2(&id) == -1);
	snprintf(want, sizeof want, "setresuid(%u): Operation not permitted", (unsigned)ID_OUT);
	T("priv range uid log names setresuid", strstr(logbuf, want) != NULL);
	T("priv range uid refused left the monitor's uid", ids4_are("Uid", 0));
	id.uid = 5;
	T("priv range uid 5 refused", priv_stage2(&id) == -1);
	priv_ident_vhost(&id, &vh[0]);
	id.uid = 0;
	T("priv range uid 0 refused", priv_stage2(&id) == -1);
	T("priv range still uid 0", ids4_are("Uid", 0));
}

static void
sc_nice_and_limits(void)
{
	struct priv_ident id;
	struct rlimit rl;

	vh[0].has_nice = 1;
	vh[0].nice = -5;
	vh[0].limit[0].resource = RLIMIT_NOFILE;
	vh[0].limit[0].value = 100;
	vh[0].limit[1].resource = RLIMIT_CPU;
	vh[0].limit[1].value = 50;
	vh[0].nlimit = 2;
	if (priv_master(&cfg) < 0 || priv_monitor(&cfg) < 0) {
		T("priv nice setup", 0);
		return;
	}
	T("priv nice monitor keeps sys_nice",
	    mask_is("CapPrm", MONITOR_CAPS | CAPBIT(CAP_SYS_NICE)));
	priv_ident_vhost(&id, &vh[0]);
	T("priv nice stage2 returns 0", priv_stage2(&id) == 0);
	errno = 0;
	T("priv nice is -5", getpriority(PRIO_PROCESS, 0) == -5 && errno == 0);
	T("priv limit nofile 100/100", getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur == 100 && rl.rlim_max == 100);
	T("priv limit cpu 50/50", getrlimit(RLIMIT_CPU, &rl) == 0 &&
	    rl.rlim_cur == 50 && rl.rlim_max == 50);
	T("priv nice stage2 CapPrm 0", mask_is("CapPrm", 0));
	T("priv nice stage2 CapEff 0", mask_is("CapEff", 0));
}

static void
sc_limit_too_high(void)
{
	struct priv_ident id;
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	vh[0].limit[0].resource = RLIMIT_NOFILE;
	vh[0].limit[0].value = rl.rlim_max + 1000;  /* raising: needs a cap */
	vh[0].nlimit = 1;
	if (priv_master(&cfg) < 0 || priv_monitor(&cfg) < 0) {
		T("priv limit setup", 0);
		return;
	}
	priv_ident_vhost(&id, &vh[0]);
	loglen = 0;
	T("priv limit above hard refused", priv_stage2(&id) == -1);
	T("priv limit failure names the limit",
	    strstr(logbuf, "`limit nofile ") != NULL);
}

static void
sc_missing_setuid(void)
{
	cap_t c = cap_get_proc();
	cap_value_t v = CAP_SETUID;

	T("priv drop setuid for test", c &&
	    cap_set_flag(c, CAP_PERMITTED, 1, &v, CAP_CLEAR) == 0 &&
	    cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_CLEAR) == 0 &&
	    cap_set_proc(c) == 0);
	cap_free(c);
	loglen = 0;
	T("priv master without cap_setuid fails", priv_master(&cfg) == -1);
	T("priv master says which cap", strstr(logbuf, "cap_setuid") != NULL);
}

/* The monitor relies on what the master did and read back (the filter,
 * the empty bounding set, keepcaps, the groups): without priv_master in
 * this process it must refuse, with every capability still there. */
static void
sc_monitor_without_master(void)
{
	unsigned long long prm = proc_mask("CapPrm");

	loglen = 0;
	T("priv monitor without the master's step fails", priv_monitor(&cfg) == -1);
	T("priv monitor without the master says why",
	    strstr(logbuf, "steps done by the master") != NULL);
	T("priv monitor refused before any step", mask_is("CapPrm", prm));
}

static void
sc_root_admitted(void)
{
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);   /* 2 in some containers */

	cfg.uid_min = 0;
	T("priv master refuses uid-range from 0", priv_master(&cfg) == -1);
	cfg.uid_min = RANGE_MIN;
	cfg.gid = 0;
	T("priv master refuses group 0", priv_master(&cfg) == -1);
	T("priv master refusals installed no filter",
	    mode != 0 || prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0);
}

/* ---- The gatekeeper, as code that a parser or BearSSL bug let run in it
 * would find it: master, monitor and gatekeeper steps in one line of
 * processes, then every attack that broke the old stage 1. */

static pid_t monitor_pid;
static int allow_list = 1;      /* the gatekeeper's own filter is there */

static int
err_is(long r, int e)
{
	return r == -1 && errno == e;
}

static void
gatekeeper_attacks(void)
{
	gid_t zero = 0;
	struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal,
		stack, stack_size, tls; } ca = { CLONE_NEWUSER, 0, 0, 0, SIGCHLD,
		0, 0, 0 };
	char *argv[] = { "true", NULL };
	int fd;

	if (priv_gatekeeper(&cfg) != 0) {
		T("priv gatekeeper returns 0", 0);
		return;         /* no attack from a state that is not its */
	}
	T("priv gatekeeper returns 0", 1);
	/* A sanitizer build leaves the allow-list out (priv.c says why):
	 * then the checks that only it makes are skipped. */
	if ((fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/status",
	    O_RDONLY)) >= 0) {
		close(fd);
		allow_list = 0;
	}
	/* What broke stage 1 when it held CAP_SETUID and CAP_SETGID. */
	T("priv gatekeeper setgroups({0}) EPERM",
	    err_is(syscall(SYS_setgroups, 1, &zero), EPERM));
	T("priv gatekeeper setresuid(vhost) EPERM",
	    err_is(syscall(SYS_setresuid, UID_A, UID_A, UID_A), EPERM));
	T("priv gatekeeper setresgid(vhost) EPERM",
	    err_is(syscall(SYS_setresgid, UID_A, UID_A, UID_A), EPERM));
	T("priv gatekeeper setuid(0) EPERM", err_is(syscall(SYS_setuid, 0), EPERM));
	T("priv gatekeeper unshare(CLONE_NEWUSER) EPERM",
	    err_is(syscall(SYS_unshare, CLONE_NEWUSER), EPERM));
	T("priv gatekeeper clone(CLONE_NEWUSER) EPERM",
	    err_is(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM));
#ifdef SYS_clone3
	T("priv gatekeeper clone3(CLONE_NEWUSER) refused",
	    syscall(SYS_clone3, &ca, sizeof(ca)) == -1);
#else
	(void)ca;
#endif
	T("priv gatekeeper setns EPERM", err_is(syscall(SYS_setns, 0, 0), EPERM));
	/* And what the allow-list takes away besides. */
	if (!allow_list) {
		skip_line("priv gatekeeper allow-list checks",
		    "a sanitizer build installs no allow-list");
		return;
	}
	T("priv gatekeeper fork EPERM", err_is(syscall(SYS_clone, SIGCHLD, 0, 0,
	    0, 0), EPERM));
	T("priv gatekeeper open /etc/shadow EPERM",
	    err_is(syscall(SYS_openat, AT_FDCWD, "/etc/shadow", O_RDONLY), EPERM));
	T("priv gatekeeper socket EPERM",
	    err_is(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0), EPERM));
	T("priv gatekeeper kill(monitor, SIGSTOP) EPERM",
	    err_is(syscall(SYS_kill, monitor_pid, SIGSTOP), EPERM));
	T("priv gatekeeper ptrace(monitor) EPERM",
	    err_is(syscall(SYS_ptrace, PTRACE_ATTACH, monitor_pid, 0, 0), EPERM));
	T("priv gatekeeper execve EPERM",
	    err_is(syscall(SYS_execve, "/bin/true", argv, NULL), EPERM));
	T("priv gatekeeper prctl(PR_SET_DUMPABLE) EPERM",
	    err_is(syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0), EPERM));
	T("priv gatekeeper prctl(PR_SET_PTRACER) EPERM",
	    err_is(syscall(SYS_prctl, PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0,
	    0), EPERM));
	T("priv gatekeeper prctl(PR_GET_NO_NEW_PRIVS) allowed",
	    syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	T("priv gatekeeper signal to itself allowed",
	    syscall(SYS_kill, getpid(), 0) == 0);
}

static void
sc_gatekeeper(void)
{
	int st, ready[2], go[2];
	char c = 0, state[64];
	pid_t pid;

	if (priv_master(&cfg) < 0 || priv_monitor(&cfg) < 0 ||
	    pipe(ready) < 0 || pipe(go) < 0) {
		T("priv gatekeeper setup", 0);
		return;
	}
	monitor_pid = getpid();
	if ((pid = fork()) == 0) {
		/* The gatekeeper cannot open its own /proc files any more:
		 * it waits while the monitor reads them. */
		close(go[1]);
		close(ready[0]);
		alarm(30);      /* an attack that hangs must not hang the test */
		gatekeeper_attacks();
		if (write(ready[1], "x", 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(ready[1]);        /* so a gatekeeper that dies reads as EOF */
	alarm(60);
	T("priv gatekeeper reached its state", pid > 0 &&
	    read(ready[0], &c, 1) == 1);
	status_pid = pid;
	T("priv gatekeeper Uid", ids4_are("Uid", UID_USER));
	T("priv gatekeeper Gid", ids4_are("Gid", UID_USER));
	T("priv gatekeeper Groups", groups_are((gid_t[]){ UID_USER }, 1));
	T("priv gatekeeper CapPrm 0", mask_is("CapPrm", 0));
	T("priv gatekeeper CapEff 0", mask_is("CapEff", 0));
	T("priv gatekeeper CapInh 0", mask_is("CapInh", 0));
	T("priv gatekeeper CapBnd 0", mask_is("CapBnd", 0));
	T("priv gatekeeper CapAmb 0", mask_is("CapAmb", 0));
	T("priv gatekeeper NoNewPrivs 1", status_is("NoNewPrivs", "1"));
	T("priv gatekeeper Seccomp 2", status_is("Seccomp", "2"));
	T("priv gatekeeper its own filter on the master's",
	    status_is("Seccomp_filters", "2") ||
	    (!GATE_FILTER_EXPECTED && status_is("Seccomp_filters", "1")));
	status_pid = 0;
	close(go[1]);
	T("priv gatekeeper ran", pid > 0 && waitpid(pid, &st, 0) == pid &&
	    WIFEXITED(st) && WEXITSTATUS(st) == 0);
	T("priv gatekeeper left the monitor running",
	    status_field("State", state, sizeof(state)) &&
	    strcmp(state, "T (stopped)") != 0);
	T("priv gatekeeper left the monitor as it was",
	    ids4_are("Uid", 0) && mask_is("CapPrm", MONITOR_CAPS));
}

/* ---- The spawner: the gatekeeper's state once, and a fork its children
 * cannot use. Code run in one of its gatekeepers, or in the spawner (it
 * reads no client byte, but it is what they inherit), finds: */

static void
spawned_attacks(void)
{
	T("priv spawned returns 0", priv_spawned() == 0);
	T("priv spawned fork refused (RLIMIT_NPROC 0)",
	    err_is(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0), EAGAIN));
	T("priv spawned RLIMIT_NPROC cannot go up again",
	    err_is(syscall(SYS_prlimit64, 0, RLIMIT_NPROC,
	    &(struct { uint64_t c, m; }){ 1, 1 }, NULL), EPERM));
	T("priv spawned kill(spawner) EPERM",
	    err_is(syscall(SYS_kill, getppid(), SIGSTOP), EPERM));
	T("priv spawned setresuid(vhost) EPERM",
	    err_is(syscall(SYS_setresuid, UID_A, UID_A, UID_A), EPERM));
}

static void
sc_spawner(void)
{
	int done[2];
	char c;
	pid_t pid;

	if (priv_master(&cfg) < 0 || pipe(done) < 0 ||
	    signal(SIGCHLD, SIG_IGN) == SIG_ERR) {
		T("priv spawner setup", 0);
		return;
	}
	alarm(30);
	T("priv spawner returns 0", priv_spawner(&cfg) == 0);
	{
		uid_t r = 0, e = 0, su = 0;     /* its /proc files: no open now */
		T("priv spawner getresuid: the global user",
		    getresuid(&r, &e, &su) == 0 && r == UID_USER && e == UID_USER &&
		    su == UID_USER);
	}
	if (!GATE_FILTER_EXPECTED) {
		skip_line("priv spawner allow-list checks",
		    "a sanitizer build installs no allow-list");
		return;
	}
	T("priv spawner open EPERM",
	    err_is(syscall(SYS_openat, AT_FDCWD, "/etc/shadow", O_RDONLY), EPERM));
	T("priv spawner kill, even itself, EPERM",
	    err_is(syscall(SYS_kill, getpid(), 0), EPERM));
	T("priv spawner clone(CLONE_NEWNET) EPERM",
	    err_is(syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0), EPERM));
	T("priv spawner prlimit64 on another process EPERM",
	    err_is(syscall(SYS_prlimit64, 1, RLIMIT_NPROC, NULL, NULL), EPERM));
	if ((pid = fork()) == 0) {
		close(done[0]);
		spawned_attacks();
		_exit(0);       /* done[1] closes: the spawner reads EOF */
	}
	close(done[1]);
	T("priv spawner fork allowed", pid > 0);
	T("priv spawner its child ran", pid > 0 && read(done[0], &c, 1) == 0);
}

static void
ident_same(void)
{
	struct priv_ident a, b;

	priv_ident_vhost(&a, &vh[0]);
	priv_ident_vhost(&b, &vh[0]);
	CHECK("priv ident copies vhost", a.uid == UID_A && a.gid == UID_A &&
	    a.ngroups == 2 && a.groups[1] == GID_EXTRA && a.no_new_privs == 1 &&
	    a.vh == &vh[0]);
	b.groups[0] = GID_EXTRA;
	b.groups[1] = UID_A;
	CHECK("priv ident same groups other order", priv_ident_same(&a, &b));
	b.groups[1] = uid_base + 6;
	CHECK("priv ident other group differs", !priv_ident_same(&a, &b));
	priv_ident_vhost(&b, &vh[0]);
	b.ngroups = 1;
	CHECK("priv ident fewer groups differs", !priv_ident_same(&a, &b));
	priv_ident_vhost(&b, &vh[1]);
	CHECK("priv ident other uid differs", !priv_ident_same(&a, &b));
	priv_ident_vhost(&b, &vh[0]);
	b.gid = UID_B;
	CHECK("priv ident other gid differs", !priv_ident_same(&a, &b));
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("skip unit_priv: needs root\n");
		return 0;
	}
	if (getenv("ITKD_TEST_UID_BASE") != NULL) {
		long b = strtol(getenv("ITKD_TEST_UID_BASE"), NULL, 10);

		if (b < 2000 || b > 4000000000L - 10000) {
			printf("FAIL unit_priv: ITKD_TEST_UID_BASE out of 2000..3999990000\n");
			return 1;
		}
		uid_base = (uid_t)b;
	}
	config_setup();
#ifdef __x86_64__
	ia32_works = in_grandchild(i386_getpid) == 0;   /* no filter yet */
#endif
	ident_same();
	scenario("priv monitor-without-master", sc_monitor_without_master);
	scenario("priv master+monitor", sc_master_and_monitor);
	scenario("priv gatekeeper", sc_gatekeeper);
	scenario("priv spawner", sc_spawner);
	scenario("priv stage2", sc_stage2);
	scenario("priv nnp-off", sc_no_new_privs_off);
	scenario("priv out-of-range", sc_out_of_range);
	scenario("priv nice+limits", sc_nice_and_limits);
	config_setup();
	scenario("priv limit-too-high", sc_limit_too_high);
	config_setup();
	scenario("priv missing-cap", sc_missing_setuid);
	scenario("priv root-admitted", sc_root_admitted);
	return UNIT_END();
}
