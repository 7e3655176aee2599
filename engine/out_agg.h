/* Outputs of the aggregation (`bouncewatch report`): terminal and JSON.
 * Internal to the engine. */
#ifndef BW_OUT_AGG_H
#define BW_OUT_AGG_H

#include "bouncewatch/agg.h"
#include "maildir.h"
#include "out.h"

struct bw_alerts_s;

typedef struct {
  const bw_agg_opts_t *opts;
  const bw_agg_totals_t *totals;
  bw_agg_totals_t totals_buf; /* filled by bw__agg_report_build */
  const bw_agg_key_t *senders, *registrable, *rcpt, *providers;
  size_t nsenders, nregistrable, nrcpt, nproviders;
  const bw_report_in_t *replay;
  /* The Maildir source (report/watch --maildir), NULL without one; its
   * totals are gathered by bw__agg_report_build. */
  const bw__maildir_t *maildir;
  bw_agg_mail_totals_t mail;

  const struct bw_alerts_s *alerts; /* alert.h; NULL: no alerts section */
} bw_agg_report_t;

/* Gather totals and the four key tables of agg into *r (the tables are
 * allocated; release them with bw__agg_report_release). */
void bw__agg_report_build(bw_agg_report_t *r, bw_agg_t *agg,
                          const bw_agg_opts_t *opts,
                          const bw_report_in_t *replay);
void bw__agg_report_release(bw_agg_report_t *r);

void bw__agg_report_text(bw_out_t *o, const bw_agg_report_t *r);
void bw__agg_report_json(bw_out_t *o, const bw_agg_report_t *r);

#endif
