"""Environment YAML, conda files and requirements files -> EnvironmentSpec.

What a user checks: the files they wrote are read the way they meant (paths relative to the
YAML, includes read in, conda packages normalised), and every mistake is an error that names
the file, the line and the key.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.errors import InvalidSpec, NotFound, TrainyardError
from engine.specs.environment import (
    load_environment_yaml,
    read_conda_file,
    read_requirements,
    spec_from_inline,
)
from engine.specs.jobs import load_job

CONDA = """\
name: project-env
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.11
  - numpy=1.26
  - pip
  - pip:
    - requests==2.32.3
    - -r extra-requirements.txt
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def error_of(fn, *args, **kwargs) -> TrainyardError:  # type: ignore[no-untyped-def]
    with pytest.raises(TrainyardError) as info:
        fn(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- valid files
def test_conda_environment_yaml_reads_files_relative_to_itself(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project, "envs/conda.yml", CONDA)
    write(project, "envs/extra-requirements.txt", "# extra\nrich==13.7.1\n")
    env_file = write(project, "env.yml", """\
        $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
        name: my-env
        description: for the project
        conda_file: envs/conda.yml
        environment_variables:
          OMP_NUM_THREADS: 4
          USE_AMP: true
        """)
    spec = load_environment_yaml(env_file)
    assert spec.name == "my-env" and spec.version is None and spec.description == "for the project"
    assert spec.kind == "conda"
    assert spec.conda == {
        "name": "project-env",
        "channels": ["conda-forge", "defaults"],  # channel order is priority: kept
        "dependencies": ["numpy=1.26", "pip", "python=3.11",  # packages sorted
                         {"pip": ["requests==2.32.3", "rich==13.7.1"]}],  # pip in order, -r read in
    }
    assert spec.conda_source == str((project / "envs" / "conda.yml").resolve())
    assert spec.environment_variables == {"OMP_NUM_THREADS": "4", "USE_AMP": "true"}


def test_the_order_of_conda_packages_does_not_change_the_build(tmp_path: Path) -> None:
    a = write(tmp_path / "a", "conda.yml", "dependencies: [python=3.11, numpy, scipy]\n")
    b = write(tmp_path / "b", "conda.yml", "dependencies: [scipy, python=3.11, numpy]\n")
    env_a = write(tmp_path / "a", "env.yml", "name: a\nconda_file: conda.yml\n")
    env_b = write(tmp_path / "b", "env.yml", "name: b\nconda_file: conda.yml\n")
    assert read_conda_file(a) == read_conda_file(b)
    assert load_environment_yaml(env_a).build_hash() == load_environment_yaml(env_b).build_hash()


def test_requirements_file_keeps_order_drops_comments_and_reads_includes(tmp_path: Path) -> None:
    write(tmp_path, "base.txt", "numpy==2.1.0  # pinned\n\n--extra-index-url https://example.invalid/simple\n")
    write(tmp_path, "constraints.txt", "numpy<3\n")
    req = write(tmp_path, "requirements.txt", """\
        # the project's packages
        torch==2.14.1
        -r base.txt

        pandas>=2 \\
            ; python_version >= "3.9"
        -c constraints.txt
        git+https://example.invalid/pkg.git#egg=pkg
        """)
    assert read_requirements(req) == (
        "torch==2.14.1",
        "numpy==2.1.0",
        "--extra-index-url https://example.invalid/simple",
        'pandas>=2      ; python_version >= "3.9"',
        f"-c {(tmp_path / 'constraints.txt').resolve()}",
        "git+https://example.invalid/pkg.git#egg=pkg",
    )


def test_pip_environment_yaml(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "scikit-learn==1.9.1\n")
    spec = load_environment_yaml(write(tmp_path, "env.yml", "name: sk\nversion: 3\npip_requirements: requirements.txt\n"))
    assert spec.kind == "venv" and spec.version == 3
    assert spec.pip_requirements == ("scikit-learn==1.9.1",)
    assert spec.pip_source == str((tmp_path / "requirements.txt").resolve())


def test_docker_build_context_is_made_absolute(tmp_path: Path) -> None:
    write(tmp_path, "docker-context/docker/train.Dockerfile", "FROM python:3.11-slim\n")
    spec = load_environment_yaml(write(tmp_path, "env.yml", """\
        name: built
        build:
          path: docker-context
          dockerfile_path: docker/train.Dockerfile
        """))
    assert spec.kind == "docker"
    assert spec.build_context == str((tmp_path / "docker-context").resolve())
    assert spec.dockerfile == "docker/train.Dockerfile"


def test_image_with_conda_on_top(tmp_path: Path) -> None:
    write(tmp_path, "conda.yml", "dependencies: [python=3.11]\n")
    spec = load_environment_yaml(write(tmp_path, "env.yml", "name: img\nimage: python:3.11-slim\nconda_file: conda.yml\n"))
    assert spec.kind == "docker" and spec.image == "python:3.11-slim" and spec.conda is not None


def test_user_managed_interpreter_relative_to_the_yaml(tmp_path: Path) -> None:
    spec = load_environment_yaml(write(tmp_path, "env.yml", "name: mine\npython:\n  interpreter_path: ./venv/bin/python\n"))
    assert spec.kind == "user" and spec.user_managed
    assert spec.interpreter_path == str(tmp_path.resolve() / "venv" / "bin" / "python")


def test_spec_from_inline_uses_the_given_folder(tmp_path: Path) -> None:
    write(tmp_path, "deps/conda.yml", "dependencies: [python=3.11]\n")
    spec = spec_from_inline({"conda_file": "deps/conda.yml"}, tmp_path, "job.yml")
    assert spec.name == "CliV2AnonymousEnvironment" and spec.kind == "conda"
    assert spec.conda_source == str((tmp_path / "deps" / "conda.yml").resolve())
    err = error_of(spec_from_inline, {"image": "x", "tags": {}}, tmp_path)
    assert isinstance(err, InvalidSpec) and "unknown key 'tags'" in err.message


# --------------------------------------------------------------------------- job YAML environments
def test_job_inline_environment_becomes_the_spec(tmp_path: Path) -> None:
    write(tmp_path, "env/conda.yml", "dependencies: [python=3.11, {pip: [requests]}]\n")
    job = write(tmp_path, "job.yml", """\
        command: python train.py
        environment:
          conda_file: env/conda.yml
          image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
        """)
    spec = load_job(job)
    assert spec.environment is None
    assert spec.environment_spec is not None and spec.environment_spec.kind == "docker"
    assert spec.environment_spec.conda == {"name": None, "channels": [],
                                           "dependencies": ["python=3.11", {"pip": ["requests"]}]}


@pytest.mark.parametrize("ref", ["azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33", "my-env:2",
                                 "azureml:my-env@latest",
                                 "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"])
def test_job_environment_reference_is_kept_for_the_engine(tmp_path: Path, ref: str) -> None:
    spec = load_job(write(tmp_path, "job.yml", f"command: echo\nenvironment: {ref}\n"))
    assert spec.environment == ref and spec.environment_spec is None


def test_job_environment_reference_with_a_bad_label_names_the_line(tmp_path: Path) -> None:
    job = write(tmp_path, "job.yml", "command: echo\ncompute: local\nenvironment: azureml:my-env@stable\n")
    err = error_of(load_job, job)
    assert isinstance(err, InvalidSpec) and err.line == 3 and err.field == "environment"
    assert f"{job}:3:" in err.message and "'stable'" in err.message


def test_job_inline_conda_file_that_does_not_exist_names_the_job_line(tmp_path: Path) -> None:
    job = write(tmp_path, "job.yml", "command: echo\nenvironment:\n  image: python:3.11\n  conda_file: nope.yml\n")
    err = error_of(load_job, job)
    assert isinstance(err, NotFound)
    assert f"{job}:4:" in err.message and "nope.yml" in err.message


def test_job_inline_malformed_conda_file_names_the_conda_file_line(tmp_path: Path) -> None:
    conda = write(tmp_path, "conda.yml", "dependencies:\n  - python=3.11\n  - pip:\n    - torch\n   - bad\n")
    job = write(tmp_path, "job.yml", "command: echo\nenvironment:\n  conda_file: conda.yml\n")
    err = error_of(load_job, job)
    assert isinstance(err, InvalidSpec) and err.file == str(conda.resolve()) and err.line == 5


# --------------------------------------------------------------------------- errors: environment YAML
def test_unknown_key_names_file_line_key_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "env.yml", "name: e\ndescription: x\nimgae: python:3.11\n")
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, InvalidSpec)
    assert err.message == f"{path}:3: unknown key 'imgae'" and err.field == "imgae"
    assert err.hint == "did you mean 'image'?"


def test_unknown_nested_key_names_its_own_line(tmp_path: Path) -> None:
    write(tmp_path, "ctx/Dockerfile", "FROM scratch\n")
    path = write(tmp_path, "env.yml", "name: e\nbuild:\n  path: ctx\n  dockerfle_path: Dockerfile\n")
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, InvalidSpec) and err.line == 4 and err.field == "build.dockerfle_path"
    assert err.hint == "did you mean 'dockerfile_path'?"


@pytest.mark.parametrize(("text", "line", "field", "needle"), [
    ("name: e\nenvironment_variables: [A, B]\n", 2, "environment_variables", "expected a mapping"),
    ("name: e\nimage: [python]\n", 2, "image", "expected a string"),
    ("name: e\npython:\n  user_managed_dependencies: yes please\n", 3, "python.user_managed_dependencies",
     "true or false"),
    ("name: [e]\n", 1, "name", "expected a string"),
])
def test_wrong_types_name_line_and_key(tmp_path: Path, text: str, line: int, field: str, needle: str) -> None:
    path = write(tmp_path, "env.yml", text)
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, InvalidSpec) and err.line == line and err.field == field, err
    assert needle in err.message and f"{path}:{line}:" in err.message


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("description: no name\nimage: python:3.11\n", None, "'name' is missing"),
    ("name: my env\nimage: python:3.11\n", 1, "not a valid environment name"),
    ("name: e\nversion: latest\n", 2, "not a whole number"),
    ("name: e\nversion: 0\n", 2, "not a whole number"),
    ("name: e\nimage: python:3.11\nbuild:\n  path: .\n", 3, "either `image:` or `build:`"),
    ("name: e\nconda_file: c.yml\npip_requirements: r.txt\n", 3, "either `conda_file:` or `pip_requirements:`"),
    ("name: e\npip_requirements: r.txt\npython:\n  interpreter_path: /usr/bin/python3\n", 2, "user-managed"),
    ("name: e\nconda_file: https://example.invalid/conda.yml\n", 2, "must be a local file"),
    ("- name: e\n", 1, "must be a YAML mapping"),
])
def test_invalid_environment_files(tmp_path: Path, text: str, line: int | None, needle: str) -> None:
    write(tmp_path, "c.yml", "dependencies: [python]\n")
    write(tmp_path, "r.txt", "numpy\n")
    path = write(tmp_path, "env.yml", text)
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, InvalidSpec) and needle in err.message, err
    assert err.hint
    if line is not None:
        assert err.line == line and f"{path}:{line}:" in err.message


@pytest.mark.parametrize(("text", "line", "what"), [
    ("name: e\nconda_file: missing.yml\n", 2, "conda file"),
    ("name: e\npip_requirements: missing.txt\n", 2, "requirements file"),
    ("name: e\nbuild:\n  path: no-such-folder\n", 3, "build context"),
    ("name: e\nbuild:\n  path: .\n  dockerfile_path: Missing.Dockerfile\n", 4, "Dockerfile"),
])
def test_missing_files_name_the_line_that_refers_to_them(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = write(tmp_path, "env.yml", text)
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, NotFound) and f"{path}:{line}:" in err.message and what in err.message, err


def test_malformed_environment_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "env.yml", "name: e\nimage: python:3.11\n  description: [oops\n")
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, InvalidSpec) and err.file == str(path) and err.line == 3


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "env.yml", "name: e\nimage: a\nimage: b\n")
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, InvalidSpec) and err.line == 3 and "twice" in err.message


# --------------------------------------------------------------------------- errors: conda files
def test_malformed_conda_yaml_names_the_conda_file_and_line(tmp_path: Path) -> None:
    conda = write(tmp_path, "conda.yml", "channels:\n  - conda-forge\ndependencies:\n  - python=3.11\n - numpy\n")
    path = write(tmp_path, "env.yml", "name: e\nconda_file: conda.yml\n")
    err = error_of(load_environment_yaml, path)
    assert isinstance(err, InvalidSpec) and err.file == str(conda.resolve()) and err.line == 5
    assert err.message.startswith(f"{conda.resolve()}:5: malformed YAML")


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("channels: [conda-forge]\n", 1, "no `dependencies:`"),
    ("", 1, "empty"),
    ("dependencies: numpy\n", 1, "must be a list"),
    ("channels: conda-forge\ndependencies: [numpy]\n", 1, "`channels` must be a list"),
    ("channels: [conda-forge, [x]]\ndependencies: [numpy]\n", 1, "not a channel name"),
    ("dependencies:\n  - numpy\n  - numpy: 1.26\n", 3, "is not a package"),
    ("dependencies:\n  - numpy\n  - 3.11\n", 3, "not a package spec"),
    ("dependencies:\n  - pip:\n    - a\n  - pip:\n    - b\n", 4, "second `- pip:` section"),
    ("dependencies:\n  - pip: requests\n", 2, "`pip:` must be a list"),
    ("dependencies:\n  - pip:\n    - [x]\n", 3, "is not a string"),
    ("dependencies: [numpy]\nchanels: [conda-forge]\n", 2, "unknown key 'chanels'"),
    ("name: [x]\ndependencies: [numpy]\n", 1, "`name` must be a string"),
])
def test_invalid_conda_files_name_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    conda = write(tmp_path, "conda.yml", text)
    err = error_of(read_conda_file, conda)
    assert isinstance(err, InvalidSpec) and needle in err.message, err
    assert err.file == str(conda) and err.line == line, err
    assert err.hint


def test_conda_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    err = error_of(read_conda_file, write(tmp_path, "conda.yml", "dependencies: [numpy]\nchanels: [x]\n"))
    assert err.hint == "did you mean 'channels'?"


def test_conda_env_export_prefix_is_dropped(tmp_path: Path) -> None:
    conda = write(tmp_path, "conda.yml", "name: x\ndependencies: [numpy]\nprefix: /home/me/miniconda3/envs/x\n")
    assert "prefix" not in read_conda_file(conda)


# --------------------------------------------------------------------------- errors: requirements
def test_missing_include_names_the_including_line(tmp_path: Path) -> None:
    req = write(tmp_path, "requirements.txt", "numpy\n-r nope.txt\n")
    err = error_of(read_requirements, req)
    assert isinstance(err, NotFound) and f"{req.resolve()}:2:" in err.message and "nope.txt" in err.message


def test_circular_include_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "numpy\n-r b.txt\n")
    write(tmp_path, "b.txt", "-r a.txt\n")
    err = error_of(read_requirements, tmp_path / "a.txt")
    assert isinstance(err, InvalidSpec) and "circular" in (err.hint or "")
