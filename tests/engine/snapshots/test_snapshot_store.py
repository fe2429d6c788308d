"""Taking snapshots: content addressing, the stat cache, left-out files, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from engine import snapshots
from engine.errors import NotFound
from engine.snapshots import FileEntry, SnapshotManifest, SnapshotStore
from engine.snapshots import blobs as blobs_module
from engine.snapshots.blobs import BlobStore

Make = Callable[[dict[str, str | bytes]], Path]
Listing = Callable[[SnapshotStore], set[str]]
Age = Callable[..., None]


def blobs(listing: set[str]) -> set[str]:
    return {p for p in listing if p.startswith("blobs/")}


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the store reads to hash, in order."""
    calls: list[str] = []
    real = BlobStore.put_file

    def counting(self: BlobStore, path: str, expected_size: int) -> tuple[str, int]:
        calls.append(os.path.basename(path))
        return real(self, path, expected_size)

    monkeypatch.setattr(BlobStore, "put_file", counting)
    return calls


def many_files(n: int = 120) -> dict[str, str | bytes]:
    # Enough files in several folders that the stat cache and blob sharing are exercised at scale.
    files: dict[str, str | bytes] = {f"pkg{i % 7}/mod{i:03d}.py": f"VALUE = {i}\n" for i in range(n)}
    files["run.sh"] = "#!/bin/sh\necho hi\n"
    return files


def test_public_api_is_exactly_all() -> None:
    public = {
        name for name in dir(snapshots)
        if not name.startswith("_") and not isinstance(getattr(snapshots, name), types.ModuleType)
    }
    assert set(snapshots.__all__) == public
    assert set(snapshots.__all__) == {"FileEntry", "GitInfo", "SnapshotLimits", "SnapshotManifest",
                                      "SnapshotPreview", "SnapshotStore"}


def test_blobs_are_content_addressed_and_the_id_is_the_manifest_hash(
    store: SnapshotStore, project: Make
) -> None:
    folder = project({"train.py": "print('train')\n", "conf/a.yml": "lr: 0.1\n"})
    manifest = store.take(folder)
    entry = manifest.file("train.py")
    assert entry == FileEntry("train.py", hashlib.sha256(b"print('train')\n").hexdigest(), 15, False)
    blob = store.root / "blobs" / entry.sha256[:2] / entry.sha256[2:]
    assert blob.read_bytes() == b"print('train')\n"
    raw = (store.root / "manifests" / f"{manifest.id}.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == manifest.id
    assert manifest.source == str(folder.resolve())
    assert [f.path for f in manifest.files] == ["conf/a.yml", "train.py"]
    assert (manifest.file_count, manifest.total_bytes) == (2, 15 + 8)


def test_unchanged_folder_gives_same_id_writes_nothing_and_hashes_nothing(
    store: SnapshotStore, project: Make, age: Age, listing: Listing, hash_calls: list[str]
) -> None:
    folder = project(many_files())
    age(folder)
    first = store.take(folder)
    assert len(hash_calls) == 121
    before = {p: (store.root / p).stat().st_mtime_ns for p in listing(store)}
    hash_calls.clear()

    second = store.take(folder)
    assert second.id == first.id
    assert second == first
    assert hash_calls == [], "unchanged files must come from the stat cache"
    after = {p: (store.root / p).stat().st_mtime_ns for p in listing(store)}
    assert after == before, "an unchanged re-snapshot must not write any file"


def test_one_changed_file_gives_a_new_id_and_exactly_one_new_blob(
    store: SnapshotStore, project: Make, age: Age, listing: Listing, hash_calls: list[str]
) -> None:
    folder = project(many_files())
    age(folder)
    first = store.take(folder)
    blobs_before = blobs(listing(store))
    hash_calls.clear()

    (folder / "pkg3" / "mod010.py").write_text("VALUE = 'changed'\n")
    second = store.take(folder)
    assert second.id != first.id
    assert hash_calls == ["mod010.py"]
    new = blobs(listing(store)) - blobs_before
    assert len(new) == 1
    changed = second.file("pkg3/mod010.py")
    assert changed is not None and new == {f"blobs/{changed.sha256[:2]}/{changed.sha256[2:]}"}
    assert store.load(first.id) == first, "the earlier snapshot is still intact"


def test_identical_files_are_stored_once(store: SnapshotStore, project: Make, listing: Listing) -> None:
    same = "import torch\n" * 50
    folder = project({"a/model.py": same, "b/model.py": same, "c/copy.py": same, "other.py": "x"})
    manifest = store.take(folder)
    assert len({f.sha256 for f in manifest.files}) == 2
    assert len(blobs(listing(store))) == 2


def test_same_content_in_another_snapshot_reuses_blobs(
    store: SnapshotStore, tmp_path: Path, listing: Listing
) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.py").write_text("shared\n")
    a = store.take(tmp_path / "one")
    b = store.take(tmp_path / "two")
    assert a.id != b.id  # the source folder is part of the manifest
    assert len(blobs(listing(store))) == 1


def test_file_rewritten_within_the_same_timestamp_is_still_seen(
    store: SnapshotStore, project: Make
) -> None:
    folder = project({"train.py": "lr = 0.1\n"})
    path = folder / "train.py"
    # An mtime at or after the walk's start: a rewrite in the same clock tick would keep it.
    stamp = time.time_ns() + 5_000_000_000
    os.utime(path, ns=(stamp, stamp))
    first = store.take(folder)
    with open(path, "r+") as f:  # same inode, same size, then the same mtime again
        f.write("lr = 0.9\n")
    os.utime(path, ns=(stamp, stamp))
    second = store.take(folder)
    assert second.id != first.id
    assert store.file_text(second.id, "train.py") == b"lr = 0.9\n"


def test_secrets_are_left_out_with_a_warning(store: SnapshotStore, project: Make) -> None:
    secret_names = [".env", ".env.production", "server.pem", "tls.key", "id_rsa", "id_ed25519", "deploy_rsa",
                    ".netrc", ".pypirc", ".git-credentials", "conf/credentials.json", "cert.p12", "cert.pfx"]
    files: dict[str, str | bytes] = dict.fromkeys(secret_names, "SECRET")
    files.update({"train.py": "x", "id_rsa.pub": "ssh-rsa AAAA", "keys.py": "x", "env.py": "x"})
    warnings: list[str] = []
    manifest = store.take(project(files), on_warning=warnings.append)
    assert {f.path for f in manifest.files} == {"train.py", "id_rsa.pub", "keys.py", "env.py"}
    assert len(warnings) == len(secret_names)
    for name in secret_names:
        assert any(w.startswith(f"{name}: left out: it looks like a secret (") for w in warnings), name
    assert manifest.warnings == tuple(sorted(warnings))


def test_ignored_secret_gives_no_warning(store: SnapshotStore, project: Make) -> None:
    warnings: list[str] = []
    store.take(project({".gitignore": ".env\n", ".env": "K=1", "a.py": "x"}), on_warning=warnings.append)
    assert warnings == []


def test_symlink_leading_outside_is_not_followed(store: SnapshotStore, project: Make, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "data.csv").write_text("private")
    folder = project({"train.py": "x"})
    (folder / "data.csv").symlink_to(outside / "data.csv")
    (folder / "shared").symlink_to(outside, target_is_directory=True)
    warnings: list[str] = []
    manifest = store.take(folder, on_warning=warnings.append)
    assert [f.path for f in manifest.files] == ["train.py"]
    assert any(w.startswith("data.csv: left out: symlink to") and "outside the snapshot folder" in w
               for w in warnings)
    assert any(w.startswith("shared: left out: symlink to") and "outside" in w for w in warnings)


def test_symlinks_inside_the_folder(store: SnapshotStore, project: Make) -> None:
    folder = project({"src/model.py": "class Model: ...\n", "train.py": "x"})
    (folder / "model.py").symlink_to("src/model.py")  # file symlink: stored as the file's content
    (folder / "src_again").symlink_to("src", target_is_directory=True)  # folder symlink: left out
    (folder / "loop").symlink_to(".", target_is_directory=True)
    (folder / "dangling.py").symlink_to("missing.py")
    warnings: list[str] = []
    manifest = store.take(folder, on_warning=warnings.append)
    assert {f.path for f in manifest.files} == {"src/model.py", "train.py", "model.py"}
    assert store.file_text(manifest.id, "model.py") == b"class Model: ...\n"
    assert any(w.startswith("src_again: left out: symlink to a folder") for w in warnings)
    assert any(w.startswith("loop: left out: symlink to a folder") for w in warnings)
    assert any(w == "dangling.py: left out: broken symlink" for w in warnings)


def test_unreadable_file_is_left_out_with_a_warning(
    store: SnapshotStore, project: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project({"train.py": "x", "locked.bin": "secret"})
    real_open = open

    def guarded_open(path: str, *args: object, **kwargs: object) -> object:
        # chmod 000 does not stop root, so the permission error is raised here instead
        if os.path.basename(path) == "locked.bin":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(blobs_module, "open", guarded_open, raising=False)
    warnings: list[str] = []
    manifest = store.take(folder, on_warning=warnings.append)
    assert [f.path for f in manifest.files] == ["train.py"]
    assert warnings == ["locked.bin: left out: it could not be read (Permission denied)"]


def test_missing_or_non_folder_source_is_not_found(store: SnapshotStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as caught:
        store.take(tmp_path / "nope")
    assert "does not exist" in caught.value.message and str(tmp_path / "nope") in caught.value.message
    (tmp_path / "train.py").write_text("x")
    with pytest.raises(NotFound) as caught:
        store.preview(tmp_path / "train.py")
    assert "not a folder" in caught.value.message
    assert caught.value.hint and "folder that holds your script" in caught.value.hint


def test_no_temporary_files_are_left(store: SnapshotStore, project: Make, listing: Listing) -> None:
    folder = project(many_files())
    store.take(folder)
    (folder / "pkg1" / "mod001.py").write_text("changed\n")
    store.take(folder)
    leftovers = [p for p in listing(store) if p.endswith(".tmp") or "/." in p or p.startswith(".")]
    assert leftovers == []


def test_a_failed_manifest_write_leaves_no_manifest_and_no_temp_file(
    store: SnapshotStore, project: Make, listing: Listing, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project({"train.py": "x"})
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        if "manifests" in str(dst):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        store.take(folder)
    monkeypatch.undo()
    assert [p for p in listing(store) if p.startswith("manifests/")] == []
    assert [p for p in listing(store) if p.endswith(".tmp")] == []
    manifest = store.take(folder)  # and the next attempt succeeds
    assert store.load(manifest.id) == manifest


def test_missing_blob_is_stored_again(store: SnapshotStore, project: Make, age: Age) -> None:
    folder = project({"train.py": "x = 1\n", "other.py": "y = 2\n"})
    age(folder)
    first = store.take(folder)
    entry = first.file("train.py")
    assert entry is not None
    blob = store.root / "blobs" / entry.sha256[:2] / entry.sha256[2:]
    blob.unlink()
    (store.root / "manifests" / f"{first.id}.json").unlink()  # as a clean-up of the store would
    again = store.take(folder)
    assert again.id == first.id
    assert blob.read_bytes() == b"x = 1\n"


def test_large_files_are_streamed_into_the_store(
    store: SnapshotStore, project: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(blobs_module, "_WHOLE_READ_MAX", 1000)
    monkeypatch.setattr(blobs_module, "_CHUNK", 4096)
    content = os.urandom(50_000)
    manifest = store.take(project({"weights.bin": content, "copy.bin": content}))
    entry = manifest.file("weights.bin")
    assert entry == FileEntry("weights.bin", hashlib.sha256(content).hexdigest(), 50_000, False)
    assert store.file_text(manifest.id, "copy.bin") == content


def test_manifest_round_trips_through_dict_and_load(store: SnapshotStore, project: Make) -> None:
    folder = project({".gitignore": "*.log\n", "a.log": "x", "run.sh": "#!/bin/sh\n", ".env": "K=1"})
    (folder / "run.sh").chmod(0o755)
    manifest = store.take(folder, on_warning=lambda _w: None)
    assert SnapshotManifest.from_dict(json.loads(json.dumps(manifest.to_dict()))) == manifest
    fresh = SnapshotStore(store.root)  # nothing cached in memory
    assert fresh.load(manifest.id) == manifest
    assert fresh.exists(manifest.id)
    run_sh = manifest.file("run.sh")
    assert run_sh is not None and run_sh.executable


def test_load_and_file_text_report_what_is_missing(store: SnapshotStore, project: Make) -> None:
    manifest = store.take(project({"train.py": "x"}))
    with pytest.raises(NotFound, match="is not in the store"):
        store.load("0" * 64)
    with pytest.raises(NotFound, match="64 lowercase hex digits"):
        store.load("../../etc/passwd")
    with pytest.raises(NotFound, match=r"has no file 'nope\.py'"):
        store.file_text(manifest.id, "nope.py")
    assert store.file_text(manifest.id, Path("train.py")) == b"x"
    assert not store.exists("0" * 64)


def test_preview_matches_take_without_storing(
    store: SnapshotStore, project: Make, listing: Listing, hash_calls: list[str]
) -> None:
    folder = project({".gitignore": "*.log\n", "a.log": "x", "train.py": "abc", "data/x.csv": "1,2\n",
                      ".env": "K=1"})
    preview = store.preview(folder)
    assert listing(store) == set() and hash_calls == []
    assert (preview.file_count, preview.total_bytes) == (3, 6 + 3 + 4)
    assert preview.largest[0] == (".gitignore", 6)
    assert preview.ignored == ("a.log",) and preview.ignored_count == 1
    assert preview.warnings and preview.warnings[0].startswith(".env: left out")
    assert not preview.over_limit
    manifest = store.take(folder, on_warning=lambda _w: None)
    assert (manifest.file_count, manifest.total_bytes, manifest.warnings) == (
        preview.file_count, preview.total_bytes, preview.warnings)
