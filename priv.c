/* priv.c: how itkd gives up root, one visible step at a time.
 *
 * Read it top to bottom; the steps are in the order they happen:
 *
 *   priv_master   uid 0. Installs the seccomp filter (set*id only to ids
 *                 in uid-range/gid-range or the global user's; setgroups
 *                 capped; foreign syscall ABIs killed), empties its
 *                 bounding set (it never calls execve), then cuts its
 *                 capabilities to the six it needs.
 *   priv_monitor  the master's child, one per connection. Stays uid 0
 *                 but keeps only CAP_SETUID + CAP_SETGID (and CAP_SYS_NICE
 *                 when some vhost wants a negative nice), not dumpable. It
 *                 never reads a byte of the client.
 *   priv_spawner  the master's long-lived child, one per config
 *                 generation (and kind: plain, TLS): the global `user`,
 *                 no capability in any set, no_new_privs, and the
 *                 gatekeepers' allow-list plus its fork, once.
 *   priv_spawned  each gatekeeper it forks: no fork of its own.
 *   priv_gatekeeper  a gatekeeper the monitor forks itself (inetd mode,
 *                 hand-offs, no spawner): the same, per connection.
 *                 Either way the process that reads the client is the
 *                 global `user` with nothing, under the allow-list.
 *   priv_stage2   the monitor, once the gatekeeper has named the vhost:
 *                 limits, nice, groups, gid, uid, then no capability in
 *                 any set, then no_new_privs, then everything is read back
 *                 and checked.
 *
 * Every call's result is checked (mpm-itk never checked cap_set_proc, and
 * lighttpd never checked setuid); a failure is logged with its step and
 * errno and returns -1, and the caller exits without serving. */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "log.h"
#include "priv.h"
#include "vhost.h"

int priv_trace_on;

/* Set by priv_master once it has done and read back every step that each
 * child inherits instead of doing it again (the seccomp filter, the empty
 * bounding set, keepcaps, the groups); fork copies it with them. */
static int master_done;

/* ---------------------------------------------------------------------
 * The id calls, straight to the kernel. libc's wrappers make each one
 * take effect on every thread (musl: __synccall, four rt_sigprocmask calls
 * around each); a connection process has one thread, so the plain
 * syscall is the same call, 26 fewer syscalls per connection. Each result
 * is still checked, and everything is read back afterwards.
 */

#ifdef SYS_setresuid32          /* 32-bit ids on i386 and arm */
#define NR_SETRESUID SYS_setresuid32
#define NR_SETRESGID SYS_setresgid32
#define NR_SETUID SYS_setuid32
#define NR_SETGID SYS_setgid32
#define NR_SETGROUPS SYS_setgroups32
#else
#define NR_SETRESUID SYS_setresuid
#define NR_SETRESGID SYS_setresgid
#define NR_SETUID SYS_setuid
#define NR_SETGID SYS_setgid
#define NR_SETGROUPS SYS_setgroups
#endif

static int
id_setresuid(uid_t uid)
{
	return (int)syscall(NR_SETRESUID, uid, uid, uid);
}

static int
id_setresgid(gid_t gid)
{
	return (int)syscall(NR_SETRESGID, gid, gid, gid);
}

static int
id_setgroups(size_t n, const gid_t *groups)
{
	return (int)syscall(NR_SETGROUPS, n, groups);
}

/* ---------------------------------------------------------------------
 * Reading the credentials back from the kernel. No /proc: this must work
 * in an empty chroot, so everything comes from syscalls.
 */

enum { CAP_SET_INH, CAP_SET_PRM, CAP_SET_EFF, CAP_SET_BND, CAP_SET_AMB,
	CAP_NSETS };
static const char *const cap_set_name[CAP_NSETS] = {
	"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"
};

#define CREDS_GROUPS_MAX 256

struct creds {
	uid_t uid[4];           /* real, effective, saved, fs */
	gid_t gid[4];
	gid_t groups[CREDS_GROUPS_MAX];
	int ngroups;            /* may exceed CREDS_GROUPS_MAX: only counted */
	uint64_t cap[CAP_NSETS];        /* 64-bit masks, as /proc shows them */
	int no_new_privs;
	int seccomp;            /* 0 off, 1 strict, 2 filter */
};

/* Permitted, effective and inheritable through capget(2); bounding (if
 * `bound`) and ambient one capability at a time, until the kernel says
 * EINVAL (past its last capability). */
static int
read_caps(uint64_t cap[CAP_NSETS], int bound)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	cap_value_t c;
	int on, amb;

	memset(d, 0, sizeof(d));
	if (capget(&hdr, d) < 0)
		return -1;
	cap[CAP_SET_INH] = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	cap[CAP_SET_PRM] = d[0].permitted | (uint64_t)d[1].permitted << 32;
	cap[CAP_SET_EFF] = d[0].effective | (uint64_t)d[1].effective << 32;
	cap[CAP_SET_BND] = cap[CAP_SET_AMB] = 0;
	/* The kernel keeps ambient within permitted AND inheritable (it drops
	 * an ambient bit the moment either loses it): with no bit in both,
	 * the ambient set is empty, and asking 41 times would only say so. */
	amb = (cap[CAP_SET_PRM] & cap[CAP_SET_INH]) != 0;
	if (!bound && !amb)
		return 0;
	for (c = 0; c < 64; c++) {
		if (bound) {
			if ((on = cap_get_bound(c)) < 0) /* PR_CAPBSET_READ */
				break;
			if (on)
				cap[CAP_SET_BND] |= (uint64_t)1 << c;
		}
		if (amb && (on = cap_get_ambient(c)) < 0) { /* PR_CAP_AMBIENT_IS_SET */
			if (bound)
				return -1;
			break;          /* past the last capability */
		}
		if (amb && on)
			cap[CAP_SET_AMB] |= (uint64_t)1 << c;
	}
	return c > 0 ? 0 : -1;
}

/* all: the bounding set and the seccomp mode too (for the trace; the
 * verification knows them from the master). */
static int
read_creds(struct creds *cr, int all)
{
	int n;

	memset(cr, 0, sizeof(*cr));
	if (getresuid(&cr->uid[0], &cr->uid[1], &cr->uid[2]) < 0 ||
	    getresgid(&cr->gid[0], &cr->gid[1], &cr->gid[2]) < 0)
		return -1;
	/* setfs[ug]id(-1) changes nothing and returns the current fs id; the
	 * seccomp filter lets -1 through for exactly this. */
	cr->uid[3] = (uid_t)setfsuid((uid_t)-1);
	cr->gid[3] = (gid_t)setfsgid((gid_t)-1);
	/* One call for the usual few groups; more than we keep: count them
	 * (EINVAL says the buffer is too small). */
	if ((n = getgroups(CREDS_GROUPS_MAX, cr->groups)) < 0 &&
	    (errno != EINVAL || (n = getgroups(0, NULL)) < 0))
		return -1;
	cr->ngroups = n;
	if (read_caps(cr->cap, all) < 0)
		return -1;
	if ((cr->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)) < 0 ||
	    (all && (cr->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0)) < 0))
		return -1;
	return 0;
}

/* One line shaped like /proc/PID/status, for students to compare. */
void
priv_trace(const char *step)
{
	char line[1024 + CREDS_GROUPS_MAX * 12];
	struct creds cr;
	size_t n = 0;
	int i;

	if (!priv_trace_on)
		return;
	if (read_creds(&cr, 1) < 0) {
		log_error(NULL, "priv: %s: reading credentials: %s", step,
		    strerror(errno));
		return;
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n,
	    "uid=%u/%u/%u/%u gid=%u/%u/%u/%u groups=",
	    cr.uid[0], cr.uid[1], cr.uid[2], cr.uid[3],
	    cr.gid[0], cr.gid[1], cr.gid[2], cr.gid[3]);
	for (i = 0; i < cr.ngroups && i < CREDS_GROUPS_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%u",
		    i ? "," : "", cr.groups[i]);
	if (cr.ngroups == 0)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "none");
	else if (cr.ngroups > CREDS_GROUPS_MAX)
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",...(%d)",
		    cr.ngroups);
	for (i = 0; i < CAP_NSETS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%016llx",
		    cap_set_name[i], (unsigned long long)cr.cap[i]);
	snprintf(line + n, sizeof(line) - n, " NoNewPrivs=%d Seccomp=%d",
	    cr.no_new_privs, cr.seccomp);
	log_error(NULL, "priv: %s: %s", step, line);
}

/* ---------------------------------------------------------------------
 * Failing loudly.
 */

#define NO_ARG (-1LL)

/* "priv: stage 2: setresuid(61001): Operation not permitted (errno 1)" */
static int
fail(const struct vhost *vh, const char *stage, const char *call, long long arg)
{
	int e = errno;

	if (arg == NO_ARG)
		log_error(vh, "priv: %s: %s: %s (errno %d)", stage, call,
		    strerror(e), e);
	else
		log_error(vh, "priv: %s: %s(%lld): %s (errno %d)", stage, call,
		    arg, strerror(e), e);
	errno = e;
	return -1;
}

/* A read-back that does not match: no errno to report, say what differs. */
static int
mismatch(const struct vhost *vh, const char *stage, const char *what,
    unsigned long long got, unsigned long long want)
{
	log_error(vh, "priv: %s: verify %s: got %llu (0x%llx), want %llu (0x%llx)",
	    stage, what, got, got, want, want);
	return -1;
}

/* ---------------------------------------------------------------------
 * The seccomp filter: a classic BPF program, written out by hand.
 *
 * It sees the syscall number, the architecture and the six arguments as
 * numbers; it cannot follow pointers. Its verdicts:
 *   a foreign ABI (i386 `int $0x80` on x86_64, x32 numbers)   KILL_PROCESS
 *   set*uid/set*gid to an id outside the ranges               ERRNO(EPERM)
 *   setgroups with more than VHOST_GROUPS_MAX groups          ERRNO(EPERM)
 *   unshare or clone asking for CLONE_NEWUSER, setns          ERRNO(EPERM)
 *   clone3 (its flags sit behind a pointer)                   ERRNO(ENOSYS)
 *   anything else                                             ALLOW
 *
 * User namespaces are refused because a uid_map written by a process
 * holding CAP_SETUID maps any host id into the namespace: an id that looks
 * in range inside it can be uid or gid 0 outside, and the filter only ever
 * sees the inside. clone3 gets ENOSYS, not EPERM: the C libraries then
 * fall back to clone, whose flags the filter can read.
 */

#if defined(__x86_64__) && defined(__ILP32__)
#error "x32 userland: the filter kills x32 syscalls; build for x86_64"
#elif defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#ifndef __X32_SYSCALL_BIT               /* musl's headers do not define it */
#define __X32_SYSCALL_BIT 0x40000000
#endif
#define FOREIGN_NR_BIT    __X32_SYSCALL_BIT     /* x32 numbers carry it */
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && defined(__ARMEB__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_ARMEB
#elif defined(__arm__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_ARM
#elif defined(__mips__) && _MIPS_SIM == _ABIO32 && defined(__MIPSEL__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_MIPSEL
#elif defined(__mips__) && _MIPS_SIM == _ABIO32
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_MIPS
#elif defined(__mips__) && _MIPS_SIM == _ABIN32 && defined(__MIPSEL__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_MIPSEL64N32
#elif defined(__mips__) && _MIPS_SIM == _ABIN32
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_MIPS64N32
#elif defined(__mips__) && defined(__MIPSEL__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_MIPSEL64
#elif defined(__mips__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_MIPS64
#else
#error "priv.c: no seccomp architecture for this target; add its AUDIT_ARCH"
#endif

/* The filter loads 32-bit words; an id is the low half of a 64-bit arg. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

#define ID_QUERY 0xffffffffu    /* setfs[ug]id(-1): "tell me", changes nothing */

struct id_call {
	int nr;
	int nargs;              /* every argument is an id */
	int is_gid;
	int query_ok;           /* -1 allowed (setfsuid/setfsgid) */
};

static const struct id_call id_calls[] = {
	{ __NR_setuid,    1, 0, 0 },
	{ __NR_setreuid,  2, 0, 0 },
	{ __NR_setresuid, 3, 0, 0 },
	{ __NR_setfsuid,  1, 0, 1 },
	{ __NR_setgid,    1, 1, 0 },
	{ __NR_setregid,  2, 1, 0 },
	{ __NR_setresgid, 3, 1, 0 },
	{ __NR_setfsgid,  1, 1, 1 },
#ifdef __NR_setuid32
	/* Where *32 forms exist (arm), they are the real ones; the plain
	 * numbers above then take 16-bit ids, see old16_calls. */
	{ __NR_setuid32,    1, 0, 0 },
	{ __NR_setreuid32,  2, 0, 0 },
	{ __NR_setresuid32, 3, 0, 0 },
	{ __NR_setfsuid32,  1, 0, 1 },
	{ __NR_setgid32,    1, 1, 0 },
	{ __NR_setregid32,  2, 1, 0 },
	{ __NR_setresgid32, 3, 1, 0 },
	{ __NR_setfsgid32,  1, 1, 1 },
#endif
};

#ifdef __NR_setuid32
/* The 16-bit forms truncate their argument: 0x10000 passes a 32-bit range
 * check and arrives as 0. Nothing we run uses them: refuse them outright. */
static const int old16_calls[] = {
	__NR_setuid, __NR_setreuid, __NR_setresuid, __NR_setfsuid,
	__NR_setgid, __NR_setregid, __NR_setresgid, __NR_setfsgid,
	__NR_setgroups,
};
#endif

static const int setgroups_calls[] = {
#ifdef __NR_setgroups32
	__NR_setgroups32,
#else
	__NR_setgroups,
#endif
};

#define FILTER_MAX 512

struct filter {
	struct sock_filter insn[FILTER_MAX];
	unsigned n;
};

static unsigned
emit(struct filter *f, uint16_t code, uint32_t k)
{
	if (f->n < FILTER_MAX)
		f->insn[f->n] = (struct sock_filter)BPF_STMT(code, k);
	return f->n++;
}

/* Jumps go forward only, by at most 255 instructions; every block here
 * is small, and filter_build() refuses a program that broke the rule. */
static int jump_too_far;

static void
jt_to(struct filter *f, unsigned at, unsigned target)
{
	if (target - at - 1 > 255)
		jump_too_far = 1;
	else if (at < FILTER_MAX)
		f->insn[at].jt = (uint8_t)(target - at - 1);
}

static void
jf_to(struct filter *f, unsigned at, unsigned target)
{
	if (target - at - 1 > 255)
		jump_too_far = 1;
	else if (at < FILTER_MAX)
		f->insn[at].jf = (uint8_t)(target - at - 1);
}

#define LD_NR     BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)
#define RET_ALLOW BPF_RET | BPF_K, SECCOMP_RET_ALLOW
#define RET_EPERM BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)
#define RET_KILL  BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS
#define RET_ENOSYS BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)
#define JEQ       BPF_JMP | BPF_JEQ | BPF_K
#define JSET      BPF_JMP | BPF_JSET | BPF_K
#define JGE       BPF_JMP | BPF_JGE | BPF_K
#define JGT       BPF_JMP | BPF_JGT | BPF_K

/*   if (nr == c->nr) {
 *       for each argument: allow it if it is `own` (or -1 for a query),
 *                          else deny it unless min <= it <= max;
 *       return ALLOW;  deny: return ERRNO(EPERM);
 *   }                                                          */
static void
emit_id_call(struct filter *f, const struct id_call *c, uint32_t own,
    uint32_t min, uint32_t max)
{
	unsigned not_this, below_min[3], above_max[3], to_next[2], nto_next;
	unsigned deny, i, j;

	emit(f, LD_NR);
	not_this = emit(f, JEQ, (uint32_t)c->nr);
	for (i = 0; i < (unsigned)c->nargs; i++) {
		nto_next = 0;
		emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(i));
		to_next[nto_next++] = emit(f, JEQ, own);
		if (c->query_ok)
			to_next[nto_next++] = emit(f, JEQ, ID_QUERY);
		below_min[i] = emit(f, JGE, min);       /* false: deny */
		above_max[i] = emit(f, JGT, max);       /* true: deny; false: next */
		for (j = 0; j < nto_next; j++)
			jt_to(f, to_next[j], f->n);
	}
	emit(f, RET_ALLOW);
	deny = emit(f, RET_EPERM);
	for (i = 0; i < (unsigned)c->nargs; i++) {
		jf_to(f, below_min[i], deny);
		jt_to(f, above_max[i], deny);
	}
	jf_to(f, not_this, f->n);
}

/*   if (nr == setgroups) return count > VHOST_GROUPS_MAX ? EPERM : ALLOW;
 * The list itself is a pointer the filter cannot read: which groups are
 * set is guarded by the code, which calls setgroups once, with the
 * vhost's groups, before it gives up CAP_SETGID for good. */
static void
emit_setgroups(struct filter *f, int nr)
{
	unsigned not_this, too_many;

	emit(f, LD_NR);
	not_this = emit(f, JEQ, (uint32_t)nr);
	emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(0));
	too_many = emit(f, JGT, VHOST_GROUPS_MAX);
	emit(f, RET_ALLOW);
	jt_to(f, too_many, emit(f, RET_EPERM));
	jf_to(f, not_this, f->n);
}

/*   if (nr == nr_call) return arg0 & CLONE_NEWUSER ? EPERM : go on; */
static void
emit_no_newuser(struct filter *f, int nr_call)
{
	unsigned not_this, newuser;

	emit(f, LD_NR);
	not_this = emit(f, JEQ, (uint32_t)nr_call);
	emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(0));
	newuser = emit(f, JSET, CLONE_NEWUSER);
	jf_to(f, newuser, emit(f, RET_ALLOW));
	jt_to(f, newuser, emit(f, RET_EPERM));
	jf_to(f, not_this, f->n);
}

/*   if (nr == nr_call) return ret; */
static void
emit_verdict(struct filter *f, int nr_call, uint16_t code, uint32_t ret)
{
	unsigned not_this;

	emit(f, LD_NR);
	not_this = emit(f, JEQ, (uint32_t)nr_call);
	emit(f, code, ret);
	jf_to(f, not_this, f->n);
}

/* 1. and 2. of both filters: a foreign ABI's syscall table numbers its
 * calls differently (i386 through int $0x80 on x86_64; x32 shares the
 * x86_64 arch value, with a bit set in nr): kill, never guess. */
static void
emit_native_only(struct filter *f)
{
	unsigned native;

	emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	native = emit(f, JEQ, NATIVE_AUDIT_ARCH);
	jt_to(f, native, emit(f, RET_KILL) + 1);
#ifdef FOREIGN_NR_BIT
	{
		unsigned x32;
		emit(f, LD_NR);
		x32 = emit(f, JSET, FOREIGN_NR_BIT);
		jf_to(f, x32, emit(f, RET_KILL) + 1);
	}
#endif
}

static int
filter_build(struct filter *f, const struct config *cfg)
{
	unsigned i;

	f->n = 0;
	jump_too_far = 0;

	/* 1., 2. Native calls only. */
	emit_native_only(f);
	emit(f, LD_NR);
#ifdef __NR_setuid32
	for (i = 0; i < sizeof(old16_calls) / sizeof(old16_calls[0]); i++) {
		unsigned old = emit(f, JEQ, (uint32_t)old16_calls[i]);
		jf_to(f, old, emit(f, RET_EPERM) + 1);
	}
#endif
	/* 3. set*uid / set*gid: every id argument in range or the user's. */
	for (i = 0; i < sizeof(id_calls) / sizeof(id_calls[0]); i++) {
		const struct id_call *c = &id_calls[i];
		if (c->is_gid)
			emit_id_call(f, c, cfg->gid, cfg->gid_min, cfg->gid_max);
		else
			emit_id_call(f, c, cfg->uid, cfg->uid_min, cfg->uid_max);
	}
	/* 4. setgroups: the count only. */
	for (i = 0; i < sizeof(setgroups_calls) / sizeof(setgroups_calls[0]); i++)
		emit_setgroups(f, setgroups_calls[i]);
	/* 5. No user namespace: neither a new one nor joining one. */
	emit_no_newuser(f, __NR_unshare);
	emit_no_newuser(f, __NR_clone);
	emit_verdict(f, __NR_setns, RET_EPERM);
#ifdef __NR_clone3
	emit_verdict(f, __NR_clone3, RET_ENOSYS);
#endif
	/* 6. Everything else. */
	emit(f, RET_ALLOW);
	return f->n <= FILTER_MAX && !jump_too_far ? 0 : -1;
}

/* ---------------------------------------------------------------------
 * The master: filter first, then capabilities.
 */

struct cap_want {
	cap_value_t cap;
	const char *name;
	int required;           /* itkd cannot work without it */
};

static const struct cap_want master_caps[] = {
	{ CAP_SETUID,           "cap_setuid",           1 },  /* stages 1, 2 */
	{ CAP_SETGID,           "cap_setgid",           1 },
	{ CAP_SETPCAP,          "cap_setpcap",          1 },  /* drop bounding */
	{ CAP_KILL,             "cap_kill",             0 },  /* children of any uid */
	{ CAP_NET_BIND_SERVICE, "cap_net_bind_service", 0 },  /* ports < 1024 on reload */
	{ CAP_SYS_NICE,         "cap_sys_nice",         0 },  /* negative `nice` */
};

#define NMASTER_CAPS (sizeof(master_caps) / sizeof(master_caps[0]))

/* Empty the bounding set and verify it: each capability is read back
 * from the kernel, dropped if it is still there and read back again; 0
 * only when every one read back absent (a dropped one stays dropped:
 * nothing raises the bounding set again). */
static int
drop_bound(void)
{
	cap_value_t c, last = cap_max_bits();
	int on;

	for (c = 0; c < last; c++) {
		if ((on = cap_get_bound(c)) < 0)        /* PR_CAPBSET_READ */
			return fail(NULL, "master", "cap_get_bound", c);
		if (!on)
			continue;
		if (cap_drop_bound(c) < 0)              /* PR_CAPBSET_DROP */
			return fail(NULL, "master", "cap_drop_bound", c);
		if ((on = cap_get_bound(c)) != 0)
			return mismatch(NULL, "master", "CapBnd",
			    (unsigned long long)1 << c, 0);
	}
	/* Past the last one the kernel must say EINVAL: a capability it
	 * knows and libcap does not would otherwise go unread. */
	if (cap_get_bound(last) >= 0)
		return mismatch(NULL, "master", "CapBnd bits", (unsigned)last + 1,
		    (unsigned)last);
	return 0;
}

/* Exactly the capabilities in `caps` in P and E, inheritable empty: one
 * capset(2). Not libcap's cap_init/cap_set_proc: those malloc, and a
 * connection process that mallocs dirties the heap pages it shares with
 * the master (two more private pages per process: PSS). */
static int
set_caps(const cap_value_t *caps, int ncaps)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	int i;

	memset(d, 0, sizeof(d));
	for (i = 0; i < ncaps; i++) {
		if (caps[i] < 0 || caps[i] >= 32 * _LINUX_CAPABILITY_U32S_3) {
			errno = EINVAL;
			return -1;
		}
		d[caps[i] / 32].permitted |= 1u << (caps[i] % 32);
		d[caps[i] / 32].effective |= 1u << (caps[i] % 32);
	}
	return capset(&hdr, d);
}

static uint64_t
cap_mask(const cap_value_t *caps, int ncaps)
{
	uint64_t m = 0;

	while (ncaps-- > 0)
		m |= (uint64_t)1 << caps[ncaps];
	return m;
}

int
priv_master(const struct config *cfg)
{
	struct filter f;
	struct sock_fprog prog;
	cap_value_t keep[NMASTER_CAPS];
	uint64_t cap[CAP_NSETS];
	gid_t g = 0;
	int nkeep = 0;
	unsigned i;

	/* 1. The seccomp filter. Installing one needs either no_new_privs or
	 *    CAP_SYS_ADMIN; the master still holds CAP_SYS_ADMIN here, so it
	 *    does not need no_new_privs (which vhosts may opt out of: every
	 *    child inherits the filter, and the master's choice would be
	 *    theirs). The filter can never be removed, only stacked on. The
	 *    master is uid 0 and calls no set*id, so denying 0 costs it
	 *    nothing. */
	if (cfg->uid == 0 || cfg->gid == 0 || cfg->uid_min == 0 ||
	    cfg->gid_min == 0) {        /* the filter would admit root */
		log_error(NULL, "priv: master: refusing a config that admits "
		    "uid or gid 0 (user %u:%u, ranges from %u and %u)",
		    cfg->uid, cfg->gid, cfg->uid_min, cfg->gid_min);
		return -1;
	}
	if (filter_build(&f, cfg) < 0) {
		log_error(NULL, "priv: master: seccomp filter: %u instructions "
		    "or a jump too far", f.n);
		return -1;
	}
	prog.len = (unsigned short)f.n;
	prog.filter = f.insn;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return fail(NULL, "master", "prctl(PR_SET_SECCOMP)", NO_ARG);

	/* 2. The bounding set only limits what an execve may grant, and the
	 *    master never calls execve: empty it here, once, so that each
	 *    child inherits it empty (fork copies it) and no later process has
	 *    anything left to drop. Each PR_CAPBSET_DROP commits a new set of
	 *    credentials: 41 of them per connection were a tenth of the
	 *    cost of a one-request connection. */
	if (drop_bound() < 0)
		return -1;

	/* 3. Capabilities: only those we hold can be kept; a container may
	 *    lack some. The three we cannot work without must be there. */
	if (read_caps(cap, 1) < 0)
		return fail(NULL, "master", "capget", NO_ARG);
	for (i = 0; i < NMASTER_CAPS; i++) {
		if (cap[CAP_SET_PRM] & (uint64_t)1 << master_caps[i].cap) {
			keep[nkeep++] = master_caps[i].cap;
		} else if (master_caps[i].required) {
			log_error(NULL, "priv: master: %s is not in the permitted "
			    "set: itkd cannot switch users", master_caps[i].name);
			return -1;
		} else {
			log_error(NULL, "priv: master: %s is not in the permitted "
			    "set; continuing without it", master_caps[i].name);
		}
	}
	if (set_caps(keep, nkeep) < 0)
		return fail(NULL, "master", "capset", NO_ARG);
	/*    The ambient set: empty, once, for every child. The capset
	 *    above left inheritable empty, and the kernel keeps ambient
	 *    within permitted AND inheritable, so nothing can put a bit
	 *    back into it. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return fail(NULL, "master", "prctl(PR_CAP_AMBIENT_CLEAR_ALL)",
		    NO_ARG);

	/* 4. keepcaps: a process that leaves uid 0 keeps its permitted set
	 *    (the gatekeeper and stage 2 then clear it themselves, and read
	 *    it back as empty). The master itself never changes uid, so it
	 *    changes nothing for it; execve turns it off for any program. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fail(NULL, "master", "prctl(PR_SET_KEEPCAPS, 1)", NO_ARG);
	if (prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 1)
		return mismatch(NULL, "master", "keepcaps",
		    (unsigned long long)prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1);

	/* 5. Supplementary groups: exactly the global group, the set the
	 *    gatekeeper needs. Set once here (fork copies it), it saves every
	 *    connection a credential commit; the master loses root's own
	 *    supplementary groups, which it never needed (its gid stays 0).
	 *    The monitor verifies the set it inherits. */
	if (id_setgroups(1, &cfg->gid) < 0)
		return fail(NULL, "master", "setgroups", cfg->gid);
	if (getgroups(1, &g) != 1 || g != cfg->gid)
		return mismatch(NULL, "master", "groups", (unsigned long long)g,
		    cfg->gid);

	/* 6. Verify. */
	if (read_caps(cap, 1) < 0)
		return fail(NULL, "master", "capget", NO_ARG);
	if (cap[CAP_SET_BND] != 0)
		return mismatch(NULL, "master", "CapBnd", cap[CAP_SET_BND], 0);
	if (cap[CAP_SET_PRM] != cap_mask(keep, nkeep))
		return mismatch(NULL, "master", "CapPrm", cap[CAP_SET_PRM],
		    cap_mask(keep, nkeep));
	if (cap[CAP_SET_EFF] != cap_mask(keep, nkeep))
		return mismatch(NULL, "master", "CapEff", cap[CAP_SET_EFF],
		    cap_mask(keep, nkeep));
	if (cap[CAP_SET_INH] != 0)
		return mismatch(NULL, "master", "CapInh", cap[CAP_SET_INH], 0);
	if (cap[CAP_SET_AMB] != 0)
		return mismatch(NULL, "master", "CapAmb", cap[CAP_SET_AMB], 0);
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != SECCOMP_MODE_FILTER)
		return mismatch(NULL, "master", "Seccomp",
		    (unsigned long long)prctl(PR_GET_SECCOMP, 0, 0, 0, 0),
		    SECCOMP_MODE_FILTER);
	master_done = 1;
	priv_trace("master");
	return 0;
}

/* ---------------------------------------------------------------------
 * Verification shared by both stages: what the kernel says we are.
 */

static int
has_group(const gid_t *set, int n, gid_t g)
{
	while (n-- > 0)
		if (set[n] == g)
			return 1;
	return 0;
}

/* Same members, order and repeats aside. */
static int
same_group_set(const gid_t *a, int na, const gid_t *b, int nb)
{
	int i;

	for (i = 0; i < na; i++)
		if (!has_group(b, nb, a[i]))
			return 0;
	for (i = 0; i < nb; i++)
		if (!has_group(a, na, b[i]))
			return 0;
	return 1;
}

/* Exactly caps in P and E, and nothing in any other set. */
static int
caps_are(const struct vhost *vh, const char *stage,
    const uint64_t cap[CAP_NSETS], uint64_t caps)
{
	int i;

	if (cap[CAP_SET_PRM] != caps)
		return mismatch(vh, stage, "CapPrm", cap[CAP_SET_PRM], caps);
	if (cap[CAP_SET_EFF] != caps)
		return mismatch(vh, stage, "CapEff", cap[CAP_SET_EFF], caps);
	for (i = 0; i < CAP_NSETS; i++)
		if (i != CAP_SET_PRM && i != CAP_SET_EFF && cap[i] != 0)
			return mismatch(vh, stage, cap_set_name[i], cap[i], 0);
	return 0;
}

/* What the kernel says we are, against what we asked for: ids, groups,
 * exactly caps in P and E and nothing else, and no_new_privs as nnp (-1:
 * either). The bounding set and the seccomp filter are not read: the
 * master did, and neither can come back (priv_monitor, step 1). */
static int
verify_creds(const struct vhost *vh, const char *stage, uid_t uid, gid_t gid,
    const gid_t *groups, int ngroups, uint64_t caps, int nnp)
{
	static const char *const idname[4] = { "real", "effective", "saved",
		"fs" };
	char what[32];
	struct creds cr;
	int i;

	if (read_creds(&cr, 0) < 0)
		return fail(vh, stage, "reading credentials back", NO_ARG);
	for (i = 0; i < 4; i++) {
		if (cr.uid[i] != uid) {
			snprintf(what, sizeof(what), "%s uid", idname[i]);
			return mismatch(vh, stage, what, cr.uid[i], uid);
		}
		if (cr.gid[i] != gid) {
			snprintf(what, sizeof(what), "%s gid", idname[i]);
			return mismatch(vh, stage, what, cr.gid[i], gid);
		}
	}
	if (cr.ngroups != ngroups)
		return mismatch(vh, stage, "number of groups",
		    (unsigned long long)cr.ngroups, (unsigned long long)ngroups);
	if (!same_group_set(cr.groups, cr.ngroups, groups, ngroups)) {
		log_error(vh, "priv: %s: verify groups: not the set asked for",
		    stage);
		return -1;
	}
	if (caps_are(vh, stage, cr.cap, caps) < 0)
		return -1;
	if (nnp >= 0 && cr.no_new_privs != nnp)
		return mismatch(vh, stage, "NoNewPrivs",
		    (unsigned long long)cr.no_new_privs, (unsigned long long)nnp);
	return 0;
}

/* ---------------------------------------------------------------------
 * The monitor: uid 0, two capabilities, never a client's byte.
 */

/* CAP_SETUID + CAP_SETGID, and CAP_SYS_NICE when a vhost asks for a
 * negative nice (raising the priority is the one other privilege stage 2
 * may need). */
static int
monitor_caps(const struct config *cfg, cap_value_t keep[3])
{
	int i, n = 0;

	keep[n++] = CAP_SETUID;
	keep[n++] = CAP_SETGID;
	for (i = 0; i < cfg->nvhosts; i++)
		if (cfg->vhosts[i].has_nice && cfg->vhosts[i].nice < 0) {
			keep[n++] = CAP_SYS_NICE;
			break;
		}
	return n;
}

int
priv_monitor(const struct config *cfg)
{
	cap_value_t keep[3];
	int nkeep = monitor_caps(cfg, keep);
	uint64_t cap[CAP_NSETS];

	/* 1. What the master did once for every child, and read back
	 *    before it forked us (fork copies each): the seccomp filter
	 *    (nothing can remove one), the empty bounding set, so that no
	 *    later execve can ever grant a capability back (its only
	 *    writer, PR_CAPBSET_DROP, can only lower it), the supplementary
	 *    groups, and keepcaps, which keeps the permitted set across the
	 *    uid change of stage 2 (leaving uid 0 would otherwise clear it).
	 *    Refuse to go on if the master did not do it all. */
	if (!master_done)
		return mismatch(NULL, "monitor", "steps done by the master",
		    0, 1);

	/* 2. Keep exactly setuid + setgid (+ sys_nice): no kill, no
	 *    net_bind_service, no setpcap. The uid stays 0, so that no
	 *    gatekeeper (the global user) and no vhost can signal or trace
	 *    this process. */
	if (set_caps(keep, nkeep) < 0)
		return fail(NULL, "monitor", "capset", NO_ARG);

	/* 3. Not dumpable: no core file of a process that holds
	 *    CAP_SETUID, and its /proc files stay root's. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return fail(NULL, "monitor", "prctl(PR_SET_DUMPABLE, 0)", NO_ARG);

	/* 4. Verify what these steps changed: the capability sets (one
	 *    capget) and dumpable. The ids and groups are the master's,
	 *    read back by it before the fork; nothing here changed them. */
	if (read_caps(cap, 0) < 0)
		return fail(NULL, "monitor", "capget", NO_ARG);
	if (caps_are(NULL, "monitor", cap, cap_mask(keep, nkeep)) < 0)
		return -1;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return mismatch(NULL, "monitor", "dumpable",
		    (unsigned long long)prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	priv_trace("monitor: capabilities cut to setuid+setgid, not dumpable");
	return 0;
}

/* ---------------------------------------------------------------------
 * The gatekeeper: the global user with nothing at all.
 */

/* What a gatekeeper calls: socket and pipe I/O on fds it already holds,
 * poll, time, randomness, unmapping the keys, its own exit, and reading
 * its own credentials for the trace. Nothing that opens a file or a
 * socket, executes, signals another process, traces, or changes an id. */
static const int gate_calls[] = {
	__NR_read, __NR_write, __NR_readv, __NR_writev,
	__NR_recvfrom, __NR_sendto, __NR_recvmsg, __NR_sendmsg,
	__NR_close, __NR_shutdown, __NR_fcntl,
#ifdef __NR_fcntl64
	__NR_fcntl64,
#endif
	__NR_setsockopt, __NR_getsockname, __NR_getpeername,
#ifdef __NR_poll
	__NR_poll,
#endif
	__NR_ppoll,
#ifdef __NR_ppoll_time64
	__NR_ppoll_time64,
#endif
	/* musl names a 32-bit target's old time calls clock_gettime32 and
	 * gettimeofday_time32, with no plain name; glibc and 64-bit
	 * targets use the plain one. */
#ifdef __NR_clock_gettime
	__NR_clock_gettime,
#endif
#ifdef __NR_clock_gettime32
	__NR_clock_gettime32,
#endif
#ifdef __NR_clock_gettime64
	__NR_clock_gettime64,
#endif
#ifdef __NR_gettimeofday
	__NR_gettimeofday,
#endif
#ifdef __NR_gettimeofday_time32
	__NR_gettimeofday_time32,
#endif
	__NR_getrandom,
	__NR_brk, __NR_munmap, __NR_madvise,
#ifdef __NR_mmap
	__NR_mmap,
#endif
#ifdef __NR_mmap2
	__NR_mmap2,
#endif
	__NR_rt_sigreturn,
#ifdef __NR_sigreturn
	__NR_sigreturn,
#endif
	__NR_rt_sigprocmask, __NR_getpid, __NR_gettid,
	__NR_exit, __NR_exit_group,
	/* The trace reads the credentials back; setfs[ug]id(-1) is how. */
	__NR_getresuid, __NR_getresgid, __NR_getgroups, __NR_capget,
	__NR_setfsuid, __NR_setfsgid,
#ifdef __NR_getresuid32
	__NR_getresuid32, __NR_getresgid32, __NR_getgroups32,
	__NR_setfsuid32, __NR_setfsgid32,
#endif
};

/* prctl, for these options only: the trace's reads, and the name the
 * scoreboard gives the process. Not PR_SET_DUMPABLE or PR_SET_PTRACER,
 * which would open it to tracing by another process of the global user. */
static const unsigned long gate_prctl_options[] = {
	PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP, PR_CAPBSET_READ, PR_CAP_AMBIENT,
	PR_GET_KEEPCAPS, PR_GET_DUMPABLE, PR_SET_NAME,
};

/* Signals to itself only (abort() on a corrupted heap): the filter is
 * built in the gatekeeper, which knows its own pid. */
static const int gate_self_signal_calls[] = { __NR_kill, __NR_tkill,
	__NR_tgkill };

/* The spawner's additions, inherited by every gatekeeper it forks: its
 * fork (musl's _Fork calls fork where there is one, clone elsewhere;
 * glibc's, clone), and what the C library's fork does in the child
 * (set_tid_address in musl, set_robust_list in glibc: without it a
 * gatekeeper that died holding the session cache's robust lock would
 * leave it locked for good). Clone only without a namespace flag. */
static const int spawn_calls[] = {
#ifdef __NR_fork
	__NR_fork,
#endif
	__NR_set_tid_address, __NR_set_robust_list,
};
#define CLONE_NEW_ANY (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
	CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

/*   if (nr == nr_call) return arg0 == k (JEQ), or arg0 & k == 0 (JSET),
 *       ? ALLOW : EPERM;                                       */
static void
emit_arg0(struct filter *f, int nr_call, uint16_t code, uint32_t k)
{
	unsigned hit, test;

	hit = emit(f, JEQ, (uint32_t)nr_call);
	emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(0));
	test = emit(f, code, k);
	/* JEQ: true allows; JSET: true refuses. */
	if (code == (JEQ))
		jf_to(f, test, emit(f, RET_ALLOW) + 1);
	else
		jt_to(f, test, emit(f, RET_ALLOW) + 1);
	emit(f, RET_EPERM);
	jf_to(f, hit, emit(f, LD_NR));  /* nr again for the next */
}

/* self > 0: a gatekeeper's list, which may signal itself; 0: the
 * spawner's, which signals nobody (a pid in the filter would be the
 * spawner's in every gatekeeper it forks) and may fork, into processes
 * that may not (RLIMIT_NPROC, priv_spawned). */
static int
gate_filter_build(struct filter *f, pid_t self)
{
	unsigned i, hit;

	f->n = 0;
	jump_too_far = 0;
	emit_native_only(f);
	emit(f, LD_NR);
	for (i = 0; i < sizeof(gate_calls) / sizeof(gate_calls[0]); i++) {
		hit = emit(f, JEQ, (uint32_t)gate_calls[i]);
		emit(f, RET_ALLOW);     /* jt 0: the next instruction */
		jf_to(f, hit, f->n);
	}
	hit = emit(f, JEQ, (uint32_t)__NR_prctl);
	emit(f, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LO(0));
	for (i = 0; i < sizeof(gate_prctl_options) /
	    sizeof(gate_prctl_options[0]); i++) {
		unsigned option = emit(f, JEQ, (uint32_t)gate_prctl_options[i]);
		jf_to(f, option, emit(f, RET_ALLOW) + 1);
	}
	emit(f, RET_EPERM);
	jf_to(f, hit, emit(f, LD_NR));  /* nr again for what follows */
	if (self > 0) {
		for (i = 0; i < sizeof(gate_self_signal_calls) /
		    sizeof(gate_self_signal_calls[0]); i++)
			emit_arg0(f, gate_self_signal_calls[i], JEQ, (uint32_t)self);
	} else {
		for (i = 0; i < sizeof(spawn_calls) / sizeof(spawn_calls[0]); i++) {
			hit = emit(f, JEQ, (uint32_t)spawn_calls[i]);
			emit(f, RET_ALLOW);
			jf_to(f, hit, f->n);
		}
		emit_arg0(f, __NR_clone, JSET, CLONE_NEW_ANY);
		/* Its own limits only (pid 0): lowering them needs nothing,
		 * and another process's are not its to touch. */
		emit_arg0(f, __NR_prlimit64, JEQ, 0);
	}
	emit(f, RET_EPERM);
	return f->n <= FILTER_MAX && !jump_too_far ? 0 : -1;
}

/* The sanitizers' runtime (make check SANITIZE=1) makes calls of its own
 * at exit (LeakSanitizer starts a thread and reads /proc): there the
 * allow-list is left out, and the normal build's tests check it. */
#if defined(__SANITIZE_ADDRESS__)
#define GATE_FILTER 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GATE_FILTER 0
#endif
#endif
#ifndef GATE_FILTER
#define GATE_FILTER 1
#endif

/* Steps 1-4 of a gatekeeper and of the spawner: the global user, no
 * capability, no_new_privs, verified. */
static int
drop_to_user(const struct config *cfg, const char *who)
{
	gid_t gid = cfg->gid;
	uid_t uid = cfg->uid;

	/* 1. Gid, then uid: leaving uid 0 takes away the capability the
	 *    gid change needs. The groups are the master's: exactly the
	 *    global group. */
	if (id_setresgid(gid) < 0)
		return fail(NULL, who, "setresgid", gid);
	if (id_setresuid(uid) < 0)
		return fail(NULL, who, "setresuid", uid);

	/* 2. keepcaps kept the permitted set across the uid change: clear
	 *    permitted, effective and inheritable. The bounding set is empty
	 *    since the master, and ambient with it. */
	if (set_caps(NULL, 0) < 0)
		return fail(NULL, who, "capset", NO_ARG);

	/* 3. No execve can gain privilege again (nor could it run: step 5). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(NULL, who, "prctl(PR_SET_NO_NEW_PRIVS, 1)", NO_ARG);

	/* 4. Verify, before the allow-list takes the set*id calls away. */
	if (verify_creds(NULL, who, uid, gid, &gid, 1, 0, 1) < 0)
		return -1;
	if (syscall(NR_SETUID, 0) == 0 || id_setresuid(cfg->uid_min) == 0) {
		log_error(NULL, "priv: %s: verify: an id change succeeded", who);
		return -1;
	}
	return 0;
}

/* 5. The allow-list, on top of the master's filter (filters only stack). */
static int
allow_list(const char *who, pid_t self)
{
	struct filter f;
	struct sock_fprog prog;

	if (!GATE_FILTER)
		return 0;
	if (gate_filter_build(&f, self) < 0) {
		log_error(NULL, "priv: %s: seccomp filter: %u instructions or a "
		    "jump too far", who, f.n);
		return -1;
	}
	prog.len = (unsigned short)f.n;
	prog.filter = f.insn;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return fail(NULL, who, "prctl(PR_SET_SECCOMP)", NO_ARG);
	return 0;
}

int
priv_gatekeeper(const struct config *cfg)
{
	if (drop_to_user(cfg, "gatekeeper") < 0)
		return -1;
	priv_trace("gatekeeper: global user, no capabilities, no_new_privs");
	if (allow_list("gatekeeper", getpid()) < 0)
		return -1;
	priv_trace("gatekeeper: allow-list filter installed");
	return 0;
}

int
priv_spawner(const struct config *cfg)
{
	if (drop_to_user(cfg, "spawner") < 0)
		return -1;
	priv_trace("spawner: global user, no capabilities, no_new_privs");
	if (allow_list("spawner", 0) < 0)
		return -1;
	priv_trace("spawner: allow-list filter installed");
	return 0;
}

int
priv_spawned(void)
{
	/* The kernel refuses a fork to a process whose real uid already
	 * has as many processes as its RLIMIT_NPROC: with 0, none at all.
	 * The spawner's filter lets a fork through; this takes it away
	 * from the gatekeeper again, for one call instead of a filter. */
	struct { uint64_t cur, max; } none = { 0, 0 };

	if (syscall(SYS_prlimit64, 0, RLIMIT_NPROC, &none, NULL) < 0)
		return fail(NULL, "gatekeeper", "prlimit(RLIMIT_NPROC, 0)", NO_ARG);
	(void)prctl(PR_SET_NAME, "itkd", 0, 0, 0);     /* not "itkd spawner" */
	priv_trace("gatekeeper: forked by the spawner");
	return 0;
}

/* ---------------------------------------------------------------------
 * Stage 2: the vhost's identity and nothing else.
 */

/* The word of the `limit` directive, for its error. */
static const char *
limit_name(int resource)
{
	switch (resource) {
	case RLIMIT_CPU:    return "cpu";
	case RLIMIT_AS:     return "as";
	case RLIMIT_NPROC:  return "nproc";
	case RLIMIT_NOFILE: return "nofile";
	case RLIMIT_FSIZE:  return "fsize";
	default:            return "?";
	}
}

/* The final state must not let us back: ask the kernel to make us root
 * and see it refuse. If it does not refuse, we are root: the caller
 * exits. */
static int
verify_no_way_back(const struct vhost *vh)
{
	if (syscall(NR_SETUID, 0) == 0) {
		log_error(vh, "priv: stage 2: verify: setuid(0) succeeded");
		return -1;
	}
	if (syscall(NR_SETGID, 0) == 0) {
		log_error(vh, "priv: stage 2: verify: setgid(0) succeeded");
		return -1;
	}
	return 0;
}

int
priv_stage2(const struct priv_ident *id)
{
	const struct vhost *vh = id->vh;
	struct rlimit rl;
	int i, nnp_before;

	if (id->uid == 0 || id->gid == 0) {     /* never, whatever the filter */
		log_error(vh, "priv: stage 2: refusing uid %u gid %u",
		    id->uid, id->gid);
		return -1;
	}
	if ((nnp_before = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)) < 0)
		return fail(vh, "stage 2", "prctl(PR_GET_NO_NEW_PRIVS)", NO_ARG);

	/* 1. Resource limits, soft = hard: lowering needs no privilege, and
	 *    the vhost's programs cannot raise them again. */
	for (i = 0; vh != NULL && i < vh->nlimit; i++) {
		rl.rlim_cur = rl.rlim_max = vh->limit[i].value;
		if (setrlimit(vh->limit[i].resource, &rl) < 0) {
			log_error(vh, "priv: stage 2: setrlimit: `limit %s %llu`: "
			    "%s (errno %d)", limit_name(vh->limit[i].resource),
			    (unsigned long long)vh->limit[i].value,
			    strerror(errno), errno);
			return -1;
		}
	}

	/* 2. Nice, while CAP_SYS_NICE (kept for a negative value) is ours. */
	if (id->has_nice && setpriority(PRIO_PROCESS, 0, id->nice) < 0)
		return fail(vh, "stage 2", "setpriority", id->nice);
	priv_trace("stage 2: limits and nice set");

	/* 3. Groups, gid, uid; the filter checks the ids once more. */
	if (id_setgroups((size_t)id->ngroups, id->groups) < 0)
		return fail(vh, "stage 2", "setgroups", id->ngroups);
	priv_trace("stage 2: setgroups done");
	if (id_setresgid(id->gid) < 0)
		return fail(vh, "stage 2", "setresgid", id->gid);
	priv_trace("stage 2: setresgid done");
	if (id_setresuid(id->uid) < 0)
		return fail(vh, "stage 2", "setresuid", id->uid);
	priv_trace("stage 2: setresuid done, capabilities still held");

	/* 4. Leaving uid 0 with keepcaps on kept the permitted set (the
	 *    effective one was cleared by the kernel); and going from one
	 *    non-zero uid to another would have left both alone (mpm-itk's
	 *    lesson): clear permitted, effective and inheritable ourselves. The bounding set is empty since the
	 *    master; so is the ambient set (the master cleared it, and the
	 *    kernel keeps it within permitted AND inheritable, inheritable
	 *    being empty since then); step 6 reads all five back. */
	if (set_caps(NULL, 0) < 0)
		return fail(vh, "stage 2", "capset", NO_ARG);
	priv_trace("stage 2: every capability set cleared");

	/* 5. No execve (a CGI's setuid binary, file capabilities) may gain
	 *    privilege again. */
	if (id->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(vh, "stage 2", "prctl(PR_SET_NO_NEW_PRIVS, 1)", NO_ARG);

	/* 6. Verify all of it, as the kernel sees it. no_new_privs cannot be
	 *    unset: off is only as asked if it was off before. The bounding
	 *    set is not read: the master read it back empty before it forked
	 *    us (priv_monitor, step 1), and the kernel has no call that adds to
	 *    it (PR_CAPBSET_DROP, its only writer, lowers; set*id,
	 *    setgroups, capset and prctl(PR_SET_NO_NEW_PRIVS) leave it as it
	 *    is; only a new user namespace starts one full, and nothing here
	 *    creates one). Reading it 41 times would only say 0 again. Nor
	 *    is the seccomp mode read: the master read its filter back, and
	 *    a filter cannot be removed. */
	if (verify_creds(vh, "stage 2", id->uid, id->gid, id->groups,
	    id->ngroups, 0, id->no_new_privs || nnp_before) < 0)
		return -1;
	if (verify_no_way_back(vh) < 0)
		return -1;
	priv_trace("stage 2: verified, setuid(0) refused");
	return 0;
}

/* ---------------------------------------------------------------------
 * Identities.
 */

void
priv_ident_vhost(struct priv_ident *id, const struct vhost *vh)
{
	int n = vh->ngroups;

	memset(id, 0, sizeof(*id));
	if (n < 0)
		n = 0;
	if (n > (int)(sizeof(id->groups) / sizeof(id->groups[0])))
		n = (int)(sizeof(id->groups) / sizeof(id->groups[0]));
	id->uid = vh->uid;
	id->gid = vh->gid;
	memcpy(id->groups, vh->groups, (size_t)n * sizeof(id->groups[0]));
	id->ngroups = n;
	id->nice = vh->nice;
	id->has_nice = vh->has_nice;
	id->no_new_privs = vh->no_new_privs;
	id->vh = vh;
}

int
priv_ident_owner(struct priv_ident *id, const struct config *cfg,
    const struct vhost *vh, uid_t owner_uid, gid_t owner_gid)
{
	priv_ident_vhost(id, vh);
	if (vh->uid_owner)
		id->uid = owner_uid;
	if (vh->gid_owner) {
		/* Without `groups` an owner's group set is its gid alone
		 * (vhost.c): it follows the gid. */
		if (id->ngroups == 1 && id->groups[0] == vh->gid)
			id->groups[0] = owner_gid;
		id->gid = owner_gid;
	}
	/* What the config load refuses, refused again: the owner may have
	 * changed since (a chown, a directory renamed into place). */
	if (id->uid == 0 || id->uid == cfg->uid || id->uid < cfg->uid_min ||
	    id->uid > cfg->uid_max || id->gid == 0 || id->gid == cfg->gid ||
	    id->gid < cfg->gid_min || id->gid > cfg->gid_max) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static int
same_limits(const struct vhost *a, const struct vhost *b)
{
	int i;

	if (a == b)
		return 1;
	if (a == NULL || b == NULL || a->nlimit != b->nlimit)
		return 0;
	for (i = 0; i < a->nlimit; i++)
		if (a->limit[i].resource != b->limit[i].resource ||
		    a->limit[i].value != b->limit[i].value)
			return 0;
	return 1;
}

int
priv_ident_same(const struct priv_ident *a, const struct priv_ident *b)
{
	/* Everything stage 2 set up must match, not just the ids: limits,
	 * nice and no_new_privs cannot be undone, so a vhost that shares a
	 * uid but differs in them needs a connection of its own. */
	return a->uid == b->uid && a->gid == b->gid &&
	    same_group_set(a->groups, a->ngroups, b->groups, b->ngroups) &&
	    a->nice == b->nice && a->has_nice == b->has_nice &&
	    a->no_new_privs == b->no_new_privs && same_limits(a->vh, b->vh);
}
