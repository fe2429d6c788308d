"""Pip environments built on the SSH host (engine.compute.ssh.envbuild), against the real
throwaway sshd of tests/engine/runs/sshd.py: uv is sent there, the venv is built from PyPI and
cached by the spec's hash, and uv's output is the run's build log."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import test_ssh_compute

from engine.api import Engine
from engine.entities import EnvironmentSpec, Run
from engine.environments.build import spec_hash
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

# Tiny wheels for a local index that gains a newer version (shared with the local lock tests).
_WHEELS = str(Path(__file__).resolve().parents[1] / "environments")
if _WHEELS not in sys.path:
    sys.path.insert(0, _WHEELS)
from wheels import make_wheel, pypi_sha256s

# The SSH fixtures (a throwaway sshd, a target registered on it), shared with test_ssh_compute.
sshd = test_ssh_compute.sshd
target = test_ssh_compute.target

SHOW = "import sys, six\nprint('six', six.__version__, 'from', sys.executable, flush=True)\n"


def test_a_pip_environment_is_built_on_the_host_once_and_used(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                               cli, tmp_path: Path) -> None:
    target()
    cache = tmp_path / "host-cache"
    code = project({"show.py": SHOW})
    env = EnvironmentSpec(name="six-env", pip_requirements=("six==1.16.0",))
    first = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="show.py", compute="far",
                                        environment_spec=env)).name, timeout=300)
    files = RunFiles(Path(first.run_dir))
    assert first.status == "Completed", (first.error, files.build_log.read_text()[-3000:])
    h = spec_hash(env)
    assert first.properties["environment_hash"] == h
    assert first.properties["environment_cached"] is False
    assert f"six 1.16.0 from {cache}/envs/{h}/bin/python" in files.driver_log.read_text()
    lock = eng.run_lock(first.name)  # what the host installed, with PyPI's sha256s looked up there
    assert lock is not None and set(lock.by_name()["six"].hashes) == pypi_sha256s("six", "1.16.0")
    build = files.build_log.read_text()
    assert "sending uv" in build and "six==1.16.0" in build  # uv's own lines, streamed here
    assert (cache / "envs" / h / ".trainyard-ready").is_file()

    # A command's `python` is the environment's too; the second run finds it cached.
    second = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, command="python show.py",
                                         compute="far", environment_spec=env)).name, timeout=120)
    files = RunFiles(Path(second.run_dir))
    assert second.status == "Completed", second.error
    assert second.properties["environment_cached"] is True
    assert f"Using cached environment {h}" in files.build_log.read_text()
    assert "sending uv" not in files.build_log.read_text()
    assert f"six 1.16.0 from {cache}/envs/{h}/bin/python" in files.driver_log.read_text()

    # The venv gone, uv's cache there kept: a warm build, whose hashes were compiled beside the
    # install, the lock took them from there.
    shutil.rmtree(cache / "envs" / h)
    third = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="show.py", compute="far",
                                        environment_spec=env)).name, timeout=300)
    assert third.status == "Completed" and third.properties["environment_cached"] is False, third.error
    assert "six==1.16.0" in (cache / "envs" / f"{h}.prefetch.txt").read_text()
    relock = eng.run_lock(third.name)
    assert relock is not None and relock.id == lock.id

    # `trainyard environment prune --compute far` cleans the host's cache.
    out = cli("environment", "prune", "--compute", "far", "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["removed"] == [h]
    assert not (cache / "envs" / h).exists()
    out = cli("environment", "prune", "--compute", "far")
    assert out.returncode == 0, out.stderr
    assert "Removed 0 environment(s) from" in out.stdout


def test_a_host_that_cannot_reach_its_index_fails_with_uvs_words(eng: Engine, project, target,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    target()
    cache = tmp_path / "host-cache"
    code = project({"show.py": SHOW})
    # An index nobody listens on: what a host without network sees.
    env = EnvironmentSpec(name="offline", pip_requirements=("--index-url http://127.0.0.1:9/simple", "six"))
    run = eng.wait(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="show.py", compute="far",
                                      environment_spec=env)).name, timeout=300)
    assert run.status == "Failed"
    assert [e.status for e in run.status_history][-2:] == ["Preparing", "Failed"]
    assert run.error is not None
    assert "building environment 'offline' on" in run.error and "failed (uv exited with code" in run.error
    assert "127.0.0.1:9" in run.error  # uv's own message names the index it could not reach
    assert not (cache / "envs" / spec_hash(env)).exists()  # nothing half-built is kept
    assert "127.0.0.1:9" in RunFiles(Path(run.run_dir)).build_log.read_text()


def test_a_host_built_venv_is_locked_and_a_rerun_rebuilds_the_lock_there(  # type: ignore[no-untyped-def]
    eng: Engine, project, target, cli, tmp_path: Path
) -> None:
    """The host's build records what it installed (its freeze there, each pin with the sha256 of its
    artifact, looked up there); after the index gains a newer version a fresh build on the host
    gets it and `job diff` names it; a re-run on the host from the first run's lock installs the
    first version again, with the same sha256."""
    target()
    index = tmp_path / "index"
    wheel = make_wheel(index, "tinypkg", "1.0")
    env = EnvironmentSpec(name="tiny", pip_requirements=("--no-index", f"--find-links {index}", "tinypkg"))
    code = project({"show.py": "import tinypkg\nprint('tinypkg', tinypkg.__version__, flush=True)\n"})

    def ran(name: str) -> Run:
        run = eng.wait(name, timeout=300)
        files = RunFiles(Path(run.run_dir))
        assert run.status == "Completed", (run.error, files.build_log.read_text()[-3000:])
        return run

    def submit() -> Run:
        return ran(eng.submit(JobSpec(experiment_name="exp", code_dir=code, script="show.py", compute="far",
                                      environment_spec=env)).name)

    first = submit()
    lock = eng.run_lock(first.name)
    assert lock is not None and lock.kind == "venv" and lock.by_name()["tinypkg"].version == "1.0"
    assert lock.by_name()["tinypkg"].hashes == (hashlib.sha256(wheel.read_bytes()).hexdigest(),)
    assert first.properties["environment_lock"] == lock.id
    shown = json.loads(cli("job", "show", "-n", first.name, "-o", "json").stdout)
    assert shown["environment_lock"]["id"] == lock.id
    assert f"--hash=sha256:{lock.by_name()['tinypkg'].hashes[0]}" in shown["environment_lock"]["text"]
    assert "trainyard freeze" not in RunFiles(Path(first.run_dir)).build_log.read_text()  # kept apart
    cached = submit()  # the lock comes back with the cached start's readiness check
    assert cached.properties["environment_cached"] is True
    assert cached.properties["environment_lock"] == lock.id

    make_wheel(index, "tinypkg", "1.1")  # newer; the host's cached build still has 1.0
    assert cli("environment", "prune", "--compute", "far").returncode == 0
    second = submit()
    assert "tinypkg 1.1" in RunFiles(Path(second.run_dir)).driver_log.read_text()
    diff = cli("job", "diff", first.name, second.name)
    assert diff.returncode == 0 and "~ tinypkg 1.0 -> 1.1" in diff.stdout, diff.stdout + diff.stderr

    again = ran(eng.rerun(first.name).name)
    assert "tinypkg 1.0" in RunFiles(Path(again.run_dir)).driver_log.read_text()  # the lock, not 1.1
    assert again.properties["rerun_from_lock"] == lock.id
    relock = eng.run_lock(again.name)
    assert relock is not None and relock.by_name()["tinypkg"].version == "1.0"
    assert relock.id == lock.id  # the same artifact, by its sha256
