#!/bin/bash
# The shipped Prometheus rules: `promtool check rules` and the unit tests
# of packaging/prometheus/bouncewatch.rules.test.yml (`promtool test
# rules`: the fleet join, counter resets, thresholds, hysteresis, volume).
# Usage: prom_rules.sh RULES_DIR
set -uo pipefail
. "$(dirname "$0")/check.sh"
command -v promtool > /dev/null || { echo "FAIL: promtool not found (.ci/deps installs prometheus)"; exit 1; }
cd "$1" || exit 1
out=$(promtool check rules bouncewatch.rules.yml 2>&1)
check "promtool check rules" "$?" 0
echo "$out"
out=$(promtool test rules bouncewatch.rules.test.yml 2>&1)
check "promtool test rules" "$?" 0
echo "$out"
finish
