# shellcheck shell=bash disable=SC2034  # the package lists are used by the scripts that source this
# Shared set-up for ./studio.sh and ./test.sh (sourced, not run). Idempotent: when everything
# is in place it only asks dpkg and compares two file times, so a second run takes well under
# a second. Needs Debian/Ubuntu (apt) for system packages; runs apt as root, or through sudo.
#
#   ty_apt_ensure PKG...   install the Debian packages that `dpkg` does not list as installed
#   ty_venv_ensure         make $TY_VENV: `pip install -e '.[dev]'` + PyTorch, when it is missing
#                          or when pyproject.toml (or this file) is newer than its stamp
#   ty_unlock              release the bootstrap lock (call it before exec)
#
# Environment: TRAINYARD_VENV (default: <repo>/.venv), TRAINYARD_PYTHON (default: python3).

TY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TY_VENV="${TRAINYARD_VENV:-$TY_ROOT/.venv}"
TY_PYTHON="${TRAINYARD_PYTHON:-python3}"
TY_STAMP="$TY_VENV/.trainyard-bootstrap-stamp"
# The example project (resources/examples/cifar-pytorch) trains with these.
TY_TORCH=(torch==2.14.1 torchvision==0.29.1)

# Qt (PySide6) system libraries. Offscreen rendering needs the first line (and a font); a real
# window (xcb) needs the rest. When libxcb-icccm4/libxcb-keysyms1 are missing Qt wrongly blames
# "xcb-cursor0"; `ldd .../PySide6/Qt/plugins/platforms/libqxcb.so | grep 'not found'` tells the truth.
TY_QT_PKGS=(
  libegl1 libgl1 libfontconfig1 libfreetype6 libxkbcommon0 libglib2.0-0 libdbus-1-3 fonts-dejavu-core
  libxkbcommon-x11-0 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
  libxcb-xfixes0 libxcb-xkb1 libxcb-util1
)
# What the test suite needs beyond the studio: a PostgreSQL server (tests/conftest.py starts a
# throwaway one), an X server for real-window screenshots, and Docker + debootstrap (the Docker
# tests start dockerd and build their base image: tests/infra/docker_setup.sh), and OpenSSH's sshd
# (SSH compute tests start a throwaway one: tests/engine/runs/sshd.py), and git (snapshots record a
# repository's commit and branch: tests/engine/snapshots/test_snapshot_git.py), and Slurm with munge
# (the Slurm tests start a one-node cluster: tests/infra/slurm_setup.sh; libpmix-dev has the
# libpmix.so that Slurm's PMIx plugin loads for srun-started MPI ranks). docker.io only
# when no dockerd is installed: it conflicts with Docker's own docker-ce packages.
TY_TEST_PKGS=(postgresql xvfb xauth debootstrap dbus-daemon desktop-file-utils openmpi-bin openssh-server git slurm-wlm munge libpmix-dev)
command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || [ -x /usr/bin/dockerd ] || TY_TEST_PKGS+=(docker.io)

ty_log() { printf '[bootstrap] %s\n' "$*" >&2; }

# Serialise concurrent bootstraps (apt and pip both break when two run at once).
ty_lock() {
  [ -n "${TY_LOCKED:-}" ] && return 0
  exec 9>"${TMPDIR:-/tmp}/trainyard-bootstrap.$(id -u).lock"
  if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
    ty_log "waiting for another bootstrap to finish"
    flock 9
  fi
  TY_LOCKED=1
}

# Call before exec'ing anything long-lived, which would otherwise inherit the lock.
ty_unlock() {
  [ -n "${TY_LOCKED:-}" ] || return 0
  exec 9>&-
  TY_LOCKED=
}

ty_missing_pkgs() {
  local installed
  installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null | awk '$1=="ii"{print $2}')
  local p
  for p in "$@"; do
    grep -qxF -- "${p%%:*}" <<<"$installed" || printf '%s\n' "$p"
  done
}

ty_apt_ensure() {
  command -v dpkg-query >/dev/null 2>&1 || { ty_log "no dpkg: install these yourself: $*"; return 0; }
  local missing
  missing=$(ty_missing_pkgs "$@" | xargs)
  [ -z "$missing" ] && return 0
  ty_lock
  missing=$(ty_missing_pkgs "$@" | xargs)
  [ -z "$missing" ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      ty_log "missing Debian packages and not root (no sudo): apt-get install $missing"
      return 1
    }
    sudo=(sudo)
  fi
  ty_log "apt-get install $missing"
  local t0=$SECONDS
  "${sudo[@]}" apt-get update -qq
  # shellcheck disable=SC2086  # word splitting of the package list is intended
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  ty_log "apt done in $((SECONDS - t0)) s"
}

ty_venv_fresh() {
  [ -x "$TY_VENV/bin/python" ] && [ -f "$TY_STAMP" ] &&
    [ ! "$TY_ROOT/pyproject.toml" -nt "$TY_STAMP" ] &&
    [ ! "$TY_ROOT/scripts/bootstrap.sh" -nt "$TY_STAMP" ]
}

ty_pip() {
  # The machine's pip configuration may name local wheel folders that do not exist; drop that noise.
  "$TY_VENV/bin/python" -m pip install --disable-pip-version-check "$@" 2>&1 |
    { grep --line-buffered -v -e "^WARNING: Location '.*' is ignored" -e '^Requirement already satisfied' || true; }
}

ty_venv_ensure() {
  ty_venv_fresh && return 0
  ty_lock
  ty_venv_fresh && return 0
  local t0=$SECONDS
  if [ ! -x "$TY_VENV/bin/python" ]; then
    if ! command -v "$TY_PYTHON" >/dev/null 2>&1 || ! "$TY_PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
      ty_apt_ensure python3 python3-venv
      TY_PYTHON=python3
    fi
    "$TY_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
      ty_log "Trainyard needs Python >= 3.11; $TY_PYTHON is $("$TY_PYTHON" -V 2>&1). Set TRAINYARD_PYTHON."
      return 1
    }
    ty_log "creating $TY_VENV with $("$TY_PYTHON" -V 2>&1)"
    "$TY_PYTHON" -m venv "$TY_VENV"
  fi
  local t1=$SECONDS
  ty_log "pip install -e '.[dev]'"
  ty_pip -e "${TY_ROOT}[dev]"
  ty_log "pip install ${TY_TORCH[*]} (took $((SECONDS - t1)) s for the project)"
  t1=$SECONDS
  ty_pip "${TY_TORCH[@]}"
  ty_log "PyTorch took $((SECONDS - t1)) s"
  touch "$TY_STAMP"
  ty_log "venv ready in $((SECONDS - t0)) s: $TY_VENV"
}
