/* Alertmanager delivery (API v2) with libcurl's multi interface on the
 * libuv loop. It owns the table of current alerts, the one request in
 * flight, and the retry and re-send timers. An alert is keyed by sender
 * domain, kind and window (Alertmanager identifies alerts by their
 * labels, so a re-send is the same alert, never a duplicate); a change
 * bumps its generation, and an entry counts as delivered only when a
 * POST carrying that generation got a 2xx. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_am.h"
#include "bouncewatch/error.h"
#include "logtime.h"
#include "metrics.h"

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 60000

typedef struct {
  int used, resolved;
  char domain[256];
  int kind;
  int64_t window_s;
  char *json;              /* the alert as Alertmanager takes it */
  uint64_t gen, sent_gen;  /* changed / delivered generation */
  uint64_t inflight_gen;   /* generation in the request in flight; 0 none */
} entry_t;

typedef struct {
  uv_poll_t poll;
  curl_socket_t fd;
  struct bw_am_s *am;
} sock_t;

struct bw_am_s {
  uv_loop_t *loop;
  char *url;
  CURLM *multi;
  uv_timer_t curl_timer, retry_timer, resend_timer;
  int handles; /* libuv handles open (timers, polls): freed at 0 */
  int closing;
  entry_t *e;
  size_t cap;
  uint64_t gen;
  CURL *easy; /* the request in flight */
  char *body;
  struct curl_slist *hdrs;
  int waiting_retry, failing;
  uint64_t backoff_ms, resend_ms;
  uint64_t dropped, posts, failures;
  char errbuf[CURL_ERROR_SIZE];
};

static void handle_closed(uv_handle_t *h) {
  struct bw_am_s *am = h->data;
  if (h->type == UV_POLL)
    free(h); /* the sock_t: the poll is its first member */
  if (--am->handles == 0 && am->closing) {
    for (size_t i = 0; i < am->cap; i++)
      free(am->e[i].json);
    free(am->e);
    free(am->url);
    free(am);
  }
}

/* libcurl is loaded when the first Alertmanager sink starts, not linked:
 * its dozens of libraries (TLS, LDAP, Kerberos...) would otherwise be
 * mapped into every run, replay included, for a feature few runs use. */
typedef struct {
  CURLcode (*global_init)(long);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
  CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
  CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_cleanup)(CURLM *);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  void (*easy_cleanup)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
} curl_api_t;
static curl_api_t C;

/* 0 loaded and initialised, -1 not (said on stderr once). */
static int load_curl(void) {
  static int state; /* 0 not tried, 1 ready, -1 failed */
  if (state != 0)
    return state > 0 ? 0 : -1;
  state = -1;
  void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "bouncewatch: alertmanager: cannot load libcurl: %s\n",
            dlerror());
    return -1;
  }
  static const struct {
    const char *name;
    size_t off;
  } syms[] = {
#define SYM(f) {"curl_" #f, offsetof(curl_api_t, f)}
      SYM(global_init),      SYM(multi_init),          SYM(multi_setopt),
      SYM(multi_assign),     SYM(multi_socket_action), SYM(multi_info_read),
      SYM(multi_add_handle), SYM(multi_remove_handle), SYM(multi_cleanup),
      SYM(easy_init),        SYM(easy_setopt),         SYM(easy_getinfo),
      SYM(easy_cleanup),     SYM(easy_strerror),       SYM(slist_append),
      SYM(slist_free_all),
#undef SYM
  };
  for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
    void *f = dlsym(h, syms[i].name);
    if (f == NULL) {
      fprintf(stderr, "bouncewatch: alertmanager: libcurl has no %s\n",
              syms[i].name);
      return -1;
    }
    /* POSIX: a function pointer round-trips through void *. */
    memcpy((char *)&C + syms[i].off, &f, sizeof(f));
  }
  if (C.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -1;
  state = 1;
  return 0;
}

/* ---- libcurl on libuv ------------------------------------------------------ */

static void check_done(bw_am_t *am);

static void poll_cb(uv_poll_t *p, int status, int events) {
  sock_t *s = (sock_t *)p;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  C.multi_socket_action(s->am->multi, s->fd, flags, &running);
  check_done(s->am);
}

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                   void *socketp) {
  (void)easy;
  bw_am_t *am = userp;
  sock_t *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s != NULL) {
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, handle_closed);
      C.multi_assign(am->multi, fd, NULL);
    }
    return 0;
  }
  if (s == NULL) {
    s = calloc(1, sizeof(*s));
    if (s == NULL)
      return -1;
    s->fd = fd;
    s->am = am;
    if (uv_poll_init_socket(am->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->poll.data = am;
    am->handles++;
    C.multi_assign(am->multi, fd, s);
  }
  int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) |
           (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
  uv_poll_start(&s->poll, ev, poll_cb);
  return 0;
}

static void curl_timeout(uv_timer_t *t) {
  bw_am_t *am = t->data;
  int running;
  C.multi_socket_action(am->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(am);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  bw_am_t *am = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&am->curl_timer);
  else /* 0 too: run from the loop, never from inside libcurl */
    uv_timer_start(&am->curl_timer, curl_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---- sending ------------------------------------------------------------- */

static int dirty(const entry_t *e) { return e->used && e->gen > e->sent_gen; }

static void send_now(bw_am_t *am);

static void retry_cb(uv_timer_t *t) {
  bw_am_t *am = t->data;
  am->waiting_retry = 0;
  send_now(am);
}

static void resend_cb(uv_timer_t *t) {
  bw_am_t *am = t->data;
  /* Firing alerts again, so Alertmanager keeps them (it resolves one it
   * has not heard of for its resolve_timeout). */
  for (size_t i = 0; i < am->cap; i++)
    if (am->e[i].used && !am->e[i].resolved)
      am->e[i].gen = ++am->gen;
  send_now(am);
}

static void send_now(bw_am_t *am) {
  if (am->closing || am->easy != NULL || am->waiting_retry)
    return;
  char *body = NULL;
  size_t len = 0, n = 0;
  FILE *f = open_memstream(&body, &len);
  if (f == NULL)
    return;
  fputc('[', f);
  for (size_t i = 0; i < am->cap; i++) {
    entry_t *e = &am->e[i];
    if (!dirty(e))
      continue;
    fprintf(f, "%s%s", n++ ? "," : "", e->json);
    e->inflight_gen = e->gen;
  }
  fputc(']', f);
  if (fclose(f) != 0 || n == 0) {
    free(body);
    return;
  }
  CURL *c = C.easy_init();
  if (c == NULL) {
    free(body);
    return;
  }
  am->body = body;
  am->errbuf[0] = '\0';
  C.easy_setopt(c, CURLOPT_URL, am->url);
  C.easy_setopt(c, CURLOPT_POSTFIELDS, am->body);
  C.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
  C.easy_setopt(c, CURLOPT_HTTPHEADER, am->hdrs);
  C.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  C.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  C.easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
  C.easy_setopt(c, CURLOPT_ERRORBUFFER, am->errbuf);
  C.easy_setopt(c, CURLOPT_PRIVATE, am);
  am->easy = c;
  am->posts++;
  if (C.multi_add_handle(am->multi, c) != CURLM_OK) {
    am->easy = NULL;
    C.easy_cleanup(c);
    free(am->body);
    am->body = NULL;
  }
}

static void finished(bw_am_t *am, int ok, const char *why) {
  C.multi_remove_handle(am->multi, am->easy);
  C.easy_cleanup(am->easy);
  am->easy = NULL;
  free(am->body);
  am->body = NULL;
  for (size_t i = 0; i < am->cap; i++) {
    entry_t *e = &am->e[i];
    if (!e->used || e->inflight_gen == 0)
      continue;
    if (ok && e->inflight_gen > e->sent_gen)
      e->sent_gen = e->inflight_gen;
    e->inflight_gen = 0;
    if (e->resolved && !dirty(e)) { /* the resolution got there */
      free(e->json);
      memset(e, 0, sizeof(*e));
    }
  }
  if (ok) {
    if (am->failing)
      fprintf(stderr, "bouncewatch: alertmanager %s: delivering again\n", am->url);
    am->failing = 0;
    am->backoff_ms = RETRY_MIN_MS;
    send_now(am); /* what changed meanwhile */
    return;
  }
  am->failures++;
  if (!am->failing)
    fprintf(stderr, "bouncewatch: alertmanager %s: %s; retrying (backoff up "
                    "to %d s)\n",
            am->url, why, RETRY_MAX_MS / 1000);
  am->failing = 1;
  am->waiting_retry = 1;
  uv_timer_start(&am->retry_timer, retry_cb, am->backoff_ms, 0);
  am->backoff_ms = am->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : am->backoff_ms * 2;
}

static void check_done(bw_am_t *am) {
  CURLMsg *m;
  int left;
  while ((m = C.multi_info_read(am->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE || m->easy_handle != am->easy)
      continue;
    long code = 0;
    C.easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
    char why[CURL_ERROR_SIZE + 64];
    if (m->data.result != CURLE_OK)
      snprintf(why, sizeof(why), "%s",
               am->errbuf[0] ? am->errbuf : C.easy_strerror(m->data.result));
    else
      snprintf(why, sizeof(why), "HTTP %ld", code);
    finished(am, m->data.result == CURLE_OK && code >= 200 && code < 300, why);
    return; /* am->easy changed: read the rest next time */
  }
}

/* ---- the alert table ------------------------------------------------------- */

static const char *alertname(int kind) {
  return kind == BW_ALERT_BOUNCE ? "BouncewatchBounceRate"
                                 : "BouncewatchComplaintRate";
}

static char *alert_json(const bw_alert_t *a, int resolved) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL)
    return NULL;
  bw_out_t *o = malloc(sizeof(*o));
  if (o == NULL) {
    fclose(f);
    free(buf);
    return NULL;
  }
  bw__out_init(o, f);
  char win[24], t[40], txt[1024];
  bw__metrics_duration(a->window_s, win, sizeof(win));
  const char *kind = a->kind == BW_ALERT_BOUNCE ? "bounce_rate" : "complaint_rate";
  bw__out_printf(o, "{\"labels\":{\"alertname\":\"%s\",\"sender_domain\":",
                 alertname(a->kind));
  bw__out_json_str(o, a->domain, strlen(a->domain));
  bw__out_printf(o, ",\"kind\":\"%s\",\"window\":\"%s\",\"severity\":"
                    "\"warning\",\"source\":\"bouncewatch\"},",
                 kind, win);
  snprintf(txt, sizeof(txt), "%s: %s %.2f%% of %llu over %s (threshold %.2f%%)",
           a->domain, a->kind == BW_ALERT_BOUNCE ? "bounce rate" : "complaint rate",
           100 * a->rate, (unsigned long long)a->volume, win, 100 * a->threshold);
  bw__out_str(o, "\"annotations\":{\"summary\":");
  bw__out_json_str(o, txt, strlen(txt));
  txt[0] = '\0';
  for (uint32_t i = 0; i < a->nreasons; i++)
    snprintf(txt + strlen(txt), sizeof(txt) - strlen(txt), "%s%s %llu",
             i ? ", " : "", a->reasons[i].name, (unsigned long long)a->reasons[i].n);
  bw__out_str(o, ",\"reasons\":");
  bw__out_json_str(o, txt, strlen(txt));
  txt[0] = '\0';
  for (uint32_t i = 0; i < a->ngroups; i++)
    snprintf(txt + strlen(txt), sizeof(txt) - strlen(txt), "%s%s %llu",
             i ? ", " : "", a->groups[i].name, (unsigned long long)a->groups[i].n);
  bw__out_str(o, ",\"groups\":");
  bw__out_json_str(o, txt, strlen(txt));
  txt[0] = '\0';
  for (uint32_t i = 0; i < a->nproviders; i++)
    snprintf(txt + strlen(txt), sizeof(txt) - strlen(txt), "%s%s %llu/%llu",
             i ? ", " : "", a->providers[i].name,
             (unsigned long long)a->providers[i].bounced,
             (unsigned long long)a->providers[i].final);
  bw__out_str(o, ",\"providers\":");
  bw__out_json_str(o, txt, strlen(txt));
  bw__out_printf(o, ",\"rate\":\"%.6g\",\"peak_rate\":\"%.6g\",\"volume\":"
                    "\"%llu\"},",
                 a->rate, a->peak_rate, (unsigned long long)a->volume);
  bw__format_time(a->start_us, t);
  bw__out_printf(o, "\"startsAt\":\"%s\"", t);
  if (resolved && a->end_us != 0) {
    bw__format_time(a->end_us, t);
    bw__out_printf(o, ",\"endsAt\":\"%s\"", t);
  }
  bw__out_str(o, "}");
  bw__out_flush(o);
  int bad = o->error;
  free(o);
  if (fclose(f) != 0 || bad) {
    free(buf);
    return NULL;
  }
  return buf;
}

void bw__am_alert(bw_am_t *am, const bw_alert_t *a, int resolved) {
  if (am == NULL || am->closing)
    return;
  entry_t *e = NULL, *free_slot = NULL;
  for (size_t i = 0; i < am->cap; i++) {
    entry_t *x = &am->e[i];
    if (!x->used) {
      if (free_slot == NULL)
        free_slot = x;
      continue;
    }
    if (x->kind == a->kind && x->window_s == a->window_s &&
        strcmp(x->domain, a->domain) == 0) {
      e = x;
      break;
    }
  }
  if (e == NULL) {
    if (free_slot == NULL) {
      am->dropped++;
      return;
    }
    e = free_slot;
    memset(e, 0, sizeof(*e));
    e->used = 1;
    snprintf(e->domain, sizeof(e->domain), "%s", a->domain);
    e->kind = a->kind;
    e->window_s = a->window_s;
  }
  char *j = alert_json(a, resolved);
  if (j == NULL) {
    am->dropped++;
    return;
  }
  free(e->json);
  e->json = j;
  e->resolved = resolved;
  e->gen = ++am->gen;
  send_now(am);
}

int bw__am_new(uv_loop_t *loop, const char *url, uint64_t resend_ms,
               size_t max_alerts, bw_am_t **out) {
  *out = NULL;
  if (load_curl() != 0)
    return BW_EINVAL;
  bw_am_t *am = calloc(1, sizeof(*am));
  if (am == NULL)
    return BW_ENOMEM;
  am->loop = loop;
  am->cap = max_alerts ? max_alerts : 256;
  am->backoff_ms = RETRY_MIN_MS;
  am->resend_ms = resend_ms;
  size_t ul = strlen(url);
  while (ul > 0 && url[ul - 1] == '/')
    ul--;
  am->e = calloc(am->cap, sizeof(entry_t));
  am->url = malloc(ul + sizeof("/api/v2/alerts"));
  am->hdrs = C.slist_append(NULL, "Content-Type: application/json");
  am->multi = C.multi_init();
  if (am->e == NULL || am->url == NULL || am->hdrs == NULL || am->multi == NULL)
    goto fail;
  memcpy(am->url, url, ul);
  memcpy(am->url + ul, "/api/v2/alerts", sizeof("/api/v2/alerts"));
  C.multi_setopt(am->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  C.multi_setopt(am->multi, CURLMOPT_SOCKETDATA, am);
  C.multi_setopt(am->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  C.multi_setopt(am->multi, CURLMOPT_TIMERDATA, am);
  uv_timer_t *timers[3] = {&am->curl_timer, &am->retry_timer, &am->resend_timer};
  for (int i = 0; i < 3; i++) {
    uv_timer_init(loop, timers[i]);
    timers[i]->data = am;
    am->handles++;
  }
  uv_timer_start(&am->resend_timer, resend_cb, resend_ms, resend_ms);
  /* The re-send timer alone must not keep a finished replay's loop
   * alive: bw__sinks_flush runs the loop while something is unsent. */
  uv_unref((uv_handle_t *)&am->resend_timer);
  *out = am;
  return 0;
fail:
  if (am->multi != NULL)
    C.multi_cleanup(am->multi);
  C.slist_free_all(am->hdrs);
  free(am->url);
  free(am->e);
  free(am);
  return BW_ENOMEM;
}

int bw__am_idle(const bw_am_t *am) {
  if (am->easy != NULL)
    return 0;
  for (size_t i = 0; i < am->cap; i++)
    if (dirty(&am->e[i]))
      return 0;
  return 1;
}

uint64_t bw__am_pending(const bw_am_t *am) {
  uint64_t n = 0;
  for (size_t i = 0; i < am->cap; i++)
    n += (uint64_t)dirty(&am->e[i]);
  return n;
}

uint64_t bw__am_dropped(const bw_am_t *am) { return am->dropped; }

void bw__am_close(bw_am_t *am) {
  if (am == NULL || am->closing)
    return;
  am->closing = 1;
  if (am->easy != NULL) {
    C.multi_remove_handle(am->multi, am->easy); /* closes its sockets */
    C.easy_cleanup(am->easy);
    am->easy = NULL;
  }
  free(am->body);
  am->body = NULL;
  C.multi_cleanup(am->multi);
  am->multi = NULL;
  C.slist_free_all(am->hdrs);
  am->hdrs = NULL;
  uv_close((uv_handle_t *)&am->curl_timer, handle_closed);
  uv_close((uv_handle_t *)&am->retry_timer, handle_closed);
  uv_close((uv_handle_t *)&am->resend_timer, handle_closed);
}
