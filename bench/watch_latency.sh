#!/usr/bin/env bash
# bench/watch_latency.sh: how soon `bouncewatch watch` counts an appended
# line at a steady write rate (default 50,000 lines/s for 5 s), and what
# an idle watcher costs in CPU. Prints a Markdown table.
# Environment: BW (build/bouncewatch), FEEDER (build/bench/bw_feeder),
# GEN (build/bench/bw_gen_logs), RATE, SECONDS_FED, IDLE_SECONDS, BENCH_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BW=${BW:-build/bouncewatch}
FEEDER=${FEEDER:-build/bench/bw_feeder}
GEN=${GEN:-build/bench/bw_gen_logs}
RATE=${RATE:-50000}
SECS=${SECONDS_FED:-5}
IDLE=${IDLE_SECONDS:-10}
DIR=${BENCH_DIR:-/tmp/bw-latency}
rm -rf "$DIR" && mkdir -p "$DIR"
"$GEN" --seed 3 --messages 20000 --truth "$DIR/truth.json" > "$DIR/src.log"
: > "$DIR/live.log"
"$BW" watch --report-json "$DIR/r.json" --report-interval 1000 "$DIR/live.log" 2> "$DIR/err" &
PID=$!
trap 'kill $PID 2> /dev/null || true' EXIT
while [ ! -s "$DIR/r.json" ]; do sleep 0.01; done
read -r written last_ns < <("$FEEDER" "$DIR/src.log" "$DIR/live.log" "$RATE" "$SECS")
# Ask for the report (SIGUSR1) until it counts every line written.
counted_ns=0
for ((i = 0; i < 20000; i++)); do
  kill -USR1 "$PID"
  got=$(jq -r '.replay.lines' "$DIR/r.json" 2> /dev/null || echo 0)
  if [ "$got" = "$written" ]; then
    counted_ns=$(date +%s%N)
    break
  fi
  sleep 0.002
done
lat_ms=$(awk -v a="$last_ns" -v b="$counted_ns" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
# Idle: CPU ticks used over IDLE seconds with nothing written.
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
t0=$(ticks)
sleep "$IDLE"
t1=$(ticks)
hz=$(getconf CLK_TCK)
idle_pct=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$IDLE" 'BEGIN {printf "%.2f", 100 * d / hz / s}')
rss=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
echo "| rate | lines written | last line counted after | idle CPU over ${IDLE} s | peak RSS |"
echo "|--:|--:|--:|--:|--:|"
echo "| $RATE lines/s for ${SECS} s | $written | ${lat_ms} ms (report requested by SIGUSR1 every 2 ms) | ${idle_pct} % | $((rss / 1024)) MiB |"
