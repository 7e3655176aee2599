/* `bouncewatch report`: replay, classify, join and aggregate, then print
 * the postmaster's report (terminal or JSON) and optionally the HTML
 * page. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "bouncewatch/lines.h"
#include "bouncewatch/replay.h"
#include "alert_cli.h"
#include "cli.h"
#include "maildir.h"
#include "out_agg.h"
#include "out_html.h"
#include "suppress_cli.h"

enum {
  OPT_JSON,
  OPT_HTML,
  OPT_WINDOW,
  OPT_BUCKET,
  OPT_BOUNCE,
  OPT_DOMAIN_BOUNCE,
  OPT_COMPLAINT,
  OPT_MIN_VOLUME,
  OPT_MAX_MESSAGES,
  OPT_MAX_DOMAINS,
  OPT_MAX_LINE,
  OPT_ZSTD_WINDOW_LOG,
  OPT_RULES,
  OPT_RULES_CACHE,
  OPT_MAILDIR,
  OPT_MAILDIR_MAX_BYTES,
  OPT_HELP
};

static const bw_option_t options[] = {
    {OPT_JSON, "--json", NULL, "print the report as one JSON document", NULL,
     0},
    {OPT_HTML, "--html", "FILE", "also write a self-contained HTML page", NULL,
     0},
    {OPT_WINDOW, "--window", "SECONDS",
     "a rate window in log time (repeat for several, up to 4)", "3600 86400",
     BW_OPT_REPEAT},
    {OPT_BUCKET, "--bucket", "SECONDS",
     "window resolution (windows must be multiples)", "300", 0},
    {OPT_BOUNCE, "--bounce-threshold", "PERCENT",
     "bounce-rate threshold", "2", 0},
    {OPT_DOMAIN_BOUNCE, "--domain-threshold", "DOMAIN=PERCENT",
     "bounce-rate threshold for one sender domain (repeatable, up to 64)",
     NULL, BW_OPT_REPEAT},
    {OPT_COMPLAINT, "--complaint-threshold", "PERCENT",
     "complaint-rate threshold", "0.1", 0},
    {OPT_MIN_VOLUME, "--min-volume", "N",
     "final outcomes a window needs before a rate can breach", "100", 0},
    {OPT_MAX_MESSAGES, "--max-messages", "N",
     "messages in flight kept for the join (the oldest are evicted and "
     "counted)",
     "50000", 0},
    {OPT_MAX_DOMAINS, "--max-domains", "N",
     "sender domains tracked (recipient domains 2x; the rest count as "
     "\"other\")",
     "1000", 0},
    {OPT_MAX_LINE, "--max-line", "BYTES", "skip lines longer than this",
     "65536", 0},
    {OPT_ZSTD_WINDOW_LOG, "--zstd-window-log", "N", "zstd window limit 2^N",
     "27", 0},
    {OPT_RULES, "--rules", "DIR", "classification rules directory", NULL, 0},
    {OPT_RULES_CACHE, "--rules-cache", "DIR", "compiled-rules cache", NULL, 0},
    {OPT_MAILDIR, "--maildir", "DIR",
     "also read complaints (ARF) and bounce reports (DSN) from the Maildir "
     "DIR (new/ and cur/, never modified)",
     NULL, 0},
    {OPT_MAILDIR_MAX_BYTES, "--maildir-max-bytes", "N",
     "skip (and list) mails larger than this", "16777216", 0},
    BW_SUPPRESS_OPTIONS,
    BW_ALERT_OPTIONS_REPORT,
    {OPT_HELP, "--help", NULL, "show this help", NULL, BW_OPT_CLI_ONLY},
};
#define NOPTS (sizeof(options) / sizeof(options[0]))
const bw_cmd_table_t bw__report_table = {"report", options, NOPTS};

static void usage(FILE *fp) {
  fprintf(fp, "usage: bouncewatch report [OPTIONS] FILE...\n\n"
              "Which sender domains bounce too much, since when, why, and at "
              "which providers.\n\noptions:\n");
  bw__cli_help(fp, options, NOPTS);
}

typedef struct {
  int json;
  const char *html;
  bw_replay_opts_t ro;
  bw_agg_opts_t ao;
  int windows_given;
  const char *rules_dir, *rules_cache;
  const char *maildir;
  uint64_t maildir_max;
  const char **paths;
  size_t npaths;
  bw_suppress_cli_t sup;
  bw_agg_t *agg;
  bw_suppress_t *suppress; /* with --suppress-out only */
  bw__maildir_t *md;       /* with --maildir only */
  bw_alert_cli_t alert;
  bw_alerts_t *alerts;
} report_args_t;

static int percent(const char *name, const char *val, double *out) {
  char *end;
  double v = strtod(val, &end);
  if (end == val || *end != '\0' || !(v > 0 && v <= 100)) {
    fprintf(stderr, "bouncewatch report: %s wants a percentage in (0, 100], "
                    "got '%s'\n",
            name, val);
    return BW_EXIT_USAGE;
  }
  *out = v / 100.0;
  return 0;
}

static int on_option(void *ctx, const bw_option_t *o, const char *val) {
  report_args_t *a = ctx;
  unsigned long long v;
  int rc;
  if (o == NULL) {
    a->paths[a->npaths++] = val;
    return 0;
  }
  switch (o->id) {
  case OPT_JSON:
    a->json = 1;
    return 0;
  case OPT_HTML:
    a->html = val;
    return 0;
  case OPT_WINDOW:
    if (bw__cli_uint(val, 60, 90ull * 86400, &v) != 0 ||
        (a->windows_given ? a->ao.nwindows : 0) >= 4) {
      fprintf(stderr, "bouncewatch report: --window wants 60..7776000 "
                      "seconds, at most 4 times (got '%s')\n",
              val);
      return BW_EXIT_USAGE;
    }
    if (!a->windows_given)
      a->ao.nwindows = 0;
    a->windows_given = 1;
    a->ao.windows_s[a->ao.nwindows++] = (int64_t)v;
    return 0;
  case OPT_BUCKET:
    if ((rc = bw__cli_uint_opt("report", o->name, val, 1, 86400, &v)))
      return rc;
    a->ao.bucket_s = (int64_t)v;
    return 0;
  case OPT_BOUNCE:
    return percent(o->name, val, &a->ao.bounce_threshold);
  case OPT_DOMAIN_BOUNCE: {
    const char *eq = strrchr(val, '=');
    if (eq == NULL || eq == val || a->ao.ndomain_thresholds == 64) {
      fprintf(stderr, "bouncewatch report: --domain-threshold wants "
                      "DOMAIN=PERCENT (at most 64), got '%s'\n",
              val);
      return BW_EXIT_USAGE;
    }
    size_t i = a->ao.ndomain_thresholds;
    /* The domain is the argument itself, cut at '=' (argv outlives us). */
    *(char *)(uintptr_t)eq = '\0';
    a->ao.domain_thresholds[i].domain = val;
    if (percent(o->name, eq + 1, &a->ao.domain_thresholds[i].bounce_threshold))
      return BW_EXIT_USAGE;
    a->ao.ndomain_thresholds++;
    return 0;
  }
  case OPT_COMPLAINT:
    return percent(o->name, val, &a->ao.complaint_threshold);
  case OPT_MIN_VOLUME:
    if ((rc = bw__cli_uint_opt("report", o->name, val, 1, 1ull << 32, &v)))
      return rc;
    a->ao.min_volume = v;
    return 0;
  case OPT_MAX_MESSAGES:
  case OPT_MAX_DOMAINS:
    if ((rc = bw__cli_uint_opt("report", o->name, val, 16, 1ull << 26, &v)))
      return rc;
    if (o->id == OPT_MAX_MESSAGES)
      a->ao.max_messages = (size_t)v;
    else
      a->ao.max_domains = (size_t)v;
    return 0;
  case OPT_MAX_LINE:
    if ((rc = bw__cli_uint_opt("report", o->name, val, 64, 1ull << 30, &v)))
      return rc;
    a->ro.max_line = (size_t)v;
    return 0;
  case OPT_ZSTD_WINDOW_LOG:
    if ((rc = bw__cli_uint_opt("report", o->name, val, 10, 31, &v)))
      return rc;
    a->ro.zstd_window_log_max = (unsigned)v;
    return 0;
  case OPT_RULES:
    a->rules_dir = val;
    return 0;
  case OPT_RULES_CACHE:
    a->rules_cache = val;
    return 0;
  case OPT_MAILDIR:
    a->maildir = val;
    return 0;
  case OPT_MAILDIR_MAX_BYTES:
    if ((rc = bw__cli_uint_opt("report", o->name, val, 1024, 1ull << 30, &v)))
      return rc;
    a->maildir_max = v;
    return 0;
  case OPT_HELP:
    usage(stdout);
    return -1;
  default:
    if (o->id >= BW_OPT_ALERT_FIRST && o->id < BW_OPT_ALERT_FIRST + 100)
      return bw__alert_cli_option(&a->alert, "report", o, val);
    return (rc = bw__suppress_cli_option(&a->sup, "report", o, val)) == -2 ? 0
                                                                          : rc;
  }
}

static void html_maildir(FILE *f, const void *arg) {
  const bw_agg_report_t *rep = arg;
  bw__maildir_html(f, rep->maildir, &rep->mail);
}

static int write_html(const char *path, const bw_agg_report_t *rep,
                      const char *const *paths, size_t npaths) {
  char title[512];
  size_t len = (size_t)snprintf(title, sizeof(title), "bouncewatch report:");
  for (size_t i = 0; i < npaths && len < sizeof(title); i++)
    len += (size_t)snprintf(title + len, sizeof(title) - len, "%s %s",
                            i ? "," : "", paths[i]);
  bw_html_in_t in = {title,
                     rep->totals,
                     rep->senders,
                     rep->nsenders,
                     rep->providers,
                     rep->nproviders,
                     rep->rcpt,
                     rep->nrcpt,
                     rep->opts->windows_s,
                     rep->opts->nwindows,
                     rep->opts->bucket_s,
                     rep->opts->bounce_threshold,
                     rep->opts->complaint_threshold,
                     rep->opts->min_volume,
                     rep->maildir != NULL ? html_maildir : NULL,
                     rep};
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  int rc = bw__html_report(f, &in);
  if (fclose(f) != 0 || rc != 0) {
    fprintf(stderr, "bouncewatch report: writing %s failed\n", path);
    return -1;
  }
  return 0;
}

/* The reports of the Maildir go in as the log's time passes theirs, so
 * the windows see them when a live run would have. */
static void feed(void *arg, const bw_event_t *ev, const bw_verdict_t *v,
                 const bw_line_ref_t *where) {
  report_args_t *a = arg;
  (void)where;
  /* Alerts look at the windows before this line and the reports up to
   * its time are added (alert.h). */
  bw__alerts_tick(a->alerts, a->agg, ev->time_us);
  if (a->md != NULL && ev->time_us != 0)
    bw__maildir_feed(a->md, a->agg, ev->time_us);
  bw_agg_add(a->agg, ev, v);
  if (a->suppress != NULL)
    bw_suppress_add(a->suppress, ev, v,
                    bw_event_failed(ev) ? bw_agg_sender_of(a->agg, ev) : NULL);
}

int bw__cmd_report(int argc, char **argv) {
  static bw_out_t out;
  report_args_t a;
  memset(&a, 0, sizeof(a));
  bw_agg_opts_default(&a.ao);
  bw__suppress_cli_init(&a.sup);
  bw__alert_cli_init(&a.alert);
  bw_alert_opts_t alo;
  bw_sink_opts_t so;
  bw_rules_t *rules = NULL;
  bw_replay_t *r = NULL;
  bw_agg_t *agg = NULL;
  bw__maildir_t *md = NULL;
  bw_agg_report_t rep;
  memset(&rep, 0, sizeof(rep));
  int rc = BW_EXIT_USAGE;
  a.paths = calloc((size_t)argc + 1, sizeof(char *));
  if (a.paths == NULL)
    return BW_EXIT_USAGE;

  int prc = bw__cli_parse("report", argc, argv, options, NOPTS, on_option, &a);
  if (prc != 0) {
    rc = prc < 0 ? BW_EXIT_OK : prc;
    goto done;
  }
  if (a.npaths == 0 && a.maildir == NULL) {
    fprintf(stderr, "bouncewatch report: no input files (use - for stdin)\n");
    goto done;
  }
  const char *dir = bw__cli_rules_dir(a.rules_dir);
  rules = bw__cli_load_rules("report", a.rules_dir, a.rules_cache);
  if (rules == NULL)
    goto done;
  char prov[4096];
  snprintf(prov, sizeof(prov), "%s/providers.tsv", dir);
  a.ao.providers_file = prov;
  if (a.maildir != NULL) {
    a.ao.max_joined = a.ao.max_messages * 4;
    a.ao.max_seen = 200000;
  }
  int e = bw_agg_new(&a.ao, &agg);
  if (e != 0) {
    fprintf(stderr, "bouncewatch report: %s (windows must be multiples of "
                    "the bucket)\n",
            bw_strerror(e));
    goto done;
  }
  a.agg = agg;
  if ((rc = bw__alert_cli_finish(&a.alert, "report", &a.ao, &alo, &so)) != 0)
    goto done;
  rc = BW_EXIT_USAGE;
  if (bw__alerts_new(&alo, &a.ao, NULL, NULL, &a.alerts) != 0) {
    fprintf(stderr, "bouncewatch report: alerts: out of memory\n");
    goto done;
  }
  if (a.sup.out != NULL &&
      (e = bw_suppress_new(&a.sup.o, &a.suppress)) != 0) {
    fprintf(stderr, "bouncewatch report: %s\n", bw_strerror(e));
    goto done;
  }
  int md_rc = 0;
  if (a.maildir != NULL) {
    if ((e = bw__maildir_new(a.maildir, rules, a.maildir_max, &md)) != 0) {
      fprintf(stderr, "bouncewatch report: %s\n", bw_strerror(e));
      goto done;
    }
    md_rc = bw__maildir_scan(md, agg);
  }
  a.md = md;
  a.ro.rules = rules;
  bw_progress_t prog;
  bw__progress_init(&prog, a.paths, a.npaths);
  a.ro.progress_cb = bw__progress_cb;
  a.ro.progress_arg = &prog;
  if ((e = bw_replay_new(&a.ro, feed, &a, &r)) != 0) {
    fprintf(stderr, "bouncewatch report: %s\n", bw_strerror(e));
    goto done;
  }
  double elapsed;
  int run = a.npaths > 0 ? bw__cli_run(r, a.paths, a.npaths, &elapsed) : 0;
  if (a.npaths == 0)
    elapsed = 0;
  bw__progress_done(&prog);
  if (md != NULL)
    bw__maildir_feed(md, agg, INT64_MAX); /* the reports after the log */
  bw_agg_finish(agg);
  bw__alerts_finish(a.alerts, agg);

  bw_report_in_t rin = {bw_replay_stats(r), elapsed, bw_replay_max_line(r)};
  bw__agg_report_build(&rep, agg, &a.ao, &rin);
  rep.maildir = md;
  rep.alerts = a.alerts;
  bw__out_init(&out, stdout);
  if (a.json)
    bw__agg_report_json(&out, &rep);
  else
    bw__agg_report_text(&out, &rep);
  bw__out_flush(&out);
  rc = out.error         ? BW_EXIT_USAGE
       : run == 0 && md_rc == 0 ? BW_EXIT_OK
                              : BW_EXIT_INCOMPLETE;
  if (a.html != NULL && write_html(a.html, &rep, a.paths, a.npaths) != 0)
    rc = BW_EXIT_USAGE;
  if (a.suppress != NULL &&
      bw__suppress_cli_write(&a.sup, a.suppress, "report", NULL, NULL, NULL) != 0)
    rc = BW_EXIT_USAGE;
  if (a.alert.send &&
      bw__alert_send_replay(a.alerts, &so, a.alert.timeout_ms) != 0)
    rc = rc == BW_EXIT_OK ? BW_EXIT_INCOMPLETE : rc;
done:
  bw__alerts_free(a.alerts);
  bw__agg_report_release(&rep);
  bw_replay_free(r);
  bw__maildir_free(md);
  bw_agg_free(agg);
  bw_suppress_free(a.suppress);
  bw_rules_free(rules);
  free(a.paths);
  return rc;
}
