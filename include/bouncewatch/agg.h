/* Join and aggregation: deliveries joined to their senders, each
 * recipient counted once by its final outcome, per sender domain,
 * recipient domain, mailbox provider, reason and group, with bounce and
 * complaint rates over sliding windows of log time and threshold breaches.
 *
 * Ownership: bw_agg_t owns every table and string it reports; pointers in
 * the structures returned by bw_agg_* stay valid until bw_agg_free() or the
 * next bw_agg_add() (bw_agg_keys' array itself is the caller's). Single-threaded: feed it from the thread that runs the
 * replay callback. Memory is bounded by the caps in bw_agg_opts_t; what a
 * cap pushes out is counted (evictions, "other" buckets), never dropped
 * silently. */
#ifndef BOUNCEWATCH_AGG_H
#define BOUNCEWATCH_AGG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bouncewatch/classify.h"
#include "bouncewatch/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Final outcomes of one recipient, and the counters kept per key. */
typedef enum {
  BW_OUT_SENT = 0,
  BW_OUT_BOUNCED, /* 5xx / bounced / Exim ** */
  BW_OUT_EXPIRED, /* gave up after deferrals (Postfix status=expired, Exim
                     retry timeout) */
  BW_OUT__FINAL,  /* the three final outcomes above */
  BW_OUT_DEFERRED = BW_OUT__FINAL, /* deferral events (attempts) */
  BW_OUT_HARD,       /* bounced or expired with a hard reason */
  BW_OUT_COMPLAINTS, /* abuse/fraud complaints (bw_agg_add_mail) */
  BW_OUT__COUNT
} bw_outcome_t;

typedef struct {
  uint64_t n[BW_OUT__COUNT];
  uint64_t by_reason[BW_REASON__COUNT]; /* bounced + expired, by reason */
  uint64_t by_group[BW_GROUP__COUNT];
} bw_counts_t;

/* Final outcomes (sent + bounced + expired) and the failed ones among
 * them (bounced + expired): the two terms of the bounce rate. */
uint64_t bw_final_outcomes(const bw_counts_t *c);
uint64_t bw_failed_outcomes(const bw_counts_t *c);

/* bounce rate = (bounced + expired) / (sent + bounced + expired);
 * 0 when there is no final outcome. */
double bw_bounce_rate(const bw_counts_t *c);
double bw_hard_rate(const bw_counts_t *c);
double bw_deferral_rate(const bw_counts_t *c); /* deferred / (final + deferred) */
double bw_complaint_rate(const bw_counts_t *c); /* complaints / sent */

typedef struct {
  int64_t start_us, end_us; /* log time; end_us 0 while still breaching */
  double peak_rate;
  uint64_t volume; /* final outcomes in the window at the peak */
  int window;      /* index into bw_agg_opts_t.windows_s */
  int kind;        /* 0 bounce rate, 1 complaint rate */
} bw_breach_t;

typedef struct {
  uint64_t final, bounced, complaints;
} bw_window_counts_t;

/* (bounced) / (final) of a window, 0 without volume. */
double bw_window_rate(const bw_window_counts_t *w);

/* Heavy hitters inside a sender domain (providers or recipient domains),
 * kept by the space-saving algorithm in a fixed number of slots: counts
 * are exact for keys that stayed, over-estimates by at most `error`. */
#define BW_AGG_TOP 8
typedef struct {
  const char *name;
  uint64_t final;   /* final outcomes */
  uint64_t bounced; /* bounced + expired */
  uint64_t error;
} bw_agg_top_t;

/* One aggregated key (a sender domain, recipient domain or provider). */
typedef struct {
  const char *name;        /* "example.org", "unknown", "other" */
  uint32_t id; /* stable within the table: order of first appearance,
                  kept by save/restore (metrics pick their capped label
                  set by it, so the set never changes under a counter) */
  const char *registrable; /* sender domains: libpsl's registrable domain */
  bw_counts_t total;
  /* Sender domains, per window: final outcomes in the window ending at
   * the last log time seen; `bounced` holds bounced and expired together
   * (what the bounce rate counts). */
  bw_window_counts_t window[4];
  /* Breaches of this key (sender domains only), oldest first. */
  const bw_breach_t *breaches;
  size_t nbreaches;
  uint64_t breaches_dropped; /* over the per-domain breach cap */
  /* Sender domains only: where their mail went (top providers and
   * recipient domains by final outcomes); ntop_* slots are used. */
  bw_agg_top_t top_provider[BW_AGG_TOP], top_rcpt[BW_AGG_TOP];
  size_t ntop_provider, ntop_rcpt;
  /* Sender domains only: bounce rate over log time for charts, oldest
   * first: series[i] covers [series_start_us + i * series_step_s * 1e6,
   * + series_step_s). At most 256 points: a long log doubles the step. */
  const float *series;       /* bounce rate in the point (NaN: no volume) */
  const uint32_t *series_n;  /* final outcomes in the point */
  size_t nseries;
  int64_t series_start_us;
  int64_t series_step_s;
} bw_agg_key_t;

typedef struct {
  /* Windows in seconds of log time (default 3600 and 86400); up to 4. */
  int64_t windows_s[4];
  size_t nwindows;
  int64_t bucket_s;           /* ring bucket width (default 300) */
  double bounce_threshold;    /* default 0.02 */
  double complaint_threshold; /* default 0.001 */
  uint64_t min_volume;        /* final outcomes in the window (default 100) */
  size_t max_messages;   /* queue ids / message ids in flight (default 50000) */
  size_t max_domains;    /* sender domains (recipient domains: 2x); the rest
                            counts as "other" (default 1000) */
  const char *providers_file; /* patterns/providers.tsv; NULL: none */
  /* Per sender domain bounce thresholds overriding bounce_threshold
   * (exact domain names, compared without case); up to 64. */
  struct {
    const char *domain;
    double bounce_threshold;
  } domain_thresholds[64];
  size_t ndomain_thresholds;
  /* Reports from a mailbox (bw_agg_add_mail): message-ids the log showed,
   * remembered with their sender domain and the recipients sent, so a
   * complaint or a DSN finds our sender; the oldest are evicted and
   * counted. 0 = off (the default; `--maildir` turns it on). */
  size_t max_joined;
  /* Identities of the reports counted, so none is counted twice (also
   * across restarts: they are in the saved state); 0 = off. */
  size_t max_seen;
} bw_agg_opts_t;

void bw_agg_opts_default(bw_agg_opts_t *o);

typedef struct bw_agg_s bw_agg_t;

int bw_agg_new(const bw_agg_opts_t *opts, bw_agg_t **out);
void bw_agg_free(bw_agg_t *a);

/* Feed every parsed line (all kinds) in log order; v is the verdict of a
 * classified delivery or NULL. */
void bw_agg_add(bw_agg_t *a, const bw_event_t *ev, const bw_verdict_t *v);

/* The sender domain of a delivery's message as the join knows it: the
 * domain name, "" for a bounce notification (null sender), NULL when
 * the message is not in the table (began before the input, evicted) and
 * the line names no sender. Valid until the next bw_agg_add(). For
 * consumers beside the aggregator (the suppression list's evidence). */
const char *bw_agg_sender_of(const bw_agg_t *a, const bw_event_t *ev);

/* Move every sender domain's windows to log time t_us (buckets that
 * left let breaches close), as the next outcome of each would; calling
 * it at any log time already reached changes no result. The alerts
 * evaluate the windows after it at every bucket boundary. */
void bw_agg_advance(bw_agg_t *a, int64_t t_us);

/* End of input: recipients still deferred stay "pending" (reported, not
 * counted as outcomes); open breaches stay open. */
void bw_agg_finish(bw_agg_t *a);

typedef struct {
  bw_counts_t customer;      /* the customer's mail (what rates are about) */
  bw_counts_t notifications; /* bounce notifications (from=<>), apart */
  uint64_t probes;           /* address-verification probes, apart */
  uint64_t messages;         /* messages seen (arrivals) */
  uint64_t pending;          /* recipients still deferred at the end */
  uint64_t unknown_sender;   /* outcomes whose message began before the
                                input or was evicted */
  uint64_t evicted_messages; /* messages pushed out of the table */
  uint64_t untracked;        /* deferred recipients not tracked (pool full):
                                a later expiry cannot be applied to them */
  uint64_t other_domains;    /* outcomes counted under "other" (domain cap) */
  int64_t first_us, last_us; /* log time span */
} bw_agg_totals_t;

void bw_agg_totals(const bw_agg_t *a, bw_agg_totals_t *t);

/* The whole aggregation state (tables, messages in flight, windows,
 * breaches) to f, and back into a bw_agg_t made with the same options.
 * The format is versioned and ends with a checksum: a truncated, damaged
 * or foreign state makes restore fail with BW_EPARSE, and the aggregator
 * must then be freed and made anew (it may be half-restored). */
int bw_agg_save(const bw_agg_t *a, FILE *f);
int bw_agg_restore(bw_agg_t *a, FILE *f);

typedef enum { BW_AGG_SENDER, BW_AGG_SENDER_REG, BW_AGG_RCPT, BW_AGG_PROVIDER } bw_agg_table_t;

/* Keys of a table with any outcome, sorted by volume (descending). *out
 * is one allocation the caller frees with free(); the strings, breaches
 * and series counts it points to belong to the aggregator (valid until
 * the next bw_agg_add() or bw_agg_free()). Returns the count (0 with *out
 * NULL on allocation failure). */
size_t bw_agg_keys(bw_agg_t *a, bw_agg_table_t t, bw_agg_key_t **out);

/* ---- reports from a mailbox: complaints and asynchronous bounces -------- */

typedef enum {
  BW_MAIL_COMPLAINT, /* an abuse or fraud complaint (ARF, JMRP) */
  BW_MAIL_FAILED     /* a DSN or bounce with Action: failed, one recipient */
} bw_agg_mail_kind_t;

/* One report (or one recipient of a DSN), fed at its log time. Spans are
 * the caller's and only read during the call. */
typedef struct {
  bw_agg_mail_kind_t kind;
  int64_t time_us;      /* the log time to count it at */
  bw_span_t message_id; /* the enclosed original's, without <> */
  bw_span_t fallback;   /* "user@domain" or "@domain" naming our sender when
                           the message-id is unknown: the original's
                           Return-Path, From or DKIM d= */
  bw_span_t rcpt, orig_rcpt; /* the complaining / failed recipient */
  bw_span_t reporter;   /* a host or domain naming the provider when the
                           recipient is absent (the report's From) */
  const bw_verdict_t *verdict; /* FAILED: the classifier's verdict */
} bw_agg_mail_t;

typedef enum {
  BW_MAIL_JOINED_MID,    /* complaint counted, joined by Message-ID */
  BW_MAIL_JOINED_DOMAIN, /* complaint counted under the fallback domain */
  BW_MAIL_UNKNOWN,       /* complaint counted under sender "unknown" */
  BW_MAIL_BOUNCED,       /* a recipient the log showed sent is now bounced */
  BW_MAIL_ALREADY,       /* that recipient was turned before: not again */
  BW_MAIL_NOT_SENT,      /* no recipient the log showed sent: reported only */
  BW_MAIL_NOTIFICATION   /* about one of our bounce notifications (from=<>):
                            counted apart, with the notifications */
} bw_agg_mail_result_t;

/* Count one report. A complaint counts under the sender its original's
 * Message-ID joins to (else the fallback domain, else "unknown"), at
 * time_us in the windows (complaint rate = complaints / sent). A failed
 * recipient that the log showed sent (joined by Message-ID and address)
 * turns from sent into bounced, once, with the verdict's reason. *sender
 * (may be NULL) gets the sender domain's name (valid until bw_agg_free). */
bw_agg_mail_result_t bw_agg_add_mail(bw_agg_t *a, const bw_agg_mail_t *m,
                                     const char **sender);

/* Remember a report's identity: 1 if new, 0 if it was counted before
 * (always 1 when max_seen is 0). */
int bw_agg_mail_seen(bw_agg_t *a, uint64_t identity);
/* 1 if the identity was remembered by bw_agg_mail_seen(), without adding
 * it (0 when max_seen is 0). */
int bw_agg_mail_known(const bw_agg_t *a, uint64_t identity);

typedef struct {
  uint64_t complaints_mid, complaints_domain, complaints_unknown;
  uint64_t async_bounced, async_already, async_not_sent;
  uint64_t joined;          /* message-ids remembered now */
  uint64_t joined_evicted;  /* pushed out by the cap */
  uint64_t rcpts_untracked; /* sent recipients not remembered (pool full) */
  uint64_t seen;            /* report identities remembered now */
  uint64_t seen_evicted;    /* pushed out by the cap */
} bw_agg_mail_totals_t;

void bw_agg_mail_totals(const bw_agg_t *a, bw_agg_mail_totals_t *t);

/* complaints / (final - bounced) of a window, 0 without sent mail. */
double bw_window_complaint_rate(const bw_window_counts_t *w);

/* Every sender domain with final outcomes: its name, totals and window
 * counts, without building the report tables (the alerts look at them
 * at every bucket boundary). Pointers are valid during the call. */
typedef void (*bw_agg_sender_cb)(void *arg, const char *name,
                                 const bw_counts_t *total,
                                 const bw_window_counts_t *windows);
void bw_agg_each_sender(const bw_agg_t *a, bw_agg_sender_cb cb, void *arg);

/* The top providers of one sender domain (as bw_agg_keys gives them,
 * most final outcomes first) into out; their names belong to the
 * aggregator. Returns how many, 0 for an unknown domain. Costs a lookup,
 * not the whole table (alerts ask it at every firing). */
size_t bw_agg_sender_providers(const bw_agg_t *a, const char *domain,
                               bw_agg_top_t out[BW_AGG_TOP]);

#ifdef __cplusplus
}
#endif
#endif
