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


def power(value_w: float, digits: int = 3) -> str:
    """A power the way a reader writes it: 1.38 MW, 10 kW, 56 W, 2.4 GW (SI prefix, `digits` significant figures)."""
    v = float(value_w)
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale * (1 - 0.5 * 10 ** (1 - digits)):
            return f"{sig(v / scale, digits)} {prefix}W"
    if 0 < abs(v) < 1e-3:  # a vanishing power (a 1e-300 MW grid cap) in scientific form, not 300 zeros
        return f"{v:.{digits}g} W"
    return f"{sig(v, digits)} W"
