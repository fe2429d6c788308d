#!/usr/bin/env bash
# Run the test suite: ./test.sh [pytest args]. Installs what is missing first (Qt libraries,
# PostgreSQL server, Xvfb, the venv); the tests start every service they use.
# With no arguments (as CI runs it) the static checks come first, each stopping the run when it
# fails: ruff, mypy (the engine, then the in-run client), lint-imports; then the whole of tests/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bootstrap.sh"
ty_apt_ensure "${TY_QT_PKGS[@]}" "${TY_TEST_PKGS[@]}"
ty_venv_ensure
ty_unlock
export QT_QPA_PLATFORM=offscreen
export PATH="$TY_VENV/bin:$PATH"
cd "$TY_ROOT"

# check NAME COMMAND...: run one static check; on failure say which and stop.
check() {
    local name=$1
    shift
    printf '[test.sh] %s: %s\n' "$name" "$*" >&2
    if ! "$@"; then
        printf '[test.sh] FAILED: %s (%s). Fix what it reports above; ./test.sh ARGS runs only pytest.\n' \
            "$name" "$*" >&2
        exit 1
    fi
}

if [ $# -eq 0 ]; then
    check "ruff" ruff check .
    check "mypy: the engine" mypy
    # The in-run client as runs import it: top-level packages from engine/tracking/inject (see
    # [tool.mypy] in pyproject.toml); the engine it lazily imports is someone else's check here.
    # The mlflow stand-in is the top-level `mlflow` there (trainyard_standins/ is its folder on the
    # path); the MLflow plugins (trainyard_mlflow) import the real MLflow, so they are checked apart.
    mapfile -t client_files < <(find engine/tracking/inject -name '*.py' -not -path '*/trainyard_mlflow/*' | sort)
    check "mypy: the in-run client" env MYPYPATH=engine/tracking/inject:engine/tracking/inject/trainyard_standins \
        mypy --follow-imports=skip "${client_files[@]}"
    mapfile -t plugin_files < <(find engine/tracking/inject/trainyard_mlflow -name '*.py' | sort)
    check "mypy: the MLflow plugins" env MYPYPATH=engine/tracking/inject \
        mypy --follow-imports=silent "${plugin_files[@]}"
    check "import contracts" lint-imports
    set -- tests/
fi
exec "$TY_VENV/bin/python" -m pytest "$@"
