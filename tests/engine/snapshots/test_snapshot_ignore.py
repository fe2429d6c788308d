"""Which files a snapshot takes: .amlignore/.gitignore rules, nested ignore files, pruning."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.snapshots import SnapshotStore

Make = Callable[[dict[str, str | bytes]], Path]


def paths(store: SnapshotStore, folder: Path) -> set[str]:
    return {f.path for f in store.take(folder, on_warning=lambda _w: None).files}


def test_amlignore_replaces_gitignore(store: SnapshotStore, project: Make) -> None:
    folder = project({
        ".gitignore": "*.txt\n",
        ".amlignore": "*.log\n",
        "notes.txt": "kept: only .gitignore names it",
        "train.log": "left out",
        "train.py": "print('hi')",
    })
    manifest = store.take(folder)
    assert {f.path for f in manifest.files} == {".gitignore", ".amlignore", "notes.txt", "train.py"}
    assert manifest.ignored == ("train.log",)


def test_gitignore_applies_without_amlignore(store: SnapshotStore, project: Make) -> None:
    folder = project({".gitignore": "*.txt\n", "notes.txt": "x", "train.py": "y"})
    assert paths(store, folder) == {".gitignore", "train.py"}


def test_negation_reincludes_a_file_but_not_inside_an_ignored_folder(
    store: SnapshotStore, project: Make
) -> None:
    folder = project({
        ".gitignore": "*.log\n!keep.log\nbuild/\n!build/wanted.txt\n",
        "a.log": "x",
        "keep.log": "x",
        "sub/keep.log": "x",
        "sub/b.log": "x",
        "build/wanted.txt": "git cannot re-include a file whose folder is excluded",
    })
    assert paths(store, folder) == {".gitignore", "keep.log", "sub/keep.log"}


def test_nested_gitignore_is_relative_to_its_folder(store: SnapshotStore, project: Make) -> None:
    folder = project({
        ".gitignore": "*.log\n",
        "table.csv": "kept: the *.csv rule lives in sub/",
        "local.txt": "kept: /local.txt is anchored to sub/",
        "sub/.gitignore": "*.csv\n/local.txt\n!important.log\n",
        "sub/table.csv": "x",
        "sub/local.txt": "x",
        "sub/deeper/local.txt": "kept: anchored pattern matches sub/local.txt only",
        "sub/deeper/table.csv": "x",
        "sub/important.log": "kept: the deeper file overrides the root's *.log",
        "sub/other.log": "x",
    })
    assert paths(store, folder) == {
        ".gitignore", "table.csv", "local.txt", "sub/.gitignore", "sub/deeper/local.txt", "sub/important.log",
    }


def test_nested_amlignore_replaces_that_folders_gitignore_only(store: SnapshotStore, project: Make) -> None:
    folder = project({
        ".gitignore": "*.tmp\n",
        "sub/.gitignore": "*.py\n",
        "sub/.amlignore": "*.md\n",
        "sub/model.py": "kept: sub/.gitignore is replaced by sub/.amlignore",
        "sub/README.md": "x",
        "sub/scratch.tmp": "x: the root .gitignore still applies in sub/",
        "other/notes.md": "kept: sub/.amlignore does not reach other/",
    })
    assert paths(store, folder) == {".gitignore", "sub/.gitignore", "sub/.amlignore", "sub/model.py",
                                    "other/notes.md"}


def test_directory_pattern_matches_folders_at_any_depth_not_files(store: SnapshotStore, project: Make) -> None:
    folder = project({
        ".gitignore": "data/\n",
        "data/train.csv": "x",
        "src/data/cache.bin": "x",
        "src/data.py": "kept",
        "notes/data": "kept: a file called data is not a folder",
    })
    manifest = store.take(folder)
    assert {f.path for f in manifest.files} == {".gitignore", "src/data.py", "notes/data"}
    assert manifest.ignored == ("data/", "src/data/")


def test_anchored_pattern_matches_only_at_the_top(store: SnapshotStore, project: Make) -> None:
    folder = project({
        ".gitignore": "/build\n/docs/*.html\n",
        "build/out.o": "x",
        "src/build/keep.py": "kept",
        "docs/index.html": "x",
        "docs/api/index.html": "kept: * does not cross /",
    })
    assert paths(store, folder) == {".gitignore", "src/build/keep.py", "docs/api/index.html"}


def test_double_star_and_character_classes(store: SnapshotStore, project: Make) -> None:
    folder = project({
        ".gitignore": "logs/**/debug\nckpt[0-9].pt\n",
        "logs/debug": "x",
        "logs/a/b/debug": "x",
        "ckpt1.pt": "x",
        "ckptA.pt": "kept",
        "debug": "kept",
    })
    assert paths(store, folder) == {".gitignore", "ckptA.pt", "debug"}


def test_ignored_folders_are_not_walked(store: SnapshotStore, project: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = project({
        ".gitignore": "node_modules/\n",
        "node_modules/a/b/c.js": "x",
        "node_modules/d/e.js": "x",
        "src/main.py": "x",
    })
    visited: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str) -> Iterator[os.DirEntry[str]]:
        visited.append(os.path.relpath(path, folder))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    manifest = store.take(folder)
    monkeypatch.undo()
    assert sorted(visited) == [".", "src"]
    assert manifest.ignored == ("node_modules/",)
    assert manifest.ignored_count == 1


def test_git_and_trainyard_folders_are_always_left_out(store: SnapshotStore, project: Make) -> None:
    folder = project({
        ".git/config": "[core]",
        ".trainyard/snapshots/blob": "x",
        "sub/.git": "gitdir: ../.git/modules/sub",
        "sub/code.py": "x",
        "train.py": "x",
    })
    manifest = store.take(folder)
    assert {f.path for f in manifest.files} == {"sub/code.py", "train.py"}
    assert manifest.ignored == ()  # not "ignored by rules": they are never part of a snapshot


def test_store_inside_the_source_folder_is_not_snapshotted(tmp_path: Path, project: Make) -> None:
    folder = project({"train.py": "x"})
    inner = SnapshotStore(folder / "my-workspace" / "snapshots")
    first = inner.take(folder)
    second = inner.take(folder)
    assert {f.path for f in second.files} == {"train.py"}
    assert second.id == first.id


def test_invalid_pattern_is_skipped_with_a_warning(store: SnapshotStore, project: Make) -> None:
    folder = project({".gitignore": "*.log\nfoo\\\n", "a.log": "x", "a.py": "x"})
    warnings: list[str] = []
    manifest = store.take(folder, on_warning=warnings.append)
    assert {f.path for f in manifest.files} == {".gitignore", "a.py"}
    assert any(".gitignore:2" in w and "invalid pattern" in w for w in warnings), warnings


def test_ignored_list_is_capped_but_counted(store: SnapshotStore, project: Make) -> None:
    files: dict[str, str | bytes] = {".gitignore": "*.log\n", "a.py": "x"}
    files.update({f"logs{i // 500}/run{i:04d}.log": "x" for i in range(1200)})
    manifest = store.take(project(files))
    assert manifest.ignored_count == 1200
    assert len(manifest.ignored) == 1000
    assert manifest.ignored == tuple(sorted(manifest.ignored))
