/* Parsing of the alert options of report and watch (alert_cli.h): it
 * owns the checks and messages of those options, nothing else. */
#include <stdlib.h>
#include <string.h>

#include "alert_cli.h"

void bw__alert_cli_init(bw_alert_cli_t *c) {
  memset(c, 0, sizeof(*c));
  c->resend_ms = 60000;
  c->timeout_ms = 10000;
  c->resolve = 0.75;
}

int bw__alert_cli_option(bw_alert_cli_t *c, const char *cmd,
                         const bw_option_t *o, const char *val) {
  unsigned long long v;
  int rc;
  switch (o->id) {
  case BW_OPT_ALERTS:
    c->send = 1;
    return 0;
  case BW_OPT_ALERT_EXEC:
    if (c->exec[0] != NULL) {
      fprintf(stderr, "bouncewatch %s: --alert-exec given twice\n", cmd);
      return BW_EXIT_USAGE;
    }
    c->exec[0] = val;
    if (c->nexec == 0)
      c->nexec = 1;
    return 0;
  case BW_OPT_ALERT_ARG:
    if (c->nexec >= 64) {
      fprintf(stderr, "bouncewatch %s: at most 63 --alert-arg\n", cmd);
      return BW_EXIT_USAGE;
    }
    if (c->nexec == 0)
      c->nexec = 1; /* slot 0 is the program */
    c->exec[c->nexec++] = val;
    return 0;
  case BW_OPT_ALERTMANAGER:
    if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0) {
      fprintf(stderr, "bouncewatch %s: --alertmanager wants an http:// or "
                      "https:// URL, got '%s'\n",
              cmd, val);
      return BW_EXIT_USAGE;
    }
    c->am_url = val;
    return 0;
  case BW_OPT_ALERT_RESEND:
  case BW_OPT_ALERT_TIMEOUT:
    if ((rc = bw__cli_uint_opt(cmd, o->name, val, 100, 86400000, &v)))
      return rc;
    if (o->id == BW_OPT_ALERT_RESEND)
      c->resend_ms = v;
    else
      c->timeout_ms = v;
    return 0;
  case BW_OPT_ALERT_DOMAIN:
    if (c->ndomains == 64) {
      fprintf(stderr, "bouncewatch %s: at most 64 --alert-domain\n", cmd);
      return BW_EXIT_USAGE;
    }
    c->domains[c->ndomains++] = val;
    return 0;
  case BW_OPT_ALERT_RESOLVE: {
    char *end;
    double r = strtod(val, &end);
    if (end == val || *end != '\0' || !(r > 0 && r <= 1)) {
      fprintf(stderr, "bouncewatch %s: --alert-resolve wants a ratio in "
                      "(0, 1], got '%s'\n",
              cmd, val);
      return BW_EXIT_USAGE;
    }
    c->resolve = r;
    return 0;
  }
  default:
    return 0;
  }
}

int bw__alert_cli_finish(bw_alert_cli_t *c, const char *cmd,
                         const bw_agg_opts_t *ao, bw_alert_opts_t *alo,
                         bw_sink_opts_t *so) {
  bw__alert_opts_default(alo, ao);
  alo->resolve_ratio = c->resolve;
  for (size_t i = 0; i < c->ndomains; i++) {
    char err[256];
    if (bw__alert_opts_domain(alo, c->domains[i], err, sizeof(err)) != 0) {
      fprintf(stderr, "bouncewatch %s: --alert-domain '%s': %s\n", cmd,
              c->domains[i], err);
      return BW_EXIT_USAGE;
    }
  }
  if (c->nexec > 0 && c->exec[0] == NULL) {
    fprintf(stderr, "bouncewatch %s: --alert-arg without --alert-exec\n", cmd);
    return BW_EXIT_USAGE;
  }
  memset(so, 0, sizeof(*so));
  so->log = 1;
  so->exec = c->nexec > 0 ? c->exec : NULL;
  so->am_url = c->am_url;
  so->am_resend_ms = c->resend_ms;
  so->prefix = cmd;
  return 0;
}
