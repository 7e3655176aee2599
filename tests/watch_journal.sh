#!/bin/bash
# `bouncewatch watch --journal-file`: the sample log turned into journal
# entries (Postfix and Exim identifiers, plus other programs that must be
# left out) by systemd's own systemd-journal-remote from journal export
# format, written in three parts while the watcher runs. The live totals
# must equal `report` over the same Postfix/Exim lines as a plain log,
# across a SIGKILL and restarts on the state file (the cursor), and a
# restart on a journal with nothing new must count nothing twice.
# Waits are bounded retries, never fixed sleeps.
set -uo pipefail
BW=$1
DATA=$2
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
export TZ=UTC # Exim's own stamps are local time; same zone both ways
. "$(dirname "$0")/check.sh"

REMOTE=$(command -v systemd-journal-remote || true)
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
  [ -z "$REMOTE" ] && [ -x "$p" ] && REMOTE=$p
done
if [ -z "$REMOTE" ]; then
  echo "FAIL: systemd-journal-remote not found (install it: .ci/deps)"
  exit 1
fi

# Journal export format (systemd.io/JOURNAL_EXPORT_FORMATS) for each line
# of the sample: "STAMP HOST IDENT[PID]: MSG" as a syslog entry, Exim's
# mainlog lines as exim4 entries whose MESSAGE keeps Exim's own stamp
# (syslog_timestamp, Exim's default), anything else as another program.
# equiv.log gets the lines a Postfix/Exim journal filter must keep.
re_sys='^([0-9T:.+-]+) ([^ ]+) ([^][ :]+)(\[([0-9]+)\])?: (.*)$'
re_exim='^([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}) '
D=$TMP/j
mkdir -p "$D/jdir"
: > "$D/equiv.log"
n=0
while IFS= read -r l; do
  n=$((n + 1))
  if [[ $l =~ $re_sys ]]; then
    ts=${BASH_REMATCH[1]} host=${BASH_REMATCH[2]} id=${BASH_REMATCH[3]}
    pid=${BASH_REMATCH[5]:-1} msg=${BASH_REMATCH[6]}
  elif [[ $l =~ $re_exim ]]; then
    ts=${BASH_REMATCH[1]} host=mail1 id=exim4 pid=4242 msg=$l
  else
    ts="2024-05-07 13:00:00" host=mail1 id=logger pid=1 msg=$l
  fi
  case $id in
  postfix | postfix/* | postfix-* | exim | exim4) printf '%s\n' "$l" >> "$D/equiv.log" ;;
  esac
  part=$(((n - 1) / 12 + 1)) # three parts: 1-12, 13-24, 25-33
  printf 'MESSAGE=%s\nSYSLOG_IDENTIFIER=%s\n_PID=%s\n_HOSTNAME=%s\n__REALTIME_TIMESTAMP=%s\n\n' \
    "$msg" "$id" "$pid" "$host" "$(date -d "$ts" +%s%6N)" >> "$D/part$part.export"
done < "$DATA/sample.log"
# A Postfix entry without MESSAGE: skipped, counted and said.
printf 'SYSLOG_IDENTIFIER=postfix/smtp\n_PID=9\n__REALTIME_TIMESTAMP=1715000000000000\n\n' >> "$D/part3.export"
J=$D/jdir/mail.journal
append() { "$REMOTE" -o "$J" - < "$D/part$1.export" 2> /dev/null; }
mail_in() { # mail_in PART...: Postfix/Exim entries (with a MESSAGE) in these parts
  cat "${@/#/$D/part}" 2> /dev/null | awk '/^MESSAGE=/ {m = 1} /^SYSLOG_IDENTIFIER=(postfix|exim)/ {p = 1}
    /^$/ {n += m && p; m = p = 0} END {print n + 0}'
}

REP=$D/report.json
STATE=$D/state
wait_lines() { # until the report says $1 lines (5 s at most)
  local i got=""
  for ((i = 0; i < 100; i++)); do
    kill -USR1 "$PID" 2> /dev/null
    got=$(jq -r '.replay.lines' "$REP" 2> /dev/null || true)
    [ "$got" = "$1" ] && break
    sleep 0.05
  done
  echo "${got:-none}"
}
start_watch() {
  rm -f "$REP"
  "$BW" watch --journal-file "$J" --state "$STATE" --report-json "$REP" \
    --report-interval 20 --poll-interval 100 2>> "$D/err" &
  PID=$!
  local i=0
  while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
}

append 1
start_watch
check "journal: the first part" "$(wait_lines "$(mail_in 1.export)")" "$(mail_in 1.export)"
append 2
check "journal: entries written while watching" \
  "$(wait_lines "$(mail_in 1.export 2.export)")" "$(mail_in 1.export 2.export)"
# A crash: the state holds the cursor and the counts of one moment.
kill -KILL "$PID"
wait "$PID" 2> /dev/null
append 3
start_watch
all=$(mail_in 1.export 2.export 3.export)
check "journal: after SIGKILL and restart, every entry once" "$(wait_lines "$all")" "$all"
kill -TERM "$PID"
wait "$PID"
check "journal: SIGTERM exits 0" $? 0
check "journal: resumed from the cursor" "$(grep -c 'journal: resuming after the saved entry' "$D/err")" 1
check "journal: the entry without MESSAGE said" \
  "$(grep -c 'journal: 1 Postfix/Exim entry without MESSAGE skipped' "$D/err")" 1

"$BW" report --json "$D/equiv.log" > "$D/replay.json"
fields='[.replay.lines, .replay.lines_by_kind, .replay.lines_by_mta, .totals.sent, .totals.bounced, .totals.expired, .totals.deferred, .totals.pending, .totals.notifications.sent]'
check "journal: totals equal report over the same lines" \
  "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$D/replay.json")"
cp "$REP" "$D/first.json"

# A restart with nothing new: the saved entry is not read again.
start_watch
check "journal: restart with nothing new counts nothing twice" "$(wait_lines "$all")" "$all"
kill -TERM "$PID"
wait "$PID"
check "journal: ... and the totals stay" "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$D/first.json")"

# --journal-dir reads the directory's journal files; no state: from the
# oldest entry.
REP=$D/dir.json
"$BW" watch --journal-dir "$D/jdir" --report-json "$REP" --report-interval 20 2> "$D/err2" &
PID=$!
i=0
while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "journal-dir: every entry" "$(wait_lines "$all")" "$all"
kill -TERM "$PID"
wait "$PID"
check "journal-dir: totals equal report" "$(jq -c "$fields" "$REP")" "$(jq -c "$fields" "$D/replay.json")"

# A journal that cannot be opened is an error, said with its name.
"$BW" watch --journal-file "$D/none.journal" --report-json "$D/x.json" 2> "$D/err3"
check "journal: missing file exits 1" $? 1
check "journal: ... naming it" "$(grep -c 'none.journal' "$D/err3")" 1

# --journal: the local system journal (whatever it holds here, perhaps
# nothing) opens, is followed and stops cleanly.
REP=$D/sys.json
"$BW" watch --journal --report-json "$REP" --report-interval 20 2> "$D/err5" &
PID=$!
i=0
while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM "$PID"
wait "$PID"
check "journal: the system journal followed and SIGTERM exits 0" $? 0
check "... with a report" "$(jq -r '.replay.complete' "$REP")" true

"$BW" watch --journal-dir "$D/jdir" --journal-file "$J" 2> "$D/err4"
check "journal: --journal-dir with --journal-file is a usage error" $? 1
check "... said" "$(grep -c 'exclude each other' "$D/err4")" 1

finish
