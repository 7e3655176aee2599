#!/usr/bin/env bash
# bench/adversarial.sh: memory under hostile logs. Each scenario streams a
# generated log through `bouncewatch report --json -` (a pipe: nothing on
# disk) and records the peak RSS beside the caps' counters, which must say
# what was pushed out. Printed as one Markdown table on stdout.
#
#   qids     10 M Postfix queue ids that are never removed (one in ten gets
#            a delivery logged 100,000 messages later)
#   senders  1 M sender domains, each with one delivered message
#   texts    1 M deferrals, each with a diagnostic text never seen before
#   exim     2 M Exim messages that arrive and never complete
#
# Environment: BW=build/bouncewatch, ADV_SCALE=1 (0.1 for a quick look),
# ADV_CAP_MIB=32 (the RSS the default caps are meant to stay within).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BW=${BW:-build/bouncewatch}
SCALE=${ADV_SCALE:-1}
CAP=${ADV_CAP_MIB:-32}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[[ -x $BW ]] || { echo "bench/adversarial.sh: build $BW first" >&2; exit 1; }
n() { awk -v s="$SCALE" -v n="$1" 'BEGIN { printf "%d", n * s }'; }

gen() { # SCENARIO COUNT
  case $1 in
    qids) awk -v n="$2" 'BEGIN {
      for (i = 0; i < n; i++) {
        t = sprintf("2024-05-01T%02d:%02d:%02d+00:00", int(i / 3600000) % 24, int(i / 60000) % 60, int(i / 1000) % 60)
        printf "%s mx1 postfix/qmgr[2]: %011X: from=<s@bulk.example>, size=1, nrcpt=1 (queue active)\n", t, i + 1048576
        if (i % 10 == 0 && i >= 100000)
          printf "%s mx1 postfix/smtp[3]: %011X: to=<r@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)\n", t, i - 100000 + 1048576
      } }' ;;
    senders) awk -v n="$2" 'BEGIN {
      for (i = 0; i < n; i++) {
        t = sprintf("2024-05-01T%02d:%02d:%02d+00:00", int(i / 360000) % 24, int(i / 6000) % 60, int(i / 100) % 60)
        q = sprintf("%011X", i + 1048576)
        printf "%s mx1 postfix/qmgr[2]: %s: from=<s@d%d.example>, size=1, nrcpt=1 (queue active)\n", t, q, i
        printf "%s mx1 postfix/smtp[3]: %s: to=<r@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)\n", t, q
        printf "%s mx1 postfix/qmgr[2]: %s: removed\n", t, q
      } }' ;;
    texts) awk -v n="$2" 'BEGIN {
      for (i = 0; i < n; i++) {
        t = sprintf("2024-05-01T%02d:%02d:%02d+00:00", int(i / 360000) % 24, int(i / 6000) % 60, int(i / 100) % 60)
        q = sprintf("%011X", i + 1048576)
        printf "%s mx1 postfix/qmgr[2]: %s: from=<s@example.org>, size=1, nrcpt=1 (queue active)\n", t, q
        printf "%s mx1 postfix/smtp[3]: %s: to=<u%d@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.7.%d, status=deferred (host mx.example.net[192.0.2.1] said: 450 4.7.%d Message %d from <s@example.org> to <u%d@example.net> deferred, ref %x%x (in reply to RCPT TO command))\n", t, q, i, i % 30, i % 30, i, i, i * 2654435761 % 4294967296, i
      } }' ;;
    exim) awk -v n="$2" 'BEGIN {
      c = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
      for (i = 0; i < n; i++) {
        id = ""; x = i
        for (k = 0; k < 6; k++) { id = substr(c, x % 62 + 1, 1) id; x = int(x / 62) }
        t = sprintf("2024-05-01 %02d:%02d:%02d", int(i / 360000) % 24, int(i / 6000) % 60, int(i / 100) % 60)
        printf "%s 1sAbCd-%s-AB <= u%d@sender%d.example H=client.example [192.0.2.9] P=esmtps S=1234 id=%d@sender.example\n", t, id, i, i % 5000, i
      } }' ;;
  esac
}

printf '| scenario | lines | seconds | peak RSS | within %s MiB | what the caps pushed out |\n' "$CAP"
printf '|---|--:|--:|--:|---|---|\n'
for sc in qids senders texts exim; do
  case $sc in
    qids) count=$(n 10000000) ;;
    senders|texts) count=$(n 1000000) ;;
    exim) count=$(n 2000000) ;;
  esac
  start=$(date +%s.%N)
  gen "$sc" "$count" | /usr/bin/time -f '%M' -o "$TMP/rss" "$BW" report --json - > "$TMP/r.json" 2> "$TMP/err"
  end=$(date +%s.%N)
  rss=$(cat "$TMP/rss")
  jq -r --arg sc "$sc" --arg secs "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')" \
     --argjson rss "$rss" --argjson cap "$CAP" '
    "| \($sc) | \(.replay.lines) | \($secs) | \($rss / 1024 | . * 10 | round / 10) MiB | \(if $rss <= $cap * 1024 then "yes" else "**no**" end) | " +
    "evicted messages \(.totals.evicted_messages), outcomes under unknown sender \(.totals.unknown_sender), " +
    "outcomes under other domains \(.totals.other_domains), untracked deferrals \(.totals.untracked_deferrals), " +
    "sender domains kept \(.sender_domains | length) |"' "$TMP/r.json"
done
