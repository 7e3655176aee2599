/* SMTP pieces shared by the Postfix and Exim grammars: reply codes,
 * enhanced status codes (RFC 3463) and the command a reply answered. */
#include "fmt.h"

/* Built once from the class definitions, so the table cannot disagree
 * with them. */
#define H (BW_C_ALNUM | BW_C_HEXUP)
#define A BW_C_ALNUM
#define V (BW_C_ALNUM | BW_C_VOWEL)
#define HV (BW_C_ALNUM | BW_C_HEXUP | BW_C_VOWEL)
const unsigned char bw__cls[256] = {
    [' '] = BW_C_SPACE | BW_C_PROGSTOP, [':'] = BW_C_PROGSTOP,
    ['['] = BW_C_PROGSTOP, ['/'] = BW_C_PROGSTOP,
    ['0'] = H, ['1'] = H, ['2'] = H, ['3'] = H, ['4'] = H,
    ['5'] = H, ['6'] = H, ['7'] = H, ['8'] = H, ['9'] = H,
    ['A'] = HV, ['B'] = H, ['C'] = H, ['D'] = H, ['E'] = HV, ['F'] = H,
    ['G'] = A, ['H'] = A, ['I'] = V, ['J'] = A, ['K'] = A, ['L'] = A, ['M'] = A,
    ['N'] = A, ['O'] = V, ['P'] = A, ['Q'] = A, ['R'] = A, ['S'] = A, ['T'] = A,
    ['U'] = V, ['V'] = A, ['W'] = A, ['X'] = A, ['Y'] = A, ['Z'] = A,
    ['a'] = V, ['b'] = A, ['c'] = A, ['d'] = A, ['e'] = V, ['f'] = A, ['g'] = A,
    ['h'] = A, ['i'] = V, ['j'] = A, ['k'] = A, ['l'] = A, ['m'] = A, ['n'] = A,
    ['o'] = V, ['p'] = A, ['q'] = A, ['r'] = A, ['s'] = A, ['t'] = A, ['u'] = V,
    ['v'] = A, ['w'] = A, ['x'] = A, ['y'] = A, ['z'] = A,
};
#undef H
#undef A
#undef V
#undef HV

size_t bw__enhanced_code(const char *p, const char *end) {
  const char *q = p;
  if (end - q < 5 || (*q != '2' && *q != '4' && *q != '5') || q[1] != '.')
    return 0;
  q += 2;
  for (int part = 0; part < 2; part++) {
    int n = 0;
    while (q < end && bw__isdigit(*q) && n < 3) {
      q++;
      n++;
    }
    if (n == 0)
      return 0;
    if (part == 0) {
      if (q >= end || *q != '.')
        return 0;
      q++;
    }
  }
  /* "5.1.1" must end at a delimiter, not run into more digits or dots. */
  if (q < end && (bw__isdigit(*q) || (*q == '.' && q + 1 < end &&
                                      bw__isdigit(q[1]))))
    return 0;
  return (size_t)(q - p);
}

const char *bw__smtp_reply(const char *p, const char *end, uint16_t *code,
                           bw_span_t *dsn) {
  *code = 0;
  dsn->p = NULL;
  dsn->len = 0;
  if (end - p < 3 || p[0] < '2' || p[0] > '5' || !bw__isdigit(p[1]) ||
      !bw__isdigit(p[2]))
    return p;
  if (end - p > 3 && p[3] != ' ' && p[3] != '-')
    return p;
  *code = (uint16_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
  const char *q = p + 3;
  if (q < end)
    q++;
  /* Some servers write "#5.1.1" or "(5.1.1)". */
  const char *c = q;
  if (c < end && (*c == '#' || *c == '('))
    c++;
  size_t n = bw__enhanced_code(c, end);
  if (n > 0) {
    dsn->p = c;
    dsn->len = (uint32_t)n;
    q = c + n;
  }
  return q;
}

typedef struct {
  const char *name;
  size_t len;
  bw_stage_t stage;
} stage_word_t;

#define W(s, st) {s, sizeof(s) - 1, st}
/* Longest names first where one is a prefix of another ("DATA" vs ...). */
static const stage_word_t stage_words[] = {
    W("RCPT TO", BW_STAGE_RCPT),
    W("MAIL FROM", BW_STAGE_MAIL),
    W("end of DATA", BW_STAGE_END_OF_DATA),
    W("end of data", BW_STAGE_END_OF_DATA),
    W("DATA", BW_STAGE_DATA),
    W("data block", BW_STAGE_DATA),
    W("sending data block", BW_STAGE_DATA),
    W("EHLO", BW_STAGE_HELO),
    W("HELO", BW_STAGE_HELO),
    W("LHLO", BW_STAGE_HELO),
    W("STARTTLS", BW_STAGE_STARTTLS),
    W("AUTH", BW_STAGE_AUTH),
    W("initial connection", BW_STAGE_CONNECT),
    W("final RSET", BW_STAGE_RSET),
    W("RSET", BW_STAGE_RSET),
    W("QUIT", BW_STAGE_QUIT),
    W("XFORWARD", BW_STAGE_XFORWARD),
    W("XCLIENT", BW_STAGE_OTHER),
    W("BDAT", BW_STAGE_END_OF_DATA),
    W("CHUNKING", BW_STAGE_END_OF_DATA),
};
#undef W

bw_stage_t bw__smtp_stage(const char *p, const char *end, size_t *len) {
  /* Exim writes "after pipelined RCPT TO:<...>". */
  size_t skip = 0;
  if (BW_STARTS(p, end, "pipelined ")) {
    skip = sizeof("pipelined ") - 1;
    p += skip;
  }
  if (p >= end)
    goto none;
  for (size_t i = 0; i < sizeof(stage_words) / sizeof(stage_words[0]); i++) {
    const stage_word_t *w = &stage_words[i];
    /* The first byte first: most words are ruled out without a memcmp
     * call (every failed delivery's "(in reply to ...)" comes here). */
    if (w->name[0] == *p && bw__starts(p, end, w->name, w->len)) {
      *len = skip + w->len;
      return w->stage;
    }
  }
none:
  *len = 0;
  return BW_STAGE_NONE;
}

const char *bw__find(const char *p, const char *end, const char *needle,
                     size_t n) {
  if (n < 2) { /* memmem's answers: an empty needle is found at p */
    const char *q = n == 0 ? p : bw__find1(p, end, *needle);
    return q < end || n == 0 ? q : NULL;
  }
  if (end - p < (ptrdiff_t)n)
    return NULL;
  const char *last = end - n; /* the last place it can begin */
#if defined(__SSE2__)
  const __m128i c0 = _mm_set1_epi8(needle[0]), c1 = _mm_set1_epi8(needle[1]);
  for (; last - p >= 16; p += 16) { /* p + 16 < end: both loads inside */
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
    unsigned m = (unsigned)_mm_movemask_epi8(
        _mm_and_si128(_mm_cmpeq_epi8(x0, c0), _mm_cmpeq_epi8(x1, c1)));
    for (; m != 0; m &= m - 1) {
      const char *q = p + __builtin_ctz(m);
      if (memcmp(q + 2, needle + 2, n - 2) == 0)
        return q;
    }
  }
#endif
  for (; p <= last; p++)
    if (p[0] == needle[0] && memcmp(p + 1, needle + 1, n - 1) == 0)
      return p;
  return NULL;
}

const char *bw__rfind(const char *p, const char *end, const char *needle,
                      size_t n) {
  if ((size_t)(end - p) < n)
    return NULL;
  size_t span = (size_t)(end - p) - n + 1; /* candidate starts */
  while (span > 0) {
    const char *q = memrchr(p, *needle, span);
    if (q == NULL)
      return NULL;
    if (memcmp(q, needle, n) == 0)
      return q;
    span = (size_t)(q - p);
  }
  return NULL;
}
