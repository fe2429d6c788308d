"""Content-addressed uploads to an SSH host: only the file contents the host lacks travel.

The host keeps a blob store (``CACHE/blobs/ab/cdef...``, sha256 names, as the local snapshot
store) and the manifests of the trees it was sent (``CACHE/manifests/<id>.json``). Sending a
tree takes two round trips:

1. ask the host which of the tree's blobs it lacks, and which of the candidate base manifests
   (the trees last sent to it from the same source, remembered here) it holds;
2. send one zlib stream: a header (the tree as a change list against a base the host holds, or
   whole), then the lacking blobs; the host checks each blob's hash, rebuilds the manifest,
   checks its id and materializes the tree (copies, or hard links for read-only inputs).

So a resubmit with one changed file sends that file, its path and hash, and a few hundred
bytes. Hashes come from the snapshot's manifest (engine.snapshots) when the tree is a snapshot;
other folders are hashed here with the snapshot store's stat cache, so an unchanged input is not
read again. The host side is hostblobs.py, sent once to CACHE/bin/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.compute.ssh.connection import IO_TIMEOUT
from engine.errors import LaunchFailed
from engine.snapshots import SnapshotStore, statcache
from engine.snapshots.blobs import write_atomic

HELPER = Path(__file__).with_name("hostblobs.py")
HELPER_NAME = "hostblobs-" + hashlib.sha256(HELPER.read_bytes()).hexdigest()[:12] + ".py"
BASES_KEPT = 3  # trees remembered per source and host, newest first
CHUNK = 4 << 20
STREAM_TIMEOUT = 300.0  # one write may wait while the host copies a large tree into place

Entry = tuple[str, str, int, bool]  # path, sha256, size, executable


def tree_id(entries: list[Entry]) -> str:
    """The manifest id both sides compute: sha256 of the sorted entries' compact JSON."""
    body = json.dumps(sorted([list(e) for e in entries]), separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest()


@dataclass
class Tree:
    """Files to send: their entries and where each content is here (a file, or bytes)."""

    entries: list[Entry] = field(default_factory=list)
    content: dict[str, Path | bytes] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return tree_id(self.entries)

    def add_bytes(self, path: str, data: bytes, executable: bool = False) -> None:
        sha = hashlib.sha256(data).hexdigest()
        self.entries.append((path, sha, len(data), executable))
        self.content.setdefault(sha, data)

    def add_snapshot(self, store: SnapshotStore, snapshot_id: str, prefix: str = "") -> None:
        """The files of a stored snapshot, by the hashes its manifest already holds."""
        for f in store.load(snapshot_id).files:
            self.entries.append((prefix + f.path, f.sha256, f.size, f.executable))
            self.content.setdefault(f.sha256, Path(store.blobs.path(f.sha256)))

    def add_path(self, local: Path, prefix: str, cache_dir: Path | None = None) -> None:
        """A file (as `prefix`) or a folder's files (under `prefix/`), hashed here; with
        `cache_dir`, hashes of files unchanged since the last time (size, mtime, inode) are reused."""
        local = local.absolute()
        if local.is_file():
            files = [(local, prefix)]
        elif local.is_dir():
            files = [(p, f"{prefix}/{rel}" if prefix else rel) for p, rel in _walk(local)]
        else:
            raise LaunchFailed(f"{local} does not exist (or is not a file or folder)", "check the path")
        cache_file = statcache.cache_path(cache_dir, str(local)) if cache_dir else None
        cached = statcache.load(cache_file, str(local)) if cache_file else {}
        trusted = statcache.trust_test(time.time_ns())
        fresh: statcache.Entries = {}
        for path, rel in files:
            st = path.stat()
            key = str(path)
            hit = cached.get(key)
            if hit and hit[:3] == [st.st_size, st.st_mtime_ns, st.st_ino]:
                sha = str(hit[3])
            else:
                sha = _hash_file(path)
            if trusted(st.st_mtime_ns):
                fresh[key] = [st.st_size, st.st_mtime_ns, st.st_ino, sha]
            self.entries.append((rel, sha, st.st_size, bool(st.st_mode & 0o111)))
            self.content.setdefault(sha, path)
        if cache_file is not None:
            statcache.save(cache_file, str(local), fresh)


@dataclass(frozen=True)
class UploadResult:
    """What one upload cost: payload bytes written to the SSH channels (commands, the query,
    the compressed stream, the host helper when it was sent), and what they carried."""

    bytes_sent: int
    blobs_sent: int
    blob_bytes: int  # uncompressed size of the blobs sent
    files: int
    base: str | None  # the manifest the change list was made against

    def plus(self, other: UploadResult, count_files: bool = True) -> UploadResult:
        """This upload and `other` together (its files too unless `count_files` is False: the
        same files sent to another host); the base stays this one's."""
        return UploadResult(
            self.bytes_sent + other.bytes_sent,
            self.blobs_sent + other.blobs_sent,
            self.blob_bytes + other.blob_bytes,
            self.files + (other.files if count_files else 0),
            self.base,
        )


class HostRecords:
    """What this machine sent to one host's cache (so that a resubmit can send only changes):
    per source key the last trees' ids, and their entries (``folder/manifests``)."""

    def __init__(self, folder: Path, host_id: str) -> None:
        self.folder = folder
        self.file = folder / "hosts" / (hashlib.sha256(host_id.encode()).hexdigest()[:24] + ".json")

    def _all(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def bases(self, key: str) -> list[str]:
        return [i for i in self._all().get(key, []) if (self.folder / "manifests" / f"{i}.json").is_file()]

    def entries(self, tree: str) -> list[Entry]:
        data = json.loads((self.folder / "manifests" / f"{tree}.json").read_text())
        return [(str(p), str(s), int(n), bool(x)) for p, s, n, x in data]

    def remember(self, key: str, tree: Tree) -> None:
        write_atomic(str(self.folder / "manifests" / f"{tree.id}.json"), json.dumps(tree.entries).encode())
        data = self._all()
        data[key] = [tree.id, *[i for i in data.get(key, []) if i != tree.id]][:BASES_KEPT]
        write_atomic(str(self.file), json.dumps(data).encode())


class BlobSender:
    """Sends trees to one host's cache over a connected paramiko client."""

    def __init__(
        self, client: Any, cache_root: str, python: str, records: HostRecords | None, where: str
    ) -> None:
        self.client = client
        self.root = cache_root  # absolute on the host
        self.python = python
        self.records = records
        self.where = where  # user@host:port, for messages
        self.sent = 0
        self._helper_ready = False

    def send(
        self, tree: Tree, dest: str, key: str | None = None, link: bool = False, mkdirs: tuple[str, ...] = ()
    ) -> UploadResult:
        """Make `dest` (absolute on the host) hold `tree`, sending only what the host lacks.
        `key` names the source (e.g. its local path), so that its next tree goes as a change list."""
        start = self.sent
        self._ensure_helper()
        new = tree.id
        bases = self.records.bases(key) if self.records is not None and key else []
        base_entries = self.records.entries(bases[0]) if bases and self.records is not None else []
        known = {e[1] for e in base_entries}
        asked = sorted({e[1] for e in tree.entries} - known)
        have, missing = self._query([new, *bases], asked)
        base = new if new in have else next((b for b in bases if b in have), None)
        if base == new:  # the host has this very tree: nothing to send but the header
            missing = []
        elif bases and base != bases[0]:
            # The host lost the newest base (pruned): ask again, against the base it still has.
            base_entries = self.records.entries(base) if base is not None and self.records is not None else []
            asked = sorted({e[1] for e in tree.entries} - {e[1] for e in base_entries})
            _have, missing = self._query([], asked)
        changed: list[Entry] = list(tree.entries)
        removed: list[str] = []
        if base == new:
            changed = []
        elif base is not None:
            old = {e[0]: e for e in base_entries}
            changed = [e for e in tree.entries if old.get(e[0]) != e]
            paths = {e[0] for e in tree.entries}
            removed = [p for p in old if p not in paths]
        head = {
            "id": new,
            "base": base,
            "entries": changed,
            "removed": removed,
            "dest": dest,
            "mkdirs": list(mkdirs),
            "link": link,
        }
        blob_bytes = self._put(head, tree, missing)
        if self.records is not None and key:
            self.records.remember(key, tree)
        return UploadResult(self.sent - start, len(missing), blob_bytes, len(tree.entries), base)

    # ---------------------------------------------------------------- the two round trips
    def _helper_path(self) -> str:
        return f"{self.root}/bin/{HELPER_NAME}"

    def _command(self, op: str) -> str:
        return f"{shlex.quote(self.python)} {shlex.quote(self._helper_path())} {op} {shlex.quote(self.root)}"

    def _ensure_helper(self) -> None:
        """hostblobs.py on the host, once (its name carries its hash, so a new version is sent anew)."""
        if self._helper_ready:
            return
        sftp = self.client.open_sftp()
        try:
            path = self._helper_path()
            try:
                sftp.stat(path)
            except FileNotFoundError:
                self._run(f"mkdir -p {shlex.quote(self.root)}/bin", b"")
                data = HELPER.read_bytes()
                tmp = f"{path}.tmp-{os.getpid()}"
                with sftp.open(tmp, "wb") as f:
                    f.write(data)
                sftp.posix_rename(tmp, path)
                self.sent += len(data)
        finally:
            sftp.close()
        self._helper_ready = True

    def _query(self, manifests: list[str], blobs: list[str]) -> tuple[set[str], list[str]]:
        body = json.dumps({"manifests": manifests, "blobs": blobs}, separators=(",", ":")).encode()
        out = self._run(self._command("query"), body)
        try:
            answer = json.loads(out)
            return set(answer["manifests"]), list(answer["missing"])
        except (ValueError, KeyError, TypeError):
            raise LaunchFailed(
                f"the blob store on {self.where} gave an answer that is not JSON: {out[:200]!r}",
                "check that the host's python3 runs (and its login prints nothing)",
            ) from None

    def _put(self, head: dict[str, Any], tree: Tree, missing: list[str]) -> int:
        blob_bytes = 0

        def stream() -> Iterator[bytes]:
            nonlocal blob_bytes
            z = zlib.compressobj(1)
            yield z.compress(json.dumps(head, separators=(",", ":")).encode() + b"\n")
            for sha in missing:
                src = tree.content[sha]
                if isinstance(src, bytes):
                    yield z.compress(f"{sha} {len(src)}\n".encode()) + z.compress(src)
                    blob_bytes += len(src)
                    continue
                size = src.stat().st_size
                yield z.compress(f"{sha} {size}\n".encode())
                with open(src, "rb") as f:
                    left = size
                    while left:
                        chunk = f.read(min(CHUNK, left))
                        if not chunk:
                            raise LaunchFailed(f"{src} shrank while it was being uploaded", "submit again")
                        left -= len(chunk)
                        yield z.compress(chunk)
                blob_bytes += size
            yield z.compress(b"end\n") + z.flush()

        self._run(self._command("put"), stream())
        return blob_bytes

    def _run(self, command: str, data: bytes | Iterator[bytes]) -> str:
        """`command` on the host with `data` on its stdin; its stdout (LaunchFailed with its stderr)."""
        chan = self.client.get_transport().open_session(timeout=IO_TIMEOUT)
        try:
            chan.settimeout(STREAM_TIMEOUT)
            chan.exec_command(command)
            self.sent += len(command)
            broken: OSError | None = None
            try:
                for chunk in [data] if isinstance(data, bytes) else data:
                    if chunk:
                        chan.sendall(chunk)
                        self.sent += len(chunk)
                chan.shutdown_write()
            except OSError as exc:  # the host ended the command early: its stderr says why
                broken = exc
            out = chan.makefile("rb").read().decode("utf-8", "replace")
            err = chan.makefile_stderr("rb").read().decode("utf-8", "replace").strip()
            code = chan.recv_exit_status()
        finally:
            chan.close()
        if code != 0 or broken is not None:
            raise LaunchFailed(
                f"uploading to {self.where} ({self.root}) failed: {err or broken or f'exit code {code}'}",
                "check that the host's cache folder is writable and has space "
                "(`cache_dir:` in the compute YAML; `df -h` there)",
            )
        return out


def _walk(folder: Path) -> list[tuple[Path, str]]:
    """The regular files under `folder` (links followed to files), with POSIX relative paths;
    __pycache__ left out."""
    found = []
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = Path(dirpath) / name
            if path.is_file():
                found.append((path, path.relative_to(folder).as_posix()))
    return found


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["BlobSender", "HostRecords", "Tree", "UploadResult", "tree_id"]
