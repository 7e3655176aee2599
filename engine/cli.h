/* What the command files (cmd_*.c) share: one option-table parser (so
 * parsing and --help come from the same table), rules loading with the
 * directory search, and the exit codes. Internal to the engine. */
#ifndef BW_CLI_H
#define BW_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "bouncewatch/classify.h"
#include "bouncewatch/replay.h"

#define BW_VERSION "0.1.0"
#define BW_DEFAULT_CONFIG "/etc/bouncewatch/bouncewatch.conf"

enum { BW_EXIT_OK = 0, BW_EXIT_USAGE = 1, BW_EXIT_INCOMPLETE = 2 };

/* One option of a command. The command's table of these is the only
 * description of its options: the parser, --help, the configuration file
 * (the key is the name without "--", in the command's [section]),
 * `bouncewatch config --dump` and the README's option list all come from
 * it (config.c). */
typedef struct {
  int id;
  const char *name; /* "--json" */
  const char *arg;  /* NULL: a flag; else the argument's name for --help */
  const char *help;
  const char *def;  /* the default as text, NULL if none; --help appends it.
                       A repeatable option lists its defaults space-separated */
  unsigned flags;   /* BW_OPT_* */
} bw_option_t;

enum {
  BW_OPT_REPEAT = 1,   /* may be given several times; the command line's
                          values replace the file's instead of adding */
  BW_OPT_CLI_ONLY = 2, /* not a configuration key (--help, one-off inputs) */
};

/* A command's option table, for the configuration file and the dump. */
typedef struct {
  const char *cmd;
  const bw_option_t *opts;
  size_t nopts;
} bw_cmd_table_t;
extern const bw_cmd_table_t bw__replay_table, bw__report_table,
    bw__watch_table, bw__explain_table;
/* Every command with options, in the order the dump shows them. */
extern const bw_cmd_table_t *const bw__cmd_tables[];
extern const size_t bw__ncmd_tables;

/* Called for each option (val NULL for flags) and, with opt NULL, for
 * each operand. Returns 0, or non-zero to stop with that exit code. */
typedef int (*bw_option_cb)(void *ctx, const bw_option_t *opt,
                            const char *val);

/* Parses argv[0..argc) against the table; unknown options and missing
 * arguments are reported on stderr. Returns 0 or an exit code.
 * Before the command line, the configuration file's values for this
 * command go through cb (config.c): `--config FILE` names it (then it must
 * exist), else $BW_CONFIG ("" for none), else BW_DEFAULT_CONFIG if it
 * exists. Values given on the command line override the file's (for a
 * BW_OPT_REPEAT option, all of them). A file problem is reported with
 * FILE:LINE and gives BW_EXIT_USAGE. */
int bw__cli_parse(const char *cmd, int argc, char **argv,
                  const bw_option_t *opts, size_t nopts, bw_option_cb cb,
                  void *ctx);

void bw__cli_help(FILE *fp, const bw_option_t *opts, size_t nopts);

/* Frees the configuration files bw__cli_parse() read (their values are
 * the commands' until then); registered with atexit() at the first. */
void bw__cli_release(void);

/* Parse an unsigned decimal in [lo, hi]; 0 on success. */
int bw__cli_uint(const char *s, unsigned long long lo, unsigned long long hi,
                 unsigned long long *out);

/* bw__cli_uint() for option `opt` of command `cmd`: on a bad value it
 * says so on stderr, naming the range, and returns BW_EXIT_USAGE. */
int bw__cli_uint_opt(const char *cmd, const char *opt, const char *val,
                     unsigned long long lo, unsigned long long hi,
                     unsigned long long *out);

/* The rules directory: `given` if not NULL, else $BW_PATTERNS, else the
 * installed share/bouncewatch/patterns, else the source tree's patterns/
 * (for a build tree). */
const char *bw__cli_rules_dir(const char *given);

/* Load rules (reporting FILE:LINE problems on stderr); NULL on failure,
 * after saying so. cache_dir NULL: the default cache. */
bw_rules_t *bw__cli_load_rules(const char *cmd, const char *given_dir,
                               const char *cache_dir);

/* The progress bar on stderr: shown only when stderr is a terminal and
 * the regular input files add up to 64 MiB or more; redrawn at most four
 * times a second from the replay's per-block callback. */
typedef struct {
  const char *const *paths;
  size_t n, cur_file;
  uint64_t total, done_before;
  struct timespec start;
  double last_print;
  int enabled, shown;
} bw_progress_t;
void bw__progress_init(bw_progress_t *p, const char *const *paths, size_t n);
void bw__progress_cb(void *arg, size_t file, uint64_t file_bytes_read);
void bw__progress_done(bw_progress_t *p);

/* Run the replay, time it, and name every failed file and every file
 * with skipped lines on stderr. Returns bw_replay_run()'s result. */
int bw__cli_run(bw_replay_t *r, const char *const *paths, size_t n,
                double *elapsed_s);

int bw__cmd_replay(int argc, char **argv);
int bw__cmd_report(int argc, char **argv);
int bw__cmd_watch(int argc, char **argv);
int bw__cmd_explain(int argc, char **argv);
int bw__cmd_check_rules(int argc, char **argv);
int bw__cmd_config(int argc, char **argv);

#endif
