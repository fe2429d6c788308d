"""Git state of a source folder, read while the folder is walked.

Two ``git`` processes run concurrently with the walk: ``git status --porcelain=v2 --branch``
(branch, commit and dirty state in one call) and ``git config --get remote.origin.url``. The
repository root is found by looking for ``.git`` upwards, so folders outside a repository
start no process at all. Missing git, a broken repository or a slow one give None.
"""

from __future__ import annotations

import logging
import os
import subprocess
from urllib.parse import urlsplit, urlunsplit

from engine.snapshots.model import GitInfo

logger = logging.getLogger(__name__)

_TIMEOUT_S = 10.0
# Variables that would point git at another repository than the folder's own.
_REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


def find_repository(folder: str) -> str | None:
    """The nearest folder at or above ``folder`` that holds ``.git`` (a folder or a worktree file)."""
    current = folder
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def strip_credentials(url: str) -> str:
    """Remove ``user:token@`` from an http(s) remote URL, so no token lands in a manifest."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme in ("http", "https", "ftp", "ftps") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


class GitProbe:
    """Starts the git processes at construction; :meth:`result` collects them."""

    def __init__(self, folder: str) -> None:
        self.repository = find_repository(folder)
        self._status: subprocess.Popen[bytes] | None = None
        self._remote: subprocess.Popen[bytes] | None = None
        if self.repository is None:
            return
        env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
        # Read-only: never take index.lock, which would break a git command the user runs meanwhile.
        env["GIT_OPTIONAL_LOCKS"] = "0"
        env["LC_ALL"] = "C"
        try:
            self._status = subprocess.Popen(
                ["git", "-C", folder, "status", "--porcelain=v2", "--branch"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
            )
            self._remote = subprocess.Popen(
                ["git", "-C", folder, "config", "--get", "remote.origin.url"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
            )
        except OSError:  # git is not installed
            self.close()

    def result(self) -> GitInfo | None:
        """The folder's git state, or None (not a repository, no git, git failed or hung)."""
        if self._status is None or self.repository is None:
            return None
        try:
            out, _ = self._status.communicate(timeout=_TIMEOUT_S)
            remote_out = b""
            if self._remote is not None:
                remote_out, _ = self._remote.communicate(timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.close()
            logger.warning("git status in %s took over %.0f s: git info not recorded", self.repository, _TIMEOUT_S)
            return None
        if self._status.returncode != 0:
            return None
        branch: str | None = None
        commit: str | None = None
        dirty = False
        for line in out.decode("utf-8", errors="replace").splitlines():
            if line.startswith("# branch.oid "):
                oid = line[len("# branch.oid "):]
                commit = None if oid == "(initial)" else oid
            elif line.startswith("# branch.head "):
                head = line[len("# branch.head "):]
                branch = None if head == "(detached)" else head
            elif line and not line.startswith("#"):
                dirty = True
                break  # entries follow the headers; one is enough
        remote = remote_out.decode("utf-8", errors="replace").strip() or None
        return GitInfo(
            repository=self.repository,
            branch=branch,
            commit=commit,
            dirty=dirty,
            remote=strip_credentials(remote) if remote else None,
        )

    def close(self) -> None:
        """Stop any git process still running (the snapshot failed or git hung)."""
        for proc in (self._status, self._remote):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        self._status = self._remote = None
