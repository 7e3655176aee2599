/* libFuzzer harness for the whole chain `watch` reads from its state file
 * at start (watch_state.h): the header (positions, journal cursor,
 * counters), then bw_agg_restore, bw_suppress_restore and
 * bw__alerts_restore, into objects made as cmd_watch.c makes them. The
 * build defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which skips
 * the header's and the sections' checksums (the fuzzer cannot forge
 * them), so the checks behind them are what is tested.
 *
 * Input: one control byte, then
 *   0: the rest IS a state file, loaded as it is;
 *   2: the rest patches a valid BWWATCH1 state (no journal cursor);
 *   else: the rest patches a valid BWWATCH2 state;
 * patches are repeated [offset: 2 bytes][length: 1 byte][bytes], XORed
 * in. The valid states are made at start: real-format lines through the
 * pipeline (parser, shipped rules) into the aggregation, suppression list
 * and alerts, positions of real files in a scratch directory, saved by
 * the same bw__watch_state_save.
 *
 * A refused state returns BW_EPARSE (or BW_ENOMEM) and leaves no cursor
 * and the counters as they were. An accepted one must hold only what the
 * loader promises (positions follow.c can take, counters without
 * pointers or samples), and then: a follower resumes from its positions
 * (the scratch log and its compressed sibling), the report (JSON and
 * text), the metrics, the alerts and the suppression list are written,
 * more lines go through, and it saves again into a state that loads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "alert.h"
#include "bouncewatch/error.h"
#include "follow.h"
#include "hash.h"
#include "metrics.h"
#include "out.h"
#include "out_agg.h"
#include "pipe.h"
#include "watch_state.h"
#include "worker.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- real-format lines ---------------------------------------------- */

/* Message i: a Postfix qmgr line and one delivery, 20 s apart, three a
 * minute from 12:00. Minutes 0-7 bounce two of three (rates over any
 * threshold: alerts fire), later ones are delivered (the 10-minute
 * window's alerts resolve). */
#define NMSG 72
#define LINE_MAX_LEN 400
static char lines[2 * NMSG][LINE_MAX_LEN];

static void make_lines(void) {
  for (int i = 0; i < NMSG; i++) {
    int m = i / 3, s = (i % 3) * 20;
    const char *dom = i % 2 ? "example.com" : "example.org";
    snprintf(lines[2 * i], LINE_MAX_LEN,
             "2024-05-01T12:%02d:%02d+00:00 mx1 postfix/qmgr[2]: 4%05X%04X: "
             "from=<a@%s>, size=1, nrcpt=1 (queue active)",
             m, s, i, i, dom);
    const char *tail;
    if (m >= 8 || i % 3 == 0)
      tail = "dsn=2.0.0, status=sent (250 ok)";
    else if (i % 3 == 1)
      tail = "dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] "
             "said: 550 5.1.1 <r@example.net>: Recipient address rejected: "
             "User unknown (in reply to RCPT TO command))";
    else
      tail = "dsn=4.2.1, status=deferred (host mx.example.net[192.0.2.1] "
             "said: 450 4.2.1 try later (in reply to RCPT TO command))";
    snprintf(lines[2 * i + 1], LINE_MAX_LEN,
             "2024-05-01T12:%02d:%02d+00:00 mx1 postfix/smtp[3]: 4%05X%04X: "
             "to=<r%d@example.net>, relay=mx.example.net[192.0.2.1]:25, "
             "delay=1, delays=0/0/0/1, %s",
             m, s + 1, i, i, i, tail);
  }
}

/* ---- the objects watch keeps ---------------------------------------- */

static bw_agg_opts_t ao;
static bw_suppress_opts_t so;
static bw_alert_opts_t alo;
static bw_rules_t *rules;
static bw__pipe_t pipe_;
static uv_loop_t loop;
static bw__worker_t wk;
static bw_follow_opts_t fo = {1, 1000, 5000, 2048};
static uint64_t transitions;
static int verbose; /* FUZZ_WHY=1: say why each refused state was */

typedef struct {
  bw_agg_t *agg;
  bw_suppress_t *sup;
  bw_alerts_t *al;
  bw_replay_stats_t stats;
  bw_follow_pos_t pos[6];
} world_t;

/* The scratch directory: the live log, and the file that was the log
 * when the state was saved, compressed while "stopped". */
static char dir[64], log_path[96], gz_path[96];
static const char *paths[3] = {log_path, "/var/log/exim4/mainlog", "-"};

static void on_alert(void *arg, const bw_alert_t *a, int resolved) {
  (void)arg;
  CHECK(a->kind == BW_ALERT_BOUNCE || a->kind == BW_ALERT_COMPLAINT);
  CHECK(strlen(a->domain) < sizeof(a->domain));
  transitions += (uint64_t)resolved + 1;
}

/* As cmd_watch.c's feed(). */
static void feed(void *arg, const bw_event_t *ev, const bw_verdict_t *v,
                 const bw_line_ref_t *where) {
  world_t *w = arg;
  (void)where;
  bw__alerts_tick(w->al, w->agg, ev->time_us);
  bw_agg_add(w->agg, ev, v);
  bw_suppress_add(w->sup, ev, v, bw_agg_sender_of(w->agg, ev));
}

static void world_new(world_t *w) {
  memset(w, 0, sizeof(*w));
  CHECK(bw_agg_new(&ao, &w->agg) == 0);
  CHECK(bw_suppress_new(&so, &w->sup) == 0);
  CHECK(bw__alerts_new(&alo, &ao, on_alert, NULL, &w->al) == 0);
}

static void world_free(world_t *w) {
  bw_agg_free(w->agg);
  bw_suppress_free(w->sup);
  bw__alerts_free(w->al);
}

static void run_lines(world_t *w, int from, int to) {
  pipe_.stats = &w->stats;
  pipe_.cb_arg = w;
  for (int i = from; i < to; i++) {
    bw_line_ref_t where = {"fuzz", (uint64_t)i + 1};
    bw__pipe_line(&pipe_, lines[i], strlen(lines[i]), &where);
  }
  bw_line_ref_t end = {"fuzz", 0};
  bw__pipe_flush(&pipe_, &end);
}

static char *save(world_t *w, const char *cursor, size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  CHECK(f != NULL);
  bw__watch_state_t ws = {paths, 3, w->pos, &w->stats, w->agg, w->sup, w->al};
  CHECK(bw__watch_state_save(f, &ws, cursor) == 0);
  CHECK(fclose(f) == 0);
  return buf;
}

static int load(world_t *w, const char *buf, size_t len, char **cursor) {
  FILE *f = fmemopen((void *)(uintptr_t)buf, len > 0 ? len : 1, "rb");
  CHECK(f != NULL);
  if (len == 0)
    fgetc(f); /* an empty file: at its end at once */
  bw__watch_state_t ws = {paths, 3, w->pos, &w->stats, w->agg, w->sup, w->al};
  char why[512];
  int rc = bw__watch_state_load(f, &ws, cursor, why, sizeof(why));
  fclose(f);
  CHECK(rc == 0 || rc == BW_EPARSE || rc == BW_ENOMEM);
  CHECK(rc == 0 || (*cursor == NULL && why[0] != '\0'));
  if (rc != 0 && verbose)
    fprintf(stderr, "refused: %s\n", why);
  return rc;
}

/* ---- the valid states ----------------------------------------------- */

static char *valid, *valid_v1;
static size_t valid_len, valid_v1_len;

static void write_file(const char *path, int from, int to, int gz) {
  gzFile z = gz ? gzopen(path, "wb") : NULL;
  FILE *f = gz ? NULL : fopen(path, "wb");
  CHECK(z != NULL || f != NULL);
  for (int i = from; i < to; i++) {
    if (gz) {
      CHECK(gzputs(z, lines[i]) >= 0 && gzputs(z, "\n") >= 0);
    } else {
      CHECK(fputs(lines[i], f) >= 0 && fputc('\n', f) != EOF);
    }
  }
  CHECK(gz ? gzclose(z) == Z_OK : fclose(f) == 0);
}

/* A position as follow.c's pos_of() makes it for a plain file read up to
 * the end of line `upto` of the lines written from `from`. */
static void plain_pos(bw_follow_pos_t *p, const struct stat *st, int from,
                      int upto) {
  char head[BW_FOLLOW_HEAD];
  size_t off = 0, hl = 0;
  for (int i = from; i < upto; i++) {
    size_t n = strlen(lines[i]);
    for (size_t k = 0; k <= n && hl < sizeof(head); k++)
      head[hl++] = k < n ? lines[i][k] : '\n';
    off += n + 1;
  }
  memset(p, 0, sizeof(*p));
  p->dev = (uint64_t)st->st_dev;
  p->ino = (uint64_t)st->st_ino;
  p->offset = off;
  p->head_len = (uint32_t)(hl < off ? hl : off);
  p->head_hash = bw__hash_bytes(0x1234567ull, head, p->head_len);
  p->valid = BW_POS_BYTES;
}

static void cleanup(void) {
  unlink(log_path);
  unlink(gz_path);
  rmdir(dir);
}

static void setup(void) {
  verbose = getenv("FUZZ_WHY") != NULL;
  make_lines();
  bw_agg_opts_default(&ao);
  ao.windows_s[0] = 600;
  ao.windows_s[1] = 3600;
  ao.bucket_s = 60;
  ao.min_volume = 3;
  ao.max_messages = 16;
  ao.max_domains = 8;
  ao.providers_file = BW_FUZZ_PATTERNS "/providers.tsv";
  bw_suppress_opts_default(&so);
  so.max_entries = 32;
  bw__alert_opts_default(&alo, &ao);
  alo.max_history = 16;
  bw_rules_opts_t ro = {"", stderr};
  unsigned nerr = 0;
  CHECK(bw_rules_load(BW_FUZZ_PATTERNS, &ro, &rules, &nerr) == 0);
  CHECK(bw__pipe_init(&pipe_, rules, NULL, feed, NULL) == 0);
  CHECK(uv_loop_init(&loop) == 0);
  CHECK(bw__worker_init(&wk) == 0);

  /* Lines 0-89 are counted in the state; the live log holds 80-109 and
   * was read to line 90 (its first 10 lines); the file that was the log
   * before (lines 110-129, saved at line 120) was compressed while
   * stopped, under a new inode. */
  snprintf(dir, sizeof(dir), "/tmp/bw-fuzz-wstate-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(log_path, sizeof(log_path), "%s/mail.log", dir);
  snprintf(gz_path, sizeof(gz_path), "%s/mail.log.1.gz", dir);
  atexit(cleanup);
  write_file(log_path, 80, 110, 0);
  write_file(gz_path, 110, 130, 1);
  struct stat st, gst;
  CHECK(stat(log_path, &st) == 0 && stat(gz_path, &gst) == 0);

  world_t w;
  world_new(&w);
  run_lines(&w, 0, 90);
  plain_pos(&w.pos[0], &st, 80, 90);
  plain_pos(&w.pos[1], &gst, 110, 120);
  w.pos[1].ino ^= 0x5555;          /* the plain file's inode, gone since */
  w.pos[2].valid = BW_POS_DECODED; /* exim's mainlog: a .gz being written */
  w.pos[2].dev = 2049;
  w.pos[2].ino = 131;
  w.pos[2].offset = 7777;
  w.pos[2].head_len = 64;
  w.pos[2].head_hash = 0x0123456789abcdefull;
  valid = save(&w, "s=6c5a;i=2f1;b=0dd1;m=4a3;t=61f0a;x=9b2", &valid_len);
  CHECK(valid_len < 65536); /* every byte within a patch's reach */
  size_t n;
  bw__alerts_list(w.al, &n, NULL);
  CHECK(n > 0); /* the alert section has episodes to damage */
  world_free(&w);

  /* The same as BWWATCH1: no cursor; the checksum without it. */
  size_t at = 12, cur_at;
  uint64_t h = bw__hash_bytes(0x9E3779B97F4A7C15ull, valid + 8, 4);
  for (int i = 0; i < 3; i++) {
    uint32_t len;
    memcpy(&len, valid + at, 4);
    h = bw__hash_bytes(h, valid + at + 4, len);
    h = bw__hash_bytes(h, valid + at + 4 + len, 2 * sizeof(bw_follow_pos_t));
    at += 4 + len + 2 * sizeof(bw_follow_pos_t);
  }
  cur_at = at;
  uint32_t clen;
  memcpy(&clen, valid + at, 4);
  at += 4 + clen;
  h = bw__hash_bytes(h, valid + at, sizeof(bw_replay_stats_t));
  valid_v1_len = valid_len - 4 - clen;
  CHECK((valid_v1 = malloc(valid_v1_len)) != NULL);
  memcpy(valid_v1, "BWWATCH1", 8);
  memcpy(valid_v1 + 8, valid + 8, cur_at - 8);
  memcpy(valid_v1 + cur_at, valid + at, valid_len - at);
  memcpy(valid_v1 + cur_at + sizeof(bw_replay_stats_t), &h, 8);
}

/* ---- what a restored state must stand ------------------------------- */

static void check_loaded(world_t *w, const char *cursor, int v1) {
  for (int i = 0; i < 6; i++) {
    const bw_follow_pos_t *p = &w->pos[i];
    CHECK(p->valid == BW_POS_NONE || p->valid == BW_POS_BYTES ||
          p->valid == BW_POS_DECODED);
    CHECK(p->head_len <= BW_FOLLOW_HEAD && p->offset <= (uint64_t)INT64_MAX);
    CHECK(p->valid != BW_POS_NONE ||
          (p->offset == 0 && p->head_len == 0 && p->dev == 0 && p->ino == 0));
  }
  CHECK(w->stats.files == NULL && w->stats.nfiles == 0 && w->stats.nskips == 0);
  CHECK(v1 ? cursor == NULL
           : cursor != NULL && strlen(cursor) < BW__WATCH_MAX_STR);
}

static void render(world_t *w) {
  static bw_out_t out;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK(f != NULL);
  bw_report_in_t rin = {&w->stats, 1.5, fo.max_line};
  bw_agg_report_t rep;
  bw__agg_report_build(&rep, w->agg, &ao, &rin);
  rep.alerts = w->al;
  bw__out_init(&out, f);
  bw__agg_report_json(&out, &rep);
  bw__agg_report_text(&out, &rep);
  bw__alerts_text(&out, w->al);
  bw__out_flush(&out);
  bw__agg_report_release(&rep);
  for (int fmt = 0; fmt < 3; fmt++)
    bw_suppress_write(w->sup, (bw_suppress_format_t)fmt, f, NULL);
  CHECK(fclose(f) == 0);
  free(buf);

  bw_alert_counts_t c;
  bw__alerts_counts(w->al, &c);
  bw_metrics_in_t in;
  memset(&in, 0, sizeof(in));
  in.agg = w->agg;
  in.ao = &ao;
  in.stats = &w->stats;
  in.checkpoint_age_s = 1;
  in.max_domains = 4;
  in.alerts_firing = c.firing;
  in.alerts_fired = c.fired;
  in.alerts_resolved = c.resolved;
  in.alerts_on = 1;
  buf = NULL;
  if (bw__metrics_render(&in, &buf, &len) == 0)
    free(buf);

  bw_suppress_entry_t *v = NULL;
  size_t n = bw_suppress_list(w->sup, &v);
  CHECK(n <= so.max_entries);
  free(v);
  uint64_t dropped = 0;
  const bw_alert_t *a = bw__alerts_list(w->al, &n, &dropped);
  CHECK(n <= alo.max_history);
  for (size_t i = 0; i < n; i++)
    CHECK(a[i].nreasons <= BW_ALERT_TOP && strlen(a[i].domain) < 256);
}

/* A follower on the scratch log resumes from the restored positions (as
 * cmd_watch.c does for each path), reads what is there, and closes. */
static void follow_from(world_t *w) {
  pipe_.stats = &w->stats;
  pipe_.cb_arg = w;
  bw_follow_t *fl = NULL;
  CHECK(bw__follow_new(&loop, log_path, &fo, &pipe_, &wk, &fl) == 0);
  bw__follow_resume(fl, &w->pos[0], &w->pos[1]);
  bw__follow_close(fl, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
}

/* Before the first input: compiling the shipped rules takes seconds
 * (more on a loaded machine), which must not count against -timeout. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  setup();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  char *buf;
  size_t len;
  if (data[0] == 0) {
    len = size - 1;
    CHECK((buf = malloc(len + 1)) != NULL);
    memcpy(buf, data + 1, len);
  } else {
    const char *base = data[0] == 2 ? valid_v1 : valid;
    len = data[0] == 2 ? valid_v1_len : valid_len;
    CHECK((buf = malloc(len)) != NULL);
    memcpy(buf, base, len);
    fuzz_patch(buf, len, data, 1, size);
  }

  world_t w;
  world_new(&w);
  w.stats.lines = 12345; /* kept when the load fails */
  char *cursor = NULL;
  int rc = load(&w, buf, len, &cursor);
  if (rc != 0) {
    CHECK(w.stats.lines == 12345);
  } else {
    check_loaded(&w, cursor, len >= 8 && memcmp(buf, "BWWATCH1", 8) == 0);
    bw__alerts_each_firing(w.al, on_alert, NULL);
    render(&w);
    follow_from(&w);
    run_lines(&w, 90, 2 * NMSG); /* the lines since, and more */
    render(&w);

    /* What a restored state saves must load again: else the next restart
     * sets the state aside. */
    size_t len2;
    char *again = save(&w, cursor, &len2);
    world_t w2;
    world_new(&w2);
    char *cursor2 = NULL;
    CHECK(load(&w2, again, len2, &cursor2) == 0);
    CHECK(cursor2 != NULL && strcmp(cursor ? cursor : "", cursor2) == 0);
    render(&w2);
    free(cursor2);
    world_free(&w2);
    free(again);

    /* At stop: the windows end, the last evaluation runs. */
    bw_agg_finish(w.agg);
    bw__alerts_finish(w.al, w.agg);
    render(&w);
  }
  free(cursor);
  world_free(&w);
  free(buf);
  return 0;
}
