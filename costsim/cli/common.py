"""Helpers shared by CLI commands: JSON output, tables, exit codes, numbers with scientific notation."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import typer

from costsim.errors import InputError
from costsim.jsonable import to_jsonable

EXIT_INFEASIBLE = 3


def parse_float(text: str | None, *, flag: str) -> float | None:
    """Accept 15e12, 15T, 1.5e9, 400B, 3M style numbers."""
    if text is None:
        return None
    s = str(text).strip().replace("_", "").replace(",", "")
    mult = 1.0
    suffixes = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
    if s and s[-1] in suffixes:
        mult = suffixes[s[-1]]
        s = s[:-1]
    try:
        v = float(s) * mult
    except ValueError:
        raise InputError(f"{flag} expects a number such as 15e12 or 15T, got {text!r}.", field=flag) from None
    if not math.isfinite(v):
        raise InputError(f"{flag} must be a finite number, got {text!r}.", field=flag)
    return v


def print_json(doc: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(doc), indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def finish(result: dict[str, Any], *, as_json: bool, render) -> int:
    """Print a result (JSON or human) and return the exit code (3 when infeasible)."""
    if as_json:
        print_json(result)
    else:
        render(result)
    if result.get("feasible") is False:
        if not as_json:
            typer.echo(f"infeasible: {result.get('reason')}", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    return 0


def fmt_si(value: float | None, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "-"
    v = float(value)
    if v == 0:
        return f"0 {unit}".strip()
    prefixes = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"), (1e-6, "u")]
    for scale, p in prefixes:
        if abs(v) >= scale:
            return f"{v / scale:.{digits}g} {p}{unit}".strip()
    return f"{v:.{digits}g} {unit}".strip()
