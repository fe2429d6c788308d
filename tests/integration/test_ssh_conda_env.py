"""Conda environments built on an SSH host that is a real remote (the sshd container of
test_ssh_container_remote.py: its own filesystem, no conda, only python3): Trainyard sends its
solver (py-rattler) and the job's local channel there, solves and installs the environment there,
the pip: section with the uploaded uv, caches it by the spec hash, and an unsolvable spec fails
with the solver's own words and leaves nothing half-built.

The channel is a real conda channel written by hand (tests/engine/environments/conda_channel.py):
a `python` shim package that runs the container's /usr/bin/python3, a noarch:python module, and a
program whose file carries the prefix placeholder."""

from __future__ import annotations

import sys
from pathlib import Path

import test_ssh_container_remote as ctr
from test_ssh_container_remote import WORK_DIR, Remote

from engine.api import Engine
from engine.entities import EnvironmentSpec, Run
from engine.environments.build import spec_hash
from engine.environments.lock import diff_packages
from engine.jobs.spec import JobSpec
from engine.runs.files import RunFiles

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "environments"))
from conda_channel import PLACEHOLDER, index_channel, make_package

# The container remote and an engine, shared with test_ssh_container_remote.
eng = ctr.eng
remote = ctr.remote
sshd_image = ctr.sshd_image

CACHE = "/root/.trainyard"  # the target's default cache_dir in the container
SHOW = """\
import os, subprocess, sys
import mymodule, six
print("mymodule", mymodule.VERSION, "six", six.__version__, flush=True)
print("from", mymodule.__file__, six.__file__, flush=True)
print("prefix", os.environ["CONDA_PREFIX"], flush=True)
print(subprocess.run(["hello"], capture_output=True, text=True, check=True).stdout, flush=True)
print("marker", open("/etc/trainyard-remote-marker").read().strip(), flush=True)
"""


def _channel(folder: Path) -> Path:
    """python (a shim for the container's python3.11), mymodule, libgreet 1/2 and hello."""
    shim = (
        b'#!/bin/sh\nHERE=$(cd "$(dirname "$0")/.." && pwd)\n'
        b'PYTHONPATH="$HERE/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}" '
        b'PYTHONNOUSERSITE=1 exec /usr/bin/python3 "$@"\n'
    )
    make_package(
        folder, "python", "3.11.2", noarch=None, build="shim_0", files={"bin/python": (shim, 0o755, False)}
    )
    make_package(
        folder,
        "mymodule",
        "1.0",
        noarch="python",
        build="py_0",
        depends=["python >=3.8"],
        files={"site-packages/mymodule/__init__.py": (b'VERSION = "1.0"\n', 0o644, False)},
    )
    for v in ("1.0", "2.0"):
        make_package(
            folder,
            "libgreet",
            v,
            files={"share/greet/greeting.txt": (f"hello from libgreet {v}\n".encode(), 0o644, False)},
        )
    hello = (
        f'#!/bin/sh\nPREFIX="{PLACEHOLDER}"\ncat "$PREFIX/share/greet/greeting.txt"\n'
        'echo "hello ran from $PREFIX"\n'
    ).encode()
    make_package(folder, "hello", "0.1", depends=["libgreet >=2"], files={"bin/hello": (hello, 0o755, True)})
    index_channel(folder)
    return folder


def _target(eng: Engine, remote: Remote) -> None:
    eng.store.add_compute_target(
        "ctr",
        "ssh",
        {
            "host": "127.0.0.1",
            "port": remote.port,
            "user": "root",
            "key_file": str(remote.key),
            "known_hosts": str(remote.known_hosts),
            "work_dir": WORK_DIR,
        },
    )


def _in_container(remote: Remote, *cmd: str) -> tuple[int, str]:
    code, out = remote.container.exec_run(list(cmd))
    return code, out.decode(errors="replace")


def _project(eng: Engine, remote: Remote, tmp_path: Path) -> tuple[Path, Path]:
    """The SSH target on the container registered, a project folder with the local channel in it:
    (the folder, the channel)."""
    _target(eng, remote)
    proj = tmp_path / "proj"
    proj.mkdir()
    return proj, _channel(proj / "channel")


def test_a_conda_environment_is_solved_and_built_on_the_host_and_cached(
    eng: Engine,
    remote: Remote,
    tmp_path: Path,
) -> None:
    proj, _ = _project(eng, remote, tmp_path)
    (proj / "show.py").write_text(SHOW)
    conda_file = proj / "environment.yml"
    conda = {
        "channels": ["./channel"],
        "dependencies": ["python=3.11", "mymodule", "hello", "pip", {"pip": ["six==1.16.0"]}],
    }
    env = EnvironmentSpec(name="ssh-conda", conda=conda, conda_source=str(conda_file))
    h = spec_hash(env)
    first = eng.wait(
        eng.submit(
            JobSpec(
                experiment_name="exp", code_dir=proj, script="show.py", compute="ctr", environment_spec=env
            )
        ).name,
        timeout=300,
    )
    files = RunFiles(Path(first.run_dir))
    build = files.build_log.read_text()
    assert first.status == "Completed", (first.error, build[-3000:], files.driver_log.read_text()[-2000:])
    assert first.properties["environment_hash"] == h
    assert first.properties["environment_cached"] is False
    prefix = f"{CACHE}/envs/{h}"
    log = files.driver_log.read_text()
    # The script ran in the container with the environment's python, module, pip package and program.
    assert "mymodule 1.0 six 1.16.0" in log
    site = f"{prefix}/lib/python3.11/site-packages"
    assert f"from {site}/mymodule/__init__.py {site}/six.py" in log  # the shim python, the env's packages
    assert f"prefix {prefix}" in log
    assert "hello from libgreet 2.0" in log and f"hello ran from {prefix}" in log  # placeholder patched there
    assert "marker only-inside-the-ssh-remote-container" in log
    # The build log is the host's: the solver sent there, its solution, the pip section.
    assert "sending the conda solver py-rattler" in build
    assert f"channel {proj / 'channel'} sent to root@127.0.0.1:{remote.port}:{CACHE}/channels/" in build
    assert "libgreet 2.0" in build and "mymodule 1.0" in build
    assert "installing 1 pip requirement(s) with uv" in build
    code, _ = _in_container(remote, "test", "-f", f"{prefix}/.trainyard-ready")
    assert code == 0
    assert not Path(prefix).exists()  # built there, not here

    # The same spec again: the host's cached build, nothing sent or solved again.
    second = eng.wait(
        eng.submit(
            JobSpec(
                experiment_name="exp",
                code_dir=proj,
                command="python show.py",
                compute="ctr",
                environment_spec=env,
            )
        ).name,
        timeout=120,
    )
    files = RunFiles(Path(second.run_dir))
    assert second.status == "Completed", second.error
    assert second.properties["environment_cached"] is True
    build = files.build_log.read_text()
    assert f"Using cached environment {h}" in build and "sending the conda solver" not in build
    assert "mymodule 1.0 six 1.16.0" in files.driver_log.read_text()


def _ran(eng: Engine, name: str) -> Run:
    run = eng.wait(name, timeout=300)
    files = RunFiles(Path(run.run_dir))
    assert run.status == "Completed", (run.error, files.build_log.read_text()[-3000:])
    return run


def test_a_host_built_conda_environment_is_locked_and_a_rerun_rebuilds_the_lock_there(
    eng: Engine,
    remote: Remote,
    tmp_path: Path,
) -> None:
    proj, channel = _project(eng, remote, tmp_path)
    conda = {"channels": ["./channel"], "dependencies": ["python=3.11", "hello", "pip", {"pip": ["six==1.16.0"]}]}
    env = EnvironmentSpec(name="ssh-conda-lock", conda=conda, conda_source=str(proj / "environment.yml"))
    (proj / "show.py").write_text("import six, subprocess\nprint('six', six.__version__)\n"
                                  "print(subprocess.run(['hello'], capture_output=True, text=True).stdout)\n")

    def submit() -> Run:
        return _ran(eng, eng.submit(JobSpec(experiment_name="exp", code_dir=proj, script="show.py", compute="ctr",
                                            environment_spec=env)).name)

    first = submit()
    lock = eng.run_lock(first.name)
    assert lock is not None and lock.kind == "conda", lock
    greet = lock.by_name()["libgreet"]
    assert (greet.version, greet.manager, len(greet.sha256)) == ("2.0", "conda", 64)
    assert greet.source.startswith("file://") and f"{greet.source}#{greet.sha256}" in lock.text
    assert lock.by_name()["six"].manager == "pip" and lock.by_name()["six"].version == "1.16.0"
    assert first.properties["environment_lock"] == lock.id
    assert "trainyard freeze" not in RunFiles(Path(first.run_dir)).build_log.read_text()
    cached = submit()  # the lock comes back with the cached start's readiness check
    assert cached.properties["environment_cached"] is True and cached.properties["environment_lock"] == lock.id

    # The channel gains libgreet 3.0; a new build on the host takes it, a rerun keeps 2.0.
    make_package(channel, "libgreet", "3.0",
                 files={"share/greet/greeting.txt": (b"hello from libgreet 3.0\n", 0o644, False)})
    index_channel(channel)
    eng.prune_environments_on("ctr")
    second = submit()
    assert "hello from libgreet 3.0" in RunFiles(Path(second.run_dir)).driver_log.read_text()
    changes = [c.describe() for c in diff_packages(lock.packages, eng.run_lock(second.name).packages)]
    assert changes == ["~ libgreet 2.0 (0) -> 3.0 (0)"], changes
    again = _ran(eng, eng.rerun(first.name).name)
    assert "hello from libgreet 2.0" in RunFiles(Path(again.run_dir)).driver_log.read_text()
    assert again.properties["rerun_from_lock"] == lock.id
    relock = eng.run_lock(again.name)
    assert relock is not None and relock.id == lock.id


def test_an_unsolvable_conda_spec_fails_with_the_solvers_words_and_keeps_nothing(
    eng: Engine,
    remote: Remote,
    tmp_path: Path,
) -> None:
    proj, _ = _project(eng, remote, tmp_path)
    (proj / "show.py").write_text(SHOW)
    # hello needs libgreet >=2: with libgreet <2 nothing satisfies both.
    env = EnvironmentSpec(
        name="clash",
        conda={"channels": ["./channel"], "dependencies": ["hello", "libgreet <2"]},
        conda_source=str(proj / "environment.yml"),
    )
    run = eng.wait(
        eng.submit(
            JobSpec(
                experiment_name="exp", code_dir=proj, script="show.py", compute="ctr", environment_spec=env
            )
        ).name,
        timeout=300,
    )
    assert run.status == "Failed"
    assert [e.status for e in run.status_history][-2:] == ["Preparing", "Failed"]
    assert run.error is not None
    assert "building environment 'clash' on root@127.0.0.1" in run.error
    assert "the conda build exited with code 1" in run.error
    assert "SolverError" in run.error and "libgreet" in run.error  # rattler's explanation
    build = RunFiles(Path(run.run_dir)).build_log.read_text()
    assert "ERROR: SolverError" in build
    code, _ = _in_container(remote, "test", "-e", f"{CACHE}/envs/{spec_hash(env)}")
    assert code != 0  # nothing half-built left on the host
