"""`trainyard model ...` and `trainyard data ...`: the registry of models and data assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

MODEL_TYPES = ("custom_model", "mlflow_model", "triton_model")  # as engine.specs.model

from engine.cli.options import OUTPUT, name_version, open_engine, workspace_option
from engine.cli.output import data_document, model_document, print_fields, print_table, show
from engine.errors import InvalidSpec


@click.group()
def model() -> None:
    """Register, list and download models."""


@model.command("create")
@click.option("-f", "--file", "file", default=None, type=click.Path(dir_okay=False),
              help="model YAML (az ml schema: name, version, path, type, description, tags)")
@click.option("-n", "--name", default=None, help="the model's name (with -f: overrides the file's)")
@click.option("-p", "--path", default=None,
              help="file or folder; with --run, relative to the run (outputs/model.pt)")
@click.option("--run", "run_name", default=None, help="the job that produced it")
@click.option("--type", "model_type", default=None, type=click.Choice(MODEL_TYPES))
@click.option("--description", default=None)
@workspace_option
@OUTPUT
@click.pass_context
def model_create(ctx: click.Context, file: str | None, name: str | None, path: str | None, run_name: str | None,
                 model_type: str | None, description: str | None, workspace: str | None,
                 output_format: str) -> None:
    """Register a file or folder as the next version of a model, from a model YAML (-f) or options."""
    eng = open_engine(ctx, workspace)
    if file is not None:
        # The model YAML reader loads pydantic and PyYAML: only this form of the command pays for them.
        from engine.specs.model import load_model_yaml

        req = load_model_yaml(file)
        name = name or req.name
        _check_version(eng, name, req.version, req.source, req.version_line)
        source_path = path or req.path
        if req.run_name and not path and not Path(source_path).is_absolute():
            # A job's artifacts (MLflow's log_model and ./outputs) are under its outputs/ folder here.
            root = eng.run_files(req.run_name).root
            if not (root / source_path).exists() and (root / "outputs" / source_path).exists():
                source_path = f"outputs/{source_path}"
        m = eng.register_model(name, source_path, run_name=run_name or req.run_name,
                               description=description if description is not None else req.description,
                               tags={**req.tags, **({"model_type": model_type} if model_type else {})})
    else:
        if not name or not path:
            raise InvalidSpec("give -f MODEL.yml, or --name and --path",
                              "e.g. `trainyard model create --name iris --path outputs/model --run JOB`")
        m = eng.register_model(name, path, run_name=run_name, description=description or "",
                               tags={"model_type": model_type} if model_type else None)
    show(output_format, model_document(m),
         f"Registered model {m.name}:{m.version}" + (f" from job {m.run_name}" if m.run_name else ""))


def _check_version(eng: Any, name: str, version: int | None, source: str | None, line: int | None) -> None:
    """Versions are given out in order here: a file's `version:` must be the next one."""
    if version is None:
        return
    existing = [m.version for m in eng.list_models(name)]
    following = max(existing, default=0) + 1
    if version != following:
        taken = version in existing
        raise InvalidSpec(f"model {name} version {version} " + ("already exists" if taken else
                                                                 f"cannot be made: the next version is {following}"),
                          f"set `version: {following}`, or leave `version:` out to get the next one",
                          file=source, line=line, field="version")


@model.command("list")
@click.option("--name", default=None)
@workspace_option
@OUTPUT
@click.pass_context
def model_list(ctx: click.Context, name: str | None, workspace: str | None, output_format: str) -> None:
    """List registered models (all versions)."""
    eng = open_engine(ctx, workspace)
    docs = [model_document(m) for m in eng.list_models(name)]
    show(output_format, docs, lambda: print_table(
        docs, ["name", "version", "run", "creation_time", "path"],
        empty="No models yet. Register one with `trainyard model create --name NAME --path PATH`."))


@model.command("show")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION or NAME@latest")
@workspace_option
@OUTPUT
@click.pass_context
def model_show(ctx: click.Context, name: str, workspace: str | None, output_format: str) -> None:
    """Show one model version (default: the latest)."""
    eng = open_engine(ctx, workspace)
    doc = model_document(eng.get_model(*name_version(name)))
    show(output_format, doc, lambda: print_fields(doc, 14, blank=(None, "", {})))


@model.command("download")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION or NAME@latest")
@click.option("--output", "--download-path", "output", default=".", type=click.Path(file_okay=False))
@workspace_option
@click.pass_context
def model_download(ctx: click.Context, name: str, output: str, workspace: str | None) -> None:
    """Download a model version's files."""
    eng = open_engine(ctx, workspace)
    n, v = name_version(name)
    click.echo(f"Downloaded {eng.download_model(n, v, Path(output))}")


@click.group()
def data() -> None:
    """Register and list data assets."""


@data.command("create")
@click.option("-f", "--file", "file", default=None, type=click.Path(dir_okay=False),
              help="data asset YAML (az ml schema: name, version, type, path, description, tags)")
@click.option("--name", default=None, help="NAME (overrides the file's)")
@click.option("--path", default=None, help="local file or folder, or an http(s) URL (overrides the file's)")
@click.option("--type", "kind", default=None, type=click.Choice(["uri_file", "uri_folder", "mltable"]))
@click.option("--version", default=None, type=int, help="a version that does not exist yet (default: the next)")
@click.option("--description", default=None)
@click.option("--no-copy", is_flag=True,
              help="keep a reference to the path with its checksum instead of a copy (for very large data)")
@workspace_option
@OUTPUT
@click.pass_context
def data_create(ctx: click.Context, file: str | None, name: str | None, path: str | None, kind: str | None,
                version: int | None, description: str | None, no_copy: bool, workspace: str | None,
                output_format: str) -> None:
    """Register a data asset version: a local path is copied into the workspace's content store,
    so the asset does not change when the folder does (unless --no-copy)."""
    request = None
    if file is not None:
        from engine.specs.data import load_data_asset  # pydantic and PyYAML: only this command pays

        request = load_data_asset(file)
    name = name or (request.name if request else None)
    path = path or (request.path if request else None)
    if not name or not path:
        raise click.UsageError("give -f data.yml, or --name and --path")
    eng = open_engine(ctx, workspace)
    d = eng.create_data_asset(name, path, description if description is not None else
                              (request.description if request else ""),
                              kind=kind or (request.type if request else None),
                              version=version if version is not None else (request.version if request else None),
                              tags=request.tags if request else None, copy=not no_copy,
                              source=request.source_file if request else None)
    how = (f"a reference to {d.path}, checked by its checksum (--no-copy: the asset changes if that folder does)"
           if not d.copied and d.content_hash else d.path)
    show(output_format, data_document(d), f"Registered data asset {d.name}:{d.version} ({d.kind}: {how})")


@data.command("list")
@click.option("--name", default=None, help="only this asset's versions")
@click.option("--include-archived", is_flag=True)
@workspace_option
@OUTPUT
@click.pass_context
def data_list(ctx: click.Context, name: str | None, include_archived: bool, workspace: str | None,
              output_format: str) -> None:
    """List data assets (every version)."""
    eng = open_engine(ctx, workspace)
    docs = [data_document(d) for d in eng.list_data_assets(name, include_archived)]
    show(output_format, docs, lambda: print_table(
        docs, ["name", "version", "type", "size", "produced_by", "path"],
        empty="No data assets yet. Register one with `trainyard data create -f data.yml`."))


@data.command("show")
@click.option("-n", "--name", required=True, help="NAME, NAME:VERSION or NAME@latest")
@click.option("-v", "--version", default=None, type=int)
@workspace_option
@OUTPUT
@click.pass_context
def data_show(ctx: click.Context, name: str, version: int | None, workspace: str | None,
              output_format: str) -> None:
    """Show one data asset version (default: the latest), with the run that produced it and the
    runs that consumed it."""
    eng = open_engine(ctx, workspace)
    n, v = name_version(name)
    asset = eng.get_data_asset(n, version if version is not None else v)
    usage = eng.asset_lineage("data", asset.name, asset.version)
    doc = data_document(asset, usage)
    show(output_format, doc, lambda: print_fields(doc, 14, blank=(None, "", {}, [])))


@data.command("archive")
@click.option("-n", "--name", required=True)
@click.option("-v", "--version", default=None, type=int, help="one version (default: all of them)")
@click.option("--restore", is_flag=True, help="bring archived versions back")
@workspace_option
@click.pass_context
def data_archive(ctx: click.Context, name: str, version: int | None, restore: bool, workspace: str | None) -> None:
    """Archive a data asset (or one version): hidden from `data list` and from NAME@latest, still
    usable as NAME:VERSION."""
    eng = open_engine(ctx, workspace)
    done = eng.archive_data_asset(name, version, archived=not restore)
    verb = "Restored" if restore else "Archived"
    click.echo(f"{verb} data asset {name} version(s) {', '.join(str(d.version) for d in done)}")
