/* feeder: append the lines of a log to a file at a fixed rate, for the
 * watch latency bench (bench/watch_latency.sh). Usage:
 *   feeder SOURCE TARGET LINES_PER_SECOND SECONDS
 * Writes in batches every millisecond, then prints the line count and the
 * time of the last write (CLOCK_REALTIME, ns) on stdout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: feeder SOURCE TARGET LINES_PER_SECOND SECONDS\n");
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
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  printf("%llu %lld\n", written, (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec);
  free(line);
  fclose(src);
  fclose(dst);
  return 0;
}
