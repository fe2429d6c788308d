"""Bringing a remote run's files here while it runs: by byte offset, what grew since the last
pull (the driver log, the record files in REMOTE/tracking, REMOTE/wd/logs) is appended to the
run folder, where the usual ingestor and log mirror take it. Appending by offset means a
reconnect neither loses nor duplicates a byte. At the end, ./outputs comes back as a tar stream."""

from __future__ import annotations

import json
import os
import shlex
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.compute.ssh.connection import IO_TIMEOUT
from engine.runtime.files import RunFiles
from engine.runtime.stderrmarks import is_driver_log, mark_of, marks_lines, marks_name, marks_path, translate
from engine.snapshots.blobs import write_atomic

CHUNK = 8 << 20
STATE = "ssh-pull.json"


class Puller:
    """What of REMOTE has been pulled into `files` (its offsets), over the SFTP channel `sftp()`."""

    def __init__(
        self,
        files: RunFiles,
        remote: Callable[[], str],
        sftp: Callable[[], Any],
        log: Callable[[str], None],
        driver_log: Path | None = None,
        logs: bool = True,
        state: str = STATE,
    ) -> None:
        self.files = files
        self._remote = remote
        self._sftp = sftp
        self.log = log
        self.offsets: dict[str, int] = {}  # remote rel path -> bytes pulled
        self.fetched: set[str] = set()  # whole files (tracking/files/*) already pulled
        # Where each pulled piece of a driver log landed here ([remote, local, length]), to put the
        # log's stderr marks at the copy's offsets (the copy may hold lines of Trainyard's own).
        self.segments: dict[str, list[list[int]]] = {}
        self.state = files.root / state  # the offsets, kept for a supervisor that reattaches
        self.driver_log = driver_log or files.driver_log  # where the remote driver.log goes
        self.logs = logs  # pull wd/logs (one process of a distributed run does)
        self.also: dict[str, Path] = {}  # more remote files (REMOTE/rel -> local) to pull by offset

    def load(self) -> None:
        """The offsets a supervisor before this one reached (reattaching after it died). An append
        it had begun (the pending one) counts when the local file holds all of it, and is cut off
        when it holds part of it: so nothing is lost or appended twice."""
        try:
            data = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return
        self.offsets = {str(k): int(v) for k, v in data.get("offsets", {}).items()}
        self.fetched = set(data.get("fetched", []))
        self.segments = {str(k): [list(map(int, p)) for p in v] for k, v in data.get("segments", {}).items()}
        pending = data.get("pending")
        if pending:
            rel, local, remote_from, local_from, n = pending
            path = Path(local)
            size = path.stat().st_size if path.exists() else 0
            if size >= local_from + n:
                self.offsets[rel] = remote_from + n
                self._note_segment(rel, remote_from, local_from, n)
            else:
                if size > local_from:
                    os.truncate(path, local_from)
                self.offsets[rel] = remote_from
        self._save(None)

    def _save(self, pending: list[Any] | None) -> None:
        data = {"offsets": self.offsets, "fetched": sorted(self.fetched), "pending": pending,
                "segments": self.segments}
        write_atomic(str(self.state), json.dumps(data).encode())

    @property
    def remote(self) -> str:
        return self._remote()

    @property
    def sftp(self) -> Any:
        return self._sftp()

    def pull(self) -> None:
        """Append what grew on the remote to the run folder: record files first, then the files
        their records name (complete before their record is written), then the logs."""
        self._pull_grown("driver.log", self.driver_log)
        for rel, local in self.also.items():
            self._pull_grown(rel, local)
        entries = self._listdir(f"{self.remote}/tracking")
        for attr in entries:
            if stat.S_ISREG(attr.st_mode or 0):
                self._pull_grown(
                    f"tracking/{attr.filename}", self.files.tracking / attr.filename, attr.st_size
                )
        for attr in entries:
            if stat.S_ISDIR(attr.st_mode or 0):
                self._pull_whole_files(f"tracking/{attr.filename}")
        for rel, size in self._walk("wd/logs") if self.logs else []:
            self._pull_grown(rel, self.files.root / rel, size, rewritable=True)

    def pull_file(self, rel: str, local: Path) -> None:
        """Append what grew of one more remote file (REMOTE/rel) to `local`, by offset."""
        self._pull_grown(rel, local)

    def _listdir(self, path: str) -> list[Any]:
        try:
            return list(self.sftp.listdir_attr(path))
        except FileNotFoundError:
            return []

    def _walk(self, rel: str) -> list[tuple[str, int]]:
        found = []
        for attr in self._listdir(f"{self.remote}/{rel}"):
            child = f"{rel}/{attr.filename}"
            if stat.S_ISLNK(attr.st_mode or 0):  # a log file linked in: follow it to what it names
                try:
                    attr = self.sftp.stat(f"{self.remote}/{child}")
                except OSError:
                    continue  # a dangling link
            if stat.S_ISDIR(attr.st_mode or 0):
                found.extend(self._walk(child))
            elif stat.S_ISREG(attr.st_mode or 0):
                found.append((child, attr.st_size or 0))
        return found

    def _pull_grown(self, rel: str, local: Path, size: int | None = None, rewritable: bool = False) -> None:
        offset = self.offsets.get(rel, 0)
        if size is None:
            try:
                size = self.sftp.stat(f"{self.remote}/{rel}").st_size or 0
            except FileNotFoundError:
                return
        if rewritable and size < offset:  # a log the script rewrote: take it again
            offset = 0
            local.unlink(missing_ok=True)
            self.offsets[rel] = 0
            self._save(None)
        if size <= offset:
            return
        local.parent.mkdir(parents=True, exist_ok=True)
        with self.sftp.open(f"{self.remote}/{rel}", "rb") as f:
            f.seek(offset)
            while offset < size:
                # Read a whole chunk before appending it: a connection lost mid-read appends nothing.
                data = f.read(min(CHUNK, size - offset))
                if not data:
                    break
                with open(local, "ab") as out:
                    at = out.tell()
                    self._save([rel, str(local), offset, at, len(data)])
                    out.write(data)
                self._note_segment(rel, offset, at, len(data))
                offset += len(data)
                self.offsets[rel] = offset
                self._save(None)
        if self._is_marked(rel):
            self._pull_marks(rel, local)

    def _is_marked(self, rel: str) -> bool:
        return is_driver_log(rel.rsplit("/", 1)[-1])

    def _note_segment(self, rel: str, remote: int, local: int, length: int) -> None:
        if not self._is_marked(rel):
            return
        pieces = self.segments.setdefault(rel, [])
        if pieces and pieces[-1][0] + pieces[-1][2] == remote and pieces[-1][1] + pieces[-1][2] == local:
            pieces[-1][2] += length  # the usual case: straight on from the last piece
        else:
            pieces.append([remote, local, length])

    def _pull_marks(self, rel: str, local: Path) -> None:
        """The stderr marks of driver log `rel` (engine.runtime.stderrmarks), at the copy's offsets.
        Only marks of bytes already copied are taken; a mark taken twice (a supervisor that died
        between the two writes) merges with itself, so nothing here needs the pending protocol."""
        head, slash, name = rel.rpartition("/")
        mrel = head + slash + marks_name(name)
        start = self.offsets.get(mrel, 0)
        try:
            with self.sftp.open(f"{self.remote}/{mrel}", "rb") as f:
                f.seek(start)
                data = f.read(CHUNK)
        except FileNotFoundError:
            return
        copied = self.offsets.get(rel, 0)
        taken: list[tuple[int, int]] = []
        used = 0
        for line in data[:data.rfind(b"\n") + 1].split(b"\n")[:-1]:  # whole lines only
            mark = mark_of(line)
            if mark is not None and mark[1] > copied:
                break  # its bytes are not here yet: next pull
            taken += [mark] if mark is not None else []
            used += len(line) + 1
        if not taken:
            return
        moved = translate(taken, self.segments.get(rel, []))
        with open(marks_path(local), "ab") as out:
            out.write(marks_lines(moved))
        self.offsets[mrel] = start + used
        self._save(None)

    def _pull_whole_files(self, rel: str) -> None:
        for child, _size in self._walk(rel):
            name = child.rsplit("/", 1)[-1]
            if child in self.fetched or name.startswith(".tmp-"):
                continue
            local = self.files.root / child
            local.parent.mkdir(parents=True, exist_ok=True)
            part = local.with_name(local.name + ".part")
            self.sftp.get(f"{self.remote}/{child}", str(part))
            os.replace(part, local)
            self.fetched.add(child)
            self._save(None)

    def download_outputs(self, client: Any) -> bool:
        """./outputs as a tar stream, so that it arrives as the script left it: folders (empty
        ones too) and symlinks within it. A member that would land outside it (an absolute or
        escaping link) is skipped and logged."""
        import tarfile

        wd = f"{self.remote}/wd"
        try:
            self.sftp.stat(f"{wd}/outputs")
        except FileNotFoundError:
            return True  # the script made no ./outputs
        _stdin, stdout, _stderr = client.exec_command(
            f"tar -C {shlex.quote(wd)} -cf - outputs", timeout=IO_TIMEOUT
        )
        local_wd = self.files.root / "wd"
        local_wd.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=stdout, mode="r|") as tar:
            for member in tar:
                try:
                    tar.extract(member, local_wd, filter="data")
                except tarfile.FilterError as exc:
                    self.log(f"ssh: not downloaded from outputs: {member.name} ({exc})")
        return bool(stdout.channel.recv_exit_status() == 0)


__all__ = ["CHUNK", "STATE", "Puller"]
