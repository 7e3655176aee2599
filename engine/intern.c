/* The interning table behind the aggregation's domain and provider keys.
 *
 * The join looks a domain up per delivery, so the lookup is built to touch
 * little memory and copy nothing: the name is hashed and compared folded
 * to lower case 8 bytes at a time in registers, the slot array holds the
 * id and the hash's high half (8 bytes a slot), and names live in a few
 * chunks of one arena rather than one allocation each, so the names
 * compared over and over share cache lines. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "intern.h"

#define ARENA_CHUNK 16384
#define SEED 0x9E3779B97F4A7C15ull

/* Folded or not, a lower-case name hashes the same (restore relies on
 * it). Names of up to 16 bytes (most domains) are two words, one loaded
 * from each end, multiplied apart and mixed once: the general loop's
 * three mixes in a row were a third of a lookup (perf). The values are
 * never stored: a restored table hashes its names again. */
static uint64_t key_hash(const char *p, size_t n, int fold) {
  if (n > 16)
    return fold ? bw__hash_folded(SEED, p, n) : bw__hash_bytes(SEED, p, n);
  uint64_t a, b = 0;
  if (n >= 8) {
    memcpy(&a, p, 8);
    memcpy(&b, p + n - 8, 8);
  } else {
    a = bw__tail8(p, n);
  }
  if (fold) {
    a = bw__fold8(a);
    b = bw__fold8(b);
  }
  return bw__mix64((a ^ SEED) * 0xD6E8FEB86659FD93ull ^ n, b);
}

/* Stored name s (folded when it was added with `fold`) equals p[0..n)
 * as the table keys it. */
static int same(const char *s, const char *p, size_t n, int fold) {
  if (!fold)
    return memcmp(s, p, n) == 0 && s[n] == '\0';
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    memcpy(&a, s + i, 8);
    memcpy(&b, p + i, 8);
    if (a != bw__fold8(b))
      return 0;
  }
  for (; i < n; i++) {
    char c = p[i];
    if (s[i] != (char)(c >= 'A' && c <= 'Z' ? c + 32 : c))
      return 0;
  }
  return s[n] == '\0';
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

/* Id of the name, or UINT32_MAX with *slot the empty slot to add it. */
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
    if (t->slots[i].hash == hi && same(t->names[v - 1], name, len, fold))
      return v - 1;
  }
}

static uint32_t add(bw_intern_t *t, const char *name, size_t len, int fold,
                    uint64_t h, size_t slot) {
  char *s = arena_alloc(t, len);
  if (s == NULL)
    return UINT32_MAX;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    s[i] = (char)(fold && c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  s[len] = '\0';
  uint32_t id = (uint32_t)t->n++;
  t->names[id] = s;
  t->slots[slot].id1 = id + 1;
  t->slots[slot].hash = (uint32_t)(h >> 32);
  return id;
}

uint32_t bw__intern(bw_intern_t *t, const char *name, size_t len, int fold) {
  uint64_t h = key_hash(name, len, fold);
  size_t slot;
  uint32_t id = lookup(t, name, len, fold, h, &slot);
  if (id != UINT32_MAX)
    return id;
  if (t->n < t->cap)
    return add(t, name, len, fold, h, slot);
  t->overflowed++;
  if (t->other_id == UINT32_MAX) {
    /* One slot beyond the cap is reserved for "other". */
    uint64_t ho = key_hash("other", 5, 0);
    size_t s2;
    uint32_t o = lookup(t, "other", 5, 0, ho, &s2);
    t->other_id = o != UINT32_MAX ? o : add(t, "other", 5, 0, ho, s2);
  }
  return t->other_id;
}

uint32_t bw__intern_find(const bw_intern_t *t, const char *name, size_t len) {
  size_t slot;
  return lookup(t, name, len, 1, key_hash(name, len, 1), &slot);
}

uint32_t bw__intern_restore(bw_intern_t *t, const char *name, size_t len) {
  /* Names come back in id order, so appending reproduces the ids, the
   * one beyond the cap ("other") included. A folded name hashes the same
   * folded or not, so it is found again by bw__intern(..., 1). */
  uint64_t h = key_hash(name, len, 0);
  size_t slot;
  uint32_t id = lookup(t, name, len, 0, h, &slot);
  if (id != UINT32_MAX || t->n >= t->cap + 2)
    return UINT32_MAX; /* a duplicate or too many: not our file */
  return add(t, name, len, 0, h, slot);
}
