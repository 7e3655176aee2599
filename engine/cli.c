/* The option-table parser and rules lookup shared by the commands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "cli.h"
#include "config.h"

#ifndef BW_INSTALLED_PATTERNS
#define BW_INSTALLED_PATTERNS "/usr/local/share/bouncewatch/patterns"
#endif
#ifndef BW_SOURCE_PATTERNS
#define BW_SOURCE_PATTERNS "patterns"
#endif

const bw_cmd_table_t *const bw__cmd_tables[] = {
    &bw__replay_table, &bw__report_table, &bw__watch_table, &bw__explain_table};
const size_t bw__ncmd_tables =
    sizeof(bw__cmd_tables) / sizeof(bw__cmd_tables[0]);

void bw__cli_help(FILE *fp, const bw_option_t *opts, size_t nopts) {
  for (size_t i = 0; i < nopts; i++) {
    char left[64];
    snprintf(left, sizeof(left), "%s%s%s", opts[i].name,
             opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
    fprintf(fp, "  %-26s %s", left, opts[i].help);
    if (opts[i].def != NULL)
      fprintf(fp, " (default %s)", opts[i].def);
    fputc('\n', fp);
  }
  fprintf(fp, "  %-26s %s\n", "--config FILE",
          "read options from FILE first (default " BW_DEFAULT_CONFIG
          " if it exists; $BW_CONFIG; command-line options win)");
}

/* The files read: the commands keep pointers to option values (paths,
 * the domain of --domain-threshold) for their whole run, as they do into
 * argv, so the values live until bw__cli_release(). */
typedef struct loaded_s {
  bw_config_t c;
  struct loaded_s *next;
} loaded_t;
static loaded_t *loaded;

void bw__cli_release(void) {
  while (loaded != NULL) {
    loaded_t *n = loaded->next;
    bw__config_free(&loaded->c);
    free(loaded);
    loaded = n;
  }
}

/* The configuration file's values for this command, before argv's. */
static int apply_config(const char *cmd, int argc, char **argv,
                        const bw_option_t *opts, size_t nopts, bw_option_cb cb,
                        void *ctx) {
  for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--help") == 0)
      return 0; /* help even beside a broken file */
  int named;
  const char *path = bw__config_path(argc, argv, &named);
  if (path == NULL)
    return 0;
  bw_cmd_table_t t = {cmd, opts, nopts};
  loaded_t *l = calloc(1, sizeof(*l));
  if (l == NULL)
    return BW_EXIT_USAGE;
  if (loaded == NULL)
    atexit(bw__cli_release); /* runs before LeakSanitizer's own check */
  l->next = loaded;
  loaded = l;
  if (bw__config_load(path, bw__cmd_tables, bw__ncmd_tables, stderr, &l->c))
    return BW_EXIT_USAGE;
  return bw__config_apply(&l->c, &t, argc, argv, cb, ctx);
}

int bw__cli_parse(const char *cmd, int argc, char **argv,
                  const bw_option_t *opts, size_t nopts, bw_option_cb cb,
                  void *ctx) {
  int operands_only = 0;
  int rc = apply_config(cmd, argc, argv, opts, nopts, cb, ctx);
  if (rc != 0)
    return rc;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (operands_only || a[0] != '-' || strcmp(a, "-") == 0) {
      if ((rc = cb(ctx, NULL, a)) != 0)
        return rc;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      operands_only = 1;
      continue;
    }
    if (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0) {
      i += a[8] == '\0'; /* read by apply_config() */
      if (i >= argc) {
        fprintf(stderr, "bouncewatch %s: --config needs FILE\n", cmd);
        return BW_EXIT_USAGE;
      }
      continue;
    }
    const bw_option_t *o = NULL;
    const char *val = NULL;
    for (size_t k = 0; k < nopts; k++) {
      size_t n = strlen(opts[k].name);
      if (strncmp(a, opts[k].name, n) == 0 &&
          (a[n] == '\0' || (a[n] == '=' && opts[k].arg != NULL))) {
        o = &opts[k];
        if (a[n] == '=')
          val = a + n + 1;
        break;
      }
    }
    if (o == NULL) {
      fprintf(stderr, "bouncewatch %s: unknown option '%s' (see --help)\n", cmd,
              a);
      return BW_EXIT_USAGE;
    }
    if (o->arg != NULL && val == NULL) {
      if (i + 1 >= argc) {
        fprintf(stderr, "bouncewatch %s: %s needs %s\n", cmd, o->name, o->arg);
        return BW_EXIT_USAGE;
      }
      val = argv[++i];
    }
    if ((rc = cb(ctx, o, val)) != 0)
      return rc;
  }
  return 0;
}

int bw__cli_uint(const char *s, unsigned long long lo, unsigned long long hi,
                 unsigned long long *out) {
  char *end;
  errno = 0;
  if (s == NULL || s[0] < '0' || s[0] > '9')
    return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

int bw__cli_uint_opt(const char *cmd, const char *opt, const char *val,
                     unsigned long long lo, unsigned long long hi,
                     unsigned long long *out) {
  if (bw__cli_uint(val, lo, hi, out) == 0)
    return 0;
  fprintf(stderr, "bouncewatch %s: %s wants %llu..%llu, got '%s'\n", cmd, opt,
          lo, hi, val != NULL ? val : "");
  return BW_EXIT_USAGE;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *bw__cli_rules_dir(const char *given) {
  if (given != NULL)
    return given;
  const char *e = getenv("BW_PATTERNS");
  if (e != NULL && *e != '\0')
    return e;
  if (is_dir(BW_INSTALLED_PATTERNS))
    return BW_INSTALLED_PATTERNS;
  return BW_SOURCE_PATTERNS;
}

bw_rules_t *bw__cli_load_rules(const char *cmd, const char *given_dir,
                               const char *cache_dir) {
  const char *dir = bw__cli_rules_dir(given_dir);
  bw_rules_opts_t o = {cache_dir, stderr};
  bw_rules_t *r = NULL;
  unsigned nerr = 0;
  if (bw_rules_load(dir, &o, &r, &nerr) != 0) {
    fprintf(stderr,
            "bouncewatch %s: %u problem%s in the rules in %s; nothing was "
            "classified (check them with: bouncewatch check-rules %s)\n",
            cmd, nerr, nerr == 1 ? "" : "s", dir, dir);
    return NULL;
  }
  return r;
}

void bw__progress_init(bw_progress_t *p, const char *const *paths, size_t n) {
  memset(p, 0, sizeof(*p));
  p->paths = paths;
  p->n = n;
  if (!isatty(STDERR_FILENO))
    return;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0 &&
        S_ISREG(st.st_mode))
      p->total += (uint64_t)st.st_size;
  }
  /* Small inputs finish before a bar would help. */
  p->enabled = p->total >= (64u << 20);
  p->last_print = -1.0; /* draw at the first block */
  clock_gettime(CLOCK_MONOTONIC, &p->start);
}

void bw__progress_cb(void *arg, size_t file, uint64_t file_bytes_read) {
  bw_progress_t *p = arg;
  if (!p->enabled)
    return;
  while (p->cur_file < file) {
    struct stat st;
    if (stat(p->paths[p->cur_file], &st) == 0 && S_ISREG(st.st_mode))
      p->done_before += (uint64_t)st.st_size;
    p->cur_file++;
  }
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double t = (double)(now.tv_sec - p->start.tv_sec) +
             (double)(now.tv_nsec - p->start.tv_nsec) / 1e9;
  if (t - p->last_print < 0.25)
    return;
  p->last_print = t;
  uint64_t done = p->done_before + file_bytes_read;
  double frac = p->total ? (double)done / (double)p->total : 0.0;
  if (frac > 1.0)
    frac = 1.0;
  char bar[41];
  int fill = (int)(frac * 40.0);
  for (int i = 0; i < 40; i++)
    bar[i] = i < fill ? '=' : ' ';
  bar[40] = '\0';
  fprintf(stderr, "\r[%s] %3.0f%%  %.0f MB/s read  %s", bar, 100.0 * frac,
          t > 0 ? (double)done / t / 1e6 : 0.0, p->paths[file]);
  p->shown = 1;
}

void bw__progress_done(bw_progress_t *p) {
  if (p->shown)
    fputs("\r\033[K", stderr); /* clear the bar before the report */
}

int bw__cli_run(bw_replay_t *r, const char *const *paths, size_t n,
                double *elapsed_s) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int run = bw_replay_run(r, paths, n);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  *elapsed_s = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  /* Every failed file, named, on stderr, whatever the output format. */
  const bw_replay_stats_t *s = bw_replay_stats(r);
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
              fs->long_lines == 1 ? "" : "s", bw_replay_max_line(r));
  }
  return run;
}
