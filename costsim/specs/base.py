"""Base class for every spec and the YAML/JSON loading that turns bad files into InputError."""

from __future__ import annotations

import difflib
import functools
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from costsim.errors import InputError, UnknownIdError

S = TypeVar("S", bound="Spec")


def numbers_only(annotation: Any) -> bool:
    """A field that takes an int or a float (optionally None) and nothing else (Annotated stripped): true / false is no
    value for it (Spec, and a sweep's --grid values)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return numbers_only(typing.get_args(annotation)[0])
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(kinds) and all(numbers_only(a) for a in kinds)
    return False


@functools.lru_cache(maxsize=None)
def _number_fields(cls: type) -> frozenset[str]:
    return frozenset(n for n, f in cls.model_fields.items() if numbers_only(f.annotation))


class Spec(BaseModel):
    """Frozen pydantic model that refuses unknown fields, NaN / infinity, and true / false where a number is due (pydantic
    would read YAML `true` as 1: `num_replicas: true` ran one replica, `pue: true` a PUE of 1). Every field carries a
    description (CLI help, UI tooltips, JSON Schema)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in _number_fields(cls):
                v = data.get(name)
                if isinstance(v, bool):
                    raise ValueError(f"field '{name}' takes a number, got {str(v).lower()} (a YAML true / false); "
                                     "write the number")
        return data


_MAX_ECHO_CHARS = 60


def _short_repr(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= _MAX_ECHO_CHARS else r[: _MAX_ECHO_CHARS - 3] + "..."


class _UniqueKeys:
    """Loader mixin that refuses a mapping with the same key twice (YAML says keys are unique; PyYAML
    would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden by explicit keys
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark, seen[key])
            except TypeError:  # unhashable key: let the base class report it
                continue
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _UniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    """The pure-Python SafeLoader with unique keys: for files a user gives (its errors carry line and column, and a
    nesting too deep for it raises RecursionError, which load_yaml_document turns into a message)."""


#: the shipped catalog's loader: libyaml's parser (~9x faster: 187 catalog files in 0.03 s instead of 0.29 s on
#: the 2-core CI machine, once per process) with the same constructor and unique keys; the pure-Python one where
#: PyYAML was built without libyaml
_CatalogLoader: type = (type("_CatalogLoader", (_UniqueKeys, yaml.CSafeLoader), {}) if yaml.__with_libyaml__
                        else _UniqueKeyLoader)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, mark: Any, first: Any) -> None:
        super().__init__(key)
        self.key, self.mark, self.first = key, mark, first


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
        # Never echo the value of an unknown field (it may be anything, e.g. a secret from a file that
        # was not meant to be a spec); echo other values only shortened.
        if typ not in ("missing", "extra_forbidden") and not isinstance(inp, (dict, list)) and inp is not None:
            got = f" (got {_short_repr(inp)})"
        if typ == "value_error":  # a validator's own sentence (it names the fields it checks)
            msg = msg.removeprefix("Value error, ")
        parts.append(msg if loc == "(top level)" and typ == "value_error" else f"field '{loc}': {msg}{got}")
    return f"invalid {what}{where}: " + "; ".join(parts) + "."


MAX_REF_CHARS = 1024  # longest id or path accepted (Linux PATH_MAX is 4096, NAME_MAX 255)


def _shown(ref: str) -> str:
    return ref if len(ref) <= 80 else ref[:60] + f"... ({len(ref)} characters)"


def check_ref_text(ref: str, *, what: str) -> str:
    """An id or path typed by a user: refuse over-long text and control bytes with a plain message."""
    if len(ref) > MAX_REF_CHARS:
        raise InputError(f"{what} reference '{_shown(ref)}' is {len(ref)} characters long; ids and paths are at most "
                         f"{MAX_REF_CHARS} characters. Give a catalog id or a shorter path.", field=what)
    if any(ord(c) < 32 for c in ref) or "\x00" in ref:
        raise InputError(f"{what} reference {_short_repr(_shown(ref))} contains control characters; "
                         "give a catalog id or a file path of printable characters.", field=what)
    return ref


def path_is_file(path: Path | str) -> bool:
    """`Path.is_file` that answers False instead of raising for names the OS refuses (too long, NUL bytes)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def load_yaml_file(path: Path | str, *, what: str, shipped: bool = False) -> dict[str, Any]:
    """Read a YAML mapping, with a clear InputError for a missing, unreadable or malformed file. `shipped`: a file of
    costsim's own catalog, read with libyaml's faster parser (the same data; user files keep the pure-Python one)."""
    data = load_yaml_document(path, what=what, shipped=shipped)
    if not isinstance(data, dict):
        raise InputError(
            f"{what} file '{path}' must hold a mapping of field: value pairs at the top level, "
            f"not {type(data).__name__}."
        )
    return data


#: the largest YAML file costsim reads (scenarios, profiles, case files): far above any shipped one, below what the
#: pure-Python loader parses in seconds (a 20 MB file takes minutes)
MAX_YAML_BYTES = 8_000_000


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except (OSError, ValueError):
        return False


def load_yaml_document(path: Path | str, *, what: str, shipped: bool = False) -> Any:
    """Read a YAML document of any shape (mapping, list), with a clear InputError for a missing, unreadable or
    malformed file (line and column) or a duplicate key."""
    check_ref_text(str(path), what=what)
    p = Path(path)
    try:
        is_dir = p.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if is_dir:
        raise InputError(f"{what} file '{_shown(str(p))}' is a directory; give a YAML file inside it.", field=what)
    if not path_is_file(p):
        if _exists(p):
            raise InputError(f"{what} file '{_shown(str(p))}' is not a regular file (a device, pipe or socket); "
                             "give a YAML file or a catalog id.", field=what)
        raise InputError(f"{what} file '{_shown(str(p))}' does not exist; give an existing YAML file or a catalog id.")
    try:
        size = p.stat().st_size
    except OSError:
        size = 0
    if size > MAX_YAML_BYTES:
        raise InputError(f"{what} file '{_shown(str(p))}' is {size / 1e6:,.1f} MB, above the {MAX_YAML_BYTES / 1e6:.0f} MB a "
                         "costsim YAML file may hold (the largest shipped is under 1 MB); keep long series in a CSV "
                         "(e.g. serving.arrivals.trace_path) or split the file.", field=what)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what} file '{p}': {exc.strerror}; check that it exists and that you may read it.") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} file '{p}' is not a UTF-8 text file (undecodable byte at offset {exc.start}); "
                         "give a YAML text file saved as UTF-8.") from None
    try:
        data = yaml.load(text, Loader=_CatalogLoader if shipped else _UniqueKeyLoader)  # noqa: S506 - SafeLoader subclasses
    except _DuplicateKey as dup:
        raise InputError(
            f"duplicate key {_short_repr(dup.key)} in {what} file '{p}' at line {dup.mark.line + 1} "
            f"(first given at line {dup.first.line + 1}); YAML keys must be unique, so keep only one of them."
        ) from None
    except RecursionError:  # PyYAML composes nested nodes recursively: ~450 levels of [[[... exhaust Python's stack
        raise InputError(
            f"{what} file '{p}' nests lists or mappings too deeply for the YAML reader (hundreds of levels); a "
            f"{what} needs only a few. Fix the brackets or indentation."
        ) from None
    except ValueError as exc:  # a scalar the constructor cannot convert: an integer of over 4,300 digits, a date 2020-13-45
        raise InputError(f"{what} file '{p}' holds a value the YAML reader cannot convert ({_short_repr(str(exc).splitlines()[0])}); "
                         "fix the value: numbers of at most 4,300 digits, valid dates.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(
            f"malformed YAML in {what} file '{p}'{pos}: {problem}. Fix the syntax (indentation, "
            "colons, quotes) and try again."
        ) from None
    return data


def region_named(value: str | None) -> str | None:
    """A region field's value (None = no region); an empty or blank one is bad input, not 'no region'."""
    if value is not None and not value.strip():
        raise ValueError("empty; give a region id (costsim grid regions lists them) or leave it out")
    return value


def validate_spec(cls: type[S], data: dict[str, Any], *, what: str, source: str | None = None) -> S:
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise InputError(describe_validation_error(err, what=what, source=source), source=source) from None


def unknown_id(kind: str, given: str, known: list[str], *, hint: str = "") -> UnknownIdError:
    g = given.lower()
    extends = [k for k in known if k.startswith(g + "-") or k.startswith(g + ".")]  # 'a100' -> a100-80gb-sxm, a100-40gb-sxm
    close = (extends + [k for k in difflib.get_close_matches(g, known, n=3, cutoff=0.4) if k not in extends])[:3]
    if not close:
        close = [k for k in known if g[:3] in k][:3]
    suggestion = f"; did you mean {' or '.join(close)}?" if close else "."
    if kind in ("hardware", "models"):
        listing = f" `costsim {kind} list` shows them all."
    elif hint:
        listing = ""
    else:  # no list command: name the ids (the first 12)
        listing = f" Known {kind} ids: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}; or give a YAML file path."
    return UnknownIdError(
        f"unknown {kind.rstrip('s') if kind == 'models' else kind} '{given}'{suggestion}{listing}{hint}",
        field=kind,
    )
