"""`costsim run`, `costsim sweep`, `costsim query`, `costsim schema`."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import List, Optional

import typer

from costsim.cli.common import EXIT_INFEASIBLE, print_json, wall_limit_s
from costsim.numtext import sig


def _headline(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from costsim.report.fmt import fmt_range, fmt_value, headline_rows, label

    from costsim.report.conclusion import conclusion

    con = Console()
    for line in conclusion(result):  # the answer first, as in the report
        con.print(line)
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
        t.add_row(f"{part}: {label(k, part)}", *cells)  # as report.html labels it (serving: per output token)
    from costsim.api.run import part_error_band
    from costsim.core.trust import pct_text

    parts = list(dict.fromkeys(p for v in result.variants for p in v.parts))
    for part in [p for p in parts if p in ("training", "serving")]:
        for family, what in ((None, "throughput"), ("power", "power and energy")):
            cells = []
            for v in result.variants:
                b = part_error_band(part, v.scenario, family, v.parts[part].summary) if part in v.parts else None
                cells.append(f"{pct_text(b['low_frac'])} to {pct_text(b['high_frac'])}\n[dim]{b['cases']} cases[/]" if b else "-")
            t.add_row(f"{part}: trust range of {what} (published vs ours, p10-p90 of held-out cases)", *cells)
    con.print(t)
    for line in _problems(result):
        con.print(f"[yellow]{line}[/]")


def _problems(result) -> list[str]:
    """One line per variant whose training did not complete or could not run under the grid cap, with the
    reason the simulation recorded (the table alone shows 'no')."""
    out = []
    for v in result.variants:
        pr = v.parts.get("training")
        s = pr.summary if pr else None
        if not s or (s.get("completed") is not False and s.get("grid_cap_feasible") is not False):
            continue
        why = [n for n in s.get("notes") or [] if "infeasible" in n or "cap" in n]
        from costsim.report.fmt import fmt_value

        # the window in its own unit: a one-hour window read 'did not complete in 0.0 simulated days'
        window = fmt_value("wall_time_s", s.get("wall_time_s"))
        proj = s.get("projected_wall_time_s")
        head = (f"{v.name}: training cannot run" if s.get("grid_cap_feasible") is False
                else f"{v.name}: training did not complete in the {window} simulated"
                + (f" (whole run projected at {fmt_value('wall_time_s', proj)})" if isinstance(proj, (int, float)) else ""))
        out.append(head + (f" ({'; '.join(why)})" if why else "") + ".")
    return out


def _uncertainty_table(doc) -> None:
    from rich.console import Console
    from rich.table import Table

    from costsim.report.uncertainty import _top_driver, _val, conclusion, driver_text, metric_label

    con = Console()
    con.print(conclusion(doc))
    for v, vd in (doc.get("variants") or {}).items():
        t = Table(title=f"uncertainty ({v}): {points_text(doc)}, {doc.get('design')} design")
        for c in ("output", "P10", "P50", "P90", "main driver (total index)"):
            t.add_column(c, justify="left" if c in ("output", "main driver (total index)") else "right")
        for m, st in (vd.get("metrics") or {}).items():
            b = st.get("band") or {}
            top = _top_driver(st)
            t.add_row(metric_label(m), _val(m, b.get("p10")), _val(m, b.get("p50")), _val(m, b.get("p90")),
                      driver_text(top))
        con.print(t)


def points_text(doc: dict) -> str:
    """'1,792 design rows on 1,728 distinct points' where rows repeat a point (the progress bar counts the points),
    else '1,792 evaluations'."""
    rows, distinct = doc.get("points"), doc.get("distinct_points")
    if isinstance(rows, int) and isinstance(distinct, int) and distinct != rows:
        return f"{rows:,} design rows on {distinct:,} distinct points (rows that repeat a point run it once)"
    return f"{rows:,} evaluations" if isinstance(rows, int) else f"{rows} evaluations"


#: the most characters of one value a query's table shows (--json prints it whole)
MAX_CELL_CHARS = 200


def _cell_text(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):  # 2,901,690 not 2.90169e+06; an exponent only for the very small or the huge
        t = sig(x, 6) if x == 0 or (math.isfinite(x) and 1e-4 <= abs(x) < 1e15) else f"{x:.6g}"
    else:
        t = str(x)
    return t if len(t) <= MAX_CELL_CHARS else t[:MAX_CELL_CHARS] + f"... ({len(t):,} characters; --json prints it whole)"


def _in_run_flags(message: str) -> str:
    """A sweep's work refusal reworded for `run --samples`: its flags are --samples-mode, --samples, --max-hours and
    --allow-long; it has no --grid, --seeds, --executor or --workers."""
    out = message.replace("--mode core", "--samples-mode core").replace("--mode sim", "--samples-mode sim")
    out = re.sub(r";? ?[Ss]pread it over workers \(--executor process --workers N\)", "", out)
    out = out.replace("sweep fewer --grid values or --samples", "draw fewer --samples")
    out = out.replace("Sweep fewer --grid values or --samples", "Draw fewer --samples")
    out = out.replace("this sweep is estimated", "this uncertainty study is estimated").replace("this sweep would", "this uncertainty study would")
    return out.replace(" (finished points are kept, so a re-run resumes)", "")  # a refused run leaves nothing to resume


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        scenario: str = typer.Argument(..., help="Scenario YAML file (see scenarios/ and `costsim schema`)."),
        out: str = typer.Option(..., "--out", "-o", help="Output directory (created): scenario.yaml, metadata.json, summary.json, timeseries.parquet, tables.parquet (per-request and per-event tables, when a simulation gives any), report.html/.xlsx/.pdf."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Seed (default: simulation.seed of the scenario)."),
        set_: List[str] = typer.Option([], "--set", help="Override a field: path=value (e.g. training.num_gpus=2048, simulation.duration_s=3600). Repeatable."),
        pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Print report.pdf with a headless Chromium when one is installed."),
        as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of a table."),
        samples: Optional[int] = typer.Option(None, "--samples", help="Uncertainty study: base samples drawn from the scenario's `uncertainty:` section (Sobol': a power of two). Default: uncertainty.samples of the scenario, else none; 0 turns it off."),
        sampler: Optional[str] = typer.Option(None, "--sampler", help="sobol (scrambled), lhs (Latin hypercube) or random; default: uncertainty.sampler."),
        samples_mode: str = typer.Option("core", "--samples-mode", help="What evaluates the samples: core (closed-form cores, batched; fast) or sim (the simulations)."),
        sensitivity: Optional[bool] = typer.Option(None, "--sensitivity/--no-sensitivity", help="Sobol' indices (samples x (inputs + 2) evaluations); default: uncertainty.sensitivity."),
        allow_long: bool = typer.Option(False, "--allow-long", help="Run a scenario (its replicates) or an uncertainty study estimated to take longer than the limit (--max-hours, default 1 h)."),
        max_hours: float = typer.Option(1.0, "--max-hours", min=0.0, help="Refuse runs estimated to take longer than this, hours (estimated after each part's first replicate, and before an uncertainty study; the estimate is printed)."),
    ) -> int:
        """Run a scenario file: simulate each variant, write data files and reports to --out."""
        from pathlib import Path

        from costsim.api.run import load_scenario, run_scenario, summary_doc
        from costsim.errors import InputError
        from costsim.report import write_run

        s = load_scenario(scenario, set_)
        n = samples if samples is not None else (s.uncertainty.samples if s.uncertainty is not None and s.uncertainty.samples else 0)
        if n < 0:
            raise InputError(f"--samples must be >= 0, got {n}.", field="--samples")
        if samples_mode not in ("core", "sim"):
            raise InputError(f"--samples-mode must be core or sim, got {samples_mode!r}.", field="--samples-mode")
        doc = None
        if n:
            from costsim.sweep.uncertainty import design_for

            design_for(s, n, mode=samples_mode, sampler=sampler, sensitivity=sensitivity)  # bad input: exit 2 before the run
        from costsim.api.run import output_staging

        stage = output_staging(out)  # the run writes here; the finished directory replaces --out whole
        try:
            limit_s = wall_limit_s(max_hours, allow_long)
            result = run_scenario(s, seed=seed, source=scenario, max_wall_s=limit_s)
            if n:
                from costsim.sweep.uncertainty import study

                try:
                    doc = study(s, out=stage / "uncertainty", samples=n, mode=samples_mode, sampler=sampler, sensitivity=sensitivity,
                                max_wall_s=float("inf") if allow_long else limit_s, source=scenario, progress=not as_json)
                except InputError as exc:  # the sweep's refusal, in `run`'s flags
                    raise InputError(_in_run_flags(exc.message), field=exc.field) from None
                result.extra["uncertainty"] = doc
            written = write_run(result, out, pdf=pdf, stage=stage)
            if doc is not None:  # paths inside the study's document name the final directory
                doc = json.loads(json.dumps(doc, default=str).replace(str(stage), str(Path(out))))
                result.extra["uncertainty"] = doc
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)  # nothing half-written is left behind
            raise
        if as_json:
            from costsim.report.conclusion import conclusion

            sd = summary_doc(result, conclusion(result))
            if doc is not None:
                sd["uncertainty"] = doc
            print_json(sd)
        else:
            _headline(result)
            if doc is not None:
                _uncertainty_table(doc)
            typer.echo(f"wrote {len(written['files'])} files to {out}: {', '.join(sorted(written['files']))}", err=True)
            if doc is not None:
                typer.echo(f"uncertainty study: {points_text(doc)} in {doc.get('store')} (uncertainty.json; "
                           f"`costsim query {doc.get('store')} \"SELECT ...\"`)", err=True)
        for n in written["notices"]:
            typer.echo(n, err=True)
        for v in result.variants:
            for w in v.site.get("warnings") or []:
                typer.echo(f"warning ({v.name}): {w}", err=True)
        if not result.feasible:
            typer.echo("infeasible: no variant of this scenario is feasible (see summary.json for the reasons).", err=True)
            raise typer.Exit(EXIT_INFEASIBLE)
        return 0

    @app.command("sweep")
    def sweep_cmd(
        scenario: str = typer.Argument(..., help="Scenario YAML file."),
        out: str = typer.Option(..., "--out", "-o", help="Results directory: points/scenario=<hash>/variant=<name>/part-*.parquet (a hive-partitioned Parquet dataset: pandas.read_parquet(DIR/points) reads it), manifest.json, uncertainty.json, report.html. Re-running resumes."),
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
        sampler: Optional[str] = typer.Option(None, "--sampler", help="With the scenario's `uncertainty:` section and --samples: sobol (scrambled), lhs or random (default: uncertainty.sampler)."),
        sensitivity: Optional[bool] = typer.Option(None, "--sensitivity/--no-sensitivity", help="Uncertainty samples in a Saltelli design for Sobol' indices (samples x (inputs + 2) points); default: uncertainty.sensitivity."),
        use_uncertainty: bool = typer.Option(True, "--uncertainty/--no-uncertainty", help="--samples draws the scenario's `uncertainty:` inputs (when it has that section)."),
        batch: bool = typer.Option(True, "--batch/--no-batch", help="Core mode: evaluate points that differ only in broadcastable numbers as batched groups (same ids and rows; much faster)."),
        allow_long: bool = typer.Option(False, "--allow-long", help="Run a sweep estimated to take longer than the limit (--max-hours, default 1 h)."),
        max_hours: float = typer.Option(1.0, "--max-hours", min=0.0, help="Refuse sweeps estimated to run longer than this, hours (the estimate is printed)."),
    ) -> int:
        """Run many points of a scenario (grid x random or uncertainty samples x seeds) and store each as a Parquet row."""

        from costsim.api.run import load_scenario
        from costsim.errors import InputError
        from costsim.report import write_sweep_report
        from costsim.sweep import run_sweep
        from costsim.sweep.points import parse_grid, parse_random
        from costsim.sweep.uncertainty import analyze, design_for, design_manifest

        s = load_scenario(scenario, set_)
        g = parse_grid(grid)
        r = parse_random(random)
        limit_s = wall_limit_s(max_hours, allow_long)
        design = None
        if samples and use_uncertainty and s.uncertainty is not None:
            if r:
                raise InputError("--random and the scenario's uncertainty: section would both draw the samples; put the --random "
                                 "range into uncertainty.inputs (e.g. {dist: uniform, low: .., high: ..}) or pass --no-uncertainty.",
                                 field="--random")
            design = design_for(s, samples, mode=mode, sampler=sampler, sensitivity=sensitivity)
        elif r and samples < 1:
            raise InputError("--random needs --samples N (how many random points to draw).", field="--samples")
        elif samples and not r:
            raise InputError("--samples needs --random path=lo:hi (what to sample), or an uncertainty: section in the scenario; "
                             "without either leave --samples out.", field="--samples")
        if design is None and (sensitivity is not None or sampler is not None):  # they shape an uncertainty design only
            flag = "--sampler" if sampler is not None else ("--sensitivity" if sensitivity else "--no-sensitivity")
            raise InputError(f"{flag} applies to the samples of the scenario's uncertainty: section (with --samples N), which "
                             "this sweep does not draw; leave it out, or add an uncertainty: section (costsim schema).",
                             field=flag)
        res = run_sweep(s, out=out, grid=g, random=r, samples=samples, seeds=seeds, mode=mode, executor=executor,
                        address=address, workers=workers, progress=progress, flush_every=flush_every, source=scenario,
                        design=design, batched=batch, max_wall_s=limit_s,
                        manifest_extra=design_manifest(s, design) if design is not None else None, metric=metric)
        try:
            doc = analyze(out, metrics=[metric] if metric else None)
            res["uncertainty"] = str(Path(out) / "uncertainty.json") if doc else None
        except InputError as exc:
            if metric and exc.field == "--metric":  # an unknown --metric is bad input (exit 2), not a notice
                raise
            res["uncertainty"] = None
            res["uncertainty_notice"] = exc.message
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
            if res.get("work_estimate"):
                typer.echo(f"  estimate was: {res['work_estimate']}", err=True)
            for reason in res["lost_reasons"]:
                typer.echo(f"  {reason}; re-run the same command to resume", err=True)
            for n in res.get("notices") or []:
                typer.echo(f"notice: {n}", err=True)
        if res["ran"] and res["errors"] == res["ran"] and not res["skipped_finished"]:
            # nothing priced: say why once (each point's error is in the results) and exit 3, not success
            first = res.get("first_error") or "see the error column of the results (costsim query)"
            typer.echo(f"every point failed ({res['errors']:,} of {res['ran']:,}); the first: {first}", err=True)
            return 3
        return 0

    @app.command("query")
    def query_cmd(
        directory: str = typer.Argument(..., help="A sweep --out directory."),
        sql: str = typer.Argument(..., help="DuckDB SQL over the table `points`, e.g. \"SELECT variant, avg(training_wall_time_s) FROM points GROUP BY 1\"."),
        as_json: bool = typer.Option(False, "--json", help="Print rows as a JSON list of objects."),
        limit: int = typer.Option(200, "--limit", min=0, help="Most rows printed in the table view (JSON prints all)."),
    ) -> int:
        """Run DuckDB SQL over a sweep's results (table `points`)."""
        from costsim.errors import InputError
        from costsim.sweep.store import query

        if not sql.strip():
            raise InputError("the SQL is empty; give a query over the table `points`, e.g. \"SELECT count(*) FROM points\".",
                             field="sql")
        cols, rows = query(directory, sql)
        if as_json:
            print_json([dict(zip(cols, r)) for r in rows])
            return 0
        from rich.console import Console
        from rich.table import Table

        con = Console()
        cells = [[_cell_text(x) for x in r] for r in rows[:limit]]
        widest = [max([len(str(c))] + [len(r[j]) for r in cells]) for j, c in enumerate(cols)]
        if sum(min(w, 24) + 3 for w in widest) > con.width:
            # too many columns for one table (a `SELECT *` of a sweep has ~100): one block per row, a line per column
            con.print(f"{len(cols)} columns do not fit a {con.width}-column table: one block per row (select fewer "
                      "columns for a table, or --json)")
            name_w = min(max(len(str(c)) for c in cols), 48)
            for i, r in enumerate(cells, 1):
                con.print(f"[bold]row {i}[/]")
                for c, x in zip(cols, r):
                    con.print(f"  {str(c):<{name_w}}  {x}", markup=False, highlight=False)
        else:
            t = Table()
            for c in cols:
                t.add_column(str(c))
            for r in cells:
                t.add_row(*r)
            con.print(t)
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
            from costsim.errors import InputError

            try:
                with open(out, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, indent=2)
            except OSError as exc:
                raise InputError(f"--out {out}: cannot write the schema there ({exc.strerror}); give a file path in an "
                                 "existing, writable directory.", field="out") from None
            typer.echo(f"wrote {out}", err=True)
        else:
            print_json(doc)
        return 0
