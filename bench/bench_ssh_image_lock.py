"""What the lock of a Docker image built on an SSH host (`docker: true` targets) costs, against a
throwaway sshd on 127.0.0.1 whose daemon is this machine's (tests/infra/docker_setup.sh; the base
image `trainyard-test-base:latest` must be loaded). Medians of --repeat, all from the same run:

- a warm image build on the host (`HostImages.ensure`: a pip layer on the base image, the daemon's
  layer cache cold for it, pip's downloads from the index), the peer;
- the image's lock taken after it (`HostImages.lock`: `docker image inspect` + the freeze lines of its
  python's dist-info folders (engine.environments.lock.FREEZE_IN_IMAGE) in a
  throwaway container, kept on the host): what a lock adds to that build;
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with host_builder("bench-ssh-image-lock-") as (builder, _cache):
        log = BuildLog(None)
        builds, locks, hits, reads = [], [], [], []
        for i in range(args.repeat):
            # A new spec each time (a comment line): a new image, pip's downloads warm.
            spec = EnvironmentSpec(name="bench-img", image=BASE, pip_requirements=("six==1.16.0", f"# {time.time()} {i}"))
            images = HostImages(builder)
            t0 = time.perf_counter()
            tag, _h, cached = images.ensure(spec, log)
            builds.append(time.perf_counter() - t0)
            assert not cached
            t0 = time.perf_counter()
            lock = images.lock(spec, tag)
            locks.append(time.perf_counter() - t0)
            assert lock is not None and lock.by_name()["six"].version == "1.16.0", lock
            again = HostImages(builder)
            t0 = time.perf_counter()
            again.ensure(spec, log)
            hits.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            relock = again.lock(spec, tag)
            reads.append(time.perf_counter() - t0)
            assert relock is not None and relock.id == lock.id
            builder.run(f"docker rmi -f {tag} >/dev/null 2>&1")
    b, lk, h, r = ms(builds), ms(locks), ms(hits), ms(reads)
    print(f"SSH host (sshd on 127.0.0.1) with this machine's dockerd, pip layer six==1.16.0 on {BASE}; median of {args.repeat}\n")
    print("| what | ms |\n|---|---|")
    print(f"| image build on the host (the peer) | {b:.1f} |")
    print(f"| the image's lock after it: inspect + its python's dist-info folders listed in a container, kept there | {lk:.1f} ({lk / b:.1%} of the build; target < 5 %) |")
    print(f"| cached start: `ensure` finds the image (and reads the kept lock in the same command) | {h:.1f} |")
    print(f"| what the lock adds to a cached start | {r:.1f} (target < 20 ms) |")


if __name__ == "__main__":
    main()
