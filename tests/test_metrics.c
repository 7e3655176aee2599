/* The Prometheus exposition: checked by a parser of our own (promtool
 * does not flag duplicate series): each family one group with HELP and
 * TYPE first, valid names and escapes, every series once, counters named
 * _total, the label cap on sender domains with a single "other", and
 * counters that never fall as the set of domains grows. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>

#include "bouncewatch/agg.h"
#include "metrics.h"
#include "t_util.h"

/* ---- a strict reader of the text format ---------------------------------- */

typedef struct {
  char **series; /* "name{labels}" as written */
  double *values;
  size_t n, cap;
} expo_t;

static void expo_free(expo_t *e) {
  for (size_t i = 0; i < e->n; i++)
    free(e->series[i]);
  free(e->series);
  free(e->values);
}

static int name_char(int c, int first, int colon) {
  return isalpha(c) || c == '_' || (colon && c == ':') || (!first && isdigit(c));
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fails the test with the line on any violation. */
static void expo_parse(const char *text, size_t len, expo_t *e) {
  memset(e, 0, sizeof(*e));
  assert_true(len > 0);
  if (text[len - 1] != '\n')
    fail_msg("the last line does not end with \\n");
  char fam[256] = "", type[32] = "";
  char *seen[512];
  size_t nseen = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t l = (size_t)(nl - p);
    char line[4096];
    assert_true(l < sizeof(line));
    memcpy(line, p, l);
    line[l] = '\0';
    p = nl + 1;
    if (strncmp(line, "# HELP ", 7) == 0) {
      char name[256];
      assert_int_equal(sscanf(line + 7, "%255s", name), 1);
      for (size_t i = 0; i < nseen; i++)
        if (strcmp(seen[i], name) == 0)
          fail_msg("family %s appears twice (not one group)", name);
      assert_true(nseen < 512);
      seen[nseen++] = strdup(name);
      snprintf(fam, sizeof(fam), "%s", name);
      type[0] = '\0';
      const char *help = line + 7 + strlen(name);
      if (*help != ' ' || help[1] == '\0')
        fail_msg("%s: no help text", name);
      continue;
    }
    if (strncmp(line, "# TYPE ", 7) == 0) {
      char name[256];
      assert_int_equal(sscanf(line + 7, "%255s %31s", name, type), 2);
      if (strcmp(name, fam) != 0)
        fail_msg("TYPE %s after HELP %s", name, fam);
      if (strcmp(type, "counter") && strcmp(type, "gauge"))
        fail_msg("%s: unexpected type %s", name, type);
      size_t nl2 = strlen(name);
      int total = nl2 > 6 && strcmp(name + nl2 - 6, "_total") == 0;
      if (total != (strcmp(type, "counter") == 0))
        fail_msg("%s: counters end in _total, and only they", name);
      continue;
    }
    if (line[0] == '#')
      fail_msg("stray comment: %s", line);
    /* A sample: name, labels, one space, a value. */
    size_t i = 0;
    while (name_char((unsigned char)line[i], i == 0, 1))
      i++;
    if (i == 0)
      fail_msg("bad metric name: %s", line);
    if (type[0] == '\0' || strncmp(line, fam, i) != 0 || fam[i] != '\0')
      fail_msg("sample outside its family (%s): %s", fam, line);
    if (line[i] == '{') {
      i++;
      char lnames[8][64];
      int nlab = 0;
      while (line[i] != '}') {
        size_t s = i;
        while (name_char((unsigned char)line[i], i == s, 0))
          i++;
        if (i == s || i - s >= 64 || line[i] != '=' || line[i + 1] != '"')
          fail_msg("bad label in: %s", line);
        if (line[s] == '_' && line[s + 1] == '_')
          fail_msg("reserved label name in: %s", line);
        assert_true(nlab < 8);
        memcpy(lnames[nlab], line + s, i - s);
        lnames[nlab][i - s] = '\0';
        for (int k = 0; k < nlab; k++)
          if (strcmp(lnames[k], lnames[nlab]) == 0)
            fail_msg("label %s twice in: %s", lnames[nlab], line);
        nlab++;
        i += 2;
        while (line[i] != '"') {
          if (line[i] == '\0')
            fail_msg("unterminated label value: %s", line);
          if (line[i] == '\\') {
            if (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n')
              fail_msg("bad escape in: %s", line);
            i++;
          } else if ((unsigned char)line[i] < 0x20) {
            fail_msg("control byte in a label value: %s", line);
          }
          i++;
        }
        i++;
        if (line[i] == ',')
          i++;
        else if (line[i] != '}')
          fail_msg("bad label list: %s", line);
      }
      i++;
    }
    if (line[i] != ' ')
      fail_msg("no space before the value: %s", line);
    const char *v = line + i + 1;
    char *vend;
    double d = strtod(v, &vend);
    if (vend == v || *vend != '\0')
      fail_msg("bad value: %s", line);
    if (e->n == e->cap) {
      e->cap = e->cap ? 2 * e->cap : 256;
      e->series = realloc(e->series, e->cap * sizeof(char *));
      e->values = realloc(e->values, e->cap * sizeof(double));
      assert_non_null(e->series);
      assert_non_null(e->values);
    }
    e->series[e->n] = strndup(line, i);
    e->values[e->n++] = d;
  }
  for (size_t i = 0; i < nseen; i++)
    free(seen[i]);
  char **sorted = malloc(e->n * sizeof(char *));
  assert_non_null(sorted);
  memcpy(sorted, e->series, e->n * sizeof(char *));
  qsort(sorted, e->n, sizeof(char *), cmp_str);
  for (size_t i = 1; i < e->n; i++)
    if (strcmp(sorted[i - 1], sorted[i]) == 0)
      fail_msg("duplicate series %s", sorted[i]);
  free(sorted);
}

/* The value of one series, NAN when absent. */
static double expo_get(const expo_t *e, const char *series) {
  for (size_t i = 0; i < e->n; i++)
    if (strcmp(e->series[i], series) == 0)
      return e->values[i];
  return NAN;
}

/* ---- fixtures ---------------------------------------------------------- */

typedef struct {
  bw_agg_opts_t o;
  bw_agg_t *a;
  bw_parser_t *p;
  bw_replay_stats_t st;
  int q;
} fx_t;

static void fx_init(fx_t *f, size_t max_domains) {
  memset(f, 0, sizeof(*f));
  bw_agg_opts_default(&f->o);
  f->o.max_domains = max_domains;
  assert_int_equal(bw_agg_new(&f->o, &f->a), 0);
  assert_int_equal(bw_parser_new(&f->p), 0);
}

static void fx_free(fx_t *f) {
  bw_agg_free(f->a);
  bw_parser_free(f->p);
}

static void line(fx_t *f, const char *l, int failed) {
  bw_event_t ev;
  bw_parse_line(f->p, l, strlen(l), &ev);
  bw_verdict_t v;
  memset(&v, 0, sizeof(v));
  v.reason = BW_REASON_USERUNKNOWN;
  v.group = BW_GROUP_RECIPIENT;
  v.hard = 1;
  f->st.lines++;
  f->st.by_kind[ev.kind]++;
  bw_agg_add(f->a, &ev, failed ? &v : NULL);
}

/* One message from sender@dom to one recipient, sent or bounced. */
static void message(fx_t *f, const char *dom, int bounced) {
  char l[1024];
  int q = ++f->q;
  snprintf(l, sizeof(l),
           "2024-05-01T12:%02d:00+00:00 mx1 postfix/qmgr[2]: %08X: "
           "from=<a@%s>, size=1, nrcpt=1 (queue active)",
           q % 60, q, dom);
  line(f, l, 0);
  snprintf(l, sizeof(l),
           "2024-05-01T12:%02d:01+00:00 mx1 postfix/smtp[3]: %08X: "
           "to=<u@gmail.com>, relay=x[192.0.2.1]:25, delay=1, "
           "delays=0/0/0/0, dsn=%s, status=%s (x)",
           q % 60, q, bounced ? "5.1.1" : "2.0.0", bounced ? "bounced" : "sent");
  line(f, l, bounced);
  snprintf(l, sizeof(l),
           "2024-05-01T12:%02d:02+00:00 mx1 postfix/qmgr[2]: %08X: removed",
           q % 60, q);
  line(f, l, 0);
}

static void render(fx_t *f, size_t max_domains, expo_t *e) {
  bw_metrics_in_t in;
  memset(&in, 0, sizeof(in));
  in.agg = f->a;
  in.ao = &f->o;
  in.stats = &f->st;
  in.checkpoint_age_s = 1.5;
  in.max_domains = max_domains;
  uint64_t firing[2] = {1, 0};
  in.alerts_on = 1;
  in.alerts_firing = firing;
  char *text;
  size_t len;
  assert_int_equal(bw__metrics_render(&in, &text, &len), 0);
  expo_parse(text, len, e);
  free(text);
}

static void test_format_and_values(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 1000);
  message(&f, "example.org", 0);
  message(&f, "example.org", 1);
  message(&f, "Example.ORG", 0);
  /* A name from a log line needing every escape and an invalid byte. */
  message(&f, "we\"ird\\dom\xff.example", 1);
  expo_t e;
  render(&f, 100, &e);
  assert_true(expo_get(&e, "bouncewatch_outcomes_total{sender_domain=\"example.org\",outcome=\"sent\"}") == 2);
  assert_true(expo_get(&e, "bouncewatch_outcomes_total{sender_domain=\"example.org\",outcome=\"bounced\"}") == 1);
  assert_true(expo_get(&e, "bouncewatch_bounces_by_reason_total{sender_domain=\"example.org\",reason=\"userunknown\"}") == 1);
  assert_true(expo_get(&e, "bouncewatch_outcomes_total{sender_domain=\"we\\\"ird\\\\dom\xEF\xBF\xBD.example\",outcome=\"bounced\"}") == 1);
  assert_true(expo_get(&e, "bouncewatch_window_final_outcomes{sender_domain=\"example.org\",window=\"1h\"}") == 3);
  assert_true(fabs(expo_get(&e, "bouncewatch_window_bounce_ratio{sender_domain=\"example.org\",window=\"1d\"}") - 1.0 / 3) < 1e-12);
  assert_true(expo_get(&e, "bouncewatch_lines_total{kind=\"delivery\"}") == 4);
  assert_true(expo_get(&e, "bouncewatch_checkpoint_age_seconds") == 1.5);
  assert_true(expo_get(&e, "bouncewatch_alerts_firing{kind=\"bounce_rate\"}") == 1);
  expo_free(&e);
  fx_free(&f);
}

/* Past the label cap the rest sums under one "other", together with the
 * aggregator's own "other"; the split goes by first appearance, so as
 * the traffic moves no counter of the exposition ever falls. */
static void test_cap_and_monotonic(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 6); /* the aggregator folds past 6 domains too */
  char dom[64];
  for (int i = 0; i < 4; i++) {
    snprintf(dom, sizeof(dom), "d%d.example", i);
    message(&f, dom, i % 2);
  }
  expo_t e1, e2;
  render(&f, 4, &e1); /* "unknown" is id 0, then d0..d2 */
  assert_true(expo_get(&e1, "bouncewatch_outcomes_total{sender_domain=\"d3.example\",outcome=\"bounced\"}") != expo_get(&e1, "bouncewatch_outcomes_total{sender_domain=\"d3.example\",outcome=\"bounced\"}")); /* NaN: folded */
  assert_true(expo_get(&e1, "bouncewatch_outcomes_total{sender_domain=\"other\",outcome=\"bounced\"}") == 1);
  assert_true(expo_get(&e1, "bouncewatch_folded_sender_domains") == 1);
  /* More domains (past the aggregator's cap too) and much more traffic
   * for a late one: the early ones keep their labels. */
  for (int i = 4; i < 12; i++) {
    snprintf(dom, sizeof(dom), "d%d.example", i);
    for (int k = 0; k < 5; k++)
      message(&f, dom, 1);
  }
  render(&f, 4, &e2);
  for (size_t i = 0; i < e1.n; i++) {
    const char *s = e1.series[i];
    if (strstr(s, "_total") == NULL)
      continue;
    double after = expo_get(&e2, s);
    if (!(after >= e1.values[i]))
      fail_msg("counter %s fell or vanished: %g -> %g", s, e1.values[i], after);
  }
  assert_true(expo_get(&e2, "bouncewatch_outcomes_total{sender_domain=\"d0.example\",outcome=\"sent\"}") == 1);
  assert_true(expo_get(&e2, "bouncewatch_outcomes_total{sender_domain=\"other\",outcome=\"bounced\"}") == 41);
  assert_true(expo_get(&e2, "bouncewatch_other_domain_outcomes_total") > 0);
  expo_free(&e1);
  expo_free(&e2);
  fx_free(&f);
}

static void test_empty(void **state) {
  (void)state;
  fx_t f;
  fx_init(&f, 10);
  expo_t e;
  render(&f, 10, &e);
  assert_true(expo_get(&e, "bouncewatch_read_bytes_total") == 0);
  expo_free(&e);
  fx_free(&f);
}

static void test_duration(void **state) {
  (void)state;
  char b[24];
  assert_string_equal(bw__metrics_duration(3600, b, sizeof(b)), "1h");
  assert_string_equal(bw__metrics_duration(86400, b, sizeof(b)), "1d");
  assert_string_equal(bw__metrics_duration(300, b, sizeof(b)), "5m");
  assert_string_equal(bw__metrics_duration(7200, b, sizeof(b)), "2h");
  assert_string_equal(bw__metrics_duration(90, b, sizeof(b)), "90s");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_and_values),
      cmocka_unit_test(test_cap_and_monotonic),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_duration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
