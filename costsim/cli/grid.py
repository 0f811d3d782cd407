"""`costsim grid regions` and `costsim grid headroom`: interconnection headroom of a balancing
authority for flexible new load (Norris et al. 2025 method) on shipped real hourly data."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from costsim.api import grid as api
from costsim.cli.common import command_group, parse_float, print_json
from costsim.specs.overrides import split_items
from costsim.errors import InputError


def _pcts(text: str) -> list[float]:
    if len(text) > 400:
        raise InputError(f"--curtailment is {len(text)} characters long; give a few percents such as 0.25,0.5,1.", field="--curtailment")
    out = [parse_float(p, flag="--curtailment") for p in split_items(text, flag="--curtailment", example="0.25,0.5,1")]
    if len(set(out)) < len(out):
        dup = next(x for x in out if out.count(x) > 1)
        raise InputError(f"--curtailment lists {dup:g} % twice; give each limit once (e.g. 0.25,0.5,1).", field="--curtailment")
    return out


def _years(text: str | None) -> list[int] | None:
    if text is None:
        return None
    if len(text) > 200:
        raise InputError("--years is too long; give e.g. 2016-2024 or 2022,2023.", field="--years")
    out: list[int] = []
    parts = split_items(text, flag="--years", example="2016-2024 or 2022,2023")
    try:
        for part in parts:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if b < a or b - a > 50:
                    raise ValueError
                out += list(range(a, b + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise InputError(f"--years {text[:60]!r} is not a list of years such as 2016-2024 or 2022,2023.", field="--years") from None
    twice = sorted({y for y in out if out.count(y) > 1})
    if twice:  # a year given twice would weigh double in the statistics
        raise InputError(f"--years names {', '.join(map(str, twice))} more than once; give each year once.", field="--years")
    return out


def _flex(value_usd_per_mwh: str | None, max_delay_h: int, min_power_frac: str) -> api.FlexCost:
    share = parse_float(min_power_frac, flag="--min-power-frac")
    if not 0.0 <= share <= 1.0:
        raise InputError(f"--min-power-frac is a share of the load's power, 0 to 1; got {share:g}.", field="--min-power-frac")
    kw = {"max_delay_h": max_delay_h, "min_power_frac": share}
    if value_usd_per_mwh is not None:
        kw["value_usd_per_mwh"] = parse_float(value_usd_per_mwh, flag="--value-usd-per-mwh")
    return api.FlexCost(**kw)


def register(app: typer.Typer) -> None:
    g = command_group("Will the grid take it? Real hourly load of US balancing authorities and their headroom for flexible new load.")

    @g.command("regions")
    def regions(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """List the balancing authorities with shipped hourly data (years, sources, published headroom) and the
        price+carbon regions on a real year (which parts are real, which stylized)."""
        rows = api.grid_regions()
        prices = api.grid_price_regions()
        if json_:
            print_json({"regions": [asdict(r) for r in rows], "price_regions": [asdict(p) for p in prices]})
            return
        t = Table(title="balancing authorities with real hourly data (all hours UTC)")
        for c in ("region", "name", "demand years", "carbon year", "price", "study headroom at 0.5 % (GW)"):
            t.add_column(c)
        for r in rows:
            t.add_row(r.region, r.name, f"{min(r.years)}-{max(r.years)}", str(r.generation_year or "-"), r.price,
                      f"{r.study_headroom_gw.get('0.5', float('nan')):.1f}")
        Console(width=max(Console().width, 150)).print(t)
        t2 = Table(title="price+carbon regions on a real year (use as --region; all hours UTC)")
        for c in ("region", "name", "year", "price", "carbon", "mean price ($/MWh)", "mean carbon (g/kWh)"):
            t2.add_column(c)
        for p in prices:
            t2.add_row(p.region, p.name, str(p.year), p.price.upper() if p.price == "stylized" else p.price, p.carbon,
                       f"{p.mean_usd_per_kwh * 1000:.1f}", f"{p.mean_gco2e_per_kwh:.0f}")
        Console(width=max(Console().width, 150)).print(t2)
        Console().print("Sources: costsim/data/grid/README.md. Stylized price/carbon regions: costsim/data/regions (typical days, not a real year).")

    @g.command("headroom")
    def headroom(region: str = typer.Option(None, "--region", help="Balancing-authority id (costsim grid regions), e.g. us-pjm."),
                 load_csv: str = typer.Option(None, "--load-csv", help="Instead of --region: a CSV of hourly load, columns time,load_mw."),
                 curtailment: str = typer.Option("0.25,0.5,1", "--curtailment", help="Curtailment limits, % of the new load's annual energy (or hours with --by hours), comma-separated."),
                 by: str = typer.Option("energy", "--by", help="'energy': limit the curtailed share of energy (the study's method); 'hours': the share of hours with curtailment."),
                 years: str = typer.Option(None, "--years", help="Years to analyse, e.g. 2016-2024 or 2022,2023 (default: all shipped)."),
                 planning_peak: str = typer.Option("seasonal", "--planning-peak", help="'seasonal' (max summer / winter load, the study's) or 'annual' (all-time peak)."),
                 value_usd_per_mwh: str = typer.Option(None, "--value-usd-per-mwh", help="Value of a MWh of the new load not served (pause/shift cost), USD/MWh (default 100)."),
                 max_delay_h: int = typer.Option(4, "--max-delay-h", min=0, max=168, help="Shift mode: hours curtailed work may be delayed."),
                 min_power_frac: str = typer.Option("0.3", "--min-power-frac", help="Pause mode: share of power the load can throttle down to before it must pause (0 to 1)."),
                 json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Largest constant new load a balancing authority takes with curtailment limited to r %, its events, and their cost."""
        res = api.grid_headroom(region, load_csv=load_csv, curtailment_pct=_pcts(curtailment), by=by, years=_years(years),
                                planning_peak=planning_peak, flex=_flex(value_usd_per_mwh, max_delay_h, min_power_frac))
        if json_:
            print_json(res.to_dict())
            return
        c = Console(width=max(Console().width, 150))  # ten numeric columns: never cut a number or its unit
        first = res.results[len(res.results) // 2]
        c.print(f"{res.region} ({min(res.years)}-{max(res.years)}): about {first.headroom_w / 1e9:.1f} GW of constant new load fits if it accepts "
                f"{first.curtailment_pct:g} % curtailment - about {first.curtailed_hours_per_year:.0f} hours a year in "
                f"{first.events_per_year:.0f} events of {first.mean_event_h:.1f} h on average, keeping {first.load_kept_frac_median:.0%} of its power (median).")
        t = Table(title=f"headroom (planning peak: {res.planning_peak}; limit on {res.by})")
        for col in ("curtailment (%)", "headroom (GW)", "study (GW)", "events / year", "curtailed h / year", "mean event (h)",
                    "longest (h)", "load kept, median", "pause cost (M$/yr)", "shifted later"):
            t.add_column(col)
        for r in res.results:
            t.add_row(f"{r.curtailment_pct:g}", f"{r.headroom_w / 1e9:.2f}", f"{r.study_headroom_w / 1e9:.1f}" if r.study_headroom_w else "-",
                      f"{r.events_per_year:.1f}", f"{r.curtailed_hours_per_year:.0f}", f"{r.mean_event_h:.1f}", f"{r.max_event_h:.0f}",
                      f"{r.load_kept_frac_median:.0%}", f"{r.pause_cost_usd_per_year / 1e6:.1f}", f"{r.shift_served_later_frac:.0%}")
        c.print(t)
        c.print(f"Planning peaks: summer {res.summer_threshold_w / 1e9:.1f} GW, winter {res.winter_threshold_w / 1e9:.1f} GW; load factor {res.load_factor_frac:.0%}.")
        for n in res.notes[:20]:
            c.print(f"note: {n}")
        c.print(f"Method: {res.method}. Data: {res.source}")

    app.add_typer(g, name="grid")
