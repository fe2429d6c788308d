#!/usr/bin/env bash
# Open the Trainyard studio (no arguments: on the default workspace), or run any `trainyard`
# command: ./studio.sh job list. Installs what is missing first (see scripts/bootstrap.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bootstrap.sh"
ty_apt_ensure "${TY_QT_PKGS[@]}"
ty_venv_ensure
ty_unlock
# Local runs find the venv's python (with PyTorch) first, as the examples expect.
export PATH="$TY_VENV/bin:$PATH"
exec "$TY_VENV/bin/trainyard" "$@"
