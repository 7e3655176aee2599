#!/bin/bash
# Alerts to a real Alertmanager (Debian's prometheus-alertmanager) on
# 127.0.0.1: watch posts an alert when it fires (labels and details
# arrive), and its resolution (the alert leaves the active list); when
# Alertmanager restarts empty, the firing alerts come back by the
# re-sending (and the retries while it was down); `report --alerts`
# delivers a replay's alerts. The port is picked and retried; every
# process started here is killed at the end, failure or not. Waits are
# bounded retries. Usage: alertmanager.sh BOUNCEWATCH BW_GEN_LOGS
set -uo pipefail
BW=$1
GEN=$2
TMP=$(mktemp -d)
AMPID=""
cleanup() {
  kill $(jobs -p) 2> /dev/null
  wait 2> /dev/null
  if [ "$fails" -gt 0 ]; then tail -5 "$TMP"/am*.log 2> /dev/null; tail -5 "$TMP"/w.err 2> /dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"
command -v prometheus-alertmanager > /dev/null ||
  { echo "FAIL: prometheus-alertmanager not found (.ci/deps installs it)"; exit 1; }

cat > "$TMP/am.yml" << 'EOF'
route:
  receiver: discard
  group_wait: 1s
receivers:
  - name: discard
EOF

# start_am PORT RUN: Alertmanager on 127.0.0.1:PORT with a fresh storage;
# 0 once it answers, 1 if it exited (port taken).
start_am() {
  prometheus-alertmanager --config.file="$TMP/am.yml" --storage.path="$TMP/am$2" \
    --web.listen-address="127.0.0.1:$1" --cluster.listen-address= \
    > "$TMP/am$2.log" 2>&1 &
  AMPID=$!
  local k
  for ((k = 0; k < 300; k++)); do
    kill -0 $AMPID 2> /dev/null || { wait $AMPID 2> /dev/null; return 1; }
    curl -sf --max-time 1 "http://127.0.0.1:$1/-/ready" > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}
PORT=""
for try in 1 2 3 4 5 6; do
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
  if start_am $p 1; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "FAIL: alertmanager did not start"; fails=1; exit 1; }
AM=http://127.0.0.1:$PORT

active() { # the active BouncewatchBounceRate alerts as domain/window, sorted
  curl -s --max-time 2 "$AM/api/v2/alerts?active=true&silenced=false&inhibited=false" |
    jq -r '[.[] | select(.labels.alertname == "BouncewatchBounceRate" and .status.state == "active")
            | "\(.labels.sender_domain)/\(.labels.window)"] | sort | join(",")' 2> /dev/null
}
wait_active() { # wait_active WANT: until active() says WANT (10 s at most)
  local k got=""
  for ((k = 0; k < 200; k++)); do
    got=$(active)
    [ "$got" = "$1" ] && break
    sleep 0.05
  done
  echo "$got"
}

# The log of alerts.sh: generated traffic that breaches, then two hours
# of silence: the 1 h alerts resolve, the 1 d ones keep firing.
"$GEN" --seed 7 --messages 1500 --format mixed --prefix rfc3339 --truth "$TMP/t.json" > "$TMP/gen.log"
last=$(tail -1 "$TMP/gen.log" | cut -c1-19)
later=$(date -u -d "${last}Z + 2 hours" +%Y-%m-%dT%H:%M:%S)
echo "$later.000000+00:00 mail1 dovecot[77]: imap-login: stopped" > "$TMP/tail.log"
cat "$TMP/gen.log" "$TMP/tail.log" > "$TMP/all.log"
"$BW" report --json "$TMP/all.log" > "$TMP/r.json"
win='if .window_s % 86400 == 0 then "\(.window_s / 86400)d" else "\(.window_s / 3600)h" end'
FIRED=$(jq -r "[.alerts[] | \"\(.sender_domain)/\($win)\"] | sort | join(\",\")" "$TMP/r.json")
STILL=$(jq -r "[.alerts[] | select(.end == null) | \"\(.sender_domain)/\($win)\"] | sort | join(\",\")" "$TMP/r.json")
check "the log fires and resolves" "$([ -n "$STILL" ] && [ "$FIRED" != "$STILL" ] && echo yes)" yes

# Live: the traffic, then the alerts are in Alertmanager with details.
cp "$TMP/gen.log" "$TMP/live.log"
"$BW" watch --alertmanager "$AM" --alert-resend 300 "$TMP/live.log" 2> "$TMP/w.err" &
WPID=$!
check "fired alerts arrive" "$(wait_active "$FIRED")" "$FIRED"
one=$(jq -r '.alerts[0].sender_domain' "$TMP/r.json")
curl -s "$AM/api/v2/alerts" > "$TMP/list.json"
check "labels" "$(jq -c --arg d "$one" '[.[] | select(.labels.sender_domain == $d and .labels.window == "1h") | .labels | {kind, severity, source}][0]' "$TMP/list.json")" \
  '{"kind":"bounce_rate","severity":"warning","source":"bouncewatch"}'
check "details" "$(jq -r --arg d "$one" '[.[] | select(.labels.sender_domain == $d and .labels.window == "1h") | .annotations | (.reasons != "" and .providers != "" and .groups != "" and (.summary | test("bounce rate")) and (.rate | tonumber) >= 0.02)][0]' "$TMP/list.json")" true
check "startsAt is the log time" "$(jq -r --arg d "$one" '[.[] | select(.labels.sender_domain == $d) | .startsAt][0] | startswith("2024-03-01T00:")' "$TMP/list.json")" true

# Alertmanager restarts with nothing: the firing alerts come back by the
# re-sending (the posts in between failed and were retried).
kill $AMPID
wait $AMPID 2> /dev/null
# The next re-send fails: watch says so and retries.
for ((k = 0; k < 200; k++)); do
  grep -q 'alertmanager .*retrying' "$TMP/w.err" && break
  sleep 0.05
done
check "watch said the outage" "$(grep -c 'alertmanager .*retrying' "$TMP/w.err")" 1
restarted=1
for try in 1 2 3 4 5; do start_am $PORT 2 && break || restarted=0; done
check "alertmanager restarted on its port" "$restarted" 1
check "firing alerts re-sent" "$(wait_active "$FIRED")" "$FIRED"

# Silence: the 1 h alerts resolve and leave the active list.
cat "$TMP/tail.log" >> "$TMP/live.log"
check "resolved alerts leave" "$(wait_active "$STILL")" "$STILL"
check "no duplicate alerts" "$(curl -s "$AM/api/v2/alerts" | jq '[.[] | .fingerprint] | (length == (unique | length))')" true
kill -TERM $WPID
wait $WPID
check "watch exits 0" "$?" 0
check "watch said it delivers again" "$(grep -c 'alertmanager .*delivering again' "$TMP/w.err")" 1

# A replay, sent: into a fresh Alertmanager, what is still firing.
kill $AMPID
wait $AMPID 2> /dev/null
for try in 1 2 3 4 5; do start_am $PORT 3 && break; done
"$BW" report --alerts --alertmanager "$AM" "$TMP/all.log" > /dev/null 2> "$TMP/rep.err"
check "report --alerts delivered" "$?" 0
check "replay's firing alerts" "$(wait_active "$STILL")" "$STILL"
# Nobody listening: report says so and exits 2 after its timeout.
kill $AMPID
wait $AMPID 2> /dev/null
"$BW" report --alerts --alertmanager "$AM" --alert-timeout 1500 "$TMP/all.log" > /dev/null 2> "$TMP/rep2.err"
check "undelivered: exit 2" "$?" 2
check "undelivered: said" "$(grep -c 'not delivered' "$TMP/rep2.err")" 1
finish
