/* Outputs of the replay stage: the summary (text or one JSON document)
 * and the per-event JSON Lines stream. Internal to the engine. */
#ifndef BW_OUT_H
#define BW_OUT_H

#include "bouncewatch/replay.h"
#include "out_buf.h"

typedef struct {
  const bw_replay_stats_t *stats;
  double elapsed_s;
  size_t max_line;
} bw_report_in_t;

void bw__report_text(bw_out_t *o, const bw_report_in_t *in);
void bw__report_json(bw_out_t *o, const bw_report_in_t *in);
/* The same object without the final newline, to nest in other documents. */
void bw__report_json_obj(bw_out_t *o, const bw_report_in_t *in);

/* One JSON object and "\n" for a delivery event; v (NULL for sent
 * deliveries) adds reason, group, hard and permanent. */
void bw__event_jsonl(bw_out_t *o, const bw_event_t *ev, const bw_verdict_t *v,
                     const bw_line_ref_t *where);

#endif
