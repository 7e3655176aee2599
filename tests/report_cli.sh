#!/bin/bash
# `bouncewatch report` end to end on the sample log, whose outcomes are
# known by hand (tests/data/README.md): the join, the per-domain counts,
# the JSON document, the terminal report and the HTML page.
set -uo pipefail
BW=$1
DATA=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"

"$BW" report --json --html "$TMP/r.html" "$DATA/sample.log" > "$TMP/r.json"
check "exit" $? 0
# Postfix 4VqXyZ1bcDz (news@example.org): bob sent, 2 bounced, kijitora@
# example.jp deferred twice then expired with the message. Exim
# 1rABCd (sender@example.com): 2 sent, 1 bounced, 1 deferred then expired.
check "totals" "$(jq -c '.totals|[.messages,.sent,.bounced,.expired,.deferred,.hard]' "$TMP/r.json")" "[4,3,3,2,4,2]"
check "notifications apart" "$(jq -c '.totals.notifications|[.sent,.bounced]' "$TMP/r.json")" "[2,0]"
check "example.org" "$(jq -c '.sender_domains[]|select(.name=="example.org")|[.sent,.bounced,.expired,.deferred,.registrable]' "$TMP/r.json")" '[1,2,1,2,"example.org"]'
check "example.com" "$(jq -c '.sender_domains[]|select(.name=="example.com")|[.sent,.bounced,.expired,.deferred]' "$TMP/r.json")" "[2,1,1,1]"
check "unknown sender (began before the log)" "$(jq -c '.sender_domains[]|select(.name=="unknown")|[.deferred]' "$TMP/r.json")" "[1]"
check "provider from the relay" "$(jq -c '.providers[]|select(.name=="Google")|[.bounced]' "$TMP/r.json")" "[1]"
check "bounce rate" "$(jq '.totals.bounce_rate' "$TMP/r.json")" "0.625"
check "replay nested" "$(jq '.replay.lines' "$TMP/r.json")" 33
check "no breach under min volume" "$(jq '[.sender_domains[].breaches[]]|length' "$TMP/r.json")" 0
"$BW" report --min-volume 2 --json "$DATA/sample.log" > "$TMP/r2.json"
check "breach with --min-volume 2" "$(jq -c '[.sender_domains[]|select(.breaches|length>0)|.name]|sort' "$TMP/r2.json")" '["example.com","example.org"]'
check "breach start" "$(jq -r '.sender_domains[]|select(.name=="example.org")|.breaches[0].start' "$TMP/r2.json")" "2024-05-01T10:00:01.223456Z"
"$BW" report --min-volume 2 --domain-threshold example.org=80 --json "$DATA/sample.log" > "$TMP/r3.json"
check "per-domain threshold" "$(jq -c '[.sender_domains[]|select(.breaches|length>0)|.name]|sort' "$TMP/r3.json")" '["example.com"]'
"$BW" report --min-volume 2 "$DATA/sample.log" > "$TMP/r.txt"
check "terminal: over-threshold section" "$(grep -c '^SENDER DOMAINS OVER A THRESHOLD: 2$' "$TMP/r.txt")" 1
check "html written" "$(grep -c '<!DOCTYPE html>' "$TMP/r.html")" 1
check "html names the domain" "$(grep -q 'example.org' "$TMP/r.html" && echo yes)" yes
"$BW" report --window 100 "$DATA/sample.log" > /dev/null 2>&1
check "window not a multiple of the bucket" $? 1

# The progress bar: only on a terminal (script(1) gives one), only for
# inputs of 64 MiB or more, and cleared before the report.
cp "$DATA/sample.log" "$TMP/big.log"
for i in $(seq 1 14); do cat "$TMP/big.log" "$TMP/big.log" > "$TMP/big2.log"; mv "$TMP/big2.log" "$TMP/big.log"; done
script -qec "'$BW' report --json '$TMP/big.log' > '$TMP/big.json'" /dev/null > "$TMP/tty.out" 2>&1
check "progress bar on a terminal" "$(tr '\r' '\n' < "$TMP/tty.out" | grep -c '^\[=*  *\] *[0-9]*%' | awk '{print ($1 > 0)}')" 1
"$BW" report --json "$TMP/big.log" > "$TMP/big2.json" 2> "$TMP/notty.err"
check "no progress bar off a terminal" "$(grep -c '%' "$TMP/notty.err")" 0
check "big log counted" "$(jq '.replay.lines' "$TMP/big2.json")" $((33 * 16384))

finish
