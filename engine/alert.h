/* Alerts: a state machine per (sender domain, window, kind) over the
 * aggregator's windows, evaluated at every bucket boundary of log time,
 * so a replay lists the alerts a live watch would have raised. An alert
 * fires when the rate reaches its threshold with the minimum volume, and
 * resolves only after the rate has stayed below a lower level (or the
 * volume below the minimum) for a whole bucket: no flapping, one firing
 * and one resolution per episode. Internal to the engine; single
 * threaded (the loop or replay thread that feeds the aggregator). */
#ifndef BW_ALERT_H
#define BW_ALERT_H

#include <stdint.h>
#include <stdio.h>

#include "bouncewatch/agg.h"
#include "out_buf.h"

enum { BW_ALERT_BOUNCE = 0, BW_ALERT_COMPLAINT = 1 };
#define BW_ALERT_TOP 3

/* One alert episode. Plain data (fixed arrays, no pointers): copied into
 * the history and saved as bytes in the state file. */
typedef struct {
  uint64_t seq;       /* 1, 2, ... in firing order */
  char domain[256];   /* sender domain */
  int kind;           /* BW_ALERT_BOUNCE or BW_ALERT_COMPLAINT */
  int window;         /* index into the windows */
  int64_t window_s;
  int64_t start_us;   /* log time of the evaluation that fired */
  int64_t end_us;     /* log time it resolved; 0 while firing */
  double rate;        /* at firing */
  double peak_rate;   /* highest seen while firing */
  uint64_t volume;    /* at firing: final outcomes (bounce) or sent
                         (complaint) in the window */
  uint64_t count;     /* at firing: failed outcomes or complaints */
  double threshold, resolve_below;
  /* Why: reasons and groups of the domain's bounces since it was last
   * clear of alerts, and its top providers (by bounces, cumulative). */
  struct {
    char name[32];
    uint64_t n;
  } reasons[BW_ALERT_TOP], groups[BW_ALERT_TOP];
  struct {
    char name[64];
    uint64_t final, bounced;
  } providers[BW_ALERT_TOP];
  uint32_t nreasons, ngroups, nproviders;
} bw_alert_t;

typedef struct {
  const char *domain;
  double bounce, complaint; /* fractions; < 0: the default */
  int64_t min_volume;       /* < 0: the default */
} bw_alert_domain_t;

typedef struct {
  double bounce_threshold;    /* default: the aggregator's (0.02) */
  double complaint_threshold; /* default: the aggregator's (0.001) */
  uint64_t min_volume;        /* default: the aggregator's (100) */
  double resolve_ratio;       /* resolve below threshold * this (0.75) */
  size_t max_history;         /* episodes listed (1024); more are counted */
  bw_alert_domain_t domains[64];
  size_t ndomains;
} bw_alert_opts_t;

/* Defaults taken from the aggregator's options (its per-domain bounce
 * thresholds become per-domain alert thresholds). */
void bw__alert_opts_default(bw_alert_opts_t *o, const bw_agg_opts_t *ao);

/* Parse "DOMAIN=bounce:PCT,complaint:PCT,min:N" (any subset) into the
 * next domain slot. 0, or -1 with a message in err. */
int bw__alert_opts_domain(bw_alert_opts_t *o, const char *spec, char *err,
                          size_t errlen);

/* A transition: resolved 0 when it fires, 1 when it resolves. The alert
 * is valid during the call only. */
typedef void (*bw_alert_cb)(void *arg, const bw_alert_t *a, int resolved);

typedef struct bw_alerts_s bw_alerts_t;

/* ao must outlive the alerts (its windows and bucket are read). cb may be
 * NULL. 0 or BW_ENOMEM / BW_EINVAL. */
int bw__alerts_new(const bw_alert_opts_t *o, const bw_agg_opts_t *ao,
                   bw_alert_cb cb, void *arg, bw_alerts_t **out);
void bw__alerts_free(bw_alerts_t *al);
void bw__alerts_set_cb(bw_alerts_t *al, bw_alert_cb cb, void *arg);

/* Call with each event's log time BEFORE bw_agg_add(): when it starts a
 * new bucket, the windows are brought to the end of the previous one and
 * every alert is evaluated there. */
void bw__alerts_tick(bw_alerts_t *al, bw_agg_t *agg, int64_t t_us);

/* End of a replay (after bw_agg_finish): evaluate once more at the last
 * log time, as a live watch will at the next bucket boundary. */
void bw__alerts_finish(bw_alerts_t *al, bw_agg_t *agg);

/* Episodes, oldest first (firing ones have end_us 0), and how many did
 * not fit the history. */
const bw_alert_t *bw__alerts_list(const bw_alerts_t *al, size_t *n,
                                  uint64_t *dropped);

/* Call cb(arg, alert, 0) for every alert firing now (after a restore). */
void bw__alerts_each_firing(const bw_alerts_t *al, bw_alert_cb cb, void *arg);

typedef struct {
  uint64_t firing[2]; /* now, by kind */
  uint64_t fired, resolved;
} bw_alert_counts_t;
void bw__alerts_counts(const bw_alerts_t *al, bw_alert_counts_t *c);

/* The whole state (episodes, firing alerts, the evaluation clock), saved
 * after the aggregator's in watch's state file; checksummed. restore
 * returns BW_EPARSE for a damaged or truncated section. */
int bw__alerts_save(const bw_alerts_t *al, FILE *f);
int bw__alerts_restore(bw_alerts_t *al, FILE *f);

/* Output: one alert as a JSON object (with "status"), the "alerts" and
 * "alerts_dropped" members of the report JSON (with the leading comma),
 * and the text section of the report. */
void bw__alert_json_obj(bw_out_t *o, const bw_alert_t *a, int resolved);
void bw__alerts_json(bw_out_t *o, const bw_alerts_t *al);
void bw__alerts_text(bw_out_t *o, const bw_alerts_t *al);

#endif
