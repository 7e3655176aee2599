/* bw_gen_logs: a deterministic generator of realistic Postfix (syslog) and
 * Exim (mainlog) traffic, with a JSON ground truth of exactly what it wrote.
 * It owns the traffic model (messages, retries, bounces, noise) and the line
 * shapes. It parses nothing and shares no code with the engine on purpose:
 * it is the independent oracle for tests/groundtruth.sh and bench/run.sh. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[below((uint32_t)ARRAY_LEN(a))])

/* ------------------------------------------------------------------ PRNG */
/* xoshiro256** seeded through splitmix64: fast, and the same stream on
 * every platform, so a seed names one file byte for byte. */
static uint64_t rng[4];

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rnd(void) {
  uint64_t r = rotl64(rng[1] * 5, 7) * 9;
  uint64_t t = rng[1] << 17;
  rng[2] ^= rng[0];
  rng[3] ^= rng[1];
  rng[1] ^= rng[2];
  rng[0] ^= rng[3];
  rng[2] ^= t;
  rng[3] = rotl64(rng[3], 45);
  return r;
}

/* Uniform in [0, n) by multiply-shift (Lemire); the bias is < n / 2^32. */
static uint32_t below(uint32_t n) {
  return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

static int pct(uint32_t p) { return below(100) < p; }

/* ---------------------------------------------------------------- output */
/* One big buffer flushed with write(2): stdio's per-call locking and
 * format parsing would cap us well below the 300 MB/s the bench needs.
 * No line is longer than LINE_ROOM (the longest template is < 1.5 KiB). */
#define OUT_CAP ((size_t)8 << 20)
#define LINE_ROOM ((size_t)16 << 10)

static char *obuf, *op, *olimit;
static uint64_t out_flushed;

static void flush_out(void) {
  const char *p = obuf;
  size_t n = (size_t)(op - obuf);
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      perror("bw_gen_logs: write");
      exit(1);
    }
    p += w;
    n -= (size_t)w;
    out_flushed += (uint64_t)w;
  }
  op = obuf;
}

static uint64_t bytes_written(void) { return out_flushed + (uint64_t)(op - obuf); }

static void put(const char *s, size_t n) {
  memcpy(op, s, n);
  op += n;
}
#define PUTL(lit) put((lit), sizeof(lit) - 1)
static void puts0(const char *s) { put(s, strlen(s)); }
static void putch(char c) { *op++ = c; }

static void put_u(uint64_t v) {
  char t[24];
  int i = 24;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put(t + i, (size_t)(24 - i));
}

static void put_u_pad(uint64_t v, int width) {
  char t[24];
  int i = 24;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v || 24 - i < width);
  put(t + i, (size_t)(24 - i));
}

static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char HEXU[] = "0123456789ABCDEF";
static const char B62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* n random characters of alphabet[0..alen), 6 bits of one draw each */
static void put_rand(const char *alphabet, uint32_t alen, int n) {
  uint64_t r = rnd();
  for (int i = 0; i < n; i++) {
    if (i % 10 == 9)
      r = rnd();
    *op++ = alphabet[(uint32_t)(r & 63) % alen];
    r >>= 6;
  }
}

/* ------------------------------------------------------------ ground truth */
enum {
  K_UNKNOWN, K_OTHER, K_MTA_OTHER, K_DELIVERY, K_ARRIVAL, K_MESSAGE_ID,
  K_CLIENT, K_EXPIRED, K_NOTIFICATION, K_REMOVED, K_REJECT, K__N
};
static const char *const kind_json[K__N] = {
    "unknown", "other", "mta_other", "delivery", "arrival", "message_id",
    "client", "expired", "notification", "removed", "reject"};

enum { S_SENT, S_DEFERRED, S_BOUNCED, S_EXPIRED, S__N };
enum { DC_2, DC_4, DC_5, DC_NONE, DC__N };
enum { FATE_SENT, FATE_BOUNCED, FATE_EXPIRED };

static uint64_t n_lines, n_kind[K__N], n_status[S__N], n_dsn[DC__N];
static uint64_t n_final[3];

static int dsn_class(char c) {
  return c == '2' ? DC_2 : c == '4' ? DC_4 : c == '5' ? DC_5 : DC_NONE;
}

/* ------------------------------------------------------------------- clock */
/* Log time in microseconds since 2024-03-01T00:00:00Z; it only moves
 * forward, so every file is in time order like a real log. */
#define BASE_EPOCH 1709251200
static int64_t now_us;
static int64_t cached_sec = -1;
static char ts3339[20], ts3164[16], tsexim[20];
static int prefix_3164;

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void two(char *d, int v) {
  d[0] = (char)('0' + v / 10);
  d[1] = (char)('0' + v % 10);
}

static void refresh_time(void) {
  int64_t sec = now_us / 1000000;
  if (sec == cached_sec)
    return;
  cached_sec = sec;
  time_t t = (time_t)(BASE_EPOCH + sec);
  struct tm tm;
  gmtime_r(&t, &tm);
  int y = tm.tm_year + 1900;
  /* 2024-03-01T00:00:01 */
  two(ts3339, y / 100);
  two(ts3339 + 2, y % 100);
  ts3339[4] = '-';
  two(ts3339 + 5, tm.tm_mon + 1);
  ts3339[7] = '-';
  two(ts3339 + 8, tm.tm_mday);
  ts3339[10] = 'T';
  two(ts3339 + 11, tm.tm_hour);
  ts3339[13] = ':';
  two(ts3339 + 14, tm.tm_min);
  ts3339[16] = ':';
  two(ts3339 + 17, tm.tm_sec);
  memcpy(tsexim, ts3339, 19);
  tsexim[10] = ' ';
  /* Mar  1 00:00:01 (day padded with a space, like syslog's %e) */
  memcpy(ts3164, MONTHS[tm.tm_mon], 3);
  ts3164[3] = ' ';
  ts3164[4] = tm.tm_mday < 10 ? ' ' : (char)('0' + tm.tm_mday / 10);
  ts3164[5] = (char)('0' + tm.tm_mday % 10);
  ts3164[6] = ' ';
  memcpy(ts3164 + 7, ts3339 + 11, 8);
}

/* ------------------------------------------------------------ line frames */
static char *line_start;

static void room(void) {
  if (op > olimit)
    flush_out();
  line_start = op;
}

static void sys_begin(const char *prog, uint32_t pid) {
  room();
  refresh_time();
  if (prefix_3164) {
    put(ts3164, 15);
  } else {
    put(ts3339, 19);
    putch('.');
    put_u_pad((uint64_t)(now_us % 1000000), 6);
    PUTL("+00:00");
  }
  PUTL(" mail1 ");
  puts0(prog);
  if (pid) {
    putch('[');
    put_u(pid);
    putch(']');
  }
  PUTL(": ");
}

static void exim_begin(const char *id) {
  room();
  refresh_time();
  put(tsexim, 19);
  putch(' ');
  if (id) {
    puts0(id);
    putch(' ');
  }
}

static void end_line(int kind) {
  if ((size_t)(op - line_start) >= LINE_ROOM)
    abort(); /* a template outgrew LINE_ROOM: the buffer is already overrun */
  *op++ = '\n';
  n_kind[kind]++;
  n_lines++;
  now_us += below(900) + 1;
}

/* -------------------------------------------------------- Postfix programs */
enum {
  SVC_SMTPD, SVC_SUBM, SVC_CLEANUP, SVC_QMGR, SVC_SMTP, SVC_LMTP, SVC_LOCAL,
  SVC_BOUNCE, SVC_POSTSCREEN, SVC_ANVIL, SVC_SCACHE, SVC__N
};
static const char *const svc_name[SVC__N] = {
    "smtpd", "submission/smtpd", "cleanup", "qmgr", "smtp", "lmtp",
    "local", "bounce", "postscreen", "anvil", "scache"};
/* instance 0 is the default "postfix"; 1 is a second instance with
 * enable_long_queue_ids=yes, as multi-instance setups use for bulk mail */
static const char *const inst_name[2] = {"postfix", "postfix-out"};
static char prog_name[2][SVC__N][40];
static uint32_t pid_pool[2][SVC__N][4];

static uint32_t svc_pid(int inst, int svc) {
  if (svc == SVC_QMGR || svc == SVC_ANVIL || svc == SVC_SCACHE ||
      svc == SVC_POSTSCREEN)
    return pid_pool[inst][svc][0];
  return pid_pool[inst][svc][below(4)];
}

static void pf_begin(int inst, int svc, uint32_t pid) {
  sys_begin(prog_name[inst][svc], pid ? pid : svc_pid(inst, svc));
}

/* --------------------------------------------------------------- replies */
enum { F_SAID, F_REFUSED, F_CONNECT, F_LOST, F_DNS, F_TEXT };
enum { AT_RCPT, AT_MAIL, AT_DATA, AT_EOD, AT_GREET };

/* One remote (or local) outcome. dsn is what Postfix logs as dsn=; enh says
 * whether the reply text itself carries that enhanced code (Postfix logs a
 * generic X.0.0 when it does not, and Exim lines then have no code at all).
 * '|' in text separates the lines of a multi-line reply. */
typedef struct {
  const char *dsn;
  const char *code; /* SMTP reply code; for F_CONNECT the errno Exim shows */
  unsigned char form, at, enh;
  const char *text;
} reply_t;

#define GSMTP " %G - gsmtp"
static const reply_t gmail_sent[] = {
    {"2.0.0", "250", F_SAID, AT_EOD, 1, "OK  %T" GSMTP},
};
static const reply_t gmail_defer[] = {
    {"4.7.28", "421", F_SAID, AT_EOD, 1,
     "[%C      18] Our system has detected an unusual rate of|unsolicited mail "
     "originating from your IP address. To protect our|users from spam, mail "
     "sent from your IP address has been temporarily|rate limited. For more "
     "information, go to| https://support.google.com/mail/?p="
     "UnsolicitedRateLimitError to|review our Bulk Email Senders Guidelines."
     GSMTP},
    {"4.2.1", "450", F_SAID, AT_RCPT, 1,
     "The user you are trying to contact is receiving mail at a rate that|"
     "prevents additional messages from being delivered. Please resend your|"
     "message at a later time. If the user is able to receive mail at that|"
     "time, your message will be delivered. For more information, go to| "
     "https://support.google.com/mail/?p=ReceivingRate" GSMTP},
    {"4.2.2", "452", F_SAID, AT_RCPT, 1,
     "The email account that you tried to reach is over quota. Please direct|"
     "the recipient to| https://support.google.com/mail/?p=OverQuotaTemp"
     GSMTP},
};
static const reply_t gmail_bounce[] = {
    {"5.1.1", "550", F_SAID, AT_RCPT, 1,
     "The email account that you tried to reach does not exist. Please try|"
     "double-checking the recipient's email address for typos or|unnecessary "
     "spaces. For more information, go to| https://support.google.com/mail/"
     "?p=NoSuchUser" GSMTP},
    {"5.1.1", "550", F_SAID, AT_RCPT, 1,
     "The email account that you tried to reach does not exist. Please try|"
     "double-checking the recipient's email address for typos or|unnecessary "
     "spaces. For more information, go to| https://support.google.com/mail/"
     "?p=NoSuchUser" GSMTP},
    {"5.7.26", "550", F_SAID, AT_EOD, 1,
     "Unauthenticated email from %D is not accepted due to domain's|DMARC "
     "policy. Please contact the administrator of %D domain if|this was a "
     "legitimate mail. To learn about the DMARC initiative, go to| https://"
     "support.google.com/mail/?p=DmarcRejection" GSMTP},
    {"5.7.26", "550", F_SAID, AT_EOD, 1,
     "This mail has been blocked because the sender is unauthenticated.|Gmail "
     "requires all senders to authenticate with either SPF or DKIM.|| "
     "Authentication results:| DKIM = did not pass| SPF [%D] with ip: [%C] = "
     "did not pass|| For instructions on setting up authentication, go to| "
     "https://support.google.com/mail/answer/81126#authentication" GSMTP},
    {"5.7.1", "550", F_SAID, AT_EOD, 1,
     "[%C      12] Our system has detected that this message is|likely "
     "unsolicited mail. To reduce the amount of spam sent to Gmail,|this "
     "message has been blocked. For more information, go to| https://"
     "support.google.com/mail/?p=UnsolicitedMessageError" GSMTP},
    {"5.2.2", "552", F_SAID, AT_RCPT, 1,
     "The email account that you tried to reach is over quota and inactive.|"
     "Please direct the recipient to| https://support.google.com/mail/"
     "?p=OverQuotaPerm" GSMTP},
    {"5.7.1", "550", F_SAID, AT_RCPT, 1,
     "The user or domain that you are sending to (or from) has a policy that|"
     "prohibited the mail that you sent. Please contact your domain|"
     "administrator for further details. For more information, go to| "
     "https://support.google.com/a/answer/172179" GSMTP},
};

static const reply_t ms_sent[] = {
    {"2.6.0", "250", F_SAID, AT_EOD, 1,
     "<%M> [InternalId=%N%N, Hostname=%O] %N bytes in 0.%N, %N.%N KB/sec "
     "Queued mail for delivery"},
    {"2.6.0", "250", F_SAID, AT_EOD, 1,
     "<%M> [InternalId=%N%N, Hostname=%O] %N bytes in 0.%N, %N.%N KB/sec "
     "Queued mail for delivery -> 250 2.1.5"},
};
static const reply_t ms_defer[] = {
    {"4.7.650", "451", F_SAID, AT_RCPT, 1,
     "The mail server [%C] has been temporarily rate limited due to IP "
     "reputation. For e-mail delivery information, see https://"
     "postmaster.live.com (S775) [%O]"},
    {"4.7.500", "451", F_SAID, AT_MAIL, 1,
     "Server busy. Please try again later from [%C]. (S77719) [%O]"},
    {"4.4.316", "451", F_SAID, AT_EOD, 1,
     "Temporary server error. Please try again later. ATTR316 [%O]"},
};
static const reply_t ms_bounce[] = {
    {"5.5.0", "550", F_SAID, AT_RCPT, 1,
     "Requested action not taken: mailbox unavailable (S2017062302). [%O]"},
    {"5.4.1", "550", F_SAID, AT_RCPT, 1,
     "Recipient address rejected: Access denied. For more information see "
     "https://aka.ms/EXOSmtpErrors [%O]"},
    {"5.7.1", "550", F_SAID, AT_RCPT, 1,
     "Service unavailable, Client host [%C] blocked using Spamhaus. To "
     "request removal from this list see https://www.spamhaus.org/query/ip/"
     "%C (AS3130). [%O]"},
    {"5.7.515", "550", F_SAID, AT_EOD, 1,
     "Access denied, sending domain %D doesn't meet the required "
     "authentication level. The sender's domain in the 5322.From address "
     "doesn't meet the authentication requirements defined for the sender. "
     "To learn more, see https://go.microsoft.com/fwlink/?linkid=2223061 "
     "[%O]"},
    {"5.7.708", "550", F_SAID, AT_RCPT, 1,
     "Service unavailable. Access denied, traffic not accepted from this IP. "
     "For more information please go to http://go.microsoft.com/fwlink/"
     "?LinkId=526653 AS(7080) [%O]"},
    {"5.2.2", "552", F_SAID, AT_RCPT, 1,
     "Mailbox full. The recipient's mailbox has exceeded its storage limit. "
     "[%O]"},
};

static const reply_t yahoo_sent[] = {
    {"2.0.0", "250", F_SAID, AT_EOD, 0, "ok dirdel"},
};
static const reply_t yahoo_defer[] = {
    {"4.7.0", "421", F_SAID, AT_MAIL, 1,
     "[TSS04] Messages from %C temporarily deferred due to unexpected volume "
     "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/"
     "error-codes"},
    {"4.7.0", "421", F_REFUSED, AT_GREET, 1,
     "[TSS04] Messages from %C temporarily deferred due to unexpected volume "
     "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/"
     "error-codes"},
    {"4.0.0", "451", F_SAID, AT_EOD, 0,
     "Message temporarily deferred due to unresolvable RFC.5321 from domain; "
     "see https://postmaster.yahooinc.com/error-codes"},
};
static const reply_t yahoo_bounce[] = {
    {"5.7.9", "554", F_SAID, AT_EOD, 1,
     "Message not accepted for policy reasons.  See https://"
     "postmaster.yahooinc.com/error-codes"},
    {"5.0.0", "554", F_SAID, AT_RCPT, 0,
     "delivery error: dd This user doesn't have a %d account (%R) [0] - "
     "mta10%N.mail.bf2.yahoo.com"},
    {"5.0.0", "554", F_SAID, AT_RCPT, 0,
     "delivery error: dd Sorry your message to %R cannot be delivered. This "
     "mailbox is disabled (554.30). - mta12%N.mail.gq1.yahoo.com"},
    {"5.7.1", "553", F_REFUSED, AT_GREET, 1,
     "[BL21] Connections will not be accepted from %C, because the ip is in "
     "Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"},
};

static const reply_t gen_sent[] = {
    {"2.0.0", "250", F_SAID, AT_EOD, 1, "Ok: queued as %Q"},
    {"2.0.0", "250", F_SAID, AT_EOD, 1, "Ok: queued as %Q"},
    {"2.0.0", "250", F_SAID, AT_EOD, 0, "OK id=%E"},
    {"2.0.0", "250", F_SAID, AT_EOD, 1, "%Q Message accepted for delivery"},
    {"2.0.0", "250", F_SAID, AT_EOD, 0,
     "Requested mail action okay, completed: id=%X"},
    {"2.6.0", "250", F_SAID, AT_EOD, 1, "<%M> Queued mail for delivery"},
};
static const reply_t gen_defer[] = {
    {"4.2.0", "450", F_SAID, AT_RCPT, 1,
     "<%R>: Recipient address rejected: Greylisted, see http://"
     "postgrey.schweikert.ch/help/%d.html"},
    {"4.7.1", "451", F_SAID, AT_RCPT, 1,
     "Greylisting in action, please come back later"},
    {"4.7.0", "450", F_SAID, AT_RCPT, 1,
     "<%R>: Recipient address rejected: Greylisted for 300 seconds"},
    {"4.0.0", "451", F_SAID, AT_RCPT, 0,
     "Temporary local problem - please try later"},
    {"4.3.0", "451", F_SAID, AT_EOD, 1, "Error: queue file write error"},
    {"4.5.3", "452", F_SAID, AT_RCPT, 1, "Error: too many recipients"},
    {"4.2.2", "452", F_SAID, AT_RCPT, 1, "<%R>: Mailbox full"},
    {"4.7.0", "421", F_REFUSED, AT_GREET, 1,
     "%h Error: too many connections from %C"},
    {"4.3.2", "421", F_SAID, AT_MAIL, 1, "Service shutting down"},
};
static const reply_t gen_bounce[] = {
    {"5.1.1", "550", F_SAID, AT_RCPT, 1,
     "<%R>: Recipient address rejected: User unknown in virtual mailbox "
     "table"},
    {"5.1.1", "550", F_SAID, AT_RCPT, 1,
     "<%R>: Recipient address rejected: User unknown in local recipient "
     "table"},
    {"5.1.1", "550", F_SAID, AT_RCPT, 1, "<%R>... User unknown"},
    {"5.2.2", "552", F_SAID, AT_RCPT, 1,
     "<%R>: Recipient address rejected: Mailbox full"},
    {"5.7.1", "554", F_SAID, AT_RCPT, 1,
     "Service unavailable; Client host [%C] blocked using zen.spamhaus.org; "
     "https://www.spamhaus.org/query/ip/%C"},
    {"5.7.1", "554", F_REFUSED, AT_GREET, 1,
     "%h ESMTP not accepting messages from [%C]: blocked using "
     "bl.spamcop.net"},
    {"5.0.0", "550", F_SAID, AT_RCPT, 0,
     "Requested action not taken: mailbox unavailable"},
    {"5.0.0", "550", F_SAID, AT_RCPT, 0, "No such user here"},
    {"5.7.1", "550", F_SAID, AT_EOD, 1, "Message rejected as spam"},
    {"5.7.1", "554", F_SAID, AT_EOD, 1,
     "Message rejected due to content restrictions"},
    {"5.7.23", "550", F_SAID, AT_RCPT, 1,
     "<%S>: Sender address rejected: SPF check failed. Please see "
     "http://www.open-spf.org/Why;id=%S;ip=%C;r=%h"},
    {"5.4.1", "550", F_SAID, AT_RCPT, 1,
     "<%R>: Recipient address rejected: Access denied"},
    {"5.3.4", "552", F_SAID, AT_EOD, 1, "Message size exceeds fixed limit"},
    {"5.5.1", "554", F_SAID, AT_DATA, 1, "Error: no valid recipients"},
    {"5.4.4", "", F_DNS, AT_GREET, 0, "type=A: Host not found"},
};

/* Connectivity failures: what the still-deferred recipients of an expiring
 * message see, and part of every remote provider's deferrals. */
static const reply_t conn_defer[] = {
    {"4.4.1", "110", F_CONNECT, AT_GREET, 0, "Connection timed out"},
    {"4.4.1", "110", F_CONNECT, AT_GREET, 0, "Connection timed out"},
    {"4.4.1", "111", F_CONNECT, AT_GREET, 0, "Connection refused"},
    {"4.4.1", "113", F_CONNECT, AT_GREET, 0, "No route to host"},
    {"4.4.2", "-18", F_LOST, AT_GREET, 0, ""},
    {"4.4.3", "-1", F_DNS, AT_GREET, 0, "type=MX: Host not found, try again"},
};

/* Dovecot LMTP behind Postfix lmtp(8) */
static const reply_t lmtp_sent[] = {
    {"2.0.0", "250", F_SAID, AT_EOD, 1, "<%R> %B Saved"},
};
static const reply_t lmtp_defer[] = {
    {"4.2.2", "452", F_SAID, AT_EOD, 1,
     "<%R> Quota exceeded (mailbox for user is full)"},
    {"4.3.0", "451", F_SAID, AT_EOD, 1, "<%R> Temporary internal failure"},
};
static const reply_t lmtp_bounce[] = {
    {"5.1.1", "550", F_SAID, AT_RCPT, 1, "<%R> User doesn't exist: %R"},
    {"5.2.2", "552", F_SAID, AT_EOD, 1,
     "<%R> Quota exceeded (mailbox for user is full)"},
};
/* Postfix local(8); also Exim's appendfile for the Exim side */
static const reply_t local_sent[] = {
    {"2.0.0", "", F_TEXT, AT_EOD, 0, "delivered to mailbox"},
    {"2.0.0", "", F_TEXT, AT_EOD, 0, "delivered to command: /usr/bin/procmail"},
};
static const reply_t local_defer[] = {
    {"4.2.0", "-22", F_TEXT, AT_EOD, 0,
     "cannot update mailbox /var/mail/%U for user %U. unable to lock for "
     "exclusive access: Resource temporarily unavailable"},
};
static const reply_t local_bounce[] = {
    {"5.1.1", "", F_TEXT, AT_EOD, 0, "unknown user: \"%U\""},
    {"5.2.2", "", F_TEXT, AT_EOD, 0,
     "cannot update mailbox /var/mail/%U for user %U. error writing message: "
     "File too large"},
};
/* a relay host of our own (NDRs of the bulk instance go back through it) */
static const reply_t relay_sent[] = {
    {"2.0.0", "250", F_SAID, AT_EOD, 1, "Ok: queued as %Q"},
};

enum { PROV_GMAIL, PROV_MS, PROV_YAHOO, PROV_GENERIC, PROV_LOCAL, PROV_RELAY, PROV__N };

typedef struct {
  const reply_t *sent, *defer, *bounce;
  uint32_t nsent, ndefer, nbounce;
} provider_t;
static const provider_t providers[PROV__N] = {
    {gmail_sent, gmail_defer, gmail_bounce, ARRAY_LEN(gmail_sent),
     ARRAY_LEN(gmail_defer), ARRAY_LEN(gmail_bounce)},
    {ms_sent, ms_defer, ms_bounce, ARRAY_LEN(ms_sent), ARRAY_LEN(ms_defer),
     ARRAY_LEN(ms_bounce)},
    {yahoo_sent, yahoo_defer, yahoo_bounce, ARRAY_LEN(yahoo_sent),
     ARRAY_LEN(yahoo_defer), ARRAY_LEN(yahoo_bounce)},
    {gen_sent, gen_defer, gen_bounce, ARRAY_LEN(gen_sent),
     ARRAY_LEN(gen_defer), ARRAY_LEN(gen_bounce)},
    {lmtp_sent, lmtp_defer, lmtp_bounce, ARRAY_LEN(lmtp_sent),
     ARRAY_LEN(lmtp_defer), ARRAY_LEN(lmtp_bounce)},
    {relay_sent, relay_sent, relay_sent, 1, 1, 1},
};

/* ------------------------------------------------------------- addresses */
static const char *const first_names[] = {
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
    "trent", "victor", "walter", "yasmin", "zoe", "liam", "noah", "emma",
    "mia", "lucas", "sofia", "mateo", "chloe", "arjun", "priya", "wei",
    "mei", "hiro", "yuki", "omar", "fatima", "lars", "ingrid", "pierre",
    "amelie", "jonas", "lena", "marco", "giulia", "sean", "aoife", "tomasz"};
static const char *const last_names[] = {
    "smith", "jones", "garcia", "mueller", "rossi", "dubois", "kowalski",
    "nguyen", "tanaka", "kim", "silva", "novak", "jensen", "brown", "wilson",
    "taylor", "martin", "lee", "walker", "hall", "young", "king", "wright",
    "lopez", "hill", "scott", "green", "adams", "baker", "nelson", "oconnor",
    "schmidt", "fischer", "weber", "moreau", "bianchi", "santos", "sato"};
static const char *const roles[] = {"info", "sales", "support", "billing",
                                    "hr", "office", "admin", "contact",
                                    "team", "jobs", "press", "accounts"};
static const char *const gmail_doms[] = {"gmail.com", "gmail.com", "gmail.com",
                                         "googlemail.com"};
static const char *const ms_doms[] = {"outlook.com", "hotmail.com", "live.com",
                                      "hotmail.co.uk", "msn.com", "outlook.de",
                                      "hotmail.fr"};
static const char *const yahoo_doms[] = {"yahoo.com", "yahoo.com", "aol.com",
                                         "ymail.com", "yahoo.co.uk",
                                         "yahoo.fr"};
static const char *const dom_w1[] = {
    "acme", "bluefern", "northwind", "contoso", "fabrikam", "globex",
    "initech", "umbrella", "stark", "wayne", "tyrell", "cyberdyne", "hooli",
    "vandelay", "wonka", "piedpiper", "aperture", "soylent", "oceanic",
    "dunder", "gringotts", "oscorp", "monarch", "sterling", "prestige",
    "zenith", "lakeside", "redwood", "silverline", "harbor", "alpine",
    "meridian"};
static const char *const dom_w2[] = {
    "", "-logistics", "-labs", "-group", "-consulting", "-systems", "shop",
    "-media", "-bank", "-health", "-energy", "-travel", "-foods", "tech",
    "-law", "-realty"};
static const char *const dom_tld[] = {"com", "com", "net", "org", "de",
                                      "co.uk", "fr", "nl", "io", "com.au",
                                      "ca", "it", "es", "ch", "se", "pl"};
static const char *const mx_prefix[] = {"mx", "mx1", "mail", "smtp", "mx01",
                                        "inbound", "mx2", "mailgw"};
static const unsigned char ip_first[] = {
    5, 31, 37, 46, 62, 77, 78, 80, 81, 82, 85, 87, 88, 91, 93, 94, 95, 109,
    130, 134, 141, 145, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217};

static const char *const gmail_mx[] = {
    "gmail-smtp-in.l.google.com", "gmail-smtp-in.l.google.com",
    "alt1.gmail-smtp-in.l.google.com", "alt2.gmail-smtp-in.l.google.com"};
static const char *const gmail_ip4[] = {"142.250.153.27", "142.251.9.26",
                                        "74.125.133.27", "64.233.184.26",
                                        "173.194.76.27", "142.250.27.26"};
static const char *const gmail_ip6[] = {"2a00:1450:400c:c0b::1a",
                                        "2a00:1450:4013:c00::1b",
                                        "2607:f8b0:4004:c1b::1a"};
static const char *const yahoo_mx[] = {"mta5.am0.yahoodns.net",
                                       "mta6.am0.yahoodns.net",
                                       "mta7.am0.yahoodns.net"};
static const char *const yahoo_ip[] = {"67.195.204.72", "98.136.96.74",
                                       "67.195.228.106", "98.136.96.91"};

/* An address with what delivering to it needs, and (as a recipient) its
 * planned fate: `defers` deferrals, then `fate` on the next attempt. */
struct addr {
  char a[80];
  char orig[48];
  char host[80];
  char ip[40];
  unsigned char alen, olen, at, prov;
  unsigned char svc; /* PROV_LOCAL: SVC_LMTP or SVC_LOCAL */
  unsigned char defers, fate, done;
  unsigned char defer_reply; /* index into the deferral table, kept */
  unsigned char conn_fail;   /* defers are connectivity failures */
};

static int clampn(int n, size_t cap) {
  if (n < 0)
    return 0;
  return (size_t)n >= cap ? (int)cap - 1 : n;
}

static int gen_localpart(char *d, size_t cap) {
  const char *f = PICK(first_names), *l = PICK(last_names);
  switch (below(7)) {
  case 0: case 1:
    return clampn(snprintf(d, cap, "%s.%s", f, l), cap);
  case 2:
    return clampn(snprintf(d, cap, "%c%s", f[0], l), cap);
  case 3:
    return clampn(snprintf(d, cap, "%s%u", f, (unsigned)below(2000)), cap);
  case 4:
    return clampn(snprintf(d, cap, "%s_%s%u", f, l, (unsigned)below(100)),
                  cap);
  case 5:
    return clampn(snprintf(d, cap, "%s", PICK(roles)), cap);
  default:
    return clampn(snprintf(d, cap, "%s", f), cap);
  }
}

static void set_addr(struct addr *x, const char *lp, int lplen,
                     const char *dom) {
  int n = clampn(snprintf(x->a, sizeof x->a, "%.*s@%s", lplen, lp, dom),
                 sizeof x->a);
  x->alen = (unsigned char)n;
  x->at = (unsigned char)lplen;
}

/* a generic domain by index; low indices are drawn more often, like real
 * traffic where a few partner domains dominate */
static uint32_t generic_dom(char *d, size_t cap) {
  uint32_t total = (uint32_t)(ARRAY_LEN(dom_w1) * ARRAY_LEN(dom_w2) *
                              ARRAY_LEN(dom_tld));
  uint32_t i = below(below(total) + 1);
  snprintf(d, cap, "%s%s.%s", dom_w1[i % ARRAY_LEN(dom_w1)],
           dom_w2[(i / ARRAY_LEN(dom_w1)) % ARRAY_LEN(dom_w2)],
           dom_tld[(i / (ARRAY_LEN(dom_w1) * ARRAY_LEN(dom_w2))) %
                   ARRAY_LEN(dom_tld)]);
  return i;
}

static void ip_for(char *d, size_t cap, uint32_t i) {
  uint32_t h = i * 2654435761u ^ 0x5bd1e995u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  snprintf(d, cap, "%u.%u.%u.%u", (unsigned)ip_first[h % ARRAY_LEN(ip_first)],
           (unsigned)((h >> 8) & 255), (unsigned)((h >> 16) & 255),
           (unsigned)(1 + ((h >> 24) % 254)));
}

/* a random remote address; its provider decides the MX and reply styles */
static void addr_remote(struct addr *x) {
  char lp[48], dom[48];
  int lplen = gen_localpart(lp, sizeof lp);
  uint32_t p = below(100);
  memset(x, 0, sizeof *x);
  if (p < 35) {
    x->prov = PROV_GMAIL;
    snprintf(dom, sizeof dom, "%s", PICK(gmail_doms));
    snprintf(x->host, sizeof x->host, "%s", PICK(gmail_mx));
    if (pct(20))
      snprintf(x->ip, sizeof x->ip, "%s", PICK(gmail_ip6));
    else
      snprintf(x->ip, sizeof x->ip, "%s", PICK(gmail_ip4));
  } else if (p < 55) {
    x->prov = PROV_MS;
    if (p < 47) {
      snprintf(dom, sizeof dom, "%s", PICK(ms_doms));
      char dash[48];
      snprintf(dash, sizeof dash, "%s", dom);
      for (char *c = dash; *c; c++)
        if (*c == '.')
          *c = '-';
      snprintf(x->host, sizeof x->host, "%s.olc.protection.outlook.com",
               dash);
    } else { /* Microsoft 365 hosted company domain */
      generic_dom(dom, sizeof dom);
      char dash[48];
      snprintf(dash, sizeof dash, "%s", dom);
      for (char *c = dash; *c; c++)
        if (*c == '.')
          *c = '-';
      snprintf(x->host, sizeof x->host, "%s.mail.protection.outlook.com",
               dash);
    }
    snprintf(x->ip, sizeof x->ip, "%s.%u.%u", pct(50) ? "52.101" : "104.47",
             (unsigned)below(256), (unsigned)(1 + below(254)));
  } else if (p < 65) {
    x->prov = PROV_YAHOO;
    snprintf(dom, sizeof dom, "%s", PICK(yahoo_doms));
    snprintf(x->host, sizeof x->host, "%s", PICK(yahoo_mx));
    snprintf(x->ip, sizeof x->ip, "%s", PICK(yahoo_ip));
  } else {
    x->prov = PROV_GENERIC;
    uint32_t i = generic_dom(dom, sizeof dom);
    snprintf(x->host, sizeof x->host, "%s.%s",
             mx_prefix[i % ARRAY_LEN(mx_prefix)], dom);
    ip_for(x->ip, sizeof x->ip, i);
  }
  set_addr(x, lp, lplen, dom);
}

/* a user of our own domain (delivered locally) */
static void addr_local(struct addr *x, const char *dom, int with_orig) {
  char lp[48];
  memset(x, 0, sizeof *x);
  int lplen = clampn(
      snprintf(lp, sizeof lp, "%s.%s", PICK(first_names), PICK(last_names)),
      sizeof lp);
  set_addr(x, lp, lplen, dom);
  x->prov = PROV_LOCAL;
  x->svc = pct(80) ? SVC_LMTP : SVC_LOCAL;
  snprintf(x->host, sizeof x->host, "mail.%s", dom);
  snprintf(x->ip, sizeof x->ip, "private/dovecot-lmtp");
  if (with_orig && pct(12))
    x->olen = (unsigned char)clampn(
        snprintf(x->orig, sizeof x->orig, "%s@%s", PICK(roles), dom),
        sizeof x->orig);
}

/* Plan a recipient's fate: ~90 % sent at once, 5 % deferred 1-3 times then
 * sent/bounced/expired (7:2:1), 4.5 % bounced at once, 0.5 % deferred then
 * expired. Local mailboxes do not expire (they bounce instead); our own
 * relay always accepts. */
static void plan(struct addr *r) {
  uint32_t x = below(1000);
  r->done = 0;
  r->defers = 0;
  r->fate = FATE_SENT;
  r->conn_fail = 0;
  if (r->prov == PROV_RELAY) {
    /* sent at once */
  } else if (x < 900) {
    /* sent at once */
  } else if (x < 950) {
    r->defers = (unsigned char)(1 + below(3));
    uint32_t y = below(10);
    r->fate = y < 7 ? FATE_SENT : y < 9 ? FATE_BOUNCED : FATE_EXPIRED;
  } else if (x < 995) {
    r->fate = FATE_BOUNCED;
  } else {
    r->defers = (unsigned char)(1 + below(3));
    r->fate = FATE_EXPIRED;
  }
  if (r->prov == PROV_LOCAL && r->fate == FATE_EXPIRED)
    r->fate = FATE_BOUNCED;
  const provider_t *pv = &providers[r->prov];
  if (r->fate == FATE_EXPIRED ||
      (r->prov <= PROV_GENERIC && r->defers && pct(30))) {
    r->conn_fail = 1;
    r->defer_reply = (unsigned char)below((uint32_t)ARRAY_LEN(conn_defer));
  } else {
    r->defer_reply = (unsigned char)below(pv->ndefer);
  }
}

/* ---------------------------------------------------------------- messages */
enum { MTA_POSTFIX, MTA_EXIM };
enum { MK_NORMAL, MK_NDR, MK_REJECT };
enum { VIA_SUBMISSION, VIA_APP, VIA_INBOUND, VIA_LOCAL };
enum {
  PF_CONNECT, PF_CLIENT, PF_CLEANUP, PF_QMGR, PF_DISCONNECT, PF_ATTEMPT,
  PF_REMOVED, PF_REJ_REJECT, PF_REJ_DISCONNECT,
  EX_ARRIVE, EX_ATTEMPT
};

#define MAXR 6
struct msg {
  unsigned char mta, kind, inst, via, step, attempt, nrcpt, expire_at;
  unsigned char idlen, midlen, long_ids;
  char id[32];
  char parent[32];
  char mid[112];
  char chost[80]; /* client host name, "unknown" when no PTR */
  char cip[40];
  char helo[80];
  uint32_t size, smtpd_pid, port;
  uint32_t sdom; /* sender-domain slot + 1 (final outcomes); 0: not yet */
  int64_t t_arrive;
  struct addr from; /* from.alen == 0 is the null sender <> */
  struct addr r[MAXR];
  struct msg *next_free;
};

static struct msg *free_msgs;
static struct msg *msg_new(void) {
  struct msg *m = free_msgs;
  if (m)
    free_msgs = m->next_free;
  else if (!(m = malloc(sizeof *m))) {
    perror("bw_gen_logs: malloc");
    exit(1);
  }
  memset(m, 0, offsetof(struct msg, r));
  m->expire_at = 255; /* no message-wide expiry unless planned */
  return m;
}
static void msg_free(struct msg *m) {
  m->next_free = free_msgs;
  free_msgs = m;
}

/* ----------------------------------------------------------- event heap */
typedef struct {
  int64_t t;
  uint64_t seq;
  struct msg *m;
} ev_t;
static ev_t *heap;
static size_t hn, hcap;
static uint64_t hseq;

static int ev_less(const ev_t *a, const ev_t *b) {
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void schedule(struct msg *m, int step, int64_t delay_us) {
  m->step = (unsigned char)step;
  if (hn == hcap) {
    hcap = hcap ? hcap * 2 : 1024;
    heap = realloc(heap, hcap * sizeof *heap);
    if (!heap) {
      perror("bw_gen_logs: realloc");
      exit(1);
    }
  }
  ev_t e = {now_us + delay_us, hseq++, m};
  size_t i = hn++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!ev_less(&e, &heap[p]))
      break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = e;
}

static ev_t heap_pop(void) {
  ev_t top = heap[0], last = heap[--hn];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= hn)
      break;
    if (c + 1 < hn && ev_less(&heap[c + 1], &heap[c]))
      c++;
    if (!ev_less(&heap[c], &last))
      break;
    heap[i] = heap[c];
    i = c;
  }
  if (hn)
    heap[i] = last;
  return top;
}

/* ------------------------------------------------------------ identifiers */
static uint64_t inode_ctr = 0x1A2B3Cu;
static uint64_t exim_ctr = 4000;

/* Postfix short id: %05X microseconds + %lX inode; unique since the inode
 * counter only grows (real Postfix recycles them; see tech notes 6.2). */
static void pf_short_id(struct msg *m) {
  char *d = m->id;
  uint32_t us = (uint32_t)(now_us % 1000000);
  for (int i = 4; i >= 0; i--) {
    d[i] = HEXU[us & 15];
    us >>= 4;
  }
  inode_ctr += 1 + below(40);
  char t[16];
  int n = 0;
  for (uint64_t v = inode_ctr; v; v >>= 4)
    t[n++] = HEXU[v & 15];
  for (int i = 0; i < n; i++)
    d[5 + i] = t[n - 1 - i];
  m->idlen = (unsigned char)(5 + n);
  d[m->idlen] = 0;
}

/* Postfix long id: base-52 seconds, 4 base-52 microsecond digits, 'z',
 * base-51 inode; the alphabet has no vowels (and no 'z' in the inode). */
static const char LONGID[] = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
static void pf_long_id(struct msg *m) {
  char t[16], *d = m->id;
  int n = 0;
  uint64_t v = (uint64_t)(BASE_EPOCH + now_us / 1000000);
  for (; v; v /= 52)
    t[n++] = LONGID[v % 52];
  int k = 0;
  for (int i = n - 1; i >= 0; i--)
    d[k++] = t[i];
  v = (uint64_t)(now_us % 1000000);
  for (int i = 3; i >= 0; i--) {
    d[k + i] = LONGID[v % 52];
    v /= 52;
  }
  k += 4;
  d[k++] = 'z';
  inode_ctr += 1 + below(40);
  n = 0;
  for (v = inode_ctr; v; v /= 51)
    t[n++] = LONGID[v % 51];
  for (int i = n - 1; i >= 0; i--)
    d[k++] = t[i];
  d[k] = 0;
  m->idlen = (unsigned char)k;
}

static int b62(char *d, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; i--) {
    d[i] = B62[v % 62];
    v /= 62;
  }
  return width;
}

/* Exim ids: 16 chars before 4.97 (TTTTTT-PPPPPP-SS), 23 chars since
 * (TTTTTT-PPPPPPPPPPP-SSSS); the pid part is a counter, so ids are unique. */
static void exim_id(char *d, unsigned char *len, int new_form) {
  uint64_t sec = (uint64_t)(BASE_EPOCH + now_us / 1000000);
  int k = b62(d, sec, 6);
  d[k++] = '-';
  exim_ctr += 1 + below(30);
  k += b62(d + k, exim_ctr, new_form ? 11 : 6);
  d[k++] = '-';
  uint64_t frac = (uint64_t)(now_us % 1000000);
  if (new_form)
    k += b62(d + k, frac * 14776336u / 1000000u, 4);
  else
    k += b62(d + k, frac / 500000u, 2);
  d[k] = 0;
  *len = (unsigned char)k;
}

static const char PF_LOCAL_DOM[] = "example.net";
static const char EX_LOCAL_DOM[] = "example.org";
static const char PF_OUR_IP[] = "203.0.113.25";
static const char EX_OUR_IP[] = "198.51.100.25";

/* ------------------------------------------------------ template expansion */
struct ctx {
  const struct msg *m;
  const struct addr *r;
};

static void put_domain_of(const struct addr *x) {
  if (x->alen)
    put(x->a + x->at + 1, (size_t)(x->alen - x->at - 1));
  else
    PUTL("example.net");
}

/* %R rcpt, %U its local part, %d its domain, %S sender, %D sender domain,
 * %h relay host, %C our public IP, %G a Gmail trace token, %T unix time,
 * %N a number, %X hex, %Q a Postfix id, %E an Exim id, %M the Message-ID,
 * %B a Dovecot GUID, %O an Exchange Online server name */
static void expand(const char *s, const char *e, const struct ctx *c) {
  while (s < e) {
    const char *p = memchr(s, '%', (size_t)(e - s));
    if (!p) {
      put(s, (size_t)(e - s));
      return;
    }
    put(s, (size_t)(p - s));
    if (p + 1 >= e)
      return;
    switch (p[1]) {
    case 'R':
      put(c->r->a, c->r->alen);
      break;
    case 'U':
      put(c->r->a, c->r->at);
      break;
    case 'd':
      put_domain_of(c->r);
      break;
    case 'S':
      put(c->m->from.a, c->m->from.alen);
      break;
    case 'D':
      put_domain_of(&c->m->from);
      break;
    case 'h':
      puts0(c->r->host);
      break;
    case 'C':
      puts0(c->m->mta == MTA_EXIM ? EX_OUR_IP : PF_OUR_IP);
      break;
    case 'G':
      put_rand(ALNUM, 26, 1);
      put_u(below(90) + 10);
      PUTL("-20020a05600c");
      put_rand(ALNUM + 26, 10, 4);
      put_rand(ALNUM, 6, 4);
      PUTL("si");
      put_u(below(9000000) + 1000000);
      putch('.');
      put_u(below(900) + 100);
      break;
    case 'T':
      put_u((uint64_t)(BASE_EPOCH + now_us / 1000000));
      break;
    case 'N':
      put_u(below(99999) + 1);
      break;
    case 'X':
      put_rand(HEXU, 16, 10);
      break;
    case 'Q':
      put_rand(HEXU, 16, 10 + (int)below(3));
      break;
    case 'E': {
      char id[32];
      unsigned char l;
      uint64_t save = exim_ctr;
      exim_ctr = rnd() % 10000000u;
      exim_id(id, &l, 0);
      exim_ctr = save;
      put(id, l);
      break;
    }
    case 'M':
      put(c->m->mid, c->m->midlen);
      break;
    case 'B':
      put_rand(B64, 64, 22);
      break;
    case 'O':
      PUTL("DM6PR");
      put_u_pad(below(100), 2);
      PUTL("MB");
      put_u_pad(below(10000), 4);
      PUTL(".namprd");
      put_u_pad(below(20), 2);
      PUTL(".prod.outlook.com");
      break;
    default:
      put(p, 2);
      break;
    }
    s = p + 2;
  }
}

static void put_reply(const reply_t *rp, int exim, const struct ctx *c) {
  if (rp->form == F_TEXT) {
    expand(rp->text, rp->text + strlen(rp->text), c);
    return;
  }
  const char *t = rp->text;
  for (;;) {
    const char *bar = strchr(t, '|');
    const char *end = bar ? bar : t + strlen(t);
    puts0(rp->code);
    putch(bar ? '-' : ' ');
    if (rp->enh) {
      puts0(rp->dsn);
      putch(' ');
    }
    expand(t, end, c);
    if (!bar)
      break;
    if (exim)
      PUTL("\\n");
    else
      putch(' ');
    t = bar + 1;
  }
}

/* --------------------------------------------------- Postfix delivery lines */
/* Postfix prints delays with two significant digits, whole seconds above
 * 10 s, and "0" below 10 ms (log_adhoc.c). */
static void put_delay(int64_t us) {
  if (us < 10000) {
    putch('0');
  } else if (us < 100000) {
    PUTL("0.0");
    putch((char)('0' + us / 10000));
  } else if (us < 1000000) {
    int cs = (int)(us / 10000);
    PUTL("0.");
    putch((char)('0' + cs / 10));
    if (cs % 10)
      putch((char)('0' + cs % 10));
  } else if (us < 10000000) {
    int ds = (int)(us / 100000);
    putch((char)('0' + ds / 10));
    if (ds % 10) {
      putch('.');
      putch((char)('0' + ds % 10));
    }
  } else {
    put_u((uint64_t)(us / 1000000));
  }
}

static const char *const pf_stage[] = {"RCPT TO", "MAIL FROM", "DATA",
                                       "end of DATA", ""};

static void count_delivery(int status, int dc) {
  n_status[status]++;
  n_dsn[dc]++;
}

/* Final outcomes per sender domain: the part after the last '@' of the
 * envelope sender exactly as the log shows it (qmgr from=<...>, Exim
 * <= sender), lowercased. An open-addressing table of slots; each message
 * looks its domain up once and keeps the slot, so a recipient costs O(1). */
#define SDOM_MAX 96
struct sdom {
  char name[SDOM_MAX];
  size_t len;
  uint64_t n[3];
};
static struct sdom *sdoms;
static uint32_t n_sdoms, sdoms_cap;
static uint32_t *sdom_tab; /* slot + 1; 0 is empty */
static uint32_t sdom_tab_cap; /* a power of two */

static uint32_t sdom_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) {
    perror("bw_gen_logs: realloc");
    exit(1);
  }
  return q;
}

static void sdom_grow_tab(void) {
  uint32_t cap = sdom_tab_cap ? sdom_tab_cap * 2 : 1024;
  uint32_t *t = calloc(cap, sizeof *t);
  if (!t) {
    perror("bw_gen_logs: calloc");
    exit(1);
  }
  for (uint32_t i = 0; i < n_sdoms; i++) {
    uint32_t j = sdom_hash(sdoms[i].name, sdoms[i].len) & (cap - 1);
    while (t[j])
      j = (j + 1) & (cap - 1);
    t[j] = i + 1;
  }
  free(sdom_tab);
  sdom_tab = t;
  sdom_tab_cap = cap;
}

/* the slot (+ 1) of the sender domain of m; m->from is never <> here */
static uint32_t sdom_slot(const struct msg *m) {
  const char *a = m->from.a;
  size_t n = m->from.alen, at = n;
  while (at > 0 && a[at - 1] != '@')
    at--;
  if (at == 0) {
    fprintf(stderr, "bw_gen_logs: customer sender without '@': %.*s\n",
            (int)n, a);
    abort();
  }
  char key[SDOM_MAX];
  size_t len = n - at;
  if (len >= SDOM_MAX)
    abort(); /* addr.a is shorter than SDOM_MAX */
  for (size_t i = 0; i < len; i++) {
    char c = a[at + i];
    key[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
  }
  if ((n_sdoms + 1) * 2 > sdom_tab_cap)
    sdom_grow_tab();
  uint32_t j = sdom_hash(key, len) & (sdom_tab_cap - 1);
  for (; sdom_tab[j]; j = (j + 1) & (sdom_tab_cap - 1)) {
    const struct sdom *d = &sdoms[sdom_tab[j] - 1];
    if (d->len == len && !memcmp(d->name, key, len))
      return sdom_tab[j];
  }
  if (n_sdoms == sdoms_cap) {
    sdoms_cap = sdoms_cap ? sdoms_cap * 2 : 256;
    sdoms = xrealloc(sdoms, sdoms_cap * sizeof *sdoms);
  }
  struct sdom *d = &sdoms[n_sdoms++];
  memcpy(d->name, key, len);
  d->name[len] = 0;
  d->len = len;
  memset(d->n, 0, sizeof d->n);
  sdom_tab[j] = n_sdoms;
  return n_sdoms;
}

static void final_outcome(struct msg *m, int fate) {
  if (m->kind != MK_NORMAL)
    return;
  n_final[fate]++;
  if (!m->sdom)
    m->sdom = sdom_slot(m);
  sdoms[m->sdom - 1].n[fate]++;
}

static void pf_tls_line(const struct msg *m, const struct addr *r,
                        uint32_t pid) {
  pf_begin(m->inst, SVC_SMTP, pid);
  puts0(r->prov == PROV_GENERIC && pct(40) ? "Untrusted" : "Trusted");
  PUTL(" TLS connection established to ");
  puts0(r->host);
  putch('[');
  puts0(r->ip);
  PUTL("]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) "
       "key-exchange X25519 server-signature RSA-PSS (2048 bits) "
       "server-digest SHA256");
  end_line(K_MTA_OTHER);
}

/* QID: to=<r>, [orig_to=<o>, ]relay=..., [conn_use=N, ]delay=, delays=,
 * dsn=, status=S (text) */
static void pf_delivery(struct msg *m, struct addr *r, int status,
                        const reply_t *rp, int suspended, uint32_t pid) {
  int svc = r->prov == PROV_LOCAL ? r->svc : SVC_SMTP;
  struct ctx c = {m, r};
  pf_begin(m->inst, svc, pid);
  put(m->id, m->idlen);
  PUTL(": to=<");
  put(r->a, r->alen);
  PUTL(">, ");
  if (r->olen) {
    PUTL("orig_to=<");
    put(r->orig, r->olen);
    PUTL(">, ");
  }
  PUTL("relay=");
  int none = suspended || rp->form == F_CONNECT || rp->form == F_DNS;
  if (none) {
    PUTL("none");
  } else if (svc == SVC_LOCAL) {
    PUTL("local");
  } else if (svc == SVC_LMTP) {
    puts0(r->host);
    putch('[');
    puts0(r->ip);
    putch(']');
  } else {
    puts0(r->host);
    putch('[');
    puts0(r->ip);
    PUTL("]:25");
  }
  if (status == S_SENT && svc == SVC_SMTP && pct(15)) {
    PUTL(", conn_use=");
    put_u(2 + below(8));
  }
  /* delays=a/b/c/d: before qmgr, in qmgr, connection setup, transmission */
  int64_t a = 10000 + below(400000), cst = none ? 0 : 5000 + below(300000),
          tx = none ? 0 : 3000 + below(900000);
  int64_t b = now_us - m->t_arrive - a - cst - tx;
  if (b < 0)
    b = below(20000);
  PUTL(", delay=");
  put_delay(a + b + cst + tx);
  PUTL(", delays=");
  put_delay(a);
  putch('/');
  put_delay(b);
  putch('/');
  put_delay(cst);
  putch('/');
  put_delay(tx);
  PUTL(", dsn=");
  puts0(rp->dsn);
  PUTL(", status=");
  puts0(status == S_SENT ? "sent" : status == S_DEFERRED ? "deferred"
                                                          : "bounced");
  PUTL(" (");
  if (suspended)
    PUTL("delivery temporarily suspended: ");
  switch (rp->form) {
  case F_SAID:
    PUTL("host ");
    puts0(r->host);
    putch('[');
    puts0(r->ip);
    PUTL("] said: ");
    put_reply(rp, 0, &c);
    PUTL(" (in reply to ");
    puts0(pf_stage[rp->at]);
    PUTL(" command)");
    break;
  case F_REFUSED:
    PUTL("host ");
    puts0(r->host);
    putch('[');
    puts0(r->ip);
    PUTL("] refused to talk to me: ");
    put_reply(rp, 0, &c);
    break;
  case F_CONNECT:
    PUTL("connect to ");
    puts0(r->host);
    putch('[');
    puts0(r->ip);
    PUTL("]:25: ");
    puts0(rp->text);
    break;
  case F_LOST:
    PUTL("lost connection with ");
    puts0(r->host);
    putch('[');
    puts0(r->ip);
    PUTL("] while receiving the initial server greeting");
    break;
  case F_DNS:
    PUTL("Host or domain name not found. Name service error for name=");
    put_domain_of(r);
    putch(' ');
    puts0(rp->text);
    break;
  default:
    put_reply(rp, 0, &c);
    break;
  }
  putch(')');
  end_line(K_DELIVERY);
  count_delivery(status, dsn_class(rp->dsn[0]));
}

/* ----------------------------------------------------- Exim delivery lines */
static const char *const ex_defer_errno[] = {"-44", "-45", "-46", "-46",
                                             "-46"};

static void ex_after(const struct msg *m, const struct addr *r, int at) {
  PUTL("SMTP error from remote mail server after ");
  switch (at) {
  case AT_RCPT:
    if (pct(20))
      PUTL("pipelined ");
    PUTL("RCPT TO:<");
    put(r->a, r->alen);
    putch('>');
    break;
  case AT_MAIL:
    PUTL("MAIL FROM:<");
    put(m->from.a, m->from.alen);
    PUTL("> SIZE=");
    put_u(m->size);
    break;
  case AT_DATA:
    PUTL("DATA");
    break;
  case AT_EOD:
    PUTL("end of data");
    break;
  default:
    PUTL("initial connection");
    break;
  }
  PUTL(": ");
}

static void ex_host(const struct addr *r) {
  PUTL("H=");
  puts0(r->host);
  PUTL(" [");
  puts0(r->ip);
  putch(']');
}

static void ex_flag_addr(const struct msg *m, const char *flag,
                         const struct addr *r) {
  exim_begin(m->id);
  puts0(flag);
  putch(' ');
  if (r->prov == PROV_LOCAL) {
    put(r->a, r->at);
    PUTL(" <");
    put(r->a, r->alen);
    putch('>');
  } else {
    put(r->a, r->alen);
  }
}

static void ex_router(const struct addr *r) {
  if (r->prov == PROV_LOCAL)
    PUTL(" R=local_user T=mail_spool");
  else
    PUTL(" R=dnslookup T=remote_smtp");
}

static void ex_sent(struct msg *m, struct addr *r, int same_txn,
                    const reply_t *rp) {
  struct ctx c = {m, r};
  ex_flag_addr(m, same_txn ? "->" : "=>", r);
  ex_router(r);
  if (r->prov != PROV_LOCAL) {
    putch(' ');
    ex_host(r);
    if (!same_txn && pct(10))
      putch('*');
    PUTL(" X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"");
    put_reply(rp, 1, &c);
    putch('"');
  }
  end_line(K_DELIVERY);
  count_delivery(S_SENT, DC_NONE);
}

/* == deferral. `suspended`: the host is known down, no new attempt */
static void ex_defer(struct msg *m, struct addr *r, const reply_t *rp,
                     int suspended) {
  struct ctx c = {m, r};
  int dc = DC_NONE;
  if (!suspended && rp->form == F_CONNECT) {
    /* Exim notes the host failure on its own line first */
    exim_begin(m->id);
    ex_host(r);
    putch(' ');
    puts0(rp->text);
    end_line(K_MTA_OTHER);
  }
  ex_flag_addr(m, "==", r);
  if (suspended) {
    ex_router(r);
    PUTL(" defer (-53): retry time not reached for any host for '");
    put_domain_of(r);
    putch('\'');
  } else if (rp->form == F_DNS) {
    PUTL(" R=dnslookup defer (-1): host lookup did not complete");
  } else if (rp->form == F_CONNECT) {
    ex_router(r);
    PUTL(" defer (");
    puts0(rp->code);
    PUTL("): ");
    puts0(rp->text);
  } else if (rp->form == F_LOST) {
    ex_router(r);
    PUTL(" defer (-18) ");
    ex_host(r);
    PUTL(": Remote host closed connection in response to initial connection");
  } else if (rp->form == F_TEXT) {
    ex_router(r);
    PUTL(" defer (-22): mailbox is full (MTA-imposed quota exceeded while "
         "writing to /var/mail/");
    put(r->a, r->at);
    putch(')');
  } else {
    ex_router(r);
    PUTL(" defer (");
    puts0(ex_defer_errno[rp->at]);
    PUTL(") ");
    ex_host(r);
    PUTL(": ");
    ex_after(m, r, rp->form == F_REFUSED ? AT_GREET : rp->at);
    put_reply(rp, 1, &c);
    if (rp->enh)
      dc = dsn_class(rp->dsn[0]);
  }
  end_line(K_DELIVERY);
  count_delivery(S_DEFERRED, dc);
}

static void ex_bounce(struct msg *m, struct addr *r, const reply_t *rp) {
  struct ctx c = {m, r};
  int dc = DC_NONE;
  if (rp->form == F_DNS) {
    exim_begin(m->id);
    PUTL("** ");
    put(r->a, r->alen);
    PUTL(": Unrouteable address");
  } else if (rp->form == F_TEXT) {
    ex_flag_addr(m, "**", r);
    ex_router(r);
    PUTL(": mailbox is full (MTA-imposed quota exceeded while writing to "
         "/var/mail/");
    put(r->a, r->at);
    putch(')');
  } else {
    ex_flag_addr(m, "**", r);
    ex_router(r);
    putch(' ');
    ex_host(r);
    PUTL(": ");
    ex_after(m, r, rp->form == F_REFUSED ? AT_GREET : rp->at);
    put_reply(rp, 1, &c);
    if (rp->enh)
      dc = dsn_class(rp->dsn[0]);
  }
  end_line(K_DELIVERY);
  count_delivery(S_BOUNCED, dc);
}

static void ex_expire(struct msg *m, struct addr *r) {
  ex_flag_addr(m, "**", r);
  ex_router(r);
  if (pct(70)) {
    PUTL(": retry timeout exceeded");
  } else {
    PUTL(": all hosts for '");
    put_domain_of(r);
    PUTL("' have been failing for a long time (and retry time not "
         "reached)");
  }
  end_line(K_DELIVERY);
  count_delivery(S_EXPIRED, DC_NONE);
}

/* ---------------------------------------------------------- reply choice */
static const reply_t *pick_sent(const struct addr *r) {
  if (r->prov == PROV_LOCAL && r->svc == SVC_LOCAL)
    return &PICK(local_sent);
  const provider_t *pv = &providers[r->prov];
  return &pv->sent[below(pv->nsent)];
}

static const reply_t *pick_defer(const struct addr *r) {
  if (r->conn_fail)
    return &conn_defer[r->defer_reply];
  if (r->prov == PROV_LOCAL && r->svc == SVC_LOCAL)
    return &local_defer[0];
  const provider_t *pv = &providers[r->prov];
  return &pv->defer[r->defer_reply % pv->ndefer];
}

static const reply_t *pick_bounce(const struct addr *r, int exim) {
  if (r->prov == PROV_LOCAL && (r->svc == SVC_LOCAL || exim))
    return &PICK(local_bounce);
  const provider_t *pv = &providers[r->prov];
  return &pv->bounce[below(pv->nbounce)];
}

/* ----------------------------------------------------------- noise lines */
static void other_dovecot_lmtp(const struct msg *m, const struct addr *r) {
  sys_begin("dovecot", 0);
  PUTL("lmtp(");
  put(r->a, r->alen);
  PUTL(")<");
  put_u(20000 + below(9000));
  PUTL("><");
  put_rand(B64, 62, 22);
  PUTL(">: msgid=<");
  put(m->mid, m->midlen);
  PUTL(">: saved mail to INBOX");
  end_line(K_OTHER);
}

static void rand_ip(char *d, size_t cap) {
  snprintf(d, cap, "%u.%u.%u.%u", (unsigned)ip_first[below(ARRAY_LEN(ip_first))],
           (unsigned)below(256), (unsigned)below(256),
           (unsigned)(1 + below(254)));
}

static void noise_syslog(void) {
  char ip[40];
  rand_ip(ip, sizeof ip);
  uint32_t k = below(100);
  if (k < 30) {
    sys_begin("dovecot", 0);
    const char *f = PICK(first_names), *l = PICK(last_names);
    if (pct(50)) {
      PUTL("imap-login: Login: user=<");
      puts0(f);
      putch('.');
      puts0(l);
      PUTL("@example.net>, method=PLAIN, rip=");
      puts0(ip);
      PUTL(", lip=203.0.113.25, mpid=");
      put_u(20000 + below(9000));
      PUTL(", TLS, session=<");
      put_rand(B64, 64, 16);
      putch('>');
    } else {
      PUTL("imap(");
      puts0(f);
      putch('.');
      puts0(l);
      PUTL("@example.net)<");
      put_u(20000 + below(9000));
      PUTL("><");
      put_rand(B64, 64, 16);
      PUTL(">: Disconnected: Logged out in=");
      put_u(below(2000));
      PUTL(" out=");
      put_u(below(200000));
      PUTL(" deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 "
           "body_count=0 body_bytes=0");
    }
    end_line(K_OTHER);
  } else if (k < 40) {
    sys_begin("dovecot", 0);
    PUTL("auth: passwd-file(");
    puts0(PICK(first_names));
    PUTL(",");
    puts0(ip);
    PUTL("): unknown user");
    end_line(K_OTHER);
  } else if (k < 70) {
    sys_begin("kernel", 0);
    putch('[');
    put_u((uint64_t)(now_us / 1000000) + 86400);
    putch('.');
    put_u_pad((uint64_t)((now_us + 3517) % 1000000), 6);
    PUTL("] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:"
         "08:00 SRC=");
    puts0(ip);
    PUTL(" DST=203.0.113.25 LEN=44 TOS=0x00 PREC=0x00 TTL=");
    put_u(40 + below(200));
    PUTL(" ID=");
    put_u(below(65536));
    PUTL(" PROTO=TCP SPT=");
    put_u(1024 + below(64000));
    PUTL(" DPT=");
    puts0(pct(50) ? "22" : pct(50) ? "3389" : "23");
    PUTL(" WINDOW=1024 RES=0x00 SYN URGP=0");
    end_line(K_OTHER);
  } else {
    sys_begin("opendkim", 812);
    if (pct(50)) {
      PUTL("key retrieval failed (s=selector1, d=");
      char dom[48];
      generic_dom(dom, sizeof dom);
      puts0(dom);
      PUTL("): '");
      PUTL("selector1._domainkey.");
      puts0(dom);
      PUTL("' record not found");
    } else {
      PUTL("OpenDKIM Filter v2.11.0 starting (args: -x /etc/opendkim.conf)");
    }
    end_line(K_OTHER);
  }
}

static void noise_postfix(void) {
  char ip[40];
  rand_ip(ip, sizeof ip);
  uint32_t k = below(100);
  uint32_t port = 1024 + below(64000);
  if (k < 35) {
    pf_begin(0, SVC_POSTSCREEN, 0);
    PUTL("CONNECT from [");
    puts0(ip);
    PUTL("]:");
    put_u(port);
    PUTL(" to [203.0.113.25]:25");
    end_line(K_MTA_OTHER);
    pf_begin(0, SVC_POSTSCREEN, 0);
    if (pct(60)) {
      PUTL("DNSBL rank ");
      put_u(2 + below(6));
      PUTL(" for [");
      puts0(ip);
      PUTL("]:");
      put_u(port);
      end_line(K_MTA_OTHER);
      pf_begin(0, SVC_POSTSCREEN, 0);
      PUTL("DISCONNECT [");
    } else {
      PUTL("PREGREET 11 after 0.15 from [");
      puts0(ip);
      PUTL("]:");
      put_u(port);
      PUTL(": EHLO User\\r\\n");
      end_line(K_MTA_OTHER);
      pf_begin(0, SVC_POSTSCREEN, 0);
      PUTL("DISCONNECT [");
    }
    puts0(ip);
    PUTL("]:");
    put_u(port);
    end_line(K_MTA_OTHER);
  } else if (k < 55) {
    pf_begin(0, SVC_SMTPD, 0);
    PUTL("warning: hostname ");
    put_rand(ALNUM, 36, 8);
    PUTL(".dynamic.example.com does not resolve to address ");
    puts0(ip);
    PUTL(": Name or service not known");
    end_line(K_MTA_OTHER);
  } else if (k < 70) {
    pf_begin(0, SVC_SMTPD, 0);
    PUTL("warning: unknown[");
    puts0(ip);
    PUTL("]: SASL LOGIN authentication failed: UGFzc3dvcmQ6");
    end_line(K_MTA_OTHER);
    pf_begin(0, SVC_SMTPD, 0);
    PUTL("lost connection after AUTH from unknown[");
    puts0(ip);
    putch(']');
    end_line(K_MTA_OTHER);
  } else if (k < 80) {
    pf_begin(0, SVC_ANVIL, 0);
    PUTL("statistics: max connection rate ");
    put_u(1 + below(9));
    PUTL("/60s for (smtp:");
    puts0(ip);
    PUTL(") at ");
    refresh_time();
    put(ts3164, 15);
    end_line(K_MTA_OTHER);
  } else if (k < 88) {
    pf_begin(0, SVC_SCACHE, 0);
    PUTL("statistics: domain lookup hits=");
    put_u(below(50));
    PUTL(" miss=");
    put_u(below(50));
    PUTL(" success=");
    put_u(below(100));
    putch('%');
    end_line(K_MTA_OTHER);
  } else if (k < 94) {
    pf_begin(0, SVC_SMTPD, 0);
    PUTL("improper command pipelining after CONNECT from unknown[");
    puts0(ip);
    PUTL("]: QUIT\\r\\n");
    end_line(K_MTA_OTHER);
  } else {
    pf_begin(pct(50), SVC_SMTP, 0);
    PUTL("warning: TLS library problem: error:0A000126:SSL routines::"
         "unexpected eof while reading:../ssl/record/rec_layer_s3.c:308:");
    end_line(K_MTA_OTHER);
  }
}

static void noise_exim(void) {
  char ip[40];
  rand_ip(ip, sizeof ip);
  uint32_t k = below(100);
  exim_begin(NULL);
  if (k < 20) {
    PUTL("Start queue run: pid=");
    put_u(100000 + below(900000));
  } else if (k < 35) {
    PUTL("End queue run: pid=");
    put_u(100000 + below(900000));
  } else if (k < 55) {
    PUTL("H=(");
    put_rand(ALNUM, 26, 6);
    PUTL(") [");
    puts0(ip);
    PUTL("] F=<");
    puts0(PICK(first_names));
    PUTL("@");
    put_rand(ALNUM, 26, 7);
    PUTL(".example> rejected RCPT <");
    puts0(PICK(first_names));
    PUTL("@");
    char dom[48];
    generic_dom(dom, sizeof dom);
    puts0(dom);
    PUTL(">: relay not permitted");
  } else if (k < 70) {
    PUTL("SMTP connection from (");
    put_rand(ALNUM, 26, 6);
    PUTL(") [");
    puts0(ip);
    PUTL("]:");
    put_u(1024 + below(64000));
    PUTL(" lost D=");
    put_u(below(30));
    putch('s');
  } else if (k < 80) {
    PUTL("no host name found for IP address ");
    puts0(ip);
  } else if (k < 90) {
    PUTL("TLS error on connection from [");
    puts0(ip);
    PUTL("]:");
    put_u(1024 + below(64000));
    PUTL(" (SSL_accept): error:0A000126:SSL routines::unexpected eof while "
         "reading");
  } else {
    PUTL("SMTP protocol synchronization error (input sent without waiting for "
         "greeting): rejected connection from H=[");
    puts0(ip);
    PUTL("]:");
    put_u(1024 + below(64000));
    PUTL(" input=\"GET / HTTP/1.1\\r\\nHost: ");
    puts0(ip);
    PUTL("\\r\\n\"");
  }
  end_line(K_MTA_OTHER);
}

/* ------------------------------------------------------------ new traffic */
static int g_format; /* 0 postfix, 1 exim, 2 mixed */
static uint64_t n_customer_msgs;

static void make_mid(struct msg *m) {
  char *d = m->mid;
  size_t cap = sizeof m->mid;
  int n;
  const char *dom = m->from.alen ? m->from.a + m->from.at + 1 : "example.net";
  uint64_t a = rnd(), b = rnd();
  switch (m->from.prov) {
  case PROV_GMAIL:
    n = snprintf(d, cap, "CA+%08llx%012llxQ@mail.gmail.com",
                 (unsigned long long)(a & 0xffffffffu),
                 (unsigned long long)(b & 0xffffffffffffull));
    break;
  case PROV_MS:
    n = snprintf(d, cap, "AM%uPR%02uMB%04u%06llX@AM%uPR%02uMB%04u.eurprd%02u."
                 "prod.outlook.com",
                 (unsigned)(a % 9), (unsigned)(a >> 8) % 100,
                 (unsigned)(a >> 16) % 10000,
                 (unsigned long long)(b & 0xffffff), (unsigned)(a % 9),
                 (unsigned)(a >> 8) % 100, (unsigned)(a >> 16) % 10000,
                 (unsigned)(b >> 40) % 10);
    break;
  default:
    if (a & 1)
      n = snprintf(d, cap, "%08llx-%04llx-4%03llx-a%03llx-%012llx@%s",
                   (unsigned long long)(a >> 32),
                   (unsigned long long)((a >> 16) & 0xffff),
                   (unsigned long long)((a >> 4) & 0xfff),
                   (unsigned long long)(b & 0xfff),
                   (unsigned long long)(b >> 16), dom);
    else {
      refresh_time();
      n = snprintf(d, cap, "%.4s%.2s%.2s%.2s%.2s%.2s.%llX@%s", ts3339,
                   ts3339 + 5, ts3339 + 8, ts3339 + 11, ts3339 + 14,
                   ts3339 + 17, (unsigned long long)(b & 0xffffffffffull),
                   dom);
    }
    break;
  }
  m->midlen = (unsigned char)clampn(n, cap);
}

/* the sending side of a message: who submits it, through which client */
static void setup_origin(struct msg *m) {
  const char *dom = m->mta == MTA_EXIM ? EX_LOCAL_DOM : PF_LOCAL_DOM;
  uint32_t k = below(100);
  if (m->inst == 1) {
    /* bulk instance: VERP senders, bounces go back through our relay */
    char lp[32];
    m->via = VIA_APP;
    memset(&m->from, 0, sizeof m->from);
    int n = clampn(snprintf(lp, sizeof lp, "bounces+%u-%u",
                            (unsigned)below(1000000), (unsigned)below(100)),
                   sizeof lp);
    set_addr(&m->from, lp, n, "news.example.net");
    m->from.prov = PROV_RELAY;
    snprintf(m->from.host, sizeof m->from.host, "mail.%s", dom);
    snprintf(m->from.ip, sizeof m->from.ip, "10.0.0.2");
    snprintf(m->chost, sizeof m->chost, "app%u.%s", (unsigned)(1 + below(4)),
             dom);
    snprintf(m->cip, sizeof m->cip, "10.0.1.%u", (unsigned)(10 + below(20)));
  } else if (k < 40) {
    m->via = VIA_SUBMISSION;
    addr_local(&m->from, dom, 0);
    snprintf(m->chost, sizeof m->chost, "%s", pct(70) ? "unknown" : "host");
    if (m->chost[0] == 'h')
      snprintf(m->chost, sizeof m->chost, "%u-%u-%u-%u.dyn.example.com",
               (unsigned)(80 + below(100)), (unsigned)below(256),
               (unsigned)below(256), (unsigned)below(256));
    rand_ip(m->cip, sizeof m->cip);
  } else if (k < 55) {
    m->via = VIA_APP;
    addr_local(&m->from, dom, 0);
    static const char *const app_senders[] = {"noreply", "notifications",
                                              "billing", "alerts"};
    const char *s = PICK(app_senders);
    set_addr(&m->from, s, (int)strlen(s), dom);
    snprintf(m->chost, sizeof m->chost, "app%u.%s", (unsigned)(1 + below(4)),
             dom);
    snprintf(m->cip, sizeof m->cip, "10.0.1.%u", (unsigned)(10 + below(20)));
  } else {
    m->via = VIA_INBOUND;
    addr_remote(&m->from);
    switch (m->from.prov) {
    case PROV_GMAIL:
      snprintf(m->chost, sizeof m->chost, "mail-%s1-f%u.google.com",
               pct(50) ? "wr" : "ej", (unsigned)(40 + below(60)));
      snprintf(m->cip, sizeof m->cip, "209.85.%u.%u",
               (unsigned)(208 + below(16)), (unsigned)(1 + below(254)));
      break;
    case PROV_MS:
      snprintf(m->chost, sizeof m->chost,
               "mail-db8eur05on2%03u.outbound.protection.outlook.com",
               (unsigned)below(1000));
      snprintf(m->cip, sizeof m->cip, "40.107.%u.%u", (unsigned)below(256),
               (unsigned)(1 + below(254)));
      break;
    case PROV_YAHOO:
      snprintf(m->chost, sizeof m->chost,
               "sonic3%02u-%u.consmr.mail.gq1.yahoo.com",
               (unsigned)below(100), (unsigned)below(40));
      snprintf(m->cip, sizeof m->cip, "98.137.%u.%u", (unsigned)(64 + below(8)),
               (unsigned)(1 + below(254)));
      break;
    default:
      if (pct(15))
        snprintf(m->chost, sizeof m->chost, "unknown");
      else
        snprintf(m->chost, sizeof m->chost, "%s", m->from.host);
      snprintf(m->cip, sizeof m->cip, "%s", m->from.ip);
      break;
    }
  }
  snprintf(m->helo, sizeof m->helo, "%s",
           strcmp(m->chost, "unknown") ? m->chost : "[127.0.0.1]");
  m->port = 1024 + below(64000);
  uint32_t s = below(100);
  m->size = s < 60 ? 1500 + below(20000)
          : s < 90 ? 20000 + below(200000)
                   : 200000 + below(8000000);
  make_mid(m);
}

static void setup_rcpts(struct msg *m) {
  const char *dom = m->mta == MTA_EXIM ? EX_LOCAL_DOM : PF_LOCAL_DOM;
  uint32_t k = below(100);
  m->nrcpt = (unsigned char)(k < 80 ? 1 : k < 90 ? 2 : 3 + below(MAXR - 2));
  for (int i = 0; i < m->nrcpt; i++) {
    struct addr *r = &m->r[i];
    int dup;
    do { /* cleanup(8) drops duplicate recipients, so never write any */
      if (m->via == VIA_INBOUND)
        addr_local(r, dom, 1);
      else if (m->via == VIA_SUBMISSION && pct(10))
        addr_local(r, dom, 0);
      else
        addr_remote(r);
      dup = 0;
      for (int j = 0; j < i; j++)
        if (m->r[j].alen == r->alen && !memcmp(m->r[j].a, r->a, r->alen))
          dup = 1;
    } while (dup);
    if (m->mta == MTA_EXIM && r->prov == PROV_LOCAL)
      r->svc = SVC_LOCAL;
    plan(r);
  }
  /* Postfix expiry is message-wide (qmgr logs one status=expired line and
   * it applies to every recipient still deferred), so everyone still
   * pending at the first expiring attempt expires with it. */
  m->expire_at = 255;
  if (m->mta == MTA_POSTFIX) {
    for (int i = 0; i < m->nrcpt; i++)
      if (m->r[i].fate == FATE_EXPIRED && m->r[i].defers < m->expire_at)
        m->expire_at = m->r[i].defers;
    for (int i = 0; i < m->nrcpt; i++)
      if (m->r[i].defers >= m->expire_at && m->r[i].fate != FATE_EXPIRED) {
        m->r[i].fate = FATE_EXPIRED;
        m->r[i].defers = m->expire_at;
        m->r[i].conn_fail = 1;
        m->r[i].defer_reply =
            (unsigned char)below((uint32_t)ARRAY_LEN(conn_defer));
      }
  }
}

static void spawn_message(int mta) {
  struct msg *m = msg_new();
  m->mta = (unsigned char)mta;
  m->kind = MK_NORMAL;
  m->inst = (unsigned char)(mta == MTA_POSTFIX && pct(15));
  m->long_ids = m->inst;
  setup_origin(m);
  setup_rcpts(m);
  m->smtpd_pid = svc_pid(m->inst, m->via == VIA_SUBMISSION ? SVC_SUBM
                                                             : SVC_SMTPD);
  n_customer_msgs++;
  schedule(m, mta == MTA_POSTFIX ? PF_CONNECT : EX_ARRIVE, 0);
}

static void spawn_reject(void) {
  struct msg *m = msg_new();
  m->mta = MTA_POSTFIX;
  m->kind = MK_REJECT;
  m->via = VIA_INBOUND;
  rand_ip(m->cip, sizeof m->cip);
  snprintf(m->chost, sizeof m->chost, "%s",
           pct(70) ? "unknown" : "mail.spammer.example");
  snprintf(m->helo, sizeof m->helo, "%s",
           pct(50) ? "User" : m->chost[0] == 'u' ? "[127.0.0.1]" : m->chost);
  addr_remote(&m->from);
  if (pct(50))
    addr_remote(&m->r[0]);
  else
    addr_local(&m->r[0], PF_LOCAL_DOM, 0);
  m->nrcpt = (unsigned char)(1 + below(3));
  m->port = 1024 + below(64000);
  m->smtpd_pid = svc_pid(0, SVC_SMTPD);
  schedule(m, PF_CONNECT, 0);
}

/* ---------------------------------------------------------- Postfix steps */
static void pf_connect_line(struct msg *m) {
  int svc = m->via == VIA_SUBMISSION ? SVC_SUBM : SVC_SMTPD;
  if (m->via == VIA_INBOUND && pct(50)) {
    pf_begin(0, SVC_POSTSCREEN, 0);
    PUTL("CONNECT from [");
    puts0(m->cip);
    PUTL("]:");
    put_u(m->port);
    PUTL(" to [203.0.113.25]:25");
    end_line(K_MTA_OTHER);
    pf_begin(0, SVC_POSTSCREEN, 0);
    PUTL("PASS OLD [");
    puts0(m->cip);
    PUTL("]:");
    put_u(m->port);
    end_line(K_MTA_OTHER);
  }
  pf_begin(m->inst, svc, m->smtpd_pid);
  PUTL("connect from ");
  puts0(m->chost);
  putch('[');
  puts0(m->cip);
  putch(']');
  end_line(K_MTA_OTHER);
  if (m->via != VIA_APP && pct(60)) {
    pf_begin(m->inst, svc, m->smtpd_pid);
    PUTL("Anonymous TLS connection established from ");
    puts0(m->chost);
    putch('[');
    puts0(m->cip);
    PUTL("]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) "
         "key-exchange X25519 server-signature RSA-PSS (2048 bits) "
         "server-digest SHA256");
    end_line(K_MTA_OTHER);
  }
}

static void pf_disconnect_line(struct msg *m, int rejected) {
  int svc = m->kind == MK_REJECT ? SVC_SMTPD
            : m->via == VIA_SUBMISSION ? SVC_SUBM : SVC_SMTPD;
  pf_begin(m->inst, svc, m->smtpd_pid);
  PUTL("disconnect from ");
  puts0(m->chost);
  putch('[');
  puts0(m->cip);
  PUTL("] ehlo=");
  int cmds = 3;
  if (m->via == VIA_SUBMISSION && !rejected) {
    PUTL("2 starttls=1 auth=1");
    cmds += 3;
  } else {
    putch('1');
  }
  PUTL(" mail=1 rcpt=");
  if (rejected) {
    PUTL("0/");
    put_u(m->nrcpt);
    PUTL(" quit=1 commands=");
    put_u((uint64_t)cmds);
    putch('/');
    put_u((uint64_t)cmds + m->nrcpt);
  } else {
    put_u(m->nrcpt);
    PUTL(" data=1 quit=1 commands=");
    put_u((uint64_t)cmds + 1 + m->nrcpt);
  }
  end_line(K_MTA_OTHER);
}

static const char *const reject_texts[] = {
    "554 5.7.1 <%R>: Relay access denied",
    "554 5.7.1 Service unavailable; Client host [%C] blocked using "
    "zen.spamhaus.org; https://www.spamhaus.org/query/ip/%C",
    "450 4.7.1 <%h>: Helo command rejected: Host not found",
    "450 4.1.8 <%S>: Sender address rejected: Domain not found",
    "550 5.1.1 <%R>: Recipient address rejected: User unknown in virtual "
    "mailbox table",
    "450 4.7.25 Client host rejected: cannot find your hostname, [%C]",
    "504 5.5.2 <%h>: Helo command rejected: need fully-qualified hostname",
};

static void pf_reject_line(struct msg *m) {
  /* the reject texts talk about the client: %h is its HELO name */
  struct addr ctxaddr = m->r[0];
  snprintf(ctxaddr.host, sizeof ctxaddr.host, "%s", m->helo);
  const char *t = PICK(reject_texts);
  pf_begin(0, SVC_SMTPD, m->smtpd_pid);
  PUTL("NOQUEUE: reject: RCPT from ");
  puts0(m->chost);
  putch('[');
  puts0(m->cip);
  PUTL("]: ");
  /* %C in reject texts is the client, not our own address */
  const char *s = t;
  for (;;) {
    const char *p = strstr(s, "%C");
    if (!p) {
      struct ctx c = {m, &ctxaddr};
      expand(s, s + strlen(s), &c);
      break;
    }
    struct ctx c = {m, &ctxaddr};
    expand(s, p, &c);
    puts0(m->cip);
    s = p + 2;
  }
  PUTL("; from=<");
  put(m->from.a, m->from.alen);
  PUTL("> to=<");
  put(m->r[0].a, m->r[0].alen);
  PUTL("> proto=ESMTP helo=<");
  puts0(m->helo);
  putch('>');
  end_line(K_REJECT);
}

static void pf_spawn_ndr(struct msg *m, int expired);
static void pf_attempt(struct msg *m);

static void pf_step(struct msg *m) {
  switch (m->step) {
  case PF_CONNECT:
    pf_connect_line(m);
    if (m->kind == MK_REJECT)
      schedule(m, PF_REJ_REJECT, 200000 + below(2000000));
    else
      schedule(m, PF_CLIENT, 20000 + below(300000));
    break;
  case PF_REJ_REJECT:
    pf_reject_line(m);
    schedule(m, PF_REJ_DISCONNECT, 10000 + below(500000));
    break;
  case PF_REJ_DISCONNECT:
    pf_disconnect_line(m, 1);
    msg_free(m);
    break;
  case PF_CLIENT:
    if (m->long_ids)
      pf_long_id(m);
    else
      pf_short_id(m);
    m->t_arrive = now_us;
    pf_begin(m->inst, m->via == VIA_SUBMISSION ? SVC_SUBM : SVC_SMTPD,
             m->smtpd_pid);
    put(m->id, m->idlen);
    PUTL(": client=");
    puts0(m->chost);
    putch('[');
    puts0(m->cip);
    putch(']');
    if (m->via == VIA_SUBMISSION) {
      PUTL(", sasl_method=PLAIN, sasl_username=");
      put(m->from.a, m->from.alen);
    }
    end_line(K_CLIENT);
    schedule(m, PF_CLEANUP, 5000 + below(200000));
    break;
  case PF_CLEANUP:
    pf_begin(m->inst, SVC_CLEANUP, 0);
    put(m->id, m->idlen);
    PUTL(": message-id=<");
    put(m->mid, m->midlen);
    putch('>');
    end_line(K_MESSAGE_ID);
    if (m->kind == MK_NORMAL && pct(70)) {
      sys_begin("opendkim", 812);
      put(m->id, m->idlen);
      if (m->via == VIA_INBOUND) {
        PUTL(": s=");
        put_u(20230000 + below(1000));
        PUTL(" d=");
        put_domain_of(&m->from);
        PUTL(" a=rsa-sha256 SSL");
      } else {
        PUTL(": DKIM-Signature field added (s=mail, d=example.net)");
      }
      end_line(K_OTHER);
    }
    schedule(m, PF_QMGR, 2000 + below(100000));
    break;
  case PF_QMGR:
    pf_begin(m->inst, SVC_QMGR, 0);
    put(m->id, m->idlen);
    PUTL(": from=<");
    put(m->from.a, m->from.alen);
    PUTL(">, size=");
    put_u(m->size);
    PUTL(", nrcpt=");
    put_u(m->nrcpt);
    PUTL(" (queue active)");
    end_line(K_ARRIVAL);
    if (m->kind == MK_NDR)
      schedule(m, PF_ATTEMPT, 5000 + below(500000));
    else
      schedule(m, PF_DISCONNECT, 1000 + below(50000));
    break;
  case PF_DISCONNECT:
    pf_disconnect_line(m, 0);
    schedule(m, PF_ATTEMPT, 20000 + below(1500000));
    break;
  case PF_ATTEMPT:
    pf_attempt(m);
    break;
  case PF_REMOVED:
    pf_begin(m->inst, SVC_QMGR, 0);
    put(m->id, m->idlen);
    PUTL(": removed");
    end_line(K_REMOVED);
    msg_free(m);
    break;
  default:
    abort();
  }
}

static int64_t backoff_us(int attempt) {
  int64_t base = (int64_t)300 << (attempt < 4 ? attempt : 4);
  if (base > 4000)
    base = 4000;
  return (base * 1000000) * (80 + below(41)) / 100;
}

static void pf_attempt(struct msg *m) {
  int a = m->attempt++;
  int bounced = 0, left = 0;
  if (a == m->expire_at) {
    pf_begin(m->inst, SVC_QMGR, 0);
    put(m->id, m->idlen);
    PUTL(": from=<");
    put(m->from.a, m->from.alen);
    PUTL(">, status=expired, returned to sender");
    end_line(K_EXPIRED);
    for (int i = 0; i < m->nrcpt; i++)
      if (!m->r[i].done) {
        m->r[i].done = 1;
        final_outcome(m, FATE_EXPIRED);
      }
    if (m->from.alen)
      pf_spawn_ndr(m, 1);
    schedule(m, PF_REMOVED, 1000 + below(20000));
    return;
  }
  uint32_t pid = svc_pid(m->inst, SVC_SMTP);
  int tls_done = 0;
  for (int i = 0; i < m->nrcpt; i++) {
    struct addr *r = &m->r[i];
    if (r->done)
      continue;
    if (a < r->defers) {
      const reply_t *rp = pick_defer(r);
      int susp = r->conn_fail && a > 0 && rp->form == F_CONNECT && pct(60);
      pf_delivery(m, r, S_DEFERRED, rp, susp, pid);
      left++;
      continue;
    }
    r->done = 1;
    if (r->fate == FATE_SENT) {
      if (!tls_done && r->prov <= PROV_GENERIC && pct(40)) {
        pf_tls_line(m, r, pid);
        tls_done = 1;
      }
      pf_delivery(m, r, S_SENT, pick_sent(r), 0, pid);
      if (r->prov == PROV_LOCAL && r->svc == SVC_LMTP && pct(50))
        other_dovecot_lmtp(m, r);
      final_outcome(m, FATE_SENT);
    } else {
      pf_delivery(m, r, S_BOUNCED, pick_bounce(r, 0), 0, pid);
      final_outcome(m, FATE_BOUNCED);
      bounced = 1;
    }
  }
  if (bounced && m->from.alen)
    pf_spawn_ndr(m, 0);
  if (left)
    schedule(m, PF_ATTEMPT, backoff_us(a));
  else
    schedule(m, PF_REMOVED, 500 + below(30000));
}

/* The bounce daemon's notification: cleanup logs the new message first,
 * then bounce links it (Postfix 3.7 order; 3.11 logs the link first). */
static void pf_spawn_ndr(struct msg *m, int expired) {
  struct msg *n = msg_new();
  n->mta = MTA_POSTFIX;
  n->kind = MK_NDR;
  n->inst = m->inst;
  n->long_ids = m->long_ids;
  n->via = VIA_LOCAL;
  if (n->long_ids)
    pf_long_id(n);
  else
    pf_short_id(n);
  n->t_arrive = now_us;
  memset(&n->from, 0, sizeof n->from);
  n->r[0] = m->from;
  if (n->r[0].prov == PROV_LOCAL || n->r[0].prov == PROV_RELAY)
    n->r[0].olen = 0;
  plan(&n->r[0]);
  n->r[0].defers = 0;
  n->r[0].fate = FATE_SENT;
  n->nrcpt = 1;
  n->size = 3000 + below(6000) + (m->size < 60000 ? m->size : 60000);
  refresh_time();
  n->midlen = (unsigned char)clampn(
      snprintf(n->mid, sizeof n->mid, "%.4s%.2s%.2s%.2s%.2s%.2s.%s@mail.%s",
               ts3339, ts3339 + 5, ts3339 + 8, ts3339 + 11, ts3339 + 14,
               ts3339 + 17, n->id, PF_LOCAL_DOM),
      sizeof n->mid);
  pf_begin(n->inst, SVC_CLEANUP, 0);
  put(n->id, n->idlen);
  PUTL(": message-id=<");
  put(n->mid, n->midlen);
  putch('>');
  end_line(K_MESSAGE_ID);
  pf_begin(m->inst, SVC_BOUNCE, 0);
  put(m->id, m->idlen);
  PUTL(": sender non-delivery notification: ");
  put(n->id, n->idlen);
  end_line(K_NOTIFICATION);
  (void)expired;
  schedule(n, PF_QMGR, 1000 + below(50000));
}

/* ------------------------------------------------------------- Exim steps */
static void ex_spawn_ndr(struct msg *m) {
  struct msg *n = msg_new();
  n->mta = MTA_EXIM;
  n->kind = MK_NDR;
  n->via = VIA_LOCAL;
  exim_id(n->id, &n->idlen, m->idlen > 16);
  n->t_arrive = now_us;
  memset(&n->from, 0, sizeof n->from);
  n->r[0] = m->from;
  n->r[0].olen = 0;
  if (n->r[0].prov == PROV_LOCAL)
    n->r[0].svc = SVC_LOCAL;
  plan(&n->r[0]);
  n->r[0].defers = 0;
  n->r[0].fate = FATE_SENT;
  n->nrcpt = 1;
  n->size = 2000 + below(4000) + (m->size < 60000 ? m->size : 60000);
  exim_begin(n->id);
  PUTL("<= <> R=");
  put(m->id, m->idlen);
  PUTL(" U=Debian-exim P=local S=");
  put_u(n->size);
  end_line(K_ARRIVAL);
  schedule(n, EX_ATTEMPT, 1000 + below(500000));
}

static void ex_attempt(struct msg *m) {
  int a = m->attempt++;
  int failed = 0, left = 0;
  const struct addr *prev_sent = NULL;
  for (int i = 0; i < m->nrcpt; i++) {
    struct addr *r = &m->r[i];
    if (r->done)
      continue;
    if (a < r->defers) {
      const reply_t *rp = pick_defer(r);
      int susp = r->conn_fail && a > 0 && rp->form == F_CONNECT && pct(50);
      if (r->prov == PROV_LOCAL)
        rp = &local_defer[0];
      ex_defer(m, r, rp, susp);
      left++;
      prev_sent = NULL;
      continue;
    }
    r->done = 1;
    if (r->fate == FATE_SENT) {
      /* "->": a further recipient in the same SMTP transaction */
      int same = prev_sent && prev_sent->prov == r->prov &&
                 r->prov != PROV_LOCAL && !strcmp(prev_sent->host, r->host);
      ex_sent(m, r, same, pick_sent(r));
      prev_sent = r;
      final_outcome(m, FATE_SENT);
    } else if (r->fate == FATE_BOUNCED) {
      ex_bounce(m, r, pick_bounce(r, 1));
      final_outcome(m, FATE_BOUNCED);
      failed = 1;
      prev_sent = NULL;
    } else {
      ex_expire(m, r);
      final_outcome(m, FATE_EXPIRED);
      failed = 1;
      prev_sent = NULL;
    }
  }
  if (failed && m->from.alen)
    ex_spawn_ndr(m);
  if (left) {
    schedule(m, EX_ATTEMPT, backoff_us(a));
  } else {
    exim_begin(m->id);
    PUTL("Completed");
    end_line(K_REMOVED);
    msg_free(m);
  }
}

static void ex_step(struct msg *m) {
  if (m->step == EX_ATTEMPT) {
    ex_attempt(m);
    return;
  }
  /* EX_ARRIVE */
  exim_id(m->id, &m->idlen, pct(10));
  m->t_arrive = now_us;
  exim_begin(m->id);
  PUTL("<= ");
  put(m->from.a, m->from.alen);
  switch (m->via) {
  case VIA_SUBMISSION:
    PUTL(" H=(");
    puts0(m->chost);
    PUTL(") [");
    puts0(m->cip);
    PUTL("] P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "
         "A=dovecot_plain:");
    put(m->from.a, m->from.at);
    break;
  case VIA_APP:
    if (pct(50)) {
      PUTL(" U=www-data P=local");
      break;
    }
    PUTL(" H=");
    puts0(m->chost);
    PUTL(" [");
    puts0(m->cip);
    PUTL("] P=esmtp");
    break;
  default:
    PUTL(" H=");
    puts0(m->chost);
    PUTL(" [");
    puts0(m->cip);
    PUTL("] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no K");
    break;
  }
  PUTL(" S=");
  put_u(m->size);
  PUTL(" id=");
  put(m->mid, m->midlen);
  end_line(K_ARRIVAL);
  schedule(m, EX_ATTEMPT, 10000 + below(800000));
}

/* ------------------------------------------------------------------- main */
static void usage(FILE *f) {
  fputs("usage: bw_gen_logs [--seed N] [--messages N | --bytes N[KMG]]\n"
        "                   [--format postfix|exim|mixed] "
        "[--prefix rfc3339|rfc3164]\n"
        "                   --truth FILE.json > log\n"
        "Writes a deterministic mail log to stdout and the counts of what it\n"
        "wrote (lines per kind, deliveries per status and DSN class, final\n"
        "outcome per recipient, in total and per sender domain) to FILE.json.\n"
        "Default: --seed 1 --messages 10000 --format mixed --prefix rfc3339.\n",
        f);
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return -1;
  uint64_t mul = 1;
  if (*end == 'K' || *end == 'k')
    mul = (uint64_t)1 << 10, end++;
  else if (*end == 'M' || *end == 'm')
    mul = (uint64_t)1 << 20, end++;
  else if (*end == 'G' || *end == 'g')
    mul = (uint64_t)1 << 30, end++;
  if (*end)
    return -1;
  *out = (uint64_t)v * mul;
  return 0;
}

static int write_truth(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fprintf(f, "{\"lines\": %llu, \"lines_by_kind\": {",
          (unsigned long long)n_lines);
  for (int k = 0; k < K__N; k++)
    fprintf(f, "%s\"%s\": %llu", k ? ", " : "", kind_json[k],
            (unsigned long long)n_kind[k]);
  fprintf(f,
          "}, \"deliveries\": {\"total\": %llu, \"by_status\": {\"sent\": "
          "%llu, \"deferred\": %llu, \"bounced\": %llu, \"expired\": %llu, "
          "\"softbounce\": 0, \"suppressed\": 0, \"probe_deliverable\": 0, "
          "\"probe_undeliverable\": 0, \"other\": 0}, \"by_dsn_class\": "
          "{\"2\": %llu, \"4\": %llu, \"5\": %llu, \"none\": %llu}}, "
          "\"final_outcomes\": {\"sent\": %llu, \"bounced\": %llu, "
          "\"expired\": %llu}, \"final_outcomes_by_sender_domain\": {",
          (unsigned long long)n_kind[K_DELIVERY],
          (unsigned long long)n_status[S_SENT],
          (unsigned long long)n_status[S_DEFERRED],
          (unsigned long long)n_status[S_BOUNCED],
          (unsigned long long)n_status[S_EXPIRED],
          (unsigned long long)n_dsn[DC_2], (unsigned long long)n_dsn[DC_4],
          (unsigned long long)n_dsn[DC_5], (unsigned long long)n_dsn[DC_NONE],
          (unsigned long long)n_final[FATE_SENT],
          (unsigned long long)n_final[FATE_BOUNCED],
          (unsigned long long)n_final[FATE_EXPIRED]);
  for (uint32_t i = 0; i < n_sdoms; i++) {
    const struct sdom *d = &sdoms[i];
    fprintf(f, "%s\"", i ? ", " : "");
    for (size_t k = 0; k < d->len; k++) {
      unsigned char c = (unsigned char)d->name[k];
      if (c == '"' || c == '\\')
        fprintf(f, "\\%c", c);
      else if (c < 0x20)
        fprintf(f, "\\u%04x", c);
      else
        fputc(c, f);
    }
    fprintf(f, "\": {\"sent\": %llu, \"bounced\": %llu, \"expired\": %llu}",
            (unsigned long long)d->n[FATE_SENT],
            (unsigned long long)d->n[FATE_BOUNCED],
            (unsigned long long)d->n[FATE_EXPIRED]);
  }
  fputs("}}\n", f);
  return fclose(f) ? -1 : 0;
}

static int sdom_cmp(const void *a, const void *b) {
  return strcmp(((const struct sdom *)a)->name, ((const struct sdom *)b)->name);
}

/* Sort the sender domains by name (the slots are dropped: generation is
 * over) and check they partition final_outcomes exactly. */
static void sdom_finish(void) {
  uint64_t sum[3] = {0, 0, 0};
  if (n_sdoms)
    qsort(sdoms, n_sdoms, sizeof *sdoms, sdom_cmp);
  for (uint32_t i = 0; i < n_sdoms; i++)
    for (int k = 0; k < 3; k++)
      sum[k] += sdoms[i].n[k];
  for (int k = 0; k < 3; k++)
    if (sum[k] != n_final[k]) {
      fprintf(stderr,
              "bw_gen_logs: internal error: final outcome %d sums to %llu "
              "over sender domains, %llu in total\n",
              k, (unsigned long long)sum[k], (unsigned long long)n_final[k]);
      abort();
    }
}

int main(int argc, char **argv) {
  uint64_t seed = 1, max_msgs = 10000, max_bytes = 0;
  const char *truth = NULL;
  g_format = 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!v) {
      fprintf(stderr, "bw_gen_logs: %s: missing value or unknown option\n", a);
      usage(stderr);
      return 2;
    }
    i++;
    if (!strcmp(a, "--seed")) {
      if (parse_u64(v, &seed))
        goto bad;
    } else if (!strcmp(a, "--messages")) {
      if (parse_u64(v, &max_msgs))
        goto bad;
      max_bytes = 0;
    } else if (!strcmp(a, "--bytes")) {
      if (parse_u64(v, &max_bytes))
        goto bad;
      max_msgs = 0;
    } else if (!strcmp(a, "--format")) {
      if (!strcmp(v, "postfix"))
        g_format = 0;
      else if (!strcmp(v, "exim"))
        g_format = 1;
      else if (!strcmp(v, "mixed"))
        g_format = 2;
      else
        goto bad;
    } else if (!strcmp(a, "--prefix")) {
      if (!strcmp(v, "rfc3339"))
        prefix_3164 = 0;
      else if (!strcmp(v, "rfc3164"))
        prefix_3164 = 1;
      else
        goto bad;
    } else if (!strcmp(a, "--truth")) {
      truth = v;
    } else {
      fprintf(stderr, "bw_gen_logs: unknown option %s\n", a);
      usage(stderr);
      return 2;
    }
    continue;
  bad:
    fprintf(stderr, "bw_gen_logs: bad value for %s: '%s'\n", a, v);
    usage(stderr);
    return 2;
  }
  if (!truth) {
    fprintf(stderr, "bw_gen_logs: --truth FILE is required\n");
    usage(stderr);
    return 2;
  }

  uint64_t sm = seed;
  for (int i = 0; i < 4; i++)
    rng[i] = splitmix64(&sm);
  obuf = malloc(OUT_CAP);
  if (!obuf) {
    perror("bw_gen_logs: malloc");
    return 1;
  }
  op = obuf;
  olimit = obuf + OUT_CAP - LINE_ROOM;
  for (int in = 0; in < 2; in++)
    for (int s = 0; s < SVC__N; s++) {
      snprintf(prog_name[in][s], sizeof prog_name[in][s], "%s/%s",
               inst_name[in], svc_name[s]);
      for (int k = 0; k < 4; k++)
        pid_pool[in][s][k] = 1000 + below(60000);
    }

  /* The loop: run every due step of messages in flight; when none is due,
   * start new activity and move the clock by a random gap (~25 per log
   * second). Once the size or message budget is spent, stop starting and
   * drain what is in flight, so every recipient reaches a final outcome. */
  int64_t next_spawn = 0;
  int spawning = 1;
  for (;;) {
    if (hn && (!spawning || heap[0].t <= next_spawn)) {
      ev_t e = heap_pop();
      if (e.t > now_us)
        now_us = e.t;
      if (e.m->mta == MTA_POSTFIX)
        pf_step(e.m);
      else
        ex_step(e.m);
      continue;
    }
    if (!spawning)
      break;
    if (next_spawn > now_us)
      now_us = next_spawn;
    uint32_t k = below(100);
    int pf_ok = g_format != 1, ex_ok = g_format != 0;
    if (k < 55) {
      int mta = g_format == 0   ? MTA_POSTFIX
                : g_format == 1 ? MTA_EXIM
                : pct(70)       ? MTA_POSTFIX
                                : MTA_EXIM;
      spawn_message(mta);
    } else if (k < 63) {
      if (pf_ok)
        spawn_reject();
      else
        noise_exim();
    } else if (k < 80 && pf_ok) {
      noise_syslog();
    } else if (pf_ok && (!ex_ok || k < 92)) {
      noise_postfix();
    } else {
      noise_exim();
    }
    next_spawn = now_us + below(80000);
    if ((max_msgs && n_customer_msgs >= max_msgs) ||
        (max_bytes && bytes_written() >= max_bytes))
      spawning = 0;
  }
  flush_out();
  sdom_finish();
  if (write_truth(truth)) {
    fprintf(stderr, "bw_gen_logs: %s: %s\n", truth, strerror(errno));
    return 1;
  }
  return 0;
}
