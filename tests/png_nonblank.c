/* png_nonblank FILE [MIN_COLOURS [MIN_PERCENT]]: exits 0 only if the PNG
 * (8-bit RGB or RGBA, not interlaced: what headless Chromium writes) has
 * at least MIN_COLOURS distinct colours (default 8) and at least
 * MIN_PERCENT % of pixels differ from the most common colour (default 2),
 * i.e. a screenshot that rendered something. Test tool, zlib only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 1 << 20, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    unsigned char *nb = realloc(buf, cap * 2);
    if (nb == NULL) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  if (buf != NULL && ferror(f)) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = n;
  return buf;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Colour counts in an open-addressing table; enough slots for any
 * screenshot of a few million pixels to have a free one. */
typedef struct {
  uint32_t *key; /* colour + 1; 0 = empty */
  uint64_t *cnt;
  size_t mask, used;
} colours_t;

static int colour_add(colours_t *t, uint32_t rgba) {
  uint32_t k = rgba + 1; /* 0xffffffff + 1 == 0 cannot occur: see below */
  size_t h = (size_t)(k * 2654435761u) & t->mask;
  while (t->key[h] != 0 && t->key[h] != k)
    h = (h + 1) & t->mask;
  if (t->key[h] == 0) {
    if (t->used * 2 >= t->mask)
      return -1;
    t->key[h] = k;
    t->used++;
  }
  t->cnt[h]++;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: %s FILE.png [MIN_COLOURS [MIN_PERCENT]]\n",
            argv[0]);
    return 2;
  }
  const char *path = argv[1];
  unsigned long min_colours = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
  double min_pct = argc > 3 ? strtod(argv[3], NULL) : 2.0;
  size_t len = 0;
  unsigned char *png = read_all(path, &len);
  if (png == NULL) {
    perror(path);
    return 1;
  }
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                       '\n'};
  int rc = 1;
  unsigned char *idat = NULL, *raw = NULL;
  colours_t t = {NULL, NULL, 0, 0};
  if (len < 8 || memcmp(png, sig, 8) != 0) {
    fprintf(stderr, "%s: not a PNG file\n", path);
    goto out;
  }
  uint32_t w = 0, h = 0;
  int depth = 0, ctype = -1, interlace = 0;
  size_t nidat = 0, pos = 8;
  idat = malloc(len);
  if (idat == NULL)
    goto out;
  while (pos + 12 <= len) {
    uint32_t clen = be32(png + pos);
    const unsigned char *type = png + pos + 4, *data = png + pos + 8;
    if (clen > len - pos - 12) {
      fprintf(stderr, "%s: byte %zu: chunk runs past the end\n", path, pos);
      goto out;
    }
    if (memcmp(type, "IHDR", 4) == 0 && clen >= 13) {
      w = be32(data);
      h = be32(data + 4);
      depth = data[8];
      ctype = data[9];
      interlace = data[12];
    } else if (memcmp(type, "IDAT", 4) == 0) {
      memcpy(idat + nidat, data, clen);
      nidat += clen;
    } else if (memcmp(type, "IEND", 4) == 0) {
      break;
    }
    pos += 12 + (size_t)clen;
  }
  if (depth != 8 || (ctype != 2 && ctype != 6) || interlace != 0 || w == 0 ||
      h == 0 || w > 20000 || h > 20000) {
    fprintf(stderr,
            "%s: %ux%u depth %d colour type %d interlace %d: only "
            "non-interlaced 8-bit RGB/RGBA is supported\n",
            path, w, h, depth, ctype, interlace);
    goto out;
  }
  size_t bpp = ctype == 6 ? 4 : 3, stride = (size_t)w * bpp;
  uLongf rawlen = (uLongf)((stride + 1) * h);
  raw = malloc(rawlen);
  if (raw == NULL)
    goto out;
  uLongf got = rawlen;
  int zrc = uncompress(raw, &got, idat, (uLong)nidat);
  if (zrc != Z_OK || got != rawlen) {
    fprintf(stderr, "%s: IDAT: zlib error %d (%lu of %lu bytes)\n", path, zrc,
            (unsigned long)got, (unsigned long)rawlen);
    goto out;
  }
  /* undo the filters in place: row y's bytes follow its filter byte */
  for (size_t y = 0; y < h; y++) {
    unsigned char *row = raw + y * (stride + 1) + 1;
    const unsigned char *up = y > 0 ? raw + (y - 1) * (stride + 1) + 1 : NULL;
    int ft = row[-1];
    for (size_t x = 0; x < stride; x++) {
      int a = x >= bpp ? row[x - bpp] : 0, b = up ? up[x] : 0,
          c = up && x >= bpp ? up[x - bpp] : 0;
      switch (ft) {
      case 0: break;
      case 1: row[x] = (unsigned char)(row[x] + a); break;
      case 2: row[x] = (unsigned char)(row[x] + b); break;
      case 3: row[x] = (unsigned char)(row[x] + ((a + b) >> 1)); break;
      case 4: row[x] = (unsigned char)(row[x] + paeth(a, b, c)); break;
      default:
        fprintf(stderr, "%s: row %zu: unknown filter %d\n", path, y, ft);
        goto out;
      }
    }
  }
  t.mask = (1u << 22) - 1;
  t.key = calloc(t.mask + 1, sizeof *t.key);
  t.cnt = calloc(t.mask + 1, sizeof *t.cnt);
  if (t.key == NULL || t.cnt == NULL)
    goto out;
  for (size_t y = 0; y < h; y++) {
    const unsigned char *row = raw + y * (stride + 1) + 1;
    for (size_t x = 0; x < w; x++) {
      const unsigned char *p = row + x * bpp;
      /* alpha folded to 7 bits so colour + 1 never wraps to 0 */
      uint32_t a = bpp == 4 ? p[3] >> 1 : 0x7f;
      uint32_t rgba = a << 24 | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
      if (colour_add(&t, rgba) != 0) {
        fprintf(stderr, "%s: too many colours to count\n", path);
        goto out;
      }
    }
  }
  uint64_t most = 0, total = (uint64_t)w * h;
  uint32_t bg = 0;
  for (size_t i = 0; i <= t.mask; i++)
    if (t.key[i] != 0 && t.cnt[i] > most) {
      most = t.cnt[i];
      bg = t.key[i] - 1;
    }
  double pct = 100.0 * (double)(total - most) / (double)total;
  printf("%s: %ux%u %s, %zu distinct colours, background #%06x, %.2f%% of "
         "pixels not background\n",
         path, w, h, bpp == 4 ? "RGBA" : "RGB", t.used, bg & 0xffffff, pct);
  if (t.used < min_colours) {
    printf("FAIL: fewer than %lu colours\n", min_colours);
  } else if (pct < min_pct) {
    printf("FAIL: under %.2f%% of pixels not background\n", min_pct);
  } else {
    printf("ok: rendered content\n");
    rc = 0;
  }
out:
  free(t.key);
  free(t.cnt);
  free(raw);
  free(idat);
  free(png);
  return rc;
}
