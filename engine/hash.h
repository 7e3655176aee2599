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

#endif
