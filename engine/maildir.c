/* The Maildir source (maildir.h): which files to read and when, what a
 * parsed report means for the aggregation (a complaint, a failed or
 * delayed recipient), its log time, and the counts and samples the
 * report prints. The MIME parsing is mailreport.c's; the join and the
 * rates are agg.c's. The user's mail is only read, never moved. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "bouncewatch/mailreport.h"
#include "hash.h"
#include "logtime.h"
#include "maildir.h"

#define MAX_SAMPLES 64     /* reports listed in the output */
#define MAX_BAD_SAMPLES 32 /* bad files listed in the output */
#define MAX_QUEUED 100000  /* reports waiting for the log to reach them */

/* Results beyond bw_agg_mail_result_t, for the samples. */
enum {
  RES_DELAYED = 16, /* Action: delayed: reported, not a bounce */
  RES_FEEDBACK,     /* a feedback report other than abuse/fraud */
  RES_OTHER_ACTION, /* delivered, relayed, expanded */
  RES_DUPLICATE,    /* a copy of a report counted before */
  RES_PENDING       /* queued, not fed yet */
};

static const char *result_name(int r) {
  switch (r) {
  case BW_MAIL_JOINED_MID:
    return "complaint_joined_by_message_id";
  case BW_MAIL_JOINED_DOMAIN:
    return "complaint_joined_by_domain";
  case BW_MAIL_UNKNOWN:
    return "complaint_unknown_sender";
  case BW_MAIL_BOUNCED:
    return "bounced";
  case BW_MAIL_ALREADY:
    return "already_bounced";
  case BW_MAIL_NOT_SENT:
    return "not_sent_per_log";
  case BW_MAIL_NOTIFICATION:
    return "about_our_notification";
  case RES_DELAYED:
    return "delayed_reported";
  case RES_FEEDBACK:
    return "feedback_reported";
  case RES_OTHER_ACTION:
    return "not_a_failure";
  case RES_DUPLICATE:
    return "duplicate";
  default:
    return "pending";
  }
}

typedef struct {
  char *file; /* "new/NAME" */
  const char *kind, *format, *type; /* static strings */
  char *rcpt, *status, *message_id;
  int reason; /* -1 none */
  const char *sender; /* the aggregator's string, or NULL */
  int result;
  int64_t time_us;
} sample_t;

typedef struct {
  char *file, *why;
} bad_t;

typedef struct {
  uint64_t id, path; /* id 0 empty, 1 deleted */
} qslot_t;

/* A report waiting for the log to reach its time. */
typedef struct {
  bw_agg_mail_kind_t kind;
  int64_t time_us;
  uint64_t seq;      /* file order, for a stable sort */
  uint64_t identity; /* of its file; remembered when its first item is fed */
  int first;         /* the first item of its file */
  char *mid, *fallback, *rcpt, *orig_rcpt, *reporter;
  bw_verdict_t verdict;
  int has_verdict;
  int sample; /* index + 1, 0 none */
} item_t;

struct bw__maildir_s {
  const char *dir;
  uint64_t max_bytes;
  bw_classifier_t *cls;
  /* Live: held around each callback's work (watch's worker lock: the
   * aggregation is fed from the worker thread too). */
  void (*lock)(void *), (*unlock)(void *);
  void *lock_arg;
  /* counters */
  uint64_t files, bytes, by_kind[4], bad, huge, unreadable, damaged,
      duplicates, feedback[BW_FEEDBACK__COUNT], actions[BW_ACTION__COUNT],
      rcpts_dropped, no_time, queue_full, results[RES_PENDING + 1];
  sample_t samples[MAX_SAMPLES];
  size_t nsamples;
  bad_t bads[MAX_BAD_SAMPLES];
  size_t nbads;
  item_t *q;
  size_t nq, qhead, qcap;
  uint64_t seq;
  int sorted;
  /* Identities of the files whose items wait in the queue (so a rescan
   * does not read them again), with a hash of their path: open
   * addressing with tombstones, rebuilt when they pile up. */
  qslot_t *qs;
  size_t qs_mask, qs_used;
  uint64_t skip_id; /* a file found counted at feed time: its other items */
  uint64_t scans, fed;
  const uint64_t *log_lines; /* live: the log's line counter */
  uint64_t last_lines;
  char last_err[256];
  /* live */
  uv_fs_event_t ev[2];
  uv_timer_t poll;
  int nev, polling;
  int64_t mtime_ns[2];
  bw_agg_t *agg;
};

static char *sdup(const char *s) { return s != NULL ? strdup(s) : NULL; }

int bw__maildir_new(const char *dir, const bw_rules_t *rules,
                    uint64_t max_bytes, bw__maildir_t **out) {
  bw__maildir_t *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return BW_ENOMEM;
  m->dir = dir;
  m->max_bytes = max_bytes ? max_bytes : BW_MAILDIR_MAX_BYTES;
  if (rules != NULL && bw_classifier_new(rules, &m->cls) != 0) {
    free(m);
    return BW_ENOMEM;
  }
  m->sorted = 1;
  *out = m;
  return 0;
}

static void item_free(item_t *it) {
  free(it->mid);
  free(it->fallback);
  free(it->rcpt);
  free(it->orig_rcpt);
  free(it->reporter);
}

void bw__maildir_free(bw__maildir_t *m) {
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->nsamples; i++) {
    free(m->samples[i].file);
    free(m->samples[i].rcpt);
    free(m->samples[i].status);
    free(m->samples[i].message_id);
  }
  for (size_t i = 0; i < m->nbads; i++) {
    free(m->bads[i].file);
    free(m->bads[i].why);
  }
  for (size_t i = m->qhead; i < m->nq; i++)
    item_free(&m->q[i]);
  free(m->q);
  free(m->qs);
  bw_classifier_free(m->cls);
  free(m);
}

uint64_t bw__maildir_activity(const bw__maildir_t *m) {
  return m->files + m->fed;
}

/* ---- one file ------------------------------------------------------------ */

static void bad_file(bw__maildir_t *m, const char *file, const char *why) {
  m->bad++;
  fprintf(stderr, "bouncewatch: %s/%s: skipped: %s\n", m->dir, file, why);
  if (m->nbads < MAX_BAD_SAMPLES) {
    m->bads[m->nbads].file = sdup(file);
    m->bads[m->nbads].why = sdup(why);
    m->nbads++;
  }
}

static int add_sample(bw__maildir_t *m, const char *file,
                      const bw_mailreport_t *r, const char *rcpt,
                      const char *status, int reason, int result,
                      int64_t t_us) {
  if (m->nsamples >= MAX_SAMPLES)
    return 0;
  sample_t *s = &m->samples[m->nsamples++];
  memset(s, 0, sizeof(*s));
  s->file = sdup(file);
  s->kind = bw_mr_kind_name(r->kind);
  s->format = r->format;
  s->type = r->kind == BW_MR_ARF ? bw_feedback_name(r->feedback) : NULL;
  s->rcpt = sdup(rcpt);
  s->status = status != NULL && *status ? sdup(status) : NULL;
  s->message_id = sdup(r->orig_message_id);
  s->reason = reason;
  s->result = result;
  s->time_us = t_us;
  return (int)m->nsamples;
}

/* ---- the set of queued files ---------------------------------------------- */

static uint64_t qs_key(uint64_t id) { return id > 1 ? id : id + 2; }

static size_t qs_find(const bw__maildir_t *m, uint64_t id) {
  if (m->qs == NULL)
    return SIZE_MAX;
  uint64_t k = qs_key(id);
  for (size_t i = (size_t)k & m->qs_mask;; i = (i + 1) & m->qs_mask) {
    if (m->qs[i].id == k)
      return i;
    if (m->qs[i].id == 0)
      return SIZE_MAX;
  }
}

static int qs_add(bw__maildir_t *m, uint64_t id, uint64_t path) {
  if (m->qs == NULL || 2 * (m->qs_used + 1) > m->qs_mask + 1) {
    /* Grow (or rebuild without tombstones): live keys are the queued
     * items' first ones. */
    size_t live = 0;
    for (size_t i = m->qhead; i < m->nq; i++)
      live += m->q[i].first;
    size_t n = 64;
    while (n < 4 * (live + 1))
      n <<= 1;
    qslot_t *old = m->qs;
    size_t old_n = m->qs != NULL ? m->qs_mask + 1 : 0;
    m->qs = calloc(n, sizeof(*m->qs));
    if (m->qs == NULL) {
      m->qs = old;
      return -1;
    }
    m->qs_mask = n - 1;
    m->qs_used = 0;
    qslot_t *o = old;
    for (size_t i = 0; i < old_n; i++)
      if (o[i].id > 1) {
        size_t j = (size_t)o[i].id & m->qs_mask;
        while (m->qs[j].id != 0)
          j = (j + 1) & m->qs_mask;
        m->qs[j] = o[i];
        m->qs_used++;
      }
    free(old);
  }
  uint64_t k = qs_key(id);
  size_t j = (size_t)k & m->qs_mask;
  while (m->qs[j].id > 1)
    j = (j + 1) & m->qs_mask;
  if (m->qs[j].id == 0)
    m->qs_used++;
  m->qs[j].id = k;
  m->qs[j].path = path;
  return 0;
}

static int queue(bw__maildir_t *m, const item_t *it) {
  if (m->nq - m->qhead >= MAX_QUEUED) {
    m->queue_full++;
    return -1;
  }
  if (m->nq == m->qcap) {
    if (m->qhead > 0) { /* reuse the fed part first */
      memmove(m->q, m->q + m->qhead, (m->nq - m->qhead) * sizeof(item_t));
      m->nq -= m->qhead;
      m->qhead = 0;
    }
    if (m->nq == m->qcap) {
      size_t cap = m->qcap ? 2 * m->qcap : 64;
      item_t *nq = realloc(m->q, cap * sizeof(item_t));
      if (nq == NULL) {
        m->queue_full++;
        return -1;
      }
      m->q = nq;
      m->qcap = cap;
    }
  }
  m->q[m->nq++] = *it;
  m->sorted = 0;
  return 0;
}

/* "user@domain" for a bare domain (DKIM d=), so the join can take its
 * domain part the same way. */
static char *as_address(const char *d) {
  if (d == NULL)
    return NULL;
  if (strchr(d, '@') != NULL)
    return strdup(d);
  size_t n = strlen(d);
  char *s = malloc(n + 2);
  if (s != NULL) {
    s[0] = '@';
    memcpy(s + 1, d, n + 1);
  }
  return s;
}

/* What a parsed report means, queued as items at its log time. The time
 * is the report's own Date (when the provider made it: what a live run
 * would see arrive), else its Arrival-Date, else the file's mtime. */
static void take(bw__maildir_t *m, const char *file, const bw_mailreport_t *r,
                 int64_t mtime_us, uint64_t identity) {
  int64_t t = r->date_us ? r->date_us
              : r->arrival_us ? r->arrival_us
                              : mtime_us;
  if (r->date_us == 0 && r->arrival_us == 0)
    m->no_time++;
  item_t it;
  memset(&it, 0, sizeof(it));
  it.time_us = t;
  it.identity = identity;
  it.first = 1;
  const char *fb = r->orig_return_path != NULL   ? r->orig_return_path
                   : r->orig_from != NULL        ? r->orig_from
                   : r->original_mail_from != NULL ? r->original_mail_from
                                                   : NULL;
  if (r->kind == BW_MR_ARF) {
    m->feedback[r->feedback]++;
    if (r->feedback != BW_FEEDBACK_ABUSE && r->feedback != BW_FEEDBACK_FRAUD) {
      m->results[RES_FEEDBACK]++;
      add_sample(m, file, r, r->original_rcpt_to, NULL, -1, RES_FEEDBACK, t);
      return;
    }
    it.kind = BW_MAIL_COMPLAINT;
    it.seq = m->seq++;
    it.mid = sdup(r->orig_message_id);
    it.fallback = fb != NULL ? strdup(fb) : as_address(r->orig_dkim_domain);
    if (it.fallback == NULL && r->reported_domain != NULL)
      it.fallback = as_address(r->reported_domain);
    it.rcpt = sdup(r->original_rcpt_to != NULL ? r->original_rcpt_to
                                               : r->orig_to);
    it.reporter = sdup(r->from);
    it.sample = add_sample(m, file, r, it.rcpt, NULL, -1, RES_PENDING, t);
    if (queue(m, &it) != 0)
      item_free(&it);
    return;
  }
  m->rcpts_dropped += r->rcpts_dropped;
  for (size_t i = 0; i < r->nrcpts; i++) {
    const bw_mr_rcpt_t *x = &r->rcpts[i];
    m->actions[x->action]++;
    if (x->action == BW_ACTION_DELAYED) {
      m->results[RES_DELAYED]++;
      add_sample(m, file, r, x->final_rcpt, x->status, -1, RES_DELAYED, t);
      continue;
    }
    if (x->action != BW_ACTION_FAILED) {
      m->results[RES_OTHER_ACTION]++;
      add_sample(m, file, r, x->final_rcpt, x->status, -1, RES_OTHER_ACTION,
                 t);
      continue;
    }
    int first = it.first;
    memset(&it, 0, sizeof(it));
    it.kind = BW_MAIL_FAILED;
    it.time_us = t;
    it.identity = identity;
    it.first = first;
    it.seq = m->seq++;
    it.mid = sdup(r->orig_message_id);
    it.rcpt = sdup(x->final_rcpt);
    it.orig_rcpt = sdup(x->orig_rcpt);
    if (m->cls != NULL) {
      /* The same classifier as the log's failures: Diagnostic-Code text,
       * Status, Remote-MTA. */
      bw_classify_in_t in;
      memset(&in, 0, sizeof(in));
      const char *d = x->diagnostic != NULL ? x->diagnostic : "";
      in.text = (bw_span_t){d, (uint32_t)strlen(d)};
      in.dsn = (bw_span_t){x->status, (uint32_t)strlen(x->status)};
      if (x->remote_mta != NULL)
        in.relay = (bw_span_t){x->remote_mta, (uint32_t)strlen(x->remote_mta)};
      bw_classify(m->cls, &in, &it.verdict);
      it.has_verdict = 1;
    }
    it.sample = add_sample(m, file, r, x->final_rcpt, x->status,
                           it.has_verdict ? (int)it.verdict.reason : -1,
                           RES_PENDING, t);
    if (queue(m, &it) != 0)
      item_free(&it);
    else
      it.first = 0; /* later items of this file follow it */
  }
}

/* Read and parse one file; returns 1 if it was read (counted or bad). */
static int one_file(bw__maildir_t *m, bw_agg_t *agg, const char *sub,
                    const char *name) {
  char path[4096], rel[300];
  snprintf(path, sizeof(path), "%s/%s/%s", m->dir, sub, name);
  snprintf(rel, sizeof(rel), "%s/%.280s", sub, name);
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT) { /* gone meanwhile (moved to cur/): next scan */
      m->unreadable++;
      bad_file(m, rel, strerror(errno));
      return 1;
    }
    return 0;
  }
  if (!S_ISREG(st.st_mode))
    return 0;
  /* Identity: the unique part of the name (before the ":2,FLAGS" info,
   * which changes when the user reads the mail) and the size. */
  size_t ulen = strcspn(name, ":");
  uint64_t id = bw__hash_bytes(0x6A09E667F3BCC908ull, name, ulen);
  id = bw__mix64(id, (uint64_t)st.st_size);
  uint64_t ph = bw__hash_bytes(0xBB67AE8584CAA73Bull, rel, strlen(rel));
  if (bw_agg_mail_known(agg, id)) {
    /* Counted before this run began (the state), or a copy; later scans
     * see this run's own files again and say nothing. */
    if (m->scans == 0)
      m->duplicates++;
    return 0;
  }
  size_t qi = qs_find(m, id);
  if (qi != SIZE_MAX) {
    /* Queued already: the same file seen again by a rescan, or its copy
     * under another name (new/ and cur/ at once). */
    if (m->qs[qi].path != ph)
      m->duplicates++;
    return 0;
  }
  size_t queued_before = m->nq;
  m->files++;
  /* From here on the file counts as read, whatever its fate. */
  if ((uint64_t)st.st_size > m->max_bytes) {
    bw_agg_mail_seen(agg, id);
    char why[128];
    snprintf(why, sizeof(why), "too large (%lld bytes, the limit is %llu)",
             (long long)st.st_size, (unsigned long long)m->max_bytes);
    m->huge++;
    bad_file(m, rel, why);
    return 1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  char *buf = fd >= 0 ? malloc((size_t)st.st_size + 1) : NULL;
  size_t got = 0;
  while (buf != NULL && got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  int err = errno;
  if (fd >= 0)
    close(fd);
  if (buf == NULL || got < (size_t)st.st_size) {
    char why[160];
    snprintf(why, sizeof(why), "unreadable (%s, %zu of %lld bytes read)",
             fd < 0 || buf == NULL ? strerror(err) : "short read", got,
             (long long)st.st_size);
    m->unreadable++;
    bad_file(m, rel, why);
    free(buf);
    bw_agg_mail_seen(agg, id); /* listed once, not at every rescan */
    return 1;
  }
  m->bytes += got;
  bw_mailreport_t r;
  char why[256];
  int rc = bw_mailreport_parse(buf, got, &r, why, sizeof(why));
  free(buf);
  if (rc != 0) {
    bad_file(m, rel, why);
    bw_agg_mail_seen(agg, id);
    return 1;
  }
  m->by_kind[r.kind]++;
  if (r.damaged)
    m->damaged++;
  if (r.kind == BW_MR_NOT_REPORT) {
    /* Counted and listed like bad mail: a human may have to look. */
    m->bad--;
    bad_file(m, rel, why);
  } else {
    take(m, rel, &r,
         (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000, id);
  }
  bw_mailreport_clear(&r);
  /* Remembered in the aggregation (and so in its saved state) when its
   * first item is counted; a file with nothing to count, now. */
  if (m->nq == queued_before || qs_add(m, id, ph) != 0)
    bw_agg_mail_seen(agg, id);
  return 1;
}

static int cmp_name(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

int bw__maildir_scan(bw__maildir_t *m, bw_agg_t *agg) {
  static const char *const subs[2] = {"new", "cur"};
  int rc = 0;
  for (int s = 0; s < 2; s++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", m->dir, subs[s]);
    DIR *d = opendir(path);
    if (d == NULL) {
      char msg[sizeof(m->last_err)];
      int e = errno;
      snprintf(msg, sizeof(msg), "%.200s: %.50s", path, strerror(e));
      if (strcmp(msg, m->last_err) != 0) { /* once, not at every poll */
        fprintf(stderr, "bouncewatch: maildir %s\n", msg);
        snprintf(m->last_err, sizeof(m->last_err), "%s", msg);
      }
      rc = BW_EIO;
      continue;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] == '.')
        continue;
      if (n == cap) {
        cap = cap ? 2 * cap : 64;
        char **nn = realloc(names, cap * sizeof(char *));
        if (nn == NULL)
          break;
        names = nn;
      }
      if ((names[n] = strdup(de->d_name)) == NULL)
        break;
      n++;
    }
    closedir(d);
    /* Name order: Maildir names start with the delivery time, so this
     * is about arrival order, and the same on every run. */
    if (n > 1)
      qsort(names, n, sizeof(char *), cmp_name);
    for (size_t i = 0; i < n; i++) {
      one_file(m, agg, subs[s], names[i]);
      free(names[i]);
    }
    free(names);
  }
  if (rc == 0)
    m->last_err[0] = '\0';
  m->scans++;
  return rc;
}

static int cmp_item(const void *x, const void *y) {
  const item_t *a = x, *b = y;
  if (a->time_us != b->time_us)
    return a->time_us < b->time_us ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void bw__maildir_feed(bw__maildir_t *m, bw_agg_t *agg, int64_t until_us) {
  if (!m->sorted) {
    qsort(m->q + m->qhead, m->nq - m->qhead, sizeof(item_t), cmp_item);
    m->sorted = 1;
  }
  while (m->qhead < m->nq && m->q[m->qhead].time_us <= until_us) {
    item_t *it = &m->q[m->qhead++];
    if (it->first) {
      size_t qi = qs_find(m, it->identity);
      if (qi != SIZE_MAX)
        m->qs[qi].id = 1; /* tombstone */
      m->skip_id = 0;
      if (!bw_agg_mail_seen(agg, it->identity)) {
        /* Counted before (a copy fed earlier in this run). */
        m->duplicates++;
        m->skip_id = it->identity;
      }
    }
    if (m->skip_id != 0 && it->identity == m->skip_id) {
      if (it->sample)
        m->samples[it->sample - 1].result = RES_DUPLICATE;
      item_free(it);
      continue;
    }
    bw_agg_mail_t am;
    memset(&am, 0, sizeof(am));
    am.kind = it->kind;
    am.time_us = it->time_us;
#define SPAN(s) ((bw_span_t){(s), (s) != NULL ? (uint32_t)strlen(s) : 0})
    am.message_id = SPAN(it->mid);
    am.fallback = SPAN(it->fallback);
    am.rcpt = SPAN(it->rcpt);
    am.orig_rcpt = SPAN(it->orig_rcpt);
    am.reporter = SPAN(it->reporter);
#undef SPAN
    am.verdict = it->has_verdict ? &it->verdict : NULL;
    const char *sender = NULL;
    bw_agg_mail_result_t res = bw_agg_add_mail(agg, &am, &sender);
    m->results[res]++;
    m->fed++;
    if (it->sample) {
      m->samples[it->sample - 1].result = (int)res;
      m->samples[it->sample - 1].sender = sender;
    }
    item_free(it);
  }
  if (m->qhead == m->nq)
    m->qhead = m->nq = 0;
}

/* ---- live ------------------------------------------------------------------ */

/* Live, a report is fed once the log's time has passed its own (the
 * log lines of the message it is about come first, also while a start
 * catches up on a long log), or at the first poll tick that finds the
 * logs idle: then there is nothing more to wait for. */
static void feed_live(bw__maildir_t *m, int tick) {
  if (tick) {
    uint64_t lines = m->log_lines != NULL ? *m->log_lines : 0;
    int idle = lines == m->last_lines;
    m->last_lines = lines;
    if (idle) {
      bw__maildir_feed(m, m->agg, INT64_MAX);
      return;
    }
  }
  bw_agg_totals_t t;
  bw_agg_totals(m->agg, &t);
  bw__maildir_feed(m, m->agg, t.last_us);
}

static void hold(bw__maildir_t *m) {
  if (m->lock != NULL)
    m->lock(m->lock_arg);
}

static void release(bw__maildir_t *m) {
  if (m->unlock != NULL)
    m->unlock(m->lock_arg);
}

void bw__maildir_set_lock(bw__maildir_t *m, void (*lock)(void *),
                          void (*unlock)(void *), void *arg) {
  m->lock = lock;
  m->unlock = unlock;
  m->lock_arg = arg;
}

int bw__maildir_set_rules(bw__maildir_t *m, const bw_rules_t *rules) {
  bw_classifier_t *c = NULL;
  if (rules != NULL && bw_classifier_new(rules, &c) != 0)
    return BW_ENOMEM;
  bw_classifier_free(m->cls);
  m->cls = c;
  return 0;
}

static void on_event(uv_fs_event_t *h, const char *f, int events, int status) {
  (void)f;
  (void)events;
  (void)status;
  bw__maildir_t *m = h->data;
  hold(m);
  bw__maildir_scan(m, m->agg);
  feed_live(m, 0);
  release(m);
}

/* The safety net (inotify overflows, remote file systems): rescan when a
 * directory's mtime changed since the last look. */
static void on_poll(uv_timer_t *t) {
  bw__maildir_t *m = t->data;
  static const char *const subs[2] = {"new", "cur"};
  int changed = 0;
  for (int s = 0; s < 2; s++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", m->dir, subs[s]);
    int64_t ns = stat(path, &st) == 0 ? (int64_t)st.st_mtim.tv_sec * 1000000000 +
                                            st.st_mtim.tv_nsec
                                      : -1;
    if (ns != m->mtime_ns[s])
      changed = 1;
    m->mtime_ns[s] = ns;
  }
  hold(m);
  if (changed)
    bw__maildir_scan(m, m->agg);
  feed_live(m, 1);
  release(m);
}

int bw__maildir_watch(bw__maildir_t *m, uv_loop_t *loop, uint64_t poll_ms,
                      int poll_only, bw_agg_t *agg,
                      const uint64_t *log_lines) {
  static const char *const subs[2] = {"new", "cur"};
  m->agg = agg;
  m->log_lines = log_lines;
  m->last_lines = log_lines != NULL ? *log_lines : 0;
  if (!poll_only)
    for (int s = 0; s < 2; s++) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", m->dir, subs[s]);
      uv_fs_event_t *h = &m->ev[m->nev];
      if (uv_fs_event_init(loop, h) != 0)
        continue;
      h->data = m;
      if (uv_fs_event_start(h, on_event, path, 0) != 0) {
        uv_close((uv_handle_t *)h, NULL); /* the poll still covers it */
        continue;
      }
      m->nev++;
    }
  if (uv_timer_init(loop, &m->poll) != 0)
    return BW_EIO;
  m->poll.data = m;
  m->polling = 1;
  uv_timer_start(&m->poll, on_poll, poll_ms ? poll_ms : 1000,
                 poll_ms ? poll_ms : 1000);
  on_poll(&m->poll); /* the first scan, and the mtimes to compare with */
  return 0;
}

void bw__maildir_close(bw__maildir_t *m) {
  if (m->agg != NULL) {
    hold(m);
    bw__maildir_feed(m, m->agg, INT64_MAX); /* nothing waits past the end */
    release(m);
  }
  for (int i = 0; i < m->nev; i++)
    uv_close((uv_handle_t *)&m->ev[i], NULL);
  m->nev = 0;
  if (m->polling)
    uv_close((uv_handle_t *)&m->poll, NULL);
  m->polling = 0;
}

/* ---- output ---------------------------------------------------------------- */

static void jstr(bw_out_t *o, int *f, const char *k, const char *v) {
  bw__out_json_key(o, f, k);
  if (v == NULL)
    bw__out_str(o, "null");
  else
    bw__out_json_str(o, v, strlen(v));
}

void bw__maildir_json(bw_out_t *o, const bw__maildir_t *m,
                      const bw_agg_mail_totals_t *t) {
  int f = 1, g;
  bw__out_str(o, "{");
  jstr(o, &f, "dir", m->dir);
  bw__out_json_u64(o, &f, "files", m->files);
  bw__out_json_u64(o, &f, "bytes", m->bytes);
  bw__out_json_u64(o, &f, "arf", m->by_kind[BW_MR_ARF]);
  bw__out_json_u64(o, &f, "dsn", m->by_kind[BW_MR_DSN]);
  bw__out_json_u64(o, &f, "text_bounces", m->by_kind[BW_MR_BOUNCE]);
  bw__out_json_u64(o, &f, "not_reports", m->by_kind[BW_MR_NOT_REPORT]);
  bw__out_json_u64(o, &f, "bad", m->bad);
  bw__out_json_u64(o, &f, "too_large", m->huge);
  bw__out_json_u64(o, &f, "unreadable", m->unreadable);
  bw__out_json_u64(o, &f, "damaged_but_read", m->damaged);
  bw__out_json_u64(o, &f, "already_counted", m->duplicates);
  bw__out_json_u64(o, &f, "without_date", m->no_time);
  bw__out_json_u64(o, &f, "recipients_over_cap", m->rcpts_dropped);
  bw__out_json_u64(o, &f, "queue_full", m->queue_full);
  bw__out_json_key(o, &f, "feedback_types");
  bw__out_str(o, "{");
  g = 1;
  for (int k = 1; k < BW_FEEDBACK__COUNT; k++)
    if (m->feedback[k])
      bw__out_json_u64(o, &g, bw_feedback_name((bw_feedback_t)k), m->feedback[k]);
  bw__out_str(o, "}");
  bw__out_json_key(o, &f, "dsn_actions");
  bw__out_str(o, "{");
  g = 1;
  for (int k = 0; k < BW_ACTION__COUNT; k++)
    if (m->actions[k])
      bw__out_json_u64(o, &g, bw_action_name((bw_action_t)k), m->actions[k]);
  bw__out_str(o, "}");
  bw__out_json_key(o, &f, "results");
  bw__out_str(o, "{");
  g = 1;
  for (int k = 0; k <= RES_PENDING; k++)
    if (m->results[k] && (k <= BW_MAIL_NOTIFICATION || k >= RES_DELAYED))
      bw__out_json_u64(o, &g, result_name(k), m->results[k]);
  bw__out_str(o, "}");
  bw__out_json_key(o, &f, "join");
  bw__out_str(o, "{");
  g = 1;
  bw__out_json_u64(o, &g, "complaints_by_message_id", t->complaints_mid);
  bw__out_json_u64(o, &g, "complaints_by_domain", t->complaints_domain);
  bw__out_json_u64(o, &g, "complaints_unknown", t->complaints_unknown);
  bw__out_json_u64(o, &g, "async_bounced", t->async_bounced);
  bw__out_json_u64(o, &g, "async_already_bounced", t->async_already);
  bw__out_json_u64(o, &g, "async_not_sent", t->async_not_sent);
  bw__out_json_u64(o, &g, "message_ids", t->joined);
  bw__out_json_u64(o, &g, "message_ids_evicted", t->joined_evicted);
  bw__out_json_u64(o, &g, "recipients_untracked", t->rcpts_untracked);
  bw__out_json_u64(o, &g, "identities", t->seen);
  bw__out_json_u64(o, &g, "identities_evicted", t->seen_evicted);
  bw__out_str(o, "}");
  bw__out_json_key(o, &f, "bad_files");
  bw__out_str(o, "[");
  for (size_t i = 0; i < m->nbads; i++) {
    g = 1;
    bw__out_str(o, i ? ",{" : "{");
    jstr(o, &g, "file", m->bads[i].file);
    jstr(o, &g, "why", m->bads[i].why);
    bw__out_str(o, "}");
  }
  bw__out_str(o, "]");
  bw__out_json_key(o, &f, "reports");
  bw__out_str(o, "[");
  for (size_t i = 0; i < m->nsamples; i++) {
    const sample_t *s = &m->samples[i];
    g = 1;
    bw__out_str(o, i ? ",{" : "{");
    jstr(o, &g, "file", s->file);
    char ts[40];
    bw__format_time(s->time_us, ts);
    jstr(o, &g, "time", s->time_us ? ts : NULL);
    jstr(o, &g, "kind", s->kind);
    jstr(o, &g, "format", s->format);
    if (s->type != NULL)
      jstr(o, &g, "feedback_type", s->type);
    jstr(o, &g, "rcpt", s->rcpt);
    jstr(o, &g, "status", s->status);
    jstr(o, &g, "reason",
         s->reason >= 0 ? bw_reason_name((bw_reason_t)s->reason) : NULL);
    jstr(o, &g, "message_id", s->message_id);
    jstr(o, &g, "sender_domain", s->sender);
    jstr(o, &g, "result", result_name(s->result));
    bw__out_str(o, "}");
  }
  bw__out_str(o, "]}");
}

void bw__maildir_text(bw_out_t *o, const bw__maildir_t *m,
                      const bw_agg_mail_totals_t *t) {
  bw__out_printf(o, "\nmaildir %s: %llu files (%llu ARF, %llu DSN, %llu text "
                    "bounces, %llu not reports), %llu bad, %llu already "
                    "counted\n",
                 m->dir, (unsigned long long)m->files,
                 (unsigned long long)m->by_kind[BW_MR_ARF],
                 (unsigned long long)m->by_kind[BW_MR_DSN],
                 (unsigned long long)m->by_kind[BW_MR_BOUNCE],
                 (unsigned long long)m->by_kind[BW_MR_NOT_REPORT],
                 (unsigned long long)m->bad,
                 (unsigned long long)m->duplicates);
  bw__out_printf(o, "  complaints: %llu joined by Message-ID, %llu by domain, "
                    "%llu under \"unknown\"; other feedback reported: %llu\n",
                 (unsigned long long)t->complaints_mid,
                 (unsigned long long)t->complaints_domain,
                 (unsigned long long)t->complaints_unknown,
                 (unsigned long long)m->results[RES_FEEDBACK]);
  bw__out_printf(o, "  asynchronous bounces: %llu sent recipients turned "
                    "bounced, %llu already turned, %llu not sent per the log; "
                    "delays reported (not bounces): %llu\n",
                 (unsigned long long)t->async_bounced,
                 (unsigned long long)t->async_already,
                 (unsigned long long)t->async_not_sent,
                 (unsigned long long)m->results[RES_DELAYED]);
  for (size_t i = 0; i < m->nbads; i++)
    bw__out_printf(o, "  skipped %s: %s\n", m->bads[i].file, m->bads[i].why);
  if (m->bad + m->by_kind[BW_MR_NOT_REPORT] > m->nbads)
    bw__out_printf(o, "  (%llu more skipped files not listed)\n",
                   (unsigned long long)(m->bad + m->by_kind[BW_MR_NOT_REPORT] -
                                        m->nbads));
}

static void esc(FILE *f, const char *s) {
  for (; s != NULL && *s; s++) {
    switch (*s) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      fputc(*s, f);
    }
  }
}

void bw__maildir_html(FILE *f, const bw__maildir_t *m,
                      const bw_agg_mail_totals_t *t) {
  fputs("<section><h2>Complaints and asynchronous bounces (Maildir ", f);
  esc(f, m->dir);
  fprintf(f, ")</h2>\n<p>%llu files: %llu ARF, %llu DSN, %llu text bounces, "
             "%llu not reports, %llu bad. Complaints: %llu joined by "
             "Message-ID, %llu by domain, %llu unknown. Asynchronous bounces: "
             "%llu turned bounced, %llu not sent per the log; %llu delays "
             "reported.</p>\n",
          (unsigned long long)m->files,
          (unsigned long long)m->by_kind[BW_MR_ARF],
          (unsigned long long)m->by_kind[BW_MR_DSN],
          (unsigned long long)m->by_kind[BW_MR_BOUNCE],
          (unsigned long long)m->by_kind[BW_MR_NOT_REPORT],
          (unsigned long long)m->bad, (unsigned long long)t->complaints_mid,
          (unsigned long long)t->complaints_domain,
          (unsigned long long)t->complaints_unknown,
          (unsigned long long)t->async_bounced,
          (unsigned long long)t->async_not_sent,
          (unsigned long long)m->results[RES_DELAYED]);
  if (m->nsamples > 0) {
    fputs("<table><tr><th>file</th><th>kind</th><th>type/status</th>"
          "<th>recipient</th><th>reason</th><th>sender domain</th>"
          "<th>result</th></tr>\n",
          f);
    for (size_t i = 0; i < m->nsamples; i++) {
      const sample_t *s = &m->samples[i];
      fputs("<tr><td>", f);
      esc(f, s->file);
      fputs("</td><td>", f);
      esc(f, s->kind);
      fputs("</td><td>", f);
      esc(f, s->type != NULL ? s->type : s->status);
      fputs("</td><td>", f);
      esc(f, s->rcpt);
      fputs("</td><td>", f);
      esc(f, s->reason >= 0 ? bw_reason_name((bw_reason_t)s->reason) : "");
      fputs("</td><td>", f);
      esc(f, s->sender);
      fputs("</td><td>", f);
      esc(f, result_name(s->result));
      fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
  }
  if (m->nbads > 0) {
    fputs("<p>Skipped files:</p><ul>\n", f);
    for (size_t i = 0; i < m->nbads; i++) {
      fputs("<li>", f);
      esc(f, m->bads[i].file);
      fputs(": ", f);
      esc(f, m->bads[i].why);
      fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
  }
  fputs("</section>\n", f);
}
