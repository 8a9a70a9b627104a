/* tests/unit_alloc.c: alloc.c, the allocator behind itkd's malloc. Every
 * block keeps its bytes, is 16-aligned and touches no other; freed blocks
 * merge and are used again; a broken header or a second free stops the
 * process. In a plain build this program's own malloc is alloc.c too. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "unit.h"

#define SLOTS 512

/* volatile: gcc refuses a constant count that overflows at compile time,
 * and clang drops a calloc whose result is only compared with NULL. */
static volatile size_t huge = SIZE_MAX / 2;
static void *(*volatile calloc_fn)(size_t, size_t) = calloc;

static unsigned long long rng = 88172645463325252ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Sizes as itkd asks for them: mostly short strings, some buffers, a few
 * arrays past BIG (64 KiB). */
static size_t
rnd_size(void)
{
	unsigned k = rnd(100);

	if (k < 70)
		return rnd(200);
	if (k < 97)
		return rnd(16384);
	return 65536 + rnd(200000);
}

static struct slot {
	unsigned char *p;
	size_t n;
	unsigned char fill;
} slot[SLOTS];

static int
intact(const struct slot *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->p[i] != s->fill)
			return 0;
	return 1;
}

/* Random malloc, realloc and free; every block's bytes checked before it
 * changes hands, the whole heap walked now and then. */
static int
stress(int ops, int *bad_align, int *bad_bytes, int *bad_heap)
{
	struct slot *s;
	unsigned char *q;
	size_t n, keep;
	int i, k;

	for (i = 0; i < ops; i++) {
		s = &slot[rnd(SLOTS)];
		k = (int)rnd(3);
		if (s->p != NULL && !intact(s))
			(*bad_bytes)++;
		if (s->p == NULL || k == 0) {
			alloc_free(s->p);
			n = rnd_size();
			if ((s->p = alloc_malloc(n)) == NULL)
				return -1;
			s->n = n;
		} else if (k == 1) {
			n = rnd_size();
			if ((q = alloc_realloc(s->p, n)) == NULL)
				return -1;
			keep = n < s->n ? n : s->n;
			s->p = q;
			s->n = keep;
			if (!intact(s))
				(*bad_bytes)++;
			s->n = n;
		} else {
			alloc_free(s->p);
			s->p = NULL;
			continue;
		}
		if ((uintptr_t)s->p % 16 != 0 || alloc_usable(s->p) < s->n)
			(*bad_align)++;
		s->fill = (unsigned char)rnd(256);
		memset(s->p, s->fill, s->n);
		if (i % 997 == 0 && alloc_check() < 0)
			(*bad_heap)++;
	}
	for (i = 0; i < SLOTS; i++) {
		if (slot[i].p != NULL && !intact(&slot[i]))
			(*bad_bytes)++;
		alloc_free(slot[i].p);
		slot[i].p = NULL;
	}
	return 0;
}

/* Run f in a child: the signal that ended it, or 0 if it exited. */
static int
dies_of(void (*f)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		close(2);       /* the corruption message is expected */
		/* Not a sanitizer's report either: a plain death. */
		signal(SIGSEGV, SIG_DFL);
		f();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void
double_free(void)
{
	char *p = alloc_malloc(40);

	alloc_free(p);
	alloc_free(p);
}

static void
underrun(void)
{
	char *p = alloc_malloc(40);

	memset(p - 8, 'x', 8);  /* the check word before the bytes */
	alloc_free(p);
}

static void
overrun(void)
{
	char *p = alloc_malloc(40), *q = alloc_malloc(40);

	memset(p, 'x', alloc_usable(p) + 16);   /* into q's header */
	alloc_free(q);
}

/* Forge a free block's links, as an overflow from its neighbour would,
 * and have free unlink it. */
static void
forged_links(void)
{
	char *a = alloc_malloc(40), *b = alloc_malloc(40), *c = alloc_malloc(40);
	static size_t target[8];        /* room for a whole struct block */
	size_t *forged[2] = { target, target };

	alloc_free(b);
	memcpy(b, forged, sizeof(forged));
	alloc_free(a);          /* merges with b: unlinks it */
	alloc_free(c);
}

static void
foreign(void)
{
	static _Alignas(16) char not_ours[64];

	alloc_free(not_ours + 16);
}

static void
double_free_big(void)
{
	char *p = alloc_malloc(100000);

	alloc_free(p);
	alloc_free(p);
}

int
main(void)
{
	int bad_align = 0, bad_bytes = 0, bad_heap = 0, i, ok;
	char *a, *b, *c, *d, *p, *q, *big[3200];
	size_t n;

	/* stdio takes its buffer from malloc at its first line: let it, so
	 * that what follows is laid out from the top of an empty heap. */
	printf("# alloc.c\n");

	/* Reuse and merging. */
	a = alloc_malloc(100);
	b = alloc_malloc(100);
	c = alloc_malloc(100);
	d = alloc_malloc(100);     /* keeps c off the top */
	alloc_free(a);
	p = alloc_malloc(100);
	CHECK("a freed block is used again", p == a);
	alloc_free(a);
	alloc_free(c);
	alloc_free(b);
	CHECK("three neighbours freed: one block", alloc_check() == 0);
	p = alloc_malloc(300);
	CHECK("the merged block takes a request of all three", p == a);
	alloc_free(p);
	alloc_free(d);
	CHECK("all freed: back to the top", alloc_malloc(10) == a);
	alloc_free(a);
	CHECK("heap consistent after merging", alloc_check() == 0);

	/* realloc keeps the bytes, in place where it can. */
	p = alloc_malloc(64);
	memset(p, 7, 64);
	q = alloc_realloc(p, 4000);
	CHECK("realloc at the top grows in place", q == p);
	CHECK("realloc keeps the bytes", q[0] == 7 && q[63] == 7);
	q = alloc_realloc(q, 32);
	CHECK("realloc shrinks in place", q == p && q[31] == 7);
	b = alloc_malloc(16);   /* after q's trimmed tail */
	alloc_free(b);
	q = alloc_realloc(q, 100000);
	memset(q, 9, 100000);
	q = alloc_realloc(q, 300000);
	CHECK("a big block grows with its bytes",
	    q != NULL && q[0] == 9 && q[99999] == 9 && alloc_usable(q) >= 300000);
	q = alloc_realloc(q, 100);
	CHECK("and shrinks back into the arena", q != NULL && q[99] == 9);
	alloc_free(q);
	CHECK("heap consistent after realloc", alloc_check() == 0);

	/* Sizes at the edges. */
	p = alloc_malloc(0);
	q = alloc_malloc(0);
	CHECK("malloc(0): distinct blocks", p != NULL && q != NULL && p != q);
	alloc_free(p);
	alloc_free(q);
	errno = 0;
	CHECK("malloc(SIZE_MAX): NULL, ENOMEM",
	    alloc_malloc(SIZE_MAX) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK("malloc(SIZE_MAX - 8): NULL, ENOMEM",
	    alloc_malloc(SIZE_MAX - 8) == NULL && errno == ENOMEM);
	p = alloc_malloc(8);
	errno = 0;
	CHECK("realloc(p, SIZE_MAX): NULL, p kept",
	    alloc_realloc(p, SIZE_MAX) == NULL && errno == ENOMEM && alloc_check() == 0);
	alloc_free(p);
	alloc_free(NULL);
	CHECK("free(NULL) does nothing", alloc_check() == 0);

	/* Alignment. */
	ok = 1;
	for (n = 32; n <= 16384; n *= 2) {
		p = alloc_aligned(n, 100);
		if (p == NULL || (uintptr_t)p % n != 0 || alloc_usable(p) < 100)
			ok = 0;
		if (p != NULL)
			memset(p, 1, 100);
		alloc_free(p);
	}
	CHECK("aligned_alloc: 32 to 16384", ok);
	p = alloc_aligned(8, 10);
	CHECK("aligned_alloc(8): 16-aligned", p != NULL && (uintptr_t)p % 16 == 0);
	alloc_free(p);
	errno = 0;
	CHECK("aligned_alloc(24): EINVAL",
	    alloc_aligned(24, 10) == NULL && errno == EINVAL);

	/* Past the arena in the bss (1 MiB): more arenas, mapped. */
	ok = 1;
	for (i = 0; i < 3200; i++)
		if ((big[i] = alloc_malloc(1000)) == NULL)
			ok = 0;
		else
			memset(big[i], (unsigned char)i, 1000);
	for (i = 0; i < 3200; i++)
		if (big[i] != NULL && (big[i][0] != (char)(unsigned char)i ||
		    big[i][999] != (char)(unsigned char)i))
			ok = 0;
	CHECK("3 MiB of small blocks: further arenas", ok && alloc_check() == 0);
	for (i = 0; i < 3200; i += 2)
		alloc_free(big[i]);
	CHECK("every other one freed", alloc_check() == 0);
	for (i = 1; i < 3200; i += 2)
		alloc_free(big[i]);
	CHECK("all freed", alloc_check() == 0);

	/* Random use. */
	CHECK("200000 random malloc, realloc, free",
	    stress(200000, &bad_align, &bad_bytes, &bad_heap) == 0);
	CHECK("every block 16-aligned and as big as asked", bad_align == 0);
	CHECK("no block's bytes changed by another", bad_bytes == 0);
	CHECK("the heap consistent throughout", bad_heap == 0);
	CHECK("the heap consistent at the end", alloc_check() == 0);

	/* Misuse stops the process. */
	CHECK("a second free aborts", dies_of(double_free) == SIGABRT);
	CHECK("a header overwritten before the bytes aborts",
	    dies_of(underrun) == SIGABRT);
	CHECK("a write into the next block's header aborts",
	    dies_of(overrun) == SIGABRT);
	CHECK("a free block's forged links abort",
	    dies_of(forged_links) == SIGABRT);
	CHECK("freeing memory that is not ours aborts",
	    dies_of(foreign) == SIGABRT);
	i = dies_of(double_free_big);
	CHECK("a second free of a mapped block stops the process",
	    i == SIGABRT || i == SIGSEGV);

#ifndef ALLOC_SANITIZED
	/* This program's malloc is alloc.c's (a sanitizer keeps its own). */
	p = malloc(100);
	CHECK("malloc is alloc.c's", p != NULL && alloc_usable(p) >= 100 &&
	    alloc_check() == 0);
	free(p);
	p = calloc(1000, 10);
	CHECK("calloc zeroes", p != NULL && p[0] == 0 && p[9999] == 0);
	free(p);
	errno = 0;
	CHECK("calloc overflow: NULL, ENOMEM",
	    calloc_fn(huge, 3) == NULL && errno == ENOMEM);
	CHECK("posix_memalign(3): EINVAL", posix_memalign((void **)&p, 3, 8) == EINVAL);
	CHECK("posix_memalign(64)", posix_memalign((void **)&p, 64, 8) == 0 &&
	    (uintptr_t)p % 64 == 0);
	free(p);
#endif
	return UNIT_END();
}
