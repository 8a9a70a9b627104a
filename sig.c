/* sig.c: signal dispositions. Only SIG_IGN survives execve (a caught
 * signal goes back to SIG_DFL), so the master puts every disposition back
 * to SIG_DFL once, whatever whoever started it left ignored, and then
 * ignores only the signals named here: a CGI child has just those to undo,
 * two system calls rather than one per signal. */
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sig.h"

/* SIGPIPE: a closed socket is an error, not death. SIGXFSZ: `limit
 * fsize` below a log's size is EFBIG, not death. */
static const int ours[] = { SIGPIPE, SIGXFSZ };

/* Through the system call: the C library's sigaction() refuses the
 * signals it keeps for itself (glibc's 32 and 33), which a careless
 * parent may have left ignored. A zeroed kernel sigaction is SIG_DFL, no
 * flags, empty mask on every architecture, whatever its layout. SIGKILL
 * and SIGSTOP fail, harmlessly. */
static void
sig_default(int sig)
{
	static const unsigned long dfl[8];

	syscall(SYS_rt_sigaction, sig, dfl, NULL, (size_t)(NSIG / 8));
}

void
sig_default_all(void)
{
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		sig_default(sig);
}

int
sig_ignore_ours(void)
{
	size_t i;

	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (signal(ours[i], SIG_IGN) == SIG_ERR)
			return -1;
	return 0;
}

void
sig_default_ours(void)
{
	size_t i;

	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		sig_default(ours[i]);
}
