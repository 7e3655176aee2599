/* The loaded rule set, shared by rules_load.c (parsing, validation),
 * rules_db.c (Hyperscan compile and on-disk cache) and classify.c (the
 * decision). Internal to the engine. */
#ifndef BW_RULES_H
#define BW_RULES_H

#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>

#include "bouncewatch/classify.h"

enum { BW_DB_CASELESS = 0, BW_DB_CASE = 1, BW_DB__COUNT };
#define BW_RULE_GATE 0xFFFFFFFFu /* db_rules[BW_DB_CASELESS]: see below */

typedef struct {
  unsigned id;
  bw_reason_t reason;
  unsigned file; /* index into files[] */
  unsigned line;
  char *expr;         /* NULL: applies on its conditions alone */
  int db;             /* BW_DB_* */
  uint32_t stage_in;  /* bit per bw_stage_t; 0 = any */
  uint32_t stage_out; /* bit per bw_stage_t: not at these */
  uint8_t class_mask; /* bit per class digit; 0 = any */
  uint32_t *codes;    /* packed X.Y.Z (bw__pack_code); NULL = any */
  unsigned ncodes;
  uint16_t *replies;  /* exact codes, or 2..5 for "Nxx" */
  unsigned nreplies;
  char **relays; /* lowercase host suffixes; NULL = not provider-specific */
  unsigned nrelays;
} bw__rule_t;

typedef struct {
  bw_group_t group;
  int hardness; /* 0 soft, 1 hard, 2 hard when 5xx, -1 not a bounce */
  int pass1, pass2; /* rank in each pass, 0 = not probed */
  uint64_t veto;    /* reasons whose text match stops the code deciding */
  char *advice;
} bw__reason_info_t;

typedef struct {
  uint32_t code;
  bw_reason_t reason;
} bw__code_t;

struct bw_rules_s {
  char **files; /* "patterns/recipient.rules" as given */
  unsigned nfiles;
  bw__rule_t *rules;
  unsigned nrules;
  bw__code_t *codes; /* sorted by code */
  unsigned ncodes;
  bw__reason_info_t info[BW_REASON__COUNT];
  bw_reason_t pass1[BW_REASON__COUNT], pass2[BW_REASON__COUNT];
  unsigned npass1, npass2;
  unsigned *always; /* rules without an expression */
  unsigned nalways;
  hs_database_t *db[BW_DB__COUNT];
  /* Hyperscan id -> rule index. The caseless database also holds every
   * case-sensitive expression, caseless, as a gate (BW_RULE_GATE): a
   * case-sensitive match is a caseless one too, so the case-sensitive
   * database needs a scan only when a gate fired (a second scan of every
   * text cost ~5 % of `report`). */
  unsigned *db_rules[BW_DB__COUNT];
  int from_cache;
  char cache_path[512];
};

/* "5.7.26" -> 5007026; 0 if malformed. */
uint32_t bw__pack_code(const char *p, size_t n);

/* Check every expression alone (Hyperscan's own parser), reporting each
 * broken one as FILE:LINE. Returns the number of errors. */
unsigned bw__rules_validate(const bw_rules_t *r, FILE *diag);

/* Compile rules->rules into rules->db, through the cache in cache_dir
 * (NULL or "" = no cache); without a cached database every expression is
 * first checked by bw__rules_validate. Errors are reported as FILE:LINE.
 * Returns the number of errors reported (0 on success). */
unsigned bw__rules_compile(bw_rules_t *r, const char *cache_dir, FILE *diag);

#endif
