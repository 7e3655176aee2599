/* Join and aggregation on real-format Postfix and Exim lines: each
 * recipient counted once by its final outcome, expiry applied to the
 * still-deferred recipients, notifications and probes apart, recycled
 * queue ids, evictions under the cap, log-time windows and breaches. */
#include <stdlib.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "hash.h"
#include "intern.h"
#include "logtime.h"
#include "out_agg.h"
#include "t_util.h"

typedef struct {
  bw_agg_t *a;
  bw_parser_t *p;
} fx_t;

static fx_t fx_new(const bw_agg_opts_t *o) {
  fx_t f;
  assert_int_equal(bw_agg_new(o, &f.a), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  bw_parser_set_reference(f.p, 1718452800);
  return f;
}

static void fx_free(fx_t *f) {
  bw_agg_free(f->a);
  bw_parser_free(f->p);
}

/* Feed one line; failures get a verdict with `reason` (hard for
 * userunknown), as the replay would give them. */
static void feed(fx_t *f, const char *line, bw_reason_t reason) {
  bw_event_t ev;
  bw_parse_line(f->p, line, strlen(line), &ev);
  bw_verdict_t v;
  memset(&v, 0, sizeof(v));
  v.reason = reason;
  v.group = reason == BW_REASON_USERUNKNOWN ? BW_GROUP_RECIPIENT
                                            : BW_GROUP_NETWORK_TRANSIENT;
  v.hard = reason == BW_REASON_USERUNKNOWN;
  int failed = ev.kind == BW_KIND_DELIVERY && ev.status != BW_STATUS_SENT;
  bw_agg_add(f->a, &ev, failed ? &v : NULL);
}

static const bw_agg_key_t *key(bw_agg_key_t *keys, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i].name, name) == 0)
      return &keys[i];
  return NULL;
}

#define PF "2024-05-01T12:00:00+00:00 mx1 "
#define QM PF "postfix/qmgr[2]: "
#define SM PF "postfix/smtp[3]: "

static void test_final_outcome_once(void **state) {
  (void)state;
  fx_t f = fx_new(NULL);
  feed(&f, QM "A1B2C3D4E5: from=<news@mail.example.org>, size=100, nrcpt=3 (queue active)", 0);
  /* a: deferred twice, then sent; b: bounced; c: deferred, then expired. */
  feed(&f, SM "A1B2C3D4E5: to=<a@gmail.com>, relay=x[1.1.1.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.0, status=deferred (host x[1.1.1.1] said: 421 try later (in reply to RCPT TO command))", BW_REASON_BLOCKED);
  feed(&f, SM "A1B2C3D4E5: to=<a@gmail.com>, relay=x[1.1.1.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.0, status=deferred (host x[1.1.1.1] said: 421 try later (in reply to RCPT TO command))", BW_REASON_BLOCKED);
  feed(&f, SM "A1B2C3D4E5: to=<a@gmail.com>, relay=x[1.1.1.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)", 0);
  feed(&f, SM "A1B2C3D4E5: to=<b@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host y[2.2.2.2] said: 550 5.1.1 no such user (in reply to RCPT TO command))", BW_REASON_USERUNKNOWN);
  feed(&f, SM "A1B2C3D4E5: to=<c@example.net>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to y[2.2.2.2]:25: Connection timed out)", BW_REASON_EXPIRED);
  feed(&f, QM "A1B2C3D4E5: from=<news@mail.example.org>, status=expired, returned to sender", 0);
  feed(&f, QM "A1B2C3D4E5: removed", 0);
  bw_agg_finish(f.a);

  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.customer.n[BW_OUT_SENT], 1);
  assert_int_equal(t.customer.n[BW_OUT_BOUNCED], 1);
  assert_int_equal(t.customer.n[BW_OUT_EXPIRED], 1);
  assert_int_equal(t.customer.n[BW_OUT_DEFERRED], 3);
  assert_int_equal(t.customer.n[BW_OUT_HARD], 1);
  assert_int_equal(t.pending, 0);
  assert_int_equal(t.messages, 1);
  assert_true(bw_bounce_rate(&t.customer) > 0.666 && bw_bounce_rate(&t.customer) < 0.667);
  /* The expiry carries the reason of the last try. */
  assert_int_equal(t.customer.by_reason[BW_REASON_EXPIRED], 1);
  assert_int_equal(t.customer.by_reason[BW_REASON_USERUNKNOWN], 1);

  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  const bw_agg_key_t *s = key(k, n, "mail.example.org");
  assert_non_null(s);
  assert_string_equal(s->registrable, "example.org");
  assert_int_equal(s->total.n[BW_OUT_SENT], 1);
  assert_int_equal(s->total.n[BW_OUT_BOUNCED] + s->total.n[BW_OUT_EXPIRED], 2);
  free(k);
  n = bw_agg_keys(f.a, BW_AGG_SENDER_REG, &k);
  assert_non_null(key(k, n, "example.org"));
  free(k);
  n = bw_agg_keys(f.a, BW_AGG_PROVIDER, &k);
  const bw_agg_key_t *g = key(k, n, "other");
  assert_non_null(g); /* no providers file here: every provider is other */
  assert_int_equal(g->total.n[BW_OUT_SENT] + g->total.n[BW_OUT_BOUNCED] +
                       g->total.n[BW_OUT_EXPIRED],
                   3);
  free(k);
  fx_free(&f);
}

static void test_notifications_probes_unknown_recycled(void **state) {
  (void)state;
  fx_t f = fx_new(NULL);
  /* A delivery of a message that began before the log: sender unknown. */
  feed(&f, SM "0F0F0F0F0F: to=<x@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)", 0);
  /* A bounce notification: linked, then from=<>; counted apart. */
  feed(&f, PF "postfix/bounce[9]: A1B2C3D4E5: sender non-delivery notification: B1B2C3D4E5", 0);
  feed(&f, QM "B1B2C3D4E5: from=<>, size=10, nrcpt=1 (queue active)", 0);
  feed(&f, SM "B1B2C3D4E5: to=<news@example.org>, relay=z[3.3.3.3]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host z said: 550 no (in reply to RCPT TO command))", BW_REASON_USERUNKNOWN);
  feed(&f, QM "B1B2C3D4E5: removed", 0);
  /* An address-verification probe is not a delivery. */
  feed(&f, SM "C1C2C3C4C5: to=<p@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=undeliverable (host y said: 550 no (in reply to RCPT TO command))", 0);
  /* A recycled queue id: removed, then reused by another sender. */
  feed(&f, QM "D1D2D3D4D5: from=<a@one.example>, size=1, nrcpt=1 (queue active)", 0);
  feed(&f, SM "D1D2D3D4D5: to=<r@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)", 0);
  feed(&f, QM "D1D2D3D4D5: removed", 0);
  feed(&f, QM "D1D2D3D4D5: from=<b@two.example>, size=1, nrcpt=1 (queue active)", 0);
  feed(&f, SM "D1D2D3D4D5: to=<r@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host y said: 550 no (in reply to RCPT TO command))", BW_REASON_USERUNKNOWN);
  /* A deferred recipient of a message removed by hand stays pending. */
  feed(&f, QM "E1E2E3E4E5: from=<c@one.example>, size=1, nrcpt=1 (queue active)", 0);
  feed(&f, SM "E1E2E3E4E5: to=<q@example.net>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to y[2.2.2.2]:25: Connection timed out)", BW_REASON_EXPIRED);
  feed(&f, QM "E1E2E3E4E5: removed", 0);
  bw_agg_finish(f.a);

  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.notifications.n[BW_OUT_BOUNCED], 1);
  assert_int_equal(t.probes, 1);
  assert_int_equal(t.unknown_sender, 1);
  assert_int_equal(t.pending, 1);
  assert_int_equal(t.customer.n[BW_OUT_SENT], 2);
  assert_int_equal(t.customer.n[BW_OUT_BOUNCED], 1);
  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  assert_int_equal(key(k, n, "one.example")->total.n[BW_OUT_SENT], 1);
  assert_int_equal(key(k, n, "two.example")->total.n[BW_OUT_BOUNCED], 1);
  assert_int_equal(key(k, n, "unknown")->total.n[BW_OUT_SENT], 1);
  free(k);
  fx_free(&f);
}

static void test_exim_flow(void **state) {
  (void)state;
  fx_t f = fx_new(NULL);
  feed(&f, "2024-05-01 12:00:00 1rABCd-000Xyz-AB <= s@shop.example H=h [1.2.3.4] P=esmtps S=10 id=x@y", 0);
  feed(&f, "2024-05-01 12:00:01 1rABCd-000Xyz-AB == d@example.net R=dnslookup T=remote_smtp defer (-44) H=mx [5.6.7.8]: SMTP error from remote mail server after RCPT TO:<d@example.net>: 451 4.7.1 later", BW_REASON_BLOCKED);
  feed(&f, "2024-05-01 12:00:02 1rABCd-000Xyz-AB => ok@example.net R=dnslookup T=remote_smtp H=mx [5.6.7.8] C=\"250 ok\"", 0);
  feed(&f, "2024-05-01 12:00:03 1rABCd-000Xyz-AB ** bad@example.net R=dnslookup T=remote_smtp H=mx [5.6.7.8]: SMTP error from remote mail server after RCPT TO:<bad@example.net>: 550 5.1.1 unknown", BW_REASON_USERUNKNOWN);
  feed(&f, "2024-05-02 12:00:04 1rABCd-000Xyz-AB ** d@example.net: retry timeout exceeded", BW_REASON_EXPIRED);
  feed(&f, "2024-05-02 12:00:05 1rABCd-000Xyz-AB Completed", 0);
  feed(&f, "2024-05-02 12:00:06 1rABCe-000Xyz-CD <= <> R=1rABCd-000Xyz-AB U=Debian-exim P=local S=3", 0);
  feed(&f, "2024-05-02 12:00:07 1rABCe-000Xyz-CD => s@shop.example R=dnslookup T=remote_smtp H=h [1.2.3.4]", 0);
  bw_agg_finish(f.a);
  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.customer.n[BW_OUT_SENT], 1);
  assert_int_equal(t.customer.n[BW_OUT_BOUNCED], 1);
  assert_int_equal(t.customer.n[BW_OUT_EXPIRED], 1);
  assert_int_equal(t.customer.n[BW_OUT_DEFERRED], 1);
  assert_int_equal(t.notifications.n[BW_OUT_SENT], 1);
  assert_int_equal(t.pending, 0);
  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  assert_int_equal(key(k, n, "shop.example")->total.n[BW_OUT_SENT], 1);
  free(k);
  fx_free(&f);
}

/* 10 million queue ids must not grow memory: the table evicts. Here a
 * cap of 16 and 1000 messages never removed. */
static void test_eviction_is_counted(void **state) {
  (void)state;
  bw_agg_opts_t o;
  bw_agg_opts_default(&o);
  o.max_messages = 16;
  fx_t f = fx_new(&o);
  char line[512];
  for (int i = 0; i < 1000; i++) {
    snprintf(line, sizeof(line), QM "%010X: from=<s@bulk.example>, size=1, nrcpt=1 (queue active)", i + 0x100000);
    feed(&f, line, 0);
  }
  /* The first message is long gone: its delivery counts under unknown. */
  snprintf(line, sizeof(line), SM "%010X: to=<r@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)", 0x100000);
  feed(&f, line, 0);
  snprintf(line, sizeof(line), SM "%010X: to=<r@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)", 0x100000 + 999);
  feed(&f, line, 0);
  bw_agg_finish(f.a);
  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.evicted_messages, 1000 - 16);
  assert_int_equal(t.unknown_sender, 1);
  assert_int_equal(t.customer.n[BW_OUT_SENT], 2);
  fx_free(&f);
}

/* The message table grows from its first size while messages stay in
 * flight: 20,000 open messages (far above the first 4,096 slots) keep
 * their senders, nothing is evicted, and each recipient counts once. */
static void test_message_table_grows(void **state) {
  (void)state;
  bw_agg_opts_t o;
  bw_agg_opts_default(&o);
  fx_t f = fx_new(&o);
  char line[512];
  const int n = 20000;
  for (int i = 0; i < n; i++) {
    snprintf(line, sizeof(line), QM "%010X: from=<s@d%d.example>, size=1, nrcpt=1 (queue active)", i + 0x100000, i % 7);
    feed(&f, line, 0);
  }
  for (int i = 0; i < n; i++) {
    snprintf(line, sizeof(line), SM "%010X: to=<r%d@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=%s, status=%s (250 ok)", i + 0x100000, i, i % 10 ? "2.0.0" : "5.1.1", i % 10 ? "sent" : "bounced");
    feed(&f, line, BW_REASON_USERUNKNOWN);
  }
  bw_agg_finish(f.a);
  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.evicted_messages, 0);
  assert_int_equal(t.unknown_sender, 0);
  assert_int_equal(t.customer.n[BW_OUT_SENT], n - n / 10);
  assert_int_equal(t.customer.n[BW_OUT_BOUNCED], n / 10);
  bw_agg_key_t *keys;
  size_t nk = bw_agg_keys(f.a, BW_AGG_SENDER, &keys);
  const bw_agg_key_t *d3 = key(keys, nk, "d3.example");
  assert_non_null(d3);
  /* i % 7 == 3 for i < 20000: 2857 messages, of which i % 10 == 0 bounced. */
  int sent = 0, bounced = 0;
  for (int i = 3; i < n; i += 7)
    if (i % 10)
      sent++;
    else
      bounced++;
  assert_int_equal(d3->total.n[BW_OUT_SENT], sent);
  assert_int_equal(d3->total.n[BW_OUT_BOUNCED], bounced);
  free(keys);
  fx_free(&f);
}

/* The case folding behind domain and recipient keys: the SWAR fold
 * equals the byte-wise one for every byte in every lane, and interned
 * names meet whatever their case or length. */
static void test_fold_and_intern(void **state) {
  (void)state;
  for (int b = 0; b < 256; b++)
    for (int lane = 0; lane < 8; lane++) {
      unsigned char in[8] = {'a', 'Z', '0', 0xC9, '@', '[', '`', '{'};
      in[lane] = (unsigned char)b;
      uint64_t v;
      memcpy(&v, in, 8);
      v = bw__fold8(v);
      unsigned char out[8];
      memcpy(out, &v, 8);
      for (int i = 0; i < 8; i++) {
        unsigned char want = in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i];
        assert_int_equal(out[i], want);
      }
    }
  bw_intern_t t;
  assert_int_equal(bw__intern_init(&t, 8), 0);
  const char *longname = "Mail.Sub-Domain.Example-Provider.CO.UK";
  uint32_t a = bw__intern(&t, longname, strlen(longname), 1);
  uint32_t b = bw__intern(&t, "mail.sub-domain.example-provider.co.uk", strlen(longname), 1);
  assert_int_equal(a, b);
  assert_string_equal(t.names[a], "mail.sub-domain.example-provider.co.uk");
  assert_int_equal(bw__intern_find(&t, "MAIL.SUB-DOMAIN.EXAMPLE-PROVIDER.CO.UK", strlen(longname)), a);
  /* A prefix or a longer name is another name. */
  assert_int_not_equal(bw__intern(&t, longname, 10, 1), a);
  uint32_t e1 = bw__intern(&t, "Example.org", 11, 1);
  assert_int_equal(bw__intern(&t, "EXAMPLE.ORG", 11, 1), e1);
  /* Unfolded names keep their case and are found as written. */
  uint32_t g = bw__intern(&t, "Google", 6, 0);
  assert_string_equal(t.names[g], "Google");
  assert_int_equal(bw__intern(&t, "Google", 6, 0), g);
  bw__intern_free(&t);
}

/* 3 % bounces from 12:00 for an hour with 200 outcomes: the 1 h window
 * breaches once the volume reaches 100, and closes when the bad hour has
 * left the window (silence after it). */
static void test_window_breach_opens_and_closes(void **state) {
  (void)state;
  bw_agg_opts_t o;
  bw_agg_opts_default(&o);
  o.nwindows = 1;
  o.windows_s[0] = 3600;
  fx_t f = fx_new(&o);
  char line[512];
  feed(&f, QM "ABCDEF1234: from=<s@acme.example>, size=1, nrcpt=200 (queue active)", 0);
  for (int i = 0; i < 200; i++) {
    int bad = i % 10 == 9 ? 1 : 0; /* 10 % */
    snprintf(line, sizeof(line),
             "2024-05-01T12:%02d:%02d+00:00 mx1 postfix/smtp[3]: ABCDEF1234: to=<r%d@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=%s, status=%s (x)",
             i * 15 / 60, i * 15 % 60, i, bad ? "5.1.1" : "2.0.0",
             bad ? "bounced" : "sent");
    feed(&f, line, bad ? BW_REASON_USERUNKNOWN : 0);
  }
  /* A lone line two hours later moves the log time on. */
  feed(&f, "2024-05-01T15:00:00+00:00 mx1 postfix/qmgr[2]: ABCDEF1234: removed", 0);
  bw_agg_finish(f.a);
  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  const bw_agg_key_t *s = key(k, n, "acme.example");
  assert_non_null(s);
  assert_int_equal(s->nbreaches, 1);
  char t0[40], t1[40];
  bw__format_time(s->breaches[0].start_us, t0);
  /* The 100th outcome (i = 99) is at 12:24:45. */
  assert_string_equal(t0, "2024-05-01T12:24:45.000000Z");
  assert_true(s->breaches[0].end_us != 0);
  bw__format_time(s->breaches[0].end_us, t1);
  /* Buckets of 5 min: the window holds fewer than 100 outcomes from the
   * bucket at 13:30 on (12:25-12:30 has left, 125 - ... ). */
  assert_true(strcmp(t1, "2024-05-01T13:00:00.000000Z") > 0);
  assert_true(strcmp(t1, "2024-05-01T14:00:00.000000Z") <= 0);
  assert_true(s->breaches[0].peak_rate >= 0.099 && s->breaches[0].peak_rate <= 0.11);
  /* At the end (15:00) the 1 h window is empty. */
  assert_int_equal(s->window[0].final, 0);
  assert_true(s->nseries > 0);
  free(k);
  fx_free(&f);
}

static void test_domain_cap_other(void **state) {
  (void)state;
  bw_agg_opts_t o;
  bw_agg_opts_default(&o);
  o.max_domains = 16;
  fx_t f = fx_new(&o);
  char line[512];
  for (int i = 0; i < 40; i++) {
    snprintf(line, sizeof(line), QM "%010X: from=<s@d%d.example>, size=1, nrcpt=1 (queue active)", i + 0x200000, i);
    feed(&f, line, 0);
    snprintf(line, sizeof(line), SM "%010X: to=<r@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)", i + 0x200000);
    feed(&f, line, 0);
  }
  bw_agg_finish(f.a);
  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  const bw_agg_key_t *other = key(k, n, "other");
  assert_non_null(other);
  /* 16 slots: "unknown" and 15 domains; the other 25 go to "other". */
  assert_int_equal(other->total.n[BW_OUT_SENT], 25);
  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  /* Outcomes under "other", not lookups: exactly the 25 deliveries, and
   * arrivals that never end add nothing. */
  assert_int_equal(t.other_domains, 25);
  for (int i = 40; i < 60; i++) {
    snprintf(line, sizeof(line), QM "%010X: from=<s@d%d.example>, size=1, nrcpt=1 (queue active)", i + 0x200000, i);
    feed(&f, line, 0);
  }
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.other_domains, 25);
  free(k);
  fx_free(&f);
}

/* The report of an aggregator as JSON text (to compare two of them). */
static char *report_json(bw_agg_t *a, const bw_agg_opts_t *o) {
  bw_replay_stats_t st;
  memset(&st, 0, sizeof(st));
  bw_report_in_t rin = {&st, 0.0, 65536};
  bw_agg_report_t rep;
  bw__agg_report_build(&rep, a, o, &rin);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  static bw_out_t out;
  bw__out_init(&out, f);
  bw__agg_report_json(&out, &rep);
  bw__out_flush(&out);
  fclose(f);
  bw__agg_report_release(&rep);
  return buf;
}

/* Save in the middle of a log, restore into a new aggregator, feed both
 * the rest: the reports are identical (what a restart must give). A
 * damaged or truncated state is refused. */
static void test_state_roundtrip(void **state) {
  (void)state;
  bw_agg_opts_t o;
  bw_agg_opts_default(&o);
  o.nwindows = 1;
  o.windows_s[0] = 3600;
  o.min_volume = 10;
  fx_t f = fx_new(&o);
  char line[512];
  feed(&f, QM "ABCDEF1234: from=<s@acme.example>, size=1, nrcpt=200 (queue active)", 0);
  feed(&f, "2024-05-01 12:00:00 1rABCd-000Xyz-AB <= s@shop.example H=h [1.2.3.4] P=esmtps S=10 id=x@y", 0);
  for (int i = 0; i < 200; i++) {
    if (i == 100) {
      /* Checkpoint: a pending deferral, a breach open, messages in flight. */
      feed(&f, "2024-05-01 12:30:00 1rABCd-000Xyz-AB == d@example.net R=dnslookup T=remote_smtp defer (-44) H=mx [5.6.7.8]: SMTP error from remote mail server after RCPT TO:<d@example.net>: 451 4.7.1 later", BW_REASON_BLOCKED);
      char *buf = NULL;
      size_t len = 0;
      FILE *mf = open_memstream(&buf, &len);
      assert_int_equal(bw_agg_save(f.a, mf), 0);
      fclose(mf);
      /* A damaged copy and a short copy are refused. */
      bw_agg_t *bad;
      assert_int_equal(bw_agg_new(&o, &bad), 0);
      buf[len / 2] ^= 0x5a;
      FILE *rf = fmemopen(buf, len, "r");
      assert_int_equal(bw_agg_restore(bad, rf), BW_EPARSE);
      fclose(rf);
      bw_agg_free(bad);
      buf[len / 2] ^= 0x5a;
      assert_int_equal(bw_agg_new(&o, &bad), 0);
      rf = fmemopen(buf, len - 9, "r");
      assert_int_equal(bw_agg_restore(bad, rf), BW_EPARSE);
      fclose(rf);
      bw_agg_free(bad);
      /* The real one: the new aggregator replaces the old. */
      bw_agg_t *b;
      assert_int_equal(bw_agg_new(&o, &b), 0);
      rf = fmemopen(buf, len, "r");
      assert_int_equal(bw_agg_restore(b, rf), 0);
      fclose(rf);
      free(buf);
      char *before = report_json(f.a, &o), *after = report_json(b, &o);
      assert_string_equal(before, after);
      free(before);
      free(after);
      bw_agg_free(f.a);
      f.a = b;
    }
    int bad = i % 10 == 9;
    snprintf(line, sizeof(line),
             "2024-05-01T12:%02d:%02d+00:00 mx1 postfix/smtp[3]: ABCDEF1234: to=<r%d@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=%s, status=%s (x)",
             i * 15 / 60, i * 15 % 60, i, bad ? "5.1.1" : "2.0.0",
             bad ? "bounced" : "sent");
    feed(&f, line, bad ? BW_REASON_USERUNKNOWN : 0);
  }
  feed(&f, "2024-05-02 12:00:04 1rABCd-000Xyz-AB ** d@example.net: retry timeout exceeded", BW_REASON_EXPIRED);
  bw_agg_finish(f.a);

  /* The same log without the restart. */
  fx_t g = fx_new(&o);
  feed(&g, QM "ABCDEF1234: from=<s@acme.example>, size=1, nrcpt=200 (queue active)", 0);
  feed(&g, "2024-05-01 12:00:00 1rABCd-000Xyz-AB <= s@shop.example H=h [1.2.3.4] P=esmtps S=10 id=x@y", 0);
  for (int i = 0; i < 200; i++) {
    if (i == 100)
      feed(&g, "2024-05-01 12:30:00 1rABCd-000Xyz-AB == d@example.net R=dnslookup T=remote_smtp defer (-44) H=mx [5.6.7.8]: SMTP error from remote mail server after RCPT TO:<d@example.net>: 451 4.7.1 later", BW_REASON_BLOCKED);
    int bad = i % 10 == 9;
    snprintf(line, sizeof(line),
             "2024-05-01T12:%02d:%02d+00:00 mx1 postfix/smtp[3]: ABCDEF1234: to=<r%d@example.net>, relay=y[2.2.2.2]:25, delay=1, delays=0/0/0/1, dsn=%s, status=%s (x)",
             i * 15 / 60, i * 15 % 60, i, bad ? "5.1.1" : "2.0.0",
             bad ? "bounced" : "sent");
    feed(&g, line, bad ? BW_REASON_USERUNKNOWN : 0);
  }
  feed(&g, "2024-05-02 12:00:04 1rABCd-000Xyz-AB ** d@example.net: retry timeout exceeded", BW_REASON_EXPIRED);
  bw_agg_finish(g.a);
  char *x = report_json(f.a, &o), *y = report_json(g.a, &o);
  assert_string_equal(x, y);
  assert_non_null(strstr(x, "\"expired\":1"));
  free(x);
  free(y);
  fx_free(&f);
  fx_free(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_final_outcome_once),
      cmocka_unit_test(test_notifications_probes_unknown_recycled),
      cmocka_unit_test(test_exim_flow),
      cmocka_unit_test(test_eviction_is_counted),
      cmocka_unit_test(test_message_table_grows),
      cmocka_unit_test(test_fold_and_intern),
      cmocka_unit_test(test_window_breach_opens_and_closes),
      cmocka_unit_test(test_domain_cap_other),
      cmocka_unit_test(test_state_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
