/* Magic-byte format detection and the decoder dispatch. The formats'
 * own code lives in dec_plain.c, dec_zstd.c and dec_gzip.c. */
#include <string.h>

#include "bouncewatch/error.h"
#include "dec.h"

bw_format_t bw_format_detect(const uint8_t *p, size_t n) {
  /* Magic numbers as zstd's FIO_decompressFrames checks them. */
  if (n >= 4 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD)
    return BW_FMT_ZSTD;
  if (n >= 4 && (p[0] & 0xF0) == 0x50 && p[1] == 0x2A && p[2] == 0x4D &&
      p[3] == 0x18)
    return BW_FMT_ZSTD; /* starts with a skippable frame */
  if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B)
    return BW_FMT_GZIP;
  if (n >= 6 && memcmp(p, "\xFD" "7zXZ\0", 6) == 0)
    return BW_FMT_XZ;
  if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' &&
      p[3] <= '9')
    return BW_FMT_BZIP2;
  if (n >= 4 && ((p[0] == 0x04 && p[1] == 0x22 && p[2] == 0x4D &&
                  p[3] == 0x18) ||
                 (p[0] == 0x02 && p[1] == 0x21 && p[2] == 0x4C && p[3] == 0x18)))
    return BW_FMT_LZ4;
  return BW_FMT_PLAIN;
}

const char *bw_format_name(bw_format_t f) {
  static const char *const names[] = {"plain", "zstd", "gzip",
                                      "xz",    "bzip2", "lz4"};
  return (unsigned)f < BW_FMT__COUNT ? names[f] : "invalid";
}

int bw_decoder_new(bw_format_t fmt, const bw_decoder_opts_t *opts,
                   bw_decoder_t **out) {
  bw_decoder_opts_t o = {.zstd_window_log_max = 27};
  if (opts != NULL && opts->zstd_window_log_max != 0)
    o = *opts;
  int rc;
  *out = NULL;
  switch (fmt) {
  case BW_FMT_PLAIN:
    rc = bw__dec_plain_new(out);
    break;
  case BW_FMT_ZSTD:
    rc = bw__dec_zstd_new(&o, out);
    break;
  case BW_FMT_GZIP:
    rc = bw__dec_gzip_new(out);
    break;
  default:
    return BW_EUNSUPPORTED;
  }
  if (rc == 0) {
    (*out)->fmt = fmt;
    (*out)->opts = o;
    (*out)->errmsg[0] = '\0';
  }
  return rc;
}

void bw_decoder_free(bw_decoder_t *d) {
  if (d != NULL)
    d->vt->destroy(d);
}

void bw_decoder_reset(bw_decoder_t *d) {
  d->errmsg[0] = '\0';
  d->vt->reset(d);
}

int bw_decoder_run(bw_decoder_t *d, const uint8_t *in, size_t in_len,
                   size_t *in_used, uint8_t *out, size_t out_cap,
                   size_t *out_len) {
  *in_used = 0;
  *out_len = 0;
  return d->vt->run(d, in, in_len, in_used, out, out_cap, out_len);
}

int bw_decoder_finish(bw_decoder_t *d) { return d->vt->finish(d); }

const char *bw_decoder_errmsg(const bw_decoder_t *d) { return d->errmsg; }
