"""Check many values of one numeric spec field at once (what a batched evaluation validates per
point instead of building one pydantic model per point).

`field_rule(Model, "name")` reads the field's declared type and its bound constraints (ge, gt,
le, lt) from the pydantic schema; `invalid_mask(rule, values)` says which values the model would
refuse (non-finite, not integral for an int field, outside a bound). Cross-field validators are
not covered: callers validate one representative model per group for those.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel


@dataclass(frozen=True)
class FieldRule:
    """The per-value rules of one numeric field."""

    name: str
    """Field name (for messages)."""
    integer: bool
    """True for an int field (values must be integral)."""
    nullable: bool
    """True when None is allowed (never for an array of numbers; kept for callers that ask)."""
    ge: float | None = None
    """Inclusive lower bound, or None."""
    gt: float | None = None
    """Exclusive lower bound, or None."""
    le: float | None = None
    """Inclusive upper bound, or None."""
    lt: float | None = None
    """Exclusive upper bound, or None."""

    def describe(self) -> str:
        parts = []
        for op, v in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt)):
            if v is not None:
                parts.append(f"{op} {v:g}")
        kind = "an integer" if self.integer else "a finite number"
        return kind + (f" {' and '.join(parts)}" if parts else "")


def _numeric_alternatives(annotation: Any) -> tuple[set[type], bool]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _numeric_alternatives(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds: set[type] = set()
        nullable = False
        for a in typing.get_args(annotation):
            if a is type(None):
                nullable = True
                continue
            k, n = _numeric_alternatives(a)
            kinds |= k
            nullable = nullable or n
        return kinds, nullable
    return ({annotation} if annotation in (int, float) else {object}), False


def field_rule(model: type[BaseModel], name: str) -> FieldRule | None:
    """The rule of a plain numeric field (int or float, optionally None), else None."""
    info = model.model_fields.get(name)
    if info is None:
        return None
    kinds, nullable = _numeric_alternatives(info.annotation)
    if not kinds or not kinds <= {int, float}:
        return None
    bounds: dict[str, float] = {}
    for m in info.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            v = getattr(m, attr, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                bounds[attr] = float(v)
    return FieldRule(name=name, integer=kinds == {int}, nullable=nullable, **bounds)


def invalid_mask(rule: FieldRule, values: Any) -> np.ndarray:
    """True where the model would refuse the value."""
    a = np.asarray(values)
    if a.dtype.kind not in "iuf":
        try:
            a = a.astype(float)
        except (TypeError, ValueError):
            return np.ones(a.shape, bool)
    bad = ~np.isfinite(a.astype(float))
    af = np.where(bad, 0.0, a.astype(float))
    if rule.integer:
        bad |= af != np.round(af)
    if rule.ge is not None:
        bad |= af < rule.ge
    if rule.gt is not None:
        bad |= af <= rule.gt
    if rule.le is not None:
        bad |= af > rule.le
    if rule.lt is not None:
        bad |= af >= rule.lt
    return bad


def message(rule: FieldRule, value: Any, label: str | None = None) -> str:
    v = value.item() if isinstance(value, np.generic) else value
    shown = repr(v) if not (isinstance(v, float) and math.isfinite(v)) else f"{v:g}"
    return f"field '{label or rule.name}': must be {rule.describe()} (got {shown})."
