"""Self-contained HTML reports: plotly.js inlined once (opens offline), headline numbers first,
then charts, assumptions with sources, the full summary and the resolved scenario.
Every piece of user text goes through html.escape."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

import yaml

from costsim.numtext import sig
from costsim.report import charts, uncertainty
from costsim.report.assumptions import assumption_rows
from costsim.report.conclusion import conclusion, variant_deltas
from costsim.report.fmt import (field_unit_key, fmt_range, fmt_raw, fmt_value, headline_keys, headline_rows, label, path_label,
                                path_value, plural)
from costsim.specs.overrides import param_column

#: sensitivity charts a sweep report draws, one per variant, at most
MAX_TORNADO_VARIANTS = 6

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.92rem;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.range{color:#666;font-size:.85em;display:block;white-space:normal}
.bad{color:#b00020;font-weight:600} .ok{color:#1b7f3b}
pre{background:#f7f7f7;padding:1rem;overflow:auto;font-size:.85rem}
.chart{margin:1rem 0}
small{color:#666}
.answer{background:#f3f8fc;border-left:4px solid #0072B2;padding:.4rem 1rem;margin:1rem 0}
.answer h2{margin-top:.4rem}
@media print{
  body{margin:0;max-width:none;font-size:10.5pt}
  .modebar,.modebar-container{display:none!important}
  .chart,table,.answer,pre{break-inside:avoid}
  table.headline{break-inside:auto}
  h2{break-after:avoid}
  .pagebreak{break-before:page}
  pre{white-space:pre-wrap}
}
"""


def _print_css(footer: str) -> str:
    """Page setup for the PDF: margins, the run id and date bottom left, page numbers bottom right
    (CSS margin boxes, printed by Chromium). The paper size is the printer's (A4 or Letter)."""
    q = footer.replace("\\", "").replace('"', "'")
    return ("@page{margin:14mm 12mm 16mm 12mm;"
            f'@bottom-left{{content:"{q}";font-size:8pt;color:#666}}'
            '@bottom-right{content:"page " counter(page) " of " counter(pages);font-size:8pt;color:#666}}')


def e(x: Any) -> str:
    return html.escape(str(x), quote=True)


class _Charts:
    """Inline plotly.js with the first figure only."""

    def __init__(self) -> None:
        self.first = True
        self.n = 0

    def render(self, fig) -> str:
        if fig is None:
            return ""
        self.n += 1
        out = fig.to_html(full_html=False, include_plotlyjs=True if self.first else False, div_id=f"chart{self.n}",
                          config={"displaylogo": False, "responsive": True})
        self.first = False
        return f'<div class="chart">{out}</div>'


def _page(title: str, body: str, footer: str = "costsim") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}{_print_css(footer)}</style></head><body>\n{body}\n</body></html>\n")


def _headline_table(result) -> str:
    """Rows = metrics (part-prefixed), columns = variants; ranges under the value where present."""
    rows = headline_rows(result)
    head = "".join(f"<th>{e(v.name)}</th>" for v in result.variants)
    body = []
    for part, k in rows:
        cells = []
        for v in result.variants:
            if part == "site":
                val, rng = v.site.get(k), None
            else:
                pr = v.parts.get(part)
                val = pr.summary.get(k) if pr else None
                rng = pr.ranges.get(k) if pr else None
            cls = "num"
            if k == "feasible" and val is False:
                cls += " bad"
            txt = e(fmt_value(k, val))
            if rng:
                txt += f'<span class="range">{e(fmt_range(k, rng))}</span>'
            cells.append(f'<td class="{cls}">{txt}</td>')
        body.append(f"<tr><th>{e(part)}: {e(label(k, part))}</th>{''.join(cells)}</tr>")
    reasons = []
    for v in result.variants:
        for part, pr in v.parts.items():
            if pr.summary.get("feasible") is False:
                reasons.append(f"<li class='bad'>{e(v.name)} ({e(part)}): infeasible — {e(pr.summary.get('reason', 'no reason given'))}</li>")
    extra = f"<ul>{''.join(reasons)}</ul>" if reasons else ""
    # the headline table may break across pages (the executive summary starts on page 1 whatever its length)
    return f"<table class='headline'><tr><th>metric</th>{head}</tr>{''.join(body)}</table>{extra}"


def _conclusion(result) -> str:
    lines = conclusion(result)
    if not lines:
        return ""
    return '<div class="answer"><h2>Answer</h2>' + "".join(f"<p>{e(x)}</p>" for x in lines) + "</div>"


def _deltas(result) -> str:
    rows = variant_deltas(result)
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td{' class=num' if c != 'metric' else ''}>{e(r.get(c, ''))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<h2>Variants against {e(result.variants[0].name)}</h2><table><tr>{head}</tr>{body}</table>"


def _trust_ranges(result) -> str:
    """How far published values fell from our prediction in held-out validation cases like each part."""
    from costsim.api.run import part_error_band

    items = []
    for v in result.variants:
        for part in v.parts:
            summary = v.parts[part].summary
            for b in (part_error_band(part, v.scenario, summary=summary), part_error_band(part, v.scenario, "power", summary)):
                if b:
                    items.append(f"<li>{e(v.name)}, {e(part)}: published values lay {e(b['label'])}; applies to {e(b['applies_to'])}.</li>")
    return ("<p><b>Trust ranges</b> (from <code>costsim validate</code>)</p><ul>" + "".join(items) + "</ul>") if items else ""


def _summary_items(summary) -> list[tuple[str, Any, str]]:
    """(key, value, key whose unit the value reads in) of a summary: a record of scalars (cost_breakdown_usd,
    time_in_state_s, error_band) one row per field, 'record.field', in the field's unit or else the record's."""
    out = []
    for k, val in summary.items():
        if isinstance(val, dict):
            for sub, x in val.items():
                if not isinstance(x, (dict, list)):
                    out.append((f"{k}.{sub}", x, field_unit_key(k, sub)))
        elif not isinstance(val, list):
            out.append((k, val, k))
    return out


def _full_summary(result) -> str:
    out = []
    for v in result.variants:
        for part, pr in v.parts.items():
            rows = []
            for k, val, unit_key in _summary_items(pr.summary):
                rng = pr.ranges.get(k)
                cls = " class='num'" if isinstance(val, (int, float)) and not isinstance(val, bool) else ""
                rows.append(f"<tr><td>{e(k)}</td><td{cls}>{e(fmt_value(unit_key, val))}</td><td{cls}>{e(fmt_raw(unit_key, val))}</td>"
                            f"<td>{e(fmt_range(k, rng)) if rng else ''}</td></tr>")
            out.append(f"<h3>{e(v.name)} — {e(part)}</h3><table><tr><th>key (SI units)</th><th>value</th><th>raw</th><th>range</th></tr>{''.join(rows)}</table>")
    return "".join(out)


def _assumptions(result) -> str:
    rows = []
    seen: set[tuple[str, str, str]] = set()
    for v in result.variants:
        for r in assumption_rows(v.scenario, variant=v.name, summaries={p: pr.summary for p, pr in v.parts.items()}):
            key = (r["item"], r["value"], r["source"])
            if key in seen:
                continue
            seen.add(key)
            src = r["source"]
            link = f'<a href="{e(src)}">{e(src)}</a>' if src.startswith(("http://", "https://")) and " " not in src else e(src)
            path = f" <small><code>{e(r['path'])}</code></small>" if r.get("path") else ""  # the scenario field that sets it
            rows.append(f"<tr><td>{e(r['item'])}{path}</td><td>{e(r['value'])}</td><td>{link}</td><td>{e(r['kind'])}</td></tr>")
    return f"<table><tr><th>assumption</th><th>value</th><th>source</th><th>kind</th></tr>{''.join(rows)}</table>"


def run_report_html(result) -> str:
    s = result.scenario
    ch = _Charts()
    headline_for_ranges = []
    for v in result.variants:
        for part, pr in v.parts.items():
            for k in headline_keys(pr.summary)[:4]:
                if k in pr.ranges and (part, k) not in headline_for_ranges:
                    headline_for_ranges.append((part, k))
    figs = [
        charts.plan_options(result),
        charts.plan_frontier(result),
        charts.power_timeline(result),
        charts.cost_breakdown(result),
        charts.energy_breakdown(result),
        charts.latency_distribution(result),
        charts.ranges_chart(result, headline_for_ranges),
    ]
    chart_html = "".join(ch.render(f) for f in figs)
    reps = s.simulation.replicates
    body = [
        f"<h1>{e(s.name)}</h1>",
        f"<p class='sub'>{e(s.description)}</p>",
        f"<p><small>run id {e(result.scenario_hash)} · seed {e(result.seed)} · replicates {e(reps)} · "
        f"{e(plural(len(result.variants), 'variant'))} · simulated in {result.wall_s:.2f} s · generated {e(datetime.now(timezone.utc).isoformat(timespec='seconds'))}</small></p>",
        _conclusion(result),
        "<h2>Headline numbers</h2>",
        _headline_table(result),
        _trust_ranges(result),
        _deltas(result),
        '<h2 class="pagebreak">Charts</h2>' if chart_html else "",
        chart_html,
        uncertainty.section_html(result.extra.get("uncertainty"), ch.render),
        '<h2 class="pagebreak">Assumptions and sources</h2>',
        _assumptions(result),
        "<h2>All results</h2>",
        _full_summary(result),
        "<h2>Scenario (resolved, defaults filled)</h2>",
        f"<pre>{e(yaml.safe_dump(s.model_dump(mode='json'), sort_keys=False, allow_unicode=True))}</pre>",
    ]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return _page(f"costsim — {s.name}", "\n".join(body), footer=f"costsim · {s.name} · run {result.scenario_hash} · seed {result.seed} · {stamp}")


def swept_paths(manifest: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each swept column (param_training_num_gpus) -> (its scenario path, how its values were drawn)."""
    out: dict[str, tuple[str, str]] = {}
    for p, vals in manifest.get("grid") or []:
        out[param_column(p)] = (p, f"grid of {len(vals)}")
    for r in manifest.get("random") or []:
        out[param_column(r["path"])] = (r["path"], f"random{' (log scale)' if r.get('log') else ''}, "
                                                   f"{manifest.get('samples') or '?'} samples")
    for i in (manifest.get("uncertainty") or {}).get("inputs") or []:
        out.setdefault(i["column"], (i["path"], str((i.get("dist") or {}).get("dist") or "distribution")))
    return out


def sweep_answer(doc: dict[str, Any] | None, ok: list[dict[str, Any]], errs: list[dict[str, Any]]) -> str:
    """The sweep's answer, first: each variant's spread of its headline outputs and what drives it (the uncertainty
    section's sentence, one per variant), or what ran when there is no spread to give."""
    variants = list((doc or {}).get("variants") or {})
    lines = [uncertainty.conclusion(doc, v) for v in variants[:MAX_TORNADO_VARIANTS]] if doc else []
    lines = [x for x in lines if x]
    if len(variants) > MAX_TORNADO_VARIANTS and lines:
        lines.append(f"{len(variants) - MAX_TORNADO_VARIANTS} more variants in the tables below.")
    if not lines:
        ran = f"{plural(len(ok), 'point')} ran{f', {len(errs)} failed (listed below)' if errs else ''}"
        lines = [(f"{ran}; no headline output varies over the swept values." if variants else
                  f"{ran}; the sensitivity charts below show what each swept field moves.") if ok else
                 f"No point ran: {plural(len(errs), 'point')} failed (listed below)."]
    return "<div class='answer'>" + "".join(f"<p><b>{e(x)}</b></p>" for x in lines) + "</div>"


def sweep_trust_html(trust: Any) -> str:
    """The sweep's trust ranges (a costsim.api.sweep_trust.SweepTrust): one row per variant, part and regime; the
    device counts that share a range are one row (64-1,024 GPUs)."""
    if trust is None or not trust.ranges:
        return ""
    groups: dict[tuple, list] = {}
    for r in trust.ranges:
        key = (r.variant, r.part, r.hardware, r.model, r.engine or "", r.speed_band, r.power_band)
        g = groups.setdefault(key, [r.devices, r.devices, 0])
        g[0], g[1], g[2] = min(g[0], r.devices), max(g[1], r.devices), g[2] + r.points
    band = lambda b: e(b.label()) if b is not None else "no held-out cases in this regime"  # noqa: E731
    rows = []
    for (variant, part, hw, model, engine, sb, pb), (lo, hi, n) in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[1][0])):
        dev = f"{lo:,.0f}" if lo == hi else f"{lo:,.0f}-{hi:,.0f}"
        where = f"{dev} x {hw}" + (" per replica" if part == "serving" else "")
        rows.append(f"<tr><td>{e(variant)}</td><td>{e(part)}</td><td>{e(where)}</td><td>{e(model)}"
                    f"{' (' + e(engine) + ')' if engine and engine != 'default' else ''}</td><td class='num'>{n:,}</td>"
                    f"<td>{band(sb)}</td><td>{band(pb)}</td></tr>")
    more = (f"<p><small>{plural(trust.points_not_placed, 'point')} not placed in a regime (beyond the distinct placements "
            "looked up, or failed).</small></p>" if trust.points_not_placed else "")
    return ("<h2>Trust ranges</h2><p>Where published values fell against costsim's prediction in held-out validation cases "
            "of each point's regime (hardware, scale, model kind, engine): throughput (step time and days read inversely), "
            "and power and energy. They do not vary with the other swept fields.</p>"
            "<table><tr><th>Variant</th><th>Part</th><th>Accelerators</th><th>Model</th><th>Points</th>"
            "<th>Throughput trust range</th><th>Power and energy trust range</th></tr>" + "".join(rows) + "</table>" + more)


def sweep_report_html(manifest: dict[str, Any], rows: list[dict[str, Any]], metric: str | None,
                      uncertainty_doc: dict[str, Any] | None = None, trust: Any = None) -> str:
    keys = set().union(*(r.keys() for r in rows)) if rows else set()  # one pass in C, not rows x columns in Python
    params = sorted(k for k in keys if k.startswith("param_"))
    ok = [r for r in rows if r.get("status") == "ok"]
    errs = [r for r in rows if r.get("status") != "ok"]

    def _numeric(k: str) -> bool:  # a column's type is its first value's (a sweep's columns are typed)
        v = next((r[k] for r in ok if r.get(k) is not None), None)
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    numeric = sorted(k for k in keys if not k.startswith("param_") and k not in ("seed", "wall_s") and _numeric(k))
    headline = [k for k in numeric if not any(w in k for w in ("breakdown", "by_component", "alternatives", "detail"))]
    if metric is None:
        for pat in ("time_to_train", "total_cost_usd", "cost_usd", "energy_j", "tokens_per_s"):
            # the headline column, not a breakdown of it (serving_breakdown_cost_..._electricity_usd sorted first and
            # gave charts of $0 under rental): the shortest name that carries the pattern
            cand = sorted((k for k in headline if pat in k), key=lambda k: (len(k), k))
            if cand:
                metric = cand[0]
                break
        if metric is None and numeric:
            metric = numeric[0]
    ch = _Charts()
    unc_html = uncertainty.section_html(uncertainty_doc, ch.render, with_answer=False)  # rendered first: it sits above the tornado (plotly.js inlined once)
    extra = sorted((k for k in headline if k != metric and any(p in k for p in ("energy_j", "cost_usd", "peak_power_w"))),
                   key=lambda k: (len(k), k))[:2]
    col_paths = {c: p for c, (p, _) in swept_paths(manifest).items()}
    variants = sorted({str(r.get("variant")) for r in ok if r.get("variant") is not None})
    if len(variants) > 1:  # one chart per variant: an 8B and a 70B model averaged together fit neither
        shown_variants = variants[:MAX_TORNADO_VARIANTS]
        figs = [charts.tornado([r for r in rows if str(r.get("variant")) == v], m, params, subset=v, paths=col_paths)
                for m in ([metric] if metric else []) for v in shown_variants]
    else:
        figs = [charts.tornado(rows, m, params, paths=col_paths) for m in ([metric] if metric else []) + extra]
    chart_html = "".join(ch.render(f) for f in figs)
    name = manifest.get("scenario", "sweep")
    paths = swept_paths(manifest)
    head = ["Swept field", "Distinct values", "Lowest", "Highest", "How drawn"]
    prow = []
    for p in params:
        vals = [r.get(p) for r in rows if r.get(p) is not None]
        path = paths.get(p, (p.removeprefix("param_"), ""))
        try:
            lo, hi = min(vals), max(vals)
        except TypeError:
            lo, hi = "-", "-"
        lo, hi = (path_value(path[0], x) for x in (lo, hi))
        prow.append(f"<tr><td>{e(path_label(path[0]))} <small><code>{e(path[0])}</code></small></td>"
                    f"<td class='num'>{len(set(map(str, vals)))}</td><td class='num'>{e(lo)}</td><td class='num'>{e(hi)}</td>"
                    f"<td>{e(path[1])}</td></tr>")
    err_rows = "".join(f"<tr><td>{e(r.get('point_id'))}</td><td>{e(r.get('overrides_json'))}</td><td>{e(r.get('error'))}</td></tr>" for r in errs[:50])
    body = [
        f"<h1>Sweep: {e(name)}</h1>",
        sweep_answer(uncertainty_doc, ok, errs),
        f"<p><small>scenario hash {e(manifest.get('scenario_hash'))} · {plural(len(rows), 'point')}, {len(ok)} ok, {len(errs)} failed · "
        f"mode {e(manifest.get('mode'))} · executor {e(manifest.get('executor'))}"
        f"{' · ' + e(manifest['rows_shown_note']) if manifest.get('rows_shown_note') else ''}</small></p>",
        sweep_trust_html(trust),
        "<h2>Swept parameters</h2>",
        f"<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{''.join(prow)}</table>",
        unc_html,
        "<h2>Sensitivity: quick view (one at a time)</h2>" if chart_html else "",
        (f"<p>One chart per variant: the first {MAX_TORNADO_VARIANTS} of {len(variants)} shown (every point is in "
         "points.parquet).</p>" if len(variants) > MAX_TORNADO_VARIANTS else ""),
        chart_html,
        "<h2>Failed points</h2>" if errs else "",
        f"<table><tr><th>point</th><th>overrides</th><th>error</th></tr>{err_rows}</table>" if errs else "",
        "<p><small>Query the full table: <code>costsim query DIR \"SELECT * FROM points\"</code></small></p>",
    ]
    return _page(f"costsim sweep — {name}", "\n".join(body))
