"""What the lock of a venv built on an SSH host costs (issue 17's targets: < 5 % of a warm build,
< 20 ms on a cached start), against a throwaway sshd on 127.0.0.1 (tests/engine/runs/sshd.py).

Measured in the same run, medians of --repeat:
- a warm build on the host (uv's cache there warm), its lock included: the peer;
- of which the lock: `uv pip freeze` on the host, then the pins' sha256 looked up there
  (pinhashes.py: `uv pip compile --generate-hashes --no-deps --offline`), written beside the venv;
  timed there: it runs inside the build's command, and its lines come back on the build's own
  stream;
- the same build with the freeze alone (no sha256s: no compile beside the install, no lookup
  after it), built in turn with the other: the difference is what the hashes add;
- a cached start: `RemoteEnvBuilder.ensure` finding the venv ready (the peer of the next row);
- what the lock adds to that start: the kept freeze comes back in the same command as the
  readiness check; `RemoteEnvBuilder.lock` then reads it from memory.

    python bench/bench_ssh_lock.py [--repeat 5] [--packages six,packaging]
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import statistics
import time
from collections.abc import Iterator

from sshhost import host_builder

from engine.compute.ssh.envbuild import FREEZE, RemoteEnvBuilder
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, spec_hash


def ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


@contextlib.contextmanager
def freeze_only() -> Iterator[None]:
    """Builds whose lock is uv's freeze alone, as before pins had hashes on SSH hosts."""
    saved = RemoteEnvBuilder.__dict__["_prefetch_command"], RemoteEnvBuilder._freeze_command

    def plain(self: RemoteEnvBuilder, uv: str, interpreter: str, env: str) -> str:
        return self._kept(f"{shlex.quote(uv)} pip freeze --python {shlex.quote(interpreter)}", env)

    RemoteEnvBuilder._prefetch_command = staticmethod(lambda *a: "")  # type: ignore[assignment]
    RemoteEnvBuilder._freeze_command = plain  # type: ignore[method-assign]
    try:
        yield
    finally:
        RemoteEnvBuilder._prefetch_command, RemoteEnvBuilder._freeze_command = saved  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--packages", default="six,packaging")
    args = ap.parse_args()
    with host_builder("bench-ssh-lock-") as (builder, cache):
        spec = EnvironmentSpec(name="bench-ssh-lock", pip_requirements=tuple(args.packages.split(",")))
        env = f"{cache}/envs/{spec_hash(spec)}"
        log = BuildLog(None)
        builder.ensure(spec, log)  # uv sent, uv's cache on the host warm
        uv = builder.ensure_uv(log)
        builds, plain_builds, freezes, hits, reads = [], [], [], [], []
        for _ in range(args.repeat):
            builder.run(f"rm -rf {shlex.quote(env)} {shlex.quote(env + FREEZE)}")
            with freeze_only():
                t0 = time.perf_counter()
                builder.ensure(spec, log)
                plain_builds.append(time.perf_counter() - t0)
            builder.run(f"rm -rf {shlex.quote(env)} {shlex.quote(env + FREEZE)}")
            t0 = time.perf_counter()
            builder.ensure(spec, log)
            builds.append(time.perf_counter() - t0)
            # The lock's command runs inside the build's (uv's cache exported): timed on the host,
            # without a round trip.
            command = (f"export UV_CACHE_DIR={shlex.quote(str(cache) + '/uv-cache')}; "
                       + builder._freeze_command(uv, env + "/bin/python", env))
            timer = (f"import subprocess, time; t = time.perf_counter(); subprocess.run(['sh', '-c', {command!r}], "
                     "stdout=subprocess.DEVNULL); print(time.perf_counter() - t)")
            freezes.append(float(builder.run(f"{shlex.quote(builder.python)} -c {shlex.quote(timer)}")[0]))
            t0 = time.perf_counter()
            builder.ensure(spec, log)
            hits.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            lock = builder.lock(spec, log)
            reads.append(time.perf_counter() - t0)
            assert lock is not None and lock.by_name()["six"].hashes, lock
    b, f, h, r, pb = ms(builds), ms(freezes), ms(hits), ms(reads), ms(plain_builds)
    print(f"SSH host (sshd on 127.0.0.1), venv of {args.packages}, uv's cache there warm; median of {args.repeat}\n")
    print("| what | ms |\n|---|---|")
    print(f"| warm venv build on the host, its lock included (the peer) | {b:.1f} |")
    print(f"| of which the lock: `uv pip freeze` + the pins' sha256 there (timed on the host), kept beside the venv | {f:.1f} ({f / b:.1%} of the build; target < 5 %) |")
    print(f"| the same build, its lock the freeze alone (no sha256s) | {pb:.1f} |")
    print(f"| what the sha256s add to the build (compiled beside the install, the rest after it) | {b - pb:.1f} ({(b - pb) / b:.1%}) |")
    print(f"| cached start: `ensure` finds the venv ready (the peer) | {h:.1f} |")
    print(f"| what the lock adds to a cached start: the kept freeze comes back with the readiness check | {r:.1f} (target < 20 ms) |")


if __name__ == "__main__":
    main()
