"""The assumptions a run rests on, each with its source: hardware and model profiles (their
sources lists), facility / grid / economics settings (the field descriptions carry the source of
each default), and any `assumptions` a simulation reports in its summary."""

from __future__ import annotations

from typing import Any

from costsim.numtext import sig
from costsim.report.fmt import human
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.scenario import Scenario


def _field_rows(section: str, spec: Any, note: str) -> list[dict[str, str]]:
    rows = []
    fields = type(spec).model_fields
    for name, f in fields.items():
        v = getattr(spec, name)
        if hasattr(v, "model_dump") or isinstance(v, (list, dict)):
            continue
        default = f.default
        rows.append({
            "item": f"{section}.{name}",
            "value": "-" if v is None else str(v),
            "source": (f.description or "") + ("" if v == default else f" [set by the scenario; default {default}]"),
            "kind": note,
        })
    return rows


def assumption_rows(s: Scenario, *, variant: str = "base", summaries: dict[str, dict[str, Any]] | None = None) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for part in ("training", "serving"):
        w = getattr(s, part)
        if w is None:
            continue
        hw = getattr(w, "hardware", None)
        if isinstance(hw, str) and ("hw", hw) not in seen:
            seen.add(("hw", hw))  # type: ignore[arg-type]
            try:
                acc = get_accelerator(hw)
                src = "; ".join(acc.sources)
                rows += [
                    {"item": f"{acc.name}: peak bf16", "value": f"{(acc.peak_tflop_per_s.bf16 or 0):g} TFLOP/s", "source": src, "kind": "hardware profile"},
                    {"item": f"{acc.name}: memory", "value": f"{acc.memory_bytes / 1e9:g} GB at {acc.memory_bandwidth_bytes_per_s / 1e12:g} TB/s", "source": src, "kind": "hardware profile"},
                    {"item": f"{acc.name}: TDP / idle", "value": f"{acc.tdp_w:g} W / {acc.idle_w:g} W", "source": src + (f" (note: {acc.notes})" if acc.notes else ""), "kind": "hardware profile"},
                ]
                if acc.rental_usd_per_hour is not None:
                    rows.append({"item": f"{acc.name}: rental", "value": f"{acc.rental_usd_per_hour} USD/GPU-hour", "source": src, "kind": "hardware profile"})
            except Exception:  # noqa: BLE001 - a report never fails on a profile lookup
                pass
        mref = getattr(w, "model", None)
        if isinstance(mref, str) and ("m", mref) not in seen:
            seen.add(("m", mref))  # type: ignore[arg-type]
            try:
                m = get_model(mref)
                rows.append({"item": f"{m.name}: parameters", "value": f"{m.params_total / 1e9:.3g} B total, {m.params_active / 1e9:.3g} B active",
                             "source": "; ".join(m.sources) or "model catalog", "kind": "model profile"})
            except Exception:  # noqa: BLE001
                pass
    rows += _field_rows("facility", s.facility, "facility")
    rows += _field_rows("economics", s.economics, "economics")
    rows += _field_rows("grid", s.grid, "grid")
    for part, summ in (summaries or {}).items():
        extra = summ.get("assumptions") if isinstance(summ, dict) else None
        if isinstance(extra, list):
            for a in extra:
                if isinstance(a, dict):
                    rows.append({"item": f"{part}: {human(str(a.get('name', a.get('item', '?'))))}",
                                 "value": _assumption_value(a.get("value", ""), str(a.get("unit") or "")),
                                 "source": str(a.get("source", "")), "kind": f"{part} simulation"})
    for r in rows:
        r["variant"] = variant
    return rows


#: a simulation assumption's unit (its `unit` field) -> (scale, shown unit)
_UNIT_SHOWN = {"B/s": (1e-9, "GB/s"), "bytes": (1e-9, "GB"), "B": (1e-9, "GB"), "1/GPU-h": (1.0, "per GPU-hour"),
               "USD/GPU-h": (1.0, "$ per GPU-hour"), "1/s": (1.0, "per s")}


def _assumption_value(value: Any, unit: str) -> str:
    """A simulation assumption's value with its unit at 4 significant figures ('2,000 GB/s', '0.00001973 per GPU-hour');
    text values as given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value} {unit}".strip() if unit and str(value) else str(value)
    scale, shown = _UNIT_SHOWN.get(unit, (1.0, unit))
    return f"{sig(float(value) * scale, 4)} {shown}".strip()

