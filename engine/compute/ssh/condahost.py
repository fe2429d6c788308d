"""The host's half of a conda environment built on an SSH host (engine.compute.ssh.condabuild).

Sent to the host's cache and run there with the host's python3 and the py-rattler package that
Trainyard sent along on its PYTHONPATH: ``python3 condahost.py REQUEST.json``. The request holds
the match specs, the channels (URLs as the host reaches them), the prefix to install into and the
package cache. Solves, installs, and prints what it does line by line (the run's build log); on a
failure prints ``ERROR: <kind>: <rattler's message>`` and exits 1 (2: the python is too old).
Standard library and rattler only: nothing of Trainyard is on the host.

``python3 condahost.py --explicit PREFIX`` prints what an environment holds, as a conda
``@EXPLICIT`` list (each package's URL and sha256, from ``conda-meta/*.json``), then a
``# pip NAME==VERSION`` line per Python distribution that conda did not install (the pip:
section's): the environment's lock (engine.environments.lock.explicit_lock). Standard library only.
"""

import asyncio
import json
import os
import sys


def say(text):
    print(text, flush=True)


def main(path):
    if sys.version_info < (3, 10):  # noqa: UP036 - the host's python, whatever its version
        say(
            f"ERROR: python {sys.version_info[0]}.{sys.version_info[1]} on this host is older than 3.10, "
            "which py-rattler (the conda solver Trainyard brings) needs"
        )
        return 2
    with open(path) as f:
        req = json.load(f)
    try:
        import rattler
    except ImportError as exc:
        say(f"ERROR: ImportError: the conda solver sent to this host does not load here: {exc}")
        return 1
    specs = list(req["specs"])
    channels = list(req["channels"])
    subdir = rattler.Subdir if hasattr(rattler, "Subdir") else rattler.Platform
    platforms = [str(subdir.current()), "noarch"]
    try:
        vpkgs = rattler.VirtualPackage.detect()
    except Exception:  # noqa: BLE001 - a host without the probes rattler uses: solve without them
        vpkgs = []
    say("solving: " + (", ".join(specs) or "(nothing)"))
    say("channels: " + ", ".join(channels))
    say("platforms: " + ", ".join(platforms))

    def solve(wanted):
        return asyncio.run(rattler.solve(channels, wanted, platforms=platforms, virtual_packages=vpkgs))

    try:
        records = solve(specs) if specs else []
    except Exception as exc:  # noqa: BLE001 - rattler's errors have no common base
        # "- pip" is usual in conda files; the pip: section is installed with uv, so a channel
        # without a pip package is no reason to fail.
        bare = [s for s in specs if s.split("=")[0].split("<")[0].split(">")[0].strip() == "pip"]
        if type(exc).__name__ != "SolverError" or not bare or "pip" not in str(exc):
            say(f"ERROR: {type(exc).__name__}: {exc}")
            return 1
        say("the channels have no 'pip' package; solving without it (the pip: section is installed with uv)")
        specs = [s for s in specs if s not in bare]
        try:
            records = solve(specs) if specs else []
        except Exception as exc2:  # noqa: BLE001
            say(f"ERROR: {type(exc2).__name__}: {exc2}")
            return 1
    for r in sorted(records, key=lambda r: r.name.normalized):
        say(f"  {r.name.normalized} {r.version} {r.build} ({r.channel})")
    say(f"installing {len(records)} conda package(s) into {req['prefix']}")
    try:
        if records:
            asyncio.run(
                rattler.install(
                    records, target_prefix=req["prefix"], cache_dir=req["cache_dir"], show_progress=False
                )
            )
    except Exception as exc:  # noqa: BLE001
        say(f"ERROR: {type(exc).__name__}: {exc}")
        return 1
    say(f"installed {len(records)} conda package(s)")
    return 0


def explicit(prefix):
    import glob

    lines = ["# This file may be used to create an environment using:",
             "# $ conda create --name <env> --file <this file>", "@EXPLICIT"]
    for path in sorted(glob.glob(os.path.join(prefix, "conda-meta", "*.json"))):
        with open(path) as f:
            record = json.load(f)
        digest = record.get("sha256") or record.get("md5") or ""
        if record.get("url"):
            lines.append(record["url"] + ("#" + digest if digest else ""))
    pattern = os.path.join(prefix, "lib", "python*", "site-packages", "*.dist-info")
    for folder in sorted(glob.glob(pattern)):
        try:
            with open(os.path.join(folder, "INSTALLER")) as f:
                if f.read().strip() == "conda":
                    continue
        except OSError:
            pass
        name = version = None
        with open(os.path.join(folder, "METADATA"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the headers end here
                key, _, value = line.partition(":")
                if key == "Name":
                    name = value.strip()
                elif key == "Version":
                    version = value.strip()
        if name and version:
            lines.append(f"# pip {name}=={version}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--explicit":
        sys.exit(explicit(sys.argv[2]))
    code = main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written: leave without the interpreter's teardown, which rattler's native
    # threads once crashed (exit 139 right after "installed 3 conda package(s)" on a CI host).
    os._exit(code)
