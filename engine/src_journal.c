/* The journal source: sd_journal read on the watch worker in bounded
 * rounds (the loop thread only polls its fd and ticks a timer), each entry of Postfix or Exim rebuilt as
 *   2024-05-01T10:00:00.101234+00:00 HOST IDENT[PID]: MESSAGE
 * (the time from __REALTIME_TIMESTAMP, in UTC) so the one parser serves
 * files and journal alike. Does not own the state file: it only hands
 * its cursor to whoever writes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "bouncewatch/error.h"
#include "bouncewatch/lines.h"
#include "src_journal.h"

/* Entries per job: a journal with a long backlog is read in rounds, so
 * the pipeline lock is held a few ms at a time and other sources get
 * their turn. */
#define ROUND 2000
#define FIELD_MAX 255 /* host and identifier are cut there */

struct bw_journal_s {
  uv_loop_t *loop;
  bw_journal_opts_t o;
  bw__pipe_t *pipe;
  sd_journal *j;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_async_t rearm; /* the worker read what there was: poll the fd again */
  bw__worker_t *wk;
  bw__job_t job;
  int poll_ok, handles, closing;
  int moved;        /* an entry was read: the journal's cursor is ours */
  char *resume;     /* the saved cursor, until an entry is read */
  int check_resume; /* the first entry may be the saved one: skip it */
  char *line;       /* the rebuilt line, max_line + prefix room */
  size_t line_cap;
  bw_journal_stats_t st;
};

/* Postfix daemons log as postfix/NAME (postfix-INSTANCE/NAME with
 * multi-instance, postfix/submission/smtpd with a service name); journal
 * matches are exact values, so the prefix is checked here, the same way
 * the parser recognises the program. */
static int is_mail(const char *id, size_t n) {
  if (n >= 7 && memcmp(id, "postfix", 7) == 0 &&
      (n == 7 || id[7] == '/' || id[7] == '-'))
    return 1;
  return (n == 4 && memcmp(id, "exim", 4) == 0) ||
         (n == 5 && memcmp(id, "exim4", 5) == 0);
}

/* A field's value ("NAME=value" as the journal gives it); 0 if absent. */
static int field(sd_journal *j, const char *name, const char **val,
                 size_t *len) {
  const void *d;
  size_t n;
  if (sd_journal_get_data(j, name, &d, &n) < 0)
    return 0;
  size_t k = strlen(name) + 1;
  if (n < k)
    return 0;
  *val = (const char *)d + k;
  *len = n - k;
  return 1;
}

static void copy_clean(char *to, const char *from, size_t n) {
  /* A MESSAGE may hold newlines or NULs (the journal stores it as binary
   * then); one log line cannot, so they become spaces. */
  for (size_t i = 0; i < n; i++)
    to[i] = from[i] == '\n' || from[i] == '\0' || from[i] == '\r' ? ' '
                                                                  : from[i];
}

/* The current entry: hand it on if it is Postfix's or Exim's. */
static void entry(bw_journal_t *s) {
  const char *id, *msg, *host, *pid;
  size_t idn, msgn, hostn, pidn;
  s->st.entries++;
  if (!field(s->j, "SYSLOG_IDENTIFIER", &id, &idn) || !is_mail(id, idn))
    return;
  if (!field(s->j, "MESSAGE", &msg, &msgn)) {
    s->st.no_message++;
    return;
  }
  if (!field(s->j, "_HOSTNAME", &host, &hostn) || hostn == 0) {
    host = "localhost";
    hostn = 9;
  }
  if (!field(s->j, "SYSLOG_PID", &pid, &pidn) &&
      !field(s->j, "_PID", &pid, &pidn))
    pidn = 0;
  if (hostn > FIELD_MAX)
    hostn = FIELD_MAX;
  if (idn > FIELD_MAX)
    idn = FIELD_MAX;
  if (pidn > 20)
    pidn = 20;
  s->st.mail++;
  s->pipe->stats->bytes_read += msgn;
  s->pipe->stats->bytes_decoded += msgn;
  if (msgn > s->o.max_line) {
    s->pipe->stats->long_lines++;
    return;
  }
  uint64_t us = 0;
  sd_journal_get_realtime_usec(s->j, &us);
  time_t secs = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char *p = s->line;
  p += strftime(p, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  p += snprintf(p, 24, ".%06u+00:00 ", (unsigned)(us % 1000000));
  memcpy(p, host, hostn);
  p += hostn;
  *p++ = ' ';
  memcpy(p, id, idn);
  p += idn;
  if (pidn > 0) {
    *p++ = '[';
    memcpy(p, pid, pidn);
    p += pidn;
    *p++ = ']';
  }
  *p++ = ':';
  *p++ = ' ';
  copy_clean(p, msg, msgn);
  p += msgn;
  bw_line_ref_t where = {"journal", s->st.mail};
  bw__pipe_line(s->pipe, s->line, (size_t)(p - s->line), &where);
}

/* One round: up to `max` entries. Returns 1 if there may be more. */
static int read_round(bw_journal_t *s, uint64_t max) {
  for (uint64_t n = 0; n < max; n++) {
    int r = sd_journal_next(s->j);
    if (r < 0) {
      /* A damaged journal file: try again at the next wake-up rather
       * than spin; said the first time, counted, and summed up at exit. */
      if (s->st.read_errors++ == 0)
        fprintf(stderr, "bouncewatch: journal: reading the next entry: %s\n",
                strerror(-r));
      return 0;
    }
    if (r == 0)
      return 0;
    s->moved = 1;
    if (s->check_resume) {
      s->check_resume = 0;
      if (sd_journal_test_cursor(s->j, s->resume) > 0)
        continue; /* the saved entry itself: counted before the stop */
      fprintf(stderr, "bouncewatch: journal: the saved entry is no longer in "
                      "the journal (vacuumed?); resuming at the next one\n");
    }
    entry(s);
  }
  return 1;
}

/* The worker's job: one round. */
static int job_run(void *arg) {
  bw_journal_t *s = arg;
  /* Picks up new and rotated journal files, and clears the fd. */
  sd_journal_process(s->j);
  if (read_round(s, ROUND))
    return 1;
  if (s->poll_ok)
    uv_async_send(&s->rearm);
  return 0;
}

static void timer_cb(uv_timer_t *t) {
  bw_journal_t *s = t->data;
  bw__worker_post(s->wk, &s->job);
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  bw_journal_t *s = h->data;
  (void)events;
  /* The fd stays readable until the worker's sd_journal_process(): stop
   * polling until then, or the loop would spin. */
  uv_poll_stop(h);
  if (status < 0)
    return; /* the timer still reads */
  bw__worker_post(s->wk, &s->job);
}

static void rearm_cb(uv_async_t *a) {
  bw_journal_t *s = a->data;
  if (!s->closing && s->poll_ok)
    uv_poll_start(&s->poll, UV_READABLE, poll_cb);
}

static void free_journal(bw_journal_t *s) {
  if (s->j != NULL)
    sd_journal_close(s->j);
  free(s->resume);
  free(s->line);
  free(s);
}

static void closed_cb(uv_handle_t *h) {
  bw_journal_t *s = h->data;
  if (--s->handles == 0)
    free_journal(s);
}

int bw__journal_new(uv_loop_t *loop, const bw_journal_opts_t *o,
                    bw__pipe_t *pipe, bw__worker_t *wk, bw_journal_t **out,
                    char *err, size_t errlen) {
  bw_journal_t *s = calloc(1, sizeof(*s));
  int rc;
  if (s == NULL)
    return -ENOMEM;
  s->loop = loop;
  s->o = *o;
  s->pipe = pipe;
  s->wk = wk;
  s->job.run = job_run;
  s->job.arg = s;
  if (s->o.poll_ms == 0)
    s->o.poll_ms = 1000;
  if (s->o.max_line == 0)
    s->o.max_line = BW_DEFAULT_MAX_LINE;
  /* Prefix: stamp (32), host, identifier, "[pid]: " (24). */
  s->line_cap = s->o.max_line + 32 + 2 * FIELD_MAX + 32;
  s->line = malloc(s->line_cap);
  if (s->line == NULL) {
    rc = -ENOMEM;
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  const char *what;
  if (s->o.nfiles > 0) {
    what = s->o.files[0];
    rc = sd_journal_open_files(&s->j, (const char **)s->o.files, 0);
  } else if (s->o.dir != NULL) {
    what = s->o.dir;
    rc = sd_journal_open_directory(&s->j, s->o.dir, 0);
  } else {
    what = "the system journal";
    rc = sd_journal_open(&s->j, SD_JOURNAL_LOCAL_ONLY);
  }
  if (rc < 0) {
    snprintf(err, errlen, "cannot open %s: %s", what, strerror(-rc));
    s->j = NULL;
    goto fail;
  }
  /* Messages up to max_line come whole; a longer one only has to be
   * seen to be too long. */
  sd_journal_set_data_threshold(s->j, s->o.max_line + 1);
  rc = sd_journal_seek_head(s->j);
  if (rc < 0) {
    snprintf(err, errlen, "cannot seek in %s: %s", what, strerror(-rc));
    goto fail;
  }
  *out = s;
  return 0;
fail:
  free_journal(s);
  return rc;
}

void bw__journal_resume(bw_journal_t *s, const char *cursor) {
  if (cursor == NULL || *cursor == '\0')
    return;
  int rc = sd_journal_seek_cursor(s->j, cursor);
  if (rc < 0) {
    fprintf(stderr, "bouncewatch: journal: the saved cursor is not usable "
                    "(%s); reading from the oldest entry\n",
            strerror(-rc));
    sd_journal_seek_head(s->j);
    return;
  }
  free(s->resume);
  s->resume = strdup(cursor);
  s->check_resume = s->resume != NULL;
  fprintf(stderr, "bouncewatch: journal: resuming after the saved entry\n");
}

void bw__journal_start(bw_journal_t *s) {
  uv_timer_init(s->loop, &s->timer);
  uv_async_init(s->loop, &s->rearm, rearm_cb);
  s->timer.data = s->rearm.data = s;
  s->handles = 2;
  uv_timer_start(&s->timer, timer_cb, s->o.poll_ms, s->o.poll_ms);
  int fd = sd_journal_get_fd(s->j);
  if (fd >= 0 && uv_poll_init(s->loop, &s->poll, fd) == 0) {
    s->poll.data = s;
    s->handles++;
    s->poll_ok = 1;
    /* An inotify fd (sd_journal_get_events() gives POLLIN for it). */
    uv_poll_start(&s->poll, UV_READABLE, poll_cb);
  } else {
    fprintf(stderr, "bouncewatch: journal: no change notification (%s); "
                    "reading every %llu ms\n",
            fd < 0 ? strerror(-fd) : "uv_poll_init failed",
            (unsigned long long)s->o.poll_ms);
  }
  bw__worker_post(s->wk, &s->job);
}

void bw__journal_drain(bw_journal_t *s) {
  if (s->closing)
    return;
  sd_journal_process(s->j);
  while (read_round(s, ROUND))
    ;
}

char *bw__journal_cursor(bw_journal_t *s) {
  if (!s->moved)
    return s->resume != NULL ? strdup(s->resume) : NULL;
  char *c = NULL;
  if (sd_journal_get_cursor(s->j, &c) < 0)
    return NULL;
  return c;
}

void bw__journal_close(bw_journal_t *s) {
  if (s->closing)
    return;
  s->closing = 1;
  if (s->st.no_message > 0 || s->st.read_errors > 0)
    fprintf(stderr, "bouncewatch: journal: %llu Postfix/Exim entr%s without "
                    "MESSAGE skipped, %llu read error%s\n",
            (unsigned long long)s->st.no_message,
            s->st.no_message == 1 ? "y" : "ies",
            (unsigned long long)s->st.read_errors,
            s->st.read_errors == 1 ? "" : "s");
  if (s->handles == 0) {
    free_journal(s);
    return;
  }
  uv_close((uv_handle_t *)&s->timer, closed_cb);
  uv_close((uv_handle_t *)&s->rearm, closed_cb);
  if (s->poll_ok)
    uv_close((uv_handle_t *)&s->poll, closed_cb);
}

const bw_journal_stats_t *bw__journal_stats(const bw_journal_t *s) {
  return &s->st;
}
