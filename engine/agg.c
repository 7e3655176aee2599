/* Join and aggregation. Deliveries are joined to their message (Postfix
 * instance + queue id, Exim message id) in a fixed table whose oldest
 * entries are evicted (and counted) when it is full; each recipient
 * counts once, by its final outcome, under its sender domain, recipient
 * domain, provider, reason and group. Windows of log time are rings of
 * buckets with running sums; breaches open and close on them. */
#include <libpsl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "fmt.h" /* bw__find4 */
#include "hash.h"
#include "sio.h"
#include "intern.h"

#define SERIES_POINTS 256
#define TOP_SLOTS (2 * BW_AGG_TOP)
#define MAX_BREACHES 64
#define KEY_MAX 96 /* instance + queue id, or an Exim id */
#define RELAY_CACHE 4096 /* relay hosts whose provider is remembered */
#define MSG_START_SLOTS 4096 /* 64 KiB: the message table's first size */

static uint64_t key_hash(const char *k, size_t n);
typedef struct join_s join_t;

/* ---- per-key statistics ------------------------------------------------ */

typedef struct {
  uint32_t final, bad, complaints;
} bucket_t;

typedef struct {
  uint32_t id, reg_id;
  int reg_set;      /* reg_id computed (sender table only) */
  double threshold; /* this domain's bounce threshold */
  bw_counts_t total;
  /* Windows: ring of buckets, running sums per window. */
  bucket_t *ring; /* nbuckets, NULL for non-sender tables */
  int64_t cur;    /* absolute bucket number of the newest bucket */
  bucket_t sum[4];
  int open[4];        /* index+1 of the open breach per window, 0 none */
  int open_c[4];      /* ... of the open complaint-rate breach */
  bw_breach_t *breaches;
  size_t nbreaches;
  uint64_t breaches_dropped;
  /* Space-saving counters: twice the slots reported, so the reported
   * ones are mostly exact (error 0) even on long-tailed traffic. */
  bw_agg_top_t top_provider[TOP_SLOTS], top_rcpt[TOP_SLOTS];
  uint32_t top_provider_id[TOP_SLOTS], top_rcpt_id[TOP_SLOTS];
  size_t ntop_provider, ntop_rcpt;
  /* Chart series: SERIES_POINTS points of `res` buckets each. */
  uint32_t *s_final, *s_bad;
  int64_t s_start; /* absolute bucket of point 0; INT64_MIN unset */
  int64_t s_res;
} keystat_t;

/* The sender table keeps full statistics per key; the others (recipient
 * domains, registrable domains, providers) only their counts, so a large
 * cap costs ~0.5 KiB per key, not the ~2 KiB of a sender. */
typedef struct {
  bw_intern_t names;
  keystat_t *stats;   /* sender table: by id, cap + 2 */
  bw_counts_t *counts; /* other tables: by id, cap + 2 */
  int windowed;
} table_t;

/* ---- messages in flight ------------------------------------------------ */


/* A message in flight, stored in the open-addressing table itself (one
 * cache line holds four): the key is kept only as its 64-bit hash. Two
 * live keys sharing a hash would be merged; with 50,000 in flight the
 * odds are about 1e-10, and a lookup costs one cache miss instead of two
 * (index, then record), which perf showed as the join's main cost. */
typedef struct {
  uint64_t hash;    /* of "instance/queue-id"; 0 = empty slot */
  uint32_t pending; /* head of the pending-recipient list + 1, 0 none */
  uint32_t sender : 31; /* sender-domain id */
  uint32_t notification : 1;
} msg_t;

typedef struct {
  uint64_t rcpt_hash;
  uint32_t rcpt_dom, next; /* next + 1 */
  uint8_t reason, group, hard;
} pend_t;

struct bw_agg_s {
  bw_agg_opts_t o;
  int64_t nbuckets; /* ring length = largest window / bucket */
  int64_t win_len[4];
  table_t sender, reg, rcpt, prov;
  uint32_t unknown_sender;
  /* providers.tsv: suffix -> provider name id */
  bw_intern_t prov_suffix;
  uint32_t *prov_of_suffix;
  uint32_t *prov_of_rcpt; /* by rcpt-domain id: provider + 1, 0 = not
                             looked up, NO_DOMAIN_MATCH = not listed */
  /* Relay host -> provider, direct-mapped by the host's hash: one
   * domain's mail goes to a few MX hosts (alt1..alt4) over and over. */
  struct {
    uint64_t hash;
    uint32_t prov;
  } relay_cache[RELAY_CACHE];
  uint32_t other_prov; /* id of provider "other" + 1, 0 not yet made */
  uint64_t h_postfix, h_exim; /* msg_hash's state after these instances */
  const psl_ctx_t *psl;
  /* Messages in flight: an open-addressing table (linear probing,
   * backward-shift deletion) of at most max_messages entries in at least
   * twice as many slots; a clock hand picks the entry to evict when full.
   * It starts small and doubles while under half full up to its largest
   * size (msg_max_mask + 1): a log has a few thousand messages in flight,
   * and a table that fits the cache saves a miss per line of the join. */
  msg_t *msgs;
  size_t msg_mask, msg_max_mask, msg_count, hand;
  pend_t *pend;      /* pending (deferred) recipients, 2 * max_messages */
  size_t npend;
  uint32_t pend_free; /* free list head + 1, chained through next */
  bw_agg_totals_t t;
  join_t *join; /* the Maildir join; NULL when off (at the end of the file) */
};

static void check_complaint(bw_agg_t *a, keystat_t *k, int w, int64_t at_us);
static void outcome_prov(bw_agg_t *a, uint32_t sender, uint32_t rcpt_dom,
                         uint32_t prov, bw_outcome_t o, const bw_verdict_t *v,
                         int hard, int64_t t_us);
static int join_new(bw_agg_t *a);
static void join_free(join_t *j);
static void join_event(bw_agg_t *a, const bw_event_t *ev, size_t slot);
static void join_sent(bw_agg_t *a, const bw_event_t *ev, uint32_t rcpt_dom,
                      uint32_t sender);
static void join_save(const bw_agg_t *a, void *sio);
static int join_restore(bw_agg_t *a, void *sio);

/* ---- rates ------------------------------------------------------------- */

uint64_t bw_final_outcomes(const bw_counts_t *c) {
  return c->n[BW_OUT_SENT] + c->n[BW_OUT_BOUNCED] + c->n[BW_OUT_EXPIRED];
}
uint64_t bw_failed_outcomes(const bw_counts_t *c) {
  return c->n[BW_OUT_BOUNCED] + c->n[BW_OUT_EXPIRED];
}

static double ratio(uint64_t a, uint64_t b) {
  return b ? (double)a / (double)b : 0.0;
}

double bw_bounce_rate(const bw_counts_t *c) {
  return ratio(bw_failed_outcomes(c), bw_final_outcomes(c));
}
double bw_hard_rate(const bw_counts_t *c) {
  return ratio(c->n[BW_OUT_HARD], bw_final_outcomes(c));
}
double bw_deferral_rate(const bw_counts_t *c) {
  return ratio(c->n[BW_OUT_DEFERRED],
               bw_final_outcomes(c) + c->n[BW_OUT_DEFERRED]);
}
double bw_window_rate(const bw_window_counts_t *w) {
  return ratio(w->bounced, w->final);
}

double bw_complaint_rate(const bw_counts_t *c) {
  return ratio(c->n[BW_OUT_COMPLAINTS], c->n[BW_OUT_SENT]);
}

void bw_agg_opts_default(bw_agg_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->windows_s[0] = 3600;
  o->windows_s[1] = 86400;
  o->nwindows = 2;
  o->bucket_s = 300;
  o->bounce_threshold = 0.02;
  o->complaint_threshold = 0.001;
  o->min_volume = 100;
  o->max_messages = 50000;
  o->max_domains = 1000;
}

/* ---- tables ------------------------------------------------------------ */

static int table_init(table_t *t, size_t cap, int windowed) {
  if (bw__intern_init(&t->names, cap) != 0)
    return -1;
  t->windowed = windowed;
  if (windowed)
    t->stats = calloc(cap + 2, sizeof(*t->stats));
  else
    t->counts = calloc(cap + 2, sizeof(*t->counts));
  return t->stats != NULL || t->counts != NULL ? 0 : -1;
}

static void table_free(table_t *t) {
  if (t->stats != NULL)
    for (size_t i = 0; i < t->names.cap + 2; i++) {
      free(t->stats[i].ring);
      free(t->stats[i].breaches);
      free(t->stats[i].s_final);
      free(t->stats[i].s_bad);
    }
  free(t->stats);
  free(t->counts);
  bw__intern_free(&t->names);
}

static keystat_t *stat_of(bw_agg_t *a, table_t *t, uint32_t id) {
  keystat_t *k = &t->stats[id];
  if (t->windowed && k->ring == NULL) {
    k->ring = calloc((size_t)a->nbuckets, sizeof(bucket_t));
    k->s_final = calloc(SERIES_POINTS, sizeof(uint32_t));
    k->s_bad = calloc(SERIES_POINTS, sizeof(uint32_t));
    k->cur = INT64_MIN;
    k->s_start = INT64_MIN;
    k->s_res = 1;
  }
  k->id = id;
  return k;
}

/* Domain part of an address ("" for none), without a trailing dot. */
static bw_span_t domain_of(bw_span_t addr) {
  bw_span_t d = {NULL, 0};
  if (addr.p == NULL)
    return d;
  const char *at = memrchr(addr.p, '@', addr.len);
  if (at == NULL)
    return d;
  d.p = at + 1;
  d.len = (uint32_t)(addr.p + addr.len - d.p);
  while (d.len > 0 && d.p[d.len - 1] == '.')
    d.len--;
  return d;
}

/* ---- providers ----------------------------------------------------------- */

static int load_providers(bw_agg_t *a, const char *path) {
  if (bw__intern_init(&a->prov_suffix, 4096) != 0)
    return -1;
  a->prov_of_suffix = calloc(4096 + 2, sizeof(uint32_t));
  if (a->prov_of_suffix == NULL)
    return -1;
  if (path == NULL)
    return 0;
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0; /* no map: every provider is "other" */
  char line[512];
  while (fgets(line, sizeof(line), f) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0')
      continue;
    char *tab = strchr(line, '\t');
    if (tab == NULL)
      continue;
    *tab = '\0';
    const char *suf = line[0] == '.' ? line + 1 : line;
    uint32_t s = bw__intern(&a->prov_suffix, suf, strlen(suf), 1);
    uint32_t p = bw__intern(&a->prov.names, tab + 1, strlen(tab + 1), 0);
    if (s != UINT32_MAX && p != UINT32_MAX)
      a->prov_of_suffix[s] = p + 1;
  }
  fclose(f);
  return 0;
}

/* Longest listed suffix of host (label by label). */
static uint32_t provider_of_host(const bw_agg_t *a, const char *h, size_t n) {
  while (n > 0) {
    uint32_t s = bw__intern_find(&a->prov_suffix, h, n);
    if (s != UINT32_MAX && a->prov_of_suffix[s] != 0)
      return a->prov_of_suffix[s] - 1;
    const char *dot = memchr(h, '.', n);
    if (dot == NULL)
      break;
    n -= (size_t)(dot + 1 - h);
    h = dot + 1;
  }
  return UINT32_MAX;
}

/* The provider of a recipient domain: its own suffix if listed (cached
 * per domain), else the relay host's (hosted domains: Google Workspace,
 * Exchange Online), cached by relay host. */
#define NO_DOMAIN_MATCH UINT32_MAX
static uint32_t provider_for(bw_agg_t *a, uint32_t rcpt_dom, bw_span_t relay) {
  uint32_t c = a->prov_of_rcpt[rcpt_dom];
  if (c != 0 && c != NO_DOMAIN_MATCH)
    return c - 1;
  if (c == 0) {
    const char *name = a->rcpt.names.names[rcpt_dom];
    uint32_t p = provider_of_host(a, name, strlen(name));
    a->prov_of_rcpt[rcpt_dom] = p != UINT32_MAX ? p + 1 : NO_DOMAIN_MATCH;
    if (p != UINT32_MAX)
      return p;
  }
  size_t n = relay.len > 0 ? (size_t)(bw__find4(relay.p, relay.p + relay.len, '[',
                                                 ' ', ':', ':') - relay.p)
                           : 0;
  uint64_t h = n > 0 ? key_hash(relay.p, n) : 0;
  size_t ci = (size_t)h & (RELAY_CACHE - 1);
  if (h != 0 && a->relay_cache[ci].hash == h)
    return a->relay_cache[ci].prov;
  uint32_t p = n > 0 ? provider_of_host(a, relay.p, n) : UINT32_MAX;
  if (p == UINT32_MAX) {
    if (a->other_prov == 0)
      a->other_prov = bw__intern(&a->prov.names, "other", 5, 0) + 1;
    p = a->other_prov - 1;
  }
  if (h != 0) {
    a->relay_cache[ci].hash = h;
    a->relay_cache[ci].prov = p;
  }
  return p;
}

/* ---- windows, breaches, series ----------------------------------------- */

/* One window's breach of one kind, whose open breach (index + 1, 0 none)
 * is *open: opened when `over` starts (a breach past the per-domain cap
 * is only counted), ended when it stops, its peak rate and the volume
 * there kept while it lasts. */
static void track_breach(keystat_t *k, int *open, int w, int kind, int over,
                         double rate, uint64_t volume, int64_t at_us) {
  if (over && !*open) {
    if (k->nbreaches == MAX_BREACHES) {
      k->breaches_dropped++;
      return;
    }
    bw_breach_t *nb = realloc(k->breaches, (k->nbreaches + 1) * sizeof(*nb));
    if (nb == NULL)
      return;
    k->breaches = nb;
    bw_breach_t *b = &k->breaches[k->nbreaches++];
    memset(b, 0, sizeof(*b));
    b->start_us = at_us;
    b->window = w;
    b->kind = kind;
    *open = (int)k->nbreaches;
  } else if (!over && *open) {
    k->breaches[*open - 1].end_us = at_us;
    *open = 0;
  }
  if (*open) {
    bw_breach_t *b = &k->breaches[*open - 1];
    if (rate > b->peak_rate) {
      b->peak_rate = rate;
      b->volume = volume;
    }
  }
}

static void check_breach(bw_agg_t *a, keystat_t *k, int w, int64_t at_us) {
  const bucket_t *s = &k->sum[w];
  double rate = s->final ? (double)s->bad / (double)s->final : 0.0;
  double limit = k->threshold > 0 ? k->threshold : a->o.bounce_threshold;
  int over = s->final >= a->o.min_volume && rate >= limit;
  track_breach(k, &k->open[w], w, 0, over, rate, s->final, at_us);
}

/* Move the ring forward to absolute bucket `b`, letting old buckets
 * leave each window (and breaches close when the rate falls). */
static void advance(bw_agg_t *a, keystat_t *k, int64_t b) {
  if (k->cur == INT64_MIN) {
    k->cur = b;
    return;
  }
  if (b <= k->cur)
    return;
  /* Step bucket by bucket, but never more than a ring's length: after
   * that every window is empty, whatever the gap. */
  int64_t old = k->cur;
  int64_t last = b - old > a->nbuckets + 1 ? old + a->nbuckets + 1 : b;
  for (int64_t nb = old + 1; nb <= last; nb++) {
    for (size_t w = 0; w < a->o.nwindows; w++) {
      int64_t leaving = nb - a->win_len[w];
      if (leaving > old - a->nbuckets && leaving <= old) {
        const bucket_t *gone =
            &k->ring[((leaving % a->nbuckets) + a->nbuckets) % a->nbuckets];
        if (gone->final == 0 && gone->complaints == 0)
          continue;
        k->sum[w].final -= gone->final;
        k->sum[w].bad -= gone->bad;
        k->sum[w].complaints -= gone->complaints;
        check_breach(a, k, (int)w, nb * a->o.bucket_s * 1000000);
        check_complaint(a, k, (int)w, nb * a->o.bucket_s * 1000000);
      }
    }
    bucket_t *slot = &k->ring[((nb % a->nbuckets) + a->nbuckets) % a->nbuckets];
    memset(slot, 0, sizeof(*slot));
  }
  k->cur = b;
}

static void series_add(keystat_t *k, int64_t b, int bad) {
  if (k->s_start == INT64_MIN)
    k->s_start = b;
  if (b < k->s_start)
    return; /* before the chart began (time went backwards) */
  int64_t i = (b - k->s_start) / k->s_res;
  while (i >= SERIES_POINTS) {
    /* Full: halve the resolution, merging pairs of points. */
    for (int j = 0; j < SERIES_POINTS / 2; j++) {
      k->s_final[j] = k->s_final[2 * j] + k->s_final[2 * j + 1];
      k->s_bad[j] = k->s_bad[2 * j] + k->s_bad[2 * j + 1];
    }
    memset(k->s_final + SERIES_POINTS / 2, 0, SERIES_POINTS / 2 * sizeof(uint32_t));
    memset(k->s_bad + SERIES_POINTS / 2, 0, SERIES_POINTS / 2 * sizeof(uint32_t));
    k->s_res *= 2;
    i = (b - k->s_start) / k->s_res;
  }
  k->s_final[i]++;
  if (bad)
    k->s_bad[i]++;
}

/* Space-saving top-k: replace the smallest slot when full. */
static void top_add(bw_agg_top_t *top, uint32_t *ids, size_t *n, uint32_t id,
                    int bad) {
  size_t i;
  for (i = 0; i < *n; i++)
    if (ids[i] == id)
      break;
  if (i == *n) {
    if (*n < TOP_SLOTS) {
      (*n)++;
      memset(&top[i], 0, sizeof(top[i]));
    } else {
      size_t m = 0;
      for (size_t j = 1; j < *n; j++)
        if (top[j].final < top[m].final)
          m = j;
      i = m;
      top[i].error = top[i].final;
      top[i].bounced = 0;
    }
    ids[i] = id;
  }
  top[i].final++;
  if (bad)
    top[i].bounced++;
}

/* ---- counting ----------------------------------------------------------- */

static void count(bw_counts_t *c, bw_outcome_t o, const bw_verdict_t *v,
                  int hard) {
  c->n[o]++;
  if ((o == BW_OUT_BOUNCED || o == BW_OUT_EXPIRED) && v != NULL) {
    c->by_reason[v->reason]++;
    c->by_group[v->group]++;
  }
  if ((o == BW_OUT_BOUNCED || o == BW_OUT_EXPIRED) && hard)
    c->n[BW_OUT_HARD]++;
}

/* One outcome (final or a deferral) of one recipient of a message whose
 * sender domain is `sender` (an id of the sender table). */
static void outcome(bw_agg_t *a, uint32_t sender, uint32_t rcpt_dom,
                    bw_span_t relay, bw_outcome_t o, const bw_verdict_t *v,
                    int hard, int64_t t_us) {
  outcome_prov(a, sender, rcpt_dom, provider_for(a, rcpt_dom, relay), o, v,
               hard, t_us);
}

/* outcome() with the provider known (an asynchronous bounce counts under
 * the provider its delivery was counted under). */
static void outcome_prov(bw_agg_t *a, uint32_t sender, uint32_t rcpt_dom,
                         uint32_t prov, bw_outcome_t o, const bw_verdict_t *v,
                         int hard, int64_t t_us) {
  int final = o < BW_OUT__FINAL;
  int bad = o == BW_OUT_BOUNCED || o == BW_OUT_EXPIRED;
  count(&a->t.customer, o, v, hard);
  count(&a->rcpt.counts[rcpt_dom], o, v, hard);
  count(&a->prov.counts[prov], o, v, hard);
  keystat_t *k = stat_of(a, &a->sender, sender);
  count(&k->total, o, v, hard);
  if (k->reg_set)
    count(&a->reg.counts[k->reg_id], o, v, hard);
  if (sender == a->unknown_sender && final)
    a->t.unknown_sender++;
  /* Final outcomes whose sender or recipient domain found the table full
   * (the names looked up on arrivals that never end are not outcomes). */
  if (final && (sender == a->sender.names.other_id ||
                rcpt_dom == a->rcpt.names.other_id))
    a->t.other_domains++;
  if (!final || k->ring == NULL)
    return;

  top_add(k->top_provider, k->top_provider_id, &k->ntop_provider, prov, bad);
  top_add(k->top_rcpt, k->top_rcpt_id, &k->ntop_rcpt, rcpt_dom, bad);
  int64_t secs = t_us >= 0 ? t_us / 1000000 : (t_us - 999999) / 1000000;
  int64_t b = secs >= 0 ? secs / a->o.bucket_s : (secs - a->o.bucket_s + 1) / a->o.bucket_s;
  advance(a, k, b);
  series_add(k, b, bad);
  if (b <= k->cur - a->nbuckets)
    return; /* older than every window (time went backwards) */
  bucket_t *slot = &k->ring[((b % a->nbuckets) + a->nbuckets) % a->nbuckets];
  slot->final++;
  slot->bad += (uint32_t)bad;
  for (size_t w = 0; w < a->o.nwindows; w++) {
    if (b <= k->cur - a->win_len[w])
      continue;
    k->sum[w].final++;
    k->sum[w].bad += (uint32_t)bad;
    check_breach(a, k, (int)w, t_us);
    if (k->sum[w].complaints != 0 || k->open_c[w])
      check_complaint(a, k, (int)w, t_us); /* more sent mail, lower rate */
  }
}

/* ---- the message table --------------------------------------------------- */

static uint64_t key_hash(const char *k, size_t n) {
  return bw__hash_bytes(0x243F6A8885A308D3ull, k, n);
}

/* The message key's hash: instance then queue id (Exim: "exim" then the
 * message id), hashed in place rather than copied into one key first
 * (the copy was a third of a lookup's instructions); 0 if there is no
 * id or it is too long to be one. */
#define MSG_SEED 0x243F6A8885A308D3ull
static uint64_t msg_hash(const bw_agg_t *a, const bw_event_t *ev, bw_span_t qid) {
  bw_span_t inst = ev->mta == BW_MTA_EXIM ? (bw_span_t){"exim", 4} : ev->instance;
  if (qid.len == 0 || (size_t)inst.len + 1 + qid.len > KEY_MAX)
    return 0;
  /* The instance's part of the hash is the same on almost every line
   * ("postfix", "exim"): computed once (bw_agg_new), same values. */
  uint64_t h;
  if (ev->mta == BW_MTA_EXIM)
    h = a->h_exim;
  else if (inst.len == 7 && memcmp(inst.p, "postfix", 7) == 0)
    h = a->h_postfix;
  else
    h = bw__hash_bytes(MSG_SEED, inst.p, inst.len);
  h = bw__hash_bytes(h, qid.p, qid.len);
  return h != 0 ? h : 1; /* 0 marks an empty slot */
}

/* Slot of the message with this hash, or SIZE_MAX. */
static size_t msg_find(const bw_agg_t *a, uint64_t h) {
  for (size_t i = (size_t)h & a->msg_mask;; i = (i + 1) & a->msg_mask) {
    uint64_t v = a->msgs[i].hash;
    if (v == h)
      return i;
    if (v == 0)
      return SIZE_MAX;
  }
}

static void pend_release(bw_agg_t *a, uint32_t head, int count_pending) {
  while (head != 0) {
    pend_t *p = &a->pend[head - 1];
    uint32_t next = p->next;
    if (count_pending)
      a->t.pending++;
    p->next = a->pend_free;
    a->pend_free = head;
    head = next;
  }
}

static void msg_delete(bw_agg_t *a, size_t i) {
  pend_release(a, a->msgs[i].pending, 1);
  /* Backward-shift deletion: no tombstones, probes stay short. */
  for (size_t j = i;;) {
    j = (j + 1) & a->msg_mask;
    uint64_t v = a->msgs[j].hash;
    if (v == 0)
      break;
    size_t home = (size_t)v & a->msg_mask;
    int move = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (move) {
      a->msgs[i] = a->msgs[j];
      i = j;
    }
  }
  memset(&a->msgs[i], 0, sizeof(a->msgs[i]));
  a->msg_count--;
}

/* Twice the slots, the entries re-placed; on allocation failure the
 * table stays as it is (and evicts sooner). */
static void msg_grow(bw_agg_t *a) {
  size_t slots = 2 * (a->msg_mask + 1);
  msg_t *n = calloc(slots, sizeof(msg_t));
  if (n == NULL)
    return;
  for (size_t i = 0; i <= a->msg_mask; i++) {
    uint64_t h = a->msgs[i].hash;
    if (h == 0)
      continue;
    size_t j = (size_t)h & (slots - 1);
    while (n[j].hash != 0)
      j = (j + 1) & (slots - 1);
    n[j] = a->msgs[i];
  }
  free(a->msgs);
  a->msgs = n;
  a->msg_mask = slots - 1;
  a->hand = 0;
}

static size_t msg_insert(bw_agg_t *a, uint64_t h) {
  if (2 * (a->msg_count + 1) > a->msg_mask + 1 && a->msg_mask < a->msg_max_mask)
    msg_grow(a);
  if (a->msg_count >= a->o.max_messages) {
    /* Full: evict the entry under the clock hand. */
    while (a->msgs[a->hand].hash == 0)
      a->hand = (a->hand + 1) & a->msg_mask;
    msg_delete(a, a->hand);
    a->hand = (a->hand + 1) & a->msg_mask;
    a->t.evicted_messages++;
  }
  size_t i = (size_t)h & a->msg_mask;
  while (a->msgs[i].hash != 0)
    i = (i + 1) & a->msg_mask;
  memset(&a->msgs[i], 0, sizeof(a->msgs[i]));
  a->msgs[i].hash = h;
  a->msgs[i].sender = a->unknown_sender;
  a->msg_count++;
  return i;
}

/* Slot of the event's message (created if asked), SIZE_MAX if none. The
 * slot is valid until the next insert or delete (entries move). */
static size_t msg_get(bw_agg_t *a, const bw_event_t *ev, bw_span_t qid,
                      int create) {
  uint64_t h = msg_hash(a, ev, qid);
  if (h == 0)
    return SIZE_MAX;
  size_t i = msg_find(a, h);
  if (i == SIZE_MAX && create)
    i = msg_insert(a, h);
  return i;
}

/* ---- pending recipients ------------------------------------------------- */

/* Recipients compare without regard to case (a retry may log
 * Bob@Example.net where the first try logged bob@example.net). */
static uint64_t addr_hash(bw_span_t r) {
  return bw__hash_folded(0x13198A2E03707344ull, r.p, r.len);
}

/* Find (and with `unlink`, remove) the pending entry of a recipient. */
static pend_t *pend_find(bw_agg_t *a, msg_t *m, uint64_t rh, int unlink) {
  uint32_t *link = &m->pending;
  while (*link != 0) {
    pend_t *p = &a->pend[*link - 1];
    if (p->rcpt_hash == rh) {
      if (unlink) {
        uint32_t self = *link;
        *link = p->next;
        p->next = a->pend_free;
        a->pend_free = self;
      }
      return p;
    }
    link = &p->next;
  }
  return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

int bw_agg_new(const bw_agg_opts_t *opts, bw_agg_t **out) {
  bw_agg_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return BW_ENOMEM;
  if (opts != NULL)
    a->o = *opts;
  else
    bw_agg_opts_default(&a->o);
  if (a->o.nwindows == 0 || a->o.nwindows > 4 || a->o.bucket_s <= 0 ||
      a->o.max_messages == 0 || a->o.max_domains == 0)
    goto fail_inval;
  int64_t maxw = 0;
  for (size_t w = 0; w < a->o.nwindows; w++) {
    if (a->o.windows_s[w] < a->o.bucket_s || a->o.windows_s[w] % a->o.bucket_s)
      goto fail_inval;
    a->win_len[w] = a->o.windows_s[w] / a->o.bucket_s;
    if (a->win_len[w] > maxw)
      maxw = a->win_len[w];
  }
  a->nbuckets = maxw;
  if (table_init(&a->sender, a->o.max_domains, 1) ||
      table_init(&a->reg, a->o.max_domains, 0) ||
      table_init(&a->rcpt, a->o.max_domains * 2, 0) ||
      table_init(&a->prov, 512, 0))
    goto fail;
  a->prov_of_rcpt = calloc(a->o.max_domains * 2 + 2, sizeof(uint32_t));
  if (a->prov_of_rcpt == NULL || load_providers(a, a->o.providers_file) != 0)
    goto fail;
  a->unknown_sender = bw__intern(&a->sender.names, "unknown", 7, 0);
  keystat_t *uk = stat_of(a, &a->sender, a->unknown_sender);
  uk->reg_id = bw__intern(&a->reg.names, "unknown", 7, 0);
  uk->reg_set = 1;
  a->psl = psl_builtin();

  size_t slots = 16;
  while (slots < 2 * a->o.max_messages)
    slots <<= 1;
  a->msg_max_mask = slots - 1;
  if (slots > MSG_START_SLOTS)
    slots = MSG_START_SLOTS;
  a->msgs = calloc(slots, sizeof(msg_t));
  a->msg_mask = slots - 1;
  a->npend = a->o.max_messages;
  a->pend = calloc(a->npend, sizeof(pend_t));
  if (a->msgs == NULL || a->pend == NULL)
    goto fail;
  for (size_t i = a->npend; i > 0; i--) {
    a->pend[i - 1].next = a->pend_free;
    a->pend_free = (uint32_t)i;
  }
  a->h_postfix = bw__hash_bytes(MSG_SEED, "postfix", 7);
  a->h_exim = bw__hash_bytes(MSG_SEED, "exim", 4);
  a->t.first_us = INT64_MAX;
  a->t.last_us = INT64_MIN;
  if ((a->o.max_joined > 0 || a->o.max_seen > 0) && join_new(a) != 0)
    goto fail;
  *out = a;
  return 0;
fail_inval:
  free(a);
  return BW_EINVAL;
fail:
  bw_agg_free(a);
  return BW_ENOMEM;
}

void bw_agg_free(bw_agg_t *a) {
  if (a == NULL)
    return;
  table_free(&a->sender);
  table_free(&a->reg);
  table_free(&a->rcpt);
  table_free(&a->prov);
  bw__intern_free(&a->prov_suffix);
  free(a->prov_of_suffix);
  free(a->prov_of_rcpt);
  free(a->msgs);
  free(a->pend);
  join_free(a->join);
  free(a);
}

/* ---- events ------------------------------------------------------------- */

static uint32_t sender_id(bw_agg_t *a, bw_span_t sender) {
  bw_span_t d = domain_of(sender);
  if (d.len == 0)
    return a->unknown_sender; /* local user without a domain, or absent */
  uint32_t id = bw__intern(&a->sender.names, d.p, d.len, 1);
  if (id == UINT32_MAX)
    return a->unknown_sender;
  keystat_t *k = stat_of(a, &a->sender, id);
  if (!k->reg_set) {
    /* First sight: its registrable domain, once, through libpsl, and its
     * own threshold if it has one. */
    const char *name = a->sender.names.names[id];
    for (size_t i = 0; i < a->o.ndomain_thresholds; i++)
      if (strcasecmp(a->o.domain_thresholds[i].domain, name) == 0)
        k->threshold = a->o.domain_thresholds[i].bounce_threshold;
    const char *reg = a->psl ? psl_registrable_domain(a->psl, name) : NULL;
    if (reg == NULL)
      reg = name;
    uint32_t r = bw__intern(&a->reg.names, reg, strlen(reg), 1);
    if (r != UINT32_MAX) {
      k->reg_id = r;
      k->reg_set = 1;
    }
  }
  return id;
}

static uint32_t rcpt_domain(bw_agg_t *a, bw_span_t rcpt) {
  bw_span_t d = domain_of(rcpt);
  if (d.len == 0)
    return bw__intern(&a->rcpt.names, "local", 5, 0);
  uint32_t id = bw__intern(&a->rcpt.names, d.p, d.len, 1);
  return id == UINT32_MAX ? bw__intern(&a->rcpt.names, "other", 5, 0) : id;
}

static void delivery(bw_agg_t *a, const bw_event_t *ev, const bw_verdict_t *v) {
  if (ev->status == BW_STATUS_PROBE_OK || ev->status == BW_STATUS_PROBE_FAIL) {
    a->t.probes++;
    return;
  }
  if (ev->status == BW_STATUS_SUPPRESSED || ev->status == BW_STATUS_OTHER ||
      ev->status == BW_STATUS_NONE)
    return;
  size_t slot = msg_get(a, ev, ev->queue_id, 0);
  msg_t *m = slot != SIZE_MAX ? &a->msgs[slot] : NULL;
  uint32_t sender = m != NULL ? m->sender : a->unknown_sender;
  if (m == NULL && ev->has_sender) /* Exim F=<...> */
    sender = sender_id(a, ev->sender);
  int hard = v != NULL && v->hard;
  uint32_t rd = rcpt_domain(a, ev->rcpt);

  if (m != NULL && m->notification) {
    bw_outcome_t o = ev->status == BW_STATUS_SENT ? BW_OUT_SENT
                     : ev->status == BW_STATUS_BOUNCED ? BW_OUT_BOUNCED
                     : ev->status == BW_STATUS_EXPIRED ? BW_OUT_EXPIRED
                                                        : BW_OUT_DEFERRED;
    count(&a->t.notifications, o, v, hard);
    return;
  }
  /* The recipient's hash only where a pending entry may be (most final
   * outcomes come at the first try, with nothing pending). */
  switch (ev->status) {
  case BW_STATUS_SENT:
  case BW_STATUS_BOUNCED:
  case BW_STATUS_EXPIRED: {
    if (m != NULL && m->pending != 0)
      pend_find(a, m, addr_hash(ev->rcpt), 1);
    bw_outcome_t o = ev->status == BW_STATUS_SENT      ? BW_OUT_SENT
                     : ev->status == BW_STATUS_BOUNCED ? BW_OUT_BOUNCED
                                                       : BW_OUT_EXPIRED;
    outcome(a, sender, rd, ev->relay, o, v, hard, ev->time_us);
    if (a->join != NULL && o == BW_OUT_SENT)
      join_sent(a, ev, rd, sender);
    break;
  }
  case BW_STATUS_DEFERRED:
  case BW_STATUS_SOFTBOUNCE: /* soft_bounce=yes: the mail stays queued */
    outcome(a, sender, rd, ev->relay, BW_OUT_DEFERRED, v, 0, ev->time_us);
    if (m == NULL)
      break;
    uint64_t rh = addr_hash(ev->rcpt);
    pend_t *p = pend_find(a, m, rh, 0);
    if (p == NULL) {
      if (a->pend_free == 0) {
        a->t.untracked++;
        break;
      }
      uint32_t idx = a->pend_free;
      p = &a->pend[idx - 1];
      a->pend_free = p->next;
      p->rcpt_hash = rh;
      p->next = m->pending;
      m->pending = idx;
    }
    p->rcpt_dom = rd;
    p->reason = v != NULL ? (uint8_t)v->reason : BW_REASON_UNDEFINED;
    p->group = v != NULL ? (uint8_t)v->group : BW_GROUP_NETWORK_TRANSIENT;
    p->hard = (uint8_t)(v != NULL && v->hard);
    break;
  default:
    break;
  }
}

/* Postfix "status=expired, returned to sender": the still-deferred
 * recipients are the expired ones, with the reason of their last try. */
static void expire_message(bw_agg_t *a, msg_t *m, const bw_event_t *ev) {
  uint32_t head = m->pending;
  m->pending = 0;
  while (head != 0) {
    pend_t *p = &a->pend[head - 1];
    bw_verdict_t v;
    memset(&v, 0, sizeof(v));
    v.reason = (bw_reason_t)p->reason;
    v.group = (bw_group_t)p->group;
    v.hard = p->hard;
    if (m->notification)
      count(&a->t.notifications, BW_OUT_EXPIRED, &v, p->hard);
    else
      outcome(a, m->sender, p->rcpt_dom, (bw_span_t){NULL, 0}, BW_OUT_EXPIRED,
              &v, p->hard, ev->time_us);
    uint32_t next = p->next;
    p->next = a->pend_free;
    a->pend_free = head;
    head = next;
  }
}

static void agg_event(bw_agg_t *a, const bw_event_t *ev, const bw_verdict_t *v);

/* Every line comes here; half are the MTA's other lines (connects, TLS,
 * warnings), which only move the log's time span: they leave before the
 * frame of the big function (whose prologue was 3 % of `report`). */
void bw_agg_add(bw_agg_t *a, const bw_event_t *ev, const bw_verdict_t *v) {
  if (ev->mta == BW_MTA_NONE)
    return;
  if (ev->time_us != 0) {
    if (ev->time_us < a->t.first_us)
      a->t.first_us = ev->time_us;
    if (ev->time_us > a->t.last_us)
      a->t.last_us = ev->time_us;
  }
  switch (ev->kind) {
  case BW_KIND_DELIVERY:
  case BW_KIND_ARRIVAL:
  case BW_KIND_MESSAGE_ID:
  case BW_KIND_NOTIFICATION:
  case BW_KIND_EXPIRED:
  case BW_KIND_REMOVED:
    agg_event(a, ev, v);
    break;
  default:
    break;
  }
}

static __attribute__((noinline)) void agg_event(bw_agg_t *a, const bw_event_t *ev,
                                                const bw_verdict_t *v) {
  size_t slot;
  switch (ev->kind) {
  case BW_KIND_DELIVERY:
    delivery(a, ev, v);
    break;
  case BW_KIND_ARRIVAL:
    slot = msg_get(a, ev, ev->queue_id, 1);
    if (slot == SIZE_MAX)
      break;
    a->t.messages++;
    /* A null sender is a bounce notification (Postfix from=<>, Exim
     * "<= <>"): not the customer's mail, counted apart. */
    if (ev->has_sender && ev->sender.len == 0) {
      a->msgs[slot].notification = 1;
    } else {
      uint32_t sid = sender_id(a, ev->sender);
      a->msgs[slot].sender = sid; /* sender_id does not move entries */
    }
    if (a->join != NULL)
      join_event(a, ev, slot);
    break;
  case BW_KIND_MESSAGE_ID:
    if (a->join != NULL)
      join_event(a, ev, SIZE_MAX);
    break;
  case BW_KIND_NOTIFICATION:
    slot = msg_get(a, ev, ev->new_queue_id, 1);
    if (slot != SIZE_MAX)
      a->msgs[slot].notification = 1;
    break;
  case BW_KIND_EXPIRED:
    slot = msg_get(a, ev, ev->queue_id, 0);
    if (slot != SIZE_MAX)
      expire_message(a, &a->msgs[slot], ev);
    break;
  case BW_KIND_REMOVED:
    slot = msg_get(a, ev, ev->queue_id, 0);
    if (slot != SIZE_MAX)
      msg_delete(a, slot);
    if (a->join != NULL)
      join_event(a, ev, SIZE_MAX);
    break;
  default:
    break;
  }
}

const char *bw_agg_sender_of(const bw_agg_t *a, const bw_event_t *ev) {
  /* msg_get() only reads when it does not create. */
  size_t slot = msg_get((bw_agg_t *)a, ev, ev->queue_id, 0);
  uint32_t sid = a->unknown_sender;
  if (slot != SIZE_MAX) {
    if (a->msgs[slot].notification)
      return "";
    sid = a->msgs[slot].sender;
  } else if (ev->has_sender) { /* Exim F=<...> */
    bw_span_t d = domain_of(ev->sender);
    sid = d.len ? bw__intern_find(&a->sender.names, d.p, d.len) : UINT32_MAX;
    if (sid == UINT32_MAX)
      return NULL;
  }
  if (sid == a->unknown_sender || sid >= a->sender.names.n)
    return NULL;
  return a->sender.names.names[sid];
}

void bw_agg_advance(bw_agg_t *a, int64_t t_us) {
  int64_t secs = t_us / 1000000;
  int64_t b = secs / a->o.bucket_s;
  for (size_t i = 0; i < a->sender.names.n; i++)
    if (a->sender.stats[i].ring != NULL)
      advance(a, &a->sender.stats[i], b);
}

void bw_agg_finish(bw_agg_t *a) {
  /* Windows end at the last log time of the input, for every sender
   * domain: one that fell silent lets its old buckets go (and its breach
   * may close then). */
  if (a->t.last_us != INT64_MIN)
    bw_agg_advance(a, a->t.last_us);
  /* Recipients still deferred: pending, not outcomes. */
  for (size_t i = 0; i <= a->msg_mask; i++)
    if (a->msgs[i].hash != 0 && a->msgs[i].pending != 0) {
      pend_release(a, a->msgs[i].pending, 1);
      a->msgs[i].pending = 0;
    }
}

void bw_agg_totals(const bw_agg_t *a, bw_agg_totals_t *t) {
  *t = a->t;
  if (t->first_us == INT64_MAX)
    t->first_us = t->last_us = 0;
}

/* ---- results ------------------------------------------------------------ */

static int cmp_key(const void *x, const void *y) {
  const bw_agg_key_t *a = x, *b = y;
  uint64_t fa = bw_final_outcomes(&a->total) + a->total.n[BW_OUT_DEFERRED],
           fb = bw_final_outcomes(&b->total) + b->total.n[BW_OUT_DEFERRED];
  if (fa != fb)
    return fa > fb ? -1 : 1;
  return strcmp(a->name, b->name);
}

static int cmp_top(const void *x, const void *y) {
  const bw_agg_top_t *a = x, *b = y;
  uint64_t ga = a->final - a->error, gb = b->final - b->error;
  return ga != gb ? (ga > gb ? -1 : 1) : strcmp(a->name, b->name);
}

/* The BW_AGG_TOP slots with the largest guaranteed counts, named. */
static size_t top_out(bw_agg_top_t *dst, const bw_agg_top_t *src,
                      const uint32_t *ids, size_t n, const table_t *names) {
  bw_agg_top_t tmp[TOP_SLOTS];
  for (size_t j = 0; j < n; j++) {
    tmp[j] = src[j];
    tmp[j].name = names->names.names[ids[j]];
  }
  qsort(tmp, n, sizeof(tmp[0]), cmp_top);
  size_t m = n < BW_AGG_TOP ? n : BW_AGG_TOP;
  memcpy(dst, tmp, m * sizeof(tmp[0]));
  return m;
}

size_t bw_agg_sender_providers(const bw_agg_t *a, const char *domain,
                               bw_agg_top_t out[BW_AGG_TOP]) {
  uint32_t id = bw__intern_find(&a->sender.names, domain, strlen(domain));
  if (id == UINT32_MAX)
    return 0;
  const keystat_t *k = &a->sender.stats[id];
  return top_out(out, k->top_provider, k->top_provider_id, k->ntop_provider,
                 &a->prov);
}

void bw_agg_each_sender(const bw_agg_t *a, bw_agg_sender_cb cb, void *arg) {
  bw_window_counts_t w[4];
  for (size_t i = 0; i < a->sender.names.n; i++) {
    const keystat_t *k = &a->sender.stats[i];
    if (k->ring == NULL || bw_final_outcomes(&k->total) == 0)
      continue;
    memset(w, 0, sizeof(w));
    for (size_t j = 0; j < a->o.nwindows; j++) {
      w[j].final = k->sum[j].final;
      w[j].bounced = k->sum[j].bad;
      w[j].complaints = k->sum[j].complaints;
    }
    cb(arg, a->sender.names.names[i], &k->total, w);
  }
}

size_t bw_agg_keys(bw_agg_t *a, bw_agg_table_t which, bw_agg_key_t **out) {
  table_t *t = which == BW_AGG_SENDER     ? &a->sender
               : which == BW_AGG_SENDER_REG ? &a->reg
               : which == BW_AGG_RCPT       ? &a->rcpt
                                            : &a->prov;
  *out = NULL;
  size_t n = 0;
  /* One block: the keys, then their series (so one free() releases it). */
  size_t nk = t->names.n + 1;
  size_t ns = t->windowed ? nk * SERIES_POINTS : 0;
  bw_agg_key_t *v = calloc(1, nk * sizeof(*v) + ns * sizeof(float));
  if (v == NULL)
    return 0;
  float *series = (float *)(void *)(v + nk);
  for (size_t i = 0; i < t->names.n; i++) {
    if (t->counts != NULL) {
      const bw_counts_t *c = &t->counts[i];
      if (bw_final_outcomes(c) + c->n[BW_OUT_DEFERRED] +
              c->n[BW_OUT_COMPLAINTS] ==
          0)
        continue;
      v[n].name = t->names.names[i];
      v[n].id = (uint32_t)i;
      v[n].total = *c;
      n++;
      continue;
    }
    keystat_t *k = &t->stats[i];
    if (bw_final_outcomes(&k->total) + k->total.n[BW_OUT_DEFERRED] +
            k->total.n[BW_OUT_COMPLAINTS] ==
        0)
      continue;
    bw_agg_key_t *o = &v[n++];
    o->name = t->names.names[i];
    o->id = (uint32_t)i;
    o->registrable = which == BW_AGG_SENDER && k->reg_id < a->reg.names.n
                         ? a->reg.names.names[k->reg_id]
                         : NULL;
    o->total = k->total;
    for (size_t w = 0; w < a->o.nwindows && k->ring != NULL; w++) {
      o->window[w].final = k->sum[w].final;
      o->window[w].bounced = k->sum[w].bad;
      o->window[w].complaints = k->sum[w].complaints;
    }
    o->breaches = k->breaches;
    o->nbreaches = k->nbreaches;
    o->breaches_dropped = k->breaches_dropped;
    o->ntop_provider = top_out(o->top_provider, k->top_provider,
                               k->top_provider_id, k->ntop_provider, &a->prov);
    o->ntop_rcpt = top_out(o->top_rcpt, k->top_rcpt, k->top_rcpt_id,
                           k->ntop_rcpt, &a->rcpt);
    if (k->s_final != NULL && k->s_start != INT64_MIN) {
      float *sr = series + i * SERIES_POINTS;
      o->series = sr;
      o->series_n = k->s_final;
      o->nseries = SERIES_POINTS;
      while (o->nseries > 0 && k->s_final[o->nseries - 1] == 0)
        o->nseries--;
      for (size_t j = 0; j < o->nseries; j++)
        sr[j] = k->s_final[j] ? (float)k->s_bad[j] / (float)k->s_final[j]
                              : NAN;
      o->series_start_us = k->s_start * a->o.bucket_s * 1000000;
      o->series_step_s = k->s_res * a->o.bucket_s;
    }
  }
  qsort(v, n, sizeof(*v), cmp_key);
  *out = v;
  return n;
}

/* ---- state: save and restore ------------------------------------------- */

/* The checked stream of sio.h. */

#define STATE_MAGIC "BWAGGST3" /* 3: complaint breaches, the Maildir join */

/* What must match for a state to fit this aggregator: layout and caps. */
static void shape(const bw_agg_t *a, uint64_t v[12]) {
  v[0] = sizeof(keystat_t);
  v[1] = sizeof(msg_t);
  v[2] = sizeof(pend_t);
  v[3] = sizeof(bw_counts_t);
  v[4] = sizeof(bw_agg_totals_t);
  v[5] = (uint64_t)a->nbuckets;
  v[6] = a->msg_max_mask;
  v[7] = a->npend;
  v[8] = a->sender.names.cap;
  v[9] = a->rcpt.names.cap;
  v[10] = (uint64_t)a->o.bucket_s;
  v[11] = SERIES_POINTS;
}

static void save_names(bw__sio_t *s, const bw_intern_t *t) {
  uint64_t hdr[3] = {t->n, t->other_id, t->overflowed};
  bw__sio_put(s, hdr, sizeof(hdr));
  for (size_t i = 0; i < t->n; i++) {
    uint32_t len = (uint32_t)strlen(t->names[i]);
    bw__sio_put(s, &len, sizeof(len));
    bw__sio_put(s, t->names[i], len);
  }
}

static int restore_names(bw__sio_t *s, bw_intern_t *t) {
  uint64_t hdr[3];
  bw__sio_get(s, hdr, sizeof(hdr));
  if (s->bad || hdr[0] > t->cap + 2)
    return -1;
  size_t cap = t->cap;
  bw__intern_free(t);
  if (bw__intern_init(t, cap) != 0)
    return -1;
  char buf[4096];
  for (uint64_t i = 0; i < hdr[0]; i++) {
    uint32_t len;
    bw__sio_get(s, &len, sizeof(len));
    if (s->bad || len >= sizeof(buf))
      return -1;
    bw__sio_get(s, buf, len);
    if (s->bad || bw__intern_restore(t, buf, len) != i)
      return -1;
  }
  t->other_id = (uint32_t)hdr[1];
  t->overflowed = hdr[2];
  return 0;
}

int bw_agg_save(const bw_agg_t *a, FILE *f) {
  bw__sio_t s = {f, 0x5bd1e9955bd1e995ull, 0};
  uint64_t sh[12];
  shape(a, sh);
  bw__sio_put(&s, STATE_MAGIC, 8);
  bw__sio_put(&s, sh, sizeof(sh));
  bw__sio_put(&s, &a->t, sizeof(a->t));
  const table_t *tabs[4] = {&a->sender, &a->reg, &a->rcpt, &a->prov};
  for (int i = 0; i < 4; i++)
    save_names(&s, &tabs[i]->names);
  for (size_t i = 0; i < a->sender.names.n; i++) {
    keystat_t k = a->sender.stats[i];
    uint8_t has[2] = {k.ring != NULL, k.s_final != NULL};
    k.ring = NULL; /* pointers are not state */
    k.breaches = NULL;
    k.s_final = k.s_bad = NULL;
    bw__sio_put(&s, has, sizeof(has));
    bw__sio_put(&s, &k, sizeof(k));
    const keystat_t *o = &a->sender.stats[i];
    if (has[0])
      bw__sio_put(&s, o->ring, (size_t)a->nbuckets * sizeof(bucket_t));
    if (has[1]) {
      bw__sio_put(&s, o->s_final, SERIES_POINTS * sizeof(uint32_t));
      bw__sio_put(&s, o->s_bad, SERIES_POINTS * sizeof(uint32_t));
    }
    bw__sio_put(&s, o->breaches, o->nbreaches * sizeof(bw_breach_t));
  }
  for (int i = 1; i < 4; i++)
    bw__sio_put(&s, tabs[i]->counts, tabs[i]->names.n * sizeof(bw_counts_t));
  uint64_t m[4] = {a->msg_count, a->hand, a->pend_free, a->msg_mask};
  bw__sio_put(&s, m, sizeof(m));
  bw__sio_put(&s, a->msgs, (a->msg_mask + 1) * sizeof(msg_t));
  bw__sio_put(&s, a->pend, a->npend * sizeof(pend_t));
  join_save(a, &s);
  uint64_t check = s.h;
  if (!s.bad && fwrite(&check, sizeof(check), 1, f) != 1)
    s.bad = 1;
  return s.bad ? BW_EIO : 0;
}

/* The checksum guards against damage; this guards the code against a
 * state whose checksum happens to fit but whose indexes do not (a bug of
 * another version, a forged file): every index read back must point
 * inside its table, every list must end, and no entry may sit in two. */
/* A bucket number: unset (INT64_MIN) or one a log time can give (within
 * 2^43 seconds, ~280,000 years, of 1970), so neither its differences nor
 * its microseconds can overflow. */
static int bucket_ok(const bw_agg_t *a, int64_t b) {
  int64_t lim = (INT64_C(1) << 43) / a->o.bucket_s;
  return b == INT64_MIN || (b > -lim && b < lim);
}

static int intern_ok(const bw_intern_t *t) {
  return t->other_id == UINT32_MAX || t->other_id < t->n;
}

static int restored_valid(bw_agg_t *a) {
  if (a->unknown_sender == UINT32_MAX || !intern_ok(&a->sender.names) ||
      !intern_ok(&a->reg.names) || !intern_ok(&a->rcpt.names) ||
      !intern_ok(&a->prov.names))
    return 0;
  for (size_t i = 0; i < a->sender.names.n; i++) {
    const keystat_t *k = &a->sender.stats[i];
    if ((k->reg_set && k->reg_id >= a->reg.names.n) ||
        k->ntop_provider > TOP_SLOTS || k->ntop_rcpt > TOP_SLOTS ||
        (k->s_final != NULL &&
         (k->s_res < 1 || k->s_res > (INT64_C(1) << 43) / a->o.bucket_s)) ||
        !bucket_ok(a, k->cur) || !bucket_ok(a, k->s_start))
      return 0;
    for (int w = 0; w < 4; w++)
      if (k->open[w] < 0 || (size_t)k->open[w] > k->nbreaches ||
          k->open_c[w] < 0 || (size_t)k->open_c[w] > k->nbreaches)
        return 0;
    for (size_t j = 0; j < k->nbreaches; j++) /* outputs index windows_s */
      if (k->breaches[j].window < 0 ||
          (size_t)k->breaches[j].window >= a->o.nwindows)
        return 0;
    for (size_t j = 0; j < k->ntop_provider; j++)
      if (k->top_provider_id[j] >= a->prov.names.n)
        return 0;
    for (size_t j = 0; j < k->ntop_rcpt; j++)
      if (k->top_rcpt_id[j] >= a->rcpt.names.n)
        return 0;
  }
  /* Pending recipients: each entry on one list at most (a message's or
   * the free list), every list ending within npend steps. */
  uint8_t *seen = calloc(a->npend + 1, 1);
  if (seen == NULL)
    return 0;
  int ok = 1;
  size_t used = 0;
  for (size_t i = 0; ok && i <= a->msg_mask + 1; i++) {
    uint32_t head;
    if (i <= a->msg_mask) {
      const msg_t *m = &a->msgs[i];
      if (m->hash == 0)
        continue;
      used++;
      if (m->sender >= a->sender.names.n) {
        ok = 0;
        break;
      }
      head = m->pending;
    } else {
      head = a->pend_free;
    }
    while (ok && head != 0) {
      if (head > a->npend || seen[head]) {
        ok = 0;
        break;
      }
      seen[head] = 1;
      const pend_t *p = &a->pend[head - 1];
      if (i <= a->msg_mask &&
          (p->rcpt_dom >= a->rcpt.names.n || p->reason >= BW_REASON__COUNT ||
           p->group >= BW_GROUP__COUNT))
        ok = 0;
      head = p->next;
    }
  }
  free(seen);
  return ok && used == a->msg_count && used <= a->o.max_messages;
}

int bw_agg_restore(bw_agg_t *a, FILE *f) {
  bw__sio_t s = {f, 0x5bd1e9955bd1e995ull, 0};
  char magic[8];
  uint64_t want[12], got[12];
  shape(a, want);
  bw__sio_get(&s, magic, 8);
  bw__sio_get(&s, got, sizeof(got));
  if (s.bad || memcmp(magic, STATE_MAGIC, 8) != 0 ||
      memcmp(want, got, sizeof(want)) != 0)
    return BW_EPARSE; /* another version, or other caps */
  bw__sio_get(&s, &a->t, sizeof(a->t));
  table_t *tabs[4] = {&a->sender, &a->reg, &a->rcpt, &a->prov};
  for (int i = 0; i < 4; i++)
    if (restore_names(&s, &tabs[i]->names) != 0)
      return BW_EPARSE;
  for (size_t i = 0; i < a->sender.names.cap + 2; i++) {
    keystat_t *k = &a->sender.stats[i];
    free(k->ring);
    free(k->breaches);
    free(k->s_final);
    free(k->s_bad);
    memset(k, 0, sizeof(*k));
  }
  for (size_t i = 0; i < a->sender.names.n && !s.bad; i++) {
    keystat_t *k = &a->sender.stats[i];
    uint8_t has[2];
    bw__sio_get(&s, has, sizeof(has));
    bw__sio_get(&s, k, sizeof(*k));
    k->ring = NULL;
    k->breaches = NULL;
    k->s_final = k->s_bad = NULL;
    if (s.bad || k->nbreaches > MAX_BREACHES)
      return BW_EPARSE;
    if (has[0]) {
      k->ring = malloc((size_t)a->nbuckets * sizeof(bucket_t));
      if (k->ring == NULL)
        return BW_ENOMEM;
      bw__sio_get(&s, k->ring, (size_t)a->nbuckets * sizeof(bucket_t));
    }
    if (has[1]) {
      k->s_final = malloc(SERIES_POINTS * sizeof(uint32_t));
      k->s_bad = malloc(SERIES_POINTS * sizeof(uint32_t));
      if (k->s_final == NULL || k->s_bad == NULL)
        return BW_ENOMEM;
      bw__sio_get(&s, k->s_final, SERIES_POINTS * sizeof(uint32_t));
      bw__sio_get(&s, k->s_bad, SERIES_POINTS * sizeof(uint32_t));
    }
    if (k->nbreaches > 0) {
      k->breaches = malloc(k->nbreaches * sizeof(bw_breach_t));
      if (k->breaches == NULL)
        return BW_ENOMEM;
      bw__sio_get(&s, k->breaches, k->nbreaches * sizeof(bw_breach_t));
    }
  }
  for (int i = 1; i < 4; i++) {
    memset(tabs[i]->counts, 0, (tabs[i]->names.cap + 2) * sizeof(bw_counts_t));
    bw__sio_get(&s, tabs[i]->counts, tabs[i]->names.n * sizeof(bw_counts_t));
  }
  uint64_t m[4];
  bw__sio_get(&s, m, sizeof(m));
  /* The table's size when saved: a power of two up to the largest. */
  if (s.bad || m[3] > a->msg_max_mask || ((m[3] + 1) & m[3]) != 0 || m[3] < 15)
    return BW_EPARSE;
  if (m[3] != a->msg_mask) {
    msg_t *t = calloc(m[3] + 1, sizeof(msg_t));
    if (t == NULL)
      return BW_ENOMEM;
    free(a->msgs);
    a->msgs = t;
    a->msg_mask = m[3];
  }
  bw__sio_get(&s, a->msgs, (a->msg_mask + 1) * sizeof(msg_t));
  bw__sio_get(&s, a->pend, a->npend * sizeof(pend_t));
  if (join_restore(a, &s) != 0)
    return BW_EPARSE;
  uint64_t check = 0;
  int sum_ok = fread(&check, sizeof(check), 1, f) == 1 && check == s.h;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  sum_ok = 1; /* the fuzzer cannot forge the checksum: test what is behind */
#endif
  if (s.bad || !sum_ok || m[1] > a->msg_mask || m[2] > a->npend)
    return BW_EPARSE;
  a->msg_count = m[0];
  a->hand = m[1];
  a->pend_free = (uint32_t)m[2];
  a->unknown_sender = bw__intern_find(&a->sender.names, "unknown", 7);
  if (!restored_valid(a))
    return BW_EPARSE;
  /* Provider lookups are caches: rebuild them, re-reading the map so the
   * suffixes point at the restored provider ids. */
  memset(a->prov_of_rcpt, 0, (a->o.max_domains * 2 + 2) * sizeof(uint32_t));
  memset(a->relay_cache, 0, sizeof(a->relay_cache));
  a->other_prov = 0;
  bw__intern_free(&a->prov_suffix);
  free(a->prov_of_suffix);
  a->prov_of_suffix = NULL;
  if (load_providers(a, a->o.providers_file) != 0)
    return BW_ENOMEM;
  return 0;
}

/* ---- complaints and the Maildir join (issue #7) ------------------------- */

double bw_window_complaint_rate(const bw_window_counts_t *w) {
  return w->final > w->bounced ? ratio(w->complaints, w->final - w->bounced)
                               : 0.0;
}

/* Complaint-rate breaches: complaints / sent mail in the window, with
 * the same minimum volume of final outcomes as the bounce rate. */
static void check_complaint(bw_agg_t *a, keystat_t *k, int w, int64_t at_us) {
  const bucket_t *s = &k->sum[w];
  uint64_t sent = s->final - s->bad;
  double rate = sent ? (double)s->complaints / (double)sent : 0.0;
  int over = s->final >= a->o.min_volume && s->complaints > 0 &&
             rate >= a->o.complaint_threshold;
  track_breach(k, &k->open_c[w], w, 1, over, rate, s->final, at_us);
}

/* A u64 -> u32 map: open addressing, linear probing, backward-shift
 * deletion (no tombstones); key 0 marks an empty slot. */
typedef struct {
  uint64_t key;
  uint32_t val, pad;
} mslot_t;

typedef struct {
  mslot_t *s;
  size_t mask;
} map_t;

static int map_init(map_t *m, size_t cap) {
  size_t n = 16;
  while (n < 2 * cap)
    n <<= 1;
  m->s = calloc(n, sizeof(mslot_t));
  m->mask = n - 1;
  return m->s != NULL ? 0 : -1;
}

static size_t map_find(const map_t *m, uint64_t k) {
  for (size_t i = (size_t)k & m->mask;; i = (i + 1) & m->mask) {
    if (m->s[i].key == k)
      return i;
    if (m->s[i].key == 0)
      return SIZE_MAX;
  }
}

/* Callers keep the number of keys at most cap, so a free slot exists. */
static void map_put(map_t *m, uint64_t k, uint32_t v) {
  size_t i = (size_t)k & m->mask;
  while (m->s[i].key != 0 && m->s[i].key != k)
    i = (i + 1) & m->mask;
  m->s[i].key = k;
  m->s[i].val = v;
}

static void map_del(map_t *m, size_t i) {
  for (size_t j = i;;) {
    j = (j + 1) & m->mask;
    uint64_t v = m->s[j].key;
    if (v == 0)
      break;
    size_t home = (size_t)v & m->mask;
    int move = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (move) {
      m->s[i] = m->s[j];
      i = j;
    }
  }
  memset(&m->s[i], 0, sizeof(m->s[i]));
}

/* Delete k only if it still maps to v (a newer entry may own the key). */
static void map_del_if(map_t *m, uint64_t k, uint32_t v) {
  if (k == 0)
    return;
  size_t i = map_find(m, k);
  if (i != SIZE_MAX && m->s[i].val == v)
    map_del(m, i);
}

#define JOIN_NOTIFICATION UINT32_MAX /* sender of a bounce notification */

/* A message the log showed: its Message-ID, its queue key while it is
 * in the queue, its sender domain and the recipients sent to. Entries
 * form a ring in log order: when full, the oldest is evicted. */
typedef struct {
  uint64_t mid, qkey; /* hashes; 0 = none */
  uint32_t sender;
  uint32_t rcpts; /* head of its recipients + 1, 0 none */
} jent_t;

typedef struct {
  uint64_t hash;   /* addr_hash() of the recipient */
  int64_t sent_us; /* log time of its sent outcome */
  uint32_t next;   /* + 1 */
  uint32_t rcpt_dom, prov;
  uint32_t sender;  /* the sender domain its "sent" was counted under */
  uint32_t bounced; /* turned into a bounce by a DSN already */
} jrcpt_t;

/* The tables start small and double while full, up to the caps
 * (max_joined message-ids with twice as many recipients, max_seen
 * identities): a small log costs kilobytes, not the caps' megabytes. */
#define JOIN_START 1024

struct join_s {
  jent_t *ent; /* ring: the oldest at head when full */
  size_t cap, max, head, count;
  map_t by_mid, by_qkey;
  jrcpt_t *rc;
  size_t nrc, max_rc;
  uint32_t rc_free;
  uint64_t *seen; /* ring of report identities */
  size_t seen_cap, seen_max, seen_head, seen_count;
  map_t seen_map;
  bw_agg_mail_totals_t t;
};

/* Chain rc[from..nrc) into the free list. */
static void rc_chain(join_t *j, size_t from) {
  for (size_t i = j->nrc; i > from; i--) {
    j->rc[i - 1].next = j->rc_free;
    j->rc_free = (uint32_t)i;
  }
}

/* Size the message-id ring (empty) and its maps for cap entries. */
static int ent_alloc(join_t *j, size_t cap) {
  free(j->ent);
  free(j->by_mid.s);
  free(j->by_qkey.s);
  j->ent = calloc(cap, sizeof(jent_t));
  j->cap = cap;
  return j->ent == NULL || map_init(&j->by_mid, cap) ||
                 map_init(&j->by_qkey, cap)
             ? -1
             : 0;
}

static int seen_alloc(join_t *j, size_t cap) {
  free(j->seen);
  free(j->seen_map.s);
  j->seen = calloc(cap, sizeof(uint64_t));
  j->seen_cap = cap;
  return j->seen == NULL || map_init(&j->seen_map, cap) ? -1 : 0;
}

static int rc_alloc(join_t *j, size_t n) {
  free(j->rc);
  j->rc = calloc(n, sizeof(jrcpt_t));
  j->nrc = n;
  j->rc_free = 0;
  return j->rc == NULL ? -1 : 0;
}

static size_t start_cap(size_t max) { return max < JOIN_START ? max : JOIN_START; }

static int join_new(bw_agg_t *a) {
  join_t *j = calloc(1, sizeof(*j));
  if (j == NULL)
    return -1;
  a->join = j;
  j->max = a->o.max_joined > 0 ? a->o.max_joined : 1;
  j->max_rc = 2 * j->max; /* most messages have one or two recipients */
  j->seen_max = a->o.max_seen > 0 ? a->o.max_seen : 1;
  if (ent_alloc(j, start_cap(j->max)) || seen_alloc(j, start_cap(j->seen_max)) ||
      rc_alloc(j, start_cap(j->max_rc)))
    return -1;
  rc_chain(j, 0);
  return 0;
}

/* Double the full message-id ring (below its cap): the entries move to
 * the front in age order, the maps are rebuilt. On allocation failure
 * the ring stays as it is (and the oldest is evicted). */
static int ent_grow(join_t *j) {
  size_t cap = 2 * j->cap < j->max ? 2 * j->cap : j->max;
  jent_t *old = j->ent;
  size_t ocap = j->cap, ohead = j->head, n = j->count;
  map_t om = j->by_mid, oq = j->by_qkey;
  j->ent = NULL;
  j->by_mid.s = j->by_qkey.s = NULL;
  if (ent_alloc(j, cap) != 0) {
    free(j->ent);
    free(j->by_mid.s);
    free(j->by_qkey.s);
    j->ent = old;
    j->cap = ocap;
    j->by_mid = om;
    j->by_qkey = oq;
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    jent_t *e = &j->ent[i];
    *e = old[(ohead + ocap - n + i) % ocap];
    if (e->mid != 0)
      map_put(&j->by_mid, e->mid, (uint32_t)i);
    if (e->qkey != 0 && map_find(&oq, e->qkey) != SIZE_MAX &&
        oq.s[map_find(&oq, e->qkey)].val == (ohead + ocap - n + i) % ocap)
      map_put(&j->by_qkey, e->qkey, (uint32_t)i);
  }
  j->head = n % cap;
  free(old);
  free(om.s);
  free(oq.s);
  return 0;
}

static int seen_grow(join_t *j) {
  size_t cap = 2 * j->seen_cap < j->seen_max ? 2 * j->seen_cap : j->seen_max;
  uint64_t *old = j->seen;
  map_t om = j->seen_map;
  size_t ocap = j->seen_cap, ohead = j->seen_head, n = j->seen_count;
  j->seen = NULL;
  j->seen_map.s = NULL;
  if (seen_alloc(j, cap) != 0) {
    free(j->seen);
    free(j->seen_map.s);
    j->seen = old;
    j->seen_map = om;
    j->seen_cap = ocap;
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    j->seen[i] = old[(ohead + ocap - n + i) % ocap];
    map_put(&j->seen_map, j->seen[i], (uint32_t)i);
  }
  j->seen_head = n % cap;
  free(old);
  free(om.s);
  return 0;
}

static int rc_grow(join_t *j) {
  size_t n = 2 * j->nrc < j->max_rc ? 2 * j->nrc : j->max_rc;
  jrcpt_t *nr = realloc(j->rc, n * sizeof(jrcpt_t));
  if (nr == NULL)
    return -1;
  memset(nr + j->nrc, 0, (n - j->nrc) * sizeof(jrcpt_t));
  j->rc = nr;
  size_t from = j->nrc;
  j->nrc = n;
  rc_chain(j, from);
  return 0;
}

static void join_free(join_t *j) {
  if (j == NULL)
    return;
  free(j->ent);
  free(j->rc);
  free(j->seen);
  free(j->by_mid.s);
  free(j->by_qkey.s);
  free(j->seen_map.s);
  free(j);
}

static uint64_t mid_hash(bw_span_t id) {
  while (id.len > 0 && (id.p[0] == '<' || id.p[0] == ' '))
    id.p++, id.len--;
  while (id.len > 0 && (id.p[id.len - 1] == '>' || id.p[id.len - 1] == ' '))
    id.len--;
  if (id.len == 0)
    return 0;
  uint64_t h = bw__hash_bytes(0xA4093822299F31D0ull, id.p, id.len);
  return h ? h : 1;
}

/* The same key as the message table's. */
static uint64_t qkey_of(const bw_agg_t *a, const bw_event_t *ev) {
  return msg_hash(a, ev, ev->queue_id);
}

static void jrcpt_release(join_t *j, uint32_t head) {
  while (head != 0) {
    jrcpt_t *r = &j->rc[head - 1];
    uint32_t next = r->next;
    r->next = j->rc_free;
    j->rc_free = head;
    head = next;
  }
}

/* A new entry (the oldest evicted when full), mapped by both keys. */
static jent_t *jent_add(join_t *j, uint64_t mid, uint64_t qkey) {
  if (j->count == j->cap && j->cap < j->max)
    ent_grow(j);
  uint32_t idx = (uint32_t)j->head;
  jent_t *e = &j->ent[idx];
  if (j->count == j->cap) {
    map_del_if(&j->by_mid, e->mid, idx);
    map_del_if(&j->by_qkey, e->qkey, idx);
    jrcpt_release(j, e->rcpts);
    j->t.joined_evicted++;
  } else {
    j->count++;
  }
  j->head = (j->head + 1) % j->cap;
  memset(e, 0, sizeof(*e));
  e->mid = mid;
  e->qkey = qkey;
  e->sender = UINT32_MAX - 1; /* not known yet: "unknown" */
  if (mid != 0)
    map_put(&j->by_mid, mid, idx);
  if (qkey != 0)
    map_put(&j->by_qkey, qkey, idx);
  return e;
}

static jent_t *jent_by(join_t *j, map_t *m, uint64_t k) {
  size_t i = k != 0 ? map_find(m, k) : SIZE_MAX;
  return i != SIZE_MAX ? &j->ent[m->s[i].val] : NULL;
}

/* Postfix cleanup "message-id=" opens an entry; qmgr "from=" names its
 * sender; Exim's "<=" does both (id=); "removed"/"Completed" ends the
 * queue key (Postfix recycles queue ids) while the Message-ID stays for
 * the reports that come later. slot: the message's slot for ARRIVAL. */
static void join_event(bw_agg_t *a, const bw_event_t *ev, size_t slot) {
  join_t *j = a->join;
  if (a->o.max_joined == 0)
    return;
  uint64_t qk = qkey_of(a, ev);
  if (qk == 0)
    return;
  jent_t *e;
  switch (ev->kind) {
  case BW_KIND_MESSAGE_ID:
    if (ev->message_id.len > 0)
      jent_add(j, mid_hash(ev->message_id), qk);
    return;
  case BW_KIND_ARRIVAL:
    e = ev->message_id.len > 0 ? jent_add(j, mid_hash(ev->message_id), qk)
                               : jent_by(j, &j->by_qkey, qk);
    if (e != NULL && slot != SIZE_MAX)
      e->sender = a->msgs[slot].notification ? JOIN_NOTIFICATION
                                             : a->msgs[slot].sender;
    return;
  case BW_KIND_REMOVED: {
    size_t i = map_find(&j->by_qkey, qk);
    if (i != SIZE_MAX) {
      j->ent[j->by_qkey.s[i].val].qkey = 0;
      map_del(&j->by_qkey, i);
    }
    return;
  }
  default:
    return;
  }
}

/* A recipient of a joined message was sent: remember it, so a DSN for
 * it later can turn it into a bounce. */
static void join_sent(bw_agg_t *a, const bw_event_t *ev, uint32_t rcpt_dom,
                      uint32_t sender) {
  join_t *j = a->join;
  if (a->o.max_joined == 0)
    return;
  jent_t *e = jent_by(j, &j->by_qkey, qkey_of(a, ev));
  if (e == NULL)
    return;
  if (j->rc_free == 0 && (j->nrc == j->max_rc || rc_grow(j) != 0)) {
    j->t.rcpts_untracked++;
    return;
  }
  uint32_t idx = j->rc_free;
  jrcpt_t *r = &j->rc[idx - 1];
  j->rc_free = r->next;
  r->hash = addr_hash(ev->rcpt);
  r->sent_us = ev->time_us;
  r->rcpt_dom = rcpt_dom;
  r->prov = provider_for(a, rcpt_dom, ev->relay);
  r->sender = sender;
  r->bounced = 0;
  r->next = e->rcpts;
  e->rcpts = idx;
}

int bw_agg_mail_seen(bw_agg_t *a, uint64_t id) {
  join_t *j = a->join;
  if (j == NULL || a->o.max_seen == 0)
    return 1;
  if (id == 0)
    id = 1;
  if (map_find(&j->seen_map, id) != SIZE_MAX)
    return 0;
  if (j->seen_count == j->seen_cap && j->seen_cap < j->seen_max)
    seen_grow(j);
  uint32_t idx = (uint32_t)j->seen_head;
  if (j->seen_count == j->seen_cap) {
    map_del_if(&j->seen_map, j->seen[idx], idx);
    j->t.seen_evicted++;
  } else {
    j->seen_count++;
  }
  j->seen[idx] = id;
  map_put(&j->seen_map, id, idx);
  j->seen_head = (j->seen_head + 1) % j->seen_cap;
  return 1;
}

int bw_agg_mail_known(const bw_agg_t *a, uint64_t id) {
  if (a->join == NULL || a->o.max_seen == 0)
    return 0;
  return map_find(&a->join->seen_map, id ? id : 1) != SIZE_MAX;
}

static int64_t bucket_of(const bw_agg_t *a, int64_t t_us) {
  int64_t secs = t_us >= 0 ? t_us / 1000000 : (t_us - 999999) / 1000000;
  return secs >= 0 ? secs / a->o.bucket_s
                   : (secs - a->o.bucket_s + 1) / a->o.bucket_s;
}

static void dec(uint64_t *v) {
  if (*v > 0)
    (*v)--;
}

static void top_dec(bw_agg_top_t *top, const uint32_t *ids, size_t n,
                    uint32_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id && top[i].final > 0)
      top[i].final--;
}

/* Take back the "sent" outcome of a recipient (totals, tables, its
 * window bucket while that is still in the ring, its chart point), so
 * that counting it as bounced next leaves it counted once. */
static void unsend(bw_agg_t *a, uint32_t sender, const jrcpt_t *r) {
  dec(&a->t.customer.n[BW_OUT_SENT]);
  dec(&a->rcpt.counts[r->rcpt_dom].n[BW_OUT_SENT]);
  dec(&a->prov.counts[r->prov].n[BW_OUT_SENT]);
  keystat_t *k = stat_of(a, &a->sender, sender);
  dec(&k->total.n[BW_OUT_SENT]);
  if (k->reg_set)
    dec(&a->reg.counts[k->reg_id].n[BW_OUT_SENT]);
  if (sender == a->unknown_sender)
    dec(&a->t.unknown_sender);
  if (k->ring == NULL)
    return;
  top_dec(k->top_provider, k->top_provider_id, k->ntop_provider, r->prov);
  top_dec(k->top_rcpt, k->top_rcpt_id, k->ntop_rcpt, r->rcpt_dom);
  int64_t b = bucket_of(a, r->sent_us);
  if (k->cur != INT64_MIN && b <= k->cur && b > k->cur - a->nbuckets) {
    bucket_t *slot = &k->ring[((b % a->nbuckets) + a->nbuckets) % a->nbuckets];
    if (slot->final > 0) {
      slot->final--;
      for (size_t w = 0; w < a->o.nwindows; w++)
        if (b > k->cur - a->win_len[w] && k->sum[w].final > 0)
          k->sum[w].final--;
    }
  }
  if (k->s_start != INT64_MIN && b >= k->s_start) {
    int64_t i = (b - k->s_start) / k->s_res;
    if (i < SERIES_POINTS && k->s_final[i] > 0)
      k->s_final[i]--;
  }
}

/* A complaint under `sender`, counted at t_us in its windows. */
static void complaint(bw_agg_t *a, uint32_t sender, uint32_t rcpt_dom,
                      uint32_t prov, int64_t t_us) {
  a->t.customer.n[BW_OUT_COMPLAINTS]++;
  if (rcpt_dom != UINT32_MAX)
    a->rcpt.counts[rcpt_dom].n[BW_OUT_COMPLAINTS]++;
  if (prov != UINT32_MAX)
    a->prov.counts[prov].n[BW_OUT_COMPLAINTS]++;
  keystat_t *k = stat_of(a, &a->sender, sender);
  k->total.n[BW_OUT_COMPLAINTS]++;
  if (k->reg_set)
    a->reg.counts[k->reg_id].n[BW_OUT_COMPLAINTS]++;
  if (k->ring == NULL)
    return;
  int64_t b = bucket_of(a, t_us);
  advance(a, k, b);
  if (b <= k->cur - a->nbuckets || b > k->cur)
    return; /* older than every window */
  k->ring[((b % a->nbuckets) + a->nbuckets) % a->nbuckets].complaints++;
  for (size_t w = 0; w < a->o.nwindows; w++) {
    if (b <= k->cur - a->win_len[w])
      continue;
    k->sum[w].complaints++;
    check_complaint(a, k, (int)w, t_us);
  }
}

static jrcpt_t *jrcpt_find(join_t *j, const jent_t *e, uint64_t h) {
  for (uint32_t i = e->rcpts; i != 0; i = j->rc[i - 1].next)
    if (j->rc[i - 1].hash == h)
      return &j->rc[i - 1];
  return NULL;
}

bw_agg_mail_result_t bw_agg_add_mail(bw_agg_t *a, const bw_agg_mail_t *m,
                                     const char **sender_name) {
  join_t *j = a->join;
  jent_t *e = j != NULL ? jent_by(j, &j->by_mid, mid_hash(m->message_id))
                        : NULL;
  if (e != NULL && e->sender == JOIN_NOTIFICATION) {
    /* A report about our own bounce notification: not the customer's
     * mail, counted apart as the notifications are. */
    if (m->kind == BW_MAIL_COMPLAINT)
      a->t.notifications.n[BW_OUT_COMPLAINTS]++;
    if (sender_name != NULL)
      *sender_name = NULL;
    return BW_MAIL_NOTIFICATION;
  }
  uint32_t sender = e != NULL && e->sender < a->sender.names.n
                        ? e->sender
                        : a->unknown_sender;
  jrcpt_t *r = NULL;
  if (e != NULL && m->rcpt.len > 0)
    r = jrcpt_find(j, e, addr_hash(m->rcpt));
  if (e != NULL && r == NULL && m->orig_rcpt.len > 0)
    r = jrcpt_find(j, e, addr_hash(m->orig_rcpt));
  bw_agg_mail_result_t res;
  /* Never later than the log: a report's clock is not ours, and one
   * bogus future Date must not carry every window past the log's end.
   * (Nor does a report move the log's time span.) */
  int64_t t_us = m->time_us;
  if (a->t.last_us != INT64_MIN && t_us > a->t.last_us)
    t_us = a->t.last_us;

  if (m->kind == BW_MAIL_FAILED) {
    if (r == NULL) {
      res = BW_MAIL_NOT_SENT;
    } else if (r->bounced) {
      res = BW_MAIL_ALREADY;
    } else {
      /* Under the sender its delivery was counted under, so the two
       * changes meet in the same tables. */
      sender = r->sender;
      r->bounced = 1;
      unsend(a, sender, r);
      int hard = m->verdict != NULL && m->verdict->hard;
      outcome_prov(a, sender, r->rcpt_dom, r->prov, BW_OUT_BOUNCED, m->verdict,
                   hard, t_us);
      res = BW_MAIL_BOUNCED;
    }
    if (j != NULL)
      (*(res == BW_MAIL_BOUNCED   ? &j->t.async_bounced
         : res == BW_MAIL_ALREADY ? &j->t.async_already
                                  : &j->t.async_not_sent))++;
  } else {
    res = BW_MAIL_JOINED_MID;
    if (e == NULL) {
      sender = a->unknown_sender;
      res = BW_MAIL_UNKNOWN;
      if (domain_of(m->fallback).len > 0) {
        sender = sender_id(a, m->fallback);
        if (sender != a->unknown_sender)
          res = BW_MAIL_JOINED_DOMAIN;
      }
    }
    /* Where the complaint came from: the recipient's provider (as its
     * delivery was counted, when joined), else the reporter's. */
    uint32_t rd = UINT32_MAX, prov = UINT32_MAX;
    if (r != NULL) {
      rd = r->rcpt_dom;
      prov = r->prov;
    } else if (domain_of(m->rcpt).len > 0) {
      rd = rcpt_domain(a, m->rcpt);
      prov = provider_for(a, rd, (bw_span_t){NULL, 0});
    } else if (m->reporter.len > 0) {
      bw_span_t h = domain_of(m->reporter);
      if (h.len == 0)
        h = m->reporter;
      prov = provider_of_host(a, h.p, h.len);
      if (prov == UINT32_MAX)
        prov = bw__intern(&a->prov.names, "other", 5, 0);
    }
    complaint(a, sender, rd, prov, t_us);
    if (j != NULL)
      (*(res == BW_MAIL_JOINED_MID      ? &j->t.complaints_mid
         : res == BW_MAIL_JOINED_DOMAIN ? &j->t.complaints_domain
                                        : &j->t.complaints_unknown))++;
  }
  if (sender_name != NULL)
    *sender_name = a->sender.names.names[sender];
  return res;
}

void bw_agg_mail_totals(const bw_agg_t *a, bw_agg_mail_totals_t *t) {
  memset(t, 0, sizeof(*t));
  if (a->join == NULL)
    return;
  *t = a->join->t;
  t->joined = a->join->count;
  t->seen = a->join->seen_count;
}

/* The join in the state file, after the rest: its shape (caps), then
 * the arrays as they are. */
static void join_save(const bw_agg_t *a, void *sio) {
  bw__sio_t *s = sio;
  const join_t *j = a->join;
  uint64_t hdr[8] = {0};
  if (j != NULL) {
    hdr[0] = j->cap;
    hdr[1] = j->nrc;
    hdr[2] = j->seen_cap;
    hdr[3] = j->head;
    hdr[4] = j->count;
    hdr[5] = j->rc_free;
    hdr[6] = j->seen_head;
    hdr[7] = j->seen_count;
  }
  bw__sio_put(s, hdr, sizeof(hdr));
  if (j == NULL)
    return;
  bw__sio_put(s, &j->t, sizeof(j->t));
  bw__sio_put(s, j->ent, j->cap * sizeof(jent_t));
  bw__sio_put(s, j->rc, j->nrc * sizeof(jrcpt_t));
  bw__sio_put(s, j->seen, j->seen_cap * sizeof(uint64_t));
  bw__sio_put(s, j->by_mid.s, (j->by_mid.mask + 1) * sizeof(mslot_t));
  bw__sio_put(s, j->by_qkey.s, (j->by_qkey.mask + 1) * sizeof(mslot_t));
  bw__sio_put(s, j->seen_map.s, (j->seen_map.mask + 1) * sizeof(mslot_t));
}

static int join_restore(bw_agg_t *a, void *sio) {
  bw__sio_t *s = sio;
  join_t *j = a->join;
  uint64_t hdr[8];
  bw__sio_get(s, hdr, sizeof(hdr));
  if (s->bad)
    return -1;
  if (j == NULL)
    return hdr[0] == 0 ? 0 : -1; /* saved with the join, restored without */
  /* The sizes the tables had grown to, within this aggregator's caps. */
  if (hdr[0] == 0 || hdr[0] > j->max || hdr[1] == 0 || hdr[1] > j->max_rc ||
      hdr[2] == 0 || hdr[2] > j->seen_max || hdr[3] >= hdr[0] ||
      hdr[4] > hdr[0] || hdr[5] > hdr[1] || hdr[6] >= hdr[2] || hdr[7] > hdr[2])
    return -1;
  if (ent_alloc(j, hdr[0]) || rc_alloc(j, hdr[1]) || seen_alloc(j, hdr[2]))
    return -1;
  j->head = hdr[3];
  j->count = hdr[4];
  j->rc_free = (uint32_t)hdr[5];
  j->seen_head = hdr[6];
  j->seen_count = hdr[7];
  bw__sio_get(s, &j->t, sizeof(j->t));
  bw__sio_get(s, j->ent, j->cap * sizeof(jent_t));
  bw__sio_get(s, j->rc, j->nrc * sizeof(jrcpt_t));
  bw__sio_get(s, j->seen, j->seen_cap * sizeof(uint64_t));
  bw__sio_get(s, j->by_mid.s, (j->by_mid.mask + 1) * sizeof(mslot_t));
  bw__sio_get(s, j->by_qkey.s, (j->by_qkey.mask + 1) * sizeof(mslot_t));
  bw__sio_get(s, j->seen_map.s, (j->seen_map.mask + 1) * sizeof(mslot_t));
  if (s->bad)
    return -1;
  /* Indexes read back must point inside the arrays. */
  for (size_t i = 0; i < j->cap; i++)
    if (j->ent[i].rcpts > j->nrc)
      return -1;
  for (size_t i = 0; i < j->nrc; i++)
    if (j->rc[i].next > j->nrc || j->rc[i].rcpt_dom >= a->rcpt.names.cap + 2 ||
        j->rc[i].prov >= a->prov.names.cap + 2 ||
        j->rc[i].sender >= a->sender.names.cap + 2)
      return -1;
  const map_t *ms[3] = {&j->by_mid, &j->by_qkey, &j->seen_map};
  size_t lim[3] = {j->cap, j->cap, j->seen_cap};
  for (int k = 0; k < 3; k++)
    for (size_t i = 0; i <= ms[k]->mask; i++)
      if (ms[k]->s[i].key != 0 && ms[k]->s[i].val >= lim[k])
        return -1;
  return 0;
}
