#!/usr/bin/env bash
# The test command of the README: installs what is missing (Asterisk, SIPp, the venv), runs the
# checks (ruff lint and format, mypy --strict, the import contracts in pyproject.toml), then
# the whole suite, the real-Asterisk integration tests included (on the host's Asterisk 16), the
# store's tests on SQLite and on a private PostgreSQL server the suite starts (tests/pgserver.py), then
# side by side: the PBX tests once more on Asterisk 22 (scripts/asterisk22.sh makes it runnable,
# once), and the tests that need neither the PBX nor the browser with the machine's calendar moved
# FUTURE_DAYS ahead, so a test (or product code) that reads "today" instead of the injected clock
# fails here, not on some later date in CI. The two last passes share no port, and the PBX tests
# mostly wait on real calls, so running them together keeps the command near 15 minutes.
# Arguments go to the first pytest run only and skip the checks and the later passes (for running
# a few tests by hand; `PATH="$(scripts/asterisk22.sh):$PATH" scripts/test.sh -m asterisk` runs the
# PBX tests on 22).
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

ast22="$("$here/scripts/asterisk22.sh")"
log22="$(mktemp)"
echo "==> the PBX tests on $(PATH="$ast22:$PATH" asterisk -V) (output below when done)"
PATH="$ast22:$PATH" .venv/bin/python -m pytest -p no:cacheprovider -q -m asterisk >"$log22" 2>&1 &
pid22=$!

echo "==> meanwhile, the tests without PBX and browser again, with the calendar moved $FUTURE_DAYS days ahead"
# Their PostgreSQL runs (marker postgresql) are left out here: the same SQL ran on both backends in
# the first pass, what the calendar can break is the Python around it, which the SQLite runs exercise.
# Monotonic time is moved too (libfaketime's default): its FAKETIME_DONT_FAKE_MONOTONIC=1 breaks
# Python's time.sleep() (clock_nanosleep with an absolute monotonic deadline gets EINVAL;
# libfaketime 0.9.10, github.com/wolfcw/libfaketime/issues/426).
future=0
faketime "+$FUTURE_DAYS days" .venv/bin/python -m pytest -p no:cacheprovider -q -m "not asterisk and not browser and not postgresql" || future=$?
pbx22=0
wait "$pid22" || pbx22=$?
echo "==> the PBX tests on Asterisk 22:"
cat "$log22"
rm -f "$log22"
# Known failures on 22 (the AMD voicemail verdict and the site test, 2026-12-03) are reported, not yet
# fatal: issue #20 stays open until they pass.
[ "$pbx22" -eq 0 ] || echo "==> WARNING: the PBX tests on Asterisk 22 failed (status $pbx22), see above"
[ "$future" -eq 0 ]
