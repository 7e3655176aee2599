/* The systemd journal as a live source for `watch --journal`: entries of
 * Postfix (SYSLOG_IDENTIFIER postfix, postfix/NAME, postfix-INSTANCE/...)
 * and Exim (exim, exim4) are rebuilt into the RFC 3339 syslog line the
 * parser knows and go into the pipeline; the journal cursor is the
 * position kept in the state file. The loop thread polls
 * sd_journal_get_fd() (plus an always-on timer) and posts jobs; the
 * entries are read on the watch worker (worker.h). The calls below are
 * the loop thread's while the worker is not running, except
 * bw__journal_cursor, which needs the pipeline lock. Internal to the
 * engine. */
#ifndef BW_SRC_JOURNAL_H
#define BW_SRC_JOURNAL_H

#include <stdint.h>
#include <uv.h>

#include "pipe.h"
#include "worker.h"

typedef struct {
  int system;               /* the local system journal (sd_journal_open) */
  const char *dir;          /* or: the journal files of this directory */
  const char *const *files; /* or: these journal files */
  size_t nfiles;
  uint64_t poll_ms; /* the timer that backs the fd up (default 1000) */
  size_t max_line;  /* longer rebuilt lines are skipped and counted */
} bw_journal_opts_t;

typedef struct {
  uint64_t entries;     /* entries looked at */
  uint64_t mail;        /* Postfix/Exim entries handed to the pipeline */
  uint64_t no_message;  /* mail entries without MESSAGE: skipped, counted */
  uint64_t read_errors; /* sd_journal_next/get_data failures (corrupt files) */
} bw_journal_stats_t;

typedef struct bw_journal_s bw_journal_t;

/* Opens the journal. On failure returns a negative errno and writes why
 * into err. */
int bw__journal_new(uv_loop_t *loop, const bw_journal_opts_t *o,
                    bw__pipe_t *pipe, bw__worker_t *wk, bw_journal_t **out,
                    char *err, size_t errlen);

/* Resume after the entry of a saved cursor (that entry was counted). A
 * cursor that is no longer in the journal (vacuumed) resumes at the next
 * entry after it in time, and says so. Without a call, reading begins at
 * the oldest entry, as a log file is read from its first line. */
void bw__journal_resume(bw_journal_t *j, const char *cursor);

/* Start polling; the first read is a job posted to the worker. */
void bw__journal_start(bw_journal_t *j);

/* Read every entry available now. */
void bw__journal_drain(bw_journal_t *j);

/* The cursor of the last entry read (or of the resume point when nothing
 * was read since), malloc'd for the caller to free; NULL if none. */
char *bw__journal_cursor(bw_journal_t *j);

/* Stop and close the handles; the source frees itself (and closes the
 * journal) once libuv has closed them. Says on stderr what was skipped. */
void bw__journal_close(bw_journal_t *j);

const bw_journal_stats_t *bw__journal_stats(const bw_journal_t *j);

#endif
