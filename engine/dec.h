/* The decoder vtable shared by dec_plain.c, dec_zstd.c and dec_gzip.c.
 * Each implementation embeds bw_decoder_t as its first member. */
#ifndef BW_DEC_H
#define BW_DEC_H

#include "bouncewatch/decode.h"

typedef struct {
  int (*run)(bw_decoder_t *d, const uint8_t *in, size_t in_len,
             size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_len);
  int (*finish)(bw_decoder_t *d);
  void (*reset)(bw_decoder_t *d);
  void (*destroy)(bw_decoder_t *d);
} bw__dec_vtable_t;

struct bw_decoder_s {
  const bw__dec_vtable_t *vt;
  bw_format_t fmt;
  bw_decoder_opts_t opts;
  char errmsg[256];
};

int bw__dec_plain_new(bw_decoder_t **out);
int bw__dec_zstd_new(const bw_decoder_opts_t *opts, bw_decoder_t **out);
int bw__dec_gzip_new(bw_decoder_t **out);

#endif
