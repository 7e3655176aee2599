#!/bin/bash
# The configuration file and what comes from the option tables: the
# README's option list equals `config --options-md`; the sample config
# parses; the dump reads back the same; FILE:LINE for every problem; the
# command line overrides the file (repeatable options replaced whole);
# the file really changes what a command does; --help shows defaults.
# Then the systemd units with systemd-analyze (when it is installed).
set -uo pipefail
BW=$1
DATA=$2
SRC=$3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export BW_RULES_CACHE="$TMP/cache"
export BW_CONFIG="" # not the machine's /etc/bouncewatch
. "$(dirname "$0")/check.sh"

# The README's list is the program's (regenerate it with
# `bouncewatch config --options-md` between the markers).
sed -n '/^<!-- options:begin -->$/,/^<!-- options:end -->$/p' "$SRC/README.md" | sed '1d;$d' > "$TMP/readme.md"
"$BW" config --options-md > "$TMP/prog.md"
if ! diff -u "$TMP/readme.md" "$TMP/prog.md"; then
  echo "README.md's option list is stale: put the output of 'bouncewatch config --options-md'"
  echo "between <!-- options:begin --> and <!-- options:end -->"
fi
check "README option list = config --options-md" "$(diff "$TMP/readme.md" "$TMP/prog.md" > /dev/null && echo same)" same
check "README list is not empty" "$(grep -c '^- `--' "$TMP/readme.md")" "$(grep -c '^- `--' "$TMP/prog.md")"
check "every suppression option listed for report and watch" "$(grep -c '^- `--suppress-' "$TMP/prog.md")" 16

# The sample configuration parses, with no complaint.
"$BW" config --config "$SRC/packaging/bouncewatch.conf.sample" --dump > "$TMP/sample.dump" 2> "$TMP/err"
check "sample config: exit" $? 0
check "sample config: no diagnostics" "$(cat "$TMP/err")" ""
check "sample config: a value taken" "$(sed -n '/^\[watch\]/,/^\[/p' "$TMP/sample.dump" | grep '^suppress-out = ')" "suppress-out = /var/lib/bouncewatch/suppress.access"

# The dump is a configuration file that reads back the same.
"$BW" config --dump > "$TMP/d1.conf"
"$BW" config --config "$TMP/d1.conf" --dump > "$TMP/d2.conf"
check "dump round trip" "$(diff <(tail -n +2 "$TMP/d1.conf") <(tail -n +2 "$TMP/d2.conf") && echo same)" same
check "dump: defaults" "$(grep -c '^report-interval = 5000$\|^window = 3600$\|^window = 86400$\|^suppress-ttl = 7$' "$TMP/d1.conf")" 5

# Problems, each with FILE:LINE; every one is reported, and nothing runs.
cat > "$TMP/bad.conf" << 'EOF'
# comment
[report]
json = yes
bogus = 1
help = yes
[watch]
poll-only = maybe
[nosuch]
x = 1
[explain]
status = 5.1.1
this line has no equals sign
EOF
"$BW" report --config "$TMP/bad.conf" "$DATA/sample.log" > "$TMP/out" 2> "$TMP/err"
check "bad config: exit 1" $? 1
check "bad config: nothing printed" "$(cat "$TMP/out")" ""
check "unknown key" "$(grep -c "^$TMP/bad.conf:4: report.bogus: unknown option$" "$TMP/err")" 1
check "command-line-only key" "$(grep -c "^$TMP/bad.conf:5: report.help: a command-line option only$" "$TMP/err")" 1
check "flag value" "$(grep -c "^$TMP/bad.conf:7: watch.poll-only: a flag wants yes or no$" "$TMP/err")" 1
check "unknown section" "$(grep -c "^$TMP/bad.conf:9: nosuch.x: unknown section" "$TMP/err")" 1
check "explain's one-off input" "$(grep -c "^$TMP/bad.conf:11: explain.status: a command-line option only$" "$TMP/err")" 1
check "not key = value" "$(grep -c "^$TMP/bad.conf:12: " "$TMP/err")" 1
printf '[watch]\nstate = /%s\n' "$(head -c 5000 /dev/zero | tr '\0' x)" > "$TMP/long.conf"
"$BW" config --config "$TMP/long.conf" --dump > /dev/null 2> "$TMP/err"
check "over-long line refused, not split" "$(cat "$TMP/err")" "$TMP/long.conf:2: line longer than 4096 bytes"
printf '[report]\njs\0on = yes\nmin-volume = 3\n' > "$TMP/nul.conf"
"$BW" config --config "$TMP/nul.conf" --dump > /dev/null 2> "$TMP/err"
check "NUL byte: the line refused, the next line still counted" "$(cat "$TMP/err")" "$TMP/nul.conf:2: NUL byte in the line"
head -c 100000 /dev/urandom > "$TMP/rnd.conf"
"$BW" config --config "$TMP/rnd.conf" --dump > /dev/null 2> "$TMP/err"
check "random bytes: refused with diagnostics, no crash" "$?:$(grep -c "^$TMP/rnd.conf:[0-9]*: " "$TMP/err")" "1:$(wc -l < "$TMP/err")"
"$BW" report --config "$TMP/none.conf" "$DATA/sample.log" > /dev/null 2> "$TMP/err"
check "missing --config file: exit 1" $? 1
check "missing --config file: said" "$(grep -c "none.conf: No such file" "$TMP/err")" 1
printf '[report]\nmin-volume = 0\n' > "$TMP/val.conf"
"$BW" report --config "$TMP/val.conf" "$DATA/sample.log" > /dev/null 2> "$TMP/err"
check "bad value: exit 1" $? 1
check "bad value: names FILE:LINE" "$(grep -c "(min-volume comes from $TMP/val.conf:2)" "$TMP/err")" 1

# The command line wins; a repeatable option's file values are replaced.
cat > "$TMP/o.conf" << 'EOF'
rules-cache = /tmp/common-cache
[report]
window = 600
window = 1200
min-volume = 7
[watch]
report-interval = 1000
rules-cache = /tmp/watch-cache
EOF
"$BW" config --config "$TMP/o.conf" --dump > "$TMP/o1"
check "file values" "$(grep -c '^window = 600$\|^window = 1200$\|^min-volume = 7$\|^report-interval = 1000$' "$TMP/o1")" 4
check "unsectioned key for every command" "$(grep -c '^rules-cache = /tmp/common-cache$' "$TMP/o1")" 3
check "section beats unsectioned" "$(sed -n '/^\[watch\]/,/^\[/p' "$TMP/o1" | grep '^rules-cache')" "rules-cache = /tmp/watch-cache"
"$BW" config --config "$TMP/o.conf" --dump report --window 300 --min-volume=9 > "$TMP/o2"
check "flags override: repeatable replaced" "$(grep '^window' "$TMP/o2" | tr '\n' ' ')" "window = 300 "
check "flags override: scalar" "$(grep '^min-volume' "$TMP/o2")" "min-volume = 9"
BW_CONFIG="$TMP/o.conf" "$BW" config --dump watch > "$TMP/o3"
check "\$BW_CONFIG names the file" "$(grep '^report-interval' "$TMP/o3")" "report-interval = 1000"

# The file changes what the command does: JSON from a flag set in the file.
printf '[report]\njson = yes\nmin-volume = 2\n' > "$TMP/j.conf"
"$BW" report --config "$TMP/j.conf" "$DATA/sample.log" > "$TMP/j.json"
check "report: json = yes from the file" "$(jq -r '.thresholds.min_volume' "$TMP/j.json")" 2
"$BW" report --config "$TMP/j.conf" --min-volume 3 "$DATA/sample.log" > "$TMP/j2.json"
check "report: the flag wins" "$(jq -r '.thresholds.min_volume' "$TMP/j2.json")" 3

# --help comes from the same table: defaults and the --config line.
"$BW" watch --help > "$TMP/help"
check "help: default from the table" "$(grep -c '^  --report-interval MS .*(default 5000)$' "$TMP/help")" 1
check "help: --config" "$(grep -c '^  --config FILE ' "$TMP/help")" 1
printf 'garbage\n' > "$TMP/g.conf"
"$BW" report --config "$TMP/g.conf" --help > /dev/null 2>&1
check "help even beside a broken file" $? 0

# The systemd units: no warning from verify (it exits 0 even with
# unknown keys, so its output is what counts), and the hardening score.
if command -v systemd-analyze > /dev/null; then
  mkdir "$TMP/units"
  # verify wants ExecStart's binary to exist: this build's.
  sed "s|/usr/local/bin/bouncewatch|$BW|" "$SRC/packaging/systemd/bouncewatch.service" > "$TMP/units/bouncewatch.service"
  cp "$SRC/packaging/systemd/bouncewatch-postmap.service" "$SRC/packaging/systemd/bouncewatch-postmap.path" "$TMP/units/"
  out=$(cd "$TMP/units" && systemd-analyze verify bouncewatch.service bouncewatch-postmap.service bouncewatch-postmap.path 2>&1)
  check "systemd-analyze verify: no warnings" "$out" ""
  (cd "$TMP/units" && systemd-analyze security --offline=yes --threshold=20 bouncewatch.service > /dev/null 2>&1)
  check "systemd-analyze security: exposure <= 2.0" $? 0
  printf '[Service]\nExecStart=/bin/true\nProtectSystem=bananas\n' > "$TMP/units/bad.service"
  out=$(cd "$TMP/units" && systemd-analyze verify bad.service 2>&1)
  check "systemd-analyze verify: does complain (the check can fail)" "$(echo "$out" | grep -c 'bananas')" 1
else
  echo "skip: systemd-analyze not installed, the units were not verified"
fi

finish
