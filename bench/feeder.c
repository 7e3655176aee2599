/* feeder: append the lines of a log to a file at a fixed rate, for the
 * watch latency bench (bench/watch_latency.sh). Usage:
 *   feeder SOURCE TARGET LINES_PER_SECOND SECONDS [PID REPORT]
 * Writes in batches every millisecond, then prints the line count and the
 * time of the last write (CLOCK_REALTIME, ns) on stdout. With PID and
 * REPORT (the watcher and its --report-json) it then asks for reports
 * (SIGUSR1, one at a time: the next once the last one has replaced the
 * file) until one counts every line written, and prints that moment and
 * the mean time one report takes with the watcher idle. The probe is
 * here, in C, because a shell probe (jq over a 1.3 MB report, process
 * spawns) cost more than the latency it measured. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long wall_ns(void) {
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  return (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec;
}

/* Ask for one report and wait (5 s at most) until it replaced the file.
 * Returns the "lines" of its "replay" block, or -1. */
static long long report_lines(pid_t pid, const char *path) {
  struct stat st;
  ino_t was = stat(path, &st) == 0 ? st.st_ino : 0;
  if (kill(pid, SIGUSR1) != 0)
    return -1;
  struct timespec tick = {0, 100000};
  for (int i = 0; i < 50000; i++) {
    if (stat(path, &st) == 0 && st.st_ino != was)
      break;
    nanosleep(&tick, NULL);
  }
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  /* "replay" is the report's last block: read the tail only. */
  static char buf[1 << 16];
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0,
        SEEK_SET);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *r = strstr(buf, "\"replay\":{");
  char *l = r != NULL ? strstr(r, "\"lines\":") : NULL;
  return l != NULL ? atoll(l + 8) : -1;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 7) {
    fprintf(stderr,
            "usage: feeder SOURCE TARGET LINES_PER_SECOND SECONDS [PID REPORT]\n");
    return 1;
  }
  FILE *src = fopen(argv[1], "r");
  FILE *dst = fopen(argv[2], "a");
  double rate = atof(argv[3]), secs = atof(argv[4]);
  if (src == NULL || dst == NULL || rate <= 0 || secs <= 0) {
    fprintf(stderr, "feeder: bad arguments\n");
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  unsigned long long written = 0;
  double t0 = now();
  for (;;) {
    double t = now() - t0;
    if (t >= secs)
      break;
    unsigned long long due = (unsigned long long)(t * rate);
    while (written < due) {
      ssize_t n = getline(&line, &cap, src);
      if (n <= 0) {
        rewind(src);
        continue;
      }
      fwrite(line, 1, (size_t)n, dst);
      written++;
    }
    fflush(dst);
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  fflush(dst);
  long long last = wall_ns();
  if (argc == 7) {
    pid_t pid = (pid_t)atol(argv[5]);
    long long counted = 0, report = 0;
    for (int i = 0; i < 100000 && counted == 0; i++)
      if (report_lines(pid, argv[6]) == (long long)written)
        counted = wall_ns();
    for (int i = 0; i < 5; i++) {
      long long t = wall_ns();
      report_lines(pid, argv[6]);
      report += wall_ns() - t;
    }
    printf("%llu %lld %lld %lld\n", written, last, counted, report / 5);
  } else {
    printf("%llu %lld\n", written, last);
  }
  free(line);
  fclose(src);
  fclose(dst);
  return 0;
}
