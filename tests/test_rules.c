/* The rule loader and the decision procedure on small rule sets in
 * data/rules-min (one rule per mechanism) and data/rules-broken (one
 * broken line per kind of mistake), plus the compiled-database cache. */
#include <stdlib.h>
#include <unistd.h>

#include "bouncewatch/classify.h"
#include "bouncewatch/error.h"
#include "t_util.h"

#define MIN_DIR BW_TEST_DATA "/rules-min"
#define BROKEN_DIR BW_TEST_DATA "/rules-broken"

static bw_rules_t *load_min(const char *cache) {
  bw_rules_opts_t o = {cache, stderr};
  bw_rules_t *r = NULL;
  unsigned nerr = 99;
  assert_int_equal(bw_rules_load(MIN_DIR, &o, &r, &nerr), 0);
  assert_int_equal(nerr, 0);
  return r;
}

static bw_verdict_t classify(bw_classifier_t *c, const char *text,
                             const char *dsn, unsigned reply, bw_stage_t st,
                             const char *relay) {
  bw_classify_in_t in = {{text, (uint32_t)strlen(text)},
                         {dsn, dsn ? (uint32_t)strlen(dsn) : 0},
                         (uint16_t)reply,
                         st,
                         {relay, relay ? (uint32_t)strlen(relay) : 0}};
  bw_verdict_t v;
  bw_classify(c, &in, &v);
  return v;
}

static void test_broken_rules_all_reported(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *diag = open_memstream(&buf, &len);
  bw_rules_opts_t o = {"", diag};
  bw_rules_t *r = (bw_rules_t *)1;
  unsigned nerr = 0;
  assert_int_equal(bw_rules_load(BROKEN_DIR, &o, &r, &nerr), BW_EPARSE);
  fclose(diag);
  assert_null(r);
  assert_int_equal(nerr, 12);
  static const char *const expect[] = {
      "broken.rules:2: unknown reason 'nosuchreason'",
      "broken.rules:3: unknown stage 'moon'",
      "broken.rules:4: rule 3: Back-references are unsupported",
      "broken.rules:5: rule 4: Zero-width assertions are not supported",
      "broken.rules:6: bounded repeat {1,1000} above 100 is refused",
      "broken.rules:8: duplicate rule id 6",
      "broken.rules:9: unknown condition 'color'",
      "broken.rules:10: unknown flag 'q'",
      "broken.rules:11: expected key=value or /expression/",
      "broken.rules:12: empty expression",
      "broken.rules:13: '9.9.9' is not an enhanced status code",
      "broken.rules:14: rule 11: expression can match the empty string",
  };
  for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
    if (strstr(buf, expect[i]) == NULL)
      fail_msg("missing diagnostic \"%s\" in:\n%s", expect[i], buf);
  free(buf);
}

static void test_missing_dir_and_reasons(void **state) {
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *diag = open_memstream(&buf, &len);
  bw_rules_opts_t o = {"", diag};
  bw_rules_t *r = NULL;
  unsigned nerr = 0;
  assert_int_equal(bw_rules_load(BW_TEST_DATA "/no-such-dir", &o, &r, &nerr),
                   BW_EPARSE);
  /* A directory with no rules and no reasons.tsv. */
  assert_int_equal(bw_rules_load(BW_TEST_DATA "/dec", &o, &r, &nerr),
                   BW_EPARSE);
  fclose(diag);
  assert_non_null(strstr(buf, "no-such-dir: cannot open rules directory"));
  assert_non_null(strstr(buf, "dec: no *.rules files"));
  assert_non_null(strstr(buf, "reasons.tsv: cannot open"));
  free(buf);
}

static void test_decision_procedure(void **state) {
  (void)state;
  bw_rules_t *r = load_min("");
  bw_classifier_t *c;
  assert_int_equal(bw_classifier_new(r, &c), 0);
  bw_verdict_t v;

  /* Stage from the text decides between userunknown and filtered. */
  v = classify(c, "host mx[192.0.2.1] said: 550 User unknown (in reply to "
                  "RCPT TO command)",
               NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_USERUNKNOWN);
  assert_int_equal(v.stage, BW_STAGE_RCPT);
  assert_int_equal(v.reply_code, 550);
  assert_int_equal(v.group, BW_GROUP_RECIPIENT);
  assert_true(v.hard);
  assert_int_equal(v.permanent, 1);
  assert_string_equal(v.decided_by, "rule");
  bw_rule_ref_t ref;
  bw_rule_where(r, v.rules[0], &ref);
  assert_int_equal(ref.id, 1);
  assert_int_equal(ref.line, 3);
  assert_non_null(strstr(ref.file, "rules-min/min.rules"));

  v = classify(c, "host mx[192.0.2.1] said: 550 User unknown (in reply to "
                  "end of DATA command)",
               NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_FILTERED);
  assert_false(v.hard);

  /* The code table decides when no rule matched; a veto stops it. */
  v = classify(c, "550 5.1.1 no thanks", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_USERUNKNOWN);
  assert_string_equal(v.decided_by, "code");
  assert_string_equal(v.code, "5.1.1");
  v = classify(c, "550 5.1.1 listed at spamhaus", NULL, 0, BW_STAGE_NONE,
               NULL);
  assert_int_equal(v.reason, BW_REASON_BLOCKED);

  /* Pass 1 order: authfailure (rank 7) before blocked (rank 19). */
  v = classify(c, "550 5.7.1 dmarc fail, also on spamhaus", NULL, 0,
               BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_AUTHFAILURE);
  assert_int_equal(v.group, BW_GROUP_SENDER_AUTH);
  assert_int_equal(v.n_rules, 2);

  /* A provider rule beats everything, but only for its relay. */
  v = classify(c, "550 5.7.606 banned sending IP [1.2.3.4], dmarc", NULL, 0,
               BW_STAGE_NONE, "mail.protection.outlook.com[1.2.3.4]:25");
  assert_int_equal(v.reason, BW_REASON_BADREPUTATION);
  assert_string_equal(v.decided_by, "provider");
  v = classify(c, "550 5.7.606 banned sending IP [1.2.3.4], dmarc", NULL, 0,
               BW_STAGE_NONE, "mx.example.org[1.2.3.4]:25");
  assert_int_equal(v.reason, BW_REASON_AUTHFAILURE);
  /* The host can come from the text too. */
  v = classify(c, "host eur.mail.protection.outlook.com[1.2.3.4] said: 550 "
                  "5.7.606 Banned sending IP",
               NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_BADREPUTATION);

  /* stage!= keeps spam verdicts out of RCPT; class=, reply=, code=. */
  v = classify(c, "550 rejected as spam", NULL, 0, BW_STAGE_RCPT, NULL);
  assert_int_not_equal(v.reason, BW_REASON_SPAMDETECTED);
  v = classify(c, "550 rejected as spam", NULL, 0, BW_STAGE_END_OF_DATA, NULL);
  assert_int_equal(v.reason, BW_REASON_SPAMDETECTED);
  v = classify(c, "mailbox is full", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_ONHOLD); /* no class known */
  v = classify(c, "mailbox is full", "4.2.2", 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_MAILBOXFULL);
  assert_int_equal(v.permanent, 0);
  v = classify(c, "451 local error in processing", NULL, 0, BW_STAGE_NONE,
               NULL);
  assert_int_equal(v.reason, BW_REASON_SYSTEMERROR);
  v = classify(c, "452 local error in processing", NULL, 0, BW_STAGE_NONE,
               NULL);
  assert_int_equal(v.reason, BW_REASON_ONHOLD);
  v = classify(c, "connect to x[1.2.3.4]:25: Connection timed out", "4.4.1", 0,
               BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_EXPIRED);

  /* Case-sensitive database. */
  v = classify(c, "553 SenderDomain invalid", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_REJECTED);
  v = classify(c, "553 senderdomain invalid", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_ONHOLD);

  /* Defaults: X.7 securityerror, X.6 contenterror, HELO blocked, empty. */
  v = classify(c, "554 5.7.9 go away", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_SECURITYERROR);
  assert_string_equal(v.decided_by, "class");
  v = classify(c, "554 5.6.0 bad", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_CONTENTERROR);
  v = classify(c, "550 no", NULL, 0, BW_STAGE_HELO, NULL);
  assert_int_equal(v.reason, BW_REASON_BLOCKED);
  v = classify(c, "", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_UNDEFINED);
  /* Sisimai's pseudo codes are no code at all. */
  v = classify(c, "whatever", "5.0.911", 0, BW_STAGE_NONE, NULL);
  assert_string_equal(v.code, "");
  /* A generic dsn=5.0.0 gives way to the specific code in the reply. */
  v = classify(c, "host x[1.2.3.4] said: 550 5.2.2 over", "5.0.0", 0,
               BW_STAGE_NONE, NULL);
  assert_string_equal(v.code, "5.2.2");
  assert_int_equal(v.reason, BW_REASON_MAILBOXFULL);

  assert_string_equal(bw_reason_advice(r, BW_REASON_BLOCKED),
                      "Advice for blocked.");
  bw_classifier_free(c);
  bw_rules_free(r);
}

static void test_cache_roundtrip(void **state) {
  (void)state;
  char dir[] = "/tmp/bw-test-cache.XXXXXX";
  assert_non_null(mkdtemp(dir));
  bw_rules_info_t info;
  bw_rules_t *a = load_min(dir);
  bw_rules_info(a, &info);
  assert_false(info.from_cache);
  assert_int_equal(info.rules, 10);
  assert_int_equal(info.databases, 2);
  char path[600];
  snprintf(path, sizeof(path), "%s", info.cache_path);
  assert_int_equal(access(path, R_OK), 0);

  bw_rules_t *b = load_min(dir);
  bw_rules_info(b, &info);
  assert_true(info.from_cache);
  bw_classifier_t *c;
  assert_int_equal(bw_classifier_new(b, &c), 0);
  bw_verdict_t v = classify(c, "550 dmarc", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_AUTHFAILURE);
  bw_classifier_free(c);

  /* A damaged cache file only costs a recompile. */
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, 20, SEEK_SET);
  fputs("garbage garbage garbage", f);
  fclose(f);
  bw_rules_t *d = load_min(dir);
  bw_rules_info(d, &info);
  assert_false(info.from_cache);
  assert_int_equal(bw_classifier_new(d, &c), 0);
  v = classify(c, "550 dmarc", NULL, 0, BW_STAGE_NONE, NULL);
  assert_int_equal(v.reason, BW_REASON_AUTHFAILURE);
  bw_classifier_free(c);

  bw_rules_free(a);
  bw_rules_free(b);
  bw_rules_free(d);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_broken_rules_all_reported),
      cmocka_unit_test(test_missing_dir_and_reasons),
      cmocka_unit_test(test_decision_procedure),
      cmocka_unit_test(test_cache_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
