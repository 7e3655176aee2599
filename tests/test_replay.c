/* The replay pipeline through its public API: counts on the bundled
 * sample, identical results whatever the block size (lines straddling
 * blocks), events in input order with their line numbers, several files
 * with an error in the middle, and a reused stream of formats. */
#include <stdlib.h>

#include "bouncewatch/error.h"
#include "bouncewatch/replay.h"
#include "t_util.h"

#define SAMPLE BW_TEST_DATA "/sample.log"

typedef struct {
  uint64_t events, deliveries;
  uint64_t last_line;
  int in_order;
  uint64_t bounced_line; /* line of the first bounced delivery */
  char first_bounced_rcpt[128];
} collect_t;

static void collect_cb(void *arg, const bw_event_t *ev, const bw_verdict_t *v,
                       const bw_line_ref_t *where) {
  collect_t *c = arg;
  (void)v;
  c->events++;
  if (where->line_no != c->last_line + 1)
    c->in_order = 0;
  c->last_line = where->line_no;
  if (ev->kind == BW_KIND_DELIVERY) {
    c->deliveries++;
    if (ev->status == BW_STATUS_BOUNCED && c->bounced_line == 0) {
      c->bounced_line = where->line_no;
      snprintf(c->first_bounced_rcpt, sizeof(c->first_bounced_rcpt), "%.*s",
               (int)ev->rcpt.len, ev->rcpt.p);
    }
  }
}

static void run_one(const bw_replay_opts_t *o, const char *const *paths,
                    size_t n, collect_t *c, bw_replay_stats_t *out, int *rc) {
  bw_replay_t *r;
  memset(c, 0, sizeof(*c));
  c->in_order = 1;
  assert_int_equal(bw_replay_new(o, collect_cb, c, &r), 0);
  *rc = bw_replay_run(r, paths, n);
  *out = *bw_replay_stats(r);
  out->files = NULL; /* freed with r */
  bw_replay_free(r);
}

static void test_sample_counts(void **state) {
  (void)state;
  const char *paths[] = {SAMPLE};
  collect_t c;
  bw_replay_stats_t s;
  int rc;
  run_one(NULL, paths, 1, &c, &s, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(s.lines, 33);
  assert_int_equal(c.events, 33);
  assert_true(c.in_order);
  assert_int_equal(s.by_kind[BW_KIND_DELIVERY], 13);
  assert_int_equal(s.by_kind[BW_KIND_UNKNOWN], 1);
  assert_int_equal(s.by_status[BW_STATUS_SENT], 5);
  assert_int_equal(s.by_status[BW_STATUS_BOUNCED], 3);
  assert_int_equal(s.by_status[BW_STATUS_DEFERRED], 4);
  assert_int_equal(s.by_status[BW_STATUS_EXPIRED], 1);
  assert_int_equal(c.bounced_line, 8);
  assert_string_equal(c.first_bounced_rcpt, "userunknown@example.co.jp");
  assert_int_equal(s.bytes_read, 5328);
  assert_int_equal(s.files_failed, 0);
}

/* Tiny blocks force most lines across block boundaries, and a
 * max_line just above the longest sample line still lets them all in. */
static void test_block_size_does_not_matter(void **state) {
  (void)state;
  const char *paths[] = {SAMPLE, BW_TEST_DATA "/sample.log.zst",
                         BW_TEST_DATA "/sample.log.gz"};
  collect_t c1, c2;
  bw_replay_stats_t s1, s2;
  int rc1, rc2;
  run_one(NULL, paths, 3, &c1, &s1, &rc1);
  bw_replay_opts_t small = {.block_size = 7, .blocks = 2, .max_line = 600};
  run_one(&small, paths, 3, &c2, &s2, &rc2);
  assert_int_equal(rc1, 0);
  assert_int_equal(rc2, 0);
  assert_int_equal(s1.lines, 99);
  assert_int_equal(s2.lines, 99);
  assert_memory_equal(s1.by_kind, s2.by_kind, sizeof(s1.by_kind));
  assert_memory_equal(s1.by_status, s2.by_status, sizeof(s1.by_status));
  assert_memory_equal(s1.by_stage, s2.by_stage, sizeof(s1.by_stage));
  assert_memory_equal(s1.by_dsn_class, s2.by_dsn_class,
                      sizeof(s1.by_dsn_class));
  assert_int_equal(s2.long_lines, 0);
}

static void test_error_in_the_middle(void **state) {
  (void)state;
  const char *paths[] = {SAMPLE, BW_TEST_DATA "/sample-truncated.log.gz",
                         BW_TEST_DATA "/nope.log", SAMPLE};
  bw_replay_t *r;
  collect_t c = {.in_order = 1};
  assert_int_equal(bw_replay_new(NULL, collect_cb, &c, &r), 0);
  int rc = bw_replay_run(r, paths, 4);
  const bw_replay_stats_t *s = bw_replay_stats(r);
  assert_int_equal(rc, BW_ETRUNC);
  assert_int_equal(s->files_failed, 2);
  assert_int_equal(s->files[0].error, 0);
  assert_int_equal(s->files[1].error, BW_ETRUNC);
  assert_int_equal(s->files[1].format, BW_FMT_GZIP);
  assert_int_equal(s->files[1].lines, 23);
  assert_true(s->files[1].tail_bytes > 0);
  assert_true(s->files[1].error_offset > 0);
  assert_non_null(strstr(s->files[1].errmsg, "truncated"));
  assert_int_equal(s->files[2].error, BW_ENOENT);
  assert_int_equal(s->files[3].lines, 33);
  assert_int_equal(s->lines, 33 + 23 + 33);
  assert_int_equal(s->partial_tails, 1);
  assert_int_equal(s->nskips, 1);
  assert_int_equal(s->skips[0].file, 1);
  assert_int_equal(s->skips[0].line_no, 24);
  bw_replay_free(r);
}

static void test_run_twice_refused(void **state) {
  (void)state;
  const char *paths[] = {SAMPLE};
  bw_replay_t *r;
  assert_int_equal(bw_replay_new(NULL, NULL, NULL, &r), 0);
  assert_int_equal(bw_replay_run(r, paths, 1), 0);
  assert_int_equal(bw_replay_run(r, paths, 1), BW_EINVAL);
  assert_int_equal(bw_replay_stats(r)->lines, 33);
  bw_replay_free(r);
  bw_replay_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sample_counts),
      cmocka_unit_test(test_block_size_does_not_matter),
      cmocka_unit_test(test_error_in_the_middle),
      cmocka_unit_test(test_run_twice_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
