/* Helpers shared by the cmocka tests: span comparison and a parser
 * with a fixed reference time. Header-only, test code only. */
#ifndef BW_T_UTIL_H
#define BW_T_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bouncewatch/event.h"
#include "bouncewatch/parse.h"

/* expect == NULL means "absent" (p == NULL). */
#define assert_span(span, expect) t_assert_span((span), (expect), #span, __LINE__)
static inline void t_assert_span(bw_span_t s, const char *expect,
                                 const char *what, int line) {
  if (expect == NULL) {
    if (s.p != NULL)
      fail_msg("line %d: %s: expected absent, got \"%.*s\"", line, what,
               (int)s.len, s.p);
    return;
  }
  if (s.p == NULL)
    fail_msg("line %d: %s: expected \"%s\", got absent", line, what, expect);
  if (s.len != strlen(expect) || memcmp(s.p, expect, s.len) != 0)
    fail_msg("line %d: %s: expected \"%s\", got \"%.*s\"", line, what, expect,
             (int)s.len, s.p);
}

/* Parse one NUL-terminated line with a parser whose RFC 3164 reference
 * is 2024-06-15 (so "May" is 2024 and "Dec" is 2023). */
static inline bw_kind_t t_parse(const char *line, bw_event_t *ev) {
  static bw_parser_t *p;
  if (p == NULL) {
    assert_int_equal(bw_parser_new(&p), 0);
  }
  bw_parser_set_reference(p, 1718452800); /* 2024-06-15T12:00:00Z */
  return bw_parse_line(p, line, strlen(line), ev);
}

#endif
