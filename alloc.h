/* alloc.h: the allocator behind malloc(3) in itkd (alloc.c). The program
 * calls malloc and free as usual; these names are for the tests, which
 * also build alloc.c beside a sanitizer's own malloc. */
#ifndef ITKD_ALLOC_H
#define ITKD_ALLOC_H

#include <stddef.h>

/* Defined under AddressSanitizer (gcc says so one way, clang another):
 * then malloc stays the sanitizer's, and alloc.c is only these names. */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_SANITIZED 1
#endif
#endif

/* As malloc, free and realloc. */
void *alloc_malloc(size_t n);
void alloc_free(void *p);
void *alloc_realloc(void *p, size_t n);

/* As aligned_alloc, for any power of two `align`; NULL and EINVAL for
 * another. */
void *alloc_aligned(size_t align, size_t n);

/* The bytes p may use (at least what it was asked for). */
size_t alloc_usable(const void *p);

/* Walk every arena and the free list: 0 if all is consistent, else -1.
 * For the tests; the allocator checks each block it is handed itself. */
int alloc_check(void);

#endif
