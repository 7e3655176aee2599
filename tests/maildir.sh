#!/bin/bash
# Complaints and asynchronous bounces from a Maildir, end to end: real
# ARF/DSN/bounce samples (tests/data/mail, Sisimai's set) in a Maildir, a
# hand-made log whose Message-IDs are the samples' originals. `report
# --maildir` joins them and gives the complaint and bounce counts and
# rates; bad mail is listed by file name; a copy in cur/ counts once.
# `watch --maildir` follows the Maildir live (with inotify and with
# polling only), a restart with its state counts nothing twice, and its
# totals equal the replay's. Waits are bounded retries.
set -uo pipefail
BW=$1
DATA=$2
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null; rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
. "$(dirname "$0")/check.sh"
MAIL=$DATA/mail

# The originals as the log showed them: Exim (lhost-exim-01), Postfix
# (arf-02 to Yahoo, rfc3464-01), with the samples' ids, senders and
# recipients.
write_log() {
  cat > "$1" << 'EOF'
2010-10-01 10:15:19 1P1ce6-000Egt-GZ <= shironeko@example.jp H=localhost [127.0.0.1] P=smtp S=1543 id=E1P1ce6-000Egt-GZ@e1.example.org
2010-10-01 10:15:20 1P1ce6-000Egt-GZ => kijitora@example.ed.jp R=dnslookup T=remote_smtp H=mx.example.jp [192.0.2.20]
2010-10-01 10:15:20 1P1ce6-000Egt-GZ Completed
2013-04-29T00:34:22+00:00 mx8 postfix/cleanup[200]: 4A1B2C3D4E: message-id=<000000000000000000000000.smtp@example.com>
2013-04-29T00:34:22+00:00 mx8 postfix/qmgr[201]: 4A1B2C3D4E: from=<shironeko@example.com>, size=900, nrcpt=1 (queue active)
2013-04-29T00:34:23+00:00 mx8 postfix/smtp[202]: 4A1B2C3D4E: to=<this-local-part-does-not-exist-on-yahoo@yahoo.com>, relay=mta5.am0.yahoodns.net[98.136.96.74]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok dirdel)
2013-04-29T00:34:23+00:00 mx8 postfix/qmgr[201]: 4A1B2C3D4E: removed
2013-10-16T05:15:33+00:00 smtpgw postfix/cleanup[300]: 5B2C3D4E5F: message-id=<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>
2013-10-16T05:15:33+00:00 smtpgw postfix/qmgr[301]: 5B2C3D4E5F: from=<kijitora@example.org>, size=1200, nrcpt=2 (queue active)
2013-10-16T05:15:34+00:00 smtpgw postfix/smtp[302]: 5B2C3D4E5F: to=<userunknown@bouncehammer.jp>, relay=mx.bouncehammer.jp[192.0.2.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 0ABC)
2013-10-16T05:15:34+00:00 smtpgw postfix/smtp[302]: 5B2C3D4E5F: to=<kuroneko@bouncehammer.jp>, relay=mx.bouncehammer.jp[192.0.2.10]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 0ABD)
2013-10-16T05:15:34+00:00 smtpgw postfix/qmgr[301]: 5B2C3D4E5F: removed
EOF
}

# deliver DIR SAMPLE NAME: as an MDA does, write in tmp/, rename into new/.
deliver() {
  cp "$MAIL/$2" "$1/tmp/$3"
  mv "$1/tmp/$3" "$1/new/$3"
}

# ---- report --maildir ------------------------------------------------------
M=$TMP/Maildir
mkdir -p "$M/new" "$M/cur" "$M/tmp"
deliver "$M" arf-02.eml 1367307900.M1P1.mx8
cp "$MAIL/arf-02.eml" "$M/cur/1367307900.M1P1.mx8:2,S" # the same, read
deliver "$M" arf-22.eml 1461972885.M2P1.mx8
deliver "$M" arf-20.eml 1430350485.M3P1.mx8
deliver "$M" rfc3464-01.eml 1381900535.M4P1.mx8
deliver "$M" rfc3464-09.eml 1241879685.M5P1.mx8
deliver "$M" rfc3464-04.eml 1241879686.M6P1.mx8
deliver "$M" arf-26.eml 1714672136.M7P1.mx8
cp "$MAIL/lhost-exim-01.eml" "$M/cur/1285928123.M8P1.mx8:2,RS"
printf 'GIF89a\001\000 not a mail\n' > "$M/new/1241879687.M9P1.mx8"
LOG=$TMP/mail.log
write_log "$LOG"

"$BW" report --maildir "$M" --json "$LOG" > "$TMP/r.json" 2> "$TMP/r.err"
check "report exit status" "$?" 0
q() { jq -c "$1" "$TMP/r.json"; }
check "complaints in total" "$(q '.totals.complaints')" 2
check "example.com: sent, complaints, complaint rate" \
  "$(q '.sender_domains[] | select(.name=="example.com") | [.sent,.complaints,.complaint_rate]')" \
  "[1,2,2]"
check "Yahoo: the joined complaint" \
  "$(q '.providers[] | select(.name=="Yahoo/AOL") | [.sent,.complaints]')" "[1,1]"
check "joined by Message-ID, by domain (JMRP: From)" \
  "$(q '.maildir.join | [.complaints_by_message_id,.complaints_by_domain,.complaints_unknown]')" \
  "[1,1,0]"
check "asynchronous bounces: sent turned bounced" \
  "$(q '.totals | [.sent,.bounced]')" "[2,2]"
check "example.org: one of two recipients bounced later, userunknown" \
  "$(q '.sender_domains[] | select(.name=="example.org") | [.sent,.bounced,.bounce_rate,.by_reason.userunknown]')" \
  "[1,1,0.5,1]"
check "example.jp (Exim text bounce)" \
  "$(q '.sender_domains[] | select(.name=="example.jp") | [.sent,.bounced]')" "[0,1]"
check "windows carry complaints" \
  "$(q '[.sender_domains[] | select(.name=="example.com") | .windows[] | has("complaint_rate")] | all')" true
check "kinds read" "$(q '.maildir | [.files,.arf,.dsn,.text_bounces,.not_reports]')" "[9,3,2,1,1]"
check "copy in cur/ counted once" "$(q '.maildir.already_counted')" 1
check "delay reported, auth-failure reported" \
  "$(q '.maildir.results | [.delayed_reported,.feedback_reported]')" "[1,1]"
check "bad mail listed by file" \
  "$(q '[.maildir.bad_files[].file] | sort')" \
  '["new/1241879686.M6P1.mx8","new/1241879687.M9P1.mx8","new/1714672136.M7P1.mx8"]'
check "bad mail named on stderr" "$(grep -c 'skipped:' "$TMP/r.err")" 3
check "the report's fields" \
  "$(q '.maildir.reports[] | select(.file=="new/1381900535.M4P1.mx8") | [.kind,.rcpt,.status,.reason,.sender_domain,.result]')" \
  '["dsn","userunknown@bouncehammer.jp","5.1.1","userunknown","example.org","bounced"]'
check "the user's mail untouched" "$(ls "$M/new" | wc -l) $(ls "$M/cur" | wc -l)" "8 2"

"$BW" report --maildir "$M" "$LOG" > "$TMP/r.txt" 2> /dev/null
check "text report has the Maildir section" \
  "$(grep -c 'complaints: 1 joined by Message-ID, 1 by domain' "$TMP/r.txt")" 1
"$BW" report --maildir "$M" --html "$TMP/r.html" "$LOG" > /dev/null 2>&1
check "HTML has the Maildir section" \
  "$(grep -c 'Complaints and asynchronous bounces' "$TMP/r.html")" 1
"$BW" report --maildir "$TMP/none" --json "$LOG" > /dev/null 2> "$TMP/e.err"
check "missing Maildir: exit 2, said" "$? $(grep -c 'none/new' "$TMP/e.err")" "2 1"

"$BW" report --maildir "$M" --maildir-max-bytes 2048 --json "$LOG" > "$TMP/s.json" 2> /dev/null
check "mails over the size cap: listed, not read" \
  "$(jq -c '[.maildir.too_large, .totals.complaints, (.maildir.bad_files | map(select(.why | startswith("too large"))) | length)]' "$TMP/s.json")" \
  "[6,0,6]"

# ---- watch --maildir -------------------------------------------------------
# wait_for JQ VALUE: until the live report shows it (10 s at most).
wait_for() {
  local i got=""
  for ((i = 0; i < 200; i++)); do
    got=$(jq -c "$1" "$REP" 2> /dev/null || true)
    [ "$got" = "$2" ] && break
    sleep 0.05
  done
  echo "${got:-none}"
}

start() { # start FLAGS...: the watcher on $W with state; waits until ready
  rm -f "$REP"
  "$BW" watch --maildir "$W" --state "$D/state" --report-json "$REP" \
    --report-interval 50 --poll-interval 100 "$@" "$D/mail.log" 2>> "$D/err" &
  PID=$!
  local i=0
  while [ ! -s "$REP" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
}

live() { # live NAME FLAGS...
  local name=$1
  shift
  D=$TMP/$name
  W=$D/Maildir
  REP=$D/report.json
  mkdir -p "$W/new" "$W/cur" "$W/tmp"
  start "$@"
  check "$name: watcher started" "$([ -s "$REP" ] && echo yes)" yes
  write_log "$D/mail.log"
  check "$name: log read" "$(wait_for '.replay.lines' 12)" 12
  deliver "$W" arf-02.eml 1367307900.M1P1.mx8
  deliver "$W" rfc3464-01.eml 1381900535.M4P1.mx8
  check "$name: complaint and bounce counted live" \
    "$(wait_for '.totals | [.complaints,.bounced]' '[1,1]')" "[1,1]"
  deliver "$W" lhost-exim-01.eml 1285928123.M8P1.mx8
  deliver "$W" rfc3464-04.eml 1241879686.M6P1.mx8
  check "$name: Exim bounce; the truncated one listed" \
    "$(wait_for '[.totals.bounced, (.maildir.bad_files | length)]' '[2,1]')" "[2,1]"
  kill -TERM "$PID"
  wait "$PID"
  check "$name: exit 0 on SIGTERM" "$?" 0

  # Restart: the reader moved one to cur/ meanwhile; one more report
  # arrives (JMRP: joined by domain). Nothing counts twice.
  mv "$W/new/1367307900.M1P1.mx8" "$W/cur/1367307900.M1P1.mx8:2,S"
  start "$@"
  deliver "$W" arf-22.eml 1461972885.M2P1.mx8
  check "$name: after restart, only the new report counts" \
    "$(wait_for '[.totals.complaints,.totals.bounced,.maildir.files]' '[2,2,1]')" "[2,2,1]"
  check "$name: the moved one known" "$(jq '.maildir.already_counted' "$REP")" 4
  # SIGKILL whenever the last state was written: the restart counts each
  # report once (the counts and the identities are saved together).
  kill -KILL "$PID"
  wait "$PID" 2> /dev/null
  start "$@"
  check "$name: after SIGKILL, every report once" \
    "$(wait_for '[.totals.complaints,.totals.bounced,.maildir.files + .maildir.already_counted]' '[2,2,5]')" \
    "[2,2,5]"
  kill -TERM "$PID"
  wait "$PID"

  # The live totals equal a replay of the same log and Maildir.
  "$BW" report --maildir "$W" --json "$D/mail.log" > "$D/replay.json" 2> /dev/null
  check "$name: live totals = replay" \
    "$(jq -c '.totals | [.sent,.bounced,.complaints]' "$REP")" \
    "$(jq -c '.totals | [.sent,.bounced,.complaints]' "$D/replay.json")"
  check "$name: no damaged state" "$(grep -c 'damaged' "$D/err")" 0
}

live inotify
live poll --poll-only

finish
