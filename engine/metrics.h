/* The Prometheus text exposition (format 0.0.4) of a running watch:
 * counters from the aggregation and the replay counters (restored from
 * the state file, so they stay monotonic across restarts), window rate
 * gauges, and bouncewatch's own health. Internal to the engine; the HTTP
 * side is http_server.c. */
#ifndef BW_METRICS_H
#define BW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/replay.h"

typedef struct {
  bw_agg_t *agg;
  const bw_agg_opts_t *ao;
  const bw_replay_stats_t *stats;
  uint64_t rotations, truncations, reopen_errors; /* followers, this run */
  double checkpoint_age_s; /* seconds since the state was saved; < 0: none */
  double loop_lag_s;       /* the last timer delay seen on the loop */
  /* Sender domains exported by name: the first `max_domains` by first
   * appearance (a set that never changes under a counter); the others,
   * and the aggregator's own "other", sum under sender_domain="other". */
  size_t max_domains;
  /* Alerts (alert.c): firing now, by kind (0 bounce, 1 complaint), and
   * transitions sent, dropped by full queues. NULL: no alerts. */
  const uint64_t *alerts_firing;
  uint64_t alerts_fired, alerts_resolved, alert_sink_dropped;
  int alerts_on;
} bw_metrics_in_t;

#define BW_METRICS_DEFAULT_DOMAINS 100

/* Render the exposition into *out (malloc'd, *len bytes, the caller frees
 * it). 0 or BW_ENOMEM. Every family is one group, HELP and TYPE first,
 * every series once, the last line ends with \n. */
int bw__metrics_render(const bw_metrics_in_t *in, char **out, size_t *len);

/* Prometheus duration spelling of a window: 3600 -> "1h", 86400 -> "1d",
 * 300 -> "5m", else "<n>s". buf of at least 24 bytes. */
const char *bw__metrics_duration(int64_t s, char *buf, size_t n);

#endif
