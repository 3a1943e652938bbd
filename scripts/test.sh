#!/usr/bin/env bash
# The test command of the README: installs what is missing (Asterisk, SIPp, the venv), runs the
# checks (ruff lint and format, mypy --strict, the import contracts in pyproject.toml), then
# the whole suite, the real-Asterisk integration tests included, and once more the tests that need
# neither the PBX nor the browser with the machine's calendar moved FUTURE_DAYS ahead, so a test
# (or product code) that reads "today" instead of the injected clock fails here, not on some
# later date in CI. Arguments go to the first pytest run only and skip the checks and the
# future-dated pass (for running a few tests by hand).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/bootstrap.sh"
cd "$here"

# About a year and a half: past a retention period (180 days), a new month, a new year and a leap day.
FUTURE_DAYS=540

if [ $# -eq 0 ]; then
  # The architecture's checks first (seconds): lint and format, strict types, import contracts.
  echo "==> checks: ruff, mypy --strict, import contracts"
  .venv/bin/ruff check --quiet .
  .venv/bin/ruff format --check --quiet .
  .venv/bin/mypy
  .venv/bin/lint-imports --no-cache
fi

.venv/bin/python -m pytest -p no:cacheprovider "$@"
[ $# -eq 0 ] || exit 0

echo "==> the tests without PBX and browser again, with the calendar moved $FUTURE_DAYS days ahead"
# Monotonic time is moved too (libfaketime's default): its FAKETIME_DONT_FAKE_MONOTONIC=1 breaks
# Python's time.sleep() (clock_nanosleep with an absolute monotonic deadline gets EINVAL;
# libfaketime 0.9.10, github.com/wolfcw/libfaketime/issues/426).
faketime "+$FUTURE_DAYS days" .venv/bin/python -m pytest -p no:cacheprovider -q -m "not asterisk and not browser"
