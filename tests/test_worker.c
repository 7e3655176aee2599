/* The watch worker (engine/worker.c): a job runs on the worker thread
 * with the pipeline lock held, never twice at once; a job that says
 * "more" goes behind the others (sources take turns, each in order);
 * posts while a job is queued coalesce, posts during its run queue it
 * again; stop drops what is queued and ignores later posts. Waits are
 * bounded retries. */
#include <stdlib.h>

#include "t_util.h"
#include "worker.h"

typedef struct {
  bw__job_t job;
  char name;
  int runs, more; /* runs so far; say "more" while runs < more */
  int running;    /* inside run(): a second concurrent run is a bug */
  int twice;
} src_t;

static char seq[256];
static size_t nseq;

static int run(void *arg) {
  src_t *s = arg;
  if (s->running)
    s->twice = 1;
  s->running = 1;
  if (nseq < sizeof(seq) - 1)
    seq[nseq++] = s->name;
  s->runs++;
  s->running = 0;
  return s->runs < s->more;
}

static void src_init(src_t *s, char name, int more) {
  memset(s, 0, sizeof(*s));
  s->job.run = run;
  s->job.arg = s;
  s->name = name;
  s->more = more;
}

/* Until the total of runs is n (5 s at most). */
static int wait_runs(bw__worker_t *w, src_t **v, int k, int n) {
  for (int i = 0; i < 5000; i++) {
    int total = 0;
    bw__worker_lock(w);
    for (int j = 0; j < k; j++)
      total += v[j]->runs;
    bw__worker_unlock(w);
    if (total >= n)
      return total;
    uv_sleep(1);
  }
  return -1;
}

static void test_sources_take_turns(void **state) {
  (void)state;
  bw__worker_t w;
  src_t a, b, c;
  src_t *v[3] = {&a, &b, &c};
  src_init(&a, 'a', 3);
  src_init(&b, 'b', 2);
  src_init(&c, 'c', 1);
  nseq = 0;
  assert_int_equal(bw__worker_init(&w), 0);
  /* Queued before the start: they run in posting order once it is up;
   * a second post of a queued job adds nothing. */
  bw__worker_post(&w, &a.job);
  bw__worker_post(&w, &b.job);
  bw__worker_post(&w, &a.job);
  bw__worker_post(&w, &c.job);
  assert_int_equal(bw__worker_start(&w), 0);
  assert_int_equal(wait_runs(&w, v, 3, 6), 6);
  bw__worker_stop(&w);
  seq[nseq] = '\0';
  /* a and b said "more" and went behind the others each time. */
  assert_string_equal(seq, "abcaba");
  assert_false(a.twice || b.twice || c.twice);
  bw__worker_close(&w);
}

/* Posts from the loop while the job runs: it runs again, never at the
 * same time. */
typedef struct {
  bw__worker_t *w;
  src_t *s;
  int posts;
} poster_t;

static void poster(void *arg) {
  poster_t *p = arg;
  for (int i = 0; i < p->posts; i++)
    bw__worker_post(p->w, &p->s->job);
}

static void test_posts_from_other_threads(void **state) {
  (void)state;
  bw__worker_t w;
  src_t s;
  src_t *v[1] = {&s};
  src_init(&s, 's', 0);
  nseq = 0;
  assert_int_equal(bw__worker_init(&w), 0);
  assert_int_equal(bw__worker_start(&w), 0);
  poster_t p = {&w, &s, 20000};
  uv_thread_t t1, t2;
  assert_int_equal(uv_thread_create(&t1, poster, &p), 0);
  assert_int_equal(uv_thread_create(&t2, poster, &p), 0);
  uv_thread_join(&t1);
  uv_thread_join(&t2);
  /* The last post was after at least one run started or while it was
   * queued: at least one run, at most one per post. */
  assert_true(wait_runs(&w, v, 1, 1) >= 1);
  bw__worker_stop(&w);
  assert_true(s.runs >= 1 && s.runs <= 40000);
  assert_false(s.twice);
  bw__worker_close(&w);
}

static void test_stop_drops_queued(void **state) {
  (void)state;
  bw__worker_t w;
  src_t a;
  src_init(&a, 'a', 0);
  assert_int_equal(bw__worker_init(&w), 0);
  bw__worker_post(&w, &a.job);
  bw__worker_stop(&w); /* never started: the queued job is dropped */
  bw__worker_post(&w, &a.job);
  assert_int_equal(a.runs, 0);
  assert_int_equal(a.job.queued, 0);
  bw__worker_close(&w);
  bw__worker_close(&w); /* twice is harmless */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sources_take_turns),
      cmocka_unit_test(test_posts_from_other_threads),
      cmocka_unit_test(test_stop_drops_queued),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
