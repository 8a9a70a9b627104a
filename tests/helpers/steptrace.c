/* steptrace: which instructions a server's connection processes run.
 *
 * usage: steptrace OUT PID...
 *
 * Attaches to each PID (a master, its spawners) and lets them run; every
 * process they fork from then on, and what those fork, is single-stepped
 * to its exit. OUT gets a line "fork PARENT CHILD" for each fork and
 * "ip PID ADDR" (hex) for each instruction stepped. Ends on SIGINT or
 * SIGTERM (the kernel then lets every tracee run on untraced). x86_64
 * and aarch64; elsewhere it exits 3.
 *
 * A single-stepped process runs thousands of times slower: one
 * connection at a time, no timing. Used by test_static_build.py (a plain
 * connection's code lies in the binary's hot section) and by
 * bench/hot-text.py (which writes that section's list). */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#define ROOTS_MAX 16

static volatile sig_atomic_t stop;
static pid_t roots[ROOTS_MAX];
static int nroots;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
is_root(pid_t pid)
{
	int i;

	for (i = 0; i < nroots; i++)
		if (roots[i] == pid)
			return 1;
	return 0;
}

/* The instruction address pid is stopped at; 0 if unknown. */
static unsigned long
stopped_at(pid_t pid)
{
#if defined(__x86_64__) || defined(__aarch64__)
	struct user_regs_struct r;
	struct iovec iov = { &r, sizeof(r) };

	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
		return 0;
#if defined(__x86_64__)
	return r.rip;
#else
	return r.pc;
#endif
#else
	(void)pid;
	return 0;
#endif
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	unsigned long msg;
	FILE *out;
	pid_t pid;
	int i, st, sig, event;

#if !defined(__x86_64__) && !defined(__aarch64__)
	fprintf(stderr, "steptrace: not written for this CPU\n");
	return 3;
#endif
	if (argc < 3 || argc - 2 > ROOTS_MAX) {
		fprintf(stderr, "usage: steptrace OUT PID...\n");
		return 2;
	}
	if ((out = fopen(argv[1], "w")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	/* No SA_RESTART: the signal must end the wait below. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (i = 2; i < argc; i++) {
		roots[nroots] = (pid_t)atol(argv[i]);
		if (ptrace(PTRACE_SEIZE, roots[nroots], NULL, (void *)(long)
		    (PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
		    PTRACE_O_TRACECLONE)) < 0) {
			fprintf(stderr, "steptrace: attach %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		nroots++;
	}
	/* Ready: whoever started us may now make the connection. */
	fprintf(stderr, "steptrace: attached\n");
	while (!stop) {
		if ((pid = waitpid(-1, &st, __WALL)) < 0) {
			if (errno == EINTR)
				continue;
			break;          /* ECHILD: nothing traced is left */
		}
		if (!WIFSTOPPED(st))
			continue;       /* an exit */
		sig = WSTOPSIG(st);
		event = st >> 16;
		if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
		    event == PTRACE_EVENT_CLONE) {
			/* Flushed at once: the caller reads these to know which
			 * processes to wait for. */
			if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg) == 0) {
				fprintf(out, "fork %ld %lu\n", (long)pid, msg);
				fflush(out);
			}
		}
		/* An event or the stop a new tracee starts with: nothing to
		 * deliver. A signal: passed on. */
		if (event != 0 || sig == SIGTRAP)
			sig = 0;
		if (is_root(pid)) {
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
			continue;
		}
		if (sig == SIGSTOP && event == 0)
			sig = 0;
		fprintf(out, "ip %ld %lx\n", (long)pid, stopped_at(pid));
		ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)sig);
	}
	fclose(out);
	return 0;
}
