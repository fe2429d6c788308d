"""MPI runs over SSH (`distribution: mpi`, `resources.instance_count: N`) on a target with several
hosts (`hosts: [a, b]`; node n runs on hosts[n]).

OpenMPI starts the ranks: one `mpirun` on node 0's host, as the run's script (detached, pulled,
cancelled and reattached like any SSH run: engine.compute.ssh.run), with `--host` listing the
nodes and their slots. mpirun reaches the other hosts its own way (its ssh between the hosts, as on
any MPI cluster), and starts every rank in the same folder with the same interpreter: so the code,
the in-run client and the environment go to each host at the same absolute path first (a host
where that path would differ is refused before anything starts). Each rank is started through
engine.compute.rankexec (uploaded as bin/trainyard_rankexec.py): its output goes to its own driver
log, ranks/70_driver_log_<rank>.txt, pulled into the run's azureml-logs like a local MPI run's.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from engine.compute import rankexec
from engine.compute.distributed import LOCALHOST, node_environment
from engine.compute.ssh.blobs import UploadResult
from engine.compute.ssh.connection import SshTarget
from engine.compute.ssh.run import SshRun
from engine.entities import EnvironmentSpec
from engine.environments.build import BuildLog
from engine.errors import LaunchFailed
from engine.runtime.distribution import Distribution
from engine.runtime.files import RunFiles
from engine.runtime.launchspec import LaunchSpec

RANKS_DIR = "ranks"  # in the remote run folder: each rank's driver log
RANKEXEC = "bin/trainyard_rankexec.py"
NODE0_MARK = "node0.token"  # a token node 0 writes into its folder: a host that reads it shares it


class SshMpiRun(SshRun):
    """The run handle of an MPI run over SSH: node 0's SshRun, whose script is mpirun; `peers`
    are the other nodes' hosts, given the same folder and environment but started by mpirun."""

    def __init__(
        self,
        target: SshTarget,
        files: RunFiles,
        spec: LaunchSpec,
        log: Callable[[str], None],
        note: Callable[[str], None],
        dist: Distribution,
        node_hosts: list[str],
        peers: list[SshRun],
    ) -> None:
        super().__init__(target, files, spec, log, note)
        self.dist = dist
        self.node_hosts = node_hosts  # node n's host name, as mpirun on node 0 reaches it
        self.peers = peers
        self.shared: set[str] = set()  # the peers that see node 0's folder as theirs
        for rank in range(dist.world_size):  # pulled as they grow, after a reattach too
            self.puller.also[f"{RANKS_DIR}/{rankexec.log_name(rank)}"] = files.system_logs / dist.log_name(rank)

    # ---------------------------------------------------------------- start
    def connect(self) -> None:
        super().connect()
        out, _err, _code = self.link.exec("command -v mpirun || echo missing")
        if "missing" in out or not out.strip():
            raise LaunchFailed(
                f"an MPI job needs OpenMPI's `mpirun` on {self.target.address} (node 0 of compute "
                f"target {self.target.name!r}), and it is not on PATH there",
                "install it on every host of the target (Debian/Ubuntu: apt install openmpi-bin), "
                "or use `type: pytorch` (Trainyard then starts each process itself)",
            )
        for peer in self.peers:
            peer.connect()
            if peer.remote != self.remote:
                raise LaunchFailed(
                    f"mpirun starts every rank in the same folder, but the run's folder would be "
                    f"{self.remote} on {self.target.address} and {peer.remote} on {peer.target.address}",
                    "give the compute target an absolute `work_dir:` (and `cache_dir:`) that is the "
                    "same on every host",
                )

    def build_environment(self, env: EnvironmentSpec, log: BuildLog) -> tuple[str, bool]:
        """The environment on every host (mpirun starts the ranks with node 0's interpreter path)."""
        env_hash, cached = super().build_environment(env, log)
        for peer in self.peers:
            _h, peer_cached = peer.build_environment(env, log)
            cached = cached and peer_cached
            if peer.interpreter != self.interpreter:
                raise LaunchFailed(
                    f"mpirun starts every rank with the same interpreter, but the job's environment is "
                    f"{self.interpreter} on {self.target.address} and {peer.interpreter} on "
                    f"{peer.target.address}",
                    "give the compute target an absolute `cache_dir:` that is the same on every host",
                )
        return env_hash, cached

    def upload(self) -> UploadResult:
        """The code, the in-run client and the rank launcher to every host, at the same path; a
        host that already sees node 0's folder (the same machine, a shared filesystem) is left
        as it is."""
        total = self._upload_to(self)
        token = uuid.uuid4().hex
        self.link.exec(f"echo {token} > {shlex.quote(f'{self.remote}/{NODE0_MARK}')}")
        for peer in self.peers:
            if _read_mark(peer, self.remote) == token:
                self.shared.add(peer.target.address)
                self.log(f"ssh: {peer.target.address} sees node 0's folder {self.remote}: nothing to send there")
                continue
            total = total.plus(self._upload_to(peer), count_files=False)
        return total

    def _upload_to(self, run: SshRun) -> UploadResult:
        sent = SshRun.upload(run)
        launcher = run.send_path(Path(rankexec.__file__), RANKEXEC)
        run.link.exec(f"mkdir -p {shlex.quote(f'{run.remote}/{RANKS_DIR}')}")
        return sent.plus(launcher, count_files=False)

    def start(self, extra_env: Mapping[str, str] | None = None) -> None:
        port = str(self.free_ports(1)[0])
        master = self.node_hosts[0]
        env = {k: v.replace(LOCALHOST, master) for k, v in node_environment(self.dist, int(port)).items()}
        env.update({"MASTER_ADDR": master, "MASTER_PORT": port, **(extra_env or {})})
        self.note(
            f"{self.dist.world_size} processes (mpi) started by mpirun on {self.target.address}: "
            f"each writes its output to azureml-logs/{self.dist.log_name(0)}, ..."
        )
        super().start(env)

    def _command_argv(self, argv: list[str], env: Mapping[str, str]) -> list[str]:
        """mpirun around the script: each node's slots, every variable of the run passed on to
        the ranks of other hosts (-x), each rank through the launcher (its own log, its own
        `$VAR` arguments)."""
        slots: dict[str, int] = {}
        for host in self.node_hosts:  # a host given twice is one host with more slots
            slots[host] = slots.get(host, 0) + self.dist.process_count_per_instance
        names = [k for k in env if k.isidentifier() and k.isascii()]
        names += ["PYTHONPATH", "PATH", *(["CONDA_PREFIX"] if self.env_prefix else [])]  # set by start()
        passed = [w for name in dict.fromkeys(names) for w in ("-x", name)]
        root = ["--allow-run-as-root"] if (self.user_ids or "").startswith("0:") else []
        rem = self.remote
        expand_from = 2 if self.spec.script else -1
        return [
            "mpirun",
            "-np", str(self.dist.world_size),
            "--host", ",".join(f"{h}:{n}" for h, n in slots.items()),
            # --oversubscribe: more ranks than cores, as a test of a cluster job looks
            "--oversubscribe", "--bind-to", "none", *root, *passed,
            self.interpreter or "python3", "-I", f"{rem}/{RANKEXEC}", f"{rem}/{RANKS_DIR}", str(expand_from), "--",
            *argv,
        ]  # fmt: skip

    def reattach(self) -> None:
        super().reattach()
        token = _read_mark(self, self.remote)
        for peer in self.peers:  # connected when cleanup needs them
            peer.remote = self.remote
            if token and _read_mark(peer, self.remote) == token:
                self.shared.add(peer.target.address)

    # ---------------------------------------------------------------- end
    def cleanup(self) -> int:
        """Each other host's ./outputs and folder (not those that share node 0's), then node 0's
        end (its leftovers, ./outputs, its folder)."""
        for peer in self.peers:
            if peer.target.address not in self.shared:
                peer.cleanup()
        return super().cleanup()

    def close(self) -> None:
        super().close()
        for peer in self.peers:
            peer.close()


def _read_mark(run: SshRun, remote: str) -> str | None:
    """The token in `remote`'s node-0 mark as `run`'s host sees it (None: unreachable)."""
    mark = shlex.quote(f"{remote}/{NODE0_MARK}")
    out = run.link.with_connection(lambda: run.link.exec(f"cat {mark} 2>/dev/null"))
    return out[0].strip() if out else None


def make_ssh_mpi_run(
    files: RunFiles, spec: LaunchSpec, log: Callable[[str], None], note: Callable[[str], None]
) -> SshMpiRun:
    """The handle of MPI run `spec`: mpirun on hosts[0] of its target, nodes on hosts[0..N-1]
    (LaunchFailed when the target has fewer hosts than the run has nodes)."""
    dist = spec.distribution
    assert dist is not None and dist.kind == "mpi"
    settings = dict(spec.placement.ssh or {})
    name = str(spec.placement.compute_target or settings.get("host"))
    hosts = [str(h) for h in (settings.get("hosts") or [settings.get("host")])]
    if dist.instance_count > len(hosts):
        raise LaunchFailed(
            f"compute target {name!r} cannot run this MPI job: it has {len(hosts)} host(s), the job "
            f"asks for {dist.instance_count} node(s)",
            "list the nodes in the compute YAML (`hosts: [a, b]`) or lower `resources.instance_count`",
        )
    targets = [SshTarget.from_config(name, {**settings, "host": h}) for h in hosts[: dist.instance_count]]
    seen = {targets[0].address}
    peers = []
    for target in targets[1:]:  # each other host once; node 0's own host needs nothing more
        if target.address not in seen:
            seen.add(target.address)
            peers.append(SshRun(target, files, spec, log, note))
    return SshMpiRun(targets[0], files, spec, log, note, dist, [t.hostname for t in targets], peers)


__all__ = ["RANKEXEC", "RANKS_DIR", "SshMpiRun", "make_ssh_mpi_run"]
