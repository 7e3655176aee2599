/* libFuzzer harness for the rule loader (bw_rules_load, classify.h): the
 * input is the only *.rules file of a temporary directory that also holds
 * a copy of the shipped patterns/reasons.tsv; no cache, diagnostics to
 * /dev/null. A load that succeeds is used: a few fixed diagnostics are
 * classified with it and the verdicts checked. Hyperscan compiles in the
 * loop, so inputs are capped at MAX_INPUT (run with -max_len=4096). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bouncewatch/classify.h"
#include "bouncewatch/error.h"
#include "fuzz_util.h"

#ifndef BW_FUZZ_PATTERNS
#error "BW_FUZZ_PATTERNS (the source tree's patterns/) must be defined"
#endif

#define MAX_INPUT 4096

static char dir[64];
static char rules_path[128];
static FILE *devnull;

static void cleanup(void) {
  char p[128];
  unlink(rules_path);
  snprintf(p, sizeof(p), "%s/reasons.tsv", dir);
  unlink(p);
  rmdir(dir);
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(n == 0 || fwrite(p, 1, n, f) == n);
  CHECK(fclose(f) == 0);
}

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/bw-fuzz-rules-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  atexit(cleanup);
  snprintf(rules_path, sizeof(rules_path), "%s/fuzz.rules", dir);

  /* reasons.tsv once, from the source tree. */
  FILE *f = fopen(BW_FUZZ_PATTERNS "/reasons.tsv", "rb");
  if (f == NULL) {
    fprintf(stderr, "fuzz_rules: %s/reasons.tsv: %s\n", BW_FUZZ_PATTERNS,
            strerror(errno));
    abort();
  }
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  char p[128];
  snprintf(p, sizeof(p), "%s/reasons.tsv", dir);
  write_file(p, buf, n);
  devnull = fopen("/dev/null", "w");
  CHECK(devnull != NULL);
}

static void check_verdict(const bw_rules_t *r, unsigned nrules,
                          const bw_verdict_t *v) {
  static const char *const deciders[] = {"rule",  "provider", "code",
                                         "class", "reply",    "stage",
                                         "default"};
  CHECK((unsigned)v->reason < BW_REASON__COUNT);
  CHECK((unsigned)v->group < BW_GROUP__COUNT);
  CHECK((unsigned)v->stage < BW_STAGE__COUNT);
  CHECK(v->hard == 0 || v->hard == 1);
  CHECK(v->permanent >= -1 && v->permanent <= 1);
  CHECK(memchr(v->code, '\0', sizeof(v->code)) != NULL);
  CHECK(v->decided_by != NULL);
  int known = 0;
  for (size_t i = 0; i < sizeof(deciders) / sizeof(deciders[0]); i++)
    known |= strcmp(v->decided_by, deciders[i]) == 0;
  CHECK(known);
  CHECK(v->group == bw_reason_group(r, v->reason));
  for (unsigned i = 0; i < v->n_rules && i < BW_VERDICT_RULES; i++) {
    CHECK(v->rules[i] < nrules);
    bw_rule_ref_t ref;
    bw_rule_where(r, v->rules[i], &ref);
    CHECK(ref.file != NULL && ref.expr != NULL && ref.line > 0);
    CHECK((unsigned)ref.reason < BW_REASON__COUNT);
  }
}

static const struct {
  const char *text, *dsn, *relay;
  uint16_t reply;
  bw_stage_t stage;
} samples[] = {
    {"host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: "
     "Recipient address rejected: User unknown in virtual mailbox table (in "
     "reply to RCPT TO command)",
     "5.1.1", "mx.example.com[192.0.2.1]:25", 550, BW_STAGE_RCPT},
    {"host mx.outlook.com[192.0.2.2] said: 550 5.7.1 Service unavailable; "
     "banned sending IP [192.0.2.9] (in reply to MAIL FROM command)",
     "5.7.1", "mx.outlook.com[192.0.2.2]:25", 550, BW_STAGE_NONE},
    {"connect to mx.example.net[192.0.2.3]:25: Connection timed out", "4.4.1",
     "", 0, BW_STAGE_NONE},
    {"452 4.2.2 mailbox is full, try again later", "", "", 0, BW_STAGE_NONE},
    {"", "", "", 0, BW_STAGE_NONE},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT)
    return 0;
  if (devnull == NULL)
    setup();
  write_file(rules_path, data, size);

  bw_rules_opts_t opts = {"", devnull};
  bw_rules_t *r = (bw_rules_t *)1;
  unsigned nerrors = 12345;
  int rc = bw_rules_load(dir, &opts, &r, &nerrors);
  if (rc != 0) {
    CHECK(rc == BW_EPARSE || rc == BW_ENOMEM);
    CHECK(r == NULL);
    CHECK(rc == BW_ENOMEM || nerrors > 0);
    return 0;
  }
  CHECK(r != NULL && nerrors == 0);
  bw_rules_info_t info;
  bw_rules_info(r, &info);
  CHECK(info.from_cache == 0 && info.databases <= 2);
  for (unsigned i = 0; i < info.rules; i++) {
    bw_rule_ref_t ref;
    bw_rule_where(r, i, &ref);
    CHECK(ref.id > 0 && ref.file != NULL && ref.expr != NULL);
  }
  for (int i = 0; i < BW_REASON__COUNT; i++)
    CHECK(bw_reason_advice(r, (bw_reason_t)i) != NULL);

  bw_classifier_t *c;
  CHECK(bw_classifier_new(r, &c) == 0);
  for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
    bw_classify_in_t in = {
        {samples[i].text, (uint32_t)strlen(samples[i].text)},
        {samples[i].dsn, (uint32_t)strlen(samples[i].dsn)},
        samples[i].reply,
        samples[i].stage,
        {samples[i].relay, (uint32_t)strlen(samples[i].relay)}};
    bw_verdict_t v;
    bw_classify(c, &in, &v);
    check_verdict(r, info.rules, &v);
  }
  bw_classifier_free(c);
  bw_rules_free(r);
  return 0;
}
