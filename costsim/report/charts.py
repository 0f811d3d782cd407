"""Plotly figures for reports: power timeline, cost and energy breakdown, latency distribution,
Monte Carlo ranges and the sensitivity tornado of a sweep. Each returns a Figure or None when the
data it needs is absent."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go

from costsim.numtext import sig
from costsim.report.fmt import label, path_label, path_value, scale
from costsim.units import GIGA, J_PER_MWH, KG_PER_TONNE, MEGA

LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), height=380)
LATENCY_WORDS = ("ttft", "tpot", "e2e", "latency", "itl", "queue")
TOTAL_WORDS = ("total",)


# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
# marker symbols for categorical options (plan options, ...), one per option in order
SYMBOLS = ("star", "diamond", "square", "triangle-up", "cross", "x", "pentagon", "hexagon")
MAX_CHART_POINTS = 1500
BIN_WIDTHS_S = (60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0)


def banded(t_s, y, y_min=None, y_max=None, *, max_points: int = MAX_CHART_POINTS):
    """(t, mean, min, max, bin width s) of a step series, binned so at most `max_points` bins remain:
    the bin width is the smallest of 1 min, 5 min, 15 min, 1 h, 6 h, 1 day, 1 week that fits. Shorter
    series come back unbinned (width 0). Each bin's mean is the time-weighted mean of its buckets."""
    t = np.asarray(t_s, float)
    y = np.asarray(y, float)
    lo = y if y_min is None else np.asarray(y_min, float)
    hi = y if y_max is None else np.asarray(y_max, float)
    if t.size <= max_points:
        return t, y, lo, hi, 0.0
    span = float(t[-1] - t[0]) or 1.0
    width = next((w for w in BIN_WIDTHS_S if span / w <= max_points), span / max_points)
    idx = np.floor((t - t[0]) / width).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    dt = np.diff(np.r_[t, t[-1] + (t[-1] - t[-2] if t.size > 1 else 1.0)])
    wsum = np.add.reduceat(dt, starts)
    mean = np.add.reduceat(y * dt, starts) / np.where(wsum > 0, wsum, 1.0)
    return t[0] + idx[starts] * width, mean, np.minimum.reduceat(lo, starts), np.maximum.reduceat(hi, starts), width


def _width_text(w: float) -> str:
    if w <= 0:
        return "as simulated"
    for secs, name in ((7 * 86400.0, "week"), (86400.0, "day"), (3600.0, "hour"), (60.0, "minute")):
        if w >= secs and w % secs == 0:
            n = int(w // secs)
            return f"per {name}" if n == 1 else f"per {n} {name}s"
    return f"per {w:g} s"


def stacked_spacing(rows: int, height_px: float, *, gap_px: float = 60.0, preferred: float = 0.06) -> float:
    """vertical_spacing (a fraction of the figure's height) for `rows` stacked panels: `preferred`, or a
    gap of `gap_px` when the figure is tall, and never more than plotly allows (the gaps must leave the
    panels room: spacing <= 1 / (rows - 1)), so any number of panels can be drawn."""
    if rows <= 1:
        return 0.0
    return min(preferred, gap_px / max(height_px, 1.0), 0.5 / (rows - 1))


def power_timeline(result) -> go.Figure | None:
    """Site power of each variant as a min-max band with its mean (binned so any horizon reads), one
    small panel per variant on a shared time axis; parts of a mixed site as dotted means; the cap dashed."""
    from plotly.subplots import make_subplots

    shown = [v for v in result.variants if v.site_timeseries and "site_power_w" in v.site_timeseries]
    if not shown:
        return None
    span_s = max(float(np.asarray(v.site_timeseries["t_s"])[-1]) for v in shown)
    t_div, t_unit = (86400.0, "days") if span_s >= 2 * 86400 else ((3600.0, "h") if span_s >= 2 * 3600 else (60.0, "min"))
    # one panel per variant, every variant drawn: panels get lower past a dozen variants, and the spacing
    # between them follows their number (a fixed fraction stops fitting past ~17 panels)
    panel_px = 220 if len(shown) <= 12 else 140
    height_px = 300 + panel_px * (len(shown) - 1)
    fig = make_subplots(rows=len(shown), cols=1, shared_xaxes=True, vertical_spacing=stacked_spacing(len(shown), height_px),
                        subplot_titles=[v.name for v in shown] if len(shown) > 1 else None)
    cap = result.scenario.grid.import_cap_mw
    # one power unit for every panel, from the largest draw shown (a phone's watts read as W, not as millionths of MW)
    top_w = max([float(np.nanmax(np.asarray(v.site_timeseries["site_power_w"], dtype=float), initial=0.0)) for v in shown]
                + [cap * 1e6 if cap is not None else 0.0])
    top_shown, p_unit = scale("site_power_w", top_w)
    p_div = float(round(top_w / top_shown)) if top_shown else 1.0  # 1, 1e3 or 1e6
    widths = []
    for row, v in enumerate(shown, start=1):
        ts = v.site_timeseries
        t, mean, lo, hi, width = banded(ts["t_s"], ts["site_power_w"], ts.get("site_power_min_w"), ts.get("site_power_max_w"))
        widths.append(width)
        x = t / t_div
        color = PALETTE[0]
        first = row == 1
        fig.add_trace(go.Scatter(x=x, y=hi / p_div, mode="lines", line=dict(width=0, shape="hv", color=color), hoverinfo="skip",
                                 showlegend=False, legendgroup="band"), row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=lo / p_div, mode="lines", line=dict(width=0, shape="hv", color=color), fill="tonexty",
                                 fillcolor="rgba(0,114,178,0.25)", name="site power, min-max", legendgroup="band", showlegend=first),
                      row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=mean / p_div, mode="lines", line=dict(width=1.5, shape="hv", color=color),
                                 name="site power, mean", legendgroup="mean", showlegend=first), row=row, col=1)
        parts = [k for k in ts if k.endswith("_power_w") and not k.startswith("site_power")]
        if len(parts) > 1:
            for i, k in enumerate(parts):
                _, pm, _, _, _ = banded(ts["t_s"], ts[k])
                fig.add_trace(go.Scatter(x=x, y=pm / p_div, mode="lines", line=dict(dash="dot", shape="hv", color=PALETTE[(i + 1) % len(PALETTE)]),
                                         name=label(k.removesuffix("_power_w")), legendgroup=k, showlegend=first), row=row, col=1)
        if cap is not None:
            fig.add_hline(y=cap * 1e6 / p_div, line_dash="dash", line_color=PALETTE[3], row=row, col=1,
                          annotation_text=f"grid import cap {cap:g} MW" if first else None)
        fig.update_yaxes(title_text=f"power, {p_unit}", row=row, col=1)
    fig.update_xaxes(title_text=f"time, {t_unit}", row=len(shown), col=1)
    binning = _width_text(max(widths))
    layout = dict(LAYOUT)
    layout["height"] = height_px
    fig.update_layout(title=f"Site power over time ({binning}; drag to zoom)", **layout)
    return fig


def energy_parts(summary: dict) -> dict[str, float] | None:
    """A part's facility energy split into what draws it, from its nested totals (GPU within IT within facility: the
    chart had drawn gpu, IT, facility and grid energy side by side, and in a siting run a curtailed-energy and a
    battery-size figure too, as if parts of one total); None where the summary has no facility energy."""
    fac = summary.get("facility_energy_j")
    if not isinstance(fac, (int, float)) or isinstance(fac, bool) or not np.isfinite(fac):
        return None
    gpu, it = summary.get("gpu_energy_j"), summary.get("it_energy_j")
    out: dict[str, float] = {}
    if isinstance(gpu, (int, float)) and gpu > 0:
        out["GPUs"] = float(gpu)
    if isinstance(it, (int, float)) and it > 0:
        if out:
            out["host, network and storage"] = float(it) - out["GPUs"]
        out["cooling and power overhead (PUE)"] = float(fac) - float(it)
    else:
        out["host, network, storage and cooling" if out else "facility"] = float(fac) - out.get("GPUs", 0.0)
    return out


def _breakdown(result, suffix: str, title: str, unit_key: str) -> go.Figure | None:
    per_variant: list[tuple[str, dict[str, float]]] = []
    for v in result.variants:
        items: dict[str, float] = {}
        for part, pr in v.parts.items():
            parts = energy_parts(pr.summary) if suffix == "_j" else None
            if parts is not None:
                items.update({f"{part}: {k}": x for k, x in parts.items() if x})
                continue
            breakdowns = {k: val for k, val in pr.summary.items() if isinstance(val, dict) and k.endswith(suffix)}
            # the breakdown of the total only: a detail record (electricity_detail_usd: the energy inside electricity,
            # or inside the rental price) drew an 'Energy' bar beside 'Electricity', as if paid twice
            breakdowns = {k: val for k, val in breakdowns.items() if "breakdown" in k} or breakdowns
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


def plan_options(result) -> go.Figure | None:
    """Plan parts: total lifetime cost and energy of each option (the plan, the compute-optimal model, the
    compared catalog models) in every variant; two panels, one unit each."""
    from plotly.subplots import make_subplots

    rows = []
    for v in result.variants:
        pr = v.parts.get("plan")
        tab = pr.tables.get("options") if pr is not None else None
        if tab and "total_usd" in tab:
            rows.append((v.name, tab))
    if not rows:
        return None
    options = list(dict.fromkeys(str(o) for _, tab in rows for o in tab["option"]))
    fig = make_subplots(rows=1, cols=2, subplot_titles=["Total lifetime cost (training + serving)", "Total lifetime energy at the meter"])
    for i, opt in enumerate(options):
        for col, (key, div) in enumerate((("total_usd", 1e6), ("total_facility_energy_j", 3.6e9)), start=1):
            ys = []
            for _, tab in rows:
                idx = [j for j, o in enumerate(tab["option"]) if str(o) == opt]
                ys.append(float(tab[key][idx[0]]) / div if idx and key in tab else None)
            fig.add_trace(go.Bar(x=[name for name, _ in rows], y=ys, name=opt, marker_color=PALETTE[i % len(PALETTE)],
                                 legendgroup=opt, showlegend=col == 1), row=1, col=col)
    fig.update_yaxes(title_text="$M", row=1, col=1)
    fig.update_yaxes(title_text="MWh", row=1, col=2)
    layout = dict(LAYOUT)
    layout["height"] = 420
    fig.update_layout(title="Plan options by variant", barmode="group", **layout)
    return fig


PLAN_FRONTIER_PANELS = (("total_usd", MEGA, "Total lifetime cost, $M"), ("total_facility_energy_j", J_PER_MWH, "Total lifetime energy, MWh"),
                        ("total_co2e_kg", KG_PER_TONNE, "Total lifetime emissions, t CO2e"))


def plan_frontier(result) -> go.Figure | None:
    """Plan parts: quality vs lifetime cost. For each variant (one colour), the least-cost plan at each loss
    around the answer (a line; loss axis reversed so better quality is up), with the plan's options (this
    plan, compute-optimal, catalog models; one symbol each) on the same axes. One panel per unit."""
    from plotly.subplots import make_subplots

    rows = []
    for v in result.variants:
        pr = v.parts.get("plan")
        if pr is None:
            continue
        fr, opts = pr.tables.get("frontier"), pr.tables.get("options")
        if fr and "loss" in fr and "total_usd" in fr:
            rows.append((v.name, fr, opts))
    if not rows:
        return None
    panels = [p for p in PLAN_FRONTIER_PANELS if any(p[0] in fr and np.isfinite(np.asarray(fr[p[0]], float)).any() for _, fr, _ in rows)]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[2] for p in panels], shared_yaxes=True)
    labels = list(dict.fromkeys(str(o) for _, _, opts in rows if opts for o in opts["option"]))
    for i, (name, fr, opts) in enumerate(rows):
        colour = PALETTE[i % len(PALETTE)]
        order = np.argsort(np.asarray(fr["loss"], float))
        y = np.asarray(fr["loss"], float)[order]
        p = np.asarray(fr.get("params", np.full(order.size, np.nan)), float)[order] / GIGA
        for col, (key, div, title) in enumerate(panels, start=1):
            x = np.asarray(fr.get(key, np.full(order.size, np.nan)), float)[order] / div
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=colour), name=f"{name}: least-cost plan per loss",
                                     legendgroup=name, showlegend=col == 1, customdata=p,
                                     hovertemplate=f"{name}<br>loss %{{y:.4f}}<br>{title}: %{{x:,.3g}}<br>%{{customdata:.3g}}B parameters<extra></extra>"),
                          row=1, col=col)
            if not opts or key not in opts or "loss" not in opts:
                continue
            for j, lab in enumerate(opts["option"]):
                xv, yv = float(opts[key][j]) / div, float(opts["loss"][j])
                if not (np.isfinite(xv) and np.isfinite(yv)):
                    continue
                sym = SYMBOLS[labels.index(str(lab)) % len(SYMBOLS)]
                fig.add_trace(go.Scatter(x=[xv], y=[yv], mode="markers", showlegend=False, legendgroup=name,
                                         marker=dict(color=colour, size=11, symbol=sym, line=dict(color="#000", width=1)),
                                         hovertemplate=f"{name}: {lab}<br>loss %{{y:.4f}}<br>{title}: %{{x:,.3g}}<extra></extra>"),
                              row=1, col=col)
        for col in range(1, len(panels) + 1):
            fig.update_xaxes(type="log", row=1, col=col)
    for j, lab in enumerate(labels):  # one legend entry per option, in grey: the symbol, whatever the variant's colour
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=lab,
                                 marker=dict(color="#999", size=11, symbol=SYMBOLS[j % len(SYMBOLS)], line=dict(color="#000", width=1))),
                      row=1, col=1)
    fig.update_yaxes(title_text="predicted loss, nats/token (lower is better)", autorange="reversed", row=1, col=1)
    layout = dict(LAYOUT)
    layout["height"] = 460
    fig.update_layout(title="Quality vs lifetime cost: the least-cost plan at each loss (symbols: the plan's options)",
                      legend=dict(orientation="h", y=-0.18), **layout)
    return fig


def cost_breakdown(result) -> go.Figure | None:
    return _breakdown(result, "_usd", "Cost breakdown", "x_usd")


def energy_breakdown(result) -> go.Figure | None:
    return _breakdown(result, "_j", "Energy breakdown (parts of the facility energy)", "x_j")


def latency_distribution(result) -> go.Figure | None:
    """Per-request latency percentiles (p0-p100 in 1-point steps, not the raw samples): one panel per
    latency (TTFT, TPOT, end-to-end ...), one line per variant; log time axis in ms."""
    from plotly.subplots import make_subplots

    series: dict[str, list[tuple[str, np.ndarray]]] = {}
    for v in result.variants:
        for part, pr in v.parts.items():
            for tname, table in pr.tables.items():
                for col, arr in table.items():
                    if col.endswith("_s") and any(w in col for w in LATENCY_WORDS):
                        a = np.asarray(arr, dtype=float)
                        a = a[np.isfinite(a) & (a > 0)]
                        if a.size:
                            series.setdefault(col, []).append((v.name, np.percentile(a, np.arange(101))))
    if not series:
        return None
    cols = list(series)
    fig = make_subplots(rows=len(cols), cols=1, subplot_titles=[label(c) for c in cols],
                        vertical_spacing=stacked_spacing(len(cols), 260 * len(cols) + 80, preferred=0.08))
    for row, col in enumerate(cols, start=1):
        for i, (name, q) in enumerate(series[col]):
            fig.add_trace(go.Scatter(x=np.arange(101), y=q * 1e3, mode="lines", name=name, legendgroup=name,
                                     showlegend=row == 1, line=dict(color=PALETTE[i % len(PALETTE)])), row=row, col=1)
        fig.update_yaxes(title_text="ms", type="log", row=row, col=1)
    fig.update_xaxes(title_text="percentile of requests", row=len(cols), col=1)
    layout = dict(LAYOUT)
    layout["height"] = 260 * len(cols) + 80
    fig.update_layout(title="Latency per request, by percentile", **layout)
    return fig


def ranges_chart(result, keys: list[tuple[str, str]], *, max_metrics: int = 6) -> go.Figure | None:
    """Replicate values of headline metrics (Monte Carlo): one panel per metric with its own unit on the
    axis, one box per variant."""
    from plotly.subplots import make_subplots

    panels: list[tuple[str, str, list[tuple[str, list[float]]]]] = []
    for part, key in keys:
        boxes = []
        for v in result.variants:
            pr = v.parts.get(part)
            if pr is None or len(pr.replicate_summaries) < 2:
                continue
            vals = [s.get(key) for s in pr.replicate_summaries]
            vals = [float(x) for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x)]
            if len(vals) >= 2 and max(vals) > min(vals):
                boxes.append((v.name, vals))
        if boxes:
            panels.append((part, key, boxes))
        if len(panels) >= max_metrics:
            break
    if not panels:
        return None
    ncol = 2 if len(panels) > 1 else 1
    nrow = (len(panels) + ncol - 1) // ncol
    fig = make_subplots(rows=nrow, cols=ncol, subplot_titles=[f"{part}: {label(key, part)}" for part, key, _ in panels],
                        vertical_spacing=stacked_spacing(nrow, 300 * nrow + 60, preferred=0.12), horizontal_spacing=0.12)
    for i, (part, key, boxes) in enumerate(panels):
        r, c = i // ncol + 1, i % ncol + 1
        ref = max(abs(float(np.median(vals))) for _, vals in boxes) or 1.0
        shown, unit = scale(key, ref)
        k = shown / ref
        for j, (name, vals) in enumerate(boxes):
            fig.add_trace(go.Box(y=[x * k for x in vals], name=name, boxpoints="all", marker_color=PALETTE[j % len(PALETTE)],
                                 showlegend=False), row=r, col=c)
        fig.update_yaxes(title_text=unit or label(key, part).lower(), row=r, col=c)
    for i in range(len(panels), nrow * ncol):  # an empty cell of the grid draws no axes
        fig.update_xaxes(visible=False, row=i // ncol + 1, col=i % ncol + 1)
        fig.update_yaxes(visible=False, row=i // ncol + 1, col=i % ncol + 1)
    layout = dict(LAYOUT)
    layout["height"] = 300 * nrow + 60
    fig.update_layout(title="Monte Carlo ranges across replicates (one panel per metric)", **layout)
    return fig


def tornado(rows: list[dict[str, Any]], metric: str, params: list[str], *, subset: str = "",
            paths: Mapping[str, str] | None = None) -> go.Figure | None:
    """For each swept parameter: the metric's mean at that parameter's lowest and highest value
    (averaged over everything else), as bars around the overall mean; widest on top. A parameter drawn at random
    (more than TORNADO_MAX_LEVELS distinct values, most of them once) has no rows that share a value: its bars are the
    means over the lowest and highest fifth of its draws (labelled "<= x" / ">= y"), where the other parameters
    average out, not the single rows at its extremes. `subset` names the rows' variant in the title (a sweep over
    variants gets one chart each: their means are not one population). `paths` maps a column to its scenario path, for
    labels in words and values in the field's unit."""
    ok = [r for r in rows if r.get("status") == "ok" and isinstance(r.get(metric), (int, float)) and not isinstance(r.get(metric), bool)]
    if not ok or not params:
        return None
    base = float(np.mean([r[metric] for r in ok]))
    bars = []
    drawn = False
    for p in params:
        bar = _level_bar(ok, metric, p)
        if bar is not None:
            bars.append(bar)
            drawn = drawn or bar[6]
    if not bars:
        return None
    bars.sort(key=lambda b: b[5])
    ref = base if base != 0 else 1.0
    shown, unit = scale(metric, ref)
    k = shown / ref
    fig = go.Figure()
    paths = paths or {}

    def shown_value(col: str, v: Any) -> str:
        if col in paths:
            return path_value(paths[col], v)
        return sig(v, 4) if isinstance(v, float) else str(v)

    names = [path_label(paths[b[0]]) if b[0] in paths else b[0].removeprefix("param_") for b in bars]
    fig.add_trace(go.Bar(y=names, x=[(b[3] - base) * k for b in bars], base=base * k, orientation="h",
                         name="lowest fifth of draws" if drawn else "lowest value",
                         text=[f"{'<=' if b[6] else '='} {shown_value(b[0], b[1])}" for b in bars], marker_color="#4c78a8"))
    fig.add_trace(go.Bar(y=names, x=[(b[4] - base) * k for b in bars], base=base * k, orientation="h",
                         name="highest fifth of draws" if drawn else "highest value",
                         text=[f"{'>=' if b[6] else '='} {shown_value(b[0], b[2])}" for b in bars], marker_color="#f58518"))
    fig.update_layout(title=f"Sensitivity of {label(metric)}" + (f": {subset}" if subset else ""), barmode="overlay", xaxis_title=f"{label(metric)} ({unit})" if unit else label(metric), **LAYOUT)
    return fig


#: a parameter with more distinct values than this, most of them held by one row, was drawn at random (--random / Latin
#: hypercube): the tornado bins it into fifths instead of reading its extreme rows
TORNADO_MAX_LEVELS = 12


def _level_bar(ok: list[dict[str, Any]], metric: str, p: str) -> tuple | None:
    """(param, low value, high value, metric mean at the low end, at the high end, spread, binned) for one parameter,
    or None when it takes one value. A grid's parameter: its lowest and highest value. A randomly drawn one: the
    lowest and highest fifth of its rows (the boundary values as low / high)."""
    groups: dict[Any, list[float]] = {}
    for r in ok:
        groups.setdefault(r.get(p), []).append(float(r[metric]))
    if len(groups) < 2:
        return None
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in groups)
    if numeric and len(groups) > TORNADO_MAX_LEVELS and len(groups) > len(ok) / 2:
        pairs = sorted((float(r[p]), float(r[metric])) for r in ok)
        n = max(1, len(pairs) // 5)
        low, high = pairs[:n], pairs[-n:]
        lo, hi = float(np.mean([m for _, m in low])), float(np.mean([m for _, m in high]))
        return p, low[-1][0], high[0][0], lo, hi, abs(hi - lo), True
    try:
        ordered = sorted(groups, key=lambda x: float(x))
    except (TypeError, ValueError):
        ordered = sorted(groups, key=str)
    lo_v, hi_v = ordered[0], ordered[-1]
    lo, hi = float(np.mean(groups[lo_v])), float(np.mean(groups[hi_v]))
    return p, lo_v, hi_v, lo, hi, abs(hi - lo), False
