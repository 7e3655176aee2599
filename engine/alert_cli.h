/* The alert options shared by `report` and `watch`: one table fragment
 * (BW_ALERT_OPTIONS, appended to each command's table), one handler and
 * the step that turns them into alert and sink options once every other
 * option (thresholds, windows) is known. Internal to the engine. */
#ifndef BW_ALERT_CLI_H
#define BW_ALERT_CLI_H

#include "alert.h"
#include "alert_sink.h"
#include "cli.h"

enum {
  BW_OPT_ALERT_FIRST = 2000, /* suppress_cli.h has 1000.. */
  BW_OPT_ALERTS = BW_OPT_ALERT_FIRST,
  BW_OPT_ALERT_EXEC,
  BW_OPT_ALERT_ARG,
  BW_OPT_ALERTMANAGER,
  BW_OPT_ALERT_RESEND,
  BW_OPT_ALERT_DOMAIN,
  BW_OPT_ALERT_RESOLVE,
  BW_OPT_ALERT_TIMEOUT,
};

#define BW_ALERT_OPTIONS_COMMON                                                 \
  {BW_OPT_ALERT_EXEC, "--alert-exec", "PROGRAM",                               \
   "run PROGRAM (no shell) at each alert transition: BW_ALERT_* variables "    \
   "and one JSON object on its stdin",                                         \
   NULL, 0},                                                                   \
      {BW_OPT_ALERT_ARG, "--alert-arg", "ARG",                                 \
       "an argument for --alert-exec's program", NULL, BW_OPT_REPEAT},        \
      {BW_OPT_ALERTMANAGER, "--alertmanager", "URL",                           \
       "post alerts to Alertmanager's API v2 at URL (e.g. "                    \
       "http://127.0.0.1:9093)",                                               \
       NULL, 0},                                                               \
      {BW_OPT_ALERT_RESEND, "--alert-resend", "MS",                            \
       "re-send firing alerts to Alertmanager this often", "60000", 0},        \
      {BW_OPT_ALERT_DOMAIN, "--alert-domain",                                  \
       "DOMAIN=bounce:PCT,complaint:PCT,min:N",                                \
       "alert thresholds and minimum volume of one sender domain (up to 64)", \
       NULL, BW_OPT_REPEAT},                                                   \
      {BW_OPT_ALERT_RESOLVE, "--alert-resolve", "RATIO",                       \
       "an alert resolves when the rate stays below RATIO x threshold for a "  \
       "whole bucket",                                                         \
       "0.75", 0}

#define BW_ALERT_OPTIONS_REPORT                                                \
  {BW_OPT_ALERTS, "--alerts", NULL,                                            \
   "also send the replay's alerts (a log line, and --alert-exec and "         \
   "--alertmanager when given)",                                               \
   NULL, BW_OPT_CLI_ONLY},                                                     \
      {BW_OPT_ALERT_TIMEOUT, "--alert-timeout", "MS",                          \
       "with --alerts: wait at most this long for deliveries", "10000", 0},    \
      BW_ALERT_OPTIONS_COMMON

typedef struct {
  int send; /* report --alerts */
  const char *exec[66]; /* argv: program, --alert-arg..., NULL */
  size_t nexec;
  const char *am_url;
  uint64_t resend_ms, timeout_ms;
  double resolve;
  const char *domains[64];
  size_t ndomains;
} bw_alert_cli_t;

void bw__alert_cli_init(bw_alert_cli_t *c);

/* Handle one option with an id >= BW_OPT_ALERT_FIRST. 0 or an exit code
 * (after saying why on stderr). */
int bw__alert_cli_option(bw_alert_cli_t *c, const char *cmd,
                         const bw_option_t *o, const char *val);

/* Build the alert options (from the aggregator's thresholds, then
 * --alert-domain) and the sink options. 0 or an exit code. */
int bw__alert_cli_finish(bw_alert_cli_t *c, const char *cmd,
                         const bw_agg_opts_t *ao, bw_alert_opts_t *alo,
                         bw_sink_opts_t *so);

#endif
