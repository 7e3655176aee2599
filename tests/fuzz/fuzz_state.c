/* libFuzzer harness for the aggregation's state loader, bw_agg_restore():
 * what `watch` reads back from its state file at every start. The build
 * defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which skips the
 * checksum (the fuzzer cannot forge it), so the structural checks behind
 * it are what is tested.
 *
 * Input: one control byte, then
 *   0: the rest IS a state, restored as it is;
 *   1: the rest patches a valid state (made at start from real-format
 *      lines): repeated [offset: 2 bytes][length: 1 byte][bytes], XORed in.
 * A restored aggregator must then answer every query, take more lines,
 * finish, and save again, without a crash, leak, hang or UB report; a
 * refused one returns BW_EPARSE and is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/agg.h"
#include "bouncewatch/error.h"
#include "bouncewatch/parse.h"
#include "fuzz_util.h"

static const char *const lines[] = {
    "2024-05-01T12:00:00+00:00 mx1 postfix/qmgr[2]: 4AAAAAAAAA: from=<a@example.org>, size=1, nrcpt=3 (queue active)",
    "2024-05-01T12:00:01+00:00 mx1 postfix/smtp[3]: 4AAAAAAAAA: to=<r@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
    "2024-05-01T12:00:02+00:00 mx1 postfix/smtp[3]: 4AAAAAAAAA: to=<s@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.26]:25, delay=1, delays=0/0/0/1, dsn=4.2.1, status=deferred (host gmail-smtp-in.l.google.com[142.250.1.26] said: 450 4.2.1 try later (in reply to RCPT TO command))",
    "2024-05-01T12:00:03+00:00 mx1 postfix/smtp[3]: 4AAAAAAAAA: to=<t@yahoo.com>, relay=mta5.am0.yahoodns.net[67.195.204.72]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mta5.am0.yahoodns.net[67.195.204.72] said: 554 5.1.1 no such user (in reply to RCPT TO command))",
    "2024-05-01T12:00:04+00:00 mx1 postfix/qmgr[2]: 4BBBBBBBBB: from=<b@example.com>, size=1, nrcpt=1 (queue active)",
    "2024-05-01T12:00:05+00:00 mx1 postfix/smtp[3]: 4BBBBBBBBB: to=<u@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred (connect to mx.example.net[192.0.2.1]:25: Connection timed out)",
    "2024-05-01 12:00:06 1rABCd-000Xyz-AB <= c@example.biz H=client [192.0.2.9] P=esmtps S=1234 id=x@example.biz",
    "2024-05-01 12:00:07 1rABCd-000Xyz-AB ** v@example.net R=dnslookup T=remote_smtp H=mx.example.net [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<v@example.net>: 550 5.1.1 unknown user",
};
#define NLINES (sizeof(lines) / sizeof(lines[0]))

static char *valid;
static size_t valid_len;

static void opts(bw_agg_opts_t *o) {
  bw_agg_opts_default(o);
  o->max_messages = 16;
  o->max_domains = 8;
}

static void feed_lines(bw_agg_t *a, size_t from, size_t to) {
  bw_parser_t *p;
  if (bw_parser_new(&p) != 0)
    abort();
  bw_verdict_t v;
  memset(&v, 0, sizeof(v));
  v.reason = BW_REASON_USERUNKNOWN;
  v.group = BW_GROUP_RECIPIENT;
  v.hard = 1;
  for (size_t i = from; i < to; i++) {
    bw_event_t ev;
    bw_parse_line(p, lines[i], strlen(lines[i]), &ev);
    bw_agg_add(a, &ev, ev.kind == BW_KIND_DELIVERY ? &v : NULL);
  }
  bw_parser_free(p);
}

static void make_valid(void) {
  bw_agg_opts_t o;
  opts(&o);
  bw_agg_t *a;
  if (bw_agg_new(&o, &a) != 0)
    abort();
  feed_lines(a, 0, NLINES);
  FILE *f = open_memstream(&valid, &valid_len);
  if (f == NULL || bw_agg_save(a, f) != 0)
    abort();
  fclose(f);
  bw_agg_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (valid == NULL)
    make_valid();
  if (size < 1)
    return 0;
  char *buf;
  size_t len;
  if (data[0] == 0) {
    len = size - 1;
    buf = malloc(len + 1);
    if (buf == NULL)
      return 0;
    memcpy(buf, data + 1, len);
  } else {
    len = valid_len;
    buf = malloc(len);
    if (buf == NULL)
      return 0;
    memcpy(buf, valid, len);
    fuzz_patch(buf, len, data, 1, size);
  }
  FILE *f = fmemopen(buf, len > 0 ? len : 1, "rb");
  if (f == NULL) {
    free(buf);
    return 0;
  }
  if (len == 0)
    fgetc(f); /* an empty state: at its end at once */
  bw_agg_opts_t o;
  opts(&o);
  bw_agg_t *a;
  if (bw_agg_new(&o, &a) != 0)
    abort();
  int rc = bw_agg_restore(a, f);
  fclose(f);
  if (rc == 0) {
    bw_agg_totals_t t;
    bw_agg_totals(a, &t);
    for (int tab = 0; tab <= BW_AGG_PROVIDER; tab++) {
      bw_agg_key_t *k = NULL;
      bw_agg_keys(a, (bw_agg_table_t)tab, &k);
      free(k);
    }
    feed_lines(a, 0, NLINES); /* recycled ids, deferrals, expiry paths */
    bw_agg_finish(a);
    char *out = NULL;
    size_t outlen = 0;
    FILE *g = open_memstream(&out, &outlen);
    if (g != NULL) {
      bw_agg_save(a, g);
      fclose(g);
    }
    free(out);
  } else if (rc != BW_EPARSE && rc != BW_ENOMEM) {
    fprintf(stderr, "bw_agg_restore returned %d\n", rc);
    abort();
  }
  bw_agg_free(a);
  free(buf);
  return 0;
}
