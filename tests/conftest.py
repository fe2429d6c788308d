"""Session-wide test settings and the real PostgreSQL server fixture.

At import (before any test module imports the engine or Qt):
- Qt renders offscreen unless the caller chose a platform (xvfb-run tests set ``xcb``).
- System metrics are off (``TRAINYARD_SYSTEM_METRICS_INTERVAL=0``): a run that happens to last
  longer than the sampling interval on a slow machine would otherwise get extra ``system/...``
  metrics that tests counting a run's metrics do not expect; their own tests turn them on.
- ``TRAINYARD_HOME`` and the XDG data/config/state dirs point into a throwaway folder, and
  ``TRAINYARD_WORKSPACE`` is dropped, so no test reads or writes the user's real workspace or
  settings; a test that wants a workspace sets one with ``monkeypatch``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="trainyard-test-home-"))
os.environ["TRAINYARD_HOME"] = str(_SESSION_HOME)
for _var, _sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state")):
    os.environ[_var] = str(_SESSION_HOME / _sub)
os.environ.pop("TRAINYARD_WORKSPACE", None)
os.environ["TRAINYARD_SYSTEM_METRICS_INTERVAL"] = "0"


@pytest.fixture(autouse=True)
def _own_env_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test gets its own environment build cache (the per-user cache is shared by every
    workspace): no test sees another's builds, nor the user's. It goes when the test ends: a
    build with PyTorch is gigabytes (uv's cache and the venv), and the whole suite's would fill
    the disk before the suite ends (as it once did on CI)."""
    cache = tmp_path_factory.mktemp("envcache")
    monkeypatch.setenv("TRAINYARD_ENV_CACHE", str(cache))
    yield
    shutil.rmtree(cache, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_bindir() -> Path:
    """The bin dir of the newest PostgreSQL server installed the Debian way."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if (d / "pg_ctl").exists()]
    if not found:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin. "
            "Run the tests with ./test.sh, which installs Debian's `postgresql` package.",
            pytrace=False,
        )

    def version(d: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in d.parent.name.split(".") if x.isdigit())

    return max(found, key=version)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server for this test session, as an SQLAlchemy URL.

    PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system
    user (the Debian package creates it). It listens on 127.0.0.1 only, on a free port, plus a
    unix socket in its own temp folder; trust auth; fsync off (the data is thrown away).
    """
    bindir = _pg_bindir()
    as_pg: list[str] = []
    root = tempfile.mkdtemp(prefix="trainyard-pg-")
    if os.geteuid() == 0:
        try:
            import pwd

            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root but there is no `postgres` user; run ./test.sh", pytrace=False)
        os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
        as_pg = ["runuser", "-u", "postgres", "--"]

    data, log = os.path.join(root, "data"), os.path.join(root, "server.log")

    def pg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*as_pg, *args], capture_output=True, text=True, timeout=120)

    def fail(what: str, proc: subprocess.CompletedProcess[str]) -> None:
        tail = Path(log).read_text(errors="replace")[-3000:] if os.path.exists(log) else ""
        pytest.fail(
            f"{what} failed (exit {proc.returncode}): {proc.args}\n{proc.stdout}{proc.stderr}{tail}",
            pytrace=False,
        )

    started = False
    try:
        proc = pg(str(bindir / "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        if proc.returncode:
            fail("initdb", proc)
        base_conf = Path(data, "postgresql.conf").read_text()
        for _attempt in range(3):  # another process may grab the free port before the server does
            port = _free_port()
            Path(data, "postgresql.conf").write_text(
                base_conf
                + "\nlisten_addresses = '127.0.0.1'\n"
                f"port = {port}\n"
                f"unix_socket_directories = '{root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
            proc = pg(str(bindir / "pg_ctl"), "-D", data, "-l", log, "-w", "-t", "60", "start")
            if proc.returncode == 0:
                started = True
                break
        if not started:
            fail("pg_ctl start", proc)
        proc = pg(str(bindir / "createdb"), "-h", root, "-p", str(port), "-U", "postgres", "trainyard_test")
        if proc.returncode:
            fail("createdb", proc)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/trainyard_test"
    finally:
        if started:
            pg(str(bindir / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL server, dropped after the test: engines
    that look at every active run of their store (reconcile) see only this test's runs."""
    import uuid

    import sqlalchemy as sa

    url = sa.engine.make_url(postgres_url)
    name = f"trainyard_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:  # FORCE: a supervisor a failed test left may still be connected
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


SLURM_SETUP = Path(__file__).resolve().parent / "infra" / "slurm_setup.sh"
SLURM_DIR = "/tmp/trainyard-slurm"


@pytest.fixture(scope="session")
def slurm() -> dict[str, str]:
    """A real one-node Slurm cluster (munged, slurmctld, slurmd), started once per session by
    tests/infra/slurm_setup.sh (~2 s; reused when already running). SLURM_CONF is exported to this
    process, and so to every run supervisor it starts. When Slurm cannot start, the test FAILS
    with why. Returns {"SLURM_CONF": ..., "SLURM_PARTITION": "debug"}."""
    try:
        res = subprocess.run(["bash", str(SLURM_SETUP)], check=False, env={**os.environ, "DIR": SLURM_DIR},
                             capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.fail("tests/infra/slurm_setup.sh did not finish within 600 s", pytrace=False)
    if res.returncode != 0:
        pytest.fail(f"Slurm could not start: tests/infra/slurm_setup.sh failed ({res.returncode}):\n"
                    f"{res.stderr[-4000:]}", pytrace=False)
    settings = dict(line.removeprefix("export ").split("=", 1) for line in res.stdout.splitlines()
                    if line.startswith("export "))
    os.environ.update(settings)  # the engine's run supervisors inherit it
    return settings
