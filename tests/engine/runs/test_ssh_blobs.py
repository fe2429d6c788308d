"""Content-addressed uploads to SSH hosts (engine.compute.ssh.blobs), against the real throwaway
sshd of tests/engine/runs/sshd.py: the host's blob store receives only what it lacks, and the
trees it materializes are the ones sent."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_ssh_compute
from sshd import Sshd

from engine.api import Engine
from engine.compute.ssh import SshTarget
from engine.compute.ssh.blobs import HELPER, BlobSender, HostRecords, Tree
from engine.errors import LaunchFailed
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

# The SSH fixtures (a throwaway sshd, a target registered on it), shared with test_ssh_compute.
sshd = test_ssh_compute.sshd
target = test_ssh_compute.target

READER = """
import glob, hashlib
print("changed", open("data/f0000.txt").read()[:16], flush=True)
print("files", len(glob.glob("data/*.txt")), flush=True)
"""


def _write_project(root: Path, n: int) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text(READER)
    for i in range(n):
        (root / "data" / f"f{i:04d}.txt").write_text(os.urandom(1000).hex())  # 2,000 bytes, incompressible-ish


def test_a_resubmit_with_one_changed_file_sends_about_that_file(eng: Engine, target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target()
    code = tmp_path / "proj"
    _write_project(code, 300)
    first = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py",
                                        compute="far")).name, timeout=90)
    assert first.status == "Completed", first.error
    assert first.properties["upload_blobs"] >= 301  # every file's content, the in-run client's too
    assert first.properties["upload_bytes"] > 300 * 1000

    changed = os.urandom(10_000).hex()  # 20,000 bytes
    (code / "data" / "f0000.txt").write_text(changed)
    second = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="train.py",
                                         compute="far")).name, timeout=90)
    assert second.status == "Completed", second.error
    assert second.properties["upload_blobs"] == 1
    # That file (hex text compresses to about half), its path and hash, and the protocol's few hundred bytes.
    assert second.properties["upload_bytes"] < 20_000 + 4_000
    log = RunFiles(Path(second.run_dir)).driver_log.read_text()
    assert f"changed {changed[:16]}" in log and "files 300" in log


@pytest.fixture
def sender(sshd: Sshd, tmp_path: Path) -> Iterator[tuple[BlobSender, Path]]:
    ssh = SshTarget.from_config("far", {"host": sshd.host, "port": sshd.port, "user": sshd.user,
                                           "key_file": str(sshd.key), "known_hosts": str(sshd.known_hosts)})
    client = ssh.connect()
    cache = tmp_path / "host-cache"
    records = HostRecords(tmp_path / "records", f"{ssh.address}:{cache}")
    yield BlobSender(client, str(cache), sys.executable, records, ssh.address), cache
    client.close()


def _tree_of(folder: Path) -> dict[str, tuple[bytes, bool]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), os.access(p, os.X_OK))
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_arrives_whole_and_again_sends_only_what_changed(sender: Any, tmp_path: Path) -> None:
    blobs, cache = sender
    src = tmp_path / "inputs"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("x,y\n1,2\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(50_000))
    (src / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (src / "run.sh").chmod(0o755)
    (src / "same.txt").write_text("x,y\n1,2\n")  # the same content as a.csv: one blob
    tree = Tree()
    tree.add_path(src, "", tmp_path / "statcache")
    first = blobs.send(tree, str(tmp_path / "dest1"), key="inputs")
    assert (first.files, first.blobs_sent, first.base) == (4, 3, None)
    assert _tree_of(tmp_path / "dest1") == _tree_of(src)
    assert _tree_of(tmp_path / "dest1")["run.sh"][1] is True

    again = Tree()
    again.add_path(src, "", tmp_path / "statcache")
    second = blobs.send(again, str(tmp_path / "dest2"), key="inputs")
    assert second.blobs_sent == 0 and second.base == tree.id
    assert second.bytes_sent < 1_000
    assert _tree_of(tmp_path / "dest2") == _tree_of(src)

    (src / "a.csv").write_text("x,y\n3,4\n")
    (src / "sub" / "b.bin").unlink()
    third_tree = Tree()
    third_tree.add_path(src, "", tmp_path / "statcache")
    third = blobs.send(third_tree, str(tmp_path / "dest3"), key="inputs")
    assert third.blobs_sent == 1 and third.blob_bytes == len("x,y\n3,4\n")
    assert _tree_of(tmp_path / "dest3") == _tree_of(src)
    assert len(list((cache / "blobs").rglob("*"))) >= 4


def test_a_pruned_host_cache_gets_everything_again(sender: Any, tmp_path: Path) -> None:
    blobs, cache = sender
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"{i}.txt").write_text(f"file {i}\n")
    tree = Tree()
    tree.add_path(src, "")
    assert blobs.send(tree, str(tmp_path / "d1"), key="k").blobs_sent == 5
    subprocess.run([sys.executable, str(HELPER), "prune", str(cache)], check=True, capture_output=True)
    assert not (cache / "blobs").exists()
    (src / "0.txt").write_text("changed\n")
    tree = Tree()
    tree.add_path(src, "")
    result = blobs.send(tree, str(tmp_path / "d2"), key="k")  # the base it remembers is gone there
    assert result.blobs_sent == 5 and result.base is None
    assert _tree_of(tmp_path / "d2") == _tree_of(src)


def test_a_cache_folder_that_cannot_be_made_is_a_clear_error(sshd: Sshd, tmp_path: Path) -> None:
    ssh = SshTarget.from_config("far", {"host": sshd.host, "port": sshd.port, "user": sshd.user,
                                           "key_file": str(sshd.key), "known_hosts": str(sshd.known_hosts)})
    client = ssh.connect()
    (tmp_path / "a-file").write_text("")
    blobs = BlobSender(client, str(tmp_path / "a-file" / "cache"), "python3", None, ssh.address)
    tree = Tree()
    tree.add_bytes("x.txt", b"x")
    with pytest.raises(LaunchFailed) as err:
        blobs.send(tree, str(tmp_path / "dest"))
    client.close()
    assert f"uploading to {ssh.address}" in err.value.message
    assert "Not a directory" in err.value.message  # the host's own words
    assert "cache_dir:" in (err.value.hint or "")


def test_the_host_keeps_no_blob_whose_bytes_do_not_match_its_name(tmp_path: Path) -> None:
    good, bad = b"good content", b"tampered"
    sha = hashlib.sha256(good).hexdigest()
    head = {"id": "0" * 64, "base": None, "entries": [["x", sha, len(good), False]], "removed": [],
            "dest": str(tmp_path / "dest"), "mkdirs": [], "link": False}
    stream = zlib.compress(json.dumps(head).encode() + b"\n" + f"{sha} {len(bad)}\n".encode() + bad + b"end\n")
    proc = subprocess.run([sys.executable, str(HELPER), "put", str(tmp_path / "cache")], input=stream,
                          capture_output=True)
    assert proc.returncode == 1
    assert f"blob {sha} arrived damaged" in proc.stderr.decode()
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
    assert not (tmp_path / "dest").exists()
