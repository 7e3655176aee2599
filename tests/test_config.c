/* The configuration file reader (engine/config.c) on its own, with a
 * made-up command table: every problem named FILE:LINE, the command's
 * section over the unsectioned keys, the command line over both (all of
 * a repeatable option's values), flags, and which file is read. */
#include <stdlib.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "config.h"
#include "t_util.h"

enum { O_JSON, O_WINDOW, O_MIN, O_RULES, O_HELP };
static const bw_option_t opts[] = {
    {O_JSON, "--json", NULL, "json", NULL, 0},
    {O_WINDOW, "--window", "S", "windows", "3600 86400", BW_OPT_REPEAT},
    {O_MIN, "--min-volume", "N", "volume", "100", 0},
    {O_RULES, "--rules", "DIR", "rules", NULL, 0},
    {O_HELP, "--help", NULL, "help", NULL, BW_OPT_CLI_ONLY},
};
static const bw_cmd_table_t report = {"report", opts, 5};
static const bw_option_t wopts[] = {
    {O_RULES, "--rules", "DIR", "rules", NULL, 0},
};
static const bw_cmd_table_t watch = {"watch", wopts, 1};
static const bw_cmd_table_t *const cmds[] = {&report, &watch};

static char path[64];

static void write_file(const char *text) {
  strcpy(path, "/tmp/bw_test_config.XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

/* Load path; the diagnostics into *diag (caller frees). */
static int load(bw_config_t *c, char **diag) {
  size_t len;
  FILE *d = open_memstream(diag, &len);
  int rc = bw__config_load(path, cmds, 2, d, c);
  fclose(d);
  return rc;
}

typedef struct {
  char got[512];
} rec_t;

static int record(void *ctx, const bw_option_t *o, const char *val) {
  rec_t *r = ctx;
  size_t n = strlen(r->got);
  snprintf(r->got + n, sizeof(r->got) - n, "%s=%s;", o->name + 2,
           val ? val : "(flag)");
  return 0;
}

static void test_problems_named_by_line(void **state) {
  (void)state;
  write_file("; comment\n"
             "rules = /r\n"
             "[report]\n"
             "bogus = 1\n"
             "help = yes\n"
             "json = perhaps\n"
             "\n"
             "[nosuch]\n"
             "x = 1\n"
             "no equals here\n"
             "min-volume = 5\n");
  bw_config_t c;
  char *diag = NULL;
  assert_int_equal(load(&c, &diag), BW_EPARSE);
  char want[1024];
  snprintf(want, sizeof(want),
           "%s:4: report.bogus: unknown option\n"
           "%s:5: report.help: a command-line option only\n"
           "%s:6: report.json: a flag wants yes or no\n"
           "%s:9: nosuch.x: unknown section (replay, report, watch, explain)\n"
           "%s:10: not a key = value line or [section]\n"
           "%s:11: nosuch.min-volume: unknown section (replay, report, watch, "
           "explain)\n",
           path, path, path, path, path, path);
  assert_string_equal(diag, want);
  free(diag);
  bw__config_free(&c);
  unlink(path);
}

static void test_precedence(void **state) {
  (void)state;
  write_file("rules = /common\n"
             "min-volume = 1\n" /* only report has it: fine unsectioned */
             "[report]\n"
             "json = yes\n"
             "window = 600\n"
             "window = 1200\n"
             "min-volume = 7\n"
             "[watch]\n"
             "rules = /watch\n");
  bw_config_t c;
  char *diag = NULL;
  assert_int_equal(load(&c, &diag), 0);
  assert_string_equal(diag, "");
  free(diag);
  rec_t r = {""};
  /* File only: table order, the section's min-volume, the common rules. */
  assert_int_equal(bw__config_apply(&c, &report, 0, NULL, record, &r), 0);
  assert_string_equal(r.got, "json=(flag);window=600;window=1200;min-volume=7;rules=/common;");
  /* watch's own section wins over the unsectioned key. */
  r.got[0] = '\0';
  assert_int_equal(bw__config_apply(&c, &watch, 0, NULL, record, &r), 0);
  assert_string_equal(r.got, "rules=/watch;");
  /* Options on the command line are left to it, repeatable ones whole. */
  char *argv[] = {"--window", "300", "--min-volume=9", "log"};
  r.got[0] = '\0';
  assert_int_equal(bw__config_apply(&c, &report, 4, argv, record, &r), 0);
  assert_string_equal(r.got, "json=(flag);rules=/common;");
  bw__config_free(&c);
  unlink(path);
}

static int refuse(void *ctx, const bw_option_t *o, const char *val) {
  (void)ctx;
  return strcmp(o->name, "--min-volume") == 0 && strcmp(val, "0") == 0;
}

static void test_refused_value_stops(void **state) {
  (void)state;
  write_file("[report]\nmin-volume = 0\nrules = /r\n");
  bw_config_t c;
  char *diag = NULL;
  assert_int_equal(load(&c, &diag), 0);
  free(diag);
  assert_int_equal(bw__config_apply(&c, &report, 0, NULL, refuse, NULL), 1);
  bw__config_free(&c);
  unlink(path);
}

static void test_which_file(void **state) {
  (void)state;
  int named;
  char *a1[] = {"--json", "--config", "/x.conf"};
  assert_string_equal(bw__config_path(3, a1, &named), "/x.conf");
  assert_int_equal(named, 1);
  char *a2[] = {"--config=/y.conf"};
  assert_string_equal(bw__config_path(1, a2, &named), "/y.conf");
  char *a3[] = {"--", "--config=/z.conf"}; /* an operand after -- */
  setenv("BW_CONFIG", "/env.conf", 1);
  assert_string_equal(bw__config_path(2, a3, &named), "/env.conf");
  setenv("BW_CONFIG", "", 1);
  assert_null(bw__config_path(2, a3, &named));
  assert_int_equal(named, 0);
  assert_int_equal(bw__config_bool("Yes"), 1);
  assert_int_equal(bw__config_bool("off"), 0);
  assert_int_equal(bw__config_bool("2"), -1);
  /* A missing file is an error of its own, said with its name. */
  bw_config_t c;
  char *diag = NULL;
  strcpy(path, "/nonexistent/bw.conf");
  assert_int_equal(load(&c, &diag), BW_ENOENT);
  assert_non_null(strstr(diag, "/nonexistent/bw.conf: No such file"));
  free(diag);
  bw__config_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_problems_named_by_line),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_refused_value_stops),
      cmocka_unit_test(test_which_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
