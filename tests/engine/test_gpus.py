"""GPU inventory from nvidia-smi: the parser on recorded output, and the tool run for real (a
stand-in nvidia-smi on PATH that prints the recorded output; none on PATH: no GPUs)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.compute.gpus import QUERY, local_gpus, parse_nvidia_smi

RECORDED = Path(__file__).parent / "fixtures" / "nvidia_smi_query_gpu.csv"


def test_parses_recorded_query_output() -> None:
    gpus = parse_nvidia_smi(RECORDED.read_text())
    assert [g.index for g in gpus] == [0, 1, 2, 3]
    a100 = gpus[0]
    assert (a100.name, a100.memory_total_mib, a100.memory_used_mib, a100.utilization_percent) == (
        "NVIDIA A100-SXM4-80GB", 81920, 1234, 35)
    assert a100.summary == "0: NVIDIA A100-SXM4-80GB (1.2 / 80.0 GiB, 35%)"
    # Fields a GPU does not report are None, not errors.
    k80 = gpus[3]
    assert (k80.name, k80.memory_total_mib, k80.memory_used_mib, k80.utilization_percent) == (
        "Tesla K80", 11441, None, None)


def test_noise_lines_are_skipped() -> None:
    assert parse_nvidia_smi("No devices were found\n\n") == []


def _fake_tool(folder: Path, body: str) -> None:
    tool = folder / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


def test_runs_nvidia_smi_with_the_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = tmp_path / "args.txt"
    _fake_tool(tmp_path, f'echo "$@" > {args}\ncat {RECORDED}')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    inventory = local_gpus()
    assert len(inventory.gpus) == 4 and inventory.note == "" and inventory.summary == "4 GPUs"
    assert args.read_text().split() == QUERY


def test_no_nvidia_smi_means_none_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    inventory = local_gpus()
    assert inventory.gpus == () and inventory.summary == "none found (nvidia-smi not found)"


def test_a_failing_driver_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tool(tmp_path, 'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    inventory = local_gpus()
    assert inventory.gpus == () and "couldn't communicate with the NVIDIA driver" in inventory.note
