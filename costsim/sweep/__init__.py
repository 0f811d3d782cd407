"""costsim.sweep: many points of one scenario, on a local, process, Dask or Ray executor, stored as
a Parquet dataset (partitioned by scenario and variant) that `costsim query` reads with DuckDB.

`run_sweep(scenario, grid=..., random=..., samples=..., seeds=..., design=..., executor=..., out=...)`:
points = cartesian grid x random samples (or an uncertainty design) x seeds (x the scenario's
variants). In core mode, points that differ only in broadcastable numbers run as batched groups
(costsim.sweep.batched); otherwise one point at a time (costsim.sweep.points). The work is
estimated before it runs (costsim.sweep.workload) and refused past the limit unless allowed.
Finished points are stored in batches (atomic writes), small files are compacted at the end, and
a re-run skips every stored point id (resume).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from costsim.errors import InputError
from costsim.numtext import plural
from costsim.specs.scenario import Scenario, scenario_hash
from costsim.sweep.batched import GroupResult, GroupTask, build_plan, enumerate_plan
from costsim.sweep.executors import EXECUTORS, get_executor
from costsim.sweep.points import MODES, RandomSpec, build_tasks, evaluate_point, parse_grid, parse_random
from costsim.sweep.store import ResultStore, connect, query
from costsim.sweep.workload import (DEFAULT_MAX_WALL_S, SweepWorkEstimate, check_base_scenario, check_budget, check_points,
                                    estimate_work)

__all__ = ["run_sweep", "EXECUTORS", "MODES", "parse_grid", "parse_random", "query", "connect", "ResultStore",
           "SweepWorkEstimate", "count_points"]


def _batches(tasks: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def count_points(scenario: Scenario, *, grid: list[tuple[str, list[Any]]] | None, samples: int, seeds: int,
                 design: Any = None) -> int:
    """Points of a sweep, counted without enumerating them (repeated values counted twice)."""
    nv = len(scenario.variants) + (1 if scenario.simulation.include_base or not scenario.variants else 0)
    ng = math.prod(len(v) for _, v in (grid or [])) if grid else 1
    ns = design.num_points if design is not None else (samples if samples else 1)
    return nv * ng * ns * max(int(seeds), 1)


def _probe_core(scenario: Scenario) -> tuple[float, dict[str, Any] | None]:
    """(seconds of one per-point core evaluation of the scenario (the batched cost of a group), its
    result columns (None when it failed))."""
    from costsim.sweep.points import evaluate_core

    t0 = time.perf_counter()
    row = None
    try:
        row = evaluate_core(scenario)
    except Exception:  # noqa: BLE001 - the sweep records it per point; the probe only times
        pass
    return time.perf_counter() - t0, row


def _check_metric(metric: str | None, scenario: Scenario, probe_row: Mapping[str, Any] | None) -> None:
    """An unknown --metric refused before the sweep runs, from the probed point's columns. Only when the
    scenario has no variants (a variant may add a part, hence columns) and the probe gave a row; the
    stored results are checked again after the run (costsim.sweep.uncertainty.analyze)."""
    if not metric or probe_row is None or scenario.variants or probe_row.get("status") == "error":
        return
    if metric in probe_row:
        return
    from costsim.sweep.uncertainty import numeric_columns, unknown_metric_message

    raise InputError(unknown_metric_message([metric], numeric_columns(probe_row)) + " Nothing was run.", field="--metric")


def _probe_batched(scenario: Scenario, *, grid: list[tuple[str, list[Any]]] | None, random: list[RandomSpec] | None,
                   samples: int, seeds: int, mode: str, design: Any) -> float | None:
    """Seconds per point when the batched path evaluates the sweep's first points one at a time (its
    work unit fell back to the per-point path: the estimate must then use that cost), else None.
    Runs the first group on at most 2 points (2 seeds, or 2 values of the first grid path)."""
    from costsim.sweep.batched_eval import evaluate_group

    small_grid = [(p, v[:2] if i == 0 else v[:1]) for i, (p, v) in enumerate(grid or [])]
    small = build_plan(scenario, grid=small_grid, random=random, samples=min(samples, 1) if random else 0,
                       seeds=min(int(seeds), 2), mode=mode, design=_first_of(design))
    if small is None or not small.groups:
        return None
    small.groups = small.groups[:1]
    try:
        enum = enumerate_plan(small, chunk_points=2)
    except Exception:  # noqa: BLE001 - enumeration errors surface in the sweep itself
        return None
    unit = next((t for t in enum.tasks if isinstance(t, GroupTask)), None)
    if unit is None:  # the first group runs point by point anyway (invalid representative): costed as batched
        return None
    t0 = time.perf_counter()
    res = evaluate_group(unit)
    return None if isinstance(res, GroupResult) else (time.perf_counter() - t0) / max(len(unit), 1)


def _first_error(rows: list[dict[str, Any]]) -> str | None:
    """The error of the first failed row that carries one (None when none does)."""
    return next((r.get("error") for r in rows if r.get("status") != "ok" and r.get("error")), None)


def _table_first_error(table: Any) -> str | None:
    """The error of a batched group's first failed row that carries one (None when none does)."""
    import pyarrow.compute as pc

    if "error" not in table.column_names or "status" not in table.column_names:
        return None
    failed = table.filter(pc.and_(pc.not_equal(table["status"], "ok"), pc.is_valid(table["error"])))
    return str(failed["error"][0].as_py()) if failed.num_rows else None


def run_sweep(
    scenario: Scenario,
    *,
    out: str,
    grid: list[tuple[str, list[Any]]] | None = None,
    random: list[RandomSpec] | None = None,
    samples: int = 0,
    seeds: int = 1,
    mode: str = "sim",
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    batch_size: int | None = None,
    flush_every: int = 256,
    flush_s: float = 2.0,
    progress: bool = False,
    on_result: Callable[[int, int], None] | None = None,
    source: str | None = None,
    design: Any = None,
    batched: bool = True,
    chunk_points: int | None = None,
    max_wall_s: float | None = DEFAULT_MAX_WALL_S,
    compact: bool = True,
    manifest_extra: dict[str, Any] | None = None,
    metric: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) a sweep; returns counts. `on_result(done, total)` after every batch.
    `design`: an uncertainty SampleDesign (its points replace --random samples). `batched=False`
    forces the per-point path in core mode. `max_wall_s=None` lifts the work limit. `metric`: the
    result column the report analyses (--metric): an unknown one is refused after the probe, before the run."""
    if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
        raise InputError(f"--workers must be >= 1, got {workers}; leave it out for the executor's default.", field="--workers")
    run = get_executor(executor)
    if mode not in MODES:
        raise InputError(f"unknown sweep mode '{mode}'; use one of {', '.join(MODES)}.", field="--mode")
    if seeds < 1:
        raise InputError("--seeds must be >= 1.", field="--seeds")
    if samples and not random and design is None:
        raise InputError("--samples needs --random path=lo:hi (what to sample); without --random leave --samples out.", field="--samples")
    # bad input every point would inherit (training.num_gpus = 1e23) is refused as `costsim run` refuses it, not run as
    # a sweep whose every point fails; a field a sweep axis sets is left to the points
    swept = [p for p, _ in grid or []] + [r.path for r in random or []] + list(getattr(design, "paths", None) or [])
    check_base_scenario(scenario, swept_paths=swept, mode=mode)
    # before anything is laid out: the count, and the least work and memory any plan of that many points needs (one
    # group, no columns), so a sweep of a billion samples is refused in a second, not after it has filled the memory
    pre = count_points(scenario, grid=grid, samples=samples if random else 0, seeds=seeds, design=design)
    check_points(pre, batched=batched and mode == "core")
    if batched and mode == "core":
        check_budget(estimate_work(points=pre, groups=1, mode=mode, batched=True, probe_s=0.0, executor=executor, workers=workers),
                     max_wall_s=max_wall_s, seeds=seeds, executor=executor)
    plan = build_plan(scenario, grid=grid, random=random, samples=samples, seeds=seeds, mode=mode, design=design) if batched else None
    total_est = plan.points_total if plan is not None else count_points(scenario, grid=grid, samples=samples, seeds=seeds, design=design)
    check_points(total_est, batched=plan is not None)
    store = ResultStore(out)
    _same_sweep(store, scenario, mode, out)
    t_setup = time.perf_counter()
    probe_rows: list[dict[str, Any]] = []
    if plan is not None:
        probe, probe_cols = _probe_core(scenario)
        _check_metric(metric, scenario, probe_cols)
        columns = len(probe_cols or {})
        unit_points = chunk_points or _chunk(total_est, executor, workers)
        fallback_s = _probe_batched(scenario, grid=grid, random=random, samples=samples, seeds=seeds, mode=mode, design=design)
        est = estimate_work(points=total_est, groups=len(plan.groups), mode=mode, batched=True, probe_s=probe,
                            executor=executor, workers=workers, columns=columns, unit_points=unit_points,
                            fallback_s_per_point=fallback_s)
        check_budget(est, max_wall_s=max_wall_s, seeds=seeds, executor=executor)
        enum = enumerate_plan(plan, done=store.finished_id_array(), chunk_points=unit_points)
        todo: list[Any] = enum.tasks
        if enum.positions is not None:
            store.write_design(enum.positions)
        points_total = enum.points_total
        skipped = enum.skipped
        n_todo = sum(len(t) for t in todo)
    else:
        # probe: the sweep's first point and its far corner (the last value of every --grid path, the last variant),
        # each built alone so the estimate comes before enumerating the rest; a grid of loads or sizes usually runs
        # from cheap to dear, and its first point alone had sized a 10-rate serving sweep at a quarter of its time
        probes = _probe_tasks(scenario, grid=grid, random=random, samples=samples, mode=mode, design=design)
        done_ids = store.finished_ids()
        times = []
        for task in probes:
            t0 = time.perf_counter()
            probe_rows.append(evaluate_point(task))
            times.append(time.perf_counter() - t0)
        probe_s = sum(times) / len(times) if times else 0.0
        _check_metric(metric, scenario, probe_rows[0] if probe_rows else None)
        # resumed: a probed point stored already is not stored twice (its timing still sizes the rest)
        probe_rows = [r for r in probe_rows if r["point_id"] not in done_ids]
        remaining = max(total_est - len(done_ids), 1)
        est = estimate_work(points=remaining, groups=0, mode=mode, batched=False, probe_s=probe_s, executor=executor, workers=workers,
                            columns=max((len(r) for r in probe_rows), default=0))
        if max_wall_s is not None and est.wall_s > max_wall_s and probe_rows:
            store.append(probe_rows)  # a refused sweep keeps the points it measured
        check_budget(est, max_wall_s=max_wall_s, seeds=seeds, executor=executor)
        positions: list[dict[str, Any]] = []
        tasks = build_tasks(scenario, grid=grid, random=random, samples=samples, seeds=seeds, mode=mode, design=design, positions=positions)
        if positions:
            store.write_design({k: [p[k] for p in positions] for k in positions[0]})
        done_ids = done_ids | {r["point_id"] for r in probe_rows}
        pending = [t for t in tasks if t["point_id"] not in done_ids]
        points_total = len(tasks)
        skipped = len(tasks) - len(pending) - len(probe_rows)
        todo = pending
        n_todo = len(todo)
    store.write_manifest({
        "scenario": scenario.name, "scenario_hash": scenario_hash(scenario), "source": source,
        "scenario_doc": scenario.model_dump(mode="json"),
        "grid": [[p, v] for p, v in (grid or [])], "random": [r.__dict__ for r in (random or [])],
        "samples": samples, "seeds": seeds, "mode": mode, "executor": executor,
        "batched": plan is not None, "groups": len(plan.groups) if plan is not None else None,
        "points_total": points_total, "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "work_estimate": est.__dict__ if est is not None else None,
        **(manifest_extra or {}),
    })
    if plan is not None:
        batches: list[Any] = [t for t in todo if isinstance(t, GroupTask)]
        legacy = [t[0] for t in todo if not isinstance(t, GroupTask)]
    else:
        batches, legacy = [], todo
    if batch_size is None:
        nw = workers or 2
        batch_size = 1 if executor == "local" else max(1, min(64, math.ceil(len(legacy) / (nw * 16)) if legacy else 1))
    batches += _batches(legacy, batch_size)
    setup_s = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    buffer: list[dict[str, Any]] = list(probe_rows)
    n_done = len(buffer)
    n_err = sum(1 for r in buffer if r.get("status") != "ok")
    first_error = _first_error(buffer)
    lost: list[str] = []
    last_flush = time.perf_counter()
    total_run = n_todo + n_done

    bar = None
    task_id = None
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]sweep[/] {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))
        bar.start()
        task_id = bar.add_task(f"{executor}", total=total_run, completed=n_done)

    def flush() -> None:
        nonlocal buffer, last_flush
        store.append(buffer)
        buffer = []
        last_flush = time.perf_counter()

    try:
        if len(buffer) >= flush_every:  # the probed points, stored as one file of their own
            flush()
        if batches:
            for batch, rows in run(batches, address=address, workers=workers):
                if isinstance(rows, BaseException):
                    lost.append(f"{len(batch)} point(s) lost to an executor failure: {type(rows).__name__}: {rows}")
                    if bar is not None:
                        bar.advance(task_id, len(batch))
                    continue
                if isinstance(rows, GroupResult):
                    store.append_table(rows.table, scenario_hash=rows.scenario_hash, variant=rows.variant, name=rows.key)
                    n_done += rows.rows
                    n_err += rows.errors
                    if rows.errors and first_error is None:
                        first_error = _table_first_error(rows.table)
                    if bar is not None:
                        bar.advance(task_id, rows.rows)
                else:
                    buffer.extend(rows)
                    n_done += len(rows)
                    n_err += sum(1 for r in rows if r.get("status") != "ok")
                    first_error = first_error or _first_error(rows)
                    if bar is not None:
                        bar.advance(task_id, len(rows))
                if len(buffer) >= flush_every or time.perf_counter() - last_flush >= flush_s:
                    flush()
                if on_result is not None:
                    on_result(n_done, total_run)
    finally:
        flush()
        if bar is not None:
            bar.stop()
    compacted = store.compact() if compact else {"files_written": 0, "files_merged": 0, "files_conformed": 0}
    notices = core_blind_paths(scenario, grid=grid, random=random) if mode == "core" else []
    wl = scenario.serving
    replicas = (sum(g.num_replicas for g in wl.replica_groups) if wl.replica_groups else wl.num_replicas) if wl is not None else 0
    if mode == "core" and wl is not None and wl.gpus is None and replicas > 1:
        # the serving core prices one replica of an explicit layout; a GPU budget and the simulation, the deployment
        notices.append(f"core mode prices one replica of the scenario's layout: serving_throughput_tokens_per_s is one "
                       f"replica's capacity at its best batch (the scenario runs {plural(replicas, 'replica')}), and per-token cost, "
                       "energy and CO2e are a fully loaded replica's. A GPU budget (serving.gpus) gives the whole deployment's, and "
                       "--mode sim the fleet's served traffic")
    if mode == "core" and seeds > 1:
        notices.append(f"core mode is deterministic: the {seeds:,} seeds of each point hold the same numbers (only --mode sim "
                       "draws failures and arrivals at random); --seeds 1 gives the same results")
    return {
        "out": str(out),
        "points_total": points_total,
        "skipped_finished": skipped,
        "ran": n_done,
        "errors": n_err,
        "first_error": first_error,
        "lost": sum(int(x.split()[0]) for x in lost),
        "lost_reasons": lost[:5],
        "executor": executor,
        "mode": mode,
        "batched": plan is not None,
        "groups": len(plan.groups) if plan is not None else None,
        "work_estimate": est.describe() if est is not None else None,
        "setup_s": setup_s,
        "wall_s": time.perf_counter() - t0,
        "compacted": compacted,
        "notices": notices,
    }


def _same_sweep(store: ResultStore, scenario: Scenario, mode: str, out: Any) -> None:
    """A re-run resumes the same sweep; an --out holding another scenario's (or the other mode's) points is refused, not
    mixed in (its report and queries would average both)."""
    old = store.manifest() or {}
    h = scenario_hash(scenario)
    if old.get("scenario_hash") and old["scenario_hash"] != h:
        raise InputError(f"--out {out} holds a sweep of another scenario ('{old.get('scenario')}', hash {old['scenario_hash']}; "
                         f"this one is {h}): its points would mix with these. Give a new --out, or delete that directory "
                         "to start over.", field="--out")
    if old.get("mode") and old["mode"] != mode:
        raise InputError(f"--out {out} holds a --mode {old['mode']} sweep; this one is --mode {mode} and its rows would mix "
                         "with those. Give a new --out for it.", field="--out")


def core_blind_paths(scenario: Scenario, *, grid: list[tuple[str, list[Any]]] | None, random: list[Any] | None) -> list[str]:
    """Notices for swept fields the closed-form cores do not read (--mode core): two values of each are put into the
    scenario and its core requests compared; where they come out equal every point of that field holds the same numbers
    (serving.num_replicas, simulation.*, a trace's lengths: the simulations read them, the cores do not)."""
    from costsim.specs.base import validate_spec
    from costsim.specs.overrides import apply_overrides
    from costsim.sweep.points import core_requests

    pairs: list[tuple[str, Any, Any]] = []
    for path, values in grid or []:
        distinct = list(dict.fromkeys(map(repr, values)))
        if len(distinct) >= 2:
            pairs.append((path, values[0], next(v for v in values if repr(v) != repr(values[0]))))
    for r in random or []:
        lo, hi = (int(r.lo), int(r.hi)) if getattr(r, "integer", False) else (r.lo, r.hi)
        if lo != hi:
            pairs.append((r.path, lo, hi))
    out = []
    base = scenario.model_dump(mode="json")
    for path, a, b in pairs:
        try:
            reqs = [core_requests(validate_spec(Scenario, apply_overrides(base, [(path, v)], model=Scenario), what="sweep point"))
                    for v in (a, b)]
        except Exception:  # noqa: BLE001 - a value the points themselves refuse: each point records its error
            continue
        if reqs[0] == reqs[1]:
            out.append(f"{path} does not reach the closed-form cores (--mode core): its values give the same core request, "
                       "so every point holds the same numbers for it; sweep it with --mode sim")
    return out


def _probe_tasks(scenario: Scenario, *, grid: list[tuple[str, list[Any]]] | None, random: list[RandomSpec] | None,
                 samples: int, mode: str, design: Any) -> list[dict[str, Any]]:
    """The tasks the per-point path times before it estimates: the sweep's first point, and its far corner (the last
    value of every --grid path, the last variant; the first sample and seed) when that is another point."""
    common = dict(random=random, samples=min(samples, 1) if random else 0, seeds=1, mode=mode, design=_first_of(design))
    first = build_tasks(scenario, grid=[(p, v[:1]) for p, v in (grid or [])], **common)[:1]
    last = build_tasks(scenario, grid=[(p, v[-1:]) for p, v in (grid or [])], **common)[-1:]
    return first + [t for t in last if not first or t["point_id"] != first[0]["point_id"]]


def _first_of(design: Any) -> Any:
    """The first point of an uncertainty design, as a design of one point."""
    if design is None:
        return None
    import dataclasses

    return dataclasses.replace(design, values={p: v[:1] for p, v in design.values.items()}, sample_index=design.sample_index[:1],
                               block=design.block[:1])


def _chunk(points: int, executor: str, workers: int | None) -> int:
    """Points per batched work unit: big enough to amortize the group's estimate, small enough to
    balance the workers and bound memory (~1 kB per point in flight)."""
    if executor == "local":
        return 100_000
    w = workers or 2
    return int(min(100_000, max(2_000, math.ceil(points / (w * 8)))))
