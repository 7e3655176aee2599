/* The interning table behind the aggregation's domain and provider keys. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "intern.h"

/* Folded names are lower-cased into a stack buffer and hashed 8 bytes a
 * step, like unfolded ones, so a lower-case name hashes the same either
 * way. Longer names (not valid domains, but logs hold anything) are
 * folded and mixed byte by byte. */
static uint64_t hash(const char *p, size_t n, int fold) {
  if (!fold)
    return bw__hash_bytes(0x9E3779B97F4A7C15ull, p, n);
  char low[256];
  if (n <= sizeof(low)) {
    for (size_t i = 0; i < n; i++) {
      char c = p[i];
      low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return bw__hash_bytes(0x9E3779B97F4A7C15ull, low, n);
  }
  uint64_t h = bw__mix64(0x9E3779B97F4A7C15ull, n);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    h = bw__mix64(h, c >= 'A' && c <= 'Z' ? c + 32u : c);
  }
  return h;
}

int bw__intern_init(bw_intern_t *t, size_t cap) {
  memset(t, 0, sizeof(*t));
  t->cap = cap;
  t->nslots = 16;
  while (t->nslots < 2 * (cap + 2))
    t->nslots <<= 1;
  t->slots = calloc(t->nslots, sizeof(*t->slots));
  t->names = calloc(cap + 2, sizeof(*t->names));
  t->hashes = calloc(cap + 2, sizeof(*t->hashes));
  t->other_id = UINT32_MAX;
  if (t->slots == NULL || t->names == NULL || t->hashes == NULL) {
    bw__intern_free(t);
    return -1;
  }
  return 0;
}

void bw__intern_free(bw_intern_t *t) {
  if (t->names != NULL)
    for (size_t i = 0; i < t->n; i++)
      free(t->names[i]);
  free(t->names);
  free(t->slots);
  free(t->hashes);
  memset(t, 0, sizeof(*t));
}

static int same(const char *a, const char *b, size_t n, int fold) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)b[i];
    if (fold && c >= 'A' && c <= 'Z')
      c = (unsigned char)(c + 32);
    if ((unsigned char)a[i] != c)
      return 0;
  }
  return a[n] == '\0';
}

static uint32_t lookup(const bw_intern_t *t, const char *name, size_t len,
                       int fold, uint64_t h, size_t *slot) {
  size_t mask = t->nslots - 1;
  uint32_t hi = (uint32_t)(h >> 32);
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    uint32_t v = t->slots[i].id1;
    if (v == 0) {
      *slot = i;
      return UINT32_MAX;
    }
    if (t->slots[i].hash == hi && t->hashes[v - 1] == h &&
        same(t->names[v - 1], name, len, fold))
      return v - 1;
  }
}

static uint32_t add(bw_intern_t *t, const char *name, size_t len, int fold,
                    uint64_t h, size_t slot) {
  char *s = malloc(len + 1);
  if (s == NULL)
    return UINT32_MAX;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    s[i] = (char)(fold && c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  s[len] = '\0';
  uint32_t id = (uint32_t)t->n++;
  t->names[id] = s;
  t->hashes[id] = h;
  t->slots[slot].id1 = id + 1;
  t->slots[slot].hash = (uint32_t)(h >> 32);
  return id;
}

uint32_t bw__intern(bw_intern_t *t, const char *name, size_t len, int fold) {
  uint64_t h = hash(name, len, fold);
  size_t slot;
  uint32_t id = lookup(t, name, len, fold, h, &slot);
  if (id != UINT32_MAX)
    return id;
  if (t->n < t->cap)
    return add(t, name, len, fold, h, slot);
  t->overflowed++;
  if (t->other_id == UINT32_MAX) {
    /* One slot beyond the cap is reserved for "other". */
    uint64_t ho = hash("other", 5, 0);
    size_t s2;
    uint32_t o = lookup(t, "other", 5, 0, ho, &s2);
    t->other_id = o != UINT32_MAX ? o : add(t, "other", 5, 0, ho, s2);
  }
  return t->other_id;
}

uint32_t bw__intern_find(const bw_intern_t *t, const char *name, size_t len) {
  size_t slot;
  return lookup(t, name, len, 1, hash(name, len, 1), &slot);
}

uint32_t bw__intern_restore(bw_intern_t *t, const char *name, size_t len) {
  /* Names come back in id order, so appending reproduces the ids, the
   * one beyond the cap ("other") included. */
  uint64_t h = hash(name, len, 0);
  size_t slot;
  uint32_t id = lookup(t, name, len, 0, h, &slot);
  if (id != UINT32_MAX || t->n >= t->cap + 2)
    return UINT32_MAX; /* a duplicate or too many: not our file */
  return add(t, name, len, 0, h, slot);
}
