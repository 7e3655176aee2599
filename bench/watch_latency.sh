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
# The feeder probes too (see bench/feeder.c): one report at a time, only
# its "replay" block read. The first figures of this bench (111 ms) came
# from a shell probe: jq parsing the whole 1.3 MB report took ~90 ms.
read -r written last_ns counted_ns rep_ns < <("$FEEDER" "$DIR/src.log" "$DIR/live.log" "$RATE" "$SECS" "$PID" "$DIR/r.json")
rep_ms=$(awk -v n="$rep_ns" 'BEGIN {printf "%.1f", n / 1e6}')
lat_ms=$(awk -v a="$last_ns" -v b="$counted_ns" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
# Idle: CPU ticks used over IDLE seconds with nothing written.
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
t0=$(ticks)
sleep "$IDLE"
t1=$(ticks)
hz=$(getconf CLK_TCK)
idle_pct=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$IDLE" 'BEGIN {printf "%.2f", 100 * d / hz / s}')
rss=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
echo "| rate | lines written | last line seen counted after | of which one report | idle CPU over ${IDLE} s | peak RSS |"
echo "|--:|--:|--:|--:|--:|--:|"
echo "| $RATE lines/s for ${SECS} s | $written | ${lat_ms} ms | ${rep_ms} ms | ${idle_pct} % | $((rss / 1024)) MiB |"
