"""http(s) inputs: each URL is downloaded once into the workspace's content store and re-used by
every later run (the index maps the URL to the blob's sha256; the file a run sees is a read-only
hard link named like the URL's last segment)."""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from engine.errors import LaunchFailed
from engine.snapshots.blobs import BlobStore, write_atomic

__all__ = ["fetch"]

_CHUNK = 256 * 1024
TIMEOUT_SECONDS = 60.0


def _file_name(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    return name or "download"


def fetch(url: str, cache_dir: Path, progress: Callable[[str], None] | None = None) -> tuple[Path, str, bool]:
    """The local file for `url`: (path, sha256 of its bytes, whether it was downloaded now)."""
    key = hashlib.sha256(url.encode()).hexdigest()[:32]
    index = cache_dir / "urls" / f"{key}.json"
    blobs = BlobStore(cache_dir / "blobs")
    if index.is_file():
        try:
            entry = json.loads(index.read_text())
            path = Path(entry["path"])
            if path.is_file() and blobs.has(entry["sha256"]):
                return path, str(entry["sha256"]), False
        except (ValueError, KeyError, OSError):
            pass  # damaged: download again
    tmp = cache_dir / "incoming" / f"{key}-{os.getpid()}-{time.monotonic_ns()}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        digest = _download(url, tmp, progress)
        final_blob = blobs.path(digest)
        if not blobs.has(digest):
            os.makedirs(os.path.dirname(final_blob), exist_ok=True)
            os.replace(tmp, final_blob)
        os.chmod(final_blob, 0o444)
        path = cache_dir / "files" / digest[:16] / _file_name(url)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(final_blob, path)
            except FileExistsError:
                pass
        write_atomic(str(index), json.dumps({"url": url, "sha256": digest, "path": str(path)}).encode())
        return path, digest, True
    finally:
        tmp.unlink(missing_ok=True)


def _download(url: str, dest: Path, progress: Callable[[str], None] | None) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": "trainyard"})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        raise LaunchFailed(
            f"downloading {url} failed: HTTP {exc.code} {exc.reason}",
            "check the URL (inputs with an http(s) path are downloaded when the job is submitted)",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LaunchFailed(
            f"downloading {url} failed: {reason}", "check the URL and this machine's network connection"
        ) from None
    total = int(response.headers.get("Content-Length") or 0)
    h = hashlib.sha256()
    done = 0
    next_report = 0.0
    with response, open(dest, "wb") as out:
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            h.update(chunk)
            done += len(chunk)
            now = time.monotonic()
            if progress is not None and now >= next_report:
                next_report = now + 1.0
                share = f" ({100 * done // total}%)" if total else ""
                progress(f"downloading {url}: {done / 1e6:.1f} MB{share}")
    if total and done != total:
        raise LaunchFailed(f"downloading {url} stopped after {done} of {total} bytes", "submit the job again")
    if progress is not None:
        progress(f"downloaded {url}: {done / 1e6:.1f} MB")
    return h.hexdigest()
