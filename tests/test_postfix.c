/* The Postfix grammar, one scenario per line form. Diagnostic texts are
 * real ones from Sisimai's public sample set (see data/README.md); the
 * line framing follows Postfix's log_adhoc.c, qmgr, cleanup, bounce and
 * smtpd_check.c (tech-notes §6). */
#include <stdlib.h>

#include "fmt.h"
#include "t_util.h"

#define P "2024-05-01T12:00:01.123456+02:00 mail1 "

static void test_sent_smtp(void **state) {
  (void)state;
  bw_event_t ev;
  assert_int_equal(
      t_parse(P "postfix/smtp[1237]: 4VqXyZ1bcDz: to=<bob@example.com>, "
                "relay=mx.example.com[192.0.2.7]:25, delay=0.74, "
                "delays=0.1/0.01/0.3/0.33, dsn=2.0.0, status=sent (250 2.0.0 "
                "Ok: queued as 4VqXz01Qrsz)",
              &ev),
      BW_KIND_DELIVERY);
  assert_int_equal(ev.mta, BW_MTA_POSTFIX);
  assert_int_equal(ev.status, BW_STATUS_SENT);
  assert_span(ev.queue_id, "4VqXyZ1bcDz");
  assert_span(ev.rcpt, "bob@example.com");
  assert_span(ev.orig_rcpt, NULL);
  assert_span(ev.relay, "mx.example.com[192.0.2.7]:25");
  assert_span(ev.dsn, "2.0.0");
  assert_span(ev.text, "250 2.0.0 Ok: queued as 4VqXz01Qrsz");
  assert_int_equal(ev.reply_code, 250);
  assert_span(ev.instance, "postfix");
  assert_span(ev.service, "smtp");
  assert_int_equal(ev.pid, 1237);
  assert_span(ev.host, "mail1");
  /* 12:00:01.123456+02:00 = 10:00:01.123456Z */
  assert_true(ev.time_us == INT64_C(1714557601123456));
}

static void test_bounced_rcpt(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<userunknown@example.co.jp>, "
            "relay=mx.example.co.jp[192.0.2.153]:25, delay=1.2, "
            "delays=0.1/0/0.5/0.6, dsn=5.1.1, status=bounced (host "
            "mx.example.co.jp[192.0.2.153] said: 550 5.1.1 "
            "<userunknown@example.co.jp>... User Unknown (in reply to RCPT TO "
            "command))",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_BOUNCED);
  assert_int_equal(ev.reply_code, 550);
  assert_span(ev.reply_dsn, "5.1.1");
  assert_int_equal(ev.stage, BW_STAGE_RCPT);
  assert_span(ev.text, "host mx.example.co.jp[192.0.2.153] said: 550 5.1.1 "
                       "<userunknown@example.co.jp>... User Unknown (in reply "
                       "to RCPT TO command)");
}

static void test_multiline_reply_end_of_data(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse(P "postfix/smtp[9]: 4VqXyZ1bcDz: to=<bob@gmail.com>, "
            "relay=gmail-smtp-in.l.google.com[64.233.189.27]:25, delay=0.7, "
            "delays=0.1/0/0.3/0.3, dsn=5.7.26, status=bounced (host "
            "gmail-smtp-in.l.google.com[64.233.189.27] said: 550-5.7.26 "
            "Unauthenticated email from libsisimai.org is not accepted due to "
            "550-5.7.26 domain's DMARC policy. 550 5.7.26 gsmtp (in reply to "
            "end of DATA command))",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_BOUNCED);
  assert_int_equal(ev.reply_code, 550);
  assert_span(ev.dsn, "5.7.26");
  assert_span(ev.reply_dsn, "5.7.26");
  assert_int_equal(ev.stage, BW_STAGE_END_OF_DATA);
}

static void test_orig_to_conn_use_unknown_fields(void **state) {
  (void)state;
  bw_event_t ev;
  /* Postfix 3.11 adds tls= between delays= and dsn=. */
  t_parse("May  1 12:00:03 mail1 postfix-out/smtp[99]: 3F2A1B0C4D: "
          "to=<alice@example.net>, orig_to=<Alice@Example.net>, "
          "relay=mx.example.net[198.51.100.5]:25, conn_use=2, delay=1.2, "
          "delays=0.1/0/0.5/0.6, tls=dane:encrypt, dsn=4.7.1, status=deferred "
          "(host mx.example.net[198.51.100.5] said: 450 4.7.1 "
          "<alice@example.net>: Recipient address rejected: Greylisted (in "
          "reply to RCPT TO command))",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_DEFERRED);
  assert_span(ev.instance, "postfix-out");
  assert_span(ev.service, "smtp");
  assert_span(ev.orig_rcpt, "Alice@Example.net");
  assert_span(ev.relay, "mx.example.net[198.51.100.5]:25");
  assert_span(ev.dsn, "4.7.1");
  assert_int_equal(ev.reply_code, 450);
  assert_int_equal(ev.stage, BW_STAGE_RCPT);
}

static void test_connect_failures(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.org>, "
            "relay=none, delay=30, delays=0.1/0/30/0, dsn=4.4.1, "
            "status=deferred (connect to example.org[203.0.113.225]:25: "
            "Connection timed out)",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_DEFERRED);
  assert_span(ev.relay, "none");
  assert_int_equal(ev.reply_code, 0);
  assert_int_equal(ev.stage, BW_STAGE_CONNECT);
  assert_span(ev.text, "connect to example.org[203.0.113.225]:25: Connection "
                       "timed out");

  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.net>, "
            "relay=none, delay=1, delays=0.1/0/1/0, dsn=4.0.0, "
            "status=deferred (delivery temporarily suspended: host "
            "mfsmax.example.net[203.0.113.127] refused to talk to me: 421 "
            "Service not available, closing transmission channel)",
          &ev);
  assert_int_equal(ev.reply_code, 421);
  assert_int_equal(ev.stage, BW_STAGE_CONNECT);

  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.com>, "
            "relay=none, delay=1, delays=0.1/0/1/0, dsn=4.0.0, "
            "status=deferred (delivery temporarily suspended: connect to "
            "mfsmax.example.com[192.0.2.232]: server refused to talk to me: "
            "421 Service not available, closing transmission channel)",
          &ev);
  assert_int_equal(ev.reply_code, 421);
  assert_int_equal(ev.stage, BW_STAGE_CONNECT);

  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@qq.com>, "
            "relay=mx2.qq.com[184.105.206.86]:25, delay=1, delays=0.1/0/1/0, "
            "dsn=4.4.2, status=deferred (lost connection with "
            "mx2.qq.com[184.105.206.86] while performing the HELO handshake)",
          &ev);
  assert_int_equal(ev.stage, BW_STAGE_HELO);
  assert_int_equal(ev.reply_code, 0);
}

static void test_lmtp_and_local(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse(P "postfix/lmtp[9]: 3F2A1B0C4D: to=<neko@nyaaan.example.org>, "
            "relay=smtp3.example.com[private/dovecot-lmtp], delay=0.1, "
            "delays=0/0/0/0.1, dsn=5.2.2, status=bounced (host "
            "smtp3.example.com[private/dovecot-lmtp] said: 552 5.2.2 "
            "<neko@nyaaan.example.org> Quota exceeded (mailbox for user is "
            "full) (in reply to end of DATA command))",
          &ev);
  assert_span(ev.service, "lmtp");
  assert_span(ev.relay, "smtp3.example.com[private/dovecot-lmtp]");
  assert_int_equal(ev.reply_code, 552);
  assert_int_equal(ev.stage, BW_STAGE_END_OF_DATA);

  t_parse(P "postfix/local[9]: 3F2A1B0C4D: to=<root@mail1.example.org>, "
            "orig_to=<postmaster@mail1.example.org>, relay=local, delay=0.01, "
            "delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_SENT);
  assert_span(ev.relay, "local");
  assert_int_equal(ev.reply_code, 0);
  assert_int_equal(ev.stage, BW_STAGE_NONE);
}

static void test_other_statuses(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.org>, "
            "relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, "
            "dsn=5.1.1, status=SOFTBOUNCE (host mx.example.org[192.0.2.1] "
            "said: 550 5.1.1 no such user (in reply to RCPT TO command))",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_SOFTBOUNCE);
  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.org>, "
            "relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, "
            "dsn=2.1.5, status=deliverable (250 2.1.5 Ok)",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_PROBE_OK);
  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.org>, "
            "relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, "
            "dsn=5.1.1, status=undeliverable (host mx.example.org[192.0.2.1] "
            "said: 550 5.1.1 unknown (in reply to RCPT TO command))",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_PROBE_FAIL);
  t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.org>, relay=none, "
            "delay=1, delays=0/0/0/1, dsn=4.0.0, status=frobnicated (x)",
          &ev);
  assert_int_equal(ev.status, BW_STATUS_OTHER);
}

static void test_queue_lines(void **state) {
  (void)state;
  bw_event_t ev;
  assert_int_equal(t_parse(P "postfix/smtpd[1234]: 4VqXyZ1bcDz: "
                             "client=mail.example.org[192.0.2.10]",
                           &ev),
                   BW_KIND_CLIENT);
  assert_span(ev.client, "mail.example.org[192.0.2.10]");
  assert_span(ev.queue_id, "4VqXyZ1bcDz");

  assert_int_equal(t_parse(P "postfix/cleanup[1235]: 4VqXyZ1bcDz: "
                             "message-id=<20240501100001.ABC@example.org>",
                           &ev),
                   BW_KIND_MESSAGE_ID);
  assert_span(ev.message_id, "20240501100001.ABC@example.org");

  assert_int_equal(t_parse(P "postfix/qmgr[1236]: 4VqXyZ1bcDz: "
                             "from=<news@example.org>, size=12345, nrcpt=2 "
                             "(queue active)",
                           &ev),
                   BW_KIND_ARRIVAL);
  assert_span(ev.sender, "news@example.org");
  assert_true(ev.has_sender);
  assert_int_equal(ev.size, 12345);
  assert_int_equal(ev.nrcpt, 2);

  assert_int_equal(t_parse(P "postfix/qmgr[1236]: 4VqXyZ1bcDz: from=<>, "
                             "size=3000, nrcpt=1 (queue active)",
                           &ev),
                   BW_KIND_ARRIVAL);
  assert_true(ev.has_sender);
  assert_span(ev.sender, "");

  assert_int_equal(t_parse(P "postfix/qmgr[1236]: 3F2A1B0C4D: "
                             "from=<a@example.org>, status=expired, returned "
                             "to sender",
                           &ev),
                   BW_KIND_EXPIRED);
  assert_span(ev.sender, "a@example.org");
  assert_span(ev.queue_id, "3F2A1B0C4D");

  assert_int_equal(
      t_parse(P "postfix/qmgr[1236]: 3F2A1B0C4D: removed", &ev),
      BW_KIND_REMOVED);
  assert_span(ev.queue_id, "3F2A1B0C4D");

  assert_int_equal(t_parse(P "postfix/bounce[1240]: 3F2A1B0C4D: sender "
                             "non-delivery notification: 4A1B2C3D4E",
                           &ev),
                   BW_KIND_NOTIFICATION);
  assert_span(ev.queue_id, "3F2A1B0C4D");
  assert_span(ev.new_queue_id, "4A1B2C3D4E");
  assert_span(ev.text, "sender non-delivery notification");

  assert_int_equal(t_parse(P "postfix/bounce[1240]: 3F2A1B0C4D: sender "
                             "delay notification: 5B1B2C3D4E",
                           &ev),
                   BW_KIND_NOTIFICATION);
  assert_span(ev.text, "sender delay notification");
  assert_int_equal(t_parse(P "postfix/bounce[1240]: 3F2A1B0C4D: postmaster "
                             "non-delivery notification: 6C1B2C3D4E",
                           &ev),
                   BW_KIND_NOTIFICATION);
}

static void test_long_queue_id_and_instances(void **state) {
  (void)state;
  bw_event_t ev;
  t_parse(P "postfix/submission/smtpd[77]: 4VqXyZ1bcDzkxJ: "
            "client=unknown[203.0.113.9], sasl_method=PLAIN, "
            "sasl_username=user",
          &ev);
  assert_int_equal(ev.kind, BW_KIND_CLIENT);
  assert_span(ev.queue_id, "4VqXyZ1bcDzkxJ");
  assert_span(ev.instance, "postfix/submission");
  assert_span(ev.service, "smtpd");
  assert_span(ev.client, "unknown[203.0.113.9]");

  /* Without a pid. */
  t_parse(P "postfix/qmgr: 3Pt2mN2VXxznjll: removed", &ev);
  assert_int_equal(ev.kind, BW_KIND_REMOVED);
  assert_int_equal(ev.pid, 0);
  assert_span(ev.queue_id, "3Pt2mN2VXxznjll");
}

static void test_noqueue_reject(void **state) {
  (void)state;
  bw_event_t ev;
  assert_int_equal(
      t_parse(P "postfix/smtpd[77]: NOQUEUE: reject: RCPT from "
                "unknown[203.0.113.9]: 554 5.7.1 <x@y.com>: Relay access "
                "denied; from=<spam@bad.example> to=<x@y.com> proto=ESMTP "
                "helo=<bad>",
              &ev),
      BW_KIND_REJECT);
  assert_span(ev.queue_id, NULL);
  assert_span(ev.client, "unknown[203.0.113.9]");
  assert_int_equal(ev.reply_code, 554);
  assert_span(ev.dsn, "5.7.1");
  assert_span(ev.text, "554 5.7.1 <x@y.com>: Relay access denied");
  assert_span(ev.sender, "spam@bad.example");
  assert_span(ev.rcpt, "x@y.com");
  assert_int_equal(ev.stage, BW_STAGE_RCPT);
}

static void test_not_events(void **state) {
  (void)state;
  bw_event_t ev;
  assert_int_equal(t_parse(P "postfix/smtpd[77]: connect from "
                             "unknown[203.0.113.9]",
                           &ev),
                   BW_KIND_MTA_OTHER);
  assert_int_equal(t_parse(P "postfix/smtpd[77]: warning: hostname "
                             "x.example does not resolve to address 1.2.3.4",
                           &ev),
                   BW_KIND_MTA_OTHER);
  assert_span(ev.queue_id, NULL); /* "warning" is not a queue id */
  t_parse(P "postfix/anvil[5]: statistics: max connection rate 3/60s", &ev);
  assert_span(ev.queue_id, NULL);
  assert_int_equal(t_parse(P "postfix/smtp[9]: 3F2A1B0C4D: host "
                             "mx.example.org[192.0.2.1] said: 421 try later "
                             "(in reply to MAIL FROM command)",
                           &ev),
                   BW_KIND_MTA_OTHER);
  assert_int_equal(t_parse(P "postfix/pickup[5]: 3F2A1B0C4D: uid=0 "
                             "from=<root>",
                           &ev),
                   BW_KIND_MTA_OTHER);
  /* Other programs, and a name that only starts like postfix. */
  assert_int_equal(t_parse(P "dovecot: imap-login: Login: user=<bob>", &ev),
                   BW_KIND_OTHER);
  assert_int_equal(t_parse(P "opendkim[400]: 3F2A1B0C4D: DKIM-Signature "
                             "field added (s=mail, d=example.org)",
                           &ev),
                   BW_KIND_OTHER);
  assert_int_equal(t_parse(P "postfixadmin[3]: 3F2A1B0C4D: to=<a@b>, "
                             "status=sent (x)",
                           &ev),
                   BW_KIND_OTHER);
  assert_int_equal(ev.mta, BW_MTA_NONE);
  assert_int_equal(t_parse(P "kernel: [ 1.0] usb 1-1: new device", &ev),
                   BW_KIND_OTHER);
}

static void test_truncated_forms_never_crash(void **state) {
  (void)state;
  /* Every prefix of a delivery line parses to something without reading
   * past the end (ASan checks the bounds). */
  static const char line[] =
      P "postfix/smtp[9]: 3F2A1B0C4D: to=<a@example.org>, "
        "orig_to=<b@example.org>, relay=mx.example.org[192.0.2.1]:25, "
        "delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host "
        "mx.example.org[192.0.2.1] said: 550 5.1.1 no (in reply to RCPT TO "
        "command))";
  bw_parser_t *p;
  assert_int_equal(bw_parser_new(&p), 0);
  for (size_t n = 0; n <= sizeof(line) - 1; n++) {
    char *copy = malloc(n > 0 ? n : 1);
    memcpy(copy, line, n);
    bw_event_t ev;
    bw_kind_t k = bw_parse_line(p, copy, n, &ev);
    assert_true(k < BW_KIND__COUNT);
    free(copy);
  }
  bw_parser_free(p);
}

/* bw__find (fmt_smtp.c) answers as memmem does: every needle of 0 to 6
 * bytes over a small alphabet (so matches and near misses abound) in
 * haystacks of 0 to 80 bytes, each in a buffer of exactly its size (ASan
 * sees a read past it), at every start. */
static void test_find_like_memmem(void **state) {
  (void)state;
  static const char alpha[] = "ab :";
  uint32_t seed = 0x1234567u;
  for (int round = 0; round < 3000; round++) {
    seed = seed * 1103515245u + 12345u;
    size_t hn = (seed >> 8) % 81, nn = (seed >> 20) % 7;
    char *h = test_malloc(hn + 1), needle[8];
    for (size_t i = 0; i < hn; i++) {
      seed = seed * 1103515245u + 12345u;
      h[i] = alpha[(seed >> 16) % 4];
    }
    for (size_t i = 0; i < nn; i++) {
      seed = seed * 1103515245u + 12345u;
      needle[i] = alpha[(seed >> 16) % 4];
    }
    /* a buffer of exactly hn bytes: copy into one */
    char *x = test_malloc(hn > 0 ? hn : 1);
    memcpy(x, h, hn);
    for (size_t from = 0; from <= hn; from++) {
      const char *want = memmem(x + from, hn - from, needle, nn);
      const char *got = bw__find(x + from, x + hn, needle, nn);
      if (want != got)
        fail_msg("round %d: needle \"%.*s\" in \"%.*s\" from %zu: got %td, want %td",
                 round, (int)nn, needle, (int)hn, x, from,
                 got ? got - x : -1, want ? want - x : -1);
    }
    test_free(x);
    test_free(h);
  }
  /* A phrase near the end of a longer text, past the 16-byte steps. */
  const char *t = "host mx.example.org[192.0.2.1] said: 550 no (in reply to RCPT TO command)";
  assert_ptr_equal(bw__find(t, t + strlen(t), "in reply to ", 12), strstr(t, "in reply to "));
  assert_null(bw__find(t, t + strlen(t), "in reply to X", 13));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_find_like_memmem),
      cmocka_unit_test(test_sent_smtp),
      cmocka_unit_test(test_bounced_rcpt),
      cmocka_unit_test(test_multiline_reply_end_of_data),
      cmocka_unit_test(test_orig_to_conn_use_unknown_fields),
      cmocka_unit_test(test_connect_failures),
      cmocka_unit_test(test_lmtp_and_local),
      cmocka_unit_test(test_other_statuses),
      cmocka_unit_test(test_queue_lines),
      cmocka_unit_test(test_long_queue_id_and_instances),
      cmocka_unit_test(test_noqueue_reject),
      cmocka_unit_test(test_not_events),
      cmocka_unit_test(test_truncated_forms_never_crash),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
