/* The plain "decoder": a copy. Replay reads plain files straight into
 * its blocks and skips it; it exists so every source has one interface. */
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "dec.h"

static int plain_run(bw_decoder_t *d, const uint8_t *in, size_t in_len,
                     size_t *in_used, uint8_t *out, size_t out_cap,
                     size_t *out_len) {
  (void)d;
  size_t n = in_len < out_cap ? in_len : out_cap;
  memcpy(out, in, n);
  *in_used = n;
  *out_len = n;
  return 0;
}

static int plain_finish(bw_decoder_t *d) {
  (void)d;
  return 0;
}

static void plain_reset(bw_decoder_t *d) { (void)d; }

static void plain_destroy(bw_decoder_t *d) { free(d); }

static const bw__dec_vtable_t plain_vt = {plain_run, plain_finish, plain_reset,
                                          plain_destroy};

int bw__dec_plain_new(bw_decoder_t **out) {
  bw_decoder_t *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return BW_ENOMEM;
  d->vt = &plain_vt;
  *out = d;
  return 0;
}
