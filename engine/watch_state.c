/* watch's state file: the header (positions, journal cursor, counters)
 * written and read here, and checked before anything read from it is
 * trusted; the aggregation's, suppression list's and alerts' sections
 * after it are read by their own loaders, in this order. Opening,
 * renaming and setting a bad file aside are cmd_watch.c's. */
#include "watch_state.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "hash.h"

#define SEED 0x9E3779B97F4A7C15ull

/* The positions are written as raw bytes: a change of this struct is a
 * change of the file format (a new magic). */
_Static_assert(sizeof(bw_follow_pos_t) == 40,
               "bw_follow_pos_t is part of the state file format");

/* The counters without what belongs to the run that has them: file
 * statistics and skip samples point at its memory and strings. */
static void stats_strip(bw_replay_stats_t *st) {
  st->files = NULL;
  st->nfiles = 0;
  st->nskips = 0;
  memset(st->skips, 0, sizeof(st->skips));
}

int bw__watch_state_save(FILE *f, const bw__watch_state_t *s,
                         const char *cursor) {
  /* Never write what bw__watch_state_load refuses (cmd_watch checks the
   * paths at start; a journal cursor is some 100 bytes). */
  if (s->npaths >= BW__WATCH_MAX_PATHS ||
      (cursor != NULL && strlen(cursor) >= BW__WATCH_MAX_STR))
    return BW_EINVAL;
  for (size_t i = 0; i < s->npaths; i++)
    if (strlen(s->paths[i]) >= BW__WATCH_MAX_STR)
      return BW_EINVAL;
  uint64_t h = SEED;
  int ok = fwrite(BW__WATCH_MAGIC, 8, 1, f) == 1;
  uint32_t n = (uint32_t)s->npaths;
  ok = ok && fwrite(&n, sizeof(n), 1, f) == 1;
  h = bw__hash_bytes(h, (const char *)&n, sizeof(n));
  for (size_t i = 0; i < s->npaths && ok; i++) {
    const bw_follow_pos_t *pos = &s->pos[2 * i];
    uint32_t len = (uint32_t)strlen(s->paths[i]);
    ok = fwrite(&len, sizeof(len), 1, f) == 1 &&
         fwrite(s->paths[i], 1, len, f) == len &&
         fwrite(pos, sizeof(*pos), 2, f) == 2;
    h = bw__hash_bytes(h, s->paths[i], len);
    h = bw__hash_bytes(h, (const char *)pos, 2 * sizeof(*pos));
  }
  /* The journal's cursor: the last entry read, counted in the
   * aggregation written below (the caller takes both at one moment). */
  const char *c = cursor != NULL ? cursor : "";
  uint32_t clen = (uint32_t)strlen(c);
  ok = ok && fwrite(&clen, sizeof(clen), 1, f) == 1 &&
       fwrite(c, 1, clen, f) == clen;
  h = bw__hash_bytes(h, (const char *)&clen, sizeof(clen));
  h = bw__hash_bytes(h, c, clen);
  bw_replay_stats_t st;
  memcpy(&st, s->stats, sizeof(st));
  stats_strip(&st);
  ok = ok && fwrite(&st, sizeof(st), 1, f) == 1;
  h = bw__hash_bytes(h, (const char *)&st, sizeof(st));
  ok = ok && fwrite(&h, sizeof(h), 1, f) == 1;
  ok = ok && bw_agg_save(s->agg, f) == 0;
  ok = ok && bw_suppress_save(s->suppress, f) == 0;
  ok = ok && bw__alerts_save(s->alerts, f) == 0;
  return ok ? 0 : BW_EIO;
}

__attribute__((format(printf, 4, 5))) static void
say(char *why, size_t whylen, FILE *f, const char *fmt, ...) {
  if (why == NULL || whylen == 0)
    return;
  int k = snprintf(why, whylen, "at byte %ld: ", ftell(f));
  if (k < 0 || (size_t)k >= whylen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why + k, whylen - (size_t)k, fmt, ap);
  va_end(ap);
}

/* A string of the header: [len: 4][bytes], len below BW__WATCH_MAX_STR,
 * no NUL inside (the writer wrote strlen() bytes; one inside would make
 * a saved path compare equal to a shorter one). buf gets it with a NUL. */
static const char *get_str(FILE *f, char *buf, uint32_t *len) {
  if (fread(len, sizeof(*len), 1, f) != 1)
    return "truncated";
  if (*len >= BW__WATCH_MAX_STR)
    return "a string too long";
  if (fread(buf, 1, *len, f) != *len)
    return "truncated";
  if (memchr(buf, '\0', *len) != NULL)
    return "a string with a NUL inside";
  buf[*len] = '\0';
  return NULL;
}

/* What follow.c trusts in a saved position (bw__follow_resume): a kind
 * it knows; a head no longer than it hashes (decoded_head() fills a
 * BW_FOLLOW_HEAD-byte buffer with head_len bytes); an offset pread() can
 * take (off_t). The writer (pos_of) hashes at most `offset` bytes of a
 * plain file's head. An unused position is zeroed whatever it held. */
static const char *pos_problem(bw_follow_pos_t *p) {
  switch (p->valid) {
  case BW_POS_NONE:
    memset(p, 0, sizeof(*p));
    return NULL;
  case BW_POS_BYTES:
  case BW_POS_DECODED:
    break;
  default:
    return "a position of an unknown kind";
  }
  if (p->head_len > BW_FOLLOW_HEAD)
    return "a position whose head is over 64 bytes";
  if (p->offset > (uint64_t)INT64_MAX)
    return "a position beyond any file";
  if (p->valid == BW_POS_BYTES && p->head_len > p->offset)
    return "a position whose head is longer than its offset";
  return NULL;
}

/* The suppression list's and the alerts' sections: a state written
 * before they existed ends before them (an empty list, no alert). */
static int at_end(FILE *f) {
  int c = getc(f);
  if (c == EOF)
    return 1;
  ungetc(c, f);
  return 0;
}

int bw__watch_state_load(FILE *f, const bw__watch_state_t *s, char **cursor,
                         char *why, size_t whylen) {
  char magic[8], str[BW__WATCH_MAX_STR];
  char *c = NULL;
  const char *what = NULL;
  uint64_t h = SEED, check = 0;
  uint32_t n = 0, len = 0;
  int rc = BW_EPARSE;
  *cursor = NULL;
  if (why != NULL && whylen > 0)
    why[0] = '\0';
  if (fread(magic, 8, 1, f) != 1 ||
      (memcmp(magic, BW__WATCH_MAGIC, 8) != 0 &&
       memcmp(magic, BW__WATCH_MAGIC_V1, 8) != 0)) {
    say(why, whylen, f, "not a watch state of this version (magic)");
    goto fail;
  }
  int v2 = memcmp(magic, BW__WATCH_MAGIC, 8) == 0;
  if (fread(&n, sizeof(n), 1, f) != 1) {
    say(why, whylen, f, "truncated");
    goto fail;
  }
  if (n >= BW__WATCH_MAX_PATHS) {
    say(why, whylen, f, "%u paths", (unsigned)n);
    goto fail;
  }
  h = bw__hash_bytes(h, (const char *)&n, sizeof(n));
  for (uint32_t i = 0; i < n; i++) {
    bw_follow_pos_t p[2];
    what = get_str(f, str, &len);
    if (what == NULL && fread(p, sizeof(p), 1, f) != 1)
      what = "truncated";
    if (what != NULL) {
      say(why, whylen, f, "path %u: %s", (unsigned)i, what);
      goto fail;
    }
    h = bw__hash_bytes(h, str, len);
    h = bw__hash_bytes(h, (const char *)p, sizeof(p));
    for (int k = 0; k < 2; k++)
      if ((what = pos_problem(&p[k])) != NULL) {
        say(why, whylen, f, "path %u (%s): %s file: %s", (unsigned)i, str,
            k ? "the rotated" : "the live", what);
        goto fail;
      }
    /* Paths no longer followed are dropped; a path given twice gets
     * the same positions. */
    for (size_t k = 0; k < s->npaths; k++)
      if (strcmp(s->paths[k], str) == 0) {
        s->pos[2 * k] = p[0];
        s->pos[2 * k + 1] = p[1];
      }
  }
  if (v2) {
    if ((what = get_str(f, str, &len)) != NULL) {
      say(why, whylen, f, "journal cursor: %s", what);
      goto fail;
    }
    h = bw__hash_bytes(h, (const char *)&len, sizeof(len));
    h = bw__hash_bytes(h, str, len);
    if ((c = malloc((size_t)len + 1)) == NULL) {
      rc = BW_ENOMEM;
      goto fail;
    }
    memcpy(c, str, (size_t)len + 1);
  }
  bw_replay_stats_t st;
  if (fread(&st, sizeof(st), 1, f) != 1 ||
      fread(&check, sizeof(check), 1, f) != 1) {
    say(why, whylen, f, "truncated");
    goto fail;
  }
  h = bw__hash_bytes(h, (const char *)&st, sizeof(st));
  int sum_ok = check == h;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  sum_ok = 1; /* the fuzzer cannot forge the checksum: test what is behind */
#endif
  if (!sum_ok) {
    say(why, whylen, f, "the header's checksum does not match");
    goto fail;
  }
  /* Every other field is a counter: any value is safe to print and add
   * to. Pointers, nfiles and samples were the writing run's (it
   * cleared them; a file with anything there is cleaned, not trusted). */
  stats_strip(&st);
  const char *section = "aggregation";
  rc = bw_agg_restore(s->agg, f);
  if (rc == 0 && !at_end(f)) {
    section = "suppression list";
    rc = bw_suppress_restore(s->suppress, f);
    if (rc == 0 && !at_end(f)) {
      section = "alerts";
      rc = bw__alerts_restore(s->alerts, f);
    }
  }
  if (rc != 0) {
    rc = rc == BW_ENOMEM ? BW_ENOMEM : BW_EPARSE;
    say(why, whylen, f, "the %s section is refused (%s)", section,
        bw_strerror(rc));
    goto fail;
  }
  *s->stats = st;
  *cursor = c;
  return 0;
fail:
  free(c);
  return rc;
}
