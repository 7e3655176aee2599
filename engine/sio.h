/* A checked binary stream for the sections of watch's state file (the
 * aggregation's, the suppression list's): every byte written or read goes
 * through a running hash that the section ends with, so a truncated or
 * damaged section is refused whole. After the first failed write or read
 * the stream only keeps `bad` set. Internal to the engine. */
#ifndef BW_SIO_H
#define BW_SIO_H

#include <stdint.h>
#include <stdio.h>

#include "hash.h"

typedef struct {
  FILE *f;
  uint64_t h; /* the running hash: seed it per section */
  int bad;
} bw__sio_t;

static inline void bw__sio_put(bw__sio_t *s, const void *p, size_t n) {
  if (s->bad || n == 0)
    return;
  s->h = bw__hash_bytes(s->h, p, n);
  if (fwrite(p, 1, n, s->f) != n)
    s->bad = 1;
}

static inline void bw__sio_get(bw__sio_t *s, void *p, size_t n) {
  if (s->bad || n == 0)
    return;
  if (fread(p, 1, n, s->f) != n) {
    s->bad = 1;
    return;
  }
  s->h = bw__hash_bytes(s->h, p, n);
}

#endif
