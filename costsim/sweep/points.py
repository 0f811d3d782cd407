"""Sweep points: parse --grid/--random specs, expand grid x random samples x seeds (x variants),
give every point a stable id, and evaluate one point into one flat row.

A point's id = sha256 of (the validated point scenario without its name/description/variants and
the forced replicates, canonical JSON with sorted keys; the variant label; seed; mode; the content
hashes of the model/hardware/region files it references; costsim.__version__), first 16 hex
digits: the same point always gets the same id (whatever the order of --grid flags, 1 or 1.0), so a
re-run can skip what is already stored, and an edited referenced file gives new ids.
Each point runs with its own simulation.seed (set by --grid, --random or a variant) + k, k < --seeds.
`evaluate_point` never raises: a failing point comes back as a row with status 'error' and the
error text, so the sweep goes on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
import traceback
import types
import typing
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from pydantic import BaseModel, TypeAdapter, ValidationError

from costsim.errors import InputError
from costsim.specs.base import numbers_only, validate_spec
from costsim.specs.overrides import apply_overrides, check_path, param_column, parse_value, short_text, split_path
from costsim.specs.requests import MAX_FAILURE_RATE_PER_GPU_HOUR, MAX_OUTPUT_TOKENS_CV
from costsim.specs.scenario import Scenario, scenario_hash

FILE_SUFFIXES = (".yaml", ".yml", ".json", ".csv")

MODES = ("sim", "core")
META_COLUMNS = ("point_id", "scenario_hash", "variant", "seed", "mode", "overrides_json", "status", "error", "wall_s")


@dataclass(frozen=True)
class RandomSpec:
    path: str
    lo: float
    hi: float
    integer: bool
    log: bool



def _alternatives(annotation: Any) -> list[Any]:
    """Optional[X] -> [X]; Union -> its members; Annotated stripped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _alternatives(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for a in typing.get_args(annotation):
            if a is not type(None):
                out.extend(_alternatives(a))
        return out
    return [annotation]


def leaf_annotation(path: str) -> Any | None:
    """The declared type of the scenario field a path names (None when the path ends inside a
    free-form mapping or at a list item the schema does not type)."""
    alts: list[Any] = [Scenario]
    ann: Any | None = None
    for part in split_path(path):
        nxt: list[Any] = []
        ann = None
        for a in alts:
            if isinstance(a, type) and issubclass(a, BaseModel):
                if isinstance(part, str) and part in a.model_fields:
                    ann = a.model_fields[part].annotation if ann is None else ann
                    nxt.extend(_alternatives(a.model_fields[part].annotation))
                continue
            origin, args = typing.get_origin(a), typing.get_args(a)
            if origin in (list, tuple) and isinstance(part, int) and args:
                ann = args[0] if ann is None else ann
                nxt.extend(_alternatives(args[0]))
        if not nxt:
            return None
        alts = nxt
    return ann


def _check_path(path: str, flag: str) -> None:
    check_path(Scenario, split_path(path), original=path)
    if split_path(path)[0] == "variants":
        raise InputError(f"{flag} cannot sweep '{path}': variants are labels of the scenario file, not a parameter; "
                         f"sweep the field a variant sets instead (e.g. {flag} training.num_gpus=...).", field=flag)


def coerce_value(path: str, value: Any, flag: str = "--grid") -> Any:
    """Validate one swept value against the declared type of its field (constraints such as
    ge=1 are left to the point, which records them as a failing point); returns the value as the
    field holds it (1 -> 1.0 for a float field). A value of the wrong type -> InputError."""
    ann = leaf_annotation(path)
    if ann is None:
        return value
    if isinstance(value, bool) and numbers_only(ann):
        # pydantic reads true as 1: a number field takes a number (as the scenario specs refuse true / false)
        raise InputError(f"{flag} {path}={str(value).lower()}: this field takes a number, not true / false.", field=flag)
    try:
        out = TypeAdapter(ann).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0].get("msg", str(exc)) if exc.errors() else str(exc)
        raise InputError(f"{flag} {path}={short_text(repr(value))}: not a valid value for this field ({first}); "
                         f"give values of the field's type.", field=flag) from None
    except Exception:  # noqa: BLE001 - an annotation TypeAdapter cannot build: no type check
        return value
    if isinstance(out, BaseModel):
        return value
    return out if isinstance(out, (bool, int, float, str)) or out is None else value


def is_integer_field(path: str) -> bool | None:
    """True for an int field, False for a float one, None when the schema does not say."""
    ann = leaf_annotation(path)
    if ann is None:
        return None
    alts = [a for a in _alternatives(ann)]
    if any(a is float for a in alts):
        return False
    if any(a is int for a in alts):
        return True
    return None


def parse_grid(items: Iterable[str]) -> list[tuple[str, list[Any]]]:
    """['training.num_gpus=512,1024'] -> [('training.num_gpus', [512, 1024])]."""
    out: list[tuple[str, list[Any]]] = []
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--grid expects path=v1,v2,... (e.g. training.num_gpus=512,1024), got {short_text(item)!r}.", field="--grid")
        path, _, vals = item.partition("=")
        path = path.strip()
        _check_path(path, "--grid")
        raw = [v.strip() for v in vals.split(",")]
        if not any(raw):
            raise InputError(f"--grid {path}= has no values; give a comma-separated list.", field="--grid")
        if not all(raw):  # '64,,128' or a trailing comma: an item lost in typing, not one to drop silently
            raise InputError(f"--grid {short_text(item)!r} has an empty item; give a comma-separated list such as {path}=512,1024.",
                             field="--grid")
        if any(path == p for p, _ in out):
            raise InputError(f"--grid {path} is given more than once; give one comma-separated list per field "
                             f"(e.g. {path}=a,b,c).", field="--grid")
        values = [coerce_value(path, parse_value(v)) for v in raw]
        out.append((path, values))
    return out


def _num(text: str, item: str) -> float:
    v = parse_value(text.strip())
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            v = float(str(text).strip())
        except ValueError:
            raise InputError(f"--random expects path=lo:hi with numbers, got {short_text(item)!r}.", field="--random") from None
    return v


def parse_random(items: Iterable[str]) -> list[RandomSpec]:
    """['economics.electricity_usd_per_kwh=0.03:0.15', 'training.num_gpus=512:4096:log']."""
    out: list[RandomSpec] = []
    for item in items or []:
        if "=" not in item or ":" not in item.partition("=")[2]:
            raise InputError(f"--random expects path=lo:hi[:log] (e.g. economics.electricity_usd_per_kwh=0.03:0.15), got {short_text(item)!r}.", field="--random")
        path, _, rng = item.partition("=")
        path = path.strip()
        _check_path(path, "--random")
        bits = rng.split(":")
        log = len(bits) == 3 and bits[2].strip().lower() == "log"
        if len(bits) not in (2, 3) or (len(bits) == 3 and not log):
            raise InputError(f"--random expects path=lo:hi or path=lo:hi:log, got {short_text(item)!r}.", field="--random")
        lo, hi = _num(bits[0], item), _num(bits[1], item)
        if not lo < hi:
            raise InputError(f"--random {path}: lo must be below hi, got {lo} and {hi}.", field="--random")
        if log and lo <= 0:
            raise InputError(f"--random {path}: a log range needs lo > 0, got {lo}.", field="--random")
        integer = is_integer_field(path)
        if integer is None:  # the schema does not type it: integers when both bounds are written as integers
            integer = isinstance(lo, int) and isinstance(hi, int)
        if integer and (int(lo) != lo or int(hi) != hi):
            raise InputError(f"--random {path}: an integer field needs integer bounds, got {lo}:{hi}.", field="--random")
        if integer:
            lo, hi = int(lo), int(hi)
        out.append(RandomSpec(path, lo, hi, integer, log))
    return out


def random_samples(specs: list[RandomSpec], n: int, *, seed_material: str) -> list[list[tuple[str, Any]]]:
    """n joint samples, deterministic given the scenario and the specs (so resume finds them).
    Each path draws from its own generator, seeded by (scenario, path and range), in order: raising
    --samples keeps the earlier samples, and adding a --random path keeps the others' values."""
    if not specs:
        return [[]]
    if n < 1:
        raise InputError("--samples must be >= 1 when --random is given.", field="--samples")
    columns = [col.tolist() for col in random_columns(specs, n, seed_material=seed_material)]
    return [[(s.path, col[i]) for s, col in zip(specs, columns)] for i in range(n)]


def random_columns(specs: list[RandomSpec], n: int, *, seed_material: str) -> list[np.ndarray]:
    """The same n samples as `random_samples`, one array per spec (int64 for integer fields, float otherwise): what the
    batched plan holds, without n Python lists (8 bytes a value, not ~250)."""
    if n < 1:
        raise InputError("--samples must be >= 1 when --random is given.", field="--samples")
    out = []
    for s in specs:  # one stream per path and range, drawn in order: sample i is the stream's i-th value
        key = hashlib.sha256(json.dumps([seed_material, s.__dict__], sort_keys=True).encode()).digest()
        out.append(_draw_many(s, np.random.default_rng(int.from_bytes(key[:8], "little")), n))
    return out


def _draw_many(s: RandomSpec, rng: np.random.Generator, n: int) -> np.ndarray:
    """n draws of `s` in order (vectorized; the first k of n are the k a shorter run draws)."""
    if s.log:
        x = np.exp(rng.uniform(math.log(s.lo), math.log(s.hi), size=n))
        return np.rint(x).astype(np.int64) if s.integer else x  # rint: round half to even, as Python's round
    if s.integer:
        return rng.integers(int(s.lo), int(s.hi) + 1, size=n).astype(np.int64)
    return rng.uniform(s.lo, s.hi, size=n)


def _file_hashes(doc: Any) -> dict[str, str]:
    """sha256 of every file a point references (model/hardware YAML, region CSV), by path."""
    out: dict[str, str] = {}

    def walk(x: Any) -> None:
        if isinstance(x, Mapping):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, str) and x.endswith(FILE_SUFFIXES) and x not in out and os.path.isfile(x):
            try:
                with open(x, "rb") as fh:
                    out[x] = hashlib.sha256(fh.read()).hexdigest()
            except OSError:
                out[x] = "unreadable"

    walk(doc)
    return out


def point_doc(data: Mapping[str, Any]) -> tuple[dict[str, Any], int, bool]:
    """(canonical content of a point for its id, its own simulation.seed, valid?). A point that does
    not validate keeps its raw content (it is recorded as a failing point)."""
    try:
        s = validate_spec(Scenario, data, what="sweep point")
    except InputError:
        doc = json.loads(json.dumps(dict(data), default=str))
        sim = doc.get("simulation") if isinstance(doc.get("simulation"), dict) else {}
        seed = sim.get("seed", 0)
        valid = False
    else:
        doc = s.model_dump(mode="json")
        seed = s.simulation.seed
        valid = True
    for k in ("name", "description", "variants", "uncertainty"):  # labels and distributions: a point has concrete values
        doc.pop(k, None)
    sim = doc.get("simulation")
    if isinstance(sim, dict):
        sim.pop("replicates", None)
        sim.pop("seed", None)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        seed = 0
    return doc, seed, valid


def point_id(doc: Mapping[str, Any], variant: str, seed: int, mode: str, files: Mapping[str, str] | None = None) -> str:
    import costsim

    blob = json.dumps({"point": doc, "variant": variant, "seed": int(seed), "mode": mode, "files": dict(files or {}),
                       "costsim": getattr(costsim, "__version__", "?")}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build_tasks(
    scenario: Scenario,
    *,
    grid: list[tuple[str, list[Any]]] | None = None,
    random: list[RandomSpec] | None = None,
    samples: int = 0,
    seeds: int = 1,
    mode: str = "sim",
    design: Any = None,
    positions: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every point of the sweep as a self-contained, picklable task dict. `design` (a
    costsim.uncertainty.sampling.SampleDesign) replaces --random samples by an uncertainty design."""
    if mode not in MODES:
        raise InputError(f"unknown sweep mode '{mode}'; use one of {', '.join(MODES)}.", field="--mode")
    if seeds < 1:
        raise InputError("--seeds must be >= 1.", field="--seeds")
    grid = grid or []
    if samples and not random and design is None:
        raise InputError("--samples needs --random path=lo:hi (what to sample); without --random leave --samples out.", field="--samples")
    h = scenario_hash(scenario)
    base = scenario.model_dump(mode="json", exclude={"variants"})
    base.setdefault("simulation", {})["replicates"] = 1  # sweeps replicate with --seeds
    variants = [(v.name, dict(v.set)) for v in scenario.variants]
    if scenario.simulation.include_base or not variants:
        variants.insert(0, ("base", {}))
    combos = list(itertools.product(*[[(p, v) for v in vals] for p, vals in grid])) if grid else [()]
    rsamples = random_samples(random or [], samples, seed_material=h) if design is None else design_samples(design)
    extra = design_columns(design)
    tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    file_cache: dict[str, dict[str, str]] = {}
    for vname, vset in variants:
        vbase = apply_overrides(base, vset, model=Scenario)
        for combo in combos:
            for j, rs in enumerate(rsamples):
                ov = list(combo) + list(rs)
                data = apply_overrides(vbase, ov, model=Scenario)
                data.setdefault("simulation", {})["replicates"] = 1
                doc, own_seed, _ = point_doc(data)
                key = json.dumps(doc, sort_keys=True, default=str)
                files = file_cache.get(key)
                if files is None:
                    files = file_cache[key] = _file_hashes(doc)
                for k in range(seeds):
                    seed = own_seed + k
                    pid = point_id(doc, vname, seed, mode, files)
                    if positions is not None and extra:
                        positions.append({"point_id": pid, "variant": vname, **extra[j]})
                    if pid in seen:
                        continue  # the same grid value listed twice is one point
                    seen.add(pid)
                    t = {"point_id": pid, "scenario_hash": h, "base": base, "variant": vname, "variant_set": vset,
                         "overrides": ov, "seed": seed, "mode": mode}
                    if extra:
                        t["design"] = extra[j]
                    tasks.append(t)
    return tasks


def design_samples(design: Any) -> list[list[tuple[str, Any]]]:
    """The points of an uncertainty design as override lists (Python numbers)."""
    cols = [[(p, v) for v in np.asarray(design.values[p]).tolist()] for p in design.paths]
    return [list(x) for x in zip(*cols)] if cols else [[]]


def design_columns(design: Any) -> list[dict[str, Any]] | None:
    if design is None:
        return None
    return [{"sample_index": int(j), "sample_block": str(b)} for j, b in zip(np.asarray(design.sample_index).tolist(), design.block.tolist())]


def _flatten(prefix: str, obj: Any, out: dict[str, Any], depth: int = 0) -> None:
    from costsim.estimators.batch import flatten_result

    flatten_result(prefix, obj, out, depth)


def _lookup(workload: Any, path: str) -> Any:
    """workload.a.b, or the first nested spec (one level down) holding the name."""
    cur = workload
    for part in path.split("."):
        if not hasattr(cur, part):
            cur = None
            break
        cur = getattr(cur, part)
    if cur is not None or "." in path:
        return cur
    for name in type(workload).model_fields:
        sub = getattr(workload, name)
        if isinstance(sub, BaseModel) and path in type(sub).model_fields:
            return getattr(sub, path)
    return None


def _request_from(workload: Any, req_cls: type, renames: Mapping[str, str], s: Scenario,
                  skip: frozenset[str] = frozenset(), extra: Mapping[str, Any] | None = None) -> Any:
    """Build a core request from a scenario workload by shared field names (nested specs such as
    `layout` are searched one level down; a length distribution gives its mean). With scenario.grid.region the
    electricity price and carbon intensity are the region's annual means (the simulations bill the hourly signals
    under their own load)."""
    data: dict[str, Any] = dict(extra or {})
    for name in req_cls.model_fields:
        if name in skip or name in data:
            continue
        if name in ("facility", "economics"):
            data[name] = getattr(s, name)
            if name == "economics" and s.grid.region:  # the cores have no time axis: the region's annual means
                from costsim.power.signals import region_mean_economics

                data[name] = region_mean_economics(s.economics, s.grid.region)
            continue
        v = _lookup(workload, renames.get(name, name))
        if v is not None and hasattr(v, "model_dump"):
            v = length_mean(v)
        if v is not None:
            data[name] = v
    for name, v in reliability_fields(workload).items():  # the training simulation's failures, as the core's goodput reads them
        if name in req_cls.model_fields and data.get(name) is None:
            data[name] = v
    return validate_spec(req_cls, data, what=f"{req_cls.__name__} built from the scenario")


def length_mean(dist: Any) -> int | None:
    """The mean tokens of a scenario's length distribution, what the cores price (fixed: its value; lognormal: its
    mean before truncation; uniform: the middle of low..high); None for a trace (its lengths are in a file) or any other
    spec. Only 'fixed' had been read: a lognormal prompt of mean 800 was priced at the cores' default of 512."""
    kind = getattr(dist, "kind", None)
    mean = getattr(dist, "mean", None)
    if kind in ("fixed", "lognormal") and mean is not None:
        return max(int(round(mean)), 1)
    if kind == "uniform" and getattr(dist, "high", None) is not None:
        return max(int(round((dist.low + dist.high) / 2)), 1)
    return None


def reliability_fields(workload: Any) -> dict[str, float]:
    """The training workload's failure model as the closed-form goodput takes it: interruptions per GPU-hour (the
    classes' rates x rate_scale), the rate-weighted restart time, s, and the planned stops (per day, downtime s).
    Empty for a workload without `reliability`."""
    rel = getattr(workload, "reliability", None)
    if rel is None or not hasattr(rel, "failure_classes"):
        return {}
    maint = getattr(workload, "maintenance", None)
    classes = rel.failure_classes()
    rates = [c.rate_per_gpu_hour * rel.rate_scale for c in classes]
    total = float(sum(rates))
    if total > MAX_FAILURE_RATE_PER_GPU_HOUR:  # refused, not clipped: the core would price a far healthier fleet
        raise InputError(f"training.reliability: the failure classes' rates x rate_scale {rel.rate_scale:g} give {total:.3g} "
                         f"interruptions per GPU-hour; the closed-form core takes at most {MAX_FAILURE_RATE_PER_GPU_HOUR:g} "
                         "(it would price a healthier fleet than the scenario's). Lower training.reliability.rate_scale, or "
                         "use --mode sim.", field="training.reliability.rate_scale")
    out: dict[str, float] = {"failure_rate_per_gpu_hour": total}
    if total > 0:
        out["restart_time_s"] = float(sum(r * rel.restart_s_of(c) for r, c in zip(rates, classes)) / total)
    else:
        out["restart_time_s"] = float(rel.restart_s)
    if maint is not None:  # the planned stops the simulation draws (training.maintenance)
        out["maintenance_per_day"] = float(maint.per_day)
        out["maintenance_downtime_s"] = float(maint.downtime_s)
    return out


#: trust ranges on train/serve results (throughput and power): they depend on hardware and scale only, not on the
#: swept numbers, so they stay out of the rows (the batched path computes the same rows without them); and the
#: electricity rates' description (the scenario's economics, or grid.region's means, say which rates priced a point)
BAND_KEYS = frozenset({"error_band", "power_error_band", "energy_rates"})


def train_request(s: Scenario) -> Any:
    """The TrainRequest the training core prices for a scenario's training part."""
    from costsim.specs.requests import TrainRequest

    return _request_from(s.training, TrainRequest, {"gpus": "num_gpus"}, s)


def serve_request(s: Scenario) -> Any:
    """The ServeRequest the serving core prices for a scenario's serving part: an explicit per-replica layout is one
    replica; a GPU budget (serving.gpus) is searched."""
    from costsim.specs.requests import ServeRequest

    renames = {"ttft_slo_s": "slo.ttft_s", "tpot_slo_s": "slo.tpot_s"}
    skip: frozenset[str] = frozenset()
    if s.serving.gpus is None:
        renames["gpus"] = "gpus_per_replica"
    else:  # a budget leaves the layout to the search, as the simulation's (pp 1 / ep 1 are the section's unset defaults)
        skip = frozenset({"tp", "pp", "ep"})
    cv = output_cv(s.serving.output_tokens)
    return _request_from(s.serving, ServeRequest, renames, s, skip=skip, extra={"output_tokens_cv": cv} if cv else None)


def output_cv(dist: Any) -> float:
    """The spread (std / mean) of a scenario's output lengths, which sizes the cores' KV reservation: a lognormal's cv
    (before truncation), a uniform range's std / mean; 0 for fixed lengths or a trace."""
    kind = getattr(dist, "kind", None)
    if kind == "lognormal":
        return float(min(dist.cv, MAX_OUTPUT_TOKENS_CV))
    if kind == "uniform" and getattr(dist, "high", None) is not None:
        mid = (dist.low + dist.high) / 2
        return float((dist.high - dist.low) / math.sqrt(12.0) / mid) if mid > 0 else 0.0
    return 0.0


def core_requests(s: Scenario) -> tuple[Any, ...]:
    """The requests the closed-form cores price for a scenario (training, serving; the plan part as its spec): two
    scenarios with equal core requests have equal core-mode results."""
    out: list[Any] = []
    if s.training is not None:
        out.append(train_request(s))
    if s.serving is not None:
        out.append(serve_request(s))
    if s.plan is not None:
        out.append((s.plan, s.facility, s.economics, s.grid))
    return tuple(out)


def evaluate_core(s: Scenario) -> dict[str, Any]:
    """The closed-form cores (no DES): costsim.api.train.train / costsim.api.serve.serve."""
    out: dict[str, Any] = {}
    if s.training is not None:
        from costsim.api.train import train

        res = train(train_request(s))
        _flatten("training", {k: v for k, v in res.items() if not isinstance(v, list) and k not in BAND_KEYS}, out)
    if s.serving is not None:
        from costsim.api.serve import serve

        res = serve(serve_request(s))
        _flatten("serving", {k: v for k, v in res.items() if not isinstance(v, list) and k not in BAND_KEYS}, out)
    if s.plan is not None:  # the planner is closed-form already: its summary is the core-mode row
        from costsim.api.plan_part import run_plan_part

        _flatten("plan", {k: v for k, v in run_plan_part(s).summary.items() if not isinstance(v, (list, dict))}, out)
    return out


def evaluate_point(task: Mapping[str, Any]) -> dict[str, Any]:
    """One point -> one flat row (never raises)."""
    t0 = time.perf_counter()
    ov = [(p, v) for p, v in task["overrides"]]
    row: dict[str, Any] = {
        "point_id": task["point_id"],
        "scenario_hash": task["scenario_hash"],
        "variant": task["variant"],
        "seed": int(task["seed"]),
        "mode": task["mode"],
        "overrides_json": json.dumps(ov, default=str),
    }
    for p, v in ov:
        row[param_column(p)] = v
    for c, v in (task.get("design") or {}).items():  # uncertainty design: sample_index, sample_block
        row[c] = v
    try:
        data = apply_overrides(task["base"], task.get("variant_set") or {}, model=Scenario)
        data = apply_overrides(data, ov, model=Scenario)
        data.setdefault("simulation", {})["seed"] = int(task["seed"])  # the point's own seed (+ k for --seeds)
        data["simulation"]["replicates"] = 1
        s = validate_spec(Scenario, data, what=f"sweep point {task['point_id']}")
        if task["mode"] == "sim":
            from costsim.api.run import run_variant

            vr = run_variant(task["variant"], s, int(task["seed"]))
            row.update(vr.flat_summary())
            row["feasible"] = bool(vr.feasible)
        else:
            res = evaluate_core(s)
            row.update(res)
            feas = [v for k, v in res.items() if k.endswith("_feasible") and isinstance(v, bool)]
            row["feasible"] = all(feas) if feas else True
        row["status"] = "ok"
        row["error"] = None
    except Exception as exc:  # noqa: BLE001 - a failing point is a recorded result
        msg = getattr(exc, "message", None) or str(exc)
        if not isinstance(exc, InputError):
            # the sweep worker's error boundary: the point records a one-line message with an error id,
            # the traceback goes to the crash log (same as the CLI's)
            from costsim.errors import record_crash

            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
            rec = record_crash(exc, context=f"sweep point {task['point_id']}")
            log = f"; traceback in {rec.log_path}" if rec.log_path else ""
            msg = f"internal error {rec.error_id}: {type(exc).__name__}: {msg}{where}{log}"
        row["status"] = "error"
        row["error"] = msg[:2000]
    row["wall_s"] = time.perf_counter() - t0
    return row


def evaluate_batch(tasks: Any) -> Any:
    """A work unit: a list of point tasks -> their rows; a batched GroupTask -> its GroupResult."""
    if not isinstance(tasks, list):
        from costsim.sweep.batched_eval import evaluate_group

        return evaluate_group(tasks)
    return [evaluate_point(t) for t in tasks]
