"""Uncertainty studies on the sweep machinery: a scenario's `uncertainty:` distributions drawn as a
sample design (costsim.uncertainty.sampling), run as sweep points (batched in core mode), and
summarized: P10 / P50 / P90 of each headline output and its first-order / total Sobol' indices.

    design_for(scenario, n, mode=, sampler=, sensitivity=) -> SampleDesign
    study(scenario, out=, samples=, mode=, ...) -> dict            (`costsim run --samples N`)
    analyze(directory) -> dict                                      (written to DIR/uncertainty.json)

The summary document (uncertainty.json; also `RunResult.extra["uncertainty"]`):
    {"design": "saltelli" | "plain" | "grid", "sampler", "samples", "points", "mode",
     "inputs": [{"path", "column", "dist": {...}}],
     "variants": {name: {"metrics": {column: {"band": {p10, p50, p90, mean, std, min, max, n},
                                              "indices": {method, n, dropped, first_order: {path: S1},
                                                          total_order: {path: ST}, *_ci} | null,
                                              "notes": [...]}}}}}
For a grid sweep without a design, the indices are the exact variance decomposition of the full
factorial grid (each grid value equally likely) and the band is the range over the grid.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from costsim.errors import InputError
from costsim.specs.overrides import short_text, split_path
from costsim.specs.scenario import Scenario
from costsim.sweep.points import is_integer_field, param_column
from costsim.uncertainty.sampling import SampleDesign, check_count, draw
from costsim.uncertainty.sensitivity import OutputStudy, band, grid_indices, saltelli_blocks, sobol_from_blocks

HEADLINE_METRICS = (
    "training_wall_time_s", "training_cost_usd", "training_facility_energy_j", "training_co2e_kg",
    "training_facility_peak_power_w", "training_gpu_hours",
    "serving_cost_usd_per_million_tokens", "serving_facility_energy_per_token_j", "serving_co2e_g_per_million_tokens",
    "serving_throughput_tokens_per_s", "serving_facility_energy_j", "serving_cost_usd", "serving_ttft_p99_s",
    "site_peak_power_w", "site_energy_j",
)
CORE_IGNORED = ("training.step_time_s",)  # fields the closed-form cores do not read
FILE = "uncertainty.json"
MAX_SAMPLES = 1 << 20
MAX_DESIGN_POINTS = 20_000_000


def _get(doc: Mapping[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in split_path(path):
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur):
                return None
            cur = cur[part]
        else:
            if not isinstance(cur, Mapping) or part not in cur:
                return None
            cur = cur[part]
    return cur


def nominal_values(scenario: Scenario, paths: Sequence[str]) -> dict[str, float | None]:
    """The scenario's value of each path; an unset training.step_time_s is the training core's step time."""
    doc = scenario.model_dump(mode="json")
    out: dict[str, float | None] = {}
    for p in paths:
        v = _get(doc, p)
        if v is None and ".".join(str(x) for x in split_path(p)) == "training.step_time_s" and scenario.training is not None:
            from costsim.estimators.training import step_profile
            from costsim.sweep.points import train_request

            prof = step_profile(train_request(scenario))
            v = prof.get("step_time_s") if prof.get("feasible") else None
        out[p] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    return out


def design_for(scenario: Scenario, n: int, *, mode: str = "core", sampler: str | None = None,
               sensitivity: bool | None = None) -> SampleDesign:
    """The sample design of a scenario's uncertainty section (InputError without one)."""
    spec = scenario.uncertainty
    if spec is None:
        raise InputError("--samples draws from the scenario's `uncertainty:` section, and this scenario has none; add one "
                         "(field path -> distribution, see `costsim schema`), or use --random path=lo:hi with a sweep.", field="--samples")
    sampler = sampler or spec.sampler
    check_count(n, sampler)
    if n > MAX_SAMPLES:
        raise InputError(f"--samples {n:,} is more than the {MAX_SAMPLES:,} an uncertainty study draws; Sobol' indices converge "
                         "long before that (1,024-8,192 is typical).", field="--samples")
    d = len(spec.inputs)
    total = n * (d + 2) if (spec.sensitivity if sensitivity is None else sensitivity) else n
    if total > MAX_DESIGN_POINTS:
        raise InputError(f"--samples {n:,} with {d} inputs is {total:,} points, more than the {MAX_DESIGN_POINTS:,} a design may hold; "
                         "draw fewer samples or use --no-sensitivity.", field="--samples")
    if mode == "core":
        for p in spec.inputs:
            if ".".join(str(x) for x in split_path(p)) in CORE_IGNORED:
                raise InputError(f"uncertainty input '{p}' is not read by the closed-form cores (--mode core); "
                                 "use the simulations (--samples-mode sim / --mode sim) for it.", field=p)
    nominals = nominal_values(scenario, list(spec.inputs))
    integer = {p: bool(is_integer_field(p)) for p in spec.inputs}
    saltelli = spec.sensitivity if sensitivity is None else sensitivity
    return draw(spec, n, nominals=nominals, integer=integer, saltelli=saltelli, sampler=sampler)


def design_manifest(scenario: Scenario, design: SampleDesign) -> dict[str, Any]:
    spec = scenario.uncertainty
    return {"uncertainty": {
        "design": "saltelli" if design.saltelli else "plain", "sampler": design.sampler, "samples": design.n,
        "points": design.num_points,
        "inputs": [{"path": p, "column": param_column(p), "dist": spec.inputs[p].model_dump(mode="json") if spec else None}
                   for p in design.paths],
    }}


# ----------------------------------------------------------------------------- analysis


DESIGN_COLUMNS = ("variant", "sample_index", "sample_block")


def _distinct_points(directory: Path) -> int:
    """Points the store holds: fewer than the design's rows where rows repeat a point (an empirical input of a few
    values makes some AB rows equal to A rows; each runs once and counts for every row it stands for)."""
    from costsim.sweep.store import connect

    con = connect(directory)
    try:
        return int(con.execute("SELECT count(DISTINCT point_id) FROM points").fetchone()[0])
    finally:
        con.close()


def _read(directory: Path, columns: list[str], *, design: bool = False) -> dict[str, np.ndarray]:
    """Columns of the points table; with `design`, one row per design position (design.parquet
    joined to the points, so a point that two positions share counts for both)."""
    from costsim.sweep.store import connect

    con = connect(directory)
    try:
        have = {r[0] for r in con.execute("DESCRIBE points").fetchall()}
        sel = [c for c in columns if c in have or (design and c in DESIGN_COLUMNS)]
        if not sel:
            return {}
        if design:
            exprs = [f'd."{c}" AS "{c}"' if c in DESIGN_COLUMNS else f'p."{c}" AS "{c}"' for c in sel]
            sql = "SELECT " + ", ".join(exprs) + " FROM design d JOIN points p ON d.point_id = p.point_id"
        else:
            sql = "SELECT " + ", ".join(f'"{c}"' for c in sel) + " FROM points"
        tbl = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    out: dict[str, np.ndarray] = {}
    for c in sel:
        col = tbl.column(c)
        import pyarrow as pa

        t = col.type
        if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
            out[c] = np.asarray(col.cast(pa.float64()).fill_null(float("nan")).to_numpy(), dtype=float)
        elif pa.types.is_boolean(t):
            out[c] = np.asarray(col.to_pylist(), dtype=object)
        else:
            out[c] = np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)
    return out


NOT_METRICS = ("seed", "wall_s", "sample_index")


def numeric_columns(row: Mapping[str, Any]) -> list[str]:
    """The columns of a result row that hold numbers (booleans are not), sorted."""
    return sorted(k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool))


def known_metrics(numeric: Iterable[str]) -> list[str]:
    """The result columns a --metric may name: numeric, not a swept parameter or a bookkeeping column."""
    return sorted(k for k in numeric if not k.startswith("param_") and k not in NOT_METRICS)


def unknown_metric_message(missing: Sequence[str], numeric: Iterable[str]) -> str:
    known = known_metrics(numeric)
    return (f"--metric {', '.join(short_text(m) for m in missing)}: not a numeric result column of this sweep. Known metrics ({len(known)}): "
            + (", ".join(known) if known else "none (no point has a numeric result)") + ".")


def _numeric_metrics(directory: Path, wanted: Sequence[str] | None) -> list[str]:
    from costsim.sweep.store import connect

    con = connect(directory)
    try:
        desc = con.execute("DESCRIBE points").fetchall()
    finally:
        con.close()
    numeric = {r[0] for r in desc if any(t in str(r[1]).upper() for t in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "DECIMAL"))}
    if wanted:
        missing = [m for m in wanted if m not in numeric]
        if missing:
            raise InputError(unknown_metric_message(missing, numeric) + f" The sweep's points are stored in {directory}; re-run "
                             "the same command with one of these (finished points are skipped).", field="--metric")
        return list(wanted)
    return [m for m in HEADLINE_METRICS if m in numeric]


def analyze(directory: str | os.PathLike[str], *, metrics: Sequence[str] | None = None, write: bool = True) -> dict[str, Any] | None:
    """Bands and Sobol' indices of a sweep directory (see the module docstring); None when the sweep
    has neither an uncertainty design nor a full-factorial grid to decompose."""
    d = Path(directory)
    manifest = json.loads((d / "manifest.json").read_text()) if (d / "manifest.json").is_file() else {}
    unc = manifest.get("uncertainty")
    grid = manifest.get("grid") or []
    mets = _numeric_metrics(d, metrics)
    if not mets:
        return None
    t0 = time.perf_counter()
    if unc:
        inputs = unc["inputs"]
        cols = ["variant", "status", "sample_index", "sample_block"] + [i["column"] for i in inputs] + \
               [param_column(p) for p, _ in grid] + mets
        data = _read(d, cols, design=(d / "design.parquet").is_file())
        doc = {"design": unc["design"], "sampler": unc["sampler"], "samples": unc["samples"], "points": unc["points"],
               "distinct_points": _distinct_points(d), "mode": manifest.get("mode"), "inputs": inputs, "variants": {}}
        names = [i["path"] for i in inputs]
        gcols = [param_column(p) for p, _ in grid if param_column(p) in data]
        for v in sorted(set(data.get("variant", np.array([], dtype=object)).tolist())):
            sel_v = data["variant"] == v
            combos = _combos(data, gcols, sel_v)
            for label, sel in combos:
                key = v if not label else f"{v} | {label}"
                doc["variants"][key] = {"metrics": {m: _study_design(data, sel, m, names, unc).as_dict() for m in mets}}
    else:
        if not grid:
            return None
        data = _read(d, ["variant", "status", "seed"] + [param_column(p) for p, _ in grid] + mets)
        if "variant" not in data:
            return None
        names = [p for p, _ in grid]
        rand = manifest.get("random") or []
        doc = {"design": "grid", "sampler": None, "samples": (manifest.get("samples") or None) if rand else None,
               "random_inputs": len(rand), "seeds": int(manifest.get("seeds") or 1),
               "points": int(data["variant"].size), "mode": manifest.get("mode"),
               "inputs": [{"path": p, "column": param_column(p), "dist": {"dist": "grid", "values": vals}} for p, vals in grid]
               # the --random inputs spread the outputs too (no index: the grid analysis reads the grid factors)
               + [{"path": r["path"], "column": param_column(r["path"]),
                   "dist": {"dist": "log-uniform" if r.get("log") else "uniform", "low": r["lo"], "high": r["hi"],
                            "samples": manifest.get("samples")}} for r in rand],
               "variants": {}}
        for v in sorted(set(data["variant"].tolist())):
            sel = data["variant"] == v
            doc["variants"][v] = {"metrics": {m: _study_grid(data, sel, m, names, manifest).as_dict() for m in mets}}
    doc["analysis_s"] = time.perf_counter() - t0
    if write:
        tmp = d / f".{FILE}.tmp"
        tmp.write_text(json.dumps(doc, indent=1, default=_json_default))
        os.replace(tmp, d / FILE)
    return doc


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return str(x)


def _combos(data: Mapping[str, np.ndarray], gcols: list[str], sel_v: np.ndarray) -> list[tuple[str, np.ndarray]]:
    if not gcols:
        return [("", sel_v)]
    keys = [tuple(data[c][i] for c in gcols) for i in np.flatnonzero(sel_v)]
    groups: dict[tuple, list[int]] = {}
    for i, k in zip(np.flatnonzero(sel_v), keys):
        groups.setdefault(k, []).append(int(i))
    out = []
    for k, ix in sorted(groups.items(), key=lambda kv: str(kv[0])):
        m = np.zeros(sel_v.size, bool)
        m[ix] = True
        out.append((", ".join(f"{c.removeprefix('param_')}={_fmt(x)}" for c, x in zip(gcols, k)), m))
    return out


def _fmt(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _study_design(data: Mapping[str, np.ndarray], sel: np.ndarray, metric: str, names: list[str], unc: Mapping[str, Any]) -> OutputStudy:
    y = np.where(data["status"][sel] == "ok", data[metric][sel], np.nan) if "status" in data else data[metric][sel]
    blocks = data["sample_block"][sel]
    notes: list[str] = []
    failed = int(np.sum(~np.isfinite(y)))
    if failed:
        notes.append(f"{failed} of {y.size} points have no value (failed or infeasible)")
    if unc["design"] != "saltelli":
        notes.append("Sobol' indices need the Saltelli design (--sensitivity)")
        return OutputStudy(metric, band(y), None, notes)
    ab = np.isin(blocks, ["A", "B"])
    b = band(y[ab])  # A and B are independent samples of the inputs; AB_i rows are not
    if b.get("n", 0) and b.get("max") == b.get("min"):
        return OutputStudy(metric, b, None, notes + ["does not vary with the uncertain inputs"])
    n = int(unc["samples"])
    f_A, f_B, f_AB = saltelli_blocks(y, blocks, data["sample_index"][sel].astype(np.int64), len(names), n)
    idx = sobol_from_blocks(f_A, f_B, f_AB, names, bootstrap=True)
    if idx.dropped:
        notes.append(f"{idx.dropped} of {n} sample rows left out of the indices (a point of the row failed)")
    return OutputStudy(metric, b, idx, notes)


def _study_grid(data: Mapping[str, np.ndarray], sel: np.ndarray, metric: str, names: list[str], manifest: Mapping[str, Any]) -> OutputStudy:
    y = np.where(data["status"][sel] == "ok", data[metric][sel], np.nan)
    notes = ["range over the grid points (the grid is a design, not a probability distribution)"]
    b = band(y)
    if b.get("n", 0) and b.get("max") == b.get("min"):
        return OutputStudy(metric, b, None, notes + ["does not vary over the grid"])
    if manifest.get("seeds", 1) != 1 or manifest.get("random"):
        notes.append("grid indices need one point per grid combination (no --seeds or --random)")
        return OutputStudy(metric, b, None, notes)
    factors = {p: data[param_column(p)][sel] for p in names if param_column(p) in data}
    factors = {p: f for p, f in factors.items() if len(set(f.tolist())) > 1}
    if not factors:
        return OutputStudy(metric, b, None, notes + ["no grid factor takes more than one value"])
    try:
        idx = grid_indices(factors, y)
    except InputError as exc:
        return OutputStudy(metric, b, None, notes + [exc.message])
    return OutputStudy(metric, b, idx, notes)


def load(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    p = Path(directory) / FILE
    return json.loads(p.read_text()) if p.is_file() else None


# ----------------------------------------------------------------------------- `costsim run --samples`


def study(scenario: Scenario, *, out: str | os.PathLike[str], samples: int, mode: str = "core", sampler: str | None = None,
          sensitivity: bool | None = None, executor: str = "local", workers: int | None = None,
          max_wall_s: float | None = None, progress: bool = False, source: str | None = None,
          metrics: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the scenario's uncertainty design as a sweep into `out` and summarize it (the document
    of the module docstring, plus 'sweep': the sweep's counts)."""
    from costsim.sweep import run_sweep
    from costsim.sweep.workload import DEFAULT_MAX_WALL_S

    design = design_for(scenario, samples, mode=mode, sampler=sampler, sensitivity=sensitivity)
    res = run_sweep(scenario, out=str(out), design=design, mode=mode, executor=executor, workers=workers, progress=progress,
                    source=source, max_wall_s=DEFAULT_MAX_WALL_S if max_wall_s is None else max_wall_s,
                    manifest_extra=design_manifest(scenario, design))
    doc = analyze(out, metrics=metrics) or {"variants": {}}
    doc["sweep"] = {k: res[k] for k in ("points_total", "ran", "errors", "skipped_finished", "wall_s", "batched") if k in res}
    doc["store"] = str(out)
    return doc
