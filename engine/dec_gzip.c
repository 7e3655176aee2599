/* gzip decoding through zlib's inflate. inflate() stops at the end of
 * each member; concatenated members (what `cat a.gz b.gz` and pigz
 * produce) need an inflateReset() to go on (zlib.h ll. 863-872). */
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "bouncewatch/error.h"
#include "dec.h"

typedef struct {
  bw_decoder_t base;
  z_stream zs;
  int in_member;  /* inside a member: EOF now means truncated */
  int member_end; /* a member ended; reset before the next byte */
} gzip_dec_t;

static int gzip_run(bw_decoder_t *d, const uint8_t *in, size_t in_len,
                    size_t *in_used, uint8_t *out, size_t out_cap,
                    size_t *out_len) {
  gzip_dec_t *g = (gzip_dec_t *)d;
  z_stream *s = &g->zs;
  /* zlib counts in uInt; our blocks are far below 4 GiB. */
  s->next_in = (Bytef *)(uintptr_t)in;
  s->avail_in = (uInt)in_len;
  s->next_out = out;
  s->avail_out = (uInt)out_cap;
  int rc = 0;

  while (s->avail_out > 0) {
    if (!g->in_member) {
      if (s->avail_in == 0)
        break;
      if (g->member_end) {
        inflateReset(s);
        g->member_end = 0;
      }
      g->in_member = 1;
    }
    int r = inflate(s, Z_NO_FLUSH);
    if (r == Z_STREAM_END) {
      g->in_member = 0;
      g->member_end = 1;
      continue;
    }
    if (r == Z_OK)
      continue; /* progress was made; Z_OK never means "stuck" */
    if (r == Z_BUF_ERROR)
      break; /* needs more input (or more room) */
    /* An error may come without consuming or producing a byte (zlib
     * parked in a match, then found its distance invalid), so errors are
     * checked before any "no progress" test. */
    snprintf(d->errmsg, sizeof(d->errmsg), "gzip: %s",
             s->msg != NULL ? s->msg : zError(r));
    rc = r == Z_MEM_ERROR ? BW_ENOMEM : BW_ECORRUPT;
    break;
  }
  *in_used = in_len - s->avail_in;
  *out_len = out_cap - s->avail_out;
  return rc;
}

static int gzip_finish(bw_decoder_t *d) {
  gzip_dec_t *g = (gzip_dec_t *)d;
  if (g->in_member) {
    snprintf(d->errmsg, sizeof(d->errmsg),
             "gzip: input ends inside a member (truncated)");
    return BW_ETRUNC;
  }
  return 0;
}

static void gzip_reset(bw_decoder_t *d) {
  gzip_dec_t *g = (gzip_dec_t *)d;
  inflateReset(&g->zs);
  g->in_member = 0;
  g->member_end = 0;
}

static void gzip_destroy(bw_decoder_t *d) {
  gzip_dec_t *g = (gzip_dec_t *)d;
  inflateEnd(&g->zs);
  free(g);
}

static const bw__dec_vtable_t gzip_vt = {gzip_run, gzip_finish, gzip_reset,
                                         gzip_destroy};

int bw__dec_gzip_new(bw_decoder_t **out) {
  gzip_dec_t *g = calloc(1, sizeof(*g));
  if (g == NULL)
    return BW_ENOMEM;
  g->base.vt = &gzip_vt;
  /* 15 + 16: gzip wrapper only; zlib-wrapped or raw data is not a .gz. */
  if (inflateInit2(&g->zs, 15 + 16) != Z_OK) {
    free(g);
    return BW_ENOMEM;
  }
  *out = &g->base;
  return 0;
}
