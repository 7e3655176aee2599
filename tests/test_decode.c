/* The decoders (decode.h): magic detection, plain/zstd/gzip output byte
 * for byte against the source log, chunked feeding, frames and members,
 * truncation, corruption, the zstd window limit and context reuse. All
 * inputs are committed files in tests/data/dec/ (README.md there says how
 * each was made); no compressor runs at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bouncewatch/decode.h"
#include "bouncewatch/error.h"

#define DEC_DIR BW_TEST_DATA "/dec/"

typedef struct {
  uint8_t *p;
  size_t len;
  size_t cap;
} buf_t;

static void buf_append(buf_t *b, const uint8_t *p, size_t n) {
  if (n == 0)
    return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    assert_non_null(b->p);
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void buf_free(buf_t *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* The whole fixture, in a buffer of exactly its size (so ASan sees any
 * read past the end). An empty file gives len 0 and a 1-byte buffer. */
static buf_t load(const char *name) {
  char path[512];
  snprintf(path, sizeof(path), "%s%s", DEC_DIR, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("cannot open fixture %s", path);
  buf_t b = {0};
  uint8_t tmp[8192];
  size_t k;
  while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
    buf_append(&b, tmp, k);
  assert_int_equal(ferror(f), 0);
  fclose(f);
  buf_t exact = {malloc(b.len ? b.len : 1), b.len, b.len};
  assert_non_null(exact.p);
  if (b.len)
    memcpy(exact.p, b.p, b.len);
  buf_free(&b);
  return exact;
}

/* What one pass over an input did. */
typedef struct {
  int run_rc;    /* first non-zero bw_decoder_run() result, else 0 */
  int finish_rc; /* bw_decoder_finish(), only called when run_rc == 0 */
  int stalled;   /* run() took and gave nothing while input was offered */
  size_t in_used;
  buf_t out;
} pass_t;

/* Decode in[0..n) the way a reader would: offer at most in_step bytes at
 * a time, into an output block of exactly out_cap bytes, calling run()
 * until each offer is consumed; at the end drain with in_len 0 until run
 * produces nothing, then finish(). Stops at the first error. A decoder
 * that consumes nothing and produces nothing while input is offered and
 * output has room would loop a reader forever: that is recorded as
 * `stalled` instead. */
static pass_t decode_pass(bw_decoder_t *d, const uint8_t *in, size_t n,
                          size_t in_step, size_t out_cap) {
  pass_t r = {0};
  uint8_t *out = malloc(out_cap);
  assert_non_null(out);
  size_t pos = 0;
  while (pos < n) {
    size_t end = n - pos > in_step ? pos + in_step : n;
    while (pos < end) {
      size_t used = 99999, made = 99999;
      int rc = bw_decoder_run(d, in + pos, end - pos, &used, out, out_cap,
                              &made);
      assert_true(used <= end - pos);
      assert_true(made <= out_cap);
      pos += used;
      buf_append(&r.out, out, made);
      if (rc != 0) {
        r.run_rc = rc;
        goto done;
      }
      if (used == 0 && made == 0) {
        r.stalled = 1;
        goto done;
      }
    }
  }
  for (int i = 0;; i++) {
    size_t used = 99999, made = 99999;
    int rc = bw_decoder_run(d, in + n, 0, &used, out, out_cap, &made);
    assert_int_equal(used, 0);
    buf_append(&r.out, out, made);
    if (rc != 0) {
      r.run_rc = rc;
      goto done;
    }
    if (made == 0)
      break;
    /* Draining can only flush what is buffered: bounded. */
    assert_true(i < 1000000);
  }
  r.finish_rc = bw_decoder_finish(d);
done:
  r.in_used = pos;
  free(out);
  return r;
}

static bw_decoder_t *new_dec(bw_format_t fmt, unsigned window_log) {
  bw_decoder_opts_t o = {.zstd_window_log_max = window_log};
  bw_decoder_t *d = NULL;
  assert_int_equal(bw_decoder_new(fmt, window_log ? &o : NULL, &d), 0);
  assert_non_null(d);
  assert_string_equal(bw_decoder_errmsg(d), "");
  return d;
}

static void assert_bytes_equal(const buf_t *got, const buf_t *want) {
  if (got->len != want->len)
    fail_msg("decoded %zu bytes, expected %zu", got->len, want->len);
  for (size_t i = 0; i < want->len; i++)
    if (got->p[i] != want->p[i])
      fail_msg("first difference at byte %zu", i);
}

static void assert_prefix_of(const buf_t *got, const buf_t *want) {
  if (got->len > want->len)
    fail_msg("decoded %zu bytes, more than the %zu of the original",
             got->len, want->len);
  for (size_t i = 0; i < got->len; i++)
    if (got->p[i] != want->p[i])
      fail_msg("output is not a prefix of the original: byte %zu differs", i);
}

static buf_t concat2(const char *a, const char *b) {
  buf_t x = load(a), y = load(b), r = {0};
  buf_append(&r, x.p, x.len);
  buf_append(&r, y.p, y.len);
  buf_free(&x);
  buf_free(&y);
  return r;
}

/* Feeding shapes every good file is decoded with: all at once into a
 * roomy block, 7 bytes in and 13 out, 1 byte in and 4096 out, 4 KiB in
 * and 1 byte out. All must give the same bytes. */
static const struct {
  size_t in_step, out_cap;
} shapes[] = {{SIZE_MAX, 1 << 16}, {7, 13}, {1, 4096}, {4096, 1}};

static void check_good(bw_format_t fmt, const char *file, const buf_t *want,
                       unsigned window_log) {
  buf_t in = load(file);
  assert_int_equal(bw_format_detect(in.p, in.len < BW_MAGIC_MAX
                                              ? in.len : BW_MAGIC_MAX),
                   fmt);
  bw_decoder_t *d = new_dec(fmt, window_log);
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
    if (i > 0)
      bw_decoder_reset(d);
    pass_t r = decode_pass(d, in.p, in.len, shapes[i].in_step,
                           shapes[i].out_cap);
    if (r.run_rc != 0 || r.stalled || r.finish_rc != 0)
      fail_msg("%s, in %zu / out %zu: run %d, stalled %d, finish %d (%s)",
               file, shapes[i].in_step, shapes[i].out_cap, r.run_rc,
               r.stalled, r.finish_rc, bw_decoder_errmsg(d));
    assert_int_equal(r.in_used, in.len);
    assert_bytes_equal(&r.out, want);
    buf_free(&r.out);
  }
  bw_decoder_free(d);
  buf_free(&in);
}

/* ---- detection ---------------------------------------------------- */

static bw_format_t detect_file(const char *name) {
  buf_t b = load(name);
  size_t n = b.len < BW_MAGIC_MAX ? b.len : BW_MAGIC_MAX;
  /* Exactly n bytes, so a read past them is an ASan error. */
  uint8_t *p = malloc(n ? n : 1);
  assert_non_null(p);
  if (n)
    memcpy(p, b.p, n);
  bw_format_t f = bw_format_detect(p, n);
  free(p);
  buf_free(&b);
  return f;
}

static bw_format_t detect_bytes(const char *s, size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  assert_non_null(p);
  memcpy(p, s, n);
  bw_format_t f = bw_format_detect(p, n);
  free(p);
  return f;
}

static void test_detect_files(void **state) {
  (void)state;
  assert_int_equal(detect_file("a.log"), BW_FMT_PLAIN);
  assert_int_equal(detect_file("a.log.zst"), BW_FMT_ZSTD);
  assert_int_equal(detect_file("empty.zst"), BW_FMT_ZSTD);
  assert_int_equal(detect_file("skip.zst"), BW_FMT_ZSTD);
  assert_int_equal(detect_file("a.log.gz"), BW_FMT_GZIP);
  assert_int_equal(detect_file("b.log.gz"), BW_FMT_GZIP); /* pigz */
  assert_int_equal(detect_file("empty.gz"), BW_FMT_GZIP);
  assert_int_equal(detect_file("head.log.xz"), BW_FMT_XZ);
  assert_int_equal(detect_file("head.log.bz2"), BW_FMT_BZIP2);
  assert_int_equal(detect_file("head.log.lz4"), BW_FMT_LZ4);
  assert_int_equal(detect_file("empty"), BW_FMT_PLAIN);
}

static void test_detect_bytes(void **state) {
  (void)state;
  /* Every skippable magic 0x184D2A50..5F. */
  for (unsigned k = 0; k < 16; k++) {
    char m[8] = {(char)(0x50 + k), 0x2A, 0x4D, 0x18, 3, 0, 0, 0};
    assert_int_equal(detect_bytes(m, 6), BW_FMT_ZSTD);
  }
  assert_int_equal(detect_bytes("\x4F\x2A\x4D\x18\0\0", 6), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\x60\x2A\x4D\x18\0\0", 6), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\x28\xB5\x2F\xFD", 4), BW_FMT_ZSTD);
  assert_int_equal(detect_bytes("\x1F\x8B", 2), BW_FMT_GZIP);
  assert_int_equal(detect_bytes("\xFD" "7zXZ\0", 6), BW_FMT_XZ);
  assert_int_equal(detect_bytes("BZh1", 4), BW_FMT_BZIP2);
  assert_int_equal(detect_bytes("BZh9", 4), BW_FMT_BZIP2);
  assert_int_equal(detect_bytes("\x04\x22\x4D\x18", 4), BW_FMT_LZ4);
  assert_int_equal(detect_bytes("\x02\x21\x4C\x18", 4), BW_FMT_LZ4); /* legacy */
  /* Text, including text that starts like a magic. */
  assert_int_equal(detect_bytes("Jun 10", 6), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("BZh0 x", 6), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("BZhX x", 6), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\xFD" "7zXY\0", 6), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\x1F\x8C", 2), BW_FMT_PLAIN);
  /* Short inputs (end of file before BW_MAGIC_MAX): a magic that does
   * not fit is not that format. */
  assert_int_equal(detect_bytes("", 0), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\x1F", 1), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\x28\xB5\x2F", 3), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\x50\x2A\x4D", 3), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\xFD" "7zXZ", 5), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("BZh", 3), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\x04\x22\x4D", 3), BW_FMT_PLAIN);
  assert_int_equal(detect_bytes("\n", 1), BW_FMT_PLAIN);

  assert_string_equal(bw_format_name(BW_FMT_PLAIN), "plain");
  assert_string_equal(bw_format_name(BW_FMT_ZSTD), "zstd");
  assert_string_equal(bw_format_name(BW_FMT_GZIP), "gzip");
  assert_string_equal(bw_format_name(BW_FMT_XZ), "xz");
  assert_string_equal(bw_format_name(BW_FMT_BZIP2), "bzip2");
  assert_string_equal(bw_format_name(BW_FMT_LZ4), "lz4");
  assert_string_equal(bw_format_name(BW_FMT__COUNT), "invalid");
}

/* ---- good files --------------------------------------------------- */

static void test_plain_full(void **state) {
  (void)state;
  buf_t want = load("a.log");
  check_good(BW_FMT_PLAIN, "a.log", &want, 0);
  buf_free(&want);
}

static void test_zstd_full(void **state) {
  (void)state;
  buf_t want = load("a.log");
  check_good(BW_FMT_ZSTD, "a.log.zst", &want, 0);
  buf_free(&want);
}

static void test_gzip_full(void **state) {
  (void)state;
  buf_t want = load("a.log");
  check_good(BW_FMT_GZIP, "a.log.gz", &want, 0);
  buf_free(&want);
}

/* 7 bytes in, 13 out, checked separately from the shapes table so a
 * failure names the case the brief asks for. */
static void test_small_steps(void **state) {
  (void)state;
  static const struct {
    bw_format_t fmt;
    const char *file;
  } files[] = {{BW_FMT_PLAIN, "a.log"},
               {BW_FMT_ZSTD, "a.log.zst"},
               {BW_FMT_GZIP, "a.log.gz"}};
  buf_t want = load("a.log");
  for (size_t i = 0; i < 3; i++) {
    buf_t in = load(files[i].file);
    bw_decoder_t *d = new_dec(files[i].fmt, 0);
    pass_t whole = decode_pass(d, in.p, in.len, SIZE_MAX, 1 << 20);
    bw_decoder_reset(d);
    pass_t small = decode_pass(d, in.p, in.len, 7, 13);
    assert_int_equal(whole.run_rc, 0);
    assert_int_equal(small.run_rc, 0);
    assert_false(small.stalled);
    assert_int_equal(small.finish_rc, 0);
    assert_bytes_equal(&whole.out, &want);
    assert_bytes_equal(&small.out, &whole.out);
    buf_free(&whole.out);
    buf_free(&small.out);
    bw_decoder_free(d);
    buf_free(&in);
  }
  buf_free(&want);
}

static void test_zstd_two_frames(void **state) {
  (void)state;
  buf_t want = concat2("a.log", "b.log");
  check_good(BW_FMT_ZSTD, "ab.zst", &want, 0);
  buf_free(&want);
}

static void test_gzip_two_members(void **state) {
  (void)state;
  buf_t want = concat2("a.log", "b.log");
  check_good(BW_FMT_GZIP, "ab.gz", &want, 0);
  buf_free(&want);
}

/* Skippable frames in front of and between the data frames. */
static void test_zstd_skippable(void **state) {
  (void)state;
  buf_t want = concat2("a.log", "b.log");
  check_good(BW_FMT_ZSTD, "skip.zst", &want, 0);
  buf_free(&want);
}

/* A skippable frame is the last thing in the file: still a clean end. */
static void test_zstd_skippable_last(void **state) {
  (void)state;
  buf_t want = load("a.log");
  check_good(BW_FMT_ZSTD, "skiptail.zst", &want, 0);
  buf_free(&want);
}

/* A 0-byte file, whatever decoder it is given to. */
static void test_empty_file(void **state) {
  (void)state;
  buf_t in = load("empty"), want = {0};
  assert_int_equal(in.len, 0);
  assert_int_equal(bw_format_detect(in.p, 0), BW_FMT_PLAIN);
  check_good(BW_FMT_PLAIN, "empty", &want, 0);
  bw_format_t fmts[] = {BW_FMT_ZSTD, BW_FMT_GZIP};
  for (size_t i = 0; i < 2; i++) {
    bw_decoder_t *d = new_dec(fmts[i], 0);
    pass_t r = decode_pass(d, in.p, 0, 7, 13);
    assert_int_equal(r.run_rc, 0);
    assert_int_equal(r.out.len, 0);
    assert_int_equal(r.finish_rc, 0);
    bw_decoder_free(d);
  }
  buf_free(&in);
}

/* A frame / member of empty content: nothing out, a clean end. */
static void test_empty_frame(void **state) {
  (void)state;
  buf_t want = {0};
  check_good(BW_FMT_ZSTD, "empty.zst", &want, 0);
  check_good(BW_FMT_GZIP, "empty.gz", &want, 0);
}

/* ---- damaged files ------------------------------------------------ */

static void check_truncated(bw_format_t fmt, const char *file) {
  buf_t in = load(file), orig = load("a.log");
  bw_decoder_t *d = new_dec(fmt, 0);
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
    bw_decoder_reset(d);
    assert_string_equal(bw_decoder_errmsg(d), "");
    pass_t r = decode_pass(d, in.p, in.len, shapes[i].in_step,
                           shapes[i].out_cap);
    assert_int_equal(r.run_rc, 0);
    assert_false(r.stalled);
    assert_int_equal(r.in_used, in.len);
    assert_int_equal(r.finish_rc, BW_ETRUNC);
    assert_true(strlen(bw_decoder_errmsg(d)) > 0);
    assert_prefix_of(&r.out, &orig);
    /* Most of the file came out before the cut. */
    assert_true(r.out.len > orig.len / 2);
    assert_true(r.out.len < orig.len);
    buf_free(&r.out);
  }
  bw_decoder_free(d);
  buf_free(&in);
  buf_free(&orig);
}

static void test_zstd_truncated(void **state) {
  (void)state;
  check_truncated(BW_FMT_ZSTD, "trunc.zst");
}

static void test_gzip_truncated(void **state) {
  (void)state;
  check_truncated(BW_FMT_GZIP, "trunc.gz");
}

/* run() must fail with BW_ECORRUPT and a message containing `needle`
 * (NULL: any non-empty message), output before it a prefix of a.log. */
static void check_corrupt(bw_format_t fmt, const char *file,
                          const char *needle) {
  buf_t in = load(file), orig = load("a.log");
  bw_decoder_t *d = new_dec(fmt, 0);
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
    bw_decoder_reset(d);
    pass_t r = decode_pass(d, in.p, in.len, shapes[i].in_step,
                           shapes[i].out_cap);
    if (r.run_rc != BW_ECORRUPT) {
      /* Free first: fail_msg() longjmps, and LSan would bury the report. */
      char why[512];
      snprintf(why, sizeof(why),
               "%s, in %zu / out %zu: run %d (want %d), stalled %d after "
               "%zu of %zu input bytes, finish %d, errmsg \"%s\"",
               file, shapes[i].in_step, shapes[i].out_cap, r.run_rc,
               BW_ECORRUPT, r.stalled, r.in_used, in.len, r.finish_rc,
               bw_decoder_errmsg(d));
      buf_free(&r.out);
      bw_decoder_free(d);
      buf_free(&in);
      buf_free(&orig);
      fail_msg("%s", why);
    }
    const char *msg = bw_decoder_errmsg(d);
    assert_true(strlen(msg) > 0);
    if (needle != NULL && strstr(msg, needle) == NULL)
      fail_msg("errmsg \"%s\" lacks \"%s\"", msg, needle);
    assert_prefix_of(&r.out, &orig);
    buf_free(&r.out);
  }
  bw_decoder_free(d);
  buf_free(&in);
  buf_free(&orig);
}

static void test_gzip_crc_error(void **state) {
  (void)state;
  check_corrupt(BW_FMT_GZIP, "crc.gz", "incorrect data check");
}

/* A reserved deflate block type where the second 32 KiB chunk starts. */
static void test_gzip_corrupt_data(void **state) {
  (void)state;
  check_corrupt(BW_FMT_GZIP, "corrupt.gz", "invalid block type");
}

/* A match reaching back 4000 bytes after 83 bytes of output. With a
 * 1-byte output block, zlib fills the block, parks in its MATCH state,
 * and reports the bad distance on the next call without taking or
 * giving a byte: the decoder must still see the error. */
static void test_gzip_distance_too_far(void **state) {
  (void)state;
  check_corrupt(BW_FMT_GZIP, "far.gz", "invalid distance too far back");
}

/* A reserved block type in the third block header. */
static void test_zstd_corrupt_data(void **state) {
  (void)state;
  check_corrupt(BW_FMT_ZSTD, "corrupt.zst", NULL);
}

/* Bytes flipped inside compressed data: libzstd decodes them to wrong
 * text and only the frame checksum catches it, so no claim is made on
 * the output here (decode.h's "the output already produced is valid"
 * cannot hold for this kind of damage; neither can it for gzip). */
static void test_zstd_checksum_error(void **state) {
  (void)state;
  buf_t in = load("sum.zst");
  bw_decoder_t *d = new_dec(BW_FMT_ZSTD, 0);
  for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
    bw_decoder_reset(d);
    pass_t r = decode_pass(d, in.p, in.len, shapes[i].in_step,
                           shapes[i].out_cap);
    assert_int_equal(r.run_rc, BW_ECORRUPT);
    if (strstr(bw_decoder_errmsg(d), "checksum") == NULL)
      fail_msg("errmsg \"%s\" lacks \"checksum\"", bw_decoder_errmsg(d));
    buf_free(&r.out);
  }
  bw_decoder_free(d);
  buf_free(&in);
}

/* ---- zstd window limit -------------------------------------------- */

/* win31.zst asks for a 2^31-byte window (and carries its content size,
 * 15194 bytes). The last shape gives the whole frame in one input and
 * room for all of its content: libzstd alone would decode it straight
 * into the caller's buffer without checking the window, so the decoder
 * checks the frame header itself (see the README). */
static void check_window_refused(const char *file) {
  buf_t in = load(file);
  bw_decoder_t *d = new_dec(BW_FMT_ZSTD, 0); /* default limit: 27 */
  static const struct {
    size_t in_step, out_cap;
  } sh[] = {{SIZE_MAX, 4096}, {7, 13}, {1, 4096}, {SIZE_MAX, 65536}};
  for (size_t i = 0; i < sizeof(sh) / sizeof(sh[0]); i++) {
    bw_decoder_reset(d);
    pass_t r = decode_pass(d, in.p, in.len, sh[i].in_step, sh[i].out_cap);
    assert_int_equal(r.run_rc, BW_EWINDOW);
    assert_int_equal(r.out.len, 0);
    const char *msg = bw_decoder_errmsg(d);
    if (strstr(msg, "2048 MiB") == NULL ||
        strstr(msg, "--zstd-window-log=31") == NULL)
      fail_msg("%s, in %zu / out %zu: errmsg \"%s\" should name 2048 MiB "
               "and --zstd-window-log=31",
               file, sh[i].in_step, sh[i].out_cap, msg);
    buf_free(&r.out);
  }
  bw_decoder_free(d);
  buf_free(&in);
}

static void test_zstd_window_too_large(void **state) {
  (void)state;
  check_window_refused("win31.zst");
}

/* The same frame behind a skippable frame: the message must still come
 * from the data frame's header. */
static void test_zstd_window_after_skippable(void **state) {
  (void)state;
  check_window_refused("skipwin31.zst");
}

static void test_zstd_window_allowed(void **state) {
  (void)state;
  buf_t want = load("b.log");
  check_good(BW_FMT_ZSTD, "win31.zst", &want, 31);
  check_good(BW_FMT_ZSTD, "skipwin31.zst", &want, 31);
  buf_free(&want);
}

/* ---- refusal, lifetime -------------------------------------------- */

static void test_unsupported(void **state) {
  (void)state;
  bw_format_t fmts[] = {BW_FMT_XZ, BW_FMT_BZIP2, BW_FMT_LZ4, BW_FMT__COUNT};
  for (size_t i = 0; i < 4; i++) {
    bw_decoder_t *d = (bw_decoder_t *)&d; /* poison: must become NULL */
    assert_int_equal(bw_decoder_new(fmts[i], NULL, &d), BW_EUNSUPPORTED);
    assert_null(d);
  }
  /* And the files themselves are detected as those formats. */
  assert_int_equal(detect_file("head.log.xz"), BW_FMT_XZ);
  assert_int_equal(detect_file("head.log.bz2"), BW_FMT_BZIP2);
  assert_int_equal(detect_file("head.log.lz4"), BW_FMT_LZ4);
  bw_decoder_free(NULL);
}

/* One context, file after file: a clean file, a reset in the middle of
 * a frame, a damaged file, then a clean file again. */
static void check_reuse(bw_format_t fmt, const char *a, const char *b,
                        const char *bad, int bad_run_rc, int bad_finish_rc) {
  buf_t ia = load(a), ib = load(b), ibad = load(bad);
  buf_t wa = load("a.log"), wb = load("b.log");
  bw_decoder_t *d = new_dec(fmt, 0);

  pass_t r = decode_pass(d, ia.p, ia.len, 7, 13);
  assert_int_equal(r.finish_rc, 0);
  assert_bytes_equal(&r.out, &wa);
  buf_free(&r.out);

  bw_decoder_reset(d);
  r = decode_pass(d, ib.p, ib.len, 4096, 4096);
  assert_int_equal(r.run_rc, 0);
  assert_int_equal(r.finish_rc, 0);
  assert_bytes_equal(&r.out, &wb);
  buf_free(&r.out);

  /* Abandon a.log half-way (inside a frame/member), then b. */
  bw_decoder_reset(d);
  r = decode_pass(d, ia.p, ia.len / 2, 1000, 4096);
  assert_int_equal(r.run_rc, 0);
  assert_int_equal(r.finish_rc, BW_ETRUNC);
  buf_free(&r.out);
  bw_decoder_reset(d);
  assert_string_equal(bw_decoder_errmsg(d), "");
  assert_int_equal(bw_decoder_finish(d), 0);
  r = decode_pass(d, ib.p, ib.len, 7, 13);
  assert_int_equal(r.finish_rc, 0);
  assert_bytes_equal(&r.out, &wb);
  buf_free(&r.out);

  /* After an error, reset makes the context usable again. */
  bw_decoder_reset(d);
  r = decode_pass(d, ibad.p, ibad.len, 4096, 4096);
  assert_int_equal(r.run_rc, bad_run_rc);
  if (bad_run_rc == 0)
    assert_int_equal(r.finish_rc, bad_finish_rc);
  assert_true(strlen(bw_decoder_errmsg(d)) > 0);
  buf_free(&r.out);
  bw_decoder_reset(d);
  assert_string_equal(bw_decoder_errmsg(d), "");
  r = decode_pass(d, ia.p, ia.len, SIZE_MAX, 1 << 16);
  assert_int_equal(r.run_rc, 0);
  assert_int_equal(r.finish_rc, 0);
  assert_bytes_equal(&r.out, &wa);
  buf_free(&r.out);

  bw_decoder_free(d);
  buf_free(&ia);
  buf_free(&ib);
  buf_free(&ibad);
  buf_free(&wa);
  buf_free(&wb);
}

static void test_zstd_reset_reuse(void **state) {
  (void)state;
  check_reuse(BW_FMT_ZSTD, "a.log.zst", "b.log.zst", "trunc.zst", 0,
              BW_ETRUNC);
  check_reuse(BW_FMT_ZSTD, "a.log.zst", "b.log.zst", "win31.zst",
              BW_EWINDOW, 0);
  check_reuse(BW_FMT_ZSTD, "a.log.zst", "b.log.zst", "corrupt.zst",
              BW_ECORRUPT, 0);
}

static void test_gzip_reset_reuse(void **state) {
  (void)state;
  check_reuse(BW_FMT_GZIP, "a.log.gz", "b.log.gz", "trunc.gz", 0, BW_ETRUNC);
  check_reuse(BW_FMT_GZIP, "a.log.gz", "b.log.gz", "crc.gz", BW_ECORRUPT, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect_files),
      cmocka_unit_test(test_detect_bytes),
      cmocka_unit_test(test_plain_full),
      cmocka_unit_test(test_zstd_full),
      cmocka_unit_test(test_gzip_full),
      cmocka_unit_test(test_small_steps),
      cmocka_unit_test(test_zstd_two_frames),
      cmocka_unit_test(test_gzip_two_members),
      cmocka_unit_test(test_zstd_skippable),
      cmocka_unit_test(test_zstd_skippable_last),
      cmocka_unit_test(test_empty_file),
      cmocka_unit_test(test_empty_frame),
      cmocka_unit_test(test_zstd_truncated),
      cmocka_unit_test(test_gzip_truncated),
      cmocka_unit_test(test_gzip_crc_error),
      cmocka_unit_test(test_gzip_corrupt_data),
      cmocka_unit_test(test_gzip_distance_too_far),
      cmocka_unit_test(test_zstd_corrupt_data),
      cmocka_unit_test(test_zstd_checksum_error),
      cmocka_unit_test(test_zstd_window_too_large),
      cmocka_unit_test(test_zstd_window_after_skippable),
      cmocka_unit_test(test_zstd_window_allowed),
      cmocka_unit_test(test_unsupported),
      cmocka_unit_test(test_zstd_reset_reuse),
      cmocka_unit_test(test_gzip_reset_reuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
