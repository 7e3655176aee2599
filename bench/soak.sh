#!/usr/bin/env bash
# bench/soak.sh: `bouncewatch watch` fed at a steady rate for a long time
# (default 20,000 lines/s for 30 minutes) while the log is rotated every
# few minutes (rename; the previous piece compressed at the next rotation,
# as logrotate's delaycompress does) and the rules reloaded by SIGHUP now
# and then. Samples the watcher's RSS and open descriptors every 10 s, and
# at the end compares its totals with one `bouncewatch report` over all
# the pieces. Every long-running feature is on: /metrics is scraped at
# each sample, the suppression list is written at each checkpoint and
# alerts run a program. Prints a Markdown summary; exits 1 if the totals
# differ or a scrape fails.
#
# Environment: BW (build/bouncewatch), FEEDER (build/bench/bw_feeder),
# GEN (build/bench/bw_gen_logs), RATE (20000), SOAK_SECONDS (1800),
# ROTATE_EVERY (180), HUP_EVERY (120), SOAK_DIR (/tmp/bw-soak).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BW=$(realpath "${BW:-build/bouncewatch}")
FEEDER=${FEEDER:-build/bench/bw_feeder}
GEN=${GEN:-build/bench/bw_gen_logs}
RATE=${RATE:-20000}
TOTAL=${SOAK_SECONDS:-1800}
ROT=${ROTATE_EVERY:-180}
HUP=${HUP_EVERY:-120}
DIR=${SOAK_DIR:-/tmp/bw-soak}
rm -rf "$DIR" && mkdir -p "$DIR"
export BW_RULES_CACHE="$DIR/cache"

"$GEN" --seed 5 --messages 200000 --truth "$DIR/truth.json" > "$DIR/src.log"
: > "$DIR/live.log"
"$BW" watch --state "$DIR/state" --report-json "$DIR/r.json" --report-interval 2000 \
  --metrics-listen 127.0.0.1:0 --suppress-out "$DIR/suppress.map" \
  --alert-exec /bin/sh --alert-arg -c --alert-arg "cat >> '$DIR/alerts.jsonl'" \
  "$DIR/live.log" 2> "$DIR/watch.err" &
PID=$!
trap 'kill $PID 2> /dev/null || true' EXIT
while [ ! -s "$DIR/r.json" ]; do sleep 0.05; done
ADDR=$(sed -n 's|.*metrics on http://\(.*\)/metrics$|\1|p' "$DIR/watch.err")
[ -n "$ADDR" ] || { echo "soak: no metrics address in $DIR/watch.err" >&2; exit 1; }
scrapes=0
bad_scrapes=0

sample() { # seconds-since-start rss-kib fds
  if curl -sf --max-time 5 "http://$ADDR/metrics" > "$DIR/metrics.txt"; then
    scrapes=$((scrapes + 1))
  else
    bad_scrapes=$((bad_scrapes + 1))
  fi
  printf '%s %s %s\n' "$1" "$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")" \
    "$(ls "/proc/$PID/fd" | wc -l)" >> "$DIR/samples"
}

start=$(date +%s)
piece=0
hups=0
last_hup=$start
while :; do
  now=$(date +%s)
  left=$((TOTAL - (now - start)))
  ((left > 0)) || break
  seg=$((left < ROT ? left : ROT))
  # One segment of writes; samples and SIGHUPs while it runs.
  "$FEEDER" "$DIR/src.log" "$DIR/live.log" "$RATE" "$seg" > "$DIR/feeder.$piece" &
  FPID=$!
  while kill -0 $FPID 2> /dev/null; do
    sleep 10
    t=$(date +%s)
    sample $((t - start))
    if ((t - last_hup >= HUP)); then
      kill -HUP $PID
      hups=$((hups + 1))
      last_hup=$t
    fi
  done
  wait $FPID
  # Rotate: rename the live file; compress the piece before it (the
  # watcher has long finished it).
  piece=$((piece + 1))
  mv "$DIR/live.log" "$DIR/piece.$(printf %03d $piece).log"
  : > "$DIR/live.log"
  prev=$DIR/piece.$(printf %03d $((piece - 1))).log
  [ -f "$prev" ] && zstd -q -1 --rm "$prev"
done
# Let the watcher drain the last rotated file (rotate-wait) and the live one.
want=$(awk '{s += $1} END {print s}' "$DIR"/feeder.*)
for _ in $(seq 1 600); do
  got=$(jq '.replay.lines' "$DIR/r.json" 2> /dev/null || echo 0)
  [ "$got" = "$want" ] && break
  kill -USR1 $PID
  sleep 0.5
done
sample $(($(date +%s) - start))
kill -TERM $PID
wait $PID || true
trap - EXIT

"$BW" report --json "$DIR"/piece.*.log* "$DIR/live.log" > "$DIR/replay.json" 2> "$DIR/replay.err"
pick='[.replay.lines, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.pending]'
live=$(jq -c "$pick" "$DIR/r.json")
replay=$(jq -c "$pick" "$DIR/replay.json")
rotations=$(grep -c 'rotated\|has been replaced\|has gone' "$DIR/watch.err" || true)
alerts=$(wc -l < "$DIR/alerts.jsonl" 2> /dev/null || echo 0)
suppressed=$(grep -vc '^#' "$DIR/suppress.map" 2> /dev/null || echo 0)

awk -v rate="$RATE" -v total="$TOTAL" -v written="$want" -v pieces="$piece" -v hups="$hups" \
    -v scrapes="$scrapes" -v bad="$bad_scrapes" -v alerts="$alerts" -v supp="$suppressed" \
    -v rot="$rotations" -v live="$live" -v replay="$replay" '
  { t[NR] = $1; rss[NR] = $2; fd[NR] = $3
    if (NR == 1 || $2 > maxr) maxr = $2; if (NR == 1 || $2 < minr) minr = $2
    if (NR == 1 || $3 > maxf) maxf = $3; if (NR == 1 || $3 < minf) minf = $3 }
  END {
    # RSS after the first tenth of the run against the end: growth, if any.
    k = int(NR / 10) + 1
    printf "| fed | lines | rotations (said by watch) | SIGHUP reloads | scrapes ok / failed | alert runs | suppressed | RSS at %d s / end / min-max | open fds min-max | live totals = replay |\n", t[k]
    printf "|---|--:|--:|--:|--:|--:|--:|---|---|---|\n"
    printf "| %d lines/s for %d s | %d | %d (%d) | %d | %d / %d | %d | %d | %.1f / %.1f / %.1f-%.1f MiB | %d-%d | %s |\n",
      rate, total, written, pieces, rot, hups, scrapes, bad, alerts, supp, rss[k] / 1024, rss[NR] / 1024, minr / 1024, maxr / 1024,
      minf, maxf, (live == replay ? "yes " live : "**no**: live " live " replay " replay)
  }' "$DIR/samples"
[ "$live" = "$replay" ] && [ "$bad_scrapes" = 0 ]
