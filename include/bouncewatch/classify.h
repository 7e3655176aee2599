/* Bounce classification: rules kept as data in patterns/, matched with
 * Hyperscan, decide for one diagnostic its reason (Sisimai's taxonomy),
 * whose side the problem is on (group), hard or soft, permanent or
 * temporary, and which rules decided.
 *
 * Ownership: bw_rules_t is immutable once loaded and may be shared by
 * threads; each thread classifies with its own bw_classifier_t (it owns
 * the Hyperscan scratch, which is not re-entrant). Verdict strings point
 * into the rules and live as long as they do. */
#ifndef BOUNCEWATCH_CLASSIFY_H
#define BOUNCEWATCH_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bouncewatch/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sisimai's reasons plus delivered, feedback, vacation, undefined, onhold.
 * X(NAME, "name") */
#define BW_REASON_MAP(X)                                                       \
  X(UNDEFINED, "undefined")                                                    \
  X(ONHOLD, "onhold")                                                          \
  X(DELIVERED, "delivered")                                                    \
  X(FEEDBACK, "feedback")                                                      \
  X(VACATION, "vacation")                                                      \
  X(AUTHFAILURE, "authfailure")                                                \
  X(BADREPUTATION, "badreputation")                                            \
  X(BLOCKED, "blocked")                                                        \
  X(CONTENTERROR, "contenterror")                                              \
  X(EXCEEDLIMIT, "exceedlimit")                                                \
  X(EXPIRED, "expired")                                                        \
  X(FAILEDSTARTTLS, "failedstarttls")                                          \
  X(FILTERED, "filtered")                                                      \
  X(HASMOVED, "hasmoved")                                                      \
  X(HOSTUNKNOWN, "hostunknown")                                                \
  X(MAILBOXFULL, "mailboxfull")                                                \
  X(MAILERERROR, "mailererror")                                                \
  X(MESGTOOBIG, "mesgtoobig")                                                  \
  X(NETWORKERROR, "networkerror")                                              \
  X(NORELAYING, "norelaying")                                                  \
  X(NOTACCEPT, "notaccept")                                                    \
  X(NOTCOMPLIANTRFC, "notcompliantrfc")                                        \
  X(POLICYVIOLATION, "policyviolation")                                        \
  X(REJECTED, "rejected")                                                      \
  X(REQUIREPTR, "requireptr")                                                  \
  X(SECURITYERROR, "securityerror")                                            \
  X(SPAMDETECTED, "spamdetected")                                              \
  X(SPEEDING, "speeding")                                                      \
  X(SUPPRESSED, "suppressed")                                                  \
  X(SUSPEND, "suspend")                                                        \
  X(SYNTAXERROR, "syntaxerror")                                                \
  X(SYSTEMERROR, "systemerror")                                                \
  X(SYSTEMFULL, "systemfull")                                                  \
  X(TOOMANYCONN, "toomanyconn")                                                \
  X(USERUNKNOWN, "userunknown")                                                \
  X(VIRUSDETECTED, "virusdetected")

typedef enum {
#define BW_REASON_ENUM(name, str) BW_REASON_##name,
  BW_REASON_MAP(BW_REASON_ENUM)
#undef BW_REASON_ENUM
  BW_REASON__COUNT
} bw_reason_t;

/* Whose side the problem is on. X(NAME, "name") */
#define BW_GROUP_MAP(X)                                                        \
  X(NONE, "none")                                                              \
  X(RECIPIENT, "recipient")                                                    \
  X(SENDER_AUTH, "sender_auth")                                                \
  X(SENDER_REPUTATION, "sender_reputation")                                    \
  X(CONTENT_POLICY, "content_policy")                                          \
  X(REMOTE_SYSTEM, "remote_system")                                            \
  X(NETWORK_TRANSIENT, "network_transient")

typedef enum {
#define BW_GROUP_ENUM(name, str) BW_GROUP_##name,
  BW_GROUP_MAP(BW_GROUP_ENUM)
#undef BW_GROUP_ENUM
  BW_GROUP__COUNT
} bw_group_t;

const char *bw_reason_name(bw_reason_t r);
const char *bw_group_name(bw_group_t g);
/* BW_REASON__COUNT / BW_GROUP__COUNT when the name is unknown. */
bw_reason_t bw_reason_from_name(const char *s, size_t n);
bw_group_t bw_group_from_name(const char *s, size_t n);

typedef struct bw_rules_s bw_rules_t;
typedef struct bw_classifier_s bw_classifier_t;

typedef struct {
  /* Directory for the compiled-database cache; NULL: $BW_RULES_CACHE,
   * else $XDG_CACHE_HOME/bouncewatch, else ~/.cache/bouncewatch; "" turns
   * the cache off. A cache that cannot be read or written only costs a
   * recompile. */
  const char *cache_dir;
  /* Where "patterns/FILE:LINE: message" diagnostics go (NULL: stderr). */
  FILE *diag;
} bw_rules_opts_t;

/* Load and compile every *.rules file and reasons.tsv in dir. Every
 * problem is reported as "DIR/FILE:LINE: message" on opts->diag; any
 * problem makes the load fail with BW_EPARSE (nothing is half-loaded).
 * *nerrors (may be NULL) gets the number of problems reported. */
int bw_rules_load(const char *dir, const bw_rules_opts_t *opts,
                  bw_rules_t **out, unsigned *nerrors);
void bw_rules_free(bw_rules_t *r);

/* Counts for reports: rules, code-table entries, whether the compiled
 * database came from the cache. */
typedef struct {
  unsigned rules, codes, databases;
  int from_cache;
  char cache_path[512];
} bw_rules_info_t;
void bw_rules_info(const bw_rules_t *r, bw_rules_info_t *info);

int bw_classifier_new(const bw_rules_t *r, bw_classifier_t **out);
void bw_classifier_free(bw_classifier_t *c);

typedef struct {
  bw_span_t text;      /* the diagnostic */
  bw_span_t dsn;       /* enhanced code if known (X.Y.Z), else empty */
  uint16_t reply_code; /* 0 if unknown */
  bw_stage_t stage;    /* BW_STAGE_NONE: derived from the text */
  bw_span_t relay;     /* remote host if known ("mx.example.com[1.2.3.4]:25") */
} bw_classify_in_t;

#define BW_VERDICT_RULES 8
typedef struct {
  bw_reason_t reason;
  bw_group_t group;
  int hard;      /* 1 hard bounce, 0 soft */
  int permanent; /* 1 permanent (5xx), 0 temporary (4xx), -1 unknown */
  /* What decided: "rule" (a text rule), "provider" (a relay= rule),
   * "code" (the status-code table), "class" (X.6 / X.7 default),
   * "stage", "default". */
  const char *decided_by;
  char code[16];       /* the enhanced code used ("" if none) */
  uint16_t reply_code; /* the reply code used (0 if none) */
  bw_stage_t stage;    /* the stage used */
  /* Rules that matched (deciding one first), as indexes for
   * bw_rule_where(); n_rules may exceed BW_VERDICT_RULES. */
  unsigned rules[BW_VERDICT_RULES];
  unsigned n_rules;
} bw_verdict_t;

/* Classify one diagnostic. Never fails; an empty text with no code is
 * BW_REASON_UNDEFINED. Recent inputs are remembered by a 64-bit hash of
 * all inputs, so a repeated diagnostic costs a hash, not a scan. */
void bw_classify(bw_classifier_t *c, const bw_classify_in_t *in,
                 bw_verdict_t *v);

/* How many bw_classify() calls were answered from the recent-inputs
 * memory, of how many. */
void bw_classifier_stats(const bw_classifier_t *c, uint64_t *hits,
                         uint64_t *calls);

/* A rule's id, reason, "FILE:LINE" and expression text. */
typedef struct {
  unsigned id;
  bw_reason_t reason;
  const char *file;
  unsigned line;
  const char *expr;
} bw_rule_ref_t;
void bw_rule_where(const bw_rules_t *r, unsigned rule, bw_rule_ref_t *out);

/* The advice for a reason (from reasons.tsv), "" if none. */
const char *bw_reason_advice(const bw_rules_t *r, bw_reason_t reason);
bw_group_t bw_reason_group(const bw_rules_t *r, bw_reason_t reason);

#ifdef __cplusplus
}
#endif
#endif
