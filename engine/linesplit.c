/* Line splitting over decoded blocks. The newlines of each 4 KiB are
 * listed first, then the lines handed on; the only copy is the head of a
 * line that straddles two blocks. */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "bouncewatch/error.h"
#include "bouncewatch/lines.h"

int bw_splitter_init(bw_splitter_t *s, size_t max_line) {
  memset(s, 0, sizeof(*s));
  if (max_line == 0)
    return BW_EINVAL;
  /* +1: a line of exactly max_line bytes may carry its "\r" too. */
  s->carry = malloc(max_line + 1);
  if (s->carry == NULL)
    return BW_ENOMEM;
  s->max_line = max_line;
  return 0;
}

void bw_splitter_close(bw_splitter_t *s) {
  free(s->carry);
  s->carry = NULL;
}

void bw_splitter_reset(bw_splitter_t *s) {
  s->carry_len = 0;
  s->skipping = 0;
  s->skip_len = 0;
  s->line_no = 0;
}

static void emit(bw_splitter_t *s, const char *p, size_t len,
                 const bw_line_sink_t *sink) {
  s->line_no++;
  if (len > 0 && p[len - 1] == '\r')
    len--;
  sink->line_cb(sink->arg, p, len, s->line_no);
}

static void emit_long(bw_splitter_t *s, const bw_line_sink_t *sink) {
  s->line_no++;
  if (sink->long_cb != NULL)
    sink->long_cb(sink->arg, s->line_no, s->skip_len);
  s->skipping = 0;
  s->skip_len = 0;
}

/* Bytes of a line that has no newline yet: carry them, or start
 * skipping once the line is known to exceed max_line. */
static void hold(bw_splitter_t *s, const char *p, size_t n) {
  if (s->skipping) {
    s->skip_len += n;
  } else if (s->carry_len + n > s->max_line + 1) {
    /* +1: a "\r" before the "\n" does not count against the cap. */
    s->skipping = 1;
    s->skip_len = s->carry_len + n;
    s->carry_len = 0;
  } else {
    memcpy(s->carry + s->carry_len, p, n);
    s->carry_len += n;
  }
}

#if defined(__SSE2__)
/* Bit i set: p[i] is a newline, for the 64 bytes at p (written out: gcc
 * -O2 kept a loop of four with a variable shift). */
static inline uint64_t nl_mask(const char *p, __m128i nlv) {
  const __m128i *v = (const __m128i *)(const void *)p;
  uint64_t a = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(v), nlv));
  uint64_t b = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(v + 1), nlv));
  uint64_t c = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(v + 2), nlv));
  uint64_t d = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(v + 3), nlv));
  return a | b << 16 | c << 32 | d << 48;
}
#endif

/* The line from p to the newline at nl; returns where the next begins. */
static inline const char *line_at(bw_splitter_t *s, const char *p,
                                  const char *nl, const bw_line_sink_t *sink) {
  size_t len = (size_t)(nl - p);
  if (len > s->max_line && !(len == s->max_line + 1 && nl[-1] == '\r')) {
    s->skip_len = len;
    emit_long(s, sink);
  } else {
    emit(s, p, len, sink);
  }
  return nl + 1;
}

void bw_splitter_feed(bw_splitter_t *s, const char *buf, size_t n,
                      const bw_line_sink_t *sink) {
  const char *p = buf, *end = buf + n;
  if (n == 0)
    return;

  /* Finish the line carried over from the previous block. */
  if (s->carry_len > 0 || s->skipping) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
      hold(s, p, n);
      return;
    }
    hold(s, p, (size_t)(nl - p));
    if (s->skipping) {
      emit_long(s, sink);
    } else {
      size_t len = s->carry_len;
      s->carry_len = 0;
      if (len > 0 && s->carry[len - 1] == '\r' ? len - 1 > s->max_line
                                               : len > s->max_line) {
        s->skip_len = len;
        emit_long(s, sink);
      } else {
        emit(s, s->carry, len, sink);
      }
    }
    p = nl + 1;
  }

  const char *base = p;
#if defined(__SSE2__)
  /* One memchr per line cost ~16 ns a line: the call, and the branch
   * that ends it, taken at a different place each line. Here the
   * newlines of 4 KiB are listed first, 64 bytes a step, without a
   * branch that depends on the data while a step holds at most two
   * (lines of 32 bytes or more); then the lines are handed on in a
   * loop that predicts well. 18 % less time than memchr (bench of
   * the split alone on the 1 GiB log, 2026-11-24). */
  enum { CHUNK = 4096 };
  uint16_t at[CHUNK + 2];
  const __m128i nlv = _mm_set1_epi8('\n');
  const uint64_t top = 1ull << 63; /* ctz of an empty mask: a harmless 63 */
  while (end - base >= 64) {
    size_t span = (size_t)(end - base) & ~(size_t)63;
    if (span > CHUNK)
      span = CHUNK;
    size_t k = 0;
    for (size_t off = 0; off < span; off += 64) {
      uint64_t m = nl_mask(base + off, nlv);
      at[k] = (uint16_t)(off + (size_t)__builtin_ctzll(m | top));
      k += m != 0;
      m &= m - 1;
      at[k] = (uint16_t)(off + (size_t)__builtin_ctzll(m | top));
      k += m != 0;
      m &= m - 1;
      for (; m != 0; m &= m - 1)
        at[k++] = (uint16_t)(off + (size_t)__builtin_ctzll(m));
    }
    for (size_t i = 0; i < k; i++)
      p = line_at(s, p, base + at[i], sink);
    base += span;
  }
#endif
  for (;;) {
    const char *nl = memchr(base, '\n', (size_t)(end - base));
    if (nl == NULL)
      break;
    p = line_at(s, p, nl, sink);
    base = nl + 1;
  }
  if (p < end)
    hold(s, p, (size_t)(end - p));
}

uint64_t bw_splitter_end(bw_splitter_t *s, int tail_is_line,
                         const bw_line_sink_t *sink) {
  uint64_t dropped = 0;
  if (s->skipping) {
    if (tail_is_line)
      emit_long(s, sink);
    else
      dropped = s->skip_len;
  } else if (s->carry_len > 0) {
    /* hold() lets one byte past max_line in, for a "\r" that would
     * precede the "\n"; an unterminated tail has no "\n", so it is
     * measured as it stands. */
    if (!tail_is_line) {
      dropped = s->carry_len;
    } else if (s->carry_len > s->max_line) {
      s->skip_len = s->carry_len;
      emit_long(s, sink);
    } else {
      emit(s, s->carry, s->carry_len, sink);
    }
  }
  s->carry_len = 0;
  s->skipping = 0;
  s->skip_len = 0;
  return dropped;
}
