/* A small HTTP/1.x server on the libuv loop for GET endpoints such as
 * /metrics: requests are parsed by http-parser, one response per
 * connection (Connection: close). Bounded: request bytes, connections at
 * once, and an idle/slow deadline per connection, so a slow or silent
 * client never blocks the others nor holds memory for long. Internal to
 * the engine. */
#ifndef BW_HTTP_SERVER_H
#define BW_HTTP_SERVER_H

#include <stddef.h>
#include <uv.h>

typedef struct {
  int status;          /* 200, 404, ... */
  const char *ctype;   /* Content-Type */
  char *body;          /* malloc'd; the server frees it */
  size_t len;
} bw_http_reply_t;

/* Called on the loop thread for each complete request; fills *r. method
 * is "GET", "HEAD", ...; path is the URL without the query. */
typedef void (*bw_http_handler_cb)(void *arg, const char *method,
                                   const char *path, bw_http_reply_t *r);

typedef struct {
  size_t max_request;     /* bytes of request line + headers (8192) */
  size_t max_connections; /* open at once; more are closed at once (64) */
  uint64_t deadline_ms;   /* a connection's whole life (10000) */
} bw_http_opts_t;

typedef struct bw_http_s bw_http_t;

/* Listen on "HOST:PORT" (IPv4 or [IPv6]; "PORT" or ":PORT" alone is
 * 127.0.0.1; port 0 = any free port) on
 * loop. The bound address is written to bound ("127.0.0.1:40123").
 * 0 or a negative libuv error (UV_EADDRINUSE, UV_EINVAL for a bad
 * address). opts NULL: defaults. */
int bw__http_start(uv_loop_t *loop, const char *listen,
                   const bw_http_opts_t *opts, bw_http_handler_cb cb,
                   void *arg, bw_http_t **out, char *bound, size_t boundlen);

/* Close the listener and every connection; the memory goes when the
 * loop has run their close callbacks. NULL is a no-op. */
void bw__http_close(bw_http_t *h);

/* Requests answered and connections refused or cut (over a cap or the
 * deadline), for the server's own metrics and the tests. `evicted`:
 * connections still without a request closed to make room for a new one
 * at the cap. */
typedef struct {
  uint64_t requests, refused, timeouts, bad_requests, evicted;
} bw_http_stats_t;
const bw_http_stats_t *bw__http_stats(const bw_http_t *h);

#endif
