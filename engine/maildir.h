/* The Maildir source: feedback-loop complaints and bounce DSNs read from
 * DIR/new and DIR/cur (never modified), parsed by mailreport.c, their
 * diagnostics classified, and fed to the aggregation at their log time.
 * `report --maildir` scans once and feeds the reports as the log's time
 * passes theirs; `watch --maildir` follows the directory on the loop.
 * Internal to the engine. */
#ifndef BW_MAILDIR_H
#define BW_MAILDIR_H

#include <stdint.h>
#include <uv.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/classify.h"
#include "out_buf.h"

#define BW_MAILDIR_MAX_BYTES (16u << 20) /* default cap on one mail */

typedef struct bw__maildir_s bw__maildir_t;

/* dir is borrowed (must outlive m); rules may be NULL (failed
 * recipients are then counted with reason "undefined"). */
int bw__maildir_new(const char *dir, const bw_rules_t *rules,
                    uint64_t max_bytes, bw__maildir_t **out);
void bw__maildir_free(bw__maildir_t *m);

/* Read the files of new/ and cur/ not counted before (their identity,
 * the file name's unique part and the size, is remembered in agg, so a
 * message moved from new/ to cur/ or seen again after a restart counts
 * once), parse them and queue what they report, in log-time order.
 * Returns 0, or BW_EIO when the directory cannot be read (said on
 * stderr once per distinct problem). */
int bw__maildir_scan(bw__maildir_t *m, bw_agg_t *agg);

/* Feed the queued reports whose time is <= until_us (INT64_MAX: all). */
void bw__maildir_feed(bw__maildir_t *m, bw_agg_t *agg, int64_t until_us);

/* Live: scan now, then on directory events (uv_fs_event on new/ and cur/,
 * unless poll_only) and on a poll every poll_ms that rescans when a
 * directory's mtime changed. A report is fed when the log time (agg's
 * last) passes its own, or at a poll tick that finds *log_lines (the
 * watcher's line counter, may be NULL) unchanged since the last tick. */
int bw__maildir_watch(bw__maildir_t *m, uv_loop_t *loop, uint64_t poll_ms,
                      int poll_only, bw_agg_t *agg,
                      const uint64_t *log_lines);
/* Live: lock and unlock (with arg) are called around the work of each
 * callback, and of bw__maildir_close (watch passes its worker lock: the
 * aggregation is fed from the worker thread too). Call before
 * bw__maildir_watch. */
void bw__maildir_set_lock(bw__maildir_t *m, void (*lock)(void *),
                          void (*unlock)(void *), void *arg);

/* A new classifier from rules (a SIGHUP reload), replacing the one made
 * from the rules given to bw__maildir_new, which may then be freed.
 * BW_ENOMEM keeps the old one. */
int bw__maildir_set_rules(bw__maildir_t *m, const bw_rules_t *rules);

/* Feed what still waits, then close the live handles (their close
 * callbacks run on the loop). */
void bw__maildir_close(bw__maildir_t *m);

/* Grows with every file read: lets the watcher see there is news. */
uint64_t bw__maildir_activity(const bw__maildir_t *m);

/* The "maildir" member of the report: what was read, skipped and why,
 * how the reports joined, and samples. */
void bw__maildir_json(bw_out_t *o, const bw__maildir_t *m,
                      const bw_agg_mail_totals_t *t);
void bw__maildir_text(bw_out_t *o, const bw__maildir_t *m,
                      const bw_agg_mail_totals_t *t);
/* The same as an HTML section (escaped), appended to the page. */
void bw__maildir_html(FILE *f, const bw__maildir_t *m,
                      const bw_agg_mail_totals_t *t);

#endif
