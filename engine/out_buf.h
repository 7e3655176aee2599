/* A buffered writer for the outputs: text, JSON and JSON Lines go
 * through one 64 KiB buffer, so printing an event costs no syscall.
 * Internal to the engine. */
#ifndef BW_OUT_BUF_H
#define BW_OUT_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bouncewatch/event.h"

typedef struct {
  FILE *fp;
  size_t len;
  int error; /* a write failed (EPIPE, disk full): stop writing */
  char buf[64 * 1024];
} bw_out_t;

void bw__out_init(bw_out_t *o, FILE *fp);
void bw__out_flush(bw_out_t *o);
void bw__out_write(bw_out_t *o, const char *p, size_t n);
void bw__out_str(bw_out_t *o, const char *s);
void bw__out_u64(bw_out_t *o, uint64_t v);
void bw__out_printf(bw_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A JSON string literal (with quotes) of arbitrary bytes: control
 * characters escaped, invalid UTF-8 replaced by U+FFFD, so the output is
 * always valid JSON. A span with p == NULL prints null. */
void bw__out_json_str(bw_out_t *o, const char *p, size_t n);
void bw__out_json_span(bw_out_t *o, bw_span_t s);

/* An object member's key ("k":), preceded by a comma unless *first, which
 * it then clears; and a key with an unsigned value. */
void bw__out_json_key(bw_out_t *o, int *first, const char *k);
void bw__out_json_u64(bw_out_t *o, int *first, const char *k, uint64_t v);

#endif
