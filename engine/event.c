/* Names of the event enums and the enhanced-status-code helpers. The
 * tables come from the X-macros in event.h, so names cannot drift. */
#include "bouncewatch/event.h"

static const char *const kind_names[] = {
#define BW_KIND_NAME(name, json, desc) json,
    BW_KIND_MAP(BW_KIND_NAME)
#undef BW_KIND_NAME
};

static const char *const status_names[] = {
#define BW_STATUS_NAME(name, json) json,
    BW_STATUS_MAP(BW_STATUS_NAME)
#undef BW_STATUS_NAME
};

static const char *const stage_names[] = {
#define BW_STAGE_NAME(name, json) json,
    BW_STAGE_MAP(BW_STAGE_NAME)
#undef BW_STAGE_NAME
};

const char *bw_kind_name(bw_kind_t k) {
  return (unsigned)k < BW_KIND__COUNT ? kind_names[k] : "invalid";
}

const char *bw_status_name(bw_status_t s) {
  return (unsigned)s < BW_STATUS__COUNT ? status_names[s] : "invalid";
}

const char *bw_stage_name(bw_stage_t s) {
  return (unsigned)s < BW_STAGE__COUNT ? stage_names[s] : "invalid";
}

int bw_dsn_class(bw_span_t dsn) {
  if (dsn.len < 5 || dsn.p[1] != '.')
    return -1;
  if (dsn.p[0] != '2' && dsn.p[0] != '4' && dsn.p[0] != '5')
    return -1;
  return dsn.p[0] - '0';
}

int bw_dsn_subject(bw_span_t dsn) {
  if (bw_dsn_class(dsn) < 0 || dsn.p[2] < '0' || dsn.p[2] > '9')
    return -1;
  /* Subjects are defined 0..7 (RFC 3463); 8, 9 and two-digit subjects
   * are not (the code still counts under its class). */
  if (dsn.p[3] != '.' || dsn.p[2] > '7')
    return -1;
  return dsn.p[2] - '0';
}
