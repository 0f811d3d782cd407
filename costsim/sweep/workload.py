"""Work estimate of a sweep, made before it runs: points x cost per point (and per group), from a
probe evaluation of the sweep's own first point (one point at a time: the mean of it and the grid's far corner,
every path at its last value), divided over the workers. A sweep estimated to
run longer than the limit (default one hour of wall time) is refused with the estimate unless
the caller allows it (`costsim sweep --allow-long`, or `--max-hours H`).

Costs that are not probed are constants measured with benchmarks/bench_sweep_batched.py on the
2-core development machine (noisy, shared): a batched core-mode point costs ~4-8 us (id, broadcast
arithmetic, Parquet write); BATCHED_S_PER_POINT takes the pessimistic end.

Memory is estimated too (and refused past MAX_SWEEP_MEMORY, with the estimate): the batched path
gives every point of the sweep its id in the driver before it runs (~220 B per point measured with
`--seeds` 3M and 10M: 0.78 and 2.3 GB peak RSS) and holds one work unit's rows per worker (~36 B per
cell measured: 100,000 points x 124 columns ~ 0.45 GB); the per-point path keeps ~1 kB per task.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from costsim.errors import InputError
from costsim.numtext import duration, si
from costsim.specs.limits import LIMITS, WorkEstimate, require, serving_estimates, training_estimates

if TYPE_CHECKING:
    from costsim.specs.scenario import Scenario

BATCHED_S_PER_POINT = 1.0e-5
"""CPU seconds per point of a batched core-mode group (ids + arithmetic + Parquet), pessimistic."""
GROUP_OVERHEAD_FACTOR = 2.0
"""A group costs its probe (one per-point estimate) times this (validation, id template, arrays)."""
DEFAULT_MAX_WALL_S = 3600.0
"""Sweeps estimated to run longer than this are refused unless allowed."""
PER_POINT_BUILD_S = 1.5e-3
"""Driver seconds to build and validate one task of the per-point path (pydantic, id hash), measured."""
MAX_POINTS = 2_000_000_000
"""No sweep enumerates more points than this (ids alone would take tens of GB)."""
MAX_PER_POINT_TASKS = 5_000_000
"""The per-point path keeps one task per point in memory (~1 kB each): above this, use batched core mode."""
BATCHED_BYTES_PER_POINT = 250.0
"""Driver bytes per point of a batched sweep (ids, seeds, id texts, dedup and resume masks), pessimistic."""
BYTES_PER_CELL = 40.0
"""Bytes per result cell of a work unit in flight (numpy column, Arrow copy, Parquet encoding)."""
META_COLUMNS = 12
"""Columns of a row besides the results (ids, seed, overrides, status, error, wall_s, ...)."""
PER_POINT_TASK_BYTES = 1_000.0
"""Driver bytes per task of the per-point path."""
ROW_DICT_BYTES = 20_000.0
"""Bytes of one result row as a Python dict (~16 kB measured for a 124-column training row) plus its
Arrow copy: what a work unit that fell back to the per-point path holds per point until it returns."""
BASE_BYTES = 3.0e8
"""The interpreter, numpy, pyarrow, pydantic and the catalogs (~0.3 GB RSS before the first point)."""
MAX_SWEEP_MEMORY = LIMITS["sweep_memory"]
"""Sweeps estimated to need more memory than this are refused (--allow-long does not lift it)."""


@dataclass(frozen=True)
class SweepWorkEstimate:
    """What a sweep will cost, estimated before it runs."""

    points: int
    """Points to run (after resume: finished points excluded when known)."""
    groups: int
    """Batched groups (one validation and one per-point estimate each); 0 on the per-point path."""
    mode: str
    """core or sim."""
    batched: bool
    """True when core-mode groups broadcast through the batched estimators."""
    workers: int
    """Worker processes the wall time is divided over."""
    probe_s: float
    """Measured seconds of one point (per-point path) or of one group's per-point estimate (batched)."""
    s_per_point: float
    """CPU seconds per point used by the estimate."""
    cpu_s: float
    """Estimated CPU seconds in all."""
    wall_s: float
    """Estimated wall seconds (cpu_s / workers)."""
    memory_bytes: float = 0.0
    """Estimated peak memory, driver and workers together, bytes."""
    fallback: bool = False
    """True when the probe found that the batched path falls back to one point at a time."""

    def describe(self) -> str:
        if self.batched and self.fallback:
            how = f"{self.groups:,} group(s) of core points that run one at a time: the batched path fell back on the probe"
        elif self.batched:
            how = f"{self.groups:,} group(s) of batched core points"
        else:
            how = f"{self.mode} mode, one point at a time"
        return (f"{self.points:,} points ({how}) at ~{si(self.s_per_point, 's')} each "
                f"-> ~{duration(self.cpu_s)} of CPU, ~{duration(self.wall_s)} on {self.workers} worker(s), ~{_gb(self.memory_bytes)} of memory")


def _gb(b: float) -> str:
    if not math.isfinite(b):
        return "unbounded memory"
    return f"{b / 1e9:.2g} GB" if b < 1e12 else f"{b / 1e12:,.3g} TB"


def default_workers(executor: str, workers: int | None) -> int:
    if workers:
        return int(workers)
    if executor == "local":
        return 1
    if executor == "dask":
        return 2
    return max(1, os.cpu_count() or 1)


def estimate_work(*, points: int, groups: int, mode: str, batched: bool, probe_s: float, executor: str,
                  workers: int | None, columns: int = 0, unit_points: int | None = None,
                  fallback_s_per_point: float | None = None) -> SweepWorkEstimate:
    """The estimate from counts and one probe timing (see the module docstring). `columns`: result
    columns of the probed point; `unit_points`: points per batched work unit; `fallback_s_per_point`:
    the probe found that the batched path evaluates its points one at a time, at this cost each."""
    w = default_workers(executor, workers)
    cells = (max(int(columns), 0) + META_COLUMNS)
    fallback = fallback_s_per_point is not None
    if batched and not fallback:
        per_point = BATCHED_S_PER_POINT
        cpu = groups * probe_s * GROUP_OVERHEAD_FACTOR + points * per_point
        wall = cpu / w
        unit = min(points, unit_points or points)
        mem = BASE_BYTES + points * BATCHED_BYTES_PER_POINT + min(w, max(groups, 1)) * unit * cells * BYTES_PER_CELL
    elif batched:  # ids still enumerated in the driver; each point then costs a per-point evaluation in a worker
        per_point = max(float(fallback_s_per_point), 1e-5)
        cpu = groups * probe_s * GROUP_OVERHEAD_FACTOR + points * (per_point + BATCHED_S_PER_POINT)
        wall = cpu / w
        unit = min(points, unit_points or points)
        mem = BASE_BYTES + points * BATCHED_BYTES_PER_POINT + min(w, max(groups, 1)) * unit * ROW_DICT_BYTES
    else:
        per_point = max(probe_s, 1e-5) + PER_POINT_BUILD_S
        cpu = points * per_point
        wall = points * PER_POINT_BUILD_S + points * max(probe_s, 1e-5) / w  # tasks are built in the driver
        mem = BASE_BYTES + points * PER_POINT_TASK_BYTES
    return SweepWorkEstimate(points=points, groups=groups, mode=mode, batched=batched, workers=w, probe_s=probe_s,
                             s_per_point=per_point if not batched else cpu / max(points, 1), cpu_s=cpu, wall_s=wall,
                             memory_bytes=mem, fallback=bool(fallback and batched))


def check_points(points: int, *, batched: bool) -> None:
    """Refuse sweeps that cannot even be enumerated."""
    if points > MAX_POINTS:
        raise InputError(f"this sweep has {points:,} points, more than the {MAX_POINTS:,} a sweep may enumerate; "
                         "sweep fewer values, or split it into several sweeps.", field="--grid")
    if not batched and points > MAX_PER_POINT_TASKS:
        raise InputError(f"this sweep has {points:,} points, more than the {MAX_PER_POINT_TASKS:,} the per-point path holds in memory; "
                         "use --mode core (batched) or sweep fewer values.", field="--grid")


# the scenario fields each work limit of a point reads: a sweep axis on one of them makes the base's value moot
TRAINING_LIMIT_SOURCES = {"gpus": ("training.num_gpus",), "timeline_buckets": ("simulation.duration_s", "training.timeline")}
SERVING_LIMIT_SOURCES = ("serving", "simulation.duration_s")


def _touches(swept: Iterable[str], sources: Iterable[str]) -> bool:
    """Whether a swept path is one of `sources` or lies above / below one ('training.timeline.bucket_s')."""
    return any(p == s or p.startswith(s + ".") or s.startswith(p + ".") for p in swept for s in sources)


def check_base_scenario(scenario: "Scenario", *, swept_paths: Iterable[str], mode: str) -> None:
    """Refuse (InputError, exit 2, before any point runs) a base scenario, or one of its variants, that every point
    of the sweep would inherit over a work limit, as `costsim run` refuses it: training.num_gpus = 1e23 is bad input
    naming the field, not a sweep whose every point fails. A limit whose fields a sweep axis (--grid, --random, the
    uncertainty inputs) sets is left to the points: the base's value is never priced, and a point that an axis
    value puts over it stays a per-point error. Core mode prices no simulation, so it checks the accelerators only."""
    from costsim.specs.base import validate_spec
    from costsim.specs.overrides import apply_overrides
    from costsim.specs.scenario import Scenario

    swept = list(swept_paths)
    todo = [scenario]
    if scenario.variants:
        base = scenario.model_dump(mode="json", exclude={"variants"})
        for v in scenario.variants:
            try:
                todo.append(validate_spec(Scenario, apply_overrides(base, v.set, model=Scenario), what=f"variant '{v.name}'"))
            except InputError:
                continue  # an invalid variant's points record its validation error, as before
        if not scenario.simulation.include_base:
            todo = todo[1:]
    for s in todo:
        est: list[WorkEstimate] = [e for e in training_estimates(s)
                                   if not _touches(swept, TRAINING_LIMIT_SOURCES.get(e.key, ("training",)))]
        if not _touches(swept, SERVING_LIMIT_SOURCES):
            est += serving_estimates(s, runs=1)
        if mode == "core":
            est = [e for e in est if e.key == "gpus"]
        require(est)


def _fixes(est: SweepWorkEstimate, *, seeds: int) -> list[str]:
    """The changes that shrink this sweep, only those that apply to it."""
    if est.mode == "core" and seeds > 1:
        return [f"use --seeds 1 instead of --seeds {seeds:,}: in core mode every seed gives the same numbers (the closed-form "
                f"cores draw nothing at random), so that divides the work by {seeds:,} and loses nothing",
                "sweep fewer --grid values or --samples"]
    out = ["sweep fewer --grid values or --samples" + (f", or fewer --seeds (now {seeds:,})" if seeds > 1 else "")]
    if est.mode == "sim":
        out.append("use --mode core (the closed-form cores: no failures or arrivals drawn, ~1000x faster per point)")
    return out


def check_budget(est: SweepWorkEstimate, *, max_wall_s: float | None, seeds: int = 1, executor: str | None = None) -> None:
    """InputError naming the estimate, the limit and the fixes that apply when the sweep is estimated
    to need more memory than MAX_SWEEP_MEMORY, or (unless max_wall_s is None) more wall time than max_wall_s."""
    mem_limit = MAX_SWEEP_MEMORY.value()
    if not est.memory_bytes <= mem_limit:
        fixes = _fixes(est, seeds=seeds)
        raise InputError(f"this sweep would need ~{_gb(est.memory_bytes)} of memory ({est.describe()}), over the limit of "
                         f"{_gb(mem_limit)}. " + _sentence(fixes) + ". On a machine with more memory the limit can be "
                         f"raised with {MAX_SWEEP_MEMORY.env_var}=N.", field="--seeds" if seeds > 1 else "--grid")
    if max_wall_s is None or est.wall_s <= max_wall_s:
        return
    fixes = _fixes(est, seeds=seeds)
    if executor == "local" and est.workers == 1:
        fixes.append("spread it over workers (--executor process --workers N)")
    fixes.append(f"pass --max-hours {max(est.wall_s / 3600.0 * 1.2, 0.01):.2g} or --allow-long to run it anyway "
                 "(finished points are kept, so a re-run resumes)")
    raise InputError(f"this sweep is estimated to take ~{duration(est.wall_s)} ({est.describe()}), over the limit of "
                     f"{duration(max_wall_s)} (--max-hours {max_wall_s / 3600.0:g}). " + _sentence(fixes) + ".",
                     field="--allow-long")


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]
