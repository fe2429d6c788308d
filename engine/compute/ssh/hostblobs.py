r"""Runs ON THE SSH HOST (sent there as a file, started with the host's python3; standard library
only, never imported by the engine): its side of the content-addressed uploads of
engine.compute.ssh.blobs.

    python3 hostblobs.py query ROOT   stdin: {"manifests": [id...], "blobs": [sha...]}
                                      stdout: {"manifests": [ids held], "missing": [shas lacking]}
    python3 hostblobs.py put ROOT     stdin: zlib stream: one JSON header line, then per blob
                                      "SHA SIZE\n" and SIZE bytes; stdout: {"files": N}
    python3 hostblobs.py prune ROOT   removes blobs and manifests (all of them)

ROOT holds blobs/ab/cdef... (as the local snapshot store) and manifests/<id>.json. Every file is
written to a temporary name and renamed into place, and a blob is kept only when its bytes hash
to its name, so a dropped connection leaves nothing half-written that a later run would trust.
The header: {"id", "base" (a manifest id ROOT holds, or null), "entries" ([path, sha, size,
executable]: all of them, or with a base those that changed), "removed" (paths, with a base),
"dest", "mkdirs", "link"}. The tree is materialized into dest by copies (link: hard links,
for inputs the script only reads).
"""

import hashlib
import json
import os
import shutil
import sys
import zlib


def blob_path(root, sha):
    return os.path.join(root, "blobs", sha[:2], sha[2:])


def manifest_id(entries):
    body = json.dumps(sorted(entries), separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest()


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def query(root):
    asked = json.load(sys.stdin)
    have = [m for m in asked["manifests"] if os.path.exists(os.path.join(root, "manifests", m + ".json"))]
    missing = [s for s in asked["blobs"] if not os.path.exists(blob_path(root, s))]
    json.dump({"manifests": have, "missing": missing}, sys.stdout)


class Inflater:
    """Reads the zlib stream on stdin: lines and exact byte counts."""

    def __init__(self, stream):
        self.stream = stream
        self.z = zlib.decompressobj()
        self.buf = bytearray()

    def _fill(self):
        chunk = self.stream.read(1 << 20)
        if not chunk:
            data = self.z.flush()
            if not data:
                raise EOFError("the upload ended early (the connection dropped?)")
        else:
            data = self.z.decompress(chunk)
        self.buf += data

    def line(self):
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n")
        out = bytes(self.buf[:i])
        del self.buf[: i + 1]
        return out

    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def receive_blob(src, root, sha, size):
    """SIZE bytes into the blob SHA, in chunks (a blob may be a large input file)."""
    final = blob_path(root, sha)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = f"{final}.tmp-{os.getpid()}"
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            while size:
                data = src.read(min(size, 8 << 20))
                h.update(data)
                f.write(data)
                size -= len(data)
        if h.hexdigest() != sha:
            raise ValueError(f"blob {sha} arrived damaged")
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def safe_parts(rel):
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"unsafe path in the upload: {rel!r}")
    return parts


def put(root):
    src = Inflater(sys.stdin.buffer)
    head = json.loads(src.line())
    while True:
        line = src.line()
        if line == b"end":
            break
        sha, size = line.decode().split()
        receive_blob(src, root, sha, int(size))
    entries = {}
    if head["base"]:
        with open(os.path.join(root, "manifests", head["base"] + ".json")) as f:
            entries = {e[0]: e for e in json.load(f)}
        for rel in head["removed"]:
            entries.pop(rel, None)
    for e in head["entries"]:
        entries[e[0]] = e
    listed = list(entries.values())
    if manifest_id(listed) != head["id"]:
        raise ValueError(f"the tree {head['id']} did not add up on the host (its base manifest was changed?)")
    missing = [e[1] for e in listed if not os.path.exists(blob_path(root, e[1]))]
    if missing:
        raise ValueError(
            f"{len(missing)} blob(s) of the tree are missing from {root}/blobs (pruned meanwhile?)"
        )
    write_atomic(os.path.join(root, "manifests", head["id"] + ".json"), json.dumps(sorted(listed)).encode())
    dest = head["dest"]
    for d in head.get("mkdirs", []):
        os.makedirs(os.path.join(dest, *safe_parts(d)), exist_ok=True)
    made = set()
    for rel, sha, _size, executable in listed:
        target = os.path.join(dest, *safe_parts(rel))
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        if os.path.lexists(target):
            os.unlink(target)
        if head.get("link"):
            os.link(blob_path(root, sha), target)
        else:  # a copy: the script may change its files without changing the blob others share
            shutil.copyfile(blob_path(root, sha), target)
            if executable:
                mode = os.stat(target).st_mode
                os.chmod(target, mode | (mode & 0o444) >> 2)
    json.dump({"files": len(listed)}, sys.stdout)


def prune(root):
    freed = 0
    for sub in ("blobs", "manifests"):
        folder = os.path.join(root, sub)
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                try:
                    freed += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        shutil.rmtree(folder, ignore_errors=True)
    json.dump({"freed": freed}, sys.stdout)


def main():
    op, root = sys.argv[1], sys.argv[2]
    try:
        {"query": query, "put": put, "prune": prune}[op](root)
    except (OSError, ValueError, EOFError) as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
