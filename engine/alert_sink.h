/* Where alerts go: a log line on stderr, a user command (argv, no shell;
 * details in BW_ALERT_* environment variables and one JSON object on its
 * stdin) and Alertmanager's API v2 (alert_am.c), all on one libuv loop,
 * each behind a bounded queue. Internal to the engine. */
#ifndef BW_ALERT_SINK_H
#define BW_ALERT_SINK_H

#include <uv.h>

#include "alert.h"

typedef struct {
  int log;                   /* one line on stderr per transition */
  const char *const *exec;   /* argv of the command (NULL: none) */
  const char *am_url;        /* Alertmanager base URL (NULL: none) */
  uint64_t am_resend_ms;     /* re-send firing alerts this often (60000) */
  uint64_t exec_timeout_ms;  /* kill a command running longer (30000) */
  size_t queue_max;          /* transitions waiting per sink (256) */
  const char *prefix;        /* log lines start "bouncewatch PREFIX: " */
} bw_sink_opts_t;

typedef struct bw_sinks_s bw_sinks_t;

int bw__sinks_new(uv_loop_t *loop, const bw_sink_opts_t *o, bw_sinks_t **out);

/* A bw_alert_cb: hand one transition to every sink (copied; never
 * blocks: a full queue drops and counts). */
void bw__sinks_alert(void *sinks, const bw_alert_t *a, int resolved);

/* The same from another thread (watch's worker): the transition is
 * copied into a bounded inbox and the loop is woken to deliver it (a
 * full inbox drops and counts). Never touches the loop's handles. */
void bw__sinks_alert_mt(void *sinks, const bw_alert_t *a, int resolved);

/* The same, to Alertmanager only: an alert restored from the state file
 * that the other sinks announced before the restart. */
void bw__sinks_refire(void *sinks, const bw_alert_t *a, int resolved);

/* Nothing queued, running or unsent. */
int bw__sinks_idle(const bw_sinks_t *s);

/* Run the loop until every sink is idle or timeout_ms passed (a replay's
 * last step). Returns the transitions still undelivered. */
uint64_t bw__sinks_flush(bw_sinks_t *s, uint64_t timeout_ms);

/* Transitions dropped (full queues, commands that failed to start,
 * Alertmanager batches given up at close). */
uint64_t bw__sinks_dropped(const bw_sinks_t *s);

/* Close every handle, after letting what is queued be delivered for at
 * most drain_ms (0: at once); the memory goes with the loop's close
 * callbacks. NULL: no-op. */
void bw__sinks_close(bw_sinks_t *s, uint64_t drain_ms);

/* Send a finished replay's alerts (report --alerts): their transitions
 * in log-time order, on a loop of its own, waiting at most timeout_ms.
 * 0 when all were delivered; -1 after saying what was not. */
int bw__alert_send_replay(const bw_alerts_t *al, const bw_sink_opts_t *so,
                          uint64_t timeout_ms);

#endif
