"""What an environment lock costs: on a warm build (uv's wheel cache warm, a venv of a few real
packages from this machine's pip config) and on a cache hit. Measured in the same run: the warm
build itself (the peer), the lock it takes (dist-info scan + write), the same build with the
pins' sha256 lookup switched off (what the lookup adds: it runs beside the install,
engine.environments.build.hashes.HashPrefetch), the lookup on its own after a build (`uv pip
compile --generate-hashes --no-deps`, what it cost before it overlapped), a cache hit of
`ensure_built`, and what a run adds on a hit (read the build's lock, copy it into the run folder).
Prints a table. Targets (issue 17): < 5 % of a warm build, < 20 ms on a cache hit.

    python bench/bench_locks.py [--repeat 5] [--packages six,packaging] [--conda]

``--conda``: a conda environment instead (the tests' local channel: python, mymodule) whose pip:
section holds the packages; its lock is the @EXPLICIT list, the pip lines with their sha256s.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine.environments.build as build_mod
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, ensure_built, prune
from engine.environments.build import hashes as hashes_mod
from engine.environments.build.hashes import artifact_hashes
from engine.environments.build.venv import uv_bin
from engine.environments.lock import conda_lock, python_lock, read_lock, write_lock


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:8.1f}"


@contextlib.contextmanager
def no_hash_lookup() -> Iterator[None]:
    """A build whose lock gets no sha256s: neither the prefetch beside the install nor the lookup after."""
    saved = build_mod._prefetch_hashes, hashes_mod.artifact_hashes
    build_mod._prefetch_hashes = lambda *a, **k: None  # type: ignore[assignment]
    hashes_mod.artifact_hashes = lambda *a, **k: {}  # type: ignore[assignment]
    try:
        yield
    finally:
        build_mod._prefetch_hashes, hashes_mod.artifact_hashes = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--packages", default="six,packaging")
    ap.add_argument("--conda", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = EnvironmentSpec(name="bench-lock", pip_requirements=tuple(args.packages.split(",")))
        if args.conda:
            sys.path.insert(0, str(ROOT / "tests" / "engine" / "environments"))
            from conda_channel import build_channel

            channel = build_channel(Path(tmp) / "channel")
            spec = EnvironmentSpec(name="bench-lock", conda={
                "channels": [channel.as_uri()],
                "dependencies": ["python=3.11", "mymodule", {"pip": args.packages.split(",")}]})
        cache = Path(tmp) / "envs"
        ensure_built(spec, cache, BuildLog(None))  # warm uv's cache
        builds, unhashed, locks, hashing, hits, run_copies = [], [], [], [], [], []
        for i in range(args.repeat):
            prune(cache, keep={"uv-cache"})
            with no_hash_lookup():
                t0 = time.perf_counter()
                ensure_built(spec, cache, BuildLog(None))
                unhashed.append(time.perf_counter() - t0)
            prune(cache, keep={"uv-cache"})
            t0 = time.perf_counter()
            built = ensure_built(spec, cache, BuildLog(None))  # includes its lock
            builds.append(time.perf_counter() - t0)
            assert built.interpreter
            t0 = time.perf_counter()
            lock = (conda_lock(Path(built.prefix or ""), Path(built.interpreter), uv_bin(), built.spec_hash)
                    if args.conda else
                    python_lock("venv", built.interpreter, uv_bin(), built.spec_hash, prefix=Path(built.prefix or "")))
            write_lock(Path(tmp) / f"lock-{i}.json", lock)
            locks.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            artifact_hashes([(p.name, p.version) for p in lock.packages if p.manager == "pip"], [], cache, Path(tmp) / f"h-{i}",
                            cached_first=True)
            hashing.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hit = ensure_built(spec, cache, BuildLog(None))
            hits.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            kept = read_lock(Path(hit.lock or ""))
            assert kept is not None
            write_lock(Path(tmp) / f"run-{i}.json", kept)
            run_copies.append(time.perf_counter() - t0)
    share = statistics.median(locks) / statistics.median(builds) * 100
    print(f"packages: {args.packages}  ({len(lock.packages)} locked)   repeat {args.repeat}, medians in ms")
    print(f"{'what':58} {'ms':>8}")
    print(f"{'warm ' + ('conda env (pip: section)' if args.conda else 'venv') + ' build, lock included (the peer)':58} {ms(builds)}")
    print(
        f"{'  of which the lock: dist-info scan + write':58} {ms(locks)}   {share:.1f} % of the build (target < 5 %)"
    )
    added = statistics.median(builds) - statistics.median(unhashed)
    print(f"{'the same build, no sha256 lookup':58} {ms(unhashed)}")
    print(f"{'  what the sha256 lookup adds (beside the install)':58} {added * 1000:8.1f}   "
          f"{added / statistics.median(builds) * 100:.1f} % of the build (target < 5 %)")
    hshare = statistics.median(hashing) / statistics.median(builds) * 100
    print(f"{'  the lookup alone after a build (before it overlapped)':58} {ms(hashing)}   {hshare:.1f} % of the build")
    print(f"{'cache hit: ensure_built (the lock file is only checked)':58} {ms(hits)}")
    print(
        f"{'cache hit: a run reads the lock and copies it to its folder':58} {ms(run_copies)}   (target < 20 ms)"
    )


if __name__ == "__main__":
    main()
