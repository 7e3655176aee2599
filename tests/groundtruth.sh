#!/usr/bin/env bash
# tests/groundtruth.sh GEN BW: end-to-end check of bouncewatch's line
# classification against bw_gen_logs' ground truth. For two generated logs
# (mixed Postfix+Exim with RFC 3339 prefixes; Postfix only with RFC 3164),
# `BW replay --json` must report exactly the truth's lines, lines_by_kind,
# deliveries.total, deliveries.by_status and deliveries.by_dsn_class;
# `BW report --json` must match final_outcomes in its totals and
# final_outcomes_by_sender_domain in its sender_domains.
# Every mismatch is printed; exit 1 on any. A missing tool is a failure too.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <path to bw_gen_logs> <path to bouncewatch>" >&2
  exit 1
fi
GEN=$1
BW=$2
SEED=20240301
MESSAGES=20000

fail=0
for tool in "$GEN" "$BW"; do
  if [[ ! -x $tool ]]; then
    echo "groundtruth: $tool: not found or not executable" >&2
    fail=1
  fi
done
if ! command -v jq > /dev/null; then
  echo "groundtruth: jq not found (the project's setup script installs it)" >&2
  fail=1
fi
((fail == 0)) || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/bw-groundtruth.XXXXXX")
# keep the inputs of a failing run for debugging, drop them otherwise
trap '((fail)) && echo "groundtruth: inputs kept in $work" >&2 || rm -rf "$work"' EXIT

# Paths compared, all taken from the truth file so a new kind or status
# added to the generator is checked without touching this script.
# shellcheck disable=SC2016 # $t and $g are jq variables
COMPARE='
  $t[0] as $t | $g[0] as $g
  | ([["lines"]]
     + ($t.lines_by_kind | keys_unsorted | map(["lines_by_kind", .]))
     + [["deliveries", "total"]]
     + ($t.deliveries.by_status | keys_unsorted
        | map(["deliveries", "by_status", .]))
     + ($t.deliveries.by_dsn_class | keys_unsorted
        | map(["deliveries", "by_dsn_class", .])))
  | .[] as $p
  | ($t | getpath($p)) as $want
  | ($g | getpath($p)) as $got
  | select($want != $got)
  | "  \($p | join(".")): truth \($want), bouncewatch \($got // "missing")"'

# Final outcomes per sender domain: every domain of the truth separately
# (the report runs with a sender table big enough to need no "other"), and
# no domain outside the truth may carry outcomes ("unknown" with zeros is
# what the null-sender notifications may leave).
# shellcheck disable=SC2016 # $t, $r and the rest are jq variables
BY_SENDER='
  $t[0].final_outcomes_by_sender_domain as $w
  | ["sent", "bounced", "expired"] as $fields
  | if ($r[0].sender_domains | type) != "array" then
      "  report sender_domains: missing or not an array"
    else
      $r[0].sender_domains as $sd
      | (reduce $sd[] as $d ({}; .[$d.name] += [$d])) as $by
      | (($w | to_entries[]
          | .key as $n | .value as $v | ($by[$n] // []) as $ds
          | if ($ds | length) > 1 then
              "  report sender_domains: \($n) listed \($ds | length) times"
            else
              $fields[] as $k | $ds[0][$k] as $g
              | select($v[$k] != $g)
              | "  sender domain \($n) \($k): truth \($v[$k]), bouncewatch \($g // "missing")"
            end),
         ($sd[] | . as $d | select($w | has($d.name | tostring) | not)
          | $fields[] as $k
          | select(($d[$k] // 0) != 0)
          | "  sender domain \($d.name) \($k): truth none (not a sender domain), bouncewatch \($d[$k])"))
    end'

for spec in mixed:rfc3339 postfix:rfc3164; do
  fmt=${spec%%:*}
  prefix=${spec##*:}
  name="$fmt/$prefix"
  log=$work/$fmt-$prefix.log
  truth=$log.truth.json
  got=$log.bw.json

  if ! "$GEN" --seed "$SEED" --messages "$MESSAGES" --format "$fmt" \
      --prefix "$prefix" --truth "$truth" > "$log"; then
    echo "FAIL $name: $GEN exited with an error"
    fail=1
    continue
  fi
  # the generator's own count must agree with the file
  wc_lines=$(wc -l < "$log")
  if [[ $wc_lines != "$(jq .lines "$truth")" ]]; then
    echo "FAIL $name: generator truth says $(jq .lines "$truth") lines, file has $wc_lines"
    fail=1
    continue
  fi

  rc=0
  "$BW" replay --json "$log" > "$got" 2> "$log.bw.err" || rc=$?
  if ((rc != 0)); then
    echo "FAIL $name: $BW replay --json exited with $rc"
    sed 's/^/  stderr: /' "$log.bw.err" | head -20
    fail=1
    continue
  fi
  if ! jq -e 'type == "object"' "$got" > /dev/null 2>&1; then
    echo "FAIL $name: output of $BW replay --json is not one JSON object"
    head -c 500 "$got" | sed 's/^/  stdout: /'
    fail=1
    continue
  fi

  mismatches=$(jq -r -n --slurpfile t "$truth" --slurpfile g "$got" "$COMPARE")
  # bouncewatch's own consistency: lines is the sum of lines_by_kind
  sum=$(jq '[.lines_by_kind[]?] | add // 0' "$got")
  if [[ $sum != "$(jq '.lines // "missing"' "$got")" ]]; then
    mismatches+=$'\n'"  bouncewatch lines $(jq '.lines // "missing"' "$got") != sum of its lines_by_kind $sum"
  fi
  # The join: each customer recipient once, by its final outcome.
  rep=$log.report.json
  if "$BW" report --json --max-domains 100000 "$log" > "$rep" 2>> "$log.bw.err"; then
    mismatches+=$'\n'$(jq -r -n --slurpfile t "$truth" --slurpfile r "$rep" '
      $t[0].final_outcomes as $f | $r[0].totals as $g
      | ["sent", "bounced", "expired"][]
      | select($f[.] != $g[.])
      | "  report totals.\(.): truth final_outcomes \($f[.]), bouncewatch \($g[.])"')
    mismatches+=$'\n'$(jq -r -n --slurpfile t "$truth" --slurpfile r "$rep" "$BY_SENDER" 2>&1 ||
      echo "  jq could not compare sender_domains (see above)")
    if [[ $(jq '.totals.pending + .totals.unknown_sender + .totals.evicted_messages' "$rep") != 0 ]]; then
      mismatches+=$'\n'"  report: pending/unknown/evicted should be 0 on a whole generated log: $(jq -c '.totals|{pending,unknown_sender,evicted_messages}' "$rep")"
    fi
  else
    mismatches+=$'\n'"  $BW report --json failed"
  fi
  if [[ -n ${mismatches//[$'\n ']/} ]]; then
    echo "FAIL $name ($(jq .lines "$truth") lines, seed $SEED):"
    printf '%s\n' "$mismatches" | sed '/^$/d'
    fail=1
  else
    echo "ok   $name: $(jq .lines "$truth") lines, $(jq .deliveries.total "$truth") deliveries and $(jq '.final_outcomes | add' "$truth") final outcomes ($(jq '.final_outcomes_by_sender_domain | length' "$truth") sender domains) match"
  fi
done

exit "$fail"
