"""`costsim validate [--json]`: every validation case, expected vs predicted; exit 1 on a miss."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import print_json
from costsim.validation.engine import run_cases, summarize


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(json_: bool = typer.Option(False, "--json", help="Print one JSON document."),
                 kind: str = typer.Option(None, "--kind", help="Only cases of this runner kind.")) -> None:
        """Run every validation case against published measurements; exit 1 if any case fails."""
        from costsim.errors import InputError
        from costsim.validation.engine import load_cases
        from costsim.validation.runners import RUNNERS

        if kind is not None and kind not in RUNNERS:
            raise InputError(f"unknown validation kind '{kind}' for --kind; registered kinds: {', '.join(sorted(RUNNERS))}.",
                             field="kind")
        cases = [c for c in load_cases() if kind is None or c.kind == kind]
        results = run_cases(cases)
        summary = summarize(results)
        if json_:
            print_json({"summary": summary, "cases": [r.model_dump() for r in results]})
        else:
            t = Table(title="validation")
            for c in ("case", "metric", "expected", "predicted", "error", "tol", "fit?", "pass"):
                t.add_column(c)
            for r in results:
                err = "-" if r.error_frac is None else f"{100 * r.error_frac:+.1f}%"
                status = {"pass": "PASS", "known_gap": "GAP", "fail": "FAIL"}[r.status]
                pred = "-" if r.predicted is None else f"{r.predicted:.4g}"
                t.add_row(r.id, r.metric, f"{r.expected:.4g}", pred, err, f"{100 * r.tolerance_frac:.0f}%",
                          "fit" if r.used_for_fit else "", status + (f" ({r.message})" if r.message else ""))
            Console(width=200).print(t)
            Console().print(summary)
        if summary["failed"]:
            raise typer.Exit(1)
