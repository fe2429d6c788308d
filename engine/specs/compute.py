"""Compute YAML (`trainyard compute create -f compute.yml`) and the `--name/--type` options ->
an unregistered `engine.entities.ComputeTarget`, with errors that name the file, the line and the
key. The keys are described in engine.compute.targets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine import names
from engine.entities import BUILTIN_COMPUTE, ComputeTarget
from engine.errors import InvalidSpec, NotFound
from engine.specs.explain import explain
from engine.specs.gpus import normalise_gpus
from engine.specs.schema import COMPUTE_KEYS as KNOWN_KEYS
from engine.specs.schema import ComputeYamlSchema
from engine.specs.yamlfile import Lines, Where, load_yaml_with_lines

NETWORK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
DOCKER_KEYS = ("network", "gpus", "image")
SSH_KEYS = ("host", "port", "user", "key_file", "known_hosts", "work_dir", "cache_dir", "keep_remote_files",
            "docker", "hosts")
SSH_ONLY_KEYS = ("docker", "hosts", "cache_dir")  # the rest of SSH_KEYS also say how to reach a Slurm login node
SLURM_KEYS = ("local", "partition", "account", "qos", "time_limit", "gpu_request", "sbatch", "mpi")
GPU_REQUESTS = ("gpus-per-node", "gres")
# Slurm's --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, and UNLIMITED
TIME_RE = re.compile(r"^(\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}|UNLIMITED|unlimited|infinite)$")
SLURM_WORD_RE = re.compile(r"^[A-Za-z0-9_.,:+-]+$")
# Azure ML compute types people copy from their cloud YAMLs: say what to write instead.
_CLOUD_TYPES = ("amlcompute", "computeinstance", "kubernetes", "virtualmachine", "synapsespark")


# ------------------------------------------------------------------------------ compute YAML
def load_compute_yaml(path: str | Path, *, name: str | None = None) -> ComputeTarget:
    """Read a compute YAML into an (unregistered) ComputeTarget; `name` overrides its `name:`.
    Errors name the file, the line and the key."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"the compute file {path} does not exist", "check the path given to -f")
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise InvalidSpec("a compute file must be a YAML mapping (key: value lines) with `name:` and `type:`",
                          f"known keys: {', '.join(KNOWN_KEYS)}", file=str(path), line=1)
    if name is not None:
        data["name"] = name
    return compute_from_mapping(data, source=str(path), lines=lines)


# az ml's compute YAML for clusters (`type: amlcompute`): what it records here (engine.compute.vmsizes
# maps it to this machine), and the cloud settings it accepts and ignores.
AMLCOMPUTE_KEYS = ("name", "type", "description", "size", "min_instances", "max_instances",
                   "idle_time_before_scale_down")
AMLCOMPUTE_CLOUD_KEYS = ("$schema", "tier", "location", "identity", "tags", "ssh_public_access_enabled",
                         "admin_username", "admin_password", "ssh_settings", "network_settings",
                         "enable_node_public_ip")


def load_amlcompute_yaml(path: str | Path, *, name: str | None = None) -> dict[str, Any] | None:
    """A compute YAML of `type: amlcompute` as the keyword arguments of a cluster request (name,
    vm_size, min_nodes, max_nodes, idle_seconds_before_scaledown, description); None when the file
    is of another type. Errors name the file, the line and the key."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"the compute file {path} does not exist", "check the path given to -f")
    data, lines = load_yaml_with_lines(path)
    if not isinstance(data, dict) or str(data.get("type", "")).lower() != "amlcompute":
        return None
    where = Where(str(path), lines)
    for key in data:
        if key not in AMLCOMPUTE_KEYS and key not in AMLCOMPUTE_CLOUD_KEYS:
            raise where.error(f"unknown key {key!r} for `type: amlcompute`",
                              f"its keys: {', '.join(AMLCOMPUTE_KEYS)}", key, key=True)
    out: dict[str, Any] = {"name": name if name is not None else data.get("name")}
    if not isinstance(out["name"], str) or not out["name"]:
        raise where.error_at_start("the compute file has no `name:`", "add `name: cpu-cluster` (or pass -n NAME)")
    size = data.get("size")
    if size is not None and not isinstance(size, str):
        raise where.error(f"`size:` must be a VM size such as Standard_NC6, not {size!r}", None, "size")
    out["vm_size"] = size
    for key, arg, default in (("min_instances", "min_nodes", 0), ("max_instances", "max_nodes", 4),
                              ("idle_time_before_scale_down", "idle_seconds_before_scaledown", None)):
        value = data.get(key, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise where.error(f"`{key}:` must be a whole number, not {value!r}", f"e.g. {key}: 2", key)
        out[arg] = value
    out["description"] = str(data.get("description") or "")
    return out


def compute_from_mapping(data: Mapping[str, Any], *, source: str | None = None,
                         lines: Lines | None = None) -> ComputeTarget:
    """Validate a compute definition (the YAML's keys; also what `compute create --name --type`
    builds) and normalise it: defaults filled in, keys of other types refused."""
    where = Where(source, lines)
    data = dict(data)
    kind = data.get("type")
    if isinstance(kind, str) and kind.lower() in _CLOUD_TYPES:
        raise where.error(f"compute type {kind!r} is an Azure cloud compute; Trainyard runs jobs on this machine "
                          "(or over SSH)",
                          "use `type: local` (or `type: docker`) to run jobs that name this compute here",
                          "type")
    try:
        spec = ComputeYamlSchema.model_validate(data)
    except ValidationError as exc:
        err = explain(exc, lines or {}, Path(source or "<compute>"), ComputeYamlSchema)
        if source is None:  # options, not a file: drop the placeholder location
            err = InvalidSpec(err.message.split(": ", 1)[-1], err.hint, field=err.field)
        raise err from None

    _check_name(spec.name, where)
    if spec.type != "slurm":
        for key in SLURM_KEYS:
            if getattr(spec, key) is not None:
                raise where.error(f"`{key}:` is only for `type: slurm` targets (this one is `type: {spec.type}`)",
                                  f"remove `{key}:`, or make it `type: slurm`", key, key=True)
    if spec.type == "slurm":
        return _slurm_target(spec, where)
    if spec.type != "ssh":
        for key in SSH_KEYS:
            if getattr(spec, key) is not None:
                raise where.error(f"`{key}:` is only for `type: ssh` targets (this one is `type: {spec.type}`)",
                                  f"remove `{key}:`, or make it `type: ssh`", key, key=True)
    if spec.type == "local":
        for key in DOCKER_KEYS:
            if getattr(spec, key) is not None:
                raise where.error(f"`{key}:` is only for targets that run containers (`type: docker`, or "
                                  "`type: ssh` with `docker: true`)",
                                  f"remove `{key}:`, or make it `type: docker`", key, key=True)
    if spec.type == "ssh" and not spec.docker:
        for key in DOCKER_KEYS:
            if getattr(spec, key) is not None:
                raise where.error(f"`{key}:` applies when the SSH target runs jobs in Docker",
                                  f"add `docker: true`, or remove `{key}:`", key, key=True)

    config: dict[str, Any] = {}
    if spec.type == "docker" or (spec.type == "ssh" and spec.docker):
        config["network"] = _network(spec.network, where)
        if spec.gpus is not None:
            try:
                config["gpus"] = normalise_gpus(spec.gpus)
            except ValueError as exc:
                raise where.error(f"`gpus:` {spec.gpus!r}: {exc}",
                                  "e.g. gpus: 1, gpus: all or gpus: \"device=0,1\"", "gpus") from None
        if spec.image is not None:
            image = spec.image.strip()
            if not image or any(c.isspace() for c in image):
                raise where.error(f"`image:` {spec.image!r} is not an image name",
                                  "e.g. python:3.11-slim", "image")
            config["image"] = image
    if spec.type == "ssh":
        if not (spec.host or "").strip():
            needs = ("an SSH target needs `host:`", "add `host: 10.0.0.7` (or an ~/.ssh/config alias)")
            raise where.error(*needs, "host") if spec.host is not None else where.error_at_start(*needs)
        port = 22 if spec.port is None else spec.port
        if not 0 < port < 65536:
            raise where.error(f"`port:` {port} is not a TCP port", "use 1-65535 (SSH's is 22)", "port")
        config.update(host=spec.host.strip() if spec.host else "", port=port, docker=bool(spec.docker))
        if spec.user is not None:
            config["user"] = spec.user
        if spec.key_file is not None:
            config["key_file"] = spec.key_file
        if spec.known_hosts is not None:
            config["known_hosts"] = spec.known_hosts
        if spec.work_dir is not None:
            if not spec.work_dir.strip() or "\n" in spec.work_dir:
                raise where.error(f"`work_dir:` {spec.work_dir!r} is not a folder",
                                  "e.g. work_dir: ~/.trainyard/runs (the default)", "work_dir")
            config["work_dir"] = spec.work_dir.strip()
        if spec.hosts is not None:  # the nodes of distributed runs (engine.compute.ssh.group)
            hosts = [h.strip() for h in spec.hosts]
            if not hosts or any(not h or any(c.isspace() for c in h) for h in hosts):
                raise where.error(f"`hosts:` {spec.hosts!r} is not a list of host names",
                                  "e.g. hosts: [gpu-a, gpu-b] (names or ~/.ssh/config aliases; node 0 first)",
                                  "hosts")
            config["hosts"] = hosts
        if spec.cache_dir is not None:  # the host's blob store and environments (engine.compute.ssh)
            if not spec.cache_dir.strip() or "\n" in spec.cache_dir:
                raise where.error(f"`cache_dir:` {spec.cache_dir!r} is not a folder",
                                  "e.g. cache_dir: ~/.trainyard (the default)", "cache_dir")
            config["cache_dir"] = spec.cache_dir.strip()
        if spec.keep_remote_files:
            config["keep_remote_files"] = True
    if spec.max_concurrent_runs is not None:
        if spec.max_concurrent_runs < 1:
            raise where.error(f"`max_concurrent_runs:` must be 1 or more, not {spec.max_concurrent_runs}",
                              "leave it out for no limit", "max_concurrent_runs")
        config["max_concurrent_runs"] = spec.max_concurrent_runs
    return ComputeTarget(spec.name, spec.type, config, spec.description or "")


def _slurm_target(spec: ComputeYamlSchema, where: Where) -> ComputeTarget:
    """A `type: slurm` target: the login node (`local: true`, or SSH's keys), and how jobs are
    submitted (engine.compute.slurm.target)."""
    for key in (*SSH_ONLY_KEYS, *DOCKER_KEYS):
        if getattr(spec, key) is not None:
            raise where.error(f"`{key}:` is not a setting of `type: slurm` targets",
                              f"remove `{key}:` (Slurm places jobs; GPUs come from the job's `resources.gpus`)",
                              key, key=True)
    config: dict[str, Any] = {}
    if spec.local and spec.host is not None:
        raise where.error("a Slurm target has either `local: true` (Trainyard runs on the login node) or "
                          "`host:` (the login node over SSH), not both", "remove one of them", "host")
    if spec.local:
        config["local"] = True
        for key in ("port", "user", "key_file", "known_hosts"):
            if getattr(spec, key) is not None:
                raise where.error(f"`{key}:` is for reaching the login node over SSH; this target has "
                                  "`local: true`", f"remove `{key}:`, or replace `local: true` with `host:`",
                                  key, key=True)
    else:
        if not (spec.host or "").strip():
            needs = ("a Slurm target needs its login node: `local: true` (Trainyard runs there) or `host:`",
                     "add `local: true`, or `host: login.cluster.example` (an ~/.ssh/config alias works)")
            raise where.error(*needs, "host") if spec.host is not None else where.error_at_start(*needs)
        port = 22 if spec.port is None else spec.port
        if not 0 < port < 65536:
            raise where.error(f"`port:` {port} is not a TCP port", "use 1-65535 (SSH's is 22)", "port")
        config.update(host=(spec.host or "").strip(), port=port)
        for key in ("user", "key_file", "known_hosts"):
            if getattr(spec, key) is not None:
                config[key] = getattr(spec, key)
    for key in ("partition", "account", "qos"):
        value = getattr(spec, key)
        if value is not None:
            if not SLURM_WORD_RE.match(value.strip()):
                raise where.error(f"`{key}:` {value!r} is not a Slurm {key} name",
                                  f"e.g. {key}: {'gpu' if key == 'partition' else 'normal'}", key)
            config[key] = value.strip()
    if spec.time_limit is not None:
        limit = str(spec.time_limit).strip()
        if isinstance(spec.time_limit, bool) or not TIME_RE.match(limit):
            raise where.error(f"`time_limit:` {spec.time_limit!r} is not a Slurm time limit",
                              'e.g. time_limit: "2:00:00" (H:MM:SS), "1-00:00:00" (D-HH:MM:SS) or 30 (minutes)',
                              "time_limit")
        config["time_limit"] = limit
    if spec.gpu_request is not None:
        if spec.gpu_request not in GPU_REQUESTS:
            raise where.error(f"`gpu_request:` {spec.gpu_request!r} is not a way to ask Slurm for GPUs",
                              "gpus-per-node (--gpus-per-node=N, the default) or gres (--gres=gpu:N)",
                              "gpu_request")
        config["gpu_request"] = spec.gpu_request
    if spec.mpi is not None:
        if not SLURM_WORD_RE.match(spec.mpi.strip()):
            raise where.error(f"`mpi:` {spec.mpi!r} is not one of srun's MPI plugins",
                              "pmix (the default), pmi2, none, or default (the cluster's MpiDefault); "
                              "`srun --mpi=list` on the login node lists them", "mpi")
        config["mpi"] = spec.mpi.strip()
    if spec.sbatch is not None:
        lines = []
        for i, raw in enumerate(spec.sbatch):
            line = raw.strip().removeprefix("#SBATCH").strip()
            if not line.startswith("-") or "\n" in line:
                raise where.error(f"`sbatch:` item {i + 1} {raw!r} is not an sbatch option",
                                  'e.g. sbatch: ["--constraint=a100", "--mem=32G"]', "sbatch")
            lines.append(line)
        config["sbatch"] = lines
    if spec.work_dir is not None:
        if not spec.work_dir.strip() or "\n" in spec.work_dir:
            raise where.error(f"`work_dir:` {spec.work_dir!r} is not a folder",
                              "a folder on the cluster's shared filesystem, e.g. /shared/$USER/trainyard",
                              "work_dir")
        config["work_dir"] = spec.work_dir.strip()
    if spec.keep_remote_files:
        config["keep_remote_files"] = True
    if spec.max_concurrent_runs is not None:
        if spec.max_concurrent_runs < 1:
            raise where.error(f"`max_concurrent_runs:` must be 1 or more, not {spec.max_concurrent_runs}",
                              "leave it out for no limit", "max_concurrent_runs")
        config["max_concurrent_runs"] = spec.max_concurrent_runs
    return ComputeTarget(spec.name, "slurm", config, spec.description or "")


def _check_name(name: str, where: Where) -> None:
    try:
        names.check_name(name, "compute target", reserved=BUILTIN_COMPUTE, length_note=False)
    except InvalidSpec as exc:
        raise where.error(exc.message, exc.hint, "name") from None


def _network(raw: str | None, where: Where) -> str:
    if raw is None:
        return "host"
    text = raw.strip()
    if not NETWORK_RE.match(text):
        raise where.error(f"`network:` {raw!r} is not a Docker network",
                          "use host (the default), none, bridge or the name of a Docker network", "network")
    return text
