/* `bouncewatch replay`: read logs, classify failed deliveries, print the
 * summary (text or JSON) or the delivery events (JSON Lines). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bouncewatch/error.h"
#include "bouncewatch/lines.h"
#include "bouncewatch/replay.h"
#include "cli.h"
#include "out.h"

enum {
  OPT_JSON,
  OPT_EVENTS,
  OPT_MAX_LINE,
  OPT_ZSTD_WINDOW_LOG,
  OPT_RULES,
  OPT_RULES_CACHE,
  OPT_NO_CLASSIFY,
  OPT_HELP
};

static const bw_option_t options[] = {
    {OPT_JSON, "--json", NULL, "print the summary as one JSON document", NULL, 0},
    {OPT_EVENTS, "--events", NULL,
     "print one JSON object per delivery event (JSON Lines) instead of the "
     "summary; the summary goes to stderr", NULL, 0},
    {OPT_MAX_LINE, "--max-line", "BYTES",
     "skip (and count) lines longer than this", "65536", 0},
    {OPT_ZSTD_WINDOW_LOG, "--zstd-window-log", "N",
     "accept zstd frames with windows up to 2^N bytes (27 = 128 MiB, max 31)",
     "27", 0},
    {OPT_RULES, "--rules", "DIR",
     "classification rules (default: $BW_PATTERNS, the installed patterns/, "
     "or the source tree's)", NULL, 0},
    {OPT_RULES_CACHE, "--rules-cache", "DIR",
     "where compiled rules are cached (\"\" = off; default "
     "~/.cache/bouncewatch)", NULL, 0},
    {OPT_NO_CLASSIFY, "--no-classify", NULL,
     "parse and count only; give failed deliveries no reason", NULL, 0},
    {OPT_HELP, "--help", NULL, "show this help", NULL, BW_OPT_CLI_ONLY},
};
#define NOPTS (sizeof(options) / sizeof(options[0]))
const bw_cmd_table_t bw__replay_table = {"replay", options, NOPTS};

static void usage(FILE *fp) {
  fprintf(fp, "usage: bouncewatch replay [OPTIONS] FILE...\n\n"
              "Read Postfix and Exim logs (plain, .zst or .gz, detected by "
              "content; - is stdin),\nclassify every deferred, bounced and "
              "expired delivery, and summarise.\n\noptions:\n");
  bw__cli_help(fp, options, NOPTS);
  fprintf(fp, "\nexit status: 0 complete, 1 usage or rules error, 2 some "
              "input was unreadable, truncated or corrupt\n");
}

typedef struct {
  int json, events, classify;
  bw_replay_opts_t ro;
  const char *rules_dir, *rules_cache;
  const char **paths;
  size_t npaths;
  bw_out_t *out;
} replay_args_t;

static int on_option(void *ctx, const bw_option_t *o, const char *val) {
  replay_args_t *a = ctx;
  unsigned long long v;
  int rc;
  if (o == NULL) {
    a->paths[a->npaths++] = val;
    return 0;
  }
  switch (o->id) {
  case OPT_JSON:
    a->json = 1;
    break;
  case OPT_EVENTS:
    a->events = 1;
    break;
  case OPT_MAX_LINE:
    if ((rc = bw__cli_uint_opt("replay", o->name, val, 64, 1ull << 30, &v)))
      return rc;
    a->ro.max_line = (size_t)v;
    break;
  case OPT_ZSTD_WINDOW_LOG:
    if ((rc = bw__cli_uint_opt("replay", o->name, val, 10, 31, &v)))
      return rc;
    a->ro.zstd_window_log_max = (unsigned)v;
    break;
  case OPT_RULES:
    a->rules_dir = val;
    break;
  case OPT_RULES_CACHE:
    a->rules_cache = val;
    break;
  case OPT_NO_CLASSIFY:
    a->classify = 0;
    break;
  case OPT_HELP:
    usage(stdout);
    return -1; /* stop, exit 0 */
  default:
    break;
  }
  return 0;
}

static void on_event(void *arg, const bw_event_t *ev, const bw_verdict_t *v,
                     const bw_line_ref_t *where) {
  replay_args_t *a = arg;
  if (ev->kind == BW_KIND_DELIVERY)
    bw__event_jsonl(a->out, ev, v, where);
}

int bw__cmd_replay(int argc, char **argv) {
  static bw_out_t out, err;
  replay_args_t a = {0};
  bw_replay_t *r = NULL;
  bw_rules_t *rules = NULL;
  int rc = BW_EXIT_USAGE;
  a.classify = 1;
  a.out = &out;
  a.paths = calloc((size_t)argc + 1, sizeof(char *));
  if (a.paths == NULL)
    return BW_EXIT_USAGE;

  int prc = bw__cli_parse("replay", argc, argv, options, NOPTS, on_option, &a);
  if (prc != 0) {
    rc = prc < 0 ? BW_EXIT_OK : prc;
    goto done;
  }
  if (a.npaths == 0) {
    fprintf(stderr, "bouncewatch replay: no input files (use - for stdin)\n");
    usage(stderr);
    goto done;
  }
  if (a.classify) {
    rules = bw__cli_load_rules("replay", a.rules_dir, a.rules_cache);
    if (rules == NULL)
      goto done;
    a.ro.rules = rules;
  }

  bw__out_init(&out, stdout);
  bw__out_init(&err, stderr);
  bw_progress_t prog;
  bw__progress_init(&prog, a.paths, a.npaths);
  a.ro.progress_cb = bw__progress_cb;
  a.ro.progress_arg = &prog;
  int e = bw_replay_new(&a.ro, a.events ? on_event : NULL, &a, &r);
  if (e != 0) {
    fprintf(stderr, "bouncewatch replay: %s\n", bw_strerror(e));
    goto done;
  }
  double elapsed;
  int run = bw__cli_run(r, a.paths, a.npaths, &elapsed);
  bw__progress_done(&prog);
  const bw_replay_stats_t *s = bw_replay_stats(r);
  size_t max_line = a.ro.max_line ? a.ro.max_line : BW_DEFAULT_MAX_LINE;

  bw_report_in_t in = {s, elapsed, max_line};
  if (a.events)
    bw__report_text(&err, &in);
  else if (a.json)
    bw__report_json(&out, &in);
  else
    bw__report_text(&out, &in);
  bw__out_flush(&out);
  bw__out_flush(&err);
  if (out.error) {
    fprintf(stderr, "bouncewatch replay: writing to stdout failed\n");
    rc = BW_EXIT_USAGE;
  } else {
    rc = run == 0 ? BW_EXIT_OK : BW_EXIT_INCOMPLETE;
  }
done:
  bw_replay_free(r);
  bw_rules_free(rules);
  free(a.paths);
  return rc;
}
