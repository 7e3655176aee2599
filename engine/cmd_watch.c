/* `bouncewatch watch`: follow logs live on one libuv loop, classify,
 * join and aggregate as `report` does, and rewrite the report JSON
 * atomically every few seconds and at exit. SIGTERM/SIGINT: read what is
 * there, write the report, exit 0; SIGUSR1: write the report now; SIGHUP:
 * reload the rules (a broken new set keeps the old one, and says why). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "cli.h"
#include "follow.h"
#include "alert_cli.h"
#include "metrics_srv.h"
#include "maildir.h"
#include "out_agg.h"
#include "pipe.h"
#include "src_journal.h"
#include "src_stdin.h"
#include "suppress_cli.h"
#include "watch_state.h"
#include "worker.h"

enum {
  OPT_STATE,
  OPT_FROM_START,
  OPT_REPORT_JSON,
  OPT_REPORT_INTERVAL,
  OPT_POLL_ONLY,
  OPT_POLL_MS,
  OPT_ROTATE_WAIT,
  OPT_RULES,
  OPT_RULES_CACHE,
  OPT_JOURNAL,
  OPT_JOURNAL_DIR,
  OPT_JOURNAL_FILE,
  OPT_MAILDIR,
  OPT_METRICS_LISTEN,
  OPT_METRICS_DOMAINS,
  OPT_HELP
};

static const bw_option_t options[] = {
    {OPT_STATE, "--state", "PATH",
     "state file (offsets and counts, for exactly-once restarts); default "
     "$STATE_DIRECTORY/bouncewatch.state, or none",
     NULL, 0},
    {OPT_FROM_START, "--from-start", NULL,
     "first read the rotated archives of each path (PATH.N, PATH.N.gz, "
     "PATH.N.zst, PATH-DATE[.gz]), oldest first",
     NULL, 0},
    {OPT_REPORT_JSON, "--report-json", "PATH",
     "rewrite the report (as `report --json`) atomically at every interval "
     "and at exit",
     NULL, 0},
    {OPT_REPORT_INTERVAL, "--report-interval", "MS",
     "how often the report and the state are written", "5000", 0},
    {OPT_POLL_ONLY, "--poll-only", NULL,
     "no inotify: follow by stat polling alone (remote file systems)", NULL,
     0},
    {OPT_POLL_MS, "--poll-interval", "MS", "stat poll interval", "1000", 0},
    {OPT_ROTATE_WAIT, "--rotate-wait", "MS",
     "keep reading a rotated file until it has been idle this long", "5000",
     0},
    {OPT_RULES, "--rules", "DIR", "classification rules directory", NULL, 0},
    {OPT_RULES_CACHE, "--rules-cache", "DIR", "compiled-rules cache", NULL, 0},
    {OPT_JOURNAL, "--journal", NULL,
     "also follow the local systemd journal (Postfix and Exim entries)", NULL,
     0},
    {OPT_JOURNAL_DIR, "--journal-dir", "DIR",
     "follow the journal files of DIR instead of the system journal", NULL, 0},
    {OPT_JOURNAL_FILE, "--journal-file", "FILE",
     "follow this journal file, e.g. one written by "
     "systemd-journal-remote",
     NULL, BW_OPT_REPEAT},
    {OPT_MAILDIR, "--maildir", "DIR",
     "also follow complaints (ARF) and bounce reports (DSN) arriving in the "
     "Maildir DIR (new/ and cur/, never modified)",
     NULL, 0},
    BW_SUPPRESS_OPTIONS,
    {OPT_METRICS_LISTEN, "--metrics-listen", "HOST:PORT",
     "serve Prometheus metrics on http://HOST:PORT/metrics (e.g. "
     "127.0.0.1:9464, or just 9464 for 127.0.0.1; port 0 picks a free one, "
     "said on stderr)",
     NULL, 0},
    {OPT_METRICS_DOMAINS, "--metrics-max-domains", "N",
     "sender domains given their own metric labels, in order of first "
     "appearance; the rest sum under \"other\"",
     "100", 0},
    BW_ALERT_OPTIONS_COMMON,
    {OPT_HELP, "--help", NULL, "show this help", NULL, BW_OPT_CLI_ONLY},
};
#define NOPTS (sizeof(options) / sizeof(options[0]))
const bw_cmd_table_t bw__watch_table = {"watch", options, NOPTS};

typedef struct {
  const char *report_json, *rules_dir, *rules_cache, *state_path;
  uint64_t report_ms;
  bw_follow_opts_t fo;
  const char **paths;
  size_t npaths;
  bw_journal_opts_t jo;
  const char **jfiles;
  int use_journal;

  uv_loop_t loop;
  uv_timer_t report_timer;
  uv_signal_t sig_term, sig_int, sig_usr1, sig_hup;
  bw_rules_t *rules;
  bw_agg_opts_t ao;
  bw_agg_t *agg;
  bw_suppress_cli_t sup;
  bw_suppress_t *suppress; /* always kept (in the state); written with
                              --suppress-out */
  bw_replay_stats_t stats;
  bw__pipe_t pipe;
  bw__worker_t wk; /* reads, parses and aggregates off the loop thread */
  bw_follow_t **follow;
  /* 2 per path (follow.h): the saved positions at start, then each
   * save's scratch (written under the pipeline lock). */
  bw_follow_pos_t *pos;
  bw_stdin_t *in; /* "-": stdin through a pipe */
  bw_journal_t *journal;
  const char *maildir;
  bw__maildir_t *md; /* --maildir: reports as one more source */
  int stopping, from_start;
  int64_t started_us;
  uint64_t last_seen; /* lines + bytes at the last report */
  const char *metrics_listen;
  uint64_t metrics_domains;
  bw_metrics_srv_t *metrics;
  uint64_t checkpoint_ms; /* uv_now() at the last state save */
  bw_alert_cli_t alert_cli;
  bw_alert_opts_t alo;
  bw_sink_opts_t so;
  bw_alerts_t *alerts; /* fed with the aggregation, under its lock */
  bw_sinks_t *sinks;   /* the loop's; the worker hands alerts over */
} watch_t;

static void usage(FILE *fp) {
  fprintf(fp, "usage: bouncewatch watch [OPTIONS] [PATH...|-]\n\n"
              "Follow Postfix/Exim logs live (files by name across rotation, "
              "stdin, the journal) and keep the report.\n\noptions:\n");
  bw__cli_help(fp, options, NOPTS);
}

static int on_option(void *ctx, const bw_option_t *o, const char *val) {
  watch_t *w = ctx;
  unsigned long long v;
  int rc;
  if (o == NULL) {
    w->paths[w->npaths++] = val;
    return 0;
  }
  switch (o->id) {
  case OPT_REPORT_JSON:
    w->report_json = val;
    return 0;
  case OPT_REPORT_INTERVAL:
  case OPT_POLL_MS:
  case OPT_ROTATE_WAIT:
    if ((rc = bw__cli_uint_opt("watch", o->name, val, 10, 3600000, &v)))
      return rc;
    if (o->id == OPT_REPORT_INTERVAL)
      w->report_ms = v;
    else if (o->id == OPT_POLL_MS)
      w->fo.poll_ms = v;
    else
      w->fo.rotate_wait_ms = v;
    return 0;
  case OPT_POLL_ONLY:
    w->fo.poll_only = 1;
    return 0;
  case OPT_FROM_START:
    w->from_start = 1;
    return 0;
  case OPT_STATE:
    w->state_path = val;
    return 0;
  case OPT_RULES:
    w->rules_dir = val;
    return 0;
  case OPT_RULES_CACHE:
    w->rules_cache = val;
    return 0;
  case OPT_JOURNAL:
    w->use_journal = 1;
    return 0;
  case OPT_JOURNAL_DIR:
    w->use_journal = 1;
    w->jo.dir = val;
    return 0;
  case OPT_JOURNAL_FILE:
    w->use_journal = 1;
    w->jfiles[w->jo.nfiles++] = val;
    return 0;
  case OPT_MAILDIR:
    w->maildir = val;
    return 0;
  case OPT_METRICS_LISTEN:
    w->metrics_listen = val;
    return 0;
  case OPT_METRICS_DOMAINS:
    if ((rc = bw__cli_uint_opt("watch", o->name, val, 1, 100000, &v)))
      return rc;
    w->metrics_domains = v;
    return 0;
  case OPT_HELP:
    usage(stdout);
    return -1;
  default:
    if (o->id >= BW_OPT_ALERT_FIRST && o->id < BW_OPT_ALERT_FIRST + 100)
      return bw__alert_cli_option(&w->alert_cli, "watch", o, val);
    return (rc = bw__suppress_cli_option(&w->sup, "watch", o, val)) == -2 ? 0
                                                                         : rc;
  }
}

static void lock_worker(void *wk) { bw__worker_lock(wk); }
static void unlock_worker(void *wk) { bw__worker_unlock(wk); }

static void feed(void *arg, const bw_event_t *ev, const bw_verdict_t *v,
                 const bw_line_ref_t *where) {
  watch_t *w = arg;
  (void)where;
  /* Alerts look at the windows before this line is added (alert.h). */
  bw__alerts_tick(w->alerts, w->agg, ev->time_us);
  bw_agg_add(w->agg, ev, v);
  bw_suppress_add(w->suppress, ev, v,
                  bw_event_failed(ev) ? bw_agg_sender_of(w->agg, ev) : NULL);
}

/* Temporary file, fsync, rename: readers see the old report or the new
 * one, never half of one. The report is built and written into the page
 * cache under the pipeline lock (a consistent moment); the fsync, the
 * slow part, comes after it, so the worker never waits for the disk. */
static void write_report(watch_t *w) {
  /* The worker adds to the list meanwhile: read it under its lock (a
   * soak run with --suppress-out died of this race: heap corruption). */
  bw__suppress_cli_write(&w->sup, w->suppress, "watch", lock_worker,
                         unlock_worker, &w->wk);
  if (w->report_json == NULL)
    return;
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", w->report_json, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (f == NULL) {
    perror(tmp);
    return;
  }
  static bw_out_t out;
  bw__worker_lock(&w->wk);
  bw_report_in_t rin = {&w->stats,
                        (double)(uv_hrtime() / 1000 - (uint64_t)w->started_us) / 1e6,
                        w->fo.max_line};
  bw_agg_report_t rep;
  bw__agg_report_build(&rep, w->agg, &w->ao, &rin);
  rep.maildir = w->md;
  rep.alerts = w->alerts;
  bw__out_init(&out, f);
  bw__agg_report_json(&out, &rep);
  bw__out_flush(&out);
  bw__agg_report_release(&rep);
  int ok = !out.error && fflush(f) == 0;
  bw__worker_unlock(&w->wk);
  ok = ok && fsync(fileno(f)) == 0;
  if (fclose(f) != 0)
    ok = 0;
  if (!ok || rename(tmp, w->report_json) != 0) {
    fprintf(stderr, "bouncewatch watch: writing %s failed\n", w->report_json);
    unlink(tmp);
  }
}

/* ---- the state file (format and checks: watch_state.c) ----------------- */

/* The positions of every followed path, the line counters and the whole
 * aggregation, written together (temporary file, fsync, rename) so they
 * always agree: after a crash the lines read since are read again and
 * counted once. */
static void save_state(watch_t *w) {
  if (w->state_path == NULL || w->pos == NULL)
    return;
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", w->state_path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    perror(tmp);
    return;
  }
  bw__watch_state_t ws = {w->paths, w->npaths, w->pos, &w->stats,
                          w->agg, w->suppress, w->alerts};
  /* Positions, cursor, counters and aggregation from one moment: the
   * worker is held off while they are copied out (no disk wait inside:
   * the fsync comes after). */
  bw__worker_lock(&w->wk);
  for (size_t i = 0; i < w->npaths; i++) {
    memset(&w->pos[2 * i], 0, 2 * sizeof(*w->pos));
    if (w->follow[i] != NULL)
      bw__follow_position(w->follow[i], &w->pos[2 * i], &w->pos[2 * i + 1]);
  }
  char *cursor = w->journal != NULL ? bw__journal_cursor(w->journal) : NULL;
  int ok = bw__watch_state_save(f, &ws, cursor) == 0;
  free(cursor);
  bw__worker_unlock(&w->wk);
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (fclose(f) != 0)
    ok = 0;
  if (!ok || rename(tmp, w->state_path) != 0) {
    fprintf(stderr, "bouncewatch watch: writing %s failed\n", w->state_path);
    unlink(tmp);
    return;
  }
  w->checkpoint_ms = uv_now(&w->loop);
}

static void metrics_alerts(void *arg, bw_metrics_in_t *in) {
  watch_t *w = arg;
  static bw_alert_counts_t c;
  bw__alerts_counts(w->alerts, &c);
  in->alerts_on = 1;
  in->alerts_firing = c.firing;
  in->alerts_fired = c.fired;
  in->alerts_resolved = c.resolved;
  in->alert_sink_dropped = w->sinks ? bw__sinks_dropped(w->sinks) : 0;
}

/* Load the state: 1 loaded, 0 none, -1 unusable (set aside; the
 * aggregation, suppression list and alerts are then half-restored and
 * must be made anew). Positions are returned per path in w->pos[2 * i]. */
static int load_state(watch_t *w, char **cursor) {
  if (w->state_path == NULL)
    return 0;
  FILE *f = fopen(w->state_path, "rb");
  if (f == NULL)
    return 0;
  bw__watch_state_t ws = {w->paths, w->npaths, w->pos, &w->stats,
                          w->agg, w->suppress, w->alerts};
  char why[512];
  int rc = bw__watch_state_load(f, &ws, cursor, why, sizeof(why));
  fclose(f);
  if (rc == 0)
    return 1;
  char aside[4200];
  snprintf(aside, sizeof(aside), "%s.bad-%ld", w->state_path, (long)time(NULL));
  fprintf(stderr, "bouncewatch watch: %s: %s\n", w->state_path, why);
  fprintf(stderr, "bouncewatch watch: %s is damaged or from another version; "
                  "set aside as %s, starting afresh\n",
          w->state_path, aside);
  rename(w->state_path, aside);
  return -1;
}

/* Only when something was read since the last time: an idle watcher
 * then costs a stat poll a second and nothing else. */
static void report_cb(uv_timer_t *t) {
  watch_t *w = t->data;
  bw__worker_lock(&w->wk);
  uint64_t seen = w->stats.lines + w->stats.long_lines + w->stats.bytes_read +
                  (w->md != NULL ? bw__maildir_activity(w->md) : 0);
  bw__worker_unlock(&w->wk);
  if (seen == w->last_seen)
    return;
  w->last_seen = seen;
  write_report(w);
  save_state(w);
}

static void stop(watch_t *w) {
  if (w->stopping)
    return;
  w->stopping = 1;
  /* From here on the sources are the loop thread's again. */
  bw__worker_stop(&w->wk);
  /* Read what is there, then save the state (positions after the last
   * complete lines), then close: with a state, an unterminated last line
   * is left for the next start to read whole. The state comes before
   * finish(), which turns deferred recipients into "pending". */
  for (size_t i = 0; i < w->npaths; i++)
    if (w->follow[i] != NULL)
      bw__follow_drain(w->follow[i]);
  if (w->journal != NULL)
    bw__journal_drain(w->journal);
  /* Exim lines split by syslog whose last part has not come: the
   * parser's slots are not in the state, so they go through now, parsed
   * as far as they go, as replay does at its end. */
  bw_line_ref_t end = {"watch", 0};
  bw__pipe_flush(&w->pipe, &end);
  if (w->md != NULL)
    bw__maildir_close(w->md); /* feeds what waits: it goes in the state */
  save_state(w);
  for (size_t i = 0; i < w->npaths; i++)
    if (w->follow[i] != NULL)
      bw__follow_close(w->follow[i], w->state_path == NULL);
  if (w->in != NULL)
    bw__stdin_close(w->in);
  if (w->journal != NULL)
    bw__journal_close(w->journal);
  bw_agg_finish(w->agg);
  write_report(w);
  bw__metrics_srv_close(w->metrics);
  w->metrics = NULL;
  bw__sinks_close(w->sinks, 10000);
  w->sinks = NULL;
  uv_close((uv_handle_t *)&w->report_timer, NULL);
  uv_close((uv_handle_t *)&w->sig_term, NULL);
  uv_close((uv_handle_t *)&w->sig_int, NULL);
  uv_close((uv_handle_t *)&w->sig_usr1, NULL);
  uv_close((uv_handle_t *)&w->sig_hup, NULL);
}

/* stdin ended: nothing more will come; finish as on SIGTERM when it was
 * the only source. */
static void stdin_eof(void *arg) {
  watch_t *w = arg;
  int files = 0;
  for (size_t i = 0; i < w->npaths; i++)
    files += w->follow[i] != NULL;
  if (files == 0 && w->journal == NULL)
    stop(w);
}

static void reload_rules(watch_t *w) {
  bw_rules_t *fresh = bw__cli_load_rules("watch", w->rules_dir, w->rules_cache);
  if (fresh == NULL) {
    fprintf(stderr, "bouncewatch watch: SIGHUP: keeping the rules in use\n");
    return;
  }
  bw_classifier_t *c = NULL;
  if (bw_classifier_new(fresh, &c) != 0 ||
      (w->md != NULL && bw__maildir_set_rules(w->md, fresh) != 0)) {
    /* (the Maildir keeps its own classifier on failure) */
    bw_classifier_free(c);
    bw_rules_free(fresh);
    return;
  }
  bw__worker_lock(&w->wk);
  bw_classifier_t *was = w->pipe.classifier;
  bw_rules_t *was_rules = w->rules;
  w->pipe.classifier = c;
  w->rules = fresh;
  bw__worker_unlock(&w->wk);
  bw_classifier_free(was);
  bw_rules_free(was_rules);
  fprintf(stderr, "bouncewatch watch: SIGHUP: rules reloaded\n");
}

static void signal_cb(uv_signal_t *s, int signum) {
  watch_t *w = s->data;
  if (signum == SIGUSR1)
    write_report(w);
  else if (signum == SIGHUP)
    reload_rules(w);
  else
    stop(w);
}

/* ---- catching up on rotated archives ----------------------------------- */

typedef struct {
  char *path;
  long long num; /* PATH.N: N; PATH-DATE: -DATE, so sorting descending puts
                    the oldest first in both schemes */
} archive_t;

static int cmp_archive(const void *x, const void *y) {
  const archive_t *a = x, *b = y;
  return a->num < b->num ? 1 : a->num > b->num ? -1 : 0;
}

static int compressed_ext(const char *p) {
  return strcmp(p, ".gz") == 0 || strcmp(p, ".zst") == 0 || *p == '\0';
}

/* The rotated siblings of path, oldest first. An archive whose
 * uncompressed twin still exists (logrotate is compressing it) is
 * skipped: the twin is read instead. Returns the count; *out is freed by
 * free_archives(). */
static size_t find_archives(const char *path, archive_t **out) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  const char *base = path;
  if (slash != NULL) {
    *slash = '\0';
    base = path + (slash - dir) + 1;
  } else {
    strcpy(dir, ".");
  }
  size_t blen = strlen(base), n = 0, cap = 0;
  archive_t *v = NULL;
  DIR *d = opendir(dir[0] ? dir : "/");
  if (d == NULL) {
    *out = NULL;
    return 0;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    if (strncmp(nm, base, blen) != 0 || (nm[blen] != '.' && nm[blen] != '-'))
      continue;
    char *end;
    long long num = strtoll(nm + blen + 1, &end, 10);
    if (end == nm + blen + 1 || !compressed_ext(end) || num < 0)
      continue;
    if (*end != '\0') {
      /* mail.log.2.gz while mail.log.2 still exists: being compressed. */
      char twin[sizeof(dir) + 258]; /* dir, '/', a name of up to 256 */
      snprintf(twin, sizeof(twin), "%s/%.*s", dir, (int)(end - nm), nm);
      if (access(twin, F_OK) == 0)
        continue;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      archive_t *nv = realloc(v, cap * sizeof(*v));
      if (nv == NULL)
        break;
      v = nv;
    }
    size_t len = strlen(dir) + 1 + strlen(nm) + 1;
    v[n].path = malloc(len);
    if (v[n].path == NULL)
      break;
    snprintf(v[n].path, len, "%s/%s", dir, nm);
    v[n].num = nm[blen] == '.' ? num : -num;
    n++;
  }
  closedir(d);
  if (n > 1)
    qsort(v, n, sizeof(*v), cmp_archive);
  *out = v;
  return n;
}

static void add_stats(bw_replay_stats_t *to, const bw_replay_stats_t *from) {
  to->bytes_read += from->bytes_read;
  to->bytes_decoded += from->bytes_decoded;
  to->lines += from->lines;
  for (int k = 0; k < BW_KIND__COUNT; k++)
    to->by_kind[k] += from->by_kind[k];
  for (int k = 0; k < 3; k++)
    to->by_mta[k] += from->by_mta[k];
  to->deliveries += from->deliveries;
  for (int k = 0; k < BW_STATUS__COUNT; k++)
    to->by_status[k] += from->by_status[k];
  for (int k = 0; k < BW_STAGE__COUNT; k++)
    to->by_stage[k] += from->by_stage[k];
  for (int c = 0; c < 6; c++) {
    to->by_dsn_class[c] += from->by_dsn_class[c];
    for (int k = 0; k < 8; k++)
      to->by_dsn_subject[c][k] += from->by_dsn_subject[c][k];
  }
  to->classified += from->classified;
  for (int k = 0; k < BW_REASON__COUNT; k++)
    to->by_reason[k] += from->by_reason[k];
  for (int k = 0; k < BW_GROUP__COUNT; k++)
    to->by_group[k] += from->by_group[k];
  to->hard += from->hard;
  to->soft += from->soft;
  to->long_lines += from->long_lines;
  to->partial_tails += from->partial_tails;
  to->files_failed += from->files_failed;
}

/* Replay the archives of paths[i] (all of them when newer_than_ns is 0,
 * else those modified after it: rotated after the file we resumed in),
 * oldest first, into the aggregation before following the live file. */
static void catch_up_one(watch_t *w, size_t i, int64_t newer_than_ns);

static void catch_up(watch_t *w) {
  for (size_t i = 0; i < w->npaths; i++)
    catch_up_one(w, i, 0);
}

static void catch_up_one(watch_t *w, size_t i, int64_t newer_than_ns) {
  {
    archive_t *a = NULL;
    size_t n = find_archives(w->paths[i], &a);
    if (newer_than_ns > 0) {
      size_t m = 0;
      for (size_t k = 0; k < n; k++) {
        struct stat st;
        int64_t t = stat(a[k].path, &st) == 0
                        ? (int64_t)st.st_mtim.tv_sec * 1000000000 +
                              st.st_mtim.tv_nsec
                        : 0;
        if (t > newer_than_ns)
          a[m++] = a[k];
        else
          free(a[k].path);
      }
      n = m;
    }
    if (n > 0) {
      const char **paths = calloc(n, sizeof(char *));
      bw_replay_opts_t ro = {0};
      ro.rules = w->rules;
      bw_replay_t *r = NULL;
      if (paths != NULL && bw_replay_new(&ro, feed, w, &r) == 0) {
        for (size_t k = 0; k < n; k++)
          paths[k] = a[k].path;
        double elapsed;
        bw__cli_run(r, paths, n, &elapsed);
        add_stats(&w->stats, bw_replay_stats(r));
        fprintf(stderr, "bouncewatch watch: %s: read %zu rotated archive%s "
                        "first\n",
                w->paths[i], n, n == 1 ? "" : "s");
      }
      bw_replay_free(r);
      free(paths);
    }
    for (size_t k = 0; k < n; k++)
      free(a[k].path);
    free(a);
  }
}

int bw__cmd_watch(int argc, char **argv) {
  watch_t *w = calloc(1, sizeof(*w));
  int rc = BW_EXIT_USAGE;
  if (w == NULL)
    return BW_EXIT_USAGE;
  w->report_ms = 5000;
  w->metrics_domains = BW_METRICS_DEFAULT_DOMAINS;
  bw__alert_cli_init(&w->alert_cli);
  w->fo.max_line = BW_DEFAULT_MAX_LINE;
  bw__suppress_cli_init(&w->sup);
  w->paths = calloc((size_t)argc + 1, sizeof(char *));
  w->follow = calloc((size_t)argc + 1, sizeof(bw_follow_t *));
  w->jfiles = calloc((size_t)argc + 1, sizeof(char *));
  char *cursor = NULL;
  int loop_ok = 0, pipe_ok = 0;
  if (w->paths == NULL || w->follow == NULL || w->jfiles == NULL)
    goto done;
  w->jo.files = w->jfiles;
  int prc = bw__cli_parse("watch", argc, argv, options, NOPTS, on_option, w);
  if (prc != 0) {
    rc = prc < 0 ? BW_EXIT_OK : prc;
    goto done;
  }
  if (w->jo.dir != NULL && w->jo.nfiles > 0) {
    fprintf(stderr, "bouncewatch watch: --journal-dir and --journal-file "
                    "exclude each other\n");
    goto done;
  }
  if (w->npaths == 0 && !w->use_journal && w->maildir == NULL) {
    fprintf(stderr, "bouncewatch watch: no paths to follow\n");
    goto done;
  }
  /* What the state file can hold (its reader refuses more): checked
   * here, or the first save would write a state no restart can read. */
  if (w->npaths >= BW__WATCH_MAX_PATHS) {
    fprintf(stderr, "bouncewatch watch: %zu paths: at most %d can be followed\n",
            w->npaths, BW__WATCH_MAX_PATHS - 1);
    goto done;
  }
  for (size_t i = 0; i < w->npaths; i++)
    if (strlen(w->paths[i]) >= BW__WATCH_MAX_STR) {
      fprintf(stderr, "bouncewatch watch: path %zu is %zu bytes long: at most "
                      "%d\n", i + 1, strlen(w->paths[i]), BW__WATCH_MAX_STR - 1);
      goto done;
    }
  w->rules = bw__cli_load_rules("watch", w->rules_dir, w->rules_cache);
  if (w->rules == NULL)
    goto done;
  bw_agg_opts_default(&w->ao);
  char prov[4096];
  snprintf(prov, sizeof(prov), "%s/providers.tsv",
           bw__cli_rules_dir(w->rules_dir));
  w->ao.providers_file = prov;
  if (w->maildir != NULL) {
    w->ao.max_joined = w->ao.max_messages * 4;
    w->ao.max_seen = 200000;
  }
  if (bw_agg_new(&w->ao, &w->agg) != 0 ||
      bw_suppress_new(&w->sup.o, &w->suppress) != 0)
    goto done;
  if ((rc = bw__alert_cli_finish(&w->alert_cli, "watch", &w->ao, &w->alo,
                                 &w->so)) != 0)
    goto done;
  rc = BW_EXIT_USAGE;
  /* Transitions happen on the worker (or the loop while catching up and
   * stopping): handed to the sinks through their thread-safe inbox. */
  if (bw__alerts_new(&w->alo, &w->ao, bw__sinks_alert_mt, NULL,
                     &w->alerts) != 0) {
    fprintf(stderr, "bouncewatch watch: alerts: out of memory\n");
    goto done;
  }
  if (bw__pipe_init(&w->pipe, w->rules, &w->stats, feed, w) != 0)
    goto done;
  pipe_ok = 1;
  if (bw__worker_init(&w->wk) != 0)
    goto done;
  if (uv_loop_init(&w->loop) != 0)
    goto done;
  loop_ok = 1;
  /* The handles stop() closes exist from here on, so any failure below
   * can go through stop(). */
  uv_timer_init(&w->loop, &w->report_timer);
  w->report_timer.data = w;
  uv_signal_t *sigs[4] = {&w->sig_term, &w->sig_int, &w->sig_usr1,
                          &w->sig_hup};
  int nums[4] = {SIGTERM, SIGINT, SIGUSR1, SIGHUP};
  for (int i = 0; i < 4; i++) {
    uv_signal_init(&w->loop, sigs[i]);
    sigs[i]->data = w;
  }
  w->started_us = (int64_t)(uv_hrtime() / 1000);
  if (bw__sinks_new(&w->loop, &w->so, &w->sinks) != 0) {
    fprintf(stderr, "bouncewatch watch: alerts: cannot start the sinks\n");
    goto done;
  }
  bw__alerts_set_cb(w->alerts, bw__sinks_alert_mt, w->sinks);

  if (w->state_path == NULL) {
    const char *sd = getenv("STATE_DIRECTORY"); /* systemd StateDirectory= */
    if (sd != NULL && *sd != '\0') {
      static char def[4096];
      snprintf(def, sizeof(def), "%s/bouncewatch.state", sd);
      w->state_path = def;
    }
  }
  w->pos = calloc(2 * w->npaths + 2, sizeof(*w->pos));
  if (w->pos == NULL)
    goto done;
  /* A file redirected to stdin is followed by name, as /dev/stdin, and
   * its position is saved under that name: the name must be the same
   * before the state is read, or a restart reads it again from the start
   * on top of the restored counts. A pipe is read as a stream. */
  for (size_t i = 0; i < w->npaths; i++)
    if (strcmp(w->paths[i], "-") == 0 && uv_guess_handle(STDIN_FILENO) == UV_FILE)
      w->paths[i] = "/dev/stdin";
  int loaded = load_state(w, &cursor);
  if (loaded < 0) {
    /* Half-restored objects are not to be trusted: make them anew. The
     * suppression list too: its section may have been taken whole
     * before a later one was refused. */
    bw_agg_free(w->agg);
    w->agg = NULL;
    bw__alerts_free(w->alerts);
    w->alerts = NULL;
    bw_suppress_free(w->suppress);
    w->suppress = NULL;
    memset(&w->stats, 0, sizeof(w->stats));
    if (bw_agg_new(&w->ao, &w->agg) != 0 ||
        bw_suppress_new(&w->sup.o, &w->suppress) != 0 ||
        bw__alerts_new(&w->alo, &w->ao, bw__sinks_alert_mt, w->sinks,
                       &w->alerts) != 0)
      goto done;
  }
  /* Alerts still firing from before the restart: Alertmanager hears of
   * them again (it forgets one not re-sent); the log and the command
   * heard of them already. */
  if (loaded == 1)
    bw__alerts_each_firing(w->alerts, bw__sinks_refire, w->sinks);
  /* The archives at a first start: with --from-start, or always when a
   * state file is kept (its absence means we never ran here). A restart
   * has them counted already. */
  if ((w->from_start || w->state_path != NULL) && loaded != 1)
    catch_up(w);
  for (size_t i = 0; i < w->npaths; i++) {
    if (strcmp(w->paths[i], "-") == 0) {
      /* A pipe (tail -F, journalctl -f): read as a stream. */
      int e = w->in != NULL ? UV_EINVAL
                            : bw__stdin_start(&w->loop, w->fo.max_line, &w->pipe,
                                              &w->wk, stdin_eof, w, &w->in);
      if (e != 0) {
        fprintf(stderr, "bouncewatch watch: stdin: %s\n", uv_strerror(e));
        goto done;
      }
      continue;
    }
    if (bw__follow_new(&w->loop, w->paths[i], &w->fo, &w->pipe, &w->wk,
                       &w->follow[i]) != 0) {
      fprintf(stderr, "bouncewatch watch: %s: out of memory\n", w->paths[i]);
      goto done;
    }
    if (loaded == 1) {
      int64_t rotated = bw__follow_resume(w->follow[i], &w->pos[2 * i],
                                          &w->pos[2 * i + 1]);
      if (rotated > 0)
        catch_up_one(w, i, rotated);
    }
    bw__follow_start(w->follow[i]);
  }
  if (w->use_journal) {
    char why[512];
    w->jo.poll_ms = w->fo.poll_ms;
    w->jo.max_line = w->fo.max_line;
    int e = bw__journal_new(&w->loop, &w->jo, &w->pipe, &w->wk, &w->journal,
                            why, sizeof(why));
    if (e != 0) {
      fprintf(stderr, "bouncewatch watch: journal: %s\n", why);
      goto done;
    }
    if (loaded == 1)
      bw__journal_resume(w->journal, cursor);
    bw__journal_start(w->journal);
  }
  if (w->maildir != NULL) {
    int mrc = bw__maildir_new(w->maildir, w->rules, 0, &w->md);
    if (mrc == 0) {
      /* Its callbacks run on the loop thread and feed the aggregation,
       * which the worker feeds too: they hold the worker off. */
      bw__maildir_set_lock(w->md, lock_worker, unlock_worker, &w->wk);
      mrc = bw__maildir_watch(w->md, &w->loop, w->fo.poll_ms,
                              w->fo.poll_only, w->agg, &w->stats.lines);
    }
    if (mrc != 0) {
      fprintf(stderr, "bouncewatch watch: %s: cannot follow the Maildir\n",
              w->maildir);
      goto done; /* every handle is set up: stop() can close them */
    }
  }
  if (w->metrics_listen != NULL) {
    bw_metrics_src_t ms = {&w->agg, &w->ao, &w->stats, w->follow, w->npaths,
                           w->state_path ? &w->checkpoint_ms : NULL,
                           w->metrics_domains, metrics_alerts, w,
                           lock_worker, unlock_worker, &w->wk};
    if (bw__metrics_srv_start(&w->loop, w->metrics_listen, &ms, &w->metrics) != 0)
      goto done; /* every handle is set up: stop() can close them */
  }
  uv_timer_start(&w->report_timer, report_cb, w->report_ms, w->report_ms);
  for (int i = 0; i < 4; i++)
    uv_signal_start(sigs[i], signal_cb, nums[i]);
  write_report(w); /* a report exists from the start */
  if (bw__worker_start(&w->wk) != 0) {
    fprintf(stderr, "bouncewatch watch: cannot start the worker thread\n");
    goto done;
  }
  uv_run(&w->loop, UV_RUN_DEFAULT);
  rc = BW_EXIT_OK;
done:
  if (loop_ok) {
    /* A start that failed half-way must not overwrite the state with
     * what it had not read yet (a journal without its cursor). */
    if (rc != BW_EXIT_OK)
      w->state_path = NULL;
    if (!w->stopping)
      stop(w);
    uv_run(&w->loop, UV_RUN_DEFAULT); /* let the close callbacks run */
    if (uv_loop_close(&w->loop) != 0)
      fprintf(stderr, "bouncewatch watch: handles left open at exit\n");
  }
  bw__worker_close(&w->wk);
  if (pipe_ok)
    bw__pipe_close(&w->pipe);
  bw__maildir_free(w->md);
  bw_agg_free(w->agg);
  bw__alerts_free(w->alerts);
  bw_suppress_free(w->suppress);
  bw_rules_free(w->rules);
  free(cursor);
  free(w->paths);
  free(w->follow);
  free(w->pos);
  free(w->jfiles);
  free(w);
  return rc;
}
