/* The buffered output writer and JSON string escaping. */
#include <stdarg.h>
#include <string.h>

#include "out_buf.h"

void bw__out_init(bw_out_t *o, FILE *fp) {
  o->fp = fp;
  o->len = 0;
  o->error = 0;
}

void bw__out_flush(bw_out_t *o) {
  if (o->len > 0 && !o->error) {
    if (fwrite(o->buf, 1, o->len, o->fp) != o->len)
      o->error = 1;
  }
  o->len = 0;
  if (!o->error && fflush(o->fp) != 0)
    o->error = 1;
}

void bw__out_write(bw_out_t *o, const char *p, size_t n) {
  if (o->len + n > sizeof(o->buf)) {
    bw__out_flush(o);
    if (n > sizeof(o->buf)) {
      if (!o->error && fwrite(p, 1, n, o->fp) != n)
        o->error = 1;
      return;
    }
  }
  memcpy(o->buf + o->len, p, n);
  o->len += n;
}

void bw__out_str(bw_out_t *o, const char *s) { bw__out_write(o, s, strlen(s)); }

void bw__out_u64(bw_out_t *o, uint64_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  bw__out_write(o, tmp + i, sizeof(tmp) - i);
}

void bw__out_printf(bw_out_t *o, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  bw__out_write(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of a valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

void bw__out_json_str(bw_out_t *o, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  const unsigned char *run = p;
  bw__out_write(o, "\"", 1);
  while (p < end) {
    unsigned char c = *p;
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      p++;
      continue;
    }
    size_t ulen = c >= 0x80 ? utf8_len(p, (size_t)(end - p)) : 0;
    if (ulen > 0) {
      p += ulen;
      continue;
    }
    bw__out_write(o, (const char *)run, (size_t)(p - run));
    if (c == '"') {
      bw__out_write(o, "\\\"", 2);
    } else if (c == '\\') {
      bw__out_write(o, "\\\\", 2);
    } else if (c >= 0x80) {
      bw__out_write(o, "\\ufffd", 6);
    } else {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      bw__out_write(o, esc, 6);
    }
    p++;
    run = p;
  }
  bw__out_write(o, (const char *)run, (size_t)(p - run));
  bw__out_write(o, "\"", 1);
}

void bw__out_json_span(bw_out_t *o, bw_span_t s) {
  if (s.p == NULL)
    bw__out_write(o, "null", 4);
  else
    bw__out_json_str(o, s.p, s.len);
}

void bw__out_json_key(bw_out_t *o, int *first, const char *k) {
  if (!*first)
    bw__out_write(o, ",", 1);
  *first = 0;
  bw__out_json_str(o, k, strlen(k));
  bw__out_write(o, ":", 1);
}

void bw__out_json_u64(bw_out_t *o, int *first, const char *k, uint64_t v) {
  bw__out_json_key(o, first, k);
  bw__out_u64(o, v);
}
