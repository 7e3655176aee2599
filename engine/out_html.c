/* The HTML report: header with totals, sender domains over threshold,
 * per-domain cards (bounce-rate chart, bounces by group, top reasons,
 * providers and recipient domains), then the provider and recipient
 * domain tables. Owns only layout and the rate arithmetic it prints (kept
 * here so the page depends on agg.h's types, not on agg.c); it does not
 * aggregate. Every string from the logs goes through esc(). */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "out_html.h"

#define CHART_DOMAINS 12 /* sender domains that get a card with a chart */
#define MAX_ROWS 100     /* rows per table; the rest is counted */
#define TOP_REASONS 6
#define MAX_BREACH_LINES 4

/* ---- rates: agg.h's own definitions ------------------------------------ */

static double ratio(uint64_t a, uint64_t b) {
  return b == 0 ? 0.0 : (double)a / (double)b;
}

/* A key is "hot" (drawn red) when its rate is over the threshold on
 * enough volume to mean something. */
static int hot(const bw_html_in_t *in, double rate, uint64_t volume) {
  return rate >= in->bounce_threshold && volume >= in->min_volume &&
         volume > 0;
}

/* ---- writing ------------------------------------------------------------ */

static void pf(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void pf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
}

static void put(FILE *f, const char *s) { fputs(s, f); }

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid.
 * Overlong forms and surrogates count as invalid, like the JSON writer. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  size_t len;
  unsigned min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  unsigned cp = c & (0x3Fu >> (len - 1));
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

/* Text or attribute value from the logs: the five HTML specials become
 * entities, control bytes and invalid UTF-8 become U+FFFD, so nothing a
 * stranger writes into a domain name can open a tag or end an attribute. */
static void esc(FILE *f, const char *s) {
  if (s == NULL)
    return;
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    switch (c) {
    case '&': put(f, "&amp;"); i++; continue;
    case '<': put(f, "&lt;"); i++; continue;
    case '>': put(f, "&gt;"); i++; continue;
    case '"': put(f, "&quot;"); i++; continue;
    case '\'': put(f, "&#39;"); i++; continue;
    default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      put(f, "&#xFFFD;");
      i++;
    } else if (c < 0x80) {
      fputc((int)c, f);
      i++;
    } else {
      size_t len = utf8_len(p + i, n - i);
      if (len == 0) {
        put(f, "&#xFFFD;");
        i++;
      } else {
        fwrite(p + i, 1, len, f);
        i += len;
      }
    }
  }
}

static const char *name_or(const char *s, const char *dflt) {
  return s != NULL && s[0] != '\0' ? s : dflt;
}

/* 1234567 -> "1,234,567" */
static void pnum(FILE *f, uint64_t v) {
  char tmp[32], out[48];
  int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
  int o = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0 && (n - i) % 3 == 0)
      out[o++] = ',';
    out[o++] = tmp[i];
  }
  out[o] = '\0';
  put(f, out);
}

/* A rate as a percentage with the precision a postmaster reads at a
 * glance: two decimals under 10 %, one above. */
static void ppct(FILE *f, double r) {
  if (!(r > 0)) {
    put(f, "0%");
    return;
  }
  if (r > 1)
    r = 1;
  if (r < 0.0001)
    put(f, "&lt;0.01%");
  else if (r < 0.1)
    pf(f, "%.2f%%", r * 100);
  else
    pf(f, "%.1f%%", r * 100);
}

/* A threshold or axis tick: "2%", "0.1%", "12.5%". */
static void pct_short(FILE *f, double r) { pf(f, "%g%%", r * 100); }

/* ---- log time ----------------------------------------------------------- */

/* Hinnant's civil_from_days: no gmtime(), so no range or TZ surprises. */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

typedef struct {
  int64_t y;
  unsigned mo, d, h, mi, s;
} tm_utc_t;

static tm_utc_t utc(int64_t secs) {
  tm_utc_t t;
  int64_t days = floordiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  civil(days, &t.y, &t.mo, &t.d);
  t.h = (unsigned)(sod / 3600);
  t.mi = (unsigned)(sod / 60 % 60);
  t.s = (unsigned)(sod % 60);
  return t;
}

/* ISO 8601 UTC, whole seconds: "2024-05-01T12:00:01Z". */
static void ptime(FILE *f, int64_t us) {
  tm_utc_t t = utc(floordiv(us, 1000000));
  pf(f, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)t.y, t.mo, t.d, t.h,
     t.mi, t.s);
}

/* A window length: "1h", "24h", "15 min", "2d". */
static void pdur(FILE *f, int64_t s) {
  if (s > 0 && s % 86400 == 0 && s > 86400)
    pf(f, "%lldd", (long long)(s / 86400));
  else if (s > 0 && s % 3600 == 0)
    pf(f, "%lldh", (long long)(s / 3600));
  else if (s > 0 && s % 60 == 0)
    pf(f, "%lld min", (long long)(s / 60));
  else
    pf(f, "%lld s", (long long)s);
}

/* A span for humans: "2 d 3 h 5 min". */
static void pspan(FILE *f, int64_t s) {
  if (s < 60) {
    pf(f, "%lld s", (long long)(s < 0 ? 0 : s));
    return;
  }
  int64_t d = s / 86400, h = s / 3600 % 24, mi = s / 60 % 60;
  const char *sep = "";
  if (d > 0) {
    pf(f, "%lld d", (long long)d);
    sep = " ";
  }
  if (h > 0) {
    pf(f, "%s%lld h", sep, (long long)h);
    sep = " ";
  }
  if (mi > 0)
    pf(f, "%s%lld min", sep, (long long)mi);
}

/* ---- colours and style -------------------------------------------------- */

/* One colour per group, the same everywhere on the page (Tableau 10,
 * readable by most colour-blind readers and on paper). */
static const char *const group_colour[BW_GROUP__COUNT] = {
    "#bab0ac", /* none */
    "#4e79a7", /* recipient */
    "#f28e2b", /* sender_auth */
    "#e15759", /* sender_reputation */
    "#b07aa1", /* content_policy */
    "#76b7b2", /* remote_system */
    "#edc948", /* network_transient */
};

/* Shown in this order: the sender's own problems first. */
static const bw_group_t group_order[BW_GROUP__COUNT] = {
    BW_GROUP_SENDER_REPUTATION, BW_GROUP_SENDER_AUTH,
    BW_GROUP_CONTENT_POLICY,    BW_GROUP_RECIPIENT,
    BW_GROUP_REMOTE_SYSTEM,     BW_GROUP_NETWORK_TRANSIENT,
    BW_GROUP_NONE,
};

static const char css[] =
    ":root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;"
    "--bad:#cf222e;--badbg:#ffebe9;--ok:#1a7f37;--blue:#0969da}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0 auto;padding:20px 28px 40px;max-width:1240px;color:var(--fg);"
    "background:#fff;font:14px/1.45 system-ui,-apple-system,\"Segoe UI\","
    "Roboto,\"Helvetica Neue\",Arial,\"Noto Sans\",\"Liberation Sans\","
    "sans-serif}\n"
    "h1{font-size:21px;margin:0 0 2px;overflow-wrap:anywhere}\n"
    "h2{font-size:17px;margin:30px 0 10px;padding-bottom:4px;"
    "border-bottom:1px solid var(--line)}\n"
    "h3{font-size:15px;margin:0;overflow-wrap:anywhere}\n"
    "h4{font-size:12px;margin:0 0 4px;color:var(--muted);font-weight:600;"
    "text-transform:uppercase;letter-spacing:.03em}\n"
    "p{margin:4px 0}\n"
    ".muted{color:var(--muted)}\n"
    ".small{font-size:12px}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(150px,1fr));gap:8px;margin:14px 0 6px}\n"
    ".card{border:1px solid var(--line);border-radius:6px;padding:7px 10px;"
    "background:var(--soft)}\n"
    ".card b{display:block;font-size:19px;font-variant-numeric:tabular-nums}\n"
    ".card span{color:var(--muted);font-size:12px}\n"
    ".card.bad{border-color:#ffcecb;background:var(--badbg)}\n"
    ".card.bad b{color:var(--bad)}\n"
    ".card.apart{background:#fff;border-style:dashed}\n"
    "table{border-collapse:collapse;width:100%;font-variant-numeric:"
    "tabular-nums}\n"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);"
    "text-align:left;vertical-align:top}\n"
    "th{font-size:12px;color:var(--muted);font-weight:600;"
    "background:var(--soft);white-space:nowrap}\n"
    ".n{text-align:right;white-space:nowrap}\n"
    "td.d{overflow-wrap:anywhere;min-width:14em;font-weight:600}\n"
    "td.t{white-space:nowrap}\n"
    ".none{color:var(--muted);font-style:italic}\n"
    "tr.hot td.d,.hotv{color:var(--bad)}\n"
    ".pill{display:inline-block;font-size:11px;font-weight:600;"
    "padding:0 7px;border-radius:9px;background:var(--badbg);"
    "color:var(--bad);border:1px solid #ffcecb;vertical-align:2px}\n"
    ".pill.past{background:var(--soft);color:var(--muted);"
    "border-color:var(--line)}\n"
    ".over{border:1px solid #ffcecb;border-radius:8px;overflow-x:auto}\n"
    ".over th{background:var(--badbg)}\n"
    ".over tr:last-child td{border-bottom:0}\n"
    ".bl{display:block;font-size:12px;white-space:nowrap}\n"
    ".br{display:block;font-size:12px;margin-bottom:4px}\n"
    ".dom{border:1px solid var(--line);border-radius:8px;padding:12px 14px;"
    "margin:14px 0}\n"
    ".dom.hotd{border-color:#ffcecb;box-shadow:inset 4px 0 0 var(--bad)}\n"
    ".dom .head{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:baseline;"
    "margin-bottom:6px}\n"
    ".kv{font-size:13px;color:var(--muted)}\n"
    ".kv b{color:var(--fg);font-variant-numeric:tabular-nums}\n"
    ".grid{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));"
    "gap:16px;margin-top:8px}\n"
    ".grid table{font-size:12.5px}\n"
    ".chart{width:100%;height:auto;display:block;margin:6px 0 2px}\n"
    ".chart text{font-size:11px;fill:#59636e;font-family:inherit}\n"
    ".chart .ttl{font-size:11px;fill:#1f2328;font-weight:600}\n"
    ".nochart{padding:18px;text-align:center;color:var(--muted);"
    "background:var(--soft);border-radius:6px;margin:6px 0}\n"
    ".stack{display:flex;height:14px;border-radius:3px;overflow:hidden;"
    "background:var(--soft);margin:4px 0 4px;border:1px solid var(--line)}\n"
    ".stack span{display:block;height:100%}\n"
    ".legend{font-size:12px;color:var(--muted)}\n"
    ".legend span{display:inline-block;margin-right:14px;white-space:nowrap}\n"
    ".sw{display:inline-block;width:10px;height:10px;border-radius:2px;"
    "margin-right:4px;vertical-align:-1px}\n"
    ".bar{position:relative;display:inline-block;width:160px;height:10px;"
    "background:var(--soft);border:1px solid var(--line);border-radius:2px;"
    "vertical-align:-1px;margin-right:8px}\n"
    ".bar>span{position:absolute;left:0;top:0;bottom:0;background:#8c959f}\n"
    ".bar>span.hot{background:var(--bad)}\n"
    ".bar>span.low{background:#d1d9e0}\n"
    ".bar>i{position:absolute;top:-3px;bottom:-3px;"
    "border-left:1px dashed var(--bad)}\n"
    "footer{margin-top:34px;padding-top:8px;border-top:1px solid var(--line);"
    "font-size:12px;color:var(--muted)}\n"
    "@media (max-width:900px){.grid{grid-template-columns:1fr}}\n"
    "@media print{.dom{break-inside:avoid}}\n";

/* ---- small pieces ------------------------------------------------------- */

static void card(FILE *f, const char *cls, const char *label, uint64_t v,
                 const char *note) {
  pf(f, "<div class=\"card%s%s\"><b>", cls[0] ? " " : "", cls);
  pnum(f, v);
  pf(f, "</b><span>%s", label);
  if (note != NULL && note[0] != '\0')
    pf(f, " · %s", note);
  put(f, "</span></div>\n");
}

static void card_rate(FILE *f, const char *cls, const char *label, double r,
                      uint64_t of) {
  pf(f, "<div class=\"card%s%s\"><b>", cls[0] ? " " : "", cls);
  ppct(f, r);
  pf(f, "</b><span>%s (of ", label);
  pnum(f, of);
  put(f, ")</span></div>\n");
}

static void legend(FILE *f, const uint64_t *by_group) {
  put(f, "<div class=\"legend\">");
  for (int i = 0; i < BW_GROUP__COUNT; i++) {
    bw_group_t g = group_order[i];
    if (by_group != NULL && by_group[g] == 0)
      continue;
    pf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s",
       group_colour[g], bw_group_name(g));
    if (by_group != NULL) {
      put(f, " ");
      pnum(f, by_group[g]);
    }
    put(f, "</span>");
  }
  put(f, "</div>\n");
}

/* Bounces by group as one stacked bar (plain HTML, no script). */
static void stack(FILE *f, const bw_counts_t *c) {
  uint64_t sum = 0;
  for (int g = 0; g < BW_GROUP__COUNT; g++)
    sum += c->by_group[g];
  if (sum == 0) {
    put(f, "<p class=\"muted small\">Bounces by group: none</p>\n");
    return;
  }
  put(f, "<div class=\"stack\" role=\"img\" aria-label=\"bounces by "
         "group\">");
  for (int i = 0; i < BW_GROUP__COUNT; i++) {
    bw_group_t g = group_order[i];
    if (c->by_group[g] == 0)
      continue;
    double share = (double)c->by_group[g] / (double)sum;
    pf(f, "<span style=\"width:%.3f%%;background:%s\" title=\"%s: ",
       share * 100, group_colour[g], bw_group_name(g));
    pnum(f, c->by_group[g]);
    put(f, " (");
    ppct(f, share);
    put(f, ")\"></span>");
  }
  put(f, "</div>\n");
  legend(f, c->by_group);
}

/* Scale of a table's rate bars: the largest rate on enough volume
 * (a 50 % rate of 2 messages would squash every other bar), at least
 * twice the threshold so its mark sits inside the bar, rounded up to a
 * round number. Rates above the scale fill the bar. */
static double bar_scale(const bw_html_in_t *in, const bw_agg_key_t *k,
                        size_t n) {
  static const double nice[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1};
  double mx = in->bounce_threshold * 2;
  for (size_t i = 0; i < n; i++) {
    double r = bw_bounce_rate(&k[i].total);
    if (r > mx && bw_final_outcomes(&k[i].total) >= in->min_volume)
      mx = r;
  }
  for (size_t i = 0; i < sizeof nice / sizeof nice[0]; i++)
    if (mx <= nice[i] + 1e-12)
      return nice[i];
  return 1;
}

static void rate_bar(FILE *f, const bw_html_in_t *in, double r, uint64_t vol,
                     double scale) {
  double w = r / scale * 100, t = in->bounce_threshold / scale * 100;
  if (!(w >= 0))
    w = 0;
  if (w > 100)
    w = 100;
  int low = vol < in->min_volume;
  pf(f, "<span class=\"bar\"><span%s style=\"width:%.2f%%\"></span>",
     hot(in, r, vol) ? " class=\"hot\"" : low ? " class=\"low\"" : "", w);
  if (t > 0 && t <= 100)
    pf(f, "<i style=\"left:%.2f%%\"></i>", t);
  put(f, "</span>");
  if (hot(in, r, vol)) {
    put(f, "<b class=\"hotv\">");
    ppct(f, r);
    put(f, "</b>");
  } else if (low && vol > 0) {
    put(f, "<span class=\"muted\" title=\"under the minimum volume: not "
           "judged\">");
    ppct(f, r);
    put(f, " · low volume</span>");
  } else {
    ppct(f, r);
  }
}

/* ---- header ------------------------------------------------------------- */

static void header(FILE *f, const bw_html_in_t *in, const bw_agg_totals_t *t,
                   size_t nover) {
  const bw_counts_t *c = &t->customer;
  put(f, "<header>\n<h1>");
  esc(f, name_or(in->title, "bouncewatch report"));
  put(f, "</h1>\n<p class=\"muted\">");
  if (t->first_us == 0 && t->last_us == 0) {
    put(f, "Log time: none (no dated lines)");
  } else {
    put(f, "Log time ");
    ptime(f, t->first_us);
    put(f, " → ");
    ptime(f, t->last_us);
    put(f, " (");
    pspan(f, floordiv(t->last_us - t->first_us, 1000000));
    put(f, ")");
  }
  put(f, " · thresholds: bounce ");
  pct_short(f, in->bounce_threshold);
  put(f, ", complaint ");
  pct_short(f, in->complaint_threshold);
  put(f, " on at least ");
  pnum(f, in->min_volume);
  put(f, " final outcomes in a window");
  for (size_t w = 0; w < in->nwindows && w < 4; w++) {
    put(f, w == 0 ? " (" : ", ");
    pdur(f, in->windows_s[w]);
    if (w + 1 == in->nwindows || w == 3)
      put(f, ")");
  }
  put(f, "</p>\n");

  uint64_t fin = bw_final_outcomes(c);
  double br = bw_bounce_rate(c), cr = bw_complaint_rate(c);
  put(f, "<div class=\"cards\">\n");
  card(f, "", "messages", t->messages, NULL);
  card(f, "", "final outcomes", fin, "recipients");
  card(f, "", "sent", c->n[BW_OUT_SENT], NULL);
  card(f, "", "bounced", c->n[BW_OUT_BOUNCED], NULL);
  card(f, "", "expired", c->n[BW_OUT_EXPIRED], "gave up");
  card_rate(f, hot(in, br, fin) ? "bad" : "", "bounce rate", br, fin);
  card_rate(f, "", "hard-bounce rate", bw_hard_rate(c), fin);
  card(f, "", "deferrals", c->n[BW_OUT_DEFERRED], "attempts");
  card(f, cr >= in->complaint_threshold && c->n[BW_OUT_COMPLAINTS] > 0
              ? "bad" : "",
       "complaints", c->n[BW_OUT_COMPLAINTS], NULL);
  card(f, "", "pending", t->pending, "still deferred");
  card(f, nover > 0 ? "bad" : "", "sender domains over threshold",
       (uint64_t)nover, NULL);
  put(f, "</div>\n<div class=\"cards\">\n");
  card(f, "apart", "unknown sender", t->unknown_sender,
       "began before input");
  card(f, "apart", "evicted messages", t->evicted_messages, NULL);
  card(f, "apart", "untracked deferrals", t->untracked, NULL);
  card(f, "apart", "outcomes in \"other\"", t->other_domains, NULL);
  card(f, "apart", "notifications (from=&lt;&gt;)",
       bw_final_outcomes(&t->notifications), NULL);
  card(f, "apart", "notifications bounced", bw_failed_outcomes(&t->notifications),
       NULL);
  card(f, "apart", "probes", t->probes, "address verification");
  put(f, "</div>\n<p class=\"muted small\">Dashed cards are counted apart: "
         "they are not in the rates.</p>\n</header>\n");
}

/* ---- over threshold ----------------------------------------------------- */

static int has_open_breach(const bw_agg_key_t *k) {
  for (size_t b = 0; b < k->nbreaches; b++)
    if (k->breaches[b].end_us == 0)
      return 1;
  return 0;
}

/* Over threshold: a breach on record, or a window over the bounce
 * threshold right now on enough volume (a breach the aggregator has not
 * recorded yet, e.g. over its cap). */
static int is_over(const bw_html_in_t *in, const bw_agg_key_t *k) {
  if (k->nbreaches > 0 || k->breaches_dropped > 0)
    return 1;
  for (size_t w = 0; w < in->nwindows && w < 4; w++) {
    const bw_window_counts_t *c = &k->window[w];
    if (hot(in, bw_window_rate(c), c->final))
      return 1;
  }
  return 0;
}

/* Indexes of the n largest values in v (ties: lower index first). */
static size_t top_idx(const uint64_t *v, size_t nv, size_t *idx, size_t n) {
  size_t k = 0;
  if (n == 0)
    return 0;
  for (size_t i = 0; i < nv; i++) {
    if (v[i] == 0)
      continue;
    size_t j = k < n ? k++ : n;
    if (j == n && v[idx[n - 1]] >= v[i])
      continue;
    if (j == n)
      j = n - 1;
    while (j > 0 && v[idx[j - 1]] < v[i]) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
  }
  return k;
}

static void window_rates(FILE *f, const bw_html_in_t *in,
                         const bw_agg_key_t *k, const char *cls) {
  for (size_t w = 0; w < in->nwindows && w < 4; w++) {
    const bw_window_counts_t *c = &k->window[w];
    uint64_t fin = c->final;
    double r = bw_window_rate(c);
    pf(f, "<span class=\"%s\">last ", cls);
    pdur(f, in->windows_s[w]);
    put(f, ": ");
    if (fin == 0) {
      put(f, "no mail</span>");
      continue;
    }
    pf(f, "<b%s>", hot(in, r, fin) ? " class=\"hotv\"" : "");
    ppct(f, r);
    put(f, "</b> of ");
    pnum(f, fin);
    put(f, "</span>");
  }
}

static void breach_line(FILE *f, const bw_html_in_t *in,
                        const bw_breach_t *b) {
  put(f, "<span class=\"br\">");
  ptime(f, b->start_us);
  if (b->end_us == 0) {
    put(f, " → <span class=\"pill\">ongoing</span>");
  } else {
    put(f, " → ");
    ptime(f, b->end_us);
  }
  put(f, "<br><span class=\"muted\">");
  put(f, b->kind == 1 ? "complaints " : "bounces ");
  put(f, "≥ ");
  pct_short(f, b->kind == 1 ? in->complaint_threshold
                            : in->bounce_threshold);
  if (b->window >= 0 && (size_t)b->window < in->nwindows) {
    put(f, " over ");
    pdur(f, in->windows_s[b->window]);
  }
  put(f, " · peak ");
  ppct(f, b->peak_rate);
  put(f, " of ");
  pnum(f, b->volume);
  put(f, "</span></span>");
}

static void reasons_inline(FILE *f, const bw_counts_t *c, size_t n) {
  size_t idx[TOP_REASONS];
  size_t k = top_idx(c->by_reason, BW_REASON__COUNT, idx,
                     n < TOP_REASONS ? n : TOP_REASONS);
  if (k == 0) {
    put(f, "<span class=\"muted\">none</span>");
    return;
  }
  for (size_t i = 0; i < k; i++) {
    put(f, "<span class=\"bl\">");
    esc(f, bw_reason_name((bw_reason_t)idx[i]));
    put(f, " ");
    pnum(f, c->by_reason[idx[i]]);
    put(f, "</span>");
  }
}

static void groups_inline(FILE *f, const bw_counts_t *c, size_t n) {
  size_t idx[BW_GROUP__COUNT];
  size_t k = top_idx(c->by_group, BW_GROUP__COUNT, idx, n);
  if (k == 0) {
    put(f, "<span class=\"muted\">none</span>");
    return;
  }
  for (size_t i = 0; i < k; i++) {
    pf(f, "<span class=\"bl\"><i class=\"sw\" style=\"background:%s\"></i>",
       group_colour[idx[i]]);
    esc(f, bw_group_name((bw_group_t)idx[i]));
    put(f, " ");
    pnum(f, c->by_group[idx[i]]);
    put(f, "</span>");
  }
}

static void over_row(FILE *f, const bw_html_in_t *in, const bw_agg_key_t *k) {
  put(f, "<tr class=\"hot\"><td class=\"d\">");
  esc(f, name_or(k->name, "(no name)"));
  put(f, "</td><td class=\"t\">");
  /* since when: the oldest open breach, else the last one's end */
  const bw_breach_t *open = NULL, *last = NULL;
  for (size_t b = 0; b < k->nbreaches; b++) {
    if (k->breaches[b].end_us == 0 && open == NULL)
      open = &k->breaches[b];
    last = &k->breaches[b];
  }
  if (open != NULL) {
    put(f, "<b>");
    ptime(f, open->start_us);
    put(f, "</b><br><span class=\"pill\">ongoing</span>");
  } else if (last != NULL) {
    ptime(f, last->start_us);
    put(f, "<br><span class=\"pill past\">ended ");
    ptime(f, last->end_us);
    put(f, "</span>");
  } else {
    put(f, "<span class=\"pill\">now</span>");
  }
  put(f, "</td><td>");
  size_t shown = 0;
  /* newest breaches are the ones a postmaster acts on */
  for (size_t b = k->nbreaches; b-- > 0 && shown < MAX_BREACH_LINES;) {
    breach_line(f, in, &k->breaches[b]);
    shown++;
  }
  if (k->nbreaches > shown || k->breaches_dropped > 0) {
    put(f, "<span class=\"bl muted\">");
    pnum(f, (uint64_t)(k->nbreaches - shown) + k->breaches_dropped);
    put(f, " older not shown</span>");
  }
  if (k->nbreaches == 0 && k->breaches_dropped == 0)
    put(f, "<span class=\"muted\">none recorded</span>");
  put(f, "</td><td>");
  window_rates(f, in, k, "bl");
  put(f, "<span class=\"bl\">whole log: <b>");
  ppct(f, bw_bounce_rate(&k->total));
  put(f, "</b> of ");
  pnum(f, bw_final_outcomes(&k->total));
  put(f, "</span></td><td>");
  reasons_inline(f, &k->total, 3);
  put(f, "</td><td>");
  groups_inline(f, &k->total, 3);
  put(f, "</td></tr>\n");
}

static void over_section(FILE *f, const bw_html_in_t *in) {
  put(f, "<section id=\"over\">\n<h2>Sender domains over threshold</h2>\n"
         "<p class=\"muted small\">Bounce rate ≥ ");
  pct_short(f, in->bounce_threshold);
  put(f, " (or complaint rate ≥ ");
  pct_short(f, in->complaint_threshold);
  put(f, ") on at least ");
  pnum(f, in->min_volume);
  put(f, " final outcomes in a window; ongoing first. Times are log time, "
         "UTC.</p>\n<div class=\"over\"><table>\n<thead><tr><th>Sender "
         "domain</th><th>Over since</th><th>Breaches</th><th>Bounce rate</th>"
         "<th>Top reasons</th>"
         "<th>Top groups</th></tr></thead>\n<tbody>\n");
  size_t n = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < in->nsenders; i++) {
      const bw_agg_key_t *k = &in->senders[i];
      if (!is_over(in, k))
        continue;
      int open = has_open_breach(k) || k->nbreaches == 0;
      if (open != (pass == 0))
        continue;
      over_row(f, in, k);
      n++;
    }
  if (n == 0)
    put(f, "<tr><td class=\"none\" colspan=\"6\">none</td></tr>\n");
  put(f, "</tbody></table></div>\n</section>\n");
}

/* ---- the bounce-rate chart ---------------------------------------------- */

#define CW 1000.0 /* viewBox width */
#define CH 210.0
#define CL 54.0 /* margins */
#define CR 14.0
#define CT 12.0
#define CB 40.0

typedef struct {
  double t0, t1, ymax;
} axes_t;

static double cx(const axes_t *a, double t) {
  return CL + (t - a->t0) / (a->t1 - a->t0) * (CW - CL - CR);
}

static double cy(const axes_t *a, double r) {
  if (r > a->ymax)
    r = a->ymax;
  if (r < 0)
    r = 0;
  return CT + (1 - r / a->ymax) * (CH - CT - CB);
}

static double point_rate(const bw_agg_key_t *k, size_t i) {
  double r = k->series[i];
  if (isnan(r) || (k->series_n != NULL && k->series_n[i] == 0))
    return NAN;
  return r < 0 ? 0 : r > 1 ? 1 : r;
}

static void time_label(FILE *f, int64_t t, int64_t step, int64_t span) {
  tm_utc_t u = utc(t);
  if (step >= 86400)
    pf(f, "%02u-%02u", u.mo, u.d);
  else if (span > 86400 && u.h == 0 && u.mi == 0)
    pf(f, "%02u-%02u", u.mo, u.d);
  else
    pf(f, "%02u:%02u", u.h, u.mi);
}

static void chart(FILE *f, const bw_html_in_t *in, const bw_agg_key_t *k) {
  int64_t step = k->series_step_s > 0 ? k->series_step_s
                 : in->bucket_s > 0   ? in->bucket_s
                                      : 300;
  size_t n = k->series != NULL ? k->nseries : 0;
  double maxr = 0;
  uint32_t maxn = 0;
  size_t points = 0;
  for (size_t i = 0; i < n; i++) {
    double r = point_rate(k, i);
    if (isnan(r))
      continue;
    points++;
    if (r > maxr)
      maxr = r;
    if (k->series_n != NULL && k->series_n[i] > maxn)
      maxn = k->series_n[i];
  }
  if (points == 0) {
    put(f, "<div class=\"nochart\">Bounce rate over time: none (no final "
           "outcomes in the series)</div>\n");
    return;
  }
  axes_t a;
  int64_t t0s = floordiv(k->series_start_us, 1000000);
  a.t0 = (double)t0s;
  a.t1 = a.t0 + (double)step * (double)n;
  int64_t span = step * (int64_t)n;

  /* y axis: a "nice" tick step giving at most 5 intervals */
  static const double ysteps[] = {0.001, 0.002, 0.005, 0.01, 0.02,
                                  0.05,  0.1,   0.2,   0.25, 0.5};
  double top = maxr;
  if (top < in->bounce_threshold * 1.5)
    top = in->bounce_threshold * 1.5;
  if (top < 0.01)
    top = 0.01;
  double ys = 0.5;
  for (size_t i = 0; i < sizeof ysteps / sizeof ysteps[0]; i++)
    if (top / ysteps[i] <= 5.0001) {
      ys = ysteps[i];
      break;
    }
  a.ymax = ceil(top / ys - 1e-9) * ys;
  if (a.ymax > 1)
    a.ymax = 1;

  put(f, "<svg class=\"chart\" viewBox=\"0 0 1000 210\" role=\"img\" "
         "aria-label=\"bounce rate over log time\">\n<title>Bounce rate of ");
  esc(f, name_or(k->name, "(no name)"));
  put(f, " per ");
  pdur(f, step);
  put(f, "</title>\n");

  /* breach periods, shaded */
  for (size_t b = 0; b < k->nbreaches; b++) {
    const bw_breach_t *br = &k->breaches[b];
    if (br->kind != 0)
      continue;
    double s = (double)floordiv(br->start_us, 1000000);
    double e = br->end_us == 0 ? a.t1 : (double)floordiv(br->end_us, 1000000);
    if (s < a.t0)
      s = a.t0;
    if (e > a.t1)
      e = a.t1;
    if (e <= s)
      continue;
    pf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"#ffebe9\"/>\n",
       cx(&a, s), CT, cx(&a, e) - cx(&a, s), CH - CT - CB);
  }

  /* y grid and % ticks */
  for (int i = 0; i * ys <= a.ymax + 1e-9; i++) {
    double v = i * ys, y = cy(&a, v);
    pf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
          "stroke=\"%s\" stroke-width=\"1\"/>",
       CL, CW - CR, y, y, i == 0 ? "#8c959f" : "#eaeef2");
    pf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", CL - 6, y + 4);
    pct_short(f, v);
    put(f, "</text>\n");
  }

  /* volume per point, faint, on its own scale (bottom 35 %) */
  if (maxn > 0) {
    put(f, "<g fill=\"#d8dee4\">");
    double bw = (CW - CL - CR) / (double)n;
    for (size_t i = 0; i < n; i++) {
      if (k->series_n == NULL || k->series_n[i] == 0)
        continue;
      double h = (double)k->series_n[i] / maxn * (CH - CT - CB) * 0.35;
      double x = cx(&a, a.t0 + (double)step * (double)i);
      pf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>",
         x + (bw > 2 ? 0.5 : 0), CH - CB - h, bw > 2 ? bw - 1 : bw, h);
    }
    put(f, "</g>\n");
  }

  /* x ticks on round UTC times, at most 8 */
  static const int64_t xsteps[] = {60,    300,   600,    900,    1800,
                                   3600,  7200,  10800,  21600,  43200,
                                   86400, 172800, 604800, 2592000};
  int64_t xs = 31536000;
  for (size_t i = 0; i < sizeof xsteps / sizeof xsteps[0]; i++)
    if (span / xsteps[i] <= 8) {
      xs = xsteps[i];
      break;
    }
  for (int64_t t = (floordiv(t0s - 1, xs) + 1) * xs; t <= t0s + span;
       t += xs) {
    double x = cx(&a, (double)t);
    pf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
          "stroke=\"#8c959f\"/>",
       x, x, CH - CB, CH - CB + 4);
    pf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x,
       CH - CB + 16);
    time_label(f, t, xs, span);
    put(f, "</text>\n");
  }

  /* axis titles */
  pf(f, "<text class=\"ttl\" x=\"12\" y=\"%.1f\" text-anchor=\"middle\" "
        "transform=\"rotate(-90 12 %.1f)\">bounce rate</text>\n",
     (CH - CB + CT) / 2, (CH - CB + CT) / 2);
  pf(f, "<text class=\"ttl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
        "log time, UTC (",
     CW - CR, CH - 4);
  ptime(f, (int64_t)t0s * 1000000);
  put(f, " → ");
  ptime(f, (t0s + span) * 1000000);
  put(f, ")</text>\n");
  pf(f, "<text x=\"%.1f\" y=\"%.1f\">grey bars: volume per ", CL, CH - 4);
  pdur(f, step);
  put(f, " (max ");
  pnum(f, maxn);
  put(f, ")</text>\n");

  /* threshold */
  double ty = cy(&a, in->bounce_threshold);
  if (in->bounce_threshold > 0 && in->bounce_threshold <= a.ymax) {
    pf(f, "<line class=\"thr\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
          "y2=\"%.1f\" stroke=\"#cf222e\" stroke-width=\"1.2\" "
          "stroke-dasharray=\"6 4\"/>",
       CL, CW - CR, ty, ty);
    pf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
          "style=\"fill:#cf222e\">threshold ",
       CW - CR - 2, ty - 4);
    pct_short(f, in->bounce_threshold);
    put(f, "</text>\n");
  }

  /* the rate: one path, broken at gaps; lone points as dots */
  put(f, "<path fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.8\" "
         "stroke-linejoin=\"round\" d=\"");
  int pen = 0;
  for (size_t i = 0; i < n; i++) {
    double r = point_rate(k, i);
    if (isnan(r)) {
      pen = 0;
      continue;
    }
    double x = cx(&a, a.t0 + (double)step * ((double)i + 0.5));
    pf(f, "%s%.1f %.1f", pen ? "L" : "M", x, cy(&a, r));
    pen = 1;
  }
  put(f, "\"/>\n<g>");
  for (size_t i = 0; i < n; i++) {
    double r = point_rate(k, i);
    if (isnan(r))
      continue;
    int lone = (i == 0 || isnan(point_rate(k, i - 1))) &&
               (i + 1 == n || isnan(point_rate(k, i + 1)));
    int over = r >= in->bounce_threshold && in->bounce_threshold > 0;
    if (!lone && !over)
      continue;
    double x = cx(&a, a.t0 + (double)step * ((double)i + 0.5));
    pf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>", x,
       cy(&a, r), lone ? "2.8" : "2", over ? "#cf222e" : "#0969da");
  }
  put(f, "</g>\n</svg>\n");
}

/* ---- per-domain cards --------------------------------------------------- */

static void top_table(FILE *f, const char *what, const char *col,
                      const bw_agg_top_t *top, size_t n) {
  pf(f, "<div><h4>%s</h4><table><thead><tr><th>%s</th><th class=\"n\">"
        "final</th><th class=\"n\">bounced</th><th class=\"n\">rate</th>"
        "</tr></thead><tbody>",
     what, col);
  size_t idx[BW_AGG_TOP];
  if (n > BW_AGG_TOP)
    n = BW_AGG_TOP;
  /* space-saving slots are in no order: sort by final outcomes */
  for (size_t i = 0; i < n; i++) {
    size_t j = i;
    while (j > 0 && top[idx[j - 1]].final < top[i].final) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
  }
  for (size_t i = 0; i < n; i++) {
    const bw_agg_top_t *t = &top[idx[i]];
    put(f, "<tr><td class=\"d\">");
    esc(f, name_or(t->name, "(no name)"));
    put(f, "</td><td class=\"n\">");
    pnum(f, t->final);
    if (t->error > 0) {
      put(f, " <span class=\"muted\" title=\"may be over-counted by up to "
             "this much\">±");
      pnum(f, t->error);
      put(f, "</span>");
    }
    put(f, "</td><td class=\"n\">");
    pnum(f, t->bounced);
    put(f, "</td><td class=\"n\">");
    ppct(f, ratio(t->bounced, t->final));
    put(f, "</td></tr>");
  }
  if (n == 0)
    put(f, "<tr><td class=\"none\" colspan=\"4\">none</td></tr>");
  put(f, "</tbody></table></div>\n");
}

static void reasons_table(FILE *f, const bw_counts_t *c) {
  put(f, "<div><h4>Top reasons</h4><table><thead><tr><th>reason</th>"
         "<th class=\"n\">bounces</th><th class=\"n\">share</th></tr>"
         "</thead><tbody>");
  size_t idx[TOP_REASONS];
  size_t k = top_idx(c->by_reason, BW_REASON__COUNT, idx, TOP_REASONS);
  uint64_t sum = 0;
  for (int r = 0; r < BW_REASON__COUNT; r++)
    sum += c->by_reason[r];
  for (size_t i = 0; i < k; i++) {
    put(f, "<tr><td>");
    esc(f, bw_reason_name((bw_reason_t)idx[i]));
    put(f, "</td><td class=\"n\">");
    pnum(f, c->by_reason[idx[i]]);
    put(f, "</td><td class=\"n\">");
    ppct(f, ratio(c->by_reason[idx[i]], sum));
    put(f, "</td></tr>");
  }
  if (k == 0)
    put(f, "<tr><td class=\"none\" colspan=\"3\">none</td></tr>");
  put(f, "</tbody></table></div>\n");
}

static void domain_card(FILE *f, const bw_html_in_t *in,
                        const bw_agg_key_t *k) {
  const bw_counts_t *c = &k->total;
  uint64_t fin = bw_final_outcomes(c);
  int over = is_over(in, k);
  pf(f, "<section class=\"dom%s\">\n<div class=\"head\"><h3>",
     over ? " hotd" : "");
  esc(f, name_or(k->name, "(no name)"));
  put(f, "</h3>");
  if (k->registrable != NULL && k->registrable[0] != '\0' &&
      (k->name == NULL || strcmp(k->registrable, k->name) != 0)) {
    put(f, "<span class=\"muted small\">registrable: ");
    esc(f, k->registrable);
    put(f, "</span>");
  }
  if (over)
    pf(f, "<span class=\"pill%s\">%s</span>",
       has_open_breach(k) || k->nbreaches == 0 ? "" : " past",
       has_open_breach(k) || k->nbreaches == 0 ? "over threshold"
                                               : "was over threshold");
  put(f, "</div>\n<div class=\"head\">");
  put(f, "<span class=\"kv\">final <b>");
  pnum(f, fin);
  put(f, "</b></span><span class=\"kv\">sent <b>");
  pnum(f, c->n[BW_OUT_SENT]);
  put(f, "</b></span><span class=\"kv\">bounced+expired <b>");
  pnum(f, bw_failed_outcomes(c));
  pf(f, "</b></span><span class=\"kv\">bounce rate <b%s>",
     hot(in, bw_bounce_rate(c), fin) ? " class=\"hotv\"" : "");
  ppct(f, bw_bounce_rate(c));
  put(f, "</b></span><span class=\"kv\">hard <b>");
  ppct(f, bw_hard_rate(c));
  put(f, "</b></span><span class=\"kv\">deferrals <b>");
  pnum(f, c->n[BW_OUT_DEFERRED]);
  put(f, "</b> (");
  ppct(f, bw_deferral_rate(c));
  put(f, ")</span><span class=\"kv\">complaints <b>");
  pnum(f, c->n[BW_OUT_COMPLAINTS]);
  put(f, "</b> (");
  ppct(f, bw_complaint_rate(c));
  put(f, ")</span>");
  window_rates(f, in, k, "kv");
  put(f, "</div>\n");
  chart(f, in, k);
  stack(f, c);
  put(f, "<div class=\"grid\">\n");
  reasons_table(f, c);
  top_table(f, "Top providers", "provider", k->top_provider, k->ntop_provider);
  top_table(f, "Top recipient domains", "domain", k->top_rcpt, k->ntop_rcpt);
  put(f, "</div>\n</section>\n");
}

/* ---- key tables --------------------------------------------------------- */

static void key_table(FILE *f, const bw_html_in_t *in, const char *id,
                      const char *title, const char *col,
                      const bw_agg_key_t *k, size_t n) {
  pf(f, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
  size_t shown = n < MAX_ROWS ? n : MAX_ROWS;
  double scale = bar_scale(in, k, shown);
  pf(f, "<table>\n<thead><tr><th>%s</th><th class=\"n\">final</th>"
        "<th class=\"n\">sent</th><th class=\"n\">bounced+expired</th>"
        "<th class=\"n\">hard</th><th class=\"n\">deferrals</th>"
        "<th>bounce rate <span class=\"muted\">(full bar ",
     col);
  pct_short(f, scale);
  put(f, ", dashed: threshold)</span></th></tr></thead>\n<tbody>\n");
  for (size_t i = 0; i < shown; i++) {
    const bw_counts_t *c = &k[i].total;
    uint64_t fin = bw_final_outcomes(c);
    double r = bw_bounce_rate(c);
    pf(f, "<tr%s><td class=\"d\">", hot(in, r, fin) ? " class=\"hot\"" : "");
    esc(f, name_or(k[i].name, "(no name)"));
    put(f, "</td><td class=\"n\">");
    pnum(f, fin);
    put(f, "</td><td class=\"n\">");
    pnum(f, c->n[BW_OUT_SENT]);
    put(f, "</td><td class=\"n\">");
    pnum(f, bw_failed_outcomes(c));
    put(f, "</td><td class=\"n\">");
    pnum(f, c->n[BW_OUT_HARD]);
    put(f, "</td><td class=\"n\">");
    pnum(f, c->n[BW_OUT_DEFERRED]);
    put(f, "</td><td>");
    rate_bar(f, in, r, fin, scale);
    put(f, "</td></tr>\n");
  }
  if (n == 0)
    put(f, "<tr><td class=\"none\" colspan=\"7\">none</td></tr>\n");
  put(f, "</tbody></table>\n");
  if (n > shown) {
    put(f, "<p class=\"muted small\">");
    pnum(f, (uint64_t)(n - shown));
    put(f, " more not shown (smaller volume).</p>\n");
  }
  put(f, "</section>\n");
}

/* ---- the page ----------------------------------------------------------- */

int bw__html_report(FILE *out, const bw_html_in_t *in) {
  static const bw_agg_totals_t zero;
  const bw_agg_totals_t *t = in->totals != NULL ? in->totals : &zero;
  FILE *f = out;
  bw_html_in_t lim = *in; /* NULL arrays count as empty */
  if (lim.senders == NULL)
    lim.nsenders = 0;
  if (lim.providers == NULL)
    lim.nproviders = 0;
  if (lim.rcpt_domains == NULL)
    lim.nrcpt = 0;
  if (lim.windows_s == NULL)
    lim.nwindows = 0;
  if (lim.nwindows > 4)
    lim.nwindows = 4;
  in = &lim;

  size_t nover = 0;
  for (size_t i = 0; i < in->nsenders; i++)
    nover += (size_t)is_over(in, &in->senders[i]);

  put(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, "
         "initial-scale=1\">\n<meta name=\"generator\" content=\"bouncewatch\">\n"
         "<title>");
  esc(f, name_or(in->title, "bouncewatch report"));
  pf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);

  header(f, in, t, nover);
  over_section(f, in);

  size_t ncards = in->nsenders < CHART_DOMAINS ? in->nsenders : CHART_DOMAINS;
  put(f, "<section id=\"senders\">\n<h2>Top sender domains</h2>\n");
  if (ncards == 0) {
    put(f, "<p class=\"none\">none</p>\n");
  } else {
    put(f, "<p class=\"muted small\">The ");
    pnum(f, (uint64_t)ncards);
    put(f, " largest by final outcomes. Chart: bounce rate per bucket of log "
           "time (gaps: no final outcome), red shading: breach periods. Bar: "
           "bounces by whose side the problem is on.</p>\n");
    legend(f, NULL);
  }
  for (size_t i = 0; i < ncards; i++)
    domain_card(f, in, &in->senders[i]);
  put(f, "</section>\n");

  key_table(f, in, "all-senders", "All sender domains", "sender domain",
            in->senders, in->nsenders);
  key_table(f, in, "providers", "Mailbox providers", "provider",
            in->providers, in->nproviders);
  key_table(f, in, "rcpt", "Recipient domains", "recipient domain",
            in->rcpt_domains, in->nrcpt);
  if (in->appendix != NULL)
    in->appendix(f, in->appendix_arg);

  put(f, "<footer>bouncewatch · bounce rate = (bounced + expired) / (sent + "
         "bounced + expired) · hard-bounce rate = hard / final outcomes · "
         "deferral rate = deferrals / (final outcomes + deferrals) · "
         "complaint rate = complaints / sent · each recipient is counted "
         "once, by its final outcome · all times are log time, UTC.</footer>\n"
         "</body>\n</html>\n");
  if (fflush(f) != 0 || ferror(f))
    return -1;
  return 0;
}
