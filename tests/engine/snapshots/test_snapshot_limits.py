"""The snapshot size limit: checked before anything is stored, with an error that says what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import InvalidSpec, SnapshotTooLarge
from engine.snapshots import SnapshotLimits, SnapshotStore

Make = Callable[[dict[str, str | bytes]], Path]
MB = 1024 * 1024


def big_project(make: Make) -> Path:
    return make({
        "train.py": "print('train')\n",
        "data/train.bin": b"\0" * (3 * MB),
        "data/val.bin": b"\1" * (2 * MB),
        "model.ckpt": b"\2" * (MB + MB // 2),
        "notes/big.txt": "n" * (MB // 2),
        "notes/small.txt": "s" * 1000,
        "utils/helpers.py": "h" * 100,
    })


def test_size_limit_error_names_folder_totals_largest_files_and_what_to_do(
    store: SnapshotStore, project: Make, listing: Callable[[SnapshotStore], set[str]]
) -> None:
    folder = big_project(project)
    with pytest.raises(SnapshotTooLarge) as caught:
        store.take(folder, SnapshotLimits(max_bytes=4 * MB, max_files=2000))
    err = caught.value
    assert str(folder) in err.message
    assert "7 files, 7.0 MB" in err.message
    assert "limit: 2,000 files, 4.0 MB" in err.message
    largest = "data/train.bin (3.0 MB), data/val.bin (2.0 MB), model.ckpt (1.5 MB), notes/big.txt (512.0 KB), "
    assert largest + "notes/small.txt (1000 B)" in err.message
    assert err.hint is not None
    assert "`/data/`" in err.hint and "`/model.ckpt`" in err.hint
    assert f"create {folder}/.amlignore" in err.hint
    assert "TRAINYARD_SNAPSHOT_MAX_MB=100" in err.hint
    assert "MAX_FILES" not in err.hint  # the file count is fine: do not suggest raising it
    assert listing(store) == set(), "nothing may be stored when the limit is exceeded"


def test_following_the_hint_makes_the_snapshot_fit(store: SnapshotStore, project: Make) -> None:
    folder = big_project(project)
    limits = SnapshotLimits(max_bytes=4 * MB, max_files=2000)
    with pytest.raises(SnapshotTooLarge) as caught:
        store.take(folder, limits)
    hint = caught.value.hint or ""
    patterns = [part.split("`")[0] for part in hint.split("`")[1::2]]
    (folder / ".amlignore").write_text("\n".join(patterns) + "\n")
    manifest = store.take(folder, limits)
    assert manifest.total_bytes <= limits.max_bytes
    assert "data/" in manifest.ignored


def test_file_count_limit_points_at_the_folder_with_most_files(store: SnapshotStore, project: Make) -> None:
    files: dict[str, str | bytes] = {".gitignore": "*.log\n", "train.py": "x"}
    files.update({f"samples/s{i:03d}.txt": "x" for i in range(40)})
    files.update({f"src/m{i}.py": "x" for i in range(5)})
    folder = project(files)
    with pytest.raises(SnapshotTooLarge) as caught:
        store.take(folder, SnapshotLimits(max_bytes=300 * MB, max_files=20))
    err = caught.value
    assert "47 files" in err.message and "limit: 20 files" in err.message
    hint = err.hint or ""
    assert "`/samples/`" in hint
    assert f"to {folder}/.gitignore" in hint and ".amlignore" in hint  # edit the file in effect
    assert "TRAINYARD_SNAPSHOT_MAX_FILES=1000" in hint
    assert "MAX_MB" not in hint


def test_well_known_heavy_folders_are_suggested_first(store: SnapshotStore, project: Make) -> None:
    files: dict[str, str | bytes] = {".amlignore": "*.log\n", "train.py": "x"}
    files.update({f"src/.venv/lib/site-packages/p{i}.py": "x" for i in range(30)})
    files.update({f"src/m{i}.py": "x" for i in range(8)})
    folder = project(files)
    with pytest.raises(SnapshotTooLarge) as caught:
        store.take(folder, SnapshotLimits(max_bytes=300 * MB, max_files=20))
    hint = caught.value.hint or ""
    assert hint.index("`.venv/`") < hint.index("TRAINYARD_SNAPSHOT_MAX_FILES")
    assert f"to {folder}/.amlignore" in hint


def test_limit_counts_only_files_that_would_be_stored(store: SnapshotStore, project: Make) -> None:
    files: dict[str, str | bytes] = {".gitignore": "cache/\n", "train.py": "x"}
    files.update({f"cache/c{i}.bin": "x" for i in range(50)})
    manifest = store.take(project(files), SnapshotLimits(max_bytes=MB, max_files=5))
    assert manifest.file_count == 2


def test_preview_reports_the_same_error_and_stores_nothing(
    store: SnapshotStore, project: Make, listing: Callable[[SnapshotStore], set[str]]
) -> None:
    folder = big_project(project)
    limits = SnapshotLimits(max_bytes=4 * MB, max_files=2000)
    preview = store.preview(folder, limits)
    with pytest.raises(SnapshotTooLarge) as caught:
        store.take(folder, limits)
    assert preview.over_limit
    assert preview.over_limit_error == caught.value.message
    assert preview.over_limit_hint == caught.value.hint
    assert preview.file_count == 7
    assert preview.total_bytes == 7 * MB + 1000 + 100 + len("print('train')\n")
    assert preview.largest[0] == ("data/train.bin", 3 * MB)
    assert listing(store) == set()


def test_limits_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINYARD_SNAPSHOT_MAX_MB", raising=False)
    monkeypatch.delenv("TRAINYARD_SNAPSHOT_MAX_FILES", raising=False)
    assert SnapshotLimits.from_env() == SnapshotLimits(max_bytes=300 * MB, max_files=2000)
    monkeypatch.setenv("TRAINYARD_SNAPSHOT_MAX_MB", "1.5")
    monkeypatch.setenv("TRAINYARD_SNAPSHOT_MAX_FILES", "5000")
    assert SnapshotLimits.from_env() == SnapshotLimits(max_bytes=int(1.5 * MB), max_files=5000)


@pytest.mark.parametrize(("var", "value"), [
    ("TRAINYARD_SNAPSHOT_MAX_MB", "lots"),
    ("TRAINYARD_SNAPSHOT_MAX_MB", "-1"),
    ("TRAINYARD_SNAPSHOT_MAX_FILES", "2.5"),
    ("TRAINYARD_SNAPSHOT_MAX_FILES", "0"),
])
def test_malformed_limit_variable_is_an_invalid_spec(
    monkeypatch: pytest.MonkeyPatch, store: SnapshotStore, project: Make, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(InvalidSpec) as caught:
        store.take(project({"a.py": "x"}))
    assert var in caught.value.message and repr(value) in caught.value.message
    assert caught.value.hint and f"unset {var}" in caught.value.hint
