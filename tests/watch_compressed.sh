#!/bin/bash
# `bouncewatch watch` on compressed files that grow (rsyslog's zipLevel,
# a streaming zstd): one gzip member / zstd frame written in pieces that
# end inside it (after flushes, and also in the middle of a block), with a
# restart on the state file half-way (the decoded offset is resumed by
# decoding again and skipping) and SIGKILLs while it grows; a stream left unfinished and rotated away
# is reported truncated only then; and a plain file compressed while the
# watcher was down is read on from where it stopped. Each with gzip and
# zstd. Live totals must equal `report` over the finished files. Waits are
# bounded retries, never fixed sleeps.
set -uo pipefail
BW=$1
DATA=$2
ZPIECES=$3
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; [ -n "${KEEP:-}" ] || rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"

fields='[.replay.lines, .replay.lines_by_kind, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.pending]'
wait_for() { # wait_for JQ VALUE: until the report's JQ is VALUE (5 s at most)
  local i got=""
  for ((i = 0; i < 100; i++)); do
    kill -USR1 "$PID" 2> /dev/null
    got=$(jq -r "$1" "$REP" 2> /dev/null || true)
    [ "$got" = "$2" ] && break
    sleep 0.05
  done
  echo "${got:-none}"
}
start_watch() { # start_watch FILE ARGS...
  local f=$1
  shift
  rm -f "$REP"
  "$BW" watch --report-json "$REP" --report-interval 20 --poll-interval 50 \
    --rotate-wait 200 "$@" "$f" 2>> "$D/err" &
  PID=$!
  local i=0
  while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
}
size() { stat -c %s "$1"; }

for fmt in gz zst; do
  # Growing, with a restart half-way.
  D=$TMP/grow-$fmt
  mkdir -p "$D"
  REP=$D/r.json
  LOG=$D/mail.log.$fmt
  "$ZPIECES" "$fmt" "$DATA/sample.log" "$D/p" 10 10 || { echo "FAIL: zpieces"; exit 1; }
  start_watch "$LOG" --state "$D/state"
  cat "$D/p.1" >> "$LOG"
  check "$fmt growing: lines of the first flush" "$(wait_for .replay.lines 10)" 10
  # Half of the next piece: the file now ends inside a block.
  half=$(($(size "$D/p.2") / 2))
  head -c "$half" "$D/p.2" >> "$LOG"
  check "$fmt growing: a cut inside a block is read up to" \
    "$(wait_for .replay.bytes_read "$(size "$LOG")")" "$(size "$LOG")"
  tail -c +$((half + 1)) "$D/p.2" >> "$LOG"
  check "$fmt growing: ... then the rest of the block" "$(wait_for .replay.lines 20)" 20
  kill -TERM "$PID"
  wait "$PID"
  check "$fmt growing: SIGTERM exits 0" $? 0
  start_watch "$LOG" --state "$D/state"
  cat "$D/p.3" >> "$LOG"
  check "$fmt growing: after a restart, each line once" "$(wait_for .replay.lines 33)" 33
  kill -TERM "$PID"
  wait "$PID"
  check "$fmt growing: resumed at the decoded offset" \
    "$(grep -c 'resuming at decoded byte' "$D/err")" 1
  check "$fmt growing: never called truncated" "$(grep -c 'truncated' "$D/err")" 0
  "$BW" report --json "$LOG" > "$D/replay.json"
  check "$fmt growing: totals equal report over the finished file" \
    "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$D/replay.json")"

  # SIGKILL while the stream grows: the decoded offset checkpointed with
  # the counts; every line once. RANDOM is seeded: a failure replays.
  D=$TMP/kill-$fmt
  mkdir -p "$D"
  REP=$D/r.json
  LOG=$D/mail.log.$fmt
  "$ZPIECES" "$fmt" "$DATA/sample.log" "$D/p" 5 5 5 5 5 5
  RANDOM=7
  start_watch "$LOG" --state "$D/state"
  for k in 1 2 3 4 5 6 7; do
    cat "$D/p.$k" >> "$LOG"
    sleep "0.0$((RANDOM % 9 + 1))"
    kill -KILL "$PID"
    wait "$PID" 2> /dev/null
    start_watch "$LOG" --state "$D/state"
  done
  check "$fmt SIGKILLs: every line once" "$(wait_for .replay.lines 33)" 33
  kill -TERM "$PID"
  wait "$PID"
  "$BW" report --json "$LOG" > "$D/replay.json"
  check "$fmt SIGKILLs: totals equal report over the finished file" \
    "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$D/replay.json")"

  # Unfinished and rotated away: truncated, said once it is closed.
  D=$TMP/cut-$fmt
  mkdir -p "$D"
  REP=$D/r.json
  LOG=$D/mail.log.$fmt
  "$ZPIECES" "$fmt" "$DATA/sample.log" "$D/p" 10 10
  cat "$D/p.1" "$D/p.2" > "$LOG"
  start_watch "$LOG"
  check "$fmt unfinished: the lines so far" "$(wait_for .replay.lines 20)" 20
  check "$fmt unfinished: not truncated while followed" "$(grep -c 'truncated' "$D/err")" 0
  mv "$LOG" "$LOG.1"
  i=0
  while ! grep -q 'truncated' "$D/err" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  check "$fmt unfinished: truncated once rotated away and idle" \
    "$(grep -c "mail.log.$fmt: .*ends inside .*(truncated).*when the file was closed" "$D/err")" 1
  kill -TERM "$PID"
  wait "$PID"

  # A plain file compressed while the watcher was down.
  D=$TMP/down-$fmt
  mkdir -p "$D"
  REP=$D/r.json
  LOG=$D/mail.log
  head -n 10 "$DATA/sample.log" > "$LOG"
  start_watch "$LOG" --state "$D/state"
  check "$fmt compressed while down: before" "$(wait_for .replay.lines 10)" 10
  kill -TERM "$PID"
  wait "$PID"
  sed -n 11,20p "$DATA/sample.log" >> "$LOG"
  mv "$LOG" "$LOG.1"
  if [ "$fmt" = gz ]; then gzip "$LOG.1"; else zstd -q --rm "$LOG.1"; fi
  sed -n 21,33p "$DATA/sample.log" > "$LOG"
  start_watch "$LOG" --state "$D/state"
  check "$fmt compressed while down: every line once" "$(wait_for .replay.lines 33)" 33
  kill -TERM "$PID"
  wait "$PID"
  check "$fmt compressed while down: said" \
    "$(grep -c "compressed while stopped as mail.log.1.$fmt" "$D/err")" 1
  "$BW" report --json "$DATA/sample.log" > "$D/replay.json"
  check "$fmt compressed while down: totals equal report" \
    "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$D/replay.json")"
done

finish
