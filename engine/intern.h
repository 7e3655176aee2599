/* A capped string-interning table: names (domains, providers) to small
 * ids, with open addressing and the names in one arena. When the cap is reached, new
 * names get the id of "other" and are counted. Internal to the engine. */
#ifndef BW_INTERN_H
#define BW_INTERN_H

#include <stddef.h>
#include <stdint.h>

/* A slot holds the id and the high half of the name's hash, so probing
 * past other names touches only the slot array (the join looks a domain
 * up per delivery; the extra arrays were its cache misses). */
typedef struct {
  uint32_t id1;  /* id + 1, 0 = empty */
  uint32_t hash; /* high 32 bits of the name's hash */
} bw_intern_slot_t;

typedef struct {
  bw_intern_slot_t *slots;
  size_t nslots;   /* power of two, > 2 * cap */
  char **names;    /* by id, into the arena */
  char *chunk;     /* arena: newest chunk, each links to the one before */
  size_t chunk_used, chunk_left;
  size_t n, cap;
  uint32_t other_id; /* UINT32_MAX until the first overflow */
  uint64_t overflowed;
} bw_intern_t;

int bw__intern_init(bw_intern_t *t, size_t cap);
void bw__intern_free(bw_intern_t *t);

/* Id of name[0..len) (lower-cased when `fold`), adding it if there is
 * room; "other" (added on demand, beyond the cap) when there is not.
 * Returns UINT32_MAX only on allocation failure. */
uint32_t bw__intern(bw_intern_t *t, const char *name, size_t len, int fold);

/* Re-add a name read back from a state file: it gets the next id (the
 * caller adds names in id order). UINT32_MAX for a duplicate or an
 * overfull table. */
uint32_t bw__intern_restore(bw_intern_t *t, const char *name, size_t len);

/* Id of an existing name or UINT32_MAX. */
uint32_t bw__intern_find(const bw_intern_t *t, const char *name, size_t len);

#endif
