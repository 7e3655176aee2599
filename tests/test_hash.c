/* The table hashes (engine/hash.h): their values are kept in state files
 * (the message table stores hashes, not keys), so a faster way of
 * computing them must give the same values. Checked against the plain
 * definition (a memcpy of the last bytes into a zeroed word) for every
 * length up to 40 and every alignment, and pinned on a few keys. */
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "t_util.h"

static uint64_t ref_tail(const char *p, size_t n) {
  uint64_t t = 0;
  memcpy(&t, p, n);
  return t;
}

static uint64_t ref_hash(uint64_t h, const char *p, size_t n, int fold) {
  h = bw__mix64(h, n);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = bw__mix64(h, fold ? bw__fold8(v) : v);
    p += 8;
    n -= 8;
  }
  uint64_t t = ref_tail(p, n);
  return bw__mix64(h, fold ? bw__fold8(t) : t);
}

static void test_same_values(void **state) {
  (void)state;
  char buf[64];
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (char)(i * 37 + 11); /* every byte value class: high bits too */
  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; n <= 40; n++) {
      assert_true(bw__tail8(buf + off, n % 8) == ref_tail(buf + off, n % 8));
      assert_true(bw__hash_bytes(7, buf + off, n) ==
                  ref_hash(7, buf + off, n, 0));
      assert_true(bw__hash_folded(7, buf + off, n) ==
                  ref_hash(7, buf + off, n, 1));
    }
}

static void test_pinned(void **state) {
  (void)state;
  /* Values of the build that wrote the first state files (computed then
   * with its hash.h): a message key ("postfix" instance, then a queue
   * id, as agg.c chains them) and an interned name. */
  uint64_t inst = bw__hash_bytes(0x243F6A8885A308D3ull, "postfix", 7);
  assert_true(inst == 0xaddffb619b03bc32ull);
  assert_true(bw__hash_bytes(inst, "3F2A1B0C4D", 10) == 0x53723d1e0fe941b0ull);
  assert_true(bw__hash_bytes(0x9E3779B97F4A7C15ull, "example.org", 11) ==
              0x5af6fe3b82960499ull);
  assert_true(bw__hash_folded(0x9E3779B97F4A7C15ull, "Example.ORG", 11) ==
              0x5af6fe3b82960499ull);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_values),
      cmocka_unit_test(test_pinned),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
