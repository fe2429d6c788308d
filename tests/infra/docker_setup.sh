#!/usr/bin/env bash
# A Docker engine and the test base image, for the Docker tests (tests/integration/conftest.py runs
# this once per session). Idempotent: when the daemon answers and the image exists it takes ~0.1 s.
#
# 1. dockerd: installs docker.io when it is missing; starts dockerd in the background when
#    `docker info` fails (--iptables=false --bridge=none: these machines have no usable
#    iptables/bridge; containers use --network host or none) and waits until it answers.
# 2. the base image IMAGE (default trainyard-test-base:latest): Debian bookworm minbase + python3,
#    venv, pip and CA certificates, made with debootstrap and `docker import` (no registry
#    needed; ~80 s once per machine). The host's extra CAs are baked in (TLS interception), and
#    PIP_CERT/REQUESTS_CA_BUNDLE/SSL_CERT_FILE set. FORCE=1 rebuilds it.
#
# Env: IMAGE, DOCKERD_SOCK (/var/run/docker.sock), DOCKER_DATA_ROOT (/tmp/dockerd/data),
#      DOCKERD_EXEC_ROOT (/var/run/docker), DOCKERD_PIDFILE (/var/run/docker.pid), DOCKERD_LOG,
#      MIRROR (http://deb.debian.org/debian). Needs root (or sudo) to install and start things.
set -euo pipefail
IMAGE=${IMAGE:-trainyard-test-base:latest}
SOCK=${DOCKERD_SOCK:-/var/run/docker.sock}
DATA=${DOCKER_DATA_ROOT:-/tmp/dockerd/data}
EXEC=${DOCKERD_EXEC_ROOT:-/var/run/docker}
PIDF=${DOCKERD_PIDFILE:-/var/run/docker.pid}
LOG=${DOCKERD_LOG:-/tmp/dockerd/dockerd.log}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
export DOCKER_HOST=unix://$SOCK

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
say() { printf '[docker_setup] %s\n' "$*" >&2; }
apt_install() {
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 1. the daemon ------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    say "installing docker.io"
    apt_install docker.io
  fi
  "${SUDO[@]}" mkdir -p "$DATA" "$(dirname "$LOG")"
  # Start one only if no dockerd runs on that pidfile already (it may still be booting).
  if ! { [ -f "$PIDF" ] && "${SUDO[@]}" kill -0 "$(cat "$PIDF")" 2>/dev/null; }; then
    say "starting dockerd on $SOCK (log: $LOG)"
    "${SUDO[@]}" setsid nohup dockerd --iptables=false --ip6tables=false --bridge=none \
      --data-root "$DATA" --exec-root "$EXEC" --pidfile "$PIDF" -H "unix://$SOCK" \
      >>"$LOG" 2>&1 </dev/null &
  fi
  up=
  for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then up=1; break; fi
    sleep 0.5
  done
  if [ -z "$up" ]; then
    say "dockerd did not come up; tail of $LOG:"; tail -30 "$LOG" >&2 || true; exit 1
  fi
  say "dockerd up"
fi

# --- 2. the base image ----------------------------------------------------------------------
if [ -z "${FORCE:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
command -v debootstrap >/dev/null || { say "installing debootstrap"; apt_install debootstrap; }
say "building $IMAGE with debootstrap (about 80 s, once per machine)"
WORK=$(mktemp -d /tmp/trainyard-rootfs.XXXXXX)
trap '"${SUDO[@]}" rm -rf "$WORK"' EXIT
t0=$SECONDS
"${SUDO[@]}" debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$WORK/root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -30 "$WORK/debootstrap.log" >&2; exit 1; }
# This network may intercept TLS: the host trusts extra CAs (/usr/local/share/ca-certificates).
# Bake them in, or pip inside containers fails with CERTIFICATE_VERIFY_FAILED.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  "${SUDO[@]}" cp /usr/local/share/ca-certificates/*.crt "$WORK/root/usr/local/share/ca-certificates/"
  "${SUDO[@]}" chroot "$WORK/root" update-ca-certificates >/dev/null 2>&1 || true
fi
"${SUDO[@]}" sh -c "rm -rf '$WORK'/root/var/cache/apt/archives/*.deb '$WORK'/root/var/lib/apt/lists/* \
  '$WORK'/root/usr/share/doc/* '$WORK'/root/usr/share/man/*"
"${SUDO[@]}" tar -C "$WORK/root" -c . | docker import \
  -c 'ENV LANG=C.UTF-8' \
  -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  -c 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
  -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  -c 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
say "built $IMAGE in $((SECONDS - t0)) s"
