"""`--set path=value` overrides, applied to a raw scenario dict before validation.

A path is dotted (`training.num_gpus`, `grid.battery.energy_mwh`); list items are addressed by
index (`variants.0.name`, `grid.curtailment.1.start_h`, or `variants[0].name`). With a schema,
'path=value' text is typed by its target field: text fields keep the raw text (`name=yes` stays
'yes'), number fields accept `512`, `0.5`, `1e3`, `15T` and refuse yes/no words and inf/nan, and
everything else is parsed as YAML (`true` -> bool, `null` -> None, `[1, 2]` -> list).

Paths are checked against the schema (the pydantic model class), not against what the file
happens to contain, so a section the file leaves to its defaults can still be overridden.
An unknown path raises InputError naming the path and the fields allowed at that point.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import types
import typing
from typing import Any, Iterable, Mapping, Union

import yaml
from pydantic import BaseModel

from costsim.errors import InputError

_INDEX = re.compile(r"\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    """'grid.curtailment[1].start_h' -> ['grid', 'curtailment', 1, 'start_h']."""
    p = _INDEX.sub(r".\1", path.strip())
    if not p or p.startswith(".") or p.endswith(".") or ".." in p:
        raise InputError(f"override path '{path}' is malformed; write dotted field names such as training.num_gpus or variants.0.name.", field=path)
    return [int(s) if s.isdigit() else s for s in p.split(".")]


def parse_value(text: str) -> Any:
    """A --set value as YAML scalar/list/mapping; bare words stay strings."""
    try:
        return yaml.safe_load(text) if text.strip() != "" else ""
    except (yaml.YAMLError, RecursionError, ValueError):  # hundreds of nested brackets exhaust the YAML reader's stack,
        # and an integer of over 4,300 digits (Python's conversion limit) or a date like 2020-13-45 raises ValueError:
        return text  # the text stays a string, and the field it is set on says what it expects


def parse_set(item: str) -> tuple[str, Any]:
    """'training.num_gpus=512' -> ('training.num_gpus', 512)."""
    if "=" not in item:
        raise InputError(f"--set expects path=value (e.g. training.num_gpus=512), got {item!r}.", field="--set")
    path, _, value = item.partition("=")
    path = path.strip()
    if not path:
        raise InputError(f"--set expects path=value with a non-empty path, got {item!r}.", field="--set")
    return path, parse_value(value)


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an annotation (Optional[X] -> [X]; Annotated stripped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: list[Any] = []
        for a in typing.get_args(annotation):
            if a is type(None):
                continue
            out.extend(_unwrap(a))
        return out
    return [annotation]


def _is_model(a: Any) -> bool:
    return isinstance(a, type) and issubclass(a, BaseModel)


def check_path(model: type[BaseModel], parts: list[str | int], *, original: str) -> list[Any]:
    """Raise InputError unless `parts` names a field reachable in the schema of `model`; return the
    alternatives of the target's type ([Any] below a free-form point)."""
    alts: list[Any] = [model]
    walked: list[str] = []
    for part in parts:
        nxt: list[Any] = []
        allowed: list[str] = []
        for a in alts:
            if a is Any or a is object:
                return [Any]  # free-form below this point
            if _is_model(a):
                allowed.extend(a.model_fields)
                if isinstance(part, str) and part in a.model_fields:
                    nxt.extend(_unwrap(a.model_fields[part].annotation))
                continue
            origin = typing.get_origin(a)
            args = typing.get_args(a)
            if origin in (list, tuple, typing.Sequence, set, frozenset) or a in (list, tuple):
                if isinstance(part, int):
                    nxt.extend(_unwrap(args[0]) if args else [Any])
                continue
            if origin in (dict, typing.Mapping) or a is dict:
                if isinstance(part, str):
                    nxt.extend(_unwrap(args[1]) if len(args) == 2 else [Any])
                continue
        if not nxt:
            here = ".".join(str(w) for w in walked) or "the top level"
            hint = ""
            if allowed:
                close = difflib.get_close_matches(str(part), allowed, n=2)
                hint = (f" Did you mean {' or '.join(close)}?" if close else "") + f" Fields allowed at {here}: {', '.join(sorted(set(allowed)))}."
            elif isinstance(part, str):
                hint = f" {here} is a list; address an item by index (e.g. {here}.0)."
            else:
                hint = f" {here} is not a list; it has no item {part}."
            raise InputError(f"unknown override path '{short_text(original)}': '{short_text(str(part))}' is not a field at {short_text(here)}.{hint}",
                             field=short_text(original))
        alts = nxt
        walked.append(str(part))
    return alts


def param_column(path: str) -> str:
    """Column name of an override in a sweep's results table: 'param_' + path with '.'/'[]' -> '_'."""
    return "param_" + "_".join(str(p) for p in split_path(path))


def short_text(text: str, limit: int = 80) -> str:
    """A user's text echoed in a message: at most `limit` characters (a 5,000-character path is not repeated)."""
    return text if len(text) <= limit else f"{text[:limit - 25]}...({len(text):,} characters)"


def set_path(data: dict[str, Any], parts: list[str | int], value: Any, *, original: str) -> None:
    """Set data[parts...] = value in place, creating missing mappings on the way."""
    cur: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(cur, list):
                raise InputError(f"override path '{original}': item {part} addressed, but the value at that point is not a list.", field=original)
            if part >= len(cur):
                raise InputError(
                    f"override path '{original}': index {part} is out of range (the list has {len(cur)} items; indices start at 0).",
                    field=original,
                )
            if last:
                cur[part] = value
            else:
                if cur[part] is None:
                    cur[part] = {}
                cur = cur[part]
        else:
            if not isinstance(cur, dict):
                raise InputError(f"override path '{original}': '{part}' addressed inside a value that is not a mapping.", field=original)
            if last:
                cur[part] = value
            else:
                if cur.get(part) is None:
                    cur[part] = [] if isinstance(parts[i + 1], int) else {}
                cur = cur[part]


_SUFFIXES = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
_BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n"}
_NULL_WORDS = {"null", "~", "none"}


def _kind(alts: list[Any]) -> str:
    """'str' when every alternative is text, 'num' when every one is int/float, else 'other'."""
    def one(a: Any) -> str:
        if a is str:
            return "str"
        if a in (int, float):
            return "num"
        if typing.get_origin(a) is typing.Literal:
            args = typing.get_args(a)
            if args and all(isinstance(x, str) for x in args):
                return "str"
        return "other"
    kinds = {one(a) for a in alts}
    return kinds.pop() if len(kinds) == 1 else "other"


def parse_number(text: str, *, field: str, label: str | None = None) -> float | int:
    """'15e12', '15T', '1e3', '400B', '3M', '1_000' -> number (int when whole and written without
    a decimal point, exponent or suffix); InputError otherwise (booleans, words, inf, nan).
    `label` names the input in messages (default: "override '<field>'"); the CLI passes its flag."""
    who = label or f"override '{field}'"
    s = str(text).strip().replace("_", "").replace(",", "")
    if s.lower() in _BOOL_WORDS:
        raise InputError(f"{who} expects a number, got {short_text(text)!r} (a yes/no word is not a number).", field=field)
    try:
        whole = int(s)
    except ValueError:
        pass
    else:
        try:
            float(whole)  # a whole number beyond the float range (400 nines) is no finite quantity either
        except OverflowError:
            raise InputError(f"{who} must be a finite number, got {short_text(text)!r}.", field=field) from None
        return whole
    mult = 1.0
    if s and s[-1] in _SUFFIXES:
        mult, s = _SUFFIXES[s[-1]], s[:-1]
    try:
        v = float(s) * mult
    except ValueError:
        raise InputError(f"{who} expects a number such as 512, 0.5, 15e12 or 15T, got {short_text(text)!r}.", field=field) from None
    if not math.isfinite(v):
        raise InputError(f"{who} must be a finite number, got {short_text(text)!r}.", field=field)
    return v


def coerce_for(alts: list[Any], value: Any, raw: str | None, *, field: str) -> Any:
    """A --set value typed by its target field: text fields keep the raw text (`name=yes` stays
    'yes'); number fields accept 1e3 / 15T and refuse yes/no words; anything else is YAML."""
    kind = _kind(alts)
    if raw is not None:
        t = raw.strip()
        if t.lower() in _NULL_WORDS and kind != "str" or t in ("null", "~"):
            return None
        if kind == "str":
            return raw.strip()
        if kind == "num":
            return parse_number(t, field=field)
        return value
    if kind == "num":
        if isinstance(value, bool):
            raise InputError(f"override '{field}' expects a number, got {value!r}.", field=field)
        if isinstance(value, str):
            return parse_number(value, field=field)
    return value


def normalize_sets(sets: Iterable[str] | Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """Accept ['a.b=1', ...], {'a.b': 1, ...} or [('a.b', 1), ...]."""
    if not sets:
        return []
    if isinstance(sets, Mapping):
        return [(str(k), v) for k, v in sets.items()]
    out: list[tuple[str, Any]] = []
    for s in sets:
        if isinstance(s, str):
            out.append(parse_set(s))
        else:
            k, v = s
            out.append((str(k), v))
    return out


def apply_overrides(
    data: Mapping[str, Any],
    sets: Iterable[str] | Mapping[str, Any] | None,
    *,
    model: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """Return a deep copy of `data` with every override applied, in order.

    With `model`, each path is first checked against that schema (unknown path -> InputError).
    """
    out = copy.deepcopy(dict(data))
    for path, value, raw in _normalize_with_raw(sets):
        parts = split_path(path)
        if model is not None:
            alts = check_path(model, parts, original=path)
            value = coerce_for(alts, value, raw, field=path)
        set_path(out, parts, copy.deepcopy(value), original=path)
    return out


def _normalize_with_raw(sets: Iterable[str] | Mapping[str, Any] | None) -> list[tuple[str, Any, str | None]]:
    """Like normalize_sets, keeping the raw text of 'path=value' strings (None for typed values)."""
    if not sets:
        return []
    if isinstance(sets, Mapping):
        return [(str(k), v, None) for k, v in sets.items()]
    out: list[tuple[str, Any, str | None]] = []
    for s in sets:
        if isinstance(s, str):
            path, value = parse_set(s)
            out.append((path, value, s.partition("=")[2]))
        else:
            k, v = s
            out.append((str(k), v, None))
    return out


def split_items(text: str, *, flag: str, example: str) -> list[str]:
    """The comma-separated items of a list flag, stripped. An empty list or an empty item ('0.25,,1', a trailing
    comma) is bad input naming the flag, not something to drop silently."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise InputError(f"{flag} is empty; give a comma-separated list such as {example}.", field=flag)
    if not all(parts):
        where = ", ".join(str(i + 1) for i, p in enumerate(parts) if not p)
        raise InputError(f"{flag} {short_text(text)!r} has an empty item (position {where}); give a comma-separated list such as "
                         f"{example}.", field=flag)
    return parts
