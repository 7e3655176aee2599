/* libFuzzer harness for bw_classify() (classify.h) with the shipped
 * rules, loaded once from the source tree's patterns/ (no cache). The
 * input is split into the classifier's inputs; the verdict is checked,
 * and asked for again (the recent-inputs memory must give the same one).
 *
 * Input: byte 0 the stage (mod BW_STAGE__COUNT), bytes 1-2 the reply
 * code (little-endian, mod 1000), byte 3 the dsn length (mod 16), byte 4
 * the relay length (mod 64); then the dsn, the relay and the text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/classify.h"
#include "fuzz_util.h"

#ifndef BW_FUZZ_PATTERNS
#error "BW_FUZZ_PATTERNS (the source tree's patterns/) must be defined"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);

static bw_rules_t *rules;
static bw_classifier_t *classifier;
static unsigned nrules;

/* Before the first input: compiling the shipped rules takes seconds,
 * which must not count against -timeout. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  bw_rules_opts_t opts = {"", stderr};
  unsigned nerrors;
  if (bw_rules_load(BW_FUZZ_PATTERNS, &opts, &rules, &nerrors) != 0) {
    fprintf(stderr, "fuzz_classify: cannot load %s (%u errors)\n",
            BW_FUZZ_PATTERNS, nerrors);
    abort();
  }
  CHECK(bw_classifier_new(rules, &classifier) == 0);
  bw_rules_info_t info;
  bw_rules_info(rules, &info);
  nrules = info.rules;
  return 0;
}

static void check_verdict(const bw_verdict_t *v, const bw_classify_in_t *in) {
  static const char *const deciders[] = {"rule",  "provider", "code",
                                         "class", "reply",    "stage",
                                         "default"};
  CHECK((unsigned)v->reason < BW_REASON__COUNT);
  CHECK((unsigned)v->group < BW_GROUP__COUNT);
  CHECK((unsigned)v->stage < BW_STAGE__COUNT);
  CHECK(in->stage == BW_STAGE_NONE || v->stage == in->stage);
  CHECK(v->hard == 0 || v->hard == 1);
  CHECK(v->permanent >= -1 && v->permanent <= 1);
  CHECK(memchr(v->code, '\0', sizeof(v->code)) != NULL);
  CHECK(v->reply_code < 1000);
  CHECK(v->decided_by != NULL);
  int known = 0;
  for (size_t i = 0; i < sizeof(deciders) / sizeof(deciders[0]); i++)
    known |= strcmp(v->decided_by, deciders[i]) == 0;
  CHECK(known);
  CHECK(v->group == bw_reason_group(rules, v->reason));
  /* classify.h: an empty text with no code is undefined. */
  if (in->text.len == 0 && in->dsn.len == 0 && in->reply_code == 0 &&
      in->stage == BW_STAGE_NONE && in->relay.len == 0)
    CHECK(v->reason == BW_REASON_UNDEFINED);
  for (unsigned i = 0; i < v->n_rules && i < BW_VERDICT_RULES; i++) {
    CHECK(v->rules[i] < nrules);
    bw_rule_ref_t ref;
    bw_rule_where(rules, v->rules[i], &ref);
    CHECK(ref.file != NULL && ref.expr != NULL);
  }
}

static int same_verdict(const bw_verdict_t *a, const bw_verdict_t *b) {
  if (a->reason != b->reason || a->group != b->group || a->hard != b->hard ||
      a->permanent != b->permanent || a->decided_by != b->decided_by ||
      strcmp(a->code, b->code) != 0 || a->reply_code != b->reply_code ||
      a->stage != b->stage || a->n_rules != b->n_rules)
    return 0;
  for (unsigned i = 0; i < a->n_rules && i < BW_VERDICT_RULES; i++)
    if (a->rules[i] != b->rules[i])
      return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5)
    return 0;
  size_t dsn_len = data[3] % 16, relay_len = data[4] % 64;
  const uint8_t *p = data + 5, *end = data + size;
  if (dsn_len > (size_t)(end - p))
    dsn_len = (size_t)(end - p);
  const uint8_t *dsn = p;
  p += dsn_len;
  if (relay_len > (size_t)(end - p))
    relay_len = (size_t)(end - p);
  const uint8_t *relay = p;
  p += relay_len;

  /* Exact-size copies, so ASan sees reads past any field. */
  char *f_dsn = malloc(dsn_len + 1), *f_relay = malloc(relay_len + 1);
  size_t text_len = (size_t)(end - p);
  char *f_text = malloc(text_len + 1);
  CHECK(f_dsn != NULL && f_relay != NULL && f_text != NULL);
  memcpy(f_dsn, dsn, dsn_len);
  memcpy(f_relay, relay, relay_len);
  memcpy(f_text, p, text_len);

  bw_classify_in_t in;
  in.stage = (bw_stage_t)(data[0] % BW_STAGE__COUNT);
  in.reply_code = (uint16_t)((data[1] | (data[2] << 8)) % 1000);
  in.dsn = (bw_span_t){dsn_len > 0 ? f_dsn : NULL, (uint32_t)dsn_len};
  in.relay = (bw_span_t){relay_len > 0 ? f_relay : NULL, (uint32_t)relay_len};
  in.text = (bw_span_t){text_len > 0 ? f_text : NULL, (uint32_t)text_len};

  bw_verdict_t v1, v2;
  uint64_t hits0, calls0, hits1, calls1;
  bw_classifier_stats(classifier, &hits0, &calls0);
  bw_classify(classifier, &in, &v1);
  check_verdict(&v1, &in);
  /* The same input again: answered from memory, with the same verdict. */
  bw_classify(classifier, &in, &v2);
  bw_classifier_stats(classifier, &hits1, &calls1);
  CHECK(calls1 == calls0 + 2);
  CHECK(hits1 >= hits0 + 1);
  CHECK(same_verdict(&v1, &v2));

  free(f_dsn);
  free(f_relay);
  free(f_text);
  return 0;
}
