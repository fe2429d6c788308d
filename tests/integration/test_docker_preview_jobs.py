"""The seed's 2021 preview spelling of a job's container (`environment.docker.image`,
`environment.docker.build.dockerfile: file:DOCKERFILE`, `compute.target: local`) runs in the real
Docker daemon through the real `trainyard` CLI, as `az ml job create -f hello-world.yml` did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("trainyard")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "engine.cli.main"]
BASE = "trainyard-test-base:latest"


def create(job: Path, ws: Path) -> tuple[dict[str, Any], str]:
    env = {
        **os.environ,
        "TRAINYARD_WORKSPACE": str(ws),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [*CLI, "job", "create", "-f", str(job), "--stream", "-o", "json"],
        cwd=job.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_preview_docker_image_and_dockerfile_jobs_run_in_containers(
    tmp_path: Path, docker_client: Any
) -> None:
    hello = tmp_path / "hello.yml"
    hello.write_text(
        textwrap.dedent(f"""\
        command: python3 -c "import os; print('in a container:', os.path.exists('/.dockerenv'))"
        environment:
          docker:
            image: {BASE}
        compute:
          target: local
        """)
    )
    doc, err = create(hello, tmp_path / "ws")
    assert doc["status"] == "Completed"
    assert "`environment.docker.image` (Azure ML preview schema) read as `environment.image`" in err
    assert "in a container: True" in err  # --stream -o json: the log is on stderr

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "hello.py").write_text(
        "import os\nprint('built:', os.environ.get('FROM_DOCKERFILE'))\n"
    )
    (tmp_path / "DOCKERFILE").write_text(f"FROM {BASE}\nENV FROM_DOCKERFILE=yes\n")
    built = tmp_path / "built.yml"
    built.write_text(
        textwrap.dedent("""\
        code:
          local_path: src
        command: python3 hello.py
        environment:
          docker:
            build:
              dockerfile: file:DOCKERFILE
        compute:
          target: local
        """)
    )
    doc, err = create(built, tmp_path / "ws")
    assert doc["status"] == "Completed"
    assert "read as `environment.build: {path: DIR, dockerfile_path: FILE}`" in err
    assert "built: yes" in err
