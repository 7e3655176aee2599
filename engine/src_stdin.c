/* stdin through uv_poll and non-blocking read() on the worker: one fixed
 * read buffer, lines split without copies, the unterminated tail
 * delivered at end of input. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "bouncewatch/lines.h"
#include "src_stdin.h"

#define BUF (256 * 1024)
#define BUDGET (1u << 20) /* bytes per job, as a followed file's */

struct bw_stdin_s {
  uv_poll_t poll;
  uv_async_t wake; /* worker -> loop: poll again, or the input ended */
  bw__pipe_t *lines;
  bw__worker_t *wk;
  bw__job_t job;
  bw_splitter_t split;
  void (*on_eof)(void *arg);
  void *arg;
  int closing, handles;
  int fl; /* stdin's flags before O_NONBLOCK, put back at close */
  atomic_int ended; /* worker: end of input (or an error) seen */
  int eof_told; /* loop: on_eof has run */
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

/* The worker's job: read until the pipe is empty, the input ends or the
 * budget runs out. */
static int job_run(void *arg) {
  bw_stdin_t *s = arg;
  bw_line_sink_t sink = {deliver, long_line, s};
  size_t got = 0;
  if (s->ended)
    return 0;
  while (got < BUDGET) {
    ssize_t n = read(STDIN_FILENO, s->buf, BUF);
    if (n > 0) {
      bw_splitter_feed(&s->split, s->buf, (size_t)n, &sink);
      s->lines->stats->bytes_read += (uint64_t)n;
      s->lines->stats->bytes_decoded += (uint64_t)n;
      got += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      uv_async_send(&s->wake); /* empty: poll again */
      return 0;
    }
    /* End of input or an error: the last line counts. */
    if (n < 0)
      fprintf(stderr, "bouncewatch: stdin: %s\n", strerror(errno));
    bw_splitter_end(&s->split, 1, &sink);
    s->ended = 1;
    uv_async_send(&s->wake);
    return 0;
  }
  return 1;
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  bw_stdin_t *s = h->data;
  (void)events;
  /* Readable until the worker has read it: stop polling until then, or
   * the loop would spin. A poll error (or a hang-up) is the worker's to
   * find by reading. */
  (void)status;
  uv_poll_stop(h);
  bw__worker_post(s->wk, &s->job);
}

static void wake_cb(uv_async_t *a) {
  bw_stdin_t *s = a->data;
  if (s->closing)
    return;
  if (s->ended) {
    if (!s->eof_told) {
      s->eof_told = 1;
      if (s->on_eof != NULL)
        s->on_eof(s->arg);
    }
    return;
  }
  uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, poll_cb);
}

static void closed_cb(uv_handle_t *h) {
  bw_stdin_t *s = h->data;
  if (--s->handles > 0)
    return;
  bw_splitter_close(&s->split);
  free(s);
}

int bw__stdin_start(uv_loop_t *loop, size_t max_line, bw__pipe_t *pipe,
                    bw__worker_t *wk, void (*on_eof)(void *arg), void *arg,
                    bw_stdin_t **out) {
  bw_stdin_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return UV_ENOMEM;
  s->lines = pipe;
  s->wk = wk;
  s->job.run = job_run;
  s->job.arg = s;
  s->on_eof = on_eof;
  s->arg = arg;
  if (bw_splitter_init(&s->split, max_line) != 0) {
    free(s);
    return UV_ENOMEM;
  }
  /* The flag is on the open file description, which a terminal or the
   * writer's shell may share: it is put back at close. */
  int fl = fcntl(STDIN_FILENO, F_GETFL);
  s->fl = fl;
  if (fl < 0 || fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK) != 0) {
    bw_splitter_close(&s->split);
    free(s);
    return UV_EBADF;
  }
  int rc = uv_poll_init(loop, &s->poll, STDIN_FILENO);
  if (rc != 0) {
    fcntl(STDIN_FILENO, F_SETFL, fl);
    bw_splitter_close(&s->split);
    free(s);
    return rc;
  }
  s->poll.data = s;
  s->handles = 1;
  uv_async_init(loop, &s->wake, wake_cb);
  s->wake.data = s;
  s->handles++;
  uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, poll_cb);
  *out = s;
  return 0;
}

void bw__stdin_close(bw_stdin_t *s) {
  if (s->closing)
    return;
  s->closing = 1;
  fcntl(STDIN_FILENO, F_SETFL, s->fl);
  uv_close((uv_handle_t *)&s->poll, closed_cb);
  uv_close((uv_handle_t *)&s->wake, closed_cb);
}
