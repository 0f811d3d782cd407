"""Sweep points: parse --grid/--random specs, expand grid x random samples x seeds (x variants),
give every point a stable id, and evaluate one point into one flat row.

A point's id = sha256 of (scenario hash, variant, overrides, seed, mode), first 16 hex digits:
the same point always gets the same id, so a re-run can skip what is already stored.
`evaluate_point` never raises: a failing point comes back as a row with status 'error' and the
error text, so the sweep goes on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
import traceback
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from pydantic import BaseModel

from costsim.errors import InputError
from costsim.specs.base import validate_spec
from costsim.specs.overrides import apply_overrides, check_path, parse_value, split_path
from costsim.specs.scenario import Scenario, scenario_hash

MODES = ("sim", "core")
META_COLUMNS = ("point_id", "scenario_hash", "variant", "seed", "mode", "overrides_json", "status", "error", "wall_s")


@dataclass(frozen=True)
class RandomSpec:
    path: str
    lo: float
    hi: float
    integer: bool
    log: bool


def param_column(path: str) -> str:
    """Column name of an override in the results table: 'param_' + path with '.'/'[]' -> '_'."""
    parts = split_path(path)
    return "param_" + "_".join(str(p) for p in parts)


def parse_grid(items: Iterable[str]) -> list[tuple[str, list[Any]]]:
    """['training.num_gpus=512,1024'] -> [('training.num_gpus', [512, 1024])]."""
    out: list[tuple[str, list[Any]]] = []
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--grid expects path=v1,v2,... (e.g. training.num_gpus=512,1024), got {item!r}.", field="--grid")
        path, _, vals = item.partition("=")
        path = path.strip()
        check_path(Scenario, split_path(path), original=path)
        values = [parse_value(v.strip()) for v in vals.split(",") if v.strip() != ""]
        if not values:
            raise InputError(f"--grid {path}= has no values; give a comma-separated list.", field="--grid")
        out.append((path, values))
    return out


def _num(text: str, item: str) -> float:
    v = parse_value(text.strip())
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            v = float(str(text).strip())
        except ValueError:
            raise InputError(f"--random expects path=lo:hi with numbers, got {item!r}.", field="--random") from None
    return v


def parse_random(items: Iterable[str]) -> list[RandomSpec]:
    """['economics.electricity_usd_per_kwh=0.03:0.15', 'training.num_gpus=512:4096:log']."""
    out: list[RandomSpec] = []
    for item in items or []:
        if "=" not in item or ":" not in item.partition("=")[2]:
            raise InputError(f"--random expects path=lo:hi[:log] (e.g. economics.electricity_usd_per_kwh=0.03:0.15), got {item!r}.", field="--random")
        path, _, rng = item.partition("=")
        path = path.strip()
        check_path(Scenario, split_path(path), original=path)
        bits = rng.split(":")
        log = len(bits) == 3 and bits[2].strip().lower() == "log"
        if len(bits) not in (2, 3) or (len(bits) == 3 and not log):
            raise InputError(f"--random expects path=lo:hi or path=lo:hi:log, got {item!r}.", field="--random")
        lo, hi = _num(bits[0], item), _num(bits[1], item)
        if not lo < hi:
            raise InputError(f"--random {path}: lo must be below hi, got {lo} and {hi}.", field="--random")
        if log and lo <= 0:
            raise InputError(f"--random {path}: a log range needs lo > 0, got {lo}.", field="--random")
        integer = isinstance(lo, int) and isinstance(hi, int)
        out.append(RandomSpec(path, lo, hi, integer, log))
    return out


def random_samples(specs: list[RandomSpec], n: int, *, seed_material: str) -> list[list[tuple[str, Any]]]:
    """n joint samples, deterministic given the scenario and the specs (so resume finds them)."""
    if not specs:
        return [[]]
    if n < 1:
        raise InputError("--samples must be >= 1 when --random is given.", field="--samples")
    key = hashlib.sha256((seed_material + json.dumps([s.__dict__ for s in specs], sort_keys=True)).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(key[:8], "little"))
    cols: list[list[Any]] = []
    for s in specs:
        if s.log:
            x = np.exp(rng.uniform(math.log(s.lo), math.log(s.hi), n))
            vals = [int(round(v)) for v in x] if s.integer else [float(v) for v in x]
        elif s.integer:
            vals = [int(v) for v in rng.integers(int(s.lo), int(s.hi) + 1, n)]
        else:
            vals = [float(v) for v in rng.uniform(s.lo, s.hi, n)]
        cols.append(vals)
    return [[(s.path, cols[j][i]) for j, s in enumerate(specs)] for i in range(n)]


def point_id(scn_hash: str, variant: str, overrides: list[tuple[str, Any]], seed: int, mode: str) -> str:
    doc = json.dumps({"scenario": scn_hash, "variant": variant, "overrides": [[p, v] for p, v in overrides], "seed": int(seed), "mode": mode}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def build_tasks(
    scenario: Scenario,
    *,
    grid: list[tuple[str, list[Any]]] | None = None,
    random: list[RandomSpec] | None = None,
    samples: int = 0,
    seeds: int = 1,
    mode: str = "sim",
) -> list[dict[str, Any]]:
    """Every point of the sweep as a self-contained, picklable task dict."""
    if mode not in MODES:
        raise InputError(f"unknown sweep mode '{mode}'; use one of {', '.join(MODES)}.", field="--mode")
    if seeds < 1:
        raise InputError("--seeds must be >= 1.", field="--seeds")
    grid = grid or []
    h = scenario_hash(scenario)
    base = scenario.model_dump(mode="json", exclude={"variants"})
    base.setdefault("simulation", {})["replicates"] = 1  # sweeps replicate with --seeds
    variants = [(v.name, dict(v.set)) for v in scenario.variants]
    if scenario.simulation.include_base or not variants:
        variants.insert(0, ("base", {}))
    combos = list(itertools.product(*[[(p, v) for v in vals] for p, vals in grid])) if grid else [()]
    rsamples = random_samples(random or [], samples, seed_material=h)
    base_seed = scenario.simulation.seed
    tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    for vname, vset in variants:
        for combo in combos:
            for rs in rsamples:
                ov = list(combo) + list(rs)
                for k in range(seeds):
                    seed = base_seed + k
                    pid = point_id(h, vname, ov, seed, mode)
                    if pid in seen:
                        continue  # the same grid value listed twice is one point
                    seen.add(pid)
                    tasks.append({"point_id": pid, "scenario_hash": h, "base": base, "variant": vname, "variant_set": vset,
                                  "overrides": ov, "seed": seed, "mode": mode})
    return tasks


def _flatten(prefix: str, obj: Any, out: dict[str, Any], depth: int = 0) -> None:
    if isinstance(obj, Mapping):
        if depth > 3:
            return
        for k, v in obj.items():
            _flatten(f"{prefix}_{k}" if prefix else str(k), v, out, depth + 1)
    elif isinstance(obj, (bool, np.bool_)):
        out[prefix] = bool(obj)
    elif isinstance(obj, (int, np.integer)):
        out[prefix] = int(obj)
    elif isinstance(obj, (float, np.floating)):
        out[prefix] = float(obj) if math.isfinite(float(obj)) else None
    elif isinstance(obj, str) or obj is None:
        out[prefix] = obj


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


def _request_from(workload: Any, req_cls: type, renames: Mapping[str, str], s: Scenario) -> Any:
    """Build a core request from a scenario workload by shared field names (nested specs such as
    `layout` are searched one level down; a length distribution gives its mean)."""
    data: dict[str, Any] = {}
    for name in req_cls.model_fields:
        if name in ("facility", "economics"):
            data[name] = getattr(s, name)
            continue
        v = _lookup(workload, renames.get(name, name))
        if v is not None and hasattr(v, "model_dump"):
            mean = getattr(v, "mean", None)
            v = int(round(mean)) if mean is not None and getattr(v, "kind", "fixed") == "fixed" else None
        if v is not None:
            data[name] = v
    return validate_spec(req_cls, data, what=f"{req_cls.__name__} built from the scenario")


def evaluate_core(s: Scenario) -> dict[str, Any]:
    """The closed-form cores (no DES): costsim.api.train.train / costsim.api.serve.serve."""
    out: dict[str, Any] = {}
    if s.training is not None:
        from costsim.api.train import train
        from costsim.specs.requests import TrainRequest

        req = _request_from(s.training, TrainRequest, {"gpus": "num_gpus"}, s)
        res = train(req)
        _flatten("training", {k: v for k, v in res.items() if not isinstance(v, list)}, out)
    if s.serving is not None:
        from costsim.api.serve import serve
        from costsim.specs.requests import ServeRequest

        req = _request_from(s.serving, ServeRequest, {"gpus": "gpus_per_replica", "tp": "gpus_per_replica", "ttft_slo_s": "slo.ttft_s", "tpot_slo_s": "slo.tpot_s"}, s)
        res = serve(req)
        _flatten("serving", {k: v for k, v in res.items() if not isinstance(v, list)}, out)
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
    try:
        data = apply_overrides(task["base"], task.get("variant_set") or {}, model=Scenario)
        data = apply_overrides(data, ov, model=Scenario)
        data.setdefault("simulation", {})["seed"] = int(task["seed"])
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
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
            msg = f"{type(exc).__name__}: {msg}{where}"
        row["status"] = "error"
        row["error"] = msg[:2000]
    row["wall_s"] = time.perf_counter() - t0
    return row


def evaluate_batch(tasks: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [evaluate_point(t) for t in tasks]
