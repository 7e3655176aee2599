/* Following a log file across rotation. The loop thread only turns
 * directory events and poll ticks into jobs; the checks (stat, read,
 * decode, split, parse) run on the watch worker in bounded chunks (a
 * check reads at most CHECK_BUDGET bytes, then queues itself again
 * behind the other sources). A file
 * whose first bytes are a gzip or zstd magic is decoded as it grows
 * (rsyslog's zipLevel, `zstd` writing a stream): input that ends inside a
 * frame means "more to come" while the file is followed, and "truncated"
 * only once it is closed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bouncewatch/decode.h"
#include "bouncewatch/error.h"
#include "dec.h"
#include "follow.h"
#include "hash.h"

#define CHUNK (256 * 1024)
/* 1 MiB: a few ms of parsing, the longest the pipeline lock is held for
 * the report and the other sources to wait. */
#define CHECK_BUDGET (1u << 20)
#define MARK 32 /* bytes before the offset kept as the truncation check */

typedef struct {
  int fd;
  dev_t dev;
  ino_t ino;
  uint64_t offset; /* bytes of the file read (compressed ones if it is) */
  bw_splitter_t split;
  int fmt;            /* a bw_format_t; -1 until the first bytes are seen */
  bw_decoder_t *dec;  /* a compressed file's decoder (owned) */
  uint64_t dec_off;   /* decoded bytes so far, those skipped included */
  uint64_t skip_to;   /* resume: decoded bytes before this were counted */
  int dead;           /* undecodable: nothing more is read from it */
  uint64_t idle_since_ms; /* rotated file: when it last grew */
  char mark[MARK];        /* the MARK bytes before offset */
  size_t marklen;
} file_t;

struct bw_follow_s {
  uv_loop_t *loop;
  bw_follow_opts_t o;
  bw__pipe_t *pipe;
  char *path, *dir, *base;
  file_t cur, old; /* old: a rotated file still being drained */
  uv_fs_event_t ev;
  uv_timer_t poll;
  bw__worker_t *wk;
  bw__job_t job;
  int handles; /* open libuv handles; free at 0 after close */
  int closing;
  char *buf;
  uint8_t *dbuf; /* decoded output, for compressed files */
  bw_follow_stats_t st;
};

/* The stream state of a file read from its first byte (again). */
static void stream_reset(file_t *f) {
  f->offset = 0;
  f->marklen = 0;
  f->fmt = -1;
  if (f->dec != NULL)
    bw_decoder_reset(f->dec);
  f->dec_off = 0;
  f->skip_to = 0;
  f->dead = 0;
}

/* Forget the file (its decoder is freed or handed on by the caller). */
static void file_reset(file_t *f) {
  f->fd = -1;
  f->dec = NULL;
  stream_reset(f);
  f->idle_since_ms = 0;
}

static int is_compressed(int fmt) {
  return fmt == BW_FMT_GZIP || fmt == BW_FMT_ZSTD;
}

static void deliver(void *arg, const char *line, size_t len, uint64_t no) {
  bw_follow_t *f = arg;
  bw_line_ref_t where = {f->path, no};
  bw__pipe_line(f->pipe, line, len, &where);
}

static void long_line(void *arg, uint64_t no, uint64_t len) {
  bw_follow_t *f = arg;
  (void)len;
  (void)no;
  f->pipe->stats->long_lines++;
}

/* The first bytes decide the format, as replay's magic dispatch does. A
 * file shorter than a magic whose first byte could start one is waited
 * for. Returns 0 when the format is known. */
static int detect(bw_follow_t *f, file_t *x) {
  uint8_t m[BW_MAGIC_MAX];
  ssize_t k = pread(x->fd, m, BW_MAGIC_MAX, 0);
  if (k <= 0)
    return -1;
  if (k < BW_MAGIC_MAX && (m[0] == 0x28 || (m[0] & 0xF0) == 0x50 ||
                           m[0] == 0x1F || m[0] == 0xFD || m[0] == 'B' ||
                           m[0] == 0x04 || m[0] == 0x02))
    return -1;
  x->fmt = (int)bw_format_detect(m, (size_t)k);
  if (is_compressed(x->fmt)) {
    if (x->dec != NULL && x->dec->fmt != (bw_format_t)x->fmt) {
      bw_decoder_free(x->dec);
      x->dec = NULL;
    }
    if (x->dec == NULL && bw_decoder_new((bw_format_t)x->fmt, NULL, &x->dec) != 0) {
      fprintf(stderr, "bouncewatch: %s: out of memory for a decoder\n", f->path);
      x->dead = 1;
    }
  } else if (x->fmt != BW_FMT_PLAIN) {
    fprintf(stderr, "bouncewatch: %s: %s-compressed input is not supported; "
                    "not read\n",
            f->path, bw_format_name((bw_format_t)x->fmt));
    x->dead = 1;
    f->pipe->stats->files_failed++;
  }
  return 0;
}

/* Decoded bytes into the splitter, past those a resume skips. */
static void feed_decoded(file_t *x, const char *p, size_t n,
                         const bw_line_sink_t *sink) {
  if (x->dec_off < x->skip_to) {
    uint64_t cut = x->skip_to - x->dec_off;
    if (cut >= n) {
      x->dec_off += n;
      return;
    }
    p += cut;
    n -= (size_t)cut;
    x->dec_off += cut;
  }
  bw_splitter_feed(&x->split, p, n, sink);
  x->dec_off += n;
}

/* k bytes read at x->offset through the decoder; returns the bytes it
 * consumed (all of them unless it failed). */
static size_t decode(bw_follow_t *f, file_t *x, size_t k,
                     const bw_line_sink_t *sink) {
  size_t pos = 0;
  for (;;) {
    size_t used, made;
    int rc = bw_decoder_run(x->dec, (const uint8_t *)f->buf + pos, k - pos,
                            &used, f->dbuf, CHUNK, &made);
    pos += used;
    feed_decoded(x, (const char *)f->dbuf, made, sink);
    f->pipe->stats->bytes_decoded += made;
    if (rc != 0) {
      /* The lines before the damage are counted; the file is not read
       * further (nothing after a corrupt block can be trusted) until it
       * is replaced or truncated. */
      fprintf(stderr, "bouncewatch: %s: %s at byte %llu (decoded offset "
                      "%llu); not read further\n",
              f->path, bw_decoder_errmsg(x->dec),
              (unsigned long long)(x->offset + pos),
              (unsigned long long)x->dec_off);
      x->dead = 1;
      f->pipe->stats->files_failed++;
      return pos;
    }
    /* Out of input and the output not full: nothing more is pending. */
    if ((pos == k && made < CHUNK) || (used == 0 && made == 0))
      return pos;
  }
}

/* Read what is there, up to budget bytes; returns bytes read. */
static uint64_t drain(bw_follow_t *f, file_t *x, uint64_t budget) {
  bw_line_sink_t sink = {deliver, long_line, f};
  uint64_t got = 0;
  if (x->dead || (x->fmt < 0 && detect(f, x) != 0) || x->dead)
    return 0;
  while (got < budget) {
    ssize_t k = pread(x->fd, f->buf, CHUNK, (off_t)x->offset);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    if (x->dec != NULL) {
      /* A frame cut by the end of the file is kept inside the decoder:
       * the rest comes with the next write. */
      k = (ssize_t)decode(f, x, (size_t)k, &sink);
    } else {
      bw_splitter_feed(&x->split, f->buf, (size_t)k, &sink);
      f->pipe->stats->bytes_decoded += (uint64_t)k;
    }
    /* Keep the last MARK bytes before the new offset. */
    if ((size_t)k >= MARK) {
      memcpy(x->mark, f->buf + k - MARK, MARK);
      x->marklen = MARK;
    } else {
      size_t keep = x->marklen + (size_t)k > MARK ? MARK - (size_t)k : x->marklen;
      memmove(x->mark, x->mark + x->marklen - keep, keep);
      memcpy(x->mark + keep, f->buf, (size_t)k);
      x->marklen = keep + (size_t)k;
    }
    x->offset += (uint64_t)k;
    got += (uint64_t)k;
    f->st.bytes += (uint64_t)k;
    f->pipe->stats->bytes_read += (uint64_t)k;
    if (x->dead)
      break;
  }
  return got;
}

/* tail_is_line: the file is finished (rotated away and idle, or the
 * last stop without a state), so an unterminated last line counts and a
 * compressed file that ends inside a frame is truncated. Otherwise (a
 * state will resume it) both are left for the next start. */
static void file_close(bw_follow_t *f, file_t *x, int tail_is_line) {
  if (x->fd < 0)
    return;
  bw_line_sink_t sink = {deliver, long_line, f};
  int cut = 0;
  if (tail_is_line && x->dec != NULL && !x->dead &&
      bw_decoder_finish(x->dec) != 0) {
    cut = 1;
    fprintf(stderr, "bouncewatch: %s: %s, at byte %llu (decoded offset "
                    "%llu) when the file was closed\n",
            f->path, bw_decoder_errmsg(x->dec), (unsigned long long)x->offset,
            (unsigned long long)x->dec_off);
  }
  /* After a cut or a decode error the last partial line is a fragment. */
  if (bw_splitter_end(&x->split, tail_is_line && !cut && !x->dead, &sink) > 0 &&
      tail_is_line)
    f->pipe->stats->partial_tails++;
  close(x->fd);
  bw_decoder_free(x->dec);
  file_reset(x);
}

static int file_open(bw_follow_t *f, file_t *x) {
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  x->fd = fd;
  x->dev = st.st_dev;
  x->ino = st.st_ino;
  stream_reset(x);
  bw_splitter_reset(&x->split);
  return 0;
}

/* XXX: a heuristic, as in coreutils tail and fluent-bit: a file truncated
 * and grown back past our offset between two looks is only seen because
 * the bytes just before the offset changed. */
static int rewritten(bw_follow_t *f, file_t *x) {
  if (x->marklen == 0 || x->offset < x->marklen)
    return 0;
  char now[MARK];
  ssize_t k = pread(x->fd, now, x->marklen, (off_t)(x->offset - x->marklen));
  (void)f;
  return k != (ssize_t)x->marklen || memcmp(now, x->mark, x->marklen) != 0;
}

#define HEAD BW_FOLLOW_HEAD /* bytes of a file's start that identify it */

/* Hash of the first min(HEAD, limit) bytes of fd; *len gets the count. */
static uint64_t head_hash(int fd, uint64_t limit, uint32_t *len) {
  char b[HEAD];
  size_t want = limit < HEAD ? (size_t)limit : HEAD;
  ssize_t k = want > 0 ? pread(fd, b, want, 0) : 0;
  if (k < 0)
    k = 0;
  *len = (uint32_t)k;
  return bw__hash_bytes(0x1234567ull, b, (size_t)k);
}

static void pos_of(const file_t *x, bw_follow_pos_t *p) {
  memset(p, 0, sizeof(*p));
  if (x->fd < 0)
    return;
  p->dev = (uint64_t)x->dev;
  p->ino = (uint64_t)x->ino;
  /* After the last complete line: the partial one is read again. */
  uint64_t partial = x->split.carry_len + (x->split.skipping ? x->split.skip_len : 0);
  if (x->dec != NULL) {
    /* No way to enter a gzip or zstd stream in the middle: a restart
     * decodes from the start and skips what was counted (exact; costs a
     * decode of the file's start). */
    p->valid = BW_POS_DECODED;
    p->offset = x->dec_off - partial;
    if (p->offset < x->skip_to)
      p->offset = x->skip_to;
    p->head_hash = head_hash(x->fd, x->offset, &p->head_len);
  } else {
    p->valid = BW_POS_BYTES;
    p->offset = x->offset - partial;
    p->head_hash = head_hash(x->fd, p->offset, &p->head_len);
  }
}

void bw__follow_position(const bw_follow_t *f, bw_follow_pos_t *cur,
                         bw_follow_pos_t *old) {
  pos_of(&f->cur, cur);
  pos_of(&f->old, old);
}

/* Open `path` if it is the file saved in pos (same device, inode and
 * head); -1 if not. */
static int open_same(const char *path, const bw_follow_pos_t *pos, file_t *x) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  uint32_t hl;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      (uint64_t)st.st_dev != pos->dev || (uint64_t)st.st_ino != pos->ino ||
      (pos->valid == BW_POS_BYTES && (uint64_t)st.st_size < pos->offset) ||
      head_hash(fd, pos->head_len, &hl) != pos->head_hash || hl != pos->head_len) {
    close(fd);
    return -1;
  }
  x->fd = fd;
  x->dev = st.st_dev;
  x->ino = st.st_ino;
  stream_reset(x);
  if (pos->valid == BW_POS_DECODED) {
    x->skip_to = pos->offset; /* decoded again from byte 0 */
  } else {
    x->offset = pos->offset;
    x->fmt = BW_FMT_PLAIN;
  }
  bw_splitter_reset(&x->split);
  return 0;
}

/* Hash of the first `want` decoded bytes of a gzip or zstd file, in *len
 * the count decoded (fewer if the file holds fewer). -1 if the file is
 * not one or cannot be read. */
static int decoded_head(const char *path, uint32_t want, uint64_t *hash,
                        uint32_t *len) {
  uint8_t in[4096], out[HEAD];
  if (want > HEAD)
    return -1; /* no head we saved is longer: a damaged position */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t k = pread(fd, in, sizeof(in), 0);
  bw_format_t fmt = k > 0 ? bw_format_detect(in, (size_t)k) : BW_FMT_PLAIN;
  bw_decoder_t *d = NULL;
  int rc = -1;
  if ((fmt != BW_FMT_GZIP && fmt != BW_FMT_ZSTD) ||
      bw_decoder_new(fmt, NULL, &d) != 0)
    goto done;
  size_t have = 0;
  off_t at = 0;
  while (have < want && k > 0) {
    size_t pos = 0;
    while (pos < (size_t)k && have < want) {
      size_t used, made;
      if (bw_decoder_run(d, in + pos, (size_t)k - pos, &used, out + have,
                         want - have, &made) != 0)
        goto done;
      pos += used;
      have += made;
      if (used == 0 && made == 0)
        break;
    }
    at += k;
    k = have < want ? pread(fd, in, sizeof(in), at) : 0;
  }
  *len = (uint32_t)have;
  *hash = bw__hash_bytes(0x1234567ull, (const char *)out, have);
  rc = 0;
done:
  bw_decoder_free(d);
  close(fd);
  return rc;
}

/* The saved plain file compressed while we were down (logrotate's
 * `compress`: a new inode under NAME.gz or NAME.zst): a sibling whose
 * decoded start is the saved head. It is decoded from the start and the
 * saved offset skipped, so its unread rest is read exactly once.
 * XXX: a heuristic: the head is the file's first 64 bytes (a time stamp
 * with microseconds in practice); two logs starting alike would match. */
static int find_compressed(bw_follow_t *f, const bw_follow_pos_t *pos,
                           file_t *x, char *name, size_t namelen) {
  if (pos->valid != BW_POS_BYTES || pos->head_len == 0)
    return -1;
  DIR *d = opendir(f->dir);
  if (d == NULL)
    return -1;
  struct dirent *de;
  int rc = -1;
  size_t blen = strlen(f->base);
  char p[4096 + 258];
  while (rc != 0 && (de = readdir(d)) != NULL) {
    if (strncmp(de->d_name, f->base, blen) != 0 || de->d_name[blen] == '\0')
      continue;
    snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
    uint64_t h;
    uint32_t hl;
    if (decoded_head(p, pos->head_len, &h, &hl) != 0 || hl != pos->head_len ||
        h != pos->head_hash)
      continue;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
      continue;
    if (fstat(fd, &st) != 0) {
      close(fd);
      continue;
    }
    x->fd = fd;
    x->dev = st.st_dev;
    x->ino = st.st_ino;
    stream_reset(x);
    x->skip_to = pos->offset;
    bw_splitter_reset(&x->split);
    snprintf(name, namelen, "%s", de->d_name);
    rc = 0;
  }
  closedir(d);
  return rc;
}

/* The saved file under another name in the same directory (rotated while
 * we were down): found by device and inode, confirmed by its head. */
static int find_rotated(bw_follow_t *f, const bw_follow_pos_t *pos,
                        file_t *x) {
  DIR *d = opendir(f->dir);
  if (d == NULL)
    return -1;
  struct dirent *de;
  int rc = -1;
  char p[4096 + 258];
  while (rc != 0 && (de = readdir(d)) != NULL) {
    if ((uint64_t)de->d_ino != pos->ino)
      continue;
    snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
    rc = open_same(p, pos, x);
  }
  closedir(d);
  return rc;
}

int64_t bw__follow_resume(bw_follow_t *f, const bw_follow_pos_t *cur,
                          const bw_follow_pos_t *old) {
  int64_t rotated_mtime_ns = 0;
  const bw_follow_pos_t *saved[2] = {old, cur};
  for (int i = 0; i < 2; i++) {
    const bw_follow_pos_t *pos = saved[i];
    if (pos == NULL || !pos->valid)
      continue;
    file_t tmp;
    char name[258];
    file_reset(&tmp);
    tmp.split = f->old.split;
    if (open_same(f->path, pos, &tmp) == 0) {
      /* Still at its name: it is the live file. */
      if (f->cur.fd >= 0) {
        close(tmp.fd);
        continue;
      }
      tmp.split = f->cur.split;
      f->cur = tmp;
      fprintf(stderr, "bouncewatch: %s: resuming at %sbyte %llu\n", f->path,
              pos->valid == BW_POS_DECODED ? "decoded " : "",
              (unsigned long long)pos->offset);
      continue;
    }
    /* Rotated while we were down (or compressed then): nobody writes to
     * it any more, so it is read to its end now, before the files rotated
     * after it (the caller reads those) and the live one. */
    if (find_rotated(f, pos, &tmp) == 0) {
      fprintf(stderr, "bouncewatch: %s: rotated while stopped; reading the "
                      "rest of the old file from %sbyte %llu\n",
              f->path, pos->valid == BW_POS_DECODED ? "decoded " : "",
              (unsigned long long)pos->offset);
    } else if (find_compressed(f, pos, &tmp, name, sizeof(name)) == 0) {
      fprintf(stderr, "bouncewatch: %s: compressed while stopped as %s; "
                      "decoding it to read on from byte %llu\n",
              f->path, name, (unsigned long long)pos->offset);
    } else {
      fprintf(stderr, "bouncewatch: %s: the file saved at byte %llu is gone "
                      "(deleted while stopped); its unread rest is lost\n",
              f->path, (unsigned long long)pos->offset);
      continue;
    }
    struct stat st;
    if (fstat(tmp.fd, &st) == 0) {
      int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
      if (m > rotated_mtime_ns)
        rotated_mtime_ns = m;
    }
    drain(f, &tmp, UINT64_MAX);
    file_close(f, &tmp, 1);
  }
  return rotated_mtime_ns;
}

/* Returns 1 when the budget ran out with more to read. */
static int check(bw_follow_t *f) {
  /* uv_now() is the loop thread's; this runs on the worker. */
  uint64_t now = uv_hrtime() / 1000000;
  uint64_t budget = CHECK_BUDGET;

  /* A rotated file: rsyslog writes to it until its HUP; drain it until it
   * has been idle for rotate_wait, then end it. */
  if (f->old.fd >= 0) {
    uint64_t got = drain(f, &f->old, budget);
    budget -= got < budget ? got : budget;
    if (got > 0)
      f->old.idle_since_ms = now;
    else if (now - f->old.idle_since_ms >= f->o.rotate_wait_ms || f->closing)
      file_close(f, &f->old, 1);
  }

  struct stat st;
  int there = stat(f->path, &st) == 0 && S_ISREG(st.st_mode);
  if (f->cur.fd >= 0 && (!there || st.st_ino != f->cur.ino ||
                         st.st_dev != f->cur.dev)) {
    /* Renamed or deleted: keep draining the old inode. */
    if (f->old.fd >= 0)
      file_close(f, &f->old, 1);
    /* Swap: cur (with its partial line) becomes old; cur takes old's
     * emptied splitter. */
    bw_splitter_t spare = f->old.split;
    f->old = f->cur;
    f->old.idle_since_ms = now;
    file_reset(&f->cur);
    f->cur.split = spare;
    bw_splitter_reset(&f->cur.split);
    f->st.rotations++;
    fprintf(stderr, "bouncewatch: %s: %s; following the new file\n", f->path,
            there ? "has been replaced" : "has gone (rotated or deleted)");
    drain(f, &f->old, budget);
  }
  if (f->cur.fd < 0 && there && !f->closing) {
    if (file_open(f, &f->cur) != 0)
      f->st.reopen_errors++;
  }
  if (f->cur.fd < 0)
    return 0;

  struct stat fst;
  if (fstat(f->cur.fd, &fst) == 0) {
    if ((uint64_t)fst.st_size < f->cur.offset || rewritten(f, &f->cur)) {
      fprintf(stderr, "bouncewatch: %s: file truncated\n", f->path);
      /* The partial line before the cut will never be completed. */
      bw_line_sink_t sink = {deliver, long_line, f};
      uint64_t lost = bw_splitter_end(&f->cur.split, 0, &sink);
      if (lost > 0)
        f->pipe->stats->partial_tails++;
      bw_splitter_reset(&f->cur.split);
      stream_reset(&f->cur);
      f->st.truncations++;
    }
  }
  uint64_t got = drain(f, &f->cur, budget);
  return got >= budget && !f->closing;
}

void bw__follow_check(bw_follow_t *f) {
  while (check(f))
    ;
}

static int job_run(void *arg) { return check(arg); }

static void poll_cb(uv_timer_t *t) {
  bw_follow_t *f = t->data;
  bw__worker_post(f->wk, &f->job);
}

static void event_cb(uv_fs_event_t *h, const char *name, int events,
                     int status) {
  bw_follow_t *f = h->data;
  (void)events;
  /* Events for other files in the directory are not ours; a NULL name
   * (overflow, or the directory itself) means "look". */
  if (status == 0 && name != NULL && strcmp(name, f->base) != 0)
    return;
  bw__worker_post(f->wk, &f->job);
}

static void free_follow(bw_follow_t *f) {
  bw_decoder_free(f->cur.dec);
  bw_decoder_free(f->old.dec);
  free(f->dbuf);
  bw_splitter_close(&f->cur.split);
  bw_splitter_close(&f->old.split);
  free(f->buf);
  free(f->path);
  free(f->dir);
  free(f);
}

static void closed_cb(uv_handle_t *h) {
  bw_follow_t *f = h->data;
  if (--f->handles == 0)
    free_follow(f);
}

int bw__follow_new(uv_loop_t *loop, const char *path,
                   const bw_follow_opts_t *o, bw__pipe_t *pipe,
                   bw__worker_t *wk, bw_follow_t **out) {
  bw_follow_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return BW_ENOMEM;
  f->loop = loop;
  f->o = *o;
  if (f->o.poll_ms == 0)
    f->o.poll_ms = 1000;
  if (f->o.rotate_wait_ms == 0)
    f->o.rotate_wait_ms = 5000;
  if (f->o.max_line == 0)
    f->o.max_line = BW_DEFAULT_MAX_LINE;
  f->pipe = pipe;
  f->wk = wk;
  f->job.run = job_run;
  f->job.arg = f;
  f->path = strdup(path);
  f->dir = strdup(path);
  f->buf = malloc(CHUNK);
  f->dbuf = malloc(CHUNK);
  file_reset(&f->cur);
  file_reset(&f->old);
  if (f->path == NULL || f->dir == NULL || f->buf == NULL || f->dbuf == NULL ||
      bw_splitter_init(&f->cur.split, f->o.max_line) != 0 ||
      bw_splitter_init(&f->old.split, f->o.max_line) != 0) {
    free_follow(f);
    return BW_ENOMEM;
  }
  char *slash = strrchr(f->dir, '/');
  if (slash == NULL) {
    free(f->dir);
    f->dir = strdup(".");
    f->base = f->path;
  } else {
    *slash = '\0';
    if (f->dir[0] == '\0')
      strcpy(f->dir, "/");
    f->base = f->path + (slash - f->dir) + 1;
  }
  uv_timer_init(loop, &f->poll);
  f->poll.data = f;
  f->handles = 1;
  uv_timer_start(&f->poll, poll_cb, f->o.poll_ms, f->o.poll_ms);
  if (!f->o.poll_only) {
    uv_fs_event_init(loop, &f->ev);
    f->ev.data = f;
    f->handles++;
    int rc = uv_fs_event_start(&f->ev, event_cb, f->dir, 0);
    if (rc != 0)
      /* ENOSPC (inotify limits) or a file system without events: the
       * poll alone follows the file. */
      fprintf(stderr, "bouncewatch: %s: no directory events (%s); polling "
                      "every %llu ms\n",
              f->dir, uv_strerror(rc), (unsigned long long)f->o.poll_ms);
  }
  *out = f;
  return 0;
}

void bw__follow_start(bw_follow_t *f) { bw__worker_post(f->wk, &f->job); }

void bw__follow_drain(bw_follow_t *f) {
  int was = f->closing;
  f->closing = 1; /* no new file is opened, a rotated one is ended */
  bw__follow_check(f);
  f->closing = was;
}

void bw__follow_close(bw_follow_t *f, int tails) {
  f->closing = 1;
  bw__follow_check(f); /* read what is there */
  file_close(f, &f->old, tails);
  file_close(f, &f->cur, tails);
  uv_close((uv_handle_t *)&f->poll, closed_cb);
  if (!f->o.poll_only)
    uv_close((uv_handle_t *)&f->ev, closed_cb);
}

const bw_follow_stats_t *bw__follow_stats(const bw_follow_t *f) {
  return &f->st;
}
