"""Restoring a snapshot into a run folder."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import InvalidSpec, NotFound
from engine.snapshots import SnapshotStore

Make = Callable[[dict[str, str | bytes]], Path]


def test_round_trip_restores_content_and_executable_bits(
    store: SnapshotStore, project: Make, tmp_path: Path
) -> None:
    files: dict[str, str | bytes] = {
        "train.py": "print('train')\n",
        "scripts/run.sh": "#!/bin/sh\necho restored\n",
        "data/weights.bin": bytes(range(256)) * 40,
        "deep/a/b/c/d.txt": "deep\n",
        "empty.txt": "",
    }
    folder = project(files)
    (folder / "scripts" / "run.sh").chmod(0o755)
    manifest = store.take(folder)
    dest = tmp_path / "run" / "code"
    store.materialize(manifest.id, dest)

    restored = {str(p.relative_to(dest).as_posix()): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert restored == {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    assert os.access(dest / "scripts" / "run.sh", os.X_OK)
    assert not (dest / "train.py").stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    out = subprocess.run([str(dest / "scripts" / "run.sh")], capture_output=True, text=True, check=True)
    assert out.stdout == "restored\n"


def test_a_run_may_modify_its_copy_without_touching_the_store(
    store: SnapshotStore, project: Make, tmp_path: Path
) -> None:
    folder = project({"config.yml": "lr: 0.1\n", "again.yml": "lr: 0.1\n"})
    manifest = store.take(folder)
    store.materialize(manifest.id, tmp_path / "run1")
    (tmp_path / "run1" / "config.yml").write_text("lr: 999\n")
    assert (tmp_path / "run1" / "config.yml").stat().st_nlink == 1
    assert store.file_text(manifest.id, "config.yml") == b"lr: 0.1\n"
    store.materialize(manifest.id, tmp_path / "run2")
    assert (tmp_path / "run2" / "config.yml").read_text() == "lr: 0.1\n"


def test_existing_destination_files_are_replaced_not_written_through(
    store: SnapshotStore, project: Make, tmp_path: Path
) -> None:
    manifest = store.take(project({"train.py": "new\n"}))
    dest = tmp_path / "dest"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("must stay")
    (dest / "train.py").symlink_to(victim)
    (dest / "outputs").mkdir()
    store.materialize(manifest.id, dest)
    assert victim.read_text() == "must stay"
    assert not (dest / "train.py").is_symlink() and (dest / "train.py").read_text() == "new\n"
    assert (dest / "outputs").is_dir()


def test_unknown_snapshot_or_missing_blob_is_not_found(
    store: SnapshotStore, project: Make, tmp_path: Path
) -> None:
    with pytest.raises(NotFound):
        store.materialize("f" * 64, tmp_path / "x")
    manifest = store.take(project({"train.py": "x"}))
    entry = manifest.file("train.py")
    assert entry is not None
    (store.root / "blobs" / entry.sha256[:2] / entry.sha256[2:]).unlink()
    with pytest.raises(NotFound) as caught:
        store.materialize(manifest.id, tmp_path / "y")
    assert "train.py" in caught.value.message and entry.sha256 in caught.value.message


def test_a_tampered_manifest_cannot_write_outside_the_destination(
    store: SnapshotStore, project: Make, tmp_path: Path
) -> None:
    manifest = store.take(project({"train.py": "x"}))
    path = store.root / "manifests" / f"{manifest.id}.json"
    path.write_text(path.read_text().replace('"train.py"', '"../escaped.py"'))
    with pytest.raises(InvalidSpec, match="unsafe path"):
        SnapshotStore(store.root).materialize(manifest.id, tmp_path / "dest")
    assert not (tmp_path / "escaped.py").exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names")
def test_unusual_file_names_survive_the_round_trip(store: SnapshotStore, project: Make, tmp_path: Path) -> None:
    folder = project({"train.py": "x"})
    names = ["données/été.csv", "back\\slash.txt", "new\nline.txt", os.fsdecode(b"latin1-caf\xe9.py")]
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name.encode("utf-8", "surrogateescape").decode("latin-1"))
    manifest = store.take(folder)
    assert {f.path for f in manifest.files} == {"train.py", *names}
    fresh = SnapshotStore(store.root)  # reads the manifest back from disk
    fresh.materialize(manifest.id, tmp_path / "out")
    for name in names:
        assert (tmp_path / "out" / name).read_bytes() == (folder / name).read_bytes()
        assert fresh.file_text(manifest.id, name) == (folder / name).read_bytes()
