/* stdin as a live source for `watch -`: a pipe (so `tail -F file |
 * bouncewatch watch -` and `journalctl -f -o cat | ...` work) polled on
 * the loop thread and read, split and parsed on the watch worker
 * (worker.h). Backpressure is the pipe's: while the worker is busy,
 * nothing is read and the writer blocks on a full pipe. At end of input
 * the last line is delivered and on_eof runs on the loop thread.
 * Internal to the engine. */
#ifndef BW_SRC_STDIN_H
#define BW_SRC_STDIN_H

#include <uv.h>

#include "pipe.h"
#include "worker.h"

typedef struct bw_stdin_s bw_stdin_t;

/* Returns 0, or a libuv error (stdin cannot be polled). */
int bw__stdin_start(uv_loop_t *loop, size_t max_line, bw__pipe_t *pipe,
                    bw__worker_t *wk, void (*on_eof)(void *arg), void *arg,
                    bw_stdin_t **out);

/* Stop reading and close (the loop thread's, with the worker stopped);
 * frees itself when libuv has closed the handles. */
void bw__stdin_close(bw_stdin_t *s);

#endif
