#!/usr/bin/env bash
# The test command of the README: installs what is missing (Asterisk, SIPp, the venv),
# then runs the whole suite, the real-Asterisk integration tests included.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/bootstrap.sh"
cd "$here"
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
