"""`trainyard data ...` and the data parts of `trainyard job ...`, through the real CLI with real runs:
assets snapshotted (immutable) or referenced, lineage both ways, named outputs downloaded."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest


def ok(cli: Any, *args: str, cwd: Path | None = None) -> str:
    done = cli(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return str(done.stdout)


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "rows.csv").write_text("a,b\n1,2\n")
    (root / "src").mkdir()
    (root / "src" / "prep.py").write_text(
        textwrap.dedent("""\
        import os, sys, shutil
        src, out = sys.argv[1], sys.argv[2]
        rows = open(os.path.join(src, "rows.csv")).read()
        open(os.path.join(out, "clean.csv"), "w").write(rows.upper())
        print("read", repr(rows))
        """)
    )
    (root / "data.yml").write_text(
        textwrap.dedent("""\
        $schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
        name: raw-rows
        version: 1
        type: uri_folder
        path: ./raw
        description: rows as collected
        tags: {source: test}
        """)
    )
    (root / "prep.yml").write_text(
        textwrap.dedent("""\
        command: python prep.py ${{inputs.raw}} ${{outputs.clean}}
        code: src
        inputs:
          raw:
            type: uri_folder
            path: azureml:raw-rows@latest
        outputs:
          clean:
            type: uri_folder
            name: clean-rows
        """)
    )
    return root


def test_data_create_snapshot_lineage_and_download(
    cli: Any, proj: Path, ws_dir: Path, tmp_path: Path
) -> None:
    created = json.loads(ok(cli, "data", "create", "-f", str(proj / "data.yml"), "-o", "json"))
    assert (created["name"], created["version"], created["type"]) == ("raw-rows", 1, "uri_folder")
    assert created["tags"] == {"source": "test"} and created["copied"] is True and created["size"] == 8
    # A version is immutable: registering 1 again fails and changes nothing.
    again = cli("data", "create", "-f", str(proj / "data.yml"))
    assert again.returncode != 0 and "raw-rows:1 already exists" in again.stderr
    assert "Traceback" not in again.stderr
    # The asset is a copy: changing the user's folder does not change it.
    (proj / "raw" / "rows.csv").write_text("changed\n")
    job = json.loads(ok(cli, "job", "create", "-f", str(proj / "prep.yml"), "--stream", "-o", "json"))
    assert job["status"] == "Completed"
    run = job["name"]
    log = (Path(job["run_dir"]) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert "read 'a,b\\n1,2\\n'" in log

    shown = json.loads(ok(cli, "job", "show", "-n", run, "-o", "json"))
    (inp,), (out,) = shown["data"]["inputs"], shown["data"]["outputs"]
    assert inp["name"] == "raw" and inp["asset"] == "azureml:raw-rows:1" and inp["mode"] == "ro_mount"
    assert inp["content_hash"] == created["content_hash"]
    assert out["name"] == "clean" and out["asset"] == "azureml:clean-rows:1"

    raw = json.loads(ok(cli, "data", "show", "-n", "raw-rows", "-o", "json"))
    assert raw["consumed_by"] == [run] and raw["produced_by"] is None
    clean = json.loads(ok(cli, "data", "show", "-n", "clean-rows@latest", "-o", "json"))
    assert clean["produced_by"] == run and clean["consumed_by"] == []
    human = ok(cli, "data", "show", "-n", "clean-rows")
    assert run in human

    dest = tmp_path / "dl"
    ok(cli, "job", "download", "-n", run, "--output-name", "clean", "--download-path", str(dest))
    assert (dest / "named-outputs" / "clean" / "clean.csv").read_text() == "A,B\n1,2\n"
    missing = cli("job", "download", "-n", run, "--output-name", "nope", "--download-path", str(dest))
    assert (
        missing.returncode != 0 and "no output named 'nope'" in missing.stderr and "clean" in missing.stderr
    )

    # Archive: gone from the list and from @latest, still there by version.
    ok(cli, "data", "archive", "-n", "clean-rows")
    names = [d["name"] for d in json.loads(ok(cli, "data", "list", "-o", "json"))]
    assert names == ["raw-rows"]
    latest = cli("data", "show", "-n", "clean-rows")
    assert latest.returncode != 0 and "no version that is not archived" in latest.stderr
    assert json.loads(ok(cli, "data", "show", "-n", "clean-rows:1", "-o", "json"))["archived"] is True


def test_no_copy_keeps_a_reference_checked_by_its_checksum(cli: Any, proj: Path, ws_dir: Path) -> None:
    out = ok(cli, "data", "create", "--name", "big", "--path", str(proj / "raw"), "--no-copy")
    assert "reference" in out and "checksum" in out
    doc = json.loads(ok(cli, "data", "show", "-n", "big", "-o", "json"))
    assert doc["copied"] is False and doc["path"] == str(proj / "raw") and doc["content_hash"]
    (proj / "prep.yml").write_text((proj / "prep.yml").read_text().replace("raw-rows@latest", "big:1"))
    (proj / "raw" / "rows.csv").write_text("changed\n")
    refused = cli("job", "create", "-f", str(proj / "prep.yml"))
    assert refused.returncode != 0
    assert "big:1" in refused.stderr and "--no-copy" in refused.stderr and "changed" in refused.stderr
    assert json.loads(ok(cli, "job", "list", "-o", "json")) == []


def test_bad_data_yaml_names_file_line_and_key(cli: Any, proj: Path, ws_dir: Path) -> None:
    bad = proj / "bad.yml"
    bad.write_text("name: x\npath: ./raw\ntype: uri_folder\nversion: one\n")
    done = cli("data", "create", "-f", str(bad))
    assert done.returncode != 0 and f"{bad}:4" in done.stderr and "version" in done.stderr
    bad.write_text("name: x\npath: ./nothing-here\n")
    done = cli("data", "create", "-f", str(bad))
    assert done.returncode != 0 and "nothing-here" in done.stderr and "does not exist" in done.stderr
    bad.write_text("name: x\npath: ./raw\ntype: uri_file\n")
    done = cli("data", "create", "-f", str(bad))
    assert done.returncode != 0 and "uri_file" in done.stderr
    assert json.loads(ok(cli, "data", "list", "-o", "json")) == []
