"""engine.environments.build.pinhashes: the hash lookup that also runs on SSH hosts, with whatever
python3 they have."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from wheels import make_wheel

from engine.environments.build import pinhashes


def test_the_host_script_reads_as_python_3_8() -> None:
    """Hosts run it with their own python3: nothing newer than 3.8's syntax (no `match`, no
    parenthesised context managers) and no annotation evaluated at run time but plain names
    (`dict[str, str]` fails on 3.8 where a function is defined; a string does not)."""
    source = Path(pinhashes.__file__).read_text()
    ast.parse(source, feature_version=(3, 8))
    assert "from __future__ import annotations" not in source  # 3.7+, and hides evaluated annotations
    tree = ast.parse(source)
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        for arg in [*fn.args.args, *fn.args.kwonlyargs]:
            assert arg.annotation is None or isinstance(arg.annotation, (ast.Constant, ast.Name)), (fn.name, arg.arg)
        assert fn.returns is None or isinstance(fn.returns, (ast.Constant, ast.Name)), fn.name


def test_known_pins_are_not_asked_again_and_local_wheels_are_hashed_here(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "wheels", "tiny_pkg", "1.0")
    asked: list[list[tuple[str, str]]] = []

    def compile_pins(pins: list[tuple[str, str]], offline: bool) -> dict[str, tuple[str, ...]]:
        asked.append(pins)
        return {"six": ("a" * 64,)} if ("six", "1.16.0") in pins else {}

    folders = pinhashes.find_links_folders(["--find-links wheels"], str(tmp_path))
    found = pinhashes.lookup(
        [("six", "1.16.0"), ("Tiny.Pkg", "1.0"), ("idna", "3.7")], compile_pins, folders, cached_first=True,
        known={"idna": ("3.7", ("b" * 64,)), "six": ("1.15.0", ("c" * 64,))},  # six: another version
    )
    assert found == {"six": ("a" * 64,), "tiny-pkg": (hashlib.sha256(wheel.read_bytes()).hexdigest(),),
                     "idna": ("b" * 64,)}
    # idna came from the prefetch; the cache first, then the index for what it lacked (tiny-pkg).
    assert asked == [[("six", "1.16.0"), ("Tiny.Pkg", "1.0")], [("Tiny.Pkg", "1.0")]]
    lines = pinhashes.hashed_lines([("six", "1.16.0")], found)
    assert pinhashes.parse_pinned(lines) == {"six": ("1.16.0", ("a" * 64,))}
