/* Following a log file across rotation. Reads happen on the loop thread
 * in bounded chunks (a check reads at most CHECK_BUDGET bytes, then
 * schedules itself again), so a burst never starves the loop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "follow.h"
#include "hash.h"

#define CHUNK (256 * 1024)
#define CHECK_BUDGET (8u << 20)
#define MARK 32 /* bytes before the offset kept as the truncation check */

typedef struct {
  int fd;
  dev_t dev;
  ino_t ino;
  uint64_t offset;
  bw_splitter_t split;
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
  uv_timer_t poll, again;
  int handles; /* open libuv handles; free at 0 after close */
  int closing;
  char *buf;
  bw_follow_stats_t st;
};

static void file_reset(file_t *f) {
  f->fd = -1;
  f->offset = 0;
  f->marklen = 0;
  f->idle_since_ms = 0;
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

/* Read what is there, up to budget bytes; returns bytes read. */
static uint64_t drain(bw_follow_t *f, file_t *x, uint64_t budget) {
  bw_line_sink_t sink = {deliver, long_line, f};
  uint64_t got = 0;
  while (got < budget) {
    ssize_t k = pread(x->fd, f->buf, CHUNK, (off_t)x->offset);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    bw_splitter_feed(&x->split, f->buf, (size_t)k, &sink);
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
    f->pipe->stats->bytes_decoded += (uint64_t)k;
  }
  return got;
}

static void file_close(bw_follow_t *f, file_t *x, int tail_is_line) {
  if (x->fd < 0)
    return;
  bw_line_sink_t sink = {deliver, long_line, f};
  bw_splitter_end(&x->split, tail_is_line, &sink);
  close(x->fd);
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
  x->offset = 0;
  x->marklen = 0;
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

#define HEAD 64 /* bytes of a file's start that identify it */

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
  p->valid = 1;
  p->dev = (uint64_t)x->dev;
  p->ino = (uint64_t)x->ino;
  /* After the last complete line: the partial one is read again. */
  p->offset = x->offset - x->split.carry_len -
              (x->split.skipping ? x->split.skip_len : 0);
  p->head_hash = head_hash(x->fd, p->offset, &p->head_len);
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
      (uint64_t)st.st_size < pos->offset ||
      head_hash(fd, pos->offset, &hl) != pos->head_hash || hl != pos->head_len) {
    close(fd);
    return -1;
  }
  x->fd = fd;
  x->dev = st.st_dev;
  x->ino = st.st_ino;
  x->offset = pos->offset;
  x->marklen = 0;
  bw_splitter_reset(&x->split);
  return 0;
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
    file_reset(&tmp);
    tmp.split = f->old.split;
    if (open_same(f->path, pos, &tmp) == 0) {
      /* Still at its name: it is the live file. */
      if (f->cur.fd >= 0)
        continue;
      tmp.split = f->cur.split;
      f->cur = tmp;
      fprintf(stderr, "bouncewatch: %s: resuming at byte %llu\n", f->path,
              (unsigned long long)pos->offset);
    } else if (find_rotated(f, pos, &tmp) == 0) {
      /* Rotated while we were down: nobody writes to it any more, so it is
       * read to its end now, before the files rotated after it (the
       * caller reads those) and the live one. */
      fprintf(stderr, "bouncewatch: %s: rotated while stopped; reading the "
                      "rest of the old file from byte %llu\n",
              f->path, (unsigned long long)pos->offset);
      struct stat st;
      if (fstat(tmp.fd, &st) == 0) {
        int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (m > rotated_mtime_ns)
          rotated_mtime_ns = m;
      }
      drain(f, &tmp, UINT64_MAX);
      file_close(f, &tmp, 1);
    } else {
      fprintf(stderr, "bouncewatch: %s: the file saved at byte %llu is gone "
                      "(deleted or compressed while stopped); its unread rest "
                      "is lost\n",
              f->path, (unsigned long long)pos->offset);
    }
  }
  return rotated_mtime_ns;
}

static void schedule_again(bw_follow_t *f);

void bw__follow_check(bw_follow_t *f) {
  uint64_t now = uv_now(f->loop);
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
    return;

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
      f->cur.offset = 0;
      f->cur.marklen = 0;
      f->st.truncations++;
    }
  }
  uint64_t got = drain(f, &f->cur, budget);
  if (got >= budget)
    schedule_again(f); /* more to read: come back after other work */
}

static void again_cb(uv_timer_t *t) { bw__follow_check(t->data); }

static void schedule_again(bw_follow_t *f) {
  if (!f->closing)
    uv_timer_start(&f->again, again_cb, 0, 0);
}

static void poll_cb(uv_timer_t *t) { bw__follow_check(t->data); }

static void event_cb(uv_fs_event_t *h, const char *name, int events,
                     int status) {
  bw_follow_t *f = h->data;
  (void)events;
  /* Events for other files in the directory are not ours; a NULL name
   * (overflow, or the directory itself) means "look". */
  if (status == 0 && name != NULL && strcmp(name, f->base) != 0)
    return;
  bw__follow_check(f);
}

static void free_follow(bw_follow_t *f) {
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
                   bw_follow_t **out) {
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
  f->path = strdup(path);
  f->dir = strdup(path);
  f->buf = malloc(CHUNK);
  file_reset(&f->cur);
  file_reset(&f->old);
  if (f->path == NULL || f->dir == NULL || f->buf == NULL ||
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
  uv_timer_init(loop, &f->again);
  f->poll.data = f->again.data = f;
  f->handles = 2;
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

void bw__follow_start(bw_follow_t *f) { bw__follow_check(f); }

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
  uv_close((uv_handle_t *)&f->again, closed_cb);
  if (!f->o.poll_only)
    uv_close((uv_handle_t *)&f->ev, closed_cb);
}

const bw_follow_stats_t *bw__follow_stats(const bw_follow_t *f) {
  return &f->st;
}
