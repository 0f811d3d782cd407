"""Display formatting at the edge: SI values in, scaled human units out."""

from __future__ import annotations

import math
from typing import Any

J_PER_MWH = 3.6e9
S_PER_DAY = 86_400.0


def num(x: Any, digits: int = 3) -> str:
    """Significant-digit number with thousands separators; '—' for missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    x = float(x)
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


def with_unit(x: Any, unit: str) -> str:
    """`num` and its unit; a bare '—' for missing (an infeasible replica read '— tok/s', '— J')."""
    text = num(x)
    return text if text == "—" else f"{text} {unit}"


def count(x: Any) -> str:
    """A whole count with thousands separators."""
    return "—" if x is None else f"{int(round(float(x))):,}"


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    s = float(seconds)
    if s >= 2 * S_PER_DAY:
        return f"{num(s / S_PER_DAY)} days"
    if s >= 2 * 3600:
        return f"{num(s / 3600)} h"
    if s >= 120:
        return f"{num(s / 60)} min"
    if s >= 1:
        return f"{num(s)} s"
    return f"{num(s * 1e3)} ms"


def usd(x: Any) -> str:
    if x is None:
        return "—"
    v = float(x)
    if not math.isfinite(v):
        return "no price"
    for div, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= div:
            return f"${num(v / div)}{suffix}"
    return f"${num(v)}"


def energy_mwh(joules: Any) -> str:
    if joules is None:
        return "—"
    mwh = float(joules) / J_PER_MWH
    if mwh == 0:  # no size to choose a unit by: the unit of the energies beside it (it read '0 kWh'), as report.fmt.zero_unit
        return "0 MWh"
    if abs(mwh) >= 1e6:
        return f"{num(mwh / 1e6)} TWh" if abs(mwh) < 1e9 else f"{mwh / 1e6:.3g} TWh"
    if abs(mwh) >= 1000:
        return f"{num(mwh / 1000)} GWh"
    if abs(mwh) >= 1:
        return f"{num(mwh)} MWh"
    return f"{num(mwh * 1000)} kWh"


def power_w(w: Any) -> str:
    if w is None:
        return "—"
    v = float(w)
    if abs(v) >= 1e15:  # past any grid: scientific, never a 20-digit number that a metric box cuts off
        return f"{v / 1e12:.3g} TW"
    for div, suffix in ((1e12, " TW"), (1e9, " GW"), (1e6, " MW"), (1e3, " kW")):
        if abs(v) >= div:
            return f"{num(v / div)}{suffix}"
    return f"{num(v)} W"


def mass_kg(kg: Any) -> str:
    if kg is None:
        return "—"
    v = float(kg)
    return f"{num(v / 1000)} t" if abs(v) >= 1000 else f"{num(v)} kg"


def bytes_(b: Any) -> str:
    if b is None:
        return "—"
    return f"{num(float(b) / 1e9)} GB"


def frac_pct(f: Any) -> str:
    return "—" if f is None else f"{num(float(f) * 100)} %"


def big(x: Any) -> str:
    if x is None:
        return "—"
    v = float(x)
    for div, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= div:
            return f"{num(v / div)}{suffix}"
    return count(v) if v.is_integer() else num(v)  # a count below 1,000 reads '20', not '20.0'


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with dotted keys (for tables)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = ", ".join(str(x) for x in v) if all(not isinstance(x, (dict, list)) for x in v) else str(v)
        else:
            out[key] = v
    return out


_SCALED = {  # SI key suffix -> (display suffix, divisor); the longer suffix first
    "_bytes": (", GB", 1e9),
    "_frac": (", %", 0.01),
    "_per_s": ("/s", 1.0),
    "_usd": (", $", 1.0),
    "_j": (", MWh", 3.6e9),
    "_w": (", kW", 1e3),
    "_s": (", s", 1.0),
}
_WORDS = {"mfu": "MFU", "gpu": "GPU", "gpus": "GPUs", "tdp": "TDP", "flop": "FLOP", "pue": "PUE", "tp": "TP", "pp": "PP",
          "cp": "CP", "ep": "EP", "dp": "DP", "vp": "VP"}
_KEYS = {"etp": "expert TP", "ep_overlap": "EP all-to-all overlap", "ep_dispatcher": "expert dispatch",
         "moe_expert_launch": "expert MLP launch", "moe_host_launch_time": "MoE expert launch wait",
         "moe_router_balance": "router load balancing", "moe_router_load_cv": "router load CV",
         "moe_load_wait_time": "MoE busiest-rank wait", "activation_offload": "activation offload",
         "offload_wait_time": "activation offload wait"}  # whole keys no word-by-word reading explains


def words(stem: str) -> str:
    """A JSON key stem as words for a reader: step_time -> step time, memory_per_gpu -> memory per GPU."""
    return _KEYS.get(stem) or " ".join(_WORDS.get(w, w) for w in stem.split("_"))


_label = words


def round_sig(v: Any, digits: int = 4) -> Any:
    """A float rounded to `digits` significant digits (a table cell a reader can take in; still a number)."""
    if not isinstance(v, float) or not math.isfinite(v) or v == 0.0:
        return v
    return round(v, max(0, digits - 1 - int(math.floor(math.log10(abs(v))))))


def display_row(d: dict[str, Any]) -> dict[str, Any]:
    """Flatten and rescale SI columns for a readable table: labels in words with their unit (step time, s; tokens/s;
    MFU, %; memory per GPU, GB), not the JSON keys; floats to 4 significant digits."""
    out: dict[str, Any] = {}
    for k, v in flatten(d).items():
        for suffix, (label, div) in _SCALED.items():
            if k.endswith(suffix) and isinstance(v, (int, float)) and not isinstance(v, bool):
                out[_label(k[: -len(suffix)]) + label] = round_sig(v / div)
                break
        else:
            out[_label(k)] = round_sig(v)
    return out
