/* libFuzzer harness for the line splitter (lines.h): a small max_line,
 * the stream fed in random chunk sizes, twice through one splitter with a
 * reset between. Every callback is checked against a one-pass model of
 * the contract: lines split at "\n", one "\r" before it dropped, lines
 * over max_line (not counting that "\r") reported whole with their
 * length, numbered from 1 across both callbacks; the tail without "\n"
 * is a line or is dropped, as the caller says.
 *
 * Input: byte 0 seeds the chunk sizes, byte 1 picks max_line (bits 0-5,
 * 1..64) and whether the tail is a line (bit 6); the rest is the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/lines.h"
#include "fuzz_util.h"

/* What the model expects next, walked as the callbacks arrive. */
typedef struct {
  const char *in, *end; /* the whole stream */
  const char *pos;      /* start of the next expected line */
  size_t max_line;
  int tail_is_line;
  uint64_t line_no; /* last number seen */
  uint64_t lines, longs;
} model_t;

/* The next line of the model: its raw bytes [pos, e) (without "\n"),
 * whether it ended in "\n", its delivered length and whether it is
 * over-long. Returns 0 at the end of the stream. */
static int model_next(model_t *m, size_t *raw, size_t *deliver, int *is_long,
                      int *has_nl) {
  if (m->pos >= m->end)
    return 0;
  const char *nl = memchr(m->pos, '\n', (size_t)(m->end - m->pos));
  const char *e = nl != NULL ? nl : m->end;
  *raw = (size_t)(e - m->pos);
  *has_nl = nl != NULL;
  size_t d = *raw;
  if (d > 0 && m->pos[d - 1] == '\r')
    d--;
  *deliver = d;
  /* With "\n" the "\r" does not count against the cap; an unterminated
   * tail is measured as it stands (linesplit.c, bw_splitter_end). */
  *is_long = *has_nl ? d > m->max_line : *raw > m->max_line;
  return 1;
}

static void advance(model_t *m, size_t raw, int has_nl) {
  m->pos += raw + (has_nl ? 1 : 0);
}

static void on_line(void *arg, const char *line, size_t len,
                    uint64_t line_no) {
  model_t *m = arg;
  size_t raw, deliver;
  int is_long, has_nl;
  CHECK(model_next(m, &raw, &deliver, &is_long, &has_nl));
  CHECK(line_no == m->line_no + 1);
  CHECK(len <= m->max_line);
  CHECK(len == 0 || line != NULL);
  CHECK(len == 0 || memchr(line, '\n', len) == NULL);
  CHECK(!is_long);
  CHECK(has_nl || m->tail_is_line);
  CHECK(len == deliver);
  CHECK(len == 0 || memcmp(line, m->pos, len) == 0);
  m->line_no = line_no;
  m->lines++;
  advance(m, raw, has_nl);
}

static void on_long(void *arg, uint64_t line_no, uint64_t len) {
  model_t *m = arg;
  size_t raw, deliver;
  int is_long, has_nl;
  CHECK(model_next(m, &raw, &deliver, &is_long, &has_nl));
  CHECK(line_no == m->line_no + 1);
  CHECK(is_long);
  CHECK(has_nl || m->tail_is_line);
  /* lines.h: "len is its full length" (the "\r" included). */
  CHECK(len == raw);
  m->line_no = line_no;
  m->longs++;
  advance(m, raw, has_nl);
}

static uint32_t rng_next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static void run(bw_splitter_t *s, model_t *m, uint32_t seed,
                unsigned max_chunk) {
  const bw_line_sink_t sink = {on_line, on_long, m};
  size_t n = (size_t)(m->end - m->in);
  size_t pos = 0;
  /* Each chunk is copied to the end of this block, so ASan sees a read
   * past the chunk (one malloc per chunk was most of the run time). */
  char *blk = malloc(max_chunk);
  CHECK(blk != NULL);
  while (pos < n) {
    size_t chunk = 1 + rng_next(&seed) % max_chunk;
    if (chunk > n - pos)
      chunk = n - pos;
    char *c = blk + max_chunk - chunk;
    memcpy(c, m->in + pos, chunk);
    bw_splitter_feed(s, c, chunk, &sink);
    pos += chunk;
    CHECK(s->line_no == m->line_no);
  }
  free(blk);
  bw_splitter_feed(s, m->in, 0, &sink); /* an empty block is a no-op */
  uint64_t dropped = bw_splitter_end(s, m->tail_is_line, &sink);
  CHECK(s->line_no == m->line_no);
  if (m->pos < m->end) {
    /* Only an unterminated tail may be left, and only when dropped. */
    CHECK(!m->tail_is_line);
    CHECK(memchr(m->pos, '\n', (size_t)(m->end - m->pos)) == NULL);
    CHECK(dropped == (uint64_t)(m->end - m->pos));
  } else {
    CHECK(dropped == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  uint8_t c0 = data[0], c1 = data[1];
  size_t max_line = 1 + (c1 & 0x3F);
  bw_splitter_t s;
  CHECK(bw_splitter_init(&s, max_line) == 0);

  model_t m = {(const char *)data + 2, (const char *)data + size,
               (const char *)data + 2, max_line, (c1 >> 6) & 1, 0, 0, 0};
  unsigned max_chunk = 1u << (c0 & 7); /* 1 .. 128 bytes */
  run(&s, &m, 0x9E3779B9u ^ c0, max_chunk);
  uint64_t lines = m.lines, longs = m.longs;

  /* Same stream, other chunking, same splitter after a reset. */
  bw_splitter_reset(&s);
  model_t m2 = m;
  m2.pos = m2.in;
  m2.line_no = m2.lines = m2.longs = 0;
  run(&s, &m2, 0x85EBCA6Bu ^ ((uint32_t)c0 << 8), 1u << ((c0 >> 3) & 7));
  CHECK(m2.lines == lines && m2.longs == longs);

  bw_splitter_close(&s);
  return 0;
}
