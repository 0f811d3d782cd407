"""`costsim plan`: the model size and token count that reach a quality target (or spend a compute budget)
and serve a lifetime demand at the least $, MWh, tCO2e or peak MW (costsim.api.plan)."""

from __future__ import annotations

import math

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from costsim.api.plan_text import days_text, tokens_per_param_text, usd_m
from costsim.cli.common import finish, fmt_si, fmt_sig, parse_count, parse_float
from costsim.numtext import count
from costsim.specs.overrides import split_items


def _usd_m(x) -> str:
    """USD for a table cell in the answer's units ($1.31M, $53.4k, $0.49): '-' when absent, 'no price' where the hardware
    has none (NaN). It wrote $0.0534M beside an answer of $53.4k."""
    return "-" if x is None else usd_m(x)

def _score_text(c: dict) -> str:
    sc = c.get("score") or {}
    if not sc:
        return "-"
    txt = f"{sc['p50']:.0f} ({sc['p10']:.0f}-{sc['p90']:.0f})"
    pub = sc.get("published") or {}
    if pub.get("base") is not None or pub.get("instruct") is not None:
        txt += f"; published {pub.get('base', '-')}/{pub.get('instruct', '-')}"
    return txt


def _row(c: dict | None) -> list[str]:
    if not c:
        return ["-"] * 10
    tot, tr, sv = c.get("total") or {}, c.get("training") or {}, c.get("serving") or {}

    return [f"{fmt_sig(c['params'] / 1e9)}B", f"{fmt_sig(c['training_tokens'] / 1e12)}T", tokens_per_param_text(c['tokens_per_param']), f"{c['loss']:.4f}",
            fmt_si(c['total_flop'], 'FLOP'), _usd_m(tr.get("usd")), _usd_m(sv.get("usd")), _usd_m(tot.get("usd")),
            fmt_si(tot.get("facility_energy_j") / 3.6e9 * 1e6 if tot.get("facility_energy_j") is not None else None, "Wh"),
            _score_text(c)]


def _frontier_table(con: Console, rows: list[dict], shown: int = 9) -> None:
    """Quality vs lifetime $ / MWh / tCO2e: the least-cost plan at losses around the answer (every other row
    of the computed frontier when it is long; the JSON has all of them)."""
    rows = [row for row in rows if row.get("loss") is not None]
    if not rows:
        return
    step = max(1, -(-len(rows) // shown))
    ft = Table(title="frontier: the least-cost plan at each loss around the answer (lower loss = better model)")
    priced = any(row.get("total_usd") is not None for row in rows)
    cols = ("loss", "params", "tokens", "total FLOP") + (("total", "total energy", "total CO2e", "peak power") if priced else ())
    for col in cols:
        ft.add_column(col)
    for row in rows[(len(rows) // 2) % step::step]:  # keeps the middle row (the answer's loss)
        cells = [f"{row['loss']:.4f}", f"{fmt_sig(row['params'] / 1e9)}B", f"{fmt_sig(row['training_tokens'] / 1e12)}T", fmt_si(row['total_flop'], 'FLOP')]
        if priced:
            usd, j, kg, w = (row.get(k) for k in ("total_usd", "total_facility_energy_j", "total_co2e_kg", "peak_power_w"))
            cells += [_usd_m(usd), fmt_si(None if j is None else j / 3.6e3, "Wh"),
                      "-" if kg is None else f"{fmt_sig(kg / 1e3)} t", fmt_si(w, "W")]
        ft.add_row(*cells)
    con.print(ft)


def _render(r: dict, *, answer: bool = True) -> None:
    con = Console(width=max(Console().width, 150))
    if answer and r.get("answer"):
        con.print(r["answer"])
    t = Table(title=f"plan ({r['mode']} mode, fit {r['fit']}, least {r['objective'] if r['mode'] == 'cost' else 'FLOP'}; "
                    f"lifetime {count(r['lifetime_tokens'])} tokens)")
    for col in ("choice", "params", "tokens", "tokens/param", "loss", "total FLOP", "training", "serving", "total", "total energy",
                "MMLU % predicted (p10-p90); published base/instruct"):
        t.add_column(col)
    if r.get("params") is not None:
        t.add_row("chosen", *_row(r))
    if r.get("compute_optimal"):
        t.add_row("compute-optimal, same loss", *_row(r["compute_optimal"]))
    if r.get("same_loss_best"):
        t.add_row(r["same_loss_best"]["label"], *_row(r["same_loss_best"]))
    for c in r.get("compare") or []:
        t.add_row(c["label"], *_row(c))
    if t.row_count:  # an infeasible plan: the answer said why; no empty table under it
        con.print(t)
    bf = Table(title="the same question under every published fit (the spread is the uncertainty of the law)")
    for col in ("fit", "params", "tokens", "tokens/param", "loss", "total FLOP", "training", "serving", "total", "total energy", "MMLU %"):
        bf.add_column(col)
    for fid, c in (r.get("by_fit") or {}).items():
        bf.add_row(fid, *_row(c))
    con.print(bf)
    for fid, why in (r.get("by_fit_reasons") or {}).items():
        if fid != r.get("fit"):  # the chosen fit's reason is the answer above
            con.print(f"{fid}: {why}")
    _frontier_table(con, r.get("frontier") or [])
    st = r.get("score_target")
    if st:
        con.print(f"Score target {st['benchmark']} {st['target_pct']:g}% for a {st['family']}-quality model = loss {st['target_loss']:.4f} "
                  f"under {r['fit']} (map fitted on {st['map']['cases']} published base scores; the family's data-quality term is "
                  f"{st['family_delta_loss']:+.3f} nats against {st['map']['reference_family']}: better data reaches a score at a "
                  "higher law-predicted loss).")
    con.print("Predicted scores carry the family's data-quality term; the loss law alone cannot see data quality (Phi-3 and "
              "Llama 3 beat older, larger models on published scores).")
    b = (r.get("spread") or {}).get("bootstrap")
    if b:
        con.print(f"Draws from the {r['fit']} standard errors ({b['draws']:.0f}): parameters p10-p90 "
                  f"{count(b['params_p10'])}-{count(b['params_p90'])}, tokens {count(b['training_tokens_p10'])}-"
                  f"{count(b['training_tokens_p90'])}.")
    from costsim.api.trust import band_sentence

    for name, band in (r.get("error_bands") or {}).items() if r.get("feasible") is not False else ():
        if text := band_sentence(band, name):  # a trust range qualifies a number: an infeasible plan has none
            con.print(text)
    per = r.get("per_output_token") or {}
    if per:
        def _per_m(x):
            return f"${fmt_sig(x * 1e6)}" if x is not None and math.isfinite(x) else "no price"

        co2 = per.get("co2e_g")  # grams per token read per million tokens: 55.8 gCO2e, not 0.0000558 g
        co2_text = f"{fmt_si(co2 * 1e6, 'gCO2e')} per million" if co2 is not None and math.isfinite(co2) else "no carbon figure"
        con.print(f"Per output token over the lifetime: {_per_m(per['usd'])} per million (training share "
                  f"{_per_m(per['usd_training_share'])}), {fmt_si(per['facility_energy_j'], 'J')} per token, {co2_text}.")


def _render_comparison(r: dict) -> None:
    """The comparison's answer, every combination ranked, then the best combination's whole plan."""
    con = Console(width=max(Console().width, 150))
    con.print(r["answer"])
    t = Table(title=f"every combination, least {r['objective']} first")
    for col in ("rank", "training hardware", "serving hardware", "region", "params", "tokens", "loss", "training time",
                "serving GPUs", "total", "total energy", "total CO2e", "peak power", "vs best"):
        t.add_column(col)
    for i, o in enumerate([o for o in r["options"] if o["feasible"]], 1):
        j, kg, days, gpus = (o.get(k) for k in ("total_facility_energy_j", "total_co2e_kg", "training_days", "serving_gpus"))
        t.add_row(str(i), o["train_hardware"], o["serve_hardware"], o["region"] or "default prices", count(o['params']),
                  count(o['training_tokens']), f"{o['loss']:.4f}", "-" if days is None else days_text(days),
                  "-" if gpus is None else f"{gpus:,.0f}", _usd_m(o.get("total_usd")), fmt_si(None if j is None else j / 3.6e3, "Wh"),
                  "-" if kg is None else f"{fmt_sig(kg / 1e3)} t", fmt_si(o.get("peak_power_w"), "W"), f"{100 * o['vs_best_frac']:+.0f} %")
    if t.row_count:
        con.print(t)
    bad = [o for o in r["options"] if not o["feasible"]]
    if bad and r.get("params") is not None:  # (when none is feasible the answer already says why)
        from costsim.api.plan_compare import PlanOption, infeasible_groups

        for why, labels in infeasible_groups([PlanOption(**{k: v for k, v in o.items() if k != "label"}) for o in bad]):
            con.print(f"Not feasible ({'; '.join(labels)}): {why}.")
    if r.get("params") is not None:
        con.print(f"The best combination's plan ({r['train_hardware']} for training, {r['serve_hardware']} for serving"
                  f"{', ' + r['region'] if r.get('region') else ''}):")
        _render(r, answer=False)


def _choices(text: str | None, flag: str, example: str) -> list[str | None]:
    """A flag's comma-separated list (one item: no comparison)."""
    if text is None:
        return [None]
    return list(split_items(text, flag=flag, example=example)) if "," in text else [text]


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_cmd(
        target_loss: Optional[str] = typer.Option(None, "--target-loss", help="Quality target: loss (nats/token) under --fit."),
        target_score: Optional[str] = typer.Option(None, "--target-score", help="BENCH=VALUE, e.g. mmlu=70: a benchmark score target (converted to a loss per fit)."),
        family: str = typer.Option("llama-3", "--family", help="Data-quality family of the planned model for score targets (costsim/data/benchmarks.yaml)."),
        compute_budget_flop: Optional[str] = typer.Option(None, "--compute-budget-flop", help="Training compute to allocate, FLOP (e.g. 5.76e23)."),
        lifetime_tokens: Optional[str] = typer.Option(None, "--lifetime-tokens", help="Tokens served over the model's life (input + output; e.g. 1e13)."),
        requests_per_day: Optional[str] = typer.Option(None, "--requests-per-day", help="Demand as requests per day (with --years, --input-tokens, --output-tokens)."),
        years: float = typer.Option(2.0, "--years", help="Serving lifetime, years."),
        peak_to_mean: Optional[str] = typer.Option(None, "--peak-to-mean", help="Serving demand's peak over its mean (1-100, default 1): the fleet is sized for the peak and its extra capacity is paid for and idles off-peak."),
        input_tokens: int = typer.Option(512, "--input-tokens", help="Prompt tokens per request."),
        output_tokens: int = typer.Option(256, "--output-tokens", help="Generated tokens per request."),
        mode: str = typer.Option("cost", "--mode", help="cost (priced by the cores) or flops (6ND + 2N D_inf)."),
        fit: str = typer.Option("besiroglu2024", "--fit", help="hoffmann2022 | hoffmann2022-precise | besiroglu2024 | muennighoff2023."),
        objective: str = typer.Option("usd", "--objective", help="usd | mwh | co2e | peak_mw (cost mode)."),
        train_hardware: str = typer.Option("h100-sxm", "--train-hardware", help="Accelerator id for training; a comma-separated list (h100-sxm,b200) plans each and ranks the combinations with --serve-hardware and --region lists."),
        train_gpus: str = typer.Option("4096", "--train-gpus", help="Accelerators in the training job (accepts 4096, 4k, 1e4)."),
        train_precision: str = typer.Option("bf16", "--train-precision", help="Training compute datatype: bf16, fp16, fp8 or fp4 (on hardware with that tensor-core rate)."),
        serve_hardware: str = typer.Option("h100-sxm", "--serve-hardware", help="Accelerator id for serving; a comma-separated list compares them."),
        serve_precision: Optional[str] = typer.Option(None, "--serve-precision", help="Serving weight format (default: searched)."),
        serve_engine: str = typer.Option("default", "--serve-engine", help="Serving-engine profile the fleet is priced with (costsim engines list)."),
        ttft_slo_s: Optional[str] = typer.Option(None, "--ttft-slo-s", help="Serving time-to-first-token limit, s (the fleet is priced at the largest batch that meets it)."),
        tpot_slo_s: Optional[str] = typer.Option(None, "--tpot-slo-s", help="Serving time-per-output-token limit, s."),
        region: Optional[str] = typer.Option(None, "--region", help="Region id: its mean price and carbon price both phases; a comma-separated list compares sites."),
        unique_tokens: Optional[str] = typer.Option(None, "--unique-tokens", help="Unique training tokens available (data limit)."),
        compare: Optional[list[str]] = typer.Option(None, "--compare", help="Catalog model to price against the plan; repeatable."),
        pricing: Optional[str] = typer.Option(None, "--pricing", help="rental (default: the GPU-hour price, power included) or purchase (capex amortized over the hardware's life, plus the region's electricity)."),
        grid_cap_mw: Optional[str] = typer.Option(None, "--grid-cap-mw", help="Site import cap, MW (plans above it are infeasible)."),
        min_params: Optional[str] = typer.Option(None, "--min-params", help="Smallest model size searched, parameters (default 1e8)."),
        max_params: Optional[str] = typer.Option(None, "--max-params", help="Largest model size searched, parameters (default 1e13)."),
        json_: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Which model size and token count reach a quality target and serve a lifetime demand at the least cost."""
        from costsim.api.plan import plan
        from costsim.specs.base import validate_spec
        from costsim.specs.plan import PlanRequest

        data = {"target_score": target_score, "family": family, "target_loss": parse_float(target_loss, flag="--target-loss"),
                "compute_budget_flop": parse_float(compute_budget_flop, flag="--compute-budget-flop"),
                "lifetime_tokens": parse_float(lifetime_tokens, flag="--lifetime-tokens"),
                "requests_per_day": parse_float(requests_per_day, flag="--requests-per-day"), "years": years,
                **({"peak_to_mean": parse_float(peak_to_mean, flag="--peak-to-mean")} if peak_to_mean is not None else {}),
                "input_tokens": input_tokens, "output_tokens": output_tokens, "mode": mode, "fit": fit, "objective": objective,
                "train_hardware": train_hardware, "train_gpus": parse_count(train_gpus, flag="--train-gpus"), "train_precision": train_precision, "serve_hardware": serve_hardware,
                "serve_precision": serve_precision, "serve_engine": serve_engine,
                "ttft_slo_s": parse_float(ttft_slo_s, flag="--ttft-slo-s"), "tpot_slo_s": parse_float(tpot_slo_s, flag="--tpot-slo-s"),
                "region": region, "unique_tokens": parse_float(unique_tokens, flag="--unique-tokens"),
                "compare": list(compare or []), "grid_cap_mw": parse_float(grid_cap_mw, flag="--grid-cap-mw"),
                "min_params": parse_float(min_params, flag="--min-params"), "max_params": parse_float(max_params, flag="--max-params")}
        if pricing is not None:
            data["economics"] = {"pricing": pricing}
        trains = _choices(train_hardware, "--train-hardware", "h100-sxm,b200")
        serves = _choices(serve_hardware, "--serve-hardware", "h100-sxm,l40s")
        regions = _choices(region, "--region", "us-pjm-virginia,fr-france")
        data.update(train_hardware=trains[0], serve_hardware=serves[0], region=regions[0])
        req = validate_spec(PlanRequest, {k: v for k, v in data.items() if v is not None}, what="plan request")
        if max(len(trains), len(serves), len(regions)) == 1:
            finish(plan(req).to_dict(), as_json=json_, render=_render)
            return
        from costsim.api.plan_compare import compare_plans

        result = compare_plans(req, train_hardware=trains, serve_hardware=serves, regions=regions).to_dict()
        finish(result, as_json=json_, render=_render_comparison)
