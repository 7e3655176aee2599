/* The one error table: BW_E* codes to messages, errno to BW_E*. */
#include <errno.h>

#include "bouncewatch/error.h"

const char *bw_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define BW_ERR_CASE(name, val, msg)                                            \
  case BW_E##name:                                                             \
    return msg;
    BW_ERRNO_MAP(BW_ERR_CASE)
#undef BW_ERR_CASE
  default:
    return "unknown error";
  }
}

int bw_err_from_errno(int errnum) {
  switch (errnum) {
  case 0:
    return 0;
  case ENOMEM:
    return BW_ENOMEM;
  case ENOENT:
  case ENOTDIR:
    return BW_ENOENT;
  case EISDIR:
    return BW_EISDIR;
  case EACCES:
  case EPERM:
    return BW_EACCES;
  case EINVAL:
    return BW_EINVAL;
  case EAGAIN:
    return BW_EAGAIN;
  default:
    return BW_EIO;
  }
}
