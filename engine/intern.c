/* The interning table behind the aggregation's domain and provider keys.
 *
 * The join looks a domain up per delivery, so the lookup is built to touch
 * little memory: the name is folded to lower case 8 bytes at a time into a
 * stack buffer, hashed, probed in the slot array (id and the hash's high
 * half, 8 bytes a slot), and compared with memcmp against the stored name;
 * names live in a few chunks of one arena rather than one allocation each,
 * so the names compared over and over share cache lines. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "intern.h"

#define ARENA_CHUNK 16384
#define FOLD_MAX 256

/* ASCII upper case to lower case in each byte of v, other bytes as they
 * are (SWAR: a byte's high bit in `upper` says it is in 'A'..'Z'). */
static uint64_t fold8(uint64_t v) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t low7 = v & ~high;
  uint64_t ge_a = low7 + (0x80 - 'A') * ones; /* high bit: >= 'A' */
  uint64_t gt_z = low7 + (0x7f - 'Z') * ones; /* high bit: > 'Z' */
  uint64_t upper = ge_a & ~gt_z & ~v & high;
  return v | (upper >> 2); /* 0x80 >> 2 = 0x20, the case bit */
}

/* name[0..n) folded into out (n <= FOLD_MAX). */
static void fold_into(char *out, const char *p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    v = fold8(v);
    memcpy(out + i, &v, 8);
  }
  for (; i < n; i++) {
    char c = p[i];
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
}

static uint64_t hash_plain(const char *p, size_t n) {
  return bw__hash_bytes(0x9E3779B97F4A7C15ull, p, n);
}

/* Names too long to fold on the stack (not valid domains, but logs hold
 * anything): folded and mixed byte by byte, compared byte by byte. */
static uint64_t hash_long_folded(const char *p, size_t n) {
  uint64_t h = bw__mix64(0x9E3779B97F4A7C15ull, n);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    h = bw__mix64(h, c >= 'A' && c <= 'Z' ? c + 32u : c);
  }
  return h;
}

static int same_long_folded(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)b[i];
    if (c >= 'A' && c <= 'Z')
      c = (unsigned char)(c + 32);
    if ((unsigned char)a[i] != c)
      return 0;
  }
  return a[n] == '\0';
}

int bw__intern_init(bw_intern_t *t, size_t cap) {
  memset(t, 0, sizeof(*t));
  t->cap = cap;
  t->nslots = 16;
  while (t->nslots < 2 * (cap + 2))
    t->nslots <<= 1;
  t->slots = calloc(t->nslots, sizeof(*t->slots));
  t->names = calloc(cap + 2, sizeof(*t->names));
  t->other_id = UINT32_MAX;
  if (t->slots == NULL || t->names == NULL) {
    bw__intern_free(t);
    return -1;
  }
  return 0;
}

void bw__intern_free(bw_intern_t *t) {
  /* Each chunk begins with the pointer to the one before it. */
  char *c = t->chunk;
  while (c != NULL) {
    char *prev;
    memcpy(&prev, c, sizeof(prev));
    free(c);
    c = prev;
  }
  free(t->names);
  free(t->slots);
  memset(t, 0, sizeof(*t));
}

/* len + 1 bytes from the arena; a name longer than a chunk gets a chunk
 * of its own. NULL when memory is out. */
static char *arena_alloc(bw_intern_t *t, size_t len) {
  size_t need = len + 1;
  if (t->chunk == NULL || t->chunk_left < need) {
    size_t size = sizeof(char *) + (need > ARENA_CHUNK ? need : ARENA_CHUNK);
    char *c = malloc(size);
    if (c == NULL)
      return NULL;
    memcpy(c, &t->chunk, sizeof(char *));
    t->chunk = c;
    t->chunk_used = sizeof(char *);
    t->chunk_left = size - sizeof(char *);
  }
  char *s = t->chunk + t->chunk_used;
  t->chunk_used += need;
  t->chunk_left -= need;
  return s;
}

/* Id of the name as key_of() made it (`long_fold`: too long to have been
 * folded, compare folding), or UINT32_MAX with *slot the empty slot. */
static uint32_t lookup(const bw_intern_t *t, const char *name, size_t len,
                       int long_fold, uint64_t h, size_t *slot) {
  size_t mask = t->nslots - 1;
  uint32_t hi = (uint32_t)(h >> 32);
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    uint32_t v = t->slots[i].id1;
    if (v == 0) {
      *slot = i;
      return UINT32_MAX;
    }
    if (t->slots[i].hash != hi)
      continue;
    const char *s = t->names[v - 1];
    if (long_fold ? same_long_folded(s, name, len)
                  : memcmp(s, name, len) == 0 && s[len] == '\0')
      return v - 1;
  }
}

/* Stores name (folding it when `long_fold`) under the next id. */
static uint32_t add(bw_intern_t *t, const char *name, size_t len,
                    int long_fold, uint64_t h, size_t slot) {
  char *s = arena_alloc(t, len);
  if (s == NULL)
    return UINT32_MAX;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    s[i] = (char)(long_fold && c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  s[len] = '\0';
  uint32_t id = (uint32_t)t->n++;
  t->names[id] = s;
  t->slots[slot].id1 = id + 1;
  t->slots[slot].hash = (uint32_t)(h >> 32);
  return id;
}

/* The name as the table keys it: folded into buf when asked and short
 * enough; *long_fold set when it must be folded on the fly. */
static const char *key_of(const char *name, size_t len, int fold, char *buf,
                          int *long_fold, uint64_t *h) {
  *long_fold = 0;
  /* Long names take the byte-wise folded path whether asked to fold or
   * not, so a long name restored from a state file keys as it did. */
  if (len > FOLD_MAX) {
    *long_fold = 1;
    *h = hash_long_folded(name, len);
    return name;
  }
  if (fold) {
    fold_into(buf, name, len);
    name = buf;
  }
  *h = hash_plain(name, len);
  return name;
}

uint32_t bw__intern(bw_intern_t *t, const char *name, size_t len, int fold) {
  char buf[FOLD_MAX];
  int lf;
  uint64_t h;
  const char *k = key_of(name, len, fold, buf, &lf, &h);
  size_t slot;
  uint32_t id = lookup(t, k, len, lf, h, &slot);
  if (id != UINT32_MAX)
    return id;
  if (t->n < t->cap)
    return add(t, k, len, lf, h, slot);
  t->overflowed++;
  if (t->other_id == UINT32_MAX) {
    /* One slot beyond the cap is reserved for "other". */
    uint64_t ho = hash_plain("other", 5);
    size_t s2;
    uint32_t o = lookup(t, "other", 5, 0, ho, &s2);
    t->other_id = o != UINT32_MAX ? o : add(t, "other", 5, 0, ho, s2);
  }
  return t->other_id;
}

uint32_t bw__intern_find(const bw_intern_t *t, const char *name, size_t len) {
  char buf[FOLD_MAX];
  int lf;
  uint64_t h;
  const char *k = key_of(name, len, 1, buf, &lf, &h);
  size_t slot;
  return lookup(t, k, len, lf, h, &slot);
}

uint32_t bw__intern_restore(bw_intern_t *t, const char *name, size_t len) {
  /* Names come back in id order, so appending reproduces the ids, the
   * one beyond the cap ("other") included. */
  char buf[FOLD_MAX];
  int lf;
  uint64_t h;
  const char *k = key_of(name, len, 0, buf, &lf, &h);
  size_t slot;
  uint32_t id = lookup(t, k, len, lf, h, &slot);
  if (id != UINT32_MAX || t->n >= t->cap + 2)
    return UINT32_MAX; /* a duplicate or too many: not our file */
  return add(t, k, len, lf, h, slot);
}
