/* The decision: one Hyperscan scan of the diagnostic, then the order and
 * precedence of patterns/reasons.tsv applied to the rules that matched
 * and whose conditions (stage, class, code, reply, relay) hold.
 * Procedure (also in patterns/README.md):
 *   1. a provider rule (relay=) that matched decides;
 *   2. pass 1, in rank order: a reason decides if one of its rules matched,
 *      or if the status-code table names it and no reason of its veto
 *      list matched;
 *   3. pass 2, in rank order: a reason decides if one of its rules matched;
 *   4. rules of reasons in neither pass (lowest id); the status-code
 *      table; X.6.x contenterror, X.7.x securityerror; reply 500-504
 *      syntaxerror; stage HELO blocked; onhold for a text, undefined for
 *      none. Rules without an expression apply on their conditions. */
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "fmt.h"
#include "hash.h"
#include "rules.h"

#define MAX_MATCHED 256

/* Verdicts of recent inputs, direct-mapped by a 64-bit hash of the whole
 * input (text, code, reply, stage, relay). Logs repeat diagnostics a lot
 * (every retry of a deferral, every message to a dead host), and a hit
 * costs a hash instead of a Hyperscan scan (~1.5 us on the shipped rules,
 * measured in bench/). Only the hash is compared: two different inputs
 * with the same 64-bit hash would share a verdict (odds ~2^-64 a pair;
 * the hash is not keyed, so crafted collisions are possible in theory). */
#define VCACHE_SLOTS 4096

struct bw_classifier_s {
  const bw_rules_t *r;
  hs_scratch_t *scratch;
  int cur_db;
  int gate; /* a case-sensitive rule may match: scan BW_DB_CASE too */
  unsigned matched[MAX_MATCHED];
  unsigned nmatched;
  /* The keys apart from the verdicts: three lookups in four miss, and
   * then only the 32 KiB of keys are touched, not a verdict's cache
   * line (perf: the key compare was half of bw_classify's time, a
   * Hyperscan scan having pushed the cache out of L2). */
  uint64_t *keys; /* 0 = empty */
  bw_verdict_t *verdicts;
  uint64_t hits, lookups;
  /* Rules reported in this scan: seen[rule] == gen. The databases are
   * compiled without HS_FLAG_SINGLEMATCH (it made scans ~15 % slower,
   * bench/), so repeats are dropped here. */
  uint32_t *seen;
  uint32_t gen;
};

int bw_classifier_new(const bw_rules_t *r, bw_classifier_t **out) {
  bw_classifier_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return BW_ENOMEM;
  c->r = r;
  c->keys = calloc(VCACHE_SLOTS, sizeof(*c->keys));
  c->verdicts = calloc(VCACHE_SLOTS, sizeof(*c->verdicts));
  c->seen = calloc(r->nrules + 1, sizeof(*c->seen));
  if (c->keys == NULL || c->verdicts == NULL || c->seen == NULL) {
    bw_classifier_free(c);
    return BW_ENOMEM;
  }
  /* One scratch sized for every database (hs_alloc_scratch grows it). */
  for (int d = 0; d < BW_DB__COUNT; d++)
    if (r->db[d] != NULL && hs_alloc_scratch(r->db[d], &c->scratch) != HS_SUCCESS) {
      bw_classifier_free(c);
      return BW_ENOMEM;
    }
  *out = c;
  return 0;
}

void bw_classifier_free(bw_classifier_t *c) {
  if (c == NULL)
    return;
  hs_free_scratch(c->scratch);
  free(c->keys);
  free(c->verdicts);
  free(c->seen);
  free(c);
}

static uint64_t input_key(const bw_classify_in_t *in) {
  uint64_t h = 0x243F6A8885A308D3ull;
  h = bw__hash_bytes(h, in->text.p != NULL ? in->text.p : "", in->text.len);
  h = bw__hash_bytes(h, in->dsn.p != NULL ? in->dsn.p : "", in->dsn.len);
  h = bw__hash_bytes(h, in->relay.p != NULL ? in->relay.p : "", in->relay.len);
  h = bw__mix64(h, ((uint64_t)in->reply_code << 8) | (uint64_t)in->stage);
  return h != 0 ? h : 1;
}

void bw_classifier_stats(const bw_classifier_t *c, uint64_t *hits,
                         uint64_t *calls) {
  *hits = c->hits;
  *calls = c->lookups;
}

static void decide(bw_classifier_t *c, const bw_classify_in_t *in,
                   bw_verdict_t *v);

void bw_classify(bw_classifier_t *c, const bw_classify_in_t *in,
                 bw_verdict_t *v) {
  uint64_t key = input_key(in);
  size_t slot = (size_t)key & (VCACHE_SLOTS - 1);
  c->lookups++;
  if (c->keys[slot] == key) {
    c->hits++;
    *v = c->verdicts[slot];
    return;
  }
  decide(c, in, v);
  c->keys[slot] = key;
  c->verdicts[slot] = *v;
}

/* "X.YYY.ZZZ" of a packed code (class * 1e6 + subject * 1e3 + detail)
 * into buf[16]; by hand because snprintf cost a tenth of a decision. */
static void format_code(char *buf, uint32_t code) {
  uint32_t part[3] = {code / 1000000 % 1000, code / 1000 % 1000, code % 1000};
  char *o = buf;
  for (int i = 0; i < 3; i++) {
    uint32_t x = part[i];
    if (i > 0)
      *o++ = '.';
    if (x >= 100)
      *o++ = (char)('0' + x / 100);
    if (x >= 10)
      *o++ = (char)('0' + x / 10 % 10);
    *o++ = (char)('0' + x % 10);
  }
  *o = '\0';
}

static int on_match(unsigned id, unsigned long long from,
                    unsigned long long to, unsigned flags, void *ctx) {
  (void)from;
  (void)to;
  (void)flags;
  bw_classifier_t *c = ctx;
  unsigned rule = c->r->db_rules[c->cur_db][id];
  if (rule == BW_RULE_GATE) {
    c->gate = 1;
    return 0;
  }
  if (c->seen[rule] != c->gen) {
    c->seen[rule] = c->gen;
    if (c->nmatched < MAX_MATCHED)
      c->matched[c->nmatched++] = rule;
  }
  return 0;
}

/* ---- facts taken from the text when the caller does not know them ----- */

static const char *find(const char *p, const char *end, const char *lit) {
  return bw__find(p, end, lit, strlen(lit));
}

/* Postfix "(in reply to X command)", Exim "after X", connection-level
 * wording. The first recognised command wins. */
static bw_stage_t text_stage(const char *t, const char *e) {
  size_t n;
  const char *p = find(t, e, "in reply to ");
  if (p != NULL) {
    bw_stage_t st = bw__smtp_stage(p + 12, e, &n);
    if (st != BW_STAGE_NONE)
      return st;
  }
  for (p = t; (p = find(p, e, "after ")) != NULL; p += 6) {
    bw_stage_t st = bw__smtp_stage(p + 6, e, &n);
    if (st != BW_STAGE_NONE)
      return st;
  }
  for (p = t; (p = find(p, e, "while sending ")) != NULL; p += 14) {
    bw_stage_t st = bw__smtp_stage(p + 14, e, &n);
    if (st != BW_STAGE_NONE)
      return st;
  }
  /* Sendmail transcripts (">>> RCPT To:<x>") and qmail's wording. */
  for (p = t; (p = find(p, e, ">>> ")) != NULL; p += 4) {
    if (BW_STARTS(p + 4, e, "RCPT") || BW_STARTS(p + 4, e, "rcpt"))
      return BW_STAGE_RCPT;
    if (BW_STARTS(p + 4, e, "MAIL") || BW_STARTS(p + 4, e, "mail"))
      return BW_STAGE_MAIL;
    if (BW_STARTS(p + 4, e, "DATA") || BW_STARTS(p + 4, e, "data"))
      return BW_STAGE_DATA;
  }
  if (find(t, e, "does not like recipient") != NULL ||
      find(t, e, "SMTP:RCPT") != NULL)
    return BW_STAGE_RCPT;
  if (find(t, e, "failed after I sent the message") != NULL)
    return BW_STAGE_END_OF_DATA;
  if (find(t, e, "does not like sender") != NULL)
    return BW_STAGE_MAIL;
  if (find(t, e, "refused to talk to me") != NULL ||
      find(t, e, "initial server greeting") != NULL)
    return BW_STAGE_CONNECT;
  if (find(t, e, "HELO handshake") != NULL || find(t, e, "EHLO handshake"))
    return BW_STAGE_HELO;
  return BW_STAGE_NONE;
}

static int boundary_before(const char *t, const char *p) {
  if (p == t)
    return 1;
  char c = p[-1];
  return !bw__isdigit(c) && c != '.';
}

/* The first reply code ("550 " / "550-") and the first enhanced code
 * (with a non-zero subject or detail below 900: Sisimai's 5.0.9xx
 * pseudo codes never appear in real mail). */
static void text_codes(const char *t, const char *e, uint16_t *reply,
                       bw_span_t *code) {
  for (const char *p = t; p + 3 <= e; p++) {
    if (*p < '2' || *p > '5' || !boundary_before(t, p))
      continue;
    if (*reply == 0 && bw__isdigit(p[1]) && bw__isdigit(p[2]) &&
        (p + 3 == e || p[3] == ' ' || p[3] == '-'))
      *reply = (uint16_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
    if (code->len == 0 && p[1] == '.') {
      size_t n = bw__enhanced_code(p, e);
      if (n > 0) {
        code->p = p;
        code->len = (uint32_t)n;
      }
    }
    if (*reply != 0 && code->len != 0)
      return;
  }
}

/* Host part of "mx.example.com[1.2.3.4]:25" or "mx.example.com
 * [1.2.3.4]", or of "host mx.example.com[...]" in the text. */
static bw_span_t relay_host(bw_span_t relay, const char *t, const char *e) {
  const char *p = relay.p;
  if (relay.len > 0) {
    const char *pe = relay.p + relay.len;
    const char *q = p;
    while (q < pe && *q != '[' && *q != ' ' && *q != ':' && *q != ',')
      q++;
    return (bw_span_t){p, (uint32_t)(q - p)};
  }
  /* Only "host NAME[ip]" (Postfix) or "host NAME [ip]" (Exim): "could
   * not find any host named x" names no relay. */
  for (p = t; (p = find(p, e, "host ")) != NULL; p += 5) {
    const char *h = p + 5, *q = h;
    while (q < e && *q != '[' && *q != ' ')
      q++;
    if (q > h && ((q < e && *q == '[') || BW_STARTS(q, e, " [")))
      return (bw_span_t){h, (uint32_t)(q - h)};
  }
  return (bw_span_t){NULL, 0};
}

static int suffix_match(bw_span_t host, const char *suf) {
  size_t n = strlen(suf);
  int dot = suf[0] == '.';
  if (host.len < n)
    return 0;
  const char *h = host.p + host.len - n;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c + 32);
    if (c != suf[i])
      return 0;
  }
  /* "google.com" matches google.com and x.google.com, not xgoogle.com. */
  return dot || host.len == n || h[-1] == '.';
}

typedef struct {
  bw_stage_t stage;
  int cls;
  uint32_t code;
  uint16_t reply;
  bw_span_t host;
} facts_t;

static int conditions_hold(const bw__rule_t *x, const facts_t *f) {
  uint32_t sb = 1u << f->stage;
  if (x->stage_in != 0 && !(x->stage_in & sb))
    return 0;
  if (x->stage_out & sb)
    return 0;
  if (x->class_mask != 0 && (f->cls < 0 || !(x->class_mask & (1u << f->cls))))
    return 0;
  if (x->ncodes > 0) {
    unsigned i = 0;
    while (i < x->ncodes && x->codes[i] != f->code)
      i++;
    if (i == x->ncodes)
      return 0;
  }
  if (x->nreplies > 0) {
    unsigned i = 0;
    while (i < x->nreplies &&
           !(x->replies[i] == f->reply ||
             (x->replies[i] < 10 && f->reply / 100 == x->replies[i])))
      i++;
    if (i == x->nreplies)
      return 0;
  }
  if (x->nrelays > 0) {
    unsigned i = 0;
    while (i < x->nrelays && !suffix_match(f->host, x->relays[i]))
      i++;
    if (i == x->nrelays)
      return 0;
  }
  return 1;
}

static bw_reason_t code_reason(const bw_rules_t *r, uint32_t code) {
  size_t lo = 0, hi = r->ncodes;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r->codes[mid].code < code)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->ncodes && r->codes[lo].code == code ? r->codes[lo].reason
                                                    : BW_REASON__COUNT;
}

static int says_temporary(const char *t, const char *e) {
  return find(t, e, "temporar") != NULL || find(t, e, "persistent") != NULL ||
         find(t, e, "try again") != NULL;
}

static void decide(bw_classifier_t *c, const bw_classify_in_t *in,
                   bw_verdict_t *v) {
  const bw_rules_t *r = c->r;
  const char *t = in->text.p != NULL ? in->text.p : "";
  const char *e = t + in->text.len;
  memset(v, 0, sizeof(*v));

  /* Facts: the caller's, completed from the text. */
  facts_t f;
  f.stage = in->stage != BW_STAGE_NONE ? in->stage : text_stage(t, e);
  uint16_t reply = in->reply_code;
  bw_span_t tcode = {NULL, 0};
  text_codes(t, e, &reply, &tcode);
  f.reply = reply;
  uint32_t given = in->dsn.len > 0 ? bw__pack_code(in->dsn.p, in->dsn.len) : 0;
  /* Pseudo codes (5.0.9xx) are no code; X.0.0 gives only a class, so a
   * specific code in the reply text is better. */
  if (given % 1000000 >= 900 && given % 1000000 < 1000)
    given = 0;
  uint32_t fromtext = tcode.len > 0 ? bw__pack_code(tcode.p, tcode.len) : 0;
  if (fromtext % 1000000 >= 900 && fromtext % 1000000 < 1000)
    fromtext = 0;
  f.code = given;
  if (fromtext != 0 && (given == 0 || given % 1000000 == 0))
    f.code = fromtext;
  f.cls = f.code != 0 ? (int)(f.code / 1000000)
                      : f.reply != 0 ? f.reply / 100 : -1;
  if (f.cls == 3)
    f.cls = -1;
  f.host = relay_host(in->relay, t, e);

  v->stage = f.stage;
  v->reply_code = f.reply;
  if (f.code != 0)
    format_code(v->code, f.code);

  /* Scan the reply only: Postfix's "host NAME[ip] said: " before it and
   * "(in reply to X command)" after it carry no reason, and cost a
   * sixth of the scan (bench/). */
  const char *st = t, *se = e;
  if (BW_STARTS(st, se, "delivery temporarily suspended: "))
    st += sizeof("delivery temporarily suspended: ") - 1;
  if (BW_STARTS(st, se, "host ")) {
    const char *q = st + 5;
    while (q < se && *q != ' ')
      q++;
    if (q > st + 5 && q[-1] == ']' && BW_STARTS(q, se, " said: "))
      st = q + 7;
    else
      st = t;
  } else {
    st = t;
  }
  if (se > st && se[-1] == ')') {
    const char *irt = bw__rfind(se - 64 > st ? se - 64 : st, se,
                                " (in reply to ", 14);
    if (irt != NULL)
      se = irt;
  }
  c->nmatched = 0;
  if (++c->gen == 0) { /* wrapped: forget every stamp */
    memset(c->seen, 0, (r->nrules + 1) * sizeof(*c->seen));
    c->gen = 1;
  }
  if (se > st) {
    c->gate = 0;
    for (int d = 0; d < BW_DB__COUNT; d++) {
      if (r->db[d] == NULL || (d == BW_DB_CASE && !c->gate))
        continue;
      c->cur_db = d;
      hs_scan(r->db[d], st, (unsigned)(se - st), 0, c->scratch, on_match, c);
    }
  }

  uint64_t text_mask = 0;
  unsigned first[BW_REASON__COUNT];
  for (int i = 0; i < BW_REASON__COUNT; i++)
    first[i] = UINT32_MAX;
  unsigned provider = UINT32_MAX;
  unsigned held[MAX_MATCHED], nheld = 0;
  /* Rules without an expression apply on their conditions alone. */
  for (unsigned i = 0; i < r->nalways && c->nmatched < MAX_MATCHED; i++)
    c->matched[c->nmatched++] = r->always[i];
  for (unsigned i = 0; i < c->nmatched; i++) {
    unsigned idx = c->matched[i];
    const bw__rule_t *x = &r->rules[idx];
    if (!conditions_hold(x, &f))
      continue;
    held[nheld++] = idx;
    if (x->nrelays > 0) {
      if (provider == UINT32_MAX || x->id < r->rules[provider].id)
        provider = idx;
      continue;
    }
    text_mask |= 1ull << x->reason;
    if (first[x->reason] == UINT32_MAX || x->id < r->rules[first[x->reason]].id)
      first[x->reason] = idx;
  }

  bw_reason_t cr = f.code != 0 ? code_reason(r, f.code) : BW_REASON__COUNT;
  bw_reason_t reason = BW_REASON__COUNT;
  unsigned decider = UINT32_MAX;

  if (provider != UINT32_MAX) {
    reason = r->rules[provider].reason;
    decider = provider;
    v->decided_by = "provider";
  }
  for (unsigned i = 0; reason == BW_REASON__COUNT && i < r->npass1; i++) {
    bw_reason_t R = r->pass1[i];
    if (text_mask & (1ull << R)) {
      reason = R;
      decider = first[R];
      v->decided_by = "rule";
    } else if (cr == R && !(text_mask & r->info[R].veto)) {
      reason = R;
      v->decided_by = "code";
    }
  }
  for (unsigned i = 0; reason == BW_REASON__COUNT && i < r->npass2; i++) {
    bw_reason_t R = r->pass2[i];
    if (text_mask & (1ull << R)) {
      reason = R;
      decider = first[R];
      v->decided_by = "rule";
    }
  }
  /* Reasons in neither pass (syntaxerror, vacation, ...) decide by their
   * rules after both passes: their lowest rule id wins. */
  if (reason == BW_REASON__COUNT && text_mask != 0) {
    for (int R = 0; R < BW_REASON__COUNT; R++) {
      if (!(text_mask & (1ull << R)) || r->info[R].pass1 || r->info[R].pass2)
        continue;
      if (decider == UINT32_MAX || r->rules[first[R]].id < r->rules[decider].id) {
        reason = (bw_reason_t)R;
        decider = first[R];
        v->decided_by = "rule";
      }
    }
  }
  if (reason == BW_REASON__COUNT && cr != BW_REASON__COUNT) {
    reason = cr;
    v->decided_by = "code";
  }
  if (reason == BW_REASON__COUNT && f.code != 0) {
    unsigned subject = f.code / 1000 % 1000;
    if (subject == 6 || subject == 7) {
      reason = subject == 6 ? BW_REASON_CONTENTERROR : BW_REASON_SECURITYERROR;
      v->decided_by = "class";
    }
  }
  /* 500-504: the remote did not understand a command we sent. */
  if (reason == BW_REASON__COUNT && f.reply >= 500 && f.reply <= 504) {
    reason = BW_REASON_SYNTAXERROR;
    v->decided_by = "reply";
  }
  if (reason == BW_REASON__COUNT && f.stage == BW_STAGE_HELO) {
    reason = BW_REASON_BLOCKED;
    v->decided_by = "stage";
  }
  if (reason == BW_REASON__COUNT) {
    reason = in->text.len > 0 ? BW_REASON_ONHOLD : BW_REASON_UNDEFINED;
    v->decided_by = "default";
  }

  v->reason = reason;
  v->group = r->info[reason].group;
  v->permanent = f.cls == 5 ? 1 : f.cls == 4 ? 0 : -1;
  if (v->permanent < 0 && in->text.len > 0) {
    if (find(t, e, "ermanent") != NULL)
      v->permanent = 1;
    else if (says_temporary(t, e))
      v->permanent = 0;
  }
  int hd = r->info[reason].hardness;
  v->hard = hd == 1 || (hd == 2 && (v->permanent == 1 ||
                                    (v->permanent < 0 && !says_temporary(t, e))));

  /* The deciding rule first, then the others whose conditions held. */
  if (decider != UINT32_MAX)
    v->rules[v->n_rules++] = decider;
  for (unsigned i = 0; i < nheld; i++) {
    if (held[i] == decider)
      continue;
    if (v->n_rules < BW_VERDICT_RULES)
      v->rules[v->n_rules] = held[i];
    v->n_rules++;
  }
}
