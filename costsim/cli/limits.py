"""`costsim limits`: the documented work limits, their current values and the variables that raise them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import fmt_si, print_json
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
        console = Console()
        console.print("Requests above these limits are refused (exit 2) before any work starts; "
                      "raise a limit only on a machine that can hold the work.")
        # the variable that raises each limit gets a column only where the terminal holds it (an 80-column terminal
        # folded the table into one-word cells); the list below always names it
        wide = console.width >= 140
        t = Table(title="work limits")
        for c in ("limit", "value", "counts") + (("raise with",) if wide else ()):
            t.add_column(c, no_wrap=c != "counts")
        for r in rows:
            shown = fmt_si(r["limit"], "B") if r["unit"].startswith("bytes") else f"{r['limit']:,.0f}"  # 8 GB, not 8,000,000,000
            t.add_row(r["key"], shown, r["unit"], *((f"{r['env_var']}=N",) if wide else ()))
        console.print(t)
        for r in rows:
            console.print(f"- {r['key']} protects {r['protects']}. Raise it with {r['env_var']}=N.")
