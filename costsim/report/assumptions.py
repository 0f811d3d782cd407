"""The assumptions a run rests on, each with its source: hardware and model profiles (their
sources lists), facility / grid / economics settings (the field descriptions carry the source of
each default), and any `assumptions` a simulation reports in its summary."""

from __future__ import annotations

import re
from typing import Any

from costsim.numtext import sig
from costsim.report.fmt import fmt_value, human, path_label
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.scenario import Scenario


#: unit suffixes of scenario fields that costsim.report.fmt.unit_of does not know (a price per kWh, a temperature), longest
#: first: (suffix, scale, unit shown)
_FIELD_UNITS = (("_usd_per_kw_month", 1.0, "$ per kW-month"), ("_usd_per_gpu_hour", 1.0, "$ per GPU-hour"),
                ("_gco2e_per_kwh", 1.0, "gCO2e/kWh"), ("_usd_per_kwh", 1.0, "$/kWh"), ("_l_per_kwh", 1.0, "L/kWh"),
                ("_usd_per_m3", 1.0, "$ per m³"), ("_w_per_gpu", 1.0, "W per GPU"), ("_temp_coef_per_c", 1.0, "per °C"),
                ("_temp_c", 1.0, "°C"),
                ("_pct", 1.0, "%"), ("_below_c", 1.0, "°C"))


#: settings whose number is a name, not a quantity (a year reads 2023, not 2,023)
_PLAIN_NUMBERS = frozenset({"year", "start_month", "start_hour"})
#: labels of settings whose name is all unit ('usd_per_gpu_hour') or an acronym the label words do not spell
_FIELD_LABELS = {"usd_per_gpu_hour": "rental price", "wue": "water usage effectiveness (WUE)",
                 "market_based_gco2e_per_kwh": "market-based grid carbon", "grid_gco2e_per_kwh": "grid carbon intensity",
                 "fabric_storage_w_per_gpu": "network and storage power", "reference_temp_c": "reference outdoor temperature",
                 "cooling_temp_coef_per_c": "PUE added per °C above the reference", "curtailment_pct": "curtailment limits"}


def field_label(path: str) -> str:
    """'economics.electricity_usd_per_kwh' -> 'Economics: electricity' (its value carries '$/kWh'), as
    costsim.report.fmt.path_label words it once the unit words are off the name."""
    head, _, name = path.rpartition(".")
    leaf = name
    for suf, _k, _unit in _FIELD_UNITS:
        if name.endswith(suf) and len(name) > len(suf):
            leaf = name[: -len(suf)]
            break
    leaf = _FIELD_LABELS.get(name, _FIELD_LABELS.get(leaf, leaf))
    if " " in leaf:  # a label in words: keep it as written
        section = path_label(f"{head}.x").rsplit(":", 1)[0] if head else ""
        return f"{section}: {leaf}" if section else leaf[:1].upper() + leaf[1:]
    return path_label(f"{head}.{leaf}" if head else leaf)


def field_value(name: str, v: Any) -> str:
    """A scenario setting as the table shows it: yes / no for a switch, '-' for unset, a number with the unit its name
    ends with ('0.08 $/kWh', '100 W per GPU', '4 %'); the table printed Python's True, None and 100.0."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if name in _PLAIN_NUMBERS:
            return str(v)
        for suf, k, unit in _FIELD_UNITS:
            if name.endswith(suf) or name == suf[1:]:
                return f"{sig(float(v) * k, 4)} {unit}"
        return fmt_value(name, v)
    if isinstance(v, (list, tuple)):
        return ", ".join(field_value(name, x) for x in v) or "-"
    return str(v)


def _field_rows(section: str, spec: Any, note: str) -> list[dict[str, str]]:
    """One row per scalar setting of a spec, and of the specs inside it (grid.battery, grid.balancing_authority): its
    label, its scenario path, its value with its unit, and the field's description (its source) with the default it
    replaces."""
    rows = []
    for name, f in type(spec).model_fields.items():
        v = getattr(spec, name)
        path = f"{section}.{name}"
        if hasattr(v, "model_dump"):
            rows += _field_rows(path, v, note)
            continue
        if isinstance(v, dict) or (isinstance(v, list) and any(hasattr(x, "model_dump") or isinstance(x, (dict, list)) for x in v)):
            continue
        default = None if f.is_required() else f.get_default(call_default_factory=True)
        changed = f.is_required() or v != default
        rows.append({
            "item": field_label(path),
            "path": path,
            "value": field_value(name, v),
            # a field's text says None where a scenario file writes null or leaves the field out
            "source": re.sub(r"\bNone\b", "unset", f.description or "") + ("" if not changed or f.is_required() else
                                               f" [set by the scenario; default {'none' if default is None else field_value(name, default)}]"),
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
    text values as given; '-' for none (a device with no price read 'None USD/GPU-h'), yes / no for a switch."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return f"{value} {unit}".strip() if unit and str(value) else str(value)
    scale, shown = _UNIT_SHOWN.get(unit, (1.0, unit))
    return f"{sig(float(value) * scale, 4)} {shown}".strip()

