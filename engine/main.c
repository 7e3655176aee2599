/* bouncewatch's entry point: dispatch to a command (cmd_*.c). Exit codes:
 * 0 success, 1 usage or fatal error, 2 the run finished but some input
 * could not be read completely. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *fp) {
  fprintf(fp,
          "usage: bouncewatch COMMAND [OPTIONS] [ARGS]\n\n"
          "commands:\n"
          "  replay FILE...       summarise Postfix/Exim logs, classifying "
          "every failed delivery\n"
          "  report FILE...       which sender domains bounce too much, since "
          "when, why, where\n"
          "  watch PATH...        follow logs live across rotation, keep the "
          "report\n"
          "  explain 'TEXT'       reason, group, hard/soft and advice for one "
          "diagnostic\n"
          "  explain --batch      one diagnostic per stdin line -> "
          "reason<TAB>group<TAB>hard|soft\n"
          "  check-rules [DIR]    validate the rule files (default: the "
          "patterns/ in use)\n"
          "  config --dump        the effective configuration (file, then "
          "flags)\n"
          "  --version\n\n"
          "Run 'bouncewatch COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return BW_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "replay") == 0)
    return bw__cmd_replay(argc - 2, argv + 2);
  if (strcmp(cmd, "watch") == 0)
    return bw__cmd_watch(argc - 2, argv + 2);
  if (strcmp(cmd, "report") == 0)
    return bw__cmd_report(argc - 2, argv + 2);
  if (strcmp(cmd, "explain") == 0)
    return bw__cmd_explain(argc - 2, argv + 2);
  if (strcmp(cmd, "check-rules") == 0)
    return bw__cmd_check_rules(argc - 2, argv + 2);
  if (strcmp(cmd, "config") == 0)
    return bw__cmd_config(argc - 2, argv + 2);
  if (strcmp(cmd, "--version") == 0) {
    printf("bouncewatch %s\n", BW_VERSION);
    return BW_EXIT_OK;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return BW_EXIT_OK;
  }
  fprintf(stderr, "bouncewatch: unknown command '%s'\n", cmd);
  usage(stderr);
  return BW_EXIT_USAGE;
}
