"""The uncertainty section of run and sweep reports: P10 / P50 / P90 bands of the headline outputs
and their first-order / total Sobol' indices (the document of costsim.sweep.uncertainty, read from
uncertainty.json or `RunResult.extra["uncertainty"]`).

    conclusion(doc) -> str                      one plain sentence per headline output
    indices_chart(metric, study, variant) -> Figure | None
    section_html(doc, render) -> str            render: Figure -> HTML (the report's chart renderer)
    load_doc(directory) -> dict | None          a sweep directory's uncertainty.json
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping

import plotly.graph_objects as go

from costsim.report.fmt import fmt_value, label, path_label, path_value, span_text

LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), height=340)
MAX_CHARTS = 4
S1_COLOR, ST_COLOR = "#4c78a8", "#f58518"  # colour-blind-safe pair (Tableau 10 blue / orange)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _split(metric: str) -> tuple[str | None, str]:
    for part in ("training", "serving", "site"):
        if metric.startswith(part + "_"):
            return part, metric[len(part) + 1:]
    return None, metric


def metric_label(metric: str) -> str:
    part, key = _split(metric)
    return f"{part}: {label(key, part)}" if part else label(key)


def _val(metric: str, v: Any) -> str:
    return fmt_value(_split(metric)[1], v)


def load_doc(directory: str | Path) -> dict[str, Any] | None:
    p = Path(directory) / "uncertainty.json"
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _top_driver(study: Mapping[str, Any]) -> tuple[str, float] | None:
    idx = study.get("indices")
    if not idx:
        return None
    tot = {k: v for k, v in (idx.get("total_order") or {}).items() if v is not None and math.isfinite(v)}
    if not tot:
        return None
    k = max(tot, key=tot.get)
    return k, tot[k]


def driver_text(top: tuple[str, float] | None) -> str:
    """The main driver in words with its total index: 'Economics: utilization (0.55)' (the answer, the tables and the
    CLI named it by its scenario path, economics.utilization_frac); '-' for none."""
    return f"{path_label(top[0])} ({top[1]:.2f})" if top else "-"


def conclusion(doc: Mapping[str, Any], variant: str | None = None, max_metrics: int = 3) -> str:
    """'training: Cost: P10–P90 $1.2M – $1.9M (median $1.5M), driven mostly by Economics: electricity $ per kWh (total
    index 0.71)' for the first headline outputs."""
    variants = doc.get("variants") or {}
    if not variants:
        return ""
    v = variant if variant in variants else next(iter(variants))
    parts = []
    for m, st in list((variants[v].get("metrics") or {}).items())[:max_metrics]:
        b = st.get("band") or {}
        if not b.get("n") or b.get("min") == b.get("max"):
            continue
        lo, hi, mid = _val(m, b.get("p10")), _val(m, b.get("p90")), _val(m, b.get("p50"))
        if lo == hi == mid:  # float noise (14999999999999.998 against 15e12): it does not vary to the digits shown
            continue
        txt = f"{metric_label(m)}: P10–P90 {span_text(lo, hi)} (median {mid})"
        top = _top_driver(st)
        if top is not None and top[1] > 0.05:
            txt += f", driven mostly by {path_label(top[0])} (total index {top[1]:.2f})"
        parts.append(txt)
    if not parts:
        return ""
    what = "over the uncertain inputs" if doc.get("design") != "grid" else "over the swept grid"
    head = f"{'Variant ' + v + ', ' if len(variants) > 1 else ''}{what}: "
    return head + "; ".join(parts) + "."


def indices_chart(metric: str, study: Mapping[str, Any], variant: str = "") -> go.Figure | None:
    """First-order and total Sobol' indices of one output, one pair of bars per input (95% bootstrap
    intervals as error bars where known), largest total on top."""
    idx = study.get("indices") if study else None
    if not idx or not idx.get("total_order"):
        return None
    names = sorted(idx["total_order"], key=lambda k: idx["total_order"][k] or 0.0)
    s1 = [idx["first_order"].get(k) for k in names]
    st = [idx["total_order"].get(k) for k in names]
    fig = go.Figure()
    for vals, nm, color, ci_key in ((s1, "first-order S1 (alone)", S1_COLOR, "first_order_ci"), (st, "total ST (with interactions)", ST_COLOR, "total_order_ci")):
        ci = idx.get(ci_key)
        err = None
        if ci:
            err = dict(type="data", symmetric=False, array=[max(ci[k][1] - v, 0.0) if v is not None else 0 for k, v in zip(names, vals)],
                       arrayminus=[max(v - ci[k][0], 0.0) if v is not None else 0 for k, v in zip(names, vals)])
        fig.add_trace(go.Bar(y=names, x=vals, name=nm, orientation="h", marker_color=color, error_x=err))
    title = f"What drives {metric_label(metric)}" + (f" — {variant}" if variant else "")
    top = [v for v in s1 + st if v is not None]
    for ci_key in ("first_order_ci", "total_order_ci"):
        top += [hi for _, hi in (idx.get(ci_key) or {}).values()]
    hi = max([1.05] + [v * 1.05 for v in top if math.isfinite(v)])
    lo = min([0.0] + [v * 1.05 for v in top if math.isfinite(v)])  # estimates can fall a little below 0 or above 1
    basis = "exact for the grid" if idx.get("method") == "grid_anova" else "estimates, 95% intervals"
    fig.update_layout(title=title, barmode="group", xaxis_title=f"share of output variance (Sobol' index; {basis})",
                      xaxis_range=[lo, hi], legend=dict(orientation="h", y=-0.25), **LAYOUT)
    return fig


def _band_table(metrics: Mapping[str, Any]) -> str:
    rows = []
    for m, st in metrics.items():
        b = st.get("band") or {}
        if not b.get("n"):
            continue
        top = _top_driver(st)
        drv = _e(driver_text(top))
        rows.append(f"<tr><th>{_e(metric_label(m))}</th><td class='num'>{_e(_val(m, b.get('p10')))}</td>"
                    f"<td class='num'>{_e(_val(m, b.get('p50')))}</td><td class='num'>{_e(_val(m, b.get('p90')))}</td>"
                    f"<td class='num'>{b.get('n')}</td><td>{drv}</td></tr>")
    if not rows:
        return ""
    return ("<table><tr><th>Output</th><th>P10</th><th>P50</th><th>P90</th><th>Points</th><th>Main driver (total index)</th></tr>"
            + "".join(rows) + "</table>")


def _inputs_table(doc: Mapping[str, Any]) -> str:
    rows = []
    for i in doc.get("inputs") or []:
        d = dict(i.get("dist") or {})
        kind = d.pop("dist", "")
        if kind == "grid":
            vals = d.get("values") or []
            params = f"{len(vals)} values: " + ", ".join(path_value(str(i.get("path") or ""), x) for x in vals[:8]) + \
                (" ..." if len(vals) > 8 else "")
        elif isinstance(d.get("values"), list):
            vals = d["values"]
            params = f"{len(vals)} values: " + ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in vals[:8]) + (" ..." if len(vals) > 8 else "")
            if d.get("weights"):
                params += " (weighted)"
        else:
            params = ", ".join(f"{k} {v if k == 'samples' else path_value(str(i.get('path') or ''), v)}"
                               for k, v in d.items() if v is not None)
        path = str(i.get("path") or "")
        rows.append(f"<tr><td>{_e(path_label(path))} <small><code>{_e(path)}</code></small></td><td>{_e(kind)}</td>"
                    f"<td>{_e(params)}</td></tr>")
    return "<table><tr><th>Input</th><th>Distribution</th><th>Parameters</th></tr>" + "".join(rows) + "</table>" if rows else ""


def _grid_how(doc: Mapping[str, Any]) -> str:
    """How a grid sweep's points were made: the full-factorial grid alone, or crossed with random
    samples and / or seeds (then the grid is not the only source of the spread)."""
    parts = []
    if doc.get("random_inputs") and doc.get("samples"):
        parts.append(f"{doc['samples']:,} random samples of {doc['random_inputs']} input{'s' if doc['random_inputs'] != 1 else ''}")
    if (doc.get("seeds") or 1) > 1:
        parts.append(f"{doc['seeds']:,} seeds")
    if not parts:
        return f"full-factorial grid of {doc.get('points')} points (each value equally likely)"
    return f"full-factorial grid crossed with {' and '.join(parts)}: {doc.get('points')} points"


def section_html(doc: Mapping[str, Any] | None, render: Callable[[Any], str], *, with_answer: bool = True) -> str:
    """The report section (empty string without a document); `with_answer=False` where the page already opens with
    the conclusion (the sweep report)."""
    if not doc or not doc.get("variants"):
        return ""
    design = doc.get("design")
    how = {"saltelli": f"{doc.get('sampler')} sampling, Saltelli design: {doc.get('samples')} samples x (inputs + 2) = {doc.get('points')} evaluations",
           "plain": f"{doc.get('sampler')} sampling, {doc.get('samples')} samples (no sensitivity design)",
           "grid": _grid_how(doc)}.get(design, str(design))
    out = ["<h2>Uncertainty and what drives it</h2>", f"<p><b>{_e(conclusion(doc))}</b></p>" if with_answer else "",
           f"<p><small>{_e(how)}; {_e(doc.get('mode') or '')} mode. Sobol' indices: first-order S1 = share of the variance an input "
           "explains alone; total ST = its share with all interactions (Saltelli et al. 2010 estimators, scipy.stats.sobol_indices).</small></p>",
           _inputs_table(doc)]
    charts = 0
    for v, vd in (doc.get("variants") or {}).items():
        metrics = vd.get("metrics") or {}
        if len(doc["variants"]) > 1:
            out.append(f"<h3>{_e(v)}</h3>")
        out.append(_band_table(metrics))
        notes = sorted({n for st in metrics.values() for n in (st.get("notes") or [])})
        if notes:
            out.append("<p><small>" + "; ".join(_e(n) for n in notes) + "</small></p>")
        for m, st in metrics.items():
            if charts >= MAX_CHARTS:
                break
            fig = indices_chart(m, st, v if len(doc["variants"]) > 1 else "")
            if fig is not None:
                out.append(render(fig))
                charts += 1
    return "\n".join(x for x in out if x)
