"""`trainyard job show` says what a job asked for beyond one plain process (resources,
distribution, time limit), as its `-o json` has them; a plain job gets no such line."""

from __future__ import annotations

import json
from pathlib import Path


def test_job_show_says_what_the_job_asked_for(eng, project, cli) -> None:  # type: ignore[no-untyped-def]
    code = project({"hi.py": "print('hi')\n", "job.yml": """\
        command: python hi.py
        code: .
        compute: local
        resources: {shm_size: 2g}
        limits: {timeout: 600}
    """, "plain.yml": "command: python hi.py\ncode: .\ncompute: local\n"})
    names = {}
    for job in ("job.yml", "plain.yml"):
        out = cli("job", "create", "-f", str(Path(code) / job), "--query", "name", "-o", "tsv")
        assert out.returncode == 0, out.stderr
        names[job] = out.stdout.strip()
        assert eng.wait(names[job], timeout=60).status == "Completed"
    shown = cli("job", "show", "-n", names["job.yml"])
    assert shown.returncode == 0, shown.stderr
    assert "resources:        shm 2g, timeout 10m00s" in shown.stdout.splitlines()
    doc = json.loads(cli("job", "show", "-n", names["job.yml"], "-o", "json").stdout)
    assert doc["resources"]["shm_size"] == "2g" and doc["limits"]["timeout"] == 600
    assert "resources:" not in cli("job", "show", "-n", names["plain.yml"]).stdout
