"""Trust ranges of a sweep's points: the held-out validation error of each regime (hardware, scale, model kind, engine)
the sweep's points fall in, as `costsim run` gives one per part. The rows leave them out (they depend on where a point
runs, not on its swept numbers), so a sweep's report groups its points by regime and gives each group's ranges."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from costsim.api.run_output import part_band, part_regime_inputs
from costsim.core.trust import ErrorBand
from costsim.errors import InputError
from costsim.specs.base import validate_spec
from costsim.specs.overrides import apply_overrides
from costsim.specs.scenario import Scenario

#: the last name of a swept path that can move a point to another regime (its device, size, model or engine); other
#: swept fields (tokens, prices, reliability) leave every point in its variant's regime
REGIME_LEAVES = frozenset({"hardware", "model", "engine", "num_gpus", "gpus_per_replica", "gpus", "lora_rank",
                           "replica_groups"})
#: distinct regime placements looked up at most (each validates a scenario): a random draw of GPU counts has one per
#: point, and the scale bands are coarse (1 device, a node, a cluster, a large cluster)
MAX_PLACEMENTS = 400


@dataclass(frozen=True)
class SweepTrustRange:
    """The trust ranges of one part of the points that share a regime placement."""

    variant: str
    part: str  # 'training' or 'serving'
    hardware: str
    devices: float  # the training job's accelerators, or one serving replica's
    model: str
    engine: str | None
    points: int  # the sweep's points (ok rows) in this group
    speed_band: ErrorBand | None  # throughput (training or serving), None without held-out cases
    power_band: ErrorBand | None  # power and energy


@dataclass(frozen=True)
class SweepTrust:
    ranges: tuple[SweepTrustRange, ...]
    points_not_placed: int  # ok rows beyond MAX_PLACEMENTS distinct placements, or whose scenario no longer validates


def _regime_overrides(overrides_json: Any) -> list[tuple[str, Any]]:
    try:
        ov = json.loads(overrides_json) if isinstance(overrides_json, str) else []
    except json.JSONDecodeError:
        return []
    return regime_overrides(ov)


def regime_overrides(overrides: Iterable[Any]) -> list[tuple[str, Any]]:
    """The (path, value) overrides that can move a point to another regime (`REGIME_LEAVES`); the others leave it."""
    return [(p, v) for p, v in overrides if isinstance(p, str) and any(seg in REGIME_LEAVES for seg in p.split("."))]


def _placed(base: Mapping[str, Any], vset: Mapping[str, Any], overrides: list, deployment_gpus_per_replica: Any
            ) -> tuple[Scenario, dict[str, Any] | None] | None:
    """A point's scenario (its variant's set and regime overrides applied to `base`) and the summary that places a GPU
    budget's searched replica; None when it does not validate."""
    try:
        s = validate_spec(Scenario, apply_overrides(apply_overrides(base, vset, model=Scenario), overrides, model=Scenario),
                          what="sweep point")
    except (InputError, ValueError):
        return None
    dep = deployment_gpus_per_replica
    return s, ({"deployment": {"gpus_per_replica": dep}} if dep else None)


def point_trust(scenario_doc: Mapping[str, Any], overrides: Iterable[Any],
                deployment_gpus_per_replica: float | None = None) -> dict[str, dict[str, dict[str, Any] | None]]:
    """The trust ranges of one point of a scenario (an optimize trial's design: its (path, value) overrides), as
    `costsim run` gives each part's: {part: {"error_band": ..., "power_error_band": ...}} for its training and serving
    parts (costsim.core.trust.ErrorBand.as_dict; None without held-out cases). `deployment_gpus_per_replica`: a GPU
    budget's searched replica (its result's deployment). {} when the point's scenario does not validate."""
    base = {k: v for k, v in scenario_doc.items() if k != "variants"}
    placed = _placed(base, {}, regime_overrides(overrides), deployment_gpus_per_replica)
    if placed is None:
        return {}
    s, summary = placed
    out: dict[str, dict[str, dict[str, Any] | None]] = {}
    for part in ("training", "serving"):
        if part_regime_inputs(part, s, summary) is None:
            continue
        bands = (part_band(part, s, None, summary), part_band(part, s, "power", summary))
        out[part] = {"error_band": bands[0].as_dict() if bands[0] is not None else None,
                     "power_error_band": bands[1].as_dict() if bands[1] is not None else None}
    return out


def sweep_trust(scenario_doc: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> SweepTrust:
    """Group a sweep's ok rows by the regime their point falls in (variant, its swept device / size / model / engine,
    and a GPU budget's searched replica) and give each group's trust ranges."""
    base = {k: v for k, v in scenario_doc.items() if k != "variants"}
    vsets = {v.get("name"): dict(v.get("set") or {}) for v in scenario_doc.get("variants") or [] if isinstance(v, Mapping)}
    placements: Counter = Counter()
    for r in rows:
        if r.get("status") != "ok":
            continue
        ov = _regime_overrides(r.get("overrides_json"))
        dep = r.get("serving_deployment_gpus_per_replica")
        placements[(str(r.get("variant")), json.dumps(ov, default=str), dep if isinstance(dep, (int, float)) else None)] += 1
    merged: dict[tuple, list] = {}
    skipped = 0
    for i, ((variant, ov_json, dep), n) in enumerate(placements.most_common()):
        if i >= MAX_PLACEMENTS:
            skipped += n
            continue
        placed = _placed(base, vsets.get(variant, {}), json.loads(ov_json), dep)
        if placed is None:
            skipped += n
            continue
        s, summary = placed
        for part in ("training", "serving"):
            where = part_regime_inputs(part, s, summary)
            if where is None:
                continue
            hardware, devices, model, engine, _ = where
            key = (variant, part, hardware, devices, model, engine)
            if key in merged:
                merged[key][0] += n
            else:
                merged[key] = [n, part_band(part, s, None, summary), part_band(part, s, "power", summary)]
    ranges = tuple(SweepTrustRange(variant=k[0], part=k[1], hardware=k[2], devices=k[3], model=k[4], engine=k[5], points=v[0],
                                   speed_band=v[1], power_band=v[2]) for k, v in merged.items())
    return SweepTrust(ranges=ranges, points_not_placed=skipped)
