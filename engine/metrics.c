/* The Prometheus exposition of watch's counters (format 0.0.4). It owns
 * the metric names, their help and units, the label escaping and the
 * label cap on sender domains; it does not serve HTTP (http_server.c) and
 * keeps no state of its own: every scrape is rendered from the aggregator
 * and the counters, which the state file restores, so counters never go
 * back across a restart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "metrics.h"

const char *bw__metrics_duration(int64_t s, char *buf, size_t n) {
  if (s > 0 && s % 86400 == 0)
    snprintf(buf, n, "%lldd", (long long)(s / 86400));
  else if (s > 0 && s % 3600 == 0)
    snprintf(buf, n, "%lldh", (long long)(s / 3600));
  else if (s > 0 && s % 60 == 0)
    snprintf(buf, n, "%lldm", (long long)(s / 60));
  else
    snprintf(buf, n, "%llds", (long long)s);
  return buf;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  size_t len = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
  if (len == 0 || len > n || (len == 2 && c < 0xC2) || (len == 4 && c > 0xF4))
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  if (len == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)))
    return 0; /* overlong, or a surrogate */
  if (len == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)))
    return 0;
  return len;
}

/* A label value: the exposition is UTF-8 with \\, \" and \n escaped.
 * Names come from log lines, so other control bytes and invalid UTF-8
 * are replaced (U+FFFD) rather than trusted. */
static void label_value(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  while (n > 0) {
    size_t l = utf8_len(p, n);
    if (l == 0 || (l == 1 && (*p < 0x20 || *p == 0x7f))) {
      if (*p == '\n')
        fputs("\\n", f);
      else
        fputs("\xEF\xBF\xBD", f);
      p++;
      n--;
      continue;
    }
    if (*p == '\\' || *p == '"')
      fputc('\\', f);
    fwrite(p, 1, l, f);
    p += l;
    n -= l;
  }
}

static void family(FILE *f, const char *name, const char *type,
                   const char *help) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",k2="v2"} (no braces without k1; k2 may be NULL), then
 * the caller's value. */
static void series(FILE *f, const char *name, const char *k1, const char *v1,
                   const char *k2, const char *v2) {
  fputs(name, f);
  if (k1 != NULL) {
    fprintf(f, "{%s=\"", k1);
    label_value(f, v1);
    if (k2 != NULL) {
      fprintf(f, "\",%s=\"", k2);
      label_value(f, v2);
    }
    fputs("\"}", f);
  }
}

static void sample_u(FILE *f, const char *name, const char *k1, const char *v1,
                     const char *k2, const char *v2, uint64_t v) {
  series(f, name, k1, v1, k2, v2);
  fprintf(f, " %llu\n", (unsigned long long)v);
}

/* A family of one series without labels: its HELP, TYPE and value. */
static void one_u(FILE *f, const char *name, const char *type, const char *help,
                  uint64_t v) {
  family(f, name, type, help);
  sample_u(f, name, NULL, NULL, NULL, NULL, v);
}

static void sample_d(FILE *f, const char *name, const char *k1, const char *v1,
                     const char *k2, const char *v2, double v) {
  series(f, name, k1, v1, k2, v2);
  if (isnan(v))
    fputs(" NaN\n", f);
  else
    fprintf(f, " %.17g\n", v);
}

/* A sender domain as exported: its own, or "other" summing the rest. */
typedef struct {
  const char *name;
  bw_counts_t c;
  bw_window_counts_t w[4];
} sender_t;

static void add_counts(bw_counts_t *to, const bw_counts_t *from) {
  for (int i = 0; i < BW_OUT__COUNT; i++)
    to->n[i] += from->n[i];
  for (int i = 0; i < BW_REASON__COUNT; i++)
    to->by_reason[i] += from->by_reason[i];
  for (int i = 0; i < BW_GROUP__COUNT; i++)
    to->by_group[i] += from->by_group[i];
}

static const struct {
  bw_outcome_t o;
  const char *name;
} outcomes[] = {{BW_OUT_SENT, "sent"},
                {BW_OUT_BOUNCED, "bounced"},
                {BW_OUT_EXPIRED, "expired"},
                {BW_OUT_DEFERRED, "deferred"}};
#define NOUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

static void senders_families(FILE *f, const bw_metrics_in_t *in,
                             const sender_t *s, size_t n) {
  family(f, "bouncewatch_outcomes_total", "counter",
         "Recipients by final outcome (sent, bounced, expired) and deferral "
         "attempts (deferred), per sender domain; the customer's mail only.");
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < NOUTCOMES; k++)
      sample_u(f, "bouncewatch_outcomes_total", "sender_domain", s[i].name,
               "outcome", outcomes[k].name, s[i].c.n[outcomes[k].o]);
  family(
      f, "bouncewatch_hard_bounces_total", "counter",
      "Bounced or expired recipients with a hard reason, per sender domain.");
  for (size_t i = 0; i < n; i++)
    sample_u(f, "bouncewatch_hard_bounces_total", "sender_domain", s[i].name,
             NULL, NULL, s[i].c.n[BW_OUT_HARD]);
  family(f, "bouncewatch_complaints_total", "counter",
         "Abuse and fraud complaints, per sender domain.");
  for (size_t i = 0; i < n; i++)
    sample_u(f, "bouncewatch_complaints_total", "sender_domain", s[i].name,
             NULL, NULL, s[i].c.n[BW_OUT_COMPLAINTS]);
  /* Reasons only where seen: 26 reasons times every domain would be
   * mostly zeros. A series, once there, stays (counts never fall). */
  family(f, "bouncewatch_bounces_by_reason_total", "counter",
         "Bounced or expired recipients by reason, per sender domain.");
  for (size_t i = 0; i < n; i++)
    for (int r = 0; r < BW_REASON__COUNT; r++)
      if (s[i].c.by_reason[r] > 0)
        sample_u(f, "bouncewatch_bounces_by_reason_total", "sender_domain",
                 s[i].name, "reason", bw_reason_name((bw_reason_t)r),
                 s[i].c.by_reason[r]);
  family(f, "bouncewatch_bounces_by_group_total", "counter",
         "Bounced or expired recipients by group (whose side the problem is "
         "on), per sender domain.");
  for (size_t i = 0; i < n; i++)
    for (int g = 0; g < BW_GROUP__COUNT; g++)
      sample_u(f, "bouncewatch_bounces_by_group_total", "sender_domain",
               s[i].name, "group", bw_group_name((bw_group_t)g),
               s[i].c.by_group[g]);

  /* Window gauges: the numbers an alert looks at, in log time. */
  static const struct {
    const char *name, *help;
    int what;
  } wf[] = {
      {"bouncewatch_window_final_outcomes",
       "Final outcomes in the window of log time ending at the last line read.",
       0},
      {"bouncewatch_window_failed_outcomes",
       "Bounced and expired recipients in the window of log time.", 1},
      {"bouncewatch_window_complaints", "Complaints in the window of log time.",
       2},
      {"bouncewatch_window_bounce_ratio",
       "Bounce rate (failed / final outcomes) over the window, 0..1; 0 without "
       "volume.",
       3},
      {"bouncewatch_window_complaint_ratio",
       "Complaint rate (complaints / sent) over the window, 0..1; 0 without "
       "volume.",
       4},
  };
  for (size_t m = 0; m < sizeof(wf) / sizeof(wf[0]); m++) {
    family(f, wf[m].name, "gauge", wf[m].help);
    for (size_t i = 0; i < n; i++)
      for (size_t w = 0; w < in->ao->nwindows; w++) {
        char d[24];
        bw__metrics_duration(in->ao->windows_s[w], d, sizeof(d));
        const bw_window_counts_t *c = &s[i].w[w];
        uint64_t sent = c->final - c->bounced;
        if (wf[m].what <= 2)
          sample_u(f, wf[m].name, "sender_domain", s[i].name, "window", d,
                   wf[m].what == 0   ? c->final
                   : wf[m].what == 1 ? c->bounced
                                     : c->complaints);
        else
          sample_d(f, wf[m].name, "sender_domain", s[i].name, "window", d,
                   wf[m].what == 3 ? bw_window_rate(c)
                   : sent > 0      ? (double)c->complaints / (double)sent
                                   : 0.0);
      }
  }
}

static void own_families(FILE *f, const bw_metrics_in_t *in,
                         const bw_agg_totals_t *t, size_t folded) {
  const bw_replay_stats_t *st = in->stats;
  one_u(f, "bouncewatch_read_bytes_total", "counter",
        "Bytes read from the log files (compressed size for archives).",
        st->bytes_read);
  one_u(f, "bouncewatch_decoded_bytes_total", "counter",
        "Bytes after decompression.", st->bytes_decoded);
  family(f, "bouncewatch_lines_total", "counter",
         "Lines parsed, by kind (kind=\"unknown\": no prefix recognised).");
  for (int k = 0; k < BW_KIND__COUNT; k++)
    sample_u(f, "bouncewatch_lines_total", "kind", bw_kind_name((bw_kind_t)k),
             NULL, NULL, st->by_kind[k]);
  family(f, "bouncewatch_skipped_lines_total", "counter",
         "Lines skipped: longer than the line cap, or a partial line at a "
         "decode error.");
  sample_u(f, "bouncewatch_skipped_lines_total", "why", "too_long", NULL, NULL,
           st->long_lines);
  sample_u(f, "bouncewatch_skipped_lines_total", "why", "partial_tail", NULL,
           NULL, st->partial_tails);
  family(f, "bouncewatch_deliveries_total", "counter",
         "Delivery lines by status (every attempt, before the join).");
  for (int k = 0; k < BW_STATUS__COUNT; k++)
    sample_u(f, "bouncewatch_deliveries_total", "status",
             bw_status_name((bw_status_t)k), NULL, NULL, st->by_status[k]);
  one_u(f, "bouncewatch_decode_errors_total", "counter",
        "Files that could not be read to their end (corrupt, truncated or "
        "refused format).",
        st->files_failed);
  one_u(f, "bouncewatch_messages_total", "counter", "Messages seen arriving.",
        t->messages);
  one_u(f, "bouncewatch_evicted_messages_total", "counter",
        "Messages in flight pushed out of the full join table.",
        t->evicted_messages);
  one_u(f, "bouncewatch_untracked_deferrals_total", "counter",
        "Deferred recipients not tracked because the pending pool was full.",
        t->untracked);
  one_u(f, "bouncewatch_other_domain_outcomes_total", "counter",
        "Outcomes counted under \"other\" because a domain table was full.",
        t->other_domains);
  family(
      f, "bouncewatch_notification_outcomes_total", "counter",
      "Final outcomes of bounce notifications (null sender), counted apart.");
  for (size_t k = 0; k < 3; k++)
    sample_u(f, "bouncewatch_notification_outcomes_total", "outcome",
             outcomes[k].name, NULL, NULL, t->notifications.n[outcomes[k].o]);
  one_u(f, "bouncewatch_probes_total", "counter",
        "Address-verification probes, counted apart.", t->probes);
  one_u(f, "bouncewatch_rotations_total", "counter",
        "Log rotations followed since this process started.", in->rotations);
  one_u(f, "bouncewatch_truncations_total", "counter",
        "Log truncations (copytruncate) followed since this process started.",
        in->truncations);
  one_u(f, "bouncewatch_reopen_errors_total", "counter",
        "Failures to open a followed path since this process started.",
        in->reopen_errors);
  if (in->checkpoint_age_s >= 0) {
    family(f, "bouncewatch_checkpoint_age_seconds", "gauge",
           "Seconds since the state file was last written.");
    sample_d(f, "bouncewatch_checkpoint_age_seconds", NULL, NULL, NULL, NULL,
             in->checkpoint_age_s);
  }
  family(f, "bouncewatch_loop_lag_seconds", "gauge",
         "How late the event loop ran its last 1 s tick (a busy or blocked "
         "loop).");
  sample_d(f, "bouncewatch_loop_lag_seconds", NULL, NULL, NULL, NULL,
           in->loop_lag_s);
  family(f, "bouncewatch_last_log_time_seconds", "gauge",
         "Log time of the newest line read (Unix seconds); 0 before any.");
  sample_d(f, "bouncewatch_last_log_time_seconds", NULL, NULL, NULL, NULL,
           t->last_us > 0 ? (double)t->last_us / 1e6 : 0.0);
  one_u(f, "bouncewatch_folded_sender_domains", "gauge",
        "Sender domains beyond the metrics label cap, summed under "
        "sender_domain=\"other\".",
        folded);
  if (in->alerts_on) {
    family(f, "bouncewatch_alerts_firing", "gauge",
           "Alerts firing now (per sender domain, window and kind), by kind.");
    sample_u(f, "bouncewatch_alerts_firing", "kind", "bounce_rate", NULL, NULL,
             in->alerts_firing[0]);
    sample_u(f, "bouncewatch_alerts_firing", "kind", "complaint_rate", NULL,
             NULL, in->alerts_firing[1]);
    family(f, "bouncewatch_alert_transitions_total", "counter",
           "Alerts that fired and that resolved.");
    sample_u(f, "bouncewatch_alert_transitions_total", "state", "firing", NULL,
             NULL, in->alerts_fired);
    sample_u(f, "bouncewatch_alert_transitions_total", "state", "resolved",
             NULL, NULL, in->alerts_resolved);
    family(f, "bouncewatch_alert_notifications_dropped_total", "counter",
           "Alert notifications dropped by a full sink queue.");
    sample_u(f, "bouncewatch_alert_notifications_dropped_total", NULL, NULL,
             NULL, NULL, in->alert_sink_dropped);
  }
}

int bw__metrics_render(const bw_metrics_in_t *in, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  bw_agg_key_t *keys = NULL, *prov = NULL;
  sender_t *s = NULL;
  char *buf = NULL;
  size_t blen = 0;
  FILE *f = NULL;
  size_t nk = bw_agg_keys(in->agg, BW_AGG_SENDER, &keys);
  size_t np = bw_agg_keys(in->agg, BW_AGG_PROVIDER, &prov);
  if ((nk > 0 && keys == NULL) || (np > 0 && prov == NULL))
    goto fail;
  s = calloc(nk + 1, sizeof(*s));
  if (s == NULL)
    goto fail;
  /* The cap goes by id (first appearance), never by volume: a domain
   * moving in and out of a top-N would make "other" fall. */
  size_t n = 0, folded = 0;
  sender_t other;
  memset(&other, 0, sizeof(other));
  other.name = "other";
  int have_other = 0;
  for (size_t i = 0; i < nk; i++) {
    int fold =
        keys[i].id >= in->max_domains || strcmp(keys[i].name, "other") == 0;
    sender_t *d = fold ? &other : &s[n++];
    if (fold) {
      have_other = 1;
      folded += strcmp(keys[i].name, "other") != 0;
    } else {
      d->name = keys[i].name;
    }
    add_counts(&d->c, &keys[i].total);
    for (size_t w = 0; w < in->ao->nwindows && w < 4; w++) {
      d->w[w].final += keys[i].window[w].final;
      d->w[w].bounced += keys[i].window[w].bounced;
      d->w[w].complaints += keys[i].window[w].complaints;
    }
  }
  if (have_other)
    s[n++] = other;
  bw_agg_totals_t t;
  bw_agg_totals(in->agg, &t);

  f = open_memstream(&buf, &blen);
  if (f == NULL)
    goto fail;
  senders_families(f, in, s, n);
  family(f, "bouncewatch_provider_outcomes_total", "counter",
         "Recipients by final outcome and deferral attempts, per mailbox "
         "provider (patterns/providers.tsv).");
  for (size_t i = 0; i < np; i++)
    for (size_t k = 0; k < NOUTCOMES; k++)
      sample_u(f, "bouncewatch_provider_outcomes_total", "provider",
               prov[i].name, "outcome", outcomes[k].name,
               prov[i].total.n[outcomes[k].o]);
  family(f, "bouncewatch_provider_bounces_by_group_total", "counter",
         "Bounced or expired recipients by group, per mailbox provider.");
  for (size_t i = 0; i < np; i++)
    for (int g = 0; g < BW_GROUP__COUNT; g++)
      sample_u(f, "bouncewatch_provider_bounces_by_group_total", "provider",
               prov[i].name, "group", bw_group_name((bw_group_t)g),
               prov[i].total.by_group[g]);
  own_families(f, in, &t, folded);
  if (ferror(f))
    goto fail;
  if (fclose(f) != 0) {
    f = NULL;
    goto fail;
  }
  f = NULL;
  free(keys);
  free(prov);
  free(s);
  *out = buf;
  *len = blen;
  return 0;
fail:
  if (f != NULL)
    fclose(f);
  free(buf);
  free(keys);
  free(prov);
  free(s);
  return BW_ENOMEM;
}
