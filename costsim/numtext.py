"""Numbers in prose: significant figures without exponents, and large counts with a T / B / M suffix.

Shared by the API's one-sentence answers and the CLI (a top-level module, below every layer)."""

from __future__ import annotations

import math


def sig(value: float, digits: int = 3) -> str:
    """At most `digits` significant figures with thousands separators, no trailing zeros and never an exponent:
    3,600 not 3.6e+03; 5 not 5.00; 0.0349."""
    v = float(value)
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(v)))
    text = f"{round(v, decimals):,.{max(decimals, 0)}f}"
    return text.rstrip("0").rstrip(".") if decimals > 0 else text


def count(value: float, digits: int = 3) -> str:
    """A large count the way planners write it: 10T, 1.39T, 870B, 5.2M; below a million, `sig`."""
    v = float(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(v) >= scale:
            return f"{v / scale:.{digits}g}{suffix}"
    return sig(v, digits)
