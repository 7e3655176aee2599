/* Shared pieces of the line grammars (fmt_*.c). Internal to the engine:
 * the public entry point is bw_parse_line() in parse.h. Every function
 * here scans forward over [p, end) once and never backtracks. */
#ifndef BW_FMT_H
#define BW_FMT_H

#include <stddef.h>
#include <string.h>

#include "bouncewatch/event.h"
#include "bouncewatch/parse.h"
#include "logtime.h"

/* Exim lines over 870 bytes reach syslog in parts, "[i/n] text" ('\\'
 * instead of '/' when the part ended at a newline). The parts of one
 * line are joined in a slot keyed by host and pid (several Exim
 * processes interleave), then parsed as one line. */
#define BW_SPLIT_SLOTS 8
#define BW_SPLIT_MAX 65536 /* a joined line; longer ones are cut */
typedef struct {
  uint64_t key;        /* host hash ^ pid; 0: free */
  uint64_t age;        /* when it began, to evict the oldest */
  uint32_t next, total;
  int newline;         /* the last part ended at a newline */
  size_t len;          /* the first part's syslog prefix, then the text */
  char *buf;           /* BW_SPLIT_MAX bytes, allocated on first use */
} bw_split_slot_t;

struct bw_parser_s {
  bw_logtime_t lt;
  bw_split_slot_t split[BW_SPLIT_SLOTS];
  uint64_t split_clock;
  char *split_out;     /* the joined line being parsed (BW_SPLIT_MAX) */
  int joining;         /* parsing a joined line: no part headers inside */
  /* Consecutive lines share "YYYY-MM-DDTHH:MM" (16 bytes): remember the
   * last one and its seconds, so most stamps parse only ":SS.ffffff". */
  char minute_key[16];
  int64_t minute_s; /* UTC seconds of the key's minute, zone not applied */
  int minute_valid;
  /* ... and most share the whole "YYYY-MM-DD?HH:MM:SS" (19 bytes, kept
   * as three words compared in registers) with the last line of the
   * same stamp format: one memo per format ([0] Exim's ' ', [1] RFC
   * 3339's 'T'), since a host's Exim and syslog lines interleave. */
  struct {
    uint64_t key0, key1; /* bytes 0..15 */
    uint32_t key2;       /* bytes 15..18 */
    int valid;
    int64_t s;
  } sec[2];
  /* The last RFC 3339 zone ("+HH:MM", as 6 bytes in a word) and its
   * offset in seconds: a host writes the same one on every line. */
  uint64_t tz_key;
  int64_t tz_off;
};

/* The parts of split Exim syslog lines (fmt_split.c). bw__exim_part
 * returns the kind of the line at msg (inside [line, end)) when it is a
 * part, or -1 when it is not one. */
int bw__exim_part(bw_parser_t *ps, const char *line, const char *msg,
                  const char *end, bw_event_t *ev);
void bw__split_free(bw_parser_t *ps);

static inline bw_span_t bw__span(const char *p, const char *end) {
  bw_span_t s = {p, (uint32_t)(end - p)};
  return s;
}

/* Does [p, end) start with the literal `lit` (length n)? */
static inline int bw__starts(const char *p, const char *end, const char *lit,
                             size_t n) {
  return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}
#define BW_STARTS(p, end, lit) bw__starts((p), (end), (lit), sizeof(lit) - 1)

static inline int bw__isdigit(char c) { return c >= '0' && c <= '9'; }

/* Character classes for the hot scanning loops: one table load per byte
 * instead of a chain of compares (callgrind: the program-name and queue
 * id loops were a fifth of the per-line instructions). */
enum {
  BW_C_ALNUM = 1,    /* [0-9A-Za-z] */
  BW_C_PROGSTOP = 2, /* ends a syslog program name: '[' ':' ' ' '/' */
  BW_C_SPACE = 4,    /* ' ' */
  BW_C_HEXUP = 8,    /* [0-9A-F]: a short Postfix queue id */
  BW_C_VOWEL = 16    /* [AEIOUaeiou]: never in a long Postfix queue id */
};
extern const unsigned char bw__cls[256];
#define BW_CLS(c, f) (bw__cls[(unsigned char)(c)] & (f))

/* First byte in [p, end) equal to a, b, c or d, or end. Sixteen bytes a
 * step with SSE2 where the CPU has it (every amd64), a byte loop
 * elsewhere and for the last bytes: syslog host and program names are
 * the first scans of every line. */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline const char *bw__find4(const char *p, const char *end, char a,
                                    char b, char c, char d) {
  const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b),
                vc = _mm_set1_epi8(c), vd = _mm_set1_epi8(d);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
        _mm_or_si128(_mm_cmpeq_epi8(x, vc), _mm_cmpeq_epi8(x, vd)));
    int bits = _mm_movemask_epi8(m);
    if (bits != 0)
      return p + __builtin_ctz((unsigned)bits);
    p += 16;
  }
  while (p < end && *p != a && *p != b && *p != c && *p != d)
    p++;
  return p;
}
/* Bytes of x in [lo, lo + span], as a 16-bit mask (byte i: bit i). */
static inline unsigned bw__in_range16(__m128i x, char lo, char span) {
  __m128i d = _mm_sub_epi8(x, _mm_set1_epi8(lo));
  return (unsigned)_mm_movemask_epi8(
      _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(span)), d));
}

/* Mask of the bytes of x that are [0-9A-Za-z] or '-' (Exim ids). */
static inline unsigned bw__alnum_dash16(__m128i x) {
  return bw__in_range16(x, '0', 9) | bw__in_range16(x, 'A', 25) |
         bw__in_range16(x, 'a', 25) |
         (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
}

/* First byte in [p, end) equal to c, or end: the token scans of the
 * Postfix and Exim grammars (a relay, an Exim X= or C= value). */
static inline const char *bw__find1(const char *p, const char *end, char c) {
  const __m128i vc = _mm_set1_epi8(c);
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    int bits = _mm_movemask_epi8(_mm_cmpeq_epi8(x, vc));
    if (bits != 0)
      return p + __builtin_ctz((unsigned)bits);
    p += 16;
  }
  while (p < end && *p != c)
    p++;
  return p;
}
#else
static inline const char *bw__find4(const char *p, const char *end, char a,
                                    char b, char c, char d) {
  while (p < end && *p != a && *p != b && *p != c && *p != d)
    p++;
  return p;
}
static inline const char *bw__find1(const char *p, const char *end, char c) {
  while (p < end && *p != c)
    p++;
  return p;
}
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 8 bytes of v (little-endian: the first byte lowest), each with its
 * high nibble set in the result when it is not an ASCII digit: a byte is
 * a digit when it minus '0' is below 10, so neither it nor it plus 6 has
 * a high nibble. A borrow or carry only spreads from a byte that already
 * failed. */
static inline uint64_t bw__nondigits8(uint64_t v) {
  uint64_t x = v - 0x3030303030303030ull;
  return (x | (x + 0x0606060606060606ull)) & 0xF0F0F0F0F0F0F0F0ull;
}

/* The number 8 digit bytes spell, the first byte the most significant;
 * zero bytes (shifted in below fewer digits) count as leading zeros.
 * Pairs, then quads, then the whole (Lemire, "Quickly parsing eight
 * digits", 2018). */
static inline uint32_t bw__digits8_value(uint64_t d) {
  d = (d & 0x0F0F0F0F0F0F0F0Full) * 2561 >> 8;
  d = (d & 0x00FF00FF00FF00FFull) * 6553601 >> 16;
  return (uint32_t)((d & 0x0000FFFF0000FFFFull) * 42949672960001ull >> 32);
}
#endif

/* Six digits at p, read as one 8-byte word (p[6] and p[7] must be
 * readable; they are not looked at); -1 if any of the six is not a
 * digit. Every RFC 3339 stamp's microseconds come here. */
static inline int bw__digits6(const char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t v;
  memcpy(&v, p, 8);
  if ((bw__nondigits8(v) & 0x0000FFFFFFFFFFFFull) != 0)
    return -1;
  /* Two leading zero digits make eight. */
  return (int)bw__digits8_value((v & 0x0000FFFFFFFFFFFFull) << 16);
#else
  int v = 0;
  for (int i = 0; i < 6; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
#endif
}

/* Parse exactly n digits at p; -1 if any is not a digit. */
static inline int bw__digits(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!bw__isdigit(p[i]))
      return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

/* Postfix body after "prog[pid]: ". Fills ev, returns its kind. */
bw_kind_t bw__parse_postfix(const char *p, const char *end, bw_event_t *ev);

/* Exim mainlog line starting at its own timestamp (or, via syslog with
 * syslog_timestamp=false, at the message id when has_time is 0). */
bw_kind_t bw__parse_exim(bw_parser_t *ps, const char *p, const char *end,
                         int has_time, bw_event_t *ev);

/* SMTP reply at p: "550 5.1.1 text" or "550-5.1.1 text". Sets
 * *code (0 if none) and *dsn (empty if none). Returns a pointer just past
 * what it understood. */
const char *bw__smtp_reply(const char *p, const char *end, uint16_t *code,
                           bw_span_t *dsn);

/* An enhanced status code "D.DDD.DDD" at p (class 2, 4 or 5). Returns its
 * length, or 0 if there is none. */
size_t bw__enhanced_code(const char *p, const char *end);

/* The SMTP command named at p ("RCPT TO", "end of DATA", ...), as used by
 * Postfix "(in reply to X command)" and Exim "after X". *len gets the
 * length of the matched name (0 when unknown). */
bw_stage_t bw__smtp_stage(const char *p, const char *end, size_t *len);

/* First `needle` (n bytes) in [p, end), as memmem finds it; NULL when
 * absent. Its first two bytes are looked for 16 places a step: glibc's
 * memmem sets up a shift table per call (~330 instructions, callgrind),
 * too much for the diagnostics' ~150 bytes, searched a dozen times. */
const char *bw__find(const char *p, const char *end, const char *needle,
                     size_t n);

/* Reverse search for `needle` in [p, end); NULL when absent. Used only
 * at line ends, where the searched tail is short and bounded. */
const char *bw__rfind(const char *p, const char *end, const char *needle,
                      size_t n);

/* Length (16 or 23) of an Exim message id at p followed by a space or
 * end, else 0. */
int bw__is_exim_id(const char *p, const char *end);

/* Timestamps. Each returns the pointer past the stamp, or NULL if p does
 * not start with one; *us gets microseconds since the epoch. */
const char *bw__rfc3339_time(bw_parser_t *ps, const char *p, const char *end,
                             int64_t *us);
const char *bw__exim_time(bw_parser_t *ps, const char *p, const char *end,
                          int64_t *us);

#endif
