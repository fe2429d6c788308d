"""Git state recorded with a snapshot, on real repositories made with the git command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.snapshots import GitInfo, SnapshotStore


def git(repo: Path, *args: str) -> str:
    res = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false",
         *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )
    return res.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("print('train')\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_clean_repository(store: SnapshotStore, repo: Path) -> None:
    manifest = store.take(repo)
    assert manifest.git == GitInfo(
        repository=str(repo.resolve()), branch="main", commit=git(repo, "rev-parse", "HEAD"), dirty=False,
        remote=None,
    )


def test_modified_and_untracked_files_make_it_dirty(store: SnapshotStore, repo: Path) -> None:
    (repo / "src" / "train.py").write_text("print('changed')\n")
    modified = store.take(repo).git
    assert modified is not None and modified.dirty
    git(repo, "checkout", "--", "src/train.py")
    (repo / "new.py").write_text("x")
    untracked = store.take(repo).git
    assert untracked is not None and untracked.dirty
    (repo / "new.py").unlink()
    (repo / "debug.log").write_text("ignored files do not count")
    clean = store.take(repo).git
    assert clean is not None and not clean.dirty


def test_subfolder_branch_and_remote_without_credentials(store: SnapshotStore, repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature/lr")
    git(repo, "remote", "add", "origin", "https://alice:ghp_secret@github.com/alice/proj.git")
    info = store.take(repo / "src").git
    assert info is not None
    assert info.repository == str(repo.resolve())
    assert info.branch == "feature/lr"
    assert info.remote == "https://github.com/alice/proj.git"
    assert info.to_dict() == {"branch": "feature/lr", "commit": git(repo, "rev-parse", "HEAD"), "dirty": False,
                              "remote": "https://github.com/alice/proj.git", "repository": str(repo.resolve())}


def test_detached_head_and_empty_repository(store: SnapshotStore, repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    detached = store.take(repo).git
    assert detached is not None and detached.branch is None and detached.commit == commit

    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    (empty / "a.py").write_text("x")
    fresh = store.take(empty).git
    assert fresh is not None
    assert (fresh.branch, fresh.commit, fresh.dirty) == ("main", None, True)


def test_a_commit_changes_the_snapshot_id_but_stores_no_new_blob(store: SnapshotStore, repo: Path) -> None:
    (repo / "src" / "train.py").write_text("print('v2')\n")
    dirty = store.take(repo)
    blobs = set((store.root / "blobs").rglob("*"))
    git(repo, "commit", "-q", "-am", "v2")
    committed = store.take(repo)
    assert committed.id != dirty.id  # the manifest records the commit
    assert [f.sha256 for f in committed.files] == [f.sha256 for f in dirty.files]
    assert set((store.root / "blobs").rglob("*")) == blobs


def test_outside_a_repository_or_without_git_there_is_no_git_info(
    store: SnapshotStore, repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("x")
    assert store.take(plain).git is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    manifest = store.take(repo)
    assert manifest.git is None
    assert [f.path for f in manifest.files] == [".gitignore", "src/train.py"]
