/* clock.c: the clock, read through the vDSO or through the kernel.
 *
 * clock_gettime() normally runs in the vDSO and costs nanoseconds. But
 * a process's first call there faults in the vDSO's data pages ([vvar],
 * and [vvar_vclock] for a kvm-clock), and a hypervisor that maps those
 * in on demand makes that one fault cost 60-80 µs here (fork, one call,
 * exit: against fork and exit alone), where the system call costs a
 * microsecond. Most of a connection's processes read the clock a
 * handful of times and exit: they go to the kernel. A connection kept
 * alive for more requests reads it often enough to pay for the fault
 * once and use the vDSO from then on. The master goes to the kernel as
 * well (it reads these clocks for a log line, not per connection): so the
 * flag its children inherit is already right, and a child need not write
 * it, which would cost it a copy of the page the flag is on. */
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"

/* The kernel's call that fills a struct timespec as this C library lays
 * it out: the plain one where time_t is the word size; on a 32-bit
 * target (musl: time_t is 64 bits there) the 64-bit-time one, whose
 * struct the kernel fills so that musl's padded tv_nsec reads right on
 * either byte order. Elsewhere: the vDSO only. */
#if defined(SYS_clock_gettime) && UINTPTR_MAX > 0xffffffffu
#define CLOCK_CALL SYS_clock_gettime
#elif defined(SYS_clock_gettime64)
#define CLOCK_CALL SYS_clock_gettime64
#endif

static int use_vdso;            /* set only by clock_stay */

void
clock_fresh(void)
{
	if (use_vdso)
		use_vdso = 0;
}

void
clock_stay(void)
{
	use_vdso = 1;
}

static void
clock_read(clockid_t id, struct timespec *ts)
{
	/* Neither can fail for these clocks with a valid pointer. */
#ifdef CLOCK_CALL
	if (!use_vdso && sizeof(ts->tv_sec) == 8) {
		(void)syscall(CLOCK_CALL, id, ts);
		return;
	}
#endif
	(void)clock_gettime(id, ts);
}

int64_t
clock_ms(void)
{
	struct timespec ts;

	clock_read(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

time_t
clock_wall(void)
{
	struct timespec ts;

	clock_read(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}
