/* state_v1: rewrite a watch state file (BWWATCH2) as the previous
 * version wrote it (BWWATCH1: no journal cursor, the checksum without
 * it), so tests/watch.sh can check that an upgrade resumes instead of
 * setting the state aside. Usage: state_v1 IN OUT. Test code only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/replay.h"
#include "follow.h"
#include "hash.h"

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL)
    return 1;
  static char b[64 << 20];
  size_t n = fread(b, 1, sizeof(b), f), at = 8;
  fclose(f);
  uint32_t paths, len, clen;
  if (n < 12 || memcmp(b, "BWWATCH2", 8) != 0)
    return 1;
  uint64_t h = 0x9E3779B97F4A7C15ull;
  memcpy(&paths, b + at, 4);
  h = bw__hash_bytes(h, b + at, 4);
  at += 4;
  for (uint32_t i = 0; i < paths; i++) {
    memcpy(&len, b + at, 4);
    at += 4;
    h = bw__hash_bytes(h, b + at, len);
    at += len;
    h = bw__hash_bytes(h, b + at, 2 * sizeof(bw_follow_pos_t));
    at += 2 * sizeof(bw_follow_pos_t);
  }
  size_t cursor_at = at;
  memcpy(&clen, b + at, 4);
  at += 4 + clen;
  h = bw__hash_bytes(h, b + at, sizeof(bw_replay_stats_t));
  size_t check_at = at + sizeof(bw_replay_stats_t);
  if (check_at + 8 > n)
    return 1;
  FILE *o = fopen(argv[2], "wb");
  if (o == NULL)
    return 1;
  fwrite("BWWATCH1", 1, 8, o);
  fwrite(b + 8, 1, cursor_at - 8, o);
  fwrite(b + at, 1, sizeof(bw_replay_stats_t), o);
  fwrite(&h, 8, 1, o);
  fwrite(b + check_at + 8, 1, n - check_at - 8, o);
  return fclose(o) != 0;
}
