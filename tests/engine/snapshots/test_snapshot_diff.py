"""Comparing two snapshots: which files changed, and their unified diffs."""

from __future__ import annotations

from pathlib import Path

from engine.snapshots import SnapshotStore
from engine.snapshots.diff import diff_snapshots


def _take(store: SnapshotStore, root: Path, files: dict[str, str | bytes]) -> str:
    root.mkdir(parents=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return store.take(root).id


def test_diff_lists_added_removed_and_changed_files_with_unified_diffs(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "store")
    old = _take(store, tmp_path / "a", {
        "train.py": "import os\nlr = 0.1\nprint(lr)\n",
        "same.py": "x = 1\n",
        "old.py": "gone = True\n",
        "data.bin": b"\x00\x01\x02",
        "tail.txt": "no newline",
    })
    new = _take(store, tmp_path / "b", {
        "train.py": "import os\nlr = 0.01\nprint(lr)\n",
        "same.py": "x = 1\n",
        "pkg/new.py": "def f():\n    return 2\n",
        "data.bin": b"\x00\x01\x03",
        "tail.txt": "no newline!",
    })
    diff = diff_snapshots(store, old, new)
    assert [(c.path, c.change) for c in diff.changes] == [
        ("data.bin", "changed"), ("old.py", "removed"), ("pkg/new.py", "added"),
        ("tail.txt", "changed"), ("train.py", "changed"),
    ]
    assert diff.unchanged == 1
    train = diff.get("train.py")
    assert train is not None and (train.added_lines, train.removed_lines) == (1, 1)
    assert train.diff == ("--- a/train.py\n+++ b/train.py\n@@ -1,3 +1,3 @@\n import os\n"
                          "-lr = 0.1\n+lr = 0.01\n print(lr)\n")
    assert diff.get("pkg/new.py").diff == "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+def f():\n+    return 2\n"
    assert diff.get("old.py").diff.startswith("--- a/old.py\n+++ /dev/null\n")
    assert diff.get("data.bin").binary and diff.get("data.bin").diff == "Binary file changed.\n"
    assert "-no newline\n\\ No newline at end of file\n+no newline!\n" in diff.get("tail.txt").diff
    assert diff_snapshots(store, old, old).changes == ()
