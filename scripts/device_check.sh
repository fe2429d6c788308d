#!/usr/bin/env bash
# Checks that need a machine with real NVIDIA GPUs (CI has none; the unit and integration tests use
# a recorded nvidia-smi instead). Each check is one function; with no arguments every check runs,
# else the ones named:   scripts/device_check.sh [gpu_assignment ...]
#
# Python: $DEVICE_CHECK_PYTHON if set, else the project's venv (made by scripts/bootstrap.sh when
# it is missing, as ./test.sh does; that needs the package indexes). The venv needs torch with CUDA.
# Exit status: 0 all passed, 1 a check failed, 2 this machine cannot run the checks (no GPU).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

python_for_checks() {
    if [ -n "${DEVICE_CHECK_PYTHON:-}" ]; then
        echo "$DEVICE_CHECK_PYTHON"
        return
    fi
    # shellcheck source=scripts/bootstrap.sh
    source "$ROOT/scripts/bootstrap.sh"
    ty_venv_ensure >&2
    ty_unlock
    echo "$TY_VENV/bin/python"
}

# --- GPU assignment (issue 13) ------------------------------------------------------------------
# A real CUDA job submitted through the engine with `resources.gpus: N` (N = 2, or 1 on a one-GPU
# machine) must see exactly the GPUs it was assigned: CUDA_VISIBLE_DEVICES names them, torch sees
# that many devices, and their UUIDs are the UUIDs nvidia-smi gives those indices. A second run
# asking for every GPU must wait Queued while the first holds some, then start and pass the same
# check.
check_gpu_assignment() {
    local py=$1
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
        echo "gpu_assignment: no working nvidia-smi here: this check needs a machine with NVIDIA GPUs" >&2
        return 2
    fi
    local tmp
    tmp=$(mktemp -d)
    TRAINYARD_GPU_LEASES="$tmp/leases" TRAINYARD_HOME="$tmp/home" PYTHONPATH="$ROOT" \
        "$py" "$ROOT/scripts/device_check/gpu_assignment.py" "$tmp"
    local rc=$?
    rm -rf "$tmp"
    return $rc
}

# --- GPU system metrics (issue 12) ---------------------------------------------------------------
# A real CUDA training job (~20 s) submitted through the engine, sampled every second by its
# supervisor: its system/gpu<i>/utilization_percent and memory_used_mib must rise above 0, and
# system/cpu_percent and system/memory_rss_mib must be there.
check_system_metrics() {
    local py=$1
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
        echo "system_metrics: no working nvidia-smi here: this check needs a machine with NVIDIA GPUs" >&2
        return 2
    fi
    local tmp rc
    tmp=$(mktemp -d)
    set +e
    TRAINYARD_HOME="$tmp/home" PYTHONPATH="$ROOT" "$py" "$ROOT/scripts/device_check/system_metrics.py" "$tmp"
    rc=$?
    set -e
    rm -rf "$tmp"
    return $rc
}

CHECKS=(gpu_assignment system_metrics)

main() {
    local names=("$@")
    [ ${#names[@]} -eq 0 ] && names=("${CHECKS[@]}")
    local py failed=0 rc
    py=$(python_for_checks)
    for name in "${names[@]}"; do
        echo "== device check: $name"
        set +e
        "check_$name" "$py"
        rc=$?
        set -e
        if [ $rc -eq 2 ]; then
            echo "== $name: cannot run on this machine" >&2
            [ $failed -eq 0 ] && failed=2
        elif [ $rc -ne 0 ]; then
            echo "== $name: FAILED" >&2
            failed=1
        else
            echo "== $name: passed"
        fi
    done
    return $failed
}

main "$@"
