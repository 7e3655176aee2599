/* libFuzzer harness for the suppression list (suppress.h): the input is
 * a log, each line parsed and fed to the join and the list as the replay
 * callback does, with a verdict drawn from the line's last byte (any
 * reason, hard or not) and a tiny table (16 addresses, 2 soft failures),
 * so evictions, sweeps, expiry and clearing all happen. Checks the list
 * (sorted, unique, within the cap, every entry live and consistent), that
 * the three formats write, and that save then restore gives the same
 * JSON. The input is also given to bw_suppress_restore() as a damaged
 * state: refused or accepted, never a crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "bouncewatch/parse.h"
#include "bouncewatch/suppress.h"
#include "fuzz_util.h"

static char *render(bw_suppress_t *s, bw_suppress_format_t fmt) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK(f != NULL);
  CHECK(bw_suppress_write(s, fmt, f, NULL) == 0);
  CHECK(fclose(f) == 0);
  return buf;
}

/* strict: the table was built by bw_suppress_add(), so its entries obey
 * the rules; a restored arbitrary state only has to stay within bounds. */
static void check_list(bw_suppress_t *s, size_t cap, int strict) {
  bw_suppress_entry_t *v = NULL;
  size_t n = bw_suppress_list(s, &v);
  bw_suppress_stats_t st;
  bw_suppress_stats(s, &st);
  CHECK(n <= cap && n == st.active && st.tracked <= cap);
  for (size_t i = 0; i < n && strict; i++) {
    CHECK(v[i].addr[0] != '\0');
    CHECK(i == 0 || strcmp(v[i - 1].addr, v[i].addr) < 0);
    CHECK(v[i].expires_us > st.now_us);
    CHECK(v[i].since_us <= v[i].last_us || v[i].since_us == 0);
    CHECK(v[i].failures >= 1);
    CHECK((unsigned)v[i].reason < BW_REASON__COUNT);
    CHECK(v[i].text_len <= BW_SUPPRESS_MAX_TEXT);
    for (const char *p = v[i].addr; *p; p++)
      CHECK(!(*p >= 'A' && *p <= 'Z'));
  }
  free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bw_suppress_opts_t o;
  bw_suppress_opts_default(&o);
  o.max_entries = 16;
  o.soft_count = 2;
  o.ttl_s = 86400;
  o.soft_window_s = 86400;
  bw_agg_t *a = NULL;
  bw_suppress_t *s = NULL, *r = NULL;
  bw_parser_t *p = NULL;
  CHECK(bw_agg_new(NULL, &a) == 0);
  CHECK(bw_suppress_new(&o, &s) == 0);
  CHECK(bw_parser_new(&p) == 0);
  bw_parser_set_reference(p, 1718452800);

  const char *line = (const char *)data, *end = line + size;
  while (line < end) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    size_t len = (size_t)((nl ? nl : end) - line);
    bw_event_t ev;
    bw_parse_line(p, line, len, &ev);
    bw_verdict_t v;
    memset(&v, 0, sizeof(v));
    unsigned char k = len ? (unsigned char)line[len - 1] : 0;
    v.reason = (bw_reason_t)(k % BW_REASON__COUNT);
    v.hard = k & 1;
    int failed = ev.kind == BW_KIND_DELIVERY && ev.status != BW_STATUS_SENT;
    bw_agg_add(a, &ev, failed ? &v : NULL);
    bw_suppress_add(s, &ev, failed ? &v : NULL, bw_agg_sender_of(a, &ev));
    line += len + 1;
  }
  check_list(s, o.max_entries, 1);
  free(render(s, BW_SUPPRESS_POSTFIX));
  free(render(s, BW_SUPPRESS_CSV));
  char *before = render(s, BW_SUPPRESS_JSON);

  /* Save, restore into a fresh table: the same list. */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK(f != NULL && bw_suppress_save(s, f) == 0 && fclose(f) == 0);
  CHECK(bw_suppress_new(&o, &r) == 0);
  f = fmemopen(buf, len, "rb");
  CHECK(f != NULL && bw_suppress_restore(r, f) == 0);
  fclose(f);
  char *after = render(r, BW_SUPPRESS_JSON);
  CHECK(strcmp(before, after) == 0);
  free(before);
  free(after);
  free(buf);

  /* The input as a state section: refused (and the table left empty) or
   * taken, never a crash. */
  if (size > 0) {
    f = fmemopen((void *)(uintptr_t)data, size, "rb");
    CHECK(f != NULL);
    int rc = bw_suppress_restore(r, f);
    fclose(f);
    CHECK(rc == 0 || rc == BW_EPARSE);
    if (rc != 0) {
      bw_suppress_stats_t st;
      bw_suppress_stats(r, &st);
      CHECK(st.tracked == 0);
    }
    check_list(r, o.max_entries, 0);
  }
  bw_suppress_free(r);
  bw_suppress_free(s);
  bw_parser_free(p);
  bw_agg_free(a);
  return 0;
}
