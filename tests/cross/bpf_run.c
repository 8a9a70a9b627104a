/* tests/cross/bpf_run.c: the seccomp filters priv.c builds, run through a
 * classic-BPF interpreter of our own instead of a kernel. For a target no
 * Debian kernel boots (big-endian mips): built for it and run under
 * qemu-user, it checks the filter made with that target's syscall numbers,
 * AUDIT_ARCH and byte order (an id is the low half of a 64-bit argument,
 * the second word on a big-endian machine) gives each call the verdict the
 * kernel would. Prints "ok NAME" / "FAIL NAME: detail" lines.
 *
 * priv.c is included, not linked: its filter builders are static. */
#include "../../priv.c"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>

void
log_error(const struct vhost *vh, const char *fmt, ...)
{
	va_list ap;

	(void)vh;
	va_start(ap, fmt);
	fputs("log: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static int failed;

/* The subset of classic BPF a seccomp filter may use. */
static uint32_t
bpf_run(const struct filter *f, const struct seccomp_data *d)
{
	const unsigned char *data = (const unsigned char *)d;
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 }, w;
	unsigned pc = 0;
	const struct sock_filter *i;
	int taken;

	while (pc < f->n) {
		i = &f->insn[pc];
		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (i->k % 4 != 0 || i->k + 4 > sizeof(*d))
				goto bad;
			memcpy(&w, data + i->k, 4);     /* the kernel's load: native order */
			a = w;
			break;
		case BPF_LD | BPF_IMM:  a = i->k; break;
		case BPF_LDX | BPF_IMM: x = i->k; break;
		case BPF_LD | BPF_MEM:  if (i->k >= BPF_MEMWORDS) goto bad; a = mem[i->k]; break;
		case BPF_LDX | BPF_MEM: if (i->k >= BPF_MEMWORDS) goto bad; x = mem[i->k]; break;
		case BPF_ST:            if (i->k >= BPF_MEMWORDS) goto bad; mem[i->k] = a; break;
		case BPF_STX:           if (i->k >= BPF_MEMWORDS) goto bad; mem[i->k] = x; break;
		case BPF_ALU | BPF_AND | BPF_K: a &= i->k; break;
		case BPF_ALU | BPF_OR | BPF_K:  a |= i->k; break;
		case BPF_ALU | BPF_ADD | BPF_K: a += i->k; break;
		case BPF_ALU | BPF_SUB | BPF_K: a -= i->k; break;
		case BPF_ALU | BPF_RSH | BPF_K: a >>= i->k & 31; break;
		case BPF_ALU | BPF_LSH | BPF_K: a <<= i->k & 31; break;
		case BPF_MISC | BPF_TAX: x = a; break;
		case BPF_MISC | BPF_TXA: a = x; break;
		case BPF_JMP | BPF_JA:
			pc += i->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K:
			switch (BPF_OP(i->code)) {
			case BPF_JEQ: taken = a == i->k; break;
			case BPF_JGT: taken = a > i->k; break;
			case BPF_JGE: taken = a >= i->k; break;
			default:      taken = (a & i->k) != 0; break;
			}
			pc += taken ? i->jt : i->jf;
			break;
		case BPF_RET | BPF_K:
			return i->k;
		case BPF_RET | BPF_A:
			return a;
		default:
			goto bad;
		}
		pc++;
	}
bad:
	printf("FAIL bpf: instruction %u (code 0x%x) is not one a seccomp "
	    "filter may run, or the program ran off its end\n", pc,
	    pc < f->n ? f->insn[pc].code : 0);
	failed = 1;
	return SECCOMP_RET_KILL_PROCESS;
}

static const char *
verdict_name(uint32_t v)
{
	static char buf[32];

	if (v == SECCOMP_RET_ALLOW)
		return "ALLOW";
	if (v == SECCOMP_RET_KILL_PROCESS)
		return "KILL";
	if (v == (SECCOMP_RET_ERRNO | EPERM))
		return "EPERM";
	if (v == (SECCOMP_RET_ERRNO | ENOSYS))
		return "ENOSYS";
	snprintf(buf, sizeof(buf), "0x%08x", (unsigned)v);
	return buf;
}

static void
expect(const char *filter, const struct filter *f, const char *name,
    uint32_t arch, int nr, uint64_t a0, uint64_t a1, uint64_t a2, uint32_t want)
{
	struct seccomp_data d;
	uint32_t got;

	memset(&d, 0, sizeof(d));
	d.nr = nr;
	d.arch = arch;
	d.args[0] = a0;
	d.args[1] = a1;
	d.args[2] = a2;
	got = bpf_run(f, &d);
	if (got == want) {
		printf("ok bpf %s %s: %s\n", filter, name, verdict_name(want));
	} else {
		printf("FAIL bpf %s %s: got %s", filter, name, verdict_name(got));
		printf(", want %s\n", verdict_name(want));
		failed = 1;
	}
}

#define ALLOW  SECCOMP_RET_ALLOW
#define EPERM_ (SECCOMP_RET_ERRNO | EPERM)
#define KILL   SECCOMP_RET_KILL_PROCESS
#define ARCH   NATIVE_AUDIT_ARCH
/* An arch value that is not ours: the same machine, the other byte order. */
#define OTHER  (NATIVE_AUDIT_ARCH ^ __AUDIT_ARCH_LE)

#ifdef __NR_setuid32
#define CALL_SETUID    __NR_setuid32
#define CALL_SETRESUID __NR_setresuid32
#define CALL_SETRESGID __NR_setresgid32
#define CALL_SETFSUID  __NR_setfsuid32
#define CALL_SETGROUPS __NR_setgroups32
#else
#define CALL_SETUID    __NR_setuid
#define CALL_SETRESUID __NR_setresuid
#define CALL_SETRESGID __NR_setresgid
#define CALL_SETFSUID  __NR_setfsuid
#define CALL_SETGROUPS __NR_setgroups
#endif

static void
master_filter(void)
{
	struct config cfg;
	struct filter f;
	const char *m = "master";

	memset(&cfg, 0, sizeof(cfg));
	cfg.uid = cfg.gid = 61000;
	cfg.uid_min = cfg.gid_min = 61001;
	cfg.uid_max = cfg.gid_max = 61999;
	if (filter_build(&f, &cfg) < 0) {
		printf("FAIL bpf master: filter_build refused (%u instructions)\n", f.n);
		failed = 1;
		return;
	}
	printf("bpf: master filter for arch 0x%08x, %u instructions\n",
	    (unsigned)ARCH, f.n);
	expect(m, &f, "setuid(61001)", ARCH, CALL_SETUID, 61001, 0, 0, ALLOW);
	expect(m, &f, "setuid(61000) the user", ARCH, CALL_SETUID, 61000, 0, 0, ALLOW);
	expect(m, &f, "setuid(0)", ARCH, CALL_SETUID, 0, 0, 0, EPERM_);
	expect(m, &f, "setuid(62000)", ARCH, CALL_SETUID, 62000, 0, 0, EPERM_);
	/* The kernel takes a 32-bit id: only the low half counts. */
	expect(m, &f, "setuid(high half 1, low 61001)", ARCH, CALL_SETUID,
	    (1ull << 32) | 61001, 0, 0, ALLOW);
	expect(m, &f, "setuid(high half 61001, low 0)", ARCH, CALL_SETUID,
	    61001ull << 32, 0, 0, EPERM_);
	expect(m, &f, "setresuid(61001,0,61001)", ARCH, CALL_SETRESUID,
	    61001, 0, 61001, EPERM_);
	expect(m, &f, "setresuid(61001,61001,0)", ARCH, CALL_SETRESUID,
	    61001, 61001, 0, EPERM_);
	expect(m, &f, "setresgid(61002x3)", ARCH, CALL_SETRESGID,
	    61002, 61002, 61002, ALLOW);
	expect(m, &f, "setfsuid(-1)", ARCH, CALL_SETFSUID, 0xffffffffu, 0, 0, ALLOW);
	expect(m, &f, "setgroups(65)", ARCH, CALL_SETGROUPS, 65, 0, 0, EPERM_);
	expect(m, &f, "setgroups(1)", ARCH, CALL_SETGROUPS, 1, 0, 0, ALLOW);
	expect(m, &f, "unshare(CLONE_NEWUSER)", ARCH, __NR_unshare,
	    CLONE_NEWUSER, 0, 0, EPERM_);
	expect(m, &f, "unshare(CLONE_NEWNS)", ARCH, __NR_unshare,
	    CLONE_NEWNS, 0, 0, ALLOW);
	expect(m, &f, "clone(CLONE_NEWUSER)", ARCH, __NR_clone,
	    CLONE_NEWUSER | SIGCHLD, 0, 0, EPERM_);
	expect(m, &f, "clone(SIGCHLD)", ARCH, __NR_clone, SIGCHLD, 0, 0, ALLOW);
	expect(m, &f, "setns", ARCH, __NR_setns, 3, 0, 0, EPERM_);
#ifdef __NR_clone3
	expect(m, &f, "clone3", ARCH, __NR_clone3, 0, 0, 0,
	    SECCOMP_RET_ERRNO | ENOSYS);
#endif
	expect(m, &f, "getpid", ARCH, __NR_getpid, 0, 0, 0, ALLOW);
	expect(m, &f, "getpid, other arch", OTHER, __NR_getpid, 0, 0, 0, KILL);
	expect(m, &f, "setuid(61001), other arch", OTHER, CALL_SETUID,
	    61001, 0, 0, KILL);
#ifdef FOREIGN_NR_BIT
	expect(m, &f, "x32 getpid", ARCH, FOREIGN_NR_BIT | __NR_getpid, 0, 0, 0, KILL);
#endif
#ifdef __NR_setuid32
	expect(m, &f, "16-bit setuid(61001)", ARCH, __NR_setuid, 61001, 0, 0, EPERM_);
#endif
}

static void
gatekeeper_filter(void)
{
	struct filter f;
	const char *g = "gatekeeper";
	pid_t self = 4242;

	if (gate_filter_build(&f, self) < 0) {
		printf("FAIL bpf gatekeeper: gate_filter_build refused (%u "
		    "instructions)\n", f.n);
		failed = 1;
		return;
	}
	printf("bpf: gatekeeper filter, %u instructions\n", f.n);
	expect(g, &f, "read", ARCH, __NR_read, 0, 0, 0, ALLOW);
	expect(g, &f, "execve", ARCH, __NR_execve, 0, 0, 0, EPERM_);
	expect(g, &f, "setuid(61001)", ARCH, CALL_SETUID, 61001, 0, 0, EPERM_);
	expect(g, &f, "kill(self)", ARCH, __NR_kill, (uint64_t)self, SIGABRT, 0, ALLOW);
	expect(g, &f, "kill(1)", ARCH, __NR_kill, 1, SIGKILL, 0, EPERM_);
	expect(g, &f, "prctl(PR_GET_SECCOMP)", ARCH, __NR_prctl, PR_GET_SECCOMP, 0, 0, ALLOW);
	expect(g, &f, "prctl(PR_SET_SECCOMP)", ARCH, __NR_prctl, PR_SET_SECCOMP, 0, 0, EPERM_);
	expect(g, &f, "read, other arch", OTHER, __NR_read, 0, 0, 0, KILL);
}

int
main(void)
{
	master_filter();
	gatekeeper_filter();
	fflush(stdout);
	return failed;
}
