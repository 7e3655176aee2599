/* Reports from a mailbox: the fields gmime and mailreport.c read from
 * real ARF, DSN and text-bounce samples (tests/data/mail, Sisimai's
 * set), bad mail refused with its reason, and the join of reports to
 * hand-made log lines whose Message-IDs are the samples' originals:
 * complaints per sender and provider, the complaint rate and its breach,
 * asynchronous bounces counted once, and all of it across a state save. */
#include <stdlib.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "bouncewatch/mailreport.h"
#include "logtime.h"
#include "out_agg.h"
#include "t_util.h"

static char *slurp(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/mail/%s", BW_TEST_DATA, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[1 << 20];
  *len = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  char *s = malloc(*len + 1);
  assert_non_null(s);
  memcpy(s, buf, *len);
  return s;
}

static int parse(const char *name, bw_mailreport_t *r, char *why) {
  size_t n;
  char *b = slurp(name, &n);
  int rc = bw_mailreport_parse(b, n, r, why, 256);
  free(b);
  return rc;
}

/* "2013-04-30T07:45:50Z" as µs since the epoch. */
static int64_t at(const char *iso) {
  int y, mo, d, h, mi, s;
  assert_int_equal(sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s),
                   6);
  return bw__utc_seconds(y, mo, d, h, mi, s) * 1000000;
}

static void test_arf_yahoo(void **state) {
  (void)state;
  bw_mailreport_t r;
  char why[256];
  assert_int_equal(parse("arf-02.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_ARF);
  assert_string_equal(r.format, "rfc5965");
  assert_int_equal(r.feedback, BW_FEEDBACK_ABUSE);
  assert_string_equal(r.user_agent, "Yahoo!-Mail-Feedback/1.0");
  assert_string_equal(r.original_mail_from, "shironeko@example.com");
  assert_string_equal(r.original_rcpt_to,
                      "this-local-part-does-not-exist-on-yahoo@yahoo.com");
  assert_string_equal(r.reported_domain, "example.com");
  /* Received-Date: Thu, 29 Apr 2013 23:45:50 PST */
  assert_true(r.arrival_us == at("2013-04-30T07:45:50Z"));
  assert_true(r.date_us == at("2013-04-30T07:45:00Z"));
  assert_true(r.has_original);
  assert_string_equal(r.orig_message_id,
                      "000000000000000000000000.smtp@example.com");
  assert_string_equal(r.orig_return_path, "shironeko@example.com");
  assert_string_equal(r.orig_from, "shironeko@example.com");
  assert_int_equal(r.damaged, 0);
  bw_mailreport_clear(&r);
}

static void test_arf_damaged_auth_failure_jmrp(void **state) {
  (void)state;
  bw_mailreport_t r;
  char why[256];
  /* The closing boundary is missing: read, and flagged. */
  assert_int_equal(parse("arf-01.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_ARF);
  assert_int_equal(r.feedback, BW_FEEDBACK_ABUSE);
  assert_int_equal(r.damaged, 1);
  assert_non_null(strstr(why, "truncated"));
  assert_string_equal(r.source_ip, "192.0.2.89");
  assert_string_equal(r.reported_domain, "example.ed.jp");
  assert_string_equal(r.orig_return_path, "support@example.ed.jp");
  bw_mailreport_clear(&r);

  /* auth-failure, the original as text/rfc822-headers. */
  assert_int_equal(parse("arf-20.eml", &r, why), 0);
  assert_int_equal(r.feedback, BW_FEEDBACK_AUTH_FAILURE);
  assert_string_equal(r.source_ip, "203.0.113.2");
  assert_string_equal(r.original_mail_from, "dmarc-bounces@ietf.example.org");
  assert_string_equal(r.orig_message_id, "000000000eee@example.net");
  assert_string_equal(r.orig_to, "kijitora@example.org");
  bw_mailreport_clear(&r);

  /* Microsoft JMRP: no feedback part; the recipient in its own header. */
  assert_int_equal(parse("arf-22.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_ARF);
  assert_string_equal(r.format, "microsoft-jmrp");
  assert_int_equal(r.feedback, BW_FEEDBACK_ABUSE);
  assert_string_equal(r.original_rcpt_to, "kijitora@example.com");
  assert_string_equal(r.orig_message_id,
                      "0000000000fffffffff0000000000000@example.com");
  assert_string_equal(r.orig_from, "sironeko@example.com");
  bw_mailreport_clear(&r);
}

static void test_dsn_fields(void **state) {
  (void)state;
  bw_mailreport_t r;
  char why[256];
  assert_int_equal(parse("rfc3464-01.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_DSN);
  assert_string_equal(r.reporting_mta, "smtpgw.example.jp");
  assert_true(r.arrival_us == at("2013-10-16T05:15:34Z"));
  assert_int_equal(r.nrcpts, 1);
  assert_string_equal(r.rcpts[0].final_rcpt, "userunknown@bouncehammer.jp");
  assert_int_equal(r.rcpts[0].action, BW_ACTION_FAILED);
  assert_string_equal(r.rcpts[0].status, "5.1.1");
  assert_string_equal(r.rcpts[0].remote_mta, "mx.bouncehammer.jp");
  assert_string_equal(r.rcpts[0].diagnostic,
                      "550 5.1.1 <userunknown@bouncehammer.jp>... User Unknown");
  assert_string_equal(r.orig_message_id,
                      "E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org");
  assert_string_equal(r.orig_return_path, "kijitora@example.org");
  bw_mailreport_clear(&r);

  /* Delayed. */
  assert_int_equal(parse("rfc3464-09.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_DSN);
  assert_int_equal(r.nrcpts, 1);
  assert_int_equal(r.rcpts[0].action, BW_ACTION_DELAYED);
  assert_string_equal(r.rcpts[0].status, "4.3.0");
  bw_mailreport_clear(&r);

  /* Postfix: Original-Recipient, a folded x-unix Diagnostic-Code. */
  assert_int_equal(parse("lhost-postfix-01.eml", &r, why), 0);
  assert_int_equal(r.nrcpts, 1);
  assert_string_equal(r.rcpts[0].final_rcpt, "r@p351355.pool.example.ne.jp");
  assert_string_equal(r.rcpts[0].orig_rcpt, "kijitora@example.org");
  assert_string_equal(r.rcpts[0].diagnostic,
                      "procmail: Couldn't create \"/var/spool/mail/neko\" id: "
                      "r.example.org: No such user");
  bw_mailreport_clear(&r);
}

static void test_text_bounces(void **state) {
  (void)state;
  bw_mailreport_t r;
  char why[256];
  assert_int_equal(parse("lhost-exim-01.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_BOUNCE);
  assert_string_equal(r.format, "exim");
  assert_int_equal(r.nrcpts, 1);
  assert_string_equal(r.rcpts[0].final_rcpt, "kijitora@example.ed.jp");
  assert_int_equal(r.rcpts[0].action, BW_ACTION_FAILED);
  assert_string_equal(r.rcpts[0].status, "5.7.0");
  assert_non_null(strstr(r.rcpts[0].diagnostic,
                         "550 5.7.0 <shironeko@example.jp>... Please use the "
                         "smtp server of your ISP."));
  assert_string_equal(r.orig_message_id, "E1P1ce6-000Egt-GZ@e1.example.org");
  assert_string_equal(r.orig_return_path, "shironeko@example.jp");
  bw_mailreport_clear(&r);

  assert_int_equal(parse("lhost-qmail-01.eml", &r, why), 0);
  assert_string_equal(r.format, "qmail");
  assert_int_equal(r.nrcpts, 1);
  assert_string_equal(r.rcpts[0].final_rcpt, "kijitora@example.ne.jp");
  assert_non_null(strstr(r.rcpts[0].diagnostic,
                         "550 Unknown user kijitora@example.ne.jp"));
  assert_string_equal(r.orig_message_id,
                      "000000000.9999999999999.JavaMail.postmaster@mailhub");
  bw_mailreport_clear(&r);

  assert_int_equal(parse("lhost-gmail-01.eml", &r, why), 0);
  assert_string_equal(r.format, "gmail");
  assert_int_equal(r.nrcpts, 1);
  assert_string_equal(r.rcpts[0].final_rcpt, "userunknown@example.jp");
  assert_string_equal(r.rcpts[0].status, "5.1.1");
  assert_non_null(strstr(r.rcpts[0].diagnostic, "550 5.1.1"));
  assert_string_equal(r.orig_message_id,
                      "D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com");
  assert_string_equal(r.orig_dkim_domain, "gmail.com");
  bw_mailreport_clear(&r);
  /* Exchange 2003: "addr on DATE", the diagnostic indented under it. */
  assert_int_equal(parse("lhost-exchange2003-01.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_BOUNCE);
  assert_string_equal(r.format, "microsoft");
  assert_int_equal(r.nrcpts, 1);
  assert_string_equal(r.rcpts[0].final_rcpt, "kijitora@example.jp");
  assert_non_null(strstr(r.rcpts[0].diagnostic,
                         "The recipient name is not recognized"));
  bw_mailreport_clear(&r);

  /* Office 365: the recipient in the summary and again under "Diagnostic
   * information": one recipient, with the remote server's answer. */
  assert_int_equal(parse("lhost-office365-01.eml", &r, why), 0);
  assert_string_equal(r.format, "microsoft");
  assert_int_equal(r.nrcpts, 1);
  assert_string_equal(r.rcpts[0].final_rcpt, "kijitora@example.com");
  assert_string_equal(r.rcpts[0].status, "5.1.10");
  assert_non_null(strstr(r.rcpts[0].diagnostic,
                         "550 5.1.10 RESOLVER.ADR.RecipientNotFound"));
  bw_mailreport_clear(&r);
}

static void test_bad_mail(void **state) {
  (void)state;
  bw_mailreport_t r;
  char why[256];
  /* Cut before its delivery-status part. */
  assert_int_equal(parse("rfc3464-04.eml", &r, why), BW_EPARSE);
  assert_non_null(strstr(why, "truncated"));
  /* Not a report. */
  assert_int_equal(parse("arf-26.eml", &r, why), 0);
  assert_int_equal(r.kind, BW_MR_NOT_REPORT);
  assert_non_null(strstr(why, "not a report"));
  bw_mailreport_clear(&r);
  /* Not MIME at all; empty. */
  const char *junk = "\x89PNG\r\n\x1a\n binary";
  assert_int_equal(bw_mailreport_parse(junk, strlen(junk), &r, why, sizeof(why)),
                   BW_EPARSE);
  assert_non_null(strstr(why, "not MIME"));
  assert_int_equal(bw_mailreport_parse("", 0, &r, why, sizeof(why)), BW_EPARSE);
  /* A multipart/report without its boundary parameter: its parts cannot
   * be found. */
  const char *nob =
      "From: MAILER-DAEMON@example.net\r\nTo: a@example.org\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status\r\n\r\n"
      "--x\r\nContent-Type: message/delivery-status\r\n\r\n"
      "Final-Recipient: rfc822; b@example.com\r\nAction: failed\r\n"
      "Status: 5.1.1\r\n\r\n--x--\r\n";
  assert_int_equal(bw_mailreport_parse(nob, strlen(nob), &r, why, sizeof(why)),
                   BW_EPARSE);
  assert_non_null(strstr(why, "boundary"));
  /* Every prefix of a real report parses or is refused, never crashes. */
  size_t n;
  char *b = slurp("rfc3464-01.eml", &n);
  int refused = 0;
  for (size_t k = 0; k < n; k += 7) {
    int rc = bw_mailreport_parse(b, k, &r, why, sizeof(why));
    refused += rc != 0;
    if (rc == 0)
      bw_mailreport_clear(&r);
  }
  assert_true(refused > 0);
  free(b);
}

/* ---- the join ------------------------------------------------------------ */

typedef struct {
  bw_agg_t *a;
  bw_parser_t *p;
} fx_t;

static void feed(fx_t *f, const char *line) {
  bw_event_t ev;
  bw_parse_line(f->p, line, strlen(line), &ev);
  bw_agg_add(f->a, &ev, NULL);
}

static bw_agg_opts_t join_opts(void) {
  bw_agg_opts_t o;
  bw_agg_opts_default(&o);
  o.providers_file = BW_PATTERNS_DIR "/providers.tsv";
  o.max_joined = 1000;
  o.max_seen = 100;
  o.min_volume = 10;
  return o;
}

static const bw_agg_key_t *key(bw_agg_key_t *k, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(k[i].name, name) == 0)
      return &k[i];
  return NULL;
}

/* The samples' originals as our log showed them (hand-made lines; the
 * Message-IDs, senders and recipients are the samples'). */
#define PF_YAHOO                                                               \
  "2013-04-29T00:34:22+00:00 mx8 postfix/cleanup[200]: 4A1B2C3D4E: "          \
  "message-id=<000000000000000000000000.smtp@example.com>",                    \
      "2013-04-29T00:34:22+00:00 mx8 postfix/qmgr[201]: 4A1B2C3D4E: "          \
      "from=<shironeko@example.com>, size=900, nrcpt=1 (queue active)",        \
      "2013-04-29T00:34:23+00:00 mx8 postfix/smtp[202]: 4A1B2C3D4E: "          \
      "to=<this-local-part-does-not-exist-on-yahoo@yahoo.com>, "               \
      "relay=mta5.am0.yahoodns.net[98.136.96.74]:25, delay=1, "                \
      "delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok dirdel)",            \
      "2013-04-29T00:34:23+00:00 mx8 postfix/qmgr[201]: 4A1B2C3D4E: removed"

static bw_agg_mail_t mail_of(const bw_mailreport_t *r, size_t i,
                             const bw_verdict_t *v) {
  bw_agg_mail_t m;
  memset(&m, 0, sizeof(m));
#define SP(s) ((bw_span_t){(s), (s) != NULL ? (uint32_t)strlen(s) : 0})
  m.kind = r->kind == BW_MR_ARF ? BW_MAIL_COMPLAINT : BW_MAIL_FAILED;
  m.time_us = r->date_us;
  m.message_id = SP(r->orig_message_id);
  m.fallback = SP(r->orig_return_path);
  m.rcpt = r->kind == BW_MR_ARF ? SP(r->original_rcpt_to)
                                : SP(r->rcpts[i].final_rcpt);
  m.reporter = SP(r->from);
  m.verdict = v;
#undef SP
  return m;
}

static void test_complaint_join_and_rate(void **state) {
  (void)state;
  bw_agg_opts_t o = join_opts();
  fx_t f;
  assert_int_equal(bw_agg_new(&o, &f.a), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  const char *lines[] = {PF_YAHOO};
  for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++)
    feed(&f, lines[i]);
  /* 999 more messages from example.com, sent the same hour. */
  char line[512];
  for (int i = 0; i < 999; i++) {
    snprintf(line, sizeof(line),
             "2013-04-29T01:%02d:%02d+00:00 mx8 postfix/qmgr[201]: 6%09d: "
             "from=<news@example.com>, size=900, nrcpt=1 (queue active)",
             i / 60 % 60, i % 60, i);
    feed(&f, line);
    snprintf(line, sizeof(line),
             "2013-04-29T01:%02d:%02d+00:00 mx8 postfix/smtp[202]: 6%09d: "
             "to=<u%d@yahoo.com>, relay=mta5.am0.yahoodns.net[98.136.96.74]:25, "
             "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)",
             i / 60 % 60, i % 60, i, i);
    feed(&f, line);
  }

  bw_mailreport_t r;
  char why[256];
  assert_int_equal(parse("arf-02.eml", &r, why), 0);
  bw_agg_mail_t m = mail_of(&r, 0, NULL);
  /* Its Date is 2013-04-30T07:45Z, after the log's end (01:16:38): it
   * counts at the log's last time, not later. */
  const char *sender = NULL;
  assert_int_equal(bw_agg_add_mail(f.a, &m, &sender), BW_MAIL_JOINED_MID);
  assert_string_equal(sender, "example.com");
  /* A complaint about a message the log never showed: its Return-Path
   * domain; with none, "unknown". */
  bw_agg_mail_t m2 = m;
  m2.message_id = (bw_span_t){"not-ours@elsewhere", 18};
  m2.fallback = (bw_span_t){"bounce@shop.example", 19};
  assert_int_equal(bw_agg_add_mail(f.a, &m2, &sender), BW_MAIL_JOINED_DOMAIN);
  assert_string_equal(sender, "shop.example");
  m2.fallback = (bw_span_t){NULL, 0};
  assert_int_equal(bw_agg_add_mail(f.a, &m2, &sender), BW_MAIL_UNKNOWN);
  assert_string_equal(sender, "unknown");
  bw_mailreport_clear(&r);
  bw_agg_finish(f.a);

  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  const bw_agg_key_t *ex = key(k, n, "example.com");
  assert_non_null(ex);
  assert_int_equal(ex->total.n[BW_OUT_SENT], 1000);
  assert_int_equal(ex->total.n[BW_OUT_COMPLAINTS], 1);
  assert_true(bw_complaint_rate(&ex->total) == 0.001);
  /* The 1-hour window (12 buckets of 5 minutes) ends at the log's last
   * line, 01:16:38: 1 complaint over the 1000 mails of 00:34-01:16 is
   * 0.1 %, at the threshold: a breach in both windows. */
  /* A domain with complaints and no mail in the log is listed too. */
  const bw_agg_key_t *shop = key(k, n, "shop.example");
  assert_non_null(shop);
  assert_int_equal(shop->total.n[BW_OUT_COMPLAINTS], 1);
  assert_int_equal(bw_final_outcomes(&shop->total), 0);
  assert_int_equal(ex->window[0].complaints, 1);
  assert_int_equal(ex->window[0].final, 1000);
  int cb = 0;
  for (size_t i = 0; i < ex->nbreaches; i++)
    if (ex->breaches[i].kind == 1) {
      cb++;
      assert_true(ex->breaches[i].start_us == at("2013-04-29T01:16:38Z"));
      assert_true(ex->breaches[i].peak_rate == 1.0 / 1000);
    }
  assert_int_equal(cb, 2); /* the 1 h and the 24 h windows */
  free(k);
  /* Per provider: all three complaints name a Yahoo recipient (the joined
   * one counts under the provider its delivery was counted under). */
  n = bw_agg_keys(f.a, BW_AGG_PROVIDER, &k);
  const bw_agg_key_t *y = key(k, n, "Yahoo/AOL");
  assert_non_null(y);
  assert_int_equal(y->total.n[BW_OUT_SENT], 1000);
  assert_int_equal(y->total.n[BW_OUT_COMPLAINTS], 3);
  free(k);
  bw_agg_mail_totals_t mt;
  bw_agg_mail_totals(f.a, &mt);
  assert_int_equal(mt.complaints_mid, 1);
  assert_int_equal(mt.complaints_domain, 1);
  assert_int_equal(mt.complaints_unknown, 1);
  bw_agg_free(f.a);
  bw_parser_free(f.p);
}

static void test_complaint_below_threshold_and_volume(void **state) {
  (void)state;
  bw_agg_opts_t o = join_opts();
  o.min_volume = 100;
  fx_t f;
  assert_int_equal(bw_agg_new(&o, &f.a), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  const char *lines[] = {PF_YAHOO};
  for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++)
    feed(&f, lines[i]);
  bw_mailreport_t r;
  char why[256];
  assert_int_equal(parse("arf-02.eml", &r, why), 0);
  bw_agg_mail_t m = mail_of(&r, 0, NULL);
  assert_int_equal(bw_agg_add_mail(f.a, &m, NULL), BW_MAIL_JOINED_MID);
  /* A complaint about one of our bounce notifications (from=<>): apart. */
  feed(&f, "2013-04-29T00:40:00+00:00 mx8 postfix/cleanup[200]: 7C1D2E3F4A: "
           "message-id=<20130429004000.7C1D2E3F4A@mx8.example.com>");
  feed(&f, "2013-04-29T00:40:00+00:00 mx8 postfix/qmgr[201]: 7C1D2E3F4A: "
           "from=<>, size=3000, nrcpt=1 (queue active)");
  m.message_id = (bw_span_t){"20130429004000.7C1D2E3F4A@mx8.example.com", 41};
  const char *sender = "x";
  assert_int_equal(bw_agg_add_mail(f.a, &m, &sender), BW_MAIL_NOTIFICATION);
  assert_null(sender);
  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.customer.n[BW_OUT_COMPLAINTS], 1);
  assert_int_equal(t.notifications.n[BW_OUT_COMPLAINTS], 1);
  bw_mailreport_clear(&r);
  bw_agg_finish(f.a);
  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  const bw_agg_key_t *ex = key(k, n, "example.com");
  assert_non_null(ex);
  /* 100 % complaints, but 1 mail: under the minimum volume, no breach. */
  assert_true(bw_complaint_rate(&ex->total) == 1.0);
  assert_int_equal(ex->nbreaches, 0);
  free(k);
  bw_agg_free(f.a);
  bw_parser_free(f.p);
}

static char *report_json(bw_agg_t *a, const bw_agg_opts_t *o) {
  bw_replay_stats_t st;
  memset(&st, 0, sizeof(st));
  bw_report_in_t rin = {&st, 0, 1};
  bw_agg_report_t rep;
  bw__agg_report_build(&rep, a, o, &rin);
  char *buf = NULL;
  size_t len = 0;
  FILE *mf = open_memstream(&buf, &len);
  static bw_out_t out;
  bw__out_init(&out, mf);
  bw__agg_report_json(&out, &rep);
  bw__out_flush(&out);
  fclose(mf);
  bw__agg_report_release(&rep);
  return buf;
}

static void test_async_bounce_once_across_restart(void **state) {
  (void)state;
  bw_agg_opts_t o = join_opts();
  fx_t f;
  assert_int_equal(bw_agg_new(&o, &f.a), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  const char *log[] = {
      "2013-10-16T05:15:33+00:00 smtpgw postfix/cleanup[300]: 5B2C3D4E5F: "
      "message-id=<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>",
      "2013-10-16T05:15:33+00:00 smtpgw postfix/qmgr[301]: 5B2C3D4E5F: "
      "from=<kijitora@example.org>, size=1200, nrcpt=2 (queue active)",
      "2013-10-16T05:15:34+00:00 smtpgw postfix/smtp[302]: 5B2C3D4E5F: "
      "to=<userunknown@bouncehammer.jp>, relay=mx.bouncehammer.jp[192.0.2.10]:25, "
      "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
      "2013-10-16T05:15:34+00:00 smtpgw postfix/smtp[302]: 5B2C3D4E5F: "
      "to=<other@bouncehammer.jp>, relay=mx.bouncehammer.jp[192.0.2.10]:25, "
      "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
      "2013-10-16T05:15:34+00:00 smtpgw postfix/qmgr[301]: 5B2C3D4E5F: removed",
      /* The queue id is recycled for another message: the DSN must still
       * join through the Message-ID to the first one. */
      "2013-10-16T05:15:35+00:00 smtpgw postfix/cleanup[300]: 5B2C3D4E5F: "
      "message-id=<another@example.org>",
      "2013-10-16T05:15:35+00:00 smtpgw postfix/qmgr[301]: 5B2C3D4E5F: "
      "from=<x@other.example>, size=1200, nrcpt=1 (queue active)",
  };
  for (size_t i = 0; i < sizeof(log) / sizeof(*log); i++)
    feed(&f, log[i]);
  assert_int_equal(bw_agg_mail_seen(f.a, 42), 1);
  assert_int_equal(bw_agg_mail_seen(f.a, 42), 0);

  /* Save and restore before the DSN arrives (a restart of watch). */
  char *buf = NULL;
  size_t len = 0;
  FILE *mf = open_memstream(&buf, &len);
  assert_int_equal(bw_agg_save(f.a, mf), 0);
  fclose(mf);
  bw_agg_t *b;
  assert_int_equal(bw_agg_new(&o, &b), 0);
  FILE *rf = fmemopen(buf, len, "r");
  assert_int_equal(bw_agg_restore(b, rf), 0);
  fclose(rf);
  /* Without the join (other options), the state is refused. */
  bw_agg_opts_t plain;
  bw_agg_opts_default(&plain);
  plain.providers_file = o.providers_file;
  plain.min_volume = o.min_volume;
  bw_agg_t *c;
  assert_int_equal(bw_agg_new(&plain, &c), 0);
  rf = fmemopen(buf, len, "r");
  assert_int_equal(bw_agg_restore(c, rf), BW_EPARSE);
  fclose(rf);
  bw_agg_free(c);
  free(buf);
  bw_agg_free(f.a);
  f.a = b;
  assert_int_equal(bw_agg_mail_seen(f.a, 42), 0); /* remembered */

  bw_mailreport_t r;
  char why[256];
  assert_int_equal(parse("rfc3464-01.eml", &r, why), 0);
  bw_verdict_t v;
  memset(&v, 0, sizeof(v));
  v.reason = BW_REASON_USERUNKNOWN;
  v.group = BW_GROUP_RECIPIENT;
  v.hard = 1;
  bw_agg_mail_t m = mail_of(&r, 0, &v);
  const char *sender;
  assert_int_equal(bw_agg_add_mail(f.a, &m, &sender), BW_MAIL_BOUNCED);
  assert_string_equal(sender, "example.org");
  /* The same DSN again (another copy of it): counted once. */
  assert_int_equal(bw_agg_add_mail(f.a, &m, NULL), BW_MAIL_ALREADY);
  /* A recipient the log did not show sent: reported only. */
  m.rcpt = (bw_span_t){"nobody@bouncehammer.jp", 22};
  assert_int_equal(bw_agg_add_mail(f.a, &m, NULL), BW_MAIL_NOT_SENT);
  bw_mailreport_clear(&r);
  bw_agg_finish(f.a);

  bw_agg_totals_t t;
  bw_agg_totals(f.a, &t);
  assert_int_equal(t.customer.n[BW_OUT_SENT], 1);
  assert_int_equal(t.customer.n[BW_OUT_BOUNCED], 1);
  assert_int_equal(t.customer.n[BW_OUT_HARD], 1);
  assert_int_equal(t.customer.by_reason[BW_REASON_USERUNKNOWN], 1);
  bw_agg_key_t *k;
  size_t n = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  const bw_agg_key_t *org = key(k, n, "example.org");
  assert_non_null(org);
  assert_int_equal(org->total.n[BW_OUT_SENT], 1);
  assert_int_equal(org->total.n[BW_OUT_BOUNCED], 1);
  assert_true(bw_bounce_rate(&org->total) == 0.5);
  /* The window counts the recipient once: 2 final, 1 bounced. */
  assert_int_equal(org->window[0].final, 2);
  assert_int_equal(org->window[0].bounced, 1);
  free(k);
  n = bw_agg_keys(f.a, BW_AGG_RCPT, &k);
  const bw_agg_key_t *bh = key(k, n, "bouncehammer.jp");
  assert_non_null(bh);
  assert_int_equal(bh->total.n[BW_OUT_SENT], 1);
  assert_int_equal(bh->total.n[BW_OUT_BOUNCED], 1);
  free(k);
  char *js = report_json(f.a, &o);
  assert_non_null(strstr(js, "\"complaints\":0,\"complaint_rate\":"));
  free(js);
  bw_agg_mail_totals_t mt;
  bw_agg_mail_totals(f.a, &mt);
  assert_int_equal(mt.async_bounced, 1);
  assert_int_equal(mt.async_already, 1);
  assert_int_equal(mt.async_not_sent, 1);
  bw_agg_free(f.a);
  bw_parser_free(f.p);
}

static void test_exim_join_and_eviction(void **state) {
  (void)state;
  bw_agg_opts_t o = join_opts();
  o.max_joined = 16;
  o.max_seen = 4;
  fx_t f;
  assert_int_equal(bw_agg_new(&o, &f.a), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  feed(&f, "2010-10-01 10:15:19 1P1ce6-000Egt-GZ <= shironeko@example.jp "
           "H=localhost [127.0.0.1] P=smtp S=1543 "
           "id=E1P1ce6-000Egt-GZ@e1.example.org");
  feed(&f, "2010-10-01 10:15:20 1P1ce6-000Egt-GZ => kijitora@example.ed.jp "
           "R=dnslookup T=remote_smtp H=mx.example.jp [192.0.2.20]");
  feed(&f, "2010-10-01 10:15:20 1P1ce6-000Egt-GZ Completed");
  bw_mailreport_t r;
  char why[256];
  assert_int_equal(parse("lhost-exim-01.eml", &r, why), 0);
  bw_agg_mail_t m = mail_of(&r, 0, NULL);
  const char *sender;
  assert_int_equal(bw_agg_add_mail(f.a, &m, &sender), BW_MAIL_BOUNCED);
  assert_string_equal(sender, "example.jp");
  /* 16 more messages push it out: the next copy no longer joins. */
  char line[256];
  for (int i = 0; i < 16; i++) {
    snprintf(line, sizeof(line),
             "2010-10-01 11:00:%02d 1P1cf%d-000Egt-GZ <= s@example.jp H=h "
             "[127.0.0.1] P=smtp S=1 id=m%d@example.jp",
             i, i % 10, i);
    feed(&f, line);
  }
  assert_int_equal(bw_agg_add_mail(f.a, &m, NULL), BW_MAIL_NOT_SENT);
  bw_agg_mail_totals_t mt;
  bw_agg_mail_totals(f.a, &mt);
  assert_true(mt.joined_evicted >= 1);
  assert_int_equal(mt.joined, 16);
  /* Identities: a cap of 4, the oldest forgotten and counted. */
  for (uint64_t i = 1; i <= 5; i++)
    assert_int_equal(bw_agg_mail_seen(f.a, i), 1);
  bw_agg_mail_totals(f.a, &mt);
  assert_int_equal(mt.seen_evicted, 1);
  assert_int_equal(bw_agg_mail_seen(f.a, 5), 0);
  assert_int_equal(bw_agg_mail_seen(f.a, 1), 1); /* forgotten */
  bw_mailreport_clear(&r);
  bw_agg_free(f.a);
  bw_parser_free(f.p);
}

/* The join's tables grow from 1,024 entries to their cap, keep every
 * entry while growing, evict the oldest at the cap, and save and restore
 * at the size they reached. */
static void test_join_grows_to_cap(void **state) {
  (void)state;
  bw_agg_opts_t o = join_opts();
  o.max_joined = 3000;
  o.max_seen = 3000;
  fx_t f;
  assert_int_equal(bw_agg_new(&o, &f.a), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  char line[512], mid[64];
  for (int i = 0; i < 4000; i++) {
    snprintf(line, sizeof(line),
             "2024-05-01 10:%02d:%02d 1s%04d-000Xyz-AB <= news@shop.example "
             "H=h [192.0.2.1] P=esmtps S=100 id=m%d@shop.example",
             i / 60 % 60, i % 60, i, i);
    feed(&f, line);
    snprintf(line, sizeof(line),
             "2024-05-01 10:%02d:%02d 1s%04d-000Xyz-AB => u%d@example.net "
             "R=dnslookup T=remote_smtp H=mx.example.net [192.0.2.2]",
             i / 60 % 60, i % 60, i, i);
    feed(&f, line);
    assert_int_equal(bw_agg_mail_seen(f.a, (uint64_t)i + 7), 1);
    if (i == 2000) {
      /* Grown past its start, nothing lost yet. */
      bw_agg_mail_totals_t mt;
      bw_agg_mail_totals(f.a, &mt);
      assert_int_equal(mt.joined, 2001);
      assert_int_equal(mt.joined_evicted, 0);
      assert_int_equal(mt.seen, 2001);
    }
  }
  /* Save and restore at the grown size. */
  char *buf = NULL;
  size_t len = 0;
  FILE *mf = open_memstream(&buf, &len);
  assert_int_equal(bw_agg_save(f.a, mf), 0);
  fclose(mf);
  bw_agg_t *b;
  assert_int_equal(bw_agg_new(&o, &b), 0);
  FILE *rf = fmemopen(buf, len, "r");
  assert_int_equal(bw_agg_restore(b, rf), 0);
  fclose(rf);
  free(buf);
  bw_agg_free(f.a);
  f.a = b;

  bw_agg_mail_totals_t mt;
  bw_agg_mail_totals(f.a, &mt);
  assert_int_equal(mt.joined, 3000);
  assert_int_equal(mt.joined_evicted, 1000);
  assert_int_equal(mt.seen_evicted, 1000);
  assert_int_equal(bw_agg_mail_known(f.a, 7), 0);      /* the oldest: gone */
  assert_int_equal(bw_agg_mail_known(f.a, 3999 + 7), 1); /* the newest */
  bw_agg_mail_t m;
  memset(&m, 0, sizeof(m));
  m.kind = BW_MAIL_FAILED;
  m.time_us = 1714560000ll * 1000000;
  const char *sender;
  /* The 1001st message is the oldest kept; the 1000th was evicted. */
  snprintf(mid, sizeof(mid), "m%d@shop.example", 1000);
  m.message_id = (bw_span_t){mid, (uint32_t)strlen(mid)};
  m.rcpt = (bw_span_t){"u1000@example.net", 17};
  assert_int_equal(bw_agg_add_mail(f.a, &m, &sender), BW_MAIL_BOUNCED);
  assert_string_equal(sender, "shop.example");
  snprintf(mid, sizeof(mid), "m%d@shop.example", 999);
  m.message_id = (bw_span_t){mid, (uint32_t)strlen(mid)};
  m.rcpt = (bw_span_t){"u999@example.net", 16};
  assert_int_equal(bw_agg_add_mail(f.a, &m, NULL), BW_MAIL_NOT_SENT);
  bw_agg_free(f.a);
  bw_parser_free(f.p);
}

/* A complaint-rate breach opens with the complaint and closes when more
 * sent mail in the window brings the rate under the threshold. */
static void test_complaint_breach_closes(void **state) {
  (void)state;
  bw_agg_opts_t o = join_opts();
  o.nwindows = 1;
  o.windows_s[0] = 3600;
  fx_t f;
  assert_int_equal(bw_agg_new(&o, &f.a), 0);
  assert_int_equal(bw_parser_new(&f.p), 0);
  char line[512];
  int n = 0;
  for (int k = 0; k < 2; k++) {
    int upto = k == 0 ? 200 : 1200;
    for (; n < upto; n++) {
      snprintf(line, sizeof(line),
               "2024-05-01 10:%02d:%02d 1t%04d-000Xyz-AB <= news@shop.example "
               "H=h [192.0.2.1] P=esmtps S=100 id=c%d@shop.example",
               n / 60 % 60, n % 60, n, n);
      feed(&f, line);
      snprintf(line, sizeof(line),
               "2024-05-01 10:%02d:%02d 1t%04d-000Xyz-AB => u%d@example.net "
               "R=dnslookup T=remote_smtp H=mx.example.net [192.0.2.2]",
               n / 60 % 60, n % 60, n, n);
      feed(&f, line);
    }
    if (k == 0) {
      bw_agg_mail_t m;
      memset(&m, 0, sizeof(m));
      m.kind = BW_MAIL_COMPLAINT;
      m.time_us = at("2024-05-01T10:03:19Z");
      m.message_id = (bw_span_t){"c7@shop.example", 15};
      m.rcpt = (bw_span_t){"u7@example.net", 14};
      assert_int_equal(bw_agg_add_mail(f.a, &m, NULL), BW_MAIL_JOINED_MID);
    }
  }
  bw_agg_finish(f.a);
  bw_agg_key_t *k;
  size_t nk = bw_agg_keys(f.a, BW_AGG_SENDER, &k);
  const bw_agg_key_t *shop = key(k, nk, "shop.example");
  assert_non_null(shop);
  assert_int_equal(shop->nbreaches, 1);
  const bw_breach_t *b = &shop->breaches[0];
  assert_int_equal(b->kind, 1);
  assert_true(b->start_us == at("2024-05-01T10:03:19Z"));
  assert_true(b->peak_rate == 1.0 / 200);
  /* Closed by the 1000th sent mail: 1 / 1000 is still 0.1 %, 1 / 1001
   * is under. */
  assert_true(b->end_us == at("2024-05-01T10:16:40Z"));
  assert_true(bw_window_complaint_rate(&shop->window[0]) < 0.001);
  free(k);
  bw_agg_free(f.a);
  bw_parser_free(f.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arf_yahoo),
      cmocka_unit_test(test_arf_damaged_auth_failure_jmrp),
      cmocka_unit_test(test_dsn_fields),
      cmocka_unit_test(test_text_bounces),
      cmocka_unit_test(test_bad_mail),
      cmocka_unit_test(test_complaint_join_and_rate),
      cmocka_unit_test(test_complaint_below_threshold_and_volume),
      cmocka_unit_test(test_async_bounce_once_across_restart),
      cmocka_unit_test(test_exim_join_and_eviction),
      cmocka_unit_test(test_join_grows_to_cap),
      cmocka_unit_test(test_complaint_breach_closes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
