"""Environment locks from real builds: a uv venv from a local wheel index that gains a newer
version between two builds, a conda env solved by py-rattler from a local channel that does the
same. The first build's lock, rebuilt, gives exactly the first set; the spec, rebuilt, the newer
one; a lock whose package left the index is refused with the package named."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conda_channel import index_channel, make_package
from wheels import make_wheel, pypi_sha256s

from engine.compute.ssh import condabuild
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, ensure_built, prune
from engine.environments.lock import (
    LOCK_FILE,
    Lock,
    LockedPackage,
    diff_packages,
    explicit_lock,
    locked_spec,
    parse_freeze,
    read_lock,
)
from engine.environments.rebuild import plan_rebuild
from engine.errors import InvalidState


def tiny_spec(index: Path, name: str = "tiny") -> EnvironmentSpec:
    return EnvironmentSpec(name=name, pip_requirements=("--no-index", f"--find-links {index}", "tinypkg"))


def version_in(python: str, module: str) -> str:
    return subprocess.run(
        [python, "-c", f"import {module}; print({module}.__version__)"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


def test_freeze_lines_and_package_diff() -> None:
    pkgs = parse_freeze("numpy==2.3.1\n# comment\n-e file:///x\nmine @ file:///src/mine\nSix==1.16.0\n")
    assert [(p.name, p.version, p.source) for p in pkgs] == [
        ("numpy", "2.3.1", ""),
        ("mine", "", "mine @ file:///src/mine"),
        ("Six", "1.16.0", ""),
    ]
    changes = diff_packages(pkgs, parse_freeze("numpy==2.4.0\nsix==1.16.0\nrich==14.0\n"))
    assert [c.describe() for c in changes] == [
        "- mine mine @ file:///src/mine",
        "~ numpy 2.3.1 -> 2.4.0",
        "+ rich 14.0",
    ]
    # A conda package is the same when version, build and sha256 are, wherever its channel lives.
    a = LockedPackage("libgreet", "2.0", "conda", "0", "file:///a/noarch/libgreet-2.0-0.tar.bz2", "ab")
    b = LockedPackage("libgreet", "2.0", "conda", "0", "file:///b/noarch/libgreet-2.0-0.tar.bz2", "ab")
    assert diff_packages([a], [b]) == []
    assert [
        c.describe() for c in diff_packages([a], [LockedPackage("libgreet", "2.0", "conda", "0", "", "cd")])
    ] == ["~ libgreet 2.0 (0) -> 2.0 (0)"]


def test_a_venv_lock_rebuilds_the_first_set_after_a_newer_version_appears(tmp_path: Path) -> None:
    index = tmp_path / "index"
    wheel = make_wheel(index, "tinypkg", "1.0")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    cache = tmp_path / "envs"
    spec = tiny_spec(index)

    first = ensure_built(spec, cache, BuildLog(None))
    assert first.lock is not None and Path(first.lock) == cache / first.spec_hash / LOCK_FILE
    lock1 = read_lock(Path(first.lock))
    assert lock1 is not None and lock1.kind == "venv"
    assert ("tinypkg", "1.0") in [(p.name, p.version) for p in lock1.packages]
    assert "tinypkg==1.0" in lock1.text and f"--hash=sha256:{sha}" in lock1.text
    assert lock1.by_name()["tinypkg"].hashes == (sha,)  # the sha256 of the wheel it installed
    # A cache hit gives the same lock without building.
    again = ensure_built(spec, cache, BuildLog(None))
    assert again.cached and again.lock == first.lock

    make_wheel(index, "tinypkg", "1.1")  # a newer version appears on the index
    prune(cache)
    fresh = ensure_built(spec, cache, BuildLog(None))
    assert fresh.interpreter is not None and version_in(fresh.interpreter, "tinypkg") == "1.1"
    lock2 = read_lock(Path(fresh.lock or ""))
    assert lock2 is not None and lock2.id != lock1.id
    assert [c.describe() for c in diff_packages(lock1.packages, lock2.packages)] == ["~ tinypkg 1.0 -> 1.1"]

    pinned = plan_rebuild(spec, lock1, cache, "run-1")
    assert f"tinypkg==1.0 --hash=sha256:{sha}" in (pinned.pip_requirements or ())
    rebuilt = ensure_built(pinned, cache, BuildLog(None))
    assert rebuilt.interpreter is not None and version_in(rebuilt.interpreter, "tinypkg") == "1.0"
    assert read_lock(Path(rebuilt.lock or "")).id == lock1.id  # type: ignore[union-attr]

    # 1.0 leaves the index: the re-run is refused, naming the package and what the spec gives now.
    (index / "tinypkg-1.0-py3-none-any.whl").unlink()
    with pytest.raises(InvalidState) as err:
        plan_rebuild(spec, lock1, cache, "run-1")
    msg = err.value.message
    assert "cannot be re-run from its environment lock" in msg and "tinypkg" in msg
    assert "~ tinypkg 1.0 -> 1.1" in msg, msg
    assert "--from-spec" in (err.value.hint or "")


def test_a_build_from_before_locks_gets_its_lock_on_the_next_cache_hit(tmp_path: Path) -> None:
    index = tmp_path / "index"
    make_wheel(index, "tinypkg", "1.0")
    cache = tmp_path / "envs"
    built = ensure_built(tiny_spec(index), cache, BuildLog(None))
    Path(built.lock or "").unlink()
    hit = ensure_built(tiny_spec(index), cache, BuildLog(None))
    assert hit.cached and hit.lock is not None
    assert "tinypkg" in [p.name for p in read_lock(Path(hit.lock)).packages]  # type: ignore[union-attr]


def test_a_conda_lock_is_explicit_and_rebuilds_the_first_set(tmp_path: Path, conda_channel: Path) -> None:
    channel = tmp_path / "channel"
    shutil.copytree(conda_channel, channel)
    cache = tmp_path / "envs"
    conda = {"channels": [channel.as_uri()], "dependencies": ["libgreet"]}
    spec = EnvironmentSpec(name="greet", conda=conda)
    first = ensure_built(spec, cache, BuildLog(None))
    lock1 = read_lock(Path(first.lock or ""))
    assert lock1 is not None and lock1.kind == "conda"
    [greet] = [p for p in lock1.packages if p.name == "libgreet"]
    assert (greet.version, greet.manager) == ("2.0", "conda") and len(greet.sha256) == 64
    assert greet.source.startswith(channel.as_uri())
    assert lock1.text.splitlines()[2] == "@EXPLICIT"
    assert f"{greet.source}#{greet.sha256}" in lock1.text

    make_package(channel, "libgreet", "3.0", files={"share/greet.txt": (b"3.0\n", 0o644, False)})
    index_channel(channel)
    prune(cache)
    lock2 = read_lock(Path(ensure_built(spec, cache, BuildLog(None)).lock or ""))
    assert lock2 is not None
    assert [c.describe() for c in diff_packages(lock1.packages, lock2.packages)] == [
        "~ libgreet 2.0 (0) -> 3.0 (0)"
    ]

    pinned = locked_spec(spec, lock1)
    rebuilt = read_lock(Path(ensure_built(pinned, cache, BuildLog(None)).lock or ""))
    assert rebuilt is not None and rebuilt.id == lock1.id
    assert diff_packages(lock1.packages, rebuilt.packages) == []


def test_a_conda_envs_pip_section_is_locked_with_its_artifacts_sha256(tmp_path: Path, conda_channel: Path) -> None:
    """The pip: section of a conda file is locked like a venv: each package with the sha256s its
    index publishes (here six, from PyPI or this machine's indexes), written as `# pip` lines of the
    @EXPLICIT list; the re-run installs them with --require-hashes and gets the same lock."""
    conda = {"channels": [conda_channel.as_uri()], "dependencies": ["python=3.11", "mymodule", {"pip": ["six"]}]}
    spec = EnvironmentSpec(name="greet-pip", conda=conda)
    cache = tmp_path / "envs"
    lock = read_lock(Path(ensure_built(spec, cache, BuildLog(None)).lock or ""))
    assert lock is not None and lock.kind == "conda"
    six = lock.by_name()["six"]
    assert six.manager == "pip" and set(six.hashes) == pypi_sha256s("six", six.version)
    assert f"# pip six=={six.version} --hash=sha256:" in lock.text and "@EXPLICIT" in lock.text
    assert explicit_lock(lock.text, lock.spec_hash).id == lock.id  # the text alone gives the same lock

    log_file = tmp_path / "rebuild.log"
    rebuilt = ensure_built(plan_rebuild(spec, lock, cache, "run-1"), cache, BuildLog(log_file))
    assert not rebuilt.cached and "--require-hashes" in log_file.read_text()
    again = read_lock(Path(rebuilt.lock or ""))
    assert again is not None and again.id == lock.id


def test_an_ssh_hosts_explicit_list_is_the_same_lock_a_build_here_records(tmp_path: Path,
                                                                        conda_channel: Path) -> None:
    """A conda environment built on an SSH host is locked by condahost.py --explicit there
    (standard library, the host's python3); read back, it is the lock a build here records."""
    conda = {"channels": [conda_channel.as_uri()], "dependencies": ["hello"]}
    built = ensure_built(EnvironmentSpec(name="greet", conda=conda), tmp_path / "envs", BuildLog(None))
    here = read_lock(Path(built.lock or ""))
    assert here is not None and {p.name for p in here.packages} >= {"hello", "libgreet"}
    host_half = Path(condabuild.__file__).with_name("condahost.py")
    text = subprocess.run([sys.executable, str(host_half), "--explicit", str(built.prefix)], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    there = explicit_lock(text, here.spec_hash, host="gpu-box")
    assert there.id == here.id and there.packages == here.packages
    assert there.text == here.text and there.extra == {"host": "gpu-box"}


def test_lock_files_round_trip(tmp_path: Path) -> None:
    lock = Lock("venv", (LockedPackage("a", "1"),), "h" * 64, text="a==1\n")
    path = tmp_path / LOCK_FILE
    path.write_text(json.dumps(lock.to_dict()))
    back = read_lock(path)
    assert back is not None and back.id == lock.id and back.packages == lock.packages
    assert read_lock(tmp_path / "missing.json") is None
