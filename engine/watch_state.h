/* watch's state file: a header (the followed paths' positions, the
 * journal cursor, the line counters, behind a checksum) and then the
 * sections of the aggregation, the suppression list and the alerts, each
 * read by its own loader. This file owns the header and the order of the
 * chain; opening, renaming and setting a bad file aside are the
 * command's. Internal to the engine. */
#ifndef BW_WATCH_STATE_H
#define BW_WATCH_STATE_H

#include <stddef.h>
#include <stdio.h>

#include "alert.h"
#include "bouncewatch/agg.h"
#include "bouncewatch/replay.h"
#include "bouncewatch/suppress.h"
#include "follow.h"

/* BWWATCH2 adds the journal cursor after the paths; a BWWATCH1 state
 * (no journal) is still read. */
#define BW__WATCH_MAGIC "BWWATCH2"
#define BW__WATCH_MAGIC_V1 "BWWATCH1"
/* The reader's limits: paths saved, bytes of a path or of the cursor
 * (all below, strictly). */
#define BW__WATCH_MAX_PATHS 4096
#define BW__WATCH_MAX_STR 4096

/* What a state holds, as the caller's objects. The caller owns them all;
 * save and load only read and fill them. */
typedef struct {
  /* The paths this run follows; pos has 2 * npaths entries: pos[2 * i]
   * the live file of paths[i], pos[2 * i + 1] a rotated one still being
   * drained (valid == BW_POS_NONE: none). */
  const char *const *paths;
  size_t npaths;
  bw_follow_pos_t *pos;
  bw_replay_stats_t *stats;
  bw_agg_t *agg;
  bw_suppress_t *suppress;
  bw_alerts_t *alerts;
} bw__watch_state_t;

/* Write the whole state to f: the header (cursor NULL: no journal, an
 * empty one is written), then the three sections. The counters are
 * written without their pointers and skip samples (this run's strings)
 * and without nfiles. 0, or BW_EIO when a write failed (f's own error). */
int bw__watch_state_save(FILE *f, const bw__watch_state_t *s,
                         const char *cursor);

/* Read the whole state from f, as written by save (or a BWWATCH1 one, or
 * one written before the suppression list or the alerts existed: it ends
 * before their sections). The header is checked before anything is
 * taken from it: its checksum, and every count, string and position
 * within what follow.c and the report may trust (watch_state.c says
 * what). For each saved path equal to one of s->paths, its two positions
 * go to s->pos; *s->stats gets the saved counters (pointers, nfiles and
 * skip samples cleared); *cursor a malloc'ed copy of the journal cursor
 * ("" for a state without a journal, NULL for a BWWATCH1 one).
 *
 * 0 when all of it was read. Otherwise BW_EPARSE (damaged, truncated, or
 * from another version) or BW_ENOMEM, *cursor is NULL and *s->stats is as
 * it was, but s->pos may be partly written and the three objects partly
 * restored: the caller must make them anew. why (if not NULL) gets
 * where it stopped and what was wrong in the header, or which section
 * refused it. */
int bw__watch_state_load(FILE *f, const bw__watch_state_t *s, char **cursor,
                         char *why, size_t whylen);

#endif
