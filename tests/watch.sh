#!/bin/bash
# `bouncewatch watch` across rotation, each scenario with inotify and with
# polling only: a file that appears later, rename (the old file still
# written to after the rename), copytruncate, delete and recreate,
# truncation followed by growth past the old size before the next look
# (the heuristic), SIGUSR1, SIGHUP with broken rules, SIGTERM. At the end
# the live totals must equal `bouncewatch report` over everything written.
# Waits are bounded retries, never fixed sleeps.
set -uo pipefail
BW=$1
DATA=$2
STATE_V1=$3 # rewrites a state as the previous version wrote it
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"

# Lines of the sample in a deterministic order, to be written in pieces.
LINES=()
while IFS= read -r l; do LINES+=("$l"); done < "$DATA/sample.log"
emit() { # emit FROM TO FILE: append sample lines FROM..TO (1-based) to FILE
  local i
  for ((i = $1; i <= $2; i++)); do printf '%s\n' "${LINES[i - 1]}"; done >> "$3"
  for ((i = $1; i <= $2; i++)); do printf '%s\n' "${LINES[i - 1]}"; done >> "$ALL"
}

# wait_lines N: until the report says N lines (5 s at most, 50 ms steps).
wait_lines() {
  local i got=""
  for ((i = 0; i < 100; i++)); do
    kill -USR1 "$PID" 2> /dev/null
    got=$(jq -r '.replay.lines' "$REP" 2> /dev/null || true)
    [ "$got" = "$1" ] && break
    sleep 0.05
  done
  echo "${got:-none}"
}

run() { # run MODE-FLAGS...
  local name=$1
  shift
  D=$TMP/$name
  mkdir -p "$D/cfg"
  LOG=$D/mail.log
  REP=$D/report.json
  ALL=$D/all.log
  : > "$ALL"
  cp -r "$(dirname "$DATA")/../patterns" "$D/rules"
  "$BW" watch --report-json "$REP" --report-interval 50 --poll-interval 100 \
    --rotate-wait 300 --rules "$D/rules" "$@" "$LOG" 2> "$D/err" &
  PID=$!
  # Ready when the first report exists (written once the signals are
  # handled); compiling the rules into a fresh cache takes a moment.
  local i=0
  while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
  check "$name: watcher started" "$([ -s "$REP" ] && echo yes)" yes

  # The file appears after the watcher started.
  emit 1 6 "$LOG"
  check "$name: file appearing later" "$(wait_lines 6)" 6
  # Rename; the old file is still written to (rsyslog before its HUP);
  # then the new file.
  mv "$LOG" "$LOG.1"
  emit 7 8 "$LOG.1"
  emit 9 12 "$LOG"
  check "$name: rename rotation" "$(wait_lines 12)" 12
  # copytruncate
  cp "$LOG" "$LOG.2"
  : > "$LOG"
  emit 13 16 "$LOG"
  check "$name: copytruncate" "$(wait_lines 16)" 16
  # delete and recreate
  rm "$LOG"
  emit 17 20 "$LOG"
  check "$name: delete and recreate" "$(wait_lines 20)" 20
  # SIGHUP with broken rules: the rules in use stay, and say so.
  echo "9999 nosuchreason /x/" >> "$D/rules/recipient.rules"
  kill -HUP "$PID"
  i=0
  while ! grep -q 'keeping the rules in use' "$D/err" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  check "$name: SIGHUP with broken rules keeps the old" "$(grep -c 'keeping the rules in use' "$D/err")" 1
  check "$name: ... naming the broken line" "$(grep -c 'recipient.rules:[0-9]*: unknown reason' "$D/err")" 1
  # truncate, then grow past the old size at once (a different text)
  : > "$LOG"
  emit 21 33 "$LOG"
  check "$name: truncated and regrown" "$(wait_lines 33)" 33
  kill -TERM "$PID"
  wait "$PID"
  check "$name: SIGTERM exits 0" $? 0
  check "$name: rotation said" "$(grep -c 'has gone\|has been replaced' "$D/err" | awk '{print ($1 > 0)}')" 1
  check "$name: truncation said" "$(grep -c 'file truncated' "$D/err" | awk '{print ($1 > 0)}')" 1

  # Live equals replay over everything written.
  "$BW" report --json "$ALL" > "$D/replay.json"
  local want got
  want=$(jq -c '[.replay.lines, .replay.lines_by_kind, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.notifications.sent]' "$D/replay.json")
  got=$(jq -c '[.replay.lines, .replay.lines_by_kind, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.notifications.sent]' "$REP")
  check "$name: live totals equal the replay's" "$got" "$want"
}

run inotify
run poll --poll-only

# --from-start: the rotated archives first (oldest first, any of plain,
# .gz and .zst; an archive still being compressed is read from its plain
# twin), then the live file; a name that is not an archive is left alone.
D=$TMP/catchup
mkdir -p "$D"
LOG=$D/mail.log
REP=$D/report.json
ALL=$D/all.log
: > "$ALL"
emit 1 8 "$D/a" && gzip -c "$D/a" > "$LOG.3.gz"
emit 9 16 "$D/b" && zstd -q -c "$D/b" > "$LOG.2.zst"
emit 17 20 "$LOG.1"
cp "$LOG.1" "$LOG.1.part" && gzip -c "$LOG.1.part" | head -c 10 > "$LOG.1.gz"
echo "not an archive" > "$LOG.bak"
emit 21 33 "$LOG"
"$BW" watch --from-start --report-json "$REP" --report-interval 50 "$LOG" 2> "$D/err" &
PID=$!
i=0
while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "catch-up: all lines" "$(wait_lines 33)" 33
kill -TERM "$PID"
wait "$PID"
check "catch-up: said" "$(grep -c 'read 3 rotated archives first' "$D/err")" 1
"$BW" report --json "$ALL" > "$D/replay.json"
check "catch-up: totals equal the replay's" \
  "$(jq -c '[.replay.lines, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred]' "$REP")" \
  "$(jq -c '[.replay.lines, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred]' "$D/replay.json")"

# Exactly once across crashes: bursts appended (with a rename rotation
# every fifth), the watcher killed with SIGKILL at 20 moments and
# restarted on its state file; the final totals equal one replay of
# everything written. RANDOM is seeded, so a failure can be replayed.
D=$TMP/crash
mkdir -p "$D"
LOG=$D/mail.log
REP=$D/report.json
ALL=$D/all.log
STATE=$D/state
: > "$ALL"
RANDOM=42
start_watch() {
  rm -f "$REP" # its reappearance says the new watcher handles signals
  "$BW" watch --state "$STATE" --report-json "$REP" --report-interval 20 \
    --poll-interval 50 --rotate-wait 200 "$LOG" 2>> "$D/err" &
  PID=$!
}
start_watch
for round in $(seq 1 20); do
  # Let the watcher come up (it may still die before its first
  # checkpoint: that case is covered too).
  i=0
  while [ ! -s "$REP" ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i + 1)); done
  from=$((RANDOM % 33 + 1))
  to=$((from + RANDOM % 12))
  [ $to -gt 33 ] && to=33
  emit "$from" "$to" "$LOG"
  if [ $((round % 5)) -eq 0 ]; then
    # dateext-style names: a higher number is a later rotation.
    mv "$LOG" "$LOG-$(printf %02d "$round")"
    emit 1 3 "$LOG"
  fi
  sleep "0.0$((RANDOM % 9 + 1))"
  kill -KILL "$PID" 2> /dev/null
  wait "$PID" 2> /dev/null
  start_watch
done
total=$(wc -l < "$ALL")
i=0
while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "crash: all lines once" "$(wait_lines "$total")" "$total"
kill -TERM "$PID"
wait "$PID"
check "crash: last stop exits 0" $? 0
check "crash: restarts resumed" "$(grep -c 'resuming at byte\|rotated while stopped' "$D/err" | awk '{print ($1 >= 10)}')" 1
"$BW" report --json "$ALL" > "$D/replay.json"
check "crash: totals equal one replay" \
  "$(jq -c '[.replay.lines, .replay.lines_by_kind, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.pending]' "$REP")" \
  "$(jq -c '[.replay.lines, .replay.lines_by_kind, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.pending]' "$D/replay.json")"
# A state from the previous version (BWWATCH1: no journal cursor) is
# read, not set aside: an upgrade resumes where the old version stopped.
"$STATE_V1" "$STATE" "$STATE.v1" && mv "$STATE.v1" "$STATE"
check "v1 state: made" "$(head -c 8 "$STATE")" BWWATCH1
emit 1 5 "$LOG"
: > "$D/err"
start_watch
i=0
while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "v1 state: resumed, each line once" "$(wait_lines $((total + 5)))" $((total + 5))
kill -TERM "$PID"
wait "$PID"
check "v1 state: not set aside" "$(grep -c 'damaged' "$D/err")" 0
check "v1 state: resumed at its offset" "$(grep -c 'resuming at byte' "$D/err")" 1
# A damaged state is set aside, not trusted, and the start goes on.
printf 'garbage' > "$STATE"
"$BW" watch --state "$STATE" --report-json "$D/r3.json" "$LOG" 2> "$D/err3" &
PID=$!
i=0
while [ ! -s "$D/r3.json" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM "$PID"
wait "$PID"
check "damaged state set aside" "$(grep -c 'is damaged or from another version; set aside' "$D/err3")" 1
check "... and kept for a look" "$(ls "$D" | grep -c '^state.bad-')" 1

# stdin: a pipe is read to its end, then the report is written and the
# watcher exits; a file on stdin is followed like a path.
D=$TMP/stdin
mkdir -p "$D"
cat "$DATA/sample.log" | "$BW" watch --report-json "$D/r.json" - 2> "$D/err"
check "stdin pipe: exit at end of input" $? 0
check "stdin pipe: all lines" "$(jq '.replay.lines' "$D/r.json")" 33
check "stdin pipe: totals" "$(jq -c '[.totals.sent,.totals.bounced,.totals.expired]' "$D/r.json")" "[3,3,2]"
# An Exim line split by syslog whose last part never comes: at the end
# it is parsed as far as it goes, as report does.
P1='May  1 12:00:08 mx1 exim[777]: [1/2] 2024-05-01 12:00:08 1rABCd-000Xyz-AB ** someone@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.102.27]: SMTP error from remote mail server after end of data: 550-5.7.26 This mail has been blocked because the sender is unauthenticated.'
{ cat "$DATA/sample.log"; printf '%s\n' "$P1"; } > "$D/split.log"
"$BW" report --json "$D/split.log" > "$D/split-report.json"
cat "$D/split.log" | "$BW" watch --report-json "$D/split.json" - 2> /dev/null
split_fields='[.replay.lines, .replay.lines_by_kind, .totals.bounced, .replay.deliveries.by_reason]'
check "stdin pipe: an unfinished split Exim line parsed at the end, as report does" \
  "$(jq -c "$split_fields" "$D/split.json")" "$(jq -c "$split_fields" "$D/split-report.json")"
# stdin_file NAME REPORT [OPTION...]: watch a file given on stdin until
# its 33 lines are counted, then SIGTERM it.
stdin_file() {
  local name=$1 rep=$2
  shift 2
  "$BW" watch --report-json "$rep" --report-interval 50 "$@" - < "$DATA/sample.log" \
    2> "$D/err.$name" &
  PID=$!
  local i=0
  while [ ! -s "$rep" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
  REP=$rep
  check "$name: all lines" "$(wait_lines 33)" 33
  kill -TERM "$PID"
  wait "$PID"
  check "$name: SIGTERM exits 0" $? 0
}
stdin_file "stdin file" "$D/r2.json"

# A file on stdin with a state file: a restart resumes it where it was
# (once its position was saved under a name the next start never looked
# up, and the file was counted again on top of the restored counts).
for run in 1 2; do
  stdin_file "stdin file with a state, run $run" "$D/r3.json" --state "$D/stdin.state"
  check "stdin file with a state, run $run: counted once" \
    "$(jq -c '[.replay.lines, .totals.sent, .totals.bounced]' "$D/r3.json")" "[33,3,3]"
  rm -f "$D/r3.json"
done

# What the state file could not hold is refused at start, with the
# reason, not written into a state no restart can read.
long_path="/tmp/$(head -c 4100 /dev/zero | tr '\0' a)"
"$BW" watch --state "$D/long.state" "$long_path" 2> "$D/errlong"
check "path over 4095 bytes: usage error" $? 1
check "path over 4095 bytes: said" "$(grep -c 'path 1 is 4105 bytes long: at most 4095' "$D/errlong")" 1
check "path over 4095 bytes: no state" "$(test -e "$D/long.state" && echo yes || echo no)" no

finish
