/* bouncewatch error codes: 0 or a negative BW_E* value, one table, one
 * bw_strerror(). Every fallible public call returns one of these. */
#ifndef BOUNCEWATCH_ERROR_H
#define BOUNCEWATCH_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). Values are stable: they appear in exit paths. */
#define BW_ERRNO_MAP(X)                                                       \
  X(NOMEM, -1, "out of memory")                                               \
  X(IO, -2, "input/output error")                                             \
  X(INVAL, -3, "invalid argument")                                            \
  X(TRUNC, -4, "input ends inside a compressed frame (truncated)")            \
  X(CORRUPT, -5, "corrupt compressed data")                                   \
  X(UNSUPPORTED, -6, "unsupported input format")                              \
  X(WINDOW, -7, "zstd window larger than the configured limit")              \
  X(NOENT, -8, "no such file or directory")                                   \
  X(ISDIR, -9, "is a directory")                                              \
  X(ACCES, -10, "permission denied")                                          \
  X(PARSE, -11, "parse error")                                                \
  X(AGAIN, -12, "more input needed")

typedef enum {
#define BW_ERR_ENUM(name, val, msg) BW_E##name = (val),
  BW_ERRNO_MAP(BW_ERR_ENUM)
#undef BW_ERR_ENUM
} bw_err_t;

/* Static string for a BW_E* code (or "unknown error"); never NULL. */
const char *bw_strerror(int err);

/* Map a positive errno value to the closest BW_E* code. */
int bw_err_from_errno(int errnum);

#ifdef __cplusplus
}
#endif
#endif
