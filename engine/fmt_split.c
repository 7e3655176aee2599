/* Exim lines split by syslog. Without SYSLOG_LONG_LINES, Exim's
 * write_syslog() cuts a line longer than 870 bytes (or one holding
 * newlines) into parts "[i/n] text", '\' instead of '/' when the part
 * ended at a newline; each part is its own syslog line, and the parts of
 * different Exim processes interleave. A delivery failure with a long SMTP
 * reply is exactly such a line, so the parts are joined here, per host
 * and pid, and the whole line parsed once it is complete.
 *
 * Nothing is dropped: a part that is absorbed counts as BW_KIND_CONTINUED;
 * a sequence that never completes (its process began another, the slots
 * ran out, or the input ended) is parsed as far as it goes. A joined line
 * longer than BW_SPLIT_MAX is cut there. Memory: BW_SPLIT_SLOTS + 1
 * buffers of BW_SPLIT_MAX, allocated on first use. */
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "hash.h"

void bw__split_free(bw_parser_t *ps) {
  for (int i = 0; i < BW_SPLIT_SLOTS; i++)
    free(ps->split[i].buf);
  free(ps->split_out);
}

/* "[i/n] " or "[i\n] " at p: the pointer after it, or NULL. */
static const char *part_header(const char *p, const char *end, uint32_t *i,
                               uint32_t *n, int *newline) {
  if (p >= end || *p != '[')
    return NULL;
  p++;
  uint32_t a = 0, b = 0;
  int da = 0, db = 0;
  while (p < end && bw__isdigit(*p) && da < 5) {
    a = a * 10 + (uint32_t)(*p++ - '0');
    da++;
  }
  if (da == 0 || p >= end || (*p != '/' && *p != '\\'))
    return NULL;
  *newline = *p == '\\';
  p++;
  while (p < end && bw__isdigit(*p) && db < 5) {
    b = b * 10 + (uint32_t)(*p++ - '0');
    db++;
  }
  if (db == 0 || end - p < 2 || p[0] != ']' || p[1] != ' ' || b < 2 ||
      a < 1 || a > b)
    return NULL;
  *i = a;
  *n = b;
  return p + 2;
}

static void append(bw_split_slot_t *s, const char *p, size_t n) {
  if (n > BW_SPLIT_MAX - s->len)
    n = BW_SPLIT_MAX - s->len; /* cut: the rest of an absurd line */
  memcpy(s->buf + s->len, p, n);
  s->len += n;
}

/* Parse the slot's joined line into *ev and free the slot. The line is
 * parsed from split_out (allocated with the first slot), so the slot can
 * take a new line at once. */
static bw_kind_t emit(bw_parser_t *ps, bw_split_slot_t *s, bw_event_t *ev) {
  size_t n = s->len;
  s->key = 0;
  memcpy(ps->split_out, s->buf, n);
  ps->joining = 1;
  bw_parse_line(ps, ps->split_out, n, ev);
  ps->joining = 0;
  return ev->kind;
}

static bw_kind_t continued(bw_event_t *ev) {
  int64_t t = ev->time_us;
  bw_span_t host = ev->host, program = ev->program;
  uint32_t pid = ev->pid;
  memset(ev, 0, sizeof(*ev));
  ev->kind = BW_KIND_CONTINUED;
  ev->mta = BW_MTA_EXIM;
  ev->time_us = t;
  ev->host = host;
  ev->program = program;
  ev->service = program;
  ev->pid = pid;
  return ev->kind;
}

int bw__exim_part(bw_parser_t *ps, const char *line, const char *msg,
                  const char *end, bw_event_t *ev) {
  uint32_t i, n;
  int newline;
  if (ps->joining)
    return -1;
  const char *text = part_header(msg, end, &i, &n, &newline);
  if (text == NULL)
    return -1;
  uint64_t key = bw__hash_bytes(0x6A09E667F3BCC908ull, ev->host.p, ev->host.len) ^
                 ev->pid;
  if (key == 0)
    key = 1;
  bw_split_slot_t *s = NULL, *free_slot = NULL, *oldest = NULL;
  for (int k = 0; k < BW_SPLIT_SLOTS; k++) {
    bw_split_slot_t *x = &ps->split[k];
    if (x->key == key)
      s = x;
    else if (x->key == 0 && free_slot == NULL)
      free_slot = x;
    else if (x->key != 0 && (oldest == NULL || x->age < oldest->age))
      oldest = x;
  }
  if (i > 1) {
    if (s == NULL || s->next != i || s->total != n)
      return -1; /* a part whose beginning we never saw: parse it alone */
    if (s->newline)
      append(s, " ", 1);
    append(s, text, (size_t)(end - text));
    s->next++;
    s->newline = newline;
    if (i == n)
      return (int)emit(ps, s, ev);
    return (int)continued(ev);
  }
  /* A first part. The slot to use: this process's (whose unfinished
   * line is parsed now, as this line's event), a free one, or the
   * oldest (likewise parsed now). */
  bw_split_slot_t *use = s != NULL ? s : free_slot != NULL ? free_slot : oldest;
  if (ps->split_out == NULL && (ps->split_out = malloc(BW_SPLIT_MAX)) == NULL)
    return -1; /* no memory: the part is parsed alone, not lost */
  if (use->buf == NULL && (use->buf = malloc(BW_SPLIT_MAX)) == NULL)
    return -1;
  /* Keep the first part before an unfinished line is parsed over ev. */
  bw_event_t cur = *ev;
  int emitted = use->key != 0;
  if (emitted)
    emit(ps, use, ev);
  use->key = key;
  use->age = ++ps->split_clock;
  use->next = 2;
  use->total = n;
  use->newline = newline;
  use->len = 0;
  append(use, line, (size_t)(msg - line));
  append(use, text, (size_t)(end - text));
  if (emitted)
    return (int)ev->kind;
  *ev = cur;
  return (int)continued(ev);
}

int bw_parser_flush(bw_parser_t *ps, bw_event_t *ev) {
  bw_split_slot_t *oldest = NULL;
  for (int k = 0; k < BW_SPLIT_SLOTS; k++) {
    bw_split_slot_t *x = &ps->split[k];
    if (x->key != 0 && (oldest == NULL || x->age < oldest->age))
      oldest = x;
  }
  if (oldest == NULL)
    return 0;
  emit(ps, oldest, ev);
  return 1;
}
