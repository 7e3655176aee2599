/* Reports from a mailbox parsed with gmime: the MIME structure (which
 * part is the feedback report, the delivery status, the original) is
 * gmime's; the field blocks inside message/feedback-report and
 * message/delivery-status (RFC 822-style "Name: value" lines with
 * folding) and the text of non-standard bounces are read here. What the
 * numbers mean (joins, rates) is not this file's concern: see maildir.c
 * and agg.c. */
#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bouncewatch/error.h"
#include "bouncewatch/mailreport.h"

static const char *const feedback_names[] = {
#define BW_FEEDBACK_STR(name, str) str,
    BW_FEEDBACK_MAP(BW_FEEDBACK_STR)
#undef BW_FEEDBACK_STR
};
static const char *const action_names[] = {
#define BW_ACTION_STR(name, str) str,
    BW_ACTION_MAP(BW_ACTION_STR)
#undef BW_ACTION_STR
};

const char *bw_feedback_name(bw_feedback_t f) {
  return f < BW_FEEDBACK__COUNT ? feedback_names[f] : "unknown";
}
const char *bw_action_name(bw_action_t a) {
  return a < BW_ACTION__COUNT ? action_names[a] : "none";
}
const char *bw_mr_kind_name(bw_mr_kind_t k) {
  switch (k) {
  case BW_MR_ARF:
    return "arf";
  case BW_MR_DSN:
    return "dsn";
  case BW_MR_BOUNCE:
    return "bounce";
  default:
    return "not_report";
  }
}

/* gmime's global set-up happens once per process; it is never undone
 * (g_mime_shutdown() would break a second parser in the same process, and
 * its few global tables live as long as the program). */
static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;
static void gmime_setup(void) { g_mime_init(); }

void bw_mailreport_clear(bw_mailreport_t *r) {
  char **s[] = {&r->from, &r->subject, &r->feedback_raw, &r->user_agent,
                &r->original_mail_from, &r->original_rcpt_to, &r->source_ip,
                &r->reported_domain, &r->reporting_mta, &r->orig_message_id,
                &r->orig_return_path, &r->orig_from, &r->orig_to,
                &r->orig_dkim_domain};
  for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
    free(*s[i]);
  for (size_t i = 0; i < r->nrcpts; i++) {
    free(r->rcpts[i].final_rcpt);
    free(r->rcpts[i].orig_rcpt);
    free(r->rcpts[i].diagnostic);
    free(r->rcpts[i].remote_mta);
  }
  free(r->rcpts);
  memset(r, 0, sizeof(*r));
}

/* ---- small string helpers ------------------------------------------------ */

static char *dupn(const char *p, size_t n) {
  char *s = malloc(n + 1);
  if (s != NULL) {
    if (n > 0) /* p may be NULL when n is 0 */
      memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

/* A copy of p[0..n) with folding undone (every run of whitespace, line
 * breaks included, becomes one space) and the ends trimmed; NULL when
 * empty. */
static char *clean(const char *p, size_t n) {
  while (n > 0 && isspace((unsigned char)*p))
    p++, n--;
  while (n > 0 && isspace((unsigned char)p[n - 1]))
    n--;
  if (n == 0)
    return NULL;
  char *s = malloc(n + 1);
  if (s == NULL)
    return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (isspace((unsigned char)p[i])) {
      if (s[j - 1] != ' ') /* j > 0: p starts with a non-space */
        s[j++] = ' ';
      continue;
    }
    s[j++] = p[i];
  }
  s[j] = '\0';
  return s;
}

/* The address in a header or field value: after a "type;" prefix
 * (rfc822;), inside <...> when there are brackets, else the first token
 * holding an '@', else the trimmed value. NULL when empty ("<>"). */
static char *addr_of(const char *v) {
  if (v == NULL)
    return NULL;
  const char *semi = strchr(v, ';');
  const char *at = strchr(v, '@');
  if (semi != NULL && (at == NULL || semi < at) && strchr(v, '<') == NULL)
    v = semi + 1;
  const char *lt = strrchr(v, '<');
  if (lt != NULL) {
    const char *gt = strchr(lt, '>');
    if (gt != NULL)
      return clean(lt + 1, (size_t)(gt - lt - 1));
  }
  at = strchr(v, '@');
  if (at != NULL) {
    const char *b = at, *e = at;
    while (b > v && !isspace((unsigned char)b[-1]) && b[-1] != '(' &&
           b[-1] != ',' && b[-1] != '"')
      b--;
    while (*e != '\0' && !isspace((unsigned char)*e) && *e != ')' &&
           *e != ',' && *e != '"')
      e++;
    return clean(b, (size_t)(e - b));
  }
  return clean(v, strlen(v));
}

static char *msgid_of(const char *v) {
  if (v == NULL)
    return NULL;
  const char *lt = strchr(v, '<');
  if (lt != NULL) {
    const char *gt = strchr(lt, '>');
    if (gt != NULL)
      return clean(lt + 1, (size_t)(gt - lt - 1));
  }
  return clean(v, strlen(v));
}

/* "dns; mx.example.com" -> "mx.example.com"; "smtp; 550 ..." -> "550 ...". */
static char *untyped(const char *v, size_t n) {
  const char *semi = memchr(v, ';', n);
  if (semi != NULL && semi - v < 16) {
    int word = 1;
    for (const char *q = v; q < semi; q++)
      if (!(isalnum((unsigned char)*q) || *q == '-' || *q == ' '))
        word = 0;
    if (word) {
      n -= (size_t)(semi + 1 - v);
      v = semi + 1;
    }
  }
  return clean(v, n);
}

static int64_t date_us(const char *v) {
  if (v == NULL)
    return 0;
  GDateTime *dt = g_mime_utils_header_decode_date(v);
  if (dt == NULL)
    return 0;
  int64_t s = g_date_time_to_unix(dt);
  g_date_time_unref(dt);
  return s * 1000000;
}

static char *hdr(GMimeObject *o, const char *name) {
  const char *v = g_mime_object_get_header(o, name);
  return v != NULL ? clean(v, strlen(v)) : NULL;
}

/* d= of a DKIM-Signature value. */
static char *dkim_domain(const char *v) {
  for (const char *p = v; p != NULL && *p != '\0'; p++) {
    if ((p == v || p[-1] == ';' || isspace((unsigned char)p[-1])) &&
        p[0] == 'd' && p[1] == '=') {
      p += 2;
      while (isspace((unsigned char)*p))
        p++;
      size_t n = strcspn(p, "; \t\r\n");
      return n ? clean(p, n) : NULL;
    }
  }
  return NULL;
}

/* ---- gmime plumbing --------------------------------------------------------- */

typedef struct {
  int bad;
  char why[128];
} warn_t;

/* Problems that mean the structure cannot be trusted: a cut file, a
 * multipart whose boundary never came, one without parts or boundary. */
static void on_warning(gint64 offset, GMimeParserWarning w, const gchar *item,
                       gpointer arg) {
  (void)item;
  warn_t *wt = arg;
  const char *what = NULL;
  switch (w) {
  case GMIME_WARN_TRUNCATED_MESSAGE:
    what = "truncated (a multipart's closing boundary is missing)";
    break;
  case GMIME_WARN_MALFORMED_MULTIPART:
    what = "broken multipart (no parts found between its boundaries)";
    break;
  case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
    what = "broken multipart (no boundary parameter)";
    break;
  case GMIME_CRIT_NESTING_OVERFLOW:
    what = "MIME nesting too deep";
    break;
  case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
    what = "a MIME part without headers or content";
    break;
  default:
    return;
  }
  /* Feedback loops and MTAs often cut or mangle the enclosed original:
   * the mail is usable when its report part was read, bad mail when it
   * was not (decided by the caller). */
  if (!wt->bad) {
    wt->bad = 1;
    if (offset >= 0)
      snprintf(wt->why, sizeof(wt->why), "%s near byte %lld", what,
               (long long)offset);
    else
      snprintf(wt->why, sizeof(wt->why), "%s", what);
  }
}

static GMimeMessage *parse_message(const char *buf, size_t len, warn_t *w) {
  GMimeStream *st = g_mime_stream_mem_new_with_buffer(buf, len);
  GMimeParser *p = g_mime_parser_new_with_stream(st);
  g_object_unref(st);
  GMimeParserOptions *po = g_mime_parser_options_new();
  if (w != NULL)
    g_mime_parser_options_set_warning_callback(po, on_warning, w);
  GMimeMessage *m = g_mime_parser_construct_message(p, po);
  g_mime_parser_options_free(po);
  g_object_unref(p);
  return m;
}

/* The decoded content of a leaf part (transfer encoding undone), as a
 * NUL-terminated copy; for a message part, the message as text. */
static char *part_bytes(GMimeObject *o, size_t *len) {
  GMimeStream *mem = g_mime_stream_mem_new();
  if (GMIME_IS_PART(o)) {
    GMimeDataWrapper *dw = g_mime_part_get_content((GMimePart *)o);
    if (dw != NULL)
      g_mime_data_wrapper_write_to_stream(dw, mem);
  } else if (GMIME_IS_MESSAGE_PART(o)) {
    GMimeMessage *m = g_mime_message_part_get_message((GMimeMessagePart *)o);
    if (m != NULL)
      g_mime_object_write_to_stream((GMimeObject *)m, NULL, mem);
  }
  GByteArray *ba = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)mem);
  char *s = dupn(ba != NULL ? (const char *)ba->data : "",
                 ba != NULL ? ba->len : 0);
  if (len != NULL)
    *len = ba != NULL ? ba->len : 0;
  g_object_unref(mem);
  return s;
}

/* ---- field blocks (feedback-report, delivery-status) ------------------ */

/* Calls cb for each "Name: value" field of a block (value unfolded),
 * and with name NULL at each blank line that ends a block. */
typedef void (*field_cb)(void *arg, const char *name, size_t nlen,
                         const char *val, size_t vlen);

static void fields(const char *s, size_t n, field_cb cb, void *arg) {
  size_t i = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && s[e] != '\n')
      e++;
    size_t le = e;
    if (le > i && s[le - 1] == '\r')
      le--;
    if (le == i) { /* blank line: end of a block */
      cb(arg, NULL, 0, NULL, 0);
      i = e + 1;
      continue;
    }
    /* The field and its continuation lines (starting with blanks). */
    size_t fe = e;
    while (fe + 1 < n && (s[fe + 1] == ' ' || s[fe + 1] == '\t'))
      while (++fe < n && s[fe] != '\n')
        ;
    const char *colon = memchr(s + i, ':', le - i);
    if (colon != NULL && s[i] != ' ' && s[i] != '\t')
      cb(arg, s + i, (size_t)(colon - (s + i)), colon + 1,
         (size_t)(s + fe - colon - 1));
    i = fe + 1;
  }
  cb(arg, NULL, 0, NULL, 0);
}

static int is(const char *name, size_t n, const char *want) {
  return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static void set(char **dst, char *v) {
  if (*dst == NULL)
    *dst = v;
  else
    free(v);
}

static void arf_field(void *arg, const char *name, size_t nl, const char *v,
                      size_t vl) {
  bw_mailreport_t *r = arg;
  if (name == NULL)
    return;
  if (is(name, nl, "Feedback-Type")) {
    char *t = clean(v, vl);
    if (t == NULL)
      return;
    bw_feedback_t f = BW_FEEDBACK_UNKNOWN;
    for (int k = BW_FEEDBACK_ABUSE; k < BW_FEEDBACK_UNKNOWN; k++)
      if (strcasecmp(t, feedback_names[k]) == 0)
        f = (bw_feedback_t)k;
    r->feedback = f;
    set(&r->feedback_raw, t);
  } else if (is(name, nl, "User-Agent")) {
    set(&r->user_agent, clean(v, vl));
  } else if (is(name, nl, "Original-Mail-From")) {
    char *t = clean(v, vl);
    set(&r->original_mail_from, addr_of(t));
    free(t);
  } else if (is(name, nl, "Original-Rcpt-To")) {
    char *t = clean(v, vl);
    set(&r->original_rcpt_to, addr_of(t));
    free(t);
  } else if (is(name, nl, "Arrival-Date") || is(name, nl, "Received-Date")) {
    char *t = clean(v, vl);
    if (r->arrival_us == 0)
      r->arrival_us = date_us(t);
    free(t);
  } else if (is(name, nl, "Source-IP")) {
    set(&r->source_ip, clean(v, vl));
  } else if (is(name, nl, "Reported-Domain")) {
    set(&r->reported_domain, clean(v, vl));
  }
}

typedef struct {
  bw_mailreport_t *r;
  bw_mr_rcpt_t cur;
  int in_rcpt;
} dsn_ctx_t;

static void rcpt_free(bw_mr_rcpt_t *x) {
  free(x->final_rcpt);
  free(x->orig_rcpt);
  free(x->diagnostic);
  free(x->remote_mta);
  memset(x, 0, sizeof(*x));
}

/* Append (taking ownership of) one recipient; over the cap it is freed
 * and counted. */
static void add_rcpt(bw_mailreport_t *r, bw_mr_rcpt_t *x) {
  if (r->nrcpts >= BW_MR_MAX_RCPTS) {
    r->rcpts_dropped++;
    rcpt_free(x);
    return;
  }
  bw_mr_rcpt_t *nv = realloc(r->rcpts, (r->nrcpts + 1) * sizeof(*nv));
  if (nv == NULL) {
    r->rcpts_dropped++;
    rcpt_free(x);
    return;
  }
  r->rcpts = nv;
  r->rcpts[r->nrcpts++] = *x;
  memset(x, 0, sizeof(*x));
}

static void dsn_field(void *arg, const char *name, size_t nl, const char *v,
                      size_t vl) {
  dsn_ctx_t *c = arg;
  bw_mr_rcpt_t *x = &c->cur;
  if (name == NULL) { /* end of a block */
    if (c->in_rcpt && (x->final_rcpt != NULL || x->orig_rcpt != NULL))
      add_rcpt(c->r, x);
    else
      rcpt_free(x);
    c->in_rcpt = 0;
    return;
  }
  if (is(name, nl, "Final-Recipient")) {
    c->in_rcpt = 1;
    char *t = clean(v, vl);
    set(&x->final_rcpt, addr_of(t));
    free(t);
  } else if (is(name, nl, "Original-Recipient")) {
    c->in_rcpt = 1;
    char *t = clean(v, vl);
    set(&x->orig_rcpt, addr_of(t));
    free(t);
  } else if (is(name, nl, "Action")) {
    c->in_rcpt = 1;
    char *t = clean(v, vl);
    if (t != NULL)
      for (int k = BW_ACTION_FAILED; k < BW_ACTION__COUNT; k++)
        if (strncasecmp(t, action_names[k], strlen(action_names[k])) == 0)
          x->action = (bw_action_t)k;
    free(t);
  } else if (is(name, nl, "Status")) {
    char *t = clean(v, vl);
    if (t != NULL) {
      size_t k = strspn(t, "0123456789.");
      if (k >= sizeof(x->status))
        k = sizeof(x->status) - 1;
      memcpy(x->status, t, k);
      x->status[k] = '\0';
    }
    free(t);
  } else if (is(name, nl, "Diagnostic-Code")) {
    set(&x->diagnostic, untyped(v, vl));
  } else if (is(name, nl, "Remote-MTA")) {
    set(&x->remote_mta, untyped(v, vl));
  } else if (is(name, nl, "Reporting-MTA")) {
    set(&c->r->reporting_mta, untyped(v, vl));
  } else if (is(name, nl, "Arrival-Date")) {
    char *t = clean(v, vl);
    if (c->r->arrival_us == 0)
      c->r->arrival_us = date_us(t);
    free(t);
  }
}

/* ---- the enclosed original -------------------------------------------- */

static void original_from(bw_mailreport_t *r, GMimeObject *o) {
  r->has_original = 1;
  char *v = hdr(o, "Message-ID");
  r->orig_message_id = msgid_of(v);
  free(v);
  v = hdr(o, "Return-Path");
  r->orig_return_path = addr_of(v);
  free(v);
  v = hdr(o, "From");
  r->orig_from = addr_of(v);
  free(v);
  v = hdr(o, "To");
  r->orig_to = addr_of(v);
  free(v);
  const char *d = g_mime_object_get_header(o, "DKIM-Signature");
  r->orig_dkim_domain = d != NULL ? dkim_domain(d) : NULL;
  /* Microsoft's JMRP names the complaining recipient in its own header. */
  if (r->original_rcpt_to == NULL) {
    v = hdr(o, "X-HmXmrOriginalRecipient");
    r->original_rcpt_to = addr_of(v);
    free(v);
  }
}

/* Headers (and maybe a body) as bytes: parsed as a message of its own. */
static void original_bytes(bw_mailreport_t *r, const char *p, size_t n) {
  while (n > 0 && (*p == '\n' || *p == '\r'))
    p++, n--;
  if (n == 0)
    return;
  GMimeMessage *m = parse_message(p, n, NULL);
  if (m != NULL) {
    original_from(r, (GMimeObject *)m);
    g_object_unref(m);
  }
}

/* ---- walking the MIME tree -------------------------------------------- */

typedef struct {
  GMimeObject *feedback, *delivery, *original, *text;
  int original_is_headers;
  GMimeObject *jmrp_original; /* a message/rfc822 part of multipart/mixed */
} parts_t;

static int ct_is(GMimeObject *o, const char *type, const char *sub) {
  GMimeContentType *ct = g_mime_object_get_content_type(o);
  return ct != NULL && g_mime_content_type_is_type(ct, type, sub);
}

static void walk(GMimeObject *o, parts_t *p, int depth) {
  if (depth > 8)
    return;
  if (GMIME_IS_MULTIPART(o)) {
    int n = g_mime_multipart_get_count((GMimeMultipart *)o);
    for (int i = 0; i < n; i++)
      walk(g_mime_multipart_get_part((GMimeMultipart *)o, i), p, depth + 1);
    return;
  }
  if (ct_is(o, "message", "feedback-report")) {
    if (p->feedback == NULL)
      p->feedback = o;
  } else if (ct_is(o, "message", "delivery-status") ||
             ct_is(o, "message", "global-delivery-status")) {
    if (p->delivery == NULL)
      p->delivery = o;
  } else if (ct_is(o, "message", "rfc822") || ct_is(o, "message", "global")) {
    if (p->original == NULL)
      p->original = o;
  } else if (ct_is(o, "text", "rfc822-headers") ||
             ct_is(o, "message", "global-headers")) {
    if (p->original == NULL) {
      p->original = o;
      p->original_is_headers = 1;
    }
  } else if (ct_is(o, "text", "plain")) {
    if (p->text == NULL)
      p->text = o;
  }
}

static void read_original(bw_mailreport_t *r, parts_t *p) {
  if (p->original == NULL)
    return;
  if (GMIME_IS_MESSAGE_PART(p->original)) {
    GMimeMessage *m =
        g_mime_message_part_get_message((GMimeMessagePart *)p->original);
    if (m != NULL)
      original_from(r, (GMimeObject *)m);
    return;
  }
  size_t n;
  char *b = part_bytes(p->original, &n);
  if (b != NULL)
    original_bytes(r, b, n);
  free(b);
}

/* ---- non-standard bounces: the text ------------------------------------- */

/* Lines after which the returned message is copied, as the common MTAs
 * write them (compared without case, as substrings of the line). */
static const char *const original_markers[] = {
    "this is a copy of the message",     /* Exim */
    "this is a copy of your message",    /* Exim variants */
    "copy of the message's headers",     /* Exim, headers only */
    "below this line is a copy of the message", /* qmail */
    "----- original message -----",      /* Gmail */
    "original message follows",          /* various */
    "----- the following is a copy",     /* various */
    "------ original message headers",   /* Microsoft */
    "original message headers:",         /* Microsoft */
    "undelivered message headers",       /* Postfix, text form */
    "unsent message below",              /* sendmail */
};

static const char *find_marker(const char *s, const char **line_end) {
  for (const char *l = s; *l != '\0';) {
    const char *e = strchr(l, '\n');
    if (e == NULL)
      e = l + strlen(l);
    for (size_t k = 0; k < sizeof(original_markers) / sizeof(*original_markers);
         k++) {
      size_t ml = strlen(original_markers[k]);
      for (const char *q = l; q + ml <= e; q++)
        if (strncasecmp(q, original_markers[k], ml) == 0) {
          *line_end = *e ? e + 1 : e;
          return l;
        }
    }
    l = *e ? e + 1 : e;
  }
  return NULL;
}

static int is_addr_char(char c) {
  return isalnum((unsigned char)c) || strchr(".-_+=!#$%&'*/?^`{|}~@", c) != NULL;
}

/* A line that is only an address: "  user@dom", "<user@dom>:",
 * "user@dom<mailto:user@dom>". Returns the address or NULL; *rest gets
 * text that followed a "<addr>:" on the same line (Postfix style). */
static char *addr_line(const char *l, size_t n, const char **rest,
                       size_t *restn) {
  *rest = NULL;
  *restn = 0;
  while (n > 0 && isspace((unsigned char)*l))
    l++, n--;
  while (n > 0 && isspace((unsigned char)l[n - 1]))
    n--;
  if (n < 3)
    return NULL;
  size_t i = 0;
  int br = l[0] == '<';
  if (br)
    i++;
  size_t b = i;
  while (i < n && is_addr_char(l[i]))
    i++;
  size_t e = i;
  const char *at = memchr(l + b, '@', e - b);
  if (at == NULL || at == l + b || at + 1 >= l + e)
    return NULL;
  if (br) {
    if (i >= n || l[i] != '>')
      return NULL;
    i++;
  }
  if (i < n && l[i] == ':') {
    i++;
    while (i < n && isspace((unsigned char)l[i]))
      i++;
    if (i < n) {
      *rest = l + i;
      *restn = n - i;
    }
  } else if (i < n && strncasecmp(l + i, "<mailto:", 8) != 0 &&
             l[i] != ' ' && l[i] != '(') {
    return NULL;
  } else if (i < n && l[i] == ' ') {
    /* "user@dom (expanded from ...)", Exchange 2003's "user@dom on DATE":
     * the address, then only these. */
    size_t k = i;
    while (k < n && l[k] == ' ')
      k++;
    if (k < n && l[k] != '(' && !(n - k > 3 && strncasecmp(l + k, "on ", 3) == 0))
      return NULL;
  }
  return dupn(l + b, e - b);
}

/* A line that looks like a remote server's answer (reply code or
 * enhanced status code), where the diagnostic of a text bounce is. */
static int looks_diagnostic(const char *l, size_t n) {
  for (size_t i = 0; i + 3 <= n; i++) {
    if ((i == 0 || !isalnum((unsigned char)l[i - 1])) &&
        (l[i] == '4' || l[i] == '5') && isdigit((unsigned char)l[i + 1]) &&
        isdigit((unsigned char)l[i + 2]) &&
        (i + 3 == n || l[i + 3] == ' ' || l[i + 3] == '-'))
      return 1;
    if ((l[i] == '4' || l[i] == '5') && l[i + 1] == '.' &&
        isdigit((unsigned char)l[i + 2]))
      return 1;
  }
  return 0;
}

/* X.Y.Z found in a text, into out (empty when none). */
static void status_in(const char *t, char out[16]) {
  out[0] = '\0';
  if (t == NULL)
    return;
  for (const char *p = t; *p != '\0'; p++) {
    if ((*p == '2' || *p == '4' || *p == '5') && p[1] == '.' &&
        (p == t || !isalnum((unsigned char)p[-1]))) {
      const char *q = p + 2;
      size_t d1 = strspn(q, "0123456789");
      if (d1 < 1 || d1 > 3 || q[d1] != '.')
        continue;
      size_t d2 = strspn(q + d1 + 1, "0123456789");
      if (d2 < 1 || d2 > 3)
        continue;
      size_t len = (size_t)(q + d1 + 1 + d2 - p);
      if (len < 16) {
        memcpy(out, p, len);
        out[len] = '\0';
      }
      return;
    }
  }
}

static int ci_has(const char *s, const char *w) {
  if (s == NULL)
    return 0;
  size_t n = strlen(w);
  for (; *s != '\0'; s++)
    if (strncasecmp(s, w, n) == 0)
      return 1;
  return 0;
}

/* The first line that looks like a server's answer, with the non-blank
 * lines under it; NULL when none. */
static char *first_answer(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t e = i;
    while (e < n && s[e] != '\n')
      e++;
    if (looks_diagnostic(s + i, e - i)) {
      size_t ge = e;
      while (ge + 1 < n && s[ge + 1] != '\n' && s[ge + 1] != '\r')
        while (++ge < n && s[ge] != '\n')
          ;
      return clean(s + i, ge - i);
    }
    i = e + 1;
  }
  return NULL;
}

/* A recipient of a text bounce named twice (Microsoft writes it in the
 * summary and again under "Diagnostic information"): one entry, with
 * the diagnostic that has a status code if either has. */
static void add_text_rcpt(bw_mailreport_t *r, bw_mr_rcpt_t *x, size_t first) {
  for (size_t k = first; k < r->nrcpts; k++) {
    bw_mr_rcpt_t *y = &r->rcpts[k];
    if (y->final_rcpt == NULL || strcasecmp(y->final_rcpt, x->final_rcpt) != 0)
      continue;
    if ((y->status[0] == '\0' && x->status[0] != '\0') ||
        (y->diagnostic == NULL && x->diagnostic != NULL)) {
      free(y->diagnostic);
      y->diagnostic = x->diagnostic;
      x->diagnostic = NULL;
      memcpy(y->status, x->status, sizeof(y->status));
    }
    rcpt_free(x);
    return;
  }
  add_rcpt(r, x);
}

/* Recipients and diagnostics of a text bounce: an address alone on a
 * line (Exim, Gmail, Microsoft, qmail's "<addr>:") starts a recipient,
 * the non-blank lines under it are its diagnostic; a recipient without
 * one gets the first line that looks like a server's answer (Gmail puts
 * it under "The error that the other server returned was:"). */
static void text_rcpts(bw_mailreport_t *r, const char *s, size_t n,
                       bw_action_t action) {
  bw_mr_rcpt_t cur;
  memset(&cur, 0, sizeof(cur));
  char *diag = NULL;
  size_t dlen = 0, cap = 0;
  char *global = first_answer(s, n);
  size_t first = r->nrcpts;
  for (size_t i = 0; i < n;) {
    size_t e = i;
    while (e < n && s[e] != '\n')
      e++;
    size_t le = e;
    if (le > i && s[le - 1] == '\r')
      le--;
    const char *l = s + i;
    size_t ln = le - i;
    const char *rest;
    size_t restn;
    char *a = ln > 0 ? addr_line(l, ln, &rest, &restn) : NULL;
    int blank = 1;
    for (size_t k = 0; k < ln; k++)
      if (!isspace((unsigned char)l[k]))
        blank = 0;
    if (a != NULL || blank) {
      if (cur.final_rcpt != NULL) {
        cur.diagnostic = diag != NULL ? clean(diag, dlen) : NULL;
        dlen = 0;
        cur.action = action;
        status_in(cur.diagnostic, cur.status);
        add_text_rcpt(r, &cur, first);
      }
      memset(&cur, 0, sizeof(cur));
      dlen = 0;
      if (a != NULL) {
        cur.final_rcpt = a;
        if (rest != NULL) {
          if (restn + 2 > cap) {
            cap = restn + 256;
            char *nd = realloc(diag, cap);
            if (nd == NULL)
              break;
            diag = nd;
          }
          memcpy(diag, rest, restn);
          dlen = restn;
          diag[dlen++] = ' ';
        }
      }
    } else if (cur.final_rcpt != NULL) {
      if (dlen + ln + 2 > cap) {
        cap = dlen + ln + 256;
        char *nd = realloc(diag, cap);
        if (nd == NULL)
          break;
        diag = nd;
      }
      memcpy(diag + dlen, l, ln);
      dlen += ln;
      diag[dlen++] = ' ';
    }
    i = e + 1;
  }
  if (cur.final_rcpt != NULL) {
    cur.diagnostic = diag != NULL && dlen ? clean(diag, dlen) : NULL;
    cur.action = action;
    status_in(cur.diagnostic, cur.status);
    add_text_rcpt(r, &cur, first);
  } else {
    rcpt_free(&cur);
  }
  free(diag);
  for (size_t k = first; k < r->nrcpts; k++)
    if (r->rcpts[k].diagnostic == NULL && global != NULL) {
      r->rcpts[k].diagnostic = dupn(global, strlen(global));
      status_in(global, r->rcpts[k].status);
    }
  free(global);
}

/* Is this mail a bounce at all? The sender is a mailer daemon or
 * postmaster, or the subject is one the common MTAs give their bounces. */
static int bounce_like(const bw_mailreport_t *r, GMimeObject *top) {
  static const char *const subjects[] = {
      "undeliver",        "delivery status notification",
      "failure notice",   "mail delivery failed",
      "returned mail",    "delivery failure",
      "non remis",        "nondeliverable",
      "mail delivery system", "delivery has failed",
      "could not be delivered", "warning: message"};
  if (ci_has(r->from, "mailer-daemon") || ci_has(r->from, "postmaster") ||
      ci_has(r->from, "mail delivery"))
    return 1;
  const char *rp = g_mime_object_get_header(top, "Return-Path");
  if (rp != NULL && strstr(rp, "<>") != NULL)
    return 1;
  for (size_t k = 0; k < sizeof(subjects) / sizeof(*subjects); k++)
    if (ci_has(r->subject, subjects[k]))
      return 1;
  return 0;
}

static void read_text_bounce(bw_mailreport_t *r, GMimeObject *top,
                             GMimeObject *text, parts_t *p) {
  size_t n;
  char *body = part_bytes(text, &n);
  if (body == NULL)
    return;
  const char *after = NULL;
  const char *mark = find_marker(body, &after);
  size_t head = mark != NULL ? (size_t)(mark - body) : n;
  bw_action_t action = BW_ACTION_FAILED;
  if (ci_has(r->subject, "delayed") || ci_has(r->subject, "delay") ||
      ci_has(r->subject, "warning"))
    action = BW_ACTION_DELAYED;
  text_rcpts(r, body, head, action);
  /* X-Failed-Recipients (Exim, Gmail) when the text gave none. */
  const char *xf = g_mime_object_get_header(top, "X-Failed-Recipients");
  if (r->nrcpts == 0 && xf != NULL) {
    char *list = dupn(xf, strlen(xf));
    char *save = NULL;
    for (char *tok = list != NULL ? strtok_r(list, ",", &save) : NULL;
         tok != NULL; tok = strtok_r(NULL, ",", &save)) {
      bw_mr_rcpt_t x;
      memset(&x, 0, sizeof(x));
      x.final_rcpt = addr_of(tok);
      x.action = action;
      if (x.final_rcpt != NULL)
        add_rcpt(r, &x);
    }
    free(list);
    /* Their diagnostic: the first answer-like line of the text. */
    char *g = first_answer(body, head);
    for (size_t i = 0; i < r->nrcpts && g != NULL; i++) {
      r->rcpts[i].diagnostic = dupn(g, strlen(g));
      status_in(g, r->rcpts[i].status);
    }
    free(g);
  }
  if (r->nrcpts > 0) {
    r->kind = BW_MR_BOUNCE;
    r->format = ci_has(body, "this is the qmail-send program") ? "qmail"
                : g_mime_object_get_header(top, "X-Failed-Recipients") != NULL &&
                        ci_has(r->from, "googlemail.com")
                    ? "gmail"
                : ci_has(body, "This message was created automatically by mail "
                               "delivery software")
                    ? "exim"
                : g_mime_object_get_header(top, "X-MS-Exchange-Message-Is-Ndr") !=
                              NULL ||
                          g_mime_object_get_header(top, "X-MS-Embedded-Report") !=
                              NULL ||
                          ci_has(body, "Diagnostic information for administrators")
                    ? "microsoft"
                    : "text";
  }
  if (p->original == NULL && mark != NULL) {
    /* Exim writes the copy after a blank line; skip to the headers. */
    original_bytes(r, after, n - (size_t)(after - body));
  }
  free(body);
}

/* ---- entry point -------------------------------------------------------- */

static int fail(bw_mailreport_t *r, char *why, size_t whylen, const char *msg) {
  bw_mailreport_clear(r);
  snprintf(why, whylen, "%s", msg);
  return BW_EPARSE;
}

int bw_mailreport_parse(const char *buf, size_t len, bw_mailreport_t *r,
                        char *why, size_t whylen) {
  pthread_once(&gmime_once, gmime_setup);
  memset(r, 0, sizeof(*r));
  if (whylen > 0)
    why[0] = '\0';
  /* A mail starts with a header field ("Name:"), or an mbox "From " line
   * some tools leave in; anything else is no mail. */
  size_t k = 0;
  while (k < len && k < 256 && buf[k] != ':' && buf[k] != '\n' &&
         (unsigned char)buf[k] > ' ' && (unsigned char)buf[k] < 127)
    k++;
  if (len == 0)
    return fail(r, why, whylen, "empty file");
  if (!(k > 0 && k < len && buf[k] == ':') &&
      !(len >= 5 && memcmp(buf, "From ", 5) == 0)) /* buf is not a string */
    return fail(r, why, whylen, "not MIME (does not begin with a header field)");
  warn_t w = {0, {0}};
  GMimeMessage *m = parse_message(buf, len, &w);
  if (m == NULL)
    return fail(r, why, whylen, "not MIME (gmime found no message)");
  GMimeObject *top = (GMimeObject *)m;
  GMimeObject *body = g_mime_message_get_mime_part(m);
  if (body == NULL) {
    g_object_unref(m);
    return fail(r, why, whylen, w.bad ? w.why : "no body");
  }
  const char *v = g_mime_object_get_header(top, "From");
  r->from = v != NULL ? clean(v, strlen(v)) : NULL;
  v = g_mime_object_get_header(top, "Subject");
  r->subject = v != NULL ? clean(v, strlen(v)) : NULL;
  r->date_us = date_us(g_mime_object_get_header(top, "Date"));

  parts_t p;
  memset(&p, 0, sizeof(p));
  walk(body, &p, 0);
  if (p.feedback != NULL) {
    size_t n;
    char *b = part_bytes(p.feedback, &n);
    if (b != NULL)
      fields(b, n, arf_field, r);
    free(b);
    r->kind = BW_MR_ARF;
    r->format = "rfc5965";
    if (r->feedback == BW_FEEDBACK_NONE)
      r->feedback = BW_FEEDBACK_UNKNOWN; /* the required field is missing */
    read_original(r, &p);
  } else if (p.delivery != NULL) {
    size_t n;
    char *b = part_bytes(p.delivery, &n);
    dsn_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.r = r;
    if (b != NULL)
      fields(b, n, dsn_field, &c);
    rcpt_free(&c.cur);
    free(b);
    r->kind = BW_MR_DSN;
    r->format = "rfc3464";
    read_original(r, &p);
  } else if (p.original != NULL && !p.original_is_headers &&
             (ci_has(r->from, "@hotmail.") || ci_has(r->from, "@outlook.") ||
              ci_has(r->from, "@live.") || ci_has(r->from, "@msn.")) &&
             ci_has(r->subject, "complaint")) {
    /* Microsoft JMRP: multipart/mixed holding the complained-about
     * message, whose X-HmXmrOriginalRecipient names the recipient. */
    r->kind = BW_MR_ARF;
    r->format = "microsoft-jmrp";
    r->feedback = BW_FEEDBACK_ABUSE;
    read_original(r, &p);
  } else if (bounce_like(r, top)) {
    GMimeObject *text = p.text != NULL ? p.text : body;
    read_original(r, &p);
    read_text_bounce(r, top, text, &p);
  }
  g_object_unref(m);
  r->damaged = w.bad;
  if (r->kind == BW_MR_NOT_REPORT && w.bad)
    return fail(r, why, whylen, w.why);
  if (w.bad && whylen > 0)
    snprintf(why, whylen, "%s", w.why); /* usable, but say what was wrong */
  if (r->kind == BW_MR_NOT_REPORT && whylen > 0)
    snprintf(why, whylen, "not a report (no feedback report, no delivery "
                          "status, no bounce text with a recipient)");
  return 0;
}
