/* libFuzzer harness for bw_replay_run() (replay.h): the input is one
 * file (a memfd, rewritten per input), replayed with tiny blocks (64
 * bytes, 2 in flight) and max_line 200, so lines straddle many blocks and
 * the reader waits on the consumer all the time; no rules. Checks that
 * the counters add up, events arrive in order, and a plain file's lines
 * are all accounted for. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bouncewatch/decode.h"
#include "bouncewatch/error.h"
#include "bouncewatch/replay.h"
#include "fuzz_util.h"

#define MAX_LINE 200

static int fd = -1;
static char path[64];

typedef struct {
  uint64_t events, last_line;
  uint64_t progress_calls, last_read;
  size_t size;
} seen_t;

static void on_event(void *arg, const bw_event_t *ev, const bw_verdict_t *v,
                     const bw_line_ref_t *where) {
  seen_t *s = arg;
  CHECK(v == NULL); /* no rules, no verdicts */
  CHECK((unsigned)ev->kind < BW_KIND__COUNT);
  CHECK(where->path == path);
  CHECK(where->line_no > s->last_line);
  s->last_line = where->line_no;
  s->events++;
}

static void on_progress(void *arg, size_t file, uint64_t read) {
  seen_t *s = arg;
  CHECK(file == 0);
  CHECK(read >= s->last_read && read <= s->size);
  s->last_read = read;
  s->progress_calls++;
}

static void open_file(void) {
  fd = memfd_create("bw-fuzz-replay", MFD_CLOEXEC);
  if (fd >= 0) {
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return;
  }
  /* No memfd (old kernel, seccomp): a file in /tmp. */
  snprintf(path, sizeof(path), "/tmp/bw-fuzz-replay-%ld", (long)getpid());
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
}

static uint64_t sum(const uint64_t *v, size_t n) {
  uint64_t t = 0;
  for (size_t i = 0; i < n; i++)
    t += v[i];
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fd < 0)
    open_file();
  CHECK(ftruncate(fd, 0) == 0);
  for (size_t off = 0; off < size;) {
    ssize_t k = pwrite(fd, data + off, size - off, (off_t)off);
    CHECK(k > 0);
    off += (size_t)k;
  }

  seen_t seen = {0, 0, 0, 0, size};
  bw_replay_opts_t o = {0};
  o.max_line = MAX_LINE;
  o.block_size = 64;
  o.blocks = 2;
  o.progress_cb = on_progress;
  o.progress_arg = &seen;
  bw_replay_t *r;
  CHECK(bw_replay_new(&o, on_event, &seen, &r) == 0);
  CHECK(bw_replay_max_line(r) == MAX_LINE);
  const char *paths[1] = {path};
  int rc = bw_replay_run(r, paths, 1);
  const bw_replay_stats_t *s = bw_replay_stats(r);
  const bw_file_stats_t *f = &s->files[0];

  CHECK(s->nfiles == 1);
  CHECK(rc == f->error);
  CHECK(s->files_failed == (f->error != 0));
  CHECK(memchr(f->errmsg, '\0', sizeof(f->errmsg)) != NULL);
  CHECK(f->error == 0 || f->errmsg[0] != '\0');
  CHECK(f->format == bw_format_detect(data, size < BW_MAGIC_MAX ? size : BW_MAGIC_MAX));
  CHECK(f->bytes_read <= size && s->bytes_read == f->bytes_read);
  CHECK(s->bytes_decoded == f->bytes_decoded);

  /* Every parsed line is counted once in each breakdown. */
  CHECK(s->lines == seen.events);
  CHECK(s->lines == f->lines);
  CHECK(s->long_lines == f->long_lines);
  CHECK(s->lines == sum(s->by_kind, BW_KIND__COUNT));
  CHECK(s->lines == sum(s->by_mta, 3));
  CHECK(s->deliveries == s->by_kind[BW_KIND_DELIVERY]);
  CHECK(s->deliveries == sum(s->by_status, BW_STATUS__COUNT));
  CHECK(s->deliveries == sum(s->by_stage, BW_STAGE__COUNT));
  CHECK(s->deliveries == sum(s->by_dsn_class, 6));
  for (int c = 0; c < 6; c++)
    CHECK(sum(s->by_dsn_subject[c], 8) <= s->by_dsn_class[c]);
  CHECK(s->classified == 0 && s->hard == 0 && s->soft == 0);
  CHECK(s->partial_tails <= 1);
  CHECK(s->partial_tails == 0 || (f->error != 0 && f->tail_bytes > 0));
  uint64_t skipped = s->long_lines + s->partial_tails;
  CHECK(s->nskips == (skipped < BW_SKIP_SAMPLES ? skipped : BW_SKIP_SAMPLES));
  for (size_t i = 0; i < s->nskips; i++) {
    CHECK(s->skips[i].file == 0);
    CHECK(s->skips[i].why != NULL);
    CHECK(s->skips[i].line_no >= 1);
  }
  CHECK(seen.progress_calls > 0);

  if (f->format == BW_FMT_PLAIN) {
    /* Nothing to decode: every byte is read, and every "\n" ends a line
     * that is either parsed or skipped, plus an unterminated tail. */
    uint64_t nl = 0;
    for (const uint8_t *p = data; (p = memchr(p, '\n', size - (size_t)(p - data))) != NULL; p++)
      nl++;
    int tail = size > 0 && data[size - 1] != '\n';
    CHECK(f->error == 0);
    CHECK(f->bytes_read == size && f->bytes_decoded == size);
    CHECK(s->lines + s->long_lines == nl + (uint64_t)tail);
  } else if (f->format != BW_FMT_ZSTD && f->format != BW_FMT_GZIP) {
    CHECK(f->error == BW_EUNSUPPORTED);
    CHECK(s->lines == 0 && s->long_lines == 0);
  }
  bw_replay_free(r);
  return 0;
}
