#!/bin/bash
# End-to-end checks of `bouncewatch replay` on the bundled fixtures: the
# summary's numbers, stdin, several files and formats, --events, and the
# bad-input cases (truncated, refused, missing, directory, long line,
# binary garbage), each asserting the message and that the rest counted.
set -uo pipefail
BW=$1
DATA=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"   # never the user's ~/.cache
. "$(dirname "$0")/check.sh"

# --- the sample log: every count known by hand ----------------------------
"$BW" replay --json "$DATA/sample.log" > "$TMP/s.json"
check "sample exit" $? 0
check "sample lines" "$(jq .lines "$TMP/s.json")" 33
check "sample kinds" "$(jq -c '.lines_by_kind|[.unknown,.other,.mta_other,.delivery,.arrival,.message_id,.client,.expired,.notification,.removed,.reject]' "$TMP/s.json")" "[1,2,2,13,4,2,1,1,2,4,1]"
check "sample by mta" "$(jq -c '.lines_by_mta|[.none,.postfix,.exim]' "$TMP/s.json")" "[3,20,10]"
check "sample statuses" "$(jq -c '.deliveries.by_status|[.sent,.deferred,.bounced,.expired]' "$TMP/s.json")" "[5,4,3,1]"
check "sample dsn classes" "$(jq -c '.deliveries.by_dsn_class|[."2",."4",."5",.none]' "$TMP/s.json")" "[2,4,3,4]"
check "sample stages" "$(jq -c '.deliveries.by_stage|[.none,.connect,.mail,.rcpt,.end_of_data]' "$TMP/s.json")" "[6,1,1,4,1]"
check "sample complete" "$(jq .complete "$TMP/s.json")" true

# --- the text summary mentions the essentials ------------------------------
"$BW" replay "$DATA/sample.log" > "$TMP/s.txt"
check "text summary" "$(grep -c -E '^  (delivery|bounced|sent) ' "$TMP/s.txt")" 3

# --- stdin and compressed copies give identical counts ---------------------
"$BW" replay --json - < "$DATA/sample.log" > "$TMP/stdin.json"
check "stdin kinds" "$(jq -c .lines_by_kind "$TMP/stdin.json")" "$(jq -c .lines_by_kind "$TMP/s.json")"
cat "$DATA/sample.log.zst" | "$BW" replay --json - > "$TMP/stdinz.json"
check "stdin zstd detected by magic" "$(jq -r '.files[0].format' "$TMP/stdinz.json")" zstd
"$BW" replay --json "$DATA/sample.log" "$DATA/sample.log.gz" "$DATA/sample.log.zst" > "$TMP/multi.json"
check "three files exit" $? 0
check "three files lines" "$(jq .lines "$TMP/multi.json")" 99
check "three files deliveries" "$(jq .deliveries.total "$TMP/multi.json")" 39
check "formats by magic" "$(jq -r '[.files[].format]|join(",")' "$TMP/multi.json")" "plain,gzip,zstd"
# A misleading name changes nothing: detection is by content.
cp "$DATA/sample.log.gz" "$TMP/looks-plain.log"
"$BW" replay --json "$TMP/looks-plain.log" > "$TMP/named.json"
check "gzip named .log" "$(jq .lines "$TMP/named.json")" 33

# --- --events: one JSON object per delivery event ---------------------------
"$BW" replay --events "$DATA/sample.log" > "$TMP/ev.jsonl" 2> "$TMP/ev.err"
check "events count" "$(wc -l < "$TMP/ev.jsonl")" 13
check "events valid json" "$(jq -c . "$TMP/ev.jsonl" | wc -l)" 13
check "event fields" "$(sed -n 2p "$TMP/ev.jsonl" | jq -c '[.time,.mta,.queue_id,.rcpt,.status,.dsn,.reply_code,.stage,.line]')" \
  '["2024-05-01T10:00:01.223456Z","postfix","4VqXyZ1bcDz","userunknown@example.co.jp","bounced","5.1.1",550,"rcpt",8]'
check "events summary on stderr" "$(grep -c 'lines by kind' "$TMP/ev.err")" 1

# --- truncated and refused inputs: named, counted, the rest goes on --------
"$BW" replay --json "$DATA/sample-truncated.log.gz" "$DATA/sample.log" > "$TMP/tr.json" 2> "$TMP/tr.err"
check "truncated exit" $? 2
check "truncated message" "$(grep -c 'sample-truncated.log.gz: gzip: input ends inside a member (truncated) at decoded offset' "$TMP/tr.err")" 1
check "truncated complete flag" "$(jq .complete "$TMP/tr.json")" false
check "whole lines before the cut kept" "$(jq '.files[0].lines' "$TMP/tr.json")" 23
check "partial tail counted" "$(jq .skipped.partial_tails "$TMP/tr.json")" 1
check "next file still read" "$(jq '.files[1].lines' "$TMP/tr.json")" 33
"$BW" replay --json "$DATA/sample-truncated.log.zst" > "$TMP/trz.json" 2> "$TMP/trz.err"
check "truncated zstd exit" $? 2
check "truncated zstd message" "$(grep -c 'zstd: input ends inside a frame (truncated)' "$TMP/trz.err")" 1
"$BW" replay "$DATA/sample.log.xz" > /dev/null 2> "$TMP/xz.err"
check "xz refused exit" $? 2
check "xz refused message" "$(grep -c 'sample.log.xz: xz-compressed input is not supported' "$TMP/xz.err")" 1
"$BW" replay --json "$TMP/does-not-exist" "$DATA" "$DATA/sample.log" > "$TMP/bad.json" 2> "$TMP/bad.err"
check "missing+dir exit" $? 2
check "missing named" "$(grep -c 'does-not-exist: cannot open: No such file' "$TMP/bad.err")" 1
check "directory named" "$(grep -c 'is a directory' "$TMP/bad.err")" 1
check "good file after bad ones" "$(jq .lines "$TMP/bad.json")" 33

# --- a frame asking for a 2 GiB zstd window: refused, then allowed --------
"$BW" replay --json "$DATA/dec/win31.zst" "$DATA/sample.log" > "$TMP/win.json" 2> "$TMP/win.err"
check "window refused exit" $? 2
check "window message" "$(grep -c 'win31.zst: zstd frame needs a 2048 MiB window (window log 31), above the limit of 128 MiB; allow it with --zstd-window-log=31' "$TMP/win.err")" 1
check "window: next file read" "$(jq '.files[1].lines' "$TMP/win.json")" 33
"$BW" replay --json --zstd-window-log 31 "$DATA/dec/win31.zst" > "$TMP/win2.json"
check "window allowed" "$(jq -c '[.complete,.lines]' "$TMP/win2.json")" "[true,123]"

# --- a 1 MB line is skipped with its line number; the rest is counted ------
{ head -n 5 "$DATA/sample.log"; head -c 1048576 /dev/zero | tr '\0' 'x'; echo; tail -n +6 "$DATA/sample.log"; } > "$TMP/long.log"
"$BW" replay --json "$TMP/long.log" > "$TMP/long.json" 2> "$TMP/long.err"
check "long line exit" $? 0
check "long line skipped" "$(jq .skipped.long_lines "$TMP/long.json")" 1
check "long line number" "$(jq '.skipped.samples[0].line' "$TMP/long.json")" 6
check "long line bytes" "$(jq '.skipped.samples[0].bytes' "$TMP/long.json")" 1048576
check "others counted" "$(jq .lines "$TMP/long.json")" 33
check "long line on stderr" "$(grep -c 'long.log: 1 line longer than 65536 bytes skipped' "$TMP/long.err")" 1
"$BW" replay --json --max-line 100 "$DATA/sample.log" > "$TMP/ml.json"
check "--max-line applies" "$(jq '.skipped.long_lines > 0 and .skipped.max_line == 100' "$TMP/ml.json")" true

# --- garbage, NUL bytes, CRLF: never stop the stream -----------------------
{ head -c 200000 /dev/urandom; echo; cat "$DATA/sample.log"; } > "$TMP/garbage.log"
"$BW" replay --json "$TMP/garbage.log" > "$TMP/g.json"
check "garbage exit" $? 0
check "garbage then deliveries" "$(jq .deliveries.total "$TMP/g.json")" 13
sed 's/$/\r/' "$DATA/sample.log" > "$TMP/crlf.log"
"$BW" replay --json "$TMP/crlf.log" > "$TMP/crlf.json"
check "crlf kinds" "$(jq -c .lines_by_kind "$TMP/crlf.json")" "$(jq -c .lines_by_kind "$TMP/s.json")"
: > "$TMP/empty.log"
"$BW" replay --json "$TMP/empty.log" > "$TMP/empty.json"
check "empty file" "$(jq -c '[.lines,.complete]' "$TMP/empty.json")" "[0,true]"

# --- classification: replay, explain, check-rules (on data/rules-min) -------
MIN="$DATA/rules-min"
"$BW" replay --rules "$MIN" --rules-cache "$TMP/mincache" --json "$DATA/sample.log" > "$TMP/c.json"
check "classified = deferred+bounced+expired" "$(jq .deliveries.classified "$TMP/c.json")" 8
check "by reason" "$(jq -c .deliveries.by_reason "$TMP/c.json")" '{"onhold":2,"authfailure":1,"expired":1,"securityerror":2,"userunknown":2}'
check "by group" "$(jq -c '.deliveries.by_group|[.recipient,.sender_auth,.network_transient]' "$TMP/c.json")" "[2,3,3]"
check "hard/soft" "$(jq -c '.deliveries|[.hard,.soft]' "$TMP/c.json")" "[2,6]"
check "compiled rules cached" "$(ls "$TMP/mincache" | grep -c '^rules-.*\.hsdb$')" 1
"$BW" replay --rules "$MIN" --events "$DATA/sample.log" 2> /dev/null > "$TMP/cev.jsonl"
check "event verdict" "$(sed -n 2p "$TMP/cev.jsonl" | jq -c '[.reason,.group,.hard,.permanent]')" '["userunknown","recipient",true,true]'
check "sent events carry no reason" "$(sed -n 1p "$TMP/cev.jsonl" | jq -c 'has("reason")')" false
"$BW" replay --no-classify --json "$DATA/sample.log" > "$TMP/nc.json"
check "--no-classify" "$(jq .deliveries.classified "$TMP/nc.json")" 0
"$BW" replay --rules "$DATA/rules-broken" "$DATA/sample.log" > /dev/null 2> "$TMP/rb.err"
check "broken rules stop replay" $? 1
check "broken rules named" "$(grep -c 'broken.rules:2: unknown reason' "$TMP/rb.err")" 1
"$BW" check-rules "$DATA/rules-broken" > /dev/null 2> "$TMP/cr.err"
check "check-rules broken exit" $? 1
check "check-rules lists all" "$(grep -c '^.*broken.rules:[0-9]*: ' "$TMP/cr.err")" 12
"$BW" check-rules "$MIN" > "$TMP/cr.out"
check "check-rules ok" $? 0
check "check-rules summary" "$(grep -c '10 rules, 4 status codes, 2 Hyperscan databases: OK' "$TMP/cr.out")" 1
"$BW" explain --rules "$MIN" 'host mx.example.org[192.0.2.1] said: 550 5.1.1 <a@example.org>: User unknown (in reply to RCPT TO command)' > "$TMP/ex.out"
check "explain exit" $? 0
check "explain reason" "$(grep -c '^reason: *userunknown$' "$TMP/ex.out")" 1
check "explain hard" "$(grep -c '^bounce: *hard, permanent$' "$TMP/ex.out")" 1
check "explain rule location" "$(grep -c 'decided .*rules-min/min.rules:3: rule 1 (userunknown)' "$TMP/ex.out")" 1
check "explain advice" "$(grep -c '^advice: *Advice for userunknown.$' "$TMP/ex.out")" 1
"$BW" explain --rules "$MIN" --stage end_of_data --status 5.0.0 'User unknown' > "$TMP/ex2.out"
check "explain --stage" "$(grep -c '^reason: *filtered$' "$TMP/ex2.out")" 1
printf 'User unknown (in reply to RCPT TO command)\n\n\001\377garbage\nDMARC policy\r\n' |
  "$BW" explain --rules "$MIN" --batch > "$TMP/batch.out"
check "batch line count" "$(wc -l < "$TMP/batch.out")" 4
check "batch output" "$(tr '\t\n' ',;' < "$TMP/batch.out")" "userunknown,recipient,hard;undefined,network_transient,soft;onhold,network_transient,soft;authfailure,sender_auth,soft;"
"$BW" explain --rules "$MIN" --status 9.9 x > /dev/null 2>&1
check "explain bad --status" $? 1

# --- the shipped rules on typical real replies (patterns/) -------------------
ex() { "$BW" explain "$@" | sed -n 's/^reason: *//p'; }
check "shipped: multi-line DMARC" "$(ex 'host gmail-smtp-in.l.google.com[142.250.1.27] said: 550-5.7.26 Unauthenticated email from example.org is not accepted due to domain'"'"'s 550-5.7.26 DMARC policy. Please contact the administrator of 550 5.7.26 example.org domain (in reply to end of DATA command)')" authfailure
check "shipped: user unknown at RCPT" "$(ex 'host mx.example.net[192.0.2.9] said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)')" userunknown
check "shipped: mailbox full" "$(ex 'host mx.example.net[192.0.2.9] said: 552 5.2.2 <bob@example.net>: Mailbox full (in reply to RCPT TO command)')" mailboxfull
check "shipped: connection timed out" "$(ex --status 4.4.1 'connect to mx.example.net[192.0.2.9]:25: Connection timed out')" expired
"$BW" explain 'host mx.example.net[192.0.2.1] said: 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.5 (in reply to RCPT TO command)' > "$TMP/sh.out"
check "shipped: spamhaus is blocked" "$(sed -n 's/^reason: *//p' "$TMP/sh.out")" blocked
check "explain names the blocklist" "$(grep -c '^blocklist: *Spamhaus: ask for delisting at https://check.spamhaus.org/' "$TMP/sh.out")" 1
"$BW" check-rules > "$TMP/shipped.out"
check "shipped rules check" $? 0

# --- inputs the fuzzers found (tests/fuzz/regressions): subject 9, an Exim
# failure without text; under ASan+UBSan these crashed before the fix.
{ cat "$DATA/../fuzz/regressions/fuzz_parse_line/dsn-subject-9"; echo; cat "$DATA/../fuzz/regressions/fuzz_parse_line/exim-bounce-without-text"; echo; } > "$TMP/fz.log"
"$BW" replay --json "$TMP/fz.log" > "$TMP/fz.json"
check "fuzz finds: counted" "$(jq -c '[.deliveries.total, .deliveries.by_dsn_class."5", (.deliveries.by_dsn_subject|has("5.9"))]' "$TMP/fz.json")" "[2,1,false]"

# --- usage errors ----------------------------------------------------------
"$BW" replay > /dev/null 2>&1
check "no files is a usage error" $? 1
"$BW" replay --bogus x > /dev/null 2>&1
check "unknown option" $? 1
"$BW" replay --zstd-window-log 99 x > /dev/null 2>&1
check "window log range" $? 1

finish
