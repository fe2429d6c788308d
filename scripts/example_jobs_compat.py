"""How many of the public Azure ML examples' job files Trainyard loads.

    git clone https://github.com/Azure/azureml-examples   (or any checkout of it, old or new)
    python scripts/example_jobs_compat.py PATH/TO/azureml-examples [--engine-root DIR] [-v]

Job files are the YAML files under cli/jobs whose `$schema` names a job schema (commandJob,
sweepJob, pipelineJob, autoMLJob, sparkJob), or, in the 2021 preview checkouts that had no
`$schema` on every file, that have a top-level `command:` or `type: sweep_job`. Each is read
as `trainyard job create -f` and `job validate` read it (`engine.specs.pipeline.load_any_job`:
command, sweep and pipeline jobs; `engine.specs.jobs.load_job` in checkouts of Trainyard from
before pipelines) and counted as loaded, refused (a Trainyard error: a message naming the file
and what to do), or crashed (any other exception: a bug). A pipeline that loads may still name a
registered component (`azureml:NAME@latest`) that `trainyard component create` must register
before it runs: those are counted apart, as "loaded, needs components". `--engine-root` measures
another checkout of Trainyard (e.g. main before a change). Prints a table by job kind, and with
-v each refusal's message.
"""

from __future__ import annotations

import argparse
import collections
import io
import re
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

_JOB_SCHEMA = re.compile(r"^\$schema:\s*\S*/(\w+Job)\.schema\.json", re.MULTILINE)
_PREVIEW_JOB = re.compile(r"^(command:|type:\s*sweep_job)", re.MULTILINE)


def job_files(checkout: Path) -> list[tuple[Path, str]]:
    """(file, kind) of every job file under cli/jobs, sorted."""
    found = []
    for path in sorted((checkout / "cli" / "jobs").rglob("*")):
        if path.suffix not in (".yml", ".yaml") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        match = _JOB_SCHEMA.search(text)
        if match:
            found.append((path, match.group(1)))
        elif "$schema" not in text and _PREVIEW_JOB.search(text):
            found.append((path, "sweepJob" if "sweep_job" in text else "commandJob"))
    return found


def _registered_components(spec: object) -> list[str]:
    """The `azureml:` components a loaded pipeline's steps name (resolved when it is submitted)."""
    steps = getattr(spec, "steps", None) or {}
    return [
        s.component
        for s in steps.values()
        if isinstance(s.component, str) and s.component.startswith("azureml:") and s.component_spec is None
    ]


def _reason(message: str) -> str:
    """A refusal in a few words, for the summary."""
    for words, reason in (
        ("which this version of Trainyard does not run", "a pipeline step of a type other than command or sweep"),
        ("component type", "a component of a type other than command"),
        ("type mltable", "an mltable input or output"),
        ("is not supported by this version", "a job type Trainyard does not run"),
        ("which this machine does not reach", "its input data is in cloud storage"),
        ("an output is collected into the run's folder", "an output's path is a datastore"),
        ("does not exist", "a file or folder it names is not there"),
        ("unknown key", "a key Trainyard does not know"),
    ):
        if words in message:
            return reason
    return message.split(": ", 1)[-1][:80]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a checkout of Azure/azureml-examples")
    parser.add_argument(
        "--engine-root",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="the Trainyard checkout to measure (default: this one)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print each refusal and crash")
    args = parser.parse_args()
    sys.path.insert(0, str(args.engine_root.resolve()))
    from engine.errors import TrainyardError

    try:
        from engine.specs.pipeline import load_any_job as load
    except ImportError:  # a checkout from before pipelines
        from engine.specs.jobs import load_job as load

    files = job_files(args.checkout)
    if not files:
        sys.stderr.write(f"no job files under {args.checkout / 'cli' / 'jobs'}\n")
        return 2
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    details = []
    reasons: collections.Counter[str] = collections.Counter()
    for path, kind in files:
        rel = path.relative_to(args.checkout)
        noise = io.StringIO()  # notes the loader prints are not part of the table
        try:
            with redirect_stdout(noise), redirect_stderr(noise):
                spec = load(path)
            counts[kind]["loaded"] += 1
            if _registered_components(spec):
                counts[kind]["needs components"] += 1
        except TrainyardError as exc:
            counts[kind]["refused"] += 1
            reasons[_reason(exc.message)] += 1
            details.append(f"refused  {rel}: {str(exc).splitlines()[0]}")
        except Exception:  # noqa: BLE001 - a crash is what this script exists to find
            counts[kind]["crashed"] += 1
            details.append(f"CRASHED  {rel}:\n{traceback.format_exc()}")
    width = max(len(k) for k in counts) + 2
    print(f"{'job kind':{width}}{'files':>6}{'loaded':>8}{'refused':>9}{'crashed':>9}   loaded, needs components")
    total: collections.Counter[str] = collections.Counter()

    def row(name: str, c: collections.Counter[str]) -> str:
        files = c["loaded"] + c["refused"] + c["crashed"]
        return f"{name:{width}}{files:>6}{c['loaded']:>8}{c['refused']:>9}{c['crashed']:>9}{c['needs components']:>9}"

    for kind in sorted(counts):
        total.update(counts[kind])
        print(row(kind, counts[kind]))
    print(row("all", total))
    print("\nrefused because" + "".join(f"\n  {n:4}  {why}" for why, n in reasons.most_common()))
    if args.verbose:
        print("\n".join(details))
    return 1 if total["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
