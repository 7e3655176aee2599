/* Line splitting over decoded blocks. memchr finds each newline; the
 * only copy is the head of a line that straddles two blocks. */
#include <stdlib.h>
#include <string.h>

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

  for (;;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
      break;
    size_t len = (size_t)(nl - p);
    if (len > s->max_line && !(len == s->max_line + 1 && nl[-1] == '\r')) {
      s->skip_len = len;
      emit_long(s, sink);
    } else {
      emit(s, p, len, sink);
    }
    p = nl + 1;
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
