/* Syslog and Exim prefixes: RFC 3164 with the year inferred from the
 * reference time (Dec -> Jan rollover), RFC 3339 with fractions and
 * zones, Postfix's maillog_file form, with and without pid, and lines
 * that are not logs at all. */
#include <stdlib.h>
#include <time.h>

#include "t_util.h"

static int64_t utc_us(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {0};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return (int64_t)timegm(&tm) * 1000000;
}

static int setup_utc(void **state) {
  (void)state;
  setenv("TZ", "UTC", 1);
  tzset();
  return 0;
}

static bw_parser_t *parser_ref(int64_t ref) {
  bw_parser_t *p;
  assert_int_equal(bw_parser_new(&p), 0);
  bw_parser_set_reference(p, ref);
  return p;
}

static bw_kind_t parse(bw_parser_t *p, const char *s, bw_event_t *ev) {
  return bw_parse_line(p, s, strlen(s), ev);
}

static void test_rfc3164_year_inference(void **state) {
  (void)state;
  bw_event_t ev;
  /* File last written 2024-01-02: Dec lines are 2023, Jan lines 2024. */
  bw_parser_t *p = parser_ref(utc_us(2024, 1, 2, 0, 0, 0) / 1000000);
  parse(p, "Dec 31 23:59:59 mail1 postfix/qmgr[1]: 3F2A1B0C4D: removed", &ev);
  assert_int_equal(ev.kind, BW_KIND_REMOVED);
  assert_true(ev.time_us == utc_us(2023, 12, 31, 23, 59, 59));
  parse(p, "Jan  1 00:00:01 mail1 postfix/qmgr[1]: 3F2A1B0C4D: removed", &ev);
  assert_true(ev.time_us == utc_us(2024, 1, 1, 0, 0, 1));
  /* Postfix maillog_file writes a zero-padded day. */
  parse(p, "Jan 01 00:00:02 mail1 postfix/qmgr[1]: 3F2A1B0C4D: removed", &ev);
  assert_true(ev.time_us == utc_us(2024, 1, 1, 0, 0, 2));
  /* Two-digit day, leap day in a reference year that has one. */
  bw_parser_set_reference(p, utc_us(2024, 3, 1, 0, 0, 0) / 1000000);
  parse(p, "Feb 29 12:34:56 mail1 postfix/qmgr: 3F2A1B0C4D: removed", &ev);
  assert_true(ev.time_us == utc_us(2024, 2, 29, 12, 34, 56));
  assert_int_equal(ev.pid, 0);
  bw_parser_free(p);
}

static void test_rfc3164_local_zone(void **state) {
  (void)state;
  bw_event_t ev;
  /* A POSIX TZ string needs no tzdata: CET/CEST. */
  setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
  tzset();
  bw_parser_t *p = parser_ref(utc_us(2024, 8, 1, 0, 0, 0) / 1000000);
  parse(p, "Jul 15 12:00:00 mail1 postfix/qmgr[1]: 3F2A1B0C4D: removed", &ev);
  assert_true(ev.time_us == utc_us(2024, 7, 15, 10, 0, 0)); /* CEST +2 */
  parse(p, "Jan 15 12:00:00 mail1 postfix/qmgr[1]: 3F2A1B0C4D: removed", &ev);
  assert_true(ev.time_us == utc_us(2024, 1, 15, 11, 0, 0)); /* CET +1 */
  /* Exim without log_timezone is local time too. */
  parse(p, "2024-07-15 12:00:00 1rABCd-000Xyz-AB Completed", &ev);
  assert_true(ev.time_us == utc_us(2024, 7, 15, 10, 0, 0));
  bw_parser_free(p);
  setenv("TZ", "UTC", 1);
  tzset();
}

static void test_rfc3339(void **state) {
  (void)state;
  bw_event_t ev;
  bw_parser_t *p = parser_ref(0);
  parse(p, "2024-05-01T12:00:01Z mail1 postfix/qmgr[1]: 3F2A1B0C4D: removed",
        &ev);
  assert_true(ev.time_us == utc_us(2024, 5, 1, 12, 0, 1));
  parse(p,
        "2024-05-01T12:00:01.5-04:30 mail1 postfix/qmgr[1]: 3F2A1B0C4D: "
        "removed",
        &ev);
  assert_true(ev.time_us == utc_us(2024, 5, 1, 16, 30, 1) + 500000);
  parse(p,
        "2024-05-01T12:00:01.123456789+00:00 mail1 postfix/qmgr[1]: "
        "3F2A1B0C4D: removed",
        &ev);
  assert_true(ev.time_us == utc_us(2024, 5, 1, 12, 0, 1) + 123456);
  assert_int_equal(ev.kind, BW_KIND_REMOVED);
  /* No zone at all is not RFC 3339. */
  assert_int_equal(parse(p,
                         "2024-05-01T12:00:01 mail1 postfix/qmgr[1]: "
                         "3F2A1B0C4D: removed",
                         &ev),
                   BW_KIND_UNKNOWN);
  bw_parser_free(p);
}

/* The stamp memos (per second and per format, and the zone's) must
 * never hand one line's time to another: same second with another zone,
 * Exim and syslog lines interleaved, a second or minute that changes, a
 * fraction with a bad digit, and the pid read as one word. */
static void test_stamp_memos_and_pid(void **state) {
  (void)state;
  setenv("TZ", "UTC", 1);
  tzset();
  bw_event_t ev;
  bw_parser_t *p = parser_ref(utc_us(2024, 5, 1, 0, 0, 0) / 1000000);
  const int64_t base = utc_us(2024, 5, 1, 12, 0, 1);
  parse(
      p,
      "2024-05-01T12:00:01.000002+00:00 h postfix/qmgr[7]: 3F2A1B0C4D: removed",
      &ev);
  assert_true(ev.time_us == base + 2);
  assert_int_equal(ev.pid, 7);
  /* The same second in another zone. */
  parse(p,
        "2024-05-01T12:00:01.000002+02:00 h postfix/qmgr[1234567]: 3F2A1B0C4D: "
        "removed",
        &ev);
  assert_true(ev.time_us == base + 2 - 7200 * 1000000LL);
  assert_int_equal(ev.pid, 1234567);
  /* An Exim stamp of another second between two syslog ones. */
  parse(p, "2024-05-01 12:00:05 1rABCd-000Xyz-AB Completed", &ev);
  assert_true(ev.time_us == base + 4 * 1000000LL);
  parse(p,
        "2024-05-01T12:00:01.999999+00:00 h postfix/qmgr[12345678]: "
        "3F2A1B0C4D: removed",
        &ev);
  assert_true(ev.time_us == base + 999999);
  assert_int_equal(ev.pid, 12345678); /* eight digits: the byte loop */
  parse(p, "2024-05-01 12:00:05 1rABCd-000Xyz-AB Completed", &ev);
  assert_true(ev.time_us == base + 4 * 1000000LL);
  /* The next second, then the next minute with the same ":01". */
  parse(p, "2024-05-01T12:00:02.5+00:00 h postfix/qmgr[0]: 3F2A1B0C4D: removed",
        &ev);
  assert_true(ev.time_us == base + 1500000);
  assert_int_equal(ev.pid, 0);
  parse(p,
        "2024-05-01T12:01:01.000000Z h postfix/qmgr[42]: 3F2A1B0C4D: removed",
        &ev);
  assert_true(ev.time_us == base + 60 * 1000000LL);
  assert_int_equal(ev.pid, 42);
  /* A bad digit in the fraction: not a stamp, whatever came before. */
  assert_int_equal(parse(p,
                         "2024-05-01T12:01:01.00a000Z h postfix/qmgr[42]: "
                         "3F2A1B0C4D: removed",
                         &ev),
                   BW_KIND_UNKNOWN);
  /* A bad second after a good one of the same minute. */
  assert_int_equal(parse(p,
                         "2024-05-01T12:01:6x.000000Z h postfix/qmgr[42]: "
                         "3F2A1B0C4D: removed",
                         &ev),
                   BW_KIND_UNKNOWN);
  /* A pid that is not a number ends the prefix. */
  assert_int_equal(
      parse(p, "2024-05-01T12:01:01Z h postfix/qmgr[4x]: 3F2A1B0C4D: removed",
            &ev),
      BW_KIND_UNKNOWN);
  bw_parser_free(p);
}

static void test_unknown_lines(void **state) {
  (void)state;
  bw_event_t ev;
  bw_parser_t *p = parser_ref(0);
  const char *bad[] = {
      "",
      "garbage",
      "Foo  1 00:00:00 host prog: x",
      "May 32 00:00:00 host prog: x",
      "May  1 25:00:00 host prog: x",
      "May  1 00:00:00",
      "May  1 00:00:00 host",
      "May  1 00:00:00 host prog[12 x",
      "2024-05-01T12:00:01Z",
      "\xff\xfe\x00\x01",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(bw_parse_line(p, bad[i], strlen(bad[i]), &ev),
                     BW_KIND_UNKNOWN);
    assert_true(ev.time_us == 0);
  }
  bw_parser_free(p);
}

static void test_nul_and_invalid_utf8_inside(void **state) {
  (void)state;
  bw_event_t ev;
  bw_parser_t *p = parser_ref(0);
  static const char line[] =
      "2024-05-01T12:00:01Z mail1 postfix/smtp[9]: 3F2A1B0C4D: "
      "to=<a@example.org>, relay=none, delay=1, delays=0/0/0/1, dsn=5.0.0, "
      "status=bounced (host x[1.2.3.4] said: 550 bad \x00\xff\xc3 bytes (in "
      "reply to RCPT TO command))";
  assert_int_equal(bw_parse_line(p, line, sizeof(line) - 1, &ev),
                   BW_KIND_DELIVERY);
  assert_int_equal(ev.status, BW_STATUS_BOUNCED);
  assert_int_equal(ev.stage, BW_STAGE_RCPT);
  assert_int_equal(ev.reply_code, 550);
  bw_parser_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc3164_year_inference),
      cmocka_unit_test(test_rfc3164_local_zone),
      cmocka_unit_test(test_rfc3339),
      cmocka_unit_test(test_stamp_memos_and_pid),
      cmocka_unit_test(test_unknown_lines),
      cmocka_unit_test(test_nul_and_invalid_utf8_inside),
  };
  return cmocka_run_group_tests(tests, setup_utc, NULL);
}
