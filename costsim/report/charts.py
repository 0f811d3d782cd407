"""Plotly figures for reports: power timeline, cost and energy breakdown, latency distribution,
Monte Carlo ranges and the sensitivity tornado of a sweep. Each returns a Figure or None when the
data it needs is absent."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from costsim.report.fmt import label, scale

LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), height=380)
LATENCY_WORDS = ("ttft", "tpot", "e2e", "latency", "itl", "queue")
TOTAL_WORDS = ("total",)


def power_timeline(result) -> go.Figure | None:
    fig = go.Figure()
    n = 0
    for v in result.variants:
        ts = v.site_timeseries
        if not ts or "site_power_w" not in ts:
            continue
        t_h = np.asarray(ts["t_s"]) / 3600.0
        fig.add_trace(go.Scatter(x=t_h, y=np.asarray(ts["site_power_w"]) / 1e6, mode="lines", line_shape="hv", name=f"{v.name}: site"))
        n += 1
        parts = [k for k in ts if k not in ("t_s", "site_power_w")]
        if len(parts) > 1:
            for k in parts:
                fig.add_trace(go.Scatter(x=t_h, y=np.asarray(ts[k]) / 1e6, mode="lines", line_shape="hv", name=f"{v.name}: {k}", line=dict(dash="dot")))
    cap = result.scenario.grid.import_cap_mw
    if n == 0:
        return None
    if cap is not None:
        fig.add_hline(y=cap, line_dash="dash", line_color="red", annotation_text=f"grid import cap {cap:g} MW")
    fig.update_layout(title="Site power over time", xaxis_title="time, h", yaxis_title="power, MW", **LAYOUT)
    return fig


def _breakdown(result, suffix: str, title: str, unit_key: str) -> go.Figure | None:
    per_variant: list[tuple[str, dict[str, float]]] = []
    for v in result.variants:
        items: dict[str, float] = {}
        for part, pr in v.parts.items():
            breakdowns = {k: val for k, val in pr.summary.items() if isinstance(val, dict) and k.endswith(suffix)}
            flat = {f"{k2}": v2 for d in breakdowns.values() for k2, v2 in d.items()} if breakdowns else {
                k: val for k, val in pr.summary.items() if k.endswith(suffix) and not any(w in k for w in TOTAL_WORDS)
                and "_per_" not in k}  # per-token / per-GPU rates are not parts of a total
            for k, val in flat.items():
                if isinstance(val, (int, float)) and not isinstance(val, bool) and np.isfinite(val) and val != 0:
                    items[f"{part}: {label(k.removesuffix(suffix), part)}"] = float(val)
        if items:
            per_variant.append((v.name, items))
    if not per_variant:
        return None
    top = max(abs(x) for _, items in per_variant for x in items.values())
    shown, unit = scale(unit_key, top)
    factor = shown / top
    fig = go.Figure()
    for name, items in per_variant:
        fig.add_trace(go.Bar(x=list(items), y=[x * factor for x in items.values()], name=name))
    fig.update_layout(title=title, barmode="group", yaxis_title=unit, **LAYOUT)
    return fig


def cost_breakdown(result) -> go.Figure | None:
    return _breakdown(result, "_usd", "Cost breakdown", "x_usd")


def energy_breakdown(result) -> go.Figure | None:
    return _breakdown(result, "_j", "Energy breakdown", "x_j")


def latency_distribution(result) -> go.Figure | None:
    fig = go.Figure()
    n = 0
    for v in result.variants:
        for part, pr in v.parts.items():
            for tname, table in pr.tables.items():
                for col, arr in table.items():
                    if col.endswith("_s") and any(w in col for w in LATENCY_WORDS):
                        a = np.asarray(arr, dtype=float)
                        a = a[np.isfinite(a)]
                        if a.size == 0:
                            continue
                        fig.add_trace(go.Histogram(x=a * 1e3, name=f"{v.name}: {col}", opacity=0.6, nbinsx=60))
                        n += 1
    if n == 0:
        return None
    fig.update_layout(title="Latency distribution (per request)", barmode="overlay", xaxis_title="ms", yaxis_title="requests", **LAYOUT)
    return fig


def ranges_chart(result, keys: list[tuple[str, str]]) -> go.Figure | None:
    """Box plots of replicate values of headline metrics (Monte Carlo)."""
    fig = go.Figure()
    n = 0
    for part, key in keys:
        for v in result.variants:
            pr = v.parts.get(part)
            if pr is None or len(pr.replicate_summaries) < 2:
                continue
            vals = [s.get(key) for s in pr.replicate_summaries]
            vals = [float(x) for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)]
            if len(vals) < 2:
                continue
            med = float(np.median(vals)) or 1.0
            shown, unit = scale(key, med)
            k = shown / med
            fig.add_trace(go.Box(y=[x * k for x in vals], name=f"{v.name}: {label(key)} ({unit})", boxpoints="all"))
            n += 1
    if n == 0:
        return None
    fig.update_layout(title="Monte Carlo ranges across replicates", showlegend=False, **LAYOUT)
    return fig


def tornado(rows: list[dict[str, Any]], metric: str, params: list[str]) -> go.Figure | None:
    """For each swept parameter: the metric's mean at that parameter's lowest and highest value
    (averaged over everything else), as bars around the overall mean; widest on top."""
    ok = [r for r in rows if r.get("status") == "ok" and isinstance(r.get(metric), (int, float)) and not isinstance(r.get(metric), bool)]
    if not ok or not params:
        return None
    base = float(np.mean([r[metric] for r in ok]))
    bars = []
    for p in params:
        groups: dict[Any, list[float]] = {}
        for r in ok:
            groups.setdefault(r.get(p), []).append(float(r[metric]))
        if len(groups) < 2:
            continue
        try:
            ordered = sorted(groups, key=lambda x: float(x))
        except (TypeError, ValueError):
            ordered = sorted(groups, key=str)
        lo_v, hi_v = ordered[0], ordered[-1]
        lo, hi = float(np.mean(groups[lo_v])), float(np.mean(groups[hi_v]))
        bars.append((p, lo_v, hi_v, lo, hi, abs(hi - lo)))
    if not bars:
        return None
    bars.sort(key=lambda b: b[5])
    ref = base if base != 0 else 1.0
    shown, unit = scale(metric, ref)
    k = shown / ref
    fig = go.Figure()
    fig.add_trace(go.Bar(y=[b[0].removeprefix("param_") for b in bars], x=[(b[3] - base) * k for b in bars], base=base * k, orientation="h",
                         name="lowest value", text=[f"= {b[1]}" for b in bars], marker_color="#4c78a8"))
    fig.add_trace(go.Bar(y=[b[0].removeprefix("param_") for b in bars], x=[(b[4] - base) * k for b in bars], base=base * k, orientation="h",
                         name="highest value", text=[f"= {b[2]}" for b in bars], marker_color="#f58518"))
    fig.update_layout(title=f"Sensitivity of {label(metric)}", barmode="overlay", xaxis_title=f"{label(metric)} ({unit})" if unit else label(metric), **LAYOUT)
    return fig
