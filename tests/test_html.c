/* The HTML report on aggregation results built in memory: structure,
 * escaping of strangers' domain names, the over-threshold section, no
 * external resources, zero data, write errors, determinism.
 * `test_html --write FILE` writes the sample page (html_render.sh). */
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include "out_html.h"
#include "t_util.h"

/* ---- the sample: five sender domains over 24 h of log time ------------- */

#define NPTS 96          /* 15-minute points */
#define STEP_S 900
#define T0_S 1714521600 /* 2024-05-01T00:00:00Z */
#define NSEND 5
#define NPROV 5
#define NRCPT 7

#define EVIL "<script>&\"'evil.example"
#define EVIL_ESC "&lt;script&gt;&amp;&quot;&#39;evil.example"
#define STRANGE_RCPT "http://tracker.example/x.png"

static const char *const sender_names[NSEND] = {
    "news.example.org", "shop.example.com", "billing.example.net", EVIL,
    "tiny.example"};

static float series[NSEND][NPTS];
static uint32_t series_n[NSEND][NPTS];
static bw_breach_t shop_breaches[2];
static bw_agg_key_t senders[NSEND], providers[NPROV], rcpts[NRCPT];
static bw_agg_totals_t totals;
static const int64_t windows[2] = {3600, 86400};

static uint32_t rng_state;
static double rnd(void) { /* deterministic noise in [0, 1) */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (double)(rng_state >> 8) / 16777216.0;
}

/* Reasons each sample domain bounces for, with a weight, and their group
 * (what patterns/reasons.tsv would say). */
typedef struct {
  bw_reason_t r;
  bw_group_t g;
  unsigned w;
} mix_t;
static const mix_t mix_common[] = {
    {BW_REASON_USERUNKNOWN, BW_GROUP_RECIPIENT, 50},
    {BW_REASON_MAILBOXFULL, BW_GROUP_RECIPIENT, 12},
    {BW_REASON_HOSTUNKNOWN, BW_GROUP_RECIPIENT, 8},
    {BW_REASON_EXPIRED, BW_GROUP_NETWORK_TRANSIENT, 10},
    {BW_REASON_SYSTEMERROR, BW_GROUP_REMOTE_SYSTEM, 6},
    {BW_REASON_SPAMDETECTED, BW_GROUP_CONTENT_POLICY, 5},
    {BW_REASON_AUTHFAILURE, BW_GROUP_SENDER_AUTH, 4},
    {BW_REASON_BLOCKED, BW_GROUP_SENDER_REPUTATION, 5},
};
static const mix_t mix_listed[] = { /* shop: blocklisted since 14:00 */
    {BW_REASON_BLOCKED, BW_GROUP_SENDER_REPUTATION, 45},
    {BW_REASON_BADREPUTATION, BW_GROUP_SENDER_REPUTATION, 15},
    {BW_REASON_USERUNKNOWN, BW_GROUP_RECIPIENT, 20},
    {BW_REASON_AUTHFAILURE, BW_GROUP_SENDER_AUTH, 8},
    {BW_REASON_SPAMDETECTED, BW_GROUP_CONTENT_POLICY, 6},
    {BW_REASON_EXPIRED, BW_GROUP_NETWORK_TRANSIENT, 6},
};

static void add_bounces(bw_counts_t *c, uint64_t bounced, const mix_t *m,
                        size_t nm) {
  unsigned wsum = 0;
  for (size_t i = 0; i < nm; i++)
    wsum += m[i].w;
  uint64_t left = bounced;
  for (size_t i = 0; i < nm; i++) {
    uint64_t k = i + 1 == nm ? left : bounced * m[i].w / wsum;
    if (k > left)
      k = left;
    left -= k;
    c->by_reason[m[i].r] += k;
    c->by_group[m[i].g] += k;
    if (m[i].r == BW_REASON_EXPIRED)
      c->n[BW_OUT_EXPIRED] += k;
    else
      c->n[BW_OUT_BOUNCED] += k;
    if (m[i].g == BW_GROUP_RECIPIENT || m[i].g == BW_GROUP_SENDER_AUTH)
      c->n[BW_OUT_HARD] += k;
  }
}

static void set_top(bw_agg_top_t *t, const char *name, uint64_t final,
                    uint64_t bounced, uint64_t error) {
  t->name = name;
  t->final = final;
  t->bounced = bounced;
  t->error = error;
}

static void key_counts(bw_agg_key_t *k, const char *name, uint64_t final,
                       double rate, uint64_t deferred) {
  memset(k, 0, sizeof *k);
  k->name = name;
  uint64_t b = (uint64_t)llround((double)final * rate);
  k->total.n[BW_OUT_SENT] = final - b;
  add_bounces(&k->total, b, mix_common, sizeof mix_common / sizeof *mix_common);
  k->total.n[BW_OUT_DEFERRED] = deferred;
}

/* Builds the sample into the static tables above (idempotent). */
static void build_sample(bw_html_in_t *in) {
  static const double base[NSEND] = {0.006, 0.009, 0.003, 0.014, 0.25};
  static const unsigned per_pt[NSEND] = {520, 260, 90, 30, 1};
  rng_state = 12345;
  memset(&totals, 0, sizeof totals);
  for (int s = 0; s < NSEND; s++) {
    bw_agg_key_t *k = &senders[s];
    memset(k, 0, sizeof *k);
    k->name = sender_names[s];
    k->registrable = s == 1 ? "example.com" : sender_names[s];
    k->series = series[s];
    k->series_n = series_n[s];
    k->nseries = NPTS;
    k->series_start_us = (int64_t)T0_S * 1000000;
    k->series_step_s = STEP_S;
    uint64_t b_phase[2] = {0, 0}; /* bounces before / after the listing */
    for (int i = 0; i < NPTS; i++) {
      /* daily shape: quiet at night, busy during the day */
      double day = 0.35 + 0.65 * sin(M_PI * (i / (double)NPTS));
      uint32_t n = (uint32_t)(per_pt[s] * day * (0.7 + 0.6 * rnd()));
      if (s == 4) /* tiny: a few messages now and then */
        n = (i % 9 == 0) ? 4 : 0;
      if (s == 1 && i >= 30 && i < 36) /* shop: queue stopped, a gap */
        n = 0;
      double r = base[s] * (0.5 + rnd());
      if (s == 1 && i >= 24 && i < 28) /* a short burst at 06:00 */
        r = 0.035 + 0.01 * rnd();
      if (s == 1 && i >= 57) /* listed at 14:15, still listed */
        r = 0.05 + 0.05 * rnd();
      uint64_t b = (uint64_t)llround(n * r);
      series_n[s][i] = n;
      series[s][i] = n == 0 ? NAN : (float)((double)b / n);
      k->total.n[BW_OUT_SENT] += n - b;
      b_phase[s == 1 && i >= 57] += b;
      for (int w = 0; w < 2; w++)
        if (i >= NPTS - windows[w] / STEP_S) {
          k->window[w].final += n;
          k->window[w].bounced += b;
        }
    }
    add_bounces(&k->total, b_phase[0], mix_common,
                sizeof mix_common / sizeof *mix_common);
    add_bounces(&k->total, b_phase[1], mix_listed,
                sizeof mix_listed / sizeof *mix_listed);
    bw_counts_t *c = &k->total;
    uint64_t fin = c->n[BW_OUT_SENT] + c->n[BW_OUT_BOUNCED] +
                   c->n[BW_OUT_EXPIRED];
    c->n[BW_OUT_DEFERRED] = fin / 18;
    c->n[BW_OUT_COMPLAINTS] = s == 1 ? fin / 900 : fin / 5000;
    for (int o = 0; o < BW_OUT__COUNT; o++)
      totals.customer.n[o] += c->n[o];
    for (int r = 0; r < BW_REASON__COUNT; r++)
      totals.customer.by_reason[r] += c->by_reason[r];
    for (int g = 0; g < BW_GROUP__COUNT; g++)
      totals.customer.by_group[g] += c->by_group[g];
  }
  /* shop.example.com: a closed breach at 06:00, an open one since 14:15 */
  shop_breaches[0] = (bw_breach_t){(int64_t)(T0_S + 6 * 3600 + 300) * 1000000,
                                   (int64_t)(T0_S + 7 * 3600 + 600) * 1000000,
                                   0.041, 1032, 0, 0};
  shop_breaches[1] = (bw_breach_t){(int64_t)(T0_S + 14 * 3600 + 900) * 1000000,
                                   0, 0.094, 1187, 0, 0};
  senders[1].breaches = shop_breaches;
  senders[1].nbreaches = 2;
  static const char *const prov_names[NPROV] = {"gmail", "microsoft",
                                                "yahoo", "gmx", "other"};
  static const char *const rcpt_names[NRCPT] = {
      "gmail.com", "outlook.com", "yahoo.com", "hotmail.com",
      "t-online.de", "web.de", STRANGE_RCPT};
  for (int s = 0; s < NSEND; s++) {
    bw_agg_key_t *k = &senders[s];
    uint64_t fin = k->total.n[BW_OUT_SENT] + k->total.n[BW_OUT_BOUNCED] +
                   k->total.n[BW_OUT_EXPIRED];
    uint64_t b = k->total.n[BW_OUT_BOUNCED] + k->total.n[BW_OUT_EXPIRED];
    static const unsigned share[NPROV] = {46, 27, 11, 9, 7};
    for (int p = 0; p < NPROV && fin >= 10; p++)
      set_top(&k->top_provider[k->ntop_provider++], prov_names[p],
              fin * share[p] / 100,
              s == 1 && p == 1 ? b * 70 / 100 : b * share[p] / 100,
              p == 4 ? fin / 200 : 0);
    for (int r = 0; r < NRCPT && fin >= 10; r++)
      set_top(&k->top_rcpt[k->ntop_rcpt++], rcpt_names[r],
              fin * (NRCPT - (uint64_t)r) / 30,
              b * (NRCPT - (uint64_t)r) / 30, 0);
  }
  key_counts(&providers[0], "gmail", 38200, 0.007, 900);
  key_counts(&providers[1], "microsoft", 22500, 0.041, 2100);
  key_counts(&providers[2], "yahoo", 9100, 0.012, 310);
  key_counts(&providers[3], "gmx", 7400, 0.009, 120);
  key_counts(&providers[4], "other", 5900, 0.019, 480);
  static const double rr[NRCPT] = {0.007, 0.044, 0.012, 0.038, 0.005, 0.011,
                                   0.5};
  static const uint64_t rv[NRCPT] = {38000, 15100, 9100, 7300, 4100, 3300,
                                     2};
  for (int r = 0; r < NRCPT; r++)
    key_counts(&rcpts[r], rcpt_names[r], rv[r], rr[r], rv[r] / 25);

  totals.messages = 61234;
  totals.pending = 37;
  totals.unknown_sender = 112;
  totals.evicted_messages = 0;
  totals.untracked = 0;
  totals.other_domains = 0;
  totals.notifications.n[BW_OUT_SENT] = 410;
  totals.notifications.n[BW_OUT_BOUNCED] = 96;
  totals.probes = 58;
  totals.first_us = (int64_t)T0_S * 1000000 + 1234567;
  totals.last_us = (int64_t)(T0_S + NPTS * STEP_S - 7) * 1000000;

  memset(in, 0, sizeof *in);
  in->title = "bouncewatch report: mail.log, mail.log.1";
  in->totals = &totals;
  in->senders = senders;
  in->nsenders = NSEND;
  in->providers = providers;
  in->nproviders = NPROV;
  in->rcpt_domains = rcpts;
  in->nrcpt = NRCPT;
  in->windows_s = windows;
  in->nwindows = 2;
  in->bucket_s = 300;
  in->bounce_threshold = 0.02;
  in->complaint_threshold = 0.001;
  in->min_volume = 100;
}

/* ---- helpers ------------------------------------------------------------ */

static char *render(const bw_html_in_t *in) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(bw__html_report(f, in), 0);
  assert_int_equal(fclose(f), 0);
  assert_non_null(buf);
  assert_int_equal(strlen(buf), len);
  return buf;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0, nl = strlen(needle);
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += nl)
    n++;
  return n;
}

/* The text of <section id="ID"> ... </section> (a copy). */
static char *section(const char *page, const char *id) {
  char open[64];
  snprintf(open, sizeof open, "<section id=\"%s\">", id);
  const char *s = strstr(page, open);
  if (s == NULL)
    fail_msg("no section %s", id);
  const char *e = strstr(s, "</section>");
  assert_non_null(e);
  return strndup(s, (size_t)(e - s));
}

/* ---- tests -------------------------------------------------------------- */

static void test_structure(void **state) {
  (void)state;
  bw_html_in_t in;
  build_sample(&in);
  char *page = render(&in);
  assert_memory_equal(page, "<!DOCTYPE html>\n", 16);
  assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
  assert_non_null(strstr(page, "<title>bouncewatch report: mail.log, "
                               "mail.log.1</title>"));
  const char *end = page + strlen(page) - strlen("</html>\n");
  assert_string_equal(end, "</html>\n");
  /* log span and the threshold in the header */
  assert_non_null(strstr(page, "2024-05-01T00:00:01Z"));
  assert_non_null(strstr(page, "2024-05-01T23:59:53Z"));
  /* one chart per sender domain with volume (tiny.example has some) */
  assert_int_equal(count(page, "<svg class=\"chart\""), NSEND);
  /* every group of the legend, in its colour */
  assert_non_null(strstr(page, "background:#e15759\"></i>sender_reputation"));
  assert_non_null(strstr(page, "network_transient"));
  free(page);
}

static void test_escaping(void **state) {
  (void)state;
  bw_html_in_t in;
  build_sample(&in);
  char *page = render(&in);
  /* the page has no script of its own, so any "<script" came from data */
  assert_null(strcasestr(page, "<script"));
  assert_non_null(strstr(page, EVIL_ESC));
  for (int s = 0; s < NSEND; s++) {
    if (s == 3)
      continue;
    if (strstr(page, sender_names[s]) == NULL)
      fail_msg("sender domain %s missing", sender_names[s]);
  }
  assert_non_null(strstr(page, "registrable: example.com"));
  for (int p = 0; p < NPROV; p++)
    assert_non_null(strstr(page, providers[p].name));
  for (int r = 0; r < NRCPT; r++)
    assert_non_null(strstr(page, rcpts[r].name));

  /* control bytes and invalid UTF-8 become U+FFFD; valid UTF-8 stays */
  static const char odd[] = "a\x01z\xff.b\xc3\xa9.example\">x";
  senders[2].name = odd;
  char *p2 = render(&in);
  assert_non_null(strstr(p2, "a&#xFFFD;z&#xFFFD;.b\xc3\xa9.example&quot;&gt;x"));
  assert_null(strstr(p2, "\x01"));
  assert_null(strstr(p2, "\">x"));
  free(p2);
  free(page);
}

static void test_threshold_line(void **state) {
  (void)state;
  bw_html_in_t in;
  build_sample(&in);
  char *page = render(&in);
  /* each chart whose y axis reaches 2 % (all of them: the axis always
   * shows 1.5 x the threshold) has the dashed threshold line */
  assert_int_equal(count(page, "<line class=\"thr\""), NSEND);
  assert_non_null(strstr(page, "stroke-dasharray=\"6 4\""));
  assert_non_null(strstr(page, ">threshold 2%</text>"));
  /* the gap in shop's series breaks its line: two "M" moves at least */
  char *shop = strstr(page, "<h3>shop.example.com</h3>");
  assert_non_null(shop);
  char *path = strstr(shop, "<path fill=\"none\"");
  assert_non_null(path);
  char *d = strstr(path, " d=\"") + 4;
  char *dend = strchr(d, '"');
  size_t moves = 0;
  for (char *c = d; c < dend; c++)
    moves += *c == 'M';
  assert_true(moves >= 2);
  /* breach periods shaded */
  assert_non_null(strstr(shop, "fill=\"#ffebe9\""));
  free(page);
}

static void test_over_threshold_section(void **state) {
  (void)state;
  bw_html_in_t in;
  build_sample(&in);
  char *page = render(&in);
  char *over = section(page, "over");
  assert_non_null(strstr(over, "<td class=\"d\">shop.example.com</td>"));
  assert_int_equal(count(over, "<td class=\"d\">"), 1);
  for (int s = 0; s < NSEND; s++)
    if (s != 1 && strstr(over, s == 3 ? EVIL_ESC : sender_names[s]) != NULL)
      fail_msg("%s listed over threshold", sender_names[s]);
  /* since when: the open breach's start, ISO 8601 UTC, and the old one */
  assert_non_null(strstr(over, "2024-05-01T14:15:00Z"));
  assert_non_null(strstr(over, "2024-05-01T06:05:00Z → 2024-05-01T07:10:00Z"));
  assert_non_null(strstr(over, "ongoing"));
  assert_non_null(strstr(over, "blocked"));
  assert_non_null(strstr(over, "sender_reputation"));
  free(over);
  free(page);

  /* tiny.example is at 25 % but under the minimum volume: not listed;
   * lower the minimum and it is (over in a window, no breach recorded) */
  in.min_volume = 1;
  page = render(&in);
  over = section(page, "over");
  assert_non_null(strstr(over, "tiny.example"));
  free(over);
  free(page);
}

/* An address in a domain name is text; an attribute or url() with one
 * would make the browser fetch it. */
static void test_no_external_resources(void **state) {
  (void)state;
  bw_html_in_t in;
  build_sample(&in);
  char *page = render(&in);
  static const char *const schemes[] = {"http://", "https://"};
  for (int i = 0; i < 2; i++)
    for (const char *p = page; (p = strcasestr(p, schemes[i])) != NULL; p++) {
      char before = p > page ? p[-1] : '\0';
      if (before == '"' || before == '\'' || before == '(' || before == '=')
        fail_msg("external reference at offset %td: %.60s", p - page, p);
    }
  assert_non_null(strstr(page, ">" STRANGE_RCPT "<"));
  static const char *const banned[] = {"<link", "<img", "<iframe", "<object",
                                       "<embed", "src=", "href=", "url(",
                                       "@import", "<base", "xlink:"};
  for (size_t i = 0; i < sizeof banned / sizeof *banned; i++)
    if (strcasestr(page, banned[i]) != NULL)
      fail_msg("page contains %s", banned[i]);
  free(page);
}

static void test_zero_data(void **state) {
  (void)state;
  bw_html_in_t in;
  memset(&in, 0, sizeof in);
  char *page = render(&in); /* every pointer NULL, every count 0 */
  assert_memory_equal(page, "<!DOCTYPE html>\n", 16);
  assert_non_null(strstr(page, "Log time: none"));
  char *over = section(page, "over");
  assert_non_null(strstr(over, ">none</td>"));
  free(over);
  char *prov = section(page, "providers");
  assert_non_null(strstr(prov, ">none</td>"));
  free(prov);
  assert_non_null(strstr(page, "</html>"));
  assert_null(strstr(page, "nan"));
  assert_null(strstr(page, "inf"));
  free(page);

  /* keys with zero counts, an all-gap series, a breach-less key and a
   * zero threshold */
  static float gaps[4] = {NAN, NAN, NAN, NAN};
  static uint32_t zn[4];
  static const int64_t w[1] = {3600};
  bw_agg_key_t k[2];
  memset(k, 0, sizeof k);
  k[0].name = "zero.example";
  k[0].series = gaps;
  k[0].series_n = zn;
  k[0].nseries = 4;
  k[1].name = NULL;
  bw_agg_totals_t t;
  memset(&t, 0, sizeof t);
  in.totals = &t;
  in.senders = k;
  in.nsenders = 2;
  in.providers = k;
  in.nproviders = 2;
  in.rcpt_domains = k;
  in.nrcpt = 2;
  in.windows_s = w;
  in.nwindows = 1;
  page = render(&in);
  assert_non_null(strstr(page, "zero.example"));
  assert_non_null(strstr(page, "Bounce rate over time: none"));
  assert_non_null(strstr(page, "Bounces by group: none"));
  assert_null(strstr(page, "nan"));
  assert_null(strstr(page, "inf"));
  free(page);
}

static void test_deterministic(void **state) {
  (void)state;
  bw_html_in_t in;
  build_sample(&in);
  char *a = render(&in);
  build_sample(&in);
  char *b = render(&in);
  assert_string_equal(a, b);
  free(a);
  free(b);
}

static void test_write_error(void **state) {
  (void)state;
  FILE *f = fopen("/dev/full", "w");
  if (f == NULL)
    skip();
  bw_html_in_t in;
  build_sample(&in);
  assert_int_equal(bw__html_report(f, &in), -1);
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write") == 0) {
    bw_html_in_t in;
    build_sample(&in);
    FILE *f = fopen(argv[2], "w");
    if (f == NULL) {
      perror(argv[2]);
      return 1;
    }
    int rc = bw__html_report(f, &in);
    if (fclose(f) != 0 || rc != 0) {
      fprintf(stderr, "%s: write error\n", argv[2]);
      return 1;
    }
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "usage: %s [--write FILE]\n", argv[0]);
    return 2;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_structure),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_threshold_line),
      cmocka_unit_test(test_over_threshold_section),
      cmocka_unit_test(test_no_external_resources),
      cmocka_unit_test(test_zero_data),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_write_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
