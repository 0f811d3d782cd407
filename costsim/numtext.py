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
    """A large count the way planners write it: 10T, 1.39T, 870B, 5.2M, 1,500T; below a million, `sig`."""
    v = float(value)
    if math.isfinite(v) and v != 0:
        v = float(f"{v:.{digits}g}")  # round first: 999,999,999.7 tokens read 1B, not 1,000M (beside a 1B of the same run)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(v) >= scale:
            return f"{sig(v / scale, digits)}{suffix}"  # 1,500T, never 1.5e+03T
    return sig(v, digits)


def grouped(n: object) -> str:
    """An exact count with thousands separated ('1,000,000'); anything that is not a whole number as given ('-' for None)."""
    if n is None:
        return "-"
    try:
        x = float(n)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(n)
    return f"{int(x):,}" if math.isfinite(x) and x == int(x) else str(n)


def plural(n: float, word: str, many: str | None = None) -> str:
    """'1 replica', '2 replicas', '1,024 GPUs': a count with its noun in the right number (thousands separated)."""
    x = float(n)
    shown = f"{int(x):,}" if math.isfinite(x) and x == int(x) else f"{x:,.3g}"
    return f"{shown} {word if x == 1 else (many or word + 's')}"


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """A quantity with an SI prefix at `digits` significant figures: 1.38 MW, 10 kW, 56 W, 500 mW ('-' for None)."""
    if value is None:
        return "-"
    v = float(value)
    if math.isnan(v):  # not priced / not known: the same dash as None (a table read 'nan Wh')
        return "-"
    if v == 0 or not math.isfinite(v):
        return f"{v:g} {unit}".strip()
    v = float(f"{v:.{digits}g}")  # round first: 999,960 shows as 1 M, not 1e+03 k
    if abs(v) >= 1e27:  # past the largest common prefix (Y): '1e+30 FLOP', not '1e+06 YFLOP'
        return f"{v:.{digits}g} {unit}".strip()
    prefixes = [(1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""),
                (1e-3, "m"), (1e-6, "u"), (1e-9, "n")]
    for scale, p in prefixes:
        if abs(v) >= scale:
            return f"{v / scale:.{digits}g} {p}{unit}".strip()
    return f"{v:.{digits}g} {unit}".strip()


def power(value_w: float, digits: int = 3) -> str:
    """A power the way a reader writes it: 1.38 MW, 10 kW, 56 W, 2.4 GW."""
    return si(value_w, "W", digits)


def duration(seconds: float) -> str:
    """A work estimate's duration for a reader: '4 s', '12 min', '5.9 h', '3.2 days', 'forever'."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
