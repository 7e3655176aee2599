/* The suppression list's options, shared by `report` and `watch`: their
 * table entries (BW_SUPPRESS_OPTIONS goes into each command's option
 * table), their parsing, and the atomic write of the exported list.
 * Internal to the bouncewatch program. */
#ifndef BW_SUPPRESS_CLI_H
#define BW_SUPPRESS_CLI_H

#include "bouncewatch/suppress.h"
#include "cli.h"

/* Ids far from the commands' own enums. */
enum {
  BW_OPT_SUPPRESS_OUT = 1000,
  BW_OPT_SUPPRESS_FORMAT,
  BW_OPT_SUPPRESS_TTL,
  BW_OPT_SUPPRESS_HARD,
  BW_OPT_SUPPRESS_SOFT,
  BW_OPT_SUPPRESS_SOFT_COUNT,
  BW_OPT_SUPPRESS_SOFT_DAYS,
  BW_OPT_SUPPRESS_MAX
};

/* Each command's table lists these (the report and watch tables). */
#define BW_SUPPRESS_OPTIONS                                                    \
  {BW_OPT_SUPPRESS_OUT, "--suppress-out", "FILE",                              \
   "write the suppression list there (atomically; watch: at every "           \
   "checkpoint)", NULL, 0},                                                    \
  {BW_OPT_SUPPRESS_FORMAT, "--suppress-format", "FORMAT",                      \
   "postfix (access(5) table for check_recipient_access), csv or json",        \
   "postfix", 0},                                                              \
  {BW_OPT_SUPPRESS_TTL, "--suppress-ttl", "DAYS",                              \
   "how long an address stays suppressed after its last failure", "7", 0},     \
  {BW_OPT_SUPPRESS_HARD, "--suppress-hard", "REASONS",                         \
   "reasons whose bounce suppresses at once (comma-separated, or none)",       \
   "userunknown,hostunknown,hasmoved", 0},                                     \
  {BW_OPT_SUPPRESS_SOFT, "--suppress-soft", "REASONS",                         \
   "reasons that suppress when repeated (comma-separated, or none)",           \
   "mailboxfull,suspend,exceedlimit", 0},                                      \
  {BW_OPT_SUPPRESS_SOFT_COUNT, "--suppress-soft-count", "N",                   \
   "soft failures, in different messages, that suppress (1..16)", "3", 0},     \
  {BW_OPT_SUPPRESS_SOFT_DAYS, "--suppress-soft-days", "DAYS",                  \
   "... within this many days of log time", "7", 0},                           \
  {BW_OPT_SUPPRESS_MAX, "--suppress-max", "N",                                 \
   "addresses tracked (the excess is evicted and counted)", "100000", 0}

typedef struct {
  bw_suppress_opts_t o;
  const char *out; /* NULL: no export */
  bw_suppress_format_t format;
} bw_suppress_cli_t;

void bw__suppress_cli_init(bw_suppress_cli_t *c);

/* Handles the suppression options: 0 done, BW_EXIT_USAGE after saying
 * why, -2 not one of them. */
int bw__suppress_cli_option(bw_suppress_cli_t *c, const char *cmd,
                            const bw_option_t *o, const char *val);

/* Write the list to c->out (temporary file, fsync, rename, so postmap or
 * a reader never sees half a table). No-op without c->out. 0 or -1 after
 * saying why on stderr. `lock`/`unlock` (may be NULL) are held while the
 * list is read, not during the fsync: `watch` passes the worker's lock,
 * since its worker thread adds to the list meanwhile. */
int bw__suppress_cli_write(const bw_suppress_cli_t *c, bw_suppress_t *s,
                           const char *cmd, void (*lock)(void *),
                           void (*unlock)(void *), void *lock_arg);

#endif
