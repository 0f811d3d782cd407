"""report.html of a `costsim optimize` study: the answer first, the Pareto set, and a chart of every trial with
the front (two objectives), from the study directory's pareto.json and trials.csv."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from costsim.numtext import count, sig
from costsim.report.charts import LAYOUT, PALETTE
from costsim.report.html import _Charts, _page, e


OBJECTIVE_LABELS = {"usd": "Total cost, $", "days": "Training time, days", "mwh": "Energy at the meter, MWh",
                    "co2e": "Emissions, kg CO2e", "peak_mw": "Peak power, MW"}


def objective_label(name: str) -> str:
    """'usd' -> 'Total cost, $'; a row column ('ttft_p99_s') -> its human label with the unit."""
    if name in OBJECTIVE_LABELS:
        return OBJECTIVE_LABELS[name]
    from costsim.report.fmt import human

    unit = next((u for suf, u in (("_usd", "$"), ("_s", "s"), ("_w", "W"), ("_j", "J"), ("_kg", "kg"), ("_frac", "fraction"))
                 if name.endswith(suf)), "")
    return human(name) + (f", {unit}" if unit else "")


def objective_number(v: float) -> str:
    """An objective's value in its label's unit without an exponent: 1.039M, 42.3, 0.0349."""
    return count(v, 4) if abs(float(v)) >= 1e6 else sig(v, 4)


def ends_text(pareto: list[dict[str, Any]], objectives: list[str]) -> str:
    """Which trial of the front is best on each objective: 'the least total cost is trial 0 (1.039M $); the least
    training time is trial 1 (38.2 days).'"""
    parts = []
    for o in objectives:
        best = min(pareto, key=lambda p: p["objectives"][o])
        name, _, unit = objective_label(o).partition(", ")
        num = objective_number(best['objectives'][o])
        shown = f"${num}" if unit == "$" else f"{num}{' ' + unit if unit else ''}"  # $1,328, not 1,328 $
        parts.append(f"the least {name.lower()} is trial {best['trial']} ({shown})")
    return "; ".join(parts) + "."


def front_chart(trials: list[dict[str, Any]], pareto: list[dict[str, Any]], objectives: list[str]) -> go.Figure | None:
    """Every completed trial and the Pareto front of the first two objectives (one unit per axis)."""
    if len(objectives) < 2:
        return None
    a, b = objectives[:2]
    xs = [(float(t[a]), float(t[b])) for t in trials if t.get("state") == "COMPLETE" and t.get(a) not in ("", None) and t.get(b) not in ("", None)]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[x for x, _ in xs], y=[y for _, y in xs], mode="markers", name="trials",
                             marker=dict(color=PALETTE[5], size=7, opacity=0.6)))
    front = sorted((p["objectives"][a], p["objectives"][b]) for p in pareto)
    fig.add_trace(go.Scatter(x=[x for x, _ in front], y=[y for _, y in front], mode="lines+markers", name="Pareto front",
                             line=dict(color=PALETTE[3], shape="hv"), marker=dict(size=9)))
    la, lb = objective_label(a), objective_label(b)
    fig.update_layout(title=f"Trials and the Pareto front: {la.split(',')[0].lower()} vs {lb.split(',')[0].lower()}",
                      xaxis_title=la, yaxis_title=lb, **LAYOUT)
    return fig


def trust_lines(pareto: list[dict]) -> list[str]:
    """The Pareto designs' trust ranges (each design's `error_bands`, from the search: the held-out validation error of
    its regime) as the other pages say theirs (band_sentence); designs in different regimes (another scale, another
    accelerator) each name their trials."""
    from costsim.api.trust import band_sentence

    groups: dict[str, list[int]] = {}
    for key in ("error_band", "power_error_band"):  # the speed ranges first, then power and energy
        for p in pareto:
            for bands in (p.get("error_bands") or {}).values():
                if text := band_sentence(bands.get(key)):
                    groups.setdefault(text, []).append(p["trial"])

    def whose(trials: list[int]) -> str:
        return f"Trust range ({'trial' if len(trials) == 1 else 'trials'} {', '.join(str(t) for t in trials)}):"

    return [text if len(trials) == len(pareto) else text.replace("Trust range:", whose(trials), 1)
            for text, trials in groups.items()]


def write_optimize_report(directory: str | os.PathLike[str]) -> Path:
    d = Path(directory)
    doc = json.loads((d / "pareto.json").read_text(encoding="utf-8"))
    with (d / "trials.csv").open(encoding="utf-8") as fh:
        trials = list(csv.DictReader(fh))
    pareto = doc.get("pareto") or []
    objectives = list(pareto[0]["objectives"]) if pareto else []
    params = list(pareto[0]["params"]) if pareto else []
    ch = _Charts()
    answer = (f"{len(pareto)} trade-offs are on the Pareto front of {doc['trials_complete']} completed trials "
              f"({doc['trials_failed']} failed); " + (ends_text(pareto, objectives) if pareto else "no feasible trial."))
    head = "".join(f"<th>{e(c)}</th>" for c in ["trial", *params, *[objective_label(o) for o in objectives]])
    rows = "".join("<tr>" + "".join(f"<td>{e(x)}</td>" for x in [p["trial"], *[p["params"][k] for k in params],
                                                               *[objective_number(p['objectives'][k]) for k in objectives]]) + "</tr>"
                   for p in pareto)
    body = [f"<h1>Design search {e(doc['study'])}</h1>", f'<div class="answer"><h2>Answer</h2><p>{e(answer)}</p></div>',
            "<h2>Pareto set</h2>", f"<table><tr>{head}</tr>{rows}</table>",
            "".join(f"<p><small>{e(x)}</small></p>" for x in trust_lines(pareto)),
            ch.render(front_chart(trials, pareto, objectives)),
            "<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in doc.get("notes") or []) + "</ul>",
            f"<p><small>storage {e(doc['storage'])}; every trial is in trials.csv</small></p>"]
    out = d / "report.html"
    tmp = d / f".report.html.tmp-{os.getpid()}"
    tmp.write_text(_page(f"costsim optimize — {doc['study']}", "\n".join(body)), encoding="utf-8")
    os.replace(tmp, out)
    return out
