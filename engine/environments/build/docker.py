"""Docker environments: a client for the local daemon, and images built per environment spec.

``build_image(spec, log)`` returns a local image tag ``trainyard-env:<hash[:16]>`` where the hash
is the spec's build hash (plus the content hash of a user build context). When that tag already
exists the image is reused at once (the log says so and shows no build step). Otherwise:

- ``spec.build_context``: the user's folder and Dockerfile, built as they are;
- ``spec.image`` with nothing on top (no pip requirements, no conda spec): the image is only
  tagged, so the cache and the runs treat every Docker environment alike;
- ``spec.image`` plus pip requirements and/or a conda spec: a generated Dockerfile (below).

The generated Dockerfile copies the requirement files into ``/opt/trainyard/build`` and runs
``install.sh`` there, which decides inside the image:

- a conda spec and ``micromamba``/``mamba``/``conda`` on the image's PATH: the spec is created as
  the prefix ``/opt/trainyard/conda`` by that tool (the conda YAML's ``pip:`` section included);
- otherwise (the common case offline: Debian/Ubuntu bases carry no conda, and conda channels
  cannot be reached) a venv ``/opt/trainyard/venv`` made with ``python3 -m venv``; the conda
  spec's pip section and those of its conda packages that have a PyPI name are pip-installed
  there. ``python``/``pip`` pins and conda-only packages (``cudatoolkit``, ``cpuonly``, ...) are
  skipped, and the build log lists what was skipped or translated;
- ``pip_requirements`` are pip-installed last, into whichever of the two was made.

``/opt/trainyard/venv/bin`` and ``/opt/trainyard/conda/bin`` are put first on the image's PATH.

Builds use the daemon's legacy builder through the SDK (``network_mode="host"``: with a daemon
started ``--bridge=none`` that is the only network a build step has) with ``rm``/``forcerm``, so
a failed build leaves no containers behind, and nothing is tagged (a failed build is not cached).

A base image that is not on this machine is pulled first; a pull that fails, or that reports
nothing for ``PULL_STALL_SECONDS``, is an ``EnvBuildFailed`` that says to build or load the image.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import stat
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine.environments.build.daemon import docker_client, docker_host
from engine.errors import EnvBuildFailed, InvalidSpec
from engine.specs import yamlfile
from engine.tracking.inject.trainyard_run.envvars import ENV_DOCKER_PULL_STALL

if TYPE_CHECKING:
    from engine.entities import EnvironmentSpec

IMAGE_REPO = "trainyard-env"
#: A pull that reports no progress for this long is given up (env TRAINYARD_DOCKER_PULL_STALL).
PULL_STALL_SECONDS = 30.0
TAIL_LINES = 40
VENV_PREFIX = "/opt/trainyard/venv"
CONDA_PREFIX = "/opt/trainyard/conda"
BUILD_DIR = "/opt/trainyard/build"

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_NETWORK_ERRORS = (
    "no such host", "dial tcp", "i/o timeout", "timeout", "connection refused", "network is unreachable",
    "tls handshake", "certificate", "x509", "no route to host", "temporary failure in name resolution",
    "could not be reached", "stalled",
)

# conda package names that are not PyPI names (or are conda-only) in the venv fallback.
_CONDA_ONLY = {"python", "pip", "cpuonly", "cudatoolkit", "cuda-toolkit", "pytorch-cuda", "pytorch-mutex",
               "nomkl", "blas", "libblas", "mkl-service", "_libgcc_mutex", "_openmp_mutex", "libgcc-ng",
               "libstdcxx-ng", "openssl", "ca-certificates", "cudnn", "nccl"}
_CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "py-xgboost": "xgboost",
                  "py-lightgbm": "lightgbm", "tensorflow-base": "tensorflow"}


class _Log(Protocol):
    def line(self, text: str) -> None: ...
    def step(self, text: str) -> None: ...
    def progress(self, fraction: float, text: str = "") -> None: ...


class _NullLog:
    def line(self, text: str) -> None:
        pass

    def step(self, text: str) -> None:
        pass

    def progress(self, fraction: float, text: str = "") -> None:
        pass


# The client (docker_host, docker_client) is engine.environments.build.daemon, re-exported here.


# ---------------------------------------------------------------------------------- image tags


def context_digest(context: Path, dockerfile: str = "Dockerfile") -> str:
    """sha256 over what a build of ``context`` sends to the daemon (``.dockerignore`` applied):
    relative paths, file modes and contents."""
    from docker.utils.build import exclude_paths

    root = Path(context)
    patterns: list[str] = []
    ignore = root / ".dockerignore"
    if ignore.exists():
        patterns = [ln.strip() for ln in ignore.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    h = hashlib.sha256()
    for rel in sorted(exclude_paths(str(root), patterns, dockerfile=dockerfile)):
        path = root / rel
        try:
            st = path.lstat()
        except OSError:
            continue
        h.update(f"{rel}\0{stat.S_IMODE(st.st_mode):o}\0".encode())
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        elif stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(path).encode())
        h.update(b"\0")
    return h.hexdigest()


def spec_hash(spec: EnvironmentSpec) -> str:
    """The spec's build hash; for a build context, its content is part of it."""
    if spec.build_context:
        return spec.build_hash({"context_sha256": context_digest(Path(spec.build_context), spec.dockerfile)})
    return spec.build_hash()


def image_tag(spec: EnvironmentSpec) -> str:
    return f"{IMAGE_REPO}:{spec_hash(spec)[:16]}"


def image_exists(client: Any, ref: str) -> bool:
    import docker as docker_sdk

    try:
        client.images.get(ref)
        return True
    except docker_sdk.errors.ImageNotFound:
        return False


# ---------------------------------------------------------------------------------- building


def build_image(spec: EnvironmentSpec, log: _Log | None = None, docker: Any = None) -> str:
    """Build (or find in the local image store) the image of a Docker environment; returns its tag.

    Raises ``EnvBuildFailed`` (failing step + tail of the build log), ``DockerUnavailable``."""
    log = log if log is not None else _NullLog()
    if not (spec.image or spec.build_context):
        raise ValueError(f"environment {spec.reference} is not a Docker environment")
    client = docker if docker is not None else docker_client()
    tag = image_tag(spec)
    if image_exists(client, tag):
        log.line(f"image {tag} is already on this machine: no build")
        _done(log, f"environment {spec.reference} ready: image {tag} (cached)")
        return tag
    t0 = time.monotonic()
    labels = {"trainyard.env.hash": spec_hash(spec)}
    if spec.build_context:
        _build_user_context(client, spec, tag, labels, log)
    else:
        assert spec.image is not None
        ensure_base_image(client, spec.image, log)
        if not spec.conda and not spec.pip_requirements:
            repo, _, version = tag.partition(":")
            client.api.tag(spec.image, repo, version)
            log.line(f"nothing to add on top of {spec.image}: tagged it as {tag}")
        else:
            with tempfile.TemporaryDirectory(prefix="trainyard-docker-") as tmp:
                _write_generated_context(Path(tmp), spec, log)
                _run_build(client, tmp, "Dockerfile", tag, labels, spec, log)
    _done(log, f"environment {spec.reference} ready: image {tag} (built in {time.monotonic() - t0:.1f} s)")
    return tag


def _done(log: _Log, text: str) -> None:
    done = getattr(log, "done", None)
    if callable(done):
        done(text)
    else:
        log.line(text)


def _build_user_context(client: Any, spec: EnvironmentSpec, tag: str, labels: dict[str, str], log: _Log) -> None:
    context = Path(spec.build_context or "")
    where = f"environment {spec.reference}"
    if not context.is_dir():
        raise InvalidSpec(f"{where}: the build context {context} is not a folder",
                          "point `build: path:` at a folder that holds a Dockerfile")
    dockerfile = context / spec.dockerfile
    if not dockerfile.is_file():
        raise InvalidSpec(f"{where}: there is no {spec.dockerfile} in the build context {context}",
                          "add a Dockerfile there or set `build: dockerfile_path:`")
    for base in dockerfile_bases(dockerfile.read_text(errors="replace")):
        ensure_base_image(client, base, log)
    _run_build(client, str(context), spec.dockerfile, tag, labels, spec, log)


def dockerfile_bases(text: str) -> list[str]:
    """The external images a Dockerfile's FROM lines name (not earlier stages, ``scratch`` or
    references with build args, which the daemon resolves itself)."""
    stages: set[str] = set()
    bases: list[str] = []
    joined = re.sub(r"\\\r?\n", " ", text)
    for raw in joined.splitlines():
        words = raw.strip().split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if not args:
            continue
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        if image.lower() in stages or image == "scratch" or "$" in image:
            continue
        if image not in bases:
            bases.append(image)
    return bases


def ensure_base_image(client: Any, image: str, log: _Log) -> None:
    """Make sure ``image`` is on this machine: present, or pulled (giving up when the pull fails
    or stalls)."""
    if image_exists(client, image):
        log.line(f"base image {image} is on this machine")
        return
    from docker.utils import parse_repository_tag

    stall = float(os.environ.get(ENV_DOCKER_PULL_STALL) or PULL_STALL_SECONDS)
    log.step(f"Pulling {image}")
    repo, tag = parse_repository_tag(image)
    if tag is None:
        tag = "latest"
    chunks: queue.Queue[tuple[str, Any]] = queue.Queue()

    def pull() -> None:
        try:
            for chunk in client.api.pull(repo, tag=tag, stream=True, decode=True):
                chunks.put(("chunk", chunk))
            chunks.put(("end", None))
        except Exception as exc:  # noqa: BLE001 - reported below
            chunks.put(("error", exc))

    threading.Thread(target=pull, daemon=True, name=f"pull-{image}").start()
    last_status = None
    reason: str | None = None
    while True:
        try:
            kind, item = chunks.get(timeout=stall)
        except queue.Empty:
            reason = f"the pull stalled: nothing came for {stall:.0f} s"
            break
        if kind == "end":
            break
        if kind == "error":
            reason = getattr(item, "explanation", None) or str(item)
            break
        if "error" in item or "errorDetail" in item:
            reason = item.get("error") or item.get("errorDetail", {}).get("message")
            break
        status = item.get("status")
        if status and status != last_status and "progress" not in item:
            log.line(f"{item.get('id', '')}: {status}".lstrip(": "))
            last_status = status
    if reason is None and image_exists(client, image):
        log.line(f"pulled {image}")
        return
    reason = str(reason or "the daemon reported no error, but the image is still missing")
    if any(marker in reason.lower() for marker in _NETWORK_ERRORS):
        message = f"image {image} is not on this machine and no registry could be reached ({reason})"
    else:
        message = f"image {image} is not on this machine and could not be pulled: {reason}"
    log.line(message)
    raise EnvBuildFailed(
        message,
        "build or load it (docker load / docker import) first, or check its name; "
        "`docker image ls` shows the images this machine has",
    )


def _write_generated_context(ctx: Path, spec: EnvironmentSpec, log: _Log) -> None:
    files = ctx / "trainyard"
    files.mkdir()
    if spec.conda:
        conda = dict(spec.conda)
        (files / "environment.yml").write_text(yamlfile.dump(conda))
        pip_lines, notes = conda_to_pip(conda)
        (files / "conda-pip.txt").write_text("".join(f"{ln}\n" for ln in pip_lines))
        (files / "conda-notes.txt").write_text("".join(f"trainyard: {n}\n" for n in notes))
    if spec.pip_requirements:
        (files / "requirements.txt").write_text("".join(f"{ln}\n" for ln in spec.pip_requirements))
    (files / "install.sh").write_text(INSTALL_SH)
    (ctx / "Dockerfile").write_text(generated_dockerfile(spec))
    log.line(f"generated Dockerfile (FROM {spec.image}):")
    for line in (ctx / "Dockerfile").read_text().splitlines():
        log.line(f"    {line}")


def write_build_context(ctx: Path, spec: EnvironmentSpec, log: _Log) -> None:
    """The generated build context of an image with packages on top (an empty folder `ctx`):
    the Dockerfile, the requirement files and install.sh (for a daemon elsewhere: SSH targets)."""
    _write_generated_context(ctx, spec, log)


def generated_dockerfile(spec: EnvironmentSpec) -> str:
    return (
        f"FROM {spec.image}\n"
        f"COPY trainyard/ {BUILD_DIR}/\n"
        f"RUN sh {BUILD_DIR}/install.sh\n"
        f"ENV PATH={VENV_PREFIX}/bin:{CONDA_PREFIX}/bin:$PATH\n"
    )


# Runs inside the image (any POSIX sh). See the module docstring.
INSTALL_SH = f"""\
set -eu
B={BUILD_DIR}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_PROGRESS_BAR=off PIP_ROOT_USER_ACTION=ignore
tool=""
for t in micromamba mamba conda; do
  if command -v "$t" >/dev/null 2>&1; then tool=$t; break; fi
done
if [ -f "$B/environment.yml" ] && [ -n "$tool" ]; then
  echo "trainyard: creating the conda environment {CONDA_PREFIX} with $tool"
  if [ "$tool" = micromamba ]; then
    micromamba create -y -p {CONDA_PREFIX} -f "$B/environment.yml"
  else
    "$tool" env create -p {CONDA_PREFIX} -f "$B/environment.yml"
  fi
  PY={CONDA_PREFIX}/bin/python
else
  if [ -f "$B/environment.yml" ]; then
    echo "trainyard: the base image has no micromamba/mamba/conda: installing the conda spec's packages from PyPI into a venv"
    cat "$B/conda-notes.txt"
  fi
  command -v python3 >/dev/null 2>&1 || {{ echo "trainyard: the base image has no python3 (needed for a venv)"; exit 1; }}
  echo "trainyard: creating the venv {VENV_PREFIX} with $(python3 -V 2>&1)"
  python3 -m venv {VENV_PREFIX}
  PY={VENV_PREFIX}/bin/python
  if [ -s "$B/conda-pip.txt" ]; then
    echo "trainyard: pip install -r conda-pip.txt"; cat "$B/conda-pip.txt"
    "$PY" -m pip install -r "$B/conda-pip.txt"
  fi
fi
if [ -s "$B/requirements.txt" ]; then
  echo "trainyard: pip install -r requirements.txt"; cat "$B/requirements.txt"
  "$PY" -m pip install -r "$B/requirements.txt"
fi
echo "trainyard: done"
"""


def conda_to_pip(conda: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The pip requirement lines for a conda spec installed without conda: its conda packages
    under their PyPI names (version specs translated) and then its ``pip:`` section. Returns
    (lines, notes for the build log)."""
    lines: list[str] = []
    notes: list[str] = []
    pip_section: list[str] = []
    for dep in conda.get("dependencies") or []:
        if isinstance(dep, dict):
            pip_section.extend(str(p) for p in dep.get("pip") or [])
            continue
        text = str(dep).strip()
        if not text:
            continue
        name, req = _conda_dep_to_pip(text)
        if name in _CONDA_ONLY:
            notes.append(f"skipped conda package {text!r} (not installed with pip)")
            continue
        if req is None:
            notes.append(f"could not translate {text!r}; installing {name} without a version")
            req = name
        if req != text:
            notes.append(f"conda {text!r} -> pip {req!r}")
        lines.append(req)
    return lines + pip_section, notes


def _conda_dep_to_pip(text: str) -> tuple[str, str | None]:
    """``conda-forge::numpy=1.26`` -> ("numpy", "numpy==1.26.*")."""
    spec = text.split("::", 1)[-1].strip()
    spec = spec.split("[", 1)[0].strip()  # drop conda's [build=...] brackets
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    if not m:
        return spec, None
    name, rest = m.group(1).lower(), m.group(2).strip()
    pypi = _CONDA_TO_PYPI.get(name, name)
    if not rest:
        return name, pypi
    if "|" in rest:
        return name, None
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=", 1)[0].strip()  # "=1.26=py311_0": drop the build string
        version = version.rstrip("*").rstrip(".")
        return name, f"{pypi}=={version}.*" if version else pypi
    if rest[0].isdigit():  # "1.26.*" or "1.26.4 py311_0" (version, build)
        version = rest.split()[0]
        return name, f"{pypi}=={version}"
    return name, f"{pypi}{rest.replace(' ', '')}"


def _run_build(client: Any, path: str, dockerfile: str, tag: str, labels: dict[str, str],
               spec: EnvironmentSpec, log: _Log) -> None:
    import docker as docker_sdk

    log.line(f"docker build --network host -t {tag} ({path}, {dockerfile})")
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    current = "the start of the build"
    partial = ""
    last_status = None

    def emit(line: str) -> None:
        nonlocal current
        tail.append(line)
        m = _STEP_RE.match(line)
        if m:
            current = line
            n, total = int(m.group(1)), int(m.group(2))
            log.step(line)
            log.progress((n - 1) / max(total, 1), line)
        else:
            log.line(line)

    error: str | None = None
    try:
        stream = client.api.build(path=path, dockerfile=dockerfile, tag=tag, network_mode="host", rm=True,
                                  forcerm=True, decode=True, labels=labels)
    except (docker_sdk.errors.APIError, docker_sdk.errors.DockerException, TypeError, OSError) as exc:
        raise EnvBuildFailed(f"building the Docker image for environment {spec.reference} failed to "
                             f"start: {getattr(exc, 'explanation', None) or exc}") from exc
    try:
        for chunk in stream:
            if "stream" in chunk:
                partial += chunk["stream"]
                *done, partial = partial.split("\n")
                for line in done:
                    if line.strip():
                        emit(line.rstrip("\r"))
            elif "status" in chunk:
                status = f"{chunk.get('id', '')}: {chunk['status']}".lstrip(": ")
                if status != last_status and "progress" not in chunk:
                    emit(status)
                    last_status = status
            if "errorDetail" in chunk or "error" in chunk:
                error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message") or "unknown error"
                break
    except docker_sdk.errors.APIError as exc:
        error = str(getattr(exc, "explanation", None) or exc)
    except BaseException:
        with contextlib.suppress(Exception):
            stream.close()  # a cancel (the log's handler raised): drop the connection, the daemon stops
        raise
    if partial.strip():
        emit(partial.rstrip())
    if error is None and not image_exists(client, tag):
        error = f"the build ended without producing {tag}"
    if error is not None:
        error = error.strip()
        log.line(f"ERROR: {error}")
        tail_text = "\n".join(f"    {ln}" for ln in tail) or "    (no output)"
        raise EnvBuildFailed(
            f"building the Docker image for environment {spec.reference} failed at {current}: {error}\n"
            f"build log (last lines):\n{tail_text}",
            "the full build log is in 20_image_build_log.txt; fix the failing step and run again",
        )
    log.progress(1.0, f"built {tag}")


def remove_image(client: Any, tag: str) -> bool:
    """Remove a cached environment image (for ``environment prune``); False when it was not there."""
    import docker as docker_sdk

    try:
        client.images.remove(tag, force=True)
        return True
    except docker_sdk.errors.ImageNotFound:
        return False


def list_env_images(client: Any) -> list[str]:
    """Tags of the environment images on this machine (``trainyard-env:*``)."""
    tags: list[str] = []
    for image in client.images.list(name=IMAGE_REPO):
        tags.extend(t for t in image.tags if t.startswith(IMAGE_REPO + ":"))
    return sorted(tags)


__all__ = [
    "IMAGE_REPO", "build_image", "conda_to_pip", "context_digest", "docker_client", "docker_host",
    "dockerfile_bases", "ensure_base_image", "generated_dockerfile", "image_exists", "image_tag",
    "list_env_images", "remove_image", "spec_hash",
]
