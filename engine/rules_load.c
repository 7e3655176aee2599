/* Loading patterns/: *.rules files (rules and the status-code table) and
 * reasons.tsv (group, hardness, decision order, vetoes, advice). Every
 * problem is reported as FILE:LINE: message and counted; one problem
 * fails the whole load, so a broken file is never half-used. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "rules.h"

static const char *const reason_names[] = {
#define BW_REASON_NAME(name, str) str,
    BW_REASON_MAP(BW_REASON_NAME)
#undef BW_REASON_NAME
};
static const char *const group_names[] = {
#define BW_GROUP_NAME(name, str) str,
    BW_GROUP_MAP(BW_GROUP_NAME)
#undef BW_GROUP_NAME
};

const char *bw_reason_name(bw_reason_t r) {
  return (unsigned)r < BW_REASON__COUNT ? reason_names[r] : "invalid";
}
const char *bw_group_name(bw_group_t g) {
  return (unsigned)g < BW_GROUP__COUNT ? group_names[g] : "invalid";
}

bw_reason_t bw_reason_from_name(const char *s, size_t n) {
  for (int i = 0; i < BW_REASON__COUNT; i++)
    if (strlen(reason_names[i]) == n && memcmp(reason_names[i], s, n) == 0)
      return (bw_reason_t)i;
  return BW_REASON__COUNT;
}

bw_group_t bw_group_from_name(const char *s, size_t n) {
  for (int i = 0; i < BW_GROUP__COUNT; i++)
    if (strlen(group_names[i]) == n && memcmp(group_names[i], s, n) == 0)
      return (bw_group_t)i;
  return BW_GROUP__COUNT;
}

uint32_t bw__pack_code(const char *p, size_t n) {
  unsigned v[3] = {0, 0, 0};
  size_t i = 0;
  for (int part = 0; part < 3; part++) {
    size_t digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 3) {
      v[part] = v[part] * 10 + (unsigned)(p[i] - '0');
      i++;
      digits++;
    }
    if (digits == 0 || (part == 0 && digits != 1))
      return 0;
    if (part < 2) {
      if (i >= n || p[i] != '.')
        return 0;
      i++;
    }
  }
  if (i != n || (v[0] != 2 && v[0] != 4 && v[0] != 5))
    return 0;
  return v[0] * 1000000u + v[1] * 1000u + v[2];
}

/* ---- diagnostics ------------------------------------------------------- */

typedef struct {
  bw_rules_t *r;
  FILE *diag;
  unsigned errors;
  const char *file; /* current file, as printed */
  unsigned line;
} loader_t;

__attribute__((format(printf, 2, 3))) static void problem(loader_t *L,
                                                          const char *fmt,
                                                          ...) {
  va_list ap;
  if (L->line > 0)
    fprintf(L->diag, "%s:%u: ", L->file, L->line);
  else
    fprintf(L->diag, "%s: ", L->file); /* about the whole file */
  va_start(ap, fmt);
  vfprintf(L->diag, fmt, ap);
  va_end(ap);
  fputc('\n', L->diag);
  L->errors++;
}

/* ---- small lexing helpers ---------------------------------------------- */

static char *skip_ws(char *p) {
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static char *token_end(char *p) {
  while (*p != '\0' && *p != ' ' && *p != '\t')
    p++;
  return p;
}

static int stage_from(const char *s, size_t n) {
  for (int i = 0; i < BW_STAGE__COUNT; i++) {
    const char *name = bw_stage_name((bw_stage_t)i);
    if (strlen(name) == n && memcmp(name, s, n) == 0)
      return i;
  }
  return -1;
}

/* Calls item(L, rule, s, n) for each comma-separated item of [p, e);
 * stops at the first failure. */
typedef int (*item_fn)(loader_t *L, bw__rule_t *rule, const char *s, size_t n,
                       void *arg);
static int each_item(loader_t *L, bw__rule_t *rule, const char *p,
                     const char *e, item_fn fn, void *arg) {
  if (p == e) {
    problem(L, "empty list");
    return -1;
  }
  while (p < e) {
    const char *c = memchr(p, ',', (size_t)(e - p));
    if (c == NULL)
      c = e;
    if (c == p) {
      problem(L, "empty item in list");
      return -1;
    }
    if (fn(L, rule, p, (size_t)(c - p), arg) != 0)
      return -1;
    p = c + 1;
  }
  return 0;
}

static int add_stage(loader_t *L, bw__rule_t *rule, const char *s, size_t n,
                     void *arg) {
  (void)rule;
  int st = stage_from(s, n);
  if (st < 0) {
    problem(L, "unknown stage '%.*s' (connect helo starttls auth mail rcpt "
               "data end_of_data rset quit xforward other none)",
            (int)n, s);
    return -1;
  }
  *(uint32_t *)arg |= 1u << st;
  return 0;
}

static int add_class(loader_t *L, bw__rule_t *rule, const char *s, size_t n,
                     void *arg) {
  (void)arg;
  if (n != 1 || (s[0] != '2' && s[0] != '4' && s[0] != '5')) {
    problem(L, "class must be 2, 4 or 5, not '%.*s'", (int)n, s);
    return -1;
  }
  rule->class_mask |= (uint8_t)(1u << (s[0] - '0'));
  return 0;
}

static int add_code(loader_t *L, bw__rule_t *rule, const char *s, size_t n,
                    void *arg) {
  (void)arg;
  uint32_t c = bw__pack_code(s, n);
  if (c == 0) {
    problem(L, "'%.*s' is not an enhanced status code (X.Y.Z, class 2, 4 or "
               "5)",
            (int)n, s);
    return -1;
  }
  uint32_t *v = realloc(rule->codes, (rule->ncodes + 1) * sizeof(*v));
  if (v == NULL)
    return -1;
  v[rule->ncodes++] = c;
  rule->codes = v;
  return 0;
}

static int add_reply(loader_t *L, bw__rule_t *rule, const char *s, size_t n,
                     void *arg) {
  (void)arg;
  /* "550", or "5xx" for any reply of that class (stored as 5). */
  int any = n == 3 && s[1] == 'x' && s[2] == 'x';
  if (n != 3 || s[0] < '2' || s[0] > '5' ||
      (!any && (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9'))) {
    problem(L, "'%.*s' is not a 3-digit reply code (or 4xx, 5xx)", (int)n, s);
    return -1;
  }
  uint16_t *v = realloc(rule->replies, (rule->nreplies + 1) * sizeof(*v));
  if (v == NULL)
    return -1;
  v[rule->nreplies++] =
      any ? (uint16_t)(s[0] - '0')
          : (uint16_t)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
  rule->replies = v;
  return 0;
}

static int add_relay(loader_t *L, bw__rule_t *rule, const char *s, size_t n,
                     void *arg) {
  (void)arg;
  (void)L;
  char **v = realloc(rule->relays, (rule->nrelays + 1) * sizeof(*v));
  if (v == NULL)
    return -1;
  rule->relays = v;
  char *h = malloc(n + 1);
  if (h == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    h[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  h[n] = '\0';
  v[rule->nrelays++] = h;
  return 0;
}

/* Large bounded repeats make Hyperscan slow and a scan cannot be
 * cancelled (tech-notes §1.3): refuse {m,n} above this bound. */
#define BW_MAX_REPEAT 100

static int check_repeats(loader_t *L, const char *e) {
  for (const char *p = e; *p != '\0'; p++) {
    if (*p == '\\' && p[1] != '\0') {
      p++;
      continue;
    }
    if (*p != '{' || p[1] < '0' || p[1] > '9')
      continue;
    const char *q = p + 1;
    unsigned long m = strtoul(q, (char **)&q, 10), n = m;
    if (*q == ',') {
      q++;
      n = (*q >= '0' && *q <= '9') ? strtoul(q, (char **)&q, 10) : 0;
    }
    if (*q == '}' && (m > BW_MAX_REPEAT || n > BW_MAX_REPEAT)) {
      problem(L, "bounded repeat {%lu,%lu} above %d is refused (slow, and a "
                 "scan cannot be interrupted)",
              m, n, BW_MAX_REPEAT);
      return -1;
    }
  }
  return 0;
}

static void rule_clear(bw__rule_t *x) {
  free(x->expr);
  free(x->codes);
  free(x->replies);
  for (unsigned i = 0; i < x->nrelays; i++)
    free(x->relays[i]);
  free(x->relays);
  memset(x, 0, sizeof(*x));
}

/* "ID REASON [cond ...] /expr/flags" */
static void parse_rule(loader_t *L, char *p, unsigned file) {
  bw_rules_t *r = L->r;
  bw__rule_t x = {0};
  x.file = file;
  x.line = L->line;

  char *e = token_end(p);
  char *endnum;
  unsigned long id = strtoul(p, &endnum, 10);
  if (endnum != e || id == 0 || id > 0xFFFFFFu) {
    problem(L, "rule id must be a positive integer, not '%.*s'", (int)(e - p),
            p);
    return;
  }
  x.id = (unsigned)id;
  p = skip_ws(e);
  e = token_end(p);
  x.reason = bw_reason_from_name(p, (size_t)(e - p));
  if (x.reason == BW_REASON__COUNT) {
    problem(L, "unknown reason '%.*s'", (int)(e - p), p);
    return;
  }
  p = skip_ws(e);

  /* Conditions until the expression's opening '/'. */
  while (*p != '\0' && *p != '/') {
    e = token_end(p);
    char *eq = memchr(p, '=', (size_t)(e - p));
    if (eq == NULL) {
      problem(L, "expected key=value or /expression/, got '%.*s'",
              (int)(e - p), p);
      goto fail;
    }
    size_t kl = (size_t)(eq - p);
    int neg = kl > 0 && eq[-1] == '!';
    if (neg)
      kl--;
    const char *v = eq + 1;
    int rc;
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(p, s, kl) == 0)
    if (KEY("stage"))
      rc = each_item(L, &x, v, e, add_stage, neg ? &x.stage_out : &x.stage_in);
    else if (neg) {
      problem(L, "only stage may be negated (stage!=...)");
      goto fail;
    } else if (KEY("class"))
      rc = each_item(L, &x, v, e, add_class, NULL);
    else if (KEY("code"))
      rc = each_item(L, &x, v, e, add_code, NULL);
    else if (KEY("reply"))
      rc = each_item(L, &x, v, e, add_reply, NULL);
    else if (KEY("relay"))
      rc = each_item(L, &x, v, e, add_relay, NULL);
    else {
      problem(L, "unknown condition '%.*s' (stage, stage!, class, code, "
                 "reply, relay)",
              (int)kl, p);
      goto fail;
    }
#undef KEY
    if (rc != 0)
      goto fail;
    p = skip_ws(e);
  }
  if (*p == '\0') {
    /* A rule on conditions alone: never scanned, checked per line. */
    if (x.stage_in == 0 && x.stage_out == 0 && x.class_mask == 0 &&
        x.ncodes == 0 && x.nreplies == 0 && x.nrelays == 0) {
      problem(L, "a rule needs an /expression/ or at least one condition");
      goto fail;
    }
    goto add;
  }
  if (*p != '/') {
    problem(L, "missing /expression/");
    goto fail;
  }
  char *last = strrchr(p, '/');
  if (last == p) {
    problem(L, "expression has no closing '/'");
    goto fail;
  }
  for (char *f = last + 1; *f != '\0'; f++) {
    if (*f == 's')
      x.db = BW_DB_CASE;
    else if (*f == ' ' || *f == '\t')
      continue;
    else {
      problem(L, "unknown flag '%c' after the expression (only s: "
                 "case-sensitive)",
              *f);
      goto fail;
    }
  }
  *last = '\0';
  if (last == p + 1) {
    problem(L, "empty expression");
    goto fail;
  }
  if (check_repeats(L, p + 1) != 0)
    goto fail;
  x.expr = strdup(p + 1);
  if (x.expr == NULL)
    goto fail;
add:
  for (unsigned i = 0; i < r->nrules; i++)
    if (r->rules[i].id == x.id) {
      problem(L, "duplicate rule id %u (first at %s:%u)", x.id,
              r->files[r->rules[i].file], r->rules[i].line);
      goto fail;
    }
  bw__rule_t *v = realloc(r->rules, (r->nrules + 1) * sizeof(*v));
  if (v == NULL)
    goto fail;
  r->rules = v;
  if (x.expr == NULL) {
    unsigned *a = realloc(r->always, (r->nalways + 1) * sizeof(*a));
    if (a == NULL)
      goto fail;
    r->always = a;
    r->always[r->nalways++] = r->nrules;
  }
  r->rules[r->nrules++] = x;
  return;
fail:
  rule_clear(&x);
}

/* "code X.Y.Z REASON" */
static void parse_code(loader_t *L, char *p) {
  bw_rules_t *r = L->r;
  char *e = token_end(p);
  uint32_t c = bw__pack_code(p, (size_t)(e - p));
  if (c == 0) {
    problem(L, "'%.*s' is not an enhanced status code", (int)(e - p), p);
    return;
  }
  p = skip_ws(e);
  e = token_end(p);
  bw_reason_t reason = bw_reason_from_name(p, (size_t)(e - p));
  if (reason == BW_REASON__COUNT) {
    problem(L, "unknown reason '%.*s'", (int)(e - p), p);
    return;
  }
  if (*skip_ws(e) != '\0') {
    problem(L, "trailing text after 'code X.Y.Z reason'");
    return;
  }
  for (unsigned i = 0; i < r->ncodes; i++)
    if (r->codes[i].code == c) {
      problem(L, "code listed twice");
      return;
    }
  bw__code_t *v = realloc(r->codes, (r->ncodes + 1) * sizeof(*v));
  if (v == NULL)
    return;
  r->codes = v;
  r->codes[r->ncodes].code = c;
  r->codes[r->ncodes].reason = reason;
  r->ncodes++;
}

/* Read a whole small text file; NUL bytes are refused. */
static char *slurp(loader_t *L, const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    L->line = 0;
    problem(L, "cannot open: %s", strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    if (n + 1 >= cap) {
      if (cap >= (16u << 20)) {
        problem(L, "rule file larger than 16 MiB");
        free(buf);
        buf = NULL;
        break;
      }
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t k = fread(buf + n, 1, cap - 1 - n, f);
    if (k == 0)
      break;
    n += k;
  }
  fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
    if (memchr(buf, '\0', n) != NULL) {
      L->line = 0;
      problem(L, "NUL byte in a text file");
      free(buf);
      return NULL;
    }
    *len = n;
  }
  return buf;
}

/* Split into lines in place; calls fn for each non-blank, non-comment
 * line with L->line set. */
static void each_line(loader_t *L, char *buf,
                      void (*fn)(loader_t *L, char *line, void *arg),
                      void *arg) {
  L->line = 0;
  for (char *p = buf; *p != '\0';) {
    char *nl = strchr(p, '\n');
    if (nl != NULL)
      *nl = '\0';
    L->line++;
    size_t n = strlen(p);
    if (n > 0 && p[n - 1] == '\r')
      p[n - 1] = '\0';
    char *s = skip_ws(p);
    if (*s != '\0' && *s != '#') {
      /* trailing blanks */
      char *t = s + strlen(s);
      while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
        *--t = '\0';
      fn(L, s, arg);
    }
    if (nl == NULL)
      break;
    p = nl + 1;
  }
}

static void rules_line(loader_t *L, char *line, void *arg) {
  unsigned file = *(unsigned *)arg;
  if (strncmp(line, "code", 4) == 0 && (line[4] == ' ' || line[4] == '\t'))
    parse_code(L, skip_ws(line + 4));
  else
    parse_rule(L, line, file);
}

/* reasons.tsv: reason group hardness pass veto advice */
static void reasons_line(loader_t *L, char *line, void *arg) {
  uint64_t *seen = arg;
  bw_rules_t *r = L->r;
  char *f[6];
  int nf = 0;
  for (char *p = line; nf < 6;) {
    f[nf++] = p;
    char *t = strchr(p, '\t');
    if (t == NULL)
      break;
    *t = '\0';
    p = t + 1;
  }
  if (strcmp(f[0], "reason") == 0)
    return; /* header */
  if (nf != 6) {
    problem(L, "expected 6 tab-separated fields (reason group hardness pass "
               "veto advice), got %d",
            nf);
    return;
  }
  bw_reason_t reason = bw_reason_from_name(f[0], strlen(f[0]));
  if (reason == BW_REASON__COUNT) {
    problem(L, "unknown reason '%s'", f[0]);
    return;
  }
  if (*seen & (1ull << reason)) {
    problem(L, "reason '%s' listed twice", f[0]);
    return;
  }
  bw__reason_info_t *ri = &r->info[reason];
  ri->group = bw_group_from_name(f[1], strlen(f[1]));
  if (ri->group == BW_GROUP__COUNT) {
    problem(L, "unknown group '%s'", f[1]);
    return;
  }
  if (strcmp(f[2], "hard") == 0)
    ri->hardness = 1;
  else if (strcmp(f[2], "soft") == 0)
    ri->hardness = 0;
  else if (strcmp(f[2], "hard5xx") == 0)
    ri->hardness = 2;
  else if (strcmp(f[2], "-") == 0)
    ri->hardness = -1;
  else {
    problem(L, "hardness must be hard, soft, hard5xx or -, not '%s'", f[2]);
    return;
  }
  if (strcmp(f[3], "-") != 0) {
    for (char *p = f[3]; *p != '\0';) {
      char *end;
      if ((p[0] != '1' && p[0] != '2') || p[1] != ':') {
        problem(L, "pass must look like 1:RANK, 2:RANK or 1:R;2:R, not '%s'",
                f[3]);
        return;
      }
      int pass = p[0] - '0';
      long rank = strtol(p + 2, &end, 10);
      if (end == p + 2 || rank < 1 || rank > 99) {
        problem(L, "bad rank in '%s'", f[3]);
        return;
      }
      if (pass == 1)
        ri->pass1 = (int)rank;
      else
        ri->pass2 = (int)rank;
      p = *end == ';' ? end + 1 : end;
      if (*end != ';' && *end != '\0') {
        problem(L, "bad pass field '%s'", f[3]);
        return;
      }
    }
  }
  if (strcmp(f[4], "-") != 0) {
    for (char *p = f[4]; *p != '\0';) {
      char *c = strchr(p, ',');
      size_t n = c ? (size_t)(c - p) : strlen(p);
      bw_reason_t v = bw_reason_from_name(p, n);
      if (v == BW_REASON__COUNT) {
        problem(L, "unknown reason '%.*s' in veto list", (int)n, p);
        return;
      }
      ri->veto |= 1ull << v;
      p = c ? c + 1 : p + n;
    }
  }
  ri->advice = strdup(f[5]);
  *seen |= 1ull << reason;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_code(const void *a, const void *b) {
  uint32_t x = ((const bw__code_t *)a)->code, y = ((const bw__code_t *)b)->code;
  return x < y ? -1 : x > y;
}

/* Order the reasons of one pass by rank; equal ranks are an error. */
static void build_pass(loader_t *L, int which) {
  bw_rules_t *r = L->r;
  bw_reason_t *out = which == 1 ? r->pass1 : r->pass2;
  unsigned n = 0;
  for (int rank = 1; rank <= 99; rank++) {
    int found = -1;
    for (int i = 0; i < BW_REASON__COUNT; i++) {
      int rk = which == 1 ? r->info[i].pass1 : r->info[i].pass2;
      if (rk != rank)
        continue;
      if (found >= 0)
        problem(L, "pass %d rank %d given to both %s and %s", which, rank,
                bw_reason_name((bw_reason_t)found),
                bw_reason_name((bw_reason_t)i));
      found = i;
    }
    if (found >= 0)
      out[n++] = (bw_reason_t)found;
  }
  if (which == 1)
    r->npass1 = n;
  else
    r->npass2 = n;
}

static const char *default_cache_dir(char *buf, size_t n) {
  const char *e = getenv("BW_RULES_CACHE");
  if (e != NULL)
    return e;
  e = getenv("XDG_CACHE_HOME");
  if (e != NULL && *e != '\0') {
    snprintf(buf, n, "%s/bouncewatch", e);
    return buf;
  }
  e = getenv("HOME");
  if (e != NULL && *e != '\0') {
    snprintf(buf, n, "%s/.cache/bouncewatch", e);
    return buf;
  }
  return "";
}

int bw_rules_load(const char *dir, const bw_rules_opts_t *opts,
                  bw_rules_t **out, unsigned *nerrors) {
  bw_rules_t *r = calloc(1, sizeof(*r));
  loader_t L = {r, opts && opts->diag ? opts->diag : stderr, 0, dir, 0};
  char path[4096];
  *out = NULL;
  if (r == NULL)
    return BW_ENOMEM;
  for (int i = 0; i < BW_REASON__COUNT; i++)
    r->info[i].hardness = -1;

  DIR *d = opendir(dir);
  if (d == NULL) {
    problem(&L, "cannot open rules directory: %s", strerror(errno));
    goto done;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n > 6 && strcmp(de->d_name + n - 6, ".rules") == 0) {
      char **v = realloc(r->files, (r->nfiles + 1) * sizeof(*v));
      if (v == NULL)
        break;
      r->files = v;
      snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
      r->files[r->nfiles++] = strdup(path);
    }
  }
  closedir(d);
  /* Sorted, so rule order and the cache key do not depend on readdir. */
  if (r->nfiles > 1)
    qsort(r->files, r->nfiles, sizeof(char *), cmp_str);
  if (r->nfiles == 0)
    problem(&L, "no *.rules files");

  for (unsigned i = 0; i < r->nfiles; i++) {
    size_t len;
    L.file = r->files[i];
    char *buf = slurp(&L, L.file, &len);
    if (buf == NULL)
      continue;
    each_line(&L, buf, rules_line, &i);
    free(buf);
  }

  snprintf(path, sizeof(path), "%s/reasons.tsv", dir);
  L.file = path;
  size_t len;
  char *buf = slurp(&L, path, &len);
  if (buf != NULL) {
    uint64_t seen = 0;
    each_line(&L, buf, reasons_line, &seen);
    free(buf);
    L.line = 0;
    for (int i = 0; i < BW_REASON__COUNT; i++)
      if (!(seen & (1ull << i)))
        problem(&L, "reason '%s' is missing", bw_reason_name((bw_reason_t)i));
    build_pass(&L, 1);
    build_pass(&L, 2);
  }
  if (r->ncodes > 1) /* qsort(NULL, 0) is undefined behaviour */
    qsort(r->codes, r->ncodes, sizeof(*r->codes), cmp_code);

  /* Every problem is reported at once: with others found already, the
   * expressions are checked too; otherwise bw__rules_compile checks them
   * when the cache has no database for them (a cached one proves they
   * compiled). */
  if (L.errors > 0) {
    L.errors += bw__rules_validate(r, L.diag);
  } else {
    char cbuf[1024];
    const char *cache = opts && opts->cache_dir ? opts->cache_dir
                                                : default_cache_dir(cbuf, sizeof(cbuf));
    L.errors += bw__rules_compile(r, cache, L.diag);
  }
done:
  if (nerrors != NULL)
    *nerrors = L.errors;
  if (L.errors > 0) {
    bw_rules_free(r);
    return BW_EPARSE;
  }
  *out = r;
  return 0;
}

void bw_rules_free(bw_rules_t *r) {
  if (r == NULL)
    return;
  for (unsigned i = 0; i < r->nrules; i++)
    rule_clear(&r->rules[i]);
  free(r->rules);
  free(r->always);
  for (unsigned i = 0; i < r->nfiles; i++)
    free(r->files[i]);
  free(r->files);
  free(r->codes);
  for (int i = 0; i < BW_REASON__COUNT; i++)
    free(r->info[i].advice);
  for (int i = 0; i < BW_DB__COUNT; i++) {
    hs_free_database(r->db[i]);
    free(r->db_rules[i]);
  }
  free(r);
}

void bw_rules_info(const bw_rules_t *r, bw_rules_info_t *info) {
  memset(info, 0, sizeof(*info));
  info->rules = r->nrules;
  info->codes = r->ncodes;
  for (int i = 0; i < BW_DB__COUNT; i++)
    info->databases += r->db[i] != NULL;
  info->from_cache = r->from_cache;
  snprintf(info->cache_path, sizeof(info->cache_path), "%s", r->cache_path);
}

void bw_rule_where(const bw_rules_t *r, unsigned rule, bw_rule_ref_t *out) {
  const bw__rule_t *x = &r->rules[rule];
  out->id = x->id;
  out->reason = x->reason;
  out->file = r->files[x->file];
  out->line = x->line;
  out->expr = x->expr != NULL ? x->expr : "";
}

const char *bw_reason_advice(const bw_rules_t *r, bw_reason_t reason) {
  const char *a = (unsigned)reason < BW_REASON__COUNT ? r->info[reason].advice
                                                     : NULL;
  return a != NULL ? a : "";
}

bw_group_t bw_reason_group(const bw_rules_t *r, bw_reason_t reason) {
  return (unsigned)reason < BW_REASON__COUNT ? r->info[reason].group
                                             : BW_GROUP_NONE;
}
