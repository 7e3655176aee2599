/* The per-line pipeline shared by replay and watch: parse, count,
 * classify a failed delivery, hand the event on. Sources (replay's
 * reader, watch's followers) own their splitters and call this per line.
 * Internal to the engine. */
#ifndef BW_PIPE_H
#define BW_PIPE_H

#include "bouncewatch/parse.h"
#include "bouncewatch/replay.h"

typedef struct {
  bw_parser_t *parser;
  bw_classifier_t *classifier; /* NULL: no classification */
  bw_replay_stats_t *stats;    /* borrowed: counts go here */
  bw_event_cb cb;
  void *cb_arg;
} bw__pipe_t;

/* rules may be NULL. 0 or BW_ENOMEM. */
int bw__pipe_init(bw__pipe_t *p, const bw_rules_t *rules,
                  bw_replay_stats_t *stats, bw_event_cb cb, void *cb_arg);
void bw__pipe_close(bw__pipe_t *p);

/* One line (no newline). Returns 1 (a line was counted). */
void bw__pipe_line(bw__pipe_t *p, const char *line, size_t len,
                   const bw_line_ref_t *where);

/* End of input: the lines the parser still holds (Exim parts of a line
 * whose last part never came) go through as events; `where` names the
 * end of the input they came from. */
void bw__pipe_flush(bw__pipe_t *p, const bw_line_ref_t *where);

#endif
