/* bouncewatch's command line: parse arguments, build the pipeline, map
 * errors to exit codes (0 complete, 1 usage or fatal error, 2 the run
 * finished but some input could not be read completely). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bouncewatch/error.h"
#include "bouncewatch/lines.h"
#include "bouncewatch/replay.h"
#include "out.h"

#define BW_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_INCOMPLETE = 2 };

/* The replay options, one table: parsing and --help both come from it. */
enum { OPT_JSON, OPT_EVENTS, OPT_MAX_LINE, OPT_ZSTD_WINDOW_LOG, OPT_HELP };
typedef struct {
  int id;
  const char *name;
  const char *arg; /* NULL: a flag */
  const char *help;
} option_t;

static const option_t replay_options[] = {
    {OPT_JSON, "--json", NULL, "print the summary as one JSON document"},
    {OPT_EVENTS, "--events", NULL,
     "print one JSON object per delivery event (JSON Lines) instead of the "
     "summary; the summary goes to stderr"},
    {OPT_MAX_LINE, "--max-line", "BYTES",
     "skip (and count) lines longer than this (default 65536)"},
    {OPT_ZSTD_WINDOW_LOG, "--zstd-window-log", "N",
     "accept zstd frames with windows up to 2^N bytes (default 27 = 128 MiB, "
     "max 31)"},
    {OPT_HELP, "--help", NULL, "show this help"},
};
#define NOPTS (sizeof(replay_options) / sizeof(replay_options[0]))

static void usage(FILE *fp) {
  fprintf(fp, "usage: bouncewatch replay [OPTIONS] FILE...\n"
              "       bouncewatch --version\n\n"
              "Read Postfix and Exim logs (plain, .zst or .gz, detected by "
              "content; - is stdin)\nand summarise every line and delivery "
              "event.\n\noptions:\n");
  for (size_t i = 0; i < NOPTS; i++) {
    char left[48];
    snprintf(left, sizeof(left), "%s%s%s", replay_options[i].name,
             replay_options[i].arg ? " " : "",
             replay_options[i].arg ? replay_options[i].arg : "");
    fprintf(fp, "  %-24s %s\n", left, replay_options[i].help);
  }
  fprintf(fp, "\nexit status: 0 complete, 1 usage error, 2 some input was "
              "unreadable, truncated or corrupt\n");
}

static int parse_uint(const char *s, unsigned long long max,
                      unsigned long long *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-')
    return -1;
  *out = v;
  return 0;
}

typedef struct {
  bw_out_t *out;
} events_ctx_t;

static void on_event(void *arg, const bw_event_t *ev,
                     const bw_line_ref_t *where) {
  events_ctx_t *c = arg;
  if (ev->kind == BW_KIND_DELIVERY)
    bw__event_jsonl(c->out, ev, where);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_replay(int argc, char **argv) {
  int json = 0, events = 0;
  bw_replay_opts_t opts = {0};
  const char **paths = calloc((size_t)argc + 1, sizeof(char *));
  size_t npaths = 0;
  int rc = EXIT_USAGE;
  bw_replay_t *r = NULL;
  static bw_out_t out, err;
  if (paths == NULL) {
    fprintf(stderr, "bouncewatch: out of memory\n");
    return EXIT_USAGE;
  }

  int no_more_opts = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (no_more_opts || a[0] != '-' || strcmp(a, "-") == 0) {
      paths[npaths++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      no_more_opts = 1;
      continue;
    }
    const option_t *o = NULL;
    const char *val = NULL;
    for (size_t k = 0; k < NOPTS; k++) {
      size_t n = strlen(replay_options[k].name);
      if (strncmp(a, replay_options[k].name, n) == 0 &&
          (a[n] == '\0' || (a[n] == '=' && replay_options[k].arg))) {
        o = &replay_options[k];
        if (a[n] == '=')
          val = a + n + 1;
        break;
      }
    }
    if (o == NULL) {
      fprintf(stderr, "bouncewatch replay: unknown option '%s'\n", a);
      usage(stderr);
      goto done;
    }
    if (o->arg != NULL && val == NULL) {
      if (i + 1 >= argc) {
        fprintf(stderr, "bouncewatch replay: %s needs %s\n", o->name, o->arg);
        goto done;
      }
      val = argv[++i];
    }
    unsigned long long v;
    switch (o->id) {
    case OPT_JSON:
      json = 1;
      break;
    case OPT_EVENTS:
      events = 1;
      break;
    case OPT_MAX_LINE:
      if (parse_uint(val, 1ull << 30, &v) != 0 || v < 64) {
        fprintf(stderr, "bouncewatch replay: --max-line wants 64..%llu, got '%s'\n",
                1ull << 30, val);
        goto done;
      }
      opts.max_line = (size_t)v;
      break;
    case OPT_ZSTD_WINDOW_LOG:
      if (parse_uint(val, 31, &v) != 0 || v < 10) {
        fprintf(stderr,
                "bouncewatch replay: --zstd-window-log wants 10..31, got '%s'\n",
                val);
        goto done;
      }
      opts.zstd_window_log_max = (unsigned)v;
      break;
    case OPT_HELP:
      usage(stdout);
      rc = EXIT_OK;
      goto done;
    default:
      break;
    }
  }
  if (npaths == 0) {
    fprintf(stderr, "bouncewatch replay: no input files (use - for stdin)\n");
    usage(stderr);
    goto done;
  }

  bw__out_init(&out, stdout);
  bw__out_init(&err, stderr);
  events_ctx_t ctx = {&out};
  int e = bw_replay_new(&opts, events ? on_event : NULL, &ctx, &r);
  if (e != 0) {
    fprintf(stderr, "bouncewatch: %s\n", bw_strerror(e));
    goto done;
  }
  double t0 = now_s();
  int run = bw_replay_run(r, paths, npaths);
  double t1 = now_s();
  const bw_replay_stats_t *s = bw_replay_stats(r);

  /* Every failed file, named, on stderr, whatever the output format. */
  for (size_t i = 0; i < s->nfiles; i++) {
    const bw_file_stats_t *fs = &s->files[i];
    if (fs->error != 0)
      fprintf(stderr,
              "bouncewatch: %s: %s (%llu whole lines before it were "
              "processed)\n",
              fs->path, fs->errmsg, (unsigned long long)fs->lines);
    if (fs->long_lines > 0)
      fprintf(stderr, "bouncewatch: %s: %llu line%s longer than %zu bytes "
                      "skipped\n",
              fs->path, (unsigned long long)fs->long_lines,
              fs->long_lines == 1 ? "" : "s",
              opts.max_line ? opts.max_line : (size_t)BW_DEFAULT_MAX_LINE);
  }

  bw_report_in_t in = {s, t1 - t0,
                       opts.max_line ? opts.max_line : BW_DEFAULT_MAX_LINE};
  if (events)
    bw__report_text(&err, &in);
  else if (json)
    bw__report_json(&out, &in);
  else
    bw__report_text(&out, &in);
  bw__out_flush(&out);
  bw__out_flush(&err);
  if (out.error) {
    fprintf(stderr, "bouncewatch: writing to stdout failed\n");
    rc = EXIT_USAGE;
  } else {
    rc = run == 0 ? EXIT_OK : EXIT_INCOMPLETE;
  }
done:
  bw_replay_free(r);
  free(paths);
  return rc;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "replay") == 0)
    return cmd_replay(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
    printf("bouncewatch %s\n", BW_VERSION);
    return EXIT_OK;
  }
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
    usage(stdout);
    return EXIT_OK;
  }
  usage(stderr);
  return EXIT_USAGE;
}
