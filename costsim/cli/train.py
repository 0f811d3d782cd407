"""`costsim train`: fastest parallel layout, step time, whole-run time, energy, cost and CO2e."""

from __future__ import annotations

import math

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import alias_note, device_noun_of, field_help, finish, fmt_si, parse_float
from costsim.errors import InputError
from costsim.numtext import grouped as _n
from costsim.report.answers import train_answer
from costsim.report.fmt import energy_rates_text, fmt_value, host_launch_text, lora_text, moe_load_text
from costsim.specs.requests import TrainRequest
from costsim.units import S_PER_DAY




def _render(r: dict) -> None:
    from costsim.api.train import MOE_ONLY_LAYOUT_KEYS, shown_layout

    # a terminal's width, but never below what the fastest-layouts table needs to keep each number on one line (106);
    # output to a file or pipe keeps 140 columns, so a long row (the layout's features) stays on one line for a reader
    # that greps it
    probe = Console()
    c = Console(width=max(probe.width, 106) if probe.is_terminal else 140)
    c.print(train_answer(r))
    if note := alias_note(r):
        c.print(note)
    p = shown_layout(r.get("parallelism") or {})
    t = Table(title=f"costsim train: {r.get('model')} on {_n(r.get('num_gpus'))} x {r.get('hardware')}", show_header=False)
    t.add_column("quantity")
    t.add_column("value")
    gpu = device_noun_of(r)
    rows = [
        ("feasible", "yes" if r.get("feasible") else f"no: {r.get('reason') or 'no layout fits'}"),
        # as flags, so the layout can be given back to `train` (or compared with a published run's)
        ("layout", layout_flags(p) if p else "-"),
        ("framework", str(r.get("framework") or "-")),
        ("trains", lora_text(r) or "every parameter (full training)"),
        ("layout relies on", ", ".join(f"{q['feature'].split(' (')[0]} ({q['since_year']})"
                                       for q in (r.get("layout_requires") or [])) or "-"),
        ("training FLOP", fmt_si(r.get("train_flop"), "FLOP")),
        ("step time", fmt_si(r.get("step_time_s"), "s")),
        ("throughput", fmt_si(r.get("tokens_per_s"), "tokens/s")),
        ("MFU", "-" if r.get("mfu_frac") is None else f"{100 * r['mfu_frac']:.1f}%"),
        (f"achieved per {gpu}", fmt_si(r.get("achieved_flop_per_s_per_gpu"), "FLOP/s")),
        (f"memory per {gpu}", fmt_si(r.get("memory_per_gpu_bytes"), "B")),
        ("steps", "-" if r.get("num_steps") is None else f"{r['num_steps']:,}"),
        ("goodput", "-" if r.get("goodput_frac") is None else f"{100 * r['goodput_frac']:.1f}%"),
        ("wall time", "-" if r.get("wall_time_s") is None else (f"{r['wall_time_s'] / S_PER_DAY:.1f} days" if math.isfinite(r["wall_time_s"])
                                                              else "never finishes (zero goodput)")),
        (f"{gpu}-hours", "-" if r.get("gpu_hours") is None else f"{fmt_si(r['gpu_hours'])} {gpu}-h"),
        ("facility energy", fmt_value("facility_energy_j", r.get("facility_energy_j"))),
        ("facility peak power", fmt_si(r.get("facility_peak_power_w"), "W")),
        ("CO2e", fmt_value("co2e_kg", r.get("co2e_kg"))),
        ("electricity", energy_rates_text(r.get("energy_rates")) or "-"),
        ("cost", fmt_value("cost_usd", r.get("cost_usd"))),
    ]
    s = r.get("search") or {}
    rows.append(("search", f"{s.get('configs_evaluated', 0):,} layouts evaluated, {s.get('feasible_configs', 0):,} fit, "
                           f"{1000 * s.get('search_time_s', 0):.0f} ms"))
    for k, v in rows:
        t.add_row(k, v)
    c.print(t)
    if wait := host_launch_text(r):
        c.print(wait)
    if wait := moe_load_text(r):
        c.print(wait)
    if (few := r.get("fewer_gpus")) and few.get("text"):
        c.print(f"[yellow]{few['text']} Give --gpus {few['gpus']} to price it.[/]")
    if r.get("whole_run_note"):
        c.print(f"[yellow]Whole run not computed:[/] {r['whole_run_note']}")
    top = r.get("top_layouts") or []
    if top:
        tt = Table(title="fastest layouts")
        keys = ["tp", "pp", "cp", "ep", "dp", "vp", "micro_batch", "recompute", "zero"]
        if any(row.get("ep", 1) > 1 for row in top):
            keys[4:4] = MOE_ONLY_LAYOUT_KEYS  # expert TP and all-to-all overlap, only with experts
        if len({row.get("global_batch") for row in top}) > 1:  # layouts that round the batch differently: a step of
            keys.append("global_batch")                           # 960 sequences is not comparable with one of 1,024
        for col in (*keys, "step", "tokens/s", "MFU", "memory"):
            tt.add_column("batch (seqs)" if col == "global_batch" else col.replace("_", "-"))
        for row in top:
            tt.add_row(*(str(row.get(k, "-")) for k in keys),
                       fmt_si(row["step_time_s"], "s"), fmt_si(row["tokens_per_s"]), f"{100 * row['mfu_frac']:.1f}%",
                       fmt_si(row["memory_per_gpu_bytes"], "B"))
        c.print(tt)


def layout_flags(layout: dict) -> str:
    """A layout as the flags that give it back to `train`: '--tp 8 --pp 8 --ep-overlap --micro-batch 1'."""
    parts = []
    for k, v in layout.items():
        flag = "--" + k.replace("_", "-")
        parts.append((flag if v else f"--no-{flag[2:]}") if isinstance(v, bool) else f"{flag} {v}")
    return " ".join(parts)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        model: str = typer.Option(..., "--model", help=field_help(TrainRequest, "model")),
        hardware: str = typer.Option(..., "--hardware", help=field_help(TrainRequest, "hardware")),
        gpus: int = typer.Option(..., "--gpus", help=field_help(TrainRequest, "gpus")),
        tokens: Optional[str] = typer.Option(None, "--tokens", help=field_help(TrainRequest, "tokens")),
        seq_len: int = typer.Option(4096, "--seq-len", help=field_help(TrainRequest, "seq_len")),
        global_batch: Optional[int] = typer.Option(None, "--global-batch", help=field_help(TrainRequest, "global_batch")),
        global_batch_tokens: Optional[str] = typer.Option(None, "--global-batch-tokens", help=field_help(TrainRequest, "global_batch_tokens")),
        precision: str = typer.Option("bf16", "--precision", help=field_help(TrainRequest, "precision")),
        attention_precision: str = typer.Option("bf16", "--attention-precision", help=field_help(TrainRequest, "attention_precision")),
        tp: Optional[int] = typer.Option(None, "--tp", help=field_help(TrainRequest, "tp")),
        pp: Optional[int] = typer.Option(None, "--pp", help=field_help(TrainRequest, "pp")),
        cp: Optional[int] = typer.Option(None, "--cp", help=field_help(TrainRequest, "cp")),
        ep: Optional[int] = typer.Option(None, "--ep", help=field_help(TrainRequest, "ep")),
        etp: Optional[int] = typer.Option(None, "--etp", help=field_help(TrainRequest, "etp")),
        ep_overlap: Optional[bool] = typer.Option(None, "--ep-overlap/--no-ep-overlap",
                                                  help=field_help(TrainRequest, "ep_overlap")),
        activation_offload: Optional[bool] = typer.Option(None, "--activation-offload/--no-activation-offload",
                                                          help=field_help(TrainRequest, "activation_offload")),
        ep_dispatcher: Optional[str] = typer.Option(None, "--ep-dispatcher", help=field_help(TrainRequest, "ep_dispatcher")),
        moe_expert_launch: Optional[str] = typer.Option(None, "--moe-expert-launch", help=field_help(TrainRequest, "moe_expert_launch")),
        moe_router_balance: Optional[str] = typer.Option(None, "--moe-router-balance", help=field_help(TrainRequest, "moe_router_balance")),
        dp: Optional[int] = typer.Option(None, "--dp", help=field_help(TrainRequest, "dp")),
        dp_bucket_params: Optional[str] = typer.Option(None, "--dp-bucket-params", help=field_help(TrainRequest, "dp_bucket_params")),
        dropout: Optional[bool] = typer.Option(None, "--dropout/--no-dropout", help=field_help(TrainRequest, "dropout")),
        vp: Optional[int] = typer.Option(None, "--vp", help=field_help(TrainRequest, "vp")),
        micro_batch: Optional[int] = typer.Option(None, "--micro-batch", help=field_help(TrainRequest, "micro_batch")),
        recompute: Optional[str] = typer.Option(None, "--recompute", help=field_help(TrainRequest, "recompute")),
        zero: Optional[int] = typer.Option(None, "--zero", help=field_help(TrainRequest, "zero")),
        recompute_layers: Optional[int] = typer.Option(None, "--recompute-layers", help=field_help(TrainRequest, "recompute_layers")),
        sequence_parallel: bool = typer.Option(True, "--sequence-parallel/--no-sequence-parallel", help="Megatron sequence parallelism with TP."),
        framework: Optional[str] = typer.Option(None, "--framework", help=field_help(TrainRequest, "framework")),
        node: Optional[str] = typer.Option(None, "--node", help=field_help(TrainRequest, "node")),
        scaleup_domain_size: Optional[int] = typer.Option(None, "--scaleup-domain-size", help=field_help(TrainRequest, "scaleup_domain_size")),
        fp4_bf16_layers: Optional[int] = typer.Option(None, "--fp4-bf16-layers", help=field_help(TrainRequest, "fp4_bf16_layers")),
        cp_comm_type: Optional[str] = typer.Option(None, "--cp-comm-type", help=field_help(TrainRequest, "cp_comm_type")),
        fp8_activation_store: Optional[bool] = typer.Option(None, "--fp8-activation-store/--no-fp8-activation-store",
                                                            help=field_help(TrainRequest, "fp8_activation_store")),
        lora_rank: Optional[int] = typer.Option(None, "--lora-rank", help=field_help(TrainRequest, "lora_rank")),
        lora_targets: Optional[str] = typer.Option(None, "--lora-targets", help=field_help(TrainRequest, "lora_targets")),
        lora_dropout: Optional[float] = typer.Option(None, "--lora-dropout", help=field_help(TrainRequest, "lora_dropout")),
        lora_base_precision: Optional[str] = typer.Option(None, "--lora-base-precision",
                                                          help=field_help(TrainRequest, "lora_base_precision")),
        power_cap_w: Optional[float] = typer.Option(None, "--power-cap-w", help=field_help(TrainRequest, "power_cap_w")),
        pue: Optional[float] = typer.Option(None, "--pue", help="Power usage effectiveness (default 1.2)."),
        grid_gco2e_per_kwh: Optional[float] = typer.Option(None, "--grid-gco2e-per-kwh", help="Grid carbon intensity, gCO2e/kWh (default 400)."),
        region: Optional[str] = typer.Option(None, "--region", help=field_help(TrainRequest, "region")),
        usd_per_gpu_hour: Optional[float] = typer.Option(None, "--usd-per-gpu-hour", help="Rental price per GPU-hour, USD (default: hardware profile midpoint)."),
        failure_rate_per_gpu_hour: Optional[float] = typer.Option(None, "--failure-rate-per-gpu-hour", help=field_help(TrainRequest, "failure_rate_per_gpu_hour")),
        checkpoint_time_s: Optional[float] = typer.Option(None, "--checkpoint-time-s", help=field_help(TrainRequest, "checkpoint_time_s")),
        restart_time_s: Optional[float] = typer.Option(None, "--restart-time-s", help=field_help(TrainRequest, "restart_time_s")),
        maintenance_per_day: Optional[float] = typer.Option(None, "--maintenance-per-day", help=field_help(TrainRequest, "maintenance_per_day")),
        maintenance_downtime_s: Optional[float] = typer.Option(None, "--maintenance-downtime-s", help=field_help(TrainRequest, "maintenance_downtime_s")),
        top_k: int = typer.Option(5, "--top-k", help=field_help(TrainRequest, "top_k")),
        json_: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> int:
        """Search the fastest parallel layout and estimate the whole training run."""
        from costsim.api.catalog import request_labels
        from costsim.api.train import train as api_train
        from costsim.specs.base import validate_spec
        from costsim.specs.requests import TrainRequest
        from costsim.specs.site import EconomicsSpec, FacilitySpec

        if precision not in ("bf16", "fp16", "fp8", "fp4"):
            raise InputError(f"--precision must be bf16, fp16, fp8 or fp4, got {precision[:40]!r}.", field="precision")
        if attention_precision not in ("bf16", "fp8"):
            raise InputError(f"--attention-precision must be bf16 or fp8, got {attention_precision[:40]!r}.",
                             field="attention_precision")
        if recompute is not None and recompute not in ("none", "selective", "full"):
            raise InputError(f"--recompute must be none, selective or full, got {recompute!r}.", field="recompute")
        if zero is not None and zero not in (0, 1, 2, 3):
            raise InputError(f"--zero must be 0, 1, 2 or 3, got {zero}.", field="zero")
        fac = {} if pue is None else {"pue": pue}
        eco = {}
        if grid_gco2e_per_kwh is not None:
            eco["grid_gco2e_per_kwh"] = grid_gco2e_per_kwh
        if usd_per_gpu_hour is not None:
            eco["usd_per_gpu_hour"] = usd_per_gpu_hour
        data = {
            "model": model, "hardware": hardware, "gpus": gpus, "tokens": parse_float(tokens, flag="--tokens"),
            "seq_len": seq_len, "global_batch": global_batch,
            "global_batch_tokens": parse_float(global_batch_tokens, flag="--global-batch-tokens"),
            "precision": precision, "attention_precision": attention_precision, "tp": tp, "pp": pp, "cp": cp, "ep": ep, "etp": etp, "ep_overlap": ep_overlap, "activation_offload": activation_offload, "ep_dispatcher": ep_dispatcher, "moe_expert_launch": moe_expert_launch, "moe_router_balance": moe_router_balance, "dp": dp,
            "dp_bucket_params": parse_float(dp_bucket_params, flag="--dp-bucket-params"), "dropout": dropout, "vp": vp, "micro_batch": micro_batch,
            "recompute": recompute, "recompute_layers": recompute_layers, "zero": zero, "sequence_parallel": sequence_parallel, "top_k": top_k,
            "framework": framework, "node": node, "scaleup_domain_size": scaleup_domain_size, "power_cap_w": power_cap_w, "fp4_bf16_layers": fp4_bf16_layers,
            "lora_rank": lora_rank, "lora_targets": lora_targets, "lora_base_precision": lora_base_precision, "lora_dropout": lora_dropout, "cp_comm_type": cp_comm_type,
            "fp8_activation_store": fp8_activation_store,
            "failure_rate_per_gpu_hour": failure_rate_per_gpu_hour, "checkpoint_time_s": checkpoint_time_s,
            "restart_time_s": restart_time_s, "maintenance_per_day": maintenance_per_day,
            "maintenance_downtime_s": maintenance_downtime_s,
            "facility": validate_spec(FacilitySpec, fac, what="facility options"),
            "economics": validate_spec(EconomicsSpec, eco, what="economics options"), "region": region,
        }
        req = validate_spec(TrainRequest, data, what="train options")
        result = api_train(req)
        if isinstance(result, dict):
            result.update(request_labels(req.model, req.hardware))
            from costsim.api.train import fewer_gpus

            result["fewer_gpus"] = fewer_gpus(req, result)  # a shorter run on a node-aligned count below --gpus
        return finish(result, as_json=json_, render=_render)
