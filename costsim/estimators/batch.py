"""Batched estimates: many points of one training or serving request in one call (struct of arrays).

    train_batch(req, varied, *, spec=None, acc=None, framework=None) -> BatchEstimate   (None: the request's own)
    serve_batch(req, varied, *, model=None, acc=None, engine=None) -> BatchEstimate

`req` is one validated request; `varied` maps request field names to arrays of length n (or
scalars), one value per point: top-level fields ("gpus", "tokens", "seq_len", ...) and numeric
facility / economics fields ("facility.pue", "economics.electricity_usd_per_kwh", ...).

How a batch runs:
- Fields that only enter after the per-step physics (training: tokens, failure_rate_per_gpu_hour,
  checkpoint_time_s, restart_time_s; both: facility and economics numbers; see POST_FIELDS) are
  checked against their declared bounds at once and broadcast through the whole-run arithmetic
  (goodput, energy, costsim.economics.batch.account_run_batch).
- Any other varied field (gpus, seq_len, precision, batch, tokens per request, ...) changes the
  layout search or the serving curve: points are grouped by the unique combinations of those
  fields, and each combination is validated and estimated once with the per-point estimator
  (costsim.estimators.training.estimate / inference.estimate_serve), which gives every
  step-level number.
- A point whose value is refused, or whose combination raises an InputError, keeps its error
  message in `BatchEstimate.error`; the others are unaffected. Points the vector path does not
  cover (a training run with zero goodput) are evaluated one by one with the per-point estimator.

Columns are the per-point result flattened with '_' (`flatten_result`), i.e. exactly the keys a
core-mode sweep row holds after its 'training_' / 'serving_' prefix. The property tests in
tests/test_batch_estimators.py check every column against the per-point estimator (equal to
floating-point rounding: the batch reassociates a few products, relative error < 1e-12).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from costsim.core import goodput as gp
from costsim.economics.batch import NO_EFFECT_FIELDS, VARIABLE_FIELDS, account_run_batch
from costsim.errors import InputError
from costsim.estimators.inference import estimate_serve
from costsim.estimators.training import checkpoint_time_s, estimate, maintenance
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.requests import ServeRequest, TrainRequest
from costsim.specs.site import EconomicsSpec, FacilitySpec
from costsim.specs.vector_check import field_rule, invalid_mask, message

TRAIN_POST_FIELDS = ("tokens", "failure_rate_per_gpu_hour", "checkpoint_time_s", "restart_time_s")
SITE_FIELDS = VARIABLE_FIELDS + NO_EFFECT_FIELDS
POST_FIELDS = {"training": TRAIN_POST_FIELDS + SITE_FIELDS, "serving": SITE_FIELDS}


@dataclass(frozen=True)
class BatchEstimate:
    """Results of n points as a struct of arrays."""

    columns: dict[str, np.ndarray]
    """Flattened result key -> array of length n. Float arrays hold NaN where the per-point result
    holds None or a non-finite number; int and bool arrays are complete; object arrays hold text or
    None (also used for an int/bool key missing at some points)."""
    error: np.ndarray
    """Object array of length n: None, or the error message of a point that failed."""
    num_points: int
    """n."""
    num_estimates: int
    """How many per-point estimates ran (one per combination of the search fields, plus fallbacks)."""

    @property
    def ok(self) -> np.ndarray:
        """Bool array: the point has a result (no error)."""
        return np.equal(self.error, None).astype(bool)


# ----------------------------------------------------------------------------- flattening


def flatten_result(prefix: str, obj: Any, out: dict[str, Any], depth: int = 0) -> None:
    """Scalars of a nested result as {prefix_key_subkey: value}: lists are left out, mappings deeper
    than 3 levels too, non-finite floats become None, numpy scalars become Python ones. (The one
    flattening used by sweep rows and by the batched estimates.)"""
    if isinstance(obj, Mapping):
        if depth > 3:
            return
        for k, v in obj.items():
            flatten_result(f"{prefix}_{k}" if prefix else str(k), v, out, depth + 1)
    elif isinstance(obj, (bool, np.bool_)):
        out[prefix] = bool(obj)
    elif isinstance(obj, (int, np.integer)):
        out[prefix] = int(obj)
    elif isinstance(obj, (float, np.floating)):
        out[prefix] = float(obj) if math.isfinite(float(obj)) else None
    elif isinstance(obj, str) or obj is None:
        out[prefix] = obj


def flat(result: Mapping[str, Any]) -> dict[str, Any]:
    """A per-point result (top-level lists dropped) flattened without prefix."""
    out: dict[str, Any] = {}
    flatten_result("", {k: v for k, v in result.items() if not isinstance(v, list)}, out)
    return out


# ----------------------------------------------------------------------------- assembling columns


class _Columns:
    """Collects (indices, values) chunks per key and builds one array per key."""

    def __init__(self, n: int):
        self.n = n
        self.chunks: dict[str, list[tuple[np.ndarray, Any]]] = {}

    def put(self, key: str, idx: np.ndarray, value: Any) -> None:
        self.chunks.setdefault(key, []).append((idx, value))

    def put_row(self, row: Mapping[str, Any], idx: np.ndarray) -> None:
        for k, v in row.items():
            self.put(k, idx, v)

    def build(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for key, chunks in self.chunks.items():
            covered = sum(len(i) for i, _ in chunks)
            kinds = set()
            for _, v in chunks:
                if isinstance(v, np.ndarray):
                    kinds.add("f" if v.dtype.kind == "f" else ("i" if v.dtype.kind in "iu" else ("b" if v.dtype.kind == "b" else "o")))
                elif v is None:
                    kinds.add("n")
                elif isinstance(v, bool):
                    kinds.add("b")
                elif isinstance(v, int):
                    kinds.add("i")
                elif isinstance(v, float):
                    kinds.add("f")
                else:
                    kinds.add("o")
            if kinds <= {"f", "n"} and "f" in kinds:
                arr = np.full(self.n, np.nan)
            elif kinds == {"i"} and covered == self.n:
                arr = np.zeros(self.n, np.int64)
            elif kinds == {"b"} and covered == self.n:
                arr = np.zeros(self.n, bool)
            else:
                arr = np.full(self.n, None, dtype=object)
            for idx, v in chunks:
                if arr.dtype == object and isinstance(v, np.ndarray):
                    vals = v.tolist()
                    if v.dtype.kind == "f":
                        vals = [x if math.isfinite(x) else None for x in vals]
                    tmp = np.empty(len(vals), dtype=object)
                    tmp[:] = vals
                    arr[idx] = tmp
                elif arr.dtype.kind == "f" and v is None:
                    arr[idx] = np.nan
                else:
                    arr[idx] = v
            if arr.dtype.kind == "f":
                arr[~np.isfinite(arr)] = np.nan
            out[key] = arr
        return out


# ----------------------------------------------------------------------------- shared machinery


def _as_arrays(varied: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    arrs = {k: np.asarray(v) for k, v in varied.items()}
    sizes = {a.size for a in arrs.values() if a.ndim > 0}
    if len(sizes) > 1:
        raise InputError(f"varied fields must have one length; got lengths {sorted(sizes)} for {', '.join(arrs)}.", field="varied")
    n = sizes.pop() if sizes else 1
    return {k: (np.broadcast_to(a, (n,)) if a.ndim == 0 else a.reshape(-1)) for k, a in arrs.items()}, n


def _rule(req_cls: type, key: str):
    if key.startswith("facility."):
        return field_rule(FacilitySpec, key.split(".", 1)[1])
    if key.startswith("economics."):
        return field_rule(EconomicsSpec, key.split(".", 1)[1])
    return field_rule(req_cls, key)


def _check_keys(req_cls: type, part: str, keys: list[str]) -> None:
    for k in keys:
        if "." in k:
            if k not in SITE_FIELDS:
                raise InputError(f"'{k}' cannot vary in a batch: only numeric facility/economics fields can "
                                 f"({', '.join(SITE_FIELDS)}).", field=k)
        elif k not in req_cls.model_fields or k in ("facility", "economics", "model", "hardware"):
            raise InputError(f"'{k}' is not a {part} request field that can vary in a batch; the {part} request has "
                             f"{', '.join(f for f in req_cls.model_fields if f not in ('facility', 'economics', 'model', 'hardware'))}.",
                             field=k)


def _with_values(req, values: Mapping[str, Any]):
    """The request with some fields replaced (validated: a bad value raises InputError)."""
    from costsim.specs.base import validate_spec

    data = req.model_dump()
    for k, v in values.items():
        v = v.item() if isinstance(v, np.generic) else v
        if "." in k:
            sec, name = k.split(".", 1)
            data[sec] = {**data[sec], name: v}
        else:
            data[k] = v
    return validate_spec(type(req), data, what=f"{type(req).__name__} of a batch point")


def _post_errors(req_cls: type, arrs: Mapping[str, np.ndarray], keys: list[str], n: int) -> np.ndarray:
    error = np.full(n, None, dtype=object)
    for k in keys:
        rule = _rule(req_cls, k)
        if rule is None:
            continue
        bad = invalid_mask(rule, arrs[k])
        for i in np.flatnonzero(bad & np.equal(error, None)):
            error[i] = message(rule, arrs[k][i], k)
    return error


def _run_batch(req, varied: Mapping[str, Any], part: str,
               point_fn: Callable[[Any], dict[str, Any]],
               vector_fn: Callable[[Any, dict[str, Any], dict[str, np.ndarray], int], dict[str, Any]]) -> BatchEstimate:
    arrs, n = _as_arrays(varied)
    keys = list(arrs)
    _check_keys(type(req), part, keys)
    post = [k for k in keys if k in POST_FIELDS[part]]
    search = [k for k in keys if k not in POST_FIELDS[part]]
    error = _post_errors(type(req), arrs, post, n)
    cols = _Columns(n)
    estimates = 0
    if search:
        keyed = [tuple(x.item() if isinstance(x, np.generic) else x for x in t) for t in zip(*(arrs[k] for k in search))]
        groups: dict[tuple, list[int]] = {}
        for i, t in enumerate(keyed):
            groups.setdefault(t, []).append(i)
        combos = [(dict(zip(search, t)), np.asarray(ix, dtype=np.int64)) for t, ix in groups.items()]
    else:
        combos = [({}, np.arange(n, dtype=np.int64))]
    for combo, idx in combos:
        ok_idx = idx[np.equal(error[idx], None)]
        if ok_idx.size == 0:
            continue
        first = int(ok_idx[0])
        try:
            rep = _with_values(req, {**combo, **{k: arrs[k][first] for k in post}})
            template = point_fn(rep)
            estimates += 1
        except InputError as exc:
            error[ok_idx] = exc.message
            continue
        sub = {k: arrs[k][ok_idx] for k in post}
        res = vector_fn(rep, template, sub, ok_idx.size)
        fallback = res.pop("__fallback__", None)
        if fallback is not None and fallback.any():
            keep = ~fallback
            for j in np.flatnonzero(fallback):
                i = int(ok_idx[j])
                try:
                    row = point_fn(_with_values(req, {**combo, **{k: arrs[k][i] for k in post}}))
                    estimates += 1
                except InputError as exc:
                    error[i] = exc.message
                    continue
                cols.put_row(row, np.asarray([i]))
            kept = ok_idx[keep]
            for k, v in res.items():
                cols.put(k, kept, v[keep] if isinstance(v, np.ndarray) and v.shape == (ok_idx.size,) else v)
        else:
            for k, v in res.items():
                cols.put(k, ok_idx, v)
    return BatchEstimate(columns=cols.build(), error=error, num_points=n, num_estimates=estimates)


def _site_varied(sub: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.astype(float) for k, v in sub.items() if "." in k}


# ----------------------------------------------------------------------------- training


def _train_vector(spec, acc, node) -> Callable[[TrainRequest, dict[str, Any], dict[str, np.ndarray], int], dict[str, Any]]:
    def vector(req: TrainRequest, t: dict[str, Any], sub: dict[str, np.ndarray], n: int) -> dict[str, Any]:
        res: dict[str, Any] = dict(t)
        tokens = sub["tokens"].astype(float) if "tokens" in sub else np.full(n, float(t["tokens"]))
        res["tokens"] = tokens
        if t.get("step_time_s") is None:  # no feasible layout: nothing else depends on the varied fields
            return res
        gpus = req.gpus
        tokens_per_step = float(t["tokens_per_step"])
        step = float(t["step_time_s"])
        flop_per_token = float(t["train_flop"]) / float(t["tokens"])
        num_steps = np.ceil(tokens / tokens_per_step)
        compute_time = num_steps * step
        rate = sub["failure_rate_per_gpu_hour"].astype(float) if "failure_rate_per_gpu_hour" in sub else (
            req.failure_rate_per_gpu_hour if req.failure_rate_per_gpu_hour is not None else gp.DEFAULT_FAILURE_RATE_PER_GPU_HOUR)
        ck = sub["checkpoint_time_s"].astype(float) if "checkpoint_time_s" in sub else (
            checkpoint_time_s(req, spec))  # a LoRA run writes its adapters only, as the per-point estimate
        rs = sub["restart_time_s"].astype(float) if "restart_time_s" in sub else (
            req.restart_time_s if req.restart_time_s is not None else gp.DEFAULT_RESTART_TIME_S)
        m_day, m_down = maintenance(req)
        g = gp.goodput(rate, gpus, ck, rs, compute_time, m_day, m_down)
        g = {k: np.broadcast_to(np.asarray(v, float), (n,)) for k, v in g.items()}
        good = g["goodput_frac"]
        feasible = good > 0
        wall = compute_time / np.where(feasible, good, 1.0)
        split = {k: np.broadcast_to(np.asarray(v, float), (n,))
                 for k, v in gp.time_split_s(compute_time, wall, g, ck, rs, m_day, m_down).items()}
        p_c = float(t["breakdowns_gpu_power_w_compute"])
        p_step = float(t["breakdowns_gpu_power_w_step_average"])
        p_warm = float(t["breakdowns_gpu_power_w_checkpoint_stall"])
        gpu_energy = gpus * (p_step * (split["productive_s"] + split["redone_s"]) + p_warm * split["checkpoint_stall_s"]
                             + acc.idle_w * (split["restart_s"] + split["maintenance_s"]))
        acct = account_run_batch(acc=acc, node=node, num_gpus=gpus, wall_time_s=wall, gpu_energy_j=gpu_energy,
                                 facility=req.facility, economics=req.economics, gpu_peak_power_w=p_c, varied=_site_varied(sub))
        res.update({
            "train_flop": flop_per_token * tokens, "num_steps": num_steps.astype(np.int64), "compute_time_s": compute_time,
            "goodput_frac": good, "wall_time_s": wall, "gpu_hours": acct["gpu_hours"], "gpu_energy_j": gpu_energy,
            "it_energy_j": acct["it_energy_j"], "facility_energy_j": acct["facility_energy_j"],
            "facility_peak_power_w": acct["power_by_component_w_facility_peak_w"],
            "co2e_kg": acct["co2e_kg"], "cost_usd": acct["cost_usd"], "cost_unavailable_reason": acct["cost_unavailable_reason"],
        })
        for k, v in acct.items():
            if k.startswith(("cost_breakdown_usd_", "co2e_breakdown_kg_", "power_by_component_w_", "energy_by_component_j_",
                             "cost_by_component_usd_", "co2e_by_component_kg_", "water_by_component_")):
                res[k] = v
        for k in gp.BREAKDOWN_KEYS:
            res[f"breakdowns_goodput_{k}"] = g[k]
        for k, v in split.items():
            res[f"breakdowns_wall_time_split_s_{k}"] = v
        # zero goodput: the per-point estimator reports it (infeasible, no totals); fewer tokens than one step: it refuses
        res["__fallback__"] = ~feasible | (tokens < tokens_per_step)
        return res

    return vector


def train_batch(req: TrainRequest, varied: Mapping[str, Any], *, spec=None, acc=None,
                framework: str | None = None) -> BatchEstimate:
    """Training estimates of n points (see the module docstring); `varied` keys are TrainRequest
    field names or "facility.<field>" / "economics.<field>"."""
    spec = spec or get_model(req.model)
    acc = acc or get_accelerator(req.hardware)
    node = node_for(acc)

    def point(r: TrainRequest) -> dict[str, Any]:
        return flat(estimate(r, spec, acc, framework))

    return _run_batch(req, varied, "training", point, _train_vector(spec, acc, node))


# ----------------------------------------------------------------------------- serving


def _serve_vector(acc, node) -> Callable[[ServeRequest, dict[str, Any], dict[str, np.ndarray], int], dict[str, Any]]:
    def vector(req: ServeRequest, t: dict[str, Any], sub: dict[str, np.ndarray], n: int) -> dict[str, Any]:
        res: dict[str, Any] = dict(t)
        if t.get("accounting_period_wall_time_s") is None:  # infeasible before any accounting
            return res
        # the accounting inputs of the per-point estimate, read back from its result (whatever the
        # cycle holds: prefill, decode steps, per-request gaps): period, output tokens, GPU energy
        gpus = t["gpus"]
        cycle_s = float(t["accounting_period_wall_time_s"])
        tokens = float(t["accounting_period_output_tokens"])
        p_pre, p_dec = float(t["gpu_power_by_phase_w_prefill"]), float(t["gpu_power_by_phase_w_decode"])
        gpu_j = float(t["gpu_energy_per_token_j"]) * tokens
        acct = account_run_batch(acc=acc, node=node, num_gpus=gpus, wall_time_s=cycle_s, gpu_energy_j=gpu_j,
                                 facility=req.facility, economics=req.economics, gpu_peak_power_w=max(p_pre, p_dec),
                                 varied=_site_varied(sub))
        ones = np.ones(n)
        res["facility_energy_per_token_j"] = acct["facility_energy_j"] / tokens * ones
        res["cost_usd_per_million_tokens"] = acct["cost_usd"] / tokens * 1e6 * ones
        res["cost_unavailable_reason"] = acct["cost_unavailable_reason"]
        res["co2e_g_per_million_tokens"] = acct["co2e_kg"] * 1000.0 / tokens * 1e6 * ones
        for k in [k for k in res if k.startswith("breakdown_cost_usd_per_million_tokens_")]:
            del res[k]
        priced = bool(np.isfinite(acct["cost_usd"]).all())
        if priced:
            for k, v in acct.items():
                if k.startswith("cost_breakdown_usd_"):
                    res["breakdown_cost_usd_per_million_tokens_" + k[len("cost_breakdown_usd_"):]] = v / tokens * 1e6 * ones
        for k, v in acct.items():
            if k.startswith("power_by_component_w_"):
                res[k] = v * ones
            elif k.startswith("energy_by_component_j_"):
                res[k] = v * ones
                res["energy_by_component_j_per_token_" + k[len("energy_by_component_j_"):]] = v / tokens * ones
            elif k.startswith("cost_by_component_usd_"):
                res["cost_by_component_usd_per_million_tokens_" + k[len("cost_by_component_usd_"):]] = v / tokens * 1e6 * ones
            elif k.startswith("co2e_by_component_kg_"):
                comp_key = k[len("co2e_by_component_kg_"):]  # <component>_<kind>_kg
                res["co2e_by_component_g_per_million_tokens_" + comp_key[:-3] + "_g"] = v * 1000.0 / tokens * 1e6 * ones
        res["water_l_per_million_tokens"] = acct["water_l"] / tokens * 1e6 * ones
        return res

    return vector


def serve_batch(req: ServeRequest, varied: Mapping[str, Any], *, model=None, acc=None, engine: str | None = None) -> BatchEstimate:
    """Serving estimates of n points (see the module docstring); `varied` keys are ServeRequest field
    names or "facility.<field>" / "economics.<field>"."""
    m = model or get_model(req.model)
    a = acc or get_accelerator(req.hardware)
    node = node_for(a)

    def point(r: ServeRequest) -> dict[str, Any]:
        return flat(estimate_serve(r, model=m, acc=a, engine=engine, with_curve=False))

    return _run_batch(req, varied, "serving", point, _serve_vector(a, node))
