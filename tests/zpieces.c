/* zpieces: one gzip member or zstd frame cut into pieces at flush points,
 * as rsyslog's zipLevel or a streaming `zstd` leaves a growing file, for
 * tests/watch_compressed.sh. Usage:
 *   zpieces gz|zst INPUT OUTPREFIX N1 N2 ...
 * Compresses the lines of INPUT; after N1 lines a sync flush (zlib
 * Z_SYNC_FLUSH, zstd ZSTD_e_flush) ends OUTPREFIX.1, after N2 more
 * OUTPREFIX.2, and so on; the last piece holds the remaining lines and
 * the end of the stream. Every piece but the last ends inside the
 * member/frame, so `cat OUTPREFIX.*` is the whole valid file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static int gz;
static z_stream zs;
static ZSTD_CCtx *zc;
static unsigned char out[1 << 16];

/* Compress len bytes (mode: 0 none, 1 flush, 2 end) into fp. */
static int put(FILE *fp, const char *p, size_t len, int mode) {
  if (gz) {
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)len;
    int flush = mode == 2 ? Z_FINISH : mode == 1 ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    int r;
    do {
      zs.next_out = out;
      zs.avail_out = sizeof(out);
      r = deflate(&zs, flush);
      if (r == Z_STREAM_ERROR)
        return -1;
      fwrite(out, 1, sizeof(out) - zs.avail_out, fp);
    } while (zs.avail_out == 0 || (mode == 2 && r != Z_STREAM_END));
    return 0;
  }
  ZSTD_inBuffer in = {p, len, 0};
  ZSTD_EndDirective e = mode == 2 ? ZSTD_e_end : mode == 1 ? ZSTD_e_flush
                                                           : ZSTD_e_continue;
  size_t left;
  do {
    ZSTD_outBuffer ob = {out, sizeof(out), 0};
    left = ZSTD_compressStream2(zc, &ob, &in, e);
    if (ZSTD_isError(left))
      return -1;
    fwrite(out, 1, ob.pos, fp);
  } while (in.pos < in.size || (e != ZSTD_e_continue && left != 0));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4 || (strcmp(argv[1], "gz") != 0 && strcmp(argv[1], "zst") != 0)) {
    fprintf(stderr, "usage: zpieces gz|zst INPUT OUTPREFIX N1 N2 ...\n");
    return 2;
  }
  gz = strcmp(argv[1], "gz") == 0;
  if (gz ? deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK
         : (zc = ZSTD_createCCtx()) == NULL)
    return 1;
  FILE *in = fopen(argv[2], "r");
  if (in == NULL) {
    perror(argv[2]);
    return 1;
  }
  char *line = NULL, name[4096];
  size_t cap = 0;
  int piece = 1, arg = 4, rc = 0;
  long want = arg < argc ? atol(argv[arg]) : -1, done = 0;
  snprintf(name, sizeof(name), "%s.%d", argv[3], piece);
  FILE *fp = fopen(name, "wb");
  ssize_t n;
  while (fp != NULL && (n = getline(&line, &cap, in)) > 0) {
    rc |= put(fp, line, (size_t)n, 0);
    if (++done == want) {
      rc |= put(fp, "", 0, 1);
      fclose(fp);
      snprintf(name, sizeof(name), "%s.%d", argv[3], ++piece);
      fp = fopen(name, "wb");
      done = 0;
      want = ++arg < argc ? atol(argv[arg]) : -1;
    }
  }
  if (fp == NULL) {
    perror(name);
    return 1;
  }
  rc |= put(fp, "", 0, 2);
  fclose(fp);
  fclose(in);
  free(line);
  if (gz)
    deflateEnd(&zs);
  else
    ZSTD_freeCCtx(zc);
  return rc != 0;
}
