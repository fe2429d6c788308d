"""scripts/example_jobs_compat.py counts a pipeline job file that Trainyard reads as loaded (and
one that names a registered component apart), and one with a step type it does not run as
refused, on a small checkout laid out as Azure/azureml-examples is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAD = "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\ntype: pipeline\n"


def test_pipeline_files_are_counted_as_the_cli_reads_them(tmp_path: Path) -> None:
    jobs = tmp_path / "cli" / "jobs" / "pipelines"
    jobs.mkdir(parents=True)
    (jobs / "hello.yml").write_text(HEAD + "jobs:\n  hi:\n    command: echo hi\n")
    (jobs / "registered.yml").write_text(HEAD + "jobs:\n  hi:\n    component: azureml:greet@latest\n")
    (jobs / "parallel.yml").write_text(HEAD + "jobs:\n  many:\n    type: parallel\n")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "example_jobs_compat.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    row = next(line.split() for line in out.stdout.splitlines() if line.startswith("pipelineJob"))
    assert row[1:] == ["3", "2", "1", "0", "1"], out.stdout  # files, loaded, refused, crashed, needs components
    assert "a pipeline step of a type other than command or sweep" in out.stdout
