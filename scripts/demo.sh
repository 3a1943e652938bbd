#!/usr/bin/env bash
# The main command of the README: installs what is missing, then runs the demo on the
# embedded defaults (private Asterisk lab on loopback, SIPp customers and agents, sqlite).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/bootstrap.sh"
cd "$here"
exec .venv/bin/dialer demo "$@"
