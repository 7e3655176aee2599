/* `replay --events`: one JSON object per delivery event (JSON Lines),
 * for jq, Vector or Loki, and for checking the parser line by line. */
#include <string.h>

#include "logtime.h"
#include "out.h"

static const char *mta_name(bw_mta_t m) {
  return m == BW_MTA_POSTFIX ? "postfix" : m == BW_MTA_EXIM ? "exim" : "none";
}

static void field(bw_out_t *o, const char *name, bw_span_t v) {
  bw__out_str(o, name);
  bw__out_json_span(o, v);
}

void bw__event_jsonl(bw_out_t *o, const bw_event_t *ev, const bw_verdict_t *v,
                     const bw_line_ref_t *where) {
  char ts[40];
  bw__out_str(o, "{\"time\":");
  if (ev->time_us != 0) {
    int n = bw__format_time(ev->time_us, ts);
    bw__out_write(o, "\"", 1);
    bw__out_write(o, ts, (size_t)n);
    bw__out_write(o, "\"", 1);
  } else {
    bw__out_str(o, "null");
  }
  bw__out_str(o, ",\"mta\":\"");
  bw__out_str(o, mta_name(ev->mta));
  bw__out_str(o, "\"");
  field(o, ",\"host\":", ev->host);
  field(o, ",\"instance\":", ev->instance);
  field(o, ",\"queue_id\":", ev->queue_id);
  field(o, ",\"rcpt\":", ev->rcpt);
  field(o, ",\"orig_rcpt\":", ev->orig_rcpt);
  if (ev->has_sender)
    field(o, ",\"sender\":", ev->sender);
  field(o, ",\"relay\":", ev->relay);
  bw__out_str(o, ",\"status\":\"");
  bw__out_str(o, bw_status_name(ev->status));
  bw__out_str(o, "\"");
  field(o, ",\"dsn\":", ev->dsn);
  field(o, ",\"reply_dsn\":", ev->reply_dsn);
  bw__out_str(o, ",\"reply_code\":");
  if (ev->reply_code != 0)
    bw__out_u64(o, ev->reply_code);
  else
    bw__out_str(o, "null");
  bw__out_str(o, ",\"stage\":\"");
  bw__out_str(o, bw_stage_name(ev->stage));
  bw__out_str(o, "\"");
  field(o, ",\"text\":", ev->text);
  if (v != NULL) {
    bw__out_str(o, ",\"reason\":\"");
    bw__out_str(o, bw_reason_name(v->reason));
    bw__out_str(o, "\",\"group\":\"");
    bw__out_str(o, bw_group_name(v->group));
    bw__out_str(o, v->hard ? "\",\"hard\":true" : "\",\"hard\":false");
    bw__out_str(o, v->permanent == 1   ? ",\"permanent\":true"
                   : v->permanent == 0 ? ",\"permanent\":false"
                                       : ",\"permanent\":null");
  }
  bw__out_str(o, ",\"file\":");
  bw__out_json_str(o, where->path, strlen(where->path));
  bw__out_str(o, ",\"line\":");
  bw__out_u64(o, where->line_no);
  bw__out_str(o, "}\n");
}
