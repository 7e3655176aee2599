/* Alert delivery: the log line, the user command and the hand-off to
 * Alertmanager (alert_am.c). It owns the command queue and the child
 * process handles; commands run one at a time, in order (a resolution
 * never overtakes its firing), each killed past its timeout, and a full
 * queue drops and counts rather than grow or block the loop. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert_am.h"
#include "alert_sink.h"
#include "bouncewatch/error.h"
#include "logtime.h"

extern char **environ;

typedef struct {
  char *json;
  size_t len;
  char **env; /* NULL-terminated, each string and the array owned */
} job_t;

struct bw_sinks_s {
  uv_loop_t *loop;
  bw_sink_opts_t o;
  bw_am_t *am;
  job_t *q;        /* ring of queue_max jobs */
  size_t qhead, qlen;
  int running;     /* a command is running: its handles below are live */
  int closes;      /* handles of the running command still to close */
  int closing;
  job_t cur;
  uv_process_t proc;
  uv_pipe_t in;
  uv_write_t wr;
  uv_timer_t kill_timer;
  uv_timer_t drain;  /* closing: waiting for the queues to empty */
  int draining;
  /* Transitions from another thread (watch's worker), handed to the
   * loop: a bounded inbox under a mutex, and an async wake-up. */
  uv_async_t async;
  uv_mutex_t mu;
  struct inbox_s {
    bw_alert_t a;
    int resolved;
  } *inbox;
  size_t in_head, in_len;
  uint64_t in_dropped; /* under mu */
  int async_open;
  uint64_t drain_until;
  uint64_t dropped, failed;
};

static void job_free(job_t *j) {
  free(j->json);
  if (j->env != NULL)
    for (char **e = j->env; *e != NULL; e++)
      free(*e);
  free(j->env);
  memset(j, 0, sizeof(*j));
}

static void run_next(bw_sinks_t *s);

static void maybe_free(bw_sinks_t *s) {
  if (s->closing && !s->running && s->closes == 0 && !s->async_open) {
    for (size_t i = 0; i < s->qlen; i++)
      job_free(&s->q[(s->qhead + i) % s->o.queue_max]);
    free(s->q);
    free(s->inbox);
    uv_mutex_destroy(&s->mu);
    free(s);
  }
}

/* The loop's side of the inbox: every transition waiting, in order. */
static void drain_inbox(bw_sinks_t *s) {
  for (;;) {
    struct inbox_s item;
    uv_mutex_lock(&s->mu);
    int have = s->in_len > 0;
    if (have) {
      item = s->inbox[s->in_head];
      s->in_head = (s->in_head + 1) % s->o.queue_max;
      s->in_len--;
    }
    uv_mutex_unlock(&s->mu);
    if (!have)
      return;
    bw__sinks_alert(s, &item.a, item.resolved);
  }
}

static void async_cb(uv_async_t *h) { drain_inbox(h->data); }

static void async_closed(uv_handle_t *h) {
  bw_sinks_t *s = h->data;
  s->async_open = 0;
  maybe_free(s);
}

void bw__sinks_alert_mt(void *arg, const bw_alert_t *a, int resolved) {
  bw_sinks_t *s = arg;
  if (s == NULL)
    return;
  uv_mutex_lock(&s->mu);
  if (s->in_len == s->o.queue_max) {
    s->in_dropped++;
  } else {
    struct inbox_s *it = &s->inbox[(s->in_head + s->in_len) % s->o.queue_max];
    it->a = *a;
    it->resolved = resolved;
    s->in_len++;
  }
  uv_mutex_unlock(&s->mu);
  uv_async_send(&s->async);
}

static void cmd_closed(uv_handle_t *h) {
  bw_sinks_t *s = h->data;
  if (--s->closes > 0)
    return;
  job_free(&s->cur);
  s->running = 0;
  if (s->closing) {
    maybe_free(s);
    return;
  }
  run_next(s);
}

static void exit_cb(uv_process_t *p, int64_t status, int sig) {
  bw_sinks_t *s = p->data;
  if (status != 0 || sig != 0) {
    s->failed++;
    fprintf(stderr, "bouncewatch %s: alert command %s %s %d\n", s->o.prefix,
            s->o.exec[0], sig ? "killed by signal" : "exited with",
            sig ? sig : (int)status);
  }
  uv_timer_stop(&s->kill_timer);
  uv_close((uv_handle_t *)&s->proc, cmd_closed);
  uv_close((uv_handle_t *)&s->kill_timer, cmd_closed);
  if (!uv_is_closing((uv_handle_t *)&s->in))
    uv_close((uv_handle_t *)&s->in, cmd_closed);
}

static void write_cb(uv_write_t *w, int status) {
  (void)status; /* a command that does not read its stdin is its business */
  bw_sinks_t *s = w->data;
  if (!uv_is_closing((uv_handle_t *)&s->in))
    uv_close((uv_handle_t *)&s->in, cmd_closed); /* EOF on its stdin */
}

static void kill_cb(uv_timer_t *t) {
  bw_sinks_t *s = t->data;
  fprintf(stderr, "bouncewatch %s: alert command %s still running after "
                  "%llu ms: killed\n",
          s->o.prefix, s->o.exec[0], (unsigned long long)s->o.exec_timeout_ms);
  uv_process_kill(&s->proc, SIGKILL);
}

static void run_next(bw_sinks_t *s) {
  while (!s->running && s->qlen > 0 && !s->closing) {
    s->cur = s->q[s->qhead];
    s->qhead = (s->qhead + 1) % s->o.queue_max;
    s->qlen--;
    uv_pipe_init(s->loop, &s->in, 0);
    s->in.data = s;
    uv_stdio_container_t io[3];
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&s->in;
    /* Its output goes to our stderr: stdout may be the report. */
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = 2;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    uv_process_options_t po;
    memset(&po, 0, sizeof(po));
    po.file = s->o.exec[0];
    po.args = (char **)(uintptr_t)s->o.exec;
    po.env = s->cur.env;
    po.stdio = io;
    po.stdio_count = 3;
    po.exit_cb = exit_cb;
    s->proc.data = s;
    int e = uv_spawn(s->loop, &s->proc, &po);
    if (e != 0) {
      fprintf(stderr, "bouncewatch %s: alert command %s: %s\n", s->o.prefix,
              s->o.exec[0], uv_strerror(e));
      s->failed++;
      s->dropped++;
      /* The handle was initialised all the same: both are closed, and
       * the last close runs the next job. */
      s->running = 1;
      s->closes = 2;
      uv_close((uv_handle_t *)&s->proc, cmd_closed);
      uv_close((uv_handle_t *)&s->in, cmd_closed);
      return;
    }
    s->running = 1;
    s->closes = 3;
    uv_timer_init(s->loop, &s->kill_timer);
    s->kill_timer.data = s;
    uv_timer_start(&s->kill_timer, kill_cb, s->o.exec_timeout_ms, 0);
    uv_buf_t b = uv_buf_init(s->cur.json, (unsigned)s->cur.len);
    s->wr.data = s;
    if (uv_write(&s->wr, (uv_stream_t *)&s->in, &b, 1, write_cb) != 0)
      uv_close((uv_handle_t *)&s->in, cmd_closed);
  }
}

int bw__sinks_new(uv_loop_t *loop, const bw_sink_opts_t *o, bw_sinks_t **out) {
  *out = NULL;
  bw_sinks_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return BW_ENOMEM;
  s->loop = loop;
  s->o = *o;
  if (s->o.queue_max == 0)
    s->o.queue_max = 256;
  if (s->o.exec_timeout_ms == 0)
    s->o.exec_timeout_ms = 30000;
  if (s->o.am_resend_ms == 0)
    s->o.am_resend_ms = 60000;
  if (s->o.prefix == NULL)
    s->o.prefix = "";
  /* A command that exits without reading its stdin must not kill us
   * with SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  s->q = calloc(s->o.queue_max, sizeof(job_t));
  s->inbox = calloc(s->o.queue_max, sizeof(*s->inbox));
  if (s->q == NULL || s->inbox == NULL || uv_mutex_init(&s->mu) != 0) {
    free(s->q);
    free(s->inbox);
    free(s);
    return BW_ENOMEM;
  }
  uv_async_init(loop, &s->async, async_cb);
  s->async.data = s;
  s->async_open = 1;
  if (o->am_url != NULL) {
    int e = bw__am_new(loop, o->am_url, s->o.am_resend_ms, s->o.queue_max,
                       &s->am);
    if (e != 0) {
      /* The async handle is open: the free goes through its close. */
      s->closing = 1;
      uv_close((uv_handle_t *)&s->async, async_closed);
      return e;
    }
  }
  *out = s;
  return 0;
}

static const char *kind_name(int kind) {
  return kind == BW_ALERT_BOUNCE ? "bounce_rate" : "complaint_rate";
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = NULL;
  if (vasprintf(&p, fmt, ap) < 0)
    p = NULL;
  va_end(ap);
  return p;
}

/* Our environment plus the alert's BW_ALERT_* variables (ours first
 * removed, so a stale one cannot leak through). */
static char **make_env(const bw_alert_t *a, int resolved) {
  size_t n = 0;
  for (char **e = environ; e != NULL && *e != NULL; e++)
    n++;
  char **env = calloc(n + 20, sizeof(char *));
  if (env == NULL)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "BW_ALERT_", 9) != 0 &&
        (env[k] = strdup(environ[i])) != NULL)
      k++;
  char t0[40] = "", t1[40] = "", reasons[256] = "", groups[256] = "",
       prov[512] = "";
  bw__format_time(a->start_us, t0);
  if (a->end_us != 0)
    bw__format_time(a->end_us, t1);
  for (uint32_t i = 0; i < a->nreasons; i++)
    snprintf(reasons + strlen(reasons), sizeof(reasons) - strlen(reasons),
             "%s%s=%llu", i ? "," : "", a->reasons[i].name,
             (unsigned long long)a->reasons[i].n);
  for (uint32_t i = 0; i < a->ngroups; i++)
    snprintf(groups + strlen(groups), sizeof(groups) - strlen(groups),
             "%s%s=%llu", i ? "," : "", a->groups[i].name,
             (unsigned long long)a->groups[i].n);
  for (uint32_t i = 0; i < a->nproviders; i++)
    snprintf(prov + strlen(prov), sizeof(prov) - strlen(prov),
             "%s%s=%llu/%llu", i ? "," : "", a->providers[i].name,
             (unsigned long long)a->providers[i].bounced,
             (unsigned long long)a->providers[i].final);
  char *v[] = {
      dupf("BW_ALERT_STATUS=%s", resolved ? "resolved" : "firing"),
      dupf("BW_ALERT_KIND=%s", kind_name(a->kind)),
      dupf("BW_ALERT_DOMAIN=%s", a->domain),
      dupf("BW_ALERT_WINDOW_S=%lld", (long long)a->window_s),
      dupf("BW_ALERT_RATE=%.6g", a->rate),
      dupf("BW_ALERT_PEAK_RATE=%.6g", a->peak_rate),
      dupf("BW_ALERT_VOLUME=%llu", (unsigned long long)a->volume),
      dupf("BW_ALERT_COUNT=%llu", (unsigned long long)a->count),
      dupf("BW_ALERT_THRESHOLD=%.6g", a->threshold),
      dupf("BW_ALERT_RESOLVE_BELOW=%.6g", a->resolve_below),
      dupf("BW_ALERT_START=%s", t0),
      dupf("BW_ALERT_END=%s", t1),
      dupf("BW_ALERT_REASONS=%s", reasons),
      dupf("BW_ALERT_GROUPS=%s", groups),
      dupf("BW_ALERT_PROVIDERS=%s", prov),
      dupf("BW_ALERT_SEQ=%llu", (unsigned long long)a->seq),
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    if (v[i] != NULL)
      env[k++] = v[i];
  env[k] = NULL;
  return env;
}

static void log_line(const bw_sinks_t *s, const bw_alert_t *a, int resolved) {
  char t0[40], t1[40] = "", buf[1024] = "";
  bw__format_time(a->start_us, t0);
  if (a->end_us != 0)
    bw__format_time(a->end_us, t1);
  for (uint32_t i = 0; i < a->nreasons; i++)
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s %llu",
             i ? ", " : "", a->reasons[i].name,
             (unsigned long long)a->reasons[i].n);
  snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "; groups");
  for (uint32_t i = 0; i < a->ngroups; i++)
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %s %llu",
             a->groups[i].name, (unsigned long long)a->groups[i].n);
  snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "; providers");
  for (uint32_t i = 0; i < a->nproviders; i++)
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %s %llu/%llu",
             a->providers[i].name, (unsigned long long)a->providers[i].bounced,
             (unsigned long long)a->providers[i].final);
  if (resolved)
    fprintf(stderr, "bouncewatch %s: alert resolved: %s %s over %llds (fired "
                    "%s at %.2f%%, peak %.2f%%) at %s\n",
            s->o.prefix, a->domain, kind_name(a->kind), (long long)a->window_s,
            t0, 100 * a->rate, 100 * a->peak_rate, t1);
  else
    fprintf(stderr, "bouncewatch %s: alert firing: %s %s over %llds %.2f%% "
                    "of %llu (threshold %.2f%%) at %s; why: %s\n",
            s->o.prefix, a->domain, kind_name(a->kind), (long long)a->window_s,
            100 * a->rate, (unsigned long long)a->volume, 100 * a->threshold,
            t0, buf);
}

void bw__sinks_alert(void *arg, const bw_alert_t *a, int resolved) {
  bw_sinks_t *s = arg;
  if (s == NULL || s->closing)
    return;
  if (s->o.log)
    log_line(s, a, resolved);
  if (s->am != NULL)
    bw__am_alert(s->am, a, resolved);
  if (s->o.exec == NULL)
    return;
  if (s->qlen == s->o.queue_max) {
    s->dropped++;
    return;
  }
  job_t j;
  memset(&j, 0, sizeof(j));
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL) {
    s->dropped++;
    return;
  }
  static bw_out_t out; /* 64 KiB: not on the stack; single-threaded */
  bw__out_init(&out, f);
  bw__alert_json_obj(&out, a, resolved);
  bw__out_str(&out, "\n");
  bw__out_flush(&out);
  int bad = out.error;
  fclose(f);
  j.json = buf;
  j.len = len;
  j.env = make_env(a, resolved);
  if (bad || j.json == NULL || j.env == NULL) {
    job_free(&j);
    s->dropped++;
    return;
  }
  s->q[(s->qhead + s->qlen) % s->o.queue_max] = j;
  s->qlen++;
  run_next(s);
}

void bw__sinks_refire(void *arg, const bw_alert_t *a, int resolved) {
  bw_sinks_t *s = arg;
  if (s != NULL && !s->closing && s->am != NULL)
    bw__am_alert(s->am, a, resolved);
}

int bw__sinks_idle(const bw_sinks_t *s) {
  uv_mutex_lock((uv_mutex_t *)&s->mu);
  size_t in = s->in_len;
  uv_mutex_unlock((uv_mutex_t *)&s->mu);
  return in == 0 && s->qlen == 0 && !s->running &&
         (s->am == NULL || bw__am_idle(s->am));
}

static void flush_timeout(uv_timer_t *t) { *(int *)t->data = 1; }
static void noop_close(uv_handle_t *h) { (void)h; }

uint64_t bw__sinks_flush(bw_sinks_t *s, uint64_t timeout_ms) {
  int expired = 0;
  uv_timer_t t;
  uv_timer_init(s->loop, &t);
  t.data = &expired;
  uv_timer_start(&t, flush_timeout, timeout_ms, 0);
  while (!bw__sinks_idle(s) && !expired)
    uv_run(s->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, noop_close);
  uv_run(s->loop, UV_RUN_NOWAIT);
  return s->qlen + (uint64_t)s->running + (s->am ? bw__am_pending(s->am) : 0);
}

uint64_t bw__sinks_dropped(const bw_sinks_t *s) {
  uv_mutex_lock((uv_mutex_t *)&s->mu);
  uint64_t in = s->in_dropped;
  uv_mutex_unlock((uv_mutex_t *)&s->mu);
  return in + s->dropped + (s->am ? bw__am_dropped(s->am) : 0);
}

static void close_now(bw_sinks_t *s) {
  drain_inbox(s); /* what the worker handed over last is logged at least */
  s->closing = 1;
  uv_close((uv_handle_t *)&s->async, async_closed);
  bw__am_close(s->am);
  s->am = NULL;
  /* A command still running is cut off (SIGKILL: it cannot hold the
   * exit up); its exit callback closes the handles. */
  if (s->running && s->closes == 3 && !uv_is_closing((uv_handle_t *)&s->proc))
    uv_process_kill(&s->proc, SIGKILL);
  maybe_free(s);
}

static void drain_closed(uv_handle_t *h) { close_now(h->data); }

static void drain_cb(uv_timer_t *t) {
  bw_sinks_t *s = t->data;
  if (bw__sinks_idle(s) || uv_now(s->loop) >= s->drain_until)
    uv_close((uv_handle_t *)t, drain_closed);
}

void bw__sinks_close(bw_sinks_t *s, uint64_t drain_ms) {
  if (s == NULL || s->closing || s->draining)
    return;
  drain_inbox(s);
  if (drain_ms == 0 || bw__sinks_idle(s)) {
    close_now(s);
    return;
  }
  /* Transitions already decided are delivered before we go (a restart
   * would not repeat them: the state says they happened), within
   * drain_ms. */
  s->draining = 1;
  s->drain_until = uv_now(s->loop) + drain_ms;
  uv_timer_init(s->loop, &s->drain);
  s->drain.data = s;
  uv_timer_start(&s->drain, drain_cb, 10, 10);
}

/* ---- a replay's alerts, sent afterwards ------------------------------------ */

typedef struct {
  int64_t t;
  size_t i;
  int resolved;
} trans_t;

static int cmp_trans(const void *x, const void *y) {
  const trans_t *a = x, *b = y;
  if (a->t != b->t)
    return a->t < b->t ? -1 : 1;
  if (a->i != b->i)
    return a->i < b->i ? -1 : 1;
  return a->resolved - b->resolved;
}

int bw__alert_send_replay(const bw_alerts_t *al, const bw_sink_opts_t *so,
                          uint64_t timeout_ms) {
  size_t n;
  const bw_alert_t *list = bw__alerts_list(al, &n, NULL);
  trans_t *t = calloc(2 * n + 1, sizeof(*t));
  if (t == NULL)
    return -1;
  size_t nt = 0;
  for (size_t i = 0; i < n; i++) {
    t[nt++] = (trans_t){list[i].start_us, i, 0};
    if (list[i].end_us != 0)
      t[nt++] = (trans_t){list[i].end_us, i, 1};
  }
  /* In log-time order, as a live run would have sent them. */
  qsort(t, nt, sizeof(*t), cmp_trans);
  uv_loop_t loop;
  bw_sinks_t *s = NULL;
  int rc = -1;
  if (uv_loop_init(&loop) != 0) {
    free(t);
    return -1;
  }
  if (bw__sinks_new(&loop, so, &s) != 0) {
    fprintf(stderr, "bouncewatch %s: alerts: cannot start the sinks\n",
            so->prefix ? so->prefix : "");
    goto out;
  }
  for (size_t k = 0; k < nt; k++) {
    /* The firing as it was sent live: not yet resolved. */
    bw_alert_t a = list[t[k].i];
    if (!t[k].resolved)
      a.end_us = 0;
    bw__sinks_alert(s, &a, t[k].resolved);
  }
  uint64_t left = bw__sinks_flush(s, timeout_ms);
  uint64_t dropped = bw__sinks_dropped(s);
  if (left > 0 || dropped > 0)
    fprintf(stderr, "bouncewatch %s: alerts: %llu not delivered within %llu "
                    "ms, %llu dropped\n",
            so->prefix ? so->prefix : "", (unsigned long long)left,
            (unsigned long long)timeout_ms, (unsigned long long)dropped);
  else
    rc = 0;
  bw__sinks_close(s, 0);
out:
  uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
  if (uv_loop_close(&loop) != 0)
    fprintf(stderr, "bouncewatch: alerts: handles left open\n");
  free(t);
  return rc;
}
