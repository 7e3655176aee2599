/* Decoders: plain, zstd and gzip behind one small interface, chosen by
 * the input's magic bytes (never by its name).
 *
 * Streaming through caller-owned buffers, as zstd does: the decoder
 * never allocates after bw_decoder_new(), and one decoder is reused for
 * file after file with bw_decoder_reset(). Not thread-safe: one decoder
 * per thread. */
#ifndef BOUNCEWATCH_DECODE_H
#define BOUNCEWATCH_DECODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  BW_FMT_PLAIN = 0,
  BW_FMT_ZSTD,
  BW_FMT_GZIP,
  BW_FMT_XZ,    /* recognised, refused */
  BW_FMT_BZIP2, /* recognised, refused */
  BW_FMT_LZ4,   /* recognised, refused */
  BW_FMT__COUNT
} bw_format_t;

/* Bytes of input bw_format_detect() wants to see (fewer at EOF is fine). */
#define BW_MAGIC_MAX 6

/* Format of a stream from its first bytes (n may be < BW_MAGIC_MAX only
 * at end of input). Anything not compressed is BW_FMT_PLAIN. */
bw_format_t bw_format_detect(const uint8_t *p, size_t n);
const char *bw_format_name(bw_format_t f);

typedef struct {
  /* Largest zstd window accepted, as a power of two (default 27, i.e.
   * 128 MiB, zstd's own default). Larger frames fail with BW_EWINDOW. */
  unsigned zstd_window_log_max;
} bw_decoder_opts_t;

typedef struct bw_decoder_s bw_decoder_t;

/* Create a decoder for `fmt` (plain, zstd or gzip; others give
 * BW_EUNSUPPORTED). opts may be NULL for defaults. */
int bw_decoder_new(bw_format_t fmt, const bw_decoder_opts_t *opts,
                   bw_decoder_t **out);
void bw_decoder_free(bw_decoder_t *d);

/* Forget the current stream; ready for a new file of the same format. */
void bw_decoder_reset(bw_decoder_t *d);

/* Decode from in[0..in_len) into out[0..out_cap). *in_used and *out_len
 * get what was consumed and produced (either may be 0). Returns 0, or a
 * negative BW_E* on corrupt data (BW_ECORRUPT) or a too-large window
 * (BW_EWINDOW); bw_decoder_errmsg() then says why. After an error the
 * output already produced is valid; the decoder needs a reset. Several
 * zstd frames (skippable ones included) and several gzip members decode
 * as one stream. */
int bw_decoder_run(bw_decoder_t *d, const uint8_t *in, size_t in_len,
                   size_t *in_used, uint8_t *out, size_t out_cap,
                   size_t *out_len);

/* At end of input: 0 when the stream ended on a frame or member boundary,
 * BW_ETRUNC when it stopped inside one (out buffer fully drained first:
 * call bw_decoder_run with in_len 0 until it produces nothing). */
int bw_decoder_finish(bw_decoder_t *d);

/* Detail of the last error ("incorrect data check", "needs a 2048 MiB
 * window; allow it with --zstd-window-log=31"); "" when none. The string
 * lives until the next call on d. */
const char *bw_decoder_errmsg(const bw_decoder_t *d);

#ifdef __cplusplus
}
#endif
#endif
