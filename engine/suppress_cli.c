/* The suppression list's options and its atomic export, shared by
 * `report` and `watch` (suppress_cli.h). The list itself is suppress.c,
 * the formats out_suppress.c. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "suppress_cli.h"

void bw__suppress_cli_init(bw_suppress_cli_t *c) {
  memset(c, 0, sizeof(*c));
  bw_suppress_opts_default(&c->o);
  c->format = BW_SUPPRESS_POSTFIX;
}

int bw__suppress_cli_option(bw_suppress_cli_t *c, const char *cmd,
                            const bw_option_t *o, const char *val) {
  unsigned long long v;
  int rc;
  switch (o->id) {
  case BW_OPT_SUPPRESS_OUT:
    c->out = val;
    return 0;
  case BW_OPT_SUPPRESS_FORMAT: {
    int f = bw_suppress_format_from_name(val);
    if (f < 0) {
      fprintf(stderr, "bouncewatch %s: %s wants postfix, csv or json, got "
                      "'%s'\n",
              cmd, o->name, val);
      return BW_EXIT_USAGE;
    }
    c->format = (bw_suppress_format_t)f;
    return 0;
  }
  case BW_OPT_SUPPRESS_TTL:
  case BW_OPT_SUPPRESS_SOFT_DAYS:
    if ((rc = bw__cli_uint_opt(cmd, o->name, val, 1, 3650, &v)))
      return rc;
    if (o->id == BW_OPT_SUPPRESS_TTL)
      c->o.ttl_s = (int64_t)v * 86400;
    else
      c->o.soft_window_s = (int64_t)v * 86400;
    return 0;
  case BW_OPT_SUPPRESS_HARD:
  case BW_OPT_SUPPRESS_SOFT: {
    const char *bad = NULL;
    uint64_t set;
    if (bw_suppress_reasons(val, &set, &bad) != 0) {
      fprintf(stderr, "bouncewatch %s: %s: unknown reason at '%s' (the "
                      "reasons are those of `bouncewatch explain`, "
                      "comma-separated, or none)\n",
              cmd, o->name, bad);
      return BW_EXIT_USAGE;
    }
    if (o->id == BW_OPT_SUPPRESS_HARD)
      c->o.hard_reasons = set;
    else
      c->o.soft_reasons = set;
    return 0;
  }
  case BW_OPT_SUPPRESS_SOFT_COUNT:
    if ((rc = bw__cli_uint_opt(cmd, o->name, val, 1, BW_SUPPRESS_MAX_SOFT,
                               &v)))
      return rc;
    c->o.soft_count = (unsigned)v;
    return 0;
  case BW_OPT_SUPPRESS_MAX:
    if ((rc = bw__cli_uint_opt(cmd, o->name, val, 16, 1ull << 24, &v)))
      return rc;
    c->o.max_entries = (size_t)v;
    return 0;
  default:
    return -2;
  }
}

int bw__suppress_cli_write(const bw_suppress_cli_t *c, bw_suppress_t *s,
                           const char *cmd, void (*lock)(void *),
                           void (*unlock)(void *), void *lock_arg) {
  if (c->out == NULL)
    return 0;
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", c->out, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f == NULL) {
    perror(tmp);
    return -1;
  }
  uint64_t skipped = 0;
  if (lock != NULL)
    lock(lock_arg);
  int ok = bw_suppress_write(s, c->format, f, &skipped) == 0 && fflush(f) == 0;
  if (unlock != NULL)
    unlock(lock_arg);
  ok = ok && fsync(fileno(f)) == 0;
  if (fclose(f) != 0)
    ok = 0;
  if (!ok || rename(tmp, c->out) != 0) {
    fprintf(stderr, "bouncewatch %s: writing %s failed\n", cmd, c->out);
    unlink(tmp);
    return -1;
  }
  return 0;
}
