"""The sha256 of pinned distributions: the part of a venv lock's hash lookup that runs anywhere.

Used here by engine.environments.build.hashes, and sent to SSH hosts as it is, where it runs with
the host's python3 after a venv build (``python3 pinhashes.py --uv UV --python PY --requirements
REQS FREEZE``: prints the freeze, then the pins that got hashes as a hashed requirements list).
So: standard library only, and syntax an old python3 reads (annotations are strings).

What it does: the pins are compiled with ``uv pip compile --generate-hashes --no-deps`` against
the indexes the requirements name (first from the index pages uv has cached, then asking the
index for what those lacked); a pin left without a hash is looked for in the local
``--find-links`` folders, whose files uv gives no hash for on that path, and hashed here.
"""

import os
import re
import sys

# hashlib, subprocess and tempfile are imported where used: on a host whose pins were all
# compiled beside the install, the script needs neither, and each import is a few ms of the lock.

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s\\]+)")
HASH = re.compile(r"--hash=sha256:(?P<hash>[0-9a-f]{64})")
FIND_LINKS = re.compile(r"^(?:--find-links|-f)(?:=|\s+)(?P<where>\S+)\s*$")
HASHES_MARK = "# --- hashes ---"


def key(name: "str") -> "str":
    """PEP 503 normalised name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def index_options(requirements: "list[str]") -> "list[str]":
    """The lines of a requirements list that say where packages come from (``--index-url``,
    ``--find-links``, ``--no-index``...)."""
    return [line.strip() for line in requirements
            if line.strip().startswith("-") and not line.strip().startswith(("-e", "--editable"))]


def _local_source(line: "str") -> bool:
    """An editable install, or a requirement named by a path or URL rather than by name."""
    if line.startswith(("-e", "--editable")):
        return True
    if line.startswith("-"):
        return False
    req = line.split(";", maxsplit=1)[0]
    return " @ " in req or "/" in req or req.startswith(".")


def compiles_beside_install(requirements: "list[str]") -> bool:
    """Whether the hashes of what ``requirements`` resolve to may be compiled while they install
    (``uv pip compile --generate-hashes`` of the same lines). Not for local sources (``-e``,
    paths, URLs: the compile would build them a second time), and not with a wheel folder of the
    requirements' own (``--find-links DIR``): a compile with hashes has uv record each local file's
    hash in its cache, and uv then trusts that record when the user rebuilds a wheel under the
    same version, so a re-run from the lock would install the old wheel instead of refusing the
    new one. (After the build, ``--no-deps`` pins leave local files to be hashed here.)"""
    reqs = [r.strip() for r in requirements if r.strip()]
    if any(_local_source(r) for r in reqs):
        return False
    wheres = [m.group("where") for m in (FIND_LINKS.match(r) for r in reqs) if m]
    return all("://" in w and not w.startswith("file://") for w in wheres)


def parse_pinned(text: "str") -> "dict[str, tuple[str, tuple[str, ...]]]":
    """Hashed requirements (``uv pip compile --generate-hashes`` output, or a lock's pins) ->
    {normalised name: (its pinned version, its sha256s)}; a pin the index gave no hash for has ()."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        m = PIN.match(line)
        if m:
            current = key(m.group("name"))
            out[current] = (m.group("version"), [])
        if current is not None:
            out[current][1].extend(HASH.findall(line))
        if not line.endswith("\\"):
            current = None
    return {k: (version, tuple(sorted(set(found)))) for k, (version, found) in out.items()}


def parse_hashed(text: "str") -> "dict[str, tuple[str, ...]]":
    """``uv pip compile --generate-hashes`` output -> {normalised name: its sha256s}."""
    return {k: found for k, (_version, found) in parse_pinned(text).items() if found}


def find_links_folders(options: "list[str]", cwd: "str", more: "list[str] | tuple[str, ...]" = ()) -> "list[str]":
    """The local folders among the ``--find-links`` options (and ``more`` such places)."""
    folders: list[str] = []
    wheres = [m.group("where") for m in (FIND_LINKS.match(o.strip()) for o in options) if m]
    for where in [*wheres, *more]:
        if "://" in where and not where.startswith("file://"):
            continue
        local = where[len("file://"):] if where.startswith("file://") else where  # noqa: FURB188 - python < 3.9 there
        path = os.path.expanduser(local)
        path = path if os.path.isabs(path) else os.path.join(cwd, path)
        if os.path.isdir(path) and path not in folders:
            folders.append(path)
    return folders


def sha256_file(path: "str") -> "str":
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def local_hashes(folders: "list[str]", name: "str", version: "str") -> "tuple[str, ...]":
    """Hashes of the wheels/sdists of ``name`` ``version`` in local find-links folders."""
    stems = {name, name.replace("-", "_"), key(name), key(name).replace("-", "_")}
    found = set()
    for folder in folders:
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            ours = any(entry.startswith(f"{stem}-{version}-") and entry.endswith(".whl")
                       or entry in (f"{stem}-{version}.tar.gz", f"{stem}-{version}.zip") for stem in stems)
            if ours and os.path.isfile(path):
                found.add(sha256_file(path))
    return tuple(sorted(found))


def lookup(pins: "list[tuple[str, str]]", compile_pins, folders: "list[str]", *, cached_first: "bool" = False,
           known: "dict[str, tuple[str, tuple[str, ...]]] | None" = None) -> "dict[str, tuple[str, ...]]":
    """{normalised name: the sha256s of that pinned version's artifacts} for ``pins``.

    ``compile_pins(pins, offline)`` -> {name: sha256s} asks uv; ``known``: hashes found before
    (a compile beside the install), taken for a pin of the same version and not looked up again.
    ``cached_first``: uv's cached index pages first (right after a build), the index for the rest.
    The order is the same on a build and on a re-run's check, so that both find the same hashes:
    the index first, then local find-links files for what it gave none."""
    hashes: dict[str, tuple[str, ...]] = {}
    unhashed = set()  # the index was asked (before) and gave no hash
    for name, version in pins:
        found = (known or {}).get(key(name))
        if found is not None and found[0] == version:
            if found[1]:
                hashes[key(name)] = found[1]
            else:
                unhashed.add(key(name))
    missing = [(n, v) for n, v in pins if key(n) not in hashes and key(n) not in unhashed]
    if missing:
        hashes.update(compile_pins(missing, cached_first))
    left = [(n, v) for n, v in missing if key(n) not in hashes]
    if cached_first and left:  # pages not in uv's cache: ask the index
        hashes.update(compile_pins(left, False))
    for name, version in pins:  # uv gives no hash for a local find-links file: hash it here
        if key(name) not in hashes and folders:
            local = local_hashes(folders, name, version)
            if local:
                hashes[key(name)] = local
    return hashes


def hashed_lines(pins: "list[tuple[str, str]]", hashes: "dict[str, tuple[str, ...]]") -> "str":
    """The pins that have hashes, as a requirements list that ``--require-hashes`` installs."""
    out = []
    for name, version in pins:
        found = hashes.get(key(name))
        if found:
            out.append(" \\\n    ".join([f"{name}=={version}", *(f"--hash=sha256:{h}" for h in found)]))
    return "".join(line + "\n" for line in out)


def _host_main(argv: "list[str]") -> int:
    """On an SSH host, after a venv build: the freeze, then its pins' hashes after a mark line."""
    # --uv UV --python PY --requirements REQS [--known COMPILED] FREEZE (argparse: +5 ms to import)
    opts = dict(zip(argv[:-1:2], argv[1:-1:2]))
    uv, python, requirements = opts["--uv"], opts["--python"], opts["--requirements"]
    known_file = opts.get("--known")
    with open(argv[-1]) as f:
        freeze = f.read()
    with open(requirements) as f:
        options = index_options(f.read().splitlines())
    pins = [(m.group("name"), m.group("version")) for m in map(PIN.match, freeze.splitlines())
            if m and "@" not in m.string]
    cwd = os.path.dirname(os.path.abspath(requirements))

    def compile_pins(which: "list[tuple[str, str]]", offline: "bool") -> "dict[str, tuple[str, ...]]":
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory(prefix="trainyard-pins-") as tmp:
            req = os.path.join(tmp, "pins.in")
            out = os.path.join(tmp, "pins.hashed.txt")
            with open(req, "w") as f:
                f.write("\n".join([*options, *(f"{n}=={v}" for n, v in which)]) + "\n")
            cmd = [uv, "pip", "compile", "--python", python, "--generate-hashes", "--no-deps",
                   "--no-header", "--no-annotate", *(["--offline"] if offline else []), "-o", out, req]
            done = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, check=False)
            if done.returncode != 0 or not os.path.exists(out):
                return {}
            with open(out) as f:
                return parse_hashed(f.read())

    known = {}
    if known_file and os.path.exists(known_file):
        with open(known_file) as f:
            known = parse_pinned(f.read())
    hashes = lookup(pins, compile_pins, find_links_folders(options, cwd), cached_first=True, known=known)
    sys.stdout.write(freeze if freeze.endswith("\n") or not freeze else freeze + "\n")
    if hashes:
        sys.stdout.write(HASHES_MARK + "\n" + hashed_lines(pins, hashes))
    return 0


if __name__ == "__main__":
    sys.exit(_host_main(sys.argv[1:]))
