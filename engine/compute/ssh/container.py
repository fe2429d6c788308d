"""`docker: true` SSH targets: the job's image is built by the host's Docker daemon and the script
runs in a container there. Everything goes through the docker CLI on the host, over the run's SSH
connection; nothing here talks to that daemon directly.

- The image is the same as a local Docker environment's (engine.environments.build.docker): tag
  ``trainyard-env:<spec hash[:16]>``, cached on the host by that tag. A build context (the user's
  folder, or the generated Dockerfile + requirement files) is sent through the host's blob store
  to ``CACHE/contexts/<hash>/`` and built there with ``docker build --network host``; the
  build's output streams into the run's 20_image_build_log.txt. A base image the host lacks is
  pulled there.
- The image's lock (its id, its repo digests and the freeze lines of the Python packages inside
  it, as a local Docker environment's) is taken on the host right after the build and kept there beside the envs
  (``CACHE/envs/<spec hash>.image-lock.txt``); a cached start reads it back in the same command
  that finds the image, and takes it again when the tag now names another image.
- The container gets the run's remote folder mounted at the same path (code in REMOTE/wd, inputs
  in REMOTE/inputs, records in REMOTE/tracking, the in-run client in REMOTE/inject), the run's
  environment variables, the target's network, and the run's GPUs as a ``--gpus`` device request.
  ``docker run`` stays attached inside the detached shell of the run (engine.compute.ssh.run), so
  its output is the driver log and its exit status the run's.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from engine.compute.ssh.envbuild import FREEZE_MARK
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog
from engine.environments.lock import FREEZE_IN_IMAGE, Lock, image_lock
from engine.errors import EnvBuildFailed, InvalidSpec, LaunchFailed

if TYPE_CHECKING:
    from engine.compute.ssh.envbuild import RemoteEnvBuilder

IMAGE_LOCK = ".image-lock.txt"  # beside the host's envs: `<spec hash>.image-lock.txt`
_LOCK_MARK = "--- trainyard image lock ---"

# Debian-style images have only python3: let `python x.py` in a command work there too.
PYTHON_SHIM = 'command -v python >/dev/null 2>&1 || python() { python3 "$@"; }; '


def container_name(run_name: str, rank: int | None = None) -> str:
    """``trainyard-<run name>[-r<rank>]``, with characters Docker does not accept replaced."""
    suffix = "" if rank is None else f"-r{rank}"
    return "trainyard-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", run_name) + suffix


def gpu_args(gpus: int | str | None, env: dict[str, str]) -> list[str]:
    """``docker run`` options for a GPU request (as engine.compute.docker.gpu_options, for the CLI);
    drops the host's CUDA_VISIBLE_DEVICES from `env` where the daemon numbers the devices."""
    if gpus is None:
        return []
    text = str(gpus).strip().strip('"')
    if text in ("0", ""):
        env.pop("CUDA_VISIBLE_DEVICES", None)
        env["NVIDIA_VISIBLE_DEVICES"] = "void"
        return []
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("CUDA_DEVICE_ORDER", None)
    env.setdefault("NVIDIA_DRIVER_CAPABILITIES", "compute,utility")
    if text.lower() in ("all", "-1"):
        return ["--gpus", "all"]
    if text.isdigit():
        return ["--gpus", text]  # a count
    ids = text.removeprefix("device=")
    return ["--gpus", f'"device={ids}"']  # the CLI reads the value as CSV: quote the list


def visible_in_container(gpus: int | str | None) -> str | None:
    """The host GPU indices (CSV) a container started with gpu_args(gpus) sees: none without a
    request, the first N for a count (as the NVIDIA runtime picks them); None: every one."""
    text = "" if gpus is None else str(gpus).strip().strip('"').removeprefix("device=")
    if text.lower() in ("all", "-1"):
        return None
    if text.isdigit():
        return ",".join(str(i) for i in range(int(text)))
    return text


def docker_run_argv(
    *,
    image: str,
    argv: list[str],
    name: str,
    run_name: str,
    remote: str,
    env: Mapping[str, str],
    network: str | None,
    gpus: int | str | None,
    user: str | None,
    shm_size: str | None,
    read_only: tuple[str, ...] = (),
) -> list[str]:
    """The ``docker run`` command line on the host for the run's script; `read_only`: folders in
    the run folder bound read-only over its read-write bind (the ro_mount inputs)."""
    env = dict(env)
    args = ["docker", "run", "--rm", "--name", name, "--label", f"trainyard.run={run_name}"]
    args += ["--network", network or "host", "-v", f"{remote}:{remote}", "-w", f"{remote}/wd"]
    for path in read_only:
        args += ["-v", f"{path}:{path}:ro"]
    if user and user != "0:0":  # the run folder is the SSH user's: write it as that user
        args += ["--user", user]
        env.setdefault("HOME", "/tmp")
    if shm_size:
        args += ["--shm-size", str(shm_size)]
    args += gpu_args(gpus, env)
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    if argv[:2] == ["/bin/sh", "-c"] and len(argv) == 3:
        argv = [*argv[:2], PYTHON_SHIM + argv[2]]
    return [*args, image, *argv]


class HostImages:
    """The job's image on the host's Docker daemon, built there when missing."""

    def __init__(self, builder: RemoteEnvBuilder, *, lock_in_build: bool = True) -> None:
        self.b = builder
        self.where = builder.where
        self.lock_in_build = lock_in_build  # False: `lock` takes it after the build (bench_ssh_image_lock)
        # (image id, lock text) read by a cached start or taken by the build
        self._found: tuple[str, str] | None = None

    def check(self) -> None:
        """LaunchFailed, with docker's own words, when the host's docker does not answer."""
        out, err, code = self.b.run("docker version --format '{{.Server.Version}}'")
        if code != 0 or not out.strip():
            raise LaunchFailed(
                f"the compute target runs jobs in Docker (`docker: true`), but docker on {self.where} "
                f"does not answer: {(err or out).strip() or f'exit code {code}'}",
                "install Docker there and let the SSH user use it (the docker group), or remove "
                "`docker: true` from the target",
            )

    def ensure(self, spec: EnvironmentSpec, log: BuildLog) -> tuple[str, str, bool]:
        """(image tag on the host, spec hash, cached)."""
        from engine.environments.build import docker as dk  # PyYAML and the Dockerfile rules

        tag, h = dk.image_tag(spec), dk.spec_hash(spec)
        if self._has_with_lock(tag, h):
            log.line(f"image {tag} is already on {self.where}: no build")
            log.done(f"environment {spec.reference} ready: image {tag} (cached on {self.where})")
            return tag, h, True
        log.step(f"Building image {tag} of environment '{spec.reference}' on {self.where}")
        if spec.build_context:
            context = Path(spec.build_context)
            dockerfile = context / spec.dockerfile
            if not dockerfile.is_file():
                raise InvalidSpec(
                    f"environment {spec.reference}: there is no {spec.dockerfile} in the build context {context}",
                    "add a Dockerfile there or set `build: dockerfile_path:`",
                )
            for base in dk.dockerfile_bases(dockerfile.read_text(errors="replace")):
                self.base(base, log)
            self._build(context, spec.dockerfile, tag, h, log)
        else:
            assert spec.image is not None
            self.base(spec.image, log)
            if not spec.conda and not spec.pip_requirements:
                self._docker(f"docker tag {shlex.quote(spec.image)} {shlex.quote(tag)}", "tagging", log)
                log.line(f"nothing to add on top of {spec.image}: tagged it as {tag}")
            else:
                with tempfile.TemporaryDirectory(prefix="trainyard-docker-") as tmp:
                    dk.write_build_context(Path(tmp), spec, log)
                    self._build(Path(tmp), "Dockerfile", tag, h, log)
        log.done(f"environment {spec.reference} ready: image {tag} on {self.where}")
        return tag, h, False

    def lock(self, spec: EnvironmentSpec, tag: str) -> Lock | None:
        """What the image `tag` of `spec` holds: its id and the Python packages inside it, kept on
        the host after its build (taken there now when missing or made for another image)."""
        from engine.environments.build import docker as dk

        h = dk.spec_hash(spec)
        image_id, text = self._found or ("", "")
        header, _nl, freeze = text.partition("\n")
        if not image_id or not header.startswith(image_id + " "):
            out, _err, code = self.b.run(self._take_lock(tag, h), timeout=600)
            if code != 0:
                return None
            header, _nl, freeze = out.partition("\n")
        image_id, _sp, digests = header.partition(" ")
        try:
            repo_digests = [str(d) for d in json.loads(digests or "[]") or []]
        except ValueError:
            repo_digests = []
        return image_lock(tag, image_id, repo_digests, freeze, h, host=self.where)

    def base(self, image: str, log: BuildLog) -> None:
        """`image` on the host: there already, or pulled there."""
        if self._has(image):
            log.line(f"base image {image} is on {self.where}")
            return
        log.step(f"Pulling {image} on {self.where}")
        self._docker(
            f"docker pull {shlex.quote(image)}",
            f"image {image} is not on {self.where} and could not be pulled there",
            log,
            hint="build or load it there (docker load / docker import) first, or check its name",
        )

    def prune(self, keep: set[str]) -> list[str]:
        """Remove the environment images (``trainyard-env:*``) on the host's daemon but those of
        the spec hashes in `keep` (active runs'); an image a container still uses stays (docker
        refuses). Returns the tags removed."""
        from engine.environments.build import docker as dk  # PyYAML and the Dockerfile rules

        out, err, code = self.b.run(f"docker images {dk.IMAGE_REPO} --format '{{{{.Tag}}}}'")
        if code != 0:
            raise EnvBuildFailed(
                f"listing the images on {self.where} failed: {(err or out).strip() or f'exit code {code}'}",
                "check that docker answers there for the SSH user (the docker group)",
            )
        kept = {h[:16] for h in keep}
        removed = []
        for tag in sorted(set(out.split()) - kept - {"<none>"}):
            ref = f"{dk.IMAGE_REPO}:{tag}"
            if self.b.run(f"docker rmi {shlex.quote(ref)}")[2] == 0:
                removed.append(ref)
        return removed

    # ---------------------------------------------------------------- helpers
    def _take_lock(self, tag: str, h: str) -> str:
        """The command that takes image `tag`'s lock (its id and repo digests on a first line, then
        the freeze lines inside it), keeps it beside the host's envs and prints it."""
        q = shlex.quote
        kept = f"{self.b.root}/envs/{h}{IMAGE_LOCK}"
        # An image without a shell gives no packages: its id alone is still the lock.
        inside = (f"{{ docker run --rm --network none --entrypoint sh {q(tag)} -c {q(FREEZE_IN_IMAGE)} "
                  "2>/dev/null || true; }")
        return (f"mkdir -p {q(self.b.root + '/envs')} && {{ docker image inspect --format "
                f"'{{{{.Id}}}} {{{{json .RepoDigests}}}}' {q(tag)} && {inside}; }} > {q(kept)}.tmp && "
                f"mv -f {q(kept)}.tmp {q(kept)} && cat {q(kept)}")

    def _has_with_lock(self, tag: str, h: str) -> bool:
        """`_has(tag)`, and in the same round trip the image's id and the lock kept for it."""
        q = shlex.quote
        out = self.b.run(
            f"docker image inspect --format '{{{{.Id}}}}' {q(tag)} 2>/dev/null && echo '{_LOCK_MARK}' && "
            f"{{ cat {q(f'{self.b.root}/envs/{h}{IMAGE_LOCK}')} 2>/dev/null; true; }}"
        )[0]
        image_id, mark, kept = out.partition(_LOCK_MARK + "\n")
        if not mark:
            return False
        self._found = (image_id.strip(), kept)
        return True

    def _has(self, ref: str) -> bool:
        return (
            self.b.run(f"docker image inspect {shlex.quote(ref)} >/dev/null 2>&1 && echo yes")[0].strip()
            == "yes"
        )

    def _build(self, context: Path, dockerfile: str, tag: str, h: str, log: BuildLog) -> None:
        from engine.compute.ssh.blobs import Tree

        if self.b.sender is None:
            raise EnvBuildFailed(f"building an image on {self.where} needs an upload to it")
        remote = f"{self.b.root}/contexts/{hashlib.sha256(str(context).encode()).hexdigest()[:16]}-{h[:12]}"
        tree = Tree()
        tree.add_path(context, "")
        try:
            sent = self.b.sender.send(tree, remote, key=f"context:{context}")
        except LaunchFailed as exc:
            raise EnvBuildFailed(
                f"sending the build context to {self.where} failed: {exc.message}", exc.hint
            ) from None
        log.line(
            f"build context sent to {self.where}:{remote} ({sent.files} files, {sent.bytes_sent} bytes sent)"
        )
        q = shlex.quote
        command = (
            f"docker build --network host --rm --force-rm --label trainyard.env.hash={q(h)} -t {q(tag)} "
            f"-f {q(remote + '/' + dockerfile)} {q(remote)}; code=$?; rm -rf -- {q(remote)}; "
        )
        # The lock is taken in the build's own command, after a mark (a round trip fewer: ~0.1 s).
        if self.lock_in_build:
            command += f"if [ $code = 0 ]; then echo '{FREEZE_MARK}'; {self._take_lock(tag, h)} 2>/dev/null; fi; "
        kept: list[str] = []
        self._docker(command + "exit $code", "the image build failed", log, hint="the build's own words are above",
                     kept=kept)
        if kept and kept[0].startswith("sha256:"):
            self._found = (kept[0].partition(" ")[0], "\n".join(kept) + "\n")

    def _docker(self, command: str, failed: str, log: BuildLog, hint: str | None = None,
                kept: list[str] | None = None) -> None:
        code, tail = self.b.stream(command + " 2>&1", log, kept)
        if code != 0:
            lines = "\n".join(tail[-15:])
            raise EnvBuildFailed(f"{failed} on {self.where} (docker exited with code {code}):\n{lines}", hint)


__all__ = ["HostImages", "container_name", "docker_run_argv", "gpu_args"]
