"""Building a job's pip or conda environment on the SSH host, cached there by the same spec hash
as here (conda: condabuild.py).

The host needs only python3 and network access to its package index: Trainyard brings the
builder, the static `uv` binary of the uv wheel installed with it, sent once to
``CACHE/bin/uv-<hash>``. The venv is built in ``CACHE/envs/<spec hash>/`` under an flock (two
runs needing it build it once), and marked ready last; a failed build removes the folder. uv's
output streams into the run's 20_image_build_log.txt line by line, and a failed build raises
EnvBuildFailed with uv's own last lines (no network, disk full, no such package).

A venv's lock is uv's freeze there, with the sha256 of each pin's artifacts looked up there too
(engine.environments.build.pinhashes, sent as a script and run with the host's python3: the host's
indexes and wheel folders are the ones its build used).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import platform
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.compute.ssh.condabuild import HOST_SCRIPT, HOST_SCRIPT_NAME, conda_build_command
from engine.compute.ssh.connection import IO_TIMEOUT, SshTarget, absolute_on_host
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog, pinhashes, spec_hash
from engine.environments.build.venv import uv_bin
from engine.environments.lock import Lock, explicit_lock, freeze_lock, with_hashes
from engine.errors import EnvBuildFailed

PIN_SCRIPT = Path(pinhashes.__file__)
PIN_SCRIPT_NAME = "pinhashes-" + hashlib.sha256(PIN_SCRIPT.read_bytes()).hexdigest()[:12] + ".py"
READY = ".trainyard-ready"
FREEZE = ".freeze.txt"  # beside the env folder: `<hash>.freeze.txt`
PREFETCH = ".prefetch.txt"  # beside it: the hashes compiled while the build installed
FREEZE_MARK = "--- trainyard freeze ---"  # what follows it in a build's output is its lock, not its log
BUILD_TIMEOUT = 3600.0  # no output for this long: the build is taken as hung
TAIL = 25


def _uv_name(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "uv-" + h.hexdigest()[:12]


class RemoteEnvBuilder:
    """Builds environments on one host over a connected paramiko client."""

    def __init__(self, client: Any, cache_root: str, python: str, where: str, sender: Any = None) -> None:
        self.client = client
        self.sender = sender  # a BlobSender to this host (conda: the solver and local channels)
        self.root = cache_root  # absolute on the host
        self.python = python  # the host's python3, the venv's base
        self.where = where
        self._kept_freezes: dict[str, str] = {}  # env folder -> its freeze, read when found cached

    def ensure(self, spec: EnvironmentSpec, log: BuildLog) -> tuple[str, str, bool]:
        """(interpreter on the host, spec hash, cached) of `spec`, built there when missing."""
        if spec.kind not in ("venv", "conda"):
            raise EnvBuildFailed(
                f"building a {spec.kind} environment on an SSH host is not available in this "
                "version of Trainyard",
                "use a pip-requirements or conda environment there",
            )
        h = spec_hash(spec)
        env = f"{self.root}/envs/{h}"
        interpreter = f"{env}/bin/python"
        q = shlex.quote
        # One round trip for a cached start: ready?, its python, and the freeze kept beside it.
        found = self.run(
            f"if [ -f {q(env + '/' + READY)} ]; then echo ready; [ -x {q(interpreter)} ] && echo python; "
            f"echo '{FREEZE_MARK}'; cat {q(env + FREEZE)} 2>/dev/null; fi"
        )[0]
        head, _mark, kept_text = found.partition(FREEZE_MARK + "\n")
        if head.startswith("ready"):
            log.line(f"Using cached environment {h} on {self.where}")
            log.done(f"environment ready (cached): {env}")
            if kept_text.strip():
                self._kept_freezes[env] = kept_text
            return (interpreter if "python" in head.split() else self.python), h, True
        log.step(f"Building {spec.kind} environment '{spec.reference}' ({h[:12]}) on {self.where}")
        if spec.kind == "conda":
            build = f"{conda_build_command(self, spec, env, log)} && {self._explicit_command(env)}"
            tool = "the conda build"
        else:
            uv = self.ensure_uv(log)
            requirements = "\n".join(spec.pip_requirements or ()) + "\n"
            self.put(f"{env}.requirements.txt", requirements.encode())
            self.put_once(self._pin_script, PIN_SCRIPT.read_bytes())
            build = (
                f"{q(uv)} venv --python {q(self.python)} {q(env)} && "
                f"{self._prefetch_command(uv, interpreter, env, spec)}"
                f"{q(uv)} pip install --python {q(interpreter)} -r {q(env + '.requirements.txt')} && wait && "
                f"{self._freeze_command(uv, interpreter, env)}"
            )
            tool = "uv"
        kept: list[str] = []
        code, tail = self._build_locked(env, build, log, kept)
        if code == 0 and kept:
            self._kept_freezes[env] = "\n".join(kept) + "\n"
        if code != 0:
            lines = "\n".join(tail)
            raise EnvBuildFailed(
                f"building environment '{spec.reference}' on {self.where} failed ({tool} exited with code "
                f"{code}):\n{lines}",
                f"{'the solver' if spec.kind == 'conda' else 'uv'}'s own words are above: check the "
                "requirements (and the channels), that the host reaches its package index (network, proxy, "
                "certificates) and that it has free disk space (`df -h` there)",
            )
        log.progress(1.0, "done")
        log.done(f"environment ready: {env} on {self.where}")
        return self._python_of(env), h, False

    @staticmethod
    def _kept(lister: str, env: str) -> str:
        """`lister`'s output (what the env holds) written beside the env once built (a cached
        start reads it with its readiness check), and printed after a mark line (the build's own
        stream keeps it)."""
        q = shlex.quote
        return f"{lister} > {q(env + FREEZE)} && echo '{FREEZE_MARK}' && cat {q(env + FREEZE)}"

    @property
    def _pin_script(self) -> str:
        return f"{self.root}/bin/{PIN_SCRIPT_NAME}"

    @staticmethod
    def _prefetch_command(uv: str, interpreter: str, env: str, spec: EnvironmentSpec) -> str:
        """The pins' hashes compiled in the background while uv installs them (as a build here does,
        engine.environments.build.hashes.HashPrefetch), at low priority, for the lock to take;
        '' where they are left to the lookup after the install."""
        if not pinhashes.compiles_beside_install(list(spec.pip_requirements or ())):
            return ""
        q = shlex.quote
        compile_ = (f"{q(uv)} pip compile --python {q(interpreter)} --generate-hashes --offline --no-header "
                    f"--no-annotate -o {q(env + PREFETCH)} {q(env + '.requirements.txt')}")
        nice = f"if command -v nice >/dev/null 2>&1; then nice -n 19 {compile_}; else {compile_}; fi"
        # `{ X & }`: X alone goes to the background (a bare `A && X & B` would background A too).
        return f"rm -f {q(env + PREFETCH)} && {{ {{ {nice}; }} >/dev/null 2>&1 & }} && "

    def _freeze_command(self, uv: str, interpreter: str, env: str) -> str:
        """A venv's lock: uv's freeze of it, then its pins' hashes (pinhashes.py there; the freeze
        alone where that script cannot run)."""
        q = shlex.quote
        plain = f"{env}/.trainyard-freeze.txt"
        hashed = (f"{q(self.python)} -S {q(self._pin_script)} --uv {q(uv)} --python {q(interpreter)} "
                  f"--requirements {q(env + '.requirements.txt')} --known {q(env + PREFETCH)} {q(plain)} 2>/dev/null")
        return self._kept(
            f"{{ {q(uv)} pip freeze --python {q(interpreter)} > {q(plain)} && {{ {hashed} || cat {q(plain)}; }}; }}", env
        )

    def _explicit_command(self, env: str) -> str:
        """A conda environment's lock: the conda `@EXPLICIT` list of what it holds (condahost.py --explicit)."""
        q = shlex.quote
        return self._kept(f"{q(self.python)} {q(f'{self.root}/bin/{HOST_SCRIPT_NAME}')} --explicit {q(env)}", env)

    def lock(self, spec: EnvironmentSpec, log: BuildLog) -> Lock | None:
        """What `spec`'s environment on the host holds, once `ensure` made it ready: a venv's
        freeze there, a conda environment's `@EXPLICIT` list (None: neither could be read)."""
        h = spec_hash(spec)
        env = f"{self.root}/envs/{h}"
        text = self._kept_freezes.get(env)  # kept from its build, or read with the cached start's check
        if text is None:  # built before Trainyard kept locks (or by another run meanwhile)
            if spec.kind == "conda":
                self.put_once(f"{self.root}/bin/{HOST_SCRIPT_NAME}", HOST_SCRIPT.read_bytes())
                command = self._explicit_command(env)
            else:
                self.put_once(self._pin_script, PIN_SCRIPT.read_bytes())
                command = self._freeze_command(self.ensure_uv(log), f"{env}/bin/python", env)
            out, _err, code = self.run(command)
            _head, mark, text = out.partition(FREEZE_MARK + "\n")
            if code != 0 or not mark:
                return None
            self._kept_freezes[env] = text
        if spec.kind == "conda":
            return explicit_lock(text, h, host=self.where)
        freeze, _mark, hashed = text.partition(pinhashes.HASHES_MARK + "\n")
        return with_hashes(freeze_lock("venv", freeze, h, host=self.where), pinhashes.parse_hashed(hashed))

    def _python_of(self, env: str) -> str:
        """The environment's python; a conda environment without one runs the host's python3."""
        python = f"{env}/bin/python"
        found = self.run(f"test -x {shlex.quote(python)} && echo yes")[0].strip() == "yes"
        return python if found else self.python

    def _build_locked(self, env: str, build: str, log: BuildLog,
                      kept: list[str] | None = None) -> tuple[int, list[str]]:
        """Run the shell command `build` that makes `env`, once across runs (flock), marking it
        ready last and removing it when it fails; its output streams into `log`."""
        q = shlex.quote
        wrapped = (
            f"if [ -f {q(env + '/' + READY)} ]; then echo 'built meanwhile by another run'; exit 0; fi; "
            f"rm -rf {q(env)}; "
            f"{{ {build}; }} && echo ok > {q(env + '/' + READY)} || {{ code=$?; rm -rf {q(env)}; exit $code; }}"
        )
        # uv trusts the system's CA store (a re-signing proxy's CA is there); its cache is on
        # the envs' filesystem, so installs hard-link; it never downloads a Python of its own.
        command = (
            f"export UV_CACHE_DIR={q(self.root + '/uv-cache')} UV_NATIVE_TLS=1 UV_PYTHON_DOWNLOADS=never "
            "UV_NO_PROGRESS=1; "
            '[ -z "$SSL_CERT_FILE" ] && [ -f /etc/ssl/certs/ca-certificates.crt ] && '
            "export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt; "
            f"mkdir -p {q(self.root + '/envs')} || exit 1; "
            f"if command -v flock >/dev/null 2>&1; then exec flock {q(env + '.lock')} sh -c {q(wrapped)}; "
            f"else exec sh -c {q(wrapped)}; fi"
        )
        return self.stream(command, log, kept)

    def prune(self, keep: set[str]) -> list[str]:
        """Remove the host's built environments but those in `keep` (spec hashes active runs use),
        and uv's package cache when none is kept. Returns the hashes removed."""
        q = shlex.quote
        envs = f"{self.root}/envs"
        keep_args = " ".join(q(h) for h in sorted(keep))
        script = (
            f'cd {q(envs)} 2>/dev/null || exit 0; for d in */; do h=${{d%/}}; [ -d "$h" ] || continue; case " {keep_args} " in '
            f'*" $h "*) continue;; esac; rm -rf -- "$h" "$h.requirements.txt" "$h.freeze.txt" "$h.prefetch.txt" "$h.lock" "$h.conda-request.json" && echo "$h"; done'
        )
        if not keep:
            script += f"; rm -rf -- {q(self.root + '/uv-cache')} {q(self.root + '/conda-pkgs')}"
        out, err, code = self.run(script, timeout=600)
        if code != 0:
            raise EnvBuildFailed(
                f"pruning the environments on {self.where} ({envs}) failed: {err.strip()}",
                "check that the folder is yours and writable there",
            )
        return [ln for ln in out.split() if ln]

    # ---------------------------------------------------------------- helpers
    def ensure_uv(self, log: BuildLog) -> str:
        local = uv_bin()
        arch = self.run("uname -sm")[0].strip()
        here = f"{platform.system()} {platform.machine()}"
        if arch != here:
            raise EnvBuildFailed(
                f"{self.where} is {arch or 'of an unknown platform'}, this machine {here}: "
                "the uv binary installed with Trainyard cannot run there",
                "give the job a user-managed environment with `interpreter_path:` there",
            )
        remote = f"{self.root}/bin/{_uv_name(local)}"
        if self.run(f"test -x {shlex.quote(remote)} && echo ok")[0].strip() != "ok":
            size = Path(local).stat().st_size
            log.line(f"sending uv ({size / 1e6:.0f} MB) to {self.where}:{remote}")
            self.run(f"mkdir -p {shlex.quote(self.root + '/bin')}")
            sftp = self.client.open_sftp()
            try:
                tmp = f"{remote}.tmp"
                sftp.put(local, tmp)
                sftp.chmod(tmp, 0o755)
                sftp.posix_rename(tmp, remote)
            finally:
                sftp.close()
        return remote

    def put(self, path: str, data: bytes) -> None:
        self.run(f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])}")
        sftp = self.client.open_sftp()
        try:
            with sftp.open(path, "wb") as f:
                f.write(data)
        finally:
            sftp.close()

    def put_once(self, path: str, data: bytes) -> None:
        """Write `path` (a name that carries its content's hash) unless the host has it."""
        if self.run(f"test -f {shlex.quote(path)} && echo ok")[0].strip() != "ok":
            self.put(path + ".tmp", data)
            self.run(f"mv -f {shlex.quote(path + '.tmp')} {shlex.quote(path)}")

    def run(self, command: str, timeout: float = IO_TIMEOUT) -> tuple[str, str, int]:
        _stdin, stdout, stderr = self.client.exec_command(command, timeout=timeout)
        out = stdout.read().decode("utf-8", "replace")
        err = stderr.read().decode("utf-8", "replace")
        return out, err, stdout.channel.recv_exit_status()

    def stream(self, command: str, log: BuildLog, kept: list[str] | None = None) -> tuple[int, list[str]]:
        """Run `command` with its output (stdout and stderr together) into `log` as it comes;
        the lines after a `FREEZE_MARK` line go to `kept` instead (the build's freeze)."""
        chan = self.client.get_transport().open_session(timeout=IO_TIMEOUT)
        tail: collections.deque[str] = collections.deque(maxlen=TAIL)
        keeping = False
        try:
            chan.settimeout(BUILD_TIMEOUT)
            chan.set_combine_stderr(True)
            chan.exec_command(command)
            for raw in chan.makefile("rb"):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if keeping and kept is not None:
                    kept.append(line)
                elif kept is not None and line == FREEZE_MARK:
                    keeping = True
                else:
                    tail.append(line)
                    log.line(line)
            code = chan.recv_exit_status()
        finally:
            chan.close()
        return code, list(tail)


@contextlib.contextmanager
def host_builder(name: str, config: dict[str, Any]) -> Iterator[RemoteEnvBuilder]:
    """A builder connected to SSH target `name`'s host, on its cache folder (closed after)."""
    target = SshTarget.from_config(name, config)
    client = target.connect()
    try:
        _stdin, stdout, _stderr = client.exec_command('printf %s "$HOME"', timeout=IO_TIMEOUT)
        home = stdout.read().decode().rstrip("/")
        yield RemoteEnvBuilder(client, absolute_on_host(target.cache_dir, home), "python3", target.address)
    finally:
        client.close()


__all__ = ["FREEZE_MARK", "RemoteEnvBuilder", "host_builder"]
