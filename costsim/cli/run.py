"""`costsim run`, `costsim sweep`, `costsim query`, `costsim schema`."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from costsim.cli.common import EXIT_INFEASIBLE, print_json


def _headline(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from costsim.report.fmt import fmt_range, fmt_value, headline_rows, label

    con = Console()
    t = Table(title=f"{result.scenario.name}  (run id {result.scenario_hash}, seed {result.seed})")
    t.add_column("metric")
    for v in result.variants:
        t.add_column(v.name, justify="right")
    rows = headline_rows(result)
    for part, k in rows:
        cells = []
        for v in result.variants:
            if part == "site":
                cells.append(fmt_value(k, v.site.get(k)))
                continue
            pr = v.parts.get(part)
            val = pr.summary.get(k) if pr else None
            rng = pr.ranges.get(k) if pr else None
            rtxt = fmt_range(k, rng) if rng else ""
            cells.append(fmt_value(k, val) + (f"\n[dim]{rtxt}[/]" if rtxt else ""))
        t.add_row(f"{part}: {label(k)}", *cells)
    con.print(t)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        scenario: str = typer.Argument(..., help="Scenario YAML file (see scenarios/ and `costsim schema`)."),
        out: str = typer.Option(..., "--out", "-o", help="Output directory (created): scenario.yaml, metadata.json, summary.json, timeseries.parquet, report.html/.xlsx/.pdf."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Seed (default: simulation.seed of the scenario)."),
        set_: List[str] = typer.Option([], "--set", help="Override a field: path=value (e.g. training.num_gpus=2048, simulation.duration_s=3600). Repeatable."),
        pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Print report.pdf with a headless Chromium when one is installed."),
        as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of a table."),
    ) -> int:
        """Run a scenario file: simulate each variant, write data files and reports to --out."""
        from costsim.api.run import load_scenario, run_scenario, summary_doc
        from costsim.report import write_run

        s = load_scenario(scenario, set_)
        result = run_scenario(s, seed=seed, source=scenario)
        written = write_run(result, out, pdf=pdf)
        if as_json:
            print_json(summary_doc(result))
        else:
            _headline(result)
            typer.echo(f"wrote {len(written['files'])} files to {out}: {', '.join(sorted(written['files']))}", err=True)
        for n in written["notices"]:
            typer.echo(n, err=True)
        if not result.feasible:
            typer.echo("infeasible: no variant of this scenario is feasible (see summary.json for the reasons).", err=True)
            raise typer.Exit(EXIT_INFEASIBLE)
        return 0

    @app.command("sweep")
    def sweep_cmd(
        scenario: str = typer.Argument(..., help="Scenario YAML file."),
        out: str = typer.Option(..., "--out", "-o", help="Results directory: a Parquet dataset (points-*.parquet), manifest.json, report.html. Re-running resumes."),
        grid: List[str] = typer.Option([], "--grid", help="path=v1,v2,... (cartesian product over all --grid). Repeatable."),
        random: List[str] = typer.Option([], "--random", help="path=lo:hi or path=lo:hi:log, sampled --samples times (integers for integer fields). Repeatable."),
        samples: int = typer.Option(0, "--samples", min=0, help="Random samples (with --random)."),
        seeds: int = typer.Option(1, "--seeds", help="Seeds per point: simulation.seed, +1, ... (Monte Carlo)."),
        executor: str = typer.Option("local", "--executor", "-e", help="local | process | dask | ray."),
        address: Optional[str] = typer.Option(None, "--address", help="Join an existing cluster (dask: tcp://host:8786; ray: host:6379 or auto)."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Workers for process/dask/ray started here (dask default 2)."),
        mode: str = typer.Option("sim", "--mode", help="sim: the discrete-event simulations; core: the closed-form training/serving cores (fast)."),
        set_: List[str] = typer.Option([], "--set", help="Override a field of the base scenario: path=value. Repeatable."),
        metric: Optional[str] = typer.Option(None, "--metric", help="Result column for the sensitivity tornado in report.html."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar with ETA."),
        flush_every: int = typer.Option(256, "--flush-every", min=1, help="Finished points per Parquet file (also flushed every 2 s): what a killed sweep can lose and re-run."),
        as_json: bool = typer.Option(False, "--json", help="Print the sweep counts as JSON."),
    ) -> int:
        """Run many points of a scenario (grid x random x seeds) and store each as a Parquet row."""
        from costsim.api.run import load_scenario
        from costsim.errors import InputError
        from costsim.report import write_sweep_report
        from costsim.sweep import run_sweep
        from costsim.sweep.points import parse_grid, parse_random

        s = load_scenario(scenario, set_)
        g = parse_grid(grid)
        r = parse_random(random)
        if r and samples < 1:
            raise InputError("--random needs --samples N (how many random points to draw).", field="--samples")
        if samples and not r:
            raise InputError("--samples needs --random path=lo:hi (what to sample); without --random leave --samples out.", field="--samples")
        res = run_sweep(s, out=out, grid=g, random=r, samples=samples, seeds=seeds, mode=mode, executor=executor,
                        address=address, workers=workers, progress=progress, flush_every=flush_every, source=scenario)
        try:
            res["report"] = str(write_sweep_report(out, metric=metric))
        except InputError as exc:
            res["report"] = None
            res["report_notice"] = exc.message
        if as_json:
            print_json(res)
        else:
            typer.echo(f"{res['points_total']} points: {res['ran']} run ({res['errors']} failed), {res['skipped_finished']} already done, "
                       f"{res['lost']} lost to executor failures; {res['wall_s']:.2f} s -> {out}")
            for reason in res["lost_reasons"]:
                typer.echo(f"  {reason}; re-run the same command to resume", err=True)
        return 0

    @app.command("query")
    def query_cmd(
        directory: str = typer.Argument(..., help="A sweep --out directory."),
        sql: str = typer.Argument(..., help="DuckDB SQL over the table `points`, e.g. \"SELECT variant, avg(training_time_to_train_s) FROM points GROUP BY 1\"."),
        as_json: bool = typer.Option(False, "--json", help="Print rows as a JSON list of objects."),
        limit: int = typer.Option(200, "--limit", min=0, help="Most rows printed in the table view (JSON prints all)."),
    ) -> int:
        """Run DuckDB SQL over a sweep's results (table `points`)."""
        from costsim.sweep.store import query

        cols, rows = query(directory, sql)
        if as_json:
            print_json([dict(zip(cols, r)) for r in rows])
            return 0
        from rich.console import Console
        from rich.table import Table

        t = Table()
        for c in cols:
            t.add_column(str(c))
        for r in rows[:limit]:
            t.add_row(*["" if x is None else (f"{x:.6g}" if isinstance(x, float) else str(x)) for x in r])
        Console().print(t)
        if len(rows) > limit:
            typer.echo(f"({len(rows) - limit} more rows; use --limit or --json)", err=True)
        return 0

    @app.command("schema")
    def schema_cmd(
        out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the JSON Schema to this file instead of stdout."),
    ) -> int:
        """Print the JSON Schema of scenario files (for editor completion)."""
        from costsim.specs.scenario import scenario_json_schema

        doc = scenario_json_schema()
        if out:
            with open(out, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2)
            typer.echo(f"wrote {out}", err=True)
        else:
            print_json(doc)
        return 0
