"""conda environments: py-rattler solving and installing from a real local channel (built by the
``conda_channel`` fixture), the pip section installed with uv, and the errors a user sees."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine.entities import EnvironmentSpec
from engine.environments.build import BuildEvent, BuildLog, ensure_built, spec_hash
from engine.environments.build.conda import resolve_channels, split_dependencies
from engine.errors import EnvBuildFailed, InvalidSpec


def conda_spec(channel: Path | str, deps: list, name: str = "condaenv", source: str | None = None) -> EnvironmentSpec:
    return EnvironmentSpec(name=name, conda={"name": name, "channels": [str(channel)], "dependencies": deps},
                           conda_source=source)


def test_solve_install_and_import_from_a_local_channel(conda_channel: Path, tmp_path: Path) -> None:
    events: list[BuildEvent] = []
    log_file = tmp_path / "20_image_build_log.txt"
    spec = conda_spec(conda_channel.as_uri(), ["python=3.11", "mymodule", "hello"])
    built = ensure_built(spec, tmp_path / "cache", BuildLog(log_file, events.append))

    assert built.kind == "conda" and not built.cached
    prefix = Path(built.prefix or "")
    assert prefix == tmp_path / "cache" / built.spec_hash / "env"
    assert built.interpreter == str(prefix / "bin" / "python")
    out = subprocess.run([built.interpreter, "-c", "import mymodule; print(mymodule.VERSION, mymodule.__file__)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "1.0" and out[1].startswith(str(prefix / "lib"))
    # The solver picked libgreet 2.0 for hello, and hello's prefix placeholder holds the FINAL
    # prefix although it was installed into the temporary build folder.
    hello = subprocess.run([str(prefix / "bin" / "hello")], capture_output=True, text=True, check=True).stdout
    assert "libgreet 2.0" in hello and f"hello ran from {prefix}\n" in hello
    metas = sorted(p.name.rsplit("-", 2)[0] for p in (prefix / "conda-meta").glob("*.json"))
    assert metas == ["hello", "libgreet", "mymodule", "python"]
    text = log_file.read_text()
    assert "==> Solving conda environment" in text and "linking mymodule" in text
    fractions = [e.fraction for e in events if e.kind == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # progress only goes forward
    marker = json.loads((prefix.parent / ".complete").read_text())
    assert marker["kind"] == "conda" and marker["interpreter"] == built.interpreter
    assert marker["spec"]["conda"]["dependencies"] == ["python=3.11", "mymodule", "hello"]


def test_conda_spec_with_a_pip_section(conda_channel: Path, tmp_path: Path) -> None:
    """The usual conda file: python, `- pip`, and a pip: section (six, installed by uv from PyPI or
    this machine's pip indexes) into the env's python."""
    spec = conda_spec(conda_channel, ["python=3.11", "mymodule", "pip", {"pip": ["six"]}])
    log_file = tmp_path / "log.txt"
    built = ensure_built(spec, tmp_path / "cache", BuildLog(log_file))
    out = subprocess.run([built.interpreter, "-c", "import six, mymodule; print(six.__file__)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith(str(Path(built.prefix or "") / "lib"))  # into the env, not the host python
    text = log_file.read_text()
    assert "no 'pip' package" in text  # `- pip` is dropped when the channels have none
    assert " pip install " in text and "+ six==" in text


def test_channel_paths_relative_to_the_conda_file(tmp_path: Path) -> None:
    (tmp_path / "proj" / "chan").mkdir(parents=True)
    src = str(tmp_path / "proj" / "conda.yml")
    assert resolve_channels(["./chan"], src) == [(tmp_path / "proj" / "chan").as_uri()]
    assert resolve_channels([str(tmp_path)], src) == [tmp_path.as_uri()]
    assert resolve_channels(["file:///x/y", "conda-forge"], src) == ["file:///x/y", "conda-forge"]
    assert resolve_channels(None, src) == ["conda-forge"]
    assert split_dependencies({"dependencies": ["python=3.11", "pip", {"pip": ["six", " "]}, None]}) == (
        ["python=3.11", "pip"], ["six"])


def test_unsatisfiable_spec_names_the_conflict(conda_channel: Path, tmp_path: Path) -> None:
    spec = conda_spec(conda_channel, ["hello", "libgreet <2"])  # hello needs libgreet >=2
    log_file = tmp_path / "log.txt"
    with pytest.raises(EnvBuildFailed) as info:
        ensure_built(spec, tmp_path / "cache", BuildLog(log_file))
    msg = str(info.value)
    assert msg.startswith("the conda dependencies of environment 'condaenv' cannot be satisfied")
    assert "hello 0.1 would require" in msg and "libgreet >=2" in msg  # rattler's explanation
    assert "requested: hello, libgreet <2" in msg
    assert "command: rattler solve" in msg and "exit code: 1" in msg
    assert "ERROR" in log_file.read_text()
    h = spec_hash(spec)
    assert not (tmp_path / "cache" / h).exists() and not list((tmp_path / "cache").glob(f"{h}.tmp-*"))


def test_unknown_conda_package(conda_channel: Path, tmp_path: Path) -> None:
    with pytest.raises(EnvBuildFailed) as info:
        ensure_built(conda_spec(conda_channel, ["python", "no-such-conda-pkg"]), tmp_path / "cache", BuildLog(None))
    assert "No candidates were found for no-such-conda-pkg" in str(info.value)


def test_unreachable_named_channel_is_a_clear_error(tmp_path: Path) -> None:
    """A named channel is fetched from conda.anaconda.org; offline (or when it does not exist) the
    build fails at once and says how to build offline."""
    spec = conda_spec("trainyard-no-such-channel-xyz", ["python"])
    with pytest.raises(EnvBuildFailed) as info:
        ensure_built(spec, tmp_path / "cache", BuildLog(None))
    msg = str(info.value)
    assert "trainyard-no-such-channel-xyz" in msg
    assert "local channel" in (info.value.hint or "") or "cannot be satisfied" in msg


def test_invalid_match_spec_is_invalid_spec(conda_channel: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec) as info:
        ensure_built(conda_spec(conda_channel, ["python", "numpy >>= 1"], source="/p/conda.yml"),
                     tmp_path / "cache", BuildLog(None))
    assert "numpy >>= 1" in str(info.value) and str(info.value).startswith("/p/conda.yml")


def test_pip_section_without_python_fails_clearly(conda_channel: Path, tmp_path: Path) -> None:
    with pytest.raises(EnvBuildFailed) as info:
        ensure_built(conda_spec(conda_channel, ["hello", {"pip": ["six"]}]), tmp_path / "cache", BuildLog(None))
    assert "no python" in str(info.value)
