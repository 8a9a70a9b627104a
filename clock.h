/* clock.h: milliseconds on CLOCK_MONOTONIC, the clock every deadline is
 * kept on (conn.c, cgi.c, tls.c, proxy.c). Inline, so that each of those
 * files still links without the others (their unit tests do). */
#ifndef ITKD_CLOCK_H
#define ITKD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
clock_ms(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
