"""Discrete-event simulation of a training run over weeks (SimPy).

Events only where the job's state changes: failures (one process per failure class), checkpoint
writes, restarts, planned maintenance, evaluation pauses, grid-limit changes (curtailment
windows). Between events the job progresses at the step rate of the training core, looked up
once per power-cap level (`StepLevel`), never re-derived per event.

Synchronous checkpointing without evaluation pauses is handled in periodic blocks: between
stochastic events (failures, maintenance, grid-limit changes) the train/checkpoint cycle is
deterministic, so one timeout covers the whole block and, when it ends or is interrupted, the
checkpoints completed, the steps kept, the stall in progress and the trace rows are computed
(`_Block`, `TrainingJob._settle`); the trace and every statistic are the same as one event per checkpoint
(checked against the per-cycle loop to 1e-9). Async checkpoints and evaluation pauses keep the
per-cycle loop.

Power: every state change appends a segment to a piecewise trace (see power_trace.py): training
is a square wave between compute-phase and exposed-communication power; checkpoint stalls sit near
warm idle; restarts ramp down, idle, and ramp up. The coarse timeline (1-min min/mean/max) and the
fine windows (sub-second, around the first events of each kind) are computed from that trace, so
no iteration is stored.

Grid: an import cap becomes a GPU power cap (facility peak <= cap, or with a battery the iteration
mean plus the swing's round-trip losses <= cap and the swing on either side of the mean within the
battery's power rating). The battery itself is dispatched through costsim.power.battery with the
spec's policy (peak_shaving, smoothing, arbitrage on the region's hourly price) on the 1-minute
buckets plus the swing inside each bucket (costsim.sim.grid_battery); grid-side swing and ramp
(`grid_power_swing_w`, `grid_max_ramp_w_per_s`, fine-window `grid_import_w`) show what it buys. A capped GPU
runs its compute phase slower (clock ~ cap). Curtailment windows either cap the job harder or, when
even the slowest cap does not fit, make it checkpoint and pause until the window ends.

Entry points (this module): `simulate_training(scenario, seed=...) -> SimOutput`,
`monte_carlo_training(scenario, seeds=..., progress=True) -> dict`, and `prepare(scenario) -> Setup`.
The parts: training_setup.py (step profile, power-cap levels, checkpoint and restart times, grid limits),
training_job.py (the SimPy processes), training_summary.py (trace, timeline, fine windows, battery, summary).
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterable

import numpy as np
import simpy

from costsim.core.goodput import expected_wall_s
from costsim.errors import InputError
from costsim.sim.base import SimOutput
from costsim.sim.training_job import TrainingJob, failure_process, limit_process, planned_process
from costsim.sim.training_setup import TRAIN, Setup, StepLevel, daly_interval_s, prepare, timeline_bucket_estimate
from costsim.sim.training_summary import summarize
from costsim.specs.limits import require, training_event_estimate
from costsim.specs.scenario import Scenario
from costsim.units import S_PER_DAY, S_PER_HOUR

__all__ = ["PERIODIC_BLOCKS", "Setup", "StepLevel", "daly_interval_s", "monte_carlo_training", "prepare",
           "simulate_training"]


PERIODIC_BLOCKS = True  # False: one SimPy event per checkpoint cycle (reference path, used by the tests)


def _mean_restart_s(w) -> float:
    """Restart time of an interruption, weighted by the failure classes' rates (a class without its own takes
    reliability.restart_s)."""
    rel = w.reliability
    classes = rel.failure_classes()
    total = sum(c.rate_per_gpu_hour for c in classes)
    if total <= 0:
        return rel.restart_s
    return sum(c.rate_per_gpu_hour * rel.restart_s_of(c) for c in classes) / total


def simulate_training(scenario: Scenario, *, seed: int | None = None, setup: Setup | None = None,
                      fine: bool = True, keep_segments: bool = False) -> SimOutput:
    """One replicate of the training scenario. One numpy Generator, seeded from the scenario's
    seed (or `seed`), drives every random draw; same scenario + seed = identical output."""
    wall0 = time.perf_counter()
    su = setup or prepare(scenario)
    w = su.w
    # work estimate before the first event: failures + maintenance over the horizon the run can take
    lv = su.levels[su.base_limit_w]
    # (expected: the ideal time plus restarts and checkpoints, Daly's renewal form; 1.5x the ideal covers goodput down
    # to ~67 %, and a flakier job gets its own expectation)
    ideal_s = su.target_steps * lv.step_s
    expected_s = float(expected_wall_s(ideal_s, su.job_failure_rate_per_s, _mean_restart_s(w), su.ckpt_interval_s, su.stall_s))
    guard_s = 50 * ideal_s + 30 * S_PER_DAY
    if not math.isfinite(su.window_s) and lv.feasible and lv.step_s > 0 and expected_s > guard_s:
        mtbf = 1.0 / su.job_failure_rate_per_s
        took = "would never finish" if not math.isfinite(expected_s) or expected_s > 1e6 * S_PER_DAY else \
            f"would take ~{expected_s / S_PER_DAY:,.3g} days"
        raise InputError(f"training.reliability: the job fails every {mtbf:,.3g} s on average (job failure rate x "
                         f"{w.num_gpus:,} GPUs) and each restart takes {_mean_restart_s(w):,.3g} s, so a {ideal_s / S_PER_DAY:,.3g}-day "
                         f"run {took} (expected from the failure rate, restart and checkpoint interval), beyond the "
                         f"simulation's {guard_s / S_PER_DAY:,.3g}-day guard. Lower training.reliability.rate_scale or the "
                         "restart times, use fewer GPUs, or set training.max_days / simulation.duration_s to simulate a "
                         "window of it.", field="training.reliability")
    horizon_s = min(su.window_s, max(1.5 * ideal_s + S_PER_DAY, 1.2 * expected_s)) if lv.step_s > 0 else su.window_s
    require([training_event_estimate((su.job_failure_rate_per_s + w.maintenance.per_day / S_PER_DAY) * horizon_s,
                                     gpus=w.num_gpus, horizon_s=horizon_s),
             timeline_bucket_estimate(horizon_s, w.timeline.bucket_s,
                                      what=f"the run's expected simulated time (~{horizon_s:,.0f} s)")])
    seed = scenario.simulation.seed if seed is None else seed
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    job = TrainingJob(env, su, rng, periodic=PERIODIC_BLOCKS)
    rel = w.reliability
    for i, c in enumerate(job.classes):
        env.process(failure_process(env, job, i, w.num_gpus * c.rate_per_gpu_hour * rel.rate_scale / S_PER_HOUR,
                                     np.random.default_rng(rng.integers(2**63)), c.distribution, c.weibull_shape))
    env.process(planned_process(env, job, w.maintenance.per_day, w.maintenance.schedule, np.random.default_rng(rng.integers(2**63))))
    if su.windows:
        env.process(limit_process(env, job, su))
    if math.isfinite(su.window_s):
        env.run(until=job.proc | env.timeout(su.window_s))
    elif not su.levels[su.base_limit_w].feasible:
        # no GPU power cap fits under the base import limit, and curtailment windows only lower it: the job can
        # never train. Simulate its start and pause only, not the guard below (a month of idle GPUs billed)
        env.run(until=job.proc | env.timeout(w.power.start_ramp_s + 2.0 * w.power.stop_ramp_s))
    else:
        # run to completion; a guard against a job that can never finish
        env.run(until=job.proc | env.timeout(guard_s))
        if job.done_t is None:  # the guard, not the job, ended the run: say so
            su.notes.append(f"stopped at the simulation's guard ({guard_s / S_PER_DAY:,.3g} days: 50x the ideal run plus 30 "
                            "days) before the job finished; its failures and restarts outpace its progress")
    end_s = env.now
    job._settle(end_s)  # a periodic block cut by the window end
    completed = job.done_t is not None
    if job.done_t is not None:  # include the final ramp down
        end_s = job.done_t + w.power.stop_ramp_s
    # progress of a training chunk cut by the window end
    if not completed and job.rows and job.rows[-1][1] == TRAIN:
        lv = su.levels[job.limit_w]
        job._progress(end_s - job.rows[-1][0], lv)
    return summarize(job, su, end_s, completed, wall0, fine, seed, keep_segments)


# --------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------

_MC_KEYS = ("wall_time_s", "goodput_frac", "interruptions", "planned_interruptions", "tokens_trained",
            "facility_energy_j", "cost_usd", "co2e_kg", "power_swing_w", "grid_import_max_w")


def _dist(x: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(x)), "std": float(np.std(x, ddof=1)) if len(x) > 1 else 0.0,
            "p5": float(np.percentile(x, 5)), "p50": float(np.percentile(x, 50)), "p95": float(np.percentile(x, 95)),
            "min": float(np.min(x)), "max": float(np.max(x))}


def monte_carlo_training(scenario: Scenario, *, seeds: Iterable[int] | None = None, progress: bool = True) -> dict[str, Any]:
    """Replicates over seeds -> distributions (mean, std, p5, p50, p95, min, max) of completion
    time, goodput, interruptions, energy, cost, ... Seeds default to seed, seed+1, ... (replicates)."""
    if seeds is None:
        s0 = scenario.simulation.seed
        seeds = range(s0, s0 + scenario.simulation.replicates)
    seeds = list(seeds)
    su = prepare(scenario)
    rows: list[dict] = []
    t0 = time.perf_counter()
    it: Iterable[int] = seeds
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(seeds, desc=f"training MC {scenario.name}", unit="run", leave=False)
            it = bar
        except ImportError:  # pragma: no cover
            pass
    for s in it:
        out = simulate_training(scenario, seed=s, setup=su, fine=False)
        rows.append({k: out.summary[k] for k in _MC_KEYS} | {"completed": out.summary["completed"]})
    if bar is not None:
        bar.close()
    dists = {k: _dist(np.asarray([r[k] for r in rows], float)) for k in _MC_KEYS}
    dists["completion_time_s"] = _dist(np.asarray([r["wall_time_s"] for r in rows if r["completed"]], float)) if any(r["completed"] for r in rows) else None
    return {"scenario": scenario.name, "replicates": len(seeds), "seeds": seeds,
            "completed_frac": float(np.mean([r["completed"] for r in rows])),
            "distributions": dists, "per_seed": rows, "sim_wall_time_s": time.perf_counter() - t0}
