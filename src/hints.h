/*
 * hints.h - what the compiler is told about branches and inlining on the
 * hot paths (the JSON check, the pool, the header callback): GCC's and
 * clang's attributes, nothing elsewhere.
 */
#ifndef RETRYRUN_HINTS_H
#define RETRYRUN_HINTS_H

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define NOINLINE
#define ALWAYS_INLINE inline
#endif

#endif
