/* The HTML report: one self-contained page (inline CSS and SVG, no script,
 * no external asset) of the aggregation results for a postmaster. Internal
 * to the engine; the aggregation itself is in agg*.c. */
#ifndef BW_OUT_HTML_H
#define BW_OUT_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bouncewatch/agg.h"

/* Everything the page shows. Nothing is copied or freed: the pointers
 * (usually into a bw_agg_t, see bw_agg_keys()) must stay valid for the
 * call. Any pointer may be NULL with its count 0; totals NULL prints
 * zeros. Strings are bytes from the logs and are escaped on output. */
typedef struct {
  const char *title; /* e.g. "bouncewatch report: mail.log, mail.log.1" */
  const bw_agg_totals_t *totals;
  const bw_agg_key_t *senders; /* sorted by volume desc */
  size_t nsenders;
  const bw_agg_key_t *providers;
  size_t nproviders;
  const bw_agg_key_t *rcpt_domains;
  size_t nrcpt;
  const int64_t *windows_s; /* bw_agg_key_t.window[i] covers windows_s[i] */
  size_t nwindows;          /* at most 4 are shown */
  int64_t bucket_s; /* chart step when a key's series_step_s is 0 */
  double bounce_threshold, complaint_threshold; /* 0.02, 0.001 */
  uint64_t min_volume; /* final outcomes in a window before a rate counts */
  /* Optional: writes one more <section> before the footer (the Maildir's
   * complaints and bounces); NULL for none. */
  void (*appendix)(FILE *f, const void *arg);
  const void *appendix_arg;
} bw_html_in_t;

/* Write one self-contained HTML page (inline CSS and SVG, no scripts from
 * elsewhere, no external assets). The page holds no current date, so the
 * same input gives the same bytes. Writes through out's stdio buffer and
 * flushes it; does not close it. Returns 0, or -1 on a write error
 * (ferror(out) or a failed flush). */
int bw__html_report(FILE *out, const bw_html_in_t *in);

#endif
