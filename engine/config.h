/* The configuration file: an INI file (libinih) whose keys are the
 * commands' options without "--", in a [replay], [report], [watch] or
 * [explain] section, or before any section for every command that has
 * the option. The option tables (cli.h) are the only list of keys; the
 * command line overrides the file. Internal to the bouncewatch program. */
#ifndef BW_CONFIG_H
#define BW_CONFIG_H

#include <stdio.h>

#include "cli.h"

typedef struct {
  char *section; /* "" before any section */
  char *key;
  char *value;
  unsigned line;
} bw_config_item_t;

typedef struct {
  char *path;
  bw_config_item_t *items; /* in file order */
  size_t n, cap;
} bw_config_t;

/* The file to read: --config FILE (or --config=FILE) in argv, else
 * $BW_CONFIG ("" for none), else BW_DEFAULT_CONFIG when it exists; NULL
 * for none. *named is set when it was asked for (it must then exist). */
const char *bw__config_path(int argc, char **argv, int *named);

/* Read and check path against the tables: unknown sections and keys,
 * command-line-only options, flag values other than yes/no/true/false/
 * on/off/1/0, lines libinih cannot parse. Each problem goes to diag as
 * "FILE:LINE: message"; any makes the load fail with BW_EPARSE. A file
 * that cannot be opened: BW_ENOENT / BW_EACCES / BW_EIO, said on diag.
 * out is freed with bw__config_free() whatever the result. */
int bw__config_load(const char *path, const bw_cmd_table_t *const *cmds,
                    size_t ncmds, FILE *diag, bw_config_t *out);
void bw__config_free(bw_config_t *c);

/* 1 when the flag value is true, 0 false, -1 neither. */
int bw__config_bool(const char *v);

/* Whether option o appears in argv (as NAME or NAME=VALUE). */
int bw__config_on_cli(const bw_option_t *o, int argc, char **argv);

/* Give cb the file's values for command t, in table order, skipping
 * options the command line sets: the command's own section wins over
 * the unsectioned values. A flag set true is given with val NULL. When
 * cb refuses a value, says which FILE:LINE it came from and returns
 * cb's code. */
int bw__config_apply(const bw_config_t *c, const bw_cmd_table_t *t, int argc,
                     char **argv, bw_option_cb cb, void *ctx);

#endif
