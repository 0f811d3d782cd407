"""Scenario runs: load a scenario file, run its simulations, write the run's data files.

- `load_scenario(path, sets)` reads YAML, applies `--set` overrides, validates (errors name the
  file, the field path and the fix), checks catalog ids, and validates every variant.
- `run_scenario(scenario, seed=)` runs the training and/or serving simulation of each variant
  (both on one site when both are present: their power is summed on a common time axis), and
  `replicates` seeds per variant -> Monte Carlo ranges (p5/p50/p95, min/max/mean).
- `write_run_data(result, out_dir)` writes scenario.yaml, metadata.json, summary.json,
  timeseries.parquet and tables.parquet (per-request / per-event tables, when a sim gives any). The reports (HTML/XLSX/PDF) live one layer up, in `costsim.report`, whose
  `write_run(result, out_dir)` calls this and adds them (the api layer may not import report).

Variants: when a scenario lists variants, the base (as 'base', unless simulation.include_base is
false) and each variant (base + its overrides) are run side by side.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from costsim.errors import InputError
from costsim.numtext import duration
from costsim.sim.base import SimOutput
from costsim.core.plausibility import fleet_warnings, power_warnings
from costsim.specs.limits import WorkEstimate, check_scenario_work, limit, require, serving_estimates, training_estimates
from costsim.specs.base import load_yaml_file, path_is_file, validate_spec
from costsim.specs.overrides import apply_overrides
from costsim.specs.scenario import Scenario, scenario_hash

PARTS = ("training", "serving", "plan")
# Site-level power column per part, in order of preference (the sims' time series name them).
POWER_COLUMNS = ("facility_power_mean_w", "facility_power_w", "site_power_w", "grid_import_mean_w", "grid_import_w", "it_power_w", "power_w")
# Per-bucket maxima, when a sim gives them (site peak = sum of the parts' maxima: an upper bound).
PEAK_COLUMNS = ("facility_power_max_w", "grid_import_max_w")
#: a part's draw from the grid (after its battery), which the import cap binds; else its facility peak
IMPORT_COLUMNS = ("grid_import_max_w",)
RANGE_COLUMNS = (("facility_power_max_w", "facility_power_min_w"), ("grid_import_max_w", "grid_import_min_w"))
RANGE_QUANTILES = (("p5", 5.0), ("p50", 50.0), ("p95", 95.0))


class SimulationUnavailable(InputError):
    """The simulation module for a workload is not part of this build."""


# ----------------------------------------------------------------------------- loading


def _rebase_paths(data: dict[str, Any], base_dir: Path) -> None:
    """Model/hardware YAML paths and region CSVs in a scenario are relative to the scenario file."""

    def fix(v: Any) -> Any:
        if isinstance(v, str) and v.endswith((".yaml", ".yml", ".json", ".csv")) and not os.path.isabs(v):
            cand = base_dir / v
            if path_is_file(cand):
                return str(cand)
        return v

    for part in PARTS:
        sec = data.get(part)
        if isinstance(sec, dict):
            for key in ("model", "hardware"):
                if key in sec:
                    sec[key] = fix(sec[key])
    grid = data.get("grid")
    if isinstance(grid, dict) and "region" in grid:
        grid["region"] = fix(grid["region"])


def _check_catalog_refs(s: Scenario, *, source: str | None, where: str = "") -> None:
    from costsim.specs.catalog import get_accelerator, get_model

    for part in PARTS:
        sec = getattr(s, part)
        if sec is None:
            continue
        for key, getter in (("model", get_model), ("hardware", get_accelerator)):
            ref = getattr(sec, key, None)
            if not isinstance(ref, str):
                continue
            try:
                getter(ref)
            except InputError as exc:
                src = f" in {source}" if source else ""
                raise InputError(f"field '{where}{part}.{key}'{src}: {exc.message}", field=f"{part}.{key}", source=source) from None


def variant_scenarios(s: Scenario, *, source: str | None = None) -> list[tuple[str, Scenario]]:
    """[(name, scenario)] to run: 'base' (unless simulation.include_base is false and there are
    variants), then one per variant (base + its overrides)."""
    if not s.variants:
        return [("base", s)]
    base = s.model_dump(mode="json", exclude={"variants"})
    out: list[tuple[str, Scenario]] = []
    if s.simulation.include_base:
        out.append(("base", validate_spec(Scenario, base, what="scenario", source=source)))
    seen: set[str] = {"base"} if s.simulation.include_base else set()
    for i, v in enumerate(s.variants):
        if v.name in seen:
            raise InputError(f"variant names must be unique and not 'base' while simulation.include_base is true; '{v.name}' repeats (variants.{i}.name){' in ' + source if source else ''}.", field=f"variants.{i}.name")
        seen.add(v.name)
        try:
            data = apply_overrides(base, v.set, model=Scenario)
        except InputError as exc:
            raise InputError(f"variant '{v.name}' (variants.{i}.set){' in ' + source if source else ''}: {exc.message}", field=f"variants.{i}.set") from None
        vs = validate_spec(Scenario, data, what=f"scenario variant '{v.name}' (variants.{i}.set)", source=source)
        out.append((v.name, vs))
    return out


def scenario_from_dict(data: Mapping[str, Any], sets: Iterable[str] | Mapping[str, Any] | None = None, *, source: str | None = None) -> Scenario:
    """Validate a raw scenario mapping (after overrides); also checks catalog ids and variants."""
    raw = apply_overrides(data, sets, model=Scenario)
    try:
        s = validate_spec(Scenario, raw, what="scenario", source=source)
    except InputError as exc:  # a field a --set gave is the --set's fault, not the file's
        paths = _set_paths(sets)
        hit = next((p for p in paths if f"'{p}'" in exc.message or (exc.field or "") == p), None)
        if hit is None:
            raise
        raise InputError(f"{exc.message} The value comes from --set {hit}=...; fix the --set.", field=exc.field,
                         source=source) from None
    _refuse_shadowed_sets(s, _set_paths(sets), source)
    for name, vs in variant_scenarios(s, source=source):
        where = "" if name == "base" else f"variant '{name}': "
        _check_catalog_refs(vs, source=source, where=where)
    return s


def _refuse_shadowed_sets(s: Scenario, paths: list[str], source: str | None) -> None:
    """A --set that every variant run replaces changes nothing (`--set training.model=llama-3-405b` on a scenario whose
    variants each set training.model and that does not run its base): exit 2 naming it, not a run that ignores it."""
    if not paths or not s.variants or s.simulation.include_base:
        return
    for path in paths:
        if all(any(path == k or path.startswith(k + ".") for k in v.set) for v in s.variants):
            raise InputError(f"--set {path}=... changes nothing: every variant of this scenario sets {path} itself "
                             f"({', '.join(v.name for v in s.variants[:5])}{', ...' if len(s.variants) > 5 else ''}) and the base "
                             "is not run (simulation.include_base: false); drop the --set, or edit the variants' set: in the "
                             "scenario file.", field=path, source=source)


def _set_paths(sets: Iterable[str] | Mapping[str, Any] | None) -> list[str]:
    """The field paths a --set list (or mapping) overrides."""
    if not sets:
        return []
    if isinstance(sets, Mapping):
        return [str(k) for k in sets]
    return [str(x).split("=", 1)[0].strip() for x in sets if isinstance(x, str)]


def load_scenario(path: str | os.PathLike[str], sets: Iterable[str] | Mapping[str, Any] | None = None) -> Scenario:
    """Read, override and validate a scenario YAML. Bad input -> InputError naming file, field and fix."""
    p = Path(path)
    data = load_yaml_file(p, what="scenario")
    _rebase_paths(data, p.resolve().parent)
    try:
        return scenario_from_dict(data, sets, source=str(p))
    except InputError as exc:
        if str(p) in exc.message:
            raise
        raise InputError(f"{exc.message} (scenario file {p})", field=exc.field, source=str(p)) from None


# ----------------------------------------------------------------------------- running


@dataclass
class PartResult:
    """One workload (training or serving) of one variant: replicate 0 in full, all summaries."""

    summary: dict[str, Any]
    timeseries: dict[str, np.ndarray]
    tables: dict[str, dict[str, np.ndarray]]
    replicate_summaries: list[dict[str, Any]]
    ranges: dict[str, dict[str, float]]


@dataclass
class VariantResult:
    name: str
    scenario: Scenario
    scenario_hash: str
    parts: dict[str, PartResult]
    site: dict[str, Any]
    site_timeseries: dict[str, np.ndarray]
    wall_s: float

    @property
    def feasible(self) -> bool:
        return all(p.summary.get("feasible", True) is not False for p in self.parts.values())

    def flat_summary(self) -> dict[str, Any]:
        """{part}_{key} for every scalar of every part, plus site_{key}."""
        out: dict[str, Any] = {}
        for part, pr in self.parts.items():
            for k, v in pr.summary.items():
                if _is_scalar(v):
                    out[f"{part}_{k}"] = _py(v)
                elif isinstance(v, Mapping):
                    for k2, v2 in v.items():
                        if _is_scalar(v2) and not isinstance(v2, str):
                            out[f"{part}_{k}_{k2}"] = _py(v2)
        for k, v in self.site.items():
            if _is_scalar(v):
                out[f"site_{k}"] = _py(v)
        return out


@dataclass
class RunResult:
    scenario: Scenario
    scenario_hash: str
    seed: int
    variants: list[VariantResult]
    wall_s: float
    started_at: str
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return any(v.feasible for v in self.variants)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, float, str, np.integer, np.floating, np.bool_)) or v is None


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _sim_function(part: str) -> Callable[..., SimOutput]:
    modname, fname = {"training": ("costsim.sim.training", "simulate_training"), "serving": ("costsim.sim.serving", "simulate_serving")}[part]
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name == modname:
            raise SimulationUnavailable(f"the {part} simulation ({modname}) is not available in this build; remove the '{part}' section or install a costsim with it.", field=part) from None
        raise
    fn = getattr(mod, fname, None)
    if fn is None:
        raise SimulationUnavailable(f"{modname} has no {fname}(); this build cannot simulate {part}.", field=part)
    return fn


def sim_available(part: str) -> bool:
    if part == "plan":  # the planner runs the closed-form cores, no simulation
        return True
    try:
        _sim_function(part)
        return True
    except SimulationUnavailable:
        return False


def ranges_of(summaries: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Monte Carlo ranges of every numeric key present in all replicates (needs >= 2)."""
    if len(summaries) < 2:
        return {}
    out: dict[str, dict[str, float]] = {}
    for k, v0 in summaries[0].items():
        if isinstance(v0, (bool, np.bool_)) or not isinstance(v0, (int, float, np.integer, np.floating)):
            continue
        vals = []
        for s in summaries:
            v = s.get(k)
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) and math.isfinite(float(v)):
                vals.append(float(v))
        if len(vals) != len(summaries):
            continue
        a = np.asarray(vals)
        r = {"min": float(a.min()), "mean": float(a.mean()), "max": float(a.max()), "std": float(a.std(ddof=1))}
        for name, q in RANGE_QUANTILES:
            r[name] = float(np.percentile(a, q))
        r["n"] = len(vals)
        out[k] = r
    return out


@dataclass
class RunClock:
    """The wall-time budget of a scenario run (`run_scenario(max_wall_s=)`): after the first replicate of each part the
    whole run is projected (that replicate's time x the replicates left, and the variants not started at the mean so
    far) and refused with the estimate when it passes the budget, before the other replicates run."""

    max_wall_s: float
    variants: int
    t0: float = field(default_factory=time.perf_counter)
    started: int = 0  # variants begun

    def check(self, *, part: str, variant_s_so_far: float, rep_s: float, reps_left: int, where: str) -> None:
        spent = time.perf_counter() - self.t0
        this_variant = variant_s_so_far + rep_s * reps_left
        others = max(self.variants - self.started, 0) * max(this_variant, spent / max(self.started, 1))
        total = spent + rep_s * reps_left + others
        if total <= self.max_wall_s:
            return
        raise InputError(
            f"this run is estimated to take ~{duration(total)} ({where}: {rep_s:,.3g} s for its first {part} replicate x "
            f"{reps_left + 1:,} replicates, {self.variants:,} variant(s)), over the limit of {duration(self.max_wall_s)}. "
            "Lower simulation.replicates (the ranges need ~20), simulation.duration_s or the number of variants; pass "
            f"--max-hours {max(total / 3600.0 * 1.2, 0.01):.2g} or --allow-long to run it anyway.", field="simulation.replicates")


def _run_part(part: str, s: Scenario, seed: int, clock: RunClock | None = None, where: str = "",
              variant_t0: float | None = None) -> PartResult:
    fn = _sim_function(part)
    reps = s.simulation.replicates
    first: SimOutput | None = None
    summaries: list[dict[str, Any]] = []
    kw: dict[str, Any] = {}
    prepare = getattr(sys.modules.get(fn.__module__), "prepare", None)
    if reps > 1 and callable(prepare) and "setup" in inspect.signature(fn).parameters:
        kw["setup"] = prepare(s)  # the seed-independent setup, shared by the replicates
    for r in range(reps):
        t_rep = time.perf_counter()
        out = fn(s, seed=seed + r, **kw)
        if first is None:
            first = out
            if clock is not None and reps > 1:
                now = time.perf_counter()
                clock.check(part=part, variant_s_so_far=now - (variant_t0 or t_rep), rep_s=now - t_rep, reps_left=reps - 1,
                            where=where or part)
        summaries.append(dict(out.summary))
    assert first is not None
    ts = {k: np.asarray(v) for k, v in first.timeseries.items()}
    return PartResult(dict(first.summary), ts, dict(first.tables), summaries, ranges_of(summaries))


def power_column(ts: Mapping[str, np.ndarray]) -> str | None:
    for c in POWER_COLUMNS:
        if c in ts:
            return c
    cands = [c for c in ts if c.endswith("_w")]
    return cands[0] if cands else None


def _step_value(t_src: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Piecewise-constant (bucket-start) value of y at times t; 0 outside the source window."""
    idx = np.searchsorted(t_src, t, side="right") - 1
    out = np.where(idx >= 0, y[np.clip(idx, 0, len(y) - 1)], 0.0)
    if len(t_src) >= 2:
        end = t_src[-1] + (t_src[-1] - t_src[-2])
        out = np.where(t < end, out, 0.0)
    return out


def _part_end_s(pr: PartResult, ts: np.ndarray) -> float | None:
    """When a part's simulated timeline ends, s (its summary's simulated time), or None when it does not say."""
    for key in ("simulated_time_s", "duration_s"):
        v = pr.summary.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and len(ts) and v >= ts[-1]:
            return float(v)
    return None


def combine_site(parts: Mapping[str, PartResult], import_cap_w: float | None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Sum the parts' site power on the union of their time axes (bucket-start step functions)."""
    series: list[tuple[str, np.ndarray, np.ndarray, str]] = []
    peaks: list[tuple[np.ndarray, np.ndarray]] = []
    imports: list[tuple[np.ndarray, np.ndarray]] = []
    # within-bucket (max, min) pairs per part, when the part records both (training: per minute)
    ranges: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    all_ranges = True
    for part, pr in parts.items():
        col = power_column(pr.timeseries)
        t = pr.timeseries.get("t_s")
        if col is None or t is None or len(t) == 0:
            continue
        series.append((part, np.asarray(t, dtype=float), np.asarray(pr.timeseries[col], dtype=float), col))
        pcol = next((c for c in PEAK_COLUMNS if c in pr.timeseries), col)
        peaks.append((np.asarray(t, dtype=float), np.asarray(pr.timeseries[pcol], dtype=float)))
        # what the part draws from the grid: after its battery where it has one (the cap binds the import, not the load)
        icol = next((c for c in IMPORT_COLUMNS if c in pr.timeseries), pcol)
        imports.append((np.asarray(t, dtype=float), np.asarray(pr.timeseries[icol], dtype=float)))
        rng_cols = next(((mx, mn) for mx, mn in RANGE_COLUMNS if mx in pr.timeseries and mn in pr.timeseries), None)
        if rng_cols is None:
            all_ranges = False
        else:
            ranges.append((np.asarray(t, dtype=float), np.asarray(pr.timeseries[rng_cols[0]], dtype=float),
                           np.asarray(pr.timeseries[rng_cols[1]], dtype=float)))
    site: dict[str, Any] = {}
    if not series:
        return site, {}
    t = np.unique(np.concatenate([s[1] for s in series]))
    cols: dict[str, np.ndarray] = {"t_s": t}
    total = np.zeros_like(t)
    for part, ts, y, col in series:
        v = _step_value(ts, y, t)
        cols[f"{part}_{col}"] = v
        total += v
    cols["site_power_w"] = total
    peak = np.zeros_like(t)
    for ts, y in peaks:
        peak += _step_value(ts, y, t)
    cols["site_power_max_w"] = peak
    dt = np.diff(t, append=t[-1] + (t[-1] - t[-2] if len(t) >= 2 else 0.0))
    # energy part by part over each part's own buckets, its last one cut where the part ended (a run that finishes 64 s
    # into a 600-s bucket holds that bucket's mean over the 64 s: counting it over 600 s overstated the site's energy)
    energy, last = 0.0, float(t[0])
    for p, ts, y, _ in series:
        w = np.diff(ts, append=ts[-1] + (ts[-1] - ts[-2] if len(ts) >= 2 else 0.0))
        end = _part_end_s(parts[p], ts)
        if end is not None:
            w[-1] = min(w[-1], max(end - ts[-1], 0.0))
        energy += float((y * w).sum())
        last = max(last, float(ts[-1] + w[-1]))
    span = last - float(t[0])
    site["power_basis"] = "+".join(f"{p}:{c}" for p, _, _, c in series)
    site["peak_power_w"] = float(peak.max())
    site["peak_of_mean_power_w"] = float(total.max())
    site["duration_s"] = span if span > 0 else float(dt.sum())
    site["energy_j"] = energy
    site["mean_power_w"] = energy / site["duration_s"] if site["duration_s"] > 0 else float(total.mean())
    if len(t) >= 2:
        # largest change between consecutive bucket means of the site power (a ramp between buckets)
        site["max_bucket_change_w"] = float(np.abs(np.diff(total)).max())
    if all_ranges and ranges:
        # peak-to-trough within a bucket, as training's power_swing_w: max over buckets of (max - min),
        # summed over parts (only when every part records its within-bucket max and min)
        hi = np.zeros_like(t)
        lo = np.zeros_like(t)
        for ts, mx, mn in ranges:
            hi += _step_value(ts, mx, t)
            lo += _step_value(ts, mn, t)
        site["power_swing_w"] = float(np.max(hi - lo))
    grid = np.zeros_like(t)
    for ts, y in imports:
        grid += _step_value(ts, y, t)
    site["peak_grid_import_w"] = float(grid.max())
    if import_cap_w is not None:
        site["import_cap_w"] = import_cap_w
        site["headroom_w"] = float(import_cap_w - grid.max())
        site["time_over_cap_frac"] = float(dt[grid > import_cap_w * (1 + 1e-9)].sum() / dt.sum()) if dt.sum() > 0 else 0.0
    return site, cols


def _peak_w(pr: PartResult) -> float | None:
    for c in PEAK_COLUMNS + POWER_COLUMNS:
        if c in pr.timeseries and len(pr.timeseries[c]):
            a = np.asarray(pr.timeseries[c], dtype=float)
            a = a[np.isfinite(a)]
            if a.size:
                return float(a.max())
    return None


def _project_training(pr: PartResult) -> None:
    """A training run cut by the simulated window: linear projection to the full token count
    (keys prefixed projected_; the simulation's own keys are untouched)."""
    sm = pr.summary
    done, target = sm.get("tokens_trained"), sm.get("tokens_target")
    if sm.get("completed") is not False or not done or not target:
        return
    ratio = float(target) / float(done)
    sm["projection_basis"] = "linear extrapolation of the simulated window to tokens_target"
    for k in ("wall_time_s", "gpu_hours", "facility_energy_j", "cost_usd", "co2e_kg"):
        if isinstance(sm.get(k), (int, float)):
            sm[f"projected_{k}"] = float(sm[k]) * ratio


def _serving_gpus(s: Scenario) -> float:
    wl = s.serving
    if wl.replica_groups:
        return float(sum(g.num_replicas * g.gpus_per_replica for g in wl.replica_groups))
    return float(wl.gpus if wl.gpus is not None else wl.num_replicas * wl.gpus_per_replica)


def run_variant(name: str, s: Scenario, seed: int, clock: RunClock | None = None) -> VariantResult:
    """Run one variant. Training and serving on one site with a grid import cap: serving runs
    first and keeps its power; training gets the cap minus serving's peak (serving has priority). `clock`: the run's
    wall-time budget (RunClock), checked after each part's first replicate."""
    t0 = time.perf_counter()
    if clock is not None:
        clock.started += 1
    require(serving_estimates(s, runs=s.simulation.replicates) + training_estimates(s))  # before any work
    cap = s.grid.import_cap_mw * 1e6 if s.grid.import_cap_mw is not None else None
    site_notes: dict[str, Any] = {}
    done: dict[str, PartResult] = {}
    if s.serving is not None:
        done["serving"] = _run_part("serving", s, seed, clock, f"variant {name}", t0)
        if s.grid.balancing_authority is not None and done["serving"].summary.get("feasible", True):
            from costsim.api.grid import ba_serving_difference  # what the BA's curtailment events cost the fleet

            done["serving"].summary.update(ba_serving_difference(done["serving"].summary, s, seed))
    if s.training is not None:
        ts = s
        if s.serving is not None and cap is not None:
            peak = _peak_w(done["serving"]) or 0.0
            left = cap - peak
            site_notes["cap_policy"] = "serving first; training gets the import cap minus serving's peak power"
            site_notes["training_cap_w"] = max(left, 0.0)
            # a cap at or below zero leaves training no power: the training sim reports it infeasible
            ts = s.model_copy(update={"grid": s.grid.model_copy(update={"import_cap_mw": max(left, 1.0) / 1e6})})
        done["training"] = _run_part("training", ts, seed, clock, f"variant {name}", t0)
        _project_training(done["training"])
        if ts.grid.balancing_authority is not None:  # what the BA's curtailment events cost this run
            from costsim.api.grid import ba_baseline_difference

            done["training"].summary.update(ba_baseline_difference(done["training"].summary, ts, seed))
    if s.plan is not None:  # the planning question: closed-form cores, no simulation
        from costsim.api.plan_part import run_plan_part

        done["plan"] = run_plan_part(s)
    parts = {p: done[p] for p in PARTS if p in done}
    site, site_ts = combine_site(parts, cap)
    site.update(site_notes)
    n_acc = float((s.training.num_gpus if s.training is not None else 0) + (_serving_gpus(s) if s.serving is not None else 0))
    warns = power_warnings(site.get("peak_power_w")) + fleet_warnings(n_acc)
    if warns:
        site["warnings"] = warns
    return VariantResult(name, s, scenario_hash(s), parts, site, site_ts, time.perf_counter() - t0)


def _variant_seed(scenario: Scenario, vs: Scenario, base_seed: int) -> int:
    """The seed a variant runs with: its own simulation.seed where it sets one, else `base_seed`."""
    return vs.simulation.seed if vs.simulation.seed != scenario.simulation.seed else base_seed


def run_scenario(scenario: Scenario, *, seed: int | None = None, source: str | None = None,
                 on_variant: Callable[[int, int, VariantResult], None] | None = None,
                 max_wall_s: float | None = None) -> RunResult:
    """Run every variant (or the base) with `seed` (default: the scenario's simulation.seed).
    A variant that sets its own simulation.seed runs with that seed (an explicit `seed` replaces
    only the base scenario's seed, which variants that do not set one inherit). `on_variant` is called
    after each variant (progress for the app's background runs). `max_wall_s`: refuse, with the estimate, a run
    projected past it after a part's first replicate (RunClock; None: no limit)."""
    base_seed = scenario.simulation.seed if seed is None else int(seed)
    if base_seed < 0:
        raise InputError(f"seed must be >= 0, got {base_seed}.", field="seed")
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    todo = variant_scenarios(scenario, source=source)
    check_scenario_work(scenario, variants=len(todo))
    requests = 0.0
    for _, vs in todo:  # every variant's estimate before the first one runs
        est = serving_estimates(vs, runs=vs.simulation.replicates)
        require(est + training_estimates(vs))
        requests += sum(e.estimate for e in est if e.key == "sim_requests")
    if len(todo) > 1 and requests > 0:  # and the requests of all of them together
        require([WorkEstimate("sim_requests", requests, limit("sim_requests"),
                              f"the simulated requests of all {len(todo)} variants x their replicates",
                              "Lower serving.arrivals.rate_per_s, simulation.duration_s, the replicates or the number of "
                              "variants (or run them as separate scenarios).")])
    variants = []
    clock = RunClock(max_wall_s, len(todo)) if max_wall_s is not None and math.isfinite(max_wall_s) else None
    for name, vs in todo:
        variants.append(run_variant(name, vs, _variant_seed(scenario, vs, base_seed), clock))
        if on_variant is not None:  # progress: (variants done, variants in all, the one just finished)
            on_variant(len(variants), len(todo), variants[-1])
    return RunResult(scenario, scenario_hash(scenario), base_seed, variants, time.perf_counter() - t0, started, source)


# ----------------------------------------------------------------------------- writing


# the run's documents and output directory live in costsim.api.run_output (re-exported here)
from costsim.api.run_output import (  # noqa: E402,F401
    versions, is_timing_key, part_error_band, summary_doc, metadata_doc, timeseries_table, tables_table, RUN_OUTPUT_NAMES, output_staging, commit_output, write_run_data, _pid_alive, _atomic_write,
)
