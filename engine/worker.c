/* The worker thread and its queue of source jobs. The queue lock is held
 * only to link and unlink jobs, so the loop thread never waits for a job
 * to finish when it posts; the pipeline lock is held by one job at a
 * time and by the loop thread's readers. */
#include <string.h>

#include "bouncewatch/error.h"
#include "worker.h"

int bw__worker_init(bw__worker_t *w) {
  memset(w, 0, sizeof(*w));
  if (uv_mutex_init(&w->qmu) != 0)
    return BW_ENOMEM;
  if (uv_mutex_init(&w->mu) != 0) {
    uv_mutex_destroy(&w->qmu);
    return BW_ENOMEM;
  }
  if (uv_cond_init(&w->qcond) != 0) {
    uv_mutex_destroy(&w->mu);
    uv_mutex_destroy(&w->qmu);
    return BW_ENOMEM;
  }
  w->init = 1;
  return 0;
}

static void push(bw__worker_t *w, bw__job_t *j) {
  j->queued = 1;
  j->next = NULL;
  if (w->tail != NULL)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
}

static void main_cb(void *arg) {
  bw__worker_t *w = arg;
  uv_mutex_lock(&w->qmu);
  for (;;) {
    while (w->head == NULL && !w->quit)
      uv_cond_wait(&w->qcond, &w->qmu);
    if (w->quit)
      break;
    bw__job_t *j = w->head;
    w->head = j->next;
    if (w->head == NULL)
      w->tail = NULL;
    /* Unqueued before it runs: an event during the run queues it again,
     * so nothing that arrives meanwhile is missed. */
    j->queued = 0;
    uv_mutex_unlock(&w->qmu);
    uv_mutex_lock(&w->mu);
    int more = j->run(j->arg);
    uv_mutex_unlock(&w->mu);
    uv_mutex_lock(&w->qmu);
    if (more && !j->queued)
      push(w, j); /* behind the other sources: fair, and in order per source */
  }
  uv_mutex_unlock(&w->qmu);
}

int bw__worker_start(bw__worker_t *w) {
  if (uv_thread_create(&w->thread, main_cb, w) != 0)
    return BW_ENOMEM;
  w->running = 1;
  return 0;
}

void bw__worker_post(bw__worker_t *w, bw__job_t *j) {
  uv_mutex_lock(&w->qmu);
  if (!j->queued && !w->quit) {
    push(w, j);
    uv_cond_signal(&w->qcond);
  }
  uv_mutex_unlock(&w->qmu);
}

void bw__worker_stop(bw__worker_t *w) {
  if (!w->init)
    return;
  uv_mutex_lock(&w->qmu);
  w->quit = 1;
  for (bw__job_t *j = w->head; j != NULL; j = j->next)
    j->queued = 0;
  w->head = w->tail = NULL;
  uv_cond_signal(&w->qcond);
  uv_mutex_unlock(&w->qmu);
  if (w->running)
    uv_thread_join(&w->thread);
  w->running = 0;
}

void bw__worker_close(bw__worker_t *w) {
  if (!w->init)
    return;
  bw__worker_stop(w);
  uv_cond_destroy(&w->qcond);
  uv_mutex_destroy(&w->mu);
  uv_mutex_destroy(&w->qmu);
  w->init = 0;
}

void bw__worker_lock(bw__worker_t *w) {
  if (w->init)
    uv_mutex_lock(&w->mu);
}

void bw__worker_unlock(bw__worker_t *w) {
  if (w->init)
    uv_mutex_unlock(&w->mu);
}
