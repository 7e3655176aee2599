/* Reports that arrive as e-mail: feedback-loop complaints (ARF, RFC 5965,
 * and Microsoft's JMRP), delivery status notifications (DSN, RFC 3464)
 * and the common non-standard bounces (Exim, qmail, Gmail, Microsoft,
 * Postfix text), parsed with gmime into plain fields.
 *
 * Ownership: bw_mailreport_t owns every string it points to; release them
 * with bw_mailreport_clear() (which leaves the struct zeroed and reusable).
 * The parser keeps no state between calls and is safe to call from one
 * thread at a time per process (gmime's one-time set-up is done once). */
#ifndef BOUNCEWATCH_MAILREPORT_H
#define BOUNCEWATCH_MAILREPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  BW_MR_NOT_REPORT = 0, /* MIME mail, but neither a complaint nor a bounce */
  BW_MR_ARF,            /* a complaint / feedback report */
  BW_MR_DSN,            /* message/delivery-status */
  BW_MR_BOUNCE          /* a non-standard bounce read from its text */
} bw_mr_kind_t;

/* Feedback-Type values. X(NAME, "name") */
#define BW_FEEDBACK_MAP(X)                                                     \
  X(NONE, "none")                                                              \
  X(ABUSE, "abuse")                                                            \
  X(FRAUD, "fraud")                                                            \
  X(VIRUS, "virus")                                                            \
  X(OTHER, "other")                                                            \
  X(NOT_SPAM, "not-spam")                                                      \
  X(AUTH_FAILURE, "auth-failure")                                              \
  X(OPT_OUT, "opt-out")                                                        \
  X(UNKNOWN, "unknown")

typedef enum {
#define BW_FEEDBACK_ENUM(name, str) BW_FEEDBACK_##name,
  BW_FEEDBACK_MAP(BW_FEEDBACK_ENUM)
#undef BW_FEEDBACK_ENUM
  BW_FEEDBACK__COUNT
} bw_feedback_t;

/* DSN Action values. X(NAME, "name") */
#define BW_ACTION_MAP(X)                                                       \
  X(NONE, "none")                                                              \
  X(FAILED, "failed")                                                          \
  X(DELAYED, "delayed")                                                        \
  X(DELIVERED, "delivered")                                                    \
  X(RELAYED, "relayed")                                                        \
  X(EXPANDED, "expanded")

typedef enum {
#define BW_ACTION_ENUM(name, str) BW_ACTION_##name,
  BW_ACTION_MAP(BW_ACTION_ENUM)
#undef BW_ACTION_ENUM
  BW_ACTION__COUNT
} bw_action_t;

const char *bw_feedback_name(bw_feedback_t f);
const char *bw_action_name(bw_action_t a);
const char *bw_mr_kind_name(bw_mr_kind_t k);

/* One recipient of a DSN or of a text bounce. Addresses are bare
 * (no "rfc822;" type, no angle brackets); NULL when absent. */
typedef struct {
  char *final_rcpt, *orig_rcpt;
  bw_action_t action;
  char status[16];   /* "5.1.1", "" when absent */
  char *diagnostic;  /* Diagnostic-Code without its type ("smtp;") */
  char *remote_mta;  /* Remote-MTA without its type ("dns;") */
} bw_mr_rcpt_t;

#define BW_MR_MAX_RCPTS 256 /* per report; more are counted, not kept */

typedef struct {
  bw_mr_kind_t kind;
  /* gmime found the structure damaged (cut, a multipart without its
   * closing boundary or parts), yet the report part was read: usable,
   * counted as damaged, the problem in bw_mailreport_parse()'s `why`. */
  int damaged;
  /* Which grammar read it: "rfc5965", "microsoft-jmrp", "rfc3464",
   * "exim", "qmail", "gmail", "text". Static string. */
  const char *format;

  /* The report mail itself. */
  char *from, *subject;
  int64_t date_us; /* Date:, µs since the epoch; 0 when absent/unreadable */

  /* ARF (message/feedback-report). */
  bw_feedback_t feedback;
  char *feedback_raw; /* the Feedback-Type value as written */
  char *user_agent, *original_mail_from, *original_rcpt_to, *source_ip,
      *reported_domain;
  int64_t arrival_us; /* ARF Arrival-Date (or Received-Date); DSN
                         Arrival-Date; 0 when absent */

  /* DSN (message/delivery-status) and text bounces. */
  char *reporting_mta;
  bw_mr_rcpt_t *rcpts;
  size_t nrcpts;
  size_t rcpts_dropped; /* over BW_MR_MAX_RCPTS */

  /* The enclosed original (message/rfc822, text/rfc822-headers, or the
   * copy after a text bounce's marker line). */
  int has_original;
  char *orig_message_id; /* without angle brackets */
  char *orig_return_path, *orig_from, *orig_to; /* bare addresses */
  char *orig_dkim_domain; /* d= of its first DKIM-Signature */
} bw_mailreport_t;

/* Parse one message (the bytes of a Maildir file). Returns 0 with
 * r->kind set (BW_MR_NOT_REPORT for a mail that is no report; why says
 * so), or BW_EPARSE for bad mail: no header block, or a structure gmime
 * found damaged (truncated, a multipart without its boundary or parts,
 * nested too deep) in which no report part could be read; the reason is
 * in why[0..whylen). A damaged mail whose report part was read returns
 * 0 with r->damaged set and the problem in why. Any r contents are
 * overwritten (clear it first to free them); on error r is cleared. */
int bw_mailreport_parse(const char *buf, size_t len, bw_mailreport_t *r,
                        char *why, size_t whylen);

void bw_mailreport_clear(bw_mailreport_t *r);

#ifdef __cplusplus
}
#endif
#endif
