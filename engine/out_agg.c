/* The report of the aggregation: the terminal view (domains over a
 * threshold first, then the tables) and the JSON document. Both print the
 * same numbers; the JSON schema is in the README. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logtime.h"
#include "out_agg.h"
#include "alert.h"

static void jd(bw_out_t *o, int *f, const char *k, double v) {
  bw__out_json_key(o, f, k);
  bw__out_printf(o, "%.6f", v);
}

static void jtime(bw_out_t *o, int *f, const char *k, int64_t us) {
  bw__out_json_key(o, f, k);
  if (us == 0) {
    bw__out_str(o, "null");
    return;
  }
  char ts[40];
  int n = bw__format_time(us, ts);
  bw__out_json_str(o, ts, (size_t)n);
}

static void jstr(bw_out_t *o, int *f, const char *k, const char *v) {
  bw__out_json_key(o, f, k);
  if (v == NULL)
    bw__out_str(o, "null");
  else
    bw__out_json_str(o, v, strlen(v));
}

static void counts_json(bw_out_t *o, int *f, const bw_counts_t *c) {
  bw__out_json_u64(o, f, "sent", c->n[BW_OUT_SENT]);
  bw__out_json_u64(o, f, "bounced", c->n[BW_OUT_BOUNCED]);
  bw__out_json_u64(o, f, "expired", c->n[BW_OUT_EXPIRED]);
  bw__out_json_u64(o, f, "final", bw_final_outcomes(c));
  bw__out_json_u64(o, f, "deferred", c->n[BW_OUT_DEFERRED]);
  bw__out_json_u64(o, f, "hard", c->n[BW_OUT_HARD]);
  bw__out_json_u64(o, f, "complaints", c->n[BW_OUT_COMPLAINTS]);
  jd(o, f, "bounce_rate", bw_bounce_rate(c));
  jd(o, f, "hard_rate", bw_hard_rate(c));
  jd(o, f, "deferral_rate", bw_deferral_rate(c));
  jd(o, f, "complaint_rate", bw_complaint_rate(c));
  bw__out_json_key(o, f, "by_reason");
  int g = 1;
  bw__out_str(o, "{");
  for (int r = 0; r < BW_REASON__COUNT; r++)
    if (c->by_reason[r] > 0)
      bw__out_json_u64(o, &g, bw_reason_name((bw_reason_t)r), c->by_reason[r]);
  bw__out_str(o, "}");
  bw__out_json_key(o, f, "by_group");
  g = 1;
  bw__out_str(o, "{");
  for (int r = 1; r < BW_GROUP__COUNT; r++)
    if (c->by_group[r] > 0)
      bw__out_json_u64(o, &g, bw_group_name((bw_group_t)r), c->by_group[r]);
  bw__out_str(o, "}");
}

static void tops_json(bw_out_t *o, const bw_agg_top_t *t, size_t n) {
  bw__out_str(o, "[");
  for (size_t i = 0; i < n; i++) {
    int f = 1;
    bw__out_str(o, i ? ",{" : "{");
    jstr(o, &f, "name", t[i].name);
    bw__out_json_u64(o, &f, "final", t[i].final);
    bw__out_json_u64(o, &f, "bounced", t[i].bounced);
    bw__out_json_u64(o, &f, "error", t[i].error);
    bw__out_str(o, "}");
  }
  bw__out_str(o, "]");
}

static void key_json(bw_out_t *o, const bw_agg_report_t *r,
                     const bw_agg_key_t *k, int sender) {
  int f = 1;
  bw__out_str(o, "{");
  jstr(o, &f, "name", k->name);
  if (sender)
    jstr(o, &f, "registrable", k->registrable);
  counts_json(o, &f, &k->total);
  if (!sender) {
    bw__out_str(o, "}");
    return;
  }
  bw__out_json_key(o, &f, "windows");
  bw__out_str(o, "[");
  for (size_t w = 0; w < r->opts->nwindows; w++) {
    int g = 1;
    const bw_window_counts_t *c = &k->window[w];
    bw__out_str(o, w ? ",{" : "{");
    bw__out_json_u64(o, &g, "window_s", (uint64_t)r->opts->windows_s[w]);
    bw__out_json_u64(o, &g, "final", c->final);
    bw__out_json_u64(o, &g, "bounced", c->bounced);
    jd(o, &g, "bounce_rate", bw_window_rate(c));
    bw__out_json_u64(o, &g, "complaints", c->complaints);
    jd(o, &g, "complaint_rate", bw_window_complaint_rate(c));
    bw__out_str(o, "}");
  }
  bw__out_str(o, "]");
  bw__out_json_key(o, &f, "breaches");
  bw__out_str(o, "[");
  for (size_t i = 0; i < k->nbreaches; i++) {
    const bw_breach_t *b = &k->breaches[i];
    int g = 1;
    bw__out_str(o, i ? ",{" : "{");
    jstr(o, &g, "kind", b->kind ? "complaint_rate" : "bounce_rate");
    bw__out_json_u64(o, &g, "window_s", (uint64_t)r->opts->windows_s[b->window]);
    jtime(o, &g, "start", b->start_us);
    jtime(o, &g, "end", b->end_us);
    jd(o, &g, "peak_rate", b->peak_rate);
    bw__out_json_u64(o, &g, "volume_at_peak", b->volume);
    bw__out_str(o, "}");
  }
  bw__out_str(o, "]");
  bw__out_json_u64(o, &f, "breaches_dropped", k->breaches_dropped);
  bw__out_json_key(o, &f, "providers");
  tops_json(o, k->top_provider, k->ntop_provider);
  bw__out_json_key(o, &f, "recipient_domains");
  tops_json(o, k->top_rcpt, k->ntop_rcpt);
  bw__out_str(o, "}");
}

static void table_json(bw_out_t *o, const bw_agg_report_t *r,
                       const bw_agg_key_t *k, size_t n, int sender) {
  bw__out_str(o, "[");
  for (size_t i = 0; i < n; i++) {
    if (i)
      bw__out_str(o, ",");
    key_json(o, r, &k[i], sender);
  }
  bw__out_str(o, "]");
}

void bw__agg_report_build(bw_agg_report_t *r, bw_agg_t *agg,
                          const bw_agg_opts_t *opts,
                          const bw_report_in_t *replay) {
  memset(r, 0, sizeof(*r));
  r->opts = opts;
  r->replay = replay;
  bw_agg_totals(agg, &r->totals_buf);
  r->totals = &r->totals_buf;
  bw_agg_key_t *k;
  r->nsenders = bw_agg_keys(agg, BW_AGG_SENDER, &k);
  r->senders = k;
  r->nregistrable = bw_agg_keys(agg, BW_AGG_SENDER_REG, &k);
  r->registrable = k;
  r->nrcpt = bw_agg_keys(agg, BW_AGG_RCPT, &k);
  r->rcpt = k;
  r->nproviders = bw_agg_keys(agg, BW_AGG_PROVIDER, &k);
  r->providers = k;
  bw_agg_mail_totals(agg, &r->mail);
}

void bw__agg_report_release(bw_agg_report_t *r) {
  free((void *)(uintptr_t)r->senders);
  free((void *)(uintptr_t)r->registrable);
  free((void *)(uintptr_t)r->rcpt);
  free((void *)(uintptr_t)r->providers);
  r->senders = r->registrable = r->rcpt = r->providers = NULL;
}

void bw__agg_report_json(bw_out_t *o, const bw_agg_report_t *r) {
  const bw_agg_totals_t *t = r->totals;
  int f = 1;
  bw__out_str(o, "{");
  bw__out_json_u64(o, &f, "version", 1);
  bw__out_json_key(o, &f, "thresholds");
  int g = 1;
  bw__out_str(o, "{");
  jd(o, &g, "bounce_rate", r->opts->bounce_threshold);
  jd(o, &g, "complaint_rate", r->opts->complaint_threshold);
  bw__out_json_u64(o, &g, "min_volume", r->opts->min_volume);
  bw__out_json_key(o, &g, "windows_s");
  bw__out_str(o, "[");
  for (size_t w = 0; w < r->opts->nwindows; w++) {
    if (w)
      bw__out_str(o, ",");
    bw__out_u64(o, (uint64_t)r->opts->windows_s[w]);
  }
  bw__out_str(o, "]}");
  bw__out_json_key(o, &f, "log_time");
  g = 1;
  bw__out_str(o, "{");
  jtime(o, &g, "first", t->first_us);
  jtime(o, &g, "last", t->last_us);
  bw__out_str(o, "}");
  bw__out_json_key(o, &f, "totals");
  g = 1;
  bw__out_str(o, "{");
  bw__out_json_u64(o, &g, "messages", t->messages);
  counts_json(o, &g, &t->customer);
  bw__out_json_u64(o, &g, "pending", t->pending);
  bw__out_json_u64(o, &g, "unknown_sender", t->unknown_sender);
  bw__out_json_u64(o, &g, "evicted_messages", t->evicted_messages);
  bw__out_json_u64(o, &g, "untracked_deferrals", t->untracked);
  bw__out_json_u64(o, &g, "other_domains", t->other_domains);
  bw__out_json_u64(o, &g, "probes", t->probes);
  bw__out_json_key(o, &g, "notifications");
  int h = 1;
  bw__out_str(o, "{");
  counts_json(o, &h, &t->notifications);
  bw__out_str(o, "}}");
  bw__out_json_key(o, &f, "sender_domains");
  table_json(o, r, r->senders, r->nsenders, 1);
  bw__out_json_key(o, &f, "registrable_domains");
  table_json(o, r, r->registrable, r->nregistrable, 0);
  bw__out_json_key(o, &f, "recipient_domains");
  table_json(o, r, r->rcpt, r->nrcpt, 0);
  bw__out_json_key(o, &f, "providers");
  table_json(o, r, r->providers, r->nproviders, 0);
  if (r->maildir != NULL) {
    bw__out_json_key(o, &f, "maildir");
    bw__maildir_json(o, r->maildir, &r->mail);
  }

  if (r->alerts != NULL)
    bw__alerts_json(o, r->alerts);
  bw__out_json_key(o, &f, "replay");
  bw__report_json_obj(o, r->replay);
  bw__out_str(o, "}\n");
}

/* ---- terminal ------------------------------------------------------------ */

static const char *window_name(int64_t s, char *buf, size_t n) {
  if (s % 86400 == 0)
    snprintf(buf, n, "%lldd", (long long)(s / 86400));
  else if (s % 3600 == 0)
    snprintf(buf, n, "%lldh", (long long)(s / 3600));
  else
    snprintf(buf, n, "%llds", (long long)s);
  return buf;
}

/* "userunknown 41%, blocked 22%, ..." for the top three reasons. */
static void top_reasons(char *buf, size_t n, const bw_counts_t *c) {
  uint64_t bad = c->n[BW_OUT_BOUNCED] + c->n[BW_OUT_EXPIRED];
  int used[BW_REASON__COUNT] = {0};
  size_t len = 0;
  buf[0] = '\0';
  for (int k = 0; k < 3; k++) {
    int best = -1;
    for (int r = 0; r < BW_REASON__COUNT; r++)
      if (!used[r] && c->by_reason[r] > 0 &&
          (best < 0 || c->by_reason[r] > c->by_reason[best]))
        best = r;
    if (best < 0 || bad == 0)
      break;
    used[best] = 1;
    int w = snprintf(buf + len, n - len, "%s%s %.0f%%", k ? ", " : "",
                     bw_reason_name((bw_reason_t)best),
                     100.0 * (double)c->by_reason[best] / (double)bad);
    if (w < 0 || (size_t)w >= n - len)
      break;
    len += (size_t)w;
  }
}

static void top_group(char *buf, size_t n, const bw_counts_t *c) {
  uint64_t bad = c->n[BW_OUT_BOUNCED] + c->n[BW_OUT_EXPIRED];
  int best = -1;
  for (int g = 1; g < BW_GROUP__COUNT; g++)
    if (c->by_group[g] > 0 && (best < 0 || c->by_group[g] > c->by_group[best]))
      best = g;
  if (best < 0 || bad == 0)
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%s %.0f%%", bw_group_name((bw_group_t)best),
             100.0 * (double)c->by_group[best] / (double)bad);
}

static void tops_text(char *buf, size_t n, const bw_agg_top_t *t, size_t nt) {
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < nt && i < 3; i++) {
    int w = snprintf(buf + len, n - len, "%s%s (%llu, %.1f%% bad)", i ? ", " : "",
                     t[i].name, (unsigned long long)t[i].final,
                     t[i].final ? 100.0 * (double)t[i].bounced / (double)t[i].final
                                : 0.0);
    if (w < 0 || (size_t)w >= n - len)
      break;
    len += (size_t)w;
  }
}

static void table_text(bw_out_t *o, const char *title, const bw_agg_key_t *k,
                       size_t n, size_t limit) {
  bw__out_printf(o, "\n%s (%zu%s)\n", title, n, n > limit ? ", top shown" : "");
  bw__out_printf(o, "  %-32s %10s %8s %8s %8s %7s %6s %10s %9s  %s\n", "name",
                 "sent", "bounced", "expired", "deferred", "bounce", "hard",
                 "complaints", "complaint", "main group of failures");
  for (size_t i = 0; i < n && i < limit; i++) {
    const bw_counts_t *c = &k[i].total;
    char grp[64];
    top_group(grp, sizeof(grp), c);
    bw__out_printf(o, "  %-32.32s %10llu %8llu %8llu %8llu %6.2f%% %5.2f%% %10llu %8.3f%%  %s\n",
                   k[i].name, (unsigned long long)c->n[BW_OUT_SENT],
                   (unsigned long long)c->n[BW_OUT_BOUNCED],
                   (unsigned long long)c->n[BW_OUT_EXPIRED],
                   (unsigned long long)c->n[BW_OUT_DEFERRED],
                   100 * bw_bounce_rate(c), 100 * bw_hard_rate(c),
                   (unsigned long long)c->n[BW_OUT_COMPLAINTS],
                   100 * bw_complaint_rate(c), grp);
  }
}

void bw__agg_report_text(bw_out_t *o, const bw_agg_report_t *r) {
  const bw_agg_totals_t *t = r->totals;
  char t0[40] = "-", t1[40] = "-", wn[32], buf[512];
  if (t->first_us != 0) {
    bw__format_time(t->first_us, t0);
    bw__format_time(t->last_us, t1);
  }
  bw__out_printf(o, "bouncewatch report: log time %s .. %s\n", t0, t1);
  bw__out_printf(o, "thresholds: bounce rate >= %.2f%% (complaint rate >= "
                    "%.2f%%) with >= %llu final outcomes in the window; "
                    "windows",
                 100 * r->opts->bounce_threshold,
                 100 * r->opts->complaint_threshold,
                 (unsigned long long)r->opts->min_volume);
  for (size_t w = 0; w < r->opts->nwindows; w++)
    bw__out_printf(o, " %s", window_name(r->opts->windows_s[w], wn, sizeof(wn)));
  bw__out_str(o, "\n");

  /* The postmaster's first question: who is over, since when, why. */
  size_t over = 0;
  for (size_t i = 0; i < r->nsenders; i++)
    over += r->senders[i].nbreaches > 0;
  bw__out_printf(o, "\nSENDER DOMAINS OVER A THRESHOLD: %zu\n", over);
  for (size_t i = 0; i < r->nsenders; i++) {
    const bw_agg_key_t *k = &r->senders[i];
    if (k->nbreaches == 0)
      continue;
    bw__out_printf(o, "  %s (registrable %s): bounce rate %.2f%% over the "
                      "whole log, %llu final outcomes",
                   k->name, k->registrable ? k->registrable : "-",
                   100 * bw_bounce_rate(&k->total),
                   (unsigned long long)bw_final_outcomes(&k->total));
    if (k->total.n[BW_OUT_COMPLAINTS] > 0)
      bw__out_printf(o, "; complaint rate %.3f%% (%llu complaints)",
                     100 * bw_complaint_rate(&k->total),
                     (unsigned long long)k->total.n[BW_OUT_COMPLAINTS]);
    bw__out_str(o, "\n");
    for (size_t b = 0; b < k->nbreaches; b++) {
      const bw_breach_t *br = &k->breaches[b];
      char s0[40], s1[40] = "still over at the end";
      bw__format_time(br->start_us, s0);
      if (br->end_us != 0)
        bw__format_time(br->end_us, s1);
      bw__out_printf(o, "    %sover in the %s window since %s until %s "
                        "(peak %.2f%% of %llu)\n",
                     br->kind == 1 ? "complaint rate " : "",
                     window_name(r->opts->windows_s[br->window], wn, sizeof(wn)),
                     s0, s1, 100 * br->peak_rate,
                     (unsigned long long)br->volume);
    }
    if (k->breaches_dropped > 0)
      bw__out_printf(o, "    (%llu more breaches not listed)\n",
                     (unsigned long long)k->breaches_dropped);
    top_reasons(buf, sizeof(buf), &k->total);
    bw__out_printf(o, "    reasons: %s\n", buf[0] ? buf : "-");
    top_group(buf, sizeof(buf), &k->total);
    bw__out_printf(o, "    group:   %s\n", buf);
    tops_text(buf, sizeof(buf), k->top_provider, k->ntop_provider);
    bw__out_printf(o, "    providers: %s\n", buf[0] ? buf : "-");
    tops_text(buf, sizeof(buf), k->top_rcpt, k->ntop_rcpt);
    bw__out_printf(o, "    recipient domains: %s\n", buf[0] ? buf : "-");
  }
  if (over == 0)
    bw__out_str(o, "  none\n");
  if (r->alerts != NULL)
    bw__alerts_text(o, r->alerts);

  table_text(o, "sender domains", r->senders, r->nsenders, 25);
  table_text(o, "providers", r->providers, r->nproviders, 25);
  table_text(o, "recipient domains", r->rcpt, r->nrcpt, 15);

  const bw_counts_t *c = &t->customer;
  bw__out_printf(o, "\ntotals (customer mail)\n"
                    "  messages %llu; final outcomes %llu: sent %llu, bounced "
                    "%llu, expired %llu\n"
                    "  bounce rate %.2f%%, hard-bounce rate %.2f%%, deferral "
                    "events %llu (deferral rate %.2f%%)\n",
                 (unsigned long long)t->messages, (unsigned long long)bw_final_outcomes(c),
                 (unsigned long long)c->n[BW_OUT_SENT],
                 (unsigned long long)c->n[BW_OUT_BOUNCED],
                 (unsigned long long)c->n[BW_OUT_EXPIRED], 100 * bw_bounce_rate(c),
                 100 * bw_hard_rate(c), (unsigned long long)c->n[BW_OUT_DEFERRED],
                 100 * bw_deferral_rate(c));
  top_reasons(buf, sizeof(buf), c);
  bw__out_printf(o, "  reasons: %s\n", buf[0] ? buf : "-");
  bw__out_printf(o, "  counted apart: %llu bounce-notification outcomes, %llu "
                    "address-verification probes\n",
                 (unsigned long long)bw_final_outcomes(&t->notifications),
                 (unsigned long long)t->probes);
  bw__out_printf(o, "  still deferred at the end (pending): %llu; outcomes "
                    "under sender \"unknown\" (message began before the log "
                    "or was evicted): %llu\n",
                 (unsigned long long)t->pending,
                 (unsigned long long)t->unknown_sender);
  bw__out_printf(o, "  evicted messages: %llu; untracked deferrals: %llu; "
                    "outcomes under \"other\" (domain cap): %llu\n",
                 (unsigned long long)t->evicted_messages,
                 (unsigned long long)t->untracked,
                 (unsigned long long)t->other_domains);
  if (r->maildir != NULL)
    bw__maildir_text(o, r->maildir, &r->mail);
  const bw_replay_stats_t *s = r->replay->stats;
  bw__out_printf(o, "  input: %zu file%s, %llu lines (%llu unknown), %llu "
                    "skipped (%llu over %zu bytes, %llu partial)%s\n",
                 s->nfiles, s->nfiles == 1 ? "" : "s",
                 (unsigned long long)s->lines,
                 (unsigned long long)s->by_kind[BW_KIND_UNKNOWN],
                 (unsigned long long)(s->long_lines + s->partial_tails),
                 (unsigned long long)s->long_lines, r->replay->max_line,
                 (unsigned long long)s->partial_tails,
                 s->files_failed ? "; SOME INPUT WAS INCOMPLETE (see stderr)" : "");
}
