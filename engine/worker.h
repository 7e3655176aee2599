/* The watch pipeline's worker thread: sources (followed files, stdin,
 * the journal) are read, decoded, split, parsed, classified and
 * aggregated here, off the loop thread, which only sees events, timers
 * and signals and posts jobs. One thread, so the aggregator is fed from
 * one thread and each source's lines stay in order; a source has at most
 * one job queued, so the queue is bounded by the number of sources.
 * Memory stays flat whatever the write rate: a job reads at most a
 * budget into its source's fixed buffers, and what is not read yet waits
 * in the file, the pipe or the journal (backpressure by not reading).
 * Internal to the engine. */
#ifndef BW_WORKER_H
#define BW_WORKER_H

#include <uv.h>

/* A source's unit of work: run() is called on the worker with the
 * pipeline lock held; it returns 1 when it stopped at its budget with
 * more to read (the job is queued again, behind the other sources), 0
 * when it has read what there is. */
typedef struct bw__job_s {
  int (*run)(void *arg);
  void *arg;
  int queued; /* guarded by the worker's queue lock */
  struct bw__job_s *next;
} bw__job_t;

typedef struct {
  uv_thread_t thread;
  uv_mutex_t qmu;  /* the queue */
  uv_cond_t qcond;
  uv_mutex_t mu;   /* the pipeline: aggregation, stats, source positions */
  bw__job_t *head, *tail;
  int quit, running, init;
} bw__worker_t;

int bw__worker_init(bw__worker_t *w);
/* Start the thread; jobs posted before run once it is up. */
int bw__worker_start(bw__worker_t *w);
/* From any thread: queue the job unless it is queued already. Without a
 * running worker the job is only queued (and dropped by _stop). */
void bw__worker_post(bw__worker_t *w, bw__job_t *j);
/* Let the job in progress finish, drop the queued ones and join: after
 * this everything is the calling thread's again. */
void bw__worker_stop(bw__worker_t *w);
void bw__worker_close(bw__worker_t *w);

/* The pipeline lock, for the loop thread's readers (report, state,
 * rules reload). A job holds it for one budget (a few ms). */
void bw__worker_lock(bw__worker_t *w);
void bw__worker_unlock(bw__worker_t *w);

#endif
