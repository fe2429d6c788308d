"""venv environments built with the real uv: a real pip dependency, its console script, errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.entities import EnvironmentSpec
from engine.environments.build import BuildEvent, BuildLog, ensure_built, spec_hash
from engine.environments.build.venv import parse_pip_config, pip_config
from engine.errors import EnvBuildFailed


def test_uv_venv_with_real_pip_dependencies(tmp_path: Path) -> None:
    events: list[BuildEvent] = []
    log_file = tmp_path / "20_image_build_log.txt"
    spec = EnvironmentSpec(name="pipenv", pip_requirements=("pyyaml>=6", "six", "tqdm"))
    built = ensure_built(spec, tmp_path / "cache", BuildLog(log_file, events.append))

    assert built.kind == "venv" and not built.cached and built.spec_hash == spec.build_hash()
    assert built.prefix == str(tmp_path / "cache" / built.spec_hash / "env")
    assert built.interpreter == f"{built.prefix}/bin/python"
    code = "import yaml, six, sys; print(yaml.safe_dump({'a': 1}).strip(), sys.prefix)"
    out = subprocess.run([built.interpreter, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["a:", "1", built.prefix]
    # A console script still runs after the build folder was renamed into place (relocatable venv).
    tqdm = subprocess.run([f"{built.prefix}/bin/tqdm", "--version"], check=False, capture_output=True, text=True)
    assert tqdm.returncode == 0, tqdm.stderr
    # The log has uv's own output, line by line, and the steps.
    text = log_file.read_text()
    assert "$ " in text and " venv " in text and " pip install " in text
    assert "+ pyyaml==" in text and "+ six==" in text
    steps = [e.message for e in events if e.kind == "step"]
    assert any("Creating virtual environment" in s for s in steps)
    assert any("Installing 3 pip requirement(s)" in s for s in steps)
    assert events[-1].kind == "done"
    # Nothing half-built lies around: only the finished folder, its lock and uv's cache.
    names = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert names == sorted([built.spec_hash, f"{built.spec_hash}.lock", "uv-cache"])
    # Installs hardlink from uv's cache (same filesystem): the venv does not copy the wheels.
    six_py = next(Path(built.prefix).glob("lib/python*/site-packages/six.py"))
    assert os.stat(six_py).st_nlink >= 2


def test_unknown_pip_package_is_named_and_not_cached(tmp_path: Path) -> None:
    spec = EnvironmentSpec(name="bad", pip_requirements=("six", "trainyard-no-such-package-xyz==1.0"))
    log_file = tmp_path / "log.txt"
    with pytest.raises(EnvBuildFailed) as info:
        ensure_built(spec, tmp_path / "cache", BuildLog(log_file))
    msg = str(info.value)
    assert "'trainyard-no-such-package-xyz'" in msg.splitlines()[0]
    assert "command: " in msg and " pip install " in msg and "exit code: 1" in msg
    assert "No solution found" in msg  # the tail of uv's own output
    assert info.value.hint and "trainyard-no-such-package-xyz" in info.value.hint
    assert "ERROR: build failed" in log_file.read_text()
    cache = tmp_path / "cache"
    h = spec_hash(spec)
    assert not (cache / h).exists() and not list(cache.glob(f"{h}.tmp-*"))


def test_conflicting_pins_say_so(tmp_path: Path) -> None:
    spec = EnvironmentSpec(name="pins", pip_requirements=("six==1.17.0", "six<1.10"))
    with pytest.raises(EnvBuildFailed) as info:
        ensure_built(spec, tmp_path / "cache", BuildLog(None))
    first = str(info.value).splitlines()[0]
    assert "cannot be satisfied together" in first
    assert "six==1.17.0 and six<1.10" in str(info.value)  # uv's explanation is in the tail


def test_no_matching_version_names_the_requirement(tmp_path: Path) -> None:
    spec = EnvironmentSpec(name="pin", pip_requirements=("six==99.0",))
    with pytest.raises(EnvBuildFailed) as info:
        ensure_built(spec, tmp_path / "cache", BuildLog(None))
    assert "'six==99.0'" in str(info.value).splitlines()[0] and "matches no version" in str(info.value)


def test_pip_config_is_parsed_for_uv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    cons = tmp_path / "constraints.txt"
    cons.write_text("torch<=2\n")
    text = (f":env:.find-links='{wheels}'\nglobal.find-links='{wheels} /nonexistent/dir'\n"
            f"global.extra-index-url='file://{tmp_path} file:///nonexistent https://example.org/simple'\n"
            f"global.constraint='{cons}'\nglobal.cert='/etc/ssl/certs/x.pem'\n")
    cfg = parse_pip_config(text)
    assert cfg.find_links == (str(wheels),)  # missing local folders are dropped (uv fails on them)
    assert cfg.extra_index_urls == (f"file://{tmp_path}", "https://example.org/simple")
    assert cfg.constraints == (str(cons),)
    args = cfg.uv_args()
    assert args[:2] == ["--find-links", str(wheels)]
    assert "--index-strategy" in args and ["--constraint", str(cons)] == args[-2:]
    assert parse_pip_config("").uv_args() == []


def test_this_machines_pip_find_links_are_used() -> None:
    """Where pip is configured with local wheels (this machine: /opt/wheels), uv gets them too."""
    res = subprocess.run(["python3", "-m", "pip", "config", "list"], check=False, capture_output=True,
                         text=True)
    configured = [line for line in res.stdout.splitlines() if ".find-links=" in line]
    cfg = pip_config()
    if not configured:
        assert cfg.find_links == ()
    for line in configured:
        for value in line.split("=", 1)[1].strip("'\"").split():
            if Path(value).exists():
                assert value in cfg.find_links
