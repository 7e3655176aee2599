/* The Exim mainlog grammar: every flag, both id lengths, optional pid and
 * zone, quoted fields, old and new "SMTP error" wording. Diagnostics are
 * real ones from Sisimai's public sample set (data/README.md); framing
 * follows Exim's spec "Log line flags" (tech-notes §7). */
#include <stdlib.h>

#include "t_util.h"

static void test_arrival(void **state) {
  (void)state;
  bw_event_t ev;
  assert_int_equal(
      t_parse("2024-05-01 12:00:07 1rABCd-000Xyz-AB <= sender@example.com "
              "H=mail.example.com (helo.example.com) [192.0.2.1]:41234 "
              "I=[192.0.2.2]:25 P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 "
              "CV=no S=2345 id=abc.123@example.com T=\"Hello: world\"",
              &ev),
      BW_KIND_ARRIVAL);
  assert_int_equal(ev.mta, BW_MTA_EXIM);
  assert_span(ev.queue_id, "1rABCd-000Xyz-AB");
  assert_span(ev.sender, "sender@example.com");
  assert_span(ev.client, "mail.example.com (helo.example.com) [192.0.2.1]:41234");
  assert_int_equal(ev.size, 2345);
  assert_span(ev.message_id, "abc.123@example.com");
  assert_string_equal(ev.exim_flag, "<=");
  assert_span(ev.text, NULL);
}

static void test_bounce_arrival(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse("2024-05-01 12:00:13 1rABCe-000Xyz-CD <= <> R=1rABCd-000Xyz-AB "
          "U=Debian-exim P=local S=3456",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_ARRIVAL);
  assert_true(ev.has_sender);
  assert_span(ev.sender, "");
  assert_span(ev.parent_id, "1rABCd-000Xyz-AB");
}

static void test_delivered(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse("2024-05-01 12:00:10 1rABCd-000Xyz-AB => ok@example.com "
          "R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.8]* "
          "X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 OK: "
          "queued as 1234\" DT=1s",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_SENT);
  assert_span(ev.rcpt, "ok@example.com");
  assert_span(ev.relay, "mx.example.com [192.0.2.8]");
  assert_int_equal(ev.reply_code, 250);
  assert_span(ev.reply_dsn, "2.0.0");
  assert_span(ev.dsn, NULL);
  assert_string_equal(ev.exim_flag, "=>");

  t_parse("2024-05-01 12:00:10 1rABCd-000Xyz-AB -> two@example.com "
          "R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.8]",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_SENT);
  assert_string_equal(ev.exim_flag, "->");
  t_parse("2024-05-01 12:00:10 1rABCd-000Xyz-AB >> cut@example.com "
          "R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.8]",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_SENT);
  t_parse("2024-05-01 12:00:10 1rABCd-000Xyz-AB *> n@example.com "
          "R=dnslookup T=remote_smtp",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_SUPPRESSED);

  /* Local delivery through an alias: the original in angle brackets. */
  t_parse("2024-05-01 12:00:10 1rABCd-000Xyz-AB => kevin "
          "<postmaster@example.com> R=local_user T=mail_spool",
          &ev);
  assert_span(ev.rcpt, "kevin");
  assert_span(ev.orig_rcpt, "postmaster@example.com");
}

static void test_failed(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse("2024-05-01 12:00:08 1rABCd-000Xyz-AB ** nobody@example.net "
          "R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.7] "
          "X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error from remote "
          "mail server after RCPT TO:<nobody@example.net>: 550 5.1.1 "
          "<nobody@example.net>: Recipient address rejected: User unknown in "
          "local recipient table",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_BOUNCED);
  assert_span(ev.relay, "mx.example.net [198.51.100.7]");
  assert_int_equal(ev.stage, BW_STAGE_RCPT);
  assert_int_equal(ev.reply_code, 550);
  assert_span(ev.dsn, "5.1.1");
  assert_span(ev.text, "SMTP error from remote mail server after RCPT "
                       "TO:<nobody@example.net>: 550 5.1.1 "
                       "<nobody@example.net>: Recipient address rejected: "
                       "User unknown in local recipient table");
}

static void test_failed_old_wording(void **state) {
  (void)state;
  bw_event_t ev;
  /* "remote mailer" and the host inside the text (older Exim). */
  t_parse("2024-05-01 12:00:08 1rABCd-000Xyz-AB ** kijitora@example.jp "
          "R=dnslookup T=remote_smtp: SMTP error from remote mailer after RCPT "
          "TO:<kijitora@example.jp>: host mx.example.jp [192.0.2.153]: 550 "
          "5.1.1 <kijitora@example.jp>... User Unknown",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_BOUNCED);
  assert_int_equal(ev.stage, BW_STAGE_RCPT);
  assert_int_equal(ev.reply_code, 550);
  assert_span(ev.dsn, "5.1.1");

  t_parse("2024-05-01 12:00:08 1rABCd-000Xyz-AB ** kijitora@example.jp: host "
          "mx2.example.net [192.0.2.222] SMTP error from remote mail server "
          "after MAIL FROM:<sironeko-nyaan@neko.example.com> SIZE=1024: 554 "
          "5.7.1 Reverse DNS failed.",
          &ev);
  assert_span(ev.rcpt, "kijitora@example.jp");
  assert_int_equal(ev.stage, BW_STAGE_MAIL);
  assert_int_equal(ev.reply_code, 554);
  assert_span(ev.dsn, "5.7.1");

  t_parse("2024-05-01 12:00:08 1rABCd-000Xyz-AB ** kijitora@example.jp "
          "R=dnslookup T=remote_smtp H=relay.example.net [192.0.2.222]: SMTP "
          "error from remote mail server after initial connection: 571 No PTR "
          "Record found. Reverse DNS required: 203.0.113.22",
          &ev);
  assert_int_equal(ev.stage, BW_STAGE_CONNECT);
  assert_int_equal(ev.reply_code, 571);
  assert_span(ev.dsn, NULL);

  t_parse("2024-05-01 12:00:08 1rABCd-000Xyz-AB ** x@example.jp R=dnslookup "
          "T=remote_smtp H=mx.example.jp [192.0.2.20]: SMTP error from remote "
          "mail server after end of data: 554 5.7.0 Header error",
          &ev);
  assert_int_equal(ev.stage, BW_STAGE_END_OF_DATA);
  assert_int_equal(ev.reply_code, 554);
}

static void test_unrouteable_and_expiry(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse("2024-05-01 12:00:08 1rABCd-000Xyz-AB ** nouser@example.invalid: "
          "Unrouteable address",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_BOUNCED);
  assert_span(ev.rcpt, "nouser@example.invalid");
  assert_span(ev.text, "Unrouteable address");

  t_parse("2024-05-01 12:00:11 1rABCd-000Xyz-AB ** old@example.com: retry "
          "timeout exceeded",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_EXPIRED);
  assert_span(ev.rcpt, "old@example.com");

  t_parse("2024-05-01 12:00:11 1rABCd-000Xyz-AB ** old@example.com "
          "R=dnslookup T=remote_smtp: all hosts for 'example.com' have been "
          "failing for a long time (and retry time not reached)",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_EXPIRED);
}

static void test_deferred(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse("2024-05-01 12:00:09 +0200 [4321] 16VDhn-000000001bo-D342 == "
          "later@example.com R=dnslookup T=remote_smtp defer (-44) "
          "H=mx.example.com [192.0.2.8]: SMTP error from remote mail server "
          "after pipelined RCPT TO:<later@example.com>: 451-4.7.1 Greylisted",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_DEFERRED);
  assert_span(ev.queue_id, "16VDhn-000000001bo-D342");
  assert_int_equal(ev.pid, 4321);
  assert_int_equal(ev.stage, BW_STAGE_RCPT);
  assert_int_equal(ev.reply_code, 451);
  assert_span(ev.dsn, "4.7.1");
  /* 12:00:09 +0200 = 10:00:09Z */
  assert_true(ev.time_us == INT64_C(1714557609000000));

  t_parse("2024-05-01 12:00:09 1rABCd-000Xyz-AB == x@example.com "
          "R=dnslookup T=remote_smtp defer (111): Connection refused",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_DEFERRED);
  assert_span(ev.text, "Connection refused");
  assert_int_equal(ev.reply_code, 0);

  t_parse("2024-05-01 12:00:09 1rABCd-000Xyz-AB == x@example.com "
          "routing defer (-52): retry time not reached",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_DEFERRED);
  assert_span(ev.text, "retry time not reached");
}

static void test_completed_and_other(void **state) {
  (void)state;
  bw_event_t ev;
  assert_int_equal(
      t_parse("2024-05-01 12:00:12 1rABCd-000Xyz-AB Completed", &ev),
      BW_KIND_REMOVED);
  assert_span(ev.queue_id, "1rABCd-000Xyz-AB");
  assert_int_equal(t_parse("2024-05-01 12:00:12 H=(bad) [203.0.113.5] "
                           "rejected EHLO or HELO bad: syntax",
                           &ev),
                   BW_KIND_MTA_OTHER);
  assert_int_equal(ev.mta, BW_MTA_EXIM);
  assert_int_equal(t_parse("2024-05-01 12:00:12 Start queue run: pid=123",
                           &ev),
                   BW_KIND_MTA_OTHER);
  assert_int_equal(t_parse("2024-05-01 12:00:12 1rABCd-000Xyz-AB Frozen",
                           &ev),
                   BW_KIND_MTA_OTHER);
  /* Not a date at all. */
  assert_int_equal(t_parse("2024-13-01 12:00:12 1rABCd-000Xyz-AB Completed",
                           &ev),
                   BW_KIND_UNKNOWN);
}

static void test_exim_via_syslog(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse("2024-05-01T12:00:08.5+00:00 mx1 exim[777]: 2024-05-01 12:00:08 "
          "1rABCd-000Xyz-AB ** a@example.net: Unrouteable address",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_int_equal(ev.mta, BW_MTA_EXIM);
  assert_span(ev.host, "mx1");
  assert_int_equal(ev.pid, 777);
  /* syslog_timestamp=false: only the syslog stamp. */
  t_parse("2024-05-01T12:00:08.5+00:00 mx1 exim4[777]: 1rABCd-000Xyz-AB => "
          "a@example.net R=dnslookup T=remote_smtp H=mx [192.0.2.1]",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_SENT);
  assert_true(ev.time_us == INT64_C(1714564808500000));
}

/* Exim via syslog without SYSLOG_LONG_LINES: a line over 870 bytes is
 * cut into "[i/n] " parts like Exim's write_syslog() does; the parser
 * joins the parts of each process (host and pid) and parses the whole. */
#define SPLIT_MAX 870
static int split_parts(const char *msg, char parts[][1024], int max) {
  size_t len = strlen(msg);
  int n = (int)((len + SPLIT_MAX - 1) / SPLIT_MAX);
  assert_true(n >= 2 && n <= max);
  for (int i = 0; i < n; i++) {
    size_t off = (size_t)i * SPLIT_MAX;
    size_t plen = len - off < SPLIT_MAX ? len - off : SPLIT_MAX;
    snprintf(parts[i], 1024, "[%d/%d] %.*s", i + 1, n, (int)plen, msg + off);
  }
  return n;
}

static const char long_bounce[] =
    "2024-05-01 12:00:08 1rABCd-000Xyz-AB ** someone@gmail.com R=dnslookup "
    "T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.102.27] "
    "X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error from remote mail "
    "server after end of data: 550-5.7.26 This mail has been blocked because "
    "the sender is\\n550-5.7.26 unauthenticated. Gmail requires all senders to "
    "authenticate with\\n550-5.7.26 either SPF or DKIM.\\n550-5.7.26\\n550-5.7.26 "
    "Authentication results:\\n550-5.7.26 DKIM = did not pass\\n550-5.7.26 SPF "
    "[example.org] with ip: [203.0.113.25] = did not pass\\n550-5.7.26\\n"
    "550-5.7.26 To learn more about Gmail requirements for bulk senders,\\n"
    "550-5.7.26 visit https://support.google.com/a?p=sender-guidelines.\\n"
    "550-5.7.26 For instructions on setting up authentication, go to\\n550 "
    "5.7.26 https://support.google.com/mail/answer/81126#authentication "
    "d75a77b69052e-4a7f2d0b1c3si123456781cf.123 - gsmtp";

static void test_exim_syslog_split_lines(void **state) {
  (void)state;
  char a[4][1024], b[4][1024], line[1200 + 4096];
  int na = split_parts(long_bounce, a, 4);
  char other[sizeof(long_bounce)];
  snprintf(other, sizeof(other), "%s", long_bounce);
  memcpy(strstr(other, "someone@gmail.com"), "another", 7);
  int nb = split_parts(other, b, 4);
  assert_int_equal(na, nb);
  bw_parser_t *p;
  assert_int_equal(bw_parser_new(&p), 0);
  bw_event_t ev;
  /* Two processes' parts interleaved: each line completes with its own. */
  for (int i = 0; i < na; i++) {
    snprintf(line, sizeof(line), "May  1 12:00:08 mx1 exim[777]: %s", a[i]);
    bw_kind_t k = bw_parse_line(p, line, strlen(line), &ev);
    if (i < na - 1) {
      assert_int_equal(k, BW_KIND_CONTINUED);
      assert_int_equal(ev.mta, BW_MTA_EXIM);
      assert_int_equal(ev.pid, 777);
    } else {
      assert_int_equal(k, BW_KIND_DELIVERY);
      assert_int_equal(ev.status, BW_STATUS_BOUNCED);
      assert_span(ev.rcpt, "someone@gmail.com");
      assert_span(ev.dsn, "5.7.26");
      assert_int_equal(ev.reply_code, 550);
      assert_int_equal(ev.pid, 777);
      /* The reply's end came from the last part. */
      assert_true(ev.text.len > 700);
      assert_true(memcmp(ev.text.p + ev.text.len - 7, "- gsmtp", 7) == 0);
    }
    snprintf(line, sizeof(line), "May  1 12:00:08 mx1 exim[778]: %s", b[i]);
    k = bw_parse_line(p, line, strlen(line), &ev);
    assert_int_equal(k, i < nb - 1 ? BW_KIND_CONTINUED : BW_KIND_DELIVERY);
    if (k == BW_KIND_DELIVERY)
      assert_span(ev.rcpt, "another@gmail.com");
  }
  assert_int_equal(bw_parser_flush(p, &ev), 0);

  /* A part whose beginning was never seen is parsed alone, not absorbed. */
  snprintf(line, sizeof(line), "May  1 12:00:09 mx1 exim[779]: %s", a[1]);
  assert_int_not_equal(bw_parse_line(p, line, strlen(line), &ev), BW_KIND_CONTINUED);

  /* A process that starts a new line before finishing the last: the
   * unfinished one is parsed as far as it goes, as this line's event. */
  snprintf(line, sizeof(line), "May  1 12:00:10 mx1 exim[780]: %s", a[0]);
  assert_int_equal(bw_parse_line(p, line, strlen(line), &ev), BW_KIND_CONTINUED);
  snprintf(line, sizeof(line), "May  1 12:00:11 mx1 exim[780]: %s", b[0]);
  assert_int_equal(bw_parse_line(p, line, strlen(line), &ev), BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_BOUNCED);
  assert_span(ev.rcpt, "someone@gmail.com");
  /* ... and at the end of input, flush gives the last unfinished one. */
  assert_int_equal(bw_parser_flush(p, &ev), 1);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_span(ev.rcpt, "another@gmail.com");
  assert_int_equal(bw_parser_flush(p, &ev), 0);

  /* More processes than slots: the oldest unfinished line comes out. */
  int delivered = 0;
  for (int pid = 1000; pid < 1020; pid++) {
    snprintf(line, sizeof(line), "May  1 12:00:12 mx1 exim[%d]: %s", pid, a[0]);
    if (bw_parse_line(p, line, strlen(line), &ev) == BW_KIND_DELIVERY)
      delivered++;
  }
  while (bw_parser_flush(p, &ev))
    delivered++;
  assert_int_equal(delivered, 20);
  bw_parser_free(p);
}

static void test_prefixes_never_crash(void **state) {
  (void)state;
  static const char line[] =
      "2024-05-01 12:00:08 +0200 [12] 1rABCd-000Xyz-AB ** a@b.example <c@d> "
      "R=dnslookup T=remote_smtp H=mx.b.example [192.0.2.1]:25* C=\"250 "
      "x\\\" y\": SMTP error from remote mail server after RCPT TO:<a@b>: "
      "host mx [1.2.3.4]: 550-5.1.1 no";
  bw_parser_t *p;
  assert_int_equal(bw_parser_new(&p), 0);
  for (size_t n = 0; n <= sizeof(line) - 1; n++) {
    char *copy = malloc(n > 0 ? n : 1);
    memcpy(copy, line, n);
    bw_event_t ev;
    assert_true(bw_parse_line(p, copy, n, &ev) < BW_KIND__COUNT);
    free(copy);
  }
  bw_parser_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arrival),
      cmocka_unit_test(test_bounce_arrival),
      cmocka_unit_test(test_delivered),
      cmocka_unit_test(test_failed),
      cmocka_unit_test(test_failed_old_wording),
      cmocka_unit_test(test_unrouteable_and_expiry),
      cmocka_unit_test(test_deferred),
      cmocka_unit_test(test_completed_and_other),
      cmocka_unit_test(test_exim_via_syslog),
      cmocka_unit_test(test_exim_syslog_split_lines),
      cmocka_unit_test(test_prefixes_never_crash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
