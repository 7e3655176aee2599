/* watch's state file (watch_state.h): the header is written byte for
 * byte as cmd_watch.c wrote it before it moved (built here by hand, with
 * its checksum), a BWWATCH1 one and one ending before the suppression
 * list and alerts still load, counters are loaded without the writer's
 * pointers and samples, and positions follow.c cannot take, strings with
 * a NUL and a wrong checksum are refused with the place named. */
#include <stdlib.h>

#include "alert.h"
#include "bouncewatch/error.h"
#include "hash.h"
#include "out.h"
#include "t_util.h"
#include "watch_state.h"

typedef struct {
  bw_agg_opts_t ao;
  bw_alert_opts_t alo;
  bw_suppress_opts_t so;
  bw_agg_t *agg;
  bw_suppress_t *sup;
  bw_alerts_t *al;
} objs_t;

static void objs_new(objs_t *o) {
  bw_agg_opts_default(&o->ao);
  o->ao.max_messages = 16;
  o->ao.max_domains = 8;
  bw_suppress_opts_default(&o->so);
  o->so.max_entries = 16;
  bw__alert_opts_default(&o->alo, &o->ao);
  o->alo.max_history = 4;
  assert_int_equal(bw_agg_new(&o->ao, &o->agg), 0);
  assert_int_equal(bw_suppress_new(&o->so, &o->sup), 0);
  assert_int_equal(bw__alerts_new(&o->alo, &o->ao, NULL, NULL, &o->al), 0);
}

static void objs_free(objs_t *o) {
  bw_agg_free(o->agg);
  bw_suppress_free(o->sup);
  bw__alerts_free(o->al);
}

/* The header as the previous cmd_watch.c save_state() wrote it, with
 * explicit lengths (so a NUL can be put inside a string). cursor NULL:
 * BWWATCH1. sections: 0 none, 1 the aggregation's, 3 all three. */
static char *state(size_t *len, uint32_t n, const char *const *paths,
                   const uint32_t *plen, const bw_follow_pos_t *pos,
                   const char *cursor, uint32_t clen,
                   const bw_replay_stats_t *st, int sections, objs_t *o) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  assert_non_null(f);
  uint64_t h = 0x9E3779B97F4A7C15ull;
  fwrite(cursor != NULL ? "BWWATCH2" : "BWWATCH1", 1, 8, f);
  fwrite(&n, 4, 1, f);
  h = bw__hash_bytes(h, (const char *)&n, 4);
  for (uint32_t i = 0; i < n; i++) {
    fwrite(&plen[i], 4, 1, f);
    fwrite(paths[i], 1, plen[i], f);
    fwrite(&pos[2 * i], sizeof(*pos), 2, f);
    h = bw__hash_bytes(h, paths[i], plen[i]);
    h = bw__hash_bytes(h, (const char *)&pos[2 * i], 2 * sizeof(*pos));
  }
  if (cursor != NULL) {
    fwrite(&clen, 4, 1, f);
    fwrite(cursor, 1, clen, f);
    h = bw__hash_bytes(h, (const char *)&clen, 4);
    h = bw__hash_bytes(h, cursor, clen);
  }
  fwrite(st, sizeof(*st), 1, f);
  h = bw__hash_bytes(h, (const char *)st, sizeof(*st));
  fwrite(&h, 8, 1, f);
  if (sections >= 1)
    assert_int_equal(bw_agg_save(o->agg, f), 0);
  if (sections >= 3) {
    assert_int_equal(bw_suppress_save(o->sup, f), 0);
    assert_int_equal(bw__alerts_save(o->al, f), 0);
  }
  assert_int_equal(fclose(f), 0);
  return buf;
}

static const char *const paths[2] = {"/var/log/mail.log", "/var/log/other"};
static const uint32_t plen[2] = {17, 14};

static void positions(bw_follow_pos_t pos[4]) {
  memset(pos, 0, 4 * sizeof(*pos));
  pos[0] = (bw_follow_pos_t){2049, 131, 5000, 0xfeedull, 64, BW_POS_BYTES};
  pos[1] = (bw_follow_pos_t){2049, 99, 777, 0xbeefull, 30, BW_POS_DECODED};
  pos[2] = (bw_follow_pos_t){2050, 7, 12, 0xabcull, 12, BW_POS_BYTES};
}

/* Loads buf into fresh objects; the positions of the two paths, the
 * counters (preset to lines = 4242 to see whether they were touched) and
 * the cursor are left in *out. */
typedef struct {
  int rc;
  bw_follow_pos_t pos[4];
  bw_replay_stats_t st;
  char *cursor;
  char why[512];
} loaded_t;

static void load(const char *buf, size_t len, loaded_t *l) {
  objs_t o;
  objs_new(&o);
  memset(l, 0, sizeof(*l));
  l->st.lines = 4242;
  FILE *f = fmemopen((void *)buf, len, "rb");
  assert_non_null(f);
  bw__watch_state_t ws = {paths, 2, l->pos, &l->st, o.agg, o.sup, o.al};
  l->rc = bw__watch_state_load(f, &ws, &l->cursor, l->why, sizeof(l->why));
  fclose(f);
  objs_free(&o);
}

static void test_bytes_as_before_and_roundtrip(void **state_) {
  (void)state_;
  objs_t o;
  objs_new(&o);
  bw_follow_pos_t pos[4];
  positions(pos);
  bw_replay_stats_t st;
  memset(&st, 0, sizeof(st));
  st.lines = 99;
  st.by_kind[1] = 42;
  st.hard = 3;
  size_t want_len;
  char *want = state(&want_len, 2, paths, plen, pos, "s=1;i=2", 7, &st, 3, &o);

  /* The run's own pointers and samples are not written. */
  bw_file_stats_t files[1];
  memset(files, 0, sizeof(files));
  bw_replay_stats_t live = st;
  live.files = files;
  live.nskips = 1;
  live.skips[0].why = "longer than max_line";
  live.skips[0].line_no = 5;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  bw__watch_state_t ws = {paths, 2, pos, &live, o.agg, o.sup, o.al};
  assert_int_equal(bw__watch_state_save(f, &ws, "s=1;i=2"), 0);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(len, want_len);
  assert_memory_equal(buf, want, len);

  loaded_t l;
  load(buf, len, &l);
  assert_int_equal(l.rc, 0);
  assert_string_equal(l.why, "");
  assert_memory_equal(l.pos, pos, sizeof(pos));
  assert_string_equal(l.cursor, "s=1;i=2");
  assert_int_equal(l.st.lines, 99);
  assert_int_equal(l.st.by_kind[1], 42);
  assert_int_equal(l.st.hard, 3);
  free(l.cursor);
  free(buf);
  free(want);
  objs_free(&o);
}

static void test_v1_and_older_sections(void **state_) {
  (void)state_;
  objs_t o;
  objs_new(&o);
  bw_follow_pos_t pos[4];
  positions(pos);
  bw_replay_stats_t st;
  memset(&st, 0, sizeof(st));
  st.lines = 7;
  size_t len;
  char *buf = state(&len, 2, paths, plen, pos, NULL, 0, &st, 1, &o);
  loaded_t l;
  load(buf, len, &l);
  assert_int_equal(l.rc, 0);
  assert_null(l.cursor); /* BWWATCH1: no journal */
  assert_int_equal(l.st.lines, 7);
  assert_memory_equal(l.pos, pos, sizeof(pos));
  free(buf);
  objs_free(&o);
}

/* A file that passes the checksum with the writer's pointers, nfiles
 * and skip samples in it: loaded without them, so the report prints the
 * counters and nothing behind a pointer of another process. */
static void test_counters_cleaned(void **state_) {
  (void)state_;
  objs_t o;
  objs_new(&o);
  bw_follow_pos_t pos[4];
  positions(pos);
  bw_replay_stats_t st;
  memset(&st, 0, sizeof(st));
  st.lines = 5;
  st.long_lines = 2;
  st.nskips = 100000;
  st.nfiles = 3;
  st.files = (bw_file_stats_t *)(uintptr_t)0x4141;
  st.skips[0].why = (const char *)(uintptr_t)0x42;
  st.skips[0].file = 12345;
  size_t len;
  char *buf = state(&len, 2, paths, plen, pos, "", 0, &st, 3, &o);
  loaded_t l;
  load(buf, len, &l);
  assert_int_equal(l.rc, 0);
  assert_int_equal(l.st.lines, 5);
  assert_int_equal(l.st.long_lines, 2);
  assert_int_equal(l.st.nskips, 0);
  assert_int_equal(l.st.nfiles, 0);
  assert_null(l.st.files);
  assert_null(l.st.skips[0].why);
  assert_string_equal(l.cursor, "");

  char *out = NULL;
  size_t outlen = 0;
  FILE *f = open_memstream(&out, &outlen);
  static bw_out_t o2;
  bw__out_init(&o2, f);
  bw_report_in_t rin = {&l.st, 1.0, 2048};
  bw__report_json(&o2, &rin);
  bw__report_text(&o2, &rin);
  bw__out_flush(&o2);
  fclose(f);
  assert_non_null(strstr(out, "\"samples\":[]"));
  free(out);
  free(l.cursor);
  free(buf);
  objs_free(&o);
}

/* Refused, with the place named, the counters untouched and no cursor. */
static void refused(const char *buf, size_t len, const char *why) {
  loaded_t l;
  load(buf, len, &l);
  assert_int_equal(l.rc, BW_EPARSE);
  assert_null(l.cursor);
  assert_int_equal(l.st.lines, 4242);
  if (strstr(l.why, why) == NULL)
    fail_msg("why \"%s\" does not say \"%s\"", l.why, why);
}

static void test_refused(void **state_) {
  (void)state_;
  objs_t o;
  objs_new(&o);
  bw_replay_stats_t st;
  memset(&st, 0, sizeof(st));
  bw_follow_pos_t pos[4];
  size_t len;
  char *buf;

  /* follow.c's decoded_head() hashes head_len bytes into a 64-byte
   * buffer: a longer head would overflow it. */
  positions(pos);
  pos[1].head_len = 300;
  buf = state(&len, 2, paths, plen, pos, "", 0, &st, 3, &o);
  refused(buf, len,
          "path 0 (/var/log/mail.log): the rotated file: a position whose head "
          "is over 64 bytes");
  free(buf);

  positions(pos);
  pos[2].valid = 9;
  buf = state(&len, 2, paths, plen, pos, "", 0, &st, 3, &o);
  refused(
      buf, len,
      "path 1 (/var/log/other): the live file: a position of an unknown kind");
  free(buf);

  positions(pos);
  pos[0].offset = 1ull << 63; /* a negative off_t for pread() */
  buf = state(&len, 2, paths, plen, pos, "", 0, &st, 3, &o);
  refused(buf, len, "a position beyond any file");
  free(buf);

  positions(pos);
  pos[2].offset = 5; /* a plain file's head is never past its offset */
  buf = state(&len, 2, paths, plen, pos, "", 0, &st, 3, &o);
  refused(buf, len, "a position whose head is longer than its offset");
  free(buf);

  /* "/var/log/mail.log\0x" would compare equal to the followed path. */
  positions(pos);
  const char *nul[2] = {"/var/log/mail.log\0x", paths[1]};
  const uint32_t nullen[2] = {19, plen[1]};
  buf = state(&len, 2, nul, nullen, pos, "", 0, &st, 3, &o);
  refused(buf, len, "path 0: a string with a NUL inside");
  free(buf);

  buf = state(&len, 2, paths, plen, pos, "s=1\0;i=2", 8, &st, 3, &o);
  refused(buf, len, "journal cursor: a string with a NUL inside");
  free(buf);

  buf = state(&len, 2, paths, plen, pos, "", 0, &st, 3, &o);
  buf[len - 1] ^= 1; /* the alerts' checksum */
  refused(buf, len, "the alerts section is refused");
  /* A counter changed after the checksum was made. */
  buf[len - 1] ^= 1;
  size_t stats_at = 8 + 4 + 2 * 4 + 17 + 14 + 4 * sizeof(bw_follow_pos_t) + 4;
  buf[stats_at + 16] ^= 1;
  refused(buf, len, "the header's checksum does not match");
  /* Cut inside the header. */
  refused(buf, stats_at, "truncated");
  free(buf);

  /* Garbage after a good magic. */
  refused("BWWATCH2\xff\xff\xff\xff", 12, "4294967295 paths");
  objs_free(&o);
}

/* The writer refuses what the reader would: a state no restart could
 * load is never written. At the limits less one, it round-trips. */
static void test_writer_limits(void **state_) {
  (void)state_;
  objs_t o;
  objs_new(&o);
  bw_replay_stats_t st;
  memset(&st, 0, sizeof(st));
  char *big = malloc(BW__WATCH_MAX_STR + 1);
  assert_non_null(big);
  memset(big, 'a', BW__WATCH_MAX_STR);
  big[0] = '/';
  big[BW__WATCH_MAX_STR] = '\0';
  const char **many = calloc(BW__WATCH_MAX_PATHS, sizeof(*many));
  bw_follow_pos_t *pos = calloc(2 * BW__WATCH_MAX_PATHS, sizeof(*pos));
  assert_non_null(many);
  assert_non_null(pos);
  for (size_t i = 0; i < BW__WATCH_MAX_PATHS; i++)
    many[i] = "/var/log/mail.log";
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);

  bw__watch_state_t ws = {many, BW__WATCH_MAX_PATHS, pos, &st, o.agg, o.sup, o.al};
  assert_int_equal(bw__watch_state_save(f, &ws, ""), BW_EINVAL);
  const char *one[1] = {big};
  bw__watch_state_t w1 = {one, 1, pos, &st, o.agg, o.sup, o.al};
  assert_int_equal(bw__watch_state_save(f, &w1, ""), BW_EINVAL); /* path */
  w1.paths = many;
  assert_int_equal(bw__watch_state_save(f, &w1, big), BW_EINVAL); /* cursor */
  fflush(f);
  assert_int_equal(len, 0); /* nothing written */

  big[BW__WATCH_MAX_STR - 1] = '\0'; /* 4095 bytes: allowed */
  one[0] = big;
  w1.paths = one;
  assert_int_equal(bw__watch_state_save(f, &w1, big), 0);
  assert_int_equal(fclose(f), 0);
  loaded_t l;
  memset(&l, 0, sizeof(l));
  FILE *r = fmemopen(buf, len, "rb");
  assert_non_null(r);
  bw_follow_pos_t back[2];
  bw__watch_state_t wr = {one, 1, back, &l.st, o.agg, o.sup, o.al};
  assert_int_equal(bw__watch_state_load(r, &wr, &l.cursor, l.why, sizeof(l.why)), 0);
  assert_string_equal(l.cursor, big);
  fclose(r);
  free(l.cursor);
  free(buf);
  free(big);
  free(many);
  free(pos);
  objs_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bytes_as_before_and_roundtrip),
      cmocka_unit_test(test_v1_and_older_sections),
      cmocka_unit_test(test_counters_cleaned),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_writer_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
