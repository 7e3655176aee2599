#!/bin/bash
# `watch --metrics-listen`: the endpoint on an ephemeral loopback port
# passes `promtool check metrics` (Debian's prometheus package) with no
# duplicate series; its numbers agree with the report; a silent client, a
# slow one and an oversized request do not stop others being served;
# unknown paths and methods are refused; counters never fall across a
# restart from the state file. Waits are bounded retries, never fixed
# sleeps. Usage: metrics.sh BOUNCEWATCH DATA_DIR
set -uo pipefail
BW=$1
DATA=$2
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; exec 3>&- 4>&- 5>&- 2>/dev/null; rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"

for tool in promtool curl jq; do
  command -v $tool > /dev/null || { echo "FAIL: $tool not found (.ci/deps installs it)"; exit 1; }
done

# start_watch ERRFILE ARGS...: run watch in the background, set PID and
# ADDR (the bound address it prints on stderr; 30 s at most: a first
# start compiles the rules, slow under the sanitizers).
start_watch() {
  local err=$1 i
  shift
  "$BW" watch --metrics-listen 127.0.0.1:0 --report-interval 50 "$@" 2> "$err" &
  PID=$!
  ADDR=""
  for ((i = 0; i < 1500; i++)); do
    ADDR=$(sed -n 's|.*metrics on http://\(.*\)/metrics$|\1|p' "$err")
    [ -n "$ADDR" ] && break
    sleep 0.02
  done
}

# scrape OUT: until the exposition shows LINES delivery lines (5 s at most).
scrape_until() { # scrape_until OUT SERIES VALUE
  local i
  for ((i = 0; i < 1000; i++)); do
    curl -s --max-time 2 "http://$ADDR/metrics" > "$1" 2> /dev/null
    grep -qxF "$2 $3" "$1" && return 0
    sleep 0.02
  done
  return 1
}

cp "$DATA/sample.log" "$TMP/mail.log"
start_watch "$TMP/err" --state "$TMP/state" --report-json "$TMP/rep.json" "$TMP/mail.log"
check "bound to loopback" "${ADDR%%:*}" "127.0.0.1"
DELIV=$("$BW" replay --json "$DATA/sample.log" | jq '.lines_by_kind.delivery')
scrape_until "$TMP/m1" 'bouncewatch_lines_total{kind="delivery"}' "$DELIV"
check "all delivery lines counted" "$?" 0
promtool check metrics < "$TMP/m1" > "$TMP/lint" 2>&1
check "promtool check metrics" "$?:$(cat "$TMP/lint")" "0:"
check "no duplicate series" "$(grep -v '^#' "$TMP/m1" | sed 's/ [^ ]*$//' | sort | uniq -d | head -1)" ""
check "ends with a newline" "$(tail -c 1 "$TMP/m1" | od -An -c | tr -d ' ')" '\n'
ctype=$(curl -s -o /dev/null -w '%{content_type}' "http://$ADDR/metrics")
check "content type" "$ctype" "text/plain; version=0.0.4; charset=utf-8"

# The exposition and the report agree on the sender domains.
REP=$("$BW" report --json "$DATA/sample.log")
for d in $(echo "$REP" | jq -r '.sender_domains[].name'); do
  for o in sent bounced expired; do
    want=$(echo "$REP" | jq ".sender_domains[] | select(.name == \"$d\") | .$o")
    got=$(sed -n "s/^bouncewatch_outcomes_total{sender_domain=\"$d\",outcome=\"$o\"} //p" "$TMP/m1")
    check "$d $o" "$got" "$want"
  done
done

# Refusals.
check "404 elsewhere" "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/")" 404
check "405 for POST" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADDR/metrics")" 405
big=$(head -c 12000 /dev/zero | tr '\0' a)
check "413 for a huge request" "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://$ADDR/metrics")" 413
check "400 for garbage" "$(printf 'NOT HTTP\r\n\r\n' | curl -s --max-time 3 telnet://"$ADDR" 2> /dev/null | head -1 | tr -d '\r')" "HTTP/1.1 400 Bad Request"

# A silent client and a slow one (half a request) hold only their own
# connections: a scrape beside them is answered at once.
exec 3<> "/dev/tcp/${ADDR%%:*}/${ADDR##*:}"
exec 4<> "/dev/tcp/${ADDR%%:*}/${ADDR##*:}"
printf 'GET /metr' >&4
t0=$(date +%s%N)
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")
t1=$(date +%s%N)
check "served beside idle and slow clients" "$code" 200
check "served within 1 s" "$(( (t1 - t0) / 1000000 < 1000 ))" 1
# The slow one finishes its request later and is answered too.
printf 'ics HTTP/1.1\r\nHost: x\r\n\r\n' >&4
check "slow client answered" "$(timeout 5 head -1 <&4 | tr -d '\r')" "HTTP/1.1 200 OK"
exec 3>&- 4>&-

# 1,000 idle connections, far past the cap (64): the oldest ones still
# without a request make room for each new one, so a scraper (which sends
# its request at once) is answered while they hold on.
ulimit -n 4096 2> /dev/null || true
fds=()
for ((k = 0; k < 1000; k++)); do
  exec {fd}<> "/dev/tcp/${ADDR%%:*}/${ADDR##*:}" || break
  fds+=("$fd")
done
check "1,000 idle connections opened" "${#fds[@]}" 1000
t0=$(date +%s%N)
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")
t1=$(date +%s%N)
check "served beside 1,000 idle connections" "$code" 200
check "... within 1 s" "$(( (t1 - t0) / 1000000 < 1000 ))" 1
for fd in "${fds[@]}"; do exec {fd}>&-; done
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")
check "served once they left" "$code" 200

# Counters never fall across a restart: the state file restores them.
BYTES1=$(sed -n 's/^bouncewatch_read_bytes_total //p' "$TMP/m1")
kill -TERM $PID
wait $PID
check "watch exits 0 on SIGTERM" "$?" 0
start_watch "$TMP/err2" --state "$TMP/state" --report-json "$TMP/rep.json" "$TMP/mail.log"
cat "$DATA/sample.log" >> "$TMP/mail.log"
scrape_until "$TMP/m2" 'bouncewatch_lines_total{kind="delivery"}' "$((2 * DELIV))"
check "restart: lines counted on from the state" "$?" 0
fell=0
while read -r series value; do
  after=$(grep -F "$series " "$TMP/m2" | grep -v '^#' | awk -v s="$series" '$1 == s {print $2}')
  case $series in *_total*) ;; *) continue ;; esac
  if [ -z "$after" ] || awk -v a="$after" -v b="$value" 'BEGIN {exit !(a < b)}'; then
    echo "  counter $series: $value -> ${after:-gone}"
    fell=1
  fi
done < <(grep -v '^#' "$TMP/m1")
check "no counter fell across the restart" "$fell" 0
check "bytes grew" "$(( $(sed -n 's/^bouncewatch_read_bytes_total //p' "$TMP/m2") > BYTES1 ))" 1
promtool check metrics < "$TMP/m2" > "$TMP/lint2" 2>&1
check "promtool check metrics after restart" "$?:$(cat "$TMP/lint2")" "0:"
kill -TERM $PID
wait $PID

# A busy port is an error said on stderr, not a silent run without metrics.
start_watch "$TMP/err3" "$TMP/mail.log"
"$BW" watch --metrics-listen "$ADDR" "$TMP/mail.log" 2> "$TMP/err4"
check "port in use: exit 1" "$?" 1
check "port in use: said" "$(grep -c 'cannot listen' "$TMP/err4")" 1
kill -TERM $PID
wait $PID
finish
