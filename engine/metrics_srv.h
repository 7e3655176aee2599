/* watch's /metrics endpoint: the HTTP server, the exposition and a 1 s
 * loop-lag probe, glued together so cmd_watch.c only starts and closes
 * it. Internal to the engine. */
#ifndef BW_METRICS_SRV_H
#define BW_METRICS_SRV_H

#include <uv.h>

#include "follow.h"
#include "metrics.h"

typedef struct {
  /* Borrowed, read at each scrape: the aggregator (through a pointer to
   * watch's, which a damaged state replaces), the counters, the
   * followers. */
  bw_agg_t *const *agg;
  const bw_agg_opts_t *ao;
  const bw_replay_stats_t *stats;
  bw_follow_t *const *follow;
  size_t nfollow;
  const uint64_t *checkpoint_ms; /* uv_now() of the last state save; NULL:
                                    no state file; 0: not yet (the age
                                    counts from the start) */
  size_t max_domains;
  /* Alert figures, filled by the caller before each render; NULL: none. */
  void (*alerts_cb)(void *arg, bw_metrics_in_t *in);
  void *alerts_arg;
  /* The pipeline lock (watch's worker feeds the aggregation on its own
   * thread): held while a scrape reads it. NULL: none. */
  void (*lock)(void *arg), (*unlock)(void *arg);
  void *lock_arg;
} bw_metrics_src_t;

typedef struct bw_metrics_srv_s bw_metrics_srv_t;

/* Listen on `listen` (HOST:PORT, port 0: a free one) and say the bound
 * address on stderr ("bouncewatch watch: metrics on http://ADDR/metrics").
 * 0 or a negative libuv error (said on stderr too). */
int bw__metrics_srv_start(uv_loop_t *loop, const char *listen,
                          const bw_metrics_src_t *src, bw_metrics_srv_t **out);
void bw__metrics_srv_close(bw_metrics_srv_t *s); /* NULL: no-op */

#endif
