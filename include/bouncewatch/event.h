/* The typed event: what one Postfix or Exim log line means. This is the
 * interface between the line grammars and every later stage (classifier,
 * joiner, aggregators, outputs).
 *
 * Ownership: an event is filled by bw_parse_line() and handed to the
 * consumer by pointer. Every bw_span_t points INTO the line buffer it was
 * parsed from; spans are valid only until the callback that received the
 * event returns (the buffer is reused for the next block of input). A
 * consumer that needs a field later must copy it. Events are never
 * allocated on the heap by the parser. */
#ifndef BOUNCEWATCH_EVENT_H
#define BOUNCEWATCH_EVENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A byte range inside the current line. len == 0 means "absent". The bytes
 * are not NUL-terminated and may hold any byte value, NUL and invalid
 * UTF-8 included. */
typedef struct {
  const char *p;
  uint32_t len;
} bw_span_t;

/* What a line is. Counted per kind in the replay summary.
 * X(NAME, "json_name", "description") */
#define BW_KIND_MAP(X)                                                         \
  X(UNKNOWN, "unknown", "no syslog, Postfix or Exim prefix recognised")       \
  X(OTHER, "other", "syslog line of another program (dovecot, kernel, ...)")  \
  X(MTA_OTHER, "mta_other", "Postfix or Exim line not needed downstream")     \
  X(DELIVERY, "delivery", "delivery attempt or result for one recipient")     \
  X(ARRIVAL, "arrival", "message queued with its sender (qmgr from=, <=)")    \
  X(MESSAGE_ID, "message_id", "Postfix cleanup message-id=")                  \
  X(CLIENT, "client", "Postfix smtpd QID: client=")            \
  X(EXPIRED, "expired", "Postfix message-level status=expired")               \
  X(NOTIFICATION, "notification", "Postfix bounce daemon notification link")  \
  X(REMOVED, "removed", "message left the queue (removed, Completed)")        \
  X(REJECT, "reject", "Postfix smtpd/cleanup reject (NOQUEUE or QID)")      \
  X(CONTINUED, "continued",                                                    \
    "part of an Exim line syslog split ([n/m]), joined to a later line")

typedef enum {
#define BW_KIND_ENUM(name, json, desc) BW_KIND_##name,
  BW_KIND_MAP(BW_KIND_ENUM)
#undef BW_KIND_ENUM
  BW_KIND__COUNT
} bw_kind_t;

typedef enum { BW_MTA_NONE = 0, BW_MTA_POSTFIX, BW_MTA_EXIM } bw_mta_t;

/* Delivery status of a BW_KIND_DELIVERY event.
 * X(NAME, "json_name") */
#define BW_STATUS_MAP(X)                                                       \
  X(NONE, "none")                                                              \
  X(SENT, "sent")             /* Postfix sent; Exim => -> >> */                \
  X(DEFERRED, "deferred")     /* Postfix deferred; Exim == */                  \
  X(BOUNCED, "bounced")       /* Postfix bounced; Exim ** */                   \
  X(EXPIRED, "expired")       /* Exim ** retry timeout / failing too long */   \
  X(SOFTBOUNCE, "softbounce") /* Postfix SOFTBOUNCE (soft_bounce=yes) */       \
  X(SUPPRESSED, "suppressed") /* Exim *> (delivery suppressed by -N) */        \
  X(PROBE_OK, "probe_deliverable")       /* address verification, no mail */  \
  X(PROBE_FAIL, "probe_undeliverable")   /* address verification, no mail */  \
  X(OTHER, "other")           /* a status word this parser does not know */

typedef enum {
#define BW_STATUS_ENUM(name, json) BW_STATUS_##name,
  BW_STATUS_MAP(BW_STATUS_ENUM)
#undef BW_STATUS_ENUM
  BW_STATUS__COUNT
} bw_status_t;

/* The SMTP command a remote reply answered. From Postfix's
 * "(in reply to X command)" and Exim's "after X". */
#define BW_STAGE_MAP(X)                                                        \
  X(NONE, "none")                                                              \
  X(CONNECT, "connect")   /* greeting; "refused to talk to me", "initial connection" */ \
  X(HELO, "helo")         /* HELO / EHLO / LHLO */                              \
  X(STARTTLS, "starttls")                                                      \
  X(AUTH, "auth")                                                              \
  X(MAIL, "mail")         /* MAIL FROM */                                      \
  X(RCPT, "rcpt")         /* RCPT TO */                                        \
  X(DATA, "data")         /* DATA command itself */                            \
  X(END_OF_DATA, "end_of_data") /* after the message body */                   \
  X(RSET, "rset")                                                              \
  X(QUIT, "quit")                                                              \
  X(XFORWARD, "xforward")                                                      \
  X(OTHER, "other")

typedef enum {
#define BW_STAGE_ENUM(name, json) BW_STAGE_##name,
  BW_STAGE_MAP(BW_STAGE_ENUM)
#undef BW_STAGE_ENUM
  BW_STAGE__COUNT
} bw_stage_t;

/* One parsed line. Fields that the line does not carry are zero / empty.
 * Which fields each kind fills:
 *   all kinds with a prefix: time_us, host, program (and pid)
 *   DELIVERY:     queue_id, rcpt, orig_rcpt, relay, status, dsn, reply_dsn,
 *                 reply_code, stage, text, sender (Exim F= only), exim_flag
 *   ARRIVAL:      queue_id, sender, size (Postfix qmgr; Exim <=), message_id
 *                 (Exim id=), client (Exim H=), parent_id (Exim R= of a
 *                 bounce), nrcpt (Postfix)
 *   MESSAGE_ID:   queue_id, message_id
 *   CLIENT:       queue_id, client (Postfix smtpd "QID: client=")
 *   EXPIRED:      queue_id, sender
 *   NOTIFICATION: queue_id (the original), new_queue_id, text (the kind:
 *                 "sender non-delivery notification", ...)
 *   REMOVED:      queue_id
 *   REJECT:       queue_id (empty for NOQUEUE), rcpt, sender, client,
 *                 reply_code, dsn, text, stage
 */
typedef struct bw_event_s {
  bw_kind_t kind;
  bw_mta_t mta;
  bw_status_t status;
  bw_stage_t stage;

  /* Log time in microseconds since the Unix epoch, UTC. 0 when the line
   * had no parseable timestamp. For zone-less stamps (RFC 3164, Exim
   * without +ZZZZ) the local zone of this process (TZ) is applied. */
  int64_t time_us;

  bw_span_t host;      /* syslog host; empty for Exim mainlog */
  bw_span_t program;   /* "postfix/smtp", "postfix-out/qmgr", "exim" */
  bw_span_t instance;  /* Postfix syslog_name ("postfix", "postfix-out",
                          "postfix/submission"); empty for Exim */
  bw_span_t service;   /* last program component: "smtp", "qmgr", ... */
  uint32_t pid;        /* 0 when absent */

  bw_span_t queue_id;     /* Postfix QID or Exim message id */
  bw_span_t new_queue_id; /* NOTIFICATION: the notification's QID */
  bw_span_t parent_id;    /* Exim bounce arrival R=<id> */
  bw_span_t rcpt;         /* without angle brackets */
  bw_span_t orig_rcpt;    /* Postfix orig_to=, Exim <orig> / (parent) */
  bw_span_t sender;       /* without angle brackets; "" for <> */
  int has_sender;         /* sender field present (so "" means null sender) */
  bw_span_t relay;        /* Postfix relay=, Exim H= (host [ip]) */
  bw_span_t client;       /* Postfix client=, Exim H= on arrival */
  bw_span_t message_id;   /* without angle brackets */
  bw_span_t dsn;          /* "5.1.1": Postfix dsn=, Exim from the reply */
  bw_span_t reply_dsn;    /* enhanced code inside the reply text, if any
                             (Postfix may log dsn=5.0.0 for "550 5.7.1") */
  bw_span_t text;         /* diagnostic: Postfix "(...)", Exim after ": " */
  uint16_t reply_code;    /* 3-digit SMTP reply, 0 when none */
  char exim_flag[3];      /* "=>", "**", ... NUL-terminated; "" for Postfix */
  uint64_t size;          /* ARRIVAL size= / S= */
  uint32_t nrcpt;         /* ARRIVAL nrcpt= */
} bw_event_t;

/* A delivery that failed, for now or for good (deferred, soft-bounced,
 * bounced, expired): the lines that get a verdict (replay.h), and the
 * only ones bw_suppress_add() reads a sender for. */
static inline int bw_event_failed(const bw_event_t *ev) {
  return ev->kind == BW_KIND_DELIVERY &&
         (ev->status == BW_STATUS_DEFERRED || ev->status == BW_STATUS_BOUNCED ||
          ev->status == BW_STATUS_EXPIRED ||
          ev->status == BW_STATUS_SOFTBOUNCE);
}

/* Static JSON names for the enums; never NULL. */
const char *bw_kind_name(bw_kind_t k);
const char *bw_status_name(bw_status_t s);
const char *bw_stage_name(bw_stage_t s);

/* Enhanced status code split: class (2, 4, 5) and subject (0..7), or -1
 * when dsn is absent or malformed. */
int bw_dsn_class(bw_span_t dsn);
int bw_dsn_subject(bw_span_t dsn);

#ifdef __cplusplus
}
#endif
#endif
