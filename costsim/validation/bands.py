"""Validation results -> per-case error records for the trust ranges (costsim.core.trust).

    costsim validate --write-bands     # rewrites costsim/data/validation_errors.json

The records are shipped so that `train`/`serve`/`run` can attach a band without re-running validation;
tests/test_trust.py re-runs validation and fails when the shipped records are stale.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

from costsim.api.trust import RECORDS_PATH, is_sparse
from costsim.core.trust import family_of, truth_over_prediction
from costsim.specs.catalog import find_scenario_file, get_accelerator, get_node
from costsim.validation.engine import Case, CaseResult



def _vendor(hw: Any) -> str:
    if isinstance(hw, dict):
        return str(hw.get("vendor") or "unknown")
    if isinstance(hw, str):
        try:
            return get_accelerator(hw).vendor
        except Exception:  # noqa: BLE001 - a case with an inline or unknown device counts as 'unknown'
            return "unknown"
    return "unknown"


def case_hardware_and_devices(case: Case) -> tuple[str, float, float]:
    """(vendor, devices, devices per node) of the hardware a case ran on (its default node; 8 for inline parts)."""
    from costsim.api.trust import node_devices_of

    i = case.inputs
    if case.kind == "serving_sim":
        import yaml

        f = find_scenario_file(str(i.get("scenario")))
        srv = (yaml.safe_load(f.read_text()) or {}).get("serving", {}) if f else {}
        devices = float(srv.get("gpus") or srv.get("num_replicas", 1) * srv.get("gpus_per_replica", 1))
        return _vendor(srv.get("hardware")), devices, node_devices_of(srv.get("hardware"))
    if i.get("node") and not i.get("hardware"):
        try:
            node = get_node(str(i["node"]))
            return _vendor(node.accelerator), float(node.devices_per_node), float(node.devices_per_node)
        except Exception:  # noqa: BLE001
            return "unknown", 8.0, 8.0
    devices = i.get("gpus") or i.get("num_gpus") or i.get("tp") or 1
    return _vendor(i.get("hardware")), float(devices), node_devices_of(i.get("hardware"))


def case_is_sparse(case: Case) -> bool:
    """Whether the case's model is a mixture of experts (its catalog id or inline model_shape)."""
    i = case.inputs
    shape = i.get("model_shape")
    if isinstance(shape, dict):
        return int(shape.get("n_experts") or 1) > 1
    mid = i.get("model")
    if case.kind == "serving_sim" or not isinstance(mid, str):
        return False
    return bool(is_sparse(mid))  # an unknown id reads as dense (validation reports the case itself)


def case_engine(case: Case) -> str | None:
    """The serving-engine profile of a serving case ('default' when the case names none); None for training and
    facility cases, which run no serving engine."""
    if case.kind not in ("inference", "serving_sim", "serve_gpu_energy_per_token", "serve_gpu_power_per_gpu"):
        return None
    return str(case.inputs.get("engine") or "default")


def case_mode(case: Case) -> str | None:
    """What a training case trains: costsim.core.trust.MODE_LORA for a LoRA fine-tuning run (inputs.lora_rank), None
    for full-parameter training and the other kinds."""
    from costsim.core.trust import MODE_LORA

    return MODE_LORA if case.kind.startswith("training") and case.inputs.get("lora_rank") else None


def error_rows(cases: list[Case], results: list[CaseResult]) -> list[dict[str, Any]]:
    by_id = {c.id: c for c in cases}
    rows = []
    for r in results:
        fam = family_of(r.kind, r.metric)
        c = by_id.get(r.id)
        if fam is None or c is None or r.error_frac is None or not math.isfinite(r.error_frac):
            continue
        if r.metric.startswith("slo_") or c.comparison != "within":
            continue  # booleans and one-sided bounds carry no signed error
        if r.metric in ("speculative_speedup", "power_cap_throughput_frac"):
            continue  # a ratio of two predictions: its error says nothing of the absolute figure a band qualifies
        vendor, devices, node_devices = case_hardware_and_devices(c)
        t = truth_over_prediction(r.error_frac, r.metric, fam)
        rows.append({"case_id": r.id, "kind": r.kind, "metric": r.metric, "family": fam, "vendor": vendor, "devices": devices,
                     "node_devices": node_devices,
                     "sparse": case_is_sparse(c), "engine": case_engine(c), "mode": case_mode(c),
                     "error_frac": round(r.error_frac, 9),
                     "truth_over_prediction_frac": round(t, 9) if math.isfinite(t) else None,
                     "used_for_fit": r.used_for_fit})
    return rows


def write_records(cases: list[Case], results: list[CaseResult], path: Path = RECORDS_PATH) -> Path:
    doc = {
        "what": "Per-case validation errors behind the trust ranges (costsim.core.trust). Regenerate with "
                "`costsim validate --write-bands` after any change that moves a prediction.",
        "generated_at": datetime.date.today().isoformat(),
        "records": error_rows(cases, results),
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def load_rows(path: Path = RECORDS_PATH) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("records", []))
