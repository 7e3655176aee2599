/* The Postfix grammar: the body of a postfix/... syslog line after
 * "prog[pid]: ". Reference: tech-notes §6 (log_adhoc.c, qmgr, cleanup,
 * bounce, smtpd_check.c). Unknown ", key=value" fields are skipped so
 * new Postfix versions (3.11's tls=) parse unchanged. */
#include "fmt.h"

/* Short ids are uppercase hex; long ids use a 52-character alphabet.
 * Both are at least 5 characters; NOQUEUE is handled by the caller. */
static const char *queue_id(const char *p, const char *end) {
  const char *q = NULL;
#if defined(__SSE2__)
  /* Every Postfix line's first word goes through here: sixteen bytes at
   * once say where the word ends and whether it is uppercase hex (the
   * byte loops were a third of this grammar's instructions). A short id
   * leaves here; other words of under 16 bytes go on below, scanned. */
  if (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned digit = bw__in_range16(x, '0', 9);
    unsigned upper = bw__in_range16(x, 'A', 25);
    unsigned alnum = digit | upper | bw__in_range16(x, 'a', 25);
    unsigned n = (unsigned)__builtin_ctz(~alnum | 0x10000u);
    if (n < 16) {
      q = p + n;
      unsigned want = (1u << n) - 1;
      if (n >= 5 && end - q >= 2 && q[0] == ':' && q[1] == ' ' &&
          ((digit | (upper & bw__in_range16(x, 'A', 5))) & want) == want)
        return q;
    }
  }
#endif
  if (q == NULL)
    for (q = p; q < end && BW_CLS(*q, BW_C_ALNUM);)
      q++;
  if (q - p < 5 || q - p > 32 || end - q < 2 || q[0] != ':' || q[1] != ' ')
    return NULL;
  /* Words such as "warning:" or "statistics:" also end in ": ". A short
   * id is uppercase hex; a long one (mail_queue.h) has no vowels and a
   * 'z' between its time and inode parts. */
  unsigned all = 0xFF, any = 0;
  for (const char *c = p; c < q; c++) {
    unsigned f = bw__cls[(unsigned char)*c];
    all &= f;
    any |= f;
  }
  if (all & BW_C_HEXUP)
    return q;
  if ((any & BW_C_VOWEL) || q - p < 10 || memchr(p, 'z', (size_t)(q - p)) == NULL)
    return NULL;
  return q;
}

/* "<addr>" at p, where the address ends at the first '>' that is followed
 * by ',' or ' ' or the end (local parts may hold '>' when quoted). */
static const char *angle_addr(const char *p, const char *end,
                              bw_span_t *out) {
  if (p >= end || *p != '<')
    return NULL;
  const char *a = p + 1, *q = a;
  while ((q = memchr(q, '>', (size_t)(end - q))) != NULL) {
    if (q + 1 == end || q[1] == ',' || q[1] == ' ') {
      *out = bw__span(a, q);
      return q + 1;
    }
    q++;
  }
  return NULL;
}

/* Parse the stage and reply code out of a delivery diagnostic. */
static void delivery_text(const char *t, const char *te, bw_event_t *ev) {
  const char *p = t;
  if (BW_STARTS(p, te, "delivery temporarily suspended: "))
    p += sizeof("delivery temporarily suspended: ") - 1;

  if (BW_STARTS(p, te, "host ")) {
    p = bw__find1(p + 5, te, ' ');
    if (BW_STARTS(p, te, " said: ")) {
      bw__smtp_reply(p + 7, te, &ev->reply_code, &ev->reply_dsn);
    } else if (BW_STARTS(p, te, " refused to talk to me: ")) {
      bw__smtp_reply(p + 24, te, &ev->reply_code, &ev->reply_dsn);
      ev->stage = BW_STAGE_CONNECT;
    }
  } else if (BW_STARTS(p, te, "connect to ")) {
    /* "connect to X[ip]:25: server refused to talk to me: 421 ..." */
    const char *r = bw__find(p, te, " refused to talk to me: ", 24);
    if (r != NULL) {
      bw__smtp_reply(r + 24, te, &ev->reply_code, &ev->reply_dsn);
      ev->stage = BW_STAGE_CONNECT;
    } else {
      ev->stage = BW_STAGE_CONNECT; /* timed out, refused, no route */
    }
  } else {
    /* "250 2.0.0 Ok: queued as X" on sent lines. */
    bw__smtp_reply(p, te, &ev->reply_code, &ev->reply_dsn);
  }

  /* "... (in reply to RCPT TO command)" ends the text; the command name
   * is short, so search only the tail. */
  if (te > t && te[-1] == ')') {
    const char *tail = te - 64 > t ? te - 64 : t;
    const char *r = bw__rfind(tail, te, "(in reply to ", 13);
    if (r != NULL) {
      size_t n;
      bw_stage_t st = bw__smtp_stage(r + 13, te, &n);
      ev->stage = st != BW_STAGE_NONE ? st : BW_STAGE_OTHER;
      return;
    }
  }
  if (ev->stage == BW_STAGE_NONE) {
    /* "lost connection with X while receiving the initial server
     * greeting", "conversation with X timed out while sending RCPT TO". */
    const char *tail = te - 96 > t ? te - 96 : t;
    const char *w = bw__rfind(tail, te, " while ", 7);
    if (w != NULL) {
      w += 7;
      if (BW_STARTS(w, te, "receiving the initial server greeting"))
        ev->stage = BW_STAGE_CONNECT;
      else if (BW_STARTS(w, te, "performing the EHLO") ||
               BW_STARTS(w, te, "performing the HELO") ||
               BW_STARTS(w, te, "performing the LHLO"))
        ev->stage = BW_STAGE_HELO;
      else if (BW_STARTS(w, te, "sending message body"))
        ev->stage = BW_STAGE_DATA;
      else if (BW_STARTS(w, te, "sending ")) {
        size_t n;
        bw_stage_t st = bw__smtp_stage(w + 8, te, &n);
        ev->stage = st != BW_STAGE_NONE ? st : BW_STAGE_OTHER;
      } else if (BW_STARTS(w, te, "receiving ")) {
        /* "while receiving the initial server greeting" done above. */
        ev->stage = BW_STAGE_OTHER;
      }
    }
  }
}

static bw_status_t status_word(const char *p, const char *e) {
  size_t n = (size_t)(e - p);
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(p, lit, n) == 0)
  if (IS("sent"))
    return BW_STATUS_SENT;
  if (IS("deferred"))
    return BW_STATUS_DEFERRED;
  if (IS("bounced"))
    return BW_STATUS_BOUNCED;
  if (IS("SOFTBOUNCE"))
    return BW_STATUS_SOFTBOUNCE;
  if (IS("deliverable"))
    return BW_STATUS_PROBE_OK;
  if (IS("undeliverable") || IS("undeliverable-but-not-cached"))
    return BW_STATUS_PROBE_FAIL;
#undef IS
  return BW_STATUS_OTHER;
}

/* QID: to=<r>, [orig_to=<o>, ]relay=R, ..., dsn=X.Y.Z, status=S (text) */
static bw_kind_t delivery(const char *p, const char *end, bw_event_t *ev) {
  p = angle_addr(p, end, &ev->rcpt);
  if (p == NULL)
    return BW_KIND_MTA_OTHER;
  ev->kind = BW_KIND_DELIVERY;
  while (p < end && BW_STARTS(p, end, ", ")) {
    p += 2;
    const char *k = p;
    p = bw__find4(p, end, '=', ',', ' ', ' ');
    if (p >= end || *p != '=')
      break;
    size_t kl = (size_t)(p - k);
    p++;
    if (kl == 7 && memcmp(k, "orig_to", 7) == 0) {
      const char *q = angle_addr(p, end, &ev->orig_rcpt);
      if (q == NULL)
        break;
      p = q;
      continue;
    }
    if (kl == 6 && memcmp(k, "status", 6) == 0) {
      const char *w = p;
      p = bw__find4(p, end, ' ', ',', ' ', ' ');
      ev->status = status_word(w, p);
      if (BW_STARTS(p, end, " (")) {
        const char *t = p + 2, *te = end;
        if (te > t && te[-1] == ')')
          te--;
        ev->text = bw__span(t, te);
        delivery_text(t, te, ev);
      }
      break;
    }
    const char *v = p;
    p = bw__find1(p, end, ',');
    if (kl == 5 && memcmp(k, "relay", 5) == 0)
      ev->relay = bw__span(v, p);
    else if (kl == 3 && memcmp(k, "dsn", 3) == 0)
      ev->dsn = bw__span(v, p);
  }
  if (ev->status == BW_STATUS_NONE)
    ev->status = BW_STATUS_OTHER;
  return ev->kind;
}

/* qmgr: "from=<s>, size=N, nrcpt=N (queue active)" or
 *       "from=<s>, status=expired, returned to sender" */
static bw_kind_t from_line(const char *p, const char *end, bw_event_t *ev) {
  p = angle_addr(p, end, &ev->sender);
  if (p == NULL)
    return BW_KIND_MTA_OTHER;
  ev->has_sender = 1;
  if (BW_STARTS(p, end, ", status=expired") ||
      BW_STARTS(p, end, ", status=force-expired")) {
    ev->kind = BW_KIND_EXPIRED;
    return ev->kind;
  }
  ev->kind = BW_KIND_ARRIVAL;
  while (BW_STARTS(p, end, ", ")) {
    p += 2;
    if (BW_STARTS(p, end, "size=")) {
      p += 5;
      uint64_t v = 0;
      while (p < end && bw__isdigit(*p))
        v = v * 10 + (uint64_t)(*p++ - '0');
      ev->size = v;
    } else if (BW_STARTS(p, end, "nrcpt=")) {
      p += 6;
      uint32_t v = 0;
      while (p < end && bw__isdigit(*p))
        v = v * 10 + (uint32_t)(*p++ - '0');
      ev->nrcpt = v;
    } else {
      while (p < end && *p != ',')
        p++;
    }
  }
  return ev->kind;
}

/* "reject: RCPT from host[ip]: 554 5.7.1 <r>: Relay access denied;
 *  from=<s> to=<r> proto=ESMTP helo=<h>" (smtpd_check.c). Also cleanup's
 * "reject: header ... from host[ip]; from=<s> to=<r> ...: text". */
static bw_kind_t reject(const char *p, const char *end, bw_event_t *ev) {
  ev->kind = BW_KIND_REJECT;
  size_t n;
  if (BW_STARTS(p, end, "RCPT "))
    ev->stage = BW_STAGE_RCPT;
  else if (BW_STARTS(p, end, "MAIL "))
    ev->stage = BW_STAGE_MAIL;
  else if (BW_STARTS(p, end, "CONNECT "))
    ev->stage = BW_STAGE_CONNECT;
  else if (BW_STARTS(p, end, "EHLO ") || BW_STARTS(p, end, "HELO "))
    ev->stage = BW_STAGE_HELO;
  else if (BW_STARTS(p, end, "DATA "))
    ev->stage = BW_STAGE_DATA;
  else if (BW_STARTS(p, end, "END-OF-MESSAGE ") ||
           BW_STARTS(p, end, "header ") || BW_STARTS(p, end, "body "))
    ev->stage = BW_STAGE_END_OF_DATA;
  else
    ev->stage = bw__smtp_stage(p, end, &n);

  const char *f = BW_STARTS(p, end, "header ") || BW_STARTS(p, end, "body ")
                      ? NULL
                      : memchr(p, ' ', (size_t)(end - p));
  if (f != NULL && BW_STARTS(f, end, " from ")) {
    const char *c = f + 6, *q = c;
    while (q < end && *q != ']')
      q++;
    if (q < end) {
      ev->client = bw__span(c, q + 1);
      if (BW_STARTS(q + 1, end, ": ")) {
        const char *t = q + 3;
        bw__smtp_reply(t, end, &ev->reply_code, &ev->dsn);
        /* The text runs to the "; from=<" Postfix appends. */
        const char *semi = bw__rfind(t, end, "; from=<", 8);
        ev->text = bw__span(t, semi != NULL ? semi : end);
      }
    }
  }
  const char *fr = bw__rfind(p, end, " from=<", 7);
  if (fr != NULL && angle_addr(fr + 6, end, &ev->sender) != NULL)
    ev->has_sender = 1;
  const char *to = bw__rfind(p, end, " to=<", 5);
  if (to != NULL)
    angle_addr(to + 4, end, &ev->rcpt);
  return ev->kind;
}

bw_kind_t bw__parse_postfix(const char *p, const char *end, bw_event_t *ev) {
  ev->kind = BW_KIND_MTA_OTHER;
  const char *q;
  if (BW_STARTS(p, end, "NOQUEUE: ")) {
    q = p + 7;
  } else {
    q = queue_id(p, end);
    if (q == NULL)
      return ev->kind; /* connect from, warning:, statistics:, ... */
    ev->queue_id = bw__span(p, q);
  }
  p = q + 2;
  if (p >= end)
    return ev->kind;

  switch (*p) {
  case 't':
    if (BW_STARTS(p, end, "to=<"))
      return delivery(p + 3, end, ev);
    break;
  case 'f':
    if (BW_STARTS(p, end, "from=<"))
      return from_line(p + 5, end, ev);
    break;
  case 'm':
    if (BW_STARTS(p, end, "message-id=")) {
      const char *m = p + 11, *me = end;
      if (m < me && *m == '<' && me[-1] == '>') {
        m++;
        me--;
      }
      ev->message_id = bw__span(m, me);
      ev->kind = BW_KIND_MESSAGE_ID;
    } else if (BW_STARTS(p, end, "milter-reject: ")) {
      return reject(p + 15, end, ev);
    }
    break;
  case 'c':
    if (BW_STARTS(p, end, "client=")) {
      const char *c = p + 7, *ce = bw__find1(c, end, ',');
      ev->client = bw__span(c, ce);
      ev->kind = BW_KIND_CLIENT;
    }
    break;
  case 'r':
    if (end - p == 7 && memcmp(p, "removed", 7) == 0)
      ev->kind = BW_KIND_REMOVED;
    else if (BW_STARTS(p, end, "reject: "))
      return reject(p + 8, end, ev);
    break;
  case 's':
  case 'p': {
    /* "sender non-delivery notification: NEWQID", "postmaster
     * non-delivery notification: NEWQID", "sender delay notification:
     * NEWQID", "sender delivery status notification: NEWQID". */
    const char *c = memchr(p, ':', (size_t)(end - p));
    if (c != NULL && c - p >= 13 && memcmp(c - 13, " notification", 13) == 0 &&
        BW_STARTS(c, end, ": ")) {
      ev->text = bw__span(p, c);
      const char *n = c + 2, *ne = n;
      while (ne < end && *ne != ' ')
        ne++;
      ev->new_queue_id = bw__span(n, ne);
      ev->kind = BW_KIND_NOTIFICATION;
    }
    break;
  }
  default:
    break;
  }
  return ev->kind;
}
