#!/usr/bin/env bash
# tests/fuzz/run.sh: runs the libFuzzer harnesses built with BW_FUZZ=ON.
# It owns the seed corpora (built from tests/data into a work directory;
# nothing committed is ever written), the per-harness libFuzzer options,
# and the stats table of a long run. It does not build anything.
#
#   run.sh HOURS [BUILD_DIR]          every harness for HOURS (fractions
#                                     fine), in the background; prints the
#                                     work dir and returns at once
#   run.sh --stats [WORK_DIR]         Markdown table of a (finished or
#                                     running) long run, from its logs
#   run.sh --ctest H BINARY SECONDS WORK   short run of one harness (ctest)
#   run.sh --one H BINARY SECONDS WORK     long run of one harness in the
#                                     foreground (fork mode), continuing
#                                     WORK/H/corpus; prints its CPU time
#   run.sh --regressions H BINARY     every input in regressions/H once
#   run.sh --seeds H DIR              write H's seed corpus into DIR
#
# Environment: FUZZ_WORK=/tmp/bw-fuzz (long runs), FUZZ_JOBS=nproc (how
# many harnesses fuzz at once in a long run; the others wait their turn),
# FUZZ_FORK=1 (0: no fork mode, so the first crash ends a harness's run).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DATA=$ROOT/tests/data
HARNESSES=(fuzz_parse_line fuzz_decode fuzz_lines fuzz_replay fuzz_rules
           fuzz_classify fuzz_suppress fuzz_mailreport
           fuzz_state fuzz_watch_state fuzz_config fuzz_http)

note() { printf '%s\n' "$*" >&2; }
die() { note "tests/fuzz/run.sh: $*"; exit 2; }

# Leaks are bugs too; UBSan findings abort with a stack trace.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# libFuzzer options per harness. max_len: log lines and rule files stay
# small; decoder and replay seeds are whole compressed fixtures (the
# largest is 15 KiB). fuzz_rules compiles Hyperscan databases in the
# loop, so it gets a longer per-input timeout.
fuzz_args() {
  case $1 in
    fuzz_parse_line) echo "-max_len=4096 -timeout=10" ;;
    fuzz_decode) echo "-max_len=20000 -timeout=20" ;;
    fuzz_lines) echo "-max_len=4096 -timeout=10" ;;
    fuzz_replay) echo "-max_len=20000 -timeout=20" ;;
    fuzz_rules) echo "-max_len=4096 -timeout=60 -rss_limit_mb=4096" ;;
    fuzz_classify) echo "-max_len=4096 -timeout=10" ;;
    fuzz_suppress) echo "-max_len=8192 -timeout=10" ;;
    fuzz_mailreport) echo "-max_len=8192 -timeout=10" ;;
    fuzz_state) echo "-max_len=4096 -timeout=10" ;;
    fuzz_watch_state) echo "-max_len=4096 -timeout=10" ;;
    fuzz_config) echo "-max_len=8192 -timeout=10" ;;
    fuzz_http) echo "-max_len=8192 -timeout=10" ;;
    *) die "unknown harness $1" ;;
  esac
}

# Sanitizer options per harness. fuzz_rules runs Hyperscan's compiler,
# whose many small allocations each cost ASan a stack trace: without them
# (malloc_context_size=0) a load is about 4 times faster. Replay a crasher
# without this to see where its memory was allocated.
fuzz_env() {
  case $1 in
    fuzz_rules) echo "ASAN_OPTIONS=$ASAN_OPTIONS:malloc_context_size=0" ;;
    *) echo "ASAN_OPTIONS=$ASAN_OPTIONS" ;;
  esac
}

# Write bytes given as numbers (0..255), then the files/strings after.
bytes() { local b; for b in "$@"; do printf "\\x$(printf %02x "$b")"; done; }

# Each line of a log (without its newline) as one file.
split_lines() { # FILE OUTDIR PREFIX
  awk -v out="$2/$3" '{ f = sprintf("%s-%04d", out, NR); printf "%s", $0 > f; close(f) }' "$1"
}

seeds() { # HARNESS DIR
  local h=$1 dir=$2 f i=0
  mkdir -p "$dir"
  case $h in
    fuzz_parse_line)
      split_lines "$DATA/sample.log" "$dir" sample
      split_lines "$DATA/dec/b.log" "$dir" b
      # a.log repeats b.log's shapes; every 8th line adds its variety.
      awk 'NR % 8 == 1' "$DATA/dec/a.log" > "$dir/.a"
      split_lines "$dir/.a" "$dir" a
      rm -f "$dir/.a"
      ;;
    fuzz_decode)
      # 2 control bytes (chunk seed; out buffer, decoder, window) + file;
      # every window limit and both decoders get some.
      for f in "$DATA"/sample*.log* "$DATA"/dec/*.gz "$DATA"/dec/*.zst \
               "$DATA"/dec/*.xz "$DATA"/dec/*.bz2 "$DATA"/dec/*.lz4 \
               "$DATA"/dec/empty "$DATA"/dec/b.log; do
        i=$((i + 1))
        { bytes $((i * 37 % 256)) $((i * 11 % 32 | (i % 4) << 6)); head -c 19000 "$f"; } \
          > "$dir/$(basename "$f")-$i"
      done
      ;;
    fuzz_lines)
      for f in "$DATA"/sample.log "$DATA"/dec/b.log "$DATA"/dec/a.log; do
        for c in "3 63" "5 70" "7 8" "2 127"; do
          set -- $c
          { bytes "$1" "$2"; head -c 4096 "$f"; } \
            > "$dir/$(basename "$f")-$1-$2"
        done
      done
      # CRLF endings and an unterminated tail.
      { bytes 4 40; head -c 3000 "$DATA/sample.log" | sed 's/$/\r/'; } \
        > "$dir/crlf"
      ;;
    fuzz_replay)
      for f in "$DATA"/sample*.log* "$DATA"/dec/b.log* "$DATA"/dec/trunc.* \
               "$DATA"/dec/corrupt.* "$DATA"/dec/empty*; do
        cp "$f" "$dir/$(basename "$f")"
      done
      ;;
    fuzz_rules)
      # Rule files in pieces of 10 lines (whole files are over max_len, and
      # every input is a Hyperscan compile: small ones keep the rate up).
      for f in "$ROOT"/patterns/*.rules "$DATA"/rules-*/*.rules; do
        split -l 10 -a 2 "$f" "$dir/$(basename "$(dirname "$f")")-$(basename "$f")-"
      done
      ;;
    fuzz_classify)
      # stage, reply (2 bytes LE), dsn length, relay length; dsn, text.
      local t id st rc reason diag
      for t in "$DATA"/corpus/*.tsv; do
        while IFS=$'\t' read -r id st rc reason diag; do
          [[ $id == id ]] && continue
          i=$((i + 1))
          rc=${rc:-0}
          [[ $rc =~ ^[0-9]+$ ]] || rc=0
          st=${st:0:15}
          { bytes 0 $((rc % 256)) $((rc / 256)) ${#st} 0
            printf '%s%s' "$st" "$diag"; } > "$dir/$i"
        done < "$t"
      done
      ;;
    fuzz_suppress)
      # Logs with bounces, deferrals and deliveries, whole and in pieces.
      head -c 8000 "$DATA/sample.log" > "$dir/sample"
      head -c 8000 "$DATA/dec/b.log" > "$dir/b"
      split -l 8 -a 2 "$DATA/sample.log" "$dir/sample-"
      ;;
    fuzz_mailreport)
      # The real reports (ARF, DSN, text bounces, a truncated one).
      cp "$DATA"/mail/*.eml "$dir/"
      ;;
    fuzz_config)
      # The sample configuration, and files with the problems config.sh
      # checks (unknown keys and sections, bad flags, long lines).
      cp "$ROOT/packaging/bouncewatch.conf.sample" "$dir/sample.conf"
      printf 'rules = /x\n[report]\njson = yes\nwindow = 60\nwindow = 120\n[watch]\nstate = /s\npoll-only = no\n' > "$dir/good.conf"
      printf '[report]\nbogus = 1\nhelp = yes\n[nosuch]\nx = 1\njson = maybe\nno equals sign\n' > "$dir/bad.conf"
      ;;
    fuzz_http)
      # First byte: the size of the client's writes; then a request.
      printf '\005GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' > "$dir/get"
      printf '\100GET /nope HTTP/1.0\r\n\r\n' > "$dir/404"
      printf '\020POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc' > "$dir/post"
      printf '\001HEAD /metrics?x=1 HTTP/1.1\r\n\r\n' > "$dir/head"
      printf '\040garbage\r\n\r\n' > "$dir/bad"
      ;;
    fuzz_state)
      # Patches of the harness's own valid state (control byte 1): none,
      # a flipped magic, a table size, a names count, message entries.
      bytes 1 > "$dir/valid"
      bytes 1 0 0 1 255 > "$dir/magic"
      bytes 1 0 100 4 255 255 255 255 > "$dir/shape"
      bytes 1 1 0 8 1 2 3 4 5 6 7 8 > "$dir/names"
      bytes 1 16 0 16 255 255 255 255 255 255 255 255 1 1 1 1 1 1 1 1 > "$dir/msgs"
      bytes 0 66 87 65 71 71 83 84 51 > "$dir/raw-magic"
      ;;
    fuzz_watch_state)
      # Patches of the harness's own valid state (control byte 1; 2: its
      # BWWATCH1 twin). Offsets in that state: path count 8, the live
      # log's positions 51 (head_len +32, kind +36) and 91 (the file
      # compressed while stopped), cursor length 322, counters 365
      # (nskips +2176, nfiles +2184, files +2192, skips[0].why +1176).
      bytes 1 > "$dir/valid"
      bytes 2 > "$dir/valid-v1"
      bytes 1 0 0 1 255 > "$dir/magic"
      bytes 1 0 8 4 255 255 0 0 > "$dir/paths"
      bytes 1 0 84 1 1 > "$dir/head-len"
      bytes 1 0 87 1 4 > "$dir/pos-kind"
      bytes 1 0 124 1 1 > "$dir/old-head-len"
      bytes 1 1 66 4 255 255 0 0 > "$dir/cursor-len"
      bytes 1 9 237 24 0 64 0 0 0 0 0 0 7 0 0 0 0 0 0 0 65 65 65 65 0 0 0 0 > "$dir/stats-nskips"
      bytes 1 6 5 8 65 65 65 65 0 0 0 0 > "$dir/stats-why"
      bytes 1 20 0 16 255 255 255 255 255 255 255 255 1 1 1 1 1 1 1 1 > "$dir/agg"
      bytes 0 66 87 87 65 84 67 72 50 > "$dir/raw-magic"
      ;;
    *) die "unknown harness $h" ;;
  esac
}

ctest_run() { # HARNESS BINARY SECONDS WORK
  local h=$1 bin=$2 secs=$3 work=$4
  local corpus=$work/$h/corpus art=$work/$h/artifacts/
  rm -rf "${work:?}/$h"
  mkdir -p "$corpus" "$art"
  seeds "$h" "$work/$h/seeds"
  # Every rules seed is a Hyperscan compile (~0.3 s here): for a short
  # run, only the first piece of each file.
  [[ $h == fuzz_rules ]] && find "$work/$h/seeds" -type f ! -name '*-aa' -delete
  # New inputs go to the first directory (a scratch one), never to seeds.
  # shellcheck disable=SC2046
  # A fixed seed: the same mutations every run, so CI does not turn red
  # on a bug one run happened to reach and the next did not.
  if ! env $(fuzz_env "$h") "$bin" $(fuzz_args "$h") -max_total_time="$secs" \
      -seed=1 -artifact_prefix="$art" -print_final_stats=1 \
      "$corpus" "$work/$h/seeds" > "$work/$h/log" 2>&1; then
    tail -n 60 "$work/$h/log" >&2
    note "$h: crash; input saved in $art (log: $work/$h/log)"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+.*DONE' \
    "$work/$h/log" || true
}

regressions() { # HARNESS BINARY
  local h=$1 bin=$2 dir=$HERE/regressions/$1 f fail=0
  [[ -d $dir ]] || { note "$h: no regressions"; return 0; }
  for f in "$dir"/*; do
    [[ -f $f ]] || continue
    [[ $f == *.md || $f == *.txt ]] && continue
    # shellcheck disable=SC2046
    if env $(fuzz_env "$h") "$bin" $(fuzz_args "$h") "$f" > /dev/null 2>&1; then
      note "ok   $f"
    else
      note "FAIL $f"
      fail=1
    fi
  done
  return $fail
}

long_run() { # HOURS BUILD_DIR
  local hours=$1 build=${2:-$ROOT/build-fuzz} work=${FUZZ_WORK:-/tmp/bw-fuzz}
  local secs jobs h bin
  secs=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
  ((secs > 0)) || die "HOURS must be > 0"
  jobs=${FUZZ_JOBS:-$(nproc)}
  local fork="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
  [[ ${FUZZ_FORK:-1} == 1 ]] || fork="-print_final_stats=1"
  for h in "${HARNESSES[@]}"; do
    bin=$build/tests/fuzz/$h
    [[ -x $bin ]] || die "$bin missing: build with -DBW_FUZZ=ON first"
  done
  mkdir -p "$work"
  printf '%s\n' "$secs" > "$work/seconds"
  (
    for h in "${HARNESSES[@]}"; do
      # Keep at most $jobs harnesses running.
      while (($(jobs -rp | wc -l) >= jobs)); do sleep 5; done
      mkdir -p "$work/$h/corpus" "$work/$h/artifacts"
      [[ -d $work/$h/seeds ]] || seeds "$h" "$work/$h/seeds"
      # shellcheck disable=SC2046
      # Fork mode: a crash is saved and fuzzing goes on, so one known bug
      # does not end the run. Each job restarts the process (fuzz_rules and
      # fuzz_classify compile rules at start), which costs a lot in short
      # runs: FUZZ_FORK=0 runs one plain process per harness instead.
      env $(fuzz_env "$h") "$build/tests/fuzz/$h" $(fuzz_args "$h") -max_total_time="$secs" \
        $fork \
        -artifact_prefix="$work/$h/artifacts/" \
        "$work/$h/corpus" "$work/$h/seeds" > "$work/$h/log" 2>&1 &
    done
    wait
    "$HERE/run.sh" --stats "$work" > "$work/stats.md"
  ) > /dev/null 2>&1 &
  note "fuzzing ${#HARNESSES[@]} harnesses for $secs s each ($jobs at a time) in $work;"
  note "progress: $0 --stats $work   (final table: $work/stats.md)"
}

one_run() { # HARNESS BINARY SECONDS WORK
  local h=$1 bin=$2 secs=$3 work=$4
  mkdir -p "$work/$h/corpus" "$work/$h/artifacts"
  [[ -d $work/$h/seeds ]] || seeds "$h" "$work/$h/seeds"
  # The CPU time (user + system, fork-mode children included) is what a
  # "CPU-hour" means; the wall time of a niced run on a shared machine
  # is longer. GNU time appends it to the log.
  # Fork mode restarts a process per job: on this VM that was 40 % of the
  # CPU time in system time. FUZZ_FORK=0: one process, which stops at the
  # first crash (its input is saved; run again to go on).
  local fork="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
  [[ ${FUZZ_FORK:-1} == 1 ]] || fork="-print_final_stats=1"
  # shellcheck disable=SC2046
  env $(fuzz_env "$h") /usr/bin/time -a -o "$work/$h/cpu" -f "cpu %U %S wall %e" \
    "$bin" $(fuzz_args "$h") -max_total_time="$secs" $fork \
    -artifact_prefix="$work/$h/artifacts/" \
    "$work/$h/corpus" "$work/$h/seeds" >> "$work/$h/log" 2>&1 || true
  tail -n 1 "$work/$h/cpu"
}

stats() { # WORK_DIR
  local work=${1:-${FUZZ_WORK:-/tmp/bw-fuzz}} h log
  printf '| harness | executions | exec/s | coverage (cov) | features (ft) | corpus | crashes, leaks, timeouts |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|\n'
  for h in "${HARNESSES[@]}"; do
    log=$work/$h/log
    [[ -f $log ]] || continue
    # The last status line ("#N ... cov: C ft: F corp: K/..." with
    # "exec/s: E") and the final stats, when the run has ended.
    # crash-*, leak-*, timeout-* and oom-* files; slow-unit-* are not bugs.
    awk -v h="$h" -v crashes="$(find "$work/$h/artifacts" -type f \( -name 'crash-*' \
        -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | wc -l)" '
      /^#[0-9]+/ {
        n = substr($1, 2); sub(/:$/, "", n)
        for (i = 2; i <= NF; i++) {
          if ($i == "cov:") cov = $(i + 1)
          if ($i == "ft:") ft = $(i + 1)
          if ($i == "corp:") { corp = $(i + 1); sub(/\/.*/, "", corp) }
          if ($i == "time:") { t = $(i + 1); sub(/s$/, "", t) }
          if ($i == "exec/s:") eps = $(i + 1)
        }
        if (t > 0) eps = int(n / t) # fork mode: per-job rates, use the total
      }
      /^stat::number_of_executed_units:/ { n = $2 }
      /^stat::average_exec_per_sec:/ { eps = $2 }
      END { printf "| %s | %s | %s | %s | %s | %s | %d |\n", h, n, eps, cov, ft, corp, crashes }
    ' "$log"
  done
}

case ${1:-} in
  --ctest) (($# == 5)) || die "usage: --ctest H BINARY SECONDS WORK"; ctest_run "$2" "$3" "$4" "$5" ;;
  --one) (($# == 5)) || die "usage: --one H BINARY SECONDS WORK"; one_run "$2" "$3" "$4" "$5" ;;
  --regressions) (($# == 3)) || die "usage: --regressions H BINARY"; regressions "$2" "$3" ;;
  --seeds) (($# == 3)) || die "usage: --seeds H DIR"; seeds "$2" "$3" ;;
  --stats) stats "${2:-}" ;;
  ''|-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
  *) long_run "$1" "${2:-}" ;;
esac
