"""Worker side of batched core-mode sweeps: one GroupTask (a work unit of one group) -> its rows as
one Arrow table (GroupResult), through the batched estimators (costsim.estimators.batch).

The columns are those of a per-point row (costsim.sweep.points.evaluate_point): meta columns,
param_<path>, the 'training_' / 'serving_' results flattened the same way, feasible, status,
error, wall_s (the unit's time / its points), and the design columns of an uncertainty study.
`evaluate_group` never raises: an unexpected failure falls back to the per-point path for the
unit's points, so each keeps its own error text.
"""

from __future__ import annotations

import json
import time
import traceback
from typing import Any

import numpy as np

from costsim.errors import InputError
from costsim.specs.base import validate_spec
from costsim.specs.overrides import apply_overrides
from costsim.specs.scenario import Scenario
from costsim.sweep.batched import GroupResult, GroupTask, _py, interleave, json_numbers
from costsim.sweep.points import param_column


def _ov_json_column(task: GroupTask, n: int) -> list[str]:
    marks = {}
    ov = []
    for i, (p, const) in enumerate(task.axes):
        if const is None and p in task.values:
            m = f"@@costsim-ov-{i}@@"
            marks[json.dumps(m)] = p
            ov.append((p, m))
        else:
            ov.append((p, const))
    text = json.dumps(ov, default=str)
    if not marks:
        return [text] * n
    pieces: list[str] = []
    order: list[str] = []
    rest = text
    while True:
        hits = [(rest.find(q), q) for q in marks if rest.find(q) >= 0]
        if not hits:
            pieces.append(rest)
            break
        pos, q = min(hits)
        pieces.append(rest[:pos])
        order.append(marks[q])
        rest = rest[pos + len(q):]
    cols = [json_numbers(task.values[p], task.values[p].dtype.kind in "iu") for p in order]
    return interleave(pieces, cols, n)


def _constant(value: Any, n: int):
    import pyarrow as pa

    from costsim.sweep.store import _column

    if value is None:
        return pa.nulls(n)
    if isinstance(value, (bool, int, float, str)):
        return pa.repeat(value, n)
    return _column([value] * n)


def _arrow(values: Any):
    import pyarrow as pa

    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f":
            return pa.array(values, from_pandas=True)
        if values.dtype.kind in "iub":
            return pa.array(values)
        if values.dtype.kind == "S":
            return pa.array(values, pa.binary()).cast(pa.string())
        try:
            return pa.array(values.tolist())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([None if v is None else str(v) for v in values.tolist()], pa.string())
    return pa.array(values)


def evaluate_group(task: GroupTask) -> GroupResult | list[dict[str, Any]]:
    """One work unit -> its rows as an Arrow table. Never raises: an unexpected failure falls back
    to the per-point path for the unit's points (their rows then carry the error text)."""
    import pyarrow as pa

    t0 = time.perf_counter()
    n = len(task)
    if isinstance(task.base, dict) and task.base.get("plan") is not None:
        # a planning question prices its own grid of sizes per point: the per-point path (same rows)
        return _fallback_rows(task, "")
    try:
        cols = _evaluate_columns(task)
    except PerPointOnly:
        return _fallback_rows(task, "")
    except Exception:  # noqa: BLE001 - the per-point path records each point's own error
        return _fallback_rows(task, traceback.format_exc())
    wall = (time.perf_counter() - t0) / max(n, 1)
    status = cols.pop("__status__")
    cols["wall_s"] = np.full(n, wall)
    table = pa.table({k: _arrow(v) if not isinstance(v, pa.Array) else v for k, v in cols.items()})
    return GroupResult(task.key, task.scenario_hash, task.variant, table, int(n - status.sum()), n)


class PerPointOnly(Exception):
    """A group the batched estimators do not price (a serving GPU budget's deployment search): its points run the
    per-point path, with the same rows."""


def _evaluate_columns(task: GroupTask) -> dict[str, Any]:
    import pyarrow as pa

    from costsim.estimators.batch import serve_batch, train_batch
    from costsim.sweep.points import serve_request, train_request

    n = len(task)
    data = apply_overrides(task.base, task.variant_set or {}, model=Scenario)
    ov = [(p, const if const is not None or p not in task.values else _py(task.values[p][0])) for p, const in task.axes]
    data = apply_overrides(data, ov, model=Scenario)
    data.setdefault("simulation", {})["seed"] = int(task.seeds[0])
    data["simulation"]["replicates"] = 1
    s = validate_spec(Scenario, data, what=f"sweep group {task.key}")
    cols: dict[str, Any] = {
        "point_id": id_column(task.point_ids),
        "scenario_hash": pa.repeat(task.scenario_hash, n),
        "variant": pa.repeat(task.variant, n),
        "seed": np.asarray(task.seeds, np.int64),
        "mode": pa.repeat(task.mode, n),
        "overrides_json": pa.array(_ov_json_column(task, n), pa.string()),
    }
    for p, const in task.axes:
        cols[param_column(p)] = task.values[p] if const is None and p in task.values else _constant(const, n)
    for c, a in task.design.items():
        cols[c] = a
    error = np.full(n, None, dtype=object)
    results: dict[str, np.ndarray] = {}
    for part, build, fn in (("training", train_request, train_batch), ("serving", serve_request, serve_batch)):
        if getattr(s, part) is None:
            continue
        still = np.equal(error, None)
        try:
            req = build(s)  # the request evaluate_core prices: one place builds it for both paths
        except InputError as exc:
            error[still] = exc.message
            continue
        if part == "serving" and (req.deployment_search or req.requests is not None):
            # a GPU budget's deployment search (or an offline job on it) is priced by costsim.api.serve per point
            raise PerPointOnly("the serving deployment search runs per point")
        varied = {m[part]: task.values[p] for p, m in task.parts.items() if part in m}
        b = fn(req, varied)
        b_error, b_cols = b.error, b.columns
        if b.num_points != n:
            # nothing of this part broadcasts (e.g. a group that differs only in --seeds: the cores are
            # deterministic, so every seed has the same numbers): the batch holds one point; repeat it
            if b.num_points != 1:
                raise ValueError(f"batched {part} estimate has {b.num_points} points for a unit of {n}")
            rep = np.zeros(n, dtype=np.int64)
            b_error = b.error[rep]
            b_cols = {k: v[rep] for k, v in b.columns.items()}
        bad = ~np.equal(b_error, None) & still
        error[bad] = b_error[bad]
        for k, v in b_cols.items():
            results[f"{part}_{k}"] = v
    ok = np.equal(error, None).astype(bool)
    for k, v in results.items():
        if not ok.all():
            if v.dtype.kind == "f":
                v = np.where(ok, v, np.nan)
            else:
                v = v.astype(object)
                v[~ok] = None
        cols[k] = v
    # as evaluate_point: every boolean '*_feasible' value of the point must be True
    feasible = np.ones(n, bool)
    for k, f in results.items():
        if not k.endswith("_feasible"):
            continue
        if f.dtype == bool:
            feasible &= f
        else:
            feasible &= np.array([x if isinstance(x, (bool, np.bool_)) else True for x in f.tolist()], bool)
    cols["feasible"] = pa.array(feasible, mask=~ok) if not ok.all() else feasible
    cols["status"] = pa.array(["error", "ok"]).take(pa.array(ok.astype(np.int8)))
    cols["error"] = pa.nulls(n, pa.string()) if ok.all() else pa.array(error.tolist(), pa.string())
    cols["__status__"] = ok
    return cols


def id_column(ids: np.ndarray):
    """A numpy array of 16-byte ids -> an Arrow string array (from its buffers, no Python loop)."""
    import pyarrow as pa

    n = int(ids.size)
    offs = np.arange(0, 16 * (n + 1), 16, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offs.tobytes()), pa.py_buffer(np.ascontiguousarray(ids).tobytes()))


def _fallback_rows(task: GroupTask, why: str) -> list[dict[str, Any]]:
    from costsim.sweep.points import evaluate_point

    rows = []
    for i in range(len(task)):
        ov = [(p, _py(task.values[p][i]) if const is None and p in task.values else const) for p, const in task.axes]
        t = {"point_id": task.point_ids[i].decode(), "scenario_hash": task.scenario_hash, "base": task.base, "variant": task.variant,
             "variant_set": task.variant_set, "overrides": ov, "seed": int(task.seeds[i]), "mode": task.mode,
             "design": {c: _py(a[i]) for c, a in task.design.items()}}
        rows.append(evaluate_point(t))
    return rows
