#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every unit test binary given as arguments, then the integration tests
# (pytest) against $LOOM_BIN, and ends with one summary line:
#   "tests: N passed, M failed"
# Exit status is non-zero if anything failed.
set -u
unit_only=0
if [ "${1:-}" = "--unit-only" ]; then unit_only=1; shift; fi
passed=0 failed=0
failed_names=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

for bin in "$@"; do
  name=$(basename "$bin")
  if "$bin" >"$log/$name.out" 2>&1; then rc=0; else rc=$?; fi
  p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log/$name.out" | grep -oE '[0-9]+' | head -1)
  f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log/$name.out" | grep -oE '[0-9]+' | head -1)
  p=${p:-0} f=${f:-0}
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # crashed or failed outside cmocka
  passed=$((passed + p)) failed=$((failed + f))
  if [ "$f" != 0 ]; then
    failed_names+=("$name")
    echo "FAIL $name ($p passed, $f failed)"; sed 's/^/    /' "$log/$name.out" | tail -40
  else
    echo "ok   $name ($p passed)"
  fi
done

if [ "$unit_only" = 0 ] && [ -d tests/integration ] && ls tests/integration/test_*.py >/dev/null 2>&1; then
  # Interop peers (MQTT.js ...): a clean clone has no node_modules yet.
  if [ -f tests/interop/package-lock.json ] && [ ! -d tests/interop/node_modules ]; then
    echo "== npm ci (tests/interop)"
    (cd tests/interop && npm ci --no-audit --no-fund) || echo "npm ci failed in tests/interop"
  fi
  # Browser tests of the console (playwright-core; Debian's chromium).
  if [ -f tests/browser/package-lock.json ] && [ ! -d tests/browser/node_modules ]; then
    echo "== npm ci (tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund) || echo "npm ci failed in tests/browser"
  fi
  echo "== integration (pytest)"
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration 2>&1 | tee "$log/pytest.out" | tail -60
  line=$(grep -E '[0-9]+ (passed|failed)' "$log/pytest.out" | tail -1)
  p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); p=${p:-0}
  f=$(echo "$line" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
  if [ -z "$line" ]; then f=$((f + 1)); echo "FAIL pytest produced no result line"; fi
  passed=$((passed + p)) failed=$((failed + f))
  [ "$f" != 0 ] && failed_names+=("integration")
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
