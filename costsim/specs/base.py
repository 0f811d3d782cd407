"""Base class for every spec and the YAML/JSON loading that turns bad files into InputError."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from costsim.errors import InputError, UnknownIdError

S = TypeVar("S", bound="Spec")


class Spec(BaseModel):
    """Frozen, strict pydantic model. Every field carries a description (CLI help, UI tooltips,
    JSON Schema)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def describe_validation_error(err: ValidationError, *, what: str, source: str | None) -> str:
    """One plain paragraph naming the file, each field path and what was expected."""
    where = f" in {source}" if source else ""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e.get("loc", ())) or "(top level)"
        msg = e.get("msg", "invalid value")
        typ = e.get("type", "")
        if typ == "extra_forbidden":
            msg = "unknown field (check the spelling; `costsim schema` lists the allowed fields)"
        elif typ == "missing":
            msg = "required field is missing"
        inp = e.get("input")
        got = ""
        if typ not in ("missing",) and not isinstance(inp, (dict, list)) and inp is not None:
            got = f" (got {inp!r})"
        parts.append(f"field '{loc}': {msg}{got}")
    return f"invalid {what}{where}: " + "; ".join(parts) + "."


def load_yaml_file(path: Path | str, *, what: str) -> dict[str, Any]:
    """Read a YAML mapping, with a clear InputError for a missing, unreadable or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file '{p}' does not exist; give an existing YAML file or a catalog id.")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what} file '{p}': {exc.strerror}.") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} file '{p}' is not a UTF-8 text file (undecodable byte at offset {exc.start}); "
                         "give a YAML text file saved as UTF-8.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(
            f"malformed YAML in {what} file '{p}'{pos}: {problem}. Fix the syntax (indentation, "
            "colons, quotes) and try again."
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            f"{what} file '{p}' must hold a mapping of field: value pairs at the top level, "
            f"not {type(data).__name__}."
        )
    return data


def validate_spec(cls: type[S], data: dict[str, Any], *, what: str, source: str | None = None) -> S:
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise InputError(describe_validation_error(err, what=what, source=source), source=source) from None


def unknown_id(kind: str, given: str, known: list[str], *, hint: str = "") -> UnknownIdError:
    close = difflib.get_close_matches(given.lower(), known, n=3, cutoff=0.4)
    if not close:
        close = [k for k in known if given.lower()[:3] in k][:3]
    suggestion = f"; did you mean {' or '.join(close)}?" if close else ""
    listing = f" `costsim {kind} list` shows them all." if kind in ("hardware", "models") else ""
    return UnknownIdError(
        f"unknown {kind.rstrip('s') if kind == 'models' else kind} '{given}'{suggestion}{listing}{hint}",
        field=kind,
    )
