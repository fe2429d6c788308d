"""How the CLI shows things: JSON documents for -o json, aligned tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine import entities as E
from engine.cli.options import QUERY_KEY
from engine.errors import InvalidSpec, TrainyardError
from engine.links import run_link, workspace_of_run_dir
from engine.runtime.launchspec import read_spec
from engine.runtime.sweepresults import SweepRecord


def run_document(run: E.Run, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": run.name,
        "type": "sweep" if SweepRecord.from_properties(run.properties) is not None else "command",
        "display_name": run.display_name,
        "experiment_name": run.experiment_name,
        "description": run.description,
        "status": run.status,
        "status_history": [{"status": ev.status, "time": E.iso(ev.time)} for ev in run.status_history],
        "creation_time": E.iso(run.created_at),
        "start_time": E.iso(run.start_time),
        "end_time": E.iso(run.end_time),
        "duration_seconds": round(run.duration, 3) if run.duration is not None else None,
        "compute": run.compute,
        "environment": run.environment,
        "command": run.command,
        "snapshot_id": run.snapshot_id,
        "git": run.git,
        "inputs": run.inputs,
        "params": run.params,
        "tags": run.tags,
        "properties": run.properties,
        "exit_code": run.exit_code,
        "error": run.error,
        "metrics": metrics if metrics is not None else {},
        "parent_job_name": run.parent_name,
        "run_dir": run.run_dir,
        "portal_url": run_link(run.name, workspace_of_run_dir(run.run_dir)),
    }


def run_settings_document(spec_path: Path) -> dict[str, Any]:
    """How a job's run was asked to run, from its spec.json (`job show`'s `resources`,
    `distribution` and `limits`; a pipeline step's are its component's with the step's own over
    them); empty for a sweep's or pipeline's run, or a run folder without one."""
    try:
        spec = read_spec(spec_path)
    except (OSError, TrainyardError):
        return {}
    if spec.kind != "job":
        return {}
    dist = spec.distribution
    return {
        "resources": {"instance_count": dist.instance_count if dist is not None else 1,
                      "shm_size": spec.placement.shm_size, "gpus": spec.placement.gpus},
        "distribution": dist.to_dict() if dist is not None else None,
        "limits": {"timeout": spec.max_run_duration_seconds},
    }


def model_document(m: E.Model) -> dict[str, Any]:
    return {
        "name": m.name,
        "version": m.version,
        "path": m.path,
        "run": m.run_name,
        "description": m.description,
        "tags": m.tags,
        "creation_time": E.iso(m.created_at),
        "source_path": m.source_path,
    }


def data_document(d: E.DataAsset, usage: list[E.RunData] | None = None) -> dict[str, Any]:
    """A data asset version; with `usage` (its lineage records), the runs that consumed it."""
    doc = {"name": d.name, "version": d.version, "type": d.kind, "path": d.path,
           "description": d.description, "tags": d.tags, "creation_time": E.iso(d.created_at),
           "size": d.size, "file_count": d.file_count, "content_hash": d.content_hash,
           "copied": d.copied, "source_path": d.source_path, "archived": d.archived, "produced_by": d.run_name}
    if usage is not None:
        doc["consumed_by"] = sorted({u.run_name for u in usage if u.direction == "input"})
    return doc


def run_data_document(records: list[E.RunData]) -> dict[str, list[dict[str, Any]]]:
    """A run's inputs and outputs as it used them (`job show`'s `data`)."""
    def one(r: E.RunData) -> dict[str, Any]:
        asset = f"azureml:{r.asset_name}:{r.asset_version}" if r.asset_name else None
        return {"name": r.name, "type": r.type, "mode": r.mode, "path": r.path, "asset": asset,
                "asset_kind": r.asset_kind, "content_hash": r.content_hash}

    return {"inputs": [one(r) for r in records if r.direction == "input"],
            "outputs": [one(r) for r in records if r.direction == "output"]}


def compute_document(t: E.ComputeTarget) -> dict[str, Any]:
    """A compute target as its YAML reads (`name`, `type`, `description`, then its settings), plus
    `built_in` and `creation_time`."""
    return {"name": t.name, "type": t.type, "description": t.description, **t.config,
            "built_in": t.builtin, "creation_time": E.iso(t.created_at)}


def show(output_format: str, doc: Any, human: str | Callable[[], None]) -> None:
    """What a command prints, as the Azure CLI does: its JSON document (or what a function that
    makes it returns) with `--query` applied, as `-o json`, `yaml`, `tsv` or nothing (`none`);
    with the default `-o table`, `human` (a line or a function that prints), or the queried
    part of the document as a table when `--query` is given."""
    query = current_query()
    if output_format == "table" and query is None:
        if callable(human):
            human()
        else:
            click.echo(human)
        return
    if output_format == "none":
        return
    data = json.loads(json.dumps(doc() if callable(doc) else doc, default=str))  # what JSON readers see
    if query is not None:
        data = apply_query(query, data)
    if output_format == "json":
        print_json(data)
    elif output_format == "yaml":
        # PyYAML is loaded only for -o yaml.
        from engine.specs.yamlfile import dump

        sys.stdout.write(dump(data))
    elif output_format == "tsv":
        sys.stdout.write("".join(line + "\n" for line in tsv_lines(data)))
    else:
        _print_any(data)


def wants_document(output_format: str) -> bool:
    """Whether `show` will print the document (not the human form): -o other than table, or --query."""
    return output_format != "table" or current_query() is not None


def current_query() -> str | None:
    """The running command's --query (None outside a command, or without one)."""
    ctx = click.get_current_context(silent=True)
    return None if ctx is None else ctx.find_root().meta.get(QUERY_KEY)


def apply_query(query: str, data: Any) -> Any:
    """`--query`: a JMESPath expression on the document; a bad one says where it is wrong."""
    # jmespath is loaded only when a command is given --query.
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(query, data)
    except JMESPathError as exc:
        raise InvalidSpec(f"--query {query!r} is not a JMESPath expression Trainyard can apply: "
                          f"{str(exc).splitlines()[0]}",
                          "e.g. --query name, --query status, --query \"[].name\" (see https://jmespath.org)") from None


def tsv_lines(data: Any) -> list[str]:
    """The Azure CLI's `-o tsv`: a value alone on its line; a mapping's values tab-separated (nested
    mappings and lists left out); a list, one line per item. Nothing for null."""
    if data is None:
        return []
    if isinstance(data, list):
        return [line for item in data for line in (tsv_lines(item) if isinstance(item, list) else [_tsv_row(item)])]
    return [_tsv_row(data)]


def _tsv_row(value: Any) -> str:
    if isinstance(value, dict):
        return "\t".join(_tsv_cell(v) for v in value.values() if not isinstance(v, (dict, list)))
    return _tsv_cell(value)


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"  # as the Azure CLI writes them
    return str(value).replace("\t", " ").replace("\n", " ")


def _print_any(data: Any) -> None:
    """A queried part of a document as a table: rows of mappings, key: value lines, or values."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = list(dict.fromkeys(k for r in data for k, v in r.items() if not isinstance(v, (dict, list))))
        print_table(data, columns)
    elif isinstance(data, dict):
        width = max((len(str(k)) for k in data), default=0) + 2
        print_fields({str(k): v for k, v in data.items()}, width)
    else:
        for line in tsv_lines(data):
            click.echo(line)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def print_table(rows: list[dict[str, Any]], columns: list[str], empty: str | None = None) -> None:
    """Aligned columns under upper-case headers; no rows prints `empty` (if given)."""
    if not rows:
        if empty is not None:
            click.echo(empty)
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    sys.stdout.write("\n".join(out) + "\n")


def print_fields(doc: dict[str, Any], width: int, keys: tuple[str, ...] | None = None,
                 blank: tuple[Any, ...] = (None,)) -> None:
    """`key:   value` lines (the keys of `doc` present in `keys`, default all), values in
    `blank` shown as '-'."""
    for key in doc if keys is None else keys:
        if key in doc:
            value = doc[key]
            click.echo(f"{key + ':':{width}} {'-' if value in blank else value}")


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
