/* The suppression list on real-format Postfix and Exim lines: hard
 * bounces suppress at once with their evidence, soft ones only N times
 * in M days (once per message), sent deliveries clear, expiry runs in log
 * time, the cap evicts and counts, the state section round-trips and a
 * damaged one is refused, and the three export formats. */
#include <stdlib.h>
#include <unistd.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "bouncewatch/suppress.h"
#include "t_util.h"

typedef struct {
  bw_agg_t *a;
  bw_suppress_t *s;
  bw_parser_t *p;
} fx_t;

static fx_t fx_new(const bw_suppress_opts_t *o) {
  fx_t f;
  assert_int_equal(bw_agg_new(NULL, &f.a), 0);
  assert_int_equal(bw_suppress_new(o, &f.s), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  bw_parser_set_reference(f.p, 1718452800);
  return f;
}

static void fx_free(fx_t *f) {
  bw_agg_free(f->a);
  bw_suppress_free(f->s);
  bw_parser_free(f->p);
}

/* Feed one line as the replay callback does: the join first, then the
 * list with the sender domain the join knows. Failures get `reason`,
 * hard as the classifier would say. */
static void feed(fx_t *f, const char *line, bw_reason_t reason) {
  bw_event_t ev;
  bw_parse_line(f->p, line, strlen(line), &ev);
  bw_verdict_t v;
  memset(&v, 0, sizeof(v));
  v.reason = reason;
  v.hard = reason == BW_REASON_USERUNKNOWN ||
           reason == BW_REASON_HOSTUNKNOWN || reason == BW_REASON_HASMOVED;
  int failed = ev.kind == BW_KIND_DELIVERY && ev.status != BW_STATUS_SENT;
  bw_agg_add(f->a, &ev, failed ? &v : NULL);
  bw_suppress_add(f->s, &ev, failed ? &v : NULL, bw_agg_sender_of(f->a, &ev));
}

static const bw_suppress_entry_t *find(bw_suppress_entry_t *v, size_t n,
                                       const char *addr) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i].addr, addr) == 0)
      return &v[i];
  return NULL;
}

/* Write the list in a format into a string (caller frees). */
static char *render(bw_suppress_t *s, bw_suppress_format_t fmt,
                    uint64_t *skipped) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(bw_suppress_write(s, fmt, f, skipped), 0);
  fclose(f);
  return buf;
}

#define PF(day) "2024-05-" day "T12:00:00+00:00 mx1 "
#define QM(day) PF(day) "postfix/qmgr[2]: "
#define SM(day) PF(day) "postfix/smtp[3]: "

static void test_hard_bounce_with_evidence(void **state) {
  (void)state;
  fx_t f = fx_new(NULL);
  feed(&f, QM("01") "A1B2C3D4E5: from=<news@Mail.Example.org>, size=100, nrcpt=2 (queue active)", 0);
  feed(&f, SM("01") "A1B2C3D4E5: to=<Nobody@Example.co.jp>, relay=mx.example.co.jp[192.0.2.153]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, status=bounced (host mx.example.co.jp[192.0.2.153] said: 550 5.1.1 <nobody@example.co.jp>... User Unknown (in reply to RCPT TO command))",
       BW_REASON_USERUNKNOWN);
  /* A hard reason on a deferral is not proof (greylisting MXes say 450
   * 4.1.1): one of them suppresses nothing. */
  feed(&f, SM("01") "A1B2C3D4E5: to=<maybe@example.net>, relay=mx.example.net[198.51.100.5]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=4.1.1, status=deferred (host mx.example.net[198.51.100.5] said: 450 4.1.1 <maybe@example.net>: Recipient address rejected: unverified address (in reply to RCPT TO command))",
       BW_REASON_USERUNKNOWN);
  /* A soft reason outside both sets never enters the table. */
  feed(&f, SM("01") "A1B2C3D4E5: to=<dmarc@example.com>, relay=mx.example.com[192.0.2.7]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=5.7.26, status=bounced (host mx.example.com[192.0.2.7] said: 550 5.7.26 DMARC policy (in reply to end of DATA command))",
       BW_REASON_AUTHFAILURE);
  bw_suppress_entry_t *v;
  size_t n = bw_suppress_list(f.s, &v);
  assert_int_equal(n, 1);
  const bw_suppress_entry_t *e = find(v, n, "nobody@example.co.jp");
  assert_non_null(e);
  assert_int_equal(e->reason, BW_REASON_USERUNKNOWN);
  assert_int_equal(e->hard, 1);
  assert_string_equal(e->sender_domain, "mail.example.org");
  assert_string_equal(e->dsn, "5.1.1");
  assert_true(e->text_len > 0 && memmem(e->text, e->text_len, "User Unknown", 12));
  int64_t t0 = 1714564800ll * 1000000; /* 2024-05-01T12:00:00Z */
  assert_true(e->last_us == t0 && e->since_us == t0);
  assert_true(e->expires_us == t0 + 7ll * 86400 * 1000000);
  free(v);
  bw_suppress_stats_t st;
  bw_suppress_stats(f.s, &st);
  assert_int_equal(st.suppressed_hard, 1);
  assert_int_equal(st.tracked, 2); /* the deferral is a soft candidate */
  fx_free(&f);
}

static void test_soft_n_in_m_once_per_message(void **state) {
  (void)state;
  fx_t f = fx_new(NULL); /* 3 in 7 days */
  const char *full = "dsn=4.2.2, status=deferred (host mx.example.jp[192.0.2.9] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))";
  char line[512];
  /* One message deferred five times: one soft failure. */
  for (int i = 0; i < 5; i++) {
    snprintf(line, sizeof(line), SM("0%d") "AAAA000001: to=<full@example.jp>, relay=mx.example.jp[192.0.2.9]:25, delay=1, delays=0/0/0/1, %s", 1 + i, full);
    feed(&f, line, BW_REASON_MAILBOXFULL);
  }
  bw_suppress_entry_t *v;
  assert_int_equal(bw_suppress_list(f.s, &v), 0);
  /* A second message 3 days later, a third 9 days after the first: the
   * last three span more than 7 days... */
  snprintf(line, sizeof(line), SM("04") "AAAA000002: to=<full@example.jp>, relay=mx.example.jp[192.0.2.9]:25, delay=1, delays=0/0/0/1, %s", full);
  feed(&f, line, BW_REASON_MAILBOXFULL);
  snprintf(line, sizeof(line), SM("10") "AAAA000003: to=<full@example.jp>, relay=mx.example.jp[192.0.2.9]:25, delay=1, delays=0/0/0/1, %s", full);
  feed(&f, line, BW_REASON_MAILBOXFULL);
  assert_int_equal(bw_suppress_list(f.s, &v), 0);
  /* ... a fourth on day 11: 04, 10, 11 are inside 7 days. */
  snprintf(line, sizeof(line), SM("11") "AAAA000004: to=<full@example.jp>, relay=mx.example.jp[192.0.2.9]:25, delay=1, delays=0/0/0/1, %s", full);
  feed(&f, line, BW_REASON_MAILBOXFULL);
  size_t n = bw_suppress_list(f.s, &v);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].addr, "full@example.jp");
  assert_int_equal(v[0].hard, 0);
  assert_int_equal(v[0].reason, BW_REASON_MAILBOXFULL);
  assert_int_equal(v[0].failures, 8);
  free(v);
  fx_free(&f);
}

static void test_sent_clears_and_expiry_in_log_time(void **state) {
  (void)state;
  fx_t f = fx_new(NULL);
  feed(&f, "2024-05-01 10:00:00 1rABCd-000Xyz-AB <= sender@example.com H=mail.example.com [192.0.2.1] P=esmtps S=2345 id=abc.123@example.com", 0);
  feed(&f, "2024-05-01 10:00:01 1rABCd-000Xyz-AB ** kijitora@example.jp R=dnslookup T=remote_smtp H=mx.example.jp [192.0.2.153]: SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>: 550 5.1.1 <kijitora@example.jp>... User Unknown",
       BW_REASON_USERUNKNOWN);
  feed(&f, "2024-05-01 10:00:02 1rABCd-000Xyz-AB ** gone@nowhere.example R=dnslookup: Unrouteable address",
       BW_REASON_HOSTUNKNOWN);
  bw_suppress_entry_t *v;
  size_t n = bw_suppress_list(f.s, &v);
  assert_int_equal(n, 2);
  assert_string_equal(find(v, n, "kijitora@example.jp")->sender_domain, "example.com");
  free(v);
  /* The mailbox was created again: a delivery takes it off. */
  feed(&f, "2024-05-02 10:00:00 1rABCf-000Xyz-AB <= other@example.com H=mail.example.com [192.0.2.1] P=esmtps S=2345 id=abc.124@example.com", 0);
  feed(&f, "2024-05-02 10:00:01 1rABCf-000Xyz-AB => kijitora@example.jp R=dnslookup T=remote_smtp H=mx.example.jp [192.0.2.153] C=\"250 OK\"", 0);
  n = bw_suppress_list(f.s, &v);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].addr, "gone@nowhere.example");
  free(v);
  /* Eight days of log later the hard bounce has run out. */
  feed(&f, "2024-05-09 10:00:03 1rABCg-000Xyz-AB => ok@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.8] C=\"250 OK\"", 0);
  assert_int_equal(bw_suppress_list(f.s, &v), 0);
  bw_suppress_stats_t st;
  bw_suppress_stats(f.s, &st);
  assert_int_equal(st.cleared_by_sent, 1);
  assert_int_equal(st.active, 0);
  fx_free(&f);
}

static void test_cap_evicts_and_counts(void **state) {
  (void)state;
  bw_suppress_opts_t o;
  bw_suppress_opts_default(&o);
  o.max_entries = 16;
  fx_t f = fx_new(&o);
  char line[512];
  for (int i = 0; i < 40; i++) {
    snprintf(line, sizeof(line), SM("01") "B%09d: to=<u%d@example.net>, relay=mx.example.net[198.51.100.5]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.5] said: 550 5.1.1 no such user (in reply to RCPT TO command))", i, i);
    feed(&f, line, BW_REASON_USERUNKNOWN);
  }
  bw_suppress_stats_t st;
  bw_suppress_stats(f.s, &st);
  assert_int_equal(st.tracked, 16);
  assert_int_equal(st.evicted, 24);
  assert_int_equal(st.evicted_active, 24);
  assert_int_equal(st.suppressed_hard, 40);
  bw_suppress_entry_t *v;
  assert_int_equal(bw_suppress_list(f.s, &v), 16);
  free(v);
  fx_free(&f);
}

/* A full table first lets go of what ran out: no live entry evicted. */
static void test_full_table_sweeps_expired_first(void **state) {
  (void)state;
  bw_suppress_opts_t o;
  bw_suppress_opts_default(&o);
  o.max_entries = 16;
  fx_t f = fx_new(&o);
  char line[512];
  for (int i = 0; i < 32; i++) {
    snprintf(line, sizeof(line), SM("%s") "B%09d: to=<u%d@example.net>, relay=mx.example.net[198.51.100.5]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.5] said: 550 5.1.1 no such user (in reply to RCPT TO command))",
             i < 16 ? "01" : "10", i, i);
    feed(&f, line, BW_REASON_USERUNKNOWN);
  }
  bw_suppress_stats_t st;
  bw_suppress_stats(f.s, &st);
  assert_int_equal(st.evicted, 0);
  assert_int_equal(st.expired, 16);
  assert_int_equal(st.active, 16);
  bw_suppress_entry_t *v;
  size_t n = bw_suppress_list(f.s, &v);
  assert_int_equal(n, 16);
  assert_non_null(find(v, n, "u16@example.net"));
  assert_null(find(v, n, "u15@example.net"));
  free(v);
  fx_free(&f);
}

static void test_state_roundtrip_and_damage(void **state) {
  (void)state;
  fx_t f = fx_new(NULL);
  feed(&f, QM("01") "C1C2C3C4C5: from=<a@example.org>, size=100, nrcpt=2 (queue active)", 0);
  feed(&f, SM("01") "C1C2C3C4C5: to=<x@example.co.jp>, relay=mx.example.co.jp[192.0.2.153]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.co.jp[192.0.2.153] said: 550 5.1.1 User Unknown (in reply to RCPT TO command))",
       BW_REASON_USERUNKNOWN);
  feed(&f, SM("01") "C1C2C3C4C5: to=<y@example.co.jp>, relay=mx.example.co.jp[192.0.2.153]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (host mx.example.co.jp[192.0.2.153] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))",
       BW_REASON_MAILBOXFULL);
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  assert_int_equal(bw_suppress_save(f.s, m), 0);
  fclose(m);
  char *before = render(f.s, BW_SUPPRESS_JSON, NULL);

  bw_suppress_t *r;
  assert_int_equal(bw_suppress_new(NULL, &r), 0);
  FILE *in = fmemopen(buf, len, "rb");
  assert_int_equal(bw_suppress_restore(r, in), 0);
  fclose(in);
  char *after = render(r, BW_SUPPRESS_JSON, NULL);
  assert_string_equal(before, after);
  /* The candidate came back too: two more mailbox-full messages make it. */
  bw_suppress_free(f.s);
  f.s = r;
  feed(&f, SM("02") "D1D2D3D4D5: to=<y@example.co.jp>, relay=mx.example.co.jp[192.0.2.153]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (452 4.2.2 Mailbox full)", BW_REASON_MAILBOXFULL);
  feed(&f, SM("03") "E1E2E3E4E5: to=<y@example.co.jp>, relay=mx.example.co.jp[192.0.2.153]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (452 4.2.2 Mailbox full)", BW_REASON_MAILBOXFULL);
  bw_suppress_entry_t *v;
  assert_int_equal(bw_suppress_list(f.s, &v), 2);
  free(v);

  /* Truncated, or one byte flipped: refused whole, the table left empty. */
  for (int k = 0; k < 2; k++) {
    if (k == 1)
      buf[len / 2] ^= 0x40;
    assert_int_equal(bw_suppress_new(NULL, &r), 0);
    in = fmemopen(buf, k == 0 ? len - 3 : len, "rb");
    assert_int_equal(bw_suppress_restore(r, in), BW_EPARSE);
    fclose(in);
    assert_int_equal(bw_suppress_list(r, &v), 0);
    bw_suppress_free(r);
  }
  free(buf);
  free(before);
  free(after);
  fx_free(&f);
}

static void test_formats(void **state) {
  (void)state;
  fx_t f = fx_new(NULL);
  feed(&f, QM("01") "F1F2F3F4F5: from=<news@example.org>, size=100, nrcpt=3 (queue active)", 0);
  feed(&f, SM("01") "F1F2F3F4F5: to=<bob@example.co.jp>, relay=mx.example.co.jp[192.0.2.153]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.co.jp[192.0.2.153] said: 550 5.1.1 \"bob\", unknown (in reply to RCPT TO command))",
       BW_REASON_USERUNKNOWN);
  /* A local recipient without a domain: CSV and JSON hold it, access(5)
   * cannot (a bare name there is a domain pattern). */
  feed(&f, PF("01") "postfix/local[4]: F1F2F3F4F5: to=<olduser>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=5.1.1, status=bounced (unknown user: \"olduser\")",
       BW_REASON_USERUNKNOWN);
  uint64_t skipped = 0;
  char *pf = render(f.s, BW_SUPPRESS_POSTFIX, &skipped);
  assert_int_equal(skipped, 1);
  assert_non_null(strstr(pf, "\nbob@example.co.jp REJECT recipient suppressed by bouncewatch: userunknown (5.1.1) hard bounce at 2024-05-01T12:00:00Z, until 2024-05-08T12:00:00Z\n"));
  assert_null(strstr(pf, "\nolduser"));
  char *csv = render(f.s, BW_SUPPRESS_CSV, NULL);
  assert_non_null(strstr(csv, "address,reason,kind,failures,"));
  assert_non_null(strstr(csv, "\nbob@example.co.jp,userunknown,hard,1,2024-05-01T12:00:00Z,2024-05-01T12:00:00Z,2024-05-01T12:00:00Z,2024-05-08T12:00:00Z,5.1.1,example.org,\"host mx.example.co.jp[192.0.2.153] said: 550 5.1.1 \"\"bob\"\", unknown (in reply to RCPT TO command)\"\n"));
  assert_non_null(strstr(csv, "\nolduser,userunknown,hard,"));
  char *js = render(f.s, BW_SUPPRESS_JSON, NULL);
  assert_non_null(strstr(js, "{\"address\":\"bob@example.co.jp\",\"reason\":\"userunknown\",\"kind\":\"hard\",\"failures\":1,"));
  assert_non_null(strstr(js, "\"sender_domain\":\"example.org\""));
  free(pf);
  free(csv);
  free(js);
  fx_free(&f);
}

static void test_options(void **state) {
  (void)state;
  uint64_t set;
  const char *bad = NULL;
  assert_int_equal(bw_suppress_reasons("userunknown, hasmoved", &set, &bad), 0);
  assert_true(set == ((1ull << BW_REASON_USERUNKNOWN) | (1ull << BW_REASON_HASMOVED)));
  assert_int_equal(bw_suppress_reasons("none", &set, &bad), 0);
  assert_true(set == 0);
  assert_int_equal(bw_suppress_reasons("userunknown,nosuch", &set, &bad), BW_EINVAL);
  assert_string_equal(bad, "nosuch");
  assert_int_equal(bw_suppress_format_from_name("postfix"), BW_SUPPRESS_POSTFIX);
  assert_int_equal(bw_suppress_format_from_name("xml"), -1);
  bw_suppress_opts_t o;
  bw_suppress_opts_default(&o);
  o.soft_count = BW_SUPPRESS_MAX_SOFT + 1;
  bw_suppress_t *s = NULL;
  assert_int_equal(bw_suppress_new(&o, &s), BW_EINVAL);
  assert_null(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hard_bounce_with_evidence),
      cmocka_unit_test(test_soft_n_in_m_once_per_message),
      cmocka_unit_test(test_sent_clears_and_expiry_in_log_time),
      cmocka_unit_test(test_cap_evicts_and_counts),
      cmocka_unit_test(test_full_table_sweeps_expired_first),
      cmocka_unit_test(test_state_roundtrip_and_damage),
      cmocka_unit_test(test_formats),
      cmocka_unit_test(test_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
