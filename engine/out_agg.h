/* Outputs of the aggregation (`bouncewatch report`): terminal and JSON.
 * Internal to the engine. */
#ifndef BW_OUT_AGG_H
#define BW_OUT_AGG_H

#include "bouncewatch/agg.h"
#include "out.h"

typedef struct {
  const bw_agg_opts_t *opts;
  const bw_agg_totals_t *totals;
  const bw_agg_key_t *senders, *registrable, *rcpt, *providers;
  size_t nsenders, nregistrable, nrcpt, nproviders;
  const bw_report_in_t *replay;
} bw_agg_report_t;

void bw__agg_report_text(bw_out_t *o, const bw_agg_report_t *r);
void bw__agg_report_json(bw_out_t *o, const bw_agg_report_t *r);

#endif
