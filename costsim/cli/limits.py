"""`costsim limits`: the documented work limits, their current values and the variables that raise them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import print_json
from costsim.specs.limits import LIMITS


def register(app: typer.Typer) -> None:
    @app.command("limits")
    def limits(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Show the work limits every request is checked against before it runs (and how to raise them)."""
        rows = [{"key": lim.key, "limit": lim.value(), "default": lim.default, "unit": lim.unit,
                 "env_var": lim.env_var, "protects": lim.why} for lim in LIMITS.values()]
        if json_:
            print_json(rows)
            return
        Console().print("Requests above these limits are refused (exit 2) before any work starts; "
                        "raise a limit only on a machine that can hold the work.")
        t = Table(title="work limits")
        for c in ("limit", "value", "counts", "raise with"):
            t.add_column(c, no_wrap=c != "counts")
        for r in rows:
            t.add_row(r["key"], f"{r['limit']:,.0f}", r["unit"], f"{r['env_var']}=N")
        Console().print(t)
        for r in rows:
            Console().print(f"- {r['key']} protects {r['protects']}.")
