/* The HTTP server under /metrics: libuv TCP, http-parser for the request,
 * one request and one response per connection. It owns the connections
 * and their caps; what is answered is the handler's business. A client
 * that sends slowly, never sends, or never reads only holds its own
 * connection until the deadline: nothing here waits for one client. */
#include <http_parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"

typedef struct conn_s conn_t;

/* Connections closed to make room stay counted until their close
 * callbacks ran: this many more may exist for a moment. */
#define EVICTING_MAX 64

struct bw_http_s {
  uv_tcp_t listener;
  uv_loop_t *loop;
  bw_http_opts_t o;
  bw_http_handler_cb cb;
  void *arg;
  conn_t *conns; /* open connections, a doubly linked list */
  size_t nconns;
  int closing, listener_open;
  bw_http_stats_t stats;
};

struct conn_s {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wr;
  http_parser parser;
  bw_http_t *srv;
  conn_t *prev, *next;
  int handles;    /* open libuv handles (tcp, timer): freed at 0 */
  int closing, complete, answered;
  size_t got;     /* request bytes received */
  char url[1024];
  size_t urllen;
  int url_too_long;
  char head[256];
  bw_http_reply_t reply;
  char rbuf[4096];
};

static const http_parser_settings *settings(void);

static void maybe_free_server(bw_http_t *h) {
  if (h->closing && !h->listener_open && h->nconns == 0)
    free(h);
}

static void conn_closed(uv_handle_t *hd) {
  conn_t *c = hd->data;
  if (--c->handles > 0)
    return;
  bw_http_t *h = c->srv;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    h->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  h->nconns--;
  free(c->reply.body);
  free(c);
  maybe_free_server(h);
}

static void conn_close(conn_t *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, conn_closed);
  uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void deadline_cb(uv_timer_t *t) {
  conn_t *c = t->data;
  c->srv->stats.timeouts++;
  conn_close(c);
}

static void alloc_cb(uv_handle_t *hd, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  conn_t *c = hd->data;
  *b = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void write_cb(uv_write_t *wr, int status) {
  (void)status; /* sent or not (the peer went away), the connection ends */
  conn_close(wr->data);
}

static const char *reason_phrase(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 500: return "Internal Server Error";
  default: return "Unknown";
  }
}

/* Send the reply in c->reply (the handler's or an error of ours). */
static void respond(conn_t *c, int head_only) {
  c->answered = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
  bw_http_reply_t *r = &c->reply;
  if (r->ctype == NULL)
    r->ctype = "text/plain; charset=utf-8";
  int n = snprintf(c->head, sizeof(c->head),
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%zu\r\nConnection: close\r\n\r\n",
                   r->status, reason_phrase(r->status), r->ctype, r->len);
  if (n < 0 || (size_t)n >= sizeof(c->head)) {
    conn_close(c);
    return;
  }
  uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)n),
                      uv_buf_init(r->body, (unsigned)r->len)};
  c->wr.data = c;
  int nb = head_only || r->len == 0 ? 1 : 2;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, bufs, (unsigned)nb, write_cb) != 0)
    conn_close(c);
}

static void respond_error(conn_t *c, int status) {
  free(c->reply.body);
  c->reply.body = NULL;
  c->reply.status = status;
  c->reply.ctype = NULL;
  c->reply.len = 0;
  if (status >= 400 && status != 404 && status != 405)
    c->srv->stats.bad_requests++;
  respond(c, 0);
}

static void dispatch(conn_t *c) {
  bw_http_t *h = c->srv;
  if (c->url_too_long) {
    respond_error(c, 414);
    return;
  }
  c->url[c->urllen] = '\0';
  char *q = strchr(c->url, '?');
  if (q != NULL)
    *q = '\0';
  const char *method = http_method_str((enum http_method)c->parser.method);
  h->stats.requests++;
  memset(&c->reply, 0, sizeof(c->reply));
  c->reply.status = 500;
  h->cb(h->arg, method, c->url, &c->reply);
  respond(c, c->parser.method == HTTP_HEAD);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  conn_t *c = s->data;
  if (c->closing || c->answered)
    return;
  if (nread < 0) {
    conn_close(c); /* EOF or error before a whole request */
    return;
  }
  c->got += (size_t)nread;
  if (c->got > c->srv->o.max_request) {
    respond_error(c, 413);
    return;
  }
  size_t used = http_parser_execute(&c->parser, settings(), b->base,
                                    (size_t)nread);
  if (c->complete) {
    dispatch(c);
    return;
  }
  if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || used != (size_t)nread)
    respond_error(c, 400);
}

static int on_url(http_parser *p, const char *at, size_t n) {
  conn_t *c = p->data;
  if (c->urllen + n >= sizeof(c->url)) {
    c->url_too_long = 1;
    return 0;
  }
  memcpy(c->url + c->urllen, at, n);
  c->urllen += n;
  return 0;
}

static int on_complete(http_parser *p) {
  conn_t *c = p->data;
  c->complete = 1;
  /* Stop here: one request per connection; pipelined bytes are ignored. */
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings *settings(void) {
  static http_parser_settings s;
  static int init;
  if (!init) {
    http_parser_settings_init(&s);
    s.on_url = on_url;
    s.on_message_complete = on_complete;
    init = 1;
  }
  return &s;
}

static void refused_closed(uv_handle_t *hd) { free(hd); }

static void on_connection(uv_stream_t *ls, int status) {
  bw_http_t *h = ls->data;
  if (status != 0 || h->closing)
    return;
  if (h->nconns >= h->o.max_connections) {
    /* At the cap, the oldest connection still waiting for its request
     * (idle, or slow to send it) makes room: a flood of idle clients
     * then only churns among themselves, and a scraper, which sends its
     * request at once, is served. */
    conn_t *oldest = NULL;
    for (conn_t *x = h->conns; x != NULL; x = x->next)
      if (!x->closing && !x->complete)
        oldest = x; /* the list is newest first */
    if (oldest != NULL) {
      h->stats.evicted++;
      conn_close(oldest);
    }
  }
  if (h->nconns >= h->o.max_connections + EVICTING_MAX) {
    /* Still over (every one is being answered, or closing): accept and
     * close at once, so the backlog does not fill with clients we will
     * not serve. */
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t == NULL)
      return;
    uv_tcp_init(h->loop, t);
    if (uv_accept(ls, (uv_stream_t *)t) == 0)
      h->stats.refused++;
    uv_close((uv_handle_t *)t, refused_closed);
    return;
  }
  conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->srv = h;
  uv_tcp_init(h->loop, &c->tcp);
  uv_timer_init(h->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = h->conns;
  if (h->conns != NULL)
    h->conns->prev = c;
  h->conns = c;
  h->nconns++;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, deadline_cb, h->o.deadline_ms, 0);
}

/* "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT"; no host is 127.0.0.1
 * (never every interface unless asked). */
static int parse_listen(const char *listen, struct sockaddr_storage *sa) {
  char host[256] = "127.0.0.1";
  const char *colon = strrchr(listen, ':');
  const char *ps = colon ? colon + 1 : listen;
  if (*ps == '\0' || (colon != NULL && (size_t)(colon - listen) >= sizeof(host)))
    return UV_EINVAL;
  char *end;
  long port = strtol(ps, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    return UV_EINVAL;
  if (colon != NULL && colon > listen) {
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
  }
  size_t hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    host[hl - 1] = '\0';
    return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)sa);
  }
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa);
}

static void listener_closed(uv_handle_t *hd) {
  bw_http_t *h = hd->data;
  h->listener_open = 0;
  maybe_free_server(h);
}

int bw__http_start(uv_loop_t *loop, const char *listen,
                   const bw_http_opts_t *opts, bw_http_handler_cb cb,
                   void *arg, bw_http_t **out, char *bound, size_t boundlen) {
  *out = NULL;
  /* A client gone before its answer must not kill us with SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_storage sa;
  memset(&sa, 0, sizeof(sa));
  int e = parse_listen(listen, &sa);
  if (e != 0)
    return e;
  bw_http_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return UV_ENOMEM;
  h->loop = loop;
  h->cb = cb;
  h->arg = arg;
  h->o.max_request = 8192;
  h->o.max_connections = 64;
  h->o.deadline_ms = 10000;
  if (opts != NULL) {
    if (opts->max_request)
      h->o.max_request = opts->max_request;
    if (opts->max_connections)
      h->o.max_connections = opts->max_connections;
    if (opts->deadline_ms)
      h->o.deadline_ms = opts->deadline_ms;
  }
  uv_tcp_init(loop, &h->listener);
  h->listener.data = h;
  h->listener_open = 1;
  /* uv_tcp_bind can succeed on a port in use; uv_listen is where
   * EADDRINUSE shows (libuv tcp.rst). */
  e = uv_tcp_bind(&h->listener, (const struct sockaddr *)&sa, 0);
  if (e == 0)
    e = uv_listen((uv_stream_t *)&h->listener, 128, on_connection);
  if (e == 0) {
    struct sockaddr_storage got;
    int len = sizeof(got);
    char ip[64] = "?";
    e = uv_tcp_getsockname(&h->listener, (struct sockaddr *)&got, &len);
    if (e == 0 && got.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&got, ip, sizeof(ip));
      snprintf(bound, boundlen, "[%s]:%d", ip,
               ntohs(((struct sockaddr_in6 *)&got)->sin6_port));
    } else if (e == 0) {
      uv_ip4_name((struct sockaddr_in *)&got, ip, sizeof(ip));
      snprintf(bound, boundlen, "%s:%d", ip,
               ntohs(((struct sockaddr_in *)&got)->sin_port));
    }
  }
  if (e != 0) {
    h->closing = 1;
    uv_close((uv_handle_t *)&h->listener, listener_closed);
    return e;
  }
  *out = h;
  return 0;
}

void bw__http_close(bw_http_t *h) {
  if (h == NULL || h->closing)
    return;
  h->closing = 1;
  for (conn_t *c = h->conns; c != NULL; c = c->next)
    conn_close(c);
  uv_close((uv_handle_t *)&h->listener, listener_closed);
}

const bw_http_stats_t *bw__http_stats(const bw_http_t *h) { return &h->stats; }
