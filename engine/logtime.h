/* Log-time arithmetic: civil date to Unix time without libc's per-call
 * cost, the local-zone offset for zone-less stamps (cached per hour), and
 * the year inference RFC 3164 stamps need. Internal to the engine. */
#ifndef BW_LOGTIME_H
#define BW_LOGTIME_H

#include <stdint.h>

typedef struct {
  /* Reference for RFC 3164 stamps, which carry no year: the file's mtime
   * (or now for stdin). A line dated in a month after the reference month
   * belongs to the year before (the Dec -> Jan rollover). */
  int ref_year;
  int ref_month; /* 1..12 */
  /* Local UTC offset per log hour, direct-mapped: mktime() costs about a
   * microsecond (and stats /etc/localtime when TZ is unset), so it runs
   * once per hour of log, even when two sources interleave their hours. */
  int64_t hour_key[16];
  int64_t hour_offset_s[16];
  /* Last civil date converted to days (RFC 3339 and Exim stamps repeat
   * the same date for a whole day of lines). */
  int last_y, last_m, last_d;
  int64_t last_days;
} bw_logtime_t;

void bw__logtime_init(bw_logtime_t *lt, int64_t ref_unix_s);

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
 * algorithm). */
int64_t bw__days_from_civil(int y, unsigned m, unsigned d);

/* Seconds since the epoch for a civil time given in UTC. */
int64_t bw__utc_seconds(int y, int mon, int d, int h, int mi, int s);

/* Same, memoising the date's day number in lt. */
int64_t bw__civil_seconds(bw_logtime_t *lt, int y, int mon, int d, int h,
                          int mi, int s);

/* Seconds since the epoch of a local civil time, given as the seconds it
 * would be if it were UTC (what bw__civil_seconds returns). */
int64_t bw__local_seconds(bw_logtime_t *lt, int64_t as_utc);

/* Year of an RFC 3164 stamp in month `mon` (1..12). */
int bw__infer_year(const bw_logtime_t *lt, int mon);



/* Format microseconds since the epoch as "2024-05-01T12:00:01.123456Z"
 * into buf (at least 32 bytes). Returns the length. */
int bw__format_time(int64_t us, char *buf);
#endif
