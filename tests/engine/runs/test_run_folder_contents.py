"""What a submitted project's run folder holds: the project minus its `.amlignore`d files and minus
anything that looks like a secret (`.env`, keys), submitted with the real CLI and run by a real
supervisor. The script itself reports what it sees, so the check covers what the run really got."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.api import Engine

LISTING = """
import json, os
seen = sorted(os.path.relpath(os.path.join(d, f), ".") for d, _, fs in os.walk(".") for f in fs)
print("SEEN " + json.dumps(seen), flush=True)
"""

KEPT = {"train.py", "job.yml", ".amlignore", ".gitignore", "notes.txt", "src/model.py", "data/small.csv",
        "src/.amlignore"}
LEFT_OUT = {
    "checkpoints/big.ckpt": "ignored by .amlignore",
    "debug.log": "ignored by .amlignore",
    "data/raw/huge.bin": "ignored by .amlignore",
    "src/scratch.tmp": "ignored by src/.amlignore",
    ".env": "secret",
    ".env.local": "secret",
    "src/.env": "secret",
    "id_rsa": "secret",
    "certs/server.key": "secret",
    "certs/client.pem": "secret",
    ".netrc": "secret",
}


def test_the_run_folder_lacks_ignored_files_and_secrets(ws_dir: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    proj = tmp_path / "proj"
    files = {
        "train.py": LISTING,
        "job.yml": "command: python train.py\ncode: .\nexperiment_name: contents\n",
        # .amlignore replaces .gitignore: notes.txt (only in .gitignore) is kept.
        ".amlignore": "checkpoints/\n*.log\ndata/raw/\n",
        ".gitignore": "notes.txt\n",
        "notes.txt": "kept",
        "src/model.py": "kept",
        "src/.amlignore": "*.tmp\n",
        "data/small.csv": "a,b\n1,2\n",
        **{rel: f"SECRET-{i}" for i, rel in enumerate(LEFT_OUT)},
    }
    for rel, text in files.items():
        (proj / rel).parent.mkdir(parents=True, exist_ok=True)
        (proj / rel).write_text(text)

    res = cli("job", "create", "-f", str(proj / "job.yml"), "--stream", "-o", "json", cwd=proj)
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["name"]
    eng = Engine.open(ws_dir)
    try:
        run = eng.get_run(name)
        assert run.status == "Completed", run.error
        run_dir = Path(run.run_dir)
        log = (run_dir / "azureml-logs" / "70_driver_log.txt").read_text()
        seen_line = next(line for line in log.splitlines() if line.startswith("SEEN "))
        seen = set(json.loads(seen_line[5:]))
        # The script saw exactly the kept files (plus whatever the run itself made in its folder).
        assert KEPT <= seen, KEPT - seen
        assert not seen & set(LEFT_OUT), seen & set(LEFT_OUT)
        # Nothing anywhere in the run folder is an ignored file or holds a secret's content.
        for dirpath, _dirs, names in os.walk(run_dir):
            for n in names:
                path = Path(dirpath, n)
                rel = path.relative_to(run_dir).as_posix()
                assert not any(rel.endswith(left) for left in LEFT_OUT), rel
                if not path.is_symlink() and path.stat().st_size < 1_000_000:
                    assert b"SECRET-" not in path.read_bytes(), rel
        # The submit said which secrets it left out.
        assert ".env" in res.stderr and "looks like a secret" in res.stderr, res.stderr
    finally:
        eng.close()
