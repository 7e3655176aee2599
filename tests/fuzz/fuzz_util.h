/* What the libFuzzer harnesses here share: libFuzzer's entry point,
 * CHECK, which aborts (a crash libFuzzer saves the input of) when an
 * invariant of the code under test does not hold, and the patching of a
 * valid file by the input. Test code only. */
#ifndef BW_FUZZ_UTIL_H
#define BW_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* XOR into buf[0..len) (len > 0) the patches data[from..size) holds:
 * repeated [offset: 2 bytes, big-endian][count: 1 byte][count bytes],
 * offsets taken modulo len and wrapping, a short last patch as it is.
 * The state harnesses mutate a valid file this way, so the fuzzer
 * reaches the checks behind its magic and sizes. */
static inline void fuzz_patch(char *buf, size_t len, const uint8_t *data,
                              size_t from, size_t size) {
  for (size_t i = from; i + 3 <= size;) {
    size_t off = ((size_t)data[i] << 8 | data[i + 1]) % len;
    size_t n = data[i + 2];
    i += 3;
    for (size_t k = 0; k < n && i < size; k++, i++)
      buf[(off + k) % len] ^= (char)data[i];
  }
}

#endif
