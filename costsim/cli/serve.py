"""`costsim serve`: throughput, latency, energy and cost of one serving replica."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import field_help, finish, fmt_si, parse_float
from costsim.errors import InputError
from costsim.specs.base import validate_spec
from costsim.specs.requests import ServeRequest



def _help(name: str) -> str:
    return field_help(ServeRequest, name)


def _render(r: dict) -> None:
    t = Table(title=f"serve {r.get('model')} on {r.get('gpus')} x {r.get('hardware')}" if r.get("feasible") is not False or r.get("gpus") else "serve")
    t.add_column("quantity")
    t.add_column("value")
    rows = [
        ("batch / max batch", f"{r.get('batch')} / {r.get('max_batch')}"),
        ("layout", str(r.get("layout"))),
        ("compute dtype", str(r.get("compute_dtype"))),
        ("memory per GPU", fmt_si(r.get("memory_per_gpu_bytes"), "B")),
        ("KV cache per token", fmt_si(r.get("kv_cache_bytes_per_token"), "B")),
        ("prefill time (batch)", fmt_si(r.get("prefill_time_s"), "s")),
        ("TTFT", fmt_si(r.get("ttft_s"), "s")),
        ("decode step", fmt_si(r.get("decode_step_time_s"), "s")),
        ("TPOT", fmt_si(r.get("tpot_s"), "s")),
        ("decode tokens/s", fmt_si(r.get("decode_tokens_per_s"))),
        ("throughput tokens/s", fmt_si(r.get("throughput_tokens_per_s"))),
        ("GPU power (avg)", fmt_si(r.get("gpu_power_w"), "W")),
        ("GPU energy / token", fmt_si(r.get("gpu_energy_per_token_j"), "J")),
        ("facility energy / token", fmt_si(r.get("facility_energy_per_token_j"), "J")),
        ("$ / million tokens", "-" if r.get("cost_usd_per_million_tokens") is None else f"{r['cost_usd_per_million_tokens']:.3g}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    Console().print(t)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        model: str = typer.Option(..., "--model", help=_help("model")),
        hardware: str = typer.Option(..., "--hardware", help=_help("hardware")),
        gpus: int = typer.Option(None, "--gpus", help=_help("gpus")),
        tp: int = typer.Option(None, "--tp", help=_help("tp")),
        pp: int = typer.Option(1, "--pp", help=_help("pp")),
        ep: int = typer.Option(1, "--ep", help=_help("ep")),
        weight_precision: str = typer.Option("bf16", "--weight-precision", help=_help("weight_precision")),
        kv_precision: str = typer.Option(None, "--kv-precision", help=_help("kv_precision")),
        batch: str = typer.Option("max", "--batch", help=_help("batch")),
        input_tokens: int = typer.Option(512, "--input-tokens", help=_help("input_tokens")),
        output_tokens: int = typer.Option(256, "--output-tokens", help=_help("output_tokens")),
        ttft_slo_s: str = typer.Option(None, "--ttft-slo-s", help=_help("ttft_slo_s")),
        tpot_slo_s: str = typer.Option(None, "--tpot-slo-s", help=_help("tpot_slo_s")),
        pue: str = typer.Option(None, "--pue", help="Power usage effectiveness (default 1.2)."),
        grid: str = typer.Option(None, "--grid-gco2e-per-kwh", help="Grid carbon intensity, gCO2e/kWh (default 400)."),
        usd_per_gpu_hour: str = typer.Option(None, "--usd-per-gpu-hour", help="Rental price per GPU-hour, USD (default: profile midpoint)."),
        json_: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Throughput, latency, energy and $ per token of one serving replica."""
        from costsim.api.serve import serve

        b: int | str
        if batch.strip().lower() == "max":
            b = "max"
        else:
            try:
                b = int(batch)
            except ValueError:
                raise InputError(f"--batch expects a positive integer or 'max', got {batch!r}.", field="--batch") from None
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
        data = dict(model=model, hardware=hardware, gpus=gpus, tp=tp, pp=pp, ep=ep, weight_precision=weight_precision,
                    kv_precision=kv_precision, batch=b, input_tokens=input_tokens, output_tokens=output_tokens,
                    ttft_slo_s=parse_float(ttft_slo_s, flag="--ttft-slo-s"), tpot_slo_s=parse_float(tpot_slo_s, flag="--tpot-slo-s"),
                    facility=fac, economics=eco)
        req = validate_spec(ServeRequest, data, what="serve options")
        result = serve(req)
        finish(result, as_json=json_, render=_render)
