"""Benchmark: bytes sent to an SSH host for a 10,000-file project, first and after one file changed.

Run: ``.venv/bin/python bench/bench_ssh_upload.py [--files 10000]``

Three ways, to the same sshd (a throwaway one on 127.0.0.1, tests/engine/runs/sshd.py: the
test container image has no rsync, so rsync is measured against this machine's sshd, where
both ends have it):

- trainyard: the content-addressed upload (engine.compute.ssh.blobs) of the project's snapshot,
  to a fresh host cache, then again after one file changed;
- ``rsync -a`` of the tree over ssh into a folder there, then again after the same change
  (its own "Total bytes sent", which does not count SSH's framing either);
- today's tar upload (engine.compute.ssh.upload.upload_tar, what every run sent before): the
  whole tree each time.

Bytes are the payload written into the SSH channels (commands, stdin data), not TCP bytes.
Each file is 1-3 KB of source-like text (random words: it compresses as code does).
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "engine" / "runs")]

from sshd import start_sshd

from engine.compute.ssh import SshTarget
from engine.compute.ssh.blobs import BlobSender, HostRecords, Tree
from engine.compute.ssh.upload import upload_tar
from engine.snapshots import SnapshotLimits, SnapshotStore

WORDS = [
    "def",
    "return",
    "self",
    "import",
    "for",
    "in",
    "if",
    "else",
    "while",
    "class",
    "lambda",
    "value",
    "index",
    "model",
    "loss",
    "step",
    "batch",
    "tensor",
    "layer",
    "weight",
    "grad",
    "optimizer",
    "config",
    "path",
    "data",
    "load",
    "save",
    "print",
    "range",
    "len",
]


def make_project(root: Path, n: int, rng: random.Random) -> None:
    for i in range(n):
        p = root / f"pkg{i % 100:02d}" / f"mod{i:05d}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(rng.randint(30, 80))
        ]
        p.write_text("\n".join(lines) + "\n")


class Counting:
    """A paramiko client whose sessions' stdin writes are counted (for upload_tar)."""

    def __init__(self, client: Any) -> None:
        self.client, self.sent = client, 0

    def get_transport(self) -> Any:
        outer = self

        class Transport:
            def open_session(self, timeout: float | None = None) -> Any:
                chan = outer.client.get_transport().open_session(timeout=timeout)

                class Chan:
                    def __getattr__(self, name: str) -> Any:
                        return getattr(chan, name)

                    def exec_command(self, cmd: str) -> None:
                        outer.sent += len(cmd)
                        chan.exec_command(cmd)

                    def makefile_stdin(self, mode: str) -> Any:
                        f = chan.makefile_stdin(mode)

                        class F:
                            def write(self, data: bytes) -> int:
                                outer.sent += len(data)
                                f.write(data)
                                return len(data)

                            def flush(self) -> None:
                                f.flush()

                        return F()

                return Chan()

        return Transport()


def rsync(src: Path, dest: str, sshd: Any) -> tuple[int, float]:
    ssh = (
        f"ssh -p {sshd.port} -i {sshd.key} -o UserKnownHostsFile={sshd.known_hosts} "
        "-o StrictHostKeyChecking=yes -o BatchMode=yes"
    )
    t = time.perf_counter()
    out = subprocess.run(
        ["rsync", "-a", "--stats", "-e", ssh, f"{src}/", f"{sshd.user}@127.0.0.1:{dest}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    took = time.perf_counter() - t
    sent = re.search(r"Total bytes sent: ([\d,.]+)", out)
    assert sent, out
    return int(re.sub(r"[,.]", "", sent.group(1))), took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    sshd = start_sshd(tmp / "sshd")
    try:
        rng = random.Random(7)
        proj = tmp / "proj"
        make_project(proj, args.files, rng)
        total = sum(p.stat().st_size for p in proj.rglob("*") if p.is_file())
        store = SnapshotStore(tmp / "snapshots")
        limits = SnapshotLimits(max_bytes=1 << 40, max_files=args.files * 2)
        target = SshTarget.from_config(
            "bench",
            {
                "host": sshd.host,
                "port": sshd.port,
                "user": sshd.user,
                "key_file": str(sshd.key),
                "known_hosts": str(sshd.known_hosts),
            },
        )
        client = target.connect()
        cache = tmp / "host-cache"
        sender = BlobSender(
            client, str(cache), sys.executable, HostRecords(tmp / "records", "bench"), target.address
        )

        def blob_upload(dest: str) -> tuple[int, float, int]:
            t = time.perf_counter()
            snap = store.take(proj, limits=limits)
            tree = Tree()
            tree.add_snapshot(store, snap.id, prefix="wd/")
            res = sender.send(tree, dest, key="bench")
            return res.bytes_sent, time.perf_counter() - t, res.blobs_sent

        def tar_upload(dest: str) -> tuple[int, float]:
            counting = Counting(client)
            t = time.perf_counter()
            upload_tar(counting, target, dest, proj, sys.executable)
            return counting.sent, time.perf_counter() - t

        results: dict[str, list[Any]] = {}
        results["blob"] = [blob_upload(str(tmp / "host" / "b1"))]
        results["rsync"] = [rsync(proj, str(tmp / "host" / "rsync"), sshd)]
        results["tar"] = [tar_upload(str(tmp / "host" / "t1"))]
        changed = proj / "pkg07" / "mod00007.py"
        time.sleep(1.1)  # a new mtime second: rsync's quick check must see the change
        changed.write_text(changed.read_text() + "extra line\n")
        size = changed.stat().st_size
        results["blob"].append(blob_upload(str(tmp / "host" / "b2")))
        results["rsync"].append(rsync(proj, str(tmp / "host" / "rsync"), sshd))
        results["tar"].append(tar_upload(str(tmp / "host" / "t2")))
        client.close()
        same = subprocess.run(["diff", "-r", str(proj), str(tmp / "host" / "b2" / "wd")], capture_output=True)
        assert same.returncode == 0, same.stdout[-2000:]

        print(
            f"### SSH uploads: bytes sent for a {args.files:,}-file project "
            f"({total / 1e6:.1f} MB), then with one {size:,}-byte file changed\n"
        )
        print(
            "| way | first upload, bytes | time | one file changed, bytes | time | vs trainyard (changed) |"
        )
        print("|---|---|---|---|---|---|")
        b1, b2 = results["blob"]
        print(
            f"| trainyard (blob store; {b2[2]} blob sent) | {b1[0]:,} | {b1[1]:.2f} s | {b2[0]:,} | "
            f"{b2[1]:.2f} s | 1x |"
        )
        for name, label in (("rsync", "`rsync -a` over ssh"), ("tar", "tar stream (before this change)")):
            first, second = results[name]
            print(
                f"| {label} | {first[0]:,} | {first[1]:.2f} s | {second[0]:,} | {second[1]:.2f} s | "
                f"{second[0] / max(b2[0], 1):,.1f}x more |"
            )
        print(
            "\n_Bytes: payload written into the SSH channels (trainyard, tar) or rsync's own "
            "`Total bytes sent`; the host is a loopback sshd on this machine (the test container image "
            "has no rsync). Trainyard's times include taking the snapshot (the re-snapshot uses the "
            "stat cache) and the host copying the 10,000 files into place._"
        )
    finally:
        sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
