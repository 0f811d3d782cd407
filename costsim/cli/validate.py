"""`costsim validate [--json]`: every validation case, expected vs predicted; exit 1 on a miss."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import print_json
from costsim.validation.engine import run_cases, summarize, summary_sentence
from costsim.validation.labels import metric_display


#: exceptions a runner raises while reading a case's inputs (wrong types, values it cannot convert): a user's case
#: file that triggers them is bad input, as is one whose request the command it stands for would refuse (InputError)
BAD_INPUT_ERRORS = ("ValueError", "TypeError", "ValidationError", "KeyError", "InputError")


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(json_: bool = typer.Option(False, "--json", help="Print one JSON document."),
                 kind: str = typer.Option(None, "--kind", help="Only cases of this runner kind."),
                 cases_path: str = typer.Option(None, "--cases", help="A YAML file of your own cases, or a folder of them, in "
                                                "the format of costsim/validation/cases/*.yaml (id, kind, source, inputs, metric, "
                                                "expected, tolerance_frac, tolerance_reason); runs those instead of the shipped cases."),
                 id_: str = typer.Option(None, "--id", help="Only cases whose id contains this text (case-insensitive)."),
                 write_bands: bool = typer.Option(False, "--write-bands", help="Rewrite costsim/data/validation_errors.json, "
                                                  "the per-case errors behind the trust ranges of train/serve/run results "
                                                  "(all cases only).")) -> None:
        """Run every validation case against published measurements; exit 1 if any case fails."""
        from pathlib import Path

        from costsim.errors import InputError
        from costsim.validation.engine import load_cases
        from costsim.validation.runners import RUNNERS

        if write_bands and (kind is not None or id_ is not None or cases_path is not None):
            raise InputError("--write-bands needs every shipped case; drop --kind, --id and --cases.", field="--write-bands")
        if kind is not None and kind not in RUNNERS:
            raise InputError(f"unknown validation kind '{kind}' for --kind; registered kinds: {', '.join(sorted(RUNNERS))}.",
                             field="kind")
        cases = [c for c in load_cases(Path(cases_path).expanduser() if cases_path else None)
                 if (kind is None or c.kind == kind) and (id_ is None or id_.lower() in c.id.lower())]
        if not cases:
            if kind is None and id_ is None:
                raise InputError(f"no validation cases in '{cases_path}': its YAML files hold no cases.", field="--cases")
            shown = id_ if id_ is None or len(id_) <= 80 else id_[:77] + "..."
            raise InputError("no validation case matches " + " and ".join(
                x for x in (f"--kind {kind}" if kind else "", f"--id {shown!r}" if id_ else "") if x)
                + "; `costsim validate --json` lists every case id and kind.", field="--id" if id_ else "--kind")
        results = run_cases(cases)
        summary = summarize(results)
        from costsim.core.trust import records_from_rows, regime_table
        from costsim.validation.bands import error_rows, write_records

        regimes = regime_table(records_from_rows(error_rows(cases, results)))
        if write_bands:
            path = write_records(cases, results)
            typer.echo(f"wrote {path}", err=True)
        if json_:
            print_json({"summary": summary, "by_regime": regimes, "cases": [r.model_dump() for r in results]})
        else:
            Console(width=200).print(summary_sentence(summary))
            t = Table(title="validation")
            for c in ("case", "metric, unit", "expected", "predicted", "error", "tol", "fit?", "pass"):
                t.add_column(c)
            for r in results:
                err = "-" if r.error_frac is None else f"{100 * r.error_frac:+.1f}%"
                status = {"pass": "PASS", "known_gap": "GAP", "fail": "FAIL"}[r.status]
                shown = metric_display(r.metric)
                t.add_row(r.id, shown.label, shown.text(r.expected), shown.text(r.predicted), err, f"{100 * r.tolerance_frac:.0f}%",
                          "fit" if r.used_for_fit else "", status + (f" ({r.message})" if r.message else ""))
            Console(width=200).print(t)
            rt = Table(title="held-out error by regime (published / predicted - 1; speed for training and serving)")
            for c in ("family", "vendor", "scale", "models", "cases", "median |error|", "p10", "p90", "worst |error|"):
                rt.add_column(c)
            for g in regimes:
                rt.add_row(g["family"], g["vendor"], g["scale"], g["models"], str(g["cases"]), f"{100 * g['median_abs_frac']:.1f}%",
                           f"{100 * g['p10_frac']:+.1f}%", f"{100 * g['p90_frac']:+.1f}%", f"{100 * g['worst_abs_frac']:.1f}%")
            if regimes:
                Console(width=200).print(rt)
            Console(width=200).print(summary_sentence(summary))
        bad = [r for r in results if cases_path and r.message and r.message.split(":", 1)[0] in BAD_INPUT_ERRORS]
        if bad:  # a user's case file whose inputs cannot be read is bad input (exit 2), not a miss of the model
            r = bad[0]
            more = f" ({len(bad) - 1} more case(s) likewise)" if len(bad) > 1 else ""
            why = r.message[:300]
            if why.startswith("KeyError: "):  # a field its kind needs is not there
                why = f"inputs.{why[len('KeyError: '):].strip(chr(39))} is missing"
            raise InputError(f"case {r.id[:80]} in --cases has inputs costsim cannot read or refuses: {why}{more}; fix its "
                             "inputs (the shipped case files show each kind's fields and types).", field="--cases")
        if summary["failed"]:
            raise typer.Exit(1)
