"""Plotly figures for the pages. Inputs are plain API results (SI units); axes show scaled units."""

from __future__ import annotations

from typing import Any, Iterable

import plotly.graph_objects as go

LAYOUT = dict(margin=dict(l=10, r=10, t=60, b=10), height=380, template="plotly_white",
              legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1))


def records(data: Any) -> list[dict[str, Any]]:
    """list of dicts | dict of equal-length lists -> list of dicts."""
    if data is None:
        return []
    if isinstance(data, dict):
        cols = {k: v for k, v in data.items() if isinstance(v, list)}
        n = max((len(v) for v in cols.values()), default=0)
        return [{k: v[i] for k, v in cols.items() if i < len(v)} for i in range(n)]
    return [r for r in data if isinstance(r, dict)]


def _first(row: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if row.get(k) is not None:
            return row[k]
    return None


def throughput_latency(curve: Any, *, tpot_slo_s: float | None = None, chosen_batch: Any = None,
                       title: str = "Throughput vs latency (one replica)") -> go.Figure:
    """Output tokens/s of the replica (x) against time per output token (y, ms), one point per batch."""
    rows = [r for r in records(curve)
            if _first(r, "throughput_tokens_per_s", "decode_tokens_per_s") is not None
            and _first(r, "tpot_s", "decode_step_time_s") is not None]
    x = [_first(r, "throughput_tokens_per_s", "decode_tokens_per_s") for r in rows]
    y = [1e3 * _first(r, "tpot_s", "decode_step_time_s") for r in rows]
    b = [_first(r, "batch", "batch_size") for r in rows]
    ttft = [_first(r, "ttft_s") for r in rows]
    text = [f"batch {bb}" + (f"<br>TTFT {1e3 * t:,.0f} ms" if t is not None else "") for bb, t in zip(b, ttft)]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name="batch sizes", text=text,
                               hovertemplate="%{x:,.0f} tokens/s<br>%{y:,.1f} ms/token<br>%{text}<extra></extra>"))
    if chosen_batch is not None:
        pts = [(xx, yy) for xx, yy, bb in zip(x, y, b) if bb == chosen_batch]
        if pts:
            fig.add_trace(go.Scatter(x=[pts[0][0]], y=[pts[0][1]], mode="markers", name=f"chosen batch {chosen_batch}",
                                     marker=dict(size=14, symbol="star", color="crimson")))
    if tpot_slo_s:
        fig.add_hline(y=1e3 * tpot_slo_s, line_dash="dash", line_color="gray", annotation_text="TPOT limit")
    fig.update_layout(title=title, xaxis_title="output tokens/s per replica", yaxis_title="time per output token, ms", **LAYOUT)
    return fig


def timeline(t_s: Iterable[float], series: dict[str, Iterable[float]], *, cap_w: float | None = None,
             title: str = "Facility power", unit_div: float = 1e6, unit: str = "MW") -> go.Figure:
    """Power lines over time (hours on x); an optional horizontal grid cap."""
    t_h = [float(t) / 3600 for t in t_s]
    fig = go.Figure()
    for name, ys in series.items():
        fig.add_trace(go.Scatter(x=t_h, y=[float(v) / unit_div for v in ys], mode="lines", name=name))
    if cap_w:
        fig.add_hline(y=cap_w / unit_div, line_dash="dash", line_color="crimson", annotation_text="grid cap")
    fig.update_layout(title=title, xaxis_title="hours", yaxis_title=unit, **LAYOUT)
    return fig


def hourly(hours: list[Any], values: list[float], *, title: str, y_title: str, color: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=hours, y=values, marker_color=color))
    fig.update_layout(title=title, xaxis_title="hour", yaxis_title=y_title, **LAYOUT)
    return fig


def bars(labels: list[str], values: list[float | None], *, title: str, y_title: str, log: bool = False) -> go.Figure:
    """One bar per option; log=True for quantities that span orders of magnitude (phones vs GPUs)."""
    from costsim.ui.fmt import big

    fig = go.Figure(go.Bar(x=labels, y=values, text=[("n/a" if v is None else big(v)) for v in values],
                           textposition="outside", cliponaxis=False))
    fig.update_layout(title=title, yaxis_title=y_title + (" (log scale)" if log else ""), **{**LAYOUT, "height": 360})
    if log:
        fig.update_yaxes(type="log")
    return fig


def validation_errors(rows: list[dict[str, Any]]) -> go.Figure:
    """Signed error per case beside its tolerance band; red = outside and not a known gap."""
    rows = [r for r in rows if r.get("error_frac") is not None]
    ids = [r["id"] for r in rows]
    tol = [100 * r["tolerance_frac"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=ids, y=tol, base=[-t for t in tol], marker_color="rgba(120,120,120,0.18)",
                         name="± tolerance", hoverinfo="skip", width=0.8))
    # one trace per status, so the legend says what each colour is
    for name, color, keep in (("within tolerance", "seagreen", lambda r: r["passed"] and not r.get("known_gap")),
                              ("known gap (cause recorded)", "orange", lambda r: bool(r.get("known_gap"))),
                              ("failed", "crimson", lambda r: not r["passed"] and not r.get("known_gap"))):
        sel = [r for r in rows if keep(r)]
        if sel:
            fig.add_trace(go.Scatter(x=[r["id"] for r in sel], y=[100 * r["error_frac"] for r in sel], mode="markers",
                                     marker=dict(color=color, size=8 if len(rows) > 200 else 10), name=name))
    fig.update_layout(title="Prediction error by case", yaxis_title="error, %", **{**LAYOUT, "height": 420})
    fig.update_xaxes(categoryorder="array", categoryarray=ids, tickangle=45,
                     showticklabels=len(rows) <= MAX_CASE_LABELS, title="case" if len(rows) <= MAX_CASE_LABELS else
                     f"{len(rows):,} cases (hover a point for its id; filter by kind to read the ids)")
    return fig


#: the most case ids the validation chart writes under its axis (more overlap into an unreadable band)
MAX_CASE_LABELS = 80


#: readers' names for the memory parts of a training or serving result (the *_bytes keys stay for JSON)
MEMORY_PART_LABELS = {"weights_bytes": "weights", "gradients_bytes": "gradients", "optimizer_bytes": "optimizer state",
                      "activations_bytes": "activations", "logits_bytes": "logits", "zero3_gathered_bytes": "gathered ZeRO-3 weights",
                      "reserve_bytes": "runtime reserve", "kv_cache_bytes": "KV cache"}


def memory_breakdown(parts_bytes: dict[str, float], *, capacity_bytes: float | None = None) -> go.Figure:
    """Stacked horizontal bar of per-GPU memory by component (GB); the device capacity as a line."""
    fig = go.Figure()
    for k, v in parts_bytes.items():
        if k.startswith("total") or v is None:
            continue
        name = MEMORY_PART_LABELS.get(k, k.removesuffix("_bytes").replace("_", " "))
        fig.add_trace(go.Bar(y=["per GPU"], x=[float(v) / 1e9], name=name, orientation="h",
                             hovertemplate=f"{name}: %{{x:.1f}} GB<extra></extra>"))
    if capacity_bytes:
        fig.add_vline(x=capacity_bytes / 1e9, line_dash="dash", line_color="crimson", annotation_text="device memory")
    fig.update_layout(barmode="stack", title=dict(text="Memory per GPU", y=0.97), xaxis_title="GB",
                      **{**LAYOUT, "height": 240, "margin": dict(l=10, r=10, t=70, b=10)})
    return fig


def sweep_lines(rows: list[dict[str, Any]], param: str, metric: str) -> go.Figure:
    """A sweep's result column against one swept parameter, one line per variant."""
    fig = go.Figure()
    for variant in dict.fromkeys(r.get("variant") for r in rows):
        pts = sorted(((r[param], r.get(metric)) for r in rows if r.get("variant") == variant and r.get(metric) is not None),
                     key=lambda t: (str(type(t[0])), t[0]))
        fig.add_trace(go.Scatter(x=[str(p[0]) for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=str(variant)))
    fig.update_layout(title=f"{metric} vs {param.removeprefix('param_')}", xaxis_title=param.removeprefix("param_"),
                      yaxis_title=metric, **LAYOUT)
    return fig


def levels(values_w: dict[str, float | None], *, cap_w: float | None, title: str) -> go.Figure:
    """Horizontal bars of power levels (MW) with the grid cap as a dashed line."""
    names = [k for k, v in values_w.items() if v is not None]
    mw = [values_w[k] / 1e6 for k in names]  # type: ignore[operator]
    colors = ["crimson" if cap_w and v * 1e6 > cap_w else "#4c78a8" for v in mw]
    fig = go.Figure(go.Bar(y=names, x=mw, orientation="h", marker_color=colors, text=[f"{v:,.1f} MW" for v in mw],
                           textposition="auto"))
    if cap_w:
        fig.add_vline(x=cap_w / 1e6, line_dash="dash", line_color="crimson", annotation_text=f"grid cap {cap_w / 1e6:,.0f} MW")
    fig.update_layout(title=title, xaxis_title="MW", **{**LAYOUT, "height": 300})
    fig.update_yaxes(autorange="reversed")
    return fig


def site_timeline(tl: dict[str, Any], *, title: str = "Simulated day at the meter") -> go.Figure:
    """Facility power band (1-min min..max) and mean, grid import, the grid cap, and the battery's
    state of charge on a second axis."""
    t_h = [float(t) / 3600 for t in tl["t_s"]]
    mw = lambda xs: [float(v) / 1e6 for v in xs]  # noqa: E731
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t_h, y=mw(tl["facility_power_max_w"]), mode="lines", line={"width": 0}, name="facility max",
                             showlegend=False))
    fig.add_trace(go.Scatter(x=t_h, y=mw(tl["facility_power_min_w"]), mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor="rgba(31,119,180,0.25)", name="facility min..max (1 min)"))
    fig.add_trace(go.Scatter(x=t_h, y=mw(tl["facility_power_mean_w"]), mode="lines", name="facility mean", line={"color": "#1f77b4"}))
    fig.add_trace(go.Scatter(x=t_h, y=mw(tl["grid_import_max_w"]), mode="lines", name="grid import max", line={"color": "#ff7f0e"}))
    fig.add_trace(go.Scatter(x=t_h, y=mw(tl["grid_import_mean_w"]), mode="lines", name="grid import mean",
                             line={"color": "#ff7f0e", "dash": "dot"}))
    cap = tl.get("summary", {}).get("grid_cap_w")
    if cap:
        fig.add_hline(y=cap / 1e6, line_dash="dash", line_color="crimson", annotation_text="grid cap")
    soc = [v for v in tl.get("battery_soc_frac", []) if v == v]
    if soc:
        fig.add_trace(go.Scatter(x=t_h, y=[100 * float(v) for v in tl["battery_soc_frac"]], mode="lines", name="battery SoC, %",
                                 yaxis="y2", line={"color": "#2ca02c"}))
        fig.update_layout(yaxis2={"title": "state of charge, %", "overlaying": "y", "side": "right", "range": [0, 100]})
    fig.update_layout(title=title, xaxis_title="hours", yaxis_title="MW", **LAYOUT)
    return fig
