"""A run's documents and its output directory: summary.json (results only, deterministic for a seed),
metadata.json (timings, versions), the Parquet tables, and the atomic write of the whole directory
(a hidden staging directory beside --out, swapped in at the end). Split from costsim.api.run."""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import yaml

import costsim
from costsim.api.trust import band_for
from costsim.core.trust import MODE_LORA, ErrorBand
from costsim.errors import InputError
from costsim.jsonable import to_jsonable
from costsim.specs.overrides import short_text
from costsim.specs.scenario import Scenario

if TYPE_CHECKING:  # pragma: no cover
    from costsim.api.run import RunResult, VariantResult


def versions() -> dict[str, str]:
    out = {"costsim": costsim.__version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for mod in ("numpy", "scipy", "simpy", "pydantic", "pyarrow", "plotly", "openpyxl"):
        try:
            out[mod] = importlib.import_module(mod).__version__
        except Exception:  # noqa: BLE001 - optional
            pass
    return out


def is_timing_key(key: str) -> bool:
    """Measured wall-clock figures (how long this machine took), not results of the model: they go to
    metadata.json so that summary.json is byte-identical for the same scenario and seed."""
    return key == "wall_s" or key.endswith("sim_wall_time_s") or key.endswith("search_time_s")


def _results_only(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not is_timing_key(k)}


def _timings(v: VariantResult) -> dict[str, Any]:
    out: dict[str, Any] = {"wall_s": v.wall_s}
    for part, pr in v.parts.items():
        out.update({f"{part}_{k}": x for k, x in pr.summary.items() if is_timing_key(k)})
    return out


def part_error_band(part: str, s: Scenario, family: str | None = None,
                    summary: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """`part_band` as the JSON results carry it (costsim.core.trust.ErrorBand.as_dict), None without cases."""
    b = part_band(part, s, family, summary)
    return b.as_dict() if b is not None else None


def part_band(part: str, s: Scenario, family: str | None = None, summary: Mapping[str, Any] | None = None) -> ErrorBand | None:
    """The trust range of a training or serving part (costsim.api.trust), from the scenario's hardware and size:
    of its throughput (family None: the part's own family) or, with family="power", of its power and energy.
    `summary`: the part's results, whose searched deployment sizes a GPU budget's replica (the section's
    gpus_per_replica is then its unset default of 1)."""
    where = part_regime_inputs(part, s, summary)
    if where is None:
        return None
    hardware, devices, model, engine, mode = where
    return band_for(family or part, hardware, devices, model, engine=engine, mode=mode if family != "power" else None)


def part_regime_inputs(part: str, s: Scenario, summary: Mapping[str, Any] | None = None
                       ) -> tuple[str, float, str, str | None, str | None] | None:
    """What places a part in a trust regime: (hardware, devices, model, engine, mode). Devices are the training job's
    GPUs, or one serving replica's (a GPU budget's searched replica, from `summary`'s deployment). None without the part."""
    if part == "training" and s.training is not None:
        mode = MODE_LORA if s.training.lora_rank else None  # LoRA runs read on LoRA cases first
        return s.training.hardware, float(s.training.num_gpus), s.training.model, None, mode
    if part == "serving" and s.serving is not None:
        wl = s.serving
        deployment = (summary or {}).get("deployment")
        if isinstance(deployment, Mapping) and deployment.get("gpus_per_replica"):
            per_replica = deployment["gpus_per_replica"]
        else:
            per_replica = wl.replica_groups[0].gpus_per_replica if wl.replica_groups else wl.gpus_per_replica
        hw = (wl.replica_groups[0].hardware or wl.hardware) if wl.replica_groups else wl.hardware
        return hw, float(per_replica), s.serving.model, s.serving.engine, None
    return None


def summary_doc(result: RunResult, answer: list[str] | None = None) -> dict[str, Any]:
    """The run's results; deterministic for a scenario and seed (timings are in metadata_doc). `answer`: the reports'
    answer sentences (costsim.report.conclusion, given by the caller: the reports sit above this layer), first."""
    variants = []
    for v in result.variants:
        variants.append({
            "name": v.name,
            "scenario_hash": v.scenario_hash,
            "feasible": v.feasible,
            **{part: {"summary": _results_only(pr.summary), "ranges": _results_only(pr.ranges),
                      "replicates": len(pr.replicate_summaries), "error_band": part_error_band(part, v.scenario, summary=pr.summary),
                      "power_error_band": part_error_band(part, v.scenario, "power", pr.summary)}
               for part, pr in v.parts.items()},
            "site": v.site,
        })
    return to_jsonable({
        **({"answer": list(answer)} if answer is not None else {}),  # the answer first, as report.html and the CLI give it
        "scenario": result.scenario.name,
        "description": result.scenario.description,
        "scenario_hash": result.scenario_hash,
        "seed": result.seed,
        "feasible": result.feasible,
        "variants": variants,
    })


def metadata_doc(result: RunResult) -> dict[str, Any]:
    return to_jsonable({
        "run_id": result.scenario_hash,
        "scenario_hash": result.scenario_hash,
        "scenario": result.scenario.name,
        "source": result.source,
        "seed": result.seed,
        "replicates": result.scenario.simulation.replicates,
        "started_at": result.started_at,
        "wall_s": result.wall_s,
        "variants": {v.name: {"scenario_hash": v.scenario_hash, **_timings(v)} for v in result.variants},
        "versions": versions(),
        **result.extra,
    })


def timeseries_table(result: RunResult):
    """All time series in one long table: variant, part (training/serving/site), then columns."""
    import pyarrow as pa

    tables = []
    for v in result.variants:
        blocks = [(part, pr.timeseries) for part, pr in v.parts.items()]
        if v.site_timeseries:
            blocks.append(("site", v.site_timeseries))
        for part, ts in blocks:
            if not ts:
                continue
            n = len(next(iter(ts.values())))
            cols = {"variant": pa.array([v.name] * n, pa.string()), "part": pa.array([part] * n, pa.string())}
            for k, arr in ts.items():
                a = np.asarray(arr)
                if a.ndim != 1 or len(a) != n:
                    continue
                cols[k] = pa.array(a)
            tables.append(pa.table(cols))
    if not tables:
        return pa.table({"variant": pa.array([], pa.string()), "part": pa.array([], pa.string()), "t_s": pa.array([], pa.float64())})
    return pa.concat_tables(tables, promote_options="default")


def tables_table(result: RunResult):
    """Every per-event / per-request table in one long table: variant, part, table, then columns."""
    import pyarrow as pa

    tables = []
    for v in result.variants:
        for part, pr in v.parts.items():
            for tname, cols in pr.tables.items():
                arrays = {k: np.asarray(a) for k, a in cols.items() if np.asarray(a).ndim == 1}
                if not arrays:
                    continue
                n = max(len(a) for a in arrays.values())
                data = {"variant": pa.array([v.name] * n, pa.string()), "part": pa.array([part] * n, pa.string()),
                        "table": pa.array([tname] * n, pa.string())}
                for k, a in arrays.items():
                    if len(a) == n:
                        data[k] = pa.array(a.astype(str) if a.dtype.kind in "OU" else a)
                tables.append(pa.table(data))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def _atomic_write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


RUN_OUTPUT_NAMES = frozenset({"scenario.yaml", "metadata.json", "summary.json", "timeseries.parquet", "tables.parquet",
                              "report.html", "report.xlsx", "report.pdf", "uncertainty"})
"""What a run directory holds; a re-run replaces such a directory whole."""


def output_staging(out_dir: str | os.PathLike[str]) -> Path:
    """A fresh hidden directory beside `out_dir` that a run writes into before `commit_output` swaps it in:
    a run killed at any moment leaves the previous complete output (or none), never a mix.
    Refuses an --out that exists and holds anything but a previous run's files (it would be replaced)."""
    import shutil
    import uuid

    out = Path(out_dir)
    try:
        present = out.exists() or out.is_symlink()
    except OSError as exc:  # e.g. a name longer than the file system allows
        shown = short_text(str(out), 120)
        raise InputError(f"--out '{shown}' cannot be used: {exc.strerror}; give a shorter, writable directory path.",
                         field="--out") from None
    if present:
        if not out.is_dir():
            raise InputError(f"--out '{out}' is a file; give a directory path (new, empty, or a previous run's).", field="--out")
        try:
            extra = sorted(p.name for p in out.iterdir() if p.name not in RUN_OUTPUT_NAMES)
        except OSError as exc:
            raise InputError(f"cannot read output directory '{out}': {exc.strerror}; pass a readable, writable --out.", field="--out") from None
        if extra:
            raise InputError(f"--out '{out}' holds files that are not a costsim run's ({', '.join(extra[:5])}"
                             f"{', ...' if len(extra) > 5 else ''}); a run replaces its output directory whole, so give a new "
                             "or empty directory, or a previous run's.", field="--out")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for stale in parent.glob(f".{out.name}.partial-*"):  # left by a killed run
            pid = stale.name.rsplit("-", 2)[-2] if stale.name.count("-") >= 2 else ""
            if not (pid.isdigit() and _pid_alive(int(pid))):
                shutil.rmtree(stale, ignore_errors=True)
        stage = parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        stage.mkdir()
    except OSError as exc:
        raise InputError(f"cannot create output directory '{out}': {exc.strerror}; pass a writable --out.", field="--out") from None
    return stage


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def commit_output(stage: Path, out_dir: str | os.PathLike[str]) -> Path:
    """Swap a finished staging directory in as `out_dir` (the previous run's directory is removed after)."""
    import shutil

    out = Path(out_dir)
    old = None
    if out.exists():
        old = out.resolve().parent / f".{out.name}.old-{os.getpid()}-{stage.name.rsplit('-', 1)[-1]}"
        os.replace(out, old)
    os.replace(stage, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def write_run_data(result: RunResult, out_dir: str | os.PathLike[str], answer: list[str] | None = None) -> dict[str, Path]:
    """scenario.yaml (resolved, defaults filled), metadata.json, summary.json (opening with `answer` when given),
    timeseries.parquet."""
    import pyarrow.parquet as pq

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory '{out}': {exc.strerror}; pass a writable --out.", field="--out") from None
    paths: dict[str, Path] = {}
    resolved = result.scenario.model_dump(mode="json")
    _atomic_write(out / "scenario.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    paths["scenario.yaml"] = out / "scenario.yaml"
    _atomic_write(out / "metadata.json", json.dumps(metadata_doc(result), indent=2))
    paths["metadata.json"] = out / "metadata.json"
    _atomic_write(out / "summary.json", json.dumps(summary_doc(result, answer), indent=2))
    paths["summary.json"] = out / "summary.json"
    tmp = out / f".timeseries.parquet.tmp-{os.getpid()}"
    pq.write_table(timeseries_table(result), tmp)
    os.replace(tmp, out / "timeseries.parquet")
    paths["timeseries.parquet"] = out / "timeseries.parquet"
    tt = tables_table(result)
    if tt is not None:
        tmp = out / f".tables.parquet.tmp-{os.getpid()}"
        pq.write_table(tt, tmp)
        os.replace(tmp, out / "tables.parquet")
        paths["tables.parquet"] = out / "tables.parquet"
    return paths
