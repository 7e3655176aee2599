#!/bin/bash
# The bad-input matrix (README "Bad input"): for each kind of bad input,
# the message names the file and the line or byte offset where it says
# so, and everything else in the stream and the files after it is still
# counted. The good part is always tests/data/sample.log (33 lines, 13
# deliveries), read after or around the bad part.
set -uo pipefail
BW=$(realpath "$1")
DATA=$(realpath "$2")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"
S=$DATA/sample.log
cd "$TMP" || exit 1

# Deterministic pseudo-random bytes (no /dev/urandom: a failure must
# reproduce).
garbage() { # BYTES SEED
  LC_ALL=C awk -v n="$1" -v s="$2" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%c", int(rand() * 256) }'
}

# --- garbage bytes, then the sample in the same file ----------------------
{ garbage 8192 7; printf '\n'; cat "$S"; } > garbage.log
"$BW" replay --json garbage.log > g.json 2> g.err
check "garbage: exit 0" $? 0
check "garbage: every delivery after it counted" "$(jq .deliveries.total g.json)" 13
check "garbage: its lines counted as unknown, not lost" \
  "$(jq '.lines == (.lines_by_kind | add) and .lines_by_kind.unknown > 1' g.json)" true

# --- NUL bytes and invalid UTF-8 inside delivery lines ---------------------
LC_ALL=C sed -e 's/status=bounced/\x00status=bounced/' -e 's/User Unknown/User \xff\xfe\xc3\x28 Unknown/' "$S" > nul.log
"$BW" replay --json nul.log > n.json 2> n.err
check "NUL/UTF-8: same kinds as the clean file" "$(jq -c .lines_by_kind n.json)" \
  "$("$BW" replay --json "$S" | jq -c .lines_by_kind)"
"$BW" replay --events nul.log > n.jsonl 2> /dev/null
check "NUL/UTF-8: events stay valid JSON" "$(jq -c . n.jsonl | wc -l)" 13

# --- a 1 MB line, and a 1 GB line streamed (never buffered whole) ----------
{ head -n 5 "$S"; head -c 1048576 /dev/zero | tr '\0' x; printf '\n'; tail -n +6 "$S"; } > mb.log
"$BW" replay --json mb.log > mb.json 2> mb.err
check "1 MB line: named with file and line" "$(grep -c 'mb.log: 1 line longer than 65536 bytes skipped' mb.err)" 1
check "1 MB line: line number and size" "$(jq -c '.skipped.samples[0]|[.line,.bytes]' mb.json)" "[6,1048576]"
check "1 MB line: the other 33 counted" "$(jq .lines mb.json)" 33
{ head -n 5 "$S"; head -c 1073741824 /dev/zero | tr '\0' x; printf '\n'; tail -n +6 "$S"; } |
  /usr/bin/time -f '%M' -o gb.rss "$BW" replay --json - > gb.json 2> gb.err
check "1 GB line: skipped with its size" "$(jq -c '.skipped.samples[0]|[.line,.bytes]' gb.json)" "[6,1073741824]"
check "1 GB line: the other 33 counted" "$(jq .lines gb.json)" 33
check "1 GB line: memory stays small (< 100 MiB)" "$(awk '{print ($1 < 102400)}' gb.rss)" 1

# --- a binary file, then the sample ----------------------------------------
cp "$BW" binary.bin
"$BW" replay --json binary.bin "$S" > b.json 2> b.err
check "binary: exit 0" $? 0
check "binary: the next file counted" "$(jq '.files[1].lines' b.json)" 33
check "binary: nothing parsed as a delivery" "$(jq '.files[0].deliveries // 0' b.json)" 0

# --- an empty file ---------------------------------------------------------
: > empty.log
"$BW" replay --json empty.log "$S" > e.json 2> e.err
check "empty: exit 0 and the next file counted" "$?:$(jq .lines e.json)" "0:33"

# --- compressed input cut short or damaged: offset named, rest counted ----
"$BW" replay --json "$DATA/dec/trunc.zst" "$S" > tz.json 2> tz.err
check "truncated .zst: exit 2" $? 2
check "truncated .zst: named with the decoded offset" \
  "$(grep -c 'trunc.zst: zstd: input ends inside a frame (truncated) at decoded offset [0-9]*' tz.err)" 1
check "truncated .zst: next file counted" "$(jq '.files[1].lines' tz.json)" 33
"$BW" replay --json "$DATA/dec/crc.gz" "$S" > crc.json 2> crc.err
check "corrupt .gz (CRC): exit 2" $? 2
check "corrupt .gz (CRC): named with the offset" \
  "$(grep -c 'crc.gz: gzip: incorrect data check at decoded offset 75802 (641 whole lines before it were processed)' crc.err)" 1
check "corrupt .gz (CRC): lines before it and the next file counted" \
  "$(jq -c '[.files[0].lines,.files[1].lines]' crc.json)" "[641,33]"
"$BW" replay --json "$DATA/dec/corrupt.gz" "$S" > cg.json 2> cg.err
check "corrupt .gz (data): named with the offset" \
  "$(grep -c 'corrupt.gz: gzip: invalid block type at decoded offset 32768' cg.err)" 1
check "corrupt .gz (data): next file counted" "$(jq '.files[1].lines' cg.json)" 33
"$BW" replay --json "$DATA/dec/win31.zst" "$S" > w.json 2> w.err
check "zstd 2 GiB window: refused with the option to allow it" \
  "$(grep -c 'win31.zst: zstd frame needs a 2048 MiB window (window log 31), above the limit of 128 MiB; allow it with --zstd-window-log=31' w.err)" 1
check "zstd 2 GiB window: next file counted" "$(jq '.files[1].lines' w.json)" 33

# --- a broken rule file ----------------------------------------------------
mkdir rules
cp "$DATA"/rules-min/* rules/
printf 'userunknown\t(unclosed\n' >> rules/recipient.rules 2> /dev/null ||
  printf 'userunknown\t(unclosed\n' > rules/recipient.rules
"$BW" check-rules rules > cr.out 2>&1
check "broken rule: check-rules fails" $? 1
check "broken rule: named FILE:LINE" "$(grep -c 'recipient.rules:[0-9]*:' cr.out)" 1

# --- a log whose year rolls over, and time going backwards -----------------
cat > years.log <<'EOF'
Dec 31 23:59:58 mx postfix/qmgr[2]: 4AAAAAAAAA: from=<a@example.org>, size=1, nrcpt=1 (queue active)
Dec 31 23:59:59 mx postfix/smtp[3]: 4AAAAAAAAA: to=<r@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Jan  1 00:00:01 mx postfix/smtp[3]: 4AAAAAAAAA: to=<s@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command))
Dec 31 23:59:50 mx postfix/smtp[3]: 4AAAAAAAAA: to=<t@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Jan  1 00:00:02 mx postfix/qmgr[2]: 4AAAAAAAAA: removed
EOF
touch -d '2025-01-01 00:00:03' years.log
"$BW" replay --events years.log > y.jsonl 2> /dev/null
check "year rollover: Dec 31 then Jan 1 of the next year" \
  "$(jq -r '.time[0:4]' y.jsonl | tr '\n' ,)" "2024,2025,2024,"
"$BW" report --json years.log > yr.json 2> yr.err
check "time backwards: every outcome still counted once" \
  "$(jq -c '[.totals.sent,.totals.bounced]' yr.json)" "[2,1]"

# --- Exim lines split by syslog ([i/n] parts): joined, or parsed as far as
# they go when the last part never comes ----------------------------------
P1='May  1 12:00:08 mx1 exim[777]: [1/2] 2024-05-01 12:00:08 1rABCd-000Xyz-AB ** someone@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.102.27]: SMTP error from remote mail server after end of data: 550-5.7.26 This mail has been blocked because the sender is unauthenticated.'
P2='May  1 12:00:08 mx1 exim[777]: [2/2] \n550 5.7.26 https://support.google.com/mail/answer/81126#authentication - gsmtp'
{ printf '%s\n' "$P1" "$P2"; cat "$S"; printf '%s\n' "$P1"; } > split.log
"$BW" replay --json split.log > sp.json 2> sp.err
check "split Exim line: parts joined, the unfinished one parsed at the end" \
  "$(jq -c '[.lines, .lines_by_kind.continued, .deliveries.total, .deliveries.by_status.bounced]' sp.json)" "[36,1,15,5]"
check "split Exim line: both classified (DMARC, authfailure)" \
  "$(jq '.deliveries.by_reason.authfailure' sp.json)" 3

# --- a path that is a directory, or unreadable ------------------------------
mkdir adir
printf 'x\n' > unreadable.log
chmod 000 unreadable.log
if [ "$(id -u)" -eq 0 ] && command -v setpriv > /dev/null; then
  chmod 755 "$TMP"
  RUN=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  cp "$S" "$TMP/s.log" && chmod 644 "$TMP/s.log"
  GOOD=$TMP/s.log
else
  RUN=()
  GOOD=$S
fi
BW_RULES_CACHE= "${RUN[@]}" "$BW" replay --no-classify --json adir unreadable.log "$GOOD" > d.json 2> d.err
check "dir/unreadable: exit 2" $? 2
check "directory named" "$(grep -c 'adir: .*is a directory' d.err)" 1
check "unreadable named" "$(grep -c 'unreadable.log: cannot open: Permission denied' d.err)" 1
check "dir/unreadable: the good file counted" "$(jq .lines d.json)" 33

# --- a state file cut short, or from another version ------------------------
"$BW" watch --state st --report-json r1.json "$S" 2> w1.err &
PID=$!
i=0
while [ "$(jq .replay.lines r1.json 2> /dev/null)" != 33 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $PID; wait $PID
size=$(stat -c %s st)
head -c $((size / 2)) st > st.cut && mv st.cut st
"$BW" watch --state st --report-json r2.json "$S" 2> w2.err &
PID=$!
i=0
while [ "$(jq .replay.lines r2.json 2> /dev/null)" != 33 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $PID; wait $PID
check "state cut short: set aside, named" "$(grep -c 'st is damaged or from another version; set aside as .*st.bad-' w2.err)" 1
check "state cut short: the log read afresh, once" "$(jq .replay.lines r2.json)" 33
printf 'BWWATCH0' | dd of=st bs=1 seek=0 conv=notrunc 2> /dev/null
"$BW" watch --state st --report-json r3.json "$S" 2> w3.err &
PID=$!
i=0
while [ "$(jq .replay.lines r3.json 2> /dev/null)" != 33 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $PID; wait $PID
check "state from another version: set aside" "$(grep -c 'from another version; set aside' w3.err)" 1
check "state from another version: the log read once" "$(jq .replay.lines r3.json)" 33

finish
