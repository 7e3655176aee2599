/* Line grammars: one call turns one log line into a bw_event_t.
 *
 * Syslog prefixes (RFC 3164 "Mmm dd hh:mm:ss host prog[pid]:", RFC 3339
 * "2024-05-01T12:00:01.123456+02:00 host prog[pid]:", Postfix's own
 * maillog_file) and Exim's mainlog prefix ("YYYY-MM-DD HH:MM:SS [+ZZZZ]
 * [[pid]] ID") are recognised; the body is parsed by hand, left to right,
 * never backtracking. A parser is cheap and single-threaded: use one per
 * thread. */
#ifndef BOUNCEWATCH_PARSE_H
#define BOUNCEWATCH_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "bouncewatch/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bw_parser_s bw_parser_t;

/* 0 or BW_ENOMEM. *out is owned by the caller; free with bw_parser_free. */
int bw_parser_new(bw_parser_t **out);
void bw_parser_free(bw_parser_t *p);

/* Reference time (Unix seconds) for RFC 3164 stamps, which have no year:
 * the mtime of the file being read, or the current time for stdin. Lines
 * dated in a later month than the reference belong to the previous year.
 * Defaults to the time bw_parser_new ran. */
void bw_parser_set_reference(bw_parser_t *p, int64_t ref_unix_s);

/* Parse `line` (len bytes, no trailing newline; any byte values) into
 * *ev, which is overwritten entirely. Returns ev->kind. Spans in *ev
 * point into `line` (see event.h for their lifetime). Never fails: a line
 * that is not understood is BW_KIND_UNKNOWN or BW_KIND_OTHER. */
bw_kind_t bw_parse_line(bw_parser_t *p, const char *line, size_t len,
                        bw_event_t *ev);

/* Exim via syslog splits lines over 870 bytes into "[i/n]" parts: the
 * parser joins them, returning BW_KIND_CONTINUED for every part but the
 * one that completes the line, whose event is the joined line's (its
 * spans point into the parser's own buffer, valid until the next call).
 * A sequence left unfinished is parsed as far as it goes when its process
 * starts another one, when slots run out, or at bw_parser_flush(): call
 * it at the end of input until it returns 0; each call that returns 1
 * fills *ev with one such line (which replaces, in the counts, the
 * BW_KIND_CONTINUED of its last part). */
int bw_parser_flush(bw_parser_t *p, bw_event_t *ev);

#ifdef __cplusplus
}
#endif
#endif
