#!/bin/bash
# The HTML report in a real browser: test_html writes the sample page,
# headless Chromium screenshots it, png_nonblank checks the screenshot shows
# something (colours, non-background pixels). Chromium missing is a
# failure, not a skip: the project's setup installs it.
# Usage: html_render.sh BUILD_DIR   (page and screenshot stay in
# BUILD_DIR/tests/html_render/ for a look)
set -uo pipefail
BUILD=${1:?usage: html_render.sh BUILD_DIR}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
OUT=$BUILD/tests/html_render
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT

if [ ! -x "$CHROMIUM" ]; then
  echo "FAIL: $CHROMIUM not found (apt-get install chromium)"
  exit 1
fi
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT/page.html" "$OUT/shot.png"

if ! "$BUILD/tests/test_html" --write "$OUT/page.html"; then
  echo "FAIL: test_html --write $OUT/page.html"
  exit 1
fi

# A private profile and HOME, nothing that reaches the network: the page
# has no external resources and the browser must not fetch its own.
HOME=$PROFILE timeout -k 10 120 "$CHROMIUM" --headless --no-sandbox \
  --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --disable-extensions \
  --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$PROFILE/profile" \
  --screenshot="$OUT/shot.png" --window-size=1280,2000 \
  "file://$OUT/page.html" > "$OUT/chromium.log" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ ! -s "$OUT/shot.png" ]; then
  echo "FAIL: chromium exited $rc, screenshot missing or empty; its output:"
  tail -n 20 "$OUT/chromium.log"
  exit 1
fi

if ! "$BUILD/tests/png_nonblank" "$OUT/shot.png" 8 2; then
  echo "FAIL: the screenshot $OUT/shot.png looks blank"
  exit 1
fi
echo "ok: html_render ($OUT/shot.png)"
