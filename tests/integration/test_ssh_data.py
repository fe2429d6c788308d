"""Job inputs and outputs on an SSH target that is a real remote host (a container reached over SSH,
as in test_ssh_container_remote.py): the input is sent there and the script gets a path on that
host; a named output comes back and is registered as a data asset; a failed run's output comes back
too and registers nothing."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

from test_ssh_container_remote import WORK_DIR, Remote, eng, remote, sshd_image  # noqa: F401 - fixtures

from engine.api import Engine
from engine.specs.jobs import load_job

SCRIPT = """\
import os, sys
d, out, fail = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("input at", d, "marker", open("/etc/trainyard-remote-marker").read().strip(), flush=True)
print("size", os.path.getsize(os.path.join(d, "blob.bin")), flush=True)
open(os.path.join(out, "feat.csv"), "w").write("f\\n1\\n")
sys.exit(fail)
"""


def test_ssh_input_is_sent_and_named_output_comes_back_registered(
    eng: Engine,  # noqa: F811
    remote: Remote,  # noqa: F811
    tmp_path: Path,
) -> None:
    eng.store.add_compute_target(
        "ctr",
        "ssh",
        {
            "host": "127.0.0.1",
            "port": remote.port,
            "user": "root",
            "key_file": str(remote.key),
            "known_hosts": str(remote.known_hosts),
            "work_dir": WORK_DIR,
        },
    )
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    (proj / "data" / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (proj / "src").mkdir()
    (proj / "src" / "feat.py").write_text(SCRIPT)
    job = proj / "job.yml"
    job.write_text(
        textwrap.dedent("""\
        command: python3 feat.py ${{inputs.data}} ${{outputs.feats}} ${{inputs.fail}}
        code: src
        compute: azureml:ctr
        inputs:
          data: {type: uri_folder, path: ./data}
          fail: {type: integer, default: 0}
        outputs:
          feats: {type: uri_folder, name: ssh-feats}
        """)
    )
    run = eng.wait(eng.submit(load_job(job)).name, timeout=300)
    log = (Path(run.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    assert run.status == "Completed", (run.error, log)
    assert f"input at {WORK_DIR}/{run.name}/inputs/data marker only-inside-the-ssh-remote-container" in log
    assert "size 3145728" in log
    assert "input data: 1 file(s), 3.1 MB new to this host" in log
    assert (Path(run.run_dir) / "outputs" / "feats" / "feat.csv").read_text() == "f\n1\n"
    asset = eng.get_data_asset("ssh-feats")
    assert asset.run_name == run.name and (Path(asset.path) / "feat.csv").read_text() == "f\n1\n"

    failed = eng.wait(eng.submit(load_job(job, ["inputs.fail=2"])).name, timeout=300)
    assert failed.status == "Failed"
    # The input is on the host already: its 3 MB are not sent again.
    again = (Path(failed.run_dir) / "azureml-logs" / "70_driver_log.txt").read_text()
    sent = re.search(r"input data: 1 file\(s\), 0.0 MB new to this host, (\d+) bytes sent", again)
    assert sent is not None and int(sent.group(1)) < 100_000, again
    assert (Path(failed.run_dir) / "outputs" / "feats" / "feat.csv").read_text() == "f\n1\n"
    assert [a.version for a in eng.list_data_assets()] == [1]
