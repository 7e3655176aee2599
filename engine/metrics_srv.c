/* watch's /metrics: serves the exposition of metrics.c through
 * http_server.c and measures the loop's lag with a 1 s timer (how late it
 * fires: a long synchronous read or a stalled disk shows there). It owns
 * the server and the timer, nothing of what it reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"
#include "metrics_srv.h"

#define LAG_TICK_MS 1000

struct bw_metrics_srv_s {
  uv_loop_t *loop;
  bw_metrics_src_t src;
  bw_http_t *http;
  uv_timer_t lag;
  uint64_t lag_due_ms;
  double lag_s;
  uint64_t started_ms;
};

static void lag_cb(uv_timer_t *t) {
  bw_metrics_srv_t *s = t->data;
  uv_update_time(s->loop);
  uint64_t now = uv_now(s->loop);
  s->lag_s = now > s->lag_due_ms ? (double)(now - s->lag_due_ms) / 1e3 : 0.0;
  s->lag_due_ms = now + LAG_TICK_MS;
}

static void handle(void *arg, const char *method, const char *path,
                   bw_http_reply_t *r) {
  bw_metrics_srv_t *s = arg;
  if (strcmp(path, "/metrics") != 0) {
    r->status = 404;
    r->body = strdup("not found: try /metrics\n");
    r->len = r->body ? strlen(r->body) : 0;
    return;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    r->status = 405;
    return;
  }
  bw_metrics_in_t in;
  memset(&in, 0, sizeof(in));
  if (s->src.lock != NULL)
    s->src.lock(s->src.lock_arg);
  in.agg = *s->src.agg;
  in.ao = s->src.ao;
  in.stats = s->src.stats;
  for (size_t i = 0; i < s->src.nfollow; i++) {
    if (s->src.follow[i] == NULL)
      continue;
    const bw_follow_stats_t *fs = bw__follow_stats(s->src.follow[i]);
    in.rotations += fs->rotations;
    in.truncations += fs->truncations;
    in.reopen_errors += fs->reopen_errors;
  }
  in.checkpoint_age_s = -1;
  if (s->src.checkpoint_ms != NULL) {
    /* Never saved yet: as old as the process (a state that cannot be
     * written shows as a growing age, not as a fresh one). */
    uint64_t now = uv_now(s->loop), at = *s->src.checkpoint_ms;
    if (at == 0)
      at = s->started_ms;
    in.checkpoint_age_s = now < at ? 0.0 : (double)(now - at) / 1e3;
  }
  in.loop_lag_s = s->lag_s;
  in.max_domains = s->src.max_domains;
  if (s->src.alerts_cb != NULL)
    s->src.alerts_cb(s->src.alerts_arg, &in);
  int e = bw__metrics_render(&in, &r->body, &r->len);
  if (s->src.unlock != NULL)
    s->src.unlock(s->src.lock_arg);
  if (e != 0) {
    r->status = 500;
    return;
  }
  r->status = 200;
  r->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

int bw__metrics_srv_start(uv_loop_t *loop, const char *listen,
                          const bw_metrics_src_t *src, bw_metrics_srv_t **out) {
  *out = NULL;
  bw_metrics_srv_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return UV_ENOMEM;
  s->loop = loop;
  s->src = *src;
  s->started_ms = uv_now(loop);
  char bound[128] = "";
  int e = bw__http_start(loop, listen, NULL, handle, s, &s->http, bound,
                         sizeof(bound));
  if (e != 0) {
    fprintf(stderr, "bouncewatch watch: metrics: cannot listen on %s: %s\n",
            listen, uv_strerror(e));
    free(s);
    return e;
  }
  uv_timer_init(loop, &s->lag);
  s->lag.data = s;
  s->lag_due_ms = uv_now(loop) + LAG_TICK_MS;
  uv_timer_start(&s->lag, lag_cb, LAG_TICK_MS, LAG_TICK_MS);
  fprintf(stderr, "bouncewatch watch: metrics on http://%s/metrics\n", bound);
  *out = s;
  return 0;
}

static void lag_closed(uv_handle_t *h) { free(h->data); }

void bw__metrics_srv_close(bw_metrics_srv_t *s) {
  if (s == NULL)
    return;
  bw__http_close(s->http);
  uv_close((uv_handle_t *)&s->lag, lag_closed);
}
