#!/bin/bash
# The fleet: three `bouncewatch watch` instances, each fed a different
# generated log (three MTAs), scraped by a real Prometheus (Debian's
# package) on 127.0.0.1 that loads the shipped rules. The fleet-wide
# PromQL bounce rate per sender domain must equal the rate of one
# `bouncewatch report` over all the logs together (and its counts
# exactly); the shipped rules must load and evaluate, their recorded 1 h
# rate must agree (increase() extrapolates, so within 10 %), and the
# fleet alert must be pending for a domain over 2 %. Ports are ephemeral
# (watch) or picked and retried (Prometheus); every process started here
# is killed at the end, failure or not. Waits are bounded retries.
# Usage: fleet.sh BOUNCEWATCH BW_GEN_LOGS RULES_DIR
set -uo pipefail
BW=$1
GEN=$2
RULES=$(cd "$3" && pwd)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null; done
  if [ "$fails" -gt 0 ] && [ -f "$TMP/prom.log" ]; then tail -20 "$TMP/prom.log"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"

for tool in prometheus curl jq; do
  command -v $tool > /dev/null || { echo "FAIL: $tool not found (.ci/deps installs it)"; exit 1; }
done

N=3
TOTAL_LINES=0
for i in $(seq 1 $N); do
  "$GEN" --seed $((40 + i)) --messages 1500 --format mixed --prefix rfc3339 \
    --truth "$TMP/t$i.json" > "$TMP/gen$i.log" || { echo "FAIL: generator"; exit 1; }
  TOTAL_LINES=$((TOTAL_LINES + $(wc -l < "$TMP/gen$i.log")))
  : > "$TMP/mta$i.log"
done

# The watchers start on empty logs, so Prometheus sees their counters
# at zero before the traffic comes (what a live fleet looks like).
TARGETS=""
for i in $(seq 1 $N); do
  : > "$TMP/w$i.err"
  "$BW" watch --metrics-listen 127.0.0.1:0 --metrics-max-domains 10000 \
    --report-interval 100 "$TMP/mta$i.log" 2> "$TMP/w$i.err" &
  PIDS+=($!)
  addr=""
  for ((k = 0; k < 1500; k++)); do
    addr=$(sed -n 's|.*metrics on http://\(.*\)/metrics$|\1|p' "$TMP/w$i.err")
    [ -n "$addr" ] && break
    sleep 0.02
  done
  [ -n "$addr" ] || { echo "FAIL: watch $i did not say its address"; cat "$TMP/w$i.err"; exit 1; }
  ADDR[$i]=$addr
  TARGETS="$TARGETS${TARGETS:+, }'$addr'"
done

cat > "$TMP/prometheus.yml" << EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - '$RULES/bouncewatch.rules.yml'
scrape_configs:
  - job_name: bouncewatch
    static_configs:
      - targets: [$TARGETS]
EOF

# Prometheus cannot bind port 0 and say which: pick a free-looking port
# and retry with another when it is taken (other tests run beside us).
PROM=""
for try in 1 2 3 4 5 6; do
  port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  prometheus --config.file="$TMP/prometheus.yml" \
    --storage.tsdb.path="$TMP/data$try" --web.listen-address="127.0.0.1:$port" \
    > "$TMP/prom.log" 2>&1 &
  ppid=$!
  for ((k = 0; k < 300; k++)); do
    if ! kill -0 $ppid 2> /dev/null; then break; fi
    if curl -sf --max-time 1 "http://127.0.0.1:$port/-/ready" > /dev/null 2>&1; then
      PROM="http://127.0.0.1:$port"
      break
    fi
    sleep 0.05
  done
  if [ -n "$PROM" ]; then PIDS+=($ppid); break; fi
  kill $ppid 2> /dev/null
  wait $ppid 2> /dev/null
done
[ -n "$PROM" ] || { echo "FAIL: prometheus did not start"; tail -5 "$TMP/prom.log"; fails=1; exit 1; }

q() { # q PROMQL: the JSON result vector
  curl -s --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result'
}
scalar() { # scalar PROMQL: the value of a one-element result, or ""
  q "$1" | jq -r '.[0].value[1] // empty'
}
wait_scalar() { # wait_scalar PROMQL VALUE [TRIES]: until PROMQL gives VALUE
  local k got=""
  for ((k = 0; k < ${3:-400}; k++)); do
    got=$(scalar "$1")
    [ "$got" = "$2" ] && break
    sleep 0.05
  done
  echo "${got:-none}"
}

check "all targets up" "$(wait_scalar 'count(up{job="bouncewatch"} == 1)' $N)" $N
# Two scrapes of zeros at least, so increase() has a baseline.
check "zero baseline scraped" "$(wait_scalar 'count(count_over_time(bouncewatch_read_bytes_total[1h]) >= 2)' $N)" $N

# A fifth of each log first: a sender domain's series appears with its
# first outcomes, and Prometheus counts increase() from its first sample
# on, so the rules' 1 h rates see the rest of the traffic.
P1=0
for i in $(seq 1 $N); do
  n=$(($(wc -l < "$TMP/gen$i.log") / 5))
  head -n $n "$TMP/gen$i.log" >> "$TMP/mta$i.log"
  P1=$((P1 + n))
done
check "first part scraped" "$(wait_scalar 'sum(bouncewatch_lines_total{job="bouncewatch"})' $P1 600)" $P1
wait_scalar 'count(count_over_time(bouncewatch_outcomes_total[1h]) >= 2) == bool count(bouncewatch_outcomes_total)' 1 > /dev/null
p1q='sum by (sender_domain) (bouncewatch_outcomes_total{outcome=~"bounced|expired"})'
p1f='sum by (sender_domain) (bouncewatch_outcomes_total{outcome=~"sent|bounced|expired"})'
q "$p1q" > "$TMP/failed1.json"
q "$p1f" > "$TMP/final1.json"
for i in $(seq 1 $N); do
  n=$(($(wc -l < "$TMP/gen$i.log") / 5))
  tail -n +$((n + 1)) "$TMP/gen$i.log" >> "$TMP/mta$i.log"
done
check "every line scraped" \
  "$(wait_scalar 'sum(bouncewatch_lines_total{job="bouncewatch"})' $TOTAL_LINES 600)" $TOTAL_LINES

REP=$TMP/report.json
"$BW" report --json --max-domains 10000 "$TMP"/gen*.log > "$REP"

# Exact: the fleet's counts and rate per sender domain against the one
# report over all the logs.
q 'sum by (sender_domain) (bouncewatch_outcomes_total{outcome=~"bounced|expired"})' > "$TMP/failed.json"
q 'sum by (sender_domain) (bouncewatch_outcomes_total{outcome=~"sent|bounced|expired"})' > "$TMP/final.json"
q 'sum by (sender_domain) (bouncewatch_outcomes_total{outcome=~"bounced|expired"})
   / sum by (sender_domain) (bouncewatch_outcomes_total{outcome=~"sent|bounced|expired"})' > "$TMP/ratio.json"
mismatch=$(jq -r -n --slurpfile r "$REP" --slurpfile f "$TMP/failed.json" \
  --slurpfile F "$TMP/final.json" --slurpfile x "$TMP/ratio.json" '
  def get($v; $d): ($v[0][] | select(.metric.sender_domain == $d) | .value[1] | tonumber) // null;
  $r[0].sender_domains[] | select(.final > 0) | . as $d
  | (get($f; $d.name)) as $failed | (get($F; $d.name)) as $final | (get($x; $d.name)) as $ratio
  | select($failed != ($d.bounced + $d.expired) or $final != $d.final
           or ($ratio == null) or ((($ratio - ($d.bounced + $d.expired) / $d.final) | fabs) > 1e-12))
  | "  \($d.name): report \($d.bounced + $d.expired)/\($d.final), prometheus \($failed)/\($final) = \($ratio)"')
check "fleet rate per sender domain = report over all logs" "$mismatch" ""
ndom=$(jq '[.sender_domains[] | select(.final > 0)] | length' "$REP")
check "domains compared" "$(( ndom > 10 ))" 1
check "prometheus has no extra domain" "$(jq 'length' "$TMP/final.json")" \
  "$(jq '[.sender_domains[] | select(.final > 0 or .deferred > 0)] | length' "$REP")"
want=$(jq '(.totals.bounced + .totals.expired) / .totals.final' "$REP")
got=$(scalar 'sum(bouncewatch_outcomes_total{outcome=~"bounced|expired"}) / sum(bouncewatch_outcomes_total{outcome=~"sent|bounced|expired"})')
check "fleet-wide total rate" "$(jq -n "($got - $want) | fabs < 1e-12")" true

# The shipped rules, evaluated by the real server on this data.
health=""
for ((k = 0; k < 100; k++)); do
  health=$(curl -s "$PROM/api/v1/rules" | jq -r '[.data.groups[].rules[] | .health] | unique | join(",")')
  [ "$health" = "ok" ] && break
  sleep 0.05
done
check "rules loaded and healthy" "$health" "ok"
# The rules see the traffic after the first part: their rate for the
# biggest domain against the counts' own difference (increase()
# extrapolates per instance, hence the tolerance).
big=$(jq -r '.sender_domains[0].name' "$REP")
want=$(jq -n -r --slurpfile r "$REP" --slurpfile f "$TMP/failed1.json" --slurpfile F "$TMP/final1.json" --arg d "$big" '
  def get($v): ($v[0][] | select(.metric.sender_domain == $d) | .value[1] | tonumber) // 0;
  ($r[0].sender_domains[] | select(.name == $d)) as $x
  | (($x.bounced + $x.expired) - get($f)) / ($x.final - get($F))')
rec=""
for ((k = 0; k < 200; k++)); do
  rec=$(scalar "sender_domain:bouncewatch_bounce:ratio1h{sender_domain=\"$big\"}")
  [ -n "$rec" ] && [ "$(jq -n "($rec - $want) | fabs < 0.1 * $want")" = true ] && break
  sleep 0.05
done
check "recorded 1h rate of $big ($rec) near the traffic's $want" \
  "$(jq -n "(${rec:-0} - $want) | fabs < 0.1 * $want")" true
alerts=""
for ((k = 0; k < 200; k++)); do
  alerts=$(curl -s "$PROM/api/v1/alerts" | jq -r '[.data.alerts[] | select(.labels.alertname == "BouncewatchFleetBounceRate") | .labels.sender_domain] | sort | join(",")')
  case ",$alerts," in *",$big,"*) break ;; esac
  sleep 0.05
done
check "fleet alert pending for $big" "$(case ",$alerts," in *",$big,"*) echo yes ;; esac)" yes
low=$(jq -r --arg a "$alerts" '[.sender_domains[] | select(.name as $n | $a | split(",") | index($n)) | select(.bounce_rate < 0.015) | .name] | join(",")' "$REP")
check "no fleet alert for a domain under 1.5 %" "$low" ""
finish
