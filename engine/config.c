/* The configuration file (config.h): libinih reads the INI syntax, this
 * file checks every key against the commands' option tables and hands
 * the values to a command's option callback before its command line.
 * The dump and the README list are cmd_config.c's. */
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bouncewatch/error.h"
#include "config.h"

/* Longest line accepted (a path plus its key). */
#define LINE_MAX_BYTES 4096

const char *bw__config_path(int argc, char **argv, int *named) {
  *named = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      *named = 1;
      return argv[i + 1];
    }
    if (strncmp(argv[i], "--config=", 9) == 0) {
      *named = 1;
      return argv[i] + 9;
    }
  }
  const char *e = getenv("BW_CONFIG");
  if (e != NULL) {
    if (*e == '\0')
      return NULL;
    *named = 1;
    return e;
  }
  return access(BW_DEFAULT_CONFIG, F_OK) == 0 ? BW_DEFAULT_CONFIG : NULL;
}

int bw__config_bool(const char *v) {
  static const char *const yes[] = {"yes", "true", "on", "1"};
  static const char *const no[] = {"no", "false", "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0)
      return 1;
    if (strcasecmp(v, no[i]) == 0)
      return 0;
  }
  return -1;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
  FILE *f, *diag;
  const char *path;
  unsigned line; /* of the line being parsed */
  unsigned errors;
  const bw_cmd_table_t *const *cmds;
  size_t ncmds;
  bw_config_t *out;
  int nomem;
} reader_t;

/* fgets for libinih that counts lines (its handler is not told the line
 * in Debian's build) and refuses whole a line that is over-long (rather
 * than let its tail be parsed as a line of its own) or holds a NUL byte
 * (which would cut it short unseen). */
static char *read_line(char *str, int num, void *stream) {
  reader_t *r = stream;
  size_t n = 0, max = (size_t)num - 1;
  int c = EOF, nul = 0;
  while (n < max && (c = getc(r->f)) != EOF) {
    nul |= c == '\0';
    str[n++] = (char)c;
    if (c == '\n')
      break;
  }
  if (n == 0)
    return NULL;
  str[n] = '\0';
  r->line++;
  int too_long = 0;
  if (str[n - 1] != '\n' && n == max && (c = getc(r->f)) != EOF &&
      c != '\n') {
    too_long = 1;
    while (c != EOF && c != '\n') /* the rest of the line */
      c = getc(r->f);
  }
  if (too_long || nul) {
    if (too_long)
      fprintf(r->diag, "%s:%u: line longer than %d bytes\n", r->path, r->line,
              num - 3);
    else
      fprintf(r->diag, "%s:%u: NUL byte in the line\n", r->path, r->line);
    r->errors++;
    str[0] = '\0'; /* an empty line */
    return str;
  }
  /* libinih names only the first line it cannot parse; every one is
   * named here (and given to it as an empty line). */
  const char *p = str;
  while (*p == ' ' || *p == '\t')
    p++;
  size_t len = strcspn(p, "\r\n");
  while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
    len--;
  int ok = len == 0 || *p == ';' || *p == '#' ||
           (*p == '[' && p[len - 1] == ']') ||
           (*p != '[' && (memchr(p, '=', len) || memchr(p, ':', len)));
  if (!ok) {
    fprintf(r->diag, "%s:%u: not a key = value line or [section]\n", r->path,
            r->line);
    r->errors++;
    str[0] = '\0';
  }
  return str;
}

static const bw_option_t *find_opt(const bw_cmd_table_t *t, const char *key) {
  for (size_t i = 0; i < t->nopts; i++)
    if (strcmp(t->opts[i].name + 2, key) == 0)
      return &t->opts[i];
  return NULL;
}

/* The problem with key in section, or NULL when it is a key. */
static const char *check_key(reader_t *r, const char *section, const char *key,
                             const char *value) {
  const bw_option_t *o = NULL;
  int known_section = section[0] == '\0';
  for (size_t i = 0; i < r->ncmds; i++) {
    if (section[0] != '\0' && strcmp(section, r->cmds[i]->cmd) != 0)
      continue;
    known_section = 1;
    const bw_option_t *x = find_opt(r->cmds[i], key);
    if (x != NULL && (o == NULL || (o->flags & BW_OPT_CLI_ONLY)))
      o = x;
  }
  if (!known_section)
    return "unknown section (replay, report, watch, explain)";
  if (o == NULL)
    return "unknown option";
  if (o->flags & BW_OPT_CLI_ONLY)
    return "a command-line option only";
  if (o->arg == NULL && bw__config_bool(value) < 0)
    return "a flag wants yes or no";
  return NULL;
}

static char *copy_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

static int on_pair(void *user, const char *section, const char *key,
                   const char *value) {
  reader_t *r = user;
  const char *why = check_key(r, section, key, value);
  if (why != NULL) {
    fprintf(r->diag, "%s:%u: %s%s%s: %s\n", r->path, r->line,
            section[0] ? section : "", section[0] ? "." : "", key, why);
    r->errors++;
    return 1; /* go on: every problem is reported */
  }
  bw_config_t *c = r->out;
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 16;
    bw_config_item_t *v = realloc(c->items, cap * sizeof(*v));
    if (v == NULL) {
      r->nomem = 1;
      return 0;
    }
    c->items = v;
    c->cap = cap;
  }
  bw_config_item_t *it = &c->items[c->n];
  it->section = copy_str(section);
  it->key = copy_str(key);
  it->value = copy_str(value);
  it->line = r->line;
  c->n++; /* counted now so bw__config_free() frees a partial item */
  if (it->section == NULL || it->key == NULL || it->value == NULL) {
    r->nomem = 1;
    return 0;
  }
  return 1;
}

int bw__config_load(const char *path, const bw_cmd_table_t *const *cmds,
                    size_t ncmds, FILE *diag, bw_config_t *out) {
  memset(out, 0, sizeof(*out));
  if (diag == NULL)
    diag = stderr;
  if ((out->path = copy_str(path)) == NULL)
    return BW_ENOMEM;
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    int e = errno;
    fprintf(diag, "%s: %s\n", path, strerror(e));
    return bw_err_from_errno(e);
  }
  reader_t r = {f, diag, path, 0, 0, cmds, ncmds, out, 0};
  /* A heap line buffer of our size: the default stack buffer is 200
   * bytes, short for paths. (Debian's libinih makes these run-time.) */
  ini_use_stack = 0;
  ini_allow_realloc = 0;
  ini_allow_multiline = 0; /* an indented line is a line of its own */
  ini_initial_alloc = ini_max_line = LINE_MAX_BYTES + 3;
  int rc = ini_parse_stream(read_line, &r, on_pair, &r);
  int rd_err = ferror(f);
  fclose(f);
  if (rc == -2 || r.nomem)
    return BW_ENOMEM;
  if (rd_err) {
    fprintf(diag, "%s: read error\n", path);
    return BW_EIO;
  }
  if (rc > 0 && r.errors == 0) {
    /* libinih's own syntax error (a line without '=', a broken section
     * header); it names the first such line. */
    fprintf(diag, "%s:%d: not a key = value line or [section]\n", path, rc);
    r.errors++;
  }
  return r.errors ? BW_EPARSE : 0;
}

void bw__config_free(bw_config_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->items[i].section);
    free(c->items[i].key);
    free(c->items[i].value);
  }
  free(c->items);
  free(c->path);
  memset(c, 0, sizeof(*c));
}

/* ---- applying ------------------------------------------------------------ */

int bw__config_on_cli(const bw_option_t *o, int argc, char **argv) {
  size_t n = strlen(o->name);
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if (strncmp(argv[i], o->name, n) == 0 &&
        (argv[i][n] == '\0' || argv[i][n] == '='))
      return 1;
    if (strcmp(argv[i], "--config") == 0)
      i++; /* its argument is a path, not an option */
  }
  return 0;
}

int bw__config_apply(const bw_config_t *c, const bw_cmd_table_t *t, int argc,
                     char **argv, bw_option_cb cb, void *ctx) {
  for (size_t k = 0; k < t->nopts; k++) {
    const bw_option_t *o = &t->opts[k];
    if ((o->flags & BW_OPT_CLI_ONLY) || bw__config_on_cli(o, argc, argv))
      continue;
    /* The command's section, if it sets the option; else the values
     * outside any section. */
    int own = 0;
    for (size_t i = 0; i < c->n && !own; i++)
      own = strcmp(c->items[i].section, t->cmd) == 0 &&
            strcmp(c->items[i].key, o->name + 2) == 0;
    for (size_t i = 0; i < c->n; i++) {
      const bw_config_item_t *it = &c->items[i];
      if (strcmp(it->key, o->name + 2) != 0 ||
          strcmp(it->section, own ? t->cmd : "") != 0)
        continue;
      int rc;
      if (o->arg == NULL)
        rc = bw__config_bool(it->value) == 1 ? cb(ctx, o, NULL) : 0;
      else
        rc = cb(ctx, o, it->value);
      if (rc != 0) {
        if (rc > 0)
          fprintf(stderr, "bouncewatch %s: (%s comes from %s:%u)\n", t->cmd,
                  o->name + 2, c->path, it->line);
        return rc;
      }
    }
  }
  return 0;
}
