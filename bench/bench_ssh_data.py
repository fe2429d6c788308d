"""An SSH run's input that is already on the host: bytes sent to the host by the first and the
second run of the same job with a 200 MB folder input, measured at the TCP level (a counting proxy
in front of a throwaway sshd), against rsync over the same proxy (the usual way not to send a file
twice). Prints a table.

    python bench/bench_ssh_data.py [--mb 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "engine" / "runs"))

from sshd import start_sshd

from engine.api import Engine
from engine.specs.jobs import load_job


class CountingProxy:
    """127.0.0.1:port -> the sshd; counts the bytes sent towards the server."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.up = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.sock.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if up:
                    with self.lock:
                        self.up += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def measure(self) -> int:
        with self.lock:
            value, self.up = self.up, 0
        return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ssh-data-"))
    sshd = start_sshd(tmp / "sshd")
    try:
        proxy = CountingProxy(sshd.port)
        known = tmp / "known_hosts"
        key_line = sshd.known_hosts.read_text().split(" ", 1)[1]
        known.write_text(f"[127.0.0.1]:{proxy.port} {key_line}")
        data = tmp / "proj" / "data"
        data.mkdir(parents=True)
        per_file = args.mb // 4
        for i in range(4):
            (data / f"part{i}.bin").write_bytes(os.urandom(per_file * 1024 * 1024))
        (tmp / "proj" / "src").mkdir()
        (tmp / "proj" / "src" / "read.py").write_text(
            "import os, sys\nprint('bytes', sum(os.path.getsize(os.path.join(sys.argv[1], f)) "
            "for f in os.listdir(sys.argv[1])))\n"
        )
        job = tmp / "proj" / "job.yml"
        job.write_text(
            "command: python3 read.py ${{inputs.data}}\ncode: src\ncompute: azureml:bench\n"
            "inputs:\n  data: {type: uri_folder, path: ./data}\n"
        )
        os.environ["TRAINYARD_WORKSPACE"] = str(tmp / "ws")
        os.environ["HOME"] = str(tmp / "home")
        (tmp / "home" / ".ssh").mkdir(parents=True)
        eng = Engine.open(tmp / "ws")
        eng.store.add_compute_target(
            "bench",
            "ssh",
            {
                "host": "127.0.0.1",
                "port": proxy.port,
                "user": sshd.user,
                "key_file": str(sshd.key),
                "known_hosts": str(known),
                "work_dir": str(tmp / "remote"),
            },
        )
        rows = []
        for label in ("trainyard, first run", "trainyard, second run (input already there)"):
            proxy.measure()
            t0 = time.perf_counter()
            run = eng.wait(eng.submit(load_job(job)).name, timeout=900)
            elapsed = time.perf_counter() - t0
            assert run.status == "Completed", run.error
            rows.append((label, proxy.measure(), elapsed))
        ssh_cmd = (
            f"ssh -p {proxy.port} -i {sshd.key} -o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes"
        )
        dest = f"{sshd.user}@127.0.0.1:{tmp / 'rsync-dest'}/"
        for label in ("rsync -a, first time", "rsync -a, second time"):
            proxy.measure()
            t0 = time.perf_counter()
            subprocess.run(["rsync", "-a", "-e", ssh_cmd, f"{data}/", dest], check=True)
            rows.append((label, proxy.measure(), time.perf_counter() - t0))
        eng.close()
        print(
            f"\nSSH run with a {args.mb} MB folder input (bytes sent to the host, TCP level, incl. ssh overhead)\n"
        )
        print(f"| {'what':46} | {'bytes sent':>14} | {'wall':>8} |")
        print(f"|{'-' * 48}|{'-' * 16}|{'-' * 10}|")
        for label, sent, wall in rows:
            print(f"| {label:46} | {sent:>14,} | {wall:6.1f} s |")
    finally:
        sshd.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
