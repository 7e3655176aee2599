#!/bin/bash
# The suppression list end to end on the sample log: `report
# --suppress-out` in the three formats, the Postfix table compiled and
# queried by Debian's own postmap (as the invoking user, with a config
# directory of our own: a fresh machine's postfix may have no main.cf),
# and `watch` keeping the list in its state across a restart, rewriting
# the file at checkpoints and taking an address off after a delivery.
# Waits are bounded retries, never fixed sleeps.
set -uo pipefail
BW=$1
DATA=$2
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
export BW_CONFIG="" # not the machine's /etc/bouncewatch
. "$(dirname "$0")/check.sh"

# The sample's hard bounces: userunknown@example.co.jp (Postfix, 5.1.1)
# and kijitora@example.jp (Exim **, 5.1.1). The DMARC bounce
# (authfailure) and the greylisting deferrals are not the recipient's
# fault and must not be listed.
"$BW" report --suppress-out "$TMP/access" "$DATA/sample.log" > /dev/null
check "report exit" $? 0
check "postfix: the two hard bounces" "$(grep -v '^#' "$TMP/access" | cut -d' ' -f1,2 | tr '\n' ' ')" \
  "kijitora@example.jp REJECT userunknown@example.co.jp REJECT "
check "postfix: evidence in the reply" "$(grep -c '^userunknown@example.co.jp REJECT recipient suppressed by bouncewatch: userunknown (5.1.1) hard bounce at 2024-05-01T10:00:01Z, until 2024-05-08T10:00:01Z$' "$TMP/access")" 1

if command -v postmap > /dev/null; then
  mkdir "$TMP/pf"
  : > "$TMP/pf/main.cf" # postmap needs a main.cf; an empty one will do
  postmap -c "$TMP/pf" "hash:$TMP/access"
  check "postmap accepts it" $? 0
  check "postmap: lookup (keys folded as smtpd does)" \
    "$(postmap -c "$TMP/pf" -q USERUNKNOWN@Example.co.jp "hash:$TMP/access" | cut -d' ' -f1-7)" \
    "REJECT recipient suppressed by bouncewatch: userunknown (5.1.1)"
  postmap -c "$TMP/pf" -q bob@example.com "hash:$TMP/access" > /dev/null
  check "postmap: a delivered address is not listed" $? 1
  # As an unprivileged user too (what an operator's cron or CI may be),
  # when this runs as root and can drop to nobody.
  if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null && id nobody > /dev/null 2>&1; then
    mkdir "$TMP/np"
    cp "$TMP/access" "$TMP/np/access"
    chmod 755 "$TMP" "$TMP/pf"
    chmod 777 "$TMP/np"
    out=$(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
      sh -c "postmap -c '$TMP/pf' 'hash:$TMP/np/access' && postmap -c '$TMP/pf' -q kijitora@example.jp 'hash:$TMP/np/access'" 2>&1)
    check "postmap as nobody" "$(echo "$out" | cut -d' ' -f1-6)" "REJECT recipient suppressed by bouncewatch: userunknown"
    chmod 700 "$TMP"
  fi
else
  echo "FAIL: postmap not found (install Debian's postfix: .ci/deps)"
  fails=$((fails + 1))
fi

"$BW" report --suppress-out "$TMP/s.json" --suppress-format json "$DATA/sample.log" > /dev/null
check "json: entries" "$(jq -c '[.entries[]|[.address,.reason,.kind,.dsn,.sender_domain]]' "$TMP/s.json")" \
  '[["kijitora@example.jp","userunknown","hard","5.1.1","example.com"],["userunknown@example.co.jp","userunknown","hard","5.1.1","example.org"]]'
check "json: expiry 7 days after" "$(jq -r '.entries[1]|[.last_failure,.expires]|join(" ")' "$TMP/s.json")" \
  "2024-05-01T10:00:01.223456Z 2024-05-08T10:00:01.223456Z"
check "json: log time" "$(jq -r '.log_time' "$TMP/s.json")" "2024-05-07T12:00:11.000000Z"
"$BW" report --suppress-out "$TMP/s.csv" --suppress-format csv "$DATA/sample.log" > /dev/null
check "csv: header and rows" "$(cut -d, -f1-3 "$TMP/s.csv" | tr '\n' ' ')" \
  "address,reason,kind kijitora@example.jp,userunknown,hard userunknown@example.co.jp,userunknown,hard "
# A shorter life: by the end of the log (05-07) the 05-01 bounce ran out.
"$BW" report --suppress-out "$TMP/s2.csv" --suppress-format csv --suppress-ttl 3 "$DATA/sample.log" > /dev/null
check "csv: --suppress-ttl 3 lets the old one expire" "$(tail -n +2 "$TMP/s2.csv" | cut -d, -f1)" "kijitora@example.jp"
"$BW" report --suppress-out "$TMP/x" --suppress-format xml "$DATA/sample.log" > /dev/null 2> "$TMP/err"
check "unknown format refused" $? 1
"$BW" report --suppress-out "$TMP/x" --suppress-hard userunknown,nosuch "$DATA/sample.log" > /dev/null 2> "$TMP/err"
check "unknown reason refused" "$(grep -c "unknown reason at 'nosuch'" "$TMP/err")" 1

# Soft: mailbox full (classified by the real rules) in three messages
# within 7 days suppresses; one message deferred three times does not.
for d in 1 2 3; do
  q=4Vq${d}z01Bcdz
  printf '2024-05-0%sT10:00:00.000000+00:00 mx1 postfix/qmgr[2]: %s: from=<news@example.org>, size=100, nrcpt=1 (queue active)\n' "$d" "$q"
  printf '2024-05-0%sT10:00:01.000000+00:00 mx1 postfix/smtp[3]: %s: to=<Full@Example.net>, relay=mx.example.net[198.51.100.5]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (host mx.example.net[198.51.100.5] said: 452 4.2.2 <full@example.net>: Recipient address rejected: Mailbox full (in reply to RCPT TO command))\n' "$d" "$q"
  printf '2024-05-0%sT10:00:02.000000+00:00 mx1 postfix/smtp[3]: 4VqXz09Bcdz: to=<once@example.net>, relay=mx.example.net[198.51.100.5]:25, delay=1, delays=0/0/0/1, dsn=4.2.2, status=deferred (host mx.example.net[198.51.100.5] said: 452 4.2.2 <once@example.net>: Recipient address rejected: Mailbox full (in reply to RCPT TO command))\n' "$d"
done > "$TMP/soft.log"
"$BW" report --suppress-out "$TMP/soft.csv" --suppress-format csv "$TMP/soft.log" > /dev/null
check "soft: 3 messages in 3 days" "$(tail -n +2 "$TMP/soft.csv" | cut -d, -f1-4,10)" "full@example.net,mailboxfull,soft,3,example.org"
"$BW" report --suppress-out "$TMP/soft4.csv" --suppress-format csv --suppress-soft-count 4 "$TMP/soft.log" > /dev/null
check "soft: not with --suppress-soft-count 4" "$(tail -n +2 "$TMP/soft4.csv" | wc -l)" 0
"$BW" report --suppress-out "$TMP/soft1.csv" --suppress-format csv --suppress-soft-days 1 "$TMP/soft.log" > /dev/null
check "soft: not within 1 day" "$(tail -n +2 "$TMP/soft1.csv" | wc -l)" 0

# watch: the list is written at checkpoints, kept in the state across a
# restart, and a later delivery to a listed address takes it off.
D=$TMP/w
mkdir -p "$D"
LOG=$D/mail.log
cp "$DATA/sample.log" "$LOG"
start() {
  "$BW" watch --state "$D/state" --suppress-out "$D/access" \
    --report-json "$D/r.json" --report-interval 50 --poll-interval 100 "$LOG" 2>> "$D/err" &
  PID=$!
}
# wait_for PATTERN COUNT: until COUNT lines of the list match (10 s max).
wait_for() {
  local i got=""
  for ((i = 0; i < 200; i++)); do
    got=$(grep -c -- "$1" "$D/access" 2> /dev/null)
    [ "$got" = "$2" ] && break
    sleep 0.05
  done
  echo "${got:-none}"
}
start
check "watch: list written" "$(wait_for ' REJECT ' 2)" 2
kill -TERM "$PID"
wait "$PID"
check "watch: exit" $? 0
check "watch: same list as report" "$(grep -v '^#' "$D/access")" "$(grep -v '^#' "$TMP/access")"
rm "$D/access"
# The mailbox was recreated: a delivery after the bounce, written while
# the watcher was down; the restart reads it from the saved offset and
# keeps the rest of the list from the state.
echo '2024-05-07T14:00:01.000000+02:00 mail1 postfix/smtp[1250]: 4VqYz01Bcdz: to=<userunknown@example.co.jp>, relay=mx.example.co.jp[192.0.2.153]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)' >> "$LOG"
start
check "watch: after restart, only the Exim bounce" "$(wait_for 'REJECT' 1)" 1
kill -TERM "$PID"
wait "$PID"
check "watch: kept across the restart" "$(grep -v '^#' "$D/access" | cut -d' ' -f1)" "kijitora@example.jp"
check "watch: no damaged state" "$(grep -c 'damaged' "$D/err")" 0

# SIGKILL at a checkpoint: the restart reads again what came after the
# last saved state and the list comes out the same as a replay's.
D=$TMP/k
mkdir -p "$D"
LOG=$D/mail.log
head -n 20 "$DATA/sample.log" > "$LOG"
start
check "kill: first list written" "$(wait_for ' REJECT ' 1)" 1
kill -KILL "$PID"
wait "$PID" 2> /dev/null
tail -n +21 "$DATA/sample.log" >> "$LOG"
start
check "kill: after the restart" "$(wait_for ' REJECT ' 2)" 2
kill -TERM "$PID"
wait "$PID"
check "kill: same list as one replay" "$(grep -v '^#' "$D/access")" "$(grep -v '^#' "$TMP/access")"

finish
