"""costsim.sweep: many points of one scenario, on a local, process, Dask or Ray executor, stored as
a Parquet dataset that `costsim query` reads with DuckDB.

`run_sweep(scenario, grid=..., random=..., samples=..., seeds=..., executor=..., out=...)`:
points = cartesian grid x random samples x seeds (x the scenario's variants); finished points are
appended in batches (atomic writes); a re-run skips every stored point id (resume).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any, Callable

from costsim.errors import InputError
from costsim.specs.scenario import Scenario, scenario_hash
from costsim.sweep.executors import EXECUTORS, get_executor
from costsim.sweep.points import MODES, RandomSpec, build_tasks, parse_grid, parse_random
from costsim.sweep.store import ResultStore, connect, query

__all__ = ["run_sweep", "EXECUTORS", "MODES", "parse_grid", "parse_random", "query", "connect", "ResultStore"]


def _batches(tasks: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


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
) -> dict[str, Any]:
    """Run (or resume) a sweep; returns counts. `on_result(done, total)` after every batch."""
    if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
        raise InputError(f"--workers must be >= 1, got {workers}; leave it out for the executor's default.", field="--workers")
    run = get_executor(executor)
    tasks = build_tasks(scenario, grid=grid, random=random, samples=samples, seeds=seeds, mode=mode)
    store = ResultStore(out)
    done_ids = store.finished_ids()
    todo = [t for t in tasks if t["point_id"] not in done_ids]
    store.write_manifest({
        "scenario": scenario.name, "scenario_hash": scenario_hash(scenario), "source": source,
        "scenario_doc": scenario.model_dump(mode="json"),
        "grid": [[p, v] for p, v in (grid or [])], "random": [r.__dict__ for r in (random or [])],
        "samples": samples, "seeds": seeds, "mode": mode, "executor": executor,
        "points_total": len(tasks), "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    if batch_size is None:
        nw = workers or 2
        batch_size = 1 if executor == "local" else max(1, min(64, math.ceil(len(todo) / (nw * 16)) if todo else 1))
    batches = _batches(todo, batch_size)
    t0 = time.perf_counter()
    buffer: list[dict[str, Any]] = []
    n_done = n_err = 0
    lost: list[str] = []
    last_flush = time.perf_counter()

    bar = None
    task_id = None
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]sweep[/] {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))
        bar.start()
        task_id = bar.add_task(f"{executor}", total=len(todo))

    def flush() -> None:
        nonlocal buffer, last_flush
        store.append(buffer)
        buffer = []
        last_flush = time.perf_counter()

    try:
        if todo:
            for batch, rows in run(batches, address=address, workers=workers):
                if isinstance(rows, BaseException):
                    lost.append(f"{len(batch)} point(s) lost to an executor failure: {type(rows).__name__}: {rows}")
                    if bar is not None:
                        bar.advance(task_id, len(batch))
                    continue
                buffer.extend(rows)
                n_done += len(rows)
                n_err += sum(1 for r in rows if r.get("status") != "ok")
                if bar is not None:
                    bar.advance(task_id, len(rows))
                if len(buffer) >= flush_every or time.perf_counter() - last_flush >= flush_s:
                    flush()
                if on_result is not None:
                    on_result(n_done, len(todo))
    finally:
        flush()
        if bar is not None:
            bar.stop()
    return {
        "out": str(out),
        "points_total": len(tasks),
        "skipped_finished": len(tasks) - len(todo),
        "ran": n_done,
        "errors": n_err,
        "lost": sum(int(x.split()[0]) for x in lost),
        "lost_reasons": lost[:5],
        "executor": executor,
        "mode": mode,
        "wall_s": time.perf_counter() - t0,
    }
