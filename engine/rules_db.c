/* Compiling the rules into Hyperscan block-mode databases, one per flag
 * profile (caseless, case-sensitive: mixing flags in one database made
 * scans slow, tech-notes §1.3), and caching the serialized databases on
 * disk keyed by hs_version(), the rules, the mode, the flags and the CPU
 * platform, so start-up stays fast as rules grow. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"

/* No HS_FLAG_SINGLEMATCH: it made scans of the shipped rules ~15 %
 * slower; classify.c drops repeated matches itself. */
static const unsigned db_flags[BW_DB__COUNT] = {
    HS_FLAG_CASELESS, /* BW_DB_CASELESS */
    0,                /* BW_DB_CASE */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* Everything the compiled databases depend on. */
static uint64_t cache_key(const bw_rules_t *r, const hs_platform_info_t *plat) {
  uint64_t h = 14695981039346656037ull;
  const char *v = hs_version();
  h = fnv(h, v, strlen(v) + 1);
  h = fnv(h, plat, sizeof(*plat));
  unsigned mode = HS_MODE_BLOCK;
  h = fnv(h, &mode, sizeof(mode));
  h = fnv(h, db_flags, sizeof(db_flags));
  h = fnv(h, "gated", 6); /* case-sensitive rules gated in the caseless db */
  for (unsigned i = 0; i < r->nrules; i++) {
    if (r->rules[i].expr == NULL)
      continue;
    h = fnv(h, &r->rules[i].db, sizeof(int));
    h = fnv(h, r->rules[i].expr, strlen(r->rules[i].expr) + 1);
  }
  return h;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *b = p;
  while (n > 0) {
    ssize_t k = write(fd, b, n);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    b += k;
    n -= (size_t)k;
  }
  return 0;
}

static void mkdir_p(const char *dir) {
  char tmp[512];
  snprintf(tmp, sizeof(tmp), "%s", dir);
  for (char *p = tmp + 1; *p != '\0'; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(tmp, 0755);
      *p = '/';
    }
  mkdir(tmp, 0755);
}

/* File: "BWHS0001", then per database a u64 length and the blob (length
 * 0 for an absent database). Written to a temporary name and renamed. */
static void cache_store(bw_rules_t *r, const char *path, const char *dir) {
  char tmp[600];
  mkdir_p(dir);
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  int ok = write_all(fd, "BWHS0001", 8) == 0;
  for (int i = 0; ok && i < BW_DB__COUNT; i++) {
    char *blob = NULL;
    size_t n = 0;
    if (r->db[i] != NULL &&
        hs_serialize_database(r->db[i], &blob, &n) != HS_SUCCESS) {
      ok = 0;
      break;
    }
    uint64_t len = n;
    ok = write_all(fd, &len, sizeof(len)) == 0 &&
         (n == 0 || write_all(fd, blob, n) == 0);
    free(blob);
  }
  if (ok && fsync(fd) != 0)
    ok = 0;
  close(fd);
  if (!ok || rename(tmp, path) != 0)
    unlink(tmp);
}

static int cache_fetch(bw_rules_t *r, const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  char magic[8];
  int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, "BWHS0001", 8) == 0;
  for (int i = 0; ok && i < BW_DB__COUNT; i++) {
    uint64_t len;
    if (fread(&len, sizeof(len), 1, f) != 1 || len > (256u << 20)) {
      ok = 0;
      break;
    }
    if (len == 0)
      continue;
    char *blob = malloc(len);
    ok = blob != NULL && fread(blob, 1, len, f) == len &&
         hs_deserialize_database(blob, len, &r->db[i]) == HS_SUCCESS;
    free(blob);
  }
  fclose(f);
  if (!ok) {
    /* Version or platform mismatch, or a damaged file: recompile. */
    for (int i = 0; i < BW_DB__COUNT; i++) {
      hs_free_database(r->db[i]);
      r->db[i] = NULL;
    }
    return -1;
  }
  return 0;
}

unsigned bw__rules_validate(const bw_rules_t *r, FILE *diag) {
  unsigned errors = 0;
  /* Each expression alone: hs_compile_multi stops at the first error,
   * but check-rules must report every broken rule. */
  for (unsigned i = 0; i < r->nrules; i++) {
    const bw__rule_t *x = &r->rules[i];
    if (x->expr == NULL)
      continue;
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_expression_info(x->expr, db_flags[x->db], &info, &err) !=
        HS_SUCCESS) {
      fprintf(diag, "%s:%u: rule %u: %s\n", r->files[x->file], x->line, x->id,
              err != NULL ? err->message : "invalid expression");
      hs_free_compile_error(err);
      errors++;
      continue;
    }
    if (info->min_width == 0) {
      /* hs_compile_multi would refuse it without HS_FLAG_ALLOWEMPTY, and
       * a rule that matches every text decides nothing. */
      fprintf(diag, "%s:%u: rule %u: expression can match the empty string\n",
              r->files[x->file], x->line, x->id);
      errors++;
    }
    free(info);
  }
  return errors;
}

unsigned bw__rules_compile(bw_rules_t *r, const char *cache_dir, FILE *diag) {
  unsigned errors = 0;
  unsigned n[BW_DB__COUNT] = {0};
  const char **exprs[BW_DB__COUNT] = {0};
  unsigned *flags[BW_DB__COUNT] = {0}, *ids[BW_DB__COUNT] = {0};
  for (unsigned i = 0; i < r->nrules; i++)
    if (r->rules[i].expr != NULL)
      n[r->rules[i].db]++;
  /* The caseless database also gets each case-sensitive expression, as
   * a gate (rules.h). */
  n[BW_DB_CASELESS] += n[BW_DB_CASE];

  hs_platform_info_t plat;
  if (hs_populate_platform(&plat) != HS_SUCCESS) {
    fprintf(diag, "hyperscan: cannot read the CPU platform (needs SSSE3)\n");
    return 1;
  }
  for (int d = 0; d < BW_DB__COUNT; d++) {
    exprs[d] = calloc(n[d] + 1, sizeof(char *));
    flags[d] = calloc(n[d] + 1, sizeof(unsigned));
    ids[d] = calloc(n[d] + 1, sizeof(unsigned));
    r->db_rules[d] = calloc(n[d] + 1, sizeof(unsigned));
    if (!exprs[d] || !flags[d] || !ids[d] || !r->db_rules[d]) {
      fprintf(diag, "out of memory compiling rules\n");
      errors = 1;
      goto done;
    }
    /* Pass 0: the database's own rules; pass 1 (caseless database
     * only): the case-sensitive ones again, as gates. */
    unsigned k = 0;
    for (int pass = 0; pass < (d == BW_DB_CASELESS ? 2 : 1); pass++)
      for (unsigned i = 0; i < r->nrules; i++) {
        int want = pass == 0 ? d : BW_DB_CASE;
        if (r->rules[i].db != want || r->rules[i].expr == NULL)
          continue;
        exprs[d][k] = r->rules[i].expr;
        flags[d][k] = db_flags[d];
        ids[d][k] = k;
        r->db_rules[d][k] = pass == 0 ? i : BW_RULE_GATE;
        k++;
      }
  }

  char path[512] = "";
  if (cache_dir != NULL && *cache_dir != '\0') {
    snprintf(path, sizeof(path), "%s/rules-%016llx.hsdb", cache_dir,
             (unsigned long long)cache_key(r, &plat));
    snprintf(r->cache_path, sizeof(r->cache_path), "%s", path);
    if (cache_fetch(r, path) == 0) {
      r->from_cache = 1;
      goto done;
    }
  }
  /* Not cached: every broken expression reported on its own first (that
   * costs ~45 ms of hs_expression_info, so not when the cache answers:
   * a cached database was compiled from these very expressions). */
  errors = bw__rules_validate(r, diag);
  if (errors > 0)
    goto done;
  for (int d = 0; d < BW_DB__COUNT; d++) {
    if (n[d] == 0)
      continue;
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi(exprs[d], flags[d], ids[d], n[d], HS_MODE_BLOCK,
                         &plat, &r->db[d], &err) != HS_SUCCESS) {
      if (err != NULL && err->expression >= 0 &&
          (unsigned)err->expression < n[d]) {
        unsigned ri = r->db_rules[d][err->expression];
        if (ri == BW_RULE_GATE) { /* reported again by its own database */
          hs_free_compile_error(err);
          errors++;
          continue;
        }
        const bw__rule_t *x = &r->rules[ri];
        fprintf(diag, "%s:%u: rule %u: %s\n", r->files[x->file], x->line,
                x->id, err->message);
      } else {
        fprintf(diag, "hyperscan: %s\n", err ? err->message : "compile failed");
      }
      hs_free_compile_error(err);
      errors++;
    }
  }
  if (errors == 0 && path[0] != '\0')
    cache_store(r, path, cache_dir);
done:
  for (int d = 0; d < BW_DB__COUNT; d++) {
    free(exprs[d]);
    free(flags[d]);
    free(ids[d]);
  }
  return errors;
}
