#!/usr/bin/env bash
# The test command of the README: installs what is missing (Asterisk, SIPp, the venv), runs the
# checks (ruff lint and format, mypy --strict, the import contracts in pyproject.toml), then the
# whole suite in four passes at once:
#   1. the PBX and browser tests on the host's Asterisk 16;
#   2. the PBX tests on Asterisk 22 (scripts/asterisk22.sh makes it runnable, once), in a copy of
#      the checkout (its own var/: lab, recordings, stores) inside a network namespace of its own,
#      so both Asterisks and their SIPp parties use the very same loopback ports without meeting;
#   3. the tests that need neither (the store's tests on SQLite and on a private PostgreSQL server
#      the suite starts, tests/pgserver.py);
#   4. those again with the machine's calendar moved FUTURE_DAYS ahead, in the copy, so a test (or
#      product code) that reads "today" instead of the injected clock fails here, not on some later
#      date in CI.
# The PBX tests mostly wait on real calls but are sensitive to delay (answering-machine detection
# judges audio as it arrives), while the other tests are pure CPU: those run at the lowest priority
# (nice 19), so they fill the idle time without delaying a call. Side by side keeps the command near
# 15 minutes on 2 cores. The PBX-free tests bind only free ports.
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

# Starts a pass in the background, its output into a file; `finish` waits for it, prints the
# output and gives its status.
background() {
  local log
  log="$(mktemp)"
  "$@" >"$log" 2>&1 &
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

ast22="$("$here/scripts/asterisk22.sh")"
# The copy lives below /tmp, which the Asterisk 22 chroot shows at the same path.
copy="$(mktemp -d /tmp/dcc-test-copy.XXXXXX)"
trap 'rm -rf "$copy"' EXIT
tar -C "$here" --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./.mypy_cache \
  --exclude=./.ruff_cache --exclude=__pycache__ -cf - . | tar -C "$copy" -xf -
ln -s "$here/.venv" "$copy/.venv"
# Its own loopback (brought up: a new namespace's is down); nothing in it reaches the host's ports. A
# veth pair gives it one address besides loopback, for the browser phone's WebRTC media (Asterisk's ICE
# never offers a loopback candidate; tests/browser/test_browser_phone.py).
# Making the namespace needs root: without it, sudo makes it and the pass runs as this user again.
in_copy() {
  local sudo=() drop=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo --preserve-env --)
    drop=(setpriv --reuid="$(id -u)" --regid="$(id -g)" --init-groups)
  fi
  (cd "$copy" && "${sudo[@]}" unshare --net -- sh -c 'ip link set lo up && ip link add dcc0 type veth peer name dcc1 &&
    ip addr add 10.213.0.1/24 dev dcc0 && ip link set dcc1 up && ip link set dcc0 up && exec "$@"' sh "${drop[@]}" "$@")
}

# Each pass ends with its slowest tests, for whoever next keeps the command near 15 minutes.
slowest=--durations=12
echo "==> four passes at once (output below as each ends): the PBX and browser tests on $(asterisk -V);"
echo "    the PBX tests on $(PATH="$ast22:$PATH" asterisk -V); the tests without PBX and browser;"
echo "    and those with the calendar moved $FUTURE_DAYS days ahead"
background nice -n 19 .venv/bin/python -m pytest -p no:cacheprovider -q "$slowest" -m "not asterisk and not browser"
free_pid=$bg_pid free_log=$bg_log
# Monotonic time is moved too (libfaketime's default): its FAKETIME_DONT_FAKE_MONOTONIC=1 breaks
# Python's time.sleep() (clock_nanosleep with an absolute monotonic deadline gets EINVAL;
# libfaketime 0.9.10, github.com/wolfcw/libfaketime/issues/426).
# Its PostgreSQL runs (marker postgresql) are left out: the same SQL runs on both backends in the
# other pass, what the calendar can break is the Python around it, which the SQLite runs exercise.
background in_copy nice -n 19 faketime "+$FUTURE_DAYS days" .venv/bin/python -m pytest -p no:cacheprovider -q "$slowest" \
  -m "not asterisk and not browser and not postgresql"
future_pid=$bg_pid future_log=$bg_log
# The two-site drill (marker group_drill) runs once, on 16: four labs, four nodes and two PostgreSQL
# servers at one time made the whole command's slowest minutes, for a subject that is not the PBX's.
background in_copy env PATH="$ast22:$PATH" .venv/bin/python -m pytest -p no:cacheprovider -q "$slowest" -m "asterisk and not group_drill and not scale"
pbx22_pid=$bg_pid pbx22_log=$bg_log
pbx16=0
.venv/bin/python -m pytest -p no:cacheprovider -q "$slowest" -m "(asterisk or browser) and not scale" || pbx16=$?
pbx22=0
finish "$pbx22_pid" "$pbx22_log" "the PBX tests on Asterisk 22" || pbx22=$?
free=0
finish "$free_pid" "$free_log" "the tests without PBX and browser" || free=$?
future=0
finish "$future_pid" "$future_log" "the tests without PBX and browser, $FUTURE_DAYS days ahead" || future=$?

echo "==> status: PBX+browser on 16: $pbx16, PBX on 22: $pbx22, without PBX: $free, $FUTURE_DAYS days ahead: $future"
[ "$pbx16" -eq 0 ] && [ "$free" -eq 0 ] && [ "$pbx22" -eq 0 ] && [ "$future" -eq 0 ]
