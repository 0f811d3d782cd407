"""`costsim site`: facility power of a fleet against a grid cap, with region price and carbon."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import finish, fmt_si, parse_count, parse_float
from costsim.numtext import sig
from costsim.report.answers import site_answer
from costsim.report.fmt import battery_text




def _render(r: dict) -> None:
    c = Console()
    c.print(site_answer(r))
    t = Table(title="site power")
    t.add_column("quantity")
    t.add_column("value")
    rows = [("IT peak", fmt_si(r["it_peak_power_w"], "W")), ("IT mean", fmt_si(r["it_mean_power_w"], "W")),
            ("PUE", f"{r['pue']:.2f}"), ("facility peak", fmt_si(r["facility_peak_power_w"], "W")),
            ("facility mean", fmt_si(r["facility_mean_power_w"], "W")),
            ("training swing", fmt_si(r["training_power_swing_w"], "W")),
            ("training drop at a restart", fmt_si(r["training_restart_drop_w"], "W")),
            ("grid cap", fmt_si(r["grid_cap_w"], "W")), ("headroom", fmt_si(r["headroom_w"], "W")),
            ("energy cost / day", f"{r['energy_cost_usd_per_day']:,.0f} USD"),
            ("CO2e / day", f"{r['co2e_kg_per_day'] / 1000:,.1f} t")]
    for k, v in r.get("max_gpus_under_cap", {}).items():
        rows.append((f"max {k} under cap", f"{v:,}"))
    for a, b in rows:
        t.add_row(a, b)
    c.print(t)
    fit = r.get("per_gpu_power_cap_to_fit") or {}
    if fit:
        ft = Table(title="GPU power caps that fit under the grid cap")
        for col in ("accelerator", "power cap per GPU", "compute throughput at the cap", "why not"):
            ft.add_column(col)
        for k, v in fit.items():
            ft.add_row(k, "-" if v["gpu_power_cap_w"] is None else f"{v['gpu_power_cap_w']:.0f} W",
                       f"{100 * v['compute_throughput_frac']:.0f} %", v.get("reason") or "")
        c.print(ft)
    bat = r.get("battery") or {}
    if bat:
        c.print(battery_text(bat))
    reg = r.get("region") or {}
    if reg.get("region"):
        c.print(f"region {reg['region']} ({reg['kind']}): {reg['usd_per_kwh']['mean']:.3f} USD/kWh, {reg['gco2e_per_kwh']['mean']:.0f} gCO2e/kWh mean")
    c.print("assumptions: " + "; ".join(f"{a.get('label') or a['name']}: {_assumed(a)}" for a in r["assumptions"]))


def _assumed(a: dict) -> str:
    """An assumption's value for a reader: shares in %, powers with their unit, a phase mix as its shares."""
    v = a["value"]
    if isinstance(v, dict):
        return ", ".join(f"{k} {100 * float(x):.0f} %" for k, x in v.items())
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return str(v)
    if a["name"].endswith("_frac") or a["name"].endswith("_frac_of_tdp"):
        return f"{100 * float(v):.0f} %"
    return f"{sig(float(v))} {a.get('unit') or ''}".strip()


def register(app: typer.Typer) -> None:
    @app.command("site")
    def site(
        hardware: Optional[list[str]] = typer.Option(None, "--hardware", help="Accelerator id; repeat, paired in order with --gpus."),
        gpus: Optional[list[str]] = typer.Option(None, "--gpus", help="Number of accelerators for the matching --hardware (accepts 100k, 1e5)."),
        workload: Optional[list[str]] = typer.Option(None, "--workload", help="training | inference | idle; once for all or once per --hardware (default training)."),
        pue: float = typer.Option(1.2, "--pue", help="Power usage effectiveness (facility / IT power)."),
        grid_cap_mw: Optional[str] = typer.Option(None, "--grid-cap-mw", help="Grid import cap, MW."),
        region: Optional[str] = typer.Option(None, "--region", help="Region id (costsim/data/regions) or a CSV path with month,hour,usd_per_kwh,gco2e_per_kwh."),
        battery_mwh: Optional[str] = typer.Option(None, "--battery-mwh", help="Battery nameplate energy, MWh (usable: the 5-95 % state-of-charge window)."),
        battery_mw: Optional[str] = typer.Option(None, "--battery-mw", help="Battery power rating, MW."),
        battery_policy: Optional[str] = typer.Option(None, "--battery-policy", help="peak_shaving | smoothing | arbitrage | optimal (default: arbitrage when the fleet fits under the cap, else peak_shaving)."),
        json_: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Facility peak and mean power of a fleet, headroom against a grid cap, and how many of each
        accelerator fit under it; hourly price and carbon for a region."""
        from costsim.api import site as api

        counts = []
        for g in gpus or []:
            counts.append(parse_count(g, flag="--gpus"))
        req = api.build_request(list(hardware or []), counts, workloads=list(workload) if workload else None, pue=pue,
                                grid_cap_mw=parse_float(grid_cap_mw, flag="--grid-cap-mw"), region=region,
                                battery_mwh=parse_float(battery_mwh, flag="--battery-mwh"),
                                battery_mw=parse_float(battery_mw, flag="--battery-mw"), battery_policy=battery_policy)
        result = api.site_report(req)
        finish(result, as_json=json_, render=_render)
