"""Optimize mode: a design search (Optuna, multi-objective, with constraints) over scenario fields, whose trials
run as sweep points on the local, process, Dask or Ray executors.

    costsim optimize SCENARIO --out DIR --param training.num_gpus=256..16384:log --param training.precision=bf16,fp8 \\
        --minimize usd,days --constraint "ttft_p99_s<=2" --trials 40 --batch 4 --mode core [--confirm]

- Trials are asked from the sampler in batches (`--batch` at a time), evaluated as sweep points (the same
  rows as `costsim sweep`), told back. Every trial is stored in an Optuna RDB storage (SQLite, DIR/optuna.db):
  a re-run with the same arguments resumes the study; trials a killed driver left RUNNING are failed and
  their parameters re-enqueued, so no trial is lost. A lost worker is the executor's business (Dask reruns its
  task elsewhere); a unit the executor still gives up on fails its trials with the reason and re-enqueues their
  parameters. A FAIL always carries its reason (trials.csv `error`).
- Objectives are row columns, or aliases summed over the parts: usd, mwh, co2e, days, peak_mw.
- Constraints (column <= / >= / < / > value) go to the sampler's constraints function (feasible first).
- `--confirm` re-evaluates the core-mode Pareto set with the simulations (mode sim) and reports both.
- Output: DIR/trials.csv (every trial: parameters, objectives, constraint values, state), DIR/pareto.json.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from costsim.errors import InputError
from costsim.numtext import duration
from costsim.specs.overrides import short_text
from costsim.specs.scenario import Scenario, scenario_hash
from costsim.sweep.uncertainty import numeric_columns

ALIASES: dict[str, tuple[str, ...]] = {
    "usd": ("training_cost_usd", "serving_cost_usd", "plan_total_usd"),
    "co2e": ("training_co2e_kg", "serving_co2e_kg", "plan_total_co2e_kg"),
    "mwh": ("training_facility_energy_j", "serving_facility_energy_j", "plan_total_facility_energy_j"),
    "days": ("training_wall_time_s",),
    "peak_mw": ("site_peak_power_w", "training_facility_peak_power_w", "serving_facility_peak_power_w"),
}
ALIAS_SCALE = {"mwh": 1 / 3.6e9, "days": 1 / 86400.0, "peak_mw": 1e-6}
SAMPLERS = ("tpe", "nsga2", "random")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Param:
    path: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # minimize | maximize


@dataclass(frozen=True)
class Constraint:
    column: str
    op: str
    bound: float

    def value(self, x: float) -> float:
        """<= 0 when satisfied (Optuna's convention). A strict bound (< or >) is broken by a value equal to it: that
        gives the smallest positive float, not 0 (which `training_num_gpus<1024` had let through at 1,024)."""
        d = x - self.bound if self.op in ("<=", "<") else self.bound - x
        return math.ulp(0.0) if self.op in ("<", ">") and d == 0 else d


@dataclass(frozen=True)
class OptimizeResult:
    study: str
    storage: str
    trials_complete: int
    trials_failed: int
    evaluations_this_run: int
    pareto: list[dict[str, Any]]
    """Feasible non-dominated trials: params, objectives, (confirmed: the simulation's objectives)."""
    hypervolume: float | None
    out_dir: str
    notes: list[str] = field(default_factory=list)


def _common_error(study) -> str:
    """', most often (n of m): <reason>' for a study's failed trials, or '' when none carries a reason."""
    from collections import Counter

    import optuna

    errors = Counter(str(t.user_attrs.get("error")) for t in study.get_trials(deepcopy=False)
                     if t.state == optuna.trial.TrialState.FAIL and t.user_attrs.get("error"))
    if not errors:
        return ""
    text, n = errors.most_common(1)[0]
    return f", most often ({n} of {sum(errors.values())}): {text if len(text) <= 240 else text[:239] + '…'}"


def parse_param(text: str) -> Param:
    """PATH=LO..HI[:log] (numbers; integer fields sample integers) or PATH=a,b,c (choices)."""
    path, sep, spec = text.partition("=")
    shown = short_text(text)  # a user's text echoed at most 80 characters long
    if not sep or not path.strip() or not spec.strip():
        raise InputError(f"--param expects PATH=LO..HI[:log] or PATH=a,b,c, got {shown!r}.", field="--param")
    path, spec = path.strip(), spec.strip()
    if ".." in spec:
        rng, _, opt = spec.partition(":")
        lo_s, _, hi_s = rng.partition("..")
        try:
            lo, hi = float(lo_s), float(hi_s)
        except ValueError:
            raise InputError(f"--param {shown}: LO and HI must be numbers.", field="--param") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError(f"--param {shown}: need finite LO < HI.", field="--param")
        if opt not in ("", "log"):
            raise InputError(f"--param {shown}: the only option is ':log'.", field="--param")
        if opt == "log" and lo <= 0:
            raise InputError(f"--param {shown}: a log range needs LO > 0.", field="--param")
        return Param(path, lo, hi, opt == "log")
    choices = tuple(c.strip() for c in spec.split(","))
    if not all(choices):
        raise InputError(f"--param {shown}: an empty choice; give PATH=a,b,c with no empty item.", field="--param")
    if len(set(choices)) < len(choices):
        raise InputError(f"--param {shown}: a choice is repeated; give each value once.", field="--param")
    if len(choices) < 2:
        raise InputError(f"--param {shown}: give a range LO..HI or at least two choices a,b.", field="--param")
    return Param(path, choices=choices)


def parse_objectives(minimize: str | None, maximize: str | None) -> list[Objective]:
    out = [Objective(n.strip(), "minimize") for n in (minimize or "").split(",") if n.strip()]
    out += [Objective(n.strip(), "maximize") for n in (maximize or "").split(",") if n.strip()]
    if not out:
        raise InputError("give at least one objective: --minimize usd,days (aliases: usd, co2e, mwh, days, peak_mw, or a result column).",
                         field="--minimize")
    names = [o.name for o in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"objective {', '.join(twice)} is given more than once (--minimize / --maximize); give each objective once, "
                         "in one direction.", field="--minimize")
    return out


#: most trials one study may ask for: Optuna's TPE refits its density model on every completed trial at each ask,
#: so a study slows as it grows (measured here: 600 core-mode trials in 17 s, ~0.03 s each with the evaluation; at
#: 100,000 that is most of a day before the sampler's growth); exhaustive grids belong to `costsim sweep --mode core`
#: (batched cores, ~150,000 points per CPU second)
MAX_TRIALS = 100_000
ERROR_CHARS = 2_000  # a trial's error kept in optuna.db and trials.csv; a longer one is cut with its length said


def unknown_names(row: dict[str, Any], names: list[str]) -> list[str]:
    """Objective / constraint names a completed result row has no value for at all: not an alias with a column in
    the row, not a column, not the one column ending in `_name` (a missing value, a different matter, fails one trial)."""
    out = []
    for n in names:
        if n in ALIASES:
            if not any(c in row for c in ALIASES[n]):
                out.append(n)
        elif n not in row and sum(k.endswith("_" + n) for k in row) != 1:
            out.append(n)
    return out


def text_names(row: dict[str, Any], names: list[str]) -> list[tuple[str, str]]:
    """Objective / constraint names whose column in a completed result row holds text (a hardware id, a layout name):
    no number to minimize, so every trial would fail as 'missing'."""
    def column(n: str) -> str | None:
        if n in ALIASES:
            return None
        if n in row:
            return n
        hits = [k for k in row if k.endswith("_" + n)]
        return hits[0] if len(hits) == 1 else None

    return [(n, row[c]) for n in names if (c := column(n)) is not None and isinstance(row.get(c), str)]


def parse_constraint(text: str) -> Constraint:
    m = _CONSTRAINT.match(text)
    if not m:
        raise InputError(f"--constraint expects COLUMN<=VALUE (or >=, <, >), e.g. ttft_p99_s<=2, got {short_text(text)!r}.", field="--constraint")
    return Constraint(m.group(1), m.group(2), float(m.group(3)))


def resolve(row: dict[str, Any], name: str) -> float | None:
    """An objective or constraint value from a sweep row: an alias (summed over the parts present), an exact
    column, or the one column ending in `_name`."""
    def num(v):
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)) else None

    if name in ALIASES:
        vals = [num(row.get(c)) for c in ALIASES[name] if row.get(c) is not None]
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        total = max(vals) if name == "peak_mw" else sum(vals)
        return total * ALIAS_SCALE.get(name, 1.0)
    if name in row:
        return num(row[name])
    hits = [k for k in row if k.endswith("_" + name)]
    return num(row[hits[0]]) if len(hits) == 1 else None


def hypervolume_2d(points: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by `points` (both objectives minimized) and bounded by `ref`."""
    P = np.asarray(points, float)
    P = P[np.all(P < ref, axis=1)]
    if P.size == 0:
        return 0.0
    P = P[np.argsort(P[:, 0])]
    h, best = 0.0, float(ref[1])
    for x, y in P:
        if y < best:
            h += (float(ref[0]) - x) * (best - y)
            best = y
    return h


def pareto_mask(Y: np.ndarray) -> np.ndarray:
    """Non-dominated rows of Y (all minimized)."""
    n = len(Y)
    keep = np.ones(n, bool)
    for i in range(n):
        if keep[i]:
            dominated = np.all(Y[i] <= Y, axis=1) & np.any(Y[i] < Y, axis=1)
            keep &= ~dominated
    return keep


def _current_value(s: Scenario, path: str) -> Any:
    cur: Any = s.model_dump(mode="python")
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _typed(s: Scenario, p: Param) -> Param:
    """An integer field (its current value is an int) samples integers."""
    if p.choices:
        return p
    v = _current_value(s, p.path)
    import dataclasses

    return dataclasses.replace(p, integer=isinstance(v, int) and not isinstance(v, bool))


def _check_paths(s: Scenario, params: list[Param]) -> None:
    """Every --param must name a scenario field that takes its values (exit 2 before any trial runs)."""
    from costsim.specs.base import validate_spec
    from costsim.specs.overrides import apply_overrides

    base = s.model_dump(mode="json")
    for p in params:
        # every choice, and both ends of a range (only the first choice was tried: 'precision=bf16,fp99' ran its fp99
        # trials to failure and exited 0)
        probes = list(p.choices) if p.choices else [int(math.ceil(p.low)) if p.integer else p.low,
                                                     int(math.floor(p.high)) if p.integer else p.high]
        for probe in probes:
            try:
                validate_spec(Scenario, apply_overrides(base, [(p.path, probe)], model=Scenario), what="scenario")
            except InputError as exc:
                raise InputError(f"--param {p.path[:80]}={str(probe)[:40]}: {exc.message}", field="--param") from None


def _study_name(s: Scenario, params: list[Param], objectives: list[Objective], constraints: list[Constraint], mode: str) -> str:
    doc = json.dumps([scenario_hash(s), [p.__dict__ for p in params], [o.__dict__ for o in objectives],
                      [c.__dict__ for c in constraints], mode], sort_keys=True, default=str)
    return "costsim-" + hashlib.sha256(doc.encode()).hexdigest()[:16]


def _suggest(trial, p: Param) -> Any:
    if p.choices:
        return trial.suggest_categorical(p.path, list(p.choices))
    if p.integer:
        return trial.suggest_int(p.path, int(math.ceil(p.low)), int(math.floor(p.high)), log=p.log)
    return trial.suggest_float(p.path, p.low, p.high, log=p.log)


def initial_design(params: list[Param], n: int, seed: int) -> list[dict[str, Any]]:
    """A space-filling start for the search (instead of random startup trials): the box's two opposite corners
    (all ranges at their low end, all at their high end: on a cost-vs-speed design these anchor the ends of the
    front), then scrambled Sobol points; categorical fields are stratified so every choice is tried early."""
    from scipy.stats import qmc

    if n <= 0:
        return []
    u = qmc.Sobol(d=len(params), scramble=True, seed=seed).random(max(2, 1 << max(0, (n - 1).bit_length())))[: max(0, n - 2)]
    rows = [np.zeros(len(params)), np.ones(len(params))][:n] + list(u)
    design = []
    for i, row in enumerate(rows):
        point = {}
        for j, (p, x) in enumerate(zip(params, row)):
            if p.choices:
                point[p.path] = p.choices[(i + j) % len(p.choices)] if i < 2 * len(p.choices) else p.choices[min(int(x * len(p.choices)), len(p.choices) - 1)]
            else:
                lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
                v = lo + float(x) * (hi - lo)
                v = math.exp(v) if p.log else v
                point[p.path] = (min(max(int(round(v)), int(math.ceil(p.low))), int(math.floor(p.high))) if p.integer
                                 else min(max(v, p.low), p.high))
        design.append(point)
    return design


def _tasks(s: Scenario, trials: list, mode: str, seed: int) -> list[dict[str, Any]]:
    base = s.model_dump(mode="json", exclude_none=False)
    h = scenario_hash(s)
    return [{"point_id": f"trial-{t.number}", "scenario_hash": h, "base": base, "variant": "base", "variant_set": {},
             "overrides": [(k, v) for k, v in t.params.items()], "seed": seed, "mode": mode, "design": {}} for t in trials]


def _study_dir(out: str) -> Path:
    """The study directory --out names, created: new, empty, or a previous study's (it holds optuna.db and resumes);
    a file, another tool's directory (a sweep's, with files a study would overwrite) or an unusable path exits 2."""
    shown = short_text(out, 120)
    if not out.strip():
        raise InputError("--out is empty; give a directory for the study (new, empty, or a previous study's to resume).",
                         field="--out")
    p = Path(out)
    try:
        if p.exists() and not p.is_dir():
            raise InputError(f"--out '{shown}' is a file; give a directory for the study (new, empty, or a previous "
                             "study's).", field="--out")
        names = sorted(c.name for c in p.iterdir()) if p.is_dir() else []
        if names and "optuna.db" not in names:
            raise InputError(f"--out '{shown}' holds files that are not a costsim optimize study's ({', '.join(names[:4])}"
                             f"{', ...' if len(names) > 4 else ''}); give a new or empty directory, or a previous study's to "
                             "resume it.", field="--out")
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out '{shown}' cannot be used: {exc.strerror}; give a shorter, writable directory path.",
                         field="--out") from None
    return p


def run_optimize(scenario: Scenario, *, out: str, params: list[Param], objectives: list[Objective],
                 constraints: list[Constraint] | None = None, trials: int = 40, batch: int = 4, mode: str = "core",
                 executor: str = "local", workers: int | None = None, address: str | None = None, sampler: str = "tpe",
                 seed: int = 0, confirm: bool = False, on_trial: Callable[[int, int], None] | None = None,
                 max_wall_s: float | None = None) -> OptimizeResult:
    """`max_wall_s`: after each round the study is projected from the rounds so far (their wall time per trial) and
    refused with the estimate when it would pass this; the trials done are kept in optuna.db, so a re-run resumes."""
    import optuna

    from costsim.sweep.executors import get_executor

    constraints = list(constraints or [])
    if not params:
        raise InputError("give at least one --param to search.", field="--param")
    if trials < 1 or batch < 1:
        raise InputError("--trials and --batch must be >= 1.", field="--trials")
    if trials > MAX_TRIALS:
        raise InputError(f"--trials {trials:,} is more than one study can run ({MAX_TRIALS:,}: the sampler slows with every trial, so "
                         f"this would take days); for an exhaustive grid use costsim sweep --mode core.", field="--trials")
    paths = [p.path for p in params]
    twice = sorted({x for x in paths if paths.count(x) > 1})
    if twice:
        raise InputError(f"--param {', '.join(twice)} is given more than once; give each field one range or choice list.", field="--param")
    if sampler not in SAMPLERS:
        raise InputError(f"unknown sampler '{sampler}'; use one of {', '.join(SAMPLERS)}.", field="--sampler")
    if mode not in ("core", "sim"):
        raise InputError("--mode is core or sim.", field="--mode")
    if scenario.variants:
        scenario = scenario.model_copy(update={"variants": []})  # the search is over fields, not the file's variants
    params = [_typed(scenario, p) for p in params]
    _check_paths(scenario, params)
    outp = _study_dir(out)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_url = f"sqlite:///{(outp / 'optuna.db').resolve()}"
    storage = optuna.storages.RDBStorage(storage_url, engine_kwargs={"connect_args": {"timeout": 60}})
    name = _study_name(scenario, params, objectives, constraints, mode)

    def constraints_func(t):
        return t.user_attrs.get("constraints", [0.0] * len(constraints))

    # Optuna >= 5 takes constraint values on the trial (Trial.set_constraint) and deprecates constraints_func
    native_constraints = hasattr(optuna.trial.Trial, "set_constraint")
    kw = {"seed": seed, "constraints_func": constraints_func if constraints and not native_constraints else None}
    smp = {"tpe": lambda: optuna.samplers.TPESampler(n_startup_trials=min(10, max(4, trials // 4)), multivariate=True,
                                                     constant_liar=True, **kw),
           "nsga2": lambda: optuna.samplers.NSGAIISampler(population_size=max(8, min(50, trials // 2)), **kw),
           "random": lambda: optuna.samplers.RandomSampler(seed=seed)}[sampler]()
    study = optuna.create_study(study_name=name, storage=storage, sampler=smp, load_if_exists=True,
                                directions=[o.direction for o in objectives])
    notes = []
    if not study.get_trials(deepcopy=False) and sampler == "tpe":
        for point in initial_design(params, min(10, max(4, trials // 4)), seed):
            study.enqueue_trial(point, skip_if_exists=True)
    # a killed driver leaves RUNNING trials: fail them and run their parameters again (no trial lost)
    stale = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]
    study_id = storage.get_study_id_from_name(name)
    for t in stale:
        storage.set_trial_user_attr(storage.get_trial_id_from_study_id_trial_number(study_id, t.number), "error",
                                    "left running by a stopped run: its parameters were re-enqueued")
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(dict(t.params), skip_if_exists=False)
    if stale:
        notes.append(f"resumed: {len(stale)} trial(s) left running by a stopped run were re-enqueued")
    run_fn = get_executor(executor)
    evaluated = 0

    def complete() -> int:
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))

    max_asks = max(3 * trials, trials + 20)  # failing trials (infeasible points) must not loop forever
    asks = 0
    t_loop = time.perf_counter()
    while complete() < trials:
        if max_wall_s is not None and asks:
            spent = time.perf_counter() - t_loop
            left = trials - complete()
            total = spent + spent / asks * left  # every trial asked so far, failed ones included, at the rounds' mean time
            if total > max_wall_s:
                raise InputError(f"this study is estimated to take ~{duration(total)} ({asks:,} trials in {duration(spent)} so far, "
                                 f"{left:,} more to complete), over the limit of {duration(max_wall_s)}. Ask for fewer --trials, use "
                                 "--mode core, or raise --batch with --executor process --workers N; pass --max-hours "
                                 f"{max(total / 3600.0 * 1.2, 0.01):.2g} or --allow-long to run it. The {complete():,} trials done "
                                 "are kept in the study: a re-run resumes it.", field="--trials")
        if asks >= max_asks:
            notes.append(f"stopped after {asks} trials in this run: only {complete()} of {trials} completed; the rest "
                         f"failed{_common_error(study)} (the error column of trials.csv has each) - narrow the --param ranges")
            break
        k = min(batch, trials - complete())
        asks += k
        asked = [study.ask() for _ in range(k)]
        for t in asked:
            for p in params:
                _suggest(t, p)
        tasks = _tasks(scenario, asked, mode, seed)
        by_pid = {f"trial-{t.number}": t for t in asked}
        told = set()
        lost: dict[str, str] = {}
        for unit, rows in run_fn([[task] for task in tasks], workers=workers, address=address):
            if isinstance(rows, Exception):  # a lost unit: its trials stay un-told and are failed + re-enqueued below
                for task in (unit if isinstance(unit, list) else []):
                    lost[task.get("point_id")] = short_text(f"{type(rows).__name__}: {rows}", ERROR_CHARS)
                continue
            for row in (rows if isinstance(rows, list) else []):
                t = by_pid.get(row.get("point_id"))
                if t is None or t.number in told:
                    continue
                vals = [resolve(row, o.name) for o in objectives]
                if row.get("status") == "ok":
                    names = [o.name for o in objectives] + [c.column for c in constraints]
                    problem = None
                    if bad := unknown_names(row, names):  # a name no result of this scenario carries
                        problem = f"{', '.join(short_text(b) for b in bad)} is not in this scenario's results"
                    elif text := text_names(row, names):  # a text column (training_hardware): no number to rank
                        problem = (f"{', '.join(short_text(n) for n, _ in text)} is a text column of this scenario's results "
                                   f"(e.g. {short_text(text[0][1])!r}), not a number")
                    if problem:  # every trial would fail the same way: fail the round's others and say so
                        for t2 in asked:
                            if t2.number not in told:
                                study.tell(t2, state=optuna.trial.TrialState.FAIL)
                        cols = numeric_columns(row)
                        raise InputError(f"objective or constraint {problem}; use an alias ({', '.join(ALIASES)}) or one of its "
                                         f"numeric columns: {', '.join(cols[:60])}{' ...' if len(cols) > 60 else ''}.",
                                         field="--minimize")
                if row.get("status") != "ok" or any(v is None for v in vals):
                    why = row.get("error") or next((str(v) for k, v in row.items() if k.endswith("_reason") and v), None)
                    t.set_user_attr("error", short_text(why or "an objective is missing from the result (infeasible point)", ERROR_CHARS))
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                else:
                    cv = [c.value(resolve(row, c.column) if resolve(row, c.column) is not None else math.inf) for c in constraints]
                    t.set_user_attr("constraints", cv)
                    if native_constraints:
                        for k, (c, v) in enumerate(zip(constraints, cv)):
                            t.set_constraint(f"{k}:{c.column}", v)
                    t.set_user_attr("feasible", bool(row.get("feasible", True)) and all(x <= 0 for x in cv))
                    dep = row.get("serving_deployment_gpus_per_replica")  # a GPU budget's searched replica: its trust regime
                    if isinstance(dep, (int, float)) and not isinstance(dep, bool):
                        t.set_user_attr("serving_gpus_per_replica", dep)
                    study.tell(t, vals)
                told.add(t.number)
                evaluated += 1
                if on_trial:
                    on_trial(complete(), trials)
        for t in asked:
            if t.number not in told:  # lost with its executor unit: fail and re-run its parameters
                why = lost.get(f"trial-{t.number}", "no result came back from the executor")
                t.set_user_attr("error", short_text(f"lost with its executor unit ({why}): its parameters were re-enqueued", ERROR_CHARS))
                study.tell(t, state=optuna.trial.TrialState.FAIL)
                study.enqueue_trial(dict(t.params), skip_if_exists=False)
    return _report(study, scenario, objectives, constraints, params, outp, evaluated, notes, confirm, run_fn, workers, address, seed, storage_url)


def _trust(pareto: list[dict[str, Any]], scenario: Scenario, study) -> None:
    """Each Pareto design's trust ranges (costsim.api.sweep_trust.point_trust: the held-out validation error of the
    regime its hardware, scale, model and engine fall in, per part), as `error_bands`: {part: {"error_band": ...,
    "power_error_band": ...}}; a run's or a train / serve answer's carry the same."""
    from costsim.api.sweep_trust import point_trust, regime_overrides

    doc = scenario.model_dump(mode="json")
    seen: dict[str, dict[str, Any]] = {}
    for p in pareto:
        dep = study.trials[p["trial"]].user_attrs.get("serving_gpus_per_replica")
        key = json.dumps([regime_overrides(p["params"].items()), dep], sort_keys=True, default=str)
        if key not in seen:  # designs in one regime share its ranges: looked up once
            seen[key] = point_trust(doc, list(p["params"].items()), dep)
        p["error_bands"] = seen[key]


def _report(study, scenario, objectives, constraints, params, outp, evaluated, notes, confirm, run_fn, workers, address, seed, storage_url):
    import optuna

    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    failed = sum(t.state == optuna.trial.TrialState.FAIL for t in study.get_trials(deepcopy=False))
    sign = np.array([1.0 if o.direction == "minimize" else -1.0 for o in objectives])
    feas = [t for t in done if t.user_attrs.get("feasible", True)]
    pareto: list[dict[str, Any]] = []
    hv = None
    if feas:
        Y = np.array([t.values for t in feas], float) * sign
        mask = pareto_mask(Y)
        keys = [json.dumps(t.params, sort_keys=True, default=str) for t in feas]  # a trial's design
        front, seen = [], set()
        for t, m, key in zip(feas, mask, keys):  # a design the sampler proposed again is one trade-off, listed once (its first trial)
            if m and key not in seen:
                seen.add(key)
                front.append(t)
        pareto = [{"trial": t.number, "params": dict(t.params), "objectives": dict(zip([o.name for o in objectives], t.values))}
                  for t in sorted(front, key=lambda t: t.values[0])]
        repeats = len(keys) - len(set(keys))
        if repeats:
            notes.append(f"{repeats} completed trial(s) repeated a design already tried (a small or exhausted search space); "
                         "each design is listed once")
        if len(objectives) == 2:
            allY = np.array([t.values for t in done], float) * sign
            hv = hypervolume_2d(Y, allY.max(axis=0) * 1.1 + 1e-12)
    _trust(pareto, scenario, study)
    if confirm and pareto:
        tasks = _tasks(scenario, [study.trials[p["trial"]] for p in pareto], "sim", seed)
        rows = {}
        for _, rr in run_fn([[t] for t in tasks], workers=workers, address=address):
            if not isinstance(rr, Exception):
                rows.update({r["point_id"]: r for r in rr})
        broken = []
        for p in pareto:
            r = rows.get(f"trial-{p['trial']}")
            p["confirmed"] = {o.name: resolve(r, o.name) for o in objectives} if r and r.get("status") == "ok" else None
            if p["confirmed"] is not None and constraints:  # the constraints re-checked on the simulation's numbers
                cv = [c.value(resolve(r, c.column) if resolve(r, c.column) is not None else math.inf) for c in constraints]
                p["confirmed_feasible"] = all(x <= 0 for x in cv)
                if not p["confirmed_feasible"]:
                    broken.append(p["trial"])
        notes.append(f"confirmed {sum(p.get('confirmed') is not None for p in pareto)} of {len(pareto)} Pareto trials with the simulations"
                     + (f"; the simulation breaks a constraint for trial(s) {', '.join(map(str, broken))}" if broken else ""))
    with (outp / "trials.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["trial", "state"] + [p.path for p in params] + [o.name for o in objectives] + ["feasible", "error"])
        for t in study.get_trials(deepcopy=False):
            w.writerow([t.number, t.state.name] + [t.params.get(p.path) for p in params] + list(t.values or [None] * len(objectives))
                       + [t.user_attrs.get("feasible"), t.user_attrs.get("error")])
    res = OptimizeResult(study.study_name, storage_url, len(done), failed, evaluated, pareto, hv, str(outp), notes)
    (outp / "pareto.json").write_text(json.dumps(res.__dict__, indent=2, default=str) + "\n", encoding="utf-8")
    return res
