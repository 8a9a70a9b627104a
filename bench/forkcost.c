/* forkcost: what one thing a connection's process does costs on this
 * machine, against a bare fork and exit. The parent forks, the child does
 * the thing and _exit()s, the parent waits; medians of several rounds.
 * Machines of this kind differ several-fold in what a fault or a page
 * table change costs (a hypervisor that maps the vDSO's data in on
 * demand, page-table isolation), so ANALYSIS.md quotes these figures
 * beside the counts rather than assuming them.
 *
 *   fork          fork, _exit, wait: the base every other line is against
 *   vdso-clock    + one clock_gettime() through the vDSO (its first call in
 *                 the process faults in the vDSO's data pages)
 *   kernel-clock  + one clock_gettime system call instead
 *   filter-N      + a seccomp filter of N instructions attached (the
 *                 kernel checks and JIT-compiles it, and frees it at exit)
 *
 * usage: forkcost [ROUNDS [FORKS]]   (default 7 rounds of 400 forks)
 * Output: one line per case, "case median_us delta_us", the delta the
 * median of its differences to the bare fork of the same round. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS_MAX 31
#define FILTER_MAX 300

enum what { FORK, VDSO_CLOCK, KERNEL_CLOCK, FILTER };

static struct sock_filter insn[FILTER_MAX];

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* n instructions that refuse n - 2 system call numbers no one makes and
 * allow the rest: the shape of an allow-list, which is what the JIT pays
 * for per instruction. */
static struct sock_fprog
filter(unsigned n)
{
	struct sock_fprog p;
	unsigned i = 0;

	insn[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	while (i + 1 < n) {
		insn[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    100000 + i, 0, 0);
		i++;
	}
	insn[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	p.len = (unsigned short)i;
	p.filter = insn;
	return p;
}

static void
child(enum what w, const struct sock_fprog *p)
{
	struct timespec ts;

	switch (w) {
	case FORK:
		break;
	case VDSO_CLOCK:
		clock_gettime(CLOCK_MONOTONIC, &ts);
		break;
	case KERNEL_CLOCK:
		syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
		break;
	case FILTER:
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p, 0, 0) < 0)
			_exit(1);
		break;
	}
	_exit(0);
}

/* Microseconds per fork of one round; -1 if a fork or a child failed. */
static double
round_us(enum what w, const struct sock_fprog *p, int forks)
{
	double t0 = now_us();
	int i, st;
	pid_t pid;

	for (i = 0; i < forks; i++) {
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0)
			child(w, p);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			return -1;
	}
	return (now_us() - t0) / forks;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static const struct { const char *name; enum what w; unsigned n; } cases[] = {
		{ "fork", FORK, 0 },
		{ "vdso-clock", VDSO_CLOCK, 0 },
		{ "kernel-clock", KERNEL_CLOCK, 0 },
		{ "filter-2", FILTER, 2 },
		{ "filter-114", FILTER, 114 },
		{ "filter-250", FILTER, 250 },
	};
	enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
	double t[NCASES][ROUNDS_MAX], d[NCASES][ROUNDS_MAX], med[NCASES];
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	int forks = argc > 2 ? atoi(argv[2]) : 400;
	int r, c, i;

	if (rounds < 1 || rounds > ROUNDS_MAX || forks < 1) {
		fprintf(stderr, "usage: forkcost [ROUNDS (1-%d) [FORKS]]\n", ROUNDS_MAX);
		return 2;
	}
	/* Filters need no_new_privs without CAP_SYS_ADMIN; the parent sets
	 * it once (a filter it attached would be inherited by every child). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("forkcost: prctl(PR_SET_NO_NEW_PRIVS)");
		return 1;
	}
	/* Rounds interleave the cases, so that a busy moment of the machine
	 * falls on all of them alike, each round starting with another
	 * case, so that none is always the one after a quiet pause. */
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < NCASES; i++) {
			int c = (r + i) % NCASES;
			struct sock_fprog p = filter(cases[c].n ? cases[c].n : 2);
			if ((t[c][r] = round_us(cases[c].w, &p, forks)) < 0) {
				fprintf(stderr, "forkcost: %s: a fork or a child failed\n",
				    cases[c].name);
				return 1;
			}
		}
	}
	/* Each case against the bare fork of the same round (the machine's
	 * pace drifts between rounds more than one system call costs), then
	 * the median of those differences. */
	for (c = NCASES - 1; c >= 0; c--) {
		for (r = 0; r < rounds; r++)
			d[c][r] = t[c][r] - t[0][r];
		qsort(t[c], (size_t)rounds, sizeof(double), cmp);
		qsort(d[c], (size_t)rounds, sizeof(double), cmp);
		med[c] = t[c][rounds / 2];
	}
	for (c = 0; c < NCASES; c++)
		printf("%s %.1f %+.1f\n", cases[c].name, med[c], d[c][rounds / 2]);
	return 0;
}
