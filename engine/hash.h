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

static inline uint64_t bw__hash_bytes(uint64_t h, const char *p, size_t n) {
  h = bw__mix64(h, n);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = bw__mix64(h, v);
    p += 8;
    n -= 8;
  }
  uint64_t t = 0;
  memcpy(&t, p, n);
  return bw__mix64(h, t);
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
  uint64_t t = 0;
  memcpy(&t, p, n);
  return bw__mix64(h, bw__fold8(t));
}

#endif
