/* bw_parse_line(): recognise the line's prefix (RFC 3164, RFC 3339, or
 * Exim's own mainlog stamp), split "host prog[pid]: ", and hand the body
 * to the Postfix or Exim grammar. Lines of other programs stop here. */
#include <stdlib.h>
#include <time.h>

#include "bouncewatch/error.h"
#include "fmt.h"

int bw_parser_new(bw_parser_t **out) {
  bw_parser_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return BW_ENOMEM;
  bw__logtime_init(&p->lt, (int64_t)time(NULL));
  *out = p;
  return 0;
}

void bw_parser_free(bw_parser_t *p) {
  if (p == NULL)
    return;
  bw__split_free(p);
  free(p);
}

void bw_parser_set_reference(bw_parser_t *p, int64_t ref_unix_s) {
  bw__logtime_init(&p->lt, ref_unix_s);
}

/* Month from its three-letter English abbreviation, 1..12, or 0. The
 * switch on the first letter keeps this a couple of compares. */
static int month_of(const char *m) {
  switch (m[0]) {
  case 'J':
    if (m[1] == 'a' && m[2] == 'n')
      return 1;
    if (m[1] == 'u' && m[2] == 'n')
      return 6;
    if (m[1] == 'u' && m[2] == 'l')
      return 7;
    return 0;
  case 'F':
    return m[1] == 'e' && m[2] == 'b' ? 2 : 0;
  case 'M':
    if (m[1] == 'a' && m[2] == 'r')
      return 3;
    if (m[1] == 'a' && m[2] == 'y')
      return 5;
    return 0;
  case 'A':
    if (m[1] == 'p' && m[2] == 'r')
      return 4;
    if (m[1] == 'u' && m[2] == 'g')
      return 8;
    return 0;
  case 'S':
    return m[1] == 'e' && m[2] == 'p' ? 9 : 0;
  case 'O':
    return m[1] == 'c' && m[2] == 't' ? 10 : 0;
  case 'N':
    return m[1] == 'o' && m[2] == 'v' ? 11 : 0;
  case 'D':
    return m[1] == 'e' && m[2] == 'c' ? 12 : 0;
  default:
    return 0;
  }
}

/* "hh:mm:ss" at p; returns seconds of day or -1. */
static int hms(const char *p) {
  int h = bw__digits(p, 2), m = bw__digits(p + 3, 2), s = bw__digits(p + 6, 2);
  if (h < 0 || m < 0 || s < 0 || p[2] != ':' || p[5] != ':' || h > 23 ||
      m > 59 || s > 60)
    return -1;
  return h * 3600 + m * 60 + s;
}

/* ".ffffff" fraction: returns pointer past it, adds microseconds. */
static inline const char *fraction(const char *p, const char *end,
                                   int64_t *us) {
  if (p >= end || (*p != '.' && *p != ','))
    return p;
  p++;
  /* rsyslog writes exactly six digits: no loop for the common case. */
  if (end - p >= 8 && !bw__isdigit(p[6])) {
    int f = bw__digits6(p);
    if (f >= 0) {
      *us += f;
      return p + 6;
    }
  } else if (end - p > 6 && !bw__isdigit(p[6])) {
    int f = bw__digits(p, 6);
    if (f >= 0) {
      *us += f;
      return p + 6;
    }
  }
  int64_t f = 0;
  int n = 0;
  while (p < end && bw__isdigit(*p)) {
    if (n < 6) {
      f = f * 10 + (*p - '0');
      n++;
    }
    p++;
  }
  while (n++ < 6)
    f *= 10;
  *us += f;
  return p;
}

/* "YYYY-MM-DD" at p, validated. */
static int ymd(const char *p, int *y, int *mo, int *d) {
  *y = bw__digits(p, 4);
  *mo = bw__digits(p + 5, 2);
  *d = bw__digits(p + 8, 2);
  return *y >= 1970 && p[4] == '-' && p[7] == '-' && *mo >= 1 && *mo <= 12 &&
         *d >= 1 && *d <= 31;
}

/* Seconds of "YYYY-MM-DDTHH:MM" (the separator at [10] is not checked
 * here), memoised per minute; -1 if the date or time is invalid. */
static int64_t minute_seconds(bw_parser_t *ps, const char *p) {
  if (ps->minute_valid && memcmp(p, ps->minute_key, 10) == 0 &&
      memcmp(p + 11, ps->minute_key + 11, 5) == 0)
    return ps->minute_s;
  int y, mo, d;
  int h = bw__digits(p + 11, 2), mi = bw__digits(p + 14, 2);
  if (!ymd(p, &y, &mo, &d) || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      p[13] != ':')
    return -1;
  ps->minute_s = bw__civil_seconds(&ps->lt, y, mo, d, h, mi, 0);
  memcpy(ps->minute_key, p, 16);
  ps->minute_valid = 1;
  return ps->minute_s;
}

/* ":SS" at p; seconds or -1. */
static int colon_secs(const char *p) {
  int s = bw__digits(p + 1, 2);
  return p[0] == ':' && s >= 0 && s <= 60 ? s : -1;
}

/* The stamp's seconds when the memo of its format missed: parsed, then
 * remembered. Out of line so the hit path stays a few instructions. */
static __attribute__((noinline)) int stamp_slow(bw_parser_t *ps, const char *p,
                                                int fmt, int64_t *s) {
  int64_t base = minute_seconds(ps, p);
  int sec = colon_secs(p + 16);
  if (base < 0 || sec < 0)
    return -1;
  *s = base + sec;
  memcpy(&ps->sec[fmt].key0, p, 8);
  memcpy(&ps->sec[fmt].key1, p + 8, 8);
  memcpy(&ps->sec[fmt].key2, p + 15, 4);
  ps->sec[fmt].s = *s;
  ps->sec[fmt].valid = 1;
  return 0;
}

/* "YYYY-MM-DD?HH:MM:SS[.ffffff]" with `sep` at [10]: the part RFC 3339
 * and Exim stamps share. *s gets the seconds as if UTC, *frac the
 * microseconds; returns the pointer past the fraction, or NULL. */
static inline const char *stamp_head(bw_parser_t *ps, const char *p,
                                     const char *end, char sep, int64_t *s,
                                     int64_t *frac) {
  if (end - p < 19 || p[10] != sep)
    return NULL;
  int fmt = sep == 'T';
  uint64_t k0, k1;
  uint32_t k2;
  memcpy(&k0, p, 8);
  memcpy(&k1, p + 8, 8);
  memcpy(&k2, p + 15, 4);
  if (ps->sec[fmt].valid && k0 == ps->sec[fmt].key0 &&
      k1 == ps->sec[fmt].key1 && k2 == ps->sec[fmt].key2)
    *s = ps->sec[fmt].s;
  else if (stamp_slow(ps, p, fmt, s) != 0)
    return NULL;
  *frac = 0;
  return fraction(p + 19, end, frac);
}

const char *bw__rfc3339_time(bw_parser_t *ps, const char *p, const char *end,
                             int64_t *us) {
  int64_t base, frac;
  const char *q = stamp_head(ps, p, end, 'T', &base, &frac);
  if (q == NULL)
    return NULL;
  int64_t off = 0;
  if (q < end && (*q == 'Z' || *q == 'z')) {
    q++;
  } else if (end - q >= 6 && (*q == '+' || *q == '-') && q[3] == ':') {
    uint64_t key = 0; /* never equal to a zone: those have a sign */
    memcpy(&key, q, 6);
    if (key == ps->tz_key) {
      off = ps->tz_off;
    } else {
      int oh = bw__digits(q + 1, 2), om = bw__digits(q + 4, 2);
      if (oh < 0 || om < 0)
        return NULL;
      off = (oh * 3600 + om * 60) * (*q == '-' ? -1 : 1);
      ps->tz_key = key;
      ps->tz_off = off;
    }
    q += 6;
  } else {
    return NULL;
  }
  *us = (base - off) * 1000000 + frac;
  return q;
}

const char *bw__exim_time(bw_parser_t *ps, const char *p, const char *end,
                          int64_t *us) {
  int64_t s, frac;
  const char *q = stamp_head(ps, p, end, ' ', &s, &frac);
  if (q == NULL)
    return NULL;
  /* log_timezone adds " +ZZZZ"; without it the stamp is local time. */
  if (end - q >= 6 && q[0] == ' ' && (q[1] == '+' || q[1] == '-') &&
      bw__digits(q + 2, 4) >= 0) {
    int oh = bw__digits(q + 2, 2), om = bw__digits(q + 4, 2);
    s -= (oh * 3600 + om * 60) * (q[1] == '-' ? -1 : 1);
    q += 6;
  } else {
    s = bw__local_seconds(&ps->lt, s);
  }
  *us = s * 1000000 + frac;
  return q;
}

/* "Mmm dd hh:mm:ss" (day space-padded or zero-padded). */
static const char *rfc3164_time(bw_parser_t *ps, const char *p,
                                const char *end, int64_t *us) {
  if (end - p < 15 || p[3] != ' ')
    return NULL;
  int mo = month_of(p);
  if (mo == 0)
    return NULL;
  const char *q = p + 4;
  if (*q == ' ')
    q++;
  int d = 0;
  if (bw__isdigit(*q)) {
    d = *q++ - '0';
    if (bw__isdigit(*q))
      d = d * 10 + (*q++ - '0');
  }
  if (d < 1 || d > 31 || end - q < 9 || *q != ' ')
    return NULL;
  q++;
  int sod = hms(q);
  if (sod < 0)
    return NULL;
  q += 8;
  int64_t frac = 0;
  q = fraction(q, end, &frac);
  int y = bw__infer_year(&ps->lt, mo);
  int64_t s = bw__local_seconds(
      &ps->lt, bw__civil_seconds(&ps->lt, y, mo, d, 0, 0, sod));
  *us = s * 1000000 + frac;
  return q;
}

/* Exim message id: 16 chars "XXXXXX-XXXXXX-XX" (before 4.97) or 23 chars
 * "XXXXXX-XXXXXXXXXXX-XXXX" (4.97+), base-62 digits. */
#if !defined(__SSE2__)
static int is_idchar(char c) { return BW_CLS(c, BW_C_ALNUM) != 0; }
#endif

/* Zero an event with plain 16-byte stores. A constant-size memset here
 * compiles to `rep stosq`, whose start-up cost was a third of this
 * function's time in perf (bench/ generator log); stores do not have it. */
#if defined(__GNUC__) && !defined(__clang__)
/* Keep GCC from turning the loop back into the memset it replaces. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void zero_event(bw_event_t *ev) {
  typedef uint64_t u64x2 __attribute__((vector_size(16), aligned(8)));
  _Static_assert(sizeof(bw_event_t) % 16 == 0 || sizeof(bw_event_t) % 8 == 0,
                 "event size is a multiple of 8");
  u64x2 *v = (u64x2 *)(void *)ev;
  const u64x2 z = {0, 0};
  size_t i = 0;
#pragma GCC unroll 32
  for (; i < sizeof(bw_event_t) / 16; i++)
    v[i] = z;
  if (sizeof(bw_event_t) % 16 != 0)
    ((uint64_t *)(void *)ev)[sizeof(bw_event_t) / 8 - 1] = 0;
}

/* The digits of a pid at p: *pid gets their value (modulo 2^32, as the
 * byte loop below gives), returns the pointer past them. Up to seven
 * digits are read as one word (every syslog line has a pid). */
static inline const char *pid_digits(const char *p, const char *end,
                                     uint32_t *pid) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (end - p >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    uint64_t bad = bw__nondigits8(v);
    if (bad != 0) {
      unsigned n = (unsigned)__builtin_ctzll(bad) / 8; /* digits first */
      /* The n digits moved to the top: the bytes below are zero digits. */
      *pid = n > 0 ? bw__digits8_value(v << (8 * (8 - n))) : 0;
      return p + n;
    }
  }
#endif
  uint32_t v = 0;
  while (p < end && bw__isdigit(*p))
    v = v * 10 + (uint32_t)(*p++ - '0');
  *pid = v;
  return p;
}

bw_kind_t bw_parse_line(bw_parser_t *ps, const char *line, size_t len,
                        bw_event_t *ev) {
  const char *p = line, *end = line + len;
  zero_event(ev);
  ev->kind = BW_KIND_UNKNOWN;

  if (len == 0)
    return ev->kind;
  if (bw__isdigit(*p)) {
    if (len > 10 && p[10] == ' ')
      return bw__parse_exim(ps, p, end, 1, ev);
    p = bw__rfc3339_time(ps, p, end, &ev->time_us);
  } else {
    p = rfc3164_time(ps, p, end, &ev->time_us);
  }
  if (p == NULL || p >= end || *p != ' ') {
    ev->time_us = 0;
    return ev->kind;
  }
  p++;

  /* host: short, so an inline 16-byte scan rather than memchr's call */
  const char *h = p;
  p = bw__find1(p, end, ' ');
  if (p == h || p >= end)
    goto unknown;
  ev->host = bw__span(h, p);
  p++;

  /* prog[pid]: remembering the last '/' for instance and service */
  const char *prog = p, *slash = NULL;
  for (;;) {
    p = bw__find4(p, end, '[', ':', ' ', '/');
    if (p < end && *p == '/') {
      slash = p++;
      continue;
    }
    break;
  }
  if (p == prog || p >= end)
    goto unknown;
  ev->program = bw__span(prog, p);
  if (*p == '[') {
    uint32_t pid = 0;
    p++;
    p = pid_digits(p, end, &pid);
    if (p >= end || *p != ']')
      goto unknown;
    ev->pid = pid;
    p++;
  }
  if (p >= end || *p != ':')
    goto unknown;
  p++;
  if (p < end && *p == ' ')
    p++;

  ev->kind = BW_KIND_OTHER;
  if (ev->program.len >= 7 && memcmp(prog, "postfix", 7) == 0 &&
      (ev->program.len == 7 || prog[7] == '/' || prog[7] == '-')) {
    ev->mta = BW_MTA_POSTFIX;
    /* instance = all but the last component, service = the last one:
     * "postfix/submission/smtpd" -> "postfix/submission", "smtpd". */
    if (slash != NULL) {
      ev->instance = bw__span(prog, slash);
      ev->service = bw__span(slash + 1, prog + ev->program.len);
    } else {
      ev->instance = ev->program;
    }
    return bw__parse_postfix(p, end, ev);
  }
  if ((ev->program.len == 4 && memcmp(prog, "exim", 4) == 0) ||
      (ev->program.len == 5 && memcmp(prog, "exim4", 5) == 0)) {
    int64_t t = ev->time_us;
    bw_span_t host = ev->host, program = ev->program;
    uint32_t pid = ev->pid;
    int part = bw__exim_part(ps, line, p, end, ev);
    if (part >= 0)
      return (bw_kind_t)part;
    int own_time = end - p > 10 && bw__isdigit(*p) && p[4] == '-';
    bw__parse_exim(ps, p, end, own_time, ev);
    if (ev->kind == BW_KIND_UNKNOWN) {
      /* The syslog prefix was fine; Exim's own stamp inside was not. */
      ev->kind = BW_KIND_MTA_OTHER;
      ev->mta = BW_MTA_EXIM;
    }
    ev->host = host;
    ev->program = program;
    ev->service = program;
    if (ev->pid == 0)
      ev->pid = pid;
    if (ev->time_us == 0)
      ev->time_us = t;
    return ev->kind;
  }
  return ev->kind;
unknown:
  /* A stamp without "host prog:" after it is not a syslog line. */
  zero_event(ev);
  ev->kind = BW_KIND_UNKNOWN;
  return ev->kind;
}

int bw__is_exim_id(const char *p, const char *end) {
  size_t n = (size_t)(end - p);
  size_t len;
  if (n >= 16 && p[6] == '-' && p[13] == '-' && (n == 16 || p[16] == ' '))
    len = 16;
  else if (n >= 23 && p[6] == '-' && p[18] == '-' && (n == 23 || p[23] == ' '))
    len = 23;
  else
    return 0;
#if defined(__SSE2__)
  /* Every Exim line asks: 16 bytes (and the last 16 of a 23-byte id)
   * checked at once. */
  __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
  if (bw__alnum_dash16(a) != 0xFFFF)
    return 0;
  if (len == 23) {
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 7));
    if (bw__alnum_dash16(b) != 0xFFFF)
      return 0;
  }
#else
  for (size_t i = 0; i < len; i++)
    if (p[i] != '-' && !is_idchar(p[i]))
      return 0;
#endif
  return (int)len;
}
