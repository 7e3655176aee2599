/* libFuzzer harness for bw_mailreport_parse() (mailreport.h): the input
 * is one mail (a Maildir file). Whatever it is, the parse returns 0 or
 * BW_EPARSE with a reason, the result is consistent, and clearing it
 * frees everything (LeakSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "bouncewatch/mailreport.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bw_mailreport_t r;
  char why[256];
  int rc = bw_mailreport_parse((const char *)data, size, &r, why, sizeof(why));
  CHECK(rc == 0 || rc == BW_EPARSE);
  if (rc != 0) {
    CHECK(why[0] != '\0');
    CHECK(r.nrcpts == 0 && r.rcpts == NULL && r.kind == BW_MR_NOT_REPORT);
    return 0;
  }
  CHECK(r.kind <= BW_MR_BOUNCE);
  CHECK(r.feedback < BW_FEEDBACK__COUNT);
  CHECK(r.nrcpts <= BW_MR_MAX_RCPTS);
  CHECK(r.kind != BW_MR_NOT_REPORT || r.nrcpts == 0);
  CHECK(r.kind == BW_MR_NOT_REPORT || r.format != NULL);
  for (size_t i = 0; i < r.nrcpts; i++) {
    CHECK(r.rcpts[i].action < BW_ACTION__COUNT);
    CHECK(strlen(r.rcpts[i].status) < sizeof(r.rcpts[i].status));
    CHECK(r.rcpts[i].final_rcpt != NULL || r.rcpts[i].orig_rcpt != NULL);
  }
  bw_mailreport_clear(&r);
  CHECK(r.rcpts == NULL && r.nrcpts == 0 && r.from == NULL);
  return 0;
}
