"""Pipeline overhead on local compute, beside a single command job measured in the same run:
- submit -> the script's first line, for one command job and for the first step of a pipeline;
- the gap from one step's end to the next step's first line (the controller notices the end,
  hashes the outputs, submits the next step, whose supervisor starts the script);
- an unchanged resubmit of a 4-step pipeline: submit -> every step reused and the pipeline Completed.
No environment is built (the steps run Trainyard's own interpreter, as the cached case does).

    python bench/bench_pipeline.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.api import Engine
from engine.jobs.spec import JobSpec
from engine.runtime.files import RunFiles
from engine.specs.pipeline import load_pipeline_file

STEP = """\
import pathlib, sys, time
print('first line', time.time(), flush=True)
pathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
(pathlib.Path(sys.argv[1]) / 'x.txt').write_text(sys.argv[2])
"""

PIPELINE = """\
type: pipeline
experiment_name: bench-pipeline
inputs:
  tag: TAG
jobs:
  s1:
    code: src
    command: python step.py ${{outputs.out}} ${{inputs.tag}}
    inputs: {tag: "${{parent.inputs.tag}}"}
    outputs: {out: }
"""
for _i in range(2, 5):
    PIPELINE += f"""\
  s{_i}:
    code: src
    command: python step.py ${{{{outputs.out}}}} ${{{{inputs.prev}}}}
    inputs: {{prev: "${{{{parent.jobs.s{_i - 1}.outputs.out}}}}"}}
    outputs: {{out: }}
"""


def first_line_time(run_dir: str, timeout: float = 60) -> float:
    """The wall-clock time the script printed its first line (it prints time.time())."""
    log = RunFiles(Path(run_dir)).driver_log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for line in log.read_text().splitlines():
                if line.startswith("first line"):
                    return float(line.split()[2])
        except OSError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"no first line in {log}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "proj" / "src").mkdir(parents=True)
        (tmp / "proj" / "src" / "step.py").write_text(STEP)
        eng = Engine.open(tmp / "ws")
        job_times, first_step, gaps, fresh_total, reuse_total = [], [], [], [], []
        for i in range(args.repeat + 1):
            t0 = time.time()
            run = eng.submit(
                JobSpec(
                    experiment_name="bench-job",
                    code_dir=tmp / "proj" / "src",
                    command=f"python step.py outputs/x {i}",
                )
            )
            started = first_line_time(run.run_dir)
            eng.wait(run.name, timeout=60)
            if i:
                job_times.append(started - t0)

            path = tmp / "proj" / "pipeline.yml"
            path.write_text(PIPELINE.replace("TAG", f"run{i}"))  # a new tag: nothing to reuse
            t0 = time.time()
            parent = eng.submit_pipeline(load_pipeline_file(path))
            done = eng.wait(parent.name, timeout=120)
            assert done.status == "Completed", done.error
            graph = eng.pipeline_graph(parent.name)
            runs = [eng.get_run(str(s.run_name)) for s in graph.steps]
            starts = [first_line_time(r.run_dir) for r in runs]
            if i:
                first_step.append(starts[0] - t0)
                gaps += [starts[k] - float(runs[k - 1].end_time or 0) for k in range(1, len(runs))]
                fresh_total.append(float(done.end_time or 0) - t0)

            t0 = time.time()  # the same again: every step reused
            again = eng.submit_pipeline(load_pipeline_file(path))
            final = eng.wait(again.name, timeout=60, poll=0.01)
            assert all(s.reused_from for s in eng.pipeline_graph(again.name).steps)
            if i:
                reuse_total.append(float(final.end_time or 0) - t0)
        eng.close()

    def row(label: str, values: list[float]) -> str:
        return (
            f"{label:58} {statistics.median(values) * 1000:8.0f} {min(values) * 1000:8.0f} "
            f"{max(values) * 1000:8.0f}"
        )

    print(
        f"{'(ms, median / min / max over ' + str(args.repeat) + ' runs)':58} {'median':>8} {'min':>8} {'max':>8}"
    )
    print(row("command job: submit -> first line", job_times))
    print(row("pipeline: submit -> first line of step 1", first_step))
    print(row("pipeline: step end -> first line of the next step", gaps))
    print(row("pipeline of 4 steps, nothing reused: submit -> Completed", fresh_total))
    print(row("pipeline of 4 steps, all reused: submit -> Completed", reuse_total))


if __name__ == "__main__":
    main()
