"""What the lock of a Docker image built on an SSH host (`docker: true` targets) costs, against a
throwaway sshd on 127.0.0.1 whose daemon is this machine's (tests/infra/docker_setup.sh; the base
image `trainyard-test-base:latest` must be loaded). Medians of --repeat, all from the same run,
the two kinds of build in turn:

- a warm image build on the host with no lock (`HostImages(lock_in_build=False).ensure`: a pip
  layer on the base image, the daemon's layer cache cold for it, pip's downloads from the
  index), the peer;
- the same build with its lock taken in the build's own command (`docker image inspect` + the
  freeze lines of its python's dist-info folders, engine.environments.lock.FREEZE_IN_IMAGE, in a
  throwaway container, kept on the host): what the lock adds is the difference;
- the lock taken after a build instead, in a command of its own (how it was before);
- a cached start (`ensure` finds the image: the same command also reads the kept lock), the peer
  of the next row;
- what the lock adds to that start (`lock` reads the kept text from memory).

    python bench/bench_ssh_image_lock.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sshhost import host_builder

from engine.compute.ssh.container import HostImages
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog

BASE = "trainyard-test-base:latest"


def ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


class TimedLog(BuildLog):
    """A build log that notes when its last line came."""

    last = 0.0

    def line(self, text: str) -> None:
        self.last = time.perf_counter()
        super().line(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with host_builder("bench-ssh-image-lock-") as (builder, _cache):
        log = TimedLog(None)
        plain, locked, tails, plain_tails, after, hits, reads = [], [], [], [], [], [], []
        stream = builder.stream

        def timed_stream(command: str, log: BuildLog, kept: list[str] | None = None) -> tuple[int, list[str]]:
            """The build's stream, timing its tail: from the build's last log line to the command's end."""
            out = stream(command, log, kept)
            if kept is not None:
                (tails if kept else plain_tails).append(time.perf_counter() - log.last)  # type: ignore[attr-defined]
            return out

        builder.stream = timed_stream  # type: ignore[method-assign]
        for i in range(args.repeat):
            for in_build in (False, True):
                # A new spec each time (a comment line): a new image, pip's downloads warm.
                spec = EnvironmentSpec(name="bench-img", image=BASE,
                                       pip_requirements=("six==1.16.0", f"# {time.time()} {i} {in_build}"))
                images = HostImages(builder, lock_in_build=in_build)
                t0 = time.perf_counter()
                tag, _h, cached = images.ensure(spec, log)
                (locked if in_build else plain).append(time.perf_counter() - t0)
                assert not cached
                t0 = time.perf_counter()
                lock = images.lock(spec, tag)
                if not in_build:
                    after.append(time.perf_counter() - t0)
                assert lock is not None and lock.by_name()["six"].version == "1.16.0", lock
                if in_build:
                    again = HostImages(builder)
                    t0 = time.perf_counter()
                    again.ensure(spec, log)
                    hits.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    relock = again.lock(spec, tag)
                    reads.append(time.perf_counter() - t0)
                    assert relock is not None and relock.id == lock.id
                builder.run(f"docker rmi -f {tag} >/dev/null 2>&1")
    b, lb, la, h, r = ms(plain), ms(locked), ms(after), ms(hits), ms(reads)
    t = ms(tails) - ms(plain_tails)
    print(f"SSH host (sshd on 127.0.0.1) with this machine's dockerd, pip layer six==1.16.0 on {BASE}; "
          f"median of {args.repeat}\n")
    print("| what | ms |\n|---|---|")
    print(f"| image build on the host, no lock (the peer) | {b:.1f} |")
    print(f"| the same build, its lock taken in the build's command | {lb:.1f} |")
    print(f"| what the lock adds to the build: the build's last line to the command's end, less the same for "
          f"the build with no lock | {t:.1f} ({t / b:.1%} of the build; target < 5 %) |")
    print(f"| the two builds' difference (noisy: builds vary by several hundred ms) | {lb - b:.1f} |")
    print(f"| the lock taken after the build in a command of its own (before) | {la:.1f} ({la / b:.1%}) |")
    print(f"| cached start: `ensure` finds the image (and reads the kept lock in the same command) | {h:.1f} |")
    print(f"| what the lock adds to a cached start | {r:.1f} (target < 20 ms) |")


if __name__ == "__main__":
    main()
