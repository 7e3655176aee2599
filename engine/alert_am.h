/* Alertmanager's HTTP API v2 (POST /api/v2/alerts) through libcurl's
 * multi interface driven by the libuv loop (uv_poll per socket, a uv
 * timer for curl's timeouts): never blocks the loop. Keeps the current
 * alerts (a bounded table), posts what changed, retries with backoff,
 * re-sends the firing ones periodically (Alertmanager resolves an alert
 * it has not heard of for resolve_timeout), sends resolutions with their
 * endsAt. Internal to the engine. */
#ifndef BW_ALERT_AM_H
#define BW_ALERT_AM_H

#include <uv.h>

#include "alert.h"

typedef struct bw_am_s bw_am_t;

/* url: the Alertmanager base ("http://127.0.0.1:9093"). 0, BW_ENOMEM or
 * BW_EINVAL (libcurl could not start). */
int bw__am_new(uv_loop_t *loop, const char *url, uint64_t resend_ms,
               size_t max_alerts, bw_am_t **out);
void bw__am_alert(bw_am_t *am, const bw_alert_t *a, int resolved);
int bw__am_idle(const bw_am_t *am);      /* nothing unsent or in flight */
uint64_t bw__am_pending(const bw_am_t *am); /* alerts not yet delivered */
uint64_t bw__am_dropped(const bw_am_t *am);
void bw__am_close(bw_am_t *am); /* frees after the loop closes its handles */

#endif
