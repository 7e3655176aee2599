/* The line splitter: turns decoded blocks into lines without a per-line
 * allocation or copy. A line inside one block is passed by pointer into
 * that block; only a line that straddles two blocks is copied, into a
 * carry buffer of max_line + 1 bytes allocated once. Lines longer than
 * max_line are skipped whole (streamed past, never buffered) and
 * reported with their line number. */
#ifndef BOUNCEWATCH_LINES_H
#define BOUNCEWATCH_LINES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BW_DEFAULT_MAX_LINE (64u * 1024u)

typedef struct {
  /* A complete line, without its "\n" or "\r\n". `line` is valid only
   * during the call. line_no counts from 1 in the current stream. */
  void (*line_cb)(void *arg, const char *line, size_t len, uint64_t line_no);
  /* A line longer than max_line was skipped; len is its full length. */
  void (*long_cb)(void *arg, uint64_t line_no, uint64_t len);
  void *arg;
} bw_line_sink_t;

typedef struct {
  char *carry;       /* the straddling line's head, max_line + 1 bytes */
  size_t carry_len;
  size_t max_line;
  int skipping;      /* inside an over-long line */
  uint64_t skip_len; /* its length so far */
  uint64_t line_no;  /* lines completed in this stream */
} bw_splitter_t;

/* 0 or BW_ENOMEM / BW_EINVAL (max_line 0). */
int bw_splitter_init(bw_splitter_t *s, size_t max_line);
void bw_splitter_close(bw_splitter_t *s);

/* Start a new stream (next file): forget any partial line. */
void bw_splitter_reset(bw_splitter_t *s);

/* Split buf[0..n) and call the sink for each complete line. */
void bw_splitter_feed(bw_splitter_t *s, const char *buf, size_t n,
                      const bw_line_sink_t *sink);

/* End of the stream. A last line without "\n" is delivered as a line
 * when tail_is_line (a plain file that simply lacks the final newline);
 * otherwise (the decoder stopped early) it is discarded. Returns the
 * number of bytes discarded (0 if none). */
uint64_t bw_splitter_end(bw_splitter_t *s, int tail_is_line,
                         const bw_line_sink_t *sink);

#ifdef __cplusplus
}
#endif
#endif
