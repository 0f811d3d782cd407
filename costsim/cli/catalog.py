"""`costsim hardware ...`, `costsim models ...` and `costsim engines ...`."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from costsim.api import catalog as api
from costsim.cli.common import fmt_si, print_json


def _table(title: str, columns: tuple[str, ...], rows) -> Table:
    """A rich table of `rows` (tuples of strings) under `columns`."""
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    return t


def register(app: typer.Typer) -> None:
    hw = typer.Typer(help="Accelerator catalog.", no_args_is_help=True)
    md = typer.Typer(help="Model catalog.", no_args_is_help=True)

    @hw.command("list")
    def hardware_list(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """List every accelerator profile."""
        rows = api.list_hardware()
        if json_:
            print_json(rows)
            return
        peak = [r["peak_flop_per_s"] for r in rows]
        Console().print(_table("accelerators", ("id", "name", "memory", "bandwidth", "bf16", "fp8", "fp4", "TDP"), (
            (r["id"], r["name"], fmt_si(r["memory_bytes"], "B"), fmt_si(r["memory_bandwidth_bytes_per_s"], "B/s"),
             fmt_si(p.get("bf16") or p.get("fp16"), "FLOP/s"), fmt_si(p.get("fp8"), "FLOP/s"), fmt_si(p.get("fp4"), "FLOP/s"),
             fmt_si(r["tdp_w"], "W")) for r, p in zip(rows, peak))))

    @hw.command("show")
    def hardware_show(ref: str = typer.Argument(..., help="Accelerator id or YAML file."),
                      json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Show one accelerator profile with its node and sources."""
        d = api.show_hardware(ref)
        if json_:
            print_json(d)
            return
        con = Console()
        peaks = {k: v for k, v in d["peak_flop_per_s"].items() if v}
        con.print(f"{d['name']} ({d['vendor']}): {fmt_si(d['memory_bytes'], 'B')} at {fmt_si(d['memory_bandwidth_bytes_per_s'], 'B/s')}, "
                  f"{fmt_si(d['tdp_w'], 'W')}; dense peak "
                  + ", ".join(f"{k.upper()} {fmt_si(v, 'FLOP/s' if not k.startswith('int') else 'OP/s')}" for k, v in peaks.items()) + ".")
        if d.get("training_gemm_ceiling_frac"):
            con.print(f"Training prices large GEMMs at {d['training_gemm_ceiling_frac'] * 100:.0f} % of the BF16 peak: "
                      f"{d['training_gemm_ceiling_basis']}.")
        con.print(_table(f"{d['id']}: dense peak by datatype", ("datatype", "dense peak"), (
            (k.upper(), fmt_si(v, "OP/s" if k.startswith("int") else "FLOP/s") if v else "not supported / not published")
            for k, v in d["peak_flop_per_s"].items())))
        con.print(d["profile"])

    @md.command("list")
    def models_list(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """List every model in the catalog with computed parameter counts."""
        rows = api.list_models()
        if json_:
            print_json(rows)
            return
        Console().print(_table("models", ("id", "name", "total params", "active params", "layers", "attention", "context"), (
            (r["id"], r["name"], fmt_si(r["params_total"]), fmt_si(r["params_active"]), str(r["n_layers"]), r["attention"],
             str(r["max_context"])) for r in rows)))

    @md.command("show")
    def models_show(ref: str = typer.Argument(..., help="Model id or YAML file."),
                    json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Show one model: shape and parameter counts."""
        d = api.show_model(ref)
        if json_:
            print_json(d)
            return
        Console().print(d)

    en = typer.Typer(help="Serving-engine profiles (--engine of serve, scenarios and the app).", no_args_is_help=True)

    @en.command("list")
    def engines_list(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """List every serving-engine profile."""
        rows = api.list_engines()
        if json_:
            print_json(rows)
            return
        fitted = [len(r["fitted_on"]) for r in rows]
        con = Console()
        con.print(_table("serving engines (--engine)", ("id", "name", "kind", "runs on", "fitted on"), (
            (r["id"], r["name"], r["kind"], ", ".join(r["vendors"]) if r["vendors"] else "any",
             f"{n} case{'s' if n != 1 else ''}" if n else "priors") for r, n in zip(rows, fitted))))
        con.print("Details, parameters and sources: costsim engines show ID")

    @en.command("show")
    def engines_show(ref: str = typer.Argument(..., help="Engine id (costsim engines list)."),
                     json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Show one engine profile: what it stands for, its parameters (per vendor and per part) and sources."""
        d = api.show_engine(ref)
        if json_:
            print_json(d)
            return
        con = Console()
        con.print(f"{d['name']} ({d['id']}, {d['kind']}): {d['description']}")
        rows = [("all hardware", k, f"{v:g}") for k, v in d["parameters"].items()]
        rows += [(f"{scope} {who}", k, f"{v:g}") for scope, key in (("vendor", "vendor_parameters"), ("hardware", "device_parameters"))
                 for who, table in d[key].items() for k, v in table.items()]
        con.print(_table(f"{d['id']}: parameters over the inference core's device defaults (*_scale multiplies)",
                         ("applies to", "parameter", "value"), rows or [("all hardware", "(none: the device defaults)", "")]))
        con.print("fitted on: " + (", ".join(d["fitted_on"]) or "nothing (priors)"))
        for s in d["sources"]:
            con.print(f"source: {s}")
        if d.get("notes"):
            con.print(f"notes: {d['notes']}")

    app.add_typer(hw, name="hardware")
    app.add_typer(md, name="models")
    app.add_typer(en, name="engines")
