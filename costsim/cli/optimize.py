"""`costsim optimize`: a multi-objective design search (Optuna) over scenario fields, trials run as sweep points."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from costsim.cli.common import print_json, wall_limit_s
from costsim.report.fmt import path_label, path_value
from costsim.report.optimize import ends_text, objective_label, objective_number, trust_lines


def register(app: typer.Typer) -> None:
    @app.command("optimize")
    def optimize(
        scenario: str = typer.Argument(..., help="Scenario YAML file."),
        out: str = typer.Option(..., "--out", "-o", help="Study directory: optuna.db (resumable), trials.csv, pareto.json."),
        param: List[str] = typer.Option([], "--param", help="PATH=LO..HI[:log] or PATH=a,b,c (e.g. training.num_gpus=512..16384:log). Repeatable."),
        minimize: Optional[str] = typer.Option(None, "--minimize", help="Comma-separated objectives: usd, co2e, mwh, days, peak_mw or result columns."),
        maximize: Optional[str] = typer.Option(None, "--maximize", help="Comma-separated objectives to maximize."),
        constraint: List[str] = typer.Option([], "--constraint", help="COLUMN<=VALUE (or >=, <, >), e.g. ttft_p99_s<=2. Repeatable."),
        trials: int = typer.Option(40, "--trials", help="Completed trials wanted (a re-run resumes the study)."),
        batch: int = typer.Option(4, "--batch", help="Trials evaluated in parallel per round."),
        mode: str = typer.Option("core", "--mode", help="core (closed-form cores, fast) or sim (the simulations)."),
        confirm: bool = typer.Option(False, "--confirm", help="Re-evaluate the core-mode Pareto set with the simulations."),
        executor: str = typer.Option("local", "--executor", "-e", help="local | process | dask | ray."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Workers for process/dask/ray."),
        address: Optional[str] = typer.Option(None, "--address", help="Join an existing Dask or Ray cluster."),
        sampler: str = typer.Option("tpe", "--sampler", help="tpe (multi-objective TPE after a space-filling start: the box's two corners, then scrambled Sobol points, every categorical choice early) | nsga2 | random."),
        seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Sampler and simulation seed (0 to 2^32 - 1)."),
        as_json: bool = typer.Option(False, "--json", help="Print pareto.json to stdout."),
        allow_long: bool = typer.Option(False, "--allow-long", help="Run a study estimated to take longer than the limit (--max-hours, default 1 h)."),
        max_hours: float = typer.Option(1.0, "--max-hours", min=0.0, help="Refuse a study projected (after each round of trials) to take longer than this, hours; the trials done are kept and a re-run resumes."),
    ) -> None:
        """Search scenario fields for the best trade-offs (Pareto set) under constraints; resumable, on any executor."""
        from costsim.api.run import load_scenario
        from costsim.sweep.optimize import parse_constraint, parse_objectives, parse_param, run_optimize

        s = load_scenario(scenario)
        res = run_optimize(s, out=out, params=[parse_param(p) for p in param], objectives=parse_objectives(minimize, maximize),
                           constraints=[parse_constraint(c) for c in constraint], trials=trials, batch=batch, mode=mode,
                           executor=executor, workers=workers, address=address, sampler=sampler, seed=seed, confirm=confirm,
                           max_wall_s=wall_limit_s(max_hours, allow_long))
        from costsim.report.optimize import write_optimize_report

        report = write_optimize_report(res.out_dir)
        if as_json:
            print_json(res.__dict__)
            return
        con = Console(width=max(Console().width, 120))
        con.print(f"{len(res.pareto)} trade-offs on the Pareto front of {res.trials_complete} completed trials "
                  f"({res.trials_failed} failed, {res.evaluations_this_run} evaluated in this run); study {res.study} in {res.out_dir}.")
        if res.pareto:
            keys_p = list(res.pareto[0]["params"])
            keys_o = list(res.pareto[0]["objectives"])
            con.print("On the front, " + ends_text(res.pareto, keys_o))  # the answer: which design is best on each objective
            t = Table(title="Pareto set (feasible, non-dominated)")
            confirmed = any("confirmed" in p for p in res.pareto)
            heads = ["trial", *[path_label(k) for k in keys_p], *[objective_label(k) for k in keys_o],
                     *([f"{objective_label(k)} (simulated)" for k in keys_o] + ["constraints (simulated)"] if confirmed else [])]
            for c in heads:
                t.add_column(c)
            for p in res.pareto:
                sim = p.get("confirmed")
                extra = ([("-" if sim is None or sim.get(k) is None else objective_number(sim[k])) for k in keys_o]
                         + [{True: "met", False: "BROKEN", None: "-"}[p.get("confirmed_feasible")]] if confirmed else [])
                t.add_row(str(p["trial"]), *[path_value(k, p["params"][k]) for k in keys_p],
                          *[objective_number(p["objectives"][k]) for k in keys_o], *extra)
            con.print(t)
            for line in trust_lines(res.pareto):  # the designs' trust ranges, as train / serve / run print theirs
                con.print(line)
        for n in res.notes:
            con.print(n)
        con.print(f"wrote {report}")
        if not res.pareto:  # a valid search that found nothing feasible: say so and exit 3
            why = ("every trial failed" if res.trials_complete == 0 else
                   "no completed trial meets the constraints" if constraint else "no completed trial has every objective")
            typer.echo(f"no feasible trade-off: {why} ({res.trials_complete} completed, {res.trials_failed} failed); "
                       "see trials.csv in the study directory, widen the ranges or loosen --constraint.", err=True)
            raise typer.Exit(3)
