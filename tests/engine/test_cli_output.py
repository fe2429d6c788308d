"""`-o tsv` and `--query` as the Azure CLI prints them (engine.cli.output)."""

from __future__ import annotations

import pytest

from engine.cli.output import apply_query, tsv_lines
from engine.errors import InvalidSpec

DOC = [
    {"name": "a", "status": "Completed", "ok": True, "tags": {"k": "v"}, "exit_code": None},
    {"name": "b", "status": "Failed", "ok": False, "tags": {}, "exit_code": 1},
]


def test_tsv_is_values_only() -> None:
    assert tsv_lines("Completed") == ["Completed"]
    assert tsv_lines(None) == []
    assert tsv_lines(["a", "b"]) == ["a", "b"]
    # a mapping's scalar values, tab-separated; nested ones left out; null empty; booleans as Azure writes them
    assert tsv_lines(DOC) == ["a\tCompleted\tTrue\t", "b\tFailed\tFalse\t1"]
    assert tsv_lines([["x", "y"], ["z"]]) == ["x", "y", "z"]
    assert tsv_lines("two\nlines\tand tab") == ["two lines and tab"]


def test_query_is_jmespath() -> None:
    assert apply_query("[].name", DOC) == ["a", "b"]
    assert apply_query("[?status=='Failed'].exit_code | [0]", DOC) == 1
    assert apply_query("[0].{n: name, s: status}", DOC) == {"n": "a", "s": "Completed"}
    with pytest.raises(InvalidSpec) as info:
        apply_query("[?", DOC)
    assert "is not a JMESPath expression" in info.value.message and "--query name" in (info.value.hint or "")
