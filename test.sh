#!/usr/bin/env bash
# Run the test suite: ./test.sh [pytest args] (default: tests/). Installs what is missing first
# (Qt libraries, PostgreSQL server, Xvfb, the venv); the tests start every service they use.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bootstrap.sh"
ty_apt_ensure "${TY_QT_PKGS[@]}" "${TY_TEST_PKGS[@]}"
ty_venv_ensure
ty_unlock
export QT_QPA_PLATFORM=offscreen
export PATH="$TY_VENV/bin:$PATH"
cd "$TY_ROOT"
[ $# -gt 0 ] || set -- tests/
exec "$TY_VENV/bin/python" -m pytest "$@"
