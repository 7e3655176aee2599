/* Following one log file by name, as `tail -F` does: inotify on the
 * parent directory (uv_fs_event) plus an always-on stat poll as the
 * safety net (libuv drops IN_Q_OVERFLOW silently; remote file systems
 * give no events). Rotation by rename (the old file is drained until it
 * has been idle for rotate_wait), copytruncate (size below the offset, or
 * the bytes before the offset changed: a heuristic), delete and
 * recreate, and a file that appears later. Lines go to a bw__pipe_t.
 * Internal to the engine. The handles live on the loop thread, the reads
 * run as jobs on the watch worker (worker.h); the calls below are the
 * loop thread's, made while the worker is not running (before its start
 * or after its stop), except bw__follow_position, which needs the
 * pipeline lock. */
#ifndef BW_FOLLOW_H
#define BW_FOLLOW_H

#include <stdint.h>
#include <uv.h>

#include "bouncewatch/lines.h"
#include "pipe.h"
#include "worker.h"

typedef struct {
  int poll_only;         /* no inotify: the stat poll alone */
  uint64_t poll_ms;      /* stat poll interval (default 1000) */
  uint64_t rotate_wait_ms; /* drain a rotated file until idle this long (5000) */
  size_t max_line;
} bw_follow_opts_t;

typedef struct {
  uint64_t bytes, rotations, truncations, reopen_errors;
} bw_follow_stats_t;

/* Where a followed file stands, for the state file: its identity (device,
 * inode, a hash of its first head_len bytes as stored) and the offset
 * just after its last complete line: in the file's bytes for a plain
 * file, in decoded bytes for a gzip or zstd one (which a restart decodes
 * again from its start, skipping that many). */
enum { BW_POS_NONE = 0, BW_POS_BYTES = 1, BW_POS_DECODED = 2 };
/* The most bytes of a file's start that identify it (head_len). */
#define BW_FOLLOW_HEAD 64
typedef struct {
  uint64_t dev, ino, offset, head_hash;
  uint32_t head_len;
  int valid; /* BW_POS_*; the values keep BWWATCH1 states readable */
} bw_follow_pos_t;

typedef struct bw_follow_s bw_follow_t;

/* Positions of the live file and of a rotated one still being drained
 * (valid == 0 when there is none). */
void bw__follow_position(const bw_follow_t *f, bw_follow_pos_t *cur,
                         bw_follow_pos_t *old);

/* Resume from a saved position before the first look: the file still at
 * the path is read on from pos->offset; one rotated while we were down
 * (a sibling with the same device, inode and head) is read to its end at
 * once, and so is one compressed while we were down (a sibling whose
 * decoded head is the saved one), decoded past the saved offset.
 * Returns the newest mtime (ns) of such rotated files, 0 if none:
 * archives newer than that were rotated after it and are the caller's to
 * read. Says on stderr what it did. */
int64_t bw__follow_resume(bw_follow_t *f, const bw_follow_pos_t *cur,
                          const bw_follow_pos_t *old);

/* The first look happens in bw__follow_start (after an optional resume),
 * as a job posted to wk. */
int bw__follow_new(uv_loop_t *loop, const char *path,
                   const bw_follow_opts_t *o, bw__pipe_t *pipe,
                   bw__worker_t *wk, bw_follow_t **out);
void bw__follow_start(bw_follow_t *f);

/* Look at the file now, on the calling thread: rotation, truncation, all
 * new bytes. (The directory events and the poll timer post the same look
 * to the worker, one budget at a time.) */
void bw__follow_check(bw_follow_t *f);

/* Read everything available now (without opening a new file). */
void bw__follow_drain(bw_follow_t *f);

/* Read everything available, end any partial last lines (as lines when
 * `tails`; dropped otherwise, for a state that will re-read them), and
 * close the handles; the follower frees itself once libuv has closed
 * them (run the loop until it has no handles left). */
void bw__follow_close(bw_follow_t *f, int tails);

const bw_follow_stats_t *bw__follow_stats(const bw_follow_t *f);

#endif
