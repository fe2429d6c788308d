"""Runs filtered with MLflow's search syntax, evaluated by the store:

    metrics.val_loss < 0.3 and params.lr > 1e-3 and tags.stage = 'dev'

`parse` turns the text into clauses (plain Python, errors name the column and say what to
write); `where_search` adds them to a runs SELECT as SQL, so 100,000 runs filter in the database
and a page reads only its rows. Clauses are joined by AND, as in MLflow.

- `metrics.KEY op NUMBER`: the latest value of a scalar metric (=, !=, <, <=, >, >=).
- `params.KEY op VALUE`: a number compares numerically (runs whose value is not a number never
  match), a quoted string as text; also LIKE and ILIKE.
- `tags.KEY op 'text'`: =, !=, LIKE, ILIKE.
- `attributes.NAME op VALUE` (or `attribute.`, `run.`): status, name (run_id), display_name
  (run_name), experiment, compute, type as text; start_time, end_time, created (epoch seconds)
  as numbers. Text attributes also take IN ('a', 'b').
Keys with other characters than letters, digits, `_ - / . :` are written in backticks
(metrics.`val loss`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, String, and_, case, cast, exists, func, not_, select
from sqlalchemy.sql.elements import ColumnElement

from engine.errors import InvalidSpec
from engine.runtime.sweepresults import PRIMARY_METRIC, RUN_TYPE
from engine.store.models import ExperimentRow, MetricSummaryRow, RunRow

KINDS = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_OPS = ("=", "!=", "LIKE", "ILIKE")
TEXT_ATTRIBUTES = {
    "status": "status",
    "name": "name",
    "run_id": "name",
    "display_name": "display_name",
    "run_name": "display_name",
    "experiment": "experiment",
    "experiment_name": "experiment",
    "compute": "compute",
    "type": "type",
}
NUMBER_ATTRIBUTES = {
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "created_at",
    "created_at": "created_at",
}
HINT = (
    "Write clauses like  metrics.val_loss < 0.3 and params.lr > 1e-3 and tags.stage = 'dev'  "
    "(metrics., params., tags., attributes. with =, !=, <, <=, >, >=, LIKE, ILIKE; strings in quotes)."
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)\.(?:`(?P<quoted>[^`]+)`|(?P<key>[A-Za-z0-9_\-/.:]+))
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z]+)
  | (?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)
""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    kind: str  # metric | param | tag | attribute
    key: str
    op: str  # =, !=, <, <=, >, >=, LIKE, ILIKE, IN
    value: Any  # float, str, or a tuple of str for IN


def looks_like_search(text: str) -> bool:
    """True when the text is meant as a search expression (starts with metrics., params., …),
    not as words to find in names."""
    m = re.match(r"\s*([A-Za-z_]+)\.", text)
    return bool(m and m.group(1).lower() in KINDS)


def _error(text: str, pos: int, what: str) -> InvalidSpec:
    shown = text if len(text) <= 80 else text[:77] + "…"
    return InvalidSpec(f"query, column {pos + 1}: {what} (in: {shown})", HINT, field="query")


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _error(text, pos, f"unexpected {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind == "key" or kind == "quoted":
            kind = "ident"
        if kind != "space":
            if kind == "ident":
                value: Any = (m.group("ident"), m.group("quoted") or m.group("key"))
            elif kind == "string":
                raw = m.group("string")
                value = re.sub(r"\\(.)", r"\1", raw[1:-1])
            elif kind == "number":
                value = float(m.group("number"))
            elif kind == "word":
                value = m.group("word").upper()
            else:
                value = m.group(0)
            out.append((kind, value, pos))
        pos = m.end()
    return out


def parse(text: str) -> list[Clause]:
    """The clauses of a search; InvalidSpec naming the column of the first mistake."""
    tokens = _tokens(text)
    if not tokens:
        return []
    clauses: list[Clause] = []
    i = 0

    def expect(kinds: tuple[str, ...], what: str) -> tuple[str, Any, int]:
        nonlocal i
        if i >= len(tokens):
            raise _error(text, len(text), f"expected {what} at the end")
        tok = tokens[i]
        if tok[0] not in kinds:
            raise _error(text, tok[2], f"expected {what}, found {text[tok[2] :].split(maxsplit=1)[0]!r}")
        i += 1
        return tok

    while True:
        _, (prefix, key), at = expect(("ident",), "metrics.KEY, params.KEY, tags.KEY or attributes.NAME")
        kind = KINDS.get(prefix.lower())
        if kind is None:
            raise _error(text, at, f"{prefix!r} is not metrics, params, tags or attributes")
        if kind == "attribute":
            key = key.lower()
            if key not in TEXT_ATTRIBUTES and key not in NUMBER_ATTRIBUTES:
                names = ", ".join(sorted({*TEXT_ATTRIBUTES, *NUMBER_ATTRIBUTES}))
                raise _error(text, at, f"no attribute {key!r}; use one of {names}")
        op_tok = expect(("op", "word"), f"a comparison after {prefix}.{key}")
        op = {"==": "=", "<>": "!="}.get(op_tok[1], op_tok[1])
        if op_tok[0] == "word" and op not in ("LIKE", "ILIKE", "IN"):
            raise _error(
                text, op_tok[2], f"{op_tok[1]!r} is not a comparison; use =, !=, <, <=, >, >=, LIKE or ILIKE"
            )
        value: Any
        if op == "IN":
            if not (kind == "attribute" and key in TEXT_ATTRIBUTES):
                raise _error(
                    text,
                    op_tok[2],
                    "IN works with text attributes only (attributes.status IN ('Failed', 'Canceled'))",
                )
            expect(("lparen",), "'(' after IN")
            items = [expect(("string",), "a quoted string")[1]]
            while i < len(tokens) and tokens[i][0] == "comma":
                i += 1
                items.append(expect(("string",), "a quoted string")[1])
            expect(("rparen",), "')'")
            value = tuple(items)
        else:
            vtok = expect(("number", "string"), f"a number or a quoted string after {op}")
            value = vtok[1]
            numeric = kind == "metric" or (kind == "attribute" and key in NUMBER_ATTRIBUTES)
            if numeric and vtok[0] != "number":
                raise _error(text, vtok[2], f"{prefix}.{key} is a number: compare it with a number")
            if numeric and op not in NUMERIC_OPS:
                raise _error(text, op_tok[2], f"{prefix}.{key} is a number: use =, !=, <, <=, >, >=")
            if kind == "tag" and vtok[0] != "string":
                value = _number_text(text, vtok[2])  # tags are text: 1 means '1'
            if op in ("LIKE", "ILIKE") and not isinstance(value, str):
                raise _error(text, vtok[2], f"{op} needs a quoted pattern, e.g. '%dev%'")
            if (kind == "attribute" and key in TEXT_ATTRIBUTES) and op not in TEXT_OPS:
                raise _error(text, op_tok[2], f"attributes.{key} is text: use =, !=, LIKE, ILIKE or IN")
            if kind == "attribute" and key in TEXT_ATTRIBUTES and not isinstance(value, str):
                value = _number_text(text, vtok[2])
            if kind == "param" and isinstance(value, str) and op not in TEXT_OPS:
                raise _error(text, op_tok[2], f"{op} compares numbers: write the value without quotes")
        clauses.append(Clause(kind, key, op, value))
        if i >= len(tokens):
            return clauses
        tok = tokens[i]
        if tok[0] == "word" and tok[1] == "OR":
            raise _error(text, tok[2], "OR is not supported (as in MLflow): run two searches")
        expect(("word",), "AND between clauses")
        if tokens[i - 1][1] != "AND":
            raise _error(
                text,
                tokens[i - 1][2],
                f"expected AND between clauses, found {text[tokens[i - 1][2] :].split(maxsplit=1)[0]!r}",
            )


def _number_text(text: str, pos: int) -> str:
    m = _TOKEN.match(text, pos)
    return m.group(0) if m else ""


# ------------------------------------------------------------------ SQL
def where_search(q: Any, clauses: list[Clause], dialect: str) -> Any:
    """Add the clauses to a runs SELECT (RunRow joined with ExperimentRow when an experiment
    attribute is used: `needs_experiment` says so)."""
    for c in clauses:
        q = q.where(_condition(c, dialect))
    return q


def needs_experiment(clauses: list[Clause]) -> bool:
    return any(c.kind == "attribute" and TEXT_ATTRIBUTES.get(c.key) == "experiment" for c in clauses)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return func.lower(column).like(str(value).lower())
    if op == "IN":
        return column.in_(value)
    raise ValueError(op)


def json_text(column: Any, key: str, dialect: str) -> Any:
    """A key of a JSON column as text ('0.01', 'dev'), NULL when absent."""
    if dialect == "postgresql":
        return column.op("->>", return_type=String)(key)
    return cast(func.json_extract(column, f'$."{key}"'), String)


def as_number(text: Any, dialect: str) -> Any:
    """The text as a float where it is a number, else NULL (which matches no comparison)."""
    if dialect == "postgresql":
        number = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
        return case((text.op("~")(number), cast(text, Float)), else_=None)
    # SQLite has no regex: a non-empty text of digits, signs, dots and exponents only
    return case(
        (and_(func.trim(text) != "", not_(func.trim(text).op("GLOB")("*[^0-9eE.+-]*"))), cast(text, Float)),
        else_=None,
    )


def _condition(c: Clause, dialect: str) -> ColumnElement[bool]:
    if c.kind == "metric":
        m = MetricSummaryRow
        value = cast(cast(m.last_value, String), Float)
        return exists(
            select(m.run_name).where(
                m.run_name == RunRow.name, m.key == c.key, m.kind == "scalar", _compare(value, c.op, c.value)
            )
        )
    if c.kind == "param":
        text = json_text(RunRow.params, c.key, dialect)
        if isinstance(c.value, float):
            return _compare(as_number(text, dialect), c.op, c.value)
        return and_(text.is_not(None), _compare(text, c.op, c.value))
    if c.kind == "tag":
        text = json_text(RunRow.tags, c.key, dialect)
        return and_(text.is_not(None), _compare(text, c.op, c.value))
    if c.key in NUMBER_ATTRIBUTES:
        column = getattr(RunRow, NUMBER_ATTRIBUTES[c.key])
        return and_(column.is_not(None), _compare(column, c.op, c.value))
    attr = TEXT_ATTRIBUTES[c.key]
    if attr == "type":
        return _compare(run_type(dialect), c.op, c.value)
    column = ExperimentRow.name if attr == "experiment" else getattr(RunRow, attr)
    return _compare(column, c.op, c.value)


def run_type(dialect: str) -> Any:
    """The Type column: 'sweep' or 'pipeline' (the run_type property), 'trial' (a child run with
    a primary metric: a sweep's), 'step' (another child run), else 'command'."""
    kind = json_text(RunRow.properties, RUN_TYPE, dialect)
    child = RunRow.parent_name.is_not(None)
    return case(
        (and_(child, json_text(RunRow.properties, PRIMARY_METRIC, dialect).is_not(None)), "trial"),
        (child, "step"),
        (kind.in_(("sweep", "pipeline")), kind),
        else_="command",
    )
