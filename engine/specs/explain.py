"""A pydantic validation error -> one InvalidSpec sentence with file:line and the key, for every
YAML front end (jobs, environments, compute targets)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.errors import InvalidSpec
from engine.specs.schema import CodeSpec, CommandJobSchema, InlineEnvironment, InputSpec
from engine.specs.yamlfile import Lines, line_of

_TYPE_WORDS = {"str": "a string", "string": "a string", "model": "a mapping", "literal": "one of the allowed values", "int": "an integer", "float": "a number", "bool": "true or false",
               "dict": "a mapping", "list": "a list", "NoneType": "empty"}

_TYPE_ORDER = ("a string", "a number", "an integer", "true or false", "a mapping", "a list")


def explain(exc: ValidationError, lines: Lines, path: Path,
            root: type[BaseModel] = CommandJobSchema) -> InvalidSpec:
    """Turn pydantic's first meaningful error into one sentence with file:line and key.

    Args:
        exc: what `root.model_validate` raised.
        lines: the file's line map (engine.specs.yamlfile.load_yaml_with_lines).
        path: the file, named in the message.
        root: the schema that was validated (engine.specs.schema: a job, environment or compute
            target schema).
    """
    names = _model_names_under(root)

    def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
        return _clean_loc_of(loc, names)

    errors = exc.errors()
    # With unions pydantic reports one error per alternative; the unknown-key ones are the most
    # telling, then the others in order.
    # Then the deepest: for `inputs.d: {type: bogus}` the InputSpec branch's `inputs.d.type` says
    # more than "inputs.d is not a string".
    errors.sort(key=lambda e: (0 if e["type"] == "extra_forbidden" else 1, -len(_clean_loc(e["loc"]))))
    err = errors[0]
    loc = _clean_loc(err["loc"])
    dotted = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        model = _model_at(loc[:-1], root)
        known = [f.alias or n for n, f in model.model_fields.items()] if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(known)}"
        return InvalidSpec(f"unknown key {dotted!r}", hint, file=str(path),
                           line=line_of(lines, loc, key=True), field=dotted)
    if err["type"] == "missing":
        return InvalidSpec(f"the required key {dotted!r} is missing", f"add `{loc[-1]}:`",
                           file=str(path), line=line_of(lines, loc[:-1]) or 1, field=dotted)
    found = err.get("input")
    expected = _TYPE_WORDS.get(err["type"].split("_")[0], None) or err["msg"].lower()
    # A union (string | number | bool | mapping) fails once per alternative: name them all.
    alternatives = [_TYPE_WORDS.get(e["type"].split("_")[0]) for e in errors
                    if _clean_loc(e["loc"]) == loc and e["type"].endswith("_type")]
    words = [w for w in _TYPE_ORDER if w in alternatives]
    if "a number" in words and "an integer" in words:
        words.remove("an integer")
    words = ["true/false" if w == "true or false" and len(words) > 1 else w for w in words]
    if words:
        expected = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    if err["type"] == "literal_error":
        expected = err["msg"].removeprefix("Input should be ").replace("'", "")
        expected = f"one of {expected}"
    return InvalidSpec(
        f"{dotted!r} has the wrong type: expected {expected}, found {type(found).__name__} {found!r}",
        "quote the value to make it a string" if expected == "a string" else "fix the value",
        file=str(path), line=line_of(lines, loc), field=dotted,
    )


def _clean_loc_of(loc: tuple[Any, ...], model_names: frozenset[str]) -> tuple[Any, ...]:
    """Drop the union-branch labels pydantic inserts (e.g. 'str', 'CodeSpec', 'function-after').
    Only the names of the validated schema's models count: a user's key may well be capitalised (FOO: under
    environment_variables)."""
    out = []
    for part in loc:
        if isinstance(part, str) and (part in {"str", "int", "float", "bool", "dict", "list"}
                                      or part in model_names or "[" in part
                                      or part.startswith(("function", "lax"))):
            continue
        out.append(part)
    return tuple(out)


def _model_names_under(root: type[BaseModel]) -> frozenset[str]:
    """The names of `root` and of every model its fields (recursively) refer to."""
    seen: dict[str, type[BaseModel]] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model.__name__ in seen:
            continue
        seen[model.__name__] = model
        for f in model.model_fields.values():
            todo.extend(_models_in(f.annotation))
    return frozenset(seen)


def _models_in(ann: Any) -> list[type[BaseModel]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    return [m for arg in getattr(ann, "__args__", ()) for m in _models_in(arg)]


def _model_at(loc: tuple[Any, ...], root: type[BaseModel] = CommandJobSchema) -> type[BaseModel] | None:
    if root is not CommandJobSchema:
        generic: type[BaseModel] | None = root
        for part in loc:
            if generic is None:
                return None
            fields = {f.alias or n: f for n, f in generic.model_fields.items()}
            generic = _first_model(getattr(fields.get(str(part)), "annotation", None))
        return generic
    model: type[BaseModel] | None = CommandJobSchema
    nested: dict[str, type[BaseModel]] = {"code": CodeSpec, "environment": InlineEnvironment}
    for part in loc:
        if model is CommandJobSchema and part in nested:
            model = nested[str(part)]
        elif model is CommandJobSchema and part == "inputs":
            model = None
        elif model is None:
            model = InputSpec
        else:
            field = model.model_fields.get(str(part))
            ann = getattr(field, "annotation", None)
            model = _first_model(ann)
    return model


def _first_model(ann: Any) -> type[BaseModel] | None:
    for cand in getattr(ann, "__args__", (ann,)):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None
