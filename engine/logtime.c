/* Log-time arithmetic for the line grammars. Owns no state beyond the
 * small bw_logtime_t the caller embeds. */
#include <stdint.h>
#include <time.h>

#include "logtime.h"

void bw__logtime_init(bw_logtime_t *lt, int64_t ref_unix_s) {
  time_t t = (time_t)ref_unix_s;
  struct tm tm;
  if (localtime_r(&t, &tm) == NULL) {
    lt->ref_year = 1970;
    lt->ref_month = 1;
  } else {
    lt->ref_year = tm.tm_year + 1900;
    lt->ref_month = tm.tm_mon + 1;
  }
  for (int i = 0; i < 16; i++)
    lt->hour_key[i] = INT64_MIN;
  lt->last_y = 0;
}

int64_t bw__days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

int64_t bw__utc_seconds(int y, int mon, int d, int h, int mi, int s) {
  return bw__days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 +
         h * 3600 + mi * 60 + s;
}

int64_t bw__civil_seconds(bw_logtime_t *lt, int y, int mon, int d, int h,
                          int mi, int s) {
  if (y != lt->last_y || mon != lt->last_m || d != lt->last_d) {
    lt->last_days = bw__days_from_civil(y, (unsigned)mon, (unsigned)d);
    lt->last_y = y;
    lt->last_m = mon;
    lt->last_d = d;
  }
  return lt->last_days * 86400 + h * 3600 + mi * 60 + s;
}

int64_t bw__local_seconds(bw_logtime_t *lt, int64_t as_utc) {
  int64_t hour_key = as_utc >= 0 ? as_utc / 3600 : (as_utc - 3599) / 3600;
  unsigned slot = (unsigned)(hour_key & 15);
  if (hour_key != lt->hour_key[slot]) {
    time_t hour = (time_t)(hour_key * 3600);
    struct tm civil;
    gmtime_r(&hour, &civil);
    civil.tm_isdst = -1;
    time_t t = mktime(&civil);
    /* mktime normalises; the offset is what it added to our UTC guess. */
    lt->hour_offset_s[slot] =
        (t == (time_t)-1) ? 0 : (int64_t)t - hour_key * 3600;
    lt->hour_key[slot] = hour_key;
  }
  return as_utc + lt->hour_offset_s[slot];
}

int bw__infer_year(const bw_logtime_t *lt, int mon) {
  return mon > lt->ref_month ? lt->ref_year - 1 : lt->ref_year;
}

int bw__format_time(int64_t us, char *buf) {
  /* Floor division without `us - 999999`, which overflows near INT64_MIN:
   * times read back from a state file can be any value. */
  int64_t s = us / 1000000, frac = us % 1000000;
  if (frac < 0) {
    s--;
    frac += 1000000;
  }
  int64_t z = (s >= 0 ? s : s - 86399) / 86400;
  int64_t sod = s - z * 86400;
  /* civil_from_days (Hinnant) */
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = (int64_t)yoe + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char *p = buf;
  int v[6] = {(int)y, (int)m, (int)d, (int)(sod / 3600), (int)(sod / 60 % 60),
              (int)(sod % 60)};
  static const char sep[6] = {'-', '-', 'T', ':', ':', '.'};
  for (int i = 0; i < 6; i++) {
    int width = i == 0 ? 4 : 2;
    int x = v[i] < 0 ? 0 : v[i];
    for (int k = width - 1; k >= 0; k--) {
      p[k] = (char)('0' + x % 10);
      x /= 10;
    }
    p += width;
    *p++ = sep[i];
  }
  int64_t f = frac;
  for (int k = 5; k >= 0; k--) {
    p[k] = (char)('0' + f % 10);
    f /= 10;
  }
  p += 6;
  *p++ = 'Z';
  *p = '\0';
  return (int)(p - buf);
}
