/* libFuzzer harness for the configuration file reader (engine/config.c,
 * libinih underneath): the whole input is one file. Two commands with a
 * flag, a valued option, a repeatable one and a command-line-only one
 * stand in for the real tables. A load returns 0 or BW_EPARSE (every
 * problem said as FILE:LINE); an accepted file has every item in a known
 * section with a key, a value and a line inside the file; applying it
 * gives the callback only options of the command, flags without a value
 * only when true; nothing leaks whatever the result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "config.h"
#include "fuzz_util.h"

static const bw_option_t a_opts[] = {
    {1, "--json", NULL, "a flag", NULL, 0},
    {2, "--window", "SECONDS", "repeatable", "3600", BW_OPT_REPEAT},
    {3, "--rules", "DIR", "a value", NULL, 0},
    {4, "--help", NULL, "command line only", NULL, BW_OPT_CLI_ONLY},
};
static const bw_option_t b_opts[] = {
    {1, "--state", "PATH", "a value", NULL, 0},
    {2, "--poll-only", NULL, "a flag", NULL, 0},
    {3, "--rules", "DIR", "shared with a", NULL, 0},
};
static const bw_cmd_table_t ta = {"report", a_opts, 4}, tb = {"watch", b_opts, 3};
static const bw_cmd_table_t *const cmds[2] = {&ta, &tb};

typedef struct {
  const bw_cmd_table_t *t;
  size_t calls;
} apply_t;

static int on_value(void *ctx, const bw_option_t *o, const char *val) {
  apply_t *a = ctx;
  int mine = 0;
  for (size_t i = 0; i < a->t->nopts; i++)
    mine |= o == &a->t->opts[i];
  CHECK(mine);
  CHECK(!(o->flags & BW_OPT_CLI_ONLY));
  CHECK((o->arg == NULL) == (val == NULL));
  a->calls++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *devnull;
  if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
    abort();
  int fd = memfd_create("fuzz-config", 0);
  if (fd < 0)
    return 0;
  if (size > 0 && write(fd, data, size) != (ssize_t)size) {
    close(fd);
    return 0;
  }
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  bw_config_t c;
  int rc = bw__config_load(path, cmds, 2, devnull, &c);
  CHECK(rc == 0 || rc == BW_EPARSE || rc == BW_ENOMEM);
  if (rc == 0) {
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
      lines += data[i] == '\n';
    for (size_t i = 0; i < c.n; i++) {
      const bw_config_item_t *it = &c.items[i];
      CHECK(it->section != NULL && it->key != NULL && it->value != NULL);
      CHECK(it->line >= 1 && it->line <= lines);
      CHECK(it->section[0] == '\0' || strcmp(it->section, "report") == 0 ||
            strcmp(it->section, "watch") == 0);
    }
    char *argv[] = {"bouncewatch", "--rules", "x", NULL};
    for (int k = 0; k < 2; k++) {
      apply_t a = {cmds[k], 0};
      bw__config_apply(&c, cmds[k], 3, argv, on_value, &a);
    }
  }
  bw__config_free(&c);
  close(fd);
  return 0;
}
