/* Alert state machines on generated traffic in log time: one firing and
 * one resolution per episode with hysteresis (and flapping without it,
 * so the check can fail), the minimum volume, per-domain thresholds, the
 * resolution after a whole bucket below, a gap in the log, the alert's
 * details, and a save/restore in the middle of an episode that neither
 * repeats nor loses a transition. */
#include <stdlib.h>
#include <time.h>

#include "alert.h"
#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "t_util.h"

#define T0 1714557600 /* 2024-05-01T10:00:00Z, a bucket boundary */

typedef struct {
  int resolved;
  bw_alert_t a;
} trans_t;

typedef struct {
  bw_agg_opts_t ao;
  bw_alert_opts_t alo;
  bw_agg_t *agg;
  bw_alerts_t *al;
  bw_parser_t *p;
  trans_t tr[64];
  size_t ntr;
  unsigned q;
} fx_t;

static void on_alert(void *arg, const bw_alert_t *a, int resolved) {
  fx_t *f = arg;
  assert_true(f->ntr < 64);
  f->tr[f->ntr].resolved = resolved;
  f->tr[f->ntr].a = *a;
  f->ntr++;
}

static void fx_init(fx_t *f, double resolve, const char *domain_spec) {
  memset(f, 0, sizeof(*f));
  bw_agg_opts_default(&f->ao);
  f->ao.windows_s[0] = 3600;
  f->ao.nwindows = 1;
  f->ao.min_volume = 20;
  bw__alert_opts_default(&f->alo, &f->ao);
  f->alo.resolve_ratio = resolve;
  if (domain_spec != NULL) {
    char err[128];
    assert_int_equal(bw__alert_opts_domain(&f->alo, domain_spec, err, sizeof(err)), 0);
  }
  assert_int_equal(bw_agg_new(&f->ao, &f->agg), 0);
  assert_int_equal(bw__alerts_new(&f->alo, &f->ao, on_alert, f, &f->al), 0);
  assert_int_equal(bw_parser_new(&f->p), 0);
}

static void fx_free(fx_t *f) {
  bw__alerts_free(f->al);
  bw_agg_free(f->agg);
  bw_parser_free(f->p);
}

static void line(fx_t *f, const char *l, int failed) {
  bw_event_t ev;
  bw_parse_line(f->p, l, strlen(l), &ev);
  bw_verdict_t v;
  memset(&v, 0, sizeof(v));
  v.reason = BW_REASON_USERUNKNOWN;
  v.group = BW_GROUP_RECIPIENT;
  v.hard = 1;
  bw__alerts_tick(f->al, f->agg, ev.time_us);
  bw_agg_add(f->agg, &ev, failed ? &v : NULL);
}

static void stamp(int64_t t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

/* One message from a@dom to one recipient at log time t (seconds). */
static void message(fx_t *f, const char *dom, int bounced, int64_t t) {
  char l[512], ts[64];
  unsigned q = ++f->q;
  stamp(t, ts, sizeof(ts));
  snprintf(l, sizeof(l), "%s mx1 postfix/qmgr[2]: %08X: from=<a@%s>, size=1, "
                         "nrcpt=1 (queue active)", ts, q, dom);
  line(f, l, 0);
  snprintf(l, sizeof(l), "%s mx1 postfix/smtp[3]: %08X: to=<u@gmail.com>, "
                         "relay=x[192.0.2.1]:25, delay=1, delays=0/0/0/0, "
                         "dsn=%s, status=%s (x)", ts, q,
           bounced ? "5.1.1" : "2.0.0", bounced ? "bounced" : "sent");
  line(f, l, bounced);
  snprintf(l, sizeof(l), "%s mx1 postfix/qmgr[2]: %08X: removed", ts, q);
  line(f, l, 0);
}

/* `n` messages spread over bucket `b` (5 minutes from T0), `bad` of them
 * bounced. */
static void bucket(fx_t *f, const char *dom, int b, int n, int bad) {
  for (int i = 0; i < n; i++)
    message(f, dom, i < bad, T0 + (int64_t)b * 300 + (i * 299) / (n > 1 ? n - 1 : 1));
}

/* The hysteresis traffic, 100 outcomes per bucket: 0 % for an hour,
 * 10 % for an hour (fires), then four hours whose hourly rate swings
 * between 2.33 % and 1.67 % (across the threshold, never below the lower
 * level), then 0 %. */
static void hysteresis_traffic(fx_t *f, int from, int to) {
  static const int swing[24] = {2, 2, 3, 2, 2, 3, 2, 2, 3, 2, 2, 3,
                                2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2};
  for (int b = from; b < to; b++) {
    int bad = b < 12 ? 0 : b < 24 ? 10 : b < 72 ? swing[b % 24] : 0;
    bucket(f, "a.example", b, 100, bad);
  }
}

static void test_hysteresis(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 0.75, NULL);
  hysteresis_traffic(&f, 0, 96);
  assert_int_equal(f.ntr, 2);
  assert_false(f.tr[0].resolved);
  assert_true(f.tr[1].resolved);
  const bw_alert_t *a = &f.tr[0].a;
  assert_string_equal(a->domain, "a.example");
  assert_int_equal(a->kind, BW_ALERT_BOUNCE);
  assert_int_equal(a->window_s, 3600);
  /* Fires at the first boundary where the hour is >= 2 %: after bucket
   * 13 it holds 20 of 1200 (1.67 %), after 14 30 of 1200: at the start
   * of bucket 15. */
  assert_int_equal(a->start_us, (int64_t)(T0 + 15 * 300) * 1000000);
  assert_true(a->rate >= 0.02);
  assert_int_equal(a->volume, 1200);
  assert_int_equal(a->count, 30);
  assert_string_equal(a->reasons[0].name, "userunknown");
  assert_string_equal(a->groups[0].name, "recipient");
  assert_string_equal(a->providers[0].name, "other");
  /* The swing keeps it firing; from bucket 72 the hour drains: the
   * first boundary below 1.5 % starts the hold, the next one resolves. */
  const bw_alert_t *r = &f.tr[1].a;
  assert_int_equal(r->seq, a->seq);
  assert_true(r->peak_rate > 0.0999 && r->peak_rate < 0.1001); /* 120 of 1200 */
  assert_true(r->end_us > (int64_t)(T0 + 73 * 300) * 1000000);
  assert_true(r->end_us <= (int64_t)(T0 + 80 * 300) * 1000000);
  size_t n;
  uint64_t dropped;
  const bw_alert_t *list = bw__alerts_list(f.al, &n, &dropped);
  assert_int_equal(n, 1);
  assert_int_equal(dropped, 0);
  assert_int_equal(list[0].end_us, r->end_us);
  bw_alert_counts_t c;
  bw__alerts_counts(f.al, &c);
  assert_int_equal(c.fired, 1);
  assert_int_equal(c.resolved, 1);
  assert_int_equal(c.firing[0], 0);
  fx_free(&f);
}

/* The same traffic without a lower level flaps: the check above is
 * about hysteresis, not about this traffic being calm. */
static void test_no_hysteresis_flaps(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 1.0, NULL);
  hysteresis_traffic(&f, 0, 96);
  assert_true(f.ntr >= 4);
  fx_free(&f);
}

static void test_volume_and_domain_threshold(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 0.75, "c.example=bounce:10,min:5");
  for (int b = 0; b < 24; b++) {
    if (b % 6 == 0)
      bucket(&f, "b.example", b, 2, 1); /* 50 % but 4 an hour */
    bucket(&f, "c.example", b, 20, 1);  /* 5 %, its threshold is 10 % */
    bucket(&f, "d.example", b, 20, 1);  /* 5 %, the default 2 % */
  }
  for (size_t i = 0; i < f.ntr; i++)
    assert_string_equal(f.tr[i].a.domain, "d.example");
  assert_int_equal(f.ntr, 1);
  fx_free(&f);

  /* Its own minimum volume lets a small domain alert. */
  fx_init(&f, 0.75, "b.example=min:2");
  for (int b = 0; b < 24; b++)
    if (b % 6 == 0)
      bucket(&f, "b.example", b, 2, 1);
  assert_true(f.ntr >= 1);
  assert_string_equal(f.tr[0].a.domain, "b.example");
  fx_free(&f);
}

/* A silent stretch: the alert resolves when its window drained (plus the
 * hold), not when the next line comes a day later. */
static void test_gap(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 0.75, NULL);
  for (int b = 0; b < 6; b++)
    bucket(&f, "e.example", b, 20, 5);
  assert_int_equal(f.ntr, 1);
  bucket(&f, "e.example", 300, 20, 0); /* a day later */
  assert_int_equal(f.ntr, 2);
  assert_true(f.tr[1].resolved);
  assert_true(f.tr[1].a.end_us <= (int64_t)(T0 + 20 * 300) * 1000000);
  fx_free(&f);
}

/* Stop in the middle of the episode, save, restore into new objects and
 * go on: the transitions and the episode list are those of one run. */
static void test_save_restore(void **state) {
  (void)state;
  fx_t one, a, b;
  fx_init(&one, 0.75, NULL);
  hysteresis_traffic(&one, 0, 96);

  fx_init(&a, 0.75, NULL);
  hysteresis_traffic(&a, 0, 30); /* firing now */
  assert_int_equal(a.ntr, 1);
  FILE *tmp = tmpfile();
  assert_non_null(tmp);
  assert_int_equal(bw_agg_save(a.agg, tmp), 0);
  assert_int_equal(bw__alerts_save(a.al, tmp), 0);
  rewind(tmp);
  fx_init(&b, 0.75, NULL);
  assert_int_equal(bw_agg_restore(b.agg, tmp), 0);
  assert_int_equal(bw__alerts_restore(b.al, tmp), 0);
  bw_alert_counts_t c;
  bw__alerts_counts(b.al, &c);
  assert_int_equal(c.firing[0], 1);
  b.q = a.q;
  hysteresis_traffic(&b, 30, 96);
  assert_int_equal(b.ntr, 1); /* only the resolution: no second firing */
  assert_true(b.tr[0].resolved);
  assert_int_equal(b.tr[0].a.end_us, one.tr[1].a.end_us);
  assert_int_equal(b.tr[0].a.start_us, one.tr[0].a.start_us);
  size_t n1, n2;
  const bw_alert_t *l1 = bw__alerts_list(one.al, &n1, NULL);
  const bw_alert_t *l2 = bw__alerts_list(b.al, &n2, NULL);
  assert_int_equal(n1, n2);
  assert_memory_equal(l1, l2, n1 * sizeof(bw_alert_t));

  /* A damaged section is refused. */
  rewind(tmp);
  fx_t d;
  fx_init(&d, 0.75, NULL);
  assert_int_equal(bw_agg_restore(d.agg, tmp), 0);
  long at = ftell(tmp);
  fseek(tmp, at + 40, SEEK_SET);
  int ch = fgetc(tmp);
  fseek(tmp, at + 40, SEEK_SET);
  fputc(ch ^ 0x55, tmp);
  fseek(tmp, at, SEEK_SET);
  assert_int_equal(bw__alerts_restore(d.al, tmp), BW_EPARSE);
  fclose(tmp);
  fx_free(&d);
  fx_free(&one);
  fx_free(&a);
  fx_free(&b);
}

/* A complaint (ARF) counted under the sender domain at its time. */
static void complaint(fx_t *f, const char *dom, int64_t t) {
  char fb[128];
  snprintf(fb, sizeof(fb), "@%s", dom);
  bw_agg_mail_t m;
  memset(&m, 0, sizeof(m));
  m.kind = BW_MAIL_COMPLAINT;
  m.time_us = t * 1000000;
  m.fallback.p = fb;
  m.fallback.len = (uint32_t)strlen(fb);
  bw__alerts_tick(f->al, f->agg, m.time_us);
  assert_int_equal(bw_agg_add_mail(f->agg, &m, NULL), BW_MAIL_JOINED_DOMAIN);
}

/* Complaint rate = complaints / sent in the window, against 0.1 %: one
 * complaint per 100 sent for an hour fires it (and no bounce alert);
 * an hour and more without complaints resolves it. */
static void test_complaints(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 0.75, NULL);
  for (int b = 0; b < 36; b++) {
    bucket(&f, "f.example", b, 100, 0);
    if (b < 12)
      complaint(&f, "f.example", T0 + (int64_t)b * 300 + 150);
  }
  assert_int_equal(f.ntr, 2);
  const bw_alert_t *a = &f.tr[0].a;
  assert_false(f.tr[0].resolved);
  assert_int_equal(a->kind, BW_ALERT_COMPLAINT);
  assert_string_equal(a->domain, "f.example");
  assert_true(a->threshold > 0.00099 && a->threshold < 0.00101);
  assert_true(a->rate >= 0.001);
  assert_true(a->volume >= 20); /* sent messages in the window */
  assert_true(f.tr[1].resolved);
  assert_int_equal(f.tr[1].a.seq, a->seq);
  assert_true(f.tr[1].a.end_us > (int64_t)(T0 + 24 * 300) * 1000000);
  bw_alert_counts_t c;
  bw__alerts_counts(f.al, &c);
  assert_int_equal(c.fired, 1);
  assert_int_equal(c.firing[1], 0);
  fx_free(&f);
}

static void test_domain_spec(void **state) {
  (void)state;
  bw_agg_opts_t ao;
  bw_agg_opts_default(&ao);
  bw_alert_opts_t o;
  bw__alert_opts_default(&o, &ao);
  char err[128];
  assert_int_equal(bw__alert_opts_domain(&o, "x.example=bounce:5,complaint:0.3,min:50", err, sizeof(err)), 0);
  assert_int_equal(o.ndomains, 1);
  assert_true(o.domains[0].bounce > 0.0499 && o.domains[0].bounce < 0.0501);
  assert_true(o.domains[0].complaint > 0.00299 && o.domains[0].complaint < 0.00301);
  assert_int_equal(o.domains[0].min_volume, 50);
  assert_int_equal(bw__alert_opts_domain(&o, "x.example=min:7", err, sizeof(err)), 0);
  assert_int_equal(o.ndomains, 1);
  assert_int_equal(o.domains[0].min_volume, 7);
  assert_int_equal(bw__alert_opts_domain(&o, "x.example", err, sizeof(err)), -1);
  assert_int_equal(bw__alert_opts_domain(&o, "x.example=bounce:200", err, sizeof(err)), -1);
  assert_int_equal(bw__alert_opts_domain(&o, "x.example=speed:2", err, sizeof(err)), -1);
  assert_int_equal(bw__alert_opts_domain(&o, "x.example=bounce:abc", err, sizeof(err)), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hysteresis),
      cmocka_unit_test(test_no_hysteresis_flaps),
      cmocka_unit_test(test_volume_and_domain_threshold),
      cmocka_unit_test(test_gap),
      cmocka_unit_test(test_save_restore),
      cmocka_unit_test(test_complaints),
      cmocka_unit_test(test_domain_spec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
