/* The Exim mainlog grammar: "YYYY-MM-DD HH:MM:SS [+ZZZZ] [[pid]] ID FLAG
 * ..." with the flags <= (= => -> >> *> ** == and "Completed".
 * Reference: tech-notes §7 (spec.xfpt "Log line flags"). Fields are
 * tokens "X=value" (values may be quoted); the first token that ends in
 * ':' ends the fields and the diagnostic text follows. */
#include "fmt.h"

static int isalpha_ascii(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* H=host [ip], H=host (helo) [ip]:port*, H=(helo) [ip], H=[ip].
 * Takes at most three tokens: the bracketed address ends it. */
static const char *host_value(const char *v, const char *end) {
  const char *p = v;
  for (int tok = 0; tok < 3 && p < end; tok++) {
    const char *t = p;
    p = bw__find1(p, end, ' ');
    if (*t == '[')
      break;
    if (p + 1 < end && (p[1] == '[' || p[1] == '(') && p[-1] != ':')
      p++;
    else
      break;
  }
  return p;
}

static void exim_reply(const char *t, const char *te, bw_event_t *ev) {
  const char *s = bw__find(t, te, "SMTP error from remote mail", 27);
  if (s == NULL)
    return;
  s += 27;
  const char *a = bw__find(s, te, " after ", 7);
  if (a == NULL || a - s > 8) /* "er", "server" then " after " */
    return;
  a += 7;
  size_t n;
  bw_stage_t st = bw__smtp_stage(a, te, &n);
  ev->stage = st != BW_STAGE_NONE ? st : BW_STAGE_OTHER;
  const char *c = bw__find(a + n, te, ": ", 2);
  if (c == NULL)
    return;
  c += 2;
  /* Older Exim: "...: host mx.example.com [192.0.2.1]: 550 ..." */
  if (BW_STARTS(c, te, "host ")) {
    const char *h = bw__find(c, te, "]: ", 3);
    if (h != NULL)
      c = h + 3;
  }
  bw__smtp_reply(c, te, &ev->reply_code, &ev->reply_dsn);
  ev->dsn = ev->reply_dsn;
}

/* Walk the tokens after the flag and fill the fields they name; the
 * first token ending in ':' ends them and the rest is ev->text. */
static void fields(const char *p, const char *end, bw_event_t *ev) {
  while (p < end) {
    const char *t = p, *q = p;
    while (q < end && q - t < 4 && isalpha_ascii(*q))
      q++;
    if (q > t && q < end && *q == '=') {
      size_t kl = (size_t)(q - t);
      const char *v = q + 1, *ve;
      if (v < end && *v == '"') {
        p = v + 1;
        while ((p = bw__find4(p, end, '"', '\\', '"', '"')) < end && *p != '"')
          p += p + 1 < end ? 2 : 1; /* a backslash and what it escapes */
        if (p < end)
          p++;
        ve = p;
      } else if (kl == 1 && *t == 'H') {
        p = host_value(v, end);
        ve = p;
      } else {
        p = bw__find1(v, end, ' ');
        ve = p;
      }
      if (ve > v && ve[-1] == ':' && (ve == end || *ve == ' '))
        ve--;
      if (kl == 1 && *t == 'H') {
        const char *he = ve;
        if (he > v && he[-1] == '*') /* reused connection marker */
          he--;
        if (ev->kind == BW_KIND_ARRIVAL)
          ev->client = bw__span(v, he);
        else
          ev->relay = bw__span(v, he);
      } else if (kl == 1 && *t == 'S') {
        uint64_t sz = 0;
        for (const char *d = v; d < ve && bw__isdigit(*d); d++)
          sz = sz * 10 + (uint64_t)(*d - '0');
        ev->size = sz;
      } else if (kl == 2 && t[0] == 'i' && t[1] == 'd') {
        ev->message_id = bw__span(v, ve);
      } else if (kl == 1 && *t == 'R' && ev->kind == BW_KIND_ARRIVAL) {
        ev->parent_id = bw__span(v, ve);
      } else if (kl == 1 && *t == 'F') {
        const char *s = v, *se = ve;
        if (se - s >= 2 && *s == '<' && se[-1] == '>') {
          s++;
          se--;
        }
        ev->sender = bw__span(s, se);
        ev->has_sender = 1;
      } else if (kl == 1 && *t == 'C' && ve - v >= 2 && *v == '"') {
        bw__smtp_reply(v + 1, ve - 1, &ev->reply_code, &ev->reply_dsn);
      }
    } else {
      p = bw__find1(p, end, ' ');
    }
    if (p > t && p[-1] == ':' && (p == end || *p == ' ')) {
      if (p < end)
        p++;
      ev->text = bw__span(p, end);
      return;
    }
    if (p < end)
      p++;
  }
}

/* Recipient, then an optional "(parent)" and "<original>". Returns the
 * pointer to the next token. A recipient ending in ':' ("** a@b:
 * Unrouteable address") ends the fields right away. */
static const char *recipient(const char *p, const char *end, bw_event_t *ev,
                             int *text_follows) {
  const char *r = p;
  p = bw__find1(p, end, ' ');
  *text_follows = 0;
  if (p > r && p[-1] == ':' && (p == end || *p == ' ')) {
    ev->rcpt = bw__span(r, p - 1);
    *text_follows = 1;
    return p < end ? p + 1 : p;
  }
  ev->rcpt = bw__span(r, p);
  for (int i = 0; i < 2 && p + 1 < end && (p[1] == '(' || p[1] == '<'); i++) {
    char close = p[1] == '(' ? ')' : '>';
    const char *o = p + 2, *oe = bw__find1(o, end, close);
    if (oe >= end)
      break;
    if (close == '>' || ev->orig_rcpt.len == 0)
      ev->orig_rcpt = bw__span(o, oe);
    p = oe + 1;
    if (p < end && *p == ':') {
      *text_follows = 1;
      p++;
      return p < end ? p + 1 : p;
    }
  }
  return p < end ? p + 1 : p;
}

bw_kind_t bw__parse_exim(bw_parser_t *ps, const char *p, const char *end,
                         int has_time, bw_event_t *ev) {
  ev->mta = BW_MTA_EXIM;
  if (has_time) {
    p = bw__exim_time(ps, p, end, &ev->time_us);
    if (p == NULL) {
      ev->time_us = 0;
      ev->mta = BW_MTA_NONE;
      ev->kind = BW_KIND_UNKNOWN;
      return ev->kind;
    }
    if (p < end && *p == ' ')
      p++;
  }
  ev->kind = BW_KIND_MTA_OTHER;
  if (p < end && *p == '[') {
    uint32_t pid = 0;
    const char *q = p + 1;
    while (q < end && bw__isdigit(*q))
      pid = pid * 10 + (uint32_t)(*q++ - '0');
    if (q < end && *q == ']') {
      ev->pid = pid;
      p = q + 1;
      if (p < end && *p == ' ')
        p++;
    }
  }
  int idlen = bw__is_exim_id(p, end);
  if (idlen == 0)
    return ev->kind;
  ev->queue_id = bw__span(p, p + idlen);
  p += idlen;
  if (p >= end)
    return ev->kind;
  p++;
  if (end - p == 9 && memcmp(p, "Completed", 9) == 0) {
    ev->kind = BW_KIND_REMOVED;
    return ev->kind;
  }
  if (end - p < 3 || p[2] != ' ')
    return ev->kind;

  char f0 = p[0], f1 = p[1];
  bw_status_t st;
  if ((f0 == '<' || f0 == '(') && f1 == '=') {
    ev->kind = BW_KIND_ARRIVAL;
    ev->exim_flag[0] = f0;
    ev->exim_flag[1] = f1;
    p += 3;
    const char *s = p;
    p = bw__find1(p, end, ' ');
    if (p - s == 2 && s[0] == '<' && s[1] == '>')
      ev->sender = bw__span(s + 1, s + 1);
    else
      ev->sender = bw__span(s, p);
    ev->has_sender = 1;
    fields(p < end ? p + 1 : p, end, ev);
    ev->text.len = 0;
    ev->text.p = NULL;
    return ev->kind;
  }
  if (f0 == '=' && f1 == '>')
    st = BW_STATUS_SENT;
  else if (f0 == '-' && f1 == '>')
    st = BW_STATUS_SENT;
  else if (f0 == '>' && f1 == '>')
    st = BW_STATUS_SENT;
  else if (f0 == '*' && f1 == '>')
    st = BW_STATUS_SUPPRESSED;
  else if (f0 == '*' && f1 == '*')
    st = BW_STATUS_BOUNCED;
  else if (f0 == '=' && f1 == '=')
    st = BW_STATUS_DEFERRED;
  else
    return ev->kind;

  ev->kind = BW_KIND_DELIVERY;
  ev->status = st;
  ev->exim_flag[0] = f0;
  ev->exim_flag[1] = f1;
  p += 3;
  int text_follows;
  p = recipient(p, end, ev, &text_follows);
  if (text_follows)
    ev->text = bw__span(p, end);
  else
    fields(p, end, ev);

  if (st == BW_STATUS_BOUNCED || st == BW_STATUS_DEFERRED) {
    const char *t = ev->text.p;
    if (t != NULL) {
      const char *te = t + ev->text.len; /* NULL + 0 is undefined */
      exim_reply(t, te, ev);
      /* Exim's retry rules gave up: an expiry, not a remote rejection;
       * the real reason is on the recipient's earlier == lines. */
      if (st == BW_STATUS_BOUNCED &&
          (bw__find(t, te, "retry timeout exceeded", 22) != NULL ||
           bw__find(t, te, "have been failing for a long time", 33) != NULL))
        ev->status = BW_STATUS_EXPIRED;
    }
  }
  /* Sent lines keep the reply of C="..." in reply_code and reply_dsn only:
   * dsn is the failure's code, as Postfix's dsn= is for its failures. */
  return ev->kind;
}
