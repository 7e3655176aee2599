/* The replay summary, as a terminal report or as one JSON document. Both
 * print the same numbers; the JSON schema is documented in the README. */
#include <string.h>

#include "bouncewatch/error.h"
#include "out.h"

static const char *const mta_names[3] = {"none", "postfix", "exim"};

/* ---- JSON -------------------------------------------------------------- */

void bw__report_json(bw_out_t *o, const bw_report_in_t *in) {
  bw__report_json_obj(o, in);
  bw__out_str(o, "\n");
}

void bw__report_json_obj(bw_out_t *o, const bw_report_in_t *in) {
  const bw_replay_stats_t *s = in->stats;
  int f = 1;
  bw__out_str(o, "{");
  bw__out_json_u64(o, &f, "version", 1);
  bw__out_json_key(o, &f, "complete");
  bw__out_str(o, s->files_failed == 0 ? "true" : "false");
  bw__out_json_key(o, &f, "elapsed_seconds");
  bw__out_printf(o, "%.3f", in->elapsed_s);
  bw__out_json_u64(o, &f, "bytes_read", s->bytes_read);
  bw__out_json_u64(o, &f, "bytes_decoded", s->bytes_decoded);
  bw__out_json_u64(o, &f, "lines", s->lines);

  bw__out_json_key(o, &f, "lines_by_kind");
  int g = 1;
  bw__out_str(o, "{");
  for (int k = 0; k < BW_KIND__COUNT; k++)
    bw__out_json_u64(o, &g, bw_kind_name((bw_kind_t)k), s->by_kind[k]);
  bw__out_str(o, "}");

  bw__out_json_key(o, &f, "lines_by_mta");
  g = 1;
  bw__out_str(o, "{");
  for (int k = 0; k < 3; k++)
    bw__out_json_u64(o, &g, mta_names[k], s->by_mta[k]);
  bw__out_str(o, "}");

  bw__out_json_key(o, &f, "deliveries");
  g = 1;
  bw__out_str(o, "{");
  bw__out_json_u64(o, &g, "total", s->deliveries);
  bw__out_json_key(o, &g, "by_status");
  int h = 1;
  bw__out_str(o, "{");
  for (int k = 1; k < BW_STATUS__COUNT; k++)
    bw__out_json_u64(o, &h, bw_status_name((bw_status_t)k), s->by_status[k]);
  bw__out_str(o, "}");
  bw__out_json_key(o, &g, "by_dsn_class");
  h = 1;
  bw__out_str(o, "{");
  bw__out_json_u64(o, &h, "2", s->by_dsn_class[2]);
  bw__out_json_u64(o, &h, "4", s->by_dsn_class[4]);
  bw__out_json_u64(o, &h, "5", s->by_dsn_class[5]);
  bw__out_json_u64(o, &h, "none", s->by_dsn_class[0]);
  bw__out_str(o, "}");
  bw__out_json_key(o, &g, "by_dsn_subject");
  h = 1;
  bw__out_str(o, "{");
  for (int c = 2; c <= 5; c++)
    for (int sub = 0; sub < 8; sub++)
      if (s->by_dsn_subject[c][sub] > 0) {
        char name[8] = {(char)('0' + c), '.', (char)('0' + sub), 0};
        bw__out_json_u64(o, &h, name, s->by_dsn_subject[c][sub]);
      }
  bw__out_str(o, "}");
  bw__out_json_u64(o, &g, "classified", s->classified);
  bw__out_json_key(o, &g, "by_reason");
  h = 1;
  bw__out_str(o, "{");
  for (int k = 0; k < BW_REASON__COUNT; k++)
    if (s->by_reason[k] > 0)
      bw__out_json_u64(o, &h, bw_reason_name((bw_reason_t)k), s->by_reason[k]);
  bw__out_str(o, "}");
  bw__out_json_key(o, &g, "by_group");
  h = 1;
  bw__out_str(o, "{");
  for (int k = 1; k < BW_GROUP__COUNT; k++)
    bw__out_json_u64(o, &h, bw_group_name((bw_group_t)k), s->by_group[k]);
  bw__out_str(o, "}");
  bw__out_json_u64(o, &g, "hard", s->hard);
  bw__out_json_u64(o, &g, "soft", s->soft);
  bw__out_json_key(o, &g, "by_stage");
  h = 1;
  bw__out_str(o, "{");
  for (int k = 0; k < BW_STAGE__COUNT; k++)
    bw__out_json_u64(o, &h, bw_stage_name((bw_stage_t)k), s->by_stage[k]);
  bw__out_str(o, "}");
  bw__out_str(o, "}");

  bw__out_json_key(o, &f, "skipped");
  g = 1;
  bw__out_str(o, "{");
  bw__out_json_u64(o, &g, "total", s->long_lines + s->partial_tails);
  bw__out_json_u64(o, &g, "long_lines", s->long_lines);
  bw__out_json_u64(o, &g, "partial_tails", s->partial_tails);
  bw__out_json_u64(o, &g, "max_line", in->max_line);
  bw__out_json_key(o, &g, "samples");
  bw__out_str(o, "[");
  for (size_t i = 0; i < s->nskips; i++) {
    const bw_skip_t *k = &s->skips[i];
    h = 1;
    bw__out_str(o, i ? ",{" : "{");
    bw__out_json_key(o, &h, "file");
    bw__out_json_str(o, s->files[k->file].path, strlen(s->files[k->file].path));
    bw__out_json_u64(o, &h, "line", k->line_no);
    bw__out_json_u64(o, &h, "bytes", k->bytes);
    bw__out_json_key(o, &h, "why");
    bw__out_json_str(o, k->why, strlen(k->why));
    bw__out_str(o, "}");
  }
  bw__out_str(o, "]}");

  bw__out_json_key(o, &f, "files");
  bw__out_str(o, "[");
  for (size_t i = 0; i < s->nfiles; i++) {
    const bw_file_stats_t *fs = &s->files[i];
    h = 1;
    bw__out_str(o, i ? ",{" : "{");
    bw__out_json_key(o, &h, "path");
    bw__out_json_str(o, fs->path, strlen(fs->path));
    bw__out_json_key(o, &h, "format");
    bw__out_json_str(o, bw_format_name(fs->format),
                     strlen(bw_format_name(fs->format)));
    bw__out_json_u64(o, &h, "bytes_read", fs->bytes_read);
    bw__out_json_u64(o, &h, "bytes_decoded", fs->bytes_decoded);
    bw__out_json_u64(o, &h, "lines", fs->lines);
    bw__out_json_u64(o, &h, "long_lines", fs->long_lines);
    bw__out_json_u64(o, &h, "tail_bytes_skipped", fs->tail_bytes);
    bw__out_json_key(o, &h, "complete");
    bw__out_str(o, fs->error == 0 ? "true" : "false");
    bw__out_json_key(o, &h, "error");
    if (fs->error == 0)
      bw__out_str(o, "null");
    else
      bw__out_json_str(o, fs->errmsg, strlen(fs->errmsg));
    bw__out_json_key(o, &h, "error_offset");
    if (fs->error == 0)
      bw__out_str(o, "null");
    else
      bw__out_u64(o, fs->error_offset);
    bw__out_str(o, "}");
  }
  bw__out_str(o, "]}");
}

/* ---- text -------------------------------------------------------------- */

static void row(bw_out_t *o, const char *name, uint64_t v, uint64_t total) {
  if (total > 0)
    bw__out_printf(o, "  %-22s %14llu  %5.1f%%\n", name, (unsigned long long)v,
                   100.0 * (double)v / (double)total);
  else
    bw__out_printf(o, "  %-22s %14llu\n", name, (unsigned long long)v);
}

void bw__report_text(bw_out_t *o, const bw_report_in_t *in) {
  const bw_replay_stats_t *s = in->stats;
  double mb = (double)s->bytes_decoded / 1e6;
  double secs = in->elapsed_s > 1e-9 ? in->elapsed_s : 1e-9;
  bw__out_printf(o,
                 "bouncewatch replay: %zu file%s, %llu bytes read, %llu "
                 "decoded, %llu lines in %.3f s (%.0f MB/s, %.2f M lines/s)\n",
                 s->nfiles, s->nfiles == 1 ? "" : "s",
                 (unsigned long long)s->bytes_read,
                 (unsigned long long)s->bytes_decoded,
                 (unsigned long long)s->lines, in->elapsed_s, mb / secs,
                 (double)s->lines / secs / 1e6);

  bw__out_str(o, "\nlines by kind\n");
  for (int k = 0; k < BW_KIND__COUNT; k++)
    row(o, bw_kind_name((bw_kind_t)k), s->by_kind[k], s->lines);
  bw__out_str(o, "\nlines by MTA\n");
  for (int k = 0; k < 3; k++)
    row(o, mta_names[k], s->by_mta[k], s->lines);

  bw__out_printf(o, "\ndelivery events by status (%llu)\n",
                 (unsigned long long)s->deliveries);
  for (int k = 1; k < BW_STATUS__COUNT; k++)
    if (s->by_status[k] > 0)
      row(o, bw_status_name((bw_status_t)k), s->by_status[k], s->deliveries);
  bw__out_str(o, "\ndelivery events by enhanced status code\n");
  for (int c = 2; c <= 5; c++) {
    if (c == 3)
      continue;
    char name[16] = {(char)('0' + c), '.', 'x', '.', 'x', 0};
    row(o, name, s->by_dsn_class[c], s->deliveries);
    for (int sub = 0; sub < 8; sub++)
      if (s->by_dsn_subject[c][sub] > 0) {
        char sn[16] = {' ', ' ', (char)('0' + c), '.', (char)('0' + sub),
                       '.', 'x', 0};
        row(o, sn, s->by_dsn_subject[c][sub], s->deliveries);
      }
  }
  row(o, "none", s->by_dsn_class[0], s->deliveries);
  bw__out_printf(o, "\nclassified deferred/bounced/expired events by group "
                    "(%llu; %llu hard, %llu soft)\n",
                 (unsigned long long)s->classified,
                 (unsigned long long)s->hard, (unsigned long long)s->soft);
  for (int k = 1; k < BW_GROUP__COUNT; k++)
    if (s->by_group[k] > 0)
      row(o, bw_group_name((bw_group_t)k), s->by_group[k], s->classified);
  bw__out_str(o, "\nby reason\n");
  for (int k = 0; k < BW_REASON__COUNT; k++)
    if (s->by_reason[k] > 0)
      row(o, bw_reason_name((bw_reason_t)k), s->by_reason[k], s->classified);
  bw__out_str(o, "\ndelivery events by SMTP stage\n");
  for (int k = 0; k < BW_STAGE__COUNT; k++)
    if (s->by_stage[k] > 0)
      row(o, bw_stage_name((bw_stage_t)k), s->by_stage[k], s->deliveries);

  bw__out_printf(o, "\nskipped: %llu line%s longer than %zu bytes, %llu "
                    "partial line%s after a decode error\n",
                 (unsigned long long)s->long_lines,
                 s->long_lines == 1 ? "" : "s", in->max_line,
                 (unsigned long long)s->partial_tails,
                 s->partial_tails == 1 ? "" : "s");
  for (size_t i = 0; i < s->nskips; i++) {
    const bw_skip_t *k = &s->skips[i];
    bw__out_printf(o, "  %s:%llu: %llu bytes, %s\n", s->files[k->file].path,
                   (unsigned long long)k->line_no,
                   (unsigned long long)k->bytes, k->why);
  }
  if (s->long_lines + s->partial_tails > s->nskips)
    bw__out_printf(o, "  (%llu more not listed)\n",
                   (unsigned long long)(s->long_lines + s->partial_tails -
                                        s->nskips));
  bw__out_printf(o, "unknown lines (no syslog or Exim prefix): %llu\n",
                 (unsigned long long)s->by_kind[BW_KIND_UNKNOWN]);

  bw__out_str(o, "\nfiles\n");
  for (size_t i = 0; i < s->nfiles; i++) {
    const bw_file_stats_t *fs = &s->files[i];
    bw__out_printf(o, "  %s  %s  %llu bytes -> %llu, %llu lines  %s\n",
                   fs->path, bw_format_name(fs->format),
                   (unsigned long long)fs->bytes_read,
                   (unsigned long long)fs->bytes_decoded,
                   (unsigned long long)fs->lines,
                   fs->error == 0 ? "complete" : "INCOMPLETE");
  }
  if (s->files_failed > 0)
    bw__out_printf(o, "\nrun incomplete: %llu file%s with errors\n",
                   (unsigned long long)s->files_failed,
                   s->files_failed == 1 ? "" : "s");
}
