"""`costsim serve`: the best deployment of a GPU budget (replicas x TP x PP x EP x precision), or
one serving replica (`--single-replica`, or no `--gpus`): throughput, latency, energy and cost."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import alias_note, device_noun_of, field_help, finish, fmt_si, parse_float
from costsim.errors import InputError
from costsim.numtext import grouped as _n
from costsim.report.answers import layout_text, serve_answer
from costsim.report.fmt import energy_rates_text, fmt_value, plural, power_cap_text, power_limit_text
from costsim.specs.base import validate_spec
from costsim.specs.requests import ServeRequest


def _graph_row(r: dict) -> list[tuple[str, str]]:
    """A row saying a padding engine's decode steps compute a larger CUDA graph than the batch, when they do."""
    g = r.get("cuda_graph_batch_per_rank")
    layout = r.get("layout") or {}
    per_rank = (r.get("batch") or 0) / max(1, (layout.get("pp") or 1) * (layout.get("ep") or 1))
    if g is None or g <= per_rank:
        return []
    return [("decode steps compute as", f"a CUDA graph of {g} sequences per rank ({g - per_rank:.0f} padding)")]


def _help(name: str) -> str:
    return field_help(ServeRequest, name)






def _job_headline(r: dict) -> str | None:
    """The offline job's answer (--requests), when one was asked for and priced."""
    j = r.get("job")
    if not j:
        return None
    cost = f", {fmt_value('cost_usd', j['cost_usd'])}" if j.get("cost_usd") is not None else ""
    return (f"{j['requests']:,} requests ({r.get('input_tokens')} tokens in, {r.get('output_tokens')} out) take "
            f"{fmt_value('wall_time_s', j['wall_time_s'])} on {_n(r.get('gpus'))} x {r.get('hardware')}: "
            f"{fmt_value('facility_energy_j', j['facility_energy_j'])} of facility energy{cost}, "
            f"{fmt_value('co2e_kg', j['co2e_kg'])}.")


def _faster_runner_up(r: dict) -> dict | None:
    """The runner-up that would finish the offline job at least 5 % sooner than the chosen deployment, if any."""
    j = r.get("job")
    ups = [d for d in r.get("runners_up") or [] if d.get("job_wall_time_s") is not None]
    if not j or not ups:
        return None
    best = min(ups, key=lambda d: d["job_wall_time_s"])
    return best if best["job_wall_time_s"] < 0.95 * j["wall_time_s"] else None


def _job_table(r: dict) -> Table | None:
    j = r.get("job")
    if not j:
        return None
    t = Table(title=f"offline job: {j['requests']:,} requests queued at once")
    t.add_column("quantity")
    t.add_column("value")
    rows = [
        ("wall time, first prompt to last token", fmt_value("wall_time_s", j["wall_time_s"])),
        ("replicas sharing it / requests on the busiest", f"{j['replicas']} / {j['requests_per_replica_max']:,}"),
        (("waves of the batch on the busiest replica", f"{j['waves']:,} (batch {j['batch_per_replica']:,})")
         if j.get("scheduler", "waves") == "waves" else
         ("paged KV on the busiest replica: max sequences / preempted and recomputed",
          f"{j['max_num_seqs']:,} / {j['preemptions']:,} ({fmt_si(j['recompute_tokens'])} tokens again)")),
        ("output tokens", fmt_si(j["output_tokens"])),
        ("throughput over the job / steady state", f"{fmt_si(j['throughput_tokens_per_s'], 'tokens/s')} / "
                                                   f"{fmt_si(j['steady_throughput_tokens_per_s'], 'tokens/s')}"),
        (f"{device_noun_of(r)}-hours (whole budget)", f"{j['gpu_hours']:.3g} h"),
        ("GPU energy", fmt_value("gpu_energy_j", j["gpu_energy_j"])),
        ("facility energy (host, fabric, PUE)", fmt_value("facility_energy_j", j["facility_energy_j"])),
        ("cost", fmt_value("cost_usd", j["cost_usd"])),
        ("emissions (operational + embodied)", fmt_value("co2e_kg", j["co2e_kg"])),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


def _render(r: dict) -> None:
    con = Console()
    gpu = device_noun_of(r)
    if job := _job_headline(r):
        con.print(job)
    elif "job" in r:
        con.print("The offline job is not priced: no feasible deployment.")
    con.print(serve_answer(r))
    if note := alias_note(r):
        con.print(note)
    if r.get("throughput_tokens_per_s") is None:
        return
    dep = r.get("deployment")
    title = ("serving replica" if not dep else
             f"deployment (per-token figures include the {plural(dep['gpus_idle'], gpu)} left idle, at idle power)"
             if dep.get("gpus_idle") else "deployment (per-token figures are the same for every replica)")
    t = Table(title=title)
    t.add_column("quantity")
    t.add_column("value")
    rows = []
    if dep:
        rows += [(f"replicas x {gpu}s per replica", f"{dep['replicas']} x {dep['gpus_per_replica']} ({layout_text(dep)})"),
                 (f"{gpu}s used / idle", f"{dep['gpus_used']} / {dep['gpus_idle']}"),
                 *([("scale-up domains per replica", f"{dep['scaleup_domains_per_replica']} (what passes between them, "
                     "expert token exchange or pipeline hand-offs, crosses the network)")]
                   if (dep.get("scaleup_domains_per_replica") or 1) > 1 else []),
                 ("throughput, whole deployment", fmt_si(r.get("throughput_tokens_per_s"), "tokens/s")),
                 ("throughput per replica", fmt_si((r.get("per_replica") or {}).get("throughput_tokens_per_s"), "tokens/s"))]
    else:
        rows += [("layout", layout_text(r.get("layout") or {}) if r.get("layout") else "-"),
                 ("throughput", fmt_si(r.get("throughput_tokens_per_s"), "tokens/s"))]
    rows += [
        ("engine", str(r.get("engine"))),
        ("sampling", f"top-k {r['sampling_top_k']}" if r.get("sampling_top_k") else "no top-k (greedy or top-p)"),
        *([("speculative decoding", f"{r['speculative_tokens']} draft tokens per step at {r['acceptance_frac']:.0%} acceptance: "
                                    f"{r['tokens_per_step']:.2f} tokens per sequence per verify step")]
          if r.get("speculative_tokens") else []),
        ("weights / KV cache / compute", f"{r.get('weight_precision')} / {r.get('kv_precision')} / {r.get('compute_dtype')}"),
        ("batch per replica / max", f"{r.get('batch')} / {r.get('max_batch')}"),
        *_graph_row(r),
        (f"memory per {gpu}", f"{fmt_si(r.get('memory_per_gpu_bytes'), 'B')} of {fmt_si(r.get('memory_usable_per_gpu_bytes'), 'B')} usable"),
        ("KV cache per token", fmt_si(r.get("kv_cache_bytes_per_token"), "B")),
        *([("recurrent state per sequence" + (f" ({r['state_precision']})" if r.get("state_precision") else ""),
            fmt_si(r["linear_state_bytes_per_sequence"], "B"))]
          if r.get("linear_state_bytes_per_sequence") else []),
        *([("output lengths varied (CV)", f"{r['output_tokens_cv']:.3g}: running sequences average "
                                          f"{r['decode_context_tokens']:,.0f} tokens of context")] if r.get("output_tokens_cv") else []),
        ("TTFT", fmt_si(r.get("ttft_s"), "s")),
        ("TPOT", fmt_si(r.get("tpot_s"), "s")),
        ("decode step", fmt_si(r.get("decode_step_time_s"), "s")),
        *([("power limit", text)] if (text := power_limit_text(r)) else []),
        *([("power cap", text)] if (text := power_cap_text(r)) else []),
        (f"power, mean per {gpu}", fmt_si(r.get("gpu_power_w"), "W")),
        (f"{gpu} energy per output token", fmt_si(r.get("gpu_energy_per_token_j"), "J")),
        ("facility energy per output token", fmt_si(r.get("facility_energy_per_token_j"), "J")),
        ("$ per million output tokens", "-" if r.get("cost_usd_per_million_tokens") is None else f"{r['cost_usd_per_million_tokens']:.3g}"),
        ("CO2e per million output tokens", "-" if r.get("co2e_g_per_million_tokens") is None
         else fmt_value("co2e_kg", r["co2e_g_per_million_tokens"] / 1000.0)),
        ("electricity", energy_rates_text(r.get("energy_rates")) or "-"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    con.print(t)
    if jt := _job_table(r):
        con.print(jt)
    ups = r.get("runners_up") or []
    if ups:
        u = Table(title="runners-up")
        job_col = any("job_wall_time_s" in d for d in ups)
        for c in (f"replicas x {gpu}s", "layout", "weights", "batch / replica", "output tokens/s", "TPOT", "$ / M tokens",
                  *(("offline job time",) if job_col else ())):
            u.add_column(c, overflow="fold")  # at 80 columns a long header folds instead of ending in '…'
        for d in ups:
            cost = d.get("usd_per_million_tokens")
            u.add_row(f"{d['replicas']} x {d['gpus_per_replica']}", layout_text(d), d["weight_precision"], str(d["batch_per_replica"]),
                      fmt_si(d["throughput_tokens_per_s"]), fmt_si(d["tpot_s"], "s"), "-" if cost is None else f"{cost:.3g}",
                      *((fmt_value("wall_time_s", d.get("job_wall_time_s")),) if job_col else ()))
        con.print(u)
        if (faster := _faster_runner_up(r)) is not None:
            con.print(f"For this job alone, runner-up {faster['replicas']} x {faster['gpus_per_replica']} ({layout_text(faster)}, "
                      f"{faster['weight_precision']}) would finish first: {fmt_value('wall_time_s', faster['job_wall_time_s'])} "
                      f"instead of {fmt_value('wall_time_s', r['job']['wall_time_s'])}.")


def _int_or_none(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    v = parse_float(text, flag=flag)
    if v is None or v != int(v):
        raise InputError(f"{flag} expects a whole number, got {text!r}.", field=flag)
    return int(v)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        model: str = typer.Option(..., "--model", help=_help("model")),
        hardware: str = typer.Option(..., "--hardware", help=_help("hardware")),
        gpus: str = typer.Option(None, "--gpus", help=_help("gpus")),
        tp: str = typer.Option(None, "--tp", help=_help("tp")),
        pp: str = typer.Option(None, "--pp", help=_help("pp")),
        ep: str = typer.Option(None, "--ep", help=_help("ep")),
        weight_precision: str = typer.Option(None, "--weight-precision", help=_help("weight_precision")),
        kv_precision: str = typer.Option(None, "--kv-precision", help=_help("kv_precision")),
        engine: str = typer.Option("default", "--engine", help=_help("engine")),
        top_k: str = typer.Option(None, "--top-k", help=_help("top_k")),
        speculative_tokens: str = typer.Option(None, "--speculative-tokens", help=_help("speculative_tokens")),
        acceptance_frac: str = typer.Option(None, "--acceptance-rate", "--acceptance-frac", help=_help("acceptance_frac")),
        state_precision: str = typer.Option(None, "--state-precision", help=_help("state_precision")),
        batch: str = typer.Option("max", "--batch", help=_help("batch")),
        input_tokens: str = typer.Option("512", "--input-tokens", help=_help("input_tokens")),
        output_tokens: str = typer.Option("256", "--output-tokens", help=_help("output_tokens")),
        output_tokens_cv: str = typer.Option("0", "--output-tokens-cv", help=_help("output_tokens_cv")),
        ttft_slo_s: str = typer.Option(None, "--ttft-slo-s", help=_help("ttft_slo_s")),
        tpot_slo_s: str = typer.Option(None, "--tpot-slo-s", help=_help("tpot_slo_s")),
        single_replica: bool = typer.Option(False, "--single-replica", help=_help("single_replica")),
        objective: str = typer.Option("throughput", "--objective", help=_help("objective")),
        runners_up: str = typer.Option(None, "--runners-up", help=_help("runners_up")),
        requests: str = typer.Option(None, "--requests", help=_help("requests")),
        max_num_seqs: str = typer.Option(None, "--max-num-seqs", help=_help("max_num_seqs")),
        power_cap_w: str = typer.Option(None, "--power-cap-w", help=_help("power_cap_w")),
        pue: str = typer.Option(None, "--pue", help="Power usage effectiveness (default 1.2)."),
        grid: str = typer.Option(None, "--grid-gco2e-per-kwh", help="Grid carbon intensity, gCO2e/kWh (default 400)."),
        region: str = typer.Option(None, "--region", help=_help("region")),
        usd_per_gpu_hour: str = typer.Option(None, "--usd-per-gpu-hour", help="Rental price per GPU-hour, USD (default: profile midpoint)."),
        json_: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Best deployment of a GPU budget (--gpus N: replicas x TP x PP x EP and weight precision), or one replica
        (--single-replica, or no --gpus): throughput, latency, energy and $ per token."""
        from costsim.api.catalog import request_labels
        from costsim.api.serve import serve

        b: int | str = batch.strip().lower()
        if b not in ("max", "fill"):
            try:
                b = int(batch)
            except ValueError:
                raise InputError(f"--batch expects a positive integer, 'max' or 'fill', got {batch[:60]!r}.", field="--batch") from None
            if b < 1:
                raise InputError(f"--batch must be at least 1, got {b}.", field="--batch")
        fac: dict = {}
        eco: dict = {}
        if pue is not None:
            fac["pue"] = parse_float(pue, flag="--pue")
        if grid is not None:
            eco["grid_gco2e_per_kwh"] = parse_float(grid, flag="--grid-gco2e-per-kwh")
        if usd_per_gpu_hour is not None:
            eco["usd_per_gpu_hour"] = parse_float(usd_per_gpu_hour, flag="--usd-per-gpu-hour")
        data = dict(model=model, hardware=hardware, gpus=_int_or_none(gpus, "--gpus"), tp=_int_or_none(tp, "--tp"),
                    pp=_int_or_none(pp, "--pp"), ep=_int_or_none(ep, "--ep"), weight_precision=weight_precision,
                    kv_precision=kv_precision, engine=engine, top_k=_int_or_none(top_k, "--top-k"),
                    speculative_tokens=_int_or_none(speculative_tokens, "--speculative-tokens"),
                    acceptance_frac=parse_float(acceptance_frac, flag="--acceptance-rate"), state_precision=state_precision, batch=b, input_tokens=_int_or_none(input_tokens, "--input-tokens"),
                    output_tokens=_int_or_none(output_tokens, "--output-tokens"),
                    output_tokens_cv=parse_float(output_tokens_cv, flag="--output-tokens-cv"),
                    ttft_slo_s=parse_float(ttft_slo_s, flag="--ttft-slo-s"), tpot_slo_s=parse_float(tpot_slo_s, flag="--tpot-slo-s"),
                    single_replica=single_replica, objective=objective, runners_up=_int_or_none(runners_up, "--runners-up"),
                    requests=_int_or_none(requests, "--requests"), max_num_seqs=_int_or_none(max_num_seqs, "--max-num-seqs"),
                    power_cap_w=parse_float(power_cap_w, flag="--power-cap-w"), facility=fac, economics=eco, region=region)
        req = validate_spec(ServeRequest, data, what="serve options")
        result = serve(req)
        if isinstance(result, dict):
            result.update(request_labels(req.model, req.hardware))
        finish(result, as_json=json_, render=_render)
