"""Copy a folder that a running script writes (./logs) into the run folder, incrementally."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class FolderMirror:
    """Mirrors `src` into `dst`: appended bytes are copied as they come, rewritten files whole."""

    def __init__(self, src: Path, dst: Path) -> None:
        self.src = src
        self.dst = dst
        self._seen: dict[str, tuple[int, int]] = {}  # rel path -> (size copied, mtime_ns)

    def sync(self) -> int:
        """Copy what changed since the last call; returns the number of files touched."""
        if not self.src.is_dir():
            return 0
        touched = 0
        for dirpath, _dirs, names in os.walk(self.src):
            for name in names:
                path = Path(dirpath, name)
                rel = str(path.relative_to(self.src))
                try:
                    st = path.stat()
                except OSError:
                    continue
                old = self._seen.get(rel)
                if old == (st.st_size, st.st_mtime_ns):
                    continue
                target = self.dst / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if old and st.st_size >= old[0] and target.exists():
                        with open(path, "rb") as f, open(target, "ab") as out:
                            f.seek(old[0])
                            chunk = f.read(st.st_size - old[0])
                            out.write(chunk)
                        size = old[0] + len(chunk)
                    else:
                        shutil.copyfile(path, target)
                        size = st.st_size
                except OSError:
                    continue
                self._seen[rel] = (size, st.st_mtime_ns)
                touched += 1
        return touched
