/* Alert state machines over the aggregator's windows, in log time. It
 * owns the per-domain alert state, the episode history and its section
 * of the state file; it does not deliver anything (alert_sink.c,
 * alert_am.c) and does not count (agg.c). Evaluating at bucket
 * boundaries, not at every line, is what makes a replay raise exactly
 * the alerts a live run raised: both see the same windows there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert.h"
#include "bouncewatch/error.h"
#include "hash.h"
#include "intern.h"
#include "logtime.h"

#define MAXW 4

typedef struct {
  uint8_t firing[MAXW][2];
  int64_t below_since[MAXW][2]; /* log time first seen low; 0 not low */
  bw_alert_t *cur[MAXW][2];     /* the firing episode */
  size_t hist[MAXW][2];         /* its index in the history + 1; 0 none */
  /* Bounce reasons and groups when the domain was last clear of alerts:
   * an alert's "why" is what came since. */
  uint64_t snap_reason[BW_REASON__COUNT], snap_group[BW_GROUP__COUNT];
  /* Failed outcomes (bounced + expired) at the snapshot, + 1; 0 unknown.
   * Reasons and groups only ever grow with that count, so while it
   * stands still the snapshot is current and is not copied again (the
   * copies were most of the cache misses of an evaluation). */
  uint64_t snap_failed1;
} dom_t;

struct bw_alerts_s {
  bw_alert_opts_t o;
  const bw_agg_opts_t *ao;
  bw_alert_cb cb;
  void *arg;
  bw_intern_t names;
  dom_t *doms; /* by name id, names.cap of them */
  int64_t last_bucket;
  /* The first microsecond after last_bucket, for the test every line
   * makes; valid while next_for == last_bucket. */
  int64_t next_us, next_for;
  int evaluated_at_end;
  bw_alert_t *hist;
  size_t nhist;
  uint64_t hist_dropped, seq, fired, resolved;
  uint64_t firing[2];
};

void bw__alert_opts_default(bw_alert_opts_t *o, const bw_agg_opts_t *ao) {
  memset(o, 0, sizeof(*o));
  o->bounce_threshold = ao->bounce_threshold;
  o->complaint_threshold = ao->complaint_threshold;
  o->min_volume = ao->min_volume;
  o->resolve_ratio = 0.75;
  o->max_history = 1024;
  for (size_t i = 0; i < ao->ndomain_thresholds && i < 64; i++) {
    o->domains[i].domain = ao->domain_thresholds[i].domain;
    o->domains[i].bounce = ao->domain_thresholds[i].bounce_threshold;
    o->domains[i].complaint = -1;
    o->domains[i].min_volume = -1;
    o->ndomains++;
  }
}

int bw__alert_opts_domain(bw_alert_opts_t *o, const char *spec, char *err,
                          size_t errlen) {
  const char *eq = strchr(spec, '=');
  if (eq == NULL || eq == spec || eq[1] == '\0') {
    snprintf(err, errlen, "expected DOMAIN=bounce:PCT,complaint:PCT,min:N");
    return -1;
  }
  if (o->ndomains == 64) {
    snprintf(err, errlen, "at most 64 domains");
    return -1;
  }
  bw_alert_domain_t d = {NULL, -1, -1, -1};
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", eq + 1);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    char *colon = strchr(tok, ':'), *end;
    if (colon == NULL) {
      snprintf(err, errlen, "'%s': expected KEY:VALUE", tok);
      return -1;
    }
    *colon = '\0';
    double v = strtod(colon + 1, &end);
    if (end == colon + 1 || *end != '\0' || !(v >= 0) || v > 1e12) {
      snprintf(err, errlen, "'%s': bad number '%s'", tok, colon + 1);
      return -1;
    }
    if (strcmp(tok, "bounce") == 0 && v <= 100)
      d.bounce = v / 100;
    else if (strcmp(tok, "complaint") == 0 && v <= 100)
      d.complaint = v / 100;
    else if (strcmp(tok, "min") == 0 && v == floor(v))
      d.min_volume = (int64_t)v;
    else {
      snprintf(err, errlen, "'%s': unknown key or value out of range", tok);
      return -1;
    }
  }
  /* The domain name points into spec (argv or the caller's storage). */
  static char names[64][256];
  size_t n = (size_t)(eq - spec);
  if (n >= sizeof(names[0])) {
    snprintf(err, errlen, "domain name too long");
    return -1;
  }
  memcpy(names[o->ndomains], spec, n);
  names[o->ndomains][n] = '\0';
  d.domain = names[o->ndomains];
  /* A later spec for the same domain overrides only what it sets. */
  for (size_t i = 0; i < o->ndomains; i++)
    if (strcasecmp(o->domains[i].domain, d.domain) == 0) {
      if (d.bounce >= 0)
        o->domains[i].bounce = d.bounce;
      if (d.complaint >= 0)
        o->domains[i].complaint = d.complaint;
      if (d.min_volume >= 0)
        o->domains[i].min_volume = d.min_volume;
      return 0;
    }
  o->domains[o->ndomains++] = d;
  return 0;
}

int bw__alerts_new(const bw_alert_opts_t *o, const bw_agg_opts_t *ao,
                   bw_alert_cb cb, void *arg, bw_alerts_t **out) {
  *out = NULL;
  if (ao->nwindows == 0 || ao->nwindows > MAXW || ao->bucket_s <= 0 ||
      !(o->resolve_ratio > 0 && o->resolve_ratio <= 1))
    return BW_EINVAL;
  bw_alerts_t *al = calloc(1, sizeof(*al));
  if (al == NULL)
    return BW_ENOMEM;
  al->o = *o;
  if (al->o.max_history == 0)
    al->o.max_history = 1024;
  al->ao = ao;
  al->cb = cb;
  al->arg = arg;
  al->last_bucket = INT64_MIN;
  al->next_us = INT64_MIN; /* no line is before it: the slow path sets it */
  al->next_for = INT64_MIN;
  /* The aggregator holds at most max_domains sender names (+ unknown and
   * other): the same cap here never overflows. */
  size_t cap = ao->max_domains + 2;
  if (bw__intern_init(&al->names, cap) != 0)
    goto fail;
  al->doms = calloc(cap, sizeof(dom_t));
  al->hist = calloc(al->o.max_history, sizeof(bw_alert_t));
  if (al->doms == NULL || al->hist == NULL)
    goto fail;
  *out = al;
  return 0;
fail:
  bw__alerts_free(al);
  return BW_ENOMEM;
}

void bw__alerts_free(bw_alerts_t *al) {
  if (al == NULL)
    return;
  if (al->doms != NULL)
    for (size_t i = 0; i < al->names.n; i++)
      for (int w = 0; w < MAXW; w++)
        for (int k = 0; k < 2; k++)
          free(al->doms[i].cur[w][k]);
  bw__intern_free(&al->names);
  free(al->doms);
  free(al->hist);
  free(al);
}

void bw__alerts_set_cb(bw_alerts_t *al, bw_alert_cb cb, void *arg) {
  al->cb = cb;
  al->arg = arg;
}

static const bw_alert_domain_t *domain_opts(const bw_alerts_t *al,
                                            const char *name) {
  for (size_t i = 0; i < al->o.ndomains; i++)
    if (strcasecmp(al->o.domains[i].domain, name) == 0)
      return &al->o.domains[i];
  return NULL;
}

/* The BW_ALERT_TOP largest of now[i] - snap[i] (ties: the lower index):
 * their indexes and values. Returns how many are non-zero. */
static uint32_t top_of(const uint64_t *now, const uint64_t *snap, int count,
                       int *idx, uint64_t *val) {
  uint8_t used[64] = {0};
  uint32_t n = 0;
  for (; n < BW_ALERT_TOP; n++) {
    int best = -1;
    uint64_t bv = 0;
    for (int i = 0; i < count && i < 64; i++) {
      uint64_t v = now[i] - snap[i];
      if (!used[i] && v > bv) {
        bv = v;
        best = i;
      }
    }
    if (best < 0)
      break;
    used[best] = 1;
    idx[n] = best;
    val[n] = bv;
  }
  return n;
}

/* A sender as the evaluation sees it (bw_agg_each_sender). */
typedef struct {
  const char *name;
  const bw_counts_t *total;
  const bw_window_counts_t *window;
} sender_t;

/* The top providers of a domain, by bounces. */
static void top_providers(bw_agg_t *agg, bw_alert_t *a) {
  bw_agg_top_t top[BW_AGG_TOP];
  size_t ntop = bw_agg_sender_providers(agg, a->domain, top);
  uint8_t used[BW_AGG_TOP] = {0};
  for (uint32_t n = 0; n < BW_ALERT_TOP; n++) {
    int best = -1;
    for (size_t i = 0; i < ntop; i++)
      if (!used[i] && top[i].final > 0 &&
          (best < 0 || top[i].bounced > top[best].bounced))
        best = (int)i;
    if (best < 0)
      break;
    used[best] = 1;
    snprintf(a->providers[n].name, sizeof(a->providers[n].name), "%s",
             top[best].name);
    a->providers[n].final = top[best].final;
    a->providers[n].bounced = top[best].bounced;
    a->nproviders = n + 1;
  }
}

static void fire(bw_alerts_t *al, bw_agg_t *agg, dom_t *d, const sender_t *k,
                 int w, int kind, int64_t t_us, double rate, uint64_t vol,
                 uint64_t cnt, double thr) {
  bw_alert_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return; /* retried at the next boundary: still over */
  a->seq = ++al->seq;
  snprintf(a->domain, sizeof(a->domain), "%s", k->name);
  a->kind = kind;
  a->window = w;
  a->window_s = al->ao->windows_s[w];
  a->start_us = t_us;
  a->rate = a->peak_rate = rate;
  a->volume = vol;
  a->count = cnt;
  a->threshold = thr;
  a->resolve_below = thr * al->o.resolve_ratio;
  int idx[BW_ALERT_TOP];
  uint64_t val[BW_ALERT_TOP];
  a->nreasons = top_of(k->total->by_reason, d->snap_reason, BW_REASON__COUNT,
                       idx, val);
  for (uint32_t i = 0; i < a->nreasons; i++) {
    snprintf(a->reasons[i].name, sizeof(a->reasons[i].name), "%s",
             bw_reason_name((bw_reason_t)idx[i]));
    a->reasons[i].n = val[i];
  }
  a->ngroups = top_of(k->total->by_group, d->snap_group, BW_GROUP__COUNT, idx,
                      val);
  for (uint32_t i = 0; i < a->ngroups; i++) {
    snprintf(a->groups[i].name, sizeof(a->groups[i].name), "%s",
             bw_group_name((bw_group_t)idx[i]));
    a->groups[i].n = val[i];
  }
  top_providers(agg, a);
  d->cur[w][kind] = a;
  d->firing[w][kind] = 1;
  d->below_since[w][kind] = 0;
  if (al->nhist < al->o.max_history) {
    al->hist[al->nhist++] = *a;
    d->hist[w][kind] = al->nhist;
  } else {
    al->hist_dropped++;
    d->hist[w][kind] = 0;
  }
  al->fired++;
  al->firing[kind]++;
  if (al->cb != NULL)
    al->cb(al->arg, a, 0);
}

static void resolve(bw_alerts_t *al, dom_t *d, int w, int kind, int64_t t_us) {
  bw_alert_t *a = d->cur[w][kind];
  a->end_us = t_us;
  if (d->hist[w][kind] != 0)
    al->hist[d->hist[w][kind] - 1] = *a;
  al->resolved++;
  al->firing[kind]--;
  if (al->cb != NULL)
    al->cb(al->arg, a, 1);
  free(a);
  d->cur[w][kind] = NULL;
  d->firing[w][kind] = 0;
  d->below_since[w][kind] = 0;
  d->hist[w][kind] = 0;
}

typedef struct {
  bw_alerts_t *al;
  bw_agg_t *agg;
  int64_t t_us;
} eval_t;

static void evaluate_one(void *arg, const char *name, const bw_counts_t *total,
                         const bw_window_counts_t *windows) {
  eval_t *ev = arg;
  bw_alerts_t *al = ev->al;
  int64_t t_us = ev->t_us;
  int64_t hold_us = al->ao->bucket_s * 1000000;
  sender_t sk = {name, total, windows}, *k = &sk;
  /* "unknown" (messages begun before the log) and "other" (past the
   * domain cap) are nobody's reputation. */
  if (strcmp(k->name, "unknown") == 0 || strcmp(k->name, "other") == 0)
    return;
  uint32_t id = bw__intern(&al->names, k->name, strlen(k->name), 0);
  if (id == UINT32_MAX || id == al->names.other_id)
    return;
  dom_t *d = &al->doms[id];
  const bw_alert_domain_t *dopt = domain_opts(al, k->name);
  int any = 0;
  for (size_t w = 0; w < al->ao->nwindows; w++) {
    const bw_window_counts_t *c = &k->window[w];
    for (int kind = 0; kind < 2; kind++) {
      uint64_t vol = kind == BW_ALERT_BOUNCE ? c->final : c->final - c->bounced;
      uint64_t cnt = kind == BW_ALERT_BOUNCE ? c->bounced : c->complaints;
      double rate = vol ? (double)cnt / (double)vol : 0.0;
      double thr = kind == BW_ALERT_BOUNCE ? al->o.bounce_threshold
                                           : al->o.complaint_threshold;
      uint64_t minv = al->o.min_volume;
      if (dopt != NULL) {
        double t = kind == BW_ALERT_BOUNCE ? dopt->bounce : dopt->complaint;
        if (t >= 0)
          thr = t;
        if (dopt->min_volume >= 0)
          minv = (uint64_t)dopt->min_volume;
      }
      if (minv == 0)
        minv = 1; /* a rate needs something to be a rate of */
      if (!d->firing[w][kind]) {
        if (vol >= minv && rate >= thr && thr > 0)
          fire(al, ev->agg, d, k, (int)w, kind, t_us, rate, vol, cnt, thr);
      } else {
        bw_alert_t *a = d->cur[w][kind];
        if (rate > a->peak_rate && vol >= minv)
          a->peak_rate = rate;
        int low = vol < minv || rate < a->resolve_below;
        if (!low)
          d->below_since[w][kind] = 0;
        else if (d->below_since[w][kind] == 0)
          d->below_since[w][kind] = t_us;
        else if (t_us - d->below_since[w][kind] >= hold_us)
          resolve(al, d, (int)w, kind, t_us);
        if (d->firing[w][kind] && d->hist[w][kind] != 0)
          al->hist[d->hist[w][kind] - 1].peak_rate = a->peak_rate;
      }
      any |= d->firing[w][kind];
    }
  }
  uint64_t failed1 = bw_failed_outcomes(k->total) + 1;
  if (!any && d->snap_failed1 != failed1) {
    memcpy(d->snap_reason, k->total->by_reason, sizeof(d->snap_reason));
    memcpy(d->snap_group, k->total->by_group, sizeof(d->snap_group));
    d->snap_failed1 = failed1;
  }
}

/* Every sender domain's windows as they stand, without building the
 * report tables (that would cost a sort and 1 KiB of chart per domain
 * at every boundary). */
static void evaluate(bw_alerts_t *al, bw_agg_t *agg, int64_t t_us) {
  eval_t ev = {al, agg, t_us};
  bw_agg_each_sender(agg, evaluate_one, &ev);
}

static int64_t bucket_of(const bw_alerts_t *al, int64_t t_us) {
  int64_t secs = t_us >= 0 ? t_us / 1000000 : (t_us - 999999) / 1000000;
  int64_t b = al->ao->bucket_s;
  return secs >= 0 ? secs / b : (secs - b + 1) / b;
}

/* The windows as they stood at the end of the bucket before absolute
 * bucket b: one microsecond before the boundary keeps that bucket the
 * newest, so a 1 h window holds a whole hour. */
static void evaluate_at(bw_alerts_t *al, bw_agg_t *agg, int64_t b) {
  int64_t at = b * al->ao->bucket_s * 1000000;
  bw_agg_advance(agg, at - 1);
  evaluate(al, agg, at);
}

static void tick_slow(bw_alerts_t *al, bw_agg_t *agg, int64_t t_us);

/* Every line comes here, and most are inside the bucket already looked
 * at: one compare says so (bucket_of's divisions, then a multiplication
 * in a big function's frame, cost 2 % of `report` in callgrind). */
void bw__alerts_tick(bw_alerts_t *al, bw_agg_t *agg, int64_t t_us) {
  if (t_us == 0)
    return; /* a line without a time */
  if (al->next_for == al->last_bucket && t_us < al->next_us)
    return;
  tick_slow(al, agg, t_us);
}

static __attribute__((noinline)) void tick_slow(bw_alerts_t *al, bw_agg_t *agg,
                                                int64_t t_us) {
  int64_t next_us;
  if (al->last_bucket != INT64_MIN && al->last_bucket < INT64_MAX &&
      !__builtin_mul_overflow(al->last_bucket + 1, al->ao->bucket_s * 1000000,
                              &next_us)) {
    al->next_us = next_us;
    al->next_for = al->last_bucket;
    if (t_us < next_us)
      return;
  }
  int64_t b = bucket_of(al, t_us);
  if (al->last_bucket == INT64_MIN) {
    al->last_bucket = b;
    return;
  }
  if (b <= al->last_bucket)
    return;
  /* A gap in the log: while something fires, every boundary in it is
   * looked at (windows drain bucket by bucket, and an alert resolves when
   * it did, not at the next line), up to the longest window plus the
   * hold, after which every window is empty. Nothing firing: nothing can
   * start in a gap, one look at its end will do. */
  int64_t longest = 0;
  for (size_t w = 0; w < al->ao->nwindows; w++)
    if (al->ao->windows_s[w] > longest)
      longest = al->ao->windows_s[w];
  int64_t limit = al->last_bucket + 1 + longest / al->ao->bucket_s + 2;
  for (int64_t nb = al->last_bucket + 1;
       nb < b && nb < limit && al->firing[0] + al->firing[1] > 0; nb++)
    evaluate_at(al, agg, nb);
  evaluate_at(al, agg, b);
  al->last_bucket = b;
}

void bw__alerts_finish(bw_alerts_t *al, bw_agg_t *agg) {
  bw_agg_totals_t t;
  bw_agg_totals(agg, &t);
  if (al->last_bucket == INT64_MIN || t.last_us == 0)
    return;
  evaluate(al, agg, t.last_us);
}

const bw_alert_t *bw__alerts_list(const bw_alerts_t *al, size_t *n,
                                  uint64_t *dropped) {
  *n = al->nhist;
  if (dropped != NULL)
    *dropped = al->hist_dropped;
  return al->hist;
}

void bw__alerts_each_firing(const bw_alerts_t *al, bw_alert_cb cb, void *arg) {
  for (size_t i = 0; i < al->names.n; i++)
    for (int w = 0; w < MAXW; w++)
      for (int k = 0; k < 2; k++)
        if (al->doms[i].firing[w][k])
          cb(arg, al->doms[i].cur[w][k], 0);
}

void bw__alerts_counts(const bw_alerts_t *al, bw_alert_counts_t *c) {
  c->firing[0] = al->firing[0];
  c->firing[1] = al->firing[1];
  c->fired = al->fired;
  c->resolved = al->resolved;
}

/* ---- state --------------------------------------------------------------- */

#define ALERT_MAGIC "BWALRT01"

typedef struct {
  FILE *f;
  uint64_t h;
  int bad;
} sio_t;

static void put(sio_t *s, const void *p, size_t n) {
  if (!s->bad && n > 0 && fwrite(p, 1, n, s->f) != n)
    s->bad = 1;
  s->h = bw__hash_bytes(s->h, p, n);
}

static void get(sio_t *s, void *p, size_t n) {
  if (s->bad || (n > 0 && fread(p, 1, n, s->f) != n)) {
    s->bad = 1;
    memset(p, 0, n);
    return;
  }
  s->h = bw__hash_bytes(s->h, p, n);
}

int bw__alerts_save(const bw_alerts_t *al, FILE *f) {
  sio_t s = {f, 0x51ED270B27E5A1C3ull, 0};
  put(&s, ALERT_MAGIC, 8);
  uint64_t hdr[8] = {(uint64_t)al->last_bucket, al->seq, al->fired,
                     al->resolved, al->hist_dropped, al->nhist,
                     al->names.n, (uint64_t)al->ao->nwindows};
  put(&s, hdr, sizeof(hdr));
  put(&s, al->hist, al->nhist * sizeof(bw_alert_t));
  for (size_t i = 0; i < al->names.n; i++) {
    const dom_t *d = &al->doms[i];
    uint32_t len = (uint32_t)strlen(al->names.names[i]);
    put(&s, &len, sizeof(len));
    put(&s, al->names.names[i], len);
    put(&s, d->firing, sizeof(d->firing));
    put(&s, d->below_since, sizeof(d->below_since));
    uint64_t hist[MAXW][2];
    for (int w = 0; w < MAXW; w++)
      for (int k = 0; k < 2; k++)
        hist[w][k] = d->hist[w][k];
    put(&s, hist, sizeof(hist));
    put(&s, d->snap_reason, sizeof(d->snap_reason));
    put(&s, d->snap_group, sizeof(d->snap_group));
    for (int w = 0; w < MAXW; w++)
      for (int k = 0; k < 2; k++)
        if (d->firing[w][k])
          put(&s, d->cur[w][k], sizeof(bw_alert_t));
  }
  uint64_t h = s.h;
  put(&s, &h, sizeof(h));
  return s.bad ? BW_EIO : 0;
}

/* An alert read back as bytes (an episode or one firing now): its counts
 * index fixed arrays and its strings are printed, so each must end
 * inside its array. */
static int restored_alert_ok(bw_alert_t *a) {
  a->domain[sizeof(a->domain) - 1] = '\0';
  if (a->nreasons > BW_ALERT_TOP || a->ngroups > BW_ALERT_TOP ||
      a->nproviders > BW_ALERT_TOP || a->kind < 0 || a->kind > 1)
    return 0;
  for (int k = 0; k < BW_ALERT_TOP; k++) {
    a->reasons[k].name[sizeof(a->reasons[k].name) - 1] = '\0';
    a->groups[k].name[sizeof(a->groups[k].name) - 1] = '\0';
    a->providers[k].name[sizeof(a->providers[k].name) - 1] = '\0';
  }
  return 1;
}

int bw__alerts_restore(bw_alerts_t *al, FILE *f) {
  sio_t s = {f, 0x51ED270B27E5A1C3ull, 0};
  char magic[8];
  get(&s, magic, 8);
  if (s.bad || memcmp(magic, ALERT_MAGIC, 8) != 0)
    return BW_EPARSE;
  uint64_t hdr[8];
  get(&s, hdr, sizeof(hdr));
  /* The evaluation clock: unset, or a bucket whose time in microseconds
   * (and a gap's after it) an int64 holds, as the aggregator's. */
  int64_t lim = (INT64_C(1) << 43) / al->ao->bucket_s, lb = (int64_t)hdr[0];
  if (s.bad || hdr[5] > al->o.max_history || hdr[6] > al->names.cap ||
      hdr[7] != al->ao->nwindows || al->names.n != 0 ||
      (lb != INT64_MIN && (lb <= -lim || lb >= lim)))
    return BW_EPARSE;
  al->last_bucket = (int64_t)hdr[0];
  al->seq = hdr[1];
  al->fired = hdr[2];
  al->resolved = hdr[3];
  al->hist_dropped = hdr[4];
  al->nhist = hdr[5];
  get(&s, al->hist, al->nhist * sizeof(bw_alert_t));
  al->firing[0] = al->firing[1] = 0;
  for (uint64_t i = 0; i < hdr[6] && !s.bad; i++) {
    uint32_t len = 0;
    char name[256];
    get(&s, &len, sizeof(len));
    if (s.bad || len >= sizeof(name))
      return BW_EPARSE;
    get(&s, name, len);
    name[len] = '\0';
    if (s.bad || bw__intern_restore(&al->names, name, len) != (uint32_t)i)
      return BW_EPARSE;
    dom_t *d = &al->doms[i];
    get(&s, d->firing, sizeof(d->firing));
    get(&s, d->below_since, sizeof(d->below_since));
    uint64_t hist[MAXW][2];
    get(&s, hist, sizeof(hist));
    get(&s, d->snap_reason, sizeof(d->snap_reason));
    get(&s, d->snap_group, sizeof(d->snap_group));
    for (int w = 0; w < MAXW && !s.bad; w++)
      for (int k = 0; k < 2 && !s.bad; k++) {
        if (hist[w][k] > al->nhist || d->firing[w][k] > 1 ||
            (d->firing[w][k] && (size_t)w >= al->ao->nwindows))
          return BW_EPARSE;
        d->hist[w][k] = hist[w][k];
        if (!d->firing[w][k])
          continue;
        d->cur[w][k] = malloc(sizeof(bw_alert_t));
        if (d->cur[w][k] == NULL)
          return BW_ENOMEM;
        get(&s, d->cur[w][k], sizeof(bw_alert_t));
        al->firing[k]++;
        if (!restored_alert_ok(d->cur[w][k]))
          return BW_EPARSE;
      }
  }
  uint64_t want = s.h, h = 0;
  get(&s, &h, sizeof(h));
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  want = h; /* the fuzzer cannot forge the checksum: test what is behind */
#endif
  if (s.bad || h != want)
    return BW_EPARSE;
  for (size_t i = 0; i < al->nhist; i++)
    if (!restored_alert_ok(&al->hist[i]))
      return BW_EPARSE;
  return 0;
}

/* ---- output -------------------------------------------------------------- */

static const char *kind_name(int kind) {
  return kind == BW_ALERT_BOUNCE ? "bounce_rate" : "complaint_rate";
}

static void jtime(bw_out_t *o, int *f, const char *k, int64_t us) {
  bw__out_json_key(o, f, k);
  if (us == 0) {
    bw__out_str(o, "null");
    return;
  }
  char b[40];
  bw__format_time(us, b);
  bw__out_printf(o, "\"%s\"", b);
}

static void jd(bw_out_t *o, int *f, const char *k, double v) {
  bw__out_json_key(o, f, k);
  bw__out_printf(o, "%.6g", isfinite(v) ? v : 0.0);
}

void bw__alert_json_obj(bw_out_t *o, const bw_alert_t *a, int resolved) {
  int f = 1;
  bw__out_str(o, "{");
  bw__out_json_key(o, &f, "status");
  bw__out_str(o, resolved || a->end_us != 0 ? "\"resolved\"" : "\"firing\"");
  bw__out_json_key(o, &f, "kind");
  bw__out_printf(o, "\"%s\"", kind_name(a->kind));
  bw__out_json_key(o, &f, "sender_domain");
  bw__out_json_str(o, a->domain, strlen(a->domain));
  bw__out_json_u64(o, &f, "window_s", (uint64_t)a->window_s);
  jtime(o, &f, "start", a->start_us);
  jtime(o, &f, "end", a->end_us);
  jd(o, &f, "rate", a->rate);
  jd(o, &f, "peak_rate", a->peak_rate);
  bw__out_json_u64(o, &f, "volume", a->volume);
  bw__out_json_u64(o, &f, a->kind == BW_ALERT_BOUNCE ? "failed" : "complaints",
                   a->count);
  jd(o, &f, "threshold", a->threshold);
  jd(o, &f, "resolve_below", a->resolve_below);
  bw__out_json_key(o, &f, "reasons");
  bw__out_str(o, "[");
  for (uint32_t i = 0; i < a->nreasons; i++)
    bw__out_printf(o, "%s{\"name\":\"%s\",\"count\":%llu}", i ? "," : "",
                   a->reasons[i].name, (unsigned long long)a->reasons[i].n);
  bw__out_str(o, "]");
  bw__out_json_key(o, &f, "groups");
  bw__out_str(o, "[");
  for (uint32_t i = 0; i < a->ngroups; i++)
    bw__out_printf(o, "%s{\"name\":\"%s\",\"count\":%llu}", i ? "," : "",
                   a->groups[i].name, (unsigned long long)a->groups[i].n);
  bw__out_str(o, "]");
  bw__out_json_key(o, &f, "providers");
  bw__out_str(o, "[");
  for (uint32_t i = 0; i < a->nproviders; i++) {
    bw__out_str(o, i ? ",{\"name\":" : "{\"name\":");
    bw__out_json_str(o, a->providers[i].name, strlen(a->providers[i].name));
    bw__out_printf(o, ",\"final\":%llu,\"bounced\":%llu}",
                   (unsigned long long)a->providers[i].final,
                   (unsigned long long)a->providers[i].bounced);
  }
  bw__out_str(o, "]}");
}

void bw__alerts_json(bw_out_t *o, const bw_alerts_t *al) {
  bw__out_str(o, ",\"alerts\":[");
  for (size_t i = 0; i < al->nhist; i++) {
    if (i)
      bw__out_str(o, ",");
    bw__alert_json_obj(o, &al->hist[i], 0);
  }
  bw__out_printf(o, "],\"alerts_dropped\":%llu",
                 (unsigned long long)al->hist_dropped);
}

void bw__alerts_text(bw_out_t *o, const bw_alerts_t *al) {
  bw__out_printf(o, "\nALERTS: %zu (evaluated at each bucket boundary of log "
                    "time; fire at the threshold, resolve below %.0f%% of "
                    "it for a whole bucket)\n",
                 al->nhist, 100 * al->o.resolve_ratio);
  for (size_t i = 0; i < al->nhist; i++) {
    const bw_alert_t *a = &al->hist[i];
    char s0[40], s1[40] = "still firing at the end";
    bw__format_time(a->start_us, s0);
    if (a->end_us != 0)
      bw__format_time(a->end_us, s1);
    bw__out_printf(o, "  %s %s over %llds: %.2f%% of %llu (threshold %.2f%%, "
                      "peak %.2f%%) from %s until %s\n",
                   a->domain, kind_name(a->kind), (long long)a->window_s,
                   100 * a->rate, (unsigned long long)a->volume,
                   100 * a->threshold, 100 * a->peak_rate, s0, s1);
    bw__out_str(o, "    why:");
    for (uint32_t k = 0; k < a->nreasons; k++)
      bw__out_printf(o, " %s %llu", a->reasons[k].name,
                     (unsigned long long)a->reasons[k].n);
    bw__out_str(o, ";");
    for (uint32_t k = 0; k < a->ngroups; k++)
      bw__out_printf(o, " %s %llu", a->groups[k].name,
                     (unsigned long long)a->groups[k].n);
    bw__out_str(o, "; providers:");
    for (uint32_t k = 0; k < a->nproviders; k++)
      bw__out_printf(o, " %s %llu/%llu", a->providers[k].name,
                     (unsigned long long)a->providers[k].bounced,
                     (unsigned long long)a->providers[k].final);
    bw__out_str(o, "\n");
  }
  if (al->hist_dropped > 0)
    bw__out_printf(o, "  (%llu more not listed)\n",
                   (unsigned long long)al->hist_dropped);
}
