"""The wheel installs anywhere: built from the checkout's files, installed with its dependencies
into a fresh venv outside the checkout, it runs a job, lists the curated environments, renders a
studio screenshot with its icons, ships the desktop entry, and claims no generic top-level import
name (no `engine` or `studio` in site-packages; docs/packaging.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.environments.build.venv import pip_config, uv_bin

REPO = Path(__file__).resolve().parents[1]
# What the build reads: the packages, their data, the metadata (setup.py, pyproject.toml).
SOURCES = (
    "engine",
    "studio",
    "trainyard",
    "resources",
    "docs",
    "packaging",
    "setup.py",
    "pyproject.toml",
    "README.md",
)


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "screenshots", ".trainyard")
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


def _uv_index_args() -> list[str]:
    """This machine's pip configuration (find-links, indexes) as uv options."""
    cfg = pip_config()
    args = [f"--find-links={v}" for v in cfg.find_links]
    if cfg.index_url:
        args.append(f"--index-url={cfg.index_url}")
    args += [f"--extra-index-url={v}" for v in cfg.extra_index_urls]
    return args


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(1500)
def test_the_wheel_installs_into_a_fresh_venv_and_runs_a_job_and_the_studio(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _copy_sources(src)
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        dict(os.environ),
        tmp_path,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("trainyard-*.whl")

    venv = tmp_path / "venv"
    made = _run([uv_bin(), "venv", "-q", "-p", sys.executable, str(venv)], dict(os.environ), tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run(
        [uv_bin(), "pip", "install", "-q", "--python", str(python), *_uv_index_args(), str(wheel)],
        dict(os.environ),
        tmp_path,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            dict(os.environ),
            tmp_path,
        ).stdout.strip()
    )
    assert (site / "trainyard" / "_app" / "engine").is_dir()
    assert not (site / "engine").exists() and not (site / "studio").exists()
    assert (venv / "share" / "applications" / "trainyard.desktop").is_file()
    assert (venv / "share" / "icons" / "hicolor" / "scalable" / "apps" / "trainyard.svg").is_file()

    # Outside the checkout, with nothing of it on the path.
    home = tmp_path / "outside"
    (home / "proj").mkdir(parents=True)
    (home / "proj" / "hello.py").write_text("print('hello from the wheel', flush=True)\n")
    (home / "proj" / "job.yml").write_text("code: .\ncommand: python hello.py\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        TRAINYARD_WORKSPACE=str(home / "ws"),
        QT_QPA_PLATFORM="offscreen",
    )

    # A plain Python of that venv has no `engine` to import: the wheel claims only `trainyard`.
    plain = _run([str(python), "-c", "import engine"], env, home)
    assert plain.returncode != 0 and "No module named 'engine'" in plain.stderr, plain.stderr
    where = _run([str(python), "-c", "import trainyard, engine; print(engine.__file__)"], env, home)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout

    job = _run(["trainyard", "job", "create", "-f", "proj/job.yml", "--stream"], env, home, timeout=600)
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
    assert "hello from the wheel" in job.stdout
    listed = _run(["trainyard", "job", "list", "-o", "tsv", "--query", "[].status"], env, home)
    assert listed.stdout.split() == ["Completed"], listed.stdout + listed.stderr

    envs = _run(["trainyard", "environment", "list", "-o", "tsv", "--query", "[].name"], env, home)
    assert envs.returncode == 0, envs.stderr
    assert "trainyard-python" in envs.stdout.split(), envs.stdout  # curated: package data

    shot = home / "runs.png"
    studio = _run(["trainyard", "--screenshot", str(shot)], env, home, timeout=600)
    assert studio.returncode == 0, studio.stdout[-3000:] + studio.stderr[-3000:]
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a painted window, not an empty image
