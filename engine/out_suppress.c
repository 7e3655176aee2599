/* The suppression list's export formats: a Postfix access(5) table for
 * check_recipient_access (postmap reads it), CSV (RFC 4180) and JSON.
 * The table and its rules are suppress.c's. */
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "bouncewatch/suppress.h"
#include "logtime.h"
#include "out_buf.h"

/* "2024-05-01T10:00:01Z": seconds are enough for evidence, and a
 * fraction in the REJECT text only lengthens the reply. */
static const char *stamp(int64_t us, char buf[40]) {
  if (us == 0)
    return "";
  int n = bw__format_time(us, buf);
  char *dot = memchr(buf, '.', (size_t)n);
  if (dot != NULL) {
    dot[0] = 'Z';
    dot[1] = '\0';
  }
  return buf;
}

/* access(5) keys are whitespace-separated, '#' starts a comment line,
 * and a key without '@' is a domain or host pattern: such an address
 * cannot be written as a recipient key. */
static int postfix_key_ok(const char *a) {
  if (a[0] == '#' || strchr(a, '@') == NULL)
    return 0;
  for (const unsigned char *p = (const unsigned char *)a; *p; p++)
    if (*p <= ' ' || *p == 0x7f)
      return 0;
  return 1;
}

/* The reply text: our words only (never the remote diagnostic, which
 * could hold anything), so the table always parses. REJECT answers with
 * $access_map_reject_code and 5.7.1; the reason and dates tell the
 * submitting user why. */
static void postfix_line(bw_out_t *o, const bw_suppress_entry_t *e) {
  char t1[40], t2[40];
  bw__out_str(o, e->addr);
  bw__out_str(o, " REJECT recipient suppressed by bouncewatch: ");
  bw__out_str(o, bw_reason_name(e->reason));
  if (e->dsn[0] != '\0') {
    int clean = 1;
    for (const char *p = e->dsn; *p; p++)
      clean &= (*p >= '0' && *p <= '9') || *p == '.';
    if (clean)
      bw__out_printf(o, " (%s)", e->dsn);
  }
  bw__out_printf(o, " %s at %s, until %s\n",
                 e->hard ? "hard bounce" : "repeated soft bounces",
                 stamp(e->last_us, t1), stamp(e->expires_us, t2));
}

/* RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes
 * doubled. Other control bytes become spaces so a line stays a line for
 * tools that split naively. */
static void csv_field(bw_out_t *o, const char *p, size_t n) {
  int quote = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n')
      quote = 1;
  if (quote)
    bw__out_write(o, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"')
      bw__out_write(o, "\"\"", 2);
    else if (c < ' ' || c == 0x7f)
      bw__out_write(o, " ", 1);
    else
      bw__out_write(o, (const char *)&c, 1);
  }
  if (quote)
    bw__out_write(o, "\"", 1);
}

static void csv_line(bw_out_t *o, const bw_suppress_entry_t *e) {
  char t[40];
  csv_field(o, e->addr, strlen(e->addr));
  bw__out_printf(o, ",%s,%s,%u,", bw_reason_name(e->reason),
                 e->hard ? "hard" : "soft", e->failures);
  bw__out_str(o, stamp(e->first_us, t));
  bw__out_str(o, ",");
  bw__out_str(o, stamp(e->last_us, t));
  bw__out_str(o, ",");
  bw__out_str(o, stamp(e->since_us, t));
  bw__out_str(o, ",");
  bw__out_str(o, stamp(e->expires_us, t));
  bw__out_str(o, ",");
  csv_field(o, e->dsn, strlen(e->dsn));
  bw__out_str(o, ",");
  if (e->sender_domain != NULL)
    csv_field(o, e->sender_domain[0] ? e->sender_domain : "<>",
              e->sender_domain[0] ? strlen(e->sender_domain) : 2);
  bw__out_str(o, ",");
  csv_field(o, e->text, e->text_len);
  bw__out_str(o, "\n");
}

static void json_time(bw_out_t *o, int *first, const char *k, int64_t us) {
  char t[40];
  bw__out_json_key(o, first, k);
  if (us == 0) {
    bw__out_str(o, "null");
    return;
  }
  int n = bw__format_time(us, t);
  bw__out_json_str(o, t, (size_t)n);
}

static void json_entry(bw_out_t *o, const bw_suppress_entry_t *e) {
  int first = 1;
  bw__out_str(o, "{");
  bw__out_json_key(o, &first, "address");
  bw__out_json_str(o, e->addr, strlen(e->addr));
  bw__out_json_key(o, &first, "reason");
  bw__out_json_str(o, bw_reason_name(e->reason), strlen(bw_reason_name(e->reason)));
  bw__out_json_key(o, &first, "kind");
  bw__out_str(o, e->hard ? "\"hard\"" : "\"soft\"");
  bw__out_json_u64(o, &first, "failures", e->failures);
  json_time(o, &first, "first_failure", e->first_us);
  json_time(o, &first, "last_failure", e->last_us);
  json_time(o, &first, "suppressed_since", e->since_us);
  json_time(o, &first, "expires", e->expires_us);
  bw__out_json_key(o, &first, "dsn");
  if (e->dsn[0])
    bw__out_json_str(o, e->dsn, strlen(e->dsn));
  else
    bw__out_str(o, "null");
  bw__out_json_key(o, &first, "sender_domain");
  if (e->sender_domain != NULL)
    bw__out_json_str(o, e->sender_domain, strlen(e->sender_domain));
  else
    bw__out_str(o, "null"); /* the message began before the logs read */
  bw__out_json_key(o, &first, "text");
  bw__out_json_str(o, e->text, e->text_len);
  bw__out_str(o, "}");
}

int bw_suppress_write(bw_suppress_t *s, bw_suppress_format_t fmt, FILE *f,
                      uint64_t *skipped) {
  static bw_out_t o; /* 64 KiB: not on the stack */
  bw_suppress_entry_t *v = NULL;
  size_t n = bw_suppress_list(s, &v);
  uint64_t skip = 0;
  char t[40];
  bw_suppress_stats_t st;
  bw_suppress_stats(s, &st);
  bw__out_init(&o, f);
  switch (fmt) {
  case BW_SUPPRESS_POSTFIX:
    bw__out_printf(&o, "# bouncewatch suppression list, %zu address%s at log "
                       "time %s\n# postmap hash:FILE, then "
                       "check_recipient_access hash:FILE\n",
                   n, n == 1 ? "" : "es",
                   stamp(st.now_us == INT64_MIN ? 0 : st.now_us, t));
    for (size_t i = 0; i < n; i++) {
      if (postfix_key_ok(v[i].addr))
        postfix_line(&o, &v[i]);
      else
        skip++;
    }
    if (skip > 0)
      bw__out_printf(&o, "# %llu address%s access(5) cannot hold left out\n",
                     (unsigned long long)skip, skip == 1 ? "" : "es");
    break;
  case BW_SUPPRESS_CSV:
    bw__out_str(&o, "address,reason,kind,failures,first_failure,last_failure,"
                    "suppressed_since,expires,dsn,sender_domain,text\n");
    for (size_t i = 0; i < n; i++)
      csv_line(&o, &v[i]);
    break;
  case BW_SUPPRESS_JSON: {
    int first = 1;
    bw__out_str(&o, "{\"version\":1,");
    bw__out_str(&o, "\"log_time\":");
    if (st.now_us == INT64_MIN) {
      bw__out_str(&o, "null");
    } else {
      int len = bw__format_time(st.now_us, t);
      bw__out_json_str(&o, t, (size_t)len);
    }
    bw__out_str(&o, ",\"stats\":{");
    bw__out_json_u64(&o, &first, "active", st.active);
    bw__out_json_u64(&o, &first, "tracked", st.tracked);
    bw__out_json_u64(&o, &first, "suppressed_hard", st.suppressed_hard);
    bw__out_json_u64(&o, &first, "suppressed_soft", st.suppressed_soft);
    bw__out_json_u64(&o, &first, "cleared_by_sent", st.cleared_by_sent);
    bw__out_json_u64(&o, &first, "expired", st.expired);
    bw__out_json_u64(&o, &first, "evicted", st.evicted);
    bw__out_json_u64(&o, &first, "evicted_active", st.evicted_active);
    bw__out_json_u64(&o, &first, "skipped_addresses", st.skipped_addr);
    bw__out_str(&o, "},\"entries\":[");
    for (size_t i = 0; i < n; i++) {
      if (i)
        bw__out_str(&o, ",\n");
      else
        bw__out_str(&o, "\n");
      json_entry(&o, &v[i]);
    }
    bw__out_str(&o, "]}\n");
    break;
  }
  default:
    free(v);
    return BW_EINVAL;
  }
  free(v);
  bw__out_flush(&o);
  if (skipped != NULL)
    *skipped = skip;
  return o.error ? BW_EIO : 0;
}
