/* tests/unit.h: the smallest test harness. Each CHECK prints one line,
 * "ok NAME" or "FAIL NAME: file:line: expr"; tests/run.sh counts them. */
#ifndef ITKD_UNIT_H
#define ITKD_UNIT_H
#include <stdio.h>

static int unit_failed;

#define CHECK(name, expr) do { \
	if (expr) printf("ok %s\n", (name)); \
	else { printf("FAIL %s: %s:%d: %s\n", (name), __FILE__, __LINE__, #expr); unit_failed = 1; } \
} while (0)

#define UNIT_END() (fflush(stdout), unit_failed)
#endif
