#!/usr/bin/env bash
# The test command of the README: installs what is missing (Asterisk, SIPp, the venv), runs the
# checks (ruff lint and format, mypy --strict, the import contracts in pyproject.toml), then the
# whole suite in two rounds of two passes side by side:
#   1. the PBX and browser tests on the host's Asterisk 16, beside the tests that need neither (the
#      store's tests on SQLite and on a private PostgreSQL server the suite starts, tests/pgserver.py);
#   2. the PBX tests on Asterisk 22 (scripts/asterisk22.sh makes it runnable, once), beside the
#      tests that need neither with the machine's calendar moved FUTURE_DAYS ahead, so a test (or
#      product code) that reads "today" instead of the injected clock fails here, not on some later
#      date in CI.
# The PBX tests mostly wait on real calls but are sensitive to delay (answering-machine detection
# judges audio as it arrives), while the other tests are pure CPU: those run at the lowest priority
# (nice 19), so they fill the idle time without delaying a call. Side by side keeps the command near
# 15 minutes on 2 cores. No two passes share a port: the PBX-free tests bind only free ports.
# Arguments go to one pytest run only and skip the checks and the other passes (for running a few
# tests by hand; `PATH="$(scripts/asterisk22.sh):$PATH" scripts/test.sh -m asterisk` runs the PBX
# tests on 22).
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

if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
fi

# Runs pytest at the lowest CPU priority in the background, its output into a file; `finish` waits
# for it, prints the output and gives its status.
background() {
  local log
  log="$(mktemp)"
  nice -n 19 "$@" >"$log" 2>&1 &
  bg_pid=$!
  bg_log="$log"
}
finish() {
  local pid=$1 log=$2 title=$3 status=0
  wait "$pid" || status=$?
  echo "==> $title:"
  cat "$log"
  rm -f "$log"
  return "$status"
}

echo "==> the PBX and browser tests on $(asterisk -V), beside the tests without PBX and browser (output below when done)"
background .venv/bin/python -m pytest -p no:cacheprovider -q -m "not asterisk and not browser"
free_pid=$bg_pid free_log=$bg_log
pbx16=0
.venv/bin/python -m pytest -p no:cacheprovider -q -m "asterisk or browser" || pbx16=$?
free=0
finish "$free_pid" "$free_log" "the tests without PBX and browser" || free=$?

ast22="$("$here/scripts/asterisk22.sh")"
echo "==> the PBX tests on $(PATH="$ast22:$PATH" asterisk -V), beside the tests without PBX and browser with the calendar moved $FUTURE_DAYS days ahead (output below when done)"
# Monotonic time is moved too (libfaketime's default): its FAKETIME_DONT_FAKE_MONOTONIC=1 breaks
# Python's time.sleep() (clock_nanosleep with an absolute monotonic deadline gets EINVAL;
# libfaketime 0.9.10, github.com/wolfcw/libfaketime/issues/426).
# Its PostgreSQL runs (marker postgresql) are left out: the same SQL ran on both backends in the
# first round, what the calendar can break is the Python around it, which the SQLite runs exercise.
background faketime "+$FUTURE_DAYS days" .venv/bin/python -m pytest -p no:cacheprovider -q -m "not asterisk and not browser and not postgresql"
future_pid=$bg_pid future_log=$bg_log
pbx22=0
PATH="$ast22:$PATH" .venv/bin/python -m pytest -p no:cacheprovider -q -m asterisk || pbx22=$?
future=0
finish "$future_pid" "$future_log" "the tests without PBX and browser, $FUTURE_DAYS days ahead" || future=$?

echo "==> status: PBX+browser on 16: $pbx16, without PBX: $free, PBX on 22: $pbx22, $FUTURE_DAYS days ahead: $future"
[ "$pbx16" -eq 0 ] && [ "$free" -eq 0 ] && [ "$pbx22" -eq 0 ] && [ "$future" -eq 0 ]
