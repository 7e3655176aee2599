/* `bouncewatch explain`: the reason, group, hard or soft, the deciding
 * rules and the advice for one diagnostic; `--batch` classifies one
 * diagnostic per stdin line for scripts. `check-rules` validates rules. */
#include <stdlib.h>
#include <string.h>

#include "bouncewatch/error.h"
#include "cli.h"
#include "fmt.h"
#include "rules.h"

enum {
  OPT_STATUS,
  OPT_REPLY,
  OPT_STAGE,
  OPT_RELAY,
  OPT_BATCH,
  OPT_RULES,
  OPT_RULES_CACHE,
  OPT_HELP
};

static const bw_option_t options[] = {
    {OPT_STATUS, "--status", "X.Y.Z", "the enhanced status code, if known",
     NULL, BW_OPT_CLI_ONLY},
    {OPT_REPLY, "--reply", "NNN", "the SMTP reply code, if known", NULL,
     BW_OPT_CLI_ONLY},
    {OPT_STAGE, "--stage", "STAGE",
     "the SMTP stage answered: connect helo starttls auth mail rcpt data "
     "end_of_data ... (default: read from the text)",
     NULL, BW_OPT_CLI_ONLY},
    {OPT_RELAY, "--relay", "HOST", "the remote host (for provider rules)",
     NULL, BW_OPT_CLI_ONLY},
    {OPT_BATCH, "--batch", NULL,
     "read one diagnostic per line on stdin; write "
     "reason<TAB>group<TAB>hard|soft per line",
     NULL, BW_OPT_CLI_ONLY},
    {OPT_RULES, "--rules", "DIR", "classification rules directory", NULL, 0},
    {OPT_RULES_CACHE, "--rules-cache", "DIR",
     "compiled-rules cache (\"\" = off)", NULL, 0},
    {OPT_HELP, "--help", NULL, "show this help", NULL, BW_OPT_CLI_ONLY},
};
#define NOPTS (sizeof(options) / sizeof(options[0]))
const bw_cmd_table_t bw__explain_table = {"explain", options, NOPTS};

static void usage(FILE *fp) {
  fprintf(fp, "usage: bouncewatch explain [OPTIONS] 'DIAGNOSTIC TEXT'\n"
              "       bouncewatch explain --batch [OPTIONS] < texts\n\n"
              "options:\n");
  bw__cli_help(fp, options, NOPTS);
}

typedef struct {
  const char *text, *status, *relay, *rules_dir, *rules_cache;
  unsigned reply;
  bw_stage_t stage;
  int batch;
} explain_args_t;

static int on_option(void *ctx, const bw_option_t *o, const char *val) {
  explain_args_t *a = ctx;
  unsigned long long v;
  int rc;
  if (o == NULL) {
    if (a->text != NULL) {
      fprintf(stderr, "bouncewatch explain: give the text as one argument "
                      "(quote it)\n");
      return BW_EXIT_USAGE;
    }
    a->text = val;
    return 0;
  }
  switch (o->id) {
  case OPT_STATUS:
    if (bw__pack_code(val, strlen(val)) == 0) {
      fprintf(stderr, "bouncewatch explain: --status wants X.Y.Z (class 2, 4 "
                      "or 5), got '%s'\n",
              val);
      return BW_EXIT_USAGE;
    }
    a->status = val;
    break;
  case OPT_REPLY:
    if ((rc = bw__cli_uint_opt("explain", o->name, val, 200, 599, &v)))
      return rc;
    a->reply = (unsigned)v;
    break;
  case OPT_STAGE: {
    int found = -1;
    for (int i = 0; i < BW_STAGE__COUNT; i++)
      if (strcmp(val, bw_stage_name((bw_stage_t)i)) == 0)
        found = i;
    if (found < 0) {
      fprintf(stderr, "bouncewatch explain: unknown stage '%s'\n", val);
      return BW_EXIT_USAGE;
    }
    a->stage = (bw_stage_t)found;
    break;
  }
  case OPT_RELAY:
    a->relay = val;
    break;
  case OPT_BATCH:
    a->batch = 1;
    break;
  case OPT_RULES:
    a->rules_dir = val;
    break;
  case OPT_RULES_CACHE:
    a->rules_cache = val;
    break;
  case OPT_HELP:
    usage(stdout);
    return -1;
  default:
    break;
  }
  return 0;
}

static bw_span_t cspan(const char *s) {
  bw_span_t v = {s, s != NULL ? (uint32_t)strlen(s) : 0};
  return v;
}

static const char *group_words(bw_group_t g) {
  switch (g) {
  case BW_GROUP_RECIPIENT:
    return "the recipient's side (address, mailbox or domain)";
  case BW_GROUP_SENDER_AUTH:
    return "our side: sender authentication (SPF, DKIM, DMARC, PTR)";
  case BW_GROUP_SENDER_REPUTATION:
    return "our side: sender reputation (blocklists, spam verdicts, rate "
           "limits)";
  case BW_GROUP_CONTENT_POLICY:
    return "content or policy (the message, or our sender address or relay "
           "setup)";
  case BW_GROUP_REMOTE_SYSTEM:
    return "the remote system (its error, not ours)";
  case BW_GROUP_NETWORK_TRANSIENT:
    return "network or transient (connections, DNS, timeouts)";
  default:
    return "not a failure";
  }
}

/* For blocked and badreputation: the blocklists named in the text, from
 * patterns/blocklists.tsv (name, match, delisting page). Not the hot
 * path: explain reads the small file once per call. */
static void name_blocklists(const char *dir, const char *text) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/blocklists.tsv", dir);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  char line[1024];
  while (fgets(line, sizeof(line), f) != NULL) {
    if (line[0] == '#' || strncmp(line, "name\t", 5) == 0)
      continue;
    line[strcspn(line, "\r\n")] = '\0';
    char *match = strchr(line, '\t');
    char *url = match != NULL ? strchr(match + 1, '\t') : NULL;
    if (url == NULL)
      continue;
    *match++ = '\0';
    *url++ = '\0';
    if (*match != '\0' && strcasestr(text, match) != NULL)
      printf("blocklist:  %s: ask for delisting at %s once the cause is "
             "fixed\n",
             line, url);
  }
  fclose(f);
}

static void explain_one(const bw_rules_t *rules, bw_classifier_t *c,
                        const explain_args_t *a, const char *dir) {
  bw_classify_in_t in = {cspan(a->text), cspan(a->status),
                         (uint16_t)a->reply, a->stage, cspan(a->relay)};
  bw_verdict_t v;
  bw_classify(c, &in, &v);
  printf("reason:     %s\n", bw_reason_name(v.reason));
  printf("group:      %s: %s\n", bw_group_name(v.group), group_words(v.group));
  printf("bounce:     %s, %s\n", v.hard ? "hard" : "soft",
         v.permanent == 1   ? "permanent"
         : v.permanent == 0 ? "temporary"
                            : "permanence unknown");
  printf("facts:      status %s, reply %s%u, stage %s\n",
         v.code[0] ? v.code : "none", v.reply_code ? "" : "none ",
         v.reply_code, bw_stage_name(v.stage));
  printf("decided by: %s", v.decided_by);
  if (strcmp(v.decided_by, "code") == 0)
    printf(" (status-code table: %s)", v.code);
  printf("\n");
  for (unsigned i = 0; i < v.n_rules && i < BW_VERDICT_RULES; i++) {
    bw_rule_ref_t ref;
    bw_rule_where(rules, v.rules[i], &ref);
    printf("  %s %s:%u: rule %u (%s) /%s/\n",
           i == 0 && strcmp(v.decided_by, "code") != 0 ? "decided" : "matched",
           ref.file, ref.line, ref.id, bw_reason_name(ref.reason), ref.expr);
  }
  if (v.n_rules > BW_VERDICT_RULES)
    printf("  (%u more matched)\n", v.n_rules - BW_VERDICT_RULES);
  const char *adv = bw_reason_advice(rules, v.reason);
  if (*adv != '\0')
    printf("advice:     %s\n", adv);
  if (v.reason == BW_REASON_BLOCKED || v.reason == BW_REASON_BADREPUTATION)
    name_blocklists(dir, a->text);
}

/* One output line per input line, whatever the line holds. */
static int batch(bw_classifier_t *c, const explain_args_t *a) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if (n > 0 && line[n - 1] == '\n')
      n--;
    if (n > 0 && line[n - 1] == '\r')
      n--;
    bw_span_t text = {line, (uint32_t)n};
    bw_classify_in_t in = {text, cspan(a->status), (uint16_t)a->reply,
                           a->stage, cspan(a->relay)};
    bw_verdict_t v;
    bw_classify(c, &in, &v);
    printf("%s\t%s\t%s\n", bw_reason_name(v.reason), bw_group_name(v.group),
           v.hard ? "hard" : "soft");
  }
  free(line);
  return fflush(stdout) == 0 && !ferror(stdout) ? BW_EXIT_OK : BW_EXIT_USAGE;
}

int bw__cmd_explain(int argc, char **argv) {
  explain_args_t a = {0};
  int rc = bw__cli_parse("explain", argc, argv, options, NOPTS, on_option, &a);
  if (rc != 0)
    return rc < 0 ? BW_EXIT_OK : rc;
  if (!a.batch && a.text == NULL) {
    usage(stderr);
    return BW_EXIT_USAGE;
  }
  bw_rules_t *rules = bw__cli_load_rules("explain", a.rules_dir, a.rules_cache);
  if (rules == NULL)
    return BW_EXIT_USAGE;
  bw_classifier_t *c = NULL;
  if (bw_classifier_new(rules, &c) != 0) {
    bw_rules_free(rules);
    return BW_EXIT_USAGE;
  }
  if (a.batch)
    rc = batch(c, &a);
  else
    explain_one(rules, c, &a, bw__cli_rules_dir(a.rules_dir));
  bw_classifier_free(c);
  bw_rules_free(rules);
  return rc;
}

int bw__cmd_check_rules(int argc, char **argv) {
  if (argc > 1 || (argc == 1 && argv[0][0] == '-')) {
    fprintf(stderr, "usage: bouncewatch check-rules [DIR]\n");
    return argc == 1 && strcmp(argv[0], "--help") == 0 ? BW_EXIT_OK
                                                        : BW_EXIT_USAGE;
  }
  const char *dir = bw__cli_rules_dir(argc == 1 ? argv[0] : NULL);
  /* No cache: check-rules must compile what is on disk now. */
  bw_rules_opts_t o = {"", stderr};
  bw_rules_t *r = NULL;
  unsigned nerr = 0;
  if (bw_rules_load(dir, &o, &r, &nerr) != 0) {
    fprintf(stderr, "%s: %u problem%s\n", dir, nerr, nerr == 1 ? "" : "s");
    return BW_EXIT_USAGE;
  }
  bw_rules_info_t info;
  bw_rules_info(r, &info);
  printf("%s: %u rules, %u status codes, %u Hyperscan database%s: OK\n", dir,
         info.rules, info.codes, info.databases,
         info.databases == 1 ? "" : "s");
  bw_rules_free(r);
  return BW_EXIT_OK;
}
