#!/usr/bin/env bash
# Installs everything DCC Dialer needs on a fresh Debian 12 machine, idempotently:
# Asterisk 16 (Debian bullseye-security, pinned low so nothing else comes from there),
# SIPp (sip-tester), sox, baresip (the real softphone of tests/telephony/test_softphone.py), faketime (the test command's future-dated pass), iproute2 (its network namespace),
# PostgreSQL (the store's second backend, tested on a private cluster), Chromium and a CJK font for the browser tests (tests/browser/, driven
# by Playwright from PyPI, never its own browser download), and a virtualenv with the package and
# its test extras. Re-running it when everything is present takes a second and changes nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
VENV="${DIALER_VENV:-$here/.venv}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
command -v asterisk >/dev/null 2>&1 || [ -x /usr/sbin/asterisk ] || need_apt+=(asterisk)
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
# baresip-core: the softphone without GUI or video plug-ins (it has aufile, g711 and the menu's auto-answer).
command -v baresip >/dev/null 2>&1 || need_apt+=(baresip-core)
# scripts/test.sh runs the clock-independent tests once more with the calendar moved ahead.
command -v faketime >/dev/null 2>&1 || need_apt+=(faketime)
# scripts/test.sh runs the Asterisk 22 pass in a network namespace of its own (unshare, util-linux)
# and brings its loopback up with ip (iproute2, absent from minimal images).
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need_apt+=(iproute2)
# PostgreSQL: the store tests run on a private cluster too (tests/pgserver.py: initdb in a temp folder,
# a loopback port, stopped afterwards). The package's own cluster and service are never used.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Without a CJK font the Chinese console renders as boxes in the browser tests' screenshots.
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" || need_apt+=(fonts-noto-cjk)
# npm installs the browser phone's SIP library (below, into dialer/web/vendor).
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing system packages: ${need_apt[*]}"
  if [[ " ${need_apt[*]} " == *" asterisk "* ]] && [ ! -f /etc/apt/sources.list.d/dcc-bullseye.sources ]; then
    # Debian 12 has no asterisk package; bullseye-security carries 16.28.
    $SUDO tee /etc/apt/sources.list.d/dcc-bullseye.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bullseye-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO tee /etc/apt/preferences.d/dcc-bullseye >/dev/null <<'PIN'
Package: *
Pin: release n=bullseye
Pin-Priority: 100

Package: *
Pin: release n=bullseye-security
Pin-Priority: 100
PIN
  fi
  $SUDO apt-get update -qq
  # The package's own service start is refused by policy-rc.d in containers: harmless,
  # we run a private instance.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" libsox-fmt-all >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
# The stamp holds pyproject.toml's hash, not a time: a fresh checkout's file times say nothing
# about whether its dependencies (say a new test extra) are already in the venv.
stamp="$VENV/.dcc-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing python dependencies"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  echo "$want" >"$stamp"
fi

# The desk's browser phone (WebRTC) uses SIP.js, which the console serves itself (never a CDN): npm ci
# installs exactly the version and integrity hash of dialer/web/vendor/package-lock.json into the
# git-ignored dialer/web/vendor/node_modules; the stamp holds the lock's hash, as above.
vendor="$here/dialer/web/vendor"
vstamp="$vendor/node_modules/.dcc-installed"
vwant="$(sha256sum "$vendor/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$vstamp" 2>/dev/null)" != "$vwant" ]; then
  echo "==> installing the console's JavaScript libraries (npm ci)"
  (cd "$vendor" && npm ci --ignore-scripts --no-audit --no-fund --silent)
  echo "$vwant" >"$vstamp"
fi
