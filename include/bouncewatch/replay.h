/* Replay: read log files (plain, zstd, gzip; "-" is stdin) in order and
 * turn every line into a bw_event_t, counting everything.
 *
 * One reader thread opens, reads and decodes; the calling thread splits
 * lines, parses them and runs the event callback. They exchange a fixed
 * ring of blocks, so memory is bounded whatever the input size, and a
 * slow consumer holds the reader back (backpressure). */
#ifndef BOUNCEWATCH_REPLAY_H
#define BOUNCEWATCH_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "bouncewatch/classify.h"
#include "bouncewatch/decode.h"
#include "bouncewatch/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  size_t max_line;              /* 0: BW_DEFAULT_MAX_LINE (64 KiB) */
  unsigned zstd_window_log_max; /* 0: 27 (128 MiB) */
  size_t block_size;            /* 0: 128 KiB */
  unsigned blocks;              /* 0: 4 blocks in flight */
  /* Rules to classify deferred, bounced and expired deliveries with;
   * NULL: no classification. Borrowed: must outlive the replay. */
  const bw_rules_t *rules;
  /* Called on the consuming thread after each block (never per line):
   * file index and the bytes of that file read so far. NULL: none. */
  void (*progress_cb)(void *arg, size_t file, uint64_t file_bytes_read);
  void *progress_arg;
} bw_replay_opts_t;

/* Where an event came from. `path` lives as long as the replay. */
typedef struct {
  const char *path;
  uint64_t line_no;
} bw_line_ref_t;

/* Called on the thread that runs bw_replay_run(), once per parsed line
 * (every kind, UNKNOWN included), in input order. `verdict` is the
 * classification of a deferred, bounced, expired or soft-bounced
 * delivery, NULL for every other line (sent deliveries are never
 * classified: they do not pay for the reason database). The event, its
 * spans and the verdict are valid only during the call. Must not call
 * back into the replay. */
typedef void (*bw_event_cb)(void *arg, const bw_event_t *ev,
                            const bw_verdict_t *verdict,
                            const bw_line_ref_t *where);

typedef struct {
  const char *path;
  bw_format_t format;
  uint64_t bytes_read;    /* bytes read from the file */
  uint64_t bytes_decoded; /* bytes after decompression */
  uint64_t lines;         /* lines parsed */
  uint64_t long_lines;    /* lines over max_line, skipped */
  uint64_t tail_bytes;    /* partial last line dropped after an error */
  int error;              /* 0 or BW_E* */
  char errmsg[320];       /* what went wrong, for people */
  uint64_t error_offset;  /* decoded byte offset of the error */
  int64_t mtime;          /* reference time used for RFC 3164 years */
} bw_file_stats_t;

/* A skipped line or tail, remembered for the summary (the first
 * BW_SKIP_SAMPLES; all are counted). */
#define BW_SKIP_SAMPLES 32
typedef struct {
  size_t file;      /* index into files[] */
  uint64_t line_no; /* line number (for a tail: the line it would be) */
  uint64_t bytes;
  const char *why;  /* "longer than max_line", "partial line at error" */
} bw_skip_t;

typedef struct {
  uint64_t bytes_read, bytes_decoded;
  uint64_t lines; /* parsed lines = sum of by_kind */
  uint64_t by_kind[BW_KIND__COUNT];
  uint64_t by_mta[3]; /* indexed by bw_mta_t */
  uint64_t deliveries;
  uint64_t by_status[BW_STATUS__COUNT];
  uint64_t by_stage[BW_STAGE__COUNT];
  uint64_t by_dsn_class[6];      /* [2], [4], [5]; [0] = none */
  uint64_t by_dsn_subject[6][8]; /* [class][subject] */
  uint64_t classified;           /* deliveries given a reason */
  uint64_t by_reason[BW_REASON__COUNT];
  uint64_t by_group[BW_GROUP__COUNT];
  uint64_t hard, soft;           /* classified deliveries by hardness */
  uint64_t long_lines;           /* skipped: over max_line */
  uint64_t partial_tails;        /* skipped: partial line at a decode error */
  bw_skip_t skips[BW_SKIP_SAMPLES];
  size_t nskips;
  size_t nfiles;
  bw_file_stats_t *files;
  uint64_t files_failed; /* files with error != 0 */
} bw_replay_stats_t;

typedef struct bw_replay_s bw_replay_t;

/* opts may be NULL. cb may be NULL (count only). */
int bw_replay_new(const bw_replay_opts_t *opts, bw_event_cb cb, void *arg,
                  bw_replay_t **out);
void bw_replay_free(bw_replay_t *r);

/* Read paths[0..n) in order. Errors in one file are recorded in its
 * bw_file_stats_t and the run goes on with the next. Returns 0 when every
 * file was read completely, BW_EIO-class codes of the first failing file
 * otherwise, or BW_ENOMEM if the run could not start. May be called once
 * per replay. */
int bw_replay_run(bw_replay_t *r, const char *const *paths, size_t n);

/* Valid until bw_replay_free(). */
const bw_replay_stats_t *bw_replay_stats(const bw_replay_t *r);

/* The line cap in effect (the option, or its default). */
size_t bw_replay_max_line(const bw_replay_t *r);

#ifdef __cplusplus
}
#endif
#endif
