/* alloc.c: malloc(3) for itkd, from an arena in the program's own bss.
 *
 * Why not the C library's: each fork copies, and each connection process's
 * exit tears down, every mapping the master holds: about 1.2 us a mapping
 * on the benchmark machine. musl's malloc keeps even a small heap
 * in four mappings of its own (its metadata in a brk area behind a guard
 * page, and mmap'd groups). These blocks live in the bss, which is mapped
 * anyway; a one-request connection costs some 7 us less for it
 * (bench/results/ANALYSIS.md).
 *
 * Who allocates: the master while it loads a config (at start and on each
 * reload), and the C library on its behalf (stdio, getpwnam); after the
 * identity switch a connection process may too (a directory listing).
 * Nothing that reads a request before the switch does (docs/design.md). itkd
 * has no threads, so there is no lock.
 *
 * A block is a multiple of 16 bytes and 16-aligned: a header (its size and
 * flags, and a check word that a stray write or a second free breaks), the
 * caller's bytes, and a footer (the size again), so that free merges it at
 * once with a free neighbour on either side. No two free blocks touch.
 * Free blocks are on one list, taken first fit. Above an arena's last block
 * is its top, not carved yet, marked by a fence header; a block freed
 * against the top goes back to it. A request of BIG bytes or more gets a
 * mapping of its own (a large config's vhost array), as it would from musl;
 * when the bss arena is full, further arenas are mapped.
 *
 * Under AddressSanitizer (make check SANITIZE=1, make fuzz) the sanitizer's
 * malloc stays the program's: it is the one that finds our mistakes, and
 * the tests drive this file through its alloc_ names. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"

#define ALIGN           16
#define HDR             16              /* head and check, padded */
#define FTR             sizeof(size_t)
#define MIN_BLOCK       48              /* header, free-list links, footer */
#define BIG             (64 * 1024)     /* and more: a mapping of its own */
#define ARENA_BSS       (1024 * 1024)
#define ARENA_MAPPED    (1024 * 1024)
#define ARENAS_MAX      64
#define USED            ((size_t)1)
#define MAPPED          ((size_t)2)
#define FLAGS           ((size_t)15)
#define MAGIC           ((size_t)0x69746b64a110c8edull)

struct block {
	size_t head;                    /* size | flags; a fence: USED, size 0 */
	size_t check;                   /* head ^ address ^ MAGIC */
	struct block *next, *prev;      /* a free block's, on free_list */
};

/* A mapped block's own record, in the 16 bytes before its header. */
struct mapping {
	size_t off;                     /* from the mapping's start to the bytes */
	size_t len;                     /* of the mapping */
};

struct arena {
	char *base, *end;
	char *top;                      /* the fence: nothing carved from here */
};

static _Alignas(ALIGN) char arena_bss[ARENA_BSS];
static struct arena arenas[ARENAS_MAX];
static int narenas;
static struct block *free_list;

/* A broken header: a write out of bounds, or a pointer freed twice or never
 * allocated. Nothing is safe to do but stop. */
static void __attribute__((noreturn))
corrupt(void)
{
	static const char msg[] = "itkd: alloc: heap corruption\n";

	(void)!write(2, msg, sizeof(msg) - 1);
	abort();
}

static size_t
size_of(const struct block *b)
{
	return b->head & ~FLAGS;
}

static int
intact(const struct block *b)
{
	return b->check == (b->head ^ (uintptr_t)b ^ MAGIC);
}

static void
checked(const struct block *b)
{
	if (!intact(b))
		corrupt();
}

/* Header and footer (the footer only for a real block, not a fence). */
static void
set_block(struct block *b, size_t size, size_t flags)
{
	b->head = size | flags;
	b->check = b->head ^ (uintptr_t)b ^ MAGIC;
	if (size > 0)
		memcpy((char *)b + size - FTR, &b->head, FTR);
}

static size_t
footer_before(const struct block *b)
{
	size_t f;

	memcpy(&f, (const char *)b - FTR, FTR);
	return f;
}

static struct block *
block_of(const void *p)
{
	return (struct block *)((char *)p - HDR);
}

static void *
bytes_of(struct block *b)
{
	return (char *)b + HDR;
}

/* The links are checked before they are followed: a free block's links
 * are what an overflow from its neighbour would forge, to make the
 * unlinking write where it chose. */
static void
unlink_free(struct block *b)
{
	if ((b->prev != NULL ? b->prev->next : free_list) != b ||
	    (b->next != NULL && b->next->prev != b))
		corrupt();
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		free_list = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
}

static void
link_free(struct block *b)
{
	b->prev = NULL;
	b->next = free_list;
	if (free_list != NULL)
		free_list->prev = b;
	free_list = b;
}

/* The block size for n bytes, or 0 if n is too large for any. */
static size_t
block_size(size_t n)
{
	size_t need;

	if (n > SIZE_MAX / 2)
		return 0;
	need = (n + HDR + FTR + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* The arena's top, and its fence, moved to p. */
static void
top_at(struct arena *a, char *p)
{
	a->top = p;
	set_block((struct block *)p, 0, USED);
}

/* Whether the top can move up by n bytes and still keep its fence. */
static int
has_room(const struct arena *a, size_t n)
{
	return (size_t)(a->end - a->top) >= n + HDR;
}

/* [base, base + len): a fence footer first, so that the first block's
 * left neighbour reads as in use, then the top's fence. */
static int
arena_add(char *base, size_t len)
{
	struct arena *a;
	size_t used = USED;

	if (narenas == ARENAS_MAX)
		return -1;
	a = &arenas[narenas++];
	a->base = base;
	a->end = base + len;
	memcpy(base + HDR - FTR, &used, FTR);
	top_at(a, base + HDR);
	return 0;
}

static struct arena *
arena_of(const struct block *b)
{
	int i;

	for (i = 0; i < narenas; i++)
		if ((const char *)b >= arenas[i].base && (const char *)b < arenas[i].end)
			return &arenas[i];
	corrupt();
}

/* A new block of `size` from an arena's top, or NULL if none has room. */
static struct block *
carve(size_t size)
{
	struct block *b;
	struct arena *a;
	void *m;
	int i;

	if (narenas == 0)
		(void)arena_add(arena_bss, sizeof(arena_bss));
	for (i = 0;; i++) {
		if (i == narenas) {
			m = mmap(NULL, ARENA_MAPPED, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				return NULL;
			if (arena_add(m, ARENA_MAPPED) < 0) {
				munmap(m, ARENA_MAPPED);
				return NULL;
			}
		}
		a = &arenas[i];
		if (has_room(a, size))
			break;
	}
	b = (struct block *)a->top;
	set_block(b, size, USED);
	top_at(a, a->top + size);
	return b;
}

/* Take b (in use, checked) back: merged with a free neighbour on either
 * side, and into the top if it ends there. */
static void
give_back(struct block *b)
{
	size_t size = size_of(b), f = footer_before(b);
	struct block *n, *p;

	if (!(f & USED)) {
		p = (struct block *)((char *)b - (f & ~FLAGS));
		checked(p);
		if (p->head != f)
			corrupt();
		unlink_free(p);
		size += size_of(p);
		b = p;
	}
	n = (struct block *)((char *)b + size);
	checked(n);
	if (n->head == USED) {          /* the top's fence */
		top_at(arena_of(b), (char *)b);
		return;
	}
	if (!(n->head & USED)) {
		unlink_free(n);
		size += size_of(n);
	}
	set_block(b, size, 0);
	link_free(b);
}

/* Keep `size` of the in-use b, giving the rest back if a block fits in it. */
static void
trim(struct block *b, size_t size)
{
	size_t have = size_of(b);
	struct block *rest;

	if (have - size < MIN_BLOCK)
		return;
	set_block(b, size, USED);
	rest = (struct block *)((char *)b + size);
	set_block(rest, have - size, USED);
	give_back(rest);
}

/* n bytes at an `align` boundary (a power of two, 16 or more) in a
 * mapping of their own. */
static void *
map_block(size_t n, size_t align)
{
	size_t off = align > 2 * HDR ? align : 2 * HDR, len;
	struct mapping rec;
	char *m, *p;

	if (n > SIZE_MAX / 2 - off - align)
		goto err;
	len = (off + n + (align > 2 * HDR ? align : 0) + ALIGN - 1) &
	    ~(size_t)(ALIGN - 1);
	if ((m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)m + off + align - 1) & ~(uintptr_t)(align - 1));
	rec.off = (size_t)(p - m);
	rec.len = len;
	memcpy(p - 2 * HDR, &rec, sizeof(rec));
	set_block(block_of(p), 0, USED | MAPPED);
	return p;
err:
	errno = ENOMEM;
	return NULL;
}

static struct mapping
mapping_of(const void *p)
{
	struct mapping rec;

	memcpy(&rec, (const char *)p - 2 * HDR, sizeof(rec));
	return rec;
}

/* A mapped block resized to n bytes (BIG or more): the kernel moves the
 * pages rather than we the bytes, so a vhost array grown by one entry per
 * `vhost` line is not copied whole each time. */
static void *
remap_block(void *p, size_t n)
{
	struct mapping rec = mapping_of(p);
	size_t len;
	char *m, *q;

	if (rec.off != 2 * HDR)         /* aligned beyond 16: moved by hand */
		return NULL;
	len = (2 * HDR + n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if ((m = mremap((char *)p - rec.off, rec.len, len, MREMAP_MAYMOVE)) ==
	    MAP_FAILED)
		return NULL;
	q = m + rec.off;
	rec.len = len;
	memcpy(q - 2 * HDR, &rec, sizeof(rec));
	set_block(block_of(q), 0, USED | MAPPED);
	return q;
}

/* The block of p, which must be one of ours and in use. */
static struct block *
used_block(const void *p)
{
	struct block *b = block_of(p);

	checked(b);
	if (b->head & MAPPED) {
		if (b->head != (USED | MAPPED))
			corrupt();
	} else if (!(b->head & USED) || size_of(b) < MIN_BLOCK) {
		corrupt();      /* freed already, or a fence */
	}
	return b;
}

void *
alloc_malloc(size_t n)
{
	size_t size = block_size(n);
	struct block *b;

	if (size == 0)
		goto err;
	if (n >= BIG)
		return map_block(n, ALIGN);
	for (b = free_list; b != NULL; b = b->next)
		if (size_of(b) >= size)
			break;
	if (b != NULL) {
		checked(b);
		unlink_free(b);
		set_block(b, size_of(b), USED);
		trim(b, size);
	} else if ((b = carve(size)) == NULL) {
		goto err;
	}
	return bytes_of(b);
err:
	errno = ENOMEM;
	return NULL;
}

void
alloc_free(void *p)
{
	struct block *b;
	struct mapping rec;

	if (p == NULL)
		return;
	b = used_block(p);
	if (b->head & MAPPED) {
		rec = mapping_of(p);
		munmap((char *)p - rec.off, rec.len);
		return;
	}
	give_back(b);
}

size_t
alloc_usable(const void *p)
{
	struct block *b = used_block(p);
	struct mapping rec;

	if (b->head & MAPPED) {
		rec = mapping_of(p);
		return rec.len - rec.off;
	}
	return size_of(b) - HDR - FTR;
}

void *
alloc_realloc(void *p, size_t n)
{
	size_t size = block_size(n), have, more;
	struct block *b, *next;
	struct arena *a;
	void *q;

	if (p == NULL)
		return alloc_malloc(n);
	b = used_block(p);
	if (size == 0) {
		errno = ENOMEM;
		return NULL;
	}
	if ((b->head & MAPPED) && n >= BIG && (q = remap_block(p, n)) != NULL)
		return q;
	if (!(b->head & MAPPED) && n < BIG) {
		have = size_of(b);
		if (size <= have) {
			trim(b, size);
			return p;
		}
		/* Grow in place: into the top, or into a free right neighbour. */
		next = (struct block *)((char *)b + have);
		checked(next);
		more = size - have;
		if (next->head == USED) {
			a = arena_of(b);
			if (has_room(a, more)) {
				set_block(b, size, USED);
				top_at(a, (char *)b + size);
				return p;
			}
		} else if (!(next->head & USED) && size_of(next) >= more) {
			unlink_free(next);
			set_block(b, have + size_of(next), USED);
			trim(b, size);
			return p;
		}
	}
	if ((q = alloc_malloc(n)) == NULL)
		return NULL;
	have = alloc_usable(p);
	memcpy(q, p, have < n ? have : n);
	alloc_free(p);
	return q;
}

void *
alloc_aligned(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= ALIGN)
		return alloc_malloc(n);
	return map_block(n, align);
}

int
alloc_check(void)
{
	const struct block *b, *prev;
	size_t nfree = 0, nlisted = 0;
	int i, was_free;

	for (i = 0; i < narenas; i++) {
		was_free = 0;
		for (b = (const struct block *)(arenas[i].base + HDR);
		    (const char *)b < arenas[i].top;
		    b = (const struct block *)((const char *)b + size_of(b))) {
			if (!intact(b) || size_of(b) < MIN_BLOCK ||
			    size_of(b) % ALIGN != 0 || (b->head & MAPPED) ||
			    (const char *)b + size_of(b) > arenas[i].top ||
			    footer_before((const struct block *)((const char *)b +
			    size_of(b))) != b->head)
				return -1;
			if (!(b->head & USED)) {
				if (was_free)
					return -1;      /* two free blocks touch */
				nfree++;
			}
			was_free = !(b->head & USED);
		}
		if ((const char *)b != arenas[i].top || b->head != USED ||
		    !intact(b) || was_free)
			return -1;
	}
	for (prev = NULL, b = free_list; b != NULL; prev = b, b = b->next) {
		if ((b->head & USED) || b->prev != prev || ++nlisted > nfree)
			return -1;
	}
	return nlisted == nfree ? 0 : -1;
}

/* ---- The C library's names ---- */

#ifndef ALLOC_SANITIZED
void *
malloc(size_t n)
{
	return alloc_malloc(n);
}

void
free(void *p)
{
	alloc_free(p);
}

void *
calloc(size_t n, size_t m)
{
	void *p;

	if (m != 0 && n > SIZE_MAX / m) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = alloc_malloc(n * m)) != NULL)
		memset(p, 0, n * m);
	return p;
}

void *
realloc(void *p, size_t n)
{
	return alloc_realloc(p, n);
}

void *
aligned_alloc(size_t align, size_t n)
{
	return alloc_aligned(align, n);
}

int
posix_memalign(void **res, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	if ((p = alloc_aligned(align, n)) == NULL)
		return ENOMEM;
	*res = p;
	return 0;
}

void *
memalign(size_t align, size_t n)
{
	return alloc_aligned(align, n);
}

void *
valloc(size_t n)
{
	return alloc_aligned((size_t)sysconf(_SC_PAGESIZE), n);
}

/* glibc's only; declared here, since musl does not. */
void *pvalloc(size_t n);
void *
pvalloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (n > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_aligned(page, (n + page - 1) & ~(page - 1));
}

size_t
malloc_usable_size(void *p)
{
	return p == NULL ? 0 : alloc_usable(p);
}
#endif
