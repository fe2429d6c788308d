"""A venv lock records the sha256 of each distribution, and a re-run from it installs with
``--require-hashes``: a real build from PyPI (``six``), whose hashes are checked against PyPI's
own JSON simple API, rebuilt from its lock; an artifact that changed under the same version (a local
index whose wheel is replaced; PyPI's cannot be) is refused before the re-run and by the install."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from wheels import make_wheel, pypi_sha256s

from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, ensure_built, prune
from engine.environments.lock import locked_spec, read_lock
from engine.environments.rebuild import plan_rebuild
from engine.errors import EnvBuildFailed, InvalidState


def test_a_pypi_venv_lock_has_the_published_hashes_and_reruns_with_require_hashes(tmp_path: Path) -> None:
    cache = tmp_path / "envs"
    spec = EnvironmentSpec(name="six-env", pip_requirements=("six",))
    built = ensure_built(spec, cache, BuildLog(None))
    lock = read_lock(Path(built.lock or ""))
    assert lock is not None and lock.kind == "venv"
    six = lock.by_name()["six"]
    assert six.hashes and set(six.hashes) == pypi_sha256s("six", six.version)
    assert f"six=={six.version}" in lock.text and f"--hash=sha256:{six.hashes[0]}" in lock.text

    pinned = plan_rebuild(spec, lock, cache, "run-1")
    log_file = tmp_path / "rebuild.log"
    rebuilt = ensure_built(pinned, cache, BuildLog(log_file))
    assert not rebuilt.cached and "--require-hashes" in log_file.read_text()
    again = read_lock(Path(rebuilt.lock or ""))
    assert again is not None and again.id == lock.id

    # PyPI serving other bytes for the locked version looks like this lock: a recorded hash the
    # index does not have. The pre-check and the install both refuse it, naming the package.
    other = replace(six, hashes=("0" * 64,))
    tampered = replace(lock, packages=tuple(other if p.name == "six" else p for p in lock.packages))
    with pytest.raises(InvalidState) as err:
        plan_rebuild(spec, tampered, cache, "run-1")
    assert f"other content for six {six.version}" in err.value.message
    with pytest.raises(EnvBuildFailed) as failed:
        ensure_built(locked_spec(spec, tampered), cache, BuildLog(None))
    assert f"the artifact of 'six=={six.version}'" in failed.value.message
    assert "sha256 differs" in failed.value.message and "--require-hashes" in failed.value.message


def test_a_wheel_replaced_under_the_same_version_is_refused(tmp_path: Path) -> None:
    index = tmp_path / "index"
    wheel = make_wheel(index, "tinypkg", "1.0")
    first_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    cache = tmp_path / "envs"
    spec = EnvironmentSpec(name="tiny", pip_requirements=("--no-index", f"--find-links {index}", "tinypkg"))
    lock = read_lock(Path(ensure_built(spec, cache, BuildLog(None)).lock or ""))
    assert lock is not None and lock.by_name()["tinypkg"].hashes == (first_sha,)

    make_wheel(index, "tinypkg", "1.0", body="SURPRISE = True\n")  # same name and version, other bytes
    new_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert new_sha != first_sha
    with pytest.raises(InvalidState) as err:
        plan_rebuild(spec, lock, cache, "run-1")
    msg = err.value.message
    assert "cannot be re-run from its environment lock" in msg
    assert f"other content for tinypkg 1.0 (sha256 {first_sha[:12]}… recorded, {new_sha[:12]}… now)" in msg
    assert "a build from its spec would change: nothing" in msg  # same version, so no version change
    assert "--from-spec" in (err.value.hint or "")

    # Had the wheel changed after the check, the install from the lock refuses it (nothing cached).
    pinned = locked_spec(spec, lock)
    with pytest.raises(EnvBuildFailed) as failed:
        ensure_built(pinned, cache, BuildLog(None))
    assert "the artifact of 'tinypkg==1.0'" in failed.value.message
    assert not (cache / pinned.build_hash()).exists()


def test_the_hashes_are_compiled_beside_the_install_not_after_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm build's lock takes PyPI's hashes from the compile that ran while uv installed: no
    lookup is left for after the build (what kept the lock's cost at 11-16 % of a warm build)."""
    from engine.environments.build import hashes

    cache = tmp_path / "envs"
    spec = EnvironmentSpec(name="six-env", pip_requirements=("six",))
    ensure_built(spec, cache, BuildLog(None))  # uv's cache now holds six's index page
    after: list[list[tuple[str, str]]] = []
    real = hashes._compile
    monkeypatch.setattr(hashes, "_compile", lambda pins, *a, **k: after.append(list(pins)) or real(pins, *a, **k))
    prune(cache, keep={"uv-cache"})  # the environment goes, uv's caches stay: a warm build
    built = ensure_built(spec, cache, BuildLog(None))
    lock = read_lock(Path(built.lock or ""))
    assert lock is not None and not built.cached
    six = lock.by_name()["six"]
    assert set(six.hashes) == pypi_sha256s("six", six.version)
    assert after == []  # nothing looked up after the install

    # A re-run from that lock reads the hashes its pins carry: its build compiles nothing.
    pinned = plan_rebuild(spec, lock, cache, "run-1")  # (its check asks the index as it is now)
    after.clear()
    rebuilt = ensure_built(pinned, cache, BuildLog(None))
    again = read_lock(Path(rebuilt.lock or ""))
    assert again is not None and again.id == lock.id and after == []
