/* libFuzzer harness for bw_parse_line(): the whole input is one log line.
 * Checks what parse.h and event.h promise: every span lies inside the
 * line (or is empty), enums and flags are in range, the dsn helpers stay
 * in their documented ranges, and a parser warmed by other lines (its
 * minute and hour caches) gives the same event as a fresh one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/event.h"
#include "bouncewatch/parse.h"
#include "fmt.h"
#include "fuzz_util.h"

/* 2024-05-01 12:00:00 UTC: a fixed reference, so RFC 3164 years do not
 * depend on the day the fuzzer runs. */
#define REF_TIME 1714564800

static bw_parser_t *warm; /* lives for the whole run, sees every input */

/* The joined line of split Exim parts lives in the parser (fmt_split.c):
 * the event of a line that completed a join points into it instead. */
static const char *joined;

static int inside(bw_span_t s, const char *b, size_t len) {
  return b != NULL && s.p >= b && s.p <= b + len &&
         (size_t)(b + len - s.p) >= s.len;
}

static void check_span(const char *name, bw_span_t s, const char *line,
                       size_t len) {
  if (s.len == 0)
    return;
  if (s.p == NULL ||
      (!inside(s, line, len) && !inside(s, joined, BW_SPLIT_MAX))) {
    fprintf(stderr, "span %s = {%p, %u} outside line {%p, %zu}\n", name,
            (const void *)s.p, s.len, (const void *)line, len);
    abort();
  }
}

static void check_event(const bw_event_t *ev, bw_kind_t kind,
                        const char *line, size_t len) {
#define SPAN(f) check_span(#f, ev->f, line, len)
  SPAN(host);
  SPAN(program);
  SPAN(instance);
  SPAN(service);
  SPAN(queue_id);
  SPAN(new_queue_id);
  SPAN(parent_id);
  SPAN(rcpt);
  SPAN(orig_rcpt);
  SPAN(sender);
  SPAN(relay);
  SPAN(client);
  SPAN(message_id);
  SPAN(dsn);
  SPAN(reply_dsn);
  SPAN(text);
#undef SPAN
  CHECK(ev->kind == kind);
  CHECK((unsigned)ev->kind < BW_KIND__COUNT);
  CHECK((unsigned)ev->status < BW_STATUS__COUNT);
  CHECK((unsigned)ev->stage < BW_STAGE__COUNT);
  CHECK(ev->mta == BW_MTA_NONE || ev->mta == BW_MTA_POSTFIX ||
        ev->mta == BW_MTA_EXIM);
  CHECK(ev->exim_flag[2] == '\0');
  CHECK(ev->has_sender == 0 || ev->has_sender == 1);
  CHECK(ev->reply_code == 0 || (ev->reply_code >= 200 && ev->reply_code < 600));
  /* event.h: class 2, 4 or 5 and subject 0..7, or -1. */
  bw_span_t codes[2] = {ev->dsn, ev->reply_dsn};
  for (int i = 0; i < 2; i++) {
    int c = bw_dsn_class(codes[i]);
    int s = bw_dsn_subject(codes[i]);
    CHECK(c == -1 || c == 2 || c == 4 || c == 5);
    CHECK(s >= -1 && s <= 7);
    CHECK(c >= 0 || s == -1);
  }
  CHECK(bw_kind_name(ev->kind) != NULL);
  CHECK(bw_status_name(ev->status) != NULL);
  CHECK(bw_stage_name(ev->stage) != NULL);
}

/* Spans are compared by offset, so events of two copies of a line can be
 * compared too. */
static int same_span(bw_span_t a, const char *la, bw_span_t b,
                     const char *lb) {
  if (a.len != b.len)
    return 0;
  if (a.len == 0)
    return 1;
  return a.p - la == b.p - lb;
}

static void check_same(const bw_event_t *a, const char *la,
                       const bw_event_t *b, const char *lb) {
  CHECK(a->kind == b->kind);
  CHECK(a->mta == b->mta);
  CHECK(a->status == b->status);
  CHECK(a->stage == b->stage);
  CHECK(a->time_us == b->time_us);
  CHECK(a->pid == b->pid);
  CHECK(a->reply_code == b->reply_code);
  CHECK(a->has_sender == b->has_sender);
  CHECK(a->size == b->size);
  CHECK(a->nrcpt == b->nrcpt);
  CHECK(memcmp(a->exim_flag, b->exim_flag, sizeof(a->exim_flag)) == 0);
#define SAME(f) CHECK(same_span(a->f, la, b->f, lb))
  SAME(host);
  SAME(program);
  SAME(instance);
  SAME(service);
  SAME(queue_id);
  SAME(new_queue_id);
  SAME(parent_id);
  SAME(rcpt);
  SAME(orig_rcpt);
  SAME(sender);
  SAME(relay);
  SAME(client);
  SAME(message_id);
  SAME(dsn);
  SAME(reply_dsn);
  SAME(text);
#undef SAME
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (warm == NULL) {
    if (bw_parser_new(&warm) != 0)
      abort();
    bw_parser_set_reference(warm, REF_TIME);
  }
  /* An exact-size copy: ASan sees any read past the line's end (the
   * parser gets no NUL terminator to lean on). */
  char *line = malloc(size > 0 ? size : 1);
  if (line == NULL)
    return 0;
  if (size > 0)
    memcpy(line, data, size);

  bw_parser_t *fresh;
  if (bw_parser_new(&fresh) != 0)
    abort();
  bw_parser_set_reference(fresh, REF_TIME);
  bw_event_t ev1, ev2, evf;
  joined = NULL;
  bw_kind_t k1 = bw_parse_line(fresh, line, size, &ev1);
  check_event(&ev1, k1, line, size);

  /* The same line through the long-lived parser, whose memoised minute
   * and hour offsets come from earlier inputs; the split lines it still
   * holds from them are flushed first (a part may complete one). */
  while (bw_parser_flush(warm, &evf)) {
    joined = warm->split_out;
    check_event(&evf, evf.kind, line, 0);
  }
  joined = NULL;
  bw_kind_t k2 = bw_parse_line(warm, line, size, &ev2);
  check_event(&ev2, k2, line, size);
  check_same(&ev1, line, &ev2, line);

  /* Each '\n'-separated piece through the fresh parser (consecutive lines
   * sharing a minute take the memoised path), then the whole line again:
   * it must parse as it did first. */
  const char *p = line, *end = line + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl != NULL ? nl : end;
    bw_event_t ev3;
    bw_kind_t k3 = bw_parse_line(fresh, p, (size_t)(e - p), &ev3);
    joined = fresh->split_out; /* the piece may complete a split line */
    check_event(&ev3, k3, p, (size_t)(e - p));
    joined = NULL;
    p = nl != NULL ? nl + 1 : end;
  }
  while (bw_parser_flush(fresh, &evf)) {
    joined = fresh->split_out;
    check_event(&evf, evf.kind, line, 0);
  }
  joined = NULL;
  k2 = bw_parse_line(fresh, line, size, &ev2);
  check_event(&ev2, k2, line, size);
  check_same(&ev1, line, &ev2, line);

  bw_parser_free(fresh);
  free(line);
  return 0;
}
