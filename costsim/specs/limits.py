"""Work limits: the cost of a request, estimated from the request before any work starts.

Every entry point (CLI, API, app, sweep workers) runs `check_scenario_work` (or the narrower checks)
before simulating. A request above a limit is refused with an InputError (exit 2) that names the
estimate, the limit and the setting that raises it; the API's callers see the same error. Limits are
sized for a 2-core, 8-24 GB machine: the serving simulation keeps ~0.5 kB of Python state per
request (measured with benchmarks/bench_serving_sim.py: ~490 MB RSS for ~1M requests), so the
default request limit (5M) keeps a run under ~2.5 GB and ~5 min of CPU.

Each limit can be raised with an environment variable (on a bigger machine); the app cannot raise
them (it reads the same values, never a widget).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from costsim.errors import InputError
from costsim.numtext import sig

if TYPE_CHECKING:  # pragma: no cover
    from costsim.specs.scenario import Scenario


@dataclass(frozen=True)
class WorkLimit:
    """One documented limit on the size of a request."""

    key: str
    """Short name (used in messages and `costsim limits`)."""
    default: float
    """Default value."""
    unit: str
    """What is counted."""
    env_var: str
    """Environment variable that replaces the default."""
    why: str
    """What the limit protects."""

    def value(self) -> float:
        raw = os.environ.get(self.env_var, "").strip()
        if not raw:
            return self.default
        try:
            v = float(raw)
        except ValueError:
            raise InputError(f"environment variable {self.env_var}={raw!r} is not a number; unset it or give a number "
                             f"(default {self.default:,.0f}).", field=self.env_var) from None
        if not math.isfinite(v) or v <= 0:
            raise InputError(f"environment variable {self.env_var}={raw!r} must be a positive finite number.", field=self.env_var)
        return v


LIMITS: dict[str, WorkLimit] = {lim.key: lim for lim in (
    WorkLimit("sim_requests", 5_000_000, "simulated requests (all variants x replicates)", "COSTSIM_MAX_SIM_REQUESTS",
              "serving-simulation memory (~0.5 kB per request) and run time (~60 us of CPU per request)"),
    WorkLimit("timeline_buckets", 2_000_000, "timeline buckets per simulated run", "COSTSIM_MAX_TIMELINE_BUCKETS",
              "timeline memory (a dozen float64 series per bucket) and report size"),
    WorkLimit("replicas", 200_000, "serving replicas per simulated run", "COSTSIM_MAX_REPLICAS",
              "per-replica simulation processes (a 1M-GPU fleet of 8-GPU replicas is 125,000 replicas)"),
    WorkLimit("gpus", 10_000_000, "accelerators in one request", "COSTSIM_MAX_GPUS",
              "numeric sanity: 10M accelerators is ~2-5x the world's yearly data-center GPU production; it is also the most "
              "`train --gpus` takes (`serve --gpus`: 1,000,000), so COSTSIM_MAX_GPUS can lower it, not raise it past those"),
    WorkLimit("sim_events", 2_000_000, "training-simulation events (failures + maintenance over the run)",
              "COSTSIM_MAX_SIM_EVENTS", "training-simulation run time (~20-50 us of CPU per event) and trace memory"),
    WorkLimit("sim_runs", 100_000, "simulated runs (variants x replicates x samples)", "COSTSIM_MAX_SIM_RUNS",
              "run time of Monte Carlo studies"),
    WorkLimit("run_variants", 1_000, "variants of one scenario run (`costsim run`, the app)", "COSTSIM_MAX_RUN_VARIANTS",
              "run time (each variant simulates and prices on its own, ~1-2 s at the least) and a report a reader can "
              "open; `costsim sweep` runs many points in parallel and writes tables"),
    WorkLimit("plan_options", 64, "plans priced in one comparison (training hardware x serving hardware x regions)",
              "COSTSIM_MAX_PLAN_OPTIONS", "run time of `costsim plan` with lists (~1 s of CPU to price each combination)"),
    WorkLimit("sweep_memory", 8.0e9, "bytes of memory for one sweep", "COSTSIM_MAX_SWEEP_MEMORY_BYTES",
              "the sweep driver's and workers' memory (point ids, work units in flight; costsim.sweep.workload)"),
)}


def limit(key: str) -> float:
    return LIMITS[key].value()


@dataclass(frozen=True)
class WorkEstimate:
    """The estimated size of one part of a request, with the limit it is held to."""

    key: str
    estimate: float
    limit: float
    what: str
    """Where the estimate comes from (plain words with the fields that set it)."""
    fix: str
    """How to make the request smaller."""

    @property
    def over(self) -> bool:
        return not (self.estimate <= self.limit)  # NaN counts as over

    def message(self) -> str:
        lim = LIMITS[self.key]
        v = float(self.estimate)
        # a count is shown exactly (1,002 variants, not ~1e+03); a large or fractional estimate at 3 significant figures,
        # past a quadrillion with an exponent (duration_s 1e300 printed a 290-digit count of timeline buckets)
        shown = (f"{v:,.0f}" if math.isfinite(v) and v.is_integer() and v < 1e9 else
                 ("~" + (sig(v) if abs(v) < 1e15 else f"{v:.3g}") if math.isfinite(v) else "unbounded"))
        return (f"request too large: {self.what} is {shown} {lim.unit}, above the limit of {self.limit:,.0f} "
                f"({lim.why}). {self.fix} On a bigger machine the limit can be raised with {lim.env_var}=N.")


def require(estimates: list[WorkEstimate]) -> list[WorkEstimate]:
    """Raise InputError (exit 2) for the first estimate over its limit; return them all otherwise."""
    for e in estimates:
        if e.over:
            raise InputError(e.message(), field=e.key)
    return estimates


def _finite(x: float) -> float:
    return x if math.isfinite(x) else float("inf")


def serving_estimates(scenario: "Scenario", *, runs: int = 1) -> list[WorkEstimate]:
    """Requests, timeline buckets and replicas of the scenario's serving simulation."""
    wl = scenario.serving
    dur = scenario.simulation.duration_s
    if wl is None or dur is None:
        return []
    out: list[WorkEstimate] = []
    arr = wl.arrivals
    if arr.rate_per_s is not None:
        peak = max(arr.diurnal_profile) / (sum(arr.diurnal_profile) / len(arr.diurnal_profile)) if (
            arr.process == "diurnal" and arr.diurnal_profile) else 1.0
        n_req = _finite(arr.rate_per_s * dur * max(peak, 1.0) * runs)
        out.append(WorkEstimate("sim_requests", n_req, limit("sim_requests"),
                                f"serving.arrivals.rate_per_s ({arr.rate_per_s:g}/s) x simulation.duration_s ({dur:g} s)"
                                + (f" x {runs} runs" if runs > 1 else ""),
                                "Lower serving.arrivals.rate_per_s or simulation.duration_s (or the replicates)."))
    bucket = wl.timeline_bucket_s or max(1.0, dur / 240.0)
    out.append(WorkEstimate("timeline_buckets", _finite(dur / bucket), limit("timeline_buckets"),
                            f"simulation.duration_s ({dur:g} s) / serving.timeline_bucket_s ({bucket:g} s)",
                            "Raise serving.timeline_bucket_s (or leave it out: duration/240)."))
    if wl.replica_groups:
        reps = float(sum(g.num_replicas for g in wl.replica_groups))
        gpus = float(sum(g.num_replicas * g.gpus_per_replica for g in wl.replica_groups))
    elif wl.gpus is not None:
        reps = gpus = float(wl.gpus)
    else:
        reps = float(wl.num_replicas)
        gpus = float(wl.num_replicas * wl.gpus_per_replica)
    grow = wl.autoscaler.max_replicas
    if wl.disaggregation.enabled:
        reps = max(reps, float(wl.disaggregation.prefill_replicas + wl.disaggregation.decode_replicas))
        grow = wl.autoscaler.bounds("prefill").max_replicas + wl.autoscaler.bounds("decode").max_replicas
    if wl.autoscaler.policy != "none":
        reps = max(reps, float(grow))  # with disaggregation each pool may grow to its own max_replicas
    out.append(WorkEstimate("replicas", reps, limit("replicas"), "serving replicas (serving.num_replicas or replica_groups, "
                            "the disaggregated pools, or the autoscaler's max_replicas per pool)",
                            "Lower serving.num_replicas / autoscaler.max_replicas (prefill_max_replicas, decode_max_replicas)."))
    out.append(WorkEstimate("gpus", gpus, limit("gpus"), "serving accelerators", "Lower the replica count or gpus_per_replica."))
    return out


def training_estimates(scenario: "Scenario") -> list[WorkEstimate]:
    """Accelerators and (when the window is given) timeline buckets of the training simulation."""
    w = scenario.training
    if w is None:
        return []
    out = []
    gpus = getattr(w, "num_gpus", None)
    if isinstance(gpus, (int, float)):
        out.append(WorkEstimate("gpus", float(gpus), limit("gpus"), "training.num_gpus", "Lower training.num_gpus."))
    dur = scenario.simulation.duration_s
    bucket = getattr(getattr(w, "timeline", None), "bucket_s", None)
    if dur is not None and bucket:
        out.append(WorkEstimate("timeline_buckets", _finite(dur / bucket), limit("timeline_buckets"),
                                f"simulation.duration_s ({dur:g} s) / training.timeline.bucket_s ({bucket:g} s)",
                                "Raise training.timeline.bucket_s or shorten simulation.duration_s."))
    return out


def check_scenario_work(scenario: "Scenario", *, variants: int = 1, samples: int = 1) -> list[WorkEstimate]:
    """All work estimates of running `scenario` (every variant x replicate x sample); raises InputError
    naming the first one over its limit."""
    reps = scenario.simulation.replicates
    runs = max(1, variants) * reps * max(1, samples)
    est = [WorkEstimate("sim_runs", float(runs), limit("sim_runs"),
                        f"{variants} variant(s) x {reps} replicate(s) x {samples} sample(s)",
                        "Lower simulation.replicates, the number of variants or --samples.")]
    est.append(WorkEstimate("run_variants", float(max(1, variants)), limit("run_variants"),
                            f"{variants} variant(s) in scenario '{scenario.name}'",
                            "Split the variants over several scenarios, or run the points with `costsim sweep` (--grid)."))
    est += serving_estimates(scenario, runs=reps * max(1, samples))
    est += training_estimates(scenario)
    return require(est)


def training_event_estimate(expected_events: float, *, gpus: float, horizon_s: float) -> WorkEstimate:
    """Failures and maintenance the training simulation will draw over its horizon (known once the step
    time is: `costsim.sim.training` checks it after the core's step profile, before the first event)."""
    return WorkEstimate("sim_events", _finite(expected_events), limit("sim_events"),
                        f"{gpus:,.0f} GPUs' failures and maintenance over {horizon_s / 86400:,.3g} simulated days",
                        "Lower training.num_gpus or training.tokens, set training.max_days / simulation.duration_s, "
                        "or lower training.reliability.rate_scale.")
