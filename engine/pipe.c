/* The per-line pipeline: parse, count, classify, callback. Sent lines and
 * non-delivery lines never touch the reason database. */
#include <string.h>

#include "bouncewatch/error.h"
#include "pipe.h"

int bw__pipe_init(bw__pipe_t *p, const bw_rules_t *rules,
                  bw_replay_stats_t *stats, bw_event_cb cb, void *cb_arg) {
  memset(p, 0, sizeof(*p));
  p->stats = stats;
  p->cb = cb;
  p->cb_arg = cb_arg;
  if (bw_parser_new(&p->parser) != 0)
    return BW_ENOMEM;
  if (rules != NULL && bw_classifier_new(rules, &p->classifier) != 0) {
    bw__pipe_close(p);
    return BW_ENOMEM;
  }
  return 0;
}

void bw__pipe_close(bw__pipe_t *p) {
  bw_parser_free(p->parser);
  bw_classifier_free(p->classifier);
  p->parser = NULL;
  p->classifier = NULL;
}

static void count_event(bw_replay_stats_t *s, const bw_event_t *ev) {
  s->by_kind[ev->kind]++;
  s->by_mta[ev->mta]++;
  if (ev->kind != BW_KIND_DELIVERY)
    return;
  s->deliveries++;
  s->by_status[ev->status]++;
  s->by_stage[ev->stage]++;
  int c = bw_dsn_class(ev->dsn);
  if (c < 0) {
    s->by_dsn_class[0]++;
  } else {
    s->by_dsn_class[c]++;
    int sub = bw_dsn_subject(ev->dsn);
    if (sub >= 0)
      s->by_dsn_subject[c][sub]++;
  }
}

/* Classify if needed, count, hand on. */
static void process(bw__pipe_t *p, const bw_event_t *ev,
                    const bw_line_ref_t *where) {
  bw_verdict_t verdict, *v = NULL;
  count_event(p->stats, ev);
  if (p->classifier != NULL && bw_event_failed(ev)) {
    bw_classify_in_t in = {ev->text, ev->dsn, ev->reply_code, ev->stage,
                           ev->relay};
    bw_classify(p->classifier, &in, &verdict);
    v = &verdict;
    bw_replay_stats_t *s = p->stats;
    s->classified++;
    s->by_reason[v->reason]++;
    s->by_group[v->group]++;
    if (v->hard)
      s->hard++;
    else
      s->soft++;
  }
  if (p->cb != NULL)
    p->cb(p->cb_arg, ev, v, where);
}

void bw__pipe_line(bw__pipe_t *p, const char *line, size_t len,
                   const bw_line_ref_t *where) {
  bw_event_t ev;
  bw_parse_line(p->parser, line, len, &ev);
  p->stats->lines++;
  process(p, &ev, where);
}

void bw__pipe_flush(bw__pipe_t *p, const bw_line_ref_t *where) {
  bw_event_t ev;
  while (bw_parser_flush(p->parser, &ev)) {
    /* The line was counted as the continued part it ended with. */
    if (p->stats->by_kind[BW_KIND_CONTINUED] > 0)
      p->stats->by_kind[BW_KIND_CONTINUED]--;
    process(p, &ev, where);
  }
}
