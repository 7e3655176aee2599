/* libFuzzer harness for the /metrics request path: the real server
 * (engine/http_server.c, http-parser underneath) on a libuv loop in this
 * process, listening on 127.0.0.1 at a free port. Each input is sent by a
 * TCP client as one connection: a control byte gives the size of the
 * writes (1..64 bytes, the loop turning between them), the rest is the
 * request. The server must answer with one well-formed status line (or
 * close without a word when no request came) and close the connection;
 * nothing may crash, leak or hang (each connection is bounded by a number
 * of loop turns), and the server must keep serving the next input. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "http_server.h"
#include "fuzz_util.h"

static uv_loop_t loop;
static bw_http_t *srv;
static int port;

static void handler(void *arg, const char *method, const char *path,
                    bw_http_reply_t *r) {
  (void)arg;
  CHECK(method != NULL && path != NULL);
  if (strcmp(path, "/metrics") != 0) {
    r->status = 404;
    return;
  }
  r->status = 200;
  r->ctype = "text/plain; version=0.0.4";
  r->body = strdup("bouncewatch_up 1\n");
  r->len = r->body != NULL ? strlen(r->body) : 0;
}

static void start(void) {
  if (uv_loop_init(&loop) != 0)
    abort();
  bw_http_opts_t o = {4096, 8, 2000};
  char bound[64];
  if (bw__http_start(&loop, "127.0.0.1:0", &o, handler, NULL, &srv, bound,
                     sizeof(bound)) != 0)
    abort();
  const char *colon = strrchr(bound, ':');
  CHECK(colon != NULL);
  port = atoi(colon + 1);
}

/* Turn the loop a little, then wait for the client socket up to 1 ms. */
static void turn(int fd, short events) {
  uv_run(&loop, UV_RUN_NOWAIT);
  struct pollfd p = {fd, events, 0};
  poll(&p, 1, 1);
  uv_run(&loop, UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (srv == NULL)
    start();
  if (size < 1)
    return 0;
  size_t chunk = 1 + data[0] % 64;
  data++;
  size--;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  /* Each connection from another 127.x.y.z: closed connections linger
   * in TIME_WAIT, and thousands a second from one address would use up
   * its ports. */
  static uint32_t next_src;
  next_src = (next_src + 1) % 0xFFFFFE;
  struct sockaddr_in src;
  memset(&src, 0, sizeof(src));
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7F000000u | (next_src + 1));
  CHECK(bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Non-blocking from the start: libFuzzer's timer signal would cut a
   * blocking connect short (EINTR). */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    CHECK(errno == EINPROGRESS || errno == EINTR);
    int err = EINPROGRESS;
    for (int i = 0; i < 5000 && err == EINPROGRESS; i++) {
      turn(fd, POLLOUT);
      struct pollfd p = {fd, POLLOUT, 0};
      if (poll(&p, 1, 0) == 1) {
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err != 0) {
      fprintf(stderr, "connect: %s\n", strerror(err));
      abort();
    }
  }
  /* Send in pieces while the server reads; it may answer (and close)
   * before everything is sent: a 413 or a 400 midway. */
  size_t off = 0;
  int turns = 0;
  while (off < size && turns < 20000) {
    size_t n = size - off < chunk ? size - off : chunk;
    ssize_t w = send(fd, data + off, n, MSG_NOSIGNAL);
    if (w > 0)
      off += (size_t)w;
    else if (errno != EAGAIN && errno != EWOULDBLOCK)
      break;
    turn(fd, POLLOUT);
    turns++;
  }
  shutdown(fd, SHUT_WR);
  char resp[8192];
  size_t got = 0;
  int closed = 0;
  for (turns = 0; turns < 5000 && !closed; turns++) {
    turn(fd, POLLIN);
    for (;;) {
      ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
      if (r > 0) {
        got += (size_t)r;
        if (got == sizeof(resp) - 1)
          got = 64; /* keep the status line, drop the rest */
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
        closed = 1;
      break;
    }
  }
  CHECK(closed); /* the server ends every connection */
  resp[got] = '\0';
  if (got > 0) {
    int status = 0;
    CHECK(sscanf(resp, "HTTP/1.1 %3d ", &status) == 1);
    CHECK(status == 200 || status == 400 || status == 404 || status == 405 ||
          status == 413 || status == 414 || status == 431 || status == 500);
  }
  close(fd);
  /* Let the server finish closing its side. */
  for (int i = 0; i < 4; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  return 0;
}
