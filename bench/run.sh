#!/usr/bin/env bash
# bench/run.sh: throughput of `bouncewatch replay` against the floors (cat,
# wc -l, zstd -dc, pigz -dc) and the peers (pflogsumm, mtail), all measured
# on this machine in this run, printed as one Markdown report on stdout.
# It owns input generation (bw_gen_logs), timing and the table; it does not
# build anything but bouncewatch (only when no binary exists) and the generator.
#
# Environment:
#   BW=build/bouncewatch  binary to measure; rows are skipped if it is absent
#   BENCH_DIR=/tmp/bw-bench  work dir (inputs are reused while they match)
#   BENCH_BYTES=1G        size of each generated input (suffix K, M, G)
#   BENCH_RUNS=3          runs per row; the median is reported
#   BENCH_SEED=1          generator seed
#   BENCH_QUICK=1         smoke test: 64 MiB inputs, 1 run
#   BENCH_PEERS=0         skip pflogsumm and mtail (slow: ~30 and ~10 MB/s)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

QUICK=${BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
  BYTES=${BENCH_BYTES:-64M}
  RUNS=${BENCH_RUNS:-1}
else
  BYTES=${BENCH_BYTES:-1G}
  RUNS=${BENCH_RUNS:-3}
fi
SEED=${BENCH_SEED:-1}
PEERS=${BENCH_PEERS:-1}
DIR=${BENCH_DIR:-/tmp/bw-bench}
BW_SET=${BW+set}
BW=${BW:-build/bouncewatch}
MTAIL_PROG=/usr/share/doc/mtail/examples/postfix.mtail

note() { printf '%s\n' "$*" >&2; }
die() { note "bench/run.sh: $*"; exit 1; }

for tool in cc zstd pigz /usr/bin/time; do
  command -v "$tool" > /dev/null || die "missing tool: $tool"
done
mkdir -p "$DIR/out"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

# ------------------------------------------------------------ generator
# Built straight from the source so the bench needs no configured tree.
GEN=$DIR/bw_gen_logs
if [[ ! -x $GEN || bench/gen_logs.c -nt $GEN ]]; then
  cc -std=c11 -O2 -o "$GEN" bench/gen_logs.c || die "cannot build bw_gen_logs"
fi

# ------------------------------------------------------------ bouncewatch
# Take $BW if it exists; otherwise build it, but only in a tree nobody has
# configured yet (an existing build/ keeps its owner's build type).
BW_NOTE=""
if [[ ! -x $BW && -z $BW_SET && -f CMakeLists.txt ]]; then
  note "building bouncewatch (log: $DIR/build.log)"
  if [[ -f build/CMakeCache.txt ]]; then
    cmake --build build --target bouncewatch -j"$(nproc)" > "$DIR/build.log" 2>&1 || true
  else
    { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
      cmake --build build --target bouncewatch -j"$(nproc)"; } > "$DIR/build.log" 2>&1 || true
  fi
fi
if [[ -x $BW ]]; then
  HAVE_BW=1
  # The flags the engine was really compiled with (the top level sets its
  # default build type as a plain variable, so the cache may say nothing).
  BW_BUILD="compile flags unknown"
  ccj=$(dirname "$BW")/compile_commands.json
  if [[ -f $ccj ]]; then
    flags=$(grep -m1 '"command": .*/engine/' "$ccj" |
      grep -oE ' -(O[0-9sgz]?|g|DNDEBUG|fsanitize=[^ ]*|march=[^ ]*)' | tr -d ' ' | tr '\n' ' ')
    flags=${flags% }
    BW_BUILD="engine compiled with: ${flags:-no -O flag}"
    if [[ $flags == *fsanitize* ]]; then BW_BUILD+=", sanitizers ON: numbers are not representative"; fi
  fi
  BW_NOTE="\`$BW\` ($BW_BUILD)"
else
  HAVE_BW=0
  BW_NOTE="not available at \`$BW\`: its rows are skipped"
fi

# ------------------------------------------------------------ inputs
# A: mixed Postfix+Exim, RFC 3339 (Debian 12 rsyslog's default), plain/.zst/.gz
# B: Postfix only, RFC 3164, the format pflogsumm and mtail's example expect
A=$DIR/mixed-rfc3339.log
B=$DIR/postfix-rfc3164.log
# Reused while the stamp matches: parameters, generator source, and the
# sizes of the files it wrote (a run killed half-way never matches).
size_of() { stat -c %s "$1" 2> /dev/null || echo 0; }
stamp="seed=$SEED bytes=$BYTES gen=$(md5sum < bench/gen_logs.c | cut -c1-32)"
sizes() { echo "$(size_of "$A") $(size_of "$A.zst") $(size_of "$A.gz") $(size_of "$B")"; }
if [[ ! -f $DIR/inputs.stamp || $(cat "$DIR/inputs.stamp") != "$stamp $(sizes)" ]]; then
  rm -f "$DIR/inputs.stamp"
  note "generating $BYTES inputs in $DIR"
  "$GEN" --seed "$SEED" --bytes "$BYTES" --format mixed --prefix rfc3339 \
    --truth "$A.truth.json" > "$A.tmp"
  "$GEN" --seed "$SEED" --bytes "$BYTES" --format postfix --prefix rfc3164 \
    --truth "$B.truth.json" > "$B.tmp"
  note "compressing (zstd -3 -T0, pigz -6)"
  zstd -q -f -3 -T0 -o "$A.zst.tmp" "$A.tmp"
  pigz -6 -c "$A.tmp" > "$A.gz.tmp"
  for f in "$A" "$A.zst" "$A.gz" "$B"; do mv -f "$f.tmp" "$f"; done
  echo "$stamp $(sizes)" > "$DIR/inputs.stamp"
fi

lines_of() { # from the truth file; wc -l if jq is missing
  if command -v jq > /dev/null; then jq .lines "$1.truth.json"; else wc -l < "$1"; fi
}
A_BYTES=$(size_of "$A"); A_LINES=$(lines_of "$A")
B_BYTES=$(size_of "$B"); B_LINES=$(lines_of "$B")

# ------------------------------------------------------------ timing
# One row: warm the page cache with the file the tool reads, then RUNS runs.
# Wall time from date +%s%N (GNU time's %e has only 10 ms resolution);
# peak RSS from GNU time's %M (KiB), the largest over the runs.
TMP=$DIR/out
declare -A FLOOR_S
ROWS=()

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# row INPUT_LABEL TOOL_LABEL FLOOR_KEY IS_FLOOR READ_FILE BYTES LINES OUTFILE -- cmd...
row() {
  local input=$1 tool=$2 floor=$3 is_floor=$4 file=$5 bytes=$6 lines=$7 out=$8
  shift 9
  local times=() rss=0 r t0 t1 m
  cat "$file" > /dev/null
  for ((r = 0; r < RUNS; r++)); do
    t0=$(date +%s%N)
    if ! /usr/bin/time -f %M -o "$TMP/rss" "$@" > "$out" 2> "$TMP/stderr"; then
      note "$tool on $input failed:"; tail -5 "$TMP/stderr" >&2
      ROWS+=("| $input | $tool | failed | | | | |")
      return 0
    fi
    t1=$(date +%s%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')")
    m=$(tail -1 "$TMP/rss")
    ((m > rss)) && rss=$m
  done
  local s; s=$(median "${times[@]}")
  [[ $is_floor == 1 ]] && FLOOR_S[$floor]=$s
  local fs=${FLOOR_S[$floor]:-}
  ROWS+=("$(awk -v inp="$input" -v tool="$tool" -v s="$s" -v b="$bytes" -v l="$lines" \
    -v rss="$rss" -v fs="$fs" 'BEGIN {
      ratio = (fs > 0) ? sprintf("%.2fx", s / fs) : "n/a";
      printf "| %s | %s | %.3f | %.1f | %.2f M | %.1f MiB | %s |", inp, tool, s,
             b / s / 1e6, l / s / 1e6, rss / 1024, ratio }')")
  note "  $input  $tool: ${s}s"
}

NUL=/dev/null
note "timing, $RUNS run(s) per row"
ALABEL="mixed 3339"
row "$ALABEL" "cat" cat_a 1 "$A" "$A_BYTES" "$A_LINES" $NUL -- cat "$A"
row "$ALABEL" "wc -l" cat_a 0 "$A" "$A_BYTES" "$A_LINES" $NUL -- wc -l "$A"
if ((HAVE_BW)); then
  row "$ALABEL" "bouncewatch replay" cat_a 0 "$A" "$A_BYTES" "$A_LINES" \
    "$TMP/bw-plain.json" -- "$BW" replay --json "$A"
  # The same without classification: the difference, per classified
  # line, is the cost of the reason database.
  row "$ALABEL" "bouncewatch replay --no-classify" cat_a 0 "$A" "$A_BYTES" \
    "$A_LINES" "$TMP/bw-noclass.json" -- "$BW" replay --no-classify --json "$A"
  # The whole pipeline: decode, parse, classify, join, aggregate.
  row "$ALABEL" "bouncewatch report" cat_a 0 "$A" "$A_BYTES" "$A_LINES" \
    "$TMP/bw-report.json" -- "$BW" report --json "$A"
  # Issue #5 asks for the plain figure on one core: both threads (the
  # reader and the pipeline) pinned to CPU 0.
  if command -v taskset > /dev/null; then
    row "$ALABEL" "bouncewatch report, 1 core (taskset -c 0)" cat_a 0 "$A" \
      "$A_BYTES" "$A_LINES" "$TMP/bw-report-1c.json" -- \
      taskset -c 0 "$BW" report --json "$A"
  fi
fi
row "$ALABEL .zst" "zstd -dc" zst 1 "$A.zst" "$A_BYTES" "$A_LINES" $NUL -- zstd -dc "$A.zst"
if ((HAVE_BW)); then
  row "$ALABEL .zst" "bouncewatch replay" zst 0 "$A.zst" "$A_BYTES" "$A_LINES" \
    "$TMP/bw-zst.json" -- "$BW" replay --json "$A.zst"
  row "$ALABEL .zst" "bouncewatch report" zst 0 "$A.zst" "$A_BYTES" "$A_LINES" \
    "$TMP/bw-report-zst.json" -- "$BW" report --json "$A.zst"
fi
row "$ALABEL .gz" "pigz -dc" gz 1 "$A.gz" "$A_BYTES" "$A_LINES" $NUL -- pigz -dc "$A.gz"
if ((HAVE_BW)); then
  row "$ALABEL .gz" "bouncewatch replay" gz 0 "$A.gz" "$A_BYTES" "$A_LINES" \
    "$TMP/bw-gz.json" -- "$BW" replay --json "$A.gz"
fi

BLABEL="postfix 3164"
row "$BLABEL" "cat" cat_b 1 "$B" "$B_BYTES" "$B_LINES" $NUL -- cat "$B"
row "$BLABEL" "wc -l" cat_b 0 "$B" "$B_BYTES" "$B_LINES" $NUL -- wc -l "$B"
if ((HAVE_BW)); then
  row "$BLABEL" "bouncewatch replay" cat_b 0 "$B" "$B_BYTES" "$B_LINES" \
    "$TMP/bw-postfix.json" -- "$BW" replay --json "$B"
fi
PEER_NOTES=()
if [[ $PEERS == 1 ]]; then
  if command -v pflogsumm > /dev/null; then
    row "$BLABEL" "pflogsumm" cat_b 0 "$B" "$B_BYTES" "$B_LINES" \
      "$TMP/pflogsumm.txt" -- pflogsumm "$B"
  else
    PEER_NOTES+=("pflogsumm: not installed, row skipped")
  fi
  if command -v mtail > /dev/null && [[ -f $MTAIL_PROG ]]; then
    # --progs takes a directory; --port 0 because mtail binds its HTTP
    # port even in --one_shot mode and 3903 may be taken.
    mkdir -p "$DIR/mtail-progs"
    cp "$MTAIL_PROG" "$DIR/mtail-progs/"
    row "$BLABEL" "mtail --one_shot" cat_b 0 "$B" "$B_BYTES" "$B_LINES" \
      "$TMP/mtail.json" -- mtail --one_shot --one_shot_format json \
      --progs "$DIR/mtail-progs" --logs "$B" --logtostderr --port 0
  else
    PEER_NOTES+=("mtail or $MTAIL_PROG: not installed, row skipped")
  fi
else
  PEER_NOTES+=("peers skipped (BENCH_PEERS=0)")
fi

# ------------------------------------------------------------ report
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
cpu=${cpu:-$(lscpu 2> /dev/null | sed -n 's/^Model name:[[:space:]]*//p')}
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
ver() { "$@" 2>&1 | head -1 || true; }

echo "# bouncewatch bench"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "- cpu: ${cpu:-unknown}, $(nproc) online CPU(s); $(uname -sr); $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
echo "- mode: $([[ $QUICK == 1 ]] && echo "QUICK (smoke test)" || echo full), $RUNS run(s) per row, median reported; page cache warmed before each row"
echo "- bouncewatch: $BW_NOTE"
echo "- inputs (bw_gen_logs --seed $SEED --bytes $BYTES):"
echo "  - \`$A\`: mixed Postfix + Exim, RFC 3339 prefix: $(mib "$A_BYTES"), $A_LINES lines"
echo "  - \`$A.zst\` (zstd -3 -T0): $(mib "$(size_of "$A.zst")")"
echo "  - \`$A.gz\` (pigz -6): $(mib "$(size_of "$A.gz")")"
echo "  - \`$B\`: Postfix only, RFC 3164 prefix: $(mib "$B_BYTES"), $B_LINES lines"
echo "- versions: zstd $(zstd --version | grep -o 'v[0-9.]*' | head -1); $(ver pigz --version); pflogsumm $(dpkg-query -W -f '${Version}' pflogsumm 2> /dev/null || echo '?'); mtail $(dpkg-query -W -f '${Version}' mtail 2> /dev/null || echo '?')"
echo
echo "MB/s and lines/s count uncompressed bytes and lines (MB = 10^6 bytes)."
echo "\"x floor\" is the tool's time over its floor's: cat for plain rows, zstd -dc for .zst, pigz -dc for .gz."
echo
echo "| input | tool | median s | MB/s | lines/s | peak RSS | x floor |"
echo "|---|---|--:|--:|--:|--:|--:|"
printf '%s\n' "${ROWS[@]}"
echo

# Sanity: the peers must have read the whole file, not failed quietly.
echo "## Output checks"
echo
tb=$B.truth.json
if [[ -s $TMP/pflogsumm.txt ]]; then
  echo "- pflogsumm grand totals: $(awk '/^Grand Totals/ {g = 1} g && $2 ~ /^(received|delivered|deferred|bounced|rejected)$/ {printf "%s%s %s", sep, $1, $2; sep = ", "} /^Per-Hour/ {exit}' "$TMP/pflogsumm.txt")"
fi
if [[ -s $TMP/mtail.json ]] && command -v jq > /dev/null; then
  echo "- mtail: $(jq -r '[("cleanup messages " + (.postfix_cleanup_messages_processed_total[0].LabelValues[0].Value.Value | tostring)), ("qmgr removed " + (.postfix_qmgr_messages_removed_total[0].LabelValues[0].Value.Value | tostring)), ("smtpd connects " + (.postfix_smtpd_connects_total[0].LabelValues[0].Value.Value | tostring))] | join(", ")' "$TMP/mtail.json") (its example program matches \`postfix/\` only, so the \`postfix-out\` instance is not counted)"
fi
if command -v jq > /dev/null; then
  echo "- truth for the Postfix input: $(jq -r '"message-id lines \(.lines_by_kind.message_id), removed \(.lines_by_kind.removed), deliveries \(.deliveries.total) (sent \(.deliveries.by_status.sent), deferred \(.deliveries.by_status.deferred), bounced \(.deliveries.by_status.bounced)), rejects \(.lines_by_kind.reject)"' "$tb")"
  for f in plain zst gz postfix; do
    j=$TMP/bw-$f.json
    [[ -s $j ]] || continue
    t=$A.truth.json; [[ $f == postfix ]] && t=$tb
    if jq -e --slurpfile t "$t" '.lines == $t[0].lines and .deliveries.total == $t[0].deliveries.total' "$j" > /dev/null 2>&1; then
      echo "- bouncewatch ($f): lines and deliveries match the truth"
    else
      echo "- bouncewatch ($f): lines $(jq .lines "$j" 2> /dev/null || echo '?') vs truth $(jq .lines "$t"), deliveries $(jq .deliveries.total "$j" 2> /dev/null || echo '?') vs $(jq .deliveries.total "$t") (run tests/groundtruth.sh)"
    fi
  done
fi
if command -v jq > /dev/null && [[ -s $TMP/bw-plain.json && -s $TMP/bw-noclass.json ]]; then
  # elapsed_seconds is bouncewatch's own timing of the run (no start-up).
  echo "- reason database cost: $(jq -r -n --slurpfile c "$TMP/bw-plain.json" --slurpfile n "$TMP/bw-noclass.json" \
    '($c[0].elapsed_seconds - $n[0].elapsed_seconds) as $d | $c[0].deliveries.classified as $k |
     "\($k) classified lines; \(($d * 1e9 / $k) | floor) ns per classified line (\($c[0].elapsed_seconds)s with classification, \($n[0].elapsed_seconds)s without, one run each)"')"
fi
for n in "${PEER_NOTES[@]}"; do echo "- $n"; done
