/* stdin as a live source for `watch -`: read through a libuv pipe on the
 * loop (so `tail -F file | bouncewatch watch -` and `journalctl -f -o cat
 * | ...` work), split into lines, into the pipeline. At end of input the
 * last line is delivered and on_eof runs. Internal to the engine. */
#ifndef BW_SRC_STDIN_H
#define BW_SRC_STDIN_H

#include <uv.h>

#include "pipe.h"

typedef struct bw_stdin_s bw_stdin_t;

/* Returns 0, or a libuv error (stdin is not a pipe or terminal). */
int bw__stdin_start(uv_loop_t *loop, size_t max_line, bw__pipe_t *pipe,
                    void (*on_eof)(void *arg), void *arg, bw_stdin_t **out);

/* Stop reading and close; frees itself when libuv has closed the handle. */
void bw__stdin_close(bw_stdin_t *s);

#endif
