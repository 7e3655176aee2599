/* stdin through a uv_pipe_t: one fixed read buffer, lines split without
 * copies, the unterminated tail delivered at end of input. */
#include <stdlib.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "bouncewatch/lines.h"
#include "src_stdin.h"

#define BUF (256 * 1024)

struct bw_stdin_s {
  uv_pipe_t pipe;
  bw__pipe_t *lines;
  bw_splitter_t split;
  void (*on_eof)(void *arg);
  void *arg;
  int closing;
  char buf[BUF];
};

static void deliver(void *arg, const char *line, size_t len, uint64_t no) {
  bw_stdin_t *s = arg;
  bw_line_ref_t where = {"-", no};
  bw__pipe_line(s->lines, line, len, &where);
}

static void long_line(void *arg, uint64_t no, uint64_t len) {
  bw_stdin_t *s = arg;
  (void)no;
  (void)len;
  s->lines->stats->long_lines++;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  bw_stdin_t *s = h->data;
  (void)hint;
  /* One buffer: libuv reads into it and read_cb consumes it before the
   * next read, so it is never in use twice. */
  *b = uv_buf_init(s->buf, BUF);
}

static void closed_cb(uv_handle_t *h) {
  bw_stdin_t *s = h->data;
  bw_splitter_close(&s->split);
  free(s);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  bw_stdin_t *s = st->data;
  bw_line_sink_t sink = {deliver, long_line, s};
  if (n > 0) {
    bw_splitter_feed(&s->split, b->base, (size_t)n, &sink);
    s->lines->stats->bytes_read += (uint64_t)n;
    s->lines->stats->bytes_decoded += (uint64_t)n;
    return;
  }
  if (n == 0)
    return; /* EAGAIN */
  /* EOF or an error: the last line counts, then the owner decides. */
  bw_splitter_end(&s->split, 1, &sink);
  if (n != UV_EOF)
    fprintf(stderr, "bouncewatch: stdin: %s\n", uv_strerror((int)n));
  uv_read_stop(st);
  if (s->on_eof != NULL)
    s->on_eof(s->arg);
}

int bw__stdin_start(uv_loop_t *loop, size_t max_line, bw__pipe_t *pipe,
                    void (*on_eof)(void *arg), void *arg, bw_stdin_t **out) {
  bw_stdin_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return UV_ENOMEM;
  s->lines = pipe;
  s->on_eof = on_eof;
  s->arg = arg;
  if (bw_splitter_init(&s->split, max_line) != 0) {
    free(s);
    return UV_ENOMEM;
  }
  int rc = uv_pipe_init(loop, &s->pipe, 0);
  if (rc == 0)
    rc = uv_pipe_open(&s->pipe, STDIN_FILENO);
  s->pipe.data = s;
  if (rc != 0) {
    uv_close((uv_handle_t *)&s->pipe, closed_cb);
    return rc;
  }
  rc = uv_read_start((uv_stream_t *)&s->pipe, alloc_cb, read_cb);
  if (rc != 0) {
    uv_close((uv_handle_t *)&s->pipe, closed_cb);
    return rc;
  }
  *out = s;
  return 0;
}

void bw__stdin_close(bw_stdin_t *s) {
  if (s->closing)
    return;
  s->closing = 1;
  uv_read_stop((uv_stream_t *)&s->pipe);
  uv_close((uv_handle_t *)&s->pipe, closed_cb);
}
