# Shared by the shell tests (sourced): one assertion helper and the
# closing verdict, so every script reports and fails the same way.
fails=0

check() { # check NAME ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: expected '$3', got '$2'"
    fails=$((fails + 1))
  else
    echo "ok: $1"
  fi
}

finish() { # the last line of every test script
  if [ "$fails" -gt 0 ]; then
    echo "$fails check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
