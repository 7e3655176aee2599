#!/bin/bash
# `bouncewatch watch` under a burst: ~23 MB (135,168 lines) pushed at once
# through a pipe on stdin and appended at once to a followed file. The
# worker reads a bounded budget at a time and the rest waits in the pipe
# (the writer blocks) or the file, so the watcher's peak memory must not
# grow with the burst; the totals must equal `report` over the same
# lines, in order (each source is read in order on one thread). Waits
# are bounded retries, never fixed sleeps.
set -uo pipefail
BW=$1
DATA=$2
TMP=$(mktemp -d)
trap 'exec 3>&- 2> /dev/null; kill $(jobs -p) 2> /dev/null; rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
# ASan keeps freed memory in quarantine (256 MB by default), which would
# read as growth: keep it small so the peak says what the code holds.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
. "$(dirname "$0")/check.sh"

BIG=$TMP/big.log
cp "$DATA/sample.log" "$BIG"
for _ in $(seq 12); do cat "$BIG" "$BIG" > "$TMP/x" && mv "$TMP/x" "$BIG"; done
N=$(wc -l < "$BIG")
fields='[.replay.lines, .replay.lines_by_kind, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.pending]'

wait_lines() { # until the report says $1 lines (60 s at most: ASan builds)
  local i got=""
  for ((i = 0; i < 1200; i++)); do
    kill -USR1 "$PID" 2> /dev/null
    got=$(jq -r '.replay.lines' "$REP" 2> /dev/null || true)
    [ "$got" = "$1" ] && break
    sleep 0.05
  done
  echo "${got:-none}"
}
kib() { awk "/^$1:/ {print \$2}" "/proc/$PID/status"; }
started() {
  local i=0
  while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
}
# Peak growth allowed while 23 MB go through: a few budgets (1 MiB each),
# the report's memory copy and allocator slack, far below the burst.
LIMIT_KIB=$((16 * 1024))

# stdin: a FIFO held open by fd 3, so the watcher does not see the end.
REP=$TMP/stdin.json
mkfifo "$TMP/fifo"
"$BW" watch --report-json "$REP" --report-interval 200 - < "$TMP/fifo" 2> "$TMP/err1" &
PID=$!
exec 3> "$TMP/fifo"
head -n 33 "$DATA/sample.log" >&3
started
check "stdin burst: warm-up read" "$(wait_lines 33)" 33
base=$(kib VmHWM)
cat "$BIG" >&3
check "stdin burst: every line" "$(wait_lines $((N + 33)))" $((N + 33))
grow=$(($(kib VmHWM) - base))
check "stdin burst: peak memory grew by less than $LIMIT_KIB KiB (grew $grow)" \
  "$([ "$grow" -lt "$LIMIT_KIB" ] && echo yes)" yes
exec 3>&-
wait "$PID"
check "stdin burst: end of input exits 0" $? 0

# A followed file: the burst appended at once.
REP=$TMP/file.json
LOG=$TMP/mail.log
: > "$LOG"
"$BW" watch --report-json "$REP" --report-interval 200 "$LOG" 2> "$TMP/err2" &
PID=$!
started
cat "$DATA/sample.log" >> "$LOG"
check "file burst: warm-up read" "$(wait_lines 33)" 33
base=$(kib VmHWM)
cat "$BIG" >> "$LOG"
check "file burst: every line" "$(wait_lines $((N + 33)))" $((N + 33))
grow=$(($(kib VmHWM) - base))
check "file burst: peak memory grew by less than $LIMIT_KIB KiB (grew $grow)" \
  "$([ "$grow" -lt "$LIMIT_KIB" ] && echo yes)" yes
kill -TERM "$PID"
wait "$PID"
check "file burst: SIGTERM exits 0" $? 0

# The same totals as report over the same lines in the same order (the
# warm-up sample first): the order is kept through the worker.
cat "$DATA/sample.log" "$BIG" > "$TMP/all.log"
"$BW" report --json "$TMP/all.log" > "$TMP/all.json"
check "burst: totals equal report" "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$TMP/all.json")"

# The burst again with every reader of the worker's tables busy on the
# loop thread meanwhile: the suppression list written and the report
# rebuilt every 10 ms, /metrics scraped in a loop. A 30-minute soak once
# died of heap corruption here (the list was written without the worker's
# lock); the sanitizer build shows such a race as a use after free.
# Every copy of the sample bounces to new addresses, so the list keeps
# growing while it is written.
awk -v n=4096 '{ l[NR] = $0 } END {
  for (c = 1; c <= n; c++)
    for (i = 1; i <= NR; i++) { s = l[i]; gsub(/to=</, "to=<c" c "-", s); print s } }' \
  "$DATA/sample.log" > "$TMP/uniq.log"
REP=$TMP/busy.json
LOG=$TMP/busy.log
: > "$LOG"
"$BW" watch --report-json "$REP" --report-interval 10 --suppress-out "$TMP/busy.map" \
  --metrics-listen 127.0.0.1:0 "$LOG" 2> "$TMP/err3" &
PID=$!
started
ADDR=$(sed -n 's|.*metrics on http://\(.*\)/metrics$|\1|p' "$TMP/err3")
(while kill -0 "$PID" 2> /dev/null; do
   curl -s --max-time 2 "http://$ADDR/metrics" > /dev/null 2>&1 || true
 done) &
SCRAPER=$!
cat "$TMP/uniq.log" >> "$LOG"
check "busy burst: every line" "$(wait_lines "$N")" "$N"
kill -TERM "$PID"
wait "$PID"
check "busy burst: SIGTERM exits 0" $? 0
wait "$SCRAPER" 2> /dev/null || true
check "busy burst: no sanitizer report" "$(grep -c 'ERROR: AddressSanitizer\|runtime error' "$TMP/err3")" 0
"$BW" report --json --suppress-out "$TMP/uniq.map" "$TMP/uniq.log" > "$TMP/uniq.json" 2> /dev/null
check "busy burst: totals equal report" "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$TMP/uniq.json")"
check "busy burst: suppression list equals report's" \
  "$(grep -v '^#' "$TMP/busy.map" | sort | md5sum)" "$(grep -v '^#' "$TMP/uniq.map" | sort | md5sum)"

finish
