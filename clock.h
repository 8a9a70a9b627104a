/* clock.h: the two clocks itkd reads. Milliseconds on CLOCK_MONOTONIC
 * for every deadline (conn.c, cgi.c, tls.c, proxy.c, body.c, gate.c,
 * serve.c); seconds of wall time for Date headers and log lines. */
#ifndef ITKD_CLOCK_H
#define ITKD_CLOCK_H

#include <stdint.h>
#include <time.h>

int64_t clock_ms(void);
time_t  clock_wall(void);

/* A new process reads the clock through the kernel: see clock.c. Call
 * clock_fresh() in the child right after fork, clock_stay() once the
 * process knows it will live on (a kept-alive connection). */
void clock_fresh(void);
void clock_stay(void);

#endif
