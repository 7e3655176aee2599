#!/bin/bash
# Alerts end to end: `report` lists them with their log times (text and
# JSON); `report --alerts --alert-exec` runs the command once per
# transition, with BW_ALERT_* variables and the alert as JSON on stdin;
# `watch` raises the same alerts as the replay of the same log, read in
# two parts with a restart in between, and runs the command exactly once
# per transition (none repeated after the restart, none lost). Waits are
# bounded retries. Usage: alerts.sh BOUNCEWATCH DATA_DIR BW_GEN_LOGS
set -uo pipefail
BW=$1
DATA=$2
GEN=$3
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"

# The sample: three alerts at --min-volume 2, with log times.
"$BW" report --min-volume 2 "$DATA/sample.log" > "$TMP/s.txt"
check "text: alerts section" "$(grep -c '^ALERTS: 3 ' "$TMP/s.txt")" 1
"$BW" report --json --min-volume 2 "$DATA/sample.log" > "$TMP/s.json"
check "json: alerts" "$(jq '.alerts | length' "$TMP/s.json")" 3
check "json: first alert" "$(jq -c '.alerts[0] | [.sender_domain, .kind, .window_s, .start, .end, .status]' "$TMP/s.json")" \
  '["example.org","bounce_rate",3600,"2024-05-01T11:00:00.000000Z","2024-05-01T11:10:00.000000Z","resolved"]'
check "json: why" "$(jq -c '.alerts[0] | [.reasons[0].name, (.groups | length), .providers[0].name]' "$TMP/s.json")" \
  '["authfailure",2,"other"]'
check "json: still firing" "$(jq -c '[.alerts[] | select(.end == null) | .sender_domain]' "$TMP/s.json")" '["example.com"]'
check "json: none dropped" "$(jq '.alerts_dropped' "$TMP/s.json")" 0

# A generated log whose senders breach, then two hours of silence (one
# other program's line): the 1 h alerts resolve, the 1 d ones stay.
"$GEN" --seed 7 --messages 1500 --format mixed --prefix rfc3339 --truth "$TMP/t.json" > "$TMP/gen.log"
last=$(tail -1 "$TMP/gen.log" | cut -c1-19)
later=$(date -u -d "${last}Z + 2 hours" +%Y-%m-%dT%H:%M:%S)
{ cat "$TMP/gen.log"; echo "$later.000000+00:00 mail1 dovecot[77]: imap-login: stopped"; } > "$TMP/all.log"
"$BW" report --json "$TMP/all.log" > "$TMP/r.json"
NA=$(jq '.alerts | length' "$TMP/r.json")
NR=$(jq '[.alerts[] | select(.end != null)] | length' "$TMP/r.json")
check "replay: several alerts" "$(( NA >= 4 ))" 1
check "replay: some resolved" "$(( NR >= 2 && NR < NA ))" 1

# The command: one run per transition, in log-time order.
cat > "$TMP/hook" << 'EOF'
#!/bin/sh
n=$(ls "$OUT" | wc -l)
cat > "$OUT/$n.json"
env | grep '^BW_ALERT_' | sort > "$OUT/$n.env"
EOF
chmod +x "$TMP/hook"
mkdir "$TMP/out1"
OUT=$TMP/out1 "$BW" report --json --alerts --alert-exec "$TMP/hook" "$TMP/all.log" > /dev/null 2> "$TMP/r.err"
check "report --alerts exit 0" "$?" 0
check "one run per transition" "$(ls "$TMP/out1" | grep -c json)" "$((NA + NR))"
bad=0
for j in "$TMP"/out1/*.json; do
  e=${j%.json}.env
  st=$(jq -r .status "$j") dom=$(jq -r .sender_domain "$j")
  grep -qx "BW_ALERT_STATUS=$st" "$e" && grep -qx "BW_ALERT_DOMAIN=$dom" "$e" &&
    grep -q "^BW_ALERT_RATE=" "$e" && grep -q "^BW_ALERT_REASONS=" "$e" || bad=1
done
check "JSON on stdin agrees with the environment" "$bad" 0
check "log lines" "$(grep -c 'alert firing:' "$TMP/r.err"):$(grep -c 'alert resolved:' "$TMP/r.err")" "$NA:$NR"
# argv without a shell: an argument with spaces and quotes arrives whole.
cat > "$TMP/argv" << 'EOF'
#!/bin/sh
printf '%s\n' "$@" > "$OUT/argv.$BW_ALERT_SEQ.$BW_ALERT_STATUS"
EOF
chmod +x "$TMP/argv"
mkdir "$TMP/out2"
OUT=$TMP/out2 "$BW" report --alerts --alert-exec "$TMP/argv" --alert-arg 'a b' --alert-arg '"$x;' \
  --min-volume 2 "$DATA/sample.log" > /dev/null 2>&1
check "argv passed as given" "$(cat "$TMP/out2/argv.1.firing")" $'a b\n"$x;'
# A command that cannot start is said, and the report still exits.
"$BW" report --alerts --alert-exec "$TMP/nonexistent" --min-volume 2 "$DATA/sample.log" > /dev/null 2> "$TMP/ne.err"
check "missing command: exit 2" "$?" 2
check "missing command: said" "$(grep -c 'nonexistent' "$TMP/ne.err" | awk '{print ($1 > 0)}')" 1

# watch: the same log in two parts with a restart: the same alerts, and
# each transition run once.
wait_lines() { # wait_lines REPORT N
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(jq -r '.replay.lines' "$1" 2> /dev/null)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
mkdir "$TMP/out3"
total=$(wc -l < "$TMP/all.log")
# Most lines are in the first minutes (the generator's retries stretch
# it): cut a little after the first line past 00:10, so that the first
# part crossed two bucket boundaries and raised alerts.
half=$(( $(grep -n -m1 -E '^2024-03-01[T ]00:1' "$TMP/all.log" | cut -d: -f1) + 10 ))
head -n $half "$TMP/all.log" > "$TMP/live.log"
W="$BW watch --state $TMP/state --report-json $TMP/w.json --report-interval 50 --alert-exec $TMP/hook $TMP/live.log"
OUT=$TMP/out3 $W 2> "$TMP/w1.err" &
PID=$!
wait_lines "$TMP/w.json" $half
check "watch: first part read" "$?" 0
kill -TERM $PID
wait $PID
n1=$(ls "$TMP/out3" | grep -c json)
OUT=$TMP/out3 $W 2> "$TMP/w2.err" &
PID=$!
tail -n +$((half + 1)) "$TMP/all.log" >> "$TMP/live.log"
wait_lines "$TMP/w.json" "$total"
check "watch: second part read" "$?" 0
# The command runs after the line that raised it: wait for the last one.
for ((i = 0; i < 200; i++)); do
  [ "$(ls "$TMP/out3" | grep -c env)" -ge "$((NA + NR))" ] && break
  sleep 0.05
done
kill -TERM $PID
wait $PID
check "watch: the replay's alerts" \
  "$(jq -c '[.alerts[] | del(.status)]' "$TMP/w.json")" "$(jq -c '[.alerts[] | del(.status)]' "$TMP/r.json")"
check "watch: transitions before the restart" "$(( n1 > 0 ))" 1
check "watch: each transition run once across the restart" "$(ls "$TMP/out3" | grep -c json)" "$((NA + NR))"
check "watch: no repeated transition" \
  "$(cat "$TMP"/out3/*.env | grep -E '^BW_ALERT_(SEQ|STATUS)=' | paste - - | sort | uniq -d)" ""
finish
