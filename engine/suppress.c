/* The suppression list (include/bouncewatch/suppress.h): a bounded
 * table of recipient addresses with their failures, the hard and N-in-M
 * soft rules, expiry in log time, and the state-file section. The
 * export formats are in out_suppress.c; the join that names the sender
 * domain is agg.c's. */
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "bouncewatch/suppress.h"
#include "hash.h"
#include "sio.h"

#define DAY_S 86400
#define US 1000000ll
/* Entries looked at for a candidate to evict before taking any. */
#define EVICT_PROBES 64

typedef struct {
  uint64_t hash;     /* of the lower-cased address; 0 = free entry */
  char *addr;        /* lower-cased, owned */
  char *sender;      /* owned; NULL unknown */
  char *text;        /* owned, text_len bytes (not NUL-terminated) */
  uint32_t text_len;
  uint32_t failures;
  int64_t first_us, last_us, since_us, expires_us; /* expires 0: candidate */
  /* The soft rule: the times of the last soft_count soft failures, each
   * from a different message (a message deferred ten times is one). */
  int64_t soft_t[BW_SUPPRESS_MAX_SOFT];
  uint64_t last_msg; /* hash of the message of the last soft failure */
  uint8_t nsoft, soft_head, reason, hard;
  char dsn[16];
} entry_t;

struct bw_suppress_s {
  bw_suppress_opts_t o;
  entry_t *e;       /* max_entries */
  uint32_t *slots;  /* entry index + 1, open addressing, linear probing */
  size_t mask;      /* slots - 1 */
  size_t n, hand;
  /* Entries ever used are below hi: the free list hands out the lowest
   * first, so loops over the table never touch (fault in) the rest of a
   * big, mostly empty allocation. */
  size_t hi;
  uint32_t free_head;  /* first free entry + 1, 0 = full */
  uint32_t *free_next; /* by entry: next free entry + 1 */
  int64_t next_sweep_us;
  bw_suppress_stats_t st;
};

static const char *const DEFAULT_HARD = "userunknown,hostunknown,hasmoved";
static const char *const DEFAULT_SOFT = "mailboxfull,suspend,exceedlimit";

int bw_suppress_reasons(const char *s, uint64_t *out, const char **bad) {
  uint64_t set = 0;
  const char *p = s;
  if (strcmp(s, "none") == 0) {
    *out = 0;
    return 0;
  }
  while (*p != '\0') {
    while (*p == ',' || *p == ' ')
      p++;
    const char *q = p;
    while (*q != '\0' && *q != ',' && *q != ' ')
      q++;
    if (q > p) {
      bw_reason_t r = bw_reason_from_name(p, (size_t)(q - p));
      if (r == BW_REASON__COUNT) {
        if (bad != NULL)
          *bad = p;
        return BW_EINVAL;
      }
      set |= 1ull << r;
    }
    p = q;
  }
  *out = set;
  return 0;
}

void bw_suppress_opts_default(bw_suppress_opts_t *o) {
  memset(o, 0, sizeof(*o));
  bw_suppress_reasons(DEFAULT_HARD, &o->hard_reasons, NULL);
  bw_suppress_reasons(DEFAULT_SOFT, &o->soft_reasons, NULL);
  o->ttl_s = 7 * DAY_S; /* what ESPs keep a hard bounce for by default */
  o->soft_count = 3;
  o->soft_window_s = 7 * DAY_S;
  o->max_entries = 100000;
}

int bw_suppress_format_from_name(const char *s) {
  if (strcmp(s, "postfix") == 0)
    return BW_SUPPRESS_POSTFIX;
  if (strcmp(s, "csv") == 0)
    return BW_SUPPRESS_CSV;
  if (strcmp(s, "json") == 0)
    return BW_SUPPRESS_JSON;
  return -1;
}

int bw_suppress_new(const bw_suppress_opts_t *opts, bw_suppress_t **out) {
  bw_suppress_t *s = calloc(1, sizeof(*s));
  *out = NULL;
  if (s == NULL)
    return BW_ENOMEM;
  if (opts != NULL)
    s->o = *opts;
  else
    bw_suppress_opts_default(&s->o);
  if (s->o.max_entries == 0 || s->o.max_entries > (1u << 26) ||
      s->o.soft_count == 0 || s->o.soft_count > BW_SUPPRESS_MAX_SOFT ||
      s->o.ttl_s <= 0 || s->o.soft_window_s <= 0) {
    free(s);
    return BW_EINVAL;
  }
  size_t nslots = 16;
  while (nslots < 2 * s->o.max_entries)
    nslots *= 2;
  s->mask = nslots - 1;
  s->e = calloc(s->o.max_entries, sizeof(entry_t));
  s->slots = calloc(nslots, sizeof(uint32_t));
  s->free_next = calloc(s->o.max_entries, sizeof(uint32_t));
  if (s->e == NULL || s->slots == NULL || s->free_next == NULL)
    goto fail;
  /* Free list: every entry, in order (free_next holds index + 1). */
  for (size_t i = 0; i < s->o.max_entries; i++)
    s->free_next[i] = i + 1 < s->o.max_entries ? (uint32_t)(i + 2) : 0;
  s->free_head = 1;
  s->st.now_us = INT64_MIN;
  *out = s;
  return 0;
fail:
  bw_suppress_free(s);
  return BW_ENOMEM;
}

static void entry_clear(entry_t *e) {
  free(e->addr);
  free(e->sender);
  free(e->text);
  memset(e, 0, sizeof(*e));
}

void bw_suppress_free(bw_suppress_t *s) {
  if (s == NULL)
    return;
  if (s->e != NULL)
    for (size_t i = 0; i < s->hi; i++)
      entry_clear(&s->e[i]);
  free(s->e);
  free(s->slots);
  free(s->free_next);
  free(s);
}

/* ---- the table ----------------------------------------------------------- */

static uint64_t addr_hash(const char *low, size_t n) {
  uint64_t h = bw__hash_bytes(0xA4093822299F31D0ull, low, n);
  return h == 0 ? 1 : h; /* 0 marks a free entry */
}

/* Slot holding the entry of (hash, addr), or the empty slot where it
 * would go. */
static size_t slot_of(const bw_suppress_t *s, uint64_t h, const char *addr) {
  for (size_t i = (size_t)h & s->mask;; i = (i + 1) & s->mask) {
    uint32_t v = s->slots[i];
    if (v == 0)
      return i;
    const entry_t *e = &s->e[v - 1];
    if (e->hash == h && strcmp(e->addr, addr) == 0)
      return i;
  }
}

static void slot_delete(bw_suppress_t *s, size_t i) {
  /* Backward-shift deletion: no tombstones, probes stay short. */
  for (size_t j = i;;) {
    j = (j + 1) & s->mask;
    uint32_t v = s->slots[j];
    if (v == 0)
      break;
    size_t home = (size_t)s->e[v - 1].hash & s->mask;
    int move = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (move) {
      s->slots[i] = v;
      i = j;
    }
  }
  s->slots[i] = 0;
}

static int is_active(const bw_suppress_t *s, const entry_t *e) {
  return e->expires_us != 0 && e->expires_us > s->st.now_us;
}

/* An entry still worth keeping: suppressed and not expired, or a
 * candidate whose last soft failure is inside the soft window. */
static int is_live(const bw_suppress_t *s, const entry_t *e) {
  if (e->expires_us != 0)
    return is_active(s, e);
  return e->last_us + s->o.soft_window_s * US > s->st.now_us;
}

static void entry_remove(bw_suppress_t *s, entry_t *e) {
  size_t i = slot_of(s, e->hash, e->addr);
  if (s->slots[i] != 0)
    slot_delete(s, i);
  entry_clear(e);
  uint32_t idx = (uint32_t)(e - s->e);
  s->free_next[idx] = s->free_head;
  s->free_head = idx + 1;
  s->n--;
}

/* Drop every entry that ran out (expired suppressions, stale
 * candidates). Costs a pass over the table, so it runs only when the
 * table is full and not again before log time reaches the earliest end
 * it saw: a full table of live entries does not rescan per insert. */
static void sweep(bw_suppress_t *s) {
  int64_t soonest = INT64_MAX;
  for (size_t i = 0; i < s->hi; i++) {
    entry_t *e = &s->e[i];
    if (e->hash == 0)
      continue;
    if (!is_live(s, e)) {
      if (e->expires_us != 0)
        s->st.expired++;
      entry_remove(s, e);
      continue;
    }
    int64_t end = e->expires_us != 0 ? e->expires_us
                                     : e->last_us + s->o.soft_window_s * US;
    if (end < soonest)
      soonest = end;
  }
  s->next_sweep_us = soonest;
}

/* A free entry, evicting one when the table is full: first whatever ran
 * out, then a candidate near the clock hand, else the suppressed entry
 * under it (counted apart: the list lost an address). */
static entry_t *entry_alloc(bw_suppress_t *s) {
  if (s->free_head == 0 && s->st.now_us >= s->next_sweep_us)
    sweep(s);
  if (s->free_head == 0) {
    size_t max = s->o.max_entries;
    entry_t *victim = NULL;
    /* Full: every entry below max is in use (hi == max). */
    for (size_t k = 0; k < EVICT_PROBES && k < max; k++) {
      entry_t *e = &s->e[(s->hand + k) % max];
      if (e->expires_us == 0) {
        victim = e;
        break;
      }
    }
    if (victim == NULL) {
      victim = &s->e[s->hand % max];
      if (is_active(s, victim))
        s->st.evicted_active++;
    }
    s->hand = ((size_t)(victim - s->e) + 1) % max;
    s->st.evicted++;
    entry_remove(s, victim);
  }
  uint32_t idx = s->free_head - 1;
  s->free_head = s->free_next[idx];
  s->n++;
  if (idx >= s->hi)
    s->hi = (size_t)idx + 1;
  return &s->e[idx];
}

/* ---- events ---------------------------------------------------------------- */

static int has_reason(uint64_t set, bw_reason_t r) {
  return (unsigned)r < 64 && (set >> r) & 1;
}

static char *dup_bytes(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

/* Record the evidence of this failure (the latest wins). */
static void evidence(entry_t *e, const bw_event_t *ev, const bw_verdict_t *v,
                     const char *sender) {
  e->failures++;
  if (e->first_us == 0 || ev->time_us < e->first_us)
    e->first_us = ev->time_us;
  if (ev->time_us > e->last_us)
    e->last_us = ev->time_us;
  e->reason = (uint8_t)v->reason;
  bw_span_t code = ev->reply_dsn.len ? ev->reply_dsn : ev->dsn;
  if (v->code[0] != '\0')
    snprintf(e->dsn, sizeof(e->dsn), "%s", v->code);
  else
    snprintf(e->dsn, sizeof(e->dsn), "%.*s",
             (int)(code.len < sizeof(e->dsn) ? code.len : 0),
             code.len ? code.p : "");
  size_t tl = ev->text.len < BW_SUPPRESS_MAX_TEXT ? ev->text.len
                                                  : BW_SUPPRESS_MAX_TEXT;
  char *t = tl ? dup_bytes(ev->text.p, tl) : NULL;
  if (tl == 0 || t != NULL) {
    free(e->text);
    e->text = t;
    e->text_len = (uint32_t)tl;
  }
  if (sender == NULL || e->sender == NULL || strcmp(sender, e->sender) != 0) {
    char *d = sender != NULL ? dup_bytes(sender, strlen(sender)) : NULL;
    if (sender == NULL || d != NULL) {
      free(e->sender);
      e->sender = d;
    }
  }
}

/* Absent spans have p == NULL, which memcpy() must not see even for 0
 * bytes (UB; fuzz_suppress found it on an Exim line, which has no
 * instance). */
static uint64_t message_hash(const bw_event_t *ev) {
  bw_span_t in = ev->instance, q = ev->queue_id;
  uint64_t h = bw__hash_bytes(0x082EFA98EC4E6C89ull, in.len ? in.p : "",
                              in.len);
  return bw__hash_bytes(h, q.len ? q.p : "", q.len);
}

void bw_suppress_add(bw_suppress_t *s, const bw_event_t *ev,
                     const bw_verdict_t *v, const char *sender_domain) {
  if (ev->kind != BW_KIND_DELIVERY)
    return;
  int sent = ev->status == BW_STATUS_SENT;
  int final_fail =
      ev->status == BW_STATUS_BOUNCED || ev->status == BW_STATUS_EXPIRED;
  int fail = bw_event_failed(ev);
  if (!sent && !(fail && v != NULL))
    return;
  if (ev->time_us > s->st.now_us)
    s->st.now_us = ev->time_us;
  int hard_reason = fail && has_reason(s->o.hard_reasons, v->reason);
  int soft_reason = fail && has_reason(s->o.soft_reasons, v->reason);
  /* Only what can change the list needs the address. */
  if (fail && !hard_reason && !soft_reason)
    return;
  if (ev->rcpt.len == 0 || ev->rcpt.len > BW_SUPPRESS_MAX_ADDR) {
    if (fail)
      s->st.skipped_addr++;
    return;
  }
  char low[BW_SUPPRESS_MAX_ADDR + 1];
  for (uint32_t i = 0; i < ev->rcpt.len; i++) {
    char c = ev->rcpt.p[i];
    low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  low[ev->rcpt.len] = '\0';
  if (strlen(low) != ev->rcpt.len) { /* a NUL inside: no such address */
    if (fail)
      s->st.skipped_addr++;
    return;
  }
  uint64_t h = addr_hash(low, ev->rcpt.len);
  size_t slot = slot_of(s, h, low);
  entry_t *e = s->slots[slot] ? &s->e[s->slots[slot] - 1] : NULL;

  if (sent) {
    /* A delivery proves the mailbox works now: off the list, unless the
     * failure we hold is later (files read out of order). */
    if (e != NULL && ev->time_us >= e->last_us) {
      if (is_active(s, e))
        s->st.cleared_by_sent++;
      entry_remove(s, e);
    }
    return;
  }
  if (e == NULL) {
    e = entry_alloc(s);
    e->addr = dup_bytes(low, ev->rcpt.len);
    if (e->addr == NULL) {
      /* Give the entry back: it was never in a slot. */
      uint32_t idx = (uint32_t)(e - s->e);
      s->free_next[idx] = s->free_head;
      s->free_head = idx + 1;
      s->n--;
      return;
    }
    e->hash = h;
    /* alloc may have moved slots (evictions): look the place up again. */
    s->slots[slot_of(s, h, low)] = (uint32_t)(e - s->e) + 1;
  } else if (e->expires_us != 0 && !is_active(s, e)) {
    /* Ran out: starts over as a new candidate with its history. */
    s->st.expired++;
    e->expires_us = 0;
    e->since_us = 0;
    e->nsoft = 0;
    e->hard = 0;
  }
  evidence(e, ev, v, sender_domain);
  int64_t t = ev->time_us;
  if (final_fail && hard_reason) {
    if (e->expires_us == 0) {
      e->since_us = t;
      s->st.suppressed_hard++;
    }
    e->hard = 1;
    if (t + s->o.ttl_s * US > e->expires_us)
      e->expires_us = t + s->o.ttl_s * US;
    return;
  }
  /* A soft failure: counted once per message. */
  uint64_t mh = message_hash(ev);
  if (ev->queue_id.len != 0 && e->nsoft > 0 && mh == e->last_msg)
    return;
  e->last_msg = mh;
  unsigned n = s->o.soft_count;
  e->soft_t[e->soft_head] = t;
  e->soft_head = (uint8_t)((e->soft_head + 1) % n);
  if (e->nsoft < n)
    e->nsoft++;
  /* N failures inside M days: the oldest of the last N is within M of
   * this one (the ring's next slot holds the oldest once it is full). */
  if (e->nsoft == n && t - e->soft_t[e->soft_head] <= s->o.soft_window_s * US) {
    if (e->expires_us == 0) {
      e->since_us = t;
      s->st.suppressed_soft++;
    }
    if (t + s->o.ttl_s * US > e->expires_us)
      e->expires_us = t + s->o.ttl_s * US;
  }
}

/* ---- reading it back ------------------------------------------------------- */

static int cmp_entry(const void *x, const void *y) {
  return strcmp(((const bw_suppress_entry_t *)x)->addr,
                ((const bw_suppress_entry_t *)y)->addr);
}

size_t bw_suppress_list(bw_suppress_t *s, bw_suppress_entry_t **out) {
  *out = NULL;
  size_t n = 0;
  for (size_t i = 0; i < s->hi; i++)
    n += s->e[i].hash != 0 && is_active(s, &s->e[i]);
  if (n == 0)
    return 0;
  bw_suppress_entry_t *v = calloc(n, sizeof(*v));
  if (v == NULL)
    return 0;
  size_t k = 0;
  for (size_t i = 0; i < s->hi; i++) {
    const entry_t *e = &s->e[i];
    if (e->hash == 0 || !is_active(s, e))
      continue;
    bw_suppress_entry_t *o = &v[k++];
    o->addr = e->addr;
    o->sender_domain = e->sender;
    o->text = e->text != NULL ? e->text : "";
    o->text_len = e->text_len;
    memcpy(o->dsn, e->dsn, sizeof(o->dsn));
    o->reason = (bw_reason_t)e->reason;
    o->hard = e->hard;
    o->failures = e->failures;
    o->first_us = e->first_us;
    o->last_us = e->last_us;
    o->since_us = e->since_us;
    o->expires_us = e->expires_us;
  }
  qsort(v, n, sizeof(*v), cmp_entry);
  *out = v;
  return n;
}

void bw_suppress_stats(const bw_suppress_t *s, bw_suppress_stats_t *st) {
  *st = s->st;
  st->tracked = s->n;
  st->active = 0;
  for (size_t i = 0; i < s->hi; i++)
    st->active += s->e[i].hash != 0 && is_active(s, &s->e[i]);
}

/* ---- the state-file section ------------------------------------------------ */

/* The checked stream of sio.h. */

static void sput_str(bw__sio_t *s, const char *p, uint32_t n) {
  uint32_t len = p == NULL ? UINT32_MAX : n;
  bw__sio_put(s, &len, sizeof(len));
  if (p != NULL)
    bw__sio_put(s, p, n);
}

/* A string of at most max bytes; *out NULL for an absent one. */
static int sget_str(bw__sio_t *s, char **out, uint32_t *outlen, uint32_t max) {
  uint32_t len = 0;
  *out = NULL;
  bw__sio_get(s, &len, sizeof(len));
  if (s->bad)
    return -1;
  if (len == UINT32_MAX)
    return 0;
  if (len > max || (*out = malloc((size_t)len + 1)) == NULL)
    return -1;
  bw__sio_get(s, *out, len);
  (*out)[len] = '\0';
  if (outlen != NULL)
    *outlen = len;
  return s->bad ? -1 : 0;
}

#define SUPPRESS_MAGIC "BWSUPST1"

/* Per entry: the fixed fields, then address, sender and text. */
typedef struct {
  uint64_t last_msg;
  int64_t first_us, last_us, since_us, expires_us;
  int64_t soft_t[BW_SUPPRESS_MAX_SOFT];
  uint32_t failures;
  uint8_t nsoft, soft_head, reason, hard;
  char dsn[16];
} rec_t;

int bw_suppress_save(const bw_suppress_t *s, FILE *f) {
  bw__sio_t io = {f, 0x452821E638D01377ull, 0};
  uint64_t hdr[3] = {s->n, sizeof(rec_t), BW_REASON__COUNT};
  bw__sio_put(&io, SUPPRESS_MAGIC, 8);
  bw__sio_put(&io, hdr, sizeof(hdr));
  bw__sio_put(&io, &s->st, sizeof(s->st));
  for (size_t i = 0; i < s->hi; i++) {
    const entry_t *e = &s->e[i];
    if (e->hash == 0)
      continue;
    rec_t r;
    memset(&r, 0, sizeof(r)); /* padding too: it goes into the checksum */
    r.last_msg = e->last_msg;
    r.first_us = e->first_us;
    r.last_us = e->last_us;
    r.since_us = e->since_us;
    r.expires_us = e->expires_us;
    memcpy(r.soft_t, e->soft_t, sizeof(r.soft_t));
    r.failures = e->failures;
    r.nsoft = e->nsoft;
    r.soft_head = e->soft_head;
    r.reason = e->reason;
    r.hard = e->hard;
    memcpy(r.dsn, e->dsn, sizeof(r.dsn));
    bw__sio_put(&io, &r, sizeof(r));
    sput_str(&io, e->addr, (uint32_t)strlen(e->addr));
    sput_str(&io, e->sender, e->sender ? (uint32_t)strlen(e->sender) : 0);
    sput_str(&io, e->text, e->text_len);
  }
  uint64_t check = io.h;
  if (!io.bad && fwrite(&check, sizeof(check), 1, f) != 1)
    io.bad = 1;
  return io.bad ? BW_EIO : 0;
}

static void reset(bw_suppress_t *s) {
  for (size_t i = 0; i < s->hi; i++)
    entry_clear(&s->e[i]);
  memset(s->slots, 0, (s->mask + 1) * sizeof(uint32_t));
  for (size_t i = 0; i < s->o.max_entries; i++)
    s->free_next[i] = i + 1 < s->o.max_entries ? (uint32_t)(i + 2) : 0;
  s->free_head = 1;
  s->n = 0;
  s->hi = 0;
  s->hand = 0;
  s->next_sweep_us = 0;
  memset(&s->st, 0, sizeof(s->st));
  s->st.now_us = INT64_MIN;
}

int bw_suppress_restore(bw_suppress_t *s, FILE *f) {
  bw__sio_t io = {f, 0x452821E638D01377ull, 0};
  char magic[8];
  uint64_t hdr[3];
  reset(s);
  bw__sio_get(&io, magic, 8);
  bw__sio_get(&io, hdr, sizeof(hdr));
  if (io.bad || memcmp(magic, SUPPRESS_MAGIC, 8) != 0 ||
      hdr[1] != sizeof(rec_t) || hdr[2] != BW_REASON__COUNT)
    goto fail;
  /* A state from a run with a bigger table keeps what fits, the rest is
   * counted as evicted (like at run time), rather than losing it all. */
  bw__sio_get(&io, &s->st, sizeof(s->st));
  for (uint64_t i = 0; i < hdr[0] && !io.bad; i++) {
    rec_t r;
    char *addr = NULL, *sender = NULL, *text = NULL;
    uint32_t alen = 0, tlen = 0;
    bw__sio_get(&io, &r, sizeof(r));
    int ok = !io.bad && sget_str(&io, &addr, &alen, BW_SUPPRESS_MAX_ADDR) == 0 &&
             addr != NULL && alen > 0 &&
             sget_str(&io, &sender, NULL, 1024) == 0 &&
             sget_str(&io, &text, &tlen, BW_SUPPRESS_MAX_TEXT) == 0 &&
             r.nsoft <= BW_SUPPRESS_MAX_SOFT && r.soft_head < BW_SUPPRESS_MAX_SOFT &&
             r.reason < BW_REASON__COUNT && strlen(addr) == alen;
    uint64_t h = ok ? addr_hash(addr, alen) : 0;
    if (ok && s->slots[slot_of(s, h, addr)] != 0)
      ok = 0; /* a duplicate: not something save() writes */
    if (!ok) {
      free(addr);
      free(sender);
      free(text);
      goto fail;
    }
    entry_t *e = entry_alloc(s);
    e->hash = h;
    e->addr = addr;
    e->sender = sender;
    e->text = text;
    e->text_len = tlen;
    e->last_msg = r.last_msg;
    e->first_us = r.first_us;
    e->last_us = r.last_us;
    e->since_us = r.since_us;
    e->expires_us = r.expires_us;
    memcpy(e->soft_t, r.soft_t, sizeof(e->soft_t));
    e->failures = r.failures;
    /* The soft ring is only as long as this run's soft_count. */
    e->nsoft = r.nsoft > s->o.soft_count ? (uint8_t)s->o.soft_count : r.nsoft;
    e->soft_head = (uint8_t)(r.soft_head % s->o.soft_count);
    e->reason = r.reason;
    e->hard = r.hard;
    memcpy(e->dsn, r.dsn, sizeof(e->dsn));
    e->dsn[sizeof(e->dsn) - 1] = '\0';
    s->slots[slot_of(s, h, addr)] = (uint32_t)(e - s->e) + 1;
  }
  uint64_t check = 0;
  uint64_t want = io.h;
  int got = fread(&check, sizeof(check), 1, f) == 1;
  int sum_ok = got && check == want;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  sum_ok = got; /* the fuzzer cannot forge the checksum: test what is behind */
#endif
  if (io.bad || !sum_ok)
    goto fail;
  return 0;
fail:
  reset(s);
  return BW_EPARSE;
}
