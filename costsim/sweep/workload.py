"""Work estimate of a sweep, made before it runs: points x cost per point (and per group), from a
probe evaluation of the sweep's own first point, divided over the workers. A sweep estimated to
run longer than the limit (default one hour of wall time) is refused with the estimate unless
the caller allows it (`costsim sweep --allow-long`, or `--max-hours H`).

Costs that are not probed are constants measured with benchmarks/bench_sweep_batched.py on the
2-core development machine (noisy, shared): a batched core-mode point costs ~4-8 us (id, broadcast
arithmetic, Parquet write); BATCHED_S_PER_POINT takes the pessimistic end.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from costsim.errors import InputError

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

    def describe(self) -> str:
        how = f"{self.groups:,} group(s) of batched core points" if self.batched else f"{self.mode} mode, one point at a time"
        return (f"{self.points:,} points ({how}) at ~{self.s_per_point * 1e3:.3g} ms each "
                f"-> ~{_hms(self.cpu_s)} of CPU, ~{_hms(self.wall_s)} on {self.workers} worker(s)")


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "forever"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def default_workers(executor: str, workers: int | None) -> int:
    if workers:
        return int(workers)
    if executor == "local":
        return 1
    if executor == "dask":
        return 2
    return max(1, os.cpu_count() or 1)


def estimate_work(*, points: int, groups: int, mode: str, batched: bool, probe_s: float, executor: str,
                  workers: int | None) -> SweepWorkEstimate:
    """The estimate from counts and one probe timing (see the module docstring)."""
    w = default_workers(executor, workers)
    if batched:
        per_point = BATCHED_S_PER_POINT
        cpu = groups * probe_s * GROUP_OVERHEAD_FACTOR + points * per_point
        wall = cpu / w
    else:
        per_point = max(probe_s, 1e-5) + PER_POINT_BUILD_S
        cpu = points * per_point
        wall = points * PER_POINT_BUILD_S + points * max(probe_s, 1e-5) / w  # tasks are built in the driver
    return SweepWorkEstimate(points=points, groups=groups, mode=mode, batched=batched, workers=w, probe_s=probe_s,
                             s_per_point=per_point if not batched else cpu / max(points, 1), cpu_s=cpu, wall_s=wall)


def check_points(points: int, *, batched: bool) -> None:
    """Refuse sweeps that cannot even be enumerated."""
    if points > MAX_POINTS:
        raise InputError(f"this sweep has {points:,} points, more than the {MAX_POINTS:,} a sweep may enumerate; "
                         "sweep fewer values, or split it into several sweeps.", field="--grid")
    if not batched and points > MAX_PER_POINT_TASKS:
        raise InputError(f"this sweep has {points:,} points, more than the {MAX_PER_POINT_TASKS:,} the per-point path holds in memory; "
                         "use --mode core (batched) or sweep fewer values.", field="--grid")


def check_budget(est: SweepWorkEstimate, *, max_wall_s: float | None) -> None:
    """InputError naming the estimate, the limit and the flag when over the limit (None: no limit)."""
    if max_wall_s is None or est.wall_s <= max_wall_s:
        return
    raise InputError(f"this sweep would run for hours: {est.describe()}, over the limit of {_hms(max_wall_s)}. "
                     "Sweep fewer points (or use --mode core), or pass --allow-long (or --max-hours H) to run it anyway; "
                     "finished points are kept, so a re-run resumes.", field="--allow-long")
