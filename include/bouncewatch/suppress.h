/* The suppression list: recipient addresses that should not be mailed
 * again for a while, with the evidence (log time, reason, enhanced code,
 * diagnostic, sender domain) and an expiry in log time, exported as a
 * Postfix access(5) table, CSV or JSON.
 *
 * A recipient is suppressed at once by a final failure (bounced or
 * expired) whose reason is in the hard set (default userunknown,
 * hostunknown, hasmoved), or when failures whose reason is in the soft
 * set (default mailboxfull, suspend, exceedlimit) or the hard set
 * (deferrals, e.g. a 450 4.1.1) happen in soft_count different messages
 * within soft_window_s of log time. A later `sent` delivery to the
 * address takes it off the list: the mailbox works again. Every time is
 * log time, so replaying the same logs gives the same list.
 *
 * Ownership: bw_suppress_t owns every string it keeps (copied from the
 * event, whose spans die with the callback). Entry pointers returned by
 * bw_suppress_list() are valid until the next bw_suppress_add(),
 * bw_suppress_restore() or bw_suppress_free(). Single-threaded: feed it
 * from the replay callback, beside bw_agg_add(). Memory is bounded by
 * max_entries; what the cap pushes out is counted. */
#ifndef BOUNCEWATCH_SUPPRESS_H
#define BOUNCEWATCH_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bouncewatch/classify.h"
#include "bouncewatch/event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest soft_count accepted (each entry keeps that many times). */
#define BW_SUPPRESS_MAX_SOFT 16
/* Addresses longer than this are not kept (RFC 5321: 64 + 1 + 255). */
#define BW_SUPPRESS_MAX_ADDR 320
/* Diagnostic text kept as evidence, in bytes (longer texts are cut). */
#define BW_SUPPRESS_MAX_TEXT 240

typedef struct {
  uint64_t hard_reasons; /* bit (1 << bw_reason_t) */
  uint64_t soft_reasons;
  int64_t ttl_s;          /* how long a suppression lasts (default 7 days) */
  unsigned soft_count;    /* N (default 3, 1..BW_SUPPRESS_MAX_SOFT) */
  int64_t soft_window_s;  /* M (default 7 days) */
  size_t max_entries;     /* addresses tracked (default 100000) */
} bw_suppress_opts_t;

void bw_suppress_opts_default(bw_suppress_opts_t *o);

/* Parse a comma-separated list of reason names into a bit set; "" or
 * "none" is the empty set. BW_EINVAL names nothing: *bad (if not NULL)
 * points at the unknown name in s. */
int bw_suppress_reasons(const char *s, uint64_t *out, const char **bad);

typedef enum {
  BW_SUPPRESS_POSTFIX = 0, /* access(5): "addr REJECT 5.1.1 text" */
  BW_SUPPRESS_CSV,
  BW_SUPPRESS_JSON
} bw_suppress_format_t;

/* "postfix", "csv", "json" -> the format; -1 when unknown. */
int bw_suppress_format_from_name(const char *s);

typedef struct bw_suppress_s bw_suppress_t;

int bw_suppress_new(const bw_suppress_opts_t *opts, bw_suppress_t **out);
void bw_suppress_free(bw_suppress_t *s);

/* Feed every parsed line in log order (only deliveries matter); v is the
 * classifier's verdict for failures (NULL for sent). sender_domain is
 * the sender's domain of the delivery's message as the join knows it
 * ("" for a bounce notification, NULL when unknown); it is copied, and
 * read only when bw_event_failed(ev): for other lines the caller may
 * pass NULL without looking it up. */
void bw_suppress_add(bw_suppress_t *s, const bw_event_t *ev,
                     const bw_verdict_t *v, const char *sender_domain);

typedef struct {
  const char *addr;          /* lower-cased */
  const char *sender_domain; /* of the last failure; "" null sender, NULL unknown */
  const char *text;          /* diagnostic of the last failure (raw bytes) */
  size_t text_len;
  char dsn[16];              /* enhanced code of the last failure, "" none */
  bw_reason_t reason;        /* of the last failure */
  int hard;                  /* suppressed by one hard bounce (else soft rule) */
  uint32_t failures;         /* failures counted for this address */
  int64_t first_us, last_us; /* first and last failure, log time */
  int64_t since_us;          /* when it was suppressed */
  int64_t expires_us;        /* since it was last renewed + ttl */
} bw_suppress_entry_t;

/* The addresses suppressed at the latest log time seen (expired ones
 * left out), sorted by address. *out is one allocation the caller frees
 * with free(); NULL with 0 when empty or out of memory. */
size_t bw_suppress_list(bw_suppress_t *s, bw_suppress_entry_t **out);

typedef struct {
  uint64_t tracked;           /* addresses in the table now */
  uint64_t active;            /* suppressed and not expired now */
  uint64_t suppressed_hard;   /* suppressions made by one hard bounce */
  uint64_t suppressed_soft;   /* ... by the N-in-M soft rule */
  uint64_t cleared_by_sent;   /* taken off by a later sent delivery */
  uint64_t expired;           /* suppressions that ran out */
  uint64_t evicted;           /* pushed out by max_entries, ... */
  uint64_t evicted_active;    /* ... of which were suppressed */
  uint64_t skipped_addr;      /* recipients too long or empty */
  int64_t now_us;             /* latest log time seen */
} bw_suppress_stats_t;

void bw_suppress_stats(const bw_suppress_t *s, bw_suppress_stats_t *st);

/* Write the list at the latest log time in one format to f. In the
 * Postfix format, addresses access(5) cannot hold (no '@', whitespace,
 * control characters, or a leading '#') are left out and counted in
 * *skipped (may be NULL). Returns 0 or BW_EIO. */
int bw_suppress_write(bw_suppress_t *s, bw_suppress_format_t fmt, FILE *f,
                      uint64_t *skipped);

/* The whole table (with candidates not yet suppressed) to f, and back
 * into a bw_suppress_t made with the same max_entries. Versioned and
 * checksummed: a damaged section fails with BW_EPARSE and leaves the
 * table empty. The options themselves are not saved (they come from the
 * command line or the configuration each start). */
int bw_suppress_save(const bw_suppress_t *s, FILE *f);
int bw_suppress_restore(bw_suppress_t *s, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
