"""Each heavy third-party library stays behind one engine package (issue 9's layering): only
engine.store imports SQLAlchemy, only engine.specs imports pydantic and PyYAML. Imports inside
functions count too. The injected in-run client (engine/tracking/inject) is a world of its own."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"
CONFINED = {"sqlalchemy": "store", "alembic": "store", "pydantic": "specs", "yaml": "specs"}


def _imported_top_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_third_party_libraries_stay_in_their_package() -> None:
    wrong = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ENGINE)
        if rel.parts[:2] == ("tracking", "inject"):
            continue
        for name in _imported_top_names(ast.parse(path.read_text(encoding="utf-8"))):
            home = CONFINED.get(name)
            if home is not None and rel.parts[0] != home:
                wrong.append(f"engine/{rel.as_posix()} imports {name} (only engine.{home} may)")
    assert not wrong, "\n".join(wrong)
