"""`ro_mount` inputs on an SSH host are read-only for real: real runs on the throwaway sshd on
127.0.0.1 (tests/engine/runs/sshd.py), whose sessions run as root here, so a write that fails
proves the mount, not permission bits; and a login as an ordinary user, whose wrapper needs a user
namespace. A host that refuses a mount namespace runs the script with permission bits only and
says so in the driver log."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshd import Sshd, start_sshd
from test_data_local import TRY_WRITES, write_job
from test_ssh_compute import sshd, target  # noqa: F401 - fixtures

from engine.api import Engine
from engine.compute.hostmounts import permission_bits_note, read_only_wrapper
from engine.compute.ssh.container import docker_run_argv
from engine.specs.jobs import load_job

# The script also tries to undo the mount (root could, had it kept CAP_SYS_ADMIN).
SCRIPT = TRY_WRITES + """
import subprocess
r = subprocess.run(["mount", "-o", "remount,rw,bind", d], capture_output=True)
print("remount", "SUCCEEDED" if r.returncode == 0 else "FAILED")
if len(sys.argv) > 2:  # a uri_file input: the file, and its folder
    one = sys.argv[2]
    attempt("file-append", lambda: open(one, "a").write("evil\\n"))
    attempt("file-beside", lambda: open(one + ".new", "w").write("x"))
"""

JOB = """\
command: python main.py ${{inputs.data}}
code: src
compute: azureml:far
inputs:
  data:
    type: uri_folder
    path: ./data
"""
FILE_INPUT = """\
  one:
    type: uri_file
    path: ./data/train.csv
"""


def _project(tmp_path: Path, job: str = JOB) -> Path:
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "data" / "train.csv").write_text("a,b\n1,2\n")
    return write_job(root, job, SCRIPT)


def _run(eng: Engine, job: Path) -> tuple[str, str]:
    run = eng.wait(eng.submit(load_job(job)).name, timeout=180)
    log = (Path(run.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert run.status == "Completed", (run.error, log)
    return run.name, log


def test_a_root_script_cannot_change_its_ro_mount_input_on_an_ssh_host(
    eng: Engine,
    target,  # noqa: F811
    tmp_path: Path,
) -> None:
    work = target(keep_remote_files=True)
    job = _project(tmp_path, JOB.replace("${{inputs.data}}", "${{inputs.data}} ${{inputs.one}}") + FILE_INPUT)
    name, log = _run(eng, job)
    assert f"uid 0 input {work}/{name}/inputs/data" in log, log  # root on the host
    # A new file, an append, chmod, unlink, a hard link in the writable working folder (written
    # through) and one inside the input: each fails with EROFS, or EXDEV for the link out of it.
    for what, errno in (("append", 30), ("create", 30), ("chmod", 30), ("unlink", 30),
                        ("link", 18), ("link-inside", 30), ("file-append", 30), ("file-beside", 30)):
        assert f"{what} FAILED {errno}" in log, (what, log)
    assert "remount FAILED" in log and "SUCCEEDED" not in log, log
    assert "permission bits only" not in log
    # The uploaded copy on the host and the user's own folder are as they were.
    for uploaded in (work / name / "inputs" / "data", work / name / "inputs" / "one"):
        assert sorted(p.name for p in uploaded.iterdir()) == ["train.csv"]
        assert (uploaded / "train.csv").read_text() == "a,b\n1,2\n"
    assert not (work / name / "wd" / "linked.csv").exists()
    assert (tmp_path / "proj" / "data" / "train.csv").read_text() == "a,b\n1,2\n"


HOST_USER = "trainyard-ssh"  # the ordinary user the test logs in as (made when the tests run as root)


@pytest.fixture
def ordinary_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sshd, str, Path]]:
    """(an sshd, a user that is not root, a folder of that user's): the tests' own user when it is
    not root; as root, a system user made for this (left in place for the next run)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(HOST_USER)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", HOST_USER], check=True)
        # No password (`*`), but not locked: sshd refuses even a key login to a locked account.
        subprocess.run(["usermod", "-p", "*", HOST_USER], check=True)
        user = HOST_USER
        # sshd reads authorized_keys as the user logging in, who cannot reach the test's folder.
        server = start_sshd(tmp_path / "sshd", extra_config=(
            f"Match User {HOST_USER}\n    AuthorizedKeysFile %h/.ssh/authorized_keys\n"))
        entry = pwd.getpwnam(user)
        dot_ssh = Path(entry.pw_dir) / ".ssh"
        subprocess.run(["install", "-d", "-m", "700", "-o", str(entry.pw_uid), str(dot_ssh)], check=True)
        subprocess.run(["install", "-m", "600", "-o", str(entry.pw_uid), str(server.dir / "authorized_keys"),
                        str(dot_ssh / "authorized_keys")], check=True)
    else:
        server = start_sshd(tmp_path / "sshd")
        user = server.user
    entry = pwd.getpwnam(user)
    folder = Path(entry.pw_dir) / f"trainyard-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["install", "-d", "-o", str(entry.pw_uid), "-g", str(entry.pw_gid), str(folder)], check=True)
    yield server, user, folder
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_an_ordinary_users_script_cannot_change_its_ro_mount_input_either(
    eng: Engine, ordinary_login: tuple[Sshd, str, Path], tmp_path: Path
) -> None:
    """Not root on the host: the wrapper maps the user to root in a user namespace of its own to
    mount the inputs read-only. The writes fail with EROFS (not EACCES: the mount, not permission
    bits), the link out with EXDEV, and the remount is refused."""
    s, user, folder = ordinary_login
    eng.store.add_compute_target("far", "ssh", {
        "host": s.host, "port": s.port, "user": user, "key_file": str(s.key), "known_hosts": str(s.known_hosts),
        "work_dir": str(folder / "runs"), "cache_dir": str(folder / "cache"), "docker": False,
        "keep_remote_files": True})
    job = _project(tmp_path)
    name, log = _run(eng, job)
    remote = folder / "runs" / name
    assert remote.stat().st_uid == pwd.getpwnam(user).pw_uid != 0  # the run really ran as that user
    for what, errno in (("append", 30), ("create", 30), ("chmod", 30), ("unlink", 30),
                        ("link", 18), ("link-inside", 30)):
        assert f"{what} FAILED {errno}" in log, (what, log)
    assert "remount FAILED" in log and "SUCCEEDED" not in log, log
    assert "permission bits only" not in log
    uploaded = remote / "inputs" / "data"
    assert sorted(p.name for p in uploaded.iterdir()) == ["train.csv"]
    assert (uploaded / "train.csv").read_text() == "a,b\n1,2\n"
    assert (tmp_path / "proj" / "data" / "train.csv").read_text() == "a,b\n1,2\n"


@pytest.fixture
def refusing_sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    """An sshd whose sessions find an `unshare` that fails as a host without namespaces does."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "unshare").write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    (fake / "unshare").chmod(0o755)
    server = start_sshd(tmp_path / "sshd", extra_config=f"SetEnv PATH={fake}:{os.environ['PATH']}\n")
    yield server
    server.stop()


def test_a_host_that_refuses_namespaces_gets_permission_bits_and_the_log_says_so(
    eng: Engine, refusing_sshd: Sshd, tmp_path: Path
) -> None:
    s = refusing_sshd
    eng.store.add_compute_target("far", "ssh", {
        "host": s.host, "port": s.port, "user": s.user, "key_file": str(s.key), "known_hosts": str(s.known_hosts),
        "work_dir": str(tmp_path / "remote"), "cache_dir": str(tmp_path / "host-cache"), "docker": False})
    job = _project(tmp_path)
    _name, log = _run(eng, job)
    line = next((ln for ln in log.splitlines() if "permission bits only" in ln), None)
    assert line is not None, log
    assert line.startswith("[trainyard] input data: read-only by permission bits only on ")
    assert "Operation not permitted" in line
    # Root ignores permission bits: without the mount, the append goes through (on the host's copy).
    assert "append SUCCEEDED" in log
    assert (tmp_path / "proj" / "data" / "train.csv").read_text() == "a,b\n1,2\n"


def test_the_wrapper_mounts_each_input_and_drops_the_remount_capability() -> None:
    argv = read_only_wrapper("user", ["/r/inputs/a b", "/r/inputs/c"], ["python3", "main.py"])
    assert argv[:6] == ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
    assert argv[-3:] == ["trainyard-mounts", "python3", "main.py"]
    script = argv[-4]
    assert "mount --bind '/r/inputs/a b' '/r/inputs/a b'; mount -o remount,ro,bind '/r/inputs/a b'" in script
    assert "mount -o remount,ro,bind /r/inputs/c" in script and "--bounding-set=-sys_admin" in script
    assert read_only_wrapper("root", ["/x"], ["t"])[:4] == ["unshare", "--mount", "--propagation", "private"]
    note = permission_bits_note("data", "u@h:22", "")
    assert note.startswith("input data: read-only by permission bits only on u@h:22") and "no reason given" in note


def test_a_container_on_an_ssh_host_gets_docker_read_only_binds() -> None:
    argv = docker_run_argv(image="img", argv=["python", "m.py"], name="c", run_name="r", remote="/w/r", env={},
                           network=None, gpus=None, user=None, shm_size=None, read_only=("/w/r/inputs/data",))
    assert argv[argv.index("/w/r:/w/r") + 3:][:2] == ["-v", "/w/r/inputs/data:/w/r/inputs/data:ro"]
