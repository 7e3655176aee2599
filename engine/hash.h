/* A fast 64-bit hash for table keys: 8 bytes a step through a
 * multiply-xorshift mix (FNV's byte loop cost a quarter of the join's
 * message lookups in perf). Not for adversarial inputs: only spreads
 * keys over tables whose probes compare the whole key anyway. */
#ifndef BW_HASH_H
#define BW_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t bw__mix64(uint64_t h, uint64_t v) {
  h ^= v * 0x9E3779B97F4A7C15ull;
  h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 29);
}

/* The last n < 8 bytes at p as a little-endian word, zero-extended: what
 * memcpy into a zeroed word gives (the values are kept in state files),
 * without its library call for a variable size (a third of a short
 * key's hash). Two overlapping loads agree on the bytes they share. */
static inline uint64_t bw__tail8(const char *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  if (n >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, b, 4);
    memcpy(&hi, b + n - 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (uint64_t)lo | ((uint64_t)hi << (8 * (n - 4)));
#else
    (void)lo;
    (void)hi;
#endif
  } else if (n > 0) {
    return (uint64_t)b[0] | ((uint64_t)b[n / 2] << (8 * (n / 2))) |
           ((uint64_t)b[n - 1] << (8 * (n - 1)));
  } else {
    return 0;
  }
  uint64_t t = 0; /* big-endian hosts: the portable way */
  memcpy(&t, p, n);
  return t;
}

static inline uint64_t bw__hash_bytes(uint64_t h, const char *p, size_t n) {
  h = bw__mix64(h, n);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = bw__mix64(h, v);
    p += 8;
    n -= 8;
  }
  return bw__mix64(h, bw__tail8(p, n));
}

/* ASCII upper case to lower case in each byte of v, other bytes as they
 * are (SWAR: a byte's high bit in `upper` says it is in 'A'..'Z'). */
static inline uint64_t bw__fold8(uint64_t v) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t low7 = v & ~high;
  uint64_t ge_a = low7 + (0x80 - 'A') * ones; /* high bit: >= 'A' */
  uint64_t gt_z = low7 + (0x7f - 'Z') * ones; /* high bit: > 'Z' */
  uint64_t upper = ge_a & ~gt_z & ~v & high;
  return v | (upper >> 2); /* 0x80 >> 2 = 0x20, the case bit */
}

/* bw__hash_bytes of p[0..n) lower-cased (ASCII), without a copy: a
 * lower-case name hashes the same either way. */
static inline uint64_t bw__hash_folded(uint64_t h, const char *p, size_t n) {
  h = bw__mix64(h, n);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = bw__mix64(h, bw__fold8(v));
    p += 8;
    n -= 8;
  }
  return bw__mix64(h, bw__fold8(bw__tail8(p, n)));
}

#endif
