"""Charts of a balancing authority's curtailment events (plotly; used by the app's Grid page and
reports). One unit per axis, labelled; colour-blind-safe colours (Okabe-Ito)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

BLUE, ORANGE, GREY = "#0072B2", "#D55E00", "#999999"


def events_over_year(hours, load_w, threshold_w, curtailment_w, *, title: str) -> go.Figure:
    """Daily maximum of the BA's load and its planning peak (GW, top) and the new load's
    curtailment each hour (MW, bottom) over one year: when the events fall and how deep they are."""
    t = np.asarray(hours).astype("datetime64[h]")
    load, thr, c = (np.asarray(x, float) for x in (load_w, threshold_w, curtailment_w))
    day = t.astype("datetime64[D]")
    days, inv = np.unique(day, return_inverse=True)
    dmax = np.full(days.size, -np.inf)
    np.maximum.at(dmax, inv, load)
    dthr = np.full(days.size, -np.inf)
    np.maximum.at(dthr, inv, thr)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.06)
    x = days.astype("datetime64[s]").astype(str)
    fig.add_trace(go.Scatter(x=x, y=dmax / 1e9, name="BA load, daily max (GW)", line=dict(color=BLUE, width=1.2)), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=dthr / 1e9, name="planning peak (GW)", line=dict(color=GREY, dash="dash")), row=1, col=1)
    on = c > 0
    fig.add_trace(go.Bar(x=t[on].astype("datetime64[s]").astype(str), y=c[on] / 1e6, name="curtailment of the new load (MW)",
                         marker_color=ORANGE), row=2, col=1)
    fig.update_yaxes(title_text="GW", row=1, col=1)
    fig.update_yaxes(title_text="MW curtailed", row=2, col=1)
    fig.update_xaxes(title_text="date (UTC)", row=2, col=1)
    fig.update_layout(title=title, height=520, legend=dict(orientation="h", y=-0.18), margin=dict(t=60, l=60, r=20, b=40), bargap=0)
    return fig


def headroom_curve(pcts, headroom_w, study_w=None, *, title: str, by: str = "energy") -> go.Figure:
    """Headroom (GW) against the curtailment limit (%: of the new load's annual energy, or of the year's hours with
    `by` 'hours'), with the study's values where published."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(pcts), y=np.asarray(headroom_w, float) / 1e9, mode="lines+markers", name="costsim (GW)",
                             line=dict(color=BLUE)))
    if study_w is not None and any(v is not None for v in study_w):
        xs = [p for p, v in zip(pcts, study_w) if v is not None]
        ys = [v / 1e9 for v in study_w if v is not None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="Norris et al. 2025, Fig. 1 (GW)", marker=dict(color=ORANGE, size=10, symbol="x")))
    basis = "the year's hours with curtailment" if by == "hours" else "the new load's annual energy"
    fig.update_layout(title=title, xaxis_title=f"curtailment limit (% of {basis})", yaxis_title="headroom (GW)",
                      height=360, margin=dict(t=60, l=60, r=20, b=40))
    return fig
